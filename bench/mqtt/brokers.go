package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/iotdm/iotdm/bench/internal/child"
	"github.com/iotdm/iotdm/bench/internal/host"
	"github.com/iotdm/iotdm/internal/pki"
)

// Broker names, in the order of the first round (later rounds alternate).
const (
	brokerIotdm     = "iotdm"
	brokerMosquitto = "mosquitto"
)

const (
	benchAccessKey = "AKIAIOTDMMQTTBENCH00"
	benchSecretKey = "iotdm-mqtt-bench-secret-key-00000000000"
	benchPolicy    = "bench-mqtt"
)

// target is one broker under test: how to reach it, who to be, and the
// process to measure.
type target struct {
	name  string
	addr  string // host:port of the MQTT over TLS listener
	proc  *child.Process
	tls   []*tls.Config // one per device certificate
	about string        // what it is, for the report
	// metrics is the URL of the broker's Prometheus metrics (iotdm's
	// /metrics; "" for mosquitto).
	metrics string

	restart func(ctx context.Context) error // a fresh process, same identities
	stop    func()
}

// tlsConfig is the client TLS configuration of connection i: device
// certificate i mod N.
func (t *target) tlsConfig(i int) *tls.Config { return t.tls[i%len(t.tls)] }

// clientTLS returns the client configurations for certs, trusting roots.
// The server's chain is verified against roots; its host name is not (the
// brokers are reached by IP and name their certificates differently), the
// same for both brokers. No session cache: every handshake is a full one.
func clientTLS(roots *x509.CertPool, certs []tls.Certificate) []*tls.Config {
	verify := func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("no server certificate")
		}
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		return err
	}
	out := make([]*tls.Config, len(certs))
	for i := range certs {
		out[i] = &tls.Config{
			Certificates:       certs[i : i+1],
			InsecureSkipVerify: true, // replaced by VerifyConnection: chain yes, host name no
			VerifyConnection:   verify,
			MinVersion:         tls.VersionTLS12,
		}
	}
	return out
}

// deviceKey is a device's ECDSA P-256 key and its CSR.
type deviceKey struct {
	key    *ecdsa.PrivateKey
	csrPEM []byte
}

func newDeviceKeys(n int) ([]deviceKey, error) {
	out := make([]deviceKey, n)
	for i := range out {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
			Subject: pkix.Name{CommonName: fmt.Sprintf("bench-device-%d", i)}}, key)
		if err != nil {
			return nil, err
		}
		out[i] = deviceKey{key: key, csrPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})}
	}
	return out, nil
}

func keyPair(certPEM []byte, key *ecdsa.PrivateKey) (tls.Certificate, error) {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
}

// errNoBroker says that cmd/iotdm serve does not run an MQTT broker (yet).
var errNoBroker = errors.New("iotdm serve does not run the MQTT broker: server.json has no mqttAddr")

// iotdmState is what the bench reads of DATA-DIR/server.json.
type iotdmState struct {
	PID       int    `json:"pid"`
	Endpoint  string `json:"endpoint"`
	MQTTAddr  string `json:"mqttAddr"`
	Region    string `json:"region"`
	AccountID string `json:"accountId"`
}

