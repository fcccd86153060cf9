package alarm_test

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/iotdm/iotdm/internal/alarm"
)

var t0 = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

// series lays out datapoints one period apart, the newest at last, oldest
// first: each field is a value, or "-" for a period without a datapoint.
func series(last time.Time, period time.Duration, s string) []alarm.Point {
	fields := strings.Fields(s)
	pts := make([]alarm.Point, len(fields))
	for i, f := range fields {
		pts[i].Timestamp = last.Add(-time.Duration(len(fields)-1-i) * period)
		if f == "-" {
			pts[i].Missing = true
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			panic(err)
		}
		pts[i].Value, pts[i].SampleCount = v, 1
	}
	return pts
}

var states = []string{alarm.StateOK, alarm.StateAlarm, alarm.StateInsufficientData}

const keep = "keep" // the state does not change, whatever it is

// checkRow evaluates points from every current state and compares the new
// state with want (keep: the current state, unchanged).
func checkRow(t *testing.T, d alarm.Definition, points, want string) {
	t.Helper()
	for _, current := range states {
		got, err := alarm.Evaluate(d, current, series(t0, time.Minute, points), t0.Add(90*time.Second))
		if err != nil {
			t.Fatalf("Evaluate(%q) error: %v", points, err)
		}
		wantState := want
		if want == keep {
			wantState = current
		}
		if got.State != wantState || got.Changed != (wantState != current) {
			t.Errorf("Evaluate(%+v, %s, [%s]) = %s (changed %v), want %s", d, current, points, got.State, got.Changed, wantState)
		}
		if got.Changed && (got.Reason == "" || got.ReasonData == "") {
			t.Errorf("Evaluate(%+v, %s, [%s]) changed without a reason: %+v", d, current, points, got)
		}
	}
}

// TestMissingData covers every TreatMissingData on AWS's example alarm: 3
// evaluation periods, 3 datapoints to alarm, an evaluation range of 5
// periods. 0 is good, 9 breaches (GreaterThanThreshold 5). The first five
// rows are the rows of AWS's table in "How alarm state is evaluated when
// data is missing".
func TestMissingData(t *testing.T) {
	rows := []struct {
		points                                   string
		missing, ignore, breaching, notBreaching string
	}{
		{"0 - 9 - 9", "OK", "OK", "OK", "OK"},                   // 3 real datapoints: the treatment is not used
		{"0 - - - -", "OK", "OK", "OK", "OK"},                   // the good datapoint is evaluated with 2 filled ones
		{"- - - - -", "INSUFFICIENT_DATA", keep, "ALARM", "OK"}, // nothing in the range
		{"0 9 9 - 9", "ALARM", "ALARM", "ALARM", "ALARM"},       // the 3 most recent real datapoints breach
		{"- - 9 - -", "ALARM", keep, "ALARM", "OK"},             // premature alarm (missing); ignore keeps the state
		{"- - - - 9", keep, keep, "ALARM", "OK"},                // too young to alarm, no good datapoint to clear
		{"- - - 0 9", "OK", "OK", "OK", "OK"},                   // breaching: 0 9 and one filled: 2 of 3
		{"9 9 - - -", keep, keep, "ALARM", "OK"},                // the breaching datapoints are older than the last 3 periods
		{"- - 9 9 -", "ALARM", keep, "ALARM", "OK"},             // premature alarm
		{"- - 9 0 -", "OK", "OK", "OK", "OK"},                   // a good datapoint after the breaching one
		{"- - 9 9 0", "OK", "OK", "OK", "OK"},                   // 3 real datapoints, the newest good
		{"- 9 9 9 -", "ALARM", "ALARM", "ALARM", "ALARM"},       // 3 real datapoints, all breaching
		{"9 9 9 9 9", "ALARM", "ALARM", "ALARM", "ALARM"},       // every period breaches
		{"0 0 0 0 0", "OK", "OK", "OK", "OK"},                   // every period is good
	}
	for _, r := range rows {
		for _, c := range []struct{ treatment, want string }{
			{"", r.missing}, {"missing", r.missing}, {"ignore", r.ignore}, {"breaching", r.breaching}, {"notBreaching", r.notBreaching},
		} {
			name := c.treatment
			if name == "" {
				name = "default"
			}
			t.Run(fmt.Sprintf("%s/%s", name, r.points), func(t *testing.T) {
				d := alarm.Definition{Period: 60, EvaluationPeriods: 3, Threshold: 5, ComparisonOperator: alarm.GreaterThanThreshold,
					Statistic: "Average", TreatMissingData: c.treatment}
				checkRow(t, d, r.points, c.want)
			})
		}
	}
}

