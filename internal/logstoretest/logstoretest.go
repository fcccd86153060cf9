// Package logstoretest is the conformance suite of the iotdm.LogEventStore
// implementations (internal/sqlite, internal/postgres): every store runs
// Run.
package logstoretest

import (
	"fmt"
	"testing"

	"github.com/iotdm/iotdm"
)

// Store is a log event store under test.
type Store interface {
	iotdm.LogEventStore
	// Close releases the store; it is idempotent.
	Close() error
}

// Opener opens a log event store on one database. Every store an Opener
// opens shares that database, as the nodes of one deployment do; the suite
// closes the stores it opens.
type Opener func(t testing.TB) Store

// NewDatabase returns the Opener of a new, empty database for t.
type NewDatabase func(t testing.TB) Opener

// Run runs the suite, each test on a database of its own.
func Run(t *testing.T, newDB NewDatabase) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open Opener)
	}{
		{"Streams", testStreams},
		{"Events", testEvents},
		{"ExpireAndDelete", testExpireAndDelete},
		{"LargeDeletes", testLargeDeletes},
		{"Messages", testMessages},
		{"ConcurrentAppends", testConcurrentAppends},
		{"ConcurrentExpiry", testConcurrentExpiry},
		{"DeleteWhileAppending", testDeleteWhileAppending},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newDB(t))
		})
	}
}

// open opens a store and closes it when t ends.
func open(t testing.TB, o Opener) Store {
	t.Helper()
	s := o(t)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close log events: %v", err)
		}
	})
	return s
}

func appendEvents(t testing.TB, s iotdm.LogEventStore, g iotdm.LogGroupRef, stream string, ingestion int64, ts ...int64) iotdm.StoredLogStream {
	t.Helper()
	events := make([]iotdm.NewLogEvent, len(ts))
	for i, v := range ts {
		events[i] = iotdm.NewLogEvent{Timestamp: v, Message: fmt.Sprintf("%s@%d", stream, v)}
	}
	st, err := s.Append(t.Context(), g, stream, ingestion, events)
	if err != nil {
		t.Fatalf("Append(%s): %v", stream, err)
	}
	return st
}

// messages reads the events q selects as their messages.
func messages(t testing.TB, s iotdm.LogEventStore, q iotdm.LogEventQuery) []string {
	t.Helper()
	out := []string{}
	err := s.Events(t.Context(), q, func(e iotdm.StoredLogEvent) error {
		out = append(out, e.Message)
		return nil
	})
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	return out
}

// events reads the events of a group in order.
func events(t testing.TB, s iotdm.LogEventStore, q iotdm.LogEventQuery) []iotdm.StoredLogEvent {
	t.Helper()
	var out []iotdm.StoredLogEvent
	if err := s.Events(t.Context(), q, func(e iotdm.StoredLogEvent) error {
		out = append(out, e)
		return nil
	}); err != nil {
		t.Fatalf("Events: %v", err)
	}
	return out
}

// checkBytes checks that each stream of g holds the bytes of its events.
func checkBytes(t testing.TB, s iotdm.LogEventStore, g iotdm.LogGroupRef) {
	t.Helper()
	held := map[string]int64{}
	for _, e := range events(t, s, iotdm.LogEventQuery{Group: g}) {
		held[e.Stream] += int64(len(e.Message))
	}
	var total int64
	err := s.Streams(t.Context(), iotdm.LogStreamQuery{Group: g}, func(st iotdm.StoredLogStream) error {
		if st.StoredBytes != held[st.Name] {
			t.Errorf("stream %s: StoredBytes %d, its events hold %d", st.Name, st.StoredBytes, held[st.Name])
		}
		total += st.StoredBytes
		return nil
	})
	if err != nil {
		t.Fatalf("Streams: %v", err)
	}
	bytes, err := s.GroupBytes(t.Context(), []iotdm.LogGroupRef{g})
	if err != nil || bytes[0] != total {
		t.Errorf("GroupBytes(%v) = %v %v, want %d", g, bytes, err, total)
	}
}
