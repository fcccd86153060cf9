package control_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/control"
)

// published is one message of a recordingPublisher.
type published struct {
	Topic   string
	Payload string
	QoS     byte
	Retain  bool
}

// recordingPublisher records what the service publishes; fail makes Publish
// fail.
type recordingPublisher struct {
	mu   sync.Mutex
	msgs []published
	fail error
}

func (p *recordingPublisher) Publish(_ context.Context, topic string, payload []byte, qos byte, retain bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, published{topic, string(payload), qos, retain})
	return p.fail
}

// take returns the messages published since the last take.
func (p *recordingPublisher) take() []published {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.msgs
	p.msgs = nil
	return m
}

func newShadowTopics(t *testing.T) (*control.Shadows, iotdm.Store, *clock, *recordingPublisher) {
	t.Helper()
	s, db, clk := newShadows(t)
	pub := &recordingPublisher{}
	s.SetPublisher(pub)
	return s, db, clk, pub
}

// wantMessages compares messages by topic and JSON value, and checks that
// every message is published at QoS 1 without RETAIN.
func wantMessages(t *testing.T, what string, got []published, want ...published) {
	t.Helper()
	norm := func(ms []published) []published {
		out := make([]published, len(ms))
		for i, m := range ms {
			var v any
			if err := json.Unmarshal([]byte(m.Payload), &v); err != nil {
				t.Errorf("%s: payload on %s is not JSON: %q", what, m.Topic, m.Payload)
			}
			b, _ := json.Marshal(v)
			out[i] = published{Topic: m.Topic, Payload: string(b)}
		}
		return out
	}
	for _, m := range got {
		if m.QoS != 1 || m.Retain {
			t.Errorf("%s: %s published at QoS %d retain %v, want QoS 1, not retained", what, m.Topic, m.QoS, m.Retain)
		}
	}
	if diff := cmp.Diff(norm(want), norm(got)); diff != "" {
		t.Errorf("%s: published messages (-want +got):\n%s", what, diff)
	}
}

func handle(t *testing.T, s *control.Shadows, topic, payload string) {
	t.Helper()
	if err := s.HandleMQTT(context.Background(), topic, []byte(payload), "device-1"); err != nil {
		t.Fatalf("HandleMQTT(%q, %q) = %v", topic, payload, err)
	}
}

