package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/iotdm/iotdm/bench/load"
)

// key names one cell of the results: a client kind, a server and an
// operation.
type key struct {
	kind       load.Kind
	server, op string
}

// measurements holds every round's result per cell, and the runs that
// failed too often.
type measurements struct {
	rounds   map[key][]*load.Result
	failures []string
}

// setupAll registers each target's groups and things, with the raw client.
func setupAll(ctx context.Context, cfg config, targets []*target) error {
	for _, t := range targets {
		fmt.Fprintf(os.Stderr, "setup %s: %d groups, %d things ...\n", t.name, cfg.groups, t.things)
		fx, err := load.Setup(ctx, t.raw, load.SetupConfig{
			Prefix: "setup", Things: t.things, Groups: cfg.groups, Clients: cfg.clients,
		})
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		t.raw.CloseIdle()
		t.fixture = fx
		fmt.Fprintf(os.Stderr, "setup %s: done in %s\n", t.name, fx.Took.Round(time.Millisecond))
	}
	return nil
}

// runOrder is the order operations are run within a round and client kind:
// CreateThing last, so that the reads of the first round's first kind see
// exactly the setup's things.
func runOrder(ops []string) []string {
	out := slices.Clone(ops)
	slices.SortStableFunc(out, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == load.OpCreateThing:
			return 1
		case b == load.OpCreateThing:
			return -1
		}
		return 0
	})
	return out
}

// measure runs every round: for each client kind, for each operation, each
// target in turn, so the servers of one operation are measured side by side.
func measure(ctx context.Context, cfg config, targets []*target) (*measurements, error) {
	m := &measurements{rounds: map[key][]*load.Result{}}
	for round := 1; round <= cfg.rounds; round++ {
		for _, kind := range cfg.kinds {
			for _, opName := range runOrder(cfg.ops) {
				for _, t := range targets {
					res, err := measureOne(ctx, cfg, t, kind, opName, round)
					if err != nil {
						return nil, err
					}
					fmt.Fprintf(os.Stderr, "round %d/%d %-3s %-7s %s\n", round, cfg.rounds, kind, t.name, res)
					k := key{kind, t.name, opName}
					m.rounds[k] = append(m.rounds[k], res)
					if res.FailRate() > cfg.maxFail {
						msg := fmt.Sprintf("round %d, %s client, %s %s: %d of %d requests failed (%s); first: %q",
							round, kind, t.name, opName, res.Failed(), res.Total(), res.FailureSummary(), res.Samples)
						fmt.Fprintln(os.Stderr, "FAIL:", msg)
						m.failures = append(m.failures, msg)
					}
				}
			}
		}
	}
	return m, nil
}

// measureOne warms up, then measures one operation against one target
// through one client kind.
func measureOne(ctx context.Context, cfg config, t *target, kind load.Kind, opName string, round int) (*load.Result, error) {
	c := t.clients[kind]
	defer c.CloseIdle()
	if cfg.warmup > 0 {
		warm, err := load.NewOp(opName, t.fixture, fmt.Sprintf("r%d-%s-warm", round, kind))
		if err != nil {
			return nil, err
		}
		res, err := load.Run(ctx, c, warm, load.RunConfig{Clients: cfg.clients, Duration: cfg.warmup})
		if err != nil {
			return nil, fmt.Errorf("warm up %s: %w", t.name, err)
		}
		if opName == load.OpCreateThing {
			t.created += res.OK
		}
	}
	op, err := load.NewOp(opName, t.fixture, fmt.Sprintf("r%d-%s-create", round, kind))
	if err != nil {
		return nil, err
	}
	res, err := load.Run(ctx, c, op, load.RunConfig{Clients: cfg.clients, Duration: cfg.duration})
	if err != nil {
		return nil, fmt.Errorf("measure %s: %w", t.name, err)
	}
	if opName == load.OpCreateThing {
		t.created += res.OK
	}
	if t.proc.Exited() {
		return nil, fmt.Errorf("%s exited during %s (%v); log tail:\n%s", t.name, opName, t.proc.WaitErr(), t.proc.LogTail(2000))
	}
	return res, nil
}
