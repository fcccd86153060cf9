package control_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"testing"
	"time"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/control"
	"github.com/iotdm/iotdm/internal/pki"
)

// These tests hold just-in-time registration and provisioning (AWS §5.4)
// to their contract, with device access deciding the connections as the
// broker asks it to.

// provJITPTemplate is a JITP template in AWS's style: the thing is named after
// the certificate's common name.
const provJITPTemplate = `{
  "Parameters": {
    "AWS::IoT::Certificate::CommonName": {"Type": "String"},
    "AWS::IoT::Certificate::Country": {"Type": "String", "Default": "unknown"},
    "AWS::IoT::Certificate::Id": {"Type": "String"}
  },
  "Resources": {
    "thing": {"Type": "AWS::IoT::Thing", "Properties": {
      "ThingName": {"Ref": "AWS::IoT::Certificate::CommonName"},
      "AttributePayload": {"country": {"Ref": "AWS::IoT::Certificate::Country"}}}},
    "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {
      "CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "ACTIVE"}},
    "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": "device"}}
  }
}`

// factoryCA is a customer CA registered (SNI_ONLY) with the settings
// given.
func (f *provFixture) factoryCA(t *testing.T, cn string, active, autoRegister bool, rc *iotdm.RegistrationConfig) (*pki.CA, string) {
	t.Helper()
	ca, err := pki.NewCA(pki.CAOptions{CommonName: cn, Now: f.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.certs.RegisterCACertificate(t.Context(), &iotdm.RegisterCACertificateInput{CACertificate: string(ca.PEM()),
		CertificateMode: iotdm.CertificateModeSNIOnly, SetAsActive: active, AllowAutoRegistration: autoRegister, RegistrationConfig: rc})
	if err != nil {
		t.Fatalf("RegisterCACertificate(%s): %v", cn, err)
	}
	return ca, out.CertificateID
}

// provDeviceOf issues a device certificate of ca, as the factory does, and
// returns the chain the device presents: its certificate and the CA's.
func provDeviceOf(t *testing.T, ca *pki.CA, subject pkix.Name) []*x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := ca.IssueFromPublicKey(key.Public(), subject, pki.IssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return []*x509.Certificate{leaf, ca.Certificate()}
}

// connect decides a connection as cmd/iotdm's device access does with
// JITP wired in: a certificate refused as unknown or PENDING_ACTIVATION
// goes through JITP, and is authenticated again once provisioned.
func (f *provFixture) connect(ctx context.Context, chain []*x509.Certificate, clientID string) (*control.DeviceSession, control.JITPOutcome, error) {
	s, err := f.da.Authenticate(ctx, chain, clientID, "127.0.0.1")
	if err == nil || !iotdm.IsCode(err, iotdm.ErrUnrecognizedClient) && !iotdm.IsCode(err, iotdm.ErrCertificateState) {
		return s, control.JITPNotApplicable, err
	}
	outcome, jerr := f.prov.JITP(ctx, chain)
	if outcome != control.JITPProvisioned {
		if jerr != nil {
			return nil, outcome, jerr
		}
		return nil, outcome, err
	}
	s, err = f.da.Authenticate(ctx, chain, clientID, "127.0.0.1")
	return s, outcome, err
}

func TestJITPWithATemplateBody(t *testing.T) {
	f := newProvFixture(t)
	ctx := t.Context()
	ca, caID := f.factoryCA(t, "Factory CA", true, true, &iotdm.RegistrationConfig{TemplateBody: provJITPTemplate})
	chain := provDeviceOf(t, ca, pkix.Name{CommonName: "sensor-7", Country: []string{"FR"}})
	id := pki.CertificateID(chain[0].Raw)

	if _, err := f.da.Authenticate(ctx, chain, "sensor-7", ""); !iotdm.IsCode(err, iotdm.ErrUnrecognizedClient) {
		t.Fatalf("Authenticate(unknown certificate) = %v, want UnrecognizedClientException", err)
	}
	s, outcome, err := f.connect(ctx, chain, "sensor-7")
	if err != nil || outcome != control.JITPProvisioned {
		t.Fatalf("connect = %v, %v, want the device provisioned and connected", outcome, err)
	}
	if s.ThingName() != "sensor-7" || !s.Allowed("iot:Publish", "topic/devices/sensor-7/t") {
		t.Errorf("session of the provisioned device: thing %q", s.ThingName())
	}
	d, err := f.certs.DescribeCertificate(ctx, &iotdm.DescribeCertificateInput{CertificateID: id})
	if err != nil {
		t.Fatal(err)
	}
	if d.CertificateDescription.Status != iotdm.CertificateActive || d.CertificateDescription.CACertificateID != caID {
		t.Errorf("JITP certificate = %s under %q, want ACTIVE under %s", d.CertificateDescription.Status, d.CertificateDescription.CACertificateID, caID)
	}
	thing, err := f.reg.DescribeThing(ctx, &iotdm.DescribeThingInput{ThingName: "sensor-7"})
	if err != nil || thing.Attributes["country"] != "FR" {
		t.Errorf("DescribeThing(sensor-7) = %+v, %v, want country FR from the certificate", thing, err)
	}
	byCA, err := f.certs.ListCertificatesByCA(ctx, &iotdm.ListCertificatesByCAInput{CACertificateID: caID})
	if err != nil || len(byCA.Certificates) != 1 || byCA.Certificates[0].CertificateID != id {
		t.Errorf("ListCertificatesByCA = %+v, %v", byCA, err)
	}
	if outcome, err := f.prov.JITP(ctx, chain); outcome != control.JITPNotApplicable || err != nil {
		t.Errorf("JITP(provisioned certificate) = %v, %v, want not applicable", outcome, err)
	}
	// Without the CA in the chain, the registered CA is found by the
	// certificate's issuer.
	other := provDeviceOf(t, ca, pkix.Name{CommonName: "sensor-8"})
	if _, outcome, err := f.connect(ctx, other[:1], "sensor-8"); err != nil || outcome != control.JITPProvisioned {
		t.Errorf("connect(leaf only) = %v, %v", outcome, err)
	}
}

func TestJITPWithATemplateName(t *testing.T) {
	f := newProvFixture(t)
	ctx := t.Context()
	_, err := f.prov.CreateProvisioningTemplate(ctx, &iotdm.CreateProvisioningTemplateInput{TemplateName: "jit", TemplateBody: provJITPTemplate,
		Type: iotdm.TemplateTypeJITP, ProvisioningRoleARN: provRole})
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := f.factoryCA(t, "Factory CA", true, true, &iotdm.RegistrationConfig{TemplateName: "jit", RoleARN: provRole})
	chain := provDeviceOf(t, ca, pkix.Name{CommonName: "sensor-9"})
	id := pki.CertificateID(chain[0].Raw)

	// A disabled template registers the certificate and provisions nothing.
	_, outcome, err := f.connect(ctx, chain, "sensor-9")
	if outcome != control.JITPRegistered || err == nil {
		t.Fatalf("connect(disabled template) = %v, %v, want registered and an error", outcome, err)
	}
	if got := f.status(t, id); got != iotdm.CertificatePendingActivation {
		t.Errorf("certificate after a failed JITP is %s, want PENDING_ACTIVATION", got)
	}
	if _, err := f.reg.DescribeThing(ctx, &iotdm.DescribeThingInput{ThingName: "sensor-9"}); !iotdm.IsCode(err, iotdm.ErrResourceNotFound) {
		t.Errorf("DescribeThing after a failed JITP = %v, want ResourceNotFoundException", err)
	}
	// The next connection, once the template is enabled, provisions it.
	if _, err := f.prov.UpdateProvisioningTemplate(ctx, &iotdm.UpdateProvisioningTemplateInput{TemplateName: "jit", Enabled: provPtr(true)}); err != nil {
		t.Fatal(err)
	}
	if _, outcome, err := f.connect(ctx, chain, "sensor-9"); err != nil || outcome != control.JITPProvisioned {
		t.Fatalf("connect(enabled template) = %v, %v, want provisioned", outcome, err)
	}
	if got := f.status(t, id); got != iotdm.CertificateActive {
		t.Errorf("certificate after JITP is %s, want ACTIVE", got)
	}
}

func TestJITRPublishesTheRegistration(t *testing.T) {
	f := newProvFixture(t)
	ctx := t.Context()
	conn := control.NewConnectivity(f.db, control.ConnectivityOptions{})
	if _, err := conn.UpdateEventConfigurations(ctx, &iotdm.UpdateEventConfigurationsInput{
		EventConfigurations: map[string]iotdm.EventConfiguration{iotdm.EventCACertificate: {Enabled: true}}}); err != nil {
		t.Fatal(err)
	}
	ca, caID := f.factoryCA(t, "JITR CA", true, true, nil)
	chain := provDeviceOf(t, ca, pkix.Name{CommonName: "sensor-1"})
	id := pki.CertificateID(chain[0].Raw)
	for attempt := 1; attempt <= 2; attempt++ {
		_, outcome, err := f.connect(ctx, chain, "sensor-1")
		if outcome != control.JITPRegistered || !iotdm.IsCode(err, iotdm.ErrCertificateState) && !iotdm.IsCode(err, iotdm.ErrUnrecognizedClient) {
			t.Fatalf("connect %d = %v, %v, want registered and refused", attempt, outcome, err)
		}
		msgs := f.pub.take()
		if len(msgs) != 1 || msgs[0].topic != "$aws/events/certificates/registered/"+caID {
			t.Fatalf("connect %d published %+v, want the registration event", attempt, msgs)
		}
		var ev map[string]any
		if err := json.Unmarshal(msgs[0].payload, &ev); err != nil {
			t.Fatal(err)
		}
		if ev["certificateId"] != id || ev["caCertificateId"] != caID || ev["certificateStatus"] != "PENDING_ACTIVATION" || ev["awsAccountId"] != provAccount {
			t.Errorf("registration event = %v", ev)
		}
	}
	// Someone activates it; then the device connects.
	if _, err := f.certs.UpdateCertificate(ctx, &iotdm.UpdateCertificateInput{CertificateID: id, NewStatus: iotdm.CertificateActive}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.pols.AttachPolicy(ctx, &iotdm.AttachPolicyInput{PolicyName: "device", Target: "arn:aws:iot:us-east-1:123456789012:cert/" + id}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.reg.CreateThing(ctx, &iotdm.CreateThingInput{ThingName: "sensor-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.certs.AttachThingPrincipal(ctx, &iotdm.AttachThingPrincipalInput{ThingName: "sensor-1", Principal: "arn:aws:iot:us-east-1:123456789012:cert/" + id}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.connect(ctx, chain, "sensor-1"); err != nil {
		t.Errorf("connect(activated) = %v", err)
	}
}

func TestJITPNotApplicable(t *testing.T) {
	f := newProvFixture(t)
	ctx := t.Context()
	noAuto, _ := f.factoryCA(t, "Manual CA", true, false, &iotdm.RegistrationConfig{TemplateBody: provJITPTemplate})
	inactive, _ := f.factoryCA(t, "Inactive CA", false, true, &iotdm.RegistrationConfig{TemplateBody: provJITPTemplate})
	stranger, err := pki.NewCA(pki.CAOptions{CommonName: "Stranger CA", Now: f.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	auto, _ := f.factoryCA(t, "Auto CA", true, true, &iotdm.RegistrationConfig{TemplateBody: provJITPTemplate})
	issued, err := f.certs.CreateKeysAndCertificate(ctx, &iotdm.CreateKeysAndCertificateInput{SetAsActive: true})
	if err != nil {
		t.Fatal(err)
	}

	expiring := provDeviceOf(t, auto, pkix.Name{CommonName: "old"})
	tests := []struct {
		name  string
		chain []*x509.Certificate
		clock time.Duration
	}{
		{"a CA without auto-registration", provDeviceOf(t, noAuto, pkix.Name{CommonName: "a"}), 0},
		{"an inactive CA", provDeviceOf(t, inactive, pkix.Name{CommonName: "b"}), 0},
		{"an unregistered CA", provDeviceOf(t, stranger, pkix.Name{CommonName: "c"}), 0},
		{"a registered certificate", []*x509.Certificate{provParseLeaf(t, issued.CertificatePem)}, 0},
		{"no certificate", nil, 0},
		{"an expired certificate", expiring, 30 * 365 * 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.clk.advance(tt.clock)
			defer f.clk.advance(-tt.clock)
			outcome, err := f.prov.JITP(ctx, tt.chain)
			if outcome != control.JITPNotApplicable || err != nil {
				t.Errorf("JITP = %v, %v, want not applicable", outcome, err)
			}
			if len(tt.chain) > 0 && tt.name != "a registered certificate" {
				id := pki.CertificateID(tt.chain[0].Raw)
				if _, err := f.certs.DescribeCertificate(ctx, &iotdm.DescribeCertificateInput{CertificateID: id}); !iotdm.IsCode(err, iotdm.ErrResourceNotFound) {
					t.Errorf("DescribeCertificate = %v, want the certificate not registered", err)
				}
			}
		})
	}
}
