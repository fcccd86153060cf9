package main

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// TestSDKDynamicGroupMembership drives dynamic thing group membership
// through a real in-process server with the AWS SDK for Go v2: the fleet
// index feeder puts matching things in the group, and UpdateThing moves
// them in and out within a second (AWS §3).
func TestSDKDynamicGroupMembership(t *testing.T) {
	ctx := context.Background()
	c := newIoTClient(t)
	for name, temp := range map[string]string{"hot-1": "80", "hot-2": "95", "cold-1": "10"} {
		must[*iot.CreateThingOutput](t, "CreateThing")(c.CreateThing(ctx, &iot.CreateThingInput{
			ThingName: aws.String(name), AttributePayload: attrs("temp", temp)}))
	}
	must[*iot.CreateThingGroupOutput](t, "CreateThingGroup")(c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("plant")}))
	must[*iot.AddThingToThingGroupOutput](t, "AddThingToThingGroup")(c.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{
		ThingGroupName: aws.String("plant"), ThingName: aws.String("hot-1")}))
	must[*iot.CreateDynamicThingGroupOutput](t, "CreateDynamicThingGroup")(c.CreateDynamicThingGroup(ctx, &iot.CreateDynamicThingGroupInput{
		ThingGroupName: aws.String("hot"), QueryString: aws.String("attributes.temp > 50")}))

	members := func() []string {
		out := must[*iot.ListThingsInThingGroupOutput](t, "ListThingsInThingGroup")(
			c.ListThingsInThingGroup(ctx, &iot.ListThingsInThingGroupInput{ThingGroupName: aws.String("hot")}))
		return out.Things
	}
	groupsOf := func(thing string) []string {
		out := must[*iot.ListThingGroupsForThingOutput](t, "ListThingGroupsForThing")(
			c.ListThingGroupsForThing(ctx, &iot.ListThingGroupsForThingInput{ThingName: aws.String(thing)}))
		var names []string
		for _, g := range out.ThingGroups {
			names = append(names, aws.ToString(g.GroupName))
		}
		return names
	}
	// eventually polls check for up to a second.
	eventually := func(what string, check func() (bool, any)) {
		t.Helper()
		deadline := time.Now().Add(time.Second)
		for {
			ok, got := check()
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: still %v after 1s", what, got)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	equal := func(want ...string) func(got []string) bool {
		return func(got []string) bool { return slices.Equal(got, want) }
	}
	listIs := func(what string, list func() []string, want ...string) {
		t.Helper()
		eventually(what, func() (bool, any) { got := list(); return equal(want...)(got), got })
	}

	status := func() []string {
		out := must[*iot.DescribeThingGroupOutput](t, "DescribeThingGroup")(
			c.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("hot")}))
		return []string{string(out.Status)}
	}
	listIs("status after create", status, "ACTIVE")
	listIs("members after create", members, "hot-1", "hot-2")
	listIs("groups of hot-1", func() []string { return groupsOf("hot-1") }, "hot", "plant")
	listIs("groups of cold-1", func() []string { return groupsOf("cold-1") })

	// An attribute change moves a thing in, and out.
	must[*iot.UpdateThingOutput](t, "UpdateThing")(c.UpdateThing(ctx, &iot.UpdateThingInput{
		ThingName: aws.String("cold-1"), AttributePayload: &types.AttributePayload{Attributes: map[string]string{"temp": "60"}, Merge: true}}))
	listIs("members after cold-1 heats", members, "cold-1", "hot-1", "hot-2")
	listIs("groups of cold-1", func() []string { return groupsOf("cold-1") }, "hot")
	must[*iot.UpdateThingOutput](t, "UpdateThing")(c.UpdateThing(ctx, &iot.UpdateThingInput{
		ThingName: aws.String("hot-2"), AttributePayload: &types.AttributePayload{Attributes: map[string]string{"temp": "5"}, Merge: true}}))
	listIs("members after hot-2 cools", members, "cold-1", "hot-1")
	listIs("groups of hot-2", func() []string { return groupsOf("hot-2") })

	// Manual edits of a dynamic group stay refused.
	if _, err := c.RemoveThingFromThingGroup(ctx, &iot.RemoveThingFromThingGroupInput{
		ThingGroupName: aws.String("hot"), ThingName: aws.String("hot-1")}); err == nil {
		t.Error("RemoveThingFromThingGroup on a dynamic group succeeded")
	}

	// A query update re-evaluates; deleting the group drops its memberships.
	must[*iot.UpdateDynamicThingGroupOutput](t, "UpdateDynamicThingGroup")(c.UpdateDynamicThingGroup(ctx, &iot.UpdateDynamicThingGroupInput{
		ThingGroupName: aws.String("hot"), QueryString: aws.String("attributes.temp > 70"), ThingGroupProperties: &types.ThingGroupProperties{}}))
	listIs("members after query update", members, "hot-1")
	listIs("status after query update", status, "ACTIVE")

	// The group limit counts dynamic memberships: hot-1 is in plant and
	// hot; nine more static groups are refused the last one unless the
	// dynamic membership may be evicted (AWS §3 rule 4).
	for i := range 9 {
		name := "extra-" + string(rune('a'+i))
		must[*iot.CreateThingGroupOutput](t, "CreateThingGroup")(c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String(name)}))
		_, err := c.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{ThingGroupName: aws.String(name), ThingName: aws.String("hot-1")})
		if i < 8 && err != nil {
			t.Fatalf("AddThingToThingGroup %s: %v", name, err)
		}
		if i == 8 {
			wantAPIError(t, "AddThingToThingGroup at the limit", err, "LimitExceededException")
			must[*iot.AddThingToThingGroupOutput](t, "AddThingToThingGroup override")(c.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{
				ThingGroupName: aws.String(name), ThingName: aws.String("hot-1"), OverrideDynamicGroups: true}))
		}
	}
	listIs("hot evicted by the override", members)
	for i := range 9 {
		name := "extra-" + string(rune('a'+i))
		must[*iot.RemoveThingFromThingGroupOutput](t, "RemoveThingFromThingGroup")(c.RemoveThingFromThingGroup(ctx, &iot.RemoveThingFromThingGroupInput{
			ThingGroupName: aws.String(name), ThingName: aws.String("hot-1")}))
	}
	listIs("hot back with room", members, "hot-1")
	must[*iot.DeleteDynamicThingGroupOutput](t, "DeleteDynamicThingGroup")(c.DeleteDynamicThingGroup(ctx, &iot.DeleteDynamicThingGroupInput{ThingGroupName: aws.String("hot")}))
	listIs("groups of hot-1 after delete", func() []string { return groupsOf("hot-1") }, "plant")
}
