package sqlite_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/sqlite"
)

func putKV(t *testing.T, db *sqlite.DB, key string, value []byte) {
	t.Helper()
	if err := db.Update(t.Context(), func(ctx context.Context, tx iotdm.Tx) error {
		return tx.Put(ctx, iotdm.KindThing, key, value)
	}); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func wantGet(t *testing.T, db *sqlite.DB, key string, want []byte) {
	t.Helper()
	v, ok, err := db.Get(t.Context(), iotdm.KindThing, key)
	switch {
	case err != nil:
		t.Fatalf("Get(%s): %v", key, err)
	case want == nil && ok:
		t.Fatalf("Get(%s) = %q, want none", key, v)
	case want != nil && (!ok || !bytes.Equal(v, want)):
		t.Fatalf("Get(%s) = %q, %v; want %q", key, v, ok, want)
	}
}

func numbered(i int) []byte {
	return fmt.Appendf(nil, `{"i":%d,"pad":"%s"}`, i, strings.Repeat("x", 80))
}

// TestCacheBoundedUnderLoad writes many more entities than a 16 KiB cache
// holds, then reads them all: the cache stays within its budget, evicts,
// and every Get is right whether it hits or misses.
func TestCacheBoundedUnderLoad(t *testing.T) {
	const budget = 16 << 10
	db := openTestAt(t, filepath.Join(t.TempDir(), "iotdm.db"), budget)
	const n = 2000
	for u := range 10 {
		if err := db.Update(t.Context(), func(ctx context.Context, tx iotdm.Tx) error {
			for i := u * n / 10; i < (u+1)*n/10; i++ {
				if err := tx.Put(ctx, iotdm.KindThing, fmt.Sprintf("t%05d", i), numbered(i)); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	st := db.CacheStats()
	t.Logf("after writes: %+v", st)
	if st.Budget != budget || st.Bytes > budget || st.Entries == 0 || st.Evictions == 0 {
		t.Fatalf("after writes: %+v; want entries, evictions and bytes <= %d", st, budget)
	}
	for round := range 2 {
		for i := range n {
			wantGet(t, db, fmt.Sprintf("t%05d", i), numbered(i))
		}
		st = db.CacheStats()
		t.Logf("after read round %d: %+v", round, st)
		if st.Bytes > budget || st.Misses < n {
			t.Fatalf("after reads: %+v; want bytes <= %d and mostly misses", st, budget)
		}
	}
	// A small working set is served from memory.
	before := db.CacheStats().Hits
	for range 10 {
		for i := range 10 {
			wantGet(t, db, fmt.Sprintf("t%05d", i), numbered(i))
		}
	}
	if hits := db.CacheStats().Hits - before; hits < 90 {
		t.Errorf("%d hits reading 10 entities 10 times; want at least 90", hits)
	}
}

// TestGetAfterReopen: nothing is loaded at Open; Gets and the reads of
// Updates find the stored entities in SQLite and then in the cache.
func TestGetAfterReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "iotdm.db")
	db, err := sqlite.Open(t.Context(), path, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		putKV(t, db, fmt.Sprintf("t%02d", i), numbered(i))
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openTestAt(t, path, 0)
	if st := db.CacheStats(); st.Entries != 0 || st.Bytes != 0 || st.Budget != sqlite.DefaultCacheBytes {
		t.Fatalf("at open: %+v; want an empty cache of the default budget", st)
	}
	for i := range 50 {
		wantGet(t, db, fmt.Sprintf("t%02d", i), numbered(i))
	}
	wantGet(t, db, "absent", nil)
	st := db.CacheStats()
	if st.Entries != 50 || st.Misses != 51 || st.Hits != 0 {
		t.Fatalf("after one read each: %+v; want 50 entries from 51 misses", st)
	}
	for i := range 50 {
		wantGet(t, db, fmt.Sprintf("t%02d", i), numbered(i))
	}
	if st := db.CacheStats(); st.Hits != 50 {
		t.Fatalf("after a second read each: %+v; want 50 hits", st)
	}

	// Inside an Update, a read of an entity not cached goes to SQLite, and
	// so does the existence check of a Delete.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTestAt(t, path, 0)
	if err := db.Update(t.Context(), func(ctx context.Context, tx iotdm.Tx) error {
		v, ok, err := tx.Get(ctx, iotdm.KindThing, "t07")
		if err != nil || !ok || !bytes.Equal(v, numbered(7)) {
			return fmt.Errorf("Get(t07) in Update = %q, %v, %v", v, ok, err)
		}
		return tx.Delete(ctx, iotdm.KindThing, "t08")
	}); err != nil {
		t.Fatal(err)
	}
	wantGet(t, db, "t08", nil)
	cs, err := db.Changes(t.Context(), 50, 0)
	if err != nil || len(cs) != 1 || cs[0].Op != iotdm.OpDelete || cs[0].Key != "t08" {
		t.Fatalf("changes after the delete = %+v, %v; want the delete of t08", cs, err)
	}
}

// TestGetStaleFillRefused forces the interleaving a read-through cache must
// survive: a Get misses and reads the old value from SQLite, then an Update
// replaces (or deletes) the entity and returns, then the Get fills the
// cache. The cache must not keep the old value.
func TestGetStaleFillRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(ctx context.Context, tx iotdm.Tx) error
		want  []byte // nil: deleted
	}{
		{"put", func(ctx context.Context, tx iotdm.Tx) error {
			return tx.Put(ctx, iotdm.KindThing, "k", []byte(`"new"`))
		}, []byte(`"new"`)},
		{"delete", func(ctx context.Context, tx iotdm.Tx) error {
			return tx.Delete(ctx, iotdm.KindThing, "k")
		}, nil},
		{"put too large to cache", func(ctx context.Context, tx iotdm.Tx) error {
			return tx.Put(ctx, iotdm.KindThing, "k", []byte(`"`+strings.Repeat("n", 1000)+`"`))
		}, []byte(`"` + strings.Repeat("n", 1000) + `"`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "iotdm.db")
			db := openTestAt(t, path, 4<<10)
			putKV(t, db, "k", []byte(`"old"`))
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db = openTestAt(t, path, 4<<10) // k is not cached

			read, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			sqlite.SetAfterMissRead(db, func() {
				once.Do(func() {
					close(read)
					<-release
				})
			})
			got := make(chan []byte, 1)
			go func() {
				v, _, err := db.Get(context.Background(), iotdm.KindThing, "k")
				if err != nil {
					t.Error(err)
				}
				got <- v
			}()
			<-read // the Get has read "old" from SQLite and waits to fill
			if err := db.Update(t.Context(), tc.write); err != nil {
				t.Fatal(err)
			}
			close(release)
			if v := <-got; string(v) != `"old"` {
				t.Fatalf("the racing Get returned %q, want the value it read", v)
			}
			if v, ok := sqlite.CachedValue(db, iotdm.KindThing, "k"); ok && !bytes.Equal(v, tc.want) {
				t.Fatalf("cache holds %q after the Update returned; want %q", v, tc.want)
			}
			wantGet(t, db, "k", tc.want)
			wantGet(t, db, "k", tc.want) // now perhaps from the cache
		})
	}
}

// TestGetMonotonicUnderConcurrentWrites runs read-modify-write Updates that
// count each entity up, beside readers that Get them, with a 4 KiB cache
// (constant misses, fills and evictions) and every fourth version too large
// to cache. Every Get must see at least the newest version an Update had
// returned, or another Get had returned, before it started.
func TestGetMonotonicUnderConcurrentWrites(t *testing.T) {
	db := openTestAt(t, filepath.Join(t.TempDir(), "iotdm.db"), 4<<10)
	const (
		keys       = 32
		writers    = 8
		perWriter  = 60
		readers    = 4
		kind       = iotdm.KindThing
		bigEvery   = 4
		bigPadding = 600
	)
	type version struct {
		N   int    `json:"n"`
		Pad string `json:"pad,omitempty"`
	}
	encode := func(n int) []byte {
		v := version{N: n}
		if n%bigEvery == 0 {
			v.Pad = strings.Repeat("p", bigPadding)
		}
		b, _ := json.Marshal(v)
		return b
	}
	decode := func(b []byte) int {
		var v version
		if err := json.Unmarshal(b, &v); err != nil {
			t.Errorf("decode %q: %v", b, err)
		}
		return v.N
	}
	key := func(i int) string { return fmt.Sprintf("k%02d", i) }
	for i := range keys {
		putKV(t, db, key(i), encode(1))
	}
	var acked, seen [keys]atomic.Int64 // newest version returned by an Update, by a Get
	raise := func(a *atomic.Int64, n int64) {
		for {
			cur := a.Load()
			if n <= cur || a.CompareAndSwap(cur, n) {
				return
			}
		}
	}
	var done atomic.Bool
	var wg, rg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for range perWriter {
				i := rng.IntN(keys)
				var wrote int
				err := db.Update(t.Context(), func(ctx context.Context, tx iotdm.Tx) error {
					v, ok, err := tx.Get(ctx, kind, key(i))
					if err != nil || !ok {
						return fmt.Errorf("Get(%s) in Update: %v, %v", key(i), ok, err)
					}
					wrote = decode(v) + 1
					return tx.Put(ctx, kind, key(i), encode(wrote))
				})
				if err != nil {
					t.Error(err)
					return
				}
				raise(&acked[i], int64(wrote))
			}
		})
	}
	var gets atomic.Int64
	for r := range readers {
		rg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 11))
			for !done.Load() {
				i := rng.IntN(keys)
				floor := max(acked[i].Load(), seen[i].Load())
				v, ok, err := db.Get(context.Background(), kind, key(i))
				if err != nil || !ok {
					t.Errorf("Get(%s) = %v, %v", key(i), ok, err)
					return
				}
				n := int64(decode(v))
				if n < floor {
					t.Errorf("Get(%s) = version %d, but version %d was returned before it started", key(i), n, floor)
					return
				}
				raise(&seen[i], n)
				gets.Add(1)
			}
		})
	}
	wg.Wait()
	done.Store(true)
	rg.Wait()
	// The committed history counts each entity up by one.
	cs, err := db.Changes(t.Context(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	last := map[string]int{}
	for _, c := range cs {
		n := decode(c.Value)
		if prev, ok := last[c.Key]; ok && n != prev+1 {
			t.Errorf("change %d writes %s version %d after version %d", c.Seq, c.Key, n, prev)
		}
		last[c.Key] = n
	}
	st := db.CacheStats()
	t.Logf("%d Gets beside %d Updates; cache %+v", gets.Load(), writers*perWriter, st)
	if st.Bytes > st.Budget || st.Misses == 0 || st.Evictions == 0 {
		t.Errorf("cache %+v: want misses, evictions and bytes within budget", st)
	}
	for i := range keys {
		want := encode(int(acked[i].Load()))
		if acked[i].Load() == 0 {
			want = encode(1)
		}
		wantGet(t, db, key(i), want)
	}
}
