package fleetindex

import (
	"slices"
	"sort"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"
)

// field holds the postings of one flattened field path (DESIGN.md: per
// field, a sorted term dictionary, sorted numeric values and a bitmap of
// documents per term).
type field struct {
	docs  *roaring.Bitmap // documents with at least one leaf here
	empty *roaring.Bitmap // documents with a leaf that has no terms ("" or blanks); nil if none ever
	dict  termDict
	num   *numCol // nil until a numeric leaf arrives

	minDirty int // see numCol.minDirty
}

func newField(minDirty int) *field {
	return &field{docs: roaring.New(), dict: termDict{post: map[string]*roaring.Bitmap{}}, minDirty: minDirty}
}

// add indexes the leaves of document d.
func (f *field) add(d uint32, leaves []leaf) {
	f.docs.Add(d)
	var nums []float64
	for _, l := range leaves {
		ts := terms(l.text)
		if len(ts) == 0 {
			if f.empty == nil {
				f.empty = roaring.New()
			}
			f.empty.Add(d)
		}
		for _, t := range ts {
			f.dict.add(t, d)
		}
		if l.isNum {
			nums = append(nums, l.num)
		}
	}
	if len(nums) > 0 {
		if f.num == nil {
			f.num = newNumCol(f.minDirty)
		}
		f.num.set(d, nums)
	}
}

// remove unindexes the leaves of document d, which add indexed before.
func (f *field) remove(d uint32, leaves []leaf) {
	f.docs.Remove(d)
	if f.empty != nil {
		f.empty.Remove(d)
	}
	for _, l := range leaves {
		for _, t := range terms(l.text) {
			f.dict.remove(t, d)
		}
	}
	if f.num != nil {
		f.num.unset(d)
	}
}

// termDict maps lower-cased terms to documents and keeps them sorted for
// prefix, wildcard and string-range scans (AWS §2.3). New terms wait in
// pending until a merge; removed terms stay in sorted as stale entries
// until then. Merges run on the writer side, so readers never mutate.
type termDict struct {
	post    map[string]*roaring.Bitmap
	sorted  []string // sorted; may hold stale terms (absent from post)
	pending []string // unsorted new terms; may repeat sorted's stale terms
	stale   int
}

func (t *termDict) add(term string, d uint32) {
	bm := t.post[term]
	if bm == nil {
		bm = roaring.New()
		t.post[term] = bm
		t.pending = append(t.pending, term)
		t.maybeMerge()
	}
	bm.Add(d)
}

func (t *termDict) remove(term string, d uint32) {
	bm := t.post[term]
	if bm == nil {
		return
	}
	bm.Remove(d)
	if bm.IsEmpty() {
		delete(t.post, term)
		t.stale++
		t.maybeMerge()
	}
}

// maybeMerge folds pending into sorted once pending or stale exceed a
// fraction of the dictionary: amortised O(1) copies per new term.
func (t *termDict) maybeMerge() {
	limit := 32 + len(t.sorted)/32
	if len(t.pending) <= limit && t.stale <= limit {
		return
	}
	// Sort the few pending terms, then merge them linearly into sorted,
	// dropping stale and repeated terms.
	add := make([]string, 0, len(t.pending))
	for _, s := range t.pending {
		if t.post[s] != nil {
			add = append(add, s)
		}
	}
	slices.Sort(add)
	all := make([]string, 0, len(t.post))
	i, j := 0, 0
	for i < len(t.sorted) || j < len(add) {
		var s string
		if j == len(add) || (i < len(t.sorted) && t.sorted[i] <= add[j]) {
			s = t.sorted[i]
			i++
		} else {
			s = add[j]
			j++
		}
		if t.post[s] != nil && (len(all) == 0 || all[len(all)-1] != s) {
			all = append(all, s)
		}
	}
	t.sorted = all
	t.pending = t.pending[:0]
	t.stale = 0
}

// scan calls fn with the bitmap of every live term in [lo, hi] (hi ""
// with open set means unbounded) that keep accepts. A term may be seen
// twice (stale duplicates); callers union, so that is harmless.
func (t *termDict) scan(lo string, from func(string) bool, keep func(string) bool, fn func(*roaring.Bitmap)) {
	i := sort.SearchStrings(t.sorted, lo)
	for ; i < len(t.sorted); i++ {
		s := t.sorted[i]
		if !from(s) {
			break
		}
		if bm := t.post[s]; bm != nil && keep(s) {
			fn(bm)
		}
	}
	for _, s := range t.pending {
		if s >= lo && from(s) && keep(s) {
			if bm := t.post[s]; bm != nil {
				fn(bm)
			}
		}
	}
}

