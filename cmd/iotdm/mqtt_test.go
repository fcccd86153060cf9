package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"

	"github.com/iotdm/iotdm/internal/pki"
	"github.com/iotdm/iotdm/internal/pki/cafile"
)

// These tests connect real MQTT clients (paho.golang for MQTT 5,
// paho.mqtt.golang for 3.1.1) over real mutual TLS to an in-process
// server, with certificates made through the AWS SDK, and hold the broker
// to AWS IoT's device authentication and authorization (§4, §5.3).

// mqWait bounds the waits of these tests; mqPromptly is how soon a change
// made through the API must reach live connections.
const (
	mqWait     = 15 * time.Second
	mqPromptly = time.Second
)

// mqFixture is a started server with an SDK client, the trust anchor
// devices use (DATA-DIR/ca.pem) and the seed device policy.
type mqFixture struct {
	t     *testing.T
	s     *server
	c     *iot.Client
	key   AccessKey
	roots *x509.CertPool
	addr  string // the MQTT over TLS listener, from server.json
	plain string // the MQTT over plain TCP listener, from server.json
	// persistent makes MQTT 5 connections ask for a session that outlives
	// them (CleanStart false, an hour's session expiry).
	persistent bool
}

func newMQFixture(t *testing.T, configure ...func(*Config)) *mqFixture {
	t.Helper()
	cfg := testConfig(t)
	cfg.MQTTPlainAddr = "127.0.0.1:0"
	for _, f := range configure {
		f(&cfg)
	}
	s := startServer(t, cfg)
	key, err := ensureCredentials(cfg.DataDir, nil, testLogger(t))
	if err != nil {
		t.Fatalf("credentials: %v", err)
	}
	caPEM, err := os.ReadFile(filepath.Join(s.DataDir(), cafile.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.pem holds no certificate")
	}
	st, err := readServerState(s.DataDir())
	if err != nil {
		t.Fatal(err)
	}
	f := &mqFixture{t: t, s: s, c: staticIoTClient(s, key.ID, key.Secret), key: key, roots: roots, addr: st.MQTTAddr, plain: st.MQTTPlainAddr}
	seed, err := os.ReadFile("../../testdata/seed-device-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	createPolicy(t, f.c, "seed-device-policy", string(seed))
	return f
}

// mqDevice is a certificate and its key, as a device holds them.
type mqDevice struct {
	id, arn string
	cert    tls.Certificate
}

// certificate creates a key pair and certificate with the SDK and attaches
// the policies to it.
func (f *mqFixture) certificate(active bool, policies ...string) mqDevice {
	f.t.Helper()
	out := must[*iot.CreateKeysAndCertificateOutput](f.t, "CreateKeysAndCertificate")(f.c.CreateKeysAndCertificate(context.Background(),
		&iot.CreateKeysAndCertificateInput{SetAsActive: active}))
	tc, err := tls.X509KeyPair([]byte(aws.ToString(out.CertificatePem)), []byte(aws.ToString(out.KeyPair.PrivateKey)))
	if err != nil {
		f.t.Fatal(err)
	}
	d := mqDevice{id: aws.ToString(out.CertificateId), arn: aws.ToString(out.CertificateArn), cert: tc}
	for _, p := range policies {
		attachPolicy(f.t, f.c, p, d.arn)
	}
	return d
}

// thing creates a thing and attaches d to it.
func (f *mqFixture) thing(name string, d mqDevice) {
	f.t.Helper()
	ctx := context.Background()
	must[*iot.CreateThingOutput](f.t, "CreateThing("+name+")")(f.c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(name)}))
	must[*iot.AttachThingPrincipalOutput](f.t, "AttachThingPrincipal")(f.c.AttachThingPrincipal(ctx,
		&iot.AttachThingPrincipalInput{ThingName: aws.String(name), Principal: aws.String(d.arn)}))
}

// device is a thing with its own active certificate and the seed device
// policy: what the seed stack provisions.
func (f *mqFixture) device(name string) mqDevice {
	f.t.Helper()
	d := f.certificate(true, "seed-device-policy")
	f.thing(name, d)
	return d
}

