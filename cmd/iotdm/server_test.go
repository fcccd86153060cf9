package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// testConfig is a configuration for an in-process server on a free port.
func testConfig(t *testing.T) Config {
	cfg := defaults()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.MQTTAddr = "127.0.0.1:0"
	return cfg
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// startServer starts a server and closes it when the test ends.
func startServer(t *testing.T, cfg Config) *server {
	t.Helper()
	s := newServer(cfg, "test", testLogger(t))
	if err := s.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// setEnvLikeEval applies what eval "$(iotdm env)" would to this process's
// environment, for the rest of the test.
func setEnvLikeEval(t *testing.T, cfg Config) {
	t.Helper()
	var out, stderr bytes.Buffer
	if err := runEnv(cfg, environMap(os.Environ()), &out, &stderr); err != nil {
		t.Fatalf("runEnv: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		switch {
		case strings.HasPrefix(line, "unset "):
			for _, name := range strings.Fields(strings.TrimPrefix(line, "unset ")) {
				t.Setenv(name, "")
			}
		case strings.HasPrefix(line, "export "):
			k, v, _ := strings.Cut(strings.TrimPrefix(line, "export "), "=")
			if strings.HasPrefix(v, "'") {
				v = strings.ReplaceAll(strings.Trim(v, "'"), `'\''`, "'")
			}
			t.Setenv(k, v)
		default:
			t.Fatalf("unexpected line from iotdm env: %q", line)
		}
	}
}

// envIoTClient builds an IoT client the way any SDK program would, with
// nothing but the environment iotdm env sets up.
func envIoTClient(t *testing.T, cfg Config) *iot.Client {
	t.Helper()
	setEnvLikeEval(t, cfg)
	awsCfg, err := awsconfig.LoadDefaultConfig(t.Context())
	if err != nil {
		t.Fatalf("LoadDefaultConfig: %v", err)
	}
	return iot.NewFromConfig(awsCfg)
}

// staticIoTClient builds an IoT client with explicit credentials.
func staticIoTClient(s *server, id, secret string) *iot.Client {
	return iot.New(iot.Options{
		Region:       s.cfg.Region,
		BaseEndpoint: aws.String(s.URL()),
		Credentials:  credentials.NewStaticCredentialsProvider(id, secret, ""),
	})
}

func getHealth(t *testing.T, url string) (int, healthInfo) {
	t.Helper()
	resp, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
	defer resp.Body.Close()
	var h healthInfo
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatalf("decode /healthz: %v", err)
	}
	return resp.StatusCode, h
}

func TestServerServesAndShutsDown(t *testing.T) {
	cfg := testConfig(t)
	s := newServer(cfg, "test", testLogger(t))
	if err := s.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer s.Close(context.Background())
	addr := s.Addr().(*net.TCPAddr)
	if addr.Port == 0 {
		t.Fatalf("Addr() = %v, want a real port", addr)
	}

	t.Run("data directory and credentials are private", func(t *testing.T) {
		if got := fileMode(t, cfg.DataDir); got != 0o700 {
			t.Errorf("data directory mode = %v, want 0700", got)
		}
		if got := fileMode(t, filepath.Join(cfg.DataDir, credentialsFileName)); got != 0o600 {
			t.Errorf("credentials mode = %v, want 0600", got)
		}
	})

	t.Run("healthz answers without authentication", func(t *testing.T) {
		code, h := getHealth(t, s.URL())
		want := healthInfo{Status: "ok", Version: "test", Region: cfg.Region, AccountID: cfg.AccountID, HTTPAddr: addr.String()}
		if code != http.StatusOK || h != want {
			t.Errorf("GET /healthz = %d %+v, want 200 %+v", code, h, want)
		}
	})

	t.Run("server.json has the bound address", func(t *testing.T) {
		st, err := readServerState(s.DataDir())
		if err != nil {
			t.Fatal(err)
		}
		want := serverState{PID: os.Getpid(), Version: "test", HTTPAddr: addr.String(), Endpoint: "http://" + addr.String(),
			MQTTAddr: s.broker.Addr().String(), Region: cfg.Region, AccountID: cfg.AccountID, DataDir: s.DataDir()}
		if diff := cmp.Diff(want, st, cmpopts.IgnoreFields(serverState{}, "StartedAt")); diff != "" {
			t.Errorf("server.json mismatch (-want +got):\n%s", diff)
		}
		if time.Since(st.StartedAt) > time.Minute {
			t.Errorf("server.json startedAt = %v, want about now", st.StartedAt)
		}
	})

	t.Run("SDK client configured by iotdm env works", func(t *testing.T) {
		client := envIoTClient(t, cfg)
		ctx := t.Context()
		if _, err := client.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("sensor-1")}); err != nil {
			t.Fatalf("CreateThing: %v", err)
		}
		list, err := client.ListThings(ctx, &iot.ListThingsInput{})
		if err != nil {
			t.Fatalf("ListThings: %v", err)
		}
		if len(list.Things) != 1 || aws.ToString(list.Things[0].ThingName) != "sensor-1" {
			t.Errorf("ListThings = %d things, want sensor-1 only", len(list.Things))
		}
		ep, err := client.DescribeEndpoint(ctx, &iot.DescribeEndpointInput{EndpointType: aws.String("iot:Data-ATS")})
		if err != nil {
			t.Fatalf("DescribeEndpoint: %v", err)
		}
		if aws.ToString(ep.EndpointAddress) == "" {
			t.Errorf("DescribeEndpoint returned no address")
		}
	})

	t.Run("a wrong key is refused", func(t *testing.T) {
		key := readCredentialsFile(t, cfg.DataDir)
		for name, client := range map[string]*iot.Client{
			"unknown key id": staticIoTClient(s, "AKIAUNKNOWNUNKNOWN00", key.Secret),
			"wrong secret":   staticIoTClient(s, key.ID, "not-the-secret"),
		} {
			_, err := client.ListThings(t.Context(), &iot.ListThingsInput{})
			var status interface{ HTTPStatusCode() int }
			if !errors.As(err, &status) || status.HTTPStatusCode() != http.StatusForbidden {
				t.Errorf("%s: ListThings error = %v, want HTTP 403", name, err)
			}
		}
		resp, err := http.Get(s.URL() + "/things")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("unsigned GET /things = %d, want 403", resp.StatusCode)
		}
	})

	t.Run("close removes server.json and stops listening", func(t *testing.T) {
		if err := s.Close(t.Context()); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if _, err := os.Stat(filepath.Join(cfg.DataDir, stateFileName)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("server.json after Close: %v, want it removed", err)
		}
		if _, err := http.Get(s.URL() + "/healthz"); err == nil {
			t.Errorf("GET /healthz after Close succeeded")
		}
		if err := s.Close(t.Context()); err != nil {
			t.Errorf("second Close = %v, want nil", err)
		}
		select {
		case <-s.Done():
		default:
			t.Errorf("Done() not closed after Close")
		}
		if err := s.Err(); err != nil {
			t.Errorf("Err() after Close = %v, want nil", err)
		}
	})
}

