package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/netip"
	"strings"
	"time"
)

// DefaultDeviceCommonName is the subject CN of device certificates whose
// request names no subject. AWS: CreateKeysAndCertificate issues
// certificates with CN "AWS IoT Certificate" (§5.2).
const DefaultDeviceCommonName = "AWS IoT Certificate"

// deviceNotAfter is when issued device certificates expire. AWS: certificates
// issued by AWS IoT expire at 2049-12-31T23:59:59Z (§5.2).
var deviceNotAfter = time.Date(2049, 12, 31, 23, 59, 59, 0, time.UTC)

// deviceBackdate is how far before issuance a device certificate becomes
// valid. The broker checks it with the clock of the CA that issued it.
const deviceBackdate = time.Minute

// serverValidity is the validity of the broker's server certificate, which is
// made again on every start.
const serverValidity = 365 * 24 * time.Hour

// IssueOptions configure IssueFromPublicKey. The zero value issues what AWS
// issues.
type IssueOptions struct {
	// NotAfter is when the certificate expires; zero means
	// 2049-12-31T23:59:59Z. It is capped at the CA's own expiry.
	NotAfter time.Time
}

// IssueFromPublicKey issues a device certificate for pub, signed by the CA,
// and returns its DER bytes. An empty subject becomes CN "AWS IoT
// Certificate". The certificate has a random 128-bit serial, is valid from one
// minute ago, has KeyUsage digitalSignature (and keyEncipherment for RSA),
// ExtKeyUsage clientAuth and AuthorityKeyId = the CA's SubjectKeyId. pub must
// be RSA of at least 2048 bits, ECDSA on P-256, P-384 or P-521, or Ed25519;
// any other key is an *UnsupportedKeyError.
func (ca *CA) IssueFromPublicKey(pub crypto.PublicKey, subject pkix.Name, opts IssueOptions) ([]byte, error) {
	if err := checkPublicKey(pub); err != nil {
		return nil, err
	}
	var raw []byte
	if len(subject.ToRDNSequence()) > 0 {
		var err error
		if raw, err = asn1.Marshal(subject.ToRDNSequence()); err != nil {
			return nil, fmt.Errorf("issue certificate: marshal subject: %w", err)
		}
	}
	return ca.issueDevice(pub, raw, opts.NotAfter)
}

// IssueFromCSR issues a device certificate for a PEM certificate signing
// request (block type "CERTIFICATE REQUEST" or "NEW CERTIFICATE REQUEST", at
// most MaxCSRLength bytes), as AWS CreateCertificateFromCsr does. The CSR's
// self-signature must verify and its key must be one IssueFromPublicKey
// accepts; otherwise the error wraps ErrInvalidCSR (and an
// *UnsupportedKeyError for a refused key). The certificate keeps the CSR's
// subject exactly, or gets CN "AWS IoT Certificate" if it is empty; the CSR's
// extensions (such as subject alternative names) are not copied.
func (ca *CA) IssueFromCSR(csrPEM []byte) (certPEM []byte, cert *x509.Certificate, err error) {
	csr, err := parseCSR(csrPEM)
	if err != nil {
		return nil, nil, err
	}
	var raw []byte
	if len(csr.Subject.Names) > 0 {
		raw = csr.RawSubject
	}
	der, err := ca.issueDevice(csr.PublicKey, raw, time.Time{})
	if err != nil {
		return nil, nil, err
	}
	if cert, err = x509.ParseCertificate(der); err != nil {
		return nil, nil, fmt.Errorf("issue certificate: parse: %w", err)
	}
	return EncodeCertificatePEM(der), cert, nil
}

