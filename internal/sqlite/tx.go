package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/overlay"
)

// errTxDone is returned by a Tx used after its Update's fn returned.
var errTxDone = errors.New("sqlite: transaction used after its fn returned")

// write is one Put or Delete of an Update's fn.
type write struct {
	op    iotdm.Op
	kind  string
	key   string
	value []byte // the new value on put; on delete the deleted (last) value, for its Change
	seq   uint64 // its Change's seq, once the writer has taken it into a batch

	// replaced is set, in the writer's batch, when a later write of the
	// same batch replaces this one: the entity's committed value is never
	// this one's, and the entity cache skips it.
	replaced bool
}

// writeTx is the iotdm.Tx given to an Update's fn. It runs on the writer
// goroutine and is not safe for concurrent use.
//
// fn's writes are buffered in the Tx and join the batch only when fn
// returns nil, so a failing fn leaves nothing to roll back and needs no
// savepoint; the batch reaches SQLite in a few multi-row statements when it
// commits. Reads see fn's own writes first, then those of earlier fns of the
// batch, then the committed state: Gets answer from the writer's overlays,
// else the entity cache, else SQLite; Scans from SQLite merged with the
// writes not yet in it.
//
// Statements run with a context that is never cancelled: interrupting a
// statement inside a transaction makes SQLite roll back the whole
// transaction, which would fail every Update in the batch. Each call checks
// its own ctx before it starts instead.
//
// Once a statement fails, the Tx refuses further work and its Update fails
// with that error even if fn swallows it.
type writeTx struct {
	w      *writer
	active bool  // fn is running
	err    error // first database error, sticky
	writes []write
	index  map[entityKey]int // last write of each entity in writes
}

// check reports why the Tx cannot run now, if it cannot.
func (t *writeTx) check(ctx context.Context) error {
	switch {
	case !t.active:
		return errTxDone
	case t.err != nil:
		return t.err
	}
	return ctx.Err()
}

// fail records err as the Tx's database error and returns it.
func (t *writeTx) fail(err error) error {
	if t.err == nil {
		t.err = err
	}
	return err
}

// lookup returns the entity's value as fn sees it. A database error is
// sticky, as in Scan.
func (t *writeTx) lookup(kind, key string) ([]byte, bool, error) {
	k := entityKey{kind, key}
	if i, ok := t.index[k]; ok {
		w := t.writes[i]
		return w.value, w.op == iotdm.OpPut, nil
	}
	v, ok, err := t.w.lookup(k)
	if err != nil {
		return nil, false, t.fail(fmt.Errorf("sqlite: %w", err))
	}
	return v, ok, nil
}

func (t *writeTx) Get(ctx context.Context, kind, key string) ([]byte, bool, error) {
	if err := t.check(ctx); err != nil {
		return nil, false, err
	}
	v, ok, err := t.lookup(kind, key)
	if err != nil || !ok {
		return nil, false, err
	}
	return append([]byte{}, v...), true, nil
}

func (t *writeTx) Scan(ctx context.Context, kind, prefix, after string, limit int, fn func(key string, value []byte) error) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	pending := t.pendingIn(kind, prefix, after)
	if len(pending) == 0 {
		stmt, args := t.w.st.scanQuery(kind, prefix, after, limit)
		dbErr, err := scanRows(t.w.bg, stmt, args, kind, fn)
		if dbErr {
			return t.fail(err)
		}
		return err
	}
	var dbErr bool
	err := overlay.Scan(pending, limit, fn, func(yield func(key string, value []byte) error) error {
		stmt, args := t.w.st.scanQuery(kind, prefix, after, 0)
		var err error
		dbErr, err = scanRows(t.w.bg, stmt, args, kind, yield)
		return err
	})
	if dbErr {
		return t.fail(err)
	}
	return err
}

// pendingIn returns the latest write not yet in SQLite of each entity of
// kind in the scan range, sorted by key: fn's own, else an earlier fn's of
// the open batch (the batch reaches SQLite when it commits).
func (t *writeTx) pendingIn(kind, prefix, after string) []overlay.Write {
	in := func(k entityKey) bool {
		return k.kind == kind && strings.HasPrefix(k.key, prefix) && k.key > after
	}
	var out []overlay.Write
	add := func(w write) {
		out = append(out, overlay.Write{Key: w.key, Delete: w.op == iotdm.OpDelete, Value: w.value})
	}
	for k, i := range t.w.index {
		if _, mine := t.index[k]; !mine && in(k) {
			add(t.w.batch[i])
		}
	}
	for k, i := range t.index {
		if in(k) {
			add(t.writes[i])
		}
	}
	slices.SortFunc(out, func(a, b overlay.Write) int { return strings.Compare(a.Key, b.Key) })
	return out
}

func (t *writeTx) record(w write) {
	if t.index == nil {
		t.index = make(map[entityKey]int, 4)
	}
	t.index[entityKey{w.kind, w.key}] = len(t.writes)
	t.writes = append(t.writes, w)
}

func (t *writeTx) Put(ctx context.Context, kind, key string, value []byte) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	t.record(write{op: iotdm.OpPut, kind: kind, key: key, value: append([]byte{}, value...)})
	return nil
}

func (t *writeTx) Delete(ctx context.Context, kind, key string) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	old, ok, err := t.lookup(kind, key)
	if err != nil {
		return err
	}
	if !ok {
		return nil // nothing is there: no Change
	}
	// The Change carries the deleted value. old is shared with the cache or
	// an earlier write, as put values are with the feed: nobody modifies it.
	t.record(write{op: iotdm.OpDelete, kind: kind, key: key, value: old})
	return nil
}

// writeStmts are the statements prepared once on the writer's connection.
type writeStmts struct {
	readStmts
	begin, commit, rollback *sql.Stmt
	multi                   map[stmtKey]*sql.Stmt // flush's statements, prepared on first use
}

func (s *writeStmts) prepare(ctx context.Context, p preparer) error {
	var err error
	s.readStmts.prepare(ctx, p, &err)
	prepare(ctx, p, &s.begin, "BEGIN IMMEDIATE", &err)
	prepare(ctx, p, &s.commit, "COMMIT", &err)
	prepare(ctx, p, &s.rollback, "ROLLBACK", &err)
	return err
}

func (s *writeStmts) close() error {
	return errors.Join(s.readStmts.close(), closeStmts(
		s.begin, s.commit, s.rollback,
	), closeStmts(slices.Collect(maps.Values(s.multi))...))
}
