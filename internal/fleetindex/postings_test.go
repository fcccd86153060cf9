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

// TestNumColModel holds numCol (live values, the sorted snapshot rebuilt
// by merging, dirty documents) to a map of value lists under random sets
// and unsets.
func TestNumColModel(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 2))
		c := newNumCol(int(seed % 4))
		model := map[uint32][]float64{}
		vals := []float64{-3, 0, 1, 2.5, 2.5, 7, 100, 1e9}
		for op := range 3000 {
			d := uint32(r.IntN(200))
			if r.IntN(4) == 0 {
				c.unset(d)
				delete(model, d)
			} else {
				vs := make([]float64, 1+r.IntN(3)*r.IntN(2))
				for i := range vs {
					vs[i] = vals[r.IntN(len(vals))]
				}
				c.set(d, vs)
				model[d] = vs
			}
			lo, hi := vals[r.IntN(len(vals))], vals[r.IntN(len(vals))]
			rg := numRange{lo: lo, hi: hi, loIn: r.IntN(2) == 0, hiIn: r.IntN(2) == 0, loOpen: r.IntN(5) == 0, hiOpen: r.IntN(5) == 0}
			want := roaring.New()
			for d, vs := range model {
				for _, v := range vs {
					if rg.contains(v) {
						want.Add(d)
					}
				}
			}
			if got := c.between(rg); !got.Equals(want) {
				t.Fatalf("seed %d op %d: between(%+v) = %v, want %v", seed, op, rg, got.ToArray(), want.ToArray())
			}
			for d, vs := range model {
				if !c.hasValueIn(d, numRange{lo: vs[0], hi: vs[0], loIn: true, hiIn: true}) {
					t.Fatalf("seed %d op %d: document %d lost its value %v", seed, op, d, vs[0])
				}
			}
		}
	}
}
