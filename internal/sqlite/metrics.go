package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/metricbucket"

	msqlite "modernc.org/sqlite"
)

// The metric store keeps CloudWatch observations in the DB's file, in its
// own tables (migrations/0002_metrics.sql), apart from the entities and the
// change feed: no Change is recorded for them.
//
// Layout. A series is a metric (namespace, name, canonical dimensions) with
// one unit. Each series has one row per minute in metric_data and, for
// high-resolution observations, one row per second in metric_data_hr, keyed
// by series id << 32 | bucket start (Unix seconds), so a series' rows over
// a time range are one primary-key range, in time order. A row holds the
// bucket packed in one blob (metricbucket.Encode): its SampleCount, Sum,
// Minimum and Maximum and a sample of its values for percentiles; one
// column reads much faster than five.
//
// Writes run on the DB's one writer, inside its batches (a PutMetricPoints
// is an Update whose fn writes the rows with SQL on the writer's connection,
// in a savepoint so that it commits or fails alone), so metrics share the
// store's single-writer discipline and its group commit. A batch that wrote
// no entity is not synced by the DB's syncer; PutMetricPoints syncs the WAL
// itself before it returns, so acknowledged observations survive a crash.
//
// Retention, roll-up and percentile accuracy are those of package
// metricbucket, which also checks and packs the buckets. Expiry runs in the
// store's own loop, which Close stops.

const (
	// DefaultMetricRetention is how long minute rows are kept.
	DefaultMetricRetention = metricbucket.DefaultRetention
	// DefaultHighResolutionRetention is how long second rows are kept before
	// they are rolled up into minute rows.
	DefaultHighResolutionRetention = metricbucket.DefaultHighResolutionRetention
	// DefaultMetricExpiryInterval is how often the expiry loop runs.
	DefaultMetricExpiryInterval = metricbucket.DefaultExpiryInterval

	// expiryPage is how many series or rows one expiry Update handles.
	expiryPage = 512
	// secondsMask extracts the bucket start from a data key.
	secondsMask = metricbucket.MaxTimestamp
)

// MetricOptions configure OpenMetricStore.
type MetricOptions = metricbucket.Options

// MetricStore is the iotdm.MetricStore of a DB. Close it before the DB.
type MetricStore struct {
	db     *DB
	opts   MetricOptions
	logger *slog.Logger

	// Statements on the DB's reader pool.
	seriesAll  *sql.Stmt
	seriesUnit *sql.Stmt
	scan       [2]*sql.Stmt // [hr]: key and the statistics of data
	scanSample [2]*sql.Stmt // [hr]: key and data

	// ws is only touched on the DB's writer goroutine (inside Update fns).
	ws metricWriteStmts

	cache metricbucket.SeriesCache

	closed atomic.Bool
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
	err    error
}

var _ iotdm.MetricStore = (*MetricStore)(nil)

const (
	sqlSeriesAll  = "SELECT id, unit FROM metric_series WHERE namespace = ? AND name = ? AND dims = ? ORDER BY unit"
	sqlSeriesUnit = "SELECT id, unit FROM metric_series WHERE namespace = ? AND name = ? AND dims = ? AND unit = ?"
)

var metricTables = [2]string{"metric_data", "metric_data_hr"}

func init() {
	// The merge of two buckets, for the upserts of PutMetricPoints and the
	// high-resolution roll-up. Registered before any connection opens, so
	// every connection of every DB has it.
	msqlite.MustRegisterFunction("iotdm_metric_merge", &msqlite.FunctionImpl{
		NArgs:         2,
		Deterministic: true,
		VolatileArgs:  true, // mergeRowsSQL decodes its arguments into new slices
		Scalar:        mergeRowsSQL,
	})
}

