package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/shadow"
	"github.com/iotdm/iotdm/internal/sqlite"
)

const (
	region    = "us-east-1"
	accountID = "123456789012" // cmd/iotdm's default account
	numTypes  = 4
	numStatic = 8 // static groups; every thing is in two of them
)

func arn(resource, name string) string {
	return "arn:aws:iot:" + region + ":" + accountID + ":" + resource + "/" + name
}

// fleet describes thing i of the generated fleet. Everything is a pure
// function of i, so the measuring phases know each thing's fields.
type fleet struct{ n int }

func thingName(i int) string { return fmt.Sprintf("thing-%07d", i) }

func mix(i int) uint64 {
	x := uint64(i)*0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019
	x ^= x >> 31
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 29
	return x
}

func locIdx(i int) int   { return i % 10 }
func fwIdx(i int) int    { return (i / 10) % 5 }
func modelIdx(i int) int { return (i / 50) % 5 }
func floorOf(i int) int  { return (i/7)%20 + 1 }
func typeIdx(i int) int  { return i % numTypes }

func location(l int) string { return "Building-" + string(rune('A'+l)) }
func firmware(f int) string { return fmt.Sprintf("1.%d.0", f) }
func model(i int) string {
	return fmt.Sprintf("m%d-%s", modelIdx(i)+1, []string{"lite", "pro", "max"}[(i/250)%3])
}
func serial(i int) string      { return fmt.Sprintf("SN%08X", uint32(i)*2654435761) }
func typeName(t int) string    { return fmt.Sprintf("sensor-t%d", t) }
func tempTenths(i int) int     { return 150 + int(mix(i)%151) } // 15.0 .. 30.0
func battery(i int) int        { return int((mix(i) >> 20) % 101) }
func staticGroup(k int) string { return fmt.Sprintf("fleet-s%d", k) }
func staticGroups(i int) [2]int {
	a := i % numStatic
	return [2]int{a, (a + 1 + (i/numStatic)%(numStatic-1)) % numStatic}
}

func attrs(i int, loc int) map[string]string {
	return map[string]string{
		"location": location(loc),
		"firmware": firmware(fwIdx(i)),
		"floor":    fmt.Sprint(floorOf(i)),
		"model":    model(i),
		"serial":   serial(i),
	}
}

// thingState is what a dynamic group query looks at.
type thingState struct {
	i, loc, temp, battery int
}

// dynGroup is one dynamic thing group: its query and the same predicate in Go.
type dynGroup struct {
	name, query string
	match       func(s thingState) bool
}

// dynamicGroups returns the first n of 100 dynamic groups, built so that no
// thing matches more than 7 of them (with its 2 static groups it stays under
// AWS's 10 groups per thing).
func dynamicGroups(n int) []dynGroup {
	var gs []dynGroup
	gs = append(gs, dynGroup{"dyn-battery-low", "shadow.reported.battery<20",
		func(s thingState) bool { return s.battery < 20 }})
	for m := range 5 {
		gs = append(gs, dynGroup{fmt.Sprintf("dyn-model-m%d", m+1), fmt.Sprintf("attributes.model:m%d*", m+1),
			func(s thingState) bool { return modelIdx(s.i) == m }})
	}
	for l := range 10 {
		for f := range 5 {
			gs = append(gs, dynGroup{fmt.Sprintf("dyn-loc-%c-fw-%d", 'A'+l, f),
				fmt.Sprintf("attributes.location:%s AND attributes.firmware:%s", location(l), firmware(f)),
				func(s thingState) bool { return s.loc == l && fwIdx(s.i) == f }})
		}
	}
	for k := range 10 {
		lo, hi := 150+15*k, 150+15*k+14
		if k == 9 {
			hi = 300
		}
		gs = append(gs, dynGroup{fmt.Sprintf("dyn-temp-%d", k),
			fmt.Sprintf("shadow.reported.temperature:[%d.%d TO %d.%d]", lo/10, lo%10, hi/10, hi%10),
			func(s thingState) bool { return s.temp >= lo && s.temp <= hi }})
	}
	for fl := 1; fl <= 20; fl++ {
		gs = append(gs, dynGroup{fmt.Sprintf("dyn-floor-%d", fl), fmt.Sprintf("attributes.floor:%d", fl),
			func(s thingState) bool { return floorOf(s.i) == fl }})
	}
	for l := range 10 {
		gs = append(gs, dynGroup{fmt.Sprintf("dyn-hot-%c", 'A'+l),
			fmt.Sprintf("attributes.location:%s AND shadow.reported.temperature>28", location(l)),
			func(s thingState) bool { return s.loc == l && s.temp > 280 }})
	}
	for t := range numTypes {
		gs = append(gs, dynGroup{fmt.Sprintf("dyn-type-%d", t), "thingTypeName:" + typeName(t),
			func(s thingState) bool { return typeIdx(s.i) == t }})
	}
	if n < len(gs) {
		gs = gs[:n]
	}
	return gs
}

func locGroup(loc, i int) string { return fmt.Sprintf("dyn-loc-%c-fw-%d", 'A'+loc, fwIdx(i)) }

type genStats struct {
	things, shadows, staticMembers, dynamicMembers, entities int
	took                                                     time.Duration
}

