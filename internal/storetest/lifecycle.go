package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/iotdm/iotdm"
)

func testReopen(t *testing.T, s suite) {
	st, dir := s.store(t)
	put(t, st, kindA, "a", jsonf(`"a"`))
	put(t, st, kindA, "b", jsonf(`"b"`))
	del(t, st, kindA, "a")
	update(t, st, func(ctx context.Context, tx iotdm.Tx) error {
		if err := tx.Put(ctx, kindB, "g", jsonf(`"g"`)); err != nil {
			return err
		}
		return tx.Put(ctx, kindA, "c", jsonf(`"c"`))
	})
	before := changes(t, st, 0)
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	st = s.reopen(t, dir)
	wantValue(t, st, kindA, "a", nil)
	wantValue(t, st, kindA, "b", jsonf(`"b"`))
	wantValue(t, st, kindA, "c", jsonf(`"c"`))
	wantValue(t, st, kindB, "g", jsonf(`"g"`))
	if diff := cmp.Diff(before, changes(t, st, 0), fullChange); diff != "" {
		t.Errorf("feed after reopen (-before +after):\n%s", diff)
	}
	if got := lastSeq(t, st); got != 5 {
		t.Errorf("LastSeq after reopen = %d, want 5", got)
	}
	err := st.View(t.Context(), func(_ context.Context, _ iotdm.ReadTx, seq uint64) error {
		if seq != 5 {
			t.Errorf("View seq after reopen = %d, want 5", seq)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}

	// Seqs go on from the last one.
	ch := waitAsync(t.Context(), st, 5)
	blocked(t, ch, "Wait(5) after reopen at seq 5")
	put(t, st, kindA, "d", jsonf(`"d"`))
	if err := returns(t, ch, "Wait(5) after a commit"); err != nil {
		t.Errorf("Wait(5) after a commit: %v", err)
	}
	want := append(before, putChange(6, kindA, "d", jsonf(`"d"`)))
	wantChanges(t, st, want)
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	st = s.reopen(t, dir)
	wantChanges(t, st, want)
	wantValue(t, st, kindA, "d", jsonf(`"d"`))
}

func testClose(t *testing.T, s suite) {
	st, _ := s.store(t)
	put(t, st, kindA, "a", jsonf("1"))
	var wg sync.WaitGroup
	for range 4 { // concurrent Closes
		wg.Go(func() {
			if err := st.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	wg.Wait()
	if err := st.Close(); err != nil {
		t.Errorf("Close again: %v", err)
	}

	ctx := t.Context()
	ran := false
	checks := []struct {
		name string
		err  error
	}{
		{"Update", st.Update(ctx, func(context.Context, iotdm.Tx) error { ran = true; return nil })},
		{"View", st.View(ctx, func(context.Context, iotdm.ReadTx, uint64) error { ran = true; return nil })},
		{"Wait", st.Wait(ctx, 1)},
	}
	_, err := st.Changes(ctx, 0, 10)
	checks = append(checks, struct {
		name string
		err  error
	}{"Changes", err})
	_, err = st.LastSeq(ctx)
	checks = append(checks, struct {
		name string
		err  error
	}{"LastSeq", err})
	for _, c := range checks {
		if !errors.Is(c.err, iotdm.ErrClosed) {
			t.Errorf("%s after Close returned %v, want iotdm.ErrClosed", c.name, c.err)
		}
	}
	if ran {
		t.Errorf("a closed Store ran an fn")
	}
}

func testCloseWakesWait(t *testing.T, s suite) {
	st, _ := s.store(t)
	ch := waitAsync(t.Context(), st, 0)
	blocked(t, ch, "Wait")
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := returns(t, ch, "Wait after Close"); !errors.Is(err, iotdm.ErrClosed) {
		t.Errorf("Wait interrupted by Close returned %v, want iotdm.ErrClosed", err)
	}
}

// testUpdatesRacingClose: Updates that race Close either commit durably or
// fail with ErrClosed; none is lost after being acknowledged.
func testUpdatesRacingClose(t *testing.T, s suite) {
	st, dir := s.store(t)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		acked []kv
	)
	started := make(chan struct{})
	var once sync.Once
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				key, value := writerKey(g, i), writerValue(g, i)
				err := st.Update(t.Context(), func(ctx context.Context, tx iotdm.Tx) error {
					return tx.Put(ctx, kindA, key, value)
				})
				if err != nil {
					if !errors.Is(err, iotdm.ErrClosed) {
						t.Errorf("Update racing Close returned %v, want nil or iotdm.ErrClosed", err)
					}
					return
				}
				mu.Lock()
				acked = append(acked, kv{key, string(value)})
				mu.Unlock()
				once.Do(func() { close(started) })
			}
		})
	}
	select {
	case <-started:
	case <-time.After(patience):
		t.Fatalf("no Update committed in %v", patience)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()

	st = s.reopen(t, dir)
	cs := changes(t, st, 0)
	if len(cs) != len(acked) {
		t.Errorf("%d changes after reopen, %d Updates acknowledged", len(cs), len(acked))
	}
	for _, e := range acked {
		wantValue(t, st, kindA, e.Key, []byte(e.Value))
	}
}
