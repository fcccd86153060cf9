package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/sqlite"
)

// openLogEvents opens a DB and its log event store in a fresh directory.
func openLogEvents(t *testing.T) (*sqlite.DB, *sqlite.LogEventStore) {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "iotdm.db"), testLogger(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	s, err := sqlite.OpenLogEventStore(t.Context(), db)
	if err != nil {
		t.Fatalf("OpenLogEventStore: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close log events: %v", err)
		}
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db, s
}

func appendEvents(t *testing.T, s *sqlite.LogEventStore, g iotdm.LogGroupRef, stream string, ingestion int64, ts ...int64) iotdm.StoredLogStream {
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
func messages(t *testing.T, s *sqlite.LogEventStore, q iotdm.LogEventQuery) []string {
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

func TestLogEventStoreStreams(t *testing.T) {
	_, s := openLogEvents(t)
	ctx := t.Context()
	g := iotdm.LogGroupRef{Name: "/app", Created: 1000}
	for i, name := range []string{"b", "a", "c/1", "c/2"} {
		if err := s.CreateStream(ctx, g, iotdm.StoredLogStream{Name: name, CreationTime: int64(2000 + i)}); err != nil {
			t.Fatalf("CreateStream(%s): %v", name, err)
		}
	}
	if err := s.CreateStream(ctx, g, iotdm.StoredLogStream{Name: "a"}); !iotdm.IsCode(err, iotdm.ErrResourceAlreadyExists) {
		t.Errorf("CreateStream(a) again = %v, want ResourceAlreadyExistsException", err)
	}
	// Another incarnation of the group has its own streams.
	if err := s.CreateStream(ctx, iotdm.LogGroupRef{Name: "/app", Created: 5000}, iotdm.StoredLogStream{Name: "a"}); err != nil {
		t.Errorf("CreateStream(a) in a new incarnation: %v", err)
	}

	st, ok, err := s.Stream(ctx, g, "b")
	want := iotdm.StoredLogStream{Name: "b", CreationTime: 2000, FirstEventTimestamp: -1, LastEventTimestamp: -1, LastIngestionTime: -1}
	if err != nil || !ok || st != want {
		t.Errorf("Stream(b) = %+v %v %v, want %+v", st, ok, err, want)
	}

	got := appendEvents(t, s, g, "c/1", 9000, 300, 100, 200)
	want = iotdm.StoredLogStream{Name: "c/1", CreationTime: 2002, FirstEventTimestamp: 100, LastEventTimestamp: 300,
		LastIngestionTime: 9000, StoredBytes: int64(3 * len("c/1@100")), Events: 3}
	if got != want {
		t.Errorf("Append = %+v, want %+v", got, want)
	}
	appendEvents(t, s, g, "a", 9100, 50)
	if _, err := s.Append(ctx, g, "missing", 1, []iotdm.NewLogEvent{{Timestamp: 1, Message: "m"}}); !iotdm.IsCode(err, iotdm.ErrResourceNotFound) {
		t.Errorf("Append(missing) = %v, want ResourceNotFoundException", err)
	}

	list := func(q iotdm.LogStreamQuery) []string {
		t.Helper()
		q.Group = g
		var names []string
		if err := s.Streams(ctx, q, func(st iotdm.StoredLogStream) error {
			names = append(names, st.Name)
			return nil
		}); err != nil {
			t.Fatalf("Streams: %v", err)
		}
		return names
	}
	for _, tc := range []struct {
		name string
		q    iotdm.LogStreamQuery
		want []string
	}{
		{"by name", iotdm.LogStreamQuery{}, []string{"a", "b", "c/1", "c/2"}},
		{"by name descending", iotdm.LogStreamQuery{Descending: true}, []string{"c/2", "c/1", "b", "a"}},
		{"prefix", iotdm.LogStreamQuery{Prefix: "c/"}, []string{"c/1", "c/2"}},
		{"after", iotdm.LogStreamQuery{After: true, AfterName: "b"}, []string{"c/1", "c/2"}},
		{"after descending", iotdm.LogStreamQuery{Descending: true, After: true, AfterName: "b"}, []string{"a"}},
		{"by last event", iotdm.LogStreamQuery{ByLastEvent: true}, []string{"b", "c/2", "a", "c/1"}},
		{"by last event descending", iotdm.LogStreamQuery{ByLastEvent: true, Descending: true}, []string{"c/1", "a", "c/2", "b"}},
		{"by last event after", iotdm.LogStreamQuery{ByLastEvent: true, After: true, AfterLastEvent: -1, AfterName: "c/2"}, []string{"a", "c/1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := list(tc.q); !cmp.Equal(got, tc.want) {
				t.Errorf("Streams(%+v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}

	ok, err = s.DeleteStream(ctx, g, "c/1")
	if err != nil || !ok {
		t.Fatalf("DeleteStream(c/1) = %v %v", ok, err)
	}
	if ok, err := s.DeleteStream(ctx, g, "c/1"); err != nil || ok {
		t.Errorf("DeleteStream(c/1) again = %v %v, want false", ok, err)
	}
	if got := messages(t, s, iotdm.LogEventQuery{Group: g}); !cmp.Equal(got, []string{"a@50"}) {
		t.Errorf("events after DeleteStream = %v", got)
	}
}

func TestLogEventStoreEvents(t *testing.T) {
	_, s := openLogEvents(t)
	ctx := t.Context()
	g := iotdm.LogGroupRef{Name: "g", Created: 1}
	for _, name := range []string{"dev/1", "dev/2", "other"} {
		if err := s.CreateStream(ctx, g, iotdm.StoredLogStream{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	appendEvents(t, s, g, "dev/1", 1, 10, 20, 30)
	appendEvents(t, s, g, "dev/2", 1, 15, 20, 40)
	appendEvents(t, s, g, "other", 1, 5, 50)
	// The same timestamp in one stream orders by ingestion.
	appendEvents(t, s, g, "dev/1", 2, 30)

	for _, tc := range []struct {
		name string
		q    iotdm.LogEventQuery
		want []string
	}{
		{"all in time order", iotdm.LogEventQuery{},
			[]string{"other@5", "dev/1@10", "dev/2@15", "dev/1@20", "dev/2@20", "dev/1@30", "dev/1@30", "dev/2@40", "other@50"}},
		{"one stream", iotdm.LogEventQuery{Streams: []string{"dev/2"}}, []string{"dev/2@15", "dev/2@20", "dev/2@40"}},
		{"streams", iotdm.LogEventQuery{Streams: []string{"other", "dev/2"}}, []string{"other@5", "dev/2@15", "dev/2@20", "dev/2@40", "other@50"}},
		{"prefix", iotdm.LogEventQuery{StreamPrefix: "dev/", Start: 20, End: 40}, []string{"dev/1@20", "dev/2@20", "dev/1@30", "dev/1@30"}},
		{"descending with limit", iotdm.LogEventQuery{Descending: true, Limit: 2}, []string{"other@50", "dev/2@40"}},
		{"missing stream", iotdm.LogEventQuery{Streams: []string{"nope"}}, []string{}},
		{"other incarnation", iotdm.LogEventQuery{Group: iotdm.LogGroupRef{Name: "g", Created: 2}}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.q.Group.Name == "" {
				tc.q.Group = g
			}
			if got := messages(t, s, tc.q); !cmp.Equal(got, tc.want) {
				t.Errorf("Events(%+v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}

	t.Run("cursors", func(t *testing.T) {
		var all []iotdm.StoredLogEvent
		if err := s.Events(ctx, iotdm.LogEventQuery{Group: g}, func(e iotdm.StoredLogEvent) error {
			all = append(all, e)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		mid := iotdm.LogEventCursor{Timestamp: all[5].Timestamp, ID: all[5].ID} // the first dev/1@30
		after := messages(t, s, iotdm.LogEventQuery{Group: g, After: &mid})
		if want := []string{"dev/1@30", "dev/2@40", "other@50"}; !cmp.Equal(after, want) {
			t.Errorf("after %v = %v, want %v", mid, after, want)
		}
		before := messages(t, s, iotdm.LogEventQuery{Group: g, Before: &mid, Descending: true, Limit: 2})
		if want := []string{"dev/2@20", "dev/1@20"}; !cmp.Equal(before, want) {
			t.Errorf("before %v = %v, want %v", mid, before, want)
		}
	})
}

func TestLogEventStoreExpireAndDelete(t *testing.T) {
	_, s := openLogEvents(t)
	ctx := t.Context()
	g := iotdm.LogGroupRef{Name: "g", Created: 1}
	other := iotdm.LogGroupRef{Name: "h", Created: 1}
	for _, ref := range []iotdm.LogGroupRef{g, other} {
		for _, name := range []string{"s1", "s2"} {
			if err := s.CreateStream(ctx, ref, iotdm.StoredLogStream{Name: name}); err != nil {
				t.Fatal(err)
			}
		}
	}
	appendEvents(t, s, g, "s1", 1, 10, 20, 30)
	appendEvents(t, s, g, "s2", 1, 15)
	appendEvents(t, s, other, "s1", 1, 10)
	size := int64(len("s1@10"))

	n, err := s.Expire(ctx, g, 20, 100)
	if err != nil || n != 2 {
		t.Fatalf("Expire = %d %v, want 2", n, err)
	}
	if got := messages(t, s, iotdm.LogEventQuery{Group: g}); !cmp.Equal(got, []string{"s1@20", "s1@30"}) {
		t.Errorf("after Expire: %v", got)
	}
	st, _, _ := s.Stream(ctx, g, "s1")
	if st.FirstEventTimestamp != 20 || st.LastEventTimestamp != 30 || st.StoredBytes != 2*size || st.Events != 3 {
		t.Errorf("s1 after Expire = %+v", st)
	}
	st, _, _ = s.Stream(ctx, g, "s2")
	if st.FirstEventTimestamp != 15 || st.StoredBytes != 0 {
		t.Errorf("s2 after Expire = %+v, want its times kept and no bytes", st)
	}
	if n, err := s.Expire(ctx, g, 1000, 1); err != nil || n != 1 {
		t.Errorf("Expire(limit 1) = %d %v, want 1", n, err)
	}

	usage, err := s.Groups(ctx)
	want := []iotdm.LogGroupUsage{{LogGroupRef: g, StoredBytes: size}, {LogGroupRef: other, StoredBytes: size}}
	if err != nil || !cmp.Equal(usage, want) {
		t.Errorf("Groups = %v %v, want %v", usage, err, want)
	}
	bytes, err := s.GroupBytes(ctx, []iotdm.LogGroupRef{other, {Name: "nope"}})
	if err != nil || !cmp.Equal(bytes, []int64{size, 0}) {
		t.Errorf("GroupBytes = %v %v", bytes, err)
	}

	if err := s.DeleteGroup(ctx, g); err != nil {
		t.Fatalf("DeleteGroup: %v", err)
	}
	if _, ok, _ := s.Stream(ctx, g, "s1"); ok {
		t.Error("stream s1 left after DeleteGroup")
	}
	if got := messages(t, s, iotdm.LogEventQuery{Group: other}); !cmp.Equal(got, []string{"s1@10"}) {
		t.Errorf("the other group's events after DeleteGroup: %v", got)
	}
	usage, _ = s.Groups(ctx)
	if !cmp.Equal(usage, []iotdm.LogGroupUsage{{LogGroupRef: other, StoredBytes: size}}) {
		t.Errorf("Groups after DeleteGroup = %v", usage)
	}
	if err := s.DeleteGroup(ctx, g); err != nil {
		t.Errorf("DeleteGroup again: %v", err)
	}
}

// TestLogEventStoreLargeDeletes deletes a stream and a group of more events
// than one chunk.
func TestLogEventStoreLargeDeletes(t *testing.T) {
	_, s := openLogEvents(t)
	ctx := t.Context()
	g := iotdm.LogGroupRef{Name: "big", Created: 1}
	for _, name := range []string{"a", "b"} {
		if err := s.CreateStream(ctx, g, iotdm.StoredLogStream{Name: name}); err != nil {
			t.Fatal(err)
		}
		events := make([]iotdm.NewLogEvent, 12000)
		for i := range events {
			events[i] = iotdm.NewLogEvent{Timestamp: int64(i), Message: "x"}
		}
		if _, err := s.Append(ctx, g, name, 1, events); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := s.DeleteStream(ctx, g, "a"); err != nil || !ok {
		t.Fatalf("DeleteStream = %v %v", ok, err)
	}
	count := 0
	s.Events(ctx, iotdm.LogEventQuery{Group: g}, func(iotdm.StoredLogEvent) error { count++; return nil })
	if count != 12000 {
		t.Errorf("%d events left after DeleteStream, want 12000", count)
	}
	if err := s.DeleteGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	count = 0
	s.Events(ctx, iotdm.LogEventQuery{Group: g}, func(iotdm.StoredLogEvent) error { count++; return nil })
	if count != 0 {
		t.Errorf("%d events left after DeleteGroup", count)
	}
}

// TestLogEventStoreBesideWriter appends events while the DB's writer
// commits Updates: the two writers of the file take turns.
func TestLogEventStoreBesideWriter(t *testing.T) {
	db, s := openLogEvents(t)
	ctx := t.Context()
	g := iotdm.LogGroupRef{Name: "g", Created: 1}
	if err := s.CreateStream(ctx, g, iotdm.StoredLogStream{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				if w%2 == 0 {
					err := db.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
						return tx.Put(ctx, "thing", fmt.Sprintf("t%d-%d", w, i), []byte(`{}`))
					})
					if err != nil {
						errs <- err
						return
					}
					continue
				}
				if _, err := s.Append(ctx, g, "s", 1, []iotdm.NewLogEvent{{Timestamp: int64(i), Message: strings.Repeat("m", 10)}}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st, _, _ := s.Stream(ctx, g, "s")
	if st.Events != 100 || st.StoredBytes != 1000 {
		t.Errorf("stream = %+v, want 100 events of 1000 bytes", st)
	}
}
