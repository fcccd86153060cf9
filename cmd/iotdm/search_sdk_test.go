package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// These tests drive SearchIndex and the aggregation operations of a real
// in-process server with the AWS SDK for Go v2; shadows are written with
// signed iot-data requests, as devices' backends do.

// newSearchClients starts one server and returns an SDK client and an
// iot-data client for it.
func newSearchClients(t *testing.T) (*iot.Client, *shadowClient) {
	t.Helper()
	cfg := testConfig(t)
	s := startServer(t, cfg)
	key, err := ensureCredentials(cfg.DataDir, nil, testLogger(t))
	if err != nil {
		t.Fatalf("credentials: %v", err)
	}
	return staticIoTClient(s, key.ID, key.Secret),
		&shadowClient{t: t, srv: s, service: "iotdata", creds: aws.Credentials{AccessKeyID: key.ID, SecretAccessKey: key.Secret}}
}

// searchNames runs SearchIndex over AWS_Things and returns the thing names.
func searchNames(t *testing.T, c *iot.Client, q string) []string {
	t.Helper()
	out := must[*iot.SearchIndexOutput](t, "SearchIndex("+q+")")(
		c.SearchIndex(context.Background(), &iot.SearchIndexInput{QueryString: aws.String(q)}))
	names := []string{}
	for _, d := range out.Things {
		names = append(names, aws.ToString(d.ThingName))
	}
	return names
}

// seedSearchFleet declares the custom fields and creates the fleet every
// search test reads:
//
//	sensor-1  temp 10  model A  shadow reported {battery 50}
//	sensor-2  temp 20  model A  shadow reported {battery 70}
//	sensor-3  temp 30  model B  shadow desired {color red} reported {color blue, battery 90}
//	sensor-4  temp 40  model B
//	sensor-5  temp hot model A
func seedSearchFleet(t *testing.T, c *iot.Client, sc *shadowClient) {
	t.Helper()
	ctx := context.Background()
	must[*iot.UpdateIndexingConfigurationOutput](t, "UpdateIndexingConfiguration")(c.UpdateIndexingConfiguration(ctx, &iot.UpdateIndexingConfigurationInput{
		ThingIndexingConfiguration: &types.ThingIndexingConfiguration{
			ThingIndexingMode:             types.ThingIndexingModeRegistryAndShadow,
			ThingConnectivityIndexingMode: types.ThingConnectivityIndexingModeStatus,
			CustomFields: []types.Field{
				{Name: aws.String("attributes.temp"), Type: types.FieldTypeNumber},
				{Name: aws.String("attributes.model"), Type: types.FieldTypeString},
				{Name: aws.String("shadow.reported.battery"), Type: types.FieldTypeNumber},
			},
		},
	}))
	for i, a := range []struct{ temp, model string }{{"10", "A"}, {"20", "A"}, {"30", "B"}, {"40", "B"}, {"hot", "A"}} {
		must[*iot.CreateThingOutput](t, "CreateThing")(c.CreateThing(ctx, &iot.CreateThingInput{
			ThingName: aws.String(fmt.Sprintf("sensor-%d", i+1)), AttributePayload: attrs("temp", a.temp, "model", a.model)}))
	}
	for thing, doc := range map[string]string{
		"sensor-1": `{"state":{"reported":{"battery":50}}}`,
		"sensor-2": `{"state":{"reported":{"battery":70}}}`,
		"sensor-3": `{"state":{"desired":{"color":"red"},"reported":{"color":"blue","battery":90}}}`,
	} {
		if r := sc.update(thing, "", doc); r.status != http.StatusOK {
			t.Fatalf("UpdateThingShadow(%s) = %d %s", thing, r.status, r.body)
		}
	}
}

