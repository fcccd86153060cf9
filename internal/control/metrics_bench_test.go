package control_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/control"
	"github.com/iotdm/iotdm/internal/sqlite"
)

// benchMetrics is the CloudWatch metrics service over a real SQLite metric
// store kept for 31 days, with its clock at end.
func benchMetrics(b *testing.B, end time.Time) (*control.Metrics, *sqlite.MetricStore) {
	b.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "m.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	clock := func() time.Time { return end }
	ms, err := sqlite.OpenMetricStore(context.Background(), db, sqlite.MetricOptions{Retention: 31 * 24 * time.Hour,
		ExpiryInterval: -1, Now: clock})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ms.Close(); db.Close() })
	return control.NewMetrics(ms, control.MetricsOptions{Now: clock}), ms
}

// BenchmarkPutMetricData: PutMetricData calls of 1,000 datapoints over 100
// series (the API's largest call), validated and stored durably; reports
// datapoints per second.
func BenchmarkPutMetricData(b *testing.B) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	m, _ := benchMetrics(b, now)
	ctx := context.Background()
	in := &iotdm.PutMetricDataInput{Namespace: "Fleet"}
	for i := range 1000 {
		v := float64(i)
		ts := iotdm.Timestamp{Time: now.Add(-time.Duration(i%60) * time.Second)}
		in.MetricData = append(in.MetricData, iotdm.MetricDatum{MetricName: "Temperature", Value: &v, Timestamp: &ts,
			Dimensions: []iotdm.Dimension{{Name: "ThingName", Value: fmt.Sprintf("sensor-%03d", i%100)}}})
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.PutMetricData(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(1000*b.N)/b.Elapsed().Seconds(), "datapoints/s")
}

// BenchmarkGetMetricData30Days: one GetMetricData metric-stat query over
// 30 days of one-minute data (43,200 minutes of one series), at hourly and
// five-minute periods.
func BenchmarkGetMetricData30Days(b *testing.B) {
	end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	start := end.Add(-30 * 24 * time.Hour)
	m, ms := benchMetrics(b, end)
	ctx := context.Background()
	metric := iotdm.Metric{Namespace: "IoTFleetMetrics", MetricName: "ConnectedDevices",
		Dimensions: []iotdm.Dimension{{Name: "AggregationType", Value: "count"}}}
	points := make([]iotdm.MetricPoint, 0, 1000)
	for t := start; t.Before(end); t = t.Add(time.Minute) {
		v := float64(t.Unix() % 1000)
		points = append(points, iotdm.MetricPoint{Metric: metric, Timestamp: t, Value: &v, Unit: "Count"})
		if len(points) == cap(points) {
			if err := ms.PutMetricPoints(ctx, points); err != nil {
				b.Fatal(err)
			}
			points = points[:0]
		}
	}
	if err := ms.PutMetricPoints(ctx, points); err != nil {
		b.Fatal(err)
	}
	for _, period := range []int32{3600, 300} {
		b.Run(fmt.Sprintf("period=%ds", period), func(b *testing.B) {
			in := &iotdm.GetMetricDataInput{StartTime: &iotdm.Timestamp{Time: start}, EndTime: &iotdm.Timestamp{Time: end},
				MetricDataQueries: []iotdm.MetricDataQuery{{ID: "m1", MetricStat: &iotdm.MetricStat{Metric: metric, Period: period, Stat: "Average"}}}}
			want := int(30 * 24 * 3600 / period)
			for b.Loop() {
				out, err := m.GetMetricData(ctx, in)
				if err != nil {
					b.Fatal(err)
				}
				if n := len(out.MetricDataResults[0].Values); n != want && out.NextToken == "" {
					b.Fatalf("%d values, want %d", n, want)
				}
			}
		})
	}
}
