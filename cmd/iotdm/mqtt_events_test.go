package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/eclipse/paho.golang/paho"
)

// TestMQTTLifecycleConnectivityAndShadows drives a device through the wired
// server: an observer allowed to read $aws/events sees its connected and
// disconnected events, SearchIndex and GetThingConnectivityData show its
// connectivity, and its shadow requests over MQTT are answered and stored
// (AWS §6, §7).
func TestMQTTLifecycleConnectivityAndShadows(t *testing.T) {
	f := newMQFixture(t)
	ctx := context.Background()
	createPolicy(t, f.c, "observer", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/observer"},
		{"Effect":"Allow","Action":["iot:Subscribe"],"Resource":"arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/events/*"},
		{"Effect":"Allow","Action":["iot:Receive"],"Resource":"arn:aws:iot:us-east-1:123456789012:topic/$aws/events/*"}]}`)
	observer := f.mustConnect5(f.certificate(true, "observer"), "observer")
	if got := observer.subscribe(t, "$aws/events/presence/+/temp-sensor-01"); len(got) != 1 || got[0] >= 0x80 {
		t.Fatalf("observer SUBACK %x", got)
	}

	d := f.device("temp-sensor-01")
	dev := f.mustConnect5(d, "temp-sensor-01")
	event := func(kind string) map[string]any {
		t.Helper()
		topic, payload, _ := strings.Cut(observer.next(t, "observer"), " ")
		if topic != "$aws/events/presence/"+kind+"/temp-sensor-01" {
			t.Fatalf("event on %s, want %s", topic, kind)
		}
		var e map[string]any
		if err := json.Unmarshal([]byte(payload), &e); err != nil {
			t.Fatalf("event payload %s: %v", payload, err)
		}
		if e["clientId"] != "temp-sensor-01" || e["eventType"] != kind || e["principalIdentifier"] != d.id {
			t.Errorf("%s event %s", kind, payload)
		}
		return e
	}
	event("connected")

	// Connectivity reaches the store and the fleet index.
	connected := func(want bool) {
		t.Helper()
		deadline := time.Now().Add(mqWait)
		for {
			out, err := f.c.GetThingConnectivityData(ctx, &iot.GetThingConnectivityDataInput{ThingName: aws.String("temp-sensor-01")})
			if err == nil && aws.ToBool(out.Connected) == want {
				q := "connectivity.connected:" + map[bool]string{true: "true", false: "false"}[want] + " AND thingName:temp-sensor-01"
				s, err := f.c.SearchIndex(ctx, &iot.SearchIndexInput{QueryString: aws.String(q)})
				if err == nil && len(s.Things) == 1 {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("connectivity never became connected=%v (%v)", want, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	connected(true)

	// Shadow requests over MQTT, answered on the device's topics and stored.
	if got := dev.subscribe(t, "$aws/things/temp-sensor-01/shadow/update/accepted", "$aws/things/temp-sensor-01/shadow/update/delta"); len(got) != 2 || got[0] >= 0x80 || got[1] >= 0x80 {
		t.Fatalf("device SUBACK %x", got)
	}
	dev.mustPublish(t, "$aws/things/temp-sensor-01/shadow/update", `{"state":{"reported":{"firmware":"1.0.0"},"desired":{"firmware":"1.2.0"}},"clientToken":"t1"}`)
	got := map[string]string{}
	for range 2 {
		topic, payload, _ := strings.Cut(dev.next(t, "device"), " ")
		got[topic] = payload
	}
	var delta struct {
		State       map[string]any `json:"state"`
		ClientToken string         `json:"clientToken"`
	}
	if err := json.Unmarshal([]byte(got["$aws/things/temp-sensor-01/shadow/update/delta"]), &delta); err != nil ||
		delta.State["firmware"] != "1.2.0" || delta.ClientToken != "t1" {
		t.Errorf("delta %q (%v)", got["$aws/things/temp-sensor-01/shadow/update/delta"], err)
	}
	if !strings.Contains(got["$aws/things/temp-sensor-01/shadow/update/accepted"], `"clientToken":"t1"`) {
		t.Errorf("accepted %q", got["$aws/things/temp-sensor-01/shadow/update/accepted"])
	}
	search := func(q string) int {
		t.Helper()
		deadline := time.Now().Add(mqWait)
		for {
			s, err := f.c.SearchIndex(ctx, &iot.SearchIndexInput{QueryString: aws.String(q)})
			if err == nil && len(s.Things) > 0 || time.Now().After(deadline) {
				if err != nil {
					t.Fatal(err)
				}
				return len(s.Things)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if n := search("shadow.reported.firmware:1.0.0 AND shadow.hasDelta:true"); n != 1 {
		t.Errorf("the MQTT shadow update is not searchable: %d things", n)
	}

	// A clean disconnect: the event, and connectivity follows.
	if err := dev.Disconnect(&paho.Disconnect{}); err != nil {
		t.Fatal(err)
	}
	e := event("disconnected")
	if e["disconnectReason"] != "CLIENT_INITIATED_DISCONNECT" || e["clientInitiatedDisconnect"] != true {
		t.Errorf("disconnected event %v", e)
	}
	connected(false)
}

// TestMQTTLimitsFromConfig checks that the configured limits reach a
// device: a payload over --mqtt-max-payload ends the connection, one within
// it is delivered.
func TestMQTTLimitsFromConfig(t *testing.T) {
	l := brokerLimits(Config{MQTTMaxPayload: 64, MQTTMaxTopicSlashes: 3, MQTTMaxSubscriptions: 5})
	if l.MaxPayload != 64 || l.MaxTopicSlashes != 3 || l.MaxSubscriptions != 5 || l.MaxClientIDLength != 128 {
		t.Errorf("brokerLimits = %+v", l)
	}
	f := newMQFixture(t, func(c *Config) { c.MQTTMaxPayload = 64 })
	c := f.mustConnect5(f.device("temp-sensor-01"), "temp-sensor-01")
	c.mustPublish(t, "devices/temp-sensor-01/small", strings.Repeat("x", 64))
	go func() { _, _ = c.publish(t, "devices/temp-sensor-01/big", false, strings.Repeat("x", 65)) }()
	select {
	case d := <-c.disc:
		if d.ReasonCode != 0x95 { // packet too large
			t.Errorf("DISCONNECT reason 0x%02x, want 0x95", d.ReasonCode)
		}
	case <-time.After(mqWait):
		t.Fatal("a payload over the configured limit did not end the connection")
	}
}

// TestMQTTRegistryEvents: with THING events enabled, an observer allowed
// to read $aws/events sees CreateThing, UpdateThing and DeleteThing as
// registry events (AWS §7.2), published by the wired server.
func TestMQTTRegistryEvents(t *testing.T) {
	f := newMQFixture(t)
	ctx := context.Background()
	createPolicy(t, f.c, "observer", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/observer"},
		{"Effect":"Allow","Action":["iot:Subscribe"],"Resource":"arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/events/*"},
		{"Effect":"Allow","Action":["iot:Receive"],"Resource":"arn:aws:iot:us-east-1:123456789012:topic/$aws/events/*"}]}`)
	observer := f.mustConnect5(f.certificate(true, "observer"), "observer")
	if got := observer.subscribe(t, "$aws/events/thing/+/+"); len(got) != 1 || got[0] >= 0x80 {
		t.Fatalf("observer SUBACK %x", got)
	}
	if _, err := f.c.UpdateEventConfigurations(ctx, &iot.UpdateEventConfigurationsInput{
		EventConfigurations: map[string]types.Configuration{"THING": {Enabled: true}}}); err != nil {
		t.Fatal(err)
	}
	created, err := f.c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("evt-thing"),
		AttributePayload: &types.AttributePayload{Attributes: map[string]string{"color": "red"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String("evt-thing"),
		AttributePayload: &types.AttributePayload{Attributes: map[string]string{"color": "blue"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("evt-thing")}); err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct {
		op      string
		version float64
		color   string
	}{{"created", 1, "red"}, {"updated", 2, "blue"}, {"deleted", 2, "blue"}} {
		topic, payload, _ := strings.Cut(observer.next(t, "observer"), " ")
		if topic != "$aws/events/thing/evt-thing/"+want.op {
			t.Fatalf("event %d on %s, want %s", i, topic, want.op)
		}
		var e struct {
			EventType     string            `json:"eventType"`
			Operation     string            `json:"operation"`
			AccountID     string            `json:"accountId"`
			ThingID       string            `json:"thingId"`
			ThingName     string            `json:"thingName"`
			VersionNumber float64           `json:"versionNumber"`
			Attributes    map[string]string `json:"attributes"`
		}
		if err := json.Unmarshal([]byte(payload), &e); err != nil {
			t.Fatalf("event payload %s: %v", payload, err)
		}
		if e.EventType != "THING_EVENT" || e.Operation != strings.ToUpper(want.op) || e.AccountID != "123456789012" ||
			e.ThingID != aws.ToString(created.ThingId) || e.ThingName != "evt-thing" || e.VersionNumber != want.version ||
			e.Attributes["color"] != want.color {
			t.Errorf("%s event %s", want.op, payload)
		}
	}
}
