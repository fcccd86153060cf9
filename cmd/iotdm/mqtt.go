package main

import (
	"cmp"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/broker"
	"github.com/iotdm/iotdm/internal/control"
)

// The MQTT side of the server: the broker devices connect to, the device
// access that authenticates them (control.DeviceAccess) and its follower,
// which keeps their sessions in step with the store's change feed.

// mqttRuntime is the server's MQTT state besides the broker itself.
type mqttRuntime struct {
	devices *control.DeviceAccess
	// shadows serve the shadow topics and the iot-data REST API alike, so
	// that an update from either reaches subscribed devices.
	shadows *control.Shadows
	// connectivity records connects and disconnects and publishes the
	// lifecycle events; its queue runs until stopConnectivity.
	connectivity     *control.Connectivity
	stopConnectivity context.CancelFunc
	connectivityDone chan struct{}
	unsubscribe      func()   // the shadow topics' handler
	unsubscribeMore  []func() // the fleet provisioning topics' handlers
	// The follower runs in a goroutine the server owns: stopped by stop,
	// waited for (done) before the store closes.
	stop context.CancelFunc
	done chan struct{}
	// The registry events (AWS §7.2) follow the change feed in a goroutine
	// the server owns, like the follower.
	stopEvents context.CancelFunc
	eventsDone chan struct{}
	// jobs is AWS IoT Jobs: its device side answers on the jobs topics,
	// its loops follow the store and the clock until stopJobs.
	jobs     *control.Jobs
	stopJobs context.CancelFunc
	jobsDone sync.WaitGroup
}

