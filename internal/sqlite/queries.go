package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// SQL run on the hot paths. Each is prepared once: the read statements on the
// reader pool (database/sql then keeps one prepared copy per connection) and
// again, with the write statements, on the writer's connection.
const (
	sqlGet     = "SELECT value FROM entities WHERE kind = ? AND key = ?"
	sqlChanges = "SELECT seq, time, op, kind, key, value FROM changes WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?"
	sqlMaxSeq  = "SELECT COALESCE(MAX(seq), 0) FROM changes"
)

// scanSQL returns the Scan query for one shape of key range: the lower bound
// inclusive (a prefix) or exclusive (an after key), with or without an
// exclusive upper bound. Keeping each bound a plain comparison lets SQLite
// seek the primary key to the start and stop at the end of the range.
func scanSQL(exclusive, bounded bool) string {
	q := "SELECT key, value FROM entities WHERE kind = ? AND key >= ?"
	if exclusive {
		q = "SELECT key, value FROM entities WHERE kind = ? AND key > ?"
	}
	if bounded {
		q += " AND key < ?"
	}
	return q + " ORDER BY key LIMIT ?"
}

// preparer is what statements are prepared on: *sql.DB or *sql.Conn.
type preparer interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// readStmts are the statements a ReadTx needs.
type readStmts struct {
	get  *sql.Stmt
	scan [2][2]*sql.Stmt // [exclusive][bounded]
}

// prepare prepares sqlText on p into *dst, collecting the error in *errp so a
// run of prepares reads as a list; it does nothing once *errp is set.
func prepare(ctx context.Context, p preparer, dst **sql.Stmt, sqlText string, errp *error) {
	if *errp != nil {
		return
	}
	s, err := p.PrepareContext(ctx, sqlText)
	if err != nil {
		*errp = fmt.Errorf("prepare %q: %w", sqlText, err)
		return
	}
	*dst = s
}

func (r *readStmts) prepare(ctx context.Context, p preparer, errp *error) {
	prepare(ctx, p, &r.get, sqlGet, errp)
	for _, ex := range []bool{false, true} {
		for _, bd := range []bool{false, true} {
			prepare(ctx, p, &r.scan[b2i(ex)][b2i(bd)], scanSQL(ex, bd), errp)
		}
	}
}

func (r *readStmts) close() error {
	return closeStmts(r.get, r.scan[0][0], r.scan[0][1], r.scan[1][0], r.scan[1][1])
}

// closeStmts closes every non-nil statement and joins their errors.
func closeStmts(stmts ...*sql.Stmt) error {
	var errs []error
	for _, s := range stmts {
		if s != nil {
			if err := s.Close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// scanRange turns Scan's prefix and after into the key range to query: keys
// from lo (exclusive when exclusive is set, else inclusive) up to hi
// (exclusive; none when bounded is false).
func scanRange(prefix, after string) (lo string, exclusive bool, hi string, bounded bool) {
	lo = prefix
	if after >= prefix {
		// Every key > after is also >= prefix.
		lo, exclusive = after, true
	}
	hi, bounded = prefixEnd(prefix)
	return lo, exclusive, hi, bounded
}

// prefixEnd returns the least string greater than every string that starts
// with prefix, or ok false when there is none (empty prefix, or all 0xff).
func prefixEnd(prefix string) (end string, ok bool) {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

// sqlLimit maps a Go limit (<= 0: none) to SQLite's (negative: none).
func sqlLimit(limit int) int64 {
	if limit <= 0 {
		return -1
	}
	return int64(limit)
}

// stmtShape is a multi-row statement of the writer's flush.
type stmtShape int

const (
	stmtChanges stmtShape = iota // INSERT INTO changes, 6 values a row
	stmtPuts                     // upsert INTO entities, 3 values a row
	stmtDeletes                  // DELETE FROM entities, 2 values a row
)

// stmtKey names one prepared multi-row statement: its shape and row count.
type stmtKey struct {
	shape stmtShape
	rows  int
}

// sql returns the statement of shape for n rows.
func (s stmtShape) sql(n int) string {
	var b strings.Builder
	switch s {
	case stmtChanges:
		b.WriteString("INSERT INTO changes (seq, time, op, kind, key, value) VALUES ")
		repeatRow(&b, "(?, ?, ?, ?, ?, ?)", n)
	case stmtPuts:
		b.WriteString("INSERT INTO entities (kind, key, value) VALUES ")
		repeatRow(&b, "(?, ?, ?)", n)
		b.WriteString(" ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value")
	case stmtDeletes:
		b.WriteString("DELETE FROM entities WHERE (kind, key) IN (VALUES ")
		repeatRow(&b, "(?, ?)", n)
		b.WriteString(")")
	}
	return b.String()
}

func repeatRow(b *strings.Builder, row string, n int) {
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
}
