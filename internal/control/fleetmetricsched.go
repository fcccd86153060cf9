package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/fleetindex"
	"github.com/iotdm/iotdm/internal/query"
)

// The fleet metric scheduler (AWS §8) runs every fleet metric on its
// period and writes the results to the metric store, as AWS IoT writes them
// to CloudWatch.
//
// Schedule. A metric of period p is computed for the boundaries that are
// multiples of p seconds since the Unix epoch (a 300 s metric at :00, :05,
// :10 ...); each point carries its boundary as timestamp. A boundary is due
// once the clock has reached it. The boundary due at a time t is the latest
// one at or before t; earlier boundaries missed while the server was
// stopped or paused are not back-filled: after a pause a metric catches up
// at most the one, latest, missed boundary, late, with the fleet as it is
// when computed (the index holds only the present, so an older boundary
// would get today's values). The next wake-up is computed from the clock
// each time, never by adding periods, so ticks do not drift.
//
// A metric created mid-period first emits at the next boundary (a boundary
// before its creation is never due). A change of the query, field or
// aggregation applies to the next computation; a change of the period
// applies from the first boundary of the new period at or after the change.
// A deleted metric stops at once; its scheduler record goes with it.
//
// Exactly once, or not at all. The last boundary emitted for each metric
// is recorded in a KindFleetMetricRun entity. A tick computes the due
// metrics, then claims their boundaries in one store transaction (a
// boundary at or before the recorded one is never claimed again, so two
// ticks for one boundary, a late tick or a restart emit it once), then
// writes the points. If the write fails the claims are withdrawn and the
// metrics are retried. A crash between the claim and the write loses that
// boundary's points rather than risk counting them twice; the claim also
// keeps two schedulers on one store from both emitting a boundary.
//
// Emission. Namespace IoTFleetMetrics, metric name the fleet metric's
// name, one dimension AggregationType whose value is the aggregation value
// (AWS §8): for Statistics each requested statistic by its name (count,
// average, sum, minimum, maximum, sumOfSquares, variance, stdDeviation);
// for Percentiles each requested percentile as the metric lists it ("50",
// "99": the reference leaves AWS's exact spelling open, §12 question 6, so
// the documented rule "the dimension value is the aggregation value" is
// applied as is); for Cardinality "cardinality". Values are computed as
// Search's GetStatistics, GetPercentiles and GetCardinality compute them.
// When nothing matches, count emits 0 and the other statistics and the
// percentiles emit nothing (AWS §8); cardinality emits 0, which is what
// GetCardinality answers (AWS §2.5). The unit is the metric's. Points of
// periods under a minute (a development MinPeriod) are high resolution.
//
// Not ready. A metric whose index is disabled, or whose query or field no
// longer suits the indexing configuration, is skipped and logged (once per
// reason), and so are all due metrics of a tick when the fleet index has
// not caught up with the store within IndexWait. Skipped metrics are
// retried every Retry until their boundary is emitted or the next one
// comes.

// FleetMetricNamespace is the metric store namespace of fleet metrics
// (AWS §8: no "AWS/" prefix).
const FleetMetricNamespace = "IoTFleetMetrics"

// FleetMetricDimension is the one dimension of a fleet metric's points;
// its value is the aggregation value (AWS §8).
const FleetMetricDimension = "AggregationType"

// KindFleetMetricRun is the entity kind of the scheduler's record of one
// fleet metric (key: the metric name): the last boundary it emitted.
const KindFleetMetricRun = "fleetmetricrun"

// Defaults of FleetMetricSchedulerOptions.
const (
	DefaultFleetMetricIndexWait = 5 * time.Second
	DefaultFleetMetricRetry     = 10 * time.Second
	// fleetMetricIdleWake is how long Run sleeps with no metric to run; a
	// created metric wakes it earlier through the change feed.
	fleetMetricIdleWake = time.Hour
)

