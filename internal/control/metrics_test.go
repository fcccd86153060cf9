package control_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/control"
	"github.com/iotdm/iotdm/internal/sqlite"
)

// cwFixture is the CloudWatch metrics service over a real SQLite metric
// store, with a clock the test sets.
type cwFixture struct {
	now     time.Time
	metrics *control.Metrics
}

// cwNow is a minute boundary.
var cwNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newCWFixture(t testing.TB) *cwFixture {
	t.Helper()
	f := &cwFixture{now: cwNow}
	clock := func() time.Time { return f.now }
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "m.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := sqlite.OpenMetricStore(context.Background(), db, sqlite.MetricOptions{ExpiryInterval: -1, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ms.Close(); err != nil {
			t.Error(err)
		}
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	f.metrics = control.NewMetrics(ms, control.MetricsOptions{Now: clock})
	return f
}

func cwF(v float64) *float64                { return &v }
func cwI(v int32) *int32                    { return &v }
func cwTS(t time.Time) *iotdm.Timestamp     { return &iotdm.Timestamp{Time: t} }
func cwStr(s string) *string                { return &s }
func cwAt(minutes int) *iotdm.Timestamp     { return cwTS(cwNow.Add(time.Duration(minutes) * time.Minute)) }
func cwDims(kv ...string) []iotdm.Dimension { return dimsOf(kv) }

func dimsOf(kv []string) []iotdm.Dimension {
	var ds []iotdm.Dimension
	for i := 0; i+1 < len(kv); i += 2 {
		ds = append(ds, iotdm.Dimension{Name: kv[i], Value: kv[i+1]})
	}
	return ds
}

func (f *cwFixture) put(t *testing.T, ns string, data ...iotdm.MetricDatum) {
	t.Helper()
	if _, err := f.metrics.PutMetricData(t.Context(), &iotdm.PutMetricDataInput{Namespace: ns, MetricData: data}); err != nil {
		t.Fatalf("PutMetricData: %v", err)
	}
}

// temps puts Temperature of thing t1: value i*10 at minute -60+i, for i
// in [0, 60).
func (f *cwFixture) temps(t *testing.T) {
	t.Helper()
	var data []iotdm.MetricDatum
	for i := range 60 {
		data = append(data, iotdm.MetricDatum{MetricName: "Temperature", Dimensions: cwDims("Thing", "t1"),
			Timestamp: cwAt(-60 + i), Value: cwF(float64(i * 10)), Unit: "Count"})
	}
	f.put(t, "Fleet", data...)
}

