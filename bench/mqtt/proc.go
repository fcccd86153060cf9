package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/iotdm/iotdm/bench/internal/child"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// status reads the fields of /proc/PID/status that are sizes in kB, in
// bytes (VmRSS, VmHWM, ...).
func procStatus(p *child.Process) (map[string]int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 3 && fields[2] == "kB" {
			v, _ := strconv.ParseInt(fields[1], 10, 64)
			out[strings.TrimSuffix(fields[0], ":")] = v * 1024
		}
	}
	return out, sc.Err()
}

// rss is the process's VmRSS in bytes.
func procRSS(p *child.Process) (int64, error) {
	st, err := procStatus(p)
	if err != nil {
		return 0, err
	}
	v, ok := st["VmRSS"]
	if !ok {
		return 0, errors.New("no VmRSS in /proc status")
	}
	return v, nil
}

// settledRSS samples VmRSS every 250 ms for d and returns the last sample
// and the smallest.
func settledRSS(p *child.Process, ctx context.Context, d time.Duration) (last, lowest int64, err error) {
	end := time.Now().Add(d)
	for {
		r, err := procRSS(p)
		if err != nil {
			return 0, 0, err
		}
		last = r
		if lowest == 0 || r < lowest {
			lowest = r
		}
		if !time.Now().Before(end) {
			return last, lowest, nil
		}
		select {
		case <-ctx.Done():
			return last, lowest, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// openFilesLimit is the soft "Max open files" of the process, from
// /proc/PID/limits (0 when unknown).
func openFilesLimit(p *child.Process) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", p.Pid()))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Max open files"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				if f[0] == "unlimited" {
					return 1 << 30
				}
				n, _ := strconv.Atoi(f[0])
				return n
			}
		}
	}
	return 0
}

// raiseOpenFiles raises this process's RLIMIT_NOFILE to want (soft and
// hard) if it may, else the soft limit to the hard one, and returns the
// resulting soft and hard limits. Setting it explicitly also makes the
// children (the brokers) inherit it: the Go runtime otherwise gives them
// back the soft limit this process started with.
func raiseOpenFiles(want uint64) (soft, hard uint64, err error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, 0, fmt.Errorf("getrlimit: %w", err)
	}
	if lim.Max < want {
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: want, Max: want}) == nil {
			return want, want, nil
		}
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, 0, fmt.Errorf("setrlimit: %w", err)
	}
	return lim.Cur, lim.Max, nil
}

// waitTCP waits until addr accepts TCP connections, the process exits, ctx
// ends or timeout passes.
func waitTCP(ctx context.Context, p *child.Process, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if p.Exited() {
			return fmt.Errorf("%s exited during start (%v); log tail:\n%s", p.Name, p.WaitErr(), p.LogTail(2000))
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s does not accept connections on %s after %v: %v; log tail:\n%s", p.Name, addr, timeout, err, p.LogTail(2000))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// clockTicks is the kernel's clock ticks per second (USER_HZ), the unit of
// the CPU times in /proc: `getconf CLK_TCK`, or 100 if that fails.
var clockTicks = sync.OnceValue(func() float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		n, perr := strconv.Atoi(strings.TrimSpace(string(out)))
		if perr == nil && n > 0 {
			return float64(n)
		}
		err = fmt.Errorf("output %q", out)
	}
	logf("getconf CLK_TCK: %v; assuming 100 clock ticks per second", err)
	return 100
})

// parsePIDStatCPU is utime + stime (fields 14 and 15 of /proc/PID/stat, in
// clock ticks): the CPU time of all the process's threads. The command
// name (field 2) is in parentheses and may hold spaces and parentheses
// itself, so the fields are counted from the last ")".
func parsePIDStatCPU(b []byte) (int64, error) {
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("/proc/PID/stat: no \")\" after the command name")
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3, the state
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/PID/stat: %d fields after the command name, want at least 13", len(f))
	}
	var sum int64
	for _, k := range []int{14, 15} {
		v, err := strconv.ParseInt(f[k-3], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/PID/stat field %d: %w", k, err)
		}
		sum += v
	}
	return sum, nil
}