// FleetMetricSchedulerOptions configures a FleetMetricScheduler.
type FleetMetricSchedulerOptions struct {
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now. Run sleeps on real
	// timers until the boundaries Now reports.
	Now func() time.Time
	// IndexWait bounds how long a tick waits for the fleet index to apply
	// every change the store had committed when the tick began; beyond it
	// the tick's metrics are skipped and retried. Zero means
	// DefaultFleetMetricIndexWait.
	IndexWait time.Duration
	// Retry is how soon a skipped or failed metric is tried again within
	// its period. Zero means DefaultFleetMetricRetry.
	Retry time.Duration
	// Workers computes this many metrics of a tick at once. Zero means 1:
	// a tick is a burst of index scans that API requests share the CPU
	// with.
	Workers int
}

// FleetMetricScheduler runs the fleet metrics (AWS §8) of a store over its
// fleet indices and writes their points to a metric store; see the
// comment at the top of this file for the rules. RunOnce emits what is due
// at a given time (tests drive it with their own clock); Run does so as
// time passes until its context ends.
type FleetMetricScheduler struct {
	store   iotdm.Store
	indexes SearchIndexes
	metrics iotdm.MetricStore
	opts    FleetMetricSchedulerOptions
	log     *slog.Logger

	mu      sync.Mutex        // one tick at a time; guards what follows
	skipped map[string]string // metric → the reason its due boundary was last skipped (logged once)
	behind  bool              // the last tick found the index behind the store (logged once)
}

// fleetMetricRun is the KindFleetMetricRun record of one metric.
type fleetMetricRun struct {
	Boundary time.Time `json:"boundary"` // the last boundary emitted (claimed)
	Period   int       `json:"period"`   // the metric's period then, seconds
	// Created is the metric's creation date: a record whose Created differs
	// belongs to an earlier metric of the same name.
	Created time.Time `json:"created"`
}

// NewFleetMetricScheduler returns the scheduler of the fleet metrics in
// store, computed over indexes (the fleet index feeder) and written to
// metrics.
func NewFleetMetricScheduler(store iotdm.Store, indexes SearchIndexes, metrics iotdm.MetricStore, opts FleetMetricSchedulerOptions) *FleetMetricScheduler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.IndexWait <= 0 {
		opts.IndexWait = DefaultFleetMetricIndexWait
	}
	if opts.Retry <= 0 {
		opts.Retry = DefaultFleetMetricRetry
	}
	opts.Workers = max(opts.Workers, 1)
	return &FleetMetricScheduler{
		store: store, indexes: indexes, metrics: metrics, opts: opts,
		log:     opts.Logger.With("component", "fleetmetrics-scheduler"),
		skipped: map[string]string{},
	}
}

// Run emits every metric's points as its boundaries come, until ctx ends
// (returning ctx's error) or the store's change feed fails. It sleeps until
// the next due boundary (or retry) and wakes early when a fleet metric or
// the indexing configuration changes. Call it once.
func (s *FleetMetricScheduler) Run(ctx context.Context) error {
	from, err := s.store.LastSeq(ctx)
	if err != nil {
		return fmt.Errorf("fleet metric scheduler: read last change: %w", err)
	}
	changed := make(chan struct{}, 1)
	fctx, stop := context.WithCancel(ctx)
	var followErr error
	followDone := make(chan struct{})
	go func() {
		defer close(followDone)
		followErr = iotdm.Follow(fctx, s.store, from, func(c iotdm.Change) error {
			if c.Kind == iotdm.KindFleetMetric || c.Kind == iotdm.KindIndexingConfig {
				select {
				case changed <- struct{}{}:
				default:
				}
			}
			return nil
		})
	}()
	defer func() {
		stop()
		<-followDone
	}()

	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-followDone:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("fleet metric scheduler: follow the change feed: %w", followErr)
		case <-timer.C:
		case <-changed:
		}
		next, err := s.tick(ctx, s.opts.Now())
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.log.Warn("fleet metric tick failed; retrying", "err", err, "retry", s.opts.Retry)
		}
		timer.Reset(max(next.Sub(s.opts.Now()), time.Millisecond))
	}
}

