package broker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
)

func TestPersistentSession(t *testing.T) {
	e := newEnv(t, nil)
	d := e.device(t, "iot:Subscribe topicfilter/q/#", "iot:Receive topic/q/*")
	persistent := func(o *mqtt3.ClientOptions) { o.SetCleanSession(false) }

	c, _, err := e.connect3(t, &d, "persistent", persistent)
	if err != nil {
		t.Fatal(err)
	}
	e.events.waitConnect(t, "persistent")
	c.mustSubscribe(t, "q/#")
	c.Disconnect(uint(waitTimeout / time.Millisecond))
	if ev := e.events.waitDisconnect(t, "persistent"); ev.SessionEnded || ev.Reason != ReasonClientInitiated {
		t.Errorf("disconnect event = %+v, want a client-initiated disconnect keeping the session", ev)
	}

	// Offline: QoS 1 messages queue; QoS 0 ones are not kept.
	e.serverPublish(t, "q/1", 1, false, "one")
	e.serverPublish(t, "q/2", 1, false, "two")
	e.serverPublish(t, "q/zero", 0, false, "lost")
	// While offline the policy loses iot:Receive on q/secret...
	e.serverPublish(t, "q/secret", 1, false, "secret")
	e.access.set(d.id, nil, "iot:Subscribe topicfilter/q/#", "iot:Receive topic/q/1", "iot:Receive topic/q/2", "iot:Receive topic/q/later")

	c2, code, err := e.connect3(t, &d, "persistent", persistent)
	if err != nil || code != 0 {
		t.Fatalf("reconnect: %v (0x%02x)", err, code)
	}
	if ev := e.events.waitConnect(t, "persistent"); !ev.SessionPresent || ev.CleanStart {
		t.Errorf("connect event = %+v, want session present", ev)
	}
	got := []string{string(c2.next(t).Payload()), string(c2.next(t).Payload())}
	slices.Sort(got)
	if want := []string{"one", "two"}; !slices.Equal(got, want) {
		t.Errorf("queued messages = %q, want %q", got, want)
	}
	// ...so it is not delivered: queued messages are resent before
	// anything new, so the next message is the new one.
	e.serverPublish(t, "q/later", 1, false, "later")
	if m := c2.next(t); string(m.Payload()) != "later" {
		t.Errorf("next message = %s %q, want q/later (q/zero is QoS 0, q/secret is no longer allowed)", m.Topic(), m.Payload())
	}
}

func TestPersistentSessionMQTT5(t *testing.T) {
	e := newEnv(t, nil)
	d := e.device(t, "iot:Subscribe topicfilter/q5/#", "iot:Receive topic/q5/*")
	expiry := uint32(60)
	persistent := func(_ *paho.ClientConfig, cp *paho.Connect) {
		cp.CleanStart = false
		cp.Properties = &paho.ConnectProperties{SessionExpiryInterval: &expiry}
	}
	c, _, err := e.connect5(t, &d, "persistent-5", persistent)
	if err != nil {
		t.Fatal(err)
	}
	c.mustSubscribe(t, "q5/#")
	_ = c.Disconnect(&paho.Disconnect{})
	e.events.waitDisconnect(t, "persistent-5")
	e.serverPublish(t, "q5/1", 1, false, "queued")

	c2, ack, err := e.connect5(t, &d, "persistent-5", persistent)
	if err != nil {
		t.Fatal(err)
	}
	if !ack.SessionPresent {
		t.Errorf("CONNACK session present = false, want true")
	}
	if m := c2.next(t); string(m.Payload) != "queued" {
		t.Errorf("got %s %q, want the queued message", m.Topic, m.Payload)
	}
}

