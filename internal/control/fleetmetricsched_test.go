package control_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/control"
	"github.com/iotdm/iotdm/internal/fleetindex"
	"github.com/iotdm/iotdm/internal/sqlite"
)

// memMetrics is an in-memory iotdm.MetricStore that keeps every point it
// is given; fail makes PutMetricPoints fail.
type memMetrics struct {
	mu     sync.Mutex
	points []iotdm.MetricPoint
	fail   error
}

func (m *memMetrics) PutMetricPoints(_ context.Context, points []iotdm.MetricPoint) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.points = append(m.points, points...)
	return nil
}

func (m *memMetrics) MetricStatistics(context.Context, iotdm.MetricRange) ([]iotdm.MetricBucket, error) {
	return nil, errors.New("memMetrics: MetricStatistics not implemented")
}

func (m *memMetrics) ListMetrics(context.Context, iotdm.MetricFilter, *iotdm.Metric, int) ([]iotdm.Metric, error) {
	return nil, errors.New("memMetrics: ListMetrics not implemented")
}

func (m *memMetrics) setFail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail = err
}

// fmPoint is a point as the tests compare them.
type fmPoint struct {
	Metric string
	Agg    string // the AggregationType dimension
	At     string // the timestamp, 15:04:05 UTC
	Value  float64
	Unit   string
}

// all returns every point written, in order of writing; each must be a
// single-valued point of the fleet metrics namespace with one dimension.
func (m *memMetrics) all(t *testing.T) []fmPoint {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]fmPoint, 0, len(m.points))
	for _, p := range m.points {
		if p.Metric.Namespace != control.FleetMetricNamespace || len(p.Metric.Dimensions) != 1 ||
			p.Metric.Dimensions[0].Name != control.FleetMetricDimension || p.Value == nil || p.Stats != nil {
			t.Fatalf("point %+v: want namespace IoTFleetMetrics, one AggregationType dimension and a value", p)
		}
		out = append(out, fmPoint{Metric: p.Metric.MetricName, Agg: p.Metric.Dimensions[0].Value,
			At: p.Timestamp.UTC().Format(time.TimeOnly), Value: *p.Value, Unit: p.Unit})
	}
	return out
}

// of returns the points of one metric and aggregation value.
func (m *memMetrics) of(t *testing.T, metric, agg string) []fmPoint {
	t.Helper()
	var out []fmPoint
	for _, p := range m.all(t) {
		if p.Metric == metric && p.Agg == agg {
			out = append(out, p)
		}
	}
	return out
}

// times returns the timestamps of the points of one metric and value.
func (m *memMetrics) times(t *testing.T, metric, agg string) []string {
	t.Helper()
	var out []string
	for _, p := range m.of(t, metric, agg) {
		out = append(out, p.At)
	}
	return out
}

// stallingIndexes is the feeder until stalled, then an index that never
// catches up with the store.
type stallingIndexes struct {
	control.SearchIndexes
	mu      sync.Mutex
	stalled bool
}

func (s *stallingIndexes) WaitFor(ctx context.Context, seq uint64) error {
	s.mu.Lock()
	stalled := s.stalled
	s.mu.Unlock()
	if stalled {
		<-ctx.Done()
		return ctx.Err()
	}
	return s.SearchIndexes.WaitFor(ctx, seq)
}

func (s *stallingIndexes) stall(v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stalled = v
}

// fmsFixture is a store with things, a running fleet index feeder, the
// fleet metrics and search services, a settable clock and a scheduler
// writing to memory.
type fmsFixture struct {
	db       iotdm.Store
	clk      *clock
	reg      *control.Registry
	indexing *control.Indexing
	fm       *control.FleetMetrics
	search   *control.Search
	indexes  *stallingIndexes
	sink     *memMetrics
	sched    *control.FleetMetricScheduler
}

// fmsStart is 12:00:00 UTC, a boundary of every period that divides an hour.
var fmsStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// at returns 12:mm:ss on the fixture's day, as "mm:ss" says.
func at(t *testing.T, mmss string) time.Time {
	t.Helper()
	var m, s, ms int
	if _, err := fmt.Sscanf(mmss, "%d:%d.%d", &m, &s, &ms); err != nil {
		if _, err := fmt.Sscanf(mmss, "%d:%d", &m, &s); err != nil {
			t.Fatalf("at(%q): %v", mmss, err)
		}
	}
	return fmsStart.Add(time.Duration(m)*time.Minute + time.Duration(s)*time.Second + time.Duration(ms)*time.Millisecond)
}

