package storetest

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/iotdm/iotdm"
)

func testPutGetOverwriteDelete(t *testing.T, s suite) {
	st, _ := s.store(t)
	wantValue(t, st, kindA, "a", nil)

	v1, v2, g1 := jsonf(`{"v":1}`), jsonf(`{"v":2}`), jsonf(`{"g":1}`)
	put(t, st, kindA, "a", v1)
	wantValue(t, st, kindA, "a", v1)
	put(t, st, kindA, "a", v2)
	wantValue(t, st, kindA, "a", v2)

	// Kinds are separate key spaces.
	put(t, st, kindB, "a", g1)
	wantValue(t, st, kindA, "a", v2)
	wantValue(t, st, kindB, "a", g1)

	del(t, st, kindA, "a")
	wantValue(t, st, kindA, "a", nil)
	wantValue(t, st, kindB, "a", g1)

	// A large value round-trips byte for byte.
	big := bytes.Repeat([]byte(`"0123456789abcdef",`), 1<<12)
	big = append(append([]byte{'['}, big[:len(big)-1]...), ']')
	put(t, st, kindA, "big", big)
	wantValue(t, st, kindA, "big", big)

	wantChanges(t, st, []iotdm.Change{
		putChange(1, kindA, "a", v1),
		putChange(2, kindA, "a", v2),
		putChange(3, kindB, "a", g1),
		delChange(4, kindA, "a", v2),
		putChange(5, kindA, "big", big),
	})
}

func testDeleteMissingRecordsNoChange(t *testing.T, s suite) {
	st, _ := s.store(t)
	del(t, st, kindA, "missing")
	update(t, st, func(context.Context, iotdm.Tx) error { return nil }) // empty Update
	wantChanges(t, st, nil)

	v := jsonf(`{"v":1}`)
	put(t, st, kindA, "a", v)
	del(t, st, kindB, "a") // same key, other kind
	update(t, st, func(ctx context.Context, tx iotdm.Tx) error {
		if err := tx.Delete(ctx, kindA, "a"); err != nil {
			return err
		}
		return tx.Delete(ctx, kindA, "a") // gone already
	})
	del(t, st, kindA, "a")
	wantChanges(t, st, []iotdm.Change{
		putChange(1, kindA, "a", v),
		delChange(2, kindA, "a", v),
	})
}

// testDeleteCarriesValue: a delete's change carries the deleted value, the
// entity's last value as the deleting Update saw it, whether that value was
// committed long ago (read back after a reopen), overwritten earlier in the
// same Update, or put and deleted in one Update; the feed read from disk
// after a reopen carries it too.
func testDeleteCarriesValue(t *testing.T, s suite) {
	st, dir := s.store(t)
	put(t, st, kindA, "old", jsonf(`{"v":"old"}`))
	put(t, st, kindA, "over", jsonf(`{"v":1}`))
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	st = s.reopen(t, dir) // nothing cached: the delete reads the stored value
	del(t, st, kindA, "old")
	update(t, st, func(ctx context.Context, tx iotdm.Tx) error {
		if err := tx.Put(ctx, kindA, "over", jsonf(`{"v":2}`)); err != nil {
			return err
		}
		if err := tx.Delete(ctx, kindA, "over"); err != nil {
			return err
		}
		if err := tx.Put(ctx, kindB, "brief", jsonf(`"brief"`)); err != nil {
			return err
		}
		return tx.Delete(ctx, kindB, "brief")
	})
	want := []iotdm.Change{
		putChange(1, kindA, "old", jsonf(`{"v":"old"}`)),
		putChange(2, kindA, "over", jsonf(`{"v":1}`)),
		delChange(3, kindA, "old", jsonf(`{"v":"old"}`)),
		putChange(4, kindA, "over", jsonf(`{"v":2}`)),
		delChange(5, kindA, "over", jsonf(`{"v":2}`)),
		putChange(6, kindB, "brief", jsonf(`"brief"`)),
		delChange(7, kindB, "brief", jsonf(`"brief"`)),
	}
	wantChanges(t, st, want)
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wantChanges(t, s.reopen(t, dir), want) // the stored feed keeps them
}

