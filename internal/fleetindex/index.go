// Package fleetindex is the in-memory fleet index of AWS §2 (fleet
// indexing) with the aggregations of AWS §2.5 and the dynamic thing group
// percolator of AWS §3 (references are to shared/reference/aws-iot.md).
//
// Documents are thing documents as query.Match takes them, keyed by thing
// name. The index keeps each in a compact binary form (compact.go: object
// keys numbered in a per-index dictionary, numbers and UUIDs packed), which
// Put and the aggregations walk without decoding and Get decodes afresh.
// Only what needs query.Match decodes: a phrase query decodes the sections
// its field reads of each candidate, and percolation decodes a document at
// most once per Put, for patterns, phrases and string ranges. Put
// re-indexes only the top-level sections whose encoding changed.
//
// Every flattened field path has a sorted dictionary of lower-cased terms
// with a roaring bitmap of documents per term (exact, prefix, wildcard and
// string-range lookups), a numeric column with a sorted snapshot (ranges,
// comparisons, statistics, percentiles) and an exists bitmap (field:*).
// Search evaluates a query.Expr with set algebra over these bitmaps and is
// held by a property test to exactly the documents query.Match accepts.
//
// The index does no I/O; callers feed it from the change feed. It is safe
// for one writer and many readers at once.
package fleetindex

import (
	"strings"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
)

// Index is an in-memory fleet index of thing documents. The zero value is
// not usable; call New.
type Index struct {
	mu sync.RWMutex

	nums  map[string]uint32 // thing name → document number
	names []string          // document number → thing name
	docs  []string          // document number → compact document (compact.go); "" when free
	keys  keyDict           // object keys of the compact documents
	free  []uint32          // released document numbers
	all   *roaring.Bitmap   // live documents

	fields     map[fieldKey]*field
	exists     map[string]*roaring.Bitmap // path → documents with a leaf at or under it
	searchable *roaring.Bitmap            // documents with a leaf a bare term searches
	fieldGen   uint64                     // bumped when fields gains or loses a key

	standing map[string]*standing   // dynamic thing groups (AWS §3)
	byPath   map[string][]*standing // standing queries by the paths they read, see watchPaths
	round    uint64                 // percolation round, see standing.seen

	minDirty int // numeric snapshot rebuild slack, see numCol

	// Writer-side scratch, reused by every Put and Delete.
	paths            map[pathKey]string // interned field paths
	old, cur         *flat
	changed          map[string]bool
	enc              encoder
	oldSecs, curSecs []section
	pdoc             percolated
	visit            []*standing // percolate's queries to visit
}

// New returns an empty index.
func New() *Index {
	return newIndex(64)
}

func newIndex(minDirty int) *Index {
	paths := map[pathKey]string{}
	ix := &Index{
		paths:      paths,
		old:        newFlat(paths),
		cur:        newFlat(paths),
		changed:    map[string]bool{},
		minDirty:   minDirty,
		nums:       map[string]uint32{},
		all:        roaring.New(),
		fields:     map[fieldKey]*field{},
		exists:     map[string]*roaring.Bitmap{},
		searchable: roaring.New(),
		standing:   map[string]*standing{},
	}
	ix.enc.keys = &ix.keys
	return ix
}

// Len returns the number of indexed documents.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.nums)
}

// Get returns the document stored under id, decoded afresh: the caller
// owns it and may modify it. Values come back with the Go types they were
// Put with (json.Number text as written, "21.50" included), except values
// of types query.Match does not read (neither JSON scalars, arrays nor
// objects as it knows them), which come back as their JSON encoding in a
// json.RawMessage (see compact.go).
func (ix *Index) Get(id string) (map[string]any, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	n, ok := ix.nums[id]
	if !ok {
		return nil, false
	}
	return decodeDoc(ix.docs[n], id, ix.keys.keys), true
}

