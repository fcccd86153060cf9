package broker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	pahologs "github.com/eclipse/paho.golang/paho/log"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"

	"github.com/iotdm/iotdm/internal/pki"
)

// waitTimeout bounds every wait of the tests; generous, for loaded machines.
const waitTimeout = 15 * time.Second

// fakeAccess is an allow-list Access: per certificate id, either an error or
// the exact "action resource" pairs allowed ("*" at the end matches any
// rest). Connect snapshots the list, so changing it takes effect on the next
// Connect (or Reauthorize), like compiled policies.
type fakeAccess struct {
	mu       sync.Mutex
	policies map[string]fakePolicy
	calls    []ConnectInfo
}

type fakePolicy struct {
	refuse error
	allow  []string
}

func newFakeAccess() *fakeAccess { return &fakeAccess{policies: map[string]fakePolicy{}} }

func (a *fakeAccess) set(certID string, refuse error, allow ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.policies[certID] = fakePolicy{refuse: refuse, allow: allow}
}

func (a *fakeAccess) forget(certID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.policies, certID)
}

func (a *fakeAccess) Connect(_ context.Context, info ConnectInfo) (Authorization, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, info)
	id := ""
	if len(info.Certificates) > 0 {
		id = pki.CertificateID(info.Certificates[0].Raw)
	}
	p, ok := a.policies[id]
	switch {
	case !ok:
		return nil, ErrBadCredentials
	case p.refuse != nil:
		return nil, p.refuse
	}
	return &fakeAuth{principal: "cert/" + id, certID: id, allow: slices.Clone(p.allow)}, nil
}

func (a *fakeAccess) connectCalls() []ConnectInfo {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.calls)
}

type fakeAuth struct {
	principal, certID string
	allow             []string
}

func (f *fakeAuth) Principal() string     { return f.principal }
func (f *fakeAuth) CertificateID() string { return f.certID }

func (f *fakeAuth) Allowed(action, resource string) bool {
	s := action + " " + resource
	for _, a := range f.allow {
		if a == s || strings.HasSuffix(a, "*") && strings.HasPrefix(s, a[:len(a)-1]) {
			return true
		}
	}
	return false
}

// byCert matches the Authorizations of one certificate.
func byCert(id string) func(Authorization) bool {
	return func(a Authorization) bool { return a.CertificateID() == id }
}

// events records the lifecycle callbacks.
type events struct {
	connects     *stream[ConnectEvent]
	disconnects  *stream[DisconnectEvent]
	subscribes   *stream[SubscriptionEvent]
	unsubscribes *stream[SubscriptionEvent]
}

func newEvents() *events {
	return &events{
		connects:     newStream[ConnectEvent](),
		disconnects:  newStream[DisconnectEvent](),
		subscribes:   newStream[SubscriptionEvent](),
		unsubscribes: newStream[SubscriptionEvent](),
	}
}

// waitConnect returns the next connect event of clientID.
func (e *events) waitConnect(t *testing.T, clientID string) ConnectEvent {
	t.Helper()
	return e.connects.waitFor(t, "connect event of "+clientID, func(ev ConnectEvent) bool { return ev.ClientID == clientID })
}

// waitDisconnect returns the next disconnect event of clientID.
func (e *events) waitDisconnect(t *testing.T, clientID string) DisconnectEvent {
	t.Helper()
	return e.disconnects.waitFor(t, "disconnect event of "+clientID, func(ev DisconnectEvent) bool { return ev.ClientID == clientID })
}

// stream is a queue of events; a wait takes the first event it matches and
// leaves the others for later waits.
type stream[T any] struct {
	ch      chan T
	backlog []T // received, not yet matched; only the test goroutine touches it
}

func newStream[T any]() *stream[T] { return &stream[T]{ch: make(chan T, 256)} }

func (s *stream[T]) send(v T) { s.ch <- v }

