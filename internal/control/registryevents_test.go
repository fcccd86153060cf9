package control_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/control"
	"github.com/iotdm/iotdm/internal/sqlite"
)

const (
	evRegion  = "us-east-1"
	evAccount = "123456789012"
)

type eventsFixture struct {
	db     iotdm.Store
	reg    *control.Registry
	conn   *control.Connectivity
	events *control.RegistryEvents
	pub    *recordingPublisher
}

// newEventsFixture runs RegistryEvents on a fresh store and enables the
// given event types.
func newEventsFixture(t *testing.T, enable ...string) *eventsFixture {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "e.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &eventsFixture{
		db:     db,
		reg:    control.NewRegistry(db, control.RegistryOptions{Region: evRegion, AccountID: evAccount, ThingTypeDeleteDelay: -1}),
		conn:   control.NewConnectivity(db, control.ConnectivityOptions{}),
		events: control.NewRegistryEvents(db, control.RegistryEventsOptions{Region: evRegion, AccountID: evAccount}),
		pub:    &recordingPublisher{},
	}
	f.events.SetPublisher(f.pub)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.events.Run(ctx, 0) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v", err)
		}
	})
	f.enable(t, enable...)
	return f
}

func (f *eventsFixture) enable(t *testing.T, types ...string) {
	t.Helper()
	if len(types) == 0 {
		return
	}
	cfg := map[string]iotdm.EventConfiguration{}
	for _, k := range types {
		cfg[k] = iotdm.EventConfiguration{Enabled: true}
	}
	if _, err := f.conn.UpdateEventConfigurations(t.Context(), &iotdm.UpdateEventConfigurationsInput{EventConfigurations: cfg}); err != nil {
		t.Fatal(err)
	}
}

// event is a published event, decoded.
type event struct {
	topic string
	body  map[string]any
}

// wait returns the next n events, failing if they do not come.
func (f *eventsFixture) wait(t *testing.T, n int) []event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var got []published
	for len(got) < n && time.Now().Before(deadline) {
		got = append(got, f.pub.take()...)
		if len(got) < n {
			time.Sleep(2 * time.Millisecond)
		}
	}
	time.Sleep(20 * time.Millisecond) // anything extra shows up too
	got = append(got, f.pub.take()...)
	var out []event
	for _, m := range got {
		if m.QoS != 1 || m.Retain {
			t.Errorf("%s published at QoS %d retain %v, want QoS 1, not retained", m.Topic, m.QoS, m.Retain)
		}
		var body map[string]any
		if err := json.Unmarshal([]byte(m.Payload), &body); err != nil {
			t.Fatalf("payload on %s: %v", m.Topic, err)
		}
		if id, _ := body["eventId"].(string); id == "" {
			t.Errorf("%s: no eventId in %s", m.Topic, m.Payload)
		}
		if ts, _ := body["timestamp"].(float64); ts <= 0 {
			t.Errorf("%s: no timestamp in %s", m.Topic, m.Payload)
		}
		out = append(out, event{m.Topic, body})
	}
	if len(out) != n {
		var topics []string
		for _, e := range out {
			topics = append(topics, e.topic)
		}
		t.Fatalf("got %d events %q, want %d", len(out), topics, n)
	}
	return out
}

// want checks an event's topic and the given payload members (JSON values
// as decoded: numbers are float64, absent is distinct from null).
func want(t *testing.T, e event, topic string, fields map[string]any) {
	t.Helper()
	if e.topic != topic {
		t.Errorf("topic %s, want %s", e.topic, topic)
	}
	for k, v := range fields {
		got, ok := e.body[k]
		if !ok {
			t.Errorf("%s: no member %s in %v", topic, k, e.body)
			continue
		}
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(v)
		if string(gb) != string(wb) {
			t.Errorf("%s: %s = %s, want %s", topic, k, gb, wb)
		}
	}
}