// prefixScan visits live terms starting with prefix that keep accepts.
func (t *termDict) prefixScan(prefix string, keep func(string) bool, fn func(*roaring.Bitmap)) {
	t.scan(prefix, func(s string) bool { return strings.HasPrefix(s, prefix) }, keep, fn)
}

// numCol holds the numeric values of a field (AWS §2.2: values that parse
// as numbers are indexed numerically). first[d] is the first value of
// document d; extra holds the rest for array values. A sorted snapshot of
// (value, doc) pairs answers ranges; documents changed since the snapshot
// are in dirty and are checked against the live column instead. The
// writer rebuilds the snapshot when dirty grows past a fraction of it.
type numCol struct {
	has     *roaring.Bitmap
	first   []float64
	extra   map[uint32][]float64
	sortedV []float64
	sortedD []uint32
	dirty   *roaring.Bitmap
	// minDirty is how many changed documents are always tolerated before a
	// rebuild (tests lower it to exercise the snapshot).
	minDirty int
}

func newNumCol(minDirty int) *numCol {
	return &numCol{has: roaring.New(), dirty: roaring.New(), minDirty: minDirty}
}

func (c *numCol) set(d uint32, vals []float64) {
	if int(d) >= len(c.first) {
		n := max(int(d)+1, 2*len(c.first), 16)
		c.first = append(c.first, make([]float64, n-len(c.first))...)
	}
	c.first[d] = vals[0]
	if len(vals) > 1 {
		if c.extra == nil {
			c.extra = map[uint32][]float64{}
		}
		c.extra[d] = slices.Clone(vals[1:])
	}
	c.has.Add(d)
	c.touch(d)
}

func (c *numCol) unset(d uint32) {
	if !c.has.Contains(d) {
		return
	}
	c.has.Remove(d)
	delete(c.extra, d)
	c.touch(d)
}

func (c *numCol) touch(d uint32) {
	c.dirty.Add(d)
	if c.dirty.GetCardinality() > uint64(c.minDirty+len(c.sortedV)/8) {
		c.rebuild()
	}
}

func (c *numCol) rebuild() {
	type pair struct {
		v float64
		d uint32
	}
	ps := make([]pair, 0, c.has.GetCardinality()+uint64(len(c.extra)))
	it := c.has.Iterator()
	for it.HasNext() {
		d := it.Next()
		ps = append(ps, pair{c.first[d], d})
		for _, v := range c.extra[d] {
			ps = append(ps, pair{v, d})
		}
	}
	slices.SortFunc(ps, func(a, b pair) int {
		switch {
		case a.v < b.v:
			return -1
		case a.v > b.v:
			return 1
		}
		return 0
	})
	c.sortedV = make([]float64, len(ps))
	c.sortedD = make([]uint32, len(ps))
	for i, p := range ps {
		c.sortedV[i], c.sortedD[i] = p.v, p.d
	}
	c.dirty.Clear()
}

// values calls fn for every value of document d, which must be in has.
func (c *numCol) values(d uint32, fn func(float64)) {
	fn(c.first[d])
	for _, v := range c.extra[d] {
		fn(v)
	}
}

// between returns the documents with a value v such that lo < v < hi,
// where loIn and hiIn make the ends inclusive and loOpen/hiOpen drop them.
func (c *numCol) between(r numRange) *roaring.Bitmap {
	i := 0
	if !r.loOpen {
		i = sort.Search(len(c.sortedV), func(k int) bool {
			if r.loIn {
				return c.sortedV[k] >= r.lo
			}
			return c.sortedV[k] > r.lo
		})
	}
	j := len(c.sortedV)
	if !r.hiOpen {
		j = sort.Search(len(c.sortedV), func(k int) bool {
			if r.hiIn {
				return c.sortedV[k] > r.hi
			}
			return c.sortedV[k] >= r.hi
		})
	}
	out := roaring.New()
	if i < j {
		out.AddMany(c.sortedD[i:j]) // AddMany does not modify its input
	}
	if !c.dirty.IsEmpty() {
		out.AndNot(c.dirty)
		it := roaring.And(c.dirty, c.has).Iterator()
		for it.HasNext() {
			d := it.Next()
			hit := false
			c.values(d, func(v float64) { hit = hit || r.contains(v) })
			if hit {
				out.Add(d)
			}
		}
	}
	return out
}

// numRange is a numeric interval (AWS §2.3 ranges and comparisons).
type numRange struct {
	lo, hi         float64
	loIn, hiIn     bool
	loOpen, hiOpen bool
}

func (r numRange) contains(x float64) bool {
	if !r.loOpen && (x < r.lo || (x == r.lo && !r.loIn)) {
		return false
	}
	if !r.hiOpen && (x > r.hi || (x == r.hi && !r.hiIn)) {
		return false
	}
	return true
}
