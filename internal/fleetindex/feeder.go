package fleetindex

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/query"
	"github.com/iotdm/iotdm/internal/shadow"
)

// MaxGroupsPerThing is AWS's limit of groups per thing (AWS §3, §9.1);
// dynamic memberships count against it as static ones do.
const MaxGroupsPerThing = 10

// feedBatch is how many changes the feeder reads from the feed at a time.
const feedBatch = 1024

// slowBatch is how long applying one batch may take before the feeder
// warns: membership and searches lag the store by at least that much.
const slowBatch = 250 * time.Millisecond

// defaultBulkRecount is the number of touched things above which
// publishDynamic recounts every thing's dynamic groups in one pass.
const defaultBulkRecount = 4096

// FeederOptions configures a Feeder.
type FeederOptions struct {
	Logger *slog.Logger
	// BulkRecount is the number of things a batch must touch for the
	// feeder to recount every thing's dynamic groups at once rather than
	// each touched thing's; 0 means a default of a few thousand.
	BulkRecount int
	// OnMembership, when set, is called after each applied batch for every
	// dynamic thing group membership the batch changed: a thing entering
	// (added) or leaving a dynamic group's standing query. It runs on the
	// feeder's goroutine and must not block. See SetMembershipHook.
	OnMembership func(group, thing string, added bool)
	// OnCustomFieldFailure, when set, is called after each applied batch
	// for every thing whose document has custom fields (of the indexing
	// configuration) with a value of another type than the field's: AWS
	// skips those values for aggregation and logs IndexingCustomFieldFailed
	// (AWS §2.1). It runs on the feeder's goroutine and must not block.
	OnCustomFieldFailure func(thing string, failures []CustomFieldFailure)
}

// CustomFieldFailure is one custom field of a thing whose value does not
// have the declared type.
type CustomFieldFailure struct {
	Name         string // e.g. attributes.temperature
	Value        string // the value, as indexed
	ExpectedType string // Number, String or Boolean
}

// MembershipHook is the callback of FeederOptions.OnMembership.
type MembershipHook = func(group, thing string, added bool)

// Feeder keeps the fleet indices (AWS §2) and the dynamic thing group
// memberships (AWS §3) in step with a store: it builds them from a
// snapshot, then follows the change feed (DESIGN.md, "The change feed is
// the spine").
//
// The index documents are the only per-thing state it keeps: a change
// replaces one section of its thing's document (the registry fields, one
// shadow, the static groups, the connection state), so nothing is read from
// the store except when a thing (re)appears, whose shadows, groups and
// connection state may predate it.
//
// Dynamic group membership is derived state, never stored: every dynamic
// group is a standing query on Things(), and DynamicGroupsOf and
// DynamicMembers answer from it, applying the per-thing group limit (see
// DynamicGroupsOf). A restart rebuilds it with the index.
//
// Run is the only writer; Things, Groups, Ready, WaitFor, Applied and the
// membership methods are safe to call from any goroutine.
type Feeder struct {
	store       iotdm.Store
	log         *slog.Logger
	bulkRecount int

	things atomic.Pointer[Index]
	groups atomic.Pointer[Index]

	ready     chan struct{}
	readyOnce sync.Once
	done      chan struct{} // closed when Run returns
	doneOnce  sync.Once

	mu        sync.Mutex
	applied   uint64
	appliedAt time.Time     // commit time of the change applied last (see AppliedAt)
	advance   chan struct{} // closed and replaced whenever applied grows

	// What the membership readers need beyond the index, replaced by Run.
	dyn atomic.Pointer[dynamicState]

	// onMembership is FeederOptions.OnMembership, or the hook set later.
	onMembership  atomic.Pointer[MembershipHook]
	onCustomField atomic.Pointer[func(thing string, failures []CustomFieldFailure)]

	// State owned by Run.
	cfg       iotdm.IndexingConfiguration
	allGroups map[string]*iotdm.ThingGroup
	queries   map[string]string // dynamic group → its standing query string
	crowded   map[string]int    // see dynamicState.crowded
	// maxStatic bounds the number of static groups of any thing (it only
	// grows until the next full build): a thing in fewer than
	// MaxGroupsPerThing-maxStatic dynamic groups is never crowded.
	maxStatic int

	// Per batch.
	pending     map[string]*pendingDoc
	dirtyGroups map[string]bool // groups whose document or standing query must be refreshed
	touched     map[string]bool // things whose group count may have changed
	rebuild     bool            // the indexing configuration changed
	// memberships collects the batch's standing-query changes, in order,
	// while a membership hook is set (see reportMemberships).
	memberships []MembershipChange
	collect     bool
}

