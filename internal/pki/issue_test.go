package pki_test

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotdm/iotdm/internal/pki"
)

var awsNotAfter = time.Date(2049, 12, 31, 23, 59, 59, 0, time.UTC)

// checkDevice checks what every device certificate of ca must be.
func checkDevice(t *testing.T, cert *x509.Certificate, ca *pki.CA, pub crypto.PublicKey) {
	t.Helper()
	verifyClient(t, cert, ca, testNow)
	if !cert.NotAfter.Equal(awsNotAfter) {
		t.Errorf("NotAfter = %v, want %v", cert.NotAfter, awsNotAfter)
	}
	if want := testNow.Add(-time.Minute); !cert.NotBefore.Equal(want) {
		t.Errorf("NotBefore = %v, want %v", cert.NotBefore, want)
	}
	wantUsage := x509.KeyUsageDigitalSignature
	if _, ok := pub.(*rsa.PublicKey); ok {
		wantUsage |= x509.KeyUsageKeyEncipherment
	}
	if cert.KeyUsage != wantUsage {
		t.Errorf("KeyUsage = %v, want %v", cert.KeyUsage, wantUsage)
	}
	if len(cert.ExtKeyUsage) != 1 || cert.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
		t.Errorf("ExtKeyUsage = %v, want [ClientAuth]", cert.ExtKeyUsage)
	}
	if !cert.BasicConstraintsValid || cert.IsCA {
		t.Errorf("BasicConstraints valid %v CA %v, want CA:FALSE", cert.BasicConstraintsValid, cert.IsCA)
	}
	if !bytes.Equal(cert.AuthorityKeyId, ca.Certificate().SubjectKeyId) {
		t.Errorf("AuthorityKeyId = %x, want the CA's SubjectKeyId %x", cert.AuthorityKeyId, ca.Certificate().SubjectKeyId)
	}
	if len(cert.SubjectKeyId) != 20 {
		t.Errorf("SubjectKeyId = %x, want 20 bytes", cert.SubjectKeyId)
	}
	if cert.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		t.Errorf("SignatureAlgorithm = %v, want ECDSA-SHA256", cert.SignatureAlgorithm)
	}
	if cert.SerialNumber.Sign() <= 0 || cert.SerialNumber.BitLen() > 128 {
		t.Errorf("serial %v, want positive and at most 128 bits", cert.SerialNumber)
	}
	if k, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !k.Equal(pub) {
		t.Errorf("certificate public key is not the requested one")
	}
	if err := pki.VerifyIssuedBy(cert, ca.Certificate(), testNow); err != nil {
		t.Errorf("VerifyIssuedBy = %v, want nil", err)
	}
}

func TestIssueFromCSR(t *testing.T) {
	ca := newCA(t)
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("ed25519.GenerateKey: %v", err)
	}
	for _, tc := range []struct {
		name string
		key  crypto.Signer
	}{
		{"RSA 2048", rsaKey(t)},
		{"ECDSA P-256", ecKey(t, elliptic.P256())},
		{"ECDSA P-384", ecKey(t, elliptic.P384())},
		{"ECDSA P-521", ecKey(t, elliptic.P521())},
		{"Ed25519", edKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			certPEM, cert, err := ca.IssueFromCSR(csrPEM(t, tc.key, pkix.Name{CommonName: "dev-" + tc.name}))
			if err != nil {
				t.Fatalf("IssueFromCSR = %v, want nil", err)
			}
			if got := cert.Subject.CommonName; got != "dev-"+tc.name {
				t.Errorf("CN = %q, want %q", got, "dev-"+tc.name)
			}
			checkDevice(t, cert, ca, tc.key.Public())
			parsed, err := pki.ParseCertificatePEM(certPEM)
			if err != nil || !bytes.Equal(parsed.Raw, cert.Raw) {
				t.Errorf("ParseCertificatePEM(certPEM) = %v, want the returned certificate", err)
			}
		})
	}
}