func (f *eventsFixture) createThing(t *testing.T, in *iotdm.CreateThingInput) string {
	t.Helper()
	out, err := f.reg.CreateThing(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	return out.ThingID
}

func (f *eventsFixture) createGroup(t *testing.T, name, parent string) (id, arn string) {
	t.Helper()
	out, err := f.reg.CreateThingGroup(t.Context(), &iotdm.CreateThingGroupInput{ThingGroupName: name, ParentGroupName: parent,
		ThingGroupProperties: &iotdm.ThingGroupProperties{ThingGroupDescription: "d " + name,
			AttributePayload: &iotdm.AttributePayload{Attributes: map[string]string{"a": name}}}})
	if err != nil {
		t.Fatal(err)
	}
	return out.ThingGroupID, out.ThingGroupARN
}

// must returns v, panicking (failing the test) on err; it takes the results
// of a call directly.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestRegistryEventsThing(t *testing.T) {
	f := newEventsFixture(t, iotdm.EventThing)
	ctx := t.Context()
	id := f.createThing(t, &iotdm.CreateThingInput{ThingName: "t1",
		AttributePayload: &iotdm.AttributePayload{Attributes: map[string]string{"color": "red"}}})
	ev := f.wait(t, 1)
	want(t, ev[0], "$aws/events/thing/t1/created", map[string]any{
		"eventType": "THING_EVENT", "operation": "CREATED", "accountId": evAccount, "thingId": id,
		"thingName": "t1", "versionNumber": 1, "thingTypeName": nil, "attributes": map[string]string{"color": "red"},
	})

	must(f.reg.UpdateThing(ctx, &iotdm.UpdateThingInput{ThingName: "t1",
		AttributePayload: &iotdm.AttributePayload{Attributes: map[string]string{"size": "L"}, Merge: true}}))
	ev = f.wait(t, 1)
	want(t, ev[0], "$aws/events/thing/t1/updated", map[string]any{
		"eventType": "THING_EVENT", "operation": "UPDATED", "thingId": id, "versionNumber": 2,
		"attributes": map[string]string{"color": "red", "size": "L"},
	})

	must(f.reg.DeleteThing(ctx, &iotdm.DeleteThingInput{ThingName: "t1"}))
	ev = f.wait(t, 1)
	want(t, ev[0], "$aws/events/thing/t1/deleted", map[string]any{
		"eventType": "THING_EVENT", "operation": "DELETED", "accountId": evAccount, "thingId": id,
		"thingName": "t1", "versionNumber": 2, "thingTypeName": nil,
		"attributes": map[string]string{"color": "red", "size": "L"},
	})

	// An idempotent CreateThing writes nothing and publishes nothing.
	f.createThing(t, &iotdm.CreateThingInput{ThingName: "t2"})
	f.createThing(t, &iotdm.CreateThingInput{ThingName: "t2"})
	want(t, f.wait(t, 1)[0], "$aws/events/thing/t2/created", nil)
}

func TestRegistryEventsDisabledThenEnabled(t *testing.T) {
	f := newEventsFixture(t)
	ctx := t.Context()
	// Nothing enabled: nothing published.
	f.createThing(t, &iotdm.CreateThingInput{ThingName: "t1"})
	f.createGroup(t, "g1", "")
	must(f.reg.CreateThingType(ctx, &iotdm.CreateThingTypeInput{ThingTypeName: "tt"}))
	must(f.reg.AddThingToThingGroup(ctx, &iotdm.AddThingToThingGroupInput{ThingGroupName: "g1", ThingName: "t1"}))
	// Enabling one type publishes that type only, from then on.
	f.enable(t, iotdm.EventThingGroup)
	f.createThing(t, &iotdm.CreateThingInput{ThingName: "t2"})
	f.createGroup(t, "g2", "")
	want(t, f.wait(t, 1)[0], "$aws/events/thingGroup/g2/created", nil)
	// Disabling it stops them.
	must(f.conn.UpdateEventConfigurations(ctx, &iotdm.UpdateEventConfigurationsInput{EventConfigurations: map[string]iotdm.EventConfiguration{
		iotdm.EventThingGroup: {Enabled: false}, iotdm.EventThing: {Enabled: true}}}))
	f.createGroup(t, "g3", "")
	f.createThing(t, &iotdm.CreateThingInput{ThingName: "t3"})
	want(t, f.wait(t, 1)[0], "$aws/events/thing/t3/created", nil)
	// Tags are no event.
	must(f.reg.TagResource(ctx, &iotdm.TagResourceInput{ResourceARN: "arn:aws:iot:" + evRegion + ":" + evAccount + ":thinggroup/g3",
		Tags: []iotdm.Tag{{Key: "k", Value: "v"}}}))
	f.enable(t, iotdm.EventThingGroup)
	must(f.reg.TagResource(ctx, &iotdm.TagResourceInput{ResourceARN: "arn:aws:iot:" + evRegion + ":" + evAccount + ":thinggroup/g3",
		Tags: []iotdm.Tag{{Key: "k2", Value: "v"}}}))
	f.createThing(t, &iotdm.CreateThingInput{ThingName: "t4"})
	want(t, f.wait(t, 1)[0], "$aws/events/thing/t4/created", nil)
	// The group is still at version 1: an update after tags is UPDATED.
	must(f.reg.UpdateThingGroup(ctx, &iotdm.UpdateThingGroupInput{ThingGroupName: "g3",
		ThingGroupProperties: &iotdm.ThingGroupProperties{ThingGroupDescription: "new"}}))
	want(t, f.wait(t, 1)[0], "$aws/events/thingGroup/g3/updated", map[string]any{"versionNumber": 2, "description": "new"})
}

