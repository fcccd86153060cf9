package awsapi_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iotdm/iotdm/internal/awsapi"
	"github.com/iotdm/iotdm/internal/control"
	"github.com/iotdm/iotdm/internal/pki"
	"github.com/iotdm/iotdm/internal/sqlite"
)

// These tests drive the provisioning templates control plane end to end: a
// real AWS SDK for Go v2 client, the signed edge, and the provisioning and
// registry services on a real SQLite store, composed as cmd/iotdm does.

const (
	provAKID   = "AKIDPROVISIONING"
	provSecret = "provisioning/secret+EXAMPLEKEY"
	provBody   = `{"Parameters": {"SerialNumber": {"Type": "String"}}, "Resources": {
	  "thing": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Ref": "SerialNumber"}}},
	  "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "ACTIVE"}}}}`
	provRoleARN = "arn:aws:iam::123456789012:role/provisioning"
)

func newProvisioningClient(t *testing.T) *iot.Client {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "prov.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ca, err := pki.NewCA(pki.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const region, account = "us-east-1", "123456789012"
	reg := control.NewRegistry(db, control.RegistryOptions{Region: region, AccountID: account})
	prov := control.NewFleetProvisioning(db, ca, control.ProvisioningOptions{Region: region, AccountID: account})
	s := awsapi.New(awsapi.Config{
		Keys:   func(id string) (string, bool) { return provSecret, id == provAKID },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	s.Handle("iot", awsapi.NewIoT(reg, awsapi.ProvisioningRoutes(prov)))
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return iot.New(iot.Options{
		Region:       region,
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(provAKID, provSecret, ""),
		Retryer:      aws.NopRetryer{},
	})
}

func TestProvisioningTemplatesWithSDK(t *testing.T) {
	c := newProvisioningClient(t)
	ctx := context.Background()
	const arn = "arn:aws:iot:us-east-1:123456789012:provisioningtemplate/factory"

	out, err := c.CreateProvisioningTemplate(ctx, &iot.CreateProvisioningTemplateInput{
		TemplateName: aws.String("factory"), TemplateBody: aws.String(provBody), ProvisioningRoleArn: aws.String(provRoleARN),
		Enabled: aws.Bool(true), Description: aws.String("line 1"),
		PreProvisioningHook: &types.ProvisioningHook{TargetArn: aws.String("arn:aws:lambda:us-east-1:123456789012:function:check")},
		Tags:                []types.Tag{{Key: aws.String("site"), Value: aws.String("lyon")}},
	})
	if err != nil {
		t.Fatalf("CreateProvisioningTemplate: %v", err)
	}
	if aws.ToString(out.TemplateArn) != arn || aws.ToInt32(out.DefaultVersionId) != 1 {
		t.Errorf("CreateProvisioningTemplate = %+v", out)
	}

	t.Run("describe", func(t *testing.T) {
		d, err := c.DescribeProvisioningTemplate(ctx, &iot.DescribeProvisioningTemplateInput{TemplateName: aws.String("factory")})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(d.TemplateBody) != provBody || !aws.ToBool(d.Enabled) || d.Type != types.TemplateTypeFleetProvisioning ||
			aws.ToString(d.PreProvisioningHook.PayloadVersion) != "2020-04-01" || aws.ToString(d.ProvisioningRoleArn) != provRoleARN ||
			d.CreationDate == nil || aws.ToString(d.Description) != "line 1" {
			t.Errorf("DescribeProvisioningTemplate = %+v", d)
		}
		tags, err := c.ListTagsForResource(ctx, &iot.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
		if err != nil || len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Key) != "site" {
			t.Errorf("ListTagsForResource = %+v, %v", tags, err)
		}
	})

	t.Run("errors", func(t *testing.T) {
		_, err := c.CreateProvisioningTemplate(ctx, &iot.CreateProvisioningTemplateInput{TemplateName: aws.String("factory"),
			TemplateBody: aws.String(provBody), ProvisioningRoleArn: aws.String(provRoleARN)})
		wantAPIError[*types.ResourceAlreadyExistsException](t, "CreateProvisioningTemplate(again)", err, 409)
		_, err = c.CreateProvisioningTemplate(ctx, &iot.CreateProvisioningTemplateInput{TemplateName: aws.String("bad"),
			TemplateBody: aws.String(`{"Resources": {"q": {"Type": "AWS::SQS::Queue"}}}`), ProvisioningRoleArn: aws.String(provRoleARN)})
		wantAPIError[*types.InvalidRequestException](t, "CreateProvisioningTemplate(bad body)", err, 400)
		_, err = c.DescribeProvisioningTemplate(ctx, &iot.DescribeProvisioningTemplateInput{TemplateName: aws.String("none")})
		wantAPIError[*types.ResourceNotFoundException](t, "DescribeProvisioningTemplate(none)", err, 404)
	})

	t.Run("versions", func(t *testing.T) {
		for i := 2; i <= 5; i++ {
			v, err := c.CreateProvisioningTemplateVersion(ctx, &iot.CreateProvisioningTemplateVersionInput{TemplateName: aws.String("factory"),
				TemplateBody: aws.String(provBody), SetAsDefault: i == 5})
			if err != nil || aws.ToInt32(v.VersionId) != int32(i) {
				t.Fatalf("CreateProvisioningTemplateVersion %d = %+v, %v", i, v, err)
			}
		}
		_, err := c.CreateProvisioningTemplateVersion(ctx, &iot.CreateProvisioningTemplateVersionInput{TemplateName: aws.String("factory"), TemplateBody: aws.String(provBody)})
		wantAPIError[*types.VersionsLimitExceededException](t, "CreateProvisioningTemplateVersion(sixth)", err, 409)
		_, err = c.DeleteProvisioningTemplateVersion(ctx, &iot.DeleteProvisioningTemplateVersionInput{TemplateName: aws.String("factory"), VersionId: aws.Int32(5)})
		wantAPIError[*types.DeleteConflictException](t, "DeleteProvisioningTemplateVersion(default)", err, 409)
		if _, err := c.DeleteProvisioningTemplateVersion(ctx, &iot.DeleteProvisioningTemplateVersionInput{TemplateName: aws.String("factory"), VersionId: aws.Int32(1)}); err != nil {
			t.Fatal(err)
		}
		v, err := c.DescribeProvisioningTemplateVersion(ctx, &iot.DescribeProvisioningTemplateVersionInput{TemplateName: aws.String("factory"), VersionId: aws.Int32(5)})
		if err != nil || !v.IsDefaultVersion || aws.ToString(v.TemplateBody) != provBody {
			t.Errorf("DescribeProvisioningTemplateVersion(5) = %+v, %v", v, err)
		}
		var ids []int32
		p := iot.NewListProvisioningTemplateVersionsPaginator(c, &iot.ListProvisioningTemplateVersionsInput{TemplateName: aws.String("factory"), MaxResults: aws.Int32(3)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range page.Versions {
				ids = append(ids, aws.ToInt32(s.VersionId))
			}
		}
		if len(ids) != 4 || ids[0] != 2 || ids[3] != 5 {
			t.Errorf("ListProvisioningTemplateVersions = %v, want 2 3 4 5", ids)
		}
	})

	t.Run("update and list", func(t *testing.T) {
		_, err := c.UpdateProvisioningTemplate(ctx, &iot.UpdateProvisioningTemplateInput{TemplateName: aws.String("factory"),
			DefaultVersionId: aws.Int32(2), Enabled: aws.Bool(false), RemovePreProvisioningHook: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		d, err := c.DescribeProvisioningTemplate(ctx, &iot.DescribeProvisioningTemplateInput{TemplateName: aws.String("factory")})
		if err != nil || aws.ToInt32(d.DefaultVersionId) != 2 || aws.ToBool(d.Enabled) || d.PreProvisioningHook != nil {
			t.Errorf("DescribeProvisioningTemplate after update = %+v, %v", d, err)
		}
		if _, err := c.CreateProvisioningTemplate(ctx, &iot.CreateProvisioningTemplateInput{TemplateName: aws.String("jit"),
			TemplateBody: aws.String(provBody), ProvisioningRoleArn: aws.String(provRoleARN), Type: types.TemplateTypeJitp}); err != nil {
			t.Fatal(err)
		}
		var names []string
		p := iot.NewListProvisioningTemplatesPaginator(c, &iot.ListProvisioningTemplatesInput{MaxResults: aws.Int32(1)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range page.Templates {
				names = append(names, aws.ToString(s.TemplateName)+":"+string(s.Type))
			}
		}
		if len(names) != 2 || names[0] != "factory:FLEET_PROVISIONING" || names[1] != "jit:JITP" {
			t.Errorf("ListProvisioningTemplates = %v", names)
		}
	})

	t.Run("delete", func(t *testing.T) {
		if _, err := c.DeleteProvisioningTemplate(ctx, &iot.DeleteProvisioningTemplateInput{TemplateName: aws.String("factory")}); err != nil {
			t.Fatal(err)
		}
		_, err := c.DeleteProvisioningTemplate(ctx, &iot.DeleteProvisioningTemplateInput{TemplateName: aws.String("factory")})
		wantAPIError[*types.ResourceNotFoundException](t, "DeleteProvisioningTemplate(again)", err, 404)
	})
}
