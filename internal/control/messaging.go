package control

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/iotdm/iotdm"
)

// Limits of iot-data's Publish (AWS §9.3).
const (
	maxPublishPayload  = 128 << 10
	maxTopicBytes      = 256
	maxTopicSlashes    = 7
	maxRetainedResults = 200
)

// BusMessage is a message published into the MQTT broker from the data
// plane, with its MQTT 5 properties.
type BusMessage struct {
	Topic           string
	Payload         []byte
	QoS             byte
	Retain          bool
	ContentType     string
	ResponseTopic   string
	CorrelationData []byte
	MessageExpiry   uint32
	PayloadFormat   *byte
	UserProperties  [][2]string
}

// RetainedBusMessage is a message the broker retains.
type RetainedBusMessage struct {
	Topic          string
	Payload        []byte
	QoS            byte
	Modified       time.Time
	UserProperties [][2]string
}

// MessageBus is what Messaging needs of the MQTT broker.
type MessageBus interface {
	Publish(ctx context.Context, m BusMessage) error
	Retained(topic string) (RetainedBusMessage, bool)
	RetainedMessages() []RetainedBusMessage
}

// Messaging implements iotdm.Messaging on a MessageBus: iot-data's Publish
// and retained-message APIs.
type Messaging struct {
	bus     MessageBus
	shadows *Shadows
	log     *slog.Logger
}

var _ iotdm.Messaging = (*Messaging)(nil)

// NewMessaging returns the messaging service over bus. A message published
// to a shadow request topic ($aws/things/{thing}/shadow/...) is also a
// request to shadows, as when a device publishes it; shadows and logger may
// be nil.
func NewMessaging(bus MessageBus, shadows *Shadows, logger *slog.Logger) *Messaging {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Messaging{bus: bus, shadows: shadows, log: logger.With("component", "messaging")}
}

// checkTopicName validates a topic a message is published to: not empty,
// no wildcards, at most 256 bytes and 7 slashes (AWS §9.3; the
// "$aws/rules/{rule}/" prefix of Basic Ingest does not count).
func checkTopicName(topic string) error {
	switch {
	case topic == "":
		return invalid("topic must not be empty")
	case !utf8.ValidString(topic) || strings.ContainsRune(topic, 0):
		return invalid("topic %q is not valid UTF-8", topic)
	case strings.ContainsAny(topic, "+#"):
		return invalid("topic %q contains a wildcard character; messages are published to topic names, not filters", topic)
	case len(topic) > maxTopicBytes:
		return invalid("topic is %d bytes long; the limit is %d", len(topic), maxTopicBytes)
	}
	levels := topic
	if rest, ok := strings.CutPrefix(topic, "$aws/rules/"); ok {
		if _, after, ok := strings.Cut(rest, "/"); ok {
			levels = after
		}
	}
	if n := strings.Count(levels, "/"); n > maxTopicSlashes {
		return invalid("topic %q has %d forward slashes; the limit is %d", topic, n, maxTopicSlashes)
	}
	return nil
}

