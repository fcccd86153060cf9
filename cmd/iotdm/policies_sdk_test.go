package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/google/go-cmp/cmp"
)

// These tests drive every policy operation of a real in-process server with
// the AWS SDK for Go v2, certificates made by CreateKeysAndCertificate, and
// the exception types the SDK surfaces for bad input.

const acctARN = "arn:aws:iot:us-east-1:123456789012:"

// seedDevicePolicy is the seed stack's least-privilege device policy: a
// device connects only as its thing name and uses only its own topics.
var seedDevicePolicy = func() string {
	b, err := os.ReadFile("../../testdata/seed-device-policy.json")
	if err != nil {
		panic(err)
	}
	return string(b)
}()

func allowDoc(action, resource string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"` + action + `","Resource":"` + resource + `"}]}`
}

func createPolicy(t *testing.T, c *iot.Client, name, doc string) *iot.CreatePolicyOutput {
	t.Helper()
	return must[*iot.CreatePolicyOutput](t, "CreatePolicy("+name+")")(c.CreatePolicy(context.Background(),
		&iot.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(doc)}))
}

func attachPolicy(t *testing.T, c *iot.Client, name, target string) {
	t.Helper()
	must[*iot.AttachPolicyOutput](t, "AttachPolicy("+name+", "+target+")")(c.AttachPolicy(context.Background(),
		&iot.AttachPolicyInput{PolicyName: aws.String(name), Target: aws.String(target)}))
}

// newCertificate creates an active certificate and returns its ARN.
func newCertificate(t *testing.T, c *iot.Client) string {
	t.Helper()
	out := must[*iot.CreateKeysAndCertificateOutput](t, "CreateKeysAndCertificate")(c.CreateKeysAndCertificate(context.Background(),
		&iot.CreateKeysAndCertificateInput{SetAsActive: true}))
	return aws.ToString(out.CertificateArn)
}

// newDevice registers a thing with its own new certificate attached and
// returns the certificate ARN.
func newDevice(t *testing.T, c *iot.Client, name string) string {
	t.Helper()
	ctx := context.Background()
	must[*iot.CreateThingOutput](t, "CreateThing("+name+")")(c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(name)}))
	cert := newCertificate(t, c)
	must[*iot.AttachThingPrincipalOutput](t, "AttachThingPrincipal")(c.AttachThingPrincipal(ctx,
		&iot.AttachThingPrincipalInput{ThingName: aws.String(name), Principal: aws.String(cert)}))
	return cert
}

func policyNames(ps []types.Policy) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, aws.ToString(p.PolicyName))
	}
	return out
}

func TestSDKPolicies(t *testing.T) {
	ctx := context.Background()
	c := newIoTClient(t)
	doc := func(i int) string { return allowDoc("iot:Publish", fmt.Sprintf("%stopic/v%d", acctARN, i)) }

	created := must[*iot.CreatePolicyOutput](t, "CreatePolicy")(c.CreatePolicy(ctx, &iot.CreatePolicyInput{
		PolicyName: aws.String("DevicePolicy"), PolicyDocument: aws.String(seedDevicePolicy),
		Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("test")}}}))
	if aws.ToString(created.PolicyArn) != acctARN+"policy/DevicePolicy" || aws.ToString(created.PolicyVersionId) != "1" ||
		aws.ToString(created.PolicyDocument) != seedDevicePolicy || aws.ToString(created.PolicyName) != "DevicePolicy" {
		t.Errorf("CreatePolicy = %+v", created)
	}

	t.Run("create refusals", func(t *testing.T) {
		_, err := c.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("DevicePolicy"), PolicyDocument: aws.String(doc(1))})
		var exists *types.ResourceAlreadyExistsException
		if !errors.As(err, &exists) || aws.ToString(exists.ResourceArn) != acctARN+"policy/DevicePolicy" {
			t.Errorf("CreatePolicy(existing) err = %v, want ResourceAlreadyExistsException with the policy ARN", err)
		}
		for _, d := range []string{"{", `{"Version":"2012-10-17","Statement":[]}`, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:*"}}`,
			allowDoc("iot:Publish", acctARN+"topic/"+strings.Repeat("x", 2048))} {
			_, err := c.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("Broken"), PolicyDocument: aws.String(d)})
			var malformed *types.MalformedPolicyException
			if !errors.As(err, &malformed) {
				t.Errorf("CreatePolicy(%.40q) err = %v, want MalformedPolicyException", d, err)
			}
		}
		for _, name := range []string{"bad name", "bad/name", strings.Repeat("p", 129)} {
			_, err := c.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(doc(1))})
			wantAPIError(t, "CreatePolicy("+name+")", err, "InvalidRequestException")
		}
		_, err = c.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String("Broken")})
		wantAPIError(t, "GetPolicy(refused)", err, "ResourceNotFoundException")
		// The legal name characters of the model.
		createPolicy(t, c, "a+b=c,d.e@f-g_h", doc(1))
	})

	t.Run("get and tags", func(t *testing.T) {
		got := must[*iot.GetPolicyOutput](t, "GetPolicy")(c.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String("DevicePolicy")}))
		if aws.ToString(got.DefaultVersionId) != "1" || aws.ToString(got.PolicyDocument) != seedDevicePolicy || aws.ToString(got.GenerationId) == "" ||
			got.CreationDate == nil || got.LastModifiedDate == nil {
			t.Errorf("GetPolicy = %+v", got)
		}
		tags := must[*iot.ListTagsForResourceOutput](t, "ListTagsForResource")(c.ListTagsForResource(ctx, &iot.ListTagsForResourceInput{ResourceArn: created.PolicyArn}))
		if len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Key) != "env" {
			t.Errorf("ListTagsForResource(policy) = %+v", tags.Tags)
		}
		_, err := c.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String("missing")})
		var nf *types.ResourceNotFoundException
		if !errors.As(err, &nf) {
			t.Errorf("GetPolicy(missing) err = %v, want ResourceNotFoundException", err)
		}
	})

	t.Run("versions", func(t *testing.T) {
		createPolicy(t, c, "Versioned", doc(1))
		before := must[*iot.GetPolicyOutput](t, "GetPolicy")(c.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String("Versioned")}))
		for i := 2; i <= 5; i++ {
			v := must[*iot.CreatePolicyVersionOutput](t, "CreatePolicyVersion")(c.CreatePolicyVersion(ctx, &iot.CreatePolicyVersionInput{
				PolicyName: aws.String("Versioned"), PolicyDocument: aws.String(doc(i)), SetAsDefault: i == 4}))
			if aws.ToString(v.PolicyVersionId) != fmt.Sprint(i) || v.IsDefaultVersion != (i == 4) || aws.ToString(v.PolicyArn) != acctARN+"policy/Versioned" {
				t.Errorf("CreatePolicyVersion %d = %+v", i, v)
			}
		}
		_, err := c.CreatePolicyVersion(ctx, &iot.CreatePolicyVersionInput{PolicyName: aws.String("Versioned"), PolicyDocument: aws.String(doc(6))})
		var limit *types.VersionsLimitExceededException
		if !errors.As(err, &limit) {
			t.Errorf("CreatePolicyVersion(sixth) err = %v, want VersionsLimitExceededException", err)
		}
		_, err = c.CreatePolicyVersion(ctx, &iot.CreatePolicyVersionInput{PolicyName: aws.String("missing"), PolicyDocument: aws.String(doc(1))})
		wantAPIError(t, "CreatePolicyVersion(missing policy)", err, "ResourceNotFoundException")
		_, err = c.CreatePolicyVersion(ctx, &iot.CreatePolicyVersionInput{PolicyName: aws.String("DevicePolicy"), PolicyDocument: aws.String(`{"Statement":"x"}`)})
		wantAPIError(t, "CreatePolicyVersion(malformed)", err, "MalformedPolicyException")

		got := must[*iot.GetPolicyOutput](t, "GetPolicy")(c.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String("Versioned")}))
		if aws.ToString(got.DefaultVersionId) != "4" || aws.ToString(got.PolicyDocument) != doc(4) || aws.ToString(got.GenerationId) == aws.ToString(before.GenerationId) {
			t.Errorf("GetPolicy after setAsDefault = %+v", got)
		}
		v2 := must[*iot.GetPolicyVersionOutput](t, "GetPolicyVersion")(c.GetPolicyVersion(ctx, &iot.GetPolicyVersionInput{
			PolicyName: aws.String("Versioned"), PolicyVersionId: aws.String("2")}))
		if aws.ToString(v2.PolicyDocument) != doc(2) || v2.IsDefaultVersion || aws.ToString(v2.PolicyName) != "Versioned" || v2.CreationDate == nil {
			t.Errorf("GetPolicyVersion(2) = %+v", v2)
		}
		_, err = c.GetPolicyVersion(ctx, &iot.GetPolicyVersionInput{PolicyName: aws.String("Versioned"), PolicyVersionId: aws.String("9")})
		wantAPIError(t, "GetPolicyVersion(9)", err, "ResourceNotFoundException")
		_, err = c.GetPolicyVersion(ctx, &iot.GetPolicyVersionInput{PolicyName: aws.String("Versioned"), PolicyVersionId: aws.String("v1")})
		wantAPIError(t, "GetPolicyVersion(v1)", err, "InvalidRequestException")

		must[*iot.SetDefaultPolicyVersionOutput](t, "SetDefaultPolicyVersion")(c.SetDefaultPolicyVersion(ctx, &iot.SetDefaultPolicyVersionInput{
			PolicyName: aws.String("Versioned"), PolicyVersionId: aws.String("2")}))
		_, err = c.SetDefaultPolicyVersion(ctx, &iot.SetDefaultPolicyVersionInput{PolicyName: aws.String("Versioned"), PolicyVersionId: aws.String("7")})
		wantAPIError(t, "SetDefaultPolicyVersion(7)", err, "ResourceNotFoundException")
		list := must[*iot.ListPolicyVersionsOutput](t, "ListPolicyVersions")(c.ListPolicyVersions(ctx, &iot.ListPolicyVersionsInput{PolicyName: aws.String("Versioned")}))
		var ids []string
		for _, v := range list.PolicyVersions {
			ids = append(ids, fmt.Sprintf("%s:%v", aws.ToString(v.VersionId), v.IsDefaultVersion))
		}
		if diff := cmp.Diff([]string{"5:false", "4:false", "3:false", "2:true", "1:false"}, ids); diff != "" {
			t.Errorf("ListPolicyVersions (-want +got):\n%s", diff)
		}
		_, err = c.ListPolicyVersions(ctx, &iot.ListPolicyVersionsInput{PolicyName: aws.String("missing")})
		wantAPIError(t, "ListPolicyVersions(missing)", err, "ResourceNotFoundException")

		_, err = c.DeletePolicyVersion(ctx, &iot.DeletePolicyVersionInput{PolicyName: aws.String("Versioned"), PolicyVersionId: aws.String("2")})
		var conflict *types.DeleteConflictException
		if !errors.As(err, &conflict) {
			t.Errorf("DeletePolicyVersion(default) err = %v, want DeleteConflictException", err)
		}
		_, err = c.DeletePolicy(ctx, &iot.DeletePolicyInput{PolicyName: aws.String("Versioned")})
		if !errors.As(err, &conflict) {
			t.Errorf("DeletePolicy(with versions) err = %v, want DeleteConflictException", err)
		}
		for _, v := range []string{"1", "3", "4", "5"} {
			must[*iot.DeletePolicyVersionOutput](t, "DeletePolicyVersion")(c.DeletePolicyVersion(ctx, &iot.DeletePolicyVersionInput{
				PolicyName: aws.String("Versioned"), PolicyVersionId: aws.String(v)}))
		}
		_, err = c.DeletePolicyVersion(ctx, &iot.DeletePolicyVersionInput{PolicyName: aws.String("Versioned"), PolicyVersionId: aws.String("5")})
		wantAPIError(t, "DeletePolicyVersion(deleted)", err, "ResourceNotFoundException")
		// Ids are never reused.
		v := must[*iot.CreatePolicyVersionOutput](t, "CreatePolicyVersion")(c.CreatePolicyVersion(ctx, &iot.CreatePolicyVersionInput{
			PolicyName: aws.String("Versioned"), PolicyDocument: aws.String(doc(6))}))
		if aws.ToString(v.PolicyVersionId) != "6" {
			t.Errorf("CreatePolicyVersion after deletes = version %s, want 6", aws.ToString(v.PolicyVersionId))
		}
		must[*iot.DeletePolicyVersionOutput](t, "DeletePolicyVersion")(c.DeletePolicyVersion(ctx, &iot.DeletePolicyVersionInput{
			PolicyName: aws.String("Versioned"), PolicyVersionId: aws.String("6")}))
		must[*iot.DeletePolicyOutput](t, "DeletePolicy")(c.DeletePolicy(ctx, &iot.DeletePolicyInput{PolicyName: aws.String("Versioned")}))
		_, err = c.DeletePolicy(ctx, &iot.DeletePolicyInput{PolicyName: aws.String("Versioned")})
		wantAPIError(t, "DeletePolicy(deleted)", err, "ResourceNotFoundException")
	})

	t.Run("list", func(t *testing.T) {
		for i := range 5 {
			createPolicy(t, c, fmt.Sprintf("Listed-%d", i), doc(i))
		}
		var all []string
		pages := iot.NewListPoliciesPaginator(c, &iot.ListPoliciesInput{PageSize: aws.Int32(2), AscendingOrder: true})
		for pages.HasMorePages() {
			page := must[*iot.ListPoliciesOutput](t, "ListPolicies")(pages.NextPage(ctx))
			if len(page.Policies) > 2 {
				t.Errorf("ListPolicies page of %d, want at most 2", len(page.Policies))
			}
			for _, p := range page.Policies {
				if aws.ToString(p.PolicyArn) != acctARN+"policy/"+aws.ToString(p.PolicyName) {
					t.Errorf("ListPolicies item %+v", p)
				}
			}
			all = append(all, policyNames(page.Policies)...)
		}
		want := []string{"DevicePolicy", "a+b=c,d.e@f-g_h", "Listed-0", "Listed-1", "Listed-2", "Listed-3", "Listed-4"}
		if diff := cmp.Diff(want, all); diff != "" {
			t.Errorf("ListPolicies ascending creation order (-want +got):\n%s", diff)
		}
		newest := must[*iot.ListPoliciesOutput](t, "ListPolicies")(c.ListPolicies(ctx, &iot.ListPoliciesInput{PageSize: aws.Int32(1)}))
		if diff := cmp.Diff([]string{"Listed-4"}, policyNames(newest.Policies)); diff != "" || aws.ToString(newest.NextMarker) == "" {
			t.Errorf("ListPolicies newest first (-want +got):\n%s, nextMarker %q", diff, aws.ToString(newest.NextMarker))
		}
		_, err := c.ListPolicies(ctx, &iot.ListPoliciesInput{PageSize: aws.Int32(251)})
		wantAPIError(t, "ListPolicies(pageSize 251)", err, "InvalidRequestException")
		_, err = c.ListPolicies(ctx, &iot.ListPoliciesInput{Marker: aws.String("bm9wZQ==")})
		wantAPIError(t, "ListPolicies(foreign marker)", err, "InvalidRequestException")
	})
}

