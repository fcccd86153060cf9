package control_test

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
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/control"
	"github.com/iotdm/iotdm/internal/pki"
	"github.com/iotdm/iotdm/internal/sqlite"
)

// These tests drive provisioning on a real SQLite store: the control plane
// of provisioning templates, and fleet provisioning by claim through
// HandleMQTT with a publisher that records the replies, as the broker
// would deliver them.

const provRegion, provAccount = "us-east-1", "123456789012"

type provClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *provClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *provClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// provMessage is one message the service published.
type provMessage struct {
	clientID string // "" when provMessage to every subscriber
	topic    string
	payload  []byte
}

// provPublisher records what the service publishes; with targeted
// set it also implements control.ClientPublisher.
type provPublisher struct {
	mu   sync.Mutex
	msgs []provMessage
}

func (p *provPublisher) Publish(_ context.Context, topic string, payload []byte, _ byte, _ bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, provMessage{topic: topic, payload: payload})
	return nil
}

func (p *provPublisher) take() []provMessage {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.msgs
	p.msgs = nil
	return out
}

// provTargetedPublisher delivers replies to one client, as the broker's
// PublishTo does.
type provTargetedPublisher struct{ *provPublisher }

func (p provTargetedPublisher) PublishTo(_ context.Context, clientID, topic string, payload []byte, _ byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, provMessage{clientID: clientID, topic: topic, payload: payload})
	return nil
}

type provFixture struct {
	db    iotdm.Store
	clk   *provClock
	ca    *pki.CA
	prov  *control.FleetProvisioning
	reg   *control.Registry
	pols  *control.Policies
	certs *control.Certificates
	da    *control.DeviceAccess
	pub   *provPublisher
	// claim is the claim certificate's ARN, the principal of requests.
	claim string
}

