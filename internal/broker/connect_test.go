package broker

import (
	"crypto/tls"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/iotdm/iotdm"
)

func TestConnectRefusals(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name   string
		refuse error
		v5, v3 byte
	}{
		{"not authorized", ErrNotAuthorized, 0x87, 0x05},
		{"not authorized as iotdm error", iotdm.Errorf(iotdm.ErrUnauthorized, "no"), 0x87, 0x05},
		{"bad credentials", ErrBadCredentials, 0x86, 0x04},
		{"certificate inactive", iotdm.Errorf(iotdm.ErrCertificateState, "INACTIVE"), 0x86, 0x04},
		{"store failure", errTest, 0x80, 0x03},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := e.device(t)
			e.access.set(d.id, tt.refuse)
			_, ack, err := e.connect5(t, &d, "refused-5", nil)
			if err == nil || ack == nil || ack.ReasonCode != tt.v5 {
				t.Errorf("MQTT 5 CONNACK = %+v, %v; want reason 0x%02x", ack, err, tt.v5)
			}
			_, code, err := e.connect3(t, &d, "refused-3", nil)
			if err == nil || code != tt.v3 {
				t.Errorf("MQTT 3.1.1 CONNACK return code = 0x%02x, %v; want 0x%02x", code, err, tt.v3)
			}
		})
	}
	t.Run("unknown certificate", func(t *testing.T) {
		d := e.device(t)
		e.access.forget(d.id)
		_, ack, err := e.connect5(t, &d, "unknown", nil)
		if err == nil || ack == nil || ack.ReasonCode != 0x86 {
			t.Errorf("MQTT 5 CONNACK = %+v, %v; want 0x86", ack, err)
		}
	})
	t.Run("client id too long", func(t *testing.T) {
		d := e.device(t)
		long := strings.Repeat("x", 129)
		_, ack, err := e.connect5(t, &d, long, nil)
		if err == nil || ack == nil || ack.ReasonCode != 0x85 {
			t.Errorf("MQTT 5 CONNACK = %+v, %v; want 0x85", ack, err)
		}
		_, code, err := e.connect3(t, &d, long, nil)
		if err == nil || code != 0x02 {
			t.Errorf("MQTT 3.1.1 CONNACK return code = 0x%02x, %v; want 0x02", code, err)
		}
		if _, _, err := e.connect5(t, &d, long[:128], nil); err != nil {
			t.Errorf("connect with a 128-byte client id: %v", err)
		}
	})
	// Refused connections make no events: the only connect event is the
	// one of the 128-byte client id.
	if ev := e.events.waitConnect(t, strings.Repeat("x", 128)); ev.ClientID == "" {
		t.Errorf("no connect event")
	}
	for _, ev := range e.events.connects.pending() {
		t.Errorf("connect event for a refused client: %+v", ev)
	}
}

func TestConnectWithoutClientCertificate(t *testing.T) {
	e := newEnv(t, nil)
	if _, _, err := e.connect5(t, nil, "anonymous", nil); err == nil {
		t.Errorf("MQTT 5 connect without a client certificate succeeded")
	}
	_, _, err := e.connect3(t, nil, "anonymous", nil)
	if err == nil {
		t.Errorf("MQTT 3.1.1 connect without a client certificate succeeded")
	}
	if calls := e.access.connectCalls(); len(calls) != 0 {
		t.Errorf("Access.Connect called %d times, want 0 (refused at the TLS level)", len(calls))
	}
}

func TestConnectAndDisconnectEvents(t *testing.T) {
	for _, version := range []byte{5, 4} {
		t.Run(fmt.Sprintf("version %d", version), func(t *testing.T) {
			e := newEnv(t, nil)
			d := e.device(t)
			id := fmt.Sprintf("events-%d", version)
			connect := func() (disconnect func()) {
				t.Helper()
				if version == 5 {
					c, ack, err := e.connect5(t, &d, id, nil)
					if err != nil {
						t.Fatal(err)
					}
					if ack.SessionPresent {
						t.Errorf("CONNACK session present on a clean start")
					}
					return func() { _ = c.Disconnect(&paho.Disconnect{}) }
				}
				c, _, err := e.connect3(t, &d, id, nil)
				if err != nil {
					t.Fatal(err)
				}
				return func() { c.Disconnect(uint(waitTimeout / time.Millisecond)) }
			}
			disconnect := connect()

			calls := e.access.connectCalls()
			if len(calls) != 1 {
				t.Fatalf("Access.Connect called %d times, want 1", len(calls))
			}
			if info := calls[0]; info.ClientID != id || info.ProtocolVersion != version || !info.CleanStart ||
				info.ServerName != "localhost" || info.Listener != "mqtts" || len(info.Certificates) != 1 ||
				info.Remote == nil {
				t.Errorf("ConnectInfo = %+v", info)
			}

			wantSession := Session{
				ClientID:        id,
				Principal:       "cert/" + d.id,
				CertificateID:   d.id,
				IPAddress:       "127.0.0.1",
				ProtocolVersion: version,
			}
			ignore := cmp.Options{
				cmpopts.IgnoreFields(Session{}, "SessionID", "VersionNumber"),
				cmpopts.IgnoreFields(ConnectEvent{}, "Time", "Authorization"),
				cmpopts.IgnoreFields(DisconnectEvent{}, "Time", "Err"),
			}
			ev := e.events.waitConnect(t, id)
			if diff := cmp.Diff(ConnectEvent{Session: wantSession, CleanStart: true}, ev, ignore); diff != "" {
				t.Errorf("connect event (-want +got):\n%s", diff)
			}
			if ev.SessionID == "" || ev.VersionNumber <= 0 || ev.Authorization == nil || ev.Time.IsZero() {
				t.Errorf("connect event = %+v, want session id, version number, authorization and time", ev)
			}

			disconnect()
			dev := e.events.waitDisconnect(t, id)
			want := DisconnectEvent{Session: wantSession, Reason: ReasonClientInitiated, ClientInitiated: true, SessionEnded: true}
			if diff := cmp.Diff(want, dev, ignore); diff != "" {
				t.Errorf("disconnect event (-want +got):\n%s", diff)
			}
			if dev.SessionID != ev.SessionID || dev.VersionNumber != ev.VersionNumber {
				t.Errorf("disconnect event session %q version %d, want %q %d (those of the connect event)",
					dev.SessionID, dev.VersionNumber, ev.SessionID, ev.VersionNumber)
			}

			// The next connection is a new session with a higher version.
			connect()
			next := e.events.waitConnect(t, id)
			if next.SessionID == ev.SessionID || next.VersionNumber <= ev.VersionNumber {
				t.Errorf("second connection: session %q version %d, want a new session and a version above %d",
					next.SessionID, next.VersionNumber, ev.VersionNumber)
			}
		})
	}
}

