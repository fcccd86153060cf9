package awsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/iotdm/iotdm"
)

// seen records what a service handler saw.
type seen struct {
	mu       sync.Mutex
	identity Identity
	ok       bool
	body     string
	reqID    string
	calls    int
}

func (s *seen) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.identity, s.ok = IdentityFrom(r.Context())
		s.body, s.reqID = string(b), RequestIDFrom(r.Context())
		s.calls++
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
}

// xmlService writes its own (non-JSON) errors, like a query-protocol service.
type xmlService struct{ http.Handler }

func (xmlService) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(StatusOf(iotdm.CodeOf(err)))
	_, _ = io.WriteString(w, "<ErrorResponse><Error><Code>"+string(iotdm.CodeOf(err))+"</Code></Error></ErrorResponse>")
}

func newEdge(t *testing.T, now time.Time, maxBody int64) (*httptest.Server, map[string]*seen) {
	t.Helper()
	s := New(Config{Keys: testKeys, Now: func() time.Time { return now }, MaxBody: maxBody,
		Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	services := map[string]*seen{"iot": {}, "iotdata": {}, "cloudformation": {}}
	s.Handle("iot", services["iot"].handler())
	s.Handle("iotdata", services["iotdata"].handler())
	s.Handle("cloudformation", xmlService{services["cloudformation"].handler()})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv, services
}

func TestServerRoutesBySigningName(t *testing.T) {
	now := time.Now()
	srv, services := newEdge(t, now, 0)
	for _, name := range []string{"iot", "iotdata"} {
		t.Run(name, func(t *testing.T) {
			body := []byte(`{"hello":"` + name + `"}`)
			resp, err := srv.Client().Do(signed(t, srv.URL, "POST", "/topics/a%2Fb", body, nil, goodCreds, name, now))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if _, err := uuid.Parse(resp.Header.Get("X-Amzn-RequestId")); err != nil {
				t.Errorf("x-amzn-RequestId %q is not a UUID", resp.Header.Get("X-Amzn-RequestId"))
			}
			got := services[name]
			got.mu.Lock()
			defer got.mu.Unlock()
			if !got.ok {
				t.Fatal("no identity in the handler's context")
			}
			if diff := cmp.Diff(Identity{AccessKeyID: testAKID, Region: "eu-west-1", Service: name}, got.identity); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
			if got.body != string(body) {
				t.Errorf("handler read body %q, want %q", got.body, body)
			}
			if got.reqID != resp.Header.Get("X-Amzn-RequestId") {
				t.Errorf("context request id %q differs from header %q", got.reqID, resp.Header.Get("X-Amzn-RequestId"))
			}
		})
	}
}

func TestServerRefusals(t *testing.T) {
	now := time.Now()
	srv, services := newEdge(t, now, 64)
	tests := []struct {
		name        string
		req         func(t *testing.T) *http.Request
		status      int
		code        string
		contentType string
	}{
		{
			name: "unsigned request",
			req: func(t *testing.T) *http.Request {
				r, _ := http.NewRequest("GET", srv.URL+"/things", nil)
				return r
			},
			status: 403, code: "MissingAuthenticationTokenException", contentType: "application/json",
		},
		{
			name: "service nobody serves",
			req: func(t *testing.T) *http.Request {
				return signed(t, srv.URL, "GET", "/", nil, nil, goodCreds, "s3", now)
			},
			status: 403, code: "InvalidSignatureException", contentType: "application/json",
		},
		{
			name: "body over the limit",
			req: func(t *testing.T) *http.Request {
				return signed(t, srv.URL, "POST", "/things/a", bytes.Repeat([]byte("x"), 65), nil, goodCreds, "iot", now)
			},
			status: 413, code: "RequestEntityTooLargeException", contentType: "application/json",
		},
		{
			name: "chunked body over the limit",
			req: func(t *testing.T) *http.Request {
				r := signed(t, srv.URL, "POST", "/things/a", nil, nil, goodCreds, "iot", now)
				r.Body = io.NopCloser(io.MultiReader(strings.NewReader(strings.Repeat("y", 100))))
				r.ContentLength = -1
				return r
			},
			status: 413, code: "RequestEntityTooLargeException", contentType: "application/json",
		},
		{
			name: "refusal in the service's own format",
			req: func(t *testing.T) *http.Request {
				return signed(t, srv.URL, "POST", "/", nil, nil, aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: "bad"}, "cloudformation", now)
			},
			status: 403, code: "InvalidSignatureException", contentType: "text/xml",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := srv.Client().Do(tt.req(t))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status = %d, want %d (%s)", resp.StatusCode, tt.status, body)
			}
			if resp.Header.Get("X-Amzn-RequestId") == "" {
				t.Error("no x-amzn-RequestId")
			}
			if got := resp.Header.Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type = %q, want %q", got, tt.contentType)
			}
			if tt.contentType == "application/json" {
				if got := resp.Header.Get("X-Amzn-ErrorType"); got != tt.code {
					t.Errorf("x-amzn-ErrorType = %q, want %q", got, tt.code)
				}
				var b errorBody
				if err := json.Unmarshal(body, &b); err != nil || b.Type != tt.code || b.Message == "" {
					t.Errorf("body %s (%v)", body, err)
				}
			} else if !strings.Contains(string(body), tt.code) {
				t.Errorf("body %s lacks %s", body, tt.code)
			}
		})
	}
	for name, s := range services {
		if s.calls != 0 {
			t.Errorf("service %s was called %d times", name, s.calls)
		}
	}
}

func TestServerSetsDateFromItsClock(t *testing.T) {
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	srv, _ := newEdge(t, now, 0)
	resp, err := srv.Client().Get(srv.URL + "/things")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Date"); got != "Sun, 29 Nov 2026 10:00:00 GMT" {
		t.Errorf("Date = %q", got)
	}
}

func TestHandleRefusesDuplicates(t *testing.T) {
	s := New(Config{Keys: testKeys})
	s.Handle("iot", http.NotFoundHandler())
	defer func() {
		if recover() == nil {
			t.Error("second Handle(iot) did not panic")
		}
	}()
	s.Handle("iot", http.NotFoundHandler())
}

// BenchmarkServer measures the whole edge in process: body read, SigV4
// verification, routing, binding, the registry call and the JSON answer.
func BenchmarkServer(b *testing.B) {
	now := time.Now()
	s := New(Config{Keys: testKeys, Now: func() time.Time { return now }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	s.Handle("iot", NewIoT(&fakeRegistry{}))
	body := []byte(`{"thingTypeName":"sensor","attributePayload":{"attributes":{"color":"red"}}}`)
	r := httptest.NewRequest("POST", "/things/dev%3A1", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if err := v4.NewSigner().SignHTTP(context.Background(), goodCreds, r, sha256Hex(body), "iot", "us-east-1", now); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		req := r.Clone(context.Background())
		req.Body = io.NopCloser(bytes.NewReader(body))
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