// startIotdm builds cmd/iotdm, starts `serve` on a fresh data directory
// with bench credentials, and provisions the bench policy and certs device
// certificates through the AWS API.
func startIotdm(ctx context.Context, root, dir string, certs int, keys []deviceKey) (*target, error) {
	bin := filepath.Join(dir, "iotdm")
	logf("building ./cmd/iotdm")
	if err := host.GoBuild(ctx, root, "./cmd/iotdm", bin); err != nil {
		return nil, err
	}
	dataDir := filepath.Join(dir, "iotdm-data")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	t := &target{name: brokerIotdm}
	var st iotdmState
	start := func(ctx context.Context) error {
		p, err := child.Start(brokerIotdm, filepath.Join(dir, "iotdm.log"),
			[]string{"IOTDM_ACCESS_KEY_ID=" + benchAccessKey, "IOTDM_SECRET_ACCESS_KEY=" + benchSecretKey},
			bin, "serve", "--data-dir", dataDir, "--http-addr", "127.0.0.1:0", "--mqtt-addr", "127.0.0.1:0")
		if err != nil {
			return err
		}
		t.proc = p
		st, err = waitIotdm(ctx, p, dataDir, time.Minute)
		if err != nil {
			p.Stop(5 * time.Second)
			return err
		}
		if st.MQTTAddr == "" {
			p.Stop(5 * time.Second)
			return errNoBroker
		}
		t.addr = st.MQTTAddr
		t.metrics = st.Endpoint + "/metrics"
		return waitTCP(ctx, p, t.addr, 30*time.Second)
	}
	t.stop = func() { t.proc.Stop(20 * time.Second) }
	t.restart = func(ctx context.Context) error {
		t.stop()
		return start(ctx)
	}
	logf("starting iotdm serve")
	if err := start(ctx); err != nil {
		return nil, err
	}

	caPEM, err := os.ReadFile(filepath.Join(dataDir, "ca.pem"))
	if err != nil {
		t.stop()
		return nil, fmt.Errorf("iotdm CA: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.stop()
		return nil, errors.New("iotdm CA: no certificate in ca.pem")
	}
	logf("provisioning iotdm: policy %s and %d device certificates (CreateCertificateFromCsr)", benchPolicy, certs)
	tc, err := provisionIotdm(ctx, st, keys[:certs])
	if err != nil {
		t.stop()
		return nil, fmt.Errorf("provision iotdm: %w", err)
	}
	t.tls = clientTLS(roots, tc)
	t.about = "iotdm serve, mochi-mqtt core, every packet authorized by the AWS IoT policy"
	return t, nil
}

// waitIotdm waits until DATA-DIR/server.json describes the process and its
// /healthz answers 200.
func waitIotdm(ctx context.Context, p *child.Process, dataDir string, timeout time.Duration) (iotdmState, error) {
	deadline := time.Now().Add(timeout)
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	var st iotdmState
	for {
		if p.Exited() {
			return st, fmt.Errorf("iotdm exited during start (%v); log tail:\n%s", p.WaitErr(), p.LogTail(2000))
		}
		if time.Now().After(deadline) {
			return st, fmt.Errorf("iotdm not ready after %v; log tail:\n%s", timeout, p.LogTail(2000))
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		b, err := os.ReadFile(filepath.Join(dataDir, "server.json"))
		if err != nil || json.Unmarshal(b, &st) != nil || st.PID != p.Pid() || st.Endpoint == "" {
			continue
		}
		resp, err := hc.Get(st.Endpoint + "/healthz")
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return st, nil
		}
	}
}

// policyDocument allows the bench's client ids and topics only, so that
// the broker checks a real policy on every packet.
func policyDocument(region, account string) string {
	arn := "arn:aws:iot:" + region + ":" + account + ":"
	doc := map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{
			{"Effect": "Allow", "Action": "iot:Connect", "Resource": arn + "client/bench-*"},
			{"Effect": "Allow", "Action": []string{"iot:Publish", "iot:Receive"}, "Resource": arn + "topic/bench/*"},
			{"Effect": "Allow", "Action": "iot:Subscribe", "Resource": arn + "topicfilter/bench/*"},
		},
	}
	b, _ := json.Marshal(doc)
	return string(b)
}

// provisionIotdm creates the policy, then a certificate per key from its
// CSR (active), with the policy attached.
func provisionIotdm(ctx context.Context, st iotdmState, keys []deviceKey) ([]tls.Certificate, error) {
	region := st.Region
	if region == "" {
		region = "us-east-1"
	}
	account := st.AccountID
	if account == "" {
		account = "123456789012"
	}
	api := iot.New(iot.Options{
		Region:       region,
		BaseEndpoint: aws.String(st.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(benchAccessKey, benchSecretKey, ""),
		HTTPClient:   &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: nil}},
	})
	if _, err := api.CreatePolicy(ctx, &iot.CreatePolicyInput{
		PolicyName: aws.String(benchPolicy), PolicyDocument: aws.String(policyDocument(region, account)),
	}); err != nil && !strings.Contains(err.Error(), "ResourceAlreadyExists") {
		return nil, fmt.Errorf("CreatePolicy: %w", err)
	}
	out := make([]tls.Certificate, len(keys))
	for i, k := range keys {
		cr, err := api.CreateCertificateFromCsr(ctx, &iot.CreateCertificateFromCsrInput{
			CertificateSigningRequest: aws.String(string(k.csrPEM)), SetAsActive: true,
		})
		if err != nil {
			return nil, fmt.Errorf("CreateCertificateFromCsr: %w", err)
		}
		if _, err := api.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(benchPolicy), Target: cr.CertificateArn}); err != nil {
			return nil, fmt.Errorf("AttachPolicy: %w", err)
		}
		if out[i], err = keyPair([]byte(aws.ToString(cr.CertificatePem)), k.key); err != nil {
			return nil, fmt.Errorf("device certificate %d: %w", i, err)
		}
	}
	return out, nil
}

