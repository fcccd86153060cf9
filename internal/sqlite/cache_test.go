package sqlite

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/iotdm/iotdm"
)

func putWrite(kind, key string, v []byte) write {
	return write{op: iotdm.OpPut, kind: kind, key: key, value: v}
}

// checkShards verifies each shard's accounting: bytes is the sum of its
// entries' charges and within budget, and every slot is either an entry of
// the map or on the free list.
func checkShards(t *testing.T, c *entityCache) {
	t.Helper()
	for si := range c.shards {
		s := &c.shards[si]
		var sum int64
		used := 0
		for i := range s.slots {
			sl := &s.slots[i]
			if sl.value == nil {
				continue
			}
			used++
			if j, ok := s.m[sl.key]; !ok || int(j) != i {
				t.Fatalf("shard %d: slot %d holds %v, map says %d, %v", si, i, sl.key, j, ok)
			}
			sum += charge(sl.key, sl.value)
		}
		if used != len(s.m) || used+len(s.free) != len(s.slots) {
			t.Fatalf("shard %d: %d used slots, %d map entries, %d free, %d slots", si, used, len(s.m), len(s.free), len(s.slots))
		}
		if sum != s.bytes {
			t.Fatalf("shard %d: bytes = %d, entries' charges sum to %d", si, s.bytes, sum)
		}
		if s.bytes > s.budget {
			t.Fatalf("shard %d: bytes %d over budget %d", si, s.bytes, s.budget)
		}
	}
}

// TestCacheEvictionWithinBudget drives a small cache with random puts,
// deletes, fills and reads of random sizes and checks that it never holds
// more than its budget and that what it holds is what was last written.
func TestCacheEvictionWithinBudget(t *testing.T) {
	for _, budget := range []int64{4 << 10, 64 << 10, 4 << 20} {
		t.Run(fmt.Sprint(budget), func(t *testing.T) {
			c := newEntityCache(budget)
			rng := rand.New(rand.NewPCG(1, uint64(budget)))
			want := map[entityKey][]byte{}
			for i := range 20000 {
				k := entityKey{"thing", fmt.Sprintf("k%04d", rng.IntN(5000))}
				switch r := rng.IntN(10); {
				case r < 4:
					v := bytes.Repeat([]byte{byte(i)}, rng.IntN(int(min(budget/4, 4096))))
					c.apply([]write{putWrite(k.kind, k.key, v)})
					want[k] = v
				case r < 5:
					c.apply([]write{{op: iotdm.OpDelete, kind: k.kind, key: k.key}})
					delete(want, k)
				case r < 7:
					if v, ok := want[k]; ok {
						c.fill(k, v, c.fillToken())
					}
				default:
					v, ok := c.get(k)
					if ok && !bytes.Equal(v, want[k]) {
						t.Fatalf("op %d: get(%v) = %d bytes, want the last written %d bytes", i, k, len(v), len(want[k]))
					}
				}
				if i%1000 == 0 {
					checkShards(t, c)
				}
			}
			checkShards(t, c)
			st := c.stats()
			t.Logf("%+v", st)
			if st.Evictions == 0 || st.Entries == 0 || st.Bytes > budget {
				t.Errorf("stats %+v: want evictions, entries, bytes <= %d", st, budget)
			}
		})
	}
}

// TestCacheSecondChance: a read entry survives the sweep that evicts its
// unread neighbour.
func TestCacheSecondChance(t *testing.T) {
	c := newEntityCache(8 << 10)
	v := make([]byte, 100)
	per := charge(entityKey{"t", "k00"}, v)
	n := int(c.shards[0].budget / per)
	for i := range n {
		c.apply([]write{putWrite("t", fmt.Sprintf("k%02d", i), v)})
	}
	if st := c.stats(); st.Entries != int64(n) || st.Evictions != 0 {
		t.Fatalf("after %d puts: %+v", n, st)
	}
	if _, ok := c.get(entityKey{"t", "k00"}); !ok {
		t.Fatal("k00 not cached")
	}
	c.apply([]write{putWrite("t", "new", v)})
	if _, ok := c.peek(entityKey{"t", "k00"}); !ok {
		t.Error("k00, read since the last sweep, was evicted")
	}
	if _, ok := c.peek(entityKey{"t", "k01"}); ok {
		t.Error("k01, never read, was kept; want it evicted first")
	}
	if _, ok := c.peek(entityKey{"t", "new"}); !ok {
		t.Error("the new entry is not cached")
	}
}

// TestCacheLargeValues: a value over an eighth of the shard's budget is not
// cached, and writing one removes the entity's older cached value.
func TestCacheLargeValues(t *testing.T) {
	c := newEntityCache(4 << 10)
	k := entityKey{"t", "k"}
	c.apply([]write{putWrite(k.kind, k.key, []byte("small"))})
	if _, ok := c.peek(k); !ok {
		t.Fatal("small value not cached")
	}
	big := make([]byte, 600)
	c.apply([]write{putWrite(k.kind, k.key, big)})
	if v, ok := c.peek(k); ok {
		t.Fatalf("cache holds %q after a write too large to cache", v)
	}
	if c.fill(k, big, c.fillToken()) {
		t.Fatal("fill cached a value too large to cache")
	}
	checkShards(t, c)
}