func testValuesAreCopied(t *testing.T, s suite) {
	st, _ := s.store(t)
	buf := jsonf(`{"v":1}`)
	update(t, st, func(ctx context.Context, tx iotdm.Tx) error {
		if err := tx.Put(ctx, kindA, "a", buf); err != nil {
			return err
		}
		copy(buf, `{"v":2}`) // the caller reuses its buffer
		return nil
	})
	wantValue(t, st, kindA, "a", jsonf(`{"v":1}`))

	got, _ := get(t, st, kindA, "a")
	copy(got, `{"v":3}`) // the caller scribbles on what it got
	wantValue(t, st, kindA, "a", jsonf(`{"v":1}`))
	if cs := changes(t, st, 0); len(cs) != 1 || string(cs[0].Value) != `{"v":1}` {
		t.Errorf("Changes = %+v, want one put of {\"v\":1}", cs)
	}
}

// orderKeys sort differently by bytes than by most locales' collations.
var orderKeys = []string{
	"a", "B", "a/b", "a-b", "ab", "a/", "aa", "b", "é", "Z", "a b", "~", "A", "a.b", "a0", "_",
}

func testScanOrder(t *testing.T, s suite) {
	st, _ := s.store(t)
	shuffled := slices.Clone(orderKeys)
	rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	update(t, st, func(ctx context.Context, tx iotdm.Tx) error {
		for _, k := range shuffled {
			if err := tx.Put(ctx, kindA, k, jsonf("%q", k)); err != nil {
				return err
			}
			if err := tx.Put(ctx, kindB, k+"!", jsonf(`"other kind"`)); err != nil {
				return err
			}
		}
		return nil
	})
	want := slices.Sorted(slices.Values(orderKeys))
	if diff := cmp.Diff(want, keys(scan(t, st, kindA, "", "", 0))); diff != "" {
		t.Errorf("View Scan order (-want +got):\n%s", diff)
	}
	for _, e := range scan(t, st, kindA, "", "", 0) {
		if want := string(jsonf("%q", e.Key)); e.Value != want {
			t.Errorf("Scan value of %q = %s, want %s", e.Key, e.Value, want)
		}
	}
	// A Tx scans the same way.
	update(t, st, func(ctx context.Context, tx iotdm.Tx) error {
		got, err := scanTx(ctx, tx, kindA, "", "", 0)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(want, keys(got)); diff != "" {
			t.Errorf("Tx Scan order (-want +got):\n%s", diff)
		}
		return nil
	})
}

// putKeys stores each key under kindA with its quoted key as value, and
// the same keys under kindB to show scans keep to their kind.
func putKeys(t *testing.T, st iotdm.Store, ks ...string) {
	t.Helper()
	update(t, st, func(ctx context.Context, tx iotdm.Tx) error {
		for _, k := range ks {
			if err := tx.Put(ctx, kindA, k, jsonf("%q", k)); err != nil {
				return err
			}
			if err := tx.Put(ctx, kindB, k, jsonf(`"b"`)); err != nil {
				return err
			}
		}
		return nil
	})
}

func testScanPrefix(t *testing.T, s suite) {
	st, _ := s.store(t)
	putKeys(t, st, "a", "a/", "a/b", "a/c", "a/c/d", "a0", "a.b", "b/x", "a_b", "axb", "a%c", "aXc", "a\\b")
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"a/", []string{"a/", "a/b", "a/c", "a/c/d"}},
		{"a/c", []string{"a/c", "a/c/d"}},
		{"a/c/d", []string{"a/c/d"}},
		{"a_", []string{"a_b"}}, // not a LIKE pattern
		{"a%", []string{"a%c"}},
		{"a\\", []string{"a\\b"}},
		{"b", []string{"b/x"}},
		{"c", nil},
		{"a/c/d/e", nil},
		{"", []string{"a", "a%c", "a.b", "a/", "a/b", "a/c", "a/c/d", "a0", "aXc", "a\\b", "a_b", "axb", "b/x"}},
	} {
		got := keys(scan(t, st, kindA, tc.prefix, "", 0))
		if diff := cmp.Diff(tc.want, got, cmpEmpty); diff != "" {
			t.Errorf("Scan prefix %q (-want +got):\n%s", tc.prefix, diff)
		}
	}
}

