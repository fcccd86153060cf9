package control_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/control"
	"github.com/iotdm/iotdm/internal/pki"
	"github.com/iotdm/iotdm/internal/sqlite"
)

// accessFixture is a DeviceAccess over a real SQLite store, with the
// services that change what it decides: certificates issued by the
// built-in CA (ca) or registered from a customer CA (ext), policies and the
// registry.
type accessFixture struct {
	t     testing.TB
	db    iotdm.Store
	clk   *clock
	ca    *pki.CA
	ext   *pki.CA
	certs *control.Certificates
	pols  *control.Policies
	reg   *control.Registry
	da    *control.DeviceAccess
}

func newAccessFixture(t testing.TB) *accessFixture {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "a.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := &clock{now: time.Now().UTC().Truncate(time.Second)}
	ca, err := pki.NewCA(pki.CAOptions{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ext, err := pki.NewCA(pki.CAOptions{CommonName: "Customer CA", Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	const region, account = "us-east-1", "123456789012"
	pols := control.NewPolicies(db, control.PoliciesOptions{Region: region, AccountID: account, Now: clk.Now})
	f := &accessFixture{
		t: t, db: db, clk: clk, ca: ca, ext: ext, pols: pols,
		certs: control.NewCertificates(db, ca, control.CertificatesOptions{Region: region, AccountID: account, Now: clk.Now}),
		reg:   control.NewRegistry(db, control.RegistryOptions{Region: region, AccountID: account, Now: clk.Now}),
		da:    control.NewDeviceAccess(db, ca, pols, control.DeviceAccessOptions{Region: region, AccountID: account, Now: clk.Now}),
	}
	if _, err := pols.CreatePolicy(t.Context(), &iotdm.CreatePolicyInput{PolicyName: "device", PolicyDocument: seedDevicePolicy}); err != nil {
		t.Fatal(err)
	}
	return f
}

// cert is a registered certificate as a device presents it.
type cert struct {
	id, arn string
	x509    *x509.Certificate
}

func (f *accessFixture) parse(id, arn, pemText string) cert {
	f.t.Helper()
	x, err := pki.ParseCertificatePEM([]byte(pemText))
	if err != nil {
		f.t.Fatal(err)
	}
	return cert{id: id, arn: arn, x509: x}
}

// issued creates a certificate with the built-in CA.
func (f *accessFixture) issued(active bool) cert {
	f.t.Helper()
	out, err := f.certs.CreateKeysAndCertificate(f.t.Context(), &iotdm.CreateKeysAndCertificateInput{SetAsActive: active})
	if err != nil {
		f.t.Fatal(err)
	}
	return f.parse(out.CertificateID, out.CertificateARN, out.CertificatePem)
}

// extLeaf issues a leaf certificate with the customer CA, valid until
// notAfter (zero: the default).
func (f *accessFixture) extLeaf(cn string, notAfter time.Time) string {
	f.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.t.Fatal(err)
	}
	der, err := f.ext.IssueFromPublicKey(key.Public(), pkix.Name{CommonName: cn}, pki.IssueOptions{NotAfter: notAfter})
	if err != nil {
		f.t.Fatal(err)
	}
	return string(pki.EncodeCertificatePEM(der))
}

// registered registers a customer CA certificate (SNI_ONLY, so without a
// verification certificate) and a leaf of it under it.
func (f *accessFixture) registered(cn string) (cert, string) {
	f.t.Helper()
	ctx := f.t.Context()
	_, err := f.certs.RegisterCACertificate(ctx, &iotdm.RegisterCACertificateInput{
		CACertificate: string(f.ext.PEM()), CertificateMode: iotdm.CertificateModeSNIOnly, SetAsActive: true})
	if err != nil && !iotdm.IsCode(err, iotdm.ErrResourceAlreadyExists) {
		f.t.Fatal(err)
	}
	caID := pki.CertificateID(f.ext.Certificate().Raw)
	leaf := f.extLeaf(cn, time.Time{})
	out, err := f.certs.RegisterCertificate(ctx, &iotdm.RegisterCertificateInput{CertificatePem: leaf, Status: iotdm.CertificateActive})
	if err != nil {
		f.t.Fatal(err)
	}
	return f.parse(out.CertificateID, out.CertificateARN, leaf), caID
}

// withoutCA registers a customer leaf without its CA (SNI_ONLY).
func (f *accessFixture) withoutCA(cn string, notAfter time.Time) cert {
	f.t.Helper()
	leaf := f.extLeaf(cn, notAfter)
	out, err := f.certs.RegisterCertificateWithoutCA(f.t.Context(), &iotdm.RegisterCertificateWithoutCAInput{CertificatePem: leaf, Status: iotdm.CertificateActive})
	if err != nil {
		f.t.Fatal(err)
	}
	return f.parse(out.CertificateID, out.CertificateARN, leaf)
}

// thing creates a thing, attaches c to it and the device policy to c.
func (f *accessFixture) thing(name string, c cert) {
	f.t.Helper()
	ctx := f.t.Context()
	if _, err := f.reg.CreateThing(ctx, &iotdm.CreateThingInput{ThingName: name}); err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.certs.AttachThingPrincipal(ctx, &iotdm.AttachThingPrincipalInput{ThingName: name, Principal: c.arn}); err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.pols.AttachPolicy(ctx, &iotdm.AttachPolicyInput{PolicyName: "device", Target: c.arn}); err != nil {
		f.t.Fatal(err)
	}
}

// twoDevices makes the seed stack's two devices, temp-sensor-01 and
// temp-sensor-02, each with its own certificate and the device policy.
func (f *accessFixture) twoDevices() (cert, cert) {
	f.t.Helper()
	c1 := f.issued(true)
	f.thing("temp-sensor-01", c1)
	c2 := f.issued(true)
	f.thing("temp-sensor-02", c2)
	return c1, c2
}

func (f *accessFixture) auth(c cert, clientID string) (*control.DeviceSession, error) {
	return f.da.Authenticate(f.t.Context(), []*x509.Certificate{c.x509}, clientID, "192.0.2.10")
}

func (f *accessFixture) mustAuth(c cert, clientID string) *control.DeviceSession {
	f.t.Helper()
	s, err := f.auth(c, clientID)
	if err != nil {
		f.t.Fatalf("Authenticate(%s): %v", clientID, err)
	}
	return s
}

func (f *accessFixture) setStatus(c cert, status string) {
	f.t.Helper()
	if _, err := f.certs.UpdateCertificate(f.t.Context(), &iotdm.UpdateCertificateInput{CertificateID: c.id, NewStatus: status}); err != nil {
		f.t.Fatal(err)
	}
}

func TestDeviceAccessAuthenticate(t *testing.T) {
	f := newAccessFixture(t)
	ctx := t.Context()

	own, _ := f.twoDevices()
	inactive := f.issued(false)
	f.thing("inactive-01", inactive)
	revoked := f.issued(true)
	f.thing("revoked-01", revoked)
	f.setStatus(revoked, iotdm.CertificateRevoked)
	underCA, caID := f.registered("registered-01")
	f.thing("registered-01", underCA)
	sni := f.withoutCA("sni-01", time.Time{})
	f.thing("sni-01", sni)
	expiring := f.withoutCA("expiring-01", f.clk.Now().Add(time.Hour))
	f.thing("expiring-01", expiring)

	// Issued by a CA nobody registered, with a key never seen.
	stranger, err := pki.NewCA(pki.CAOptions{CommonName: "Stranger"})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := stranger.IssueFromPublicKey(key.Public(), pkix.Name{CommonName: "temp-sensor-01"}, pki.IssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	unknown := f.parse(pki.CertificateID(der), "", string(pki.EncodeCertificatePEM(der)))

	s := f.mustAuth(own, "temp-sensor-01")
	if s.Principal() != own.arn || s.CertificateID() != own.id || s.ClientID() != "temp-sensor-01" || s.ThingName() != "temp-sensor-01" {
		t.Errorf("session = %s %s %s %s, want the certificate's and the thing's", s.Principal(), s.CertificateID(), s.ClientID(), s.ThingName())
	}
	if got := s.PolicyNames(); len(got) != 1 || got[0] != "device" {
		t.Errorf("PolicyNames = %v, want [device]", got)
	}
	f.mustAuth(underCA, "registered-01")
	f.mustAuth(sni, "sni-01")
	f.mustAuth(expiring, "expiring-01")

	refusals := []struct {
		name     string
		c        cert
		clientID string
		code     iotdm.ErrorCode
	}{
		{"another thing's name", own, "temp-sensor-02", iotdm.ErrUnauthorized},
		{"a name that is no thing", own, "nobody", iotdm.ErrUnauthorized},
		{"unknown certificate", unknown, "temp-sensor-01", iotdm.ErrUnrecognizedClient},
		{"INACTIVE", inactive, "inactive-01", iotdm.ErrCertificateState},
		{"REVOKED", revoked, "revoked-01", iotdm.ErrCertificateState},
	}
	for _, r := range refusals {
		if _, err := f.auth(r.c, r.clientID); iotdm.CodeOf(err) != r.code {
			t.Errorf("%s: Authenticate = %v, want %s", r.name, err, r.code)
		}
	}
	if _, err := f.da.Authenticate(ctx, nil, "temp-sensor-01", ""); iotdm.CodeOf(err) != iotdm.ErrUnrecognizedClient {
		t.Errorf("no certificate: Authenticate = %v, want UnrecognizedClientException", err)
	}

	// A device access whose built-in CA is another one (the data
	// directory's CA was replaced) refuses what the old one issued.
	otherCA, err := pki.NewCA(pki.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	da2 := control.NewDeviceAccess(f.db, otherCA, f.pols, control.DeviceAccessOptions{Region: "us-east-1", AccountID: "123456789012", Now: f.clk.Now})
	if _, err := da2.Authenticate(ctx, []*x509.Certificate{own.x509}, "temp-sensor-01", ""); iotdm.CodeOf(err) != iotdm.ErrCertificateValidation {
		t.Errorf("foreign built-in CA: Authenticate = %v, want CertificateValidationException", err)
	}

	// The registered CA leaves ACTIVE: its certificates are refused.
	if _, err := f.certs.UpdateCACertificate(ctx, &iotdm.UpdateCACertificateInput{CertificateID: caID, NewStatus: iotdm.CACertificateInactive}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.auth(underCA, "registered-01"); iotdm.CodeOf(err) != iotdm.ErrCertificateState {
		t.Errorf("CA INACTIVE: Authenticate = %v, want CertificateStateException", err)
	}

	// Time passes beyond the certificate's validity.
	f.clk.advance(2 * time.Hour)
	if _, err := f.auth(expiring, "expiring-01"); iotdm.CodeOf(err) != iotdm.ErrCertificateValidation {
		t.Errorf("expired: Authenticate = %v, want CertificateValidationException", err)
	}
}

func TestDeviceSessionAllowed(t *testing.T) {
	f := newAccessFixture(t)
	c := f.issued(true)
	f.thing("temp-sensor-01", c)
	s := f.mustAuth(c, "temp-sensor-01")
	tests := []struct {
		action, resource string
		want             bool
	}{
		{"iot:Connect", "client/temp-sensor-01", true},
		{"iot:Connect", "client/temp-sensor-02", false},
		{"iot:Publish", "topic/devices/temp-sensor-01/telemetry", true},
		{"iot:Receive", "topic/devices/temp-sensor-01/cmd", true},
		{"iot:Publish", "topic/devices/temp-sensor-02/telemetry", false},
		{"iot:Subscribe", "topicfilter/devices/temp-sensor-01/#", true},
		{"iot:Subscribe", "topicfilter/devices/+/#", false},
		{"iot:Publish", "topic/$aws/things/temp-sensor-01/shadow/update", true},
		{"iot:Subscribe", "topicfilter/$aws/things/temp-sensor-01/shadow/update/accepted", true},
		{"iot:RetainPublish", "topic/devices/temp-sensor-01/state", false},
		// Longer than the stack buffer: the same answer.
		{"iot:Publish", "topic/devices/temp-sensor-01/" + strings.Repeat("x", 600), true},
		{"iot:Publish", "topic/devices/temp-sensor-02/" + strings.Repeat("x", 600), false},
	}
	for _, tt := range tests {
		if got := s.Allowed(tt.action, tt.resource); got != tt.want {
			t.Errorf("Allowed(%s, %.60s) = %v, want %v", tt.action, tt.resource, got, tt.want)
		}
	}
	if allocs := testing.AllocsPerRun(100, func() { s.Allowed("iot:Publish", "topic/devices/temp-sensor-01/telemetry") }); allocs != 0 {
		t.Errorf("Allowed allocates %v times per call, want 0", allocs)
	}
}

// fakeSink is a broker's registry of sessions: Reauthorize authenticates
// the matching ones again, as the broker does.
type fakeSink struct {
	t     testing.TB
	da    *control.DeviceAccess
	mu    sync.Mutex
	live  map[string]*control.DeviceSession // by client id
	certs map[string]*x509.Certificate
	// What happened, by client id ("disconnect <certificateId>" for
	// Disconnect), in order.
	events chan string
}

func newFakeSink(t testing.TB, da *control.DeviceAccess) *fakeSink {
	return &fakeSink{t: t, da: da, live: map[string]*control.DeviceSession{}, certs: map[string]*x509.Certificate{}, events: make(chan string, 100)}
}

func (k *fakeSink) register(s *control.DeviceSession, c cert) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.live[s.ClientID()] = s
	k.certs[s.ClientID()] = c.x509
}

func (k *fakeSink) session(clientID string) *control.DeviceSession {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.live[clientID]
}

func (k *fakeSink) Disconnect(certificateID string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for id, s := range k.live {
		if s.CertificateID() == certificateID {
			delete(k.live, id)
		}
	}
	k.events <- "disconnect " + certificateID
}

func (k *fakeSink) Reauthorize(ctx context.Context, filter func(*control.DeviceSession) bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for id, s := range k.live {
		if !filter(s) {
			continue
		}
		ns, err := k.da.Authenticate(ctx, []*x509.Certificate{k.certs[id]}, id, "192.0.2.10")
		if err != nil {
			delete(k.live, id)
			k.events <- "refused " + id
			continue
		}
		k.live[id] = ns
		k.events <- "reauthorized " + id
	}
}

// expect waits up to a second for the event want; others before it fail
// the test.
func (k *fakeSink) expect(want string) {
	k.t.Helper()
	select {
	case got := <-k.events:
		if got != want {
			k.t.Fatalf("sink event = %q, want %q", got, want)
		}
	case <-time.After(time.Second):
		k.t.Fatalf("no %q within a second", want)
	}
}

// quiet checks that nothing happens for a while.
func (k *fakeSink) quiet() {
	k.t.Helper()
	select {
	case got := <-k.events:
		k.t.Fatalf("unexpected sink event %q", got)
	case <-time.After(200 * time.Millisecond):
	}
}

// follow runs the device access's follower into a fake sink until the test
// ends.
func (f *accessFixture) follow() *fakeSink {
	f.t.Helper()
	sink := newFakeSink(f.t, f.da)
	from, err := f.db.LastSeq(f.t.Context())
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.da.Follow(ctx, from, sink) }()
	f.t.Cleanup(func() {
		cancel()
		if err := <-done; err != context.Canceled {
			f.t.Errorf("Follow = %v, want context.Canceled", err)
		}
	})
	return sink
}

func TestDeviceAccessFollowRevokes(t *testing.T) {
	f := newAccessFixture(t)
	ctx := t.Context()
	c1, c2 := f.twoDevices()
	underCA, caID := f.registered("registered-01")
	f.thing("registered-01", underCA)
	sink := f.follow()

	s1 := f.mustAuth(c1, "temp-sensor-01")
	sink.register(s1, c1)
	s2 := f.mustAuth(c2, "temp-sensor-02")
	sink.register(s2, c2)
	s3 := f.mustAuth(underCA, "registered-01")
	sink.register(s3, underCA)

	f.setStatus(c1, iotdm.CertificateInactive)
	sink.expect("disconnect " + c1.id)
	if s1.Allowed("iot:Publish", "topic/devices/temp-sensor-01/x") {
		t.Errorf("a revoked session still allows publishing")
	}
	if !s2.Allowed("iot:Publish", "topic/devices/temp-sensor-02/x") {
		t.Errorf("another certificate's session lost its rights")
	}

	if _, err := f.certs.UpdateCACertificate(ctx, &iotdm.UpdateCACertificateInput{CertificateID: caID, NewStatus: iotdm.CACertificateInactive}); err != nil {
		t.Fatal(err)
	}
	sink.expect("disconnect " + underCA.id)
	if s3.Allowed("iot:Publish", "topic/devices/registered-01/x") {
		t.Errorf("the session of a certificate whose CA left ACTIVE still allows publishing")
	}
	sink.quiet()
}

func TestDeviceAccessFollowReauthorizes(t *testing.T) {
	f := newAccessFixture(t)
	ctx := t.Context()
	c1, c2 := f.twoDevices()
	if _, err := f.reg.CreateThingGroup(ctx, &iotdm.CreateThingGroupInput{ThingGroupName: "building-a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.reg.CreateThingGroup(ctx, &iotdm.CreateThingGroupInput{ThingGroupName: "floor-1", ParentGroupName: "building-a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.reg.AddThingToThingGroup(ctx, &iotdm.AddThingToThingGroupInput{ThingGroupName: "floor-1", ThingName: "temp-sensor-01"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.pols.CreatePolicy(ctx, &iotdm.CreatePolicyInput{PolicyName: "broadcast",
		PolicyDocument: allowPolicy("iot:Publish", iotARN+"topic/broadcast")}); err != nil {
		t.Fatal(err)
	}
	sink := f.follow()
	sink.register(f.mustAuth(c1, "temp-sensor-01"), c1)
	sink.register(f.mustAuth(c2, "temp-sensor-02"), c2)

	// An unrelated thing changes: nobody is reauthorized.
	if _, err := f.reg.CreateThing(ctx, &iotdm.CreateThingInput{ThingName: "bystander"}); err != nil {
		t.Fatal(err)
	}
	sink.quiet()

	// A policy attached to an ancestor of the thing's group applies.
	if _, err := f.pols.AttachPolicy(ctx, &iotdm.AttachPolicyInput{PolicyName: "broadcast", Target: iotARN + "thinggroup/building-a"}); err != nil {
		t.Fatal(err)
	}
	sink.expect("reauthorized temp-sensor-01")
	sink.quiet()
	if !sink.session("temp-sensor-01").Allowed("iot:Publish", "topic/broadcast") {
		t.Errorf("the group policy does not apply after reauthorization")
	}

	// The thing's attributes change: its session only.
	if _, err := f.reg.UpdateThing(ctx, &iotdm.UpdateThingInput{ThingName: "temp-sensor-02",
		AttributePayload: &iotdm.AttributePayload{Attributes: map[string]string{"floor": "2"}}}); err != nil {
		t.Fatal(err)
	}
	sink.expect("reauthorized temp-sensor-02")
	sink.quiet()

	// The device policy is detached from device 2: it may no longer connect.
	if _, err := f.pols.DetachPolicy(ctx, &iotdm.DetachPolicyInput{PolicyName: "device", Target: c2.arn}); err != nil {
		t.Fatal(err)
	}
	sink.expect("refused temp-sensor-02")
	sink.quiet()

	// A new default version of the device policy reaches device 1.
	if _, err := f.pols.CreatePolicyVersion(ctx, &iotdm.CreatePolicyVersionInput{PolicyName: "device", SetAsDefault: true,
		PolicyDocument: allowPolicy("iot:Connect", iotARN+"client/${iot:Connection.Thing.ThingName}")}); err != nil {
		t.Fatal(err)
	}
	sink.expect("reauthorized temp-sensor-01")
	if sink.session("temp-sensor-01").Allowed("iot:Publish", "topic/devices/temp-sensor-01/x") {
		t.Errorf("the old policy version still applies")
	}
}

// TestDeviceAccessFollowRecentSessions covers the sessions the broker has
// not registered yet when a change is applied: they are revoked or
// reauthorized once it has.
func TestDeviceAccessFollowRecentSessions(t *testing.T) {
	f := newAccessFixture(t)
	c1, c2 := f.twoDevices()
	sink := f.follow()

	s1 := f.mustAuth(c1, "temp-sensor-01") // not registered yet
	s2 := f.mustAuth(c2, "temp-sensor-02")
	f.setStatus(c1, iotdm.CertificateRevoked)
	sink.expect("disconnect " + c1.id) // the follower's own, which s1 missed
	if _, err := f.pols.DetachPolicy(t.Context(), &iotdm.DetachPolicyInput{PolicyName: "device", Target: c2.arn}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Second)
	for s1.Allowed("iot:Publish", "topic/devices/temp-sensor-01/x") {
		if time.Now().After(deadline) {
			t.Fatal("a recent session of a revoked certificate still allows publishing")
		}
		time.Sleep(5 * time.Millisecond)
	}
	sink.register(s1, c1)
	sink.register(s2, c2)
	got := map[string]bool{}
	for range 2 {
		select {
		case ev := <-sink.events:
			got[ev] = true
		case <-time.After(time.Second):
			t.Fatalf("sweeper events = %v, want the revoked session ended and the other refused", got)
		}
	}
	if !got["disconnect "+c1.id] || !got["refused temp-sensor-02"] {
		t.Errorf("sweeper events = %v, want the revoked session ended and the other refused", got)
	}
	sink.quiet()
}

// BenchmarkDeviceSessionAllowed measures the broker's per-packet question
// with the seed device policy: publish, receive and subscribe checks,
// allowed and denied.
func BenchmarkDeviceSessionAllowed(b *testing.B) {
	f := newAccessFixture(b)
	c := f.issued(true)
	f.thing("temp-sensor-01", c)
	s := f.mustAuth(c, "temp-sensor-01")
	reqs := [][2]string{
		{"iot:Publish", "topic/devices/temp-sensor-01/telemetry"},
		{"iot:Receive", "topic/devices/temp-sensor-01/cmd"},
		{"iot:Publish", "topic/devices/temp-sensor-02/telemetry"},
		{"iot:Subscribe", "topicfilter/$aws/things/temp-sensor-01/shadow/update/accepted"},
		{"iot:Subscribe", "topicfilter/devices/+/telemetry"},
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r := &reqs[i%len(reqs)]
		s.Allowed(r[0], r[1])
	}
}
