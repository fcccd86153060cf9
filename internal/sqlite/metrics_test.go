package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/sqlite"
)

// t0 is a minute boundary, the base time of the metric tests.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type metricFixture struct {
	db   *sqlite.DB
	ms   *sqlite.MetricStore
	path string
	now  time.Time
}

func newMetricFixture(t testing.TB) *metricFixture {
	t.Helper()
	f := &metricFixture{path: filepath.Join(t.TempDir(), "iotdm.db"), now: t0.Add(time.Hour)}
	f.open(t)
	return f
}

func (f *metricFixture) open(t testing.TB) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), f.path, testLogger(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	ms, err := sqlite.OpenMetricStore(context.Background(), db, sqlite.MetricOptions{
		Logger: testLogger(t), ExpiryInterval: -1, Now: func() time.Time { return f.now },
	})
	if err != nil {
		t.Fatalf("OpenMetricStore: %v", err)
	}
	f.db, f.ms = db, ms
	t.Cleanup(func() { f.close(t) })
}

func (f *metricFixture) close(t testing.TB) {
	t.Helper()
	if err := f.ms.Close(); err != nil {
		t.Errorf("MetricStore.Close: %v", err)
	}
	if err := f.db.Close(); err != nil {
		t.Errorf("DB.Close: %v", err)
	}
}

func (f *metricFixture) put(t testing.TB, points ...iotdm.MetricPoint) {
	t.Helper()
	if err := f.ms.PutMetricPoints(context.Background(), points); err != nil {
		t.Fatalf("PutMetricPoints: %v", err)
	}
}

func (f *metricFixture) stats(t testing.TB, r iotdm.MetricRange) []iotdm.MetricBucket {
	t.Helper()
	got, err := f.ms.MetricStatistics(context.Background(), r)
	if err != nil {
		t.Fatalf("MetricStatistics(%+v): %v", r, err)
	}
	return got
}

var cpu = iotdm.Metric{Namespace: "Fleet", MetricName: "CPU", Dimensions: []iotdm.Dimension{{Name: "Thing", Value: "t1"}, {Name: "Site", Value: "north"}}}

func val(m iotdm.Metric, at time.Time, v float64) iotdm.MetricPoint {
	return iotdm.MetricPoint{Metric: m, Timestamp: at, Value: &v}
}

func bucket(at time.Time, n, sum, lo, hi float64, unit string) iotdm.MetricBucket {
	return iotdm.MetricBucket{Timestamp: at, SampleCount: n, Sum: sum, Minimum: lo, Maximum: hi, Unit: unit}
}

