package metricstoretest

import (
	"errors"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/metricbucket"
)

func testAggregatesPeriods(t *testing.T, open Opener) {
	f := newFixture(t, open)
	// Two values a minute for ten minutes: i and 10*i, at :10 and :50.
	var pts []iotdm.MetricPoint
	for i := range 10 {
		m := T0.Add(time.Duration(i) * time.Minute)
		pts = append(pts, Val(CPU, m.Add(10*time.Second), float64(i)), Val(CPU, m.Add(50*time.Second), float64(10*i)))
	}
	f.put(t, pts...)
	// Dimensions in another order name the same metric.
	reordered := CPU
	reordered.Dimensions = []iotdm.Dimension{CPU.Dimensions[1], CPU.Dimensions[0]}

	t.Run("one minute", func(t *testing.T) {
		got := f.stats(t, iotdm.MetricRange{Metric: reordered, Start: T0, End: T0.Add(3 * time.Minute), Period: time.Minute})
		want := []iotdm.MetricBucket{
			bucket(T0, 2, 0, 0, 0, "None"),
			bucket(T0.Add(time.Minute), 2, 11, 1, 10, "None"),
			bucket(T0.Add(2*time.Minute), 2, 22, 2, 20, "None"),
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("MetricStatistics (-want +got):\n%s", diff)
		}
	})
	t.Run("five minutes aligned to the epoch", func(t *testing.T) {
		got := f.stats(t, iotdm.MetricRange{Metric: CPU, Start: T0, End: T0.Add(time.Hour), Period: 5 * time.Minute})
		want := []iotdm.MetricBucket{
			bucket(T0, 10, 110, 0, 40, "None"),
			bucket(T0.Add(5*time.Minute), 10, 385, 5, 90, "None"),
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("MetricStatistics (-want +got):\n%s", diff)
		}
	})
	t.Run("range excludes the end", func(t *testing.T) {
		got := f.stats(t, iotdm.MetricRange{Metric: CPU, Start: T0.Add(8 * time.Minute), End: T0.Add(9 * time.Minute), Period: time.Minute})
		if len(got) != 1 || !got[0].Timestamp.Equal(T0.Add(8*time.Minute)) {
			t.Errorf("MetricStatistics = %+v, want the 8th minute only", got)
		}
	})
	t.Run("start rounds up to the second", func(t *testing.T) {
		got := f.stats(t, iotdm.MetricRange{Metric: CPU, Start: T0.Add(time.Millisecond), End: T0.Add(2 * time.Minute), Period: time.Minute})
		if len(got) != 1 || !got[0].Timestamp.Equal(T0.Add(time.Minute)) {
			t.Errorf("MetricStatistics = %+v, want the 2nd minute only", got)
		}
	})
	t.Run("empty range", func(t *testing.T) {
		if got := f.stats(t, iotdm.MetricRange{Metric: CPU, Start: T0.Add(time.Hour), End: T0, Period: time.Minute}); len(got) != 0 {
			t.Errorf("MetricStatistics(end before start) = %+v, want none", got)
		}
	})
	t.Run("other dimensions are another metric", func(t *testing.T) {
		other := CPU
		other.Dimensions = CPU.Dimensions[:1]
		if got := f.stats(t, iotdm.MetricRange{Metric: other, Start: T0, End: T0.Add(time.Hour), Period: time.Minute}); len(got) != 0 {
			t.Errorf("MetricStatistics(fewer dimensions) = %+v, want none", got)
		}
	})
	t.Run("exact percentiles", func(t *testing.T) {
		got := f.stats(t, iotdm.MetricRange{Metric: CPU, Start: T0, End: T0.Add(10 * time.Minute), Period: 10 * time.Minute,
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

func testUnitsAreKeptApart(t *testing.T, open Opener) {
	f := newFixture(t, open)
	p1 := Val(CPU, T0, 1)
	p1.Unit = "Percent"
	p2 := Val(CPU, T0.Add(time.Second), 2)
	p2.Unit = "Count"
	p3 := Val(CPU, T0.Add(2*time.Second), 3) // no unit: None
	f.put(t, p1, p2, p3)
	r := iotdm.MetricRange{Metric: CPU, Start: T0, End: T0.Add(time.Minute), Period: time.Minute}
	want := []iotdm.MetricBucket{
		bucket(T0, 1, 2, 2, 2, "Count"),
		bucket(T0, 1, 3, 3, 3, "None"),
		bucket(T0, 1, 1, 1, 1, "Percent"),
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
	// Two units over two minutes: ordered by time, then unit.
	p4 := Val(CPU, T0.Add(time.Minute), 4)
	p4.Unit = "Count"
	f.put(t, p4, Val(CPU, T0.Add(time.Minute), 5))
	r = iotdm.MetricRange{Metric: CPU, Start: T0, End: T0.Add(2 * time.Minute), Period: time.Minute}
	want = append(want, bucket(T0.Add(time.Minute), 1, 4, 4, 4, "Count"), bucket(T0.Add(time.Minute), 1, 5, 5, 5, "None"))
	if diff := cmp.Diff(want, f.stats(t, r)); diff != "" {
		t.Errorf("two minutes (-want +got):\n%s", diff)
	}
}

func testStatisticSetsAndCounts(t *testing.T, open Opener) {
	f := newFixture(t, open)
	seven := 7.0
	f.put(t,
		iotdm.MetricPoint{Metric: CPU, Timestamp: T0, Stats: &iotdm.StatisticSet{SampleCount: 4, Sum: 10, Minimum: 1, Maximum: 4}},
		iotdm.MetricPoint{Metric: CPU, Timestamp: T0, Value: &seven, Count: 3},
		iotdm.MetricPoint{Metric: CPU, Timestamp: T0, Stats: &iotdm.StatisticSet{SampleCount: 2, Sum: 10, Minimum: 5, Maximum: 5}},
	)
	got := f.stats(t, iotdm.MetricRange{Metric: CPU, Start: T0, End: T0.Add(time.Minute), Period: time.Minute, Percentiles: []float64{50, 99}})
	// Percentiles see 7×3 and 5×2: the statistic set with Minimum ≠ Maximum
	// has no known values.
	want := []iotdm.MetricBucket{{Timestamp: T0, SampleCount: 9, Sum: 41, Minimum: 1, Maximum: 7, Unit: "None",
		Percentiles: map[float64]float64{50: 7, 99: 7}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("MetricStatistics (-want +got):\n%s", diff)
	}
	// A bucket with no known value has no percentiles.
	other := iotdm.Metric{Namespace: "Fleet", MetricName: "Sets"}
	f.put(t, iotdm.MetricPoint{Metric: other, Timestamp: T0, Stats: &iotdm.StatisticSet{SampleCount: 4, Sum: 10, Minimum: 1, Maximum: 4}})
	got = f.stats(t, iotdm.MetricRange{Metric: other, Start: T0, End: T0.Add(time.Minute), Period: time.Minute, Percentiles: []float64{50}})
	want = []iotdm.MetricBucket{{Timestamp: T0, SampleCount: 4, Sum: 10, Minimum: 1, Maximum: 4, Unit: "None", Percentiles: map[float64]float64{}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("statistic set only (-want +got):\n%s", diff)
	}
}

func testPercentilesPastTheExactSample(t *testing.T, open Opener) {
	f := newFixture(t, open)
	rng := rand.New(rand.NewPCG(1, 2))
	var vals []float64
	var pts []iotdm.MetricPoint
	for i := range 20000 {
		v := math.Exp(rng.NormFloat64()*2) * 100 // log-normal, five decades
		if i%10 == 0 {
			v = -v
		}
		vals = append(vals, v)
		pts = append(pts, Val(CPU, T0.Add(time.Duration(i%60)*time.Second), v))
		if len(pts) == 1000 {
			f.put(t, pts...)
			pts = pts[:0]
		}
	}
	sort.Float64s(vals)
	ps := []float64{1, 5, 25, 50, 75, 90, 99, 99.9}
	got := f.stats(t, iotdm.MetricRange{Metric: CPU, Start: T0, End: T0.Add(time.Minute), Period: time.Minute, Percentiles: ps})
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

func testHighResolution(t *testing.T, open Opener) {
	f := newFixture(t, open)
	f.now = T0.Add(10 * time.Minute)
	var pts []iotdm.MetricPoint
	for s := range 120 {
		p := Val(CPU, T0.Add(time.Duration(s)*time.Second), float64(s))
		p.HighResolution = true
		pts = append(pts, p)
	}
	f.put(t, append(pts, Val(CPU, T0.Add(30*time.Second), 1000))...) // a standard one in the first minute
	r := iotdm.MetricRange{Metric: CPU, Start: T0, End: T0.Add(2 * time.Minute), Period: 10 * time.Second}
	got := f.stats(t, r)
	if len(got) != 12 || !cmp.Equal(got[1], bucket(T0.Add(10*time.Second), 10, 145, 10, 19, "None")) {
		t.Errorf("10 s buckets = %+v", got)
	}
	r.Period = time.Minute
	want := []iotdm.MetricBucket{bucket(T0, 61, 1770+1000, 0, 1000, "None"), bucket(T0.Add(time.Minute), 60, 5370, 60, 119, "None")}
	if diff := cmp.Diff(want, f.stats(t, r)); diff != "" {
		t.Errorf("minute buckets (-want +got):\n%s", diff)
	}
	r.Percentiles = []float64{50}
	before := f.stats(t, r)

	// Three hours on, the seconds are rolled up into minutes: the same
	// minutes, and no more 10-second detail.
	f.now = T0.Add(3*time.Hour + 5*time.Minute)
	if err := f.ms.Expire(t.Context()); err != nil {
		t.Fatalf("Expire: %v", err)
	}
	if diff := cmp.Diff(before, f.stats(t, r)); diff != "" {
		t.Errorf("minute buckets after the roll-up (-before +after):\n%s", diff)
	}
	r.Period, r.Percentiles = 10*time.Second, nil
	if got := f.stats(t, r); len(got) != 2 || got[0].Timestamp != T0 || got[1].Timestamp != T0.Add(time.Minute) {
		t.Errorf("10 s buckets after the roll-up = %+v, want the two minutes", got)
	}
	// A second pass has nothing left to roll up.
	if err := f.ms.Expire(t.Context()); err != nil {
		t.Fatalf("Expire again: %v", err)
	}
	r.Period = time.Minute
	if diff := cmp.Diff(want, f.stats(t, r)); diff != "" {
		t.Errorf("minute buckets after a second pass (-want +got):\n%s", diff)
	}
}

func testRetention(t *testing.T, open Opener) {
	f := newFixture(t, open)
	old := iotdm.Metric{Namespace: "Fleet", MetricName: "Old"}
	f.now = T0
	f.put(t, Val(CPU, T0.Add(-20*time.Minute), 1), Val(CPU, T0, 2), Val(old, T0.Add(-20*time.Minute), 3))

	f.now = T0.Add(metricbucket.DefaultRetention).Add(-10 * time.Minute)
	if err := f.ms.Expire(t.Context()); err != nil {
		t.Fatalf("Expire: %v", err)
	}
	got := f.stats(t, iotdm.MetricRange{Metric: CPU, Start: T0.Add(-time.Hour), End: T0.Add(time.Hour), Period: time.Minute})
	if diff := cmp.Diff([]iotdm.MetricBucket{bucket(T0, 1, 2, 2, 2, "None")}, got); diff != "" {
		t.Errorf("after expiry (-want +got):\n%s", diff)
	}
	list, err := f.ms.ListMetrics(t.Context(), iotdm.MetricFilter{}, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]iotdm.Metric{sortedDims(CPU)}, list); diff != "" {
		t.Errorf("ListMetrics after expiry (-want +got):\n%s", diff)
	}
	// A new observation of an expired metric brings it back.
	f.put(t, Val(old, f.now, 4))
	if got := f.stats(t, iotdm.MetricRange{Metric: old, Start: T0.Add(-time.Hour), End: f.now.Add(time.Hour), Period: time.Hour}); len(got) != 1 || got[0].Sum != 4 {
		t.Errorf("re-created metric = %+v", got)
	}
	// Points older than the retention are dropped.
	f.put(t, Val(CPU, T0.Add(-time.Hour), 5))
	if got := f.stats(t, iotdm.MetricRange{Metric: CPU, Start: T0.Add(-2 * time.Hour), End: T0.Add(-time.Minute), Period: time.Minute}); len(got) != 0 {
		t.Errorf("point past the retention = %+v, want none", got)
	}
	// A store with a shorter retention.
	short := f.open(t, open, metricbucket.Options{Retention: time.Hour})
	if err := short.Expire(t.Context()); err != nil {
		t.Fatalf("Expire (1 h retention): %v", err)
	}
	if got := f.stats(t, iotdm.MetricRange{Metric: CPU, Start: T0.Add(-time.Hour), End: f.now.Add(time.Hour), Period: time.Minute}); len(got) != 0 {
		t.Errorf("after a 1 h retention = %+v, want none", got)
	}
	list, err = short.ListMetrics(t.Context(), iotdm.MetricFilter{}, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]iotdm.Metric{old}, list); diff != "" {
		t.Errorf("ListMetrics after a 1 h retention (-want +got):\n%s", diff)
	}
}

func testListMetrics(t *testing.T, open Opener) {
	f := newFixture(t, open)
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
		{Namespace: "a", MetricName: "x"}, // bytewise: lower case after upper case
	}
	for i, m := range metrics {
		p := Val(m, f.now.Add(-time.Duration(i)*time.Hour), 1)
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
		{"name", iotdm.MetricFilter{MetricName: "x"}, []iotdm.Metric{metrics[0], metrics[1], metrics[2], metrics[4], metrics[5]}},
		{"dimension with any value", iotdm.MetricFilter{Dimensions: []iotdm.DimensionFilter{{Name: "Site"}}}, metrics[1:4]},
		{"dimension value", iotdm.MetricFilter{Namespace: "A", Dimensions: []iotdm.DimensionFilter{{Name: "Site", Value: str("north")}}},
			[]iotdm.Metric{metrics[1], metrics[3]}},
		{"two dimensions", iotdm.MetricFilter{Dimensions: []iotdm.DimensionFilter{{Name: "Site"}, {Name: "Thing", Value: str("t1")}}}, metrics[2:3]},
		{"no such dimension value", iotdm.MetricFilter{Dimensions: []iotdm.DimensionFilter{{Name: "Site", Value: str("east")}}}, nil},
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
	pages := func(t *testing.T, filter iotdm.MetricFilter, size int) []iotdm.Metric {
		var got []iotdm.Metric
		var after *iotdm.Metric
		for {
			page, err := f.ms.ListMetrics(t.Context(), filter, after, size)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > size {
				t.Fatalf("page of %d metrics, want at most %d", len(page), size)
			}
			got = append(got, page...)
			if len(page) < size {
				return got
			}
			after = &page[len(page)-1]
		}
	}
	t.Run("pages", func(t *testing.T) {
		if diff := cmp.Diff(metrics, pages(t, iotdm.MetricFilter{}, 2), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("pages (-want +got):\n%s", diff)
		}
	})
	t.Run("filtered pages", func(t *testing.T) {
		filter := iotdm.MetricFilter{Dimensions: []iotdm.DimensionFilter{{Name: "Site"}}}
		if diff := cmp.Diff(metrics[1:4], pages(t, filter, 1), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("pages (-want +got):\n%s", diff)
		}
	})
	t.Run("after unordered dimensions", func(t *testing.T) {
		after := metrics[2]
		after.Dimensions = []iotdm.Dimension{after.Dimensions[1], after.Dimensions[0]}
		got, err := f.ms.ListMetrics(t.Context(), iotdm.MetricFilter{}, &after, 0)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(metrics[3:], got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("after %v (-want +got):\n%s", after, diff)
		}
	})
}

func testPutIsAllOrNothing(t *testing.T, open Opener) {
	f := newFixture(t, open)
	nan := math.NaN()
	one := 1.0
	for _, bad := range []iotdm.MetricPoint{
		{Metric: CPU, Timestamp: T0, Value: &nan},
		{Metric: CPU, Timestamp: T0},
		{Metric: CPU, Timestamp: T0, Value: &one, Stats: &iotdm.StatisticSet{SampleCount: 1, Sum: 1, Minimum: 1, Maximum: 1}},
		{Metric: CPU, Timestamp: T0, Stats: &iotdm.StatisticSet{SampleCount: 2, Sum: 1, Minimum: 2, Maximum: 1}},
		{Metric: iotdm.Metric{Namespace: "Fleet"}, Timestamp: T0, Value: &one},
		{Metric: CPU, Value: &one},
		{Metric: CPU, Timestamp: time.Unix(-1, 0), Value: &one},
	} {
		err := f.ms.PutMetricPoints(t.Context(), []iotdm.MetricPoint{Val(CPU, T0, 1), bad})
		if !iotdm.IsCode(err, iotdm.ErrInvalidParameterValue) {
			t.Errorf("PutMetricPoints(%+v) = %v, want InvalidParameterValue", bad, err)
		}
	}
	if got := f.stats(t, iotdm.MetricRange{Metric: CPU, Start: T0, End: T0.Add(time.Minute), Period: time.Minute}); len(got) != 0 {
		t.Errorf("after refused puts: %+v", got)
	}
	if err := f.ms.PutMetricPoints(t.Context(), nil); err != nil {
		t.Errorf("PutMetricPoints(nothing) = %v", err)
	}
}

func testInvalidQueries(t *testing.T, open Opener) {
	f := newFixture(t, open)
	for _, r := range []iotdm.MetricRange{
		{Metric: CPU, Start: T0, End: T0.Add(time.Hour), Period: 0},
		{Metric: CPU, Start: T0, End: T0.Add(time.Hour), Period: 1500 * time.Millisecond},
		{Metric: CPU, Start: T0, End: T0.Add(time.Hour), Period: time.Minute, Percentiles: []float64{101}},
		{Metric: CPU, Start: T0, End: T0.Add(time.Hour), Period: time.Minute, Percentiles: []float64{math.NaN()}},
	} {
		if _, err := f.ms.MetricStatistics(t.Context(), r); !iotdm.IsCode(err, iotdm.ErrInvalidParameterValue) {
			t.Errorf("MetricStatistics(%+v) = %v, want InvalidParameterValue", r, err)
		}
	}
}

// testReopen: a second store on the database finds the series the first
// one wrote, and adds to their buckets.
func testReopen(t *testing.T, open Opener) {
	f := newFixture(t, open)
	f.put(t, Val(CPU, T0, 1))
	if err := f.ms.Close(); err != nil {
		t.Fatal(err)
	}
	f.ms = f.open(t, open, metricbucket.Options{})
	f.put(t, Val(CPU, T0, 2))
	got := f.stats(t, iotdm.MetricRange{Metric: CPU, Start: T0, End: T0.Add(time.Minute), Period: time.Minute})
	if diff := cmp.Diff([]iotdm.MetricBucket{bucket(T0, 2, 3, 1, 2, "None")}, got); diff != "" {
		t.Errorf("after reopen (-want +got):\n%s", diff)
	}
}

func testClose(t *testing.T, open Opener) {
	f := newFixture(t, open)
	f.put(t, Val(CPU, T0, 1))
	if err := f.ms.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := f.ms.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := f.ms.PutMetricPoints(t.Context(), []iotdm.MetricPoint{Val(CPU, T0, 1)}); !errors.Is(err, iotdm.ErrClosed) {
		t.Errorf("PutMetricPoints after Close = %v, want ErrClosed", err)
	}
	if _, err := f.ms.MetricStatistics(t.Context(), iotdm.MetricRange{Metric: CPU, Start: T0, End: T0.Add(time.Minute), Period: time.Minute}); !errors.Is(err, iotdm.ErrClosed) {
		t.Errorf("MetricStatistics after Close = %v, want ErrClosed", err)
	}
	if _, err := f.ms.ListMetrics(t.Context(), iotdm.MetricFilter{}, nil, 0); !errors.Is(err, iotdm.ErrClosed) {
		t.Errorf("ListMetrics after Close = %v, want ErrClosed", err)
	}
}

func testExpiryLoopStopsOnClose(t *testing.T, open Opener) {
	ms := open(t, metricbucket.Options{Logger: Logger(t), ExpiryInterval: time.Millisecond})
	t.Cleanup(func() { ms.Close() })
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
