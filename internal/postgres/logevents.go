package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/logquery"
)

// LogEventStore is an iotdm.LogEventStore on a PostgreSQL database: the
// log_groups, log_streams and log_events tables
// (migrations/0003_logevents.sql), outside the entities and the change
// feed. Several nodes may share them, each with its own LogEventStore on
// the same database. The queries of Streams and Events are those of the
// SQLite store (package logquery).
//
// Concurrency. Every write is a transaction that takes its row locks in one
// order: a group, then streams (by id), then events. An Append is one
// statement that updates its stream (locking it) and inserts the events,
// so appends to one stream take turns and its events get ids in commit
// order. Expiry and deletions lock the streams whose events they delete
// before deleting them, so that a stream's bytes and first event are right
// whatever else runs, and a deleted stream takes every event appended to
// it. A transaction that fails on a deadlock or a serialization failure
// anyway is retried.
type LogEventStore struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
	closed atomic.Bool
}

var _ iotdm.LogEventStore = (*LogEventStore)(nil)

// logDeleteChunk is how many events one transaction of a large deletion
// removes.
const logDeleteChunk = 5000

// OpenLogEventStore returns the log event store of the database pool
// connects to, whose schema holds the log event tables (see migrate). The
// pool stays the caller's: Close does not close it.
func OpenLogEventStore(ctx context.Context, pool *pgxpool.Pool) (*LogEventStore, error) {
	var ok bool
	err := pool.QueryRow(ctx, `SELECT to_regclass('log_groups') IS NOT NULL
		AND to_regclass('log_streams') IS NOT NULL AND to_regclass('log_events') IS NOT NULL`).Scan(&ok)
	if err == nil && !ok {
		err = errors.New("the log event tables are missing")
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: open log events: %w", err)
	}
	return &LogEventStore{pool: pool, logger: slog.New(slog.DiscardHandler)}, nil
}

// Close makes the store answer ErrClosed; it is idempotent.
func (s *LogEventStore) Close() error {
	s.closed.Store(true)
	return nil
}

// update runs fn in a write transaction, retried on deadlocks and
// serialization failures.
func (s *LogEventStore) update(ctx context.Context, fn func(tx pgx.Tx) error) error {
	if s.closed.Load() {
		return iotdm.ErrClosed
	}
	return inRetriedTx(ctx, s.pool, s.logger, fn)
}