func TestSDKSearchIndex(t *testing.T) {
	ctx := context.Background()
	c, sc := newSearchClients(t)
	seedSearchFleet(t, c, sc)

	for _, tt := range []struct {
		query string
		want  []string
	}{
		{"*", []string{"sensor-1", "sensor-2", "sensor-3", "sensor-4", "sensor-5"}},
		{"thingName:sensor-3", []string{"sensor-3"}},
		{"attributes.model:a", []string{"sensor-1", "sensor-2", "sensor-5"}},
		{"thingName:sensor-? AND attributes.model:B", []string{"sensor-3", "sensor-4"}},
		{"thingName:*-4", []string{"sensor-4"}},
		{"attributes.temp:[20 TO 30]", []string{"sensor-2", "sensor-3"}},
		{"attributes.temp:{20 TO 40]", []string{"sensor-3", "sensor-4"}},
		{"attributes.temp > 25 OR thingName:sensor-1", []string{"sensor-1", "sensor-3", "sensor-4"}},
		{"attributes.model:B -attributes.temp:40", []string{"sensor-3"}},
		{"shadow.hasDelta:true", []string{"sensor-3"}},
		{"shadow.reported.battery>=70", []string{"sensor-2", "sensor-3"}},
		{"shadow.desired.color:red", []string{"sensor-3"}},
		{"shadow.reported.battery:* AND NOT shadow.desired.color:*", []string{"sensor-1", "sensor-2"}},
		{"connectivity.connected:false AND attributes.temp<15", []string{"sensor-1"}},
		{"attributes.model:C", []string{}},
	} {
		if got := searchNames(t, c, tt.query); !slices.Equal(got, tt.want) {
			t.Errorf("SearchIndex(%q) = %v, want %v", tt.query, got, tt.want)
		}
	}

	t.Run("the thing document", func(t *testing.T) {
		out := must[*iot.SearchIndexOutput](t, "SearchIndex")(c.SearchIndex(ctx, &iot.SearchIndexInput{
			IndexName: aws.String("AWS_Things"), QueryString: aws.String("thingName:sensor-3"), QueryVersion: aws.String("2017-09-30")}))
		if len(out.Things) != 1 || out.ThingGroups != nil || out.NextToken != nil {
			t.Fatalf("SearchIndex = %d things, groups %v, token %v; want one thing", len(out.Things), out.ThingGroups, out.NextToken)
		}
		d := out.Things[0]
		desc := must[*iot.DescribeThingOutput](t, "DescribeThing")(c.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("sensor-3")}))
		if aws.ToString(d.ThingId) != aws.ToString(desc.ThingId) {
			t.Errorf("thingId = %q, want %q", aws.ToString(d.ThingId), aws.ToString(desc.ThingId))
		}
		if want := map[string]string{"temp": "30", "model": "B"}; !cmp.Equal(d.Attributes, want) {
			t.Errorf("attributes = %v, want %v", d.Attributes, want)
		}
		if d.Connectivity == nil || aws.ToBool(d.Connectivity.Connected) {
			t.Errorf("connectivity = %+v, want connected false", d.Connectivity)
		}
		var sh struct {
			Desired  map[string]any `json:"desired"`
			Reported map[string]any `json:"reported"`
			Delta    map[string]any `json:"delta"`
			Metadata struct {
				Desired  map[string]any `json:"desired"`
				Reported map[string]any `json:"reported"`
			} `json:"metadata"`
			HasDelta bool  `json:"hasDelta"`
			Version  int64 `json:"version"`
		}
		if err := json.Unmarshal([]byte(aws.ToString(d.Shadow)), &sh); err != nil {
			t.Fatalf("shadow is not a JSON string: %q: %v", aws.ToString(d.Shadow), err)
		}
		if sh.Desired["color"] != "red" || sh.Reported["color"] != "blue" || sh.Reported["battery"] != 90.0 ||
			sh.Delta["color"] != "red" || !sh.HasDelta || sh.Version != 1 || sh.Metadata.Desired["color"] == nil || sh.Metadata.Reported["battery"] == nil {
			t.Errorf("shadow = %s", aws.ToString(d.Shadow))
		}
		out = must[*iot.SearchIndexOutput](t, "SearchIndex")(c.SearchIndex(ctx, &iot.SearchIndexInput{QueryString: aws.String("thingName:sensor-4")}))
		if len(out.Things) != 1 || out.Things[0].Shadow != nil {
			t.Errorf("sensor-4 (no shadow) = %+v, want no shadow", out.Things)
		}
	})

	t.Run("pagination with maxResults", func(t *testing.T) {
		var got []string
		var token *string
		pages := 0
		for {
			out := must[*iot.SearchIndexOutput](t, "SearchIndex")(c.SearchIndex(ctx, &iot.SearchIndexInput{
				QueryString: aws.String("thingName:sensor-*"), MaxResults: aws.Int32(2), NextToken: token}))
			pages++
			if len(out.Things) > 2 {
				t.Fatalf("page of %d things with maxResults 2", len(out.Things))
			}
			for _, d := range out.Things {
				got = append(got, aws.ToString(d.ThingName))
			}
			if token = out.NextToken; token == nil || pages > 5 {
				break
			}
		}
		if want := []string{"sensor-1", "sensor-2", "sensor-3", "sensor-4", "sensor-5"}; !slices.Equal(got, want) || pages != 3 {
			t.Errorf("%d pages of %v, want 3 pages of %v", pages, got, want)
		}
		_, err := c.SearchIndex(ctx, &iot.SearchIndexInput{QueryString: aws.String("*"), MaxResults: aws.Int32(101)})
		wantAPIError(t, "SearchIndex(maxResults 101)", err, "InvalidRequestException")
		_, err = c.SearchIndex(ctx, &iot.SearchIndexInput{QueryString: aws.String("*"), NextToken: aws.String("not-a-token")})
		wantAPIError(t, "SearchIndex(bad token)", err, "InvalidRequestException")
	})

	t.Run("a search right after a write sees it", func(t *testing.T) {
		for i := range 10 {
			name := fmt.Sprintf("fresh-%d", i)
			must[*iot.CreateThingOutput](t, "CreateThing")(c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(name)}))
			if got := searchNames(t, c, "thingName:"+name); !slices.Equal(got, []string{name}) {
				t.Fatalf("SearchIndex right after CreateThing(%s) = %v", name, got)
			}
			if r := sc.update(name, "", fmt.Sprintf(`{"state":{"reported":{"seq":%d}}}`, i)); r.status != http.StatusOK {
				t.Fatalf("UpdateThingShadow = %d %s", r.status, r.body)
			}
			if got := searchNames(t, c, fmt.Sprintf("shadow.reported.seq:%d", i)); !slices.Equal(got, []string{name}) {
				t.Fatalf("SearchIndex right after UpdateThingShadow(%s) = %v", name, got)
			}
			must[*iot.UpdateThingOutput](t, "UpdateThing")(c.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String(name), AttributePayload: attrs("stage", "done")}))
			if got := searchNames(t, c, "thingName:"+name+" AND attributes.stage:done"); !slices.Equal(got, []string{name}) {
				t.Fatalf("SearchIndex right after UpdateThing(%s) = %v", name, got)
			}
		}
		must[*iot.DeleteThingOutput](t, "DeleteThing")(c.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("fresh-0")}))
		if got := searchNames(t, c, "thingName:fresh-0"); len(got) != 0 {
			t.Errorf("SearchIndex right after DeleteThing = %v", got)
		}
	})

	t.Run("thing groups", func(t *testing.T) {
		must[*iot.CreateThingGroupOutput](t, "CreateThingGroup")(c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{
			ThingGroupName: aws.String("plant"), ThingGroupProperties: &types.ThingGroupProperties{ThingGroupDescription: aws.String("the plant")}}))
		must[*iot.CreateThingGroupOutput](t, "CreateThingGroup")(c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{
			ThingGroupName: aws.String("line-1"), ParentGroupName: aws.String("plant")}))
		out := must[*iot.SearchIndexOutput](t, "SearchIndex(AWS_ThingGroups)")(c.SearchIndex(ctx, &iot.SearchIndexInput{
			IndexName: aws.String("AWS_ThingGroups"), QueryString: aws.String("parentGroupNames:plant")}))
		if len(out.ThingGroups) != 1 || out.Things != nil {
			t.Fatalf("SearchIndex(AWS_ThingGroups) = %d groups, things %v", len(out.ThingGroups), out.Things)
		}
		if g := out.ThingGroups[0]; aws.ToString(g.ThingGroupName) != "line-1" || !slices.Equal(g.ParentGroupNames, []string{"plant"}) || aws.ToString(g.ThingGroupId) == "" {
			t.Errorf("group document = %+v", g)
		}
		must[*iot.AddThingToThingGroupOutput](t, "AddThingToThingGroup")(c.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{
			ThingName: aws.String("sensor-2"), ThingGroupName: aws.String("line-1")}))
		if got := searchNames(t, c, "thingGroupNames:line-1"); !slices.Equal(got, []string{"sensor-2"}) {
			t.Errorf("SearchIndex(thingGroupNames:line-1) = %v", got)
		}
	})
}

