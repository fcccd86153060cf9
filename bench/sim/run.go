package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iotdm/iotdm/bench/internal/host"
	"github.com/iotdm/iotdm/internal/sim"
)

// Names of what the bench creates besides the seed stack.
const (
	newFirmware     = "2.0.0"
	shadowGroup     = "bench-firmware-shadow" // dynamic: shadow.reported.firmware
	attributeGroup  = "bench-firmware-attr"   // dynamic: attributes.firmware
	freshnessMetric = "bench-firmware-count"  // fleet metric: count of shadow.reported.firmware
	pollInterval    = 10 * time.Millisecond   // membership polls
)

// sample is one reading of the steady-state window.
type sample struct {
	at                 time.Time
	stats              sim.Stats
	serverCPU, simCPU  float64 // seconds of CPU used so far
	serverRSS, simRSS  int64
	simHeap            uint64
	goroutines         int
	serverMsgsReceived float64 // iotdm_mqtt_messages_received_total
}

type result struct {
	cfg                   config
	revision, cpuModel    string
	memTotal              int64
	nofile                uint64
	loadBefore, loadAfter string

	prov                   *sim.Report
	provServerCPU, provCPU float64 // cores, averaged over the run

	serverBaseRSS  int64 // after the seed stack, before provisioning
	simBaseRSS     int64 // before the simulator
	baseGoroutines int

	rampTime      time.Duration
	rampConnected int
	rampStats     sim.Stats
	rampServerCPU float64

	window []sample

	rollout     int
	setLat      durations // UpdateThingShadow (desired) answers
	toReport    durations // desired set → device's firmware report
	toShadowGrp durations // report → member of the shadow-based group
	toAttrGrp   durations // report → member of the attribute-based group (through UpdateThing)
	shadowMiss  int
	attrMiss    int
	polls       int
	pollTime    time.Duration

	metricFound     bool
	metricAfterLast time.Duration // last firmware report → datapoint counting all visible
	metricAfterTS   time.Duration // datapoint timestamp (period boundary) → visible
	metricValue     float64

	stopTime   time.Duration
	finalStats sim.Stats
	serverLog  string
	notes      []string
}

