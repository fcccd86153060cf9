package main

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/iotdm/iotdm/bench/load"
)

// runInfo is what the report says about the run besides the numbers.
type runInfo struct {
	started  time.Time
	revision string
	load     [2]string // load average before setup and after the last run
	cpu      string
	cfg      config
	targets  []*target
}

// targetRatio is a project goal: iotdm's rate at least min times another's.
type targetRatio struct {
	min   float64
	label string
}

// ceilingTargets are the goals relative to the ceiling, per operation.
func ceilingTargets() map[string]targetRatio {
	return map[string]targetRatio{
		load.OpCreateThing:   {0.55, "≥ 55%"},
		load.OpDescribeThing: {0.80, "≥ 80%"},
	}
}

// motoTarget is the goal relative to moto, for every operation.
func motoTarget() targetRatio { return targetRatio{30, "≥ 30×"} }

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func medianOf(rs []*load.Result, f func(*load.Result) float64) float64 {
	xs := make([]float64, len(rs))
	for i, r := range rs {
		xs[i] = f(r)
	}
	return median(xs)
}

func opsPerSec(r *load.Result) float64 { return r.OpsPerSec() }

func latency(q float64) func(*load.Result) float64 {
	return func(r *load.Result) float64 { return float64(r.Percentile(q)) }
}

