// Command loadgen sends SigV4-signed AWS IoT control-plane requests to one
// server from N concurrent clients and reports ops/s and exact p50/p99
// latencies per operation.
//
//	loadgen -url http://127.0.0.1:8080 -ops all -clients 16 -duration 5s -client raw
//
// -client picks how the calls are sent: raw (HTTP requests signed by hand)
// or sdk (the AWS SDK for Go v2 IoT client). It first registers -groups thing
// groups and -things things (the setup phase, always with the raw client)
// that DescribeThing and AddThingToThingGroup use; -setup=false with the
// -prefix of an earlier run reuses that run's things instead.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/iotdm/iotdm/bench/load"
)

type options struct {
	url, ops, prefix, region, accessKey, secretKey string
	client                                         string
	clients, things, groups                        int
	duration                                       time.Duration
	count                                          int64
	setup                                          bool
	maxFail                                        float64
}

func main() {
	var o options
	flag.StringVar(&o.url, "url", "", "base URL of the server, e.g. http://127.0.0.1:8080 (required)")
	flag.StringVar(&o.client, "client", "raw", "client kind: raw (requests signed by hand) or sdk (the AWS SDK for Go v2 IoT client)")
	flag.StringVar(&o.ops, "ops", "all", "comma-separated operations: "+strings.Join(load.AllOps(), ",")+" or all")
	flag.IntVar(&o.clients, "clients", 16, "concurrent clients")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "length of each operation's run (0: only -count bounds it)")
	flag.Int64Var(&o.count, "count", 0, "requests per operation (0: only -duration bounds it)")
	flag.IntVar(&o.things, "things", 10000, "things registered by the setup phase")
	flag.IntVar(&o.groups, "groups", 8, "thing groups created by the setup phase (AWS allows a thing in 10 at most)")
	flag.BoolVar(&o.setup, "setup", true, "run the setup phase (false: reuse the things of an earlier run with the same -prefix)")
	flag.StringVar(&o.prefix, "prefix", "", "name prefix of this run's things and groups (default: unique per run)")
	flag.StringVar(&o.region, "region", "us-east-1", "SigV4 region")
	flag.StringVar(&o.accessKey, "access-key", envOr("IOTDM_ACCESS_KEY_ID", "AKIDIOTDMBENCH"), "access key ID")
	flag.StringVar(&o.secretKey, "secret-key", envOr("IOTDM_SECRET_ACCESS_KEY", "iotdm-bench-secret"), "secret access key")
	flag.Float64Var(&o.maxFail, "max-fail", 0.001, "largest tolerated fraction of non-2xx answers and errors per run")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func run(ctx context.Context, o options) error {
	if o.url == "" {
		return errors.New("-url is required")
	}
	kind, err := load.ParseKind(o.client)
	if err != nil {
		return fmt.Errorf("-client: %w", err)
	}
	ops := load.AllOps()
	if o.ops != "all" {
		ops = strings.Split(o.ops, ",")
	}
	prefix := o.prefix
	if prefix == "" {
		prefix = "lg" + strconv.FormatInt(time.Now().UnixNano()/1e6, 36)
	}
	cc := load.ClientConfig{BaseURL: o.url, AccessKeyID: o.accessKey, SecretKey: o.secretKey, Region: o.region, MaxConns: o.clients}
	c, err := load.NewClient(kind, cc)
	if err != nil {
		return err
	}
	fx := load.Existing(prefix, o.things, o.groups)
	if o.setup {
		raw, err := load.NewRawClient(cc)
		if err != nil {
			return err
		}
		fmt.Printf("setup: %d groups, %d things under prefix %s ...\n", o.groups, o.things, prefix)
		fx, err = load.Setup(ctx, raw, load.SetupConfig{Prefix: prefix, Things: o.things, Groups: o.groups, Clients: o.clients})
		if err != nil {
			return err
		}
		raw.CloseIdle()
		fmt.Printf("setup: done in %s\n", fx.Took.Round(time.Millisecond))
	}
	fmt.Printf("client: %s (-client %s)\n", kind.Label(), kind)
	var failed []string
	for _, name := range ops {
		op, err := load.NewOp(name, fx, prefix+"-create")
		if err != nil {
			return err
		}
		res, err := load.Run(ctx, c, op, load.RunConfig{Clients: o.clients, Duration: o.duration, Count: o.count})
		if err != nil {
			return err
		}
		fmt.Println(res)
		if res.FailRate() > o.maxFail {
			failed = append(failed, fmt.Sprintf("%s: %d of %d failed (%s); first: %q", name, res.Failed(), res.Total(), res.FailureSummary(), res.Samples))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("too many failed requests:\n  %s", strings.Join(failed, "\n  "))
	}
	return nil
}
