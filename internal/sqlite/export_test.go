package sqlite

// BatchStats reports how many write batches db ran and how many Updates
// they carried.
func BatchStats(db *DB) (batches, updates int64) {
	return db.batches.Load(), db.batched.Load()
}

// SetAfterMissRead makes db's Get call f between a cache miss's read of
// SQLite and its fill of the cache.
func SetAfterMissRead(db *DB, f func()) { db.afterMissRead = f }

// CachedValue returns what db's entity cache holds for kind/key, without
// counting a hit.
func CachedValue(db *DB, kind, key string) ([]byte, bool) {
	return db.cache.peek(entityKey{kind, key})
}
