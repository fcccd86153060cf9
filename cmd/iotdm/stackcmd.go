package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"
	"github.com/iotdm/iotdm/stacks"
)

// Defaults of iotdm stack: the seed stack, as its CDK app named it.
const (
	defaultStackName     = "IoTDeviceManagementStack"
	defaultStackTemplate = "stacks/iot-device-management.yaml"
)

const stackUsage = `Usage: iotdm stack <command> [flags]

Deploys CloudFormation templates onto iotdm (or any CloudFormation endpoint),
the way the AWS CDK's commands do:

  iotdm stack deploy   [-f FILE] [--stack-name NAME] [--parameters k=v ...]
                       [--require-approval never|broadening|any-change]
                       shows the changes, asks before security-relevant ones
                       (broadening, the default), applies them with live progress
  iotdm stack diff     [-f FILE] [--stack-name NAME] [--parameters k=v ...] [--fail]
                       shows what deploy would change; --fail exits 1 if anything
  iotdm stack destroy  [--stack-name NAME] [--force]
  iotdm stack list     lists the stacks
  iotdm stack outputs  [--stack-name NAME] [--json]
  iotdm stack validate [-f FILE]

FILE defaults to ` + defaultStackTemplate + ` (the seed stack built into iotdm
when there is no such file), NAME to ` + defaultStackName + `.
The endpoint and credentials are the AWS SDK's (AWS_ENDPOINT_URL and the
shared credentials file, as eval "$(iotdm env)" sets them); without
AWS_ENDPOINT_URL, the server running on --data-dir (default ` + defaultDataDir + `).
Exit status: 0 on success, 1 when the operation failed, 2 on bad usage.
`

// stackFlags are the flags of every stack command.
type stackFlags struct {
	file        string
	body        string // the template itself, instead of file
	name        string
	params      []string
	approval    string
	force       bool
	fail        bool
	json        bool
	dataDir     string
	rest        []string
	poll        time.Duration
	stdin       io.Reader
	stdout      io.Writer
	stderr      io.Writer
	interactive bool
}

type paramList struct{ list *[]string }

func (p paramList) String() string     { return "" }
func (p paramList) Set(v string) error { *p.list = append(*p.list, v); return nil }

