package main

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/iotdm/iotdm/internal/broker"
	"github.com/iotdm/iotdm/internal/cluster"
)

// mqttBridge carries the broker's cluster traffic over NATS
// (broker.Cluster): messages published on this node go to every other node
// on one subject, in order; a client's session is asked for on a subject of
// its own, which the node holding the session subscribes to.
type mqttBridge struct {
	node *cluster.Node
	nc   *nats.Conn
	log  *slog.Logger
	b    *broker.Broker // set by start, before the broker listens

	msgSubject string
	msgSub     *nats.Subscription

	mu       sync.Mutex
	sessions map[string]*nats.Subscription // client id → its session subject, while this node holds it
	requests chan *nats.Msg                // session requests of every held session
	stop     chan struct{}
	wg       sync.WaitGroup
}

func newMQTTBridge(node *cluster.Node, logger *slog.Logger) *mqttBridge {
	return &mqttBridge{node: node, nc: node.Conn(), log: logger.With("component", "mqtt-cluster"),
		msgSubject: node.Subject("mqtt", "msg"), sessions: map[string]*nats.Subscription{},
		requests: make(chan *nats.Msg, 1024), stop: make(chan struct{})}
}

// start subscribes to the other nodes' messages, delivered to b, and serves
// session requests.
func (m *mqttBridge) start(b *broker.Broker) error {
	m.b = b
	sub, err := m.nc.Subscribe(m.msgSubject, m.onMessage)
	if err != nil {
		return fmt.Errorf("mqtt cluster: %w", err)
	}
	// Messages must not be dropped as a slow consumer's under bursts.
	if err := sub.SetPendingLimits(1<<20, 1<<30); err != nil {
		return fmt.Errorf("mqtt cluster: %w", err)
	}
	m.msgSub = sub
	// Retained messages: a node starting takes a copy from a running one
	// before its broker listens, and answers the next ones.
	m.loadRetained()
	if _, err := m.nc.Subscribe(m.node.Subject("mqtt", "retained"), m.serveRetained); err != nil {
		return fmt.Errorf("mqtt cluster: %w", err)
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		for {
			select {
			case <-m.stop:
				return
			case req := <-m.requests:
				// A hand-over waits for the connection it ends: one
				// goroutine each, so that takeovers do not queue.
				m.wg.Add(1)
				go func() {
					defer m.wg.Done()
					m.serveSession(req)
				}()
			}
		}
	}()
	return m.nc.Flush()
}

// close stops delivering and serving; the NATS connection is the node's.
func (m *mqttBridge) close() {
	if m.msgSub != nil {
		_ = m.msgSub.Unsubscribe()
	}
	m.mu.Lock()
	for id, s := range m.sessions {
		_ = s.Unsubscribe()
		delete(m.sessions, id)
	}
	m.mu.Unlock()
	close(m.stop)
	m.wg.Wait()
}

// Forward implements broker.Cluster.
func (m *mqttBridge) Forward(msg broker.OutgoingMessage) {
	data, err := encodeClusterMessage(msg)
	if err != nil {
		m.log.Warn("message not forwarded", "topic", msg.Topic, "err", err)
		return
	}
	if err := m.nc.Publish(m.msgSubject, data); err != nil {
		m.log.Warn("message not forwarded", "topic", msg.Topic, "err", err)
	}
}

func (m *mqttBridge) onMessage(msg *nats.Msg) {
	if m.b == nil {
		return
	}
	out, err := decodeClusterMessage(msg.Data)
	if err != nil {
		m.log.Warn("bad message from another node", "err", err)
		return
	}
	if err := m.b.Deliver(out); err != nil && !errors.Is(err, broker.ErrClosed) {
		m.log.Warn("message from another node not delivered", "topic", out.Topic, "err", err)
	}
}

