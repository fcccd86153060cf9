package control

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/pki"
)

// Just-in-time registration and provisioning (AWS §5.4). A CA certificate
// registered with autoRegistrationStatus ENABLE lets the certificates it
// signed register themselves when they first connect: the certificate is
// registered PENDING_ACTIVATION under the CA and, when the account enables
// CA_CERTIFICATE events, $aws/events/certificates/registered/{caCertificateId}
// is published. That is JITR: someone else activates the certificate. With a
// RegistrationConfig (a templateBody, or the templateName of a JITP
// template), JITP also runs the template at once, with the certificate
// pseudo parameters (AWS::IoT::Certificate::Id, ::CommonName, ::Country,
// …) as its parameters: the certificate takes the template's status
// (ACTIVE) and the thing, policies and attachments are created.
//
// AWS refuses the connection that triggered the registration and the
// device connects again. iotdm provisions synchronously, inside the
// CONNECT, so the caller (device access) may authenticate the device again
// at once and let that first connection in (JITPProvisioned); the device
// code written for AWS, which retries, works either way.

// JITPOutcome is what JITP did with a certificate.
type JITPOutcome int

const (
	// JITPNotApplicable: the certificate is registered already (and not
	// PENDING_ACTIVATION), or not signed by an ACTIVE registered CA with
	// auto-registration enabled. The connection is refused as before.
	JITPNotApplicable JITPOutcome = iota
	// JITPRegistered: the certificate is registered PENDING_ACTIVATION and
	// waits for someone to activate it (JITR, or a template that failed).
	JITPRegistered
	// JITPProvisioned: the CA's template provisioned the certificate; it
	// has the template's status (ACTIVE unless the template says
	// INACTIVE) and may connect.
	JITPProvisioned
)

func (o JITPOutcome) String() string {
	switch o {
	case JITPRegistered:
		return "registered"
	case JITPProvisioned:
		return "provisioned"
	}
	return "not applicable"
}

// registeredEvent is the payload of
// $aws/events/certificates/registered/{caCertificateId}.
type registeredEvent struct {
	CertificateID                    string `json:"certificateId"`
	CACertificateID                  string `json:"caCertificateId"`
	Timestamp                        int64  `json:"timestamp"`
	CertificateStatus                string `json:"certificateStatus"`
	AWSAccountID                     string `json:"awsAccountId"`
	CertificateRegistrationTimestamp string `json:"certificateRegistrationTimestamp"`
}

// JITP registers and provisions just in time the certificate a device
// presented at connect, when it is unknown (or still PENDING_ACTIVATION)
// and signed by a registered CA with auto-registration (see the file
// comment). chain is the chain the device presented, leaf first; the TLS
// handshake has proved possession of the leaf's key, and JITP checks that
// a registered CA signed it and that it is valid now. Device access calls
// it when Authenticate refuses a certificate as unknown
// (UnrecognizedClientException) or as PENDING_ACTIVATION
// (CertificateStateException), then authenticates again on
// JITPProvisioned.
//
// The error is a failure to provision (a template that does not apply, a
// store failure): the certificate then stays PENDING_ACTIVATION and the
// outcome is JITPRegistered; the next connection tries again.
func (p *FleetProvisioning) JITP(ctx context.Context, chain []*x509.Certificate) (JITPOutcome, error) {
	if len(chain) == 0 || chain[0] == nil {
		return JITPNotApplicable, nil
	}
	leaf := chain[0]
	id := pki.CertificateID(leaf.Raw)
	now := p.opts.Now()
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return JITPNotApplicable, nil
	}

	stored, ok, err := get[iotdm.StoredCertificate](ctx, p.r.store, iotdm.KindCertificate, id)
	if err != nil {
		return JITPNotApplicable, err
	}
	var ca *storedCA
	switch {
	case ok && stored.Status != iotdm.CertificatePendingActivation:
		return JITPNotApplicable, nil
	case ok:
		if stored.CACertificateID == "" {
			return JITPNotApplicable, nil
		}
		if ca, ok, err = get[storedCA](ctx, p.r.store, iotdm.KindCACertificate, stored.CACertificateID); err != nil || !ok {
			return JITPNotApplicable, err
		}
		if !autoRegistering(ca) {
			return JITPRegistered, nil
		}
		if err := pki.VerifyIssuedBy(leaf, mustCACert(ca), now); err != nil {
			return JITPNotApplicable, nil
		}
		// AWS: the event repeats whenever a device presents a certificate
		// still PENDING_ACTIVATION.
		p.publishRegistered(ctx, &stored.CertificateDescription)
	default:
		if ca, stored, err = p.autoRegister(ctx, leaf); err != nil || stored == nil {
			return JITPNotApplicable, err
		}
	}
	rc := ca.RegistrationConfig
	if rc == nil || (rc.TemplateBody == "" && rc.TemplateName == "") {
		return JITPRegistered, nil // JITR
	}
	if err := p.provisionJIT(ctx, ca, leaf, id); err != nil {
		p.log.Warn("just-in-time provisioning failed; the certificate stays PENDING_ACTIVATION", "certificateId", id, "caCertificateId", ca.CertificateID, "err", err)
		return JITPRegistered, fmt.Errorf("just-in-time provisioning of certificate %s: %w", id, err)
	}
	return JITPProvisioned, nil
}