func TestRegistryEventsThingType(t *testing.T) {
	f := newEventsFixture(t, iotdm.EventThingType)
	ctx := t.Context()
	out := must(f.reg.CreateThingType(ctx, &iotdm.CreateThingTypeInput{ThingTypeName: "sensor",
		ThingTypeProperties: &iotdm.ThingTypeProperties{ThingTypeDescription: "sensors", SearchableAttributes: []string{"a", "b"}}}))
	want(t, f.wait(t, 1)[0], "$aws/events/thingType/sensor/created", map[string]any{
		"eventType": "THING_TYPE_EVENT", "operation": "CREATED", "accountId": evAccount, "thingTypeId": out.ThingTypeID,
		"thingTypeName": "sensor", "isDeprecated": false, "deprecationDate": nil,
		"searchableAttributes": []string{"a", "b"}, "description": "sensors",
	})
	must(f.reg.DeprecateThingType(ctx, &iotdm.DeprecateThingTypeInput{ThingTypeName: "sensor"}))
	ev := f.wait(t, 1)[0]
	want(t, ev, "$aws/events/thingType/sensor/updated", map[string]any{"operation": "UPDATED", "isDeprecated": true})
	if d, _ := ev.body["deprecationDate"].(float64); d <= 0 {
		t.Errorf("deprecationDate = %v, want a time in ms", ev.body["deprecationDate"])
	}
	must(f.reg.DeleteThingType(ctx, &iotdm.DeleteThingTypeInput{ThingTypeName: "sensor"}))
	want(t, f.wait(t, 1)[0], "$aws/events/thingType/sensor/deleted", map[string]any{
		"operation": "DELETED", "thingTypeId": out.ThingTypeID, "isDeprecated": true,
	})
}

func TestRegistryEventsThingTypeAssociation(t *testing.T) {
	f := newEventsFixture(t, iotdm.EventThingTypeAssociation)
	ctx := t.Context()
	for _, tt := range []string{"typeA", "typeB"} {
		must(f.reg.CreateThingType(ctx, &iotdm.CreateThingTypeInput{ThingTypeName: tt}))
	}
	id := f.createThing(t, &iotdm.CreateThingInput{ThingName: "t1", ThingTypeName: "typeA"})
	want(t, f.wait(t, 1)[0], "$aws/events/thingTypeAssociation/thing/t1/thingType/typeA/added", map[string]any{
		"eventType": "THING_TYPE_ASSOCIATION_EVENT", "operation": "ADDED", "thingId": id, "thingName": "t1", "thingTypeName": "typeA",
	})
	// An update that keeps the type publishes nothing; one that changes it
	// removes the old association and adds the new one.
	must(f.reg.UpdateThing(ctx, &iotdm.UpdateThingInput{ThingName: "t1", AttributePayload: &iotdm.AttributePayload{Attributes: map[string]string{"x": "1"}}}))
	must(f.reg.UpdateThing(ctx, &iotdm.UpdateThingInput{ThingName: "t1", ThingTypeName: "typeB"}))
	ev := f.wait(t, 2)
	want(t, ev[0], "$aws/events/thingTypeAssociation/thing/t1/thingType/typeA/removed", map[string]any{"operation": "REMOVED", "thingId": id})
	want(t, ev[1], "$aws/events/thingTypeAssociation/thing/t1/thingType/typeB/added", map[string]any{"operation": "ADDED", "thingId": id})
	must(f.reg.UpdateThing(ctx, &iotdm.UpdateThingInput{ThingName: "t1", RemoveThingType: true}))
	want(t, f.wait(t, 1)[0], "$aws/events/thingTypeAssociation/thing/t1/thingType/typeB/removed", map[string]any{"thingTypeName": "typeB"})
	// A typed thing's deletion removes its association.
	id2 := f.createThing(t, &iotdm.CreateThingInput{ThingName: "t2", ThingTypeName: "typeA"})
	must(f.reg.DeleteThing(ctx, &iotdm.DeleteThingInput{ThingName: "t2"}))
	ev = f.wait(t, 2)
	want(t, ev[0], "$aws/events/thingTypeAssociation/thing/t2/thingType/typeA/added", nil)
	want(t, ev[1], "$aws/events/thingTypeAssociation/thing/t2/thingType/typeA/removed", map[string]any{"thingId": id2})
}

