package awsapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/google/go-cmp/cmp"
	"github.com/iotdm/iotdm"
)

// newCFNClient is a real aws-sdk-go-v2 CloudFormation client for url, with
// the SDK's standard retries of connection failures (a loaded test machine
// sees some) but none of errors the service answers.
func newCFNClient(url, akid, secret string) *cloudformation.Client {
	return cloudformation.New(cloudformation.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider(akid, secret, ""),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.Retryables = []retry.IsErrorRetryable{retry.RetryableConnectionError{}}
		}),
	})
}

// cfnOdd ends every filled string: XML and form escaping must carry it.
const cfnOdd = " <&>'\"\r\n\tü☃ %2F+"

// cfnFill sets every field reachable from v to a value that is not zero and
// depends on seed: strings, true, numbers, timestamps with milliseconds,
// two-element lists and maps, allocated pointers.
func cfnFill(v reflect.Value, seed string) {
	switch v.Kind() {
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		cfnFill(p.Elem(), seed)
		v.Set(p)
	case reflect.String:
		v.SetString(seed + cfnOdd)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int32, reflect.Int64:
		v.SetInt(int64(len(seed)))
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			cfnFill(s.Index(i), seed+"."+strconv.Itoa(i+1))
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for i := range 2 {
			k, val := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			cfnFill(k, seed+".key"+strconv.Itoa(i+1))
			cfnFill(val, seed+".value"+strconv.Itoa(i+1))
			m.SetMapIndex(k, val)
		}
		v.Set(m)
	case reflect.Struct:
		if v.Type() == cfnTimeType {
			v.Set(reflect.ValueOf(fakeCFNTime.Add(time.Duration(len(seed)) * time.Millisecond)))
			return
		}
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() {
				cfnFill(v.Field(i), seed+"."+f.Name)
			}
		}
	default:
		panic(fmt.Sprintf("cfnFill: %v", v.Type()))
	}
}

const iotdmPkg = "github.com/iotdm/iotdm"