// mosquittoBin finds the mosquitto broker: on the PATH, else where Debian
// puts it.
func mosquittoBin() (string, error) {
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", errors.New("mosquitto not found: install it (Debian/Ubuntu: apt-get install mosquitto; macOS: brew install mosquitto)")
}

// startMosquitto writes a throwaway CA (internal/pki, the CA code iotdm
// uses: ECDSA P-256, server certificate with the CA in its chain), the
// broker's certificate, the device certificates and a mosquitto.conf with
// one mutual-TLS listener and an ACL granting the bench's topics, and
// starts mosquitto.
func startMosquitto(ctx context.Context, dir string, keys []deviceKey) (*target, error) {
	bin, err := mosquittoBin()
	if err != nil {
		return nil, err
	}
	mdir := filepath.Join(dir, "mosquitto")
	if err := os.MkdirAll(mdir, 0o755); err != nil {
		return nil, err
	}
	ca, err := pki.NewCA(pki.CAOptions{CommonName: "bench mosquitto CA"})
	if err != nil {
		return nil, err
	}
	srv, err := ca.ServerCertificate([]string{"127.0.0.1", "localhost"})
	if err != nil {
		return nil, err
	}
	var chain []byte
	for _, der := range srv.Certificate {
		chain = append(chain, pki.EncodeCertificatePEM(der)...)
	}
	srvKey, err := x509.MarshalPKCS8PrivateKey(srv.PrivateKey)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		"ca.pem":     ca.PEM(),
		"server.pem": chain,
		"server.key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: srvKey}),
		"acl":        aclFile(len(keys)),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(mdir, name), b, 0o644); err != nil {
			return nil, err
		}
	}
	certs := make([]tls.Certificate, len(keys))
	for i, k := range keys {
		certPEM, _, err := ca.IssueFromCSR(k.csrPEM)
		if err != nil {
			return nil, fmt.Errorf("mosquitto device certificate: %w", err)
		}
		if certs[i], err = keyPair(certPEM, k.key); err != nil {
			return nil, err
		}
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate())

	t := &target{name: brokerMosquitto, tls: clientTLS(roots, certs)}
	conf := filepath.Join(mdir, "mosquitto.conf")
	start := func(ctx context.Context) error {
		port, err := child.FreePort()
		if err != nil {
			return err
		}
		t.addr = "127.0.0.1:" + strconv.Itoa(port)
		if err := os.WriteFile(conf, []byte(mosquittoConf(mdir, port)), 0o644); err != nil {
			return err
		}
		p, err := child.Start(brokerMosquitto, filepath.Join(dir, "mosquitto.log"), nil, bin, "-c", conf)
		if err != nil {
			return err
		}
		t.proc = p
		if err := waitTCP(ctx, p, t.addr, 30*time.Second); err != nil {
			p.Stop(5 * time.Second)
			return err
		}
		return nil
	}
	t.stop = func() { t.proc.Stop(10 * time.Second) }
	t.restart = func(ctx context.Context) error {
		t.stop()
		return start(ctx)
	}
	if err := start(ctx); err != nil {
		return nil, err
	}
	out, _ := exec.Command(bin, "-h").Output()
	version, _, _ := strings.Cut(string(out), "\n")
	t.about = strings.TrimSpace(version) + ", TLS listener with require_certificate, use_identity_as_username and an ACL file"
	return t, nil
}

// aclFile grants each device (use_identity_as_username: the user is the
// certificate's CN, bench-device-N) bench/# and nothing else. ("topic"
// lines before any "user" line would apply to anonymous clients only.)
func aclFile(devices int) []byte {
	var b strings.Builder
	for i := range devices {
		fmt.Fprintf(&b, "user bench-device-%d\ntopic readwrite bench/#\n\n", i)
	}
	return []byte(b.String())
}

