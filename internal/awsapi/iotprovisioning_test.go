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

// fakeProvisioning is an iotdm.ProvisioningTemplates that records its calls
// in the fakeRegistry it wraps and answers with fixed outputs.
type fakeProvisioning struct{ *fakeRegistry }

var _ iotdm.ProvisioningTemplates = fakeProvisioning{}

func (f fakeProvisioning) CreateProvisioningTemplate(ctx context.Context, in *iotdm.CreateProvisioningTemplateInput) (*iotdm.CreateProvisioningTemplateOutput, error) {
	if err := f.record("CreateProvisioningTemplate", in); err != nil {
		return nil, err
	}
	return &iotdm.CreateProvisioningTemplateOutput{TemplateARN: fakeARN + "provisioningtemplate/" + in.TemplateName, TemplateName: in.TemplateName, DefaultVersionID: 1}, nil
}

func (f fakeProvisioning) DescribeProvisioningTemplate(ctx context.Context, in *iotdm.DescribeProvisioningTemplateInput) (*iotdm.DescribeProvisioningTemplateOutput, error) {
	if err := f.record("DescribeProvisioningTemplate", in); err != nil {
		return nil, err
	}
	return &iotdm.DescribeProvisioningTemplateOutput{
		TemplateARN: fakeARN + "provisioningtemplate/" + in.TemplateName, TemplateName: in.TemplateName, Description: "line",
		CreationDate: fakeCreated, LastModifiedDate: fakeCreated, DefaultVersionID: 3, TemplateBody: `{"Resources": {}}`,
		Enabled: true, ProvisioningRoleARN: "arn:aws:iam::123456789012:role/p",
		PreProvisioningHook: &iotdm.ProvisioningHook{TargetARN: "https://hook.example.com", PayloadVersion: "2020-04-01"},
		Type:                iotdm.TemplateTypeJITP,
	}, nil
}

func (f fakeProvisioning) ListProvisioningTemplates(ctx context.Context, in *iotdm.ListProvisioningTemplatesInput) (*iotdm.ListProvisioningTemplatesOutput, error) {
	if err := f.record("ListProvisioningTemplates", in); err != nil {
		return nil, err
	}
	return &iotdm.ListProvisioningTemplatesOutput{Templates: []iotdm.ProvisioningTemplateSummary{{
		TemplateARN: fakeARN + "provisioningtemplate/a", TemplateName: "a", CreationDate: fakeCreated, LastModifiedDate: fakeCreated,
		Enabled: true, Type: iotdm.TemplateTypeFleetProvisioning}}, NextToken: "next/+="}, nil
}

func (f fakeProvisioning) UpdateProvisioningTemplate(ctx context.Context, in *iotdm.UpdateProvisioningTemplateInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, f.record("UpdateProvisioningTemplate", in)
}

func (f fakeProvisioning) DeleteProvisioningTemplate(ctx context.Context, in *iotdm.DeleteProvisioningTemplateInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, f.record("DeleteProvisioningTemplate", in)
}

func (f fakeProvisioning) CreateProvisioningTemplateVersion(ctx context.Context, in *iotdm.CreateProvisioningTemplateVersionInput) (*iotdm.CreateProvisioningTemplateVersionOutput, error) {
	if err := f.record("CreateProvisioningTemplateVersion", in); err != nil {
		return nil, err
	}
	return &iotdm.CreateProvisioningTemplateVersionOutput{TemplateARN: fakeARN + "provisioningtemplate/" + in.TemplateName,
		TemplateName: in.TemplateName, VersionID: 4, IsDefaultVersion: in.SetAsDefault}, nil
}

func (f fakeProvisioning) DescribeProvisioningTemplateVersion(ctx context.Context, in *iotdm.DescribeProvisioningTemplateVersionInput) (*iotdm.DescribeProvisioningTemplateVersionOutput, error) {
	if err := f.record("DescribeProvisioningTemplateVersion", in); err != nil {
		return nil, err
	}
	return &iotdm.DescribeProvisioningTemplateVersionOutput{VersionID: in.VersionID, CreationDate: fakeCreated, TemplateBody: "{}", IsDefaultVersion: true}, nil
}

func (f fakeProvisioning) ListProvisioningTemplateVersions(ctx context.Context, in *iotdm.ListProvisioningTemplateVersionsInput) (*iotdm.ListProvisioningTemplateVersionsOutput, error) {
	if err := f.record("ListProvisioningTemplateVersions", in); err != nil {
		return nil, err
	}
	return &iotdm.ListProvisioningTemplateVersionsOutput{Versions: []iotdm.ProvisioningTemplateVersionSummary{
		{VersionID: 1, CreationDate: fakeCreated}, {VersionID: 2, CreationDate: fakeCreated, IsDefaultVersion: true}}}, nil
}

