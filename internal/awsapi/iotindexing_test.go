package awsapi

import (
	"context"
	"reflect"
	"testing"

	"github.com/iotdm/iotdm"
)

// fakeIndexing is an iotdm.Indexing and iotdm.DynamicGroups that answers
// with empty outputs; the route tables only need the method values.
type fakeIndexing struct{}

var (
	_ iotdm.Indexing      = fakeIndexing{}
	_ iotdm.DynamicGroups = fakeIndexing{}
)

func (fakeIndexing) UpdateIndexingConfiguration(context.Context, *iotdm.UpdateIndexingConfigurationInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, nil
}

func (fakeIndexing) GetIndexingConfiguration(context.Context, *iotdm.GetIndexingConfigurationInput) (*iotdm.GetIndexingConfigurationOutput, error) {
	return &iotdm.GetIndexingConfigurationOutput{}, nil
}

func (fakeIndexing) DescribeIndex(context.Context, *iotdm.DescribeIndexInput) (*iotdm.DescribeIndexOutput, error) {
	return &iotdm.DescribeIndexOutput{}, nil
}

func (fakeIndexing) ListIndices(context.Context, *iotdm.ListIndicesInput) (*iotdm.ListIndicesOutput, error) {
	return &iotdm.ListIndicesOutput{}, nil
}

func (fakeIndexing) CreateDynamicThingGroup(context.Context, *iotdm.CreateDynamicThingGroupInput) (*iotdm.CreateDynamicThingGroupOutput, error) {
	return &iotdm.CreateDynamicThingGroupOutput{}, nil
}

func (fakeIndexing) UpdateDynamicThingGroup(context.Context, *iotdm.UpdateDynamicThingGroupInput) (*iotdm.UpdateDynamicThingGroupOutput, error) {
	return &iotdm.UpdateDynamicThingGroupOutput{}, nil
}

func (fakeIndexing) DeleteDynamicThingGroup(context.Context, *iotdm.DeleteDynamicThingGroupInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, nil
}

// allIoTRoutes is every route NewIoT serves in cmd/iotdm.
func allIoTRoutes() []Route {
	return append(iotRoutes(&fakeRegistry{}), IndexingRoutes(fakeIndexing{}, fakeIndexing{})...)
}

func TestIndexingRoutesCoverServices(t *testing.T) {
	routes := map[string]bool{}
	for _, r := range allIoTRoutes() {
		if routes[r.Name] {
			t.Errorf("route %s listed twice", r.Name)
		}
		routes[r.Name] = true
	}
	for _, iface := range []reflect.Type{reflect.TypeFor[iotdm.Indexing](), reflect.TypeFor[iotdm.DynamicGroups]()} {
		for i := range iface.NumMethod() {
			if name := iface.Method(i).Name; !routes[name] {
				t.Errorf("%s.%s has no route", iface.Name(), name)
			}
		}
	}
	if got, want := len(IndexingRoutes(fakeIndexing{}, fakeIndexing{})),
		reflect.TypeFor[iotdm.Indexing]().NumMethod()+reflect.TypeFor[iotdm.DynamicGroups]().NumMethod(); got != want {
		t.Errorf("%d indexing routes for %d methods", got, want)
	}
}