// loadRetained copies the retained messages of a running node, if any.
func (m *mqttBridge) loadRetained() {
	ctx, cancel := context.WithTimeout(context.Background(), retainedWait)
	defer cancel()
	resp, err := m.nc.RequestWithContext(ctx, m.node.Subject("mqtt", "retained"), nil)
	if errors.Is(err, nats.ErrNoResponders) {
		return // the first node
	}
	if err != nil {
		m.log.Warn("retained messages of the other nodes not copied", "err", err)
		return
	}
	var all []broker.OutgoingMessage
	if err := json.Unmarshal(resp.Data, &all); err != nil {
		m.log.Warn("retained messages of the other nodes not copied", "err", err)
		return
	}
	for _, r := range all {
		r.Retain = true
		if err := m.b.Deliver(r); err != nil {
			m.log.Warn("retained message not copied", "topic", r.Topic, "err", err)
		}
	}
	m.log.Info("retained messages copied from another node", "messages", len(all))
}

// retainedWait bounds the wait for another node's retained messages.
const retainedWait = 5 * time.Second

// serveRetained answers a starting node with this node's retained messages.
func (m *mqttBridge) serveRetained(msg *nats.Msg) {
	all := m.b.RetainedMessages()
	out := make([]broker.OutgoingMessage, len(all))
	for i, r := range all {
		out[i] = broker.OutgoingMessage{Topic: r.Topic, Payload: r.Payload, QoS: r.QoS, Retain: true,
			UserProperties: r.UserProperties}
	}
	data, err := json.Marshal(out)
	if err != nil {
		return
	}
	if err := msg.Respond(data); err != nil {
		m.log.Warn("retained messages not sent to a starting node", "err", err)
	}
}

// sessionRequest asks for a client's session; sessionReply answers.
type sessionRequest struct {
	Node string `json:"node"`
	Keep bool   `json:"keep"`
}

type sessionReply struct {
	Held  bool                 `json:"held"`
	State *broker.SessionState `json:"state,omitempty"`
}

func (m *mqttBridge) sessionSubject(clientID string) string {
	return m.node.Subject("mqtt", "session", hex.EncodeToString([]byte(clientID)))
}

// TakeSession implements broker.Cluster.
func (m *mqttBridge) TakeSession(ctx context.Context, clientID string, keep bool) (*broker.SessionState, error) {
	req, err := json.Marshal(sessionRequest{Node: m.node.ID(), Keep: keep})
	if err != nil {
		return nil, err
	}
	resp, err := m.nc.RequestWithContext(ctx, m.sessionSubject(clientID), req)
	if errors.Is(err, nats.ErrNoResponders) {
		return nil, nil // no other node holds it
	}
	if err != nil {
		return nil, fmt.Errorf("take session of %q: %w", clientID, err)
	}
	var r sessionReply
	if err := json.Unmarshal(resp.Data, &r); err != nil {
		return nil, fmt.Errorf("take session of %q: %w", clientID, err)
	}
	return r.State, nil
}

// HoldSession implements broker.Cluster.
func (m *mqttBridge) HoldSession(clientID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.sessions[clientID]; ok {
		return
	}
	sub, err := m.nc.ChanSubscribe(m.sessionSubject(clientID), m.requests)
	if err != nil {
		m.log.Warn("session not announced to the cluster", "client", clientID, "err", err)
		return
	}
	m.sessions[clientID] = sub
}

// ReleaseSession implements broker.Cluster.
func (m *mqttBridge) ReleaseSession(clientID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if sub, ok := m.sessions[clientID]; ok {
		_ = sub.Unsubscribe()
		delete(m.sessions, clientID)
	}
}

// serveSession hands a held session over to the node that asks for it.
func (m *mqttBridge) serveSession(msg *nats.Msg) {
	var req sessionRequest
	if err := json.Unmarshal(msg.Data, &req); err != nil || m.b == nil {
		return
	}
	id, err := clientIDOfSubject(msg.Subject)
	if err != nil {
		return
	}
	st, held := m.b.HandOver(context.Background(), id, req.Keep)
	m.ReleaseSession(id)
	data, err := json.Marshal(sessionReply{Held: held, State: st})
	if err != nil {
		return
	}
	if err := msg.Respond(data); err != nil {
		m.log.Warn("session hand-over not answered", "client", id, "to", req.Node, "err", err)
		return
	}
	m.log.Info("session handed over to another node", "client", id, "to", req.Node, "held", held)
}