func (f fakeProvisioning) DeleteProvisioningTemplateVersion(ctx context.Context, in *iotdm.DeleteProvisioningTemplateVersionInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, f.record("DeleteProvisioningTemplateVersion", in)
}

func TestProvisioningRoutesCoverService(t *testing.T) {
	checkRoutesCover(t, ProvisioningRoutes(fakeProvisioning{&fakeRegistry{}}), reflect.TypeFor[iotdm.ProvisioningTemplates]())
}

// TestProvisioningRoutesMatchModel holds the routes to the botocore iot
// model as TestIoTRoutesMatchModel does for the rest of the endpoint, and
// checks they compile beside every other route of the endpoint.
func TestProvisioningRoutesMatchModel(t *testing.T) {
	routes := ProvisioningRoutes(fakeProvisioning{&fakeRegistry{}})
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

func TestIoTWithSDKBindsProvisioningRequests(t *testing.T) {
	fake := &fakeRegistry{}
	s := New(Config{Keys: testKeys, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	s.Handle("iot", NewIoT(fake, ProvisioningRoutes(fakeProvisioning{fake})))
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	client := newIoTClient(srv.URL, testAKID, testSecret)
	ctx := context.Background()

	t.Run("CreateProvisioningTemplate", func(t *testing.T) {
		out, err := client.CreateProvisioningTemplate(ctx, &iot.CreateProvisioningTemplateInput{
			TemplateName: aws.String("factory"), TemplateBody: aws.String(`{"Resources": {}}`), Description: aws.String("line"),
			Enabled: aws.Bool(true), ProvisioningRoleArn: aws.String("arn:aws:iam::123456789012:role/p"),
			PreProvisioningHook: &types.ProvisioningHook{TargetArn: aws.String("https://hook.example.com"), PayloadVersion: aws.String("2020-04-01")},
			Tags:                []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}, Type: types.TemplateTypeJitp,
		})
		if err != nil {
			t.Fatal(err)
		}
		want := &iotdm.CreateProvisioningTemplateInput{TemplateName: "factory", TemplateBody: `{"Resources": {}}`, Description: "line",
			Enabled: true, ProvisioningRoleARN: "arn:aws:iam::123456789012:role/p",
			PreProvisioningHook: &iotdm.ProvisioningHook{TargetARN: "https://hook.example.com", PayloadVersion: "2020-04-01"},
			Tags:                []iotdm.Tag{{Key: "k", Value: "v"}}, Type: "JITP"}
		if diff := cmp.Diff(want, fake.last(t, "CreateProvisioningTemplate")); diff != "" {
			t.Errorf("CreateProvisioningTemplate input (-want +got):\n%s", diff)
		}
		if aws.ToString(out.TemplateArn) != fakeARN+"provisioningtemplate/factory" || aws.ToInt32(out.DefaultVersionId) != 1 || aws.ToString(out.TemplateName) != "factory" {
			t.Errorf("CreateProvisioningTemplate output %+v", out)
		}
	})

	t.Run("DescribeProvisioningTemplate", func(t *testing.T) {
		out, err := client.DescribeProvisioningTemplate(ctx, &iot.DescribeProvisioningTemplateInput{TemplateName: aws.String("factory")})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.TemplateName) != "factory" || aws.ToInt32(out.DefaultVersionId) != 3 || !aws.ToBool(out.Enabled) ||
			out.Type != types.TemplateTypeJitp || aws.ToString(out.PreProvisioningHook.TargetArn) != "https://hook.example.com" ||
			!aws.ToTime(out.CreationDate).Equal(fakeCreated.Time) || aws.ToString(out.TemplateBody) != `{"Resources": {}}` {
			t.Errorf("DescribeProvisioningTemplate output %+v", out)
		}
	})

	t.Run("ListProvisioningTemplates", func(t *testing.T) {
		out, err := client.ListProvisioningTemplates(ctx, &iot.ListProvisioningTemplatesInput{MaxResults: aws.Int32(5), NextToken: aws.String("tok/+= x")})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&iotdm.ListProvisioningTemplatesInput{MaxResults: 5, NextToken: "tok/+= x"}, fake.last(t, "ListProvisioningTemplates")); diff != "" {
			t.Errorf("ListProvisioningTemplates input (-want +got):\n%s", diff)
		}
		if len(out.Templates) != 1 || aws.ToString(out.Templates[0].TemplateName) != "a" || aws.ToString(out.NextToken) != "next/+=" {
			t.Errorf("ListProvisioningTemplates output %+v", out)
		}
	})

	t.Run("UpdateProvisioningTemplate", func(t *testing.T) {
		_, err := client.UpdateProvisioningTemplate(ctx, &iot.UpdateProvisioningTemplateInput{TemplateName: aws.String("factory"),
			DefaultVersionId: aws.Int32(2), Enabled: aws.Bool(false), Description: aws.String(""), RemovePreProvisioningHook: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		want := &iotdm.UpdateProvisioningTemplateInput{TemplateName: "factory", DefaultVersionID: ptr(2), Enabled: ptr(false),
			Description: ptr(""), RemovePreProvisioningHook: true}
		if diff := cmp.Diff(want, fake.last(t, "UpdateProvisioningTemplate")); diff != "" {
			t.Errorf("UpdateProvisioningTemplate input (-want +got):\n%s", diff)
		}
	})

	t.Run("DeleteProvisioningTemplate", func(t *testing.T) {
		if _, err := client.DeleteProvisioningTemplate(ctx, &iot.DeleteProvisioningTemplateInput{TemplateName: aws.String("factory")}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&iotdm.DeleteProvisioningTemplateInput{TemplateName: "factory"}, fake.last(t, "DeleteProvisioningTemplate")); diff != "" {
			t.Errorf("DeleteProvisioningTemplate input (-want +got):\n%s", diff)
		}
	})

	t.Run("CreateProvisioningTemplateVersion", func(t *testing.T) {
		out, err := client.CreateProvisioningTemplateVersion(ctx, &iot.CreateProvisioningTemplateVersionInput{TemplateName: aws.String("factory"),
			TemplateBody: aws.String("{}"), SetAsDefault: true})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&iotdm.CreateProvisioningTemplateVersionInput{TemplateName: "factory", TemplateBody: "{}", SetAsDefault: true},
			fake.last(t, "CreateProvisioningTemplateVersion")); diff != "" {
			t.Errorf("CreateProvisioningTemplateVersion input (-want +got):\n%s", diff)
		}
		if aws.ToInt32(out.VersionId) != 4 || !out.IsDefaultVersion {
			t.Errorf("CreateProvisioningTemplateVersion output %+v", out)
		}
	})

	t.Run("DescribeProvisioningTemplateVersion", func(t *testing.T) {
		out, err := client.DescribeProvisioningTemplateVersion(ctx, &iot.DescribeProvisioningTemplateVersionInput{TemplateName: aws.String("factory"), VersionId: aws.Int32(7)})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&iotdm.DescribeProvisioningTemplateVersionInput{TemplateName: "factory", VersionID: 7}, fake.last(t, "DescribeProvisioningTemplateVersion")); diff != "" {
			t.Errorf("DescribeProvisioningTemplateVersion input (-want +got):\n%s", diff)
		}
		if aws.ToInt32(out.VersionId) != 7 || !out.IsDefaultVersion || aws.ToString(out.TemplateBody) != "{}" {
			t.Errorf("DescribeProvisioningTemplateVersion output %+v", out)
		}
	})

	t.Run("ListProvisioningTemplateVersions", func(t *testing.T) {
		out, err := client.ListProvisioningTemplateVersions(ctx, &iot.ListProvisioningTemplateVersionsInput{TemplateName: aws.String("factory"), MaxResults: aws.Int32(2)})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&iotdm.ListProvisioningTemplateVersionsInput{TemplateName: "factory", MaxResults: 2}, fake.last(t, "ListProvisioningTemplateVersions")); diff != "" {
			t.Errorf("ListProvisioningTemplateVersions input (-want +got):\n%s", diff)
		}
		if len(out.Versions) != 2 || aws.ToInt32(out.Versions[1].VersionId) != 2 || !out.Versions[1].IsDefaultVersion {
			t.Errorf("ListProvisioningTemplateVersions output %+v", out)
		}
	})

	t.Run("DeleteProvisioningTemplateVersion", func(t *testing.T) {
		if _, err := client.DeleteProvisioningTemplateVersion(ctx, &iot.DeleteProvisioningTemplateVersionInput{TemplateName: aws.String("factory"), VersionId: aws.Int32(2)}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&iotdm.DeleteProvisioningTemplateVersionInput{TemplateName: "factory", VersionID: 2}, fake.last(t, "DeleteProvisioningTemplateVersion")); diff != "" {
			t.Errorf("DeleteProvisioningTemplateVersion input (-want +got):\n%s", diff)
		}
	})
}