func TestRegistryEventsThingGroupAndHierarchy(t *testing.T) {
	f := newEventsFixture(t, iotdm.EventThingGroup, iotdm.EventThingGroupHierarchy)
	ctx := t.Context()
	rootID, rootARN := f.createGroup(t, "root", "")
	want(t, f.wait(t, 1)[0], "$aws/events/thingGroup/root/created", map[string]any{
		"eventType": "THING_GROUP_EVENT", "operation": "CREATED", "accountId": evAccount, "thingGroupId": rootID,
		"thingGroupName": "root", "versionNumber": 1, "parentGroupName": nil, "parentGroupId": nil,
		"description": "d root", "rootToParentThingGroups": []any{}, "attributes": map[string]string{"a": "root"},
		"dynamicGroupMappingId": nil,
	})
	midID, midARN := f.createGroup(t, "mid", "root")
	ev := f.wait(t, 2)
	want(t, ev[0], "$aws/events/thingGroup/mid/created", map[string]any{
		"thingGroupId": midID, "parentGroupName": "root", "parentGroupId": rootID,
		"rootToParentThingGroups": []map[string]string{{"groupArn": rootARN, "groupId": rootID}},
	})
	want(t, ev[1], "$aws/events/thingGroupHierarchy/thingGroup/root/childThingGroup/mid/added", map[string]any{
		"eventType": "THING_GROUP_HIERARCHY_EVENT", "operation": "ADDED", "accountId": evAccount,
		"thingGroupId": rootID, "thingGroupName": "root", "childGroupId": midID, "childGroupName": "mid",
	})
	leafID, _ := f.createGroup(t, "leaf", "mid")
	ev = f.wait(t, 2)
	want(t, ev[0], "$aws/events/thingGroup/leaf/created", map[string]any{
		"parentGroupId":           midID,
		"rootToParentThingGroups": []map[string]string{{"groupArn": rootARN, "groupId": rootID}, {"groupArn": midARN, "groupId": midID}},
	})
	must(f.reg.UpdateThingGroup(ctx, &iotdm.UpdateThingGroupInput{ThingGroupName: "leaf",
		ThingGroupProperties: &iotdm.ThingGroupProperties{ThingGroupDescription: "changed"}}))
	want(t, f.wait(t, 1)[0], "$aws/events/thingGroup/leaf/updated", map[string]any{
		"operation": "UPDATED", "versionNumber": 2, "description": "changed",
	})
	must(f.reg.DeleteThingGroup(ctx, &iotdm.DeleteThingGroupInput{ThingGroupName: "leaf"}))
	ev = f.wait(t, 2)
	want(t, ev[0], "$aws/events/thingGroup/leaf/deleted", map[string]any{
		"operation": "DELETED", "thingGroupId": leafID, "versionNumber": 2, "parentGroupId": midID,
	})
	want(t, ev[1], "$aws/events/thingGroupHierarchy/thingGroup/mid/childThingGroup/leaf/removed", map[string]any{
		"operation": "REMOVED", "thingGroupId": midID, "childGroupId": leafID,
	})
}