func TestServerPublishAndSubscribe(t *testing.T) {
	e := newEnv(t, nil)
	requests := make(chan Message, 16)
	unsubscribe, err := e.b.Subscribe("$aws/things/+/shadow/update", func(m Message) { requests <- m })
	if err != nil {
		t.Fatal(err)
	}
	responses := make(chan Message, 16)
	if _, err := e.b.Subscribe("$aws/things/+/shadow/update/#", func(m Message) { responses <- m }); err != nil {
		t.Fatal(err)
	}
	sentinel := make(chan Message, 16)
	if _, err := e.b.Subscribe("$aws/things/+/shadow/get", func(m Message) { sentinel <- m }); err != nil {
		t.Fatal(err)
	}

	thing := e.device(t, "iot:Publish topic/$aws/things/lamp/shadow/*")
	observer := e.device(t, "iot:Subscribe topicfilter/$aws/things/+/shadow/*", "iot:Receive topic/$aws/things/*")
	o := e.mustConnect5(t, &observer, "observer")
	o.mustSubscribe(t, "$aws/things/+/shadow/update", "$aws/things/+/shadow/update/accepted")
	c := e.mustConnect5(t, &thing, "lamp")

	c.mustPublish(t, "$aws/things/lamp/shadow/update", 1, `{"state":{}}`)
	m := recv(t, requests, "request at the server-side handler")
	if m.ClientID != "lamp" || m.Authorization == nil || m.Authorization.CertificateID() != thing.id ||
		string(m.Payload) != `{"state":{}}` || m.QoS != 1 || m.Will {
		t.Errorf("handler got %+v, want lamp's request with its identity", m)
	}
	// The message still reaches devices subscribed to it.
	if got := o.next(t); got.Topic != "$aws/things/lamp/shadow/update" {
		t.Errorf("observer got %s, want the request", got.Topic)
	}

	// The server's own messages reach subscribers (with iot:Receive) but
	// not the server-side handlers.
	e.serverPublish(t, "$aws/things/lamp/shadow/update/accepted", 1, false, `{"version":1}`)
	if got := o.next(t); got.Topic != "$aws/things/lamp/shadow/update/accepted" || string(got.Payload) != `{"version":1}` {
		t.Errorf("observer got %s %q, want the accepted response", got.Topic, got.Payload)
	}
	select {
	case m := <-responses:
		t.Errorf("server-side handler got the server's own message %s", m.Topic)
	default:
	}

	// After unsubscribe the handler is gone. The publisher's packets are
	// handled in order, so once the sentinel handler saw the second
	// message, the first one went past every handler.
	unsubscribe()
	unsubscribe() // idempotent
	c.mustPublish(t, "$aws/things/lamp/shadow/update", 1, `{}`)
	c.mustPublish(t, "$aws/things/lamp/shadow/get", 1, ``)
	recv(t, sentinel, "sentinel")
	select {
	case m := <-requests:
		t.Errorf("handler got %s after unsubscribe", m.Topic)
	default:
	}

	if _, err := e.b.Subscribe("a/#/b", func(Message) {}); err == nil {
		t.Errorf("Subscribe(a/#/b) succeeded, want an invalid filter error")
	}
	if _, err := e.b.Subscribe("$share/g/a", func(Message) {}); err == nil {
		t.Errorf("Subscribe($share/g/a) succeeded, want an error")
	}
	if err := e.b.Publish(context.Background(), "a/+", nil, 0, false); err == nil {
		t.Errorf("Publish(a/+) succeeded, want an invalid topic error")
	}
	if err := e.b.Publish(context.Background(), "a", nil, 2, false); err == nil {
		t.Errorf("Publish with QoS 2 succeeded, want an error")
	}
}

func TestClose(t *testing.T) {
	e := newEnv(t, nil)
	d := e.device(t)
	c := e.mustConnect5(t, &d, "closing")
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := e.b.Close(ctx); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if dis := recv(t, c.disconnect, "DISCONNECT"); dis.ReasonCode != 0x8B {
		t.Errorf("DISCONNECT reason = 0x%02x, want 0x8B (server shutting down)", dis.ReasonCode)
	}
	if ev := e.events.waitDisconnect(t, "closing"); ev.Reason != ReasonServerInitiated {
		t.Errorf("disconnect reason = %s, want %s", ev.Reason, ReasonServerInitiated)
	}
	if err := e.b.Close(ctx); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if err := e.b.Publish(ctx, "a", nil, 0, false); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish after Close = %v, want ErrClosed", err)
	}
	if err := e.b.Start(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close = %v, want ErrClosed", err)
	}
}

func TestServerPublishConcurrent(t *testing.T) {
	e := newEnv(t, nil)
	d := e.device(t, "iot:Subscribe topicfilter/many", "iot:Receive topic/many")
	c := e.mustConnect5(t, &d, "many")
	c.mustSubscribe(t, "many")
	const writers, each = 8, 25
	errs := make(chan error, writers)
	for range writers {
		go func() {
			for range each {
				if err := e.b.Publish(context.Background(), "many", []byte("x"), 1, false); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range writers {
		if err := recv(t, errs, "publisher"); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	for i := range writers * each {
		if m := c.next(t); m.Topic != "many" {
			t.Fatalf("message %d: topic %s", i, m.Topic)
		}
	}
}

// The shadow pattern: a server-side handler answers a device's request with
// Publish, from the device's own connection goroutine.
func TestHandlerReplies(t *testing.T) {
	e := newEnv(t, nil)
	_, err := e.b.Subscribe("$aws/things/+/shadow/get", func(m Message) {
		thing := strings.Split(m.Topic, "/")[2]
		reply := fmt.Sprintf(`{"asker":%q}`, m.Authorization.Principal())
		if err := e.b.Publish(context.Background(), "$aws/things/"+thing+"/shadow/get/accepted", []byte(reply), 1, false); err != nil {
			t.Errorf("Publish from a handler: %v", err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	d := e.device(t, "iot:Publish topic/$aws/things/lamp/shadow/get",
		"iot:Subscribe topicfilter/$aws/things/lamp/shadow/get/accepted",
		"iot:Receive topic/$aws/things/lamp/shadow/get/accepted")
	c := e.mustConnect5(t, &d, "lamp")
	c.mustSubscribe(t, "$aws/things/lamp/shadow/get/accepted")
	c.mustPublish(t, "$aws/things/lamp/shadow/get", 1, "")
	m := c.next(t)
	if want := fmt.Sprintf(`{"asker":"cert/%s"}`, d.id); m.Topic != "$aws/things/lamp/shadow/get/accepted" || string(m.Payload) != want {
		t.Errorf("got %s %s, want the accepted reply %s", m.Topic, m.Payload, want)
	}
}
