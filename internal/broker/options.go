package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"
)

// Options configure a Broker. Addr, PlainAddr and WebSocketAddr name the
// listeners; each is off when empty. Access is required.
type Options struct {
	// Addr is the MQTT over TLS listener (AWS port 8883), for example
	// "127.0.0.1:8883"; port 0 picks a free port (see (*Broker).Addr).
	Addr string
	// TLS carries the server certificate for Addr and WebSocketAddr. The
	// broker works on a clone: it sets ClientAuth to RequireAnyClientCert
	// and MinVersion to at least TLS 1.2. Verifying the client's chain is
	// Access's job.
	TLS *tls.Config
	// PlainAddr is an MQTT listener over plain TCP, for local development
	// only: Access.Connect sees no certificates.
	PlainAddr string
	// WebSocketAddr is an MQTT over WebSocket listener with the same mutual
	// TLS as Addr (AWS port 443, path /mqtt; any path is accepted).
	WebSocketAddr string
	// Access authenticates and authorizes connections. Required.
	Access Access
	// Logger receives the broker's logs; nil discards them.
	Logger *slog.Logger
	// Limits are the broker limits; zero fields take the AWS defaults.
	Limits Limits

	// Lifecycle callbacks. They run synchronously on the connection's
	// goroutine, so they must be quick: queue the event and return (and
	// never call Close, which waits for that goroutine). Nil callbacks are
	// skipped.
	OnConnect     func(ConnectEvent)
	OnDisconnect  func(DisconnectEvent)
	OnSubscribe   func(SubscriptionEvent)
	OnUnsubscribe func(SubscriptionEvent)
	// OnRefused reports a CONNECT, PUBLISH or SUBSCRIBE the broker refused
	// for authentication or authorization (for AWS IoT logging).
	OnRefused func(RefusalEvent)

	// Observer counts connections, messages and refusals, for metrics; nil
	// counts nothing.
	Observer Observer

	// Cluster, when set, joins this broker to the brokers of the other
	// nodes (cluster.go): messages cross nodes, and a client id connects
	// once in the whole cluster. Nil: a broker of its own.
	Cluster Cluster
}

// Observer is told what the broker does, for metrics. Its methods run
// synchronously on connection goroutines, MessageIn, MessageOut and Denied
// once per message, so they must be fast and must not block.
type Observer interface {
	// MQTTConnected: a connection was accepted (CONNACK sent).
	MQTTConnected()
	// MQTTConnectRefused: a CONNECT was refused; reason is one of
	// "not_authorized", "bad_credentials", "client_id_invalid",
	// "server_error".
	MQTTConnectRefused(reason string)
	// MQTTDisconnected: a connection MQTTConnected reported ended, for a
	// DisconnectReason.
	MQTTDisconnected(reason string)
	// MessageIn: a device's PUBLISH was accepted.
	MessageIn(qos byte, payloadBytes int)
	// MessageOut: a PUBLISH was written to a device.
	MessageOut(qos byte, payloadBytes int)
	// Denied: a device action was refused by policy: "iot:Connect" or one
	// of the Action constants.
	Denied(action string)
}

// nopObserver is the Observer of Options without one.
type nopObserver struct{}

func (nopObserver) MQTTConnected()            {}
func (nopObserver) MQTTConnectRefused(string) {}
func (nopObserver) MQTTDisconnected(string)   {}
func (nopObserver) MessageIn(byte, int)       {}
func (nopObserver) MessageOut(byte, int)      {}
func (nopObserver) Denied(string)             {}

// Limits are the broker limits. The zero value of each field means the
// default, which is AWS IoT Core's (§9.3 of the reference) unless noted.
type Limits struct {
	// MaxPayload is the largest PUBLISH payload in bytes: 128 KiB. A larger
	// payload closes the connection (MQTT 5: DISCONNECT 0x95).
	MaxPayload int
	// MaxTopicLength is the longest topic name or filter in bytes: 256. The
	// Basic Ingest prefix "$aws/rules/{rule}/" and a "$share/{group}/"
	// prefix do not count.
	MaxTopicLength int
	// MaxTopicSlashes is the most forward slashes in a topic name or
	// filter: 7 (8 levels), with the same prefixes not counting.
	MaxTopicSlashes int
	// MaxSubscriptions is the most subscriptions one session holds: 50.
	MaxSubscriptions int
	// MaxFiltersPerSubscribe is the most filters one SUBSCRIBE may carry: 8;
	// the ones after it are refused with 0x97 (quota exceeded).
	MaxFiltersPerSubscribe int
	// MaxClientIDLength is the longest client id in bytes: 128.
	MaxClientIDLength int
	// MinKeepAlive and MaxKeepAlive bound the keep-alive a client asks for:
	// 30 s and 1200 s. A keep-alive of 0 or above the maximum becomes the
	// maximum; below the minimum becomes the minimum. MQTT 5 clients learn
	// the value in the CONNACK (Server Keep Alive). The connection is closed
	// after 1.5 × keep-alive without a packet. Whole seconds.
	MinKeepAlive time.Duration
	MaxKeepAlive time.Duration
	// MaxInflight is the most unacknowledged QoS 1 PUBLISH packets a client
	// may have in flight towards the broker (the CONNACK Receive Maximum):
	// 100.
	MaxInflight int
	// MaxQueued is the most QoS 1 messages kept for one session, in flight
	// or queued while a persistent session is offline. AWS documents no
	// count; the default is 10000 (a subscriber fed by many publishers
	// holds that many unacknowledged messages before any is dropped).
	MaxQueued int
	// MaxPendingWrites is the most packets waiting to be written to one
	// connection: 1024. Each connection reserves a pointer per slot (8 KiB
	// at 1024), so this bounds the memory of an idle connection; a message
	// for a connection whose queue is full is dropped (QoS 1 too: the
	// broker core rolls its in-flight slot back), as for a client that
	// cannot keep up.
	MaxPendingWrites int
	// SessionExpiry is how long a persistent session outlives its
	// connection: 1 hour (the AWS default).
	SessionExpiry time.Duration
	// ConnectTimeout bounds the TLS handshake, the CONNECT packet and
	// Access.Connect: 10 s (an iotdm choice).
	ConnectTimeout time.Duration
}

