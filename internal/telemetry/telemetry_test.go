package telemetry

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// exposition is a parsed text exposition: the type of each family and the
// value of each sample, keyed by the sample as written ("name{a=\"b\"}").
type exposition struct {
	types   map[string]string
	samples map[string]float64
}

// scrape GETs h like a Prometheus server that asks for the text format and
// parses the answer.
func scrape(t *testing.T, h http.Handler) exposition {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /metrics = %d %s, want 200", resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET /metrics Content-Type = %q, want text/plain", ct)
	}
	e, err := parseExposition(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// parseExposition reads the text format: "# TYPE" lines and samples; it
// knows no timestamps and no spaces in label values, which iotdm's metrics
// do not have.
func parseExposition(r io.Reader) (exposition, error) {
	e := exposition{types: map[string]string{}, samples: map[string]float64{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case line == "", strings.HasPrefix(line, "# HELP "):
		case strings.HasPrefix(line, "# TYPE "):
			f := strings.Fields(line)
			if len(f) != 4 {
				return e, fmt.Errorf("line %d: bad TYPE line %q", n, line)
			}
			if _, dup := e.types[f[2]]; dup {
				return e, fmt.Errorf("line %d: family %s typed twice", n, f[2])
			}
			e.types[f[2]] = f[3]
		case strings.HasPrefix(line, "#"):
		default:
			i := strings.LastIndexByte(line, ' ')
			if i < 0 {
				return e, fmt.Errorf("line %d: bad sample %q", n, line)
			}
			v, err := strconv.ParseFloat(line[i+1:], 64)
			if err != nil {
				return e, fmt.Errorf("line %d: bad value in %q: %v", n, line, err)
			}
			e.samples[line[:i]] = v
		}
	}
	return e, sc.Err()
}

func TestHandlerExposesEveryFamily(t *testing.T) {
	m := New()
	m.SetIndexSource(func() (map[string]int, uint64, float64) {
		return map[string]int{"AWS_Things": 3, "AWS_ThingGroups": 2}, 5, 1.5
	})

	m.MQTTConnected()
	m.MQTTConnected()
	m.MQTTDisconnected("CLIENT_INITIATED_DISCONNECT")
	m.MQTTConnectRefused("not_authorized")
	m.MessageIn(1, 10)
	m.MessageIn(1, 20)
	m.MessageIn(0, 7)
	m.MessageOut(0, 5)
	m.MessageOut(1, 0)
	m.Denied("iot:Publish")
	m.Denied(ActionPublish)
	m.Denied("iot:Receive")
	m.Denied("iot:Connect")
	m.Denied("iot:Subscribe")
	m.Denied("iot:RetainPublish")
	m.Denied("iot:DeleteThing")
	m.ObserveRequest("iot", "CreateThing", 200, 3*time.Millisecond)
	m.ObserveRequest("iot", "CreateThing", 409, 2*time.Millisecond)
	m.ObserveRequest("logs", "CreateLogGroup", 200, 40*time.Millisecond)
	m.ObserveRequest("", "", 403, time.Millisecond)
	m.ObserveCommit(2*time.Millisecond, 7, nil)
	m.ObserveCommit(time.Millisecond, 3, errors.New("disk full"))

	e := scrape(t, m.Handler())

	wantTypes := map[string]string{
		"iotdm_mqtt_connections":                  "gauge",
		"iotdm_mqtt_connects_total":               "counter",
		"iotdm_mqtt_disconnects_total":            "counter",
		"iotdm_mqtt_messages_received_total":      "counter",
		"iotdm_mqtt_received_payload_bytes_total": "counter",
		"iotdm_mqtt_messages_sent_total":          "counter",
		"iotdm_mqtt_sent_payload_bytes_total":     "counter",
		"iotdm_mqtt_authorization_denials_total":  "counter",
		"iotdm_api_requests_total":                "counter",
		"iotdm_api_request_duration_seconds":      "histogram",
		"iotdm_fleet_index_documents":             "gauge",
		"iotdm_fleet_index_lag_changes":           "gauge",
		"iotdm_fleet_index_lag_seconds":           "gauge",
		"iotdm_store_commit_duration_seconds":     "histogram",
		"iotdm_store_commits_total":               "counter",
		"iotdm_store_committed_updates_total":     "counter",
		"go_goroutines":                           "gauge",
		"go_memstats_heap_alloc_bytes":            "gauge",
		"go_gc_duration_seconds":                  "summary",
	}
	if runtime.GOOS == "linux" {
		wantTypes["process_cpu_seconds_total"] = "counter"
		wantTypes["process_resident_memory_bytes"] = "gauge"
		wantTypes["process_open_fds"] = "gauge"
	}
	for name, want := range wantTypes {
		if got, ok := e.types[name]; !ok {
			t.Errorf("family %s missing", name)
		} else if got != want {
			t.Errorf("family %s has type %s, want %s", name, got, want)
		}
	}

	wantSamples := map[string]float64{
		`iotdm_mqtt_connections`:                                             1,
		`iotdm_mqtt_connects_total{result="accepted"}`:                       2,
		`iotdm_mqtt_connects_total{result="not_authorized"}`:                 1,
		`iotdm_mqtt_disconnects_total{reason="CLIENT_INITIATED_DISCONNECT"}`: 1,
		`iotdm_mqtt_messages_received_total{qos="0"}`:                        1,
		`iotdm_mqtt_messages_received_total{qos="1"}`:                        2,
		`iotdm_mqtt_received_payload_bytes_total{qos="0"}`:                   7,
		`iotdm_mqtt_received_payload_bytes_total{qos="1"}`:                   30,
		`iotdm_mqtt_messages_sent_total{qos="0"}`:                            1,
		`iotdm_mqtt_messages_sent_total{qos="1"}`:                            1,
		`iotdm_mqtt_sent_payload_bytes_total{qos="0"}`:                       5,
		`iotdm_mqtt_sent_payload_bytes_total{qos="1"}`:                       0,
		`iotdm_mqtt_authorization_denials_total{action="publish"}`:           2,
		`iotdm_mqtt_authorization_denials_total{action="receive"}`:           1,
		`iotdm_mqtt_authorization_denials_total{action="connect"}`:           1,
		`iotdm_mqtt_authorization_denials_total{action="subscribe"}`:         1,
		`iotdm_mqtt_authorization_denials_total{action="retain_publish"}`:    1,
		`iotdm_mqtt_authorization_denials_total{action="other"}`:             1,

		`iotdm_api_requests_total{code="200",operation="CreateThing",service="iot"}`:                   1,
		`iotdm_api_requests_total{code="409",operation="CreateThing",service="iot"}`:                   1,
		`iotdm_api_requests_total{code="200",operation="CreateLogGroup",service="logs"}`:               1,
		`iotdm_api_requests_total{code="403",operation="unknown",service="unknown"}`:                   1,
		`iotdm_api_request_duration_seconds_count{operation="CreateThing",service="iot"}`:              2,
		`iotdm_api_request_duration_seconds_bucket{operation="CreateThing",service="iot",le="0.001"}`:  0,
		`iotdm_api_request_duration_seconds_bucket{operation="CreateThing",service="iot",le="0.0025"}`: 1,
		`iotdm_api_request_duration_seconds_bucket{operation="CreateThing",service="iot",le="0.005"}`:  2,
		`iotdm_api_request_duration_seconds_bucket{operation="CreateThing",service="iot",le="+Inf"}`:   2,
		`iotdm_api_request_duration_seconds_sum{operation="CreateThing",service="iot"}`:                0.005,
		`iotdm_api_request_duration_seconds_count{operation="CreateLogGroup",service="logs"}`:          1,

		`iotdm_fleet_index_documents{index="AWS_Things"}`:      3,
		`iotdm_fleet_index_documents{index="AWS_ThingGroups"}`: 2,
		`iotdm_fleet_index_lag_changes`:                        5,
		`iotdm_fleet_index_lag_seconds`:                        1.5,

		`iotdm_store_commits_total{result="ok"}`:                  1,
		`iotdm_store_commits_total{result="error"}`:               1,
		`iotdm_store_committed_updates_total`:                     7,
		`iotdm_store_commit_duration_seconds_count`:               1,
		`iotdm_store_commit_duration_seconds_bucket{le="0.001"}`:  0,
		`iotdm_store_commit_duration_seconds_bucket{le="0.0025"}`: 1,
		`iotdm_store_commit_duration_seconds_sum`:                 0.002,
	}
	for sample, want := range wantSamples {
		got, ok := e.samples[sample]
		switch {
		case !ok:
			t.Errorf("sample %s missing", sample)
		case !approxEqual(got, want):
			t.Errorf("sample %s = %v, want %v", sample, got, want)
		}
	}
}

func approxEqual(a, b float64) bool {
	d := a - b
	return d < 1e-9 && d > -1e-9
}

func TestMetricNamesFollowConventions(t *testing.T) {
	m := New()
	m.SetIndexSource(func() (map[string]int, uint64, float64) { return map[string]int{"AWS_Things": 1}, 0, 0 })
	m.MQTTDisconnected("CONNECTION_LOST")
	m.MQTTConnectRefused("bad_credentials")
	m.ObserveRequest("iot", "ListThings", 200, time.Millisecond)
	problems, err := testutil.GatherAndLint(m.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, namespace+"_") {
			t.Errorf("lint %s: %s", p.Metric, p.Text)
		}
	}
}

