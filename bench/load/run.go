package load

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// RunConfig bounds one measured run. At least one of Duration and Count must
// be set; with both, the run ends at whichever comes first.
type RunConfig struct {
	Clients  int           // concurrent clients, each a request loop; default 16
	Duration time.Duration // stop starting requests after this long
	Count    int64         // stop after this many requests in all
}

// maxSamples bounds the failure descriptions kept per run.
const maxSamples = 5

// Run makes op's calls through c from cfg.Clients concurrent loops, each with
// its own c.NewLoop(), until the run's bound is reached or ctx is cancelled,
// and returns what happened.
func Run(ctx context.Context, c Client, op Op, cfg RunConfig) (*Result, error) {
	if cfg.Duration <= 0 && cfg.Count <= 0 {
		return nil, errors.New("run: need a duration or a count")
	}
	clients := cfg.Clients
	if clients <= 0 {
		clients = 16
	}
	var issued atomic.Int64
	start := time.Now()
	deadline := time.Time{}
	if cfg.Duration > 0 {
		deadline = start.Add(cfg.Duration)
	}
	more := func() bool {
		if ctx.Err() != nil {
			return false
		}
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return false
		}
		return cfg.Count <= 0 || issued.Add(1) <= cfg.Count
	}

	parts := make([]*Result, clients)
	var wg sync.WaitGroup
	for i := range clients {
		part := newResult(op.Name, 1)
		parts[i] = part
		rng := rand.New(rand.NewPCG(uint64(start.UnixNano()), uint64(i)))
		loop := c.NewLoop()
		wg.Go(func() {
			for more() {
				resp, err := loop.Do(ctx, op.Next(rng))
				part.record(resp, err)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("run %s against %s (%s client): %w", op.Name, c.BaseURL(), c.Kind(), err)
	}
	res := mergeResults(op.Name, parts)
	res.Clients = clients
	res.Elapsed = elapsed
	return res, nil
}
