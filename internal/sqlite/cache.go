package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"github.com/iotdm/iotdm"
)

// entityKey names one entity in memory.
type entityKey struct{ kind, key string }

// entityCache holds the committed value of every entity, so single reads
// (DB.Get, and the Gets of every Update's fn) never touch SQLite. It is
// loaded once at Open and kept current by the writer, which applies each
// batch's writes after the batch commits and before any of its callers is
// answered: a Get issued after an Update returned sees that Update.
//
// Memory: about the size of the entities table plus a map entry per entity;
// docs/store.md has the numbers and the reason.
type entityCache struct {
	mu sync.RWMutex
	m  map[entityKey][]byte
}

func (c *entityCache) get(kind, key string) ([]byte, bool) {
	c.mu.RLock()
	v, ok := c.m[entityKey{kind, key}]
	c.mu.RUnlock()
	return v, ok
}

// apply makes the writes of a committed batch visible, in order.
func (c *entityCache) apply(writes []write) {
	if len(writes) == 0 {
		return
	}
	c.mu.Lock()
	for _, w := range writes {
		if w.op == iotdm.OpDelete {
			delete(c.m, entityKey{w.kind, w.key})
		} else {
			c.m[entityKey{w.kind, w.key}] = w.value
		}
	}
	c.mu.Unlock()
}

// load reads every entity through conn.
func (c *entityCache) load(ctx context.Context, conn *sql.Conn) error {
	var n int
	if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM entities").Scan(&n); err != nil {
		return fmt.Errorf("load cache: %w", err)
	}
	c.m = make(map[entityKey][]byte, n)
	rows, err := conn.QueryContext(ctx, "SELECT kind, key, value FROM entities")
	if err != nil {
		return fmt.Errorf("load cache: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			k     entityKey
			value []byte
		)
		if err := rows.Scan(&k.kind, &k.key, &value); err != nil {
			return fmt.Errorf("load cache: %w", err)
		}
		if value == nil {
			value = []byte{}
		}
		c.m[k] = value
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load cache: %w", err)
	}
	return nil
}

// Get implements iotdm.Store from memory: the last committed value of one
// entity, as a copy the caller may keep.
func (db *DB) Get(ctx context.Context, kind, key string) ([]byte, bool, error) {
	if db.isClosed() {
		return nil, false, iotdm.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	v, ok := db.cache.get(kind, key)
	if !ok {
		return nil, false, nil
	}
	return append([]byte{}, v...), true, nil
}
