package sim

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var attributeCases = []struct {
	in      string
	want    Attributes
	wantErr bool
}{
	{in: "", want: Attributes{}},
	{in: "  ", want: Attributes{}},
	{in: "firmware=1.0.0", want: Attributes{"firmware": {"1.0.0"}}},
	{in: "location=A|B|C, firmware = 1.0.0", want: Attributes{"location": {"A", "B", "C"}, "firmware": {"1.0.0"}}},
	{in: "empty=", want: Attributes{"empty": {""}}},
	{in: "a=b=c", want: Attributes{"a": {"b=c"}}},
	{in: "novalue", wantErr: true},
	{in: "=v", wantErr: true},
	{in: "a=1,a=2", wantErr: true},
	{in: "a=1,", wantErr: true},
}

func TestParseAttributes(t *testing.T) {
	for _, tc := range attributeCases {
		got, err := ParseAttributes(tc.in)
		if tc.wantErr {
			if err == nil {
				t.Errorf("ParseAttributes(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseAttributes(%q): %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ParseAttributes(%q) mismatch (-want +got):\n%s", tc.in, diff)
		}
	}
}

func FuzzParseAttributes(f *testing.F) {
	for _, tc := range attributeCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAttributes(s)
		if err != nil {
			return
		}
		// What parses prints back to something that parses the same.
		again, err := ParseAttributes(a.String())
		if err != nil {
			t.Fatalf("ParseAttributes(%q) printed as %q, which does not parse: %v", s, a.String(), err)
		}
		if diff := cmp.Diff(a, again); diff != "" {
			t.Fatalf("ParseAttributes(%q) and its print %q differ (-first +again):\n%s", s, a.String(), diff)
		}
	})
}

func TestAttributesDealValuesInTurn(t *testing.T) {
	a := Attributes{"location": {"A", "B"}, "firmware": {"1.0.0"}}
	var got []string
	for i := range 4 {
		m := a.For(i)
		got = append(got, m["location"]+"/"+m["firmware"])
	}
	if want := []string{"A/1.0.0", "B/1.0.0", "A/1.0.0", "B/1.0.0"}; !slices.Equal(got, want) {
		t.Errorf("For(0..3) = %v, want %v", got, want)
	}
	if m := (Attributes{}).For(3); m != nil {
		t.Errorf("empty Attributes.For = %v, want nil", m)
	}
}

func TestNames(t *testing.T) {
	if got, want := Names("sensor-", 1, 3), []string{"sensor-00001", "sensor-00002", "sensor-00003"}; !slices.Equal(got, want) {
		t.Errorf("Names(sensor-, 1, 3) = %v, want %v", got, want)
	}
	// The same device keeps its name in a larger run.
	if got := Names("s-", 1, 10000)[41]; got != "s-00042" {
		t.Errorf("Names(s-, 1, 10000)[41] = %q, want s-00042", got)
	}
	if got := Names("s-", 99999, 2); !slices.Equal(got, []string{"s-099999", "s-100000"}) {
		t.Errorf("Names(s-, 99999, 2) = %v", got)
	}
}

func TestSplitEndpoint(t *testing.T) {
	for _, tc := range []struct {
		in   string
		host string
		port int
		err  bool
	}{
		{"abc123-ats.iot.us-east-1.amazonaws.com", "abc123-ats.iot.us-east-1.amazonaws.com", 8883, false},
		{"127.0.0.1:18883", "127.0.0.1", 18883, false},
		{"localhost", "localhost", 8883, false},
		{"[::1]:9000", "::1", 9000, false},
		{"host:notaport", "", 0, true},
		{"", "", 0, true},
	} {
		host, port, err := SplitEndpoint(tc.in)
		if (err != nil) != tc.err || host != tc.host || port != tc.port {
			t.Errorf("SplitEndpoint(%q) = %q, %d, %v; want %q, %d, error %v", tc.in, host, port, err, tc.host, tc.port, tc.err)
		}
	}
}

