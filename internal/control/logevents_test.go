package control_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/control"
	"github.com/iotdm/iotdm/internal/sqlite"
)

// logFixture is the log group and log event services on one real SQLite
// database, with a clock the test sets.
type logFixture struct {
	db     *sqlite.DB
	store  *sqlite.LogEventStore
	mu     sync.Mutex
	now    time.Time
	groups iotdm.LogGroups // LogGroups extended by the events
	ev     *control.LogEvents
}

func newLogFixture(t *testing.T, opts control.LogEventsOptions) *logFixture {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "logs.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.OpenLogEventStore(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		store.Close()
		db.Close()
	})
	f := &logFixture{db: db, store: store, now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	clock := func() time.Time {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.now
	}
	opts.Region, opts.AccountID, opts.Now = monRegion, monAccount, clock
	f.ev = control.NewLogEvents(db, store, opts)
	f.groups = f.ev.Groups(control.NewLogGroups(db, control.LogGroupsOptions{Region: monRegion, AccountID: monAccount, Now: clock}))
	return f
}

func (f *logFixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

func (f *logFixture) ms(d time.Duration) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now.Add(d).UnixMilli()
}

func (f *logFixture) createGroup(t *testing.T, name string) {
	t.Helper()
	if _, err := f.groups.CreateLogGroup(t.Context(), &iotdm.CreateLogGroupInput{LogGroupName: name}); err != nil {
		t.Fatalf("CreateLogGroup(%s): %v", name, err)
	}
}

func (f *logFixture) createStream(t *testing.T, group, stream string) {
	t.Helper()
	if _, err := f.ev.CreateLogStream(t.Context(), &iotdm.CreateLogStreamInput{LogGroupName: group, LogStreamName: stream}); err != nil {
		t.Fatalf("CreateLogStream(%s, %s): %v", group, stream, err)
	}
}

// put stores messages in a stream, each at its offset from now.
func (f *logFixture) put(t *testing.T, group, stream string, events ...any) *iotdm.PutLogEventsOutput {
	t.Helper()
	in := &iotdm.PutLogEventsInput{LogGroupName: group, LogStreamName: stream}
	for i := 0; i < len(events); i += 2 {
		ts := f.ms(events[i].(time.Duration))
		in.LogEvents = append(in.LogEvents, iotdm.InputLogEvent{Timestamp: &ts, Message: events[i+1].(string)})
	}
	out, err := f.ev.PutLogEvents(t.Context(), in)
	if err != nil {
		t.Fatalf("PutLogEvents(%s, %s): %v", group, stream, err)
	}
	return out
}

func lfInt64(v int64) *int64 { return &v }

func lfOutMessages(events []iotdm.OutputLogEvent) []string {
	out := []string{}
	for _, e := range events {
		out = append(out, e.Message)
	}
	return out
}

func lfFiltered(events []iotdm.FilteredLogEvent) []string {
	out := []string{}
	for _, e := range events {
		out = append(out, e.LogStreamName+":"+e.Message)
	}
	return out
}

