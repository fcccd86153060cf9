package awsapi

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotdm/iotdm"
)

// fakeRegistry is an iotdm.Registry that records its calls and answers with
// fixed outputs, or with the error fail returns.
type fakeRegistry struct {
	mu    sync.Mutex
	calls []fakeCall
	fail  func(op string, in any) error
}

type fakeCall struct {
	op string
	in any
}

func (f *fakeRegistry) record(op string, in any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fakeCall{op, in})
	if f.fail != nil {
		return f.fail(op, in)
	}
	return nil
}

// last returns the input of the last call, failing unless it was op.
func (f *fakeRegistry) last(t *testing.T, op string) any {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		t.Fatalf("no call, want %s", op)
	}
	c := f.calls[len(f.calls)-1]
	if c.op != op {
		t.Fatalf("last call %s, want %s", c.op, op)
	}
	return c.in
}

const fakeARN = "arn:aws:iot:us-east-1:123456789012:"

var fakeCreated = iotdm.Timestamp{Time: time.Date(2026, 11, 29, 10, 0, 0, 289_000_000, time.UTC)}

func (f *fakeRegistry) CreateThing(ctx context.Context, in *iotdm.CreateThingInput) (*iotdm.CreateThingOutput, error) {
	if err := f.record("CreateThing", in); err != nil {
		return nil, err
	}
	return &iotdm.CreateThingOutput{ThingName: in.ThingName, ThingARN: fakeARN + "thing/" + in.ThingName, ThingID: "thing-id"}, nil
}

func (f *fakeRegistry) DescribeThing(ctx context.Context, in *iotdm.DescribeThingInput) (*iotdm.DescribeThingOutput, error) {
	if err := f.record("DescribeThing", in); err != nil {
		return nil, err
	}
	return &iotdm.DescribeThingOutput{
		DefaultClientID: in.ThingName, ThingName: in.ThingName, ThingID: "thing-id",
		ThingARN: fakeARN + "thing/" + in.ThingName, Attributes: map[string]string{"color": "red"}, Version: 3,
	}, nil
}

func (f *fakeRegistry) UpdateThing(ctx context.Context, in *iotdm.UpdateThingInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, f.record("UpdateThing", in)
}

func (f *fakeRegistry) DeleteThing(ctx context.Context, in *iotdm.DeleteThingInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, f.record("DeleteThing", in)
}

func (f *fakeRegistry) ListThings(ctx context.Context, in *iotdm.ListThingsInput) (*iotdm.ListThingsOutput, error) {
	if err := f.record("ListThings", in); err != nil {
		return nil, err
	}
	return &iotdm.ListThingsOutput{
		Things:    []iotdm.ThingAttribute{{ThingName: "t1", ThingARN: fakeARN + "thing/t1", Attributes: map[string]string{}, Version: 1}},
		NextToken: "next/+=",
	}, nil
}

func (f *fakeRegistry) CreateThingType(ctx context.Context, in *iotdm.CreateThingTypeInput) (*iotdm.CreateThingTypeOutput, error) {
	if err := f.record("CreateThingType", in); err != nil {
		return nil, err
	}
	return &iotdm.CreateThingTypeOutput{ThingTypeName: in.ThingTypeName, ThingTypeARN: fakeARN + "thingtype/" + in.ThingTypeName, ThingTypeID: "type-id"}, nil
}

func (f *fakeRegistry) DescribeThingType(ctx context.Context, in *iotdm.DescribeThingTypeInput) (*iotdm.DescribeThingTypeOutput, error) {
	if err := f.record("DescribeThingType", in); err != nil {
		return nil, err
	}
	return &iotdm.DescribeThingTypeOutput{
		ThingTypeName: in.ThingTypeName, ThingTypeID: "type-id", ThingTypeARN: fakeARN + "thingtype/" + in.ThingTypeName,
		ThingTypeMetadata: iotdm.ThingTypeMetadata{Deprecated: true, DeprecationDate: &fakeCreated, CreationDate: fakeCreated},
	}, nil
}

