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
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	testKey    = "AKIDTEST"
	testSecret = "test-secret"
)

// verifySigV4 re-signs the request as received, with the signed headers
// only, and compares the Authorization headers.
func verifySigV4(r *http.Request, body []byte) error {
	auth := r.Header.Get("Authorization")
	_, rest, ok := strings.Cut(auth, "SignedHeaders=")
	if !ok {
		return fmt.Errorf("no SignedHeaders in %q", auth)
	}
	signed, _, _ := strings.Cut(rest, ",")
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return fmt.Errorf("X-Amz-Date: %w", err)
	}
	re, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	re.Header = http.Header{}
	for _, h := range strings.Split(signed, ";") {
		if h != "host" {
			re.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, re, hex.EncodeToString(sum[:]), "iot", "us-east-1", when); err != nil {
		return err
	}
	if got := re.Header.Get("Authorization"); got != auth {
		return fmt.Errorf("signature mismatch:\n got  %s\n want %s", auth, got)
	}
	return nil
}

// recorder is a test server that checks signatures and remembers requests.
type recorder struct {
	mu     sync.Mutex
	paths  map[string]int
	bodies []string
	status int
	errs   []error
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	err := verifySigV4(r, body)
	rec.mu.Lock()
	rec.paths[r.Method+" "+r.URL.RequestURI()]++
	rec.bodies = append(rec.bodies, string(body))
	if err != nil {
		rec.errs = append(rec.errs, err)
	}
	rec.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if rec.status/100 != 2 {
		w.Header().Set("X-Amzn-ErrorType", "ResourceNotFoundException")
		w.WriteHeader(rec.status)
		io.WriteString(w, `{"message":"no such thing"}`)
		return
	}
	w.WriteHeader(rec.status)
	io.WriteString(w, `{"ok":true}`)
}

