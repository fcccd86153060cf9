package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/smithy-go"
	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
)

// durations are latencies.
type durations []time.Duration

// pct is the p-th percentile, nearest rank; 0 when there are none.
func (d durations) pct(p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	k := int(math.Ceil(p / 100 * float64(len(s))))
	k = min(max(k, 1), len(s))
	return s[k-1]
}

// sleepCtx sleeps for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ---- API throughput ----

const (
	opCreateThing   = "CreateThing"
	opDescribeThing = "DescribeThing"
)

// apiSpec is one API throughput run.
type apiSpec struct {
	op               string // opCreateThing or opDescribeThing
	clients          int    // client loops; loop i calls node i mod N
	warmup, duration time.Duration
	names            []string // the things DescribeThing picks from at random
	prefix           string   // CreateThing names are PREFIX-LOOP-SEQ, unique per run
}

// apiResult is what one API run measured, in its measured window only.
type apiResult struct {
	ok      int64 // calls answered 2xx that ended in the window
	failed  int64 // calls that ended in the window otherwise
	elapsed time.Duration
	lat     durations        // of the 2xx calls: the whole SDK call
	errs    map[string]int64 // failure kind → count
}

func (r apiResult) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ok) / r.elapsed.Seconds()
}

// measureAPI runs spec.clients loops, each with its own AWS SDK client of
// node i mod N, calling spec.op back to back for warm-up plus duration;
// calls that end within the measured window count (2xx as operations,
// anything else as failures). No retries.
func measureAPI(ctx context.Context, cl *cluster, s apiSpec) (apiResult, error) {
	if s.op == opDescribeThing && len(s.names) == 0 {
		return apiResult{}, errors.New("DescribeThing needs things to describe")
	}
	start := time.Now()
	t0 := start.Add(s.warmup)
	t1 := t0.Add(s.duration)
	results := make([]apiResult, s.clients)
	var wg sync.WaitGroup
	for i := range s.clients {
		c := cl.nodes[i%len(cl.nodes)].iot()
		rng := rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano())))
		lr := &results[i]
		lr.errs = map[string]int64{}
		wg.Go(func() {
			for seq := 0; ctx.Err() == nil; seq++ {
				begin := time.Now()
				if !begin.Before(t1) {
					return
				}
				var err error
				switch s.op {
				case opCreateThing:
					_, err = c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(fmt.Sprintf("%s-%02d-%06d", s.prefix, i, seq)),
						AttributePayload: &types.AttributePayload{Attributes: thingAttributes}})
				case opDescribeThing:
					_, err = c.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(s.names[rng.IntN(len(s.names))])})
				default:
					err = fmt.Errorf("unknown operation %q", s.op)
				}
				end := time.Now()
				if end.Before(t0) || !end.Before(t1) {
					continue
				}
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					lr.failed++
					lr.errs[errKind(err)]++
					continue
				}
				lr.ok++
				lr.lat = append(lr.lat, end.Sub(begin))
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return apiResult{}, err
	}
	res := apiResult{elapsed: s.duration, errs: map[string]int64{}}
	for _, lr := range results {
		res.ok += lr.ok
		res.failed += lr.failed
		res.lat = append(res.lat, lr.lat...)
		for k, v := range lr.errs {
			res.errs[k] += v
		}
	}
	return res, nil
}

// errKind names a failed SDK call: its HTTP status and error code, or why
// there was no answer.
func errKind(err error) string {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		code := ""
		var ae smithy.APIError
		if errors.As(err, &ae) {
			code = " " + ae.ErrorCode()
		}
		return fmt.Sprintf("HTTP %d%s", re.HTTPStatusCode(), code)
	}
	msg := err.Error()
	if len(msg) > 160 {
		msg = msg[:160] + "…"
	}
	return "no answer: " + msg
}

// ---- MQTT throughput and latency ----

// minPayload is the smallest payload: the send time and the sequence
// number, 8 bytes each.
const minPayload = 16

// drainTimeout bounds the wait, after the publishers stop, for the
// messages they had PUBACKed to arrive.
const drainTimeout = 10 * time.Second

// mqttSpec is one MQTT run.
type mqttSpec struct {
	pairs, payload   int
	warmup, duration time.Duration
}

