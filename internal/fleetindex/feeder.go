package fleetindex

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/query"
	"github.com/iotdm/iotdm/internal/shadow"
)

// maxGroupsPerThing is AWS's limit of groups per thing (AWS §3, §9.1);
// dynamic memberships count against it as static ones do.
const maxGroupsPerThing = 10

// feedBatch is how many changes the feeder reads from the feed at a time.
const feedBatch = 1024

// FeederOptions configures a Feeder.
type FeederOptions struct {
	Logger *slog.Logger
}

// Feeder keeps the fleet indices (AWS §2) and the dynamic thing group
// memberships (AWS §3) in step with a store: it builds them from a
// snapshot, then follows the change feed (DESIGN.md, "The change feed is
// the spine").
//
// It keeps the parts of every thing document in memory, so a change
// rebuilds one document without reading the store. Every dynamic group is a
// standing query on Things(); the memberships the index computes are written
// back to the store as Membership entities with Dynamic set, one
// Store.Update per applied batch of changes, skipping writes that would
// change nothing.
//
// Run is the only writer; Things, Groups, Ready, WaitFor and Applied are
// safe to call from any goroutine.
type Feeder struct {
	store iotdm.Store
	log   *slog.Logger

	things atomic.Pointer[Index]
	groups atomic.Pointer[Index]

	ready     chan struct{}
	readyOnce sync.Once
	done      chan struct{} // closed when Run returns
	doneOnce  sync.Once

	mu      sync.Mutex
	applied uint64
	advance chan struct{} // closed and replaced whenever applied grows

	// State owned by Run.
	cfg       iotdm.IndexingConfiguration
	parts     map[string]*thingParts // by thing name
	allGroups map[string]*iotdm.ThingGroup
	queries   map[string]string // dynamic group → its standing query string

	// Per batch.
	dirtyDocs   map[string]bool // things whose document must be rebuilt
	dirtyGroups map[string]bool // groups whose document or standing query must be refreshed
	reconcile   map[string]bool // things whose dynamic memberships must be reconciled
	rebuild     bool            // the indexing configuration changed
}

// NewFeeder returns a feeder of store; nothing happens before Run.
func NewFeeder(store iotdm.Store, opts FeederOptions) *Feeder {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Feeder{
		store:   store,
		log:     log.With("component", "fleetindex"),
		ready:   make(chan struct{}),
		done:    make(chan struct{}),
		advance: make(chan struct{}),
	}
	f.things.Store(New())
	f.groups.Store(New())
	return f
}

// Things returns the AWS_Things index. A change of the indexing
// configuration replaces the index, so callers fetch it for each query
// rather than keeping it.
func (f *Feeder) Things() *Index { return f.things.Load() }

// Groups returns the AWS_ThingGroups index (see Things).
func (f *Feeder) Groups() *Index { return f.groups.Load() }

// Ready is closed once the initial build is done.
func (f *Feeder) Ready() <-chan struct{} { return f.ready }

// Applied returns the sequence number of the last change applied to the
// indices (and whose dynamic memberships are written).
func (f *Feeder) Applied() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applied
}

// errStopped is WaitFor's error once Run has returned.
var errStopped = errors.New("fleet index feeder stopped")

// WaitFor returns once every change with Seq <= seq is applied: a search
// after WaitFor(LastSeq) sees every write that returned before LastSeq was
// read (read-your-writes). It fails when ctx ends or Run has returned.
func (f *Feeder) WaitFor(ctx context.Context, seq uint64) error {
	for {
		f.mu.Lock()
		applied, advance := f.applied, f.advance
		f.mu.Unlock()
		if applied >= seq {
			return nil
		}
		select {
		case <-advance:
		case <-ctx.Done():
			return ctx.Err()
		case <-f.done:
			if f.Applied() >= seq {
				return nil
			}
			return errStopped
		}
	}
}

