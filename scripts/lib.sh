# Shared by the end-to-end scripts: a scratch directory, check helpers, and
# an iotdm server on a free loopback port that the aws CLI and boto3 reach
# through `eval "$(iotdm env)"` alone. Source it; it sets root, work, bin and
# data, and counts passed and failed checks.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d)
server_pid=""
cleanup() {
	if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
		kill -TERM "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

passed=0
failed=0
# check NAME WANT CMD...: run CMD, compare its trimmed output with WANT.
check() {
	local name=$1 want=$2
	shift 2
	local got
	if ! got=$("$@" 2>&1); then
		echo "FAIL $name: command failed: $got"
		failed=$((failed + 1))
		return
	fi
	got=$(printf '%s' "$got" | tr -s ' \t\r\n' ' ' | sed -e 's/^ //' -e 's/ $//')
	if [ "$got" = "$want" ]; then
		echo "ok   $name"
		passed=$((passed + 1))
	else
		echo "FAIL $name: got [$got], want [$want]"
		failed=$((failed + 1))
	fi
}
# check_error NAME CODE CMD...: CMD must fail with the AWS error code CODE.
check_error() {
	local name=$1 code=$2
	shift 2
	local out
	if out=$("$@" 2>&1); then
		echo "FAIL $name: succeeded, want $code"
		failed=$((failed + 1))
	elif printf '%s' "$out" | grep -q "($code)"; then
		echo "ok   $name"
		passed=$((passed + 1))
	else
		echo "FAIL $name: got [$out], want $code"
		failed=$((failed + 1))
	fi
}
# run_script NAME CMD...: a whole sub-script counts as one check.
run_script() {
	local name=$1
	shift
	if "$@"; then
		passed=$((passed + 1))
	else
		echo "FAIL $name"
		failed=$((failed + 1))
	fi
}

# start_server: build iotdm (or use IOTDM_BIN), start it on port 0 (the
# server picks a free port and records it; `iotdm env` reads it) and point
# the aws CLI at it with nothing but what `iotdm env` prints.
start_server() {
	bin=${IOTDM_BIN:-}
	if [ -z "$bin" ]; then
		echo "building iotdm"
		(cd "$root" && go build -o "$work/iotdm" ./cmd/iotdm)
		bin="$work/iotdm"
	fi
	data="$work/data"
	# IOTDM_SERVE_ARGS adds flags (development intervals, for example).
	# shellcheck disable=SC2086
	"$bin" serve --data-dir "$data" --http-addr 127.0.0.1:0 --mqtt-addr 127.0.0.1:0 ${IOTDM_SERVE_ARGS:-} 2>"$work/server.log" &
	server_pid=$!
	for _ in $(seq 1 100); do
		[ -s "$data/server.json" ] && break
		sleep 0.1
	done
	[ -s "$data/server.json" ] || { echo "server did not start"; cat "$work/server.log"; exit 1; }
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL AWS_CONFIG_FILE
	export AWS_CONFIG_FILE=/dev/null
	eval "$("$bin" env --data-dir "$data")"
}

# raw_payload holds what aws CLI v2 needs to take --payload as raw text (v1
# takes blobs raw already).
raw_payload=()
if aws --version 2>&1 | grep -q '^aws-cli/2'; then raw_payload=(--cli-binary-format raw-in-base64-out); fi

# finish NAME: print the counts; the script's status is whether all passed.
finish() {
	echo "$1: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