// startBroker builds the device access and the broker, starts the follower
// and binds the MQTT listeners.
func (s *server) startBroker(ctx context.Context) error {
	log := s.log.With("component", "mqtt")
	hosts := brokerHosts(s.cfg)
	cert, err := s.ca.ServerCertificate(hosts)
	if err != nil {
		return fmt.Errorf("mqtt: %w", err)
	}
	pols := control.NewPolicies(s.store, control.PoliciesOptions{Region: s.cfg.Region, AccountID: s.cfg.AccountID, Logger: s.log})
	devices := control.NewDeviceAccess(s.store, s.ca, pols, control.DeviceAccessOptions{
		Region: s.cfg.Region, AccountID: s.cfg.AccountID, Logger: s.log,
	})
	conn := control.NewConnectivity(s.store, control.ConnectivityOptions{Node: s.nodeID(), Logger: s.log})
	// Fleet provisioning by claim and just-in-time provisioning.
	prov := control.NewFleetProvisioning(s.store, s.ca, control.ProvisioningOptions{Region: s.cfg.Region,
		AccountID: s.cfg.AccountID, Logger: s.log})
	iotLog := s.monitor.iotLog
	var bridge broker.Cluster
	if s.cluster != nil {
		bridge = s.cluster.bridge
	}
	b, err := broker.New(broker.Options{
		Cluster:       bridge,
		Addr:          s.cfg.MQTTAddr,
		TLS:           &tls.Config{Certificates: []tls.Certificate{cert}},
		PlainAddr:     s.cfg.MQTTPlainAddr,
		WebSocketAddr: s.cfg.MQTTWebSocketAddr,
		Access:        &mqttAccess{devices: devices, admin: s.key, prov: prov, log: log},
		Logger:        s.log,
		Limits:        brokerLimits(s.cfg),
		Observer:      s.metrics,
		// Lifecycle events and connectivity: queued, never blocking the
		// broker.
		// The AWS IoT logger (v2 logging) returns at once while logging is
		// off.
		OnConnect: func(e broker.ConnectEvent) {
			conn.EnqueueConnected(control.ConnectInfo{SessionInfo: sessionInfo(e.Session), Time: e.Time})
			iotLog.Connect(logClient(e.Session), "", "")
		},
		OnDisconnect: func(e broker.DisconnectEvent) {
			conn.EnqueueDisconnected(control.DisconnectInfo{SessionInfo: sessionInfo(e.Session), Reason: string(e.Reason),
				ClientInitiated: e.ClientInitiated, Time: e.Time})
			iotLog.Disconnect(logClient(e.Session), string(e.Reason), "")
		},
		OnRefused: func(e broker.RefusalEvent) {
			c := control.IoTLogClient{ClientID: e.ClientID, PrincipalID: e.CertificateID, SourceIP: e.IPAddress,
				SourcePort: e.Port, Protocol: "MQTT"}
			reason := control.IoTReasonAuthorizationFailure
			if e.Authentication {
				reason = control.IoTReasonAuthenticationFailure
			}
			switch e.Action {
			case broker.ActionConnect:
				iotLog.Connect(c, reason, e.Details)
			case broker.ActionSubscribe:
				iotLog.Subscribe(c, e.Resource, reason, e.Details)
			default:
				iotLog.PublishIn(c, e.Resource, reason, e.Details)
			}
		},
		OnSubscribe: func(e broker.SubscriptionEvent) {
			conn.EnqueueSubscribed(control.SubscriptionInfo{SessionInfo: sessionInfo(e.Session), Topics: e.Filters, Time: e.Time})
		},
		OnUnsubscribe: func(e broker.SubscriptionEvent) {
			conn.EnqueueUnsubscribed(control.SubscriptionInfo{SessionInfo: sessionInfo(e.Session), Topics: e.Filters, Time: e.Time})
		},
	})
	if err != nil {
		return fmt.Errorf("mqtt: %w", err)
	}
	s.broker = b
	if s.cluster != nil {
		if err := s.cluster.bridge.start(b); err != nil {
			return err
		}
	}
	s.mqtt.devices = devices
	s.mqtt.connectivity = conn
	conn.SetPublisher(b)
	cctx, cstop := context.WithCancel(context.WithoutCancel(ctx))
	s.mqtt.stopConnectivity = cstop
	s.mqtt.connectivityDone = make(chan struct{})
	go func() {
		defer close(s.mqtt.connectivityDone)
		if err := conn.Run(cctx); err != nil && cctx.Err() == nil {
			log.Error("connectivity and lifecycle events stopped", "err", err)
		}
	}()

	// Device shadows over MQTT: the same service as the REST API.
	shadows := control.NewShadows(s.store, control.ShadowsOptions{Logger: s.log})
	shadows.SetPublisher(b)
	shadows.SetRejectionHook(func(r control.ShadowRejection) {
		event := map[string]string{"get": control.IoTEventGetThingShadow, "update": control.IoTEventUpdateThingShadow,
			"delete": control.IoTEventDeleteThingShadow}[r.Op]
		iotLog.Shadow(event, control.IoTLogClient{ClientID: r.ClientID, Protocol: "MQTT"}, r.Thing, r.Topic,
			strconv.Itoa(r.Status), r.Message)
	})
	s.mqtt.shadows = shadows
	sctx := context.WithoutCancel(ctx)
	s.mqtt.unsubscribe, err = b.Subscribe(control.ShadowTopicFilter, func(m broker.Message) {
		if m.Will {
			return
		}
		if err := shadows.HandleMQTT(sctx, m.Topic, m.Payload, m.ClientID); err != nil {
			log.Warn("shadow request over MQTT", "topic", m.Topic, "clientId", m.ClientID, "err", err)
		}
	})
	if err != nil {
		return fmt.Errorf("mqtt: %w", err)
	}
	prov.SetPublisher(b)
	for _, filter := range control.ProvisioningTopicFilters {
		unsub, err := b.Subscribe(filter, func(m broker.Message) {
			if m.Will {
				return
			}
			principal := ""
			if m.Authorization != nil {
				principal = m.Authorization.Principal()
			}
			if err := prov.HandleMQTT(sctx, m.Topic, m.Payload, m.ClientID, principal); err != nil {
				log.Warn("fleet provisioning request over MQTT", "topic", m.Topic, "clientId", m.ClientID, "err", err)
			}
		})
		if err != nil {
			return fmt.Errorf("mqtt: %w", err)
		}
		s.mqtt.unsubscribeMore = append(s.mqtt.unsubscribeMore, unsub)
	}

	// The follower starts before the broker listens, from the last change
	// before any session exists.
	from, err := s.store.LastSeq(ctx)
	if err != nil {
		return fmt.Errorf("mqtt: %w", err)
	}
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.mqtt.stop = cancel
	s.mqtt.done = make(chan struct{})
	go func() {
		defer close(s.mqtt.done)
		err := devices.Follow(fctx, from, brokerSink{b: b, log: log})
		if err != nil && fctx.Err() == nil {
			log.Error("device sessions no longer follow the store", "err", err)
		}
	}()

	// Registry events, from the same seq: the changes the broker can see.
	// Dynamic group memberships come from the fleet index's feeder, which
	// was started before the broker.
	events := control.NewRegistryEvents(s.store, control.RegistryEventsOptions{
		Region: s.cfg.Region, AccountID: s.cfg.AccountID, Logger: s.log,
	})
	// Every node derives the registry events from the shared feed and
	// publishes them to its own clients only.
	events.SetPublisher(localPublisher{b})
	ectx, estop := context.WithCancel(context.WithoutCancel(ctx))
	s.mqtt.stopEvents = estop
	s.mqtt.eventsDone = make(chan struct{})
	go func() {
		defer close(s.mqtt.eventsDone)
		if err := events.Run(ectx, from); err != nil && ectx.Err() == nil {
			log.Error("registry events stopped", "err", err)
		}
	}()
	// Jobs: continuous jobs follow group membership, static from the
	// change feed (from the same seq), dynamic through the feeder's hook.
	var dynamic control.DynamicMembership
	if s.feeder != nil {
		dynamic = s.feeder
	}
	jobs := control.NewJobs(s.store, control.JobsOptions{Region: s.cfg.Region, AccountID: s.cfg.AccountID,
		Dynamic: dynamic, Logger: s.log})
	jobs.SetPublisher(b)
	s.mqtt.jobs = jobs
	unsubJobs, err := b.Subscribe(control.JobsTopicFilter, func(m broker.Message) {
		if m.Will {
			return
		}
		if err := jobs.HandleMQTT(sctx, m.Topic, m.Payload, m.ClientID); err != nil {
			log.Warn("jobs request over MQTT", "topic", m.Topic, "clientId", m.ClientID, "err", err)
		}
	})
	if err != nil {
		return fmt.Errorf("mqtt: %w", err)
	}
	s.mqtt.unsubscribeMore = append(s.mqtt.unsubscribeMore, unsubJobs)
	jctx, jstop := context.WithCancel(context.WithoutCancel(ctx))
	s.mqtt.stopJobs = jstop
	// Rollouts, timeouts and continuous jobs are the leader's work in a
	// cluster; a new leader follows the feed from where it takes over
	// (Run reconciles continuous jobs first).
	loops := map[string]func(context.Context) error{
		"jobs": func(ctx context.Context) error {
			return s.lead(ctx, func(ctx context.Context) error {
				f := from
				if s.cluster != nil {
					var err error
					if f, err = s.store.LastSeq(ctx); err != nil {
						return err
					}
				}
				return jobs.Run(ctx, f)
			})
		},
		"jobs ticker": func(ctx context.Context) error {
			return s.lead(ctx, func(ctx context.Context) error { return jobs.RunTicker(ctx, time.Second) })
		},
	}
	for name, run := range loops {
		s.mqtt.jobsDone.Add(1)
		go func() {
			defer s.mqtt.jobsDone.Done()
			if err := run(jctx); err != nil && jctx.Err() == nil {
				log.Error(name+" stopped", "err", err)
			}
		}()
	}
	if s.feeder != nil {
		s.feeder.SetMembershipHook(func(group, thing string, added bool) {
			events.EnqueueDynamicMembership(group, thing, added)
			if s.leading() {
				jobs.OnMembership(group, thing, added)
			}
		})
	}

	if err := b.Start(ctx); err != nil {
		return fmt.Errorf("mqtt: %w", err)
	}
	log.Info("MQTT broker ready", "mqtts", b.Addr(), "wss", b.WebSocketAddr(), "plain", b.PlainAddr(), "serverCertificateHosts", hosts)
	return nil
}

