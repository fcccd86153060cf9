package main

import (
	"math"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestParsePIDStatCPU(t *testing.T) {
	// Fields 14 and 15 (utime 1234, stime 567); the command name holds a
	// space and parentheses.
	line := "4242 (iotdm (x) y) S 1 4242 4242 0 -1 4194560 12345 0 0 0 1234 567 0 0 20 0 12 0 98765 1234567890 4321 18446744073709551615\n"
	got, err := parsePIDStatCPU([]byte(line))
	if err != nil || got != 1234+567 {
		t.Errorf("parsePIDStatCPU = %d, %v; want %d", got, err, 1234+567)
	}
	for _, bad := range []string{"", "4242 iotdm S 1 2 3", "4242 (iotdm) S 1 2 3 4 5", "4242 (iotdm) S 1 4242 4242 0 -1 4194560 12345 0 0 0 x 567 0"} {
		if _, err := parsePIDStatCPU([]byte(bad)); err == nil {
			t.Errorf("parsePIDStatCPU(%q) = nil error", bad)
		}
	}
	if runtime.GOOS == "linux" {
		b, err := os.ReadFile("/proc/self/stat")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parsePIDStatCPU(b); err != nil {
			t.Errorf("parsePIDStatCPU(/proc/self/stat) = %v", err)
		}
	}
}

func TestParseStatBusy(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice:
	// busy is all but idle and iowait, and but guest and guest_nice, which
	// user and nice include.
	text := "cpu  1000 20 300 9000 50 4 60 7 100 10\ncpu0 500 10 150 4500 25 2 30 3 50 5\nintr 1 2 3\n"
	got, err := parseStatBusy([]byte(text))
	if want := int64(1000 + 20 + 300 + 4 + 60 + 7); err != nil || got != want {
		t.Errorf("parseStatBusy = %d, %v; want %d", got, err, want)
	}
	// Older kernels have fewer fields.
	if got, err := parseStatBusy([]byte("cpu  1 2 3 4\n")); err != nil || got != 6 {
		t.Errorf("parseStatBusy(4 fields) = %d, %v; want 6", got, err)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4\n", "cpu  1 x 3 4\n"} {
		if _, err := parseStatBusy([]byte(bad)); err == nil {
			t.Errorf("parseStatBusy(%q) = nil error", bad)
		}
	}
	if runtime.GOOS == "linux" {
		b, err := os.ReadFile("/proc/stat")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := parseStatBusy(b); err != nil || got <= 0 {
			t.Errorf("parseStatBusy(/proc/stat) = %d, %v", got, err)
		}
	}
}

func TestCPUBetween(t *testing.T) {
	t0 := time.Unix(1000, 0)
	a := cpuSample{at: t0, broker: 100, self: 2 * time.Second, machine: 1000}
	b := cpuSample{at: t0.Add(2 * time.Second), broker: 330, self: 3500 * time.Millisecond, machine: 1700}
	got := cpuBetween(a, b, 100)
	want := cpuUse{broker: 1.15, bench: 0.75, machine: 3.5}
	if math.Abs(got.broker-want.broker) > 1e-9 || math.Abs(got.bench-want.bench) > 1e-9 || math.Abs(got.machine-want.machine) > 1e-9 {
		t.Errorf("cpuBetween = %+v, want %+v", got, want)
	}
	if got := cpuBetween(a, a, 100); got != (cpuUse{}) {
		t.Errorf("cpuBetween over no time = %+v, want zero", got)
	}
}

func TestClockTicks(t *testing.T) {
	if got := clockTicks(); got <= 0 {
		t.Errorf("clockTicks() = %v, want positive", got)
	}
}

func TestParsePromGauges(t *testing.T) {
	text := `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 20034
# HELP go_memstats_stack_inuse_bytes Number of bytes obtained from system for stack allocator in non-CGO environments.
# TYPE go_memstats_stack_inuse_bytes gauge
go_memstats_stack_inuse_bytes{} 2.4576e+08 1700000000000
go_memstats_heap_inuse_bytes_extra 1
go_memstats_heap_inuse_bytes{kind="other"} 5
go_memstats_heap_inuse_bytes	1.23456789e+08
go_info{version="go1.26 x"} 1
`
	got, err := parsePromGauges(text, metGoroutines, metStack, metHeap)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{metGoroutines: 20034, metStack: 2.4576e+08, metHeap: 1.23456789e+08}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("parsePromGauges = %v, want only %v", got, want)
	}
	if _, err := parsePromGauges("go_goroutines 3\n", metGoroutines, metStack); err == nil || !strings.Contains(err.Error(), metStack) {
		t.Errorf("missing gauge: err = %v, want one naming %s", err, metStack)
	}
	if _, err := parsePromGauges("go_goroutines many\n", metGoroutines); err == nil {
		t.Error("bad value: nil error")
	}
}