func newProvFixture(t *testing.T, opts ...func(*control.ProvisioningOptions)) *provFixture {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "p.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := &provClock{now: time.Now().UTC().Truncate(time.Second)}
	ca, err := pki.NewCA(pki.CAOptions{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	o := control.ProvisioningOptions{Region: provRegion, AccountID: provAccount, Now: clk.Now}
	for _, fn := range opts {
		fn(&o)
	}
	pols := control.NewPolicies(db, control.PoliciesOptions{Region: provRegion, AccountID: provAccount, Now: clk.Now})
	f := &provFixture{
		db: db, clk: clk, ca: ca, pols: pols,
		prov:  control.NewFleetProvisioning(db, ca, o),
		reg:   control.NewRegistry(db, control.RegistryOptions{Region: provRegion, AccountID: provAccount, Now: clk.Now}),
		certs: control.NewCertificates(db, ca, control.CertificatesOptions{Region: provRegion, AccountID: provAccount, Now: clk.Now}),
		da:    control.NewDeviceAccess(db, ca, pols, control.DeviceAccessOptions{Region: provRegion, AccountID: provAccount, Now: clk.Now}),
		pub:   &provPublisher{},
	}
	f.prov.SetPublisher(provTargetedPublisher{f.pub})
	ctx := t.Context()
	if _, err := pols.CreatePolicy(ctx, &iotdm.CreatePolicyInput{PolicyName: "device", PolicyDocument: seedDevicePolicy}); err != nil {
		t.Fatal(err)
	}
	claim, err := f.certs.CreateKeysAndCertificate(ctx, &iotdm.CreateKeysAndCertificateInput{SetAsActive: true})
	if err != nil {
		t.Fatal(err)
	}
	f.claim = claim.CertificateARN
	return f
}

// provTemplate provisions a thing named after SerialNumber, of type
// sensor, in group fleet, with the device policy, and tells the device its
// thing and certificate.
const provTemplate = `{
  "Parameters": {
    "SerialNumber": {"Type": "String"},
    "Firmware": {"Type": "String", "Default": "1.0"}
  },
  "Resources": {
    "thing": {"Type": "AWS::IoT::Thing", "Properties": {
      "ThingName": {"Fn::Join": ["", ["sensor-", {"Ref": "SerialNumber"}]]},
      "ThingTypeName": "sensor",
      "ThingGroups": ["fleet"],
      "AttributePayload": {"serial": {"Ref": "SerialNumber"}, "firmware": {"Ref": "Firmware"}}}},
    "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {
      "CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "ACTIVE"}},
    "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": "device"}}
  },
  "DeviceConfiguration": {
    "thing": {"Fn::Sub": "sensor-${SerialNumber}"},
    "certificate": {"Ref": "AWS::IoT::Certificate::Id"}
  }
}`

// createTemplate creates an enabled fleet provisioning template.
func (f *provFixture) createTemplate(t *testing.T, name, body string, hook *iotdm.ProvisioningHook) {
	t.Helper()
	_, err := f.prov.CreateProvisioningTemplate(t.Context(), &iotdm.CreateProvisioningTemplateInput{
		TemplateName: name, TemplateBody: body, Enabled: true, PreProvisioningHook: hook,
		ProvisioningRoleARN: "arn:aws:iam::123456789012:role/provisioning",
	})
	if err != nil {
		t.Fatalf("CreateProvisioningTemplate(%s): %v", name, err)
	}
}

// registryFor creates what provTemplate refers to.
func (f *provFixture) registryFor(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	if _, err := f.reg.CreateThingType(ctx, &iotdm.CreateThingTypeInput{ThingTypeName: "sensor"}); err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"fleet", "spares"} {
		if _, err := f.reg.CreateThingGroup(ctx, &iotdm.CreateThingGroupInput{ThingGroupName: g}); err != nil {
			t.Fatal(err)
		}
	}
}

// request publishes a request as clientID and returns the one reply.
func (f *provFixture) request(t *testing.T, clientID, topic string, payload any) provMessage {
	t.Helper()
	var body []byte
	switch p := payload.(type) {
	case nil:
	case []byte:
		body = p
	default:
		var err error
		if body, err = json.Marshal(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.prov.HandleMQTT(t.Context(), topic, body, clientID, f.claim); err != nil {
		t.Fatalf("HandleMQTT(%s) = %v", topic, err)
	}
	msgs := f.pub.take()
	if len(msgs) != 1 {
		t.Fatalf("HandleMQTT(%s) provMessage %d messages, want 1: %+v", topic, len(msgs), msgs)
	}
	if msgs[0].clientID != clientID {
		t.Errorf("HandleMQTT(%s) replied to client %q, want %q", topic, msgs[0].clientID, clientID)
	}
	return msgs[0]
}

// provAccepted makes a request that must be accepted and decodes the reply.
func provAccepted[T any](t *testing.T, f *provFixture, topic string, payload any) *T {
	t.Helper()
	m := f.request(t, "device-1", topic, payload)
	if m.topic != topic+"/accepted" {
		t.Fatalf("%s answered on %s: %s", topic, m.topic, m.payload)
	}
	v := new(T)
	if err := json.Unmarshal(m.payload, v); err != nil {
		t.Fatalf("%s/accepted: %v: %s", topic, err, m.payload)
	}
	return v
}

// rejected makes a request that must be rejected and returns the error.
func (f *provFixture) rejected(t *testing.T, topic string, payload any) iotdm.FleetProvisioningError {
	t.Helper()
	m := f.request(t, "device-1", topic, payload)
	if m.topic != topic+"/rejected" {
		t.Fatalf("%s answered on %s, want rejected: %s", topic, m.topic, m.payload)
	}
	var e iotdm.FleetProvisioningError
	if err := json.Unmarshal(m.payload, &e); err != nil {
		t.Fatalf("%s/rejected: %v: %s", topic, err, m.payload)
	}
	return e
}

func provWantRejection(t *testing.T, what string, got iotdm.FleetProvisioningError, status int, code, msg string) {
	t.Helper()
	if got.StatusCode != status || got.ErrorCode != code || !strings.Contains(got.ErrorMessage, msg) {
		t.Errorf("%s rejected with %+v, want %d %s containing %q", what, got, status, code, msg)
	}
}

const (
	provCreateTopic    = "$aws/certificates/create/json"
	provCreateCSRTopic = "$aws/certificates/create-from-csr/json"
)

func provProvisionTopic(name string) string {
	return "$aws/provisioning-templates/" + name + "/provision/json"
}

// newKeys asks for a certificate and its key over MQTT.
func (f *provFixture) newKeys(t *testing.T) *iotdm.FleetCreateKeysAndCertificateResponse {
	t.Helper()
	return provAccepted[iotdm.FleetCreateKeysAndCertificateResponse](t, f, provCreateTopic, nil)
}

func (f *provFixture) status(t *testing.T, id string) string {
	t.Helper()
	out, err := f.certs.DescribeCertificate(t.Context(), &iotdm.DescribeCertificateInput{CertificateID: id})
	if err != nil {
		t.Fatalf("DescribeCertificate(%s): %v", id, err)
	}
	return out.CertificateDescription.Status
}

func provParseLeaf(t *testing.T, certPEM string) *x509.Certificate {
	t.Helper()
	c, err := pki.ParseCertificatePEM([]byte(certPEM))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFleetProvisioningByClaim(t *testing.T) {
	f := newProvFixture(t)
	f.registryFor(t)
	f.createTemplate(t, "factory", provTemplate, nil)
	ctx := t.Context()

	keys := f.newKeys(t)
	if keys.CertificateID == "" || keys.CertificateOwnershipToken == "" || keys.PrivateKey == "" {
		t.Fatalf("create/provAccepted = %+v, want a certificate id, key and token", keys)
	}
	if _, err := tls.X509KeyPair([]byte(keys.CertificatePem), []byte(keys.PrivateKey)); err != nil {
		t.Fatalf("create/provAccepted: the key does not match the certificate: %v", err)
	}
	if got := f.status(t, keys.CertificateID); got != iotdm.CertificatePendingActivation {
		t.Errorf("new certificate is %s, want PENDING_ACTIVATION", got)
	}
	leaf := provParseLeaf(t, keys.CertificatePem)
	if _, err := f.da.Authenticate(ctx, []*x509.Certificate{leaf}, "sensor-A1", "127.0.0.1"); !iotdm.IsCode(err, iotdm.ErrCertificateState) {
		t.Errorf("Authenticate(pending certificate) = %v, want CertificateStateException", err)
	}

	req := iotdm.FleetRegisterThingRequest{CertificateOwnershipToken: keys.CertificateOwnershipToken, Parameters: map[string]string{"SerialNumber": "A1"}}
	got := provAccepted[iotdm.FleetRegisterThingResponse](t, f, provProvisionTopic("factory"), req)
	want := &iotdm.FleetRegisterThingResponse{ThingName: "sensor-A1",
		DeviceConfiguration: map[string]string{"thing": "sensor-A1", "certificate": keys.CertificateID}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("provision/provAccepted (-want +got):\n%s", diff)
	}

	t.Run("the thing, certificate, policy and attachments", func(t *testing.T) {
		thing, err := f.reg.DescribeThing(ctx, &iotdm.DescribeThingInput{ThingName: "sensor-A1"})
		if err != nil {
			t.Fatal(err)
		}
		if thing.ThingTypeName != "sensor" || !cmp.Equal(thing.Attributes, map[string]string{"serial": "A1", "firmware": "1.0"}) {
			t.Errorf("DescribeThing = %+v", thing)
		}
		if got := f.status(t, keys.CertificateID); got != iotdm.CertificateActive {
			t.Errorf("provisioned certificate is %s, want ACTIVE", got)
		}
		arn := "arn:aws:iot:us-east-1:123456789012:cert/" + keys.CertificateID
		pols, err := f.pols.ListAttachedPolicies(ctx, &iotdm.ListAttachedPoliciesInput{Target: arn})
		if err != nil || len(pols.Policies) != 1 || pols.Policies[0].PolicyName != "device" {
			t.Errorf("ListAttachedPolicies = %+v, %v, want the device policy", pols, err)
		}
		principals, err := f.certs.ListThingPrincipals(ctx, &iotdm.ListThingPrincipalsInput{ThingName: "sensor-A1"})
		if err != nil || !slices.Equal(principals.Principals, []string{arn}) {
			t.Errorf("ListThingPrincipals = %+v, %v, want the certificate", principals, err)
		}
		groups, err := f.reg.ListThingGroupsForThing(ctx, &iotdm.ListThingGroupsForThingInput{ThingName: "sensor-A1"})
		if err != nil || len(groups.ThingGroups) != 1 || groups.ThingGroups[0].GroupName != "fleet" {
			t.Errorf("ListThingGroupsForThing = %+v, %v, want fleet", groups, err)
		}
	})

	t.Run("the device connects with its new certificate", func(t *testing.T) {
		s, err := f.da.Authenticate(ctx, []*x509.Certificate{leaf}, "sensor-A1", "127.0.0.1")
		if err != nil {
			t.Fatalf("Authenticate = %v", err)
		}
		if s.ThingName() != "sensor-A1" || !s.Allowed("iot:Publish", "topic/devices/sensor-A1/telemetry") {
			t.Errorf("session thing %q; may publish its telemetry: %v", s.ThingName(), s.Allowed("iot:Publish", "topic/devices/sensor-A1/telemetry"))
		}
	})

	t.Run("the token is single-use", func(t *testing.T) {
		e := f.rejected(t, provProvisionTopic("factory"), req)
		provWantRejection(t, "a used token", e, 400, "InvalidCertificateOwnershipToken", "unknown or was used")
	})

	t.Run("a token is tied to its certificate", func(t *testing.T) {
		other := f.newKeys(t)
		got := provAccepted[iotdm.FleetRegisterThingResponse](t, f, provProvisionTopic("factory"),
			iotdm.FleetRegisterThingRequest{CertificateOwnershipToken: other.CertificateOwnershipToken, Parameters: map[string]string{"SerialNumber": "B2"}})
		if got.DeviceConfiguration["certificate"] != other.CertificateID {
			t.Errorf("provisioned certificate %s, want %s", got.DeviceConfiguration["certificate"], other.CertificateID)
		}
	})

	t.Run("from a CSR", func(t *testing.T) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "csr-device"}}, key)
		if err != nil {
			t.Fatal(err)
		}
		csr := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
		out := provAccepted[iotdm.FleetCreateCertificateFromCsrResponse](t, f, provCreateCSRTopic, iotdm.FleetCreateCertificateFromCsrRequest{CertificateSigningRequest: csr})
		c := provParseLeaf(t, out.CertificatePem)
		if c.Subject.CommonName != "csr-device" || out.CertificateOwnershipToken == "" {
			t.Errorf("create-from-csr/provAccepted = %+v", out)
		}
		provAccepted[iotdm.FleetRegisterThingResponse](t, f, provProvisionTopic("factory"),
			iotdm.FleetRegisterThingRequest{CertificateOwnershipToken: out.CertificateOwnershipToken, Parameters: map[string]string{"SerialNumber": "C3"}})
		if got := f.status(t, out.CertificateID); got != iotdm.CertificateActive {
			t.Errorf("certificate from the CSR is %s, want ACTIVE", got)
		}
		e := f.rejected(t, provCreateCSRTopic, iotdm.FleetCreateCertificateFromCsrRequest{CertificateSigningRequest: "not a CSR"})
		provWantRejection(t, "a bad CSR", e, 400, "InvalidRequest", "")
		e = f.rejected(t, provCreateCSRTopic, nil)
		provWantRejection(t, "no CSR", e, 400, "InvalidPayload", "certificateSigningRequest")
	})
}

