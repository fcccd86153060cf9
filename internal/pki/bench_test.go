package pki_test

import (
	"crypto/elliptic"
	"crypto/x509/pkix"
	"testing"

	"github.com/iotdm/iotdm/internal/pki"
)

func benchmarkCreateKeys(b *testing.B, alg pki.KeyAlgorithm) {
	ca := newLiveCA(b)
	for b.Loop() {
		if _, _, _, _, err := ca.CreateKeysAndCertificate(pki.KeyOptions{Algorithm: alg}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateKeysAndCertificateRSA2048 is dominated by RSA key
// generation, which varies a lot from key to key: use a large -benchtime.
func BenchmarkCreateKeysAndCertificateRSA2048(b *testing.B) {
	benchmarkCreateKeys(b, pki.KeyRSA2048)
}

func BenchmarkCreateKeysAndCertificateECDSA(b *testing.B) {
	benchmarkCreateKeys(b, pki.KeyECDSAP256)
}

// BenchmarkIssueFromCSR is CreateCertificateFromCsr for an ECDSA P-256 CSR:
// parse, check the self-signature, sign with the CA.
func BenchmarkIssueFromCSR(b *testing.B) {
	ca := newLiveCA(b)
	req := csrPEM(b, ecKey(b, elliptic.P256()), pkix.Name{CommonName: "bench"})
	for b.Loop() {
		if _, _, err := ca.IssueFromCSR(req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCertificateID(b *testing.B) {
	der := newLiveCA(b).Certificate().Raw
	for b.Loop() {
		pki.CertificateID(der)
	}
}