// runStack runs one iotdm stack command and returns the exit code.
func (a *app) runStack(ctx context.Context, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(a.stdout, stackUsage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd := args[0]
	f := &stackFlags{stdout: a.stdout, stderr: a.stderr, stdin: a.stdin, interactive: a.interactive, poll: 250 * time.Millisecond}
	fs := flag.NewFlagSet("iotdm stack "+cmd, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	fs.StringVar(&f.file, "f", defaultStackTemplate, "template file (JSON or YAML)")
	fs.StringVar(&f.file, "file", defaultStackTemplate, "template file (JSON or YAML)")
	fs.StringVar(&f.name, "stack-name", defaultStackName, "stack name")
	fs.Var(paramList{&f.params}, "parameters", "parameter value KEY=VALUE (repeatable)")
	fs.StringVar(&f.approval, "require-approval", "broadening", "never, broadening or any-change")
	fs.BoolVar(&f.force, "force", false, "destroy without asking")
	fs.BoolVar(&f.fail, "fail", false, "diff: exit 1 when there are differences")
	fs.BoolVar(&f.json, "json", false, "outputs: print JSON")
	fs.StringVar(&f.dataDir, "data-dir", cmpOr(a.env["IOTDM_DATA_DIR"], defaultDataDir), "data directory of the local server")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	// Parameter values may follow --parameters without repeating it, as in
	// cdk deploy --parameters a=1 b=2.
	for _, rest := range fs.Args() {
		if strings.Contains(rest, "=") {
			f.params = append(f.params, rest)
			continue
		}
		fmt.Fprintf(a.stderr, "iotdm stack %s: unexpected argument %q\n", cmd, rest)
		return exitUsage
	}
	switch f.approval {
	case "never", "broadening", "any-change":
	default:
		fmt.Fprintf(a.stderr, "iotdm stack %s: --require-approval must be never, broadening or any-change\n", cmd)
		return exitUsage
	}
	client, err := a.cloudFormation(ctx, f.dataDir)
	if err != nil {
		fmt.Fprintf(a.stderr, "iotdm stack %s: %v\n", cmd, err)
		return exitError
	}
	c := &stackClient{api: client, f: f}
	switch cmd {
	case "deploy":
		err = c.deploy(ctx)
	case "diff":
		err = c.diff(ctx)
	case "destroy":
		err = c.destroy(ctx)
	case "list", "ls":
		err = c.list(ctx)
	case "outputs":
		err = c.outputs(ctx)
	case "validate":
		err = c.validate(ctx)
	default:
		fmt.Fprintf(a.stderr, "iotdm stack: unknown command %q\n%s", cmd, stackUsage)
		return exitUsage
	}
	if errors.Is(err, errDifferences) {
		return exitError
	}
	if err != nil {
		fmt.Fprintf(a.stderr, "iotdm stack %s: %v\n", cmd, err)
		return exitError
	}
	return exitOK
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// cloudFormation returns a client of the endpoint the AWS SDK is configured
// for, or of the server running on dataDir when AWS_ENDPOINT_URL is unset.
func (a *app) cloudFormation(ctx context.Context, dataDir string) (*cfn.Client, error) {
	if a.env["AWS_ENDPOINT_URL"] != "" || a.env["AWS_ENDPOINT_URL_CLOUDFORMATION"] != "" {
		cfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("load AWS configuration: %w", err)
		}
		return cfn.NewFromConfig(cfg), nil
	}
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, fmt.Errorf("resolve data directory: %w", err)
	}
	st, err := readServerState(dir)
	if err != nil || !processAlive(st.PID) {
		return nil, fmt.Errorf("no iotdm server is running on %s (start one with 'iotdm up', or set AWS_ENDPOINT_URL)", dir)
	}
	data, err := os.ReadFile(filepath.Join(dir, credentialsFileName))
	if err != nil {
		return nil, fmt.Errorf("read credentials: %w", err)
	}
	key, err := parseCredentials(data)
	if err != nil {
		return nil, err
	}
	cfg := aws.Config{Region: st.Region,
		Credentials: credentials.NewStaticCredentialsProvider(key.ID, key.Secret, "")}
	return cfn.NewFromConfig(cfg, func(o *cfn.Options) { o.BaseEndpoint = aws.String(st.Endpoint) }), nil
}

// stackClient runs the stack commands against a CloudFormation API.
type stackClient struct {
	api *cfn.Client
	f   *stackFlags
}

var errDifferences = errors.New("the stack has differences")

func (c *stackClient) printf(format string, args ...any) { fmt.Fprintf(c.f.stdout, format, args...) }

func (c *stackClient) parameters() ([]types.Parameter, error) {
	var out []types.Parameter
	for _, p := range c.f.params {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("parameter %q is not KEY=VALUE", p)
		}
		// cdk accepts StackName:Key=Value; the stack name part is dropped.
		if _, key, ok := strings.Cut(k, ":"); ok {
			k = key
		}
		out = append(out, types.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(v)})
	}
	return out, nil
}

func (c *stackClient) template() (string, error) {
	if c.f.body != "" {
		return c.f.body, nil
	}
	b, err := os.ReadFile(c.f.file)
	if errors.Is(err, fs.ErrNotExist) && c.f.file == defaultStackTemplate {
		// Outside the repository, the default template is the seed stack
		// built into the binary.
		return string(stacks.Seed), nil
	}
	if err != nil {
		return "", fmt.Errorf("read template: %w", err)
	}
	return string(b), nil
}

