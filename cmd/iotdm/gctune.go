package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// GC headroom: how much garbage the heap may hold on top of the live heap
// before a collection, as a GOGC percentage of the live heap.
const (
	// gcHeadroomBytes is the headroom the tuner aims at: a request
	// allocates kilobytes, so a few hundred megabytes of headroom keep
	// collections rare under load.
	gcHeadroomBytes = 256 << 20
	// maxGOGC bounds the headroom of a small heap (an empty server
	// collects every 256 MiB with a 64 MiB live heap).
	maxGOGC = 400
	// minGOGC bounds the collection rate of a large heap: a fleet index of
	// a million things is most of the heap, and scanning it costs CPU.
	minGOGC = 50
)

// gcTuner sets GOGC after each collection so that the headroom is about
// gcHeadroomBytes, between minGOGC and maxGOGC percent of the live heap.
// With a fixed GOGC, either a large fleet doubles (or, at 400, quintuples)
// the resident memory, or a small server collects far too often; the
// server's memory is mostly its fleet index and store cache, which do not
// churn, so a bounded headroom costs little CPU where memory matters.
type gcTuner struct {
	sample []metrics.Sample
}

// startGCTuner starts tuning; it runs for the life of the process (the
// runtime calls it back after every collection).
func startGCTuner() {
	t := &gcTuner{sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	t.arm()
}

// arm registers t to run after the next collection that frees a sentinel.
func (t *gcTuner) arm() {
	sentinel := new([16]byte)
	runtime.SetFinalizer(sentinel, func(*[16]byte) {
		t.tune()
		t.arm()
	})
}

func (t *gcTuner) tune() {
	metrics.Read(t.sample)
	if t.sample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	debug.SetGCPercent(gogcFor(t.sample[0].Value.Uint64()))
}

// gogcFor returns the GOGC that gives a live heap of live bytes about
// gcHeadroomBytes of headroom, within [minGOGC, maxGOGC].
func gogcFor(live uint64) int {
	if live == 0 {
		return maxGOGC
	}
	return int(min(max(gcHeadroomBytes*100/live, minGOGC), maxGOGC))
}
