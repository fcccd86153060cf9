// Package fleetindex is the in-memory fleet index of AWS §2 (fleet
// indexing) with the aggregations of AWS §2.5 and the dynamic thing group
// percolator of AWS §3 (references are to shared/reference/aws-iot.md).
//
// Documents are thing documents as query.Match takes them, keyed by thing
// name. Every flattened field path has a sorted dictionary of lower-cased
// terms with a roaring bitmap of documents per term (exact, prefix,
// wildcard and string-range lookups), a numeric column with a sorted
// snapshot (ranges, comparisons, statistics, percentiles) and an exists
// bitmap (field:*). Search evaluates a query.Expr with set algebra over
// these bitmaps and is held by a property test to exactly the documents
// query.Match accepts.
//
// The index does no I/O; callers feed it from the change feed. It is safe
// for one writer and many readers at once.
package fleetindex

import (
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
)

// Index is an in-memory fleet index of thing documents. The zero value is
// not usable; call New.
type Index struct {
	mu sync.RWMutex

	nums  map[string]uint32 // thing name → document number
	names []string          // document number → thing name
	docs  []map[string]any  // document number → document (nil when free)
	free  []uint32          // released document numbers
	all   *roaring.Bitmap   // live documents

	fields     map[fieldKey]*field
	exists     map[string]*roaring.Bitmap // path → documents with a leaf at or under it
	searchable *roaring.Bitmap            // documents with a leaf a bare term searches

	standing map[string]*standing   // dynamic thing groups (AWS §3)
	byPath   map[string][]*standing // standing queries by the paths they read, see watchPaths
	round    uint64                 // percolation round, see standing.seen

	minDirty int // numeric snapshot rebuild slack, see numCol

	// Writer-side scratch, reused by every Put and Delete.
	paths    map[pathKey]string // interned field paths
	old, cur *flat
	changed  map[string]bool
}

// New returns an empty index.
func New() *Index {
	return newIndex(64)
}

func newIndex(minDirty int) *Index {
	paths := map[pathKey]string{}
	return &Index{
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
}

// Len returns the number of indexed documents.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.nums)
}

// Get returns the document stored under id. The caller must not modify it.
func (ix *Index) Get(id string) (map[string]any, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	n, ok := ix.nums[id]
	if !ok {
		return nil, false
	}
	return ix.docs[n], true
}

// Put indexes doc under id, replacing any document stored there, and
// returns how the memberships of standing queries changed (AWS §3: a thing
// is added when it starts matching, removed when it stops). The index
// keeps doc: the caller must not modify it afterwards. A nil doc is an
// empty document.
func (ix *Index) Put(id string, doc map[string]any) []MembershipChange {
	if doc == nil {
		doc = map[string]any{}
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	n, existed := ix.nums[id]
	var old map[string]any
	if existed {
		old = ix.docs[n]
	} else {
		n = ix.alloc(id)
	}
	ix.docs[n] = doc
	ix.old.fill(old)
	ix.cur.fill(doc)
	changed := ix.reindex(n, ix.old, ix.cur)
	return ix.percolate(id, n, doc, existed, changed)
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
	ix.old.fill(ix.docs[n])
	ix.cur.fill(nil)
	ix.reindex(n, ix.old, ix.cur)
	changes := ix.dropMember(id, n)
	delete(ix.nums, id)
	ix.docs[n] = nil
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
		ix.docs = append(ix.docs, nil)
		ix.names = append(ix.names, id)
	}
	ix.nums[id] = n
	ix.all.Add(n)
	return n
}

// reindex moves document n from the postings of old to those of new,
// touching only the fields whose leaves differ, and returns the paths
// whose leaves or existence changed (for the percolator).
func (ix *Index) reindex(n uint32, old, new *flat) map[string]bool {
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
		f.remove(n, ol)
		if ok {
			f.add(n, nl)
		} else if f.docs.IsEmpty() {
			delete(ix.fields, k)
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
	if new.searchable {
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