// AWS §6.1, §6.2: get, update and delete over MQTT, classic and named, with
// the documents published on accepted, rejected, delta and documents.
func TestShadowTopicsRequests(t *testing.T) {
	for _, tc := range []struct{ name, prefix, notFound string }{
		{"classic", "$aws/things/lamp/shadow", "No shadow exists with name: 'lamp'"},
		{"named", "$aws/things/lamp/shadow/name/cfg", "No shadow exists with name: 'cfg'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _, clk, pub := newShadowTopics(t)
			ts := clk.Now().Unix()
			p := tc.prefix

			handle(t, s, p+"/get", `{"clientToken":"g0"}`)
			wantMessages(t, "get missing", pub.take(), published{Topic: p + "/get/rejected",
				Payload: fmt.Sprintf(`{"code":404,"message":%q,"timestamp":%d,"clientToken":"g0"}`, tc.notFound, ts)})

			handle(t, s, p+"/update", `{"state":{"desired":{"color":"red","on":true},"reported":{"on":true}},"clientToken":"u1"}`)
			wantMessages(t, "first update", pub.take(),
				published{Topic: p + "/update/accepted", Payload: fmt.Sprintf(`{
					"state":{"desired":{"color":"red","on":true},"reported":{"on":true}},
					"metadata":{"desired":{"color":{"timestamp":%[1]d},"on":{"timestamp":%[1]d}},"reported":{"on":{"timestamp":%[1]d}}},
					"version":1,"timestamp":%[1]d,"clientToken":"u1"}`, ts)},
				published{Topic: p + "/update/delta", Payload: fmt.Sprintf(`{
					"state":{"color":"red"},"metadata":{"color":{"timestamp":%[1]d}},
					"version":1,"timestamp":%[1]d,"clientToken":"u1"}`, ts)},
				published{Topic: p + "/update/documents", Payload: fmt.Sprintf(`{
					"current":{"state":{"desired":{"color":"red","on":true},"reported":{"on":true}},
						"metadata":{"desired":{"color":{"timestamp":%[1]d},"on":{"timestamp":%[1]d}},"reported":{"on":{"timestamp":%[1]d}}},
						"version":1},
					"timestamp":%[1]d,"clientToken":"u1"}`, ts)})

			clk.advance(10 * time.Second)
			ts2 := clk.Now().Unix()
			handle(t, s, p+"/update", `{"state":{"reported":{"color":"red"}},"version":1}`)
			wantMessages(t, "second update, delta now empty", pub.take(),
				published{Topic: p + "/update/accepted", Payload: fmt.Sprintf(`{
					"state":{"reported":{"color":"red"}},"metadata":{"reported":{"color":{"timestamp":%d}}},
					"version":2,"timestamp":%[1]d}`, ts2)},
				published{Topic: p + "/update/documents", Payload: fmt.Sprintf(`{
					"previous":{"state":{"desired":{"color":"red","on":true},"reported":{"on":true}},
						"metadata":{"desired":{"color":{"timestamp":%[1]d},"on":{"timestamp":%[1]d}},"reported":{"on":{"timestamp":%[1]d}}},
						"version":1},
					"current":{"state":{"desired":{"color":"red","on":true},"reported":{"color":"red","on":true}},
						"metadata":{"desired":{"color":{"timestamp":%[1]d},"on":{"timestamp":%[1]d}},"reported":{"color":{"timestamp":%[2]d},"on":{"timestamp":%[1]d}}},
						"version":2},
					"timestamp":%[2]d}`, ts, ts2)})

			handle(t, s, p+"/get", `{"clientToken":"g1"}`)
			wantMessages(t, "get", pub.take(), published{Topic: p + "/get/accepted", Payload: fmt.Sprintf(`{
				"state":{"desired":{"color":"red","on":true},"reported":{"color":"red","on":true}},
				"metadata":{"desired":{"color":{"timestamp":%[1]d},"on":{"timestamp":%[1]d}},"reported":{"color":{"timestamp":%[2]d},"on":{"timestamp":%[1]d}}},
				"version":2,"timestamp":%[2]d,"clientToken":"g1"}`, ts, ts2)})

			// A get's payload is ignored but for its clientToken.
			handle(t, s, p+"/get", `not json`)
			if got := pub.take(); len(got) != 1 || got[0].Topic != p+"/get/accepted" || strings.Contains(got[0].Payload, "clientToken") {
				t.Errorf("get with a payload that is not JSON published %+v, want get/accepted without clientToken", got)
			}

			clk.advance(10 * time.Second)
			ts3 := clk.Now().Unix()
			handle(t, s, p+"/delete", `{"clientToken":"d1"}`)
			wantMessages(t, "delete", pub.take(), published{Topic: p + "/delete/accepted",
				Payload: fmt.Sprintf(`{"version":2,"timestamp":%d,"clientToken":"d1"}`, ts3)})

			handle(t, s, p+"/delete", ``)
			wantMessages(t, "delete missing", pub.take(), published{Topic: p + "/delete/rejected",
				Payload: fmt.Sprintf(`{"code":404,"message":%q,"timestamp":%d}`, tc.notFound, ts3)})

			handle(t, s, p+"/get", ``)
			wantMessages(t, "get deleted", pub.take(), published{Topic: p + "/get/rejected",
				Payload: fmt.Sprintf(`{"code":404,"message":%q,"timestamp":%d}`, tc.notFound, ts3)})

			// AWS §6.3 item 8: recreation continues the version.
			handle(t, s, p+"/update", `{"state":{"reported":{"on":false}}}`)
			if got := pub.take(); len(got) != 2 || !strings.Contains(got[0].Payload, `"version":3`) {
				t.Errorf("recreating update published %+v, want accepted and documents at version 3", got)
			}
		})
	}
}