// Put indexes doc under id, replacing any document stored there, and
// returns how the memberships of standing queries changed (AWS §3: a thing
// is added when it starts matching, removed when it stops). The index
// keeps a compact copy of doc, not doc itself: the caller may reuse it. A
// nil doc is an empty document.
func (ix *Index) Put(id string, doc map[string]any) []MembershipChange {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	enc := ix.enc.doc(doc, id)
	n, existed := ix.nums[id]
	var old string
	if existed {
		old = ix.docs[n]
		if old == string(enc) {
			return nil // nothing changed
		}
	} else {
		n = ix.alloc(id)
	}
	cur := string(enc)
	ix.docs[n] = cur
	keys := ix.keys.keys
	ix.oldSecs = sections(old, keys, ix.oldSecs[:0])
	ix.curSecs = sections(cur, keys, ix.curSecs[:0])
	oldW, curW, skipped := ix.changedSections(ix.oldSecs, ix.curSecs)
	ix.old.fill(oldW, id, keys)
	ix.cur.fill(curW, id, keys)
	// The document is searchable by bare terms when a walked section is, or
	// an unchanged one is: unchanged sections' share is what the document
	// had unless the walked old sections were searchable themselves.
	searchable := ix.cur.searchable
	if !searchable && skipped {
		if ix.old.searchable {
			searchable = ix.searchableDoc(cur, id)
		} else {
			searchable = ix.searchable.Contains(n)
		}
	}
	walked := ix.pdoc.sections[:0]
	if skipped {
		for _, l := range [][]section{oldW, curW} {
			for i := range l {
				walked = append(walked, l[i].key)
			}
		}
	}
	ix.pdoc = percolated{ix: ix, n: n, id: id, all: !skipped, sections: walked, searchable: existed && ix.searchable.Contains(n)}
	changed := ix.reindex(n, ix.old, ix.cur, searchable)
	changes := ix.percolate(id, n, existed, changed)
	clear(walked)
	ix.pdoc = percolated{sections: walked}
	clear(ix.oldSecs)
	clear(ix.curSecs)
	return changes
}

// changedSections splits the top-level sections of the old and the new
// document into those to walk (the ones that differ) and reports whether
// any were left out. A section whose encoding is unchanged holds the same
// leaves, and no other section reaches its paths unless a top-level key
// holds a dot ("a" and "a.b" both reach path a.b), so its postings stay as
// they are. Both lists are sorted by key (see compact.go) and are
// compacted in place.
func (ix *Index) changedSections(old, cur []section) (oldW, curW []section, skipped bool) {
	for _, l := range [][]section{old, cur} {
		for i := range l {
			if strings.Contains(l[i].key, ".") {
				return old, cur, false
			}
		}
	}
	oldW, curW = old[:0], cur[:0]
	i, j := 0, 0
	for i < len(old) || j < len(cur) {
		switch {
		case j == len(cur) || (i < len(old) && sectionLess(&old[i], &cur[j])):
			oldW = append(oldW, old[i])
			i++
		case i == len(old) || sectionLess(&cur[j], &old[i]):
			curW = append(curW, cur[j])
			j++
		default:
			if old[i].val == cur[j].val {
				skipped = true
			} else {
				oldW = append(oldW, old[i])
				curW = append(curW, cur[j])
			}
			i++
			j++
		}
	}
	return oldW, curW, skipped
}

// searchableDoc reports whether the compact document doc named id holds a
// leaf bare terms search.
func (ix *Index) searchableDoc(doc, id string) bool {
	found := false
	w := walker{leaf: func(_ string, hidden bool, _ leaf) { found = found || !hidden }, keys: ix.keys.keys, id: id}
	w.doc(doc)
	return found
}