func TestLogStreams(t *testing.T) {
	f := newLogFixture(t, control.LogEventsOptions{})
	ctx := t.Context()
	f.createGroup(t, "/iot/app")
	created := f.ms(0)
	f.createStream(t, "/iot/app", "device/b")
	f.advance(time.Second)
	f.createStream(t, "/iot/app", "device/a")
	f.createStream(t, "/iot/app", "gateway")

	t.Run("create refusals", func(t *testing.T) {
		_, err := f.ev.CreateLogStream(ctx, &iotdm.CreateLogStreamInput{LogGroupName: "/iot/app", LogStreamName: "device/a"})
		wantMonCode(t, "CreateLogStream(existing)", err, iotdm.ErrResourceAlreadyExists, "The specified log stream already exists")
		_, err = f.ev.CreateLogStream(ctx, &iotdm.CreateLogStreamInput{LogGroupName: "/missing", LogStreamName: "s"})
		wantMonCode(t, "CreateLogStream(missing group)", err, iotdm.ErrResourceNotFound, "The specified log group does not exist.")
		for _, name := range []string{"", "a:b", "a*", strings.Repeat("s", 513)} {
			_, err = f.ev.CreateLogStream(ctx, &iotdm.CreateLogStreamInput{LogGroupName: "/iot/app", LogStreamName: name})
			wantMonCode(t, fmt.Sprintf("CreateLogStream(%q)", name), err, iotdm.ErrInvalidParameter, "logStreamName")
		}
	})

	t.Run("describe one", func(t *testing.T) {
		f.put(t, "/iot/app", "device/b", -time.Minute, "one", 0*time.Second, "two")
		out, err := f.ev.DescribeLogStreams(ctx, &iotdm.DescribeLogStreamsInput{LogGroupName: "/iot/app", LogStreamNamePrefix: "device/b"})
		if err != nil {
			t.Fatal(err)
		}
		want := []iotdm.LogStream{{
			LogStreamName: "device/b", CreationTime: created,
			FirstEventTimestamp: lfInt64(f.ms(-time.Minute)), LastEventTimestamp: lfInt64(f.ms(0)), LastIngestionTime: lfInt64(f.ms(0)),
			UploadSequenceToken: fmt.Sprintf("%056d", 2),
			Arn:                 "arn:aws:logs:us-east-1:123456789012:log-group:/iot/app:log-stream:device/b",
			StoredBytes:         lfInt64(0),
		}}
		if diff := cmp.Diff(want, out.LogStreams); diff != "" || out.NextToken != "" {
			t.Errorf("DescribeLogStreams (-want +got):\n%s next %q", diff, out.NextToken)
		}
	})

	names := func(out *iotdm.DescribeLogStreamsOutput) []string {
		var n []string
		for _, s := range out.LogStreams {
			n = append(n, s.LogStreamName)
		}
		return n
	}
	t.Run("orders and pages", func(t *testing.T) {
		f.advance(time.Second)
		f.put(t, "/iot/app", "gateway", -2*time.Minute, "old")
		for _, tc := range []struct {
			name string
			in   iotdm.DescribeLogStreamsInput
			want []string
		}{
			{"by name", iotdm.DescribeLogStreamsInput{}, []string{"device/a", "device/b", "gateway"}},
			{"descending", iotdm.DescribeLogStreamsInput{Descending: true}, []string{"gateway", "device/b", "device/a"}},
			{"prefix", iotdm.DescribeLogStreamsInput{LogStreamNamePrefix: "device/"}, []string{"device/a", "device/b"}},
			{"by last event", iotdm.DescribeLogStreamsInput{OrderBy: "LastEventTime"}, []string{"device/a", "gateway", "device/b"}},
			{"by last event descending", iotdm.DescribeLogStreamsInput{OrderBy: "LastEventTime", Descending: true}, []string{"device/b", "gateway", "device/a"}},
			{"by identifier", iotdm.DescribeLogStreamsInput{LogGroupName: "-", LogGroupIdentifier: "arn:aws:logs:us-east-1:123456789012:log-group:/iot/app"}, []string{"device/a", "device/b", "gateway"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				in := tc.in
				if in.LogGroupName == "" {
					in.LogGroupName = "/iot/app"
				} else if in.LogGroupName == "-" {
					in.LogGroupName = ""
				}
				var got []string
				for page := 0; ; page++ {
					in.Limit = monInt32(1)
					out, err := f.ev.DescribeLogStreams(ctx, &in)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, names(out)...)
					if out.NextToken == "" {
						break
					}
					in.NextToken = out.NextToken
				}
				if !cmp.Equal(got, tc.want) {
					t.Errorf("DescribeLogStreams(%+v) pages = %v, want %v", tc.in, got, tc.want)
				}
			})
		}
	})

	t.Run("describe refusals", func(t *testing.T) {
		for _, tc := range []struct {
			in   iotdm.DescribeLogStreamsInput
			code iotdm.ErrorCode
			msg  string
		}{
			{iotdm.DescribeLogStreamsInput{LogGroupName: "/iot/app", OrderBy: "LastEventTime", LogStreamNamePrefix: "d"}, iotdm.ErrInvalidParameter, "Cannot order by LastEventTime with a logStreamNamePrefix."},
			{iotdm.DescribeLogStreamsInput{LogGroupName: "/iot/app", OrderBy: "Size"}, iotdm.ErrInvalidParameter, "orderBy"},
			{iotdm.DescribeLogStreamsInput{LogGroupName: "/iot/app", Limit: monInt32(51)}, iotdm.ErrInvalidParameter, "limit"},
			{iotdm.DescribeLogStreamsInput{LogGroupName: "/iot/app", NextToken: "bogus"}, iotdm.ErrInvalidParameter, "nextToken"},
			{iotdm.DescribeLogStreamsInput{}, iotdm.ErrInvalidParameter, "logGroupIdentifier"},
			{iotdm.DescribeLogStreamsInput{LogGroupName: "/iot/app", LogGroupIdentifier: "/iot/app"}, iotdm.ErrInvalidParameter, "mutually exclusive"},
			{iotdm.DescribeLogStreamsInput{LogGroupName: "/missing"}, iotdm.ErrResourceNotFound, "The specified log group does not exist."},
			{iotdm.DescribeLogStreamsInput{LogGroupIdentifier: "arn:aws:logs:eu-west-1:123456789012:log-group:/iot/app"}, iotdm.ErrResourceNotFound, ""},
		} {
			_, err := f.ev.DescribeLogStreams(ctx, &tc.in)
			wantMonCode(t, fmt.Sprintf("DescribeLogStreams(%+v)", tc.in), err, tc.code, tc.msg)
		}
		// A token of one order fits no other.
		out, err := f.ev.DescribeLogStreams(ctx, &iotdm.DescribeLogStreamsInput{LogGroupName: "/iot/app", Limit: monInt32(1)})
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.ev.DescribeLogStreams(ctx, &iotdm.DescribeLogStreamsInput{LogGroupName: "/iot/app", OrderBy: "LastEventTime", NextToken: out.NextToken})
		wantMonCode(t, "DescribeLogStreams(a token of another order)", err, iotdm.ErrInvalidParameter, "nextToken")
	})

	t.Run("delete", func(t *testing.T) {
		if _, err := f.ev.DeleteLogStream(ctx, &iotdm.DeleteLogStreamInput{LogGroupName: "/iot/app", LogStreamName: "device/b"}); err != nil {
			t.Fatal(err)
		}
		_, err := f.ev.DeleteLogStream(ctx, &iotdm.DeleteLogStreamInput{LogGroupName: "/iot/app", LogStreamName: "device/b"})
		wantMonCode(t, "DeleteLogStream(deleted)", err, iotdm.ErrResourceNotFound, "The specified log stream does not exist.")
		_, err = f.ev.GetLogEvents(ctx, &iotdm.GetLogEventsInput{LogGroupName: "/iot/app", LogStreamName: "device/b"})
		wantMonCode(t, "GetLogEvents(deleted)", err, iotdm.ErrResourceNotFound, "The specified log stream does not exist.")
	})
}

