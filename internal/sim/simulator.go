package sim

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
)

// Config configures a Simulator. Zero durations and counts take the
// defaults noted.
type Config struct {
	Devices []*Device
	// Endpoint overrides the devices' config.json endpoint (host:port), for
	// a server that moved.
	Endpoint string

	// Rate is the telemetry messages per second of each device on
	// devices/{thing}/telemetry; 0 sends none. TelemetryQoS is 0 or 1.
	Rate         float64
	TelemetryQoS byte
	// ShadowInterval is how often a device reports its whole state
	// (temperature, humidity, battery, firmware) besides at connect and
	// after a change (default 60 s; negative: only then).
	ShadowInterval time.Duration
	// FirmwareDelay is how long a device takes to install a firmware
	// version it finds in its shadow's desired state (each update takes
	// between half and one and a half times it; default 10 s).
	FirmwareDelay time.Duration
	// JobFailureRate is the share of firmware jobs (AWS IoT Jobs, see
	// jobs.go) a device reports FAILED instead of SUCCEEDED (0 to 1).
	JobFailureRate float64
	// Churn is the probability that a connected device disconnects within
	// a minute (0 to 1); it comes back after ChurnOffline on average
	// (default 5 s).
	Churn        float64
	ChurnOffline time.Duration
	// ReconnectMin and ReconnectMax bound the exponential back-off after a
	// failed connect or a lost connection (defaults 1 s and 60 s).
	ReconnectMin, ReconnectMax time.Duration
	// KeepAlive is the MQTT keep-alive (default 300 s).
	KeepAlive time.Duration
	// ConnectConcurrency is how many connects (TLS handshake, CONNECT,
	// SUBSCRIBE) run at once (default 32): the ramp-up rate.
	ConnectConcurrency int
	// Workers publish the due messages (default 4).
	Workers int

	// With SyncAttributes, once a device reports a new firmware, the
	// simulator sets the thing's firmware attribute through API
	// (UpdateThing), as a backend following the rollout would, so that
	// attribute-based dynamic groups and fleet metrics follow it.
	SyncAttributes bool
	API            *iot.Client

	// OnFirmwareReported is called after a device published the report of
	// a new firmware version. It must be quick.
	OnFirmwareReported func(thing, version string, at time.Time)
	// OnConnect is called after each successful connect. It must be quick.
	OnConnect func(thing string)
	Logger    *slog.Logger
}

// Stats are the simulator's counters; Connected and Connecting are gauges,
// the rest totals since Run started.
type Stats struct {
	Devices, Connected, Connecting int
	Connects, ConnectFailures      int64
	// Disconnects are the random ones (Churn); Drops are connections the
	// server or the network ended.
	Disconnects, Drops int64
	Telemetry          int64 // telemetry messages published
	ShadowUpdates      int64 // shadow update requests published
	ShadowRejected     int64 // …/update/rejected and …/get/rejected answers
	Deltas             int64 // desired-state changes received
	FirmwareApplied    int64
	PublishErrors      int64
	AttributeSyncs     int64
	AttributeErrors    int64
	// Jobs: executions reported SUCCEEDED and FAILED (accepted by the
	// service), and requests the service rejected. JobsRefused counts
	// connections whose subscription to the jobs topics the policy refused.
	JobsSucceeded, JobsFailed, JobsRejected, JobsRefused int64
	LastError                                            string
}

// Errors is every failure counted.
func (s Stats) Errors() int64 {
	return s.ConnectFailures + s.Drops + s.ShadowRejected + s.PublishErrors + s.AttributeErrors + s.JobsRejected
}

// Messages is the messages published.
func (s Stats) Messages() int64 { return s.Telemetry + s.ShadowUpdates }

