package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
)

// These tests drive a real iotdm server, started in-process on port 0, with
// the AWS SDK for Go v2: every registry operation, its pagination, and the
// exception types the SDK surfaces for bad input.

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// wantAPIError fails the test unless err is an AWS API error with the code.
func wantAPIError(t *testing.T, op string, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("%s: err = %v, want %s", op, err, code)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("%s: error code = %s (%s), want %s", op, ae.ErrorCode(), ae.ErrorMessage(), code)
	}
}

func must[T any](t *testing.T, op string) func(v T, err error) T {
	t.Helper()
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		return v
	}
}

func attrs(kv ...string) *types.AttributePayload {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return &types.AttributePayload{Attributes: m}
}

func TestSDKThings(t *testing.T) {
	ctx := context.Background()
	c := newIoTClient(t)

	created := must[*iot.CreateThingOutput](t, "CreateThing")(c.CreateThing(ctx, &iot.CreateThingInput{
		ThingName: aws.String("temp-sensor-01"), AttributePayload: attrs("location", "Building-A", "firmware", "1.0.0")}))
	if got, want := aws.ToString(created.ThingArn), "arn:aws:iot:us-east-1:123456789012:thing/temp-sensor-01"; got != want {
		t.Errorf("CreateThing ThingArn = %s, want %s", got, want)
	}
	if !uuidPattern.MatchString(aws.ToString(created.ThingId)) {
		t.Errorf("CreateThing ThingId = %q, want a UUID", aws.ToString(created.ThingId))
	}

	t.Run("create is idempotent for the same configuration", func(t *testing.T) {
		again := must[*iot.CreateThingOutput](t, "CreateThing")(c.CreateThing(ctx, &iot.CreateThingInput{
			ThingName: aws.String("temp-sensor-01"), AttributePayload: attrs("firmware", "1.0.0", "location", "Building-A")}))
		if aws.ToString(again.ThingId) != aws.ToString(created.ThingId) {
			t.Errorf("CreateThing again ThingId = %s, want %s", aws.ToString(again.ThingId), aws.ToString(created.ThingId))
		}
	})
	t.Run("create with a different configuration conflicts", func(t *testing.T) {
		_, err := c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("temp-sensor-01"), AttributePayload: attrs("location", "Building-B")})
		var exists *types.ResourceAlreadyExistsException
		if !errors.As(err, &exists) {
			t.Fatalf("CreateThing(conflicting) err = %v, want ResourceAlreadyExistsException", err)
		}
		if aws.ToString(exists.ResourceId) != aws.ToString(created.ThingId) || aws.ToString(exists.ResourceArn) != aws.ToString(created.ThingArn) {
			t.Errorf("ResourceAlreadyExistsException resource = %s %s, want %s %s", aws.ToString(exists.ResourceId), aws.ToString(exists.ResourceArn), aws.ToString(created.ThingId), aws.ToString(created.ThingArn))
		}
	})
	t.Run("invalid names are refused", func(t *testing.T) {
		for _, name := range []string{"bad name", "bad/name", "bad!", strings.Repeat("a", 129)} {
			_, err := c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(name)})
			wantAPIError(t, "CreateThing("+name+")", err, "InvalidRequestException")
		}
		_, err := c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(strings.Repeat("a", 128))})
		if err != nil {
			t.Errorf("CreateThing(128 chars) = %v, want success", err)
		}
	})
	t.Run("attribute limits", func(t *testing.T) {
		_, err := c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("four-attrs"), AttributePayload: attrs("a", "1", "b", "2", "c", "3", "d", "4")})
		wantAPIError(t, "CreateThing(4 attributes, no type)", err, "InvalidRequestException")
		_, err = c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("bad-attr"), AttributePayload: attrs("a", "has space")})
		wantAPIError(t, "CreateThing(bad attribute value)", err, "InvalidRequestException")
		must[*iot.CreateThingTypeOutput](t, "CreateThingType")(c.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("many-attrs")}))
		kv := []string{}
		for i := range 50 {
			kv = append(kv, fmt.Sprintf("a%d", i), "v")
		}
		must[*iot.CreateThingOutput](t, "CreateThing(50 attributes, typed)")(c.CreateThing(ctx, &iot.CreateThingInput{
			ThingName: aws.String("fifty-attrs"), ThingTypeName: aws.String("many-attrs"), AttributePayload: attrs(kv...)}))
		_, err = c.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String("fifty-attrs"), AttributePayload: &types.AttributePayload{Attributes: map[string]string{"one-more": "v"}, Merge: true}})
		wantAPIError(t, "UpdateThing(51 attributes)", err, "InvalidRequestException")
	})
	t.Run("unknown thing type", func(t *testing.T) {
		_, err := c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("typed"), ThingTypeName: aws.String("no-such-type")})
		wantAPIError(t, "CreateThing(unknown type)", err, "ResourceNotFoundException")
		_, err = c.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("typed")})
		wantAPIError(t, "DescribeThing after a refused create", err, "ResourceNotFoundException")
	})
	t.Run("describe", func(t *testing.T) {
		d := must[*iot.DescribeThingOutput](t, "DescribeThing")(c.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("temp-sensor-01")}))
		want := map[string]string{"location": "Building-A", "firmware": "1.0.0"}
		if diff := cmp.Diff(want, d.Attributes); diff != "" {
			t.Errorf("DescribeThing attributes (-want +got):\n%s", diff)
		}
		if aws.ToString(d.DefaultClientId) != "temp-sensor-01" || d.Version != 1 || aws.ToString(d.ThingId) != aws.ToString(created.ThingId) {
			t.Errorf("DescribeThing = clientId %s version %d id %s, want temp-sensor-01 1 %s", aws.ToString(d.DefaultClientId), d.Version, aws.ToString(d.ThingId), aws.ToString(created.ThingId))
		}
		_, err := c.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("missing")})
		var nf *types.ResourceNotFoundException
		if !errors.As(err, &nf) {
			t.Errorf("DescribeThing(missing) err = %v, want ResourceNotFoundException", err)
		}
	})
	t.Run("update merges, replaces and checks versions", func(t *testing.T) {
		name := aws.String("temp-sensor-01")
		must[*iot.UpdateThingOutput](t, "UpdateThing(merge)")(c.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: name,
			AttributePayload: &types.AttributePayload{Attributes: map[string]string{"firmware": "1.1.0", "location": ""}, Merge: true}}))
		d := must[*iot.DescribeThingOutput](t, "DescribeThing")(c.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: name}))
		if diff := cmp.Diff(map[string]string{"firmware": "1.1.0"}, d.Attributes); diff != "" || d.Version != 2 {
			t.Errorf("after merge: version %d, attributes (-want +got):\n%s", d.Version, diff)
		}
		_, err := c.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: name, ExpectedVersion: aws.Int64(1), AttributePayload: attrs("x", "y")})
		var vc *types.VersionConflictException
		if !errors.As(err, &vc) {
			t.Fatalf("UpdateThing(stale version) err = %v, want VersionConflictException", err)
		}
		must[*iot.UpdateThingOutput](t, "UpdateThing(replace)")(c.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: name, ExpectedVersion: aws.Int64(2), AttributePayload: attrs("serial", "42")}))
		d = must[*iot.DescribeThingOutput](t, "DescribeThing")(c.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: name}))
		if diff := cmp.Diff(map[string]string{"serial": "42"}, d.Attributes); diff != "" || d.Version != 3 {
			t.Errorf("after replace: version %d, attributes (-want +got):\n%s", d.Version, diff)
		}
		_, err = c.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String("missing")})
		wantAPIError(t, "UpdateThing(missing)", err, "ResourceNotFoundException")
	})
	t.Run("thing type association and removal", func(t *testing.T) {
		must[*iot.CreateThingTypeOutput](t, "CreateThingType")(c.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("assoc-type")}))
		name := aws.String("temp-sensor-01")
		must[*iot.UpdateThingOutput](t, "UpdateThing(type)")(c.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: name, ThingTypeName: aws.String("assoc-type")}))
		d := must[*iot.DescribeThingOutput](t, "DescribeThing")(c.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: name}))
		if aws.ToString(d.ThingTypeName) != "assoc-type" {
			t.Errorf("ThingTypeName = %q, want assoc-type", aws.ToString(d.ThingTypeName))
		}
		_, err := c.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: name, ThingTypeName: aws.String("assoc-type"), RemoveThingType: true})
		wantAPIError(t, "UpdateThing(type and removeThingType)", err, "InvalidRequestException")
		must[*iot.UpdateThingOutput](t, "UpdateThing(removeThingType)")(c.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: name, RemoveThingType: true}))
		d = must[*iot.DescribeThingOutput](t, "DescribeThing")(c.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: name}))
		if d.ThingTypeName != nil {
			t.Errorf("ThingTypeName after removal = %q, want none", aws.ToString(d.ThingTypeName))
		}
	})
	t.Run("delete", func(t *testing.T) {
		must[*iot.CreateThingOutput](t, "CreateThing")(c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("doomed")}))
		_, err := c.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("doomed"), ExpectedVersion: aws.Int64(7)})
		wantAPIError(t, "DeleteThing(stale version)", err, "VersionConflictException")
		must[*iot.DeleteThingOutput](t, "DeleteThing")(c.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("doomed"), ExpectedVersion: aws.Int64(1)}))
		_, err = c.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("doomed")})
		wantAPIError(t, "DescribeThing(deleted)", err, "ResourceNotFoundException")
		// AWS: deleting a thing that does not exist succeeds.
		must[*iot.DeleteThingOutput](t, "DeleteThing(missing)")(c.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("doomed")}))
	})
}

