package telemetry

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Label values of iotdm_mqtt_connects_total{result} and
// iotdm_mqtt_authorization_denials_total{action} that exist from the start.
const (
	ResultAccepted = "accepted"

	ActionConnect       = "connect"
	ActionPublish       = "publish"
	ActionRetainPublish = "retain_publish"
	ActionSubscribe     = "subscribe"
	ActionReceive       = "receive"
)

// maxReasons caps the distinct values of the connect result and the
// disconnect reason labels; the broker's vocabularies are a dozen each.
const maxReasons = 32

// qosLevels is the number of QoS levels counted: AWS IoT speaks QoS 0 and
// 1, and the broker refuses QoS 2 before a message is accepted.
const qosLevels = 2

// mqttMetrics are the broker's metrics.
type mqttMetrics struct {
	connections prometheus.Gauge
	connects    *prometheus.CounterVec
	accepted    prometheus.Counter
	refused     *cappedCounter
	disconnects *prometheus.CounterVec
	disconnect  *cappedCounter

	receivedVec, receivedBytesVec *prometheus.CounterVec
	sentVec, sentBytesVec         *prometheus.CounterVec
	received, sent                [qosLevels]flow

	deniedVec *prometheus.CounterVec
	denied    struct {
		connect, publish, retainPublish, subscribe, receive, other prometheus.Counter
	}
}

// flow is the messages and payload bytes of one QoS in one direction.
type flow struct {
	messages, bytes prometheus.Counter
}

func (m *mqttMetrics) init() {
	m.connections = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Subsystem: "mqtt", Name: "connections",
		Help: "MQTT connections open now (CONNACK sent, not yet disconnected).",
	})
	m.connects = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "mqtt", Name: "connects_total",
		Help: `MQTT CONNECT attempts by result: "accepted", or why the connection was refused.`,
	}, []string{"result"})
	m.accepted = m.connects.WithLabelValues(ResultAccepted)
	m.refused = newCappedCounter(m.connects, maxReasons)
	m.disconnects = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "mqtt", Name: "disconnects_total",
		Help: "MQTT disconnections of accepted connections by reason (the AWS lifecycle event's disconnectReason).",
	}, []string{"reason"})
	m.disconnect = newCappedCounter(m.disconnects, maxReasons)

	m.receivedVec = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "mqtt", Name: "messages_received_total",
		Help: "PUBLISH packets accepted from devices, by QoS.",
	}, []string{"qos"})
	m.receivedBytesVec = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "mqtt", Name: "received_payload_bytes_total",
		Help: "Payload bytes of the PUBLISH packets accepted from devices, by QoS.",
	}, []string{"qos"})
	m.sentVec = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "mqtt", Name: "messages_sent_total",
		Help: "PUBLISH packets written to devices (deliveries, retained messages and redeliveries), by QoS.",
	}, []string{"qos"})
	m.sentBytesVec = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "mqtt", Name: "sent_payload_bytes_total",
		Help: "Payload bytes of the PUBLISH packets written to devices, by QoS.",
	}, []string{"qos"})
	for q := range qosLevels {
		l := strconv.Itoa(q)
		m.received[q] = flow{m.receivedVec.WithLabelValues(l), m.receivedBytesVec.WithLabelValues(l)}
		m.sent[q] = flow{m.sentVec.WithLabelValues(l), m.sentBytesVec.WithLabelValues(l)}
	}

	m.deniedVec = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "mqtt", Name: "authorization_denials_total",
		Help: "Device actions refused by policy, by action (connect, publish, retain_publish, subscribe, receive).",
	}, []string{"action"})
	d := &m.denied
	d.connect = m.deniedVec.WithLabelValues(ActionConnect)
	d.publish = m.deniedVec.WithLabelValues(ActionPublish)
	d.retainPublish = m.deniedVec.WithLabelValues(ActionRetainPublish)
	d.subscribe = m.deniedVec.WithLabelValues(ActionSubscribe)
	d.receive = m.deniedVec.WithLabelValues(ActionReceive)
	d.other = m.deniedVec.WithLabelValues(other)
}

func (m *mqttMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.connections, m.connects, m.disconnects,
		m.receivedVec, m.receivedBytesVec, m.sentVec, m.sentBytesVec, m.deniedVec}
}

// MQTTConnected counts a connection the broker accepted (its CONNACK is
// sent): one more open connection. Call MQTTDisconnected exactly once when
// it ends.
func (m *Metrics) MQTTConnected() {
	if m == nil {
		return
	}
	m.mqtt.accepted.Inc()
	m.mqtt.connections.Inc()
}

// MQTTConnectRefused counts a CONNECT the broker refused, by a short
// reason from a fixed vocabulary (for example "not_authorized",
// "bad_credentials", "client_id_invalid", "server_error").
func (m *Metrics) MQTTConnectRefused(reason string) {
	if m == nil {
		return
	}
	m.mqtt.refused.get(reason).Inc()
}

// MQTTDisconnected counts the end of a connection MQTTConnected counted,
// by reason (for example "CLIENT_INITIATED_DISCONNECT").
func (m *Metrics) MQTTDisconnected(reason string) {
	if m == nil {
		return
	}
	m.mqtt.connections.Dec()
	m.mqtt.disconnect.get(reason).Inc()
}

// MessageIn counts a PUBLISH accepted from a device, with its payload size
// in bytes. It does not allocate. A QoS above 1 is not counted.
func (m *Metrics) MessageIn(qos byte, payloadBytes int) {
	if m == nil || qos >= qosLevels {
		return
	}
	f := &m.mqtt.received[qos]
	f.messages.Inc()
	f.bytes.Add(float64(payloadBytes))
}

// MessageOut counts a PUBLISH written to a device, with its payload size in
// bytes. It does not allocate. A QoS above 1 is not counted.
func (m *Metrics) MessageOut(qos byte, payloadBytes int) {
	if m == nil || qos >= qosLevels {
		return
	}
	f := &m.mqtt.sent[qos]
	f.messages.Inc()
	f.bytes.Add(float64(payloadBytes))
}

// Denied counts a device action refused by policy. action is one of the
// Action constants or the IoT policy action ("iot:Connect", "iot:Publish",
// "iot:RetainPublish", "iot:Subscribe", "iot:Receive"); anything else counts
// as "other". It does not allocate.
func (m *Metrics) Denied(action string) {
	if m == nil {
		return
	}
	d := &m.mqtt.denied
	var c prometheus.Counter
	switch action {
	case ActionPublish, "iot:Publish":
		c = d.publish
	case ActionReceive, "iot:Receive":
		c = d.receive
	case ActionSubscribe, "iot:Subscribe":
		c = d.subscribe
	case ActionConnect, "iot:Connect":
		c = d.connect
	case ActionRetainPublish, "iot:RetainPublish":
		c = d.retainPublish
	default:
		c = d.other
	}
	c.Inc()
}
