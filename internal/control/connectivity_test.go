package control_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/control"
	"github.com/iotdm/iotdm/internal/fleetindex"
	"github.com/iotdm/iotdm/internal/sqlite"
)

// lifecycleMsg is one message a lifecycleRecorder got.
type lifecycleMsg struct {
	topic   string
	payload map[string]any
	raw     string
	qos     byte
	retain  bool
}

// lifecycleRecorder records what the service publishes.
type lifecycleRecorder struct {
	mu   sync.Mutex
	msgs []lifecycleMsg
}

func (p *lifecycleRecorder) Publish(_ context.Context, topic string, payload []byte, qos byte, retain bool) error {
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, lifecycleMsg{topic: topic, payload: m, raw: string(payload), qos: qos, retain: retain})
	return nil
}

// take returns and forgets the messages lifecycleMsg so far.
func (p *lifecycleRecorder) take() []lifecycleMsg {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.msgs
	p.msgs = nil
	return out
}

type connFixture struct {
	db    iotdm.Store
	reg   *control.Registry
	conn  *control.Connectivity
	pub   *lifecycleRecorder
	clock *clock
}

func newConnFixture(t *testing.T, opts control.ConnectivityOptions) *connFixture {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "c.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	pub := &lifecycleRecorder{}
	opts.Publisher = pub
	opts.Now = clk.Now
	return &connFixture{
		db:    db,
		reg:   control.NewRegistry(db, control.RegistryOptions{Region: "us-east-1", AccountID: "123456789012", Now: clk.Now}),
		conn:  control.NewConnectivity(db, opts),
		pub:   pub,
		clock: clk,
	}
}

func (f *connFixture) thing(t *testing.T, name string) string {
	t.Helper()
	out, err := f.reg.CreateThing(t.Context(), &iotdm.CreateThingInput{ThingName: name})
	if err != nil {
		t.Fatalf("CreateThing(%s): %v", name, err)
	}
	return out.ThingID
}

// run starts Run; the returned stop flushes the queue and stops it.
func (f *connFixture) run(t *testing.T) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.conn.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func (f *connFixture) flush(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.conn.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

func (f *connFixture) state(t *testing.T, thing string) *iotdm.ConnectivityState {
	t.Helper()
	v, ok, err := f.db.Get(t.Context(), iotdm.KindConnectivity, thing)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return nil
	}
	st := new(iotdm.ConnectivityState)
	if err := json.Unmarshal(v, st); err != nil {
		t.Fatal(err)
	}
	return st
}

func (f *connFixture) data(t *testing.T, thing string) *iotdm.GetThingConnectivityDataOutput {
	t.Helper()
	out, err := f.conn.GetThingConnectivityData(t.Context(), &iotdm.GetThingConnectivityDataInput{ThingName: thing})
	if err != nil {
		t.Fatalf("GetThingConnectivityData(%s): %v", thing, err)
	}
	return out
}

func connSession(client, sessionID string, version int64) control.SessionInfo {
	return control.SessionInfo{ClientID: client, Principal: "arn:aws:iot:us-east-1:123456789012:cert/c0ffee",
		CertificateID: "c0ffee", SessionID: sessionID, IPAddress: "192.0.2.7", VersionNumber: version}
}

var connT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// wantLifecyclePayload compares a lifecycleMsg payload with want, field by field: the
// same members, with the same JSON values.
func wantLifecyclePayload(t *testing.T, got lifecycleMsg, topic string, want map[string]any) {
	t.Helper()
	if got.topic != topic {
		t.Errorf("topic %q, want %q", got.topic, topic)
	}
	if got.qos != 1 || got.retain {
		t.Errorf("%s: qos %d retain %v, want qos 1 without retain", topic, got.qos, got.retain)
	}
	b, _ := json.Marshal(want)
	var w map[string]any
	json.Unmarshal(b, &w)
	for k, v := range w {
		if g, ok := got.payload[k]; !ok {
			t.Errorf("%s: member %s missing in %s", topic, k, got.raw)
		} else if !reflect.DeepEqual(g, v) {
			t.Errorf("%s: %s = %#v, want %#v", topic, k, g, v)
		}
	}
	for k := range got.payload {
		if _, ok := w[k]; !ok {
			t.Errorf("%s: unexpected member %s in %s", topic, k, got.raw)
		}
	}
}

