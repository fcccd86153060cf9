package pki

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// VerifyIssuedBy checks that cert was issued by caCert and that both are
// valid at now: cert's issuer is caCert's subject, caCert is a CA allowed to
// sign certificates, cert's signature verifies with caCert's key using an
// algorithm AWS accepts, and now lies within both validity periods. Every
// failure is a *ValidationError wrapping ErrSignature, ErrNotCA,
// ErrUnsupportedAlgorithm, ErrExpired or ErrNotYetValid. It does not look at
// extended key usages or at revocation; certificate states are the caller's.
func VerifyIssuedBy(cert, caCert *x509.Certificate, now time.Time) error {
	if err := checkSignedBy(cert, caCert); err != nil {
		return err
	}
	if err := checkValidity("certificate", cert, now); err != nil {
		return err
	}
	return checkValidity("CA certificate", caCert, now)
}

// ValidateCACertificate checks that cert can be registered as a CA: it has
// BasicConstraints CA:TRUE (version 1 certificates, which cannot say so, are
// refused, as AWS requires a CA certificate), its KeyUsage, if present,
// allows keyCertSign, it is signed with an algorithm AWS accepts and it is
// valid at now. Failures are *ValidationError values. It does not require the
// certificate to be self-signed: intermediate CAs can be registered.
func ValidateCACertificate(cert *x509.Certificate, now time.Time) error {
	if err := checkCA(cert); err != nil {
		return err
	}
	if insecureAlgorithm(cert.SignatureAlgorithm) {
		return invalid(ErrUnsupportedAlgorithm, "CA certificate is signed with %s, which is not supported", cert.SignatureAlgorithm)
	}
	return checkValidity("CA certificate", cert, now)
}

// VerifyRegistrationCode checks a verification certificate for
// RegisterCACertificate in DEFAULT mode (AWS §5.2): it must be signed by
// caCert (else a *ValidationError as from VerifyIssuedBy, but validity
// periods are not checked) and its subject CN must be code (else an error
// wrapping ErrRegistrationCode, which becomes
// RegistrationCodeValidationException).
func VerifyRegistrationCode(verificationCert, caCert *x509.Certificate, code string) error {
	if err := checkSignedBy(verificationCert, caCert); err != nil {
		return err
	}
	if code == "" || verificationCert.Subject.CommonName != code {
		return fmt.Errorf("%w: CN is %q", ErrRegistrationCode, verificationCert.Subject.CommonName)
	}
	return nil
}

// NewRegistrationCode returns a new random registration code: 64 lowercase
// hex characters, like the codes AWS GetRegistrationCode returns.
func NewRegistrationCode() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("new registration code: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// checkSignedBy checks cert's issuer name and signature against caCert.
func checkSignedBy(cert, caCert *x509.Certificate) error {
	if err := checkCA(caCert); err != nil {
		return err
	}
	if !bytes.Equal(cert.RawIssuer, caCert.RawSubject) {
		return invalid(ErrSignature, "certificate issuer %q is not the CA subject %q", cert.Issuer, caCert.Subject)
	}
	if insecureAlgorithm(cert.SignatureAlgorithm) {
		return invalid(ErrUnsupportedAlgorithm, "certificate is signed with %s, which is not supported", cert.SignatureAlgorithm)
	}
	if err := cert.CheckSignatureFrom(caCert); err != nil {
		var insecure x509.InsecureAlgorithmError
		if errors.As(err, &insecure) {
			return invalid(ErrUnsupportedAlgorithm, "certificate is signed with %s, which is not supported", x509.SignatureAlgorithm(insecure))
		}
		return invalid(ErrSignature, "certificate signature does not verify with the key of CA %q: %v", caCert.Subject, err)
	}
	return nil
}

// checkCA checks that cert may sign certificates.
func checkCA(cert *x509.Certificate) error {
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return invalid(ErrNotCA, "certificate %q is not a CA certificate (no BasicConstraints CA:TRUE)", cert.Subject)
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return invalid(ErrNotCA, "CA certificate %q may not sign certificates (KeyUsage lacks keyCertSign)", cert.Subject)
	}
	return nil
}

// checkValidity checks that now lies within cert's validity period.
func checkValidity(what string, cert *x509.Certificate, now time.Time) error {
	if now.After(cert.NotAfter) {
		return invalid(ErrExpired, "%s expired at %s", what, cert.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(cert.NotBefore) {
		return invalid(ErrNotYetValid, "%s is not valid before %s", what, cert.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}
