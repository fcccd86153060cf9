package main

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/eclipse/paho.golang/paho"
)

// scrapeMetrics GETs /metrics and returns its samples by series.
func scrapeMetrics(t *testing.T, s *server) map[string]float64 {
	t.Helper()
	resp, err := http.Get(s.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics = %d, want 200", resp.StatusCode)
	}
	samples := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample %q", line)
		}
		samples[line[:i]] = v
	}
	return samples
}

// TestMetricsEndpoint holds /metrics to what the API, the broker, the
// store and the fleet index did.
func TestMetricsEndpoint(t *testing.T) {
	f := newMQFixture(t)
	ctx := context.Background()
	d1 := f.device("temp-sensor-01")
	f.device("temp-sensor-02")

	var nf *types.ResourceNotFoundException
	if _, err := f.c.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("nope")}); !errors.As(err, &nf) {
		t.Fatalf("DescribeThing(nope) = %v, want ResourceNotFoundException", err)
	}
	f.refused5("another thing's client id", d1, "temp-sensor-02", 0x87)
	c1 := f.mustConnect5(d1, "temp-sensor-01")
	c1.subscribe(t, "devices/temp-sensor-01/#", "devices/temp-sensor-02/#")
	c1.mustPublish(t, "devices/temp-sensor-01/telemetry", "hello")
	c1.next(t, "device 1")
	c1.refusedPublish(t, "devices/temp-sensor-02/telemetry", false)
	c1.Disconnect(&paho.Disconnect{})

	want := map[string]float64{
		`iotdm_api_requests_total{code="200",operation="CreateThing",service="iot"}`:   2,
		`iotdm_api_requests_total{code="404",operation="DescribeThing",service="iot"}`: 1,
		`iotdm_mqtt_connects_total{result="accepted"}`:                                 1,
		`iotdm_mqtt_connects_total{result="not_authorized"}`:                           1,
		`iotdm_mqtt_connections`: 0,
		`iotdm_mqtt_disconnects_total{reason="CLIENT_INITIATED_DISCONNECT"}`: 1,
		`iotdm_mqtt_messages_received_total{qos="1"}`:                        1,
		`iotdm_mqtt_received_payload_bytes_total{qos="1"}`:                   5,
		`iotdm_mqtt_messages_sent_total{qos="1"}`:                            1,
		`iotdm_mqtt_authorization_denials_total{action="connect"}`:           1,
		`iotdm_mqtt_authorization_denials_total{action="publish"}`:           1,
		`iotdm_mqtt_authorization_denials_total{action="subscribe"}`:         1,
		`iotdm_fleet_index_documents{index="AWS_Things"}`:                    2,
		`iotdm_fleet_index_lag_changes`:                                      0,
	}
	deadline := time.Now().Add(mqWait)
	for {
		got := scrapeMetrics(t, f.s)
		var bad []string
		for k, v := range want {
			if g, ok := got[k]; !ok || g != v {
				bad = append(bad, k+" = "+strconv.FormatFloat(g, 'g', -1, 64)+", want "+strconv.FormatFloat(v, 'g', -1, 64))
			}
		}
		for _, k := range []string{`iotdm_store_commits_total{result="ok"}`, `iotdm_store_commit_duration_seconds_count`,
			`iotdm_api_request_duration_seconds_count{operation="CreateThing",service="iot"}`, `go_goroutines`} {
			if got[k] == 0 {
				bad = append(bad, k+" = 0, want > 0")
			}
		}
		if len(bad) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics:\n%s", strings.Join(bad, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The API edge, not /metrics, answers other methods.
	resp, err := http.Post(f.s.URL()+"/metrics", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Errorf("POST /metrics = 200, want the API edge's refusal")
	}
}