// Simulator runs a fleet of simulated devices. Each device holds an MQTT 5
// connection over mutual TLS (paho.golang, whose goroutines serve it) and
// otherwise costs only its state and its events in a shared scheduler.
type Simulator struct {
	cfg     Config
	log     *slog.Logger
	devices []*device
	sched   *scheduler
	work    chan event
	connect chan *device
	syncs   chan attrSync

	connected, connecting atomic.Int64
	connects, connectFailures,
	disconnects, drops,
	telemetry, shadowUpdates, shadowRejected, deltas,
	firmwareApplied, publishErrors,
	attrSyncs, attrErrors,
	jobsSucceeded, jobsFailed, jobsRejected, jobsRefused atomic.Int64
	jobsHint atomic.Bool // the policy hint was logged
	lastErr  atomic.Pointer[string]
}

type attrSync struct{ thing, firmware string }

type devState uint8

const (
	offline devState = iota
	connecting
	online
)

// device is one simulated device: what it was provisioned with, its
// connection and its sensors.
type device struct {
	name, clientID string
	addr           string
	topics         Topics
	tls            *tls.Config

	mu       sync.Mutex
	state    devState
	gen      uint32 // connection generation: events of older ones are stale
	lostGen  uint32 // a connection lost while its connect was finishing
	client   *paho.Client
	failures int // consecutive failures, for the back-off

	firmware, pending string
	extra             map[string]any // desired keys other than firmware, echoed as reported
	baseTemp          float64
	baseHumidity      float64
	phase             float64
	battery           float64 // percent
	drain             float64 // percent per second
	lastDrain         time.Time
	seq               uint64
	jobs              bool    // subscribed to the jobs topics on this connection
	job               *simJob // the job execution in progress
}

