package awsapi

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/google/go-cmp/cmp"

	"github.com/iotdm/iotdm"
)

// fakeFleetMetrics is an iotdm.FleetMetrics that records its calls in the
// fakeRegistry it wraps and answers with fixed outputs, or with the error
// its fail returns.
type fakeFleetMetrics struct{ *fakeRegistry }

var _ iotdm.FleetMetrics = fakeFleetMetrics{}

func (f fakeFleetMetrics) CreateFleetMetric(ctx context.Context, in *iotdm.CreateFleetMetricInput) (*iotdm.CreateFleetMetricOutput, error) {
	if err := f.record("CreateFleetMetric", in); err != nil {
		return nil, err
	}
	return &iotdm.CreateFleetMetricOutput{MetricName: in.MetricName, MetricARN: fakeARN + "fleetmetric/" + in.MetricName}, nil
}

func (f fakeFleetMetrics) DescribeFleetMetric(ctx context.Context, in *iotdm.DescribeFleetMetricInput) (*iotdm.DescribeFleetMetricOutput, error) {
	if err := f.record("DescribeFleetMetric", in); err != nil {
		return nil, err
	}
	return &iotdm.DescribeFleetMetricOutput{
		MetricName: in.MetricName, QueryString: "attributes.temp > 20",
		AggregationType: iotdm.AggregationType{Name: iotdm.AggregationPercentiles, Values: []string{"50", "99"}},
		Period:          300, AggregationField: "attributes.temp", Description: "hot", QueryVersion: iotdm.QueryVersion,
		IndexName: iotdm.IndexThings, CreationDate: fakeCreated, LastModifiedDate: fakeCreated, Unit: "Count/Second",
		Version: 4, MetricARN: fakeARN + "fleetmetric/" + in.MetricName,
	}, nil
}

func (f fakeFleetMetrics) UpdateFleetMetric(ctx context.Context, in *iotdm.UpdateFleetMetricInput) (*iotdm.Empty, error) {
	if err := f.record("UpdateFleetMetric", in); err != nil {
		return nil, err
	}
	return &iotdm.Empty{}, nil
}

func (f fakeFleetMetrics) DeleteFleetMetric(ctx context.Context, in *iotdm.DeleteFleetMetricInput) (*iotdm.Empty, error) {
	if err := f.record("DeleteFleetMetric", in); err != nil {
		return nil, err
	}
	return &iotdm.Empty{}, nil
}

func (f fakeFleetMetrics) ListFleetMetrics(ctx context.Context, in *iotdm.ListFleetMetricsInput) (*iotdm.ListFleetMetricsOutput, error) {
	if err := f.record("ListFleetMetrics", in); err != nil {
		return nil, err
	}
	return &iotdm.ListFleetMetricsOutput{
		FleetMetrics: []iotdm.FleetMetricNameAndArn{{MetricName: "m.1", MetricARN: fakeARN + "fleetmetric/m.1"}},
		NextToken:    "next/+=",
	}, nil
}

func TestFleetMetricRoutesCoverService(t *testing.T) {
	checkRoutesCover(t, FleetMetricsRoutes(fakeFleetMetrics{&fakeRegistry{}}), reflect.TypeFor[iotdm.FleetMetrics]())
}