func TestIndexSource(t *testing.T) {
	t.Run("absent until set", func(t *testing.T) {
		m := New()
		e := scrape(t, m.Handler())
		for _, name := range []string{"iotdm_fleet_index_documents", "iotdm_fleet_index_lag_changes", "iotdm_fleet_index_lag_seconds"} {
			if _, ok := e.types[name]; ok {
				t.Errorf("family %s exposed without an index source", name)
			}
		}
	})
	t.Run("asked at every scrape", func(t *testing.T) {
		m := New()
		n := 0
		m.SetIndexSource(func() (map[string]int, uint64, float64) {
			n++
			return map[string]int{"AWS_Things": n}, 0, 0
		})
		scrape(t, m.Handler())
		e := scrape(t, m.Handler())
		if got := e.samples[`iotdm_fleet_index_documents{index="AWS_Things"}`]; got != 2 {
			t.Errorf("second scrape: documents = %v, want 2", got)
		}
	})
	t.Run("cleared by nil", func(t *testing.T) {
		m := New()
		m.SetIndexSource(func() (map[string]int, uint64, float64) { return nil, 1, 1 })
		m.SetIndexSource(nil)
		if e := scrape(t, m.Handler()); len(e.types) == 0 {
			t.Fatal("scrape returned nothing")
		} else if _, ok := e.types["iotdm_fleet_index_lag_changes"]; ok {
			t.Error("iotdm_fleet_index_lag_changes exposed after SetIndexSource(nil)")
		}
	})
}