// autoRegistering reports whether a CA registers the certificates it
// signed.
func autoRegistering(ca *storedCA) bool {
	return ca.Status == iotdm.CACertificateActive && ca.AutoRegistrationStatus == iotdm.AutoRegistrationEnable
}

// mustCACert parses a stored CA's certificate; a stored CA always parses
// (RegisterCACertificate checked it), so a failure yields a certificate
// nothing verifies against.
func mustCACert(ca *storedCA) *x509.Certificate {
	c, err := pki.ParseCertificatePEM([]byte(ca.CertificatePem))
	if err != nil {
		return &x509.Certificate{}
	}
	return c
}

// autoRegister registers an unknown certificate PENDING_ACTIVATION under
// the registered CA that signed it, when that CA is ACTIVE with
// auto-registration enabled; stored is nil when there is none. A
// concurrent registration of the same certificate is no error.
func (p *FleetProvisioning) autoRegister(ctx context.Context, leaf *x509.Certificate) (*storedCA, *iotdm.StoredCertificate, error) {
	desc := p.certs.newDescription(leaf, iotdm.CertificatePendingActivation, iotdm.CertificateModeDefault)
	// Most unknown certificates are no CA's business: find out in a read
	// transaction, so that they cost the single writer nothing.
	err := p.r.view(ctx, func(ctx context.Context, tx iotdm.ReadTx) error {
		found, err := issuingCA(ctx, tx, leaf, nil, desc.CreationDate.Time)
		if err == nil && !autoRegistering(found) {
			err = errNotAutoRegistering
		}
		return err
	})
	if err != nil {
		if iotdm.CodeOf(err) != "" || errors.Is(err, errNotAutoRegistering) {
			return nil, nil, nil
		}
		return nil, nil, err
	}
	var ca *storedCA
	err = p.certs.insert(ctx, &desc, func(ctx context.Context, tx iotdm.Tx) error {
		found, err := issuingCA(ctx, tx, leaf, nil, desc.CreationDate.Time)
		if err != nil {
			return err
		}
		if !autoRegistering(found) {
			return errNotAutoRegistering
		}
		ca, desc.CACertificateID = found, found.CertificateID
		return nil
	})
	switch {
	case errors.Is(err, errNotAutoRegistering):
		return nil, nil, nil
	case iotdm.IsCode(err, iotdm.ErrResourceAlreadyExists):
		// Another connection registered it first; go on with it.
		stored, ok, err := get[iotdm.StoredCertificate](ctx, p.r.store, iotdm.KindCertificate, desc.CertificateID)
		if err != nil || !ok || stored.Status != iotdm.CertificatePendingActivation || stored.CACertificateID == "" {
			return nil, nil, err
		}
		ca, ok, err := get[storedCA](ctx, p.r.store, iotdm.KindCACertificate, stored.CACertificateID)
		if err != nil || !ok {
			return nil, nil, err
		}
		return ca, stored, nil
	case iotdm.CodeOf(err) != "":
		// Not signed by a registered CA, an inactive CA, an invalid
		// chain: not for JITP.
		return nil, nil, nil
	case err != nil:
		return nil, nil, err
	}
	p.log.Info("certificate registered just in time", "certificateId", desc.CertificateID, "caCertificateId", ca.CertificateID)
	p.publishRegistered(ctx, &desc)
	return ca, &iotdm.StoredCertificate{CertificateDescription: desc}, nil
}

