package fleetindex

import (
	"cmp"
	"slices"

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
	fields  []string // query.Fields(expr); "" means any field
	members *roaring.Bitmap
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
	ix.standing[name] = &standing{expr: expr, fields: query.Fields(expr), members: members}
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
	for name, s := range ix.standing {
		if existed && !affected(s.fields, changed) {
			continue
		}
		was := s.members.Contains(n)
		now := query.Match(s.expr, doc)
		if was == now {
			continue
		}
		if now {
			s.members.Add(n)
		} else {
			s.members.Remove(n)
		}
		changes = append(changes, MembershipChange{Group: name, ID: id, Added: now})
	}
	sortChanges(changes)
	return changes
}

// affected reports whether a query reading fields can answer differently
// after the paths in changed changed. A term, range or comparison on a
// field reads the leaves at exactly that path and field:* reads whether a
// leaf exists at or under it; reindex reports both kinds of change by path.
func affected(fields []string, changed map[string]bool) bool {
	if len(changed) == 0 {
		return false
	}
	for _, f := range fields {
		if f == "" || changed[f] || (f == "description" && changed["thingGroupDescription"]) {
			return true
		}
	}
	return false
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
