package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/iotdm/iotdm"
)

// follower runs iotdm.Follow in a goroutine, passing changes on a channel.
type follower struct {
	cancel context.CancelFunc
	ch     chan iotdm.Change
	errc   chan error
}

func follow(t *testing.T, st iotdm.Store, after uint64) *follower {
	ctx, cancel := context.WithCancel(t.Context())
	f := &follower{cancel: cancel, ch: make(chan iotdm.Change, 64), errc: make(chan error, 1)}
	go func() {
		f.errc <- iotdm.Follow(ctx, st, after, func(c iotdm.Change) error {
			select {
			case f.ch <- c:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	t.Cleanup(cancel)
	return f
}

// next receives n changes, failing t if they do not come.
func (f *follower) next(t *testing.T, n int) []iotdm.Change {
	t.Helper()
	out := make([]iotdm.Change, 0, n)
	timeout := time.After(patience)
	for len(out) < n {
		select {
		case c := <-f.ch:
			out = append(out, c)
		case err := <-f.errc:
			t.Fatalf("Follow returned %v after %d of %d changes", err, len(out), n)
		case <-timeout:
			t.Fatalf("Follow delivered %d of %d changes in %v", len(out), n, patience)
		}
	}
	return out
}

// stop cancels Follow and checks it returns ctx's error.
func (f *follower) stop(t *testing.T) {
	t.Helper()
	f.cancel()
	select {
	case err := <-f.errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Follow after cancel returned %v, want context.Canceled", err)
		}
	case <-time.After(patience):
		t.Fatalf("Follow still running %v after cancel", patience)
	}
	select {
	case c := <-f.ch:
		t.Errorf("Follow delivered seq %d that nobody expected", c.Seq)
	default:
	}
}

// fullChange compares changes with their times; empty and nil values are equal.
var fullChange = cmpopts.EquateEmpty()

func testFollow(t *testing.T, s suite) {
	st, _ := s.store(t)
	// History longer than one page of Follow, partly in one big Update.
	const big = 1100
	update(t, st, func(ctx context.Context, tx iotdm.Tx) error {
		for i := range big {
			if err := tx.Put(ctx, kindA, fmt.Sprintf("h%04d", i), jsonf("%d", i)); err != nil {
				return err
			}
		}
		return nil
	})
	for i := range 3 {
		put(t, st, kindA, fmt.Sprintf("s%d", i), jsonf("%d", i))
	}
	history := changes(t, st, 0)
	if len(history) != big+3 {
		t.Fatalf("history has %d changes, want %d", len(history), big+3)
	}

	f := follow(t, st, 0)
	if diff := cmp.Diff(history, f.next(t, len(history)), fullChange); diff != "" {
		t.Fatalf("Follow history (-want +got):\n%s", diff)
	}

	// Live changes, one by one.
	for i := range 5 {
		key := fmt.Sprintf("live%d", i)
		put(t, st, kindA, key, jsonf("%d", i))
		got := f.next(t, 1)[0]
		if want := putChange(uint64(big+4+i), kindA, key, jsonf("%d", i)); !cmp.Equal(want, got, ignoreTime) {
			t.Errorf("Follow live (-want +got):\n%s", cmp.Diff(want, got, ignoreTime))
		}
	}

	// Live changes from concurrent writers arrive in seq order, gap-free.
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 25 {
				if err := st.Update(t.Context(), func(ctx context.Context, tx iotdm.Tx) error {
					return tx.Put(ctx, kindB, writerKey(g, i), writerValue(g, i))
				}); err != nil {
					t.Errorf("Update: %v", err)
				}
			}
		})
	}
	got := f.next(t, 100)
	wg.Wait()
	if diff := cmp.Diff(changes(t, st, uint64(big+8)), got, fullChange); diff != "" {
		t.Errorf("Follow of concurrent writes (-want +got):\n%s", diff)
	}
	f.stop(t)
}

func testFollowFromAnySeq(t *testing.T, s suite) {
	st, _ := s.store(t)
	for i := range 20 {
		put(t, st, kindA, fmt.Sprintf("k%02d", i), jsonf("%d", i))
	}
	all := changes(t, st, 0)
	for _, after := range []uint64{0, 1, 10, 19} {
		f := follow(t, st, after)
		if diff := cmp.Diff(all[after:], f.next(t, 20-int(after)), fullChange); diff != "" {
			t.Errorf("Follow from %d (-want +got):\n%s", after, diff)
		}
		f.stop(t)
	}

	// From the end, and from beyond it: only what commits later.
	f20, f21 := follow(t, st, 20), follow(t, st, 21)
	put(t, st, kindA, "k20", jsonf("20"))
	put(t, st, kindA, "k21", jsonf("21"))
	if got := f20.next(t, 2); got[0].Seq != 21 || got[1].Seq != 22 {
		t.Errorf("Follow from 20 delivered seqs %d, %d; want 21, 22", got[0].Seq, got[1].Seq)
	}
	if got := f21.next(t, 1); got[0].Seq != 22 {
		t.Errorf("Follow from 21 delivered seq %d, want 22", got[0].Seq)
	}
	f20.stop(t)
	f21.stop(t)
}

func testFollowFnError(t *testing.T, s suite) {
	st, _ := s.store(t)
	for i := range 5 {
		put(t, st, kindA, fmt.Sprintf("k%d", i), jsonf("%d", i))
	}
	var seen []uint64
	err := iotdm.Follow(t.Context(), st, 0, func(c iotdm.Change) error {
		seen = append(seen, c.Seq)
		if c.Seq == 3 {
			return errBoom
		}
		return nil
	})
	if err != errBoom { //nolint:errorlint // Follow returns fn's error as is
		t.Errorf("Follow returned %v, want errBoom", err)
	}
	if diff := cmp.Diff([]uint64{1, 2, 3}, seen); diff != "" {
		t.Errorf("Follow delivered (-want +got):\n%s", diff)
	}
}
