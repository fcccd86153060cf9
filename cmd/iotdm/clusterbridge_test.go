package main

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/iotdm/iotdm/internal/broker"
)

func TestClusterMessageRoundTrip(t *testing.T) {
	format := byte(1)
	for _, m := range []broker.OutgoingMessage{
		{Topic: "a/b", Payload: []byte("x"), QoS: 1},
		{Topic: "$aws/things/t/shadow/update/accepted", QoS: 0, Retain: true},
		{Topic: "t", Payload: bytes.Repeat([]byte{0xff}, 300), QoS: 1, ContentType: "application/json", ResponseTopic: "r",
			CorrelationData: []byte{1, 2}, MessageExpiry: 60, PayloadFormat: &format,
			UserProperties: []broker.UserProperty{{Key: "k", Value: "v"}}},
	} {
		data, err := encodeClusterMessage(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeClusterMessage(data)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(m, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("round trip (-sent +got):\n%s", diff)
		}
	}
	for _, bad := range [][]byte{nil, {1}, {2, 0, 0}, {1, 0, 5, 'a'}, {1, flagProps, 1, 'a', 9}} {
		if _, err := decodeClusterMessage(bad); err == nil {
			t.Errorf("decode(%v) accepted", bad)
		}
	}
}

// FuzzClusterMessage: the decoder of messages from other nodes never
// panics, and what it accepts encodes back to the same message.
func FuzzClusterMessage(f *testing.F) {
	seed, _ := encodeClusterMessage(broker.OutgoingMessage{Topic: "a/b", Payload: []byte("x"), QoS: 1, ContentType: "c"})
	f.Add(seed)
	f.Add([]byte{1, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeClusterMessage(data)
		if err != nil {
			return
		}
		again, err := encodeClusterMessage(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := decodeClusterMessage(again)
		if err != nil {
			t.Fatalf("re-encoded message refused: %v", err)
		}
		if diff := cmp.Diff(m, m2, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("not stable (-first +second):\n%s", diff)
		}
	})
}
