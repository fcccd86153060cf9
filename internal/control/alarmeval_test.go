package control_test

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/control"
)

// alarmMetricStore is an in-memory iotdm.MetricStore of single values,
// enough for alarms: it computes the buckets of MetricStatistics from the
// points it keeps and records the ranges it was asked for.
type alarmMetricStore struct {
	mu      sync.Mutex
	points  []iotdm.MetricPoint
	ranges  []iotdm.MetricRange
	onQuery func() // called by MetricStatistics, before it answers
}

func (s *alarmMetricStore) PutMetricPoints(_ context.Context, points []iotdm.MetricPoint) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.points = append(s.points, points...)
	return nil
}

// add records one value of the fixture's metric (cpuAlarm's) at t.
func (s *alarmMetricStore) add(t time.Time, values ...float64) {
	for _, v := range values {
		s.PutMetricPoints(context.Background(), []iotdm.MetricPoint{{Metric: fleetMetric(), Timestamp: t, Value: &v}})
	}
}

func fleetMetric() iotdm.Metric {
	return iotdm.Metric{Namespace: "IoTFleetMetrics", MetricName: "ConnectedDevices", Dimensions: []iotdm.Dimension{{Name: "Fleet", Value: "north"}}}
}

func sameMetric(a, b iotdm.Metric) bool {
	key := func(m iotdm.Metric) []string {
		var out []string
		for _, d := range m.Dimensions {
			out = append(out, d.Name+"="+d.Value)
		}
		slices.Sort(out)
		return append(out, m.Namespace, m.MetricName)
	}
	return slices.Equal(key(a), key(b))
}

func (s *alarmMetricStore) MetricStatistics(_ context.Context, r iotdm.MetricRange) ([]iotdm.MetricBucket, error) {
	s.mu.Lock()
	s.ranges = append(s.ranges, r)
	hook := s.onQuery
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	values := map[int64][]float64{}
	for _, p := range s.points {
		if !sameMetric(p.Metric, r.Metric) || p.Timestamp.Before(r.Start) || !p.Timestamp.Before(r.End) || r.Unit != "" && p.Unit != r.Unit {
			continue
		}
		start := p.Timestamp.Truncate(r.Period).Unix()
		values[start] = append(values[start], *p.Value)
	}
	var out []iotdm.MetricBucket
	for _, start := range slices.Sorted(func(yield func(int64) bool) {
		for k := range values {
			if !yield(k) {
				return
			}
		}
	}) {
		vs := values[start]
		slices.Sort(vs)
		b := iotdm.MetricBucket{Timestamp: time.Unix(start, 0).UTC(), SampleCount: float64(len(vs)), Minimum: vs[0], Maximum: vs[len(vs)-1]}
		for _, v := range vs {
			b.Sum += v
		}
		for _, p := range r.Percentiles {
			if b.Percentiles == nil {
				b.Percentiles = map[float64]float64{}
			}
			b.Percentiles[p] = vs[max(0, int(math.Ceil(p/100*float64(len(vs))))-1)]
		}
		out = append(out, b)
	}
	return out, nil
}

func (s *alarmMetricStore) ListMetrics(context.Context, iotdm.MetricFilter, *iotdm.Metric, int) ([]iotdm.Metric, error) {
	return nil, nil
}

// notifications records the state changes handed to the actions.
type notifications struct {
	mu      sync.Mutex
	changes []control.AlarmStateChange
}

func (n *notifications) Enqueue(c control.AlarmStateChange) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.changes = append(n.changes, c)
}

// take returns the changes recorded since the last call, as "OLD -> NEW".
func (n *notifications) take() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, c := range n.changes {
		out = append(out, c.Alarm.AlarmName+": "+c.OldState+" -> "+c.Alarm.StateValue)
	}
	n.changes = nil
	return out
}

// alarmFixture is the alarm services on one real SQLite store, an
// in-memory metric store and a clock the test sets.
type alarmFixture struct {
	*monitorFixture
	metrics  *alarmMetricStore
	notified *notifications
	ops      *control.AlarmOps
	eval     *control.AlarmEvaluator
}

func newAlarmFixture(t *testing.T) *alarmFixture {
	t.Helper()
	f := &alarmFixture{monitorFixture: newMonitorFixture(t), metrics: &alarmMetricStore{}, notified: &notifications{}}
	f.now = time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)
	f.ops = control.NewAlarmOps(f.alarms, f.notified)
	f.eval = control.NewAlarmEvaluator(f.db, f.metrics, control.AlarmEvaluatorOptions{Actions: f.notified, Now: func() time.Time { return f.now }})
	return f
}