// pendingDoc is a thing document being edited by a batch.
type pendingDoc struct {
	doc   map[string]any // nil: no document (the thing is not registered)
	fresh bool           // the thing (re)appeared: read its other entities from the store
}

// dynamicState is what DynamicGroupsOf and DynamicMembers read besides the
// index: immutable once published.
type dynamicState struct {
	// rank orders the dynamic groups by creation, oldest first (AWS §3
	// favours older groups at the limit).
	rank map[string]int
	// crowded holds the things whose static groups plus matching dynamic
	// groups exceed MaxGroupsPerThing, with their number of static groups.
	// Few things are crowded; every other thing is in all the dynamic
	// groups it matches.
	crowded map[string]int
	// queries are the standing queries the index answers, by group.
	queries map[string]string
}

// NewFeeder returns a feeder of store; nothing happens before Run.
func NewFeeder(store iotdm.Store, opts FeederOptions) *Feeder {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Feeder{
		store:       store,
		log:         log.With("component", "fleetindex"),
		bulkRecount: cmp.Or(opts.BulkRecount, defaultBulkRecount),
		ready:       make(chan struct{}),
		done:        make(chan struct{}),
		advance:     make(chan struct{}),
	}
	f.things.Store(New())
	f.groups.Store(New())
	f.dyn.Store(&dynamicState{})
	f.SetMembershipHook(opts.OnMembership)
	f.SetCustomFieldHook(opts.OnCustomFieldFailure)
	return f
}

// SetCustomFieldHook sets (nil: clears) the callback of
// FeederOptions.OnCustomFieldFailure; it is safe to call at any time.
func (f *Feeder) SetCustomFieldHook(h func(thing string, failures []CustomFieldFailure)) {
	if h == nil {
		f.onCustomField.Store(nil)
		return
	}
	f.onCustomField.Store(&h)
}

// SetMembershipHook sets (nil: clears) the callback of
// FeederOptions.OnMembership. It is safe to call at any time, also while
// Run runs: the server creates its feeder before the broker that publishes
// the events. Batches applied before the hook is set report nothing.
func (f *Feeder) SetMembershipHook(fn MembershipHook) {
	if fn == nil {
		f.onMembership.Store(nil)
		return
	}
	f.onMembership.Store(&fn)
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
// indices and memberships.
func (f *Feeder) Applied() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applied
}

