package main

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/iotdm/iotdm/bench/internal/host"
)

// sizeResult is every round's measurements of one cluster size.
type sizeResult struct {
	n         int
	startTime time.Duration // from the first node's start to the last one's ready
	setupTime time.Duration
	api       map[string][]apiResult // op → rounds
	mqtt      []mqttResult
	lag       []lagResult
	err       string            // why the size's run ended early, if it did
	logs      map[string]string // node → WARN/ERROR lines of its log
}

// report gathers the sizes' results.
type report struct {
	cfg        config
	root       string
	started    time.Time
	loadBefore string
	loadAfter  string
	pgVersion  string
	sizes      []*sizeResult
}

func newReport(cfg config, root string) *report {
	return &report{cfg: cfg, root: root, started: time.Now(), loadBefore: host.LoadAverage()}
}

func (r *report) add(s *sizeResult) {
	if s.api == nil {
		s.api = map[string][]apiResult{}
	}
	r.sizes = append(r.sizes, s)
}

// median of xs (the mean of the middle two for an even count); 0 when empty.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// medF is the median over rounds of f.
func medF[T any](rs []T, f func(T) float64) float64 {
	var xs []float64
	for _, x := range rs {
		xs = append(xs, f(x))
	}
	return median(xs)
}

// medDur is the median over rounds of f's durations (rounds without one
// left out).
func medDur[T any](rs []T, f func(T) time.Duration) time.Duration {
	var xs []float64
	for _, x := range rs {
		if d := f(x); d > 0 {
			xs = append(xs, float64(d))
		}
	}
	return time.Duration(median(xs))
}