func TestMetricStatisticsAggregatesPeriods(t *testing.T) {
	f := newMetricFixture(t)
	// Two values a minute for ten minutes: i and 10*i, at :10 and :50.
	var pts []iotdm.MetricPoint
	for i := range 10 {
		m := t0.Add(time.Duration(i) * time.Minute)
		pts = append(pts, val(cpu, m.Add(10*time.Second), float64(i)), val(cpu, m.Add(50*time.Second), float64(10*i)))
	}
	f.put(t, pts...)
	// Dimensions in another order name the same metric.
	reordered := cpu
	reordered.Dimensions = []iotdm.Dimension{cpu.Dimensions[1], cpu.Dimensions[0]}

	t.Run("one minute", func(t *testing.T) {
		got := f.stats(t, iotdm.MetricRange{Metric: reordered, Start: t0, End: t0.Add(3 * time.Minute), Period: time.Minute})
		want := []iotdm.MetricBucket{
			bucket(t0, 2, 0, 0, 0, "None"),
			bucket(t0.Add(time.Minute), 2, 11, 1, 10, "None"),
			bucket(t0.Add(2*time.Minute), 2, 22, 2, 20, "None"),
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("MetricStatistics (-want +got):\n%s", diff)
		}
	})
	t.Run("five minutes aligned to the epoch", func(t *testing.T) {
		got := f.stats(t, iotdm.MetricRange{Metric: cpu, Start: t0, End: t0.Add(time.Hour), Period: 5 * time.Minute})
		want := []iotdm.MetricBucket{
			bucket(t0, 10, 110, 0, 40, "None"),
			bucket(t0.Add(5*time.Minute), 10, 385, 5, 90, "None"),
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("MetricStatistics (-want +got):\n%s", diff)
		}
	})
	t.Run("range excludes the end", func(t *testing.T) {
		got := f.stats(t, iotdm.MetricRange{Metric: cpu, Start: t0.Add(8 * time.Minute), End: t0.Add(9 * time.Minute), Period: time.Minute})
		if len(got) != 1 || !got[0].Timestamp.Equal(t0.Add(8*time.Minute)) {
			t.Errorf("MetricStatistics = %+v, want the 8th minute only", got)
		}
	})
	t.Run("other dimensions are another metric", func(t *testing.T) {
		other := cpu
		other.Dimensions = cpu.Dimensions[:1]
		if got := f.stats(t, iotdm.MetricRange{Metric: other, Start: t0, End: t0.Add(time.Hour), Period: time.Minute}); len(got) != 0 {
			t.Errorf("MetricStatistics(fewer dimensions) = %+v, want none", got)
		}
	})
	t.Run("exact percentiles", func(t *testing.T) {
		got := f.stats(t, iotdm.MetricRange{Metric: cpu, Start: t0, End: t0.Add(10 * time.Minute), Period: 10 * time.Minute,
			Percentiles: []float64{0, 10, 50, 90, 100}})
		// Values 0..9 and 0,10..90: sorted 0 0 1 2 3 4 5 6 7 8 9 10 20 ... 90.
		// Nearest rank: p10 is the 2nd of 20, p50 the 10th, p90 the 18th.
		want := map[float64]float64{0: 0, 10: 0, 50: 8, 90: 70, 100: 90}
		if len(got) != 1 {
			t.Fatalf("MetricStatistics = %+v, want one bucket", got)
		}
		if diff := cmp.Diff(want, got[0].Percentiles); diff != "" {
			t.Errorf("percentiles (-want +got):\n%s", diff)
		}
	})
}

func TestMetricUnitsAreKeptApart(t *testing.T) {
	f := newMetricFixture(t)
	p1 := val(cpu, t0, 1)
	p1.Unit = "Percent"
	p2 := val(cpu, t0.Add(time.Second), 2)
	p2.Unit = "Count"
	p3 := val(cpu, t0.Add(2*time.Second), 3) // no unit: None
	f.put(t, p1, p2, p3)
	r := iotdm.MetricRange{Metric: cpu, Start: t0, End: t0.Add(time.Minute), Period: time.Minute}
	want := []iotdm.MetricBucket{
		bucket(t0, 1, 2, 2, 2, "Count"),
		bucket(t0, 1, 3, 3, 3, "None"),
		bucket(t0, 1, 1, 1, 1, "Percent"),
	}
	if diff := cmp.Diff(want, f.stats(t, r)); diff != "" {
		t.Errorf("without a unit (-want +got):\n%s", diff)
	}
	r.Unit = "Percent"
	if diff := cmp.Diff(want[2:], f.stats(t, r)); diff != "" {
		t.Errorf("Unit Percent (-want +got):\n%s", diff)
	}
	r.Unit = "Seconds"
	if got := f.stats(t, r); len(got) != 0 {
		t.Errorf("Unit Seconds = %+v, want none", got)
	}
}