// RunOnce emits the points of every metric due at now (see the top of this
// file) and returns the first error of loading, claiming or writing them.
// A metric that cannot be computed is skipped and logged, not an error.
func (s *FleetMetricScheduler) RunOnce(ctx context.Context, now time.Time) error {
	_, err := s.tick(ctx, now)
	return err
}

// fmSnapshot is what a tick reads from the store, in one transaction.
type fmSnapshot struct {
	seq     uint64
	config  *iotdm.IndexingConfiguration
	metrics []*iotdm.StoredFleetMetric
	runs    map[string]*fleetMetricRun
}

// fmDue is one metric due at a tick, and what computing it gave.
type fmDue struct {
	m        *iotdm.StoredFleetMetric
	boundary time.Time
	points   []iotdm.MetricPoint
	err      error // why it was skipped
}

// fmClaim is a claimed boundary and the record it replaced (nil: none).
type fmClaim struct {
	d    *fmDue
	prev *fleetMetricRun
}

// tick emits what is due at now and returns when the scheduler should
// look again: the next boundary of any metric, or a retry.
func (s *FleetMetricScheduler) tick(ctx context.Context, now time.Time) (next time.Time, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	retry := now.Add(s.opts.Retry)
	snap, err := s.load(ctx)
	if err != nil {
		return retry, fmt.Errorf("fleet metrics: load: %w", err)
	}
	next = now.Add(fleetMetricIdleWake)
	var due []*fmDue
	live := make(map[string]bool, len(snap.metrics))
	for _, m := range snap.metrics {
		live[m.MetricName] = true
		if m.Period <= 0 {
			continue // never stored: CreateFleetMetric requires a period
		}
		if nb := periodStart(now, m.Period).Add(time.Duration(m.Period) * time.Second); nb.Before(next) {
			next = nb
		}
		if b, ok := dueBoundary(m, snap.runs[m.MetricName], now); ok {
			due = append(due, &fmDue{m: m, boundary: b})
		}
	}
	var orphans []string
	for name := range snap.runs {
		if !live[name] {
			orphans = append(orphans, name)
		}
	}
	for name := range s.skipped {
		if !live[name] {
			delete(s.skipped, name)
		}
	}
	if len(due) == 0 && len(orphans) == 0 {
		return next, nil
	}

	if len(due) > 0 {
		if err := s.waitIndex(ctx, snap.seq, len(due)); err != nil {
			if ctx.Err() != nil {
				return next, ctx.Err()
			}
			due = nil // all skipped (logged); the orphans still go
			next = minTime(next, retry)
		}
	}
	computeStart := time.Now()
	s.compute(snap.config, due)
	computeTook := time.Since(computeStart)
	ready := due[:0:0]
	for _, d := range due {
		if d.err != nil {
			s.noteSkip(d)
			next = minTime(next, retry)
			continue
		}
		ready = append(ready, d)
	}

	writeStart := time.Now()
	claims, err := s.claim(ctx, ready, orphans)
	if err != nil {
		return minTime(next, retry), fmt.Errorf("fleet metrics: claim boundaries: %w", err)
	}
	var points []iotdm.MetricPoint
	for _, c := range claims {
		points = append(points, c.d.points...)
	}
	if len(points) > 0 {
		if err := s.metrics.PutMetricPoints(ctx, points); err != nil {
			if uerr := s.unclaim(ctx, claims); uerr != nil {
				// The claims stand: these boundaries are lost, not doubled.
				s.log.Error("fleet metrics: withdraw claims after a failed write; their boundaries are lost",
					"err", uerr, "metrics", len(claims))
			}
			return minTime(next, retry), fmt.Errorf("fleet metrics: write points: %w", err)
		}
	}
	for _, c := range claims {
		if _, ok := s.skipped[c.d.m.MetricName]; ok {
			delete(s.skipped, c.d.m.MetricName)
			s.log.Info("fleet metric emitting again", "metric", c.d.m.MetricName, "boundary", c.d.boundary)
		}
	}
	if len(claims) > 0 {
		s.log.Debug("fleet metrics emitted", "metrics", len(claims), "points", len(points), "now", now,
			"compute", computeTook, "write", time.Since(writeStart))
	}
	return next, nil
}

