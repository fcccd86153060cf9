package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// These tests drive the fleet indexing configuration and dynamic thing group
// operations of a real in-process server with the AWS SDK for Go v2.

// wantTyped fails the test unless err is the SDK's typed exception E, and
// returns it.
func wantTyped[E error](t *testing.T, op string, err error) E {
	t.Helper()
	var e E
	if !errors.As(err, &e) {
		t.Fatalf("%s: err = %v, want %T", op, err, e)
	}
	return e
}

func getConfig(t *testing.T, c *iot.Client) *iot.GetIndexingConfigurationOutput {
	t.Helper()
	return must[*iot.GetIndexingConfigurationOutput](t, "GetIndexingConfiguration")(
		c.GetIndexingConfiguration(context.Background(), &iot.GetIndexingConfigurationInput{}))
}

// configDiff compares two GetIndexingConfiguration outputs.
func configDiff(a, b *iot.GetIndexingConfigurationOutput) string {
	return cmp.Diff(a, b, cmpopts.IgnoreUnexported(iot.GetIndexingConfigurationOutput{}, types.ThingIndexingConfiguration{},
		types.ThingGroupIndexingConfiguration{}, types.Field{}, types.IndexingFilter{}, types.GeoLocationTarget{}),
		cmpopts.IgnoreFields(iot.GetIndexingConfigurationOutput{}, "ResultMetadata"))
}

func fieldNames(fs []types.Field) []string {
	var out []string
	for _, f := range fs {
		out = append(out, aws.ToString(f.Name)+":"+string(f.Type))
	}
	return out
}

func listIndices(t *testing.T, c *iot.Client, max int32) []string {
	t.Helper()
	var names []string
	var token *string
	for range 10 {
		in := &iot.ListIndicesInput{NextToken: token}
		if max > 0 {
			in.MaxResults = aws.Int32(max)
		}
		out := must[*iot.ListIndicesOutput](t, "ListIndices")(c.ListIndices(context.Background(), in))
		if max > 0 && len(out.IndexNames) > int(max) {
			t.Fatalf("ListIndices(max %d) returned %d names", max, len(out.IndexNames))
		}
		names = append(names, out.IndexNames...)
		if token = out.NextToken; token == nil {
			return names
		}
	}
	t.Fatal("ListIndices does not end")
	return nil
}

