package broker

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// ErrClosed is returned by the methods of a closed Broker.
var ErrClosed = errors.New("broker closed")

// kickGrace is how long the broker waits for a DISCONNECT packet to be
// written before it closes the connection anyway.
const kickGrace = 500 * time.Millisecond

// Broker is an MQTT 3.1.1 and 5 broker that authorizes every packet as AWS
// IoT Core does. Create it with New, then Start it; Close it when done.
type Broker struct {
	opts   Options
	limits Limits
	log    *slog.Logger
	access Access
	obs    Observer

	server    *mqtt.Server
	publisher *mqtt.Client // the server's own PUBLISH packets come from it
	conns     connRegistry
	versions  versionClock
	handlers  handlerSet

	tls, plain, ws *listener

	ctx    context.Context // ends when Close starts; bounds Access calls
	cancel context.CancelFunc
	wg     sync.WaitGroup // goroutines that end connections

	mu        sync.Mutex
	started   bool
	closed    bool
	closeDone chan struct{} // closed when the first Close returns
	closeErr  error         // written before closeDone is closed
}

// New returns a Broker configured by opts; it does not listen until Start.
func New(opts Options) (*Broker, error) {
	opts.Limits = opts.Limits.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("new broker: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "broker")
	b := &Broker{opts: opts, limits: opts.Limits, log: log, access: opts.Access, obs: opts.Observer, closeDone: make(chan struct{})}
	if b.obs == nil {
		b.obs = nopObserver{}
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.handlers.index = mqtt.NewTopicsIndex()
	b.handlers.funcs = map[int]func(Message){}

	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumQos = 1 // AWS IoT supports QoS 0 and 1
	caps.TopicAliasMaximum = 0
	caps.ReceiveMaximum = uint16(b.limits.MaxInflight)
	caps.MaximumInflight = uint16(b.limits.MaxQueued)
	caps.MaximumClientWritesPending = int32(b.limits.MaxPendingWrites)
	caps.MaximumSessionExpiryInterval = uint32(b.limits.SessionExpiry / time.Second)
	caps.MaximumMessageExpiryInterval = 0 // queued and retained messages live as long as their session / until replaced
	// Room for the fixed header, the topic and MQTT 5 properties around the
	// largest payload; the payload itself is checked in OnPacketRead.
	caps.MaximumPacketSize = uint32(b.limits.MaxPayload + 64*1024)
	b.server = mqtt.New(&mqtt.Options{
		Capabilities: caps,
		Logger:       slog.New(coreLogHandler{log.Handler()}).With("layer", "mochi"),
		// $SYS topics are not AWS IoT; publish them as rarely as possible.
		SysTopicResendInterval: int64((365 * 24 * time.Hour) / time.Second),
	})
	// The server's own client: not registered with mochi, so no device can
	// take it over, and with the empty id no device can have.
	b.publisher = b.server.NewClient(nil, mqtt.LocalListener, "", true)
	b.publisher.Properties.ProtocolVersion = 5
	if err := b.server.AddHook(&hooks{b: b}, nil); err != nil {
		b.cancel()
		return nil, fmt.Errorf("new broker: %w", err)
	}

	maxRead := int64(caps.MaximumPacketSize)
	if opts.Addr != "" {
		b.tls = &listener{id: listenerTLS, addr: opts.Addr, tls: serverTLS(opts.TLS)}
	}
	if opts.WebSocketAddr != "" {
		b.ws = &listener{id: listenerWebSocket, addr: opts.WebSocketAddr, tls: serverTLS(opts.TLS), ws: true, maxRead: maxRead}
	}
	if opts.PlainAddr != "" {
		b.plain = &listener{id: listenerPlain, addr: opts.PlainAddr}
	}
	for _, l := range b.listeners() {
		l.timeout = b.limits.ConnectTimeout
		l.log = log.With("listener", l.id)
	}
	return b, nil
}

func (b *Broker) listeners() []*listener {
	var ls []*listener
	for _, l := range []*listener{b.tls, b.ws, b.plain} {
		if l != nil {
			ls = append(ls, l)
		}
	}
	return ls
}

// Start binds the listeners and starts serving. ctx bounds the start only.
// When Start fails, the listeners it bound are closed again; Close the
// Broker all the same.
func (b *Broker) Start(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return ErrClosed
	case b.started:
		return errors.New("start broker: already started")
	}
	b.started = true
	var bound []*listener
	for _, l := range b.listeners() {
		if err := ctx.Err(); err != nil {
			closeBound(bound)
			return fmt.Errorf("start broker: %w", err)
		}
		if err := b.server.AddListener(l); err != nil {
			closeBound(bound)
			return fmt.Errorf("start broker: %w", err)
		}
		bound = append(bound, l)
	}
	for _, l := range bound {
		l.willServe()
	}
	if err := b.server.Serve(); err != nil {
		return fmt.Errorf("start broker: %w", err)
	}
	for _, l := range bound {
		b.log.Info("listening", "listener", l.id, "address", l.Address())
	}
	return nil
}

func closeBound(ls []*listener) {
	for _, l := range ls {
		l.Close(func(string) {})
	}
}

// Addr is the address of the MQTT over TLS listener, nil when it is off or
// the Broker has not started.
func (b *Broker) Addr() net.Addr { return b.tls.boundAddr() }

// PlainAddr is the address of the plain TCP listener, nil when it is off.
func (b *Broker) PlainAddr() net.Addr { return b.plain.boundAddr() }

// WebSocketAddr is the address of the MQTT over WebSocket listener, nil when
// it is off.
func (b *Broker) WebSocketAddr() net.Addr { return b.ws.boundAddr() }

func (l *listener) boundAddr() net.Addr {
	if l == nil || l.ln == nil {
		return nil
	}
	return l.ln.Addr()
}

// Close stops the listeners, disconnects every client (MQTT 5 clients get
// DISCONNECT 0x8B, server shutting down) and waits for the connections to
// end. When ctx ends first, the remaining connections are closed at once and
// Close returns ctx's error. Close is idempotent.
func (b *Broker) Close(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		select {
		case <-b.closeDone:
			return b.closeErr
		case <-ctx.Done():
			return fmt.Errorf("close broker: %w", ctx.Err())
		}
	}
	b.closed = true
	b.mu.Unlock()
	defer close(b.closeDone)

	b.cancel()
	// Name the reason before mochi's DISCONNECT reaches the clients, whose
	// reaction (closing the connection) could otherwise name it first.
	b.conns.each(func(c *conn) { c.setReason(ReasonServerInitiated) })
	done := make(chan struct{})
	go func() {
		defer close(done)
		// mochi closes the listeners (ours close their connections still
		// before CONNACK), disconnects the clients and waits for them.
		_ = b.server.Close()
		for _, l := range b.listeners() {
			l.wait()
		}
		b.wg.Wait()
	}()
	select {
	case <-done:
	case <-ctx.Done():
		b.conns.each(func(c *conn) { closeConn(c.client.Net.Conn) })
		for _, l := range b.listeners() {
			l.closeConns()
		}
		b.closeErr = fmt.Errorf("close broker: %w", ctx.Err())
	}
	return b.closeErr
}

