package fleetindex

import (
	"context"
	"slices"
	"testing"

	"github.com/iotdm/iotdm"
)

// putConnectivity stores a thing's connection state as the Connectivity
// service does (KindConnectivity, keyed by the thing name, with the id of
// the thing it was recorded for).
func putConnectivity(t *testing.T, st iotdm.Store, thing string, c iotdm.ConnectivityState) {
	t.Helper()
	if c.ThingID == "" {
		c.ThingID = "id-" + thing
	}
	update(t, st, func(ctx context.Context, tx iotdm.Tx) error {
		return putJSON(ctx, tx, iotdm.KindConnectivity, thing, c)
	})
}

// searchThings runs q over the AWS_Things index, sorted.
func searchThings(t *testing.T, f *Feeder, q string) []string {
	t.Helper()
	expr, err := parseThings(q)
	if err != nil {
		t.Fatalf("parse %q: %v", q, err)
	}
	got := f.Things().Search(expr)
	slices.Sort(got)
	return got
}

func connectivityJSON(t *testing.T, f *Feeder, thing string) string {
	t.Helper()
	doc, ok := f.Things().Get(thing)
	if !ok {
		t.Fatalf("%s not indexed", thing)
	}
	return docJSON(t, map[string]any{"c": doc["connectivity"]})
}

func TestFeederConnectivity(t *testing.T) {
	dir := t.TempDir()
	st := openTestStore(t, dir)
	putThing(t, st, "dev-1", "", nil)
	putThing(t, st, "dev-2", "", nil)
	putThing(t, st, "dev-3", "", nil)
	// Recorded before the feeder starts: read by the initial build.
	putConnectivity(t, st, "dev-2", iotdm.ConnectivityState{Connected: true, Timestamp: 1700000000000, VersionNumber: 5})
	// Recorded for an earlier thing of the same name: not this thing's.
	putConnectivity(t, st, "dev-3", iotdm.ConnectivityState{Connected: true, Timestamp: 1700000000000, ThingID: "old-id"})
	putDynamicGroup(t, st, "online", "connectivity.connected:true")

	f, stop := runFeeder(t, st)
	if got := connectivityJSON(t, f, "dev-1"); got != `{"c":{"connected":false}}` {
		t.Errorf("never connected: %s", got)
	}
	if got := connectivityJSON(t, f, "dev-2"); got != `{"c":{"connected":true,"timestamp":1700000000000}}` {
		t.Errorf("connected at build: %s", got)
	}
	if got := connectivityJSON(t, f, "dev-3"); got != `{"c":{"connected":false}}` {
		t.Errorf("state of an earlier thing: %s", got)
	}
	wantList(t, "connected at build", searchThings(t, f, "connectivity.connected:true"), "dev-2")
	wantList(t, "online at build", f.DynamicMembers("online"), "dev-2")

	// Connect: searchable, and the dynamic group follows.
	putConnectivity(t, st, "dev-1", iotdm.ConnectivityState{Connected: true, Timestamp: 1700000100000, VersionNumber: 7})
	catchUp(t, f, st)
	wantList(t, "connected", searchThings(t, f, "connectivity.connected:true"), "dev-1", "dev-2")
	wantList(t, "online", f.DynamicMembers("online"), "dev-1", "dev-2")
	wantList(t, "timestamp range", searchThings(t, f, "connectivity.timestamp > 1700000050000"), "dev-1")

	// Disconnect with a reason: indexed; connected again drops the reason.
	putConnectivity(t, st, "dev-1", iotdm.ConnectivityState{Connected: false, Timestamp: 1700000200000,
		DisconnectReason: iotdm.DisconnectKeepAliveTimeout, VersionNumber: 7})
	catchUp(t, f, st)
	if got := connectivityJSON(t, f, "dev-1"); got != `{"c":{"connected":false,"disconnectReason":"MQTT_KEEP_ALIVE_TIMEOUT","timestamp":1700000200000}}` {
		t.Errorf("disconnected: %s", got)
	}
	wantList(t, "by reason", searchThings(t, f, "connectivity.disconnectReason:MQTT_KEEP_ALIVE_TIMEOUT"), "dev-1")
	wantList(t, "disconnected in a window", searchThings(t, f,
		"connectivity.connected:false AND connectivity.timestamp:[1700000150000 TO 1700000250000]"), "dev-1")
	wantList(t, "online after disconnect", f.DynamicMembers("online"), "dev-2")
	wantList(t, "bare term skips connectivity", searchThings(t, f, "MQTT_KEEP_ALIVE_TIMEOUT"))

	// A registry update keeps the section.
	putThing(t, st, "dev-1", "", map[string]string{"k": "v"})
	catchUp(t, f, st)
	if got := connectivityJSON(t, f, "dev-1"); got != `{"c":{"connected":false,"disconnectReason":"MQTT_KEEP_ALIVE_TIMEOUT","timestamp":1700000200000}}` {
		t.Errorf("after a thing update: %s", got)
	}

	// A state recorded for a client id that is no thing (yet) is not
	// indexed; the thing created later reads it.
	putConnectivity(t, st, "late", iotdm.ConnectivityState{Connected: true, Timestamp: 1700000300000})
	catchUp(t, f, st)
	if _, ok := f.Things().Get("late"); ok {
		t.Error("connectivity without a thing indexed")
	}
	putThing(t, st, "late", "", nil)
	catchUp(t, f, st)
	if got := connectivityJSON(t, f, "late"); got != `{"c":{"connected":true,"timestamp":1700000300000}}` {
		t.Errorf("thing created after its state: %s", got)
	}
	// The state goes (deleted): disconnected, no timestamp.
	update(t, st, func(ctx context.Context, tx iotdm.Tx) error { return tx.Delete(ctx, iotdm.KindConnectivity, "late") })
	catchUp(t, f, st)
	if got := connectivityJSON(t, f, "late"); got != `{"c":{"connected":false}}` {
		t.Errorf("state deleted: %s", got)
	}

	// A restart rebuilds the same documents.
	live := map[string]string{}
	for _, n := range []string{"dev-1", "dev-2", "dev-3", "late"} {
		live[n] = connectivityJSON(t, f, n)
	}
	stop()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openTestStore(t, dir)
	f2, _ := runFeeder(t, st)
	for n, want := range live {
		if got := connectivityJSON(t, f2, n); got != want {
			t.Errorf("%s after restart: %s, live was %s", n, got, want)
		}
	}
	wantList(t, "by reason after restart", searchThings(t, f2, "connectivity.disconnectReason:MQTT_KEEP_ALIVE_TIMEOUT"), "dev-1")
	wantList(t, "online after restart", f2.DynamicMembers("online"), "dev-2")
}

