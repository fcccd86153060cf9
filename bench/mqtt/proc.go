package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/iotdm/iotdm/bench/internal/child"
	"net"
	"os"
	"strconv"
	"strings"
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
