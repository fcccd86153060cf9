package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/iotdm/iotdm"
)

func testUpdateErrorRollsBack(t *testing.T, s suite) {
	st, _ := s.store(t)
	x1, y1 := jsonf(`{"x":1}`), jsonf(`{"y":1}`)
	put(t, st, kindA, "x", x1)
	put(t, st, kindA, "y", y1)

	err := st.Update(t.Context(), func(ctx context.Context, tx iotdm.Tx) error {
		if err := tx.Put(ctx, kindA, "x", jsonf(`{"x":2}`)); err != nil {
			return err
		}
		if err := tx.Put(ctx, kindA, "z", jsonf(`{"z":1}`)); err != nil {
			return err
		}
		if err := tx.Delete(ctx, kindA, "y"); err != nil {
			return err
		}
		if v, ok, err := tx.Get(ctx, kindA, "x"); err != nil || !ok || string(v) != `{"x":2}` {
			t.Errorf("Get inside the failing Update = %q, %v, %v; want its own write", v, ok, err)
		}
		return errBoom
	})
	if err != errBoom { //nolint:errorlint // the contract: "returned as is"
		t.Errorf("Update returned %v, want errBoom as is", err)
	}
	wantValue(t, st, kindA, "x", x1)
	wantValue(t, st, kindA, "y", y1)
	wantValue(t, st, kindA, "z", nil)
	wantChanges(t, st, []iotdm.Change{putChange(1, kindA, "x", x1), putChange(2, kindA, "y", y1)})

	// The rolled-back Update left no gap: the next change is seq 3.
	w := jsonf(`{"w":1}`)
	put(t, st, kindA, "w", w)
	wantChanges(t, st, []iotdm.Change{
		putChange(1, kindA, "x", x1),
		putChange(2, kindA, "y", y1),
		putChange(3, kindA, "w", w),
	})
}

func testReadsSeeOwnWrites(t *testing.T, s suite) {
	st, _ := s.store(t)
	put(t, st, kindA, "old", jsonf(`"old"`))
	update(t, st, func(ctx context.Context, tx iotdm.Tx) error {
		check := func(step, key, want string) {
			t.Helper()
			v, ok, err := tx.Get(ctx, kindA, key)
			switch {
			case err != nil:
				t.Errorf("%s: Get %s: %v", step, key, err)
			case want == "" && ok:
				t.Errorf("%s: Get %s = %s, want none", step, key, v)
			case want != "" && (!ok || string(v) != want):
				t.Errorf("%s: Get %s = %q, %v; want %s", step, key, v, ok, want)
			}
		}
		scanned := func(step string, want ...string) {
			t.Helper()
			got, err := scanTx(ctx, tx, kindA, "", "", 0)
			if err != nil {
				t.Errorf("%s: Scan: %v", step, err)
			}
			if diff := cmp.Diff(want, keys(got), cmpEmpty); diff != "" {
				t.Errorf("%s: Scan keys (-want +got):\n%s", step, diff)
			}
		}
		check("committed before", "old", `"old"`)
		if err := tx.Put(ctx, kindA, "new", jsonf(`"v1"`)); err != nil {
			return err
		}
		check("after put", "new", `"v1"`)
		scanned("after put", "new", "old")
		if err := tx.Put(ctx, kindA, "new", jsonf(`"v2"`)); err != nil {
			return err
		}
		check("after overwrite", "new", `"v2"`)
		if err := tx.Delete(ctx, kindA, "old"); err != nil {
			return err
		}
		check("after delete", "old", "")
		scanned("after delete", "new")
		return nil
	})
	wantChanges(t, st, []iotdm.Change{
		putChange(1, kindA, "old", jsonf(`"old"`)),
		putChange(2, kindA, "new", jsonf(`"v1"`)),
		putChange(3, kindA, "new", jsonf(`"v2"`)),
		delChange(4, kindA, "old", jsonf(`"old"`)),
	})
}