func TestMetricStatisticSetsAndCounts(t *testing.T) {
	f := newMetricFixture(t)
	seven := 7.0
	f.put(t,
		iotdm.MetricPoint{Metric: cpu, Timestamp: t0, Stats: &iotdm.StatisticSet{SampleCount: 4, Sum: 10, Minimum: 1, Maximum: 4}},
		iotdm.MetricPoint{Metric: cpu, Timestamp: t0, Value: &seven, Count: 3},
		iotdm.MetricPoint{Metric: cpu, Timestamp: t0, Stats: &iotdm.StatisticSet{SampleCount: 2, Sum: 10, Minimum: 5, Maximum: 5}},
	)
	got := f.stats(t, iotdm.MetricRange{Metric: cpu, Start: t0, End: t0.Add(time.Minute), Period: time.Minute, Percentiles: []float64{50, 99}})
	// Percentiles see 7×3 and 5×2: the statistic set with Minimum ≠ Maximum
	// has no known values.
	want := []iotdm.MetricBucket{{Timestamp: t0, SampleCount: 9, Sum: 41, Minimum: 1, Maximum: 7, Unit: "None",
		Percentiles: map[float64]float64{50: 7, 99: 7}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("MetricStatistics (-want +got):\n%s", diff)
	}
}

func TestMetricPercentilesPastTheExactSample(t *testing.T) {
	f := newMetricFixture(t)
	rng := rand.New(rand.NewPCG(1, 2))
	var vals []float64
	var pts []iotdm.MetricPoint
	for i := range 20000 {
		v := math.Exp(rng.NormFloat64()*2) * 100 // log-normal, five decades
		if i%10 == 0 {
			v = -v
		}
		vals = append(vals, v)
		pts = append(pts, val(cpu, t0.Add(time.Duration(i%60)*time.Second), v))
		if len(pts) == 1000 {
			f.put(t, pts...)
			pts = pts[:0]
		}
	}
	sort.Float64s(vals)
	ps := []float64{1, 5, 25, 50, 75, 90, 99, 99.9}
	got := f.stats(t, iotdm.MetricRange{Metric: cpu, Start: t0, End: t0.Add(time.Minute), Period: time.Minute, Percentiles: ps})
	if len(got) != 1 {
		t.Fatalf("MetricStatistics = %+v, want one bucket", got)
	}
	for _, p := range ps {
		exact := vals[int(math.Ceil(p/100*float64(len(vals))))-1]
		g, ok := got[0].Percentiles[p]
		if !ok || math.Abs(g-exact) > 0.0101*math.Abs(exact) {
			t.Errorf("p%v = %v (%v), want %v within 1%%", p, g, ok, exact)
		}
	}
	if got[0].Minimum != vals[0] || got[0].Maximum != vals[len(vals)-1] || got[0].SampleCount != 20000 {
		t.Errorf("bucket %+v, want min %v max %v count 20000", got[0], vals[0], vals[len(vals)-1])
	}
}

func TestMetricHighResolution(t *testing.T) {
	f := newMetricFixture(t)
	f.now = t0.Add(10 * time.Minute)
	var pts []iotdm.MetricPoint
	for s := range 120 {
		p := val(cpu, t0.Add(time.Duration(s)*time.Second), float64(s))
		p.HighResolution = true
		pts = append(pts, p)
	}
	f.put(t, append(pts, val(cpu, t0.Add(30*time.Second), 1000))...) // a standard one in the first minute
	r := iotdm.MetricRange{Metric: cpu, Start: t0, End: t0.Add(2 * time.Minute), Period: 10 * time.Second}
	got := f.stats(t, r)
	if len(got) != 12 || !cmp.Equal(got[1], bucket(t0.Add(10*time.Second), 10, 145, 10, 19, "None")) {
		t.Errorf("10 s buckets = %+v", got)
	}
	r.Period = time.Minute
	want := []iotdm.MetricBucket{bucket(t0, 61, 1770+1000, 0, 1000, "None"), bucket(t0.Add(time.Minute), 60, 5370, 60, 119, "None")}
	if diff := cmp.Diff(want, f.stats(t, r)); diff != "" {
		t.Errorf("minute buckets (-want +got):\n%s", diff)
	}
	r.Percentiles = []float64{50}
	before := f.stats(t, r)

	// Three hours on, the seconds are rolled up into minutes: the same
	// minutes, and no more 10-second detail.
	f.now = t0.Add(3*time.Hour + 5*time.Minute)
	if err := f.ms.Expire(t.Context()); err != nil {
		t.Fatalf("Expire: %v", err)
	}
	if diff := cmp.Diff(before, f.stats(t, r)); diff != "" {
		t.Errorf("minute buckets after the roll-up (-before +after):\n%s", diff)
	}
	r.Period, r.Percentiles = 10*time.Second, nil
	if got := f.stats(t, r); len(got) != 2 || got[0].Timestamp != t0 || got[1].Timestamp != t0.Add(time.Minute) {
		t.Errorf("10 s buckets after the roll-up = %+v, want the two minutes", got)
	}
}

func TestMetricRetention(t *testing.T) {
	f := newMetricFixture(t)
	old := iotdm.Metric{Namespace: "Fleet", MetricName: "Old"}
	f.now = t0
	f.put(t, val(cpu, t0.Add(-20*time.Minute), 1), val(cpu, t0, 2), val(old, t0.Add(-20*time.Minute), 3))

	f.now = t0.Add(sqlite.DefaultMetricRetention).Add(-10 * time.Minute)
	if err := f.ms.Expire(t.Context()); err != nil {
		t.Fatalf("Expire: %v", err)
	}
	got := f.stats(t, iotdm.MetricRange{Metric: cpu, Start: t0.Add(-time.Hour), End: t0.Add(time.Hour), Period: time.Minute})
	if diff := cmp.Diff([]iotdm.MetricBucket{bucket(t0, 1, 2, 2, 2, "None")}, got); diff != "" {
		t.Errorf("after expiry (-want +got):\n%s", diff)
	}
	list, err := f.ms.ListMetrics(t.Context(), iotdm.MetricFilter{}, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]iotdm.Metric{sortedDims(cpu)}, list); diff != "" {
		t.Errorf("ListMetrics after expiry (-want +got):\n%s", diff)
	}
	// A new observation of an expired metric brings it back.
	f.put(t, val(old, f.now, 4))
	if got := f.stats(t, iotdm.MetricRange{Metric: old, Start: t0.Add(-time.Hour), End: f.now.Add(time.Hour), Period: time.Hour}); len(got) != 1 || got[0].Sum != 4 {
		t.Errorf("re-created metric = %+v", got)
	}
	// Points older than the retention are dropped.
	f.put(t, val(cpu, t0.Add(-time.Hour), 5))
	if got := f.stats(t, iotdm.MetricRange{Metric: cpu, Start: t0.Add(-2 * time.Hour), End: t0.Add(-time.Minute), Period: time.Minute}); len(got) != 0 {
		t.Errorf("point past the retention = %+v, want none", got)
	}
}