func TestPutMetricDataAndGetMetricStatistics(t *testing.T) {
	f := newCWFixture(t)
	f.put(t, "Fleet",
		iotdm.MetricDatum{MetricName: "Latency", Dimensions: cwDims("Thing", "t1"), Timestamp: cwAt(-10), Value: cwF(10), Unit: "Milliseconds"},
		iotdm.MetricDatum{MetricName: "Latency", Dimensions: cwDims("Thing", "t1"), Timestamp: cwAt(-9),
			Values: []float64{20, 30}, Counts: []float64{2, 1}, Unit: "Milliseconds"},
		iotdm.MetricDatum{MetricName: "Latency", Dimensions: cwDims("Thing", "t1"), Timestamp: cwAt(-5),
			StatisticValues: &iotdm.StatisticSet{SampleCount: 4, Sum: 400, Minimum: 100, Maximum: 100}, Unit: "Milliseconds"},
		// No timestamp: now.
		iotdm.MetricDatum{MetricName: "Latency", Dimensions: cwDims("Thing", "t1"), Value: cwF(1), Unit: "Milliseconds"},
	)
	out, err := f.metrics.GetMetricStatistics(t.Context(), &iotdm.GetMetricStatisticsInput{
		Namespace: "Fleet", MetricName: "Latency", Dimensions: cwDims("Thing", "t1"),
		StartTime: cwAt(-10), EndTime: cwAt(1), Period: cwI(300),
		Statistics: []string{"SampleCount", "Average", "Sum", "Minimum", "Maximum"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := &iotdm.GetMetricStatisticsOutput{Label: "Latency", Datapoints: []iotdm.Datapoint{
		{Timestamp: *cwAt(-10), SampleCount: cwF(4), Average: cwF(80.0 / 4), Sum: cwF(80), Minimum: cwF(10), Maximum: cwF(30), Unit: "Milliseconds"},
		{Timestamp: *cwAt(-5), SampleCount: cwF(4), Average: cwF(100), Sum: cwF(400), Minimum: cwF(100), Maximum: cwF(100), Unit: "Milliseconds"},
		{Timestamp: *cwAt(0), SampleCount: cwF(1), Average: cwF(1), Sum: cwF(1), Minimum: cwF(1), Maximum: cwF(1), Unit: "Milliseconds"},
	}}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("GetMetricStatistics (-want +got):\n%s", diff)
	}

	t.Run("percentiles", func(t *testing.T) {
		out, err := f.metrics.GetMetricStatistics(t.Context(), &iotdm.GetMetricStatisticsInput{
			Namespace: "Fleet", MetricName: "Latency", Dimensions: cwDims("Thing", "t1"),
			StartTime: cwAt(-10), EndTime: cwAt(0), Period: cwI(600), ExtendedStatistics: []string{"p50", "p99.9"},
		})
		if err != nil {
			t.Fatal(err)
		}
		// Values 10, 20, 20, 30, 100×4.
		want := []iotdm.Datapoint{{Timestamp: *cwAt(-10), Unit: "Milliseconds", ExtendedStatistics: map[string]float64{"p50": 30, "p99.9": 100}}}
		if diff := cmp.Diff(want, out.Datapoints); diff != "" {
			t.Errorf("datapoints (-want +got):\n%s", diff)
		}
	})
	t.Run("unit filter", func(t *testing.T) {
		out, err := f.metrics.GetMetricStatistics(t.Context(), &iotdm.GetMetricStatisticsInput{
			Namespace: "Fleet", MetricName: "Latency", Dimensions: cwDims("Thing", "t1"),
			StartTime: cwAt(-10), EndTime: cwAt(1), Period: cwI(660), Statistics: []string{"Sum"}, Unit: "Seconds",
		})
		if err != nil || len(out.Datapoints) != 0 {
			t.Errorf("GetMetricStatistics(Unit Seconds) = %+v, %v; want no datapoints", out, err)
		}
	})
	t.Run("start rounded down to the minute", func(t *testing.T) {
		out, err := f.metrics.GetMetricStatistics(t.Context(), &iotdm.GetMetricStatisticsInput{
			Namespace: "Fleet", MetricName: "Latency", Dimensions: cwDims("Thing", "t1"),
			StartTime: cwTS(cwNow.Add(-10*time.Minute + 30*time.Second)), EndTime: cwAt(-9), Period: cwI(60), Statistics: []string{"Sum"},
		})
		if err != nil || len(out.Datapoints) != 1 || *out.Datapoints[0].Sum != 10 {
			t.Errorf("GetMetricStatistics = %+v, %v; want the minute at -10 with Sum 10", out, err)
		}
	})
}

func TestPutMetricDataErrors(t *testing.T) {
	f := newCWFixture(t)
	ok := func() iotdm.MetricDatum { return iotdm.MetricDatum{MetricName: "m", Value: cwF(1)} }
	with := func(fn func(d *iotdm.MetricDatum)) []iotdm.MetricDatum {
		d := ok()
		fn(&d)
		return []iotdm.MetricDatum{ok(), d}
	}
	many := make([]iotdm.MetricDatum, 1001)
	for i := range many {
		many[i] = ok()
	}
	tests := []struct {
		name string
		ns   string
		data []iotdm.MetricDatum
		code iotdm.ErrorCode
		msg  string
	}{
		{"no namespace", "", []iotdm.MetricDatum{ok()}, iotdm.ErrMissingParameter, "The parameter Namespace is required."},
		{"AWS namespace", "AWS/EC2", []iotdm.MetricDatum{ok()}, iotdm.ErrInvalidParameterValue, "The value AWS/EC2 for parameter Namespace is invalid."},
		{"namespace too long", strings.Repeat("n", 256), []iotdm.MetricDatum{ok()}, iotdm.ErrValidationError, "at 'namespace'"},
		{"colon namespace", ":x", []iotdm.MetricDatum{ok()}, iotdm.ErrValidationError, "regular expression pattern: [^:].*"},
		{"no data", "ns", nil, iotdm.ErrMissingParameter, "The parameter MetricData is required."},
		{"too much data", "ns", many, iotdm.ErrInvalidParameterValue, "The collection MetricData must not have a size greater than 1000."},
		{"no metric name", "ns", with(func(d *iotdm.MetricDatum) { d.MetricName = "" }), iotdm.ErrMissingParameter,
			"The parameter MetricData.member.2.MetricName is required."},
		{"NaN", "ns", with(func(d *iotdm.MetricDatum) { d.Value = cwF(math.NaN()) }), iotdm.ErrInvalidParameterValue,
			"The value NaN for parameter MetricData.member.2.Value is invalid."},
		{"too large", "ns", with(func(d *iotdm.MetricDatum) { d.Value = cwF(math.Ldexp(1, 361)) }), iotdm.ErrInvalidParameterValue,
			"for parameter MetricData.member.2.Value is invalid."},
		{"infinite in Values", "ns", with(func(d *iotdm.MetricDatum) { d.Value, d.Values = nil, []float64{1, math.Inf(1)} }), iotdm.ErrInvalidParameterValue,
			"The value Infinity for parameter MetricData.member.2.Values.member.2 is invalid."},
		{"value and statistics", "ns", with(func(d *iotdm.MetricDatum) { d.StatisticValues = &iotdm.StatisticSet{SampleCount: 1} }),
			iotdm.ErrInvalidParameterCombination,
			"The parameters MetricData.member.2.Value and MetricData.member.2.StatisticValues are mutually exclusive and you have specified both."},
		{"value and values", "ns", with(func(d *iotdm.MetricDatum) { d.Values = []float64{1} }), iotdm.ErrInvalidParameterCombination,
			"The parameters MetricData.member.2.Value and MetricData.member.2.Values are mutually exclusive"},
		{"nothing", "ns", with(func(d *iotdm.MetricDatum) { d.Value = nil }), iotdm.ErrInvalidParameterCombination,
			"At least one of the parameters MetricData.member.2.Value, MetricData.member.2.Values and MetricData.member.2.StatisticValues must be specified."},
		{"counts without values", "ns", with(func(d *iotdm.MetricDatum) { d.Counts = []float64{1} }), iotdm.ErrInvalidParameterCombination,
			"Counts can only be specified with MetricData.member.2.Values."},
		{"counts of another size", "ns", with(func(d *iotdm.MetricDatum) { d.Value, d.Values, d.Counts = nil, []float64{1, 2}, []float64{1} }),
			iotdm.ErrInvalidParameterValue, "The parameters MetricData.member.2.Values and MetricData.member.2.Counts must be of the same size."},
		{"151 values", "ns", with(func(d *iotdm.MetricDatum) { d.Value, d.Values = nil, make([]float64, 151) }), iotdm.ErrInvalidParameterValue,
			"The collection MetricData.member.2.Values must not have a size greater than 150."},
		{"negative count", "ns", with(func(d *iotdm.MetricDatum) { d.Value, d.Values, d.Counts = nil, []float64{1}, []float64{-1} }),
			iotdm.ErrInvalidParameterValue, "The value -1 for parameter MetricData.member.2.Counts.member.1 is invalid."},
		{"zero sample count", "ns", with(func(d *iotdm.MetricDatum) {
			d.Value, d.StatisticValues = nil, &iotdm.StatisticSet{SampleCount: 0, Sum: 1, Minimum: 1, Maximum: 1}
		}), iotdm.ErrInvalidParameterValue, "MetricData.member.2.StatisticValues.SampleCount is invalid"},
		{"minimum over maximum", "ns", with(func(d *iotdm.MetricDatum) {
			d.Value, d.StatisticValues = nil, &iotdm.StatisticSet{SampleCount: 2, Sum: 1, Minimum: 3, Maximum: 1}
		}), iotdm.ErrInvalidParameterValue, "StatisticValues.Minimum must not be greater than"},
		{"old", "ns", with(func(d *iotdm.MetricDatum) { d.Timestamp = cwTS(cwNow.Add(-15 * 24 * time.Hour)) }), iotdm.ErrInvalidParameterValue,
			"The parameter MetricData.member.2.Timestamp must specify a time within the past two weeks."},
		{"future", "ns", with(func(d *iotdm.MetricDatum) { d.Timestamp = cwTS(cwNow.Add(3 * time.Hour)) }), iotdm.ErrInvalidParameterValue,
			"The parameter MetricData.member.2.Timestamp must specify a time no more than two hours in the future."},
		{"unit", "ns", with(func(d *iotdm.MetricDatum) { d.Unit = "Furlongs" }), iotdm.ErrInvalidParameterValue,
			"The parameter MetricData.member.2.Unit must be a value in the set [ Seconds, Microseconds,"},
		{"storage resolution", "ns", with(func(d *iotdm.MetricDatum) { d.StorageResolution = cwI(30) }), iotdm.ErrInvalidParameterValue,
			"The value 30 for parameter MetricData.member.2.StorageResolution is invalid."},
		{"31 dimensions", "ns", with(func(d *iotdm.MetricDatum) {
			for i := range 31 {
				d.Dimensions = append(d.Dimensions, iotdm.Dimension{Name: fmt.Sprint("d", i), Value: "v"})
			}
		}), iotdm.ErrInvalidParameterValue, "The collection MetricData.member.2.Dimensions must not have a size greater than 30."},
		{"empty dimension value", "ns", with(func(d *iotdm.MetricDatum) { d.Dimensions = cwDims("a", "") }), iotdm.ErrValidationError,
			"at 'metricData.member.2.dimensions.member.1.value' failed to satisfy constraint: Member must have length between 1 and 1024"},
		{"repeated dimension", "ns", with(func(d *iotdm.MetricDatum) { d.Dimensions = cwDims("a", "1", "a", "2") }), iotdm.ErrInvalidParameterValue,
			"The dimension name a appears more than once"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.metrics.PutMetricData(t.Context(), &iotdm.PutMetricDataInput{Namespace: tt.ns, MetricData: tt.data})
			var e *iotdm.Error
			if !errors.As(err, &e) || e.Code != tt.code || !strings.Contains(e.Message, tt.msg) {
				t.Errorf("PutMetricData = %v, want %s %q", err, tt.code, tt.msg)
			}
		})
	}
	t.Run("nothing stored after a refusal", func(t *testing.T) {
		list, err := f.metrics.ListMetrics(t.Context(), &iotdm.ListMetricsInput{})
		if err != nil || len(list.Metrics) != 0 {
			t.Errorf("ListMetrics = %+v, %v; want none", list, err)
		}
	})
}

func TestGetMetricStatisticsErrors(t *testing.T) {
	f := newCWFixture(t)
	base := func() *iotdm.GetMetricStatisticsInput {
		return &iotdm.GetMetricStatisticsInput{Namespace: "Fleet", MetricName: "m", StartTime: cwAt(-60), EndTime: cwAt(0),
			Period: cwI(60), Statistics: []string{"Sum"}}
	}
	tests := []struct {
		name string
		edit func(in *iotdm.GetMetricStatisticsInput)
		code iotdm.ErrorCode
		msg  string
	}{
		{"no namespace", func(in *iotdm.GetMetricStatisticsInput) { in.Namespace = "" }, iotdm.ErrMissingParameter, "The parameter Namespace is required."},
		{"no metric name", func(in *iotdm.GetMetricStatisticsInput) { in.MetricName = "" }, iotdm.ErrMissingParameter, "The parameter MetricName is required."},
		{"no start", func(in *iotdm.GetMetricStatisticsInput) { in.StartTime = nil }, iotdm.ErrMissingParameter, "The parameter StartTime is required."},
		{"no period", func(in *iotdm.GetMetricStatisticsInput) { in.Period = nil }, iotdm.ErrMissingParameter, "The parameter Period is required."},
		{"period 0", func(in *iotdm.GetMetricStatisticsInput) { in.Period = cwI(0) }, iotdm.ErrValidationError,
			"Value '0' at 'period' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"period 90", func(in *iotdm.GetMetricStatisticsInput) { in.Period = cwI(90) }, iotdm.ErrInvalidParameterValue,
			"The parameter Period must be 1, 5, 10, 30 or a multiple of 60."},
		{"no statistics", func(in *iotdm.GetMetricStatisticsInput) { in.Statistics = nil }, iotdm.ErrInvalidParameterCombination,
			"At least one of the parameters Statistics and ExtendedStatistics must be specified."},
		{"both statistics", func(in *iotdm.GetMetricStatisticsInput) { in.ExtendedStatistics = []string{"p99"} }, iotdm.ErrInvalidParameterCombination,
			"mutually exclusive"},
		{"bad statistic", func(in *iotdm.GetMetricStatisticsInput) { in.Statistics = []string{"Median"} }, iotdm.ErrValidationError,
			"Value 'Median' at 'statistics.member.1' failed to satisfy constraint: Member must satisfy enum value set"},
		{"trimmed mean", func(in *iotdm.GetMetricStatisticsInput) { in.Statistics, in.ExtendedStatistics = nil, []string{"tm90"} },
			iotdm.ErrInvalidParameterValue, "The value tm90 for parameter ExtendedStatistics is not supported."},
		{"bad unit", func(in *iotdm.GetMetricStatisticsInput) { in.Unit = "Furlongs" }, iotdm.ErrValidationError, "at 'unit'"},
		{"end before start", func(in *iotdm.GetMetricStatisticsInput) { in.EndTime = cwAt(-61) }, iotdm.ErrInvalidParameterValue,
			"The parameter StartTime must be less than the parameter EndTime."},
		{"too many datapoints", func(in *iotdm.GetMetricStatisticsInput) { in.StartTime = cwAt(-1441) }, iotdm.ErrInvalidParameterCombination,
			"You have requested up to 1441 datapoints, which exceeds the limit of 1440. You may reduce the datapoints requested by increasing Period, or decreasing the time range."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := base()
			tt.edit(in)
			_, err := f.metrics.GetMetricStatistics(t.Context(), in)
			var e *iotdm.Error
			if !errors.As(err, &e) || e.Code != tt.code || !strings.Contains(e.Message, tt.msg) {
				t.Errorf("GetMetricStatistics = %v, want %s %q", err, tt.code, tt.msg)
			}
		})
	}
	t.Run("1440 datapoints are fine", func(t *testing.T) {
		in := base()
		in.StartTime = cwAt(-1440)
		if _, err := f.metrics.GetMetricStatistics(t.Context(), in); err != nil {
			t.Errorf("GetMetricStatistics(1440 minutes) = %v", err)
		}
	})
}