// OpenMetricStore returns the metric store of db and starts its expiry
// loop. db's schema already holds the metric tables (Open migrates).
func OpenMetricStore(ctx context.Context, db *DB, opts MetricOptions) (*MetricStore, error) {
	opts = opts.WithDefaults()
	if db.isClosed() {
		return nil, iotdm.ErrClosed
	}
	m := &MetricStore{
		db:     db,
		opts:   opts,
		logger: opts.Logger.With("component", "metricstore"),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	var err error
	prepare(ctx, db.readers, &m.seriesAll, sqlSeriesAll, &err)
	prepare(ctx, db.readers, &m.seriesUnit, sqlSeriesUnit, &err)
	for hr, table := range metricTables {
		prepare(ctx, db.readers, &m.scan[hr], fmt.Sprintf("SELECT key, substr(data, 1, %d) FROM %s WHERE key >= ? AND key < ?", metricbucket.StatsLen, table), &err)
		prepare(ctx, db.readers, &m.scanSample[hr], "SELECT key, data FROM "+table+" WHERE key >= ? AND key < ?", &err)
	}
	if err != nil {
		_ = m.closeReadStmts()
		return nil, fmt.Errorf("sqlite: open metric store: %w", err)
	}
	if opts.ExpiryInterval > 0 {
		go m.expiryLoop()
	} else {
		close(m.done)
	}
	return m, nil
}

// Close stops the expiry loop and releases the store's statements. It is
// idempotent; call it before closing the DB.
func (m *MetricStore) Close() error {
	m.once.Do(func() {
		m.closed.Store(true)
		close(m.stop)
		<-m.done
		// The write statements live on the writer's connection: close them
		// there. A closed DB has already finalised them.
		err := m.db.Update(context.Background(), func(ctx context.Context, tx iotdm.Tx) error {
			return m.ws.close()
		})
		if errors.Is(err, iotdm.ErrClosed) {
			err = nil
		}
		m.err = errors.Join(err, m.closeReadStmts())
		if m.err != nil {
			m.err = fmt.Errorf("sqlite: close metric store: %w", m.err)
		}
	})
	return m.err
}

func (m *MetricStore) closeReadStmts() error {
	return closeStmts(m.seriesAll, m.seriesUnit, m.scan[0], m.scan[1], m.scanSample[0], m.scanSample[1])
}

// --- PutMetricPoints ---

// metricBatch is a batch of points with the series ids the writer resolved.
type metricBatch struct {
	*metricbucket.Batch
	ids      []int64 // by series, resolved on the writer
	dbLast   []int64 // last as stored, when the writer updated it
	upserted []bool
}

// PutMetricPoints implements iotdm.MetricStore: the points are grouped by
// series and bucket, then added to their rows in one Update; they are
// durable when it returns.
func (m *MetricStore) PutMetricPoints(ctx context.Context, points []iotdm.MetricPoint) error {
	if m.closed.Load() {
		return iotdm.ErrClosed
	}
	if len(points) == 0 {
		return nil
	}
	bb, err := metricbucket.NewBatch(points, m.opts.Cutoff(m.opts.Now()))
	if err != nil {
		return err
	}
	if len(bb.Rows) == 0 {
		return nil
	}
	b := &metricBatch{Batch: bb}
	err = m.db.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		w, err := m.writerOf(tx)
		if err != nil {
			return err
		}
		return m.inSavepoint(w, func() error { return m.write(w, b) })
	})
	if err != nil {
		return fmt.Errorf("put metric points: %w", err)
	}
	if err := m.syncWAL(); err != nil {
		return fmt.Errorf("put metric points: %w", err)
	}
	m.remember(b)
	return nil
}

// writerOf returns the writer running tx, the Tx of an Update fn.
func (m *MetricStore) writerOf(tx iotdm.Tx) (*writer, error) {
	if m.closed.Load() {
		return nil, iotdm.ErrClosed
	}
	t, ok := tx.(*writeTx)
	if !ok || !t.active {
		return nil, errors.New("sqlite: metric write outside the writer")
	}
	return t.w, nil
}

// syncWAL makes the last commit durable, as the DB's syncer does for
// batches that wrote entities. A closed DB has checkpointed its WAL.
func (m *MetricStore) syncWAL() error {
	if m.db.isClosed() {
		return nil
	}
	err := syncWAL(m.db.wal)
	if err != nil && !errors.Is(err, os.ErrClosed) {
		m.db.setBroken(err)
		return err
	}
	return nil
}