// TestMOutOfN covers DatapointsToAlarm below EvaluationPeriods.
func TestMOutOfN(t *testing.T) {
	cases := []struct {
		name      string
		n, m      int32
		treatment string
		points    string
		want      string
	}{
		{"2 of 5 breach", 5, 2, "", "0 0 0 9 0 9 0", "ALARM"},
		{"1 of 5 breaches", 5, 2, "", "0 0 0 0 0 9 0", "OK"},
		{"breaches older than the last 5", 5, 2, "", "9 9 0 0 0 0 0", "OK"},
		{"5 of 5 breach", 5, 2, "", "0 0 9 9 9 9 9", "ALARM"},
		{"1 of 3 with M 1", 3, 1, "", "0 0 0 0 9", "ALARM"},
		{"none of 3 with M 1", 3, 1, "", "9 9 0 0 0", "OK"},
		{"breaching fills reach M", 5, 2, "breaching", "- - - - - 0 -", "ALARM"},
		{"notBreaching fills", 5, 2, "notBreaching", "- - - - - 9 -", "OK"},
		{"premature: breaching datapoint 2 periods old", 5, 2, "missing", "- - - - - 9 -", "ALARM"},
		{"premature kept by ignore", 5, 2, "ignore", "- - - - - 9 -", keep},
		{"not premature: 1 period old", 5, 2, "missing", "- - - - - - 9", keep},
		{"real datapoints fewer than N reach M", 5, 2, "missing", "- - - 9 - 9 0", "ALARM"},
		{"real datapoints fewer than N below M", 5, 2, "missing", "- - - 0 - 9 0", "OK"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := alarm.Definition{Period: 60, EvaluationPeriods: c.n, DatapointsToAlarm: c.m, Threshold: 5,
				ComparisonOperator: alarm.GreaterThanOrEqualToThreshold, Statistic: "Maximum", TreatMissingData: c.treatment}
			checkRow(t, d, c.points, c.want)
		})
	}
}

func TestComparisons(t *testing.T) {
	cases := []struct {
		op              string
		below, at, over string
	}{
		{alarm.GreaterThanOrEqualToThreshold, "OK", "ALARM", "ALARM"},
		{alarm.GreaterThanThreshold, "OK", "OK", "ALARM"},
		{alarm.LessThanThreshold, "ALARM", "OK", "OK"},
		{alarm.LessThanOrEqualToThreshold, "ALARM", "ALARM", "OK"},
	}
	for _, c := range cases {
		t.Run(c.op, func(t *testing.T) {
			d := alarm.Definition{Period: 60, EvaluationPeriods: 1, Threshold: 10, ComparisonOperator: c.op, Statistic: "Sum"}
			checkRow(t, d, "- - 9.5", c.below)
			checkRow(t, d, "- - 10", c.at)
			checkRow(t, d, "- - 10.5", c.over)
		})
	}
}

