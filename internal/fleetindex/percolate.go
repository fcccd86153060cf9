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
	s := &standing{name: name, expr: expr, fields: query.Fields(expr), members: members}
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
// its answer for this document cannot have changed either. The caller
// holds the write lock.
func (ix *Index) percolate(id string, n uint32, doc map[string]any, existed bool, changed map[string]bool) []MembershipChange {
	var changes []MembershipChange
	visit := func(s *standing) {
		was := s.members.Contains(n)
		now := ix.matchDoc(s.expr, n, doc)
		if was == now {
			return
		}
		if now {
			s.members.Add(n)
		} else {
			s.members.Remove(n)
		}
		changes = append(changes, MembershipChange{Group: s.name, ID: id, Added: now})
	}
	if !existed {
		for _, s := range ix.standing {
			visit(s)
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
					visit(s)
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

// matchDoc reports whether document n (whose document is doc) matches e:
// eval restricted to one document, answered from the postings where that
// is a lookup and from query.Match otherwise (patterns, phrases, string
// ranges). The caller holds the write lock and n is indexed.
func (ix *Index) matchDoc(e query.Expr, n uint32, doc map[string]any) bool {
	switch e := e.(type) {
	case *query.MatchAll:
		return true
	case *query.And:
		for _, a := range e.Args {
			if !ix.matchDoc(a, n, doc) {
				return false
			}
		}
		return true
	case *query.Or:
		for _, a := range e.Args {
			if ix.matchDoc(a, n, doc) {
				return true
			}
		}
		return false
	case *query.Not:
		return !ix.matchDoc(e.X, n, doc)
	case *query.Exists:
		if e.Field == "" {
			return ix.searchable.Contains(n)
		}
		if bm := ix.exists[e.Field]; bm != nil && bm.Contains(n) {
			return true
		}
		if e.Field == "description" {
			if bm := ix.exists["thingGroupDescription"]; bm != nil && bm.Contains(n) {
				return true
			}
		}
		return false
	case *query.Term:
		return ix.matchTerm(e, n, doc)
	case *query.Range:
		return ix.matchRange(e, e.Field, e.Lower, e.Upper, n, doc)
	case *query.Compare:
		lo, hi := query.Bound{Open: true}, query.Bound{Open: true}
		switch e.Op {
		case query.GT, query.GE:
			lo = query.Bound{Value: e.Value, Inclusive: e.Op == query.GE}
		case query.LT, query.LE:
			hi = query.Bound{Value: e.Value, Inclusive: e.Op == query.LE}
		}
		return ix.matchRange(e, e.Field, lo, hi, n, doc)
	}
	return false
}

// matchTerm is evalTerm for one document.
func (ix *Index) matchTerm(t *query.Term, n uint32, doc map[string]any) bool {
	if t.Value.Kind == query.Pattern {
		return query.Match(t, doc)
	}
	fs := ix.fieldsFor(t.Field)
	if v, ok := t.Value.Number(); ok {
		r := numRange{lo: v, hi: v, loIn: true, hiIn: true}
		for _, f := range fs {
			if f.num.hasValueIn(n, r) {
				return true
			}
		}
	}
	text := strings.ToLower(t.Value.Text)
	first, i := nextTerm(text, 0)
	if first == "" {
		for _, f := range fs {
			if f.empty != nil && f.empty.Contains(n) {
				return true
			}
		}
		return false
	}
	if second, _ := nextTerm(text, i); second != "" {
		return query.Match(t, doc) // phrases: order and adjacency within a value
	}
	for _, f := range fs {
		if bm, one, ok := f.dict.lookup(first); ok && (one == n && bm == nil || bm != nil && bm.Contains(n)) {
			return true
		}
	}
	return false
}

// matchRange is evalRange for one document; e is the range or comparison.
func (ix *Index) matchRange(e query.Expr, path string, lo, hi query.Bound, n uint32, doc map[string]any) bool {
	fs := ix.fieldsFor(path)
	if lo.Open && hi.Open {
		for _, f := range fs {
			if f.docs.Contains(n) {
				return true
			}
		}
		return false
	}
	ln, lok := lo.Value.Number()
	hn, hok := hi.Value.Number()
	if (lo.Open || lok) && (hi.Open || hok) {
		r := numRange{lo: ln, hi: hn, loIn: lo.Inclusive, hiIn: hi.Inclusive, loOpen: lo.Open, hiOpen: hi.Open}
		for _, f := range fs {
			if f.num.hasValueIn(n, r) {
				return true
			}
		}
		return false
	}
	return query.Match(e, doc) // string ranges
}
