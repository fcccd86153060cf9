package pki_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"sync"
	"testing"
	"time"

	"github.com/iotdm/iotdm/internal/pki"
)

// testNow is the fixed clock of tests that check validity periods.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

// newCA creates a CA whose clock is fixed at testNow.
func newCA(t testing.TB) *pki.CA {
	t.Helper()
	ca, err := pki.NewCA(pki.CAOptions{Now: fixedClock(testNow)})
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	return ca
}

// newLiveCA creates a CA on the real clock, for handshakes and openssl.
func newLiveCA(t testing.TB) *pki.CA {
	t.Helper()
	ca, err := pki.NewCA(pki.CAOptions{})
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	return ca
}

// rsa2048 is one RSA 2048 key shared by the tests: generating them is slow.
var rsa2048 = sync.OnceValues(func() (*rsa.PrivateKey, error) {
	return rsa.GenerateKey(rand.Reader, 2048)
})

func rsaKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa2048()
	if err != nil {
		t.Fatalf("rsa.GenerateKey: %v", err)
	}
	return k
}

func ecKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatalf("ecdsa.GenerateKey: %v", err)
	}
	return k
}

// csrPEM makes a PEM CSR for key with the given subject.
func csrPEM(t testing.TB, key crypto.Signer, subject pkix.Name) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: subject}, key)
	if err != nil {
		t.Fatalf("CreateCertificateRequest: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// pool returns a pool holding the CA certificate, parsed from its PEM as a
// device would.
func pool(t testing.TB, ca *pki.CA) *x509.CertPool {
	t.Helper()
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(ca.PEM()) {
		t.Fatalf("AppendCertsFromPEM(ca.PEM()) failed")
	}
	return p
}

// verifyClient checks cert chains to ca for client authentication at now.
func verifyClient(t testing.TB, cert *x509.Certificate, ca *pki.CA, now time.Time) {
	t.Helper()
	_, err := cert.Verify(x509.VerifyOptions{
		Roots:       pool(t, ca),
		CurrentTime: now,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		t.Fatalf("x509 Verify(issued certificate) = %v, want nil", err)
	}
}
