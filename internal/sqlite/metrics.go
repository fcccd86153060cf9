package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iotdm/iotdm"

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
// bucket packed in one blob: its SampleCount, Sum, Minimum and Maximum and
// a sample of its values for percentiles (metricSamples); one column reads
// much faster than five.
//
// Writes run on the DB's one writer, inside its batches (a PutMetricPoints
// is an Update whose fn writes the rows with SQL on the writer's connection,
// in a savepoint so that it commits or fails alone), so metrics share the
// store's single-writer discipline and its group commit. A batch that wrote
// no entity is not synced by the DB's syncer; PutMetricPoints syncs the WAL
// itself before it returns, so acknowledged observations survive a crash.
//
// Retention. Minute rows are kept for Retention (15 days by default), then
// deleted with their series once it has no newer observation; second rows
// are rolled up into minute rows after HighResolutionRetention (3 hours, as
// CloudWatch keeps one-second data). Expiry runs in the store's own loop,
// which Close stops.
//
// Percentile accuracy. Each bucket keeps its values exactly (value and
// count) while it has at most maxExactSamples distinct values; beyond that
// it keeps a log-bucketed histogram (metricSketch) whose percentiles are
// within 1 % of the true value (relative error), clamped to the bucket's
// Minimum and Maximum. A query's percentiles are exact when every bucket it
// merges is exact (up to maxQuerySamples values per period), and within 1 %
// otherwise. Statistic sets contribute to percentiles only when their
// values are known (SampleCount 1, or Minimum equal to Maximum), as in
// CloudWatch.

const (
	// DefaultMetricRetention is how long minute rows are kept.
	DefaultMetricRetention = 15 * 24 * time.Hour
	// DefaultHighResolutionRetention is how long second rows are kept before
	// they are rolled up into minute rows.
	DefaultHighResolutionRetention = 3 * time.Hour
	// DefaultMetricExpiryInterval is how often the expiry loop runs.
	DefaultMetricExpiryInterval = 10 * time.Minute

	// maxExactSamples is how many distinct values a bucket keeps exactly.
	maxExactSamples = 256
	// maxQuerySamples bounds the exact values one queried period merges
	// before it falls back to a sketch.
	maxQuerySamples = 1 << 16
	// lastSlack is how far a series' recorded last observation may lag the
	// truth: a write that moves it by less skips the series update.
	lastSlack = 300
	// maxCachedSeries bounds the series id cache; it is emptied when full.
	maxCachedSeries = 1 << 17
	// expiryPage is how many series or rows one expiry Update handles.
	expiryPage = 512
	// secondsMask extracts the bucket start from a data key.
	secondsMask = 1<<32 - 1
)

// MetricOptions configure OpenMetricStore.
type MetricOptions struct {
	// Logger receives the store's logs; nil discards them.
	Logger *slog.Logger
	// Retention is how long minute data is kept; 0 means
	// DefaultMetricRetention.
	Retention time.Duration
	// HighResolutionRetention is how long one-second data is kept before it
	// is rolled up into minutes; 0 means DefaultHighResolutionRetention.
	HighResolutionRetention time.Duration
	// ExpiryInterval is how often expiry runs; 0 means
	// DefaultMetricExpiryInterval, a negative value runs no loop (call
	// Expire).
	ExpiryInterval time.Duration
	// Now is the store's clock for retention; time.Now when nil.
	Now func() time.Time
}

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

	mu    sync.Mutex
	cache map[string]cachedSeries // series key to id and recorded last

	closed atomic.Bool
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
	err    error
}

var _ iotdm.MetricStore = (*MetricStore)(nil)

