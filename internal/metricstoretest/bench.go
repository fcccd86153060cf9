package metricstoretest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/metricbucket"
)

// BenchPutMetricPoints writes batches of 1000 one-value points (100 series,
// 10 minutes each), as PutMetricData calls of 1000 items do; each call is
// durable. Reported: points/s.
func BenchPutMetricPoints(b *testing.B, open Opener) {
	f := &fixture{now: T0.Add(24 * time.Hour)}
	f.ms = f.open(b, open, metricbucket.Options{})
	metrics := make([]iotdm.Metric, 100)
	for i := range metrics {
		metrics[i] = iotdm.Metric{Namespace: "Fleet", MetricName: "Temperature",
			Dimensions: []iotdm.Dimension{{Name: "ThingName", Value: fmt.Sprintf("sensor-%04d", i)}, {Name: "Site", Value: "north"}}}
	}
	const batch = 1000
	pts := make([]iotdm.MetricPoint, batch)
	values := make([]float64, batch)
	minute := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for i := range pts {
			values[i] = float64(minute*7+i) / 10
			pts[i] = iotdm.MetricPoint{Metric: metrics[i%len(metrics)], Timestamp: T0.Add(time.Duration(minute+i/len(metrics)) * time.Minute), Value: &values[i]}
		}
		minute += batch / len(metrics)
		if err := f.ms.PutMetricPoints(context.Background(), pts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "points/s")
}

// BenchMetricStatistics30Days reads one series' 30 days of one-minute data
// (43,200 rows) in hourly periods, with and without percentiles.
func BenchMetricStatistics30Days(b *testing.B, open Opener) {
	const days = 30
	end := T0.Add(days * 24 * time.Hour)
	f := &fixture{now: end}
	// Thirty days kept, so nothing is dropped as too old.
	f.ms = f.open(b, open, metricbucket.Options{Retention: 40 * 24 * time.Hour})
	var pts []iotdm.MetricPoint
	for i := range days * 24 * 60 {
		v := float64(i % 97)
		pts = append(pts, iotdm.MetricPoint{Metric: CPU, Timestamp: T0.Add(time.Duration(i) * time.Minute), Value: &v})
		if len(pts) == 1000 {
			f.put(b, pts...)
			pts = nil
		}
	}
	f.put(b, pts...)
	for _, bc := range []struct {
		name   string
		period time.Duration
		pct    []float64
	}{
		{"hourly", time.Hour, nil},
		{"minutely", time.Minute, nil},
		{"hourly p99", time.Hour, []float64{99}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := iotdm.MetricRange{Metric: CPU, Start: T0, End: end, Period: bc.period, Percentiles: bc.pct}
			for b.Loop() {
				got, err := f.ms.MetricStatistics(context.Background(), r)
				if err != nil || len(got) != int(days*24*time.Hour/bc.period) {
					b.Fatalf("MetricStatistics = %d buckets, %v", len(got), err)
				}
			}
		})
	}
}
