package control_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/control"
)

// fleetBody is a dashboard body as the CDK synthesizes one.
const fleetBody = `{"start":"-PT6H","periodOverride":"inherit","widgets":[` +
	`{"type":"text","width":24,"height":2,"x":0,"y":0,"properties":{"markdown":"# Fleet"}},` +
	`{"type":"metric","width":6,"height":6,"x":0,"y":2,"properties":{"view":"timeSeries","title":"Connected Devices","region":"us-east-1",` +
	`"metrics":[["IoTFleetMetrics","ConnectedDevices",{"stat":"Average"}]],"period":300}},` +
	`{"type":"alarm","width":6,"height":6,"x":6,"y":2,"properties":{"alarms":["arn:aws:cloudwatch:us-east-1:123456789012:alarm:a"]}},` +
	`{"type":"log","width":12,"height":6,"x":12,"y":2,"properties":{"query":"SOURCE '/aws/iot' | fields @message","region":"us-east-1"}},` +
	`{"type":"metric","properties":{"annotations":{"alarms":["arn:aws:cloudwatch:us-east-1:123456789012:alarm:a"]}}}]}`

func TestDashboardLifecycle(t *testing.T) {
	f := newMonitorFixture(t)
	ctx := t.Context()
	seq := f.lastSeq(t)
	out, err := f.dash.PutDashboard(ctx, &iotdm.PutDashboardInput{DashboardName: "IoTFleetDashboard", DashboardBody: fleetBody,
		Tags: []iotdm.Tag{{Key: "team", Value: "fleet"}}})
	if err != nil {
		t.Fatal(err)
	}
	if out.DashboardValidationMessages == nil || len(out.DashboardValidationMessages) != 0 {
		t.Errorf("DashboardValidationMessages = %#v, want []", out.DashboardValidationMessages)
	}
	got, err := f.dash.GetDashboard(ctx, &iotdm.GetDashboardInput{DashboardName: "IoTFleetDashboard"})
	if err != nil {
		t.Fatal(err)
	}
	want := &iotdm.GetDashboardOutput{DashboardArn: "arn:aws:cloudwatch::123456789012:dashboard/IoTFleetDashboard",
		DashboardBody: fleetBody, DashboardName: "IoTFleetDashboard"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetDashboard (-want +got):\n%s", diff)
	}

	// A put replaces the body and keeps the tags of the creation.
	f.now = f.now.Add(time.Minute)
	const small = `{"widgets":[]}`
	if _, err := f.dash.PutDashboard(ctx, &iotdm.PutDashboardInput{DashboardName: "IoTFleetDashboard", DashboardBody: small,
		Tags: []iotdm.Tag{{Key: "ignored", Value: "x"}}}); err != nil {
		t.Fatal(err)
	}
	list, err := f.dash.ListDashboards(ctx, &iotdm.ListDashboardsInput{})
	if err != nil {
		t.Fatal(err)
	}
	wantList := []iotdm.DashboardEntry{{DashboardName: "IoTFleetDashboard", DashboardArn: want.DashboardArn,
		LastModified: iotdm.Timestamp{Time: f.now}, Size: int64(len(small))}}
	if diff := cmp.Diff(wantList, list.DashboardEntries); diff != "" || list.NextToken != "" {
		t.Errorf("ListDashboards next %q, entries (-want +got):\n%s", list.NextToken, diff)
	}
	var stored iotdm.StoredDashboard
	if b, ok, err := f.db.Get(ctx, iotdm.KindDashboard, "IoTFleetDashboard"); err != nil || !ok {
		t.Fatalf("Get = %v, %v", ok, err)
	} else if err := json.Unmarshal(b, &stored); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]iotdm.Tag{{Key: "team", Value: "fleet"}}, stored.Tags); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}

	if _, err := f.dash.DeleteDashboards(ctx, &iotdm.DeleteDashboardsInput{DashboardNames: []string{"IoTFleetDashboard"}}); err != nil {
		t.Fatal(err)
	}
	_, err = f.dash.GetDashboard(ctx, &iotdm.GetDashboardInput{DashboardName: "IoTFleetDashboard"})
	wantMonCode(t, "GetDashboard(deleted)", err, iotdm.ErrCloudWatchNotFound, "Dashboard IoTFleetDashboard does not exist")
	wantChanges := []string{"put dashboard/IoTFleetDashboard", "put dashboard/IoTFleetDashboard", "delete dashboard/IoTFleetDashboard"}
	if diff := cmp.Diff(wantChanges, f.changesSince(t, seq)); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
}

