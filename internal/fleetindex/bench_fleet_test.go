package fleetindex

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// fleetDocs is the fleet size of BenchmarkFleet*: FLEETINDEX_BENCH_DOCS,
// 200,000 by default (the target fleet is 1,000,000).
func fleetDocs() int {
	if n, err := strconv.Atoi(os.Getenv("FLEETINDEX_BENCH_DOCS")); err == nil && n > 0 {
		return n
	}
	return 200_000
}

// fleetDoc is a thing of the target fleet: a thing type, five
// attributes, a reported shadow with temperature and battery, and group
// memberships.
func fleetDoc(r *rand.Rand, i int) map[string]any {
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
			"reported": map[string]any{
				"temperature": 15 + r.Float64()*20,
				"battery":     float64(r.IntN(101)),
			},
			"version":  float64(r.IntN(100)),
			"hasDelta": false,
		},
		"connectivity": map[string]any{"connected": r.IntN(2) == 0},
	}
}

// fleetQuery is the i-th of 100 standing queries of realistic shape.
func fleetQuery(i int) string {
	switch i % 5 {
	case 0:
		return fmt.Sprintf("attributes.location:Building-%c AND attributes.firmware:1.%d.%d", 'A'+i%20, i%5, i%10)
	case 1:
		return fmt.Sprintf("shadow.reported.battery < %d", 10+i%20)
	case 2:
		return fmt.Sprintf("thingTypeName:type-%d AND shadow.reported.temperature > %d", i%5, 25+i%10)
	case 3:
		return fmt.Sprintf("thingGroupNames:group-%d AND connectivity.connected:false", i%50)
	default:
		return fmt.Sprintf("attributes.model:model-%d AND attributes.floor:[%d TO %d]", i%10, i%40, i%40+5)
	}
}

// buildFleet indexes the fleet with its 100 standing queries and reports
// the heap the index holds per document, its documents included: the
// growth of HeapInuse over the build, after a GC. The documents are made
// on the fly and not kept, so everything measured is the index's.
func buildFleet(b *testing.B) (*Index, float64) {
	b.Helper()
	n := fleetDocs()
	r := rand.New(rand.NewPCG(5, 6))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ix := New()
	for i := range 100 {
		ix.AddStanding(fmt.Sprintf("dyn-%d", i), benchExpr(b, fleetQuery(i)))
	}
	for i := range n {
		ix.Put(fmt.Sprintf("thing-%07d", i), fleetDoc(r, i))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	return ix, float64(after.HeapInuse-before.HeapInuse) / float64(n)
}

// docsHeap is the heap the index's compact documents take per document:
// the growth of HeapInuse when a copy of every one is made (string headers
// and allocation size classes included).
func docsHeap(ix *Index) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	copies := make([]string, len(ix.docs))
	for i, d := range ix.docs {
		copies[i] = strings.Clone(d)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(copies)
	return float64(after.HeapInuse-before.HeapInuse) / float64(ix.Len())
}

// BenchmarkFleetPut is the apply rate of shadow temperature/battery updates
// (Index.Put of a changed document) on the target fleet with 100 dynamic
// groups; it reports index-B/doc (see buildFleet), docs-B/doc (its share
// for the compact documents, see docsHeap) and changes/s.
func BenchmarkFleetPut(b *testing.B) {
	ix, perDoc := buildFleet(b)
	docs := docsHeap(ix)
	n := ix.Len()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("thing-%07d", i)
	}
	// Updated documents are built outside the timer, a chunk at a time,
	// so the loop times Put alone: the stored document with a new shadow.
	const chunk = 4096
	r := rand.New(rand.NewPCG(7, 8))
	upd := make([]map[string]any, chunk)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += chunk {
		b.StopTimer()
		m := min(chunk, b.N-i)
		for j := range m {
			d, _ := ix.Get(ids[((i+j)*7919)%n])
			nd := make(map[string]any, len(d))
			for k, v := range d {
				nd[k] = v
			}
			sh := d["shadow"].(map[string]any)
			nd["shadow"] = map[string]any{
				"reported": map[string]any{"temperature": 15 + r.Float64()*20, "battery": float64(r.IntN(101))},
				"version":  sh["version"], "hasDelta": false,
			}
			upd[j] = nd
		}
		b.StartTimer()
		for j := range m {
			ix.Put(ids[((i+j)*7919)%n], upd[j])
		}
	}
	b.StopTimer()
	b.ReportMetric(perDoc, "index-B/doc")
	b.ReportMetric(docs, "docs-B/doc")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "changes/s")
}
