package control_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/control"
	"github.com/iotdm/iotdm/internal/fleetindex"
	"github.com/iotdm/iotdm/internal/sqlite"
)

// searchFixture is a store with the registry, shadows and indexing
// services, a running feeder and the search service over it.
type searchFixture struct {
	reg      *control.Registry
	shadows  *control.Shadows
	indexing *control.Indexing
	search   *control.Search
}

func newSearchFixture(t *testing.T) *searchFixture {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "s.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	feeder := fleetindex.NewFeeder(db, fleetindex.FeederOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- feeder.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		db.Close()
	})
	return &searchFixture{
		reg:      control.NewRegistry(db, control.RegistryOptions{Region: "us-east-1", AccountID: "123456789012"}),
		shadows:  control.NewShadows(db, control.ShadowsOptions{}),
		indexing: control.NewIndexing(db, control.IndexingOptions{}),
		search:   control.NewSearch(db, feeder, control.SearchOptions{}),
	}
}

func (f *searchFixture) thing(t *testing.T, name string, attrs map[string]string) {
	t.Helper()
	in := &iotdm.CreateThingInput{ThingName: name}
	if attrs != nil {
		in.AttributePayload = &iotdm.AttributePayload{Attributes: attrs}
	}
	if _, err := f.reg.CreateThing(t.Context(), in); err != nil {
		t.Fatalf("CreateThing(%s): %v", name, err)
	}
}

func (f *searchFixture) shadow(t *testing.T, thing, doc string) {
	t.Helper()
	if _, err := f.shadows.UpdateThingShadow(t.Context(), &iotdm.UpdateThingShadowInput{ThingName: thing, Payload: []byte(doc)}); err != nil {
		t.Fatalf("UpdateThingShadow(%s): %v", thing, err)
	}
}

func (f *searchFixture) names(t *testing.T, q string) []string {
	t.Helper()
	out, err := f.search.SearchIndex(t.Context(), &iotdm.SearchIndexInput{QueryString: q})
	if err != nil {
		t.Fatalf("SearchIndex(%q): %v", q, err)
	}
	var names []string
	for _, d := range out.Things {
		names = append(names, d.ThingName)
	}
	return names
}

func wantCode(t *testing.T, op string, err error, code iotdm.ErrorCode) *iotdm.Error {
	t.Helper()
	var e *iotdm.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("%s: err = %v, want %s", op, err, code)
	}
	return e
}

// seedFleet creates five things and three shadows; the custom fields make
// attributes.temp a Number, attributes.model a String and
// shadow.reported.battery a Number.
func seedFleet(t *testing.T, f *searchFixture) {
	t.Helper()
	_, err := f.indexing.UpdateIndexingConfiguration(t.Context(), &iotdm.UpdateIndexingConfigurationInput{
		ThingIndexingConfiguration: &iotdm.ThingIndexingConfiguration{
			ThingIndexingMode:             iotdm.ThingIndexingRegistryAndShadow,
			ThingConnectivityIndexingMode: iotdm.ConnectivityIndexingStatus,
			CustomFields: []iotdm.Field{
				{Name: "attributes.temp", Type: iotdm.FieldTypeNumber},
				{Name: "attributes.model", Type: iotdm.FieldTypeString},
				{Name: "shadow.reported.battery", Type: iotdm.FieldTypeNumber},
			},
		},
	})
	if err != nil {
		t.Fatalf("UpdateIndexingConfiguration: %v", err)
	}
	f.thing(t, "dev-1", map[string]string{"temp": "10", "model": "A"})
	f.thing(t, "dev-2", map[string]string{"temp": "20", "model": "A"})
	f.thing(t, "dev-3", map[string]string{"temp": "30", "model": "B"})
	f.thing(t, "dev-4", map[string]string{"temp": "40", "model": "B"})
	f.thing(t, "dev-5", map[string]string{"temp": "hot", "model": "A"})
	f.shadow(t, "dev-1", `{"state":{"reported":{"battery":50}}}`)
	f.shadow(t, "dev-2", `{"state":{"reported":{"battery":70}}}`)
	f.shadow(t, "dev-3", `{"state":{"desired":{"color":"red"},"reported":{"color":"blue","battery":90}}}`)
}

