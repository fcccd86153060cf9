package postgres

import (
	"context"
	"time"
)

// OpenPolling is Open with the listener's poll of the feed head every
// poll instead of every half second.
func OpenPolling(ctx context.Context, dsn string, opts Options, poll time.Duration) (*DB, error) {
	opts.pollInterval = poll
	return Open(ctx, dsn, opts)
}

// ListenerPID returns the backend PID of db's LISTEN connection.
func ListenerPID(db *DB) uint32 { return db.listenPID.Load() }

// BatchStats returns how many write batches db ran and how many Updates
// they carried.
func BatchStats(db *DB) (batches, updates int64) {
	return db.batches.Load(), db.batched.Load()
}

// WriterPID returns the backend PID of db's writer connection.
func WriterPID(db *DB) uint32 { return db.writerPID.Load() }