func testScanAfter(t *testing.T, s suite) {
	st, _ := s.store(t)
	putKeys(t, st, "a", "a/b", "a/c", "a/d", "b", "c")
	for _, tc := range []struct {
		prefix, after string
		want          []string
	}{
		{"", "", []string{"a", "a/b", "a/c", "a/d", "b", "c"}},
		{"", "a", []string{"a/b", "a/c", "a/d", "b", "c"}},
		{"", "a/bb", []string{"a/c", "a/d", "b", "c"}}, // between keys
		{"", "c", nil},
		{"", "z", nil},
		{"a/", "a/b", []string{"a/c", "a/d"}},
		{"a/", "0", []string{"a/b", "a/c", "a/d"}}, // after sorts before the prefix
		{"a/", "a", []string{"a/b", "a/c", "a/d"}},
		{"a/", "a/d", nil},
		{"a/", "b", nil}, // after sorts past the prefix
	} {
		got := keys(scan(t, st, kindA, tc.prefix, tc.after, 0))
		if diff := cmp.Diff(tc.want, got, cmpEmpty); diff != "" {
			t.Errorf("Scan prefix %q after %q (-want +got):\n%s", tc.prefix, tc.after, diff)
		}
	}
}

func testScanLimit(t *testing.T, s suite) {
	st, _ := s.store(t)
	all := []string{"k1", "k2", "k3", "k4", "k5", "k6", "k7"}
	putKeys(t, st, all...)
	for _, tc := range []struct {
		prefix, after string
		limit         int
		want          []string
	}{
		{"", "", 2, []string{"k1", "k2"}},
		{"", "", 0, all},
		{"", "", -1, all},
		{"", "", 100, all},
		{"k", "k5", 1, []string{"k6"}},
		{"k", "k5", 5, []string{"k6", "k7"}},
	} {
		got := keys(scan(t, st, kindA, tc.prefix, tc.after, tc.limit))
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("Scan prefix %q after %q limit %d (-want +got):\n%s", tc.prefix, tc.after, tc.limit, diff)
		}
	}
	// Paging with after and limit visits every key once, in order.
	var paged []string
	after := ""
	for {
		page := keys(scan(t, st, kindA, "k", after, 3))
		paged = append(paged, page...)
		if len(page) < 3 {
			break
		}
		after = page[len(page)-1]
	}
	if diff := cmp.Diff(all, paged); diff != "" {
		t.Errorf("paged Scan (-want +got):\n%s", diff)
	}
}

func testScanStop(t *testing.T, s suite) {
	st, _ := s.store(t)
	putKeys(t, st, "k1", "k2", "k3", "k4")
	err := st.View(t.Context(), func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
		var seen []string
		err := tx.Scan(ctx, kindA, "", "", 0, func(key string, _ []byte) error {
			seen = append(seen, key)
			if len(seen) == 2 {
				return iotdm.ErrStopScan
			}
			return nil
		})
		if err != nil {
			t.Errorf("Scan stopped with ErrStopScan returned %v, want nil", err)
		}
		if diff := cmp.Diff([]string{"k1", "k2"}, seen); diff != "" {
			t.Errorf("Scan stopped with ErrStopScan saw (-want +got):\n%s", diff)
		}

		seen = nil
		err = tx.Scan(ctx, kindA, "", "", 0, func(key string, _ []byte) error {
			seen = append(seen, key)
			return errBoom
		})
		if !errors.Is(err, errBoom) {
			t.Errorf("Scan with failing callback returned %v, want %v", err, errBoom)
		}
		if len(seen) != 1 {
			t.Errorf("Scan went on after its callback failed: saw %q", seen)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
}

// cmpEmpty treats nil and empty slices alike.
var cmpEmpty = cmpopts.EquateEmpty()