func TestKeepAlive(t *testing.T) {
	t.Run("bounds", func(t *testing.T) {
		e := newEnv(t, nil)
		d := e.device(t)
		for _, tt := range []struct {
			asked, want uint16
		}{{0, 1200}, {5000, 1200}, {10, 30}, {60, 60}} {
			_, ack, err := e.connect5(t, &d, fmt.Sprintf("ka-%d", tt.asked), func(_ *paho.ClientConfig, cp *paho.Connect) {
				cp.KeepAlive = tt.asked
			})
			if err != nil {
				t.Fatalf("connect with keep-alive %d: %v", tt.asked, err)
			}
			got := tt.asked
			if ack.Properties != nil && ack.Properties.ServerKeepAlive != nil {
				got = *ack.Properties.ServerKeepAlive
			}
			if got != tt.want {
				t.Errorf("keep-alive %d: server keep-alive = %d, want %d", tt.asked, got, tt.want)
			}
		}
	})
	t.Run("timeout", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.Limits.MinKeepAlive = time.Second })
		d := e.device(t)
		start := time.Now()
		c, _, err := e.connect5(t, &d, "quiet", func(cfg *paho.ClientConfig, cp *paho.Connect) {
			cfg.PingHandler = silentPinger{}
			cp.KeepAlive = 2
		})
		if err != nil {
			t.Fatal(err)
		}
		ev := e.events.waitDisconnect(t, "quiet")
		if ev.Reason != ReasonKeepAliveTimeout {
			t.Errorf("disconnect reason = %s (%v), want %s", ev.Reason, ev.Err, ReasonKeepAliveTimeout)
		}
		if elapsed := time.Since(start); elapsed < 2*time.Second {
			t.Errorf("disconnected after %v, want 1.5 × 2 s", elapsed)
		}
		select {
		case <-c.Done():
		case <-time.After(waitTimeout):
			t.Errorf("client still connected")
		}
	})
	t.Run("3.1.1 pings keep the connection", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.Limits.MinKeepAlive = time.Second })
		d := e.device(t, "iot:Subscribe topicfilter/ka", "iot:Receive topic/ka")
		c, _, err := e.connect3(t, &d, "pinger", func(o *mqtt3.ClientOptions) { o.SetKeepAlive(2 * time.Second) })
		if err != nil {
			t.Fatal(err)
		}
		c.mustSubscribe(t, "ka")
		// Longer than 1.5 × keep-alive (3 s) of silence but for the pings.
		time.Sleep(4 * time.Second)
		e.serverPublish(t, "ka", 1, false, "still here")
		if m := c.next(t); string(m.Payload()) != "still here" {
			t.Errorf("got %q", m.Payload())
		}
	})
}

func TestTakeover(t *testing.T) {
	e := newEnv(t, nil)
	first := e.device(t)
	second := e.device(t)
	old := e.mustConnect3(t, &first, "shared-id")
	e.mustConnect5(t, &second, "shared-id")
	ev := e.events.waitDisconnect(t, "shared-id")
	if ev.Reason != ReasonDuplicateClientID || ev.CertificateID != first.id {
		t.Errorf("disconnect event = %+v, want %s for the first certificate", ev, ReasonDuplicateClientID)
	}
	recv(t, old.lost, "connection loss of the first client")

	// MQTT 5 clients are told why.
	third := e.device(t)
	victim := e.mustConnect5(t, &third, "another-id")
	e.mustConnect5(t, &third, "another-id")
	if d := recv(t, victim.disconnect, "DISCONNECT"); d.ReasonCode != 0x8E {
		t.Errorf("DISCONNECT reason = 0x%02x, want 0x8E (session taken over)", d.ReasonCode)
	}
	if ev := e.events.waitDisconnect(t, "another-id"); ev.Reason != ReasonDuplicateClientID {
		t.Errorf("disconnect reason = %s, want %s", ev.Reason, ReasonDuplicateClientID)
	}
}

func TestTLSConfigIsHardened(t *testing.T) {
	cfg := serverTLS(&tls.Config{MinVersion: tls.VersionTLS10, ClientAuth: tls.NoClientCert})
	if cfg.ClientAuth != tls.RequireAnyClientCert || cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("serverTLS = ClientAuth %v MinVersion %x, want RequireAnyClientCert, TLS 1.2", cfg.ClientAuth, cfg.MinVersion)
	}
}
