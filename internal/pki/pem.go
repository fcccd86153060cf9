package pki

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
)

// MaxPEMLength caps PEM input. AWS: certificatePem and caCertificate are at
// most 65536 characters.
const MaxPEMLength = 65536

// MaxCSRLength caps CSR PEM input. AWS: CreateCertificateFromCsr takes a
// certificateSigningRequest of at most 4096 characters (§9.2).
const MaxCSRLength = 4096

const (
	blockCertificate = "CERTIFICATE"
	beginMarker      = "-----BEGIN "
)

// CertificateID returns the AWS certificate id of a certificate: the
// lowercase hex SHA-256 of its DER bytes, 64 characters (AWS §5.2).
func CertificateID(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// EncodeCertificatePEM returns der as one PEM CERTIFICATE block.
func EncodeCertificatePEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: blockCertificate, Bytes: der})
}

// ParseCertificatePEM parses exactly one PEM CERTIFICATE block. Whitespace
// around the block is ignored; any other text, a second block or a block of
// another type is an error wrapping ErrMalformed.
func ParseCertificatePEM(pemBytes []byte) (*x509.Certificate, error) {
	certs, err := parseCertificates(pemBytes, 1)
	if err != nil {
		return nil, err
	}
	return certs[0], nil
}

// ParseCertificatesPEM parses one or more PEM CERTIFICATE blocks separated by
// whitespace, in order, as for a chain. Any other text or block type is an
// error wrapping ErrMalformed.
func ParseCertificatesPEM(pemBytes []byte) ([]*x509.Certificate, error) {
	return parseCertificates(pemBytes, 0)
}

// parseCertificates parses the CERTIFICATE blocks of data, at most max of
// them unless max is 0.
func parseCertificates(data []byte, max int) ([]*x509.Certificate, error) {
	if len(data) > MaxPEMLength {
		return nil, fmt.Errorf("%w: %d bytes, more than the %d allowed", ErrMalformed, len(data), MaxPEMLength)
	}
	blocks, err := decodePEM(data, max)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformed, err)
	}
	certs := make([]*x509.Certificate, 0, len(blocks))
	for i, b := range blocks {
		if b.Type != blockCertificate {
			return nil, fmt.Errorf("%w: PEM block %d is %q, want CERTIFICATE", ErrMalformed, i+1, b.Type)
		}
		if len(b.Headers) > 0 {
			return nil, fmt.Errorf("%w: PEM block %d has headers", ErrMalformed, i+1)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate %d: %w", ErrMalformed, i+1, err)
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// decodePEM splits data into PEM blocks that are separated only by
// whitespace. It is stricter than pem.Decode, which skips any text before a
// block, including malformed blocks. At most max blocks are allowed unless
// max is 0.
func decodePEM(data []byte, max int) ([]*pem.Block, error) {
	rest := bytes.TrimLeft(data, " \t\r\n")
	if len(rest) == 0 {
		return nil, fmt.Errorf("no PEM block")
	}
	var blocks []*pem.Block
	for len(rest) > 0 {
		offset := len(data) - len(rest)
		if !bytes.HasPrefix(rest, []byte(beginMarker)) {
			if len(blocks) == 0 {
				return nil, fmt.Errorf("unexpected text at offset %d, want a PEM block", offset)
			}
			return nil, fmt.Errorf("unexpected text at offset %d after PEM block %d", offset, len(blocks))
		}
		block, after := pem.Decode(rest)
		// pem.Decode skips a malformed block and returns the next good one;
		// that is an error here.
		if block == nil || bytes.Count(rest[:len(rest)-len(after)], []byte(beginMarker)) != 1 {
			return nil, fmt.Errorf("malformed PEM block at offset %d", offset)
		}
		blocks = append(blocks, block)
		if max > 0 && len(blocks) > max {
			return nil, fmt.Errorf("%d PEM blocks or more, want %d", len(blocks), max)
		}
		rest = bytes.TrimLeft(after, " \t\r\n")
	}
	return blocks, nil
}

// parseCSR parses a PEM certificate signing request and checks its
// self-signature and public key. Errors wrap ErrInvalidCSR.
func parseCSR(csrPEM []byte) (*x509.CertificateRequest, error) {
	if len(csrPEM) > MaxCSRLength {
		return nil, fmt.Errorf("%w: %d bytes, more than the %d allowed", ErrInvalidCSR, len(csrPEM), MaxCSRLength)
	}
	blocks, err := decodePEM(csrPEM, 1)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalidCSR, err)
	}
	switch t := blocks[0].Type; t {
	case "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST":
	default:
		return nil, fmt.Errorf("%w: PEM block is %q, want CERTIFICATE REQUEST", ErrInvalidCSR, t)
	}
	csr, err := x509.ParseCertificateRequest(blocks[0].Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidCSR, err)
	}
	// The key first: an unknown key algorithm also fails the signature check,
	// and the typed error says more.
	if csr.PublicKey == nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidCSR, &UnsupportedKeyError{Algorithm: csr.PublicKeyAlgorithm.String()})
	}
	if err := checkPublicKey(csr.PublicKey); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidCSR, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: signature: %w", ErrInvalidCSR, err)
	}
	return csr, nil
}