func TestSDKIndexingConfiguration(t *testing.T) {
	ctx := context.Background()
	c := newIoTClient(t)

	t.Run("default configuration", func(t *testing.T) {
		got := getConfig(t, c)
		ti, gi := got.ThingIndexingConfiguration, got.ThingGroupIndexingConfiguration
		if ti == nil || gi == nil {
			t.Fatalf("GetIndexingConfiguration = %+v, want both configurations", got)
		}
		if ti.ThingIndexingMode != types.ThingIndexingModeRegistryAndShadow || ti.ThingConnectivityIndexingMode != types.ThingConnectivityIndexingModeStatus ||
			ti.DeviceDefenderIndexingMode != types.DeviceDefenderIndexingModeOff || ti.NamedShadowIndexingMode != types.NamedShadowIndexingModeOff {
			t.Errorf("default thing indexing = %+v", ti)
		}
		if gi.ThingGroupIndexingMode != types.ThingGroupIndexingModeOn {
			t.Errorf("default group indexing mode = %s, want ON", gi.ThingGroupIndexingMode)
		}
		managed := fieldNames(ti.ManagedFields)
		for _, want := range []string{"thingName:String", "thingId:String", "registry.version:Number", "shadow.hasDelta:Boolean", "connectivity.connected:Boolean", "connectivity.timestamp:Number"} {
			if !slices.Contains(managed, want) {
				t.Errorf("managed fields %v lack %s", managed, want)
			}
		}
		if g := fieldNames(gi.ManagedFields); !slices.Contains(g, "thingGroupName:String") || !slices.Contains(g, "parentGroupNames:String") {
			t.Errorf("group managed fields = %v", g)
		}
	})

	t.Run("indices and pagination", func(t *testing.T) {
		want := []string{"AWS_ThingGroups", "AWS_Things"}
		for _, max := range []int32{0, 1, 2, 500} {
			if got := listIndices(t, c, max); !slices.Equal(got, want) {
				t.Errorf("ListIndices(max %d) = %v, want %v", max, got, want)
			}
		}
		first := must[*iot.ListIndicesOutput](t, "ListIndices")(c.ListIndices(ctx, &iot.ListIndicesInput{MaxResults: aws.Int32(1)}))
		if first.NextToken == nil || len(first.IndexNames) != 1 {
			t.Fatalf("ListIndices(max 1) = %v, token %v", first.IndexNames, first.NextToken)
		}
		_, err := c.ListIndices(ctx, &iot.ListIndicesInput{MaxResults: aws.Int32(501)})
		wantTyped[*types.InvalidRequestException](t, "ListIndices(501)", err)
		_, err = c.ListIndices(ctx, &iot.ListIndicesInput{NextToken: aws.String("bogus!")})
		wantTyped[*types.InvalidRequestException](t, "ListIndices(bad token)", err)

		things := must[*iot.DescribeIndexOutput](t, "DescribeIndex")(c.DescribeIndex(ctx, &iot.DescribeIndexInput{IndexName: aws.String("AWS_Things")}))
		if aws.ToString(things.IndexName) != "AWS_Things" || things.IndexStatus != types.IndexStatusActive || aws.ToString(things.Schema) != "REGISTRY_AND_SHADOW_AND_CONNECTIVITY_STATUS" {
			t.Errorf("DescribeIndex(AWS_Things) = %s %s %s", aws.ToString(things.IndexName), things.IndexStatus, aws.ToString(things.Schema))
		}
		groups := must[*iot.DescribeIndexOutput](t, "DescribeIndex")(c.DescribeIndex(ctx, &iot.DescribeIndexInput{IndexName: aws.String("AWS_ThingGroups")}))
		if groups.IndexStatus != types.IndexStatusActive || aws.ToString(groups.Schema) != "THING_GROUPS" {
			t.Errorf("DescribeIndex(AWS_ThingGroups) = %s %s", groups.IndexStatus, aws.ToString(groups.Schema))
		}
		_, err = c.DescribeIndex(ctx, &iot.DescribeIndexInput{IndexName: aws.String("AWS_Nothing")})
		wantTyped[*types.ResourceNotFoundException](t, "DescribeIndex(unknown)", err)
	})

	t.Run("update and schema", func(t *testing.T) {
		must[*iot.UpdateIndexingConfigurationOutput](t, "UpdateIndexingConfiguration")(c.UpdateIndexingConfiguration(ctx, &iot.UpdateIndexingConfigurationInput{
			ThingIndexingConfiguration: &types.ThingIndexingConfiguration{
				ThingIndexingMode: types.ThingIndexingModeRegistry,
				CustomFields: []types.Field{
					{Name: aws.String("attributes.temperature"), Type: types.FieldTypeNumber},
					{Name: aws.String("attributes.model"), Type: types.FieldTypeString},
				},
			},
		}))
		got := getConfig(t, c)
		ti := got.ThingIndexingConfiguration
		if ti.ThingIndexingMode != types.ThingIndexingModeRegistry || ti.ThingConnectivityIndexingMode != types.ThingConnectivityIndexingModeOff {
			t.Errorf("after update thing indexing = %s / %s", ti.ThingIndexingMode, ti.ThingConnectivityIndexingMode)
		}
		if got, want := fieldNames(ti.CustomFields), []string{"attributes.temperature:Number", "attributes.model:String"}; !slices.Equal(got, want) {
			t.Errorf("custom fields = %v, want %v", got, want)
		}
		managed := fieldNames(ti.ManagedFields)
		if slices.Contains(managed, "shadow.hasDelta:Boolean") || slices.Contains(managed, "connectivity.connected:Boolean") || !slices.Contains(managed, "thingName:String") {
			t.Errorf("managed fields of REGISTRY = %v", managed)
		}
		if got.ThingGroupIndexingConfiguration.ThingGroupIndexingMode != types.ThingGroupIndexingModeOn {
			t.Errorf("group indexing changed by a things-only update: %s", got.ThingGroupIndexingConfiguration.ThingGroupIndexingMode)
		}
		schema := func() string {
			out := must[*iot.DescribeIndexOutput](t, "DescribeIndex")(c.DescribeIndex(ctx, &iot.DescribeIndexInput{IndexName: aws.String("AWS_Things")}))
			return aws.ToString(out.Schema)
		}
		if s := schema(); s != "REGISTRY" {
			t.Errorf("schema = %s, want REGISTRY", s)
		}
		update := func(ti *types.ThingIndexingConfiguration) {
			t.Helper()
			must[*iot.UpdateIndexingConfigurationOutput](t, "UpdateIndexingConfiguration")(c.UpdateIndexingConfiguration(ctx, &iot.UpdateIndexingConfigurationInput{ThingIndexingConfiguration: ti}))
		}
		update(&types.ThingIndexingConfiguration{ThingIndexingMode: types.ThingIndexingModeRegistry, ThingConnectivityIndexingMode: types.ThingConnectivityIndexingModeStatus})
		if s := schema(); s != "REGISTRY_AND_CONNECTIVITY_STATUS" {
			t.Errorf("schema = %s, want REGISTRY_AND_CONNECTIVITY_STATUS", s)
		}
		update(&types.ThingIndexingConfiguration{ThingIndexingMode: types.ThingIndexingModeRegistryAndShadow})
		if s := schema(); s != "REGISTRY_AND_SHADOW" {
			t.Errorf("schema = %s, want REGISTRY_AND_SHADOW", s)
		}
		update(&types.ThingIndexingConfiguration{
			ThingIndexingMode: types.ThingIndexingModeRegistryAndShadow, NamedShadowIndexingMode: types.NamedShadowIndexingModeOn,
			Filter:       &types.IndexingFilter{NamedShadowNames: []string{"config", "$package"}},
			CustomFields: []types.Field{{Name: aws.String("shadow.name.config.reported.rate"), Type: types.FieldTypeNumber}, {Name: aws.String("shadow.reported.battery.level"), Type: types.FieldTypeNumber}},
		})
		if s := schema(); s != "MULTI_INDEXING_MODE" {
			t.Errorf("schema = %s, want MULTI_INDEXING_MODE", s)
		}
		ti = getConfig(t, c).ThingIndexingConfiguration
		if ti.Filter == nil || !slices.Equal(ti.Filter.NamedShadowNames, []string{"config", "$package"}) {
			t.Errorf("filter = %+v", ti.Filter)
		}
		if !slices.Contains(fieldNames(ti.ManagedFields), "shadow.name.*.hasDelta:Boolean") {
			t.Errorf("managed fields with named shadows = %v", fieldNames(ti.ManagedFields))
		}
	})

	t.Run("refused updates change nothing", func(t *testing.T) {
		must[*iot.UpdateIndexingConfigurationOutput](t, "UpdateIndexingConfiguration")(c.UpdateIndexingConfiguration(ctx, &iot.UpdateIndexingConfigurationInput{
			ThingIndexingConfiguration: &types.ThingIndexingConfiguration{
				ThingIndexingMode: types.ThingIndexingModeRegistryAndShadow, ThingConnectivityIndexingMode: types.ThingConnectivityIndexingModeStatus,
				CustomFields: []types.Field{{Name: aws.String("attributes.temperature"), Type: types.FieldTypeNumber}},
			},
		}))
		before := getConfig(t, c)
		field := func(name string, typ types.FieldType) []types.Field {
			return []types.Field{{Name: aws.String(name), Type: typ}}
		}
		cases := map[string]*iot.UpdateIndexingConfigurationInput{
			"connectivity without thing indexing": {ThingIndexingConfiguration: &types.ThingIndexingConfiguration{
				ThingIndexingMode: types.ThingIndexingModeOff, ThingConnectivityIndexingMode: types.ThingConnectivityIndexingModeStatus}},
			"unknown thing mode": {ThingIndexingConfiguration: &types.ThingIndexingConfiguration{ThingIndexingMode: "SOMETIMES"}},
			"unknown connectivity mode": {ThingIndexingConfiguration: &types.ThingIndexingConfiguration{
				ThingIndexingMode: types.ThingIndexingModeRegistry, ThingConnectivityIndexingMode: "ALWAYS"}},
			"unknown group mode": {ThingGroupIndexingConfiguration: &types.ThingGroupIndexingConfiguration{ThingGroupIndexingMode: "MAYBE"}},
			"named shadows without shadow indexing": {ThingIndexingConfiguration: &types.ThingIndexingConfiguration{
				ThingIndexingMode: types.ThingIndexingModeRegistry, NamedShadowIndexingMode: types.NamedShadowIndexingModeOn}},
			"custom field type": {ThingIndexingConfiguration: &types.ThingIndexingConfiguration{
				ThingIndexingMode: types.ThingIndexingModeRegistryAndShadow, CustomFields: field("attributes.x", "Float")}},
			"custom field changes type": {ThingIndexingConfiguration: &types.ThingIndexingConfiguration{
				ThingIndexingMode: types.ThingIndexingModeRegistryAndShadow, CustomFields: field("attributes.temperature", types.FieldTypeString)}},
			"custom field outside a root": {ThingIndexingConfiguration: &types.ThingIndexingConfiguration{
				ThingIndexingMode: types.ThingIndexingModeRegistryAndShadow, CustomFields: field("temperature", types.FieldTypeNumber)}},
			"custom field with bad characters": {ThingIndexingConfiguration: &types.ThingIndexingConfiguration{
				ThingIndexingMode: types.ThingIndexingModeRegistryAndShadow, CustomFields: field("attributes.a@b", types.FieldTypeNumber)}},
			"managed field as custom field": {ThingIndexingConfiguration: &types.ThingIndexingConfiguration{
				ThingIndexingMode: types.ThingIndexingModeRegistryAndShadow, CustomFields: field("shadow.hasDelta", types.FieldTypeBoolean)}},
			"shadow field without shadow indexing": {ThingIndexingConfiguration: &types.ThingIndexingConfiguration{
				ThingIndexingMode: types.ThingIndexingModeRegistry, CustomFields: field("shadow.reported.temp", types.FieldTypeNumber)}},
			"named shadow field without named shadow indexing": {ThingIndexingConfiguration: &types.ThingIndexingConfiguration{
				ThingIndexingMode: types.ThingIndexingModeRegistryAndShadow, CustomFields: field("shadow.name.cfg.reported.rate", types.FieldTypeNumber)}},
			"duplicate custom field": {ThingIndexingConfiguration: &types.ThingIndexingConfiguration{
				ThingIndexingMode: types.ThingIndexingModeRegistryAndShadow,
				CustomFields:      append(field("attributes.a", types.FieldTypeNumber), field("attributes.a", types.FieldTypeNumber)...)}},
			"custom fields with indexing off": {ThingIndexingConfiguration: &types.ThingIndexingConfiguration{
				ThingIndexingMode: types.ThingIndexingModeOff, CustomFields: field("attributes.a", types.FieldTypeNumber)}},
			"group custom field outside attributes": {ThingGroupIndexingConfiguration: &types.ThingGroupIndexingConfiguration{
				ThingGroupIndexingMode: types.ThingGroupIndexingModeOn, CustomFields: field("shadow.reported.a", types.FieldTypeNumber)}},
			"bad named shadow name": {ThingIndexingConfiguration: &types.ThingIndexingConfiguration{
				ThingIndexingMode: types.ThingIndexingModeRegistryAndShadow, NamedShadowIndexingMode: types.NamedShadowIndexingModeOn,
				Filter: &types.IndexingFilter{NamedShadowNames: []string{"no/slash"}}}},
			"nothing to update": {},
		}
		for name, in := range cases {
			t.Run(name, func(t *testing.T) {
				_, err := c.UpdateIndexingConfiguration(ctx, in)
				e := wantTyped[*types.InvalidRequestException](t, "UpdateIndexingConfiguration", err)
				if aws.ToString(e.Message) == "" {
					t.Error("InvalidRequestException without a message")
				}
				if d := configDiff(before, getConfig(t, c)); d != "" {
					t.Errorf("refused update changed the configuration (-before +after):\n%s", d)
				}
			})
		}
	})

	t.Run("disabled indices", func(t *testing.T) {
		must[*iot.UpdateIndexingConfigurationOutput](t, "UpdateIndexingConfiguration")(c.UpdateIndexingConfiguration(ctx, &iot.UpdateIndexingConfigurationInput{
			ThingIndexingConfiguration: &types.ThingIndexingConfiguration{ThingIndexingMode: types.ThingIndexingModeOff},
		}))
		if got := getConfig(t, c).ThingIndexingConfiguration; got.ThingIndexingMode != types.ThingIndexingModeOff || len(got.ManagedFields) != 0 || len(got.CustomFields) != 0 {
			t.Errorf("OFF configuration = %+v", got)
		}
		_, err := c.DescribeIndex(ctx, &iot.DescribeIndexInput{IndexName: aws.String("AWS_Things")})
		e := wantTyped[*types.ResourceNotFoundException](t, "DescribeIndex(disabled)", err)
		if want := "Index AWS_Things does not exist. Please enable index by calling UpdateIndexingConfiguration"; aws.ToString(e.Message) != want {
			t.Errorf("message = %q, want %q", aws.ToString(e.Message), want)
		}
		if got := listIndices(t, c, 1); !slices.Equal(got, []string{"AWS_ThingGroups"}) {
			t.Errorf("ListIndices = %v, want [AWS_ThingGroups]", got)
		}
		must[*iot.UpdateIndexingConfigurationOutput](t, "UpdateIndexingConfiguration")(c.UpdateIndexingConfiguration(ctx, &iot.UpdateIndexingConfigurationInput{
			ThingGroupIndexingConfiguration: &types.ThingGroupIndexingConfiguration{ThingGroupIndexingMode: types.ThingGroupIndexingModeOff},
		}))
		if got := listIndices(t, c, 0); len(got) != 0 {
			t.Errorf("ListIndices with both off = %v", got)
		}
		_, err = c.DescribeIndex(ctx, &iot.DescribeIndexInput{IndexName: aws.String("AWS_ThingGroups")})
		wantTyped[*types.ResourceNotFoundException](t, "DescribeIndex(disabled groups)", err)
	})
}