func TestDeleteDashboardsAllOrNothing(t *testing.T) {
	f := newMonitorFixture(t)
	ctx := t.Context()
	for _, n := range []string{"a", "b"} {
		if _, err := f.dash.PutDashboard(ctx, &iotdm.PutDashboardInput{DashboardName: n, DashboardBody: `{"widgets":[]}`}); err != nil {
			t.Fatal(err)
		}
	}
	seq := f.lastSeq(t)
	_, err := f.dash.DeleteDashboards(ctx, &iotdm.DeleteDashboardsInput{DashboardNames: []string{"a", "missing", "b"}})
	wantMonCode(t, "DeleteDashboards(one missing)", err, iotdm.ErrCloudWatchNotFound, "Dashboard missing does not exist")
	if got := f.changesSince(t, seq); len(got) != 0 {
		t.Errorf("a refused DeleteDashboards changed %v", got)
	}
	_, err = f.dash.DeleteDashboards(ctx, &iotdm.DeleteDashboardsInput{})
	wantMonCode(t, "DeleteDashboards(none)", err, iotdm.ErrCloudWatchValidation, "dashboardNames")
	_, err = f.dash.DeleteDashboards(ctx, &iotdm.DeleteDashboardsInput{DashboardNames: []string{"a b"}})
	wantMonCode(t, "DeleteDashboards(bad name)", err, iotdm.ErrInvalidParameterValue, "invalid characters")
	_, err = f.dash.DeleteDashboards(ctx, &iotdm.DeleteDashboardsInput{DashboardNames: make([]string, 101)})
	wantMonCode(t, "DeleteDashboards(101)", err, iotdm.ErrInvalidParameterValue, "")
	if _, err := f.dash.DeleteDashboards(ctx, &iotdm.DeleteDashboardsInput{DashboardNames: []string{"b", "a"}}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"delete dashboard/b", "delete dashboard/a"}, f.changesSince(t, seq)); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
}

func TestPutDashboardRefuses(t *testing.T) {
	f := newMonitorFixture(t)
	tests := []struct {
		name   string
		in     iotdm.PutDashboardInput
		code   iotdm.ErrorCode
		substr string
	}{
		{"empty name", iotdm.PutDashboardInput{DashboardBody: `{"widgets":[]}`}, iotdm.ErrInvalidParameterInput, "DashboardName"},
		{"name with a dot", iotdm.PutDashboardInput{DashboardName: "a.b", DashboardBody: `{"widgets":[]}`}, iotdm.ErrInvalidParameterInput, "invalid characters"},
		{"name of 256", iotdm.PutDashboardInput{DashboardName: strings.Repeat("a", 256), DashboardBody: `{"widgets":[]}`}, iotdm.ErrInvalidParameterInput, "255"},
		{"no body", iotdm.PutDashboardInput{DashboardName: "d"}, iotdm.ErrMissingParameter, "DashboardBody"},
		{"body not JSON", iotdm.PutDashboardInput{DashboardName: "d", DashboardBody: `{"widgets":[}`}, iotdm.ErrInvalidParameterInput, "must be a valid JSON object"},
		{"body an array", iotdm.PutDashboardInput{DashboardName: "d", DashboardBody: `[]`}, iotdm.ErrInvalidParameterInput, "must be a valid JSON object"},
		{"body with trailing data", iotdm.PutDashboardInput{DashboardName: "d", DashboardBody: `{"widgets":[]} {}`}, iotdm.ErrInvalidParameterInput, "must be a valid JSON object"},
		{"body without widgets", iotdm.PutDashboardInput{DashboardName: "d", DashboardBody: `{}`}, iotdm.ErrInvalidParameterInput,
			"The dashboard body is invalid, there are 1 validation errors:\n[\n  {\n    \"dataPath\": \"\",\n    \"message\": \"Should have required property 'widgets'\"\n  }\n]"},
		{"51 tags", iotdm.PutDashboardInput{DashboardName: "d", DashboardBody: `{"widgets":[]}`, Tags: func() []iotdm.Tag {
			var tags []iotdm.Tag
			for i := range 51 {
				tags = append(tags, iotdm.Tag{Key: fmt.Sprint(i)})
			}
			return tags
		}()}, iotdm.ErrCloudWatchLimitExceeded, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.dash.PutDashboard(t.Context(), &tt.in)
			wantMonCode(t, "PutDashboard", err, tt.code, tt.substr)
		})
	}
	if got := f.lastSeq(t); got != 0 {
		t.Errorf("refused puts committed %d changes", got)
	}
}