// describe returns the stack, or nil when it does not exist.
func (c *stackClient) describe(ctx context.Context, name string) (*types.Stack, error) {
	out, err := c.api.DescribeStacks(ctx, &cfn.DescribeStacksInput{StackName: aws.String(name)})
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "ValidationError" && strings.Contains(ae.ErrorMessage(), "does not exist") {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(out.Stacks) == 0 {
		return nil, nil
	}
	return &out.Stacks[0], nil
}

// changeSet creates a change set for the template and waits for it. It
// returns nil when there is nothing to change.
func (c *stackClient) changeSet(ctx context.Context) (*cfn.DescribeChangeSetOutput, types.ChangeSetType, error) {
	body, err := c.template()
	if err != nil {
		return nil, "", err
	}
	params, err := c.parameters()
	if err != nil {
		return nil, "", err
	}
	st, err := c.describe(ctx, c.f.name)
	if err != nil {
		return nil, "", err
	}
	typ := types.ChangeSetTypeUpdate
	if st == nil || st.StackStatus == types.StackStatusReviewInProgress {
		typ = types.ChangeSetTypeCreate
	}
	name := fmt.Sprintf("iotdm-%d", time.Now().UnixNano())
	created, err := c.api.CreateChangeSet(ctx, &cfn.CreateChangeSetInput{StackName: aws.String(c.f.name),
		ChangeSetName: aws.String(name), ChangeSetType: typ, TemplateBody: aws.String(body), Parameters: params,
		Capabilities: []types.Capability{types.CapabilityCapabilityIam, types.CapabilityCapabilityNamedIam, types.CapabilityCapabilityAutoExpand}})
	if err != nil {
		return nil, "", err
	}
	for {
		out, err := c.api.DescribeChangeSet(ctx, &cfn.DescribeChangeSetInput{ChangeSetName: created.Id,
			StackName: aws.String(c.f.name), IncludePropertyValues: aws.Bool(true)})
		if err != nil {
			return nil, "", err
		}
		switch out.Status {
		case types.ChangeSetStatusCreateComplete:
			return out, typ, nil
		case types.ChangeSetStatusFailed:
			reason := aws.ToString(out.StatusReason)
			_, _ = c.api.DeleteChangeSet(ctx, &cfn.DeleteChangeSetInput{ChangeSetName: created.Id})
			if strings.Contains(reason, "didn't contain changes") || strings.Contains(reason, "No updates are to be performed") {
				return nil, typ, nil
			}
			return nil, "", fmt.Errorf("change set failed: %s", reason)
		}
		if err := sleep(ctx, c.f.poll); err != nil {
			return nil, "", err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// diff prints what deploying the template would change.
func (c *stackClient) diff(ctx context.Context) error {
	cs, typ, err := c.changeSet(ctx)
	if err != nil {
		return err
	}
	if cs == nil {
		c.printf("Stack %s\nThere were no differences\n", c.f.name)
		return nil
	}
	printChanges(c.f.stdout, c.f.name, cs.Changes)
	_, _ = c.api.DeleteChangeSet(ctx, &cfn.DeleteChangeSetInput{ChangeSetName: cs.ChangeSetId})
	if typ == types.ChangeSetTypeCreate {
		// The change set made a REVIEW_IN_PROGRESS stack; a diff leaves
		// nothing behind.
		_, _ = c.api.DeleteStack(ctx, &cfn.DeleteStackInput{StackName: cs.StackId})
	}
	if c.f.fail {
		return errDifferences
	}
	return nil
}

// deploy shows the changes, asks for approval as configured, executes them
// and follows the stack's events until the operation ends.
func (c *stackClient) deploy(ctx context.Context) error {
	cs, typ, err := c.changeSet(ctx)
	if err != nil {
		return err
	}
	if cs == nil {
		c.printf("✅  %s (no changes)\n", c.f.name)
		return c.printOutputs(ctx)
	}
	printChanges(c.f.stdout, c.f.name, cs.Changes)
	security := securityChanges(cs.Changes)
	ask := c.f.approval == "any-change" || (c.f.approval == "broadening" && len(security) > 0)
	if ask {
		ok, err := c.confirm("Do you wish to deploy these changes (y/n)? ")
		if err == nil && !ok {
			err = errors.New("aborted by user")
		}
		if err != nil {
			// Leave nothing behind: the change set, and the empty
			// REVIEW_IN_PROGRESS stack a first change set made.
			_, _ = c.api.DeleteChangeSet(ctx, &cfn.DeleteChangeSetInput{ChangeSetName: cs.ChangeSetId})
			if typ == types.ChangeSetTypeCreate {
				_, _ = c.api.DeleteStack(ctx, &cfn.DeleteStackInput{StackName: cs.StackId})
			}
			return err
		}
	}
	since := time.Now().Add(-time.Second)
	if _, err := c.api.ExecuteChangeSet(ctx, &cfn.ExecuteChangeSetInput{ChangeSetName: cs.ChangeSetId}); err != nil {
		return err
	}
	c.printf("%s: deploying...\n", c.f.name)
	st, err := c.follow(ctx, aws.ToString(cs.StackId), since)
	if err != nil {
		return err
	}
	switch st.StackStatus {
	case types.StackStatusCreateComplete, types.StackStatusUpdateComplete:
		c.printf("\n✅  %s\n", c.f.name)
		return c.printOutputs(ctx)
	}
	return fmt.Errorf("%s ended in %s: %s", c.f.name, st.StackStatus, aws.ToString(st.StackStatusReason))
}

// confirm asks a yes/no question on the terminal; without one, approval
// cannot be given and the deploy stops.
func (c *stackClient) confirm(question string) (bool, error) {
	if !c.f.interactive {
		return false, errors.New(`this deployment needs approval, and there is no terminal to ask on: review the changes above and rerun with --require-approval never`)
	}
	fmt.Fprint(c.f.stdout, question)
	line, err := bufio.NewReader(c.f.stdin).ReadString('\n')
	if err != nil && line == "" {
		return false, errors.New("no answer")
	}
	line = strings.ToLower(strings.TrimSpace(line))
	return line == "y" || line == "yes", nil
}

// terminal reports whether a stack status ends an operation.
func terminal(s types.StackStatus) bool {
	str := string(s)
	return !strings.HasSuffix(str, "_IN_PROGRESS") || s == types.StackStatusReviewInProgress
}

// follow prints the stack's events newer than since, oldest first, until
// its status is terminal.
func (c *stackClient) follow(ctx context.Context, stackID string, since time.Time) (*types.Stack, error) {
	seen := map[string]bool{}
	for {
		out, err := c.api.DescribeStacks(ctx, &cfn.DescribeStacksInput{StackName: aws.String(stackID)})
		if err != nil {
			return nil, err
		}
		st := out.Stacks[0]
		if err := c.printEvents(ctx, stackID, since, seen); err != nil {
			return nil, err
		}
		if terminal(st.StackStatus) {
			return &st, nil
		}
		if err := sleep(ctx, c.f.poll); err != nil {
			return nil, err
		}
	}
}

func (c *stackClient) printEvents(ctx context.Context, stackID string, since time.Time, seen map[string]bool) error {
	var fresh []types.StackEvent
	p := cfn.NewDescribeStackEventsPaginator(c.api, &cfn.DescribeStackEventsInput{StackName: aws.String(stackID)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		done := false
		for _, ev := range page.StackEvents {
			if aws.ToTime(ev.Timestamp).Before(since) || seen[aws.ToString(ev.EventId)] {
				done = true
				break
			}
			fresh = append(fresh, ev)
		}
		if done {
			break
		}
	}
	for i := len(fresh) - 1; i >= 0; i-- {
		ev := fresh[i]
		seen[aws.ToString(ev.EventId)] = true
		line := fmt.Sprintf("%s | %-28s | %-36s | %s", aws.ToTime(ev.Timestamp).Local().Format("15:04:05"),
			ev.ResourceStatus, aws.ToString(ev.ResourceType), aws.ToString(ev.LogicalResourceId))
		if r := aws.ToString(ev.ResourceStatusReason); r != "" && r != "User Initiated" {
			line += " " + r
		}
		c.printf("%s\n", line)
	}
	return nil
}

func (c *stackClient) printOutputs(ctx context.Context) error {
	st, err := c.describe(ctx, c.f.name)
	if err != nil || st == nil {
		return err
	}
	if len(st.Outputs) > 0 {
		c.printf("\nOutputs:\n")
	}
	for _, o := range sortedOutputs(st.Outputs) {
		c.printf("%s.%s = %s\n", c.f.name, aws.ToString(o.OutputKey), aws.ToString(o.OutputValue))
	}
	c.printf("\nStack ARN:\n%s\n", aws.ToString(st.StackId))
	return nil
}

func sortedOutputs(outs []types.Output) []types.Output {
	out := append([]types.Output(nil), outs...)
	sort.Slice(out, func(i, j int) bool { return aws.ToString(out[i].OutputKey) < aws.ToString(out[j].OutputKey) })
	return out
}

// destroy deletes the stack after asking, unless --force.
func (c *stackClient) destroy(ctx context.Context) error {
	st, err := c.describe(ctx, c.f.name)
	if err != nil {
		return err
	}
	if st == nil {
		c.printf("%s: stack does not exist; nothing to destroy\n", c.f.name)
		return nil
	}
	if !c.f.force {
		ok, err := c.confirm(fmt.Sprintf("Are you sure you want to delete: %s (y/n)? ", c.f.name))
		if err != nil {
			return fmt.Errorf("%w (or pass --force)", err)
		}
		if !ok {
			return errors.New("aborted by user")
		}
	}
	since := time.Now().Add(-time.Second)
	if _, err := c.api.DeleteStack(ctx, &cfn.DeleteStackInput{StackName: st.StackId}); err != nil {
		return err
	}
	c.printf("%s: destroying...\n", c.f.name)
	final, err := c.follow(ctx, aws.ToString(st.StackId), since)
	if err != nil {
		return err
	}
	if final.StackStatus != types.StackStatusDeleteComplete {
		return fmt.Errorf("%s ended in %s: %s", c.f.name, final.StackStatus, aws.ToString(final.StackStatusReason))
	}
	c.printf("\n✅  %s: destroyed\n", c.f.name)
	return nil
}

func (c *stackClient) list(ctx context.Context) error {
	p := cfn.NewListStacksPaginator(c.api, &cfn.ListStacksInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, s := range page.StackSummaries {
			if s.StackStatus == types.StackStatusDeleteComplete {
				continue
			}
			c.printf("%-40s %s\n", aws.ToString(s.StackName), s.StackStatus)
		}
	}
	return nil
}

func (c *stackClient) outputs(ctx context.Context) error {
	st, err := c.describe(ctx, c.f.name)
	if err != nil {
		return err
	}
	if st == nil {
		return fmt.Errorf("stack %s does not exist", c.f.name)
	}
	if c.f.json {
		m := map[string]string{}
		for _, o := range st.Outputs {
			m[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
		}
		b, err := json.MarshalIndent(map[string]any{c.f.name: m}, "", "  ")
		if err != nil {
			return err
		}
		c.printf("%s\n", b)
		return nil
	}
	for _, o := range sortedOutputs(st.Outputs) {
		c.printf("%s.%s = %s\n", c.f.name, aws.ToString(o.OutputKey), aws.ToString(o.OutputValue))
	}
	return nil
}

func (c *stackClient) validate(ctx context.Context) error {
	body, err := c.template()
	if err != nil {
		return err
	}
	out, err := c.api.ValidateTemplate(ctx, &cfn.ValidateTemplateInput{TemplateBody: aws.String(body)})
	if err != nil {
		return err
	}
	c.printf("%s: valid\n", c.f.file)
	if d := aws.ToString(out.Description); d != "" {
		c.printf("Description: %s\n", d)
	}
	for _, p := range out.Parameters {
		c.printf("Parameter %s (default %q)\n", aws.ToString(p.ParameterKey), aws.ToString(p.DefaultValue))
	}
	return nil
}
