package fleetindex

import (
	"container/heap"
	"slices"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/iotdm/iotdm/internal/query"
)

// Search returns the names of all documents matching e, sorted. AWS §2.4
// defines no order; sorting by name makes pagination stable.
func (ix *Index) Search(e query.Expr) []string {
	ids, _ := ix.SearchPage(e, "", 0)
	return ids
}

// SearchPage returns, sorted by name, up to limit names of documents
// matching e that sort after afterID ("" starts at the beginning), and the
// name to pass as afterID for the next page, "" on the last page (AWS §2.4:
// nextToken is absent on the last page). limit <= 0 means no limit.
func (ix *Index) SearchPage(e query.Expr, afterID string, limit int) (ids []string, next string) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	bm := ix.eval(e)
	h := &maxHeap{}
	it := bm.Iterator()
	for it.HasNext() {
		id := ix.names[it.Next()]
		if id <= afterID && afterID != "" {
			continue
		}
		if limit <= 0 {
			h.s = append(h.s, id)
			continue
		}
		// Keep the limit+1 smallest: one more tells whether a next page exists.
		if len(h.s) <= limit {
			heap.Push(h, id)
		} else if id < h.s[0] {
			h.s[0] = id
			heap.Fix(h, 0)
		}
	}
	ids = h.s
	slices.Sort(ids)
	if limit > 0 && len(ids) > limit {
		ids = ids[:limit]
		next = ids[limit-1]
	}
	return ids, next
}

// Count returns the number of documents matching e.
func (ix *Index) Count(e query.Expr) int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return int(ix.eval(e).GetCardinality())
}

type maxHeap struct{ s []string }

func (h *maxHeap) Len() int           { return len(h.s) }
func (h *maxHeap) Less(i, j int) bool { return h.s[i] > h.s[j] }
func (h *maxHeap) Swap(i, j int)      { h.s[i], h.s[j] = h.s[j], h.s[i] }
func (h *maxHeap) Push(x any)         { h.s = append(h.s, x.(string)) }
func (h *maxHeap) Pop() any {
	x := h.s[len(h.s)-1]
	h.s = h.s[:len(h.s)-1]
	return x
}

// eval returns the documents matching e; the result is the caller's to
// modify. Callers hold at least the read lock.
func (ix *Index) eval(e query.Expr) *roaring.Bitmap {
	switch e := e.(type) {
	case *query.MatchAll:
		return ix.all.Clone()
	case *query.And:
		var pos []*roaring.Bitmap
		var neg []query.Expr
		for _, a := range e.Args {
			if n, ok := a.(*query.Not); ok {
				neg = append(neg, n.X)
				continue
			}
			pos = append(pos, ix.eval(a))
		}
		var out *roaring.Bitmap
		if len(pos) == 0 {
			out = ix.all.Clone()
		} else {
			slices.SortFunc(pos, func(a, b *roaring.Bitmap) int {
				return int(a.GetCardinality()) - int(b.GetCardinality())
			})
			out = pos[0]
			for _, b := range pos[1:] {
				if out.IsEmpty() {
					break
				}
				out.And(b)
			}
		}
		for _, x := range neg {
			if out.IsEmpty() {
				break
			}
			out.AndNot(ix.eval(x))
		}
		return out
	case *query.Or:
		bms := make([]*roaring.Bitmap, len(e.Args))
		for i, a := range e.Args {
			bms[i] = ix.eval(a)
		}
		return roaring.FastOr(bms...)
	case *query.Not:
		out := ix.all.Clone()
		out.AndNot(ix.eval(e.X))
		return out
	case *query.Exists:
		return ix.evalExists(e.Field)
	case *query.Term:
		return ix.evalTerm(e)
	case *query.Range:
		return ix.evalRange(e.Field, e.Lower, e.Upper)
	case *query.Compare:
		lo, hi := query.Bound{Open: true}, query.Bound{Open: true}
		switch e.Op {
		case query.GT, query.GE:
			lo = query.Bound{Value: e.Value, Inclusive: e.Op == query.GE}
		case query.LT, query.LE:
			hi = query.Bound{Value: e.Value, Inclusive: e.Op == query.LE}
		}
		return ix.evalRange(e.Field, lo, hi)
	}
	return roaring.New()
}

// evalExists answers field:* (AWS §2.3): a leaf at the path or under it.
// query.Match answers an empty field with any field a bare term searches.
func (ix *Index) evalExists(path string) *roaring.Bitmap {
	if path == "" {
		return ix.searchable.Clone()
	}
	out := roaring.New()
	if bm := ix.exists[path]; bm != nil {
		out.Or(bm)
	}
	if path == "description" {
		if bm := ix.exists["thingGroupDescription"]; bm != nil {
			out.Or(bm)
		}
	}
	return out
}