func TestFeederConnectivityIndexingOff(t *testing.T) {
	st := openTestStore(t, t.TempDir())
	putThing(t, st, "dev", "", nil)
	putConnectivity(t, st, "dev", iotdm.ConnectivityState{Connected: true, Timestamp: 1700000000000})
	cfg := iotdm.DefaultIndexingConfiguration()
	cfg.ThingIndexingConfiguration.ThingConnectivityIndexingMode = iotdm.ConnectivityIndexingOff
	putConfig(t, st, cfg)
	f, _ := runFeeder(t, st)
	if got := connectivityJSON(t, f, "dev"); got != `{"c":null}` {
		t.Errorf("OFF at build: %s", got)
	}
	putConnectivity(t, st, "dev", iotdm.ConnectivityState{Connected: false, Timestamp: 1700000100000, DisconnectReason: iotdm.DisconnectClientInitiated})
	catchUp(t, f, st)
	if got := connectivityJSON(t, f, "dev"); got != `{"c":null}` {
		t.Errorf("OFF after a change: %s", got)
	}

	// Switching STATUS on rebuilds with the stored state.
	putConfig(t, st, iotdm.DefaultIndexingConfiguration())
	catchUp(t, f, st)
	if got := connectivityJSON(t, f, "dev"); got != `{"c":{"connected":false,"disconnectReason":"CLIENT_INITIATED_DISCONNECT","timestamp":1700000100000}}` {
		t.Errorf("STATUS again: %s", got)
	}
}
