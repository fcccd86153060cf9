package awsapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/google/go-cmp/cmp"
	"github.com/iotdm/iotdm"
)

const (
	testAKID   = "AKIDEXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
)

func testKeys(akid string) (string, bool) {
	if akid == testAKID {
		return testSecret, true
	}
	return "", false
}

// verifyServer runs v behind a real HTTP server, so requests arrive exactly
// as a client put them on the wire, and returns what Verify said of each.
type verifyServer struct {
	*httptest.Server
	mu   sync.Mutex
	id   Identity
	err  error
	body []byte
}

func newVerifyServer(t *testing.T, v *Verifier) *verifyServer {
	t.Helper()
	vs := &verifyServer{}
	vs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id, err := v.Verify(r, body)
		vs.mu.Lock()
		vs.id, vs.err, vs.body = id, err, body
		vs.mu.Unlock()
	}))
	t.Cleanup(vs.Close)
	return vs
}

// do sends r and returns the verdict.
func (vs *verifyServer) do(t *testing.T, r *http.Request) (Identity, error) {
	t.Helper()
	resp, err := vs.Client().Do(r)
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	resp.Body.Close()
	vs.mu.Lock()
	defer vs.mu.Unlock()
	return vs.id, vs.err
}

// signed builds a request to the server signed by aws-sdk-go-v2's signer.
func signed(t *testing.T, base, method, target string, body []byte, hdr map[string]string, creds aws.Credentials, service string, at time.Time) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, base+target, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(sum[:]), service, "eu-west-1", at); err != nil {
		t.Fatal(err)
	}
	return r
}

var goodCreds = aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}

