package control

import (
	"bytes"
	"cmp"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/google/uuid"
	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/pki"
)

// CertificatesOptions configures Certificates.
type CertificatesOptions struct {
	Region    string // e.g. us-east-1; used in ARNs
	AccountID string // 12 digits; used in ARNs and as ownedBy
	Logger    *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Certificates implements iotdm.Certificates on an iotdm.Store: device
// certificates issued by the built-in CA or registered, registered CA
// certificates, and the attachment of principals to things (AWS §5).
//
// The built-in CA is not a registered CA: like AWS-issued certificates,
// the certificates it issues have no caCertificateId.
type Certificates struct {
	r   *Registry // ARNs, the clock, transactions and things
	ca  *pki.CA
	log *slog.Logger
}

var _ iotdm.Certificates = (*Certificates)(nil)

// NewCertificates returns the certificate service over store, issuing
// certificates with ca.
func NewCertificates(store iotdm.Store, ca *pki.CA, opts CertificatesOptions) *Certificates {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := NewRegistry(store, RegistryOptions{Region: opts.Region, AccountID: opts.AccountID, Logger: opts.Logger, Now: opts.Now})
	return &Certificates{r: r, ca: ca, log: opts.Logger.With("component", "certificates")}
}

// Limits and shapes of the botocore iot model.
const (
	maxCAsPerSubject     = 10 // AWS: up to 10 CA certificates with the same subject
	maxTemplateBodyLen   = 10240
	minRoleARNLen        = 20
	maxRoleARNLen        = 2048
	maxTemplateNameLen   = 36
	certificateIDLen     = 64
	certificateListName  = "certificates"
	caListName           = "cacertificates"
	certsByCAListName    = "certificates-by-ca"
	thingPrincipalsList  = "thingprincipals"
	principalThingsList  = "principalthings"
	certificateARNPrefix = "cert"   // the resource type of certificate ARNs
	caARNPrefix          = "cacert" // the resource type of CA certificate ARNs
)

var (
	certificateIDPattern = regexp.MustCompile(`^[a-fA-F0-9]{64}$`) // CertificateId: min=max=64
	templateNamePattern  = regexp.MustCompile(`^[0-9A-Za-z_-]+$`)  // TemplateName
)

// storedCA is a CA certificate as stored, with the tags RegisterCACertificate
// gives it. The registry's tag operations read and write the "tags" member
// of any taggable entity, so every write of a CA keeps them.
type storedCA struct {
	iotdm.StoredCACertificate
	Tags []iotdm.Tag `json:"tags,omitempty"`
}

// pkiError maps the errors of package pki a client can cause to AWS
// exceptions; anything else is returned as is (an internal failure).
func pkiError(err error) error {
	var ve *pki.ValidationError
	switch {
	case errors.As(err, &ve):
		return iotdm.Errorf(iotdm.ErrCertificateValidation, "%s", ve.Reason)
	case errors.Is(err, pki.ErrRegistrationCode):
		return iotdm.Errorf(iotdm.ErrRegistrationCodeValid, "The certificate verification failed: %v", err)
	case errors.Is(err, pki.ErrInvalidCSR):
		return invalid("%v", err)
	case errors.Is(err, pki.ErrMalformed):
		return iotdm.Errorf(iotdm.ErrCertificateValidation, "%v", err)
	}
	return err
}

// parseCertificate parses the PEM certificate of a request member.
// AWS: a certificate that does not parse is a CertificateValidationException.
func parseCertificate(member, pemText string) (*x509.Certificate, error) {
	if pemText == "" {
		return nil, invalid("%s must not be empty", member)
	}
	cert, err := pki.ParseCertificatePEM([]byte(pemText))
	if err != nil {
		return nil, pkiError(fmt.Errorf("%s: %w", member, err))
	}
	return cert, nil
}

// validateCertificateID checks a certificate or CA certificate id: 64 hex
// characters.
func validateCertificateID(member, id string) error {
	if !certificateIDPattern.MatchString(id) {
		return invalid("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must have length %d and satisfy regular expression pattern: (0x)?[a-fA-F0-9]+", id, member, certificateIDLen)
	}
	return nil
}

// validateRegistrationConfig checks a CA's just-in-time provisioning
// template settings.
func validateRegistrationConfig(rc *iotdm.RegistrationConfig) error {
	if rc == nil {
		return nil
	}
	if len(rc.TemplateBody) > maxTemplateBodyLen {
		return invalid("1 validation error detected: Value at 'registrationConfig.templateBody' failed to satisfy constraint: Member must have length less than or equal to %d", maxTemplateBodyLen)
	}
	if rc.RoleARN != "" && (len(rc.RoleARN) < minRoleARNLen || len(rc.RoleARN) > maxRoleARNLen) {
		return invalid("1 validation error detected: Value '%s' at 'registrationConfig.roleArn' failed to satisfy constraint: Member must have length between %d and %d", rc.RoleARN, minRoleARNLen, maxRoleARNLen)
	}
	if rc.TemplateName != "" && (len(rc.TemplateName) > maxTemplateNameLen || !templateNamePattern.MatchString(rc.TemplateName)) {
		return invalid("1 validation error detected: Value '%s' at 'registrationConfig.templateName' failed to satisfy constraint: Member must have length less than or equal to %d and satisfy regular expression pattern: ^[0-9A-Za-z_-]+$", rc.TemplateName, maxTemplateNameLen)
	}
	return nil
}

// normalizeRegistrationConfig drops an empty configuration.
func normalizeRegistrationConfig(rc *iotdm.RegistrationConfig) *iotdm.RegistrationConfig {
	if rc == nil || *rc == (iotdm.RegistrationConfig{}) {
		return nil
	}
	cp := *rc
	return &cp
}

// statusOf is the status setAsActive asks for.
func statusOf(active bool) string {
	if active {
		return iotdm.CertificateActive
	}
	return iotdm.CertificateInactive
}

// certificateStatuses is the model's CertificateStatus enum.
var certificateStatuses = []string{iotdm.CertificateActive, iotdm.CertificateInactive, iotdm.CertificateRevoked,
	iotdm.CertificatePendingTransfer, iotdm.CertificateRegisterInactive, iotdm.CertificatePendingActivation}

// registerStatus is the status a registered certificate starts in: the
// status member if set (ACTIVE, INACTIVE or REVOKED), else setAsActive.
func registerStatus(status string, setAsActive bool) (string, error) {
	switch status {
	case "":
		return statusOf(setAsActive), nil
	case iotdm.CertificateActive, iotdm.CertificateInactive, iotdm.CertificateRevoked:
		return status, nil
	}
	if err := oneOf("status", status, false, certificateStatuses...); err != nil {
		return "", err
	}
	return "", invalid("A certificate cannot be registered with status %s", status)
}

func validityOf(cert *x509.Certificate) iotdm.CertificateValidity {
	return iotdm.CertificateValidity{NotBefore: iotdm.Timestamp{Time: cert.NotBefore.UTC()}, NotAfter: iotdm.Timestamp{Time: cert.NotAfter.UTC()}}
}

// newDescription describes a certificate about to be stored: version 1,
// created and modified now.
func (c *Certificates) newDescription(cert *x509.Certificate, status, mode string) iotdm.CertificateDescription {
	id := pki.CertificateID(cert.Raw)
	now := c.r.now()
	return iotdm.CertificateDescription{
		CertificateARN:   c.r.arn(certificateARNPrefix, id),
		CertificateID:    id,
		Status:           status,
		CertificatePem:   string(pki.EncodeCertificatePEM(cert.Raw)),
		OwnedBy:          c.r.opts.AccountID,
		CreationDate:     now,
		LastModifiedDate: now,
		CustomerVersion:  1,
		GenerationID:     uuid.NewString(),
		Validity:         validityOf(cert),
		CertificateMode:  mode,
	}
}

// modified records a modification: a new generationId, the next
// customerVersion and the modification time.
func (c *Certificates) modified(lastModified *iotdm.Timestamp, version *int, generation *string) {
	*lastModified = c.r.now()
	*version++
	*generation = uuid.NewString()
}

// insert stores a new device certificate. check, if set, runs in the same
// transaction once the certificate is known to be new; it may fill in desc.
// AWS: a certificate registered twice is a ResourceAlreadyExistsException.
func (c *Certificates) insert(ctx context.Context, desc *iotdm.CertificateDescription, check func(ctx context.Context, tx iotdm.Tx) error) error {
	return c.r.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		_, exists, err := tx.Get(ctx, iotdm.KindCertificate, desc.CertificateID)
		if err != nil {
			return err
		}
		if exists {
			return &iotdm.Error{Code: iotdm.ErrResourceAlreadyExists,
				Message:    "The certificate is already provisioned or registered",
				ResourceID: desc.CertificateID, ResourceARN: desc.CertificateARN}
		}
		if check != nil {
			if err := check(ctx, tx); err != nil {
				return err
			}
		}
		return put(ctx, tx, iotdm.KindCertificate, desc.CertificateID, iotdm.StoredCertificate{CertificateDescription: *desc})
	})
}

