package cafile_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iotdm/iotdm/internal/pki"
	"github.com/iotdm/iotdm/internal/pki/cafile"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func opts() pki.CAOptions {
	return pki.CAOptions{Now: func() time.Time { return testNow }}
}

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat: %v", err)
	}
	return fi.Mode().Perm()
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return b
}

// issue has ca issue a device certificate from a CSR.
func issue(t *testing.T, ca *pki.CA) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "d"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	_, cert, err := ca.IssueFromCSR(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	if err != nil {
		t.Fatalf("IssueFromCSR: %v", err)
	}
	return cert
}

func TestLoadOrCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "pki") // does not exist yet
	created, err := cafile.LoadOrCreate(dir, opts())
	if err != nil {
		t.Fatalf("LoadOrCreate(new dir) = %v", err)
	}
	keyPath, certPath := filepath.Join(dir, "ca.key"), filepath.Join(dir, "ca.pem")
	if m := mode(t, keyPath); m != 0o600 {
		t.Errorf("ca.key mode = %v, want 0600", m)
	}
	if m := mode(t, certPath); m != 0o644 {
		t.Errorf("ca.pem mode = %v, want 0644", m)
	}
	if m := mode(t, dir); m != 0o700 {
		t.Errorf("directory mode = %v, want 0700", m)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Errorf("directory holds %d entries, want ca.key and ca.pem only (no temporary files)", len(entries))
	}
	if got := read(t, certPath); !bytes.Equal(got, created.PEM()) {
		t.Errorf("ca.pem is not the CA certificate")
	}
	if block, _ := pem.Decode(read(t, keyPath)); block == nil || block.Type != "PRIVATE KEY" {
		t.Errorf("ca.key is not a PKCS#8 PRIVATE KEY PEM block")
	} else if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		t.Errorf("ca.key: %v", err)
	}
	if !created.Certificate().NotBefore.Equal(testNow.Add(-time.Hour)) {
		t.Errorf("NotBefore = %v, want the injected clock's time minus an hour", created.Certificate().NotBefore)
	}

	keyBefore, certBefore := read(t, keyPath), read(t, certPath)
	loaded, err := cafile.LoadOrCreate(dir, opts())
	if err != nil {
		t.Fatalf("LoadOrCreate(existing) = %v", err)
	}
	if !bytes.Equal(loaded.Certificate().Raw, created.Certificate().Raw) {
		t.Errorf("loaded CA certificate differs from the created one")
	}
	if !bytes.Equal(read(t, keyPath), keyBefore) || !bytes.Equal(read(t, certPath), certBefore) {
		t.Errorf("loading rewrote the CA files")
	}
	// Certificates issued before and after a restart chain to either copy.
	for _, pair := range [][2]*pki.CA{{created, loaded}, {loaded, created}} {
		if err := pki.VerifyIssuedBy(issue(t, pair[0]), pair[1].Certificate(), testNow); err != nil {
			t.Errorf("VerifyIssuedBy across a reload = %v", err)
		}
	}
}

func TestLoadOrCreateOneFileMissing(t *testing.T) {
	for _, missing := range []string{"ca.key", "ca.pem"} {
		t.Run(missing, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := cafile.LoadOrCreate(dir, opts()); err != nil {
				t.Fatalf("LoadOrCreate: %v", err)
			}
			kept := "ca.pem"
			if missing == "ca.pem" {
				kept = "ca.key"
			}
			before := read(t, filepath.Join(dir, kept))
			if err := os.Remove(filepath.Join(dir, missing)); err != nil {
				t.Fatal(err)
			}
			_, err := cafile.LoadOrCreate(dir, opts())
			if !errors.Is(err, cafile.ErrIncomplete) {
				t.Fatalf("LoadOrCreate(without %s) = %v, want an error wrapping ErrIncomplete", missing, err)
			}
			if !bytes.Equal(read(t, filepath.Join(dir, kept)), before) {
				t.Errorf("%s was rewritten", kept)
			}
			if _, err := os.Stat(filepath.Join(dir, missing)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s was recreated (stat: %v)", missing, err)
			}
		})
	}
}

func TestLoadOrCreateCorrupt(t *testing.T) {
	otherDir := t.TempDir()
	if _, err := cafile.LoadOrCreate(otherDir, opts()); err != nil {
		t.Fatalf("LoadOrCreate: %v", err)
	}
	otherKey := read(t, filepath.Join(otherDir, "ca.key"))
	for _, tc := range []struct {
		name, file string
		corrupt    func([]byte) []byte
	}{
		{"garbage certificate", "ca.pem", func([]byte) []byte { return []byte("garbage") }},
		{"truncated certificate", "ca.pem", func(b []byte) []byte { return b[:len(b)/2] }},
		{"empty certificate", "ca.pem", func([]byte) []byte { return nil }},
		{"garbage key", "ca.key", func([]byte) []byte { return []byte("garbage") }},
		{"truncated key", "ca.key", func(b []byte) []byte { return b[:len(b)/2] }},
		{"key of another CA", "ca.key", func([]byte) []byte { return otherKey }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := cafile.LoadOrCreate(dir, opts()); err != nil {
				t.Fatalf("LoadOrCreate: %v", err)
			}
			path := filepath.Join(dir, tc.file)
			bad := tc.corrupt(read(t, path))
			if err := os.WriteFile(path, bad, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := cafile.LoadOrCreate(dir, opts())
			if !errors.Is(err, pki.ErrInvalidCA) {
				t.Fatalf("LoadOrCreate(%s) = %v, want an error wrapping pki.ErrInvalidCA", tc.name, err)
			}
			if !bytes.Equal(read(t, path), bad) {
				t.Errorf("LoadOrCreate overwrote the corrupt %s", tc.file)
			}
		})
	}
}

func TestLoadOrCreateBadDir(t *testing.T) {
	// dir is a regular file: nothing can be read or created under it.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := cafile.LoadOrCreate(file, opts()); err == nil {
		t.Errorf("LoadOrCreate(a regular file) = nil error, want an error")
	}
}