// inSavepoint runs fn on the writer's connection inside a savepoint: when
// fn fails, what it wrote is rolled back and the rest of the batch goes on.
func (m *MetricStore) inSavepoint(w *writer, fn func() error) (err error) {
	st, err := m.ws.prepare(w)
	if err != nil {
		return err
	}
	if _, err := st.savepoint.ExecContext(w.bg); err != nil {
		return fmt.Errorf("sqlite: savepoint: %w", err)
	}
	defer func() {
		if err != nil {
			// When the error ended the whole transaction there is no
			// savepoint left; the batch's COMMIT fails and says so.
			if _, rerr := st.rollbackTo.ExecContext(w.bg); rerr != nil {
				m.logger.Debug("rollback to savepoint", "err", rerr)
				return
			}
		}
		if _, rerr := st.release.ExecContext(w.bg); rerr != nil && err == nil {
			err = fmt.Errorf("sqlite: release savepoint: %w", rerr)
		}
	}()
	return fn()
}

// write resolves b's series ids, recording their newest observation, and
// adds b's rows to their buckets.
func (m *MetricStore) write(w *writer, b *metricBatch) error {
	n := len(b.Series)
	b.ids, b.dbLast, b.upserted = make([]int64, n), make([]int64, n), make([]bool, n)
	var pending []int
	for i, s := range b.Series {
		if id, ok := m.cache.Lookup(s.Key, s.Last, math.MinInt64); ok {
			b.ids[i] = id
			continue
		}
		pending = append(pending, i)
	}
	for c := range metricChunks(len(pending)) {
		idx := pending[c.start : c.start+c.n]
		if err := m.upsertSeries(w, b, idx); err != nil {
			return err
		}
	}
	for hr := range metricTables {
		var rows []*metricbucket.Row
		for i := range b.Rows {
			if r := &b.Rows[i]; r.HighResolution == (hr == 1) {
				rows = append(rows, r)
			}
		}
		for c := range metricChunks(len(rows)) {
			part := rows[c.start : c.start+c.n]
			args := make([]any, 0, 2*len(part))
			for _, r := range part {
				args = append(args, b.ids[r.Series]<<32|r.Start, r.Data)
			}
			st, err := m.ws.data(w, hr, len(part))
			if err != nil {
				return err
			}
			if _, err := st.ExecContext(w.bg, args...); err != nil {
				return fmt.Errorf("sqlite: write metric data: %w", err)
			}
		}
	}
	return nil
}

