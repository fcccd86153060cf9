// Package metricstoretest is the conformance suite of the iotdm.MetricStore
// implementations (internal/sqlite, internal/postgres): every store runs
// Run, and the benchmarks through Bench*.
package metricstoretest

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/metricbucket"
)

// Store is a metric store under test: an iotdm.MetricStore with the expiry
// pass and the Close of the stores.
type Store interface {
	iotdm.MetricStore
	// Expire runs one expiry pass: roll-up, then retention.
	Expire(ctx context.Context) error
	// Close stops the store; it is idempotent, and the store answers
	// ErrClosed after it.
	Close() error
}

// Opener opens a metric store on one database. Every store an Opener opens
// shares that database, as the nodes of one deployment do; the suite closes
// the stores it opens (before the database, when the Opener registered the
// database's cleanup with t first).
type Opener func(t testing.TB, opts metricbucket.Options) Store

// NewDatabase returns the Opener of a new, empty database for t.
type NewDatabase func(t testing.TB) Opener

// Run runs the suite, each test on a database of its own.
func Run(t *testing.T, newDB NewDatabase) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open Opener)
	}{
		{"AggregatesPeriods", testAggregatesPeriods},
		{"UnitsAreKeptApart", testUnitsAreKeptApart},
		{"StatisticSetsAndCounts", testStatisticSetsAndCounts},
		{"PercentilesPastTheExactSample", testPercentilesPastTheExactSample},
		{"HighResolution", testHighResolution},
		{"Retention", testRetention},
		{"ListMetrics", testListMetrics},
		{"PutIsAllOrNothing", testPutIsAllOrNothing},
		{"InvalidQueries", testInvalidQueries},
		{"Reopen", testReopen},
		{"Close", testClose},
		{"ExpiryLoopStopsOnClose", testExpiryLoopStopsOnClose},
		{"ConcurrentStores", testConcurrentStores},
		{"ConcurrentExpiry", testConcurrentExpiry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newDB(t))
		})
	}
}

// T0 is a minute boundary, the base time of the tests.
var T0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fixture is a store whose clock the test sets.
type fixture struct {
	ms  Store
	now time.Time
}

// Logger logs through t, at warning level and above.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// open opens a store on open's database with f's clock and no expiry
// loop; the test closes it.
func (f *fixture) open(t testing.TB, open Opener, opts metricbucket.Options) Store {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = Logger(t)
	}
	if opts.ExpiryInterval == 0 {
		opts.ExpiryInterval = -1
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return f.now }
	}
	ms := open(t, opts)
	t.Cleanup(func() {
		if err := ms.Close(); err != nil {
			t.Errorf("MetricStore.Close: %v", err)
		}
	})
	return ms
}

func newFixture(t testing.TB, open Opener) *fixture {
	t.Helper()
	f := &fixture{now: T0.Add(time.Hour)}
	f.ms = f.open(t, open, metricbucket.Options{})
	return f
}

func (f *fixture) put(t testing.TB, points ...iotdm.MetricPoint) {
	t.Helper()
	if err := f.ms.PutMetricPoints(context.Background(), points); err != nil {
		t.Fatalf("PutMetricPoints: %v", err)
	}
}

func (f *fixture) stats(t testing.TB, r iotdm.MetricRange) []iotdm.MetricBucket {
	t.Helper()
	return stats(t, f.ms, r)
}

func stats(t testing.TB, ms iotdm.MetricStore, r iotdm.MetricRange) []iotdm.MetricBucket {
	t.Helper()
	got, err := ms.MetricStatistics(context.Background(), r)
	if err != nil {
		t.Fatalf("MetricStatistics(%+v): %v", r, err)
	}
	return got
}

// CPU is the metric most tests write.
var CPU = iotdm.Metric{Namespace: "Fleet", MetricName: "CPU", Dimensions: []iotdm.Dimension{{Name: "Thing", Value: "t1"}, {Name: "Site", Value: "north"}}}

// Val is a one-value point.
func Val(m iotdm.Metric, at time.Time, v float64) iotdm.MetricPoint {
	return iotdm.MetricPoint{Metric: m, Timestamp: at, Value: &v}
}

func bucket(at time.Time, n, sum, lo, hi float64, unit string) iotdm.MetricBucket {
	return iotdm.MetricBucket{Timestamp: at, SampleCount: n, Sum: sum, Minimum: lo, Maximum: hi, Unit: unit}
}

func sortedDims(m iotdm.Metric) iotdm.Metric {
	m.Dimensions = slices.Clone(m.Dimensions)
	slices.SortFunc(m.Dimensions, func(a, b iotdm.Dimension) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return m
}
