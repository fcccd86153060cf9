// Package storetest is the conformance suite for iotdm.Store
// implementations. Every Store (internal/sqlite, later internal/postgres)
// runs it from its own tests:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, dir string) iotdm.Store { ... })
//	}
//
// Beyond the documented contract the suite expects: values round-trip byte
// for byte; keys order by bytes (Go's string order, "C" collation); Put
// copies its value; a canceled context fails Update without running fn; and
// every method of a closed Store returns an error wrapping iotdm.ErrClosed.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/iotdm/iotdm"
)

// Opener opens the Store kept in dir; opening the same dir again after
// Close reopens the same data. It fails t itself when it cannot. The suite
// closes every Store it opens.
type Opener = func(t *testing.T, dir string) iotdm.Store

// Run runs the whole suite as subtests of t, one fresh dir each.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		run  func(t *testing.T, s suite)
	}{
		{"PutGetOverwriteDelete", testPutGetOverwriteDelete},
		{"DeleteMissingRecordsNoChange", testDeleteMissingRecordsNoChange},
		{"DeleteChangeCarriesDeletedValue", testDeleteCarriesValue},
		{"PutCopiesValueAndGetReturnsCopy", testValuesAreCopied},
		{"ScanOrdersByBytes", testScanOrder},
		{"ScanPrefix", testScanPrefix},
		{"ScanAfter", testScanAfter},
		{"ScanLimit", testScanLimit},
		{"ScanStop", testScanStop},
		{"UpdateErrorRollsBackEverything", testUpdateErrorRollsBack},
		{"UpdateReadsSeeOwnWrites", testReadsSeeOwnWrites},
		{"UpdateScanMergesOwnWrites", testScanMergesOwnWrites},
		{"UpdateScanStopsOverOwnWrites", testScanStopsOverOwnWrites},
		{"UpdateCanceledContext", testUpdateCanceledContext},
		{"ConcurrentUpdatesGapFree", testConcurrentUpdates},
		{"ConcurrentFailureIsolated", testConcurrentFailureIsolated},
		{"ConcurrentReadModifyWrite", testConcurrentReadModifyWrite},
		{"ConcurrentScansSerialize", testConcurrentScansSerialize},
		{"ViewSnapshotConsistent", testViewSnapshot},
		{"ViewSnapshotIsolatedFromCommits", testViewIsolated},
		{"ChangesPaging", testChangesPaging},
		{"ChangesInWriteOrderWithinUpdate", testChangesWriteOrder},
		{"WaitWakesOnCommit", testWaitWakes},
		{"WaitReturnsContextError", testWaitContextError},
		{"FollowHistoryThenLive", testFollow},
		{"FollowFromAnySeq", testFollowFromAnySeq},
		{"FollowReturnsFnError", testFollowFnError},
		{"ReopenKeepsDataAndFeed", testReopen},
		{"CloseIdempotentThenErrClosed", testClose},
		{"CloseWakesWait", testCloseWakesWait},
		{"UpdatesRacingCloseCommitOrFail", testUpdatesRacingClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, suite{open: open}) })
	}
}

// suite opens stores for one subtest.
type suite struct {
	open Opener
}

// store opens a Store on a fresh dir, closed when the test ends.
func (s suite) store(t *testing.T) (iotdm.Store, string) {
	t.Helper()
	dir := t.TempDir()
	return s.reopen(t, dir), dir
}

