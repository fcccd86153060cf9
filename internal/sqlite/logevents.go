package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"sync"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/logquery"
)

// LogEventStore is the iotdm.LogEventStore of a DB: the log_groups,
// log_streams and log_events tables of the same database file
// (migrations/0003_logevents.sql), outside the entities and the change
// feed.
//
// It writes through a connection of its own, beside the DB's writer: SQLite
// lets one of them write at a time (both wait up to the busy timeout), and
// every write here is one short transaction, so neither holds the other
// up for long. Deleting a large stream or group runs in chunks for the same
// reason. The connection syncs every commit (synchronous FULL): events are
// durable when Append returns, without waiting for the DB's syncer.
//
// A LogEventStore must be closed before its DB.
type LogEventStore struct {
	writes *sql.DB // one connection
	reads  *sql.DB // read-only connections
	logger *slog.Logger

	once sync.Once
	err  error
}

var _ iotdm.LogEventStore = (*LogEventStore)(nil)

// deleteChunk is how many events one transaction of a large deletion
// removes.
const deleteChunk = 5000

// OpenLogEventStore opens the log event tables of db, which migrations
// created when db was opened.
func OpenLogEventStore(ctx context.Context, db *DB) (*LogEventStore, error) {
	s := &LogEventStore{logger: db.logger}
	var err error
	if s.writes, err = sql.Open("sqlite", logEventsDSN(db.path, false)); err != nil {
		return nil, fmt.Errorf("sqlite: open log events: %w", err)
	}
	s.writes.SetMaxOpenConns(1)
	s.writes.SetMaxIdleConns(1)
	s.writes.SetConnMaxLifetime(0)
	s.writes.SetConnMaxIdleTime(0)
	if s.reads, err = sql.Open("sqlite", logEventsDSN(db.path, true)); err != nil {
		s.writes.Close()
		return nil, fmt.Errorf("sqlite: open log events: %w", err)
	}
	s.reads.SetMaxOpenConns(4)
	s.reads.SetMaxIdleConns(4)
	var n int
	if err := s.reads.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('log_groups', 'log_streams', 'log_events')`).Scan(&n); err != nil || n != 3 {
		s.Close()
		if err == nil {
			err = errors.New("the log event tables are missing")
		}
		return nil, fmt.Errorf("sqlite: open log events: %w", err)
	}
	return s, nil
}

// logEventsDSN is the DSN of the store's connections: like dsn, but the
// writer takes the write lock when its transaction begins (so it waits for
// the DB's writer instead of failing on upgrade) and syncs every commit.
func logEventsDSN(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMillis))
	if readOnly {
		q.Set("mode", "ro")
	} else {
		q.Set("mode", "rw")
		q.Set("_txlock", "immediate")
		q.Add("_pragma", "synchronous(FULL)")
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: q.Encode()}
	return u.String()
}

// Close closes the store's connections; it is idempotent.
func (s *LogEventStore) Close() error {
	s.once.Do(func() {
		var errs []error
		if s.reads != nil {
			errs = append(errs, s.reads.Close())
		}
		if s.writes != nil {
			errs = append(errs, s.writes.Close())
		}
		if s.err = errors.Join(errs...); s.err != nil {
			s.err = fmt.Errorf("sqlite: close log events: %w", s.err)
		}
	})
	return s.err
}

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// update runs fn in a write transaction.
func (s *LogEventStore) update(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.writes.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: log events: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: log events: commit: %w", err)
	}
	return nil
}

// groupID returns the id of a group incarnation; 0 when it has none.
func groupID(ctx context.Context, q querier, g iotdm.LogGroupRef) (int64, error) {
	var id int64
	err := q.QueryRowContext(ctx, `SELECT id FROM log_groups WHERE name = ? AND created = ?`, g.Name, g.Created).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return id, err
}

// CreateStream implements iotdm.LogEventStore.
func (s *LogEventStore) CreateStream(ctx context.Context, g iotdm.LogGroupRef, st iotdm.StoredLogStream) error {
	return s.update(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO log_groups (name, created) VALUES (?, ?) ON CONFLICT DO NOTHING`, g.Name, g.Created); err != nil {
			return fmt.Errorf("sqlite: create log stream: %w", err)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO log_streams (grp, name, created)
			SELECT id, ?, ? FROM log_groups WHERE name = ? AND created = ? ON CONFLICT DO NOTHING`,
			st.Name, st.CreationTime, g.Name, g.Created)
		if err != nil {
			return fmt.Errorf("sqlite: create log stream: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: create log stream: %w", err)
		} else if n == 0 {
			return iotdm.Errorf(iotdm.ErrResourceAlreadyExists, "The specified log stream already exists")
		}
		return nil
	})
}

// Stream implements iotdm.LogEventStore.
func (s *LogEventStore) Stream(ctx context.Context, g iotdm.LogGroupRef, name string) (iotdm.StoredLogStream, bool, error) {
	st, err := logquery.ScanStream(s.reads.QueryRowContext(ctx, `SELECT `+logquery.StreamColumns+` FROM log_streams s
		JOIN log_groups g ON g.id = s.grp WHERE g.name = ? AND g.created = ? AND s.name = ?`, g.Name, g.Created, name))
	if errors.Is(err, sql.ErrNoRows) {
		return iotdm.StoredLogStream{}, false, nil
	}
	if err != nil {
		return iotdm.StoredLogStream{}, false, fmt.Errorf("sqlite: read log stream: %w", err)
	}
	return st, true, nil
}

// Streams implements iotdm.LogEventStore.
func (s *LogEventStore) Streams(ctx context.Context, q iotdm.LogStreamQuery, fn func(iotdm.StoredLogStream) error) error {
	query, args := logquery.Streams(q, logquery.Question)
	rows, err := s.reads.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("sqlite: list log streams: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		st, err := logquery.ScanStream(rows)
		if err != nil {
			return fmt.Errorf("sqlite: list log streams: %w", err)
		}
		if err := fn(st); err != nil {
			if errors.Is(err, iotdm.ErrStopScan) {
				return nil
			}
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: list log streams: %w", err)
	}
	return nil
}

// Append implements iotdm.LogEventStore.
func (s *LogEventStore) Append(ctx context.Context, g iotdm.LogGroupRef, stream string, ingestion int64, events []iotdm.NewLogEvent) (iotdm.StoredLogStream, error) {
	var out iotdm.StoredLogStream
	err := s.update(ctx, func(tx *sql.Tx) error {
		var id, grp int64
		err := tx.QueryRowContext(ctx, `SELECT s.id, s.grp FROM log_streams s JOIN log_groups g ON g.id = s.grp
			WHERE g.name = ? AND g.created = ? AND s.name = ?`, g.Name, g.Created, stream).Scan(&id, &grp)
		if errors.Is(err, sql.ErrNoRows) {
			return iotdm.Errorf(iotdm.ErrResourceNotFound, "The specified log stream does not exist.")
		}
		if err != nil {
			return fmt.Errorf("sqlite: append log events: %w", err)
		}
		if len(events) == 0 {
			out, err = logquery.ScanStream(tx.QueryRowContext(ctx, `SELECT `+logquery.StreamColumns+` FROM log_streams s WHERE s.id = ?`, id))
			return err
		}
		ins, err := tx.PrepareContext(ctx, `INSERT INTO log_events (grp, stream, ts, ingested, message) VALUES (?, ?, ?, ?, ?)`)
		if err != nil {
			return fmt.Errorf("sqlite: append log events: %w", err)
		}
		defer ins.Close()
		for _, e := range events {
			if _, err := ins.ExecContext(ctx, grp, id, e.Timestamp, ingestion, e.Message); err != nil {
				return fmt.Errorf("sqlite: append log events: %w", err)
			}
		}
		a := logquery.Summarize(events)
		out, err = logquery.ScanStream(tx.QueryRowContext(ctx, `UPDATE log_streams SET
			first_event = CASE WHEN first_event < 0 OR ? < first_event THEN ? ELSE first_event END,
			last_event = max(last_event, ?),
			last_ingestion = ?,
			stored_bytes = stored_bytes + ?,
			events = events + ?
			WHERE id = ? RETURNING `+logquery.ReturningStream,
			a.First, a.First, a.Last, ingestion, a.Bytes, len(events), id))
		if err != nil {
			return fmt.Errorf("sqlite: append log events: %w", err)
		}
		return nil
	})
	return out, err
}

// Events implements iotdm.LogEventStore (logquery.Events).
func (s *LogEventStore) Events(ctx context.Context, q iotdm.LogEventQuery, fn func(iotdm.StoredLogEvent) error) error {
	query, args := logquery.Events(q, logquery.Question)
	rows, err := s.reads.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("sqlite: read log events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e iotdm.StoredLogEvent
		if err := rows.Scan(&e.ID, &e.Stream, &e.Timestamp, &e.IngestionTime, &e.Message); err != nil {
			return fmt.Errorf("sqlite: read log events: %w", err)
		}
		if err := fn(e); err != nil {
			if errors.Is(err, iotdm.ErrStopScan) {
				return nil
			}
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: read log events: %w", err)
	}
	return nil
}

// removed is what a deletion took from one stream.
type removed struct{ events, bytes int64 }

// deleteEvents deletes the events the subquery sel (selecting ids) names
// and takes their bytes off their streams, in tx; it returns how many it
// deleted.
func deleteEvents(ctx context.Context, tx *sql.Tx, sel string, args ...any) (int, error) {
	rows, err := tx.QueryContext(ctx, `DELETE FROM log_events WHERE id IN (`+sel+`) RETURNING stream, length(CAST(message AS BLOB))`, args...)
	if err != nil {
		return 0, err
	}
	by := map[int64]*removed{}
	n := 0
	for rows.Next() {
		var stream, size int64
		if err := rows.Scan(&stream, &size); err != nil {
			rows.Close()
			return 0, err
		}
		r := by[stream]
		if r == nil {
			r = &removed{}
			by[stream] = r
		}
		r.events++
		r.bytes += size
		n++
	}
	if err := rows.Close(); err != nil {
		return 0, err
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for stream, r := range by {
		// The first event is the oldest one left; a stream whose events all
		// expired keeps its times, as on AWS.
		if _, err := tx.ExecContext(ctx, `UPDATE log_streams SET stored_bytes = max(stored_bytes - ?, 0),
			first_event = coalesce((SELECT min(ts) FROM log_events WHERE stream = ?), first_event) WHERE id = ?`,
			r.bytes, stream, stream); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// Expire implements iotdm.LogEventStore.
func (s *LogEventStore) Expire(ctx context.Context, g iotdm.LogGroupRef, before int64, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	n := 0
	err := s.update(ctx, func(tx *sql.Tx) error {
		id, err := groupID(ctx, tx, g)
		if err != nil || id == 0 {
			return err
		}
		n, err = deleteEvents(ctx, tx, `SELECT id FROM log_events WHERE grp = ? AND ts < ? ORDER BY ts LIMIT ?`, id, before, limit)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: expire log events: %w", err)
	}
	return n, nil
}

// DeleteStream implements iotdm.LogEventStore: the stream's events go in
// chunks, then the last ones with the stream, in one transaction.
func (s *LogEventStore) DeleteStream(ctx context.Context, g iotdm.LogGroupRef, name string) (bool, error) {
	var id int64
	err := s.reads.QueryRowContext(ctx, `SELECT s.id FROM log_streams s JOIN log_groups g ON g.id = s.grp
		WHERE g.name = ? AND g.created = ? AND s.name = ?`, g.Name, g.Created, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sqlite: delete log stream: %w", err)
	}
	if err := s.deleteChunks(ctx, `SELECT id FROM log_events WHERE stream = ? LIMIT ?`, id); err != nil {
		return false, fmt.Errorf("sqlite: delete log stream: %w", err)
	}
	ok := false
	err = s.update(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM log_events WHERE stream = ?`, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM log_streams WHERE id = ?`, id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		ok = n > 0
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: delete log stream: %w", err)
	}
	return ok, nil
}

// deleteChunks deletes the events sel (with arg and a LIMIT parameter)
// selects, deleteChunk at a time, until a chunk comes back short.
func (s *LogEventStore) deleteChunks(ctx context.Context, sel string, arg int64) error {
	for {
		var n int
		err := s.update(ctx, func(tx *sql.Tx) error {
			var err error
			n, err = deleteEvents(ctx, tx, sel, arg, deleteChunk)
			return err
		})
		if err != nil || n < deleteChunk {
			return err
		}
	}
}

// DeleteGroup implements iotdm.LogEventStore, in chunks like DeleteStream.
func (s *LogEventStore) DeleteGroup(ctx context.Context, g iotdm.LogGroupRef) error {
	id, err := groupID(ctx, s.reads, g)
	if err != nil {
		return fmt.Errorf("sqlite: delete log group events: %w", err)
	}
	if id == 0 {
		return nil
	}
	if err := s.deleteChunks(ctx, `SELECT id FROM log_events WHERE grp = ? LIMIT ?`, id); err != nil {
		return fmt.Errorf("sqlite: delete log group events: %w", err)
	}
	err = s.update(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{
			`DELETE FROM log_events WHERE grp = ?`,
			`DELETE FROM log_streams WHERE grp = ?`,
			`DELETE FROM log_groups WHERE id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete log group events: %w", err)
	}
	return nil
}