// Delete removes the document stored under id, if any, and returns the
// standing-query memberships it loses.
func (ix *Index) Delete(id string) []MembershipChange {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	n, ok := ix.nums[id]
	if !ok {
		return nil
	}
	ix.oldSecs = sections(ix.docs[n], ix.keys.keys, ix.oldSecs[:0])
	ix.old.fill(ix.oldSecs, id, ix.keys.keys)
	ix.cur.fill(nil, id, ix.keys.keys)
	ix.reindex(n, ix.old, ix.cur, false)
	clear(ix.oldSecs)
	changes := ix.dropMember(id, n)
	delete(ix.nums, id)
	ix.docs[n] = ""
	ix.names[n] = ""
	ix.all.Remove(n)
	ix.free = append(ix.free, n)
	return changes
}

// alloc assigns a document number to id, reusing released numbers first.
func (ix *Index) alloc(id string) uint32 {
	var n uint32
	if k := len(ix.free); k > 0 {
		n = ix.free[k-1]
		ix.free = ix.free[:k-1]
		ix.names[n] = id
	} else {
		n = uint32(len(ix.docs))
		ix.docs = append(ix.docs, "")
		ix.names = append(ix.names, id)
	}
	ix.nums[id] = n
	ix.all.Add(n)
	return n
}

// reindex moves document n from the postings of old to those of new,
// touching only the fields whose leaves differ, and returns the paths
// whose leaves or existence changed (for the percolator). searchable says
// whether the document has a leaf bare terms search.
func (ix *Index) reindex(n uint32, old, new *flat, searchable bool) map[string]bool {
	changed := ix.changed
	clear(changed)
	for i, k := range old.keys {
		ol := old.vals[i]
		nl, ok := new.get(k)
		if ok && sameLeaves(ol, nl) {
			continue
		}
		changed[k.path] = true
		f := ix.fields[k]
		if ok {
			f.update(n, ol, nl)
			continue
		}
		f.remove(n, ol)
		if f.docs.IsEmpty() {
			delete(ix.fields, k)
			ix.fieldGen++
		}
	}
	for i, k := range new.keys {
		if _, ok := old.idx[k]; ok {
			continue
		}
		changed[k.path] = true
		f := ix.fields[k]
		if f == nil {
			f = newField(ix.minDirty)
			ix.fields[k] = f
			ix.fieldGen++
		}
		f.add(n, new.vals[i])
	}
	for p := range old.exists {
		if _, ok := new.exists[p]; !ok {
			changed[p] = true
			bm := ix.exists[p]
			bm.Remove(n)
			if bm.IsEmpty() {
				delete(ix.exists, p)
			}
		}
	}
	for p := range new.exists {
		if _, ok := old.exists[p]; !ok {
			changed[p] = true
			bm := ix.exists[p]
			if bm == nil {
				bm = roaring.New()
				ix.exists[p] = bm
			}
			bm.Add(n)
		}
	}
	if searchable {
		ix.searchable.Add(n)
	} else {
		ix.searchable.Remove(n)
	}
	return changed
}

// fieldsFor returns the postings a query on path reads. An empty path is a
// bare term: every field that bare terms search (AWS §2.3). description is
// an alias of thingGroupDescription, as in query.Match.
func (ix *Index) fieldsFor(path string) []*field {
	var out []*field
	if path == "" {
		for k, f := range ix.fields {
			if !k.hidden {
				out = append(out, f)
			}
		}
		return out
	}
	paths := []string{path}
	if path == "description" {
		paths = append(paths, "thingGroupDescription")
	}
	for _, p := range paths {
		for _, hidden := range []bool{false, true} {
			if f := ix.fields[fieldKey{p, hidden}]; f != nil {
				out = append(out, f)
			}
		}
	}
	return out
}

// docsOf turns a bitmap of document numbers into thing names.
func (ix *Index) docsOf(bm *roaring.Bitmap) []string {
	out := make([]string, 0, bm.GetCardinality())
	it := bm.Iterator()
	for it.HasNext() {
		out = append(out, ix.names[it.Next()])
	}
	return out
}
