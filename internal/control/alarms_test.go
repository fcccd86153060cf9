package control_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/iotdm/iotdm"
)

func monFloat(v float64) *float64 { return &v }
func monBool(v bool) *bool        { return &v }

// cpuAlarm is a valid single-metric alarm request.
func cpuAlarm(name string) *iotdm.PutMetricAlarmInput {
	return &iotdm.PutMetricAlarmInput{
		AlarmName:          name,
		MetricName:         "ConnectedDevices",
		Namespace:          "IoTFleetMetrics",
		Statistic:          "Average",
		Dimensions:         []iotdm.Dimension{{Name: "Fleet", Value: "north"}},
		Period:             monInt32(300),
		EvaluationPeriods:  monInt32(2),
		Threshold:          monFloat(10),
		ComparisonOperator: "LessThanThreshold",
	}
}

func (f *monitorFixture) putAlarm(t *testing.T, in *iotdm.PutMetricAlarmInput) {
	t.Helper()
	if _, err := f.alarms.PutMetricAlarm(t.Context(), in); err != nil {
		t.Fatalf("PutMetricAlarm(%s): %v", in.AlarmName, err)
	}
}

func (f *monitorFixture) describeAlarm(t *testing.T, name string) iotdm.MetricAlarm {
	t.Helper()
	out, err := f.alarms.DescribeAlarms(t.Context(), &iotdm.DescribeAlarmsInput{AlarmNames: []string{name}})
	if err != nil || len(out.MetricAlarms) != 1 {
		t.Fatalf("DescribeAlarms(%s) = %+v, %v", name, out, err)
	}
	return out.MetricAlarms[0]
}