func TestSDKDynamicThingGroups(t *testing.T) {
	ctx := context.Background()
	c := newIoTClient(t)
	const query = "attributes.temperature>20 AND thingName:sensor*"

	created := must[*iot.CreateDynamicThingGroupOutput](t, "CreateDynamicThingGroup")(c.CreateDynamicThingGroup(ctx, &iot.CreateDynamicThingGroupInput{
		ThingGroupName:       aws.String("hot-sensors"),
		QueryString:          aws.String(query),
		ThingGroupProperties: &types.ThingGroupProperties{ThingGroupDescription: aws.String("too warm"), AttributePayload: attrs("team", "ops")},
		Tags:                 []types.Tag{{Key: aws.String("env"), Value: aws.String("test")}},
	}))
	if aws.ToString(created.ThingGroupName) != "hot-sensors" || aws.ToString(created.ThingGroupArn) != "arn:aws:iot:us-east-1:123456789012:thinggroup/hot-sensors" ||
		aws.ToString(created.IndexName) != "AWS_Things" || aws.ToString(created.QueryString) != query || aws.ToString(created.QueryVersion) != "2017-09-30" ||
		!uuidPattern.MatchString(aws.ToString(created.ThingGroupId)) {
		t.Errorf("CreateDynamicThingGroup = %+v", created)
	}
	describe := func(name string) *iot.DescribeThingGroupOutput {
		t.Helper()
		return must[*iot.DescribeThingGroupOutput](t, "DescribeThingGroup")(c.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String(name)}))
	}
	d := describe("hot-sensors")
	if aws.ToString(d.QueryString) != query || aws.ToString(d.IndexName) != "AWS_Things" || aws.ToString(d.QueryVersion) != "2017-09-30" ||
		d.Version != 1 || aws.ToString(d.ThingGroupProperties.ThingGroupDescription) != "too warm" {
		t.Errorf("DescribeThingGroup(dynamic) = %+v", d)
	}
	// BUILDING until the fleet index has taken the group in (AWS §3), which
	// here takes milliseconds.
	for deadline := time.Now().Add(2 * time.Second); d.Status != types.DynamicGroupStatusActive; d = describe("hot-sensors") {
		if d.Status != types.DynamicGroupStatusBuilding || time.Now().After(deadline) {
			t.Fatalf("DescribeThingGroup(dynamic) status %s, want BUILDING and then ACTIVE within 2s", d.Status)
		}
		time.Sleep(5 * time.Millisecond)
	}
	tags := must[*iot.ListTagsForResourceOutput](t, "ListTagsForResource")(c.ListTagsForResource(ctx, &iot.ListTagsForResourceInput{ResourceArn: created.ThingGroupArn}))
	if len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Key) != "env" {
		t.Errorf("tags = %+v", tags.Tags)
	}
	must[*iot.CreateThingGroupOutput](t, "CreateThingGroup")(c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("static")}))
	must[*iot.CreateThingOutput](t, "CreateThing")(c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("sensor-1")}))
	list := must[*iot.ListThingGroupsOutput](t, "ListThingGroups")(c.ListThingGroups(ctx, &iot.ListThingGroupsInput{}))
	if len(list.ThingGroups) != 2 {
		t.Errorf("ListThingGroups = %d groups, want 2", len(list.ThingGroups))
	}

	t.Run("create is idempotent for the same configuration", func(t *testing.T) {
		again := must[*iot.CreateDynamicThingGroupOutput](t, "CreateDynamicThingGroup")(c.CreateDynamicThingGroup(ctx, &iot.CreateDynamicThingGroupInput{
			ThingGroupName: aws.String("hot-sensors"), QueryString: aws.String(query), IndexName: aws.String("AWS_Things"), QueryVersion: aws.String("2017-09-30"),
			ThingGroupProperties: &types.ThingGroupProperties{ThingGroupDescription: aws.String("too warm"), AttributePayload: attrs("team", "ops")},
		}))
		if aws.ToString(again.ThingGroupId) != aws.ToString(created.ThingGroupId) {
			t.Errorf("repeat ThingGroupId = %s, want %s", aws.ToString(again.ThingGroupId), aws.ToString(created.ThingGroupId))
		}
	})

	// refused runs call, lets check judge its error, and checks that both
	// groups are left as they were.
	refused := func(t *testing.T, op string, call func() error, check func(error)) {
		t.Helper()
		before := []*iot.DescribeThingGroupOutput{describe("hot-sensors"), describe("static")}
		check(call())
		after := []*iot.DescribeThingGroupOutput{describe("hot-sensors"), describe("static")}
		for i := range before {
			if diff := cmp.Diff(before[i], after[i], cmpopts.IgnoreUnexported(iot.DescribeThingGroupOutput{}, types.ThingGroupProperties{}, types.AttributePayload{}, types.ThingGroupMetadata{}),
				cmpopts.IgnoreFields(iot.DescribeThingGroupOutput{}, "ResultMetadata")); diff != "" {
				t.Errorf("%s changed group %s:\n%s", op, aws.ToString(before[i].ThingGroupName), diff)
			}
		}
	}

	t.Run("refused creates", func(t *testing.T) {
		create := func(name, q string, mod func(*iot.CreateDynamicThingGroupInput)) func() error {
			return func() error {
				in := &iot.CreateDynamicThingGroupInput{ThingGroupName: aws.String(name), QueryString: aws.String(q)}
				if mod != nil {
					mod(in)
				}
				_, err := c.CreateDynamicThingGroup(ctx, in)
				return err
			}
		}
		refused(t, "different query", create("hot-sensors", "thingName:x", nil), func(err error) {
			e := wantTyped[*types.ResourceAlreadyExistsException](t, "CreateDynamicThingGroup(different)", err)
			if aws.ToString(e.ResourceId) != aws.ToString(created.ThingGroupId) || aws.ToString(e.ResourceArn) != aws.ToString(created.ThingGroupArn) {
				t.Errorf("ResourceAlreadyExists id/arn = %s %s", aws.ToString(e.ResourceId), aws.ToString(e.ResourceArn))
			}
		})
		refused(t, "static name", create("static", "thingName:x", nil), func(err error) {
			wantTyped[*types.ResourceAlreadyExistsException](t, "CreateDynamicThingGroup(static name)", err)
		})
		refused(t, "static create of a dynamic name", func() error {
			_, err := c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("hot-sensors")})
			return err
		}, func(err error) {
			wantTyped[*types.ResourceAlreadyExistsException](t, "CreateThingGroup(dynamic name)", err)
		})

		for q, pos := range map[string]string{"thingName:(": "position 11", "thingGroupName:abc": "position 0"} {
			refused(t, "query "+q, create("bad-query", q, nil), func(err error) {
				e := wantTyped[*types.InvalidQueryException](t, "CreateDynamicThingGroup("+q+")", err)
				if !strings.Contains(aws.ToString(e.Message), pos) {
					t.Errorf("InvalidQueryException message %q lacks %q", aws.ToString(e.Message), pos)
				}
			})
		}
		refused(t, "empty query", create("bad-query", "", nil), func(err error) {
			wantTyped[*types.InvalidRequestException](t, "CreateDynamicThingGroup(empty query)", err)
		})
		refused(t, "group index", create("bad-index", "thingName:x", func(in *iot.CreateDynamicThingGroupInput) { in.IndexName = aws.String("AWS_ThingGroups") }), func(err error) {
			wantTyped[*types.InvalidRequestException](t, "CreateDynamicThingGroup(AWS_ThingGroups)", err)
		})
		refused(t, "query version", create("bad-version", "thingName:x", func(in *iot.CreateDynamicThingGroupInput) { in.QueryVersion = aws.String("2020-01-01") }), func(err error) {
			wantTyped[*types.InvalidRequestException](t, "CreateDynamicThingGroup(queryVersion)", err)
		})
		refused(t, "bad name", create("bad name", "thingName:x", nil), func(err error) {
			wantTyped[*types.InvalidRequestException](t, "CreateDynamicThingGroup(bad name)", err)
		})
		for _, name := range []string{"bad-query", "bad-index", "bad-version"} {
			_, err := c.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String(name)})
			wantTyped[*types.ResourceNotFoundException](t, "DescribeThingGroup("+name+")", err)
		}
	})

	t.Run("custom field types reach the parser", func(t *testing.T) {
		must[*iot.UpdateIndexingConfigurationOutput](t, "UpdateIndexingConfiguration")(c.UpdateIndexingConfiguration(ctx, &iot.UpdateIndexingConfigurationInput{
			ThingIndexingConfiguration: &types.ThingIndexingConfiguration{ThingIndexingMode: types.ThingIndexingModeRegistryAndShadow,
				CustomFields: []types.Field{{Name: aws.String("attributes.enabled"), Type: types.FieldTypeBoolean}}},
		}))
		_, err := c.CreateDynamicThingGroup(ctx, &iot.CreateDynamicThingGroupInput{ThingGroupName: aws.String("typed"), QueryString: aws.String("attributes.enabled:maybe")})
		e := wantTyped[*types.InvalidQueryException](t, "CreateDynamicThingGroup(boolean)", err)
		if !strings.Contains(aws.ToString(e.Message), "position 19") {
			t.Errorf("message %q lacks the position", aws.ToString(e.Message))
		}
		must[*iot.CreateDynamicThingGroupOutput](t, "CreateDynamicThingGroup")(c.CreateDynamicThingGroup(ctx, &iot.CreateDynamicThingGroupInput{
			ThingGroupName: aws.String("typed"), QueryString: aws.String("attributes.enabled:true")}))
		must[*iot.DeleteDynamicThingGroupOutput](t, "DeleteDynamicThingGroup")(c.DeleteDynamicThingGroup(ctx, &iot.DeleteDynamicThingGroupInput{ThingGroupName: aws.String("typed")}))
	})

	t.Run("update", func(t *testing.T) {
		out := must[*iot.UpdateDynamicThingGroupOutput](t, "UpdateDynamicThingGroup")(c.UpdateDynamicThingGroup(ctx, &iot.UpdateDynamicThingGroupInput{
			ThingGroupName: aws.String("hot-sensors"), ExpectedVersion: aws.Int64(1), QueryString: aws.String("attributes.temperature>30"),
			ThingGroupProperties: &types.ThingGroupProperties{AttributePayload: &types.AttributePayload{Attributes: map[string]string{"level": "2"}, Merge: true}},
		}))
		if out.Version != 2 {
			t.Errorf("UpdateDynamicThingGroup version = %d, want 2", out.Version)
		}
		d := describe("hot-sensors")
		if aws.ToString(d.QueryString) != "attributes.temperature>30" || d.Version != 2 || aws.ToString(d.ThingGroupProperties.ThingGroupDescription) != "too warm" ||
			d.ThingGroupProperties.AttributePayload.Attributes["team"] != "ops" || d.ThingGroupProperties.AttributePayload.Attributes["level"] != "2" {
			t.Errorf("after update: %+v %+v", d, d.ThingGroupProperties.AttributePayload)
		}
		// UpdateThingGroup changes a dynamic group's properties, never its query.
		up := must[*iot.UpdateThingGroupOutput](t, "UpdateThingGroup")(c.UpdateThingGroup(ctx, &iot.UpdateThingGroupInput{
			ThingGroupName: aws.String("hot-sensors"), ThingGroupProperties: &types.ThingGroupProperties{ThingGroupDescription: aws.String("very warm")}}))
		if d := describe("hot-sensors"); up.Version != 3 || aws.ToString(d.ThingGroupProperties.ThingGroupDescription) != "very warm" || aws.ToString(d.QueryString) != "attributes.temperature>30" {
			t.Errorf("UpdateThingGroup(dynamic): version %d, %+v", up.Version, d)
		}
	})

	t.Run("refused updates and deletes", func(t *testing.T) {
		upd := func(name string, mod func(*iot.UpdateDynamicThingGroupInput)) func() error {
			return func() error {
				in := &iot.UpdateDynamicThingGroupInput{ThingGroupName: aws.String(name), ThingGroupProperties: &types.ThingGroupProperties{ThingGroupDescription: aws.String("changed")}}
				if mod != nil {
					mod(in)
				}
				_, err := c.UpdateDynamicThingGroup(ctx, in)
				return err
			}
		}
		refused(t, "version conflict", upd("hot-sensors", func(in *iot.UpdateDynamicThingGroupInput) { in.ExpectedVersion = aws.Int64(1) }), func(err error) {
			wantTyped[*types.VersionConflictException](t, "UpdateDynamicThingGroup(version)", err)
		})
		refused(t, "bad query", upd("hot-sensors", func(in *iot.UpdateDynamicThingGroupInput) { in.QueryString = aws.String("thingName:[a TO") }), func(err error) {
			e := wantTyped[*types.InvalidQueryException](t, "UpdateDynamicThingGroup(query)", err)
			if !strings.Contains(aws.ToString(e.Message), "position") {
				t.Errorf("message %q lacks the position", aws.ToString(e.Message))
			}
		})
		refused(t, "group index", upd("hot-sensors", func(in *iot.UpdateDynamicThingGroupInput) { in.IndexName = aws.String("AWS_ThingGroups") }), func(err error) {
			wantTyped[*types.InvalidRequestException](t, "UpdateDynamicThingGroup(index)", err)
		})
		refused(t, "static group", upd("static", nil), func(err error) {
			wantTyped[*types.InvalidRequestException](t, "UpdateDynamicThingGroup(static)", err)
		})
		refused(t, "missing group", upd("nope", nil), func(err error) {
			wantTyped[*types.ResourceNotFoundException](t, "UpdateDynamicThingGroup(missing)", err)
		})
		refused(t, "DeleteThingGroup on dynamic", func() error {
			_, err := c.DeleteThingGroup(ctx, &iot.DeleteThingGroupInput{ThingGroupName: aws.String("hot-sensors")})
			return err
		}, func(err error) { wantTyped[*types.InvalidRequestException](t, "DeleteThingGroup(dynamic)", err) })
		refused(t, "DeleteDynamicThingGroup on static", func() error {
			_, err := c.DeleteDynamicThingGroup(ctx, &iot.DeleteDynamicThingGroupInput{ThingGroupName: aws.String("static")})
			return err
		}, func(err error) { wantTyped[*types.InvalidRequestException](t, "DeleteDynamicThingGroup(static)", err) })
		refused(t, "delete version conflict", func() error {
			_, err := c.DeleteDynamicThingGroup(ctx, &iot.DeleteDynamicThingGroupInput{ThingGroupName: aws.String("hot-sensors"), ExpectedVersion: aws.Int64(1)})
			return err
		}, func(err error) {
			wantTyped[*types.VersionConflictException](t, "DeleteDynamicThingGroup(version)", err)
		})
		refused(t, "add a thing by hand", func() error {
			_, err := c.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{ThingGroupName: aws.String("hot-sensors"), ThingName: aws.String("sensor-1")})
			return err
		}, func(err error) { wantTyped[*types.InvalidRequestException](t, "AddThingToThingGroup(dynamic)", err) })
		refused(t, "dynamic parent", func() error {
			_, err := c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("child"), ParentGroupName: aws.String("hot-sensors")})
			return err
		}, func(err error) { wantTyped[*types.InvalidRequestException](t, "CreateThingGroup(dynamic parent)", err) })
		before := getConfig(t, c)
		refused(t, "thing indexing off", func() error {
			_, err := c.UpdateIndexingConfiguration(ctx, &iot.UpdateIndexingConfigurationInput{
				ThingIndexingConfiguration: &types.ThingIndexingConfiguration{ThingIndexingMode: types.ThingIndexingModeOff}})
			return err
		}, func(err error) { wantTyped[*types.InvalidRequestException](t, "UpdateIndexingConfiguration(OFF)", err) })
		if d := configDiff(before, getConfig(t, c)); d != "" {
			t.Errorf("refused OFF changed the configuration:\n%s", d)
		}
	})

	t.Run("delete", func(t *testing.T) {
		must[*iot.DeleteDynamicThingGroupOutput](t, "DeleteDynamicThingGroup")(c.DeleteDynamicThingGroup(ctx, &iot.DeleteDynamicThingGroupInput{
			ThingGroupName: aws.String("hot-sensors"), ExpectedVersion: aws.Int64(3)}))
		_, err := c.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("hot-sensors")})
		wantTyped[*types.ResourceNotFoundException](t, "DescribeThingGroup(deleted)", err)
		// Deleting a missing group succeeds, as DeleteThingGroup does.
		must[*iot.DeleteDynamicThingGroupOutput](t, "DeleteDynamicThingGroup")(c.DeleteDynamicThingGroup(ctx, &iot.DeleteDynamicThingGroupInput{ThingGroupName: aws.String("hot-sensors")}))
		describe("static")
	})

	t.Run("thing indexing off", func(t *testing.T) {
		must[*iot.UpdateIndexingConfigurationOutput](t, "UpdateIndexingConfiguration")(c.UpdateIndexingConfiguration(ctx, &iot.UpdateIndexingConfigurationInput{
			ThingIndexingConfiguration: &types.ThingIndexingConfiguration{ThingIndexingMode: types.ThingIndexingModeOff}}))
		_, err := c.CreateDynamicThingGroup(ctx, &iot.CreateDynamicThingGroupInput{ThingGroupName: aws.String("later"), QueryString: aws.String("thingName:x")})
		e := wantTyped[*types.ResourceNotFoundException](t, "CreateDynamicThingGroup(indexing off)", err)
		if !strings.Contains(aws.ToString(e.Message), "Index AWS_Things does not exist") {
			t.Errorf("message = %q", aws.ToString(e.Message))
		}
		_, err = c.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("later")})
		wantTyped[*types.ResourceNotFoundException](t, "DescribeThingGroup(later)", err)
	})
}

