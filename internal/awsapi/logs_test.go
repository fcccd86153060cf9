package awsapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"
	"github.com/iotdm/iotdm"
)

// fakeLogs is an iotdm.LogGroups that records its calls (in rec) and
// answers with fixed outputs, or with the error rec.fail returns.
type fakeLogs struct {
	rec fakeRegistry
}

var _ iotdm.LogGroups = (*fakeLogs)(nil)

const fakeLogGroupArn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/iot/fleet"

func (f *fakeLogs) CreateLogGroup(ctx context.Context, in *iotdm.CreateLogGroupInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, f.rec.record("CreateLogGroup", in)
}

func (f *fakeLogs) DeleteLogGroup(ctx context.Context, in *iotdm.DeleteLogGroupInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, f.rec.record("DeleteLogGroup", in)
}

func (f *fakeLogs) DescribeLogGroups(ctx context.Context, in *iotdm.DescribeLogGroupsInput) (*iotdm.DescribeLogGroupsOutput, error) {
	if err := f.rec.record("DescribeLogGroups", in); err != nil {
		return nil, err
	}
	return &iotdm.DescribeLogGroupsOutput{
		LogGroups: []iotdm.LogGroup{{
			LogGroupName: "/aws/iot/fleet", CreationTime: 1772366400123, RetentionInDays: ptr(int32(14)),
			MetricFilterCount: ptr(int32(0)), Arn: fakeLogGroupArn + ":*", StoredBytes: ptr(int64(2048)),
			LogGroupClass: "STANDARD", LogGroupArn: fakeLogGroupArn, DeletionProtectionEnabled: ptr(false),
		}},
		NextToken: "next/+=",
	}, nil
}

func (f *fakeLogs) PutRetentionPolicy(ctx context.Context, in *iotdm.PutRetentionPolicyInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, f.rec.record("PutRetentionPolicy", in)
}

func (f *fakeLogs) DeleteRetentionPolicy(ctx context.Context, in *iotdm.DeleteRetentionPolicyInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, f.rec.record("DeleteRetentionPolicy", in)
}

func (f *fakeLogs) TagResource(ctx context.Context, in *iotdm.LogsTagResourceInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, f.rec.record("TagResource", in)
}

func (f *fakeLogs) UntagResource(ctx context.Context, in *iotdm.LogsUntagResourceInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, f.rec.record("UntagResource", in)
}

func (f *fakeLogs) ListTagsForResource(ctx context.Context, in *iotdm.LogsListTagsForResourceInput) (*iotdm.LogsListTagsForResourceOutput, error) {
	if err := f.rec.record("ListTagsForResource", in); err != nil {
		return nil, err
	}
	return &iotdm.LogsListTagsForResourceOutput{Tags: map[string]string{"team": "fleet"}}, nil
}

func (f *fakeLogs) TagLogGroup(ctx context.Context, in *iotdm.TagLogGroupInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, f.rec.record("TagLogGroup", in)
}

func (f *fakeLogs) UntagLogGroup(ctx context.Context, in *iotdm.UntagLogGroupInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, f.rec.record("UntagLogGroup", in)
}

func (f *fakeLogs) ListTagsLogGroup(ctx context.Context, in *iotdm.ListTagsLogGroupInput) (*iotdm.ListTagsLogGroupOutput, error) {
	if err := f.rec.record("ListTagsLogGroup", in); err != nil {
		return nil, err
	}
	return &iotdm.ListTagsLogGroupOutput{Tags: map[string]string{}}, nil
}

