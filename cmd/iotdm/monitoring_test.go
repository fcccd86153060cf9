package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// TestSeedStackMonitoringIsLive: after iotdm up's deployment, the seed
// stack's fleet metric is computed on its period into CloudWatch, its alarm
// is evaluated over it, and its dashboard is served. The scheduler and the
// evaluator are the server's own, driven at the next period boundary rather
// than waited for.
func TestSeedStackMonitoringIsLive(t *testing.T) {
	cfg := testConfig(t)
	s := startServer(t, cfg)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := s.deploySeed(ctx, &out); err != nil {
		t.Fatalf("deploySeed: %v\n%s", err, out.String())
	}
	cw := cloudwatch.New(cloudwatch.Options{Region: s.cfg.Region, BaseEndpoint: aws.String(s.URL()),
		Credentials: credentials.NewStaticCredentialsProvider(s.key.ID, s.key.Secret, "")})

	// The seed's fleet metrics have a 300 s period: the first boundary after
	// now, and the one after it for the alarm's two evaluation periods.
	boundary := time.Now().UTC().Truncate(5 * time.Minute).Add(5 * time.Minute)
	for _, at := range []time.Time{boundary, boundary.Add(5 * time.Minute)} {
		if err := s.monitor.sched.RunOnce(ctx, at); err != nil {
			t.Fatalf("fleet metric tick at %v: %v", at, err)
		}
	}
	stats, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{
		Namespace: aws.String("IoTFleetMetrics"), MetricName: aws.String("ConnectedDevices-IoTDeviceManagementStack"),
		Dimensions: []cwtypes.Dimension{{Name: aws.String("AggregationType"), Value: aws.String("count")}},
		StartTime:  aws.Time(boundary.Add(-time.Hour)), EndTime: aws.Time(boundary.Add(time.Hour)),
		Period: aws.Int32(300), Statistics: []cwtypes.Statistic{cwtypes.StatisticMaximum},
	})
	if err != nil || len(stats.Datapoints) != 2 || aws.ToFloat64(stats.Datapoints[0].Maximum) != 0 {
		t.Fatalf("ConnectedDevices datapoints = %+v, %v; want two zeros (no device connected)", stats, err)
	}
	latest, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{
		Namespace: aws.String("IoTFleetMetrics"), MetricName: aws.String("LatestFirmwareDevices-IoTDeviceManagementStack"),
		Dimensions: []cwtypes.Dimension{{Name: aws.String("AggregationType"), Value: aws.String("count")}},
		StartTime:  aws.Time(boundary.Add(-time.Hour)), EndTime: aws.Time(boundary.Add(time.Hour)),
		Period: aws.Int32(300), Statistics: []cwtypes.Statistic{cwtypes.StatisticMaximum},
	})
	if err != nil || len(latest.Datapoints) == 0 || aws.ToFloat64(latest.Datapoints[0].Maximum) != 2 {
		t.Fatalf("LatestFirmwareDevices datapoints = %+v, %v; want 2 (temp-sensor-03 and -04)", latest, err)
	}

	// Fewer than 10 devices connected for two periods: the alarm fires.
	if err := s.monitor.eval.EvaluateAt(ctx, boundary.Add(10*time.Minute+10*time.Second)); err != nil {
		t.Fatal(err)
	}
	alarms, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"DisconnectedDevices-IoTDeviceManagementStack"}})
	if err != nil || len(alarms.MetricAlarms) != 1 || alarms.MetricAlarms[0].StateValue != cwtypes.StateValueAlarm {
		t.Fatalf("seed alarm = %+v, %v; want ALARM", alarms, err)
	}
	dash, err := cw.GetDashboard(ctx, &cloudwatch.GetDashboardInput{DashboardName: aws.String("IoTFleet-IoTDeviceManagementStack")})
	if err != nil || !bytes.Contains([]byte(aws.ToString(dash.DashboardBody)), []byte("ConnectedDevices-IoTDeviceManagementStack")) {
		t.Fatalf("seed dashboard = %v, %v", dash, err)
	}
}
