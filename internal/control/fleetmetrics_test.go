package control_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/control"
	"github.com/iotdm/iotdm/internal/sqlite"
)

// fmFixture is the fleet metrics service on a real SQLite store, with the
// indexing service that decides what may be aggregated, the registry that
// tags, and a settable clock.
type fmFixture struct {
	fm       *control.FleetMetrics
	indexing *control.Indexing
	reg      *control.Registry
	db       iotdm.Store
	clk      *clock
}

func newFMFixture(t *testing.T, opts control.FleetMetricsOptions) *fmFixture {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "fm.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	opts.Region, opts.AccountID, opts.Now = "us-east-1", "123456789012", clk.Now
	f := &fmFixture{
		fm:       control.NewFleetMetrics(db, opts),
		indexing: control.NewIndexing(db, control.IndexingOptions{}),
		reg:      control.NewRegistry(db, control.RegistryOptions{Region: "us-east-1", AccountID: "123456789012", Now: clk.Now}),
		db:       db,
		clk:      clk,
	}
	// attributes.temp is a Number, attributes.model a String; the
	// connectivity and shadow managed fields come with the modes.
	_, err = f.indexing.UpdateIndexingConfiguration(t.Context(), &iotdm.UpdateIndexingConfigurationInput{
		ThingIndexingConfiguration: &iotdm.ThingIndexingConfiguration{
			ThingIndexingMode:             iotdm.ThingIndexingRegistryAndShadow,
			ThingConnectivityIndexingMode: iotdm.ConnectivityIndexingStatus,
			CustomFields: []iotdm.Field{
				{Name: "attributes.temp", Type: iotdm.FieldTypeNumber},
				{Name: "attributes.model", Type: iotdm.FieldTypeString},
			},
		},
		ThingGroupIndexingConfiguration: &iotdm.ThingGroupIndexingConfiguration{ThingGroupIndexingMode: iotdm.ThingGroupIndexingOn},
	})
	if err != nil {
		t.Fatalf("UpdateIndexingConfiguration: %v", err)
	}
	return f
}

// fmInput is a valid CreateFleetMetricInput for name.
func fmInput(name string) *iotdm.CreateFleetMetricInput {
	return &iotdm.CreateFleetMetricInput{
		MetricName:       name,
		QueryString:      "attributes.temp > 20",
		AggregationType:  &iotdm.AggregationType{Name: iotdm.AggregationStatistics, Values: []string{"average", "count"}},
		Period:           60,
		AggregationField: "attributes.temp",
	}
}

func (f *fmFixture) create(t *testing.T, in *iotdm.CreateFleetMetricInput) *iotdm.CreateFleetMetricOutput {
	t.Helper()
	out, err := f.fm.CreateFleetMetric(t.Context(), in)
	if err != nil {
		t.Fatalf("CreateFleetMetric(%s): %v", in.MetricName, err)
	}
	return out
}

func (f *fmFixture) describe(t *testing.T, name string) *iotdm.DescribeFleetMetricOutput {
	t.Helper()
	out, err := f.fm.DescribeFleetMetric(t.Context(), &iotdm.DescribeFleetMetricInput{MetricName: name})
	if err != nil {
		t.Fatalf("DescribeFleetMetric(%s): %v", name, err)
	}
	return out
}

func fmStr(s string) *string { return &s }