func TestIndexLag(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 10, 0, time.UTC)
	for _, tc := range []struct {
		name        string
		head, seq   uint64
		at          time.Time
		wantChanges uint64
		wantSeconds float64
	}{
		{"caught up", 10, 10, now.Add(-time.Hour), 0, 0},
		{"ahead of a stale head", 9, 10, now.Add(-time.Hour), 0, 0},
		{"behind", 15, 10, now.Add(-2500 * time.Millisecond), 5, 2.5},
		{"behind, commit time unknown", 15, 10, time.Time{}, 5, 0},
		{"clock went back", 11, 10, now.Add(time.Second), 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, s := IndexLag(tc.head, tc.seq, tc.at, now)
			if c != tc.wantChanges || !approxEqual(s, tc.wantSeconds) {
				t.Errorf("IndexLag(%d, %d, %v, now) = %d, %v, want %d, %v", tc.head, tc.seq, tc.at, c, s, tc.wantChanges, tc.wantSeconds)
			}
		})
	}
}

func TestCallerLabelsAreCapped(t *testing.T) {
	t.Run("disconnect reasons", func(t *testing.T) {
		m := New()
		for i := range 3 * maxReasons {
			m.MQTTConnected()
			m.MQTTDisconnected(fmt.Sprintf("REASON_%d", i))
		}
		m.MQTTDisconnected("")
		e := scrape(t, m.Handler())
		series, total := 0, 0.0
		for k, v := range e.samples {
			if strings.HasPrefix(k, "iotdm_mqtt_disconnects_total{") {
				series++
				total += v
			}
		}
		if series > maxReasons+1 {
			t.Errorf("disconnect series = %d, want at most %d", series, maxReasons+1)
		}
		if total != 3*maxReasons+1 {
			t.Errorf("disconnects counted = %v, want %d", total, 3*maxReasons+1)
		}
		if got := e.samples[`iotdm_mqtt_disconnects_total{reason="other"}`]; got == 0 {
			t.Error(`iotdm_mqtt_disconnects_total{reason="other"} = 0, want the overflow`)
		}
	})
	t.Run("api operations", func(t *testing.T) {
		m := New()
		for i := range maxOperations + 10 {
			m.ObserveRequest("iot", fmt.Sprintf("Op%d", i), 200, time.Millisecond)
		}
		e := scrape(t, m.Handler())
		if got := e.samples[`iotdm_api_requests_total{code="200",operation="other",service="other"}`]; got != 10 {
			t.Errorf(`requests of operation "other" = %v, want 10`, got)
		}
	})
	t.Run("odd status codes", func(t *testing.T) {
		m := New()
		m.ObserveRequest("iot", "ListThings", 0, time.Millisecond)
		m.ObserveRequest("iot", "ListThings", 1000, time.Millisecond)
		e := scrape(t, m.Handler())
		if got := e.samples[`iotdm_api_requests_total{code="unknown",operation="ListThings",service="iot"}`]; got != 2 {
			t.Errorf(`requests with code "unknown" = %v, want 2`, got)
		}
	})
}