func TestPerConnGauges(t *testing.T) {
	before := goGauges{goroutines: 34, stack: 1 << 20, heap: 8 << 20}
	after := goGauges{goroutines: 20034, stack: 1<<20 + 10000*24*1024, heap: 8<<20 + 10000*6*1024}
	got := perConnGauges(before, after, 10000)
	if want := (goGauges{goroutines: 2, stack: 24 * 1024, heap: 6 * 1024}); got != want {
		t.Errorf("perConnGauges = %+v, want %+v", got, want)
	}
	if got := perConnGauges(before, after, 0); got != (goGauges{}) {
		t.Errorf("perConnGauges(0 connections) = %+v, want zero", got)
	}
	r := idleResult{conns: 10000, goBefore: before, goAfter: after}
	if r.goPerConn() != perConnGauges(before, after, 10000) {
		t.Errorf("goPerConn = %+v", r.goPerConn())
	}
}

// TestReportShowsCPUAndIdleGo checks the new columns and the iotdm table
// of the report, a failed scrape included.
func TestReportShowsCPUAndIdleGo(t *testing.T) {
	cfg, err := parseFlags([]string{"-rate", "20000", "-idle", "1000"})
	if err != nil {
		t.Fatal(err)
	}
	r := newReport(cfg, ".")
	r.brokers = []string{brokerIotdm, brokerMosquitto}
	r.idleCounts = []int{1000}
	lat := durations{time.Millisecond, 2 * time.Millisecond}
	r.addLatency("own", brokerIotdm, latResult{offered: 20000, achieved: 20000, lat: lat, cpu: cpuUse{1.154, 0.5, 1.9}, cpuOK: true})
	r.addLatency("own", brokerMosquitto, latResult{offered: 20000, achieved: 20000, lat: lat, cpuErr: "open /proc/1/stat: gone"})
	g0 := goGauges{goroutines: 30, stack: 1 << 20, heap: 4 << 20}
	g1 := goGauges{goroutines: 2030, stack: 1<<20 + 1000*24*1024, heap: 4<<20 + 1000*8*1024}
	r.addIdle(1000, brokerIotdm, idleResult{conns: 1000, before: 20 << 20, after: 60 << 20, hwmAfter: 90 << 20, goBefore: g0, goAfter: g1, scraped: true})
	r.addIdle(1000, brokerIotdm, idleResult{conns: 1000, before: 20 << 20, after: 60 << 20, hwmAfter: 90 << 20, metricsErr: "before the connections: connection refused"})
	r.addIdle(1000, brokerMosquitto, idleResult{conns: 1000, before: 1 << 20, after: 5 << 20, hwmAfter: 6 << 20})
	out := r.render()
	for _, want := range []string{
		"| broker CPU | bench CPU | machine busy |",
		"| 1.15 | 0.50 | 1.90 |",
		"| — | — | — |",
		"CPU not measured: open /proc/1/stat: gone",
		"| VmHWM after |",
		"| 60.0 MiB | 90.0 MiB |",
		"#### iotdm, where the memory of an idle connection goes",
		"| 1,000 | 2.0 | 2.0 / ERR | 24.0 KiB | 24.0 KiB / ERR | 8.0 KiB | 8.0 KiB / ERR |",
		"- idle 1000, iotdm /metrics: before the connections: connection refused",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}
