package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Flow patterns of the throughput scenarios.
const (
	patFanIn    = "fan-in"
	patFanOut   = "fan-out"
	patPairwise = "pairwise"
)

const (
	// subBudget is how many messages may be on their way to one
	// subscriber (published, not yet delivered): its publishers share it
	// as their end-to-end window. It is well below what either broker
	// queues per client (mosquitto: 1000 queued QoS 1 messages; iotdm: 1000
	// QoS 1, 8192 pending writes), so a broker is never asked to drop.
	subBudget = 512
	// pubInflight is the most unacknowledged QoS 1 PUBLISH packets per
	// publisher (iotdm, as AWS, allows 100).
	pubInflight = 64
	// stallTimeout: a publisher whose window has not moved for this long
	// counts its outstanding messages as lost and goes on.
	stallTimeout = 2 * time.Second
	// throughputKeepAlive is the keep-alive of the measuring connections.
	throughputKeepAlive = 60 * time.Second
)

// flowSpec is one throughput scenario.
type flowSpec struct {
	pattern    string
	qos        byte
	pubs, subs int
}

func (s flowSpec) key() string { return fmt.Sprintf("%s/%d", s.pattern, s.qos) }

func (s flowSpec) describe() string {
	switch s.pattern {
	case patFanIn:
		return fmt.Sprintf("%d publishers → 1 subscriber (`bench/…/fanin/+`)", s.pubs)
	case patFanOut:
		return fmt.Sprintf("1 publisher → %d subscribers of one topic", s.subs)
	}
	return fmt.Sprintf("%d pairs, each publisher to its own subscriber", s.pubs)
}

func flowSpecs(clients int) []flowSpec {
	var out []flowSpec
	for _, pat := range []string{patFanIn, patFanOut, patPairwise} {
		for _, qos := range []byte{0, 1} {
			s := flowSpec{pattern: pat, qos: qos}
			switch pat {
			case patFanIn:
				s.pubs, s.subs = clients, 1
			case patFanOut:
				s.pubs, s.subs = 1, clients
			default:
				s.pubs, s.subs = clients, clients
			}
			out = append(out, s)
		}
	}
	return out
}

// runTag makes topics and client ids unique per run.
var runTag atomic.Int64

// pubState is what a publisher shares with the subscribers that get its
// messages.
type pubState struct {
	delivered atomic.Int64  // deliveries of its messages, over all subscribers
	wake      chan struct{} // a token after a delivery
}

// flowResult is one throughput run.
type flowResult struct {
	rate      float64 // deliveries per second in the measured window
	delivered int64   // deliveries in the measured window
	sent      int64   // messages published, warm-up included
	lost      int64   // deliveries that never came (after a 1 s drain)
	stalls    int64   // windows given up after stallTimeout without a delivery
	err       string  // first error, if any
}