func TestValidateDashboardBody(t *testing.T) {
	type msg = iotdm.DashboardValidationMessage
	dvm := func(path, message string) msg { return msg{DataPath: path, Message: message} }
	const render = `Field "metrics" has to be an array of array of strings, with an optional metricRenderer object as last element`
	tests := []struct {
		name string
		body string
		want []msg
	}{
		{"CDK fleet dashboard", fleetBody, nil},
		{"empty widgets", `{"widgets":[]}`, nil},
		{"widgets not an array", `{"widgets":{}}`, []msg{dvm("/widgets", "Should be array")}},
		{"widget not an object", `{"widgets":[1]}`, []msg{dvm("/widgets/0", "Should be object")}},
		{"widget without type", `{"widgets":[{"properties":{}}]}`, []msg{dvm("/widgets/0", "Should have required property 'type'")}},
		{"unknown type", `{"widgets":[{"type":"chart","properties":{}}]}`, []msg{dvm("/widgets/0/type", "Should be equal to one of the allowed values")}},
		{"no properties", `{"widgets":[{"type":"text"}]}`, []msg{dvm("/widgets/0", "Should have required property 'properties'")}},
		{"text without markdown", `{"widgets":[{"type":"text","properties":{}}]}`, []msg{dvm("/widgets/0/properties", "Should have required property 'markdown'")}},
		{"log without query", `{"widgets":[{"type":"log","properties":{"region":"us-east-1"}}]}`, []msg{dvm("/widgets/0/properties", "Should have required property 'query'")}},
		{"alarm without alarms", `{"widgets":[{"type":"alarm","properties":{}}]}`, []msg{dvm("/widgets/0/properties", "Should have required property 'alarms'")}},
		{"metric without metrics or annotations", `{"widgets":[{"type":"metric","properties":{"region":"us-east-1"}}]}`, []msg{
			dvm("/widgets/0/properties", "Should have required property 'metrics'"),
			dvm("/widgets/0/properties", "The metric widget should have specified a region and a data source or an alarm annotation"),
			dvm("/widgets/0/properties", "Should have required property 'annotations'"),
		}},
		{"metrics rows not arrays", `{"widgets":[{"type":"metric","properties":{"metrics":["AWS/EC2","CPUUtilization"]}}]}`, []msg{
			dvm("/widgets/0/properties/metrics/0", "Should be array"), dvm("/widgets/0/properties/metrics/0", render),
			dvm("/widgets/0/properties/metrics/1", "Should be array"), dvm("/widgets/0/properties/metrics/1", render),
		}},
		{"renderer not last", `{"widgets":[{"type":"metric","properties":{"metrics":[["A",{"stat":"Sum"},"B"]]}}]}`, []msg{dvm("/widgets/0/properties/metrics/0", render)}},
		{"grid bounds", `{"widgets":[{"type":"text","x":24,"y":-1,"width":0,"height":1001,"properties":{"markdown":"m"}}]}`, []msg{
			dvm("/widgets/0/x", "Should be <= 23"), dvm("/widgets/0/y", "Should be >= 0"), dvm("/widgets/0/width", "Should be >= 1"), dvm("/widgets/0/height", "Should be <= 1000"),
		}},
		{"grid integers", `{"widgets":[{"type":"text","x":1.5,"width":"6","properties":{"markdown":"m"}}]}`, []msg{
			dvm("/widgets/0/x", "Should be integer"), dvm("/widgets/0/width", "Should be integer"),
		}},
		{"periodOverride", `{"periodOverride":"always","widgets":[]}`, []msg{dvm("/periodOverride", "Should be equal to one of the allowed values")}},
		{"too many widgets", `{"widgets":[` + strings.TrimSuffix(strings.Repeat(`{"type":"text","properties":{"markdown":"m"}},`, 501), ",") + `]}`,
			[]msg{dvm("/widgets", "Should NOT have more than 500 items")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := control.ValidateDashboardBody(tt.body)
			if !ok {
				t.Fatalf("ValidateDashboardBody(%s) says no JSON object", tt.body)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ValidateDashboardBody(%s) (-want +got):\n%s", tt.body, diff)
			}
		})
	}
}

