package main

import (
	"context"
	"fmt"
	"github.com/iotdm/iotdm/bench/internal/host"
	"runtime"
	"slices"
	"strings"
	"time"
)

// report gathers every run's result, by scenario, broker and round.
type report struct {
	cfg        config
	root       string
	started    time.Time
	loadBefore string
	loadAfter  string
	nofile     string
	brokers    []string
	about      map[string]string
	notes      []string
	idleCounts []int
	logs       map[string]string

	flows     map[string]map[string][]flowResult // flowSpec.key → broker → rounds
	specs     []flowSpec
	latency   map[string]map[string][]latResult // "own" or "common" → broker → rounds
	handshake map[string][]hsResult
	idle      map[int]map[string][]idleResult
	crashes   map[string]int
}

func newReport(cfg config, root string) *report {
	return &report{cfg: cfg, root: root, started: time.Now(), loadBefore: host.LoadAverage(),
		about: map[string]string{}, logs: map[string]string{},
		flows: map[string]map[string][]flowResult{}, latency: map[string]map[string][]latResult{},
		handshake: map[string][]hsResult{}, idle: map[int]map[string][]idleResult{}, crashes: map[string]int{}}
}

func (r *report) addFlow(s flowSpec, broker string, res flowResult) {
	k := s.key()
	if r.flows[k] == nil {
		r.flows[k] = map[string][]flowResult{}
		r.specs = append(r.specs, s)
	}
	r.flows[k][broker] = append(r.flows[k][broker], res)
}

// flowRound is the rate of broker's run of round in scenario key (0 when
// there is none or it failed).
func (r *report) flowRound(key, broker string, round int) float64 {
	rs := r.flows[key][broker]
	if round >= len(rs) || rs[round].err != "" {
		return 0
	}
	return rs[round].rate
}

func (r *report) addLatency(pass, broker string, res latResult) {
	if r.latency[pass] == nil {
		r.latency[pass] = map[string][]latResult{}
	}
	r.latency[pass][broker] = append(r.latency[pass][broker], res)
}

func (r *report) addHandshake(broker string, res hsResult) {
	r.handshake[broker] = append(r.handshake[broker], res)
}

