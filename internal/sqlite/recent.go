package sqlite

import (
	"sync"
	"time"

	"github.com/iotdm/iotdm"
)

// recentCap is how many of the latest changes the store keeps in memory.
const recentCap = 1 << 16

// recentChanges keeps the latest published changes in memory, so feed
// consumers that keep up (the fleet index, later the broker's events) read
// them without going back to SQLite. Older changes come from the changes
// table.
type recentChanges struct {
	mu    sync.RWMutex
	ring  []iotdm.Change // circular; ring[(seq-1) % recentCap] holds seq
	first uint64         // the oldest seq held; 0 when empty
	last  uint64         // the newest seq held
}

// add appends a committed batch's writes, whose seqs follow last.
func (r *recentChanges) add(writes []write, at time.Time) {
	if len(writes) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ring == nil {
		r.ring = make([]iotdm.Change, recentCap)
	}
	if r.last != 0 && writes[0].seq != r.last+1 {
		r.first = 0 // a gap (never expected): start over
	}
	for _, w := range writes {
		r.ring[(w.seq-1)%recentCap] = iotdm.Change{Seq: w.seq, Time: at, Op: w.op, Kind: w.kind, Key: w.key, Value: w.value}
		r.last = w.seq
		if r.first == 0 {
			r.first = w.seq
		}
	}
	if r.last-r.first+1 > recentCap {
		r.first = r.last - recentCap + 1
	}
}

// read returns the changes after after, up to upTo and at most limit (<= 0:
// no limit); ok is false when they are not all held in memory.
func (r *recentChanges) read(after, upTo uint64, limit int) ([]iotdm.Change, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.first == 0 || after+1 < r.first || upTo > r.last {
		return nil, false
	}
	n := int(upTo - after)
	if limit > 0 && n > limit {
		n = limit
	}
	out := make([]iotdm.Change, n)
	for i := range out {
		out[i] = r.ring[(after+uint64(i))%recentCap]
	}
	return out, true
}
