# iotdm: the one test command is `make test`.
GO ?= go

.PHONY: test unit e2e vet fmt-check bench bench-mqtt build fuzz

test: fmt-check vet
	bash scripts/with-postgres.sh $(MAKE) unit e2e

build:
	$(GO) build -o bin/iotdm ./cmd/iotdm

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# The PostgreSQL store and the cluster tests need a server: `make test`
# starts a throwaway one (scripts/with-postgres.sh) unless
# IOTDM_TEST_POSTGRES names one.
unit:
	$(GO) test -race -count=1 ./...

# The registry driven by the stock aws CLI through `eval "$(iotdm env)"`.
e2e:
	bash scripts/e2e-cli.sh

# Short fuzzing runs of every parser's fuzz target.
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParseAuthorization -fuzztime 20s ./internal/awsapi/
	$(GO) test -run '^$$' -fuzz FuzzParseConfigFile -fuzztime 20s ./cmd/iotdm/
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 20s ./internal/query/
	$(GO) test -run '^$$' -fuzz FuzzUpdate -fuzztime 20s ./internal/shadow/
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 20s ./internal/policy/
	$(GO) test -run '^$$' -fuzz FuzzParseCertificatePEM -fuzztime 20s ./internal/pki/
	$(GO) test -run '^$$' -fuzz FuzzIssueFromCSR -fuzztime 20s ./internal/pki/
	$(GO) test -run '^$$' -fuzz FuzzShadowTopic -fuzztime 20s ./internal/control/
	$(GO) test -run '^$$' -fuzz FuzzMessagingPublish -fuzztime 20s ./internal/control/
	$(GO) test -run '^$$' -fuzz FuzzCompactDoc -fuzztime 20s ./internal/fleetindex/
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 20s ./internal/stack/template/
	$(GO) test -run '^$$' -fuzz FuzzEvaluate -fuzztime 20s ./internal/alarm/
	$(GO) test -run '^$$' -fuzz FuzzClusterMessage -fuzztime 20s ./cmd/iotdm/
	$(GO) test -run '^$$' -fuzz FuzzScan -fuzztime 20s ./internal/overlay/

# Side-by-side load test: iotdm, moto and a trivial ceiling server.
bench:
	$(GO) run ./bench/run -out bench/latest.md

# MQTT side by side: iotdm's broker and mosquitto (throughput, latency,
# handshakes, memory per idle TLS connection).
bench-mqtt:
	$(GO) run ./bench/mqtt -out bench/mqtt-latest.md
