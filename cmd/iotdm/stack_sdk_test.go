package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/iot"
)

func cfnClientFor(s *server) *cfn.Client {
	return cfn.New(cfn.Options{Region: s.cfg.Region, BaseEndpoint: aws.String(s.URL()),
		Credentials: credentials.NewStaticCredentialsProvider(s.key.ID, s.key.Secret, "")})
}

// waitStackStatus polls DescribeStacks until the stack's status is terminal.
func waitStackStatus(t *testing.T, c *cfn.Client, name string) types.Stack {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := c.DescribeStacks(t.Context(), &cfn.DescribeStacksInput{StackName: aws.String(name)})
		if err != nil {
			t.Fatalf("DescribeStacks(%s): %v", name, err)
		}
		st := out.Stacks[0]
		if terminal(st.StackStatus) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("stack %s still %s", name, st.StackStatus)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const deviceTemplate = `{
  "Parameters": {"Csr": {"Type": "String"}, "Name": {"Type": "String", "Default": "sdk-device-01"}},
  "Resources": {
    "Device": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Ref": "Name"},
      "AttributePayload": {"Attributes": {"firmware": "1.0.0"}}}},
    "Cert": {"Type": "AWS::IoT::Certificate", "Properties": {"CertificateSigningRequest": {"Ref": "Csr"}, "Status": "ACTIVE"}},
    "Policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyDocument": {"Version": "2012-10-17",
      "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": {"Fn::Sub": "arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:client/${Name}"}}]}}},
    "PolicyAttachment": {"Type": "AWS::IoT::PolicyPrincipalAttachment",
      "Properties": {"PolicyName": {"Ref": "Policy"}, "Principal": {"Fn::GetAtt": ["Cert", "Arn"]}}},
    "ThingAttachment": {"Type": "AWS::IoT::ThingPrincipalAttachment",
      "Properties": {"ThingName": {"Ref": "Device"}, "Principal": {"Fn::GetAtt": ["Cert", "Arn"]}}}
  },
  "Outputs": {
    "CertificateId": {"Value": {"Ref": "Cert"}},
    "PolicyName": {"Value": {"Ref": "Policy"}, "Export": {"Name": "sdk-device-policy"}}
  }
}`

// TestCloudFormationAPIWithSDK drives the CloudFormation API of a real
// server with the AWS SDK for Go v2: a stack that issues a certificate from
// a CSR and attaches it to a thing and a policy (generated name), its
// resources, events, template and exports, then its deletion.
func TestCloudFormationAPIWithSDK(t *testing.T) {
	cfg := testConfig(t)
	s := startServer(t, cfg)
	c := cfnClientFor(s)
	ioc := iotClientFor(t, s)
	ctx := t.Context()

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "sdk-device-01"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))

	v, err := c.ValidateTemplate(ctx, &cfn.ValidateTemplateInput{TemplateBody: aws.String(deviceTemplate)})
	if err != nil || len(v.Parameters) != 2 {
		t.Fatalf("ValidateTemplate = %+v, %v", v, err)
	}
	created, err := c.CreateStack(ctx, &cfn.CreateStackInput{StackName: aws.String("Devices"), TemplateBody: aws.String(deviceTemplate),
		Parameters: []types.Parameter{{ParameterKey: aws.String("Csr"), ParameterValue: aws.String(csr)}}})
	if err != nil {
		t.Fatal(err)
	}
	st := waitStackStatus(t, c, "Devices")
	if st.StackStatus != types.StackStatusCreateComplete || aws.ToString(st.StackId) != aws.ToString(created.StackId) {
		t.Fatalf("stack = %s (%s)", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	outs := map[string]string{}
	for _, o := range st.Outputs {
		outs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	certID, policy := outs["CertificateId"], outs["PolicyName"]
	if !strings.HasPrefix(policy, "Devices-Policy-") {
		t.Errorf("generated policy name = %q, want Devices-Policy-XXXX", policy)
	}

	// The resources exist and are wired together.
	cert, err := ioc.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(certID)})
	if err != nil || cert.CertificateDescription.Status != "ACTIVE" {
		t.Fatalf("certificate: %v, %v", cert, err)
	}
	certArn := aws.ToString(cert.CertificateDescription.CertificateArn)
	principals, err := ioc.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String("sdk-device-01")})
	if err != nil || len(principals.Principals) != 1 || principals.Principals[0] != certArn {
		t.Errorf("thing principals = %v, %v; want [%s]", principals, err, certArn)
	}
	attached, err := ioc.ListAttachedPolicies(ctx, &iot.ListAttachedPoliciesInput{Target: aws.String(certArn)})
	if err != nil || len(attached.Policies) != 1 || aws.ToString(attached.Policies[0].PolicyName) != policy {
		t.Errorf("attached policies = %v, %v; want [%s]", attached, err, policy)
	}

	// Reading the stack back.
	res, err := c.DescribeStackResource(ctx, &cfn.DescribeStackResourceInput{StackName: aws.String("Devices"), LogicalResourceId: aws.String("Cert")})
	if err != nil || aws.ToString(res.StackResourceDetail.PhysicalResourceId) != certID || res.StackResourceDetail.ResourceStatus != types.ResourceStatusCreateComplete {
		t.Errorf("DescribeStackResource(Cert) = %+v, %v", res, err)
	}
	all, err := c.DescribeStackResources(ctx, &cfn.DescribeStackResourcesInput{PhysicalResourceId: aws.String("sdk-device-01")})
	if err != nil || len(all.StackResources) != 5 {
		t.Errorf("DescribeStackResources(by physical id) = %d resources, %v; want 5", len(all.StackResources), err)
	}
	list, err := c.ListStackResources(ctx, &cfn.ListStackResourcesInput{StackName: aws.String("Devices")})
	if err != nil || len(list.StackResourceSummaries) != 5 {
		t.Errorf("ListStackResources = %v, %v", list, err)
	}
	tmpl, err := c.GetTemplate(ctx, &cfn.GetTemplateInput{StackName: aws.String("Devices")})
	if err != nil || aws.ToString(tmpl.TemplateBody) != deviceTemplate {
		t.Errorf("GetTemplate returned another body (%v)", err)
	}
	events, err := c.DescribeStackEvents(ctx, &cfn.DescribeStackEventsInput{StackName: aws.String("Devices")})
	if err != nil || len(events.StackEvents) != 12 || events.StackEvents[0].ResourceStatus != types.ResourceStatusCreateComplete {
		t.Errorf("DescribeStackEvents = %d events (newest %v), %v; want 12, CREATE_COMPLETE first", len(events.StackEvents),
			events.StackEvents[0].ResourceStatus, err)
	}
	ex, err := c.ListExports(ctx, &cfn.ListExportsInput{})
	if err != nil || len(ex.Exports) != 1 || aws.ToString(ex.Exports[0].Value) != policy {
		t.Errorf("ListExports = %v, %v", ex, err)
	}
	sum, err := c.ListStacks(ctx, &cfn.ListStacksInput{StackStatusFilter: []types.StackStatus{types.StackStatusCreateComplete}})
	if err != nil || len(sum.StackSummaries) != 1 {
		t.Errorf("ListStacks(CREATE_COMPLETE) = %v, %v", sum, err)
	}

	// Bad input: the AWS error, nothing changed.
	_, err = c.CreateStack(ctx, &cfn.CreateStackInput{StackName: aws.String("Devices"), TemplateBody: aws.String(deviceTemplate)})
	wantAPIError(t, "CreateStack(existing)", err, "AlreadyExistsException")
	_, err = c.DescribeStacks(ctx, &cfn.DescribeStacksInput{StackName: aws.String("Nope")})
	wantAPIError(t, "DescribeStacks(missing)", err, "ValidationError")
	_, err = c.DescribeChangeSet(ctx, &cfn.DescribeChangeSetInput{StackName: aws.String("Devices"), ChangeSetName: aws.String("nope")})
	wantAPIError(t, "DescribeChangeSet(missing)", err, "ChangeSetNotFound")

	// Deleting takes the certificate out of service and removes everything.
	if _, err := c.DeleteStack(ctx, &cfn.DeleteStackInput{StackName: aws.String("Devices")}); err != nil {
		t.Fatal(err)
	}
	final := waitStackStatus(t, c, aws.ToString(created.StackId))
	if final.StackStatus != types.StackStatusDeleteComplete {
		t.Fatalf("after DeleteStack: %s (%s)", final.StackStatus, aws.ToString(final.StackStatusReason))
	}
	if _, err := ioc.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(certID)}); err == nil {
		t.Error("certificate still exists after the stack's deletion")
	}
	if _, err := ioc.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("sdk-device-01")}); err == nil {
		t.Error("thing still exists after the stack's deletion")
	}
	ex, _ = c.ListExports(context.Background(), &cfn.ListExportsInput{})
	if len(ex.Exports) != 0 {
		t.Errorf("exports after deletion: %v", ex.Exports)
	}
}