func TestVerifyAcceptsSDKSignedRequests(t *testing.T) {
	now := time.Now()
	vs := newVerifyServer(t, NewVerifier(testKeys, func() time.Time { return now }))
	tests := []struct {
		name, method, target string
		body                 []byte
		hdr                  map[string]string
		creds                aws.Credentials
		service              string
	}{
		{name: "plain GET", method: "GET", target: "/things", service: "iot"},
		{name: "root path", method: "GET", target: "/", service: "iot"},
		{name: "query parameters sorted and re-encoded", method: "GET",
			target:  "/things?maxResults=5&attributeName=a%20b&nextToken=x%2By%3D&attributeValue=c+d&thingTypeName=%7Etilde",
			service: "iot"},
		{name: "repeated query parameter", method: "GET", target: "/tags?tagKeys=b&tagKeys=a&tagKeys=a", service: "iot"},
		{name: "query key without value", method: "GET", target: "/things?flag&maxResults=1", service: "iot"},
		{name: "percent-encoded ARN label", method: "POST",
			target:  "/attached-policies/arn%3Aaws%3Aiot%3Aeu-west-1%3A123456789012%3Acert%2F0123abcd?recursive=true&pageSize=10",
			service: "iot"},
		{name: "percent-encoded reserved topic", method: "POST",
			target:  "/topics/%24aws%2Fthings%2Fdev%3A1%2Fshadow%2Fupdate?qos=1&retain=false",
			body:    []byte(`{"state":{"reported":{"on":true}}}`),
			hdr:     map[string]string{"Content-Type": "application/octet-stream"},
			service: "iotdata"},
		{name: "JSON body", method: "POST", target: "/things/dev-1",
			body:    []byte(`{"attributePayload":{"attributes":{"a":"b"}}}`),
			hdr:     map[string]string{"Content-Type": "application/json"},
			service: "iot"},
		{name: "session token", method: "GET", target: "/things",
			creds:   aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret, SessionToken: "FwoGZXIvYXdzEXAMPLE//token=="},
			service: "iot"},
		{name: "header with runs of spaces", method: "PUT", target: "/things/dev-1/principals",
			hdr:     map[string]string{"X-Amzn-Principal": "  arn:aws:iot:eu-west-1:1:cert/ab    cd  "},
			service: "iot"},
		{name: "declared payload hash", method: "PATCH", target: "/things/dev-1",
			body:    []byte(`{"expectedVersion":1}`),
			hdr:     map[string]string{"X-Amz-Content-Sha256": sha256Hex([]byte(`{"expectedVersion":1}`))},
			service: "iot"},
		{name: "other service name", method: "POST", target: "/", body: []byte(`{}`),
			hdr:     map[string]string{"X-Amz-Target": "Logs_20140328.PutLogEvents", "Content-Type": "application/x-amz-json-1.1"},
			service: "logs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			creds := tt.creds
			if creds.AccessKeyID == "" {
				creds = goodCreds
			}
			id, err := vs.do(t, signed(t, vs.URL, tt.method, tt.target, tt.body, tt.hdr, creds, tt.service, now))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := Identity{AccessKeyID: testAKID, Region: "eu-west-1", Service: tt.service}
			if diff := cmp.Diff(want, id); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
		})
	}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestVerifyRefusals(t *testing.T) {
	signedAt := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	now := signedAt
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	setNow := func(t time.Time) { mu.Lock(); now = t; mu.Unlock() }
	vs := newVerifyServer(t, NewVerifier(testKeys, clock))

	good := func(t *testing.T) *http.Request {
		return signed(t, vs.URL, "GET", "/things/a%3Ab", nil, nil, goodCreds, "iot", signedAt)
	}
	tests := []struct {
		name     string
		req      func(t *testing.T) *http.Request
		now      time.Time
		code     iotdm.ErrorCode
		message  string // exact, when set
		contains string
	}{
		{
			name: "no Authorization header",
			req: func(t *testing.T) *http.Request {
				r, _ := http.NewRequest("GET", vs.URL+"/things", nil)
				return r
			},
			code: iotdm.ErrMissingAuthToken, message: "Missing Authentication Token",
		},
		{
			name: "bearer token",
			req: func(t *testing.T) *http.Request {
				r, _ := http.NewRequest("GET", vs.URL+"/things", nil)
				r.Header.Set("Authorization", "eyJhbGciOi")
				r.Header.Set("X-Amz-Date", "20261129T100000Z")
				return r
			},
			code:    iotdm.ErrIncompleteSignature,
			message: "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=eyJhbGciOi",
		},
		{
			name: "missing signature and date",
			req: func(t *testing.T) *http.Request {
				r, _ := http.NewRequest("GET", vs.URL+"/things", nil)
				r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261129/eu-west-1/iot/aws4_request, SignedHeaders=host")
				return r
			},
			code:    iotdm.ErrIncompleteSignature,
			message: "Authorization header requires 'Signature' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261129/eu-west-1/iot/aws4_request, SignedHeaders=host",
		},
		{
			name: "component without equal sign",
			req: func(t *testing.T) *http.Request {
				r := good(t)
				r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE /20261129/eu-west-1/iot/aws4_request, SignedHeaders=host;x-amz-date, Signature=00")
				return r
			},
			code:    iotdm.ErrIncompleteSignature,
			message: "'/20261129/eu-west-1/iot/aws4_request' not a valid key=value pair (missing equal-sign) in Authorization header: 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE /20261129/eu-west-1/iot/aws4_request, SignedHeaders=host;x-amz-date, Signature=00'.",
		},
		{
			name: "malformed credential",
			req: func(t *testing.T) *http.Request {
				r := good(t)
				r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE, SignedHeaders=host;x-amz-date, Signature=00")
				return r
			},
			code: iotdm.ErrIncompleteSignature, contains: "Credential is mal-formed",
		},
		{
			name: "unknown access key",
			req: func(t *testing.T) *http.Request {
				return signed(t, vs.URL, "GET", "/things", nil, nil, aws.Credentials{AccessKeyID: "AKIDUNKNOWN", SecretAccessKey: testSecret}, "iot", signedAt)
			},
			code: iotdm.ErrUnrecognizedClient, message: "The security token included in the request is invalid.",
		},
		{
			name: "wrong secret",
			req: func(t *testing.T) *http.Request {
				return signed(t, vs.URL, "GET", "/things", nil, nil, aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: "wrong"}, "iot", signedAt)
			},
			code:    iotdm.ErrInvalidSignature,
			message: "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
		},
		{
			name: "tampered path",
			req: func(t *testing.T) *http.Request {
				r := good(t)
				r.URL.RawPath, r.URL.Path = "/things/a%3Ac", "/things/a:c"
				return r
			},
			code: iotdm.ErrInvalidSignature, contains: "does not match",
		},
		{
			name: "tampered query",
			req: func(t *testing.T) *http.Request {
				r := good(t)
				r.URL.RawQuery = "maxResults=2"
				return r
			},
			code: iotdm.ErrInvalidSignature, contains: "does not match",
		},
		{
			name: "tampered signed header",
			req: func(t *testing.T) *http.Request {
				r := signed(t, vs.URL, "PUT", "/things/a/principals", nil, map[string]string{"X-Amzn-Principal": "cert-a"}, goodCreds, "iot", signedAt)
				r.Header.Set("X-Amzn-Principal", "cert-b")
				return r
			},
			code: iotdm.ErrInvalidSignature, contains: "does not match",
		},
		{
			name: "tampered body",
			req: func(t *testing.T) *http.Request {
				r := signed(t, vs.URL, "POST", "/things/a", []byte(`{"a":1}`), nil, goodCreds, "iot", signedAt)
				r.Body = io.NopCloser(strings.NewReader(`{"a":2}`))
				return r
			},
			code: iotdm.ErrInvalidSignature, contains: "does not match",
		},
		{
			name: "declared payload hash does not match body",
			req: func(t *testing.T) *http.Request {
				body := []byte(`{"a":1}`)
				r, _ := http.NewRequest("POST", vs.URL+"/things/a", bytes.NewReader([]byte(`{"a":2}`)))
				r.Header.Set("X-Amz-Content-Sha256", sha256Hex(body))
				if err := v4.NewSigner().SignHTTP(context.Background(), goodCreds, r, sha256Hex(body), "iot", "eu-west-1", signedAt); err != nil {
					t.Fatal(err)
				}
				return r
			},
			code: iotdm.ErrInvalidSignature, message: "The provided 'x-amz-content-sha256' header does not match what was computed.",
		},
		{
			name: "expired",
			req:  good,
			now:  time.Date(2026, 11, 29, 10, 30, 0, 0, time.UTC),
			code: iotdm.ErrInvalidSignature,
			message: "Signature expired: 20261129T100000Z is now earlier than 20261129T101500Z " +
				"(20261129T103000Z - 15 min.)",
		},
		{
			name: "not yet current",
			req:  good,
			now:  time.Date(2026, 11, 29, 9, 30, 0, 0, time.UTC),
			code: iotdm.ErrInvalidSignature,
			message: "Signature not yet current: 20261129T100000Z is still later than 20261129T094500Z " +
				"(20261129T093000Z + 15 min.)",
		},
		{
			name: "scope date differs from X-Amz-Date",
			req: func(t *testing.T) *http.Request {
				r := good(t)
				r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/20261129/", "/20261128/", 1))
				return r
			},
			code:    iotdm.ErrInvalidSignature,
			message: "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20261128' != '20261129', from '20261129T100000Z'.",
		},
		{
			name: "X-Amz-Date not in basic format",
			req: func(t *testing.T) *http.Request {
				r := good(t)
				r.Header.Set("X-Amz-Date", "2026-11-29T10:00:00Z")
				return r
			},
			code: iotdm.ErrIncompleteSignature,
			message: "Date must be in ISO-8601 'basic format'. Got '2026-11-29T10:00:00Z'. " +
				"See http://en.wikipedia.org/wiki/ISO_8601",
		},
		{
			name: "host not signed",
			req: func(t *testing.T) *http.Request {
				r := good(t)
				r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "SignedHeaders=host;", "SignedHeaders=", 1))
				return r
			},
			code: iotdm.ErrIncompleteSignature, message: "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
		},
		{
			name: "wrong terminator",
			req: func(t *testing.T) *http.Request {
				r := good(t)
				r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/aws4_request", "/aws4_reques", 1))
				return r
			},
			code: iotdm.ErrInvalidSignature, message: "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws4_reques'. ",
		},
		{
			name: "unsupported algorithm",
			req: func(t *testing.T) *http.Request {
				r := good(t)
				r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256", 1))
				return r
			},
			code: iotdm.ErrIncompleteSignature, contains: "AWS4-ECDSA-P256-SHA256",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.now.IsZero() {
				setNow(signedAt)
			} else {
				setNow(tt.now)
			}
			_, err := vs.do(t, tt.req(t))
			var e *iotdm.Error
			if !errors.As(err, &e) {
				t.Fatalf("Verify error = %v, want *iotdm.Error", err)
			}
			if e.Code != tt.code {
				t.Errorf("code = %s, want %s (message %q)", e.Code, tt.code, e.Message)
			}
			if tt.message != "" && e.Message != tt.message {
				t.Errorf("message:\n got %q\nwant %q", e.Message, tt.message)
			}
			if !strings.Contains(e.Message, tt.contains) {
				t.Errorf("message %q does not contain %q", e.Message, tt.contains)
			}
			if StatusOf(e.Code) != http.StatusForbidden {
				t.Errorf("status of %s = %d, want 403", e.Code, StatusOf(e.Code))
			}
		})
	}
}

