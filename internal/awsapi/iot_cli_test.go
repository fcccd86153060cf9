package awsapi

import (
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/iotdm/iotdm"
)

// TestIoTWithAWSCLI drives the adapter with the stock aws CLI (botocore),
// pointed at the edge through AWS_ENDPOINT_URL.
func TestIoTWithAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the aws CLI several times (about a second each)")
	}
	fake := &fakeRegistry{fail: func(op string, in any) error {
		if d, ok := in.(*iotdm.DescribeThingInput); ok && d.ThingName == "missing" {
			return iotdm.Errorf(iotdm.ErrResourceNotFound, "Thing missing does not exist")
		}
		return nil
	}}
	srv := iotEdge(t, fake, nil)
	cli, env := awsCLI(t, srv.URL)
	run := func(t *testing.T, secret string, args ...string) (stdout, stderr string, err error) {
		return runAWS(cli, append(env, "AWS_ACCESS_KEY_ID="+testAKID, "AWS_SECRET_ACCESS_KEY="+secret),
			append([]string{"iot"}, args...)...)
	}

	t.Run("label with colon and dollar", func(t *testing.T) {
		out, stderr, err := run(t, testSecret, "describe-thing", "--thing-name", "dev:1 $aws")
		if err != nil {
			t.Fatalf("%v: %s", err, stderr)
		}
		var got struct{ ThingName string }
		if err := json.Unmarshal([]byte(out), &got); err != nil || got.ThingName != "dev:1 $aws" {
			t.Errorf("output %s (%v)", out, err)
		}
		if diff := cmp.Diff(&iotdm.DescribeThingInput{ThingName: "dev:1 $aws"}, fake.last(t, "DescribeThing")); diff != "" {
			t.Errorf("input (-want +got):\n%s", diff)
		}
	})
	t.Run("query members", func(t *testing.T) {
		_, stderr, err := run(t, testSecret, "list-things", "--page-size", "3", "--max-items", "1",
			"--attribute-name", "color", "--attribute-value", "red blue")
		if err != nil {
			t.Fatalf("%v: %s", err, stderr)
		}
		want := &iotdm.ListThingsInput{MaxResults: 3, AttributeName: "color", AttributeValue: "red blue"}
		if diff := cmp.Diff(want, fake.last(t, "ListThings")); diff != "" {
			t.Errorf("input (-want +got):\n%s", diff)
		}
	})
	t.Run("header member", func(t *testing.T) {
		_, stderr, err := run(t, testSecret, "attach-thing-principal", "--thing-name", "dev:1",
			"--principal", "arn:aws:iot:us-east-1:123456789012:cert/abc")
		if err != nil {
			t.Fatalf("%v: %s", err, stderr)
		}
		want := &iotdm.AttachThingPrincipalInput{ThingName: "dev:1", Principal: "arn:aws:iot:us-east-1:123456789012:cert/abc"}
		if diff := cmp.Diff(want, fake.last(t, "AttachThingPrincipal")); diff != "" {
			t.Errorf("input (-want +got):\n%s", diff)
		}
	})
	t.Run("percent-encoded ARN label", func(t *testing.T) {
		_, stderr, err := run(t, testSecret, "list-attached-policies", "--no-paginate", "--recursive",
			"--target", "arn:aws:iot:us-east-1:123456789012:thinggroup/g:1")
		if err != nil {
			t.Fatalf("%v: %s", err, stderr)
		}
		want := &iotdm.ListAttachedPoliciesInput{Target: "arn:aws:iot:us-east-1:123456789012:thinggroup/g:1", Recursive: true}
		if diff := cmp.Diff(want, fake.last(t, "ListAttachedPolicies")); diff != "" {
			t.Errorf("input (-want +got):\n%s", diff)
		}
	})
	t.Run("service error", func(t *testing.T) {
		_, stderr, err := run(t, testSecret, "describe-thing", "--thing-name", "missing")
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Fatalf("err = %v, want a failed exit", err)
		}
		const want = "An error occurred (ResourceNotFoundException) when calling the DescribeThing operation: Thing missing does not exist"
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q lacks %q", stderr, want)
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		_, stderr, err := run(t, "not-the-secret", "list-thing-types")
		if err == nil {
			t.Fatal("command succeeded")
		}
		if !strings.Contains(stderr, "(InvalidSignatureException) when calling the ListThingTypes operation: The request signature we calculated does not match") {
			t.Errorf("stderr %q", stderr)
		}
	})
}