func (b *Broker) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// Publish publishes a message as the server itself: shadow responses,
// events. It needs no authorization, but every subscriber still needs
// iot:Receive on the topic to get it. qos is 0 or 1. The server-side handlers
// (Subscribe) do not see the server's own messages.
func (b *Broker) Publish(ctx context.Context, topic string, payload []byte, qos byte, retain bool) error {
	return b.PublishMessage(ctx, OutgoingMessage{Topic: topic, Payload: payload, QoS: qos, Retain: retain})
}

// OutgoingMessage is a message the server publishes, with the MQTT 5
// properties of iot-data's Publish.
type OutgoingMessage struct {
	Topic           string
	Payload         []byte
	QoS             byte
	Retain          bool
	ContentType     string
	ResponseTopic   string
	CorrelationData []byte
	MessageExpiry   uint32 // seconds; 0 for none
	PayloadFormat   *byte  // 0 unspecified bytes, 1 UTF-8; nil when not given
	UserProperties  []UserProperty
	// Local keeps the message on this node: with a Cluster, a message every
	// node derives itself (registry events from the shared change feed) is
	// published by each node to its own clients, not forwarded.
	Local bool `json:"-"`
}

// PublishMessage is Publish with MQTT 5 properties: devices on MQTT 5 see
// them, MQTT 3.1.1 devices get the topic and payload.
func (b *Broker) PublishMessage(ctx context.Context, m OutgoingMessage) error {
	topic := m.Topic
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("publish %q: %w", topic, err)
	}
	if b.isClosed() {
		return fmt.Errorf("publish %q: %w", topic, ErrClosed)
	}
	if m.QoS > 1 {
		return fmt.Errorf("publish %q: qos %d not supported", topic, m.QoS)
	}
	if !validServerTopic(topic) {
		return fmt.Errorf("publish %q: invalid topic name", topic)
	}
	pk := publishPacket(m)
	if err := b.server.InjectPacket(b.publisher, pk); err != nil {
		return fmt.Errorf("publish %q: %w", topic, err)
	}
	if b.opts.Cluster != nil && !m.Local {
		b.opts.Cluster.Forward(m)
	}
	return nil
}

