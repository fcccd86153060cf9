package awsapi

import (
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/iotdm/iotdm"
)

// TestCloudWatchWithAWSCLI drives the adapter with the stock aws CLI
// (botocore: awsJson1_0 in query-compatible mode), pointed at the edge
// through AWS_ENDPOINT_URL.
func TestCloudWatchWithAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the aws CLI several times (about a second each)")
	}
	fake := newFakeCloudWatch()
	srv := cwEdge(t, fake)
	cli, env := awsCLI(t, srv.URL, testAKID, testSecret)
	run := func(t *testing.T, args ...string) (stdout, stderr string, err error) {
		return runAWS(cli, env, append([]string{"cloudwatch"}, args...)...)
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

	t.Run("put-metric-data", func(t *testing.T) {
		_, stderr, err := run(t, "put-metric-data", "--namespace", "Fleet", "--metric-name", "Temperature",
			"--dimensions", "Thing=t1,Site=north", "--value", "21.5", "--unit", "Count", "--timestamp", "2026-03-01T12:00:00Z",
			"--storage-resolution", "1")
		if err != nil {
			t.Fatalf("%v: %s", err, stderr)
		}
		want := &iotdm.PutMetricDataInput{Namespace: "Fleet", MetricData: []iotdm.MetricDatum{{
			MetricName: "Temperature", Dimensions: []iotdm.Dimension{{Name: "Thing", Value: "t1"}, {Name: "Site", Value: "north"}},
			Timestamp: &iotdm.Timestamp{Time: at}, Value: ptr(21.5), Unit: "Count", StorageResolution: ptr(int32(1)),
		}}}
		if diff := cmp.Diff(want, fake.last(t, "PutMetricData")); diff != "" {
			t.Errorf("input (-want +got):\n%s", diff)
		}
	})
	t.Run("put-metric-data with values and statistics", func(t *testing.T) {
		data := `[{"MetricName":"Latency","Values":[1,2.5],"Counts":[3,1]},` +
			`{"MetricName":"Latency","StatisticValues":{"SampleCount":2,"Sum":3,"Minimum":1,"Maximum":2}}]`
		_, stderr, err := run(t, "put-metric-data", "--namespace", "Fleet", "--metric-data", data)
		if err != nil {
			t.Fatalf("%v: %s", err, stderr)
		}
		want := &iotdm.PutMetricDataInput{Namespace: "Fleet", MetricData: []iotdm.MetricDatum{
			{MetricName: "Latency", Values: []float64{1, 2.5}, Counts: []float64{3, 1}},
			{MetricName: "Latency", StatisticValues: &iotdm.StatisticSet{SampleCount: 2, Sum: 3, Minimum: 1, Maximum: 2}},
		}}
		if diff := cmp.Diff(want, fake.last(t, "PutMetricData")); diff != "" {
			t.Errorf("input (-want +got):\n%s", diff)
		}
	})
	t.Run("get-metric-statistics", func(t *testing.T) {
		fake.answer("GetMetricStatistics", &iotdm.GetMetricStatisticsOutput{Label: "Temperature", Datapoints: []iotdm.Datapoint{
			{Timestamp: iotdm.Timestamp{Time: at}, Average: ptr(21.5), Maximum: ptr(23.0), Unit: "Count",
				ExtendedStatistics: map[string]float64{"p99": 23}},
		}})
		out, stderr, err := run(t, "get-metric-statistics", "--namespace", "Fleet", "--metric-name", "Temperature",
			"--dimensions", "Name=Thing,Value=t1", "--start-time", "2026-03-01T11:00:00Z", "--end-time", "2026-03-01T13:00:00Z",
			"--period", "300", "--statistics", "Average", "Maximum")
		if err != nil {
			t.Fatalf("%v: %s", err, stderr)
		}
		var got struct {
			Label      string
			Datapoints []struct {
				Timestamp          float64 // the CLI prints epoch seconds as they came
				Average, Maximum   float64
				Unit               string
				ExtendedStatistics map[string]float64
			}
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil || got.Label != "Temperature" || len(got.Datapoints) != 1 {
			t.Fatalf("output %s (%v)", out, err)
		}
		dp := got.Datapoints[0]
		if dp.Average != 21.5 || dp.Maximum != 23 || dp.Unit != "Count" || dp.ExtendedStatistics["p99"] != 23 || dp.Timestamp != float64(at.Unix()) {
			t.Errorf("datapoint %+v", dp)
		}
		want := &iotdm.GetMetricStatisticsInput{Namespace: "Fleet", MetricName: "Temperature", Dimensions: []iotdm.Dimension{{Name: "Thing", Value: "t1"}},
			StartTime: &iotdm.Timestamp{Time: at.Add(-time.Hour)}, EndTime: &iotdm.Timestamp{Time: at.Add(time.Hour)}, Period: ptr(int32(300)),
			Statistics: []string{"Average", "Maximum"}}
		if diff := cmp.Diff(want, fake.last(t, "GetMetricStatistics")); diff != "" {
			t.Errorf("input (-want +got):\n%s", diff)
		}
	})
	t.Run("list-metrics", func(t *testing.T) {
		fake.answer("ListMetrics", &iotdm.ListMetricsOutput{Metrics: []iotdm.Metric{
			{Namespace: "Fleet", MetricName: "Temperature", Dimensions: []iotdm.Dimension{{Name: "Thing", Value: "t1"}}},
		}})
		out, stderr, err := run(t, "list-metrics", "--namespace", "Fleet", "--dimensions", "Name=Thing", "--recently-active", "PT3H")
		if err != nil {
			t.Fatalf("%v: %s", err, stderr)
		}
		var got iotdm.ListMetricsOutput
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("output %s: %v", out, err)
		}
		if diff := cmp.Diff(fake.canned["ListMetrics"], &got); diff != "" {
			t.Errorf("output (-want +got):\n%s", diff)
		}
		want := &iotdm.ListMetricsInput{Namespace: "Fleet", Dimensions: []iotdm.DimensionFilter{{Name: "Thing"}}, RecentlyActive: "PT3H"}
		if diff := cmp.Diff(want, fake.last(t, "ListMetrics")); diff != "" {
			t.Errorf("input (-want +got):\n%s", diff)
		}
	})
	t.Run("put-metric-alarm", func(t *testing.T) {
		_, stderr, err := run(t, "put-metric-alarm", "--alarm-name", "hot", "--metric-name", "Temperature", "--namespace", "Fleet",
			"--statistic", "Average", "--period", "60", "--evaluation-periods", "2", "--threshold", "30",
			"--comparison-operator", "GreaterThanThreshold", "--dimensions", "Name=Thing,Value=t1", "--no-actions-enabled",
			"--tags", "Key=team,Value=ops")
		if err != nil {
			t.Fatalf("%v: %s", err, stderr)
		}
		want := &iotdm.PutMetricAlarmInput{AlarmName: "hot", MetricName: "Temperature", Namespace: "Fleet", Statistic: "Average",
			Period: ptr(int32(60)), EvaluationPeriods: ptr(int32(2)), Threshold: ptr(30.0), ComparisonOperator: "GreaterThanThreshold",
			Dimensions: []iotdm.Dimension{{Name: "Thing", Value: "t1"}}, ActionsEnabled: ptr(false), Tags: []iotdm.Tag{{Key: "team", Value: "ops"}}}
		if diff := cmp.Diff(want, fake.last(t, "PutMetricAlarm")); diff != "" {
			t.Errorf("input (-want +got):\n%s", diff)
		}
	})
	t.Run("describe-alarms", func(t *testing.T) {
		fake.answer("DescribeAlarms", &iotdm.DescribeAlarmsOutput{CompositeAlarms: []iotdm.CompositeAlarm{}, MetricAlarms: []iotdm.MetricAlarm{{
			AlarmName: "hot", AlarmArn: "arn:aws:cloudwatch:us-east-1:123456789012:alarm:hot", StateValue: "ALARM",
			StateUpdatedTimestamp: iotdm.Timestamp{Time: at}, Threshold: ptr(30.0), Dimensions: []iotdm.Dimension{{Name: "Thing", Value: "t1"}},
			OKActions: []string{}, AlarmActions: []string{}, InsufficientDataActions: []string{},
		}}})
		out, stderr, err := run(t, "describe-alarms", "--alarm-names", "hot", "--state-value", "ALARM")
		if err != nil {
			t.Fatalf("%v: %s", err, stderr)
		}
		var got struct {
			MetricAlarms []struct {
				AlarmName, StateValue string
				StateUpdatedTimestamp float64
				Threshold             float64
			}
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil || len(got.MetricAlarms) != 1 {
			t.Fatalf("output %s (%v)", out, err)
		}
		a := got.MetricAlarms[0]
		if a.AlarmName != "hot" || a.StateValue != "ALARM" || a.Threshold != 30 || a.StateUpdatedTimestamp != float64(at.Unix()) {
			t.Errorf("alarm %+v", a)
		}
		want := &iotdm.DescribeAlarmsInput{AlarmNames: []string{"hot"}, StateValue: "ALARM"}
		if diff := cmp.Diff(want, fake.last(t, "DescribeAlarms")); diff != "" {
			t.Errorf("input (-want +got):\n%s", diff)
		}
	})
	t.Run("service error", func(t *testing.T) {
		fake.setFail(func(op string, in any) error {
			return iotdm.Errorf(iotdm.ErrInvalidParameterValue, "The value NaN for parameter MetricData.member.1.Value is invalid.")
		})
		defer fake.setFail(nil)
		_, stderr, err := run(t, "put-metric-data", "--namespace", "Fleet", "--metric-name", "m", "--value", "1")
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Fatalf("err = %v, want a failed exit", err)
		}
		const want = "An error occurred (InvalidParameterValue) when calling the PutMetricData operation: The value NaN for parameter MetricData.member.1.Value is invalid."
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q lacks %q", stderr, want)
		}
	})
}
