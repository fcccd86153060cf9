package broker

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
	"github.com/google/go-cmp/cmp"
)

func TestPublishRefusedMQTT5(t *testing.T) {
	e := newEnv(t, nil)
	w := e.watcher(t)

	d := e.device(t, "iot:Publish topic/w/allowed")
	c := e.mustConnect5(t, &d, "publisher-5")

	t.Run("QoS 1 gets PUBACK 0x87", func(t *testing.T) {
		resp, err := c.publish(t, "w/forbidden", 1, false, "no")
		if err == nil || resp == nil || resp.ReasonCode != 0x87 {
			t.Fatalf("Publish(w/forbidden) = %+v, %v; want PUBACK 0x87", resp, err)
		}
		// The connection stays; the next PUBLISH goes through.
		c.mustPublish(t, "w/allowed", 1, "yes")
		if m := w.next(t); m.Topic != "w/allowed" {
			t.Errorf("watcher got %s, want only w/allowed", m.Topic)
		}
	})
	t.Run("QoS 0 is dropped", func(t *testing.T) {
		c.mustPublish(t, "w/forbidden", 0, "no")
		c.mustPublish(t, "w/allowed", 0, "yes")
		// Packets of one client are processed and delivered in order: a
		// delivered w/forbidden would arrive first.
		if m := w.next(t); m.Topic != "w/allowed" {
			t.Errorf("watcher got %s, want only w/allowed", m.Topic)
		}
	})
	t.Run("reserved topics", func(t *testing.T) {
		all := e.device(t, "iot:Publish topic/*")
		c := e.mustConnect5(t, &all, "publisher-all")
		resp, err := c.publish(t, "$aws/events/presence/connected/x", 1, false, "{}")
		if err == nil || resp == nil || resp.ReasonCode != 0x87 {
			t.Errorf("Publish($aws/events/...) = %+v, %v; want PUBACK 0x87", resp, err)
		}
	})
	for _, ev := range e.events.disconnects.pending() {
		if ev.Reason != ReasonClientInitiated { // subtests disconnect their clients at the end
			t.Errorf("disconnect event %+v; MQTT 5 clients stay connected after a refused PUBLISH", ev)
		}
	}
}

func TestPublishRefusedMQTT311(t *testing.T) {
	for _, qos := range []byte{0, 1} {
		e := newEnv(t, nil)
		w := e.watcher(t)

		d := e.device(t, "iot:Publish topic/w/allowed")
		c := e.mustConnect3(t, &d, "publisher-3")
		c.Publish("w/forbidden", qos, false, "no")
		e.expectDropped(t, c, "publisher-3", ReasonAuthError)
		// The refused message went nowhere: the watcher's next message
		// is one published after the disconnect.
		e.serverPublish(t, "w/after", 0, false, "")
		if m := w.next(t); m.Topic != "w/after" {
			t.Errorf("QoS %d: watcher got %s, want w/after", qos, m.Topic)
		}
	}
}

func TestSubscribePartiallyRefused(t *testing.T) {
	e := newEnv(t, nil)
	d := e.device(t,
		"iot:Subscribe topicfilter/a/+", "iot:Subscribe topicfilter/c/#",
		"iot:Receive topic/a/*", "iot:Receive topic/c/*")

	t.Run("MQTT 5", func(t *testing.T) {
		c := e.mustConnect5(t, &d, "sub-5")
		sa, err := c.subscribe(t, "a/+", "b/+", "c/#")
		if sa == nil {
			t.Fatalf("Subscribe: %v", err)
		}
		if want := []byte{1, 0x87, 1}; !slices.Equal(sa.Reasons, want) {
			t.Errorf("SUBACK reasons = %x, want %x", sa.Reasons, want)
		}
		ev := e.events.subscribes.waitFor(t, "subscribe event", func(ev SubscriptionEvent) bool { return ev.ClientID == "sub-5" })
		if diff := cmp.Diff([]string{"a/+", "c/#"}, ev.Filters); ev.ClientID != "sub-5" || diff != "" {
			t.Errorf("subscribe event %s: filters (-want +got):\n%s", ev.ClientID, diff)
		}
		e.serverPublish(t, "a/1", 1, false, "a")
		if m := c.next(t); m.Topic != "a/1" {
			t.Errorf("got %s, want a/1", m.Topic)
		}
	})
	t.Run("MQTT 3.1.1", func(t *testing.T) {
		c := e.mustConnect3(t, &d, "sub-3")
		tok := c.SubscribeMultiple(map[string]byte{"a/+": 1, "b/+": 1, "c/#": 0}, nil)
		if err := wait3(t, tok); err != nil {
			t.Logf("SubscribeMultiple: %v", err)
		}
		got := tok.(*mqtt3.SubscribeToken).Result()
		want := map[string]byte{"a/+": 1, "b/+": 0x80, "c/#": 0}
		if !maps.Equal(got, want) {
			t.Errorf("SUBACK return codes = %v, want %v", got, want)
		}
		e.serverPublish(t, "c/1", 1, false, "c")
		if m := c.next(t); m.Topic() != "c/1" {
			t.Errorf("got %s, want c/1", m.Topic())
		}
	})
	t.Run("unsubscribe event", func(t *testing.T) {
		c := e.mustConnect5(t, &d, "unsub")
		c.mustSubscribe(t, "a/+")
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if _, err := c.Unsubscribe(ctx, &paho.Unsubscribe{Topics: []string{"a/+"}}); err != nil {
			t.Fatalf("Unsubscribe: %v", err)
		}
		ev := e.events.unsubscribes.waitFor(t, "unsubscribe event", func(ev SubscriptionEvent) bool { return ev.ClientID == "unsub" })
		if !slices.Equal(ev.Filters, []string{"a/+"}) {
			t.Errorf("unsubscribe event filters = %q, want [a/+]", ev.Filters)
		}
	})
}