func TestFleetMetricCreateAndDescribe(t *testing.T) {
	f := newFMFixture(t, control.FleetMetricsOptions{})
	ctx := t.Context()
	in := fmInput("hot.devices_1-a")
	in.Description = "devices above 20 degrees"
	in.Unit = "Count"
	in.Tags = []iotdm.Tag{{Key: "team", Value: "ops"}}
	out := f.create(t, in)
	const arn = "arn:aws:iot:us-east-1:123456789012:fleetmetric/hot.devices_1-a"
	if out.MetricName != in.MetricName || out.MetricARN != arn {
		t.Errorf("CreateFleetMetric = %+v, want name %s arn %s", out, in.MetricName, arn)
	}
	created := iotdm.Timestamp{Time: f.clk.Now()}
	want := &iotdm.DescribeFleetMetricOutput{
		MetricName:       in.MetricName,
		QueryString:      in.QueryString,
		AggregationType:  iotdm.AggregationType{Name: "Statistics", Values: []string{"average", "count"}},
		Period:           60,
		AggregationField: "attributes.temp",
		Description:      in.Description,
		QueryVersion:     iotdm.QueryVersion,
		IndexName:        iotdm.IndexThings,
		CreationDate:     created,
		LastModifiedDate: created,
		Unit:             "Count",
		Version:          1,
		MetricARN:        arn,
	}
	if diff := cmp.Diff(want, f.describe(t, in.MetricName)); diff != "" {
		t.Errorf("DescribeFleetMetric (-want +got):\n%s", diff)
	}

	t.Run("tags travel with the metric and through TagResource", func(t *testing.T) {
		tags, err := f.reg.ListTagsForResource(ctx, &iotdm.ListTagsForResourceInput{ResourceARN: arn})
		if err != nil {
			t.Fatalf("ListTagsForResource: %v", err)
		}
		if diff := cmp.Diff([]iotdm.Tag{{Key: "team", Value: "ops"}}, tags.Tags); diff != "" {
			t.Errorf("tags (-want +got):\n%s", diff)
		}
		if _, err := f.reg.TagResource(ctx, &iotdm.TagResourceInput{ResourceARN: arn, Tags: []iotdm.Tag{{Key: "env", Value: "prod"}}}); err != nil {
			t.Fatalf("TagResource: %v", err)
		}
		if _, err := f.reg.UntagResource(ctx, &iotdm.UntagResourceInput{ResourceARN: arn, TagKeys: []string{"team"}}); err != nil {
			t.Fatalf("UntagResource: %v", err)
		}
		tags, err = f.reg.ListTagsForResource(ctx, &iotdm.ListTagsForResourceInput{ResourceARN: arn})
		if err != nil {
			t.Fatalf("ListTagsForResource: %v", err)
		}
		if diff := cmp.Diff([]iotdm.Tag{{Key: "env", Value: "prod"}}, tags.Tags); diff != "" {
			t.Errorf("tags after TagResource and UntagResource (-want +got):\n%s", diff)
		}
		// Tagging is no update of the metric.
		if got := f.describe(t, in.MetricName); got.Version != 1 || got.QueryString != in.QueryString {
			t.Errorf("after tagging: version %d query %q, want 1 %q", got.Version, got.QueryString, in.QueryString)
		}
		_, err = f.reg.TagResource(ctx, &iotdm.TagResourceInput{ResourceARN: "arn:aws:iot:us-east-1:123456789012:fleetmetric/none", Tags: []iotdm.Tag{{Key: "a", Value: "b"}}})
		wantCode(t, "TagResource(missing metric)", err, iotdm.ErrResourceNotFound)
	})

	t.Run("every aggregation type on a field it suits", func(t *testing.T) {
		for _, in := range []*iotdm.CreateFleetMetricInput{
			{MetricName: "p", QueryString: "*", AggregationType: &iotdm.AggregationType{Name: "Percentiles", Values: []string{"50", "99", "0", "100"}}, Period: 120, AggregationField: "attributes.temp"},
			{MetricName: "card", QueryString: "*", AggregationType: &iotdm.AggregationType{Name: "Cardinality"}, Period: 300, AggregationField: "attributes.model"},
			{MetricName: "card2", QueryString: "*", AggregationType: &iotdm.AggregationType{Name: "Cardinality", Values: []string{"cardinality"}}, Period: 86400, AggregationField: "thingName"},
			{MetricName: "connected", QueryString: "*", AggregationType: &iotdm.AggregationType{Name: "Statistics", Values: []string{"average", "sum"}}, Period: 60, AggregationField: "connectivity.connected"},
			{MetricName: "models", QueryString: "attributes.model:A", AggregationType: &iotdm.AggregationType{Name: "Statistics", Values: []string{"count"}}, Period: 60, AggregationField: "attributes.model"},
			{MetricName: "all-stats", QueryString: "thingName:dev*", AggregationType: &iotdm.AggregationType{Name: "Statistics", Values: []string{"count", "average", "sum", "minimum", "maximum", "sumOfSquares", "variance", "stdDeviation"}}, Period: 60, AggregationField: "registry.version"},
			{MetricName: "groups", QueryString: "thingGroupName:floor*", IndexName: iotdm.IndexThingGroups, AggregationType: &iotdm.AggregationType{Name: "Statistics", Values: []string{"maximum"}}, Period: 60, AggregationField: "version"},
		} {
			f.create(t, in)
		}
	})
}

