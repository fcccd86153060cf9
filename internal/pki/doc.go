// Package pki is the built-in certificate authority of iotdm: it issues device
// certificates (CreateKeysAndCertificate, CreateCertificateFromCsr and the
// fleet-provisioning topics), signs the MQTT broker's server certificate, and
// holds the helpers the certificate APIs and the broker share: certificate ids,
// strict PEM parsing, and verification of certificates, CA certificates and
// registration codes.
//
// The contract is §5.2 and §5.3 of shared/reference/aws-iot.md:
//
//   - certificateId is the lowercase hex SHA-256 of the certificate's DER bytes
//     (CertificateID);
//   - CreateKeysAndCertificate generates an RSA 2048 key pair; the private key
//     is returned once and never stored (CA.CreateKeysAndCertificate);
//   - certificates issued by AWS expire at 2049-12-31T23:59:59Z and default to
//     the subject CN "AWS IoT Certificate";
//   - RegisterCACertificate in DEFAULT mode needs a verification certificate
//     signed by the CA whose CN is the account's registration code
//     (VerifyRegistrationCode, NewRegistrationCode).
//
// The package is pure crypto: it does no I/O besides reading crypto/rand and
// imports only the standard library. Keeping the CA's key and certificate on
// disk is the job of package cafile, which uses NewCA, ParseCA and
// CA.PrivateKeyPEM.
//
// Errors a client can cause are typed so that callers can map them at the
// edge: *ValidationError (wrapping ErrExpired, ErrNotYetValid, ErrSignature,
// ErrNotCA or ErrUnsupportedAlgorithm) becomes CertificateValidationException,
// ErrRegistrationCode becomes RegistrationCodeValidationException, and
// ErrInvalidCSR (possibly also carrying an *UnsupportedKeyError) and
// ErrMalformed become InvalidRequestException (CertificateValidationException
// for the certificate registration APIs). Anything else is an internal
// failure.
//
// A CA is immutable once built and safe for concurrent use.
package pki