func newFMSFixture(t *testing.T) *fmsFixture {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "fms.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	feeder := fleetindex.NewFeeder(db, fleetindex.FeederOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- feeder.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		db.Close()
	})
	clk := &clock{now: fmsStart}
	f := &fmsFixture{
		db:       db,
		clk:      clk,
		reg:      control.NewRegistry(db, control.RegistryOptions{Region: "us-east-1", AccountID: "123456789012", Now: clk.Now}),
		indexing: control.NewIndexing(db, control.IndexingOptions{}),
		fm: control.NewFleetMetrics(db, control.FleetMetricsOptions{Region: "us-east-1", AccountID: "123456789012",
			MinPeriod: time.Second, Now: clk.Now}),
		search:  control.NewSearch(db, feeder, control.SearchOptions{}),
		indexes: &stallingIndexes{SearchIndexes: feeder},
		sink:    &memMetrics{},
	}
	f.sched = f.newScheduler()
	_, err = f.indexing.UpdateIndexingConfiguration(t.Context(), &iotdm.UpdateIndexingConfigurationInput{
		ThingIndexingConfiguration: &iotdm.ThingIndexingConfiguration{
			ThingIndexingMode: iotdm.ThingIndexingRegistry,
			CustomFields: []iotdm.Field{
				{Name: "attributes.temp", Type: iotdm.FieldTypeNumber},
				{Name: "attributes.model", Type: iotdm.FieldTypeString},
				{Name: "attributes.on", Type: iotdm.FieldTypeBoolean},
			},
		},
	})
	if err != nil {
		t.Fatalf("UpdateIndexingConfiguration: %v", err)
	}
	for i, temp := range []string{"10", "20", "30", "40"} {
		attrs := map[string]string{"temp": temp, "model": []string{"A", "A", "B", "C"}[i], "on": []string{"true", "false", "true", "true"}[i]}
		if _, err := f.reg.CreateThing(t.Context(), &iotdm.CreateThingInput{ThingName: fmt.Sprintf("dev-%d", i+1),
			AttributePayload: &iotdm.AttributePayload{Attributes: attrs}}); err != nil {
			t.Fatalf("CreateThing: %v", err)
		}
	}
	return f
}

// newScheduler returns another scheduler over the fixture's store, as a
// restart makes.
func (f *fmsFixture) newScheduler() *control.FleetMetricScheduler {
	return control.NewFleetMetricScheduler(f.db, f.indexes, f.sink, control.FleetMetricSchedulerOptions{
		Now: f.clk.Now, IndexWait: 50 * time.Millisecond,
	})
}

func (f *fmsFixture) setNow(t time.Time) {
	f.clk.mu.Lock()
	defer f.clk.mu.Unlock()
	f.clk.now = t
}

// create creates a metric at time now.
func (f *fmsFixture) create(t *testing.T, now time.Time, in *iotdm.CreateFleetMetricInput) {
	t.Helper()
	f.setNow(now)
	if _, err := f.fm.CreateFleetMetric(t.Context(), in); err != nil {
		t.Fatalf("CreateFleetMetric(%s): %v", in.MetricName, err)
	}
}

// update updates a metric at time now.
func (f *fmsFixture) update(t *testing.T, now time.Time, in *iotdm.UpdateFleetMetricInput) {
	t.Helper()
	f.setNow(now)
	in.IndexName = iotdm.IndexThings
	if _, err := f.fm.UpdateFleetMetric(t.Context(), in); err != nil {
		t.Fatalf("UpdateFleetMetric(%s): %v", in.MetricName, err)
	}
}

// tick runs the scheduler at now.
func (f *fmsFixture) tick(t *testing.T, now time.Time) {
	t.Helper()
	f.setNow(now)
	if err := f.sched.RunOnce(t.Context(), now); err != nil {
		t.Fatalf("RunOnce(%s): %v", now.Format(time.TimeOnly), err)
	}
}

// fmsMetric is a CreateFleetMetricInput over attributes.temp.
func fmsMetric(name string, period int, agg string, values ...string) *iotdm.CreateFleetMetricInput {
	return &iotdm.CreateFleetMetricInput{
		MetricName:       name,
		QueryString:      "attributes.temp > 0",
		AggregationType:  &iotdm.AggregationType{Name: agg, Values: values},
		Period:           period,
		AggregationField: "attributes.temp",
	}
}