func TestSDKDynamicThingGroupLimit(t *testing.T) {
	ctx := context.Background()
	c := newIoTClient(t)
	const limit = 100
	for i := range limit {
		must[*iot.CreateDynamicThingGroupOutput](t, "CreateDynamicThingGroup")(c.CreateDynamicThingGroup(ctx, &iot.CreateDynamicThingGroupInput{
			ThingGroupName: aws.String(fmt.Sprintf("dyn-%03d", i)), QueryString: aws.String(fmt.Sprintf("attributes.n:%d", i))}))
	}
	// Static groups do not count.
	must[*iot.CreateThingGroupOutput](t, "CreateThingGroup")(c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("static")}))
	_, err := c.CreateDynamicThingGroup(ctx, &iot.CreateDynamicThingGroupInput{ThingGroupName: aws.String("one-too-many"), QueryString: aws.String("thingName:x")})
	wantTyped[*types.LimitExceededException](t, "CreateDynamicThingGroup(101st)", err)
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() != "LimitExceededException" {
		t.Errorf("code = %s", ae.ErrorCode())
	}
	_, err = c.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("one-too-many")})
	wantTyped[*types.ResourceNotFoundException](t, "DescribeThingGroup(one-too-many)", err)
	// A repeat of an existing group is no new group and still succeeds.
	must[*iot.CreateDynamicThingGroupOutput](t, "CreateDynamicThingGroup")(c.CreateDynamicThingGroup(ctx, &iot.CreateDynamicThingGroupInput{
		ThingGroupName: aws.String("dyn-000"), QueryString: aws.String("attributes.n:0")}))
	// Deleting one makes room again.
	must[*iot.DeleteDynamicThingGroupOutput](t, "DeleteDynamicThingGroup")(c.DeleteDynamicThingGroup(ctx, &iot.DeleteDynamicThingGroupInput{ThingGroupName: aws.String("dyn-000")}))
	must[*iot.CreateDynamicThingGroupOutput](t, "CreateDynamicThingGroup")(c.CreateDynamicThingGroup(ctx, &iot.CreateDynamicThingGroupInput{
		ThingGroupName: aws.String("one-too-many"), QueryString: aws.String("thingName:x")}))
}