func TestGetMetricStatisticsHighResolution(t *testing.T) {
	f := newCWFixture(t)
	var data []iotdm.MetricDatum
	for s := range 20 {
		data = append(data, iotdm.MetricDatum{MetricName: "hr", Timestamp: cwTS(cwNow.Add(-time.Minute + time.Duration(s)*time.Second)),
			Value: cwF(float64(s)), StorageResolution: cwI(1)})
	}
	f.put(t, "Fleet", data...)
	out, err := f.metrics.GetMetricStatistics(t.Context(), &iotdm.GetMetricStatisticsInput{Namespace: "Fleet", MetricName: "hr",
		StartTime: cwAt(-1), EndTime: cwAt(0), Period: cwI(10), Statistics: []string{"Sum", "SampleCount"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []iotdm.Datapoint{
		{Timestamp: *cwAt(-1), Sum: cwF(45), SampleCount: cwF(10), Unit: "None"},
		{Timestamp: *cwTS(cwNow.Add(-50 * time.Second)), Sum: cwF(145), SampleCount: cwF(10), Unit: "None"},
	}
	if diff := cmp.Diff(want, out.Datapoints); diff != "" {
		t.Errorf("10-second datapoints (-want +got):\n%s", diff)
	}
}

func TestGetMetricData(t *testing.T) {
	f := newCWFixture(t)
	// a: 1, 2, 3 at minutes -3..-1; b: 10, 20 at minutes -3, -2.
	for i, v := range []float64{1, 2, 3} {
		f.put(t, "Fleet", iotdm.MetricDatum{MetricName: "a", Timestamp: cwAt(-3 + i), Value: cwF(v)})
	}
	for i, v := range []float64{10, 20} {
		f.put(t, "Fleet", iotdm.MetricDatum{MetricName: "b", Timestamp: cwAt(-3 + i), Value: cwF(v)})
	}
	stat := func(id, name, s string) iotdm.MetricDataQuery {
		return iotdm.MetricDataQuery{ID: id, MetricStat: &iotdm.MetricStat{Metric: iotdm.Metric{Namespace: "Fleet", MetricName: name}, Period: 60, Stat: s}}
	}
	hidden := func(q iotdm.MetricDataQuery) iotdm.MetricDataQuery {
		q.ReturnData = monBool(false)
		return q
	}
	expr := func(id, e string) iotdm.MetricDataQuery { return iotdm.MetricDataQuery{ID: id, Expression: e} }
	ts := func(minutes ...int) []iotdm.Timestamp {
		var out []iotdm.Timestamp
		for _, m := range minutes {
			out = append(out, *cwAt(m))
		}
		return out
	}
	res := func(id, label string, t []iotdm.Timestamp, v ...float64) iotdm.MetricDataResult {
		if v == nil {
			v = []float64{}
		}
		return iotdm.MetricDataResult{ID: id, Label: label, Timestamps: t, Values: v, StatusCode: "Complete"}
	}
	tests := []struct {
		name    string
		queries []iotdm.MetricDataQuery
		scanBy  string
		want    []iotdm.MetricDataResult
	}{
		{"metric, newest first", []iotdm.MetricDataQuery{stat("m1", "a", "Sum")}, "",
			[]iotdm.MetricDataResult{res("m1", "a", ts(-1, -2, -3), 3, 2, 1)}},
		{"ascending with a label", []iotdm.MetricDataQuery{func() iotdm.MetricDataQuery { q := stat("m1", "a", "Maximum"); q.Label = "A"; return q }()},
			"TimestampAscending", []iotdm.MetricDataResult{res("m1", "A", ts(-3, -2, -1), 1, 2, 3)}},
		{"sum of two series where both have data", []iotdm.MetricDataQuery{hidden(stat("m1", "a", "Sum")), hidden(stat("m2", "b", "Sum")), expr("e1", "m1 + m2")},
			"TimestampAscending", []iotdm.MetricDataResult{res("e1", "e1", ts(-3, -2), 11, 22)}},
		{"precedence and scalars", []iotdm.MetricDataQuery{hidden(stat("m1", "a", "Sum")), expr("e1", "-m1 * 2 + 10 / (4 - 2)")},
			"TimestampAscending", []iotdm.MetricDataResult{res("e1", "e1", ts(-3, -2, -1), 3, 1, -1)}},
		{"division by zero leaves points out", []iotdm.MetricDataQuery{hidden(stat("m1", "a", "Sum")), expr("e1", "1 / (m1 - 2)")},
			"TimestampAscending", []iotdm.MetricDataResult{res("e1", "e1", ts(-3, -1), -1, 1)}},
		{"SUM of an array, per timestamp", []iotdm.MetricDataQuery{hidden(stat("m1", "a", "Sum")), hidden(stat("m2", "b", "Sum")), expr("e1", "SUM([m1, m2])")},
			"TimestampAscending", []iotdm.MetricDataResult{res("e1", "e1", ts(-3, -2, -1), 11, 22, 3)}},
		{"AVG of METRICS()", []iotdm.MetricDataQuery{hidden(stat("m1", "a", "Sum")), hidden(stat("m2", "b", "Sum")), expr("e1", "AVG(METRICS())")},
			"TimestampAscending", []iotdm.MetricDataResult{res("e1", "e1", ts(-3, -2, -1), 5.5, 11, 3)}},
		{"MAX of one series is a scalar on the period grid", []iotdm.MetricDataQuery{hidden(stat("m1", "a", "Sum")), expr("e1", "MAX(m1)")},
			"TimestampAscending", []iotdm.MetricDataResult{res("e1", "e1", ts(-5, -4, -3, -2, -1), 3, 3, 3, 3, 3)}},
		{"FILL with a value", []iotdm.MetricDataQuery{hidden(stat("m2", "b", "Sum")), expr("e1", "FILL(m2, 0)")},
			"TimestampAscending", []iotdm.MetricDataResult{res("e1", "e1", ts(-5, -4, -3, -2, -1), 0, 0, 10, 20, 0)}},
		{"FILL REPEAT", []iotdm.MetricDataQuery{hidden(stat("m2", "b", "Sum")), expr("e1", "FILL(m2, REPEAT)")},
			"TimestampAscending", []iotdm.MetricDataResult{res("e1", "e1", ts(-3, -2, -1), 10, 20, 20)}},
		{"METRICS() returns each metric", []iotdm.MetricDataQuery{hidden(stat("m1", "a", "Sum")), hidden(stat("m2", "b", "Sum")), expr("e1", "METRICS(\"b\") * 2")},
			"TimestampAscending", []iotdm.MetricDataResult{res("e1", "b", ts(-3, -2), 20, 40)}},
		{"expression of an expression", []iotdm.MetricDataQuery{expr("e2", "e1 * 10"), hidden(stat("m1", "a", "Sum")), hidden(expr("e1", "m1 + 1"))},
			"TimestampAscending", []iotdm.MetricDataResult{res("e2", "e2", ts(-3, -2, -1), 20, 30, 40)}},
		{"percentile", []iotdm.MetricDataQuery{{ID: "p", MetricStat: &iotdm.MetricStat{Metric: iotdm.Metric{Namespace: "Fleet", MetricName: "a"}, Period: 300, Stat: "p50"}}},
			"", []iotdm.MetricDataResult{res("p", "a", ts(-5), 2)}},
		{"no data", []iotdm.MetricDataQuery{stat("m1", "missing", "Sum")}, "", []iotdm.MetricDataResult{res("m1", "missing", []iotdm.Timestamp{})}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := f.metrics.GetMetricData(t.Context(), &iotdm.GetMetricDataInput{MetricDataQueries: tt.queries,
				StartTime: cwAt(-5), EndTime: cwAt(0), ScanBy: tt.scanBy})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, out.MetricDataResults, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("results (-want +got):\n%s", diff)
			}
			if out.NextToken != "" {
				t.Errorf("NextToken = %q, want none", out.NextToken)
			}
		})
	}
}

func TestGetMetricDataPages(t *testing.T) {
	f := newCWFixture(t)
	f.temps(t)
	in := &iotdm.GetMetricDataInput{
		MetricDataQueries: []iotdm.MetricDataQuery{
			{ID: "t", MetricStat: &iotdm.MetricStat{Metric: iotdm.Metric{Namespace: "Fleet", MetricName: "Temperature", Dimensions: cwDims("Thing", "t1")}, Period: 60, Stat: "Average"}},
			{ID: "u", Expression: "t / 10"},
		},
		StartTime: cwAt(-60), EndTime: cwAt(0), MaxDatapoints: cwI(50), ScanBy: "TimestampAscending",
	}
	var got [2][]float64
	pages := 0
	for {
		out, err := f.metrics.GetMetricData(t.Context(), in)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		n := 0
		for i, r := range out.MetricDataResults {
			got[i] = append(got[i], r.Values...)
			n += len(r.Values)
			if len(r.Timestamps) != len(r.Values) {
				t.Fatalf("result %s: %d timestamps, %d values", r.ID, len(r.Timestamps), len(r.Values))
			}
		}
		if n > 50 {
			t.Errorf("page %d has %d datapoints, want at most 50", pages, n)
		}
		if out.NextToken == "" {
			break
		}
		if out.MetricDataResults[0].StatusCode != "PartialData" && out.MetricDataResults[1].StatusCode != "PartialData" {
			t.Errorf("page %d with a NextToken has no PartialData result", pages)
		}
		in.NextToken = out.NextToken
	}
	if pages != 3 || len(got[0]) != 60 || len(got[1]) != 60 || got[0][59] != 590 || got[1][59] != 59 {
		t.Errorf("%d pages, %d and %d values (last %v, %v); want 3 pages of all 120 values", pages, len(got[0]), len(got[1]), got[0], got[1])
	}
	t.Run("token of another request", func(t *testing.T) {
		in.EndTime = cwAt(-1)
		_, err := f.metrics.GetMetricData(t.Context(), in)
		if !iotdm.IsCode(err, iotdm.ErrInvalidNextToken) {
			t.Errorf("GetMetricData(changed request) = %v, want InvalidNextToken", err)
		}
	})
}

func TestGetMetricDataErrors(t *testing.T) {
	f := newCWFixture(t)
	stat := iotdm.MetricDataQuery{ID: "m1", MetricStat: &iotdm.MetricStat{Metric: iotdm.Metric{Namespace: "Fleet", MetricName: "a"}, Period: 60, Stat: "Sum"}}
	tests := []struct {
		name    string
		queries []iotdm.MetricDataQuery
		code    iotdm.ErrorCode
		msg     string
	}{
		{"no queries", nil, iotdm.ErrMissingParameter, "The parameter MetricDataQueries is required."},
		{"bad id", []iotdm.MetricDataQuery{func() iotdm.MetricDataQuery { q := stat; q.ID = "M1"; return q }()}, iotdm.ErrValidationError,
			"The value M1 for parameter MetricDataQueries.member.1.Id is invalid."},
		{"duplicate id", []iotdm.MetricDataQuery{stat, stat}, iotdm.ErrValidationError, "must be unique"},
		{"neither", []iotdm.MetricDataQuery{{ID: "x"}}, iotdm.ErrValidationError, "Exactly one element of the MetricStat and Expression parameters"},
		{"bad stat", []iotdm.MetricDataQuery{func() iotdm.MetricDataQuery {
			q := stat
			s := *q.MetricStat
			s.Stat = "None"
			q.MetricStat = &s
			return q
		}()},
			iotdm.ErrValidationError, "The value None for parameter MetricDataQueries.member.1.MetricStat.Stat is not a valid statistic."},
		{"bad period", []iotdm.MetricDataQuery{func() iotdm.MetricDataQuery {
			q := stat
			s := *q.MetricStat
			s.Period = 45
			q.MetricStat = &s
			return q
		}()},
			iotdm.ErrValidationError, "The value 45 for parameter MetricDataQueries.member.1.MetricStat.Period is not a valid period."},
		{"unknown id", []iotdm.MetricDataQuery{stat, {ID: "e", Expression: "m1 + m9"}}, iotdm.ErrValidationError,
			"Error in expression 'e': Unrecognized metric or expression id 'm9'."},
		{"cycle", []iotdm.MetricDataQuery{{ID: "a", Expression: "b + 1"}, {ID: "b", Expression: "a * 2"}}, iotdm.ErrValidationError,
			"circular dependency"},
		{"syntax", []iotdm.MetricDataQuery{stat, {ID: "e", Expression: "m1 + * 2"}}, iotdm.ErrValidationError,
			"Error in expression 'e': at position 6: unexpected '*'"},
		{"unknown function", []iotdm.MetricDataQuery{stat, {ID: "e", Expression: "RATE(m1)"}}, iotdm.ErrValidationError,
			"unsupported function RATE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.metrics.GetMetricData(t.Context(), &iotdm.GetMetricDataInput{MetricDataQueries: tt.queries, StartTime: cwAt(-5), EndTime: cwAt(0)})
			var e *iotdm.Error
			if !errors.As(err, &e) || e.Code != tt.code || !strings.Contains(e.Message, tt.msg) {
				t.Errorf("GetMetricData = %v, want %s %q", err, tt.code, tt.msg)
			}
		})
	}
	t.Run("too many datapoints", func(t *testing.T) {
		var qs []iotdm.MetricDataQuery
		for i := range 93 { // 93 one-second metrics over three hours: 93 × 10,801 periods
			q := stat
			q.ID = fmt.Sprint("m", i)
			s := *q.MetricStat
			s.Period = 1
			q.MetricStat = &s
			qs = append(qs, q)
		}
		_, err := f.metrics.GetMetricData(t.Context(), &iotdm.GetMetricDataInput{MetricDataQueries: qs, StartTime: cwAt(-180), EndTime: cwAt(0)})
		if !iotdm.IsCode(err, iotdm.ErrInvalidParameterCombination) {
			t.Errorf("GetMetricData(1,004,493 periods) = %v, want InvalidParameterCombination", err)
		}
		_, err = f.metrics.GetMetricData(t.Context(), &iotdm.GetMetricDataInput{MetricDataQueries: qs[:92], StartTime: cwAt(-180), EndTime: cwAt(0)})
		if err != nil {
			t.Errorf("GetMetricData(993,692 periods) = %v", err)
		}
	})
	t.Run("no start", func(t *testing.T) {
		_, err := f.metrics.GetMetricData(t.Context(), &iotdm.GetMetricDataInput{MetricDataQueries: []iotdm.MetricDataQuery{stat}, EndTime: cwAt(0)})
		if !iotdm.IsCode(err, iotdm.ErrMissingParameter) {
			t.Errorf("GetMetricData(no StartTime) = %v, want MissingParameter", err)
		}
	})
}

