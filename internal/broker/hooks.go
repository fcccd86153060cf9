package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// hooks is the broker's one mochi hook. Every decision about a device goes
// through it; doc.go maps the hook points to the AWS checks.
type hooks struct {
	mqtt.HookBase
	b *Broker
}

func (h *hooks) ID() string { return "iotdm-broker" }

func (h *hooks) Provides(b byte) bool {
	switch b {
	case mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnSessionEstablish, mqtt.OnSessionEstablished,
		mqtt.OnDisconnect, mqtt.OnClientExpired, mqtt.OnPacketRead, mqtt.OnPacketEncode, mqtt.OnACLCheck,
		mqtt.OnPublish, mqtt.OnPublished, mqtt.OnWillSent, mqtt.OnSubscribe, mqtt.OnSubscribed,
		mqtt.OnUnsubscribed, mqtt.OnPacketSent:
		return true
	}
	return false
}

// OnConnect authenticates a CONNECT: client id length, keep-alive bounds,
// then Access.Connect. mochi has validated the packet; the CONNACK refusing a
// client is written here because mochi's own refusal knows only "bad user
// name or password".
func (h *hooks) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	b := h.b
	if len(cl.ID) > b.limits.MaxClientIDLength {
		b.log.Info("connect refused", "client", truncate(cl.ID, 64), "remote", remote(cl), "reason", "client id too long")
		b.obs.MQTTConnectRefused(refusalReason(packets.ErrClientIdentifierNotValid))
		return refuseConnect(cl, packets.ErrClientIdentifierNotValid, packets.Err3ClientIdentifierNotValid)
	}
	b.clampKeepAlive(cl)

	info := ConnectInfo{
		ClientID:        cl.ID,
		Username:        string(pk.Connect.Username),
		Password:        append([]byte(nil), pk.Connect.Password...), // kept with the connection: a copy
		ProtocolVersion: pk.ProtocolVersion,
		CleanStart:      pk.Connect.Clean,
		Listener:        cl.Net.Listener,
	}
	if nc := cl.Net.Conn; nc != nil {
		info.Remote = nc.RemoteAddr()
		if s, ok := nc.(interface{ ConnectionState() tls.ConnectionState }); ok {
			st := s.ConnectionState()
			info.Certificates = st.PeerCertificates
			info.ServerName = st.ServerName
		}
	}
	ctx, cancel := context.WithTimeout(b.ctx, b.limits.ConnectTimeout)
	auth, err := b.access.Connect(ctx, info)
	cancel()
	if err == nil && auth == nil {
		err = errors.New("access returned no authorization")
	}
	if err != nil {
		v5, v3 := connectRefusal(err)
		level := slog.LevelInfo
		if v5 == packets.ErrUnspecifiedError {
			level = slog.LevelError
		}
		b.log.Log(ctx, level, "connect refused", "client", cl.ID, "remote", remote(cl), "error", err)
		b.obs.MQTTConnectRefused(refusalReason(v5))
		if v5 == packets.ErrNotAuthorized {
			b.obs.Denied(ActionConnect)
		}
		if v5 == packets.ErrNotAuthorized || v5 == packets.ErrBadUsernameOrPassword {
			b.refused(RefusalEvent{ClientID: cl.ID, Action: ActionConnect, Authentication: v5 == packets.ErrBadUsernameOrPassword,
				Details: err.Error()}, remote(cl))
		}
		return refuseConnect(cl, v5, v3)
	}

	c := newConn(cl, info, auth, uuid.NewString(), b.versions.next())
	b.checkWill(c)
	b.conns.put(c)
	return nil
}

// refuseConnect writes a refusing CONNACK and returns the error that makes
// mochi close the connection.
func refuseConnect(cl *mqtt.Client, v5, v3 packets.Code) error {
	ack := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connack}}
	if cl.Properties.ProtocolVersion == 5 {
		ack.ReasonCode = v5.Code
		ack.Properties.ReasonString = v5.Reason
	} else {
		ack.ReasonCode = v3.Code
	}
	_ = cl.WritePacket(ack)
	return v5
}

// OnConnectAuthenticate accepts the clients OnConnect accepted.
func (h *hooks) OnConnectAuthenticate(cl *mqtt.Client, _ packets.Packet) bool {
	return h.b.conns.get(cl) != nil
}

