package postgres

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/metricbucket"
	"github.com/iotdm/iotdm/internal/metricstoretest"
	"github.com/iotdm/iotdm/internal/postgres/pgtest"
)

// migratedDatabase creates a database for t on the test server, brings its
// schema up to date, and returns its DSN.
func migratedDatabase(t testing.TB) string {
	t.Helper()
	dsn := pgtest.DSN(t)
	pool := poolOf(t, dsn)
	if err := migrate(context.Background(), pool); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return dsn
}

// poolOf connects a pool to dsn, closed when t ends: one per store, as each
// node of a deployment has its own.
func poolOf(t testing.TB, dsn string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// metricOpener opens metric stores on the database dsn names, each with a
// pool of its own.
func metricOpener(dsn string) metricstoretest.Opener {
	return func(t testing.TB, opts metricbucket.Options) metricstoretest.Store {
		t.Helper()
		ms, err := OpenMetricStore(context.Background(), poolOf(t, dsn), opts)
		if err != nil {
			t.Fatalf("OpenMetricStore: %v", err)
		}
		return ms
	}
}

func TestMetricStore(t *testing.T) {
	metricstoretest.Run(t, func(t testing.TB) metricstoretest.Opener {
		return metricOpener(migratedDatabase(t))
	})
}

func TestMetricStoreNeedsItsTables(t *testing.T) {
	pool := poolOf(t, pgtest.DSN(t)) // not migrated
	if _, err := OpenMetricStore(t.Context(), pool, MetricOptions{}); err == nil {
		t.Fatal("OpenMetricStore on a database without the metric tables succeeded")
	}
}

// TestMetricNodesShareBuckets writes the same buckets from four stores
// (each with its own pool, as four nodes), many goroutines each: every
// observation lands once, in the same buckets, past the exact sample into
// the sketch.
func TestMetricNodesShareBuckets(t *testing.T) {
	dsn := migratedDatabase(t)
	now := metricstoretest.T0.Add(time.Hour)
	open := metricOpener(dsn)
	var stores []metricstoretest.Store
	for range 4 {
		ms := open(t, metricbucket.Options{ExpiryInterval: -1, Now: func() time.Time { return now }})
		t.Cleanup(func() { ms.Close() })
		stores = append(stores, ms)
	}
	m := metricstoretest.CPU
	const goroutines, rounds, perCall = 4, 20, 50
	var wg sync.WaitGroup
	for si, ms := range stores {
		for g := range goroutines {
			wg.Go(func() {
				for i := range rounds {
					var pts []iotdm.MetricPoint
					for j := range perCall {
						// Distinct values, so the bucket outgrows its
						// exact sample.
						v := float64(((si*goroutines+g)*rounds+i)*perCall + j)
						pts = append(pts, metricstoretest.Val(m, metricstoretest.T0.Add(time.Duration(j%3)*time.Minute), v))
					}
					if err := ms.PutMetricPoints(context.Background(), pts); err != nil {
						t.Errorf("PutMetricPoints: %v", err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	const n = 4 * goroutines * rounds * perCall
	got, err := stores[0].MetricStatistics(t.Context(), iotdm.MetricRange{Metric: m, Start: metricstoretest.T0,
		End: metricstoretest.T0.Add(time.Hour), Period: time.Hour, Percentiles: []float64{50}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].SampleCount != n || got[0].Sum != n*(n-1)/2 || got[0].Minimum != 0 || got[0].Maximum != n-1 {
		t.Fatalf("MetricStatistics = %+v, want %d samples 0..%d", got, n, n-1)
	}
	if p50 := got[0].Percentiles[50]; p50 < 0.98*(n/2) || p50 > 1.02*(n/2) {
		t.Errorf("p50 = %v, want about %d", p50, n/2)
	}
	var rows int
	if err := poolOf(t, dsn).QueryRow(t.Context(), `SELECT count(*) FROM metric_data`).Scan(&rows); err != nil || rows != 3 {
		t.Errorf("%d minute rows (%v), want 3", rows, err)
	}
}

func TestMetricKey(t *testing.T) {
	// The parts are length-prefixed: moving a byte from one to the next
	// names another metric.
	if string(metricKey("ab", "c", "")) == string(metricKey("a", "bc", "")) {
		t.Error("metricKey(ab, c) = metricKey(a, bc)")
	}
	if got := len(metricKey("n", "m", `[{"Name":"a","Value":"b"}]`)); got != 32 {
		t.Errorf("metricKey is %d bytes, want 32", got)
	}
}

// BenchmarkPutMetricPoints: metricstoretest.BenchPutMetricPoints, on the
// test server.
func BenchmarkPutMetricPoints(b *testing.B) {
	metricstoretest.BenchPutMetricPoints(b, metricOpener(migratedDatabase(b)))
}

// BenchmarkMetricStatistics30Days: metricstoretest.BenchMetricStatistics30Days,
// on the test server.
func BenchmarkMetricStatistics30Days(b *testing.B) {
	metricstoretest.BenchMetricStatistics30Days(b, metricOpener(migratedDatabase(b)))
}
