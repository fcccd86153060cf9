package awsapi_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/google/go-cmp/cmp"

	"github.com/iotdm/iotdm/internal/awsapi"
	"github.com/iotdm/iotdm/internal/control"
	"github.com/iotdm/iotdm/internal/sqlite"
)

// These tests drive the fleet metrics routes end to end: a real AWS SDK
// for Go v2 client, the signed edge, and the fleet metrics, indexing and
// registry services on a real SQLite store, composed as cmd/iotdm does.

const (
	fmAKID   = "AKIDFLEETMETRICS"
	fmSecret = "fleet/metrics+secret/EXAMPLEKEY"
	fmMax    = 8 // the fleet metrics cap of the server under test
)

// newFleetMetricsClient serves the iot endpoint with the fleet metrics
// routes over a fresh store and returns a client for it.
func newFleetMetricsClient(t *testing.T) *iot.Client {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "fm.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	const region, account = "us-east-1", "123456789012"
	reg := control.NewRegistry(db, control.RegistryOptions{Region: region, AccountID: account})
	ix := control.NewIndexing(db, control.IndexingOptions{})
	fm := control.NewFleetMetrics(db, control.FleetMetricsOptions{Region: region, AccountID: account, MaxMetrics: fmMax})
	s := awsapi.New(awsapi.Config{
		Keys: func(id string) (string, bool) {
			return fmSecret, id == fmAKID
		},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	s.Handle("iot", awsapi.NewIoT(reg, awsapi.IndexingRoutes(ix, reg), awsapi.FleetMetricsRoutes(fm)))
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return iot.New(iot.Options{
		Region:       region,
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(fmAKID, fmSecret, ""),
		Retryer:      aws.NopRetryer{},
	})
}

// wantAPIError fails unless err is the SDK's typed exception E with the
// HTTP status, and returns it.
func wantAPIError[E error](t *testing.T, op string, err error, status int) E {
	t.Helper()
	var e E
	if !errors.As(err, &e) {
		t.Fatalf("%s: err = %v, want %T", op, err, e)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != status {
		t.Errorf("%s: status = %v, want %d", op, err, status)
	}
	return e
}

func fmCreateInput(name string) *iot.CreateFleetMetricInput {
	return &iot.CreateFleetMetricInput{
		MetricName:       aws.String(name),
		QueryString:      aws.String("attributes.temp > 20"),
		AggregationType:  &types.AggregationType{Name: types.AggregationTypeNameStatistics, Values: []string{"count", "average"}},
		Period:           aws.Int32(60),
		AggregationField: aws.String("attributes.temp"),
	}
}

func TestFleetMetricsWithSDK(t *testing.T) {
	c := newFleetMetricsClient(t)
	ctx := context.Background()
	_, err := c.UpdateIndexingConfiguration(ctx, &iot.UpdateIndexingConfigurationInput{
		ThingIndexingConfiguration: &types.ThingIndexingConfiguration{
			ThingIndexingMode: types.ThingIndexingModeRegistry,
			CustomFields:      []types.Field{{Name: aws.String("attributes.temp"), Type: types.FieldTypeNumber}},
		},
	})
	if err != nil {
		t.Fatalf("UpdateIndexingConfiguration: %v", err)
	}
	const name, arn = "hot.devices_1-a", "arn:aws:iot:us-east-1:123456789012:fleetmetric/hot.devices_1-a"

	t.Run("create and describe", func(t *testing.T) {
		in := fmCreateInput(name)
		in.Description = aws.String("devices above 20")
		in.Unit = types.FleetMetricUnitCount
		in.Tags = []types.Tag{{Key: aws.String("team"), Value: aws.String("ops")}}
		out, err := c.CreateFleetMetric(ctx, in)
		if err != nil {
			t.Fatalf("CreateFleetMetric: %v", err)
		}
		if aws.ToString(out.MetricName) != name || aws.ToString(out.MetricArn) != arn {
			t.Errorf("CreateFleetMetric = %s %s, want %s %s", aws.ToString(out.MetricName), aws.ToString(out.MetricArn), name, arn)
		}
		d, err := c.DescribeFleetMetric(ctx, &iot.DescribeFleetMetricInput{MetricName: aws.String(name)})
		if err != nil {
			t.Fatalf("DescribeFleetMetric: %v", err)
		}
		if aws.ToString(d.MetricName) != name || aws.ToString(d.MetricArn) != arn || aws.ToString(d.QueryString) != "attributes.temp > 20" ||
			d.AggregationType.Name != types.AggregationTypeNameStatistics || !cmp.Equal(d.AggregationType.Values, []string{"count", "average"}) ||
			aws.ToInt32(d.Period) != 60 || aws.ToString(d.AggregationField) != "attributes.temp" || aws.ToString(d.Description) != "devices above 20" ||
			aws.ToString(d.QueryVersion) != "2017-09-30" || aws.ToString(d.IndexName) != "AWS_Things" || d.Unit != types.FleetMetricUnitCount ||
			d.Version != 1 || d.CreationDate == nil || !aws.ToTime(d.CreationDate).Equal(aws.ToTime(d.LastModifiedDate)) {
			t.Errorf("DescribeFleetMetric = %+v", d)
		}
		tags, err := c.ListTagsForResource(ctx, &iot.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
		if err != nil {
			t.Fatalf("ListTagsForResource: %v", err)
		}
		if len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Key) != "team" || aws.ToString(tags.Tags[0].Value) != "ops" {
			t.Errorf("ListTagsForResource = %+v", tags.Tags)
		}
	})

	t.Run("create of an existing name", func(t *testing.T) {
		_, err := c.CreateFleetMetric(ctx, fmCreateInput(name))
		e := wantAPIError[*types.ResourceAlreadyExistsException](t, "CreateFleetMetric(existing)", err, 409)
		if aws.ToString(e.ResourceId) != name || aws.ToString(e.ResourceArn) != arn {
			t.Errorf("resourceId %q resourceArn %q", aws.ToString(e.ResourceId), aws.ToString(e.ResourceArn))
		}
	})

	t.Run("refused creates", func(t *testing.T) {
		in := fmCreateInput("bad")
		in.Period = aws.Int32(90)
		_, err := c.CreateFleetMetric(ctx, in)
		wantAPIError[*types.InvalidRequestException](t, "CreateFleetMetric(period 90)", err, 400)

		in = fmCreateInput("bad")
		in.QueryString = aws.String("thingName:(a OR")
		_, err = c.CreateFleetMetric(ctx, in)
		wantAPIError[*types.InvalidQueryException](t, "CreateFleetMetric(bad query)", err, 400)

		in = fmCreateInput("bad")
		in.AggregationField = aws.String("attributes.color")
		_, err = c.CreateFleetMetric(ctx, in)
		wantAPIError[*types.InvalidAggregationException](t, "CreateFleetMetric(field not indexed)", err, 400)

		in = fmCreateInput("bad")
		in.IndexName = aws.String("AWS_Jobs")
		_, err = c.CreateFleetMetric(ctx, in)
		wantAPIError[*types.ResourceNotFoundException](t, "CreateFleetMetric(unknown index)", err, 404)
	})

	t.Run("update and version conflict", func(t *testing.T) {
		_, err := c.UpdateFleetMetric(ctx, &iot.UpdateFleetMetricInput{
			MetricName: aws.String(name), IndexName: aws.String("AWS_Things"), ExpectedVersion: aws.Int64(1),
			AggregationType: &types.AggregationType{Name: types.AggregationTypeNamePercentiles, Values: []string{"50", "90"}},
			Period:          aws.Int32(600),
		})
		if err != nil {
			t.Fatalf("UpdateFleetMetric: %v", err)
		}
		d, err := c.DescribeFleetMetric(ctx, &iot.DescribeFleetMetricInput{MetricName: aws.String(name)})
		if err != nil {
			t.Fatalf("DescribeFleetMetric: %v", err)
		}
		if d.Version != 2 || aws.ToInt32(d.Period) != 600 || d.AggregationType.Name != types.AggregationTypeNamePercentiles ||
			aws.ToString(d.Description) != "devices above 20" {
			t.Errorf("after UpdateFleetMetric: %+v", d)
		}
		_, err = c.UpdateFleetMetric(ctx, &iot.UpdateFleetMetricInput{MetricName: aws.String(name), IndexName: aws.String("AWS_Things"), ExpectedVersion: aws.Int64(1)})
		wantAPIError[*types.VersionConflictException](t, "UpdateFleetMetric(expectedVersion 1 of 2)", err, 409)
		_, err = c.UpdateFleetMetric(ctx, &iot.UpdateFleetMetricInput{MetricName: aws.String("none"), IndexName: aws.String("AWS_Things")})
		wantAPIError[*types.ResourceNotFoundException](t, "UpdateFleetMetric(none)", err, 404)
		_, err = c.UpdateFleetMetric(ctx, &iot.UpdateFleetMetricInput{MetricName: aws.String(name), IndexName: aws.String("AWS_Things"),
			AggregationField: aws.String("thingName")})
		wantAPIError[*types.InvalidAggregationException](t, "UpdateFleetMetric(percentiles of a String field)", err, 400)
	})

	t.Run("list pages", func(t *testing.T) {
		want := []string{name}
		for i := range fmMax - 1 {
			n := fmt.Sprintf("m-%02d", i)
			if _, err := c.CreateFleetMetric(ctx, fmCreateInput(n)); err != nil {
				t.Fatalf("CreateFleetMetric(%s): %v", n, err)
			}
			want = append(want, n)
		}
		var got []string
		pages := 0
		p := iot.NewListFleetMetricsPaginator(c, &iot.ListFleetMetricsInput{MaxResults: aws.Int32(3)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("ListFleetMetrics page %d: %v", pages+1, err)
			}
			pages++
			if len(page.FleetMetrics) > 3 {
				t.Errorf("page %d has %d metrics, want at most 3", pages, len(page.FleetMetrics))
			}
			for _, m := range page.FleetMetrics {
				got = append(got, aws.ToString(m.MetricName))
				if aws.ToString(m.MetricArn) != "arn:aws:iot:us-east-1:123456789012:fleetmetric/"+aws.ToString(m.MetricName) {
					t.Errorf("metric %s has ARN %s", aws.ToString(m.MetricName), aws.ToString(m.MetricArn))
				}
			}
		}
		if diff := cmp.Diff(want, got); diff != "" || pages != 3 {
			t.Errorf("ListFleetMetrics in %d pages (want 3), names (-want +got):\n%s", pages, diff)
		}
		_, err := c.ListFleetMetrics(ctx, &iot.ListFleetMetricsInput{MaxResults: aws.Int32(251)})
		wantAPIError[*types.InvalidRequestException](t, "ListFleetMetrics(maxResults 251)", err, 400)
		_, err = c.ListFleetMetrics(ctx, &iot.ListFleetMetricsInput{NextToken: aws.String("forged")})
		wantAPIError[*types.InvalidRequestException](t, "ListFleetMetrics(forged token)", err, 400)
	})

	t.Run("limit", func(t *testing.T) {
		_, err := c.CreateFleetMetric(ctx, fmCreateInput("one-too-many"))
		wantAPIError[*types.LimitExceededException](t, fmt.Sprintf("CreateFleetMetric(%d+1)", fmMax), err, 410)
	})

	t.Run("delete", func(t *testing.T) {
		_, err := c.DeleteFleetMetric(ctx, &iot.DeleteFleetMetricInput{MetricName: aws.String(name), ExpectedVersion: aws.Int64(1)})
		wantAPIError[*types.VersionConflictException](t, "DeleteFleetMetric(expectedVersion 1 of 2)", err, 409)
		if _, err := c.DeleteFleetMetric(ctx, &iot.DeleteFleetMetricInput{MetricName: aws.String(name), ExpectedVersion: aws.Int64(2)}); err != nil {
			t.Fatalf("DeleteFleetMetric: %v", err)
		}
		_, err = c.DescribeFleetMetric(ctx, &iot.DescribeFleetMetricInput{MetricName: aws.String(name)})
		wantAPIError[*types.ResourceNotFoundException](t, "DescribeFleetMetric(deleted)", err, 404)
		if _, err := c.DeleteFleetMetric(ctx, &iot.DeleteFleetMetricInput{MetricName: aws.String(name)}); err != nil {
			t.Errorf("DeleteFleetMetric(missing) = %v, want success", err)
		}
	})

	t.Run("index not ready", func(t *testing.T) {
		_, err := c.UpdateIndexingConfiguration(ctx, &iot.UpdateIndexingConfigurationInput{
			ThingIndexingConfiguration: &types.ThingIndexingConfiguration{ThingIndexingMode: types.ThingIndexingModeOff},
		})
		if err != nil {
			t.Fatalf("UpdateIndexingConfiguration(OFF): %v", err)
		}
		_, err = c.CreateFleetMetric(ctx, fmCreateInput("late"))
		wantAPIError[*types.IndexNotReadyException](t, "CreateFleetMetric(index OFF)", err, 400)
		_, err = c.UpdateFleetMetric(ctx, &iot.UpdateFleetMetricInput{MetricName: aws.String("m-00"), IndexName: aws.String("AWS_Things")})
		wantAPIError[*types.IndexNotReadyException](t, "UpdateFleetMetric(index OFF)", err, 400)
	})
}