// issueDevice signs a device certificate for pub with the DER subject
// rawSubject (empty: the default CN).
func (ca *CA) issueDevice(pub crypto.PublicKey, rawSubject []byte, notAfter time.Time) ([]byte, error) {
	now := ca.now().UTC().Truncate(time.Second)
	if err := ca.checkUsable(now); err != nil {
		return nil, fmt.Errorf("issue certificate: %w", err)
	}
	if notAfter.IsZero() {
		notAfter = deviceNotAfter
	}
	tmpl, err := ca.leafTemplate(pub, now.Add(-deviceBackdate), notAfter)
	if err != nil {
		return nil, fmt.Errorf("issue certificate: %w", err)
	}
	if len(rawSubject) > 0 {
		tmpl.RawSubject = rawSubject
	} else {
		tmpl.Subject = pkix.Name{CommonName: DefaultDeviceCommonName}
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	if _, ok := pub.(*rsa.PublicKey); ok {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		return nil, fmt.Errorf("issue certificate: %w", err)
	}
	return der, nil
}

// leafTemplate returns the parts every end-entity certificate of the CA
// shares. notAfter is capped at the CA's expiry.
func (ca *CA) leafTemplate(pub crypto.PublicKey, notBefore, notAfter time.Time) (*x509.Certificate, error) {
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	if !notAfter.After(notBefore) {
		return nil, fmt.Errorf("expiry %s is not after %s", notAfter.Format(time.RFC3339), notBefore.Format(time.RFC3339))
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	ski, err := subjectKeyID(pub)
	if err != nil {
		return nil, err
	}
	return &x509.Certificate{
		SerialNumber:          serial,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
		SubjectKeyId:          ski,
		AuthorityKeyId:        ca.cert.SubjectKeyId,
	}, nil
}

// KeyAlgorithm is the kind of key pair CreateKeysAndCertificate generates.
type KeyAlgorithm string

// Key algorithms for CreateKeysAndCertificate.
const (
	// KeyRSA2048 is what AWS CreateKeysAndCertificate generates (§5.2).
	KeyRSA2048 KeyAlgorithm = "RSA2048"
	// KeyECDSAP256 is much faster to generate; for tests, benchmarks and
	// bulk simulated fleets.
	KeyECDSAP256 KeyAlgorithm = "ECDSA_P256"
)

// KeyOptions configure CreateKeysAndCertificate. The zero value does what
// AWS does.
type KeyOptions struct {
	// Algorithm of the generated key pair; empty means KeyRSA2048.
	Algorithm KeyAlgorithm
}

// CreateKeysAndCertificate generates a key pair and issues a device
// certificate for it with subject CN "AWS IoT Certificate", as AWS
// CreateKeysAndCertificate does. It returns the certificate as PEM, the public
// key as a PKIX "PUBLIC KEY" PEM block and the private key as a PKCS#1 "RSA
// PRIVATE KEY" block (like AWS) or, for ECDSA, a SEC 1 "EC PRIVATE KEY" block.
// The private key is kept nowhere: this is the only copy.
func (ca *CA) CreateKeysAndCertificate(opts KeyOptions) (certPEM, publicKeyPEM, privateKeyPEM []byte, cert *x509.Certificate, err error) {
	var (
		key   crypto.Signer
		block *pem.Block
	)
	switch opts.Algorithm {
	case "", KeyRSA2048:
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, nil, nil, nil, fmt.Errorf("create keys: %w", err)
		}
		key, block = k, &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}
	case KeyECDSAP256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, nil, nil, fmt.Errorf("create keys: %w", err)
		}
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return nil, nil, nil, nil, fmt.Errorf("create keys: %w", err)
		}
		key, block = k, &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
	default:
		return nil, nil, nil, nil, fmt.Errorf("create keys: unknown key algorithm %q", opts.Algorithm)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("create keys: %w", err)
	}
	der, err := ca.issueDevice(key.Public(), nil, time.Time{})
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if cert, err = x509.ParseCertificate(der); err != nil {
		return nil, nil, nil, nil, fmt.Errorf("create keys: parse certificate: %w", err)
	}
	return EncodeCertificatePEM(der),
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}),
		pem.EncodeToMemory(block),
		cert, nil
}

// defaultServerHosts are the names the broker's server certificate covers
// when none are given.
var defaultServerHosts = []string{"localhost", "127.0.0.1"}

// ServerCertificate issues a TLS server certificate for the MQTT broker with
// a fresh ECDSA P-256 key: ExtKeyUsage serverAuth, valid from an hour ago for
// a year (capped at the CA's expiry), with hosts as subject alternative names
// (IP addresses as IP SANs, anything else as DNS names; "localhost" and
// "127.0.0.1" if hosts is empty). The result carries the chain (leaf, then the CA) and the
// parsed leaf. Nothing is kept: call it again on every start.
func (ca *CA) ServerCertificate(hosts []string) (tls.Certificate, error) {
	if len(hosts) == 0 {
		hosts = defaultServerHosts
	}
	now := ca.now().UTC().Truncate(time.Second)
	if err := ca.checkUsable(now); err != nil {
		return tls.Certificate{}, fmt.Errorf("server certificate: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("server certificate: generate key: %w", err)
	}
	tmpl, err := ca.leafTemplate(key.Public(), now.Add(-caBackdate), now.Add(serverValidity))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("server certificate: %w", err)
	}
	tmpl.Subject = pkix.Name{CommonName: "iotdm MQTT broker", Organization: []string{"iotdm"}}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		if h == "" {
			return tls.Certificate{}, fmt.Errorf("server certificate: empty host name")
		}
		if addr, err := netip.ParseAddr(h); err == nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, addr.WithZone("").AsSlice())
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("server certificate: parse: %w", err)
	}
	return tls.Certificate{
		Certificate: [][]byte{der, ca.cert.Raw},
		PrivateKey:  key,
		Leaf:        leaf,
	}, nil
}

// checkPublicKey returns an *UnsupportedKeyError unless pub is a key the CA
// certifies.
func checkPublicKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return &UnsupportedKeyError{Algorithm: "RSA", Detail: "empty key"}
		}
		if bits := k.N.BitLen(); bits < 2048 {
			return &UnsupportedKeyError{Algorithm: "RSA", Detail: fmt.Sprintf("%d bits, want at least 2048", bits)}
		}
		return nil
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil {
			return &UnsupportedKeyError{Algorithm: "ECDSA", Detail: "empty key"}
		}
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return nil
		}
		return &UnsupportedKeyError{Algorithm: "ECDSA", Detail: fmt.Sprintf("curve %s, want P-256, P-384 or P-521", k.Curve.Params().Name)}
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return &UnsupportedKeyError{Algorithm: "Ed25519", Detail: fmt.Sprintf("%d bytes", len(k))}
		}
		return nil
	}
	return &UnsupportedKeyError{Algorithm: fmt.Sprintf("%T", pub)}
}

// serialLimit bounds serial numbers to 128 bits.
var serialLimit = new(big.Int).Lsh(big.NewInt(1), 128)

// newSerial returns a random positive serial number of at most 128 bits.
func newSerial() (*big.Int, error) {
	for {
		n, err := rand.Int(rand.Reader, serialLimit)
		if err != nil {
			return nil, fmt.Errorf("generate serial number: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

// subjectKeyID computes a SubjectKeyId as RFC 7093 §2 method 1 does (and as
// crypto/x509 does for CA certificates): the leftmost 160 bits of the SHA-256
// of the subjectPublicKey bit string.
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	sum := sha256.Sum256(spki.PublicKey.Bytes)
	return sum[:20], nil
}