func TestUnsupported(t *testing.T) {
	for _, op := range []string{alarm.LessThanLowerOrGreaterThanUpperThreshold, alarm.LessThanLowerThreshold, alarm.GreaterThanUpperThreshold, "Sideways"} {
		d := alarm.Definition{Period: 60, EvaluationPeriods: 1, ComparisonOperator: op, Statistic: "Sum"}
		if _, err := alarm.Evaluate(d, alarm.StateOK, series(t0, time.Minute, "1 2 3"), t0); !errors.Is(err, alarm.ErrUnsupported) {
			t.Errorf("Evaluate(%s) error = %v, want ErrUnsupported", op, err)
		}
	}
	bad := []alarm.Definition{
		{Period: 0, EvaluationPeriods: 1, ComparisonOperator: alarm.GreaterThanThreshold},
		{Period: 60, EvaluationPeriods: 0, ComparisonOperator: alarm.GreaterThanThreshold},
		{Period: 60, EvaluationPeriods: 2, DatapointsToAlarm: 3, ComparisonOperator: alarm.GreaterThanThreshold},
		{Period: 60, EvaluationPeriods: 2, ComparisonOperator: alarm.GreaterThanThreshold, TreatMissingData: "sometimes"},
	}
	for _, d := range bad {
		if err := d.Validate(); !errors.Is(err, alarm.ErrUnsupported) {
			t.Errorf("Validate(%+v) = %v, want ErrUnsupported", d, err)
		}
	}
}