func TestNilMetricsRecordNothing(t *testing.T) {
	var m *Metrics
	m.MQTTConnected()
	m.MQTTConnectRefused("x")
	m.MQTTDisconnected("x")
	m.MessageIn(0, 1)
	m.MessageOut(1, 1)
	m.Denied("iot:Publish")
	m.ObserveRequest("iot", "ListThings", 200, time.Millisecond)
	m.ObserveCommit(time.Millisecond, 1, nil)
	m.SetIndexSource(func() (map[string]int, uint64, float64) { return nil, 0, 0 })
}

func TestQoSAboveOneIsNotCounted(t *testing.T) {
	m := New()
	m.MessageIn(2, 100)
	m.MessageOut(255, 100)
	e := scrape(t, m.Handler())
	for k, v := range e.samples {
		if strings.Contains(k, `qos="2"`) || strings.HasPrefix(k, "iotdm_mqtt_") && strings.Contains(k, "qos=") && v != 0 {
			t.Errorf("%s = %v, want 0", k, v)
		}
	}
}

func TestHotPathsDoNotAllocate(t *testing.T) {
	m := New()
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"MessageIn", func() { m.MessageIn(1, 512) }},
		{"MessageOut", func() { m.MessageOut(0, 512) }},
		{"Denied", func() { m.Denied("iot:Receive") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(1000, tc.f); n != 0 {
				t.Errorf("%s allocates %v times per call, want 0", tc.name, n)
			}
		})
	}
}

// TestConcurrentUseAndScrape is for the race detector.
func TestConcurrentUseAndScrape(t *testing.T) {
	m := New()
	m.SetIndexSource(func() (map[string]int, uint64, float64) { return map[string]int{"AWS_Things": 1}, 0, 0 })
	h := m.Handler()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				m.MQTTConnected()
				m.MessageIn(byte(i%2), i)
				m.MessageOut(byte(i%2), i)
				m.Denied("iot:Receive")
				m.ObserveRequest("iot", fmt.Sprintf("Op%d", i%7), 200+g, time.Microsecond)
				m.ObserveCommit(time.Microsecond, 1, nil)
				m.MQTTDisconnected(fmt.Sprintf("R%d", i%5))
			}
		})
	}
	for range 5 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("scrape = %d, want 200", rec.Code)
		}
	}
	wg.Wait()
	e := scrape(t, h)
	want := map[string]float64{
		`iotdm_mqtt_connections`:                                   0,
		`iotdm_mqtt_connects_total{result="accepted"}`:             8 * 500,
		`iotdm_mqtt_messages_received_total{qos="0"}`:              8 * 250,
		`iotdm_mqtt_authorization_denials_total{action="receive"}`: 8 * 500,
		`iotdm_store_commits_total{result="ok"}`:                   8 * 500,
	}
	got := map[string]float64{}
	for k := range want {
		got[k] = e.samples[k]
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after concurrent use (-want +got):\n%s", diff)
	}
}

func BenchmarkMessageIn(b *testing.B) {
	m := New()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.MessageIn(byte(i&1), 256)
	}
}

func BenchmarkMessageInParallel(b *testing.B) {
	m := New()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.MessageIn(1, 256)
		}
	})
}

func BenchmarkMessageOut(b *testing.B) {
	m := New()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.MessageOut(byte(i&1), 256)
	}
}

func BenchmarkDenied(b *testing.B) {
	m := New()
	b.ReportAllocs()
	for b.Loop() {
		m.Denied("iot:Receive")
	}
}

func BenchmarkObserveRequest(b *testing.B) {
	m := New()
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveRequest("iot", "DescribeThing", 200, 300*time.Microsecond)
	}
}

func BenchmarkObserveCommit(b *testing.B) {
	m := New()
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveCommit(time.Millisecond, 16, nil)
	}
}

func BenchmarkScrape(b *testing.B) {
	m := New()
	m.SetIndexSource(func() (map[string]int, uint64, float64) { return map[string]int{"AWS_Things": 1}, 0, 0 })
	for i := range 200 {
		m.ObserveRequest("iot", fmt.Sprintf("Op%d", i), 200, time.Millisecond)
	}
	h := m.Handler()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
	}
}