func TestSDKSearchErrors(t *testing.T) {
	ctx := context.Background()
	c, sc := newSearchClients(t)
	seedSearchFleet(t, c, sc)

	_, err := c.SearchIndex(ctx, &iot.SearchIndexInput{QueryString: aws.String("thingName:(a OR")})
	e := wantTyped[*types.InvalidQueryException](t, "SearchIndex(unbalanced)", err)
	if msg := e.ErrorMessage(); !strings.Contains(msg, "position 15") {
		t.Errorf("InvalidQueryException message %q, want the position 15 (the end of the query)", msg)
	}
	_, err = c.SearchIndex(ctx, &iot.SearchIndexInput{QueryString: aws.String("thingGroupName:x")})
	wantTyped[*types.InvalidQueryException](t, "SearchIndex(unknown field)", err)
	_, err = c.GetStatistics(ctx, &iot.GetStatisticsInput{QueryString: aws.String("attributes.temp:[1 TO"), AggregationField: aws.String("attributes.temp")})
	wantTyped[*types.InvalidQueryException](t, "GetStatistics(bad query)", err)

	_, err = c.GetStatistics(ctx, &iot.GetStatisticsInput{QueryString: aws.String("*"), AggregationField: aws.String("attributes.undeclared")})
	wantTyped[*types.InvalidAggregationException](t, "GetStatistics(undeclared field)", err)
	_, err = c.GetPercentiles(ctx, &iot.GetPercentilesInput{QueryString: aws.String("*"), AggregationField: aws.String("attributes.model")})
	wantTyped[*types.InvalidAggregationException](t, "GetPercentiles(String field)", err)
	_, err = c.GetBucketsAggregation(ctx, &iot.GetBucketsAggregationInput{QueryString: aws.String("*"), AggregationField: aws.String("attributes.nope"),
		BucketsAggregationType: &types.BucketsAggregationType{TermsAggregation: &types.TermsAggregation{}}})
	wantTyped[*types.InvalidAggregationException](t, "GetBucketsAggregation(undeclared field)", err)

	_, err = c.SearchIndex(ctx, &iot.SearchIndexInput{IndexName: aws.String("AWS_Nothing"), QueryString: aws.String("*")})
	wantTyped[*types.ResourceNotFoundException](t, "SearchIndex(unknown index)", err)

	must[*iot.UpdateIndexingConfigurationOutput](t, "UpdateIndexingConfiguration(OFF)")(c.UpdateIndexingConfiguration(ctx, &iot.UpdateIndexingConfigurationInput{
		ThingIndexingConfiguration: &types.ThingIndexingConfiguration{ThingIndexingMode: types.ThingIndexingModeOff}}))
	_, err = c.SearchIndex(ctx, &iot.SearchIndexInput{QueryString: aws.String("*")})
	nf := wantTyped[*types.ResourceNotFoundException](t, "SearchIndex(disabled)", err)
	if want := "Index AWS_Things does not exist. Please enable index by calling UpdateIndexingConfiguration"; nf.ErrorMessage() != want {
		t.Errorf("message %q, want %q", nf.ErrorMessage(), want)
	}
	_, err = c.GetCardinality(ctx, &iot.GetCardinalityInput{QueryString: aws.String("*"), AggregationField: aws.String("thingName")})
	wantTyped[*types.ResourceNotFoundException](t, "GetCardinality(disabled)", err)
	// The group index is still on.
	must[*iot.SearchIndexOutput](t, "SearchIndex(AWS_ThingGroups)")(c.SearchIndex(ctx, &iot.SearchIndexInput{
		IndexName: aws.String("AWS_ThingGroups"), QueryString: aws.String("*")}))

	// Turned on again, the index holds the fleet at once.
	must[*iot.UpdateIndexingConfigurationOutput](t, "UpdateIndexingConfiguration(REGISTRY)")(c.UpdateIndexingConfiguration(ctx, &iot.UpdateIndexingConfigurationInput{
		ThingIndexingConfiguration: &types.ThingIndexingConfiguration{ThingIndexingMode: types.ThingIndexingModeRegistry}}))
	if got := searchNames(t, c, "attributes.model:b"); !slices.Equal(got, []string{"sensor-3", "sensor-4"}) {
		t.Errorf("SearchIndex after re-enabling = %v", got)
	}
	_, err = c.SearchIndex(ctx, &iot.SearchIndexInput{QueryString: aws.String("shadow.reported.battery:50")})
	if err != nil {
		t.Errorf("SearchIndex(shadow field, REGISTRY mode): %v", err)
	} else if got := searchNames(t, c, "shadow.reported.battery:50"); len(got) != 0 {
		t.Errorf("SearchIndex(shadow field) in REGISTRY mode = %v, want none", got)
	}
}

