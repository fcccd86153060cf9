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
