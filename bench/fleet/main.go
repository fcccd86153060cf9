// Command fleet measures iotdm's fleet indexing at fleet scale, in one
// invocation: it generates a fleet directly into a fresh SQLite store (below
// the API), starts the real server on it, and measures the index build at
// start, resident memory per thing, SearchIndex and aggregation latency, and
// how soon dynamic group membership follows UpdateThing and
// UpdateThingShadow. It prints a markdown report. See bench/README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"github.com/iotdm/iotdm/bench/internal/host"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

const (
	benchAccessKey = "AKIAIOTDMFLEETBENCH0"
	benchSecretKey = "iotdm-fleet-bench-secret-key-0000000000"
)

type config struct {
	things, groups, reps, clients int
	duration, queryTime, settle   time.Duration
	out                           string
	keep                          bool
}

func main() {
	var cfg config
	flag.IntVar(&cfg.things, "things", 100000, "things to generate")
	flag.IntVar(&cfg.groups, "groups", 100, "dynamic thing groups (at most 100, the AWS limit)")
	flag.IntVar(&cfg.reps, "reps", 200, "repetitions of each query")
	flag.IntVar(&cfg.clients, "clients", 16, "concurrent clients of the membership runs")
	flag.DurationVar(&cfg.duration, "duration", 10*time.Second, "length of each membership run")
	flag.DurationVar(&cfg.queryTime, "query-time", 30*time.Second, "time bound of each query's repetitions")
	flag.DurationVar(&cfg.settle, "settle", 5*time.Second, "time the server is left idle before its RSS is read")
	flag.StringVar(&cfg.out, "out", "", "also write the report to this file")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the temporary directory (binary, data, logs)")
	flag.Parse()
	cfg.groups = min(max(cfg.groups, 0), 100)
	if cfg.things < 1 {
		fmt.Fprintln(os.Stderr, "fleet: -things must be at least 1")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	report, err := run(ctx, cfg)
	if report != "" {
		fmt.Print(report)
		if cfg.out != "" {
			if werr := os.WriteFile(cfg.out, []byte(report), 0o644); werr != nil {
				fmt.Fprintln(os.Stderr, "fleet:", werr)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s fleet: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func run(ctx context.Context, cfg config) (string, error) {
	tmp, err := os.MkdirTemp("", "iotdm-fleet-")
	if err != nil {
		return "", err
	}
	if cfg.keep {
		logf("keeping %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	rep := &report{cfg: cfg, loadBefore: host.LoadAverage(), started: time.Now()}

	logf("building cmd/iotdm")
	bin, err := buildServer(ctx, tmp)
	if err != nil {
		return "", err
	}

	// Baseline: an empty server.
	logf("starting an empty server (baseline)")
	empty, err := startServer(ctx, bin, filepath.Join(tmp, "empty"), benchAccessKey, benchSecretKey, time.Minute)
	if err != nil {
		return "", err
	}
	rep.emptyReady = empty.ready
	rep.emptyRSS, _, _, err = empty.settledRSS(ctx, cfg.settle)
	empty.stop()
	if err != nil {
		return "", err
	}

	// 1. Generate.
	groups := dynamicGroups(cfg.groups)
	rep.groups = groups
	dataDir := filepath.Join(tmp, "fleet")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", err
	}
	logf("generating %d things, %d dynamic groups", cfg.things, len(groups))
	rep.gen, err = generate(ctx, filepath.Join(dataDir, "iotdm.db"), cfg.things, groups)
	if err != nil {
		return "", fmt.Errorf("generate: %w", err)
	}
	if fi, err := os.Stat(filepath.Join(dataDir, "iotdm.db")); err == nil {
		rep.dbBytes = fi.Size()
	}
	logf("generated in %v", rep.gen.took.Round(time.Millisecond))

	// 2. Start on the fleet.
	logf("starting the server on the fleet")
	srv, err := startServer(ctx, bin, dataDir, benchAccessKey, benchSecretKey, 30*time.Minute)
	if err != nil {
		return "", err
	}
	defer srv.stop()
	rep.ready = srv.ready
	opened, built, line := srv.logTimes()
	if !opened.IsZero() && !built.IsZero() {
		rep.logOpen = opened.Sub(srv.started)
		rep.logBuild = built.Sub(opened)
		rep.builtLine = line
	}
	rep.rss, rep.rssLow, rep.rssPeak, err = srv.settledRSS(ctx, cfg.settle)
	if err != nil {
		return "", err
	}
	logf("ready in %v; RSS %d MiB", srv.ready.Round(time.Millisecond), rep.rss>>20)

	c := newClient(srv.url, benchAccessKey, benchSecretKey, cfg.clients)
	fs := newFleetState(cfg.things)

	// Membership check: a sample of things against the expected groups.
	for k := range 20 {
		i := int((uint64(k)*0x9E3779B97F4A7C15)>>1) % cfg.things
		got, err := thingGroups(ctx, c, thingName(i))
		if err != nil {
			return rep.render(), fmt.Errorf("membership check: %w", err)
		}
		want := expectedGroups(fs.state(i), groups)
		rep.checked++
		if !sameSet(got, want) {
			rep.mismatch = append(rep.mismatch, fmt.Sprintf("%s: got %v, want %v", thingName(i), keys(got), keys(want)))
		}
	}

	// 3. Queries.
	half := "attributes.location:Building-A OR attributes.location:Building-B OR attributes.location:Building-C OR attributes.location:Building-D OR attributes.location:Building-E"
	sel := 4242 % cfg.things
	cases := []queryCase{
		{op: "SearchIndex (term, thingName)", path: "/indices/search", query: "thingName:" + thingName(sel)},
		{op: "SearchIndex (term, attribute)", path: "/indices/search", query: "attributes.serial:" + serial(sel)},
		{op: "SearchIndex (wildcard)", path: "/indices/search", query: "attributes.model:m1*"},
		{op: "SearchIndex (numeric range)", path: "/indices/search", query: "shadow.reported.temperature:[20 TO 21]"},
		{op: "SearchIndex (4-clause boolean)", path: "/indices/search",
			query: "attributes.location:Building-C AND attributes.firmware:1.2.0 AND shadow.reported.battery>50 AND NOT attributes.floor:3"},
		{op: "GetStatistics (half the fleet)", path: "/indices/statistics", query: half,
			body: map[string]any{"aggregationField": "shadow.reported.temperature"}},
		{op: "GetPercentiles (half the fleet)", path: "/indices/percentiles", query: half,
			body: map[string]any{"aggregationField": "shadow.reported.battery"}},
	}
	for _, q := range cases {
		if q.body == nil {
			q.body = map[string]any{}
		}
		q.body["queryString"] = q.query
		logf("%s", q.op)
		rep.queries = append(rep.queries, runQuery(ctx, c, q, cfg.reps, cfg.queryTime))
	}

	// 4. Membership latency.
	for _, kind := range []string{"UpdateThing", "UpdateThingShadow"} {
		if kind == "UpdateThing" && len(groups) < 56 || len(groups) < 1 {
			continue // needs the dyn-loc-*-fw-* (or dyn-battery-low) groups
		}
		for _, probe := range []bool{false, true} {
			logf("%s, %d clients, probe %v", kind, cfg.clients, probe)
			rep.updates = append(rep.updates, runUpdates(ctx, c, fs, kind, cfg.things, cfg.clients, cfg.duration, probe, 5*time.Second))
		}
	}
	if ctx.Err() != nil {
		return rep.render(), ctx.Err()
	}
	if r, h, err := srv.rss(); err == nil {
		rep.rssAfter, rep.rssPeak = r, h
	}
	rep.warnings = srv.logWarnings(10)
	rep.loadAfter = host.LoadAverage()
	return rep.render(), nil
}

func sameSet(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