func run(ctx context.Context, cfg config) (string, error) {
	root, err := host.ModuleRoot(ctx)
	if err != nil {
		return "", err
	}
	res := &result{cfg: cfg, revision: host.Revision(ctx, root), cpuModel: host.CPUModel(), memTotal: host.MemTotal(),
		loadBefore: host.LoadAverage()}
	want := uint64(cfg.devices) + 1000
	if res.nofile, err = raiseOpenFiles(want); err != nil {
		return "", err
	}
	if res.nofile < uint64(cfg.devices)+200 {
		return "", fmt.Errorf("%w: RLIMIT_NOFILE %d for %d devices", errTooManyDevices, res.nofile, cfg.devices)
	}
	tmp, err := os.MkdirTemp("", "iotdm-sim-bench-")
	if err != nil {
		return "", err
	}
	if cfg.keep {
		logf("keeping %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	srv, err := startIotdm(ctx, root, tmp)
	if err != nil {
		return "", err
	}
	defer srv.stop()
	err = measure(ctx, cfg, srv, tmp, res)
	res.loadAfter = host.LoadAverage()
	res.serverLog = logProblems(srv.proc.LogPath, 8)
	return res.render(), err
}

func measure(ctx context.Context, cfg config, srv *iotdm, tmp string, res *result) error {
	logf("deploying the seed stack")
	outputs, err := srv.deploySeed(ctx)
	if err != nil {
		return err
	}
	client := srv.iot(cfg.concurrency)
	res.serverBaseRSS = procRSS(srv.proc.Pid())
	caPEM, err := os.ReadFile(filepath.Join(srv.dataDir, "ca.pem"))
	if err != nil {
		return err
	}
	attrs, err := sim.ParseAttributes("location=Building-A|Building-B|Building-C|Building-D,firmware=1.0.0|1.1.0|1.2.0,sensorType=temperature|temperature|humidity")
	if err != nil {
		return err
	}
	dir := filepath.Join(tmp, "devices")
	pr := &sim.Provisioner{API: client, Names: sim.Names("sensor-", 1, cfg.devices), Attributes: attrs,
		ThingType: outputs["ThingTypeName"], Group: outputs["ThingGroupName"], Policy: outputs["IoTPolicyName"],
		Dir: dir, Concurrency: cfg.concurrency, CAPEM: caPEM, CSR: cfg.csr}
	logf("provisioning %d devices (%d at once, %s)", cfg.devices, cfg.concurrency, keyMethod(cfg.csr))
	s0, c0 := procCPU(srv.proc.Pid()), procCPU(0)
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				p := pr.Progress()
				logf("  %d/%d provisioned (%d failed)", p.Done, p.Total, p.Failed)
			}
		}
	}()
	rep, err := pr.Run(ctx)
	close(done)
	if err != nil {
		return fmt.Errorf("provision: %w", err)
	}
	res.prov = rep
	res.provServerCPU = (procCPU(srv.proc.Pid()) - s0) / rep.Elapsed.Seconds()
	res.provCPU = (procCPU(0) - c0) / rep.Elapsed.Seconds()
	logf("  %d created in %s (%.1f/s), %d failed", rep.Created, rep.Elapsed.Round(time.Millisecond), rep.Rate(), len(rep.Failed))
	if len(rep.Failed) > 0 {
		res.notes = append(res.notes, fmt.Sprintf("%d devices failed to provision, first: %v", len(rep.Failed), rep.Failed[0]))
	}

	if err := createProbes(ctx, client, cfg.metricPeriod); err != nil {
		return err
	}
	devices, err := sim.ReadDevices(dir)
	if err != nil {
		return err
	}
	var (
		mu        sync.Mutex
		reported  = map[string]time.Time{}
		connected = map[string]bool{} // devices that connected at least once
	)
	simulator, err := sim.New(sim.Config{Devices: devices, Rate: cfg.rate, TelemetryQoS: byte(cfg.qos),
		ShadowInterval: cfg.shadowInterval, FirmwareDelay: cfg.firmwareDelay, Churn: cfg.churn,
		ConnectConcurrency: cfg.connectConc, SyncAttributes: true, API: srv.iot(4),
		OnConnect: func(thing string) {
			mu.Lock()
			connected[thing] = true
			mu.Unlock()
		},
		OnFirmwareReported: func(thing, version string, at time.Time) {
			if version == newFirmware {
				mu.Lock()
				if _, ok := reported[thing]; !ok {
					reported[thing] = at
				}
				mu.Unlock()
			}
		}})
	if err != nil {
		return err
	}
	runtime.GC()
	res.simBaseRSS, res.baseGoroutines = procRSS(0), runtime.NumGoroutine()
	sctx, stopSim := context.WithCancel(ctx)
	simDone := make(chan error, 1)
	logf("connecting %d devices (%d at once)", len(devices), cfg.connectConc)
	rampStart := time.Now()
	rs0 := procCPU(srv.proc.Pid())
	go func() { simDone <- simulator.Run(sctx) }()
	simStopped := false
	stopSimulator := func() {
		if !simStopped {
			simStopped = true
			stopSim()
			<-simDone
		}
	}
	defer stopSimulator()
	// The ramp ends when every device has connected once (with churn,
	// some are always away).
	for {
		mu.Lock()
		n := len(connected)
		mu.Unlock()
		if n >= len(devices) || time.Since(rampStart) > 10*time.Minute {
			res.rampTime, res.rampConnected, res.rampStats = time.Since(rampStart), n, simulator.Stats()
			break
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	res.rampServerCPU = (procCPU(srv.proc.Pid()) - rs0) / res.rampTime.Seconds()
	logf("  %d connected in %s (%d connect failures)", res.rampConnected, res.rampTime.Round(time.Millisecond), res.rampStats.ConnectFailures)
	if err := sleep(ctx, cfg.settle); err != nil {
		return err
	}

	// The steady-state window, with a firmware rollout to K devices a
	// quarter of the way in.
	logf("measuring for %s (rollout of firmware %s to %d devices at %s)", cfg.duration, newFirmware, cfg.rollout, cfg.duration/4)
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	samples := make(chan []sample, 1)
	go func() {
		var out []sample
		t := time.NewTicker(time.Second)
		defer t.Stop()
		take := func() {
			s := sample{at: time.Now(), stats: simulator.Stats(), serverCPU: procCPU(srv.proc.Pid()), simCPU: procCPU(0),
				serverRSS: procRSS(srv.proc.Pid()), simRSS: procRSS(0), goroutines: runtime.NumGoroutine()}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			s.simHeap = ms.HeapInuse
			if m, err := srv.metrics(ctx); err == nil {
				s.serverMsgsReceived = m["iotdm_mqtt_messages_received_total"]
			}
			out = append(out, s)
		}
		take()
		end := time.Now().Add(cfg.duration)
		for time.Now().Before(end) {
			select {
			case <-wctx.Done():
				samples <- nil
				return
			case <-t.C:
				take()
			}
		}
		samples <- out
	}()
	if err := sleep(ctx, cfg.duration/4); err != nil {
		return err
	}
	rolled := rolloutSample(cfg.devices, cfg.rollout)
	res.rollout = len(rolled)
	fr := newFreshness(client, rolled)
	pctx, pcancel := context.WithCancel(ctx)
	defer pcancel()
	var pollers sync.WaitGroup
	pollers.Go(func() { fr.poll(pctx, shadowGroup) })
	pollers.Go(func() { fr.poll(pctx, attributeGroup) })
	mw := &metricWatch{cw: srv.cloudWatch(), period: cfg.metricPeriod, points: map[time.Time]observed{}}
	mctx, mcancel := context.WithCancel(ctx)
	defer mcancel()
	var metricPoller sync.WaitGroup
	metricPoller.Go(func() { mw.poll(mctx, time.Now().Add(-cfg.metricPeriod)) })
	signer := newShadowWriter(srv)
	setAt := map[string]time.Time{}
	for _, thing := range rolled {
		start := time.Now()
		if err := signer.desire(ctx, thing, newFirmware); err != nil {
			res.notes = append(res.notes, fmt.Sprintf("UpdateThingShadow %s: %v", thing, err))
			continue
		}
		setAt[thing] = time.Now()
		res.setLat = append(res.setLat, time.Since(start))
	}
	res.window = <-samples
	// Wait for the stragglers: every rolled-out device in both groups.
	deadline := time.Now().Add(2*cfg.firmwareDelay + time.Minute)
	for !fr.complete() && time.Now().Before(deadline) {
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	pcancel()
	pollers.Wait()
	mu.Lock()
	var last time.Time
	for _, thing := range rolled {
		rep, ok := reported[thing]
		if !ok {
			continue
		}
		last = maxTime(last, rep)
		if set, ok := setAt[thing]; ok {
			res.toReport = append(res.toReport, rep.Sub(set))
		}
		if seen, ok := fr.seenAt(shadowGroup, thing); ok {
			res.toShadowGrp = append(res.toShadowGrp, max(0, seen.Sub(rep)))
		} else {
			res.shadowMiss++
		}
		if seen, ok := fr.seenAt(attributeGroup, thing); ok {
			res.toAttrGrp = append(res.toAttrGrp, max(0, seen.Sub(rep)))
		} else {
			res.attrMiss++
		}
	}
	nReported := len(reported)
	mu.Unlock()
	res.polls, res.pollTime = fr.stats()
	if nReported < len(rolled) {
		res.notes = append(res.notes, fmt.Sprintf("%d of %d rolled-out devices reported %s", nReported, len(rolled), newFirmware))
	}
	if nReported > 0 {
		logf("waiting for fleet metric %s to count %d devices (period %s)", freshnessMetric, nReported, cfg.metricPeriod)
		deadline := last.Add(3*cfg.metricPeriod + 30*time.Second)
		for {
			if at, seen, v, ok := mw.first(float64(nReported)); ok {
				res.metricFound, res.metricAfterLast, res.metricAfterTS, res.metricValue = true, seen.Sub(last), seen.Sub(at), v
				break
			}
			if time.Now().After(deadline) {
				break
			}
			if err := sleep(ctx, 100*time.Millisecond); err != nil {
				return err
			}
		}
	}
	mcancel()
	metricPoller.Wait()
	res.finalStats = simulator.Stats()
	logf("stopping the simulator")
	stopStart := time.Now()
	stopSimulator()
	res.stopTime = time.Since(stopStart)
	return nil
}

func keyMethod(csr bool) string {
	if csr {
		return "ECDSA P-256 keys made here, CreateCertificateFromCsr"
	}
	return "CreateKeysAndCertificate, RSA 2048 keys made by the server"
}

// createProbes creates the dynamic groups and the fleet metric of the
// freshness measurement.
func createProbes(ctx context.Context, c *iot.Client, period time.Duration) error {
	for name, q := range map[string]string{
		shadowGroup:    "shadow.reported.firmware:" + newFirmware,
		attributeGroup: "attributes.firmware:" + newFirmware,
	} {
		if _, err := c.CreateDynamicThingGroup(ctx, &iot.CreateDynamicThingGroupInput{ThingGroupName: aws.String(name),
			QueryString: aws.String(q)}); err != nil {
			return fmt.Errorf("CreateDynamicThingGroup %s: %w", name, err)
		}
	}
	_, err := c.CreateFleetMetric(ctx, &iot.CreateFleetMetricInput{MetricName: aws.String(freshnessMetric),
		QueryString:      aws.String("shadow.reported.firmware:" + newFirmware),
		AggregationType:  &types.AggregationType{Name: types.AggregationTypeNameStatistics, Values: []string{"count"}},
		AggregationField: aws.String("registry.version"), Period: aws.Int32(int32(period / time.Second)),
		Unit: types.FleetMetricUnitCount})
	if err != nil {
		return fmt.Errorf("CreateFleetMetric: %w", err)
	}
	return nil
}

// rolloutSample picks k devices spread evenly over n.
func rolloutSample(n, k int) []string {
	names := sim.Names("sensor-", 1, n)
	out := make([]string, 0, k)
	for i := range k {
		out = append(out, names[i*n/k])
	}
	return out
}

// freshness polls dynamic groups and records when each watched thing
// first shows up as a member.
type freshness struct {
	c     *iot.Client
	watch map[string]bool
	mu    sync.Mutex
	seen  map[string]map[string]time.Time // group → thing → first seen
	polls int
	spent time.Duration
}

func newFreshness(c *iot.Client, things []string) *freshness {
	f := &freshness{c: c, watch: map[string]bool{}, seen: map[string]map[string]time.Time{}}
	for _, t := range things {
		f.watch[t] = true
	}
	return f
}

func (f *freshness) poll(ctx context.Context, group string) {
	for ctx.Err() == nil {
		start := time.Now()
		var things []string
		p := iot.NewListThingsInThingGroupPaginator(f.c, &iot.ListThingsInThingGroupInput{ThingGroupName: aws.String(group), MaxResults: aws.Int32(250)})
		ok := true
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				ok = false
				break
			}
			things = append(things, page.Things...)
		}
		now := time.Now()
		f.mu.Lock()
		f.polls++
		f.spent += now.Sub(start)
		if ok {
			m := f.seen[group]
			if m == nil {
				m = map[string]time.Time{}
				f.seen[group] = m
			}
			for _, t := range things {
				if _, dup := m[t]; !dup && f.watch[t] {
					m[t] = now
				}
			}
		}
		f.mu.Unlock()
		_ = sleep(ctx, pollInterval)
	}
}

