package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/iotdm/iotdm/bench/internal/child"
	"github.com/iotdm/iotdm/bench/internal/host"
	"github.com/iotdm/iotdm/stacks"
)

const (
	benchAccessKey = "AKIAIOTDMSIMBENCH000"
	benchSecretKey = "iotdm-sim-bench-secret-key-000000000000"
)

// serverState is what the bench reads of DATA-DIR/server.json.
type serverState struct {
	PID      int    `json:"pid"`
	Endpoint string `json:"endpoint"`
	MQTTAddr string `json:"mqttAddr"`
	Region   string `json:"region"`
}

// iotdm is the server under test, a child process.
type iotdm struct {
	proc    *child.Process
	dataDir string
	st      serverState
	awsCfg  aws.Config
}

// startIotdm builds cmd/iotdm and starts `iotdm serve` on a fresh data
// directory with the bench's admin key. Fleet metrics may have periods from
// one second (--fleet-metric-min-period), for the freshness measurement.
func startIotdm(ctx context.Context, root, dir string) (*iotdm, error) {
	bin := filepath.Join(dir, "iotdm")
	logf("building ./cmd/iotdm")
	if err := host.GoBuild(ctx, root, "./cmd/iotdm", bin); err != nil {
		return nil, err
	}
	s := &iotdm{dataDir: filepath.Join(dir, "data")}
	if err := os.MkdirAll(s.dataDir, 0o700); err != nil {
		return nil, err
	}
	p, err := child.Start("iotdm", filepath.Join(dir, "iotdm.log"),
		[]string{"IOTDM_ACCESS_KEY_ID=" + benchAccessKey, "IOTDM_SECRET_ACCESS_KEY=" + benchSecretKey},
		bin, "serve", "--data-dir", s.dataDir, "--http-addr", "127.0.0.1:0", "--mqtt-addr", "127.0.0.1:0",
		"--fleet-metric-min-period", "1s")
	if err != nil {
		return nil, err
	}
	s.proc = p
	if err := s.wait(ctx, time.Minute); err != nil {
		p.Stop(5 * time.Second)
		return nil, err
	}
	s.awsCfg = aws.Config{Region: s.st.Region,
		Credentials: credentials.NewStaticCredentialsProvider(benchAccessKey, benchSecretKey, "")}
	return s, nil
}

func (s *iotdm) wait(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	for {
		if s.proc.Exited() {
			return fmt.Errorf("iotdm exited during start (%v); log tail:\n%s", s.proc.WaitErr(), s.proc.LogTail(2000))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("iotdm not ready after %v; log tail:\n%s", timeout, s.proc.LogTail(2000))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		b, err := os.ReadFile(filepath.Join(s.dataDir, "server.json"))
		if err != nil || json.Unmarshal(b, &s.st) != nil || s.st.PID != s.proc.Pid() || s.st.Endpoint == "" || s.st.MQTTAddr == "" {
			continue
		}
		resp, err := hc.Get(s.st.Endpoint + "/healthz")
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
	}
}

func (s *iotdm) stop() { s.proc.Stop(30 * time.Second) }

// iot is an AWS IoT client for conns concurrent callers.
func (s *iotdm) iot(conns int) *iot.Client {
	return iot.NewFromConfig(s.awsCfg, func(o *iot.Options) {
		o.BaseEndpoint = aws.String(s.st.Endpoint)
		o.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			tr.Proxy = nil
			tr.MaxIdleConns, tr.MaxIdleConnsPerHost = conns+8, conns+8
		})
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = 8
			so.RateLimiter = ratelimit.None
		})
	})
}

func (s *iotdm) cloudWatch() *cloudwatch.Client {
	return cloudwatch.NewFromConfig(s.awsCfg, func(o *cloudwatch.Options) { o.BaseEndpoint = aws.String(s.st.Endpoint) })
}

// deploySeed creates the seed stack (IoTDeviceManagementStack) through the
// CloudFormation API and returns its outputs.
func (s *iotdm) deploySeed(ctx context.Context) (map[string]string, error) {
	c := cfn.NewFromConfig(s.awsCfg, func(o *cfn.Options) { o.BaseEndpoint = aws.String(s.st.Endpoint) })
	_, err := c.CreateStack(ctx, &cfn.CreateStackInput{StackName: aws.String(stacks.SeedName), TemplateBody: aws.String(string(stacks.Seed)),
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam, cfntypes.CapabilityCapabilityNamedIam}})
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", stacks.SeedName, err)
	}
	for {
		out, err := c.DescribeStacks(ctx, &cfn.DescribeStacksInput{StackName: aws.String(stacks.SeedName)})
		if err != nil {
			return nil, err
		}
		st := out.Stacks[0]
		switch {
		case st.StackStatus == cfntypes.StackStatusCreateComplete:
			m := map[string]string{}
			for _, o := range st.Outputs {
				m[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
			}
			return m, nil
		case !strings.HasSuffix(string(st.StackStatus), "_IN_PROGRESS"):
			return nil, fmt.Errorf("%s ended in %s: %s", stacks.SeedName, st.StackStatus, aws.ToString(st.StackStatusReason))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// metrics scrapes the server's Prometheus counters (names without labels
// summed over their label sets).
func (s *iotdm) metrics(ctx context.Context) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.st.Endpoint+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	var b strings.Builder
	buf := make([]byte, 64<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	out := map[string]float64{}
	for line := range strings.Lines(b.String()) {
		if strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name := f[0]
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
		}
		var v float64
		if _, err := fmt.Sscan(f[len(f)-1], &v); err == nil {
			out[name] += v
		}
	}
	return out, nil
}

// raiseOpenFiles raises RLIMIT_NOFILE to want if the hard limit allows,
// else to the hard limit; children inherit it.
func raiseOpenFiles(want uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	lim.Cur = min(max(lim.Cur, want), lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	return lim.Cur, nil
}

var errTooManyDevices = errors.New("open-files limit too low for this many devices")