func (f *fakeRegistry) UpdateThingType(ctx context.Context, in *iotdm.UpdateThingTypeInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, f.record("UpdateThingType", in)
}

func (f *fakeRegistry) DeprecateThingType(ctx context.Context, in *iotdm.DeprecateThingTypeInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, f.record("DeprecateThingType", in)
}

func (f *fakeRegistry) DeleteThingType(ctx context.Context, in *iotdm.DeleteThingTypeInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, f.record("DeleteThingType", in)
}

func (f *fakeRegistry) ListThingTypes(ctx context.Context, in *iotdm.ListThingTypesInput) (*iotdm.ListThingTypesOutput, error) {
	if err := f.record("ListThingTypes", in); err != nil {
		return nil, err
	}
	return &iotdm.ListThingTypesOutput{}, nil
}

func (f *fakeRegistry) CreateThingGroup(ctx context.Context, in *iotdm.CreateThingGroupInput) (*iotdm.CreateThingGroupOutput, error) {
	if err := f.record("CreateThingGroup", in); err != nil {
		return nil, err
	}
	return &iotdm.CreateThingGroupOutput{ThingGroupName: in.ThingGroupName, ThingGroupARN: fakeARN + "thinggroup/" + in.ThingGroupName, ThingGroupID: "group-id"}, nil
}

func (f *fakeRegistry) DescribeThingGroup(ctx context.Context, in *iotdm.DescribeThingGroupInput) (*iotdm.DescribeThingGroupOutput, error) {
	if err := f.record("DescribeThingGroup", in); err != nil {
		return nil, err
	}
	return &iotdm.DescribeThingGroupOutput{ThingGroupName: in.ThingGroupName, Version: 1}, nil
}

func (f *fakeRegistry) UpdateThingGroup(ctx context.Context, in *iotdm.UpdateThingGroupInput) (*iotdm.UpdateThingGroupOutput, error) {
	if err := f.record("UpdateThingGroup", in); err != nil {
		return nil, err
	}
	return &iotdm.UpdateThingGroupOutput{Version: 2}, nil
}

func (f *fakeRegistry) DeleteThingGroup(ctx context.Context, in *iotdm.DeleteThingGroupInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, f.record("DeleteThingGroup", in)
}

func (f *fakeRegistry) ListThingGroups(ctx context.Context, in *iotdm.ListThingGroupsInput) (*iotdm.ListThingGroupsOutput, error) {
	if err := f.record("ListThingGroups", in); err != nil {
		return nil, err
	}
	return &iotdm.ListThingGroupsOutput{}, nil
}

func (f *fakeRegistry) AddThingToThingGroup(ctx context.Context, in *iotdm.AddThingToThingGroupInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, f.record("AddThingToThingGroup", in)
}

func (f *fakeRegistry) RemoveThingFromThingGroup(ctx context.Context, in *iotdm.RemoveThingFromThingGroupInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, f.record("RemoveThingFromThingGroup", in)
}

func (f *fakeRegistry) ListThingsInThingGroup(ctx context.Context, in *iotdm.ListThingsInThingGroupInput) (*iotdm.ListThingsInThingGroupOutput, error) {
	if err := f.record("ListThingsInThingGroup", in); err != nil {
		return nil, err
	}
	return &iotdm.ListThingsInThingGroupOutput{Things: []string{"t1", "t2"}}, nil
}

func (f *fakeRegistry) ListThingGroupsForThing(ctx context.Context, in *iotdm.ListThingGroupsForThingInput) (*iotdm.ListThingGroupsForThingOutput, error) {
	if err := f.record("ListThingGroupsForThing", in); err != nil {
		return nil, err
	}
	return &iotdm.ListThingGroupsForThingOutput{}, nil
}

func (f *fakeRegistry) UpdateThingGroupsForThing(ctx context.Context, in *iotdm.UpdateThingGroupsForThingInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, f.record("UpdateThingGroupsForThing", in)
}