// evaluate runs one evaluation at t, and sets the clock there.
func (f *alarmFixture) evaluate(t *testing.T, at time.Time) {
	t.Helper()
	f.now = at
	if err := f.eval.EvaluateAt(t.Context(), at); err != nil {
		t.Fatalf("EvaluateAt(%v): %v", at, err)
	}
}

// history returns an alarm's history, oldest first, as "Type: summary".
func (f *alarmFixture) history(t *testing.T, name string) []string {
	t.Helper()
	out, err := f.ops.DescribeAlarmHistory(t.Context(), &iotdm.DescribeAlarmHistoryInput{AlarmName: name, ScanBy: iotdm.ScanByTimestampAscending})
	if err != nil {
		t.Fatalf("DescribeAlarmHistory(%s): %v", name, err)
	}
	var lines []string
	for _, h := range out.AlarmHistoryItems {
		lines = append(lines, h.HistoryItemType+": "+h.HistorySummary)
	}
	return lines
}

func ts(hour, minute, second int) time.Time {
	return time.Date(2026, 3, 1, hour, minute, second, 0, time.UTC)
}

func TestAlarmEvaluatorTransitions(t *testing.T) {
	f := newAlarmFixture(t)
	if _, err := f.ops.PutMetricAlarm(t.Context(), cpuAlarm("north")); err != nil { // Average < 10 over 2 x 300 s
		t.Fatal(err)
	}
	f.metrics.add(ts(11, 50, 10), 5)
	f.metrics.add(ts(11, 55, 0), 3, 5)
	f.metrics.add(ts(12, 0, 0), 99) // the period in progress at 12:00:05: not evaluated

	seq := f.lastSeq(t)
	f.evaluate(t, ts(12, 0, 5))
	a := f.storedAlarm(t, "north")
	wantReason := "Threshold Crossed: 2 datapoints were less than the threshold (10.0). The most recent datapoints which crossed the threshold: " +
		"[4.0 (01/03/26 11:55:00), 5.0 (01/03/26 11:50:00)]."
	wantData := `{"version":"1.0","queryDate":"2026-03-01T12:00:05.000+0000","startDate":"2026-03-01T11:50:00.000+0000","statistic":"Average",` +
		`"period":300,"recentDatapoints":[5.0,4.0],"threshold":10.0,"evaluatedDatapoints":[` +
		`{"timestamp":"2026-03-01T11:55:00.000+0000","sampleCount":2.0,"value":4.0},{"timestamp":"2026-03-01T11:50:00.000+0000","sampleCount":1.0,"value":5.0}]}`
	if a.StateValue != "ALARM" || a.StateReason != wantReason || a.StateReasonData != wantData ||
		!a.StateUpdatedTimestamp.Equal(ts(12, 0, 5)) || !a.StateTransitionedTimestamp.Equal(ts(12, 0, 5)) {
		t.Errorf("after EvaluateAt(12:00:05) alarm = %s %q %s updated %v transitioned %v, want ALARM %q %s at 12:00:05",
			a.StateValue, a.StateReason, a.StateReasonData, a.StateUpdatedTimestamp, a.StateTransitionedTimestamp, wantReason, wantData)
	}
	// The alarm and its history item commit together.
	changes := f.changesSince(t, seq)
	if len(changes) != 2 || changes[0] != "put alarm/north" || !strings.HasPrefix(changes[1], "put alarmhistory/north/") {
		t.Errorf("changes of the evaluation = %v, want the alarm and one history item", changes)
	}
	if got, want := f.notified.take(), []string{"north: INSUFFICIENT_DATA -> ALARM"}; !cmp.Equal(got, want) {
		t.Errorf("notified %v, want %v", got, want)
	}

	// Nothing changes: nothing is written.
	seq = f.lastSeq(t)
	f.evaluate(t, ts(12, 1, 5))
	if changes := f.changesSince(t, seq); len(changes) != 0 {
		t.Errorf("changes of an evaluation without a new state = %v, want none", changes)
	}

	// A good datapoint clears it: the period in progress before, now ended,
	// averages 99 and 20.
	f.metrics.add(ts(12, 3, 0), 20)
	f.evaluate(t, ts(12, 5, 5))
	a = f.storedAlarm(t, "north")
	if want := "Threshold Crossed: 1 datapoint [59.5 (01/03/26 12:00:00)] was not less than the threshold (10.0)."; a.StateValue != "OK" || a.StateReason != want {
		t.Errorf("after the good datapoint alarm = %s %q, want OK %q", a.StateValue, a.StateReason, want)
	}

	// No datapoint in the whole evaluation range: missing data.
	f.evaluate(t, ts(13, 0, 5))
	a = f.storedAlarm(t, "north")
	if a.StateValue != "INSUFFICIENT_DATA" || a.StateReason != "Insufficient Data: 2 datapoints were unknown." {
		t.Errorf("without data alarm = %s %q, want INSUFFICIENT_DATA", a.StateValue, a.StateReason)
	}

	want := []string{
		`ConfigurationUpdate: Alarm "north" created`,
		"StateUpdate: Alarm updated from INSUFFICIENT_DATA to ALARM",
		"StateUpdate: Alarm updated from ALARM to OK",
		"StateUpdate: Alarm updated from OK to INSUFFICIENT_DATA",
	}
	if diff := cmp.Diff(want, f.history(t, "north")); diff != "" {
		t.Errorf("history mismatch (-want +got):\n%s", diff)
	}
	if got, want := f.notified.take(), []string{"north: ALARM -> OK", "north: OK -> INSUFFICIENT_DATA"}; !cmp.Equal(got, want) {
		t.Errorf("notified %v, want %v", got, want)
	}
}

