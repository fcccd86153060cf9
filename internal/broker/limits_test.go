package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
)

func TestPayloadLimit(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Limits.MaxPayload = 1024 })
	w := e.watcher(t)
	d := e.device(t, "iot:Publish topic/w/*")

	t.Run("MQTT 5", func(t *testing.T) {
		c := e.mustConnect5(t, &d, "big-5")
		c.mustPublish(t, "w/fits", 1, strings.Repeat("x", 1024))
		if m := w.next(t); m.Topic != "w/fits" {
			t.Errorf("watcher got %s, want w/fits", m.Topic)
		}
		// Sent without waiting for the PUBACK that never comes.
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		_, _ = c.PublishWithOptions(ctx, &paho.Publish{Topic: "w/big", QoS: 1, Payload: make([]byte, 1025)},
			paho.PublishOptions{Method: paho.PublishMethod_AsyncSend})
		if dis := recv(t, c.disconnect, "DISCONNECT"); dis.ReasonCode != 0x95 {
			t.Errorf("DISCONNECT reason = 0x%02x, want 0x95 (packet too large)", dis.ReasonCode)
		}
		if ev := e.events.waitDisconnect(t, "big-5"); ev.Reason != ReasonClientError {
			t.Errorf("disconnect reason = %s, want %s", ev.Reason, ReasonClientError)
		}
	})
	t.Run("MQTT 3.1.1", func(t *testing.T) {
		c := e.mustConnect3(t, &d, "big-3")
		c.Publish("w/big", 1, false, strings.Repeat("x", 1025))
		e.expectDropped(t, c, "big-3", ReasonClientError)
	})
	// Neither oversized message went anywhere.
	e.serverPublish(t, "w/after", 0, false, "")
	if m := w.next(t); m.Topic != "w/after" {
		t.Errorf("watcher got %s, want w/after", m.Topic)
	}
}

func TestQoS2Refused(t *testing.T) {
	e := newEnv(t, nil)
	d := e.device(t, "iot:Publish topic/*", "iot:Subscribe topicfilter/*", "iot:Receive topic/*")
	c := e.mustConnect5(t, &d, "qos2")
	// A subscription asking for QoS 2 is granted QoS 1.
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	sa, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "t", QoS: 2}}})
	if err != nil || !slices.Equal(sa.Reasons, []byte{1}) {
		t.Errorf("Subscribe QoS 2 = %+v, %v; want granted QoS 1", sa, err)
	}
	// paho honours the CONNACK's Maximum QoS 1, so a QoS 2 PUBLISH needs a
	// 3.1.1 client.
	c3 := e.mustConnect3(t, &d, "qos2-3")
	c3.Publish("t", 2, false, "x")
	e.expectDropped(t, c3, "qos2-3", ReasonClientError)
}

func TestTopicLimits(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Limits.MaxSubscriptions = 10 })
	d := e.device(t, "iot:Publish topic/*", "iot:Subscribe topicfilter/*", "iot:Receive topic/*")
	c := e.mustConnect5(t, &d, "limits")

	deep := "a/b/c/d/e/f/g/h/i"            // 8 slashes
	okDepth := "a/b/c/d/e/f/g/h"           // 7 slashes
	ingest := "$aws/rules/rule/" + okDepth // the Basic Ingest prefix does not count
	long := strings.Repeat("x", 257)

	for _, tt := range []struct {
		topic string
		want  byte
	}{{okDepth, 0}, {ingest, 0}, {deep, 0x90}, {long, 0x90}, {strings.Repeat("x", 256), 0}} {
		resp, err := c.publish(t, tt.topic, 1, false, "")
		got := byte(0)
		if resp != nil {
			got = resp.ReasonCode
		} else if err != nil {
			t.Errorf("Publish(%.20q): %v", tt.topic, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Publish(%.20q) PUBACK = 0x%02x, want 0x%02x", tt.topic, got, tt.want)
		}
	}

	sa, _ := c.subscribe(t, okDepth, deep, long, "$SYS/#")
	if want := []byte{1, 0x8F, 0x8F, 0x87}; sa == nil || !slices.Equal(sa.Reasons, want) {
		t.Errorf("SUBACK = %+v, want %x", sa, want)
	}

	// At most 8 filters per SUBSCRIBE.
	nine := []string{"f/1", "f/2", "f/3", "f/4", "f/5", "f/6", "f/7", "f/8", "f/9"}
	sa, _ = c.subscribe(t, nine...)
	if want := []byte{1, 1, 1, 1, 1, 1, 1, 1, 0x97}; sa == nil || !slices.Equal(sa.Reasons, want) {
		t.Errorf("SUBACK for 9 filters = %+v, want %x", sa, want)
	}
	// At most 10 subscriptions: 9 so far (okDepth and f/1..f/8); a repeated
	// filter does not count.
	sa, _ = c.subscribe(t, "f/1", "g/1", "g/2")
	if want := []byte{1, 1, 0x97}; sa == nil || !slices.Equal(sa.Reasons, want) {
		t.Errorf("SUBACK over the subscription quota = %+v, want %x", sa, want)
	}

	// 3.1.1 clients get 0x80 for every refusal and lose the connection for
	// an invalid topic.
	c3 := e.mustConnect3(t, &d, "limits-3")
	tok := c3.SubscribeMultiple(map[string]byte{okDepth: 1, deep: 1}, nil)
	_ = wait3(t, tok)
	if got := tok.(*mqtt3.SubscribeToken).Result(); got[okDepth] != 1 || got[deep] != 0x80 {
		t.Errorf("SUBACK = %v, want %s:1 %s:0x80", got, okDepth, deep)
	}
	c3.Publish(deep, 1, false, "")
	e.expectDropped(t, c3, "limits-3", ReasonClientError)
}

