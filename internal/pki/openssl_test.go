package pki_test

import (
	"crypto/tls"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iotdm/iotdm/internal/pki"
)

// openssl returns the path of the openssl command. These tests never skip:
// interoperability with the tool customers use is the point.
func openssl(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatalf("openssl not found (%v): install it (for example apt-get install openssl); the pki tests need it and do not skip", err)
	}
	return path
}

// run runs openssl in dir and returns its combined output.
func run(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := try(t, dir, args...)
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// try runs openssl in dir and returns its combined output and exit error.
func try(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(openssl(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
}

// TestOpenSSLCSR issues certificates for CSRs made by the openssl CLI and has
// both Go and openssl verify them.
func TestOpenSSLCSR(t *testing.T) {
	ca := newLiveCA(t)
	for _, tc := range []struct {
		name   string
		newkey []string
	}{
		{"RSA 2048", []string{"-newkey", "rsa:2048"}},
		{"ECDSA P-256", []string{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"}},
		{"Ed25519", []string{"-newkey", "ed25519"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"req", "-new"}, tc.newkey...)
			run(t, dir, append(args, "-nodes", "-keyout", "k.pem", "-subj", "/CN=dev1", "-out", "csr.pem")...)
			csr, err := os.ReadFile(filepath.Join(dir, "csr.pem"))
			if err != nil {
				t.Fatal(err)
			}
			certPEM, cert, err := ca.IssueFromCSR(csr)
			if err != nil {
				t.Fatalf("IssueFromCSR(openssl CSR) = %v, want nil", err)
			}
			if cert.Subject.CommonName != "dev1" {
				t.Errorf("CN = %q, want dev1", cert.Subject.CommonName)
			}
			verifyClient(t, cert, ca, time.Now())

			// The certificate matches the key openssl generated.
			keyPEM, err := os.ReadFile(filepath.Join(dir, "k.pem"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
				t.Errorf("X509KeyPair(issued certificate, openssl key) = %v", err)
			}

			writeFile(t, filepath.Join(dir, "ca.pem"), ca.PEM())
			writeFile(t, filepath.Join(dir, "cert.pem"), certPEM)
			out := run(t, dir, "verify", "-x509_strict", "-purpose", "sslclient", "-CAfile", "ca.pem", "cert.pem")
			if strings.TrimSpace(out) != "cert.pem: OK" {
				t.Errorf("openssl verify = %q, want %q", out, "cert.pem: OK")
			}
			if out := run(t, dir, "x509", "-in", "cert.pem", "-noout", "-enddate"); strings.TrimSpace(out) != "notAfter=Dec 31 23:59:59 2049 GMT" {
				t.Errorf("openssl x509 -enddate = %q, want notAfter=Dec 31 23:59:59 2049 GMT", out)
			}
		})
	}
}

// TestOpenSSLVerifiesIssued has openssl check the other certificates the CA
// makes: the CA itself, a CreateKeysAndCertificate key pair, and the server
// certificate.
func TestOpenSSLVerifiesIssued(t *testing.T) {
	ca := newLiveCA(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "ca.pem"), ca.PEM())
	if out := run(t, dir, "verify", "-x509_strict", "-check_ss_sig", "-CAfile", "ca.pem", "ca.pem"); strings.TrimSpace(out) != "ca.pem: OK" {
		t.Errorf("openssl verify ca.pem = %q, want ca.pem: OK", out)
	}

	certPEM, pubPEM, privPEM, _, err := ca.CreateKeysAndCertificate(pki.KeyOptions{Algorithm: pki.KeyECDSAP256})
	if err != nil {
		t.Fatalf("CreateKeysAndCertificate: %v", err)
	}
	writeFile(t, filepath.Join(dir, "dev.pem"), certPEM)
	writeFile(t, filepath.Join(dir, "dev.key"), privPEM)
	if out := run(t, dir, "verify", "-x509_strict", "-purpose", "sslclient", "-CAfile", "ca.pem", "dev.pem"); strings.TrimSpace(out) != "dev.pem: OK" {
		t.Errorf("openssl verify dev.pem = %q, want dev.pem: OK", out)
	}
	writeFile(t, filepath.Join(dir, "other.pem"), newLiveCA(t).PEM())
	if out, err := try(t, dir, "verify", "-CAfile", "other.pem", "dev.pem"); err == nil {
		t.Errorf("openssl verify -CAfile other.pem dev.pem = %q, want a failure", out)
	}
	// openssl derives the same public key from the private key PEM and from
	// the certificate as the public key PEM holds.
	fromKey := run(t, dir, "pkey", "-in", "dev.key", "-pubout")
	fromCert := run(t, dir, "x509", "-in", "dev.pem", "-noout", "-pubkey")
	if fromKey != string(pubPEM) || fromCert != string(pubPEM) {
		t.Errorf("public keys differ:\nfrom private key %s\nfrom certificate %s\nreturned %s", fromKey, fromCert, pubPEM)
	}

	sc, err := ca.ServerCertificate(nil)
	if err != nil {
		t.Fatalf("ServerCertificate: %v", err)
	}
	writeFile(t, filepath.Join(dir, "server.pem"), pki.EncodeCertificatePEM(sc.Certificate[0]))
	for _, check := range [][]string{{"-verify_hostname", "localhost"}, {"-verify_ip", "127.0.0.1"}} {
		args := append([]string{"verify", "-x509_strict", "-purpose", "sslserver"}, check...)
		if out := run(t, dir, append(args, "-CAfile", "ca.pem", "server.pem")...); strings.TrimSpace(out) != "server.pem: OK" {
			t.Errorf("openssl verify %v server.pem = %q, want server.pem: OK", check, out)
		}
	}
	if out, err := try(t, dir, "verify", "-verify_hostname", "iot.example.com", "-CAfile", "ca.pem", "server.pem"); err == nil {
		t.Errorf("openssl verify -verify_hostname iot.example.com server.pem = %q, want a failure", out)
	}
}
