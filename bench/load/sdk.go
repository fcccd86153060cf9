package load

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// SDKClient sends each call through the AWS SDK for Go v2 IoT client, as a
// Go program using AWS IoT does: every loop gets its own iot.Client, with
// static credentials, no retries and this SDKClient's shared keep-alive
// http.Client. It is safe for concurrent use.
type SDKClient struct {
	base      string
	opts      iot.Options
	transport *http.Transport
}

// NewSDKClient returns an SDKClient for cfg.
func NewSDKClient(cfg ClientConfig) (*SDKClient, error) {
	base, err := parseBase(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	hc, tr := newHTTPClient(cfg)
	return &SDKClient{
		base: base.String(),
		opts: iot.Options{
			Region:       cfg.region(),
			BaseEndpoint: aws.String(base.String()),
			Credentials:  credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretKey, ""),
			Retryer:      aws.NopRetryer{}, // one attempt per call: a failure is counted, not hidden
			HTTPClient:   hc,
		},
		transport: tr,
	}, nil
}

// Kind is KindSDK.
func (c *SDKClient) Kind() Kind { return KindSDK }

// BaseURL returns the server's base URL.
func (c *SDKClient) BaseURL() string { return c.base }

// NewLoop returns a caller with its own iot.Client.
func (c *SDKClient) NewLoop() Caller { return sdkLoop{iot.New(c.opts)} }

// CloseIdle closes the shared transport's idle keep-alive connections.
func (c *SDKClient) CloseIdle() { c.transport.CloseIdleConnections() }

// sdkLoop is the caller of one client loop.
type sdkLoop struct{ iot *iot.Client }

// createThingAttributes are the attributes of every CreateThing call (the
// same as createThingJSON); read-only.
var createThingAttributes = map[string]string{"firmware": "1.0.0", "location": "Building-A"}

// Do makes call's SDK call and times all of it: serializing, signing,
// sending, reading and decoding the answer.
func (l sdkLoop) Do(ctx context.Context, call Call) (Response, error) {
	start := time.Now()
	md, err := l.call(ctx, call)
	lat := time.Since(start)
	if err == nil {
		status := http.StatusOK // a nil error means a 2xx answer; take the exact one when known
		if raw, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok {
			status = raw.StatusCode
		}
		return Response{Status: status, Latency: lat}, nil
	}
	status := 0 // the SDK wraps even a transport error in a ResponseError, of status 0
	if re, ok := errors.AsType[*awshttp.ResponseError](err); ok {
		status = re.HTTPStatusCode()
	}
	switch {
	case status == 0:
		return Response{}, fmt.Errorf("%s: %w", call.Op, err) // no HTTP answer (or an invalid call)
	case status >= 200 && status < 300:
		return Response{}, fmt.Errorf("%s: HTTP %d answer the SDK could not use: %w", call.Op, status, err)
	}
	body := err.Error()
	if api, ok := errors.AsType[smithy.APIError](err); ok {
		body = api.ErrorCode() + ": " + api.ErrorMessage()
	}
	if len(body) > maxErrBody {
		body = body[:maxErrBody]
	}
	return Response{Status: status, Body: []byte(body), Latency: lat}, nil
}

// call makes the SDK call for c and returns its result metadata.
func (l sdkLoop) call(ctx context.Context, c Call) (middleware.Metadata, error) {
	switch c.Op {
	case OpCreateThing:
		out, err := l.iot.CreateThing(ctx, &iot.CreateThingInput{
			ThingName:        aws.String(c.Thing),
			AttributePayload: &types.AttributePayload{Attributes: createThingAttributes},
		})
		if err != nil {
			return middleware.Metadata{}, err
		}
		return out.ResultMetadata, nil
	case OpDescribeThing:
		out, err := l.iot.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(c.Thing)})
		if err != nil {
			return middleware.Metadata{}, err
		}
		return out.ResultMetadata, nil
	case OpListThings:
		out, err := l.iot.ListThings(ctx, &iot.ListThingsInput{MaxResults: aws.Int32(listThingsPage)})
		if err != nil {
			return middleware.Metadata{}, err
		}
		return out.ResultMetadata, nil
	case OpAddThingToThingGroup:
		out, err := l.iot.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{
			ThingGroupName: aws.String(c.Group), ThingName: aws.String(c.Thing),
		})
		if err != nil {
			return middleware.Metadata{}, err
		}
		return out.ResultMetadata, nil
	case OpCreateThingGroup:
		out, err := l.iot.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String(c.Group)})
		if err != nil {
			return middleware.Metadata{}, err
		}
		return out.ResultMetadata, nil
	}
	return middleware.Metadata{}, fmt.Errorf("unknown operation %q", c.Op)
}