// evalTerm answers field:value and bare values (AWS §2.2, §2.3): words and
// phrases match consecutive lower-cased terms of one value, a numeric word
// also matches an equal number, and a pattern matches single terms.
func (ix *Index) evalTerm(t *query.Term) *roaring.Bitmap {
	fs := ix.fieldsFor(t.Field)
	var bms []*roaring.Bitmap
	if t.Value.Kind == query.Pattern {
		g := query.CompileGlob(strings.ToLower(t.Value.Text))
		prefix := g.Prefix()
		exact := len(prefix) > 0 && g.Literal()
		var u union
		for _, f := range fs {
			if exact {
				u.term(&f.dict, prefix)
				continue
			}
			f.dict.prefixScan(prefix, g.Match, u.add)
		}
		return u.result()
	}
	if n, ok := t.Value.Number(); ok {
		r := numRange{lo: n, hi: n, loIn: true, hiIn: true}
		for _, f := range fs {
			if f.num != nil {
				bms = append(bms, f.num.between(r))
			}
		}
	}
	q := terms(strings.ToLower(t.Value.Text))
	switch len(q) {
	case 0:
		for _, f := range fs {
			if f.empty != nil {
				bms = append(bms, f.empty)
			}
		}
	case 1:
		var u union
		for _, f := range fs {
			u.term(&f.dict, q[0])
		}
		bms = append(bms, u.bms...)
		if len(u.ones) > 0 {
			bms = append(bms, roaring.BitmapOf(u.ones...))
		}
	default:
		// Candidates hold every word in some of the fields; query.Match
		// checks order and adjacency within one value.
		var cand *roaring.Bitmap
		for _, w := range q {
			var per union
			for _, f := range fs {
				per.term(&f.dict, w)
			}
			u := per.result()
			if cand == nil {
				cand = u
			} else {
				cand.And(u)
			}
			if cand.IsEmpty() {
				break
			}
		}
		// Only the sections the field reads are decoded.
		keep := sectionsFor(t.Field)
		hits := roaring.New()
		it := cand.Iterator()
		for it.HasNext() {
			d := it.Next()
			if query.Match(t, decodeSections(ix.docs[d], ix.names[d], ix.keys.keys, keep)) {
				hits.Add(d)
			}
		}
		bms = append(bms, hits)
	}
	return roaring.FastOr(bms...)
}

// sectionsFor returns which top-level keys of a document query.Match reads
// to look field up: the keys that are field or a dotted prefix of it (AWS
// §2.2: dotted keys and nested objects answer the same path), and
// thingGroupDescription for its description alias; every key for a bare
// term.
func sectionsFor(field string) func(string) bool {
	if field == "" {
		return func(string) bool { return true }
	}
	return func(k string) bool {
		return strings.HasPrefix(field, k) && (len(field) == len(k) || field[len(k)] == '.') ||
			field == "description" && k == "thingGroupDescription"
	}
}

// evalRange answers ranges and comparisons (AWS §2.3). As in query.Match,
// a range is numeric when every closed bound is an unquoted number, and
// then only numeric values match; otherwise it compares lower-cased terms
// as strings. With both ends open, any value matches.
func (ix *Index) evalRange(path string, lo, hi query.Bound) *roaring.Bitmap {
	fs := ix.fieldsFor(path)
	var bms []*roaring.Bitmap
	if lo.Open && hi.Open {
		for _, f := range fs {
			bms = append(bms, f.docs)
		}
		return roaring.FastOr(bms...)
	}
	ln, lok := lo.Value.Number()
	hn, hok := hi.Value.Number()
	if (lo.Open || lok) && (hi.Open || hok) {
		r := numRange{lo: ln, hi: hn, loIn: lo.Inclusive, hiIn: hi.Inclusive, loOpen: lo.Open, hiOpen: hi.Open}
		for _, f := range fs {
			if f.num != nil {
				bms = append(bms, f.num.between(r))
			}
		}
		return roaring.FastOr(bms...)
	}
	ls, hs := strings.ToLower(lo.Value.Text), strings.ToLower(hi.Value.Text)
	start := ""
	if !lo.Open {
		start = ls
	}
	inHi := func(s string) bool {
		if hi.Open {
			return true
		}
		c := strings.Compare(s, hs)
		return c < 0 || (c == 0 && hi.Inclusive)
	}
	keep := func(s string) bool {
		return lo.Open || lo.Inclusive || s != ls
	}
	var u union
	for _, f := range fs {
		f.dict.scan(start, inHi, keep, u.add)
	}
	return u.result()
}