func (f *Feeder) setApplied(seq uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if seq > f.applied {
		f.applied = seq
		close(f.advance)
		f.advance = make(chan struct{})
	}
}

// Run builds the indices from a snapshot of the store, then follows the
// change feed from the snapshot's sequence number until ctx ends (returning
// ctx's error) or the store fails. Call it once.
func (f *Feeder) Run(ctx context.Context) error {
	defer f.doneOnce.Do(func() { close(f.done) })
	seq, err := f.load(ctx)
	if err != nil {
		return fmt.Errorf("fleet index: initial build: %w", err)
	}
	f.rebuildIndices()
	if err := f.writeMemberships(ctx); err != nil {
		return fmt.Errorf("fleet index: initial build: %w", err)
	}
	f.setApplied(seq)
	f.readyOnce.Do(func() { close(f.ready) })
	f.log.Debug("fleet index built", "seq", seq, "things", f.Things().Len(), "groups", f.Groups().Len())

	for {
		changes, err := f.store.Changes(ctx, seq, feedBatch)
		if err != nil {
			return err
		}
		if len(changes) > 0 {
			for _, c := range changes {
				f.apply(c)
			}
			if err := f.flush(ctx); err != nil {
				return err
			}
			seq = changes[len(changes)-1].Seq
			f.setApplied(seq)
			if len(changes) == feedBatch {
				continue
			}
		}
		if err := f.store.Wait(ctx, seq); err != nil {
			return err
		}
	}
}