// mosquittoConf is the broker's configuration: one mutual-TLS listener on
// 127.0.0.1:port, no persistence, no connection limit, TCP_NODELAY (as Go
// sets it), 1000 queued QoS 1 messages per client (as iotdm), and no limit
// on QoS 1 messages in flight to a client: with a limit (the default 20, or
// 100 as iotdm), mosquitto 2.0.11 (Debian 12) stops sending to a subscriber
// now and then with a few messages logged as sent that never reach the
// socket, and then drops what it queues; the bench's end-to-end window
// (subBudget) bounds what is in flight anyway.
func mosquittoConf(dir string, port int) string {
	var b strings.Builder
	if os.Geteuid() == 0 {
		// mosquitto drops root privileges to the "mosquitto" user by
		// default, which may not read this directory.
		b.WriteString("user root\n")
	}
	fmt.Fprintf(&b, `per_listener_settings false
persistence false
log_dest stderr
log_type error
log_type warning
set_tcp_nodelay true
max_inflight_messages 0
max_queued_messages 1000
allow_anonymous false
acl_file %s
listener %d 127.0.0.1
max_connections -1
cafile %s
certfile %s
keyfile %s
require_certificate true
use_identity_as_username true
`, filepath.Join(dir, "acl"), port, filepath.Join(dir, "ca.pem"), filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key"))
	return b.String()
}

// sourceAddr is the local address of idle connection i: 127.0.0.2,
// 127.0.0.3, ... with perIP connections each, so that no source address
// runs out of ephemeral ports.
func sourceAddr(i, perIP int) net.Addr {
	k := 2 + i/perIP
	return &net.TCPAddr{IP: net.IPv4(127, byte(k>>16), byte(k>>8), byte(k))}
}

// checkEnforcement shows that the broker enforces its policy (iotdm) or
// ACL (mosquitto): a SUBSCRIBE to other/# must be refused, or granted
// without delivering a message published to other/x (mosquitto grants
// 3.1.1 subscriptions and checks on delivery); on iotdm, a client id outside
// client/bench-* must be refused too. It returns what was checked, and the
// TLS parameters the bench's client negotiated.
func checkEnforcement(ctx context.Context, t *target) (string, error) {
	var what []string
	if t.name == brokerIotdm {
		c, err := dialMQTT(ctx, t.addr, t.tlsConfig(0), nil, "other-client", throughputKeepAlive)
		if err == nil {
			c.disconnect(time.Second)
			return "", errors.New("client id other-client was allowed to connect")
		}
		if !strings.Contains(err.Error(), "return code 5") {
			return "", fmt.Errorf("client id other-client: %w", err)
		}
		what = append(what, "client id other-client refused (CONNACK 5)")
	}
	sub, err := dialMQTT(ctx, t.addr, t.tlsConfig(0), nil, "bench-check-sub", throughputKeepAlive)
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	defer sub.close()
	if tc, ok := sub.nc.(*tls.Conn); ok {
		cs := tc.ConnectionState()
		what = append([]string{fmt.Sprintf("negotiated %s, %s, key exchange %s", tls.VersionName(cs.Version), tls.CipherSuiteName(cs.CipherSuite), cs.CurveID)}, what...)
	}
	if err := sub.subscribe("other/#", 0); err != nil {
		return strings.Join(append(what, "SUBSCRIBE to other/# refused (SUBACK 0x80)"), ", "), nil
	}
	var got atomic.Int64
	sub.onPublish = func(_, _ []byte) { got.Add(1) }
	sub.start()
	pub, err := dialMQTT(ctx, t.addr, t.tlsConfig(1), nil, "bench-check-pub", throughputKeepAlive)
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	_ = pub.publish("other/x", make([]byte, 16), 0)
	_ = pub.flush()
	time.Sleep(300 * time.Millisecond)
	pub.disconnect(time.Second)
	if got.Load() > 0 {
		return "", errors.New("a message published to other/x was delivered to a subscriber of other/#")
	}
	return strings.Join(append(what, "other/# granted by SUBACK but a message to other/x not delivered"), ", "), nil
}