// cfnConvert copies src into dst between iotdm's shapes and the SDK's, by
// member name, both ways: the SDK's *string, *bool, *int32, *time.Time and
// enum types meet iotdm's strings, booleans, numbers and timestamps. Every
// field of the iotdm side must have its SDK counterpart. An empty string or
// zero timestamp becomes a nil pointer.
func cfnConvert(dst, src reflect.Value, path string) error {
	if src.Kind() == reflect.Pointer {
		if src.IsNil() {
			return nil
		}
		return cfnConvert(dst, src.Elem(), path)
	}
	if dst.Kind() == reflect.Pointer {
		if (src.Kind() == reflect.String || src.Type() == cfnTimeType) && src.IsZero() {
			return nil
		}
		p := reflect.New(dst.Type().Elem())
		if err := cfnConvert(p.Elem(), src, path); err != nil {
			return err
		}
		dst.Set(p)
		return nil
	}
	switch dst.Kind() {
	case reflect.String:
		dst.SetString(src.String())
	case reflect.Bool:
		dst.SetBool(src.Bool())
	case reflect.Int32, reflect.Int64:
		dst.SetInt(src.Int())
	case reflect.Slice:
		if src.IsNil() {
			return nil
		}
		s := reflect.MakeSlice(dst.Type(), src.Len(), src.Len())
		for i := range src.Len() {
			if err := cfnConvert(s.Index(i), src.Index(i), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
		dst.Set(s)
	case reflect.Map:
		if src.IsNil() {
			return nil
		}
		m := reflect.MakeMap(dst.Type())
		for _, k := range src.MapKeys() {
			val := reflect.New(dst.Type().Elem()).Elem()
			if err := cfnConvert(val, src.MapIndex(k), path+"{}"); err != nil {
				return err
			}
			m.SetMapIndex(k.Convert(dst.Type().Key()), val)
		}
		dst.Set(m)
	case reflect.Struct:
		if dst.Type() == cfnTimeType {
			dst.Set(src)
			return nil
		}
		ours := dst.Type()
		if ours.PkgPath() != iotdmPkg {
			ours = src.Type()
		}
		for i := range ours.NumField() {
			name := ours.Field(i).Name
			d, s := dst.FieldByName(name), src.FieldByName(name)
			if !d.IsValid() || !s.IsValid() {
				return fmt.Errorf("%s.%s: %v and %v do not both have it", path, name, dst.Type(), src.Type())
			}
			if err := cfnConvert(d, s, path+"."+name); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("%s: cannot convert %v to %v", path, src.Type(), dst.Type())
	}
	return nil
}

// cfnCallSDK calls the client's method for op with the iotdm input in
// (converted to the SDK's input) and returns the SDK output converted to
// iotdm's output type out.
func cfnCallSDK(t *testing.T, client *cloudformation.Client, op string, in any, out reflect.Type) (any, error) {
	t.Helper()
	m := reflect.ValueOf(client).MethodByName(op)
	if !m.IsValid() {
		t.Fatalf("the SDK client has no %s", op)
	}
	sdkIn := reflect.New(m.Type().In(1).Elem())
	if err := cfnConvert(sdkIn.Elem(), reflect.ValueOf(in).Elem(), op+"Input"); err != nil {
		t.Fatalf("convert input: %v", err)
	}
	res := m.Call([]reflect.Value{reflect.ValueOf(context.Background()), sdkIn})
	if err, _ := res[1].Interface().(error); err != nil {
		return nil, err
	}
	got := reflect.New(out)
	if err := cfnConvert(got.Elem(), res[0].Elem(), op+"Output"); err != nil {
		t.Fatalf("convert output: %v", err)
	}
	return got.Interface(), nil
}

// TestCloudFormationWithSDKCarriesEveryMember sends every member of every
// operation's input through the SDK and checks the service got each one,
// then answers with every member of the output set and checks the SDK read
// each one back.
func TestCloudFormationWithSDKCarriesEveryMember(t *testing.T) {
	fake := newFakeStacks()
	srv := cfnEdge(t, fake)
	client := newCFNClient(srv.URL, testAKID, testSecret)
	stacks := reflect.TypeFor[iotdm.Stacks]()
	for name := range newCloudFormation(fake).ops {
		meth, _ := stacks.MethodByName(name)
		inType, outType := meth.Type.In(1).Elem(), meth.Type.Out(0).Elem()
		t.Run(name+"/every member", func(t *testing.T) {
			in, out := reflect.New(inType), reflect.New(outType)
			cfnFill(in.Elem(), name)
			cfnFill(out.Elem(), name)
			fake.mu.Lock()
			fake.canned[name] = out.Interface()
			fake.mu.Unlock()
			got, err := cfnCallSDK(t, client, name, in.Interface(), outType)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if diff := cmp.Diff(in.Interface(), fake.last(t, name)); diff != "" {
				t.Errorf("input (-sent +received):\n%s", diff)
			}
			if diff := cmp.Diff(out.Interface(), got); diff != "" {
				t.Errorf("output (-sent +received):\n%s", diff)
			}
		})
		t.Run(name+"/no optional member", func(t *testing.T) {
			in, out := reflect.New(inType), reflect.New(outType)
			for _, req := range newCloudFormation(fake).ops[name].required {
				in.Elem().FieldByName(req).SetString("x")
			}
			fake.mu.Lock()
			fake.canned[name] = out.Interface()
			fake.mu.Unlock()
			got, err := cfnCallSDK(t, client, name, in.Interface(), outType)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if diff := cmp.Diff(in.Interface(), fake.last(t, name)); diff != "" {
				t.Errorf("input (-sent +received):\n%s", diff)
			}
			if diff := cmp.Diff(out.Interface(), got); diff != "" {
				t.Errorf("output (-sent +received):\n%s", diff)
			}
		})
	}
}

func TestCloudFormationWithSDKFalseAndEmpty(t *testing.T) {
	fake := newFakeStacks()
	srv := cfnEdge(t, fake)
	client := newCFNClient(srv.URL, testAKID, testSecret)
	ctx := context.Background()
	fake.canned["UpdateStack"] = &iotdm.UpdateStackOutput{StackId: "id"}
	_, err := client.UpdateStack(ctx, &cloudformation.UpdateStackInput{
		StackName:           aws.String("app"),
		UsePreviousTemplate: aws.Bool(true),
		DisableRollback:     aws.Bool(false),
		Parameters: []types.Parameter{
			{ParameterKey: aws.String("Prefix"), UsePreviousValue: aws.Bool(true)},
			{ParameterKey: aws.String("Empty"), ParameterValue: aws.String("")},
		},
		Capabilities: []types.Capability{},
		Tags:         []types.Tag{},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := &iotdm.UpdateStackInput{
		StackName: "app", UsePreviousTemplate: ptr(true), DisableRollback: ptr(false),
		Parameters:   []iotdm.Parameter{{ParameterKey: "Prefix", UsePreviousValue: ptr(true)}, {ParameterKey: "Empty"}},
		Capabilities: []string{}, Tags: []iotdm.Tag{},
	}
	if diff := cmp.Diff(want, fake.last(t, "UpdateStack")); diff != "" {
		t.Errorf("input (-want +got):\n%s", diff)
	}

	fake.canned["DescribeStacks"] = &iotdm.DescribeStacksOutput{Stacks: []iotdm.Stack{{
		StackName: "app", StackStatus: iotdm.StackStatusCreateComplete, CreationTime: fakeCFNTime,
		Parameters: []iotdm.Parameter{{ParameterKey: "Empty", ParameterValue: ""}}, Outputs: []iotdm.Output{}, Tags: []iotdm.Tag{},
	}}}
	out, err := client.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("app")})
	if err != nil {
		t.Fatal(err)
	}
	s := out.Stacks[0]
	if s.DisableRollback == nil || *s.DisableRollback || s.EnableTerminationProtection == nil || *s.EnableTerminationProtection {
		t.Errorf("DisableRollback %v EnableTerminationProtection %v, want false, sent", s.DisableRollback, s.EnableTerminationProtection)
	}
	if s.RetainExceptOnCreate != nil || s.TimeoutInMinutes != nil || s.Description != nil {
		t.Errorf("optional members sent: %v %v %v", s.RetainExceptOnCreate, s.TimeoutInMinutes, s.Description)
	}
	if !s.CreationTime.Equal(fakeCFNTime) {
		t.Errorf("CreationTime %v, want %v", s.CreationTime, fakeCFNTime)
	}
	if len(s.Parameters) != 1 || aws.ToString(s.Parameters[0].ParameterKey) != "Empty" || s.Parameters[0].UsePreviousValue != nil {
		t.Errorf("Parameters %+v", s.Parameters)
	}
}

func TestCloudFormationWithSDKPaginators(t *testing.T) {
	fake := newFakeStacks()
	for i := range 5 {
		s := fake.addStack(fmt.Sprintf("stack-%d", i), "{}", []iotdm.Parameter{{ParameterKey: "Prefix", ParameterValue: strconv.Itoa(i)}},
			iotdm.StackStatusCreateInProgress)
		fake.complete(s, iotdm.StackStatusCreateComplete, "{}", s.stack.Parameters)
		fake.complete(s, iotdm.StackStatusUpdateComplete, "{}", s.stack.Parameters)
		fake.complete(s, iotdm.StackStatusUpdateComplete, "{}", s.stack.Parameters)
	}
	for i := range 3 {
		fake.changeSets = append(fake.changeSets, &fakeChangeSet{out: iotdm.DescribeChangeSetOutput{
			ChangeSetName: "cs-" + strconv.Itoa(i), ChangeSetId: fakeCFNARN + "changeSet/cs-" + strconv.Itoa(i),
			StackId: fake.stacks["stack-0"].stack.StackId, StackName: "stack-0", CreationTime: fakeCFNTime,
			Status: iotdm.ChangeSetStatusCreateComplete, ExecutionStatus: iotdm.ExecutionStatusAvailable,
		}})
	}
	srv := cfnEdge(t, fake)
	client := newCFNClient(srv.URL, testAKID, testSecret)
	ctx := context.Background()

	tests := []struct {
		name string
		op   string
		run  func() (int, error)
		want int
	}{
		{"DescribeStacks", "DescribeStacks", func() (int, error) {
			return drain[*cloudformation.DescribeStacksOutput](ctx, cloudformation.NewDescribeStacksPaginator(client, &cloudformation.DescribeStacksInput{}),
				func(o *cloudformation.DescribeStacksOutput) int { return len(o.Stacks) })
		}, 5},
		{"ListStacks", "ListStacks", func() (int, error) {
			return drain[*cloudformation.ListStacksOutput](ctx, cloudformation.NewListStacksPaginator(client,
				&cloudformation.ListStacksInput{StackStatusFilter: []types.StackStatus{types.StackStatusCreateComplete, types.StackStatusUpdateComplete}}),
				func(o *cloudformation.ListStacksOutput) int { return len(o.StackSummaries) })
		}, 5},
		{"DescribeStackEvents", "DescribeStackEvents", func() (int, error) {
			return drain[*cloudformation.DescribeStackEventsOutput](ctx, cloudformation.NewDescribeStackEventsPaginator(client,
				&cloudformation.DescribeStackEventsInput{StackName: aws.String("stack-1")}),
				func(o *cloudformation.DescribeStackEventsOutput) int { return len(o.StackEvents) })
		}, 3},
		{"ListStackResources", "ListStackResources", func() (int, error) {
			return drain[*cloudformation.ListStackResourcesOutput](ctx, cloudformation.NewListStackResourcesPaginator(client,
				&cloudformation.ListStackResourcesInput{StackName: aws.String("stack-2")}),
				func(o *cloudformation.ListStackResourcesOutput) int { return len(o.StackResourceSummaries) })
		}, 3},
		{"ListChangeSets", "ListChangeSets", func() (int, error) {
			return drain[*cloudformation.ListChangeSetsOutput](ctx, cloudformation.NewListChangeSetsPaginator(client,
				&cloudformation.ListChangeSetsInput{StackName: aws.String("stack-0")}),
				func(o *cloudformation.ListChangeSetsOutput) int { return len(o.Summaries) })
		}, 3},
		{"ListExports", "ListExports", func() (int, error) {
			return drain[*cloudformation.ListExportsOutput](ctx, cloudformation.NewListExportsPaginator(client, &cloudformation.ListExportsInput{}),
				func(o *cloudformation.ListExportsOutput) int { return len(o.Exports) })
		}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := tt.run()
			if err != nil {
				t.Fatal(err)
			}
			if n != tt.want {
				t.Errorf("%s paginator gave %d items, want %d", tt.name, n, tt.want)
			}
			// The last page was asked for with the token of the one before.
			last := fake.last(t, tt.op)
			token := reflect.ValueOf(last).Elem().FieldByName("NextToken").String()
			if wantToken := strconv.Itoa((tt.want - 1) / fake.pageSize * fake.pageSize); token != wantToken {
				t.Errorf("last page asked with NextToken %q, want %q", token, wantToken)
			}
		})
	}
}

// drain reads every page of p and counts the items.
func drain[Out any](ctx context.Context, p interface {
	HasMorePages() bool
	NextPage(context.Context, ...func(*cloudformation.Options)) (Out, error)
}, count func(Out) int) (int, error) {
	n := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return n, err
		}
		n += count(out)
	}
	return n, nil
}