// load reads the snapshot into the in-memory parts and returns its
// sequence number.
func (f *Feeder) load(ctx context.Context) (uint64, error) {
	f.cfg = iotdm.DefaultIndexingConfiguration()
	f.parts = map[string]*thingParts{}
	f.allGroups = map[string]*iotdm.ThingGroup{}
	f.queries = map[string]string{}
	f.resetBatch()
	var snap uint64
	err := f.store.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, seq uint64) error {
		snap = seq
		if v, ok, err := tx.Get(ctx, iotdm.KindIndexingConfig, iotdm.IndexingConfigKey); err != nil {
			return err
		} else if ok {
			f.putChange(iotdm.Change{Op: iotdm.OpPut, Kind: iotdm.KindIndexingConfig, Key: iotdm.IndexingConfigKey, Value: v})
		}
		for _, kind := range []string{iotdm.KindThing, iotdm.KindThingGroup, iotdm.KindThingMembership, iotdm.KindShadow} {
			err := tx.Scan(ctx, kind, "", "", 0, func(key string, value []byte) error {
				f.putChange(iotdm.Change{Op: iotdm.OpPut, Kind: kind, Key: key, Value: value})
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	return snap, err
}

func (f *Feeder) putChange(c iotdm.Change) { f.apply(c) }

func (f *Feeder) resetBatch() {
	f.dirtyDocs = map[string]bool{}
	f.dirtyGroups = map[string]bool{}
	f.reconcile = map[string]bool{}
	f.rebuild = false
}

func (f *Feeder) part(thing string) *thingParts {
	p := f.parts[thing]
	if p == nil {
		p = &thingParts{}
		f.parts[thing] = p
	}
	return p
}

func (f *Feeder) dropIfEmpty(thing string) {
	if p := f.parts[thing]; p != nil && p.empty() {
		delete(f.parts, thing)
	}
}

// apply records one change in the in-memory parts and marks what it
// affects; flush brings the indices and the store up to date.
func (f *Feeder) apply(c iotdm.Change) {
	put := c.Op == iotdm.OpPut
	switch c.Kind {
	case iotdm.KindIndexingConfig:
		if c.Key != iotdm.IndexingConfigKey {
			return
		}
		cfg := iotdm.DefaultIndexingConfiguration()
		if put {
			var v iotdm.IndexingConfiguration
			if err := json.Unmarshal(c.Value, &v); err != nil {
				f.log.Error("decode indexing configuration", "seq", c.Seq, "err", err)
				return
			}
			cfg = v
		}
		f.cfg = cfg
		f.rebuild = true

	case iotdm.KindThing:
		p := f.part(c.Key)
		p.thing = nil
		if put {
			var t iotdm.Thing
			if err := json.Unmarshal(c.Value, &t); err != nil {
				f.log.Error("decode thing", "thing", c.Key, "seq", c.Seq, "err", err)
			} else {
				p.thing = &t
			}
		}
		f.dirtyDocs[c.Key] = true
		f.reconcile[c.Key] = true
		f.dropIfEmpty(c.Key)

	case iotdm.KindThingGroup:
		delete(f.allGroups, c.Key)
		if put {
			var g iotdm.ThingGroup
			if err := json.Unmarshal(c.Value, &g); err != nil {
				f.log.Error("decode thing group", "group", c.Key, "seq", c.Seq, "err", err)
			} else {
				f.allGroups[c.Key] = &g
			}
		}
		f.dirtyGroups[c.Key] = true

	case iotdm.KindThingMembership:
		thing, group, ok := strings.Cut(c.Key, "/")
		if !ok {
			return
		}
		p := f.part(thing)
		wasStatic := p.static[group]
		delete(p.static, group)
		delete(p.dynamic, group)
		if put {
			var m iotdm.Membership
			if err := json.Unmarshal(c.Value, &m); err != nil {
				f.log.Error("decode membership", "key", c.Key, "seq", c.Seq, "err", err)
			} else if m.Dynamic {
				p.dynamic = setAdd(p.dynamic, group)
			} else {
				p.static = setAdd(p.static, group)
			}
		}
		if wasStatic || p.static[group] {
			f.dirtyDocs[thing] = true // thingGroupNames
		}
		// A membership that comes or goes changes the thing's room under the
		// group limit, and may be one a standing query disagrees with.
		f.reconcile[thing] = true
		f.dropIfEmpty(thing)

	case iotdm.KindShadow:
		thing, name, ok := strings.Cut(c.Key, "/")
		if !ok {
			return
		}
		p := f.part(thing)
		delete(p.shadows, name)
		if put {
			var st shadow.State
			if err := json.Unmarshal(c.Value, &st); err != nil {
				f.log.Error("decode shadow", "key", c.Key, "seq", c.Seq, "err", err)
			} else if shadow.Exists(&st) {
				if p.shadows == nil {
					p.shadows = map[string]*shadow.State{}
				}
				p.shadows[name] = &st
			}
		}
		if p.thing != nil {
			f.dirtyDocs[thing] = true
		}
		f.dropIfEmpty(thing)
	}
}

func setAdd(m map[string]bool, k string) map[string]bool {
	if m == nil {
		m = map[string]bool{}
	}
	m[k] = true
	return m
}

// flush applies the batch's marks to the indices and writes the dynamic
// memberships that changed, in one Store.Update.
func (f *Feeder) flush(ctx context.Context) error {
	if f.rebuild {
		f.rebuildIndices()
	} else {
		things, groups := f.Things(), f.Groups()
		for _, name := range sortedKeys(f.dirtyDocs) {
			var changes []MembershipChange
			if doc := thingDoc(&f.cfg, f.parts[name]); doc != nil {
				changes = things.Put(name, doc)
			} else {
				changes = things.Delete(name)
			}
			f.noteChanges(changes)
		}
		for _, name := range sortedKeys(f.dirtyGroups) {
			g := f.allGroups[name]
			if g != nil && f.cfg.ThingGroupIndexEnabled() {
				groups.Put(name, groupDoc(g))
			} else {
				groups.Delete(name)
			}
			f.refreshStanding(things, name)
		}
	}
	return f.writeMemberships(ctx)
}

func (f *Feeder) noteChanges(changes []MembershipChange) {
	for _, c := range changes {
		f.reconcile[c.ID] = true
	}
}

// refreshStanding makes the standing query of group follow its entity: a
// dynamic group's query is (re)registered when it changes, and dropped when
// the group goes. Deleting a dynamic group needs nothing else: the registry
// removes its membership entities in the same transaction.
func (f *Feeder) refreshStanding(things *Index, name string) {
	g := f.allGroups[name]
	want := ""
	if g != nil && g.Dynamic() && f.cfg.ThingIndexEnabled() {
		want = g.QueryString
	}
	have, had := f.queries[name]
	if had && have == want {
		return
	}
	if want == "" {
		if had {
			delete(f.queries, name)
			f.noteChanges(things.RemoveStanding(name))
		}
		return
	}
	expr, err := query.Parse(want, thingQueryOptions(&f.cfg))
	if err != nil {
		// The registry validated the query against the configuration of its
		// day; a later configuration may refuse it. The group then has no
		// members until its query or the configuration changes.
		f.log.Warn("dynamic thing group query does not parse; the group gets no members", "group", name, "err", err)
		if had {
			f.noteChanges(things.RemoveStanding(name))
		}
		f.queries[name] = want
		return
	}
	f.queries[name] = want
	f.noteChanges(things.AddStanding(name, expr))
}

// rebuildIndices builds fresh indices from the in-memory parts under the
// current configuration, swaps them in, and marks every thing for
// reconciliation.
func (f *Feeder) rebuildIndices() {
	things, groups := New(), New()
	if f.cfg.ThingIndexEnabled() {
		for name, p := range f.parts {
			if doc := thingDoc(&f.cfg, p); doc != nil {
				things.Put(name, doc)
			}
		}
	}
	if f.cfg.ThingGroupIndexEnabled() {
		for name, g := range f.allGroups {
			groups.Put(name, groupDoc(g))
		}
	}
	f.queries = map[string]string{}
	for _, name := range sortedGroupNames(f.allGroups) {
		f.refreshStanding(things, name)
	}
	f.things.Store(things)
	f.groups.Store(groups)
	for name := range f.parts {
		f.reconcile[name] = true
	}
	f.rebuild = false
}

func sortedGroupNames(m map[string]*iotdm.ThingGroup) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// membershipOp is one dynamic membership to write: add thing to group, or
// remove it.
type membershipOp struct {
	thing, group string
	add          bool
}

// plan compares, for each thing marked for reconciliation, the groups the
// standing queries put it in with its stored dynamic memberships, and
// returns the writes that close the gap: removals first, then additions in
// the order of the groups' creation (older groups first, as AWS §3 favours
// them at the group limit).
func (f *Feeder) plan() []membershipOp {
	things := f.Things()
	var ops []membershipOp
	for _, thing := range sortedKeys(f.reconcile) {
		p := f.parts[thing]
		want := map[string]bool{}
		if p != nil && p.thing != nil {
			for _, g := range things.Groups(thing) {
				if grp := f.allGroups[g]; grp != nil && grp.Dynamic() {
					want[g] = true
				}
			}
		}
		var have map[string]bool
		if p != nil {
			have = p.dynamic
		}
		for _, g := range sortedKeys(have) {
			if !want[g] {
				ops = append(ops, membershipOp{thing: thing, group: g})
			}
		}
		var adds []string
		for g := range want {
			if !have[g] && (p == nil || !p.static[g]) {
				adds = append(adds, g)
			}
		}
		slices.SortFunc(adds, func(a, b string) int {
			ta, tb := f.allGroups[a].ThingGroupMetadata.CreationDate.Time, f.allGroups[b].ThingGroupMetadata.CreationDate.Time
			if c := ta.Compare(tb); c != 0 {
				return c
			}
			return cmp.Compare(a, b)
		})
		for _, g := range adds {
			ops = append(ops, membershipOp{thing: thing, group: g, add: true})
		}
	}
	return ops
}

// writeMemberships writes the batch's dynamic membership changes in one
// Store.Update. Each write is checked against the store inside the
// transaction (the group still exists and is dynamic, the thing is still
// registered, the thing is below the group limit, the write changes
// something), so a concurrent registry write is never undone and a rebuild
// after a restart writes nothing that is already there. The in-memory parts
// then record what was written; the feed echoes it back as a no-op.
func (f *Feeder) writeMemberships(ctx context.Context) error {
	ops := f.plan()
	f.resetBatch()
	if len(ops) == 0 {
		return nil
	}
	var done []membershipOp
	var capped []membershipOp
	err := f.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		done, capped = done[:0], capped[:0]
		now := iotdm.Now()
		counts := map[string]int{}
		for _, op := range ops {
			key := op.thing + "/" + op.group
			v, ok, err := tx.Get(ctx, iotdm.KindThingMembership, key)
			if err != nil {
				return err
			}
			if !op.add {
				if !ok || !isDynamic(v) {
					continue
				}
				if err := tx.Delete(ctx, iotdm.KindGroupMember, op.group+"/"+op.thing); err != nil {
					return err
				}
				if err := tx.Delete(ctx, iotdm.KindThingMembership, key); err != nil {
					return err
				}
				if n, seen := counts[op.thing]; seen {
					counts[op.thing] = n - 1
				}
				done = append(done, op)
				continue
			}
			if ok {
				continue
			}
			if live, err := dynamicGroupExists(ctx, tx, op.group); err != nil || !live {
				if err != nil {
					return err
				}
				continue
			}
			if _, ok, err := tx.Get(ctx, iotdm.KindThing, op.thing); err != nil || !ok {
				if err != nil {
					return err
				}
				continue
			}
			n, seen := counts[op.thing]
			if !seen {
				if n, err = countMemberships(ctx, tx, op.thing); err != nil {
					return err
				}
			}
			if n >= maxGroupsPerThing {
				// AWS §3: a thing at the limit is not added to a dynamic
				// group (the add surfaces only as a log entry).
				counts[op.thing] = n
				capped = append(capped, op)
				continue
			}
			b, err := json.Marshal(iotdm.Membership{ThingGroupName: op.group, ThingName: op.thing, Dynamic: true, AddedAt: now})
			if err != nil {
				return err
			}
			if err := tx.Put(ctx, iotdm.KindGroupMember, op.group+"/"+op.thing, b); err != nil {
				return err
			}
			if err := tx.Put(ctx, iotdm.KindThingMembership, key, b); err != nil {
				return err
			}
			counts[op.thing] = n + 1
			done = append(done, op)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("write dynamic group memberships: %w", err)
	}
	for _, op := range done {
		p := f.part(op.thing)
		if op.add {
			p.dynamic = setAdd(p.dynamic, op.group)
		} else {
			delete(p.dynamic, op.group)
			f.dropIfEmpty(op.thing)
		}
	}
	for _, op := range capped {
		f.log.Warn("thing is in the maximum number of thing groups; not added to dynamic thing group",
			"thing", op.thing, "group", op.group, "limit", maxGroupsPerThing)
	}
	return nil
}

func isDynamic(v []byte) bool {
	var m iotdm.Membership
	return json.Unmarshal(v, &m) == nil && m.Dynamic
}

func dynamicGroupExists(ctx context.Context, tx iotdm.ReadTx, group string) (bool, error) {
	v, ok, err := tx.Get(ctx, iotdm.KindThingGroup, group)
	if err != nil || !ok {
		return false, err
	}
	var g iotdm.ThingGroup
	if err := json.Unmarshal(v, &g); err != nil {
		return false, nil
	}
	return g.Dynamic(), nil
}

func countMemberships(ctx context.Context, tx iotdm.ReadTx, thing string) (int, error) {
	n := 0
	err := tx.Scan(ctx, iotdm.KindThingMembership, thing+"/", "", 0, func(string, []byte) error {
		n++
		return nil
	})
	return n, err
}