// OnSessionEstablish runs before mochi hands an existing session over to the
// new connection: the queued messages the new connection may not receive
// are dropped, so that a revocation also bites messages queued offline.
func (h *hooks) OnSessionEstablish(cl *mqtt.Client, pk packets.Packet) {
	b := h.b
	c := b.conns.get(cl)
	if c == nil {
		return
	}
	b.takeRemoteSession(cl, pk)
	existing, ok := b.server.Clients.Get(cl.ID)
	if !ok || existing == cl {
		return
	}
	c.prev = b.conns.get(existing)
	if c.prev != nil {
		// mochi is about to end the old connection; name the reason now,
		// before the old client's own reaction to the DISCONNECT can.
		c.prev.setReason(ReasonDuplicateClientID)
	}
	if pk.Connect.Clean {
		return
	}
	auth := c.authorization()
	for _, m := range existing.State.Inflight.GetAll(false) {
		if m.FixedHeader.Type != packets.Publish || auth.Allowed(ActionReceive, TopicResource(m.TopicName)) {
			continue
		}
		if existing.State.Inflight.Delete(m.PacketID) {
			atomic.AddInt64(&b.server.Info.Inflight, -1)
			b.log.Debug("queued message dropped", "client", cl.ID, "principal", auth.Principal(),
				"action", ActionReceive, "resource", TopicResource(m.TopicName))
		}
	}
}

// OnSessionEstablished runs after the CONNACK: the connection is up.
func (h *hooks) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	b := h.b
	c := b.conns.get(cl)
	if c == nil {
		return
	}
	c.mu.Lock()
	c.established = true
	c.mu.Unlock()
	if p := c.prev; p != nil {
		c.prev = nil
		p.mu.Lock()
		p.takenOver = true
		gone := p.offline
		p.mu.Unlock()
		if gone {
			b.conns.remove(p)
		}
	}
	b.obs.MQTTConnected()
	b.sessionHeld(cl)
	auth := c.authorization()
	b.log.Info("client connected", "client", cl.ID, "principal", auth.Principal(), "remote", c.ip,
		"listener", c.info.Listener, "version", c.info.ProtocolVersion, "session_present", c.sessionPresent)
	if f := b.opts.OnConnect; f != nil {
		f(ConnectEvent{
			Session:        c.session(auth),
			CleanStart:     c.info.CleanStart,
			SessionPresent: c.sessionPresent,
			Time:           time.Now(),
			Authorization:  auth,
		})
	}
}

// OnDisconnect runs when an accepted connection ends.
func (h *hooks) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
	b := h.b
	c := b.conns.get(cl)
	if c == nil {
		return
	}
	reason := c.disconnectReason(err)
	c.mu.Lock()
	established := c.established
	c.offline = true
	remove := expire || c.takenOver
	c.mu.Unlock()
	if remove {
		b.conns.remove(c)
	}
	if !established {
		return
	}
	if expire {
		b.sessionGone(cl)
	}
	b.obs.MQTTDisconnected(string(reason))
	auth := c.authorization()
	b.log.Info("client disconnected", "client", cl.ID, "principal", auth.Principal(), "remote", c.ip,
		"reason", string(reason), "error", err)
	if f := b.opts.OnDisconnect; f != nil {
		f(DisconnectEvent{
			Session:         c.session(auth),
			Reason:          reason,
			ClientInitiated: reason == ReasonClientInitiated,
			SessionEnded:    expire,
			Time:            time.Now(),
			Err:             err,
		})
	}
}

// disconnectReason names why the connection ended: the reason the broker
// recorded when it ended the connection itself, else mochi's stop cause.
func (c *conn) disconnectReason(err error) DisconnectReason {
	if r := c.reason.Load(); r != nil {
		return *r
	}
	cause := c.client.StopCause()
	if cause == nil {
		cause = err
	}
	var code packets.Code
	var ne net.Error
	switch {
	case cause == nil,
		errors.Is(cause, packets.CodeDisconnect),
		errors.Is(cause, packets.CodeDisconnectWillMessage):
		return ReasonClientInitiated
	case errors.Is(cause, packets.ErrSessionTakenOver):
		return ReasonDuplicateClientID
	case errors.Is(cause, packets.ErrServerShuttingDown):
		return ReasonServerInitiated
	case errors.Is(cause, os.ErrDeadlineExceeded), errors.As(cause, &ne) && ne.Timeout():
		return ReasonKeepAliveTimeout
	case errors.As(cause, &code):
		return ReasonClientError
	}
	return ReasonConnectionLost
}