func (f *monitorFixture) storedAlarm(t *testing.T, name string) iotdm.StoredAlarm {
	t.Helper()
	b, ok, err := f.db.Get(t.Context(), iotdm.KindAlarm, name)
	if err != nil || !ok {
		t.Fatalf("Get alarm %s = %v, %v", name, ok, err)
	}
	var s iotdm.StoredAlarm
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPutMetricAlarmCreates(t *testing.T) {
	f := newMonitorFixture(t)
	seq := f.lastSeq(t)
	in := cpuAlarm("DisconnectedDevicesAlarm")
	in.AlarmActions = []string{"arn:aws:sns:us-east-1:123456789012:ops"}
	in.Tags = []iotdm.Tag{{Key: "team", Value: "fleet"}}
	f.putAlarm(t, in)
	created := iotdm.Timestamp{Time: f.now}
	want := iotdm.MetricAlarm{
		AlarmName:                          "DisconnectedDevicesAlarm",
		AlarmArn:                           "arn:aws:cloudwatch:us-east-1:123456789012:alarm:DisconnectedDevicesAlarm",
		AlarmConfigurationUpdatedTimestamp: created,
		ActionsEnabled:                     true,
		OKActions:                          []string{},
		AlarmActions:                       []string{"arn:aws:sns:us-east-1:123456789012:ops"},
		InsufficientDataActions:            []string{},
		StateValue:                         "INSUFFICIENT_DATA",
		StateReason:                        "Unchecked: Initial alarm creation",
		StateUpdatedTimestamp:              created,
		StateTransitionedTimestamp:         created,
		MetricName:                         "ConnectedDevices",
		Namespace:                          "IoTFleetMetrics",
		Statistic:                          "Average",
		Dimensions:                         []iotdm.Dimension{{Name: "Fleet", Value: "north"}},
		Period:                             300,
		EvaluationPeriods:                  2,
		Threshold:                          monFloat(10),
		ComparisonOperator:                 "LessThanThreshold",
	}
	if diff := cmp.Diff(want, f.describeAlarm(t, "DisconnectedDevicesAlarm")); diff != "" {
		t.Errorf("described (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]iotdm.Tag{{Key: "team", Value: "fleet"}}, f.storedAlarm(t, "DisconnectedDevicesAlarm").Tags); diff != "" {
		t.Errorf("stored tags (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"put alarm/DisconnectedDevicesAlarm"}, f.changesSince(t, seq)); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
}

func TestPutMetricAlarmReplacesConfigurationKeepsState(t *testing.T) {
	f := newMonitorFixture(t)
	created := f.now
	in := cpuAlarm("a")
	in.Tags = []iotdm.Tag{{Key: "k", Value: "v"}}
	f.putAlarm(t, in)

	// The evaluator (a later issue) moves the alarm to ALARM.
	err := f.db.Update(t.Context(), func(ctx context.Context, tx iotdm.Tx) error {
		s := f.storedAlarm(t, "a")
		s.StateValue, s.StateReason, s.StateReasonData = "ALARM", "Threshold Crossed", `{"version":"1.0"}`
		b, _ := json.Marshal(s)
		return tx.Put(ctx, iotdm.KindAlarm, "a", b)
	})
	if err != nil {
		t.Fatal(err)
	}

	f.now = f.now.Add(time.Hour)
	update := cpuAlarm("a")
	update.Statistic, update.Threshold, update.ActionsEnabled = "", monFloat(3), monBool(false)
	update.ExtendedStatistic = "p99"
	update.TreatMissingData = "breaching"
	update.DatapointsToAlarm = monInt32(1)
	update.Tags = []iotdm.Tag{{Key: "ignored", Value: "on update"}}
	f.putAlarm(t, update)

	got := f.describeAlarm(t, "a")
	if got.StateValue != "ALARM" || got.StateReason != "Threshold Crossed" || got.StateReasonData != `{"version":"1.0"}` ||
		!got.StateUpdatedTimestamp.Equal(created) {
		t.Errorf("state after update = %s %q %q %v, want the evaluator's", got.StateValue, got.StateReason, got.StateReasonData, got.StateUpdatedTimestamp)
	}
	if got.Statistic != "" || got.ExtendedStatistic != "p99" || *got.Threshold != 3 || got.ActionsEnabled ||
		got.TreatMissingData != "breaching" || got.DatapointsToAlarm != 1 || !got.AlarmConfigurationUpdatedTimestamp.Equal(f.now) {
		t.Errorf("configuration after update = %+v", got)
	}
	if diff := cmp.Diff([]iotdm.Tag{{Key: "k", Value: "v"}}, f.storedAlarm(t, "a").Tags); diff != "" {
		t.Errorf("tags after update (-want +got):\n%s", diff)
	}
}

func TestPutMetricAlarmMetricMathAndAnomalyBand(t *testing.T) {
	f := newMonitorFixture(t)
	math := &iotdm.PutMetricAlarmInput{
		AlarmName: "ratio",
		Metrics: []iotdm.MetricDataQuery{
			{ID: "errors", MetricStat: &iotdm.MetricStat{Metric: iotdm.Metric{Namespace: "App", MetricName: "Errors"}, Period: 60, Stat: "Sum"}, ReturnData: monBool(false)},
			{ID: "requests", MetricStat: &iotdm.MetricStat{Metric: iotdm.Metric{Namespace: "App", MetricName: "Requests"}, Period: 60, Stat: "Sum"}, ReturnData: monBool(false)},
			{ID: "rate", Expression: "errors / requests * 100", Label: "Error rate"},
		},
		EvaluationPeriods:  monInt32(5),
		Threshold:          monFloat(1),
		ComparisonOperator: "GreaterThanThreshold",
	}
	f.putAlarm(t, math)
	got := f.describeAlarm(t, "ratio")
	if diff := cmp.Diff(math.Metrics, got.Metrics); diff != "" {
		t.Errorf("stored metrics (-want +got):\n%s", diff)
	}
	if got.MetricName != "" || got.Period != 0 || got.Dimensions == nil {
		t.Errorf("metric math alarm = %+v", got)
	}

	band := &iotdm.PutMetricAlarmInput{
		AlarmName: "band",
		Metrics: []iotdm.MetricDataQuery{
			{ID: "m1", MetricStat: &iotdm.MetricStat{Metric: iotdm.Metric{Namespace: "App", MetricName: "Latency"}, Period: 300, Stat: "p90"}},
			{ID: "ad1", Expression: "ANOMALY_DETECTION_BAND(m1, 2)", ReturnData: monBool(false)},
		},
		ThresholdMetricID:  "ad1",
		EvaluationPeriods:  monInt32(3),
		ComparisonOperator: "LessThanLowerOrGreaterThanUpperThreshold",
	}
	f.putAlarm(t, band)
	if got := f.describeAlarm(t, "band"); got.ThresholdMetricID != "ad1" || got.Threshold != nil {
		t.Errorf("anomaly band alarm = %+v", got)
	}

	promql := &iotdm.PutMetricAlarmInput{
		AlarmName:          "promql",
		EvaluationCriteria: &iotdm.EvaluationCriteria{PromQLCriteria: &iotdm.AlarmPromQLCriteria{Query: `up == 0`, PendingPeriod: monInt32(60)}},
		EvaluationInterval: monInt32(60),
	}
	f.putAlarm(t, promql)
	if got := f.describeAlarm(t, "promql"); got.StateValue != "OK" || got.EvaluationInterval != 60 || got.EvaluationCriteria.PromQLCriteria.Query != "up == 0" {
		t.Errorf("PromQL alarm = %+v", got)
	}
}

func TestPutMetricAlarmValidation(t *testing.T) {
	f := newMonitorFixture(t)
	tests := []struct {
		name   string
		edit   func(in *iotdm.PutMetricAlarmInput)
		code   iotdm.ErrorCode
		substr string
	}{
		{"no name", func(in *iotdm.PutMetricAlarmInput) { in.AlarmName = "" }, iotdm.ErrCloudWatchValidation, "'alarmName'"},
		{"name of 256", func(in *iotdm.PutMetricAlarmInput) { in.AlarmName = strings.Repeat("a", 256) }, iotdm.ErrCloudWatchValidation, "less than or equal to 255"},
		{"control character in name", func(in *iotdm.PutMetricAlarmInput) { in.AlarmName = "a\tb" }, iotdm.ErrInvalidParameterValue, "control characters"},
		{"description of 1025", func(in *iotdm.PutMetricAlarmInput) { in.AlarmDescription = strings.Repeat("d", 1025) }, iotdm.ErrCloudWatchValidation, "alarmDescription"},
		{"six alarm actions", func(in *iotdm.PutMetricAlarmInput) {
			in.AlarmActions = strings.Split(strings.Repeat("arn:aws:sns:us-east-1:123456789012:t,", 6), ",")[:6]
		}, iotdm.ErrCloudWatchValidation, "'alarmActions'"},
		{"six OK actions", func(in *iotdm.PutMetricAlarmInput) {
			in.OKActions = strings.Split(strings.Repeat("arn:aws:sns:us-east-1:123456789012:t,", 6), ",")[:6]
		}, iotdm.ErrCloudWatchValidation, "'oKActions'"},
		{"six insufficient data actions", func(in *iotdm.PutMetricAlarmInput) {
			in.InsufficientDataActions = strings.Split(strings.Repeat("arn:aws:sns:us-east-1:123456789012:t,", 6), ",")[:6]
		}, iotdm.ErrCloudWatchValidation, "'insufficientDataActions'"},
		{"action not an ARN", func(in *iotdm.PutMetricAlarmInput) { in.AlarmActions = []string{"ops-topic"} }, iotdm.ErrCloudWatchValidation, "Invalid arn"},
		{"no metric at all", func(in *iotdm.PutMetricAlarmInput) {
			in.MetricName, in.Namespace, in.Statistic, in.Dimensions, in.Period = "", "", "", nil, nil
		}, iotdm.ErrMissingParameter, "MetricName, Metrics or EvaluationCriteria"},
		{"no metric name", func(in *iotdm.PutMetricAlarmInput) { in.MetricName = "" }, iotdm.ErrMissingParameter, "MetricName"},
		{"no namespace", func(in *iotdm.PutMetricAlarmInput) { in.Namespace = "" }, iotdm.ErrMissingParameter, "Namespace"},
		{"namespace starting with a colon", func(in *iotdm.PutMetricAlarmInput) { in.Namespace = ":x" }, iotdm.ErrCloudWatchValidation, "namespace"},
		{"31 dimensions", func(in *iotdm.PutMetricAlarmInput) {
			in.Dimensions = nil
			for i := range 31 {
				in.Dimensions = append(in.Dimensions, iotdm.Dimension{Name: fmt.Sprint(i), Value: "v"})
			}
		}, iotdm.ErrCloudWatchValidation, "dimensions"},
		{"empty dimension value", func(in *iotdm.PutMetricAlarmInput) { in.Dimensions = []iotdm.Dimension{{Name: "a"}} }, iotdm.ErrCloudWatchValidation, "dimensions.member.1.value"},
		{"statistic and extended statistic", func(in *iotdm.PutMetricAlarmInput) { in.ExtendedStatistic = "p99" }, iotdm.ErrInvalidParameterCombination, "Statistic and ExtendedStatistic"},
		{"neither statistic", func(in *iotdm.PutMetricAlarmInput) { in.Statistic = "" }, iotdm.ErrMissingParameter, "Statistic or ExtendedStatistic"},
		{"unknown statistic", func(in *iotdm.PutMetricAlarmInput) { in.Statistic = "Median" }, iotdm.ErrCloudWatchValidation, "enum value set: [SampleCount, Average, Sum, Minimum, Maximum]"},
		{"percentile over 100", func(in *iotdm.PutMetricAlarmInput) { in.Statistic, in.ExtendedStatistic = "", "p100.5" }, iotdm.ErrInvalidParameterValue, "ExtendedStatistic"},
		{"unknown extended statistic", func(in *iotdm.PutMetricAlarmInput) { in.Statistic, in.ExtendedStatistic = "", "median" }, iotdm.ErrInvalidParameterValue, "ExtendedStatistic"},
		{"no period", func(in *iotdm.PutMetricAlarmInput) { in.Period = nil }, iotdm.ErrMissingParameter, "Period"},
		{"period 45", func(in *iotdm.PutMetricAlarmInput) { in.Period = monInt32(45) }, iotdm.ErrCloudWatchValidation, "Period must be 10, 20, 30 or a multiple of 60"},
		{"period 0", func(in *iotdm.PutMetricAlarmInput) { in.Period = monInt32(0) }, iotdm.ErrCloudWatchValidation, "Period must be"},
		{"unknown unit", func(in *iotdm.PutMetricAlarmInput) { in.Unit = "Parsecs" }, iotdm.ErrCloudWatchValidation, "'unit'"},
		{"no evaluation periods", func(in *iotdm.PutMetricAlarmInput) { in.EvaluationPeriods = nil }, iotdm.ErrMissingParameter, "EvaluationPeriods"},
		{"zero evaluation periods", func(in *iotdm.PutMetricAlarmInput) { in.EvaluationPeriods = monInt32(0) }, iotdm.ErrCloudWatchValidation, "greater than or equal to 1"},
		{"datapoints above evaluation periods", func(in *iotdm.PutMetricAlarmInput) { in.DatapointsToAlarm = monInt32(3) }, iotdm.ErrCloudWatchValidation, "DatapointsToAlarm must be less than or equal to EvaluationPeriods"},
		{"zero datapoints", func(in *iotdm.PutMetricAlarmInput) { in.DatapointsToAlarm = monInt32(0) }, iotdm.ErrCloudWatchValidation, "datapointsToAlarm"},
		{"more than a day of short periods", func(in *iotdm.PutMetricAlarmInput) {
			in.Period, in.EvaluationPeriods = monInt32(60), monInt32(1441)
		}, iotdm.ErrCloudWatchValidation, "one day"},
		{"more than seven days", func(in *iotdm.PutMetricAlarmInput) {
			in.Period, in.EvaluationPeriods = monInt32(3600), monInt32(169)
		}, iotdm.ErrCloudWatchValidation, "7 days"},
		{"no comparison operator", func(in *iotdm.PutMetricAlarmInput) { in.ComparisonOperator = "" }, iotdm.ErrMissingParameter, "ComparisonOperator"},
		{"unknown comparison operator", func(in *iotdm.PutMetricAlarmInput) { in.ComparisonOperator = "Equal" }, iotdm.ErrCloudWatchValidation, "'comparisonOperator'"},
		{"no threshold", func(in *iotdm.PutMetricAlarmInput) { in.Threshold = nil }, iotdm.ErrMissingParameter, "Threshold"},
		{"band operator without band", func(in *iotdm.PutMetricAlarmInput) { in.ComparisonOperator = "GreaterThanUpperThreshold" }, iotdm.ErrCloudWatchValidation, "requires ThresholdMetricId"},
		{"threshold metric with a single metric", func(in *iotdm.PutMetricAlarmInput) {
			in.Threshold, in.ThresholdMetricID, in.ComparisonOperator = nil, "ad1", "GreaterThanUpperThreshold"
		}, iotdm.ErrInvalidParameterCombination, "ThresholdMetricId"},
		{"unknown treat missing data", func(in *iotdm.PutMetricAlarmInput) { in.TreatMissingData = "zero" }, iotdm.ErrCloudWatchValidation, "breaching, notBreaching, ignore, missing"},
		{"unknown low sample count option", func(in *iotdm.PutMetricAlarmInput) { in.EvaluateLowSampleCountPercentile = "skip" }, iotdm.ErrCloudWatchValidation, "EvaluateLowSampleCountPercentile"},
		{"metric and metrics", func(in *iotdm.PutMetricAlarmInput) {
			in.Metrics = []iotdm.MetricDataQuery{{ID: "e", Expression: "1"}}
		}, iotdm.ErrInvalidParameterCombination, "If you specify Metrics"},
		{"evaluation interval without criteria", func(in *iotdm.PutMetricAlarmInput) { in.EvaluationInterval = monInt32(60) }, iotdm.ErrInvalidParameterCombination, "EvaluationInterval"},
		{"criteria with a metric", func(in *iotdm.PutMetricAlarmInput) {
			in.EvaluationCriteria = &iotdm.EvaluationCriteria{PromQLCriteria: &iotdm.AlarmPromQLCriteria{Query: "up"}}
		}, iotdm.ErrInvalidParameterCombination, "EvaluationCriteria"},
		{"51 tags", func(in *iotdm.PutMetricAlarmInput) {
			for i := range 51 {
				in.Tags = append(in.Tags, iotdm.Tag{Key: fmt.Sprint(i)})
			}
		}, iotdm.ErrCloudWatchLimitExceeded, "50 tags"},
		{"empty tag key", func(in *iotdm.PutMetricAlarmInput) { in.Tags = []iotdm.Tag{{Value: "v"}} }, iotdm.ErrCloudWatchValidation, "tags.member.1.key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := cpuAlarm("v")
			tt.edit(in)
			_, err := f.alarms.PutMetricAlarm(t.Context(), in)
			wantMonCode(t, "PutMetricAlarm", err, tt.code, tt.substr)
		})
	}

	// Boundaries that are accepted.
	for _, edit := range []func(in *iotdm.PutMetricAlarmInput){
		func(in *iotdm.PutMetricAlarmInput) { in.Period = monInt32(10) },
		func(in *iotdm.PutMetricAlarmInput) { in.Period = monInt32(30) },
		func(in *iotdm.PutMetricAlarmInput) { in.Period, in.EvaluationPeriods = monInt32(60), monInt32(1440) },
		func(in *iotdm.PutMetricAlarmInput) { in.Period, in.EvaluationPeriods = monInt32(3600), monInt32(168) },
		func(in *iotdm.PutMetricAlarmInput) { in.DatapointsToAlarm = monInt32(2) },
		func(in *iotdm.PutMetricAlarmInput) { in.Statistic, in.ExtendedStatistic = "", "p99.9" },
		func(in *iotdm.PutMetricAlarmInput) { in.Statistic, in.ExtendedStatistic = "", "TM(10%:90%)" },
		func(in *iotdm.PutMetricAlarmInput) { in.Statistic, in.ExtendedStatistic = "", "IQM" },
		func(in *iotdm.PutMetricAlarmInput) { in.AlarmName = strings.Repeat("é", 127) },
		func(in *iotdm.PutMetricAlarmInput) { in.Unit = "Count/Second" },
		func(in *iotdm.PutMetricAlarmInput) { in.TreatMissingData = "notBreaching" },
		func(in *iotdm.PutMetricAlarmInput) {
			in.AlarmActions = []string{"a", "b", "c", "d", "e"}
			for i := range in.AlarmActions {
				in.AlarmActions[i] = "arn:aws:sns:us-east-1:123456789012:t" + fmt.Sprint(i)
			}
		},
	} {
		in := cpuAlarm("ok")
		edit(in)
		if _, err := f.alarms.PutMetricAlarm(t.Context(), in); err != nil {
			t.Errorf("PutMetricAlarm(%+v) = %v, want success", in, err)
		}
	}
}

func TestPutMetricAlarmMetricsValidation(t *testing.T) {
	f := newMonitorFixture(t)
	stat := func(id string, ret *bool) iotdm.MetricDataQuery {
		return iotdm.MetricDataQuery{ID: id, ReturnData: ret,
			MetricStat: &iotdm.MetricStat{Metric: iotdm.Metric{Namespace: "App", MetricName: "Errors"}, Period: 60, Stat: "Sum"}}
	}
	tests := []struct {
		name    string
		metrics []iotdm.MetricDataQuery
		edit    func(in *iotdm.PutMetricAlarmInput)
		code    iotdm.ErrorCode
		substr  string
	}{
		{name: "two returning data", metrics: []iotdm.MetricDataQuery{stat("a", nil), stat("b", nil)},
			code: iotdm.ErrCloudWatchValidation, substr: "Exactly one element of the metrics list should return data."},
		{name: "none returning data", metrics: []iotdm.MetricDataQuery{stat("a", monBool(false))},
			code: iotdm.ErrCloudWatchValidation, substr: "should return data"},
		{name: "id with capital first letter", metrics: []iotdm.MetricDataQuery{stat("A", nil)},
			code: iotdm.ErrCloudWatchValidation, substr: "lowercase letter"},
		{name: "duplicate id", metrics: []iotdm.MetricDataQuery{stat("a", nil), stat("a", monBool(false))},
			code: iotdm.ErrCloudWatchValidation, substr: "more than once"},
		{name: "missing id", metrics: []iotdm.MetricDataQuery{stat("", nil)},
			code: iotdm.ErrCloudWatchValidation, substr: "metrics.member.1.id"},
		{name: "neither stat nor expression", metrics: []iotdm.MetricDataQuery{{ID: "a"}},
			code: iotdm.ErrCloudWatchValidation, substr: "exactly one of MetricStat and Expression"},
		{name: "both stat and expression", metrics: []iotdm.MetricDataQuery{func() iotdm.MetricDataQuery { q := stat("a", nil); q.Expression = "1"; return q }()},
			code: iotdm.ErrCloudWatchValidation, substr: "exactly one of MetricStat and Expression"},
		{name: "stat period 45", metrics: []iotdm.MetricDataQuery{func() iotdm.MetricDataQuery { q := stat("a", nil); q.MetricStat.Period = 45; return q }()},
			code: iotdm.ErrCloudWatchValidation, substr: "Period must be"},
		{name: "unknown stat", metrics: []iotdm.MetricDataQuery{func() iotdm.MetricDataQuery { q := stat("a", nil); q.MetricStat.Stat = "Median"; return q }()},
			code: iotdm.ErrInvalidParameterValue, substr: "Stat"},
		{name: "stat without metric name", metrics: []iotdm.MetricDataQuery{func() iotdm.MetricDataQuery { q := stat("a", nil); q.MetricStat.Metric.MetricName = ""; return q }()},
			code: iotdm.ErrMissingParameter, substr: "MetricStat.Metric.MetricName"},
		{name: "expression too long", metrics: []iotdm.MetricDataQuery{{ID: "e", Expression: strings.Repeat("1", 2049)}},
			code: iotdm.ErrCloudWatchValidation, substr: "expression"},
		{name: "threshold metric id not an expression", metrics: []iotdm.MetricDataQuery{stat("m", nil)},
			edit: func(in *iotdm.PutMetricAlarmInput) {
				in.Threshold, in.ThresholdMetricID, in.ComparisonOperator = nil, "m", "GreaterThanUpperThreshold"
			}, code: iotdm.ErrCloudWatchValidation, substr: "ThresholdMetricId m"},
		{name: "threshold and threshold metric id", metrics: []iotdm.MetricDataQuery{stat("m", nil), {ID: "ad", Expression: "ANOMALY_DETECTION_BAND(m)", ReturnData: monBool(false)}},
			edit: func(in *iotdm.PutMetricAlarmInput) {
				in.ThresholdMetricID, in.ComparisonOperator = "ad", "GreaterThanUpperThreshold"
			},
			code: iotdm.ErrInvalidParameterCombination, substr: "Threshold and ThresholdMetricId"},
		{name: "threshold metric id with a plain operator", metrics: []iotdm.MetricDataQuery{stat("m", nil), {ID: "ad", Expression: "ANOMALY_DETECTION_BAND(m)", ReturnData: monBool(false)}},
			edit: func(in *iotdm.PutMetricAlarmInput) { in.Threshold, in.ThresholdMetricID = nil, "ad" },
			code: iotdm.ErrCloudWatchValidation, substr: "not valid for an alarm with ThresholdMetricId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &iotdm.PutMetricAlarmInput{AlarmName: "m", Metrics: tt.metrics, EvaluationPeriods: monInt32(1),
				Threshold: monFloat(1), ComparisonOperator: "GreaterThanThreshold"}
			if tt.edit != nil {
				tt.edit(in)
			}
			_, err := f.alarms.PutMetricAlarm(t.Context(), in)
			wantMonCode(t, "PutMetricAlarm", err, tt.code, tt.substr)
		})
	}
}

func TestPutMetricAlarmPromQLValidation(t *testing.T) {
	f := newMonitorFixture(t)
	tests := []struct {
		name   string
		in     iotdm.PutMetricAlarmInput
		code   iotdm.ErrorCode
		substr string
	}{
		{"no criteria", iotdm.PutMetricAlarmInput{EvaluationCriteria: &iotdm.EvaluationCriteria{}, EvaluationInterval: monInt32(60)},
			iotdm.ErrMissingParameter, "PromQLCriteria"},
		{"empty query", iotdm.PutMetricAlarmInput{EvaluationCriteria: &iotdm.EvaluationCriteria{PromQLCriteria: &iotdm.AlarmPromQLCriteria{}}, EvaluationInterval: monInt32(60)},
			iotdm.ErrCloudWatchValidation, "query"},
		{"no interval", iotdm.PutMetricAlarmInput{EvaluationCriteria: &iotdm.EvaluationCriteria{PromQLCriteria: &iotdm.AlarmPromQLCriteria{Query: "up"}}},
			iotdm.ErrMissingParameter, "EvaluationInterval"},
		{"interval 7200", iotdm.PutMetricAlarmInput{EvaluationCriteria: &iotdm.EvaluationCriteria{PromQLCriteria: &iotdm.AlarmPromQLCriteria{Query: "up"}}, EvaluationInterval: monInt32(7200)},
			iotdm.ErrCloudWatchValidation, "EvaluationInterval"},
		{"pending period over a day", iotdm.PutMetricAlarmInput{EvaluationCriteria: &iotdm.EvaluationCriteria{PromQLCriteria: &iotdm.AlarmPromQLCriteria{Query: "up", PendingPeriod: monInt32(86401)}}, EvaluationInterval: monInt32(60)},
			iotdm.ErrCloudWatchValidation, "pendingPeriod"},
		{"with evaluation periods", iotdm.PutMetricAlarmInput{EvaluationCriteria: &iotdm.EvaluationCriteria{PromQLCriteria: &iotdm.AlarmPromQLCriteria{Query: "up"}}, EvaluationInterval: monInt32(60), EvaluationPeriods: monInt32(1)},
			iotdm.ErrInvalidParameterCombination, "EvaluationCriteria"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.AlarmName = "p"
			_, err := f.alarms.PutMetricAlarm(t.Context(), &tt.in)
			wantMonCode(t, "PutMetricAlarm", err, tt.code, tt.substr)
		})
	}
}