func ms(d time.Duration) string {
	switch {
	case d == 0:
		return "—"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// num formats a count or rate with thousands separators.
func num(f float64) string {
	n := int64(f + 0.5)
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// rounds lists every round's value.
func rounds[T any](rs []T, f func(T) string) string {
	if len(rs) == 0 {
		return "—"
	}
	var parts []string
	for _, x := range rs {
		parts = append(parts, f(x))
	}
	return strings.Join(parts, " / ")
}

// redactDSN is the DSN without its password.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.Redacted()
}

// nodesLabel is the column heading of a cluster size.
func nodesLabel(n int) string {
	if n == 1 {
		return "1 node"
	}
	return fmt.Sprintf("%d nodes", n)
}

// table writes a markdown table: a row label column, then one column per
// cluster size.
type table struct {
	b     *strings.Builder
	sizes []*sizeResult
}

func (t table) header(first string) {
	fmt.Fprintf(t.b, "| %s |", first)
	for _, s := range t.sizes {
		fmt.Fprintf(t.b, " %s |", nodesLabel(s.n))
	}
	t.b.WriteString("\n| --- |")
	for range t.sizes {
		t.b.WriteString(" ---: |")
	}
	t.b.WriteString("\n")
}

func (t table) row(label string, cell func(*sizeResult) string) {
	fmt.Fprintf(t.b, "| %s |", label)
	for _, s := range t.sizes {
		fmt.Fprintf(t.b, " %s |", cell(s))
	}
	t.b.WriteString("\n")
}

func (r *report) render() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	cmd := "go run ./bench/cluster"
	for _, a := range r.cfg.args {
		if strings.HasPrefix(a, "postgres://") || strings.HasPrefix(a, "postgresql://") ||
			strings.HasPrefix(a, "-postgres=") || strings.HasPrefix(a, "--postgres=") {
			prefix, dsn, ok := strings.Cut(a, "=")
			if ok && strings.HasPrefix(prefix, "-") {
				a = prefix + "=" + redactDSN(dsn)
			} else {
				a = redactDSN(a)
			}
		}
		cmd += " " + a
	}
	c := r.cfg
	p("## iotdm cluster benchmark (bench/cluster)\n\n")
	p("- Command: `%s`\n", cmd)
	p("- Date: %s. Revision: %s.\n", r.started.Format("2006-01-02 15:04"), host.Revision(context.Background(), r.root))
	p("- Machine: %d CPUs (runtime.NumCPU; %s), %.0f GiB, %s/%s, %s. Everything (PostgreSQL, every node, the bench) shares it.\n",
		runtime.NumCPU(), host.CPUModel(), float64(host.MemTotal())/(1<<30), runtime.GOOS, runtime.GOARCH, runtime.Version())
	p("- Load average (1, 5, 15 min): %s at the start, %s at the end.\n", r.loadBefore, r.loadAfter)
	p("- PostgreSQL %s at %s; a fresh database per cluster size, dropped afterwards.\n", r.pgVersion, redactDSN(c.postgres))
	p("- Nodes: `iotdm serve --store postgres://… --node-id nodeI --cluster-listen 127.0.0.1:P --cluster-routes <every node's> "+
		"--mqtt-plain-addr 127.0.0.1:Q`, one process each, started one after another (a single node is a cluster of one, routed to itself). "+
		"Setup per size: thing indexing REGISTRY on, %s things registered.\n", num(float64(c.things)))
	p("- %d round(s) per size, each: CreateThing, DescribeThing, MQTT, change-feed lag; %v measured after %v warm-up per API and MQTT run. "+
		"Numbers are medians over the rounds; \"rounds\" rows list every round's value in order.\n", c.rounds, c.duration, c.warmup)
	for _, s := range r.sizes {
		if s.err != "" {
			p("- **%s: FAILED** — %s\n", nodesLabel(s.n), firstLine(s.err))
		}
	}
	t := table{b: &b, sizes: r.sizes}

	p("\n### API throughput: AWS SDK for Go v2, %d clients round-robin over the nodes\n\n", c.clients)
	p("Each client is its own `iot.Client` (static admin key, no retries) of node i mod N, calling back to back; " +
		"a call counts when it ends in the measured window, as an operation only when answered 2xx. " +
		"CreateThing: a new name each call; DescribeThing: a random setup thing. Latency is the whole SDK call.\n\n")
	t.header("API")
	for _, op := range []string{opCreateThing, opDescribeThing} {
		get := func(s *sizeResult) []apiResult { return s.api[op] }
		t.row(op+"/s", func(s *sizeResult) string {
			if len(get(s)) == 0 {
				return "—"
			}
			return num(medF(get(s), apiResult.rate))
		})
		t.row(op+" rounds", func(s *sizeResult) string {
			return rounds(get(s), func(x apiResult) string { return num(x.rate()) })
		})
		t.row(op+" p50 / p99", func(s *sizeResult) string {
			return ms(medDur(get(s), func(x apiResult) time.Duration { return x.lat.pct(50) })) + " / " +
				ms(medDur(get(s), func(x apiResult) time.Duration { return x.lat.pct(99) }))
		})
		t.row(op+" failed calls, all rounds", func(s *sizeResult) string {
			var n int64
			for _, x := range get(s) {
				n += x.failed
			}
			return num(float64(n))
		})
	}

	p("\n### MQTT throughput: %d publisher/subscriber pairs, QoS 1, plain TCP listener\n\n", c.pairs)
	p("Pair i: subscriber on node i mod N, publisher on node i+1 mod N (with more than one node every message crosses nodes), "+
		"a topic per pair, MQTT 5 (paho.golang) with the admin key. Each publisher sends its next message once the last one's PUBACK is in "+
		"(one in flight per publisher, %d-byte payloads carrying the send time); a probe message has crossed every pair before the run. "+
		"Latency is from the publisher's send to the subscriber's receipt (same process clock), of the messages received in the measured window. "+
		"Lost: PUBACKed but not received within %v after the publishers stopped.\n\n", c.payload, drainTimeout)
	t.header("MQTT")
	t.row("messages received/s", func(s *sizeResult) string {
		if len(s.mqtt) == 0 {
			return "—"
		}
		return num(medF(s.mqtt, mqttResult.rate))
	})
	t.row("rounds", func(s *sizeResult) string { return rounds(s.mqtt, func(x mqttResult) string { return num(x.rate()) }) })
	t.row("latency p50", func(s *sizeResult) string {
		return ms(medDur(s.mqtt, func(x mqttResult) time.Duration { return x.lat.pct(50) }))
	})
	t.row("latency p99", func(s *sizeResult) string {
		return ms(medDur(s.mqtt, func(x mqttResult) time.Duration { return x.lat.pct(99) }))
	})
	t.row("published / lost / duplicates, all rounds", func(s *sizeResult) string {
		var pub, lost, dups int64
		for _, x := range s.mqtt {
			pub, lost, dups = pub+x.published, lost+x.lost, dups+x.dups
		}
		return fmt.Sprintf("%s / %s / %s", num(float64(pub)), num(float64(lost)), num(float64(dups)))
	})

	p("\n### Change-feed lag: CreateThing on node 1 → found by SearchIndex on node N\n\n")
	p("Per round %d things, one at a time (after %v of unmeasured samples): CreateThing on node 1, then SearchIndex `thingName:NAME` "+
		"on the last node (node 1 itself with one node), again 1 ms after each answer until it finds the thing; the lag is from CreateThing's "+
		"answer to the finding SearchIndex's answer. SearchIndex is read-your-writes: it waits until the node's fleet index has applied "+
		"every change committed before the request, so the first call usually finds the thing and the lag is mostly that call's wait for "+
		"the change feed; the same search repeated once the thing is indexed shows what the call costs without the wait. "+
		"A sample not found within %v counts as timed out.\n\n", c.lagSamples, c.warmup, c.lagTimeout)
	t.header("change-feed lag")
	t.row("lag p50", func(s *sizeResult) string {
		return ms(medDur(s.lag, func(x lagResult) time.Duration { return x.lags.pct(50) }))
	})
	t.row("lag p99", func(s *sizeResult) string {
		return ms(medDur(s.lag, func(x lagResult) time.Duration { return x.lags.pct(99) }))
	})
	t.row("p50 rounds", func(s *sizeResult) string {
		return rounds(s.lag, func(x lagResult) string { return ms(x.lags.pct(50)) })
	})
	t.row("p99 rounds", func(s *sizeResult) string {
		return rounds(s.lag, func(x lagResult) string { return ms(x.lags.pct(99)) })
	})
	t.row("SearchIndex calls per sample, median", func(s *sizeResult) string {
		var xs []float64
		for _, x := range s.lag {
			for _, n := range x.polls {
				xs = append(xs, float64(n))
			}
		}
		if len(xs) == 0 {
			return "—"
		}
		return fmt.Sprintf("%.0f", median(xs))
	})
	t.row("SearchIndex of an indexed thing, p50", func(s *sizeResult) string {
		return ms(medDur(s.lag, func(x lagResult) time.Duration { return x.again.pct(50) }))
	})
	t.row("timed out, all rounds", func(s *sizeResult) string {
		n := 0
		for _, x := range s.lag {
			n += x.timedOut
		}
		return fmt.Sprint(n)
	})

	p("\n### Cluster start\n\n")
	t.header("start")
	t.row("all nodes ready", func(s *sizeResult) string { return ms(s.startTime) })
	t.row(fmt.Sprintf("setup (%s things)", num(float64(c.things))), func(s *sizeResult) string { return ms(s.setupTime) })

	r.renderProblems(p)
	return b.String()
}

// renderProblems lists the failed calls by kind, the lag timeouts' errors
// and the nodes' WARN/ERROR log lines.
func (r *report) renderProblems(p func(string, ...any)) {
	var lines []string
	for _, s := range r.sizes {
		for _, op := range []string{opCreateThing, opDescribeThing} {
			kinds := map[string]int64{}
			for _, x := range s.api[op] {
				for k, v := range x.errs {
					kinds[k] += v
				}
			}
			for _, k := range slices.Sorted(maps.Keys(kinds)) {
				lines = append(lines, fmt.Sprintf("- %s, %s: %s × %s", nodesLabel(s.n), op, num(float64(kinds[k])), k))
			}
		}
		for _, x := range s.lag {
			if x.firstErr != "" {
				lines = append(lines, fmt.Sprintf("- %s, change-feed lag: %d sample(s) timed out; last SearchIndex error: %s", nodesLabel(s.n), x.timedOut, x.firstErr))
				break
			}
		}
		if s.err != "" {
			lines = append(lines, fmt.Sprintf("- %s: the run ended early:\n\n%s\n", nodesLabel(s.n), indent(s.err)))
		}
	}
	if len(lines) > 0 {
		p("\n### Failures\n\n%s\n", strings.Join(lines, "\n"))
	}
	for _, s := range r.sizes {
		for _, id := range slices.Sorted(maps.Keys(s.logs)) {
			p("\n%s, %s log: warnings and errors (count × line):\n\n%s\n", nodesLabel(s.n), id, indent(s.logs[id]))
		}
	}
}

func indent(s string) string {
	var out []string
	for line := range strings.SplitSeq(strings.TrimRight(s, "\n"), "\n") {
		out = append(out, "    "+line)
	}
	return strings.Join(out, "\n")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