func TestIssueFromCSRSubject(t *testing.T) {
	ca := newCA(t)
	key := ecKey(t, elliptic.P256())

	t.Run("empty subject gets the AWS default CN", func(t *testing.T) {
		_, cert, err := ca.IssueFromCSR(csrPEM(t, key, pkix.Name{}))
		if err != nil {
			t.Fatalf("IssueFromCSR: %v", err)
		}
		if cert.Subject.String() != "CN=AWS IoT Certificate" {
			t.Errorf("subject = %q, want %q", cert.Subject, "CN=AWS IoT Certificate")
		}
	})
	t.Run("full subject kept byte for byte", func(t *testing.T) {
		subject := pkix.Name{
			CommonName: "sensor-7", Organization: []string{"Acme"}, OrganizationalUnit: []string{"Plant 3"},
			Country: []string{"DE"}, Province: []string{"Bayern"}, SerialNumber: "SN-0007",
		}
		req := csrPEM(t, key, subject)
		_, cert, err := ca.IssueFromCSR(req)
		if err != nil {
			t.Fatalf("IssueFromCSR: %v", err)
		}
		block, _ := pem.Decode(req)
		csr, err := x509.ParseCertificateRequest(block.Bytes)
		if err != nil {
			t.Fatalf("ParseCertificateRequest: %v", err)
		}
		if !bytes.Equal(cert.RawSubject, csr.RawSubject) {
			t.Errorf("subject = %q, want the CSR's %q", cert.Subject, csr.Subject)
		}
	})
	t.Run("extensions of the CSR are not copied", func(t *testing.T) {
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
			Subject:  pkix.Name{CommonName: "d"},
			DNSNames: []string{"bank.example"},
		}, key)
		if err != nil {
			t.Fatalf("CreateCertificateRequest: %v", err)
		}
		_, cert, err := ca.IssueFromCSR(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
		if err != nil {
			t.Fatalf("IssueFromCSR: %v", err)
		}
		if len(cert.DNSNames) != 0 {
			t.Errorf("DNSNames = %v, want none", cert.DNSNames)
		}
	})
	t.Run("NEW CERTIFICATE REQUEST block", func(t *testing.T) {
		req := bytes.ReplaceAll(csrPEM(t, key, pkix.Name{CommonName: "old"}), []byte("CERTIFICATE REQUEST"), []byte("NEW CERTIFICATE REQUEST"))
		if _, cert, err := ca.IssueFromCSR(req); err != nil || cert.Subject.CommonName != "old" {
			t.Errorf("IssueFromCSR(NEW CERTIFICATE REQUEST) = %v, want a certificate for CN old", err)
		}
	})
	t.Run("serial numbers differ", func(t *testing.T) {
		req := csrPEM(t, key, pkix.Name{CommonName: "d"})
		_, a, err := ca.IssueFromCSR(req)
		if err != nil {
			t.Fatalf("IssueFromCSR: %v", err)
		}
		_, b, err := ca.IssueFromCSR(req)
		if err != nil {
			t.Fatalf("IssueFromCSR: %v", err)
		}
		if a.SerialNumber.Cmp(b.SerialNumber) == 0 || pki.CertificateID(a.Raw) == pki.CertificateID(b.Raw) {
			t.Errorf("two issuances share serial %v", a.SerialNumber)
		}
	})
}

func TestIssueFromCSRErrors(t *testing.T) {
	ca := newCA(t)
	key := ecKey(t, elliptic.P256())
	good := csrPEM(t, key, pkix.Name{CommonName: "d"})

	block, _ := pem.Decode(good)
	tampered := bytes.Clone(block.Bytes)
	tampered[len(tampered)-1] ^= 0x01 // last byte of the signature
	badSig := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: tampered})
	renamed := bytes.Clone(block.Bytes)
	// Change the subject, which the signature covers.
	i := bytes.Index(renamed, []byte{0x13, 0x01, 'd'}) // PrintableString "d"
	if i < 0 {
		t.Fatalf("subject CN not found in the CSR")
	}
	renamed[i+2] = 'e'
	badSubject := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: renamed})

	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatalf("rsa.GenerateKey(1024): %v", err)
	}

	for _, tc := range []struct {
		name        string
		csr         []byte
		unsupported bool
	}{
		{name: "signature tampered", csr: badSig},
		{name: "subject tampered", csr: badSubject},
		{name: "RSA 1024", csr: csrPEM(t, rsa1024, pkix.Name{CommonName: "d"}), unsupported: true},
		{name: "ECDSA P-224", csr: csrPEM(t, ecKey(t, elliptic.P224()), pkix.Name{CommonName: "d"}), unsupported: true},
		{name: "empty", csr: nil},
		{name: "not PEM", csr: []byte("hello")},
		{name: "DER garbage", csr: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte{0x30, 0x03, 1, 2, 3}})},
		{name: "certificate instead of CSR", csr: ca.PEM()},
		{name: "two CSRs", csr: append(bytes.Clone(good), good...)},
		{name: "trailing garbage", csr: append(bytes.Clone(good), "junk"...)},
		{name: "leading garbage", csr: append([]byte("junk\n"), good...)},
		{name: "too long", csr: append(bytes.Clone(good), bytes.Repeat([]byte("\n"), pki.MaxCSRLength)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			certPEM, cert, err := ca.IssueFromCSR(tc.csr)
			if !errors.Is(err, pki.ErrInvalidCSR) {
				t.Fatalf("IssueFromCSR = %v, want an error wrapping ErrInvalidCSR", err)
			}
			if certPEM != nil || cert != nil {
				t.Errorf("IssueFromCSR returned a certificate with its error")
			}
			var uk *pki.UnsupportedKeyError
			if got := errors.As(err, &uk); got != tc.unsupported {
				t.Errorf("IssueFromCSR = %v: *UnsupportedKeyError %v, want %v", err, got, tc.unsupported)
			}
		})
	}

	// Whitespace around the CSR is fine.
	if _, _, err := ca.IssueFromCSR(append(append([]byte("\r\n  "), good...), "\n\n"...)); err != nil {
		t.Errorf("IssueFromCSR(CSR with whitespace around) = %v, want nil", err)
	}
}