func sortedDims(m iotdm.Metric) iotdm.Metric {
	m.Dimensions = slices.Clone(m.Dimensions)
	slices.SortFunc(m.Dimensions, func(a, b iotdm.Dimension) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return m
}

func TestListMetrics(t *testing.T) {
	f := newMetricFixture(t)
	dim := func(kv ...string) []iotdm.Dimension {
		var ds []iotdm.Dimension
		for i := 0; i < len(kv); i += 2 {
			ds = append(ds, iotdm.Dimension{Name: kv[i], Value: kv[i+1]})
		}
		return ds
	}
	metrics := []iotdm.Metric{
		{Namespace: "A", MetricName: "x"},
		{Namespace: "A", MetricName: "x", Dimensions: dim("Site", "north")},
		{Namespace: "A", MetricName: "x", Dimensions: dim("Site", "south", "Thing", "t1")},
		{Namespace: "A", MetricName: "y", Dimensions: dim("Site", "north")},
		{Namespace: "B", MetricName: "x", Dimensions: dim("Thing", "t2")},
	}
	for i, m := range metrics {
		p := val(m, f.now.Add(-time.Duration(i)*time.Hour), 1)
		if i == 0 {
			p.Unit = "Count"
			f.put(t, p)
			p.Unit = "Seconds" // a second unit: still one metric
		}
		f.put(t, p)
	}
	str := func(s string) *string { return &s }
	tests := []struct {
		name   string
		filter iotdm.MetricFilter
		want   []iotdm.Metric
	}{
		{"all", iotdm.MetricFilter{}, metrics},
		{"namespace", iotdm.MetricFilter{Namespace: "A"}, metrics[:4]},
		{"name", iotdm.MetricFilter{MetricName: "x"}, []iotdm.Metric{metrics[0], metrics[1], metrics[2], metrics[4]}},
		{"dimension with any value", iotdm.MetricFilter{Dimensions: []iotdm.DimensionFilter{{Name: "Site"}}}, metrics[1:4]},
		{"dimension value", iotdm.MetricFilter{Namespace: "A", Dimensions: []iotdm.DimensionFilter{{Name: "Site", Value: str("north")}}},
			[]iotdm.Metric{metrics[1], metrics[3]}},
		{"two dimensions", iotdm.MetricFilter{Dimensions: []iotdm.DimensionFilter{{Name: "Site"}, {Name: "Thing", Value: str("t1")}}}, metrics[2:3]},
		{"recently active", iotdm.MetricFilter{ActiveSince: f.now.Add(-150 * time.Minute)}, metrics[:3]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.ms.ListMetrics(t.Context(), tt.filter, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ListMetrics(%+v) (-want +got):\n%s", tt.filter, diff)
			}
		})
	}
	t.Run("pages", func(t *testing.T) {
		var got []iotdm.Metric
		var after *iotdm.Metric
		for {
			page, err := f.ms.ListMetrics(t.Context(), iotdm.MetricFilter{}, after, 2)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, page...)
			if len(page) < 2 {
				break
			}
			after = &page[len(page)-1]
		}
		if diff := cmp.Diff(metrics, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("pages (-want +got):\n%s", diff)
		}
	})
}

