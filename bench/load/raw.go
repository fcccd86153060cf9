package load

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// SigningName is the SigV4 service name of the AWS IoT control plane.
const SigningName = "iot"

// emptyPayloadHash is the hex SHA-256 of an empty body.
const emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// RawClient builds each call's HTTP request by hand, signs it with the
// SDK's v4 signer and sends it over a shared keep-alive transport: about the
// least work a SigV4 client can do. It is safe for concurrent use, and is
// its own Caller.
type RawClient struct {
	base      *url.URL
	http      *http.Client
	transport *http.Transport
	signer    *v4.Signer
	creds     aws.Credentials
	region    string
}

// NewRawClient returns a RawClient for cfg.
func NewRawClient(cfg ClientConfig) (*RawClient, error) {
	base, err := parseBase(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	hc, tr := newHTTPClient(cfg)
	return &RawClient{
		base:      base,
		http:      hc,
		transport: tr,
		signer:    v4.NewSigner(),
		creds:     aws.Credentials{AccessKeyID: cfg.AccessKeyID, SecretAccessKey: cfg.SecretKey, Source: "iotdm-bench"},
		region:    cfg.region(),
	}, nil
}

// Kind is KindRaw.
func (c *RawClient) Kind() Kind { return KindRaw }

// BaseURL returns the server's base URL.
func (c *RawClient) BaseURL() string { return c.base.String() }

// NewLoop returns c itself: the raw client keeps no per-loop state.
func (c *RawClient) NewLoop() Caller { return c }

// CloseIdle closes the transport's idle keep-alive connections.
func (c *RawClient) CloseIdle() { c.transport.CloseIdleConnections() }

// Do sends call as a signed HTTP request and reads the whole answer.
func (c *RawClient) Do(ctx context.Context, call Call) (Response, error) {
	r, err := call.Request()
	if err != nil {
		return Response{}, err
	}
	return c.send(ctx, r)
}

// send signs and sends r, reads the whole answer and returns its status. A
// non-nil error means no HTTP answer was received (or its body broke off).
func (c *RawClient) send(ctx context.Context, r Request) (Response, error) {
	req, err := c.build(ctx, r)
	if err != nil {
		return Response{}, err
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return Response{}, fmt.Errorf("%s %s: %w", r.Method, r.Path, err)
	}
	defer resp.Body.Close()
	out := Response{Status: resp.StatusCode}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		_, err = io.Copy(io.Discard, resp.Body)
	} else {
		out.Body, err = io.ReadAll(io.LimitReader(resp.Body, maxErrBody))
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
		}
	}
	out.Latency = time.Since(start)
	if err != nil {
		return out, fmt.Errorf("%s %s: read body: %w", r.Method, r.Path, err)
	}
	return out, nil
}

// build makes the http.Request for r and signs it, hashing the payload once.
func (c *RawClient) build(ctx context.Context, r Request) (*http.Request, error) {
	u := *c.base
	u.Path = c.base.Path + r.Path
	u.RawPath = c.base.Path + r.Path
	u.RawQuery = r.Query
	var body io.Reader
	payloadHash := emptyPayloadHash
	if len(r.Body) > 0 {
		sum := sha256.Sum256(r.Body)
		payloadHash = hex.EncodeToString(sum[:])
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("new request %s %s: %w", r.Method, r.Path, err)
	}
	if len(r.Body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	if err := c.signer.SignHTTP(ctx, c.creds, req, payloadHash, SigningName, c.region, time.Now()); err != nil {
		return nil, fmt.Errorf("sign %s %s: %w", r.Method, r.Path, err)
	}
	return req, nil
}