func (f *mqFixture) setStatus(d mqDevice, status types.CertificateStatus) {
	f.t.Helper()
	must[*iot.UpdateCertificateOutput](f.t, "UpdateCertificate")(f.c.UpdateCertificate(context.Background(),
		&iot.UpdateCertificateInput{CertificateId: aws.String(d.id), NewStatus: status}))
}

func (f *mqFixture) tlsConfig(d *mqDevice) *tls.Config {
	cfg := &tls.Config{RootCAs: f.roots, MinVersion: tls.VersionTLS12}
	if d != nil {
		cfg.Certificates = []tls.Certificate{d.cert}
	}
	return cfg
}

// mq5 is an MQTT 5 client.
type mq5 struct {
	*paho.Client
	msgs chan *paho.Publish
	disc chan *paho.Disconnect
}

// connect5 connects an MQTT 5 client as clientID with d's certificate over
// TLS, or, with d nil, to the plain listener with user name and password.
func (f *mqFixture) connect5(d *mqDevice, clientID, username, password string) (*mq5, *paho.Connack, error) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), mqWait)
	defer cancel()
	var (
		nc  net.Conn
		err error
	)
	if d != nil {
		dialer := tls.Dialer{Config: f.tlsConfig(d)}
		nc, err = dialer.DialContext(ctx, "tcp", f.addr)
	} else {
		var dialer net.Dialer
		nc, err = dialer.DialContext(ctx, "tcp", f.plain)
	}
	if err != nil {
		return nil, nil, err
	}
	return f.connect5On(ctx, nc, clientID, username, password)
}

// connect5On speaks MQTT 5 on a connection.
func (f *mqFixture) connect5On(ctx context.Context, nc net.Conn, clientID, username, password string) (*mq5, *paho.Connack, error) {
	f.t.Helper()
	conn := packets.NewThreadSafeConn(nc)
	c := &mq5{msgs: make(chan *paho.Publish, 64), disc: make(chan *paho.Disconnect, 1)}
	c.Client = paho.NewClient(paho.ClientConfig{
		Conn: conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			c.msgs <- pr.Packet
			return true, nil
		}},
		OnServerDisconnect: func(d *paho.Disconnect) {
			select {
			case c.disc <- d:
			default:
			}
		},
		OnClientError: func(error) {},
	})
	cp := &paho.Connect{ClientID: clientID, KeepAlive: 30, CleanStart: true}
	if f.persistent {
		expiry := uint32(3600)
		cp.CleanStart = false
		cp.Properties = &paho.ConnectProperties{SessionExpiryInterval: &expiry}
	}
	if username != "" {
		cp.Username, cp.UsernameFlag = username, true
		cp.Password, cp.PasswordFlag = []byte(password), true
	}
	ack, err := c.Connect(ctx, cp)
	if err != nil {
		return nil, ack, err
	}
	f.t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	return c, ack, nil
}

// connect5Session connects like connect5 with a persistent session.
func (f *mqFixture) connect5Session(d mqDevice, clientID string) (*mq5, *paho.Connack, error) {
	g := *f
	g.persistent = true
	return g.connect5(&d, clientID, "", "")
}

func (f *mqFixture) mustConnect5(d mqDevice, clientID string) *mq5 {
	f.t.Helper()
	c, ack, err := f.connect5(&d, clientID, "", "")
	if err != nil {
		f.t.Fatalf("connect %s (MQTT 5) = %+v, %v", clientID, ack, err)
	}
	return c
}

// refused5 checks that an MQTT 5 CONNECT is refused with reason code want.
func (f *mqFixture) refused5(what string, d mqDevice, clientID string, want byte) {
	f.t.Helper()
	_, ack, err := f.connect5(&d, clientID, "", "")
	if err == nil || ack == nil || ack.ReasonCode != want {
		f.t.Errorf("%s: MQTT 5 CONNACK = %+v, %v; want reason 0x%02x", what, ack, err, want)
	}
}

