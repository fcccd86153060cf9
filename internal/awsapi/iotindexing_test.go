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

// fakeSearch is an iotdm.Search that answers with empty outputs.
type fakeSearch struct{}

var _ iotdm.Search = fakeSearch{}

func (fakeSearch) SearchIndex(context.Context, *iotdm.SearchIndexInput) (*iotdm.SearchIndexOutput, error) {
	return &iotdm.SearchIndexOutput{}, nil
}

func (fakeSearch) GetStatistics(context.Context, *iotdm.GetStatisticsInput) (*iotdm.GetStatisticsOutput, error) {
	return &iotdm.GetStatisticsOutput{}, nil
}

func (fakeSearch) GetCardinality(context.Context, *iotdm.GetCardinalityInput) (*iotdm.GetCardinalityOutput, error) {
	return &iotdm.GetCardinalityOutput{}, nil
}

func (fakeSearch) GetPercentiles(context.Context, *iotdm.GetPercentilesInput) (*iotdm.GetPercentilesOutput, error) {
	return &iotdm.GetPercentilesOutput{}, nil
}

func (fakeSearch) GetBucketsAggregation(context.Context, *iotdm.GetBucketsAggregationInput) (*iotdm.GetBucketsAggregationOutput, error) {
	return &iotdm.GetBucketsAggregationOutput{}, nil
}

// allIoTRoutes is every route NewIoT serves in cmd/iotdm.
func allIoTRoutes() []Route {
	sec := fakeSecurity{&fakeRegistry{}}
	routes := append(iotRoutes(&fakeRegistry{}), IndexingRoutes(fakeIndexing{}, fakeIndexing{})...)
	routes = append(routes, SecurityRoutes(sec, sec)...)
	conn := fakeConnectivity{&fakeRegistry{}}
	routes = append(routes, ConnectivityRoutes(conn, conn)...)
	routes = append(routes, FleetMetricsRoutes(fakeFleetMetrics{&fakeRegistry{}})...)
	routes = append(routes, ProvisioningRoutes(fakeProvisioning{&fakeRegistry{}})...)
	routes = append(routes, LoggingRoutes(stubIoTLogging{})...)
	routes = append(routes, JobsRoutes(nopJobs{})...)
	return append(routes, SearchRoutes(fakeSearch{})...)
}

func TestIndexingRoutesCoverServices(t *testing.T) {
	checkRoutesCover(t, IndexingRoutes(fakeIndexing{}, fakeIndexing{}), reflect.TypeFor[iotdm.Indexing](), reflect.TypeFor[iotdm.DynamicGroups]())
	checkRoutesCover(t, SearchRoutes(fakeSearch{}), reflect.TypeFor[iotdm.Search]())
	// Every route of the iot endpoint belongs to exactly one service method.
	checkRoutesCover(t, allIoTRoutes(), reflect.TypeFor[iotdm.Registry](), reflect.TypeFor[iotdm.Indexing](),
		reflect.TypeFor[iotdm.DynamicGroups](), reflect.TypeFor[iotdm.Search](), reflect.TypeFor[iotdm.Certificates](),
		reflect.TypeFor[iotdm.Policies](), reflect.TypeFor[iotdm.Connectivity](), reflect.TypeFor[iotdm.EventConfigurations](),
		reflect.TypeFor[iotdm.FleetMetrics](), reflect.TypeFor[iotdm.ProvisioningTemplates](),
		reflect.TypeFor[iotdm.IoTLogging](), reflect.TypeFor[iotdm.Jobs]())
}
