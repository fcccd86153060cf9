package awsapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/iotdm/iotdm"
)

// iotEdge is an httptest server running Server + NewIoT over fake, with a
// clock the test can move, and the security routes recorded in fake too.
func iotEdge(t *testing.T, fake *fakeRegistry, now func() time.Time) *httptest.Server {
	t.Helper()
	s := New(Config{Keys: testKeys, Now: now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	sec := fakeSecurity{fake}
	routes := append(iotRoutes(fake), SecurityRoutes(sec, sec)...)
	s.Handle("iot", NewRestJSON(routes))
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv
}

// newIoTClient is a real aws-sdk-go-v2 IoT client for url, without retries.
func newIoTClient(url, akid, secret string) *iot.Client {
	return iot.New(iot.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider(akid, secret, ""),
		Retryer:      aws.NopRetryer{},
	})
}

func TestIoTWithSDKBindsRequests(t *testing.T) {
	fake := &fakeRegistry{}
	srv := iotEdge(t, fake, nil)
	client := newIoTClient(srv.URL, testAKID, testSecret)
	ctx := context.Background()
	const arn = "arn:aws:iot:us-east-1:123456789012:thing/dev:1"
	odd := "dev:1_a-b $aws/x%y+z"

	tests := []struct {
		name string
		call func() error
		op   string
		want any
	}{
		{
			name: "label with colon and odd characters arrives unescaped",
			call: func() error {
				out, err := client.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(odd)})
				if err == nil && aws.ToString(out.ThingName) != odd {
					t.Errorf("output thingName %q", aws.ToString(out.ThingName))
				}
				if err == nil && (out.Version != 3 || out.Attributes["color"] != "red") {
					t.Errorf("output %+v", out)
				}
				return err
			},
			op: "DescribeThing", want: &iotdm.DescribeThingInput{ThingName: odd},
		},
		{
			name: "label and JSON body",
			call: func() error {
				_, err := client.UpdateThing(ctx, &iot.UpdateThingInput{
					ThingName:        aws.String("dev:1"),
					AttributePayload: &types.AttributePayload{Attributes: map[string]string{"a": "b", "gone": ""}, Merge: true},
					ExpectedVersion:  aws.Int64(4),
					RemoveThingType:  true,
				})
				return err
			},
			op: "UpdateThing",
			want: &iotdm.UpdateThingInput{
				ThingName:        "dev:1",
				AttributePayload: &iotdm.AttributePayload{Attributes: map[string]string{"a": "b", "gone": ""}, Merge: true},
				ExpectedVersion:  ptr(int64(4)),
				RemoveThingType:  true,
			},
		},
		{
			name: "query members",
			call: func() error {
				out, err := client.ListThings(ctx, &iot.ListThingsInput{
					MaxResults: aws.Int32(25), NextToken: aws.String("tok/+= x"), AttributeName: aws.String("color"),
					AttributeValue: aws.String("red blue"), ThingTypeName: aws.String("t:1"), UsePrefixAttributeValue: true,
				})
				if err == nil && (len(out.Things) != 1 || aws.ToString(out.NextToken) != "next/+=") {
					t.Errorf("output %+v", out)
				}
				return err
			},
			op: "ListThings",
			want: &iotdm.ListThingsInput{NextToken: "tok/+= x", MaxResults: 25, AttributeName: "color",
				AttributeValue: "red blue", ThingTypeName: "t:1", UsePrefixAttributeValue: true},
		},
		{
			name: "optional integer in the query",
			call: func() error {
				_, err := client.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("dev:1"), ExpectedVersion: aws.Int64(7)})
				return err
			},
			op: "DeleteThing", want: &iotdm.DeleteThingInput{ThingName: "dev:1", ExpectedVersion: ptr(int64(7))},
		},
		{
			name: "optional false boolean in the query",
			call: func() error {
				_, err := client.ListThingGroups(ctx, &iot.ListThingGroupsInput{Recursive: aws.Bool(false), ParentGroup: aws.String("p:1")})
				return err
			},
			op: "ListThingGroups", want: &iotdm.ListThingGroupsInput{Recursive: ptr(false), ParentGroup: "p:1"},
		},
		{
			name: "label under a literal prefix, with query",
			call: func() error {
				out, err := client.ListThingsInThingGroup(ctx, &iot.ListThingsInThingGroupInput{
					ThingGroupName: aws.String("group:a"), Recursive: true, MaxResults: aws.Int32(10)})
				if err == nil && !cmp.Equal(out.Things, []string{"t1", "t2"}) {
					t.Errorf("things %v", out.Things)
				}
				return err
			},
			op: "ListThingsInThingGroup", want: &iotdm.ListThingsInThingGroupInput{ThingGroupName: "group:a", Recursive: true, MaxResults: 10},
		},
		{
			name: "literal route beside a label route",
			call: func() error {
				_, err := client.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{
					ThingGroupName: aws.String("g"), ThingArn: aws.String(arn), OverrideDynamicGroups: true})
				return err
			},
			op: "AddThingToThingGroup", want: &iotdm.AddThingToThingGroupInput{ThingGroupName: "g", ThingARN: arn, OverrideDynamicGroups: true},
		},
		{
			name: "group named like the literal",
			call: func() error {
				_, err := client.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String("addThingToThingGroup")})
				return err
			},
			op: "DescribeThingGroup", want: &iotdm.DescribeThingGroupInput{ThingGroupName: "addThingToThingGroup"},
		},
		{
			name: "ARN in the query",
			call: func() error {
				out, err := client.ListTagsForResource(ctx, &iot.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
				if err == nil && (len(out.Tags) != 1 || aws.ToString(out.Tags[0].Key) != "k") {
					t.Errorf("tags %+v", out.Tags)
				}
				return err
			},
			op: "ListTagsForResource", want: &iotdm.ListTagsForResourceInput{ResourceARN: arn},
		},
		{
			name: "same path, other method",
			call: func() error {
				_, err := client.TagResource(ctx, &iot.TagResourceInput{ResourceArn: aws.String(arn),
					Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
				return err
			},
			op: "TagResource", want: &iotdm.TagResourceInput{ResourceARN: arn, Tags: []iotdm.Tag{{Key: "k", Value: "v"}}},
		},
		{
			name: "timestamps decode",
			call: func() error {
				out, err := client.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String("tt")})
				if err == nil && !aws.ToTime(out.ThingTypeMetadata.CreationDate).Equal(fakeCreated.Time) {
					t.Errorf("creationDate %v, want %v", out.ThingTypeMetadata.CreationDate, fakeCreated.Time)
				}
				return err
			},
			op: "DescribeThingType", want: &iotdm.DescribeThingTypeInput{ThingTypeName: "tt"},
		},
		{
			name: "endpoint type",
			call: func() error {
				out, err := client.DescribeEndpoint(ctx, &iot.DescribeEndpointInput{EndpointType: aws.String("iot:Data-ATS")})
				if err == nil && aws.ToString(out.EndpointAddress) != "abc123-ats.iot.us-east-1.amazonaws.com" {
					t.Errorf("endpoint %q", aws.ToString(out.EndpointAddress))
				}
				return err
			},
			op: "DescribeEndpoint", want: &iotdm.DescribeEndpointInput{EndpointType: "iot:Data-ATS"},
		},
		{
			name: "header member",
			call: func() error {
				_, err := client.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{
					ThingName: aws.String("dev:1"), Principal: aws.String("arn:aws:iot:us-east-1:123456789012:cert/abc"),
					ThingPrincipalType: types.ThingPrincipalTypeExclusiveThing})
				return err
			},
			op: "AttachThingPrincipal",
			want: &iotdm.AttachThingPrincipalInput{ThingName: "dev:1", Principal: "arn:aws:iot:us-east-1:123456789012:cert/abc",
				ThingPrincipalType: "EXCLUSIVE_THING"},
		},
		{
			name: "percent-encoded ARN label",
			call: func() error {
				out, err := client.ListAttachedPolicies(ctx, &iot.ListAttachedPoliciesInput{
					Target: aws.String("arn:aws:iot:us-east-1:123456789012:cert/abc"), Recursive: true, PageSize: aws.Int32(5)})
				if err == nil && aws.ToString(out.NextMarker) != "bWFya2Vy" {
					t.Errorf("nextMarker %q", aws.ToString(out.NextMarker))
				}
				return err
			},
			op:   "ListAttachedPolicies",
			want: &iotdm.ListAttachedPoliciesInput{Target: "arn:aws:iot:us-east-1:123456789012:cert/abc", Recursive: true, PageSize: 5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err != nil {
				t.Fatalf("call: %v", err)
			}
			if diff := cmp.Diff(tt.want, fake.last(t, tt.op)); diff != "" {
				t.Errorf("input (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIoTWithSDKCarriesRequestID(t *testing.T) {
	srv := iotEdge(t, &fakeRegistry{}, nil)
	out, err := newIoTClient(srv.URL, testAKID, testSecret).ListThingTypes(context.Background(), &iot.ListThingTypesInput{})
	if err != nil {
		t.Fatal(err)
	}
	id, ok := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	if !ok {
		t.Fatal("SDK saw no request id")
	}
	if _, err := uuid.Parse(id); err != nil {
		t.Errorf("request id %q is not a UUID", id)
	}
}

func TestIoTWithSDKSurfacesTypedErrors(t *testing.T) {
	ctx := context.Background()
	createThing := func(c *iot.Client) error {
		_, err := c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("dev:1")})
		return err
	}
	tests := []struct {
		name   string
		err    error
		status int
		// call makes a call whose operation declares the error, so the
		// SDK maps it to its type.
		call  func(c *iot.Client) error
		check func(t *testing.T, err error)
	}{
		{
			name: "ResourceNotFoundException", err: iotdm.Errorf(iotdm.ErrResourceNotFound, "Thing dev:1 does not exist"), status: 404,
			check: func(t *testing.T, err error) {
				var e *types.ResourceNotFoundException
				if !errors.As(err, &e) || e.ErrorMessage() != "Thing dev:1 does not exist" {
					t.Errorf("err = %v, want *types.ResourceNotFoundException with the message", err)
				}
			},
		},
		{
			name: "ResourceAlreadyExistsException with resource members",
			err: fmt.Errorf("wrapped: %w", &iotdm.Error{Code: iotdm.ErrResourceAlreadyExists, Message: "Thing dev:1 already exists with different attributes",
				ResourceID: "thing-id", ResourceARN: "arn:aws:iot:us-east-1:123456789012:thing/dev:1"}),
			status: 409,
			check: func(t *testing.T, err error) {
				var e *types.ResourceAlreadyExistsException
				if !errors.As(err, &e) {
					t.Fatalf("err = %v, want *types.ResourceAlreadyExistsException", err)
				}
				if aws.ToString(e.ResourceId) != "thing-id" || aws.ToString(e.ResourceArn) != "arn:aws:iot:us-east-1:123456789012:thing/dev:1" {
					t.Errorf("resourceId %q resourceArn %q", aws.ToString(e.ResourceId), aws.ToString(e.ResourceArn))
				}
			},
		},
		{
			name: "VersionConflictException", err: iotdm.Errorf(iotdm.ErrVersionConflict, "version 3 != 4"), status: 409,
			call: func(c *iot.Client) error {
				_, err := c.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String("dev:1")})
				return err
			},
			check: func(t *testing.T, err error) {
				var e *types.VersionConflictException
				if !errors.As(err, &e) {
					t.Errorf("err = %v, want *types.VersionConflictException", err)
				}
			},
		},
		{
			name: "LimitExceededException", err: iotdm.Errorf(iotdm.ErrLimitExceeded, "too many"), status: 410,
			call: func(c *iot.Client) error {
				_, err := c.TagResource(ctx, &iot.TagResourceInput{ResourceArn: aws.String("arn"), Tags: []types.Tag{}})
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
			name: "InvalidRequestException", err: iotdm.Errorf(iotdm.ErrInvalidRequest, "bad"), status: 400,
			check: func(t *testing.T, err error) {
				var e *types.InvalidRequestException
				if !errors.As(err, &e) {
					t.Errorf("err = %v, want *types.InvalidRequestException", err)
				}
			},
		},
		{
			name: "foreign error as InternalFailureException", err: errors.New("disk on fire at /var/lib"), status: 500,
			check: func(t *testing.T, err error) {
				var e *types.InternalFailureException
				if !errors.As(err, &e) {
					t.Fatalf("err = %v, want *types.InternalFailureException", err)
				}
				if strings.Contains(e.ErrorMessage(), "disk") {
					t.Errorf("message leaks the cause: %q", e.ErrorMessage())
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeRegistry{fail: func(string, any) error { return tt.err }}
			srv := iotEdge(t, fake, nil)
			call := tt.call
			if call == nil {
				call = createThing
			}
			err := call(newIoTClient(srv.URL, testAKID, testSecret))
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

func TestIoTWithSDKAuthFailures(t *testing.T) {
	tests := []struct {
		name          string
		akid, secret  string
		serverSkew    time.Duration
		code          string
		messagePrefix string
	}{
		{name: "wrong secret", akid: testAKID, secret: "not-the-secret", code: "InvalidSignatureException",
			messagePrefix: "The request signature we calculated does not match the signature you provided."},
		{name: "unknown access key", akid: "AKIDNOBODY", secret: testSecret, code: "UnrecognizedClientException",
			messagePrefix: "The security token included in the request is invalid."},
		{name: "client clock 30 minutes slow", akid: testAKID, secret: testSecret, serverSkew: 30 * time.Minute,
			code: "InvalidSignatureException", messagePrefix: "Signature expired: "},
		{name: "client clock 30 minutes fast", akid: testAKID, secret: testSecret, serverSkew: -30 * time.Minute,
			code: "InvalidSignatureException", messagePrefix: "Signature not yet current: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeRegistry{}
			srv := iotEdge(t, fake, func() time.Time { return time.Now().Add(tt.serverSkew) })
			_, err := newIoTClient(srv.URL, tt.akid, tt.secret).DescribeThing(context.Background(),
				&iot.DescribeThingInput{ThingName: aws.String("dev:1")})
			var api smithy.APIError
			if !errors.As(err, &api) {
				t.Fatalf("err = %v, want a smithy.APIError", err)
			}
			if api.ErrorCode() != tt.code {
				t.Errorf("code = %q, want %q", api.ErrorCode(), tt.code)
			}
			if !strings.HasPrefix(api.ErrorMessage(), tt.messagePrefix) {
				t.Errorf("message = %q, want prefix %q", api.ErrorMessage(), tt.messagePrefix)
			}
			var re *awshttp.ResponseError
			if errors.As(err, &re) && re.HTTPStatusCode() != http.StatusForbidden {
				t.Errorf("status = %d, want 403", re.HTTPStatusCode())
			}
			fake.mu.Lock()
			defer fake.mu.Unlock()
			if len(fake.calls) != 0 {
				t.Errorf("registry called: %+v", fake.calls)
			}
		})
	}
}
