package control

import (
	"cmp"
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/iotdm/iotdm"
)

// Device connectivity (AWS §2.1, §7.1): the broker reports every connect,
// disconnect, subscribe and unsubscribe; the Connectivity service publishes
// the lifecycle events on $aws/events/presence/... and
// $aws/events/subscriptions/..., and records the connection state of
// clients whose client id is a registered thing's name as KindConnectivity
// entities, which the fleet index and GetThingConnectivityData read.
//
// The broker's callbacks run on connection goroutines and must not wait,
// so they hand their events to the Enqueue methods: a bounded queue that
// Run drains in batches, one store transaction per batch. Events are
// processed in the order they were queued; a full queue drops the event
// (Dropped counts them) rather than stall the broker.

// ConnectivityOptions configures a Connectivity service.
type ConnectivityOptions struct {
	// Publisher publishes the lifecycle events; nil publishes none (see
	// also SetPublisher).
	Publisher MessagePublisher
	// QueueSize bounds the events waiting for Run; 0 means 16384.
	QueueSize int
	// BatchSize is the most events Run records in one store transaction;
	// 0 means 512.
	BatchSize int
	// KeepStaleOnStart keeps the stored connected states when Run starts.
	// By default Run first marks every thing still recorded as connected
	// disconnected (SERVER_INITIATED_DISCONNECT) and publishes its
	// disconnected event: a new broker has no connections, and the
	// disconnects of the last run may never have been recorded (a crash,
	// or a shutdown that did not Flush). Set it when several servers share
	// one store without Node.
	KeepStaleOnStart bool
	// Node names this server in a cluster (several servers sharing one
	// store): the states it records carry it, and its start clears only
	// its own stale states; ResetNodes clears those of nodes that died.
	Node   string
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// SessionInfo identifies a connection in the lifecycle events (AWS §7.1):
// what the broker knows of every connection.
type SessionInfo struct {
	ClientID string
	// Principal names the connection's identity (for example the
	// certificate ARN, or an IAM identity); CertificateID is the
	// certificate id of a certificate-authenticated connection, else "".
	// principalIdentifier is the certificate id when there is one (AWS
	// §7.1), else Principal.
	Principal     string
	CertificateID string
	// SessionID is unique per connection (sessionIdentifier).
	SessionID string
	// IPAddress is the client's address without the port (ipAddress).
	IPAddress string
	// VersionNumber increases with every connection of the broker and is
	// shared by the events of one connection (versionNumber). It orders the
	// connection states of a client: the state of a connection with a
	// smaller number never replaces that of a larger one. Zero means
	// unknown; the event's time in milliseconds orders it then.
	VersionNumber int64
}

// ConnectInfo is a connection that completed CONNECT/CONNACK.
type ConnectInfo struct {
	SessionInfo
	// Time is when the connection was accepted; zero means now.
	Time time.Time
}

// DisconnectInfo is the end of a connection that had completed CONNECT.
type DisconnectInfo struct {
	SessionInfo
	// Reason is the DisconnectReasonValue (iotdm.Disconnect...); ""
	// means UNKNOWN.
	Reason string
	// ClientInitiated is true when the client sent DISCONNECT
	// (clientInitiatedDisconnect).
	ClientInitiated bool
	// Time is when the connection ended; zero means now.
	Time time.Time
}

// SubscriptionInfo is a SUBSCRIBE (the granted filters) or UNSUBSCRIBE.
type SubscriptionInfo struct {
	SessionInfo
	Topics []string
	// Time is when it happened; zero means now.
	Time time.Time
}

// Lifecycle event topics (AWS §7.1); the client id follows.
const (
	TopicPresenceConnected        = "$aws/events/presence/connected/"
	TopicPresenceDisconnected     = "$aws/events/presence/disconnected/"
	TopicSubscriptionsSubscribed  = "$aws/events/subscriptions/subscribed/"
	TopicSubscriptionUnsubscribed = "$aws/events/subscriptions/unsubscribed/"
)

// lifecycleQoS is the QoS of the lifecycle events: the broker delivers at
// the lower of it and the subscription's, so a QoS 1 subscriber gets them
// at least once (AWS §7: at-least-once delivery).
const lifecycleQoS = 1

const (
	defaultConnectivityQueue = 16384
	defaultConnectivityBatch = 512
	// resetChunk is how many stale states one startup transaction clears.
	resetChunk = 1000
	// dropWarnEvery is how often, at most, a full queue is logged.
	dropWarnEvery = 10 * time.Second
)

// eventKind says what a queued lifecycle event is.
type eventKind uint8

const (
	evConnected eventKind = iota
	evDisconnected
	evSubscribed
	evUnsubscribed
	evFlush // no event: Flush's marker
)

// lifecycleEvent is one queued event.
type lifecycleEvent struct {
	kind            eventKind
	session         SessionInfo
	time            time.Time
	reason          string
	clientInitiated bool
	topics          []string
	done            chan struct{} // evFlush
}

// order is the event's position among the connections of its client.
func (e *lifecycleEvent) order() int64 {
	if e.session.VersionNumber != 0 {
		return e.session.VersionNumber
	}
	return e.time.UnixMilli()
}

// Connectivity records the connection state of things and publishes the
// lifecycle events (AWS §7.1); it implements iotdm.Connectivity and
// iotdm.EventConfigurations.
type Connectivity struct {
	store iotdm.Store
	opts  ConnectivityOptions
	log   *slog.Logger
	pub   atomic.Pointer[MessagePublisher]

	queue    chan lifecycleEvent
	dropped  atomic.Uint64
	lastWarn atomic.Int64 // unix nanoseconds of the last full-queue warning
}

var (
	_ iotdm.Connectivity        = (*Connectivity)(nil)
	_ iotdm.EventConfigurations = (*Connectivity)(nil)
)

// NewConnectivity returns a Connectivity service over store. Events queued
// with the Enqueue methods are processed once Run runs.
func NewConnectivity(store iotdm.Store, opts ConnectivityOptions) *Connectivity {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.QueueSize = cmp.Or(opts.QueueSize, defaultConnectivityQueue)
	opts.BatchSize = cmp.Or(opts.BatchSize, defaultConnectivityBatch)
	c := &Connectivity{
		store: store,
		opts:  opts,
		log:   opts.Logger.With("component", "connectivity"),
		queue: make(chan lifecycleEvent, opts.QueueSize),
	}
	c.SetPublisher(opts.Publisher)
	return c
}

// SetPublisher sets the publisher of the lifecycle events; nil stops
// publishing. It may be called at any time, typically once the broker
// exists (the broker's callbacks need the service first).
func (c *Connectivity) SetPublisher(p MessagePublisher) {
	if p == nil {
		c.pub.Store(nil)
		return
	}
	c.pub.Store(&p)
}

func (c *Connectivity) publisher() MessagePublisher {
	if p := c.pub.Load(); p != nil {
		return *p
	}
	return nil
}

// --- the queue ---

// EnqueueConnected queues a connect for Run; it never blocks and reports
// false when the queue is full and the event was dropped.
func (c *Connectivity) EnqueueConnected(in ConnectInfo) bool {
	return c.enqueue(lifecycleEvent{kind: evConnected, session: in.SessionInfo, time: in.Time})
}

// EnqueueDisconnected queues a disconnect (see EnqueueConnected).
func (c *Connectivity) EnqueueDisconnected(in DisconnectInfo) bool {
	return c.enqueue(lifecycleEvent{kind: evDisconnected, session: in.SessionInfo, time: in.Time,
		reason: in.Reason, clientInitiated: in.ClientInitiated})
}

// EnqueueSubscribed queues a subscribe (see EnqueueConnected).
func (c *Connectivity) EnqueueSubscribed(in SubscriptionInfo) bool {
	return c.enqueue(lifecycleEvent{kind: evSubscribed, session: in.SessionInfo, time: in.Time, topics: slices.Clone(in.Topics)})
}

// EnqueueUnsubscribed queues an unsubscribe (see EnqueueConnected).
func (c *Connectivity) EnqueueUnsubscribed(in SubscriptionInfo) bool {
	return c.enqueue(lifecycleEvent{kind: evUnsubscribed, session: in.SessionInfo, time: in.Time, topics: slices.Clone(in.Topics)})
}

func (c *Connectivity) enqueue(e lifecycleEvent) bool {
	if e.time.IsZero() {
		e.time = c.opts.Now()
	}
	select {
	case c.queue <- e:
		return true
	default:
	}
	n := c.dropped.Add(1)
	now := time.Now().UnixNano()
	if last := c.lastWarn.Load(); now-last >= int64(dropWarnEvery) && c.lastWarn.CompareAndSwap(last, now) {
		c.log.Warn("connectivity queue full; lifecycle events dropped", "dropped", n, "queue", cap(c.queue))
	}
	return false
}

// Dropped returns how many events a full queue dropped.
func (c *Connectivity) Dropped() uint64 { return c.dropped.Load() }

// Flush returns once every event queued before it was processed by Run,
// or when ctx ends. Call it at shutdown after the broker has closed (and
// reported its disconnects), before stopping Run.
func (c *Connectivity) Flush(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case c.queue <- lifecycleEvent{kind: evFlush, done: done}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run processes the queued events until ctx ends, returning ctx's error.
// Unless KeepStaleOnStart is set it first clears the connected states left
// by an earlier run. Store failures are logged, not returned: the events
// are still published. Call it once.
func (c *Connectivity) Run(ctx context.Context) error {
	if !c.opts.KeepStaleOnStart {
		own := c.opts.Node
		err := c.reset(ctx, iotdm.DisconnectServerInitiated, func(st *iotdm.ConnectivityState) bool { return own == "" || st.Node == own })
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			c.log.Error("connectivity: clearing the connected states of the last run failed", "err", err)
		}
	}
	batch := make([]lifecycleEvent, 0, c.opts.BatchSize)
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e := <-c.queue:
			batch = append(batch, e)
		}
	drain:
		for len(batch) < c.opts.BatchSize {
			select {
			case e := <-c.queue:
				batch = append(batch, e)
			default:
				break drain
			}
		}
		if err := c.process(ctx, batch); err != nil && ctx.Err() == nil {
			c.log.Error("connectivity: recording connection states failed", "events", len(batch), "err", err)
		}
		for _, e := range batch {
			if e.kind == evFlush {
				close(e.done)
			}
		}
		clear(batch) // let go of the sessions and topics
	}
}