func TestSDKListThings(t *testing.T) {
	ctx := context.Background()
	c := newIoTClient(t)
	must[*iot.CreateThingTypeOutput](t, "CreateThingType")(c.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("sensor"),
		ThingTypeProperties: &types.ThingTypeProperties{SearchableAttributes: []string{"location", "firmware"}}}))
	var all []string
	for i := range 7 {
		name := fmt.Sprintf("sensor-%02d", i)
		all = append(all, name)
		in := &iot.CreateThingInput{ThingName: aws.String(name), AttributePayload: attrs("location", fmt.Sprintf("Building-%c", 'A'+i%2), "firmware", fmt.Sprintf("1.%d.0", i%3))}
		if i < 4 {
			in.ThingTypeName = aws.String("sensor")
		}
		must[*iot.CreateThingOutput](t, "CreateThing")(c.CreateThing(ctx, in))
	}
	list := func(t *testing.T, in *iot.ListThingsInput) (names []string, pages int) {
		t.Helper()
		p := iot.NewListThingsPaginator(c, in)
		for p.HasMorePages() {
			out := must[*iot.ListThingsOutput](t, "ListThings")(p.NextPage(ctx))
			pages++
			for _, th := range out.Things {
				names = append(names, aws.ToString(th.ThingName))
			}
		}
		return names, pages
	}
	t.Run("pages through every thing in name order", func(t *testing.T) {
		names, pages := list(t, &iot.ListThingsInput{MaxResults: aws.Int32(3)})
		if diff := cmp.Diff(all, names); diff != "" {
			t.Errorf("ListThings names (-want +got):\n%s", diff)
		}
		if pages != 3 {
			t.Errorf("ListThings pages = %d, want 3", pages)
		}
	})
	t.Run("filters", func(t *testing.T) {
		got, _ := list(t, &iot.ListThingsInput{ThingTypeName: aws.String("sensor"), MaxResults: aws.Int32(2)})
		if diff := cmp.Diff(all[:4], got); diff != "" {
			t.Errorf("ListThings(thingTypeName) (-want +got):\n%s", diff)
		}
		got, _ = list(t, &iot.ListThingsInput{AttributeName: aws.String("location"), AttributeValue: aws.String("Building-B")})
		if diff := cmp.Diff([]string{"sensor-01", "sensor-03", "sensor-05"}, got); diff != "" {
			t.Errorf("ListThings(attribute) (-want +got):\n%s", diff)
		}
		got, _ = list(t, &iot.ListThingsInput{AttributeName: aws.String("firmware"), AttributeValue: aws.String("1."), UsePrefixAttributeValue: true})
		if diff := cmp.Diff(all, got); diff != "" {
			t.Errorf("ListThings(attribute prefix) (-want +got):\n%s", diff)
		}
		got, _ = list(t, &iot.ListThingsInput{AttributeName: aws.String("firmware"), AttributeValue: aws.String("1.")})
		if len(got) != 0 {
			t.Errorf("ListThings(exact attribute, no match) = %v, want none", got)
		}
	})
	t.Run("bad page size and token", func(t *testing.T) {
		_, err := c.ListThings(ctx, &iot.ListThingsInput{MaxResults: aws.Int32(251)})
		wantAPIError(t, "ListThings(maxResults=251)", err, "InvalidRequestException")
		_, err = c.ListThings(ctx, &iot.ListThingsInput{NextToken: aws.String("not a token")})
		wantAPIError(t, "ListThings(bad token)", err, "InvalidRequestException")
	})
}

