package pki_test

import (
	"bytes"
	"crypto/elliptic"
	"crypto/x509/pkix"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/iotdm/iotdm/internal/pki"
)

// FuzzParseCertificatePEM feeds arbitrary input to ParseCertificatePEM and
// ParseCertificatesPEM. They must never panic, must fail only with
// ErrMalformed, and must agree: one certificate from ParseCertificatePEM is a
// chain of one for ParseCertificatesPEM, and re-encoding what was parsed
// parses back to the same certificate.
func FuzzParseCertificatePEM(f *testing.F) {
	ca, err := pki.NewCA(pki.CAOptions{})
	if err != nil {
		f.Fatalf("NewCA: %v", err)
	}
	other, err := pki.NewCA(pki.CAOptions{})
	if err != nil {
		f.Fatalf("NewCA: %v", err)
	}
	s := string(ca.PEM())
	for _, seed := range []string{
		s,
		"  \n" + s + "\n\n",
		strings.ReplaceAll(s, "\n", "\r\n"),
		strings.TrimRight(s, "\n"),
		s + string(other.PEM()),
		s + "trailing",
		"leading\n" + s,
		strings.ReplaceAll(s, "CERTIFICATE", "PRIVATE KEY"),
		"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n" + s,
		"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
		"-----BEGIN CERTIFICATE-----\n",
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		one, err1 := pki.ParseCertificatePEM(in)
		chain, errN := pki.ParseCertificatesPEM(in)
		if err1 != nil && !errors.Is(err1, pki.ErrMalformed) {
			t.Fatalf("ParseCertificatePEM error %v does not wrap ErrMalformed", err1)
		}
		if errN != nil && !errors.Is(errN, pki.ErrMalformed) {
			t.Fatalf("ParseCertificatesPEM error %v does not wrap ErrMalformed", errN)
		}
		if err1 == nil {
			if errN != nil || len(chain) != 1 || !bytes.Equal(chain[0].Raw, one.Raw) {
				t.Fatalf("ParseCertificatePEM accepted a certificate; ParseCertificatesPEM = %d certificates, %v", len(chain), errN)
			}
		}
		if errN == nil && len(chain) == 0 {
			t.Fatalf("ParseCertificatesPEM = no certificates and no error")
		}
		for _, c := range chain {
			again, err := pki.ParseCertificatePEM(pki.EncodeCertificatePEM(c.Raw))
			if err != nil || !bytes.Equal(again.Raw, c.Raw) {
				t.Fatalf("re-encoded certificate does not parse back: %v", err)
			}
		}
	})
}

// FuzzIssueFromCSR feeds arbitrary input to IssueFromCSR. It must never
// panic; it fails only with ErrInvalidCSR, and what it issues verifies
// against the CA.
func FuzzIssueFromCSR(f *testing.F) {
	ca, err := pki.NewCA(pki.CAOptions{})
	if err != nil {
		f.Fatalf("NewCA: %v", err)
	}
	good := csrPEM(f, ecKey(f, elliptic.P256()), pkix.Name{CommonName: "dev"})
	f.Add(good)
	f.Add(bytes.ReplaceAll(good, []byte("CERTIFICATE REQUEST"), []byte("NEW CERTIFICATE REQUEST")))
	f.Add(csrPEM(f, ecKey(f, elliptic.P224()), pkix.Name{}))
	f.Add(append(bytes.Clone(good), good...))
	f.Add(ca.PEM())
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, in []byte) {
		_, cert, err := ca.IssueFromCSR(in)
		if err != nil {
			if !errors.Is(err, pki.ErrInvalidCSR) {
				t.Fatalf("IssueFromCSR error %v does not wrap ErrInvalidCSR", err)
			}
			return
		}
		if err := pki.VerifyIssuedBy(cert, ca.Certificate(), time.Now()); err != nil {
			t.Fatalf("issued certificate does not verify: %v", err)
		}
	})
}