// upsertSeries creates the series of b at idx, or moves their last
// observation, and records their ids.
func (m *MetricStore) upsertSeries(w *writer, b *metricBatch, idx []int) error {
	args := make([]any, 0, 5*len(idx))
	byKey := make(map[string]int, len(idx))
	for _, i := range idx {
		s := &b.Series[i]
		args = append(args, s.Namespace, s.Name, s.Dims, s.Unit, s.Last)
		byKey[s.Key] = i
	}
	st, err := m.ws.series(w, len(idx))
	if err != nil {
		return err
	}
	rows, err := st.QueryContext(w.bg, args...)
	if err != nil {
		return fmt.Errorf("sqlite: write metric series: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, last int64
		var ns, name, dims, unit string
		if err := rows.Scan(&id, &ns, &name, &dims, &unit, &last); err != nil {
			return fmt.Errorf("sqlite: write metric series: %w", err)
		}
		if i, ok := byKey[metricbucket.SeriesKey(ns, name, dims, unit)]; ok {
			b.ids[i], b.dbLast[i], b.upserted[i] = id, last, true
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: write metric series: %w", err)
	}
	for _, i := range idx {
		if !b.upserted[i] {
			return fmt.Errorf("sqlite: write metric series: no id returned for %q", b.Series[i].Key)
		}
	}
	return nil
}

// remember caches the series ids of a committed batch.
func (m *MetricStore) remember(b *metricBatch) {
	for i, s := range b.Series {
		if b.upserted[i] {
			m.cache.Remember(s.Key, b.ids[i], b.dbLast[i])
		}
	}
}

// metricChunk is a run of rows written by one multi-row statement.
type metricChunk struct{ start, n int }

// maxMetricChunk is the most rows one multi-row statement carries. Chunks are
// powers of two, so few statement shapes are ever prepared.
const maxMetricChunk = 64

// metricChunks splits n rows into runs of maxMetricChunk rows, then powers of two.
func metricChunks(n int) func(yield func(metricChunk) bool) {
	return func(yield func(metricChunk) bool) {
		start := 0
		for size := maxMetricChunk; size > 0 && start < n; {
			if n-start < size {
				size /= 2
				continue
			}
			if !yield(metricChunk{start, size}) {
				return
			}
			start += size
		}
	}
}

// metricWriteStmts are the statements of the metric writes, prepared on the
// writer's connection on first use.
type metricWriteStmts struct {
	savepoint, release, rollbackTo *sql.Stmt
	seriesUp                       map[int]*sql.Stmt
	dataUp                         [2]map[int]*sql.Stmt
	conn                           *sql.Conn
}

func (s *metricWriteStmts) prepare(w *writer) (*metricWriteStmts, error) {
	if s.savepoint != nil {
		return s, nil
	}
	// A savepoint keeps the original of every page it changes in a
	// statement journal, a temporary file past 64 KiB: keep temporary data
	// of the writer's connection in memory. This more than doubles the rate
	// of large PutMetricPoints.
	if _, err := w.conn.ExecContext(w.bg, "PRAGMA temp_store = MEMORY"); err != nil {
		return nil, fmt.Errorf("sqlite: set temp_store: %w", err)
	}
	var err error
	prepare(w.bg, w.conn, &s.savepoint, "SAVEPOINT iotdm_metrics", &err)
	prepare(w.bg, w.conn, &s.release, "RELEASE iotdm_metrics", &err)
	prepare(w.bg, w.conn, &s.rollbackTo, "ROLLBACK TO iotdm_metrics", &err)
	if err != nil {
		_ = s.close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	s.conn = w.conn
	s.seriesUp = map[int]*sql.Stmt{}
	s.dataUp = [2]map[int]*sql.Stmt{{}, {}}
	return s, nil
}

func (s *metricWriteStmts) stmt(w *writer, m map[int]*sql.Stmt, n int, text func(int) string) (*sql.Stmt, error) {
	if st, ok := m[n]; ok {
		return st, nil
	}
	st, err := w.conn.PrepareContext(w.bg, text(n))
	if err != nil {
		return nil, fmt.Errorf("sqlite: prepare metric statement: %w", err)
	}
	m[n] = st
	return st, nil
}

func (s *metricWriteStmts) series(w *writer, n int) (*sql.Stmt, error) {
	return s.stmt(w, s.seriesUp, n, seriesUpsertSQL)
}

func (s *metricWriteStmts) data(w *writer, hr, n int) (*sql.Stmt, error) {
	return s.stmt(w, s.dataUp[hr], n, func(n int) string { return dataUpsertSQL(metricTables[hr], n) })
}

func (s *metricWriteStmts) close() error {
	stmts := []*sql.Stmt{s.savepoint, s.release, s.rollbackTo}
	for _, m := range append([]map[int]*sql.Stmt{s.seriesUp}, s.dataUp[:]...) {
		for _, st := range m {
			stmts = append(stmts, st)
		}
	}
	*s = metricWriteStmts{}
	return closeStmts(stmts...)
}

func seriesUpsertSQL(n int) string {
	return "INSERT INTO metric_series (namespace, name, dims, unit, last) VALUES " + metricRowsSQL(n, 5) +
		" ON CONFLICT (namespace, name, dims, unit) DO UPDATE SET last = max(last, excluded.last)" +
		" RETURNING id, namespace, name, dims, unit, last"
}

func dataUpsertSQL(table string, n int) string {
	return "INSERT INTO " + table + " (key, data) VALUES " + metricRowsSQL(n, 2) +
		" ON CONFLICT (key) DO UPDATE SET data = iotdm_metric_merge(data, excluded.data)"
}

// metricRowsSQL is n rows of width placeholders: (?, ?), (?, ?).
func metricRowsSQL(n, width int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", width), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// --- MetricStatistics ---

// MetricStatistics implements iotdm.MetricStore. Buckets are returned per
// unit: without a unit in r, a period whose observations carry two units
// has a bucket for each (as GetMetricStatistics answers), ordered by time,
// then unit.
func (m *MetricStore) MetricStatistics(ctx context.Context, r iotdm.MetricRange) ([]iotdm.MetricBucket, error) {
	if m.closed.Load() {
		return nil, iotdm.ErrClosed
	}
	q, ok, err := metricbucket.NewQuery(r)
	if err != nil || !ok {
		return nil, err
	}
	// One snapshot for every read: a roll-up moves rows from one table to
	// the other.
	tx, err := m.db.readers.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, m.readErr("metric statistics", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to keep or lose
	var rows *sql.Rows
	if q.Unit != "" {
		rows, err = tx.StmtContext(ctx, m.seriesUnit).QueryContext(ctx, q.Namespace, q.Name, q.Dims, q.Unit)
	} else {
		rows, err = tx.StmtContext(ctx, m.seriesAll).QueryContext(ctx, q.Namespace, q.Name, q.Dims)
	}
	if err != nil {
		return nil, m.readErr("metric statistics", err)
	}
	type series struct {
		id   int64
		unit string
	}
	var ss []series
	for rows.Next() {
		var s series
		if err := rows.Scan(&s.id, &s.unit); err != nil {
			rows.Close()
			return nil, m.readErr("metric statistics", err)
		}
		ss = append(ss, s)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, m.readErr("metric statistics", err)
	}
	var out []iotdm.MetricBucket
	for _, s := range ss {
		agg := q.NewAggregator()
		if err := m.seriesBuckets(ctx, tx, s.id, q, agg); err != nil {
			return nil, err
		}
		out = agg.AppendBuckets(out, s.unit)
	}
	if len(ss) > 1 {
		metricbucket.SortBuckets(out)
	}
	return out, nil
}

// seriesBuckets adds one series' rows in q's range to agg.
func (m *MetricStore) seriesBuckets(ctx context.Context, tx *sql.Tx, id int64, q metricbucket.Query, agg *metricbucket.Aggregator) error {
	for hr := range metricTables {
		stmt := m.scan[hr]
		if q.WithSamples() {
			stmt = m.scanSample[hr]
		}
		rows, err := tx.StmtContext(ctx, stmt).QueryContext(ctx, id<<32|q.Start, id<<32|q.End)
		if err != nil {
			return m.readErr("metric statistics", err)
		}
		var key int64
		var data sql.RawBytes
		for rows.Next() {
			if err := rows.Scan(&key, &data); err != nil {
				rows.Close()
				return m.readErr("metric statistics", err)
			}
			if err := agg.Add(key&secondsMask, data); err != nil {
				rows.Close()
				return fmt.Errorf("sqlite: metric statistics: series %d at %d: %w", id, key&secondsMask, err)
			}
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return m.readErr("metric statistics", err)
		}
	}
	return nil
}

// readErr wraps a read failure, marked ErrClosed when the DB closed.
func (m *MetricStore) readErr(op string, err error) error {
	return m.db.closedOr(fmt.Errorf("sqlite: %s: %w", op, err))
}

// --- ListMetrics ---

// ListMetrics implements iotdm.MetricStore: metrics with an observation
// within the retention, sorted by namespace, name and canonical dimensions.
func (m *MetricStore) ListMetrics(ctx context.Context, f iotdm.MetricFilter, after *iotdm.Metric, limit int) ([]iotdm.Metric, error) {
	if m.closed.Load() {
		return nil, iotdm.ErrClosed
	}
	since := metricbucket.ListSince(m.opts.Cutoff(m.opts.Now()), f.ActiveSince)
	var where []string
	var args []any
	if f.Namespace != "" {
		where = append(where, "namespace = ?")
		args = append(args, f.Namespace)
	}
	if f.MetricName != "" {
		where = append(where, "name = ?")
		args = append(args, f.MetricName)
	}
	if after != nil {
		where = append(where, "(namespace, name, dims) > (?, ?, ?)")
		args = append(args, after.Namespace, after.MetricName, metricbucket.CanonicalDims(after.Dimensions))
	}
	q := "SELECT namespace, name, dims FROM metric_series"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " GROUP BY namespace, name, dims HAVING max(last) >= ? ORDER BY namespace, name, dims"
	args = append(args, since)
	rows, err := m.db.readers.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, m.readErr("list metrics", err)
	}
	defer rows.Close()
	var out []iotdm.Metric
	for rows.Next() {
		var ns, name, dimText string
		if err := rows.Scan(&ns, &name, &dimText); err != nil {
			return nil, m.readErr("list metrics", err)
		}
		dims, err := metricbucket.ParseDims(dimText)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list metrics: %w", err)
		}
		if !metricbucket.DimsMatch(dims, f.Dimensions) {
			continue
		}
		out = append(out, iotdm.Metric{Namespace: ns, MetricName: name, Dimensions: dims})
		if limit > 0 && len(out) == limit {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return nil, m.readErr("list metrics", err)
	}
	return out, nil
}

// --- expiry ---

func (m *MetricStore) expiryLoop() {
	defer close(m.done)
	t := time.NewTicker(m.opts.ExpiryInterval)
	defer t.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-m.stop
		cancel()
	}()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			if err := m.Expire(ctx); err != nil && ctx.Err() == nil {
				m.logger.Error("metric expiry failed", "err", err)
			}
		}
	}
}

// Expire runs one expiry pass: second rows older than the high-resolution
// retention are rolled up into minute rows, then rows and series older than
// the retention are deleted. The expiry loop calls it; so may tests.
func (m *MetricStore) Expire(ctx context.Context) error {
	now := m.opts.Now()
	rolled, err := m.rollUp(ctx, m.opts.HighResolutionCutoff(now))
	if err != nil {
		return fmt.Errorf("sqlite: roll up metrics: %w", err)
	}
	rows, series, err := m.expire(ctx, m.opts.Cutoff(now))
	if err != nil {
		return fmt.Errorf("sqlite: expire metrics: %w", err)
	}
	if err := m.syncWAL(); err != nil {
		return fmt.Errorf("sqlite: expire metrics: %w", err)
	}
	if int64(rolled)+rows+series > 0 {
		m.logger.InfoContext(ctx, "metric expiry", "rolled_up", rolled, "deleted_rows", rows, "deleted_series", series)
	}
	return nil
}

// rollUp moves the second rows older than cutoff into minute rows, a page
// per Update, and returns how many it moved.
func (m *MetricStore) rollUp(ctx context.Context, cutoff int64) (int, error) {
	total := 0
	var cursor int64
	for {
		n, done := 0, false
		err := m.db.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
			w, err := m.writerOf(tx)
			if err != nil {
				return err
			}
			return m.inSavepoint(w, func() error {
				var err error
				n, cursor, done, err = m.rollUpPage(w, cursor, cutoff)
				return err
			})
		})
		if err != nil {
			return total, err
		}
		total += n
		if done {
			return total, nil
		}
	}
}