func TestListDashboards(t *testing.T) {
	f := newMonitorFixture(t)
	ctx := t.Context()
	for _, n := range []string{"app-1", "app-2", "db", "App-3"} {
		if _, err := f.dash.PutDashboard(ctx, &iotdm.PutDashboardInput{DashboardName: n, DashboardBody: `{"widgets":[]}`}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := f.dash.ListDashboards(ctx, &iotdm.ListDashboardsInput{DashboardNamePrefix: "app-"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range out.DashboardEntries {
		names = append(names, e.DashboardName)
	}
	if diff := cmp.Diff([]string{"app-1", "app-2"}, names); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	empty, err := f.dash.ListDashboards(ctx, &iotdm.ListDashboardsInput{DashboardNamePrefix: "zzz"})
	if err != nil || empty.DashboardEntries == nil || len(empty.DashboardEntries) != 0 {
		t.Errorf("ListDashboards(zzz) = %+v, %v", empty, err)
	}
	_, err = f.dash.ListDashboards(ctx, &iotdm.ListDashboardsInput{DashboardNamePrefix: "a b"})
	wantMonCode(t, "ListDashboards(bad prefix)", err, iotdm.ErrInvalidParameterValue, "DashboardNamePrefix")
	_, err = f.dash.ListDashboards(ctx, &iotdm.ListDashboardsInput{NextToken: "not-a-token!"})
	wantMonCode(t, "ListDashboards(bad token)", err, iotdm.ErrInvalidParameterValue, "NextToken")
	_, err = f.dash.GetDashboard(ctx, &iotdm.GetDashboardInput{DashboardName: "a/b"})
	wantMonCode(t, "GetDashboard(bad name)", err, iotdm.ErrInvalidParameterValue, "invalid characters")
}

func TestListDashboardsPagesByThousand(t *testing.T) {
	f := newMonitorFixture(t)
	ctx := t.Context()
	for i := range 1001 {
		if _, err := f.dash.PutDashboard(ctx, &iotdm.PutDashboardInput{DashboardName: fmt.Sprintf("d%04d", i), DashboardBody: `{"widgets":[]}`}); err != nil {
			t.Fatal(err)
		}
	}
	first, err := f.dash.ListDashboards(ctx, &iotdm.ListDashboardsInput{})
	if err != nil || len(first.DashboardEntries) != 1000 || first.NextToken == "" {
		t.Fatalf("first page: %d entries, next %q, %v", len(first.DashboardEntries), first.NextToken, err)
	}
	second, err := f.dash.ListDashboards(ctx, &iotdm.ListDashboardsInput{NextToken: first.NextToken})
	if err != nil || len(second.DashboardEntries) != 1 || second.DashboardEntries[0].DashboardName != "d1000" || second.NextToken != "" {
		t.Fatalf("second page = %+v, %v", second, err)
	}
}
