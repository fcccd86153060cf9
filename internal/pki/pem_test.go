package pki_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/iotdm/iotdm/internal/pki"
)

func TestCertificateID(t *testing.T) {
	// The SHA-256 of nothing, a known vector.
	if got, want := pki.CertificateID(nil), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"; got != want {
		t.Errorf("CertificateID(nil) = %s, want %s", got, want)
	}
	ca := newCA(t)
	der := ca.Certificate().Raw
	sum := sha256.Sum256(der)
	got := pki.CertificateID(der)
	if want := hex.EncodeToString(sum[:]); got != want {
		t.Errorf("CertificateID(CA DER) = %s, want %s", got, want)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(got) {
		t.Errorf("CertificateID = %q, want 64 lowercase hex characters", got)
	}
	// The id is of the DER, not of the PEM text.
	if pki.CertificateID(ca.PEM()) == got {
		t.Errorf("CertificateID(PEM) = CertificateID(DER)")
	}
}

func TestEncodeCertificatePEM(t *testing.T) {
	ca := newCA(t)
	der := ca.Certificate().Raw
	out := pki.EncodeCertificatePEM(der)
	if !bytes.Equal(out, ca.PEM()) {
		t.Errorf("EncodeCertificatePEM(CA DER) = %q, want %q", out, ca.PEM())
	}
	block, rest := pem.Decode(out)
	if block == nil || block.Type != "CERTIFICATE" || !bytes.Equal(block.Bytes, der) || len(rest) != 0 {
		t.Errorf("EncodeCertificatePEM output does not decode to one CERTIFICATE block with the DER")
	}
}

func TestParseCertificatePEM(t *testing.T) {
	ca := newCA(t)
	certPEM := ca.PEM()
	s := string(certPEM)
	other := string(newCA(t).PEM())
	crlf := strings.ReplaceAll(s, "\n", "\r\n")
	badBody := "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"

	for _, tc := range []struct{ name, in string }{
		{"plain", s},
		{"surrounding whitespace", "\n\t  " + s + "\n\n  \t"},
		{"CRLF line endings", crlf},
		{"no final newline", strings.TrimRight(s, "\n")},
	} {
		t.Run("accept/"+tc.name, func(t *testing.T) {
			c, err := pki.ParseCertificatePEM([]byte(tc.in))
			if err != nil {
				t.Fatalf("ParseCertificatePEM = %v, want nil", err)
			}
			if !bytes.Equal(c.Raw, ca.Certificate().Raw) {
				t.Errorf("ParseCertificatePEM parsed another certificate")
			}
		})
	}

	headers := strings.Replace(s, "-----\n", "-----\nProc-Type: 4,ENCRYPTED\n\n", 1)
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"whitespace only", " \n\t"},
		{"leading text", "subject=CN=x\n" + s},
		{"trailing text", s + "garbage"},
		{"two certificates", s + other},
		{"other block type", strings.ReplaceAll(s, "CERTIFICATE", "X509 CRL")},
		{"private key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"},
		{"headers", headers},
		{"malformed block before a good one", badBody + s},
		{"missing END line", strings.Split(s, "-----END")[0]},
		{"DER is not a certificate", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x00}}))},
		{"DER with trailing bytes", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: append(bytes.Clone(ca.Certificate().Raw), 0)}))},
		{"too long", s + strings.Repeat(" ", pki.MaxPEMLength)},
	} {
		t.Run("reject/"+tc.name, func(t *testing.T) {
			c, err := pki.ParseCertificatePEM([]byte(tc.in))
			if !errors.Is(err, pki.ErrMalformed) {
				t.Fatalf("ParseCertificatePEM = %v, %v, want an error wrapping ErrMalformed", c, err)
			}
		})
	}
}

func TestParseCertificatesPEM(t *testing.T) {
	a, b := newCA(t), newCA(t)
	chain := string(a.PEM()) + "\n\n" + string(b.PEM())
	certs, err := pki.ParseCertificatesPEM([]byte(chain))
	if err != nil {
		t.Fatalf("ParseCertificatesPEM(chain of 2) = %v", err)
	}
	if len(certs) != 2 || !bytes.Equal(certs[0].Raw, a.Certificate().Raw) || !bytes.Equal(certs[1].Raw, b.Certificate().Raw) {
		t.Errorf("ParseCertificatesPEM returned %d certificates, want a's then b's", len(certs))
	}
	if certs, err := pki.ParseCertificatesPEM(a.PEM()); err != nil || len(certs) != 1 {
		t.Errorf("ParseCertificatesPEM(one) = %d certificates, %v; want 1, nil", len(certs), err)
	}
	for _, in := range []string{
		"",
		string(a.PEM()) + "junk\n" + string(b.PEM()),
		string(a.PEM()) + "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
	} {
		if _, err := pki.ParseCertificatesPEM([]byte(in)); !errors.Is(err, pki.ErrMalformed) {
			t.Errorf("ParseCertificatesPEM(%.20q...) = %v, want an error wrapping ErrMalformed", in, err)
		}
	}
}
