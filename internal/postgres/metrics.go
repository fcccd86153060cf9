package postgres

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/metricbucket"
)

// The metric store keeps CloudWatch observations in their own tables
// (migrations/0002_metrics.sql), apart from the entities and the change
// feed: no Change is recorded for them. Several nodes may share them, each
// with its own MetricStore on the same database.
//
// Layout. A series is a metric (namespace, name, canonical dimensions) with
// one unit: a row of metric_series. Each series has one row per minute in
// metric_data and, for high-resolution observations, one row per second in
// metric_data_hr, keyed by (series, bucket start), so a series' rows over a
// time range are one primary-key range. A row holds the bucket packed by
// package metricbucket, which also checks the points, merges buckets and
// aggregates queries, as for the SQLite store.
//
// Concurrency. PutMetricPoints is one transaction. It upserts the series
// it needs (unless this store recorded them recently), then inserts its
// buckets with one statement per table that also locks the buckets that
// already exist (INSERT ... ON CONFLICT DO UPDATE ... WHERE false), and
// merges its part into those, in Go, under that lock: writers of one bucket,
// on any node, take turns, and none loses another's observations. Every
// transaction takes its row locks in one order (series, then second rows,
// then minute rows, each sorted by key), so they do not deadlock; one that
// fails on a deadlock or a serialization failure anyway is retried.
//
// Expiry. Any node may run it, several at once. The roll-up moves second
// rows with DELETE ... RETURNING (skipping rows another transaction holds),
// so each row is rolled up by exactly one transaction, and merges them into
// minute rows as writes do. Retention deletes rows by key range, then the
// series whose recorded last observation is old enough, re-checked by the
// DELETE itself so that a series a concurrent write just moved stays.
//
// Series cache. A store skips the upsert of a series it wrote recently
// (metricbucket.SeriesCache). Another node may delete that series once
// its recorded last observation is past the retention; the store only uses
// cached series whose recorded last is at least seriesCacheMargin newer
// than its own retention cutoff, so that a write never refers to a series
// another node deleted unless the nodes' clocks differ by that much.

const (
	// DefaultMetricRetention is how long minute rows are kept.
	DefaultMetricRetention = metricbucket.DefaultRetention
	// DefaultHighResolutionRetention is how long second rows are kept before
	// they are rolled up into minute rows.
	DefaultHighResolutionRetention = metricbucket.DefaultHighResolutionRetention
	// DefaultMetricExpiryInterval is how often the expiry loop runs.
	DefaultMetricExpiryInterval = metricbucket.DefaultExpiryInterval

	// metricExpiryPage is how many series or rows one expiry transaction
	// handles.
	metricExpiryPage = 512
	// seriesCacheMargin is how much newer than the retention cutoff a
	// cached series' last observation must be for a write to use it.
	seriesCacheMargin = int64(time.Hour / time.Second)
	// retriedTxAttempts is how many times a transaction that failed on a
	// deadlock or a serialization failure is run.
	retriedTxAttempts = 5
)

// MetricOptions configure OpenMetricStore.
type MetricOptions = metricbucket.Options

