package fleetindex

// each calls fn with the id of every document, in no particular order.
func (ix *Index) each(fn func(id string)) {
	ix.mu.RLock()
	ids := make([]string, 0, len(ix.nums))
	for id := range ix.nums {
		ids = append(ids, id)
	}
	ix.mu.RUnlock()
	for _, id := range ids {
		fn(id)
	}
}

// countStanding returns the number of standing queries id is a member of.
func (ix *Index) countStanding(id string) int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	n, ok := ix.nums[id]
	if !ok {
		return 0
	}
	count := 0
	for _, s := range ix.standing {
		if s.members.Contains(n) {
			count++
		}
	}
	return count
}

// eachStandingCount calls fn with every document in at least one standing
// query and the number of standing queries it is in. It counts from the
// standing queries' bitmaps in one pass, so it is cheap for the whole
// index. fn must not call back into the index.
func (ix *Index) eachStandingCount(fn func(id string, n int)) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	counts := make([]uint16, len(ix.names))
	for _, s := range ix.standing {
		it := s.members.Iterator()
		for it.HasNext() {
			counts[it.Next()]++
		}
	}
	for n, c := range counts {
		if c > 0 {
			fn(ix.names[n], int(c))
		}
	}
}
