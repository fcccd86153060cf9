// Command cluster measures how iotdm behaves as a cluster of 1, 2 and 3
// nodes on this machine: several `iotdm serve` processes sharing one
// PostgreSQL database and an embedded NATS cluster. For each cluster size,
// on a fresh database, it measures API throughput (CreateThing and
// DescribeThing through the AWS SDK for Go v2, clients spread round-robin
// over the nodes), MQTT throughput and end-to-end latency between
// publisher/subscriber pairs whose two ends are on different nodes, and
// the change-feed lag from a CreateThing on the first node to the thing
// being found by SearchIndex on the last. It prints a markdown report.
// See bench/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/iotdm/iotdm/bench/internal/host"
	"github.com/iotdm/iotdm/internal/postgres/pgtest"
)

type config struct {
	nodes            []int
	postgres         string // the server's DSN; databases are created on it
	rounds           int
	duration, warmup time.Duration
	clients          int
	things           int
	pairs            int
	payload          int
	lagSamples       int
	lagTimeout       time.Duration
	out              string
	keep             bool
	args             []string // the command line, for the report
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	report, err := run(ctx, cfg)
	if report != "" {
		fmt.Print(report)
		if cfg.out != "" {
			if werr := os.WriteFile(cfg.out, []byte(report), 0o644); werr != nil {
				fmt.Fprintln(os.Stderr, "cluster:", werr)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("cluster", flag.ContinueOnError)
	nodes := fs.String("nodes", "1,2,3", "cluster sizes to measure, in order, each on a fresh database")
	fs.StringVar(&cfg.postgres, "postgres", os.Getenv(pgtest.EnvDSN), "DSN of the PostgreSQL server the databases are created on (default $"+pgtest.EnvDSN+")")
	fs.IntVar(&cfg.rounds, "rounds", 3, "rounds of every measure per cluster size; the report shows medians")
	fs.DurationVar(&cfg.duration, "duration", 5*time.Second, "measured time of each API and MQTT run")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "unmeasured time before each measured run")
	fs.IntVar(&cfg.clients, "clients", 16, "concurrent AWS SDK clients of the API runs, spread round-robin over the nodes")
	fs.IntVar(&cfg.things, "things", 1000, "things the setup registers, which DescribeThing picks from")
	fs.IntVar(&cfg.pairs, "pairs", 8, "MQTT publisher/subscriber pairs (pair i: subscriber on node i mod N, publisher on node i+1 mod N)")
	fs.IntVar(&cfg.payload, "payload", 64, "MQTT payload bytes (at least 16: send time and sequence number)")
	fs.IntVar(&cfg.lagSamples, "lag-samples", 50, "things created on the first node and polled for on the last, per round")
	fs.DurationVar(&cfg.lagTimeout, "lag-timeout", 10*time.Second, "how long a change-feed sample is polled for before it counts as timed out")
	fs.StringVar(&cfg.out, "out", "", "also write the report to this file")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the temporary directory (binary, data directories, node logs)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg.args = args
	for s := range strings.SplitSeq(*nodes, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 9 {
			return cfg, fmt.Errorf("-nodes %q: want cluster sizes from 1 to 9 separated by commas", *nodes)
		}
		if !slices.Contains(cfg.nodes, n) {
			cfg.nodes = append(cfg.nodes, n)
		}
	}
	switch {
	case len(cfg.nodes) == 0:
		return cfg, errors.New("-nodes names no cluster size")
	case cfg.postgres == "":
		return cfg, fmt.Errorf("no PostgreSQL server: set -postgres or %s (or run under scripts/with-postgres.sh)", pgtest.EnvDSN)
	case cfg.rounds < 1:
		return cfg, errors.New("-rounds must be at least 1")
	case cfg.duration <= 0 || cfg.warmup < 0:
		return cfg, errors.New("-duration must be positive and -warmup not negative")
	case cfg.clients < 1 || cfg.pairs < 1 || cfg.things < 1 || cfg.lagSamples < 1:
		return cfg, errors.New("-clients, -pairs, -things and -lag-samples must be at least 1")
	case cfg.payload < minPayload || cfg.payload > 100*1024:
		return cfg, fmt.Errorf("-payload must be between %d and 102400 bytes", minPayload)
	case cfg.lagTimeout <= 0:
		return cfg, errors.New("-lag-timeout must be positive")
	}
	return cfg, nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s cluster: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// run builds cmd/iotdm once, then measures every cluster size in turn and
// returns the report (also when a size failed: the report says so).
func run(ctx context.Context, cfg config) (string, error) {
	root, err := host.ModuleRoot(ctx)
	if err != nil {
		return "", err
	}
	rep := newReport(cfg, root)
	rep.pgVersion = serverVersion(ctx, cfg.postgres)

	tmp, err := os.MkdirTemp("", "iotdm-cluster-bench-")
	if err != nil {
		return "", err
	}
	if cfg.keep {
		logf("keeping %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	bin := filepath.Join(tmp, "iotdm")
	logf("building ./cmd/iotdm")
	if err := host.GoBuild(ctx, root, "./cmd/iotdm", bin); err != nil {
		return "", err
	}

	var failed []string
	for _, n := range cfg.nodes {
		res := benchSize(ctx, cfg, bin, filepath.Join(tmp, fmt.Sprintf("n%d", n)), n)
		rep.add(res)
		if ctx.Err() != nil {
			rep.loadAfter = host.LoadAverage()
			return rep.render(), ctx.Err()
		}
		if res.err != "" {
			failed = append(failed, fmt.Sprintf("%d node(s): %s", n, res.err))
		}
	}
	rep.loadAfter = host.LoadAverage()
	if len(failed) > 0 {
		return rep.render(), errors.New(strings.Join(failed, "; "))
	}
	return rep.render(), nil
}

// benchSize measures a cluster of n nodes on a database of its own, which
// it drops afterwards, and stops the nodes, also when ctx ends.
func benchSize(ctx context.Context, cfg config, bin, dir string, n int) (res *sizeResult) {
	res = &sizeResult{n: n, api: map[string][]apiResult{}}
	fail := func(err error) *sizeResult {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		res.err = err.Error()
		logf("%d node(s): %v", n, err)
		return res
	}
	db, err := createDatabase(ctx, cfg.postgres, fmt.Sprintf("n%d", n))
	if err != nil {
		return fail(err)
	}
	defer db.drop()
	logf("%d node(s): database %s; starting the nodes", n, db.name)
	start := time.Now()
	cl, err := startCluster(ctx, bin, dir, db.dsn, n)
	if cl != nil {
		defer func() {
			res.logs = cl.logProblems(10)
			cl.stop()
		}()
	}
	if err != nil {
		return fail(err)
	}
	res.startTime = time.Since(start)
	logf("%d node(s): up in %s; setup: indexing on, %d things", n, res.startTime.Round(time.Millisecond), cfg.things)
	setupStart := time.Now()
	names, err := setup(ctx, cl, cfg.things, cfg.clients)
	if err != nil {
		return fail(fmt.Errorf("setup: %w", err))
	}
	res.setupTime = time.Since(setupStart)

	for r := range cfg.rounds {
		logf("%d node(s): round %d of %d", n, r+1, cfg.rounds)
		if err := cl.alive(); err != nil {
			return fail(err)
		}
		for _, op := range []string{opCreateThing, opDescribeThing} {
			a, err := measureAPI(ctx, cl, apiSpec{op: op, clients: cfg.clients, warmup: cfg.warmup, duration: cfg.duration,
				names: names, prefix: fmt.Sprintf("ct-r%d", r)})
			if err != nil {
				return fail(fmt.Errorf("%s: %w", op, err))
			}
			logf("  %s: %.0f/s (p50 %s, p99 %s), %d failed", op, a.rate(), ms(a.lat.pct(50)), ms(a.lat.pct(99)), a.failed)
			res.api[op] = append(res.api[op], a)
		}
		m, err := measureMQTT(ctx, cl, mqttSpec{pairs: cfg.pairs, payload: cfg.payload, warmup: cfg.warmup, duration: cfg.duration})
		if err != nil {
			return fail(fmt.Errorf("MQTT: %w", err))
		}
		logf("  MQTT: %.0f msg/s received (p50 %s, p99 %s), %d lost", m.rate(), ms(m.lat.pct(50)), ms(m.lat.pct(99)), m.lost)
		res.mqtt = append(res.mqtt, m)
		l, err := measureLag(ctx, cl, lagSpec{samples: cfg.lagSamples, warmup: cfg.warmup, timeout: cfg.lagTimeout, prefix: fmt.Sprintf("lag-r%d", r)})
		if err != nil {
			return fail(fmt.Errorf("change-feed lag: %w", err))
		}
		logf("  change-feed lag: p50 %s, p99 %s, %d timed out", ms(l.lags.pct(50)), ms(l.lags.pct(99)), l.timedOut)
		res.lag = append(res.lag, l)
	}
	if err := cl.alive(); err != nil {
		return fail(err)
	}
	return res
}