// AWS §6.2, §6.3: refused updates are answered on /rejected with the
// error document, echo the clientToken when there is one, and change nothing.
func TestShadowTopicsRejected(t *testing.T) {
	s, db, clk, pub := newShadowTopics(t)
	ts := clk.Now().Unix()
	handle(t, s, "$aws/things/t/shadow/update", `{"state":{"reported":{"a":1}}}`)
	pub.take()
	big := strings.Repeat("x", 9*1024)
	for _, tc := range []struct {
		name, topic, payload string
		code                 int
		message, token       string
	}{
		{"bad json", "$aws/things/t/shadow/update", `{"state":`, 400, "Payload contains invalid json", ""},
		{"empty payload", "$aws/things/t/shadow/update", ``, 400, "Payload contains invalid json", ""},
		{"missing state", "$aws/things/t/shadow/update", `{"clientToken":"c1"}`, 400, "Missing required node: state", "c1"},
		{"version conflict", "$aws/things/t/shadow/update", `{"state":{"reported":{"a":2}},"version":7,"clientToken":"c2"}`, 409, "Version conflict", "c2"},
		{"too large", "$aws/things/t/shadow/update", `{"state":{"reported":{"big":"` + big + `"}},"clientToken":"c3"}`, 413, "The payload exceeds the maximum size allowed", "c3"},
		{"too deep", "$aws/things/t/shadow/update", `{"state":{"desired":{"a":{"b":{"c":{"d":{"e":{"f":{"g":1}}}}}}}}}`, 400, "JSON contains too many levels of nesting; maximum is 6", ""},
		{"named too large", "$aws/things/t/shadow/name/n/update", `{"state":{"desired":{"big":"` + big + `"}}}`, 413, "The payload exceeds the maximum size allowed", ""},
		{"invalid shadow name", "$aws/things/t/shadow/name/a.b/update", `{"state":{"desired":{"a":1}},"clientToken":"c4"}`, 400, "Invalid shadow name", "c4"},
		{"empty shadow name", "$aws/things/t/shadow/name//get", ``, 400, "Invalid shadow name", ""},
		{"empty thing name", "$aws/things//shadow/delete", ``, 400, "thingName must not be empty", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			handle(t, s, tc.topic, tc.payload)
			want := map[string]any{"code": tc.code, "message": tc.message, "timestamp": ts}
			if tc.token != "" {
				want["clientToken"] = tc.token
			}
			b, _ := json.Marshal(want)
			topic := tc.topic + "/rejected"
			wantMessages(t, tc.name, pub.take(), published{Topic: topic, Payload: string(b)})
		})
	}
	out, err := s.GetThingShadow(context.Background(), &iotdm.GetThingShadowInput{ThingName: "t"})
	if err != nil || version(t, out.Payload) != 1 {
		t.Errorf("after refused updates GetThingShadow = %s, %v; want version 1", out.Payload, err)
	}
	if _, ok, _ := db.Get(context.Background(), iotdm.KindShadow, "t/n"); ok {
		t.Error("a refused update created the named shadow")
	}
}

