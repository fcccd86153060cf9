package sqlite

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/iotdm/iotdm"
)

// DefaultCacheBytes is the entity cache's budget when Options.CacheBytes is
// 0: about 400,000 things of ~300 bytes (a tenth of a million-thing fleet's
// things and shadows), in a bounded and predictable amount of memory.
const DefaultCacheBytes int64 = 64 << 20

// entryOverhead is what an entry costs beyond its kind, key and value bytes:
// its map entry (the key's two string headers and a slot index, with the
// map's control bytes and spare capacity), its slot (key, value header, ref
// bit), and the allocator's rounding of the key and value. Measured (see
// TestCacheEntryOverhead) at 110 to 150 bytes, depending on where the map
// and the slot slice are in their growth; the budget may thus be exceeded
// by up to a fifth with tiny values, much less with things of ~300 bytes.
const entryOverhead = 128

// Shards: the budget is split over up to maxShards shards, each with its own
// lock and clock, but never into shards smaller than minShardBytes, so that a
// small budget still caches values of a few hundred bytes.
const (
	maxShards     = 16
	minShardBytes = 1 << 20
)

// entityKey names one entity in memory.
type entityKey struct{ kind, key string }

// CacheStats describes the entity cache: its size now and what it has done
// since Open. Hits and Misses count the single reads that consulted it
// (DB.Get, and Gets and Deletes inside Updates that were not answered by the
// open batch's own writes); a miss reads SQLite.
type CacheStats struct {
	Budget    int64  // bytes the cache may hold; 0 when it is off
	Entries   int64  // entities held
	Bytes     int64  // charged bytes held: kind, key, value and entryOverhead each
	Hits      uint64 // reads answered from memory
	Misses    uint64 // reads that went to SQLite
	Evictions uint64 // entries dropped to make room
}

// entityCache holds the committed values of recently used entities within a
// byte budget, so most single reads (DB.Get, and the Gets of Updates) do not
// touch SQLite. It is empty at Open and filled in two ways:
//
//   - write-through: the syncer applies every batch's writes once the batch
//     is durable (puts replace, deletes remove);
//   - read-through: a DB.Get that misses reads SQLite and fills the entry,
//     unless a commit may have overlapped the read (see fill).
//
// # Invariant
//
// A cached value is always the entity's latest COMMITTED value (visible to
// SQLite readers, possibly not yet durable). Three things keep it so:
//
//  1. Before the writer commits a batch, it removes the batch's entities
//     from the cache (beginCommit); the cache holds none of them while the
//     COMMIT runs.
//  2. A fill installs a value read from SQLite only if no commit began or
//     ended between the moment before the read started and the fill
//     (commits is a sequence lock: odd while a commit is in progress, bumped
//     by beginCommit and endCommit; the fill compares it under the shard
//     lock). The committed state did not change during the read, so the
//     value read is the latest committed one; and if a commit begins right
//     after the fill, its beginCommit takes the same shard lock and removes
//     the entry.
//  3. The syncer applies a batch after its COMMIT and before the writer can
//     commit the next batch (the writer commits only while it holds the
//     syncer's idle token, which the syncer returns after applying), and it
//     applies only the batch's final write of each entity (an entity written
//     twice in a batch never shows its intermediate value, which was never
//     committed), so the values it applies are the latest committed ones.
//
// Consequences: a Get returns the committed value of some instant within
// its call, whether it hits or misses, so Gets never go back in time (per
// entity, a Get sees what an earlier Get returned, or newer) and see every
// Update that returned before them. Because of (1), a hit never serves the
// value an in-flight batch is replacing while a miss already reads the new
// one from SQLite. Like a miss, a hit may serve a committed value whose WAL
// sync is still running (an entity filled from SQLite meanwhile); such a
// value is lost only if the process dies before the sync, and then no
// Update writing it has returned.
//
// # Eviction
//
// CLOCK (second chance) within each shard: entries sit in a slice of slots,
// a map finds an entity's slot, a hit sets the slot's ref bit (under the
// read lock, atomically). To make room, the hand sweeps the slots: a set bit
// is cleared and the entry spared once, an unset one is evicted. New entries
// start with the bit unset and take a freed slot, usually the one just
// behind the hand, so they get a whole sweep to be read again. Each
// operation is O(1) amortized.
type entityCache struct {
	budget int64 // <= 0: no cache; every read misses
	seed   maphash.Seed
	shards []cacheShard
	mask   uint64

	// commits is a sequence lock around the writer's commits, see fill.
	commits atomic.Uint64

	offMisses atomic.Uint64 // misses when the cache is off
}