func TestIssueFromPublicKey(t *testing.T) {
	ca := newCA(t)
	key := ecKey(t, elliptic.P384())

	der, err := ca.IssueFromPublicKey(key.Public(), pkix.Name{CommonName: "thing-1"}, pki.IssueOptions{})
	if err != nil {
		t.Fatalf("IssueFromPublicKey: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("ParseCertificate: %v", err)
	}
	if cert.Subject.CommonName != "thing-1" {
		t.Errorf("CN = %q, want thing-1", cert.Subject.CommonName)
	}
	checkDevice(t, cert, ca, key.Public())

	der, err = ca.IssueFromPublicKey(key.Public(), pkix.Name{}, pki.IssueOptions{NotAfter: testNow.Add(24 * time.Hour)})
	if err != nil {
		t.Fatalf("IssueFromPublicKey(NotAfter): %v", err)
	}
	if cert, err = x509.ParseCertificate(der); err != nil {
		t.Fatalf("ParseCertificate: %v", err)
	}
	if !cert.NotAfter.Equal(testNow.Add(24 * time.Hour)) {
		t.Errorf("NotAfter = %v, want %v", cert.NotAfter, testNow.Add(24*time.Hour))
	}
	if cert.Subject.CommonName != pki.DefaultDeviceCommonName {
		t.Errorf("CN = %q, want %q", cert.Subject.CommonName, pki.DefaultDeviceCommonName)
	}

	if _, err := ca.IssueFromPublicKey(key.Public(), pkix.Name{}, pki.IssueOptions{NotAfter: testNow.Add(-time.Hour)}); err == nil {
		t.Errorf("IssueFromPublicKey(NotAfter in the past) = nil error, want an error")
	}

	x, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("X25519: %v", err)
	}
	var uk *pki.UnsupportedKeyError
	if _, err := ca.IssueFromPublicKey(x.PublicKey(), pkix.Name{}, pki.IssueOptions{}); !errors.As(err, &uk) {
		t.Errorf("IssueFromPublicKey(X25519) = %v, want *UnsupportedKeyError", err)
	}
	if _, err := ca.IssueFromPublicKey(nil, pkix.Name{}, pki.IssueOptions{}); !errors.As(err, &uk) {
		t.Errorf("IssueFromPublicKey(nil) = %v, want *UnsupportedKeyError", err)
	}
}

func TestDeviceExpiryCappedByCA(t *testing.T) {
	ca, err := pki.NewCA(pki.CAOptions{Validity: 365 * 24 * time.Hour, Now: fixedClock(testNow)})
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	_, cert, err := ca.IssueFromCSR(csrPEM(t, ecKey(t, elliptic.P256()), pkix.Name{CommonName: "d"}))
	if err != nil {
		t.Fatalf("IssueFromCSR: %v", err)
	}
	if !cert.NotAfter.Equal(ca.Certificate().NotAfter) {
		t.Errorf("NotAfter = %v, want the CA's %v", cert.NotAfter, ca.Certificate().NotAfter)
	}
}