func TestFleetMetricCreateValidation(t *testing.T) {
	f := newFMFixture(t, control.FleetMetricsOptions{})
	stats := func(values ...string) *iotdm.AggregationType {
		return &iotdm.AggregationType{Name: iotdm.AggregationStatistics, Values: values}
	}
	tests := []struct {
		name   string
		change func(in *iotdm.CreateFleetMetricInput)
		code   iotdm.ErrorCode
	}{
		{"empty name", func(in *iotdm.CreateFleetMetricInput) { in.MetricName = "" }, iotdm.ErrInvalidRequest},
		{"name with a colon", func(in *iotdm.CreateFleetMetricInput) { in.MetricName = "a:b" }, iotdm.ErrInvalidRequest},
		{"name of 129 characters", func(in *iotdm.CreateFleetMetricInput) { in.MetricName = strings.Repeat("n", 129) }, iotdm.ErrInvalidRequest},
		{"no queryString", func(in *iotdm.CreateFleetMetricInput) { in.QueryString = "" }, iotdm.ErrInvalidRequest},
		{"no aggregationType", func(in *iotdm.CreateFleetMetricInput) { in.AggregationType = nil }, iotdm.ErrInvalidRequest},
		{"unknown aggregationType name", func(in *iotdm.CreateFleetMetricInput) { in.AggregationType.Name = "Buckets" }, iotdm.ErrInvalidRequest},
		{"value outside the model's pattern", func(in *iotdm.CreateFleetMetricInput) { in.AggregationType = stats("std-dev") }, iotdm.ErrInvalidRequest},
		{"value of 13 characters", func(in *iotdm.CreateFleetMetricInput) { in.AggregationType = stats("sumOfSquares1") }, iotdm.ErrInvalidRequest},
		{"no period", func(in *iotdm.CreateFleetMetricInput) { in.Period = 0 }, iotdm.ErrInvalidRequest},
		{"period below a minute", func(in *iotdm.CreateFleetMetricInput) { in.Period = 30 }, iotdm.ErrInvalidRequest},
		{"period not a whole minute", func(in *iotdm.CreateFleetMetricInput) { in.Period = 90 }, iotdm.ErrInvalidRequest},
		{"period over a day", func(in *iotdm.CreateFleetMetricInput) { in.Period = 86460 }, iotdm.ErrInvalidRequest},
		{"no aggregationField", func(in *iotdm.CreateFleetMetricInput) { in.AggregationField = "" }, iotdm.ErrInvalidRequest},
		{"description of 1025 characters", func(in *iotdm.CreateFleetMetricInput) { in.Description = strings.Repeat("d", 1025) }, iotdm.ErrInvalidRequest},
		{"description with a newline", func(in *iotdm.CreateFleetMetricInput) { in.Description = "a\nb" }, iotdm.ErrInvalidRequest},
		{"unknown queryVersion", func(in *iotdm.CreateFleetMetricInput) { in.QueryVersion = "2020-01-01" }, iotdm.ErrInvalidRequest},
		{"indexName outside the pattern", func(in *iotdm.CreateFleetMetricInput) { in.IndexName = "AWS Things" }, iotdm.ErrInvalidRequest},
		{"unit outside the enum", func(in *iotdm.CreateFleetMetricInput) { in.Unit = "Furlongs" }, iotdm.ErrInvalidRequest},
		{"bad tag key", func(in *iotdm.CreateFleetMetricInput) { in.Tags = []iotdm.Tag{{Key: ""}} }, iotdm.ErrInvalidRequest},
		{"unknown index", func(in *iotdm.CreateFleetMetricInput) { in.IndexName = "AWS_Jobs" }, iotdm.ErrResourceNotFound},
		{"unparsable query", func(in *iotdm.CreateFleetMetricInput) { in.QueryString = "thingName:(a OR" }, iotdm.ErrInvalidQuery},
		{"query on an unknown field", func(in *iotdm.CreateFleetMetricInput) { in.QueryString = "thingGroupName:a" }, iotdm.ErrInvalidQuery},
		{"unknown statistic", func(in *iotdm.CreateFleetMetricInput) { in.AggregationType = stats("median") }, iotdm.ErrInvalidAggregation},
		{"Statistics without values", func(in *iotdm.CreateFleetMetricInput) { in.AggregationType = stats() }, iotdm.ErrInvalidAggregation},
		{"repeated statistic", func(in *iotdm.CreateFleetMetricInput) { in.AggregationType = stats("sum", "sum") }, iotdm.ErrInvalidAggregation},
		{"percentile over 100", func(in *iotdm.CreateFleetMetricInput) {
			in.AggregationType = &iotdm.AggregationType{Name: "Percentiles", Values: []string{"101"}}
		}, iotdm.ErrInvalidAggregation},
		{"percentile not a number", func(in *iotdm.CreateFleetMetricInput) {
			in.AggregationType = &iotdm.AggregationType{Name: "Percentiles", Values: []string{"p50"}}
		}, iotdm.ErrInvalidAggregation},
		{"repeated percentile", func(in *iotdm.CreateFleetMetricInput) {
			in.AggregationType = &iotdm.AggregationType{Name: "Percentiles", Values: []string{"50", "050"}}
		}, iotdm.ErrInvalidAggregation},
		{"Percentiles without values", func(in *iotdm.CreateFleetMetricInput) {
			in.AggregationType = &iotdm.AggregationType{Name: "Percentiles"}
		}, iotdm.ErrInvalidAggregation},
		{"Cardinality with a statistic", func(in *iotdm.CreateFleetMetricInput) {
			in.AggregationType = &iotdm.AggregationType{Name: "Cardinality", Values: []string{"count"}}
		}, iotdm.ErrInvalidAggregation},
		{"field that is not indexed for aggregation", func(in *iotdm.CreateFleetMetricInput) { in.AggregationField = "attributes.color" }, iotdm.ErrInvalidAggregation},
		{"field of the other index", func(in *iotdm.CreateFleetMetricInput) { in.AggregationField = "parentGroupNames" }, iotdm.ErrInvalidAggregation},
		{"average of a String field", func(in *iotdm.CreateFleetMetricInput) {
			in.AggregationField, in.AggregationType = "attributes.model", stats("count", "average")
		}, iotdm.ErrInvalidAggregation},
		{"percentiles of a Boolean field", func(in *iotdm.CreateFleetMetricInput) {
			in.AggregationField = "connectivity.connected"
			in.AggregationType = &iotdm.AggregationType{Name: "Percentiles", Values: []string{"50"}}
		}, iotdm.ErrInvalidAggregation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := fmInput("m")
			tt.change(in)
			_, err := f.fm.CreateFleetMetric(t.Context(), in)
			wantCode(t, fmt.Sprintf("CreateFleetMetric(%s)", tt.name), err, tt.code)
			if _, err := f.fm.DescribeFleetMetric(t.Context(), &iotdm.DescribeFleetMetricInput{MetricName: "m"}); !iotdm.IsCode(err, iotdm.ErrResourceNotFound) {
				t.Errorf("after a refused create DescribeFleetMetric(m) = %v, want ResourceNotFoundException", err)
			}
		})
	}
}