// CreateKeysAndCertificate generates an RSA 2048 key pair and a certificate
// for it issued by the built-in CA. The private key is returned once and
// kept nowhere.
func (c *Certificates) CreateKeysAndCertificate(ctx context.Context, in *iotdm.CreateKeysAndCertificateInput) (*iotdm.CreateKeysAndCertificateOutput, error) {
	certPEM, pubPEM, keyPEM, cert, err := c.ca.CreateKeysAndCertificate(pki.KeyOptions{})
	if err != nil {
		return nil, err
	}
	desc := c.newDescription(cert, statusOf(in.SetAsActive), iotdm.CertificateModeDefault)
	if err := c.insert(ctx, &desc, nil); err != nil {
		return nil, err
	}
	return &iotdm.CreateKeysAndCertificateOutput{
		CertificateARN: desc.CertificateARN,
		CertificateID:  desc.CertificateID,
		CertificatePem: string(certPEM),
		KeyPair:        iotdm.KeyPair{PublicKey: string(pubPEM), PrivateKey: string(keyPEM)},
	}, nil
}

// CreateCertificateFromCsr issues a certificate for a certificate signing
// request with the built-in CA.
func (c *Certificates) CreateCertificateFromCsr(ctx context.Context, in *iotdm.CreateCertificateFromCsrInput) (*iotdm.CreateCertificateFromCsrOutput, error) {
	csr := in.CertificateSigningRequest
	switch {
	case csr == "":
		return nil, invalid("certificateSigningRequest must not be empty")
	case len(csr) > pki.MaxCSRLength:
		// AWS §9.2: the CSR is at most 4096 characters.
		return nil, invalid("1 validation error detected: Value at 'certificateSigningRequest' failed to satisfy constraint: Member must have length less than or equal to %d", pki.MaxCSRLength)
	}
	certPEM, cert, err := c.ca.IssueFromCSR([]byte(csr))
	if err != nil {
		return nil, pkiError(err)
	}
	desc := c.newDescription(cert, statusOf(in.SetAsActive), iotdm.CertificateModeDefault)
	if err := c.insert(ctx, &desc, nil); err != nil {
		return nil, err
	}
	return &iotdm.CreateCertificateFromCsrOutput{CertificateARN: desc.CertificateARN, CertificateID: desc.CertificateID, CertificatePem: string(certPEM)}, nil
}