func TestCreateKeysAndCertificate(t *testing.T) {
	ca := newCA(t)
	for _, tc := range []struct {
		name    string
		alg     pki.KeyAlgorithm
		keyType string
	}{
		{"default is RSA 2048", "", "RSA PRIVATE KEY"},
		{"ECDSA P-256", pki.KeyECDSAP256, "EC PRIVATE KEY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			certPEM, pubPEM, privPEM, cert, err := ca.CreateKeysAndCertificate(pki.KeyOptions{Algorithm: tc.alg})
			if err != nil {
				t.Fatalf("CreateKeysAndCertificate: %v", err)
			}
			block, rest := pem.Decode(privPEM)
			if block == nil || block.Type != tc.keyType || len(bytes.TrimSpace(rest)) != 0 {
				t.Fatalf("private key PEM = %.40q..., want one %s block", privPEM, tc.keyType)
			}
			var priv crypto.Signer
			switch tc.keyType {
			case "RSA PRIVATE KEY":
				k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
				if err != nil {
					t.Fatalf("ParsePKCS1PrivateKey: %v", err)
				}
				if k.N.BitLen() != 2048 {
					t.Errorf("RSA key has %d bits, want 2048", k.N.BitLen())
				}
				priv = k
			case "EC PRIVATE KEY":
				k, err := x509.ParseECPrivateKey(block.Bytes)
				if err != nil {
					t.Fatalf("ParseECPrivateKey: %v", err)
				}
				if k.Curve != elliptic.P256() {
					t.Errorf("curve = %v, want P-256", k.Curve.Params().Name)
				}
				priv = k
			}
			pubBlock, _ := pem.Decode(pubPEM)
			if pubBlock == nil || pubBlock.Type != "PUBLIC KEY" {
				t.Fatalf("public key PEM = %.40q..., want a PUBLIC KEY block", pubPEM)
			}
			pub, err := x509.ParsePKIXPublicKey(pubBlock.Bytes)
			if err != nil {
				t.Fatalf("ParsePKIXPublicKey: %v", err)
			}
			if !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(priv.Public()) {
				t.Errorf("public key PEM does not match the private key")
			}
			if cert.Subject.String() != "CN=AWS IoT Certificate" {
				t.Errorf("subject = %q, want CN=AWS IoT Certificate", cert.Subject)
			}
			checkDevice(t, cert, ca, priv.Public())
			// The certificate and the key form a usable TLS key pair.
			if _, err := tls.X509KeyPair(certPEM, privPEM); err != nil {
				t.Errorf("tls.X509KeyPair(certificate, private key) = %v", err)
			}
		})
	}
	if _, _, _, _, err := ca.CreateKeysAndCertificate(pki.KeyOptions{Algorithm: "DSA"}); err == nil {
		t.Errorf("CreateKeysAndCertificate(DSA) = nil error, want an error")
	}
}

func TestConcurrentIssue(t *testing.T) {
	ca := newCA(t)
	req := csrPEM(t, ecKey(t, elliptic.P256()), pkix.Name{CommonName: "d"})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	ids := make(chan string, 8)
	for range 8 {
		wg.Go(func() {
			_, cert, err := ca.IssueFromCSR(req)
			if err != nil {
				errs <- err
				return
			}
			ids <- pki.CertificateID(cert.Raw)
		})
	}
	wg.Wait()
	close(errs)
	close(ids)
	for err := range errs {
		t.Errorf("concurrent IssueFromCSR: %v", err)
	}
	seen := map[string]bool{}
	for id := range ids {
		if seen[id] {
			t.Errorf("certificate id %s issued twice", id)
		}
		seen[id] = true
	}
	if len(seen) != 8 {
		t.Errorf("%d distinct certificates, want 8", len(seen))
	}
}

// An ECDSA CSR signed by a different key than the one it carries.
func TestIssueFromCSRWrongKey(t *testing.T) {
	ca := newCA(t)
	a, b := ecKey(t, elliptic.P256()), ecKey(t, elliptic.P256())
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "d"}}, a)
	if err != nil {
		t.Fatalf("CreateCertificateRequest: %v", err)
	}
	// Replace the public key a with b (same length encodings for P-256).
	pa, _ := x509.MarshalPKIXPublicKey(a.Public())
	pb, _ := x509.MarshalPKIXPublicKey(b.Public())
	swapped := bytes.Replace(der, pa, pb, 1)
	if bytes.Equal(swapped, der) {
		t.Fatalf("public key not found in the CSR")
	}
	_, _, err = ca.IssueFromCSR(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: swapped}))
	if !errors.Is(err, pki.ErrInvalidCSR) || !strings.Contains(err.Error(), "signature") {
		t.Errorf("IssueFromCSR(CSR with a swapped key) = %v, want an ErrInvalidCSR signature error", err)
	}
}