// DefaultLimits returns the AWS IoT Core defaults.
func DefaultLimits() Limits {
	return Limits{
		MaxPayload:             128 * 1024,
		MaxTopicLength:         256,
		MaxTopicSlashes:        7,
		MaxSubscriptions:       50,
		MaxFiltersPerSubscribe: 8,
		MaxClientIDLength:      128,
		MinKeepAlive:           30 * time.Second,
		MaxKeepAlive:           1200 * time.Second,
		MaxInflight:            100,
		MaxQueued:              10000,
		MaxPendingWrites:       1024,
		SessionExpiry:          time.Hour,
		ConnectTimeout:         10 * time.Second,
	}
}

// withDefaults fills zero fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	orDefault(&l.MaxPayload, d.MaxPayload)
	orDefault(&l.MaxTopicLength, d.MaxTopicLength)
	orDefault(&l.MaxTopicSlashes, d.MaxTopicSlashes)
	orDefault(&l.MaxSubscriptions, d.MaxSubscriptions)
	orDefault(&l.MaxFiltersPerSubscribe, d.MaxFiltersPerSubscribe)
	orDefault(&l.MaxClientIDLength, d.MaxClientIDLength)
	orDefault(&l.MinKeepAlive, d.MinKeepAlive)
	orDefault(&l.MaxKeepAlive, d.MaxKeepAlive)
	orDefault(&l.MaxInflight, d.MaxInflight)
	orDefault(&l.MaxQueued, d.MaxQueued)
	orDefault(&l.MaxPendingWrites, d.MaxPendingWrites)
	orDefault(&l.SessionExpiry, d.SessionExpiry)
	orDefault(&l.ConnectTimeout, d.ConnectTimeout)
	return l
}

// orDefault sets *v to def when it is the zero value.
func orDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// validate reports every problem of l (after withDefaults) at once.
func (l Limits) validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int
		max  int
	}{
		{"MaxPayload", l.MaxPayload, 256 << 20},
		{"MaxTopicLength", l.MaxTopicLength, math.MaxUint16},
		{"MaxTopicSlashes", l.MaxTopicSlashes, math.MaxUint16},
		{"MaxSubscriptions", l.MaxSubscriptions, math.MaxInt32},
		{"MaxFiltersPerSubscribe", l.MaxFiltersPerSubscribe, math.MaxUint16},
		{"MaxClientIDLength", l.MaxClientIDLength, math.MaxUint16},
		{"MaxInflight", l.MaxInflight, math.MaxUint16},
		{"MaxQueued", l.MaxQueued, math.MaxUint16},
		{"MaxPendingWrites", l.MaxPendingWrites, math.MaxInt32},
	} {
		if f.v < 0 || f.v > f.max {
			errs = append(errs, fmt.Errorf("limits: %s = %d, want 0..%d", f.name, f.v, f.max))
		}
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{
		{"MinKeepAlive", l.MinKeepAlive},
		{"MaxKeepAlive", l.MaxKeepAlive},
	} {
		if f.v < time.Second || f.v > math.MaxUint16*time.Second || f.v%time.Second != 0 {
			errs = append(errs, fmt.Errorf("limits: %s = %v, want whole seconds from 1s to 65535s", f.name, f.v))
		}
	}
	if l.MinKeepAlive > l.MaxKeepAlive {
		errs = append(errs, fmt.Errorf("limits: MinKeepAlive %v > MaxKeepAlive %v", l.MinKeepAlive, l.MaxKeepAlive))
	}
	if l.SessionExpiry < time.Second || l.SessionExpiry > math.MaxUint32*time.Second {
		errs = append(errs, fmt.Errorf("limits: SessionExpiry = %v, want 1s or more", l.SessionExpiry))
	}
	if l.ConnectTimeout < 0 {
		errs = append(errs, fmt.Errorf("limits: ConnectTimeout = %v, want > 0", l.ConnectTimeout))
	}
	return errors.Join(errs...)
}

// validate reports every problem of o at once.
func (o *Options) validate() error {
	var errs []error
	if o.Access == nil {
		errs = append(errs, errors.New("no Access"))
	}
	if o.TLS == nil && (o.Addr != "" || o.WebSocketAddr != "") {
		errs = append(errs, errors.New("Addr and WebSocketAddr need TLS"))
	}
	if o.TLS != nil && len(o.TLS.Certificates) == 0 && o.TLS.GetCertificate == nil && o.TLS.GetConfigForClient == nil {
		errs = append(errs, errors.New("TLS has no server certificate"))
	}
	if err := o.Limits.validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// serverTLS returns the TLS configuration of the device listeners: a clone of
// cfg that asks every client for a certificate (any certificate: the chain is
// Access's to verify) and speaks TLS 1.2 or later (§5.3).
func serverTLS(cfg *tls.Config) *tls.Config {
	c := cfg.Clone()
	c.ClientAuth = tls.RequireAnyClientCert
	if c.MinVersion < tls.VersionTLS12 {
		c.MinVersion = tls.VersionTLS12
	}
	return c
}
