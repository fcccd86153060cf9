package broker

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Cluster joins the broker to the brokers of the other nodes of an iotdm
// cluster. The broker calls it; the node's wiring carries its calls to the
// other nodes (over NATS) and calls Deliver and HandOver for theirs. Its
// methods are called on connection goroutines and must be safe for
// concurrent use.
//
// What crosses nodes: every message published on this node (by a device, a
// will or the server, unless Local) is forwarded to the others, whose
// brokers deliver it to their own subscribers under their own iot:Receive
// checks; a retained message is kept by every node. A client id connects
// once in the cluster: a connection on this node first takes the client's
// session from the node that holds it (ending that connection, as a second
// connection with the same id does on one node), keeping its subscriptions
// and queued messages when the client asks for its session.
type Cluster interface {
	// Forward hands a message published on this node to the other nodes;
	// it must not keep m (or its slices) after it returns.
	Forward(m OutgoingMessage)
	// TakeSession asks the node holding clientID's session, if another one
	// does, to end the client's connection there and to hand the session
	// over (keep) or drop it; nil, nil when no other node holds one.
	TakeSession(ctx context.Context, clientID string, keep bool) (*SessionState, error)
	// HoldSession says this node now holds clientID's session (connected,
	// or persistent and offline); ReleaseSession says it no longer does.
	HoldSession(clientID string)
	ReleaseSession(clientID string)
}

// SessionState is a persistent session handed from one node to another:
// its subscriptions and the QoS 1 messages queued or in flight for it.
type SessionState struct {
	ProtocolVersion byte                  `json:"protocolVersion"`
	Subscriptions   []SessionSubscription `json:"subscriptions,omitempty"`
	Pending         []PendingMessage      `json:"pending,omitempty"`
}

// SessionSubscription is one subscription of a session.
type SessionSubscription struct {
	Filter            string `json:"filter"`
	QoS               byte   `json:"qos"`
	NoLocal           bool   `json:"noLocal,omitempty"`
	RetainAsPublished bool   `json:"retainAsPublished,omitempty"`
	RetainHandling    byte   `json:"retainHandling,omitempty"`
	Identifier        int    `json:"identifier,omitempty"`
}

// PendingMessage is a QoS 1 message queued for, or in flight to, a session.
type PendingMessage struct {
	PacketID uint16          `json:"packetId"`
	Message  OutgoingMessage `json:"message"`
}

// handOverWait bounds how long HandOver waits for a connection it ends.
const handOverWait = 2 * time.Second

// Deliver publishes a message forwarded by another node to this node's
// subscribers: each still needs iot:Receive on its topic; a retained message
// is kept. The server-side handlers (Subscribe) do not see it (the node it
// was published on handled it) and it is not forwarded again.
func (b *Broker) Deliver(m OutgoingMessage) error {
	if b.isClosed() {
		return fmt.Errorf("deliver %q: %w", m.Topic, ErrClosed)
	}
	if m.QoS > 1 || !validServerTopic(m.Topic) {
		return fmt.Errorf("deliver %q: invalid message", m.Topic)
	}
	if err := b.server.InjectPacket(b.publisher, publishPacket(m)); err != nil {
		return fmt.Errorf("deliver %q: %w", m.Topic, err)
	}
	return nil
}

// HandOver ends clientID's session on this node for a connection of the
// same client id on another node: a live connection is ended
// (DUPLICATE_CLIENTID) and, when keep, the session's subscriptions and
// pending messages are returned before it is removed. ok is false when this
// node holds no session of clientID.
func (b *Broker) HandOver(ctx context.Context, clientID string, keep bool) (st *SessionState, ok bool) {
	cl, ok := b.server.Clients.Get(clientID)
	if !ok {
		return nil, false
	}
	c := b.conns.get(cl)
	if c != nil && !c.isOffline() {
		b.kick(c, ReasonDuplicateClientID)
		wctx, cancel := context.WithTimeout(ctx, handOverWait)
		for !c.isOffline() && wctx.Err() == nil {
			time.Sleep(2 * time.Millisecond)
		}
		cancel()
	}
	if keep && !(cl.Properties.Clean && cl.Properties.ProtocolVersion < 5) {
		st = captureSession(cl)
	}
	if current, ok := b.server.Clients.Get(clientID); ok && current == cl {
		b.server.UnsubscribeClient(cl)
		if n := cl.State.Inflight.Len(); n > 0 {
			cl.ClearInflights()
		}
		b.server.Clients.Delete(clientID)
	}
	if c != nil {
		c.mu.Lock()
		c.takenOver = true
		offline := c.offline
		c.mu.Unlock()
		if offline {
			b.conns.remove(c)
		}
	}
	return st, true
}