func TestSearchIndex(t *testing.T) {
	f := newSearchFixture(t)
	seedFleet(t, f)

	for q, want := range map[string][]string{
		"*":                                     {"dev-1", "dev-2", "dev-3", "dev-4", "dev-5"},
		"attributes.model:a":                    {"dev-1", "dev-2", "dev-5"},
		"thingName:dev-?":                       {"dev-1", "dev-2", "dev-3", "dev-4", "dev-5"},
		"attributes.temp:[20 TO 30]":            {"dev-2", "dev-3"},
		"attributes.temp>25 OR thingName:dev-1": {"dev-1", "dev-3", "dev-4"},
		"shadow.hasDelta:true":                  {"dev-3"},
		"shadow.reported.battery>=70":           {"dev-2", "dev-3"},
		"attributes.model:B AND NOT attributes.temp:40": {"dev-3"},
	} {
		if got := f.names(t, q); !slices.Equal(got, want) {
			t.Errorf("SearchIndex(%q) = %v, want %v", q, got, want)
		}
	}

	t.Run("the thing document carries the shadow as a JSON string", func(t *testing.T) {
		out, err := f.search.SearchIndex(t.Context(), &iotdm.SearchIndexInput{QueryString: "thingName:dev-3"})
		if err != nil || len(out.Things) != 1 {
			t.Fatalf("SearchIndex = %+v, %v", out, err)
		}
		d := out.Things[0]
		if d.ThingID == "" || d.Attributes["temp"] != "30" || d.Connectivity == nil || d.Connectivity.Connected {
			t.Errorf("document = %+v", d)
		}
		var sh map[string]any
		if err := json.Unmarshal([]byte(d.Shadow), &sh); err != nil {
			t.Fatalf("shadow %q: %v", d.Shadow, err)
		}
		for p, want := range map[string]any{
			"desired.color": "red", "reported.color": "blue", "delta.color": "red", "hasDelta": true, "version": 1.0,
		} {
			var v any = sh
			for k := range strings.SplitSeq(p, ".") {
				v = v.(map[string]any)[k]
			}
			if v != want {
				t.Errorf("shadow %s = %v, want %v", p, v, want)
			}
		}
		if _, ok := sh["metadata"].(map[string]any)["desired"]; !ok {
			t.Errorf("shadow has no desired metadata: %s", d.Shadow)
		}
		if out.ThingGroups != nil {
			t.Errorf("thingGroups = %v on an AWS_Things search", out.ThingGroups)
		}
	})

	t.Run("pages", func(t *testing.T) {
		var got []string
		token := ""
		for range 10 {
			out, err := f.search.SearchIndex(t.Context(), &iotdm.SearchIndexInput{QueryString: "*", MaxResults: 2, NextToken: token})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Things) > 2 {
				t.Fatalf("page of %d", len(out.Things))
			}
			for _, d := range out.Things {
				got = append(got, d.ThingName)
			}
			if token = out.NextToken; token == "" {
				break
			}
		}
		if want := []string{"dev-1", "dev-2", "dev-3", "dev-4", "dev-5"}; !slices.Equal(got, want) {
			t.Errorf("pages = %v, want %v", got, want)
		}
		_, err := f.search.SearchIndex(t.Context(), &iotdm.SearchIndexInput{QueryString: "*", NextToken: "bogus!"})
		wantCode(t, "SearchIndex(bad token)", err, iotdm.ErrInvalidRequest)
		for _, n := range []int{-1, 101} {
			_, err := f.search.SearchIndex(t.Context(), &iotdm.SearchIndexInput{QueryString: "*", MaxResults: n})
			wantCode(t, "SearchIndex(maxResults)", err, iotdm.ErrInvalidRequest)
		}
	})

	t.Run("a search sees the write before it", func(t *testing.T) {
		for i := range 20 {
			name := "fresh-" + string(rune('a'+i))
			f.thing(t, name, map[string]string{"batch": "fresh"})
			if got := f.names(t, "thingName:"+name); !slices.Equal(got, []string{name}) {
				t.Fatalf("SearchIndex right after CreateThing(%s) = %v", name, got)
			}
		}
	})

	t.Run("errors", func(t *testing.T) {
		_, err := f.search.SearchIndex(t.Context(), &iotdm.SearchIndexInput{QueryString: "thingName:(a OR"})
		e := wantCode(t, "SearchIndex(bad query)", err, iotdm.ErrInvalidQuery)
		if !strings.Contains(e.Message, "position") {
			t.Errorf("message %q has no position", e.Message)
		}
		_, err = f.search.SearchIndex(t.Context(), &iotdm.SearchIndexInput{QueryString: "thingGroupName:x"})
		wantCode(t, "SearchIndex(unknown field)", err, iotdm.ErrInvalidQuery)
		_, err = f.search.SearchIndex(t.Context(), &iotdm.SearchIndexInput{IndexName: "Nope", QueryString: "*"})
		wantCode(t, "SearchIndex(unknown index)", err, iotdm.ErrResourceNotFound)
		_, err = f.search.SearchIndex(t.Context(), &iotdm.SearchIndexInput{QueryString: ""})
		wantCode(t, "SearchIndex(empty query)", err, iotdm.ErrInvalidRequest)
		_, err = f.search.SearchIndex(t.Context(), &iotdm.SearchIndexInput{QueryString: "*", QueryVersion: "2099-01-01"})
		wantCode(t, "SearchIndex(queryVersion)", err, iotdm.ErrInvalidRequest)
	})
}

