// Package load is the load generator behind bench/loadgen and bench/run: it
// sends SigV4-signed AWS IoT control-plane calls from N concurrent client
// loops and records the latency of every call. A call goes out through one
// of two client kinds: raw HTTP requests signed by hand (RawClient), or the
// AWS SDK for Go v2 IoT client (SDKClient).
package load

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Kind is a kind of client: how a call is sent.
type Kind string

// The client kinds.
const (
	KindRaw Kind = "raw" // HTTP requests built and signed by hand with the SDK's v4 signer
	KindSDK Kind = "sdk" // the AWS SDK for Go v2 IoT client (service/iot)
)

// Kinds returns every client kind.
func Kinds() []Kind { return []Kind{KindRaw, KindSDK} }

// ParseKind returns the kind named s.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds() {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("unknown client kind %q (want raw or sdk)", s)
}

// Label describes the kind in a few words, for reports.
func (k Kind) Label() string {
	switch k {
	case KindRaw:
		return "raw signed HTTP client"
	case KindSDK:
		return "AWS SDK for Go v2 client"
	}
	return string(k)
}

// Client is one client kind talking to one server. It is safe for
// concurrent use.
type Client interface {
	Kind() Kind
	BaseURL() string
	// NewLoop returns the caller one client loop sends its calls with. The
	// loops of one Client share its keep-alive connections.
	NewLoop() Caller
	// CloseIdle closes the idle keep-alive connections, so a slow server
	// does not time them out while another server is being measured.
	CloseIdle()
}

// Caller sends calls one at a time.
type Caller interface {
	// Do sends c and waits for the whole answer. A non-nil error means no
	// usable answer: none at all, a body that broke off, or (sdk) a 2xx
	// answer the SDK could not decode.
	Do(ctx context.Context, c Call) (Response, error)
}

// Response is the outcome of one call that the server answered.
type Response struct {
	Status  int
	Body    []byte        // for non-2xx answers only, truncated: the body (raw) or "ErrorCode: message" (sdk)
	Latency time.Duration // raw: from sending the signed request to the end of the body; sdk: the whole SDK call
}

// maxErrBody bounds how much of a non-2xx answer is kept for diagnosis.
const maxErrBody = 512

// ClientConfig describes a target server and the identity used to sign.
type ClientConfig struct {
	BaseURL     string // e.g. http://127.0.0.1:8080
	AccessKeyID string
	SecretKey   string
	Region      string // default us-east-1
	MaxConns    int    // idle connections kept per host; at least the client count
	Timeout     time.Duration
}

// NewClient returns a client of the given kind for cfg.
func NewClient(kind Kind, cfg ClientConfig) (Client, error) {
	switch kind {
	case KindRaw:
		return NewRawClient(cfg)
	case KindSDK:
		return NewSDKClient(cfg)
	}
	return nil, fmt.Errorf("unknown client kind %q", kind)
}

// parseBase checks and normalizes a base URL.
func parseBase(s string) (*url.URL, error) {
	base, err := url.Parse(strings.TrimRight(s, "/"))
	if err != nil {
		return nil, fmt.Errorf("parse base URL %q: %w", s, err)
	}
	if base.Scheme != "http" && base.Scheme != "https" {
		return nil, fmt.Errorf("base URL %q: scheme must be http or https", s)
	}
	return base, nil
}

func (cfg ClientConfig) region() string {
	if cfg.Region == "" {
		return "us-east-1"
	}
	return cfg.Region
}

// newHTTPClient returns the keep-alive HTTP client that every loop of one
// Client shares, and its transport.
func newHTTPClient(cfg ClientConfig) (*http.Client, *http.Transport) {
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
	return &http.Client{Transport: tr, Timeout: timeout}, tr
}
