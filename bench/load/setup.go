package load

import (
	"context"
	"fmt"
	"time"
)

// SetupConfig says what the setup phase registers before the measured runs.
type SetupConfig struct {
	Prefix      string        // thing names are Prefix-0 .. Prefix-(Things-1)
	Things      int           // things to register
	Groups      int           // thing groups to create
	Clients     int           // concurrent clients registering things
	MaxDuration time.Duration // bound on the whole registration; default 30m
}

// Fixture is what the setup phase registered.
type Fixture struct {
	Things []string
	Groups []string
	Took   time.Duration
}

// Setup creates cfg.Groups thing groups and registers cfg.Things things on
// the server behind c. Every request must succeed.
func Setup(ctx context.Context, c Client, cfg SetupConfig) (*Fixture, error) {
	start := time.Now()
	fx := &Fixture{}
	loop := c.NewLoop()
	for i := range cfg.Groups {
		name := GroupName(cfg.Prefix, i)
		resp, err := loop.Do(ctx, CreateThingGroup(name))
		if err != nil {
			return nil, fmt.Errorf("setup: create thing group: %w", err)
		}
		if resp.Status/100 != 2 {
			return nil, fmt.Errorf("setup: create thing group %s: HTTP %d: %s", name, resp.Status, resp.Body)
		}
		fx.Groups = append(fx.Groups, name)
	}
	if cfg.Things > 0 {
		limit := cfg.MaxDuration
		if limit <= 0 {
			limit = 30 * time.Minute
		}
		prefix := setupThingPrefix(cfg.Prefix)
		res, err := Run(ctx, c, CreateThing(prefix), RunConfig{Clients: cfg.Clients, Count: int64(cfg.Things), Duration: limit})
		if err != nil {
			return nil, fmt.Errorf("setup: register things: %w", err)
		}
		if res.OK != int64(cfg.Things) {
			return nil, fmt.Errorf("setup: registered %d of %d things in %s (%s); first failures: %q",
				res.OK, cfg.Things, res.Elapsed.Round(time.Millisecond), res.FailureSummary(), res.Samples)
		}
		fx.Things = Existing(cfg.Prefix, cfg.Things, 0).Things
	}
	fx.Took = time.Since(start)
	return fx, nil
}

// GroupName is the name of the i-th thing group made by a setup under prefix.
func GroupName(prefix string, i int) string { return fmt.Sprintf("%s-group-%d", prefix, i) }

func setupThingPrefix(prefix string) string { return prefix + "-thing" }

// Existing names the fixture that an earlier Setup under prefix registered,
// without sending anything.
func Existing(prefix string, things, groups int) *Fixture {
	fx := &Fixture{}
	for i := range things {
		fx.Things = append(fx.Things, ThingName(setupThingPrefix(prefix), int64(i)))
	}
	for i := range groups {
		fx.Groups = append(fx.Groups, GroupName(prefix, i))
	}
	return fx
}
