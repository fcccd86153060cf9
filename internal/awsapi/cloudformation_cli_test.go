package awsapi

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/iotdm/iotdm"
)

// TestCloudFormationWithAWSCLI runs the stock aws CLI (botocore) against the
// adapter over the fake, `aws cloudformation deploy` first: its Deployer
// tells a new stack by DescribeStacks' message, waits on change sets and
// stacks with botocore's waiters, and reads a failed change set's reason to
// report that nothing changed.
func TestCloudFormationWithAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the aws CLI several times (about a second each)")
	}
	fake := newFakeStacks()
	srv := cfnEdge(t, fake)
	cli, env := awsCLI(t, srv.URL, testAKID, testSecret)
	run := func(t *testing.T, args ...string) (stdout, stderr string, code int) {
		t.Helper()
		stdout, stderr, err := runAWS(cli, env, append([]string{"cloudformation"}, args...)...)
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("run aws: %v", err)
		}
		return stdout, stderr, code
	}
	dir := t.TempDir()
	template := filepath.Join(dir, "template.yaml")
	body := `AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Prefix:
    Type: String
    Default: dev
Resources:
  Thing:
    Type: AWS::IoT::Thing
    Properties:
      ThingName: !Sub "${Prefix}-thing"
Outputs:
  ThingName:
    Value: !Ref Thing
`
	if err := os.WriteFile(template, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	deploy := func(t *testing.T, extra ...string) (string, string, int) {
		t.Helper()
		return run(t, append([]string{"deploy", "--template-file", template, "--stack-name", "app",
			"--capabilities", "CAPABILITY_IAM", "--tags", "team=iot"}, extra...)...)
	}

	t.Run("deploy creates the stack", func(t *testing.T) {
		out, stderr, code := deploy(t, "--parameter-overrides", "Prefix=test")
		if code != 0 || !strings.Contains(out, "Successfully created/updated stack - app") {
			t.Fatalf("deploy exit %d\nstdout: %s\nstderr: %s", code, out, stderr)
		}
		want := []string{"DescribeStacks", "CreateChangeSet", "DescribeChangeSet", "ExecuteChangeSet", "DescribeStacks"}
		if diff := cmp.Diff(want, fake.ops()); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
		fake.mu.Lock()
		var in *iotdm.CreateChangeSetInput
		for _, c := range fake.calls {
			if c.op == "CreateChangeSet" {
				in = c.in.(*iotdm.CreateChangeSetInput)
			}
		}
		st := fake.stacks["app"].stack.StackStatus
		fake.mu.Unlock()
		if in.ChangeSetType != iotdm.ChangeSetTypeCreate || in.TemplateBody != body ||
			!cmp.Equal(in.Parameters, []iotdm.Parameter{{ParameterKey: "Prefix", ParameterValue: "test"}}) ||
			!cmp.Equal(in.Capabilities, []string{"CAPABILITY_IAM"}) || !cmp.Equal(in.Tags, []iotdm.Tag{{Key: "team", Value: "iot"}}) ||
			!strings.HasPrefix(in.Description, "Created by AWS CLI at ") || !strings.HasPrefix(in.ChangeSetName, "awscli-cloudformation-package-deploy-") {
			t.Errorf("CreateChangeSet input %+v", in)
		}
		if st != iotdm.StackStatusCreateComplete {
			t.Errorf("stack status %s", st)
		}
	})
	t.Run("deploy again without changes", func(t *testing.T) {
		// The change set name has the second in it: wait for a new one.
		waitNextSecond()
		out, stderr, code := deploy(t, "--parameter-overrides", "Prefix=test")
		if code != 255 || !strings.Contains(stderr, "No changes to deploy. Stack app is up to date") {
			t.Errorf("deploy exit %d, want 255 with no changes\nstdout: %s\nstderr: %s", code, out, stderr)
		}
		waitNextSecond()
		out, stderr, code = deploy(t, "--parameter-overrides", "Prefix=test", "--no-fail-on-empty-changeset")
		if code != 0 || !strings.Contains(out, "No changes to deploy") {
			t.Errorf("deploy --no-fail-on-empty-changeset exit %d\nstdout: %s\nstderr: %s", code, out, stderr)
		}
	})
	t.Run("deploy updates the stack", func(t *testing.T) {
		waitNextSecond()
		out, stderr, code := deploy(t, "--parameter-overrides", "Prefix=prod")
		if code != 0 {
			t.Fatalf("deploy exit %d\nstdout: %s\nstderr: %s", code, out, stderr)
		}
		ops := fake.ops()
		if diff := cmp.Diff([]string{"DescribeStacks", "GetTemplateSummary", "CreateChangeSet", "DescribeChangeSet", "ExecuteChangeSet", "DescribeStacks"},
			ops[len(ops)-6:]); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
	})
	t.Run("describe-stacks", func(t *testing.T) {
		out, stderr, code := run(t, "describe-stacks", "--stack-name", "app")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var got struct {
			Stacks []struct {
				StackName, StackStatus, CreationTime string
				DisableRollback                      bool
				Outputs                              []struct{ OutputKey, OutputValue, ExportName string }
				Tags                                 []struct{ Key, Value string }
				Parameters                           []struct{ ParameterKey, ParameterValue string }
			}
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("output %s: %v", out, err)
		}
		if len(got.Stacks) != 1 {
			t.Fatalf("stacks %+v", got.Stacks)
		}
		s := got.Stacks[0]
		if s.StackName != "app" || s.StackStatus != "UPDATE_COMPLETE" || s.CreationTime != "2026-11-29T10:00:00.289Z" ||
			len(s.Outputs) != 1 || s.Outputs[0].OutputValue != "prod-thing" || s.Outputs[0].ExportName != "app-ThingName" ||
			len(s.Tags) != 1 || s.Tags[0].Key != "team" || len(s.Parameters) != 1 || s.Parameters[0].ParameterValue != "prod" {
			t.Errorf("stack %+v", s)
		}
	})
	t.Run("list-stacks follows NextToken", func(t *testing.T) {
		fake.mu.Lock()
		for _, name := range []string{"b", "c", "d"} {
			fake.addStack(name, "{}", nil, iotdm.StackStatusCreateComplete)
		}
		fake.mu.Unlock()
		out, stderr, code := run(t, "list-stacks", "--stack-status-filter", "CREATE_COMPLETE", "UPDATE_COMPLETE")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var got struct{ StackSummaries []struct{ StackName string } }
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("output %s: %v", out, err)
		}
		var names []string
		for _, s := range got.StackSummaries {
			names = append(names, s.StackName)
		}
		if !cmp.Equal(names, []string{"app", "b", "c", "d"}) {
			t.Errorf("stacks %v, want app b c d", names)
		}
		in := fake.last(t, "ListStacks").(*iotdm.ListStacksInput)
		if in.NextToken != "2" || !cmp.Equal(in.StackStatusFilter, []iotdm.StackStatus{"CREATE_COMPLETE", "UPDATE_COMPLETE"}) {
			t.Errorf("last ListStacks input %+v", in)
		}
	})
	t.Run("missing stack", func(t *testing.T) {
		_, stderr, code := run(t, "describe-stacks", "--stack-name", "missing")
		if code == 0 || !strings.Contains(stderr, "An error occurred (ValidationError) when calling the DescribeStacks operation: Stack with id missing does not exist") {
			t.Errorf("exit %d stderr %s", code, stderr)
		}
	})
}

// waitNextSecond sleeps into the next second: the aws CLI names deploy
// change sets by the second, and CloudFormation refuses a name twice.
func waitNextSecond() {
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
}
