package memtrim

import (
	"context"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

// fakeRuntime is a scripted runtime: each Read returns the next Stats.
type fakeRuntime struct {
	stats []Stats
	reads int
	trims int
}

func (f *fakeRuntime) read() Stats {
	s := f.stats[min(f.reads, len(f.stats)-1)]
	f.reads++
	return s
}

func (f *fakeRuntime) trim() { f.trims++ }

func TestSampleTrimsOnlyWhenQuietWithEnoughToGain(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		name  string
		stats []Stats // previous sample, then this one (then after the trim)
		want  bool
	}{
		{"quiet, much reclaimable", []Stats{{100 * mib, 0}, {101 * mib, 200 * mib}, {101 * mib, 0}}, true},
		{"busy", []Stats{{100 * mib, 0}, {150 * mib, 200 * mib}}, false},
		{"just busy", []Stats{{100 * mib, 0}, {104 * mib, 200 * mib}}, false},
		{"quiet, little reclaimable", []Stats{{100 * mib, 0}, {100 * mib, 63 * mib}}, false},
		{"quiet, just enough reclaimable", []Stats{{100 * mib, 0}, {100 * mib, 64 * mib}, {100 * mib, 0}}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeRuntime{stats: c.stats}
			tr := New(Options{Read: f.read, Trim: f.trim})
			if tr.Sample() {
				t.Fatal("the first sample trimmed: it has no rate yet")
			}
			if got := tr.Sample(); got != c.want || f.trims != map[bool]int{true: 1}[c.want] {
				t.Fatalf("Sample() = %v with %d trims, want %v", got, f.trims, c.want)
			}
		})
	}
}

// After a trim the process stays quiet with nothing more to gain: no second
// trim; a new burst followed by quiet trims again.
func TestSampleTrimsOncePerBurst(t *testing.T) {
	const mib = 1 << 20
	f := &fakeRuntime{stats: []Stats{
		{0, 0},
		{500 * mib, 300 * mib}, // burst
		{501 * mib, 300 * mib}, // quiet: trim
		{501 * mib, 1 * mib},   // read after the trim
		{502 * mib, 2 * mib},   // quiet, nothing to gain
		{502 * mib, 2 * mib},   // idem
		{900 * mib, 350 * mib}, // another burst
		{900 * mib, 350 * mib}, // quiet: trim
		{900 * mib, 0},         // read after the trim
	}}
	tr := New(Options{Read: f.read, Trim: f.trim})
	var trimmed []bool
	for range 7 {
		trimmed = append(trimmed, tr.Sample())
	}
	want := []bool{false, false, true, false, false, false, true}
	for i := range want {
		if trimmed[i] != want[i] {
			t.Fatalf("samples trimmed %v, want %v", trimmed, want)
		}
	}
}

// The real runtime: garbage left by a burst is returned to the system by
// the first quiet sample (released heap memory grows by about the burst),
// and Run stops with its context.
func TestTrimmerReturnsABurstsGarbage(t *testing.T) {
	released := func() uint64 {
		s := []metrics.Sample{{Name: "/memory/classes/heap/released:bytes"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	// As under the server's GC headroom, the burst's garbage is not
	// collected while it happens.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	tr := New(Options{Interval: 20 * time.Millisecond, MinReclaim: 32 << 20})
	tr.Sample() // primes the rate
	// The burst: 128 MiB of 64 KiB objects, all garbage once the loop ends.
	var sink [][]byte
	for range 2048 {
		sink = append(sink, make([]byte, 64<<10))
		if len(sink) == 64 {
			sink = sink[:0]
		}
	}
	runtime.KeepAlive(sink)
	sink = nil
	tr.Sample() // the burst's interval: busy
	before := released()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tr.Run(ctx)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for released() < before+32<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("released heap memory grew from %d to %d bytes in 10s, want at least 32 MiB more", before, released())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