type cacheShard struct {
	mu       sync.RWMutex
	m        map[entityKey]int32 // entity to its slot
	slots    []cacheSlot
	free     []int32 // free slots, reused before the slice grows
	hand     int
	bytes    int64
	budget   int64
	maxEntry int64 // larger entries are not cached

	hits, misses, evictions atomic.Uint64

	_ [64]byte // keeps neighbouring shards' locks and counters off one cache line
}

// cacheSlot holds one entry; value is nil when the slot is free (a cached
// value never is).
type cacheSlot struct {
	key   entityKey
	value []byte
	ref   atomic.Bool // read since the hand last passed
}

// newEntityCache returns a cache of budget bytes; budget < 0 turns it off.
func newEntityCache(budget int64) *entityCache {
	if budget == 0 {
		budget = DefaultCacheBytes
	}
	c := &entityCache{budget: max(budget, 0), seed: maphash.MakeSeed()}
	if budget < 0 {
		return c
	}
	n := 1
	for n < maxShards && budget/int64(2*n) >= minShardBytes {
		n *= 2
	}
	c.shards = make([]cacheShard, n)
	c.mask = uint64(n - 1)
	for i := range c.shards {
		s := &c.shards[i]
		s.m = make(map[entityKey]int32)
		s.budget = budget / int64(n)
		s.maxEntry = s.budget / 8
	}
	return c
}

func (c *entityCache) off() bool { return c.budget <= 0 }

func (c *entityCache) shard(k entityKey) *cacheShard {
	if c.mask == 0 {
		return &c.shards[0]
	}
	return &c.shards[maphash.String(c.seed, k.key)&c.mask]
}

// charge is what an entry costs against the budget.
func charge(k entityKey, v []byte) int64 {
	return int64(len(k.kind)+len(k.key)+len(v)) + entryOverhead
}

// get returns the cached value of k, which the caller must not modify.
func (c *entityCache) get(k entityKey) ([]byte, bool) {
	if c.off() {
		c.offMisses.Add(1)
		return nil, false
	}
	s := c.shard(k)
	s.mu.RLock()
	i, ok := s.m[k]
	var v []byte
	if ok {
		sl := &s.slots[i]
		v = sl.value
		if !sl.ref.Load() {
			sl.ref.Store(true)
		}
	}
	s.mu.RUnlock()
	if ok {
		s.hits.Add(1)
	} else {
		s.misses.Add(1)
	}
	return v, ok
}

// fillToken returns what a reader passes to fill: take it before the read
// from SQLite starts.
func (c *entityCache) fillToken() uint64 { return c.commits.Load() }

// fill caches v, read from SQLite, as k's value, provided no commit began
// or ended since token was taken (token odd: one was running already) and k
// is not cached meanwhile. It reports whether it cached v, which the cache
// then owns.
//
// Why this never installs a stale value: the read started after token was
// taken and the check below runs under k's shard lock. If commits still
// equals an even token, no commit ran at any moment between the two, so the
// committed state was the same throughout and v is k's latest committed
// value at the fill. A commit that begins after the check bumps commits and
// then removes its entities from the cache, taking this shard's lock, so it
// removes v if it writes k. An apply racing with the fill installs the same
// committed value (invariant 3 of entityCache).
func (c *entityCache) fill(k entityKey, v []byte, token uint64) bool {
	if c.off() || token&1 != 0 {
		return false
	}
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.commits.Load() != token {
		return false
	}
	if _, ok := s.m[k]; ok {
		return false // installed meanwhile by an apply or a fill: the same value
	}
	return s.insert(k, v, false)
}

// beginCommit is called by the writer right before it commits a batch that
// wrote the entities of index: it opens the sequence lock (so no read that
// overlaps the commit fills) and removes those entities (so no hit serves a
// value the commit is replacing). endCommit closes the lock once COMMIT has
// returned, whatever its outcome.
func (c *entityCache) beginCommit(index map[entityKey]int) {
	if c.off() {
		return
	}
	c.commits.Add(1)
	for k := range index {
		s := c.shard(k)
		s.mu.Lock()
		if i, ok := s.m[k]; ok {
			s.remove(i)
		}
		s.mu.Unlock()
	}
}

// endCommit: see beginCommit.
func (c *entityCache) endCommit() {
	if !c.off() {
		c.commits.Add(1)
	}
}

