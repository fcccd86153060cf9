package sqlite

// BatchStats reports how many write batches db ran and how many Updates
// they carried.
func BatchStats(db *DB) (batches, updates int64) {
	return db.batches.Load(), db.batched.Load()
}