// TestCacheFillRefusedAcrossCommit covers the sequence lock: a fill whose
// read may have overlapped a commit caches nothing, and a commit removes the
// entities it writes.
func TestCacheFillRefusedAcrossCommit(t *testing.T) {
	c := newEntityCache(0)
	k := entityKey{"t", "k"}
	old := []byte("old")
	index := map[entityKey]int{k: 0}

	token := c.fillToken()
	c.beginCommit(index)
	c.endCommit()
	if c.fill(k, old, token) {
		t.Error("fill with a token taken before a whole commit succeeded")
	}

	c.beginCommit(index)
	token = c.fillToken() // odd: a commit is running
	c.endCommit()
	if c.fill(k, old, token) {
		t.Error("fill with a token taken during a commit succeeded")
	}
	c.beginCommit(index)
	if c.fill(k, old, c.fillToken()) {
		t.Error("fill during a commit succeeded")
	}
	c.endCommit()

	if !c.fill(k, old, c.fillToken()) {
		t.Fatal("fill with no commit around it failed")
	}
	c.beginCommit(index) // a commit writing k removes it at once
	if _, ok := c.get(k); ok {
		t.Error("k still cached while a commit writing it runs")
	}
	c.endCommit()
	if c.fill(k, []byte("new"), token) {
		t.Error("fill with a stale token succeeded")
	}
}

// TestCacheOff: a negative budget caches nothing and counts misses.
func TestCacheOff(t *testing.T) {
	c := newEntityCache(-1)
	k := entityKey{"t", "k"}
	c.apply([]write{putWrite(k.kind, k.key, []byte("v"))})
	if c.fill(k, []byte("v"), c.fillToken()) {
		t.Error("fill succeeded with the cache off")
	}
	if _, ok := c.get(k); ok {
		t.Error("hit with the cache off")
	}
	if st := c.stats(); st != (CacheStats{Misses: 1}) {
		t.Errorf("stats = %+v, want one miss", st)
	}
}

// TestCacheEntryOverhead measures the memory an entry really takes beyond
// its kind, key and value bytes, to keep entryOverhead honest.
func TestCacheEntryOverhead(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates")
	}
	const n = 100000
	keys := make([]string, n)
	vals := make([][]byte, n)
	for i := range n {
		keys[i] = fmt.Sprintf("thing-%07d", i)
		vals[i] = make([]byte, 300)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := newEntityCache(1 << 30)
	for i := range n {
		c.apply([]write{putWrite(iotdm.KindThing, keys[i], vals[i])})
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	// The keys and values were allocated before; what grew is the cache's
	// own structure.
	per := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
	// The keys and values themselves, with the allocator's rounding.
	data := float64(16 + 320)
	payload := float64(len(iotdm.KindThing) + len(keys[0]) + 300)
	overhead := per + data - payload
	t.Logf("structure %.0f B/entry; overhead beyond kind+key+value %.0f B (entryOverhead %d)", per, overhead, entryOverhead)
	if overhead > 1.25*entryOverhead {
		t.Errorf("an entry costs %.0f B beyond its bytes; entryOverhead (%d) undercounts", overhead, entryOverhead)
	}
	if c.stats().Entries != n {
		t.Fatalf("entries = %d", c.stats().Entries)
	}
	runtime.KeepAlive(c)
}

// TestCacheApplyFinalWritesOnly: the writer marks a write that a later
// write of its batch replaces, and apply skips it, so the cache never shows
// an entity's intermediate value within a batch (a value never committed,
// older than what SQLite readers already see).
func TestCacheApplyFinalWritesOnly(t *testing.T) {
	var w writer
	w.apply(putWrite("t", "a", []byte("a1")))
	w.apply(putWrite("t", "b", []byte("b1")))
	w.apply(putWrite("t", "a", []byte("a2")))
	w.apply(write{op: iotdm.OpDelete, kind: "t", key: "b"})
	var replaced []bool
	for _, wr := range w.batch {
		replaced = append(replaced, wr.replaced)
	}
	if want := []bool{true, true, false, false}; fmt.Sprint(replaced) != fmt.Sprint(want) {
		t.Fatalf("replaced = %v, want %v", replaced, want)
	}

	c := newEntityCache(0)
	c.apply([]write{putWrite("t", "b", []byte("b0"))})
	// Between any two writes of the batch, each entity holds its value from
	// before the batch or its final one (here b0 stands for what was cached
	// before; beginCommit would have removed it).
	for i, wr := range w.batch {
		c.apply(w.batch[i : i+1])
		if v, ok := c.peek(entityKey{"t", "a"}); ok && string(v) != "a2" {
			t.Errorf("after write %d (%s %s), a = %q", i, wr.op, wr.key, v)
		}
		if v, ok := c.peek(entityKey{"t", "b"}); ok && string(v) != "b0" {
			t.Errorf("after write %d (%s %s), b = %q", i, wr.op, wr.key, v)
		}
	}
	if v, ok := c.peek(entityKey{"t", "a"}); !ok || string(v) != "a2" {
		t.Errorf("a = %q, %v; want a2", v, ok)
	}
	if v, ok := c.peek(entityKey{"t", "b"}); ok {
		t.Errorf("b = %q after its delete", v)
	}
}