// apply writes a durable batch's writes through: puts replace the entry (or
// remove it when too large to cache), deletes remove it. It skips writes a
// later write of the batch replaced: each entity is locked on its own, so
// applying them in turn would show a value the batch never committed, older
// than the one SQLite readers already see.
func (c *entityCache) apply(writes []write) {
	if c.off() {
		return
	}
	for _, w := range writes {
		if w.replaced {
			continue
		}
		k := entityKey{w.kind, w.key}
		s := c.shard(k)
		s.mu.Lock()
		ref := false
		if i, ok := s.m[k]; ok {
			ref = s.slots[i].ref.Load()
			s.remove(i)
		}
		if w.op == iotdm.OpPut {
			v := w.value
			if v == nil {
				v = []byte{}
			}
			s.insert(k, v, ref)
		}
		s.mu.Unlock()
	}
}

// insert adds k, which is not in s, evicting entries until it fits. It
// reports false, caching nothing, when the entry is too large. s.mu is held.
func (s *cacheShard) insert(k entityKey, v []byte, ref bool) bool {
	ch := charge(k, v)
	if ch > s.maxEntry {
		return false
	}
	for s.bytes+ch > s.budget && len(s.m) > 0 {
		s.evictOne()
	}
	var i int32
	if n := len(s.free); n > 0 {
		i = s.free[n-1]
		s.free = s.free[:n-1]
	} else {
		i = int32(len(s.slots))
		s.slots = append(s.slots, cacheSlot{})
	}
	sl := &s.slots[i]
	sl.key, sl.value = k, v
	sl.ref.Store(ref)
	s.m[k] = i
	s.bytes += ch
	return true
}

// evictOne advances the hand until it has evicted one entry. s.mu is held
// and s holds at least one entry.
func (s *cacheShard) evictOne() {
	for {
		if s.hand >= len(s.slots) {
			s.hand = 0
		}
		i := s.hand
		s.hand++
		sl := &s.slots[i]
		switch {
		case sl.value == nil:
		case sl.ref.Load():
			sl.ref.Store(false)
		default:
			s.remove(int32(i))
			s.evictions.Add(1)
			return
		}
	}
}

// remove frees slot i. s.mu is held.
func (s *cacheShard) remove(i int32) {
	sl := &s.slots[i]
	delete(s.m, sl.key)
	s.bytes -= charge(sl.key, sl.value)
	sl.key, sl.value = entityKey{}, nil
	sl.ref.Store(false)
	s.free = append(s.free, i)
}

// peek returns k's cached value without counting a hit or setting its ref
// bit, for tests.
func (c *entityCache) peek(k entityKey) ([]byte, bool) {
	if c.off() {
		return nil, false
	}
	s := c.shard(k)
	s.mu.RLock()
	defer s.mu.RUnlock()
	i, ok := s.m[k]
	if !ok {
		return nil, false
	}
	return s.slots[i].value, true
}

func (c *entityCache) stats() CacheStats {
	st := CacheStats{Budget: c.budget, Misses: c.offMisses.Load()}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		st.Entries += int64(len(s.m))
		st.Bytes += s.bytes
		s.mu.RUnlock()
		st.Hits += s.hits.Load()
		st.Misses += s.misses.Load()
		st.Evictions += s.evictions.Load()
	}
	return st
}

// CacheStats reports the entity cache's size and activity.
func (db *DB) CacheStats() CacheStats { return db.cache.stats() }

// Get implements iotdm.Store: the last committed value of one entity, as a
// copy the caller may keep, from the entity cache or else from SQLite
// through the read pool (then cached, see entityCache.fill).
//
// A miss reads SQLite's committed state, which may include a batch whose
// WAL sync is still running (committed, not yet durable, its Updates not
// yet returned): Get may return such a value; see entityCache for why it
// still never returns a value older than an earlier Get did.
func (db *DB) Get(ctx context.Context, kind, key string) ([]byte, bool, error) {
	if db.isClosed() {
		return nil, false, iotdm.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	k := entityKey{kind, key}
	if v, ok := db.cache.get(k); ok {
		return append([]byte{}, v...), true, nil
	}
	token := db.cache.fillToken() // before the read starts
	v, ok, err := getValue(ctx, db.read.get, kind, key)
	if err != nil {
		return nil, false, db.closedOr(fmt.Errorf("sqlite: %w", err))
	}
	if db.afterMissRead != nil {
		db.afterMissRead()
	}
	if !ok {
		return nil, false, nil
	}
	if db.cache.fill(k, v, token) {
		return append([]byte{}, v...), true, nil // the cache owns v now
	}
	return v, true, nil
}
