package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"golang.org/x/term"

	"github.com/iotdm/iotdm/internal/pki/cafile"
	"github.com/iotdm/iotdm/internal/sim"
	"github.com/iotdm/iotdm/stacks"
)

// Defaults of iotdm provision and iotdm simulate.
const (
	defaultDevicePrefix = "sensor-"
	defaultDevicesDir   = "devices"
	// defaultDevicePolicy is the seed stack's device policy, which iotdm up
	// deploys.
	defaultDevicePolicy = "device-policy-" + stacks.SeedName
)

const provisionUsage = `Usage: iotdm provision --count N [flags]

Registers N devices through the AWS IoT API, each with its own thing, key pair
and active certificate, the policy and the thing attached to the certificate,
and writes one folder per device:

  DIR/{thing}/certificate.pem.crt, private.pem.key (0600), AmazonRootCA1.pem
  (the server's CA), config.json (thing name, endpoint, port, client id, topics)

It is safe to run again: devices whose folder is complete are skipped, an
existing thing is used as it is, and a folder an interrupted run left with a
certificate is finished with it. Things are named PREFIX00001, PREFIX00002, ...

Flags:
  --count N            devices to provision (required)
  --prefix P           thing name prefix (default ` + defaultDevicePrefix + `)
  --start N            number of the first device (default 1)
  --thing-type T       thing type of the new things
  --group G            static thing group to add them to
  --attributes LIST    k=v,k2=v2; a|b|c deals the values out in turn, e.g.
                       location=Building-A|Building-B,firmware=1.0.0
  --policy P           policy attached to each certificate (default
                       ` + defaultDevicePolicy + `, the seed stack's; "" for none)
  --out DIR            output directory (default ` + defaultDevicesDir + `)
  --concurrency N      devices provisioned at once (default 16)
  --ca FILE            trust anchor written as AmazonRootCA1.pem (default the
                       local server's DATA-DIR/ca.pem when it exists)
  --endpoint HOST:PORT MQTT endpoint for config.json (default DescribeEndpoint)
  --csr                make each key here (ECDSA P-256) and have the
                       certificate issued from a CSR instead of
                       CreateKeysAndCertificate
  --data-dir DIR       data directory of the local server (default ` + defaultDataDir + `)

The endpoint and credentials are the AWS SDK's (AWS_ENDPOINT_URL and the shared
credentials file, as eval "$(iotdm env)" sets them); without AWS_ENDPOINT_URL,
the server running on --data-dir. Exit status: 0 when every device is
provisioned, 1 when any failed, 2 on bad usage.
`

const simulateUsage = `Usage: iotdm simulate (--from DIR | --count N) [flags]

Runs simulated devices: each connects over MQTT 5 with mutual TLS as its thing,
reports its shadow (temperature, humidity, battery, firmware) on
$aws/things/{thing}/shadow/update, installs a firmware version set in its
shadow's desired state after a delay and reports it, takes AWS IoT Jobs
(start-next on $aws/things/{thing}/jobs/notify-next; a firmware job is
installed after the same delay and its execution updated to SUCCEEDED or
FAILED; the device policy must allow $aws/things/{thing}/jobs/*), publishes telemetry on
devices/{thing}/telemetry, and disconnects and reconnects at random. A status
line shows connected devices, messages per second and errors.

Devices:
  --from DIR           the device folders iotdm provision wrote
  --limit N            with --from, only the first N devices
  --count N            provision N devices first (the flags of iotdm provision
                       apply: --prefix, --thing-type, --group, --attributes,
                       --policy, --concurrency, --ca, --csr), into --out DIR or
                       a temporary directory removed at exit

Behaviour:
  --rate R             telemetry messages per second per device (default 0.1)
  --qos Q              QoS of telemetry, 0 or 1 (default 0); shadow requests use 1
  --shadow-interval D  how often each device reports its whole state (default 1m)
  --firmware-delay D   time to install a new firmware (default 10s, ±50%)
  --job-failure-rate P share of firmware jobs reported FAILED (0 to 1, default 0)
  --churn P            probability per minute that a device disconnects (default 0)
  --duration D         stop after D (default: run until interrupted)
  --connect-concurrency N  connects in progress at once (default 32)
  --sync-attributes    after a firmware report, set the thing's firmware
                       attribute (UpdateThing), so attribute-based dynamic
                       groups follow the rollout
  --endpoint HOST:PORT MQTT endpoint instead of the one in config.json
  --data-dir DIR       data directory of the local server (default ` + defaultDataDir + `)
`

