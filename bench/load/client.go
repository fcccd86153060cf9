// Package load is the load generator behind bench/loadgen and bench/run: it
// sends SigV4-signed AWS IoT control-plane requests from N concurrent
// clients and records the latency of every request.
package load

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// SigningName is the SigV4 service name of the AWS IoT control plane.
const SigningName = "iot"

// emptyPayloadHash is the hex SHA-256 of an empty body.
const emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// Request is one API call, before signing.
type Request struct {
	Method string
	Path   string // already escaped, e.g. /things/t-1
	Query  string // raw query without '?', e.g. maxResults=50
	Body   []byte // nil for none
}

// ClientConfig describes a target server and the identity used to sign.
type ClientConfig struct {
	BaseURL     string // e.g. http://127.0.0.1:8080
	AccessKeyID string
	SecretKey   string
	Region      string // default us-east-1
	MaxConns    int    // idle connections kept per host; at least the client count
	Timeout     time.Duration
}

// Client sends signed requests to one server over a shared keep-alive
// transport. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	http      *http.Client
	transport *http.Transport
	signer    *v4.Signer
	creds     aws.Credentials
	region    string
}

// NewClient returns a Client for cfg.
func NewClient(cfg ClientConfig) (*Client, error) {
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("parse base URL %q: %w", cfg.BaseURL, err)
	}
	if base.Scheme != "http" && base.Scheme != "https" {
		return nil, fmt.Errorf("base URL %q: scheme must be http or https", cfg.BaseURL)
	}
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	conns := max(cfg.MaxConns, 16)
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	tr := &http.Transport{
		Proxy:               nil, // loopback only, never through a proxy
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &Client{
		base:      base,
		http:      &http.Client{Transport: tr, Timeout: timeout},
		transport: tr,
		signer:    v4.NewSigner(),
		creds:     aws.Credentials{AccessKeyID: cfg.AccessKeyID, SecretAccessKey: cfg.SecretKey, Source: "iotdm-bench"},
		region:    region,
	}, nil
}

// BaseURL returns the server's base URL.
func (c *Client) BaseURL() string { return c.base.String() }

// CloseIdle closes the transport's idle keep-alive connections, so a slow
// server does not time them out while another server is being measured.
func (c *Client) CloseIdle() { c.transport.CloseIdleConnections() }

// Response is the outcome of one request that reached the server.
type Response struct {
	Status  int
	Body    []byte        // kept only for non-2xx answers, truncated
	Latency time.Duration // from sending the signed request to the end of the body
}

// maxErrBody bounds how much of a non-2xx body is kept for diagnosis.
const maxErrBody = 512

// Do signs and sends r, reads the whole answer and returns its status. A
// non-nil error means no HTTP answer was received (or its body broke off).
func (c *Client) Do(ctx context.Context, r Request) (Response, error) {
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
func (c *Client) build(ctx context.Context, r Request) (*http.Request, error) {
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
