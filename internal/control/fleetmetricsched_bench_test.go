package control_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/control"
	"github.com/iotdm/iotdm/internal/fleetindex"
	"github.com/iotdm/iotdm/internal/sqlite"
)

// fmBenchDocs is the fleet size of BenchmarkFleetMetricTick:
// FLEETINDEX_BENCH_DOCS (as the fleetindex benchmarks take it), 10,000 by
// default; the target fleet is 1,000,000.
func fmBenchDocs() int {
	if n, err := strconv.Atoi(os.Getenv("FLEETINDEX_BENCH_DOCS")); err == nil && n > 0 {
		return n
	}
	return 10_000
}

// benchIndexes serves one prebuilt AWS_Things index that is always caught
// up with the store.
type benchIndexes struct{ things, groups *fleetindex.Index }

func (b *benchIndexes) Things() *fleetindex.Index             { return b.things }
func (b *benchIndexes) Groups() *fleetindex.Index             { return b.groups }
func (b *benchIndexes) WaitFor(context.Context, uint64) error { return nil }

// countingMetrics is a metric store that only counts the points it gets.
type countingMetrics struct {
	memMetrics
	n atomic.Int64
}

func (c *countingMetrics) PutMetricPoints(_ context.Context, points []iotdm.MetricPoint) error {
	c.n.Add(int64(len(points)))
	return nil
}

// computeTimes is a slog handler that adds up the compute durations of
// the scheduler's "fleet metrics emitted" records.
type computeTimes struct{ total atomic.Int64 }

func (c *computeTimes) Enabled(context.Context, slog.Level) bool { return true }
func (c *computeTimes) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *computeTimes) WithGroup(string) slog.Handler            { return c }
func (c *computeTimes) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "compute" {
			c.total.Add(int64(a.Value.Duration()))
		}
		return true
	})
	return nil
}

// fmBenchDoc is a thing document as the feeder builds it: registry
// fields, five attributes, a reported shadow and connectivity.
func fmBenchDoc(r *rand.Rand, i int) map[string]any {
	return map[string]any{
		"thingName":       fmt.Sprintf("thing-%07d", i),
		"thingId":         fmt.Sprintf("%08x-0000-4000-8000-%012x", r.Uint32(), i),
		"thingTypeName":   fmt.Sprintf("type-%d", i%5),
		"version":         int64(1 + r.IntN(5)),
		"thingGroupNames": []any{fmt.Sprintf("group-%d", i%50), fmt.Sprintf("site-%d", i%7)},
		"attributes": map[string]any{
			"location": fmt.Sprintf("Building-%c", 'A'+r.IntN(20)),
			"firmware": fmt.Sprintf("1.%d.%d", r.IntN(5), r.IntN(10)),
			"model":    fmt.Sprintf("model-%d", r.IntN(10)),
			"floor":    strconv.Itoa(r.IntN(40)),
			"serial":   fmt.Sprintf("SN%09d", i),
		},
		"shadow": map[string]any{
			"reported": map[string]any{"temperature": 15 + r.Float64()*20, "battery": float64(r.IntN(101))},
			"version":  float64(r.IntN(100)),
		},
		"connectivity": map[string]any{"connected": r.IntN(2) == 0},
	}
}

// fmBenchMetric is the i-th of 100 fleet metrics of realistic shape: 60
// Statistics, 20 Percentiles and 20 Cardinality metrics over queries that
// match from 1% of the fleet to all of it.
func fmBenchMetric(i int) *iotdm.CreateFleetMetricInput {
	queries := []string{
		fmt.Sprintf("shadow.reported.battery < %d", 10+i%20),                                         // 10-30%
		fmt.Sprintf("thingTypeName:type-%d AND shadow.reported.temperature > %d", i%5, 25+i%10),      // 1-10%
		fmt.Sprintf("thingGroupNames:group-%d AND connectivity.connected:false", i%50),               // 1%
		fmt.Sprintf("attributes.location:Building-%c AND attributes.firmware:1.%d.*", 'A'+i%20, i%5), // 1%
		fmt.Sprintf("attributes.model:model-%d AND attributes.floor:[%d TO %d]", i%10, i%40, i%40+5), // 1.5%
		"attributes.floor >= 0", // all
		fmt.Sprintf("connectivity.connected:true AND shadow.reported.temperature > %d", 15+i%20),              // up to 50%
		fmt.Sprintf("thingGroupNames:site-%d OR thingGroupNames:site-%d", i%7, (i+1)%7),                       // 29%
		fmt.Sprintf("attributes.location:Building-%c OR attributes.location:Building-%c", 'A'+i%20, 'B'+i%19), // 10%
		fmt.Sprintf("NOT attributes.model:model-%d", i%10),                                                    // 90%
	}
	in := &iotdm.CreateFleetMetricInput{
		MetricName:  fmt.Sprintf("fm-%03d", i),
		QueryString: queries[i%len(queries)],
		Period:      60,
	}
	field := []string{"shadow.reported.temperature", "shadow.reported.battery"}[i%2]
	switch {
	case i < 60:
		in.AggregationType = &iotdm.AggregationType{Name: iotdm.AggregationStatistics,
			Values: []string{"count", "average", "minimum", "maximum"}}
		in.AggregationField = field
	case i < 80:
		in.AggregationType = &iotdm.AggregationType{Name: iotdm.AggregationPercentiles, Values: []string{"50", "90", "99"}}
		in.AggregationField = field
	default:
		in.AggregationType = &iotdm.AggregationType{Name: iotdm.AggregationCardinality}
		in.AggregationField = []string{"attributes.model", "attributes.location", "attributes.firmware"}[i%3]
	}
	return in
}

