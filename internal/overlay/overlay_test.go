package overlay

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/iotdm/iotdm"
)

var errBoom = errors.New("boom")

// storedFrom yields the committed entities keys (values "old k") in order,
// passing yield's errors back as a store does; it fails with dbErr, if set,
// after failAfter rows.
func storedFrom(keys []string, dbErr error, failAfter int) func(func(string, []byte) error) error {
	return func(yield func(string, []byte) error) error {
		for n, k := range keys {
			if dbErr != nil && n == failAfter {
				return dbErr
			}
			if err := yield(k, []byte("old "+k)); err != nil {
				return err
			}
		}
		if dbErr != nil {
			return dbErr
		}
		return nil
	}
}

// model is what a scan must see: committed and pending merged, in order.
func model(committed []string, pending []Write) []string {
	vals := map[string]string{}
	for _, k := range committed {
		vals[k] = "old " + k
	}
	for _, p := range pending {
		if p.Delete {
			delete(vals, p.Key)
		} else {
			vals[p.Key] = string(p.Value)
		}
	}
	var out []string
	for k, v := range vals {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

func put(k string) Write { return Write{Key: k, Value: []byte("new " + k)} }
func del(k string) Write { return Write{Key: k, Delete: true} }

func TestScanMergesInKeyOrder(t *testing.T) {
	committed := []string{"a", "c", "e", "g"}
	pending := []Write{put("b"), del("c"), put("e"), put("f"), put("h")}
	want := model(committed, pending)
	for limit := 0; limit <= len(want)+1; limit++ {
		var got []string
		err := Scan(pending, limit, func(k string, v []byte) error {
			got = append(got, k+"="+string(v))
			return nil
		}, storedFrom(committed, nil, 0))
		if err != nil {
			t.Fatalf("limit %d: %v", limit, err)
		}
		w := want
		if limit > 0 && limit < len(w) {
			w = w[:limit]
		}
		if diff := cmp.Diff(w, got); diff != "" {
			t.Errorf("limit %d (-want +got):\n%s", limit, diff)
		}
	}
}

// fn stopping or failing at any entity, committed or pending, is the last
// call of fn, even when pending writes follow the last committed row.
func TestScanStopsWhereFnStops(t *testing.T) {
	committed := []string{"a", "c"}
	pending := []Write{put("b"), put("d"), put("e")}
	all := model(committed, pending)
	for n := 1; n <= len(all); n++ {
		for _, stop := range []error{iotdm.ErrStopScan, errBoom} {
			var got []string
			err := Scan(pending, 0, func(k string, v []byte) error {
				got = append(got, k+"="+string(v))
				if len(got) == n {
					return stop
				}
				return nil
			}, storedFrom(committed, nil, 0))
			if stop == errBoom && !errors.Is(err, errBoom) || stop == iotdm.ErrStopScan && err != nil {
				t.Errorf("fn returning %v at %d: Scan returned %v", stop, n, err)
			}
			if diff := cmp.Diff(all[:n], got); diff != "" {
				t.Errorf("fn returning %v at %d (-want +got):\n%s", stop, n, diff)
			}
		}
	}
}

// The store's own error comes back as it is, and no pending write is
// emitted after it.
func TestScanReturnsStoreError(t *testing.T) {
	dbErr := errors.New("disk I/O error")
	var got []string
	err := Scan([]Write{put("z")}, 0, func(k string, _ []byte) error {
		got = append(got, k)
		return nil
	}, storedFrom([]string{"a", "b"}, dbErr, 1))
	if err != dbErr {
		t.Fatalf("Scan returned %v, want the store's error", err)
	}
	if diff := cmp.Diff([]string{"a"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// FuzzScan compares Scan with the model over committed keys and pending
// writes drawn from a small alphabet, a limit and a stop position.
func FuzzScan(f *testing.F) {
	f.Add([]byte("aceg"), []byte("bCef"), uint8(0), uint8(0))
	f.Add([]byte("ac"), []byte("bd"), uint8(0), uint8(3))
	f.Add([]byte(""), []byte("AB"), uint8(1), uint8(0))
	f.Fuzz(func(t *testing.T, committedB, pendingB []byte, limit, stopAt uint8) {
		// Committed: sorted unique lowercase letters. Pending: one write
		// per letter, upper case meaning a delete.
		seen := map[byte]bool{}
		var committed []string
		for _, c := range committedB {
			c = 'a' + c%8
			if !seen[c] {
				seen[c] = true
				committed = append(committed, string(c))
			}
		}
		slices.Sort(committed)
		byKey := map[string]Write{}
		for _, c := range pendingB {
			k := string('a' + (c%16)%8)
			if c%16 >= 8 {
				byKey[k] = del(k)
			} else {
				byKey[k] = put(k)
			}
		}
		var pending []Write
		for _, w := range byKey {
			pending = append(pending, w)
		}
		slices.SortFunc(pending, func(a, b Write) int { return strings.Compare(a.Key, b.Key) })
		want := model(committed, pending)
		lim := int(limit % 10)
		if lim > 0 && lim < len(want) {
			want = want[:lim]
		}
		stop := int(stopAt % 10) // 0: never
		if stop > 0 && stop < len(want) {
			want = want[:stop]
		}
		var got []string
		err := Scan(pending, lim, func(k string, v []byte) error {
			got = append(got, k+"="+string(v))
			if len(got) == stop {
				return iotdm.ErrStopScan
			}
			return nil
		}, storedFrom(committed, nil, 0))
		if err != nil {
			t.Fatalf("Scan: %v", err)
		}
		if diff := cmp.Diff(want, got, cmpEmpty()); diff != "" {
			t.Fatalf("committed %q pending %+v limit %d stop %d (-want +got):\n%s", committed, pending, lim, stop, diff)
		}
	})
}

func cmpEmpty() cmp.Option {
	return cmp.Transformer("empty", func(s []string) []string {
		if len(s) == 0 {
			return nil
		}
		return s
	})
}