func TestSDKThingTypes(t *testing.T) {
	ctx := context.Background()
	c := newIoTClient(t)
	props := &types.ThingTypeProperties{ThingTypeDescription: aws.String("Temperature sensors"), SearchableAttributes: []string{"location", "firmware"}}
	created := must[*iot.CreateThingTypeOutput](t, "CreateThingType")(c.CreateThingType(ctx, &iot.CreateThingTypeInput{
		ThingTypeName: aws.String("TemperatureSensor"), ThingTypeProperties: props, Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("test")}}}))
	if got, want := aws.ToString(created.ThingTypeArn), "arn:aws:iot:us-east-1:123456789012:thingtype/TemperatureSensor"; got != want {
		t.Errorf("ThingTypeArn = %s, want %s", got, want)
	}
	t.Run("create is idempotent and conflicts on a different configuration", func(t *testing.T) {
		again := must[*iot.CreateThingTypeOutput](t, "CreateThingType")(c.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("TemperatureSensor"), ThingTypeProperties: props}))
		if aws.ToString(again.ThingTypeId) != aws.ToString(created.ThingTypeId) {
			t.Errorf("CreateThingType again id = %s, want %s", aws.ToString(again.ThingTypeId), aws.ToString(created.ThingTypeId))
		}
		_, err := c.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("TemperatureSensor")})
		wantAPIError(t, "CreateThingType(different)", err, "ResourceAlreadyExistsException")
	})
	t.Run("searchable attribute limit", func(t *testing.T) {
		_, err := c.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("too-searchable"),
			ThingTypeProperties: &types.ThingTypeProperties{SearchableAttributes: []string{"a", "b", "c", "d"}}})
		wantAPIError(t, "CreateThingType(4 searchable attributes)", err, "InvalidRequestException")
	})
	t.Run("describe, update and list", func(t *testing.T) {
		d := must[*iot.DescribeThingTypeOutput](t, "DescribeThingType")(c.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String("TemperatureSensor")}))
		if diff := cmp.Diff([]string{"location", "firmware"}, d.ThingTypeProperties.SearchableAttributes); diff != "" {
			t.Errorf("SearchableAttributes (-want +got):\n%s", diff)
		}
		if d.ThingTypeMetadata.Deprecated || d.ThingTypeMetadata.CreationDate == nil {
			t.Errorf("ThingTypeMetadata = %+v, want not deprecated with a creation date", d.ThingTypeMetadata)
		}
		must[*iot.UpdateThingTypeOutput](t, "UpdateThingType")(c.UpdateThingType(ctx, &iot.UpdateThingTypeInput{ThingTypeName: aws.String("TemperatureSensor"),
			ThingTypeProperties: &types.ThingTypeProperties{ThingTypeDescription: aws.String("Updated")}}))
		d = must[*iot.DescribeThingTypeOutput](t, "DescribeThingType")(c.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String("TemperatureSensor")}))
		if aws.ToString(d.ThingTypeProperties.ThingTypeDescription) != "Updated" || len(d.ThingTypeProperties.SearchableAttributes) != 2 {
			t.Errorf("after UpdateThingType: %+v", d.ThingTypeProperties)
		}
		for _, n := range []string{"b-type", "c-type", "d-type"} {
			must[*iot.CreateThingTypeOutput](t, "CreateThingType")(c.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String(n)}))
		}
		var names []string
		p := iot.NewListThingTypesPaginator(c, &iot.ListThingTypesInput{MaxResults: aws.Int32(2)})
		for p.HasMorePages() {
			for _, tt := range must[*iot.ListThingTypesOutput](t, "ListThingTypes")(p.NextPage(ctx)).ThingTypes {
				names = append(names, aws.ToString(tt.ThingTypeName))
			}
		}
		if diff := cmp.Diff([]string{"TemperatureSensor", "b-type", "c-type", "d-type"}, names); diff != "" {
			t.Errorf("ListThingTypes (-want +got):\n%s", diff)
		}
		one := must[*iot.ListThingTypesOutput](t, "ListThingTypes(name)")(c.ListThingTypes(ctx, &iot.ListThingTypesInput{ThingTypeName: aws.String("c-type")}))
		if len(one.ThingTypes) != 1 || aws.ToString(one.ThingTypes[0].ThingTypeName) != "c-type" {
			t.Errorf("ListThingTypes(thingTypeName=c-type) = %d types", len(one.ThingTypes))
		}
		_, err := c.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String("missing")})
		wantAPIError(t, "DescribeThingType(missing)", err, "ResourceNotFoundException")
	})
	t.Run("deprecate, undo and delete", func(t *testing.T) {
		must[*iot.CreateThingOutput](t, "CreateThing")(c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("typed-thing"), ThingTypeName: aws.String("b-type")}))
		_, err := c.DeleteThingType(ctx, &iot.DeleteThingTypeInput{ThingTypeName: aws.String("b-type")})
		wantAPIError(t, "DeleteThingType(not deprecated)", err, "InvalidRequestException")
		must[*iot.DeprecateThingTypeOutput](t, "DeprecateThingType")(c.DeprecateThingType(ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String("b-type")}))
		d := must[*iot.DescribeThingTypeOutput](t, "DescribeThingType")(c.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String("b-type")}))
		if !d.ThingTypeMetadata.Deprecated || d.ThingTypeMetadata.DeprecationDate == nil {
			t.Errorf("after deprecate: %+v", d.ThingTypeMetadata)
		}
		_, err = c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("new-thing"), ThingTypeName: aws.String("b-type")})
		wantAPIError(t, "CreateThing(deprecated type)", err, "InvalidRequestException")
		_, err = c.DeleteThingType(ctx, &iot.DeleteThingTypeInput{ThingTypeName: aws.String("b-type")})
		wantAPIError(t, "DeleteThingType(still used)", err, "InvalidRequestException")
		must[*iot.DeprecateThingTypeOutput](t, "DeprecateThingType(undo)")(c.DeprecateThingType(ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String("b-type"), UndoDeprecate: true}))
		must[*iot.CreateThingOutput](t, "CreateThing(undeprecated type)")(c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("new-thing"), ThingTypeName: aws.String("b-type")}))

		must[*iot.DeprecateThingTypeOutput](t, "DeprecateThingType")(c.DeprecateThingType(ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String("d-type")}))
		must[*iot.DeleteThingTypeOutput](t, "DeleteThingType")(c.DeleteThingType(ctx, &iot.DeleteThingTypeInput{ThingTypeName: aws.String("d-type")}))
		_, err = c.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String("d-type")})
		wantAPIError(t, "DescribeThingType(deleted)", err, "ResourceNotFoundException")
		_, err = c.DeleteThingType(ctx, &iot.DeleteThingTypeInput{ThingTypeName: aws.String("d-type")})
		wantAPIError(t, "DeleteThingType(missing)", err, "ResourceNotFoundException")
	})
}