// OnClientExpired forgets a persistent session that expired.
func (h *hooks) OnClientExpired(cl *mqtt.Client) {
	if c := h.b.conns.get(cl); c != nil {
		h.b.conns.remove(c)
	}
	h.b.sessionGone(cl)
}

// OnPacketRead sees every packet as it is decoded, before mochi processes
// it. It enforces the payload limit and QoS 1 for every client, and decides
// 3.1.1 PUBLISH packets: AWS closes the connection of a 3.1.1 client that
// publishes where it may not, and returning ErrRejectPacket here makes mochi
// close it as it closes a broken connection (the will is sent).
func (h *hooks) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Type != packets.Publish {
		return pk, nil
	}
	b := h.b
	c := b.conns.get(cl)
	if c == nil {
		return pk, packets.ErrRejectPacket
	}
	v5 := cl.Properties.ProtocolVersion == 5
	switch {
	case pk.FixedHeader.Qos > 1:
		// AWS IoT does not support QoS 2.
		b.log.Info("publish refused", "client", cl.ID, "topic", pk.TopicName, "reason", "qos 2 not supported")
		b.endNow(c, ReasonClientError, packets.ErrQosNotSupported)
		return pk, packets.ErrRejectPacket
	case len(pk.Payload) > b.limits.MaxPayload:
		b.log.Info("publish refused", "client", cl.ID, "topic", pk.TopicName, "reason", "payload too large",
			"size", len(pk.Payload), "max", b.limits.MaxPayload)
		b.endNow(c, ReasonClientError, packets.ErrPacketTooLarge)
		return pk, packets.ErrRejectPacket
	case v5:
		return pk, nil // decided in OnPublish, which can answer with a PUBACK reason code
	}
	if code := b.checkPublish(c, pk); code != packets.CodeSuccess {
		reason := ReasonAuthError
		if code != packets.ErrNotAuthorized {
			reason = ReasonClientError
		}
		c.setReason(reason)
		return pk, packets.ErrRejectPacket
	}
	return pk, nil
}

// OnPublish decides MQTT 5 PUBLISH packets: refused QoS 1 packets get a
// PUBACK with the reason code (0x87 not authorized, 0x90 topic name
// invalid), refused QoS 0 packets are dropped.
func (h *hooks) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline || cl.Properties.ProtocolVersion != 5 {
		return pk, nil
	}
	c := h.b.conns.get(cl)
	if c == nil {
		return pk, packets.ErrRejectPacket
	}
	code := h.b.checkPublish(c, pk)
	switch {
	case code == packets.CodeSuccess:
		return pk, nil
	case pk.FixedHeader.Qos == 0:
		return pk, packets.ErrRejectPacket
	}
	return pk, code
}

// checkPublish decides a PUBLISH from a device: topic limits, reserved
// topics, iot:Publish and, for a retained message, iot:RetainPublish.
func (b *Broker) checkPublish(c *conn, pk packets.Packet) packets.Code {
	topic := pk.TopicName
	if err := b.limits.checkTopic(topic); err != nil {
		b.log.Info("publish refused", "client", c.info.ClientID, "topic", truncate(topic, 300), "reason", err.Error())
		return packets.ErrTopicNameInvalid
	}
	res := TopicResource(topic)
	auth := c.authorization()
	action := ""
	switch {
	case reservedForPublish(topic) || !auth.Allowed(ActionPublish, res):
		action = ActionPublish
	case pk.FixedHeader.Retain && !auth.Allowed(ActionRetainPublish, res):
		action = ActionRetainPublish
	default:
		return packets.CodeSuccess
	}
	b.log.Info("publish refused", "client", c.info.ClientID, "principal", auth.Principal(),
		"action", action, "resource", res)
	b.obs.Denied(action)
	b.refused(RefusalEvent{ClientID: c.info.ClientID, CertificateID: c.authorization().CertificateID(), Action: action,
		Resource: pk.TopicName, Details: "Authorization Failure"}, remote(c.client))
	return packets.ErrNotAuthorized
}