func (c *mq5) publish(t *testing.T, topic string, retain bool, payload string) (*paho.PublishResponse, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), mqWait)
	defer cancel()
	return c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Retain: retain, Payload: []byte(payload)})
}

func (c *mq5) mustPublish(t *testing.T, topic, payload string) {
	t.Helper()
	if resp, err := c.publish(t, topic, false, payload); err != nil {
		t.Fatalf("Publish(%s) = %+v, %v", topic, resp, err)
	}
}

// refusedPublish checks that a QoS 1 PUBLISH gets PUBACK 0x87.
func (c *mq5) refusedPublish(t *testing.T, topic string, retain bool) {
	t.Helper()
	if resp, err := c.publish(t, topic, retain, "no"); err == nil || resp == nil || resp.ReasonCode != 0x87 {
		t.Errorf("Publish(%s, retain %v) = %+v, %v; want PUBACK 0x87", topic, retain, resp, err)
	}
}

// subscribe subscribes at QoS 1 and returns the SUBACK reason codes.
func (c *mq5) subscribe(t *testing.T, filters ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), mqWait)
	defer cancel()
	s := &paho.Subscribe{}
	for _, filter := range filters {
		s.Subscriptions = append(s.Subscriptions, paho.SubscribeOptions{Topic: filter, QoS: 1})
	}
	sa, err := c.Subscribe(ctx, s)
	if sa == nil {
		t.Fatalf("Subscribe(%q): %v", filters, err)
	}
	return sa.Reasons
}

// next returns the next message's topic and payload.
func (c *mq5) next(t *testing.T, who string) string {
	t.Helper()
	select {
	case m := <-c.msgs:
		return m.Topic + " " + string(m.Payload)
	case <-time.After(mqWait):
		t.Fatalf("%s received nothing", who)
	}
	return ""
}

// none checks that no message arrives for a moment.
func (c *mq5) none(t *testing.T, who string) {
	t.Helper()
	select {
	case m := <-c.msgs:
		t.Errorf("%s received %s %q, want nothing", who, m.Topic, m.Payload)
	case <-time.After(200 * time.Millisecond):
	}
}

// endedWithin checks that the server ends the connection with DISCONNECT
// 0x87 (AUTH_ERROR) within limit of start.
func (c *mq5) endedWithin(t *testing.T, who string, start time.Time, limit time.Duration) {
	t.Helper()
	select {
	case d := <-c.disc:
		if d.ReasonCode != 0x87 {
			t.Errorf("%s: DISCONNECT reason 0x%02x, want 0x87", who, d.ReasonCode)
		}
	case <-time.After(mqWait):
		t.Fatalf("%s: still connected", who)
	}
	if took := time.Since(start); took > limit {
		t.Errorf("%s: disconnected after %v, want within %v", who, took, limit)
	}
	select {
	case <-c.Done():
	case <-time.After(mqWait):
		t.Errorf("%s: connection not closed after DISCONNECT", who)
	}
}

// mq3 is an MQTT 3.1.1 client.
type mq3 struct {
	mqtt3.Client
	lost chan error
}

// connect3 connects an MQTT 3.1.1 client and returns the CONNACK return
// code.
func (f *mqFixture) connect3(d mqDevice, clientID string) (*mq3, byte, error) {
	f.t.Helper()
	c := &mq3{lost: make(chan error, 1)}
	opts := mqtt3.NewClientOptions().
		AddBroker("ssl://" + f.addr).
		SetClientID(clientID).
		SetTLSConfig(f.tlsConfig(&d)).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetKeepAlive(30 * time.Second).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(mqWait).
		SetWriteTimeout(mqWait).
		SetConnectionLostHandler(func(_ mqtt3.Client, err error) {
			select {
			case c.lost <- err:
			default:
			}
		})
	c.Client = mqtt3.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(mqWait) {
		f.t.Fatalf("connect %s (MQTT 3.1.1): timed out", clientID)
	}
	code := tok.(*mqtt3.ConnectToken).ReturnCode()
	if err := tok.Error(); err != nil {
		return nil, code, err
	}
	f.t.Cleanup(func() { c.Disconnect(100) })
	return c, code, nil
}