func (r *report) addIdle(n int, broker string, res idleResult) {
	if r.idle[n] == nil {
		r.idle[n] = map[string][]idleResult{}
	}
	r.idle[n][broker] = append(r.idle[n][broker], res)
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

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func kib(b float64) string { return fmt.Sprintf("%.1f KiB", b/1024) }

// num formats a rate with thousands separators.
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

func passFail(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

// medDur is the median over rounds of f's durations.
func medDur[T any](rs []T, f func(T) time.Duration) time.Duration {
	var xs []float64
	for _, x := range rs {
		if d := f(x); d > 0 {
			xs = append(xs, float64(d))
		}
	}
	return time.Duration(median(xs))
}

func medF[T any](rs []T, f func(T) float64) float64 {
	var xs []float64
	for _, x := range rs {
		xs = append(xs, f(x))
	}
	return median(xs)
}

func perRound[T any](rs []T, f func(T) string) string {
	var parts []string
	for _, x := range rs {
		parts = append(parts, f(x))
	}
	return strings.Join(parts, " / ")
}

func firstErr[T any](rs []T, f func(T) string) string {
	for _, x := range rs {
		if e := f(x); e != "" {
			return e
		}
	}
	return ""
}

func (r *report) has(b string) bool { return slices.Contains(r.brokers, b) }

// both: iotdm and mosquitto were measured.
func (r *report) both() bool { return r.has(brokerIotdm) && r.has(brokerMosquitto) }

func (r *report) render() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	cmd := "go run ./bench/mqtt"
	if len(r.cfg.args) > 0 {
		cmd += " " + strings.Join(r.cfg.args, " ")
	}
	p("## MQTT broker benchmark (bench/mqtt)\n\n")
	p("- Command: `%s`\n", cmd)
	p("- Date: %s. Revision: %s. %d cores (%s), %.0f GiB, %s %s/%s.\n", r.started.Format("2006-01-02 15:04"), host.Revision(context.Background(), r.root),
		runtime.NumCPU(), host.CPUModel(), float64(host.MemTotal())/(1<<30), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	p("- Load average (1, 5, 15 min): %s at the start, %s at the end. Open-files limit of the bench: %s.\n", r.loadBefore, r.loadAfter, r.nofile)
	p("- %d round(s), brokers alternating within each scenario (order reversed every other round); %v measured after %v warm-up per run; "+
		"%d-byte payloads; %d device certificates per broker (ECDSA P-256), used round-robin; one minimal MQTT 3.1.1 client (bench/mqtt/mqtt.go) for both brokers.\n",
		r.cfg.rounds, r.cfg.duration, r.cfg.warmup, r.cfg.payload, r.cfg.certs)
	for _, name := range r.brokers {
		p("- %s: %s\n", name, r.about[name])
	}
	for _, n := range r.notes {
		p("- **Note:** %s\n", n)
	}
	for name, n := range r.crashes {
		if n > 0 {
			p("- **Note:** %s exited during the run and was restarted %d time(s)\n", name, n)
		}
	}
	p("\nNumbers are medians over the rounds; \"rounds\" columns list every round's value in order.\n")

	r.renderThroughput(p)
	r.renderLatency(p)
	r.renderHandshakes(p)
	r.renderIdle(p)
	r.renderTargets(p)
	for _, name := range r.brokers {
		if l := r.logs[name]; strings.TrimSpace(l) != "" {
			p("\n%s log: warnings, errors and dropped messages (count × line):\n\n", name)
			for line := range strings.SplitSeq(l, "\n") {
				p("    %s\n", line)
			}
		}
	}
	return b.String()
}

func (r *report) renderThroughput(p func(string, ...any)) {
	if len(r.specs) == 0 {
		return
	}
	for _, pat := range []string{patFanIn, patFanOut, patPairwise} {
		var specs []flowSpec
		for _, s := range r.specs {
			if s.pattern == pat {
				specs = append(specs, s)
			}
		}
		if len(specs) == 0 {
			continue
		}
		p("\n#### Throughput, %s: %s (messages/s delivered)\n\n", pat, specs[0].describe())
		p("| QoS |")
		for _, name := range r.brokers {
			p(" %s | %s rounds |", name, name)
		}
		if r.both() {
			p(" iotdm / mosquitto |")
		}
		p(" deliveries lost, all rounds: %s |\n| --- |", strings.Join(r.brokers, " / "))
		for range r.brokers {
			p(" ---: | ---: |")
		}
		if r.both() {
			p(" ---: |")
		}
		p(" ---: |\n")
		for _, s := range specs {
			rs := r.flows[s.key()]
			p("| %d |", s.qos)
			var lost []string
			for _, name := range r.brokers {
				res := rs[name]
				p(" %s | %s |", num(medF(res, func(x flowResult) float64 { return x.rate })), perRound(res, func(x flowResult) string {
					if x.err != "" {
						return "ERR"
					}
					return num(x.rate)
				}))
				var l, st int64
				for _, x := range res {
					l += x.lost
					st += x.stalls
				}
				if st > 0 {
					lost = append(lost, fmt.Sprintf("%d (%d stalls)", l, st))
				} else {
					lost = append(lost, fmt.Sprint(l))
				}
			}
			if r.both() {
				p(" %.2f |", r.flowRatio(s.key()))
			}
			p(" %s |\n", strings.Join(lost, " / "))
		}
		for _, s := range specs {
			for _, name := range r.brokers {
				if e := firstErr(r.flows[s.key()][name], func(x flowResult) string { return x.err }); e != "" {
					p("\n- %s QoS %d, %s: %s\n", pat, s.qos, name, e)
				}
			}
		}
	}
}

// flowRatio is the median of the per-round iotdm / mosquitto rates.
func (r *report) flowRatio(key string) float64 {
	a, m := r.flows[key][brokerIotdm], r.flows[key][brokerMosquitto]
	var xs []float64
	for i := range min(len(a), len(m)) {
		if a[i].err == "" && m[i].err == "" && m[i].rate > 0 {
			xs = append(xs, a[i].rate/m[i].rate)
		}
	}
	return median(xs)
}

func (r *report) renderLatency(p func(string, ...any)) {
	if len(r.latency) == 0 {
		return
	}
	p("\n#### Latency, pairwise QoS 1 (%d pairs) at a fixed offered rate\n\n", r.cfg.clients)
	p("From just before the PUBLISH is written to its arrival at the subscriber (same process, same clock), over every message of the measured window.\n")
	if r.cfg.rate > 0 {
		p("Offered rate: %s messages/s (-rate).\n\n", num(r.cfg.rate))
	} else {
		p("\"own half peak\": each broker at half its own pairwise QoS 1 rate of the same round (the target); \"same rate\": both at the lower of the two.\n\n")
	}
	p("\"broker CPU\" and \"bench CPU\" are the CPU time (user + system) that the broker process and this bench process used in the measured window, "+
		"\"machine busy\" the busy time of all %d CPUs of the machine (/proc/stat, all but idle and iowait; sampled at clock ticks, so it can read below broker + bench, whose times are exact), "+
		"each in cores: CPU seconds per second of the window.\n\n", runtime.NumCPU())
	p("| run | broker | offered msg/s | delivered msg/s | p50 | p99 | p99.9 | max | p99 rounds | broker CPU | bench CPU | machine busy |\n" +
		"| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, pass := range []string{"own", "common"} {
		label := "own half peak"
		if r.cfg.rate > 0 {
			label = "-rate"
		}
		if pass == "common" {
			label = "same rate"
		}
		for _, name := range r.brokers {
			rs := r.latency[pass][name]
			if len(rs) == 0 {
				continue
			}
			p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", label, name,
				num(medF(rs, func(x latResult) float64 { return x.offered })),
				num(medF(rs, func(x latResult) float64 { return x.achieved })),
				ms(medDur(rs, func(x latResult) time.Duration { return x.lat.pct(50) })),
				ms(medDur(rs, func(x latResult) time.Duration { return x.lat.pct(99) })),
				ms(medDur(rs, func(x latResult) time.Duration { return x.lat.pct(99.9) })),
				ms(medDur(rs, func(x latResult) time.Duration { return x.lat.pct(100) })),
				perRound(rs, func(x latResult) string { return ms(x.lat.pct(99)) }),
				medCores(rs, func(c cpuUse) float64 { return c.broker }),
				medCores(rs, func(c cpuUse) float64 { return c.bench }),
				medCores(rs, func(c cpuUse) float64 { return c.machine }))
		}
	}
	for _, pass := range []string{"own", "common"} {
		for _, name := range r.brokers {
			rs := r.latency[pass][name]
			if len(rs) > 0 && medF(rs, func(x latResult) float64 { return x.achieved / x.offered }) < 0.97 {
				p("\n- %s delivered less than offered (%s run): it did not keep up, so its latency is queueing. "+
					"The latency runs write and flush every message on its own, the throughput runs in bursts, "+
					"so half the throughput peak can be more than per-message sending sustains on this machine.\n", name, pass)
			}
			if e := firstErr(rs, func(x latResult) string { return x.err }); e != "" {
				p("\n- latency (%s), %s: %s\n", pass, name, e)
			}
			if e := firstErr(rs, func(x latResult) string { return x.cpuErr }); e != "" {
				p("\n- latency (%s), %s, CPU not measured: %s\n", pass, name, e)
			}
		}
	}
}

// medCores is the median over the rounds with a CPU reading of f, in
// cores with 2 decimals; "—" when no round has one.
func medCores(rs []latResult, f func(cpuUse) float64) string {
	var xs []float64
	for _, x := range rs {
		if x.cpuOK {
			xs = append(xs, f(x.cpu))
		}
	}
	if len(xs) == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", median(xs))
}

func (r *report) renderHandshakes(p func(string, ...any)) {
	if len(r.handshake) == 0 {
		return
	}
	p("\n#### TLS handshakes (%d concurrent loops of connect, TLS 1.3 handshake with client certificate, CONNECT, CONNACK, DISCONNECT)\n\n", r.cfg.clients)
	p("| broker | handshakes/s | rounds | connect→CONNACK p50 | p99 | failures |\n| --- | ---: | ---: | ---: | ---: | ---: |\n")
	for _, name := range r.brokers {
		rs := r.handshake[name]
		if len(rs) == 0 {
			continue
		}
		var fails int64
		for _, x := range rs {
			fails += x.failures
		}
		p("| %s | %s | %s | %s | %s | %d |\n", name, num(medF(rs, func(x hsResult) float64 { return x.rate })),
			perRound(rs, func(x hsResult) string { return num(x.rate) }),
			ms(medDur(rs, func(x hsResult) time.Duration { return x.connect.pct(50) })),
			ms(medDur(rs, func(x hsResult) time.Duration { return x.connect.pct(99) })), fails)
	}
	for _, name := range r.brokers {
		if e := firstErr(r.handshake[name], func(x hsResult) string { return x.err }); e != "" {
			p("\n- handshakes, %s: %s\n", name, e)
		}
	}
}

func (r *report) renderIdle(p func(string, ...any)) {
	if len(r.idle) == 0 {
		return
	}
	p("\n#### Memory per idle TLS connection\n\n")
	p("A fresh broker process per run; VmRSS after %v idle, before and after opening the connections (from 127.0.0.2, 127.0.0.3, …, %d each; keep-alive %v, CONNECT then silence). "+
		"Per connection = (after − before) / connections. \"VmHWM after\" is the broker's peak resident size since its start, read with VmRSS after. "+
		"\"served\" is how many of a sample answered a PINGREQ after the reading.\n\n",
		r.cfg.settle, idlePerIP, idleKeepAlive)
	p("| connections | broker | VmRSS before | VmRSS after | VmHWM after | per connection | rounds | opened in | served |\n" +
		"| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, n := range r.idleCounts {
		for _, name := range r.brokers {
			rs := r.idle[n][name]
			if len(rs) == 0 {
				continue
			}
			served := perRound(rs, func(x idleResult) string { return fmt.Sprintf("%d/%d", x.ponged, x.pinged) })
			p("| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", num(float64(n)), name,
				mib(int64(medF(rs, func(x idleResult) float64 { return float64(x.before) }))),
				mib(int64(medF(rs, func(x idleResult) float64 { return float64(x.after) }))),
				mib(int64(medF(rs, func(x idleResult) float64 { return float64(x.hwmAfter) }))),
				kib(medF(rs, func(x idleResult) float64 { return x.perConn() })),
				perRound(rs, func(x idleResult) string {
					if x.err != "" {
						return "ERR"
					}
					return kib(x.perConn())
				}),
				ms(medDur(rs, func(x idleResult) time.Duration { return x.openTime })), served)
		}
	}
	for _, n := range r.idleCounts {
		for _, name := range r.brokers {
			if e := firstErr(r.idle[n][name], func(x idleResult) string { return x.err }); e != "" {
				p("\n- idle %d, %s: %s\n", n, name, e)
			}
		}
	}
	r.renderIdleGo(p)
}

// renderIdleGo shows where iotdm's memory per idle connection goes, from
// the Go runtime gauges of its /metrics.
func (r *report) renderIdleGo(p func(string, ...any)) {
	var rows []int
	for _, n := range r.idleCounts {
		if len(r.idle[n][brokerIotdm]) > 0 {
			rows = append(rows, n)
		}
	}
	if len(rows) == 0 {
		return
	}
	p("\n#### iotdm, where the memory of an idle connection goes\n\n")
	p("From iotdm's /metrics, scraped after each VmRSS reading of the runs above: the change per connection of go_goroutines, " +
		"go_memstats_stack_inuse_bytes (goroutine stacks) and go_memstats_heap_inuse_bytes (heap spans in use).\n\n")
	p("| connections | goroutines per connection | rounds | stack per connection | rounds | heap in use per connection | rounds |\n" +
		"| ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, n := range rows {
		rs := r.idle[n][brokerIotdm]
		var ok []idleResult
		for _, x := range rs {
			if x.scraped {
				ok = append(ok, x)
			}
		}
		col := func(f func(goGauges) float64, format func(float64) string) (string, string) {
			med := "—"
			if len(ok) > 0 {
				med = format(medF(ok, func(x idleResult) float64 { return f(x.goPerConn()) }))
			}
			return med, perRound(rs, func(x idleResult) string {
				if !x.scraped {
					return "ERR"
				}
				return format(f(x.goPerConn()))
			})
		}
		oneDecimal := func(v float64) string { return fmt.Sprintf("%.1f", v) }
		g, gr := col(func(g goGauges) float64 { return g.goroutines }, oneDecimal)
		st, str := col(func(g goGauges) float64 { return g.stack }, kib)
		h, hr := col(func(g goGauges) float64 { return g.heap }, kib)
		p("| %s | %s | %s | %s | %s | %s | %s |\n", num(float64(n)), g, gr, st, str, h, hr)
	}
	for _, n := range rows {
		if e := firstErr(r.idle[n][brokerIotdm], func(x idleResult) string { return x.metricsErr }); e != "" {
			p("\n- idle %d, iotdm /metrics: %s\n", n, e)
		}
	}
}

func (r *report) renderTargets(p func(string, ...any)) {
	if !r.has(brokerIotdm) {
		p("\n#### Targets\n\nNot judged: iotdm was not measured.\n")
		return
	}
	p("\n#### Targets (iotdm)\n\n| target | measured | result |\n| --- | --- | --- |\n")
	for _, s := range r.specs {
		rs := r.flows[s.key()]
		a := medF(rs[brokerIotdm], func(x flowResult) float64 { return x.rate })
		if !r.has(brokerMosquitto) {
			p("| throughput ≥ mosquitto's, %s QoS %d | %s msg/s; mosquitto not measured | — |\n", s.pattern, s.qos, num(a))
			continue
		}
		m := medF(rs[brokerMosquitto], func(x flowResult) float64 { return x.rate })
		failed := firstErr(rs[brokerIotdm], func(x flowResult) string { return x.err }) != ""
		var lost int64
		for _, x := range rs[brokerIotdm] {
			lost += x.lost
		}
		note := ""
		if lost > 0 {
			note = fmt.Sprintf("; %d deliveries lost", lost)
		}
		p("| throughput ≥ mosquitto's, %s QoS %d (policy enforcement on), nothing lost | %s vs %s msg/s (%.2f×)%s | %s |\n",
			s.pattern, s.qos, num(a), num(m), r.flowRatio(s.key()), note, passFail(!failed && lost == 0 && a >= m))
	}
	if rs := r.latency["own"][brokerIotdm]; len(rs) > 0 {
		p99 := medDur(rs, func(x latResult) time.Duration { return x.lat.pct(99) })
		off := medF(rs, func(x latResult) float64 { return x.offered })
		what := "half the pairwise QoS 1 peak"
		if r.cfg.rate > 0 {
			what = "-rate"
		}
		ok := p99 > 0 && p99 < 5*time.Millisecond && firstErr(rs, func(x latResult) string { return x.err }) == ""
		p("| p99 < 5 ms at %s | p99 %s at %s msg/s | %s |\n", what, ms(p99), num(off), passFail(ok))
	}
	for _, n := range r.idleCounts {
		rs := r.idle[n][brokerIotdm]
		if len(rs) == 0 {
			continue
		}
		per := medF(rs, func(x idleResult) float64 { return x.perConn() })
		ok := firstErr(rs, func(x idleResult) string { return x.err }) == "" && per < 20*1024
		p("| < 20 KiB resident per idle TLS connection, %s connections | %s | %s |\n", num(float64(n)), kib(per), passFail(ok))
	}
}