func clientIDOfSubject(subject string) (string, error) {
	i := len(subject) - 1
	for i >= 0 && subject[i] != '.' {
		i--
	}
	b, err := hex.DecodeString(subject[i+1:])
	return string(b), err
}

// A forwarded message on the wire: version byte, flags (QoS, retain,
// properties present), topic length (uvarint) and topic, then, with
// properties, their JSON's length (uvarint) and JSON, then the payload.
const clusterMessageVersion = 1

const (
	flagRetain = 1 << 2
	flagProps  = 1 << 3
)

// clusterProps are a message's MQTT 5 properties.
type clusterProps struct {
	ContentType     string                `json:"ct,omitempty"`
	ResponseTopic   string                `json:"rt,omitempty"`
	CorrelationData []byte                `json:"cd,omitempty"`
	MessageExpiry   uint32                `json:"me,omitempty"`
	PayloadFormat   *byte                 `json:"pf,omitempty"`
	UserProperties  []broker.UserProperty `json:"up,omitempty"`
}

func encodeClusterMessage(m broker.OutgoingMessage) ([]byte, error) {
	flags := m.QoS & 3
	if m.Retain {
		flags |= flagRetain
	}
	var props []byte
	if m.ContentType != "" || m.ResponseTopic != "" || len(m.CorrelationData) > 0 || m.MessageExpiry > 0 ||
		m.PayloadFormat != nil || len(m.UserProperties) > 0 {
		var err error
		props, err = json.Marshal(clusterProps{ContentType: m.ContentType, ResponseTopic: m.ResponseTopic,
			CorrelationData: m.CorrelationData, MessageExpiry: m.MessageExpiry, PayloadFormat: m.PayloadFormat,
			UserProperties: m.UserProperties})
		if err != nil {
			return nil, err
		}
		flags |= flagProps
	}
	buf := make([]byte, 0, 2+binary.MaxVarintLen64*2+len(m.Topic)+len(props)+len(m.Payload))
	buf = append(buf, clusterMessageVersion, flags)
	buf = binary.AppendUvarint(buf, uint64(len(m.Topic)))
	buf = append(buf, m.Topic...)
	if props != nil {
		buf = binary.AppendUvarint(buf, uint64(len(props)))
		buf = append(buf, props...)
	}
	return append(buf, m.Payload...), nil
}

var errBadClusterMessage = errors.New("malformed cluster message")

func decodeClusterMessage(data []byte) (broker.OutgoingMessage, error) {
	var m broker.OutgoingMessage
	if len(data) < 2 || data[0] != clusterMessageVersion {
		return m, errBadClusterMessage
	}
	flags := data[1]
	data = data[2:]
	n, k := binary.Uvarint(data)
	if k <= 0 || n > uint64(len(data)-k) {
		return m, errBadClusterMessage
	}
	m.Topic = string(data[k : k+int(n)])
	data = data[k+int(n):]
	m.QoS = flags & 3
	m.Retain = flags&flagRetain != 0
	if flags&flagProps != 0 {
		n, k := binary.Uvarint(data)
		if k <= 0 || n > uint64(len(data)-k) {
			return m, errBadClusterMessage
		}
		var p clusterProps
		if err := json.Unmarshal(data[k:k+int(n)], &p); err != nil {
			return m, fmt.Errorf("%w: %w", errBadClusterMessage, err)
		}
		m.ContentType, m.ResponseTopic, m.CorrelationData = p.ContentType, p.ResponseTopic, p.CorrelationData
		m.MessageExpiry, m.PayloadFormat, m.UserProperties = p.MessageExpiry, p.PayloadFormat, p.UserProperties
		data = data[k+int(n):]
	}
	m.Payload = data
	return m, nil
}