type cachedSeries struct {
	id   int64
	last int64
}

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
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultMetricRetention
	}
	if opts.HighResolutionRetention <= 0 {
		opts.HighResolutionRetention = DefaultHighResolutionRetention
	}
	if opts.ExpiryInterval == 0 {
		opts.ExpiryInterval = DefaultMetricExpiryInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if db.isClosed() {
		return nil, iotdm.ErrClosed
	}
	m := &MetricStore{
		db:     db,
		opts:   opts,
		logger: opts.Logger.With("component", "metricstore"),
		cache:  map[string]cachedSeries{},
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	var err error
	prepare(ctx, db.readers, &m.seriesAll, sqlSeriesAll, &err)
	prepare(ctx, db.readers, &m.seriesUnit, sqlSeriesUnit, &err)
	for hr, table := range metricTables {
		prepare(ctx, db.readers, &m.scan[hr], fmt.Sprintf("SELECT key, substr(data, 1, %d) FROM %s WHERE key >= ? AND key < ?", rowStatsLen, table), &err)
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

// --- series names ---

// canonicalDims encodes dimensions in one canonical form, sorted by name
// and value: "" for none, else the JSON array of {"Name","Value"}. The
// encoding sorts metrics for ListMetrics and pages.
func canonicalDims(dims []iotdm.Dimension) string {
	if len(dims) == 0 {
		return ""
	}
	sorted := slices.Clone(dims)
	slices.SortFunc(sorted, func(a, b iotdm.Dimension) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.Value, b.Value)
	})
	b, _ := json.Marshal(sorted) // strings only: cannot fail
	return string(b)
}

// parseDims decodes canonicalDims.
func parseDims(s string) ([]iotdm.Dimension, error) {
	if s == "" {
		return nil, nil
	}
	var dims []iotdm.Dimension
	if err := json.Unmarshal([]byte(s), &dims); err != nil {
		return nil, fmt.Errorf("decode dimensions %q: %w", s, err)
	}
	return dims, nil
}

// storedUnit is the unit a series is stored under: "" is None.
func storedUnit(u string) string {
	if u == "" {
		return "None"
	}
	return u
}

func seriesKey(ns, name, dims, unit string) string {
	return ns + "\x00" + name + "\x00" + dims + "\x00" + unit
}

func badMetricPoint(format string, args ...any) error {
	return iotdm.Errorf(iotdm.ErrInvalidParameterValue, format, args...)
}

// --- PutMetricPoints ---

// seriesReq is one series a batch writes.
type seriesReq struct {
	key                  string
	ns, name, dims, unit string
	last                 int64 // the batch's newest bucket of it
	id                   int64 // resolved on the writer
	dbLast               int64 // last as stored, when the writer updated it
	upserted             bool
}

// dataRow is one bucket a batch adds to.
type dataRow struct {
	series int // index into metricBatch.series
	ts     int64
	hr     bool
	stats  bucketStats
	data   []byte // stats and samples, encoded
}

// bucketStats are the statistics of a bucket.
type bucketStats struct {
	n, total, lo, hi float64
}

func (s *bucketStats) add(o bucketStats) {
	if s.n == 0 {
		*s = o
		return
	}
	s.n += o.n
	s.total += o.total
	s.lo = min(s.lo, o.lo)
	s.hi = max(s.hi, o.hi)
}

type metricBatch struct {
	series []seriesReq
	rows   []dataRow
}

// newMetricBatch groups points by series and bucket, checking each. Points
// older than cutoff are dropped: expiry would delete them at once.
func newMetricBatch(points []iotdm.MetricPoint, cutoff int64) (*metricBatch, error) {
	b := &metricBatch{}
	seriesIdx := map[string]int{}
	type rowKey struct {
		series int
		ts     int64
		hr     bool
	}
	rowIdx := map[rowKey]int{}
	samples := []metricSamples{}
	for i := range points {
		p := &points[i]
		if p.Metric.Namespace == "" || p.Metric.MetricName == "" {
			return nil, badMetricPoint("Metric point %d has no namespace or metric name.", i+1)
		}
		if p.Timestamp.IsZero() {
			return nil, badMetricPoint("Metric point %d has no timestamp.", i+1)
		}
		sec := p.Timestamp.Unix()
		if sec < 0 || sec > secondsMask {
			return nil, badMetricPoint("The timestamp %s of metric point %d is out of range.", p.Timestamp.UTC().Format(time.RFC3339), i+1)
		}
		ts := sec - sec%60
		if p.HighResolution {
			ts = sec
		}
		if ts+60 <= cutoff {
			continue
		}
		var st bucketStats
		var smp metricSamples
		switch {
		case (p.Value == nil) == (p.Stats == nil):
			return nil, badMetricPoint("Metric point %d must have exactly one of a value and statistics.", i+1)
		case p.Value != nil:
			v, count := *p.Value, p.Count
			if count == 0 {
				count = 1
			}
			if !finiteValue(v) || !finiteValue(count) || count < 0 {
				return nil, badMetricPoint("The value %v (count %v) of metric point %d is invalid.", v, count, i+1)
			}
			st = bucketStats{n: count, total: v * count, lo: v, hi: v}
			smp.add(v, count)
		default:
			s := p.Stats
			if !finiteValue(s.SampleCount) || !finiteValue(s.Sum) || !finiteValue(s.Minimum) || !finiteValue(s.Maximum) ||
				s.SampleCount <= 0 || s.Minimum > s.Maximum {
				return nil, badMetricPoint("The statistics of metric point %d are invalid.", i+1)
			}
			st = bucketStats{n: s.SampleCount, total: s.Sum, lo: s.Minimum, hi: s.Maximum}
			switch {
			case s.Minimum == s.Maximum:
				smp.add(s.Minimum, s.SampleCount)
			case s.SampleCount == 1:
				smp.add(s.Sum, 1)
			}
		}
		dims := canonicalDims(p.Metric.Dimensions)
		unit := storedUnit(p.Unit)
		key := seriesKey(p.Metric.Namespace, p.Metric.MetricName, dims, unit)
		si, ok := seriesIdx[key]
		if !ok {
			si = len(b.series)
			seriesIdx[key] = si
			b.series = append(b.series, seriesReq{key: key, ns: p.Metric.Namespace, name: p.Metric.MetricName, dims: dims, unit: unit, last: ts})
		}
		b.series[si].last = max(b.series[si].last, ts)
		rk := rowKey{si, ts, p.HighResolution}
		ri, ok := rowIdx[rk]
		if !ok {
			ri = len(b.rows)
			rowIdx[rk] = ri
			b.rows = append(b.rows, dataRow{series: si, ts: ts, hr: p.HighResolution})
			samples = append(samples, metricSamples{})
		}
		b.rows[ri].stats.add(st)
		samples[ri].merge(&smp, maxExactSamples)
	}
	for i := range b.rows {
		b.rows[i].data = encodeRow(b.rows[i].stats, &samples[i])
	}
	return b, nil
}

func finiteValue(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

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
	cutoff := m.opts.Now().Add(-m.opts.Retention).Unix()
	b, err := newMetricBatch(points, cutoff)
	if err != nil {
		return err
	}
	if len(b.rows) == 0 {
		return nil
	}
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
	var pending []int
	m.mu.Lock()
	for i := range b.series {
		s := &b.series[i]
		if c, ok := m.cache[s.key]; ok && s.last <= c.last+lastSlack {
			s.id = c.id
			continue
		}
		pending = append(pending, i)
	}
	m.mu.Unlock()
	for c := range metricChunks(len(pending)) {
		idx := pending[c.start : c.start+c.n]
		if err := m.upsertSeries(w, b, idx); err != nil {
			return err
		}
	}
	for hr := range metricTables {
		var rows []*dataRow
		for i := range b.rows {
			if r := &b.rows[i]; r.hr == (hr == 1) {
				rows = append(rows, r)
			}
		}
		for c := range metricChunks(len(rows)) {
			part := rows[c.start : c.start+c.n]
			args := make([]any, 0, 2*len(part))
			for _, r := range part {
				args = append(args, b.series[r.series].id<<32|r.ts, r.data)
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
		s := &b.series[i]
		args = append(args, s.ns, s.name, s.dims, s.unit, s.last)
		byKey[s.key] = i
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
		if i, ok := byKey[seriesKey(ns, name, dims, unit)]; ok {
			s := &b.series[i]
			s.id, s.dbLast, s.upserted = id, last, true
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: write metric series: %w", err)
	}
	for _, i := range idx {
		if !b.series[i].upserted {
			return fmt.Errorf("sqlite: write metric series: no id returned for %q", b.series[i].key)
		}
	}
	return nil
}

// remember caches the series ids of a committed batch.
func (m *MetricStore) remember(b *metricBatch) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range b.series {
		if !s.upserted {
			continue
		}
		if len(m.cache) >= maxCachedSeries {
			clear(m.cache)
		}
		if c, ok := m.cache[s.key]; ok && c.id == s.id && c.last >= s.dbLast {
			continue
		}
		m.cache[s.key] = cachedSeries{id: s.id, last: s.dbLast}
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

// bucketAgg accumulates one period of one series.
type bucketAgg struct {
	ts      int64
	stats   bucketStats
	samples *metricSamples // when percentiles are asked for
}

// MetricStatistics implements iotdm.MetricStore. Buckets are returned per
// unit: without a unit in r, a period whose observations carry two units
// has a bucket for each (as GetMetricStatistics answers), ordered by time,
// then unit.
func (m *MetricStore) MetricStatistics(ctx context.Context, r iotdm.MetricRange) ([]iotdm.MetricBucket, error) {
	if m.closed.Load() {
		return nil, iotdm.ErrClosed
	}
	if r.Period < time.Second || r.Period%time.Second != 0 {
		return nil, badMetricPoint("The period %s is not a whole number of seconds.", r.Period)
	}
	for _, p := range r.Percentiles {
		if !(p >= 0 && p <= 100) {
			return nil, badMetricPoint("The percentile %v is out of range.", p)
		}
	}
	period := int64(r.Period / time.Second)
	start, end := ceilSeconds(r.Start), ceilSeconds(r.End)
	start = max(start, 0)
	end = min(end, secondsMask+1)
	if end <= start {
		return nil, nil
	}
	dims := canonicalDims(r.Metric.Dimensions)
	// One snapshot for every read: a roll-up moves rows from one table to
	// the other.
	tx, err := m.db.readers.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, m.readErr("metric statistics", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to keep or lose
	var rows *sql.Rows
	if r.Unit != "" {
		rows, err = tx.StmtContext(ctx, m.seriesUnit).QueryContext(ctx, r.Metric.Namespace, r.Metric.MetricName, dims, r.Unit)
	} else {
		rows, err = tx.StmtContext(ctx, m.seriesAll).QueryContext(ctx, r.Metric.Namespace, r.Metric.MetricName, dims)
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
		aggs, err := m.seriesBuckets(ctx, tx, s.id, start, end, period, len(r.Percentiles) > 0)
		if err != nil {
			return nil, err
		}
		out = slices.Grow(out, len(aggs))
		for _, a := range aggs {
			b := iotdm.MetricBucket{
				Timestamp:   time.Unix(a.ts, 0).UTC(),
				SampleCount: a.stats.n,
				Sum:         a.stats.total,
				Minimum:     a.stats.lo,
				Maximum:     a.stats.hi,
				Unit:        s.unit,
			}
			if len(r.Percentiles) > 0 {
				b.Percentiles = make(map[float64]float64, len(r.Percentiles))
				for _, p := range r.Percentiles {
					if a.samples == nil {
						break
					}
					if v, ok := a.samples.quantile(p, a.stats.lo, a.stats.hi); ok {
						b.Percentiles[p] = v
					}
				}
			}
			out = append(out, b)
		}
	}
	if len(ss) > 1 {
		slices.SortStableFunc(out, func(a, b iotdm.MetricBucket) int { return a.Timestamp.Compare(b.Timestamp) })
	}
	return out, nil
}

// ceilSeconds is t in Unix seconds, rounded up.
func ceilSeconds(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// seriesBuckets aggregates one series' rows in [start, end) into periods,
// oldest first.
func (m *MetricStore) seriesBuckets(ctx context.Context, tx *sql.Tx, id, start, end, period int64, withSamples bool) ([]bucketAgg, error) {
	out := make([]bucketAgg, 0, min((end-start)/period+1, 1<<16))
	var byTS map[int64]int // when both tables contribute
	for hr := range metricTables {
		stmt := m.scan[hr]
		if withSamples {
			stmt = m.scanSample[hr]
		}
		rows, err := tx.StmtContext(ctx, stmt).QueryContext(ctx, id<<32|start, id<<32|end)
		if err != nil {
			return nil, m.readErr("metric statistics", err)
		}
		var cur *bucketAgg
		var key int64
		var data sql.RawBytes
		merged := len(out) > 0 // rows of the second table join existing periods
		if merged && byTS == nil {
			byTS = make(map[int64]int, len(out))
			for i, a := range out {
				byTS[a.ts] = i
			}
		}
		for rows.Next() {
			if err := rows.Scan(&key, &data); err != nil {
				rows.Close()
				return nil, m.readErr("metric statistics", err)
			}
			st, err := decodeRowStats(data)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlite: metric statistics: series %d at %d: %w", id, key&secondsMask, err)
			}
			ts := key & secondsMask
			bts := ts - ts%period
			if cur == nil || cur.ts != bts {
				i, ok := byTS[bts]
				if !merged || !ok {
					i = len(out)
					out = append(out, bucketAgg{ts: bts})
					if merged {
						byTS[bts] = i
					}
				}
				cur = &out[i]
			}
			cur.stats.add(st)
			if withSamples {
				var smp metricSamples
				if err := smp.decode(data[rowStatsLen:]); err != nil {
					rows.Close()
					return nil, fmt.Errorf("sqlite: metric statistics: series %d at %d: %w", id, ts, err)
				}
				if cur.samples == nil {
					cur.samples = &metricSamples{}
				}
				cur.samples.merge(&smp, maxQuerySamples)
			}
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, m.readErr("metric statistics", err)
		}
		if merged {
			slices.SortFunc(out, func(a, b bucketAgg) int { return cmp.Compare(a.ts, b.ts) })
		}
	}
	return out, nil
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
	since := m.opts.Now().Add(-m.opts.Retention).Unix()
	if !f.ActiveSince.IsZero() {
		since = max(since, f.ActiveSince.Unix()-f.ActiveSince.Unix()%60)
	}
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
		args = append(args, after.Namespace, after.MetricName, canonicalDims(after.Dimensions))
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
		dims, err := parseDims(dimText)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list metrics: %w", err)
		}
		if !dimsMatch(dims, f.Dimensions) {
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

// dimsMatch reports whether dims has every filter's dimension (with its
// value, when one is given).
func dimsMatch(dims []iotdm.Dimension, filters []iotdm.DimensionFilter) bool {
	for _, f := range filters {
		if !slices.ContainsFunc(dims, func(d iotdm.Dimension) bool {
			return d.Name == f.Name && (f.Value == nil || d.Value == *f.Value)
		}) {
			return false
		}
	}
	return true
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
	rolled, err := m.rollUp(ctx, now.Add(-m.opts.HighResolutionRetention).Unix())
	if err != nil {
		return fmt.Errorf("sqlite: roll up metrics: %w", err)
	}
	rows, series, err := m.expire(ctx, now.Add(-m.opts.Retention).Unix())
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
	type minute struct {
		stats   bucketStats
		samples metricSamples
	}
	type segment struct{ first, last int64 }
	byMinute := map[int64]*minute{}
	var order []int64
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
			st, smp, err := decodeRow(data)
			if err != nil {
				rows.Close()
				return 0, cursor, false, fmt.Errorf("key %d: %w", key, err)
			}
			got++
			seg.last = key
			mk := key - (key&secondsMask)%60
			mn, ok := byMinute[mk]
			if !ok {
				mn = &minute{}
				byMinute[mk] = mn
				order = append(order, mk)
			}
			mn.stats.add(st)
			mn.samples.merge(&smp, maxExactSamples)
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
	for c := range metricChunks(len(order)) {
		part := order[c.start : c.start+c.n]
		args := make([]any, 0, 2*len(part))
		for _, mk := range part {
			mn := byMinute[mk]
			args = append(args, mk, encodeRow(mn.stats, &mn.samples))
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
		// The recorded last may lag the newest observation by lastSlack.
		if s.last+lastSlack+60 <= cutoff {
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
		m.mu.Lock()
		clear(m.cache)
		m.mu.Unlock()
	}
	return len(page), lastID, rows, series, nil
}

// --- samples ---

// metricSamples are the values of a bucket for its percentiles: exact
// (vals, with their counts in wts, nil when every count is 1) or, past the
// cap of a merge, a sketch.
type metricSamples struct {
	vals []float64
	wts  []float64
	sk   *metricSketch
}

// Encodings of metricSamples (little-endian): none is no bytes; 'v' then
// float64 values with count 1; 'w' then (value, count) float64 pairs; 's'
// then a sketch.
const (
	samplesValues   = 'v'
	samplesWeighted = 'w'
	samplesSketch   = 's'
)

func (s *metricSamples) empty() bool { return s.sk == nil && len(s.vals) == 0 }

func (s *metricSamples) add(v, w float64) {
	if s.sk != nil {
		s.sk.add(v, w)
		return
	}
	if w != 1 && s.wts == nil {
		s.wts = make([]float64, len(s.vals), len(s.vals)+1)
		for i := range s.wts {
			s.wts[i] = 1
		}
	}
	s.vals = append(s.vals, v)
	if s.wts != nil {
		s.wts = append(s.wts, w)
	}
}

func (s *metricSamples) weight(i int) float64 {
	if s.wts == nil {
		return 1
	}
	return s.wts[i]
}

// merge adds o to s; past limit distinct values s becomes a sketch.
func (s *metricSamples) merge(o *metricSamples, limit int) {
	switch {
	case o.empty():
		return
	case s.sk == nil && o.sk == nil:
		for i, v := range o.vals {
			s.add(v, o.weight(i))
		}
		if len(s.vals) > limit {
			s.compact()
		}
		if len(s.vals) > limit {
			s.toSketch()
		}
		return
	}
	if s.sk == nil {
		s.toSketch()
	}
	if o.sk != nil {
		s.sk.merge(o.sk)
		return
	}
	for i, v := range o.vals {
		s.sk.add(v, o.weight(i))
	}
}

// compact merges equal values, adding their counts.
func (s *metricSamples) compact() {
	idx := make([]int, len(s.vals))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return s.vals[idx[a]] < s.vals[idx[b]] })
	vals := make([]float64, 0, len(s.vals))
	wts := make([]float64, 0, len(s.vals))
	for _, i := range idx {
		if n := len(vals); n > 0 && vals[n-1] == s.vals[i] {
			wts[n-1] += s.weight(i)
			continue
		}
		vals = append(vals, s.vals[i])
		wts = append(wts, s.weight(i))
	}
	s.vals, s.wts = vals, wts
}

func (s *metricSamples) toSketch() {
	sk := newMetricSketch()
	for i, v := range s.vals {
		sk.add(v, s.weight(i))
	}
	*s = metricSamples{sk: sk}
}

// appendTo appends the encoding of s to b.
func (s *metricSamples) appendTo(b []byte) []byte {
	switch {
	case s.sk != nil:
		return s.sk.appendTo(b)
	case len(s.vals) == 0:
		return b
	case s.wts == nil:
		b = append(b, samplesValues)
		for _, v := range s.vals {
			b = appendF64(b, v)
		}
		return b
	}
	b = append(b, samplesWeighted)
	for i, v := range s.vals {
		b = appendF64(appendF64(b, v), s.wts[i])
	}
	return b
}

// encodedLen is the length of s's encoding, for sizing buffers; a sketch
// counts as empty.
func (s *metricSamples) encodedLen() int {
	switch {
	case s.sk != nil || len(s.vals) == 0:
		return 0
	case s.wts == nil:
		return 1 + 8*len(s.vals)
	}
	return 1 + 16*len(s.vals)
}

// rowStatsLen is the length of the statistics that start a row's data.
const rowStatsLen = 32

// encodeRow packs a bucket: its statistics, then its samples.
func encodeRow(st bucketStats, s *metricSamples) []byte {
	b := make([]byte, 0, rowStatsLen+s.encodedLen())
	b = appendF64(appendF64(appendF64(appendF64(b, st.n), st.total), st.lo), st.hi)
	return s.appendTo(b)
}

// decodeRowStats reads the statistics of a row's data.
func decodeRowStats(b []byte) (bucketStats, error) {
	if len(b) < rowStatsLen {
		return bucketStats{}, errBadSamples
	}
	return bucketStats{n: readF64(b), total: readF64(b[8:]), lo: readF64(b[16:]), hi: readF64(b[24:])}, nil
}

// decodeRow reads a row's data; the samples do not alias b.
func decodeRow(b []byte) (bucketStats, metricSamples, error) {
	st, err := decodeRowStats(b)
	if err != nil {
		return st, metricSamples{}, err
	}
	var s metricSamples
	err = s.decode(b[rowStatsLen:])
	return st, s, err
}

// decode sets s from an encoding; s's slices are new (b may be reused).
func (s *metricSamples) decode(b []byte) error {
	*s = metricSamples{}
	if len(b) == 0 {
		return nil
	}
	body := b[1:]
	switch b[0] {
	case samplesValues:
		if len(body)%8 != 0 {
			return errBadSamples
		}
		s.vals = make([]float64, len(body)/8)
		for i := range s.vals {
			s.vals[i] = readF64(body[8*i:])
		}
	case samplesWeighted:
		if len(body)%16 != 0 {
			return errBadSamples
		}
		n := len(body) / 16
		s.vals, s.wts = make([]float64, n), make([]float64, n)
		for i := range n {
			s.vals[i] = readF64(body[16*i:])
			s.wts[i] = readF64(body[16*i+8:])
		}
	case samplesSketch:
		sk, err := decodeMetricSketch(body)
		if err != nil {
			return err
		}
		s.sk = sk
	default:
		return errBadSamples
	}
	return nil
}

var errBadSamples = errors.New("corrupt metric row")

// quantile returns the p-th percentile (0-100) by nearest rank: the
// smallest value whose cumulative count reaches p % of the total, clamped
// to [lo, hi]. ok is false without samples.
func (s *metricSamples) quantile(p, lo, hi float64) (float64, bool) {
	if s.empty() {
		return 0, false
	}
	var v float64
	if s.sk != nil {
		v = s.sk.quantile(p)
	} else {
		idx := make([]int, len(s.vals))
		total := 0.0
		for i := range idx {
			idx[i] = i
			total += s.weight(i)
		}
		sort.Slice(idx, func(a, b int) bool { return s.vals[idx[a]] < s.vals[idx[b]] })
		target := rankTarget(p, total)
		cum := 0.0
		v = s.vals[idx[len(idx)-1]]
		for _, i := range idx {
			cum += s.weight(i)
			if cum >= target {
				v = s.vals[i]
				break
			}
		}
	}
	return min(max(v, lo), hi), true
}

// rankTarget is the cumulative count the p-th percentile of total reaches,
// with a little slack for rounding.
func rankTarget(p, total float64) float64 {
	return p/100*total - 1e-9*total
}

// mergeRowsSQL is iotdm_metric_merge(a, b): the data of one bucket holding
// the observations of both.
func mergeRowsSQL(_ *msqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	a, _ := args[0].([]byte)
	b, _ := args[1].([]byte)
	sa, smpA, err := decodeRow(a)
	if err != nil {
		return nil, err
	}
	sb, smpB, err := decodeRow(b)
	if err != nil {
		return nil, err
	}
	sa.add(sb)
	smpA.merge(&smpB, maxExactSamples)
	return encodeRow(sa, &smpA), nil
}

// metricSketch is a log-bucketed histogram of values (positive, negative
// and zero): bucket i of either sign holds magnitudes in (γ^(i-1), γ^i],
// reported as 2γ^i/(γ+1), within sketchAccuracy of any value in it. When
// a sign has more than maxSketchBins buckets, its smallest magnitudes are
// merged, which only coarsens the lowest percentiles of that sign.
type metricSketch struct {
	zero     float64
	pos, neg map[int32]float64
}

const (
	sketchGamma   = 1.02
	maxSketchBins = 2048
)

var sketchLogGamma = math.Log(sketchGamma)

func newMetricSketch() *metricSketch {
	return &metricSketch{pos: map[int32]float64{}, neg: map[int32]float64{}}
}

func sketchIndex(mag float64) int32 {
	return int32(math.Ceil(math.Log(mag) / sketchLogGamma))
}

func sketchValue(i int32) float64 {
	return 2 * math.Pow(sketchGamma, float64(i)) / (sketchGamma + 1)
}

func (k *metricSketch) add(v, w float64) {
	switch {
	case v > 0:
		k.pos[sketchIndex(v)] += w
		k.collapse(k.pos)
	case v < 0:
		k.neg[sketchIndex(-v)] += w
		k.collapse(k.neg)
	default:
		k.zero += w
	}
}

func (k *metricSketch) merge(o *metricSketch) {
	k.zero += o.zero
	for i, w := range o.pos {
		k.pos[i] += w
	}
	for i, w := range o.neg {
		k.neg[i] += w
	}
	k.collapse(k.pos)
	k.collapse(k.neg)
}

// collapse merges the smallest buckets of bins until at most maxSketchBins
// are left.
func (k *metricSketch) collapse(bins map[int32]float64) {
	if len(bins) <= maxSketchBins {
		return
	}
	idx := sortedBins(bins)
	extra := len(idx) - maxSketchBins
	into := idx[extra]
	for _, i := range idx[:extra] {
		bins[into] += bins[i]
		delete(bins, i)
	}
}

func sortedBins(bins map[int32]float64) []int32 {
	idx := make([]int32, 0, len(bins))
	for i := range bins {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	return idx
}

func (k *metricSketch) quantile(p float64) float64 {
	total := k.zero
	for _, w := range k.pos {
		total += w
	}
	for _, w := range k.neg {
		total += w
	}
	target := rankTarget(p, total)
	cum := 0.0
	neg := sortedBins(k.neg)
	for j := len(neg) - 1; j >= 0; j-- { // most negative first
		if cum += k.neg[neg[j]]; cum >= target {
			return -sketchValue(neg[j])
		}
	}
	if cum += k.zero; cum >= target && k.zero > 0 {
		return 0
	}
	pos := sortedBins(k.pos)
	for _, i := range pos {
		if cum += k.pos[i]; cum >= target {
			return sketchValue(i)
		}
	}
	if len(pos) > 0 {
		return sketchValue(pos[len(pos)-1])
	}
	return 0
}

func (k *metricSketch) appendTo(b []byte) []byte {
	b = append(b, samplesSketch)
	b = appendF64(b, k.zero)
	for _, bins := range []map[int32]float64{k.pos, k.neg} {
		idx := sortedBins(bins)
		b = appendU32(b, uint32(len(idx)))
		for _, i := range idx {
			b = appendF64(appendU32(b, uint32(i)), bins[i])
		}
	}
	return b
}

func decodeMetricSketch(b []byte) (*metricSketch, error) {
	k := newMetricSketch()
	if len(b) < 8 {
		return nil, errBadSamples
	}
	k.zero = readF64(b)
	b = b[8:]
	for _, bins := range []map[int32]float64{k.pos, k.neg} {
		if len(b) < 4 {
			return nil, errBadSamples
		}
		n := int(readU32(b))
		b = b[4:]
		if n > maxSketchBins || len(b) < 12*n {
			return nil, errBadSamples
		}
		for range n {
			bins[int32(readU32(b))] = readF64(b[4:])
			b = b[12:]
		}
	}
	if len(b) != 0 {
		return nil, errBadSamples
	}
	return k, nil
}

func appendF64(b []byte, v float64) []byte {
	u := math.Float64bits(v)
	return append(b, byte(u), byte(u>>8), byte(u>>16), byte(u>>24), byte(u>>32), byte(u>>40), byte(u>>48), byte(u>>56))
}

func readF64(b []byte) float64 {
	_ = b[7]
	u := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
	return math.Float64frombits(u)
}

func appendU32(b []byte, u uint32) []byte {
	return append(b, byte(u), byte(u>>8), byte(u>>16), byte(u>>24))
}

func readU32(b []byte) uint32 {
	_ = b[3]
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
