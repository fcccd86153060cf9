package logstoretest

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/iotdm/iotdm"
)

func testStreams(t *testing.T, o Opener) {
	s := open(t, o)
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
	if _, ok, err := s.Stream(ctx, g, "nope"); ok || err != nil {
		t.Errorf("Stream(nope) = %v %v, want not found", ok, err)
	}

	got := appendEvents(t, s, g, "c/1", 9000, 300, 100, 200)
	want = iotdm.StoredLogStream{Name: "c/1", CreationTime: 2002, FirstEventTimestamp: 100, LastEventTimestamp: 300,
		LastIngestionTime: 9000, StoredBytes: int64(3 * len("c/1@100")), Events: 3}
	if got != want {
		t.Errorf("Append = %+v, want %+v", got, want)
	}
	if st, _, _ := s.Stream(ctx, g, "c/1"); st != want {
		t.Errorf("Stream(c/1) = %+v, want %+v", st, want)
	}
	// An empty append changes nothing.
	if st, err := s.Append(ctx, g, "c/1", 9999, nil); err != nil || st != want {
		t.Errorf("Append(nothing) = %+v %v, want %+v", st, err, want)
	}
	// Later events move the last event, earlier ones the first.
	got = appendEvents(t, s, g, "c/1", 9500, 50, 400)
	want.FirstEventTimestamp, want.LastEventTimestamp, want.LastIngestionTime = 50, 400, 9500
	want.StoredBytes += int64(len("c/1@50") + len("c/1@400"))
	want.Events = 5
	if got != want {
		t.Errorf("second Append = %+v, want %+v", got, want)
	}
	appendEvents(t, s, g, "a", 9100, 50)
	if _, err := s.Append(ctx, g, "missing", 1, []iotdm.NewLogEvent{{Timestamp: 1, Message: "m"}}); !iotdm.IsCode(err, iotdm.ErrResourceNotFound) {
		t.Errorf("Append(missing) = %v, want ResourceNotFoundException", err)
	}
	if _, err := s.Append(ctx, iotdm.LogGroupRef{Name: "/none", Created: 1}, "a", 1, []iotdm.NewLogEvent{{Timestamp: 1, Message: "m"}}); !iotdm.IsCode(err, iotdm.ErrResourceNotFound) {
		t.Errorf("Append(missing group) = %v, want ResourceNotFoundException", err)
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
		{"prefix descending", iotdm.LogStreamQuery{Prefix: "c", Descending: true}, []string{"c/2", "c/1"}},
		{"no such prefix", iotdm.LogStreamQuery{Prefix: "d"}, nil},
		{"after", iotdm.LogStreamQuery{After: true, AfterName: "b"}, []string{"c/1", "c/2"}},
		{"after descending", iotdm.LogStreamQuery{Descending: true, After: true, AfterName: "b"}, []string{"a"}},
		{"by last event", iotdm.LogStreamQuery{ByLastEvent: true}, []string{"b", "c/2", "a", "c/1"}},
		{"by last event descending", iotdm.LogStreamQuery{ByLastEvent: true, Descending: true}, []string{"c/1", "a", "c/2", "b"}},
		{"by last event after", iotdm.LogStreamQuery{ByLastEvent: true, After: true, AfterLastEvent: -1, AfterName: "c/2"}, []string{"a", "c/1"}},
		{"by last event with prefix", iotdm.LogStreamQuery{ByLastEvent: true, Prefix: "c/"}, []string{"c/2", "c/1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := list(tc.q); !cmp.Equal(got, tc.want) {
				t.Errorf("Streams(%+v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
	t.Run("stop", func(t *testing.T) {
		n := 0
		err := s.Streams(ctx, iotdm.LogStreamQuery{Group: g}, func(iotdm.StoredLogStream) error {
			n++
			return iotdm.ErrStopScan
		})
		if err != nil || n != 1 {
			t.Errorf("Streams stopped = %d calls, %v; want 1, nil", n, err)
		}
		boom := errors.New("boom")
		if err := s.Streams(ctx, iotdm.LogStreamQuery{Group: g}, func(iotdm.StoredLogStream) error { return boom }); !errors.Is(err, boom) {
			t.Errorf("Streams = %v, want fn's error", err)
		}
	})

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
	// The name is free again, for a new stream with no events.
	if err := s.CreateStream(ctx, g, iotdm.StoredLogStream{Name: "c/1", CreationTime: 7}); err != nil {
		t.Fatalf("CreateStream(c/1) after DeleteStream: %v", err)
	}
	if st, _, _ := s.Stream(ctx, g, "c/1"); st.Events != 0 || st.StoredBytes != 0 || st.CreationTime != 7 {
		t.Errorf("re-created c/1 = %+v", st)
	}
}

func testEvents(t *testing.T, o Opener) {
	s := open(t, o)
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
		{"one stream descending", iotdm.LogEventQuery{Streams: []string{"dev/2"}, Descending: true}, []string{"dev/2@40", "dev/2@20", "dev/2@15"}},
		{"streams", iotdm.LogEventQuery{Streams: []string{"other", "dev/2"}}, []string{"other@5", "dev/2@15", "dev/2@20", "dev/2@40", "other@50"}},
		{"prefix", iotdm.LogEventQuery{StreamPrefix: "dev/", Start: 20, End: 40}, []string{"dev/1@20", "dev/2@20", "dev/1@30", "dev/1@30"}},
		{"one stream and a prefix", iotdm.LogEventQuery{Streams: []string{"other"}, StreamPrefix: "dev/"}, []string{}},
		{"descending with limit", iotdm.LogEventQuery{Descending: true, Limit: 2}, []string{"other@50", "dev/2@40"}},
		{"limit", iotdm.LogEventQuery{Limit: 3, Start: 10}, []string{"dev/1@10", "dev/2@15", "dev/1@20"}},
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
		all := events(t, s, iotdm.LogEventQuery{Group: g})
		for i := 1; i < len(all); i++ {
			prev := iotdm.LogEventCursor{Timestamp: all[i-1].Timestamp, ID: all[i-1].ID}
			if cur := (iotdm.LogEventCursor{Timestamp: all[i].Timestamp, ID: all[i].ID}); !prev.Less(cur) {
				t.Errorf("event %d at %v is not after %v", i, cur, prev)
			}
		}
		if all[0].IngestionTime != 1 || all[0].Stream != "other" {
			t.Errorf("first event = %+v", all[0])
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
	t.Run("stop", func(t *testing.T) {
		n := 0
		err := s.Events(ctx, iotdm.LogEventQuery{Group: g}, func(iotdm.StoredLogEvent) error {
			n++
			return iotdm.ErrStopScan
		})
		if err != nil || n != 1 {
			t.Errorf("Events stopped = %d calls, %v; want 1, nil", n, err)
		}
	})
}

func testExpireAndDelete(t *testing.T, o Opener) {
	s := open(t, o)
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

	if n, err := s.Expire(ctx, g, 20, 0); err != nil || n != 0 {
		t.Errorf("Expire(limit 0) = %d %v, want 0", n, err)
	}
	if n, err := s.Expire(ctx, iotdm.LogGroupRef{Name: "nope"}, 20, 10); err != nil || n != 0 {
		t.Errorf("Expire(unknown group) = %d %v, want 0", n, err)
	}
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
	if got := messages(t, s, iotdm.LogEventQuery{Group: g}); !cmp.Equal(got, []string{"s1@30"}) {
		t.Errorf("Expire(limit 1) left %v, want the newest event", got)
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
	// A new incarnation of the name starts empty.
	if err := s.CreateStream(ctx, g, iotdm.StoredLogStream{Name: "s1"}); err != nil {
		t.Fatalf("CreateStream after DeleteGroup: %v", err)
	}
	if got := messages(t, s, iotdm.LogEventQuery{Group: g}); len(got) != 0 {
		t.Errorf("events of the re-created group: %v", got)
	}
}

// testLargeDeletes deletes a stream and a group of more events than a
// store deletes in one transaction.
func testLargeDeletes(t *testing.T, o Opener) {
	s := open(t, o)
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
	if n := len(events(t, s, iotdm.LogEventQuery{Group: g})); n != 12000 {
		t.Errorf("%d events left after DeleteStream, want 12000", n)
	}
	checkBytes(t, s, g)
	if err := s.DeleteGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	if n := len(events(t, s, iotdm.LogEventQuery{Group: g})); n != 0 {
		t.Errorf("%d events left after DeleteGroup", n)
	}
}

// testMessages stores messages of every kind and size as they are, and
// counts their UTF-8 bytes.
func testMessages(t *testing.T, o Opener) {
	s := open(t, o)
	ctx := t.Context()
	g := iotdm.LogGroupRef{Name: "g", Created: 1}
	names := []string{"é/1", "é/2", "ée", "e", "日本/語", "\U0010FFFF/x", "\U0010FFFFz"}
	for _, name := range names {
		if err := s.CreateStream(ctx, g, iotdm.StoredLogStream{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	msgs := []string{"plain", "héllo wörld", "日本語のログ", "emoji 🚀", "tab\tand\nnewline", `{"json": "quoted \" and \\"}`, strings.Repeat("x", 256*1024), "nul \x00 byte"}
	var newEvents []iotdm.NewLogEvent
	var size int64
	for _, m := range msgs {
		newEvents = append(newEvents, iotdm.NewLogEvent{Timestamp: 100, Message: m}) // one timestamp: input order
		size += int64(len(m))
	}
	st, err := s.Append(ctx, g, "é/1", 5, newEvents)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	if st.StoredBytes != size || st.Events != int64(len(msgs)) {
		t.Errorf("Append = %+v, want %d bytes in %d events", st, size, len(msgs))
	}
	if got := messages(t, s, iotdm.LogEventQuery{Group: g, Streams: []string{"é/1"}}); !cmp.Equal(got, msgs) {
		t.Errorf("messages read back differ from those written")
	}
	checkBytes(t, s, g)
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"é", []string{"é/1", "é/2", "ée"}},
		{"é/", []string{"é/1", "é/2"}},
		{"e", []string{"e"}},
		{"日本", []string{"日本/語"}},
		{"\U0010FFFF", []string{"\U0010FFFF/x", "\U0010FFFFz"}},
	} {
		var got []string
		if err := s.Streams(ctx, iotdm.LogStreamQuery{Group: g, Prefix: tc.prefix}, func(st iotdm.StoredLogStream) error {
			got = append(got, st.Name)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if !cmp.Equal(got, tc.want) {
			t.Errorf("Streams(prefix %q) = %q, want %q", tc.prefix, got, tc.want)
		}
	}
	if got := messages(t, s, iotdm.LogEventQuery{Group: g, StreamPrefix: "é"}); len(got) != len(msgs) {
		t.Errorf("Events(prefix é) = %d events, want %d", len(got), len(msgs))
	}
	if got := messages(t, s, iotdm.LogEventQuery{Group: g, StreamPrefix: "é/2"}); len(got) != 0 {
		t.Errorf("Events(prefix é/2) = %d events, want none", len(got))
	}
}