func TestAlarmEvaluatorStateUpdateHistoryData(t *testing.T) {
	f := newAlarmFixture(t)
	f.putAlarm(t, cpuAlarm("north"))
	f.metrics.add(ts(11, 50, 0), 1)
	f.metrics.add(ts(11, 55, 0), 2)
	f.evaluate(t, ts(12, 0, 5))
	out, err := f.ops.DescribeAlarmHistory(t.Context(), &iotdm.DescribeAlarmHistoryInput{AlarmName: "north", HistoryItemType: "StateUpdate"})
	if err != nil || len(out.AlarmHistoryItems) != 1 {
		t.Fatalf("DescribeAlarmHistory(StateUpdate) = %+v, %v, want 1 item", out, err)
	}
	h := out.AlarmHistoryItems[0]
	var data struct {
		Version  string
		OldState struct {
			StateValue, StateReason string
			StateReasonData         json.RawMessage
		}
		NewState struct {
			StateValue, StateReason string
			StateReasonData         map[string]any
		}
	}
	if err := json.Unmarshal([]byte(h.HistoryData), &data); err != nil {
		t.Fatalf("HistoryData %s: %v", h.HistoryData, err)
	}
	if data.Version != "1.0" || data.OldState.StateValue != "INSUFFICIENT_DATA" || data.OldState.StateReason != iotdm.AlarmInitialReason ||
		data.OldState.StateReasonData != nil || data.NewState.StateValue != "ALARM" || data.NewState.StateReasonData["period"] != 300.0 ||
		h.AlarmType != "MetricAlarm" || !h.Timestamp.Equal(ts(12, 0, 5)) {
		t.Errorf("StateUpdate item = %+v, data %+v", h, data)
	}
}

func TestAlarmEvaluatorQuery(t *testing.T) {
	f := newAlarmFixture(t)
	in := cpuAlarm("p90")
	in.Statistic, in.ExtendedStatistic, in.Unit = "", "p90", "Count"
	in.Period, in.EvaluationPeriods = monInt32(60), monInt32(3)
	f.putAlarm(t, in)
	f.evaluate(t, ts(12, 0, 5))
	want := []iotdm.MetricRange{{
		Metric: fleetMetric(), Start: ts(11, 55, 0), End: ts(12, 0, 0), Period: time.Minute, Unit: "Count", Percentiles: []float64{90},
	}}
	if diff := cmp.Diff(want, f.metrics.ranges); diff != "" {
		t.Errorf("MetricStatistics ranges mismatch (-want +got):\n%s", diff)
	}
}

func TestAlarmEvaluatorPercentile(t *testing.T) {
	f := newAlarmFixture(t)
	in := cpuAlarm("p50")
	in.Statistic, in.ExtendedStatistic = "", "p50"
	in.ComparisonOperator, in.Threshold = "GreaterThanThreshold", monFloat(3)
	in.Period, in.EvaluationPeriods = monInt32(60), monInt32(1)
	f.putAlarm(t, in)
	f.metrics.add(ts(11, 59, 0), 1, 2, 4, 8, 16)
	f.evaluate(t, ts(12, 0, 5))
	if a := f.storedAlarm(t, "p50"); a.StateValue != "ALARM" || !strings.Contains(a.StateReason, "[4.0 (01/03/26 11:59:00)]") {
		t.Errorf("p50 alarm = %s %q, want ALARM on the median 4.0", a.StateValue, a.StateReason)
	}
}

