package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// client is a SigV4 raw client, as bench/load's raw client, but returning
// the answer's body (bench/load discards 2xx bodies and only knows its own
// operations).
type client struct {
	base   string
	http   *http.Client
	signer *v4.Signer
	creds  aws.Credentials
}

func newClient(base, accessKey, secretKey string, conns int) *client {
	tr := &http.Transport{
		Proxy:               nil, // loopback only
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &client{base: base, http: &http.Client{Transport: tr, Timeout: 60 * time.Second}, signer: v4.NewSigner(),
		creds: aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey, Source: "iotdm-bench"}}
}

// do signs (for signing name service) and sends one request; latency is
// from sending to the end of the body, signing excluded.
func (c *client) do(ctx context.Context, service, method, path string, body []byte) (int, []byte, time.Duration, error) {
	var rd io.Reader
	sum := sha256.Sum256(body)
	if len(body) > 0 {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, 0, err
	}
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	if err := c.signer.SignHTTP(ctx, c.creds, req, hex.EncodeToString(sum[:]), service, region, time.Now()); err != nil {
		return 0, nil, 0, err
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	lat := time.Since(start)
	if err != nil {
		return resp.StatusCode, nil, lat, err
	}
	return resp.StatusCode, b, lat, nil
}

// ok is do, with a non-2xx answer as an error.
func (c *client) ok(ctx context.Context, service, method, path string, body []byte) ([]byte, time.Duration, error) {
	code, b, lat, err := c.do(ctx, service, method, path, body)
	if err != nil {
		return nil, lat, err
	}
	if code/100 != 2 {
		if len(b) > 300 {
			b = b[:300]
		}
		return b, lat, fmt.Errorf("%s %s: HTTP %d: %s", method, path, code, b)
	}
	return b, lat, nil
}