// parseStatBusy is the busy time of all the machine's CPUs, in clock
// ticks, from the "cpu " line of /proc/stat: every field but idle (the
// 4th) and iowait (the 5th), and but guest and guest_nice (the 9th and
// 10th), which the kernel counts in user and nice already.
func parseStatBusy(b []byte) (int64, error) {
	for line := range strings.Lines(string(b)) {
		rest, ok := strings.CutPrefix(line, "cpu ")
		if !ok {
			continue
		}
		var busy int64
		for k, field := range strings.Fields(rest) {
			v, err := strconv.ParseInt(field, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/stat cpu field %d: %w", k+1, err)
			}
			switch k + 1 {
			case 4, 5, 9, 10: // idle, iowait, guest, guest_nice
			default:
				busy += v
			}
		}
		return busy, nil
	}
	return 0, errors.New(`/proc/stat: no "cpu " line`)
}

// cpuSample is the CPU time used so far by the broker, by this process and
// by the whole machine.
type cpuSample struct {
	at      time.Time
	broker  int64 // clock ticks
	self    time.Duration
	machine int64 // clock ticks
}

// sampleCPU reads the CPU times of the broker process p (/proc/PID/stat),
// of this process (getrusage) and of the machine (/proc/stat).
func sampleCPU(p *child.Process) (cpuSample, error) {
	s := cpuSample{at: time.Now()}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Pid()))
	if err != nil {
		return s, err
	}
	if s.broker, err = parsePIDStatCPU(b); err != nil {
		return s, err
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return s, fmt.Errorf("getrusage: %w", err)
	}
	s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	if b, err = os.ReadFile("/proc/stat"); err != nil {
		return s, err
	}
	s.machine, err = parseStatBusy(b)
	return s, err
}

// cpuUse is the CPU used over a window, in cores: CPU time / wall time
// (1.00 is one core busy the whole window).
type cpuUse struct {
	broker, bench, machine float64
}

// cpuBetween is the CPU used from sample a to sample b, with ticks clock
// ticks per second.
func cpuBetween(a, b cpuSample, ticks float64) cpuUse {
	el := b.at.Sub(a.at).Seconds()
	if el <= 0 || ticks <= 0 {
		return cpuUse{}
	}
	return cpuUse{
		broker:  float64(b.broker-a.broker) / ticks / el,
		bench:   (b.self - a.self).Seconds() / el,
		machine: float64(b.machine-a.machine) / ticks / el,
	}
}

// Go runtime gauges of iotdm's /metrics that the idle runs read.
const (
	metGoroutines = "go_goroutines"
	metStack      = "go_memstats_stack_inuse_bytes"
	metHeap       = "go_memstats_heap_inuse_bytes"
)

// goGauges are iotdm's Go runtime gauges at one moment (or their change
// per connection).
type goGauges struct {
	goroutines float64
	stack      float64 // bytes of goroutine stacks in use
	heap       float64 // bytes of heap spans in use
}

// parsePromGauges returns the values of the unlabelled samples named names
// in a Prometheus text exposition ("name value" or "name value
// timestamp"; comments and other samples are skipped), or an error naming
// one that is not there.
func parsePromGauges(text string, names ...string) (map[string]float64, error) {
	out := map[string]float64{}
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.IndexAny(line, " \t{")
		if i <= 0 {
			continue
		}
		name, rest := line[:i], line[i:]
		if !slices.Contains(names, name) {
			continue
		}
		if r, ok := strings.CutPrefix(rest, "{}"); ok {
			rest = r
		} else if rest[0] == '{' {
			continue // labelled: not one of the gauges asked for
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return nil, fmt.Errorf("metrics: %s without a value", name)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics: %s: %w", name, err)
		}
		out[name] = v
	}
	for _, n := range names {
		if _, ok := out[n]; !ok {
			return nil, fmt.Errorf("metrics: no %s", n)
		}
	}
	return out, nil
}

// scrapeGoGauges reads iotdm's Go runtime gauges from its /metrics (url).
func scrapeGoGauges(ctx context.Context, url string) (goGauges, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return goGauges{}, err
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := hc.Do(req)
	if err != nil {
		return goGauges{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return goGauges{}, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return goGauges{}, fmt.Errorf("GET %s: %w", url, err)
	}
	m, err := parsePromGauges(string(b), metGoroutines, metStack, metHeap)
	if err != nil {
		return goGauges{}, err
	}
	return goGauges{goroutines: m[metGoroutines], stack: m[metStack], heap: m[metHeap]}, nil
}

// perConnGauges is the change from before to after divided by n
// connections (zero when n is not positive).
func perConnGauges(before, after goGauges, n int) goGauges {
	if n <= 0 {
		return goGauges{}
	}
	d := float64(n)
	return goGauges{
		goroutines: (after.goroutines - before.goroutines) / d,
		stack:      (after.stack - before.stack) / d,
		heap:       (after.heap - before.heap) / d,
	}
}
