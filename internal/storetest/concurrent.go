package storetest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/iotdm/iotdm"
)

// writerKey and writerValue name the i-th write of goroutine g.
func writerKey(g, i int) string { return fmt.Sprintf("g%02d/%03d", g, i) }

func writerValue(g, i int) []byte { return jsonf(`{"g":%d,"i":%d}`, g, i) }

func testConcurrentUpdates(t *testing.T, s suite) {
	const goroutines, perGoroutine = 64, 50
	st, _ := s.store(t)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perGoroutine {
				err := st.Update(t.Context(), func(ctx context.Context, tx iotdm.Tx) error {
					return tx.Put(ctx, kindA, writerKey(g, i), writerValue(g, i))
				})
				if err != nil {
					t.Errorf("Update %s: %v", writerKey(g, i), err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	const total = goroutines * perGoroutine
	cs := changes(t, st, 0)
	if len(cs) != total {
		t.Fatalf("got %d changes, want %d", len(cs), total)
	}
	next := make([]int, goroutines) // next i expected from each goroutine
	for n, c := range cs {
		if c.Seq != uint64(n+1) {
			t.Fatalf("change %d has seq %d, want %d (gap-free from 1)", n, c.Seq, n+1)
		}
		var g, i int
		if _, err := fmt.Sscanf(c.Key, "g%02d/%03d", &g, &i); err != nil || c.Kind != kindA || c.Op != iotdm.OpPut {
			t.Fatalf("unexpected change %+v", c)
		}
		if i != next[g] {
			t.Errorf("seq %d: write %d of goroutine %d, want its write %d (per-caller order)", c.Seq, i, g, next[g])
		}
		next[g] = i + 1
		if want := writerValue(g, i); string(c.Value) != string(want) {
			t.Errorf("seq %d: value %s, want %s", c.Seq, c.Value, want)
		}
	}
	if got := lastSeq(t, st); got != total {
		t.Errorf("LastSeq = %d, want %d", got, total)
	}
	err := st.View(t.Context(), func(ctx context.Context, tx iotdm.ReadTx, seq uint64) error {
		if seq != total {
			t.Errorf("View seq = %d, want %d", seq, total)
		}
		n := 0
		err := tx.Scan(ctx, kindA, "", "", 0, func(key string, value []byte) error {
			var g, i int
			if _, err := fmt.Sscanf(key, "g%02d/%03d", &g, &i); err != nil {
				return fmt.Errorf("unexpected key %q", key)
			}
			if want := writerValue(g, i); string(value) != string(want) {
				t.Errorf("%s = %s, want %s", key, value, want)
			}
			n++
			return nil
		})
		if n != total {
			t.Errorf("Scan saw %d entities, want %d", n, total)
		}
		return err
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
}

func testConcurrentFailureIsolated(t *testing.T, s suite) {
	const goroutines, perGoroutine = 32, 20
	st, _ := s.store(t)
	fails := func(g, i int) bool { return (g+i)%3 == 0 }
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perGoroutine {
				err := st.Update(t.Context(), func(ctx context.Context, tx iotdm.Tx) error {
					// Two writes each, so a rollback must reclaim two seqs.
					if err := tx.Put(ctx, kindA, writerKey(g, i), writerValue(g, i)); err != nil {
						return err
					}
					if err := tx.Put(ctx, kindB, writerKey(g, i), writerValue(g, i)); err != nil {
						return err
					}
					if fails(g, i) {
						return errBoom
					}
					return nil
				})
				switch {
				case fails(g, i) && err != errBoom: //nolint:errorlint // "returned as is"
					t.Errorf("failing Update %s returned %v, want errBoom as is", writerKey(g, i), err)
				case !fails(g, i) && err != nil:
					t.Errorf("Update %s: %v", writerKey(g, i), err)
				}
			}
		})
	}
	wg.Wait()

	var want int
	for g := range goroutines {
		for i := range perGoroutine {
			if fails(g, i) {
				wantValue(t, st, kindA, writerKey(g, i), nil)
				wantValue(t, st, kindB, writerKey(g, i), nil)
				continue
			}
			want += 2
			wantValue(t, st, kindA, writerKey(g, i), writerValue(g, i))
		}
	}
	cs := changes(t, st, 0)
	if len(cs) != want {
		t.Fatalf("got %d changes, want %d", len(cs), want)
	}
	for n := 0; n < len(cs); n += 2 {
		a, b := cs[n], cs[n+1]
		if a.Seq != uint64(n+1) || b.Seq != uint64(n+2) {
			t.Fatalf("changes %d,%d have seqs %d,%d: want gap-free", n, n+1, a.Seq, b.Seq)
		}
		// An Update's changes are contiguous and in its write order.
		if a.Kind != kindA || b.Kind != kindB || a.Key != b.Key {
			t.Errorf("seqs %d,%d: %s/%s then %s/%s, want one Update's two puts", a.Seq, b.Seq, a.Kind, a.Key, b.Kind, b.Key)
		}
		var g, i int
		if _, err := fmt.Sscanf(a.Key, "g%02d/%03d", &g, &i); err != nil || fails(g, i) {
			t.Errorf("seq %d: change %s/%s of a failed Update", a.Seq, a.Kind, a.Key)
		}
	}
}

func testViewSnapshot(t *testing.T, s suite) {
	const rounds = 100
	st, _ := s.store(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for n := 1; n <= rounds; n++ {
			err := st.Update(t.Context(), func(ctx context.Context, tx iotdm.Tx) error {
				v := jsonf("%d", n)
				if err := tx.Put(ctx, kindA, "pair/a", v); err != nil {
					return err
				}
				return tx.Put(ctx, kindA, "pair/b", v)
			})
			if err != nil {
				t.Errorf("Update %d: %v", n, err)
				return
			}
		}
	}()

	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				err := st.View(t.Context(), func(ctx context.Context, tx iotdm.ReadTx, seq uint64) error {
					a, aok, err := tx.Get(ctx, kindA, "pair/a")
					if err != nil {
						return err
					}
					b, bok, err := tx.Get(ctx, kindA, "pair/b")
					if err != nil {
						return err
					}
					scanned, err := scanTx(ctx, tx, kindA, "pair/", "", 0)
					if err != nil {
						return err
					}
					if seq == 0 {
						if aok || bok || len(scanned) != 0 {
							t.Errorf("View at seq 0 sees a=%s b=%s scan=%v", a, b, scanned)
						}
						return nil
					}
					n, err := strconv.Atoi(string(a))
					switch {
					case err != nil || !aok || !bok:
						t.Errorf("View at seq %d: a=%q (%v) b=%q (%v)", seq, a, aok, b, bok)
					case string(a) != string(b):
						t.Errorf("View at seq %d: torn pair a=%s b=%s", seq, a, b)
					case seq != uint64(2*n):
						t.Errorf("View at seq %d sees round %d, which committed at seq %d", seq, n, 2*n)
					case len(scanned) != 2 || scanned[0].Value != string(a) || scanned[1].Value != string(a):
						t.Errorf("View at seq %d: Get says %s, Scan says %v", seq, a, scanned)
					}
					return nil
				})
				if err != nil {
					t.Errorf("View: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func testViewIsolated(t *testing.T, s suite) {
	st, _ := s.store(t)
	put(t, st, kindA, "a", jsonf("1"))
	err := st.View(t.Context(), func(ctx context.Context, tx iotdm.ReadTx, seq uint64) error {
		if v, _, err := tx.Get(ctx, kindA, "a"); err != nil || string(v) != "1" {
			t.Errorf("Get a = %s, %v; want 1", v, err)
		}
		// Commit while the View is open: it must not see the commit.
		put(t, st, kindA, "a", jsonf("2"))
		put(t, st, kindA, "b", jsonf("2"))
		if v, _, err := tx.Get(ctx, kindA, "a"); err != nil || string(v) != "1" {
			t.Errorf("Get a after a later commit = %s, %v; want the snapshot's 1", v, err)
		}
		if v, ok, err := tx.Get(ctx, kindA, "b"); err != nil || ok {
			t.Errorf("Get b after a later commit = %s, %v, %v; want none", v, ok, err)
		}
		if seq != 1 {
			t.Errorf("View seq = %d, want 1", seq)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	wantValue(t, st, kindA, "a", jsonf("2"))
}

// testConcurrentReadModifyWrite has many goroutines increment one counter
// through Get and Put inside Update: every increment must see the one
// committed before it, however the store batches, pipelines or caches.
func testConcurrentReadModifyWrite(t *testing.T, s suite) {
	st, _ := s.store(t)
	const workers, each = 16, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				err := st.Update(t.Context(), func(ctx context.Context, tx iotdm.Tx) error {
					n := 0
					if v, ok, err := tx.Get(ctx, kindA, "counter"); err != nil {
						return err
					} else if ok {
						if _, err := fmt.Sscan(string(v), &n); err != nil {
							return err
						}
					}
					return tx.Put(ctx, kindA, "counter", []byte(fmt.Sprint(n+1)))
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Update: %v", err)
	}
	wantValue(t, st, kindA, "counter", []byte(fmt.Sprint(workers*each)))
}

// testConcurrentScansSerialize has concurrent Updates each count the
// entities of a kind with Scan and then add one: Updates run one after
// another, so the counts seen must be exactly 0, 1, ..., n-1, whatever the
// store batches together.
func testConcurrentScansSerialize(t *testing.T, s suite) {
	st, _ := s.store(t)
	const workers, each = 16, 30
	var (
		mu   sync.Mutex
		seen []int
		wg   sync.WaitGroup
	)
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				var n int
				err := st.Update(t.Context(), func(ctx context.Context, tx iotdm.Tx) error {
					n = 0
					if err := tx.Scan(ctx, kindB, "", "", 0, func(string, []byte) error { n++; return nil }); err != nil {
						return err
					}
					return tx.Put(ctx, kindB, fmt.Sprintf("w%02d-%03d", w, i), []byte(`{}`))
				})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				seen = append(seen, n)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Update: %v", err)
	}
	slices.Sort(seen)
	for i, n := range seen {
		if n != i {
			t.Fatalf("the %dth Update saw %d entities, want %d: Updates did not serialize", i, n, i)
		}
	}
}
