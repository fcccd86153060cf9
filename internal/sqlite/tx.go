package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/iotdm/iotdm"
)

// errTxDone is returned by a Tx used after its Update's fn returned.
var errTxDone = errors.New("sqlite: transaction used after its fn returned")

// writeTx is the iotdm.Tx given to an Update's fn. It runs on the writer
// goroutine, inside the savepoint of that fn, on the writer's connection.
// It is not safe for concurrent use.
//
// Statements run with a context that is never cancelled: interrupting a
// write inside a transaction makes SQLite roll back the whole transaction,
// which would fail every Update in the batch. Each call checks its own ctx
// before it starts instead.
//
// Once a statement fails, the Tx refuses further work and its Update fails
// with that error even if fn swallows it: SQLite rolls back the whole
// transaction on some errors, and later statements would then run outside
// any transaction.
type writeTx struct {
	w      *writer
	active bool  // fn is running
	err    error // first database error, sticky
}

// check reports why the Tx cannot run a statement now, if it cannot.
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

func (t *writeTx) Get(ctx context.Context, kind, key string) ([]byte, bool, error) {
	if err := t.check(ctx); err != nil {
		return nil, false, err
	}
	v, ok, err := getValue(t.w.bg, t.w.st.get, kind, key)
	if err != nil {
		return nil, false, t.fail(err)
	}
	return v, ok, nil
}

func (t *writeTx) Scan(ctx context.Context, kind, prefix, after string, limit int, fn func(key string, value []byte) error) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	stmt, args := t.w.st.scanQuery(kind, prefix, after, limit)
	dbErr, err := scanRows(t.w.bg, stmt, args, kind, fn)
	if dbErr {
		return t.fail(err)
	}
	return err
}

func (t *writeTx) Put(ctx context.Context, kind, key string, value []byte) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	if value == nil {
		value = []byte{} // entities.value is NOT NULL; nil would bind as NULL
	}
	w := t.w
	if _, err := w.st.put.ExecContext(w.bg, kind, key, value); err != nil {
		return t.fail(fmt.Errorf("put %s/%s: %w", kind, key, err))
	}
	if err := w.record(iotdm.OpPut, kind, key, value); err != nil {
		return t.fail(fmt.Errorf("put %s/%s: %w", kind, key, err))
	}
	return nil
}

func (t *writeTx) Delete(ctx context.Context, kind, key string) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	w := t.w
	res, err := w.st.del.ExecContext(w.bg, kind, key)
	if err != nil {
		return t.fail(fmt.Errorf("delete %s/%s: %w", kind, key, err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return t.fail(fmt.Errorf("delete %s/%s: %w", kind, key, err))
	}
	if n == 0 {
		return nil // nothing was there: no Change
	}
	if err := w.record(iotdm.OpDelete, kind, key, nil); err != nil {
		return t.fail(fmt.Errorf("delete %s/%s: %w", kind, key, err))
	}
	return nil
}

// writeStmts are the statements prepared once on the writer's connection.
type writeStmts struct {
	readStmts
	put, del, change                        *sql.Stmt
	begin, commit, rollback                 *sql.Stmt
	savepoint, release, rollbackToSavepoint *sql.Stmt
}

func (s *writeStmts) prepare(ctx context.Context, p preparer) error {
	var err error
	s.readStmts.prepare(ctx, p, &err)
	prepare(ctx, p, &s.put, sqlPut, &err)
	prepare(ctx, p, &s.del, sqlDelete, &err)
	prepare(ctx, p, &s.change, sqlChange, &err)
	prepare(ctx, p, &s.begin, "BEGIN IMMEDIATE", &err)
	prepare(ctx, p, &s.commit, "COMMIT", &err)
	prepare(ctx, p, &s.rollback, "ROLLBACK", &err)
	prepare(ctx, p, &s.savepoint, "SAVEPOINT fn", &err)
	prepare(ctx, p, &s.release, "RELEASE fn", &err)
	prepare(ctx, p, &s.rollbackToSavepoint, "ROLLBACK TO fn", &err)
	return err
}

func (s *writeStmts) close() error {
	return errors.Join(s.readStmts.close(), closeStmts(
		s.put, s.del, s.change,
		s.begin, s.commit, s.rollback,
		s.savepoint, s.release, s.rollbackToSavepoint,
	))
}
