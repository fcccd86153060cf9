package fleetindex

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
)

// TestTermDictModel holds termDict (inline singletons, pending and gone
// terms, merges) to a map of sets under random adds and removes.
func TestTermDictModel(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 1))
		d := newTermDict()
		model := map[string]map[uint32]bool{}
		for op := range 3000 {
			term := fmt.Sprintf("t%03d", r.IntN(200))
			doc := uint32(r.IntN(4))
			if r.IntN(2) == 0 {
				d.add(term, doc)
				if model[term] == nil {
					model[term] = map[uint32]bool{}
				}
				model[term][doc] = true
			} else if model[term][doc] {
				d.remove(term, doc)
				delete(model[term], doc)
				if len(model[term]) == 0 {
					delete(model, term)
				}
			}
			if d.len() != len(model) {
				t.Fatalf("seed %d op %d: %d live terms, want %d", seed, op, d.len(), len(model))
			}
			if op%97 != 0 {
				continue
			}
			seen := map[string]bool{}
			d.scan("", func(string) bool { return true }, func(s string) bool {
				if _, _, live := d.lookup(s); !live {
					return true // scan skips dead terms after keep
				}
				if seen[s] {
					t.Fatalf("seed %d op %d: term %q listed twice", seed, op, s)
				}
				seen[s] = true
				return true
			}, func(*roaring.Bitmap, uint32) {})
			if got, want := slices.Sorted(maps.Keys(seen)), slices.Sorted(maps.Keys(model)); !slices.Equal(got, want) {
				t.Fatalf("seed %d op %d: scan %v, want %v", seed, op, got, want)
			}
			for term, docs := range model {
				var u union
				u.term(&d, term)
				got := u.result().ToArray()
				want := slices.Sorted(maps.Keys(docs))
				if !slices.Equal(got, want) {
					t.Fatalf("seed %d op %d: %q holds %v, want %v", seed, op, term, got, want)
				}
			}
		}
	}
}