// BenchmarkFleetMetricTick measures one tick of the scheduler computing
// 100 one-minute fleet metrics over a fleet of fmBenchDocs things: reading
// the metrics, computing them on the fleet index, claiming their
// boundaries in SQLite and handing the points over. It reports ms/tick
// (wall time of a tick, one SQLite commit included) and compute-ms/tick
// (the index aggregations alone).
//
//	FLEETINDEX_BENCH_DOCS=1000000 go test -run x -bench FleetMetricTick -benchtime 20x ./internal/control/
func BenchmarkFleetMetricTick(b *testing.B) {
	n := fmBenchDocs()
	ctx := b.Context()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	_, err = control.NewIndexing(db, control.IndexingOptions{}).UpdateIndexingConfiguration(ctx, &iotdm.UpdateIndexingConfigurationInput{
		ThingIndexingConfiguration: &iotdm.ThingIndexingConfiguration{
			ThingIndexingMode:             iotdm.ThingIndexingRegistryAndShadow,
			ThingConnectivityIndexingMode: iotdm.ConnectivityIndexingStatus,
			CustomFields: []iotdm.Field{
				{Name: "shadow.reported.temperature", Type: iotdm.FieldTypeNumber},
				{Name: "shadow.reported.battery", Type: iotdm.FieldTypeNumber},
				{Name: "attributes.floor", Type: iotdm.FieldTypeNumber},
				{Name: "attributes.model", Type: iotdm.FieldTypeString},
				{Name: "attributes.location", Type: iotdm.FieldTypeString},
				{Name: "attributes.firmware", Type: iotdm.FieldTypeString},
			},
		},
	})
	if err != nil {
		b.Fatalf("UpdateIndexingConfiguration: %v", err)
	}
	created := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	fm := control.NewFleetMetrics(db, control.FleetMetricsOptions{Region: "us-east-1", AccountID: "123456789012",
		Now: func() time.Time { return created }})
	for i := range 100 {
		if _, err := fm.CreateFleetMetric(ctx, fmBenchMetric(i)); err != nil {
			b.Fatalf("CreateFleetMetric(%d): %v", i, err)
		}
	}

	start := time.Now()
	ix := fleetindex.New()
	r := rand.New(rand.NewPCG(5, 6))
	for i := range n {
		ix.Put(fmt.Sprintf("thing-%07d", i), fmBenchDoc(r, i))
	}
	runtime.GC()
	b.Logf("indexed %d things in %v", n, time.Since(start).Round(time.Millisecond))
	indexes := &benchIndexes{things: ix, groups: fleetindex.New()}

	// Each iteration is the next minute, so every metric is due; the
	// minutes go on across runs (the run records remember them).
	next := created
	for _, workers := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("things=%d/workers=%d", n, workers), func(b *testing.B) {
			sink, times := &countingMetrics{}, &computeTimes{}
			s := control.NewFleetMetricScheduler(db, indexes, sink, control.FleetMetricSchedulerOptions{
				Workers: workers, Logger: slog.New(times)})
			b.ResetTimer()
			for range b.N {
				next = next.Add(time.Minute)
				if err := s.RunOnce(ctx, next); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/tick")
			b.ReportMetric(float64(times.total.Load())/1e6/float64(b.N), "compute-ms/tick")
			b.ReportMetric(float64(sink.n.Load())/float64(b.N), "points/tick")
		})
	}
}