// TestReasons holds the StateReason and StateReasonData wording to AWS's:
// the first three cases are alarm state changes AWS sent (their datapoints,
// dates and documents), the others follow their patterns.
func TestReasons(t *testing.T) {
	cases := []struct {
		name        string
		def         alarm.Definition
		current     string
		points      []alarm.Point
		now         time.Time
		wantState   string
		wantReason  string
		wantData    string
		sampleCount float64
	}{
		{
			name:       "insufficient data",
			def:        alarm.Definition{Period: 60, EvaluationPeriods: 1, Threshold: 60, ComparisonOperator: alarm.GreaterThanThreshold, Statistic: "Average"},
			current:    "OK",
			points:     series(time.Date(2020, 7, 31, 6, 51, 0, 0, time.UTC), time.Minute, "- - -"),
			now:        time.Date(2020, 7, 31, 6, 52, 5, 598e6, time.UTC),
			wantState:  "INSUFFICIENT_DATA",
			wantReason: "Insufficient Data: 1 datapoint was unknown.",
			wantData:   `{"version":"1.0","queryDate":"2020-07-31T06:52:05.598+0000","statistic":"Average","period":60,"recentDatapoints":[],"threshold":60.0}`,
		},
		{
			name:        "6 datapoints alarm",
			def:         alarm.Definition{Period: 300, EvaluationPeriods: 6, Threshold: 0, ComparisonOperator: alarm.LessThanOrEqualToThreshold, Statistic: "Sum"},
			current:     "OK",
			points:      series(time.Date(2022, 9, 29, 22, 5, 0, 0, time.UTC), 5*time.Minute, "- - 0 0 0 0 0 0"),
			now:         time.Date(2022, 9, 29, 22, 10, 4, 689e6, time.UTC),
			sampleCount: 5,
			wantState:   "ALARM",
			wantReason: "Threshold Crossed: 6 datapoints were less than or equal to the threshold (0.0). The most recent datapoints which crossed the threshold: " +
				"[0.0 (29/09/22 22:05:00), 0.0 (29/09/22 22:00:00), 0.0 (29/09/22 21:55:00), 0.0 (29/09/22 21:50:00), 0.0 (29/09/22 21:45:00)].",
			wantData: `{"version":"1.0","queryDate":"2022-09-29T22:10:04.689+0000","startDate":"2022-09-29T21:40:00.000+0000","statistic":"Sum","period":300,` +
				`"recentDatapoints":[0.0,0.0,0.0,0.0,0.0,0.0],"threshold":0.0,"evaluatedDatapoints":[` +
				`{"timestamp":"2022-09-29T22:05:00.000+0000","sampleCount":5.0,"value":0.0},{"timestamp":"2022-09-29T22:00:00.000+0000","sampleCount":5.0,"value":0.0},` +
				`{"timestamp":"2022-09-29T21:55:00.000+0000","sampleCount":5.0,"value":0.0},{"timestamp":"2022-09-29T21:50:00.000+0000","sampleCount":5.0,"value":0.0},` +
				`{"timestamp":"2022-09-29T21:45:00.000+0000","sampleCount":5.0,"value":0.0},{"timestamp":"2022-09-29T21:40:00.000+0000","sampleCount":5.0,"value":0.0}]}`,
		},
		{
			name:        "6 datapoints clear",
			def:         alarm.Definition{Period: 300, EvaluationPeriods: 6, Threshold: 0, ComparisonOperator: alarm.LessThanOrEqualToThreshold, Statistic: "Sum"},
			current:     "ALARM",
			points:      series(time.Date(2022, 8, 29, 13, 4, 0, 0, time.UTC), 5*time.Minute, "- - 0 0 0 0 0 9"),
			now:         time.Date(2022, 8, 29, 13, 9, 4, 685e6, time.UTC),
			sampleCount: 14,
			wantState:   "OK",
			wantReason:  "Threshold Crossed: 1 datapoint [9.0 (29/08/22 13:04:00)] was not less than or equal to the threshold (0.0).",
			wantData: `{"version":"1.0","queryDate":"2022-08-29T13:09:04.685+0000","startDate":"2022-08-29T12:39:00.000+0000","statistic":"Sum","period":300,` +
				`"recentDatapoints":[0.0,0.0,0.0,0.0,0.0,9.0],"threshold":0.0,"evaluatedDatapoints":[{"timestamp":"2022-08-29T13:04:00.000+0000","sampleCount":14.0,"value":9.0}]}`,
		},
		{
			name:        "M out of N alarm",
			def:         alarm.Definition{Period: 300, EvaluationPeriods: 2, DatapointsToAlarm: 2, Threshold: 10, ComparisonOperator: alarm.LessThanThreshold, Statistic: "Average"},
			current:     "OK",
			points:      series(t0, 5*time.Minute, "- - 4 5"),
			now:         t0.Add(5*time.Minute + 2*time.Second),
			sampleCount: 3,
			wantState:   "ALARM",
			wantReason: "Threshold Crossed: 2 out of the last 2 datapoints [5.0 (29/11/26 12:00:00), 4.0 (29/11/26 11:55:00)] were less than the threshold (10.0) " +
				"(minimum 2 datapoints for OK -> ALARM transition).",
			wantData: `{"version":"1.0","queryDate":"2026-11-29T12:05:02.000+0000","startDate":"2026-11-29T11:55:00.000+0000","statistic":"Average","period":300,` +
				`"recentDatapoints":[4.0,5.0],"threshold":10.0,"evaluatedDatapoints":[{"timestamp":"2026-11-29T12:00:00.000+0000","sampleCount":3.0,"value":5.0},` +
				`{"timestamp":"2026-11-29T11:55:00.000+0000","sampleCount":3.0,"value":4.0}]}`,
		},
		{
			name:        "M out of N clear",
			def:         alarm.Definition{Period: 60, EvaluationPeriods: 3, DatapointsToAlarm: 2, Threshold: 80, ComparisonOperator: alarm.GreaterThanOrEqualToThreshold, ExtendedStatistic: "p99"},
			current:     "ALARM",
			points:      series(t0, time.Minute, "- - 85.5 70.25 0.0001"),
			now:         t0.Add(time.Minute),
			sampleCount: 1,
			wantState:   "OK",
			wantReason: "Threshold Crossed: 2 out of the last 3 datapoints [1.0E-4 (29/11/26 12:00:00), 70.25 (29/11/26 11:59:00)] were not greater than or equal to " +
				"the threshold (80.0) (minimum 2 datapoints for ALARM -> OK transition).",
			wantData: `{"version":"1.0","queryDate":"2026-11-29T12:01:00.000+0000","startDate":"2026-11-29T11:58:00.000+0000","statistic":"p99","period":60,` +
				`"recentDatapoints":[85.5,70.25,1.0E-4],"threshold":80.0,"evaluatedDatapoints":[{"timestamp":"2026-11-29T12:00:00.000+0000","sampleCount":1.0,"value":1.0E-4},` +
				`{"timestamp":"2026-11-29T11:59:00.000+0000","sampleCount":1.0,"value":70.25}]}`,
		},
		{
			name:       "all missing treated as breaching",
			def:        alarm.Definition{Period: 60, EvaluationPeriods: 3, Threshold: 1, ComparisonOperator: alarm.LessThanThreshold, Statistic: "SampleCount", TreatMissingData: "breaching"},
			current:    "OK",
			points:     series(t0, time.Minute, "- - - - -"),
			now:        t0.Add(time.Minute),
			wantState:  "ALARM",
			wantReason: "Threshold Crossed: no datapoints were received for 3 periods and 3 missing datapoints were treated as [Breaching].",
			wantData: `{"version":"1.0","queryDate":"2026-11-29T12:01:00.000+0000","startDate":"2026-11-29T11:58:00.000+0000","statistic":"SampleCount","period":60,` +
				`"recentDatapoints":[],"threshold":1.0}`,
		},
		{
			name:       "one missing treated as not breaching",
			def:        alarm.Definition{Period: 60, EvaluationPeriods: 1, Threshold: 1, ComparisonOperator: alarm.LessThanThreshold, Statistic: "SampleCount", TreatMissingData: "notBreaching"},
			current:    "INSUFFICIENT_DATA",
			points:     series(t0, time.Minute, "- - -"),
			now:        t0.Add(time.Minute),
			wantState:  "OK",
			wantReason: "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as [NonBreaching].",
			wantData: `{"version":"1.0","queryDate":"2026-11-29T12:01:00.000+0000","startDate":"2026-11-29T12:00:00.000+0000","statistic":"SampleCount","period":60,` +
				`"recentDatapoints":[],"threshold":1.0}`,
		},
		{
			name:        "filled datapoints named",
			def:         alarm.Definition{Period: 60, EvaluationPeriods: 3, Threshold: 1, ComparisonOperator: alarm.GreaterThanThreshold, Statistic: "Maximum", TreatMissingData: "breaching"},
			current:     "OK",
			points:      series(t0, time.Minute, "- - - 2 -"),
			now:         t0.Add(time.Minute),
			sampleCount: 1,
			wantState:   "ALARM",
			wantReason: "Threshold Crossed: 3 datapoints were greater than the threshold (1.0). The most recent datapoints which crossed the threshold: " +
				"[2.0 (29/11/26 11:59:00)]. 2 missing datapoints were treated as [Breaching].",
			wantData: `{"version":"1.0","queryDate":"2026-11-29T12:01:00.000+0000","startDate":"2026-11-29T11:58:00.000+0000","statistic":"Maximum","period":60,` +
				`"recentDatapoints":[2.0],"threshold":1.0,"evaluatedDatapoints":[{"timestamp":"2026-11-29T11:59:00.000+0000","sampleCount":1.0,"value":2.0}]}`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for i := range c.points {
				if !c.points[i].Missing {
					c.points[i].SampleCount = c.sampleCount
				}
			}
			got, err := alarm.Evaluate(c.def, c.current, c.points, c.now)
			if err != nil {
				t.Fatal(err)
			}
			want := alarm.Result{State: c.wantState, Changed: true, Reason: c.wantReason, ReasonData: c.wantData}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Evaluate() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnchangedState(t *testing.T) {
	d := alarm.Definition{Period: 60, EvaluationPeriods: 1, Threshold: 1, ComparisonOperator: alarm.GreaterThanThreshold, Statistic: "Sum"}
	got, err := alarm.Evaluate(d, alarm.StateAlarm, series(t0, time.Minute, "- - 5"), t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if got.State != alarm.StateAlarm || got.Changed {
		t.Errorf("Evaluate(ALARM, breaching) = %+v, want ALARM unchanged", got)
	}
	// ignore with no datapoint keeps the state and gives no reason.
	d.TreatMissingData = alarm.MissingIgnore
	got, _ = alarm.Evaluate(d, alarm.StateOK, series(t0, time.Minute, "- - -"), t0.Add(time.Minute))
	if diff := cmp.Diff(alarm.Result{State: alarm.StateOK}, got); diff != "" {
		t.Errorf("Evaluate(ignore, nothing) mismatch (-want +got):\n%s", diff)
	}
}

func TestRange(t *testing.T) {
	d := alarm.Definition{Period: 300, EvaluationPeriods: 3}
	got := alarm.Range(d, time.Date(2026, 11, 29, 12, 7, 30, 5, time.UTC))
	var want []time.Time
	for _, m := range []int{40, 45, 50, 55} {
		want = append(want, time.Date(2026, 11, 29, 11, m, 0, 0, time.UTC))
	}
	want = append(want, time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Range(300 s x 3, 12:07:30) mismatch (-want +got):\n%s", diff)
	}
	// On a period boundary, the period that starts then is in progress.
	got = alarm.Range(alarm.Definition{Period: 60, EvaluationPeriods: 1}, t0)
	if len(got) != 3 || !got[2].Equal(t0.Add(-time.Minute)) {
		t.Errorf("Range(60 s x 1, %v) = %v, want 3 periods ending %v", t0, got, t0)
	}
	for n, want := range map[int32]int{1: 3, 3: 5, 5: 7, 6: 8, 9: 12, 30: 40} {
		if got := alarm.RangePeriods(n); got != want {
			t.Errorf("RangePeriods(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestValue(t *testing.T) {
	s := alarm.Stats{SampleCount: 4, Sum: 10, Minimum: 1, Maximum: 4, Percentiles: map[float64]float64{99: 3.9, 99.9: 3.99}}
	cases := []struct {
		stat, ext string
		want      float64
		ok        bool
	}{
		{"SampleCount", "", 4, true}, {"Sum", "", 10, true}, {"Minimum", "", 1, true}, {"Maximum", "", 4, true},
		{"Average", "", 2.5, true}, {"", "p99", 3.9, true}, {"", "p99.9", 3.99, true}, {"", "p50", 0, false},
		{"", "tm90", 0, false}, {"", "IQM", 0, false}, {"Median", "", 0, false},
	}
	for _, c := range cases {
		got, ok := alarm.Definition{Statistic: c.stat, ExtendedStatistic: c.ext}.Value(s)
		if got != c.want || ok != c.ok {
			t.Errorf("Value(%s%s) = %v, %v, want %v, %v", c.stat, c.ext, got, ok, c.want, c.ok)
		}
	}
	if _, ok := (alarm.Definition{Statistic: "Average"}).Value(alarm.Stats{}); ok {
		t.Errorf("Value(Average of no samples) ok, want false")
	}
	for in, want := range map[string]float64{"p0": 0, "p50": 50, "p99.99": 99.99, "p100": 100} {
		if got, ok := alarm.Percentile(in); !ok || got != want {
			t.Errorf("Percentile(%s) = %v, %v, want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"p", "p101", "p-1", "p1e2", "q50", "tc90"} {
		if _, ok := alarm.Percentile(in); ok {
			t.Errorf("Percentile(%s) ok, want false", in)
		}
	}
}

func TestJavaDouble(t *testing.T) {
	cases := map[float64]string{
		0: "0.0", 1: "1.0", -3.25: "-3.25", 20000: "20000.0", 0.2872183414376726: "0.2872183414376726",
		0.001: "0.001", 0.0001: "1.0E-4", 1.5e-7: "1.5E-7", 9999999: "9999999.0", 1e7: "1.0E7",
		123456789: "1.23456789E8", -2.5e12: "-2.5E12", 1e21: "1.0E21",
	}
	for in, want := range cases {
		if got := alarm.FormatDouble(in); got != want {
			t.Errorf("javaDouble(%v) = %s, want %s", in, got, want)
		}
	}
}