// errNotAutoRegistering stops a registration whose CA does not
// auto-register.
var errNotAutoRegistering = errors.New("the CA does not register certificates automatically")

// publishRegistered publishes the registration event of a certificate when
// the account enables CA_CERTIFICATE events and a publisher is set.
func (p *FleetProvisioning) publishRegistered(ctx context.Context, desc *iotdm.CertificateDescription) {
	pub := p.pub.get()
	if pub == nil {
		return
	}
	cfg, err := loadEventConfigurations(ctx, p.r.store)
	if err != nil {
		p.log.Warn("reading the event configurations", "err", err)
		return
	}
	if !cfg.Enabled(iotdm.EventCACertificate) {
		return
	}
	ev := registeredEvent{
		CertificateID: desc.CertificateID, CACertificateID: desc.CACertificateID, Timestamp: p.opts.Now().UnixMilli(),
		CertificateStatus: iotdm.CertificatePendingActivation, AWSAccountID: p.opts.AccountID,
		CertificateRegistrationTimestamp: fmt.Sprint(desc.CreationDate.UnixMilli()),
	}
	topic := "$aws/events/certificates/registered/" + desc.CACertificateID
	if err := pub.Publish(context.WithoutCancel(ctx), topic, encodeShadowMessage(ev), 1, false); err != nil {
		p.log.Warn("publishing a certificate registration event", "topic", topic, "err", err)
	}
}

// jitpTemplateBody returns the body a CA's registration config provisions
// with: its templateBody, or the default version of the JITP template it
// names, which must be enabled.
func (p *FleetProvisioning) jitpTemplateBody(ctx context.Context, rc *iotdm.RegistrationConfig) (string, error) {
	if rc.TemplateBody != "" {
		return rc.TemplateBody, nil
	}
	var body string
	err := p.r.view(ctx, func(ctx context.Context, tx iotdm.ReadTx) error {
		t, err := loadProvTemplate(ctx, tx, rc.TemplateName)
		if err != nil {
			return err
		}
		switch {
		case t.Type != iotdm.TemplateTypeJITP:
			return invalid("The provisioning template %s is of type %s; just-in-time provisioning takes a template of type JITP", t.TemplateName, t.Type)
		case !t.Enabled:
			return invalid("The provisioning template %s is not enabled", t.TemplateName)
		}
		v, err := loadProvTemplateVersion(ctx, tx, t.TemplateName, t.DefaultVersionID)
		if err != nil {
			return err
		}
		body = v.TemplateBody
		return nil
	})
	return body, err
}

// provisionJIT runs a CA's template for a certificate PENDING_ACTIVATION.
func (p *FleetProvisioning) provisionJIT(ctx context.Context, ca *storedCA, leaf *x509.Certificate, id string) error {
	body, err := p.jitpTemplateBody(ctx, ca.RegistrationConfig)
	if err != nil {
		return err
	}
	pt, err := p.parse(body)
	if err != nil {
		return err
	}
	plan, err := pt.Plan(nil, PlanContext{Region: p.opts.Region, AccountID: p.opts.AccountID, Certificate: leaf})
	if err != nil {
		return err
	}
	var done *provisioned
	err = p.r.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		cert, err := loadCertificate(ctx, tx, id)
		if err != nil {
			return err
		}
		if cert.Status != iotdm.CertificatePendingActivation {
			done = &provisioned{} // another connection provisioned it meanwhile
			return nil
		}
		done, err = p.applyPlan(ctx, tx, plan, cert)
		return err
	})
	if err != nil {
		return err
	}
	p.log.Info("certificate provisioned just in time", "certificateId", id, "caCertificateId", ca.CertificateID, "thingName", done.thingName)
	return nil
}
