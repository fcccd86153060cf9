package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/metricbucket"
	"github.com/iotdm/iotdm/internal/metricstoretest"
	"github.com/iotdm/iotdm/internal/sqlite"
)

// metricOpener opens metric stores on db.
func metricOpener(db *sqlite.DB) metricstoretest.Opener {
	return func(t testing.TB, opts metricbucket.Options) metricstoretest.Store {
		t.Helper()
		ms, err := sqlite.OpenMetricStore(context.Background(), db, opts)
		if err != nil {
			t.Fatalf("OpenMetricStore: %v", err)
		}
		return ms
	}
}

func TestMetricStore(t *testing.T) {
	metricstoretest.Run(t, func(t testing.TB) metricstoretest.Opener {
		return metricOpener(openTestDB(t))
	})
}

// t0 is a minute boundary, the base time of the metric tests.
var t0 = metricstoretest.T0

var cpu = metricstoretest.CPU

var val = metricstoretest.Val

type metricFixture struct {
	db   *sqlite.DB
	ms   *sqlite.MetricStore
	path string
	now  time.Time
}

func newMetricFixture(t testing.TB) *metricFixture {
	t.Helper()
	f := &metricFixture{path: filepath.Join(t.TempDir(), "iotdm.db"), now: t0.Add(time.Hour)}
	f.open(t)
	return f
}

func (f *metricFixture) open(t testing.TB) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), f.path, testLogger(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	ms, err := sqlite.OpenMetricStore(context.Background(), db, sqlite.MetricOptions{
		Logger: testLogger(t), ExpiryInterval: -1, Now: func() time.Time { return f.now },
	})
	if err != nil {
		t.Fatalf("OpenMetricStore: %v", err)
	}
	f.db, f.ms = db, ms
	t.Cleanup(func() { f.close(t) })
}

func (f *metricFixture) close(t testing.TB) {
	t.Helper()
	if err := f.ms.Close(); err != nil {
		t.Errorf("MetricStore.Close: %v", err)
	}
	if err := f.db.Close(); err != nil {
		t.Errorf("DB.Close: %v", err)
	}
}

func (f *metricFixture) put(t testing.TB, points ...iotdm.MetricPoint) {
	t.Helper()
	if err := f.ms.PutMetricPoints(context.Background(), points); err != nil {
		t.Fatalf("PutMetricPoints: %v", err)
	}
}

func (f *metricFixture) stats(t testing.TB, r iotdm.MetricRange) []iotdm.MetricBucket {
	t.Helper()
	got, err := f.ms.MetricStatistics(context.Background(), r)
	if err != nil {
		t.Fatalf("MetricStatistics(%+v): %v", r, err)
	}
	return got
}

// TestMetricsSurviveReopenAndWriteNoChanges reopens the DB file: the
// metrics are there, and they recorded no change in the feed.
func TestMetricsSurviveReopenAndWriteNoChanges(t *testing.T) {
	f := newMetricFixture(t)
	f.put(t, val(cpu, t0, 1))
	seq, err := f.db.LastSeq(t.Context())
	if err != nil || seq != 0 {
		t.Errorf("LastSeq = %d, %v; metrics must record no change", seq, err)
	}
	f.close(t)
	f.open(t)
	f.put(t, val(cpu, t0, 2)) // the series id comes from the database now
	got := f.stats(t, iotdm.MetricRange{Metric: cpu, Start: t0, End: t0.Add(time.Minute), Period: time.Minute})
	want := []iotdm.MetricBucket{{Timestamp: t0, SampleCount: 2, Sum: 3, Minimum: 1, Maximum: 2, Unit: "None"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after reopen (-want +got):\n%s", diff)
	}
}

// TestMetricsBesideEntityUpdates writes metrics and entities at once: both
// land, the change feed holds exactly the entities' changes, and a failing
// entity Update in the same batches touches no metric.
func TestMetricsBesideEntityUpdates(t *testing.T) {
	f := newMetricFixture(t)
	const writers, rounds = 4, 50
	var wg sync.WaitGroup
	errs := make(chan error, 2*writers*rounds)
	for w := range writers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range rounds {
				m := iotdm.Metric{Namespace: "Fleet", MetricName: fmt.Sprintf("m%d", w)}
				errs <- f.ms.PutMetricPoints(context.Background(), []iotdm.MetricPoint{val(m, t0.Add(time.Duration(i)*time.Minute), 1)})
			}
		}()
		go func() {
			defer wg.Done()
			for i := range rounds {
				err := f.db.Update(context.Background(), func(ctx context.Context, tx iotdm.Tx) error {
					if err := tx.Put(ctx, iotdm.KindThing, fmt.Sprintf("t%d-%d", w, i), []byte(`{}`)); err != nil {
						return err
					}
					if i%5 == 0 {
						return errors.New("refused")
					}
					return nil
				})
				if i%5 != 0 {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	seq, err := f.db.LastSeq(t.Context())
	if want := uint64(writers * rounds * 4 / 5); err != nil || seq != want {
		t.Errorf("LastSeq = %d, %v; want %d", seq, err, want)
	}
	for w := range writers {
		m := iotdm.Metric{Namespace: "Fleet", MetricName: fmt.Sprintf("m%d", w)}
		got := f.stats(t, iotdm.MetricRange{Metric: m, Start: t0, End: t0.Add(time.Hour), Period: time.Hour})
		if len(got) != 1 || got[0].SampleCount != rounds {
			t.Errorf("metric m%d = %+v, want %d samples", w, got, rounds)
		}
	}
}

// TestMetricStoreCloseKeepsDB: the DB goes on without its metric store.
func TestMetricStoreCloseKeepsDB(t *testing.T) {
	f := newMetricFixture(t)
	f.put(t, val(cpu, t0, 1))
	if err := f.ms.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := f.db.Update(t.Context(), func(ctx context.Context, tx iotdm.Tx) error {
		return tx.Put(ctx, iotdm.KindThing, "t", []byte(`{}`))
	}); err != nil {
		t.Errorf("Update after the metric store closed: %v", err)
	}
}

func openTestDB(t testing.TB) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "iotdm.db"), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// BenchmarkPutMetricPoints: metricstoretest.BenchPutMetricPoints.
func BenchmarkPutMetricPoints(b *testing.B) {
	metricstoretest.BenchPutMetricPoints(b, metricOpener(openTestDB(b)))
}

// BenchmarkMetricStatistics30Days: metricstoretest.BenchMetricStatistics30Days.
func BenchmarkMetricStatistics30Days(b *testing.B) {
	metricstoretest.BenchMetricStatistics30Days(b, metricOpener(openTestDB(b)))
}