// --- synchronous processing ---

// Connected records and publishes a connect at once, without the queue.
func (c *Connectivity) Connected(ctx context.Context, in ConnectInfo) error {
	return c.process(ctx, []lifecycleEvent{c.stamp(lifecycleEvent{kind: evConnected, session: in.SessionInfo, time: in.Time})})
}

// Disconnected records and publishes a disconnect at once.
func (c *Connectivity) Disconnected(ctx context.Context, in DisconnectInfo) error {
	return c.process(ctx, []lifecycleEvent{c.stamp(lifecycleEvent{kind: evDisconnected, session: in.SessionInfo,
		time: in.Time, reason: in.Reason, clientInitiated: in.ClientInitiated})})
}

// Subscribed publishes a subscribed event at once.
func (c *Connectivity) Subscribed(ctx context.Context, in SubscriptionInfo) error {
	return c.process(ctx, []lifecycleEvent{c.stamp(lifecycleEvent{kind: evSubscribed, session: in.SessionInfo, time: in.Time, topics: in.Topics})})
}

// Unsubscribed publishes an unsubscribed event at once.
func (c *Connectivity) Unsubscribed(ctx context.Context, in SubscriptionInfo) error {
	return c.process(ctx, []lifecycleEvent{c.stamp(lifecycleEvent{kind: evUnsubscribed, session: in.SessionInfo, time: in.Time, topics: in.Topics})})
}