// AppliedAt returns Applied and the commit time of that change: after the
// initial build, the time the snapshot was taken (the change committed no
// later); the zero time before.
func (f *Feeder) AppliedAt() (uint64, time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applied, f.appliedAt
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

func (f *Feeder) setApplied(seq uint64, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if seq > f.applied || f.appliedAt.IsZero() {
		f.appliedAt = at
	}
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
	f.cfg = iotdm.DefaultIndexingConfiguration()
	f.allGroups = map[string]*iotdm.ThingGroup{}
	f.resetBatch()
	snapshotAt := time.Now()
	seq, err := f.load(ctx)
	if err != nil {
		return fmt.Errorf("fleet index: initial build: %w", err)
	}
	if err := f.dropStoredDynamicMemberships(ctx); err != nil {
		return fmt.Errorf("fleet index: initial build: %w", err)
	}
	f.setApplied(seq, snapshotAt)
	f.readyOnce.Do(func() { close(f.ready) })
	f.log.Debug("fleet index built", "seq", seq, "things", f.Things().Len(), "groups", f.Groups().Len())

	for {
		changes, err := f.store.Changes(ctx, seq, feedBatch)
		if err != nil {
			return err
		}
		if len(changes) > 0 {
			start := time.Now()
			for _, c := range changes {
				f.apply(c)
			}
			if err := f.flush(ctx); err != nil {
				return err
			}
			seq = changes[len(changes)-1].Seq
			f.setApplied(seq, changes[len(changes)-1].Time)
			if took := time.Since(start); took > slowBatch {
				f.log.Warn("fleet index: slow batch; searches and dynamic group membership lag the store",
					"changes", len(changes), "took", took, "seq", seq,
					"behind", time.Since(changes[len(changes)-1].Time).Round(time.Millisecond))
			}
			if len(changes) == feedBatch {
				continue
			}
		}
		if err := f.store.Wait(ctx, seq); err != nil {
			return err
		}
	}
}

// load builds fresh indices from one snapshot of the store under the
// configuration stored in it, swaps them in and returns the snapshot's
// sequence number. Shadows and memberships are read first, so that each
// thing's document is built and indexed once.
func (f *Feeder) load(ctx context.Context) (uint64, error) {
	var snap uint64
	things, groups := New(), New()
	static := map[string][]string{}
	err := f.store.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, seq uint64) error {
		snap = seq
		f.cfg = iotdm.DefaultIndexingConfiguration()
		if v, ok, err := tx.Get(ctx, iotdm.KindIndexingConfig, iotdm.IndexingConfigKey); err != nil {
			return err
		} else if ok {
			if err := json.Unmarshal(v, &f.cfg); err != nil {
				return fmt.Errorf("decode indexing configuration: %w", err)
			}
		}
		f.allGroups = map[string]*iotdm.ThingGroup{}
		err := tx.Scan(ctx, iotdm.KindThingGroup, "", "", 0, func(key string, v []byte) error {
			if g := f.decodeGroup(key, v); g != nil {
				f.allGroups[key] = g
			}
			return nil
		})
		if err != nil {
			return err
		}
		if f.cfg.ThingGroupIndexEnabled() {
			for name, g := range f.allGroups {
				groups.Put(name, groupDoc(g))
			}
		}
		if !f.cfg.ThingIndexEnabled() {
			return nil
		}
		err = tx.Scan(ctx, iotdm.KindThingMembership, "", "", 0, func(key string, v []byte) error {
			if thing, group, ok := strings.Cut(key, "/"); ok && !isDynamic(v) {
				static[thing] = append(static[thing], group)
			}
			return nil
		})
		if err != nil {
			return err
		}
		shadows := map[string]map[string]*shadow.State{}
		err = tx.Scan(ctx, iotdm.KindShadow, "", "", 0, func(key string, v []byte) error {
			thing, name, ok := strings.Cut(key, "/")
			if !ok {
				return nil
			}
			if st := f.decodeShadow(key, v); st != nil {
				if shadows[thing] == nil {
					shadows[thing] = map[string]*shadow.State{}
				}
				shadows[thing][name] = st
			}
			return nil
		})
		if err != nil {
			return err
		}
		conns := map[string]*iotdm.ConnectivityState{}
		if connectivityIndexed(&f.cfg) {
			err = tx.Scan(ctx, iotdm.KindConnectivity, "", "", 0, func(key string, v []byte) error {
				if c := f.decodeConnectivity(key, v); c != nil {
					conns[key] = c
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return tx.Scan(ctx, iotdm.KindThing, "", "", 0, func(key string, v []byte) error {
			if t := f.decodeThing(key, v); t != nil {
				things.Put(key, thingDoc(&f.cfg, t, static[key], shadows[key], conns[key]))
				delete(shadows, key) // let the collector have them early
				delete(conns, key)
			}
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	f.queries = map[string]string{}
	f.crowded = map[string]int{}
	f.maxStatic = 0
	for _, groups := range static {
		f.maxStatic = max(f.maxStatic, len(groups))
	}
	for _, name := range sortedGroupNames(f.allGroups) {
		f.refreshStanding(things, name)
	}
	things.eachStandingCount(func(name string, n int) {
		if s := len(static[name]); s+n > MaxGroupsPerThing {
			f.crowded[name] = s
		}
	})
	clear(f.touched) // the crowded things are known
	f.things.Store(things)
	f.groups.Store(groups)
	f.dyn.Store(&dynamicState{}) // forces publishDynamic to publish
	f.publishDynamic()
	return snap, nil
}

// dropStoredDynamicMemberships deletes the dynamic membership entities that
// earlier versions stored; membership is derived state now.
func (f *Feeder) dropStoredDynamicMemberships(ctx context.Context) error {
	var keys []string
	err := f.store.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
		return tx.Scan(ctx, iotdm.KindThingMembership, "", "", 0, func(key string, v []byte) error {
			if isDynamic(v) {
				keys = append(keys, key)
			}
			return nil
		})
	})
	if err != nil || len(keys) == 0 {
		return err
	}
	f.log.Info("removing stored dynamic group memberships (now derived from the fleet index)", "memberships", len(keys))
	return f.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		for _, key := range keys {
			thing, group, _ := strings.Cut(key, "/")
			if v, ok, err := tx.Get(ctx, iotdm.KindThingMembership, key); err != nil {
				return err
			} else if !ok || !isDynamic(v) {
				continue
			}
			if err := tx.Delete(ctx, iotdm.KindThingMembership, key); err != nil {
				return err
			}
			if err := tx.Delete(ctx, iotdm.KindGroupMember, group+"/"+thing); err != nil {
				return err
			}
		}
		return nil
	})
}

func isDynamic(v []byte) bool {
	var m iotdm.Membership
	return json.Unmarshal(v, &m) == nil && m.Dynamic
}

func (f *Feeder) resetBatch() {
	f.pending = map[string]*pendingDoc{}
	f.dirtyGroups = map[string]bool{}
	f.touched = map[string]bool{}
	f.rebuild = false
}

// doc returns the batch's copy of a thing's document, taken from the index
// on first use.
func (f *Feeder) doc(thing string) *pendingDoc {
	p := f.pending[thing]
	if p == nil {
		p = &pendingDoc{}
		if d, ok := f.Things().Get(thing); ok {
			// A shallow copy: sections are replaced, never edited in place.
			p.doc = make(map[string]any, len(d)+1)
			for k, v := range d {
				p.doc[k] = v
			}
		}
		f.pending[thing] = p
	}
	return p
}

func (f *Feeder) decodeThing(key string, v []byte) *iotdm.Thing {
	var t iotdm.Thing
	if err := json.Unmarshal(v, &t); err != nil {
		f.log.Error("decode thing", "thing", key, "err", err)
		return nil
	}
	return &t
}

func (f *Feeder) decodeGroup(key string, v []byte) *iotdm.ThingGroup {
	var g iotdm.ThingGroup
	if err := json.Unmarshal(v, &g); err != nil {
		f.log.Error("decode thing group", "group", key, "err", err)
		return nil
	}
	return &g
}

// decodeShadow returns the shadow stored as v, or nil when it does not
// exist (deleted) or cannot be read.
func (f *Feeder) decodeShadow(key string, v []byte) *shadow.State {
	var st shadow.State
	if err := json.Unmarshal(v, &st); err != nil {
		f.log.Error("decode shadow", "key", key, "err", err)
		return nil
	}
	if !shadow.Exists(&st) {
		return nil
	}
	return &st
}

// decodeConnectivity returns the connection state stored as v, or nil when
// it cannot be read.
func (f *Feeder) decodeConnectivity(key string, v []byte) *iotdm.ConnectivityState {
	var c iotdm.ConnectivityState
	if err := json.Unmarshal(v, &c); err != nil {
		f.log.Error("decode connectivity", "thing", key, "err", err)
		return nil
	}
	return &c
}

// connectivityIndexed reports whether cfg indexes connectivity (AWS §2.1:
// STATUS, with thing indexing on).
func connectivityIndexed(cfg *iotdm.IndexingConfiguration) bool {
	return cfg.ThingIndexEnabled() &&
		cfg.ThingIndexingConfiguration.ThingConnectivityIndexingMode == iotdm.ConnectivityIndexingStatus
}

// apply records one change in the batch; flush brings the indices up to
// date.
func (f *Feeder) apply(c iotdm.Change) {
	put := c.Op == iotdm.OpPut
	switch c.Kind {
	case iotdm.KindIndexingConfig:
		if c.Key == iotdm.IndexingConfigKey {
			f.rebuild = true
		}

	case iotdm.KindThingGroup:
		delete(f.allGroups, c.Key)
		if put {
			if g := f.decodeGroup(c.Key, c.Value); g != nil {
				f.allGroups[c.Key] = g
			}
		}
		f.dirtyGroups[c.Key] = true

	case iotdm.KindThing:
		if f.rebuild || !f.cfg.ThingIndexEnabled() {
			return
		}
		p := f.doc(c.Key)
		f.touched[c.Key] = true
		var t *iotdm.Thing
		if put {
			t = f.decodeThing(c.Key, c.Value)
		}
		switch {
		case t == nil:
			p.doc, p.fresh = nil, false
		case p.doc == nil:
			// New (or back): its shadows and groups may predate it.
			p.doc, p.fresh = registryDoc(&f.cfg, t, nil), true
		default:
			p.doc = registryDoc(&f.cfg, t, p.doc)
		}

	case iotdm.KindThingMembership:
		thing, group, ok := strings.Cut(c.Key, "/")
		if !ok || f.rebuild || !f.cfg.ThingIndexEnabled() || put && isDynamic(c.Value) {
			return
		}
		p := f.doc(thing)
		if p.doc == nil || p.fresh {
			return // a fresh document reads its groups from the store
		}
		names := slices.DeleteFunc(groupNames(p.doc), func(g string) bool { return g == group })
		if put {
			names = append(names, group)
		}
		setGroupNames(p.doc, names)
		f.touched[thing] = true

	case iotdm.KindShadow:
		thing, name, ok := strings.Cut(c.Key, "/")
		if !ok || f.rebuild || !f.cfg.ThingIndexEnabled() {
			return
		}
		p := f.doc(thing)
		if p.doc == nil || p.fresh {
			return // unregistered (AWS §2.2), or read from the store
		}
		var st *shadow.State
		if put {
			st = f.decodeShadow(c.Key, c.Value)
		}
		setShadow(&f.cfg, p.doc, name, st)

	case iotdm.KindConnectivity:
		if f.rebuild || !connectivityIndexed(&f.cfg) {
			return
		}
		p := f.doc(c.Key)
		if p.doc == nil || p.fresh {
			return // no thing of the client id's name, or read from the store
		}
		var st *iotdm.ConnectivityState
		if put {
			st = f.decodeConnectivity(c.Key, c.Value)
		}
		setConnectivity(&f.cfg, p.doc, st)
	}
}

// flush applies the batch to the indices and publishes what the membership
// readers need.
func (f *Feeder) flush(ctx context.Context) error {
	if f.rebuild {
		f.resetBatch()
		if _, err := f.load(ctx); err != nil {
			return fmt.Errorf("fleet index: rebuild: %w", err)
		}
	} else {
		if err := f.readFresh(ctx); err != nil {
			return err
		}
		hook := f.onMembership.Load()
		f.collect = hook != nil
		defer func() {
			if hook != nil {
				f.reportMemberships(*hook)
			}
		}()
		f.checkCustomFields()
		things, groups := f.Things(), f.Groups()
		for _, name := range slices.Sorted(maps.Keys(f.pending)) {
			var changes []MembershipChange
			if doc := f.pending[name].doc; doc != nil {
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
	f.publishDynamic()
	f.resetBatch()
	return nil
}

// readFresh builds the documents of the batch's new things from the store:
// their static groups, shadows and connection state may have been written
// before them. The snapshot may be newer than the batch; the later changes
// then replace the same sections with the same values, so the index
// converges on the store.
func (f *Feeder) readFresh(ctx context.Context) error {
	var fresh []string
	for name, p := range f.pending {
		if p.fresh {
			fresh = append(fresh, name)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	slices.Sort(fresh)
	return f.store.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
		for _, name := range fresh {
			p := f.pending[name]
			var static []string
			err := tx.Scan(ctx, iotdm.KindThingMembership, name+"/", "", 0, func(key string, v []byte) error {
				if !isDynamic(v) {
					static = append(static, strings.TrimPrefix(key, name+"/"))
				}
				return nil
			})
			if err != nil {
				return err
			}
			setGroupNames(p.doc, static)
			err = tx.Scan(ctx, iotdm.KindShadow, name+"/", "", 0, func(key string, v []byte) error {
				setShadow(&f.cfg, p.doc, strings.TrimPrefix(key, name+"/"), f.decodeShadow(key, v))
				return nil
			})
			if err != nil {
				return err
			}
			if connectivityIndexed(&f.cfg) {
				v, ok, err := tx.Get(ctx, iotdm.KindConnectivity, name)
				if err != nil {
					return err
				}
				var st *iotdm.ConnectivityState
				if ok {
					st = f.decodeConnectivity(name, v)
				}
				setConnectivity(&f.cfg, p.doc, st)
			}
			p.fresh = false
		}
		return nil
	})
}

func (f *Feeder) noteChanges(changes []MembershipChange) {
	for _, c := range changes {
		f.touched[c.ID] = true
	}
	if f.collect {
		f.memberships = append(f.memberships, changes...)
	}
}

// reportMemberships hands the batch's net dynamic membership changes to
// hook, once the batch is applied (publishDynamic has run). A membership
// that a batch removes and adds back (a group's query replaced by one the
// thing still matches) changes nothing and is not reported. Crowded things
// (more than MaxGroupsPerThing matching groups, where AWS §3's limit rules
// decide which groups keep them) are skipped: reporting their effective
// memberships would take a before/after comparison of DynamicGroupsOf the
// feeder does not make. A rebuild (indexing configuration change) reports
// nothing either.
func (f *Feeder) reportMemberships(hook MembershipHook) {
	changes := f.memberships
	f.memberships, f.collect = nil, false
	if len(changes) == 0 {
		return
	}
	type pair struct{ group, thing string }
	type net struct {
		first, last bool // Added of the pair's first and last change
		order       int
	}
	seen := make(map[pair]*net, len(changes))
	for i, c := range changes {
		k := pair{c.Group, c.ID}
		if n, ok := seen[k]; ok {
			n.last = c.Added
		} else {
			seen[k] = &net{first: c.Added, last: c.Added, order: i}
		}
	}
	out := make([]pair, 0, len(seen))
	for k, n := range seen {
		// Before the batch the thing was in the group iff its first change
		// removed it; after, iff its last change added it.
		if was := !n.first; was != n.last {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b pair) int { return cmp.Compare(seen[a].order, seen[b].order) })
	crowded := f.dyn.Load().crowded
	for _, k := range out {
		if _, ok := crowded[k.thing]; ok {
			continue
		}
		hook(k.group, k.thing, seen[k].last)
	}
}

// refreshStanding makes the standing query of group follow its entity: a
// dynamic group's query is (re)registered when it changes, and dropped when
// the group goes.
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

// publishDynamic recomputes the crowded things among those the batch
// touched and publishes a new dynamicState.
func (f *Feeder) publishDynamic() {
	things := f.Things()
	changed := len(f.dirtyGroups) > 0
	for _, p := range f.pending {
		if p.doc != nil {
			f.maxStatic = max(f.maxStatic, len(groupNames(p.doc)))
		}
	}
	// staticOf returns a thing's number of static groups.
	staticOf := func(name string) int {
		if p := f.pending[name]; p != nil {
			if p.doc == nil {
				return 0
			}
			return len(groupNames(p.doc))
		}
		if d, ok := things.Get(name); ok {
			return len(groupNames(d))
		}
		return 0
	}
	// check records whether a thing in matched dynamic groups is crowded.
	check := func(name string, matched int) {
		static := 0
		if matched+f.maxStatic > MaxGroupsPerThing {
			static = staticOf(name)
		}
		old, was := f.crowded[name]
		if static+matched > MaxGroupsPerThing {
			if !was || old != static {
				f.crowded[name] = static
				changed = true
			}
		} else if was {
			delete(f.crowded, name)
			changed = true
		}
	}
	switch {
	case len(f.queries)+f.maxStatic <= MaxGroupsPerThing:
		// No thing can be crowded.
		if len(f.crowded) > 0 {
			clear(f.crowded)
			changed = true
		}
	case len(f.touched) > f.bulkRecount:
		// A dynamic group's backfill touches its every member: count all
		// memberships in one pass over the bitmaps instead.
		counts := map[string]int{}
		things.eachStandingCount(func(name string, n int) {
			if n+f.maxStatic > MaxGroupsPerThing {
				counts[name] = n
			}
		})
		for name := range f.crowded {
			if _, ok := counts[name]; !ok {
				delete(f.crowded, name)
				changed = true
			}
		}
		for name, n := range counts {
			check(name, n)
		}
	default:
		for name := range f.touched {
			check(name, things.countStanding(name))
		}
	}
	if !changed && f.dyn.Load().rank != nil {
		return
	}
	var dynamic []*iotdm.ThingGroup
	for _, g := range f.allGroups {
		if g.Dynamic() {
			dynamic = append(dynamic, g)
		}
	}
	slices.SortFunc(dynamic, func(a, b *iotdm.ThingGroup) int {
		if c := a.ThingGroupMetadata.CreationDate.Time.Compare(b.ThingGroupMetadata.CreationDate.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.ThingGroupName, b.ThingGroupName)
	})
	rank := make(map[string]int, len(dynamic))
	for i, g := range dynamic {
		rank[g.ThingGroupName] = i
	}
	f.dyn.Store(&dynamicState{rank: rank, crowded: maps.Clone(f.crowded), queries: maps.Clone(f.queries)})
}

// DynamicGroupsOf returns the dynamic thing groups thing is in, sorted by
// name. A thing is in every dynamic group whose query it matches, as long
// as its groups stay within MaxGroupsPerThing; beyond that, its static
// groups and then the oldest dynamic groups keep their place. This is the
// state AWS §3's rules settle in: at the limit a newly matching group is
// refused unless it is older than one of the thing's dynamic groups, whose
// newest member is then evicted for it.
func (f *Feeder) DynamicGroupsOf(thing string) []string {
	st := f.dyn.Load()
	matched := f.Things().Groups(thing)
	matched = slices.DeleteFunc(matched, func(g string) bool { _, ok := st.rank[g]; return !ok })
	static, crowded := st.crowded[thing]
	if !crowded || len(matched) <= MaxGroupsPerThing-static {
		return matched
	}
	slices.SortFunc(matched, func(a, b string) int { return cmp.Compare(st.rank[a], st.rank[b]) })
	matched = matched[:max(MaxGroupsPerThing-static, 0)]
	slices.Sort(matched)
	return matched
}

// DynamicMembers returns the things in dynamic thing group name, sorted,
// under the same rules as DynamicGroupsOf; nil when name is not a dynamic
// group the index knows.
func (f *Feeder) DynamicMembers(name string) []string {
	st := f.dyn.Load()
	if _, ok := st.rank[name]; !ok {
		return nil
	}
	members := f.Things().Members(name)
	if len(st.crowded) == 0 {
		return members
	}
	return slices.DeleteFunc(members, func(thing string) bool {
		if _, crowded := st.crowded[thing]; !crowded {
			return false
		}
		return !slices.Contains(f.DynamicGroupsOf(thing), name)
	})
}

// DynamicGroupStatus returns the status of a dynamic group whose current
// query is q (AWS §3): ACTIVE once the index answers q, BUILDING while the
// group is new to it, REBUILDING while it still answers an older query.
func (f *Feeder) DynamicGroupStatus(name, q string) string {
	have, ok := f.dyn.Load().queries[name]
	switch {
	case !ok:
		return iotdm.DynamicGroupBuilding
	case have != q:
		return iotdm.DynamicGroupRebuilding
	}
	return iotdm.DynamicGroupActive
}

func sortedGroupNames(m map[string]*iotdm.ThingGroup) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// checkCustomFields reports the custom fields of the batch's documents
// whose values disagree with their declared types.
func (f *Feeder) checkCustomFields() {
	hp := f.onCustomField.Load()
	fields := f.cfg.ThingIndexingConfiguration.CustomFields
	if hp == nil || len(fields) == 0 {
		return
	}
	hook := *hp
	for _, name := range slices.Sorted(maps.Keys(f.pending)) {
		doc := f.pending[name].doc
		if doc == nil {
			continue
		}
		var failures []CustomFieldFailure
		for _, field := range fields {
			v, ok := docValue(doc, field.Name)
			if !ok || valueHasType(v, field.Type) {
				continue
			}
			failures = append(failures, CustomFieldFailure{Name: field.Name, Value: fmt.Sprint(v), ExpectedType: field.Type})
		}
		if len(failures) > 0 {
			hook(name, failures)
		}
	}
}

// docValue finds a dotted field name (attributes.x, shadow.reported.x,
// shadow.name.n.reported.x) in a document.
func docValue(doc map[string]any, name string) (any, bool) {
	var cur any = doc
	for _, part := range strings.Split(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// valueHasType reports whether an indexed value can be a custom field of
// type typ: attributes are strings, so a Number field takes a numeric
// string too, and a Boolean field "true" or "false".
func valueHasType(v any, typ string) bool {
	switch typ {
	case "Number":
		switch x := v.(type) {
		case float64, int, int64, json.Number:
			return true
		case string:
			_, err := strconv.ParseFloat(x, 64)
			return err == nil
		}
		return false
	case "Boolean":
		switch x := v.(type) {
		case bool:
			return true
		case string:
			return x == "true" || x == "false"
		}
		return false
	case "String":
		_, ok := v.(string)
		return ok
	}
	return true
}