func TestWebSocket(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.WebSocketAddr = "127.0.0.1:0" })
	d := e.device(t, "iot:Subscribe topicfilter/ws", "iot:Receive topic/ws")
	url := "wss://" + e.b.WebSocketAddr().String() + "/mqtt"
	c, _, err := e.connect3(t, &d, "ws-client", func(o *mqtt3.ClientOptions) {
		o.Servers = nil
		o.AddBroker(url)
	})
	if err != nil {
		t.Fatalf("connect over WebSocket: %v", err)
	}
	ev := e.events.waitConnect(t, "ws-client")
	if ev.CertificateID != d.id {
		t.Errorf("connect event certificate = %q, want %q", ev.CertificateID, d.id)
	}
	calls := e.access.connectCalls()
	if info := calls[len(calls)-1]; info.Listener != "wss" || len(info.Certificates) != 1 {
		t.Errorf("ConnectInfo = %+v, want the wss listener with the certificate", info)
	}
	c.mustSubscribe(t, "ws")
	e.serverPublish(t, "ws", 1, false, "over websocket")
	if m := c.next(t); string(m.Payload()) != "over websocket" {
		t.Errorf("got %q", m.Payload())
	}

	if _, _, err := e.connect3(t, nil, "ws-anonymous", func(o *mqtt3.ClientOptions) {
		o.Servers = nil
		o.AddBroker(url)
	}); err == nil {
		t.Errorf("WebSocket connect without a client certificate succeeded")
	}
}

func TestPlainListener(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.PlainAddr = "127.0.0.1:0" })
	e.access.set("", nil, "iot:Publish topic/dev/*")
	c, code, err := e.connect3(t, nil, "local-dev", func(o *mqtt3.ClientOptions) {
		o.Servers = nil
		o.AddBroker("tcp://" + e.b.PlainAddr().String())
	})
	if err != nil || code != 0 {
		t.Fatalf("connect over plain TCP: %v (0x%02x)", err, code)
	}
	calls := e.access.connectCalls()
	if info := calls[len(calls)-1]; info.Listener != "mqtt" || info.Certificates != nil {
		t.Errorf("ConnectInfo = %+v, want the plain listener without certificates", info)
	}
	if err := wait3(t, c.Publish("dev/x", 1, false, "")); err != nil {
		t.Errorf("Publish: %v", err)
	}
}

func TestNewValidates(t *testing.T) {
	access := newFakeAccess()
	cert := tls.Certificate{Certificate: [][]byte{{1}}}
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no access", Options{PlainAddr: ":0"}, "no Access"},
		{"tls listener without tls", Options{Addr: ":0", Access: access}, "need TLS"},
		{"tls without certificate", Options{Addr: ":0", TLS: &tls.Config{}, Access: access}, "no server certificate"},
		{"keep-alive not whole seconds", Options{Access: access, Limits: Limits{MinKeepAlive: 1500 * time.Millisecond}}, "MinKeepAlive"},
		{"keep-alive bounds crossed", Options{Access: access, Limits: Limits{MinKeepAlive: 2000 * time.Second}}, "MinKeepAlive 33m20s > MaxKeepAlive"},
		{"negative payload", Options{Access: access, Limits: Limits{MaxPayload: -1}}, "MaxPayload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New = %v, want an error about %q", err, tt.want)
			}
		})
	}
	b, err := New(Options{Addr: "127.0.0.1:0", TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, Access: access})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := b.Close(context.Background()); err != nil {
		t.Errorf("Close without Start = %v", err)
	}
}

func TestStartFailsOnBusyAddress(t *testing.T) {
	e := newEnv(t, nil)
	b, err := New(Options{Addr: e.b.Addr().String(), TLS: e.b.opts.TLS, Access: e.access})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := b.Start(ctx); err == nil {
		t.Errorf("Start on a busy address succeeded")
	}
	if err := b.Close(ctx); err != nil && !errors.Is(err, ErrClosed) {
		t.Errorf("Close = %v", err)
	}
}