// Publish publishes the request's payload to its topic as the server.
func (m *Messaging) Publish(ctx context.Context, in *iotdm.PublishInput) (*iotdm.Empty, error) {
	if err := checkTopicName(in.Topic); err != nil {
		return nil, err
	}
	if in.QoS < 0 || in.QoS > 1 {
		return nil, invalid("1 validation error detected: Value '%d' at 'qos' failed to satisfy constraint: Member must have value between 0 and 1", in.QoS)
	}
	if len(in.Payload) > maxPublishPayload {
		return nil, invalid("The payload is %d bytes; the limit is %d", len(in.Payload), maxPublishPayload)
	}
	if in.MessageExpiry < 0 || in.MessageExpiry > 1<<32-1 {
		return nil, invalid("messageExpiry %d is out of range", in.MessageExpiry)
	}
	msg := BusMessage{
		Topic: in.Topic, Payload: in.Payload, QoS: byte(in.QoS), Retain: in.Retain,
		ContentType: in.ContentType, ResponseTopic: in.ResponseTopic, MessageExpiry: uint32(in.MessageExpiry),
	}
	if in.ResponseTopic != "" {
		if err := checkTopicName(in.ResponseTopic); err != nil {
			return nil, err
		}
	}
	switch in.PayloadFormatIndicator {
	case "":
	case "UNSPECIFIED_BYTES", "UTF8_DATA":
		f := byte(0)
		if in.PayloadFormatIndicator == "UTF8_DATA" {
			f = 1
			if !utf8.Valid(in.Payload) {
				return nil, invalid("payloadFormatIndicator is UTF8_DATA but the payload is not valid UTF-8")
			}
		}
		msg.PayloadFormat = &f
	default:
		return nil, invalid("payloadFormatIndicator must be UNSPECIFIED_BYTES or UTF8_DATA, not %q", in.PayloadFormatIndicator)
	}
	if in.CorrelationData != "" {
		b, err := base64.StdEncoding.DecodeString(in.CorrelationData)
		if err != nil {
			return nil, invalid("correlationData must be base64-encoded")
		}
		msg.CorrelationData = b
	}
	if in.UserProperties != "" {
		props, err := decodeUserProperties(in.UserProperties)
		if err != nil {
			return nil, err
		}
		msg.UserProperties = props
	}
	if err := m.bus.Publish(ctx, msg); err != nil {
		return nil, fmt.Errorf("publish to %s: %w", in.Topic, err)
	}
	if m.shadows != nil && strings.HasPrefix(in.Topic, "$aws/things/") {
		// The broker does not hand the server's own messages to its
		// handlers; a shadow request over HTTPS is served here.
		if err := m.shadows.HandleMQTT(ctx, in.Topic, in.Payload, ""); err != nil {
			m.log.Warn("shadow request published over HTTPS", "topic", in.Topic, "err", err)
		}
	}
	return &iotdm.Empty{}, nil
}

// decodeUserProperties decodes the x-amz-mqtt5-user-properties header: the
// base64 of a JSON array of one-member objects, [{"key": "value"}, ...].
func decodeUserProperties(header string) ([][2]string, error) {
	raw, err := base64.StdEncoding.DecodeString(header)
	if err != nil {
		return nil, invalid("userProperties must be a base64-encoded JSON array")
	}
	var list []map[string]string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, invalid("userProperties must be a JSON array of objects with string values")
	}
	var out [][2]string
	for _, kv := range list {
		for k, v := range kv {
			out = append(out, [2]string{k, v})
		}
	}
	return out, nil
}

// GetRetainedMessage returns the message retained for a topic.
func (m *Messaging) GetRetainedMessage(ctx context.Context, in *iotdm.GetRetainedMessageInput) (*iotdm.GetRetainedMessageOutput, error) {
	if err := checkTopicName(in.Topic); err != nil {
		return nil, err
	}
	r, ok := m.bus.Retained(in.Topic)
	if !ok {
		return nil, iotdm.Errorf(iotdm.ErrResourceNotFound, "No retained message exists for topic %s", in.Topic)
	}
	out := &iotdm.GetRetainedMessageOutput{
		Topic: r.Topic, Payload: r.Payload, QoS: int64(r.QoS), LastModifiedTime: r.Modified.UnixMilli(),
	}
	if out.Payload == nil {
		out.Payload = []byte{}
	}
	if len(r.UserProperties) > 0 {
		list := make([]map[string]string, 0, len(r.UserProperties))
		for _, kv := range r.UserProperties {
			list = append(list, map[string]string{kv[0]: kv[1]})
		}
		b, err := json.Marshal(list)
		if err != nil {
			return nil, fmt.Errorf("encode user properties: %w", err)
		}
		out.UserProperties = b
	}
	return out, nil
}

// ListRetainedMessages lists the retained messages in topic order.
func (m *Messaging) ListRetainedMessages(ctx context.Context, in *iotdm.ListRetainedMessagesInput) (*iotdm.ListRetainedMessagesOutput, error) {
	size := in.MaxResults
	switch {
	case size == 0:
		size = maxRetainedResults
	case size < 1 || size > maxRetainedResults:
		return nil, invalid("1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and %d", size, maxRetainedResults)
	}
	after, err := decodeToken("retained", in.NextToken)
	if err != nil {
		return nil, err
	}
	p := pager[iotdm.RetainedMessageSummary]{size: size}
	for _, r := range m.bus.RetainedMessages() {
		if r.Topic <= after {
			continue
		}
		if !p.add(r.Topic, iotdm.RetainedMessageSummary{Topic: r.Topic, PayloadSize: int64(len(r.Payload)),
			QoS: int64(r.QoS), LastModifiedTime: r.Modified.UnixMilli()}) {
			break
		}
	}
	out := &iotdm.ListRetainedMessagesOutput{RetainedTopics: p.page(), NextToken: p.next("retained")}
	return out, nil
}