// load reads the metrics, their run records, the indexing configuration
// and the sequence number they are consistent with.
func (s *FleetMetricScheduler) load(ctx context.Context) (*fmSnapshot, error) {
	snap := &fmSnapshot{}
	err := s.store.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, seq uint64) error {
		snap.seq, snap.metrics, snap.runs = seq, nil, map[string]*fleetMetricRun{}
		var err error
		if snap.config, err = loadIndexingConfig(ctx, tx); err != nil {
			return err
		}
		err = tx.Scan(ctx, iotdm.KindFleetMetric, "", "", 0, func(key string, v []byte) error {
			m := new(iotdm.StoredFleetMetric)
			if err := json.Unmarshal(v, m); err != nil {
				return fmt.Errorf("decode fleet metric %q: %w", key, err)
			}
			snap.metrics = append(snap.metrics, m)
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Scan(ctx, KindFleetMetricRun, "", "", 0, func(key string, v []byte) error {
			r := new(fleetMetricRun)
			if err := json.Unmarshal(v, r); err != nil {
				return fmt.Errorf("decode fleet metric run %q: %w", key, err)
			}
			snap.runs[key] = r
			return nil
		})
	})
	return snap, err
}

// waitIndex waits up to IndexWait for the fleet index to apply every
// change up to seq; a timeout is logged once until the index catches up.
func (s *FleetMetricScheduler) waitIndex(ctx context.Context, seq uint64, due int) error {
	wctx, cancel := context.WithTimeout(ctx, s.opts.IndexWait)
	defer cancel()
	err := s.indexes.WaitFor(wctx, seq)
	switch {
	case err == nil:
		if s.behind {
			s.behind = false
			s.log.Info("fleet index caught up; fleet metrics resume")
		}
	case ctx.Err() != nil:
	case !s.behind:
		s.behind = true
		s.log.Warn("fleet index not ready (behind the store); fleet metrics skipped and retried",
			"metrics", due, "seq", seq, "waited", s.opts.IndexWait, "err", err)
	}
	return err
}

// noteSkip logs a skipped metric once per reason.
func (s *FleetMetricScheduler) noteSkip(d *fmDue) {
	reason := d.err.Error()
	if s.skipped[d.m.MetricName] == reason {
		return
	}
	s.skipped[d.m.MetricName] = reason
	s.log.Warn("fleet metric skipped", "metric", d.m.MetricName, "boundary", d.boundary, "err", d.err)
}

// compute computes the due metrics, Workers at a time.
func (s *FleetMetricScheduler) compute(cfg *iotdm.IndexingConfiguration, due []*fmDue) {
	if s.opts.Workers == 1 || len(due) < 2 {
		for _, d := range due {
			d.points, d.err = s.points(cfg, d.m, d.boundary)
		}
		return
	}
	var wg sync.WaitGroup
	work := make(chan *fmDue)
	for range min(s.opts.Workers, len(due)) {
		wg.Go(func() {
			for d := range work {
				d.points, d.err = s.points(cfg, d.m, d.boundary)
			}
		})
	}
	for _, d := range due {
		work <- d
	}
	close(work)
	wg.Wait()
}

