package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// SQL of the store. pgx prepares each once per connection.
const (
	sqlGet     = "SELECT value FROM entities WHERE kind = $1 AND key = $2"
	sqlHead    = "SELECT seq FROM feed_head"
	sqlChanges = "SELECT seq, time, op, kind, key, value FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2"

	// sqlLock starts every write transaction: it makes write transactions
	// of every node run one at a time.
	sqlLock = "SELECT seq FROM feed_head FOR UPDATE"

	// sqlPut and sqlDelete write the final state of a batch's entities, one
	// array element per entity.
	sqlPut = `INSERT INTO entities (kind, key, value)
		SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[])
		ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value`
	sqlDelete = `DELETE FROM entities e USING unnest($1::text[], $2::text[]) AS d(kind, key)
		WHERE e.kind = d.kind AND e.key = d.key`

	// sqlAppend appends a batch's changes, in order, after the feed head,
	// stamped with one commit time, and advances the head past them. It
	// runs under sqlLock, so the head it reads is the latest.
	sqlAppend = `WITH h AS (SELECT seq, clock_timestamp() AS t FROM feed_head),
		c AS (
			INSERT INTO changes (seq, time, op, kind, key, value)
			SELECT h.seq + u.ord, h.t, u.op, u.kind, u.key, u.value
			FROM h, unnest($1::text[], $2::text[], $3::text[], $4::bytea[]) WITH ORDINALITY AS u(op, kind, key, value, ord)
		)
		UPDATE feed_head SET seq = feed_head.seq + $5 RETURNING feed_head.seq`

	// sqlNotify tells every node's listener the new head; PostgreSQL
	// delivers it when (and only if) the transaction commits.
	sqlNotify = "SELECT pg_notify('" + notifyChannel + "', seq::text) FROM feed_head"
)

// scanSQL returns the Scan query for one shape of key range: the lower bound
// inclusive (a prefix) or exclusive (an after key), with or without an
// exclusive upper bound, and a LIMIT. Each bound is a plain comparison on the
// "C"-collated key, so PostgreSQL walks the primary key from the start of the
// range to its end.
func scanSQL(exclusive, bounded bool) string {
	switch {
	case exclusive && bounded:
		return "SELECT key, value FROM entities WHERE kind = $1 AND key > $2 AND key < $3 ORDER BY key LIMIT $4"
	case exclusive:
		return "SELECT key, value FROM entities WHERE kind = $1 AND key > $2 ORDER BY key LIMIT $3"
	case bounded:
		return "SELECT key, value FROM entities WHERE kind = $1 AND key >= $2 AND key < $3 ORDER BY key LIMIT $4"
	default:
		return "SELECT key, value FROM entities WHERE kind = $1 AND key >= $2 ORDER BY key LIMIT $3"
	}
}

// querier runs queries: a pool, a pool connection or a connection.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// validText reports whether s can be stored in a text column: PostgreSQL
// text is valid UTF-8 without NUL bytes. Kinds and keys are text, so an
// entity whose kind or key is not cannot exist.
func validText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// validPrefix returns the longest prefix of s that is valid text.
func validPrefix(s string) string {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == 0 || (r == utf8.RuneError && size == 1) {
			return s[:i]
		}
		i += size
	}
	return s
}

// textAbove returns a valid text string sorting (by bytes) at or after s,
// or ok false when there is none short of no bound at all.
func textAbove(s string) (string, bool) {
	if validText(s) {
		return s, true
	}
	// q is a proper prefix of s; replacing its last rune by the next one
	// gives a string above every string that starts with q (UTF-8 keeps
	// code point order and no rune's encoding is a prefix of another's).
	q := validPrefix(s)
	for q != "" {
		r, size := utf8.DecodeLastRuneInString(q)
		q = q[:len(q)-size]
		if r == utf8.MaxRune {
			continue
		}
		r++
		if r >= 0xD800 && r <= 0xDFFF { // surrogates are not runes
			r = 0xE000
		}
		return q + string(r), true
	}
	return "", false
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

// getValue reads one entity. A stored value is never nil, so callers can
// tell it from a miss by ok alone.
func getValue(ctx context.Context, q querier, kind, key string) ([]byte, bool, error) {
	if !validText(kind) || !validText(key) {
		return nil, false, nil
	}
	var v []byte
	err := q.QueryRow(ctx, sqlGet, kind, key).Scan(&v)
	switch {
	case err == nil:
		if v == nil {
			v = []byte{}
		}
		return v, true, nil
	case errors.Is(err, pgx.ErrNoRows):
		return nil, false, nil
	default:
		return nil, false, fmt.Errorf("get %s/%s: %w", kind, key, err)
	}
}

// entry is one scanned entity.
type entry struct {
	key   string
	value []byte
}

// scanPage is how many rows scanEntities reads per query. Reading a page
// whole before calling back leaves the connection free for the callback's
// own reads.
const scanPage = 256

// pageReader runs one page query of scanEntities and returns its rows.
type pageReader func(ctx context.Context, sql string, args ...any) ([]entry, error)

// readPage is the pageReader of q.
func readPage(q querier) pageReader {
	return func(ctx context.Context, sql string, args ...any) ([]entry, error) {
		rows, err := q.Query(ctx, sql, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []entry
		for rows.Next() {
			var e entry
			if err := rows.Scan(&e.key, &e.value); err != nil {
				return nil, err
			}
			if e.value == nil {
				e.value = []byte{}
			}
			out = append(out, e)
		}
		return out, rows.Err()
	}
}

// scanEntities calls fn for each stored entity of kind in Scan's range
// (prefix, after, limit), in key order, a page at a time. fn's error is
// returned as is (ErrStopScan too); dbErr reports an error of the database
// instead.
//
// A bound that is not valid text (a prefix ending inside a multi-byte
// character, say) is widened to one that is, and the rows are filtered here
// by the exact range.
func scanEntities(ctx context.Context, read pageReader, kind, prefix, after string, limit int, fn func(key string, value []byte) error) (dbErr bool, err error) {
	if !validText(kind) {
		return false, nil
	}
	lo, exclusive, hi, bounded := scanRange(prefix, after)
	if !validText(lo) {
		lo, exclusive = validPrefix(lo), false
	}
	if bounded {
		hi, bounded = textAbove(hi)
	}
	emitted := 0
	for {
		n := scanPage
		if limit > 0 {
			n = min(n, limit-emitted)
		}
		args := []any{kind, lo}
		if bounded {
			args = append(args, hi)
		}
		args = append(args, n)
		page, err := read(ctx, scanSQL(exclusive, bounded), args...)
		if err != nil {
			return true, fmt.Errorf("scan %s: %w", kind, err)
		}
		for _, e := range page {
			if e.key <= after || !strings.HasPrefix(e.key, prefix) {
				if e.key > prefix && !strings.HasPrefix(e.key, prefix) {
					return false, nil // past the range
				}
				continue
			}
			if err := fn(e.key, e.value); err != nil {
				return false, err
			}
			emitted++
			if limit > 0 && emitted >= limit {
				return false, nil
			}
		}
		if len(page) < n {
			return false, nil
		}
		lo, exclusive = page[len(page)-1].key, true
	}
}