func (c *Connectivity) stamp(e lifecycleEvent) lifecycleEvent {
	if e.time.IsZero() {
		e.time = c.opts.Now()
	}
	return e
}

// process records the connection states of a batch in one transaction,
// then publishes its events in order. The events are published even when
// the store fails (the error is returned): lifecycle events do not depend
// on the registry.
func (c *Connectivity) process(ctx context.Context, batch []lifecycleEvent) error {
	err := c.record(ctx, batch)
	pub := c.publisher()
	if pub == nil {
		return err
	}
	for i := range batch {
		topic, payload, ok := lifecycleMessage(&batch[i])
		if !ok {
			continue
		}
		if perr := pub.Publish(ctx, topic, payload, lifecycleQoS, false); perr != nil {
			c.log.Debug("lifecycle event not published", "topic", topic, "err", perr)
		}
	}
	return err
}

// connectivityEntry is a batch's view of one client id.
type connectivityEntry struct {
	thingID string                   // "" when no thing has the client id's name
	state   *iotdm.ConnectivityState // nil when none is stored
	dirty   bool
}

// record applies the connects and disconnects of batch to the stored
// states of the things they name.
func (c *Connectivity) record(ctx context.Context, batch []lifecycleEvent) error {
	if !slices.ContainsFunc(batch, func(e lifecycleEvent) bool { return recordable(&e) }) {
		return nil
	}
	return c.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		entries := map[string]*connectivityEntry{}
		for i := range batch {
			e := &batch[i]
			if !recordable(e) {
				continue
			}
			id := e.session.ClientID
			ent := entries[id]
			if ent == nil {
				ent = &connectivityEntry{}
				entries[id] = ent
				t, ok, err := get[iotdm.Thing](ctx, tx, iotdm.KindThing, id)
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
				ent.thingID = t.ThingID
				st, err := c.loadState(ctx, tx, id)
				if err != nil {
					return err
				}
				ent.state = st
			}
			if ent.thingID == "" {
				continue
			}
			if next, ok := nextState(ent.state, ent.thingID, c.opts.Node, e); ok {
				ent.state, ent.dirty = next, true
			}
		}
		for _, id := range slices.Sorted(maps.Keys(entries)) {
			if ent := entries[id]; ent.dirty {
				if err := put(ctx, tx, iotdm.KindConnectivity, id, ent.state); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// loadState returns the stored state of thing, nil when there is none or
// it cannot be decoded (it is then as good as none: the next event replaces
// it).
func (c *Connectivity) loadState(ctx context.Context, tx getter, thing string) (*iotdm.ConnectivityState, error) {
	v, ok, err := tx.Get(ctx, iotdm.KindConnectivity, thing)
	if err != nil || !ok {
		return nil, err
	}
	st := new(iotdm.ConnectivityState)
	if err := json.Unmarshal(v, st); err != nil {
		c.log.Warn("connectivity: unreadable state ignored", "thing", thing, "err", err)
		return nil, nil
	}
	return st, nil
}

// recordable reports whether e may change a thing's connection state: a
// connect or disconnect of a client id that can be a thing name.
func recordable(e *lifecycleEvent) bool {
	if e.kind != evConnected && e.kind != evDisconnected {
		return false
	}
	id := e.session.ClientID
	return id != "" && len(id) <= maxNameLen && resourceNamePattern.MatchString(id)
}

// nextState returns the state of thing thingID after e, and false when e
// changes nothing: it belongs to an older connection than the stored state,
// repeats the stored connect, or follows the stored disconnect of the same
// connection. A state recorded for an earlier thing of the same name counts
// as none.
func nextState(cur *iotdm.ConnectivityState, thingID, node string, e *lifecycleEvent) (*iotdm.ConnectivityState, bool) {
	v := e.order()
	if cur != nil && (cur.ThingID == thingID || cur.ThingID == "") {
		switch {
		case v < cur.VersionNumber:
			return nil, false
		case v == cur.VersionNumber && (e.kind == evConnected || !cur.Connected):
			return nil, false
		}
	}
	next := &iotdm.ConnectivityState{
		Connected:     e.kind == evConnected,
		Timestamp:     e.time.UnixMilli(),
		ThingID:       thingID,
		VersionNumber: v,
		SessionID:     e.session.SessionID,
		Principal:     principalIdentifier(&e.session),
		Node:          node,
	}
	if !next.Connected {
		next.DisconnectReason = disconnectReason(e.reason)
	}
	return next, true
}

func disconnectReason(r string) string { return cmp.Or(r, iotdm.DisconnectUnknown) }

// principalIdentifier is the certificate id of a certificate-authenticated
// connection, else its principal (AWS §7.1).
func principalIdentifier(s *SessionInfo) string { return cmp.Or(s.CertificateID, s.Principal) }

// --- the lifecycle event payloads (AWS §7.1) ---

type connectedPayload struct {
	ClientID            string `json:"clientId"`
	Timestamp           int64  `json:"timestamp"`
	EventType           string `json:"eventType"`
	SessionIdentifier   string `json:"sessionIdentifier"`
	PrincipalIdentifier string `json:"principalIdentifier"`
	IPAddress           string `json:"ipAddress"`
	VersionNumber       int64  `json:"versionNumber"`
}

type disconnectedPayload struct {
	ClientID                  string `json:"clientId"`
	Timestamp                 int64  `json:"timestamp"`
	EventType                 string `json:"eventType"`
	SessionIdentifier         string `json:"sessionIdentifier"`
	PrincipalIdentifier       string `json:"principalIdentifier"`
	ClientInitiatedDisconnect bool   `json:"clientInitiatedDisconnect"`
	DisconnectReason          string `json:"disconnectReason"`
	VersionNumber             int64  `json:"versionNumber"`
}

type subscriptionPayload struct {
	ClientID            string   `json:"clientId"`
	Timestamp           int64    `json:"timestamp"`
	EventType           string   `json:"eventType"`
	SessionIdentifier   string   `json:"sessionIdentifier"`
	PrincipalIdentifier string   `json:"principalIdentifier"`
	Topics              []string `json:"topics"`
}

// lifecycleMessage returns the topic and payload of e's lifecycle event;
// false for none: a flush marker, or a client id with '+' or '#', which AWS
// publishes no lifecycle events for (AWS §7).
func lifecycleMessage(e *lifecycleEvent) (topic string, payload []byte, ok bool) {
	s := &e.session
	if e.kind == evFlush || s.ClientID == "" || strings.ContainsAny(s.ClientID, "+#") {
		return "", nil, false
	}
	ts := e.time.UnixMilli()
	var v any
	switch e.kind {
	case evConnected:
		topic = TopicPresenceConnected + s.ClientID
		v = connectedPayload{ClientID: s.ClientID, Timestamp: ts, EventType: "connected",
			SessionIdentifier: s.SessionID, PrincipalIdentifier: principalIdentifier(s),
			IPAddress: s.IPAddress, VersionNumber: s.VersionNumber}
	case evDisconnected:
		topic = TopicPresenceDisconnected + s.ClientID
		v = disconnectedPayload{ClientID: s.ClientID, Timestamp: ts, EventType: "disconnected",
			SessionIdentifier: s.SessionID, PrincipalIdentifier: principalIdentifier(s),
			ClientInitiatedDisconnect: e.clientInitiated, DisconnectReason: disconnectReason(e.reason),
			VersionNumber: s.VersionNumber}
	case evSubscribed, evUnsubscribed:
		topic, typ := TopicSubscriptionsSubscribed+s.ClientID, "subscribed"
		if e.kind == evUnsubscribed {
			topic, typ = TopicSubscriptionUnsubscribed+s.ClientID, "unsubscribed"
		}
		topics := e.topics
		if topics == nil {
			topics = []string{}
		}
		b, err := json.Marshal(subscriptionPayload{ClientID: s.ClientID, Timestamp: ts, EventType: typ,
			SessionIdentifier: s.SessionID, PrincipalIdentifier: principalIdentifier(s), Topics: topics})
		return topic, b, err == nil
	default:
		return "", nil, false
	}
	b, err := json.Marshal(v)
	return topic, b, err == nil
}

// --- the startup reset ---

// ResetNodes marks every thing recorded as connected through a node that
// dead reports as dead disconnected (SERVER_ERROR, now) and publishes its
// disconnected events: a survivor's work when a cluster node dies with its
// devices connected, and a new leader's sweep for nodes that died while
// nobody was watching. A thing that has reconnected elsewhere since is left
// alone.
func (c *Connectivity) ResetNodes(ctx context.Context, dead func(node string) bool) error {
	return c.reset(ctx, iotdm.DisconnectServerError, func(st *iotdm.ConnectivityState) bool { return st.Node != "" && dead(st.Node) })
}

// reset marks every thing recorded as connected whose state match selects
// disconnected (with reason, now) and publishes its disconnected event, in
// chunks of resetChunk things per transaction; match is asked again inside
// each transaction, so a thing that reconnected meanwhile stays connected.
func (c *Connectivity) reset(ctx context.Context, reason string, match func(*iotdm.ConnectivityState) bool) error {
	var stale []string
	err := c.store.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
		return tx.Scan(ctx, iotdm.KindConnectivity, "", "", 0, func(key string, v []byte) error {
			var st iotdm.ConnectivityState
			if json.Unmarshal(v, &st) == nil && st.Connected && match(&st) {
				stale = append(stale, key)
			}
			return nil
		})
	})
	if err != nil || len(stale) == 0 {
		return err
	}
	c.log.Info("connectivity: things no longer connected marked disconnected", "things", len(stale), "reason", reason)
	for chunk := range slices.Chunk(stale, resetChunk) {
		var events []lifecycleEvent
		now := c.opts.Now()
		err := c.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
			events = events[:0]
			for _, id := range chunk {
				st, err := c.loadState(ctx, tx, id)
				if err != nil {
					return err
				}
				if st == nil || !st.Connected || !match(st) {
					continue // gone, unreadable, no longer connected or reconnected elsewhere
				}
				st.Connected = false
				st.Timestamp = now.UnixMilli()
				st.DisconnectReason = reason
				if err := put(ctx, tx, iotdm.KindConnectivity, id, st); err != nil {
					return err
				}
				events = append(events, lifecycleEvent{kind: evDisconnected, time: now, reason: reason,
					session: SessionInfo{ClientID: id, Principal: st.Principal, SessionID: st.SessionID, VersionNumber: st.VersionNumber}})
			}
			return nil
		})
		if err != nil {
			return err
		}
		if pub := c.publisher(); pub != nil {
			for i := range events {
				if topic, payload, ok := lifecycleMessage(&events[i]); ok {
					if err := pub.Publish(ctx, topic, payload, lifecycleQoS, false); err != nil {
						c.log.Debug("lifecycle event not published", "topic", topic, "err", err)
					}
				}
			}
		}
	}
	return nil
}