func TestFleetMetricIndexNotReady(t *testing.T) {
	f := newFMFixture(t, control.FleetMetricsOptions{})
	ctx := t.Context()
	f.create(t, fmInput("before"))
	_, err := f.indexing.UpdateIndexingConfiguration(ctx, &iotdm.UpdateIndexingConfigurationInput{
		ThingIndexingConfiguration:      &iotdm.ThingIndexingConfiguration{ThingIndexingMode: iotdm.ThingIndexingOff},
		ThingGroupIndexingConfiguration: &iotdm.ThingGroupIndexingConfiguration{ThingGroupIndexingMode: iotdm.ThingGroupIndexingOff},
	})
	if err != nil {
		t.Fatalf("UpdateIndexingConfiguration(OFF): %v", err)
	}
	_, err = f.fm.CreateFleetMetric(ctx, fmInput("things"))
	wantCode(t, "CreateFleetMetric(AWS_Things OFF)", err, iotdm.ErrIndexNotReady)
	groups := fmInput("groups")
	groups.IndexName, groups.QueryString, groups.AggregationField = iotdm.IndexThingGroups, "*", "version"
	_, err = f.fm.CreateFleetMetric(ctx, groups)
	wantCode(t, "CreateFleetMetric(AWS_ThingGroups OFF)", err, iotdm.ErrIndexNotReady)
	_, err = f.fm.UpdateFleetMetric(ctx, &iotdm.UpdateFleetMetricInput{MetricName: "before", IndexName: iotdm.IndexThings, Period: new(120)})
	wantCode(t, "UpdateFleetMetric(AWS_Things OFF)", err, iotdm.ErrIndexNotReady)
	// Reading and deleting need no index.
	f.describe(t, "before")
	if _, err := f.fm.DeleteFleetMetric(ctx, &iotdm.DeleteFleetMetricInput{MetricName: "before"}); err != nil {
		t.Errorf("DeleteFleetMetric with the index OFF: %v", err)
	}
}