func TestFleetProvisioningRejections(t *testing.T) {
	f := newProvFixture(t)
	f.registryFor(t)
	f.createTemplate(t, "factory", provTemplate, nil)
	ctx := t.Context()
	keys := f.newKeys(t)
	token := keys.CertificateOwnershipToken
	good := iotdm.FleetRegisterThingRequest{CertificateOwnershipToken: token, Parameters: map[string]string{"SerialNumber": "A1"}}

	tests := []struct {
		name    string
		topic   string
		payload any
		status  int
		code    string
		msg     string
	}{
		{"unknown template", provProvisionTopic("nope"), good, 404, "ResourceNotFound", "nope"},
		{"no token", provProvisionTopic("factory"), iotdm.FleetRegisterThingRequest{}, 400, "InvalidCertificateOwnershipToken", "must not be empty"},
		{"forged token", provProvisionTopic("factory"), iotdm.FleetRegisterThingRequest{CertificateOwnershipToken: "x" + token}, 400, "InvalidCertificateOwnershipToken", "unknown"},
		{"not JSON", provProvisionTopic("factory"), []byte("{oops"), 400, "InvalidPayload", ""},
		{"missing parameter", provProvisionTopic("factory"), iotdm.FleetRegisterThingRequest{CertificateOwnershipToken: token}, 400, "InvalidRequest", "SerialNumber"},
		{"parameter makes a bad thing name", provProvisionTopic("factory"),
			iotdm.FleetRegisterThingRequest{CertificateOwnershipToken: token, Parameters: map[string]string{"SerialNumber": "a b"}}, 400, "InvalidRequest", "thing name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := f.rejected(t, tt.topic, tt.payload)
			provWantRejection(t, tt.name, e, tt.status, tt.code, tt.msg)
		})
	}

	t.Run("a disabled template", func(t *testing.T) {
		f.createTemplate(t, "off", provTemplate, nil)
		if _, err := f.prov.UpdateProvisioningTemplate(ctx, &iotdm.UpdateProvisioningTemplateInput{TemplateName: "off", Enabled: provPtr(false)}); err != nil {
			t.Fatal(err)
		}
		provWantRejection(t, "disabled", f.rejected(t, provProvisionTopic("off"), good), 400, "InvalidRequest", "not enabled")
	})

	t.Run("a JITP template", func(t *testing.T) {
		_, err := f.prov.CreateProvisioningTemplate(ctx, &iotdm.CreateProvisioningTemplateInput{TemplateName: "jit", TemplateBody: provTemplate,
			Enabled: true, Type: iotdm.TemplateTypeJITP, ProvisioningRoleARN: "arn:aws:iam::123456789012:role/provisioning"})
		if err != nil {
			t.Fatal(err)
		}
		provWantRejection(t, "JITP", f.rejected(t, provProvisionTopic("jit"), good), 400, "InvalidRequest", "FLEET_PROVISIONING")
	})

	t.Run("a missing thing group rolls everything back", func(t *testing.T) {
		if _, err := f.reg.DeleteThingGroup(ctx, &iotdm.DeleteThingGroupInput{ThingGroupName: "fleet"}); err != nil {
			t.Fatal(err)
		}
		provWantRejection(t, "no group", f.rejected(t, provProvisionTopic("factory"), good), 404, "ResourceNotFound", "fleet")
		if _, err := f.reg.DescribeThing(ctx, &iotdm.DescribeThingInput{ThingName: "sensor-A1"}); !iotdm.IsCode(err, iotdm.ErrResourceNotFound) {
			t.Errorf("DescribeThing after a failed provision = %v, want ResourceNotFoundException", err)
		}
		if got := f.status(t, keys.CertificateID); got != iotdm.CertificatePendingActivation {
			t.Errorf("certificate after a failed provision is %s, want PENDING_ACTIVATION", got)
		}
	})

	t.Run("the token still works after failures", func(t *testing.T) {
		if _, err := f.reg.CreateThingGroup(ctx, &iotdm.CreateThingGroupInput{ThingGroupName: "fleet"}); err != nil {
			t.Fatal(err)
		}
		provAccepted[iotdm.FleetRegisterThingResponse](t, f, provProvisionTopic("factory"), good)
	})

	t.Run("replies are ignored, other topics too", func(t *testing.T) {
		for _, topic := range []string{provCreateTopic + "/accepted", provProvisionTopic("factory") + "/rejected", "$aws/certificates/create/xml", "$aws/certificates/other/json"} {
			if err := f.prov.HandleMQTT(ctx, topic, nil, "device-1", f.claim); err != nil {
				t.Errorf("HandleMQTT(%s) = %v", topic, err)
			}
		}
		if msgs := f.pub.take(); len(msgs) != 0 {
			t.Errorf("provMessage %+v for topics that are no request", msgs)
		}
	})
}