// --- GetThingConnectivityData ---

// GetThingConnectivityData returns the connection state of a thing (AWS
// "Device connectivity status queries"): it needs connectivity indexing
// (thing indexing on and thingConnectivityIndexingMode STATUS), answers
// from the store (so it is current, unlike the fleet index, which trails
// it), and says connected false without a timestamp for a thing that never
// connected. Unlike AWS it keeps the timestamp and reason of a disconnect
// for good (AWS may drop them after about an hour, §2.2).
func (c *Connectivity) GetThingConnectivityData(ctx context.Context, in *iotdm.GetThingConnectivityDataInput) (*iotdm.GetThingConnectivityDataOutput, error) {
	if err := validateName("thingName", in.ThingName); err != nil {
		return nil, err
	}
	out := &iotdm.GetThingConnectivityDataOutput{ThingName: in.ThingName}
	err := c.store.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
		cfg, err := loadIndexingConfig(ctx, tx)
		if err != nil {
			return err
		}
		if !cfg.ThingIndexEnabled() {
			return indexNotFound(iotdm.IndexThings)
		}
		if cfg.ThingIndexingConfiguration.ThingConnectivityIndexingMode != iotdm.ConnectivityIndexingStatus {
			return invalid("Thing connectivity indexing is not enabled. Please enable it by calling UpdateIndexingConfiguration with thingConnectivityIndexingMode STATUS")
		}
		t, ok, err := get[iotdm.Thing](ctx, tx, iotdm.KindThing, in.ThingName)
		if err != nil {
			return err
		}
		if !ok {
			return notFound("Thing %s does not exist", in.ThingName)
		}
		st, err := c.loadState(ctx, tx, in.ThingName)
		if err != nil {
			return err
		}
		if st == nil || st.ThingID != "" && st.ThingID != t.ThingID {
			return nil
		}
		out.Connected = st.Connected
		out.Timestamp = &iotdm.Timestamp{Time: time.UnixMilli(st.Timestamp).UTC()}
		if !st.Connected {
			out.DisconnectReason = st.DisconnectReason
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// --- event configurations (AWS §7.2) ---

// loadEventConfigurations returns the stored event configuration, nil when
// it was never updated.
func loadEventConfigurations(ctx context.Context, tx getter) (*iotdm.EventConfigurationsState, error) {
	st, ok, err := get[iotdm.EventConfigurationsState](ctx, tx, iotdm.KindAccount, iotdm.EventConfigurationsKey)
	if err != nil || !ok {
		return nil, err
	}
	return st, nil
}

// UpdateEventConfigurations switches registry event types on or off; the
// types it does not name keep their setting.
func (c *Connectivity) UpdateEventConfigurations(ctx context.Context, in *iotdm.UpdateEventConfigurationsInput) (*iotdm.Empty, error) {
	for _, k := range slices.Sorted(maps.Keys(in.EventConfigurations)) {
		if !slices.Contains(iotdm.EventTypes, k) {
			return nil, invalid("1 validation error detected: Value '%s' at 'eventConfigurations' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy enum value set: [%s]]",
				k, strings.Join(iotdm.EventTypes, ", "))
		}
	}
	now := iotdm.Timestamp{Time: c.opts.Now().UTC().Truncate(time.Millisecond)}
	err := c.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		st, err := loadEventConfigurations(ctx, tx)
		if err != nil {
			return err
		}
		if st == nil {
			st = &iotdm.EventConfigurationsState{CreationDate: now}
		}
		if st.EventConfigurations == nil {
			st.EventConfigurations = map[string]iotdm.EventConfiguration{}
		}
		for k, v := range in.EventConfigurations {
			st.EventConfigurations[k] = v
		}
		st.LastModifiedDate = now
		return put(ctx, tx, iotdm.KindAccount, iotdm.EventConfigurationsKey, st)
	})
	if err != nil {
		return nil, err
	}
	return &iotdm.Empty{}, nil
}

// DescribeEventConfigurations returns the setting of every event type
// (disabled unless enabled by UpdateEventConfigurations), with the dates of
// the first and last update (absent before the first).
func (c *Connectivity) DescribeEventConfigurations(ctx context.Context, _ *iotdm.DescribeEventConfigurationsInput) (*iotdm.DescribeEventConfigurationsOutput, error) {
	st, err := loadEventConfigurations(ctx, c.store)
	if err != nil {
		return nil, err
	}
	out := &iotdm.DescribeEventConfigurationsOutput{EventConfigurations: make(map[string]iotdm.EventConfiguration, len(iotdm.EventTypes))}
	for _, k := range iotdm.EventTypes {
		out.EventConfigurations[k] = iotdm.EventConfiguration{Enabled: st.Enabled(k)}
	}
	if st != nil {
		out.CreationDate = &st.CreationDate
		out.LastModifiedDate = &st.LastModifiedDate
	}
	return out, nil
}