func TestRegistryEventsMembership(t *testing.T) {
	f := newEventsFixture(t, iotdm.EventThingGroupMembership)
	ctx := t.Context()
	gID, gARN := f.createGroup(t, "g", "")
	tID := f.createThing(t, &iotdm.CreateThingInput{ThingName: "t"})
	tARN := "arn:aws:iot:" + evRegion + ":" + evAccount + ":thing/t"
	must(f.reg.AddThingToThingGroup(ctx, &iotdm.AddThingToThingGroupInput{ThingGroupName: "g", ThingName: "t"}))
	added := f.wait(t, 1)[0]
	fields := map[string]any{
		"eventType": "THING_GROUP_MEMBERSHIP_EVENT", "operation": "ADDED", "accountId": evAccount,
		"groupArn": gARN, "groupId": gID, "thingArn": tARN, "thingId": tID,
	}
	want(t, added, "$aws/events/thingGroupMembership/thingGroup/g/thing/t/added", fields)
	mid, _ := added.body["membershipId"].(string)
	if mid == "" {
		t.Fatalf("no membershipId: %v", added.body)
	}
	must(f.reg.RemoveThingFromThingGroup(ctx, &iotdm.RemoveThingFromThingGroupInput{ThingGroupName: "g", ThingName: "t"}))
	fields["operation"], fields["membershipId"] = "REMOVED", mid
	want(t, f.wait(t, 1)[0], "$aws/events/thingGroupMembership/thingGroup/g/thing/t/removed", fields)

	// Deleting the thing removes its memberships: the ids come from the
	// same transaction's deletes.
	must(f.reg.AddThingToThingGroup(ctx, &iotdm.AddThingToThingGroupInput{ThingGroupName: "g", ThingName: "t"}))
	must(f.reg.DeleteThing(ctx, &iotdm.DeleteThingInput{ThingName: "t"}))
	ev := f.wait(t, 2)
	want(t, ev[1], "$aws/events/thingGroupMembership/thingGroup/g/thing/t/removed", fields)

	// Likewise deleting the group.
	t2ID := f.createThing(t, &iotdm.CreateThingInput{ThingName: "t2"})
	must(f.reg.AddThingToThingGroup(ctx, &iotdm.AddThingToThingGroupInput{ThingGroupName: "g", ThingName: "t2"}))
	must(f.reg.DeleteThingGroup(ctx, &iotdm.DeleteThingGroupInput{ThingGroupName: "g"}))
	ev = f.wait(t, 2)
	want(t, ev[1], "$aws/events/thingGroupMembership/thingGroup/g/thing/t2/removed", map[string]any{
		"groupId": gID, "thingId": t2ID, "operation": "REMOVED",
	})

	// Dynamic memberships arrive from the fleet index.
	dynID, _ := f.createGroup(t, "dyn", "") // a static stand-in: only its id matters here
	f.events.EnqueueDynamicMembership("dyn", "t2", true)
	want(t, f.wait(t, 1)[0], "$aws/events/thingGroupMembership/thingGroup/dyn/thing/t2/added", map[string]any{
		"operation": "ADDED", "groupId": dynID, "thingId": t2ID,
		"groupArn": "arn:aws:iot:" + evRegion + ":" + evAccount + ":thinggroup/dyn",
	})
	f.events.EnqueueDynamicMembership("dyn", "t2", false)
	want(t, f.wait(t, 1)[0], "$aws/events/thingGroupMembership/thingGroup/dyn/thing/t2/removed", map[string]any{"operation": "REMOVED"})
}

func TestRegistryEventsPublishErrorsDoNotStopTheFeed(t *testing.T) {
	f := newEventsFixture(t, iotdm.EventThing)
	f.pub.mu.Lock()
	f.pub.fail = errors.New("broker down")
	f.pub.mu.Unlock()
	f.createThing(t, &iotdm.CreateThingInput{ThingName: "t1"})
	f.wait(t, 1) // attempted
	f.pub.mu.Lock()
	f.pub.fail = nil
	f.pub.mu.Unlock()
	f.createThing(t, &iotdm.CreateThingInput{ThingName: "t2"})
	want(t, f.wait(t, 1)[0], "$aws/events/thing/t2/created", nil)
}