// GetRegistrationCode returns the account's CA registration code, made on
// the first call and the same ever after.
func (c *Certificates) GetRegistrationCode(ctx context.Context, _ *iotdm.GetRegistrationCodeInput) (*iotdm.GetRegistrationCodeOutput, error) {
	code, ok, err := get[string](ctx, c.r.store, iotdm.KindAccount, iotdm.RegistrationCodeKey)
	if err != nil {
		return nil, err
	}
	if ok {
		return &iotdm.GetRegistrationCodeOutput{RegistrationCode: *code}, nil
	}
	fresh, err := pki.NewRegistrationCode()
	if err != nil {
		return nil, err
	}
	out := &iotdm.GetRegistrationCodeOutput{RegistrationCode: fresh}
	err = c.r.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		code, ok, err := get[string](ctx, tx, iotdm.KindAccount, iotdm.RegistrationCodeKey)
		if err != nil {
			return err
		}
		if ok { // another request made it first
			out.RegistrationCode = *code
			return nil
		}
		return put(ctx, tx, iotdm.KindAccount, iotdm.RegistrationCodeKey, fresh)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RegisterCACertificate registers a CA certificate. In DEFAULT mode the
// verification certificate must be signed by the CA and carry the account's
// registration code as its CN; in SNI_ONLY mode there is none (AWS §5.2).
func (c *Certificates) RegisterCACertificate(ctx context.Context, in *iotdm.RegisterCACertificateInput) (*iotdm.RegisterCACertificateOutput, error) {
	if err := oneOf("certificateMode", in.CertificateMode, true, iotdm.CertificateModeDefault, iotdm.CertificateModeSNIOnly); err != nil {
		return nil, err
	}
	mode := cmp.Or(in.CertificateMode, iotdm.CertificateModeDefault)
	if err := validateRegistrationConfig(in.RegistrationConfig); err != nil {
		return nil, err
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	caCert, err := parseCertificate("caCertificate", in.CACertificate)
	if err != nil {
		return nil, err
	}
	var verification *x509.Certificate
	switch {
	case mode == iotdm.CertificateModeSNIOnly && in.VerificationCertificate != "":
		return nil, invalid("A verification certificate is not allowed in SNI_ONLY certificate mode")
	case mode == iotdm.CertificateModeDefault && in.VerificationCertificate == "":
		return nil, invalid("A verification certificate is required in DEFAULT certificate mode")
	case mode == iotdm.CertificateModeDefault:
		if verification, err = parseCertificate("verificationCertificate", in.VerificationCertificate); err != nil {
			return nil, err
		}
	}
	now := c.r.now()
	if err := pki.ValidateCACertificate(caCert, now.Time); err != nil {
		return nil, pkiError(err)
	}
	id := pki.CertificateID(caCert.Raw)
	ca := storedCA{Tags: in.Tags}
	ca.CACertificateDescription = iotdm.CACertificateDescription{
		CertificateARN:         c.r.arn(caARNPrefix, id),
		CertificateID:          id,
		Status:                 iotdm.CACertificateInactive,
		CertificatePem:         string(pki.EncodeCertificatePEM(caCert.Raw)),
		OwnedBy:                c.r.opts.AccountID,
		CreationDate:           now,
		AutoRegistrationStatus: iotdm.AutoRegistrationDisable,
		LastModifiedDate:       now,
		CustomerVersion:        1,
		GenerationID:           uuid.NewString(),
		Validity:               validityOf(caCert),
		CertificateMode:        mode,
	}
	if in.SetAsActive {
		ca.Status = iotdm.CACertificateActive
	}
	if in.AllowAutoRegistration {
		ca.AutoRegistrationStatus = iotdm.AutoRegistrationEnable
	}
	ca.RegistrationConfig = normalizeRegistrationConfig(in.RegistrationConfig)
	err = c.r.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		if verification != nil {
			code, _, err := get[string](ctx, tx, iotdm.KindAccount, iotdm.RegistrationCodeKey)
			if err != nil {
				return err
			}
			if code == nil {
				return iotdm.Errorf(iotdm.ErrRegistrationCodeValid, "The account has no registration code: call GetRegistrationCode and sign a verification certificate with it as the common name")
			}
			if err := pki.VerifyRegistrationCode(verification, caCert, *code); err != nil {
				return pkiError(err)
			}
		}
		cas, err := loadCAs(ctx, tx)
		if err != nil {
			return err
		}
		sameSubject := 0
		for _, other := range cas {
			if other.CertificateID == id {
				return &iotdm.Error{Code: iotdm.ErrResourceAlreadyExists,
					Message:    "The CA certificate is already registered",
					ResourceID: id, ResourceARN: other.CertificateARN}
			}
			if bytes.Equal(other.cert.RawSubject, caCert.RawSubject) {
				sameSubject++
			}
		}
		if sameSubject >= maxCAsPerSubject {
			return iotdm.Errorf(iotdm.ErrLimitExceeded, "At most %d CA certificates with the same subject can be registered", maxCAsPerSubject)
		}
		return put(ctx, tx, iotdm.KindCACertificate, id, ca)
	})
	if err != nil {
		return nil, err
	}
	c.log.Info("CA certificate registered", "caCertificateId", id, "subject", caCert.Subject.String(), "mode", mode, "status", ca.Status)
	return &iotdm.RegisterCACertificateOutput{CertificateARN: ca.CertificateARN, CertificateID: id}, nil
}

