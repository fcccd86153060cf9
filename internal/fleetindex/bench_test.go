package fleetindex

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/iotdm/iotdm/internal/query"
)

const benchDocs = 100_000

// benchDoc is a plausible thing: registry fields, four attributes, a
// classic shadow with numbers, a boolean and a string, and connectivity.
func benchDoc(r *rand.Rand, i int) map[string]any {
	return map[string]any{
		"thingName":       fmt.Sprintf("thing-%06d", i),
		"thingId":         fmt.Sprintf("%08x-0000-4000-8000-%012x", r.Uint32(), i),
		"thingTypeName":   fmt.Sprintf("type-%d", i%5),
		"thingGroupNames": []any{fmt.Sprintf("group-%d", i%20), fmt.Sprintf("site-%d", i%7)},
		"attributes": map[string]any{
			"model":    fmt.Sprintf("model-%d", r.IntN(10)),
			"firmware": fmt.Sprintf("1.%d.%d", r.IntN(5), r.IntN(10)),
			"floor":    fmt.Sprint(r.IntN(40)),
			"location": fmt.Sprintf("Building-%c", 'A'+r.IntN(10)),
		},
		"shadow": map[string]any{
			"reported": map[string]any{
				"temperature": 15 + r.Float64()*20,
				"battery":     float64(r.IntN(101)),
				"online":      r.IntN(2) == 0,
				"mode":        []string{"eco", "boost", "off"}[r.IntN(3)],
			},
			"desired": map[string]any{"temperature": float64(20 + r.IntN(5))},
			"version": float64(r.IntN(100)),
		},
		"connectivity": map[string]any{
			"connected": r.IntN(2) == 0,
			"timestamp": float64(1557651600000 + r.IntN(86400000)),
		},
	}
}

// buildBench indexes benchDocs documents and reports the index's heap
// bytes per document (its compact copies of the documents included, the
// benchmark's maps excluded).
func buildBench(b *testing.B) (*Index, []map[string]any, float64) {
	b.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	docs := make([]map[string]any, benchDocs)
	for i := range docs {
		docs[i] = benchDoc(r, i)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ix := New()
	for i, d := range docs {
		ix.Put(fmt.Sprintf("thing-%06d", i), d)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	return ix, docs, float64(after.HeapAlloc-before.HeapAlloc) / benchDocs
}

func benchExpr(b *testing.B, q string) query.Expr {
	b.Helper()
	e, err := query.Parse(q, query.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return e
}

// BenchmarkPut is the apply rate of shadow updates with 100 dynamic groups.
func BenchmarkPut(b *testing.B) {
	ix, docs, perDoc := buildBench(b)
	for i := range 100 {
		var q string
		switch i % 4 {
		case 0:
			q = fmt.Sprintf("attributes.model:model-%d AND shadow.reported.temperature > %d", i%10, 15+i%20)
		case 1:
			q = fmt.Sprintf("shadow.reported.battery < %d", i)
		case 2:
			q = fmt.Sprintf("thingGroupNames:group-%d AND connectivity.connected:true", i%20)
		default:
			q = fmt.Sprintf("attributes.floor:[%d TO %d] -shadow.reported.mode:off", i%40, i%40+3)
		}
		ix.AddStanding(fmt.Sprintf("dyn-%d", i), benchExpr(b, q))
	}
	r := rand.New(rand.NewPCG(3, 4))
	b.ResetTimer()
	defer b.ReportMetric(perDoc, "index-B/doc")
	for i := range b.N {
		k := i % benchDocs
		d := docs[k]
		sh := d["shadow"].(map[string]any)
		rep := map[string]any{
			"temperature": 15 + r.Float64()*20,
			"battery":     float64(r.IntN(101)),
			"online":      r.IntN(2) == 0,
			"mode":        "eco",
		}
		nd := map[string]any{}
		for key, v := range d {
			nd[key] = v
		}
		nd["shadow"] = map[string]any{"reported": rep, "desired": sh["desired"], "version": sh["version"]}
		ix.Put(fmt.Sprintf("thing-%06d", k), nd)
	}
}

func BenchmarkSearchTerm(b *testing.B) {
	ix, _, perDoc := buildBench(b)
	e := benchExpr(b, "attributes.model:model-3 AND thingGroupNames:group-4")
	b.ResetTimer()
	defer b.ReportMetric(perDoc, "index-B/doc")
	for range b.N {
		ix.Count(e)
	}
}

func BenchmarkSearchPrefix(b *testing.B) {
	ix, _, perDoc := buildBench(b)
	e := benchExpr(b, "thingName:thing-01*")
	b.ResetTimer()
	defer b.ReportMetric(perDoc, "index-B/doc")
	for range b.N {
		ix.SearchPage(e, "", 100)
	}
}

func BenchmarkSearchRange(b *testing.B) {
	ix, _, perDoc := buildBench(b)
	e := benchExpr(b, "shadow.reported.temperature:[20 TO 25]")
	b.ResetTimer()
	defer b.ReportMetric(perDoc, "index-B/doc")
	for range b.N {
		ix.Count(e)
	}
}

func BenchmarkStatistics(b *testing.B) {
	ix, _, perDoc := buildBench(b)
	e := benchExpr(b, "connectivity.connected:true")
	b.ResetTimer()
	defer b.ReportMetric(perDoc, "index-B/doc")
	for range b.N {
		ix.Statistics(e, "shadow.reported.temperature", query.Number)
	}
}

// BenchmarkBuckets reads the leaves of every matching document (terms
// aggregations and cardinality do).
func BenchmarkBuckets(b *testing.B) {
	ix, _, perDoc := buildBench(b)
	e := benchExpr(b, "connectivity.connected:true")
	b.ResetTimer()
	defer b.ReportMetric(perDoc, "index-B/doc")
	for range b.N {
		ix.Buckets(e, "attributes.model", 10)
	}
}