func newTestClient(t *testing.T, kind Kind, status int) (Client, *recorder) {
	t.Helper()
	rec := &recorder{paths: map[string]int{}, status: status}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	c, err := NewClient(kind, ClientConfig{BaseURL: srv.URL, AccessKeyID: testKey, SecretKey: testSecret, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	if c.Kind() != kind {
		t.Fatalf("NewClient(%s) made a %s client", kind, c.Kind())
	}
	return c, rec
}

// forEachKind runs f as a subtest for every client kind.
func forEachKind(t *testing.T, f func(t *testing.T, kind Kind)) {
	for _, kind := range Kinds() {
		t.Run(string(kind), func(t *testing.T) { f(t, kind) })
	}
}

func TestSetupAndOpsAreSignedAndCounted(t *testing.T) { forEachKind(t, testSetupAndOps) }

func testSetupAndOps(t *testing.T, kind Kind) {
	c, rec := newTestClient(t, kind, http.StatusOK)
	ctx := context.Background()
	fx, err := Setup(ctx, c, SetupConfig{Prefix: "s", Things: 50, Groups: 3, Clients: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(fx.Things) != 50 || len(fx.Groups) != 3 {
		t.Fatalf("fixture: %d things, %d groups", len(fx.Things), len(fx.Groups))
	}
	for i := range 50 {
		if n := rec.paths["POST /things/s-thing-"+fmt.Sprint(i)]; n != 1 {
			t.Fatalf("thing %d created %d times", i, n)
		}
	}
	for _, name := range AllOps() {
		op, err := NewOp(name, fx, "c")
		if err != nil {
			t.Fatal(err)
		}
		res, err := Run(ctx, c, op, RunConfig{Clients: 4, Count: 40})
		if err != nil {
			t.Fatal(err)
		}
		if res.OK != 40 || res.Failed() != 0 || len(res.Latencies) != 40 {
			t.Fatalf("%s: %s", name, res)
		}
	}
	if rec.paths["GET /things?maxResults=50"] != 40 {
		t.Errorf("ListThings requests: %v", rec.paths)
	}
	if len(rec.errs) > 0 {
		t.Fatalf("%d bad signatures, first: %v", len(rec.errs), rec.errs[0])
	}
	want := `{"thingGroupName":"s-group-0","thingName":"s-thing-0"}`
	found := false
	for _, b := range rec.bodies {
		found = found || b == want
	}
	if !found {
		t.Errorf("no AddThingToThingGroup body %s", want)
	}
}

func TestRunCountsNon2xxSeparately(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind Kind) {
		c, _ := newTestClient(t, kind, http.StatusNotFound)
		res, err := Run(context.Background(), c, DescribeThing([]string{"x"}), RunConfig{Clients: 2, Count: 10})
		if err != nil {
			t.Fatal(err)
		}
		if res.OK != 0 || res.Non2xx[404] != 10 || res.Errors != 0 || res.FailRate() != 1 || len(res.Samples) == 0 {
			t.Fatalf("got %s", res)
		}
		want := map[Kind]string{KindRaw: `HTTP 404: {"message":"no such thing"}`, KindSDK: "HTTP 404: ResourceNotFoundException: no such thing"}[kind]
		if res.Samples[0] != want {
			t.Errorf("sample %q, want %q", res.Samples[0], want)
		}
	})
}

func TestSDKCountsUndecodable2xxAsError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"thingName": [`)
	}))
	t.Cleanup(srv.Close)
	c, err := NewSDKClient(ClientConfig{BaseURL: srv.URL, AccessKeyID: testKey, SecretKey: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), c, DescribeThing([]string{"x"}), RunConfig{Clients: 1, Count: 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != 0 || res.Errors != 3 || !strings.Contains(res.Samples[0], "HTTP 200") {
		t.Fatalf("got %s; samples %q", res, res.Samples)
	}
}

func TestSDKCountsUnreachableServerAsError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	c, err := NewSDKClient(ClientConfig{BaseURL: url, AccessKeyID: testKey, SecretKey: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), c, ListThings(), RunConfig{Clients: 1, Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != 0 || res.Errors != 2 || len(res.Non2xx) != 0 {
		t.Fatalf("got %s", res)
	}
}

func TestRunIsBoundedInTime(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind Kind) {
		c, _ := newTestClient(t, kind, http.StatusOK)
		start := time.Now()
		res, err := Run(context.Background(), c, ListThings(), RunConfig{Clients: 2, Duration: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 2*time.Second || res.OK == 0 {
			t.Fatalf("took %s, %s", d, res)
		}
	})
}

func TestLoopsShareKeepAliveConnections(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind Kind) {
		var mu sync.Mutex
		conns := 0
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"things":[],"thingName":"t"}`)
		}))
		srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				mu.Lock()
				conns++
				mu.Unlock()
			}
		}
		srv.Start()
		t.Cleanup(srv.Close)
		c, err := NewClient(kind, ClientConfig{BaseURL: srv.URL, AccessKeyID: testKey, SecretKey: testSecret, MaxConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		for _, op := range []Op{ListThings(), DescribeThing([]string{"t"}), CreateThing("k")} {
			res, err := Run(context.Background(), c, op, RunConfig{Clients: 4, Count: 100})
			if err != nil {
				t.Fatal(err)
			}
			if res.OK != 100 {
				t.Fatalf("%s", res)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		// Ideally 4; a connection goes back to the pool a moment after its
		// answer's body is read, so a loop may dial again now and then.
		if conns > 12 {
			t.Errorf("4 loops opened %d connections for 300 calls", conns)
		}
	})
}

func TestParseKind(t *testing.T) {
	for _, k := range Kinds() {
		if got, err := ParseKind(string(k)); got != k || err != nil {
			t.Errorf("ParseKind(%q) = %q, %v", k, got, err)
		}
	}
	if _, err := ParseKind("cli"); err == nil {
		t.Error("ParseKind accepted cli")
	}
}

func TestPercentileIsExact(t *testing.T) {
	r := &Result{}
	for i := 1; i <= 1000; i++ {
		r.Latencies = append(r.Latencies, time.Duration(i))
	}
	for q, want := range map[float64]time.Duration{0.5: 500, 0.99: 990, 1: 1000, 0.001: 1} {
		if got := r.Percentile(q); got != want {
			t.Errorf("p%v = %d, want %d", q*100, got, want)
		}
	}
}

func TestAddThingToThingGroupWalksEveryPair(t *testing.T) {
	op := AddThingToThingGroup([]string{"a", "b"}, []string{"g", "h"})
	var got []string
	for range 5 {
		r, err := op.Next(nil).Request()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(r.Body))
	}
	want := []string{
		`{"thingGroupName":"g","thingName":"a"}`, `{"thingGroupName":"g","thingName":"b"}`,
		`{"thingGroupName":"h","thingName":"a"}`, `{"thingGroupName":"h","thingName":"b"}`,
		`{"thingGroupName":"g","thingName":"a"}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s", strings.Join(got, "\n"))
	}
}
