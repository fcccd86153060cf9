// Package cafile keeps the built-in certificate authority of package pki in a
// directory: ca.key (the private key, PKCS#8 PEM, mode 0600) and ca.pem (the
// CA certificate, mode 0644). It is the I/O half of the CA; package pki stays
// pure.
package cafile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/iotdm/iotdm/internal/pki"
)

// File names inside the CA directory.
const (
	KeyFile  = "ca.key"
	CertFile = "ca.pem"
)

// ErrIncomplete reports a directory holding only one of ca.key and ca.pem.
// LoadOrCreate refuses to replace it: the CA's certificate without its key
// (or the key without its certificate) still identifies every device
// certificate issued so far.
var ErrIncomplete = errors.New("CA directory holds only one of " + KeyFile + " and " + CertFile)

// LoadOrCreate returns the CA kept in dir. If dir holds neither ca.key nor
// ca.pem it creates a new CA with pki.NewCA(opts) and writes both files,
// each atomically (a temporary file renamed into place), creating dir (mode
// 0700) if needed. Otherwise it loads them with pki.ParseCA: a corrupt file
// or a key that does not match the certificate is an error wrapping
// pki.ErrInvalidCA, and a missing one an error wrapping ErrIncomplete;
// nothing is ever overwritten.
func LoadOrCreate(dir string, opts pki.CAOptions) (*pki.CA, error) {
	keyPath, certPath := filepath.Join(dir, KeyFile), filepath.Join(dir, CertFile)
	keyPEM, keyErr := os.ReadFile(keyPath)
	certPEM, certErr := os.ReadFile(certPath)
	keyMissing, certMissing := errors.Is(keyErr, fs.ErrNotExist), errors.Is(certErr, fs.ErrNotExist)
	switch {
	case keyErr != nil && !keyMissing:
		return nil, fmt.Errorf("load CA: %w", keyErr)
	case certErr != nil && !certMissing:
		return nil, fmt.Errorf("load CA: %w", certErr)
	case keyMissing && certMissing:
		return create(dir, keyPath, certPath, opts)
	case keyMissing:
		return nil, fmt.Errorf("load CA: %w: %s is missing; restore it, or remove %s to create a new CA (devices trusting the old one will need the new ca.pem)", ErrIncomplete, keyPath, certPath)
	case certMissing:
		return nil, fmt.Errorf("load CA: %w: %s is missing; restore it, or remove %s to create a new CA (devices trusting the old one will need the new ca.pem)", ErrIncomplete, certPath, keyPath)
	}
	ca, err := pki.ParseCA(certPEM, keyPEM, opts)
	if err != nil {
		return nil, fmt.Errorf("load CA from %s: %w", dir, err)
	}
	return ca, nil
}

// create makes a new CA and writes its files: both temporary files first,
// then the key and the certificate are renamed into place, which leaves the
// smallest window for a crash to leave only one of them.
func create(dir, keyPath, certPath string, opts pki.CAOptions) (*pki.CA, error) {
	ca, err := pki.NewCA(opts)
	if err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	keyPEM, err := ca.PrivateKeyPEM()
	if err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	keyTmp, err := writeTemp(dir, KeyFile, keyPEM, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	defer os.Remove(keyTmp) // fails harmlessly once renamed
	certTmp, err := writeTemp(dir, CertFile, ca.PEM(), 0o644)
	if err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	defer os.Remove(certTmp)
	if err := os.Rename(keyTmp, keyPath); err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	if err := os.Rename(certTmp, certPath); err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	return ca, nil
}

// writeTemp writes data with the given mode to a new temporary file in dir,
// synced to disk, and returns its path.
func writeTemp(dir, name string, data []byte, mode os.FileMode) (path string, err error) {
	f, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	// CreateTemp makes the file 0600 already; Chmod sets the exact mode
	// whatever the umask.
	if err := f.Chmod(mode); err != nil {
		return "", err
	}
	if _, err := f.Write(data); err != nil {
		return "", err
	}
	if err := f.Sync(); err != nil {
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return f.Name(), nil
}

// syncDir makes the renames in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