// rollUpPage moves up to expiryPage second rows older than cutoff, from the
// key cursor on, series by series, and returns the cursor of the next page
// (done when none is left). It reads and writes on the writer, so no
// concurrent write to a row it moves is lost.
func (m *MetricStore) rollUpPage(w *writer, cursor, cutoff int64) (n int, next int64, done bool, err error) {
	type segment struct{ first, last int64 }
	var minutes metricbucket.Rollup[int64] // by key of the minute row
	var segments []segment
	for probes := 0; n < expiryPage && probes < 8*expiryPage; probes++ {
		var first int64
		err := w.conn.QueryRowContext(w.bg, "SELECT key FROM metric_data_hr WHERE key >= ? ORDER BY key LIMIT 1", cursor).Scan(&first)
		if errors.Is(err, sql.ErrNoRows) {
			done = true
			break
		}
		if err != nil {
			return 0, cursor, false, err
		}
		id := first >> 32
		if first&secondsMask >= cutoff { // the series holds only newer rows
			cursor = (id + 1) << 32
			continue
		}
		want := expiryPage - n
		rows, err := w.conn.QueryContext(w.bg,
			"SELECT key, data FROM metric_data_hr WHERE key >= ? AND key < ? ORDER BY key LIMIT ?",
			first, id<<32|cutoff, want)
		if err != nil {
			return 0, cursor, false, err
		}
		seg := segment{first: first}
		got := 0
		for rows.Next() {
			var key int64
			var data sql.RawBytes
			if err := rows.Scan(&key, &data); err != nil {
				rows.Close()
				return 0, cursor, false, err
			}
			got++
			seg.last = key
			if err := minutes.Add(key-(key&secondsMask)%60, data); err != nil {
				rows.Close()
				return 0, cursor, false, fmt.Errorf("key %d: %w", key, err)
			}
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return 0, cursor, false, err
		}
		n += got
		segments = append(segments, seg)
		if got < want { // the series has no older row left
			cursor = (id + 1) << 32
		} else {
			cursor = seg.last + 1
		}
	}
	order := minutes.Keys()
	for c := range metricChunks(len(order)) {
		part := order[c.start : c.start+c.n]
		args := make([]any, 0, 2*len(part))
		for _, mk := range part {
			args = append(args, mk, minutes.Encode(mk))
		}
		st, err := m.ws.data(w, 0, len(part))
		if err != nil {
			return 0, cursor, false, err
		}
		if _, err := st.ExecContext(w.bg, args...); err != nil {
			return 0, cursor, false, err
		}
	}
	for _, seg := range segments {
		if _, err := w.conn.ExecContext(w.bg, "DELETE FROM metric_data_hr WHERE key >= ? AND key <= ?", seg.first, seg.last); err != nil {
			return 0, cursor, false, err
		}
	}
	return n, cursor, done, nil
}

