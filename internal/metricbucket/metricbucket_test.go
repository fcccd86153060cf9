package metricbucket

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/iotdm/iotdm"
)

func TestEncodeDecode(t *testing.T) {
	for _, tc := range []struct {
		name string
		add  func(s *Samples)
	}{
		{"none", func(*Samples) {}},
		{"values", func(s *Samples) { s.Add(1, 1); s.Add(-2.5, 1) }},
		{"weighted", func(s *Samples) { s.Add(1, 1); s.Add(3, 4) }},
		{"sketch", func(s *Samples) {
			for i := range 1000 {
				s.Add(float64(i)-300, 1)
			}
			s.Merge(&Samples{}, 10)
			o := Samples{}
			o.Add(0, 2)
			s.Merge(&o, 10)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s Samples
			tc.add(&s)
			if tc.name == "sketch" {
				var big Samples
				big.Merge(&s, 10)
				s = big
				if s.Exact() {
					t.Fatal("not a sketch")
				}
			}
			st := Stats{N: 3, Sum: 4.5, Min: -2.5, Max: 3}
			b := Encode(st, &s)
			gotSt, gotS, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if gotSt != st {
				t.Errorf("stats = %+v, want %+v", gotSt, st)
			}
			if !slices.Equal(gotS.AppendTo(nil), s.AppendTo(nil)) {
				t.Errorf("samples re-encode differently")
			}
			if only, err := DecodeStats(b[:StatsLen]); err != nil || only != st {
				t.Errorf("DecodeStats(prefix) = %+v %v", only, err)
			}
			for _, p := range []float64{0, 50, 100} {
				a, okA := s.Quantile(p, -1e9, 1e9)
				g, okG := gotS.Quantile(p, -1e9, 1e9)
				if a != g || okA != okG {
					t.Errorf("p%v = %v %v after decoding, want %v %v", p, g, okG, a, okA)
				}
			}
		})
	}
}

func TestDecodeCorrupt(t *testing.T) {
	good := Encode(Stats{N: 1, Sum: 1, Min: 1, Max: 1}, &Samples{vals: []float64{1}})
	for _, b := range [][]byte{
		nil,
		good[:StatsLen-1],
		append(slices.Clone(good[:StatsLen]), 'x'),
		good[:len(good)-1],
		append(slices.Clone(good[:StatsLen]), 'w', 1, 2, 3),
		append(slices.Clone(good[:StatsLen]), 's', 1),
	} {
		if _, _, err := Decode(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Decode(%x) = %v, want ErrCorrupt", b, err)
		}
	}
	if _, err := Merge(good, good[:3]); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Merge(corrupt) = %v, want ErrCorrupt", err)
	}
}

func TestMerge(t *testing.T) {
	var a, b Samples
	a.Add(1, 1)
	a.Add(2, 1)
	b.Add(2, 3)
	merged, err := Merge(Encode(Stats{N: 2, Sum: 3, Min: 1, Max: 2}, &a), Encode(Stats{N: 3, Sum: 6, Min: 2, Max: 2}, &b))
	if err != nil {
		t.Fatal(err)
	}
	st, s, err := Decode(merged)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Stats{N: 5, Sum: 9, Min: 1, Max: 2}); st != want {
		t.Errorf("stats = %+v, want %+v", st, want)
	}
	// 1, 2, 2, 2, 2: p20 is 1, p40 is 2.
	for p, want := range map[float64]float64{20: 1, 40: 2, 100: 2} {
		if got, ok := s.Quantile(p, st.Min, st.Max); !ok || got != want {
			t.Errorf("p%v = %v %v, want %v", p, got, ok, want)
		}
	}
	// An empty bucket merges as nothing.
	var empty Stats
	empty.Add(st)
	if empty != st {
		t.Errorf("empty.Add = %+v, want %+v", empty, st)
	}
}

// TestMergePastTheCap: equal values are counted, not kept twice, before the
// samples become a sketch.
func TestMergePastTheCap(t *testing.T) {
	var s Samples
	for range 3 {
		var o Samples
		for i := range MaxExactSamples {
			o.Add(float64(i), 1)
		}
		s.Merge(&o, MaxExactSamples)
	}
	if !s.Exact() || len(s.vals) != MaxExactSamples {
		t.Fatalf("after merging %d distinct values thrice: exact %v, %d values", MaxExactSamples, s.Exact(), len(s.vals))
	}
	var o Samples
	o.Add(1e6, 1)
	s.Merge(&o, MaxExactSamples)
	if s.Exact() {
		t.Fatal("one more distinct value: still exact")
	}
	if got, _ := s.Quantile(100, 0, 1e6); math.Abs(got-1e6) > 0.01*1e6 {
		t.Errorf("p100 = %v, want 1e6 within 1%%", got)
	}
}