func TestSDKThingGroups(t *testing.T) {
	ctx := context.Background()
	c := newIoTClient(t)
	group := func(name, parent string, kv ...string) *iot.CreateThingGroupOutput {
		t.Helper()
		in := &iot.CreateThingGroupInput{ThingGroupName: aws.String(name)}
		if parent != "" {
			in.ParentGroupName = aws.String(parent)
		}
		if len(kv) > 0 {
			in.ThingGroupProperties = &types.ThingGroupProperties{ThingGroupDescription: aws.String(name + " group"), AttributePayload: attrs(kv...)}
		}
		return must[*iot.CreateThingGroupOutput](t, "CreateThingGroup "+name)(c.CreateThingGroup(ctx, in))
	}
	root := group("Fleet", "", "tier", "prod")
	group("Building-A", "Fleet")
	group("Floor-1", "Building-A")
	group("Building-B", "Fleet")
	group("Lab", "")

	t.Run("describe shows the hierarchy", func(t *testing.T) {
		d := must[*iot.DescribeThingGroupOutput](t, "DescribeThingGroup")(c.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("Floor-1")}))
		var path []string
		for _, g := range d.ThingGroupMetadata.RootToParentThingGroups {
			path = append(path, aws.ToString(g.GroupName)+"="+aws.ToString(g.GroupArn))
		}
		want := []string{"Fleet=arn:aws:iot:us-east-1:123456789012:thinggroup/Fleet", "Building-A=arn:aws:iot:us-east-1:123456789012:thinggroup/Building-A"}
		if diff := cmp.Diff(want, path); diff != "" {
			t.Errorf("rootToParentThingGroups (-want +got):\n%s", diff)
		}
		if aws.ToString(d.ThingGroupMetadata.ParentGroupName) != "Building-A" || d.Version != 1 {
			t.Errorf("parent = %q version = %d, want Building-A 1", aws.ToString(d.ThingGroupMetadata.ParentGroupName), d.Version)
		}
		d = must[*iot.DescribeThingGroupOutput](t, "DescribeThingGroup")(c.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("Fleet")}))
		if aws.ToString(d.ThingGroupId) != aws.ToString(root.ThingGroupId) || d.ThingGroupProperties.AttributePayload.Attributes["tier"] != "prod" {
			t.Errorf("DescribeThingGroup(Fleet) = %+v", d)
		}
		_, err := c.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("missing")})
		wantAPIError(t, "DescribeThingGroup(missing)", err, "ResourceNotFoundException")
	})
	t.Run("create rules", func(t *testing.T) {
		again := group("Fleet", "", "tier", "prod")
		if aws.ToString(again.ThingGroupId) != aws.ToString(root.ThingGroupId) {
			t.Errorf("CreateThingGroup again id = %s, want %s", aws.ToString(again.ThingGroupId), aws.ToString(root.ThingGroupId))
		}
		_, err := c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("Fleet"), ParentGroupName: aws.String("Lab")})
		wantAPIError(t, "CreateThingGroup(different parent)", err, "ResourceAlreadyExistsException")
		_, err = c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("orphan"), ParentGroupName: aws.String("missing")})
		wantAPIError(t, "CreateThingGroup(missing parent)", err, "ResourceNotFoundException")
		_, err = c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("bad group")})
		wantAPIError(t, "CreateThingGroup(bad name)", err, "InvalidRequestException")
	})
	t.Run("hierarchy depth is at most 7", func(t *testing.T) {
		parent := ""
		for i := 1; i <= 7; i++ {
			name := fmt.Sprintf("level-%d", i)
			group(name, parent)
			parent = name
		}
		_, err := c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("level-8"), ParentGroupName: aws.String("level-7")})
		wantAPIError(t, "CreateThingGroup(depth 8)", err, "LimitExceededException")
	})
	t.Run("update bumps the version and checks it", func(t *testing.T) {
		out := must[*iot.UpdateThingGroupOutput](t, "UpdateThingGroup")(c.UpdateThingGroup(ctx, &iot.UpdateThingGroupInput{ThingGroupName: aws.String("Fleet"),
			ThingGroupProperties: &types.ThingGroupProperties{AttributePayload: &types.AttributePayload{Attributes: map[string]string{"owner": "ops"}, Merge: true}}}))
		if out.Version != 2 {
			t.Errorf("UpdateThingGroup version = %d, want 2", out.Version)
		}
		d := must[*iot.DescribeThingGroupOutput](t, "DescribeThingGroup")(c.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("Fleet")}))
		if diff := cmp.Diff(map[string]string{"tier": "prod", "owner": "ops"}, d.ThingGroupProperties.AttributePayload.Attributes); diff != "" {
			t.Errorf("attributes after merge (-want +got):\n%s", diff)
		}
		_, err := c.UpdateThingGroup(ctx, &iot.UpdateThingGroupInput{ThingGroupName: aws.String("Fleet"), ExpectedVersion: aws.Int64(1),
			ThingGroupProperties: &types.ThingGroupProperties{ThingGroupDescription: aws.String("x")}})
		wantAPIError(t, "UpdateThingGroup(stale)", err, "VersionConflictException")
		_, err = c.UpdateThingGroup(ctx, &iot.UpdateThingGroupInput{ThingGroupName: aws.String("missing"), ThingGroupProperties: &types.ThingGroupProperties{}})
		wantAPIError(t, "UpdateThingGroup(missing)", err, "ResourceNotFoundException")
	})
	t.Run("list groups by parent, recursively and by prefix", func(t *testing.T) {
		list := func(in *iot.ListThingGroupsInput) []string {
			t.Helper()
			var names []string
			p := iot.NewListThingGroupsPaginator(c, in)
			for p.HasMorePages() {
				for _, g := range must[*iot.ListThingGroupsOutput](t, "ListThingGroups")(p.NextPage(ctx)).ThingGroups {
					names = append(names, aws.ToString(g.GroupName))
				}
			}
			return names
		}
		if diff := cmp.Diff([]string{"Building-A", "Building-B"}, list(&iot.ListThingGroupsInput{ParentGroup: aws.String("Fleet")})); diff != "" {
			t.Errorf("children of Fleet (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"Building-A", "Building-B", "Floor-1"}, list(&iot.ListThingGroupsInput{ParentGroup: aws.String("Fleet"), Recursive: aws.Bool(true), MaxResults: aws.Int32(1)})); diff != "" {
			t.Errorf("descendants of Fleet (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"Building-A", "Building-B"}, list(&iot.ListThingGroupsInput{NamePrefixFilter: aws.String("Building")})); diff != "" {
			t.Errorf("prefix Building (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"Fleet", "Lab", "level-1"}, list(&iot.ListThingGroupsInput{Recursive: aws.Bool(false)})); diff != "" {
			t.Errorf("root groups (-want +got):\n%s", diff)
		}
		if got := list(&iot.ListThingGroupsInput{}); len(got) != 12 {
			t.Errorf("all groups = %v, want 12", got)
		}
		_, err := c.ListThingGroups(ctx, &iot.ListThingGroupsInput{ParentGroup: aws.String("missing")})
		wantAPIError(t, "ListThingGroups(missing parent)", err, "ResourceNotFoundException")
	})
	t.Run("membership", func(t *testing.T) {
		for _, n := range []string{"m-1", "m-2", "m-3"} {
			must[*iot.CreateThingOutput](t, "CreateThing")(c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(n)}))
		}
		add := func(thing, group string) error {
			_, err := c.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{ThingName: aws.String(thing), ThingGroupName: aws.String(group)})
			return err
		}
		for _, tg := range [][2]string{{"m-1", "Fleet"}, {"m-2", "Building-A"}, {"m-3", "Floor-1"}, {"m-1", "Fleet"}} {
			if err := add(tg[0], tg[1]); err != nil {
				t.Fatalf("AddThingToThingGroup(%s, %s) = %v", tg[0], tg[1], err)
			}
		}
		// By ARN.
		must[*iot.AddThingToThingGroupOutput](t, "AddThingToThingGroup(arns)")(c.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{
			ThingArn: aws.String("arn:aws:iot:us-east-1:123456789012:thing/m-1"), ThingGroupArn: aws.String("arn:aws:iot:us-east-1:123456789012:thinggroup/Lab")}))
		wantAPIError(t, "AddThingToThingGroup(missing thing)", add("nobody", "Fleet"), "ResourceNotFoundException")
		wantAPIError(t, "AddThingToThingGroup(missing group)", add("m-1", "nowhere"), "ResourceNotFoundException")

		things := func(group string, recursive bool) []string {
			t.Helper()
			var names []string
			p := iot.NewListThingsInThingGroupPaginator(c, &iot.ListThingsInThingGroupInput{ThingGroupName: aws.String(group), Recursive: recursive, MaxResults: aws.Int32(1)})
			for p.HasMorePages() {
				names = append(names, must[*iot.ListThingsInThingGroupOutput](t, "ListThingsInThingGroup")(p.NextPage(ctx)).Things...)
			}
			return names
		}
		if diff := cmp.Diff([]string{"m-1"}, things("Fleet", false)); diff != "" {
			t.Errorf("things in Fleet (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"m-1", "m-2", "m-3"}, things("Fleet", true)); diff != "" {
			t.Errorf("things in Fleet, recursive (-want +got):\n%s", diff)
		}
		_, err := c.ListThingsInThingGroup(ctx, &iot.ListThingsInThingGroupInput{ThingGroupName: aws.String("missing")})
		wantAPIError(t, "ListThingsInThingGroup(missing)", err, "ResourceNotFoundException")

		groupsOf := func(thing string) []string {
			t.Helper()
			var names []string
			for _, g := range must[*iot.ListThingGroupsForThingOutput](t, "ListThingGroupsForThing")(c.ListThingGroupsForThing(ctx, &iot.ListThingGroupsForThingInput{ThingName: aws.String(thing)})).ThingGroups {
				names = append(names, aws.ToString(g.GroupName))
			}
			return names
		}
		if diff := cmp.Diff([]string{"Fleet", "Lab"}, groupsOf("m-1")); diff != "" {
			t.Errorf("groups of m-1 (-want +got):\n%s", diff)
		}
		must[*iot.RemoveThingFromThingGroupOutput](t, "RemoveThingFromThingGroup")(c.RemoveThingFromThingGroup(ctx, &iot.RemoveThingFromThingGroupInput{ThingName: aws.String("m-1"), ThingGroupName: aws.String("Lab")}))
		if diff := cmp.Diff([]string{"Fleet"}, groupsOf("m-1")); diff != "" {
			t.Errorf("groups of m-1 after removal (-want +got):\n%s", diff)
		}

		t.Run("update groups for thing is all or nothing", func(t *testing.T) {
			_, err := c.UpdateThingGroupsForThing(ctx, &iot.UpdateThingGroupsForThingInput{ThingName: aws.String("m-1"),
				ThingGroupsToAdd: []string{"Lab", "nowhere"}, ThingGroupsToRemove: []string{"Fleet"}})
			wantAPIError(t, "UpdateThingGroupsForThing(missing group)", err, "ResourceNotFoundException")
			if diff := cmp.Diff([]string{"Fleet"}, groupsOf("m-1")); diff != "" {
				t.Errorf("groups of m-1 after a refused update (-want +got):\n%s", diff)
			}
			must[*iot.UpdateThingGroupsForThingOutput](t, "UpdateThingGroupsForThing")(c.UpdateThingGroupsForThing(ctx, &iot.UpdateThingGroupsForThingInput{ThingName: aws.String("m-1"),
				ThingGroupsToAdd: []string{"Lab", "Building-B"}, ThingGroupsToRemove: []string{"Fleet"}}))
			if diff := cmp.Diff([]string{"Building-B", "Lab"}, groupsOf("m-1")); diff != "" {
				t.Errorf("groups of m-1 after update (-want +got):\n%s", diff)
			}
		})
		t.Run("a thing is in at most 10 groups", func(t *testing.T) {
			must[*iot.CreateThingOutput](t, "CreateThing")(c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("joiner")}))
			for i := range 11 {
				name := fmt.Sprintf("club-%02d", i)
				group(name, "")
				err := add("joiner", name)
				if i < 10 && err != nil {
					t.Fatalf("AddThingToThingGroup(#%d) = %v", i+1, err)
				}
				if i == 10 {
					wantAPIError(t, "AddThingToThingGroup(11th group)", err, "LimitExceededException")
				}
			}
		})
	})
	t.Run("delete", func(t *testing.T) {
		_, err := c.DeleteThingGroup(ctx, &iot.DeleteThingGroupInput{ThingGroupName: aws.String("Building-A")})
		wantAPIError(t, "DeleteThingGroup(with children)", err, "InvalidRequestException")
		_, err = c.DeleteThingGroup(ctx, &iot.DeleteThingGroupInput{ThingGroupName: aws.String("Floor-1"), ExpectedVersion: aws.Int64(5)})
		wantAPIError(t, "DeleteThingGroup(stale)", err, "VersionConflictException")
		must[*iot.DeleteThingGroupOutput](t, "DeleteThingGroup")(c.DeleteThingGroup(ctx, &iot.DeleteThingGroupInput{ThingGroupName: aws.String("Floor-1")}))
		groups := must[*iot.ListThingGroupsForThingOutput](t, "ListThingGroupsForThing")(c.ListThingGroupsForThing(ctx, &iot.ListThingGroupsForThingInput{ThingName: aws.String("m-3")}))
		if len(groups.ThingGroups) != 0 {
			t.Errorf("m-3 still in %d groups after its group was deleted", len(groups.ThingGroups))
		}
		must[*iot.DeleteThingGroupOutput](t, "DeleteThingGroup(missing)")(c.DeleteThingGroup(ctx, &iot.DeleteThingGroupInput{ThingGroupName: aws.String("Floor-1")}))
		// Deleting a thing drops its memberships.
		must[*iot.DeleteThingOutput](t, "DeleteThing")(c.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("m-2")}))
		left := must[*iot.ListThingsInThingGroupOutput](t, "ListThingsInThingGroup")(c.ListThingsInThingGroup(ctx, &iot.ListThingsInThingGroupInput{ThingGroupName: aws.String("Building-A")}))
		if len(left.Things) != 0 {
			t.Errorf("Building-A still lists %v after its thing was deleted", left.Things)
		}
	})
}