func TestCloudFormationWithSDKSurfacesTypedErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		err    error
		op     string
		call   func(c *cloudformation.Client) error
		code   string
		status int
		typed  func(err error) bool
	}{
		{
			name: "ValidationError", err: iotdm.StackDoesNotExist("app"), code: "ValidationError", status: 400,
			call: func(c *cloudformation.Client) error {
				_, err := c.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("app")})
				return err
			},
		},
		{
			name: "AlreadyExistsException", err: iotdm.Errorf(iotdm.ErrAlreadyExists, "Stack [app] already exists"), code: "AlreadyExistsException", status: 400,
			call: func(c *cloudformation.Client) error {
				_, err := c.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("app")})
				return err
			},
			typed: func(err error) bool { var e *types.AlreadyExistsException; return errors.As(err, &e) },
		},
		{
			name: "LimitExceededException", err: iotdm.Errorf(iotdm.ErrLimitExceeded, "Limit on the number of stacks"), code: "LimitExceededException", status: 400,
			call: func(c *cloudformation.Client) error {
				_, err := c.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("app")})
				return err
			},
			typed: func(err error) bool { var e *types.LimitExceededException; return errors.As(err, &e) },
		},
		{
			name: "InsufficientCapabilitiesException", err: iotdm.Errorf(iotdm.ErrInsufficientCapabilities, "Requires capabilities : [CAPABILITY_IAM]"),
			code: "InsufficientCapabilitiesException", status: 400,
			call: func(c *cloudformation.Client) error {
				_, err := c.CreateChangeSet(ctx, &cloudformation.CreateChangeSetInput{StackName: aws.String("app"), ChangeSetName: aws.String("cs")})
				return err
			},
			typed: func(err error) bool { var e *types.InsufficientCapabilitiesException; return errors.As(err, &e) },
		},
		{
			name: "TokenAlreadyExistsException", err: iotdm.Errorf(iotdm.ErrTokenAlreadyExists, "token used"), code: "TokenAlreadyExistsException", status: 400,
			call: func(c *cloudformation.Client) error {
				_, err := c.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String("app")})
				return err
			},
			typed: func(err error) bool { var e *types.TokenAlreadyExistsException; return errors.As(err, &e) },
		},
		{
			name: "ChangeSetNotFoundException", err: iotdm.ChangeSetDoesNotExist("cs"), code: "ChangeSetNotFound", status: 404,
			call: func(c *cloudformation.Client) error {
				_, err := c.DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{ChangeSetName: aws.String("cs")})
				return err
			},
			typed: func(err error) bool { var e *types.ChangeSetNotFoundException; return errors.As(err, &e) },
		},
		{
			name: "InvalidChangeSetStatusException", err: iotdm.Errorf(iotdm.ErrInvalidChangeSetStatus, "cannot be executed"),
			code: "InvalidChangeSetStatus", status: 400,
			call: func(c *cloudformation.Client) error {
				_, err := c.ExecuteChangeSet(ctx, &cloudformation.ExecuteChangeSetInput{ChangeSetName: aws.String("cs")})
				return err
			},
			typed: func(err error) bool { var e *types.InvalidChangeSetStatusException; return errors.As(err, &e) },
		},
		{
			name: "StackSetNotFoundException", err: iotdm.Errorf(iotdm.ErrStackSetNotFound, "StackSet ss not found"), code: "StackSetNotFoundException", status: 404,
			call: func(c *cloudformation.Client) error {
				_, err := c.GetTemplateSummary(ctx, &cloudformation.GetTemplateSummaryInput{StackSetName: aws.String("ss")})
				return err
			},
			typed: func(err error) bool { var e *types.StackSetNotFoundException; return errors.As(err, &e) },
		},
		{
			name: "an iot code becomes CloudFormation's", err: iotdm.Errorf(iotdm.ErrResourceNotFound, "Stack with id app does not exist"),
			code: "ValidationError", status: 400,
			call: func(c *cloudformation.Client) error {
				_, err := c.ListStackResources(ctx, &cloudformation.ListStackResourcesInput{StackName: aws.String("app")})
				return err
			},
		},
		{
			name: "internal failure", err: errors.New("disk on fire"), code: "InternalFailure", status: 500,
			call: func(c *cloudformation.Client) error {
				_, err := c.ListExports(ctx, &cloudformation.ListExportsInput{})
				return err
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFakeStacks()
			fake.fail = func(string, any) error { return tt.err }
			err := tt.call(newCFNClient(cfnEdge(t, fake).URL, testAKID, testSecret))
			var ae smithy.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want a smithy.APIError", err)
			}
			var ie *iotdm.Error
			wantMsg := internalMessage
			if errors.As(tt.err, &ie) {
				wantMsg = ie.Message
			}
			if ae.ErrorCode() != tt.code || ae.ErrorMessage() != wantMsg {
				t.Errorf("error %s %q, want %s %q", ae.ErrorCode(), ae.ErrorMessage(), tt.code, wantMsg)
			}
			var re *smithyhttp.ResponseError
			if !errors.As(err, &re) || re.HTTPStatusCode() != tt.status {
				t.Errorf("err = %v, want HTTP status %d", err, tt.status)
			}
			if tt.typed != nil && !tt.typed(err) {
				t.Errorf("err = %T %v, want the SDK's modelled type", errors.Unwrap(err), err)
			}
		})
	}
}