func TestListMetricsPagesAndFilters(t *testing.T) {
	f := newCWFixture(t)
	var data []iotdm.MetricDatum
	for i := range 600 {
		data = append(data, iotdm.MetricDatum{MetricName: "Temperature", Dimensions: cwDims("Thing", fmt.Sprintf("t%03d", i)), Value: cwF(1)})
	}
	f.put(t, "Fleet", data[:500]...)
	f.put(t, "Fleet", data[500:]...)
	f.put(t, "Other", iotdm.MetricDatum{MetricName: "Old", Timestamp: cwAt(-240), Value: cwF(1)})

	var got []iotdm.Metric
	in := &iotdm.ListMetricsInput{Namespace: "Fleet"}
	for {
		out, err := f.metrics.ListMetrics(t.Context(), in)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, out.Metrics...)
		if out.NextToken == "" {
			break
		}
		if len(out.Metrics) != 500 {
			t.Errorf("a page with a NextToken has %d metrics, want 500", len(out.Metrics))
		}
		in.NextToken = out.NextToken
	}
	if len(got) != 600 || got[0].Dimensions[0].Value != "t000" || got[599].Dimensions[0].Value != "t599" {
		t.Errorf("listed %d metrics, want t000..t599", len(got))
	}

	t.Run("dimension filter", func(t *testing.T) {
		out, err := f.metrics.ListMetrics(t.Context(), &iotdm.ListMetricsInput{
			Dimensions: []iotdm.DimensionFilter{{Name: "Thing", Value: cwStr("t042")}}})
		want := []iotdm.Metric{{Namespace: "Fleet", MetricName: "Temperature", Dimensions: cwDims("Thing", "t042")}}
		if err != nil || !cmp.Equal(want, out.Metrics) {
			t.Errorf("ListMetrics = %+v, %v; want %+v", out, err, want)
		}
	})
	t.Run("recently active", func(t *testing.T) {
		all, err := f.metrics.ListMetrics(t.Context(), &iotdm.ListMetricsInput{Namespace: "Other"})
		if err != nil || len(all.Metrics) != 1 || all.Metrics[0].Dimensions == nil {
			t.Errorf("ListMetrics(Other) = %+v, %v; want Old with empty Dimensions", all, err)
		}
		recent, err := f.metrics.ListMetrics(t.Context(), &iotdm.ListMetricsInput{Namespace: "Other", RecentlyActive: "PT3H"})
		if err != nil || len(recent.Metrics) != 0 {
			t.Errorf("ListMetrics(Other, PT3H) = %+v, %v; want none", recent, err)
		}
	})
	t.Run("errors", func(t *testing.T) {
		for _, in := range []*iotdm.ListMetricsInput{
			{NextToken: "garbage"},
			{RecentlyActive: "PT1H"},
			{Dimensions: []iotdm.DimensionFilter{{Name: ""}}},
		} {
			if _, err := f.metrics.ListMetrics(t.Context(), in); err == nil {
				t.Errorf("ListMetrics(%+v) succeeded", in)
			}
		}
	})
}