func fmtRate(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

// pairedRatio is the median over rounds of a's rate divided by b's rate in
// the same round, both through the client kind; ok is false when either
// side is missing.
func pairedRatio(m *measurements, kind load.Kind, op, a, b string) (float64, bool) {
	ra, rb := m.rounds[key{kind, a, op}], m.rounds[key{kind, b, op}]
	if len(ra) == 0 || len(ra) != len(rb) {
		return 0, false
	}
	xs := make([]float64, 0, len(ra))
	for i := range ra {
		if rb[i].OpsPerSec() == 0 {
			return 0, false
		}
		xs = append(xs, ra[i].OpsPerSec()/rb[i].OpsPerSec())
	}
	return median(xs), true
}

// verdict formats a ratio and whether it meets t (absent t: no goal).
func verdict(ratio float64, ok bool, t targetRatio, hasTarget bool, asPercent bool) (val, goal, result string) {
	if !ok {
		return "n/a", goalLabel(t, hasTarget), "n/a"
	}
	if asPercent {
		val = fmt.Sprintf("%.0f%%", ratio*100)
	} else {
		val = fmt.Sprintf("%.1f×", ratio)
	}
	if !hasTarget {
		return val, "—", "—"
	}
	if ratio >= t.min {
		return val, t.label, "PASS"
	}
	return val, t.label, "FAIL"
}

func goalLabel(t targetRatio, has bool) string {
	if !has {
		return "—"
	}
	return t.label
}

// report renders the results as markdown.
func report(info runInfo, m *measurements) string {
	cfg := info.cfg
	var b strings.Builder
	fmt.Fprintf(&b, "# iotdm benchmark\n\n")
	fmt.Fprintf(&b, "- started: %s, revision %s\n", info.started.Format(time.RFC3339), info.revision)
	fmt.Fprintf(&b, "- machine: %d CPUs (%s), GOMAXPROCS %d, %s/%s, %s\n",
		runtime.NumCPU(), info.cpu, runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version())
	fmt.Fprintf(&b, "- load average (1, 5, 15 min): %s before setup (just after the builds), %s after the last run\n",
		info.load[0], info.load[1])
	fmt.Fprintf(&b, "- load: %d clients, %s per operation and server after %s warm-up, %d round(s); the load generator shares the machine with the server under test\n",
		cfg.clients, cfg.duration, cfg.warmup, cfg.rounds)
	fmt.Fprintf(&b, "- setup: %d thing groups; things: ", cfg.groups)
	var things []string
	for _, t := range info.targets {
		things = append(things, fmt.Sprintf("%s %d (took %s; %d at the end)",
			t.name, t.things, t.fixture.Took.Round(time.Millisecond), t.things+int(t.created)))
	}
	b.WriteString(strings.Join(things, ", ") + "\n")
	if cfg.motoThings != cfg.things && slices.Contains(cfg.servers, srvMoto) {
		fmt.Fprintf(&b, "- **note: moto was set up with %d things, not %d (-moto-things).** moto scans every thing on DescribeThing, ListThings and AddThingToThingGroup, so fewer things flatter it.\n",
			cfg.motoThings, cfg.things)
	}
	fmt.Fprintf(&b, "- numbers are medians of %d side-by-side round(s): in each round, for each client kind (%s), every operation is run against %s in turn; ratios are medians of the per-round ratios. Latencies are exact percentiles over every 2xx request.\n",
		cfg.rounds, joinKinds(cfg.kinds), strings.Join(cfg.servers, ", "))
	b.WriteString("- clients: the " + load.KindRaw.Label() + " (`-client raw`) builds each request and signs it with the SDK's v4 signer, its latency from sending the signed request to the end of the answer; the " +
		load.KindSDK.Label() + " (`-client sdk`) makes each call through `service/iot` (one `iot.Client` per client loop: static credentials, no retries, a shared keep-alive `http.Client`), as a Go program using AWS IoT does, its latency the whole SDK call.\n")
	b.WriteString("- the load program shares the machine with the server under test, so the ceiling's rate (and every server's) depends on how heavy the load program is, and the SDK client does more work per call (its middleware stack, serializing, signing, decoding) than the raw one. ")
	if len(cfg.kinds) > 1 {
		b.WriteString("Both are shown, each with its own ceiling and targets.\n")
	} else {
		fmt.Fprintf(&b, "Only the %s was run here (-client %s).\n", cfg.kinds[0].Label(), cfg.kinds[0])
	}
	for _, kind := range cfg.kinds {
		kindTables(&b, cfg, m, kind)
	}

	if len(m.failures) > 0 {
		fmt.Fprintf(&b, "\n## FAILED RUNS (more than %.2g%% of requests not 2xx)\n\n", cfg.maxFail*100)
		for _, f := range m.failures {
			fmt.Fprintf(&b, "- %s\n", f)
		}
	}
	return b.String()
}

func joinKinds(kinds []load.Kind) string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// kindTables writes the throughput and latency table and the targets table
// of one client kind.
func kindTables(b *strings.Builder, cfg config, m *measurements, kind load.Kind) {
	fmt.Fprintf(b, "\n## Throughput and latency: %s (`-client %s`)\n\n", kind.Label(), kind)
	b.WriteString("| operation | server | ops/s | p50 | p99 | ops/s per round | failed |\n")
	b.WriteString("| --- | --- | ---: | ---: | ---: | --- | ---: |\n")
	for _, op := range cfg.ops {
		for _, srv := range cfg.servers {
			rs := m.rounds[key{kind, srv, op}]
			if len(rs) == 0 {
				continue
			}
			var per []string
			var failed, total int64
			for _, r := range rs {
				per = append(per, fmtRate(r.OpsPerSec()))
				failed += r.Failed()
				total += r.Total()
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %d/%d |\n", op, srv,
				fmtRate(medianOf(rs, opsPerSec)),
				load.FormatLatency(time.Duration(medianOf(rs, latency(0.50)))),
				load.FormatLatency(time.Duration(medianOf(rs, latency(0.99)))),
				strings.Join(per, " / "), failed, total)
		}
	}

	fmt.Fprintf(b, "\n## Targets: %s (`-client %s`)\n\n", kind.Label(), kind)
	b.WriteString("| operation | iotdm/ceiling | target | result | iotdm/moto | target | result |\n")
	b.WriteString("| --- | ---: | --- | --- | ---: | --- | --- |\n")
	ct, mt := ceilingTargets(), motoTarget()
	for _, op := range cfg.ops {
		r, ok := pairedRatio(m, kind, op, srvIotdm, srvCeiling)
		t, has := ct[op]
		cv, cg, cr := verdict(r, ok, t, has, true)
		r, ok = pairedRatio(m, kind, op, srvIotdm, srvMoto)
		mv, mg, mr := verdict(r, ok, mt, true, false)
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s |\n", op, cv, cg, cr, mv, mg, mr)
	}
	if !slices.Contains(cfg.servers, srvIotdm) {
		b.WriteString("\niotdm was not run (-servers), so no target could be judged.\n")
	}
}