func (f *freshness) seenAt(group, thing string) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.seen[group][thing]
	return t, ok
}

func (f *freshness) complete() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.seen[shadowGroup]) == len(f.watch) && len(f.seen[attributeGroup]) == len(f.watch)
}

func (f *freshness) stats() (int, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.polls == 0 {
		return 0, 0
	}
	return f.polls, f.spent / time.Duration(f.polls)
}

// metricWatch polls the freshness fleet metric's datapoints and records
// when each was first seen.
type metricWatch struct {
	cw     *cloudwatch.Client
	period time.Duration
	mu     sync.Mutex
	points map[time.Time]observed
}

type observed struct {
	value float64
	seen  time.Time
}

// metricPoll is how often the fleet metric is read.
const metricPoll = 250 * time.Millisecond

func (m *metricWatch) poll(ctx context.Context, since time.Time) {
	for ctx.Err() == nil {
		out, err := m.cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("IoTFleetMetrics"),
			MetricName: aws.String(freshnessMetric),
			Dimensions: []cwtypes.Dimension{{Name: aws.String("AggregationType"), Value: aws.String("count")}},
			StartTime:  aws.Time(since), EndTime: aws.Time(time.Now().Add(m.period)),
			Period: aws.Int32(int32(max(m.period/time.Second, 1))), Statistics: []cwtypes.Statistic{cwtypes.StatisticMaximum}})
		now := time.Now()
		if err == nil {
			m.mu.Lock()
			for _, dp := range out.Datapoints {
				ts := aws.ToTime(dp.Timestamp)
				if _, ok := m.points[ts]; !ok {
					m.points[ts] = observed{value: aws.ToFloat64(dp.Maximum), seen: now}
				}
			}
			m.mu.Unlock()
		}
		_ = sleep(ctx, metricPoll)
	}
}

