package pki_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/iotdm/iotdm/internal/pki"
)

func TestNewCA(t *testing.T) {
	ca := newCA(t)
	c := ca.Certificate()
	if c.Subject.CommonName != "iotdm Root CA" {
		t.Errorf("CN = %q, want %q", c.Subject.CommonName, "iotdm Root CA")
	}
	if !c.BasicConstraintsValid || !c.IsCA || c.MaxPathLen != 0 || !c.MaxPathLenZero {
		t.Errorf("BasicConstraints = valid %v, CA %v, pathlen %d (zero %v), want CA:TRUE pathlen 0",
			c.BasicConstraintsValid, c.IsCA, c.MaxPathLen, c.MaxPathLenZero)
	}
	if want := x509.KeyUsageCertSign | x509.KeyUsageCRLSign; c.KeyUsage != want {
		t.Errorf("KeyUsage = %v, want %v", c.KeyUsage, want)
	}
	if len(c.SubjectKeyId) != 20 {
		t.Errorf("SubjectKeyId = %x, want 20 bytes", c.SubjectKeyId)
	}
	if k, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		t.Errorf("public key = %T, want ECDSA P-256", c.PublicKey)
	}
	if c.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		t.Errorf("SignatureAlgorithm = %v, want ECDSA-SHA256", c.SignatureAlgorithm)
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("CA is not self-signed: %v", err)
	}
	if want := testNow.Add(-time.Hour); !c.NotBefore.Equal(want) {
		t.Errorf("NotBefore = %v, want %v", c.NotBefore, want)
	}
	if want := testNow.Add(pki.DefaultCAValidity); !c.NotAfter.Equal(want) {
		t.Errorf("NotAfter = %v, want %v", c.NotAfter, want)
	}
	if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() > 128 {
		t.Errorf("serial %v, want positive and at most 128 bits", c.SerialNumber)
	}
	// The CA must outlive the device certificates it issues.
	if !c.NotAfter.After(time.Date(2049, 12, 31, 23, 59, 59, 0, time.UTC)) {
		t.Errorf("NotAfter = %v, want after the device certificates' 2049-12-31T23:59:59Z", c.NotAfter)
	}
	if err := pki.ValidateCACertificate(c, testNow); err != nil {
		t.Errorf("ValidateCACertificate(new CA) = %v, want nil", err)
	}

	pemCopy := ca.PEM()
	pemCopy[0] = 'X'
	if bytes.Equal(pemCopy, ca.PEM()) {
		t.Errorf("PEM() returns the CA's own buffer")
	}
	if got, err := pki.ParseCertificatePEM(ca.PEM()); err != nil || !bytes.Equal(got.Raw, c.Raw) {
		t.Errorf("ParseCertificatePEM(ca.PEM()) = %v, want the CA certificate", err)
	}
}

func TestNewCAOptions(t *testing.T) {
	ca, err := pki.NewCA(pki.CAOptions{CommonName: "Acme Test CA", Validity: 48 * time.Hour, Now: fixedClock(testNow)})
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	c := ca.Certificate()
	if c.Subject.CommonName != "Acme Test CA" {
		t.Errorf("CN = %q, want %q", c.Subject.CommonName, "Acme Test CA")
	}
	if want := testNow.Add(48 * time.Hour); !c.NotAfter.Equal(want) {
		t.Errorf("NotAfter = %v, want %v", c.NotAfter, want)
	}
	if _, err := pki.NewCA(pki.CAOptions{Validity: -time.Hour}); err == nil {
		t.Errorf("NewCA(negative validity) = nil error, want an error")
	}
}

func TestParseCA(t *testing.T) {
	ca := newCA(t)
	keyPEM, err := ca.PrivateKeyPEM()
	if err != nil {
		t.Fatalf("PrivateKeyPEM: %v", err)
	}
	if !bytes.HasPrefix(keyPEM, []byte("-----BEGIN PRIVATE KEY-----")) {
		t.Errorf("PrivateKeyPEM() = %.30q..., want a PKCS#8 PRIVATE KEY block", keyPEM)
	}
	loaded, err := pki.ParseCA(ca.PEM(), keyPEM, pki.CAOptions{Now: fixedClock(testNow)})
	if err != nil {
		t.Fatalf("ParseCA(round trip) = %v", err)
	}
	if !bytes.Equal(loaded.Certificate().Raw, ca.Certificate().Raw) {
		t.Errorf("ParseCA certificate differs from the original")
	}
	// The reloaded CA signs with the same key: its certificates verify
	// against the original CA certificate.
	certPEM, cert, err := loaded.IssueFromCSR(csrPEM(t, ecKey(t, elliptic.P256()), pkix.Name{CommonName: "d"}))
	if err != nil {
		t.Fatalf("IssueFromCSR: %v", err)
	}
	verifyClient(t, cert, ca, testNow)
	if len(certPEM) == 0 {
		t.Errorf("IssueFromCSR returned no PEM")
	}
}