// logsEdge is an httptest server running Server + NewLogs over fake.
func logsEdge(t *testing.T, fake *fakeLogs, now func() time.Time) *httptest.Server {
	t.Helper()
	s := New(Config{Keys: testKeys, Now: now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	s.Handle("logs", NewLogs(fake))
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv
}

// newLogsClient is a real aws-sdk-go-v2 CloudWatch Logs client for url,
// without retries.
func newLogsClient(url, akid, secret string) *cloudwatchlogs.Client {
	return cloudwatchlogs.New(cloudwatchlogs.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider(akid, secret, ""),
		Retryer:      aws.NopRetryer{},
	})
}

func TestLogsWithSDKBindsRequests(t *testing.T) {
	fake := &fakeLogs{}
	client := newLogsClient(logsEdge(t, fake, nil).URL, testAKID, testSecret)
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
		op   string
		want any
	}{
		{
			name: "CreateLogGroup with every member",
			call: func() error {
				_, err := client.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{
					LogGroupName: aws.String("/aws/iot/fleet"), KmsKeyId: aws.String("arn:aws:kms:us-east-1:123456789012:key/k"),
					Tags: map[string]string{"team": "fleet"}, LogGroupClass: types.LogGroupClassInfrequentAccess,
					DeletionProtectionEnabled: aws.Bool(true)})
				return err
			},
			op: "CreateLogGroup",
			want: &iotdm.CreateLogGroupInput{LogGroupName: "/aws/iot/fleet", KmsKeyID: "arn:aws:kms:us-east-1:123456789012:key/k",
				Tags: map[string]string{"team": "fleet"}, LogGroupClass: "INFREQUENT_ACCESS", DeletionProtectionEnabled: true},
		},
		{
			name: "DeleteLogGroup",
			call: func() error {
				_, err := client.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: aws.String("/aws/iot/fleet")})
				return err
			},
			op: "DeleteLogGroup", want: &iotdm.DeleteLogGroupInput{LogGroupName: "/aws/iot/fleet"},
		},
		{
			name: "DescribeLogGroups decodes every output member",
			call: func() error {
				out, err := client.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{
					LogGroupNamePrefix: aws.String("/aws/"), Limit: aws.Int32(5), NextToken: aws.String("tok/+= x"),
					LogGroupClass: types.LogGroupClassStandard, IncludeLinkedAccounts: aws.Bool(true),
					AccountIdentifiers: []string{"123456789012"}})
				if err != nil {
					return err
				}
				want := types.LogGroup{
					LogGroupName: aws.String("/aws/iot/fleet"), CreationTime: aws.Int64(1772366400123), RetentionInDays: aws.Int32(14),
					MetricFilterCount: aws.Int32(0), Arn: aws.String(fakeLogGroupArn + ":*"), StoredBytes: aws.Int64(2048),
					LogGroupClass: types.LogGroupClassStandard, LogGroupArn: aws.String(fakeLogGroupArn), DeletionProtectionEnabled: aws.Bool(false),
				}
				if len(out.LogGroups) != 1 || aws.ToString(out.NextToken) != "next/+=" {
					t.Fatalf("output %+v", out)
				}
				if diff := cmp.Diff(want, out.LogGroups[0], cmpopts.IgnoreUnexported(types.LogGroup{})); diff != "" {
					t.Errorf("log group (-want +got):\n%s", diff)
				}
				return nil
			},
			op: "DescribeLogGroups",
			want: &iotdm.DescribeLogGroupsInput{LogGroupNamePrefix: "/aws/", Limit: ptr(int32(5)), NextToken: "tok/+= x",
				LogGroupClass: "STANDARD", IncludeLinkedAccounts: true, AccountIdentifiers: []string{"123456789012"}},
		},
		{
			name: "DescribeLogGroups by pattern and identifiers",
			call: func() error {
				_, err := client.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{
					LogGroupNamePattern: aws.String("fleet"), LogGroupIdentifiers: []string{"a", fakeLogGroupArn}})
				return err
			},
			op:   "DescribeLogGroups",
			want: &iotdm.DescribeLogGroupsInput{LogGroupNamePattern: "fleet", LogGroupIdentifiers: []string{"a", fakeLogGroupArn}},
		},
		{
			name: "PutRetentionPolicy",
			call: func() error {
				_, err := client.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: aws.String("g"), RetentionInDays: aws.Int32(30)})
				return err
			},
			op: "PutRetentionPolicy", want: &iotdm.PutRetentionPolicyInput{LogGroupName: "g", RetentionInDays: ptr(int32(30))},
		},
		{
			name: "DeleteRetentionPolicy",
			call: func() error {
				_, err := client.DeleteRetentionPolicy(ctx, &cloudwatchlogs.DeleteRetentionPolicyInput{LogGroupName: aws.String("g")})
				return err
			},
			op: "DeleteRetentionPolicy", want: &iotdm.DeleteRetentionPolicyInput{LogGroupName: "g"},
		},
		{
			name: "TagResource",
			call: func() error {
				_, err := client.TagResource(ctx, &cloudwatchlogs.TagResourceInput{ResourceArn: aws.String(fakeLogGroupArn), Tags: map[string]string{"a": "1", "b": ""}})
				return err
			},
			op: "TagResource", want: &iotdm.LogsTagResourceInput{ResourceArn: fakeLogGroupArn, Tags: map[string]string{"a": "1", "b": ""}},
		},
		{
			name: "UntagResource",
			call: func() error {
				_, err := client.UntagResource(ctx, &cloudwatchlogs.UntagResourceInput{ResourceArn: aws.String(fakeLogGroupArn), TagKeys: []string{"a"}})
				return err
			},
			op: "UntagResource", want: &iotdm.LogsUntagResourceInput{ResourceArn: fakeLogGroupArn, TagKeys: []string{"a"}},
		},
		{
			name: "ListTagsForResource",
			call: func() error {
				out, err := client.ListTagsForResource(ctx, &cloudwatchlogs.ListTagsForResourceInput{ResourceArn: aws.String(fakeLogGroupArn)})
				if err == nil && !cmp.Equal(out.Tags, map[string]string{"team": "fleet"}) {
					t.Errorf("tags %v", out.Tags)
				}
				return err
			},
			op: "ListTagsForResource", want: &iotdm.LogsListTagsForResourceInput{ResourceArn: fakeLogGroupArn},
		},
		{
			name: "TagLogGroup",
			call: func() error {
				//nolint:staticcheck // the deprecated operation is part of the contract
				_, err := client.TagLogGroup(ctx, &cloudwatchlogs.TagLogGroupInput{LogGroupName: aws.String("g"), Tags: map[string]string{"k": "v"}})
				return err
			},
			op: "TagLogGroup", want: &iotdm.TagLogGroupInput{LogGroupName: "g", Tags: map[string]string{"k": "v"}},
		},
		{
			name: "UntagLogGroup",
			call: func() error {
				//nolint:staticcheck // the deprecated operation is part of the contract
				_, err := client.UntagLogGroup(ctx, &cloudwatchlogs.UntagLogGroupInput{LogGroupName: aws.String("g"), Tags: []string{"k"}})
				return err
			},
			op: "UntagLogGroup", want: &iotdm.UntagLogGroupInput{LogGroupName: "g", Tags: []string{"k"}},
		},
		{
			name: "ListTagsLogGroup",
			call: func() error {
				//nolint:staticcheck // the deprecated operation is part of the contract
				out, err := client.ListTagsLogGroup(ctx, &cloudwatchlogs.ListTagsLogGroupInput{LogGroupName: aws.String("g")})
				if err == nil && (out.Tags == nil || len(out.Tags) != 0) {
					t.Errorf("tags %#v, want an empty map", out.Tags)
				}
				return err
			},
			op: "ListTagsLogGroup", want: &iotdm.ListTagsLogGroupInput{LogGroupName: "g"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err != nil {
				t.Fatalf("call: %v", err)
			}
			if diff := cmp.Diff(tt.want, fake.rec.last(t, tt.op)); diff != "" {
				t.Errorf("input (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLogsWithSDKSurfacesTypedErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		err    error
		status int
		call   func(c *cloudwatchlogs.Client) error
		check  func(t *testing.T, err error)
	}{
		{
			name: "ResourceNotFoundException is a 400", err: iotdm.Errorf(iotdm.ErrResourceNotFound, "The specified log group does not exist."), status: 400,
			check: func(t *testing.T, err error) {
				var e *types.ResourceNotFoundException
				if !errors.As(err, &e) || e.ErrorMessage() != "The specified log group does not exist." {
					t.Errorf("err = %v, want *types.ResourceNotFoundException with the message", err)
				}
			},
		},
		{
			name: "ResourceAlreadyExistsException", err: iotdm.Errorf(iotdm.ErrResourceAlreadyExists, "The specified log group already exists"), status: 400,
			call: func(c *cloudwatchlogs.Client) error {
				_, err := c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("g")})
				return err
			},
			check: func(t *testing.T, err error) {
				var e *types.ResourceAlreadyExistsException
				if !errors.As(err, &e) {
					t.Errorf("err = %v, want *types.ResourceAlreadyExistsException", err)
				}
			},
		},
		{
			name: "InvalidParameterException", err: fmt.Errorf("wrapped: %w", iotdm.Errorf(iotdm.ErrInvalidParameter, "bad")), status: 400,
			check: func(t *testing.T, err error) {
				var e *types.InvalidParameterException
				if !errors.As(err, &e) || e.ErrorMessage() != "bad" {
					t.Errorf("err = %v, want *types.InvalidParameterException", err)
				}
			},
		},
		{
			name: "TooManyTagsException", err: iotdm.Errorf(iotdm.ErrTooManyTags, "A resource can have no more than 50 tags."), status: 400,
			call: func(c *cloudwatchlogs.Client) error {
				_, err := c.TagResource(ctx, &cloudwatchlogs.TagResourceInput{ResourceArn: aws.String(fakeLogGroupArn), Tags: map[string]string{"a": "b"}})
				return err
			},
			check: func(t *testing.T, err error) {
				var e *types.TooManyTagsException
				if !errors.As(err, &e) {
					t.Errorf("err = %v, want *types.TooManyTagsException", err)
				}
			},
		},
		{
			name: "LimitExceededException", err: iotdm.Errorf(iotdm.ErrLimitExceeded, "too many"), status: 400,
			call: func(c *cloudwatchlogs.Client) error {
				_, err := c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("g")})
				return err
			},
			check: func(t *testing.T, err error) {
				var e *types.LimitExceededException
				if !errors.As(err, &e) {
					t.Errorf("err = %v, want *types.LimitExceededException", err)
				}
			},
		},
		{
			name: "ValidationException", err: iotdm.Errorf(iotdm.ErrValidation, "protected"), status: 400,
			check: func(t *testing.T, err error) {
				var e *types.ValidationException
				if !errors.As(err, &e) {
					t.Errorf("err = %v, want *types.ValidationException", err)
				}
			},
		},
		{
			name: "foreign error as ServiceUnavailableException", err: errors.New("disk on fire at /var/lib"), status: 500,
			check: func(t *testing.T, err error) {
				var e *types.ServiceUnavailableException
				if !errors.As(err, &e) {
					t.Fatalf("err = %v, want *types.ServiceUnavailableException", err)
				}
				if strings.Contains(e.ErrorMessage(), "disk") {
					t.Errorf("message leaks the cause: %q", e.ErrorMessage())
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeLogs{rec: fakeRegistry{fail: func(string, any) error { return tt.err }}}
			client := newLogsClient(logsEdge(t, fake, nil).URL, testAKID, testSecret)
			call := tt.call
			if call == nil {
				call = func(c *cloudwatchlogs.Client) error {
					_, err := c.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: aws.String("g")})
					return err
				}
			}
			err := call(client)
			if err == nil {
				t.Fatal("no error")
			}
			tt.check(t, err)
			var re *awshttp.ResponseError
			if !errors.As(err, &re) {
				t.Fatalf("err %v carries no response", err)
			}
			if re.HTTPStatusCode() != tt.status {
				t.Errorf("status = %d, want %d", re.HTTPStatusCode(), tt.status)
			}
			if _, err := uuid.Parse(re.ServiceRequestID()); err != nil {
				t.Errorf("request id %q", re.ServiceRequestID())
			}
		})
	}
}

