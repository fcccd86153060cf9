package main

import (
	"context"
	"testing"
	"time"
)

// startTestMosquitto starts mosquitto with the bench's configuration, or
// fails the test: the comparison is the point of this program.
func startTestMosquitto(t *testing.T, certs int) *target {
	t.Helper()
	if _, err := mosquittoBin(); err != nil {
		t.Fatalf("%v (the MQTT bench compares iotdm with mosquitto; its test needs the broker)", err)
	}
	keys, err := newDeviceKeys(certs)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tg, err := startMosquitto(ctx, t.TempDir(), keys)
	if err != nil {
		t.Fatalf("startMosquitto: %v", err)
	}
	t.Cleanup(tg.stop)
	return tg
}

// TestMeasurementsAgainstMosquitto runs every measurement loop briefly
// against mosquitto and checks that each one measured something.
func TestMeasurementsAgainstMosquitto(t *testing.T) {
	tg := startTestMosquitto(t, 8)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	if what, err := checkEnforcement(ctx, tg); err != nil {
		t.Errorf("checkEnforcement = %v, want the ACL enforced", err)
	} else {
		t.Logf("enforcement: %s", what)
	}

	const warm, dur = 50 * time.Millisecond, 300 * time.Millisecond
	for _, s := range flowSpecs(4) {
		res, err := runFlow(ctx, tg, s, 64, warm, dur)
		if err != nil || res.err != "" {
			t.Fatalf("runFlow(%s QoS %d) = %v / %s", s.pattern, s.qos, err, res.err)
		}
		if res.delivered == 0 || res.lost != 0 {
			t.Errorf("runFlow(%s QoS %d): %d delivered, %d lost; want deliveries and no loss", s.pattern, s.qos, res.delivered, res.lost)
		}
		t.Logf("%s QoS %d: %.0f msg/s", s.pattern, s.qos, res.rate)
	}

	lat, err := runLatency(ctx, tg, 4, 2000, 64, warm, dur)
	if err != nil || lat.err != "" {
		t.Fatalf("runLatency = %v / %s", err, lat.err)
	}
	if len(lat.lat) < 100 || lat.lat.pct(50) <= 0 {
		t.Errorf("runLatency: %d samples at 2000 msg/s for %v, p50 %v; want about 600", len(lat.lat), dur, lat.lat.pct(50))
	}
	if !lat.cpuOK || lat.cpu.bench <= 0 || lat.cpu.machine <= 0 || lat.cpu.broker < 0 {
		t.Errorf("runLatency CPU = %+v (read: %v, %s); want the bench's and the machine's above 0", lat.cpu, lat.cpuOK, lat.cpuErr)
	}
	t.Logf("latency at 2000 msg/s: p50 %v p99 %v (%d samples); CPU %+v", lat.lat.pct(50), lat.lat.pct(99), len(lat.lat), lat.cpu)

	hs, err := runHandshakes(ctx, tg, 2, warm, dur)
	if err != nil || hs.failures > 0 || hs.rate == 0 {
		t.Errorf("runHandshakes = %.0f/s, %d failures, %v / %s", hs.rate, hs.failures, err, hs.err)
	}

	idle, err := runIdle(ctx, tg, 200, 100*time.Millisecond)
	if err != nil || idle.ponged != idle.pinged || idle.after <= idle.before {
		t.Errorf("runIdle(200) = %+v, %v; want every sampled connection served and RSS grown", idle, err)
	}
	if idle.hwmAfter < idle.after || idle.scraped || idle.metricsErr != "" {
		t.Errorf("runIdle(200): VmHWM %d, VmRSS %d, scraped %v (%s); want VmHWM ≥ VmRSS and no /metrics for mosquitto",
			idle.hwmAfter, idle.after, idle.scraped, idle.metricsErr)
	}
	t.Logf("idle: %.1f KiB per connection", idle.perConn()/1024)
}

func TestPercentileIsNearestRank(t *testing.T) {
	var d durations
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50}, {99, 99}, {99.9, 100}, {100, 100}, {1, 1}} {
		if got := d.pct(c.p); got != c.want {
			t.Errorf("pct(%v) = %v, want %v", c.p, got, c.want)
		}
	}
	if got := (durations{}).pct(50); got != 0 {
		t.Errorf("empty pct(50) = %v, want 0", got)
	}
}

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"-idle", "10000, 50000", "-skip", "iotdm,idle", "-clients", "4"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.idle) != 2 || cfg.idle[1] != 50000 || !cfg.skip[brokerIotdm] || !cfg.skip[scIdle] || cfg.certs != 8 {
		t.Errorf("parseFlags = %+v", cfg)
	}
	for _, bad := range [][]string{{"-skip", "nope"}, {"-idle", "x"}, {"-rounds", "0"}, {"-payload", "8"}} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("parseFlags(%q) = nil error", bad)
		}
	}
}