func TestVerifyAcceptsSkewWithinFifteenMinutes(t *testing.T) {
	signedAt := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	for _, d := range []time.Duration{-15 * time.Minute, -14 * time.Minute, 14 * time.Minute, 15 * time.Minute} {
		t.Run(d.String(), func(t *testing.T) {
			vs := newVerifyServer(t, NewVerifier(testKeys, func() time.Time { return signedAt.Add(d) }))
			if _, err := vs.do(t, signed(t, vs.URL, "GET", "/things", nil, nil, goodCreds, "iot", signedAt)); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

func TestVerifyNoticesRotatedSecret(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	secret := "first"
	keys := func(string) (string, bool) { mu.Lock(); defer mu.Unlock(); return secret, true }
	vs := newVerifyServer(t, NewVerifier(keys, func() time.Time { return now }))

	sign := func(s string) *http.Request {
		return signed(t, vs.URL, "GET", "/things", nil, nil, aws.Credentials{AccessKeyID: "K", SecretAccessKey: s}, "iot", now)
	}
	if _, err := vs.do(t, sign("first")); err != nil {
		t.Fatalf("first secret: %v", err)
	}
	mu.Lock()
	secret = "second"
	mu.Unlock()
	if _, err := vs.do(t, sign("first")); !iotdm.IsCode(err, iotdm.ErrInvalidSignature) {
		t.Errorf("old secret after rotation: err = %v, want InvalidSignatureException", err)
	}
	if _, err := vs.do(t, sign("second")); err != nil {
		t.Errorf("new secret: %v", err)
	}
}

// TestVerifyAcceptsBotocoreSignedRequests signs requests with botocore's
// SigV4Auth (what the aws CLI and boto3 use) and replays them.
func TestVerifyAcceptsBotocoreSignedRequests(t *testing.T) {
	python := requirePython(t)
	now := time.Now()
	vs := newVerifyServer(t, NewVerifier(testKeys, func() time.Time { return now }))
	tests := []struct{ name, method, target, body string }{
		{"encoded ARN label", "POST", "/attached-policies/arn%3Aaws%3Aiot%3Aeu-west-1%3A123456789012%3Acert%2Fab?recursive=true", ""},
		{"encoded topic", "POST", "/topics/%24aws%2Fthings%2Fd%2Fshadow%2Fget", "{}"},
		{"query with space", "GET", "/things?attributeValue=a%20b&maxResults=3", ""},
		{"dot segment removed by botocore", "GET", "/things/./x/../thing-groups", ""},
		{"double slash removed by botocore", "GET", "/things//x", ""},
	}
	const script = `
import json, sys
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
out = []
for a in json.load(sys.stdin):
    req = AWSRequest(method=a["method"], url=a["url"], data=a["body"].encode() or None)
    SigV4Auth(Credentials(a["akid"], a["secret"]), "iot", "eu-west-1").add_auth(req)
    out.append(dict(req.headers.items()))
print(json.dumps(out))
`
	var in []map[string]string
	for _, tt := range tests {
		in = append(in, map[string]string{"method": tt.method, "url": vs.URL + tt.target, "body": tt.body, "akid": testAKID, "secret": testSecret})
	}
	stdin, _ := json.Marshal(in)
	cmd := exec.Command(python, "-c", script)
	cmd.Stdin = bytes.NewReader(stdin)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("botocore signing: %v", err)
	}
	var headers []map[string]string
	if err := json.Unmarshal(out, &headers); err != nil || len(headers) != len(tests) {
		t.Fatalf("botocore output %q: %v", out, err)
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := http.NewRequest(tt.method, vs.URL+tt.target, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range headers[i] {
				r.Header.Set(k, v)
			}
			if _, err := vs.do(t, r); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

func TestParseAuthorization(t *testing.T) {
	got, err := parseAuthorization("AWS4-HMAC-SHA256 Credential=AKID/20261129/us-east-1/iot/aws4_request,SignedHeaders=host;x-amz-date,   Signature=abcd")
	if err != nil {
		t.Fatal(err)
	}
	want := authorization{
		Algorithm: "AWS4-HMAC-SHA256", AccessKeyID: "AKID", Date: "20261129", Region: "us-east-1",
		Service: "iot", Terminator: "aws4_request", SignedHeaders: "host;x-amz-date", Signature: "abcd",
		hasCredential: true, hasSignedHeaders: true, hasSignature: true,
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(authorization{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{
		"AWS4-HMAC-SHA256 Credential=AKID/20261129/us-east-1/iot/aws4_request, SignedHeaders=host;x-amz-date, Signature=abcd",
		"AWS4-HMAC-SHA256 Credential=AKID/20261129/us-east-1/iot/aws4_request,SignedHeaders=host,Signature=",
		"AWS4-HMAC-SHA256 Credential=a/b/c/d",
		"AWS4-HMAC-SHA256 Credential=AKID /x/y/z/aws4_request",
		"Bearer token",
		"AWS4-HMAC-SHA256",
		"AWS4-HMAC-SHA256 ,,, =, Signature==",
		"",
	} {
		f.Add(s)
	}
	v := NewVerifier(testKeys, func() time.Time { return time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC) })
	f.Fuzz(func(t *testing.T, h string) {
		a, err := parseAuthorization(h)
		if err == nil && a.hasCredential && a.hasSignedHeaders && a.hasSignature {
			// What parsed must parse again the same from its own rendering.
			again, err := parseAuthorization(a.Algorithm + " Credential=" + a.AccessKeyID + "/" + a.Date + "/" +
				a.Region + "/" + a.Service + "/" + a.Terminator + ", SignedHeaders=" + a.SignedHeaders +
				", Signature=" + a.Signature)
			if err != nil {
				t.Fatalf("re-parse of %+v: %v", a, err)
			}
			if diff := cmp.Diff(a, again, cmp.AllowUnexported(authorization{})); diff != "" {
				t.Fatalf("round trip (-first +again):\n%s", diff)
			}
		}
		// Whatever the header, Verify refuses with an *iotdm.Error and
		// does not panic.
		r := httptest.NewRequest("GET", "/things", nil)
		r.Header.Set("Authorization", h)
		r.Header.Set("X-Amz-Date", "20261129T100000Z")
		if _, err := v.Verify(r, nil); err == nil {
			t.Fatalf("header %q verified", h)
		} else if iotdm.CodeOf(err) == "" {
			t.Fatalf("header %q: error %v is not an *iotdm.Error", h, err)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	now := time.Now()
	v := NewVerifier(testKeys, func() time.Time { return now })
	body := []byte(`{"attributePayload":{"attributes":{"a":"b"}}}`)
	r := httptest.NewRequest("POST", "http://iot.local/things/arn%3Adev-1?x=1&a=b%20c", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if err := v4.NewSigner().SignHTTP(context.Background(), goodCreds, r, sha256Hex(body), "iot", "us-east-1", now); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(r, body); err != nil {
			b.Fatal(err)
		}
	}
}
