package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// buildServer builds cmd/iotdm into dir.
func buildServer(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "iotdm")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/iotdm")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/iotdm: %w", err)
	}
	return bin, nil
}

type server struct {
	cmd     *exec.Cmd
	dataDir string
	logPath string
	url     string
	started time.Time     // just before fork/exec
	ready   time.Duration // from started to the first 200 of /healthz
	exited  chan struct{}
}

// startServer runs `iotdm serve` on dataDir with loopback listeners and
// waits (up to timeout) until /healthz answers 200.
func startServer(ctx context.Context, bin, dataDir, accessKey, secretKey string, timeout time.Duration) (*server, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	s := &server{dataDir: dataDir, logPath: filepath.Join(dataDir, "..", filepath.Base(dataDir)+".log"), exited: make(chan struct{})}
	logf, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	s.cmd = exec.Command(bin, "serve", "--data-dir", dataDir, "--http-addr", "127.0.0.1:0", "--mqtt-addr", "127.0.0.1:0", "--log-level", "debug")
	s.cmd.Env = append(os.Environ(), "IOTDM_ACCESS_KEY_ID="+accessKey, "IOTDM_SECRET_ACCESS_KEY="+secretKey)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	s.started = time.Now()
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start iotdm: %w", err)
	}
	go func() { _ = s.cmd.Wait(); close(s.exited) }()

	deadline := time.Now().Add(timeout)
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
	for {
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("iotdm not ready after %v (log %s)", timeout, s.logPath)
		}
		select {
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-s.exited:
			return nil, fmt.Errorf("iotdm exited during start (log %s)", s.logPath)
		case <-time.After(2 * time.Millisecond):
		}
		if s.url == "" {
			b, err := os.ReadFile(filepath.Join(dataDir, "server.json"))
			if err != nil {
				continue
			}
			var st struct {
				Endpoint string `json:"endpoint"`
				PID      int    `json:"pid"`
			}
			if json.Unmarshal(b, &st) != nil || st.PID != s.cmd.Process.Pid || !strings.HasPrefix(st.Endpoint, "http://127.0.0.1:") {
				continue
			}
			s.url = st.Endpoint
		}
		resp, err := hc.Get(s.url + "/healthz")
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			s.ready = time.Since(s.started)
			return s, nil
		}
	}
}

// stop sends SIGTERM and, after 20 s, SIGKILL to the server's process group.
func (s *server) stop() {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.exited:
		return
	default:
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.exited
	}
}

// rss reads VmRSS and VmHWM (bytes) of the server process.
func (s *server) rss() (rss, hwm int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "VmRSS:":
			rss = v * 1024
		case "VmHWM:":
			hwm = v * 1024
		}
	}
	if rss == 0 {
		return 0, 0, errors.New("no VmRSS in /proc status")
	}
	return rss, hwm, sc.Err()
}

// settledRSS samples RSS every 250 ms for d (the Go runtime's background GC
// and scavenger return memory over a few seconds) and returns the last
// sample, the smallest, and the peak.
func (s *server) settledRSS(ctx context.Context, d time.Duration) (last, lowest, peak int64, err error) {
	end := time.Now().Add(d)
	for {
		r, h, err := s.rss()
		if err != nil {
			return 0, 0, 0, err
		}
		last, peak = r, h
		if lowest == 0 || r < lowest {
			lowest = r
		}
		if time.Now().After(end) {
			return last, lowest, peak, nil
		}
		select {
		case <-ctx.Done():
			return last, lowest, peak, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// logTimes returns the times of the store's "sqlite: opened" and the fleet
// index's "fleet index built" lines, and the attributes of the latter.
func (s *server) logTimes() (opened, built time.Time, builtLine string) {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		t := logTime(line)
		switch {
		case strings.Contains(line, `msg="sqlite: opened"`) && opened.IsZero():
			opened = t
		case strings.Contains(line, `msg="fleet index built"`) && built.IsZero():
			built, builtLine = t, line
		}
	}
	return
}

func logTime(line string) time.Time {
	if !strings.HasPrefix(line, "time=") {
		return time.Time{}
	}
	v, _, _ := strings.Cut(strings.TrimPrefix(line, "time="), " ")
	t, _ := time.Parse(time.RFC3339Nano, v)
	return t
}

// logWarnings returns the server log's WARN and ERROR lines (at most max).
func (s *server) logWarnings(max int) []string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return nil
	}
	var out []string
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
			if len(out) < max {
				out = append(out, line)
			}
		}
	}
	return out
}