// registeredCA is a registered CA certificate with its parsed certificate.
type registeredCA struct {
	*storedCA
	cert *x509.Certificate
}

// loadCAs reads every registered CA certificate.
func loadCAs(ctx context.Context, tx iotdm.ReadTx) ([]registeredCA, error) {
	var cas []registeredCA
	err := scanDecode(ctx, tx, iotdm.KindCACertificate, "", func(key string, ca *storedCA) error {
		cert, err := pki.ParseCertificatePEM([]byte(ca.CertificatePem))
		if err != nil {
			return fmt.Errorf("parse stored CA certificate %s: %w", key, err)
		}
		cas = append(cas, registeredCA{storedCA: ca, cert: cert})
		return nil
	})
	return cas, err
}

// issuingCA finds the registered CA that issued cert: caCert if given
// (which must itself be registered), else the one registered CA whose
// subject and key verify it. AWS: no such CA is a
// CertificateValidationException; two registered CAs with the same subject
// and key that both verify it are a CertificateConflictException; an
// inactive CA a CertificateStateException.
func issuingCA(ctx context.Context, tx iotdm.ReadTx, cert, caCert *x509.Certificate, now time.Time) (*storedCA, error) {
	cas, err := loadCAs(ctx, tx)
	if err != nil {
		return nil, err
	}
	var (
		found   []registeredCA
		lastErr error
	)
	for _, ca := range cas {
		if caCert != nil && !bytes.Equal(ca.cert.Raw, caCert.Raw) {
			continue
		}
		if caCert == nil && !bytes.Equal(ca.cert.RawSubject, cert.RawIssuer) {
			continue
		}
		if err := pki.VerifyIssuedBy(cert, ca.cert, now); err != nil {
			lastErr = err
			continue
		}
		found = append(found, ca)
	}
	switch {
	case len(found) == 0 && lastErr != nil:
		return nil, pkiError(lastErr)
	case len(found) == 0 && caCert != nil:
		return nil, iotdm.Errorf(iotdm.ErrCertificateValidation, "The CA certificate %s is not registered", pki.CertificateID(caCert.Raw))
	case len(found) == 0:
		return nil, iotdm.Errorf(iotdm.ErrCertificateValidation, "The certificate is not signed by a registered CA certificate (issuer %q)", cert.Issuer)
	case len(found) > 1:
		return nil, iotdm.Errorf(iotdm.ErrCertificateConflict, "Unable to verify the CA certificate used to sign the device certificate: %d registered CA certificates have its subject and public key", len(found))
	}
	ca := found[0]
	if ca.Status != iotdm.CACertificateActive {
		return nil, iotdm.Errorf(iotdm.ErrCertificateState, "The CA certificate %s is %s", ca.CertificateID, ca.Status)
	}
	return ca.storedCA, nil
}