// New prepares a simulator: it parses every device's certificate and key.
func New(cfg Config) (*Simulator, error) {
	if len(cfg.Devices) == 0 {
		return nil, errors.New("no devices to simulate")
	}
	if cfg.Rate < 0 || math.IsNaN(cfg.Rate) || math.IsInf(cfg.Rate, 0) {
		return nil, errors.New("rate must be a non-negative number")
	}
	if !(cfg.JobFailureRate >= 0 && cfg.JobFailureRate <= 1) {
		return nil, errors.New("job failure rate must be between 0 and 1")
	}
	if cfg.Churn < 0 || cfg.Churn > 1 {
		return nil, errors.New("churn must be a probability between 0 and 1")
	}
	if cfg.TelemetryQoS > 1 {
		return nil, errors.New("telemetry QoS must be 0 or 1 (AWS IoT has no QoS 2)")
	}
	if cfg.SyncAttributes && cfg.API == nil {
		return nil, errors.New("attribute sync needs an AWS IoT client")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.ShadowInterval, time.Minute)
	def(&cfg.FirmwareDelay, 10*time.Second)
	def(&cfg.ChurnOffline, 5*time.Second)
	def(&cfg.ReconnectMin, time.Second)
	def(&cfg.ReconnectMax, time.Minute)
	def(&cfg.KeepAlive, 300*time.Second)
	if cfg.ConnectConcurrency <= 0 {
		cfg.ConnectConcurrency = 32
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Simulator{cfg: cfg, log: cfg.Logger, sched: newScheduler(2 * time.Millisecond)}
	pools := map[string]*x509.CertPool{} // devices share their trust anchors
	now := time.Now()
	for _, d := range cfg.Devices {
		dev, err := newDevice(d, cfg.Endpoint, pools, now)
		if err != nil {
			return nil, fmt.Errorf("device %s: %w", d.Config.ThingName, err)
		}
		s.devices = append(s.devices, dev)
	}
	return s, nil
}

func newDevice(d *Device, endpoint string, pools map[string]*x509.CertPool, now time.Time) (*device, error) {
	c := &d.Config
	addr := c.Addr()
	if endpoint != "" {
		addr = endpoint
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: %w", addr, err)
	}
	pair, err := tls.X509KeyPair(d.CertPEM, d.KeyPEM)
	if err != nil {
		return nil, fmt.Errorf("certificate and key: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{pair}, ServerName: host, MinVersion: tls.VersionTLS12,
		// Each device resumes its own TLS sessions only: a cache shared by
		// devices would let one resume another's session.
		ClientSessionCache: tls.NewLRUClientSessionCache(1)}
	if d.CAPEM != nil {
		pool, ok := pools[string(d.CAPEM)]
		if !ok {
			pool = x509.NewCertPool()
			if !pool.AppendCertsFromPEM(d.CAPEM) {
				return nil, errors.New("root CA file holds no certificate")
			}
			pools[string(d.CAPEM)] = pool
		}
		tc.RootCAs = pool
	}
	fw := c.Attributes["firmware"]
	if fw == "" {
		fw = "1.0.0"
	}
	return &device{
		name: c.ThingName, clientID: c.ClientID, addr: addr, topics: c.Topics, tls: tc,
		firmware:     fw,
		baseTemp:     18 + 8*rand.Float64(),
		baseHumidity: 30 + 30*rand.Float64(),
		phase:        2 * math.Pi * rand.Float64(),
		battery:      40 + 60*rand.Float64(),
		drain:        (0.5 + rand.Float64()) / 60, // 0.5–1.5 % a minute
		lastDrain:    now,
	}, nil
}

// Stats returns the counters; it may be called while Run runs.
func (s *Simulator) Stats() Stats {
	st := Stats{Devices: len(s.devices), Connected: int(s.connected.Load()), Connecting: int(s.connecting.Load()),
		Connects: s.connects.Load(), ConnectFailures: s.connectFailures.Load(),
		Disconnects: s.disconnects.Load(), Drops: s.drops.Load(),
		Telemetry: s.telemetry.Load(), ShadowUpdates: s.shadowUpdates.Load(), ShadowRejected: s.shadowRejected.Load(),
		Deltas: s.deltas.Load(), FirmwareApplied: s.firmwareApplied.Load(), PublishErrors: s.publishErrors.Load(),
		AttributeSyncs: s.attrSyncs.Load(), AttributeErrors: s.attrErrors.Load(),
		JobsSucceeded: s.jobsSucceeded.Load(), JobsFailed: s.jobsFailed.Load(),
		JobsRejected: s.jobsRejected.Load(), JobsRefused: s.jobsRefused.Load()}
	if p := s.lastErr.Load(); p != nil {
		st.LastError = *p
	}
	return st
}

func (s *Simulator) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.lastErr.Store(&msg)
	s.log.Debug(msg)
}

// Disconnect ends a device's connection as a random disconnect would (it
// reconnects after ChurnOffline); it reports whether the device was
// connected.
func (s *Simulator) Disconnect(thing string) bool {
	for _, d := range s.devices {
		if d.name == thing {
			d.mu.Lock()
			gen, on := d.gen, d.state == online
			d.mu.Unlock()
			if on {
				s.churn(event{dev: d, gen: gen, kind: evChurn})
			}
			return on
		}
	}
	return false
}

// Run connects every device and runs the fleet until ctx ends, then
// disconnects them all and returns.
func (s *Simulator) Run(ctx context.Context) error {
	s.work = make(chan event, 1024)
	s.connect = make(chan *device, len(s.devices))
	s.syncs = make(chan attrSync, len(s.devices))
	var wg sync.WaitGroup
	wg.Go(func() { s.sched.run(ctx, func(e event) { s.dispatch(ctx, e) }) })
	for range s.cfg.Workers {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case e := <-s.work:
					s.handle(ctx, e)
				}
			}
		})
	}
	for range s.cfg.ConnectConcurrency {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case d := <-s.connect:
					s.dial(ctx, d)
				}
			}
		})
	}
	if s.cfg.SyncAttributes {
		for range 2 {
			wg.Go(func() {
				for {
					select {
					case <-ctx.Done():
						return
					case a := <-s.syncs:
						s.syncAttribute(ctx, a)
					}
				}
			})
		}
	}
	for _, d := range s.devices {
		s.connect <- d
	}
	<-ctx.Done()
	wg.Wait()
	s.disconnectAll()
	return nil
}