func TestReceiveRefused(t *testing.T) {
	e := newEnv(t, nil)
	full := e.device(t, "iot:Subscribe topicfilter/r/#", "iot:Receive topic/r/*")
	partial := e.device(t, "iot:Subscribe topicfilter/r/*", "iot:Receive topic/r/ok")
	a := e.mustConnect5(t, &full, "receiver-full")
	b := e.mustConnect3(t, &partial, "receiver-partial")
	a.mustSubscribe(t, "r/#")
	b.mustSubscribe(t, "r/#")

	e.serverPublish(t, "r/secret", 1, false, "s")
	e.serverPublish(t, "r/ok", 1, false, "o")
	if m := a.next(t); m.Topic != "r/secret" {
		t.Errorf("full receiver got %s first, want r/secret", m.Topic)
	}
	if m := a.next(t); m.Topic != "r/ok" {
		t.Errorf("full receiver got %s second, want r/ok", m.Topic)
	}
	if m := b.next(t); m.Topic() != "r/ok" {
		t.Errorf("partial receiver got %s, want only r/ok", m.Topic())
	}

	// A subscription to a filter the client may subscribe to but never
	// receive from is granted (AWS checks iot:Receive per delivery).
	c := e.mustConnect5(t, &partial, "receiver-no-topic")
	sa, err := c.subscribe(t, "r/secret")
	if err != nil || !slices.Equal(sa.Reasons, []byte{1}) {
		t.Errorf("Subscribe(r/secret) = %+v, %v; want granted", sa, err)
	}
}

func TestRetainNeedsRetainPublish(t *testing.T) {
	e := newEnv(t, nil)
	plain := e.device(t, "iot:Publish topic/ret/*")
	retainer := e.device(t, "iot:Publish topic/ret/*", "iot:RetainPublish topic/ret/*")
	reader := e.device(t, "iot:Subscribe topicfilter/ret/#", "iot:Receive topic/ret/*")

	p := e.mustConnect5(t, &plain, "plain")
	if resp, err := p.publish(t, "ret/a", 1, true, "retained?"); err == nil || resp == nil || resp.ReasonCode != 0x87 {
		t.Errorf("retained Publish without iot:RetainPublish = %+v, %v; want PUBACK 0x87", resp, err)
	}
	p.mustPublish(t, "ret/a", 1, "not retained")

	r := e.mustConnect5(t, &retainer, "retainer")
	if _, err := r.publish(t, "ret/b", 1, true, "kept"); err != nil {
		t.Errorf("retained Publish with iot:RetainPublish: %v", err)
	}

	// A new subscriber gets the retained message, and only that one.
	c := e.mustConnect5(t, &reader, "reader")
	c.mustSubscribe(t, "ret/#")
	m := c.next(t)
	if m.Topic != "ret/b" || string(m.Payload) != "kept" || !m.Retain {
		t.Errorf("retained message = %s %q retain=%v, want ret/b \"kept\" retained", m.Topic, m.Payload, m.Retain)
	}

	// A 3.1.1 client is disconnected.
	p3 := e.mustConnect3(t, &plain, "plain-3")
	p3.Publish("ret/c", 1, true, "retained?")
	e.expectDropped(t, p3, "plain-3", ReasonAuthError)
}