// TestFleetMetricRoutesMatchModel holds the routes to the botocore iot
// model as TestIoTRoutesMatchModel does for the rest of the endpoint, and
// checks they compile beside every other route of the endpoint.
func TestFleetMetricRoutesMatchModel(t *testing.T) {
	routes := FleetMetricsRoutes(fakeFleetMetrics{&fakeRegistry{}})
	// The whole endpoint compiles with them (NewRestJSON panics on a
	// collision), whether or not allIoTRoutes lists them yet.
	endpoint := slices.DeleteFunc(allIoTRoutes(), func(r Route) bool {
		return slices.ContainsFunc(routes, func(m Route) bool { return m.Name == r.Name })
	})
	NewRestJSON(append(endpoint, routes...))
	m := loadModel(t, "iot", "2015-05-28")
	for _, r := range routes {
		t.Run(r.Name, func(t *testing.T) {
			op, ok := m.Operations[r.Name]
			if !ok {
				t.Fatalf("no operation %s in the model", r.Name)
			}
			if r.Method != op.HTTP.Method || r.Path != op.HTTP.RequestURI {
				t.Errorf("route %s %s, model %s %s", r.Method, r.Path, op.HTTP.Method, op.HTTP.RequestURI)
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

func TestIoTWithSDKBindsFleetMetricRequests(t *testing.T) {
	fake := &fakeRegistry{}
	s := New(Config{Keys: testKeys, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	s.Handle("iot", NewIoT(fake, FleetMetricsRoutes(fakeFleetMetrics{fake})))
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	client := newIoTClient(srv.URL, testAKID, testSecret)
	ctx := context.Background()

	t.Run("CreateFleetMetric", func(t *testing.T) {
		out, err := client.CreateFleetMetric(ctx, &iot.CreateFleetMetricInput{
			MetricName:       aws.String("hot.devices_1-a"),
			QueryString:      aws.String("attributes.temp > 20 AND thingName:dev*"),
			AggregationType:  &types.AggregationType{Name: types.AggregationTypeNameStatistics, Values: []string{"count", "sumOfSquares"}},
			Period:           aws.Int32(120),
			AggregationField: aws.String("attributes.temp"),
			Description:      aws.String("devices above 20"),
			QueryVersion:     aws.String("2017-09-30"),
			IndexName:        aws.String("AWS_Things"),
			Unit:             types.FleetMetricUnitCountSecond,
			Tags:             []types.Tag{{Key: aws.String("team"), Value: aws.String("ops")}},
		})
		if err != nil {
			t.Fatal(err)
		}
		want := &iotdm.CreateFleetMetricInput{
			MetricName: "hot.devices_1-a", QueryString: "attributes.temp > 20 AND thingName:dev*",
			AggregationType: &iotdm.AggregationType{Name: "Statistics", Values: []string{"count", "sumOfSquares"}},
			Period:          120, AggregationField: "attributes.temp", Description: "devices above 20", QueryVersion: "2017-09-30",
			IndexName: "AWS_Things", Unit: "Count/Second", Tags: []iotdm.Tag{{Key: "team", Value: "ops"}},
		}
		if diff := cmp.Diff(want, fake.last(t, "CreateFleetMetric")); diff != "" {
			t.Errorf("CreateFleetMetric input (-want +got):\n%s", diff)
		}
		if aws.ToString(out.MetricName) != "hot.devices_1-a" || aws.ToString(out.MetricArn) != fakeARN+"fleetmetric/hot.devices_1-a" {
			t.Errorf("CreateFleetMetric output %+v", out)
		}
	})

	t.Run("DescribeFleetMetric", func(t *testing.T) {
		out, err := client.DescribeFleetMetric(ctx, &iot.DescribeFleetMetricInput{MetricName: aws.String("m.1")})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&iotdm.DescribeFleetMetricInput{MetricName: "m.1"}, fake.last(t, "DescribeFleetMetric")); diff != "" {
			t.Errorf("DescribeFleetMetric input (-want +got):\n%s", diff)
		}
		if aws.ToString(out.MetricName) != "m.1" || aws.ToString(out.QueryString) != "attributes.temp > 20" ||
			out.AggregationType == nil || out.AggregationType.Name != types.AggregationTypeNamePercentiles ||
			!cmp.Equal(out.AggregationType.Values, []string{"50", "99"}) || aws.ToInt32(out.Period) != 300 ||
			aws.ToString(out.AggregationField) != "attributes.temp" || aws.ToString(out.Description) != "hot" ||
			aws.ToString(out.QueryVersion) != iotdm.QueryVersion || aws.ToString(out.IndexName) != "AWS_Things" ||
			!aws.ToTime(out.CreationDate).Equal(fakeCreated.Time) || !aws.ToTime(out.LastModifiedDate).Equal(fakeCreated.Time) ||
			out.Unit != types.FleetMetricUnitCountSecond || out.Version != 4 || aws.ToString(out.MetricArn) != fakeARN+"fleetmetric/m.1" {
			t.Errorf("DescribeFleetMetric output %+v", out)
		}
	})

	t.Run("UpdateFleetMetric", func(t *testing.T) {
		_, err := client.UpdateFleetMetric(ctx, &iot.UpdateFleetMetricInput{
			MetricName: aws.String("m.1"), IndexName: aws.String("AWS_Things"), ExpectedVersion: aws.Int64(4),
			Period: aws.Int32(60), Description: aws.String(""), AggregationType: &types.AggregationType{Name: types.AggregationTypeNameCardinality},
		})
		if err != nil {
			t.Fatal(err)
		}
		want := &iotdm.UpdateFleetMetricInput{
			MetricName: "m.1", IndexName: "AWS_Things", ExpectedVersion: ptr(int64(4)), Period: ptr(60),
			Description: ptr(""), AggregationType: &iotdm.AggregationType{Name: "Cardinality"},
		}
		if diff := cmp.Diff(want, fake.last(t, "UpdateFleetMetric")); diff != "" {
			t.Errorf("UpdateFleetMetric input (-want +got):\n%s", diff)
		}
	})

	t.Run("DeleteFleetMetric", func(t *testing.T) {
		if _, err := client.DeleteFleetMetric(ctx, &iot.DeleteFleetMetricInput{MetricName: aws.String("m.1"), ExpectedVersion: aws.Int64(7)}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&iotdm.DeleteFleetMetricInput{MetricName: "m.1", ExpectedVersion: ptr(int64(7))}, fake.last(t, "DeleteFleetMetric")); diff != "" {
			t.Errorf("DeleteFleetMetric input (-want +got):\n%s", diff)
		}
	})

	t.Run("ListFleetMetrics", func(t *testing.T) {
		out, err := client.ListFleetMetrics(ctx, &iot.ListFleetMetricsInput{MaxResults: aws.Int32(25), NextToken: aws.String("tok/+= x")})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&iotdm.ListFleetMetricsInput{MaxResults: 25, NextToken: "tok/+= x"}, fake.last(t, "ListFleetMetrics")); diff != "" {
			t.Errorf("ListFleetMetrics input (-want +got):\n%s", diff)
		}
		if len(out.FleetMetrics) != 1 || aws.ToString(out.FleetMetrics[0].MetricName) != "m.1" ||
			aws.ToString(out.FleetMetrics[0].MetricArn) != fakeARN+"fleetmetric/m.1" || aws.ToString(out.NextToken) != "next/+=" {
			t.Errorf("ListFleetMetrics output %+v", out)
		}
	})
}