// stopBroker disconnects every device (gracefully until ctx ends) and stops
// the follower.
func (s *server) stopBroker(ctx context.Context) error {
	var err error
	if s.mqtt.unsubscribe != nil {
		s.mqtt.unsubscribe()
	}
	for _, unsub := range s.mqtt.unsubscribeMore {
		unsub()
	}
	if s.mqtt.eventsDone != nil {
		// Registry events stop first: nothing to publish them to after.
		if s.feeder != nil {
			s.feeder.SetMembershipHook(nil)
		}
		s.mqtt.stopEvents()
		<-s.mqtt.eventsDone
	}
	if s.mqtt.stopJobs != nil {
		s.mqtt.stopJobs()
		s.mqtt.jobsDone.Wait()
	}
	if s.broker != nil {
		if cerr := s.broker.Close(ctx); cerr != nil {
			err = fmt.Errorf("close mqtt broker: %w", cerr)
		}
	}
	if s.mqtt.connectivityDone != nil {
		// The last disconnects are recorded before the store closes.
		if ferr := s.mqtt.connectivity.Flush(ctx); ferr != nil && err == nil {
			err = fmt.Errorf("record the last disconnects: %w", ferr)
		}
		s.mqtt.stopConnectivity()
		<-s.mqtt.connectivityDone
	}
	if s.mqtt.done != nil {
		s.mqtt.stop()
		<-s.mqtt.done
	}
	return err
}