// runFlow connects the scenario's subscribers and publishers, lets the
// publishers run for warmup + duration as fast as their windows allow, and
// counts deliveries in the measured window.
func runFlow(ctx context.Context, t *target, s flowSpec, payloadSize int, warmup, duration time.Duration) (flowResult, error) {
	tag := runTag.Add(1)
	var res flowResult
	pubs := make([]*pubState, s.pubs)
	for i := range pubs {
		pubs[i] = &pubState{wake: make(chan struct{}, 1)}
	}
	var total atomic.Int64
	onPublish := func(_, payload []byte) {
		if len(payload) < 12 {
			return
		}
		i := int(binary.BigEndian.Uint32(payload[8:]))
		if i >= len(pubs) {
			return
		}
		total.Add(1)
		p := pubs[i]
		p.delivered.Add(1)
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
	topic := func(pub int) string {
		switch s.pattern {
		case patFanIn:
			return fmt.Sprintf("bench/r%d/fanin/%d", tag, pub)
		case patFanOut:
			return fmt.Sprintf("bench/r%d/fanout", tag)
		}
		return fmt.Sprintf("bench/r%d/pair/%d", tag, pub)
	}
	filter := func(sub int) string {
		switch s.pattern {
		case patFanIn:
			return fmt.Sprintf("bench/r%d/fanin/+", tag)
		case patFanOut:
			return fmt.Sprintf("bench/r%d/fanout", tag)
		}
		return fmt.Sprintf("bench/r%d/pair/%d", tag, sub)
	}
	fan := 1 // deliveries per message
	window := subBudget
	switch s.pattern {
	case patFanIn:
		window = max(8, subBudget/s.pubs)
	case patFanOut:
		fan = s.subs
	}

	var conns []*mqttConn
	defer func() {
		for _, c := range conns {
			c.close()
		}
	}()
	for i := range s.subs {
		c, err := dialMQTT(ctx, t.addr, t.tlsConfig(i), nil, fmt.Sprintf("bench-s%d-%d", tag, i), throughputKeepAlive)
		if err != nil {
			return res, fmt.Errorf("subscriber %d: %w", i, err)
		}
		conns = append(conns, c)
		if err := c.subscribe(filter(i), s.qos); err != nil {
			return res, fmt.Errorf("subscriber %d: %w", i, err)
		}
		c.grow()
		c.onPublish = onPublish
		c.start()
	}
	pconns := make([]*mqttConn, s.pubs)
	for i := range s.pubs {
		c, err := dialMQTT(ctx, t.addr, t.tlsConfig(s.subs+i), nil, fmt.Sprintf("bench-p%d-%d", tag, i), throughputKeepAlive)
		if err != nil {
			return res, fmt.Errorf("publisher %d: %w", i, err)
		}
		conns = append(conns, c)
		c.grow()
		c.start()
		pconns[i] = c
	}

	var stop atomic.Bool
	var wg sync.WaitGroup
	var mu sync.Mutex
	setErr := func(err error) {
		mu.Lock()
		if res.err == "" {
			res.err = err.Error()
		}
		mu.Unlock()
	}
	sent, stalls := make([]int64, s.pubs), make([]int64, s.pubs)
	for i, c := range pconns {
		wg.Go(func() {
			var err error
			sent[i], stalls[i], err = publishLoop(c, pubs[i], &stop, i, topic(i), s.qos, payloadSize, fan, window)
			if err != nil && !stop.Load() {
				setErr(fmt.Errorf("publisher %d: %w", i, err))
			}
		})
	}
	sleep(ctx, warmup)
	d0, t0 := total.Load(), time.Now()
	sleep(ctx, duration)
	d1, t1 := total.Load(), time.Now()
	stop.Store(true)
	for _, p := range pubs {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
	wg.Wait()
	res.delivered = d1 - d0
	res.rate = float64(res.delivered) / t1.Sub(t0).Seconds()
	// Let what is on its way arrive (up to 1 s), then count the deliveries
	// that never came.
	for range 10 {
		before := total.Load()
		sleep(ctx, 100*time.Millisecond)
		if total.Load() == before {
			break
		}
	}
	for i, p := range pubs {
		res.sent += sent[i]
		res.stalls += stalls[i]
		res.lost += max(0, sent[i]*int64(fan)-p.delivered.Load())
	}
	for i, c := range conns {
		select {
		case <-c.readDone:
			setErr(fmt.Errorf("connection %d ended early: %v", i, c.readErr))
		default:
		}
	}
	return res, ctx.Err()
}

// publishLoop publishes until stop, keeping at most window messages on
// their way to any one subscriber (it waits for deliveries down to half
// the window, then sends a burst) and, at QoS 1, at most pubInflight
// unacknowledged. When no delivery comes for stallTimeout, the outstanding
// messages are given up (a stall) and the window starts afresh. It returns
// the messages sent and the stalls.
func publishLoop(c *mqttConn, ps *pubState, stop *atomic.Bool, idx int, topic string, qos byte, size, fan, window int) (sent, stalls int64, err error) {
	var lost int64
	payload := make([]byte, max(size, 16))
	binary.BigEndian.PutUint32(payload[8:], uint32(idx))
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	outstanding := func() int64 { return sent - ps.delivered.Load()/int64(fan) - lost }
	for !stop.Load() {
		if outstanding() >= int64(window) {
			if err := c.flush(); err != nil {
				return sent, stalls, err
			}
			last := ps.delivered.Load()
			timer.Reset(stallTimeout)
			for o := outstanding(); o > int64(window/2) && !stop.Load(); o = outstanding() {
				select {
				case <-ps.wake:
				case <-c.readDone:
					return sent, stalls, fmt.Errorf("connection ended: %v", c.readErr)
				case <-timer.C:
					if d := ps.delivered.Load(); d == last {
						lost += o // nothing came for stallTimeout: give them up
						stalls++
					} else {
						last = d
					}
					timer.Reset(stallTimeout)
				}
			}
		}
		if qos == 1 && sent-c.acks.Load() >= pubInflight {
			if err := c.flush(); err != nil {
				return sent, stalls, err
			}
			timer.Reset(100 * time.Millisecond) // to see stop even without PUBACKs
			for sent-c.acks.Load() > pubInflight/2 && !stop.Load() {
				select {
				case <-c.ackWake:
				case <-c.readDone:
					return sent, stalls, fmt.Errorf("connection ended: %v", c.readErr)
				case <-timer.C:
					timer.Reset(100 * time.Millisecond)
				}
			}
		}
		binary.BigEndian.PutUint64(payload, uint64(time.Now().UnixNano()))
		if err := c.publish(topic, payload, qos); err != nil {
			return sent, stalls, err
		}
		sent++
	}
	return sent, stalls, c.flush()
}

// latResult is one latency run.
type latResult struct {
	offered   float64 // messages per second asked for
	achieved  float64 // messages per second delivered in the measured window
	lat       durations
	published int64
	cpu       cpuUse // CPU used in the measured window, in cores (when cpuOK)
	cpuOK     bool
	cpuErr    string // why cpu is missing, if it was read and failed
	err       string
}

// runLatency runs pairs pairwise QoS 1 streams, each publisher paced at
// rate/pairs messages per second (an open-loop schedule: a late message is
// sent at once, the next ones keep their times), and records, for every
// message delivered in the measured window, the time from just before its
// PUBLISH was written to its arrival at the subscriber (same process, same
// clock).
func runLatency(ctx context.Context, t *target, pairs int, rate float64, payloadSize int, warmup, duration time.Duration) (latResult, error) {
	tag := runTag.Add(1)
	res := latResult{offered: rate}
	var recording atomic.Bool
	lats := make([]durations, pairs)
	var conns []*mqttConn
	defer func() {
		for _, c := range conns {
			c.close()
		}
	}()
	for i := range pairs {
		c, err := dialMQTT(ctx, t.addr, t.tlsConfig(i), nil, fmt.Sprintf("bench-ls%d-%d", tag, i), throughputKeepAlive)
		if err != nil {
			return res, fmt.Errorf("subscriber %d: %w", i, err)
		}
		conns = append(conns, c)
		if err := c.subscribe(fmt.Sprintf("bench/r%d/lat/%d", tag, i), 1); err != nil {
			return res, fmt.Errorf("subscriber %d: %w", i, err)
		}
		c.grow()
		c.onPublish = func(_, payload []byte) {
			if len(payload) < 8 || !recording.Load() {
				return
			}
			sentAt := int64(binary.BigEndian.Uint64(payload))
			lats[i] = append(lats[i], time.Duration(time.Now().UnixNano()-sentAt))
		}
		c.start()
	}
	pconns := make([]*mqttConn, pairs)
	for i := range pairs {
		c, err := dialMQTT(ctx, t.addr, t.tlsConfig(pairs+i), nil, fmt.Sprintf("bench-lp%d-%d", tag, i), throughputKeepAlive)
		if err != nil {
			return res, fmt.Errorf("publisher %d: %w", i, err)
		}
		conns = append(conns, c)
		c.grow()
		c.start()
		pconns[i] = c
	}
	interval := time.Duration(float64(time.Second) * float64(pairs) / rate)
	var stop atomic.Bool
	var wg sync.WaitGroup
	var published atomic.Int64
	var mu sync.Mutex
	for i, c := range pconns {
		wg.Go(func() {
			payload := make([]byte, max(payloadSize, 16))
			topic := fmt.Sprintf("bench/r%d/lat/%d", tag, i)
			// Spread the pairs' schedules over one interval.
			next := time.Now().Add(time.Duration(rand.Int64N(int64(interval) + 1)))
			var n int64
			for !stop.Load() {
				if d := time.Until(next); d > 0 {
					time.Sleep(d)
				}
				next = next.Add(interval)
				for n-c.acks.Load() >= pubInflight && !stop.Load() {
					select {
					case <-c.ackWake:
					case <-c.readDone:
					case <-time.After(100 * time.Millisecond):
					}
				}
				binary.BigEndian.PutUint64(payload, uint64(time.Now().UnixNano()))
				err := c.publish(topic, payload, 1)
				if err == nil {
					err = c.flush()
				}
				if err != nil {
					mu.Lock()
					if res.err == "" && !stop.Load() {
						res.err = fmt.Sprintf("publisher %d: %v", i, err)
					}
					mu.Unlock()
					break
				}
				n++
			}
			published.Add(n)
		})
	}
	sleep(ctx, warmup)
	recording.Store(true)
	t0 := time.Now()
	cpu0, cpuErr0 := sampleCPU(t.proc)
	sleep(ctx, duration)
	recording.Store(false)
	el := time.Since(t0)
	cpu1, cpuErr1 := sampleCPU(t.proc)
	if err := errors.Join(cpuErr0, cpuErr1); err != nil {
		res.cpuErr = err.Error()
	} else {
		res.cpu, res.cpuOK = cpuBetween(cpu0, cpu1, clockTicks()), true
	}
	stop.Store(true)
	wg.Wait()
	for _, c := range conns {
		c.close() // ends the read loops, so lats is no longer written
	}
	conns = nil
	for _, l := range lats {
		res.lat = append(res.lat, l...)
	}
	slices.Sort(res.lat)
	res.achieved = float64(len(res.lat)) / el.Seconds()
	res.published = published.Load()
	return res, ctx.Err()
}

// hsResult is one handshake run.
type hsResult struct {
	rate     float64 // completed connect–CONNACK–disconnect cycles per second
	connect  durations
	failures int64
	err      string
}

// runHandshakes runs clients loops of: TCP connect, full TLS handshake with
// the client certificate, CONNECT, CONNACK, DISCONNECT, wait for the
// broker to close. Each connection has a new client id.
func runHandshakes(ctx context.Context, t *target, clients int, warmup, duration time.Duration) (hsResult, error) {
	tag := runTag.Add(1)
	var res hsResult
	var measuring, stop atomic.Bool
	var done, failures atomic.Int64
	var mu sync.Mutex
	lats := make([]durations, clients)
	var wg sync.WaitGroup
	for w := range clients {
		wg.Go(func() {
			for n := 0; !stop.Load(); n++ {
				start := time.Now()
				c, err := dialMQTT(ctx, t.addr, t.tlsConfig(w+n*clients), nil, fmt.Sprintf("bench-h%d-%d-%d", tag, w, n), throughputKeepAlive)
				if err != nil {
					if stop.Load() {
						return
					}
					if measuring.Load() {
						failures.Add(1)
					}
					mu.Lock()
					if res.err == "" {
						res.err = err.Error()
					}
					mu.Unlock()
					time.Sleep(10 * time.Millisecond)
					continue
				}
				lat := time.Since(start)
				c.disconnect(2 * time.Second)
				if measuring.Load() {
					done.Add(1)
					lats[w] = append(lats[w], lat)
				}
			}
		})
	}
	sleep(ctx, warmup)
	measuring.Store(true)
	t0 := time.Now()
	d0 := done.Load()
	sleep(ctx, duration)
	measuring.Store(false)
	d1, el := done.Load(), time.Since(t0)
	stop.Store(true)
	wg.Wait()
	res.rate = float64(d1-d0) / el.Seconds()
	for _, l := range lats {
		res.connect = append(res.connect, l...)
	}
	slices.Sort(res.connect)
	res.failures = failures.Load()
	return res, ctx.Err()
}

// idleResult is one idle-connection run.
type idleResult struct {
	conns          int
	before, after  int64 // broker VmRSS, bytes
	hwmAfter       int64 // broker VmHWM (peak resident) with the connections open, bytes
	openTime       time.Duration
	pinged, ponged int
	// iotdm's Go runtime gauges from its /metrics, scraped after each
	// VmRSS reading (scraped: both scrapes worked; metricsErr: why not).
	goBefore, goAfter goGauges
	scraped           bool
	metricsErr        string
	err               string
}

func (r idleResult) perConn() float64 {
	if r.conns == 0 {
		return 0
	}
	return float64(r.after-r.before) / float64(r.conns)
}

// goPerConn is the change of iotdm's Go runtime gauges per connection.
func (r idleResult) goPerConn() goGauges { return perConnGauges(r.goBefore, r.goAfter, r.conns) }

// idlePerIP is how many idle connections come from one source address.
const idlePerIP = 16000

// idleKeepAlive is the keep-alive of idle connections: the longest AWS
// allows, so that nothing is sent while they are measured.
const idleKeepAlive = 1200 * time.Second

// runIdle restarts the broker (a fresh process, so that earlier runs'
// memory does not hide the connections' own), reads its VmRSS after settle,
// opens n idle TLS connections (CONNECT, CONNACK, then nothing), reads the
// VmRSS (and VmHWM) again after settle, checks with PINGREQ that a sample
// of the connections is still served, and closes them. Where the broker
// has metrics (iotdm), its Go runtime gauges are scraped after each
// reading; a failed scrape is noted in metricsErr, not an error of the run.
func runIdle(ctx context.Context, t *target, n int, settle time.Duration) (idleResult, error) {
	res := idleResult{conns: n}
	if err := t.restart(ctx); err != nil {
		return res, fmt.Errorf("restart %s: %w", t.name, err)
	}
	var err error
	if res.before, _, err = settledRSS(t.proc, ctx, settle); err != nil {
		return res, err
	}
	var metricsErr error
	if t.metrics != "" {
		if res.goBefore, metricsErr = scrapeGoGauges(ctx, t.metrics); metricsErr != nil {
			metricsErr = fmt.Errorf("before the connections: %w", metricsErr)
		}
	}
	tag := runTag.Add(1)
	conns := make([]*mqttConn, n)
	defer func() {
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Go(func() {
				for i := w; i < len(conns); i += 16 {
					if conns[i] != nil {
						conns[i].nc.Close()
					}
				}
			})
		}
		wg.Wait()
	}()
	start := time.Now()
	var next atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				mu.Lock()
				failed := firstErr != nil
				mu.Unlock()
				if failed {
					return
				}
				c, err := dialMQTT(ctx, t.addr, t.tlsConfig(i), sourceAddr(i, idlePerIP), fmt.Sprintf("bench-i%d-%d", tag, i), idleKeepAlive)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("idle connection %d of %d: %w", i, n, err)
					}
					mu.Unlock()
					return
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
	res.openTime = time.Since(start)
	if firstErr != nil {
		res.err = firstErr.Error()
		return res, firstErr
	}
	if res.after, _, err = settledRSS(t.proc, ctx, settle); err != nil {
		return res, err
	}
	st, err := procStatus(t.proc)
	if err != nil {
		return res, err
	}
	res.hwmAfter = st["VmHWM"]
	if t.metrics != "" {
		if metricsErr == nil {
			if res.goAfter, metricsErr = scrapeGoGauges(ctx, t.metrics); metricsErr != nil {
				metricsErr = fmt.Errorf("with the connections open: %w", metricsErr)
			}
		}
		if metricsErr != nil {
			res.metricsErr = metricsErr.Error()
		} else {
			res.scraped = true
		}
	}
	// Are they still served? A PINGREQ on a sample of 100.
	for k := range min(100, n) {
		c := conns[(k*7919)%n]
		res.pinged++
		if c.pingSync(5*time.Second) == nil {
			res.ponged++
		}
	}
	return res, ctx.Err()
}

// durations is a sorted list of latencies.
type durations []time.Duration

// pct is the exact (nearest-rank) p-th percentile, 0 when empty.
func (d durations) pct(p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	k := int(float64(len(d))*p/100+0.999999999) - 1
	return d[min(max(k, 0), len(d)-1)]
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