// points computes metric m over the fleet index under cfg, as Search's
// aggregation operations do, and returns its points for boundary b.
func (s *FleetMetricScheduler) points(cfg *iotdm.IndexingConfiguration, m *iotdm.StoredFleetMetric, b time.Time) ([]iotdm.MetricPoint, error) {
	t := &target{name: m.IndexName, config: cfg}
	var opts query.Options
	switch {
	case m.IndexName == iotdm.IndexThings && cfg.ThingIndexEnabled():
		t.index, opts = s.indexes.Things(), queryOptions(cfg)
	case m.IndexName == iotdm.IndexThingGroups && cfg.ThingGroupIndexEnabled():
		t.index, opts = s.indexes.Groups(), groupQueryOptions(cfg)
	}
	if t.index == nil {
		return nil, iotdm.Errorf(iotdm.ErrIndexNotReady, "Index %s is not ready: its indexing is OFF", m.IndexName)
	}
	expr, err := query.Parse(m.QueryString, opts)
	if err != nil {
		if qe, ok := errors.AsType[*query.Error](err); ok {
			return nil, iotdm.Errorf(iotdm.ErrInvalidQuery, "%s", qe.Error())
		}
		return nil, err
	}
	path, typ, err := t.aggField(m.AggregationField)
	if err != nil {
		return nil, err
	}
	if err := checkFieldType(&m.AggregationType, m.AggregationField, typ); err != nil {
		return nil, err
	}
	var out []iotdm.MetricPoint
	emit := func(value string, v float64) {
		out = append(out, fleetMetricPoint(m, b, value, v))
	}
	switch m.AggregationType.Name {
	case iotdm.AggregationStatistics:
		st := t.index.Statistics(expr, path, typ)
		for _, name := range m.AggregationType.Values {
			if v, ok := statisticValue(&st, name); ok {
				emit(name, v)
			}
		}
	case iotdm.AggregationPercentiles:
		percents := make([]float64, len(m.AggregationType.Values))
		for i, v := range m.AggregationType.Values {
			if percents[i], err = strconv.ParseFloat(v, 64); err != nil {
				return nil, invalidAggregation("Invalid percentile %s", v)
			}
		}
		if len(percents) == 0 {
			return nil, nil // never stored: Percentiles need values
		}
		for i, p := range t.index.Percentiles(expr, path, percents) {
			emit(m.AggregationType.Values[i], p.Value)
		}
	case iotdm.AggregationCardinality:
		emit(cardinalityValue, float64(t.index.Cardinality(expr, path)))
	default:
		return nil, invalidAggregation("Unknown aggregation type %s", m.AggregationType.Name)
	}
	return out, nil
}

// statisticValue returns the statistic name of st; ok is false when there
// is none to emit (nothing matched, a String field, an overflow). count is
// always there: 0 when nothing matches (AWS §8).
func statisticValue(st *fleetindex.Statistics, name string) (v float64, ok bool) {
	var p *float64
	switch name {
	case iotdm.StatCount:
		return float64(st.Count), true
	case iotdm.StatAverage:
		p = st.Average
	case iotdm.StatSum:
		p = st.Sum
	case iotdm.StatMinimum:
		p = st.Minimum
	case iotdm.StatMaximum:
		p = st.Maximum
	case iotdm.StatSumOfSquares:
		p = st.SumOfSquares
	case iotdm.StatVariance:
		p = st.Variance
	case iotdm.StatStdDeviation:
		p = st.StdDeviation
	}
	if p == nil {
		return 0, false
	}
	return *p, true
}

// fleetMetricPoint is the point of one aggregation value of m at boundary
// b (AWS §8).
func fleetMetricPoint(m *iotdm.StoredFleetMetric, b time.Time, value string, v float64) iotdm.MetricPoint {
	return iotdm.MetricPoint{
		Metric: iotdm.Metric{
			Namespace:  FleetMetricNamespace,
			MetricName: m.MetricName,
			Dimensions: []iotdm.Dimension{{Name: FleetMetricDimension, Value: value}},
		},
		Timestamp:      b,
		Value:          &v,
		Unit:           m.Unit,
		HighResolution: m.Period < 60,
	}
}