func testUpdateCanceledContext(t *testing.T, s suite) {
	st, _ := s.store(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	ran := false
	err := st.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		ran = true
		return tx.Put(ctx, kindA, "a", jsonf(`1`))
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Update with a canceled context returned %v, want context.Canceled", err)
	}
	if ran {
		t.Errorf("Update with a canceled context ran fn")
	}
	wantValue(t, st, kindA, "a", nil)
	wantChanges(t, st, nil)
}

// testScanMergesOwnWrites checks Scan inside an Update over a mix of
// committed entities and fn's own puts, overwrites and deletes, with
// prefixes, after keys and limits.
func testScanMergesOwnWrites(t *testing.T, s suite) {
	st, _ := s.store(t)
	putKeys(t, st, "a", "c", "e", "g")
	update(t, st, func(ctx context.Context, tx iotdm.Tx) error {
		for _, k := range []string{"b", "e", "f"} {
			if err := tx.Put(ctx, kindA, k, jsonf(`"new %s"`, k)); err != nil {
				return err
			}
		}
		if err := tx.Delete(ctx, kindA, "c"); err != nil {
			return err
		}
		tests := []struct {
			prefix, after string
			limit         int
			want          []string
		}{
			{"", "", 0, []string{"a", "b", "e", "f", "g"}},
			{"", "", 2, []string{"a", "b"}},
			{"", "", 3, []string{"a", "b", "e"}},
			{"", "b", 0, []string{"e", "f", "g"}},
			{"", "e", 1, []string{"f"}},
			{"f", "", 0, []string{"f"}},
			{"c", "", 0, nil},
		}
		for _, tc := range tests {
			got, err := scanTx(ctx, tx, kindA, tc.prefix, tc.after, tc.limit)
			if err != nil {
				return err
			}
			if diff := cmp.Diff(tc.want, keys(got), cmpEmpty); diff != "" {
				t.Errorf("Scan(prefix %q, after %q, limit %d) keys (-want +got):\n%s", tc.prefix, tc.after, tc.limit, diff)
			}
			for _, e := range got {
				if e.Key == "e" && e.Value != `"new e"` {
					t.Errorf("Scan value of e = %s, want the buffered overwrite", e.Value)
				}
			}
		}
		return nil
	})
	wantValue(t, st, kindA, "c", nil)
	wantValue(t, st, kindA, "e", jsonf(`"new e"`))
}

// testScanStopsOverOwnWrites checks that a Scan inside an Update stops
// where its callback stops it, whether that entity is committed or one of
// fn's buffered writes, and never calls the callback again: neither for
// the committed rows after it nor for buffered writes after the last
// committed row.
func testScanStopsOverOwnWrites(t *testing.T, s suite) {
	st, _ := s.store(t)
	putKeys(t, st, "a", "c")
	all := []string{"a", "b", "c", "d"}
	update(t, st, func(ctx context.Context, tx iotdm.Tx) error {
		for _, k := range []string{"b", "d"} {
			if err := tx.Put(ctx, kindA, k, jsonf(`"new %s"`, k)); err != nil {
				return err
			}
		}
		for n := 1; n <= len(all); n++ {
			for _, stop := range []error{iotdm.ErrStopScan, errBoom} {
				var seen []string
				err := tx.Scan(ctx, kindA, "", "", 0, func(key string, _ []byte) error {
					seen = append(seen, key)
					if len(seen) == n {
						return stop
					}
					return nil
				})
				want := stop
				if stop == iotdm.ErrStopScan {
					want = nil
				}
				if !errors.Is(err, want) || (want == nil && err != nil) {
					t.Errorf("Scan whose callback returns %v at key %d returned %v, want %v", stop, n, err, want)
				}
				if diff := cmp.Diff(all[:n], seen); diff != "" {
					t.Errorf("Scan whose callback returns %v at key %d saw (-want +got):\n%s", stop, n, diff)
				}
			}
		}
		return nil
	})
}