// publishPacket is the PUBLISH packet of a message the server publishes.
func publishPacket(m OutgoingMessage) packets.Packet {
	pk := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: m.QoS, Retain: m.Retain},
		TopicName:   m.Topic,
		Payload:     bytes.Clone(m.Payload),
		PacketID:    uint16(m.QoS), // required for QoS 1; the server acks nothing to itself
	}
	pk.Properties.ContentType = m.ContentType
	pk.Properties.ResponseTopic = m.ResponseTopic
	pk.Properties.CorrelationData = bytes.Clone(m.CorrelationData)
	if m.MessageExpiry > 0 {
		pk.Properties.MessageExpiryInterval = m.MessageExpiry
	}
	if m.PayloadFormat != nil {
		pk.Properties.PayloadFormat = *m.PayloadFormat
		pk.Properties.PayloadFormatFlag = true
	}
	for _, u := range m.UserProperties {
		pk.Properties.User = append(pk.Properties.User, packets.UserProperty{Key: u.Key, Val: u.Value})
	}
	return pk
}

// outgoingOf is the message a PUBLISH packet carries.
func outgoingOf(pk packets.Packet) OutgoingMessage {
	m := OutgoingMessage{Topic: pk.TopicName, Payload: pk.Payload, QoS: pk.FixedHeader.Qos, Retain: pk.FixedHeader.Retain,
		ContentType: pk.Properties.ContentType, ResponseTopic: pk.Properties.ResponseTopic,
		CorrelationData: pk.Properties.CorrelationData, MessageExpiry: pk.Properties.MessageExpiryInterval}
	if pk.Properties.PayloadFormatFlag {
		f := pk.Properties.PayloadFormat
		m.PayloadFormat = &f
	}
	for _, u := range pk.Properties.User {
		m.UserProperties = append(m.UserProperties, UserProperty{Key: u.Key, Value: u.Val})
	}
	return m
}

// Subscribe registers a server-side handler for the device messages matching
// filter, for example "$aws/things/+/shadow/#". Devices' messages still reach
// the devices subscribed to them. The handler runs on the publishing
// connection's goroutine after the message went to the subscribers, so it
// sees one client's messages in order; it must return quickly or hand the
// message on, and must not modify the payload. Call unsubscribe to remove
// the handler.
func (b *Broker) Subscribe(filter string, handler func(Message)) (unsubscribe func(), err error) {
	if handler == nil {
		return nil, fmt.Errorf("subscribe %q: nil handler", filter)
	}
	if !mqtt.IsValidFilter(filter, false) || mqtt.IsSharedFilter(filter) {
		return nil, fmt.Errorf("subscribe %q: invalid topic filter", filter)
	}
	id := b.handlers.add(filter, handler)
	var once sync.Once
	return func() { once.Do(func() { b.handlers.remove(id, filter) }) }, nil
}

// handlerSet holds the server-side handlers, matched by mochi's topic index.
type handlerSet struct {
	index *mqtt.TopicsIndex
	count atomic.Int64
	mu    sync.RWMutex
	next  int
	funcs map[int]func(Message)
}

func (h *handlerSet) add(filter string, f func(Message)) int {
	h.mu.Lock()
	h.next++
	id := h.next
	h.funcs[id] = f
	h.mu.Unlock()
	h.index.InlineSubscribe(mqtt.InlineSubscription{
		Subscription: packets.Subscription{Filter: filter, Identifier: id},
		Handler:      func(*mqtt.Client, packets.Subscription, packets.Packet) {},
	})
	h.count.Add(1)
	return id
}

func (h *handlerSet) remove(id int, filter string) {
	h.index.InlineUnsubscribe(id, filter)
	h.mu.Lock()
	delete(h.funcs, id)
	h.mu.Unlock()
	h.count.Add(-1)
}