func (f *fakeRegistry) TagResource(ctx context.Context, in *iotdm.TagResourceInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, f.record("TagResource", in)
}

func (f *fakeRegistry) UntagResource(ctx context.Context, in *iotdm.UntagResourceInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, f.record("UntagResource", in)
}

func (f *fakeRegistry) ListTagsForResource(ctx context.Context, in *iotdm.ListTagsForResourceInput) (*iotdm.ListTagsForResourceOutput, error) {
	if err := f.record("ListTagsForResource", in); err != nil {
		return nil, err
	}
	return &iotdm.ListTagsForResourceOutput{Tags: []iotdm.Tag{{Key: "k", Value: "v"}}}, nil
}

func (f *fakeRegistry) DescribeEndpoint(ctx context.Context, in *iotdm.DescribeEndpointInput) (*iotdm.DescribeEndpointOutput, error) {
	if err := f.record("DescribeEndpoint", in); err != nil {
		return nil, err
	}
	return &iotdm.DescribeEndpointOutput{EndpointAddress: "abc123-ats.iot.us-east-1.amazonaws.com"}, nil
}

var _ iotdm.Registry = (*fakeRegistry)(nil)

func TestIoTRoutesCoverRegistry(t *testing.T) {
	checkRoutesCover(t, iotRoutes(&fakeRegistry{}), reflect.TypeFor[iotdm.Registry]())
}

// checkRoutesCover fails unless routes has exactly one route per method of
// the service interfaces.
func checkRoutesCover(t *testing.T, routes []Route, services ...reflect.Type) {
	t.Helper()
	names := map[string]bool{}
	for _, r := range routes {
		if names[r.Name] {
			t.Errorf("route %s listed twice", r.Name)
		}
		names[r.Name] = true
	}
	n := 0
	for _, svc := range services {
		n += svc.NumMethod()
		for i := range svc.NumMethod() {
			if name := svc.Method(i).Name; !names[name] {
				t.Errorf("%s.%s has no route", svc.Name(), name)
			}
		}
	}
	if len(names) != n {
		t.Errorf("%d routes for %d methods of %d services", len(names), n, len(services))
	}
}

// TestIoTRoutesMatchModel checks every route against the botocore iot
// model: method, URI template, and that the uri/query/header tags and JSON
// member names of input and output agree with the model's members.
func TestIoTRoutesMatchModel(t *testing.T) {
	m := loadModel(t, "iot", "2015-05-28")
	if m.Metadata.Protocol != "rest-json" || m.Metadata.SigningName != "iot" {
		t.Fatalf("model metadata %+v", m.Metadata)
	}
	for _, r := range allIoTRoutes() {
		t.Run(r.Name, func(t *testing.T) {
			op, ok := m.Operations[r.Name]
			if !ok {
				t.Fatalf("no operation %s in the model", r.Name)
			}
			if r.Method != op.HTTP.Method || r.Path != op.HTTP.RequestURI {
				t.Errorf("route %s %s, model %s %s", r.Method, r.Path, op.HTTP.Method, op.HTTP.RequestURI)
			}
			if op.Input == nil {
				t.Fatal("model operation has no input")
			}
			checkInput(t, m, r.Input, op.Input.Shape)
			if r.Output == reflect.TypeFor[iotdm.Empty]() {
				if op.Output != nil && len(m.Shapes[op.Output.Shape].Members) > 0 {
					t.Errorf("%s returns Empty but the model's %s has members", r.Name, op.Output.Shape)
				}
				return
			}
			if op.Output == nil {
				t.Fatalf("%s returns %v but the model has no output", r.Name, r.Output)
			}
			checkPayload(t, m, r.Output, op.Output.Shape)
			checkBody(t, m, r.Output, op.Output.Shape, r.Output.Name())
		})
	}
}

