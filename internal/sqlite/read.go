package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/iotdm/iotdm"
)

// View implements iotdm.Store. fn runs in one read transaction on a reader
// connection; seq is read inside that transaction, so it names exactly the
// last Change visible to fn.
func (db *DB) View(ctx context.Context, fn func(ctx context.Context, tx iotdm.ReadTx, seq uint64) error) error {
	if db.isClosed() {
		return iotdm.ErrClosed
	}
	tx, err := db.readers.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return db.closedOr(fmt.Errorf("view: begin: %w", err))
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to keep or lose
	// A deferred transaction takes its snapshot at its first read, so this
	// read fixes the snapshot fn sees and reports its last seq.
	var seq int64
	if err := tx.StmtContext(ctx, db.maxSeq).QueryRowContext(ctx).Scan(&seq); err != nil {
		return db.closedOr(fmt.Errorf("view: read seq: %w", err))
	}
	return fn(ctx, &readTx{tx: tx, q: &db.read}, uint64(seq))
}

// Changes implements iotdm.Store. A limit <= 0 means no limit.
func (db *DB) Changes(ctx context.Context, after uint64, limit int) ([]iotdm.Change, error) {
	if db.isClosed() {
		return nil, iotdm.ErrClosed
	}
	if after >= math.MaxInt64 {
		return nil, nil
	}
	// Only published changes: the syncer publishes a batch's seq once its
	// commit is durable, so the feed never runs ahead of durability.
	upTo := db.seq.Load()
	if after >= upTo {
		return nil, nil
	}
	if out, ok := db.recent.read(after, upTo, limit); ok {
		return out, nil
	}
	rows, err := db.changes.QueryContext(ctx, int64(after), int64(upTo), sqlLimit(limit))
	if err != nil {
		return nil, db.closedOr(fmt.Errorf("changes after %d: %w", after, err))
	}
	defer rows.Close()
	var out []iotdm.Change
	if limit > 0 {
		out = make([]iotdm.Change, 0, min(limit, 1024))
	}
	for rows.Next() {
		var (
			c     iotdm.Change
			seq   int64
			nanos int64
			op    string
			value []byte
		)
		if err := rows.Scan(&seq, &nanos, &op, &c.Kind, &c.Key, &value); err != nil {
			return nil, fmt.Errorf("changes after %d: %w", after, err)
		}
		c.Seq, c.Time, c.Op = uint64(seq), time.Unix(0, nanos).UTC(), iotdm.Op(op)
		if value != nil {
			c.Value = value
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, db.closedOr(fmt.Errorf("changes after %d: %w", after, err))
	}
	return out, nil
}

// LastSeq implements iotdm.Store. It answers from memory: the writer
// publishes the last seq of each batch right after the batch commits.
func (db *DB) LastSeq(ctx context.Context) (uint64, error) {
	if db.isClosed() {
		return 0, iotdm.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return db.seq.Load(), nil
}

// readTx is the iotdm.ReadTx of View: the reader statements bound to one
// read transaction.
type readTx struct {
	tx *sql.Tx
	q  *readStmts
}

func (t *readTx) Get(ctx context.Context, kind, key string) ([]byte, bool, error) {
	return getValue(ctx, t.tx.StmtContext(ctx, t.q.get), kind, key)
}

func (t *readTx) Scan(ctx context.Context, kind, prefix, after string, limit int, fn func(key string, value []byte) error) error {
	stmt, args := t.q.scanQuery(kind, prefix, after, limit)
	_, err := scanRows(ctx, t.tx.StmtContext(ctx, stmt), args, kind, fn)
	return err
}

// scanQuery picks the statement and arguments for a Scan.
func (r *readStmts) scanQuery(kind, prefix, after string, limit int) (*sql.Stmt, []any) {
	lo, exclusive, hi, bounded := scanRange(prefix, after)
	stmt := r.scan[b2i(exclusive)][b2i(bounded)]
	if bounded {
		return stmt, []any{kind, lo, hi, sqlLimit(limit)}
	}
	return stmt, []any{kind, lo, sqlLimit(limit)}
}

// getValue runs a get statement. A stored value is never nil, so callers
// can tell it from a miss by ok alone.
func getValue(ctx context.Context, stmt *sql.Stmt, kind, key string) ([]byte, bool, error) {
	var v []byte
	err := stmt.QueryRowContext(ctx, kind, key).Scan(&v)
	switch {
	case err == nil:
		if v == nil {
			v = []byte{}
		}
		return v, true, nil
	case errors.Is(err, sql.ErrNoRows):
		return nil, false, nil
	default:
		return nil, false, fmt.Errorf("get %s/%s: %w", kind, key, err)
	}
}

// scanRows runs a scan statement and feeds its rows to fn. dbErr reports
// whether err came from the database rather than from fn.
func scanRows(ctx context.Context, stmt *sql.Stmt, args []any, kind string, fn func(key string, value []byte) error) (dbErr bool, err error) {
	rows, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		return true, fmt.Errorf("scan %s: %w", kind, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			key   string
			value []byte
		)
		if err := rows.Scan(&key, &value); err != nil {
			return true, fmt.Errorf("scan %s: %w", kind, err)
		}
		if value == nil {
			value = []byte{}
		}
		if err := fn(key, value); err != nil {
			if errors.Is(err, iotdm.ErrStopScan) {
				return false, nil
			}
			return false, err
		}
	}
	if err := rows.Err(); err != nil {
		return true, fmt.Errorf("scan %s: %w", kind, err)
	}
	return false, nil
}