func TestServerCloseFinishesInFlightRequests(t *testing.T) {
	s := startServer(t, testConfig(t))
	// A request whose body is still arriving is in flight.
	body, w := io.Pipe()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL()+"/things/slow", body)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		status int
		err    error
	}
	responded := make(chan result, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			responded <- result{err: err}
			return
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		responded <- result{resp.StatusCode, err}
	}()
	if _, err := w.Write([]byte(`{"attributePayload":`)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let the server read the request head

	closed := make(chan error, 1)
	go func() { closed <- s.Close(context.Background()) }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a request was in flight", err)
	case <-time.After(300 * time.Millisecond):
	}
	if _, err := os.Stat(filepath.Join(s.DataDir(), stateFileName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("server.json during shutdown: %v, want it removed first", err)
	}
	w.Write([]byte(`{}}`))
	w.Close()
	r := <-responded
	if r.err != nil || r.status == 0 {
		t.Errorf("in-flight request = %d, %v; want a complete response", r.status, r.err)
	}
	if err := <-closed; err != nil {
		t.Errorf("Close = %v, want nil", err)
	}
}

func TestServerRestartKeepsDataAndKey(t *testing.T) {
	cfg := testConfig(t)
	first := newServer(cfg, "test", testLogger(t))
	if err := first.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	key := readCredentialsFile(t, cfg.DataDir)
	client := staticIoTClient(first, key.ID, key.Secret)
	if _, err := client.CreateThing(t.Context(), &iot.CreateThingInput{ThingName: aws.String("kept")}); err != nil {
		t.Fatalf("CreateThing: %v", err)
	}
	if err := first.Close(t.Context()); err != nil {
		t.Fatal(err)
	}

	second := startServer(t, cfg)
	if got := readCredentialsFile(t, cfg.DataDir); got != key {
		t.Errorf("key after restart = %v, want %v", got.ID, key.ID)
	}
	client = staticIoTClient(second, key.ID, key.Secret)
	if _, err := client.DescribeThing(t.Context(), &iot.DescribeThingInput{ThingName: aws.String("kept")}); err != nil {
		t.Errorf("DescribeThing after restart: %v", err)
	}
}

