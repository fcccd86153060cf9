package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"time"
)

// DefaultCACommonName is the subject CN of a new built-in CA.
const DefaultCACommonName = "iotdm Root CA"

// DefaultCAValidity is the validity of a new built-in CA: 30 years. A CA
// created today outlives the device certificates it issues, which expire at
// 2049-12-31T23:59:59Z like AWS-issued ones; a shorter-lived CA caps their
// expiry at its own.
const DefaultCAValidity = 30 * 365 * 24 * time.Hour

// caBackdate is how far before its creation a CA or server certificate
// becomes valid, so that devices whose clocks lag still accept it.
const caBackdate = time.Hour

// CAOptions configure NewCA and ParseCA. The zero value is ready to use.
type CAOptions struct {
	// CommonName is the subject CN of a new CA; empty means
	// DefaultCACommonName. ParseCA ignores it.
	CommonName string
	// Validity is how long a new CA is valid; zero means DefaultCAValidity.
	// ParseCA ignores it.
	Validity time.Duration
	// Now is the clock used for validity periods; nil means time.Now. Tests
	// inject fixed times.
	Now func() time.Time
}

func (o CAOptions) clock() func() time.Time {
	if o.Now == nil {
		return time.Now
	}
	return o.Now
}

// CA is a certificate authority: a CA certificate and its private key. It is
// immutable and safe for concurrent use.
type CA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     crypto.Signer
	now     func() time.Time
}

// NewCA creates a root CA: an ECDSA P-256 key and a self-signed certificate
// with BasicConstraints CA:TRUE (path length 0: it signs only end-entity
// certificates), KeyUsage keyCertSign|cRLSign and a SubjectKeyId.
func NewCA(opts CAOptions) (*CA, error) {
	if opts.Validity < 0 {
		return nil, fmt.Errorf("new CA: negative validity %v", opts.Validity)
	}
	validity := opts.Validity
	if validity == 0 {
		validity = DefaultCAValidity
	}
	cn := opts.CommonName
	if cn == "" {
		cn = DefaultCACommonName
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("new CA: generate key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, fmt.Errorf("new CA: %w", err)
	}
	ski, err := subjectKeyID(key.Public())
	if err != nil {
		return nil, fmt.Errorf("new CA: %w", err)
	}
	now := opts.clock()().UTC().Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"iotdm"}},
		NotBefore:             now.Add(-caBackdate),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		SubjectKeyId:          ski,
		SignatureAlgorithm:    x509.ECDSAWithSHA256,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("new CA: create certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("new CA: parse certificate: %w", err)
	}
	return &CA{cert: cert, certPEM: EncodeCertificatePEM(der), key: key, now: opts.clock()}, nil
}

// ParseCA builds a CA from a PEM certificate and a PEM private key (PKCS#8
// "PRIVATE KEY", SEC 1 "EC PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY"). The
// certificate must be a CA certificate and the key must match it. Errors wrap
// ErrInvalidCA. Only opts.Now is used.
func ParseCA(certPEM, keyPEM []byte, opts CAOptions) (*CA, error) {
	cert, err := ParseCertificatePEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("%w: certificate: %w", ErrInvalidCA, err)
	}
	if err := checkCA(cert); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidCA, err)
	}
	key, err := parsePrivateKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%w: private key: %w", ErrInvalidCA, err)
	}
	pub, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(key.Public()) {
		return nil, fmt.Errorf("%w: private key does not match certificate %q", ErrInvalidCA, cert.Subject)
	}
	return &CA{cert: cert, certPEM: EncodeCertificatePEM(cert.Raw), key: key, now: opts.clock()}, nil
}

// parsePrivateKey parses one PEM private key block.
func parsePrivateKey(keyPEM []byte) (crypto.Signer, error) {
	blocks, err := decodePEM(keyPEM, 1)
	if err != nil {
		return nil, err
	}
	b := blocks[0]
	var key any
	switch b.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	default:
		return nil, fmt.Errorf("PEM block is %q, want PRIVATE KEY", b.Type)
	}
	if err != nil {
		return nil, err
	}
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		return k, nil
	case *rsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("unsupported private key type %T", key)
}

// Certificate returns the CA certificate. Callers must not modify it.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// PEM returns the CA certificate as PEM: what devices and clients trust.
func (ca *CA) PEM() []byte { return append([]byte(nil), ca.certPEM...) }

// PrivateKeyPEM returns the CA's private key as a PKCS#8 PEM block, for
// persisting it. It is the most sensitive secret of an installation.
func (ca *CA) PrivateKeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(ca.key)
	if err != nil {
		return nil, fmt.Errorf("marshal CA key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// checkUsable reports a CA that cannot issue a certificate valid at now.
// That is the operator's problem, not the client's, so it is not a
// *ValidationError.
func (ca *CA) checkUsable(now time.Time) error {
	if now.After(ca.cert.NotAfter) {
		return fmt.Errorf("%w: CA certificate expired at %s", ErrInvalidCA, ca.cert.NotAfter.Format(time.RFC3339))
	}
	if now.Before(ca.cert.NotBefore) {
		return fmt.Errorf("%w: CA certificate is not valid before %s", ErrInvalidCA, ca.cert.NotBefore.Format(time.RFC3339))
	}
	return nil
}
