package awsapi

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// The SigV4 canonical request, rebuilt from a received request the way the
// AWS SDKs build it for non-S3 services.

// appendCanonicalRequest appends the SigV4 canonical request of r to b:
// method, URI (path escaped once more, as non-S3 services do), canonical
// query, canonical headers, signed headers and payload hash.
func appendCanonicalRequest(b []byte, r *http.Request, a authorization, path, payloadHash string) []byte {
	b = append(b, r.Method...)
	b = append(b, '\n')
	b = appendEscapedPath(b, path)
	b = append(b, '\n')
	b = appendCanonicalQuery(b, r.URL.RawQuery)
	b = append(b, '\n')
	for name := range strings.SplitSeq(a.SignedHeaders, ";") {
		b = append(b, name...)
		b = append(b, ':')
		b = appendHeaderValue(b, r, name)
		b = append(b, '\n')
	}
	b = append(b, '\n')
	b = append(b, a.SignedHeaders...)
	b = append(b, '\n')
	b = append(b, payloadHash...)
	return b
}

// appendHeaderValue appends the canonical value of the signed header name:
// the values trimmed, inner runs of spaces collapsed, joined with commas.
func appendHeaderValue(b []byte, r *http.Request, name string) []byte {
	if name == "host" {
		return appendTrimmed(b, r.Host)
	}
	values := r.Header[canonicalHeaderKey(name)]
	if len(values) == 0 && name == "content-length" && r.ContentLength >= 0 {
		return strconv.AppendInt(b, r.ContentLength, 10)
	}
	for i, v := range values {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendTrimmed(b, v)
	}
	return b
}

// appendTrimmed appends v without leading and trailing spaces and with each
// run of inner spaces reduced to one.
func appendTrimmed(b []byte, v string) []byte {
	v = strings.Trim(v, " \t")
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b = append(b, c)
	}
	return b
}

// commonHeaderKeys spares the canonicalisation of the usual signed headers.
var commonHeaderKeys = map[string]string{
	"x-amz-date":             "X-Amz-Date",
	"x-amz-content-sha256":   "X-Amz-Content-Sha256",
	"x-amz-security-token":   "X-Amz-Security-Token",
	"x-amz-user-agent":       "X-Amz-User-Agent",
	"x-amz-target":           "X-Amz-Target",
	"content-type":           "Content-Type",
	"content-length":         "Content-Length",
	"content-encoding":       "Content-Encoding",
	"accept":                 "Accept",
	"accept-encoding":        "Accept-Encoding",
	"amz-sdk-invocation-id":  "Amz-Sdk-Invocation-Id",
	"amz-sdk-request":        "Amz-Sdk-Request",
	"x-amzn-principal":       "X-Amzn-Principal",
	"x-amz-checksum-crc32":   "X-Amz-Checksum-Crc32",
	"x-amz-sdk-checksum-alg": "X-Amz-Sdk-Checksum-Alg",
}

func canonicalHeaderKey(name string) string {
	if k, ok := commonHeaderKeys[name]; ok {
		return k
	}
	return http.CanonicalHeaderKey(name)
}

// appendEscapedPath appends path with every byte outside the unreserved set
// and '/' percent-encoded (so an already escaped "%3A" becomes "%253A", as
// the SDKs sign it).
func appendEscapedPath(b []byte, path string) []byte {
	if path == "" {
		return append(b, '/')
	}
	for i := 0; i < len(path); i++ {
		c := path[i]
		if c == '/' || unreserved(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', upperHex[c>>4], upperHex[c&15])
		}
	}
	return b
}

const upperHex = "0123456789ABCDEF"

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// queryPair is one encoded name=value pair of a canonical query.
type queryPair struct{ name, value string }

// appendCanonicalQuery appends the canonical form of a raw query: each name
// and value decoded, re-encoded the SigV4 way (%20 for space, uppercase
// hex), and the pairs sorted by name, then value.
func appendCanonicalQuery(b []byte, raw string) []byte {
	if raw == "" {
		return b
	}
	var stack [16]queryPair
	pairs := stack[:0]
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		name, value, _ := strings.Cut(part, "=")
		pairs = append(pairs, queryPair{sigv4Encode(name), sigv4Encode(value)})
	}
	slices.SortFunc(pairs, func(x, y queryPair) int {
		if c := strings.Compare(x.name, y.name); c != 0 {
			return c
		}
		return strings.Compare(x.value, y.value)
	})
	for i, p := range pairs {
		if i > 0 {
			b = append(b, '&')
		}
		b = append(b, p.name...)
		b = append(b, '=')
		b = append(b, p.value...)
	}
	return b
}

// sigv4Encode decodes a query component and encodes it again as SigV4
// requires. A component that does not decode is used as sent.
func sigv4Encode(s string) string {
	if !needsRecode(s) {
		return s
	}
	d, err := url.QueryUnescape(s)
	if err != nil {
		return s
	}
	return strings.ReplaceAll(url.QueryEscape(d), "+", "%20")
}

// needsRecode reports whether s holds anything but unreserved bytes.
func needsRecode(s string) bool {
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			return true
		}
	}
	return false
}

// normalizePath removes "." and ".." segments and empty segments from an
// escaped path, as botocore does before signing.
func normalizePath(p string) string {
	if p == "" {
		return "/"
	}
	var out []string
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
		}
	}
	s := "/" + strings.Join(out, "/")
	if strings.HasSuffix(p, "/") && len(out) > 0 {
		s += "/"
	}
	return s
}

// rawPath returns the path of r exactly as the client sent it (still
// escaped), falling back to the URL's escaped path.
func rawPath(r *http.Request) string {
	if u := r.RequestURI; len(u) > 0 && u[0] == '/' {
		if i := strings.IndexByte(u, '?'); i >= 0 {
			u = u[:i]
		}
		return u
	}
	p := r.URL.EscapedPath()
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return p
}