func TestPutMetricPointsIsAllOrNothing(t *testing.T) {
	f := newMetricFixture(t)
	nan := math.NaN()
	err := f.ms.PutMetricPoints(t.Context(), []iotdm.MetricPoint{val(cpu, t0, 1), {Metric: cpu, Timestamp: t0, Value: &nan}})
	if !iotdm.IsCode(err, iotdm.ErrInvalidParameterValue) {
		t.Fatalf("PutMetricPoints(NaN) = %v, want InvalidParameterValue", err)
	}
	if got := f.stats(t, iotdm.MetricRange{Metric: cpu, Start: t0, End: t0.Add(time.Minute), Period: time.Minute}); len(got) != 0 {
		t.Errorf("after a refused put: %+v", got)
	}
}

func TestMetricsSurviveReopenAndWriteNoChanges(t *testing.T) {
	f := newMetricFixture(t)
	f.put(t, val(cpu, t0, 1))
	seq, err := f.db.LastSeq(t.Context())
	if err != nil || seq != 0 {
		t.Errorf("LastSeq = %d, %v; metrics must record no change", seq, err)
	}
	f.close(t)
	f.open(t)
	f.put(t, val(cpu, t0, 2)) // the series id comes from the database now
	got := f.stats(t, iotdm.MetricRange{Metric: cpu, Start: t0, End: t0.Add(time.Minute), Period: time.Minute})
	if diff := cmp.Diff([]iotdm.MetricBucket{bucket(t0, 2, 3, 1, 2, "None")}, got); diff != "" {
		t.Errorf("after reopen (-want +got):\n%s", diff)
	}
}

