package pki

import (
	"crypto/x509"
	"errors"
	"fmt"
)

// Kinds of certificate validation failure. A *ValidationError wraps exactly
// one of them, so errors.Is tells them apart; all of them become
// CertificateValidationException at the API edge.
var (
	// ErrExpired: the certificate's NotAfter is before the time of the check.
	ErrExpired = errors.New("certificate has expired")
	// ErrNotYetValid: the certificate's NotBefore is after the time of the check.
	ErrNotYetValid = errors.New("certificate is not yet valid")
	// ErrSignature: the certificate was not signed by the expected CA (wrong
	// issuer name or a signature that does not verify with the CA's key).
	ErrSignature = errors.New("certificate signature is not valid")
	// ErrNotCA: a certificate used as a CA is not one (no BasicConstraints
	// CA:TRUE, or a KeyUsage without keyCertSign).
	ErrNotCA = errors.New("certificate is not a CA certificate")
	// ErrUnsupportedAlgorithm: the certificate is signed with an algorithm
	// AWS does not accept (MD5, SHA-1 or unknown). AWS §5.2 lists
	// SHA256/384/512 with RSA, DSA and ECDSA.
	ErrUnsupportedAlgorithm = errors.New("certificate signature algorithm is not supported")
)

// ErrRegistrationCode reports a verification certificate whose subject CN is
// not the account's registration code. AWS: RegisterCACertificate raises
// RegistrationCodeValidationException. It is not a *ValidationError.
var ErrRegistrationCode = errors.New("verification certificate CN does not match the registration code")

// ErrInvalidCSR reports a certificate signing request that cannot be used:
// not PEM, not a CSR, a bad self-signature or an unsupported key. AWS:
// CreateCertificateFromCsr raises InvalidRequestException.
var ErrInvalidCSR = errors.New("invalid certificate signing request")

// ErrMalformed reports certificate input that is not exactly what was asked
// for: one PEM CERTIFICATE block (or, for a chain, several) and nothing but
// whitespace around them, each holding a parsable X.509 certificate.
var ErrMalformed = errors.New("malformed certificate PEM")

// ErrInvalidCA reports CA material that cannot be used: unparsable PEM, a
// certificate that is not a CA, or a key that does not match it.
var ErrInvalidCA = errors.New("invalid CA certificate or key")

// ValidationError is a certificate that failed a validation check. Err is one
// of ErrExpired, ErrNotYetValid, ErrSignature, ErrNotCA or
// ErrUnsupportedAlgorithm; Reason says what was wrong in words fit for the
// message of a CertificateValidationException.
type ValidationError struct {
	Err    error
	Reason string
}

func (e *ValidationError) Error() string { return e.Reason }

// Unwrap returns the kind of failure.
func (e *ValidationError) Unwrap() error { return e.Err }

func invalid(kind error, format string, args ...any) *ValidationError {
	return &ValidationError{Err: kind, Reason: fmt.Sprintf(format, args...)}
}

// UnsupportedKeyError is a public key the CA will not certify: an algorithm
// other than RSA, ECDSA or Ed25519, an RSA key under 2048 bits, or an ECDSA
// curve other than P-256, P-384 and P-521.
type UnsupportedKeyError struct {
	// Algorithm is "RSA", "ECDSA", "Ed25519" or the Go type of the key.
	Algorithm string
	// Detail is the key size or curve that was refused, if that was the
	// reason.
	Detail string
}

func (e *UnsupportedKeyError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("unsupported public key algorithm %s", e.Algorithm)
	}
	return fmt.Sprintf("unsupported %s public key: %s", e.Algorithm, e.Detail)
}

// insecureAlgorithm reports whether AWS refuses certificates signed with alg.
func insecureAlgorithm(alg x509.SignatureAlgorithm) bool {
	switch alg {
	case x509.UnknownSignatureAlgorithm, x509.MD2WithRSA, x509.MD5WithRSA,
		x509.SHA1WithRSA, x509.DSAWithSHA1, x509.ECDSAWithSHA1:
		return true
	}
	return false
}
