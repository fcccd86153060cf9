package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/iotdm/iotdm"
)

// settle is how long a test waits to see that something does not happen.
const settle = 50 * time.Millisecond

// patience is how long a test waits for something that should happen.
const patience = 10 * time.Second

func testChangesPaging(t *testing.T, s suite) {
	st, _ := s.store(t)
	before := time.Now()
	var want []iotdm.Change
	for i := 1; i <= 10; i++ {
		key := fmt.Sprintf("k%d", i)
		if i%4 == 0 {
			del(t, st, kindA, fmt.Sprintf("k%d", i-1))
			want = append(want, delChange(uint64(i), kindA, fmt.Sprintf("k%d", i-1), jsonf("%d", i-1)))
			continue
		}
		put(t, st, kindA, key, jsonf("%d", i))
		want = append(want, putChange(uint64(i), kindA, key, jsonf("%d", i)))
	}
	after := time.Now()

	for _, tc := range []struct {
		after     uint64
		limit     int
		from, end int // want[from:end]
	}{
		{0, 3, 0, 3},
		{3, 3, 3, 6},
		{6, 3, 6, 9},
		{9, 3, 9, 10},
		{10, 3, 10, 10},
		{42, 3, 10, 10},
		{0, 100, 0, 10},
		{4, 1, 4, 5},
	} {
		got, err := st.Changes(t.Context(), tc.after, tc.limit)
		if err != nil {
			t.Fatalf("Changes(%d, %d): %v", tc.after, tc.limit, err)
		}
		if diff := cmp.Diff(want[tc.from:tc.end], got, ignoreTime); diff != "" {
			t.Errorf("Changes(%d, %d) (-want +got):\n%s", tc.after, tc.limit, diff)
		}
	}
	// Commit times are real: within the test's run, give or take clock skew
	// between the test and a database server.
	const skew = time.Minute
	for _, c := range changes(t, st, 0) {
		if c.Time.Before(before.Add(-skew)) || c.Time.After(after.Add(skew)) {
			t.Errorf("change %d has time %v, want between %v and %v", c.Seq, c.Time, before, after)
		}
	}
}

func testChangesWriteOrder(t *testing.T, s suite) {
	st, _ := s.store(t)
	put(t, st, kindB, "x", jsonf(`"x"`))
	update(t, st, func(ctx context.Context, tx iotdm.Tx) error {
		for _, step := range []func() error{
			func() error { return tx.Put(ctx, kindA, "b", jsonf(`"b"`)) },
			func() error { return tx.Put(ctx, kindA, "a", jsonf(`"a"`)) },
			func() error { return tx.Delete(ctx, kindB, "x") },
			func() error { return tx.Delete(ctx, kindB, "nothing") },
			func() error { return tx.Put(ctx, kindA, "b", jsonf(`"b2"`)) },
			func() error { return tx.Delete(ctx, kindA, "a") },
		} {
			if err := step(); err != nil {
				return err
			}
		}
		return nil
	})
	wantChanges(t, st, []iotdm.Change{
		putChange(1, kindB, "x", jsonf(`"x"`)),
		putChange(2, kindA, "b", jsonf(`"b"`)),
		putChange(3, kindA, "a", jsonf(`"a"`)),
		delChange(4, kindB, "x", jsonf(`"x"`)),
		putChange(5, kindA, "b", jsonf(`"b2"`)),
		delChange(6, kindA, "a", jsonf(`"a"`)),
	})
	// All changes of one Update share one commit time.
	cs := changes(t, st, 1)
	for _, c := range cs[1:] {
		if !c.Time.Equal(cs[0].Time) {
			t.Errorf("change %d has time %v, change %d of the same Update %v", c.Seq, c.Time, cs[0].Seq, cs[0].Time)
		}
	}
}

// waitAsync runs Wait in a goroutine and returns its result channel.
func waitAsync(ctx context.Context, st iotdm.Store, after uint64) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- st.Wait(ctx, after) }()
	return ch
}

// blocked fails t unless ch stays empty for a while.
func blocked(t *testing.T, ch <-chan error, what string) {
	t.Helper()
	select {
	case err := <-ch:
		t.Fatalf("%s returned %v, want it still waiting", what, err)
	case <-time.After(settle):
	}
}

// returns waits for ch and returns its error.
func returns(t *testing.T, ch <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(patience):
		t.Fatalf("%s still waiting after %v", what, patience)
		return nil
	}
}

func testWaitWakes(t *testing.T, s suite) {
	st, _ := s.store(t)
	ch := waitAsync(t.Context(), st, 0)
	blocked(t, ch, "Wait(0) on an empty store")
	put(t, st, kindA, "a", jsonf("1"))
	if err := returns(t, ch, "Wait(0) after a commit"); err != nil {
		t.Fatalf("Wait(0) after a commit: %v", err)
	}

	// Already past: returns at once.
	if err := st.Wait(t.Context(), 0); err != nil {
		t.Errorf("Wait(0) at seq 1: %v", err)
	}

	// Neither a failed Update nor one that changes nothing wakes a waiter.
	ch = waitAsync(t.Context(), st, 1)
	_ = st.Update(t.Context(), func(ctx context.Context, tx iotdm.Tx) error {
		if err := tx.Put(ctx, kindA, "b", jsonf("1")); err != nil {
			return err
		}
		return errBoom
	})
	del(t, st, kindA, "missing")
	blocked(t, ch, "Wait(1) after no new change")
	put(t, st, kindA, "b", jsonf("2"))
	if err := returns(t, ch, "Wait(1) after a commit"); err != nil {
		t.Fatalf("Wait(1) after a commit: %v", err)
	}

	// Many waiters wake on one commit.
	var chs []<-chan error
	for range 10 {
		chs = append(chs, waitAsync(t.Context(), st, 2))
	}
	put(t, st, kindA, "c", jsonf("3"))
	for _, ch := range chs {
		if err := returns(t, ch, "Wait(2) after a commit"); err != nil {
			t.Errorf("Wait(2) after a commit: %v", err)
		}
	}
}

func testWaitContextError(t *testing.T, s suite) {
	st, _ := s.store(t)
	ctx, cancel := context.WithCancel(t.Context())
	ch := waitAsync(ctx, st, 0)
	blocked(t, ch, "Wait")
	cancel()
	if err := returns(t, ch, "Wait after cancel"); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait after cancel returned %v, want context.Canceled", err)
	}

	ctx, cancel = context.WithTimeout(t.Context(), settle)
	defer cancel()
	if err := st.Wait(ctx, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait past its deadline returned %v, want context.DeadlineExceeded", err)
	}
}
