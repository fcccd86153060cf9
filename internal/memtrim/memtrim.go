// Package memtrim gives a quiet process's spare heap memory back to the
// operating system.
//
// The server runs with a large GC headroom (a few hundred megabytes over the
// live heap, see cmd/iotdm's GC tuner) so that collections stay rare under
// load. The price is paid after a burst — thousands of devices reconnecting
// at once, a bulk import, a large stack deployment: the burst's garbage and
// the free spans it leaves stay resident until the next collection, and the
// runtime's background scavenger keeps memory up to the heap goal, which the
// headroom puts far above the live heap. An idle server would then sit at
// its burst's peak for minutes. A Trimmer watches the allocation rate and,
// once the process has gone quiet with enough to gain, collects and returns
// the free memory at once (debug.FreeOSMemory), as the server already does
// after building its fleet index.
package memtrim

import (
	"context"
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Defaults of Options.
const (
	// DefaultInterval is how often the allocation rate is sampled.
	DefaultInterval = time.Second
	// DefaultQuietBytes: a process that allocated less than this in one
	// interval is quiet (an idle server allocates kilobytes per second;
	// a busy one, megabytes).
	DefaultQuietBytes = 4 << 20
	// DefaultMinReclaim: a trim costs a full collection, so it runs only
	// when at least this much garbage and free heap could be returned.
	DefaultMinReclaim = 64 << 20
)

// Stats is what a Trimmer reads of the runtime at each sample.
type Stats struct {
	// Allocated is the total bytes ever allocated on the heap.
	Allocated uint64
	// Reclaimable is what a collection and a scavenge would give back:
	// heap objects that are no longer live (as of the last collection's
	// live heap) and free heap spans not yet returned to the system.
	Reclaimable uint64
}

// Options configure a Trimmer; zero values take the defaults.
type Options struct {
	Interval   time.Duration
	QuietBytes uint64
	MinReclaim uint64
	Logger     *slog.Logger
	// Read samples the runtime (tests replace it); nil reads
	// runtime/metrics.
	Read func() Stats
	// Trim returns the memory (tests replace it); nil is
	// debug.FreeOSMemory.
	Trim func()
}

// Trimmer returns memory to the system when the process goes quiet.
type Trimmer struct {
	opts Options
	prev Stats
	// primed is false until the first sample: the allocation rate needs
	// two.
	primed bool
}

// New returns a Trimmer with opts, defaults filled in.
func New(opts Options) *Trimmer {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.QuietBytes == 0 {
		opts.QuietBytes = DefaultQuietBytes
	}
	if opts.MinReclaim == 0 {
		opts.MinReclaim = DefaultMinReclaim
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Read == nil {
		opts.Read = newRuntimeReader()
	}
	if opts.Trim == nil {
		opts.Trim = debug.FreeOSMemory
	}
	return &Trimmer{opts: opts}
}

// Run samples every interval until ctx ends.
func (t *Trimmer) Run(ctx context.Context) {
	tick := time.NewTicker(t.opts.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			t.Sample()
		}
	}
}

// Sample takes one sample and trims when the interval since the previous
// one was quiet and enough is reclaimable. It reports whether it trimmed.
func (t *Trimmer) Sample() bool {
	s := t.opts.Read()
	prev, primed := t.prev, t.primed
	t.prev, t.primed = s, true
	if !primed || s.Allocated-prev.Allocated >= t.opts.QuietBytes || s.Reclaimable < t.opts.MinReclaim {
		return false
	}
	start := time.Now()
	t.opts.Trim()
	// The trim's own collection allocates little; what it freed is not
	// an allocation, so the next interval starts from here.
	t.prev = t.opts.Read()
	t.opts.Logger.Debug("returned free heap memory to the system", "reclaimable_bytes", s.Reclaimable,
		"took", time.Since(start))
	return true
}

// runtime/metrics names read by the default reader.
const (
	metricAllocs  = "/gc/heap/allocs:bytes"
	metricObjects = "/memory/classes/heap/objects:bytes"
	metricLive    = "/gc/heap/live:bytes"
	metricFree    = "/memory/classes/heap/free:bytes"
)

// newRuntimeReader returns a Read that samples runtime/metrics.
func newRuntimeReader() func() Stats {
	samples := []metrics.Sample{
		{Name: metricAllocs}, {Name: metricObjects}, {Name: metricLive}, {Name: metricFree},
	}
	return func() Stats {
		metrics.Read(samples)
		v := func(i int) uint64 {
			if samples[i].Value.Kind() != metrics.KindUint64 {
				return 0
			}
			return samples[i].Value.Uint64()
		}
		allocs, objects, live, free := v(0), v(1), v(2), v(3)
		var garbage uint64
		if objects > live {
			garbage = objects - live
		}
		return Stats{Allocated: allocs, Reclaimable: garbage + free}
	}
}