// claim records the boundaries of the computed metrics as emitted, in one
// transaction, and returns the claims it made: a metric deleted or
// re-created since it was read, or whose boundary is already recorded, is
// left out. Run records of deleted metrics go in the same transaction.
func (s *FleetMetricScheduler) claim(ctx context.Context, ready []*fmDue, orphans []string) ([]fmClaim, error) {
	if len(ready) == 0 && len(orphans) == 0 {
		return nil, nil
	}
	var claims []fmClaim
	err := s.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		claims = claims[:0]
		for _, d := range ready {
			cur, ok, err := get[iotdm.StoredFleetMetric](ctx, tx, iotdm.KindFleetMetric, d.m.MetricName)
			if err != nil {
				return err
			}
			if !ok || !cur.CreationDate.Equal(d.m.CreationDate.Time) {
				continue // deleted (or deleted and created anew) meanwhile
			}
			prev, ok, err := get[fleetMetricRun](ctx, tx, KindFleetMetricRun, d.m.MetricName)
			if err != nil {
				return err
			}
			if ok && prev.Created.Equal(d.m.CreationDate.Time) && !prev.Boundary.Before(d.boundary) {
				continue // emitted already, by an earlier tick or another scheduler
			}
			run := &fleetMetricRun{Boundary: d.boundary, Period: d.m.Period, Created: d.m.CreationDate.Time}
			if err := put(ctx, tx, KindFleetMetricRun, d.m.MetricName, run); err != nil {
				return err
			}
			claims = append(claims, fmClaim{d: d, prev: prev})
		}
		for _, name := range orphans {
			_, exists, err := tx.Get(ctx, iotdm.KindFleetMetric, name)
			if err != nil {
				return err
			}
			if !exists {
				if err := tx.Delete(ctx, KindFleetMetricRun, name); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return claims, nil
}

// unclaim withdraws claims whose points could not be written, restoring
// the records they replaced, so that a retry emits them.
func (s *FleetMetricScheduler) unclaim(ctx context.Context, claims []fmClaim) error {
	// The write failed; ctx may be what failed it, and withdrawing is
	// worth a moment more.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return s.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		for _, c := range claims {
			name := c.d.m.MetricName
			cur, ok, err := get[fleetMetricRun](ctx, tx, KindFleetMetricRun, name)
			if err != nil {
				return err
			}
			if !ok || !cur.Boundary.Equal(c.d.boundary) || !cur.Created.Equal(c.d.m.CreationDate.Time) {
				continue // no longer ours
			}
			if c.prev == nil {
				err = tx.Delete(ctx, KindFleetMetricRun, name)
			} else {
				err = put(ctx, tx, KindFleetMetricRun, name, c.prev)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// dueBoundary returns the boundary of m due at now, the latest one at or
// before now, and whether to emit it: not before the metric was created,
// after the last boundary recorded in run (nil: none), and, when the
// period changed since that boundary, not before the change.
func dueBoundary(m *iotdm.StoredFleetMetric, run *fleetMetricRun, now time.Time) (time.Time, bool) {
	b := periodStart(now, m.Period)
	if b.Before(m.CreationDate.Time) {
		return b, false
	}
	if run == nil || !run.Created.Equal(m.CreationDate.Time) {
		return b, true
	}
	if !b.After(run.Boundary) {
		return b, false
	}
	if run.Period != m.Period && b.Before(m.LastModifiedDate.Time) {
		return b, false
	}
	return b, true
}

// periodStart returns the latest multiple of period seconds since the
// Unix epoch at or before t, in UTC.
func periodStart(t time.Time, period int) time.Time {
	p := int64(period)
	sec := t.Unix()
	return time.Unix(sec-((sec%p)+p)%p, 0).UTC()
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