// FuzzMetricMathExpression evaluates arbitrary expressions over two
// metrics: GetMetricData answers or refuses them, never panics.
func FuzzMetricMathExpression(f *testing.F) {
	for _, seed := range []string{"m1 + m2", "-m1 * 2 + 10 / (4 - 2)", "SUM([m1, m2])", "AVG(METRICS())", "MAX(m1)",
		"FILL(m2, 0)", "FILL(m2, REPEAT)", "FILL(METRICS(), LINEAR)", "METRICS(\"b\") * 2", "ABS(m1 - 5)", "1e3 * m1", "[m1, 2]", "((((m1))))", "m1 + * 2", "\"x\""} {
		f.Add(seed)
	}
	fx := newCWFixture(f)
	ctx := context.Background()
	for i, v := range []float64{1, 2, 3} {
		if _, err := fx.metrics.PutMetricData(ctx, &iotdm.PutMetricDataInput{Namespace: "Fleet", MetricData: []iotdm.MetricDatum{
			{MetricName: "a", Timestamp: cwAt(-3 + i), Value: cwF(v)}, {MetricName: "b", Timestamp: cwAt(-2 + i), Value: cwF(-v)}}}); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, expr string) {
		if len(expr) > 2048 {
			return
		}
		stat := func(id, name string) iotdm.MetricDataQuery {
			return iotdm.MetricDataQuery{ID: id, ReturnData: monBool(false),
				MetricStat: &iotdm.MetricStat{Metric: iotdm.Metric{Namespace: "Fleet", MetricName: name}, Period: 60, Stat: "Sum"}}
		}
		out, err := fx.metrics.GetMetricData(ctx, &iotdm.GetMetricDataInput{
			MetricDataQueries: []iotdm.MetricDataQuery{stat("m1", "a"), stat("m2", "b"), {ID: "e", Expression: expr}},
			StartTime:         cwAt(-5), EndTime: cwAt(0)})
		if err != nil {
			if !iotdm.IsCode(err, iotdm.ErrValidationError) {
				t.Fatalf("GetMetricData(%q) = %v, want a ValidationError", expr, err)
			}
			return
		}
		for _, r := range out.MetricDataResults {
			if len(r.Timestamps) != len(r.Values) {
				t.Fatalf("GetMetricData(%q): %d timestamps, %d values", expr, len(r.Timestamps), len(r.Values))
			}
			for _, v := range r.Values {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("GetMetricData(%q) returned %v", expr, v)
				}
			}
		}
	})
}
