package sqlite

import (
	"fmt"
	"os"
	"time"
)

// syncBatch is a committed (or failed) batch on its way to its callers.
type syncBatch struct {
	err    error     // why the batch's transaction failed, if it did
	time   time.Time // the batch's Change.Time
	start  time.Time // when the writer began to commit it
	reqs   []*request
	writes []write // committed writes, empty if the batch failed or wrote nothing
	last   uint64  // seq of the batch's last Change; meaningful when writes is not empty
}

// syncLoop makes committed batches durable and answers their callers, in
// commit order: it syncs the WAL once for every batch queued meanwhile, then
// caches each batch's writes, publishes its last seq and answers its
// callers. A failed sync leaves the commits in doubt: their callers get the
// error and the DB refuses every later write (see broken).
func (db *DB) syncLoop(wal *os.File) {
	defer close(db.writerDone)
	for sb := range db.syncQ {
		group := []*syncBatch{sb}
	drain:
		for {
			select {
			case more, ok := <-db.syncQ:
				if !ok {
					break drain
				}
				group = append(group, more)
			default:
				break drain
			}
		}
		var syncErr error
		for _, g := range group {
			if len(g.writes) > 0 {
				syncErr = syncWAL(wal)
				break
			}
		}
		if syncErr != nil {
			db.setBroken(syncErr)
		}
		for _, g := range group {
			if db.onCommit != nil && (len(g.writes) > 0 || g.err != nil) {
				db.observeCommit(g, syncErr)
			}
			if syncErr == nil && len(g.writes) > 0 {
				db.cache.apply(g.writes)
				db.recent.add(g.writes, g.time)
				db.publish(g.last)
			}
			// The writer may commit its next batch now; the callers of
			// this one are answered meanwhile.
			for _, r := range g.reqs {
				if syncErr != nil && r.err == nil {
					r.err = syncErr
				}
				close(r.done)
			}
			db.idle <- struct{}{}
		}
	}
}

// observeCommit reports g to Options.OnCommit.
func (db *DB) observeCommit(g *syncBatch, syncErr error) {
	err, updates := g.err, 0
	if err == nil {
		err = syncErr
	}
	for _, r := range g.reqs {
		if r.err == nil {
			updates++
		}
	}
	db.onCommit(time.Since(g.start), updates, err)
}

func syncWAL(wal *os.File) error {
	if err := wal.Sync(); err != nil {
		return fmt.Errorf("sqlite: sync WAL: %w", err)
	}
	return nil
}

// setBroken records the first failed WAL sync.
func (db *DB) setBroken(err error) {
	db.brokenMu.Lock()
	defer db.brokenMu.Unlock()
	if db.brokenErr == nil {
		db.brokenErr = err
		db.logger.Error("sqlite: WAL sync failed; refusing further writes", "err", err)
	}
}

// broken returns the error that stopped writes, or nil.
func (db *DB) broken() error {
	db.brokenMu.Lock()
	defer db.brokenMu.Unlock()
	if db.brokenErr != nil {
		return fmt.Errorf("sqlite: store stopped after a failed WAL sync: %w", db.brokenErr)
	}
	return nil
}
