package fleetindex

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/google/go-cmp/cmp"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/query"
	"github.com/iotdm/iotdm/internal/shadow"
	"github.com/iotdm/iotdm/internal/sqlite"
)

// The feeder tests write entities the way the registry and the shadow
// service do (same kinds, keys and values) into a real SQLite store.

func openTestStore(t *testing.T, dir string) *sqlite.DB {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "iotdm.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Registered before any feeder's cleanup, so it runs after them.
	t.Cleanup(func() { st.Close() })
	return st
}

// runFeeder starts a feeder on st and waits for its initial build; the
// returned stop cancels it and waits for Run to return.
func runFeeder(t *testing.T, st iotdm.Store, opts ...FeederOptions) (*Feeder, func()) {
	t.Helper()
	var o FeederOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	f := NewFeeder(st, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	select {
	case <-f.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("feeder stopped before ready: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("feeder not ready after 10s")
	}
	var stopped bool
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("feeder Run: %v", err)
		}
	}
	t.Cleanup(stop)
	return f, stop
}

// catchUp waits until the feeder has applied every committed change.
func catchUp(t *testing.T, f *Feeder, st iotdm.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	seq, err := st.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.WaitFor(ctx, seq); err != nil {
		t.Fatalf("WaitFor(%d): %v (applied %d)", seq, err, f.Applied())
	}
}