func TestSketchAccuracy(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var vals []float64
	var s Samples
	for i := range 50000 {
		v := math.Exp(rng.NormFloat64()*3) * 10
		switch i % 7 {
		case 0:
			v = -v
		case 1:
			v = 0
		}
		vals = append(vals, v)
		var o Samples
		o.Add(v, 1)
		s.Merge(&o, 64)
	}
	slices.Sort(vals)
	for _, p := range []float64{0.1, 1, 10, 14.3, 20, 50, 90, 99, 99.99, 100} {
		exact := vals[max(int(math.Ceil(p/100*float64(len(vals))))-1, 0)]
		got, ok := s.Quantile(p, vals[0], vals[len(vals)-1])
		if !ok || math.Abs(got-exact) > 0.0101*math.Abs(exact) {
			t.Errorf("p%v = %v, want %v within 1%%", p, got, exact)
		}
	}
}

func TestNewBatch(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	one, two := 1.0, 2.0
	m := iotdm.Metric{Namespace: "N", MetricName: "M", Dimensions: []iotdm.Dimension{{Name: "b", Value: "1"}, {Name: "a", Value: "2"}}}
	reordered := m
	reordered.Dimensions = []iotdm.Dimension{m.Dimensions[1], m.Dimensions[0]}
	b, err := NewBatch([]iotdm.MetricPoint{
		{Metric: m, Timestamp: t0.Add(5 * time.Second), Value: &one},
		{Metric: reordered, Timestamp: t0.Add(59 * time.Second), Value: &two, Count: 2},
		{Metric: m, Timestamp: t0.Add(5 * time.Second), Value: &one, HighResolution: true},
		{Metric: m, Timestamp: t0.Add(time.Minute), Value: &one, Unit: "Count"},
		{Metric: m, Timestamp: t0.Add(-time.Hour), Value: &one}, // before the cutoff
	}, t0.Add(-30*time.Minute).Unix())
	if err != nil {
		t.Fatal(err)
	}
	dims := `[{"Name":"a","Value":"2"},{"Name":"b","Value":"1"}]`
	wantSeries := []Series{
		{Key: SeriesKey("N", "M", dims, "None"), Namespace: "N", Name: "M", Dims: dims, Unit: "None", Last: t0.Unix() + 5}, // the second bucket
		{Key: SeriesKey("N", "M", dims, "Count"), Namespace: "N", Name: "M", Dims: dims, Unit: "Count", Last: t0.Add(time.Minute).Unix()},
	}
	if diff := cmp.Diff(wantSeries, b.Series); diff != "" {
		t.Errorf("series (-want +got):\n%s", diff)
	}
	if len(b.Rows) != 3 {
		t.Fatalf("rows = %+v, want 3", b.Rows)
	}
	if r := b.Rows[0]; r.Series != 0 || r.Start != t0.Unix() || r.HighResolution || r.Stats != (Stats{N: 3, Sum: 5, Min: 1, Max: 2}) {
		t.Errorf("minute row = %+v", r)
	}
	if r := b.Rows[1]; r.Series != 0 || r.Start != t0.Unix()+5 || !r.HighResolution {
		t.Errorf("second row = %+v", r)
	}
	_, s, err := Decode(b.Rows[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Quantile(50, 1, 2); p != 2 {
		t.Errorf("p50 of 1, 2, 2 = %v, want 2", p)
	}
}

func TestNewQuery(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	q, ok, err := NewQuery(iotdm.MetricRange{Metric: iotdm.Metric{Namespace: "N", MetricName: "M"}, Start: t0.Add(-time.Nanosecond), End: t0.Add(time.Hour), Period: time.Minute, Unit: "Count"})
	if err != nil || !ok || q.Start != t0.Unix() || q.End != t0.Add(time.Hour).Unix() || q.Period != 60 || q.Unit != "Count" || q.WithSamples() {
		t.Errorf("NewQuery = %+v %v %v", q, ok, err)
	}
	if _, ok, err := NewQuery(iotdm.MetricRange{Start: t0, End: t0, Period: time.Minute}); ok || err != nil {
		t.Errorf("empty range: ok %v, %v", ok, err)
	}
	if _, ok, err := NewQuery(iotdm.MetricRange{Start: time.Unix(-100, 0), End: time.Unix(0, 0), Period: time.Minute}); ok || err != nil {
		t.Errorf("range before the epoch: ok %v, %v", ok, err)
	}
}

func TestAggregatorAnyOrder(t *testing.T) {
	q := Query{Start: 0, End: 600, Period: 120, Percentiles: []float64{100}}
	pack := func(v float64) []byte {
		var s Samples
		s.Add(v, 1)
		return Encode(Stats{N: 1, Sum: v, Min: v, Max: v}, &s)
	}
	in := []int64{0, 60, 120, 300, 480, 61, 130, 5, 540, 310}
	want := q.NewAggregator()
	sorted := slices.Clone(in)
	slices.Sort(sorted)
	for _, ts := range sorted {
		if err := want.Add(ts, pack(float64(ts))); err != nil {
			t.Fatal(err)
		}
	}
	got := q.NewAggregator()
	for _, ts := range in {
		if err := got.Add(ts, pack(float64(ts))); err != nil {
			t.Fatal(err)
		}
	}
	w, g := want.AppendBuckets(nil, "None"), got.AppendBuckets(nil, "None")
	if diff := cmp.Diff(w, g); diff != "" {
		t.Errorf("out of order (-in order +out of order):\n%s", diff)
	}
	if len(g) != 4 || g[0].SampleCount != 4 || g[0].Percentiles[100] != 61 {
		t.Errorf("buckets = %+v", g)
	}
	if err := got.Add(0, []byte{1}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Add(corrupt) = %v", err)
	}
}

func TestRollup(t *testing.T) {
	var r Rollup[int64]
	for _, ts := range []int64{61, 0, 62, 1} {
		var s Samples
		s.Add(float64(ts), 1)
		if err := r.Add(ts-ts%60, Encode(Stats{N: 1, Sum: float64(ts), Min: float64(ts), Max: float64(ts)}, &s)); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(r.Keys(), []int64{60, 0}) || r.Len() != 2 {
		t.Fatalf("keys = %v", r.Keys())
	}
	st, _, err := Decode(r.Encode(60))
	if err != nil || st != (Stats{N: 2, Sum: 123, Min: 61, Max: 62}) {
		t.Errorf("minute 60 = %+v %v", st, err)
	}
	if r.Encode(120) != nil {
		t.Error("Encode(absent) != nil")
	}
}

func TestSeriesCache(t *testing.T) {
	var c SeriesCache
	if _, ok := c.Lookup("k", 100, 0); ok {
		t.Fatal("empty cache found k")
	}
	c.Remember("k", 7, 1000)
	for _, tc := range []struct {
		last, notBefore int64
		ok              bool
	}{
		{1000, 0, true},
		{1000 + LastSlack, 0, true},
		{1001 + LastSlack, 0, false},
		{900, 1000, true},
		{900, 1001, false},
	} {
		if id, ok := c.Lookup("k", tc.last, tc.notBefore); ok != tc.ok || ok && id != 7 {
			t.Errorf("Lookup(k, %d, %d) = %d %v, want %v", tc.last, tc.notBefore, id, ok, tc.ok)
		}
	}
	c.Remember("k", 7, 900) // older: kept as is
	if _, ok := c.Lookup("k", 1000+LastSlack, 0); !ok {
		t.Error("an older Remember moved the recorded last back")
	}
	c.Clear()
	if _, ok := c.Lookup("k", 1000, 0); ok {
		t.Error("found k after Clear")
	}
}

func TestDims(t *testing.T) {
	dims := []iotdm.Dimension{{Name: "b", Value: "x"}, {Name: "a", Value: "é\"\x00"}}
	s := CanonicalDims(dims)
	got, err := ParseDims(s)
	if err != nil {
		t.Fatal(err)
	}
	if want := []iotdm.Dimension{dims[1], dims[0]}; !cmp.Equal(got, want) {
		t.Errorf("ParseDims(CanonicalDims) = %v, want %v", got, want)
	}
	if CanonicalDims(nil) != "" {
		t.Error("CanonicalDims(nil) != \"\"")
	}
	if _, err := ParseDims("[oops"); err == nil {
		t.Error("ParseDims(bad) succeeded")
	}
	v := "x"
	if !DimsMatch(dims, []iotdm.DimensionFilter{{Name: "a"}, {Name: "b", Value: &v}}) || DimsMatch(dims, []iotdm.DimensionFilter{{Name: "c"}}) {
		t.Error("DimsMatch")
	}
	if StoredUnit("") != "None" || StoredUnit("Count") != "Count" {
		t.Error("StoredUnit")
	}
}

func TestOptions(t *testing.T) {
	o := Options{}.WithDefaults()
	if o.Retention != DefaultRetention || o.HighResolutionRetention != DefaultHighResolutionRetention || o.ExpiryInterval != DefaultExpiryInterval || o.Now == nil || o.Logger == nil {
		t.Errorf("defaults = %+v", o)
	}
	now := time.Unix(1_000_000, 0)
	if o.Cutoff(now) != now.Add(-DefaultRetention).Unix() || o.HighResolutionCutoff(now) != now.Add(-3*time.Hour).Unix() {
		t.Error("cutoffs")
	}
	if ListSince(100, time.Time{}) != 100 || ListSince(100, time.Unix(1000, 0)) != 960 || ListSince(5000, time.Unix(1000, 0)) != 5000 {
		t.Error("ListSince")
	}
	if !SeriesExpired(1000, 1000+LastSlack+60) || SeriesExpired(1001, 1000+LastSlack+60) {
		t.Error("SeriesExpired")
	}
}