// matching returns the handlers whose filter matches topic.
func (h *handlerSet) matching(topic string) []func(Message) {
	if h.count.Load() == 0 {
		return nil
	}
	subs := h.index.Subscribers(topic)
	if len(subs.InlineSubscriptions) == 0 {
		return nil
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	fs := make([]func(Message), 0, len(subs.InlineSubscriptions))
	for id := range subs.InlineSubscriptions {
		if f, ok := h.funcs[id]; ok {
			fs = append(fs, f)
		}
	}
	return fs
}

// dispatch hands a device's message to the matching server-side handlers.
func (b *Broker) dispatch(cl *mqtt.Client, pk packets.Packet, will bool) {
	fs := b.handlers.matching(pk.TopicName)
	if len(fs) == 0 {
		return
	}
	m := Message{
		Topic:    pk.TopicName,
		Payload:  pk.Payload,
		QoS:      pk.FixedHeader.Qos,
		Retain:   pk.FixedHeader.Retain,
		ClientID: cl.ID,
		Will:     will,
	}
	if c := b.conns.get(cl); c != nil {
		m.Authorization = c.authorization()
	}
	for _, f := range fs {
		f(m)
	}
}

// Disconnect ends, within a second, every live connection whose
// Authorization matches filter (for example all connections of a
// certificate that left ACTIVE), reporting reason in the disconnect event;
// MQTT 5 clients get a DISCONNECT with the matching reason code (0x87 for
// AUTH_ERROR, 0x98 administrative action for most others). Persistent
// sessions stay; Reauthorize updates them. It returns how many connections
// it ends.
func (b *Broker) Disconnect(filter func(Authorization) bool, reason DisconnectReason) int {
	n := 0
	b.conns.each(func(c *conn) {
		if !c.isOffline() && filter(c.authorization()) {
			b.kick(c, reason)
			n++
		}
	})
	return n
}

// Reauthorize runs Access.Connect again for every connection and offline
// persistent session whose Authorization matches filter, for example after a
// policy changed. A connection that may still connect gets the new
// Authorization from its next packet on; one that may not is ended
// (AUTH_ERROR, or SERVER_ERROR when Connect failed otherwise: the broker
// fails closed). An offline session that may not connect keeps its identity
// but is allowed nothing, so nothing more is queued for it. It returns how
// many connections it ended; when ctx ends it stops and returns ctx's error.
func (b *Broker) Reauthorize(ctx context.Context, filter func(Authorization) bool) (int, error) {
	var matched []*conn
	b.conns.each(func(c *conn) {
		if filter(c.authorization()) {
			matched = append(matched, c)
		}
	})
	ended := 0
	for _, c := range matched {
		auth, err := b.access.Connect(ctx, c.info)
		if err == nil && auth == nil {
			err = errors.New("access returned no authorization")
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ended, fmt.Errorf("reauthorize: %w", ctxErr)
		}
		if err == nil {
			c.setAuthorization(auth)
			continue
		}
		old := c.authorization()
		if c.isOffline() {
			c.setAuthorization(denyAll{old})
			continue
		}
		reason := ReasonServerError
		if v5, _ := connectRefusal(err); v5 != packets.ErrUnspecifiedError {
			reason = ReasonAuthError
		}
		b.log.Info("connection no longer authorized", "client", c.info.ClientID, "principal", old.Principal(), "error", err)
		b.kick(c, reason)
		ended++
	}
	return ended, nil
}

// kick ends a connection from outside its goroutine: MQTT 5 clients get a
// DISCONNECT packet first, unless writing it takes longer than kickGrace.
// The network connection is closed rather than the mochi client stopped, so
// that mochi sees a broken connection and publishes the client's will
// (a stopped client ends as if it had sent DISCONNECT, without its will).
func (b *Broker) kick(c *conn, reason DisconnectReason) {
	c.setReason(reason)
	cl := c.client
	if cl.Properties.ProtocolVersion != 5 {
		closeConn(cl.Net.Conn) // 3.1.1 has no DISCONNECT from the server
		return
	}
	b.mu.Lock()
	closed := b.closed
	if !closed {
		b.wg.Add(2) // before Close can start waiting
	}
	b.mu.Unlock()
	if closed {
		closeConn(cl.Net.Conn)
		return
	}
	code := reason.code()
	sent := make(chan struct{})
	go func() {
		defer b.wg.Done()
		defer close(sent)
		_ = cl.WritePacket(packets.Packet{
			FixedHeader: packets.FixedHeader{Type: packets.Disconnect},
			ReasonCode:  code.Code,
			Properties:  packets.Properties{ReasonString: code.Reason},
		})
		closeConn(cl.Net.Conn)
	}()
	go func() {
		defer b.wg.Done()
		t := time.NewTimer(kickGrace)
		defer t.Stop()
		select {
		case <-sent:
		case <-t.C:
			closeConn(cl.Net.Conn)
		}
	}()
}

// closeConn closes a client's network connection at once: a TLS connection
// without the close_notify alert, whose write could block on a client that
// does not read.
func closeConn(nc net.Conn) {
	switch c := nc.(type) {
	case nil:
	case *tls.Conn:
		_ = c.NetConn().Close()
	case *wsConn:
		_ = c.closeNow()
	default:
		_ = nc.Close()
	}
}

// endNow ends a connection from its own goroutine, as the reaction to a
// packet: MQTT 5 clients get a DISCONNECT with code.
func (b *Broker) endNow(c *conn, reason DisconnectReason, code packets.Code) {
	c.setReason(reason)
	if c.client.Properties.ProtocolVersion == 5 {
		_ = b.server.DisconnectClient(c.client, code)
		return
	}
	c.client.Stop(code)
}

// clampKeepAlive bounds the client's keep-alive (§9.3); MQTT 5 clients are
// told the value the server uses in the CONNACK.
func (b *Broker) clampKeepAlive(cl *mqtt.Client) {
	lo := uint16(b.limits.MinKeepAlive / time.Second)
	hi := uint16(b.limits.MaxKeepAlive / time.Second)
	ka := cl.State.Keepalive
	switch {
	case ka == 0 || ka > hi:
		ka = hi
	case ka < lo:
		ka = lo
	}
	if ka != cl.State.Keepalive {
		cl.State.Keepalive = ka
		cl.State.ServerKeepalive = true
	}
}

// checkWill drops the client's will at CONNECT when the connection's
// Authorization does not allow publishing it (iot:Publish, and
// iot:RetainPublish for a retained will). It runs on the connection's
// goroutine: mochi gives no race-free way to change a will later, so a
// Reauthorize does not revisit it.
func (b *Broker) checkWill(c *conn) {
	w := &c.client.Properties.Will
	if atomic.LoadUint32(&w.Flag) == 0 {
		return
	}
	auth := c.authorization()
	res := TopicResource(w.TopicName)
	ok := b.limits.checkTopic(w.TopicName) == nil && !reservedForPublish(w.TopicName) &&
		auth.Allowed(ActionPublish, res) && (!w.Retain || auth.Allowed(ActionRetainPublish, res))
	if !ok {
		atomic.StoreUint32(&w.Flag, 0)
		b.log.Info("will dropped", "client", c.info.ClientID, "principal", auth.Principal(), "resource", res)
	}
}

func remote(cl *mqtt.Client) string {
	if cl.Net.Conn == nil {
		return ""
	}
	return cl.Net.Remote
}

// truncate shortens client-supplied strings for logs.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// PublishTo sends a message to the connection of one client id only: the
// reply of a request/response service that must not reach other clients
// (AWS: fleet provisioning answers "through the same MQTT connection used
// to publish the API request"). It is delivered when the client has a
// subscription matching topic and its policy allows iot:Receive on it, at
// QoS 0 (the requests' own topics carry QoS 1 requests; a lost reply is
// asked again). Nothing is sent, without error, when the client is not
// connected or not subscribed.
func (b *Broker) PublishTo(ctx context.Context, clientID, topic string, payload []byte, qos byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cl, ok := b.server.Clients.Get(clientID)
	if !ok || cl.Closed() {
		return nil
	}
	if _, subscribed := b.server.Topics.Subscribers(topic).Subscriptions[clientID]; !subscribed {
		return nil
	}
	c := b.conns.get(cl)
	if c == nil || !c.authorization().Allowed(ActionReceive, TopicResource(topic)) {
		b.obs.Denied(ActionReceive)
		return nil
	}
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish}, TopicName: topic, Payload: payload}
	if err := cl.WritePacket(pk); err != nil && !errors.Is(err, mqtt.ErrConnectionClosed) {
		return fmt.Errorf("publish to %s: %w", clientID, err)
	}
	b.obs.MessageOut(0, len(payload))
	return nil
}