// reopen opens the Store in dir, closed when the test ends (Close is
// idempotent, so tests may close it earlier).
func (s suite) reopen(t *testing.T, dir string) iotdm.Store {
	t.Helper()
	st := s.open(t, dir)
	if st == nil {
		t.Fatalf("open %s returned a nil Store", dir)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return st
}

// errBoom is the error test fns fail with.
var errBoom = errors.New("boom")

// Kinds used by the suite.
const (
	kindA = iotdm.KindThing
	kindB = iotdm.KindThingGroup
)

// jsonf formats a JSON value.
func jsonf(format string, args ...any) []byte {
	return fmt.Appendf(nil, format, args...)
}

// update runs fn in an Update and fails t on error.
func update(t *testing.T, st iotdm.Store, fn func(ctx context.Context, tx iotdm.Tx) error) {
	t.Helper()
	if err := st.Update(t.Context(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// put stores one entity in its own Update.
func put(t *testing.T, st iotdm.Store, kind, key string, value []byte) {
	t.Helper()
	update(t, st, func(ctx context.Context, tx iotdm.Tx) error {
		return tx.Put(ctx, kind, key, value)
	})
}

// del deletes one entity in its own Update.
func del(t *testing.T, st iotdm.Store, kind, key string) {
	t.Helper()
	update(t, st, func(ctx context.Context, tx iotdm.Tx) error {
		return tx.Delete(ctx, kind, key)
	})
}

// get reads one entity in a View.
func get(t *testing.T, st iotdm.Store, kind, key string) (value []byte, ok bool) {
	t.Helper()
	err := st.View(t.Context(), func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
		var err error
		value, ok, err = tx.Get(ctx, kind, key)
		return err
	})
	if err != nil {
		t.Fatalf("View Get %s/%s: %v", kind, key, err)
	}
	return value, ok
}

// wantValue checks the stored value of kind/key, through View and through
// Store.Get; want nil means absent.
func wantValue(t *testing.T, st iotdm.Store, kind, key string, want []byte) {
	t.Helper()
	direct, directOK, err := st.Get(t.Context(), kind, key)
	if err != nil {
		t.Fatalf("Store.Get %s/%s: %v", kind, key, err)
	}
	got, ok := get(t, st, kind, key)
	if directOK != ok || string(direct) != string(got) {
		t.Errorf("Store.Get %s/%s = %q, %v; View Get = %q, %v; want them equal", kind, key, direct, directOK, got, ok)
	}
	switch {
	case want == nil && ok:
		t.Errorf("Get %s/%s = %q, want none", kind, key, got)
	case want != nil && !ok:
		t.Errorf("Get %s/%s: none, want %q", kind, key, want)
	case want != nil && string(got) != string(want):
		t.Errorf("Get %s/%s = %q, want %q", kind, key, got, want)
	}
}

// kv is one scanned entity.
type kv struct{ Key, Value string }

// scanTx collects a Scan on tx.
func scanTx(ctx context.Context, tx iotdm.ReadTx, kind, prefix, after string, limit int) ([]kv, error) {
	var out []kv
	err := tx.Scan(ctx, kind, prefix, after, limit, func(key string, value []byte) error {
		out = append(out, kv{key, string(value)})
		return nil
	})
	return out, err
}

// scan collects a Scan in a View.
func scan(t *testing.T, st iotdm.Store, kind, prefix, after string, limit int) []kv {
	t.Helper()
	var out []kv
	err := st.View(t.Context(), func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
		var err error
		out, err = scanTx(ctx, tx, kind, prefix, after, limit)
		return err
	})
	if err != nil {
		t.Fatalf("View Scan %s prefix %q after %q limit %d: %v", kind, prefix, after, limit, err)
	}
	return out
}

// keys returns the keys of kvs.
func keys(kvs []kv) []string {
	out := make([]string, 0, len(kvs))
	for _, e := range kvs {
		out = append(out, e.Key)
	}
	return out
}

// changes returns every change after after, paging through Changes.
func changes(t *testing.T, st iotdm.Store, after uint64) []iotdm.Change {
	t.Helper()
	var out []iotdm.Change
	for {
		page, err := st.Changes(t.Context(), after, 100)
		if err != nil {
			t.Fatalf("Changes(%d, 100): %v", after, err)
		}
		if len(page) > 100 {
			t.Fatalf("Changes(%d, 100) returned %d changes", after, len(page))
		}
		out = append(out, page...)
		if len(page) < 100 {
			return out
		}
		after = page[len(page)-1].Seq
	}
}

// lastSeq returns the Store's LastSeq.
func lastSeq(t *testing.T, st iotdm.Store) uint64 {
	t.Helper()
	seq, err := st.LastSeq(t.Context())
	if err != nil {
		t.Fatalf("LastSeq: %v", err)
	}
	return seq
}

// putChange and delChange build expected changes.
func putChange(seq uint64, kind, key string, value []byte) iotdm.Change {
	return iotdm.Change{Seq: seq, Op: iotdm.OpPut, Kind: kind, Key: key, Value: value}
}

func delChange(seq uint64, kind, key string, deleted []byte) iotdm.Change {
	return iotdm.Change{Seq: seq, Op: iotdm.OpDelete, Kind: kind, Key: key, Value: deleted}
}

// ignoreTime compares changes without their commit time; empty and nil
// values are equal.
var ignoreTime = cmp.Options{cmpopts.IgnoreFields(iotdm.Change{}, "Time"), cmpopts.EquateEmpty()}

// wantChanges checks the whole feed (ignoring times) and LastSeq.
func wantChanges(t *testing.T, st iotdm.Store, want []iotdm.Change) {
	t.Helper()
	got := changes(t, st, 0)
	if diff := cmp.Diff(want, got, ignoreTime); diff != "" {
		t.Errorf("Changes(0) mismatch (-want +got):\n%s", diff)
	}
	var last uint64
	if len(want) > 0 {
		last = want[len(want)-1].Seq
	}
	if got := lastSeq(t, st); got != last {
		t.Errorf("LastSeq = %d, want %d", got, last)
	}
}