// AWS §6.1: successful REST updates and deletes are published like MQTT
// ones; REST gets and errors are not.
func TestShadowTopicsRESTPublishes(t *testing.T) {
	s, _, clk, pub := newShadowTopics(t)
	ctx := context.Background()
	ts := clk.Now().Unix()
	out, err := s.UpdateThingShadow(ctx, &iotdm.UpdateThingShadowInput{ThingName: "t", ShadowName: "s",
		Payload: []byte(`{"state":{"desired":{"x":[1,2]}},"clientToken":"r1"}`)})
	if err != nil {
		t.Fatal(err)
	}
	got := pub.take()
	wantMessages(t, "REST update", got,
		published{Topic: "$aws/things/t/shadow/name/s/update/accepted", Payload: string(out.Payload)},
		published{Topic: "$aws/things/t/shadow/name/s/update/delta", Payload: fmt.Sprintf(`{
			"state":{"x":[1,2]},"metadata":{"x":[{"timestamp":%[1]d},{"timestamp":%[1]d}]},
			"version":1,"timestamp":%[1]d,"clientToken":"r1"}`, ts)},
		published{Topic: "$aws/things/t/shadow/name/s/update/documents", Payload: fmt.Sprintf(`{
			"current":{"state":{"desired":{"x":[1,2]}},"metadata":{"desired":{"x":[{"timestamp":%[1]d},{"timestamp":%[1]d}]}},"version":1},
			"timestamp":%[1]d,"clientToken":"r1"}`, ts)})

	if _, err := s.GetThingShadow(ctx, &iotdm.GetThingShadowInput{ThingName: "t", ShadowName: "s"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateThingShadow(ctx, &iotdm.UpdateThingShadowInput{ThingName: "t", ShadowName: "s", Payload: []byte(`{"state":{},"version":9}`)}); err == nil {
		t.Fatal("UpdateThingShadow with a bad request succeeded")
	}
	if _, err := s.DeleteThingShadow(ctx, &iotdm.DeleteThingShadowInput{ThingName: "t"}); !iotdm.IsCode(err, iotdm.ErrResourceNotFound) {
		t.Fatalf("DeleteThingShadow of a missing shadow = %v, want ResourceNotFound", err)
	}
	wantMessages(t, "REST get and errors", pub.take())

	del, err := s.DeleteThingShadow(ctx, &iotdm.DeleteThingShadowInput{ThingName: "t", ShadowName: "s"})
	if err != nil {
		t.Fatal(err)
	}
	wantMessages(t, "REST delete", pub.take(), published{Topic: "$aws/things/t/shadow/name/s/delete/accepted", Payload: string(del.Payload)})
	if string(del.Payload) != fmt.Sprintf(`{"version":1,"timestamp":%d}`, ts) {
		t.Errorf("DeleteThingShadow = %s", del.Payload)
	}
}

// An MQTT update is the REST operation: visible to GetThingShadow and one
// KindShadow put in the change feed, which the fleet index follows.
func TestShadowTopicsUpdateIsStored(t *testing.T) {
	s, db, _, _ := newShadowTopics(t)
	ctx := context.Background()
	handle(t, s, "$aws/things/t/shadow/update", `{"state":{"reported":{"temp":21.5}}}`)
	out, err := s.GetThingShadow(ctx, &iotdm.GetThingShadowInput{ThingName: "t"})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		State struct {
			Reported map[string]json.Number `json:"reported"`
		} `json:"state"`
		Version int64 `json:"version"`
	}
	if err := json.Unmarshal(out.Payload, &doc); err != nil || doc.Version != 1 || doc.State.Reported["temp"] != "21.5" {
		t.Errorf("GetThingShadow after an MQTT update = %s, %v", out.Payload, err)
	}
	changes, err := db.Changes(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	puts := 0
	for _, c := range changes {
		if c.Kind == iotdm.KindShadow && c.Op == iotdm.OpPut && c.Key == "t/" {
			puts++
		}
	}
	if puts != 1 {
		t.Errorf("%d KindShadow puts of t/ in the feed, want 1", puts)
	}
}

// Topics that are no request are ignored: the service's own replies
// (which the shadow filter also matches), short or long topics, others.
func TestShadowTopicsIgnored(t *testing.T) {
	s, db, _, pub := newShadowTopics(t)
	for _, topic := range []string{
		"$aws/things/t/shadow/update/accepted",
		"$aws/things/t/shadow/update/rejected",
		"$aws/things/t/shadow/update/delta",
		"$aws/things/t/shadow/update/documents",
		"$aws/things/t/shadow/get/accepted",
		"$aws/things/t/shadow/delete/accepted",
		"$aws/things/t/shadow/name/n/update/accepted",
		"$aws/things/t/shadow/name/n/get/rejected",
		"$aws/things/t/shadow",
		"$aws/things/t/shadow/",
		"$aws/things/t/shadow/name/n",
		"$aws/things/t/shadow/name/update",
		"$aws/things/t/shadow/list",
		"$aws/things/t/shadow/name/n/list",
		"$aws/things/t/shadow/named/n/update",
		"$aws/things/t/shadows/update",
		"$aws/things/t/jobs/get",
		"$aws/events/presence/connected/t",
		"things/t/shadow/update",
		"$AWS/things/t/shadow/update",
		"$aws/things/t/shadow/UPDATE",
		"$aws/things/t/shadow/update/",
		"",
	} {
		if err := s.HandleMQTT(context.Background(), topic, []byte(`{"state":{"desired":{"a":1}}}`), "c"); err != nil {
			t.Errorf("HandleMQTT(%q) = %v", topic, err)
		}
	}
	wantMessages(t, "ignored topics", pub.take())
	changes, err := db.Changes(context.Background(), 0, 100)
	if err != nil || len(changes) != 0 {
		t.Errorf("ignored topics wrote %d changes (%v)", len(changes), err)
	}
}

// The messages of one shadow are published in commit order, whichever API
// the concurrent updates come from.
func TestShadowTopicsCommitOrder(t *testing.T) {
	s, _, _, pub := newShadowTopics(t)
	ctx := context.Background()
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			payload := fmt.Appendf(nil, `{"state":{"desired":{"k%d":%d}}}`, i, i)
			if i%2 == 0 {
				if err := s.HandleMQTT(ctx, "$aws/things/t/shadow/name/s/update", payload, "c"); err != nil {
					t.Error(err)
				}
				return
			}
			if _, err := s.UpdateThingShadow(ctx, &iotdm.UpdateThingShadowInput{ThingName: "t", ShadowName: "s", Payload: payload}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	next := map[string]int64{}
	for _, m := range pub.take() {
		next[m.Topic]++
		var doc struct {
			Version int64 `json:"version"`
			Current struct {
				Version int64 `json:"version"`
			} `json:"current"`
		}
		if err := json.Unmarshal([]byte(m.Payload), &doc); err != nil {
			t.Fatal(err)
		}
		v := max(doc.Version, doc.Current.Version)
		if v != next[m.Topic] {
			t.Errorf("%s: version %d published as message %d", m.Topic, v, next[m.Topic])
		}
	}
	for _, topic := range []string{"update/accepted", "update/delta", "update/documents"} {
		if got := next["$aws/things/t/shadow/name/s/"+topic]; got != n {
			t.Errorf("%d messages on %s, want %d", got, topic, n)
		}
	}
}

// Without a publisher REST works and publishes nothing, and MQTT requests
// are refused without running. A failing publisher fails HandleMQTT but not
// the REST update, which is committed.
func TestShadowTopicsPublisher(t *testing.T) {
	s, db, _ := newShadows(t)
	ctx := context.Background()
	if _, err := s.UpdateThingShadow(ctx, &iotdm.UpdateThingShadowInput{ThingName: "t", Payload: []byte(`{"state":{"desired":{"a":1}}}`)}); err != nil {
		t.Fatalf("UpdateThingShadow without a publisher: %v", err)
	}
	if err := s.HandleMQTT(ctx, "$aws/things/u/shadow/update", []byte(`{"state":{"desired":{"a":1}}}`), "c"); err == nil {
		t.Error("HandleMQTT without a publisher succeeded")
	}
	if _, ok, _ := db.Get(ctx, iotdm.KindShadow, "u/"); ok {
		t.Error("HandleMQTT without a publisher updated the shadow")
	}

	pub := &recordingPublisher{fail: errors.New("broker closed")}
	s.SetPublisher(pub)
	if _, err := s.UpdateThingShadow(ctx, &iotdm.UpdateThingShadowInput{ThingName: "t", Payload: []byte(`{"state":{"desired":{"a":2}}}`)}); err != nil {
		t.Errorf("UpdateThingShadow with a failing publisher: %v", err)
	}
	if err := s.HandleMQTT(ctx, "$aws/things/t/shadow/get", nil, "c"); err == nil || !strings.Contains(err.Error(), "broker closed") {
		t.Errorf("HandleMQTT with a failing publisher = %v, want the publisher's error", err)
	}
	if got := len(pub.take()); got != 4 {
		t.Errorf("%d publications attempted, want 4 (accepted, delta, documents, get/accepted)", got)
	}

	s.SetPublisher(nil)
	if _, err := s.UpdateThingShadow(ctx, &iotdm.UpdateThingShadowInput{ThingName: "t", Payload: []byte(`{"state":{"desired":{"a":3}}}`)}); err != nil {
		t.Fatal(err)
	}
	if got := len(pub.take()); got != 0 {
		t.Errorf("%d publications after SetPublisher(nil)", got)
	}
}

// A store failure is answered with AWS's 500 and returned.
func TestShadowTopicsInternalFailure(t *testing.T) {
	s, db, clk, pub := newShadowTopics(t)
	db.Close()
	err := s.HandleMQTT(context.Background(), "$aws/things/t/shadow/update", []byte(`{"state":{"desired":{"a":1}},"clientToken":"x"}`), "c")
	if err == nil {
		t.Error("HandleMQTT on a closed store succeeded")
	}
	wantMessages(t, "store failure", pub.take(), published{Topic: "$aws/things/t/shadow/update/rejected",
		Payload: fmt.Sprintf(`{"code":500,"message":"Internal service failure","timestamp":%d,"clientToken":"x"}`, clk.Now().Unix())})
}

// FuzzShadowTopic: no topic or payload panics, and the service publishes
// only replies under the request's own shadow: $aws/things/<thing>/shadow/…
// ending in accepted, rejected, delta or documents, with JSON payloads.
func FuzzShadowTopic(f *testing.F) {
	for _, seed := range []struct{ topic, payload string }{
		{"$aws/things/t/shadow/update", `{"state":{"desired":{"a":1}},"clientToken":"c"}`},
		{"$aws/things/t/shadow/update", `{"state":{"reported":{"a":1}},"version":1}`},
		{"$aws/things/t/shadow/get", `{"clientToken":"c"}`},
		{"$aws/things/t/shadow/delete", ``},
		{"$aws/things/t/shadow/name/n/update", `{"state":{"desired":{"a":[1,2]}}}`},
		{"$aws/things/t/shadow/name/n/get", ``},
		{"$aws/things/t/shadow/name//delete", ``},
		{"$aws/things//shadow/update", `{}`},
		{"$aws/things/t/shadow/update/accepted", `{"state":{}}`},
		{"$aws/things/a/b/shadow/update", `{"state":{"desired":{"a":1}}}`},
		{"$aws/things/t/shadow/name/n/x/update", `{"state":null}`},
		{"$aws/things/t\x00/shadow/update", "\xff"},
	} {
		f.Add(seed.topic, []byte(seed.payload))
	}
	s, _, _ := newShadows(f)
	pub := &recordingPublisher{}
	s.SetPublisher(pub)
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		pub.take()
		// Store failures are errors; the store here does not fail.
		if err := s.HandleMQTT(context.Background(), topic, payload, "fuzz"); err != nil {
			t.Fatalf("HandleMQTT(%q, %q) = %v", topic, payload, err)
		}
		msgs := pub.take()
		if len(msgs) == 0 {
			return
		}
		rest, ok := strings.CutPrefix(topic, "$aws/things/")
		thing, _, _ := strings.Cut(rest, "/")
		if !ok || !strings.HasPrefix(topic, "$aws/things/"+thing+"/shadow/") {
			t.Fatalf("HandleMQTT(%q) published %d messages for no request", topic, len(msgs))
		}
		for _, m := range msgs {
			if !strings.HasPrefix(m.Topic, "$aws/things/"+thing+"/shadow/") {
				t.Fatalf("HandleMQTT(%q) published on %q", topic, m.Topic)
			}
			switch m.Topic[strings.LastIndexByte(m.Topic, '/')+1:] {
			case "accepted", "rejected", "delta", "documents":
			default:
				t.Fatalf("HandleMQTT(%q) published on %q, no reply topic", topic, m.Topic)
			}
			if !json.Valid([]byte(m.Payload)) {
				t.Fatalf("HandleMQTT(%q) published %q on %q", topic, m.Payload, m.Topic)
			}
		}
	})
}