// captureSession copies a session's subscriptions and pending messages.
func captureSession(cl *mqtt.Client) *SessionState {
	st := &SessionState{ProtocolVersion: cl.Properties.ProtocolVersion}
	for _, s := range cl.State.Subscriptions.GetAll() {
		st.Subscriptions = append(st.Subscriptions, SessionSubscription{Filter: s.Filter, QoS: s.Qos, NoLocal: s.NoLocal,
			RetainAsPublished: s.RetainAsPublished, RetainHandling: s.RetainHandling, Identifier: s.Identifier})
	}
	for _, pk := range cl.State.Inflight.GetAll(false) {
		if pk.FixedHeader.Type != packets.Publish {
			continue
		}
		st.Pending = append(st.Pending, PendingMessage{PacketID: pk.PacketID, Message: outgoingOf(pk)})
	}
	return st
}

// takeRemoteSession runs as a connection is established on this node: the
// node holding the client's session ends the client's connection there and,
// when the client keeps its session, hands it over; it becomes the session
// mochi then inherits, as if it had been held here.
func (b *Broker) takeRemoteSession(cl *mqtt.Client, pk packets.Packet) {
	cluster := b.opts.Cluster
	if cluster == nil {
		return
	}
	if _, local := b.server.Clients.Get(cl.ID); local {
		return // this node holds it: mochi's own takeover
	}
	keep := !pk.Connect.Clean
	ctx, cancel := context.WithTimeout(b.ctx, b.limits.ConnectTimeout)
	defer cancel()
	st, err := cluster.TakeSession(ctx, cl.ID, keep)
	if err != nil {
		b.log.Warn("session of another node not taken over", "client", cl.ID, "err", err)
		return
	}
	if st == nil || !keep {
		return
	}
	ghost := b.server.NewClient(nil, mqtt.LocalListener, cl.ID, false)
	ghost.Properties.ProtocolVersion = st.ProtocolVersion
	ghost.Properties.Clean = false
	for _, s := range st.Subscriptions {
		ghost.State.Subscriptions.Add(s.Filter, packets.Subscription{Filter: s.Filter, Qos: s.QoS, NoLocal: s.NoLocal,
			RetainAsPublished: s.RetainAsPublished, RetainHandling: s.RetainHandling, Identifier: s.Identifier})
	}
	for _, p := range st.Pending {
		out := publishPacket(p.Message)
		out.PacketID = p.PacketID
		if ghost.State.Inflight.Set(out) {
			atomic.AddInt64(&b.server.Info.Inflight, 1)
		}
	}
	b.server.Clients.Add(ghost)
	b.log.Debug("session taken over from another node", "client", cl.ID, "subscriptions", len(st.Subscriptions),
		"pending", len(st.Pending))
}

// sessionHeld tells the cluster this node holds cl's session.
func (b *Broker) sessionHeld(cl *mqtt.Client) {
	if b.opts.Cluster != nil {
		b.opts.Cluster.HoldSession(cl.ID)
	}
}

// sessionGone tells the cluster this node no longer holds cl's session,
// unless a newer connection of the same client here holds it now.
func (b *Broker) sessionGone(cl *mqtt.Client) {
	if b.opts.Cluster == nil {
		return
	}
	if current, ok := b.server.Clients.Get(cl.ID); ok && current != cl {
		return
	}
	b.opts.Cluster.ReleaseSession(cl.ID)
}