// provisionFlags are the flags of iotdm provision, also taken by iotdm
// simulate --count.
type provisionFlags struct {
	count, start, concurrency int
	prefix, thingType, group  string
	attributes, policy, out   string
	ca, endpoint, dataDir     string
	csr                       bool
}

func (p *provisionFlags) register(fs *flag.FlagSet, env map[string]string, out string) {
	fs.IntVar(&p.count, "count", 0, "devices to provision")
	fs.IntVar(&p.start, "start", 1, "number of the first device")
	fs.IntVar(&p.concurrency, "concurrency", 16, "devices provisioned at once")
	fs.StringVar(&p.prefix, "prefix", defaultDevicePrefix, "thing name prefix")
	fs.StringVar(&p.thingType, "thing-type", "", "thing type")
	fs.StringVar(&p.group, "group", "", "static thing group")
	fs.StringVar(&p.attributes, "attributes", "", "attributes k=v,k2=a|b")
	fs.StringVar(&p.policy, "policy", defaultDevicePolicy, "policy attached to each certificate")
	fs.StringVar(&p.out, "out", out, "output directory")
	fs.StringVar(&p.ca, "ca", "", "trust anchor written as AmazonRootCA1.pem")
	fs.StringVar(&p.endpoint, "endpoint", "", "MQTT endpoint HOST:PORT")
	fs.StringVar(&p.dataDir, "data-dir", cmpOr(env["IOTDM_DATA_DIR"], defaultDataDir), "data directory of the local server")
	fs.BoolVar(&p.csr, "csr", false, "issue certificates from CSRs made here")
}

// provisioner builds the provisioner of the flags, with the device
// folders in dir.
func (a *app) provisioner(ctx context.Context, p *provisionFlags, dir string) (*sim.Provisioner, string, error) {
	attrs, err := sim.ParseAttributes(p.attributes)
	if err != nil {
		return nil, "", err
	}
	caPEM, caFrom, err := readDeviceCA(p.ca, p.dataDir)
	if err != nil {
		return nil, "", err
	}
	client, err := a.iotClient(ctx, p.dataDir, p.concurrency)
	if err != nil {
		return nil, "", err
	}
	return &sim.Provisioner{API: client, Names: sim.Names(p.prefix, p.start, p.count), Attributes: attrs,
		ThingType: p.thingType, Group: p.group, Policy: p.policy, Dir: dir, Concurrency: p.concurrency,
		CAPEM: caPEM, Endpoint: p.endpoint, CSR: p.csr}, caFrom, nil
}