// mqttResult is what one MQTT run measured.
type mqttResult struct {
	received  int64 // messages received within the measured window, all pairs
	elapsed   time.Duration
	lat       durations // their end-to-end latency: publisher's send to subscriber's receipt
	published int64     // messages PUBACKed to the publishers, warm-up included
	delivered int64     // distinct ones the subscribers received
	lost      int64     // PUBACKed but not received within drainTimeout of the end
	dups      int64     // received more than once
}

func (r mqttResult) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.received) / r.elapsed.Seconds()
}

// mqttPair is a publisher on one node and a subscriber on another (or the
// same, with one node), on a topic of their own.
type mqttPair struct {
	topic    string
	pub, sub *paho.Client
	probed   chan struct{} // gets a token when a probe message arrives

	published atomic.Int64

	mu        sync.Mutex // guards the subscriber's side below
	seen      []bool     // by sequence number
	delivered int64
	received  int64 // in the measured window
	dups      int64
	lat       durations
}

// mqttClock times the run: the payload carries the send time as the
// monotonic time since base, and the window is [t0, t1) of the same clock.
type mqttClock struct {
	base   time.Time
	t0, t1 atomic.Int64 // nanoseconds since base; 0 until set
}

func (c *mqttClock) now() int64 { return int64(time.Since(c.base)) }

