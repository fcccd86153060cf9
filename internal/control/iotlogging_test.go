package control_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/control"
)

func TestV2LoggingOptions(t *testing.T) {
	f := newLogFixture(t, control.LogEventsOptions{})
	svc := control.NewIoTLogging(f.db, control.IoTLoggingOptions{})
	ctx := t.Context()

	_, err := svc.GetV2LoggingOptions(ctx, &iotdm.GetV2LoggingOptionsInput{})
	wantMonCode(t, "GetV2LoggingOptions(never set)", err, iotdm.ErrNotConfigured, "not configured")

	in := &iotdm.SetV2LoggingOptionsInput{RoleArn: "arn:aws:iam::123456789012:role/IoTLogging", DefaultLogLevel: "WARN",
		EventConfigurations: []iotdm.LogEventConfiguration{{EventType: "Connect", LogLevel: "DEBUG", LogDestination: "/iot/connects"}}}
	if _, err := svc.SetV2LoggingOptions(ctx, in); err != nil {
		t.Fatal(err)
	}
	got, err := svc.GetV2LoggingOptions(ctx, &iotdm.GetV2LoggingOptionsInput{})
	want := &iotdm.GetV2LoggingOptionsOutput{RoleArn: in.RoleArn, DefaultLogLevel: "WARN", EventConfigurations: in.EventConfigurations}
	if err != nil || !cmp.Equal(got, want) {
		t.Errorf("GetV2LoggingOptions = %+v %v, want %+v", got, err, want)
	}
	got, err = svc.GetV2LoggingOptions(ctx, &iotdm.GetV2LoggingOptionsInput{Verbose: true})
	if err != nil || len(got.EventConfigurations) != len(control.IoTLogEventTypes) || got.EventConfigurations[0] != in.EventConfigurations[0] {
		t.Errorf("GetV2LoggingOptions(verbose) = %+v %v, want every event type, Connect's as configured", got, err)
	}

	// SetV2LoggingOptions replaces the whole configuration.
	if _, err := svc.SetV2LoggingOptions(ctx, &iotdm.SetV2LoggingOptionsInput{DisableAllLogs: true}); err != nil {
		t.Fatal(err)
	}
	got, _ = svc.GetV2LoggingOptions(ctx, &iotdm.GetV2LoggingOptionsInput{})
	if !cmp.Equal(got, &iotdm.GetV2LoggingOptionsOutput{DisableAllLogs: true}) {
		t.Errorf("after the second SetV2LoggingOptions: %+v", got)
	}

	for _, tc := range []struct {
		in  iotdm.SetV2LoggingOptionsInput
		msg string
	}{
		{iotdm.SetV2LoggingOptionsInput{DefaultLogLevel: "VERBOSE"}, "defaultLogLevel"},
		{iotdm.SetV2LoggingOptionsInput{RoleArn: "role/IoTLogging"}, "roleArn"},
		{iotdm.SetV2LoggingOptionsInput{EventConfigurations: []iotdm.LogEventConfiguration{{LogLevel: "INFO"}}}, "eventType"},
		{iotdm.SetV2LoggingOptionsInput{EventConfigurations: []iotdm.LogEventConfiguration{{EventType: "Connect", LogLevel: "LOUD"}}}, "logLevel"},
		{iotdm.SetV2LoggingOptionsInput{EventConfigurations: []iotdm.LogEventConfiguration{{EventType: "Connect", LogDestination: "bad name!"}}}, "logDestination"},
		{iotdm.SetV2LoggingOptionsInput{EventConfigurations: []iotdm.LogEventConfiguration{{EventType: "Connect"}, {EventType: "Connect"}}}, "more than once"},
	} {
		_, err := svc.SetV2LoggingOptions(ctx, &tc.in)
		wantMonCode(t, fmt.Sprintf("SetV2LoggingOptions(%+v)", tc.in), err, iotdm.ErrInvalidRequest, tc.msg)
	}
}

