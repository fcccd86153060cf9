package metricstoretest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/metricbucket"
)

// testConcurrentStores writes the same buckets (minute and second ones)
// from two stores on one database, several goroutines each, while both
// stores roll the seconds up: no observation is lost or counted twice.
func testConcurrentStores(t *testing.T, open Opener) {
	f := &fixture{now: T0.Add(4 * time.Hour)} // the seconds at T0 are due for roll-up
	stores := []Store{f.open(t, open, metricbucket.Options{}), f.open(t, open, metricbucket.Options{})}
	const writers, rounds = 4, 25
	var wg sync.WaitGroup
	var writing atomic.Int32
	writing.Store(int32(len(stores) * writers))
	for si, ms := range stores {
		for g := range writers {
			wg.Go(func() {
				defer writing.Add(-1)
				own := iotdm.Metric{Namespace: "Fleet", MetricName: fmt.Sprintf("W%d-%d", si, g)}
				for i := range rounds {
					var pts []iotdm.MetricPoint
					for m := range 10 {
						pts = append(pts, Val(CPU, T0.Add(time.Duration(m)*time.Minute+time.Duration(g)*time.Second), float64(g)))
						p := Val(CPU, T0.Add(time.Duration(m)*time.Second), 1)
						p.HighResolution = true
						pts = append(pts, p)
					}
					pts = append(pts, Val(own, T0.Add(time.Duration(i)*time.Minute), float64(i)))
					if g%2 == 1 { // another order of the same buckets
						slices.Reverse(pts)
					}
					if err := ms.PutMetricPoints(context.Background(), pts); err != nil {
						t.Errorf("store %d writer %d: PutMetricPoints: %v", si, g, err)
						return
					}
				}
			})
		}
		wg.Go(func() {
			for writing.Load() > 0 {
				if err := ms.Expire(context.Background()); err != nil {
					t.Errorf("store %d: Expire: %v", si, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if err := stores[0].Expire(t.Context()); err != nil {
		t.Fatalf("Expire: %v", err)
	}

	const calls = 2 * writers * rounds
	perMinute := float64(calls) // one standard point per call and minute
	sumPerMinute := float64(2 * rounds * (0 + 1 + 2 + 3))
	want := []iotdm.MetricBucket{{Timestamp: T0, SampleCount: perMinute + 10*calls, Sum: sumPerMinute + 10*calls, Minimum: 0, Maximum: 3, Unit: "None"}}
	for m := 1; m < 10; m++ {
		want = append(want, bucket(T0.Add(time.Duration(m)*time.Minute), perMinute, sumPerMinute, 0, 3, "None"))
	}
	for _, ms := range stores {
		got := stats(t, ms, iotdm.MetricRange{Metric: CPU, Start: T0, End: T0.Add(time.Hour), Period: time.Minute})
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("CPU by minute (-want +got):\n%s", diff)
		}
	}
	// Every second was rolled up: 10-second periods find the minutes only.
	if got := stats(t, stores[1], iotdm.MetricRange{Metric: CPU, Start: T0, End: T0.Add(10 * time.Second), Period: 10 * time.Second}); len(got) != 1 || got[0].SampleCount != perMinute+10*calls {
		t.Errorf("first 10 s after the roll-up = %+v", got)
	}
	got := stats(t, stores[1], iotdm.MetricRange{Metric: CPU, Start: T0, End: T0.Add(time.Hour), Period: time.Hour, Percentiles: []float64{0, 100}})
	if len(got) != 1 || got[0].Percentiles[0] != 0 || got[0].Percentiles[100] != 3 {
		t.Errorf("CPU over the hour = %+v, want p0 0 and p100 3", got)
	}
	for si := range stores {
		for g := range writers {
			own := iotdm.Metric{Namespace: "Fleet", MetricName: fmt.Sprintf("W%d-%d", si, g)}
			got := stats(t, stores[1-si], iotdm.MetricRange{Metric: own, Start: T0, End: T0.Add(time.Hour), Period: time.Hour})
			if len(got) != 1 || got[0].SampleCount != rounds || got[0].Sum != rounds*(rounds-1)/2 {
				t.Errorf("%s = %+v, want %d samples", own.MetricName, got, rounds)
			}
		}
	}
	list, err := stores[0].ListMetrics(t.Context(), iotdm.MetricFilter{}, nil, 0)
	if err != nil || len(list) != 1+len(stores)*writers {
		t.Errorf("ListMetrics = %d metrics, %v; want %d", len(list), err, 1+len(stores)*writers)
	}
}

// testConcurrentExpiry runs expiry on two stores of one database at once,
// over more series than one page, with writes going on: first the roll-up
// of seconds into minutes, then the retention.
func testConcurrentExpiry(t *testing.T, open Opener) {
	f := &fixture{now: T0.Add(time.Hour)}
	stores := []Store{f.open(t, open, metricbucket.Options{}), f.open(t, open, metricbucket.Options{})}
	const series, seconds = 520, 10 // more series than one expiry page (512)
	metric := func(i int) iotdm.Metric {
		return iotdm.Metric{Namespace: "Fleet", MetricName: "Temp", Dimensions: []iotdm.Dimension{{Name: "Thing", Value: fmt.Sprintf("t%04d", i)}}}
	}
	var pts []iotdm.MetricPoint
	for i := range series {
		for s := range seconds {
			p := Val(metric(i), T0.Add(time.Duration(s)*time.Second), float64(s))
			p.HighResolution = true
			pts = append(pts, p)
			if len(pts) == 1000 {
				if err := stores[i%2].PutMetricPoints(t.Context(), pts); err != nil {
					t.Fatal(err)
				}
				pts = pts[:0]
			}
		}
	}
	if err := stores[0].PutMetricPoints(t.Context(), pts); err != nil {
		t.Fatal(err)
	}
	live := iotdm.Metric{Namespace: "Fleet", MetricName: "Live"}
	// expireAll runs Expire on every store at once, twice each, while a
	// goroutine writes one point to live at a time, at minute at.
	expireAll := func(at time.Time) int {
		var wg sync.WaitGroup
		for _, ms := range stores {
			for range 2 {
				wg.Go(func() {
					if err := ms.Expire(context.Background()); err != nil {
						t.Errorf("Expire: %v", err)
					}
				})
			}
		}
		var done atomic.Bool
		n := 0
		var writer sync.WaitGroup
		writer.Go(func() {
			for !done.Load() || n == 0 {
				if err := stores[n%2].PutMetricPoints(context.Background(), []iotdm.MetricPoint{Val(live, at, 1)}); err != nil {
					t.Errorf("PutMetricPoints: %v", err)
					return
				}
				n++
			}
		})
		wg.Wait()
		done.Store(true)
		writer.Wait()
		return n
	}

	// Roll-up.
	f.now = T0.Add(4 * time.Hour)
	written := expireAll(f.now)
	wantSum := float64(seconds * (seconds - 1) / 2)
	for i := range series {
		got := stats(t, stores[i%2], iotdm.MetricRange{Metric: metric(i), Start: T0, End: T0.Add(time.Hour), Period: time.Second})
		want := []iotdm.MetricBucket{bucket(T0, seconds, wantSum, 0, seconds-1, "None")}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("series %d after the roll-up (-want +got):\n%s", i, diff)
		}
	}
	if got := stats(t, stores[0], iotdm.MetricRange{Metric: live, Start: T0, End: f.now.Add(time.Hour), Period: time.Hour}); len(got) != 1 || got[0].SampleCount != float64(written) {
		t.Errorf("live = %+v, want %d samples", got, written)
	}

	// Retention: every other series has a recent observation.
	f.now = T0.Add(metricbucket.DefaultRetention + 5*time.Hour) // past the live points of the roll-up too
	recent := f.now.Add(-time.Minute)
	pts = pts[:0]
	for i := 0; i < series; i += 2 {
		pts = append(pts, Val(metric(i), recent, 7))
	}
	if err := stores[1].PutMetricPoints(t.Context(), pts); err != nil {
		t.Fatal(err)
	}
	written = expireAll(recent)
	for i := range series {
		got := stats(t, stores[i%2], iotdm.MetricRange{Metric: metric(i), Start: T0, End: f.now, Period: time.Hour})
		var want []iotdm.MetricBucket
		if i%2 == 0 {
			want = []iotdm.MetricBucket{bucket(recent.Truncate(time.Hour), 1, 7, 7, 7, "None")}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("series %d after the retention (-want +got):\n%s", i, diff)
		}
	}
	list, err := stores[0].ListMetrics(t.Context(), iotdm.MetricFilter{}, nil, 0)
	if err != nil || len(list) != series/2+1 {
		t.Errorf("ListMetrics after the retention = %d metrics, %v; want %d", len(list), err, series/2+1)
	}
	if got := stats(t, stores[1], iotdm.MetricRange{Metric: live, Start: T0, End: f.now, Period: time.Hour}); len(got) != 1 || got[0].SampleCount != float64(written) {
		t.Errorf("live = %+v, want %d samples (the first ones expired)", got, written)
	}
}
