package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type latencies []time.Duration

// pct is the exact nearest-rank percentile.
func (l latencies) pct(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	k := int(p/100*float64(len(s))+0.999999) - 1
	return s[max(0, min(k, len(s)-1))]
}

type queryResult struct {
	op, query, detail string
	lat               latencies
	failed            int
	err               string
}

type queryCase struct {
	op, path, query string
	body            map[string]any
}

// runQuery sends one query reps times in a row (one client, so each latency
// is the server's answer time alone), bounded by maxTime.
func runQuery(ctx context.Context, c *client, q queryCase, reps int, maxTime time.Duration) queryResult {
	r := queryResult{op: q.op, query: q.query}
	body, _ := json.Marshal(q.body)
	// Warm-up: one unmeasured call, also the one whose answer is summarised.
	b, _, err := c.ok(ctx, "iot", "POST", q.path, body)
	if err != nil {
		r.err = err.Error()
		return r
	}
	r.detail = summarise(b)
	end := time.Now().Add(maxTime)
	for n := 0; n < reps && time.Now().Before(end) && ctx.Err() == nil; n++ {
		_, lat, err := c.ok(ctx, "iot", "POST", q.path, body)
		if err != nil {
			r.failed++
			if r.err == "" {
				r.err = err.Error()
			}
			continue
		}
		r.lat = append(r.lat, lat)
	}
	return r
}

func summarise(b []byte) string {
	var v struct {
		NextToken  string            `json:"nextToken"`
		Things     []json.RawMessage `json:"things"`
		Statistics *struct {
			Count   int      `json:"count"`
			Average *float64 `json:"average"`
		} `json:"statistics"`
		Percentiles []struct {
			Percent float64 `json:"percent"`
			Value   float64 `json:"value"`
		} `json:"percentiles"`
	}
	if json.Unmarshal(b, &v) != nil {
		return ""
	}
	switch {
	case v.Statistics != nil:
		s := fmt.Sprintf("count %d", v.Statistics.Count)
		if v.Statistics.Average != nil {
			s += fmt.Sprintf(", avg %.2f", *v.Statistics.Average)
		}
		return s
	case v.Percentiles != nil:
		var parts []string
		for _, p := range v.Percentiles {
			parts = append(parts, fmt.Sprintf("p%g=%g", p.Percent, p.Value))
		}
		return strings.Join(parts, " ")
	}
	s := fmt.Sprintf("%d things on page 1", len(v.Things))
	if v.NextToken != "" {
		s += ", more"
	}
	return s
}

// thingGroups lists a thing's groups (one page of up to 25; a thing is in
// at most 10).
func thingGroups(ctx context.Context, c *client, name string) (map[string]bool, error) {
	b, _, err := c.ok(ctx, "iot", "GET", "/things/"+name+"/thing-groups?maxResults=25", nil)
	if err != nil {
		return nil, err
	}
	var v struct {
		ThingGroups []struct {
			GroupName string `json:"groupName"`
		} `json:"thingGroups"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	m := map[string]bool{}
	for _, g := range v.ThingGroups {
		m[g.GroupName] = true
	}
	return m, nil
}

// expectedGroups is every group thing i should be in now.
func expectedGroups(s thingState, groups []dynGroup) map[string]bool {
	m := map[string]bool{}
	for _, k := range staticGroups(s.i) {
		m[staticGroup(k)] = true
	}
	for _, g := range groups {
		if g.match(s) {
			m[g.name] = true
		}
	}
	return m
}

// fleetState is the current location and battery of every thing, changed
// by the membership phases; thing i is only touched by loop i % loops.
type fleetState struct {
	loc, battery []int8
}

func newFleetState(n int) *fleetState {
	f := &fleetState{loc: make([]int8, n), battery: make([]int8, n)}
	for i := range n {
		f.loc[i], f.battery[i] = int8(locIdx(i)), int8(battery(i))
	}
	return f
}

func (f *fleetState) state(i int) thingState {
	return thingState{i: i, loc: int(f.loc[i]), temp: tempTenths(i), battery: int(f.battery[i])}
}

type updateResult struct {
	kind       string // UpdateThing or UpdateThingShadow
	probe      bool
	updates    int64
	failed     int64
	wall       time.Duration
	updLat     latencies
	visible    latencies
	timeouts   int64
	polls      int64
	firstError string
}

// runUpdates runs loops concurrent clients for d. Each loop updates its own
// things (i ≡ loop mod loops) in turn: UpdateThing moves the thing to the next
// location (so it leaves one dyn-loc-*-fw-* group and joins another);
// UpdateThingShadow moves battery across 20 (dyn-battery-low). With probe,
// after each update the loop polls ListThingGroupsForThing until the
// membership shows the change (or visTimeout) and records the time from the
// update's answer to the answer that showed it.
func runUpdates(ctx context.Context, c *client, fs *fleetState, kind string, n, loops int, d time.Duration, probe bool, visTimeout time.Duration) *updateResult {
	res := &updateResult{kind: kind, probe: probe}
	var mu sync.Mutex
	var updates, failed, timeouts, polls atomic.Int64
	pool := min(n, loops*2000) // things used: the first pool things
	start := time.Now()
	end := start.Add(d)
	var wg sync.WaitGroup
	for l := range loops {
		wg.Go(func() {
			var upd, vis latencies
			for k := 0; time.Now().Before(end) && ctx.Err() == nil; k++ {
				i := l + loops*(k%max(1, pool/loops))
				if i >= n {
					break
				}
				name := thingName(i)
				var method, path, service, want, gone string
				var body []byte
				switch kind {
				case "UpdateThing":
					old := int(fs.loc[i])
					nl := (old + 1) % 10
					method, path, service = "PATCH", "/things/"+name, "iot"
					body = fmt.Appendf(nil, `{"attributePayload":{"attributes":{"location":%q},"merge":true}}`, location(nl))
					want, gone = locGroup(nl, i), locGroup(old, i)
					fs.loc[i] = int8(nl)
				default:
					nb := 80
					if fs.battery[i] >= 20 {
						nb = 5
					}
					method, path, service = "POST", "/things/"+name+"/shadow", "iotdata"
					body = fmt.Appendf(nil, `{"state":{"reported":{"battery":%d}}}`, nb)
					if nb < 20 {
						want = "dyn-battery-low"
					} else {
						gone = "dyn-battery-low"
					}
					fs.battery[i] = int8(nb)
				}
				_, lat, err := c.ok(ctx, service, method, path, body)
				answered := time.Now()
				if err != nil {
					failed.Add(1)
					mu.Lock()
					if res.firstError == "" && ctx.Err() == nil {
						res.firstError = err.Error()
					}
					mu.Unlock()
					continue
				}
				updates.Add(1)
				upd = append(upd, lat)
				if !probe {
					continue
				}
				for {
					gs, err := thingGroups(ctx, c, name)
					polls.Add(1)
					if err == nil && (want == "" || gs[want]) && (gone == "" || !gs[gone]) {
						vis = append(vis, time.Since(answered))
						break
					}
					if time.Since(answered) > visTimeout || ctx.Err() != nil {
						timeouts.Add(1)
						break
					}
				}
			}
			mu.Lock()
			res.updLat = append(res.updLat, upd...)
			res.visible = append(res.visible, vis...)
			mu.Unlock()
		})
	}
	wg.Wait()
	res.wall = time.Since(start)
	res.updates, res.failed, res.timeouts, res.polls = updates.Load(), failed.Load(), timeouts.Load(), polls.Load()
	return res
}

func (r *updateResult) rate() float64 { return float64(r.updates) / r.wall.Seconds() }
