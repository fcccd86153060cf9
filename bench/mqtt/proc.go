package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/iotdm/iotdm/bench/internal/child"
	"net"
	"os"
	"os/exec"
	"path/filepath"
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

// moduleRoot returns the directory of the main module's go.mod.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module: run from the iotdm repository")
	}
	return filepath.Dir(gomod), nil
}

// goBuild builds the package pkg of the module at root into out.
func goBuild(ctx context.Context, root, pkg, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// loadAvg is the 1, 5 and 15 minute load average.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// revision is the work tree's commit, marked "(dirty)" when it has
// uncommitted or untracked files.
func revision(root string) string {
	cmd := exec.Command("git", "rev-parse", "--short", "HEAD")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "?"
	}
	rev := strings.TrimSpace(string(out))
	cmd = exec.Command("git", "status", "--porcelain")
	cmd.Dir = root
	if st, err := cmd.Output(); err == nil && len(st) > 0 {
		rev += " (dirty)"
	}
	return rev
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "?"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// memTotal is MemTotal of /proc/meminfo in bytes.
func memTotal() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n * 1024
			}
		}
	}
	return 0
}