func TestFleetMetricAlreadyExists(t *testing.T) {
	f := newFMFixture(t, control.FleetMetricsOptions{})
	f.create(t, fmInput("m"))
	// Even an identical request conflicts: creating a fleet metric is not
	// idempotent.
	_, err := f.fm.CreateFleetMetric(t.Context(), fmInput("m"))
	e := wantCode(t, "CreateFleetMetric(existing)", err, iotdm.ErrResourceAlreadyExists)
	if e.ResourceID != "m" || e.ResourceARN != "arn:aws:iot:us-east-1:123456789012:fleetmetric/m" {
		t.Errorf("ResourceAlreadyExistsException resourceId %q resourceArn %q", e.ResourceID, e.ResourceARN)
	}
}

func TestFleetMetricLimit(t *testing.T) {
	f := newFMFixture(t, control.FleetMetricsOptions{MaxMetrics: 2})
	ctx := t.Context()
	f.create(t, fmInput("a"))
	f.create(t, fmInput("b"))
	_, err := f.fm.CreateFleetMetric(ctx, fmInput("c"))
	wantCode(t, "CreateFleetMetric(third of 2)", err, iotdm.ErrLimitExceeded)
	if _, err := f.fm.DeleteFleetMetric(ctx, &iotdm.DeleteFleetMetricInput{MetricName: "a"}); err != nil {
		t.Fatalf("DeleteFleetMetric: %v", err)
	}
	f.create(t, fmInput("c"))

	t.Run("default cap", func(t *testing.T) {
		f := newFMFixture(t, control.FleetMetricsOptions{})
		for i := range control.DefaultMaxFleetMetrics {
			f.create(t, fmInput(fmt.Sprintf("m%03d", i)))
		}
		_, err := f.fm.CreateFleetMetric(ctx, fmInput("one-more"))
		wantCode(t, fmt.Sprintf("CreateFleetMetric(%d+1)", control.DefaultMaxFleetMetrics), err, iotdm.ErrLimitExceeded)
	})
}

func TestFleetMetricPeriods(t *testing.T) {
	tests := []struct {
		name      string
		minPeriod time.Duration
		ok, bad   []int
	}{
		{"AWS default", 0, []int{60, 120, 3600, 86400}, []int{1, 59, 61, 90, 86401, -60}},
		{"development minimum of 5 s", 5 * time.Second, []int{5, 7, 30, 59, 60, 120}, []int{4, 61, 90, 86460}},
		{"sub-second minimum allows one second", time.Millisecond, []int{1, 2}, []int{0, 75}},
		{"stricter minimum", 5 * time.Minute, []int{300, 360}, []int{60, 240, 330}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFMFixture(t, control.FleetMetricsOptions{MinPeriod: tt.minPeriod})
			for _, p := range tt.ok {
				in := fmInput(fmt.Sprintf("p%d", p))
				in.Period = p
				if _, err := f.fm.CreateFleetMetric(t.Context(), in); err != nil {
					t.Errorf("CreateFleetMetric(period %d) = %v, want success", p, err)
				}
			}
			for _, p := range tt.bad {
				in := fmInput(fmt.Sprintf("bad%d", p))
				in.Period = p
				_, err := f.fm.CreateFleetMetric(t.Context(), in)
				wantCode(t, fmt.Sprintf("CreateFleetMetric(period %d)", p), err, iotdm.ErrInvalidRequest)
			}
		})
	}
}