func update(t *testing.T, st iotdm.Store, fn func(ctx context.Context, tx iotdm.Tx) error) {
	t.Helper()
	if err := st.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func putJSON(ctx context.Context, tx iotdm.Tx, kind, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Put(ctx, kind, key, b)
}

func putThing(t *testing.T, st iotdm.Store, name, typ string, attrs map[string]string) {
	t.Helper()
	if attrs == nil {
		attrs = map[string]string{}
	}
	update(t, st, func(ctx context.Context, tx iotdm.Tx) error {
		return putJSON(ctx, tx, iotdm.KindThing, name, iotdm.Thing{
			ThingName: name, ThingID: "id-" + name, ThingARN: "arn:aws:iot:us-east-1:123456789012:thing/" + name,
			ThingTypeName: typ, Attributes: attrs, Version: 1, CreationDate: iotdm.Now(),
		})
	})
}

var groupClock = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func putGroup(t *testing.T, st iotdm.Store, g iotdm.ThingGroup) {
	t.Helper()
	if g.ThingGroupID == "" {
		g.ThingGroupID = "gid-" + g.ThingGroupName
	}
	if g.ThingGroupMetadata.CreationDate.IsZero() {
		groupClock = groupClock.Add(time.Second)
		g.ThingGroupMetadata.CreationDate = iotdm.Timestamp{Time: groupClock}
	}
	g.ThingGroupARN = "arn:aws:iot:us-east-1:123456789012:thinggroup/" + g.ThingGroupName
	update(t, st, func(ctx context.Context, tx iotdm.Tx) error {
		return putJSON(ctx, tx, iotdm.KindThingGroup, g.ThingGroupName, g)
	})
}

func putDynamicGroup(t *testing.T, st iotdm.Store, name, q string) {
	t.Helper()
	putGroup(t, st, iotdm.ThingGroup{ThingGroupName: name, IndexName: iotdm.IndexThings, QueryString: q,
		QueryVersion: iotdm.QueryVersion, Status: iotdm.DynamicGroupActive, Version: 1})
}

// deleteDynamicGroup deletes a group and its memberships, as the registry does.
func deleteGroup(t *testing.T, st iotdm.Store, name string) {
	t.Helper()
	update(t, st, func(ctx context.Context, tx iotdm.Tx) error {
		var things []string
		err := tx.Scan(ctx, iotdm.KindGroupMember, name+"/", "", 0, func(key string, _ []byte) error {
			things = append(things, strings.TrimPrefix(key, name+"/"))
			return nil
		})
		if err != nil {
			return err
		}
		for _, th := range things {
			if err := tx.Delete(ctx, iotdm.KindGroupMember, name+"/"+th); err != nil {
				return err
			}
			if err := tx.Delete(ctx, iotdm.KindThingMembership, th+"/"+name); err != nil {
				return err
			}
		}
		return tx.Delete(ctx, iotdm.KindThingGroup, name)
	})
}

func addStatic(t *testing.T, st iotdm.Store, group, thing string) {
	t.Helper()
	m := iotdm.Membership{ThingGroupName: group, ThingName: thing, AddedAt: iotdm.Now()}
	update(t, st, func(ctx context.Context, tx iotdm.Tx) error {
		if err := putJSON(ctx, tx, iotdm.KindGroupMember, group+"/"+thing, m); err != nil {
			return err
		}
		return putJSON(ctx, tx, iotdm.KindThingMembership, thing+"/"+group, m)
	})
}

func removeStatic(t *testing.T, st iotdm.Store, group, thing string) {
	t.Helper()
	update(t, st, func(ctx context.Context, tx iotdm.Tx) error {
		if err := tx.Delete(ctx, iotdm.KindGroupMember, group+"/"+thing); err != nil {
			return err
		}
		return tx.Delete(ctx, iotdm.KindThingMembership, thing+"/"+group)
	})
}

// updateShadow merges request into a shadow, as UpdateThingShadow does.
func updateShadow(t *testing.T, st iotdm.Store, thing, name, request string) {
	t.Helper()
	update(t, st, func(ctx context.Context, tx iotdm.Tx) error {
		key := iotdm.ShadowKey(thing, name)
		var cur *shadow.State
		if v, ok, err := tx.Get(ctx, iotdm.KindShadow, key); err != nil {
			return err
		} else if ok {
			cur = new(shadow.State)
			if err := json.Unmarshal(v, cur); err != nil {
				return err
			}
		}
		res, err := shadow.Update(cur, []byte(request), time.Now())
		if err != nil {
			return err
		}
		return putJSON(ctx, tx, iotdm.KindShadow, key, res.State)
	})
}

func putConfig(t *testing.T, st iotdm.Store, cfg iotdm.IndexingConfiguration) {
	t.Helper()
	update(t, st, func(ctx context.Context, tx iotdm.Tx) error {
		return putJSON(ctx, tx, iotdm.KindIndexingConfig, iotdm.IndexingConfigKey, cfg)
	})
}

// groupsOf lists the groups a thing belongs to, by name, with "~"
// appended to dynamic ones: static ones from the store (checking that both
// directions agree and that no dynamic membership is stored), dynamic ones
// from the feeder.
func groupsOf(t *testing.T, f *Feeder, st iotdm.Store, thing string) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	err := st.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
		return tx.Scan(ctx, iotdm.KindThingMembership, thing+"/", "", 0, func(key string, v []byte) error {
			group := strings.TrimPrefix(key, thing+"/")
			var m iotdm.Membership
			if err := json.Unmarshal(v, &m); err != nil {
				return err
			}
			if m.ThingName != thing || m.ThingGroupName != group || m.Dynamic {
				t.Errorf("membership %s holds %+v", key, m)
			}
			other, ok, err := tx.Get(ctx, iotdm.KindGroupMember, group+"/"+thing)
			if err != nil {
				return err
			}
			if !ok || string(other) != string(v) {
				t.Errorf("groupmember %s/%s = %s, %v; want %s", group, thing, other, ok, v)
			}
			out = append(out, group)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range f.DynamicGroupsOf(thing) {
		out = append(out, g+"~")
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(strings.TrimSuffix(a, "~"), strings.TrimSuffix(b, "~")) })
	return out
}

func wantList(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

func docJSON(t *testing.T, doc map[string]any) string {
	t.Helper()
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFeederDocuments(t *testing.T) {
	st := openTestStore(t, t.TempDir())
	cfg := iotdm.DefaultIndexingConfiguration()
	cfg.ThingIndexingConfiguration.NamedShadowIndexingMode = iotdm.NamedShadowIndexingOn
	cfg.ThingIndexingConfiguration.Filter = &iotdm.IndexingFilter{NamedShadowNames: []string{"config"}}
	putConfig(t, st, cfg)
	putThing(t, st, "pump-1", "pump", map[string]string{"temp": "42", "site": "north"})
	putGroup(t, st, iotdm.ThingGroup{ThingGroupName: "plant"})
	putGroup(t, st, iotdm.ThingGroup{ThingGroupName: "line-a",
		ThingGroupProperties: iotdm.ThingGroupProperties{ThingGroupDescription: "line A",
			AttributePayload: &iotdm.AttributePayload{Attributes: map[string]string{"floor": "2"}}},
		ThingGroupMetadata: iotdm.ThingGroupMetadata{ParentGroupName: "plant",
			RootToParentThingGroups: []iotdm.GroupNameAndArn{{GroupName: "plant"}}}})
	addStatic(t, st, "line-a", "pump-1")
	addStatic(t, st, "plant", "pump-1")
	updateShadow(t, st, "pump-1", "", `{"state":{"desired":{"speed":3},"reported":{"speed":2,"mode":"auto"}}}`)
	updateShadow(t, st, "pump-1", "config", `{"state":{"reported":{"rate":5}}}`)
	updateShadow(t, st, "pump-1", "other", `{"state":{"reported":{"x":1}}}`)
	updateShadow(t, st, "ghost", "", `{"state":{"reported":{"x":1}}}`) // no registered thing (AWS §2.2)

	// Half the state before the feeder starts (snapshot), half after (feed).
	f, _ := runFeeder(t, st)
	putThing(t, st, "pump-2", "", nil)
	catchUp(t, f, st)

	doc, ok := f.Things().Get("pump-1")
	if !ok {
		t.Fatal("pump-1 not indexed")
	}
	if doc["thingName"] != "pump-1" || doc["thingId"] != "id-pump-1" || doc["thingTypeName"] != "pump" {
		t.Errorf("registry fields: %s", docJSON(t, doc))
	}
	if got := docJSON(t, map[string]any{"a": doc["attributes"], "g": doc["thingGroupNames"], "c": doc["connectivity"]}); got != `{"a":{"site":"north","temp":"42"},"c":{"connected":false},"g":["line-a","plant"]}` {
		t.Errorf("attributes/groups/connectivity: %s", got)
	}
	sh := doc["shadow"].(map[string]any)
	if got := docJSON(t, map[string]any{"r": sh["reported"], "d": sh["desired"], "delta": sh["delta"], "h": sh["hasDelta"], "v": sh["version"]}); got != `{"d":{"speed":3},"delta":{"speed":3},"h":true,"r":{"mode":"auto","speed":2},"v":1}` {
		t.Errorf("classic shadow: %s", got)
	}
	meta := sh["metadata"].(map[string]any)
	if _, ok := meta["desired"].(map[string]any)["speed"]; !ok {
		t.Errorf("metadata: %s", docJSON(t, meta))
	}
	names := sh["name"].(map[string]any)
	if len(names) != 1 || names["config"] == nil {
		t.Errorf("named shadows: %s (want only the filtered one)", docJSON(t, names))
	}
	if _, ok := f.Things().Get("ghost"); ok {
		t.Error("a shadow without a registered thing is indexed")
	}
	if _, ok := f.Things().Get("pump-2"); !ok {
		t.Error("pump-2 (created after the build) not indexed")
	}

	// Searches answer over these documents.
	for q, want := range map[string][]string{
		"shadow.reported.speed:2":            {"pump-1"},
		"shadow.hasDelta:true":               {"pump-1"},
		"shadow.name.config.reported.rate:5": {"pump-1"},
		"shadow.name.other.reported.x:1":     nil,
		"thingGroupNames:plant":              {"pump-1"},
		"attributes.temp>40":                 {"pump-1"},
		"thingName:pump*":                    {"pump-1", "pump-2"},
	} {
		expr, err := parseThings(q)
		if err != nil {
			t.Fatal(err)
		}
		got := f.Things().Search(expr)
		slices.Sort(got)
		wantList(t, q, got, want...)
	}

	g, ok := f.Groups().Get("line-a")
	if !ok {
		t.Fatal("line-a not in the group index")
	}
	if got := docJSON(t, g); got != `{"attributes":{"floor":"2"},"parentGroupNames":["plant"],"thingGroupDescription":"line A","thingGroupId":"gid-line-a","thingGroupName":"line-a","version":0}` {
		t.Errorf("group document: %s", got)
	}

	// The registry registers ghost later: its shadow is indexed from then on.
	putThing(t, st, "ghost", "", nil)
	catchUp(t, f, st)
	if doc, ok := f.Things().Get("ghost"); !ok || doc["shadow"] == nil {
		t.Errorf("ghost after registration: %v %v", ok, doc)
	}
	// Deleting a shadow removes its fields; deleting the thing removes the document.
	update(t, st, func(ctx context.Context, tx iotdm.Tx) error {
		return tx.Delete(ctx, iotdm.KindShadow, iotdm.ShadowKey("pump-1", ""))
	})
	removeStatic(t, st, "plant", "pump-1")
	catchUp(t, f, st)
	doc, _ = f.Things().Get("pump-1")
	if sh := doc["shadow"].(map[string]any); sh["reported"] != nil || sh["name"] == nil {
		t.Errorf("after classic shadow delete: %s", docJSON(t, sh))
	}
	if got := docJSON(t, map[string]any{"g": doc["thingGroupNames"]}); got != `{"g":["line-a"]}` {
		t.Errorf("after static removal: %s", got)
	}
	update(t, st, func(ctx context.Context, tx iotdm.Tx) error { return tx.Delete(ctx, iotdm.KindThing, "pump-2") })
	catchUp(t, f, st)
	if _, ok := f.Things().Get("pump-2"); ok {
		t.Error("deleted thing still indexed")
	}
}

func TestFeederDynamicGroupAttributes(t *testing.T) {
	st := openTestStore(t, t.TempDir())
	putThing(t, st, "a", "", map[string]string{"temp": "70"})
	putThing(t, st, "b", "", map[string]string{"temp": "20"})
	putDynamicGroup(t, st, "hot", "attributes.temp > 50")
	addStatic(t, st, "static", "b")
	f, _ := runFeeder(t, st)
	catchUp(t, f, st)
	wantList(t, "hot members after build", f.DynamicMembers("hot"), "a")
	wantList(t, "groups of a", groupsOf(t, f, st, "a"), "hot~")

	start := time.Now()
	putThing(t, st, "b", "", map[string]string{"temp": "99"})
	catchUp(t, f, st)
	if d := time.Since(start); d > time.Second {
		t.Errorf("membership took %v", d)
	}
	wantList(t, "hot members", f.DynamicMembers("hot"), "a", "b")
	wantList(t, "groups of b", groupsOf(t, f, st, "b"), "hot~", "static")
	wantList(t, "index members", f.Things().Members("hot"), "a", "b")

	putThing(t, st, "a", "", map[string]string{"temp": "10"})
	catchUp(t, f, st)
	wantList(t, "hot members after a cools", f.DynamicMembers("hot"), "b")
	wantList(t, "groups of a", groupsOf(t, f, st, "a"))

	// A new group backfills; a query update re-evaluates; a thing created
	// matching joins at once.
	putDynamicGroup(t, st, "cold", "attributes.temp < 50")
	putThing(t, st, "c", "", map[string]string{"temp": "0"})
	catchUp(t, f, st)
	wantList(t, "cold members", f.DynamicMembers("cold"), "a", "c")
	putDynamicGroup(t, st, "cold", "attributes.temp < 5")
	catchUp(t, f, st)
	wantList(t, "cold members after query update", f.DynamicMembers("cold"), "c")

	// Deleting a thing (the registry drops its memberships) and deleting a
	// group (likewise) leave nothing behind.
	update(t, st, func(ctx context.Context, tx iotdm.Tx) error {
		for _, k := range []struct{ kind, key string }{{iotdm.KindGroupMember, "cold/c"}, {iotdm.KindThingMembership, "c/cold"}, {iotdm.KindThing, "c"}} {
			if err := tx.Delete(ctx, k.kind, k.key); err != nil {
				return err
			}
		}
		return nil
	})
	deleteGroup(t, st, "hot")
	catchUp(t, f, st)
	wantList(t, "cold members after delete", f.DynamicMembers("cold"))
	wantList(t, "groups of b after group delete", groupsOf(t, f, st, "b"), "static")
	if m := f.Things().Members("hot"); m != nil {
		t.Errorf("standing query of deleted group remains: %v", m)
	}
	// Nothing further is written once everything settled.
	seq, _ := st.LastSeq(context.Background())
	putThing(t, st, "b", "", map[string]string{"temp": "98"})
	catchUp(t, f, st)
	if now, _ := st.LastSeq(context.Background()); now != seq+1 {
		t.Errorf("feeder wrote %d changes for a change that moves no membership", now-seq-1)
	}
}

func TestFeederDynamicGroupShadow(t *testing.T) {
	st := openTestStore(t, t.TempDir())
	putThing(t, st, "dev", "", nil)
	putDynamicGroup(t, st, "lowbatt", "shadow.reported.battery < 20")
	putDynamicGroup(t, st, "drift", "shadow.hasDelta:true")
	f, _ := runFeeder(t, st)

	updateShadow(t, st, "dev", "", `{"state":{"reported":{"battery":10}}}`)
	catchUp(t, f, st)
	wantList(t, "groups", groupsOf(t, f, st, "dev"), "lowbatt~")

	updateShadow(t, st, "dev", "", `{"state":{"reported":{"battery":80},"desired":{"mode":"eco"}}}`)
	catchUp(t, f, st)
	wantList(t, "groups", groupsOf(t, f, st, "dev"), "drift~")

	updateShadow(t, st, "dev", "", `{"state":{"reported":{"mode":"eco"}}}`)
	catchUp(t, f, st)
	wantList(t, "groups", groupsOf(t, f, st, "dev"))

	// A shadow of an unregistered name never makes a member.
	updateShadow(t, st, "nobody", "", `{"state":{"reported":{"battery":1}}}`)
	catchUp(t, f, st)
	wantList(t, "lowbatt", f.DynamicMembers("lowbatt"))
}

func TestFeederRestartRebuild(t *testing.T) {
	dir := t.TempDir()
	st := openTestStore(t, dir)
	putThing(t, st, "a", "", map[string]string{"temp": "70"})
	putThing(t, st, "b", "", map[string]string{"temp": "20"})
	putDynamicGroup(t, st, "hot", "attributes.temp > 50")
	addStatic(t, st, "s", "a")
	updateShadow(t, st, "b", "", `{"state":{"reported":{"on":true}}}`)
	f, stop := runFeeder(t, st)
	putThing(t, st, "c", "", map[string]string{"temp": "90"})
	catchUp(t, f, st)
	live := map[string]string{}
	for _, n := range []string{"a", "b", "c"} {
		d, _ := f.Things().Get(n)
		live[n] = docJSON(t, d)
	}
	liveGroups := f.Groups().Len()
	stop()
	// Written while no feeder runs: caught up by the rebuild.
	putThing(t, st, "b", "", map[string]string{"temp": "80"})
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = openTestStore(t, dir)
	f2, _ := runFeeder(t, st)
	catchUp(t, f2, st)
	wantList(t, "hot after restart", f2.DynamicMembers("hot"), "a", "b", "c")
	for _, n := range []string{"a", "c"} {
		d, _ := f2.Things().Get(n)
		if got := docJSON(t, d); got != live[n] {
			t.Errorf("rebuilt %s = %s, live was %s", n, got, live[n])
		}
	}
	if f2.Groups().Len() != liveGroups {
		t.Errorf("groups index %d, live %d", f2.Groups().Len(), liveGroups)
	}

	// A second restart rewrites nothing: the stored memberships already
	// equal the index's.
	seq, _ := st.LastSeq(context.Background())
	f3, _ := runFeeder(t, st)
	catchUp(t, f3, st)
	if now, _ := st.LastSeq(context.Background()); now != seq {
		t.Errorf("rebuild wrote %d changes", now-seq)
	}
	for _, n := range []string{"a", "b", "c"} {
		d2, _ := f2.Things().Get(n)
		d3, _ := f3.Things().Get(n)
		if !reflect.DeepEqual(d2, d3) {
			t.Errorf("%s: %s vs %s", n, docJSON(t, d2), docJSON(t, d3))
		}
	}
}

func TestFeederGroupLimit(t *testing.T) {
	t.Run("per thing", func(t *testing.T) { testFeederGroupLimit(t, FeederOptions{}) })
	t.Run("bulk recount", func(t *testing.T) { testFeederGroupLimit(t, FeederOptions{BulkRecount: -1}) })
}

func testFeederGroupLimit(t *testing.T, opts FeederOptions) {
	st := openTestStore(t, t.TempDir())
	putThing(t, st, "t", "", map[string]string{"x": "1"})
	var static []string
	for i := range 9 {
		g := "s" + string(rune('0'+i))
		static = append(static, g)
		addStatic(t, st, g, "t")
	}
	putDynamicGroup(t, st, "d-old", "attributes.x:1")
	putDynamicGroup(t, st, "d-new", "attributes.x:1")
	f, _ := runFeeder(t, st, opts)
	catchUp(t, f, st)
	// Room for one: the older dynamic group wins.
	wantList(t, "groups", groupsOf(t, f, st, "t"), append([]string{"d-old~"}, static...)...)

	// At ten, a newly matching group does not get the thing (AWS §3).
	putDynamicGroup(t, st, "d-third", "attributes.x:*")
	catchUp(t, f, st)
	if got := groupsOf(t, f, st, "t"); len(got) != 10 || slices.Contains(got, "d-third~") || slices.Contains(got, "d-new~") {
		t.Errorf("at the limit: %q", got)
	}
	// Freeing a slot lets the oldest waiting group in.
	removeStatic(t, st, "s0", "t")
	catchUp(t, f, st)
	wantList(t, "groups after freeing a slot", groupsOf(t, f, st, "t"), append([]string{"d-new~", "d-old~"}, static[1:]...)...)
}

func TestFeederIndexingConfiguration(t *testing.T) {
	st := openTestStore(t, t.TempDir())
	putThing(t, st, "a", "", map[string]string{"k": "v"})
	updateShadow(t, st, "a", "", `{"state":{"reported":{"r":1}}}`)
	putGroup(t, st, iotdm.ThingGroup{ThingGroupName: "g"})
	cfg := iotdm.DefaultIndexingConfiguration()
	cfg.ThingIndexingConfiguration.ThingIndexingMode = iotdm.ThingIndexingRegistry
	cfg.ThingIndexingConfiguration.ThingConnectivityIndexingMode = iotdm.ConnectivityIndexingOff
	putConfig(t, st, cfg)
	f, _ := runFeeder(t, st)

	doc, ok := f.Things().Get("a")
	if !ok || doc["shadow"] != nil || doc["connectivity"] != nil || doc["attributes"] == nil {
		t.Errorf("REGISTRY: %v %s", ok, docJSON(t, doc))
	}

	cfg.ThingIndexingConfiguration.ThingIndexingMode = iotdm.ThingIndexingOff
	cfg.ThingGroupIndexingConfiguration.ThingGroupIndexingMode = iotdm.ThingGroupIndexingOff
	putConfig(t, st, cfg)
	catchUp(t, f, st)
	if f.Things().Len() != 0 || f.Groups().Len() != 0 {
		t.Errorf("OFF: %d things, %d groups indexed", f.Things().Len(), f.Groups().Len())
	}
	putThing(t, st, "b", "", nil)
	catchUp(t, f, st)
	if f.Things().Len() != 0 {
		t.Error("OFF: a new thing was indexed")
	}

	putConfig(t, st, iotdm.DefaultIndexingConfiguration())
	catchUp(t, f, st)
	doc, ok = f.Things().Get("a")
	if !ok || doc["shadow"] == nil || f.Things().Len() != 2 || f.Groups().Len() != 1 {
		t.Errorf("back on: %v %s, %d things, %d groups", ok, docJSON(t, doc), f.Things().Len(), f.Groups().Len())
	}
	// Removing the configuration entity means the default again.
	update(t, st, func(ctx context.Context, tx iotdm.Tx) error {
		return tx.Delete(ctx, iotdm.KindIndexingConfig, iotdm.IndexingConfigKey)
	})
	catchUp(t, f, st)
	if f.Things().Len() != 2 {
		t.Errorf("default config: %d things", f.Things().Len())
	}
}

func TestFeederWaitForStopped(t *testing.T) {
	st := openTestStore(t, t.TempDir())
	f, stop := runFeeder(t, st)
	stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := f.WaitFor(ctx, f.Applied()+1); !errors.Is(err, errStopped) {
		t.Errorf("WaitFor after stop: %v", err)
	}
}

func parseThings(q string) (query.Expr, error) { return query.Parse(q, query.Options{}) }

func TestFeederDropsStoredDynamicMemberships(t *testing.T) {
	st := openTestStore(t, t.TempDir())
	putThing(t, st, "a", "", map[string]string{"temp": "70"})
	putDynamicGroup(t, st, "hot", "attributes.temp > 50")
	addStatic(t, st, "s", "a")
	// What earlier versions stored for a dynamic membership.
	m := iotdm.Membership{ThingGroupName: "hot", ThingName: "a", Dynamic: true, AddedAt: iotdm.Now()}
	update(t, st, func(ctx context.Context, tx iotdm.Tx) error {
		if err := putJSON(ctx, tx, iotdm.KindGroupMember, "hot/a", m); err != nil {
			return err
		}
		return putJSON(ctx, tx, iotdm.KindThingMembership, "a/hot", m)
	})
	f, _ := runFeeder(t, st)
	catchUp(t, f, st)
	wantList(t, "groups of a", groupsOf(t, f, st, "a"), "hot~", "s")
	for _, k := range []struct{ kind, key string }{{iotdm.KindGroupMember, "hot/a"}, {iotdm.KindThingMembership, "a/hot"}} {
		if _, ok, err := st.Get(context.Background(), k.kind, k.key); err != nil || ok {
			t.Errorf("%s %s still stored (%v)", k.kind, k.key, err)
		}
	}
	if _, ok, _ := st.Get(context.Background(), iotdm.KindThingMembership, "a/s"); !ok {
		t.Error("the static membership was dropped too")
	}
}

func TestFeederDynamicGroupStatus(t *testing.T) {
	st := openTestStore(t, t.TempDir())
	f, _ := runFeeder(t, st)
	if got := f.DynamicGroupStatus("g", "attributes.x:1"); got != iotdm.DynamicGroupBuilding {
		t.Errorf("unknown group: %s", got)
	}
	putDynamicGroup(t, st, "g", "attributes.x:1")
	catchUp(t, f, st)
	if got := f.DynamicGroupStatus("g", "attributes.x:1"); got != iotdm.DynamicGroupActive {
		t.Errorf("applied: %s", got)
	}
	if got := f.DynamicGroupStatus("g", "attributes.x:2"); got != iotdm.DynamicGroupRebuilding {
		t.Errorf("newer query: %s", got)
	}
}

// A thing whose shadow and static group predate it gets them in its
// document when it is created.
func TestFeederThingAfterItsShadow(t *testing.T) {
	st := openTestStore(t, t.TempDir())
	putDynamicGroup(t, st, "low", "shadow.reported.battery < 20")
	f, _ := runFeeder(t, st)
	updateShadow(t, st, "late", "", `{"state":{"reported":{"battery":5}}}`)
	catchUp(t, f, st)
	if _, ok := f.Things().Get("late"); ok {
		t.Fatal("a shadow without a thing was indexed")
	}
	putThing(t, st, "late", "", nil)
	catchUp(t, f, st)
	wantList(t, "groups of late", groupsOf(t, f, st, "late"), "low~")
	update(t, st, func(ctx context.Context, tx iotdm.Tx) error {
		return tx.Delete(ctx, iotdm.KindThing, "late")
	})
	catchUp(t, f, st)
	wantList(t, "low after delete", f.DynamicMembers("low"))
}

// TestFeederMembershipHook: the hook hears each batch's net dynamic
// membership changes: a thing entering or leaving a query, a new group's
// backfill, a query update that keeps a member (nothing), a deleted group.
// The initial build reports nothing.
func TestFeederMembershipHook(t *testing.T) {
	st := openTestStore(t, t.TempDir())
	putThing(t, st, "a", "", map[string]string{"temp": "70"})
	putThing(t, st, "b", "", map[string]string{"temp": "20"})
	putDynamicGroup(t, st, "hot", "attributes.temp > 50")
	f, _ := runFeeder(t, st)
	var mu sync.Mutex
	var got []string
	f.SetMembershipHook(func(group, thing string, added bool) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, fmt.Sprintf("%s/%s/%v", group, thing, added))
	})
	take := func() []string {
		catchUp(t, f, st)
		mu.Lock()
		defer mu.Unlock()
		out := got
		got = nil
		slices.Sort(out)
		return out
	}
	wantList(t, "after build", take())
	putThing(t, st, "b", "", map[string]string{"temp": "99"})
	wantList(t, "b heats", take(), "hot/b/true")
	putThing(t, st, "a", "", map[string]string{"temp": "10"})
	wantList(t, "a cools", take(), "hot/a/false")
	putDynamicGroup(t, st, "warm", "attributes.temp > 5")
	wantList(t, "backfill", take(), "warm/a/true", "warm/b/true")
	putDynamicGroup(t, st, "warm", "attributes.temp > 15")
	wantList(t, "query update", take(), "warm/a/false")
	deleteGroup(t, st, "warm")
	wantList(t, "group deleted", take(), "warm/b/false")
	f.SetMembershipHook(nil)
	putThing(t, st, "a", "", map[string]string{"temp": "80"})
	wantList(t, "hook cleared", take())
}

func TestFeederCustomFieldFailures(t *testing.T) {
	st := openTestStore(t, t.TempDir())
	cfg := iotdm.DefaultIndexingConfiguration()
	cfg.ThingIndexingConfiguration.CustomFields = []iotdm.Field{{Name: "attributes.temp", Type: "Number"},
		{Name: "attributes.ok", Type: "Boolean"}, {Name: "shadow.reported.mode", Type: "String"}}
	putConfig(t, st, cfg)
	f, _ := runFeeder(t, st)
	var mu sync.Mutex
	got := map[string][]CustomFieldFailure{}
	f.SetCustomFieldHook(func(thing string, failures []CustomFieldFailure) {
		mu.Lock()
		defer mu.Unlock()
		got[thing] = failures
	})
	putThing(t, st, "good", "", map[string]string{"temp": "21.5", "ok": "true"})
	putThing(t, st, "bad", "", map[string]string{"temp": "hot", "ok": "yes"})
	updateShadow(t, st, "good", "", `{"state":{"reported":{"mode":7}}}`)
	catchUp(t, f, st)
	mu.Lock()
	defer mu.Unlock()
	want := map[string][]CustomFieldFailure{
		"bad":  {{Name: "attributes.temp", Value: "hot", ExpectedType: "Number"}, {Name: "attributes.ok", Value: "yes", ExpectedType: "Boolean"}},
		"good": {{Name: "shadow.reported.mode", Value: "7", ExpectedType: "String"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("custom field failures (-want +got):\n%s", diff)
	}
}
