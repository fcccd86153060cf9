package awsapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/iotdm/iotdm"
)

// KeyLookup returns the secret access key of an access key ID, and false
// when the key is unknown.
type KeyLookup func(accessKeyID string) (secret string, ok bool)

// Identity is who signed a request, as the signature's credential scope
// names it.
type Identity struct {
	AccessKeyID string
	Region      string
	// Service is the SigV4 signing name (iot, iotdata, logs, ...).
	Service string
}

const (
	sigAlgorithm  = "AWS4-HMAC-SHA256"
	sigTerminator = "aws4_request"
	amzDateLayout = "20060102T150405Z"
	maxClockSkew  = 15 * time.Minute
	maxCachedKeys = 4096
)

// The refusal messages, worded as AWS words them.
const (
	msgMissingToken     = "Missing Authentication Token"
	msgUnknownKey       = "The security token included in the request is invalid."
	msgSignatureInvalid = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)

// emptySHA256 is the hex SHA-256 of an empty payload.
var emptySHA256 = hex.EncodeToString(sha256.New().Sum(nil))

// Verifier checks AWS Signature Version 4 header authentication the way AWS
// front doors do for non-S3 services. It is safe for concurrent use.
type Verifier struct {
	keys KeyLookup
	now  func() time.Time

	mu    sync.RWMutex
	cache map[scopeKey]derivedKey
}

// scopeKey names a derived signing key.
type scopeKey struct{ accessKeyID, date, region, service string }

// derivedKey is a cached signing key and the secret it was derived from, so
// a rotated secret is noticed.
type derivedKey struct {
	secret string
	key    [sha256.Size]byte
}

// NewVerifier returns a Verifier that finds secrets with keys and reads the
// clock with now (time.Now when nil).
func NewVerifier(keys KeyLookup, now func() time.Time) *Verifier {
	if now == nil {
		now = time.Now
	}
	return &Verifier{keys: keys, now: now, cache: make(map[scopeKey]derivedKey)}
}

// Verify checks the signature of r over body. On failure it returns an
// *iotdm.Error with the code and message AWS sends, together with as much of
// the identity as the Authorization header revealed: Service is set whenever
// the credential scope parsed, so the caller can answer in that service's
// error format.
func (v *Verifier) Verify(r *http.Request, body []byte) (Identity, error) {
	header := r.Header.Get("Authorization")
	if strings.TrimSpace(header) == "" {
		return Identity{}, &iotdm.Error{Code: iotdm.ErrMissingAuthToken, Message: msgMissingToken}
	}
	a, err := parseAuthorization(header)
	if err != nil {
		return Identity{}, err
	}
	id := Identity{AccessKeyID: a.AccessKeyID, Region: a.Region, Service: a.Service}

	amzDate := r.Header.Get("X-Amz-Date")
	if amzDate == "" {
		if d := r.Header.Get("Date"); d != "" {
			t, perr := http.ParseTime(d)
			if perr != nil {
				return id, incomplete("Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", d)
			}
			amzDate = t.UTC().Format(amzDateLayout)
		}
	}
	missing := a.missing()
	if amzDate == "" {
		missing += "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
	}
	if missing != "" {
		return id, incomplete("%sAuthorization=%s", missing, header)
	}
	if a.Algorithm != sigAlgorithm {
		return id, incomplete("Unsupported AWS 'algorithm': '%s'.", a.Algorithm)
	}
	if a.Terminator != sigTerminator {
		return id, invalidSig("Credential should be scoped with a valid terminator: 'aws4_request', not '%s'. ", a.Terminator)
	}
	if a.Region == "" {
		return id, invalidSig("Credential should be scoped to a valid region, not '%s'. ", a.Region)
	}
	if !a.signs("host") {
		return id, incomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	t, perr := time.Parse(amzDateLayout, amzDate)
	if perr != nil {
		return id, incomplete("Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", amzDate)
	}
	if amzDate[:8] != a.Date {
		return id, invalidSig("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", a.Date, amzDate[:8], amzDate)
	}
	if err := checkSkew(t, v.now()); err != nil {
		return id, err
	}

	secret, ok := v.keys(a.AccessKeyID)
	if !ok {
		return id, &iotdm.Error{Code: iotdm.ErrUnrecognizedClient, Message: msgUnknownKey}
	}

	payloadHash, err := payloadHash(r, body)
	if err != nil {
		return id, err
	}
	key := v.signingKey(secret, a)
	path := rawPath(r)
	if v.matches(r, a, key, amzDate, path, payloadHash) {
		return id, nil
	}
	// botocore removes dot segments and empty segments from the path
	// before signing; the Go SDK does not. Accept either.
	if alt := normalizePath(path); alt != path && v.matches(r, a, key, amzDate, alt, payloadHash) {
		return id, nil
	}
	return id, &iotdm.Error{Code: iotdm.ErrInvalidSignature, Message: msgSignatureInvalid}
}

// matches reports whether the signature of a is the one computed over r
// with path as its (escaped) URI path.
func (v *Verifier) matches(r *http.Request, a authorization, key [sha256.Size]byte, amzDate, path, payloadHash string) bool {
	bp := bufPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= maxPooledBuf {
			bufPool.Put(bp)
		}
	}()

	canonical := appendCanonicalRequest((*bp)[:0], r, a, path, payloadHash)
	sum := sha256.Sum256(canonical)

	sts := canonical[:0] // reuse the buffer for the string to sign
	sts = append(sts, sigAlgorithm...)
	sts = append(sts, '\n')
	sts = append(sts, amzDate...)
	sts = append(sts, '\n')
	sts = append(sts, a.Date...)
	sts = append(sts, '/')
	sts = append(sts, a.Region...)
	sts = append(sts, '/')
	sts = append(sts, a.Service...)
	sts = append(sts, '/')
	sts = append(sts, sigTerminator...)
	sts = append(sts, '\n')
	sts = hex.AppendEncode(sts, sum[:])

	mac := hmac.New(sha256.New, key[:])
	mac.Write(sts)
	var sig [sha256.Size]byte
	var want [2 * sha256.Size]byte
	hex.Encode(want[:], mac.Sum(sig[:0]))
	*bp = sts
	return subtle.ConstantTimeCompare(want[:], []byte(a.Signature)) == 1
}