func TestFleetMetricSchedAlignment(t *testing.T) {
	f := newFMSFixture(t)
	f.create(t, at(t, "01:30"), fmsMetric("m", 300, iotdm.AggregationStatistics, "count"))
	for _, now := range []string{"01:30", "02:00", "04:59.999"} {
		f.tick(t, at(t, now))
	}
	if got := f.sink.times(t, "m", "count"); len(got) != 0 {
		t.Fatalf("points before 12:05 = %v, want none: a metric created mid-period first emits at the next boundary", got)
	}
	for _, now := range []string{"05:00", "05:00.500", "06:00", "09:59", "10:00.250", "15:03"} {
		f.tick(t, at(t, now))
	}
	want := []string{"12:05:00", "12:10:00", "12:15:00"}
	if got := f.sink.times(t, "m", "count"); !slices.Equal(got, want) {
		t.Errorf("count points at %v, want %v", got, want)
	}
}

func TestFleetMetricSchedNoDrift(t *testing.T) {
	f := newFMSFixture(t)
	f.create(t, at(t, "00:00"), fmsMetric("m", 60, iotdm.AggregationStatistics, "count"))
	r := rand.New(rand.NewPCG(1, 2))
	const periods = 150
	for k := 1; k <= periods; k++ {
		b := fmsStart.Add(time.Duration(k) * time.Minute)
		// A tick late by up to 40 s, sometimes a second one for the same
		// boundary, sometimes one early in the next period's wait.
		f.tick(t, b.Add(time.Duration(r.IntN(40_000))*time.Millisecond))
		if r.IntN(3) == 0 {
			f.tick(t, b.Add(time.Duration(40_000+r.IntN(19_999))*time.Millisecond))
		}
	}
	var want []string
	for k := 1; k <= periods; k++ {
		want = append(want, fmsStart.Add(time.Duration(k)*time.Minute).Format(time.TimeOnly))
	}
	if diff := cmp.Diff(want, f.sink.times(t, "m", "count")); diff != "" {
		t.Errorf("count timestamps (-want +got):\n%s", diff)
	}
}