// brokerLimits are AWS's defaults with the configured limits.
func brokerLimits(cfg Config) broker.Limits {
	l := broker.DefaultLimits()
	l.MaxPayload = cmp.Or(cfg.MQTTMaxPayload, l.MaxPayload)
	l.MaxTopicSlashes = cmp.Or(cfg.MQTTMaxTopicSlashes, l.MaxTopicSlashes)
	l.MaxSubscriptions = cmp.Or(cfg.MQTTMaxSubscriptions, l.MaxSubscriptions)
	return l
}

// sessionInfo is the lifecycle events' view of a broker session.
func sessionInfo(s broker.Session) control.SessionInfo {
	return control.SessionInfo{ClientID: s.ClientID, Principal: s.Principal, CertificateID: s.CertificateID,
		SessionID: s.SessionID, IPAddress: s.IPAddress, VersionNumber: s.VersionNumber}
}

// logClient is the AWS IoT log view of a session.
func logClient(s broker.Session) control.IoTLogClient {
	return control.IoTLogClient{ClientID: s.ClientID, PrincipalID: s.CertificateID, SourceIP: s.IPAddress, Protocol: "MQTT"}
}

// localPublisher publishes to this node's clients only (broker
// OutgoingMessage.Local): for what every node of a cluster derives itself.
type localPublisher struct{ b *broker.Broker }

func (p localPublisher) Publish(ctx context.Context, topic string, payload []byte, qos byte, retain bool) error {
	return p.b.PublishMessage(ctx, broker.OutgoingMessage{Topic: topic, Payload: payload, QoS: qos, Retain: retain, Local: true})
}

// messageBus is the iot-data messaging service's view of the broker.
type messageBus struct{ b *broker.Broker }

func (m messageBus) Publish(ctx context.Context, msg control.BusMessage) error {
	out := broker.OutgoingMessage{Topic: msg.Topic, Payload: msg.Payload, QoS: msg.QoS, Retain: msg.Retain,
		ContentType: msg.ContentType, ResponseTopic: msg.ResponseTopic, CorrelationData: msg.CorrelationData,
		MessageExpiry: msg.MessageExpiry, PayloadFormat: msg.PayloadFormat}
	for _, kv := range msg.UserProperties {
		out.UserProperties = append(out.UserProperties, broker.UserProperty{Key: kv[0], Value: kv[1]})
	}
	return m.b.PublishMessage(ctx, out)
}

func (m messageBus) Retained(topic string) (control.RetainedBusMessage, bool) {
	r, ok := m.b.Retained(topic)
	return retainedBusMessage(r), ok
}

func (m messageBus) RetainedMessages() []control.RetainedBusMessage {
	all := m.b.RetainedMessages()
	out := make([]control.RetainedBusMessage, len(all))
	for i, r := range all {
		out[i] = retainedBusMessage(r)
	}
	return out
}