func TestServerAdminKeyFromEnvironment(t *testing.T) {
	cfg := testConfig(t)
	cfg.AdminKey = &AccessKey{ID: "AKIAIOSFODNN7EXAMPLE", Secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
	s := startServer(t, cfg)
	client := staticIoTClient(s, cfg.AdminKey.ID, cfg.AdminKey.Secret)
	if _, err := client.ListThings(t.Context(), &iot.ListThingsInput{}); err != nil {
		t.Errorf("ListThings with the environment's key: %v", err)
	}
	if got := readCredentialsFile(t, cfg.DataDir); got != *cfg.AdminKey {
		t.Errorf("credentials file holds %v, want %v", got.ID, cfg.AdminKey.ID)
	}
}

func TestServerRefusesASecondServerOnTheDataDir(t *testing.T) {
	cfg := testConfig(t)
	first := startServer(t, cfg)
	second := newServer(cfg, "test", testLogger(t))
	err := second.Start(t.Context())
	if !errors.Is(err, errDataDirLocked) {
		t.Fatalf("second Start = %v, want errDataDirLocked", err)
	}
	st, err := readServerState(cfg.DataDir)
	if err != nil || st.HTTPAddr != first.Addr().String() {
		t.Errorf("server.json = %+v, %v; want the first server's", st, err)
	}
	if code, _ := getHealth(t, first.URL()); code != http.StatusOK {
		t.Errorf("first server /healthz = %d after a refused second start", code)
	}
}

func TestServerStartFailureUndoesEverything(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := testConfig(t)
	cfg.HTTPAddr = busy.Addr().String()
	s := newServer(cfg, "test", testLogger(t))
	if err := s.Start(t.Context()); err == nil || !strings.Contains(err.Error(), "listen on") {
		t.Fatalf("Start on a busy port = %v, want a listen error", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, stateFileName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("server.json after a failed start: %v", err)
	}
	// The store and the lock were released: a server starts on the same dir.
	cfg.HTTPAddr = "127.0.0.1:0"
	startServer(t, cfg)
}

func TestRunServeShutsDownWhenContextEnds(t *testing.T) {
	cfg := testConfig(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stderr := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, cfg, "test", testLogger(t), stderr) }()

	var st serverState
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		if st, err = readServerState(cfg.DataDir); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server.json did not appear: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, _ := getHealth(t, st.Endpoint); code != http.StatusOK {
		t.Errorf("/healthz = %d, want 200", code)
	}
	if line := stderr.String(); !strings.Contains(line, st.Endpoint) || !strings.Contains(line, `eval "$(iotdm env --data-dir`) {
		t.Errorf("stderr = %q, want the endpoint and the eval hint", line)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("runServe = %v, want nil after the context ended", err)
		}
	case <-time.After(shutdownTimeout + 5*time.Second):
		t.Fatal("runServe did not return after the context ended")
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, stateFileName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("server.json after shutdown: %v, want it removed", err)
	}
}

func TestClientHostPort(t *testing.T) {
	tests := []struct{ in, want string }{
		{"127.0.0.1:4580", "127.0.0.1:4580"},
		{"0.0.0.0:4580", "127.0.0.1:4580"},
		{":4580", "127.0.0.1:4580"},
		{"[::]:4580", "[::1]:4580"},
		{"[::1]:4580", "[::1]:4580"},
		{"example.com:80", "example.com:80"},
	}
	for _, tt := range tests {
		if got := clientHostPort(tt.in); got != tt.want {
			t.Errorf("clientHostPort(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for in, want := range map[string]string{"127.0.0.1:8883": "127.0.0.1", "0.0.0.0:1883": "127.0.0.1:1883", "iot.local:8883": "iot.local"} {
		if got := mqttEndpoint(in); got != want {
			t.Errorf("mqttEndpoint(%q) = %q, want %q", in, got, want)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