func (s *stream[T]) waitFor(t *testing.T, what string, match func(T) bool) T {
	t.Helper()
	for i, v := range s.backlog {
		if match(v) {
			s.backlog = slices.Delete(s.backlog, i, i+1)
			return v
		}
	}
	timeout := time.After(waitTimeout)
	for {
		select {
		case v := <-s.ch:
			if match(v) {
				return v
			}
			s.backlog = append(s.backlog, v)
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// pending returns the events received and not matched yet, without waiting.
func (s *stream[T]) pending() []T {
	for {
		select {
		case v := <-s.ch:
			s.backlog = append(s.backlog, v)
		default:
			out := s.backlog
			s.backlog = nil
			return out
		}
	}
}

// recv receives one value from ch.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}

// testLog writes to the test's output until the test ends. mochi's event
// loop logs once more after the broker closed, when the test may be over.
type testLog struct {
	mu   sync.Mutex
	w    io.Writer
	done bool
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return len(p), nil
	}
	return l.w.Write(p)
}

func (l *testLog) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done = true
}

// testEnv is a started broker with a test CA and a fake Access.
type testEnv struct {
	ca     *pki.CA
	roots  *x509.CertPool
	access *fakeAccess
	events *events
	b      *Broker
}

// newEnv starts a broker on loopback with a TLS listener; mod adjusts the
// options first.
func newEnv(t *testing.T, mod func(*Options)) *testEnv {
	t.Helper()
	ca, err := pki.NewCA(pki.CAOptions{})
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	serverCert, err := ca.ServerCertificate(nil)
	if err != nil {
		t.Fatalf("ServerCertificate: %v", err)
	}
	e := &testEnv{ca: ca, roots: x509.NewCertPool(), access: newFakeAccess(), events: newEvents()}
	e.roots.AddCert(ca.Certificate())
	logs := &testLog{w: t.Output()}
	t.Cleanup(logs.stop) // runs last, after the broker closed
	opts := Options{
		Addr:          "127.0.0.1:0",
		TLS:           &tls.Config{Certificates: []tls.Certificate{serverCert}},
		Access:        e.access,
		Logger:        slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnConnect:     e.events.connects.send,
		OnDisconnect:  e.events.disconnects.send,
		OnSubscribe:   e.events.subscribes.send,
		OnUnsubscribe: e.events.unsubscribes.send,
	}
	if mod != nil {
		mod(&opts)
	}
	b, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.b = b
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := b.Close(ctx); err != nil {
			t.Errorf("Close = %v, want nil", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return e
}

// device is a certificate and key issued by the test CA.
type device struct {
	cert tls.Certificate
	id   string // certificate id
}

// device issues a certificate whose connections may do what allow lists.
func (e *testEnv) device(t *testing.T, allow ...string) device {
	t.Helper()
	certPEM, _, keyPEM, cert, err := e.ca.CreateKeysAndCertificate(pki.KeyOptions{Algorithm: pki.KeyECDSAP256})
	if err != nil {
		t.Fatalf("CreateKeysAndCertificate: %v", err)
	}
	tc, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatalf("X509KeyPair: %v", err)
	}
	d := device{cert: tc, id: pki.CertificateID(cert.Raw)}
	e.access.set(d.id, nil, allow...)
	return d
}

func (e *testEnv) clientTLS(d *device) *tls.Config {
	cfg := &tls.Config{RootCAs: e.roots, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	if d != nil {
		cfg.Certificates = []tls.Certificate{d.cert}
	}
	return cfg
}

// client5 is an MQTT 5 client (paho.golang).
type client5 struct {
	*paho.Client
	msgs       chan *paho.Publish
	disconnect chan *paho.Disconnect
}

// connect5 connects an MQTT 5 client over TLS with d's certificate (none
// when d is nil). The CONNECT has keep-alive 30 and clean start unless mod
// changes it.
func (e *testEnv) connect5(t *testing.T, d *device, clientID string, mod func(*paho.ClientConfig, *paho.Connect)) (*client5, *paho.Connack, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	dialer := tls.Dialer{Config: e.clientTLS(d)}
	nc, err := dialer.DialContext(ctx, "tcp", e.b.Addr().String())
	if err != nil {
		return nil, nil, err
	}
	c := &client5{msgs: make(chan *paho.Publish, 256), disconnect: make(chan *paho.Disconnect, 1)}
	cfg := paho.ClientConfig{
		Conn: packets.NewThreadSafeConn(nc),
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			c.msgs <- pr.Packet
			return true, nil
		}},
		OnServerDisconnect: func(d *paho.Disconnect) {
			select {
			case c.disconnect <- d:
			default:
			}
		},
	}
	cp := &paho.Connect{ClientID: clientID, KeepAlive: 30, CleanStart: true}
	if mod != nil {
		mod(&cfg, cp)
	}
	c.Client = paho.NewClient(cfg)
	ack, err := c.Connect(ctx, cp)
	if err != nil {
		return nil, ack, err
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	return c, ack, nil
}

// mustConnect5 connects an MQTT 5 client and fails the test if it cannot.
func (e *testEnv) mustConnect5(t *testing.T, d *device, clientID string) *client5 {
	t.Helper()
	c, _, err := e.connect5(t, d, clientID, nil)
	if err != nil {
		t.Fatalf("connect %s (MQTT 5): %v", clientID, err)
	}
	e.events.waitConnect(t, clientID)
	return c
}

func (c *client5) publish(t *testing.T, topic string, qos byte, retain bool, payload string) (*paho.PublishResponse, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	return c.Publish(ctx, &paho.Publish{Topic: topic, QoS: qos, Retain: retain, Payload: []byte(payload)})
}

func (c *client5) mustPublish(t *testing.T, topic string, qos byte, payload string) {
	t.Helper()
	if _, err := c.publish(t, topic, qos, false, payload); err != nil {
		t.Fatalf("Publish(%q): %v", topic, err)
	}
}

func (c *client5) subscribe(t *testing.T, filters ...string) (*paho.Suback, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	s := &paho.Subscribe{}
	for _, f := range filters {
		s.Subscriptions = append(s.Subscriptions, paho.SubscribeOptions{Topic: f, QoS: 1})
	}
	return c.Subscribe(ctx, s)
}

func (c *client5) mustSubscribe(t *testing.T, filters ...string) {
	t.Helper()
	if _, err := c.subscribe(t, filters...); err != nil {
		t.Fatalf("Subscribe(%q): %v", filters, err)
	}
}

// next returns the next message the client receives.
func (c *client5) next(t *testing.T) *paho.Publish {
	t.Helper()
	return recv(t, c.msgs, "a message")
}

// silentPinger never pings: the client goes quiet after CONNECT.
type silentPinger struct{}

func (silentPinger) Run(ctx context.Context, _ net.Conn, _ uint16) error {
	<-ctx.Done()
	return nil
}
func (silentPinger) PacketSent()              {}
func (silentPinger) PacketReceived()          {}
func (silentPinger) PingResp()                {}
func (silentPinger) SetDebug(pahologs.Logger) {}

// client3 is an MQTT 3.1.1 client (paho.mqtt.golang).
type client3 struct {
	mqtt3.Client
	msgs chan mqtt3.Message
	lost chan error
}

// connect3 connects an MQTT 3.1.1 client to url (default: the TLS listener)
// with d's certificate; it returns the CONNACK return code.
func (e *testEnv) connect3(t *testing.T, d *device, clientID string, mod func(*mqtt3.ClientOptions)) (*client3, byte, error) {
	t.Helper()
	c := &client3{msgs: make(chan mqtt3.Message, 256), lost: make(chan error, 1)}
	opts := mqtt3.NewClientOptions().
		AddBroker("ssl://" + e.b.Addr().String()).
		SetClientID(clientID).
		SetTLSConfig(e.clientTLS(d)).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetKeepAlive(30 * time.Second).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(waitTimeout).
		SetWriteTimeout(waitTimeout).
		SetDefaultPublishHandler(func(_ mqtt3.Client, m mqtt3.Message) { c.msgs <- m }).
		SetConnectionLostHandler(func(_ mqtt3.Client, err error) {
			select {
			case c.lost <- err:
			default:
			}
		})
	if mod != nil {
		mod(opts)
	}
	c.Client = mqtt3.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(waitTimeout) {
		t.Fatalf("connect %s (MQTT 3.1.1): timed out", clientID)
	}
	code := tok.(*mqtt3.ConnectToken).ReturnCode()
	if err := tok.Error(); err != nil {
		return nil, code, err
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c, code, nil
}

func (e *testEnv) mustConnect3(t *testing.T, d *device, clientID string) *client3 {
	t.Helper()
	c, _, err := e.connect3(t, d, clientID, nil)
	if err != nil {
		t.Fatalf("connect %s (MQTT 3.1.1): %v", clientID, err)
	}
	e.events.waitConnect(t, clientID)
	return c
}

func wait3(t *testing.T, tok mqtt3.Token) error {
	t.Helper()
	if !tok.WaitTimeout(waitTimeout) {
		t.Fatalf("MQTT 3.1.1 operation timed out")
	}
	return tok.Error()
}

func (c *client3) mustSubscribe(t *testing.T, filter string) {
	t.Helper()
	if err := wait3(t, c.Subscribe(filter, 1, nil)); err != nil {
		t.Fatalf("Subscribe(%q): %v", filter, err)
	}
}

func (c *client3) next(t *testing.T) mqtt3.Message {
	t.Helper()
	return recv(t, c.msgs, "a message")
}

// serverPublish publishes as the server.
func (e *testEnv) serverPublish(t *testing.T, topic string, qos byte, retain bool, payload string) {
	t.Helper()
	if err := e.b.Publish(context.Background(), topic, []byte(payload), qos, retain); err != nil {
		t.Fatalf("Broker.Publish(%q): %v", topic, err)
	}
}

var errTest = errors.New("store unavailable")

// watcher connects a client that subscribes to w/# and may receive
// everything there; the tests publish under w/ and use it to see what got
// through.
func (e *testEnv) watcher(t *testing.T) *client5 {
	t.Helper()
	d := e.device(t, "iot:Subscribe topicfilter/w/#", "iot:Receive topic/w/*")
	w := e.mustConnect5(t, &d, "watcher")
	w.mustSubscribe(t, "w/#")
	return w
}

// expectDropped waits until the broker closed the 3.1.1 client's connection
// and reported reason.
func (e *testEnv) expectDropped(t *testing.T, c *client3, clientID string, reason DisconnectReason) {
	t.Helper()
	recv(t, c.lost, "connection loss of "+clientID)
	if ev := e.events.waitDisconnect(t, clientID); ev.Reason != reason {
		t.Errorf("%s: disconnect reason = %s (%v), want %s", clientID, ev.Reason, ev.Err, reason)
	}
}