func (c *mq3) lostWithin(t *testing.T, who string, start time.Time, limit time.Duration) {
	t.Helper()
	select {
	case <-c.lost:
	case <-time.After(mqWait):
		t.Fatalf("%s: MQTT 3.1.1 connection not ended", who)
	}
	if took := time.Since(start); took > limit {
		t.Errorf("%s: disconnected after %v, want within %v", who, took, limit)
	}
}

// selfSigned is a certificate no CA issued and nobody registered.
func selfSigned(t *testing.T) mqDevice {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: serial(t), Subject: pkix.Name{CommonName: "temp-sensor-01"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return mqDevice{id: pki.CertificateID(der), cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}
}

// foreignDevice is a certificate issued by ca, with its key.
func foreignDevice(t *testing.T, ca *pki.CA, cn string) (mqDevice, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := ca.IssueFromPublicKey(key.Public(), pkix.Name{CommonName: cn}, pki.IssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return mqDevice{id: pki.CertificateID(der), cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}, string(pki.EncodeCertificatePEM(der))
}

func TestMQTTConnect(t *testing.T) {
	f := newMQFixture(t)
	ctx := context.Background()
	d1 := f.device("temp-sensor-01")
	f.device("temp-sensor-02")

	f.mustConnect5(d1, "temp-sensor-01")
	c3, code, err := f.connect3(d1, "temp-sensor-01")
	if err != nil || code != 0 {
		t.Fatalf("MQTT 3.1.1 connect as own thing = 0x%02x, %v", code, err)
	}
	c3.Disconnect(100)

	// Another thing's name: not authorized.
	f.refused5("another thing's client id", d1, "temp-sensor-02", 0x87)
	if _, code, err := f.connect3(d1, "temp-sensor-02"); err == nil || code != 0x05 {
		t.Errorf("MQTT 3.1.1 connect as another thing = 0x%02x, %v; want 0x05", code, err)
	}

	// Certificates that may not connect: bad user name or password.
	f.refused5("self-signed certificate", selfSigned(t), "temp-sensor-01", 0x86)
	inactive := f.certificate(false, "seed-device-policy")
	f.thing("inactive-01", inactive)
	f.refused5("INACTIVE certificate", inactive, "inactive-01", 0x86)
	if _, code, err := f.connect3(inactive, "inactive-01"); err == nil || code != 0x04 {
		t.Errorf("MQTT 3.1.1 connect with an INACTIVE certificate = 0x%02x, %v; want 0x04", code, err)
	}
	revoked := f.device("revoked-01")
	f.setStatus(revoked, types.CertificateStatusRevoked)
	f.refused5("REVOKED certificate", revoked, "revoked-01", 0x86)

	foreignCA, err := pki.NewCA(pki.CAOptions{CommonName: "Foreign CA"})
	if err != nil {
		t.Fatal(err)
	}
	foreign, foreignPEM := foreignDevice(t, foreignCA, "foreign-01")
	f.refused5("certificate of a foreign CA", foreign, "foreign-01", 0x86)

	// Once the CA is registered and the certificate with it, it connects.
	must[*iot.RegisterCACertificateOutput](t, "RegisterCACertificate")(f.c.RegisterCACertificate(ctx, &iot.RegisterCACertificateInput{
		CaCertificate: aws.String(string(foreignCA.PEM())), CertificateMode: types.CertificateModeSniOnly, SetAsActive: true}))
	reg := must[*iot.RegisterCertificateOutput](t, "RegisterCertificate")(f.c.RegisterCertificate(ctx, &iot.RegisterCertificateInput{
		CertificatePem: aws.String(foreignPEM), Status: types.CertificateStatusActive}))
	foreign.arn = aws.ToString(reg.CertificateArn)
	attachPolicy(t, f.c, "seed-device-policy", foreign.arn)
	f.thing("foreign-01", foreign)
	f.mustConnect5(foreign, "foreign-01")

	// No client certificate at all: the TLS handshake fails.
	cctx, cancel := context.WithTimeout(ctx, mqWait)
	defer cancel()
	dialer := tls.Dialer{Config: f.tlsConfig(nil)}
	if nc, err := dialer.DialContext(cctx, "tcp", f.addr); err == nil {
		if _, _, err := f.connect5On(cctx, nc, "temp-sensor-01", "", ""); err == nil {
			t.Errorf("connect without a client certificate succeeded")
		}
	}
}

// TestMQTTPolicyMatrix holds each allowed and each denied action of the
// seed device policy to what clients observe.
func TestMQTTPolicyMatrix(t *testing.T) {
	f := newMQFixture(t)
	d1 := f.device("temp-sensor-01")
	d2 := f.device("temp-sensor-02")
	// A monitor may subscribe to every device's topics but receive only
	// device 1's.
	createPolicy(t, f.c, "monitor", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/monitor-01"},
		{"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:us-east-1:123456789012:topicfilter/devices/*"},
		{"Effect":"Allow","Action":"iot:Receive","Resource":"arn:aws:iot:us-east-1:123456789012:topic/devices/temp-sensor-01/*"}]}`)
	mon := f.certificate(true, "monitor")

	c1 := f.mustConnect5(d1, "temp-sensor-01")
	c2 := f.mustConnect5(d2, "temp-sensor-02")
	m := f.mustConnect5(mon, "monitor-01")

	if got := c1.subscribe(t, "devices/temp-sensor-01/#"); !slices.Equal(got, []byte{1}) {
		t.Errorf("device 1 SUBACK for its own topics = %x, want [01]", got)
	}
	if got := c2.subscribe(t, "devices/temp-sensor-01/#", "devices/temp-sensor-02/#"); !slices.Equal(got, []byte{0x87, 1}) {
		t.Errorf("device 2 SUBACK for device 1's and its own topics = %x, want [87 01]", got)
	}
	if got := m.subscribe(t, "devices/#"); !slices.Equal(got, []byte{1}) {
		t.Errorf("monitor SUBACK = %x, want [01]", got)
	}

	// Device 2 publishes on its own topic: it receives it, the monitor may
	// not (iot:Receive), device 1 is not subscribed.
	c2.mustPublish(t, "devices/temp-sensor-02/telemetry", "from-2")
	if got := c2.next(t, "device 2"); got != "devices/temp-sensor-02/telemetry from-2" {
		t.Errorf("device 2 received %q", got)
	}
	// Device 1 publishes on its own topic: it and the monitor receive it,
	// and the monitor receives nothing before it.
	c1.mustPublish(t, "devices/temp-sensor-01/telemetry", "from-1")
	if got := c1.next(t, "device 1"); got != "devices/temp-sensor-01/telemetry from-1" {
		t.Errorf("device 1 received %q", got)
	}
	if got := m.next(t, "monitor"); got != "devices/temp-sensor-01/telemetry from-1" {
		t.Errorf("monitor received %q, want device 1's message only", got)
	}
	c2.none(t, "device 2")
	m.none(t, "monitor")

	// Device 1 publishes on device 2's topic: PUBACK 0x87, and it stays
	// connected; a retained publish needs iot:RetainPublish, which the seed
	// policy does not grant.
	c1.refusedPublish(t, "devices/temp-sensor-02/telemetry", false)
	c1.refusedPublish(t, "devices/temp-sensor-01/state", true)
	c2.none(t, "device 2")
	c1.mustPublish(t, "devices/temp-sensor-01/telemetry", "still-1")
	if got := c1.next(t, "device 1"); got != "devices/temp-sensor-01/telemetry still-1" {
		t.Errorf("device 1 received %q", got)
	}

	// MQTT 3.1.1: a refused filter gets 0x80; a refused PUBLISH ends the
	// connection.
	c2.Disconnect(&paho.Disconnect{})
	c3, code, err := f.connect3(d2, "temp-sensor-02")
	if err != nil {
		t.Fatalf("MQTT 3.1.1 connect = 0x%02x, %v", code, err)
	}
	tok := c3.Subscribe("devices/temp-sensor-01/#", 1, nil)
	if !tok.WaitTimeout(mqWait) || tok.Error() != nil {
		t.Fatalf("MQTT 3.1.1 Subscribe: %v", tok.Error())
	}
	if got := tok.(*mqtt3.SubscribeToken).Result()["devices/temp-sensor-01/#"]; got != 0x80 {
		t.Errorf("MQTT 3.1.1 SUBACK for device 1's topics = 0x%02x, want 0x80", got)
	}
	start := time.Now()
	c3.Publish("devices/temp-sensor-01/telemetry", 1, false, "intruder")
	c3.lostWithin(t, "MQTT 3.1.1 publisher on another device's topic", start, mqWait)
	c1.none(t, "device 1")
}

func TestMQTTRevocationDisconnects(t *testing.T) {
	f := newMQFixture(t)
	ctx := context.Background()
	d1 := f.device("temp-sensor-01")
	d2 := f.device("temp-sensor-02")
	c1 := f.mustConnect5(d1, "temp-sensor-01")
	c2, code, err := f.connect3(d2, "temp-sensor-02")
	if err != nil {
		t.Fatalf("MQTT 3.1.1 connect = 0x%02x, %v", code, err)
	}

	start := time.Now()
	f.setStatus(d1, types.CertificateStatusInactive)
	c1.endedWithin(t, "INACTIVE certificate", start, mqPromptly)
	f.refused5("reconnect with the INACTIVE certificate", d1, "temp-sensor-01", 0x86)

	start = time.Now()
	f.setStatus(d2, types.CertificateStatusRevoked)
	c2.lostWithin(t, "REVOKED certificate (MQTT 3.1.1)", start, mqPromptly)

	// A registered CA leaves ACTIVE: the devices it issued are disconnected.
	foreignCA, err := pki.NewCA(pki.CAOptions{CommonName: "Customer CA"})
	if err != nil {
		t.Fatal(err)
	}
	caOut := must[*iot.RegisterCACertificateOutput](t, "RegisterCACertificate")(f.c.RegisterCACertificate(ctx, &iot.RegisterCACertificateInput{
		CaCertificate: aws.String(string(foreignCA.PEM())), CertificateMode: types.CertificateModeSniOnly, SetAsActive: true}))
	d3, pemText := foreignDevice(t, foreignCA, "temp-sensor-03")
	reg := must[*iot.RegisterCertificateOutput](t, "RegisterCertificate")(f.c.RegisterCertificate(ctx, &iot.RegisterCertificateInput{
		CertificatePem: aws.String(pemText), Status: types.CertificateStatusActive}))
	d3.arn = aws.ToString(reg.CertificateArn)
	attachPolicy(t, f.c, "seed-device-policy", d3.arn)
	f.thing("temp-sensor-03", d3)
	c3 := f.mustConnect5(d3, "temp-sensor-03")
	start = time.Now()
	must[*iot.UpdateCACertificateOutput](t, "UpdateCACertificate")(f.c.UpdateCACertificate(ctx, &iot.UpdateCACertificateInput{
		CertificateId: caOut.CertificateId, NewStatus: types.CACertificateStatusInactive}))
	c3.endedWithin(t, "certificate of an INACTIVE CA", start, mqPromptly)
}

func TestMQTTPolicyChangesReachLiveSessions(t *testing.T) {
	f := newMQFixture(t)
	ctx := context.Background()
	createPolicy(t, f.c, "connect-as-thing", allowDoc("iot:Connect", "arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"))
	d1 := f.certificate(true, "seed-device-policy", "connect-as-thing")
	f.thing("temp-sensor-01", d1)
	d2 := f.device("temp-sensor-02")
	c1 := f.mustConnect5(d1, "temp-sensor-01")
	c2 := f.mustConnect5(d2, "temp-sensor-02")
	c1.mustPublish(t, "devices/temp-sensor-01/telemetry", "before")

	// The policy that grants publishing is detached; connecting is still
	// allowed: the connection stays and the next publish is refused.
	start := time.Now()
	must[*iot.DetachPolicyOutput](t, "DetachPolicy")(f.c.DetachPolicy(ctx, &iot.DetachPolicyInput{
		PolicyName: aws.String("seed-device-policy"), Target: aws.String(d1.arn)}))
	for {
		resp, err := c1.publish(t, "devices/temp-sensor-01/telemetry", false, "after")
		if err != nil && resp != nil && resp.ReasonCode == 0x87 {
			break
		}
		if err != nil {
			t.Fatalf("Publish after DetachPolicy = %+v, %v; want PUBACK 0x87", resp, err)
		}
		if time.Since(start) > mqPromptly {
			t.Fatalf("publishing still allowed %v after DetachPolicy", time.Since(start))
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Device 2 loses its only policy: it may no longer connect.
	start = time.Now()
	must[*iot.DetachPolicyOutput](t, "DetachPolicy")(f.c.DetachPolicy(ctx, &iot.DetachPolicyInput{
		PolicyName: aws.String("seed-device-policy"), Target: aws.String(d2.arn)}))
	c2.endedWithin(t, "device without policy", start, mqPromptly)

	// Attached again: device 1 may publish again.
	attachPolicy(t, f.c, "seed-device-policy", d1.arn)
	start = time.Now()
	for {
		if _, err := c1.publish(t, "devices/temp-sensor-01/telemetry", false, "again"); err == nil {
			break
		}
		if time.Since(start) > mqPromptly {
			t.Fatalf("publishing still refused %v after AttachPolicy", time.Since(start))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMQTTEndpointAndListeners(t *testing.T) {
	f := newMQFixture(t, func(c *Config) { c.MQTTWebSocketAddr = "127.0.0.1:0" })
	if f.addr == "" || f.addr != f.s.broker.Addr().String() {
		t.Fatalf("server.json mqttAddr = %q, want the bound %v", f.addr, f.s.broker.Addr())
	}
	if f.plain == "" || f.plain != f.s.broker.PlainAddr().String() {
		t.Fatalf("server.json mqttPlainAddr = %q, want the bound %v", f.plain, f.s.broker.PlainAddr())
	}
	st, err := readServerState(f.s.DataDir())
	if err != nil {
		t.Fatal(err)
	}
	if ws := f.s.broker.WebSocketAddr(); ws == nil || st.MQTTWebSocketAddr != ws.String() {
		t.Fatalf("server.json mqttWebSocketAddr = %q, want the bound %v", st.MQTTWebSocketAddr, ws)
	}
	ep := must[*iot.DescribeEndpointOutput](t, "DescribeEndpoint")(f.c.DescribeEndpoint(context.Background(),
		&iot.DescribeEndpointInput{EndpointType: aws.String("iot:Data-ATS")}))
	if got := aws.ToString(ep.EndpointAddress); got != f.addr {
		t.Errorf("DescribeEndpoint(iot:Data-ATS) = %q, want %q", got, f.addr)
	}

	// The plain listener takes the admin key, which may do anything.
	d1 := f.device("temp-sensor-01")
	admin, ack, err := f.connect5(nil, "admin-console", f.key.ID, f.key.Secret)
	if err != nil {
		t.Fatalf("plain listener with the admin key = %+v, %v", ack, err)
	}
	if got := admin.subscribe(t, "devices/#"); !slices.Equal(got, []byte{1}) {
		t.Errorf("admin SUBACK = %x, want [01]", got)
	}
	c1 := f.mustConnect5(d1, "temp-sensor-01")
	c1.mustPublish(t, "devices/temp-sensor-01/telemetry", "hello")
	if got := admin.next(t, "admin"); got != "devices/temp-sensor-01/telemetry hello" {
		t.Errorf("admin received %q", got)
	}
	if _, ack, err := f.connect5(nil, "intruder", f.key.ID, "wrong"); err == nil || ack == nil || ack.ReasonCode != 0x86 {
		t.Errorf("plain listener with a wrong secret = %+v, %v; want 0x86", ack, err)
	}
	if _, ack, err := f.connect5(nil, "anonymous", "", ""); err == nil || ack == nil || ack.ReasonCode != 0x86 {
		t.Errorf("plain listener without credentials = %+v, %v; want 0x86", ack, err)
	}
}