// TestMetricsBesideEntityUpdates writes metrics and entities at once: both
// land, the change feed holds exactly the entities' changes, and a failing
// entity Update in the same batches touches no metric.
func TestMetricsBesideEntityUpdates(t *testing.T) {
	f := newMetricFixture(t)
	const writers, rounds = 4, 50
	var wg sync.WaitGroup
	errs := make(chan error, 2*writers*rounds)
	for w := range writers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range rounds {
				m := iotdm.Metric{Namespace: "Fleet", MetricName: fmt.Sprintf("m%d", w)}
				errs <- f.ms.PutMetricPoints(context.Background(), []iotdm.MetricPoint{val(m, t0.Add(time.Duration(i)*time.Minute), 1)})
			}
		}()
		go func() {
			defer wg.Done()
			for i := range rounds {
				err := f.db.Update(context.Background(), func(ctx context.Context, tx iotdm.Tx) error {
					if err := tx.Put(ctx, iotdm.KindThing, fmt.Sprintf("t%d-%d", w, i), []byte(`{}`)); err != nil {
						return err
					}
					if i%5 == 0 {
						return errors.New("refused")
					}
					return nil
				})
				if i%5 != 0 {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	seq, err := f.db.LastSeq(t.Context())
	if want := uint64(writers * rounds * 4 / 5); err != nil || seq != want {
		t.Errorf("LastSeq = %d, %v; want %d", seq, err, want)
	}
	for w := range writers {
		m := iotdm.Metric{Namespace: "Fleet", MetricName: fmt.Sprintf("m%d", w)}
		got := f.stats(t, iotdm.MetricRange{Metric: m, Start: t0, End: t0.Add(time.Hour), Period: time.Hour})
		if len(got) != 1 || got[0].SampleCount != rounds {
			t.Errorf("metric m%d = %+v, want %d samples", w, got, rounds)
		}
	}
}

func TestMetricStoreClose(t *testing.T) {
	f := newMetricFixture(t)
	f.put(t, val(cpu, t0, 1))
	if err := f.ms.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := f.ms.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := f.ms.PutMetricPoints(t.Context(), []iotdm.MetricPoint{val(cpu, t0, 1)}); !errors.Is(err, iotdm.ErrClosed) {
		t.Errorf("PutMetricPoints after Close = %v, want ErrClosed", err)
	}
	// The DB goes on without it.
	if err := f.db.Update(t.Context(), func(ctx context.Context, tx iotdm.Tx) error {
		return tx.Put(ctx, iotdm.KindThing, "t", []byte(`{}`))
	}); err != nil {
		t.Errorf("Update after the metric store closed: %v", err)
	}
}

func TestMetricExpiryLoopStopsOnClose(t *testing.T) {
	db := openTestDB(t)
	ms, err := sqlite.OpenMetricStore(t.Context(), db, sqlite.MetricOptions{ExpiryInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // a few passes
	done := make(chan error)
	go func() { done <- ms.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
}

func openTestDB(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "iotdm.db"), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// BenchmarkPutMetricPoints writes batches of 1000 one-value points (100
// series, 10 minutes each), as PutMetricData calls of 1000 items do; each
// call is durable. Reported: points/s.
func BenchmarkPutMetricPoints(b *testing.B) {
	f := newMetricFixture(b)
	f.now = t0.Add(24 * time.Hour)
	metrics := make([]iotdm.Metric, 100)
	for i := range metrics {
		metrics[i] = iotdm.Metric{Namespace: "Fleet", MetricName: "Temperature",
			Dimensions: []iotdm.Dimension{{Name: "ThingName", Value: fmt.Sprintf("sensor-%04d", i)}, {Name: "Site", Value: "north"}}}
	}
	const batch = 1000
	pts := make([]iotdm.MetricPoint, batch)
	values := make([]float64, batch)
	minute := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for i := range pts {
			values[i] = float64(minute*7+i) / 10
			pts[i] = iotdm.MetricPoint{Metric: metrics[i%len(metrics)], Timestamp: t0.Add(time.Duration(minute+i/len(metrics)) * time.Minute), Value: &values[i]}
		}
		minute += batch / len(metrics)
		if err := f.ms.PutMetricPoints(context.Background(), pts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "points/s")
}

// BenchmarkMetricStatistics30Days reads one series' 30 days of one-minute
// data (43,200 rows) in hourly periods, with and without percentiles.
func BenchmarkMetricStatistics30Days(b *testing.B) {
	f := newMetricFixture(b)
	const days = 30
	end := t0.Add(days * 24 * time.Hour)
	f.now = end
	// Thirty days kept, so nothing is dropped as too old.
	f.ms.Close()
	ms, err := sqlite.OpenMetricStore(context.Background(), f.db, sqlite.MetricOptions{ExpiryInterval: -1, Retention: 40 * 24 * time.Hour,
		Now: func() time.Time { return end }})
	if err != nil {
		b.Fatal(err)
	}
	f.ms = ms
	var pts []iotdm.MetricPoint
	for i := range days * 24 * 60 {
		v := float64(i % 97)
		pts = append(pts, iotdm.MetricPoint{Metric: cpu, Timestamp: t0.Add(time.Duration(i) * time.Minute), Value: &v})
		if len(pts) == 1000 {
			f.put(b, pts...)
			pts = nil
		}
	}
	f.put(b, pts...)
	for _, bc := range []struct {
		name   string
		period time.Duration
		pct    []float64
	}{
		{"hourly", time.Hour, nil},
		{"minutely", time.Minute, nil},
		{"hourly p99", time.Hour, []float64{99}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := iotdm.MetricRange{Metric: cpu, Start: t0, End: end, Period: bc.period, Percentiles: bc.pct}
			for b.Loop() {
				got, err := f.ms.MetricStatistics(context.Background(), r)
				if err != nil || len(got) != int(days*24*time.Hour/bc.period) {
					b.Fatalf("MetricStatistics = %d buckets, %v", len(got), err)
				}
			}
		})
	}
}