// Groups implements iotdm.LogEventStore.
func (s *LogEventStore) Groups(ctx context.Context) ([]iotdm.LogGroupUsage, error) {
	rows, err := s.reads.QueryContext(ctx, `SELECT g.name, g.created, coalesce(sum(s.stored_bytes), 0)
		FROM log_groups g LEFT JOIN log_streams s ON s.grp = g.id GROUP BY g.id ORDER BY g.name, g.created`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list log groups: %w", err)
	}
	defer rows.Close()
	var out []iotdm.LogGroupUsage
	for rows.Next() {
		var u iotdm.LogGroupUsage
		if err := rows.Scan(&u.Name, &u.Created, &u.StoredBytes); err != nil {
			return nil, fmt.Errorf("sqlite: list log groups: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list log groups: %w", err)
	}
	return out, nil
}

// GroupBytes implements iotdm.LogEventStore.
func (s *LogEventStore) GroupBytes(ctx context.Context, gs []iotdm.LogGroupRef) ([]int64, error) {
	out := make([]int64, len(gs))
	for i, g := range gs {
		err := s.reads.QueryRowContext(ctx, `SELECT coalesce(sum(s.stored_bytes), 0) FROM log_streams s
			JOIN log_groups g ON g.id = s.grp WHERE g.name = ? AND g.created = ?`, g.Name, g.Created).Scan(&out[i])
		if err != nil {
			return nil, fmt.Errorf("sqlite: log group bytes: %w", err)
		}
	}
	return out, nil
}