func TestSDKTagsAndEndpoint(t *testing.T) {
	ctx := context.Background()
	c := newIoTClient(t)
	tt := must[*iot.CreateThingTypeOutput](t, "CreateThingType")(c.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String("tagged"),
		Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("dev")}}}))
	g := must[*iot.CreateThingGroupOutput](t, "CreateThingGroup")(c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("tagged-group")}))
	tags := func(arn *string) map[string]string {
		t.Helper()
		out := map[string]string{}
		for _, tag := range must[*iot.ListTagsForResourceOutput](t, "ListTagsForResource")(c.ListTagsForResource(ctx, &iot.ListTagsForResourceInput{ResourceArn: arn})).Tags {
			out[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
		}
		return out
	}
	if diff := cmp.Diff(map[string]string{"env": "dev"}, tags(tt.ThingTypeArn)); diff != "" {
		t.Errorf("tags of the thing type (-want +got):\n%s", diff)
	}
	must[*iot.TagResourceOutput](t, "TagResource")(c.TagResource(ctx, &iot.TagResourceInput{ResourceArn: g.ThingGroupArn,
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("ops")}, {Key: aws.String("cost"), Value: aws.String("42")}}}))
	must[*iot.TagResourceOutput](t, "TagResource(replace)")(c.TagResource(ctx, &iot.TagResourceInput{ResourceArn: g.ThingGroupArn,
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("platform")}}}))
	must[*iot.UntagResourceOutput](t, "UntagResource")(c.UntagResource(ctx, &iot.UntagResourceInput{ResourceArn: g.ThingGroupArn, TagKeys: []string{"cost"}}))
	if diff := cmp.Diff(map[string]string{"team": "platform"}, tags(g.ThingGroupArn)); diff != "" {
		t.Errorf("tags of the group (-want +got):\n%s", diff)
	}
	// Tags do not change the group's configuration: an identical create still succeeds.
	must[*iot.CreateThingGroupOutput](t, "CreateThingGroup(again)")(c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("tagged-group")}))

	_, err := c.ListTagsForResource(ctx, &iot.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:iot:us-east-1:123456789012:thinggroup/missing")})
	wantAPIError(t, "ListTagsForResource(missing)", err, "ResourceNotFoundException")
	_, err = c.TagResource(ctx, &iot.TagResourceInput{ResourceArn: aws.String("not-an-arn"), Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	wantAPIError(t, "TagResource(bad arn)", err, "InvalidRequestException")

	ep := must[*iot.DescribeEndpointOutput](t, "DescribeEndpoint")(c.DescribeEndpoint(ctx, &iot.DescribeEndpointInput{EndpointType: aws.String("iot:Data-ATS")}))
	if aws.ToString(ep.EndpointAddress) == "" {
		t.Errorf("DescribeEndpoint(iot:Data-ATS) = empty address")
	}
	_, err = c.DescribeEndpoint(ctx, &iot.DescribeEndpointInput{EndpointType: aws.String("iot:Nope")})
	wantAPIError(t, "DescribeEndpoint(bad type)", err, "InvalidRequestException")
}

// newIoTClient starts an in-process server on a free port (thing types may be
// deleted right after deprecation) and returns an SDK client for it.
func newIoTClient(t *testing.T) *iot.Client {
	t.Helper()
	cfg := testConfig(t)
	cfg.ThingTypeDeleteWait = 0
	s := startServer(t, cfg)
	key, err := ensureCredentials(cfg.DataDir, nil, testLogger(t))
	if err != nil {
		t.Fatalf("credentials: %v", err)
	}
	return staticIoTClient(s, key.ID, key.Secret)
}

// TestSDKMissingResources checks that every operation on a thing, thing type
// or group that does not exist surfaces as the SDK's typed
// ResourceNotFoundException, and changes nothing.
func TestSDKMissingResources(t *testing.T) {
	ctx := context.Background()
	c := newIoTClient(t)
	must[*iot.CreateThingOutput](t, "CreateThing")(c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("present")}))
	must[*iot.CreateThingGroupOutput](t, "CreateThingGroup")(c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("here")}))
	calls := map[string]func() error{
		"UpdateThingType": func() error {
			_, err := c.UpdateThingType(ctx, &iot.UpdateThingTypeInput{ThingTypeName: aws.String("nope"), ThingTypeProperties: &types.ThingTypeProperties{ThingTypeDescription: aws.String("x")}})
			return err
		},
		"DeprecateThingType": func() error {
			_, err := c.DeprecateThingType(ctx, &iot.DeprecateThingTypeInput{ThingTypeName: aws.String("nope")})
			return err
		},
		"ListThingGroupsForThing": func() error {
			_, err := c.ListThingGroupsForThing(ctx, &iot.ListThingGroupsForThingInput{ThingName: aws.String("nope")})
			return err
		},
		"RemoveThingFromThingGroup(thing)": func() error {
			_, err := c.RemoveThingFromThingGroup(ctx, &iot.RemoveThingFromThingGroupInput{ThingName: aws.String("nope"), ThingGroupName: aws.String("here")})
			return err
		},
		"RemoveThingFromThingGroup(group)": func() error {
			_, err := c.RemoveThingFromThingGroup(ctx, &iot.RemoveThingFromThingGroupInput{ThingName: aws.String("present"), ThingGroupName: aws.String("nope")})
			return err
		},
		"UpdateThingGroupsForThing": func() error {
			_, err := c.UpdateThingGroupsForThing(ctx, &iot.UpdateThingGroupsForThingInput{ThingName: aws.String("nope"), ThingGroupsToAdd: []string{"here"}})
			return err
		},
		"TagResource": func() error {
			_, err := c.TagResource(ctx, &iot.TagResourceInput{ResourceArn: aws.String("arn:aws:iot:us-east-1:123456789012:thingtype/nope"), Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
			return err
		},
		"UntagResource": func() error {
			_, err := c.UntagResource(ctx, &iot.UntagResourceInput{ResourceArn: aws.String("arn:aws:iot:us-east-1:123456789012:thinggroup/nope"), TagKeys: []string{"k"}})
			return err
		},
	}
	for name, call := range calls {
		var nf *types.ResourceNotFoundException
		if err := call(); !errors.As(err, &nf) {
			t.Errorf("%s on a missing resource: err = %v, want *types.ResourceNotFoundException", name, err)
		}
	}
	groups := must[*iot.ListThingGroupsForThingOutput](t, "ListThingGroupsForThing")(c.ListThingGroupsForThing(ctx, &iot.ListThingGroupsForThingInput{ThingName: aws.String("present")}))
	if len(groups.ThingGroups) != 0 {
		t.Errorf("refused calls changed the memberships of present: %v", groups.ThingGroups)
	}
	things := must[*iot.ListThingsOutput](t, "ListThings")(c.ListThings(ctx, &iot.ListThingsInput{}))
	if len(things.Things) != 1 {
		t.Errorf("refused calls changed the things: %d things, want 1", len(things.Things))
	}
}
