package broker

import (
	"slices"
	"strings"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// RetainedMessage is a message the broker retains for its topic, as the
// iot-data retained-message API shows it.
type RetainedMessage struct {
	Topic    string
	Payload  []byte
	QoS      byte
	Modified time.Time
	// UserProperties are the MQTT 5 user properties it was published with.
	UserProperties []UserProperty
}

// UserProperty is one MQTT 5 user property.
type UserProperty struct{ Key, Value string }

// Retained returns the message retained for topic, if any. The broker
// core's own $SYS topics are not retained messages of the account.
func (b *Broker) Retained(topic string) (RetainedMessage, bool) {
	pk, ok := b.server.Topics.Retained.Get(topic)
	if !ok || len(pk.Payload) == 0 || isSys(topic) {
		return RetainedMessage{}, false
	}
	return retainedOf(pk), true
}

// RetainedMessages returns every retained message, in topic order.
func (b *Broker) RetainedMessages() []RetainedMessage {
	all := b.server.Topics.Retained.GetAll()
	out := make([]RetainedMessage, 0, len(all))
	for _, pk := range all {
		if len(pk.Payload) > 0 && !isSys(pk.TopicName) {
			out = append(out, retainedOf(pk))
		}
	}
	slices.SortFunc(out, func(a, b RetainedMessage) int { return strings.Compare(a.Topic, b.Topic) })
	return out
}

func isSys(topic string) bool { return topic == "$SYS" || strings.HasPrefix(topic, "$SYS/") }

func retainedOf(pk packets.Packet) RetainedMessage {
	m := RetainedMessage{
		Topic:    pk.TopicName,
		Payload:  slices.Clone(pk.Payload),
		QoS:      pk.FixedHeader.Qos,
		Modified: time.Unix(pk.Created, 0).UTC(),
	}
	for _, p := range pk.Properties.User {
		m.UserProperties = append(m.UserProperties, UserProperty{Key: p.Key, Value: p.Val})
	}
	return m
}