func TestLogsWithSDKAuthFailures(t *testing.T) {
	tests := []struct {
		name          string
		akid, secret  string
		code          string
		messagePrefix string
	}{
		{name: "wrong secret", akid: testAKID, secret: "not-the-secret", code: "InvalidSignatureException",
			messagePrefix: "The request signature we calculated does not match the signature you provided."},
		{name: "unknown access key", akid: "AKIDNOBODY", secret: testSecret, code: "UnrecognizedClientException",
			messagePrefix: "The security token included in the request is invalid."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeLogs{}
			_, err := newLogsClient(logsEdge(t, fake, nil).URL, tt.akid, tt.secret).DescribeLogGroups(context.Background(),
				&cloudwatchlogs.DescribeLogGroupsInput{})
			var api smithy.APIError
			if !errors.As(err, &api) {
				t.Fatalf("err = %v, want a smithy.APIError", err)
			}
			if api.ErrorCode() != tt.code || !strings.HasPrefix(api.ErrorMessage(), tt.messagePrefix) {
				t.Errorf("error = %s %q, want %s %q...", api.ErrorCode(), api.ErrorMessage(), tt.code, tt.messagePrefix)
			}
			var re *awshttp.ResponseError
			if errors.As(err, &re) && re.HTTPStatusCode() != http.StatusBadRequest {
				t.Errorf("status = %d, want 400", re.HTTPStatusCode())
			}
			if len(fake.rec.calls) != 0 {
				t.Errorf("service called: %+v", fake.rec.calls)
			}
		})
	}
}