func (p *provisionFlags) validate() error {
	switch {
	case p.count < 1:
		return errors.New("--count must be at least 1")
	case p.start < 0:
		return errors.New("--start must not be negative")
	case p.concurrency < 1:
		return errors.New("--concurrency must be at least 1")
	case p.prefix == "" || strings.ContainsAny(p.prefix, `/\`) || strings.HasPrefix(p.prefix, "."):
		return errors.New("--prefix must be a non-empty thing name prefix")
	}
	if _, err := sim.ParseAttributes(p.attributes); err != nil {
		return fmt.Errorf("--%w", err)
	}
	return nil
}

// readDeviceCA returns the trust anchor devices get: --ca, else the local
// server's CA when there is one, else none (the system's roots, right for
// AWS IoT Core's Amazon Root CA 1). from says which, for the summary.
func readDeviceCA(file, dataDir string) (pemBytes []byte, from string, err error) {
	if file == "" {
		local := filepath.Join(dataDir, cafile.CertFile)
		if _, err := os.Stat(local); err != nil {
			return nil, "none (devices will trust the system's root CAs)", nil
		}
		file = local
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, "", fmt.Errorf("read CA: %w", err)
	}
	if !strings.Contains(string(b), "-----BEGIN CERTIFICATE-----") {
		return nil, "", fmt.Errorf("CA %s holds no PEM certificate", file)
	}
	return b, file, nil
}

// iotClient returns an AWS IoT client of the endpoint the AWS SDK is
// configured for, or of the server running on dataDir when
// AWS_ENDPOINT_URL is unset (as cloudFormation does), with a connection
// pool for conns concurrent callers and a patient retryer: bulk work meets
// throttling on AWS.
func (a *app) iotClient(ctx context.Context, dataDir string, conns int) (*iot.Client, error) {
	opts := func(o *iot.Options) {
		o.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			tr.MaxIdleConns = conns + 8
			tr.MaxIdleConnsPerHost = conns + 8
		})
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = 8
			so.RateLimiter = ratelimit.None
		})
	}
	if a.env["AWS_ENDPOINT_URL"] != "" || a.env["AWS_ENDPOINT_URL_IOT"] != "" {
		cfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("load AWS configuration: %w", err)
		}
		return iot.NewFromConfig(cfg, opts), nil
	}
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, fmt.Errorf("resolve data directory: %w", err)
	}
	st, err := readServerState(dir)
	if err != nil || !processAlive(st.PID) {
		return nil, fmt.Errorf("no iotdm server is running on %s (start one with 'iotdm up', or set AWS_ENDPOINT_URL)", dir)
	}
	data, err := os.ReadFile(filepath.Join(dir, credentialsFileName))
	if err != nil {
		return nil, fmt.Errorf("read credentials: %w", err)
	}
	key, err := parseCredentials(data)
	if err != nil {
		return nil, err
	}
	return localIoTClient(st.Endpoint, st.Region, key, opts), nil
}

func localIoTClient(endpoint, region string, key AccessKey, opts ...func(*iot.Options)) *iot.Client {
	cfg := aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider(key.ID, key.Secret, "")}
	return iot.NewFromConfig(cfg, append(opts, func(o *iot.Options) { o.BaseEndpoint = aws.String(endpoint) })...)
}

// parseSimFlags parses args into fs, printing usage for -h.
func parseSimFlags(fs *flag.FlagSet, args []string, usage string, stdout, stderr io.Writer) (ok bool, code int) {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, usage)
		return false, exitOK
	case err != nil:
		fmt.Fprintf(stderr, "%s: %v\nRun '%s -h' for usage.\n", fs.Name(), err, fs.Name())
		return false, exitUsage
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return false, exitUsage
	}
	return true, exitOK
}

// runProvision runs iotdm provision and returns the exit code.
func (a *app) runProvision(ctx context.Context, args []string) int {
	var p provisionFlags
	fs := flag.NewFlagSet("iotdm provision", flag.ContinueOnError)
	p.register(fs, a.env, defaultDevicesDir)
	if ok, code := parseSimFlags(fs, args, provisionUsage, a.stdout, a.stderr); !ok {
		return code
	}
	if err := p.validate(); err != nil {
		fmt.Fprintf(a.stderr, "iotdm provision: %v\n", err)
		return exitUsage
	}
	pr, caFrom, err := a.provisioner(ctx, &p, p.out)
	if err != nil {
		fmt.Fprintf(a.stderr, "iotdm provision: %v\n", err)
		return exitError
	}
	rep, err := runProvisioner(ctx, pr, a.stderr)
	if err != nil {
		fmt.Fprintf(a.stderr, "iotdm provision: %v\n", err)
		return exitError
	}
	printProvisionReport(a.stdout, rep, p.out, caFrom)
	if len(rep.Failed) > 0 || rep.NotAttempted > 0 {
		return exitError
	}
	fmt.Fprintf(a.stdout, "Run them with: iotdm simulate --from %s\n", shellQuote(p.out))
	return exitOK
}

// runProvisioner runs pr with a progress bar on a terminal w, or a line
// every few seconds otherwise.
func runProvisioner(ctx context.Context, pr *sim.Provisioner, w io.Writer) (*sim.Report, error) {
	line := newLiveLine(w, 5*time.Second)
	start := time.Now()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(line.tick())
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				line.update(progressText(pr.Progress(), time.Since(start), line.tty), false)
			}
		}
	}()
	rep, err := pr.Run(ctx)
	close(stop)
	<-done
	if err == nil {
		line.update(progressText(pr.Progress(), time.Since(start), line.tty), true)
	}
	line.end()
	return rep, err
}

// progressText is the progress of a provisioning run: with a bar on a
// terminal.
func progressText(p sim.Progress, elapsed time.Duration, bar bool) string {
	var b strings.Builder
	frac := 0.0
	if p.Total > 0 {
		frac = float64(p.Done) / float64(p.Total)
	}
	if bar {
		const width = 30
		n := int(frac * width)
		b.WriteString("[" + strings.Repeat("█", n) + strings.Repeat("░", width-n) + "] ")
	} else {
		b.WriteString("provision: ")
	}
	fmt.Fprintf(&b, "%d/%d %3.0f%%", p.Done, p.Total, 100*frac)
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(p.Done-p.Skipped) / s
	}
	fmt.Fprintf(&b, "  %.1f/s", rate)
	if left := p.Total - p.Done; left > 0 && rate > 0 {
		fmt.Fprintf(&b, "  ETA %s", time.Duration(float64(left)/rate*float64(time.Second)).Round(time.Second))
	}
	fmt.Fprintf(&b, "  created %d  skipped %d  failed %d", p.Created, p.Skipped, p.Failed)
	return b.String()
}

// printProvisionReport prints the summary of a provisioning run.
func printProvisionReport(w io.Writer, r *sim.Report, dir, caFrom string) {
	fmt.Fprintf(w, "Provisioned %d devices in %s in %s (%.1f devices/s)\n", r.Total, dir,
		r.Elapsed.Round(10*time.Millisecond), r.Rate())
	extra := ""
	if r.Existing > 0 || r.Resumed > 0 {
		extra = fmt.Sprintf(" (%d of them existing things, %d resumed from an earlier run)", r.Existing, r.Resumed)
	}
	fmt.Fprintf(w, "  created  %d%s\n", r.Created, extra)
	fmt.Fprintf(w, "  skipped  %d (folder already complete)\n", r.Skipped)
	fmt.Fprintf(w, "  failed   %d\n", len(r.Failed))
	if len(r.Failed) > 0 {
		counts := map[string]int{}
		var reasons []string
		for _, f := range r.Failed {
			reason := f.Reason()
			if counts[reason] == 0 {
				reasons = append(reasons, reason)
			}
			counts[reason]++
		}
		slices.SortStableFunc(reasons, func(a, b string) int { return cmp.Compare(counts[b], counts[a]) })
		for _, reason := range reasons {
			fmt.Fprintf(w, "    %5d × %s\n", counts[reason], reason)
		}
		fmt.Fprintf(w, "  failed devices:")
		for i, f := range r.Failed {
			if i == 10 {
				fmt.Fprintf(w, " ... and %d more", len(r.Failed)-10)
				break
			}
			fmt.Fprintf(w, " %s", f.Thing)
		}
		fmt.Fprintln(w)
	}
	if r.NotAttempted > 0 {
		fmt.Fprintf(w, "  interrupted: %d devices not attempted; run the same command again to finish\n", r.NotAttempted)
	} else if len(r.Failed) > 0 {
		fmt.Fprintf(w, "Run the same command again to retry the failed devices.\n")
	}
	fmt.Fprintf(w, "  endpoint %s; root CA %s\n", r.Endpoint, caFrom)
}

// simulateFlags are the flags of iotdm simulate besides the provisioning
// ones.
type simulateFlags struct {
	from               string
	limit              int
	rate               float64
	qos                int
	shadowInterval     time.Duration
	firmwareDelay      time.Duration
	jobFailureRate     float64
	churn              float64
	duration           time.Duration
	connectConcurrency int
	syncAttributes     bool
	endpoint           string
}

// runSimulate runs iotdm simulate and returns the exit code.
func (a *app) runSimulate(ctx context.Context, args []string) int {
	var (
		p provisionFlags
		f simulateFlags
	)
	fs := flag.NewFlagSet("iotdm simulate", flag.ContinueOnError)
	p.register(fs, a.env, "")
	fs.StringVar(&f.from, "from", "", "device folders")
	fs.IntVar(&f.limit, "limit", 0, "only the first N devices of --from")
	fs.Float64Var(&f.rate, "rate", 0.1, "telemetry messages per second per device")
	fs.IntVar(&f.qos, "qos", 0, "telemetry QoS")
	fs.DurationVar(&f.shadowInterval, "shadow-interval", time.Minute, "shadow report interval")
	fs.DurationVar(&f.firmwareDelay, "firmware-delay", 10*time.Second, "firmware install time")
	fs.Float64Var(&f.jobFailureRate, "job-failure-rate", 0, "share of firmware jobs reported FAILED")
	fs.Float64Var(&f.churn, "churn", 0, "disconnect probability per minute")
	fs.DurationVar(&f.duration, "duration", 0, "stop after this long")
	fs.IntVar(&f.connectConcurrency, "connect-concurrency", 32, "connects at once")
	fs.BoolVar(&f.syncAttributes, "sync-attributes", false, "set the firmware attribute after a firmware report")
	// --endpoint is shared with provision: it is where the devices connect.
	if ok, code := parseSimFlags(fs, args, simulateUsage, a.stdout, a.stderr); !ok {
		return code
	}
	f.endpoint = p.endpoint
	usage := func(msg string) int {
		fmt.Fprintf(a.stderr, "iotdm simulate: %s\n", msg)
		return exitUsage
	}
	switch {
	case (f.from == "") == (p.count == 0):
		return usage("give exactly one of --from DIR and --count N")
	case f.from != "" && p.out != "":
		return usage("--out goes with --count")
	case f.limit < 0:
		return usage("--limit must not be negative")
	case f.rate < 0:
		return usage("--rate must not be negative")
	case f.qos != 0 && f.qos != 1:
		return usage("--qos must be 0 or 1")
	case f.churn < 0 || f.churn > 1:
		return usage("--churn is a probability between 0 and 1")
	case !(f.jobFailureRate >= 0 && f.jobFailureRate <= 1):
		return usage("--job-failure-rate is a share between 0 and 1")
	case f.duration < 0 || f.firmwareDelay < 0:
		return usage("durations must not be negative")
	case f.connectConcurrency < 1:
		return usage("--connect-concurrency must be at least 1")
	}
	if p.count > 0 {
		if err := p.validate(); err != nil {
			return usage(err.Error())
		}
	}
	if f.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.duration)
		defer cancel()
	}
	devices, cleanup, err := a.simulatedDevices(ctx, &p, &f)
	defer cleanup()
	if err != nil {
		fmt.Fprintf(a.stderr, "iotdm simulate: %v\n", err)
		return exitError
	}
	cfg := sim.Config{Devices: devices, Endpoint: f.endpoint, Rate: f.rate, TelemetryQoS: byte(f.qos),
		ShadowInterval: f.shadowInterval, FirmwareDelay: f.firmwareDelay, JobFailureRate: f.jobFailureRate, Churn: f.churn,
		ConnectConcurrency: f.connectConcurrency, SyncAttributes: f.syncAttributes}
	if f.shadowInterval == 0 {
		cfg.ShadowInterval = -1
	}
	if f.syncAttributes {
		if cfg.API, err = a.iotClient(ctx, p.dataDir, 4); err != nil {
			fmt.Fprintf(a.stderr, "iotdm simulate: %v\n", err)
			return exitError
		}
	}
	st, err := runSimulator(ctx, cfg, a.stderr, 10*time.Second)
	if err != nil {
		fmt.Fprintf(a.stderr, "iotdm simulate: %v\n", err)
		return exitError
	}
	fmt.Fprintln(a.stdout, simSummary(st))
	if st.Connects == 0 {
		fmt.Fprintf(a.stderr, "iotdm simulate: no device could connect (last error: %s)\n", cmpOr(st.LastError, "none"))
		return exitError
	}
	return exitOK
}

// simulatedDevices returns the devices of --from, or provisions --count
// of them first. cleanup removes a temporary directory.
func (a *app) simulatedDevices(ctx context.Context, p *provisionFlags, f *simulateFlags) (devices []*sim.Device, cleanup func(), err error) {
	cleanup = func() {}
	dir := f.from
	if p.count > 0 {
		dir = p.out
		if dir == "" {
			tmp, err := os.MkdirTemp("", "iotdm-simulate-")
			if err != nil {
				return nil, cleanup, err
			}
			cleanup = func() { _ = os.RemoveAll(tmp) }
			dir = tmp
		}
		pr, caFrom, err := a.provisioner(ctx, p, dir)
		if err != nil {
			return nil, cleanup, err
		}
		rep, err := runProvisioner(ctx, pr, a.stderr)
		if err != nil {
			return nil, cleanup, err
		}
		printProvisionReport(a.stderr, rep, dir, caFrom)
		if rep.NotAttempted > 0 {
			return nil, cleanup, errors.New("provisioning was interrupted")
		}
		var names []string
		failed := map[string]bool{}
		for _, fl := range rep.Failed {
			failed[fl.Thing] = true
		}
		for _, n := range pr.Names {
			if !failed[n] {
				names = append(names, n)
			}
		}
		if len(names) == 0 {
			return nil, cleanup, errors.New("no device could be provisioned")
		}
		devices, err = sim.ReadDevices(dir, names...)
		return devices, cleanup, err
	}
	devices, err = sim.ReadDevices(dir)
	if err != nil {
		return nil, cleanup, err
	}
	if len(devices) == 0 {
		return nil, cleanup, fmt.Errorf("%s holds no device folder (with a config.json): run iotdm provision first", dir)
	}
	if f.limit > 0 && f.limit < len(devices) {
		devices = devices[:f.limit]
	}
	return devices, cleanup, nil
}

// runSimulator runs a simulator until ctx ends with a status line on w:
// in place on a terminal, else every plain interval.
func runSimulator(ctx context.Context, cfg sim.Config, w io.Writer, plain time.Duration) (sim.Stats, error) {
	s, err := sim.New(cfg)
	if err != nil {
		return sim.Stats{}, err
	}
	line := newLiveLine(w, plain)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		interval := line.tick()
		if !line.tty {
			interval = plain
		}
		t := time.NewTicker(interval)
		defer t.Stop()
		prev, prevAt := s.Stats(), time.Now()
		for {
			select {
			case <-stop:
				return
			case now := <-t.C:
				st := s.Stats()
				line.update(simStatus(st, prev, now.Sub(prevAt)), true)
				prev, prevAt = st, now
			}
		}
	}()
	err = s.Run(ctx)
	close(stop)
	<-done
	line.end()
	return s.Stats(), err
}

// simStatus is the one-line status: connected devices, message rates over
// the last interval, errors.
func simStatus(st, prev sim.Stats, d time.Duration) string {
	per := func(n int64) float64 {
		if d <= 0 {
			return 0
		}
		return float64(n) / d.Seconds()
	}
	s := fmt.Sprintf("devices %d  connected %d", st.Devices, st.Connected)
	if st.Connecting > 0 {
		s += fmt.Sprintf("  connecting %d", st.Connecting)
	}
	s += fmt.Sprintf("  %.0f msg/s (telemetry %.0f, shadow %.1f)", per(st.Messages()-prev.Messages()),
		per(st.Telemetry-prev.Telemetry), per(st.ShadowUpdates-prev.ShadowUpdates))
	if st.FirmwareApplied > 0 {
		s += fmt.Sprintf("  firmware updates %d", st.FirmwareApplied)
	}
	if st.JobsSucceeded+st.JobsFailed > 0 {
		s += fmt.Sprintf("  jobs succeeded %d failed %d", st.JobsSucceeded, st.JobsFailed)
	}
	if st.JobsRefused > 0 {
		s += fmt.Sprintf("  jobs refused by policy %d", st.JobsRefused)
	}
	if st.Disconnects > 0 {
		s += fmt.Sprintf("  churned %d", st.Disconnects)
	}
	s += fmt.Sprintf("  errors %d", st.Errors())
	if st.Errors() > prev.Errors() && st.LastError != "" {
		s += " (last: " + st.LastError + ")"
	}
	return s
}

// simSummary is the line printed when a simulation ends.
func simSummary(st sim.Stats) string {
	return fmt.Sprintf("simulated %d devices: %d connects (%d failed), %d random disconnects, %d dropped; "+
		"%d telemetry messages, %d shadow updates, %d desired-state changes, %d firmware updates; %d errors",
		st.Devices, st.Connects, st.ConnectFailures, st.Disconnects, st.Drops,
		st.Telemetry, st.ShadowUpdates, st.Deltas, st.FirmwareApplied, st.Errors())
}

// liveLine writes a status line: rewritten in place on a terminal, or
// appended at most every interval otherwise.
type liveLine struct {
	w        io.Writer
	tty      bool
	width    int
	interval time.Duration
	last     time.Time
	shown    bool
}

func newLiveLine(w io.Writer, interval time.Duration) *liveLine {
	l := &liveLine{w: w, interval: interval}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		l.tty = true
		if width, _, err := term.GetSize(int(f.Fd())); err == nil && width > 0 {
			l.width = width
		}
	}
	return l
}

// tick is how often the caller should update the line.
func (l *liveLine) tick() time.Duration {
	if l.tty {
		return 500 * time.Millisecond
	}
	return l.interval
}

// update shows s; off a terminal only when the interval has passed, or
// when force.
func (l *liveLine) update(s string, force bool) {
	if l.tty {
		if l.width > 1 && len([]rune(s)) >= l.width {
			s = string([]rune(s)[:l.width-1])
		}
		fmt.Fprintf(l.w, "\r%s\x1b[K", s)
		l.shown = true
		return
	}
	if !force && time.Since(l.last) < l.interval {
		return
	}
	l.last = time.Now()
	fmt.Fprintf(l.w, "%s %s\n", l.last.Format("15:04:05"), s)
}

// end finishes the line on a terminal.
func (l *liveLine) end() {
	if l.tty && l.shown {
		fmt.Fprintln(l.w)
	}
}

// simulate provisions and runs the devices of iotdm up --simulate n: the
// seed stack's sample things and n more sensors of its thing type, in its
// production group, with its device policy, spread over its buildings and
// firmware versions. The devices live in DATA-DIR/devices, so a restart
// reuses them. It runs until ctx ends, with a status line on w every 30 s.
func (s *server) simulate(ctx context.Context, n int, w io.Writer) error {
	if n < 0 {
		return errors.New("the number of simulated devices must not be negative")
	}
	client := localIoTClient(s.URL(), s.cfg.Region, s.key)
	stackCfg := aws.Config{Region: s.cfg.Region, Credentials: credentials.NewStaticCredentialsProvider(s.key.ID, s.key.Secret, "")}
	stack := cfn.NewFromConfig(stackCfg, func(o *cfn.Options) { o.BaseEndpoint = aws.String(s.URL()) })
	outputs := map[string]string{}
	out, err := stack.DescribeStacks(ctx, &cfn.DescribeStacksInput{StackName: aws.String(stacks.SeedName)})
	if err != nil {
		return fmt.Errorf("describe %s: %w", stacks.SeedName, err)
	}
	for _, st := range out.Stacks {
		for _, o := range st.Outputs {
			outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
		}
	}
	res, err := stack.DescribeStackResources(ctx, &cfn.DescribeStackResourcesInput{StackName: aws.String(stacks.SeedName)})
	if err != nil {
		return fmt.Errorf("describe %s resources: %w", stacks.SeedName, err)
	}
	var samples []string
	for _, r := range res.StackResources {
		if aws.ToString(r.ResourceType) == "AWS::IoT::Thing" && aws.ToString(r.PhysicalResourceId) != "" {
			samples = append(samples, aws.ToString(r.PhysicalResourceId))
		}
	}
	slices.Sort(samples)
	caPEM, err := os.ReadFile(filepath.Join(s.DataDir(), cafile.CertFile))
	if err != nil {
		return fmt.Errorf("read CA: %w", err)
	}
	dir := filepath.Join(s.DataDir(), defaultDevicesDir)
	policy := outputs["IoTPolicyName"]
	batches := []*sim.Provisioner{
		// The sample things exist: they get a certificate and the policy.
		{API: client, Names: samples, Policy: policy, Dir: dir, CAPEM: caPEM},
	}
	if n > 0 {
		attrs, err := sim.ParseAttributes("location=Building-A|Building-B|Building-C|Building-D," +
			"firmware=1.0.0|1.1.0|1.2.0,sensorType=temperature|temperature|humidity")
		if err != nil {
			return err
		}
		batches = append(batches, &sim.Provisioner{API: client, Names: sim.Names(defaultDevicePrefix, 1, n),
			Attributes: attrs, ThingType: outputs["ThingTypeName"], Group: outputs["ThingGroupName"],
			Policy: policy, Dir: dir, CAPEM: caPEM})
	}
	var names []string
	for _, pr := range batches {
		if len(pr.Names) == 0 {
			continue
		}
		fmt.Fprintf(w, "Provisioning %d simulated devices in %s\n", len(pr.Names), dir)
		rep, err := runProvisioner(ctx, pr, io.Discard)
		if err != nil {
			return fmt.Errorf("provision simulated devices: %w", err)
		}
		printProvisionReport(w, rep, dir, filepath.Join(s.DataDir(), cafile.CertFile))
		failed := map[string]bool{}
		for _, f := range rep.Failed {
			failed[f.Thing] = true
		}
		for _, name := range pr.Names {
			if !failed[name] {
				names = append(names, name)
			}
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	if len(names) == 0 {
		return errors.New("no simulated device could be provisioned")
	}
	devices, err := sim.ReadDevices(dir, names...)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Simulating %d devices (status every 30s; iotdm simulate --from %s runs them on their own)\n",
		len(devices), shellQuote(dir))
	cfg := sim.Config{Devices: devices, Rate: 0.1, Churn: 0.02, SyncAttributes: true, API: client,
		Logger: s.log.With("component", "sim")}
	st, err := runSimulator(ctx, cfg, plainWriter{w}, 30*time.Second)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, simSummary(st))
	return nil
}

// plainWriter hides the terminal under w, so the status goes out as
// periodic lines between the server's log lines.
type plainWriter struct{ io.Writer }