// OnPublished hands a device's message to the server-side handlers.
func (h *hooks) OnPublished(cl *mqtt.Client, pk packets.Packet) {
	if cl.Net.Inline || pk.Ignore {
		return
	}
	h.b.obs.MessageIn(pk.FixedHeader.Qos, len(pk.Payload))
	h.b.dispatch(cl, pk, false)
	if cluster := h.b.opts.Cluster; cluster != nil {
		cluster.Forward(outgoingOf(pk))
	}
}

// OnPacketSent counts the PUBLISH packets written to devices.
func (h *hooks) OnPacketSent(_ *mqtt.Client, pk packets.Packet, _ []byte) {
	if pk.FixedHeader.Type == packets.Publish {
		h.b.obs.MessageOut(pk.FixedHeader.Qos, len(pk.Payload))
	}
}

// OnWillSent hands a client's will to the server-side handlers.
func (h *hooks) OnWillSent(cl *mqtt.Client, pk packets.Packet) {
	h.b.dispatch(cl, pk, true)
	if cluster := h.b.opts.Cluster; cluster != nil {
		cluster.Forward(outgoingOf(pk))
	}
}

// OnACLCheck is mochi's authorization point. write=true is a PUBLISH, decided
// already (OnPacketRead, OnPublish). write=false is either the subscribe
// check of a filter in a SUBSCRIBE being processed, or the delivery of a
// message to the client: the filters granted in OnSubscribe are recognized by
// identity (see grantedFilters), everything else is a delivery and needs
// iot:Receive on the topic.
func (h *hooks) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if write {
		return true
	}
	c := h.b.conns.get(cl)
	if c == nil {
		return false
	}
	if g := c.subscribing.Load(); g != nil && g.has(topic) {
		return true
	}
	auth := c.authorization()
	if auth.Allowed(ActionReceive, TopicResource(topic)) {
		return true
	}
	h.b.log.Debug("delivery refused", "client", cl.ID, "principal", auth.Principal(),
		"action", ActionReceive, "resource", TopicResource(topic))
	h.b.obs.Denied(ActionReceive)
	return false
}

// OnSubscribe decides every filter of a SUBSCRIBE: iot:Subscribe on
// topicfilter/<filter>, the topic limits, the filters-per-SUBSCRIBE and
// subscriptions-per-session quotas. A refused filter is replaced by the
// empty filter, which mochi refuses as invalid without subscribing; OnSubscribed
// and OnPacketEncode then put the right reason code into the SUBACK. A
// granted filter is replaced by a private copy that OnACLCheck recognizes.
func (h *hooks) OnSubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	b := h.b
	if cl.Net.Inline {
		return pk
	}
	c := b.conns.get(cl)
	granted := grantedFilters{}
	rewrites := map[int]byte{}
	count := cl.State.Subscriptions.Len()
	seen := map[string]bool{}
	var auth Authorization
	if c != nil {
		auth = c.authorization()
	}
	filters := make(packets.Subscriptions, len(pk.Filters))
	copy(filters, pk.Filters)
	for i := range filters {
		f := filters[i].Filter
		code := packets.CodeSuccess
		action, why := "", ""
		switch {
		case c == nil:
			code = packets.ErrNotAuthorized
		case !mqtt.IsValidFilter(f, false):
			continue // mochi refuses it (0x8F)
		case i >= b.limits.MaxFiltersPerSubscribe:
			code, why = packets.ErrQuotaExceeded, "too many filters in one SUBSCRIBE"
		case b.limits.checkTopic(f) != nil:
			code, why = packets.ErrTopicFilterInvalid, "topic filter over the length or depth limit"
		case reservedForSubscribe(f) || !auth.Allowed(ActionSubscribe, FilterResource(f)):
			code, action = packets.ErrNotAuthorized, ActionSubscribe
		default:
			if _, ok := cl.State.Subscriptions.Get(f); !ok && !seen[f] {
				if count >= b.limits.MaxSubscriptions {
					code, why = packets.ErrQuotaExceeded, "too many subscriptions"
					break
				}
				count++
				seen[f] = true
			}
		}
		if code == packets.CodeSuccess {
			filters[i].Filter = granted.add(f)
			continue
		}
		if c != nil {
			if action != "" {
				b.obs.Denied(action)
				b.refused(RefusalEvent{ClientID: cl.ID, CertificateID: c.authorization().CertificateID(), Action: action, Resource: f,
					Details: "Authorization Failure"}, remote(cl))
				b.log.Info("subscribe refused", "client", cl.ID, "principal", auth.Principal(),
					"action", action, "resource", FilterResource(f))
			} else {
				b.log.Info("subscribe refused", "client", cl.ID, "filter", truncate(f, 300), "reason", why)
			}
		}
		filters[i].Filter = ""
		rewrites[i] = code.Code
	}
	pk.Filters = filters
	if c != nil {
		c.suback = subackRewrites{packetID: pk.PacketID, codes: rewrites}
		c.subscribing.Store(&granted)
	}
	return pk
}

