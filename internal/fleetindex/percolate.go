package fleetindex

import (
	"cmp"
	"slices"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/iotdm/iotdm/internal/query"
)

// MembershipChange says that the thing ID joined (Added) or left the
// dynamic thing group Group (AWS §3).
type MembershipChange struct {
	Group string
	ID    string
	Added bool
}

// standing is a dynamic thing group's query and its current members.
type standing struct {
	expr    query.Expr
	name    string
	fields  []string // query.Fields(expr); "" means any field
	members *roaring.Bitmap
	seen    uint64 // percolation round that last visited it
	plan    *plan  // expr compiled for matchDoc; nil until first needed
}

// register lists s under the paths whose change can change its answer
// (see affected); unregister undoes it.
func (ix *Index) register(s *standing) {
	if ix.byPath == nil {
		ix.byPath = map[string][]*standing{}
	}
	for _, p := range watchPaths(s.fields) {
		ix.byPath[p] = append(ix.byPath[p], s)
	}
}

func (ix *Index) unregister(s *standing) {
	for _, p := range watchPaths(s.fields) {
		l := slices.DeleteFunc(ix.byPath[p], func(x *standing) bool { return x == s })
		if len(l) == 0 {
			delete(ix.byPath, p)
		} else {
			ix.byPath[p] = l
		}
	}
}

// watchPaths are the changed paths that make a query reading fields
// affected; "" stands for any change.
func watchPaths(fields []string) []string {
	var out []string
	for _, f := range fields {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
		if f == "description" && !slices.Contains(out, "thingGroupDescription") {
			out = append(out, "thingGroupDescription")
		}
	}
	return out
}

// AddStanding registers expr as the standing query of dynamic thing group
// name and backfills its membership from the index (AWS §3: BUILDING on
// create). Replacing the query of an existing name re-evaluates it
// (REBUILDING on a query update). It returns the membership changes.
func (ix *Index) AddStanding(name string, expr query.Expr) []MembershipChange {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	members := ix.eval(expr)
	var changes []MembershipChange
	if old := ix.standing[name]; old != nil {
		changes = append(ix.diffChanges(name, roaring.AndNot(old.members, members), false),
			ix.diffChanges(name, roaring.AndNot(members, old.members), true)...)
	} else {
		changes = ix.diffChanges(name, members, true)
	}
	if old := ix.standing[name]; old != nil {
		ix.unregister(old)
	}
	s := &standing{name: name, expr: expr, fields: query.Fields(expr), members: members, plan: compile(expr)}
	ix.standing[name] = s
	ix.register(s)
	sortChanges(changes)
	return changes
}

// RemoveStanding drops the standing query of name and returns the
// memberships that end with it.
func (ix *Index) RemoveStanding(name string) []MembershipChange {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	s := ix.standing[name]
	if s == nil {
		return nil
	}
	delete(ix.standing, name)
	ix.unregister(s)
	changes := ix.diffChanges(name, s.members, false)
	sortChanges(changes)
	return changes
}

// Members returns the names of the things in the standing query's group,
// sorted; nil if there is no such standing query.
func (ix *Index) Members(name string) []string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	s := ix.standing[name]
	if s == nil {
		return nil
	}
	ids := ix.docsOf(s.members)
	slices.Sort(ids)
	return ids
}

