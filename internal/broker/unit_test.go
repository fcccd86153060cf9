package broker

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotdm/iotdm"
)

func TestCheckTopic(t *testing.T) {
	l := DefaultLimits()
	tests := []struct {
		topic string
		ok    bool
	}{
		{"a", true},
		{"a/b/c/d/e/f/g/h", true},    // 7 slashes
		{"a/b/c/d/e/f/g/h/i", false}, // 8 slashes
		{"$aws/things/t/shadow/name/s/update/accepted", true},
		{"$aws/rules/myRule/a/b/c/d/e/f/g/h", true}, // Basic Ingest prefix does not count
		{"$aws/rules/myRule/a/b/c/d/e/f/g/h/i", false},
		{"$share/group/a/b/c/d/e/f/g/h", true},
		{"a/+/c/#", true},
		{strings.Repeat("x", 256), true},
		{strings.Repeat("x", 257), false},
		{"$aws/rules/r/" + strings.Repeat("x", 256), true},
	}
	for _, tt := range tests {
		if err := l.checkTopic(tt.topic); (err == nil) != tt.ok {
			t.Errorf("checkTopic(%.40q) = %v, want ok %v", tt.topic, err, tt.ok)
		}
	}
}

func TestReservedTopics(t *testing.T) {
	for _, tt := range []struct {
		topic              string
		publish, subscribe bool
	}{
		{"$aws/events/presence/connected/x", true, false},
		{"$SYS/broker/uptime", true, true},
		{"$sys/broker/uptime", true, true},
		{"$aws/things/x/shadow/update", false, false},
		{"sys", false, false},
	} {
		if got := reservedForPublish(tt.topic); got != tt.publish {
			t.Errorf("reservedForPublish(%q) = %v, want %v", tt.topic, got, tt.publish)
		}
		if got := reservedForSubscribe(tt.topic); got != tt.subscribe {
			t.Errorf("reservedForSubscribe(%q) = %v, want %v", tt.topic, got, tt.subscribe)
		}
	}
}

func TestGrantedFiltersByIdentity(t *testing.T) {
	g := grantedFilters{}
	filter := "a/b"
	own := g.add(filter)
	if own != filter {
		t.Fatalf("add(%q) = %q", filter, own)
	}
	if !g.has(own) {
		t.Errorf("has(the granted copy) = false")
	}
	// The same text in another string is a delivery, not the subscribe
	// check.
	for _, other := range []string{filter, strings.Clone(filter), fmt.Sprintf("a/%s", "b"), own[:1]} {
		if g.has(other) {
			t.Errorf("has(%q at another address) = true", other)
		}
	}
	if g.add("") != "" || g.has("") {
		t.Errorf("the empty filter is recorded")
	}
}

func TestConnectRefusalCodes(t *testing.T) {
	for _, tt := range []struct {
		err    error
		v5, v3 byte
	}{
		{ErrNotAuthorized, 0x87, 0x05},
		{fmt.Errorf("policy: %w", ErrNotAuthorized), 0x87, 0x05},
		{iotdm.Errorf(iotdm.ErrAccessDenied, "x"), 0x87, 0x05},
		{ErrBadCredentials, 0x86, 0x04},
		{iotdm.Errorf(iotdm.ErrCertificateValidation, "x"), 0x86, 0x04},
		{iotdm.Errorf(iotdm.ErrInternalFailure, "x"), 0x80, 0x03},
		{errors.New("disk full"), 0x80, 0x03},
	} {
		v5, v3 := connectRefusal(tt.err)
		if v5.Code != tt.v5 || v3.Code != tt.v3 {
			t.Errorf("connectRefusal(%v) = 0x%02x/0x%02x, want 0x%02x/0x%02x", tt.err, v5.Code, v3.Code, tt.v5, tt.v3)
		}
	}
}

func TestCoreLogHandler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(coreLogHandler{slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})})
	pk := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Connect},
		Connect:     packets.ConnectParams{Password: []byte("hunter2")},
		Payload:     []byte("secret payload"),
		TopicName:   "t",
	}
	log.Warn("error processing packet", "pk", pk)
	log.Error("publish packet error", "packet", pk)
	log.Info("mochi mqtt starting")
	out := buf.String()
	if strings.Contains(out, "hunter2") || strings.Contains(out, "secret payload") {
		t.Errorf("log contains a password or payload:\n%s", out)
	}
	if !strings.Contains(out, "level=INFO msg=\"error processing packet\"") || !strings.Contains(out, "pk.type=Connect") {
		t.Errorf("a mochi Warn should be logged at Info with the packet type:\n%s", out)
	}
	if strings.Contains(out, "publish packet error") || strings.Contains(out, "starting") {
		t.Errorf("refusals and start-up chatter should be at Debug:\n%s", out)
	}
}

func TestDefaultLimits(t *testing.T) {
	if err := DefaultLimits().validate(); err != nil {
		t.Errorf("DefaultLimits().validate() = %v", err)
	}
	if got := (Limits{}).withDefaults(); got != DefaultLimits() {
		t.Errorf("Limits{}.withDefaults() = %+v, want DefaultLimits()", got)
	}
}