func TestCloudFormationWithSDKAuthFailuresAreXML(t *testing.T) {
	srv := cfnEdge(t, newFakeStacks())
	tests := []struct {
		name, akid, secret, code string
		status                   int
	}{
		{"wrong secret", testAKID, "not-the-secret", "SignatureDoesNotMatch", http.StatusForbidden},
		{"unknown key", "AKIDUNKNOWN", testSecret, "InvalidClientTokenId", http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newCFNClient(srv.URL, tt.akid, tt.secret).ListStacks(context.Background(), &cloudformation.ListStacksInput{})
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != tt.code {
				t.Fatalf("err = %v, want %s", err, tt.code)
			}
			var re *smithyhttp.ResponseError
			if !errors.As(err, &re) || re.HTTPStatusCode() != tt.status {
				t.Errorf("err = %v, want HTTP status %d", err, tt.status)
			}
		})
	}
}

// TestCloudFormationWithSDKDeploySequence plays the calls of `aws
// cloudformation deploy` (awscli's Deployer) against the fake: a first
// deploy creates the stack through a CREATE change set, a second updates it
// through an UPDATE change set, a third finds no changes.
func TestCloudFormationWithSDKDeploySequence(t *testing.T) {
	fake := newFakeStacks()
	client := newCFNClient(cfnEdge(t, fake).URL, testAKID, testSecret)
	ctx := context.Background()
	const template = "Parameters:\n  Prefix: {Type: String}\nResources:\n  Thing: {Type: 'AWS::IoT::Thing'}\n"

	deploy := func(t *testing.T, prefix, changeSetName string) (changeSetType types.ChangeSetType, csErr error) {
		t.Helper()
		// Deployer.has_stack: a new stack is a ValidationError with this message.
		exists := true
		out, err := client.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("app")})
		var ae smithy.APIError
		switch {
		case errors.As(err, &ae) && ae.ErrorCode() == "ValidationError" && strings.Contains(ae.ErrorMessage(), "Stack with id app does not exist"):
			exists = false
		case err != nil:
			t.Fatalf("DescribeStacks: %v", err)
		default:
			exists = out.Stacks[0].StackStatus != types.StackStatusReviewInProgress
		}
		params := []types.Parameter{{ParameterKey: aws.String("Prefix"), ParameterValue: aws.String(prefix)}}
		changeSetType = types.ChangeSetTypeCreate
		if exists {
			changeSetType = types.ChangeSetTypeUpdate
			sum, err := client.GetTemplateSummary(ctx, &cloudformation.GetTemplateSummaryInput{StackName: aws.String("app")})
			if err != nil {
				t.Fatalf("GetTemplateSummary: %v", err)
			}
			if len(sum.Parameters) != 1 || aws.ToString(sum.Parameters[0].ParameterKey) != "Prefix" {
				t.Fatalf("GetTemplateSummary parameters %+v", sum.Parameters)
			}
		}
		cs, err := client.CreateChangeSet(ctx, &cloudformation.CreateChangeSetInput{
			StackName: aws.String("app"), ChangeSetName: aws.String(changeSetName),
			TemplateBody: aws.String(template), ChangeSetType: changeSetType, Parameters: params,
			Capabilities: []types.Capability{types.CapabilityCapabilityIam}, Description: aws.String("Created by AWS CLI"),
			Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("iot")}},
		})
		if err != nil {
			t.Fatalf("CreateChangeSet: %v", err)
		}
		if !strings.HasPrefix(aws.ToString(cs.Id), fakeCFNARN+"changeSet/") || !strings.Contains(aws.ToString(cs.StackId), ":stack/app/") {
			t.Errorf("CreateChangeSet ids %q %q", aws.ToString(cs.Id), aws.ToString(cs.StackId))
		}
		err = cloudformation.NewChangeSetCreateCompleteWaiter(client).Wait(ctx,
			&cloudformation.DescribeChangeSetInput{ChangeSetName: cs.Id, StackName: aws.String("app")}, time.Minute)
		if err != nil {
			return changeSetType, err
		}
		if _, err := client.ExecuteChangeSet(ctx, &cloudformation.ExecuteChangeSetInput{ChangeSetName: cs.Id,
			StackName: aws.String("app"), DisableRollback: aws.Bool(false)}); err != nil {
			t.Fatalf("ExecuteChangeSet: %v", err)
		}
		if changeSetType == types.ChangeSetTypeCreate {
			err = cloudformation.NewStackCreateCompleteWaiter(client).Wait(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("app")}, time.Minute)
		} else {
			err = cloudformation.NewStackUpdateCompleteWaiter(client).Wait(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("app")}, time.Minute)
		}
		if err != nil {
			t.Fatalf("wait for the stack: %v", err)
		}
		return changeSetType, nil
	}
	outputOf := func(t *testing.T) (types.StackStatus, string) {
		t.Helper()
		out, err := client.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("app")})
		if err != nil {
			t.Fatal(err)
		}
		s := out.Stacks[0]
		if len(s.Outputs) != 1 || len(s.Tags) != 1 || len(s.Capabilities) != 1 {
			t.Fatalf("stack %+v", s)
		}
		return s.StackStatus, aws.ToString(s.Outputs[0].OutputValue)
	}

	t.Run("first deploy creates", func(t *testing.T) {
		typ, err := deploy(t, "dev", "awscli-cloudformation-package-deploy-1")
		if err != nil || typ != types.ChangeSetTypeCreate {
			t.Fatalf("deploy = %s, %v, want CREATE", typ, err)
		}
		if st, v := outputOf(t); st != types.StackStatusCreateComplete || v != "dev-thing" {
			t.Errorf("stack %s output %q", st, v)
		}
		want := []string{"DescribeStacks", "CreateChangeSet", "DescribeChangeSet", "ExecuteChangeSet", "DescribeStacks", "DescribeStacks"}
		if diff := cmp.Diff(want, fake.ops()); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
	})
	t.Run("second deploy updates", func(t *testing.T) {
		typ, err := deploy(t, "prod", "awscli-cloudformation-package-deploy-2")
		if err != nil || typ != types.ChangeSetTypeUpdate {
			t.Fatalf("deploy = %s, %v, want UPDATE", typ, err)
		}
		if st, v := outputOf(t); st != types.StackStatusUpdateComplete || v != "prod-thing" {
			t.Errorf("stack %s output %q", st, v)
		}
		out, err := client.DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{
			ChangeSetName: aws.String("awscli-cloudformation-package-deploy-2"), StackName: aws.String("app")})
		if err != nil {
			t.Fatal(err)
		}
		if out.ExecutionStatus != types.ExecutionStatusExecuteComplete || len(out.Changes) != 1 {
			t.Fatalf("change set %+v", out)
		}
		rc := out.Changes[0].ResourceChange
		if rc.Action != types.ChangeActionModify || rc.Replacement != types.ReplacementFalse ||
			len(rc.Scope) != 1 || len(rc.Details) != 1 || rc.Details[0].Target.RequiresRecreation != types.RequiresRecreationAlways {
			t.Errorf("resource change %+v", rc)
		}
	})
	t.Run("third deploy finds no changes", func(t *testing.T) {
		_, err := deploy(t, "prod", "awscli-cloudformation-package-deploy-3")
		if err == nil {
			t.Fatal("the change set waiter succeeded on an empty change set")
		}
		// Deployer.wait_for_changeset reads the reason to tell "no changes".
		out, err := client.DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{
			ChangeSetName: aws.String("awscli-cloudformation-package-deploy-3"), StackName: aws.String("app")})
		if err != nil {
			t.Fatal(err)
		}
		if out.Status != types.ChangeSetStatusFailed || !strings.Contains(aws.ToString(out.StatusReason), "The submitted information didn't contain changes.") {
			t.Errorf("change set %s %q, want FAILED with no changes", out.Status, aws.ToString(out.StatusReason))
		}
		_, err = client.ExecuteChangeSet(ctx, &cloudformation.ExecuteChangeSetInput{ChangeSetName: out.ChangeSetId})
		var e *types.InvalidChangeSetStatusException
		if !errors.As(err, &e) {
			t.Errorf("ExecuteChangeSet of a failed change set = %v, want InvalidChangeSetStatusException", err)
		}
		list, err := client.ListChangeSets(ctx, &cloudformation.ListChangeSetsInput{StackName: aws.String("app")})
		if err != nil || len(list.Summaries) != 2 || aws.ToString(list.NextToken) == "" {
			t.Fatalf("ListChangeSets = %+v, %v, want a first page of 2", list, err)
		}
		if _, err := client.DeleteChangeSet(ctx, &cloudformation.DeleteChangeSetInput{ChangeSetName: out.ChangeSetId}); err != nil {
			t.Fatal(err)
		}
		if _, err := client.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String("app")}); err != nil {
			t.Fatal(err)
		}
		if _, err := client.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("app")}); err == nil {
			t.Error("the stack is still there after DeleteStack")
		}
	})
}