// OnSubscribed ends the SUBSCRIBE: the granted filters are subscribed, and
// the lifecycle callback learns them.
func (h *hooks) OnSubscribed(cl *mqtt.Client, pk packets.Packet, codes []byte) {
	b := h.b
	c := b.conns.get(cl)
	if c == nil {
		return
	}
	c.subscribing.Store(nil)
	var filters []string
	for i, s := range pk.Filters {
		if i < len(codes) && codes[i] < 0x80 {
			filters = append(filters, s.Filter)
		}
	}
	if len(filters) > 0 && b.opts.OnSubscribe != nil {
		b.opts.OnSubscribe(c.subscriptionEvent(filters))
	}
}

// OnUnsubscribed reports an UNSUBSCRIBE from the client; mochi also calls it
// when it drops a session's subscriptions, which is no lifecycle event.
func (h *hooks) OnUnsubscribed(cl *mqtt.Client, pk packets.Packet) {
	b := h.b
	if pk.PacketID == 0 || b.opts.OnUnsubscribe == nil {
		return
	}
	c := b.conns.get(cl)
	if c == nil {
		return
	}
	filters := make([]string, len(pk.Filters))
	for i, s := range pk.Filters {
		filters[i] = s.Filter
	}
	b.opts.OnUnsubscribe(c.subscriptionEvent(filters))
}

func (c *conn) subscriptionEvent(filters []string) SubscriptionEvent {
	return SubscriptionEvent{Session: c.session(c.authorization()), Filters: filters, Time: time.Now()}
}

// session is the connection's identity for the lifecycle events.
func (c *conn) session(auth Authorization) Session {
	return Session{
		ClientID:        c.info.ClientID,
		Principal:       auth.Principal(),
		CertificateID:   auth.CertificateID(),
		SessionID:       c.sessionID,
		IPAddress:       c.ip,
		ProtocolVersion: c.info.ProtocolVersion,
		VersionNumber:   c.version,
	}
}

// OnPacketEncode sees every packet the broker writes. It puts the broker's
// reason codes into a SUBACK (MQTT 5; 3.1.1 knows only 0x80 for every
// refusal) and notes whether a CONNACK reported a session present.
func (h *hooks) OnPacketEncode(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	switch pk.FixedHeader.Type {
	case packets.Suback:
		c := h.b.conns.get(cl)
		if c == nil || c.suback.packetID != pk.PacketID || len(c.suback.codes) == 0 {
			return pk
		}
		if cl.Properties.ProtocolVersion == 5 {
			codes := append([]byte(nil), pk.ReasonCodes...)
			for i, code := range c.suback.codes {
				if i < len(codes) && codes[i] == packets.ErrTopicFilterInvalid.Code {
					codes[i] = code
				}
			}
			pk.ReasonCodes = codes
		}
		c.suback = subackRewrites{}
	case packets.Connack:
		if c := h.b.conns.get(cl); c != nil && pk.ReasonCode == packets.CodeSuccess.Code {
			c.sessionPresent = pk.SessionPresent
		}
	}
	return pk
}

// refused reports a refusal to Options.OnRefused, with the address split
// into IP and port.
func (b *Broker) refused(e RefusalEvent, addr string) {
	if b.opts.OnRefused == nil {
		return
	}
	e.IPAddress = addr
	if host, port, err := net.SplitHostPort(addr); err == nil {
		e.IPAddress = host
		e.Port, _ = strconv.Atoi(port)
	}
	e.Time = time.Now()
	b.opts.OnRefused(e)
}