func TestParseCAErrors(t *testing.T) {
	ca := newCA(t)
	keyPEM, err := ca.PrivateKeyPEM()
	if err != nil {
		t.Fatalf("PrivateKeyPEM: %v", err)
	}
	otherKey, err := newCA(t).PrivateKeyPEM()
	if err != nil {
		t.Fatalf("PrivateKeyPEM: %v", err)
	}
	// A device certificate and its own key: a matching pair, but no CA.
	devCert, _, devKey, _, err := ca.CreateKeysAndCertificate(pki.KeyOptions{Algorithm: pki.KeyECDSAP256})
	if err != nil {
		t.Fatalf("CreateKeysAndCertificate: %v", err)
	}
	for _, tc := range []struct {
		name      string
		cert, key []byte
		wantKind  error
	}{
		{name: "garbage certificate", cert: []byte("not a certificate"), key: keyPEM},
		{name: "truncated certificate", cert: ca.PEM()[:len(ca.PEM())/2], key: keyPEM},
		{name: "garbage key", cert: ca.PEM(), key: []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")},
		{name: "empty key", cert: ca.PEM(), key: nil},
		{name: "key of another CA", cert: ca.PEM(), key: otherKey},
		{name: "key is a certificate", cert: ca.PEM(), key: ca.PEM()},
		{name: "not a CA", cert: devCert, key: devKey, wantKind: pki.ErrNotCA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pki.ParseCA(tc.cert, tc.key, pki.CAOptions{})
			if !errors.Is(err, pki.ErrInvalidCA) {
				t.Fatalf("ParseCA = %v, want an error wrapping ErrInvalidCA", err)
			}
			if tc.wantKind != nil && !errors.Is(err, tc.wantKind) {
				t.Errorf("ParseCA = %v, want an error wrapping %v", err, tc.wantKind)
			}
		})
	}
}

func TestExpiredCAIssuesNothing(t *testing.T) {
	now := testNow
	ca, err := pki.NewCA(pki.CAOptions{Validity: time.Hour, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	csr := csrPEM(t, ecKey(t, elliptic.P256()), pkix.Name{CommonName: "d"})
	if _, _, err := ca.IssueFromCSR(csr); err != nil {
		t.Fatalf("IssueFromCSR before expiry = %v, want nil", err)
	}
	now = testNow.Add(2 * time.Hour)
	if _, _, err := ca.IssueFromCSR(csr); !errors.Is(err, pki.ErrInvalidCA) {
		t.Errorf("IssueFromCSR after CA expiry = %v, want an error wrapping ErrInvalidCA", err)
	}
	if _, err := ca.ServerCertificate(nil); !errors.Is(err, pki.ErrInvalidCA) {
		t.Errorf("ServerCertificate after CA expiry = %v, want an error wrapping ErrInvalidCA", err)
	}
}

// An operator may bring a CA with another key type; ParseCA takes it and the
// CA signs with the algorithm that key calls for.
func TestParseCAEd25519(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("ed25519.GenerateKey: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Ed25519 CA"},
		NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(time.Hour),
		BasicConstraintsValid: true, IsCA: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatalf("CreateCertificate: %v", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatalf("MarshalPKCS8PrivateKey: %v", err)
	}
	ca, err := pki.ParseCA(pki.EncodeCertificatePEM(der), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), pki.CAOptions{Now: fixedClock(testNow)})
	if err != nil {
		t.Fatalf("ParseCA(Ed25519 CA) = %v", err)
	}
	_, cert, err := ca.IssueFromCSR(csrPEM(t, ecKey(t, elliptic.P256()), pkix.Name{CommonName: "d"}))
	if err != nil {
		t.Fatalf("IssueFromCSR: %v", err)
	}
	if cert.SignatureAlgorithm != x509.PureEd25519 {
		t.Errorf("SignatureAlgorithm = %v, want Ed25519", cert.SignatureAlgorithm)
	}
	// The device certificate's expiry is capped at the CA's.
	if !cert.NotAfter.Equal(testNow.Add(time.Hour)) {
		t.Errorf("NotAfter = %v, want the CA's %v", cert.NotAfter, testNow.Add(time.Hour))
	}
	verifyClient(t, cert, ca, testNow)
}