func TestFleetProvisioningTokensExpire(t *testing.T) {
	// Tokens live 30 seconds here, less than the minute between the sweeps
	// HandleMQTT runs, so that the expiry itself is seen.
	f := newProvFixture(t, func(o *control.ProvisioningOptions) { o.TokenTTL = 30 * time.Second })
	f.registryFor(t)
	f.createTemplate(t, "factory", provTemplate, nil)
	ctx := t.Context()
	keys := f.newKeys(t)
	f.clk.advance(30 * time.Second)
	e := f.rejected(t, provProvisionTopic("factory"), iotdm.FleetRegisterThingRequest{CertificateOwnershipToken: keys.CertificateOwnershipToken,
		Parameters: map[string]string{"SerialNumber": "A1"}})
	provWantRejection(t, "an expired token", e, 400, "InvalidCertificateOwnershipToken", "expired")
	n, err := f.prov.Sweep(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v, want 1 token", n, err)
	}
	if _, err := f.certs.DescribeCertificate(ctx, &iotdm.DescribeCertificateInput{CertificateID: keys.CertificateID}); !iotdm.IsCode(err, iotdm.ErrResourceNotFound) {
		t.Errorf("DescribeCertificate(unprovisioned after expiry) = %v, want ResourceNotFoundException", err)
	}
	// A certificate someone attached meanwhile stays.
	keys2 := f.newKeys(t)
	arn := "arn:aws:iot:us-east-1:123456789012:cert/" + keys2.CertificateID
	if _, err := f.pols.AttachPolicy(ctx, &iotdm.AttachPolicyInput{PolicyName: "device", Target: arn}); err != nil {
		t.Fatal(err)
	}
	f.clk.advance(2 * time.Hour)
	if n, err := f.prov.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v, want 1 token", n, err)
	}
	if got := f.status(t, keys2.CertificateID); got != iotdm.CertificatePendingActivation {
		t.Errorf("attached certificate after the sweep is %s, want it kept PENDING_ACTIVATION", got)
	}
}