// expire deletes the rows older than cutoff, series by series, and the
// series with no observation since, a page of series per Update.
func (m *MetricStore) expire(ctx context.Context, cutoff int64) (rows, series int64, err error) {
	cutoff = max(cutoff, 0)
	var afterID int64
	for {
		n := 0
		err := m.db.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
			w, err := m.writerOf(tx)
			if err != nil {
				return err
			}
			return m.inSavepoint(w, func() error {
				var r, s int64
				var err error
				n, afterID, r, s, err = m.expirePage(w, afterID, cutoff)
				rows += r
				series += s
				return err
			})
		})
		if err != nil {
			return rows, series, err
		}
		if n < expiryPage {
			return rows, series, nil
		}
	}
}

func (m *MetricStore) expirePage(w *writer, afterID, cutoff int64) (n int, lastID, rows, series int64, err error) {
	q, err := w.conn.QueryContext(w.bg, "SELECT id, last FROM metric_series WHERE id > ? ORDER BY id LIMIT ?", afterID, expiryPage)
	if err != nil {
		return 0, afterID, 0, 0, err
	}
	type ser struct{ id, last int64 }
	var page []ser
	for q.Next() {
		var s ser
		if err := q.Scan(&s.id, &s.last); err != nil {
			q.Close()
			return 0, afterID, 0, 0, err
		}
		page = append(page, s)
	}
	if err := errors.Join(q.Err(), q.Close()); err != nil {
		return 0, afterID, 0, 0, err
	}
	lastID = afterID
	dropped := false
	for _, s := range page {
		lastID = s.id
		for _, table := range metricTables {
			res, err := w.conn.ExecContext(w.bg, "DELETE FROM "+table+" WHERE key >= ? AND key < ?", s.id<<32, s.id<<32|cutoff)
			if err != nil {
				return 0, lastID, rows, series, err
			}
			k, _ := res.RowsAffected()
			rows += k
		}
		// The recorded last may lag the newest observation.
		if metricbucket.SeriesExpired(s.last, cutoff) {
			for _, table := range metricTables {
				res, err := w.conn.ExecContext(w.bg, "DELETE FROM "+table+" WHERE key >= ? AND key < ?", s.id<<32, (s.id+1)<<32)
				if err != nil {
					return 0, lastID, rows, series, err
				}
				k, _ := res.RowsAffected()
				rows += k
			}
			if _, err := w.conn.ExecContext(w.bg, "DELETE FROM metric_series WHERE id = ?", s.id); err != nil {
				return 0, lastID, rows, series, err
			}
			series++
			dropped = true
		}
	}
	if dropped {
		// Later writes of this batch must not use a deleted id.
		m.cache.Clear()
	}
	return len(page), lastID, rows, series, nil
}

// --- merge ---

// mergeRowsSQL is iotdm_metric_merge(a, b): the data of one bucket holding
// the observations of both.
func mergeRowsSQL(_ *msqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	a, _ := args[0].([]byte)
	b, _ := args[1].([]byte)
	return metricbucket.Merge(a, b)
}