func retainedBusMessage(r broker.RetainedMessage) control.RetainedBusMessage {
	out := control.RetainedBusMessage{Topic: r.Topic, Payload: r.Payload, QoS: r.QoS, Modified: r.Modified}
	for _, u := range r.UserProperties {
		out.UserProperties = append(out.UserProperties, [2]string{u.Key, u.Value})
	}
	return out
}

// brokerHosts are the names the broker's server certificate covers: the
// configured ones, and the host of each MQTT listen address when it names
// one (not an unspecified address).
func brokerHosts(cfg Config) []string {
	hosts := slices.Clone(cfg.MQTTHosts)
	for _, addr := range []string{cfg.MQTTAddr, cfg.MQTTWebSocketAddr} {
		host, _, err := net.SplitHostPort(addr)
		if err != nil || host == "" {
			continue
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			continue
		}
		if !slices.Contains(hosts, host) {
			hosts = append(hosts, host)
		}
	}
	return hosts
}

// mqttAccess is the broker's Access: devices on the TLS listeners by their
// certificate (control.DeviceAccess); clients of the plain listener, which
// have none, only with the admin key as user name and password.
type mqttAccess struct {
	devices *control.DeviceAccess
	admin   AccessKey
	// prov provisions certificates of CAs with just-in-time provisioning
	// on their first connection.
	prov *control.FleetProvisioning
	log  *slog.Logger
}

func (a *mqttAccess) Connect(ctx context.Context, info broker.ConnectInfo) (broker.Authorization, error) {
	if len(info.Certificates) == 0 {
		if a.isAdmin(info.Username, info.Password) {
			return adminSession{principal: a.admin.ID}, nil
		}
		return nil, broker.ErrBadCredentials
	}
	s, err := a.devices.Authenticate(ctx, info.Certificates, info.ClientID, sourceIP(info.Remote))
	if err != nil && a.prov != nil && (iotdm.IsCode(err, iotdm.ErrUnrecognizedClient) || iotdm.IsCode(err, iotdm.ErrCertificateState)) {
		// Just-in-time provisioning: AWS refuses this first connection and
		// lets the device's retry in; iotdm provisions inside the CONNECT
		// and lets the first one in (docs/provisioning.md).
		outcome, jerr := a.prov.JITP(ctx, info.Certificates)
		if jerr != nil {
			a.log.Warn("just-in-time provisioning", "clientId", info.ClientID, "err", jerr)
		}
		if outcome == control.JITPProvisioned {
			s, err = a.devices.Authenticate(ctx, info.Certificates, info.ClientID, sourceIP(info.Remote))
		}
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (a *mqttAccess) isAdmin(username string, password []byte) bool {
	id := subtle.ConstantTimeCompare([]byte(username), []byte(a.admin.ID))
	secret := subtle.ConstantTimeCompare(password, []byte(a.admin.Secret))
	return id&secret == 1
}

// sourceIP is the IP address of a remote address, without the port.
func sourceIP(addr net.Addr) string {
	if addr == nil {
		return ""
	}
	if host, _, err := net.SplitHostPort(addr.String()); err == nil {
		return host
	}
	return addr.String()
}

// adminSession is a plain-listener connection with the admin key: like an
// IAM principal with iot:* it may do anything a policy could allow (the
// broker still keeps $aws/events and $SYS to itself).
type adminSession struct{ principal string }

func (a adminSession) Principal() string         { return a.principal }
func (adminSession) CertificateID() string       { return "" }
func (adminSession) Allowed(string, string) bool { return true }

// brokerSink applies the follower's invalidations to the broker.
type brokerSink struct {
	b   *broker.Broker
	log *slog.Logger
}

func (k brokerSink) Disconnect(certificateID string) {
	n := k.b.Disconnect(func(a broker.Authorization) bool { return a.CertificateID() == certificateID }, broker.ReasonAuthError)
	if n > 0 {
		k.log.Info("connections of a certificate no longer ACTIVE ended", "certificateId", certificateID, "connections", n)
	}
}

func (k brokerSink) Reauthorize(ctx context.Context, filter func(*control.DeviceSession) bool) {
	_, err := k.b.Reauthorize(ctx, func(a broker.Authorization) bool {
		s := control.SessionOf(a)
		return s != nil && filter(s)
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		k.log.Warn("reauthorize sessions", "err", err)
	}
}