func TestV2LoggingLevels(t *testing.T) {
	f := newLogFixture(t, control.LogEventsOptions{})
	svc := control.NewIoTLogging(f.db, control.IoTLoggingOptions{MaxTargets: 3})
	ctx := t.Context()
	set := func(targetType, name, level string) error {
		_, err := svc.SetV2LoggingLevel(ctx, &iotdm.SetV2LoggingLevelInput{LogTarget: &iotdm.LogTarget{TargetType: targetType, TargetName: name}, LogLevel: level})
		return err
	}
	wantMonCode(t, "SetV2LoggingLevel(not configured)", set("CLIENT_ID", "dev-1", "DEBUG"), iotdm.ErrNotConfigured, "")
	_, err := svc.ListV2LoggingLevels(ctx, &iotdm.ListV2LoggingLevelsInput{})
	wantMonCode(t, "ListV2LoggingLevels(not configured)", err, iotdm.ErrNotConfigured, "")

	if _, err := svc.SetV2LoggingOptions(ctx, &iotdm.SetV2LoggingOptionsInput{DefaultLogLevel: "ERROR"}); err != nil {
		t.Fatal(err)
	}
	for _, l := range [][3]string{{"THING_GROUP", "sensors", "INFO"}, {"CLIENT_ID", "dev-1", "DEBUG"}, {"SOURCE_IP", "10.0.0.7", "WARN"}} {
		if err := set(l[0], l[1], l[2]); err != nil {
			t.Fatalf("SetV2LoggingLevel(%v): %v", l, err)
		}
	}
	wantMonCode(t, "SetV2LoggingLevel(a fourth target)", set("PRINCIPAL_ID", "abc", "INFO"), iotdm.ErrLimitExceeded, "")
	if err := set("CLIENT_ID", "dev-1", "INFO"); err != nil {
		t.Errorf("SetV2LoggingLevel(an existing target at the limit) = %v", err)
	}

	entry := func(targetType, name, level string) iotdm.LogTargetConfiguration {
		return iotdm.LogTargetConfiguration{LogTarget: iotdm.LogTarget{TargetType: targetType, TargetName: name}, LogLevel: level}
	}
	all := []iotdm.LogTargetConfiguration{entry("DEFAULT", "", "ERROR"), entry("CLIENT_ID", "dev-1", "INFO"),
		entry("SOURCE_IP", "10.0.0.7", "WARN"), entry("THING_GROUP", "sensors", "INFO")}
	var paged []iotdm.LogTargetConfiguration
	in := &iotdm.ListV2LoggingLevelsInput{MaxResults: 1}
	for {
		out, err := svc.ListV2LoggingLevels(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, out.LogTargetConfigurations...)
		if out.NextToken == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	if diff := cmp.Diff(all, paged); diff != "" {
		t.Errorf("ListV2LoggingLevels pages (-want +got):\n%s", diff)
	}
	out, err := svc.ListV2LoggingLevels(ctx, &iotdm.ListV2LoggingLevelsInput{TargetType: "THING_GROUP"})
	if err != nil || !cmp.Equal(out.LogTargetConfigurations, all[3:]) {
		t.Errorf("ListV2LoggingLevels(THING_GROUP) = %+v %v", out, err)
	}

	if _, err := svc.DeleteV2LoggingLevel(ctx, &iotdm.DeleteV2LoggingLevelInput{TargetType: "SOURCE_IP", TargetName: "10.0.0.7"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.DeleteV2LoggingLevel(ctx, &iotdm.DeleteV2LoggingLevelInput{TargetType: "SOURCE_IP", TargetName: "10.0.0.7"}); err != nil {
		t.Errorf("DeleteV2LoggingLevel(missing) = %v, want success", err)
	}
	out, _ = svc.ListV2LoggingLevels(ctx, &iotdm.ListV2LoggingLevelsInput{})
	if len(out.LogTargetConfigurations) != 3 {
		t.Errorf("after DeleteV2LoggingLevel: %+v", out.LogTargetConfigurations)
	}

	for _, tc := range []struct {
		name string
		err  error
	}{
		{"DEFAULT", set("DEFAULT", "", "INFO")},
		{"no name", set("CLIENT_ID", "", "INFO")},
		{"bad name", set("CLIENT_ID", "dev/1", "INFO")},
		{"bad type", set("THING", "x", "INFO")},
		{"bad level", set("CLIENT_ID", "x", "")},
		{"no target", func() error {
			_, err := svc.SetV2LoggingLevel(ctx, &iotdm.SetV2LoggingLevelInput{LogLevel: "INFO"})
			return err
		}()},
		{"delete DEFAULT", func() error {
			_, err := svc.DeleteV2LoggingLevel(ctx, &iotdm.DeleteV2LoggingLevelInput{TargetType: "DEFAULT", TargetName: "x"})
			return err
		}()},
		{"list bad type", func() error {
			_, err := svc.ListV2LoggingLevels(ctx, &iotdm.ListV2LoggingLevelsInput{TargetType: "THING"})
			return err
		}()},
		{"list bad maxResults", func() error {
			_, err := svc.ListV2LoggingLevels(ctx, &iotdm.ListV2LoggingLevelsInput{MaxResults: 251})
			return err
		}()},
	} {
		wantMonCode(t, tc.name, tc.err, iotdm.ErrInvalidRequest, "")
	}
}

// loggerFixture is an IoTLogger writing to the log services of a fixture,
// with its Run goroutine.
type loggerFixture struct {
	*logFixture
	cfg    *control.IoTLogging
	logger *control.IoTLogger
	reg    *control.Registry
}

func newLoggerFixture(t *testing.T, opts control.IoTLoggerOptions) *loggerFixture {
	t.Helper()
	f := &loggerFixture{logFixture: newLogFixture(t, control.LogEventsOptions{})}
	f.cfg = control.NewIoTLogging(f.db, control.IoTLoggingOptions{})
	f.reg = control.NewRegistry(f.db, control.RegistryOptions{Region: monRegion, AccountID: monAccount})
	opts.AccountID, opts.Instance = monAccount, "test"
	opts.Now = func() time.Time {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.now
	}
	f.logger = control.NewIoTLogger(f.db, f.ev, opts)
	return f
}

// run starts the logger's Run until the test ends.
func (f *loggerFixture) run(t *testing.T) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.logger.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	})
}