// CreateStream implements iotdm.LogEventStore. The group's row is locked
// (created when needed), so that DeleteGroup, which locks it too, never
// misses a stream created meanwhile.
func (s *LogEventStore) CreateStream(ctx context.Context, g iotdm.LogGroupRef, st iotdm.StoredLogStream) error {
	err := s.update(ctx, func(tx pgx.Tx) error {
		var grp int64
		if err := tx.QueryRow(ctx, `INSERT INTO log_groups (name, created) VALUES ($1, $2)
			ON CONFLICT (name, created) DO UPDATE SET name = excluded.name RETURNING id`, g.Name, g.Created).Scan(&grp); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO log_streams (grp, name, created) VALUES ($1, $2, $3)
			ON CONFLICT (grp, name) DO NOTHING`, grp, st.Name, st.CreationTime)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return iotdm.Errorf(iotdm.ErrResourceAlreadyExists, "The specified log stream already exists")
		}
		return nil
	})
	return logStoreErr("create log stream", err)
}

// logStoreErr wraps err, a failure of op; the store's own errors stay as they
// are.
func logStoreErr(op string, err error) error {
	var e *iotdm.Error
	if err == nil || errors.As(err, &e) || errors.Is(err, iotdm.ErrClosed) {
		return err
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// Stream implements iotdm.LogEventStore.
func (s *LogEventStore) Stream(ctx context.Context, g iotdm.LogGroupRef, name string) (iotdm.StoredLogStream, bool, error) {
	if s.closed.Load() {
		return iotdm.StoredLogStream{}, false, iotdm.ErrClosed
	}
	st, err := logquery.ScanStream(s.pool.QueryRow(ctx, `SELECT `+logquery.StreamColumns+` FROM log_streams s
		JOIN log_groups g ON g.id = s.grp WHERE g.name = $1 AND g.created = $2 AND s.name = $3`, g.Name, g.Created, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return iotdm.StoredLogStream{}, false, nil
	}
	if err != nil {
		return iotdm.StoredLogStream{}, false, fmt.Errorf("postgres: read log stream: %w", err)
	}
	return st, true, nil
}

// Streams implements iotdm.LogEventStore (logquery.Streams).
func (s *LogEventStore) Streams(ctx context.Context, q iotdm.LogStreamQuery, fn func(iotdm.StoredLogStream) error) error {
	if s.closed.Load() {
		return iotdm.ErrClosed
	}
	query, args := logquery.Streams(q, logquery.Dollar)
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("postgres: list log streams: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		st, err := logquery.ScanStream(rows)
		if err != nil {
			return fmt.Errorf("postgres: list log streams: %w", err)
		}
		if err := fn(st); err != nil {
			if errors.Is(err, iotdm.ErrStopScan) {
				return nil
			}
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: list log streams: %w", err)
	}
	return nil
}

// Append implements iotdm.LogEventStore: one statement updates the stream,
// which locks it, and inserts the events in their order.
func (s *LogEventStore) Append(ctx context.Context, g iotdm.LogGroupRef, stream string, ingestion int64, events []iotdm.NewLogEvent) (iotdm.StoredLogStream, error) {
	if s.closed.Load() {
		return iotdm.StoredLogStream{}, iotdm.ErrClosed
	}
	if len(events) == 0 {
		st, ok, err := s.Stream(ctx, g, stream)
		if err == nil && !ok {
			err = iotdm.Errorf(iotdm.ErrResourceNotFound, "The specified log stream does not exist.")
		}
		return st, err
	}
	a := logquery.Summarize(events)
	ts := make([]int64, len(events))
	msgs := make([][]byte, len(events))
	for i, e := range events {
		ts[i] = e.Timestamp
		msgs[i] = append([]byte{}, e.Message...) // not nil: NULL is no message
	}
	st, err := logquery.ScanStream(s.pool.QueryRow(ctx, `WITH s AS (
			UPDATE log_streams s SET
				first_event = CASE WHEN s.first_event < 0 OR $4 < s.first_event THEN $4 ELSE s.first_event END,
				last_event = greatest(s.last_event, $5),
				last_ingestion = $6,
				stored_bytes = s.stored_bytes + $7,
				events = s.events + $8
			FROM log_groups g
			WHERE g.id = s.grp AND g.name = $1 AND g.created = $2 AND s.name = $3
			RETURNING s.id, s.grp, `+logquery.StreamColumns+`
		), ins AS (
			INSERT INTO log_events (grp, stream, ts, ingested, message)
			SELECT s.grp, s.id, e.ts, $6, e.message
			FROM s, unnest($9::bigint[], $10::bytea[]) WITH ORDINALITY AS e(ts, message, n)
			ORDER BY e.n
		)
		SELECT `+logquery.ReturningStream+` FROM s`,
		g.Name, g.Created, stream, a.First, a.Last, ingestion, a.Bytes, len(events), ts, msgs))
	if errors.Is(err, pgx.ErrNoRows) {
		return iotdm.StoredLogStream{}, iotdm.Errorf(iotdm.ErrResourceNotFound, "The specified log stream does not exist.")
	}
	if err != nil {
		return iotdm.StoredLogStream{}, fmt.Errorf("postgres: append log events: %w", err)
	}
	return st, nil
}

// Events implements iotdm.LogEventStore (logquery.Events).
func (s *LogEventStore) Events(ctx context.Context, q iotdm.LogEventQuery, fn func(iotdm.StoredLogEvent) error) error {
	if s.closed.Load() {
		return iotdm.ErrClosed
	}
	query, args := logquery.Events(q, logquery.Dollar)
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("postgres: read log events: %w", err)
	}
	defer rows.Close()
	var msg []byte
	for rows.Next() {
		var e iotdm.StoredLogEvent
		if err := rows.Scan(&e.ID, &e.Stream, &e.Timestamp, &e.IngestionTime, &msg); err != nil {
			return fmt.Errorf("postgres: read log events: %w", err)
		}
		e.Message = string(msg)
		if err := fn(e); err != nil {
			if errors.Is(err, iotdm.ErrStopScan) {
				return nil
			}
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: read log events: %w", err)
	}
	return nil
}

// lockStreams locks the streams ids names, in id order, and returns those
// that still exist.
func lockStreams(ctx context.Context, tx pgx.Tx, ids []int64) ([]int64, error) {
	rows, err := tx.Query(ctx, `SELECT id FROM log_streams WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// deleteEvents deletes the events the subquery sel (selecting ids, with
// args) names, from streams tx has locked, and takes their bytes off their
// streams; it returns how many it deleted.
func deleteEvents(ctx context.Context, tx pgx.Tx, sel string, args ...any) (int, error) {
	rows, err := tx.Query(ctx, `DELETE FROM log_events WHERE id IN (`+sel+`) RETURNING stream, octet_length(message)`, args...)
	if err != nil {
		return 0, err
	}
	by := map[int64]int64{} // bytes by stream
	n := 0
	var stream, size int64
	if _, err := pgx.ForEachRow(rows, []any{&stream, &size}, func() error {
		by[stream] += size
		n++
		return nil
	}); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, nil
	}
	streams := make([]int64, 0, len(by))
	for id := range by {
		streams = append(streams, id)
	}
	slices.Sort(streams)
	bytes := make([]int64, len(streams))
	for i, id := range streams {
		bytes[i] = by[id]
	}
	// The first event is the oldest one left; a stream whose events all
	// expired keeps its times, as on AWS.
	if _, err := tx.Exec(ctx, `UPDATE log_streams s SET stored_bytes = greatest(s.stored_bytes - r.bytes, 0),
			first_event = coalesce((SELECT min(e.ts) FROM log_events e WHERE e.stream = s.id), s.first_event)
		FROM unnest($1::bigint[], $2::bigint[]) AS r(id, bytes) WHERE s.id = r.id`, streams, bytes); err != nil {
		return 0, err
	}
	return n, nil
}

// Expire implements iotdm.LogEventStore: it locks the streams of the
// oldest events first, then deletes those streams' oldest events. With
// several expiries of one group at once, one may delete fewer than limit
// events while older ones are left (the next pass takes them).
func (s *LogEventStore) Expire(ctx context.Context, g iotdm.LogGroupRef, before int64, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	n := 0
	err := s.update(ctx, func(tx pgx.Tx) error {
		n = 0
		var grp int64
		err := tx.QueryRow(ctx, `SELECT id FROM log_groups WHERE name = $1 AND created = $2`, g.Name, g.Created).Scan(&grp)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT DISTINCT stream FROM (
			SELECT stream FROM log_events WHERE grp = $1 AND ts < $2 ORDER BY ts LIMIT $3) c`, grp, before, limit)
		if err != nil {
			return err
		}
		streams, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil || len(streams) == 0 {
			return err
		}
		if streams, err = lockStreams(ctx, tx, streams); err != nil {
			return err
		}
		n, err = deleteEvents(ctx, tx, `SELECT id FROM log_events WHERE grp = $1 AND ts < $2 AND stream = ANY($3) ORDER BY ts LIMIT $4`,
			grp, before, streams, limit)
		return err
	})
	if err != nil {
		return 0, logStoreErr("expire log events", err)
	}
	return n, nil
}

// DeleteStream implements iotdm.LogEventStore: the stream's events go in
// chunks, then the last ones with the stream, in one transaction that
// deletes the stream first (so no append comes after it).
func (s *LogEventStore) DeleteStream(ctx context.Context, g iotdm.LogGroupRef, name string) (bool, error) {
	if s.closed.Load() {
		return false, iotdm.ErrClosed
	}
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT s.id FROM log_streams s JOIN log_groups g ON g.id = s.grp
		WHERE g.name = $1 AND g.created = $2 AND s.name = $3`, g.Name, g.Created, name).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("postgres: delete log stream: %w", err)
	}
	if err := s.deleteChunks(ctx, []int64{id}, `SELECT id FROM log_events WHERE stream = $1 LIMIT $2`, id); err != nil {
		return false, logStoreErr("delete log stream", err)
	}
	ok := false
	err = s.update(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM log_streams WHERE id = $1`, id)
		if err != nil {
			return err
		}
		ok = tag.RowsAffected() > 0
		_, err = tx.Exec(ctx, `DELETE FROM log_events WHERE stream = $1`, id)
		return err
	})
	if err != nil {
		return false, logStoreErr("delete log stream", err)
	}
	return ok, nil
}

// deleteChunks deletes the events sel (with arg and a LIMIT parameter)
// selects from the streams ids, logDeleteChunk at a time, each chunk with
// the streams locked, until a chunk comes back short or the streams are
// gone.
func (s *LogEventStore) deleteChunks(ctx context.Context, ids []int64, sel string, arg int64) error {
	for {
		n := 0
		err := s.update(ctx, func(tx pgx.Tx) error {
			n = 0
			locked, err := lockStreams(ctx, tx, ids)
			if err != nil || len(locked) == 0 {
				return err
			}
			n, err = deleteEvents(ctx, tx, sel, arg, logDeleteChunk)
			return err
		})
		if err != nil || n < logDeleteChunk {
			return err
		}
	}
}

// DeleteGroup implements iotdm.LogEventStore, in chunks like DeleteStream;
// the last transaction locks the group first, so no stream is created in
// it meanwhile, then its streams, so no event is appended to them.
func (s *LogEventStore) DeleteGroup(ctx context.Context, g iotdm.LogGroupRef) error {
	if s.closed.Load() {
		return iotdm.ErrClosed
	}
	var grp int64
	err := s.pool.QueryRow(ctx, `SELECT id FROM log_groups WHERE name = $1 AND created = $2`, g.Name, g.Created).Scan(&grp)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("postgres: delete log group events: %w", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT id FROM log_streams WHERE grp = $1`, grp)
	if err != nil {
		return fmt.Errorf("postgres: delete log group events: %w", err)
	}
	streams, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("postgres: delete log group events: %w", err)
	}
	if len(streams) > 0 {
		if err := s.deleteChunks(ctx, streams, `SELECT id FROM log_events WHERE grp = $1 LIMIT $2`, grp); err != nil {
			return logStoreErr("delete log group events", err)
		}
	}
	err = s.update(ctx, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `SELECT id FROM log_groups WHERE id = $1 FOR UPDATE`, grp).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // deleted meanwhile
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT id FROM log_streams WHERE grp = $1 ORDER BY id FOR UPDATE`, grp); err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM log_streams WHERE grp = $1`,
			`DELETE FROM log_events WHERE grp = $1`,
			`DELETE FROM log_groups WHERE id = $1`,
		} {
			if _, err := tx.Exec(ctx, q, grp); err != nil {
				return err
			}
		}
		return nil
	})
	return logStoreErr("delete log group events", err)
}

