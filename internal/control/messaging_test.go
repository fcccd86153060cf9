package control_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/control"
)

// memoryBus is a MessageBus that records publishes and retains like a
// broker: the last retained message of a topic, none for an empty payload.
type memoryBus struct {
	published []control.BusMessage
	retained  map[string]control.RetainedBusMessage
}

func (b *memoryBus) Publish(_ context.Context, m control.BusMessage) error {
	b.published = append(b.published, m)
	if m.Retain {
		if b.retained == nil {
			b.retained = map[string]control.RetainedBusMessage{}
		}
		if len(m.Payload) == 0 {
			delete(b.retained, m.Topic)
		} else {
			b.retained[m.Topic] = control.RetainedBusMessage{Topic: m.Topic, Payload: m.Payload, QoS: m.QoS,
				Modified: time.UnixMilli(1700000000123), UserProperties: m.UserProperties}
		}
	}
	return nil
}

func (b *memoryBus) Retained(topic string) (control.RetainedBusMessage, bool) {
	r, ok := b.retained[topic]
	return r, ok
}

func (b *memoryBus) RetainedMessages() []control.RetainedBusMessage {
	var out []control.RetainedBusMessage
	for _, r := range b.retained {
		out = append(out, r)
	}
	// in topic order, as the broker returns them
	slices.SortFunc(out, func(a, b control.RetainedBusMessage) int { return strings.Compare(a.Topic, b.Topic) })
	return out
}