// RegisterCertificate registers a device certificate issued by a registered
// CA.
func (c *Certificates) RegisterCertificate(ctx context.Context, in *iotdm.RegisterCertificateInput) (*iotdm.RegisterCertificateOutput, error) {
	cert, err := parseCertificate("certificatePem", in.CertificatePem)
	if err != nil {
		return nil, err
	}
	var caCert *x509.Certificate
	if in.CACertificatePem != "" {
		if caCert, err = parseCertificate("caCertificatePem", in.CACertificatePem); err != nil {
			return nil, err
		}
	}
	status, err := registerStatus(in.Status, in.SetAsActive)
	if err != nil {
		return nil, err
	}
	desc := c.newDescription(cert, status, iotdm.CertificateModeDefault)
	err = c.insert(ctx, &desc, func(ctx context.Context, tx iotdm.Tx) error {
		ca, err := issuingCA(ctx, tx, cert, caCert, desc.CreationDate.Time)
		if err != nil {
			return err
		}
		desc.CACertificateID = ca.CertificateID
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &iotdm.RegisterCertificateOutput{CertificateARN: desc.CertificateARN, CertificateID: desc.CertificateID}, nil
}

// RegisterCertificateWithoutCA registers a device certificate in SNI_ONLY
// mode: its issuer is not checked, only that it is valid now.
func (c *Certificates) RegisterCertificateWithoutCA(ctx context.Context, in *iotdm.RegisterCertificateWithoutCAInput) (*iotdm.RegisterCertificateWithoutCAOutput, error) {
	cert, err := parseCertificate("certificatePem", in.CertificatePem)
	if err != nil {
		return nil, err
	}
	status, err := registerStatus(in.Status, false)
	if err != nil {
		return nil, err
	}
	desc := c.newDescription(cert, status, iotdm.CertificateModeSNIOnly)
	switch now := desc.CreationDate.Time; {
	case now.After(cert.NotAfter):
		return nil, iotdm.Errorf(iotdm.ErrCertificateValidation, "The certificate expired at %s", cert.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(cert.NotBefore):
		return nil, iotdm.Errorf(iotdm.ErrCertificateValidation, "The certificate is not valid before %s", cert.NotBefore.UTC().Format(time.RFC3339))
	}
	if err := c.insert(ctx, &desc, nil); err != nil {
		return nil, err
	}
	return &iotdm.RegisterCertificateWithoutCAOutput{CertificateARN: desc.CertificateARN, CertificateID: desc.CertificateID}, nil
}