func TestDescribeAlarms(t *testing.T) {
	f := newMonitorFixture(t)
	ctx := t.Context()
	for _, n := range []string{"app-errors", "app-latency", "db-cpu", "db-disk", "fleet"} {
		in := cpuAlarm(n)
		if strings.HasPrefix(n, "db-") {
			in.OKActions = []string{"arn:aws:sns:us-east-1:123456789012:db-team"}
		}
		f.putAlarm(t, in)
	}
	// The evaluator (a later issue) puts db-disk in ALARM.
	if err := f.db.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		s := f.storedAlarm(t, "db-disk")
		s.StateValue = "ALARM"
		b, _ := json.Marshal(s)
		return tx.Put(ctx, iotdm.KindAlarm, "db-disk", b)
	}); err != nil {
		t.Fatal(err)
	}
	names := func(in iotdm.DescribeAlarmsInput) []string {
		t.Helper()
		out, err := f.alarms.DescribeAlarms(ctx, &in)
		if err != nil {
			t.Fatalf("DescribeAlarms(%+v): %v", in, err)
		}
		if out.CompositeAlarms == nil || len(out.CompositeAlarms) != 0 || out.MetricAlarms == nil {
			t.Errorf("DescribeAlarms(%+v) = %+v", in, out)
		}
		var ns []string
		for _, a := range out.MetricAlarms {
			ns = append(ns, a.AlarmName)
		}
		return ns
	}
	tests := []struct {
		name string
		in   iotdm.DescribeAlarmsInput
		want []string
	}{
		{"all", iotdm.DescribeAlarmsInput{}, []string{"app-errors", "app-latency", "db-cpu", "db-disk", "fleet"}},
		{"names, in name order, missing skipped", iotdm.DescribeAlarmsInput{AlarmNames: []string{"fleet", "nope", "app-errors", "fleet"}}, []string{"app-errors", "fleet"}},
		{"prefix", iotdm.DescribeAlarmsInput{AlarmNamePrefix: "db-"}, []string{"db-cpu", "db-disk"}},
		{"state", iotdm.DescribeAlarmsInput{StateValue: "ALARM"}, []string{"db-disk"}},
		{"prefix and state", iotdm.DescribeAlarmsInput{AlarmNamePrefix: "app", StateValue: "INSUFFICIENT_DATA"}, []string{"app-errors", "app-latency"}},
		{"action prefix", iotdm.DescribeAlarmsInput{ActionPrefix: "arn:aws:sns:us-east-1:123456789012:db"}, []string{"db-cpu", "db-disk"}},
		{"metric alarm type", iotdm.DescribeAlarmsInput{AlarmTypes: []string{"MetricAlarm"}, AlarmNamePrefix: "f"}, []string{"fleet"}},
		{"composite alarms only", iotdm.DescribeAlarmsInput{AlarmTypes: []string{"CompositeAlarm"}}, nil},
		{"children of an alarm", iotdm.DescribeAlarmsInput{ChildrenOfAlarmName: "fleet"}, nil},
		{"parents of an alarm", iotdm.DescribeAlarmsInput{ParentsOfAlarmName: "fleet"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, names(tt.in)); diff != "" {
				t.Errorf("names (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("pages by MaxRecords", func(t *testing.T) {
		for _, in := range []iotdm.DescribeAlarmsInput{{}, {AlarmNames: []string{"fleet", "db-cpu", "app-errors"}}} {
			var got []string
			pages := 0
			for {
				in.MaxRecords = monInt32(2)
				out, err := f.alarms.DescribeAlarms(ctx, &in)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				for _, a := range out.MetricAlarms {
					got = append(got, a.AlarmName)
				}
				if in.NextToken = out.NextToken; in.NextToken == "" {
					break
				}
			}
			want := names(iotdm.DescribeAlarmsInput{AlarmNames: in.AlarmNames})
			if diff := cmp.Diff(want, got); diff != "" || pages != (len(want)+1)/2 {
				t.Errorf("%d pages, names (-want +got):\n%s", pages, diff)
			}
		}
	})

	refused := []struct {
		name   string
		in     iotdm.DescribeAlarmsInput
		code   iotdm.ErrorCode
		substr string
	}{
		{"names and prefix", iotdm.DescribeAlarmsInput{AlarmNames: []string{"a"}, AlarmNamePrefix: "a"}, iotdm.ErrInvalidParameterCombination, ""},
		{"MaxRecords 0", iotdm.DescribeAlarmsInput{MaxRecords: monInt32(0)}, iotdm.ErrCloudWatchValidation, "maxRecords"},
		{"MaxRecords 101", iotdm.DescribeAlarmsInput{MaxRecords: monInt32(101)}, iotdm.ErrCloudWatchValidation, "maxRecords"},
		{"unknown state", iotdm.DescribeAlarmsInput{StateValue: "BAD"}, iotdm.ErrCloudWatchValidation, "stateValue"},
		{"unknown type", iotdm.DescribeAlarmsInput{AlarmTypes: []string{"Alarm"}}, iotdm.ErrCloudWatchValidation, "alarmTypes"},
		{"101 names", iotdm.DescribeAlarmsInput{AlarmNames: make([]string, 101)}, iotdm.ErrCloudWatchValidation, "alarmNames"},
		{"bad token", iotdm.DescribeAlarmsInput{NextToken: "garbage!"}, iotdm.ErrInvalidNextToken, ""},
		{"children with a state", iotdm.DescribeAlarmsInput{ChildrenOfAlarmName: "a", StateValue: "OK"}, iotdm.ErrCloudWatchValidation, "ChildrenOfAlarmName"},
	}
	for _, tt := range refused {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			_, err := f.alarms.DescribeAlarms(ctx, &tt.in)
			wantMonCode(t, "DescribeAlarms", err, tt.code, tt.substr)
		})
	}
}

