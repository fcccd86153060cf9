package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/google/go-cmp/cmp"
	"github.com/iotdm/iotdm/stacks"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files")

// stackApp is the iotdm command as a user runs it after eval "$(iotdm env)".
func stackApp(stdin string) (*app, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	return &app{env: environMap(os.Environ()), stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut,
		readFile: os.ReadFile, version: "test"}, &out, &errOut
}

func runStackCmd(t *testing.T, want int, args ...string) string {
	t.Helper()
	a, out, errOut := stackApp("")
	if got := a.run(t.Context(), append([]string{"stack"}, args...)); got != want {
		t.Fatalf("iotdm stack %s = exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), got, want, out, errOut)
	}
	return out.String() + errOut.String()
}

// TestStackCommandsOnTheSeedStack runs the CDK-style workflow on the seed
// template: deploy, diff (golden), deploy a parameter change, refuse a
// security change without approval, refuse destroy without --force, destroy.
func TestStackCommandsOnTheSeedStack(t *testing.T) {
	cfg := testConfig(t)
	cfg.ThingTypeDeleteWait = 0
	s := startServer(t, cfg)
	setEnvLikeEval(t, cfg)
	seed := filepath.Join("..", "..", "stacks", "iot-device-management.yaml")

	out := runStackCmd(t, exitOK, "validate", "-f", seed)
	if !strings.Contains(out, "valid") || !strings.Contains(out, "Parameter env") {
		t.Errorf("validate output:\n%s", out)
	}
	// A new device policy is a security change: without a terminal to
	// approve it on, deploy refuses and leaves nothing behind.
	out = runStackCmd(t, exitError, "deploy", "-f", seed)
	if !strings.Contains(out, "needs approval") {
		t.Errorf("unapproved first deploy:\n%s", out)
	}
	if out := runStackCmd(t, exitOK, "list"); strings.Contains(out, "IoTDeviceManagementStack") {
		t.Errorf("an unapproved deploy left a stack:\n%s", out)
	}
	out = runStackCmd(t, exitOK, "deploy", "-f", seed, "--require-approval", "never")
	for _, want := range []string{"Security changes", "[+] AWS::IoT::Policy DevicePolicy", "CREATE_COMPLETE",
		"IoTDeviceManagementStack.ThingTypeName = SensorDevice-IoTDeviceManagementStack"} {
		if !strings.Contains(out, want) {
			t.Errorf("deploy output lacks %q:\n%s", want, out)
		}
	}
	out = runStackCmd(t, exitOK, "diff", "-f", seed, "--parameters", "env=production")
	golden := filepath.Join("testdata", "seed-diff-env-production.golden")
	if *updateGolden {
		if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test -run TestStackCommands -update writes it)", err)
	}
	if diff := cmp.Diff(string(want), out); diff != "" {
		t.Errorf("iotdm stack diff (-golden +got):\n%s", diff)
	}
	runStackCmd(t, exitError, "diff", "-f", seed, "--parameters", "env=production", "--fail")

	out = runStackCmd(t, exitOK, "deploy", "-f", seed, "--parameters", "env=production", "--require-approval", "never")
	if !strings.Contains(out, "UPDATE_COMPLETE") {
		t.Errorf("deploy env=production:\n%s", out)
	}
	out = runStackCmd(t, exitOK, "outputs", "--json")
	if !strings.Contains(out, `"IoTPolicyName": "device-policy-IoTDeviceManagementStack"`) {
		t.Errorf("outputs --json:\n%s", out)
	}

	// Widening the device policy needs approval; without a terminal there
	// is none, so nothing changes and the exit status says so.
	body, err := os.ReadFile(seed)
	if err != nil {
		t.Fatal(err)
	}
	broader := filepath.Join(t.TempDir(), "broader.yaml")
	wide := strings.ReplaceAll(string(body), "topic/devices/${!iot:Connection.Thing.ThingName}/*", "topic/devices/*")
	if wide == string(body) {
		t.Fatal("the seed's policy no longer has the topic this test widens")
	}
	os.WriteFile(broader, []byte(wide), 0o644)
	out = runStackCmd(t, exitError, "deploy", "-f", broader, "--parameters", "env=production")
	if !strings.Contains(out, "Security changes") || !strings.Contains(out, "needs approval") {
		t.Errorf("unapproved security change:\n%s", out)
	}
	ioc := iotClientFor(t, s)
	pol, err := ioc.GetPolicy(t.Context(), &iot.GetPolicyInput{PolicyName: aws.String("device-policy-IoTDeviceManagementStack")})
	if err != nil || aws.ToString(pol.DefaultVersionId) != "1" {
		t.Errorf("policy after a refused change: version %v, %v; want 1", aws.ToString(pol.DefaultVersionId), err)
	}
	// With approval given on a terminal, it is applied.
	a, stdout, stderr := stackApp("y\n")
	a.interactive = true
	if code := a.run(t.Context(), []string{"stack", "deploy", "-f", broader, "--parameters", "env=production"}); code != exitOK {
		t.Fatalf("approved deploy = %d\n%s%s", code, stdout, stderr)
	}
	pol, _ = ioc.GetPolicy(t.Context(), &iot.GetPolicyInput{PolicyName: aws.String("device-policy-IoTDeviceManagementStack")})
	if aws.ToString(pol.DefaultVersionId) != "2" || !strings.Contains(aws.ToString(pol.PolicyDocument), "topic/devices/*") {
		t.Errorf("approved policy change not applied: version %s", aws.ToString(pol.DefaultVersionId))
	}

	runStackCmd(t, exitError, "destroy") // no terminal, no --force
	if out := runStackCmd(t, exitOK, "list"); !strings.Contains(out, "IoTDeviceManagementStack") {
		t.Errorf("list after a refused destroy:\n%s", out)
	}
	runStackCmd(t, exitOK, "destroy", "--force")
	things, err := ioc.ListThings(t.Context(), &iot.ListThingsInput{})
	if err != nil || len(things.Things) != 0 {
		t.Errorf("things after destroy: %v, %v", things, err)
	}
	if out := runStackCmd(t, exitOK, "list"); strings.Contains(out, "IoTDeviceManagementStack") {
		t.Errorf("list after destroy:\n%s", out)
	}
}