// onMessage is the subscriber's handler (paho calls it on one goroutine
// per client).
func (p *mqttPair) onMessage(clk *mqttClock, m *paho.Publish) {
	now := clk.now()
	if len(m.Payload) < minPayload {
		return
	}
	sent := int64(binary.BigEndian.Uint64(m.Payload[0:8]))
	seq := binary.BigEndian.Uint64(m.Payload[8:16])
	if seq == 0 { // a probe
		select {
		case p.probed <- struct{}{}:
		default:
		}
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for uint64(len(p.seen)) <= seq {
		p.seen = append(p.seen, make([]bool, max(1024, len(p.seen)))...)
	}
	if p.seen[seq] {
		p.dups++
		return
	}
	p.seen[seq] = true
	p.delivered++
	if t0, t1 := clk.t0.Load(), clk.t1.Load(); t0 > 0 && now >= t0 && now < t1 {
		p.received++
		p.lat = append(p.lat, time.Duration(now-sent))
	}
}

// measureMQTT connects spec.pairs publisher/subscriber pairs to the plain
// listeners with the admin key (pair i: subscriber on node i mod N,
// publisher on node i+1 mod N), subscribes at QoS 1, waits until a probe
// message crosses every pair, then has every publisher publish at QoS 1
// back to back (the next message once the last one's PUBACK is in) for
// warm-up plus duration, and counts the messages received within the
// measured window, with their latency.
func measureMQTT(ctx context.Context, cl *cluster, s mqttSpec) (mqttResult, error) {
	var rid [4]byte
	binary.BigEndian.PutUint32(rid[:], rand.Uint32())
	run := fmt.Sprintf("%x", rid)
	clk := &mqttClock{base: time.Now()}
	pairs := make([]*mqttPair, s.pairs)
	defer func() {
		for _, p := range pairs {
			if p == nil {
				continue
			}
			for _, c := range []*paho.Client{p.pub, p.sub} {
				if c != nil {
					_ = c.Disconnect(&paho.Disconnect{ReasonCode: 0})
				}
			}
		}
	}()
	n := len(cl.nodes)
	for i := range s.pairs {
		p := &mqttPair{topic: fmt.Sprintf("bench/cluster/%s/%d", run, i), probed: make(chan struct{}, 1)}
		pairs[i] = p
		var err error
		subNode, pubNode := cl.nodes[i%n], cl.nodes[(i+1)%n]
		p.sub, err = dialMQTT(ctx, subNode.plainAddr, fmt.Sprintf("bench-sub-%s-%d", run, i), func(m *paho.Publish) { p.onMessage(clk, m) })
		if err != nil {
			return mqttResult{}, fmt.Errorf("subscriber %d on %s: %w", i, subNode.id, err)
		}
		sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		sa, err := p.sub.Subscribe(sctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: p.topic, QoS: 1}}})
		cancel()
		if err != nil {
			return mqttResult{}, fmt.Errorf("subscribe %d on %s: %w", i, subNode.id, err)
		}
		if len(sa.Reasons) != 1 || sa.Reasons[0] >= 0x80 {
			return mqttResult{}, fmt.Errorf("subscribe %d on %s: SUBACK %v", i, subNode.id, sa.Reasons)
		}
		p.pub, err = dialMQTT(ctx, pubNode.plainAddr, fmt.Sprintf("bench-pub-%s-%d", run, i), nil)
		if err != nil {
			return mqttResult{}, fmt.Errorf("publisher %d on %s: %w", i, pubNode.id, err)
		}
	}

	// Every pair's subscription has reached the publisher's node once a
	// probe crosses it.
	payload := func(seq uint64) []byte {
		b := make([]byte, s.payload)
		binary.BigEndian.PutUint64(b[0:8], uint64(clk.now()))
		binary.BigEndian.PutUint64(b[8:16], seq)
		return b
	}
	var wg sync.WaitGroup
	probeErrs := make([]error, len(pairs))
	for i, p := range pairs {
		wg.Go(func() {
			deadline := time.Now().Add(30 * time.Second)
			for {
				if _, err := p.pub.Publish(ctx, &paho.Publish{Topic: p.topic, QoS: 1, Payload: payload(0)}); err != nil {
					probeErrs[i] = fmt.Errorf("probe of pair %d: %w", i, err)
					return
				}
				select {
				case <-p.probed:
					return
				case <-ctx.Done():
					probeErrs[i] = ctx.Err()
					return
				case <-time.After(50 * time.Millisecond):
				}
				if time.Now().After(deadline) {
					probeErrs[i] = fmt.Errorf("pair %d: no probe message crossed from publisher to subscriber within 30s", i)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(probeErrs...); err != nil {
		return mqttResult{}, err
	}

	start := clk.now()
	t0 := start + int64(s.warmup)
	t1 := t0 + int64(s.duration)
	clk.t1.Store(t1)
	clk.t0.Store(max(t0, 1))
	pubErrs := make([]error, len(pairs))
	for i, p := range pairs {
		wg.Go(func() {
			for seq := uint64(1); clk.now() < t1 && ctx.Err() == nil; seq++ {
				if _, err := p.pub.Publish(ctx, &paho.Publish{Topic: p.topic, QoS: 1, Payload: payload(seq)}); err != nil {
					if ctx.Err() == nil {
						pubErrs[i] = fmt.Errorf("publisher %d: %w", i, err)
					}
					return
				}
				p.published.Add(1)
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return mqttResult{}, err
	}
	if err := errors.Join(pubErrs...); err != nil {
		return mqttResult{}, err
	}

	// Drain: what was PUBACKed should arrive.
	drainEnd := time.Now().Add(drainTimeout)
	for time.Now().Before(drainEnd) {
		behind := false
		for _, p := range pairs {
			p.mu.Lock()
			if p.delivered < p.published.Load() {
				behind = true
			}
			p.mu.Unlock()
		}
		if !behind {
			break
		}
		if err := sleepCtx(ctx, 10*time.Millisecond); err != nil {
			return mqttResult{}, err
		}
	}
	res := mqttResult{elapsed: s.duration}
	for _, p := range pairs {
		p.mu.Lock()
		pub := p.published.Load()
		res.published += pub
		res.delivered += p.delivered
		res.lost += max(0, pub-p.delivered)
		res.dups += p.dups
		res.received += p.received
		res.lat = append(res.lat, p.lat...)
		p.mu.Unlock()
	}
	return res, nil
}

// dialMQTT connects an MQTT 5 client (paho) to a plain listener with the
// admin key, a clean start; onMessage, when not nil, gets every PUBLISH
// received (paho acknowledges it once the handler returns).
func dialMQTT(ctx context.Context, addr, clientID string, onMessage func(*paho.Publish)) (*paho.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	handler := func(paho.PublishReceived) (bool, error) { return true, nil }
	if onMessage != nil {
		handler = func(pr paho.PublishReceived) (bool, error) {
			onMessage(pr.Packet)
			return true, nil
		}
	}
	c := paho.NewClient(paho.ClientConfig{
		Conn:              packets.NewThreadSafeConn(nc),
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){handler},
		OnClientError:     func(error) {},
	})
	ack, err := c.Connect(ctx, &paho.Connect{ClientID: clientID, KeepAlive: 30, CleanStart: true,
		Username: benchAccessKey, UsernameFlag: true, Password: []byte(benchSecretKey), PasswordFlag: true})
	if err != nil {
		nc.Close()
		if ack != nil {
			return nil, fmt.Errorf("CONNECT: reason 0x%02x: %w", ack.ReasonCode, err)
		}
		return nil, fmt.Errorf("CONNECT: %w", err)
	}
	return c, nil
}

// ---- change-feed lag ----

// lagSpec is one change-feed lag run.
type lagSpec struct {
	samples int
	warmup  time.Duration // unmeasured samples are taken for this long first (at least one)
	timeout time.Duration // how long one sample is polled for
	prefix  string        // thing names are PREFIX-NNN, unique per run
}

// lagResult is what one lag run measured.
type lagResult struct {
	lags     durations // CreateThing's answer on the first node → the answer of the first SearchIndex on the last node that finds the thing
	polls    []int     // SearchIndex calls per sample, the finding one included
	again    durations // a second SearchIndex of each thing, once found: the call without waiting for the feed
	timedOut int       // samples not found within the timeout
	firstErr string    // the last SearchIndex error of the first sample that timed out
}

// measureLag creates things on the first node, each polled for by
// SearchIndex (query thingName:NAME) on the last node, every millisecond
// between answers, until found; one thing at a time. SearchIndex is
// read-your-writes (it waits until the node's fleet index has applied every
// change committed before the request), so the first call usually finds
// the thing and the lag is mostly its wait for the feed; each found thing
// is searched for once more, to time the call without that wait.
func measureLag(ctx context.Context, cl *cluster, s lagSpec) (lagResult, error) {
	create, search := cl.first().iot(), cl.last().iot()
	sample := func(name string) (lag, again time.Duration, polls int, err error) {
		if _, err := create.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(name),
			AttributePayload: &types.AttributePayload{Attributes: thingAttributes}}); err != nil {
			return 0, 0, 0, fmt.Errorf("CreateThing %s on %s: %w", name, cl.first().id, err)
		}
		created := time.Now()
		q := "thingName:" + name
		var last error
		for {
			polls++
			begin := time.Now()
			out, err := search.SearchIndex(ctx, &iot.SearchIndexInput{QueryString: aws.String(q)})
			end := time.Now()
			if err == nil && len(out.Things) == 1 && aws.ToString(out.Things[0].ThingName) == name {
				lag = end.Sub(created)
				// The same search again, the thing long indexed: what a
				// SearchIndex call costs without waiting for the feed.
				begin = time.Now()
				if _, err := search.SearchIndex(ctx, &iot.SearchIndexInput{QueryString: aws.String(q)}); err != nil {
					return 0, 0, polls, fmt.Errorf("SearchIndex %s again: %w", q, err)
				}
				return lag, time.Since(begin), polls, nil
			}
			if ctx.Err() != nil {
				return 0, 0, polls, ctx.Err()
			}
			if err != nil {
				last = err
			}
			if end.Sub(created) > s.timeout {
				if last == nil {
					last = errors.New("not found")
				}
				return 0, 0, polls, &timeoutError{last: last}
			}
			if err := sleepCtx(ctx, time.Millisecond); err != nil {
				return 0, 0, polls, err
			}
		}
	}
	var res lagResult
	take := func(name string, keep bool) error {
		lag, again, polls, err := sample(name)
		var te *timeoutError
		switch {
		case errors.As(err, &te):
			if keep {
				res.timedOut++
				if res.firstErr == "" {
					res.firstErr = te.last.Error()
				}
			}
			return nil
		case err != nil:
			return err
		}
		if keep {
			res.lags = append(res.lags, lag)
			res.again = append(res.again, again)
			res.polls = append(res.polls, polls)
		}
		return nil
	}
	warmEnd := time.Now().Add(s.warmup)
	for i := 0; i == 0 || time.Now().Before(warmEnd); i++ {
		if err := take(fmt.Sprintf("%s-w%03d", s.prefix, i), false); err != nil {
			return res, err
		}
	}
	for i := range s.samples {
		if err := take(fmt.Sprintf("%s-%03d", s.prefix, i), true); err != nil {
			return res, err
		}
	}
	return res, nil
}

// timeoutError is a lag sample not found in time.
type timeoutError struct{ last error }

func (e *timeoutError) Error() string {
	return "not found in time: " + strings.TrimSpace(e.last.Error())
}
