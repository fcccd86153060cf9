package fleetindex

import (
	"cmp"
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
	return &field{docs: roaring.New(), dict: newTermDict(), minDirty: minDirty}
}

// add indexes the leaves of document d.
func (f *field) add(d uint32, leaves []leaf) {
	f.docs.Add(d)
	var buf [4]float64
	nums := buf[:0]
	for _, l := range leaves {
		t, i := nextTerm(l.text, 0)
		if t == "" {
			if f.empty == nil {
				f.empty = roaring.New()
			}
			f.empty.Add(d)
		}
		for ; t != ""; t, i = nextTerm(l.text, i) {
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

// update replaces the leaves of document d, which add indexed as old, by
// new (both non-empty): what remove and add would do, touching only the
// terms that come or go.
func (f *field) update(d uint32, old, new []leaf) {
	var ob, nb [8]string
	ot, oEmpty := leafTerms(old, ob[:0])
	nt, nEmpty := leafTerms(new, nb[:0])
	if len(ot)*len(nt) > 256 {
		// Large arrays: comparing the term lists would cost more.
		f.remove(d, old)
		f.add(d, new)
		return
	}
	switch {
	case nEmpty && !oEmpty:
		if f.empty == nil {
			f.empty = roaring.New()
		}
		f.empty.Add(d)
	case oEmpty && !nEmpty:
		f.empty.Remove(d)
	}
	for _, t := range ot {
		if !slices.Contains(nt, t) {
			f.dict.remove(t, d)
		}
	}
	for _, t := range nt {
		if !slices.Contains(ot, t) {
			f.dict.add(t, d)
		}
	}
	var buf [4]float64
	nums := buf[:0]
	for _, l := range new {
		if l.isNum {
			nums = append(nums, l.num)
		}
	}
	switch {
	case len(nums) > 0:
		if f.num == nil {
			f.num = newNumCol(f.minDirty)
		}
		f.num.set(d, nums)
	case f.num != nil:
		f.num.unset(d)
	}
}

// leafTerms appends the terms of leaves to out and reports whether one of
// them has none.
func leafTerms(leaves []leaf, out []string) ([]string, bool) {
	empty := false
	for _, l := range leaves {
		t, i := nextTerm(l.text, 0)
		if t == "" {
			empty = true
		}
		for ; t != ""; t, i = nextTerm(l.text, i) {
			out = append(out, t)
		}
	}
	return out, empty
}

// remove unindexes the leaves of document d, which add indexed before.
func (f *field) remove(d uint32, leaves []leaf) {
	f.docs.Remove(d)
	if f.empty != nil {
		f.empty.Remove(d)
	}
	for _, l := range leaves {
		for t, i := nextTerm(l.text, 0); t != ""; t, i = nextTerm(l.text, i) {
			f.dict.remove(t, d)
		}
	}
	if f.num != nil {
		f.num.unset(d)
	}
}

// termDict maps lower-cased terms to documents and keeps them sorted for
// prefix, wildcard and string-range scans (AWS §2.3). A term held by one
// document keeps that document inline in one (no bitmap: most terms of
// names, IDs and measured values are unique to a document); a second
// document moves it to a bitmap in post. New terms wait in pending until a
// merge; terms whose last document left stay in sorted or pending, listed
// in gone, until then. Merges run on the writer side, so readers never
// mutate.
//
// Invariants: the live terms (keys of one and post) and gone are disjoint,
// and their union is exactly sorted ∪ pending, which are disjoint too.
type termDict struct {
	one     map[string]uint32
	post    map[string]*roaring.Bitmap
	sorted  []string            // sorted; may hold gone terms
	pending []string            // unsorted new terms; may hold gone terms
	gone    map[string]struct{} // dead terms still in sorted or pending
}

func newTermDict() termDict {
	return termDict{one: map[string]uint32{}, post: map[string]*roaring.Bitmap{}}
}

// add and remove take terms that may share memory with a compact
// document (see leaf); the dictionary keeps copies, so that no document
// outlives its replacement.
func (t *termDict) add(term string, d uint32) {
	if bm := t.post[term]; bm != nil {
		bm.Add(d)
		return
	}
	if o, ok := t.one[term]; ok {
		if o == d {
			return
		}
		delete(t.one, term)
		t.post[strings.Clone(term)] = roaring.BitmapOf(o, d)
		return
	}
	term = strings.Clone(term)
	t.one[term] = d
	if _, ok := t.gone[term]; ok {
		delete(t.gone, term) // still listed in sorted or pending
		return
	}
	t.pending = append(t.pending, term)
	t.maybeMerge()
}

func (t *termDict) remove(term string, d uint32) {
	if bm := t.post[term]; bm != nil {
		bm.Remove(d)
		switch bm.GetCardinality() {
		case 0:
			delete(t.post, term)
			t.markGone(term)
		case 1:
			delete(t.post, term)
			t.one[strings.Clone(term)] = bm.Minimum()
		}
		return
	}
	if o, ok := t.one[term]; ok && o == d {
		delete(t.one, term)
		t.markGone(term)
	}
}

func (t *termDict) markGone(term string) {
	if t.gone == nil {
		t.gone = map[string]struct{}{}
	}
	t.gone[strings.Clone(term)] = struct{}{}
	t.maybeMerge()
}

// lookup returns the documents of term: a bitmap, or the one document.
func (t *termDict) lookup(term string) (bm *roaring.Bitmap, one uint32, ok bool) {
	if bm := t.post[term]; bm != nil {
		return bm, 0, true
	}
	one, ok = t.one[term]
	return nil, one, ok
}

// len is the number of live terms.
func (t *termDict) len() int { return len(t.one) + len(t.post) }

// maybeMerge folds pending into sorted once pending or gone exceed a
// fraction of the dictionary: amortised O(1) copies per new term.
func (t *termDict) maybeMerge() {
	limit := 32 + len(t.sorted)/32
	if len(t.pending) <= limit && len(t.gone) <= limit {
		return
	}
	// The live pending terms are added and the gone terms dropped (the two
	// share none; gone terms from pending have nothing to drop). Both, as
	// one sorted list of events, are merged into sorted by galloping to
	// each event and copying the run before it whole.
	type event struct {
		term string
		add  bool
	}
	events := make([]event, 0, len(t.pending)+len(t.gone))
	for _, s := range t.pending {
		if _, dead := t.gone[s]; !dead {
			events = append(events, event{s, true})
		}
	}
	for s := range t.gone {
		events = append(events, event{term: s})
	}
	slices.SortFunc(events, func(a, b event) int { return strings.Compare(a.term, b.term) })
	all := make([]string, 0, t.len())
	i := 0
	for _, e := range events {
		j := gallop(t.sorted, i, e.term)
		all = append(all, t.sorted[i:j]...)
		i = j
		switch {
		case e.add:
			all = append(all, e.term)
		case i < len(t.sorted) && t.sorted[i] == e.term:
			i++
		}
	}
	t.sorted = append(all, t.sorted[i:]...)
	t.pending = t.pending[:0]
	clear(t.gone)
}

// gallop returns the first index at or after i of sorted a whose element
// is x or more, searching exponentially from i.
func gallop(a []string, i int, x string) int {
	lo, hi, step := i, i, 1
	for hi < len(a) && a[hi] < x {
		lo = hi + 1
		hi += step
		step *= 2
	}
	hi = min(hi, len(a))
	return lo + sort.SearchStrings(a[lo:hi], x)
}

// union collects postings and builds their union.
type union struct {
	bms  []*roaring.Bitmap
	ones []uint32
}

func (u *union) add(bm *roaring.Bitmap, one uint32) {
	if bm != nil {
		u.bms = append(u.bms, bm)
	} else {
		u.ones = append(u.ones, one)
	}
}

// term adds the postings of term in t, if any.
func (u *union) term(t *termDict, term string) {
	if bm, one, ok := t.lookup(term); ok {
		u.add(bm, one)
	}
}

// result returns the union, a new bitmap the caller may modify.
func (u *union) result() *roaring.Bitmap {
	out := roaring.FastOr(u.bms...)
	if len(u.ones) > 0 {
		out.AddMany(u.ones)
	}
	return out
}

// scan calls fn with the postings of every live term in [lo, hi] (hi ""
// with open set means unbounded) that keep accepts.
func (t *termDict) scan(lo string, from func(string) bool, keep func(string) bool, fn func(*roaring.Bitmap, uint32)) {
	i := sort.SearchStrings(t.sorted, lo)
	for ; i < len(t.sorted); i++ {
		s := t.sorted[i]
		if !from(s) {
			break
		}
		if keep(s) {
			if bm, one, ok := t.lookup(s); ok {
				fn(bm, one)
			}
		}
	}
	for _, s := range t.pending {
		if s >= lo && from(s) && keep(s) {
			if bm, one, ok := t.lookup(s); ok {
				fn(bm, one)
			}
		}
	}
}

// prefixScan visits live terms starting with prefix that keep accepts.
func (t *termDict) prefixScan(prefix string, keep func(string) bool, fn func(*roaring.Bitmap, uint32)) {
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
	} else if c.extra != nil {
		delete(c.extra, d)
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

// rebuild brings the snapshot up to date: the pairs of documents that did
// not change are kept in order and merged with the sorted values of the
// changed ones.
func (c *numCol) rebuild() {
	if c.dirty.IsEmpty() {
		return
	}
	var fresh []numPair
	it := c.dirty.Iterator()
	for it.HasNext() {
		d := it.Next()
		if c.has.Contains(d) {
			fresh = append(fresh, numPair{c.first[d], d})
			for _, v := range c.extra[d] {
				fresh = append(fresh, numPair{v, d})
			}
		}
	}
	slices.SortFunc(fresh, func(a, b numPair) int { return cmp.Compare(a.v, b.v) })
	// The changed documents as a plain bitset: one probe per kept pair.
	changed := make([]uint64, (c.dirty.Maximum()>>6)+1)
	it = c.dirty.Iterator()
	for it.HasNext() {
		d := it.Next()
		changed[d>>6] |= 1 << (d & 63)
	}
	isChanged := func(d uint32) bool {
		return int(d>>6) < len(changed) && changed[d>>6]&(1<<(d&63)) != 0
	}
	kept := 0
	for _, d := range c.sortedD {
		if !isChanged(d) {
			kept++
		}
	}
	vs := make([]float64, 0, kept+len(fresh))
	ds := make([]uint32, 0, kept+len(fresh))
	j := 0
	for i, v := range c.sortedV {
		d := c.sortedD[i]
		if isChanged(d) {
			continue
		}
		for j < len(fresh) && fresh[j].v < v {
			vs, ds = append(vs, fresh[j].v), append(ds, fresh[j].d)
			j++
		}
		vs, ds = append(vs, v), append(ds, d)
	}
	for ; j < len(fresh); j++ {
		vs, ds = append(vs, fresh[j].v), append(ds, fresh[j].d)
	}
	c.sortedV, c.sortedD = vs, ds
	c.dirty.Clear()
}

type numPair struct {
	v float64
	d uint32
}

// hasValueIn reports whether document d has a value in r; c may be nil.
func (c *numCol) hasValueIn(d uint32, r numRange) bool {
	if c == nil || !c.has.Contains(d) {
		return false
	}
	if r.contains(c.first[d]) {
		return true
	}
	for _, v := range c.extra[d] {
		if r.contains(v) {
			return true
		}
	}
	return false
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