func TestFleetMetricSchedNoDoubleCount(t *testing.T) {
	f := newFMSFixture(t)
	f.create(t, at(t, "00:00"), fmsMetric("m", 60, iotdm.AggregationStatistics, "count", "sum"))

	t.Run("two ticks at one time", func(t *testing.T) {
		f.tick(t, at(t, "01:00"))
		f.tick(t, at(t, "01:00"))
		f.tick(t, at(t, "01:59.999"))
		if got, want := f.sink.times(t, "m", "count"), []string{"12:01:00"}; !slices.Equal(got, want) {
			t.Errorf("count points at %v, want %v", got, want)
		}
	})
	t.Run("a restart emits nothing twice", func(t *testing.T) {
		f.sched = f.newScheduler()
		f.tick(t, at(t, "01:30"))
		f.tick(t, at(t, "02:00"))
		f.sched = f.newScheduler()
		f.tick(t, at(t, "02:00"))
		if got, want := f.sink.times(t, "m", "sum"), []string{"12:01:00", "12:02:00"}; !slices.Equal(got, want) {
			t.Errorf("sum points at %v, want %v", got, want)
		}
	})
	t.Run("two schedulers at once", func(t *testing.T) {
		other := f.newScheduler()
		f.setNow(at(t, "03:00"))
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, s := range []*control.FleetMetricScheduler{f.sched, other} {
			wg.Go(func() { errs[i] = s.RunOnce(t.Context(), at(t, "03:00")) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("RunOnce: %v", err)
		}
		if got, want := f.sink.times(t, "m", "count"), []string{"12:01:00", "12:02:00", "12:03:00"}; !slices.Equal(got, want) {
			t.Errorf("count points at %v, want %v", got, want)
		}
	})
}

func TestFleetMetricSchedCatchUp(t *testing.T) {
	f := newFMSFixture(t)
	f.create(t, at(t, "00:00"), fmsMetric("m", 300, iotdm.AggregationStatistics, "count"))
	f.tick(t, at(t, "05:00"))
	// Paused from 12:05:10 to 12:21:30: 12:10, 12:15 and 12:20 were missed;
	// only the latest is caught up, late.
	f.tick(t, at(t, "21:30"))
	f.tick(t, at(t, "24:59"))
	f.tick(t, at(t, "25:00"))
	if got, want := f.sink.times(t, "m", "count"), []string{"12:05:00", "12:20:00", "12:25:00"}; !slices.Equal(got, want) {
		t.Errorf("count points at %v, want %v", got, want)
	}
}

func TestFleetMetricSchedNothingMatches(t *testing.T) {
	f := newFMSFixture(t)
	none := "attributes.temp > 1000"
	stats := fmsMetric("stats", 60, iotdm.AggregationStatistics, "count", "average", "sum", "minimum", "maximum", "sumOfSquares", "variance", "stdDeviation")
	pcts := fmsMetric("pcts", 60, iotdm.AggregationPercentiles, "50")
	card := fmsMetric("card", 60, iotdm.AggregationCardinality)
	for _, in := range []*iotdm.CreateFleetMetricInput{stats, pcts, card} {
		in.QueryString = none
		f.create(t, at(t, "00:00"), in)
	}
	f.tick(t, at(t, "01:00"))
	f.tick(t, at(t, "02:00"))
	want := []fmPoint{
		{Metric: "card", Agg: "cardinality", At: "12:01:00"},
		{Metric: "stats", Agg: "count", At: "12:01:00"},
		{Metric: "card", Agg: "cardinality", At: "12:02:00"},
		{Metric: "stats", Agg: "count", At: "12:02:00"},
	}
	if diff := cmp.Diff(want, f.sink.all(t)); diff != "" {
		t.Errorf("points when nothing matches (-want +got): count and cardinality 0, nothing else\n%s", diff)
	}
}

func TestFleetMetricSchedAggregations(t *testing.T) {
	f := newFMSFixture(t)
	ctx := t.Context()
	all := []string{"count", "average", "sum", "minimum", "maximum", "sumOfSquares", "variance", "stdDeviation"}
	stats := fmsMetric("stats", 60, iotdm.AggregationStatistics, all...)
	stats.Unit = "Count"
	f.create(t, at(t, "00:00"), stats)
	f.create(t, at(t, "00:00"), fmsMetric("pcts", 60, iotdm.AggregationPercentiles, "50", "90", "0"))
	card := fmsMetric("card", 60, iotdm.AggregationCardinality, "cardinality")
	card.AggregationField = "attributes.model"
	f.create(t, at(t, "00:00"), card)
	on := fmsMetric("on", 60, iotdm.AggregationStatistics, "count", "average", "sum")
	on.AggregationField = "attributes.on"
	f.create(t, at(t, "00:00"), on)
	model := fmsMetric("model", 60, iotdm.AggregationStatistics, "count")
	model.AggregationField, model.QueryString = "attributes.model", "attributes.model:A"
	f.create(t, at(t, "00:00"), model)
	f.tick(t, at(t, "01:00"))

	got := map[string]fmPoint{}
	for _, p := range f.sink.all(t) {
		got[p.Metric+"/"+p.Agg] = p
	}
	want := map[string]fmPoint{}
	add := func(metric, agg string, v float64, unit string) {
		want[metric+"/"+agg] = fmPoint{Metric: metric, Agg: agg, At: "12:01:00", Value: v, Unit: unit}
	}
	// The values are Search's answers to the same questions.
	st, err := f.search.GetStatistics(ctx, &iotdm.GetStatisticsInput{QueryString: "attributes.temp > 0", AggregationField: "attributes.temp"})
	if err != nil {
		t.Fatal(err)
	}
	s := st.Statistics
	add("stats", "count", float64(s.Count), "Count")
	for agg, v := range map[string]*float64{"average": s.Average, "sum": s.Sum, "minimum": s.Minimum, "maximum": s.Maximum,
		"sumOfSquares": s.SumOfSquares, "variance": s.Variance, "stdDeviation": s.StdDeviation} {
		add("stats", agg, *v, "Count")
	}
	pc, err := f.search.GetPercentiles(ctx, &iotdm.GetPercentilesInput{QueryString: "attributes.temp > 0", AggregationField: "attributes.temp", Percents: []float64{50, 90, 0}})
	if err != nil {
		t.Fatal(err)
	}
	for i, agg := range []string{"50", "90", "0"} {
		add("pcts", agg, pc.Percentiles[i].Value, "")
	}
	cd, err := f.search.GetCardinality(ctx, &iotdm.GetCardinalityInput{QueryString: "attributes.temp > 0", AggregationField: "attributes.model"})
	if err != nil {
		t.Fatal(err)
	}
	add("card", "cardinality", float64(cd.Cardinality), "")
	add("on", "count", 4, "")
	add("on", "average", 0.75, "")
	add("on", "sum", 3, "")
	add("model", "count", 2, "")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("points (-want +got):\n%s", diff)
	}
	// Spot checks, so that the comparison is not with an empty answer.
	for key, v := range map[string]float64{"stats/count": 4, "stats/sum": 100, "stats/variance": 125, "pcts/50": 25, "pcts/0": 10, "card/cardinality": 3} {
		if got[key].Value != v {
			t.Errorf("%s = %v, want %v", key, got[key].Value, v)
		}
	}
}

func TestFleetMetricSchedUpdates(t *testing.T) {
	f := newFMSFixture(t)
	f.create(t, at(t, "00:00"), fmsMetric("m", 300, iotdm.AggregationStatistics, "count"))
	f.tick(t, at(t, "00:00"))

	t.Run("a shorter period starts at its first boundary after the change", func(t *testing.T) {
		f.update(t, at(t, "01:30"), &iotdm.UpdateFleetMetricInput{MetricName: "m", Period: new(60)})
		f.tick(t, at(t, "01:30")) // 12:01 is a boundary of the new period, but before the change
		f.tick(t, at(t, "02:00"))
		f.tick(t, at(t, "03:10"))
		if got, want := f.sink.times(t, "m", "count"), []string{"12:00:00", "12:02:00", "12:03:00"}; !slices.Equal(got, want) {
			t.Errorf("count points at %v, want %v", got, want)
		}
	})
	t.Run("a longer period", func(t *testing.T) {
		f.update(t, at(t, "03:30"), &iotdm.UpdateFleetMetricInput{MetricName: "m", Period: new(300)})
		f.tick(t, at(t, "04:00"))
		f.tick(t, at(t, "05:00"))
		f.tick(t, at(t, "06:00"))
		if got, want := f.sink.times(t, "m", "count"), []string{"12:00:00", "12:02:00", "12:03:00", "12:05:00"}; !slices.Equal(got, want) {
			t.Errorf("count points at %v, want %v", got, want)
		}
	})
	t.Run("a query change applies from the next boundary", func(t *testing.T) {
		f.update(t, at(t, "07:00"), &iotdm.UpdateFleetMetricInput{MetricName: "m", QueryString: new("attributes.temp >= 30")})
		f.tick(t, at(t, "07:00"))
		f.tick(t, at(t, "10:00"))
		got := f.sink.of(t, "m", "count")
		if last := got[len(got)-1]; last.At != "12:10:00" || last.Value != 2 || len(got) != 5 {
			t.Errorf("count points %v, want a fifth at 12:10:00 of value 2", got)
		}
	})
}

func TestFleetMetricSchedDeletion(t *testing.T) {
	f := newFMSFixture(t)
	ctx := t.Context()
	f.create(t, at(t, "00:00"), fmsMetric("gone", 60, iotdm.AggregationStatistics, "count"))
	f.create(t, at(t, "00:00"), fmsMetric("kept", 60, iotdm.AggregationStatistics, "count"))
	f.tick(t, at(t, "01:00"))
	if _, ok, _ := f.db.Get(ctx, control.KindFleetMetricRun, "gone"); !ok {
		t.Fatalf("no run record of an emitted metric")
	}
	if _, err := f.fm.DeleteFleetMetric(ctx, &iotdm.DeleteFleetMetricInput{MetricName: "gone"}); err != nil {
		t.Fatal(err)
	}
	f.tick(t, at(t, "02:00"))
	f.tick(t, at(t, "03:00"))
	if got, want := f.sink.times(t, "gone", "count"), []string{"12:01:00"}; !slices.Equal(got, want) {
		t.Errorf("deleted metric's points at %v, want %v", got, want)
	}
	if got := f.sink.times(t, "kept", "count"); len(got) != 3 {
		t.Errorf("the other metric's points at %v, want 3", got)
	}
	if _, ok, _ := f.db.Get(ctx, control.KindFleetMetricRun, "gone"); ok {
		t.Errorf("the deleted metric's run record is still there")
	}

	// Created anew mid-period under the same name: a new metric, which
	// starts at its next boundary.
	f.create(t, at(t, "03:30"), fmsMetric("gone", 60, iotdm.AggregationStatistics, "count"))
	f.tick(t, at(t, "03:40"))
	f.tick(t, at(t, "04:00"))
	if got, want := f.sink.times(t, "gone", "count"), []string{"12:01:00", "12:04:00"}; !slices.Equal(got, want) {
		t.Errorf("re-created metric's points at %v, want %v", got, want)
	}
}

func TestFleetMetricSchedIndexNotReady(t *testing.T) {
	f := newFMSFixture(t)
	ctx := t.Context()
	f.create(t, at(t, "00:00"), fmsMetric("m", 60, iotdm.AggregationStatistics, "count"))

	t.Run("an index behind the store skips the tick", func(t *testing.T) {
		f.indexes.stall(true)
		f.tick(t, at(t, "01:00"))
		if got := f.sink.times(t, "m", "count"); len(got) != 0 {
			t.Fatalf("points %v with the index behind, want none", got)
		}
		f.indexes.stall(false)
		f.tick(t, at(t, "01:10")) // the retry, late in the same period
		if got, want := f.sink.times(t, "m", "count"), []string{"12:01:00"}; !slices.Equal(got, want) {
			t.Errorf("count points at %v, want %v", got, want)
		}
	})
	t.Run("a disabled index skips its metrics", func(t *testing.T) {
		_, err := f.indexing.UpdateIndexingConfiguration(ctx, &iotdm.UpdateIndexingConfigurationInput{
			ThingIndexingConfiguration: &iotdm.ThingIndexingConfiguration{ThingIndexingMode: iotdm.ThingIndexingOff},
		})
		if err != nil {
			t.Fatal(err)
		}
		f.tick(t, at(t, "02:00"))
		f.tick(t, at(t, "03:00"))
		if got, want := f.sink.times(t, "m", "count"), []string{"12:01:00"}; !slices.Equal(got, want) {
			t.Errorf("count points at %v with the index OFF, want %v", got, want)
		}
	})
}

func TestFleetMetricSchedWriteFailure(t *testing.T) {
	f := newFMSFixture(t)
	f.create(t, at(t, "00:00"), fmsMetric("m", 60, iotdm.AggregationStatistics, "count"))
	f.sink.setFail(errors.New("disk full"))
	if err := f.sched.RunOnce(t.Context(), at(t, "01:00")); err == nil {
		t.Fatalf("RunOnce with a failing metric store = nil, want its error")
	}
	f.sink.setFail(nil)
	f.tick(t, at(t, "01:10")) // the claim was withdrawn: the retry emits
	f.tick(t, at(t, "01:20"))
	if got, want := f.sink.times(t, "m", "count"), []string{"12:01:00"}; !slices.Equal(got, want) {
		t.Errorf("count points at %v, want %v", got, want)
	}
}

// TestFleetMetricSchedRun runs the scheduler on the real clock with
// one-second metrics: points on whole seconds, each once, and a metric
// created while it sleeps is picked up.
func TestFleetMetricSchedRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for seconds")
	}
	f := newFMSFixture(t)
	ctx, cancel := context.WithCancel(t.Context())
	s := control.NewFleetMetricScheduler(f.db, f.indexes, f.sink, control.FleetMetricSchedulerOptions{})
	fm := control.NewFleetMetrics(f.db, control.FleetMetricsOptions{Region: "us-east-1", AccountID: "123456789012", MinPeriod: time.Second})
	if _, err := fm.CreateFleetMetric(ctx, fmsMetric("fast", 1, iotdm.AggregationStatistics, "count")); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	time.Sleep(1200 * time.Millisecond)
	if _, err := fm.CreateFleetMetric(ctx, fmsMetric("late", 1, iotdm.AggregationStatistics, "count")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	f.sink.mu.Lock()
	byMetric := map[string][]time.Time{}
	for _, p := range f.sink.points {
		byMetric[p.Metric.MetricName] = append(byMetric[p.Metric.MetricName], p.Timestamp)
		if !p.HighResolution {
			t.Errorf("point of a 1 s metric not high resolution: %+v", p)
		}
	}
	f.sink.mu.Unlock()
	for name, least := range map[string]int{"fast": 3, "late": 2} {
		ts := byMetric[name]
		if len(ts) < least {
			t.Errorf("%s: %d points, want at least %d", name, len(ts), least)
		}
		if !sort.SliceIsSorted(ts, func(i, j int) bool { return ts[i].Before(ts[j]) }) {
			t.Errorf("%s: timestamps out of order: %v", name, ts)
		}
		for i, ts0 := range ts {
			if ts0.Nanosecond() != 0 {
				t.Errorf("%s: timestamp %v not on a whole second", name, ts0)
			}
			if i > 0 && !ts0.After(ts[i-1]) {
				t.Errorf("%s: timestamp %v twice", name, ts0)
			}
		}
	}
}
