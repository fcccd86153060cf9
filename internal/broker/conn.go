package broker

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	mqtt "github.com/mochi-mqtt/server/v2"
)

// conn is the broker's state for one mochi client: one network connection
// and, after it ends, the persistent session it leaves behind until the
// session is taken over by a new connection or expires.
type conn struct {
	client    *mqtt.Client
	info      ConnectInfo
	auth      atomic.Pointer[authRef]
	sessionID string
	version   int64
	ip        string

	// reason is the disconnect reason the broker chose when it ended the
	// connection itself; the first one set wins.
	reason atomic.Pointer[DisconnectReason]

	// subscribing holds the filters of the SUBSCRIBE being processed that
	// were granted; see (*hooks).OnACLCheck.
	subscribing atomic.Pointer[grantedFilters]

	// Touched only on the connection's own goroutine (mochi reads packets,
	// processes them and writes CONNACK and SUBACK on it).
	sessionPresent bool
	prev           *conn          // the session this connection took over
	suback         subackRewrites // SUBACK reason codes to restore

	mu          sync.Mutex
	established bool // CONNACK sent and OnConnect reported
	offline     bool // the network connection ended
	takenOver   bool // a newer connection took the session over
}

func newConn(cl *mqtt.Client, info ConnectInfo, auth Authorization, sessionID string, version int64) *conn {
	c := &conn{client: cl, info: info, sessionID: sessionID, version: version}
	c.auth.Store(&authRef{auth})
	if info.Remote != nil {
		c.ip = info.Remote.String()
		if host, _, err := net.SplitHostPort(c.ip); err == nil {
			c.ip = host
		}
	}
	return c
}

func (c *conn) authorization() Authorization { return c.auth.Load().Authorization }

func (c *conn) setAuthorization(a Authorization) { c.auth.Store(&authRef{a}) }

// setReason records why the broker ends the connection, unless a reason was
// recorded before.
func (c *conn) setReason(r DisconnectReason) { c.reason.CompareAndSwap(nil, &r) }

func (c *conn) isOffline() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offline
}

// grantedFilters are the filters of one SUBSCRIBE that the broker granted,
// identified by the address of their bytes. The broker gives every granted
// filter its own copy before mochi sees the packet, and mochi passes that very
// string to OnACLCheck, so a string with one of these addresses is the
// subscribe check of a granted filter and never a delivery (whose topic is a
// different string).
type grantedFilters map[*byte]int

func (g grantedFilters) has(s string) bool {
	if len(s) == 0 {
		return false
	}
	n, ok := g[unsafe.StringData(s)]
	return ok && n == len(s)
}

// add returns a private copy of filter (a fresh allocation, shared with
// nothing) and records it as granted. An empty filter is invalid and never
// reaches OnACLCheck.
func (g grantedFilters) add(filter string) string {
	if filter == "" {
		return filter
	}
	own := strings.Clone(filter)
	g[unsafe.StringData(own)] = len(own)
	return own
}

// subackRewrites restores the reason codes of the filters the broker refused
// for another reason than authorization: mochi can only refuse a filter as
// invalid (0x8F) or not authorized (0x87).
type subackRewrites struct {
	packetID uint16
	codes    map[int]byte // filter index → MQTT 5 reason code
}

// connRegistry maps mochi clients to their state.
type connRegistry struct{ m sync.Map }

func (r *connRegistry) get(cl *mqtt.Client) *conn {
	if cl == nil {
		return nil
	}
	v, ok := r.m.Load(cl)
	if !ok {
		return nil
	}
	return v.(*conn)
}

func (r *connRegistry) put(c *conn) { r.m.Store(c.client, c) }

func (r *connRegistry) remove(c *conn) { r.m.CompareAndDelete(c.client, c) }

// each calls f for every connection and offline session.
func (r *connRegistry) each(f func(*conn)) {
	r.m.Range(func(_, v any) bool {
		f(v.(*conn))
		return true
	})
}

// versionClock hands out versionNumbers: increasing, and starting from the
// wall clock in milliseconds so that they keep increasing across restarts.
type versionClock struct{ last atomic.Int64 }

func (v *versionClock) next() int64 {
	for {
		old := v.last.Load()
		n := max(old+1, time.Now().UnixMilli())
		if v.last.CompareAndSwap(old, n) {
			return n
		}
	}
}
