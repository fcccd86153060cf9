package sim

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// The simulator keeps no goroutine or timer per device: every device's next
// actions are events in one time-ordered heap, and one goroutine hands the
// due ones to a few workers. An event carries the device's connection
// generation, so the events of a connection that has ended are dropped when
// they come due instead of being searched for and removed.

type eventKind uint8

const (
	evConnect eventKind = iota
	evTelemetry
	evShadow
	evFirmware
	evChurn   // a random disconnect
	evJobNext // publish jobs/start-next
	evJob     // finish the job execution in progress
)

type event struct {
	at   int64 // UnixNano
	dev  *device
	gen  uint32
	kind eventKind
}

type eventHeap []event

func (h eventHeap) Len() int           { return len(h) }
func (h eventHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h eventHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)        { *h = append(*h, x.(event)) }
func (h *eventHeap) Pop() any {
	old := *h
	n := len(old)
	e := old[n-1]
	old[n-1] = event{}
	*h = old[:n-1]
	return e
}

// scheduler is the event heap and its dispatch loop.
type scheduler struct {
	mu   sync.Mutex
	h    eventHeap
	wake chan struct{} // a token when an event earlier than the earliest was added
	// slack lets one wake-up take the events due within it, so that a
	// fleet spread evenly over time costs a bounded number of wake-ups.
	slack time.Duration
}

func newScheduler(slack time.Duration) *scheduler {
	return &scheduler{wake: make(chan struct{}, 1), slack: slack}
}

// add schedules e.
func (s *scheduler) add(e event) {
	s.mu.Lock()
	first := len(s.h) == 0 || e.at < s.h[0].at
	heap.Push(&s.h, e)
	s.mu.Unlock()
	if first {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// len is the number of scheduled events.
func (s *scheduler) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.h)
}

// run hands each event to dispatch once it is due (within slack), in time
// order, until ctx ends. dispatch may block: that is back-pressure, and
// events simply come out late.
func (s *scheduler) run(ctx context.Context, dispatch func(event)) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var batch []event
	for {
		s.mu.Lock()
		limit := time.Now().Add(s.slack).UnixNano()
		for len(s.h) > 0 && s.h[0].at <= limit {
			batch = append(batch, heap.Pop(&s.h).(event))
		}
		wait := time.Hour
		if len(s.h) > 0 {
			wait = time.Duration(s.h[0].at - time.Now().UnixNano())
		}
		s.mu.Unlock()
		for i, e := range batch {
			dispatch(e)
			batch[i] = event{}
		}
		batch = batch[:0]
		if wait <= 0 {
			continue
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-timer.C:
		}
	}
}
