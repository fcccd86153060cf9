// Command run benchmarks iotdm against moto and a trivial ceiling server in
// one invocation: it builds iotdm and the ceiling, starts the three servers on
// free loopback ports, registers the setup things on each, then measures
// every operation against every server in turn, for -rounds rounds, and
// prints a markdown table of medians with the project's targets, once per
// client kind: the raw signed HTTP client and the AWS SDK for Go v2 client.
//
//	go run ./bench/run -servers ceiling,iotdm,moto -client raw,sdk -duration 5s -rounds 3 -out bench/out.md
//
// Every child process is stopped on exit, including on Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/iotdm/iotdm/bench/internal/host"
	"github.com/iotdm/iotdm/bench/load"
)

// config is the parsed command line.
type config struct {
	servers, ops                    []string
	kinds                           []load.Kind
	clients, rounds, things, groups int
	motoThings                      int
	duration, warmup, readyTimeout  time.Duration
	out, motoBin, region            string
	accessKey, secretKey            string
	maxFail                         float64
	keep                            bool
}

func parseFlags(args []string) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	servers := fs.String("servers", "ceiling,iotdm,moto", "servers to run, in the order each operation visits them")
	kinds := fs.String("client", "raw,sdk", "client kinds, in the order each round runs them: raw (requests signed by hand), sdk (the AWS SDK for Go v2 IoT client)")
	ops := fs.String("ops", "all", "operations: "+strings.Join(load.AllOps(), ",")+" or all")
	fs.IntVar(&cfg.clients, "clients", 16, "concurrent clients")
	fs.DurationVar(&cfg.duration, "duration", 5*time.Second, "measured length of each operation against each server")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "unmeasured warm-up before each measured run")
	fs.IntVar(&cfg.rounds, "rounds", 3, "side-by-side rounds; the report shows medians")
	fs.IntVar(&cfg.things, "things", 10000, "things the setup phase registers on iotdm and the ceiling")
	fs.IntVar(&cfg.motoThings, "moto-things", 0, "things the setup phase registers on moto (0: same as -things)")
	fs.IntVar(&cfg.groups, "groups", 8, "thing groups the setup phase creates (AWS allows a thing in 10 at most)")
	fs.StringVar(&cfg.out, "out", "", "also write the markdown report to this file")
	fs.StringVar(&cfg.motoBin, "moto-bin", "moto_server", "moto server executable")
	fs.StringVar(&cfg.region, "region", "us-east-1", "SigV4 region")
	fs.StringVar(&cfg.accessKey, "access-key", "AKIDIOTDMBENCH0000001", "access key ID given to iotdm and used to sign")
	fs.StringVar(&cfg.secretKey, "secret-key", "iotdm-bench-secret-key-not-a-real-one", "secret access key given to iotdm and used to sign")
	fs.Float64Var(&cfg.maxFail, "max-fail", 0.001, "largest tolerated fraction of non-2xx answers and errors per run; above it the run exits 1")
	fs.DurationVar(&cfg.readyTimeout, "ready-timeout", 60*time.Second, "how long a server may take to become ready")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the temporary directory (binaries, server logs, iotdm data)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	for _, s := range strings.Split(*servers, ",") {
		s = strings.TrimSpace(s)
		if s != srvCeiling && s != srvIotdm && s != srvMoto {
			return cfg, fmt.Errorf("-servers: unknown server %q (want ceiling, iotdm, moto)", s)
		}
		if !slices.Contains(cfg.servers, s) {
			cfg.servers = append(cfg.servers, s)
		}
	}
	for _, s := range strings.Split(*kinds, ",") {
		k, err := load.ParseKind(strings.TrimSpace(s))
		if err != nil {
			return cfg, fmt.Errorf("-client: %w", err)
		}
		if !slices.Contains(cfg.kinds, k) {
			cfg.kinds = append(cfg.kinds, k)
		}
	}
	cfg.ops = load.AllOps()
	if *ops != "all" {
		cfg.ops = nil
		for _, o := range strings.Split(*ops, ",") {
			o = strings.TrimSpace(o)
			if !slices.Contains(load.AllOps(), o) {
				return cfg, fmt.Errorf("-ops: unknown operation %q (want %s)", o, strings.Join(load.AllOps(), ", "))
			}
			cfg.ops = append(cfg.ops, o)
		}
	}
	if cfg.motoThings <= 0 {
		cfg.motoThings = cfg.things
	}
	switch {
	case cfg.clients < 1, cfg.rounds < 1, cfg.duration <= 0:
		return cfg, errors.New("-clients, -rounds and -duration must be positive")
	case cfg.groups < 1, cfg.things < 1:
		return cfg, errors.New("-groups and -things must be positive")
	}
	return cfg, nil
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	failed, err := run(ctx, cfg)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		os.Exit(1)
	}
	if failed {
		fmt.Fprintln(os.Stderr, "run: some runs had too many failed requests (see FAILED RUNS)")
		os.Exit(1)
	}
}

// run does the whole benchmark; failed reports runs with too many failures.
// Every child process is stopped before it returns.
func run(ctx context.Context, cfg config) (failed bool, err error) {
	started := time.Now()
	root, err := host.ModuleRoot(ctx)
	if err != nil {
		return false, err
	}
	dir, err := os.MkdirTemp("", "iotdm-bench-")
	if err != nil {
		return false, fmt.Errorf("temp dir: %w", err)
	}
	if cfg.keep {
		fmt.Fprintf(os.Stderr, "keeping %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	bins, err := buildBinaries(ctx, cfg, root, dir)
	if err != nil {
		return false, err
	}

	f := &fleet{}
	defer f.stopAll()
	var targets []*target
	for _, name := range cfg.servers {
		t, err := startTarget(ctx, cfg, f, bins, dir, name)
		if err != nil {
			return false, err
		}
		fmt.Fprintf(os.Stderr, "%s ready at %s\n", name, t.base)
		targets = append(targets, t)
	}
	loadBefore := host.LoadAverage()
	if err := setupAll(ctx, cfg, targets); err != nil {
		return false, err
	}
	m, err := measure(ctx, cfg, targets)
	if err != nil {
		return false, err
	}
	md := report(runInfo{
		started: started, revision: host.Revision(ctx, root), cpu: host.CPUModel(),
		load: [2]string{loadBefore, host.LoadAverage()}, cfg: cfg, targets: targets,
	}, m)
	fmt.Print(md)
	if cfg.out != "" {
		if err := os.WriteFile(cfg.out, []byte(md), 0o644); err != nil {
			return false, fmt.Errorf("write -out: %w", err)
		}
	}
	return len(m.failures) > 0, nil
}