// dispatch hands a due event to its workers.
func (s *Simulator) dispatch(ctx context.Context, e event) {
	if e.kind == evConnect {
		select {
		case s.connect <- e.dev:
		default:
			// Every device has at most one connect pending, so this is
			// full only in a burst; try again shortly.
			e.at = time.Now().Add(100 * time.Millisecond).UnixNano()
			s.sched.add(e)
		}
		return
	}
	select {
	case s.work <- e:
	case <-ctx.Done():
	}
}

func (s *Simulator) at(d time.Duration) int64 { return time.Now().Add(d).UnixNano() }

// backoff is the delay before reconnect attempt n (1, 2, ...): exponential
// from ReconnectMin to ReconnectMax, with full jitter above the minimum.
func (s *Simulator) backoff(n int) time.Duration {
	d := s.cfg.ReconnectMin << min(n-1, 16)
	if d <= 0 || d > s.cfg.ReconnectMax {
		d = s.cfg.ReconnectMax
	}
	return s.cfg.ReconnectMin + time.Duration(rand.Int64N(int64(d-s.cfg.ReconnectMin)+1))
}

// writeDeadlineConn bounds each write, so a stalled connection cannot hold
// a publishing worker for long.
type writeDeadlineConn struct{ net.Conn }

const writeTimeout = 10 * time.Second

func (c writeDeadlineConn) Write(b []byte) (int, error) {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	return c.Conn.Write(b)
}

// connectTimeout bounds the TCP connect, TLS handshake, CONNACK and SUBACK.
const connectTimeout = 20 * time.Second

// dial connects device d, subscribes to its shadow topics, reports its
// state and asks for its shadow, and schedules its events.
func (s *Simulator) dial(ctx context.Context, d *device) {
	d.mu.Lock()
	if d.state != offline {
		d.mu.Unlock()
		return
	}
	d.state = connecting
	d.gen++
	gen := d.gen
	d.pending = "" // a firmware update in progress is found again in the shadow
	d.job = nil    // and a job in progress through start-next
	d.jobs = false
	d.mu.Unlock()
	s.connecting.Add(1)
	c, jobs, err := s.open(ctx, d, gen)
	s.connecting.Add(-1)
	if err != nil {
		d.mu.Lock()
		d.state = offline
		d.failures++
		n := d.failures
		d.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		s.connectFailures.Add(1)
		s.fail("connect %s: %v", d.name, err)
		s.sched.add(event{at: s.at(s.backoff(n)), dev: d, gen: gen, kind: evConnect})
		return
	}
	d.mu.Lock()
	if d.lostGen == gen {
		// Lost while the connect finished.
		d.state = offline
		d.failures++
		n := d.failures
		d.mu.Unlock()
		s.drops.Add(1)
		go c.Disconnect(&paho.Disconnect{})
		s.sched.add(event{at: s.at(s.backoff(n)), dev: d, gen: gen, kind: evConnect})
		return
	}
	d.state, d.client, d.failures, d.jobs = online, c, 0, jobs
	report := d.report(time.Now())
	d.mu.Unlock()
	s.connected.Add(1)
	s.connects.Add(1)
	if s.cfg.OnConnect != nil {
		s.cfg.OnConnect(d.name)
	}
	s.publish(ctx, c, d.topics.ShadowUpdate, 1, report, &s.shadowUpdates)
	// The shadow's delta, if any, comes back on …/get/accepted.
	s.publish(ctx, c, d.topics.ShadowGet, 0, nil, nil)
	if jobs {
		// Takes up a job queued or in progress while offline.
		s.publish(ctx, c, jobsTopic(d.name, "start-next"), 1, []byte("{}"), nil)
	}
	if s.cfg.Rate > 0 {
		period := time.Duration(float64(time.Second) / s.cfg.Rate)
		s.sched.add(event{at: s.at(time.Duration(rand.Int64N(int64(period) + 1))), dev: d, gen: gen, kind: evTelemetry})
	}
	if s.cfg.ShadowInterval > 0 {
		first := s.cfg.ShadowInterval/2 + time.Duration(rand.Int64N(int64(s.cfg.ShadowInterval)))
		s.sched.add(event{at: s.at(first), dev: d, gen: gen, kind: evShadow})
	}
	s.scheduleChurn(d, gen)
}