func TestMessagingPublish(t *testing.T) {
	ctx := context.Background()
	bus := &memoryBus{}
	m := control.NewMessaging(bus, nil, nil)
	props := base64.StdEncoding.EncodeToString([]byte(`[{"site":"north"},{"k":"v"}]`))
	_, err := m.Publish(ctx, &iotdm.PublishInput{Topic: "devices/a/cmd", QoS: 1, Retain: true, Payload: []byte("on"),
		ContentType: "text/plain", ResponseTopic: "devices/a/reply", UserProperties: props,
		CorrelationData: base64.StdEncoding.EncodeToString([]byte{1, 2}), PayloadFormatIndicator: "UTF8_DATA", MessageExpiry: 60})
	if err != nil {
		t.Fatal(err)
	}
	got := bus.published[0]
	if got.Topic != "devices/a/cmd" || string(got.Payload) != "on" || got.QoS != 1 || !got.Retain || got.ContentType != "text/plain" ||
		got.ResponseTopic != "devices/a/reply" || string(got.CorrelationData) != "\x01\x02" || got.MessageExpiry != 60 ||
		got.PayloadFormat == nil || *got.PayloadFormat != 1 || fmt.Sprint(got.UserProperties) != "[[site north] [k v]]" {
		t.Errorf("published %+v", got)
	}
	r, err := m.GetRetainedMessage(ctx, &iotdm.GetRetainedMessageInput{Topic: "devices/a/cmd"})
	if err != nil || string(r.Payload) != "on" || r.QoS != 1 || r.LastModifiedTime != 1700000000123 ||
		string(r.UserProperties) != `[{"site":"north"},{"k":"v"}]` {
		t.Errorf("GetRetainedMessage = %+v, %v", r, err)
	}
	if _, err := m.Publish(ctx, &iotdm.PublishInput{Topic: "devices/b", Retain: true, Payload: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	l, err := m.ListRetainedMessages(ctx, &iotdm.ListRetainedMessagesInput{MaxResults: 1})
	if err != nil || len(l.RetainedTopics) != 1 || l.RetainedTopics[0].Topic != "devices/a/cmd" || l.RetainedTopics[0].PayloadSize != 2 || l.NextToken == "" {
		t.Fatalf("ListRetainedMessages page 1 = %+v, %v", l, err)
	}
	l, err = m.ListRetainedMessages(ctx, &iotdm.ListRetainedMessagesInput{MaxResults: 1, NextToken: l.NextToken})
	if err != nil || len(l.RetainedTopics) != 1 || l.RetainedTopics[0].Topic != "devices/b" || l.NextToken != "" {
		t.Fatalf("ListRetainedMessages page 2 = %+v, %v", l, err)
	}
	// An empty retained payload clears the topic's retained message.
	if _, err := m.Publish(ctx, &iotdm.PublishInput{Topic: "devices/b", Retain: true}); err != nil {
		t.Fatal(err)
	}
	_, err = m.GetRetainedMessage(ctx, &iotdm.GetRetainedMessageInput{Topic: "devices/b"})
	wantCode(t, "GetRetainedMessage cleared", err, iotdm.ErrResourceNotFound)
}

func TestMessagingPublishRefusals(t *testing.T) {
	ctx := context.Background()
	bus := &memoryBus{}
	m := control.NewMessaging(bus, nil, nil)
	for name, in := range map[string]iotdm.PublishInput{
		"wildcard +":         {Topic: "a/+/b"},
		"wildcard #":         {Topic: "a/#"},
		"long topic":         {Topic: strings.Repeat("t", 257)},
		"eight slashes":      {Topic: "a/b/c/d/e/f/g/h/i"},
		"qos 2":              {Topic: "a", QoS: 2},
		"large payload":      {Topic: "a", Payload: make([]byte, 128<<10+1)},
		"bad format":         {Topic: "a", PayloadFormatIndicator: "JSON"},
		"utf8 lie":           {Topic: "a", PayloadFormatIndicator: "UTF8_DATA", Payload: []byte{0xff}},
		"bad properties":     {Topic: "a", UserProperties: "not base64!"},
		"properties no list": {Topic: "a", UserProperties: base64.StdEncoding.EncodeToString([]byte(`{"a":"b"}`))},
		"bad correlation":    {Topic: "a", CorrelationData: "%%%"},
		"bad response topic": {Topic: "a", ResponseTopic: "r/#"},
	} {
		_, err := m.Publish(ctx, &in)
		wantCode(t, name, err, iotdm.ErrInvalidRequest)
	}
	if len(bus.published) != 0 {
		t.Errorf("refused publishes reached the bus: %d", len(bus.published))
	}
	// Basic Ingest's prefix does not count against the slashes.
	if _, err := m.Publish(ctx, &iotdm.PublishInput{Topic: "$aws/rules/r/a/b/c/d/e/f/g/h"}); err != nil {
		t.Errorf("$aws/rules prefix: %v", err)
	}
	_, err := m.GetRetainedMessage(ctx, &iotdm.GetRetainedMessageInput{Topic: "none"})
	wantCode(t, "GetRetainedMessage missing", err, iotdm.ErrResourceNotFound)
	_, err = m.ListRetainedMessages(ctx, &iotdm.ListRetainedMessagesInput{MaxResults: 201})
	wantCode(t, "ListRetainedMessages 201", err, iotdm.ErrInvalidRequest)
}

// FuzzMessagingPublish feeds iot-data Publish arbitrary topics and MQTT 5
// header values: it never panics, and a refused request publishes nothing.
func FuzzMessagingPublish(f *testing.F) {
	props := base64.StdEncoding.EncodeToString([]byte(`[{"a":"b"}]`))
	f.Add("devices/a", props, "AQI=", "UTF8_DATA", []byte("on"))
	f.Add("a/+/b", "", "", "", []byte{})
	f.Add("$aws/rules/r/a/b/c/d/e/f/g/h", "!!", "%%", "JSON", []byte{0xff})
	f.Fuzz(func(t *testing.T, topic, userProps, corr, format string, payload []byte) {
		bus := &memoryBus{}
		m := control.NewMessaging(bus, nil, nil)
		_, err := m.Publish(context.Background(), &iotdm.PublishInput{Topic: topic, UserProperties: userProps,
			CorrelationData: corr, PayloadFormatIndicator: format, Payload: payload})
		if err != nil && len(bus.published) != 0 {
			t.Fatalf("refused (%v) but published %+v", err, bus.published)
		}
		if err == nil && (len(bus.published) != 1 || bus.published[0].Topic != topic) {
			t.Fatalf("accepted but published %+v", bus.published)
		}
	})
}