// Groups returns the names of the standing queries id is a member of,
// sorted.
func (ix *Index) Groups(id string) []string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	n, ok := ix.nums[id]
	if !ok {
		return nil
	}
	var out []string
	for name, s := range ix.standing {
		if s.members.Contains(n) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// percolate re-evaluates the standing queries for document n after a Put
// (AWS §3: membership follows each indexed change; only the final state is
// evaluated). A query is skipped when none of the fields it reads changed:
// its answer for this document cannot have changed either. The others are
// answered before and after the Put by matchChange, so the membership
// bitmaps (large, and cold for a random document) are read only when that
// cannot tell the answer before, and written only when the answer changed.
// The caller holds the write lock.
func (ix *Index) percolate(id string, n uint32, existed bool, changed map[string]bool) []MembershipChange {
	visit := ix.visit[:0]
	if !existed {
		for _, s := range ix.standing {
			visit = append(visit, s)
		}
	} else if len(changed) > 0 {
		// Only queries reading a changed path (or any field) are affected:
		// a term, range or comparison on a field reads the leaves at exactly
		// that path and field:* reads whether a leaf exists at or under it;
		// reindex reports both kinds of change by path.
		ix.round++
		try := func(l []*standing) {
			for _, s := range l {
				if s.seen != ix.round {
					s.seen = ix.round
					visit = append(visit, s)
				}
			}
		}
		try(ix.byPath[""])
		if len(changed) < len(ix.byPath) {
			for p := range changed {
				try(ix.byPath[p])
			}
		} else {
			for p, l := range ix.byPath {
				if changed[p] {
					try(l)
				}
			}
		}
	}
	var changes []MembershipChange
	for _, s := range visit {
		if s.plan == nil {
			s.plan = compile(s.expr)
		}
		var was, now, known bool
		if existed {
			was, now, known = ix.matchChange(s.plan, n)
		} else {
			// A new document number is in no group (see dropMember).
			now, known = ix.matchDoc(s.plan, n), true
		}
		if !known {
			was = s.members.Contains(n)
		}
		if was == now {
			continue
		}
		if now {
			s.members.Add(n)
		} else {
			s.members.Remove(n)
		}
		changes = append(changes, MembershipChange{Group: s.name, ID: id, Added: now})
	}
	clear(visit)
	ix.visit = visit[:0]
	sortChanges(changes)
	return changes
}

// dropMember removes document n from every standing query (on Delete).
func (ix *Index) dropMember(id string, n uint32) []MembershipChange {
	var changes []MembershipChange
	for name, s := range ix.standing {
		if s.members.Contains(n) {
			s.members.Remove(n)
			changes = append(changes, MembershipChange{Group: name, ID: id})
		}
	}
	sortChanges(changes)
	return changes
}

func (ix *Index) diffChanges(group string, bm *roaring.Bitmap, added bool) []MembershipChange {
	var out []MembershipChange
	for _, id := range ix.docsOf(bm) {
		out = append(out, MembershipChange{Group: group, ID: id, Added: added})
	}
	return out
}

func sortChanges(cs []MembershipChange) {
	slices.SortFunc(cs, func(a, b MembershipChange) int {
		if c := cmp.Compare(a.Group, b.Group); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

// percolated is the Put being percolated: the document, decoded for
// query.Match on first use, and what matchChange needs to answer queries
// before and after it.
type percolated struct {
	ix  *Index
	n   uint32
	id  string
	doc map[string]any

	all        bool     // every top-level section was walked (into ix.old and ix.cur)
	sections   []string // otherwise, the keys of those that were
	searchable bool     // whether the document was searchable by bare terms before
}

func (p *percolated) get() map[string]any {
	if p.doc == nil {
		p.doc = decodeDoc(p.ix.docs[p.n], p.id, p.ix.keys.keys)
	}
	return p.doc
}

// walked reports whether the leaves at path come from a walked section.
// Sections are only skipped when no top-level key holds a dot, so path's
// first segment names its section.
func (p *percolated) walked(path string) bool {
	if p.all {
		return true
	}
	if i := strings.IndexByte(path, '.'); i >= 0 {
		path = path[:i]
	}
	return slices.Contains(p.sections, path)
}

// matchDoc reports whether document n, which Put is percolating (ix.pdoc),
// matches the compiled query p: eval restricted to one document, answered
// from the postings where that is a lookup and from query.Match on the
// decoded document otherwise (patterns, phrases, string ranges). The
// caller holds the write lock and n is indexed.
func (ix *Index) matchDoc(p *plan, n uint32) bool {
	switch p.op {
	case opAll:
		return true
	case opAnd:
		for _, a := range p.args {
			if !ix.matchDoc(a, n) {
				return false
			}
		}
		return true
	case opOr:
		for _, a := range p.args {
			if ix.matchDoc(a, n) {
				return true
			}
		}
		return false
	case opNot:
		return !ix.matchDoc(p.args[0], n)
	case opExists:
		if p.path == "" {
			return ix.searchable.Contains(n)
		}
		if bm := ix.exists[p.path]; bm != nil && bm.Contains(n) {
			return true
		}
		if p.path == "description" {
			if bm := ix.exists["thingGroupDescription"]; bm != nil && bm.Contains(n) {
				return true
			}
		}
		return false
	case opEmpty:
		for _, f := range ix.planFields(p) {
			if f.empty != nil && f.empty.Contains(n) {
				return true
			}
		}
		return false
	case opWord:
		fs := ix.planFields(p)
		if p.hasNum {
			for _, f := range fs {
				if f.num.hasValueIn(n, p.num) {
					return true
				}
			}
		}
		for _, f := range fs {
			if bm, one, ok := f.dict.lookup(p.word); ok && (one == n && bm == nil || bm != nil && bm.Contains(n)) {
				return true
			}
		}
		return false
	case opAnyValue:
		for _, f := range ix.planFields(p) {
			if f.docs.Contains(n) {
				return true
			}
		}
		return false
	case opNumRange:
		for _, f := range ix.planFields(p) {
			if f.num.hasValueIn(n, p.num) {
				return true
			}
		}
		return false
	case opMatch:
		return query.Match(p.expr, ix.pdoc.get())
	}
	return false
}