// scheduleChurn draws the time of the next random disconnect: with
// probability p per minute, the time to it is exponential with rate
// -ln(1-p) per minute.
func (s *Simulator) scheduleChurn(d *device, gen uint32) {
	if s.cfg.Churn <= 0 {
		return
	}
	lambda := -math.Log1p(-s.cfg.Churn) // per minute
	if math.IsInf(lambda, 1) {
		lambda = 60 // p = 1: about once a second
	}
	wait := time.Duration(rand.ExpFloat64() / lambda * float64(time.Minute))
	s.sched.add(event{at: s.at(wait), dev: d, gen: gen, kind: evChurn})
}

// open makes the connection: TLS, CONNECT, SUBSCRIBE. jobs reports
// whether the subscription to the jobs topics was granted.
func (s *Simulator) open(ctx context.Context, d *device, gen uint32) (_ *paho.Client, jobs bool, _ error) {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	dialer := tls.Dialer{NetDialer: &net.Dialer{}, Config: d.tls}
	nc, err := dialer.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, false, err
	}
	receiveMax := uint16(16) // paho buffers this many incoming messages per client
	c := paho.NewClient(paho.ClientConfig{
		Conn:              packets.NewThreadSafeConn(writeDeadlineConn{nc}),
		PacketTimeout:     connectTimeout,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){s.onMessage(d, gen)},
		OnClientError:     func(err error) { s.lost(d, gen, err.Error()) },
		OnServerDisconnect: func(p *paho.Disconnect) {
			why := fmt.Sprintf("server disconnect 0x%02x", p.ReasonCode)
			if p.Properties != nil && p.Properties.ReasonString != "" {
				why += " " + p.Properties.ReasonString
			}
			s.lost(d, gen, why)
		},
	})
	ka := uint16(min(max(s.cfg.KeepAlive/time.Second, 1), math.MaxUint16))
	ack, err := c.Connect(ctx, &paho.Connect{ClientID: d.clientID, KeepAlive: ka, CleanStart: true,
		Properties: &paho.ConnectProperties{ReceiveMaximum: &receiveMax}})
	if err != nil {
		nc.Close()
		if ack != nil {
			return nil, false, fmt.Errorf("CONNACK 0x%02x: %w", ack.ReasonCode, err)
		}
		return nil, false, err
	}
	t := d.topics
	sa, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{
		{Topic: t.ShadowDelta, QoS: 1}, {Topic: t.ShadowRejected, QoS: 1},
		{Topic: t.ShadowGetOK, QoS: 1}, {Topic: t.ShadowGetError, QoS: 1}}})
	if err == nil && sa != nil {
		for _, r := range sa.Reasons {
			if r >= 0x80 {
				err = fmt.Errorf("SUBACK 0x%02x", r)
				break
			}
		}
	}
	if err != nil {
		_ = c.Disconnect(&paho.Disconnect{})
		return nil, false, fmt.Errorf("subscribe: %w", err)
	}
	jobs, err = s.subscribeJobs(ctx, c, d)
	if err != nil {
		_ = c.Disconnect(&paho.Disconnect{})
		return nil, false, fmt.Errorf("subscribe to jobs: %w", err)
	}
	return c, jobs, nil
}

// lost handles the end of connection gen that the simulator did not ask
// for.
func (s *Simulator) lost(d *device, gen uint32, why string) {
	d.mu.Lock()
	if d.gen != gen || d.state == offline {
		d.mu.Unlock()
		return
	}
	if d.state == connecting {
		d.lostGen = gen
		d.mu.Unlock()
		return
	}
	d.state, d.client = offline, nil
	d.failures++
	n := d.failures
	d.mu.Unlock()
	s.connected.Add(-1)
	s.drops.Add(1)
	s.fail("%s: connection lost: %s", d.name, why)
	s.sched.add(event{at: s.at(s.backoff(n)), dev: d, gen: gen, kind: evConnect})
}