func TestFleetProvisioningExistingThing(t *testing.T) {
	f := newProvFixture(t)
	f.registryFor(t)
	ctx := t.Context()
	if _, err := f.reg.CreateThingType(ctx, &iotdm.CreateThingTypeInput{ThingTypeName: "gateway"}); err != nil {
		t.Fatal(err)
	}
	_, err := f.reg.CreateThing(ctx, &iotdm.CreateThingInput{ThingName: "dev-1", ThingTypeName: "gateway",
		AttributePayload: &iotdm.AttributePayload{Attributes: map[string]string{"owner": "ops", "serial": "old"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.reg.AddThingToThingGroup(ctx, &iotdm.AddThingToThingGroupInput{ThingGroupName: "spares", ThingName: "dev-1"}); err != nil {
		t.Fatal(err)
	}
	body := func(overrides string) string {
		return `{"Resources": {
		  "thing": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": "dev-1", "ThingTypeName": "sensor",
		    "AttributePayload": {"serial": "new"}, "ThingGroups": ["fleet"], "OverrideSettings": ` + overrides + `}},
		  "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}}}}}`
	}
	provision := func(t *testing.T, name string) provMessage {
		keys := f.newKeys(t)
		return f.request(t, "device-1", provProvisionTopic(name), iotdm.FleetRegisterThingRequest{CertificateOwnershipToken: keys.CertificateOwnershipToken})
	}
	describe := func(t *testing.T) (*iotdm.DescribeThingOutput, []string) {
		thing, err := f.reg.DescribeThing(ctx, &iotdm.DescribeThingInput{ThingName: "dev-1"})
		if err != nil {
			t.Fatal(err)
		}
		groups, err := f.reg.ListThingGroupsForThing(ctx, &iotdm.ListThingGroupsForThingInput{ThingName: "dev-1"})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, g := range groups.ThingGroups {
			names = append(names, g.GroupName)
		}
		slices.Sort(names)
		return thing, names
	}

	t.Run("FAIL refuses a difference", func(t *testing.T) {
		f.createTemplate(t, "strict", body(`{"AttributePayload": "FAIL"}`), nil)
		m := provision(t, "strict")
		if m.topic != provProvisionTopic("strict")+"/rejected" || !strings.Contains(string(m.payload), "ResourceRegistrationFailure") {
			t.Errorf("provision = %s %s, want ResourceRegistrationFailure", m.topic, m.payload)
		}
	})
	t.Run("DO_NOTHING by default", func(t *testing.T) {
		f.createTemplate(t, "lenient", body(`{}`), nil)
		if m := provision(t, "lenient"); !strings.HasSuffix(m.topic, "/accepted") {
			t.Fatalf("provision = %s %s", m.topic, m.payload)
		}
		thing, groups := describe(t)
		if thing.ThingTypeName != "gateway" || thing.Attributes["serial"] != "old" || !slices.Equal(groups, []string{"spares"}) || thing.Version != 1 {
			t.Errorf("thing after DO_NOTHING = %+v in %v, want it unchanged", thing, groups)
		}
	})
	t.Run("MERGE and REPLACE", func(t *testing.T) {
		f.createTemplate(t, "update", body(`{"AttributePayload": "MERGE", "ThingTypeName": "REPLACE", "ThingGroups": "REPLACE"}`), nil)
		if m := provision(t, "update"); !strings.HasSuffix(m.topic, "/accepted") {
			t.Fatalf("provision = %s %s", m.topic, m.payload)
		}
		thing, groups := describe(t)
		if thing.ThingTypeName != "sensor" || !cmp.Equal(thing.Attributes, map[string]string{"owner": "ops", "serial": "new"}) ||
			!slices.Equal(groups, []string{"fleet"}) || thing.Version != 2 {
			t.Errorf("thing after MERGE/REPLACE = %+v in %v", thing, groups)
		}
		principals, err := f.certs.ListThingPrincipals(ctx, &iotdm.ListThingPrincipalsInput{ThingName: "dev-1"})
		if err != nil || len(principals.Principals) != 2 {
			t.Errorf("ListThingPrincipals = %+v, %v, want the two provisioned certificates", principals, err)
		}
	})
}

func TestFleetProvisioningPolicyDocument(t *testing.T) {
	f := newProvFixture(t)
	ctx := t.Context()
	doc := allowPolicy("iot:Connect", "arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}")
	docJSON, _ := json.Marshal(doc)
	f.createTemplate(t, "inline", `{"Parameters": {"Name": {"Type": "String"}}, "Resources": {
	  "thing": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Ref": "Name"}}},
	  "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}}},
	  "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyDocument": `+string(docJSON)+`}}}}`, nil)
	for _, name := range []string{"d1", "d2"} {
		keys := f.newKeys(t)
		provAccepted[iotdm.FleetRegisterThingResponse](t, f, provProvisionTopic("inline"),
			iotdm.FleetRegisterThingRequest{CertificateOwnershipToken: keys.CertificateOwnershipToken, Parameters: map[string]string{"Name": name}})
		if _, err := f.da.Authenticate(ctx, []*x509.Certificate{provParseLeaf(t, keys.CertificatePem)}, name, ""); err != nil {
			t.Errorf("Authenticate(%s) = %v", name, err)
		}
	}
	pols, err := f.pols.ListPolicies(ctx, &iotdm.ListPoliciesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pols.Policies) != 2 { // device and the one made from the document, shared
		t.Errorf("ListPolicies = %+v, want device and one policy made from the document", pols.Policies)
	}
}

func TestFleetProvisioningPreProvisioningHook(t *testing.T) {
	var mu sync.Mutex
	var seen []iotdm.PreProvisioningHookRequest
	answer := func(w http.ResponseWriter, r *http.Request) {
		var in iotdm.PreProvisioningHookRequest
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		mu.Lock()
		seen = append(seen, in)
		mu.Unlock()
		switch in.Parameters["SerialNumber"] {
		case "deny":
			fmt.Fprint(w, `{"allowProvisioning": false}`)
		case "broken":
			http.Error(w, "boom", 500)
		case "slow":
			time.Sleep(500 * time.Millisecond)
			fmt.Fprint(w, `{"allowProvisioning": true}`)
		default:
			fmt.Fprint(w, `{"allowProvisioning": true, "parameterOverrides": {"SerialNumber": "X-`+in.Parameters["SerialNumber"]+`", "Firmware": "2.0"}}`)
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(answer))
	t.Cleanup(srv.Close)
	f := newProvFixture(t, func(o *control.ProvisioningOptions) { o.HookTimeout = 200 * time.Millisecond })
	f.registryFor(t)
	f.createTemplate(t, "hooked", provTemplate, &iotdm.ProvisioningHook{TargetARN: srv.URL + "/hook"})
	f.createTemplate(t, "lambda", provTemplate, &iotdm.ProvisioningHook{TargetARN: "arn:aws:lambda:us-east-1:123456789012:function:pre-provision"})

	provision := func(t *testing.T, template, serial string) provMessage {
		keys := f.newKeys(t)
		return f.request(t, "device-1", provProvisionTopic(template), iotdm.FleetRegisterThingRequest{CertificateOwnershipToken: keys.CertificateOwnershipToken,
			Parameters: map[string]string{"SerialNumber": serial}})
	}

	t.Run("allowed with overrides", func(t *testing.T) {
		m := provision(t, "hooked", "A1")
		var got iotdm.FleetRegisterThingResponse
		if err := json.Unmarshal(m.payload, &got); err != nil || got.ThingName != "sensor-X-A1" {
			t.Fatalf("provision = %s %s, want thing sensor-X-A1", m.topic, m.payload)
		}
		thing, err := f.reg.DescribeThing(t.Context(), &iotdm.DescribeThingInput{ThingName: "sensor-X-A1"})
		if err != nil || thing.Attributes["firmware"] != "2.0" {
			t.Errorf("DescribeThing = %+v, %v, want firmware 2.0 from the hook", thing, err)
		}
		mu.Lock()
		last := seen[len(seen)-1]
		mu.Unlock()
		claimID := strings.TrimPrefix(f.claim, "arn:aws:iot:us-east-1:123456789012:cert/")
		if last.ClaimCertificateID != claimID || last.ClientID != "device-1" || last.CertificatePem == "" || last.CertificateID == "" ||
			last.TemplateARN != "arn:aws:iot:us-east-1:123456789012:provisioningtemplate/hooked" || last.Parameters["SerialNumber"] != "A1" {
			t.Errorf("hook request = %+v", last)
		}
	})
	for _, tt := range []struct{ name, template, serial, msg string }{
		{"refused", "hooked", "deny", "refused"},
		{"failing", "hooked", "broken", "500"},
		{"too slow", "hooked", "slow", "failed"},
		{"a Lambda function", "lambda", "A2", "cannot be invoked"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := provision(t, tt.template, tt.serial)
			var e iotdm.FleetProvisioningError
			if err := json.Unmarshal(m.payload, &e); err != nil || !strings.HasSuffix(m.topic, "/rejected") {
				t.Fatalf("provision = %s %s, want rejected", m.topic, m.payload)
			}
			provWantRejection(t, tt.name, e, 403, "AccessDenied", tt.msg)
		})
	}
}

func TestFleetProvisioningRepliesToEverySubscriberWithoutPublishTo(t *testing.T) {
	f := newProvFixture(t)
	f.prov.SetPublisher(f.pub) // a MessagePublisher without PublishTo
	if err := f.prov.HandleMQTT(t.Context(), provCreateTopic, nil, "device-1", f.claim); err != nil {
		t.Fatal(err)
	}
	msgs := f.pub.take()
	if len(msgs) != 1 || msgs[0].clientID != "" || msgs[0].topic != provCreateTopic+"/accepted" {
		t.Errorf("provMessage %+v, want one broadcast reply", msgs)
	}
	f.prov.SetPublisher(nil)
	if err := f.prov.HandleMQTT(t.Context(), provCreateTopic, nil, "device-1", f.claim); err == nil {
		t.Error("HandleMQTT without a publisher = nil, want an error")
	}
}

func provPtr[T any](v T) *T { return &v }
