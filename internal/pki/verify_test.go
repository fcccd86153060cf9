package pki_test

import (
	"crypto"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"regexp"
	"testing"
	"time"

	"github.com/iotdm/iotdm/internal/pki"
)

// issue makes a device certificate of ca for a new ECDSA key.
func issue(t *testing.T, ca *pki.CA, cn string, opts pki.IssueOptions) *x509.Certificate {
	t.Helper()
	der, err := ca.IssueFromPublicKey(ecKey(t, elliptic.P256()).Public(), pkix.Name{CommonName: cn}, opts)
	if err != nil {
		t.Fatalf("IssueFromPublicKey: %v", err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("ParseCertificate: %v", err)
	}
	return c
}

// caKey returns the private key of ca.
func caKey(t *testing.T, ca *pki.CA) crypto.Signer {
	t.Helper()
	keyPEM, err := ca.PrivateKeyPEM()
	if err != nil {
		t.Fatalf("PrivateKeyPEM: %v", err)
	}
	block, _ := pem.Decode(keyPEM)
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("ParsePKCS8PrivateKey: %v", err)
	}
	return k.(crypto.Signer)
}

// sign creates a certificate from tmpl, issued by parent with key.
func sign(t *testing.T, tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatalf("CreateCertificate: %v", err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("ParseCertificate: %v", err)
	}
	return c
}

// wantValidation checks that err is a *ValidationError of the given kind.
func wantValidation(t *testing.T, call string, err, kind error) {
	t.Helper()
	var ve *pki.ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, kind) {
		t.Errorf("%s = %v, want a *ValidationError wrapping %v", call, err, kind)
		return
	}
	if ve.Reason == "" || ve.Error() != ve.Reason {
		t.Errorf("%s: Reason %q, Error() %q, want the same non-empty text", call, ve.Reason, ve.Error())
	}
}

func TestVerifyIssuedBy(t *testing.T) {
	ca := newCA(t)
	// Same default subject name as ca, different key.
	sameName := newCA(t)
	otherName, err := pki.NewCA(pki.CAOptions{CommonName: "Other CA", Now: fixedClock(testNow)})
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	shortCA, err := pki.NewCA(pki.CAOptions{Validity: 48 * time.Hour, Now: fixedClock(testNow)})
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}

	cert := issue(t, ca, "dev", pki.IssueOptions{})
	shortCert := issue(t, ca, "short", pki.IssueOptions{NotAfter: testNow.Add(time.Hour)})
	underShort := issue(t, shortCA, "dev", pki.IssueOptions{})

	sha1Cert := sign(t, &x509.Certificate{
		SerialNumber:       big.NewInt(7),
		Subject:            pkix.Name{CommonName: "sha1"},
		NotBefore:          testNow.Add(-time.Hour),
		NotAfter:           testNow.Add(time.Hour),
		SignatureAlgorithm: x509.ECDSAWithSHA1,
	}, ca.Certificate(), ecKey(t, elliptic.P256()).Public(), caKey(t, ca))

	// ca's key under another name: the signature verifies, the names do
	// not chain.
	renamedTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "Renamed CA"},
		NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(time.Hour),
		BasicConstraintsValid: true, IsCA: true, KeyUsage: x509.KeyUsageCertSign,
	}
	renamed := sign(t, renamedTmpl, renamedTmpl, ca.Certificate().PublicKey, caKey(t, ca))
	if err := cert.CheckSignatureFrom(renamed); err != nil {
		t.Fatalf("test setup: renamed CA does not share the key: %v", err)
	}

	if err := pki.VerifyIssuedBy(cert, ca.Certificate(), testNow); err != nil {
		t.Errorf("VerifyIssuedBy(good) = %v, want nil", err)
	}
	for _, tc := range []struct {
		name     string
		cert, ca *x509.Certificate
		now      time.Time
		kind     error
	}{
		{"expired", shortCert, ca.Certificate(), testNow.Add(2 * time.Hour), pki.ErrExpired},
		{"not yet valid", cert, ca.Certificate(), testNow.Add(-time.Hour), pki.ErrNotYetValid},
		{"other CA with the same name", cert, sameName.Certificate(), testNow, pki.ErrSignature},
		{"other CA with another name", cert, otherName.Certificate(), testNow, pki.ErrSignature},
		{"same key under another name", cert, renamed, testNow, pki.ErrSignature},
		{"issuer is not a CA", cert, cert, testNow, pki.ErrNotCA},
		{"CA expired", underShort, shortCA.Certificate(), testNow.Add(72 * time.Hour), pki.ErrExpired},
		{"SHA-1 signature", sha1Cert, ca.Certificate(), testNow, pki.ErrUnsupportedAlgorithm},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantValidation(t, "VerifyIssuedBy", pki.VerifyIssuedBy(tc.cert, tc.ca, tc.now), tc.kind)
		})
	}
}