func TestReauthorize(t *testing.T) {
	e := newEnv(t, nil)
	policy := []string{"iot:Publish topic/re/*", "iot:Subscribe topicfilter/re/#", "iot:Receive topic/re/*"}
	d := e.device(t, policy...)
	other := e.device(t, policy...)
	c := e.mustConnect5(t, &d, "reauth")
	o := e.mustConnect5(t, &other, "bystander")
	o.mustSubscribe(t, "re/#")
	c.mustPublish(t, "re/1", 1, "")
	o.next(t)

	// Decisions are compiled at connect: a policy change alone does
	// nothing to a live connection.
	e.access.set(d.id, nil, "iot:Subscribe topicfilter/re/#")
	c.mustPublish(t, "re/2", 1, "")
	o.next(t)

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	ended, err := e.b.Reauthorize(ctx, byCert(d.id))
	if err != nil || ended != 0 {
		t.Fatalf("Reauthorize = %d, %v; want 0, nil", ended, err)
	}
	if resp, err := c.publish(t, "re/3", 1, false, ""); err == nil || resp == nil || resp.ReasonCode != 0x87 {
		t.Errorf("Publish after Reauthorize = %+v, %v; want PUBACK 0x87", resp, err)
	}

	// Receive narrowed: the bystander stops getting the rest.
	e.access.set(other.id, nil, "iot:Receive topic/re/ok")
	if _, err := e.b.Reauthorize(ctx, byCert(other.id)); err != nil {
		t.Fatal(err)
	}
	e.serverPublish(t, "re/hidden", 1, false, "")
	e.serverPublish(t, "re/ok", 1, false, "")
	if m := o.next(t); m.Topic != "re/ok" {
		t.Errorf("bystander got %s after losing iot:Receive on it, want only re/ok", m.Topic)
	}

	// Connect revoked: the connection ends.
	e.access.set(d.id, ErrNotAuthorized)
	start := time.Now()
	ended, err = e.b.Reauthorize(ctx, byCert(d.id))
	if err != nil || ended != 1 {
		t.Fatalf("Reauthorize = %d, %v; want 1, nil", ended, err)
	}
	if dis := recv(t, c.disconnect, "DISCONNECT"); dis.ReasonCode != 0x87 {
		t.Errorf("DISCONNECT reason = 0x%02x, want 0x87", dis.ReasonCode)
	}
	ev := e.events.waitDisconnect(t, "reauth")
	if ev.Reason != ReasonAuthError {
		t.Errorf("disconnect reason = %s, want %s", ev.Reason, ReasonAuthError)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("disconnected after %v, want within 1 s", elapsed)
	}
}

func TestDisconnect(t *testing.T) {
	e := newEnv(t, nil)
	d := e.device(t, "iot:Publish topic/will/*")
	bystander := e.device(t, "iot:Subscribe topicfilter/will/#", "iot:Receive topic/will/*")
	w := e.mustConnect5(t, &bystander, "will-watcher")
	w.mustSubscribe(t, "will/#")

	c5 := e.mustConnect5(t, &d, "kick-5")
	c3, _, err := e.connect3(t, &d, "kick-3", func(o *mqtt3.ClientOptions) { o.SetWill("will/kick-3", "gone", 1, false) })
	if err != nil {
		t.Fatal(err)
	}
	e.events.waitConnect(t, "kick-3")

	start := time.Now()
	if n := e.b.Disconnect(byCert(d.id), ReasonAPIInitiated); n != 2 {
		t.Errorf("Disconnect = %d, want 2", n)
	}
	for _, id := range []string{"kick-5", "kick-3"} {
		ev := e.events.waitDisconnect(t, id)
		if ev.Reason != ReasonAPIInitiated || ev.ClientInitiated {
			t.Errorf("%s: disconnect event reason %s client initiated %v, want %s", id, ev.Reason, ev.ClientInitiated, ReasonAPIInitiated)
		}
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("sessions ended after %v, want within 1 s", elapsed)
	}
	if dis := recv(t, c5.disconnect, "DISCONNECT"); dis.ReasonCode != 0x98 {
		t.Errorf("DISCONNECT reason = 0x%02x, want 0x98 (administrative action)", dis.ReasonCode)
	}
	recv(t, c3.lost, "connection loss")
	// A kicked client's will is published.
	if m := w.next(t); m.Topic != "will/kick-3" || string(m.Payload) != "gone" {
		t.Errorf("watcher got %s %q, want the will", m.Topic, m.Payload)
	}
	if n := e.b.Disconnect(byCert(d.id), ReasonAPIInitiated); n != 0 {
		t.Errorf("second Disconnect = %d, want 0", n)
	}
}

func TestWillNeedsPublish(t *testing.T) {
	e := newEnv(t, nil)
	w := e.watcher(t)

	d := e.device(t, "iot:Publish topic/w/ok")
	c, _, err := e.connect3(t, &d, "no-will", func(o *mqtt3.ClientOptions) { o.SetWill("w/forbidden", "x", 0, false) })
	if err != nil {
		t.Fatal(err)
	}
	e.events.waitConnect(t, "no-will")
	e.b.Disconnect(byCert(d.id), ReasonServerInitiated)
	recv(t, c.lost, "connection loss")
	e.events.waitDisconnect(t, "no-will")
	e.serverPublish(t, "w/after", 0, false, "")
	if m := w.next(t); m.Topic != "w/after" {
		t.Errorf("watcher got %s, want w/after (the will is not allowed)", m.Topic)
	}
}