func TestFleetMetricUpdate(t *testing.T) {
	f := newFMFixture(t, control.FleetMetricsOptions{})
	ctx := t.Context()
	in := fmInput("m")
	in.Description, in.Unit = "first", "Count"
	f.create(t, in)
	created := f.describe(t, "m")
	f.clk.advance(time.Minute)

	_, err := f.fm.UpdateFleetMetric(ctx, &iotdm.UpdateFleetMetricInput{
		MetricName: "m", IndexName: iotdm.IndexThings, ExpectedVersion: new(int64(1)),
		QueryString: fmStr("attributes.temp >= 30"), Period: new(300), Description: fmStr(""),
	})
	if err != nil {
		t.Fatalf("UpdateFleetMetric: %v", err)
	}
	want := *created
	want.QueryString, want.Period, want.Description = "attributes.temp >= 30", 300, ""
	want.Version = 2
	want.LastModifiedDate = iotdm.Timestamp{Time: f.clk.Now()}
	if diff := cmp.Diff(&want, f.describe(t, "m")); diff != "" {
		t.Errorf("DescribeFleetMetric after update (-want +got):\n%s", diff)
	}

	t.Run("version conflict", func(t *testing.T) {
		_, err := f.fm.UpdateFleetMetric(ctx, &iotdm.UpdateFleetMetricInput{MetricName: "m", IndexName: iotdm.IndexThings, ExpectedVersion: new(int64(1)), Period: new(60)})
		wantCode(t, "UpdateFleetMetric(expectedVersion 1 of 2)", err, iotdm.ErrVersionConflict)
		if got := f.describe(t, "m"); got.Version != 2 || got.Period != 300 {
			t.Errorf("after a conflict: version %d period %d, want 2 300", got.Version, got.Period)
		}
	})

	t.Run("every update bumps the version", func(t *testing.T) {
		for v := int64(2); v < 5; v++ {
			if _, err := f.fm.UpdateFleetMetric(ctx, &iotdm.UpdateFleetMetricInput{MetricName: "m", IndexName: iotdm.IndexThings, ExpectedVersion: new(v)}); err != nil {
				t.Fatalf("UpdateFleetMetric(expectedVersion %d): %v", v, err)
			}
		}
		if got := f.describe(t, "m"); got.Version != 5 {
			t.Errorf("version = %d, want 5", got.Version)
		}
	})

	t.Run("change of index, field and type together", func(t *testing.T) {
		_, err := f.fm.UpdateFleetMetric(ctx, &iotdm.UpdateFleetMetricInput{
			MetricName: "m", IndexName: iotdm.IndexThingGroups, QueryString: fmStr("thingGroupName:*"),
			AggregationField: fmStr("thingGroupName"), AggregationType: &iotdm.AggregationType{Name: "Cardinality"}, Unit: fmStr("None"),
		})
		if err != nil {
			t.Fatalf("UpdateFleetMetric: %v", err)
		}
		got := f.describe(t, "m")
		if got.IndexName != iotdm.IndexThingGroups || got.AggregationType.Name != "Cardinality" || got.AggregationType.Values != nil || got.Unit != "None" {
			t.Errorf("after update: %+v", got)
		}
	})

	tests := []struct {
		name string
		in   iotdm.UpdateFleetMetricInput
		code iotdm.ErrorCode
	}{
		{"missing metric", iotdm.UpdateFleetMetricInput{MetricName: "none", IndexName: iotdm.IndexThings}, iotdm.ErrResourceNotFound},
		{"no indexName", iotdm.UpdateFleetMetricInput{MetricName: "m"}, iotdm.ErrInvalidRequest},
		{"bad name", iotdm.UpdateFleetMetricInput{MetricName: "m/1", IndexName: iotdm.IndexThingGroups}, iotdm.ErrInvalidRequest},
		{"empty queryString", iotdm.UpdateFleetMetricInput{MetricName: "m", IndexName: iotdm.IndexThingGroups, QueryString: fmStr("")}, iotdm.ErrInvalidRequest},
		{"empty aggregationField", iotdm.UpdateFleetMetricInput{MetricName: "m", IndexName: iotdm.IndexThingGroups, AggregationField: fmStr("")}, iotdm.ErrInvalidRequest},
		{"bad period", iotdm.UpdateFleetMetricInput{MetricName: "m", IndexName: iotdm.IndexThingGroups, Period: new(100)}, iotdm.ErrInvalidRequest},
		{"bad unit", iotdm.UpdateFleetMetricInput{MetricName: "m", IndexName: iotdm.IndexThingGroups, Unit: fmStr("Parsecs")}, iotdm.ErrInvalidRequest},
		{"bad aggregationType name", iotdm.UpdateFleetMetricInput{MetricName: "m", IndexName: iotdm.IndexThingGroups, AggregationType: &iotdm.AggregationType{Name: "Median"}}, iotdm.ErrInvalidRequest},
		{"bad query", iotdm.UpdateFleetMetricInput{MetricName: "m", IndexName: iotdm.IndexThingGroups, QueryString: fmStr("thingName:x")}, iotdm.ErrInvalidQuery},
		// The stored field (thingGroupName) is no field of AWS_Things.
		{"index changed under the field", iotdm.UpdateFleetMetricInput{MetricName: "m", IndexName: iotdm.IndexThings, QueryString: fmStr("*")}, iotdm.ErrInvalidAggregation},
		// Percentiles of the stored String field.
		{"type changed under the field", iotdm.UpdateFleetMetricInput{MetricName: "m", IndexName: iotdm.IndexThingGroups,
			AggregationType: &iotdm.AggregationType{Name: "Percentiles", Values: []string{"90"}}}, iotdm.ErrInvalidAggregation},
		{"unknown index", iotdm.UpdateFleetMetricInput{MetricName: "m", IndexName: "AWS_Nothing"}, iotdm.ErrResourceNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := f.fm.DescribeFleetMetric(ctx, &iotdm.DescribeFleetMetricInput{MetricName: "m"})
			_, err := f.fm.UpdateFleetMetric(ctx, &tt.in)
			wantCode(t, "UpdateFleetMetric("+tt.name+")", err, tt.code)
			if diff := cmp.Diff(before, f.describe(t, "m")); diff != "" {
				t.Errorf("a refused update changed the metric (-before +after):\n%s", diff)
			}
		})
	}
}