func TestConnectivityLifecycleEvents(t *testing.T) {
	f := newConnFixture(t, control.ConnectivityOptions{})
	ctx := t.Context()
	f.thing(t, "dev-1")

	s := connSession("dev-1", "sess-a", 1772366400000)
	if err := f.conn.Connected(ctx, control.ConnectInfo{SessionInfo: s, Time: connT0.Add(250 * time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	if err := f.conn.Subscribed(ctx, control.SubscriptionInfo{SessionInfo: s, Topics: []string{"a/b", "c/#"}, Time: connT0.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	if err := f.conn.Unsubscribed(ctx, control.SubscriptionInfo{SessionInfo: s, Topics: []string{"c/#"}, Time: connT0.Add(2 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	if err := f.conn.Disconnected(ctx, control.DisconnectInfo{SessionInfo: s, Reason: iotdm.DisconnectClientInitiated,
		ClientInitiated: true, Time: connT0.Add(3 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	msgs := f.pub.take()
	if len(msgs) != 4 {
		t.Fatalf("%d messages: %+v", len(msgs), msgs)
	}
	wantLifecyclePayload(t, msgs[0], "$aws/events/presence/connected/dev-1", map[string]any{
		"clientId": "dev-1", "timestamp": 1772366400250, "eventType": "connected", "sessionIdentifier": "sess-a",
		"principalIdentifier": "c0ffee", "ipAddress": "192.0.2.7", "versionNumber": 1772366400000,
	})
	wantLifecyclePayload(t, msgs[1], "$aws/events/subscriptions/subscribed/dev-1", map[string]any{
		"clientId": "dev-1", "timestamp": 1772366401000, "eventType": "subscribed", "sessionIdentifier": "sess-a",
		"principalIdentifier": "c0ffee", "topics": []string{"a/b", "c/#"},
	})
	wantLifecyclePayload(t, msgs[2], "$aws/events/subscriptions/unsubscribed/dev-1", map[string]any{
		"clientId": "dev-1", "timestamp": 1772366402000, "eventType": "unsubscribed", "sessionIdentifier": "sess-a",
		"principalIdentifier": "c0ffee", "topics": []string{"c/#"},
	})
	wantLifecyclePayload(t, msgs[3], "$aws/events/presence/disconnected/dev-1", map[string]any{
		"clientId": "dev-1", "timestamp": 1772366403000, "eventType": "disconnected", "sessionIdentifier": "sess-a",
		"principalIdentifier": "c0ffee", "clientInitiatedDisconnect": true, "disconnectReason": "CLIENT_INITIATED_DISCONNECT",
		"versionNumber": 1772366400000,
	})

	// Without a certificate the principal identifies the connection; a
	// missing reason is UNKNOWN. A client id that is no thing gets its
	// events but no stored state.
	other := control.SessionInfo{ClientID: "app/console", Principal: "123456789012/AKIDEXAMPLE:alice", SessionID: "sess-x", VersionNumber: 3}
	if err := f.conn.Connected(ctx, control.ConnectInfo{SessionInfo: other, Time: connT0}); err != nil {
		t.Fatal(err)
	}
	if err := f.conn.Disconnected(ctx, control.DisconnectInfo{SessionInfo: other, Time: connT0}); err != nil {
		t.Fatal(err)
	}
	msgs = f.pub.take()
	if len(msgs) != 2 {
		t.Fatalf("%d messages: %+v", len(msgs), msgs)
	}
	wantLifecyclePayload(t, msgs[0], "$aws/events/presence/connected/app/console", map[string]any{
		"clientId": "app/console", "timestamp": connT0.UnixMilli(), "eventType": "connected", "sessionIdentifier": "sess-x",
		"principalIdentifier": "123456789012/AKIDEXAMPLE:alice", "ipAddress": "", "versionNumber": 3,
	})
	if msgs[1].payload["disconnectReason"] != "UNKNOWN" || msgs[1].payload["clientInitiatedDisconnect"] != false {
		t.Errorf("disconnect without a reason: %s", msgs[1].raw)
	}
	if st := f.state(t, "app/console"); st != nil {
		t.Errorf("state stored for a client id that is no thing: %+v", st)
	}

	// AWS §7: client ids with + or # get no lifecycle events.
	for _, id := range []string{"a+b", "a#b"} {
		s := connSession(id, "s", 9)
		f.conn.Connected(ctx, control.ConnectInfo{SessionInfo: s})
		f.conn.Subscribed(ctx, control.SubscriptionInfo{SessionInfo: s, Topics: []string{"x"}})
		f.conn.Disconnected(ctx, control.DisconnectInfo{SessionInfo: s})
	}
	if msgs := f.pub.take(); len(msgs) != 0 {
		t.Errorf("events for client ids with + or #: %+v", msgs)
	}
}

func TestConnectivityOrderAcrossSessions(t *testing.T) {
	f := newConnFixture(t, control.ConnectivityOptions{})
	ctx := t.Context()
	id := f.thing(t, "dev")
	a, b := connSession("dev", "sess-a", 100), connSession("dev", "sess-b", 200)

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.conn.Connected(ctx, control.ConnectInfo{SessionInfo: a, Time: connT0}))
	// b takes over; a's disconnect arrives after b's connect.
	must(f.conn.Connected(ctx, control.ConnectInfo{SessionInfo: b, Time: connT0.Add(time.Second)}))
	must(f.conn.Disconnected(ctx, control.DisconnectInfo{SessionInfo: a, Reason: iotdm.DisconnectDuplicateClientID, Time: connT0.Add(2 * time.Second)}))
	want := &iotdm.ConnectivityState{Connected: true, Timestamp: connT0.Add(time.Second).UnixMilli(), ThingID: id,
		VersionNumber: 200, SessionID: "sess-b", Principal: "c0ffee"}
	if got := f.state(t, "dev"); !reflect.DeepEqual(got, want) {
		t.Errorf("after a late disconnect of the old session: %+v, want %+v", got, want)
	}
	// Both disconnects were still lifecycleMsg, in order.
	if msgs := f.pub.take(); len(msgs) != 3 || msgs[2].payload["disconnectReason"] != "DUPLICATE_CLIENTID" {
		t.Errorf("lifecycleMsg %+v", msgs)
	}

	// An older connect arriving late changes nothing either.
	seq, _ := f.db.LastSeq(ctx)
	must(f.conn.Connected(ctx, control.ConnectInfo{SessionInfo: a, Time: connT0.Add(3 * time.Second)}))
	// Repeated events of b are idempotent.
	must(f.conn.Connected(ctx, control.ConnectInfo{SessionInfo: b, Time: connT0.Add(4 * time.Second)}))
	if now, _ := f.db.LastSeq(ctx); now != seq {
		t.Errorf("stale and repeated connects wrote %d changes", now-seq)
	}

	must(f.conn.Disconnected(ctx, control.DisconnectInfo{SessionInfo: b, Reason: iotdm.DisconnectKeepAliveTimeout, Time: connT0.Add(5 * time.Second)}))
	seq, _ = f.db.LastSeq(ctx)
	must(f.conn.Disconnected(ctx, control.DisconnectInfo{SessionInfo: b, Reason: iotdm.DisconnectConnectionLost, Time: connT0.Add(6 * time.Second)}))
	// A connect of b after its own disconnect (out of order) does not
	// revive it.
	must(f.conn.Connected(ctx, control.ConnectInfo{SessionInfo: b, Time: connT0.Add(7 * time.Second)}))
	if now, _ := f.db.LastSeq(ctx); now != seq {
		t.Errorf("repeated disconnect and late connect wrote %d changes", now-seq)
	}
	want = &iotdm.ConnectivityState{Connected: false, Timestamp: connT0.Add(5 * time.Second).UnixMilli(),
		DisconnectReason: "MQTT_KEEP_ALIVE_TIMEOUT", ThingID: id, VersionNumber: 200, SessionID: "sess-b", Principal: "c0ffee"}
	if got := f.state(t, "dev"); !reflect.DeepEqual(got, want) {
		t.Errorf("after b's disconnect: %+v, want %+v", got, want)
	}

	// A newer session's disconnect whose connect was never seen is recorded.
	c := connSession("dev", "sess-c", 300)
	must(f.conn.Disconnected(ctx, control.DisconnectInfo{SessionInfo: c, Reason: iotdm.DisconnectAuthError, Time: connT0.Add(8 * time.Second)}))
	if got := f.state(t, "dev"); got.VersionNumber != 300 || got.Connected || got.DisconnectReason != "AUTH_ERROR" {
		t.Errorf("disconnect of an unseen session: %+v", got)
	}

	// Without a version number the event time orders.
	d := connSession("dev", "sess-d", 0)
	late := time.UnixMilli(250).UTC() // orders before version 300
	must(f.conn.Connected(ctx, control.ConnectInfo{SessionInfo: d, Time: late}))
	if got := f.state(t, "dev"); got.Connected {
		t.Errorf("an unversioned connect older than the stored state applied: %+v", got)
	}
	must(f.conn.Connected(ctx, control.ConnectInfo{SessionInfo: d, Time: connT0.Add(time.Hour)}))
	if got := f.state(t, "dev"); !got.Connected || got.VersionNumber != connT0.Add(time.Hour).UnixMilli() {
		t.Errorf("unversioned connect: %+v", got)
	}
}

func TestConnectivityQueue(t *testing.T) {
	f := newConnFixture(t, control.ConnectivityOptions{BatchSize: 3})
	id := f.thing(t, "q")
	f.thing(t, "r")
	f.run(t)

	// One batch holds several events of one client: they apply in order.
	a, b := connSession("q", "a", 10), connSession("q", "b", 11)
	for _, ok := range []bool{
		f.conn.EnqueueConnected(control.ConnectInfo{SessionInfo: a, Time: connT0}),
		f.conn.EnqueueSubscribed(control.SubscriptionInfo{SessionInfo: a, Topics: []string{"t"}, Time: connT0}),
		f.conn.EnqueueDisconnected(control.DisconnectInfo{SessionInfo: a, Reason: iotdm.DisconnectConnectionLost, Time: connT0.Add(time.Second)}),
		f.conn.EnqueueConnected(control.ConnectInfo{SessionInfo: b, Time: connT0.Add(2 * time.Second)}),
		f.conn.EnqueueUnsubscribed(control.SubscriptionInfo{SessionInfo: b, Topics: []string{"t"}, Time: connT0.Add(2 * time.Second)}),
		f.conn.EnqueueConnected(control.ConnectInfo{SessionInfo: connSession("r", "c", 12), Time: connT0.Add(3 * time.Second)}),
		f.conn.EnqueueDisconnected(control.DisconnectInfo{SessionInfo: connSession("r", "c", 12), Reason: iotdm.DisconnectServerInitiated, Time: connT0.Add(4 * time.Second)}),
	} {
		if !ok {
			t.Fatal("event dropped")
		}
	}
	f.flush(t)
	if got := f.state(t, "q"); got == nil || !got.Connected || got.SessionID != "b" || got.ThingID != id {
		t.Errorf("q: %+v", got)
	}
	if got := f.state(t, "r"); got == nil || got.Connected || got.DisconnectReason != "SERVER_INITIATED_DISCONNECT" {
		t.Errorf("r: %+v", got)
	}
	var types []string
	for _, m := range f.pub.take() {
		types = append(types, m.payload["clientId"].(string)+":"+m.payload["eventType"].(string))
	}
	want := []string{"q:connected", "q:subscribed", "q:disconnected", "q:connected", "q:unsubscribed", "r:connected", "r:disconnected"}
	if !slices.Equal(types, want) {
		t.Errorf("lifecycleMsg %q, want %q", types, want)
	}
	if f.conn.Dropped() != 0 {
		t.Errorf("dropped %d", f.conn.Dropped())
	}
}

func TestConnectivityQueueFull(t *testing.T) {
	f := newConnFixture(t, control.ConnectivityOptions{QueueSize: 2})
	f.thing(t, "dev")
	s := connSession("dev", "a", 1)
	// Nothing drains the queue yet: the third event is dropped, at once.
	start := time.Now()
	got := []bool{
		f.conn.EnqueueConnected(control.ConnectInfo{SessionInfo: s}),
		f.conn.EnqueueSubscribed(control.SubscriptionInfo{SessionInfo: s, Topics: []string{"x"}}),
		f.conn.EnqueueDisconnected(control.DisconnectInfo{SessionInfo: s}),
	}
	if !slices.Equal(got, []bool{true, true, false}) || f.conn.Dropped() != 1 {
		t.Errorf("enqueued %v, dropped %d", got, f.conn.Dropped())
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("a full queue blocked for %v", took)
	}
	f.run(t)
	f.flush(t)
	if st := f.state(t, "dev"); st == nil || !st.Connected {
		t.Errorf("state %+v", st)
	}
	if n := len(f.pub.take()); n != 2 {
		t.Errorf("%d events lifecycleMsg, want 2", n)
	}
}

func TestConnectivityStartupReset(t *testing.T) {
	f := newConnFixture(t, control.ConnectivityOptions{})
	f.thing(t, "on")
	f.thing(t, "off")
	ctx := t.Context()
	f.conn.Connected(ctx, control.ConnectInfo{SessionInfo: connSession("on", "s-on", 5), Time: connT0})
	f.conn.Connected(ctx, control.ConnectInfo{SessionInfo: connSession("off", "s-off", 6), Time: connT0})
	f.conn.Disconnected(ctx, control.DisconnectInfo{SessionInfo: connSession("off", "s-off", 6), Reason: iotdm.DisconnectClientInitiated, ClientInitiated: true, Time: connT0})
	f.pub.take()

	// A new server: KeepStaleOnStart leaves the states alone.
	keep := control.NewConnectivity(f.db, control.ConnectivityOptions{KeepStaleOnStart: true, Publisher: f.pub, Now: f.clock.Now})
	kctx, kcancel := context.WithCancel(ctx)
	kdone := make(chan error, 1)
	go func() { kdone <- keep.Run(kctx) }()
	if err := keep.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	kcancel()
	<-kdone
	if st := f.state(t, "on"); !st.Connected {
		t.Errorf("KeepStaleOnStart: %+v", st)
	}

	// By default the things left connected are disconnected.
	f.clock.advance(time.Minute)
	f.run(t)
	f.flush(t)
	st := f.state(t, "on")
	if st.Connected || st.DisconnectReason != "SERVER_INITIATED_DISCONNECT" || st.Timestamp != connT0.Add(time.Minute).UnixMilli() || st.VersionNumber != 5 {
		t.Errorf("reset state: %+v", st)
	}
	if st := f.state(t, "off"); st.DisconnectReason != "CLIENT_INITIATED_DISCONNECT" || st.Timestamp != connT0.UnixMilli() {
		t.Errorf("a disconnected thing changed: %+v", st)
	}
	msgs := f.pub.take()
	if len(msgs) != 1 {
		t.Fatalf("lifecycleMsg %+v", msgs)
	}
	wantLifecyclePayload(t, msgs[0], "$aws/events/presence/disconnected/on", map[string]any{
		"clientId": "on", "timestamp": connT0.Add(time.Minute).UnixMilli(), "eventType": "disconnected", "sessionIdentifier": "s-on",
		"principalIdentifier": "c0ffee", "clientInitiatedDisconnect": false, "disconnectReason": "SERVER_INITIATED_DISCONNECT",
		"versionNumber": 5,
	})
	// The late disconnect of that session changes nothing.
	seq, _ := f.db.LastSeq(ctx)
	f.conn.Disconnected(ctx, control.DisconnectInfo{SessionInfo: connSession("on", "s-on", 5), Reason: iotdm.DisconnectConnectionLost})
	if now, _ := f.db.LastSeq(ctx); now != seq {
		t.Error("a disconnect after the reset was recorded")
	}
}

func TestGetThingConnectivityData(t *testing.T) {
	f := newConnFixture(t, control.ConnectivityOptions{})
	ctx := t.Context()
	f.thing(t, "dev")

	for _, tc := range []struct {
		name string
		code iotdm.ErrorCode
	}{{"ghost", iotdm.ErrResourceNotFound}, {"bad name", iotdm.ErrInvalidRequest}, {"", iotdm.ErrInvalidRequest}} {
		if _, err := f.conn.GetThingConnectivityData(ctx, &iotdm.GetThingConnectivityDataInput{ThingName: tc.name}); !iotdm.IsCode(err, tc.code) {
			t.Errorf("%q: %v, want %s", tc.name, err, tc.code)
		}
	}

	if got := f.data(t, "dev"); !reflect.DeepEqual(got, &iotdm.GetThingConnectivityDataOutput{ThingName: "dev"}) {
		t.Errorf("never connected: %+v", got)
	}
	s := connSession("dev", "a", 1)
	f.conn.Connected(ctx, control.ConnectInfo{SessionInfo: s, Time: connT0.Add(123 * time.Millisecond)})
	got := f.data(t, "dev")
	if !got.Connected || got.Timestamp == nil || !got.Timestamp.Equal(connT0.Add(123*time.Millisecond)) || got.DisconnectReason != "" {
		t.Errorf("connected: %+v", got)
	}
	if b, _ := json.Marshal(got); string(b) != `{"thingName":"dev","connected":true,"timestamp":1772366400.123}` {
		t.Errorf("connected JSON %s", b)
	}
	f.conn.Disconnected(ctx, control.DisconnectInfo{SessionInfo: s, Reason: iotdm.DisconnectKeepAliveTimeout, Time: connT0.Add(time.Second)})
	got = f.data(t, "dev")
	if got.Connected || !got.Timestamp.Equal(connT0.Add(time.Second)) || got.DisconnectReason != "MQTT_KEEP_ALIVE_TIMEOUT" {
		t.Errorf("disconnected: %+v", got)
	}

	// A thing deleted and created again starts disconnected, without the
	// state of its predecessor.
	f.conn.Connected(ctx, control.ConnectInfo{SessionInfo: connSession("dev", "b", 2), Time: connT0.Add(2 * time.Second)})
	if _, err := f.reg.DeleteThing(ctx, &iotdm.DeleteThingInput{ThingName: "dev"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.conn.GetThingConnectivityData(ctx, &iotdm.GetThingConnectivityDataInput{ThingName: "dev"}); !iotdm.IsCode(err, iotdm.ErrResourceNotFound) {
		t.Errorf("deleted thing: %v", err)
	}
	f.thing(t, "dev")
	if got := f.data(t, "dev"); got.Connected || got.Timestamp != nil {
		t.Errorf("recreated thing: %+v", got)
	}
	// Its first event replaces the old state, even with an older version.
	f.conn.Connected(ctx, control.ConnectInfo{SessionInfo: connSession("dev", "c", 1), Time: connT0.Add(3 * time.Second)})
	if got := f.data(t, "dev"); !got.Connected {
		t.Errorf("recreated thing connected: %+v", got)
	}

	// It needs connectivity indexing.
	ix := control.NewIndexing(f.db, control.IndexingOptions{})
	if _, err := ix.UpdateIndexingConfiguration(ctx, &iotdm.UpdateIndexingConfigurationInput{
		ThingIndexingConfiguration: &iotdm.ThingIndexingConfiguration{ThingIndexingMode: iotdm.ThingIndexingRegistry,
			ThingConnectivityIndexingMode: iotdm.ConnectivityIndexingOff}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.conn.GetThingConnectivityData(ctx, &iotdm.GetThingConnectivityDataInput{ThingName: "dev"}); !iotdm.IsCode(err, iotdm.ErrInvalidRequest) {
		t.Errorf("connectivity indexing OFF: %v", err)
	}
	if _, err := ix.UpdateIndexingConfiguration(ctx, &iotdm.UpdateIndexingConfigurationInput{
		ThingIndexingConfiguration: &iotdm.ThingIndexingConfiguration{ThingIndexingMode: iotdm.ThingIndexingOff}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.conn.GetThingConnectivityData(ctx, &iotdm.GetThingConnectivityDataInput{ThingName: "dev"}); !iotdm.IsCode(err, iotdm.ErrResourceNotFound) {
		t.Errorf("thing indexing OFF: %v", err)
	}
}

func TestEventConfigurations(t *testing.T) {
	f := newConnFixture(t, control.ConnectivityOptions{})
	ctx := t.Context()
	describe := func() *iotdm.DescribeEventConfigurationsOutput {
		t.Helper()
		out, err := f.conn.DescribeEventConfigurations(ctx, &iotdm.DescribeEventConfigurationsInput{})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	enabled := func(out *iotdm.DescribeEventConfigurationsOutput) []string {
		var on []string
		for k, v := range out.EventConfigurations {
			if v.Enabled {
				on = append(on, k)
			}
		}
		slices.Sort(on)
		return on
	}

	out := describe()
	if len(out.EventConfigurations) != 11 || len(enabled(out)) != 0 || out.CreationDate != nil || out.LastModifiedDate != nil {
		t.Errorf("default: %+v", out)
	}
	if b, _ := json.Marshal(out); !strings.HasPrefix(string(b), `{"eventConfigurations":{"CA_CERTIFICATE":{"Enabled":false},"CERTIFICATE":{"Enabled":false},`) ||
		!strings.HasSuffix(string(b), `"THING_TYPE_ASSOCIATION":{"Enabled":false}}}`) {
		t.Errorf("default JSON %s", b)
	}

	if _, err := f.conn.UpdateEventConfigurations(ctx, &iotdm.UpdateEventConfigurationsInput{EventConfigurations: map[string]iotdm.EventConfiguration{
		iotdm.EventThing: {Enabled: true}, iotdm.EventThingGroupMembership: {Enabled: true}}}); err != nil {
		t.Fatal(err)
	}
	f.clock.advance(time.Hour)
	// Types not named keep their setting.
	if _, err := f.conn.UpdateEventConfigurations(ctx, &iotdm.UpdateEventConfigurationsInput{EventConfigurations: map[string]iotdm.EventConfiguration{
		iotdm.EventThingGroupMembership: {Enabled: false}, iotdm.EventThingType: {Enabled: true}}}); err != nil {
		t.Fatal(err)
	}
	out = describe()
	if got := enabled(out); !slices.Equal(got, []string{"THING", "THING_TYPE"}) || len(out.EventConfigurations) != 11 {
		t.Errorf("enabled %v of %d", got, len(out.EventConfigurations))
	}
	if !out.CreationDate.Equal(connT0) || !out.LastModifiedDate.Equal(connT0.Add(time.Hour)) {
		t.Errorf("dates %v %v", out.CreationDate, out.LastModifiedDate)
	}
	if b, _ := json.Marshal(out.EventConfigurations[iotdm.EventThing]); string(b) != `{"Enabled":true}` {
		t.Errorf("Configuration JSON %s", b)
	}

	_, err := f.conn.UpdateEventConfigurations(ctx, &iotdm.UpdateEventConfigurationsInput{EventConfigurations: map[string]iotdm.EventConfiguration{
		"THING": {Enabled: false}, "SHADOW": {Enabled: true}}})
	if !iotdm.IsCode(err, iotdm.ErrInvalidRequest) {
		t.Errorf("unknown event type: %v", err)
	}
	if got := enabled(describe()); !slices.Equal(got, []string{"THING", "THING_TYPE"}) {
		t.Errorf("a refused update changed %v", got)
	}
}

// The fleet index follows the recorded states: SearchIndex finds the
// connected things and returns their connectivity.
func TestConnectivitySearch(t *testing.T) {
	f := newConnFixture(t, control.ConnectivityOptions{})
	feeder := fleetindex.NewFeeder(f.db, fleetindex.FeederOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- feeder.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	search := control.NewSearch(f.db, feeder, control.SearchOptions{})
	f.thing(t, "on")
	f.thing(t, "off")
	f.conn.Connected(ctx, control.ConnectInfo{SessionInfo: connSession("on", "a", 1), Time: connT0})
	f.conn.Connected(ctx, control.ConnectInfo{SessionInfo: connSession("off", "b", 2), Time: connT0})
	f.conn.Disconnected(ctx, control.DisconnectInfo{SessionInfo: connSession("off", "b", 2), Reason: iotdm.DisconnectThrottled, Time: connT0.Add(time.Second)})

	for q, want := range map[string]string{
		"connectivity.connected:true":             `[{"thingName":"on","thingId":"ID","connectivity":{"connected":true,"timestamp":1772366400000}}]`,
		"connectivity.disconnectReason:THROTTLED": `[{"thingName":"off","thingId":"ID","connectivity":{"connected":false,"timestamp":1772366401000,"disconnectReason":"THROTTLED"}}]`,
	} {
		out, err := search.SearchIndex(ctx, &iotdm.SearchIndexInput{QueryString: q})
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for i := range out.Things {
			out.Things[i].ThingID = "ID"
		}
		if b, _ := json.Marshal(out.Things); string(b) != want {
			t.Errorf("%s: %s, want %s", q, b, want)
		}
	}
}
