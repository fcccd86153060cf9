package control_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/control"
)

// These tests hold the provisioning templates control plane to the iot
// model and AWS's rules: validation, versions (at most five, ids never
// reused, the default one kept), the pre-provisioning hook and tags.

const provRole = "arn:aws:iam::123456789012:role/provisioning"

func TestProvisioningTemplateLifecycle(t *testing.T) {
	f := newProvFixture(t)
	ctx := t.Context()
	const arn = "arn:aws:iot:us-east-1:123456789012:provisioningtemplate/factory"

	out, err := f.prov.CreateProvisioningTemplate(ctx, &iotdm.CreateProvisioningTemplateInput{
		TemplateName: "factory", Description: "line 1", TemplateBody: provTemplate, ProvisioningRoleARN: provRole,
		Tags: []iotdm.Tag{{Key: "site", Value: "lyon"}},
	})
	if err != nil {
		t.Fatalf("CreateProvisioningTemplate: %v", err)
	}
	if diff := cmp.Diff(&iotdm.CreateProvisioningTemplateOutput{TemplateARN: arn, TemplateName: "factory", DefaultVersionID: 1}, out); diff != "" {
		t.Errorf("CreateProvisioningTemplate (-want +got):\n%s", diff)
	}
	created := iotdm.Timestamp{Time: f.clk.Now().UTC()}

	d, err := f.prov.DescribeProvisioningTemplate(ctx, &iotdm.DescribeProvisioningTemplateInput{TemplateName: "factory"})
	if err != nil {
		t.Fatal(err)
	}
	want := &iotdm.DescribeProvisioningTemplateOutput{TemplateARN: arn, TemplateName: "factory", Description: "line 1",
		CreationDate: created, LastModifiedDate: created, DefaultVersionID: 1, TemplateBody: provTemplate,
		Enabled: false, ProvisioningRoleARN: provRole, Type: iotdm.TemplateTypeFleetProvisioning}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("DescribeProvisioningTemplate (-want +got):\n%s", diff)
	}

	t.Run("already exists", func(t *testing.T) {
		_, err := f.prov.CreateProvisioningTemplate(ctx, &iotdm.CreateProvisioningTemplateInput{TemplateName: "factory", TemplateBody: provTemplate, ProvisioningRoleARN: provRole})
		var e *iotdm.Error
		if !iotdm.IsCode(err, iotdm.ErrResourceAlreadyExists) || !provAsError(err, &e) || e.ResourceARN != arn {
			t.Errorf("CreateProvisioningTemplate(again) = %v, want ResourceAlreadyExistsException with the ARN", err)
		}
	})

	t.Run("tags", func(t *testing.T) {
		tags, err := f.reg.ListTagsForResource(ctx, &iotdm.ListTagsForResourceInput{ResourceARN: arn})
		if err != nil || !cmp.Equal(tags.Tags, []iotdm.Tag{{Key: "site", Value: "lyon"}}) {
			t.Errorf("ListTagsForResource = %+v, %v", tags, err)
		}
		if _, err := f.reg.TagResource(ctx, &iotdm.TagResourceInput{ResourceARN: arn, Tags: []iotdm.Tag{{Key: "line", Value: "2"}}}); err != nil {
			t.Errorf("TagResource: %v", err)
		}
		if _, err := f.prov.DescribeProvisioningTemplate(ctx, &iotdm.DescribeProvisioningTemplateInput{TemplateName: "factory"}); err != nil {
			t.Errorf("DescribeProvisioningTemplate after TagResource: %v", err)
		}
	})

	t.Run("update", func(t *testing.T) {
		f.clk.advance(time.Minute)
		_, err := f.prov.UpdateProvisioningTemplate(ctx, &iotdm.UpdateProvisioningTemplateInput{TemplateName: "factory",
			Description: provPtr("line 2"), Enabled: provPtr(true), ProvisioningRoleARN: provPtr(provRole + "2"),
			PreProvisioningHook: &iotdm.ProvisioningHook{TargetARN: "https://hooks.example.com/pre"}})
		if err != nil {
			t.Fatalf("UpdateProvisioningTemplate: %v", err)
		}
		d, err := f.prov.DescribeProvisioningTemplate(ctx, &iotdm.DescribeProvisioningTemplateInput{TemplateName: "factory"})
		if err != nil {
			t.Fatal(err)
		}
		if d.Description != "line 2" || !d.Enabled || d.ProvisioningRoleARN != provRole+"2" || !d.LastModifiedDate.After(created.Time) ||
			!cmp.Equal(d.PreProvisioningHook, &iotdm.ProvisioningHook{TargetARN: "https://hooks.example.com/pre", PayloadVersion: "2020-04-01"}) {
			t.Errorf("DescribeProvisioningTemplate after update = %+v", d)
		}
		if _, err := f.prov.UpdateProvisioningTemplate(ctx, &iotdm.UpdateProvisioningTemplateInput{TemplateName: "factory", RemovePreProvisioningHook: true}); err != nil {
			t.Fatal(err)
		}
		if d, _ := f.prov.DescribeProvisioningTemplate(ctx, &iotdm.DescribeProvisioningTemplateInput{TemplateName: "factory"}); d.PreProvisioningHook != nil {
			t.Errorf("hook after removePreProvisioningHook = %+v", d.PreProvisioningHook)
		}
	})

	t.Run("versions", func(t *testing.T) {
		body := strings.Replace(provTemplate, `"1.0"`, `"2.0"`, 1)
		for i := 2; i <= 5; i++ {
			v, err := f.prov.CreateProvisioningTemplateVersion(ctx, &iotdm.CreateProvisioningTemplateVersionInput{TemplateName: "factory",
				TemplateBody: body, SetAsDefault: i == 3})
			if err != nil {
				t.Fatalf("CreateProvisioningTemplateVersion %d: %v", i, err)
			}
			if v.VersionID != i || v.IsDefaultVersion != (i == 3) || v.TemplateARN != arn {
				t.Errorf("CreateProvisioningTemplateVersion %d = %+v", i, v)
			}
		}
		_, err := f.prov.CreateProvisioningTemplateVersion(ctx, &iotdm.CreateProvisioningTemplateVersionInput{TemplateName: "factory", TemplateBody: body})
		if !iotdm.IsCode(err, iotdm.ErrVersionsLimitExceeded) {
			t.Errorf("CreateProvisioningTemplateVersion(sixth) = %v, want VersionsLimitExceededException", err)
		}
		d, _ := f.prov.DescribeProvisioningTemplate(ctx, &iotdm.DescribeProvisioningTemplateInput{TemplateName: "factory"})
		if d.DefaultVersionID != 3 || d.TemplateBody != body {
			t.Errorf("DescribeProvisioningTemplate default %d, body of the default version: %v", d.DefaultVersionID, d.TemplateBody == body)
		}
		_, err = f.prov.DeleteProvisioningTemplateVersion(ctx, &iotdm.DeleteProvisioningTemplateVersionInput{TemplateName: "factory", VersionID: 3})
		if !iotdm.IsCode(err, iotdm.ErrDeleteConflict) {
			t.Errorf("DeleteProvisioningTemplateVersion(default) = %v, want DeleteConflictException", err)
		}
		if _, err := f.prov.DeleteProvisioningTemplateVersion(ctx, &iotdm.DeleteProvisioningTemplateVersionInput{TemplateName: "factory", VersionID: 5}); err != nil {
			t.Fatalf("DeleteProvisioningTemplateVersion(5): %v", err)
		}
		v, err := f.prov.CreateProvisioningTemplateVersion(ctx, &iotdm.CreateProvisioningTemplateVersionInput{TemplateName: "factory", TemplateBody: body})
		if err != nil || v.VersionID != 6 {
			t.Errorf("CreateProvisioningTemplateVersion after a delete = %+v, %v, want version 6 (ids are never reused)", v, err)
		}
		list, err := f.prov.ListProvisioningTemplateVersions(ctx, &iotdm.ListProvisioningTemplateVersionsInput{TemplateName: "factory", MaxResults: 3})
		if err != nil {
			t.Fatal(err)
		}
		var ids []int
		for _, s := range list.Versions {
			ids = append(ids, s.VersionID)
			if s.IsDefaultVersion != (s.VersionID == 3) {
				t.Errorf("version %d isDefaultVersion = %v", s.VersionID, s.IsDefaultVersion)
			}
		}
		next, err := f.prov.ListProvisioningTemplateVersions(ctx, &iotdm.ListProvisioningTemplateVersionsInput{TemplateName: "factory", NextToken: list.NextToken})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range next.Versions {
			ids = append(ids, s.VersionID)
		}
		if !cmp.Equal(ids, []int{1, 2, 3, 4, 6}) || list.NextToken == "" || next.NextToken != "" {
			t.Errorf("ListProvisioningTemplateVersions = %v (tokens %q, %q), want 1 2 3 4 6 over two pages", ids, list.NextToken, next.NextToken)
		}
		dv, err := f.prov.DescribeProvisioningTemplateVersion(ctx, &iotdm.DescribeProvisioningTemplateVersionInput{TemplateName: "factory", VersionID: 1})
		if err != nil || dv.TemplateBody != provTemplate || dv.IsDefaultVersion || dv.VersionID != 1 {
			t.Errorf("DescribeProvisioningTemplateVersion(1) = %+v, %v", dv, err)
		}
		_, err = f.prov.DescribeProvisioningTemplateVersion(ctx, &iotdm.DescribeProvisioningTemplateVersionInput{TemplateName: "factory", VersionID: 5})
		if !iotdm.IsCode(err, iotdm.ErrResourceNotFound) {
			t.Errorf("DescribeProvisioningTemplateVersion(deleted) = %v, want ResourceNotFoundException", err)
		}
		if _, err := f.prov.UpdateProvisioningTemplate(ctx, &iotdm.UpdateProvisioningTemplateInput{TemplateName: "factory", DefaultVersionID: provPtr(5)}); !iotdm.IsCode(err, iotdm.ErrResourceNotFound) {
			t.Errorf("UpdateProvisioningTemplate(defaultVersionId of a deleted version) = %v, want ResourceNotFoundException", err)
		}
		if _, err := f.prov.UpdateProvisioningTemplate(ctx, &iotdm.UpdateProvisioningTemplateInput{TemplateName: "factory", DefaultVersionID: provPtr(1)}); err != nil {
			t.Errorf("UpdateProvisioningTemplate(defaultVersionId 1) = %v", err)
		}
	})

	t.Run("list", func(t *testing.T) {
		for _, name := range []string{"b-line", "a-line"} {
			if _, err := f.prov.CreateProvisioningTemplate(ctx, &iotdm.CreateProvisioningTemplateInput{TemplateName: name, TemplateBody: provTemplate,
				ProvisioningRoleARN: provRole, Type: iotdm.TemplateTypeJITP}); err != nil {
				t.Fatal(err)
			}
		}
		page, err := f.prov.ListProvisioningTemplates(ctx, &iotdm.ListProvisioningTemplatesInput{MaxResults: 2})
		if err != nil {
			t.Fatal(err)
		}
		rest, err := f.prov.ListProvisioningTemplates(ctx, &iotdm.ListProvisioningTemplatesInput{NextToken: page.NextToken})
		if err != nil {
			t.Fatal(err)
		}
		got := append(page.Templates, rest.Templates...)
		var names []string
		for _, s := range got {
			names = append(names, s.TemplateName+":"+s.Type)
		}
		if !cmp.Equal(names, []string{"a-line:JITP", "b-line:JITP", "factory:FLEET_PROVISIONING"}) || rest.NextToken != "" {
			t.Errorf("ListProvisioningTemplates = %v", names)
		}
		if s := got[2]; s.TemplateARN != arn || s.Description != "line 2" || !s.Enabled {
			t.Errorf("ListProvisioningTemplates item = %+v", s)
		}
	})

	t.Run("delete", func(t *testing.T) {
		if _, err := f.prov.DeleteProvisioningTemplate(ctx, &iotdm.DeleteProvisioningTemplateInput{TemplateName: "factory"}); err != nil {
			t.Fatalf("DeleteProvisioningTemplate: %v", err)
		}
		if _, err := f.prov.DescribeProvisioningTemplate(ctx, &iotdm.DescribeProvisioningTemplateInput{TemplateName: "factory"}); !iotdm.IsCode(err, iotdm.ErrResourceNotFound) {
			t.Errorf("DescribeProvisioningTemplate(deleted) = %v, want ResourceNotFoundException", err)
		}
		if _, err := f.prov.DeleteProvisioningTemplate(ctx, &iotdm.DeleteProvisioningTemplateInput{TemplateName: "factory"}); !iotdm.IsCode(err, iotdm.ErrResourceNotFound) {
			t.Errorf("DeleteProvisioningTemplate(again) = %v, want ResourceNotFoundException", err)
		}
		// Its versions went with it: a new template of the name starts over.
		if _, err := f.prov.CreateProvisioningTemplate(ctx, &iotdm.CreateProvisioningTemplateInput{TemplateName: "factory", TemplateBody: provTemplate, ProvisioningRoleARN: provRole}); err != nil {
			t.Fatal(err)
		}
		list, err := f.prov.ListProvisioningTemplateVersions(ctx, &iotdm.ListProvisioningTemplateVersionsInput{TemplateName: "factory"})
		if err != nil || len(list.Versions) != 1 {
			t.Errorf("ListProvisioningTemplateVersions after re-creating = %+v, %v, want one version", list, err)
		}
	})
}