func TestValidateCACertificate(t *testing.T) {
	ca := newCA(t)
	if err := pki.ValidateCACertificate(ca.Certificate(), testNow); err != nil {
		t.Errorf("ValidateCACertificate(CA) = %v, want nil", err)
	}
	key := ecKey(t, elliptic.P256())
	selfSigned := func(tmpl *x509.Certificate) *x509.Certificate {
		tmpl.SerialNumber = big.NewInt(1)
		tmpl.Subject = pkix.Name{CommonName: "custom CA"}
		tmpl.NotBefore, tmpl.NotAfter = testNow.Add(-time.Hour), testNow.Add(time.Hour)
		return sign(t, tmpl, tmpl, key.Public(), key)
	}
	// An intermediate CA signed by ca: not self-signed, still a CA.
	intermediate := sign(t, &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "intermediate"},
		NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(time.Hour),
		BasicConstraintsValid: true, IsCA: true, KeyUsage: x509.KeyUsageCertSign,
	}, ca.Certificate(), key.Public(), caKey(t, ca))
	if err := pki.ValidateCACertificate(intermediate, testNow); err != nil {
		t.Errorf("ValidateCACertificate(intermediate) = %v, want nil", err)
	}

	for _, tc := range []struct {
		name string
		cert *x509.Certificate
		now  time.Time
		kind error
	}{
		{"device certificate", issue(t, ca, "dev", pki.IssueOptions{}), testNow, pki.ErrNotCA},
		{"no basic constraints", selfSigned(&x509.Certificate{KeyUsage: x509.KeyUsageCertSign}), testNow, pki.ErrNotCA},
		{"CA without keyCertSign", selfSigned(&x509.Certificate{BasicConstraintsValid: true, IsCA: true, KeyUsage: x509.KeyUsageDigitalSignature}), testNow, pki.ErrNotCA},
		{"SHA-1", selfSigned(&x509.Certificate{BasicConstraintsValid: true, IsCA: true, SignatureAlgorithm: x509.ECDSAWithSHA1}), testNow, pki.ErrUnsupportedAlgorithm},
		{"expired", ca.Certificate(), testNow.Add(pki.DefaultCAValidity + time.Second), pki.ErrExpired},
		{"not yet valid", ca.Certificate(), testNow.Add(-2 * time.Hour), pki.ErrNotYetValid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantValidation(t, "ValidateCACertificate", pki.ValidateCACertificate(tc.cert, tc.now), tc.kind)
		})
	}
}

func TestVerifyRegistrationCode(t *testing.T) {
	code, err := pki.NewRegistrationCode()
	if err != nil {
		t.Fatalf("NewRegistrationCode: %v", err)
	}
	// The customer's CA being registered, and a verification certificate it
	// signed with the registration code as CN.
	custCA := newCA(t)
	verification := issue(t, custCA, code, pki.IssueOptions{})
	if err := pki.VerifyRegistrationCode(verification, custCA.Certificate(), code); err != nil {
		t.Errorf("VerifyRegistrationCode(good) = %v, want nil", err)
	}

	otherCode, err := pki.NewRegistrationCode()
	if err != nil {
		t.Fatalf("NewRegistrationCode: %v", err)
	}
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"another code", pki.VerifyRegistrationCode(verification, custCA.Certificate(), otherCode)},
		{"empty code", pki.VerifyRegistrationCode(issue(t, custCA, "", pki.IssueOptions{}), custCA.Certificate(), "")},
		{"code in another case", pki.VerifyRegistrationCode(issue(t, custCA, "ABC", pki.IssueOptions{}), custCA.Certificate(), "abc")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ve *pki.ValidationError
			if !errors.Is(tc.err, pki.ErrRegistrationCode) || errors.As(tc.err, &ve) {
				t.Errorf("VerifyRegistrationCode = %v, want ErrRegistrationCode and no *ValidationError", tc.err)
			}
		})
	}

	t.Run("signed by another CA", func(t *testing.T) {
		// Right code, but the signer is not the CA being registered (whose
		// subject name is the same).
		forged := issue(t, newCA(t), code, pki.IssueOptions{})
		err := pki.VerifyRegistrationCode(forged, custCA.Certificate(), code)
		wantValidation(t, "VerifyRegistrationCode", err, pki.ErrSignature)
		if errors.Is(err, pki.ErrRegistrationCode) {
			t.Errorf("VerifyRegistrationCode = %v, want no ErrRegistrationCode", err)
		}
	})
}

func TestNewRegistrationCode(t *testing.T) {
	a, err := pki.NewRegistrationCode()
	if err != nil {
		t.Fatalf("NewRegistrationCode: %v", err)
	}
	b, err := pki.NewRegistrationCode()
	if err != nil {
		t.Fatalf("NewRegistrationCode: %v", err)
	}
	re := regexp.MustCompile(`^[0-9a-f]{64}$`)
	if !re.MatchString(a) || !re.MatchString(b) {
		t.Errorf("NewRegistrationCode() = %q, %q; want 64 lowercase hex characters", a, b)
	}
	if a == b {
		t.Errorf("NewRegistrationCode() returned %q twice", a)
	}
}