// TestLogsProtocolRefusals posts raw requests to the handler: what the SDK
// never sends but other clients may.
func TestLogsProtocolRefusals(t *testing.T) {
	h := NewLogs(&fakeLogs{})
	tests := []struct {
		name, method, target, body string
		code                       string
	}{
		{"unknown operation", "POST", "Logs_20140328.PutLogEventz", `{}`, "UnknownOperationException"},
		{"other service's target", "POST", "GraniteServiceVersion20100801.PutDashboard", `{}`, "UnknownOperationException"},
		{"no target", "POST", "", `{}`, "UnknownOperationException"},
		{"GET", "GET", "Logs_20140328.DescribeLogGroups", ``, "UnknownOperationException"},
		{"malformed JSON", "POST", "Logs_20140328.CreateLogGroup", `{"logGroupName":`, "SerializationException"},
		{"wrong member type", "POST", "Logs_20140328.DescribeLogGroups", `{"limit":"five"}`, "SerializationException"},
		{"body not an object", "POST", "Logs_20140328.DescribeLogGroups", `[]`, "SerializationException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/", strings.NewReader(tt.body))
			if tt.target != "" {
				r.Header.Set("X-Amz-Target", tt.target)
			}
			r.Header.Set("Content-Type", "application/x-amz-json-1.1")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			var body struct {
				Type    string `json:"__type"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", w.Body, err)
			}
			if w.Code != http.StatusBadRequest || body.Type != tt.code || body.Message == "" {
				t.Errorf("answer %d %+v, want 400 %s with a message", w.Code, body, tt.code)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/x-amz-json-1.1" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}

	t.Run("empty body is an empty input", func(t *testing.T) {
		fake := &fakeLogs{}
		r := httptest.NewRequest("POST", "/", nil)
		r.Header.Set("X-Amz-Target", "Logs_20140328.DescribeLogGroups")
		w := httptest.NewRecorder()
		NewLogs(fake).ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		if diff := cmp.Diff(&iotdm.DescribeLogGroupsInput{}, fake.rec.last(t, "DescribeLogGroups")); diff != "" {
			t.Errorf("input (-want +got):\n%s", diff)
		}
	})
	t.Run("operation without output answers {}", func(t *testing.T) {
		r := httptest.NewRequest("POST", "/", strings.NewReader(`{"logGroupName":"g"}`))
		r.Header.Set("X-Amz-Target", "Logs_20140328.DeleteLogGroup")
		w := httptest.NewRecorder()
		NewLogs(&fakeLogs{}).ServeHTTP(w, r)
		if w.Code != http.StatusOK || !bytes.Equal(w.Body.Bytes(), []byte("{}")) || w.Header().Get("Content-Type") != "application/x-amz-json-1.1" {
			t.Errorf("answer %d %q %q", w.Code, w.Body, w.Header().Get("Content-Type"))
		}
	})
}

func TestLogsOpsCoverLogGroups(t *testing.T) {
	svc := reflect.TypeFor[iotdm.LogGroups]()
	ops := NewJSONRPC(logsTargetPrefix, "1.1", logsOps(&fakeLogs{})).Ops()
	names := map[string]bool{}
	for _, op := range ops {
		names[op.Name] = true
	}
	for i := range svc.NumMethod() {
		if name := svc.Method(i).Name; !names[name] {
			t.Errorf("%s.%s has no operation", svc.Name(), name)
		}
	}
	if len(ops) != svc.NumMethod() {
		t.Errorf("%d operations for %d methods", len(ops), svc.NumMethod())
	}
}

// TestLogsOpsMatchModel checks every operation against the botocore logs
// model: the protocol and target prefix, and that the JSON member names of
// input and output agree with the model's members.
func TestLogsOpsMatchModel(t *testing.T) {
	const version = "2014-03-28"
	m := loadModel(t, "logs", version)
	meta := loadModelMetadata(t, "logs", version)
	if m.Metadata.Protocol != "json" || meta.TargetPrefix != logsTargetPrefix || meta.JSONVersion != "1.1" || meta.EndpointPrefix != "logs" {
		t.Fatalf("model metadata %+v %+v", m.Metadata, meta)
	}
	for _, op := range logsOps(&fakeLogs{}) {
		t.Run(op.Name, func(t *testing.T) {
			mop, ok := m.Operations[op.Name]
			if !ok {
				t.Fatalf("no operation %s in the model", op.Name)
			}
			if mop.HTTP.Method != "POST" || mop.HTTP.RequestURI != "/" {
				t.Errorf("model says %s %s", mop.HTTP.Method, mop.HTTP.RequestURI)
			}
			checkBody(t, m, op.Input, mop.Input.Shape, op.Input.Name())
			if op.Output == reflect.TypeFor[iotdm.Empty]() {
				if mop.Output != nil && len(m.Shapes[mop.Output.Shape].Members) > 0 {
					t.Errorf("%s returns Empty but the model's %s has members", op.Name, mop.Output.Shape)
				}
				return
			}
			if mop.Output == nil {
				t.Fatalf("%s returns %v but the model has no output", op.Name, op.Output)
			}
			checkBody(t, m, op.Output, mop.Output.Shape, op.Output.Name())
		})
	}
}

// TestLogsStatusesMatchModel holds the JSON status rule to the logs model:
// it declares no status for any exception, so each is a 400.
func TestLogsStatusesMatchModel(t *testing.T) {
	m := loadModel(t, "logs", "2014-03-28")
	h := NewJSONRPC(logsTargetPrefix, "1.1", nil)
	n := 0
	for name, s := range m.Shapes {
		if !s.Exception {
			continue
		}
		n++
		want := s.Error.HTTPStatusCode
		if want == 0 {
			want = http.StatusBadRequest
		}
		if name == string(iotdm.ErrServiceUnavailable) || name == "InternalServerException" {
			continue // failures of ours: 5xx whatever the model says
		}
		w := httptest.NewRecorder()
		h.WriteError(w, httptest.NewRequest("POST", "/", nil), iotdm.Errorf(iotdm.ErrorCode(name), "m"))
		if w.Code != want {
			t.Errorf("%s: status %d, model says %d", name, w.Code, want)
		}
	}
	if n == 0 {
		t.Fatal("model declares no exceptions")
	}
}

// modelMetadata is the part of a model's metadata the JSON protocols need.
type modelMetadata struct {
	EndpointPrefix string `json:"endpointPrefix"`
	JSONVersion    string `json:"jsonVersion"`
	TargetPrefix   string `json:"targetPrefix"`
}

func loadModelMetadata(t *testing.T, service, version string) modelMetadata {
	t.Helper()
	dir, err := botocoreDir()
	if err != nil || dir == "" {
		t.Fatalf("botocore is required (pip install botocore): %v", err)
	}
	f, err := os.Open(filepath.Join(dir, "data", service, version, "service-2.json.gz"))
	if err != nil {
		t.Fatalf("open %s model: %v", service, err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Metadata modelMetadata `json:"metadata"`
	}
	if err := json.NewDecoder(zr).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m.Metadata
}

// TestLogsWithAWSCLI drives the adapter with the stock aws CLI (botocore),
// pointed at the edge through AWS_ENDPOINT_URL.
func TestLogsWithAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the aws CLI several times (about a second each)")
	}
	fake := &fakeLogs{rec: fakeRegistry{fail: func(op string, in any) error {
		if d, ok := in.(*iotdm.DeleteLogGroupInput); ok && d.LogGroupName == "missing" {
			return iotdm.Errorf(iotdm.ErrResourceNotFound, "The specified log group does not exist.")
		}
		return nil
	}}}
	srv := logsEdge(t, fake, nil)
	cli, env := awsCLI(t, srv.URL, testAKID, testSecret)
	run := func(t *testing.T, args ...string) (stdout, stderr string, err error) {
		return runAWS(cli, env, append([]string{"logs"}, args...)...)
	}

	t.Run("create-log-group", func(t *testing.T) {
		_, stderr, err := run(t, "create-log-group", "--log-group-name", "/aws/iot/device-management", "--tags", "team=fleet,env=dev")
		if err != nil {
			t.Fatalf("%v: %s", err, stderr)
		}
		want := &iotdm.CreateLogGroupInput{LogGroupName: "/aws/iot/device-management", Tags: map[string]string{"team": "fleet", "env": "dev"}}
		if diff := cmp.Diff(want, fake.rec.last(t, "CreateLogGroup")); diff != "" {
			t.Errorf("input (-want +got):\n%s", diff)
		}
	})
	t.Run("describe-log-groups", func(t *testing.T) {
		out, stderr, err := run(t, "describe-log-groups", "--log-group-name-prefix", "/aws/iot/device-management", "--no-paginate")
		if err != nil {
			t.Fatalf("%v: %s", err, stderr)
		}
		var got struct {
			LogGroups []struct {
				LogGroupName    string `json:"logGroupName"`
				CreationTime    int64  `json:"creationTime"`
				RetentionInDays int32  `json:"retentionInDays"`
				Arn             string `json:"arn"`
			} `json:"logGroups"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil || len(got.LogGroups) != 1 ||
			got.LogGroups[0].CreationTime != 1772366400123 || got.LogGroups[0].RetentionInDays != 14 || got.LogGroups[0].Arn != fakeLogGroupArn+":*" {
			t.Errorf("output %s (%v)", out, err)
		}
		want := &iotdm.DescribeLogGroupsInput{LogGroupNamePrefix: "/aws/iot/device-management"}
		if diff := cmp.Diff(want, fake.rec.last(t, "DescribeLogGroups")); diff != "" {
			t.Errorf("input (-want +got):\n%s", diff)
		}
	})
	t.Run("put-retention-policy", func(t *testing.T) {
		_, stderr, err := run(t, "put-retention-policy", "--log-group-name", "g", "--retention-in-days", "365")
		if err != nil {
			t.Fatalf("%v: %s", err, stderr)
		}
		if diff := cmp.Diff(&iotdm.PutRetentionPolicyInput{LogGroupName: "g", RetentionInDays: ptr(int32(365))}, fake.rec.last(t, "PutRetentionPolicy")); diff != "" {
			t.Errorf("input (-want +got):\n%s", diff)
		}
	})
	t.Run("service error", func(t *testing.T) {
		_, stderr, err := run(t, "delete-log-group", "--log-group-name", "missing")
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Fatalf("err = %v, want a failed exit", err)
		}
		const want = "An error occurred (ResourceNotFoundException) when calling the DeleteLogGroup operation: The specified log group does not exist."
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q lacks %q", stderr, want)
		}
	})
}