func TestSDKAggregations(t *testing.T) {
	ctx := context.Background()
	c, sc := newSearchClients(t)
	seedSearchFleet(t, c, sc)
	f64 := aws.Float64
	ignore := cmpopts.IgnoreUnexported(types.Statistics{}, types.PercentPair{}, types.Bucket{})

	t.Run("GetStatistics", func(t *testing.T) {
		out := must[*iot.GetStatisticsOutput](t, "GetStatistics")(c.GetStatistics(ctx, &iot.GetStatisticsInput{
			QueryString: aws.String("*"), AggregationField: aws.String("attributes.temp")}))
		// 10, 20, 30, 40 ("hot" is no number): sum 100, sum of squares
		// 3000, population variance 3000/4 − 25² = 125.
		want := &types.Statistics{Count: 4, Average: f64(25), Sum: f64(100), Minimum: f64(10), Maximum: f64(40),
			SumOfSquares: f64(3000), Variance: f64(125), StdDeviation: f64(math.Sqrt(125))}
		if d := cmp.Diff(want, out.Statistics, ignore); d != "" {
			t.Errorf("GetStatistics(attributes.temp) (-want +got):\n%s", d)
		}
		out = must[*iot.GetStatisticsOutput](t, "GetStatistics")(c.GetStatistics(ctx, &iot.GetStatisticsInput{
			QueryString: aws.String("attributes.model:A"), AggregationField: aws.String("shadow.reported.battery")}))
		// sensor-1 50, sensor-2 70: mean 60, population variance (10² + 10²)/2 = 100.
		want = &types.Statistics{Count: 2, Average: f64(60), Sum: f64(120), Minimum: f64(50), Maximum: f64(70),
			SumOfSquares: f64(7400), Variance: f64(100), StdDeviation: f64(10)}
		if d := cmp.Diff(want, out.Statistics, ignore); d != "" {
			t.Errorf("GetStatistics(shadow.reported.battery) (-want +got):\n%s", d)
		}
		out = must[*iot.GetStatisticsOutput](t, "GetStatistics")(c.GetStatistics(ctx, &iot.GetStatisticsInput{
			QueryString: aws.String("*"), AggregationField: aws.String("attributes.model")}))
		if d := cmp.Diff(&types.Statistics{Count: 5}, out.Statistics, ignore); d != "" {
			t.Errorf("GetStatistics(String field) (-want +got):\n%s", d)
		}
		out = must[*iot.GetStatisticsOutput](t, "GetStatistics")(c.GetStatistics(ctx, &iot.GetStatisticsInput{
			QueryString: aws.String("*"), AggregationField: aws.String("shadow.hasDelta")}))
		// Three shadows, one with a delta.
		if s := out.Statistics; s.Count != 3 || aws.ToFloat64(s.Sum) != 1 || aws.ToFloat64(s.Minimum) != 0 || aws.ToFloat64(s.Maximum) != 1 {
			t.Errorf("GetStatistics(shadow.hasDelta) = count %d sum %v min %v max %v, want 3, 1, 0, 1", s.Count, aws.ToFloat64(s.Sum), aws.ToFloat64(s.Minimum), aws.ToFloat64(s.Maximum))
		}
	})

	t.Run("GetCardinality", func(t *testing.T) {
		for _, tt := range []struct {
			query, field string
			want         int32
		}{
			{"*", "attributes.model", 2},
			{"attributes.temp<25", "attributes.model", 1},
			{"*", "attributes.temp", 5},
			{"*", "thingName", 5},
			{"thingName:nothing", "attributes.model", 0},
		} {
			out := must[*iot.GetCardinalityOutput](t, "GetCardinality")(c.GetCardinality(ctx, &iot.GetCardinalityInput{
				QueryString: aws.String(tt.query), AggregationField: aws.String(tt.field)}))
			if out.Cardinality != tt.want {
				t.Errorf("GetCardinality(%q, %s) = %d, want %d", tt.query, tt.field, out.Cardinality, tt.want)
			}
		}
	})

	t.Run("GetPercentiles", func(t *testing.T) {
		out := must[*iot.GetPercentilesOutput](t, "GetPercentiles")(c.GetPercentiles(ctx, &iot.GetPercentilesInput{
			QueryString: aws.String("*"), AggregationField: aws.String("attributes.temp"), Percents: []float64{50, 0, 100, 25}}))
		// Sorted 10 20 30 40, linear between closest ranks: p25 at rank
		// 0.75 is 17.5, p50 at rank 1.5 is 25.
		want := []types.PercentPair{{Percent: 50, Value: 25}, {Percent: 0, Value: 10}, {Percent: 100, Value: 40}, {Percent: 25, Value: 17.5}}
		if d := cmp.Diff(want, out.Percentiles, ignore); d != "" {
			t.Errorf("GetPercentiles (-want +got):\n%s", d)
		}
		out = must[*iot.GetPercentilesOutput](t, "GetPercentiles")(c.GetPercentiles(ctx, &iot.GetPercentilesInput{
			QueryString: aws.String("*"), AggregationField: aws.String("attributes.temp")}))
		var percents []float64
		for _, p := range out.Percentiles {
			percents = append(percents, p.Percent)
		}
		if want := []float64{1, 5, 25, 50, 75, 95, 99}; !slices.Equal(percents, want) {
			t.Errorf("default percents = %v, want %v", percents, want)
		}
		out = must[*iot.GetPercentilesOutput](t, "GetPercentiles")(c.GetPercentiles(ctx, &iot.GetPercentilesInput{
			QueryString: aws.String("thingName:nothing"), AggregationField: aws.String("attributes.temp")}))
		if len(out.Percentiles) != 0 {
			t.Errorf("GetPercentiles(no match) = %v, want none", out.Percentiles)
		}
	})

	t.Run("GetBucketsAggregation", func(t *testing.T) {
		out := must[*iot.GetBucketsAggregationOutput](t, "GetBucketsAggregation")(c.GetBucketsAggregation(ctx, &iot.GetBucketsAggregationInput{
			QueryString: aws.String("*"), AggregationField: aws.String("attributes.model"),
			BucketsAggregationType: &types.BucketsAggregationType{TermsAggregation: &types.TermsAggregation{}}}))
		want := []types.Bucket{{KeyValue: aws.String("A"), Count: 3}, {KeyValue: aws.String("B"), Count: 2}}
		if d := cmp.Diff(want, out.Buckets, ignore); out.TotalCount != 5 || d != "" {
			t.Errorf("GetBucketsAggregation = total %d, (-want +got):\n%s", out.TotalCount, d)
		}
		out = must[*iot.GetBucketsAggregationOutput](t, "GetBucketsAggregation")(c.GetBucketsAggregation(ctx, &iot.GetBucketsAggregationInput{
			QueryString: aws.String("attributes.temp > 15"), AggregationField: aws.String("attributes.model"),
			BucketsAggregationType: &types.BucketsAggregationType{TermsAggregation: &types.TermsAggregation{MaxBuckets: aws.Int32(1)}}}))
		want = []types.Bucket{{KeyValue: aws.String("B"), Count: 2}}
		if d := cmp.Diff(want, out.Buckets, ignore); out.TotalCount != 3 || d != "" {
			t.Errorf("GetBucketsAggregation(maxBuckets 1) = total %d, (-want +got):\n%s", out.TotalCount, d)
		}
	})

	t.Run("an aggregation right after a write sees it", func(t *testing.T) {
		must[*iot.CreateThingOutput](t, "CreateThing")(c.CreateThing(ctx, &iot.CreateThingInput{
			ThingName: aws.String("sensor-6"), AttributePayload: attrs("temp", "60", "model", "C")}))
		out := must[*iot.GetStatisticsOutput](t, "GetStatistics")(c.GetStatistics(ctx, &iot.GetStatisticsInput{
			QueryString: aws.String("*"), AggregationField: aws.String("attributes.temp")}))
		if out.Statistics.Count != 5 || aws.ToFloat64(out.Statistics.Maximum) != 60 {
			t.Errorf("GetStatistics after CreateThing = count %d max %v, want 5, 60", out.Statistics.Count, aws.ToFloat64(out.Statistics.Maximum))
		}
	})
}