func TestPutLogEvents(t *testing.T) {
	f := newLogFixture(t, control.LogEventsOptions{})
	ctx := t.Context()
	f.createGroup(t, "g")
	f.createStream(t, "g", "s")

	t.Run("rejected events", func(t *testing.T) {
		out := f.put(t, "g", "s",
			-15*24*time.Hour, "too old 1",
			-14*24*time.Hour-time.Minute, "too old 2",
			-time.Hour, "ok 1",
			time.Hour, "ok 2",
			3*time.Hour, "too new")
		want := &iotdm.PutLogEventsOutput{NextSequenceToken: fmt.Sprintf("%056d", 2),
			RejectedLogEventsInfo: &iotdm.RejectedLogEventsInfo{TooOldLogEventEndIndex: monInt32(2), TooNewLogEventStartIndex: monInt32(4)}}
		if diff := cmp.Diff(want, out); diff != "" {
			t.Errorf("PutLogEvents (-want +got):\n%s", diff)
		}
		got, err := f.ev.GetLogEvents(ctx, &iotdm.GetLogEventsInput{LogGroupName: "g", LogStreamName: "s", StartFromHead: true})
		if err != nil || !cmp.Equal(lfOutMessages(got.Events), []string{"ok 1", "ok 2"}) {
			t.Errorf("stored %v %v, want the two valid events", got, err)
		}
	})

	t.Run("expired by retention", func(t *testing.T) {
		f.createGroup(t, "short")
		f.createStream(t, "short", "s")
		if _, err := f.groups.PutRetentionPolicy(ctx, &iotdm.PutRetentionPolicyInput{LogGroupName: "short", RetentionInDays: monInt32(1)}); err != nil {
			t.Fatal(err)
		}
		out := f.put(t, "short", "s", -20*24*time.Hour, "too old", -2*24*time.Hour, "expired", -3*time.Hour, "ok")
		want := &iotdm.RejectedLogEventsInfo{TooOldLogEventEndIndex: monInt32(1), ExpiredLogEventEndIndex: monInt32(2)}
		if diff := cmp.Diff(want, out.RejectedLogEventsInfo); diff != "" {
			t.Errorf("rejectedLogEventsInfo (-want +got):\n%s", diff)
		}
		// Every event rejected still answers, and stores nothing.
		out = f.put(t, "short", "s", 5*time.Hour, "too new")
		if r := out.RejectedLogEventsInfo; r == nil || r.TooNewLogEventStartIndex == nil || *r.TooNewLogEventStartIndex != 0 {
			t.Errorf("all too new: %+v", r)
		}
	})

	t.Run("the sequence token is ignored", func(t *testing.T) {
		ts := f.ms(0)
		out, err := f.ev.PutLogEvents(ctx, &iotdm.PutLogEventsInput{LogGroupName: "g", LogStreamName: "s", SequenceToken: "bogus",
			LogEvents: []iotdm.InputLogEvent{{Timestamp: &ts, Message: "m"}}})
		if err != nil || out.NextSequenceToken != fmt.Sprintf("%056d", 3) {
			t.Errorf("PutLogEvents = %+v, %v", out, err)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		ts := f.ms(0)
		earlier := f.ms(-time.Second)
		events := func(n int, msg string) []iotdm.InputLogEvent {
			out := make([]iotdm.InputLogEvent, n)
			for i := range out {
				out[i] = iotdm.InputLogEvent{Timestamp: &ts, Message: msg}
			}
			return out
		}
		for _, tc := range []struct {
			name string
			in   iotdm.PutLogEventsInput
			code iotdm.ErrorCode
			msg  string
		}{
			{"no events", iotdm.PutLogEventsInput{LogEvents: []iotdm.InputLogEvent{}}, iotdm.ErrInvalidParameter, "logEvents"},
			{"null events", iotdm.PutLogEventsInput{}, iotdm.ErrInvalidParameter, "Member must not be null"},
			{"too many", iotdm.PutLogEventsInput{LogEvents: events(10001, "m")}, iotdm.ErrInvalidParameter, "less than or equal to 10000"},
			{"too large", iotdm.PutLogEventsInput{LogEvents: events(2, strings.Repeat("m", 524288))}, iotdm.ErrInvalidParameter, "Upload too large: 1048628 bytes exceeds limit of 1048576"},
			{"empty message", iotdm.PutLogEventsInput{LogEvents: events(1, "")}, iotdm.ErrInvalidParameter, "logEvents.1.member.message"},
			{"no timestamp", iotdm.PutLogEventsInput{LogEvents: []iotdm.InputLogEvent{{Message: "m"}}}, iotdm.ErrInvalidParameter, "logEvents.1.member.timestamp"},
			{"out of order", iotdm.PutLogEventsInput{LogEvents: []iotdm.InputLogEvent{{Timestamp: &ts, Message: "a"}, {Timestamp: &earlier, Message: "b"}}},
				iotdm.ErrInvalidParameter, "chronological order"},
			{"missing stream", iotdm.PutLogEventsInput{LogStreamName: "nope", LogEvents: events(1, "m")}, iotdm.ErrResourceNotFound, "The specified log stream does not exist."},
			{"missing group", iotdm.PutLogEventsInput{LogGroupName: "nope", LogEvents: events(1, "m")}, iotdm.ErrResourceNotFound, "The specified log group does not exist."},
		} {
			in := tc.in
			in.LogGroupName = lfOr(in.LogGroupName, "g")
			in.LogStreamName = lfOr(in.LogStreamName, "s")
			_, err := f.ev.PutLogEvents(ctx, &in)
			wantMonCode(t, "PutLogEvents("+tc.name+")", err, tc.code, tc.msg)
		}
		old, recent := f.ms(-13*24*time.Hour), f.ms(0)
		_, err := f.ev.PutLogEvents(ctx, &iotdm.PutLogEventsInput{LogGroupName: "g", LogStreamName: "s",
			LogEvents: []iotdm.InputLogEvent{{Timestamp: &old, Message: "a"}, {Timestamp: &recent, Message: "b"}}})
		wantMonCode(t, "PutLogEvents(spanning 13 days)", err, iotdm.ErrInvalidParameter, "cannot span more than 24 hours")
	})

	t.Run("the largest batch", func(t *testing.T) {
		f.createStream(t, "g", "big")
		ts := f.ms(0)
		in := &iotdm.PutLogEventsInput{LogGroupName: "g", LogStreamName: "big"}
		for range 10000 {
			in.LogEvents = append(in.LogEvents, iotdm.InputLogEvent{Timestamp: &ts, Message: strings.Repeat("x", 1048576/10000-26)})
		}
		out, err := f.ev.PutLogEvents(ctx, in)
		if err != nil || out.NextSequenceToken != fmt.Sprintf("%056d", 10000) {
			t.Fatalf("PutLogEvents(10000 events) = %+v, %v", out, err)
		}
	})
}

func lfOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestGetLogEvents(t *testing.T) {
	f := newLogFixture(t, control.LogEventsOptions{})
	ctx := t.Context()
	f.createGroup(t, "g")
	f.createStream(t, "g", "s")
	var args []any
	for i := range 10 {
		args = append(args, time.Duration(i-10)*time.Minute, fmt.Sprintf("m%d", i))
	}
	f.put(t, "g", "s", args...)

	get := func(in iotdm.GetLogEventsInput) *iotdm.GetLogEventsOutput {
		t.Helper()
		in.LogGroupName, in.LogStreamName = "g", "s"
		out, err := f.ev.GetLogEvents(ctx, &in)
		if err != nil {
			t.Fatalf("GetLogEvents(%+v): %v", in, err)
		}
		return out
	}
	t.Run("head and tail", func(t *testing.T) {
		if got := lfOutMessages(get(iotdm.GetLogEventsInput{StartFromHead: true, Limit: monInt32(3)}).Events); !cmp.Equal(got, []string{"m0", "m1", "m2"}) {
			t.Errorf("from the head: %v", got)
		}
		if got := lfOutMessages(get(iotdm.GetLogEventsInput{Limit: monInt32(3)}).Events); !cmp.Equal(got, []string{"m7", "m8", "m9"}) {
			t.Errorf("from the tail: %v", got)
		}
		all := get(iotdm.GetLogEventsInput{})
		if len(all.Events) != 10 || all.Events[0].IngestionTime != f.ms(0) || all.Events[0].Timestamp != f.ms(-10*time.Minute) {
			t.Errorf("all: %+v", all.Events)
		}
	})
	t.Run("forward to the end", func(t *testing.T) {
		var got []string
		in := iotdm.GetLogEventsInput{StartFromHead: true, Limit: monInt32(4)}
		for range 10 {
			out := get(in)
			got = append(got, lfOutMessages(out.Events)...)
			if out.NextForwardToken == in.NextToken {
				break
			}
			in.NextToken = out.NextForwardToken
		}
		if !cmp.Equal(got, []string{"m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9"}) {
			t.Errorf("forward pages: %v", got)
		}
		// New events show up after the end.
		f.put(t, "g", "s", 0*time.Second, "m10")
		if out := get(in); !cmp.Equal(lfOutMessages(out.Events), []string{"m10"}) {
			t.Errorf("after the end: %v", lfOutMessages(out.Events))
		}
	})
	t.Run("backward to the start", func(t *testing.T) {
		var got []string
		in := iotdm.GetLogEventsInput{Limit: monInt32(4)}
		for range 10 {
			out := get(in)
			got = append(lfOutMessages(out.Events), got...)
			if out.NextBackwardToken == in.NextToken {
				break
			}
			in.NextToken = out.NextBackwardToken
		}
		if !cmp.Equal(got, []string{"m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9", "m10"}) {
			t.Errorf("backward pages: %v", got)
		}
	})
	t.Run("time range", func(t *testing.T) {
		out := get(iotdm.GetLogEventsInput{StartTime: lfInt64(f.ms(-8 * time.Minute)), EndTime: lfInt64(f.ms(-5 * time.Minute)), StartFromHead: true})
		if got := lfOutMessages(out.Events); !cmp.Equal(got, []string{"m2", "m3", "m4"}) {
			t.Errorf("[start, end): %v", got)
		}
		out = get(iotdm.GetLogEventsInput{EndTime: lfInt64(0)})
		if len(out.Events) != 0 || out.NextForwardToken == "" || out.NextBackwardToken == "" {
			t.Errorf("nothing before the epoch: %+v", out)
		}
	})
	t.Run("retention hides old events", func(t *testing.T) {
		f.createStream(t, "g", "old")
		f.put(t, "g", "old", -3*24*time.Hour, "three days")
		f.put(t, "g", "old", -time.Hour, "an hour")
		if _, err := f.groups.PutRetentionPolicy(ctx, &iotdm.PutRetentionPolicyInput{LogGroupName: "g", RetentionInDays: monInt32(1)}); err != nil {
			t.Fatal(err)
		}
		out, err := f.ev.GetLogEvents(ctx, &iotdm.GetLogEventsInput{LogGroupName: "g", LogStreamName: "old", StartFromHead: true})
		if err != nil || !cmp.Equal(lfOutMessages(out.Events), []string{"an hour"}) {
			t.Errorf("GetLogEvents = %v %v, want the recent event only", out, err)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		for _, tc := range []struct {
			in   iotdm.GetLogEventsInput
			code iotdm.ErrorCode
			msg  string
		}{
			{iotdm.GetLogEventsInput{LogGroupName: "g", LogStreamName: "s", NextToken: "x/123"}, iotdm.ErrInvalidParameter, "nextToken"},
			{iotdm.GetLogEventsInput{LogGroupName: "g", LogStreamName: "s", Limit: monInt32(0)}, iotdm.ErrInvalidParameter, "limit"},
			{iotdm.GetLogEventsInput{LogGroupName: "g", LogStreamName: "s", StartTime: lfInt64(-1)}, iotdm.ErrInvalidParameter, "startTime"},
			{iotdm.GetLogEventsInput{LogGroupName: "g", LogStreamName: "nope"}, iotdm.ErrResourceNotFound, "log stream"},
			{iotdm.GetLogEventsInput{LogStreamName: "s"}, iotdm.ErrInvalidParameter, ""},
			{iotdm.GetLogEventsInput{LogGroupIdentifier: "nope", LogStreamName: "s"}, iotdm.ErrResourceNotFound, "log group"},
		} {
			_, err := f.ev.GetLogEvents(ctx, &tc.in)
			wantMonCode(t, fmt.Sprintf("GetLogEvents(%+v)", tc.in), err, tc.code, tc.msg)
		}
	})
}

func TestFilterLogEvents(t *testing.T) {
	f := newLogFixture(t, control.LogEventsOptions{ScanLimit: 5})
	ctx := t.Context()
	f.createGroup(t, "AWSIotLogsV2")
	for _, s := range []string{"dev/1", "dev/2", "gw"} {
		f.createStream(t, "AWSIotLogsV2", s)
	}
	f.put(t, "AWSIotLogsV2", "dev/1", -5*time.Minute, `{"eventType":"Connect","status":"Success"}`, -3*time.Minute, `{"eventType":"Disconnect"}`)
	f.put(t, "AWSIotLogsV2", "dev/2", -4*time.Minute, `{"eventType":"Connect","status":"Failure"}`, -2*time.Minute, `ERROR plain text`)
	f.put(t, "AWSIotLogsV2", "gw", -6*time.Minute, `INFO boot`, -time.Minute, `ERROR gateway`)

	// filter pages through every page and returns the messages.
	filter := func(in iotdm.FilterLogEventsInput) ([]string, int) {
		t.Helper()
		if in.LogGroupIdentifier == "" {
			in.LogGroupName = "AWSIotLogsV2"
		}
		var got []string
		pages := 0
		for {
			out, err := f.ev.FilterLogEvents(ctx, &in)
			if err != nil {
				t.Fatalf("FilterLogEvents(%+v): %v", in, err)
			}
			pages++
			if out.SearchedLogStreams == nil || len(out.SearchedLogStreams) != 0 {
				t.Errorf("searchedLogStreams = %v, want []", out.SearchedLogStreams)
			}
			got = append(got, lfFiltered(out.Events)...)
			if out.NextToken == "" {
				return got, pages
			}
			in.NextToken = out.NextToken
		}
	}
	for _, tc := range []struct {
		name string
		in   iotdm.FilterLogEventsInput
		want []string
	}{
		{"all, interleaved", iotdm.FilterLogEventsInput{}, []string{
			`gw:INFO boot`, `dev/1:{"eventType":"Connect","status":"Success"}`, `dev/2:{"eventType":"Connect","status":"Failure"}`,
			`dev/1:{"eventType":"Disconnect"}`, `dev/2:ERROR plain text`, `gw:ERROR gateway`}},
		{"term", iotdm.FilterLogEventsInput{FilterPattern: "ERROR"}, []string{`dev/2:ERROR plain text`, `gw:ERROR gateway`}},
		{"JSON", iotdm.FilterLogEventsInput{FilterPattern: `{ $.eventType = "Connect" && $.status != "Success" }`},
			[]string{`dev/2:{"eventType":"Connect","status":"Failure"}`}},
		{"stream names", iotdm.FilterLogEventsInput{LogStreamNames: []string{"gw", "dev/1"}, FilterPattern: "?ERROR ?Disconnect"},
			[]string{`dev/1:{"eventType":"Disconnect"}`, `gw:ERROR gateway`}},
		{"one stream", iotdm.FilterLogEventsInput{LogStreamNames: []string{"gw"}}, []string{`gw:INFO boot`, `gw:ERROR gateway`}},
		{"prefix", iotdm.FilterLogEventsInput{LogStreamNamePrefix: "dev/", FilterPattern: "-Connect"},
			[]string{`dev/1:{"eventType":"Disconnect"}`, `dev/2:ERROR plain text`}},
		{"time range, end inclusive", iotdm.FilterLogEventsInput{StartTime: lfInt64(f.ms(-4 * time.Minute)), EndTime: lfInt64(f.ms(-2 * time.Minute))},
			[]string{`dev/2:{"eventType":"Connect","status":"Failure"}`, `dev/1:{"eventType":"Disconnect"}`, `dev/2:ERROR plain text`}},
		{"identifier", iotdm.FilterLogEventsInput{LogGroupIdentifier: "arn:aws:logs:us-east-1:123456789012:log-group:AWSIotLogsV2", FilterPattern: "gateway"},
			[]string{`gw:ERROR gateway`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := filter(tc.in)
			if !cmp.Equal(got, tc.want) {
				t.Errorf("FilterLogEvents(%+v) = %v, want %v", tc.in, got, tc.want)
			}
			limited := tc.in
			limited.Limit = monInt32(1)
			got, pages := filter(limited)
			if !cmp.Equal(got, tc.want) || pages < len(tc.want) {
				t.Errorf("FilterLogEvents(%+v) one by one = %v in %d pages, want %v", limited, got, pages, tc.want)
			}
		})
	}

	t.Run("scan limit makes partial pages", func(t *testing.T) {
		out, err := f.ev.FilterLogEvents(ctx, &iotdm.FilterLogEventsInput{LogGroupName: "AWSIotLogsV2", FilterPattern: "gateway"})
		if err != nil || len(out.Events) != 0 || out.NextToken == "" {
			t.Fatalf("first page = %+v %v, want empty with a token (5 of 6 events examined)", out, err)
		}
		out, err = f.ev.FilterLogEvents(ctx, &iotdm.FilterLogEventsInput{LogGroupName: "AWSIotLogsV2", FilterPattern: "gateway", NextToken: out.NextToken})
		if err != nil || len(out.Events) != 1 || out.NextToken != "" {
			t.Fatalf("second page = %+v %v", out, err)
		}
		e := out.Events[0]
		if e.IngestionTime != f.ms(0) || e.Timestamp != f.ms(-time.Minute) || len(e.EventID) != 56 {
			t.Errorf("event = %+v", e)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		for _, tc := range []struct {
			in   iotdm.FilterLogEventsInput
			code iotdm.ErrorCode
			msg  string
		}{
			{iotdm.FilterLogEventsInput{LogGroupName: "AWSIotLogsV2", FilterPattern: `{ $.a = }`}, iotdm.ErrInvalidParameter, "Invalid filter pattern at position 8"},
			{iotdm.FilterLogEventsInput{LogGroupName: "AWSIotLogsV2", LogStreamNames: []string{"a"}, LogStreamNamePrefix: "a"}, iotdm.ErrInvalidParameter, "mutually exclusive"},
			{iotdm.FilterLogEventsInput{LogGroupName: "AWSIotLogsV2", LogStreamNames: []string{}}, iotdm.ErrInvalidParameter, "logStreamNames"},
			{iotdm.FilterLogEventsInput{LogGroupName: "AWSIotLogsV2", Limit: monInt32(10001)}, iotdm.ErrInvalidParameter, "limit"},
			{iotdm.FilterLogEventsInput{LogGroupName: "AWSIotLogsV2", NextToken: "bogus"}, iotdm.ErrInvalidParameter, "nextToken"},
			{iotdm.FilterLogEventsInput{LogGroupName: "missing"}, iotdm.ErrResourceNotFound, "log group"},
		} {
			_, err := f.ev.FilterLogEvents(ctx, &tc.in)
			wantMonCode(t, fmt.Sprintf("FilterLogEvents(%+v)", tc.in), err, tc.code, tc.msg)
		}
	})
}

func TestLogGroupsWithEvents(t *testing.T) {
	f := newLogFixture(t, control.LogEventsOptions{})
	ctx := t.Context()
	f.createGroup(t, "g")
	f.createStream(t, "g", "s")
	f.put(t, "g", "s", 0*time.Second, "12345", 0*time.Second, "678")

	out, err := f.groups.DescribeLogGroups(ctx, &iotdm.DescribeLogGroupsInput{})
	if err != nil || len(out.LogGroups) != 1 || out.LogGroups[0].StoredBytes == nil || *out.LogGroups[0].StoredBytes != 8 {
		t.Fatalf("DescribeLogGroups = %+v %v, want storedBytes 8", out, err)
	}
	short, err := f.groups.DescribeLogGroups(ctx, &iotdm.DescribeLogGroupsInput{LogGroupNamePattern: "g"})
	if err != nil || short.LogGroups[0].StoredBytes != nil {
		t.Errorf("DescribeLogGroups(pattern) = %+v %v, want no storedBytes", short, err)
	}

	if _, err := f.groups.DeleteLogGroup(ctx, &iotdm.DeleteLogGroupInput{LogGroupName: "g"}); err != nil {
		t.Fatal(err)
	}
	usage, err := f.store.Groups(ctx)
	if err != nil || len(usage) != 0 {
		t.Errorf("event store groups after DeleteLogGroup = %v %v, want none", usage, err)
	}
	_, err = f.groups.DeleteLogGroup(ctx, &iotdm.DeleteLogGroupInput{LogGroupName: "g"})
	wantMonCode(t, "DeleteLogGroup(deleted)", err, iotdm.ErrResourceNotFound, "")

	// A group created again under the name starts empty.
	f.advance(time.Millisecond)
	f.createGroup(t, "g")
	list, err := f.ev.DescribeLogStreams(ctx, &iotdm.DescribeLogStreamsInput{LogGroupName: "g"})
	if err != nil || len(list.LogStreams) != 0 {
		t.Errorf("streams of the new group = %+v %v", list, err)
	}
}

func TestLogRetention(t *testing.T) {
	f := newLogFixture(t, control.LogEventsOptions{ExpiryInterval: 10 * time.Millisecond})
	ctx := t.Context()
	f.createGroup(t, "keep")
	f.createGroup(t, "short")
	for _, g := range []string{"keep", "short"} {
		f.createStream(t, g, "s")
		f.put(t, g, "s", -3*24*time.Hour, "old!")
		f.put(t, g, "s", -time.Hour, "new")
	}
	if _, err := f.groups.PutRetentionPolicy(ctx, &iotdm.PutRetentionPolicyInput{LogGroupName: "short", RetentionInDays: monInt32(1)}); err != nil {
		t.Fatal(err)
	}
	// An incarnation of a group that is gone: its entity was deleted
	// without the events (as after a crash).
	stale := iotdm.LogGroupRef{Name: "gone", Created: 1}
	if err := f.store.CreateStream(ctx, stale, iotdm.StoredLogStream{Name: "s"}); err != nil {
		t.Fatal(err)
	}

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- f.ev.Run(runCtx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		usage, err := f.store.Groups(ctx)
		if err != nil {
			t.Fatal(err)
		}
		g, _, err := lfLoadGroup(ctx, f.db, "short")
		if err != nil {
			t.Fatal(err)
		}
		// One pass records both groups' bytes, in no set order.
		k, _, err := lfLoadGroup(ctx, f.db, "keep")
		if err != nil {
			t.Fatal(err)
		}
		if len(usage) == 2 && g.StoredBytes == 3 && k.StoredBytes == 7 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("retention not applied: usage %v, short's storedBytes %d, keep's %d", usage, g.StoredBytes, k.StoredBytes)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	for g, want := range map[string][]string{"keep": {"old!", "new"}, "short": {"new"}} {
		var got []string
		f.store.Events(ctx, iotdm.LogEventQuery{Group: iotdm.LogGroupRef{Name: g, Created: lfGroupCreated(t, f, g)}}, func(e iotdm.StoredLogEvent) error {
			got = append(got, e.Message)
			return nil
		})
		if !cmp.Equal(got, want) {
			t.Errorf("events of %s after retention = %v, want %v", g, got, want)
		}
	}
	if g, _, _ := lfLoadGroup(ctx, f.db, "keep"); g.StoredBytes != 7 {
		t.Errorf("keep's storedBytes = %d, want 7", g.StoredBytes)
	}
}

func lfLoadGroup(ctx context.Context, db iotdm.Store, name string) (*iotdm.StoredLogGroup, bool, error) {
	b, ok, err := db.Get(ctx, iotdm.KindLogGroup, name)
	if err != nil || !ok {
		return &iotdm.StoredLogGroup{}, ok, err
	}
	g := &iotdm.StoredLogGroup{}
	return g, true, json.Unmarshal(b, g)
}

func lfGroupCreated(t *testing.T, f *logFixture, name string) int64 {
	t.Helper()
	g, ok, err := lfLoadGroup(t.Context(), f.db, name)
	if err != nil || !ok {
		t.Fatalf("group %s: %v %v", name, ok, err)
	}
	return g.CreationTime
}