func TestFleetMetricDelete(t *testing.T) {
	f := newFMFixture(t, control.FleetMetricsOptions{})
	ctx := t.Context()
	t.Run("missing metric", func(t *testing.T) {
		if _, err := f.fm.DeleteFleetMetric(ctx, &iotdm.DeleteFleetMetricInput{MetricName: "none"}); err != nil {
			t.Errorf("DeleteFleetMetric(none) = %v, want success", err)
		}
		if _, err := f.fm.DeleteFleetMetric(ctx, &iotdm.DeleteFleetMetricInput{MetricName: "none", ExpectedVersion: new(int64(3))}); err != nil {
			t.Errorf("DeleteFleetMetric(none, expectedVersion 3) = %v, want success", err)
		}
	})
	t.Run("bad name", func(t *testing.T) {
		_, err := f.fm.DeleteFleetMetric(ctx, &iotdm.DeleteFleetMetricInput{MetricName: "a b"})
		wantCode(t, "DeleteFleetMetric(a b)", err, iotdm.ErrInvalidRequest)
	})
	t.Run("version conflict, then delete", func(t *testing.T) {
		f.create(t, fmInput("m"))
		_, err := f.fm.DeleteFleetMetric(ctx, &iotdm.DeleteFleetMetricInput{MetricName: "m", ExpectedVersion: new(int64(2))})
		wantCode(t, "DeleteFleetMetric(expectedVersion 2 of 1)", err, iotdm.ErrVersionConflict)
		f.describe(t, "m")
		if _, err := f.fm.DeleteFleetMetric(ctx, &iotdm.DeleteFleetMetricInput{MetricName: "m", ExpectedVersion: new(int64(1))}); err != nil {
			t.Fatalf("DeleteFleetMetric(expectedVersion 1): %v", err)
		}
		_, err = f.fm.DescribeFleetMetric(ctx, &iotdm.DescribeFleetMetricInput{MetricName: "m"})
		wantCode(t, "DescribeFleetMetric(deleted)", err, iotdm.ErrResourceNotFound)
	})
}

