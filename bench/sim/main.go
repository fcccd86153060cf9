// Command sim measures iotdm with a simulated device fleet, end to end, on
// this machine: it builds and starts `iotdm serve` (a child process),
// deploys the seed stack, provisions N devices through the AWS IoT API
// (internal/sim, as `iotdm provision` does), runs them with the fleet
// simulator in this process (as `iotdm simulate` does) and measures the
// provisioning rate, the connect ramp, steady-state throughput (devices
// connected, telemetry and shadow updates per second), the CPU and memory
// of server and simulator, and freshness: the time from a device's firmware
// report to its membership in a shadow-based and an attribute-based dynamic
// thing group, and to a fleet metric's datapoint. It prints a markdown
// report. See bench/README.md.
//
//	go run ./bench/sim -devices 10000
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

type config struct {
	devices        int
	concurrency    int
	csr            bool
	rate           float64
	qos            int
	shadowInterval time.Duration
	churn          float64
	firmwareDelay  time.Duration
	connectConc    int
	duration       time.Duration
	rollout        int
	metricPeriod   time.Duration
	settle         time.Duration
	out            string
	keep           bool
	args           []string
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "sim:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	report, err := run(ctx, cfg)
	if report != "" {
		fmt.Print(report)
		if cfg.out != "" {
			if werr := os.WriteFile(cfg.out, []byte(report), 0o644); werr != nil {
				fmt.Fprintln(os.Stderr, "sim:", werr)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sim:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.IntVar(&cfg.devices, "devices", 1000, "simulated devices")
	fs.IntVar(&cfg.concurrency, "concurrency", 16, "devices provisioned at once")
	fs.BoolVar(&cfg.csr, "csr", false, "provision with local ECDSA keys and CreateCertificateFromCsr instead of CreateKeysAndCertificate (RSA 2048)")
	fs.Float64Var(&cfg.rate, "rate", 1, "telemetry messages per second per device")
	fs.IntVar(&cfg.qos, "qos", 0, "telemetry QoS (0 or 1)")
	fs.DurationVar(&cfg.shadowInterval, "shadow-interval", 30*time.Second, "full shadow report interval per device")
	fs.Float64Var(&cfg.churn, "churn", 0.05, "probability per minute that a device disconnects (it returns after ~5s)")
	fs.DurationVar(&cfg.firmwareDelay, "firmware-delay", 2*time.Second, "firmware install time (±50%)")
	fs.IntVar(&cfg.connectConc, "connect-concurrency", 32, "connects in progress at once")
	fs.DurationVar(&cfg.duration, "duration", 90*time.Second, "measured steady-state window")
	fs.IntVar(&cfg.rollout, "rollout", 100, "devices given a new desired firmware in the window (freshness samples)")
	fs.DurationVar(&cfg.metricPeriod, "metric-period", 60*time.Second, "period of the freshness fleet metric (AWS minimum 60s)")
	fs.DurationVar(&cfg.settle, "settle", 5*time.Second, "idle time after the connect ramp before the window")
	fs.StringVar(&cfg.out, "out", "", "also write the report to this file")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the temporary directory (binary, data, device folders, log)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case cfg.devices < 1:
		return cfg, errors.New("-devices must be at least 1")
	case cfg.rollout < 0 || cfg.rollout > cfg.devices:
		return cfg, errors.New("-rollout must be between 0 and -devices")
	case cfg.duration <= 0 || cfg.metricPeriod < time.Second:
		return cfg, errors.New("-duration must be positive and -metric-period at least 1s")
	case cfg.qos != 0 && cfg.qos != 1:
		return cfg, errors.New("-qos must be 0 or 1")
	}
	cfg.args = args
	return cfg, nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s sim: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