// waitEnabled waits until the logger has seen the configuration.
func (f *loggerFixture) waitEnabled(t *testing.T, want bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for f.logger.Enabled() != want {
		if time.Now().After(deadline) {
			t.Fatalf("Enabled() stayed %v", !want)
		}
		time.Sleep(time.Millisecond)
	}
}

// entries flushes the logger and returns the entries of a log group.
func (f *loggerFixture) entries(t *testing.T, group, pattern string) []map[string]any {
	t.Helper()
	if err := f.logger.Flush(t.Context()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	out, err := f.ev.FilterLogEvents(t.Context(), &iotdm.FilterLogEventsInput{LogGroupName: group, FilterPattern: pattern})
	if iotdm.IsCode(err, iotdm.ErrResourceNotFound) {
		return nil
	}
	if err != nil {
		t.Fatalf("FilterLogEvents(%s): %v", group, err)
	}
	var entries []map[string]any
	for _, e := range out.Events {
		var m map[string]any
		if err := json.Unmarshal([]byte(e.Message), &m); err != nil {
			t.Fatalf("entry %q: %v", e.Message, err)
		}
		if m["_stream"] = e.LogStreamName; e.Timestamp != f.ms(0) {
			t.Errorf("event timestamp %d, want %d", e.Timestamp, f.ms(0))
		}
		entries = append(entries, m)
	}
	return entries
}

var traceIDPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// ignoreTrace drops the random traceId after checking its form.
func ignoreTrace(t *testing.T, entries []map[string]any) []map[string]any {
	t.Helper()
	for _, m := range entries {
		if id, _ := m["traceId"].(string); !traceIDPattern.MatchString(id) {
			t.Errorf("traceId %q is not a UUID", id)
		}
		delete(m, "traceId")
	}
	return entries
}

var devClient = control.IoTLogClient{ClientID: "dev-1", PrincipalID: "c0ffee", SourceIP: "10.0.0.7", SourcePort: 51234}

func TestIoTLoggerOffByDefault(t *testing.T) {
	f := newLoggerFixture(t, control.IoTLoggerOptions{})
	f.run(t)
	if err := f.logger.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.logger.Connect(devClient, control.IoTReasonAuthorizationFailure, "Authorization Failure")
	if got := f.entries(t, iotdm.IoTLogGroupName, ""); got != nil {
		t.Errorf("entries with logging never configured: %v", got)
	}
	if _, _, err := lfLoadGroup(t.Context(), f.db, iotdm.IoTLogGroupName); err != nil {
		t.Fatal(err)
	}
	// The hot path allocates nothing while logging is off.
	allocs := testing.AllocsPerRun(100, func() {
		f.logger.Connect(devClient, "", "")
		f.logger.PublishIn(devClient, "dt/a", control.IoTReasonAuthorizationFailure, "Authorization Failure")
		f.logger.Log(control.IoTLogEntry{EventType: "Subscribe", ClientID: "x", TopicName: "t"})
	})
	if allocs != 0 {
		t.Errorf("disabled logging allocates %v times per call", allocs)
	}
}

func TestIoTLoggerEntries(t *testing.T) {
	f := newLoggerFixture(t, control.IoTLoggerOptions{})
	ctx := t.Context()
	if _, err := f.cfg.SetV2LoggingOptions(ctx, &iotdm.SetV2LoggingOptionsInput{DefaultLogLevel: "INFO"}); err != nil {
		t.Fatal(err)
	}
	f.run(t)
	f.waitEnabled(t, true)

	f.logger.Connect(devClient, "", "")
	f.logger.Connect(control.IoTLogClient{ClientID: "dev-2", SourceIP: "10.0.0.8", SourcePort: 1}, control.IoTReasonAuthorizationFailure, "Authorization Failure")
	f.logger.Disconnect(devClient, "CLIENT_INITIATED_DISCONNECT", "Client initiated disconnect")
	f.logger.PublishIn(devClient, "$aws/things/dev-1/shadow/update", control.IoTReasonAuthorizationFailure, "Authorization Failure")
	f.logger.Subscribe(devClient, "cmd/#", control.IoTReasonAuthorizationFailure, "Authorization Failure")
	f.logger.Shadow(control.IoTEventUpdateThingShadow, devClient, "dev-1", "$aws/things/dev-1/shadow/update", "400", "Missing required node: state")
	f.logger.IndexingCustomFieldFailed("dev-1", []control.FailedCustomField{{Name: "attributes.temp", Value: "hot", ExpectedType: "Number"}})

	stream := "2026/03/01/iotdm-test"
	base := func(level, status, eventType string) map[string]any {
		return map[string]any{"timestamp": "2026-03-01 12:00:00.000", "logLevel": level, "accountId": monAccount,
			"status": status, "eventType": eventType, "_stream": stream}
	}
	client := func(m map[string]any) map[string]any {
		m["protocol"], m["clientId"], m["principalId"], m["sourceIp"], m["sourcePort"] = "MQTT", "dev-1", "c0ffee", "10.0.0.7", float64(51234)
		return m
	}
	with := func(m map[string]any, kv ...any) map[string]any {
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	want := []map[string]any{
		client(base("INFO", "Success", "Connect")),
		with(base("ERROR", "Failure", "Connect"), "protocol", "MQTT", "clientId", "dev-2", "sourceIp", "10.0.0.8", "sourcePort", float64(1),
			"reason", "AUTHORIZATION_FAILURE", "details", "Authorization Failure"),
		with(client(base("INFO", "Success", "Disconnect")), "disconnectReason", "CLIENT_INITIATED_DISCONNECT", "details", "Client initiated disconnect"),
		with(client(base("ERROR", "Failure", "Publish-In")), "topicName", "$aws/things/dev-1/shadow/update",
			"reason", "AUTHORIZATION_FAILURE", "details", "Authorization Failure"),
		with(client(base("ERROR", "Failure", "Subscribe")), "topicName", "cmd/#", "reason", "AUTHORIZATION_FAILURE", "details", "Authorization Failure"),
		with(client(base("ERROR", "Failure", "UpdateThingShadow")), "deviceShadowName", "dev-1", "topicName", "$aws/things/dev-1/shadow/update",
			"reason", "400", "details", "Missing required node: state"),
		with(base("ERROR", "SucceededWithIssues", "IndexingCustomFieldFailed"), "thingName", "dev-1",
			"failedCustomFields", []any{map[string]any{"Name": "attributes.temp", "Value": "hot", "ExpectedType": "Number"}}),
	}
	if diff := cmp.Diff(want, ignoreTrace(t, f.entries(t, iotdm.IoTLogGroupName, ""))); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	// The group was made on the first write.
	g, ok, err := lfLoadGroup(ctx, f.db, iotdm.IoTLogGroupName)
	if err != nil || !ok || g.LogGroupClass != "STANDARD" || g.RetentionInDays != 0 {
		t.Errorf("log group %+v %v %v", g, ok, err)
	}
	if f.logger.Written() != 7 || f.logger.Dropped() != 0 {
		t.Errorf("Written %d Dropped %d, want 7 and 0", f.logger.Written(), f.logger.Dropped())
	}
	// The entries are searchable as AWS documents them.
	if got := f.entries(t, iotdm.IoTLogGroupName, `{ $.eventType = "Connect" && $.status = "Failure" }`); len(got) != 1 || got[0]["clientId"] != "dev-2" {
		t.Errorf("failed connects: %v", got)
	}
}

func TestIoTLoggerLevels(t *testing.T) {
	f := newLoggerFixture(t, control.IoTLoggerOptions{})
	ctx := t.Context()
	setOptions := func(in *iotdm.SetV2LoggingOptionsInput) {
		t.Helper()
		if _, err := f.cfg.SetV2LoggingOptions(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	setLevel := func(targetType, name, level string) {
		t.Helper()
		_, err := f.cfg.SetV2LoggingLevel(ctx, &iotdm.SetV2LoggingLevelInput{LogTarget: &iotdm.LogTarget{TargetType: targetType, TargetName: name}, LogLevel: level})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Thing groups: lab > sensors > all; dev-g is in sensors, dev-l in lab.
	for _, g := range [][2]string{{"all", ""}, {"sensors", "all"}, {"lab", "sensors"}} {
		if _, err := f.reg.CreateThingGroup(ctx, &iotdm.CreateThingGroupInput{ThingGroupName: g[0], ParentGroupName: g[1]}); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range [][2]string{{"dev-g", "sensors"}, {"dev-l", "lab"}} {
		if _, err := f.reg.CreateThing(ctx, &iotdm.CreateThingInput{ThingName: m[0]}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.reg.AddThingToThingGroup(ctx, &iotdm.AddThingToThingGroupInput{ThingName: m[0], ThingGroupName: m[1]}); err != nil {
			t.Fatal(err)
		}
	}
	setOptions(&iotdm.SetV2LoggingOptionsInput{DefaultLogLevel: "ERROR"})
	f.run(t)
	f.waitEnabled(t, true)

	// connects logs one successful connect of each client and returns who
	// made it into the log.
	connects := func() []string {
		t.Helper()
		before := f.logger.Written()
		for _, c := range []control.IoTLogClient{
			{ClientID: "plain"}, {ClientID: "dev-1"}, {ClientID: "x", SourceIP: "10.0.0.9"}, {ClientID: "y", PrincipalID: "p1"},
			{ClientID: "dev-g"}, {ClientID: "dev-l"},
		} {
			f.logger.Connect(c, "", "")
		}
		var got []string
		for _, e := range f.entries(t, iotdm.IoTLogGroupName, `{ $.eventType = "Connect" }`)[before:] {
			got = append(got, e["clientId"].(string))
		}
		return got
	}
	if got := connects(); len(got) != 0 {
		t.Errorf("at ERROR, successful connects logged: %v", got)
	}

	// Levels are picked up from the store as they change.
	setLevel("CLIENT_ID", "dev-1", "INFO")
	setLevel("SOURCE_IP", "10.0.0.9", "DEBUG")
	setLevel("PRINCIPAL_ID", "p1", "INFO")
	setLevel("THING_GROUP", "all", "INFO")
	setLevel("THING_GROUP", "lab", "ERROR") // the nearest group decides: lab silences dev-l
	deadline := time.Now().Add(5 * time.Second)
	var got []string
	for time.Now().Before(deadline) {
		if got = connects(); len(got) == 4 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if want := []string{"dev-1", "x", "y", "dev-g"}; !cmp.Equal(got, want, cmpopts.SortSlices(func(a, b string) bool { return a < b })) {
		t.Errorf("connects logged = %v, want %v", got, want)
	}

	// Event configurations: a level and a destination per event type; the
	// resource-specific levels still win.
	setOptions(&iotdm.SetV2LoggingOptionsInput{DefaultLogLevel: "DISABLED", EventConfigurations: []iotdm.LogEventConfiguration{
		{EventType: "Disconnect", LogLevel: "INFO", LogDestination: "/iot/disconnects"},
	}})
	time.Sleep(50 * time.Millisecond) // the follower reloads
	f.logger.Disconnect(control.IoTLogClient{ClientID: "plain"}, "CONNECTION_LOST", "")
	f.logger.Connect(control.IoTLogClient{ClientID: "plain"}, "AUTHORIZATION_FAILURE", "")
	if got := f.entries(t, "/iot/disconnects", ""); len(got) != 1 || got[0]["eventType"] != "Disconnect" {
		t.Errorf("/iot/disconnects = %v, want the disconnect", got)
	}

	// disableAllLogs turns everything off.
	setOptions(&iotdm.SetV2LoggingOptionsInput{DefaultLogLevel: "DEBUG", DisableAllLogs: true})
	f.waitEnabled(t, false)
	before := f.logger.Written()
	f.logger.Connect(control.IoTLogClient{ClientID: "dev-1"}, "AUTHORIZATION_FAILURE", "")
	f.entries(t, iotdm.IoTLogGroupName, "")
	if f.logger.Written() != before {
		t.Errorf("entries written with disableAllLogs")
	}
}

func TestIoTLoggerBuffer(t *testing.T) {
	f := newLoggerFixture(t, control.IoTLoggerOptions{BufferSize: 2})
	ctx := t.Context()
	if _, err := f.cfg.SetV2LoggingOptions(ctx, &iotdm.SetV2LoggingOptionsInput{DefaultLogLevel: "INFO"}); err != nil {
		t.Fatal(err)
	}
	// Without Run the queue is not drained: the third entry is dropped.
	if err := f.logger.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		f.logger.Connect(devClient, "", "")
	}
	if f.logger.Dropped() != 1 {
		t.Errorf("Dropped = %d, want 1", f.logger.Dropped())
	}
	f.run(t)
	if got := f.entries(t, iotdm.IoTLogGroupName, ""); len(got) != 2 {
		t.Errorf("%d entries written, want the 2 buffered", len(got))
	}
	// A deleted log group is made again on the next write.
	if _, err := f.groups.DeleteLogGroup(ctx, &iotdm.DeleteLogGroupInput{LogGroupName: iotdm.IoTLogGroupName}); err != nil {
		t.Fatal(err)
	}
	f.advance(time.Millisecond)
	f.logger.Connect(devClient, "", "")
	if got := f.entries(t, iotdm.IoTLogGroupName, ""); len(got) != 1 {
		t.Errorf("%d entries after the group was deleted, want 1", len(got))
	}
}

// TestIoTLoggerHotPathAllocs holds Log to no allocation when logging is on
// too: an entry the level filters out and one it queues.
func TestIoTLoggerHotPathAllocs(t *testing.T) {
	f := newLoggerFixture(t, control.IoTLoggerOptions{})
	if _, err := f.cfg.SetV2LoggingOptions(t.Context(), &iotdm.SetV2LoggingOptionsInput{DefaultLogLevel: "ERROR"}); err != nil {
		t.Fatal(err)
	}
	if err := f.logger.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(100, func() { f.logger.PublishIn(devClient, "dt/a", "", "") }); a != 0 {
		t.Errorf("a filtered entry allocates %v times", a)
	}
	if a := testing.AllocsPerRun(100, func() { f.logger.PublishIn(devClient, "dt/a", control.IoTReasonAuthorizationFailure, "") }); a != 0 {
		t.Errorf("a queued entry allocates %v times", a)
	}
}

func BenchmarkIoTLoggerDisabled(b *testing.B) {
	l := control.NewIoTLogger(nil, nil, control.IoTLoggerOptions{})
	b.ReportAllocs()
	for b.Loop() {
		l.PublishIn(devClient, "dt/a", control.IoTReasonAuthorizationFailure, "Authorization Failure")
	}
}
