package logstoretest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/iotdm/iotdm"
)

// testConcurrentAppends appends to one stream from two stores on one
// database, several goroutines each, and creates the same streams from all
// of them: nothing is lost, every stream is created once, and each
// writer's events keep their order.
func testConcurrentAppends(t *testing.T, o Opener) {
	stores := []Store{open(t, o), open(t, o)}
	ctx := t.Context()
	g := iotdm.LogGroupRef{Name: "shared", Created: 1}
	const writers, rounds, batch = 4, 30, 5

	// Every goroutine creates the same streams: one creation of each wins.
	var created atomic.Int32
	var wg sync.WaitGroup
	for si, s := range stores {
		for w := range writers {
			wg.Go(func() {
				for _, name := range []string{"shared", fmt.Sprintf("own-%d-%d", si, w), "x", "y", "z"} {
					err := s.CreateStream(context.Background(), g, iotdm.StoredLogStream{Name: name, CreationTime: 1})
					switch {
					case err == nil:
						created.Add(1)
					case !iotdm.IsCode(err, iotdm.ErrResourceAlreadyExists):
						t.Errorf("CreateStream(%s): %v", name, err)
					}
				}
			})
		}
	}
	wg.Wait()
	if want := int32(4 + len(stores)*writers); created.Load() != want {
		t.Fatalf("%d streams created, want %d", created.Load(), want)
	}

	var bytes atomic.Int64
	for si, s := range stores {
		for w := range writers {
			wg.Go(func() {
				for i := range rounds {
					events := make([]iotdm.NewLogEvent, batch)
					for j := range events {
						events[j] = iotdm.NewLogEvent{Timestamp: 1000, Message: fmt.Sprintf("s%d-w%d-%03d-%d", si, w, i, j)}
						bytes.Add(int64(len(events[j].Message)))
					}
					for _, stream := range []string{"shared", fmt.Sprintf("own-%d-%d", si, w)} {
						if _, err := s.Append(context.Background(), g, stream, int64(i), events); err != nil {
							t.Errorf("Append(%s): %v", stream, err)
							return
						}
					}
				}
			})
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	const total = 2 * writers * rounds * batch
	st, ok, err := stores[0].Stream(ctx, g, "shared")
	if err != nil || !ok || st.Events != total || st.StoredBytes != bytes.Load() || st.FirstEventTimestamp != 1000 || st.LastEventTimestamp != 1000 {
		t.Errorf("shared stream = %+v %v %v, want %d events of %d bytes", st, ok, err, total, bytes.Load())
	}
	all := events(t, stores[1], iotdm.LogEventQuery{Group: g, Streams: []string{"shared"}})
	if len(all) != total {
		t.Fatalf("%d events in the shared stream, want %d", len(all), total)
	}
	ids := map[int64]bool{}
	next := map[string]int{} // by writer: the next (round, event) expected
	for _, e := range all {
		if ids[e.ID] {
			t.Errorf("event id %d repeats", e.ID)
		}
		ids[e.ID] = true
		var si, w, i, j int
		if _, err := fmt.Sscanf(e.Message, "s%d-w%d-%03d-%d", &si, &w, &i, &j); err != nil {
			t.Fatalf("unexpected message %q", e.Message)
		}
		key := fmt.Sprintf("s%d-w%d", si, w)
		if got := i*batch + j; got != next[key] {
			t.Errorf("%s: event %d of writer %s, want its event %d (one timestamp: append order)", e.Message, got, key, next[key])
		}
		next[key]++
	}
	// The group's index sees the same events as the stream's.
	if n := len(events(t, stores[0], iotdm.LogEventQuery{Group: g})); n != 2*total {
		t.Errorf("%d events in the group, want %d", n, 2*total)
	}
	checkBytes(t, stores[0], g)
}

// testConcurrentExpiry expires a group from two stores at once while
// events are appended: every expired event is counted once, and the
// streams' bytes and first events stay right.
func testConcurrentExpiry(t *testing.T, o Opener) {
	stores := []Store{open(t, o), open(t, o)}
	ctx := t.Context()
	g := iotdm.LogGroupRef{Name: "g", Created: 1}
	streams := []string{"a", "b", "c"}
	const old, cutoff = 2000, 1500
	for _, name := range streams {
		if err := stores[0].CreateStream(ctx, g, iotdm.StoredLogStream{Name: name}); err != nil {
			t.Fatal(err)
		}
		events := make([]iotdm.NewLogEvent, old)
		for i := range events {
			events[i] = iotdm.NewLogEvent{Timestamp: int64(i), Message: fmt.Sprintf("%s-%d", name, i)}
		}
		if _, err := stores[1].Append(ctx, g, name, 1, events); err != nil {
			t.Fatal(err)
		}
	}
	var expired atomic.Int64
	var wg sync.WaitGroup
	for _, s := range stores {
		for range 2 {
			wg.Go(func() {
				for {
					n, err := s.Expire(context.Background(), g, cutoff, 100)
					if err != nil {
						t.Errorf("Expire: %v", err)
						return
					}
					if n == 0 {
						return
					}
					expired.Add(int64(n))
				}
			})
		}
	}
	appended, perStream := 0, map[string]int{}
	wg.Go(func() {
		for i := range 50 {
			name := streams[i%len(streams)]
			// Some new events are older than the cutoff: expiry may or may
			// not see them, but never counts them twice.
			ts := int64(5000 + i)
			if i%5 == 0 {
				ts = int64(i)
			}
			if _, err := stores[i%2].Append(context.Background(), g, name, 2, []iotdm.NewLogEvent{{Timestamp: ts, Message: fmt.Sprintf("%s-new-%d", name, i)}}); err != nil {
				t.Errorf("Append: %v", err)
				return
			}
			appended++
			perStream[name]++
		}
	})
	wg.Wait()
	if t.Failed() {
		return
	}
	// A last pass takes what came in late.
	for {
		n, err := stores[0].Expire(ctx, g, cutoff, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		expired.Add(int64(n))
	}
	left := events(t, stores[0], iotdm.LogEventQuery{Group: g})
	if got, want := expired.Load()+int64(len(left)), int64(len(streams)*old+appended); got != want {
		t.Errorf("%d expired + %d left = %d events, want %d written", expired.Load(), len(left), got, want)
	}
	if want := int64(len(streams)*cutoff + appended/5); expired.Load() != want {
		t.Errorf("%d events expired, want %d", expired.Load(), want)
	}
	for _, e := range left {
		if e.Timestamp < cutoff {
			t.Errorf("event %+v left, older than the cutoff", e)
		}
	}
	for _, name := range streams {
		st, _, err := stores[1].Stream(ctx, g, name)
		if err != nil || st.FirstEventTimestamp != cutoff || st.Events != int64(old+perStream[name]) {
			t.Errorf("stream %s = %+v %v, want its first event at %d, %d events ever", name, st, err, cutoff, old+perStream[name])
		}
	}
	checkBytes(t, stores[0], g)
}

// testDeleteWhileAppending deletes a stream, then a group, from one store
// while another appends to them: once the deletion returns, nothing of
// them is left and appends fail.
func testDeleteWhileAppending(t *testing.T, o Opener) {
	a, b := open(t, o), open(t, o)
	ctx := t.Context()
	g := iotdm.LogGroupRef{Name: "g", Created: 1}
	for _, name := range []string{"s", "t"} {
		if err := a.CreateStream(ctx, g, iotdm.StoredLogStream{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	// appendUntilGone appends to stream until it is not found; started
	// says it appended once.
	appendUntilGone := func(stream string, started chan<- struct{}) {
		for i := range 100000 {
			_, err := a.Append(context.Background(), g, stream, 1, []iotdm.NewLogEvent{{Timestamp: int64(i), Message: "m"}})
			if i == 0 {
				close(started)
			}
			if iotdm.IsCode(err, iotdm.ErrResourceNotFound) {
				return
			}
			if err != nil {
				t.Errorf("Append(%s): %v", stream, err)
				return
			}
		}
		t.Errorf("Append(%s) never failed", stream)
	}

	var wg sync.WaitGroup
	started := make(chan struct{})
	wg.Go(func() { appendUntilGone("s", started) })
	<-started
	if ok, err := b.DeleteStream(ctx, g, "s"); err != nil || !ok {
		t.Fatalf("DeleteStream = %v %v", ok, err)
	}
	if _, ok, _ := b.Stream(ctx, g, "s"); ok {
		t.Error("stream s left after DeleteStream")
	}
	if n := len(events(t, b, iotdm.LogEventQuery{Group: g, Streams: []string{"s"}})); n != 0 {
		t.Errorf("%d events of s left after DeleteStream", n)
	}
	wg.Wait()
	if n := len(events(t, b, iotdm.LogEventQuery{Group: g})); n != 0 {
		t.Errorf("%d events left in the group after DeleteStream", n)
	}
	checkBytes(t, b, g)

	started = make(chan struct{})
	wg.Go(func() { appendUntilGone("t", started) })
	<-started
	if err := b.DeleteGroup(ctx, g); err != nil {
		t.Fatalf("DeleteGroup: %v", err)
	}
	wg.Wait()
	if n := len(events(t, b, iotdm.LogEventQuery{Group: g})); n != 0 {
		t.Errorf("%d events left after DeleteGroup", n)
	}
	usage, err := b.Groups(ctx)
	if err != nil || len(usage) != 0 {
		t.Errorf("Groups after DeleteGroup = %v %v, want none", usage, err)
	}
}