// bufPool holds buffers for canonical requests; they never escape a call.
// Buffers grown past maxPooledBuf by huge headers are left to the GC.
const maxPooledBuf = 64 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// signingKey returns the derived key for a's scope, from the cache when the
// secret has not changed.
func (v *Verifier) signingKey(secret string, a authorization) [sha256.Size]byte {
	k := scopeKey{a.AccessKeyID, a.Date, a.Region, a.Service}
	v.mu.RLock()
	d, ok := v.cache[k]
	v.mu.RUnlock()
	if ok && d.secret == secret {
		return d.key
	}
	d = derivedKey{secret: secret, key: deriveKey(secret, a.Date, a.Region, a.Service)}
	v.mu.Lock()
	if len(v.cache) >= maxCachedKeys {
		clear(v.cache) // keys are cheap to derive again; keep memory bounded
	}
	v.cache[k] = d
	v.mu.Unlock()
	return d.key
}

// deriveKey computes the SigV4 signing key for a date, region and service.
func deriveKey(secret, date, region, service string) [sha256.Size]byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	k = hmacSHA256(k, sigTerminator)
	return [sha256.Size]byte(k)
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// checkSkew refuses a request time more than 15 minutes away from now, with
// AWS's wording.
func checkSkew(t, now time.Time) error {
	now = now.UTC()
	if early := now.Add(-maxClockSkew); t.Before(early) {
		return invalidSig("Signature expired: %s is now earlier than %s (%s - 15 min.)",
			t.Format(amzDateLayout), early.Format(amzDateLayout), now.Format(amzDateLayout))
	}
	if late := now.Add(maxClockSkew); t.After(late) {
		return invalidSig("Signature not yet current: %s is still later than %s (%s + 15 min.)",
			t.Format(amzDateLayout), late.Format(amzDateLayout), now.Format(amzDateLayout))
	}
	return nil
}

// payloadHash returns the payload hash of the canonical request: the
// X-Amz-Content-Sha256 header when the client sent one (refusing a hex
// digest that does not match the body), else the SHA-256 of body.
func payloadHash(r *http.Request, body []byte) (string, error) {
	declared := r.Header.Get("X-Amz-Content-Sha256")
	if declared != "" && !isHexDigest(declared) {
		return declared, nil // UNSIGNED-PAYLOAD and friends: signed as sent
	}
	actual := emptySHA256
	if len(body) > 0 {
		sum := sha256.Sum256(body)
		actual = hex.EncodeToString(sum[:])
	}
	if declared != "" && !strings.EqualFold(declared, actual) {
		return "", invalidSig("The provided 'x-amz-content-sha256' header does not match what was computed.")
	}
	if declared != "" {
		return declared, nil
	}
	return actual, nil
}

func isHexDigest(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func incomplete(format string, args ...any) *iotdm.Error {
	return &iotdm.Error{Code: iotdm.ErrIncompleteSignature, Message: fmt.Sprintf(format, args...)}
}

func invalidSig(format string, args ...any) *iotdm.Error {
	return &iotdm.Error{Code: iotdm.ErrInvalidSignature, Message: fmt.Sprintf(format, args...)}
}