func TestFleetMetricList(t *testing.T) {
	f := newFMFixture(t, control.FleetMetricsOptions{})
	ctx := t.Context()
	list := func(t *testing.T, max int) []string {
		t.Helper()
		var names []string
		token := ""
		for range 20 {
			out, err := f.fm.ListFleetMetrics(ctx, &iotdm.ListFleetMetricsInput{NextToken: token, MaxResults: max})
			if err != nil {
				t.Fatalf("ListFleetMetrics: %v", err)
			}
			if out.FleetMetrics == nil {
				t.Fatal("ListFleetMetrics: fleetMetrics is nil, want a list")
			}
			if max > 0 && len(out.FleetMetrics) > max {
				t.Fatalf("ListFleetMetrics(max %d) returned %d", max, len(out.FleetMetrics))
			}
			for _, m := range out.FleetMetrics {
				if m.MetricARN != "arn:aws:iot:us-east-1:123456789012:fleetmetric/"+m.MetricName {
					t.Errorf("metric %s has ARN %s", m.MetricName, m.MetricARN)
				}
				names = append(names, m.MetricName)
			}
			if token = out.NextToken; token == "" {
				return names
			}
		}
		t.Fatal("ListFleetMetrics does not end")
		return nil
	}
	if got := list(t, 0); len(got) != 0 {
		t.Errorf("ListFleetMetrics on no metrics = %v", got)
	}
	want := []string{"a", "b.1", "b_2", "c", "d-9"}
	for _, n := range []string{"d-9", "b_2", "a", "c", "b.1"} {
		f.create(t, fmInput(n))
	}
	for _, max := range []int{0, 1, 2, 5, 250} {
		if diff := cmp.Diff(want, list(t, max)); diff != "" {
			t.Errorf("ListFleetMetrics(maxResults %d) (-want +got):\n%s", max, diff)
		}
	}
	for _, max := range []int{-1, 251} {
		_, err := f.fm.ListFleetMetrics(ctx, &iotdm.ListFleetMetricsInput{MaxResults: max})
		wantCode(t, fmt.Sprintf("ListFleetMetrics(maxResults %d)", max), err, iotdm.ErrInvalidRequest)
	}
	_, err := f.fm.ListFleetMetrics(ctx, &iotdm.ListFleetMetricsInput{NextToken: "not-a-token"})
	wantCode(t, "ListFleetMetrics(bad token)", err, iotdm.ErrInvalidRequest)
}

// TestFleetMetricChanges checks that each write commits its entity and
// one Change in the same transaction, for the scheduler to follow.
func TestFleetMetricChanges(t *testing.T) {
	f := newFMFixture(t, control.FleetMetricsOptions{})
	ctx := t.Context()
	seq, err := f.db.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.create(t, fmInput("m"))
	if _, err := f.fm.UpdateFleetMetric(ctx, &iotdm.UpdateFleetMetricInput{MetricName: "m", IndexName: iotdm.IndexThings, Period: new(120)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.fm.DeleteFleetMetric(ctx, &iotdm.DeleteFleetMetricInput{MetricName: "m"}); err != nil {
		t.Fatal(err)
	}
	// Refused writes and deletes of missing metrics leave no change.
	_, _ = f.fm.CreateFleetMetric(ctx, &iotdm.CreateFleetMetricInput{MetricName: "bad"})
	_, _ = f.fm.DeleteFleetMetric(ctx, &iotdm.DeleteFleetMetricInput{MetricName: "m"})
	changes, err := f.db.Changes(ctx, seq, 100)
	if err != nil {
		t.Fatal(err)
	}
	type summary struct {
		Op      iotdm.Op
		Kind    string
		Key     string
		Version int64
		Period  int
	}
	var got []summary
	for _, c := range changes {
		var m iotdm.StoredFleetMetric
		if err := json.Unmarshal(c.Value, &m); err != nil {
			t.Fatalf("change %d: %v", c.Seq, err)
		}
		got = append(got, summary{c.Op, c.Kind, c.Key, m.Version, m.Period})
	}
	want := []summary{
		{iotdm.OpPut, iotdm.KindFleetMetric, "m", 1, 60},
		{iotdm.OpPut, iotdm.KindFleetMetric, "m", 2, 120},
		{iotdm.OpDelete, iotdm.KindFleetMetric, "m", 2, 120},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
}