func TestProvisioningTemplateValidation(t *testing.T) {
	f := newProvFixture(t)
	ctx := t.Context()
	valid := func() *iotdm.CreateProvisioningTemplateInput {
		return &iotdm.CreateProvisioningTemplateInput{TemplateName: "t", TemplateBody: provTemplate, ProvisioningRoleARN: provRole}
	}
	tests := []struct {
		name   string
		change func(*iotdm.CreateProvisioningTemplateInput)
		want   string
	}{
		{"empty name", func(in *iotdm.CreateProvisioningTemplateInput) { in.TemplateName = "" }, "templateName"},
		{"long name", func(in *iotdm.CreateProvisioningTemplateInput) { in.TemplateName = strings.Repeat("a", 37) }, "36"},
		{"name pattern", func(in *iotdm.CreateProvisioningTemplateInput) { in.TemplateName = "a.b" }, "^[0-9A-Za-z_-]+$"},
		{"no role", func(in *iotdm.CreateProvisioningTemplateInput) { in.ProvisioningRoleARN = "" }, "provisioningRoleArn"},
		{"short role", func(in *iotdm.CreateProvisioningTemplateInput) { in.ProvisioningRoleARN = "arn:aws:iam::1:r" }, "provisioningRoleArn"},
		{"description", func(in *iotdm.CreateProvisioningTemplateInput) { in.Description = "a\x00b" }, "description"},
		{"long description", func(in *iotdm.CreateProvisioningTemplateInput) { in.Description = strings.Repeat("d", 501) }, "500"},
		{"type", func(in *iotdm.CreateProvisioningTemplateInput) { in.Type = "BULK" }, "type"},
		{"no body", func(in *iotdm.CreateProvisioningTemplateInput) { in.TemplateBody = "" }, "templateBody"},
		{"long body", func(in *iotdm.CreateProvisioningTemplateInput) { in.TemplateBody = strings.Repeat(" ", 10241) }, "10240"},
		{"bad body", func(in *iotdm.CreateProvisioningTemplateInput) {
			in.TemplateBody = `{"Resources": {"x": {"Type": "AWS::S3::Bucket"}}}`
		}, "AWS::S3::Bucket"},
		{"hook on JITP", func(in *iotdm.CreateProvisioningTemplateInput) {
			in.Type, in.PreProvisioningHook = iotdm.TemplateTypeJITP, &iotdm.ProvisioningHook{TargetARN: "https://h.example.com"}
		}, "FLEET_PROVISIONING"},
		{"hook target", func(in *iotdm.CreateProvisioningTemplateInput) {
			in.PreProvisioningHook = &iotdm.ProvisioningHook{TargetARN: "ftp://h.example.com"}
		}, "targetArn"},
		{"hook payload version", func(in *iotdm.CreateProvisioningTemplateInput) {
			in.PreProvisioningHook = &iotdm.ProvisioningHook{TargetARN: "https://h.example.com", PayloadVersion: "2019-01-01"}
		}, "payloadVersion"},
		{"tags", func(in *iotdm.CreateProvisioningTemplateInput) { in.Tags = []iotdm.Tag{{Key: ""}} }, "tag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := valid()
			tt.change(in)
			_, err := f.prov.CreateProvisioningTemplate(ctx, in)
			if !iotdm.IsCode(err, iotdm.ErrInvalidRequest) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("CreateProvisioningTemplate(%s) = %v, want InvalidRequestException mentioning %q", tt.name, err, tt.want)
			}
		})
	}

	t.Run("a Lambda hook is accepted", func(t *testing.T) {
		in := valid()
		in.PreProvisioningHook = &iotdm.ProvisioningHook{TargetARN: "arn:aws:lambda:us-east-1:123456789012:function:check"}
		if _, err := f.prov.CreateProvisioningTemplate(ctx, in); err != nil {
			t.Errorf("CreateProvisioningTemplate(Lambda hook) = %v", err)
		}
	})
	t.Run("not found", func(t *testing.T) {
		for name, err := range map[string]error{
			"Describe":      provErr(f.prov.DescribeProvisioningTemplate(ctx, &iotdm.DescribeProvisioningTemplateInput{TemplateName: "none"})),
			"Update":        provErr(f.prov.UpdateProvisioningTemplate(ctx, &iotdm.UpdateProvisioningTemplateInput{TemplateName: "none", Enabled: provPtr(true)})),
			"CreateVersion": provErr(f.prov.CreateProvisioningTemplateVersion(ctx, &iotdm.CreateProvisioningTemplateVersionInput{TemplateName: "none", TemplateBody: provTemplate})),
			"ListVersions":  provErr(f.prov.ListProvisioningTemplateVersions(ctx, &iotdm.ListProvisioningTemplateVersionsInput{TemplateName: "none"})),
			"DeleteVersion": provErr(f.prov.DeleteProvisioningTemplateVersion(ctx, &iotdm.DeleteProvisioningTemplateVersionInput{TemplateName: "none", VersionID: 2})),
		} {
			if !iotdm.IsCode(err, iotdm.ErrResourceNotFound) {
				t.Errorf("%s(none) = %v, want ResourceNotFoundException", name, err)
			}
		}
	})
	t.Run("update conflicts", func(t *testing.T) {
		_, err := f.prov.UpdateProvisioningTemplate(ctx, &iotdm.UpdateProvisioningTemplateInput{TemplateName: "t",
			PreProvisioningHook: &iotdm.ProvisioningHook{TargetARN: "https://h.example.com"}, RemovePreProvisioningHook: true})
		if !iotdm.IsCode(err, iotdm.ErrInvalidRequest) {
			t.Errorf("UpdateProvisioningTemplate(hook and remove) = %v, want InvalidRequestException", err)
		}
	})
	t.Run("the template limit", func(t *testing.T) {
		g := newProvFixture(t, func(o *control.ProvisioningOptions) { o.MaxTemplates = 2 })
		for i, name := range []string{"a", "b", "c"} {
			_, err := g.prov.CreateProvisioningTemplate(ctx, &iotdm.CreateProvisioningTemplateInput{TemplateName: name, TemplateBody: provTemplate, ProvisioningRoleARN: provRole})
			if (i < 2) != (err == nil) || i == 2 && !iotdm.IsCode(err, iotdm.ErrLimitExceeded) {
				t.Errorf("CreateProvisioningTemplate(%s) = %v", name, err)
			}
		}
	})
	t.Run("a template a CA uses", func(t *testing.T) {
		_, err := f.certs.RegisterCACertificate(ctx, &iotdm.RegisterCACertificateInput{CACertificate: string(f.ca.PEM()),
			CertificateMode: iotdm.CertificateModeSNIOnly, RegistrationConfig: &iotdm.RegistrationConfig{TemplateName: "t"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.prov.DeleteProvisioningTemplate(ctx, &iotdm.DeleteProvisioningTemplateInput{TemplateName: "t"}); !iotdm.IsCode(err, iotdm.ErrDeleteConflict) {
			t.Errorf("DeleteProvisioningTemplate(used by a CA) = %v, want DeleteConflictException", err)
		}
	})
}

func provErr[T any](_ T, err error) error { return err }

func provAsError(err error, target **iotdm.Error) bool { return errors.As(err, target) }