func TestSearchAggregations(t *testing.T) {
	f := newSearchFixture(t)
	seedFleet(t, f)
	ctx := t.Context()
	f64 := func(v float64) *float64 { return &v }

	t.Run("statistics of a Number field", func(t *testing.T) {
		out, err := f.search.GetStatistics(ctx, &iotdm.GetStatisticsInput{QueryString: "*", AggregationField: "attributes.temp"})
		if err != nil {
			t.Fatal(err)
		}
		// 10, 20, 30, 40 ("hot" is not a number): population variance
		// 3000/4 − 25² = 125.
		want := iotdm.Statistics{Count: 4, Average: f64(25), Sum: f64(100), Minimum: f64(10), Maximum: f64(40),
			SumOfSquares: f64(3000), Variance: f64(125), StdDeviation: f64(math.Sqrt(125))}
		if d := cmp.Diff(want, out.Statistics); d != "" {
			t.Errorf("GetStatistics(attributes.temp) (-want +got):\n%s", d)
		}
	})

	t.Run("statistics of String and Boolean fields", func(t *testing.T) {
		out, err := f.search.GetStatistics(ctx, &iotdm.GetStatisticsInput{QueryString: "*", AggregationField: "attributes.model"})
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(iotdm.Statistics{Count: 5}, out.Statistics); d != "" {
			t.Errorf("GetStatistics(attributes.model) (-want +got):\n%s", d)
		}
		out, err = f.search.GetStatistics(ctx, &iotdm.GetStatisticsInput{QueryString: "*", AggregationField: "shadow.hasDelta"})
		if err != nil {
			t.Fatal(err)
		}
		if s := out.Statistics; s.Count != 3 || *s.Sum != 1 || *s.Minimum != 0 || *s.Maximum != 1 {
			t.Errorf("GetStatistics(shadow.hasDelta) = %+v, want count 3, sum 1, min 0, max 1", s)
		}
	})

	t.Run("cardinality", func(t *testing.T) {
		out, err := f.search.GetCardinality(ctx, &iotdm.GetCardinalityInput{QueryString: "*", AggregationField: "attributes.model"})
		if err != nil || out.Cardinality != 2 {
			t.Errorf("GetCardinality(attributes.model) = %+v, %v, want 2", out, err)
		}
		out, err = f.search.GetCardinality(ctx, &iotdm.GetCardinalityInput{QueryString: "thingName:none", AggregationField: "attributes.model"})
		if err != nil || out.Cardinality != 0 {
			t.Errorf("GetCardinality(no match) = %+v, %v, want 0", out, err)
		}
	})

	t.Run("percentiles", func(t *testing.T) {
		out, err := f.search.GetPercentiles(ctx, &iotdm.GetPercentilesInput{QueryString: "*", AggregationField: "attributes.temp", Percents: []float64{50, 0, 100, 25}})
		if err != nil {
			t.Fatal(err)
		}
		want := []iotdm.PercentPair{{Percent: 50, Value: 25}, {Percent: 0, Value: 10}, {Percent: 100, Value: 40}, {Percent: 25, Value: 17.5}}
		if d := cmp.Diff(want, out.Percentiles); d != "" {
			t.Errorf("GetPercentiles (-want +got):\n%s", d)
		}
		out, err = f.search.GetPercentiles(ctx, &iotdm.GetPercentilesInput{QueryString: "thingName:none", AggregationField: "attributes.temp"})
		if err != nil || out.Percentiles == nil || len(out.Percentiles) != 0 {
			t.Errorf("GetPercentiles(no match) = %+v, %v, want an empty list", out, err)
		}
		_, err = f.search.GetPercentiles(ctx, &iotdm.GetPercentilesInput{QueryString: "*", AggregationField: "attributes.temp", Percents: []float64{101}})
		wantCode(t, "GetPercentiles(101)", err, iotdm.ErrInvalidRequest)
	})

	t.Run("buckets", func(t *testing.T) {
		in := &iotdm.GetBucketsAggregationInput{QueryString: "*", AggregationField: "attributes.model",
			BucketsAggregationType: &iotdm.BucketsAggregationType{TermsAggregation: &iotdm.TermsAggregation{}}}
		out, err := f.search.GetBucketsAggregation(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		want := &iotdm.GetBucketsAggregationOutput{TotalCount: 5, Buckets: []iotdm.Bucket{{KeyValue: "A", Count: 3}, {KeyValue: "B", Count: 2}}}
		if d := cmp.Diff(want, out); d != "" {
			t.Errorf("GetBucketsAggregation (-want +got):\n%s", d)
		}
		in.QueryString = "attributes.temp>15"
		in.BucketsAggregationType.TermsAggregation.MaxBuckets = 1
		out, err = f.search.GetBucketsAggregation(ctx, in)
		want = &iotdm.GetBucketsAggregationOutput{TotalCount: 3, Buckets: []iotdm.Bucket{{KeyValue: "B", Count: 2}}}
		if d := cmp.Diff(want, out); err != nil || d != "" {
			t.Errorf("GetBucketsAggregation(temp>15, max 1) = %v (-want +got):\n%s", err, d)
		}
	})

	t.Run("fields that are not managed or custom", func(t *testing.T) {
		_, err := f.search.GetStatistics(ctx, &iotdm.GetStatisticsInput{QueryString: "*", AggregationField: "attributes.undeclared"})
		wantCode(t, "GetStatistics(undeclared)", err, iotdm.ErrInvalidAggregation)
		_, err = f.search.GetPercentiles(ctx, &iotdm.GetPercentilesInput{QueryString: "*", AggregationField: "attributes.model"})
		wantCode(t, "GetPercentiles(String field)", err, iotdm.ErrInvalidAggregation)
		_, err = f.search.GetCardinality(ctx, &iotdm.GetCardinalityInput{QueryString: "*", AggregationField: "shadow.reported.nope"})
		wantCode(t, "GetCardinality(undeclared)", err, iotdm.ErrInvalidAggregation)
		// Managed fields need no declaration; shadow.name.*.hasDelta is a pattern.
		for _, field := range []string{"thingName", "registry.thingTypeName", "connectivity.connected"} {
			if _, err := f.search.GetCardinality(ctx, &iotdm.GetCardinalityInput{QueryString: "*", AggregationField: field}); err != nil {
				t.Errorf("GetCardinality(%s): %v", field, err)
			}
		}
		out, err := f.search.GetCardinality(ctx, &iotdm.GetCardinalityInput{QueryString: "*", AggregationField: "thingName"})
		if err != nil || out.Cardinality != 5 {
			t.Errorf("GetCardinality(thingName) = %+v, %v, want 5", out, err)
		}
	})
}

func TestSearchThingGroupsAndDisabledIndex(t *testing.T) {
	f := newSearchFixture(t)
	ctx := t.Context()
	for _, g := range []struct{ name, parent, desc string }{{"north", "", "northern sites"}, {"oslo", "north", "capital"}, {"south", "", ""}} {
		in := &iotdm.CreateThingGroupInput{ThingGroupName: g.name, ParentGroupName: g.parent}
		if g.desc != "" {
			in.ThingGroupProperties = &iotdm.ThingGroupProperties{ThingGroupDescription: g.desc}
		}
		if _, err := f.reg.CreateThingGroup(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	out, err := f.search.SearchIndex(ctx, &iotdm.SearchIndexInput{IndexName: iotdm.IndexThingGroups, QueryString: "parentGroupNames:north"})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.ThingGroups) != 1 || out.ThingGroups[0].ThingGroupName != "oslo" || out.ThingGroups[0].ThingGroupDescription != "capital" ||
		!slices.Equal(out.ThingGroups[0].ParentGroupNames, []string{"north"}) || out.ThingGroups[0].ThingGroupID == "" || out.Things != nil {
		t.Errorf("SearchIndex(AWS_ThingGroups) = %+v", out)
	}

	_, err = f.indexing.UpdateIndexingConfiguration(ctx, &iotdm.UpdateIndexingConfigurationInput{
		ThingIndexingConfiguration:      &iotdm.ThingIndexingConfiguration{ThingIndexingMode: iotdm.ThingIndexingOff},
		ThingGroupIndexingConfiguration: &iotdm.ThingGroupIndexingConfiguration{ThingGroupIndexingMode: iotdm.ThingGroupIndexingOff},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.search.SearchIndex(ctx, &iotdm.SearchIndexInput{QueryString: "*"})
	e := wantCode(t, "SearchIndex(disabled)", err, iotdm.ErrResourceNotFound)
	if want := "Index AWS_Things does not exist. Please enable index by calling UpdateIndexingConfiguration"; e.Message != want {
		t.Errorf("message %q, want %q", e.Message, want)
	}
	_, err = f.search.GetStatistics(ctx, &iotdm.GetStatisticsInput{QueryString: "*"})
	wantCode(t, "GetStatistics(disabled)", err, iotdm.ErrResourceNotFound)
	_, err = f.search.SearchIndex(ctx, &iotdm.SearchIndexInput{IndexName: iotdm.IndexThingGroups, QueryString: "*"})
	wantCode(t, "SearchIndex(groups disabled)", err, iotdm.ErrResourceNotFound)
}