// live returns the client of connection gen, nil when it is no longer the
// device's live connection.
func (d *device) live(gen uint32) *paho.Client {
	if d.gen != gen || d.state != online {
		return nil
	}
	return d.client
}

// handle runs one due event on a worker.
func (s *Simulator) handle(ctx context.Context, e event) {
	d := e.dev
	switch e.kind {
	case evTelemetry:
		period := time.Duration(float64(time.Second) / s.cfg.Rate)
		d.mu.Lock()
		c := d.live(e.gen)
		var payload []byte
		if c != nil {
			payload = d.telemetry(time.Now())
		}
		d.mu.Unlock()
		if c == nil {
			return
		}
		s.publish(ctx, c, d.topics.Telemetry, s.cfg.TelemetryQoS, payload, &s.telemetry)
		next := e.at + int64(period)
		if now := time.Now().UnixNano(); next < now-int64(period) {
			next = now + int64(period) // far behind: skip, do not burst
		}
		s.sched.add(event{at: next, dev: d, gen: e.gen, kind: evTelemetry})
	case evShadow:
		d.mu.Lock()
		c := d.live(e.gen)
		var report []byte
		if c != nil {
			report = d.report(time.Now())
		}
		d.mu.Unlock()
		if c == nil {
			return
		}
		s.publish(ctx, c, d.topics.ShadowUpdate, 1, report, &s.shadowUpdates)
		if s.cfg.ShadowInterval > 0 {
			s.sched.add(event{at: max(e.at+int64(s.cfg.ShadowInterval), time.Now().UnixNano()), dev: d, gen: e.gen, kind: evShadow})
		}
	case evFirmware:
		d.mu.Lock()
		c := d.live(e.gen)
		if c == nil || d.pending == "" {
			d.mu.Unlock()
			return
		}
		d.firmware, d.pending = d.pending, ""
		fw := d.firmware
		report := d.report(time.Now())
		d.mu.Unlock()
		if !s.publish(ctx, c, d.topics.ShadowUpdate, 1, report, &s.shadowUpdates) {
			return
		}
		s.firmwareReported(d, fw)
	case evChurn:
		s.churn(e)
	case evJobNext:
		s.startNextJob(ctx, e)
	case evJob:
		s.finishJob(ctx, e)
	}
}

// firmwareReported counts a published report of firmware fw, calls
// OnFirmwareReported and queues the attribute sync.
func (s *Simulator) firmwareReported(d *device, fw string) {
	s.firmwareApplied.Add(1)
	if s.cfg.OnFirmwareReported != nil {
		s.cfg.OnFirmwareReported(d.name, fw, time.Now())
	}
	if s.cfg.SyncAttributes {
		select {
		case s.syncs <- attrSync{d.name, fw}:
		default:
			s.attrErrors.Add(1)
			s.fail("%s: attribute sync queue full", d.name)
		}
	}
}

// churn disconnects connection e.gen of a device and schedules its return.
func (s *Simulator) churn(e event) {
	d := e.dev
	d.mu.Lock()
	c := d.live(e.gen)
	if c == nil {
		d.mu.Unlock()
		return
	}
	d.state, d.client = offline, nil
	d.mu.Unlock()
	s.connected.Add(-1)
	s.disconnects.Add(1)
	_ = c.Disconnect(&paho.Disconnect{ReasonCode: 0})
	off := time.Duration(rand.ExpFloat64() * float64(s.cfg.ChurnOffline))
	s.sched.add(event{at: s.at(off), dev: d, gen: e.gen, kind: evConnect})
}