// first returns the earliest datapoint whose value is at least want: its
// timestamp, when it was first seen and its value.
func (m *metricWatch) first(want float64) (at, seen time.Time, value float64, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for ts, o := range m.points {
		if o.value >= want && (!ok || ts.Before(at)) {
			at, seen, value, ok = ts, o.seen, o.value, true
		}
	}
	return at, seen, value, ok
}

// shadowWriter sets desired state with the iot-data REST API, signed with
// SigV4 (the SDK's iotdataplane module is not a dependency).
type shadowWriter struct {
	base   string
	region string
	creds  aws.Credentials
	http   *http.Client
	signer *v4.Signer
}

func newShadowWriter(s *iotdm) *shadowWriter {
	return &shadowWriter{base: s.st.Endpoint, region: s.st.Region, signer: v4.NewSigner(),
		creds: aws.Credentials{AccessKeyID: benchAccessKey, SecretAccessKey: benchSecretKey},
		http:  &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: nil}}}
}

func (w *shadowWriter) desire(ctx context.Context, thing, firmware string) error {
	body := []byte(`{"state":{"desired":{"firmware":"` + firmware + `"}}}`)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.base+"/things/"+thing+"/shadow", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(body)
	if err := w.signer.SignHTTP(ctx, w.creds, req, hex.EncodeToString(sum[:]), "iotdata", w.region, time.Now()); err != nil {
		return err
	}
	resp, err := w.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, b)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