func TestSDKPolicyAttachments(t *testing.T) {
	ctx := context.Background()
	c := newIoTClient(t)
	cert := newDevice(t, c, "temp-sensor-01")
	cognito := "us-east-1:12345678-1234-1234-1234-123456789012"
	createPolicy(t, c, "DevicePolicy", seedDevicePolicy)
	createPolicy(t, c, "FleetPolicy", allowDoc("iot:Publish", acctARN+"topic/fleet/*"))
	createPolicy(t, c, "RootPolicy", allowDoc("iot:Subscribe", acctARN+"topicfilter/fleet/*"))
	group := func(name, parent string) string {
		in := &iot.CreateThingGroupInput{ThingGroupName: aws.String(name)}
		if parent != "" {
			in.ParentGroupName = aws.String(parent)
		}
		return aws.ToString(must[*iot.CreateThingGroupOutput](t, "CreateThingGroup")(c.CreateThingGroup(ctx, in)).ThingGroupArn)
	}
	root, mid, leaf := group("Root", ""), group("Mid", "Root"), group("Leaf", "Mid")

	attachPolicy(t, c, "DevicePolicy", cert)
	attachPolicy(t, c, "DevicePolicy", cert) // idempotent
	attachPolicy(t, c, "RootPolicy", root)
	attachPolicy(t, c, "FleetPolicy", leaf)
	attachPolicy(t, c, "DevicePolicy", cognito)
	must[*iot.AddThingToThingGroupOutput](t, "AddThingToThingGroup")(c.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{
		ThingGroupName: aws.String("Leaf"), ThingName: aws.String("temp-sensor-01")}))

	t.Run("attach refusals", func(t *testing.T) {
		must[*iot.CreateDynamicThingGroupOutput](t, "CreateDynamicThingGroup")(c.CreateDynamicThingGroup(ctx, &iot.CreateDynamicThingGroupInput{
			ThingGroupName: aws.String("Dynamic"), QueryString: aws.String("thingName:temp*")}))
		for _, tc := range []struct {
			name, policy, target, code string
		}{
			{"dynamic group", "DevicePolicy", acctARN + "thinggroup/Dynamic", "InvalidRequestException"},
			{"missing group", "DevicePolicy", acctARN + "thinggroup/Nope", "ResourceNotFoundException"},
			{"missing certificate", "DevicePolicy", acctARN + "cert/" + strings.Repeat("a", 64), "ResourceNotFoundException"},
			{"missing policy", "Nope", cert, "ResourceNotFoundException"},
			{"thing ARN", "DevicePolicy", acctARN + "thing/temp-sensor-01", "InvalidRequestException"},
		} {
			_, err := c.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(tc.policy), Target: aws.String(tc.target)})
			wantAPIError(t, "AttachPolicy("+tc.name+")", err, tc.code)
		}
		other := newCertificate(t, c)
		for i := range 10 {
			name := fmt.Sprintf("Limit-%d", i)
			createPolicy(t, c, name, allowDoc("iot:Connect", "*"))
			attachPolicy(t, c, name, other)
		}
		createPolicy(t, c, "Limit-10", allowDoc("iot:Connect", "*"))
		_, err := c.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String("Limit-10"), Target: aws.String(other)})
		var limit *types.LimitExceededException
		if !errors.As(err, &limit) {
			t.Errorf("AttachPolicy(eleventh) err = %v, want LimitExceededException", err)
		}
		_, err = c.DeletePolicy(ctx, &iot.DeletePolicyInput{PolicyName: aws.String("DevicePolicy")})
		var conflict *types.DeleteConflictException
		if !errors.As(err, &conflict) {
			t.Errorf("DeletePolicy(attached) err = %v, want DeleteConflictException", err)
		}
	})

	t.Run("ListAttachedPolicies", func(t *testing.T) {
		list := func(target string, recursive bool, pageSize int32) []string {
			t.Helper()
			var got []string
			pages := iot.NewListAttachedPoliciesPaginator(c, &iot.ListAttachedPoliciesInput{Target: aws.String(target), Recursive: recursive, PageSize: aws.Int32(pageSize)})
			for pages.HasMorePages() {
				got = append(got, policyNames(must[*iot.ListAttachedPoliciesOutput](t, "ListAttachedPolicies")(pages.NextPage(ctx)).Policies)...)
			}
			return got
		}
		for _, tc := range []struct {
			name, target string
			recursive    bool
			want         []string
		}{
			{"certificate", cert, false, []string{"DevicePolicy"}},
			{"leaf group", leaf, false, []string{"FleetPolicy"}},
			{"leaf group, recursive", leaf, true, []string{"FleetPolicy", "RootPolicy"}},
			{"middle group, recursive", mid, true, []string{"RootPolicy"}},
			{"middle group", mid, false, nil},
			{"Cognito identity", cognito, false, []string{"DevicePolicy"}},
		} {
			if diff := cmp.Diff(tc.want, list(tc.target, tc.recursive, 1)); diff != "" {
				t.Errorf("ListAttachedPolicies(%s) (-want +got):\n%s", tc.name, diff)
			}
		}
		_, err := c.ListAttachedPolicies(ctx, &iot.ListAttachedPoliciesInput{Target: aws.String(acctARN + "thinggroup/Nope")})
		wantAPIError(t, "ListAttachedPolicies(missing group)", err, "ResourceNotFoundException")
		_, err = c.ListAttachedPolicies(ctx, &iot.ListAttachedPoliciesInput{Target: aws.String("nonsense")})
		wantAPIError(t, "ListAttachedPolicies(nonsense)", err, "InvalidRequestException")
	})

	t.Run("ListTargetsForPolicy", func(t *testing.T) {
		var got []string
		pages := iot.NewListTargetsForPolicyPaginator(c, &iot.ListTargetsForPolicyInput{PolicyName: aws.String("DevicePolicy"), PageSize: aws.Int32(1)})
		for pages.HasMorePages() {
			got = append(got, must[*iot.ListTargetsForPolicyOutput](t, "ListTargetsForPolicy")(pages.NextPage(ctx)).Targets...)
		}
		if diff := cmp.Diff([]string{cert, cognito}, got); diff != "" {
			t.Errorf("ListTargetsForPolicy (-want +got):\n%s", diff)
		}
		_, err := c.ListTargetsForPolicy(ctx, &iot.ListTargetsForPolicyInput{PolicyName: aws.String("Nope")})
		wantAPIError(t, "ListTargetsForPolicy(missing)", err, "ResourceNotFoundException")
	})

	t.Run("legacy principal policies", func(t *testing.T) {
		createPolicy(t, c, "Legacy", allowDoc("iot:Connect", "*"))
		must[*iot.AttachPrincipalPolicyOutput](t, "AttachPrincipalPolicy")(c.AttachPrincipalPolicy(ctx, &iot.AttachPrincipalPolicyInput{
			PolicyName: aws.String("Legacy"), Principal: aws.String(cert)}))
		_, err := c.AttachPrincipalPolicy(ctx, &iot.AttachPrincipalPolicyInput{PolicyName: aws.String("Legacy"), Principal: aws.String(root)})
		wantAPIError(t, "AttachPrincipalPolicy(group)", err, "InvalidRequestException")
		got := must[*iot.ListPrincipalPoliciesOutput](t, "ListPrincipalPolicies")(c.ListPrincipalPolicies(ctx, &iot.ListPrincipalPoliciesInput{
			Principal: aws.String(cert), AscendingOrder: true}))
		if diff := cmp.Diff([]string{"DevicePolicy", "Legacy"}, policyNames(got.Policies)); diff != "" {
			t.Errorf("ListPrincipalPolicies (-want +got):\n%s", diff)
		}
		must[*iot.DetachPrincipalPolicyOutput](t, "DetachPrincipalPolicy")(c.DetachPrincipalPolicy(ctx, &iot.DetachPrincipalPolicyInput{
			PolicyName: aws.String("Legacy"), Principal: aws.String(cert)}))
		_, err = c.DetachPrincipalPolicy(ctx, &iot.DetachPrincipalPolicyInput{PolicyName: aws.String("Nope"), Principal: aws.String(cert)})
		wantAPIError(t, "DetachPrincipalPolicy(missing policy)", err, "ResourceNotFoundException")
		_, err = c.ListPrincipalPolicies(ctx, &iot.ListPrincipalPoliciesInput{Principal: aws.String(acctARN + "cert/" + strings.Repeat("b", 64))})
		wantAPIError(t, "ListPrincipalPolicies(missing certificate)", err, "ResourceNotFoundException")
		got = must[*iot.ListPrincipalPoliciesOutput](t, "ListPrincipalPolicies")(c.ListPrincipalPolicies(ctx, &iot.ListPrincipalPoliciesInput{Principal: aws.String(cert)}))
		if diff := cmp.Diff([]string{"DevicePolicy"}, policyNames(got.Policies)); diff != "" {
			t.Errorf("ListPrincipalPolicies after detach (-want +got):\n%s", diff)
		}
	})

	t.Run("GetEffectivePolicies", func(t *testing.T) {
		effective := func(in *iot.GetEffectivePoliciesInput) []string {
			t.Helper()
			out := must[*iot.GetEffectivePoliciesOutput](t, "GetEffectivePolicies")(c.GetEffectivePolicies(ctx, in))
			got := []string{}
			for _, p := range out.EffectivePolicies {
				got = append(got, aws.ToString(p.PolicyName))
				if aws.ToString(p.PolicyDocument) == "" || aws.ToString(p.PolicyArn) != acctARN+"policy/"+aws.ToString(p.PolicyName) {
					t.Errorf("effective policy %+v", p)
				}
			}
			return got
		}
		if diff := cmp.Diff([]string{"DevicePolicy", "FleetPolicy", "RootPolicy"},
			effective(&iot.GetEffectivePoliciesInput{Principal: aws.String(cert), ThingName: aws.String("temp-sensor-01")})); diff != "" {
			t.Errorf("GetEffectivePolicies(certificate, thing) (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"DevicePolicy"}, effective(&iot.GetEffectivePoliciesInput{Principal: aws.String(cert)})); diff != "" {
			t.Errorf("GetEffectivePolicies(certificate) (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"FleetPolicy", "RootPolicy"}, effective(&iot.GetEffectivePoliciesInput{ThingName: aws.String("temp-sensor-01")})); diff != "" {
			t.Errorf("GetEffectivePolicies(thing) (-want +got):\n%s", diff)
		}
		_, err := c.GetEffectivePolicies(ctx, &iot.GetEffectivePoliciesInput{Principal: aws.String(cert), ThingName: aws.String("nope")})
		wantAPIError(t, "GetEffectivePolicies(missing thing)", err, "ResourceNotFoundException")
		_, err = c.GetEffectivePolicies(ctx, &iot.GetEffectivePoliciesInput{})
		wantAPIError(t, "GetEffectivePolicies()", err, "InvalidRequestException")
	})

	t.Run("detach", func(t *testing.T) {
		for _, target := range []string{cert, cognito} {
			must[*iot.DetachPolicyOutput](t, "DetachPolicy")(c.DetachPolicy(ctx, &iot.DetachPolicyInput{PolicyName: aws.String("DevicePolicy"), Target: aws.String(target)}))
		}
		must[*iot.DetachPolicyOutput](t, "DetachPolicy(again)")(c.DetachPolicy(ctx, &iot.DetachPolicyInput{PolicyName: aws.String("DevicePolicy"), Target: aws.String(cert)}))
		_, err := c.DetachPolicy(ctx, &iot.DetachPolicyInput{PolicyName: aws.String("DevicePolicy"), Target: aws.String("nonsense")})
		wantAPIError(t, "DetachPolicy(nonsense)", err, "InvalidRequestException")
		must[*iot.DeletePolicyOutput](t, "DeletePolicy")(c.DeletePolicy(ctx, &iot.DeletePolicyInput{PolicyName: aws.String("DevicePolicy")}))
	})
}

func TestSDKTestAuthorization(t *testing.T) {
	ctx := context.Background()
	c := newIoTClient(t)
	dev1 := newDevice(t, c, "temp-sensor-01")
	dev2 := newDevice(t, c, "temp-sensor-02")
	createPolicy(t, c, "DevicePolicy", seedDevicePolicy)
	attachPolicy(t, c, "DevicePolicy", dev1)
	attachPolicy(t, c, "DevicePolicy", dev2)
	createPolicy(t, c, "DenyAll", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iot:*","Resource":"*"}]}`)
	createPolicy(t, c, "GroupPolicy", allowDoc("iot:Publish", acctARN+"topic/fleet/broadcast"))
	must[*iot.CreateThingGroupOutput](t, "CreateThingGroup")(c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("Sensors")}))
	must[*iot.CreateThingGroupOutput](t, "CreateThingGroup")(c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{
		ThingGroupName: aws.String("BuildingB"), ParentGroupName: aws.String("Sensors")}))
	must[*iot.AddThingToThingGroupOutput](t, "AddThingToThingGroup")(c.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{
		ThingGroupName: aws.String("BuildingB"), ThingName: aws.String("temp-sensor-02")}))
	attachPolicy(t, c, "GroupPolicy", acctARN+"thinggroup/Sensors")

	test := func(principal, clientID string, add []string, action types.ActionType, resource string) types.AuthResult {
		t.Helper()
		out := must[*iot.TestAuthorizationOutput](t, "TestAuthorization")(c.TestAuthorization(ctx, &iot.TestAuthorizationInput{
			Principal: aws.String(principal), ClientId: aws.String(clientID), PolicyNamesToAdd: add,
			AuthInfos: []types.AuthInfo{{ActionType: action, Resources: []string{resource}}}}))
		if len(out.AuthResults) != 1 {
			t.Fatalf("TestAuthorization returned %d results", len(out.AuthResults))
		}
		r := out.AuthResults[0]
		if r.Allowed == nil || r.Denied == nil || r.Denied.ExplicitDeny == nil || r.Denied.ImplicitDeny == nil || r.AuthInfo == nil || r.AuthInfo.ActionType != action {
			t.Fatalf("TestAuthorization result %+v lacks members", r)
		}
		return r
	}
	for _, tc := range []struct {
		name                      string
		principal, clientID       string
		add                       []string
		action                    types.ActionType
		resource                  string
		want                      types.AuthDecision
		allowed, explicit, missed []string
	}{
		{"connect as own thing name", dev1, "temp-sensor-01", nil, types.ActionTypeConnect, acctARN + "client/temp-sensor-01",
			types.AuthDecisionAllowed, []string{"DevicePolicy"}, []string{}, []string{}},
		{"connect as the other device", dev1, "temp-sensor-02", nil, types.ActionTypeConnect, acctARN + "client/temp-sensor-02",
			types.AuthDecisionImplicitDeny, []string{}, []string{}, []string{"iot:Connection.Thing.ThingName"}},
		{"publish own topic", dev2, "temp-sensor-02", nil, types.ActionTypePublish, acctARN + "topic/devices/temp-sensor-02/data",
			types.AuthDecisionAllowed, []string{"DevicePolicy"}, []string{}, []string{}},
		{"publish the other's topic", dev2, "temp-sensor-02", nil, types.ActionTypePublish, acctARN + "topic/devices/temp-sensor-01/data",
			types.AuthDecisionImplicitDeny, []string{}, []string{}, []string{}},
		{"subscribe own shadow", dev1, "temp-sensor-01", nil, types.ActionTypeSubscribe, acctARN + "topicfilter/$aws/things/temp-sensor-01/shadow/get/accepted",
			types.AuthDecisionAllowed, []string{"DevicePolicy"}, []string{}, []string{}},
		{"receive the other's shadow", dev1, "temp-sensor-01", nil, types.ActionTypeReceive, acctARN + "topic/$aws/things/temp-sensor-02/shadow/get/accepted",
			types.AuthDecisionImplicitDeny, []string{}, []string{}, []string{}},
		{"an added deny wins", dev1, "temp-sensor-01", []string{"DenyAll"}, types.ActionTypeConnect, acctARN + "client/temp-sensor-01",
			types.AuthDecisionExplicitDeny, []string{"DevicePolicy"}, []string{"DenyAll"}, []string{}},
		{"group policy inherited from the parent group", dev2, "temp-sensor-02", nil, types.ActionTypePublish, acctARN + "topic/fleet/broadcast",
			types.AuthDecisionAllowed, []string{"GroupPolicy"}, []string{}, []string{}},
		{"no group policy under another client id", dev2, "not-a-thing", nil, types.ActionTypePublish, acctARN + "topic/fleet/broadcast",
			types.AuthDecisionImplicitDeny, []string{}, []string{}, []string{"iot:Connection.Thing.ThingName"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := test(tc.principal, tc.clientID, tc.add, tc.action, tc.resource)
			got := []any{r.AuthDecision, policyNames(r.Allowed.Policies), policyNames(r.Denied.ExplicitDeny.Policies), r.MissingContextValues}
			want := []any{tc.want, tc.allowed, tc.explicit, tc.missed}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("TestAuthorization [decision allowed explicitDeny missingContextValues] (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("errors", func(t *testing.T) {
		connect := []types.AuthInfo{{ActionType: types.ActionTypeConnect, Resources: []string{acctARN + "client/temp-sensor-01"}}}
		_, err := c.TestAuthorization(ctx, &iot.TestAuthorizationInput{Principal: aws.String(acctARN + "cert/" + strings.Repeat("c", 64)), AuthInfos: connect})
		wantAPIError(t, "TestAuthorization(missing certificate)", err, "ResourceNotFoundException")
		_, err = c.TestAuthorization(ctx, &iot.TestAuthorizationInput{Principal: aws.String(dev1), AuthInfos: connect, PolicyNamesToAdd: []string{"Nope"}})
		wantAPIError(t, "TestAuthorization(missing policy to add)", err, "ResourceNotFoundException")
		eleven := make([]types.AuthInfo, 11)
		for i := range eleven {
			eleven[i] = connect[0]
		}
		_, err = c.TestAuthorization(ctx, &iot.TestAuthorizationInput{Principal: aws.String(dev1), AuthInfos: eleven})
		wantAPIError(t, "TestAuthorization(11 authInfos)", err, "InvalidRequestException")
		_, err = c.TestAuthorization(ctx, &iot.TestAuthorizationInput{Principal: aws.String(dev1), AuthInfos: []types.AuthInfo{{ActionType: types.ActionTypeConnect, Resources: []string{}}}})
		wantAPIError(t, "TestAuthorization(no resources)", err, "InvalidRequestException")
	})
}