// Groups implements iotdm.LogEventStore.
func (s *LogEventStore) Groups(ctx context.Context) ([]iotdm.LogGroupUsage, error) {
	if s.closed.Load() {
		return nil, iotdm.ErrClosed
	}
	rows, err := s.pool.Query(ctx, `SELECT g.name, g.created, coalesce(sum(s.stored_bytes), 0)::bigint
		FROM log_groups g LEFT JOIN log_streams s ON s.grp = g.id GROUP BY g.id ORDER BY g.name, g.created`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list log groups: %w", err)
	}
	var out []iotdm.LogGroupUsage
	var u iotdm.LogGroupUsage
	if _, err := pgx.ForEachRow(rows, []any{&u.Name, &u.Created, &u.StoredBytes}, func() error {
		out = append(out, u)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("postgres: list log groups: %w", err)
	}
	return out, nil
}

// GroupBytes implements iotdm.LogEventStore.
func (s *LogEventStore) GroupBytes(ctx context.Context, gs []iotdm.LogGroupRef) ([]int64, error) {
	if s.closed.Load() {
		return nil, iotdm.ErrClosed
	}
	out := make([]int64, len(gs))
	if len(gs) == 0 {
		return out, nil
	}
	names, created := make([]string, len(gs)), make([]int64, len(gs))
	for i, g := range gs {
		names[i], created[i] = g.Name, g.Created
	}
	rows, err := s.pool.Query(ctx, `SELECT r.n, coalesce(sum(s.stored_bytes), 0)::bigint
		FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS r(name, created, n)
		JOIN log_groups g ON g.name = r.name AND g.created = r.created
		JOIN log_streams s ON s.grp = g.id
		GROUP BY r.n`, names, created)
	if err != nil {
		return nil, fmt.Errorf("postgres: log group bytes: %w", err)
	}
	var n, bytes int64
	if _, err := pgx.ForEachRow(rows, []any{&n, &bytes}, func() error {
		out[n-1] = bytes
		return nil
	}); err != nil {
		return nil, fmt.Errorf("postgres: log group bytes: %w", err)
	}
	return out, nil
}