func TestSchedulerRunsEventsInTimeOrder(t *testing.T) {
	s := newScheduler(time.Millisecond)
	ctx, cancel := context.WithCancel(t.Context())
	var (
		mu  sync.Mutex
		got []eventKind
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.run(ctx, func(e event) {
			mu.Lock()
			got = append(got, e.kind)
			n := len(got)
			mu.Unlock()
			if n == 3 {
				cancel()
			}
		})
	}()
	now := time.Now()
	s.add(event{at: now.Add(60 * time.Millisecond).UnixNano(), kind: evChurn})
	s.add(event{at: now.Add(30 * time.Millisecond).UnixNano(), kind: evShadow})
	s.add(event{at: now.Add(-time.Second).UnixNano(), kind: evTelemetry})
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		cancel()
		t.Fatal("scheduler did not run three events within 5s")
	}
	if want := []eventKind{evTelemetry, evShadow, evChurn}; !slices.Equal(got, want) {
		t.Errorf("events ran in order %v, want %v", got, want)
	}
	if took := time.Since(now); took < 55*time.Millisecond {
		t.Errorf("the last event ran after %v, before it was due (60ms)", took)
	}
}

func TestBackoffStaysWithinBounds(t *testing.T) {
	s := &Simulator{cfg: Config{ReconnectMin: time.Second, ReconnectMax: time.Minute}}
	for n := 1; n < 100; n++ {
		for range 50 {
			d := s.backoff(n)
			if d < time.Second || d > time.Minute {
				t.Fatalf("backoff(%d) = %v, want within [1s, 1m]", n, d)
			}
		}
	}
	if d := s.backoff(1); d > 2*time.Second {
		t.Errorf("backoff(1) = %v, want at most twice the minimum", d)
	}
}

func TestPayloadsAreJSON(t *testing.T) {
	d := &device{name: `quote"thing`, firmware: "1.2.0", baseTemp: 20, baseHumidity: 40, battery: 6, drain: 1, lastDrain: time.Now().Add(-2 * time.Second),
		extra: map[string]any{"led": "on", "interval": 5.0}}
	var tel map[string]any
	if err := json.Unmarshal(d.telemetry(time.Now()), &tel); err != nil {
		t.Fatalf("telemetry is not JSON: %v", err)
	}
	if tel["thingName"] != `quote"thing` || tel["seq"] != 1.0 {
		t.Errorf("telemetry = %v", tel)
	}
	// The battery ran below 5 % and was replaced.
	if b := tel["battery"].(float64); b < 99 {
		t.Errorf("battery = %v, want a fresh battery after draining below 5%%", b)
	}
	var rep struct {
		State struct {
			Reported map[string]any `json:"reported"`
		} `json:"state"`
	}
	if err := json.Unmarshal(d.report(time.Now()), &rep); err != nil {
		t.Fatalf("report is not JSON: %v", err)
	}
	r := rep.State.Reported
	if r["firmware"] != "1.2.0" || r["led"] != "on" || r["interval"] != 5.0 || math.IsNaN(r["temperature"].(float64)) {
		t.Errorf("reported = %v", r)
	}
}

func TestParseDelta(t *testing.T) {
	st, ok := parseDelta([]byte(`{"version":3,"timestamp":1,"state":{"firmware":"2.0.0"},"metadata":{}}`), false)
	if !ok || st["firmware"] != "2.0.0" {
		t.Errorf("parseDelta(delta) = %v, %v", st, ok)
	}
	st, ok = parseDelta([]byte(`{"state":{"desired":{"firmware":"2.0.0"},"reported":{"firmware":"1.0.0"},"delta":{"firmware":"2.0.0"}}}`), true)
	if !ok || st["firmware"] != "2.0.0" {
		t.Errorf("parseDelta(get/accepted) = %v, %v", st, ok)
	}
	if st, ok := parseDelta([]byte(`{"state":{"reported":{"firmware":"1.0.0"}}}`), true); !ok || len(st) != 0 {
		t.Errorf("parseDelta(get/accepted without delta) = %v, %v; want empty", st, ok)
	}
	if _, ok := parseDelta([]byte(`not json`), false); ok {
		t.Errorf("parseDelta(not json) ok")
	}
}
