// Command mqtt measures iotdm's MQTT broker next to mosquitto, in one
// invocation, on this machine: it builds and starts `iotdm serve` (policy
// enforcement on: device certificates from CSRs through the AWS API, a
// policy granting the bench's topics only) and a mosquitto with a mutual-TLS
// listener and an ACL, then measures, alternating the brokers in every
// round with the same client code: throughput (fan-in, fan-out, pairwise;
// QoS 0 and 1), latency at half the pairwise QoS 1 peak, TLS handshakes per
// second, and resident memory per idle TLS connection. It prints a markdown
// report with the targets. See bench/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/iotdm/iotdm/bench/internal/host"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Scenario names, for -skip.
const (
	scThroughput = "throughput"
	scLatency    = "latency"
	scHandshake  = "handshake"
	scIdle       = "idle"
)

type config struct {
	rounds           int
	duration, warmup time.Duration
	settle           time.Duration
	idle             []int
	out              string
	keep             bool
	skip             map[string]bool
	clients          int
	certs            int
	payload          int
	rate             float64
	args             []string // the command line, for the report
}

func (c config) skips(names ...string) bool {
	for _, n := range names {
		if c.skip[n] {
			return true
		}
	}
	return false
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "mqtt:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	report, err := run(ctx, cfg)
	if report != "" {
		fmt.Print(report)
		if cfg.out != "" {
			if werr := os.WriteFile(cfg.out, []byte(report), 0o644); werr != nil {
				fmt.Fprintln(os.Stderr, "mqtt:", werr)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mqtt:", err)
		os.Exit(1)
	}
}

var skipNames = []string{brokerIotdm, brokerMosquitto, scThroughput, patFanIn, patFanOut, patPairwise, "qos0", "qos1", scLatency, scHandshake, scIdle}

func parseFlags(args []string) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("mqtt", flag.ContinueOnError)
	fs.IntVar(&cfg.rounds, "rounds", 3, "side-by-side rounds; the report shows medians")
	fs.DurationVar(&cfg.duration, "duration", 5*time.Second, "measured time of each throughput, latency and handshake run")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "unmeasured time before each measured run")
	fs.DurationVar(&cfg.settle, "settle", 5*time.Second, "idle time before each VmRSS reading of the idle-connection runs")
	idle := fs.String("idle", "10000,50000", "idle TLS connection counts of the memory runs (capped by RLIMIT_NOFILE)")
	fs.StringVar(&cfg.out, "out", "", "also write the report to this file")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the temporary directory (binary, iotdm data, mosquitto config, logs)")
	skip := fs.String("skip", "", "comma-separated brokers or scenarios to skip: "+strings.Join(skipNames, ", "))
	fs.IntVar(&cfg.clients, "clients", 16, "publishers of fan-in, subscribers of fan-out, pairs of pairwise and latency, concurrent loops of handshake")
	fs.IntVar(&cfg.certs, "certs", 0, "device certificates per broker, used round-robin by the connections (0: 2 × clients)")
	fs.IntVar(&cfg.payload, "payload", 64, "payload bytes of every message (at least 16: send time and publisher)")
	fs.Float64Var(&cfg.rate, "rate", 0, "offered rate of the latency runs in messages/s (0: half each broker's pairwise QoS 1 rate of the round)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg.args = args
	cfg.skip = map[string]bool{}
	for s := range strings.SplitSeq(*skip, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !slices.Contains(skipNames, s) {
			return cfg, fmt.Errorf("-skip %q: not one of %s", s, strings.Join(skipNames, ", "))
		}
		cfg.skip[s] = true
	}
	for s := range strings.SplitSeq(*idle, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return cfg, fmt.Errorf("-idle %q: want positive counts separated by commas", *idle)
		}
		cfg.idle = append(cfg.idle, n)
	}
	switch {
	case cfg.rounds < 1:
		return cfg, errors.New("-rounds must be at least 1")
	case cfg.clients < 1:
		return cfg, errors.New("-clients must be at least 1")
	case cfg.duration <= 0 || cfg.warmup < 0 || cfg.settle < 0:
		return cfg, errors.New("-duration must be positive, -warmup and -settle not negative")
	case cfg.payload < 16 || cfg.payload > 100*1024:
		return cfg, errors.New("-payload must be between 16 and 102400 bytes")
	case cfg.rate < 0:
		return cfg, errors.New("-rate must not be negative")
	}
	if cfg.certs <= 0 {
		cfg.certs = 2 * cfg.clients
	}
	return cfg, nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s mqtt: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// fdReserve is how many descriptors besides idle connections the bench
// and a broker keep (listeners, logs, database files, ...).
const fdReserve = 500

func run(ctx context.Context, cfg config) (string, error) {
	root, err := host.ModuleRoot(ctx)
	if err != nil {
		return "", err
	}
	rep := newReport(cfg, root)

	// Open files: one per idle connection in this process and in the broker.
	want := uint64(fdReserve)
	for _, n := range cfg.idle {
		want = max(want, uint64(n)+fdReserve)
	}
	soft, hard, err := raiseOpenFiles(want)
	if err != nil {
		return "", err
	}
	rep.nofile = fmt.Sprintf("%d (hard %d)", soft, hard)
	if soft < want && !cfg.skip[scIdle] {
		rep.notes = append(rep.notes, fmt.Sprintf("RLIMIT_NOFILE is %d (hard limit %d) and this process may not raise it "+
			"(raising a hard limit needs CAP_SYS_RESOURCE; where the bench has it, it raises the limit to %d itself), "+
			"so idle counts are capped at %d, not %s as asked",
			soft, hard, want, int(soft)-fdReserve, joinInts(cfg.idle)))
	}

	tmp, err := os.MkdirTemp("", "iotdm-mqtt-bench-")
	if err != nil {
		return "", err
	}
	if cfg.keep {
		logf("keeping %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}

	keys, err := newDeviceKeys(cfg.certs)
	if err != nil {
		return "", err
	}
	var targets []*target
	defer func() {
		for _, t := range targets {
			t.stop()
		}
	}()
	if !cfg.skip[brokerIotdm] {
		t, err := startIotdm(ctx, root, tmp, cfg.certs, keys)
		switch {
		case errors.Is(err, errNoBroker):
			msg := "iotdm skipped: `cmd/iotdm serve --mqtt-addr` does not run the MQTT broker yet (server.json has no mqttAddr), so only mosquitto was measured"
			logf("%s", msg)
			rep.notes = append(rep.notes, msg)
		case err != nil:
			return "", fmt.Errorf("iotdm: %w", err)
		default:
			targets = append(targets, t)
		}
	}
	if !cfg.skip[brokerMosquitto] {
		logf("starting mosquitto")
		t, err := startMosquitto(ctx, tmp, keys)
		if err != nil {
			return "", fmt.Errorf("mosquitto: %w", err)
		}
		targets = append(targets, t)
	}
	if len(targets) == 0 {
		return "", errors.New("no broker to measure")
	}
	for _, t := range targets {
		rep.brokers = append(rep.brokers, t.name)
		rep.about[t.name] = t.about
		what, err := checkEnforcement(ctx, t)
		if err != nil {
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			msg := fmt.Sprintf("%s does NOT enforce the bench's policy/ACL: %v", t.name, err)
			logf("%s", msg)
			rep.notes = append(rep.notes, msg)
			continue
		}
		rep.about[t.name] += "; " + what
	}
	idle := cfg.idle
	if !cfg.skip[scIdle] {
		limit := int(soft) - fdReserve
		for _, t := range targets {
			if l := openFilesLimit(t.proc); l > 0 && l-fdReserve < limit {
				limit = l - fdReserve
				rep.notes = append(rep.notes, fmt.Sprintf("%s's open-files limit is %d: idle counts capped at %d", t.name, l, limit))
			}
		}
		idle = nil
		for _, n := range cfg.idle {
			if n > limit {
				logf("idle connections: %d capped at %d (open-files limit)", n, limit)
				n = limit
			}
			if !slices.Contains(idle, n) {
				idle = append(idle, n)
			}
		}
		rep.idleCounts = idle
	}

	err = runRounds(ctx, cfg, targets, idle, rep)
	rep.loadAfter = host.LoadAverage()
	for _, t := range targets {
		rep.logs[t.name] = logProblems(t.proc.LogPath, 10)
	}
	return rep.render(), err
}

// runRounds runs every scenario against every broker, round after round,
// the brokers in turn within each scenario (their order reversed in every
// other round).
func runRounds(ctx context.Context, cfg config, targets []*target, idle []int, rep *report) error {
	for r := range cfg.rounds {
		order := slices.Clone(targets)
		if r%2 == 1 {
			slices.Reverse(order)
		}
		logf("round %d of %d", r+1, cfg.rounds)
		if !cfg.skip[scThroughput] {
			for _, s := range flowSpecs(cfg.clients) {
				if cfg.skips(s.pattern, fmt.Sprintf("qos%d", s.qos)) {
					continue
				}
				for _, t := range order {
					if err := ensureUp(ctx, t, rep); err != nil {
						return err
					}
					logf("%s %s QoS %d: %s", t.name, s.pattern, s.qos, s.describe())
					res, err := runFlow(ctx, t, s, cfg.payload, cfg.warmup, cfg.duration)
					if err != nil {
						if ctx.Err() != nil {
							return ctx.Err()
						}
						res.err = err.Error()
					}
					logf("  %.0f msg/s delivered%s", res.rate, errSuffix(res.err))
					rep.addFlow(s, t.name, res)
				}
			}
		}
		if !cfg.skip[scLatency] {
			rates := map[string]float64{}
			for _, t := range order {
				rate := cfg.rate
				if rate == 0 {
					peak := rep.flowRound(flowSpec{pattern: patPairwise, qos: 1}.key(), t.name, r)
					if peak <= 0 {
						msg := fmt.Sprintf("no latency run for %s in round %d: no pairwise QoS 1 rate to take half of (skipped or failed; -rate sets one)", t.name, r+1)
						logf("%s", msg)
						rep.notes = append(rep.notes, msg)
						continue
					}
					rate = peak / 2
				}
				rates[t.name] = rate
			}
			common := 0.0
			if cfg.rate == 0 && len(rates) == len(targets) && len(targets) > 1 {
				for _, v := range rates {
					if common == 0 || v < common {
						common = v
					}
				}
			}
			for _, pass := range []string{"own", "common"} {
				for _, t := range order {
					rate := rates[t.name]
					if pass == "common" {
						rate = common
					}
					if rate <= 0 {
						continue
					}
					if err := ensureUp(ctx, t, rep); err != nil {
						return err
					}
					logf("%s latency: %d pairs, QoS 1, %.0f msg/s offered", t.name, cfg.clients, rate)
					res, err := runLatency(ctx, t, cfg.clients, rate, cfg.payload, cfg.warmup, cfg.duration)
					if err != nil {
						if ctx.Err() != nil {
							return ctx.Err()
						}
						res.err = err.Error()
					}
					logf("  p50 %s p99 %s, %.0f msg/s; CPU in cores: broker %.2f, bench %.2f, machine %.2f of %d%s",
						ms(res.lat.pct(50)), ms(res.lat.pct(99)), res.achieved, res.cpu.broker, res.cpu.bench, res.cpu.machine, runtime.NumCPU(), errSuffix(res.err))
					rep.addLatency(pass, t.name, res)
				}
			}
		}
		if !cfg.skip[scHandshake] {
			for _, t := range order {
				if err := ensureUp(ctx, t, rep); err != nil {
					return err
				}
				logf("%s handshakes: %d concurrent loops", t.name, cfg.clients)
				res, err := runHandshakes(ctx, t, cfg.clients, cfg.warmup, cfg.duration)
				if err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					res.err = err.Error()
				}
				logf("  %.0f handshakes/s, %d failures%s", res.rate, res.failures, errSuffix(res.err))
				rep.addHandshake(t.name, res)
			}
		}
		if !cfg.skip[scIdle] {
			for _, n := range idle {
				for _, t := range order {
					logf("%s idle: %d TLS connections", t.name, n)
					res, err := runIdle(ctx, t, n, cfg.settle)
					if err != nil {
						if ctx.Err() != nil {
							return ctx.Err()
						}
						res.err = err.Error()
					}
					logf("  %.1f KiB per connection (RSS %s → %s, HWM %s), opened in %s%s", res.perConn()/1024, mib(res.before), mib(res.after), mib(res.hwmAfter), ms(res.openTime), errSuffix(res.err))
					if res.scraped {
						g := res.goPerConn()
						logf("  per connection: %.1f goroutines, stack %s, heap in use %s", g.goroutines, kib(g.stack), kib(g.heap))
					} else if res.metricsErr != "" {
						logf("  /metrics: %s", res.metricsErr)
					}
					rep.addIdle(n, t.name, res)
				}
			}
		}
	}
	return nil
}

// ensureUp restarts a broker whose process has ended (the report's notes
// say so).
func ensureUp(ctx context.Context, t *target, rep *report) error {
	if !t.proc.Exited() {
		return nil
	}
	rep.crashes[t.name]++
	logf("%s has exited (%v); log tail:\n%s\nrestarting it", t.name, t.proc.WaitErr(), t.proc.LogTail(1000))
	if err := t.restart(ctx); err != nil {
		return fmt.Errorf("restart %s: %w", t.name, err)
	}
	return nil
}

// logProblems summarizes a broker log: its warning and error lines, and
// lines that say messages were dropped (mochi logs "client store quota
// reached" at INFO), each distinct message once with its count, in order of
// first appearance, at most max of them.
func logProblems(path string, max int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	counts := map[string]int{}
	var order []string
	for line := range strings.SplitSeq(string(b), "\n") {
		lower := strings.ToLower(line)
		problem := strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") ||
			strings.Contains(line, ": Error") || strings.Contains(line, ": Warning") ||
			strings.Contains(lower, "quota") || strings.Contains(lower, "dropped") || strings.Contains(lower, "out of memory")
		if !problem || strings.Contains(line, "should not be run as root") {
			continue
		}
		key := logKey(line)
		if counts[key] == 0 {
			order = append(order, key)
		}
		counts[key]++
	}
	var out []string
	for i, k := range order {
		if i == max {
			out = append(out, fmt.Sprintf("… and %d more kinds of lines", len(order)-max))
			break
		}
		out = append(out, fmt.Sprintf("%6d × %s", counts[k], k))
	}
	return strings.Join(out, "\n")
}

// logKey is a log line without what changes from one occurrence to the
// next: slog's time and the client attributes, mosquitto's time stamp.
func logKey(line string) string {
	if strings.HasPrefix(line, "time=") {
		_, rest, _ := strings.Cut(line, " ")
		if i := strings.Index(rest, " client="); i >= 0 {
			rest = rest[:i]
		}
		return rest
	}
	if ts, rest, ok := strings.Cut(line, ": "); ok && strings.Trim(ts, "0123456789") == "" {
		return rest
	}
	return line
}

func joinInts(xs []int) string {
	var parts []string
	for _, x := range xs {
		parts = append(parts, strconv.Itoa(x))
	}
	return strings.Join(parts, ",")
}

func errSuffix(s string) string {
	if s == "" {
		return ""
	}
	return " — ERROR " + s
}