// publish sends one message without waiting for its PUBACK and counts it
// in n (when not nil); it reports whether the message went out.
func (s *Simulator) publish(ctx context.Context, c *paho.Client, topic string, qos byte, payload []byte, n *atomic.Int64) bool {
	_, err := c.PublishWithOptions(ctx, &paho.Publish{Topic: topic, QoS: qos, Payload: payload},
		paho.PublishOptions{Method: paho.PublishMethod_AsyncSend})
	if err != nil {
		if ctx.Err() == nil {
			s.publishErrors.Add(1)
			s.fail("publish %s: %v", topic, err)
		}
		return false
	}
	if n != nil {
		n.Add(1)
	}
	return true
}

// onMessage handles what the shadow service sends connection gen of d. It
// runs on the client's goroutine: it only updates state and schedules.
func (s *Simulator) onMessage(d *device, gen uint32) func(paho.PublishReceived) (bool, error) {
	return func(pr paho.PublishReceived) (bool, error) {
		p := pr.Packet
		if strings.HasPrefix(p.Topic, jobsTopic(d.name, "")) {
			s.onJobsMessage(d, gen, p.Topic, p.Payload)
			return true, nil
		}
		switch p.Topic {
		case d.topics.ShadowDelta:
			if st, ok := parseDelta(p.Payload, false); ok {
				s.deltas.Add(1)
				s.desired(d, gen, st)
			}
		case d.topics.ShadowGetOK:
			if st, ok := parseDelta(p.Payload, true); ok && len(st) > 0 {
				s.deltas.Add(1)
				s.desired(d, gen, st)
			}
		case d.topics.ShadowRejected, d.topics.ShadowGetError:
			code, msg := parseError(p.Payload)
			if p.Topic == d.topics.ShadowGetError && code == 404 {
				return true, nil // no shadow yet
			}
			s.shadowRejected.Add(1)
			s.fail("%s: %s: %d %s", d.name, strings.TrimPrefix(p.Topic, "$aws/things/"+d.name+"/shadow/"), code, msg)
		}
		return true, nil
	}
}

// desired applies a desired state: a new firmware after FirmwareDelay,
// anything else at once (reported as it is).
func (s *Simulator) desired(d *device, gen uint32, st map[string]any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.gen != gen {
		return
	}
	echo := false
	for k, v := range st {
		switch k {
		case "firmware":
			fw, ok := v.(string)
			if !ok || fw == "" || fw == d.firmware || fw == d.pending {
				continue
			}
			d.pending = fw
			delay := time.Duration((0.5 + rand.Float64()) * float64(s.cfg.FirmwareDelay))
			s.sched.add(event{at: s.at(delay), dev: d, gen: gen, kind: evFirmware})
		case "temperature", "humidity", "battery":
			// Measured, not settable.
		default:
			if v == nil {
				continue
			}
			if d.extra == nil {
				d.extra = map[string]any{}
			}
			d.extra[k] = v
			echo = true
		}
	}
	if echo {
		s.sched.add(event{at: s.at(0), dev: d, gen: gen, kind: evShadow})
	}
}

// syncAttribute sets a thing's firmware attribute.
func (s *Simulator) syncAttribute(ctx context.Context, a attrSync) {
	_, err := s.cfg.API.UpdateThing(ctx, &iot.UpdateThingInput{ThingName: aws.String(a.thing),
		AttributePayload: &types.AttributePayload{Attributes: map[string]string{"firmware": a.firmware}, Merge: true}})
	if err != nil {
		if ctx.Err() == nil {
			s.attrErrors.Add(1)
			s.fail("UpdateThing %s: %v", a.thing, apiErr(err))
		}
		return
	}
	s.attrSyncs.Add(1)
}

// disconnectAll ends every live connection, a few at a time.
func (s *Simulator) disconnectAll() {
	var clients []*paho.Client
	for _, d := range s.devices {
		d.mu.Lock()
		if d.state == online && d.client != nil {
			clients = append(clients, d.client)
			s.connected.Add(-1)
		}
		d.state, d.client = offline, nil
		d.gen++
		d.mu.Unlock()
	}
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range min(64, len(clients)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(clients) {
					return
				}
				_ = clients[i].Disconnect(&paho.Disconnect{ReasonCode: 0})
			}
		})
	}
	wg.Wait()
}