func TestDeleteAlarms(t *testing.T) {
	f := newMonitorFixture(t)
	ctx := t.Context()
	for _, n := range []string{"a", "b", "c"} {
		f.putAlarm(t, cpuAlarm(n))
	}
	seq := f.lastSeq(t)
	// AWS: the alarms named correctly are deleted; a wrong name is skipped.
	if _, err := f.alarms.DeleteAlarms(ctx, &iotdm.DeleteAlarmsInput{AlarmNames: []string{"a", "missing", "c"}}); err != nil {
		t.Fatal(err)
	}
	out, err := f.alarms.DescribeAlarms(ctx, &iotdm.DescribeAlarmsInput{})
	if err != nil || len(out.MetricAlarms) != 1 || out.MetricAlarms[0].AlarmName != "b" {
		t.Errorf("DescribeAlarms after delete = %+v, %v", out, err)
	}
	if diff := cmp.Diff([]string{"delete alarm/a", "delete alarm/c"}, f.changesSince(t, seq)); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	_, err = f.alarms.DeleteAlarms(ctx, &iotdm.DeleteAlarmsInput{})
	wantMonCode(t, "DeleteAlarms(no names)", err, iotdm.ErrCloudWatchValidation, "alarmNames")
	_, err = f.alarms.DeleteAlarms(ctx, &iotdm.DeleteAlarmsInput{AlarmNames: make([]string, 101)})
	wantMonCode(t, "DeleteAlarms(101 names)", err, iotdm.ErrCloudWatchValidation, "alarmNames")
	_, err = f.alarms.DeleteAlarms(ctx, &iotdm.DeleteAlarmsInput{AlarmNames: []string{"b", ""}})
	wantMonCode(t, "DeleteAlarms(empty name)", err, iotdm.ErrCloudWatchValidation, "alarmNames.member.2")
	if f.storedAlarm(t, "b").AlarmName != "b" {
		t.Error("a refused DeleteAlarms deleted b")
	}
}
