package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/overlay"
)

// errTxDone is returned by a Tx or ReadTx used after its fn returned.
var errTxDone = errors.New("postgres: transaction used after its fn returned")

// write is one Put or Delete of an Update's fn.
type write struct {
	op    iotdm.Op
	kind  string
	key   string
	value []byte // the new value on put; on delete the deleted (last) value, for its Change
}

// entityKey names an entity.
type entityKey struct{ kind, key string }

// writeTx is the iotdm.Tx given to an Update's fn. It runs on the writer
// goroutine and is not safe for concurrent use.
//
// fn's writes are buffered in the Tx and join the batch only when fn
// returns nil, so a failing fn leaves nothing to roll back and needs no
// savepoint; the batch reaches PostgreSQL when it commits. Reads see fn's
// own writes first, then those of earlier fns of the batch, then the
// committed state, read on the writer's connection inside the batch's
// transaction once it holds the feed head's lock (see writer.begin).
//
// Statements run with a context that is never cancelled: interrupting a
// statement breaks the connection and so the whole batch. Each call checks
// its own ctx before it starts instead.
//
// Once a statement fails, the Tx refuses further work and the batch is
// rolled back, failing its Update even if fn swallows the error.
type writeTx struct {
	w      *writer
	b      *batch
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

// lookup returns the entity's value as fn sees it.
func (t *writeTx) lookup(ctx context.Context, kind, key string) ([]byte, bool, error) {
	k := entityKey{kind, key}
	if i, ok := t.index[k]; ok {
		w := t.writes[i]
		return w.value, w.op == iotdm.OpPut, nil
	}
	if i, ok := t.b.index[k]; ok {
		w := t.b.writes[i]
		return w.value, w.op == iotdm.OpPut, nil
	}
	if !validText(kind) || !validText(key) {
		return nil, false, nil // cannot be stored, so is not
	}
	if err := t.w.begin(t.b); err != nil {
		return nil, false, t.fail(err)
	}
	v, ok, err := getValue(context.WithoutCancel(ctx), t.w.conn, kind, key)
	if err != nil {
		return nil, false, t.fail(fmt.Errorf("postgres: %w", err))
	}
	return v, ok, nil
}

func (t *writeTx) Get(ctx context.Context, kind, key string) ([]byte, bool, error) {
	if err := t.check(ctx); err != nil {
		return nil, false, err
	}
	v, ok, err := t.lookup(ctx, kind, key)
	if err != nil || !ok {
		return nil, false, err
	}
	return append([]byte{}, v...), true, nil
}

func (t *writeTx) Scan(ctx context.Context, kind, prefix, after string, limit int, fn func(key string, value []byte) error) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	if !validText(kind) {
		return nil // nothing of this kind can be stored, or buffered (see Put)
	}
	if err := t.w.begin(t.b); err != nil {
		return t.fail(err)
	}
	read := readPage(t.w.conn)
	qctx := context.WithoutCancel(ctx)
	pending := t.pendingIn(kind, prefix, after)
	if len(pending) == 0 {
		dbErr, err := scanEntities(qctx, read, kind, prefix, after, limit, fn)
		return t.scanResult(dbErr, err)
	}
	var dbErr bool
	err := overlay.Scan(pending, limit, fn, func(yield func(key string, value []byte) error) error {
		var err error
		dbErr, err = scanEntities(qctx, read, kind, prefix, after, 0, yield)
		return err
	})
	return t.scanResult(dbErr, err)
}

// scanResult turns scanEntities' result into Scan's.
func (t *writeTx) scanResult(dbErr bool, err error) error {
	switch {
	case dbErr:
		return t.fail(fmt.Errorf("postgres: %w", err))
	case errors.Is(err, iotdm.ErrStopScan):
		return nil
	}
	return err
}

// pendingIn returns the latest buffered write of each entity of kind in the
// scan range, sorted by key: fn's own, else an earlier fn's of the batch.
func (t *writeTx) pendingIn(kind, prefix, after string) []overlay.Write {
	in := func(k entityKey) bool {
		return k.kind == kind && strings.HasPrefix(k.key, prefix) && k.key > after
	}
	var out []overlay.Write
	add := func(w write) {
		out = append(out, overlay.Write{Key: w.key, Delete: w.op == iotdm.OpDelete, Value: w.value})
	}
	for k, i := range t.b.index {
		if _, mine := t.index[k]; !mine && in(k) {
			add(t.b.writes[i])
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

// Put implements iotdm.Tx. A kind or key that is not valid UTF-8, or holds
// a NUL byte, cannot be stored in PostgreSQL text: Put refuses it (and the
// Update may go on).
func (t *writeTx) Put(ctx context.Context, kind, key string, value []byte) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	if !validText(kind) || !validText(key) {
		return fmt.Errorf("postgres: put %q/%q: kind and key must be UTF-8 without NUL bytes", kind, key)
	}
	t.record(write{op: iotdm.OpPut, kind: kind, key: key, value: append([]byte{}, value...)})
	return nil
}

func (t *writeTx) Delete(ctx context.Context, kind, key string) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	old, ok, err := t.lookup(ctx, kind, key)
	if err != nil {
		return err
	}
	if !ok {
		return nil // nothing is there: no Change
	}
	// The Change carries the deleted value. old is a buffered write's value
	// or one read for this call: nobody modifies it.
	t.record(write{op: iotdm.OpDelete, kind: kind, key: key, value: old})
	return nil
}

// readTx is the iotdm.ReadTx of View: one pool connection inside a
// read-only REPEATABLE READ transaction. Its methods may be called from
// several goroutines, and from a Scan's callback; mu keeps one statement on
// the connection at a time.
type readTx struct {
	mu   sync.Mutex
	conn *pgxpool.Conn // nil once View's fn has returned
}

// end makes the Tx refuse further work.
func (t *readTx) end() {
	t.mu.Lock()
	t.conn = nil
	t.mu.Unlock()
}

func (t *readTx) Get(ctx context.Context, kind, key string) ([]byte, bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conn == nil {
		return nil, false, errTxDone
	}
	v, ok, err := getValue(ctx, t.conn, kind, key)
	if err != nil {
		return nil, false, fmt.Errorf("postgres: %w", err)
	}
	return v, ok, nil
}

func (t *readTx) Scan(ctx context.Context, kind, prefix, after string, limit int, fn func(key string, value []byte) error) error {
	read := func(ctx context.Context, sql string, args ...any) ([]entry, error) {
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.conn == nil {
			return nil, errTxDone
		}
		return readPage(t.conn)(ctx, sql, args...)
	}
	dbErr, err := scanEntities(ctx, read, kind, prefix, after, limit, fn)
	switch {
	case dbErr:
		return fmt.Errorf("postgres: %w", err)
	case errors.Is(err, iotdm.ErrStopScan):
		return nil
	}
	return err
}