// generate writes the fleet into a fresh SQLite store at path, below the
// API, with the entities the services would have written.
func generate(ctx context.Context, path string, n int, groups []dynGroup) (genStats, error) {
	var st genStats
	start := time.Now()
	db, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		return st, err
	}
	defer db.Close()
	now := iotdm.Now()

	// Account-level entities: indexing configuration with the numeric
	// shadow fields as custom fields (needed for aggregations), thing
	// types, static and dynamic groups.
	err = db.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		cfg := iotdm.DefaultIndexingConfiguration()
		cfg.ThingIndexingConfiguration.CustomFields = append(cfg.ThingIndexingConfiguration.CustomFields,
			iotdm.Field{Name: "shadow.reported.temperature", Type: "Number"},
			iotdm.Field{Name: "shadow.reported.battery", Type: "Number"})
		if err := putJSON(ctx, tx, iotdm.KindIndexingConfig, iotdm.IndexingConfigKey, cfg); err != nil {
			return err
		}
		for t := range numTypes {
			tt := iotdm.ThingType{ThingTypeName: typeName(t), ThingTypeID: uuid.NewString(), ThingTypeARN: arn("thingtype", typeName(t)),
				ThingTypeProperties: iotdm.ThingTypeProperties{ThingTypeDescription: "bench sensor",
					SearchableAttributes: []string{"location", "firmware", "model"}},
				ThingTypeMetadata: iotdm.ThingTypeMetadata{CreationDate: now}}
			if err := putJSON(ctx, tx, iotdm.KindThingType, tt.ThingTypeName, tt); err != nil {
				return err
			}
		}
		for k := range numStatic {
			g := iotdm.ThingGroup{ThingGroupName: staticGroup(k), ThingGroupID: uuid.NewString(), ThingGroupARN: arn("thinggroup", staticGroup(k)),
				Version: 1, ThingGroupMetadata: iotdm.ThingGroupMetadata{CreationDate: now}}
			if err := putJSON(ctx, tx, iotdm.KindThingGroup, g.ThingGroupName, g); err != nil {
				return err
			}
		}
		for _, d := range groups {
			g := iotdm.ThingGroup{ThingGroupName: d.name, ThingGroupID: uuid.NewString(), ThingGroupARN: arn("thinggroup", d.name),
				Version: 1, ThingGroupMetadata: iotdm.ThingGroupMetadata{CreationDate: now},
				IndexName: iotdm.IndexThings, QueryString: d.query, QueryVersion: iotdm.QueryVersion, Status: iotdm.DynamicGroupActive}
			if err := putJSON(ctx, tx, iotdm.KindThingGroup, g.ThingGroupName, g); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("account entities: %w", err)
	}

	// Things in batches of 250 (about 1,000+ puts per Update), 4 Updates in
	// flight so that the store's group commit overlaps them.
	const perUpdate = 250
	type batch struct{ from, to int }
	work := make(chan batch)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for b := range work {
				var s genStats
				err := db.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
					s = genStats{}
					for i := b.from; i < b.to; i++ {
						n, err := putThing(ctx, tx, i, groups, now)
						if err != nil {
							return err
						}
						s.things++
						s.shadows++
						s.staticMembers += 2
						s.dynamicMembers += n
					}
					return nil
				})
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				st.things += s.things
				st.shadows += s.shadows
				st.staticMembers += s.staticMembers
				st.dynamicMembers += s.dynamicMembers
				mu.Unlock()
			}
		})
	}
	for from := 0; from < n; from += perUpdate {
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed || ctx.Err() != nil {
			break
		}
		work <- batch{from, min(from+perUpdate, n)}
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return st, firstErr
	}
	if err := ctx.Err(); err != nil {
		return st, err
	}
	if err := db.Close(); err != nil {
		return st, err
	}
	st.entities = 1 + numTypes + numStatic + len(groups) + st.things + st.shadows + 2*st.staticMembers
	st.took = time.Since(start)
	return st, nil
}

func putJSON(ctx context.Context, tx iotdm.Tx, kind, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Put(ctx, kind, key, b)
}

// putThing writes thing i, its classic shadow and its static memberships,
// and returns how many dynamic groups it should be in (derived by the
// server's fleet index, never stored).
func putThing(ctx context.Context, tx iotdm.Tx, i int, groups []dynGroup, now iotdm.Timestamp) (int, error) {
	name := thingName(i)
	th := iotdm.Thing{ThingName: name, ThingID: uuid.NewString(), ThingARN: arn("thing", name), ThingTypeName: typeName(typeIdx(i)),
		Attributes: attrs(i, locIdx(i)), Version: 1, CreationDate: now}
	if err := putJSON(ctx, tx, iotdm.KindThing, name, th); err != nil {
		return 0, err
	}
	ts := json.Number(fmt.Sprint(now.Unix()))
	temp, batt := tempTenths(i), battery(i)
	sh := shadow.State{
		Reported: map[string]any{
			"temperature": json.Number(fmt.Sprintf("%d.%d", temp/10, temp%10)),
			"battery":     json.Number(fmt.Sprint(batt)),
		},
		ReportedMetadata: map[string]any{
			"temperature": map[string]any{"timestamp": ts},
			"battery":     map[string]any{"timestamp": ts},
		},
		Version:   1,
		Timestamp: now.Time,
	}
	if err := putJSON(ctx, tx, iotdm.KindShadow, iotdm.ShadowKey(name, ""), sh); err != nil {
		return 0, err
	}
	for _, k := range staticGroups(i) {
		if err := putMembership(ctx, tx, iotdm.Membership{ThingGroupName: staticGroup(k), ThingName: name, AddedAt: now}); err != nil {
			return 0, err
		}
	}
	s := thingState{i: i, loc: locIdx(i), temp: temp, battery: batt}
	n := 0
	for _, g := range groups {
		if g.match(s) {
			n++
		}
	}
	return n, nil
}

// putMembership is internal/control's addMembership: both directions.
func putMembership(ctx context.Context, tx iotdm.Tx, m iotdm.Membership) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := tx.Put(ctx, iotdm.KindGroupMember, m.ThingGroupName+"/"+m.ThingName, b); err != nil {
		return err
	}
	return tx.Put(ctx, iotdm.KindThingMembership, m.ThingName+"/"+m.ThingGroupName, b)
}