func TestAlarmEvaluatorUnevaluable(t *testing.T) {
	f := newAlarmFixture(t)
	math := &iotdm.PutMetricAlarmInput{
		AlarmName: "math", EvaluationPeriods: monInt32(1), Threshold: monFloat(1), ComparisonOperator: "GreaterThanThreshold",
		Metrics: []iotdm.MetricDataQuery{
			{ID: "m1", MetricStat: &iotdm.MetricStat{Metric: fleetMetric(), Period: 60, Stat: "Sum"}, ReturnData: monBool(false)},
			{ID: "e1", Expression: "m1 * 2"},
		},
	}
	trimmed := cpuAlarm("trimmed")
	trimmed.Statistic, trimmed.ExtendedStatistic = "", "tm90"
	f.putAlarm(t, math)
	f.putAlarm(t, trimmed)
	f.metrics.add(ts(11, 55, 0), 1)

	f.evaluate(t, ts(12, 0, 5))
	for name, reason := range map[string]string{
		"math":    "iotdm does not evaluate metric math alarms (Metrics); the alarm keeps its state.",
		"trimmed": "iotdm evaluates percentile extended statistics (pNN.NN) only, not tm90; the alarm keeps its state.",
	} {
		a := f.storedAlarm(t, name)
		if a.StateValue != "INSUFFICIENT_DATA" || a.EvaluationState != "EVALUATION_ERROR" || a.StateReason != reason {
			t.Errorf("alarm %s = %s %s %q, want INSUFFICIENT_DATA EVALUATION_ERROR %q", name, a.StateValue, a.EvaluationState, a.StateReason, reason)
		}
	}
	// Said once.
	seq := f.lastSeq(t)
	f.evaluate(t, ts(12, 1, 5))
	if changes := f.changesSince(t, seq); len(changes) != 0 {
		t.Errorf("changes of a second evaluation = %v, want none", changes)
	}
	// Redefined into an alarm it evaluates: the error goes.
	f.putAlarm(t, cpuAlarm("trimmed"))
	f.metrics.add(ts(12, 0, 0), 2)
	f.evaluate(t, ts(12, 5, 5))
	if a := f.storedAlarm(t, "trimmed"); a.EvaluationState != "" || a.StateValue != "ALARM" {
		t.Errorf("redefined alarm = %s %q, want ALARM without EvaluationState", a.StateValue, a.EvaluationState)
	}
	if got := f.notified.take(); !cmp.Equal(got, []string{"trimmed: INSUFFICIENT_DATA -> ALARM"}) {
		t.Errorf("notified %v, want the redefined alarm's change only", got)
	}
}

// TestAlarmEvaluatorConcurrentChange: an alarm set by SetAlarmState while
// its metric is read keeps the state it was set to.
func TestAlarmEvaluatorConcurrentChange(t *testing.T) {
	f := newAlarmFixture(t)
	f.putAlarm(t, cpuAlarm("north"))
	f.metrics.add(ts(11, 50, 0), 1)
	f.metrics.add(ts(11, 55, 0), 1)
	f.metrics.onQuery = func() {
		f.metrics.onQuery = nil
		if _, err := f.ops.SetAlarmState(t.Context(), &iotdm.SetAlarmStateInput{AlarmName: "north", StateValue: "OK", StateReason: "testing"}); err != nil {
			t.Error(err)
		}
	}
	f.evaluate(t, ts(12, 0, 5))
	if a := f.storedAlarm(t, "north"); a.StateValue != "OK" || a.StateReason != "testing" {
		t.Errorf("alarm = %s %q, want the state SetAlarmState set", a.StateValue, a.StateReason)
	}
	// The next tick evaluates it again.
	f.evaluate(t, ts(12, 1, 5))
	if a := f.storedAlarm(t, "north"); a.StateValue != "ALARM" {
		t.Errorf("alarm after the next tick = %s, want ALARM", a.StateValue)
	}
}

func TestAlarmEvaluatorPrunesHistory(t *testing.T) {
	f := newAlarmFixture(t)
	if _, err := f.ops.PutMetricAlarm(t.Context(), cpuAlarm("north")); err != nil { // its creation, at 11:00
		t.Fatal(err)
	}
	f.evaluate(t, ts(12, 0, 5)) // INSUFFICIENT_DATA: no change, and the history is young
	if got := f.history(t, "north"); len(got) != 1 {
		t.Fatalf("history = %v, want the creation", got)
	}
	f.evaluate(t, ts(12, 0, 5).Add(31*24*time.Hour))
	if got := f.history(t, "north"); len(got) != 0 {
		t.Errorf("history after 31 days = %v, want none", got)
	}
}

func TestAlarmEvaluatorRunStops(t *testing.T) {
	f := newAlarmFixture(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := f.eval.Run(ctx); err != context.Canceled {
		t.Errorf("Run(canceled) = %v, want context.Canceled", err)
	}
}