func TestStackValidateReportsProblems(t *testing.T) {
	cfg := testConfig(t)
	startServer(t, cfg)
	setEnvLikeEval(t, cfg)
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("Resources:\n  Vm:\n    Type: AWS::EC2::Instance\n  T:\n    Type: AWS::IoT::Thing\n    Properties: {ThingNme: x}\n"), 0o644)
	out := runStackCmd(t, exitError, "validate", "-f", bad)
	for _, want := range []string{"Unsupported resource type: AWS::EC2::Instance", "Resources/T/Properties/ThingNme"} {
		if !strings.Contains(out, want) {
			t.Errorf("validate output lacks %q:\n%s", want, out)
		}
	}
	runStackCmd(t, exitUsage, "deploy", "--require-approval", "sometimes")
	runStackCmd(t, exitUsage, "frobnicate")
}

// TestUpDeploysTheSeedOnce: iotdm up deploys the embedded seed stack on the
// first start and finds nothing to change on the next.
func TestUpDeploysTheSeedOnce(t *testing.T) {
	cfg := testConfig(t)
	s := startServer(t, cfg)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := s.deploySeed(ctx, &out); err != nil {
		t.Fatalf("deploySeed: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := s.deploySeed(ctx, &out); err != nil {
		t.Fatalf("deploySeed again: %v", err)
	}
	if !strings.Contains(out.String(), "(no changes)") {
		t.Errorf("second deploy:\n%s", out.String())
	}
	setEnvLikeEval(t, cfg)
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st, err := cfn.NewFromConfig(awsCfg).DescribeStacks(ctx, &cfn.DescribeStacksInput{StackName: aws.String(stacks.SeedName)})
	if err != nil || st.Stacks[0].StackStatus != "CREATE_COMPLETE" || len(st.Stacks[0].Outputs) < 6 {
		t.Fatalf("seed stack: %+v, %v", st, err)
	}
}

func iotClientFor(t *testing.T, s *server) *iot.Client {
	return staticIoTClient(s, s.key.ID, s.key.Secret)
}