// MetricStore is an iotdm.MetricStore on a PostgreSQL database.
type MetricStore struct {
	pool   *pgxpool.Pool
	opts   MetricOptions
	logger *slog.Logger
	cache  metricbucket.SeriesCache

	closed atomic.Bool
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

var _ iotdm.MetricStore = (*MetricStore)(nil)

// metricTables are the data tables: [0] minutes, [1] seconds.
var metricTables = [2]string{"metric_data", "metric_data_hr"}

// OpenMetricStore returns the metric store of the database pool connects
// to, whose schema holds the metric tables (see migrate), and starts its
// expiry loop. The pool stays the caller's: Close does not close it.
func OpenMetricStore(ctx context.Context, pool *pgxpool.Pool, opts MetricOptions) (*MetricStore, error) {
	opts = opts.WithDefaults()
	var ok bool
	err := pool.QueryRow(ctx, `SELECT to_regclass('metric_series') IS NOT NULL
		AND to_regclass('metric_data') IS NOT NULL AND to_regclass('metric_data_hr') IS NOT NULL`).Scan(&ok)
	if err == nil && !ok {
		err = errors.New("the metric tables are missing")
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: open metric store: %w", err)
	}
	m := &MetricStore{
		pool:   pool,
		opts:   opts,
		logger: opts.Logger.With("component", "metricstore"),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	if opts.ExpiryInterval > 0 {
		go m.expiryLoop()
	} else {
		close(m.done)
	}
	return m, nil
}

// Close stops the expiry loop; the store answers ErrClosed afterwards. It
// is idempotent.
func (m *MetricStore) Close() error {
	m.once.Do(func() {
		m.closed.Store(true)
		close(m.stop)
		<-m.done
	})
	return nil
}

// metricKey is the mkey of a metric: the SHA-256 of its namespace, name
// and canonical dimensions, each prefixed by its length.
func metricKey(ns, name, dims string) []byte {
	b := make([]byte, 0, len(ns)+len(name)+len(dims)+3*binary.MaxVarintLen64)
	for _, s := range []string{ns, name, dims} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	h := sha256.Sum256(b)
	return h[:]
}

// inRetriedTx runs fn in a transaction, again when it fails on a deadlock
// or a serialization failure (fn must be ready to run again).
func inRetriedTx(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger, fn func(pgx.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := pgx.BeginFunc(ctx, pool, fn)
		if err == nil || attempt == retriedTxAttempts || !retryableTxErr(err) || ctx.Err() != nil {
			return err
		}
		logger.DebugContext(ctx, "transaction retried", "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt) * 5 * time.Millisecond):
		}
	}
}

// retryableTxErr reports whether err is a deadlock or a serialization
// failure, after which the transaction can simply run again.
func retryableTxErr(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}

// --- PutMetricPoints ---

// metricWrite is a batch being written: its series ids as resolved.
type metricWrite struct {
	*metricbucket.Batch
	ids      []int64
	dbLast   []int64 // last as stored, for the series the write upserted
	upserted []bool
}

// PutMetricPoints implements iotdm.MetricStore: the points are grouped by
// series and bucket, then added to their rows in one transaction.
func (m *MetricStore) PutMetricPoints(ctx context.Context, points []iotdm.MetricPoint) error {
	if m.closed.Load() {
		return iotdm.ErrClosed
	}
	if len(points) == 0 {
		return nil
	}
	cutoff := m.opts.Cutoff(m.opts.Now())
	b, err := metricbucket.NewBatch(points, cutoff)
	if err != nil {
		return err
	}
	if len(b.Rows) == 0 {
		return nil
	}
	w := &metricWrite{Batch: b}
	err = inRetriedTx(ctx, m.pool, m.logger, func(tx pgx.Tx) error {
		return m.write(ctx, tx, w, cutoff+seriesCacheMargin)
	})
	if err != nil {
		return fmt.Errorf("postgres: put metric points: %w", err)
	}
	for i, s := range w.Series {
		if w.upserted[i] {
			m.cache.Remember(s.Key, w.ids[i], w.dbLast[i])
		}
	}
	return nil
}

// write resolves w's series ids, recording their newest observation, and
// adds w's rows to their buckets: second rows first, then minute rows, as
// the roll-up locks them.
func (m *MetricStore) write(ctx context.Context, tx pgx.Tx, w *metricWrite, notBefore int64) error {
	n := len(w.Series)
	w.ids, w.dbLast, w.upserted = make([]int64, n), make([]int64, n), make([]bool, n)
	var pending []int
	for i, s := range w.Series {
		if id, ok := m.cache.Lookup(s.Key, s.Last, notBefore); ok {
			w.ids[i] = id
			continue
		}
		pending = append(pending, i)
	}
	if len(pending) > 0 {
		if err := upsertSeries(ctx, tx, w, pending); err != nil {
			return err
		}
	}
	for hr := len(metricTables) - 1; hr >= 0; hr-- {
		var rows []bucketRow
		for _, r := range w.Rows {
			if r.HighResolution == (hr == 1) {
				rows = append(rows, bucketRow{series: w.ids[r.Series], ts: r.Start, data: r.Data})
			}
		}
		if err := addBuckets(ctx, tx, metricTables[hr], rows); err != nil {
			return err
		}
	}
	return nil
}

// upsertSeries creates the series of w at idx, or moves their last
// observation, and records their ids. Rows are locked in (mkey, unit)
// order, as expiry locks them.
func upsertSeries(ctx context.Context, tx pgx.Tx, w *metricWrite, idx []int) error {
	type req struct {
		i    int
		mkey []byte
	}
	reqs := make([]req, len(idx))
	for j, i := range idx {
		s := &w.Series[i]
		reqs[j] = req{i, metricKey(s.Namespace, s.Name, s.Dims)}
	}
	slices.SortFunc(reqs, func(a, b req) int {
		if c := strings.Compare(string(a.mkey), string(b.mkey)); c != 0 {
			return c
		}
		return strings.Compare(w.Series[a.i].Unit, w.Series[b.i].Unit)
	})
	n := len(reqs)
	mkeys, nss, names, dims, units, lasts := make([][]byte, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]int64, n)
	byKey := make(map[string]int, n)
	for j, r := range reqs {
		s := &w.Series[r.i]
		mkeys[j], nss[j], names[j], dims[j], units[j], lasts[j] = r.mkey, s.Namespace, s.Name, s.Dims, s.Unit, s.Last
		byKey[string(r.mkey)+"\x00"+s.Unit] = r.i
	}
	rows, err := tx.Query(ctx, `INSERT INTO metric_series AS s (mkey, namespace, name, dims, unit, last)
		SELECT * FROM unnest($1::bytea[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[]) AS u(mkey, namespace, name, dims, unit, last)
		ORDER BY u.mkey, u.unit COLLATE "C"
		ON CONFLICT (mkey, unit) DO UPDATE SET last = greatest(s.last, excluded.last)
		RETURNING id, mkey, unit, last`, mkeys, nss, names, dims, units, lasts)
	if err != nil {
		return fmt.Errorf("write metric series: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, last int64
		var mkey []byte
		var unit string
		if err := rows.Scan(&id, &mkey, &unit, &last); err != nil {
			return fmt.Errorf("write metric series: %w", err)
		}
		if i, ok := byKey[string(mkey)+"\x00"+unit]; ok {
			w.ids[i], w.dbLast[i], w.upserted[i] = id, last, true
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("write metric series: %w", err)
	}
	for _, i := range idx {
		if !w.upserted[i] {
			return fmt.Errorf("write metric series: no id returned for %q", w.Series[i].Key)
		}
	}
	return nil
}

// bucketRow is a packed bucket to add to a data table.
type bucketRow struct {
	series, ts int64
	data       []byte
}

func compareBucketRows(a, b bucketRow) int {
	return cmp.Or(cmp.Compare(a.series, b.series), cmp.Compare(a.ts, b.ts))
}

// addBuckets adds rows, one per key, to their buckets in table: rows with
// no bucket yet are inserted as they are; the others are merged into theirs
// under the lock the insert took on them. Locks are taken in key order.
func addBuckets(ctx context.Context, tx pgx.Tx, table string, rows []bucketRow) error {
	if len(rows) == 0 {
		return nil
	}
	slices.SortFunc(rows, compareBucketRows)
	series, ts, data := make([]int64, len(rows)), make([]int64, len(rows)), make([][]byte, len(rows))
	for i, r := range rows {
		series[i], ts[i], data[i] = r.series, r.ts, r.data
	}
	// The ON CONFLICT action updates nothing (WHERE false), but locks the
	// bucket it found, so RETURNING names the inserted rows only.
	q, err := tx.Query(ctx, `INSERT INTO `+table+` AS t (series, ts, data)
		SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[]) ORDER BY 1, 2
		ON CONFLICT (series, ts) DO UPDATE SET data = t.data WHERE false
		RETURNING series, ts`, series, ts, data)
	if err != nil {
		return fmt.Errorf("write %s: %w", table, err)
	}
	type key struct{ series, ts int64 }
	inserted := make(map[key]bool, len(rows))
	var k key
	_, err = pgx.ForEachRow(q, []any{&k.series, &k.ts}, func() error {
		inserted[k] = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("write %s: %w", table, err)
	}
	if len(inserted) == len(rows) {
		return nil
	}
	merge := map[key][]byte{}
	series, ts = series[:0], ts[:0]
	for _, r := range rows {
		if k := (key{r.series, r.ts}); !inserted[k] {
			merge[k] = r.data
			series, ts = append(series, r.series), append(ts, r.ts)
		}
	}
	q, err = tx.Query(ctx, `SELECT t.series, t.ts, t.data FROM `+table+` t
		JOIN unnest($1::bigint[], $2::bigint[]) AS u(series, ts) ON t.series = u.series AND t.ts = u.ts`, series, ts)
	if err != nil {
		return fmt.Errorf("write %s: %w", table, err)
	}
	series, ts, data = series[:0], ts[:0], data[:0]
	var old []byte
	_, err = pgx.ForEachRow(q, []any{&k.series, &k.ts, &old}, func() error {
		add, ok := merge[k]
		if !ok {
			return nil
		}
		merged, err := metricbucket.Merge(old, add)
		if err != nil {
			return fmt.Errorf("series %d at %d: %w", k.series, k.ts, err)
		}
		delete(merge, k)
		series, ts, data = append(series, k.series), append(ts, k.ts), append(data, merged)
		return nil
	})
	if err != nil {
		return fmt.Errorf("write %s: %w", table, err)
	}
	if len(merge) > 0 {
		return fmt.Errorf("write %s: %d locked buckets not found", table, len(merge))
	}
	if _, err := tx.Exec(ctx, `UPDATE `+table+` AS t SET data = u.data
		FROM unnest($1::bigint[], $2::bigint[], $3::bytea[]) AS u(series, ts, data)
		WHERE t.series = u.series AND t.ts = u.ts`, series, ts, data); err != nil {
		return fmt.Errorf("write %s: %w", table, err)
	}
	return nil
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
	mkey := metricKey(q.Namespace, q.Name, q.Dims)
	var rows pgx.Rows
	if q.Unit != "" {
		rows, err = m.pool.Query(ctx, `SELECT id, unit FROM metric_series WHERE mkey = $1 AND unit = $2`, mkey, q.Unit)
	} else {
		rows, err = m.pool.Query(ctx, `SELECT id, unit FROM metric_series WHERE mkey = $1 ORDER BY unit`, mkey)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: metric statistics: %w", err)
	}
	var ids []int64
	var units []string
	var id int64
	var unit string
	if _, err := pgx.ForEachRow(rows, []any{&id, &unit}, func() error {
		ids, units = append(ids, id), append(units, unit)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("postgres: metric statistics: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	aggs := make([]*metricbucket.Aggregator, len(ids))
	byID := make(map[int64]int, len(ids))
	for i, id := range ids {
		aggs[i] = q.NewAggregator()
		byID[id] = i
	}
	// One statement, so one snapshot of both tables: a roll-up moves rows
	// from one to the other.
	col := "substring(data from 1 for " + strconv.Itoa(metricbucket.StatsLen) + ")"
	if q.WithSamples() {
		col = "data"
	}
	rows, err = m.pool.Query(ctx, `SELECT series, ts, `+col+` FROM metric_data WHERE series = ANY($1) AND ts >= $2 AND ts < $3
		UNION ALL SELECT series, ts, `+col+` FROM metric_data_hr WHERE series = ANY($1) AND ts >= $2 AND ts < $3`,
		ids, q.Start, q.End)
	if err != nil {
		return nil, fmt.Errorf("postgres: metric statistics: %w", err)
	}
	var ts int64
	var data []byte
	if _, err := pgx.ForEachRow(rows, []any{&id, &ts, &data}, func() error {
		i, ok := byID[id]
		if !ok {
			return nil
		}
		if err := aggs[i].Add(ts, data); err != nil {
			return fmt.Errorf("series %d at %d: %w", id, ts, err)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("postgres: metric statistics: %w", err)
	}
	var out []iotdm.MetricBucket
	for i, agg := range aggs {
		out = agg.AppendBuckets(out, units[i])
	}
	if len(ids) > 1 {
		metricbucket.SortBuckets(out)
	}
	return out, nil
}

// --- ListMetrics ---

// ListMetrics implements iotdm.MetricStore: metrics with an observation
// within the retention, sorted by namespace, name and canonical dimensions
// (bytewise). The dimension filters are JSON containment tests on the
// canonical dimensions, which mean what metricbucket.DimsMatch does.
func (m *MetricStore) ListMetrics(ctx context.Context, f iotdm.MetricFilter, after *iotdm.Metric, limit int) ([]iotdm.Metric, error) {
	if m.closed.Load() {
		return nil, iotdm.ErrClosed
	}
	since := metricbucket.ListSince(m.opts.Cutoff(m.opts.Now()), f.ActiveSince)
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Namespace != "" {
		where = append(where, "namespace = "+arg(f.Namespace))
	}
	if f.MetricName != "" {
		where = append(where, "name = "+arg(f.MetricName))
	}
	if after != nil {
		where = append(where, "(namespace, name, dims) > ("+arg(after.Namespace)+", "+arg(after.MetricName)+", "+arg(metricbucket.CanonicalDims(after.Dimensions))+")")
	}
	if len(f.Dimensions) > 0 {
		type dimFilter struct {
			Name  string  `json:"Name"`
			Value *string `json:"Value,omitempty"`
		}
		fs := make([]dimFilter, len(f.Dimensions))
		for i, d := range f.Dimensions {
			fs[i] = dimFilter{d.Name, d.Value}
		}
		js, err := json.Marshal(fs)
		if err != nil {
			return nil, fmt.Errorf("postgres: list metrics: %w", err)
		}
		where = append(where, "nullif(dims, '')::jsonb @> "+arg(string(js))+"::jsonb")
	}
	q := "SELECT namespace, name, dims FROM metric_series"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " GROUP BY namespace, name, dims HAVING max(last) >= " + arg(since) + " ORDER BY namespace, name, dims"
	if limit > 0 {
		q += " LIMIT " + arg(limit)
	}
	rows, err := m.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list metrics: %w", err)
	}
	var out []iotdm.Metric
	var ns, name, dimText string
	if _, err := pgx.ForEachRow(rows, []any{&ns, &name, &dimText}, func() error {
		dims, err := metricbucket.ParseDims(dimText)
		if err != nil {
			return err
		}
		out = append(out, iotdm.Metric{Namespace: ns, MetricName: name, Dimensions: dims})
		return nil
	}); err != nil {
		return nil, fmt.Errorf("postgres: list metrics: %w", err)
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
// the retention are deleted. The expiry loop calls it; so may tests. Passes
// of several stores on one database may run at once.
func (m *MetricStore) Expire(ctx context.Context) error {
	now := m.opts.Now()
	rolled, err := m.rollUp(ctx, m.opts.HighResolutionCutoff(now))
	if err != nil {
		return fmt.Errorf("postgres: roll up metrics: %w", err)
	}
	rows, series, err := m.expire(ctx, m.opts.Cutoff(now))
	if err != nil {
		return fmt.Errorf("postgres: expire metrics: %w", err)
	}
	if int64(rolled)+rows+series > 0 {
		m.logger.InfoContext(ctx, "metric expiry", "rolled_up", rolled, "deleted_rows", rows, "deleted_series", series)
	}
	return nil
}

// rollUp moves the second rows older than cutoff into minute rows, a page
// per transaction, and returns how many it moved.
func (m *MetricStore) rollUp(ctx context.Context, cutoff int64) (int, error) {
	total := 0
	var cursor int64 // the next series to look at
	for {
		var n int
		var next int64
		var done bool
		err := inRetriedTx(ctx, m.pool, m.logger, func(tx pgx.Tx) error {
			var err error
			n, next, done, err = rollUpPage(ctx, tx, cursor, cutoff)
			return err
		})
		if err != nil {
			return total, err
		}
		total += n
		cursor = next
		if done {
			return total, nil
		}
	}
}

// rollUpPage moves up to metricExpiryPage second rows older than cutoff,
// from series cursor on, series by series, and returns the cursor of the
// next page (done when none is left). Rows are taken with DELETE ...
// RETURNING, skipping those another transaction holds (a write, or another
// node's roll-up: they are left for the next pass), so no row is rolled up
// twice or lost.
func rollUpPage(ctx context.Context, tx pgx.Tx, cursor, cutoff int64) (n int, next int64, done bool, err error) {
	type minute struct{ series, ts int64 }
	var minutes metricbucket.Rollup[minute]
	for probes := 0; n < metricExpiryPage && probes < 8*metricExpiryPage; probes++ {
		var series, first int64
		err := tx.QueryRow(ctx, `SELECT series, ts FROM metric_data_hr WHERE series >= $1 ORDER BY series, ts LIMIT 1`, cursor).Scan(&series, &first)
		if errors.Is(err, pgx.ErrNoRows) {
			done = true
			break
		}
		if err != nil {
			return 0, cursor, false, err
		}
		if first >= cutoff { // the series holds only newer rows
			cursor = series + 1
			continue
		}
		want := metricExpiryPage - n
		rows, err := tx.Query(ctx, `DELETE FROM metric_data_hr WHERE (series, ts) IN (
				SELECT series, ts FROM metric_data_hr WHERE series = $1 AND ts < $2 ORDER BY ts LIMIT $3 FOR UPDATE SKIP LOCKED)
			RETURNING ts, data`, series, cutoff, want)
		if err != nil {
			return 0, cursor, false, err
		}
		got := 0
		var ts int64
		var data []byte
		if _, err := pgx.ForEachRow(rows, []any{&ts, &data}, func() error {
			got++
			if err := minutes.Add(minute{series, ts - ts%60}, data); err != nil {
				return fmt.Errorf("series %d at %d: %w", series, ts, err)
			}
			return nil
		}); err != nil {
			return 0, cursor, false, err
		}
		n += got
		if got < want { // no older row left, or only rows another transaction holds
			cursor = series + 1
		}
	}
	keys := minutes.Keys()
	rows := make([]bucketRow, len(keys))
	for i, k := range keys {
		rows[i] = bucketRow{series: k.series, ts: k.ts, data: minutes.Encode(k)}
	}
	if err := addBuckets(ctx, tx, metricTables[0], rows); err != nil {
		return 0, cursor, false, err
	}
	return n, cursor, done, nil
}

// expire deletes the rows older than cutoff and the series with no
// observation since, a page of series per transaction.
func (m *MetricStore) expire(ctx context.Context, cutoff int64) (rows, series int64, err error) {
	cutoff = max(cutoff, 0)
	var afterID int64
	for {
		var n int
		var lastID, r, s int64
		err := inRetriedTx(ctx, m.pool, m.logger, func(tx pgx.Tx) error {
			var err error
			n, lastID, r, s, err = expirePage(ctx, tx, afterID, cutoff)
			return err
		})
		if err != nil {
			return rows, series, err
		}
		rows, series, afterID = rows+r, series+s, lastID
		if s > 0 {
			// A write must not use a deleted id.
			m.cache.Clear()
		}
		if n < metricExpiryPage {
			return rows, series, nil
		}
	}
}

// expirePage expires the series after afterID, a page of them: first the
// series whose recorded last observation is old enough, locked in (mkey,
// unit) order as writes lock them (the DELETE re-checks last on the row it
// locked, so a series a concurrent write just moved stays), then their rows
// and the other series' rows older than cutoff, seconds then minutes.
func expirePage(ctx context.Context, tx pgx.Tx, afterID, cutoff int64) (n int, lastID, rows, series int64, err error) {
	q, err := tx.Query(ctx, `SELECT id FROM metric_series WHERE id > $1 ORDER BY id LIMIT $2`, afterID, metricExpiryPage)
	if err != nil {
		return 0, afterID, 0, 0, err
	}
	ids, err := pgx.CollectRows(q, pgx.RowTo[int64])
	if err != nil {
		return 0, afterID, 0, 0, err
	}
	if len(ids) == 0 {
		return 0, afterID, 0, 0, nil
	}
	q, err = tx.Query(ctx, `DELETE FROM metric_series WHERE id IN (
			SELECT id FROM metric_series WHERE id = ANY($1) AND last <= $2 ORDER BY mkey, unit COLLATE "C" FOR UPDATE)
		AND last <= $2 RETURNING id`, ids, metricbucket.SeriesExpiryBound(cutoff))
	if err != nil {
		return 0, afterID, 0, 0, err
	}
	dropped, err := pgx.CollectRows(q, pgx.RowTo[int64])
	if err != nil {
		return 0, afterID, 0, 0, err
	}
	slices.Sort(dropped)
	for hr := len(metricTables) - 1; hr >= 0; hr-- {
		table := metricTables[hr]
		tag, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE series = ANY($1) AND ts < $2`, ids, cutoff)
		if err != nil {
			return 0, afterID, 0, 0, err
		}
		rows += tag.RowsAffected()
		if len(dropped) > 0 {
			// The rows of a dropped series are older than cutoff, but
			// for a write racing the deletion (see seriesCacheMargin).
			tag, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE series = ANY($1)`, dropped)
			if err != nil {
				return 0, afterID, 0, 0, err
			}
			rows += tag.RowsAffected()
		}
	}
	return len(ids), ids[len(ids)-1], rows, int64(len(dropped)), nil
}