// checkInput compares the binding tags of input type t with shape.
func checkInput(t *testing.T, m *serviceModel, typ reflect.Type, shape string) {
	t.Helper()
	s, ok := m.Shapes[shape]
	if !ok {
		t.Fatalf("no shape %s", shape)
	}
	locations := map[string]string{"uri": "uri", "query": "querystring", "header": "header"}
	bound := map[string]bool{} // model member names bound by a tag
	for i := range typ.NumField() {
		f := typ.Field(i)
		for tag, loc := range locations {
			name, ok := f.Tag.Lookup(tag)
			if !ok {
				continue
			}
			found := false
			for member, mm := range s.Members {
				if mm.Location == loc && mm.LocationName == name {
					found, bound[member] = true, true
				}
			}
			if !found {
				t.Errorf("%s.%s: %s:%q matches no %s member of %s", typ.Name(), f.Name, tag, name, loc, shape)
			}
		}
	}
	for member, mm := range s.Members {
		if mm.Location != "" && !bound[member] {
			t.Errorf("%s member %s (%s %q) has no tagged field in %s", shape, member, mm.Location, mm.LocationName, typ.Name())
		}
	}
	checkPayload(t, m, typ, shape)
	checkBody(t, m, typ, shape, typ.Name())
}

// checkPayload checks that typ has a payload:"true" field exactly when shape
// names a payload member, and that the member is a blob (a raw body).
func checkPayload(t *testing.T, m *serviceModel, typ reflect.Type, shape string) {
	t.Helper()
	s := m.Shapes[shape]
	field := structInfoOf(typ).payload
	switch {
	case s.Payload == "" && field >= 0:
		t.Errorf("%s.%s is a raw payload but %s has no payload member", typ.Name(), typ.Field(field).Name, shape)
	case s.Payload != "" && field < 0:
		t.Errorf("%s names payload member %s but %s has no payload:\"true\" field", shape, s.Payload, typ.Name())
	case s.Payload != "":
		if mt := m.Shapes[s.Members[s.Payload].Shape].Type; mt != "blob" {
			t.Errorf("%s payload member %s is a %s; only blob payloads are sent raw", shape, s.Payload, mt)
		}
	}
}

// checkBody checks that every JSON field of typ names a body member of the
// structure shape and that every body member has a JSON field, recursing
// through structures, lists and maps.
func checkBody(t *testing.T, m *serviceModel, typ reflect.Type, shape, path string) {
	t.Helper()
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	s, ok := m.Shapes[shape]
	if !ok {
		t.Errorf("%s: no shape %s", path, shape)
		return
	}
	switch s.Type {
	case "list":
		if typ.Kind() != reflect.Slice {
			t.Errorf("%s: Go %v for list shape %s", path, typ, shape)
			return
		}
		checkBody(t, m, typ.Elem(), s.Member.Shape, path+"[]")
		return
	case "map":
		if typ.Kind() != reflect.Map {
			t.Errorf("%s: Go %v for map shape %s", path, typ, shape)
			return
		}
		checkBody(t, m, typ.Elem(), s.Value.Shape, path+"{}")
		return
	case "structure":
	default:
		return // scalars: the JSON codec's business
	}
	if typ.Kind() != reflect.Struct {
		t.Errorf("%s: Go %v for structure shape %s", path, typ, shape)
		return
	}
	matched := map[string]bool{}
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		var member string
		for mn, mm := range s.Members {
			wire := mn
			if mm.LocationName != "" {
				wire = mm.LocationName
			}
			if mm.Location == "" && wire == name {
				member = mn
			}
		}
		if member == "" {
			t.Errorf("%s.%s: JSON name %q is no body member of %s", path, f.Name, name, shape)
			continue
		}
		matched[member] = true
		checkBody(t, m, f.Type, s.Members[member].Shape, path+"."+name)
	}
	for mn, mm := range s.Members {
		if mm.Location == "" && mn != s.Payload && !matched[mn] {
			t.Errorf("%s: body member %s of %s has no JSON field", path, mn, shape)
		}
	}
}
