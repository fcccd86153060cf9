package policy

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Context is what a request is evaluated against: the values of the policy
// variables and condition keys of AWS §4.4. A broker fills one per connection.
type Context struct {
	// ClientID is the MQTT client id: iot:ClientId. Empty means absent.
	ClientID string
	// SourceIP is the client's IP address without a port ("192.0.2.10",
	// "2001:db8::1"): aws:SourceIp. Empty means absent.
	SourceIP string
	// Thing is the registry thing named by ClientID, nil when there is none.
	// Its iot:Connection.Thing.* variables resolve only when it is attached
	// to the connection's principal; the caller decides both.
	Thing *Thing
	// Certificate describes the client certificate, nil for a connection
	// that did not authenticate with one. See CertificateContext.
	Certificate *CertInfo
	// Time is the time of the request: aws:CurrentTime and aws:EpochTime.
	// Zero means absent. A Checker evaluates conditions once, at Compile.
	Time time.Time
}

// Thing is the registry thing a connection's client id names.
type Thing struct {
	Name       string            // iot:Connection.Thing.ThingName
	TypeName   string            // iot:Connection.Thing.ThingTypeName; "" when the thing has no type
	Attributes map[string]string // iot:Connection.Thing.Attributes[name]
	// IsAttached reports whether the thing is attached to the principal
	// (iot:Connection.Thing.IsAttached). Without it no other thing variable
	// resolves.
	IsAttached bool
}

// CertInfo holds the certificate values of the iot:Certificate.* variables.
// Map keys are the AWS attribute names; each list is in certificate order.
type CertInfo struct {
	// SerialNumber is iot:Certificate.SerialNumber, in decimal.
	SerialNumber string
	// Subject and Issuer map a DN attribute name to its values:
	// iot:Certificate.Subject.<Attr>. The names are CommonName, Country,
	// Organization, OrganizationalUnit, State, SerialNumber,
	// DistinguishedNameQualifier, Title, Surname, GivenName, Initials,
	// Pseudonym and GenerationQualifier.
	Subject map[string][]string
	Issuer  map[string][]string
	// SubjectAltNames and IssuerAltNames map a name type to its values:
	// iot:Certificate.Subject.AlternativeName.<Type>. The types are
	// RFC822Name, DNSName, DirectoryName, UniformResourceIdentifier and
	// IPAddress.
	SubjectAltNames map[string][]string
	IssuerAltNames  map[string][]string
}

// dnAttributes are the distinguished-name attributes AWS IoT exposes as
// iot:Certificate.Subject.<Attr> and iot:Certificate.Issuer.<Attr>.
var dnAttributes = []string{
	"CommonName", "Country", "Organization", "OrganizationalUnit", "State",
	"SerialNumber", "DistinguishedNameQualifier", "Title", "Surname",
	"GivenName", "Initials", "Pseudonym", "GenerationQualifier",
}

// altNameTypes are the alternative-name types AWS IoT exposes as
// iot:Certificate.Subject.AlternativeName.<Type> (and Issuer).
var altNameTypes = []string{
	"RFC822Name", "DNSName", "DirectoryName", "UniformResourceIdentifier", "IPAddress",
}

var dnOIDs = map[string]string{
	"2.5.4.3":  "CommonName",
	"2.5.4.4":  "Surname",
	"2.5.4.5":  "SerialNumber",
	"2.5.4.6":  "Country",
	"2.5.4.8":  "State",
	"2.5.4.10": "Organization",
	"2.5.4.11": "OrganizationalUnit",
	"2.5.4.12": "Title",
	"2.5.4.42": "GivenName",
	"2.5.4.43": "Initials",
	"2.5.4.44": "GenerationQualifier",
	"2.5.4.46": "DistinguishedNameQualifier",
	"2.5.4.65": "Pseudonym",
}

var (
	oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidIssuerAltName  = asn1.ObjectIdentifier{2, 5, 29, 18}
)

// CertificateContext extracts the certificate policy variables from a parsed
// certificate (one from x509.ParseCertificate or a TLS handshake).
// Directory names are rendered as RFC 2253 strings ("CN=a,O=b").
func CertificateContext(cert *x509.Certificate) CertInfo {
	var ci CertInfo
	if cert.SerialNumber != nil {
		ci.SerialNumber = cert.SerialNumber.String()
	}
	ci.Subject = dnValues(cert.Subject.Names)
	ci.Issuer = dnValues(cert.Issuer.Names)
	for _, ext := range cert.Extensions {
		switch {
		case ext.Id.Equal(oidSubjectAltName):
			ci.SubjectAltNames = generalNames(ext.Value)
		case ext.Id.Equal(oidIssuerAltName):
			ci.IssuerAltNames = generalNames(ext.Value)
		}
	}
	return ci
}

func dnValues(names []pkix.AttributeTypeAndValue) map[string][]string {
	var m map[string][]string
	for _, atv := range names {
		name, ok := dnOIDs[atv.Type.String()]
		if !ok {
			continue
		}
		s, ok := atv.Value.(string)
		if !ok {
			continue
		}
		if m == nil {
			m = map[string][]string{}
		}
		m[name] = append(m[name], s)
	}
	return m
}

// generalNames decodes a GeneralNames SEQUENCE (RFC 5280 §4.2.1.6). Types
// AWS does not expose are skipped; so is anything malformed.
func generalNames(der []byte) map[string][]string {
	var seq asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &seq); err != nil || len(rest) > 0 || !seq.IsCompound || seq.Tag != asn1.TagSequence {
		return nil
	}
	var m map[string][]string
	add := func(typ, v string) {
		if m == nil {
			m = map[string][]string{}
		}
		m[typ] = append(m[typ], v)
	}
	for data := seq.Bytes; len(data) > 0; {
		var v asn1.RawValue
		rest, err := asn1.Unmarshal(data, &v)
		if err != nil {
			break
		}
		data = rest
		if v.Class != asn1.ClassContextSpecific {
			continue
		}
		switch v.Tag {
		case 1:
			add("RFC822Name", string(v.Bytes))
		case 2:
			add("DNSName", string(v.Bytes))
		case 4:
			var rdns pkix.RDNSequence
			if rest, err := asn1.Unmarshal(v.Bytes, &rdns); err == nil && len(rest) == 0 {
				var n pkix.Name
				n.FillFromRDNSequence(&rdns)
				add("DirectoryName", n.String())
			}
		case 6:
			add("UniformResourceIdentifier", string(v.Bytes))
		case 7:
			if a, ok := netip.AddrFromSlice(v.Bytes); ok {
				add("IPAddress", a.Unmap().String())
			}
		}
	}
	return m
}

// Limits on substitution (AWS §4.4).
const (
	// MaxVariableValue is the longest value, in characters, a variable is
	// substituted with; a longer one leaves the variable unresolved.
	MaxVariableValue = 1024
	// MaxCertValues is how many values of a multi-valued certificate
	// attribute count; the rest are ignored.
	MaxCertValues = 5
)

// certWildcards are the characters that keep a certificate value from being
// substituted (AWS §4.4).
const certWildcards = "*$+?#"

// substitute returns the value a ${name} variable is replaced with, and
// false when it cannot be: the key is absent or multi-valued (.List,
// AvailableKeys), the value is longer than MaxVariableValue, or it is a
// certificate value holding a wildcard character. Values that are not UTF-8
// have the bad bytes replaced, so a pattern stays valid UTF-8.
func substitute(ctx *Context, name string) (string, bool) {
	vals, multi, cert := lookup(ctx, name)
	if len(vals) == 0 || multi {
		return "", false
	}
	v := vals[0]
	if utf8.RuneCountInString(v) > MaxVariableValue {
		return "", false
	}
	if cert && strings.ContainsAny(v, certWildcards) {
		return "", false
	}
	return strings.ToValidUTF8(v, "\uFFFD"), true
}

// lookup returns the values of a context key (a variable name without ${}),
// nil when absent. Names match case-insensitively, except a thing attribute
// name in brackets. multi reports a multi-valued key; cert a certificate key.
func lookup(ctx *Context, name string) (vals []string, multi, cert bool) {
	one := func(s string) []string {
		if s == "" {
			return nil
		}
		return []string{s}
	}
	switch {
	case strings.EqualFold(name, "iot:ClientId"):
		return one(ctx.ClientID), false, false
	case strings.EqualFold(name, "aws:SourceIp"):
		return one(ctx.SourceIP), false, false
	case strings.EqualFold(name, "aws:CurrentTime"):
		if ctx.Time.IsZero() {
			return nil, false, false
		}
		return one(ctx.Time.UTC().Format(time.RFC3339)), false, false
	case strings.EqualFold(name, "aws:EpochTime"):
		if ctx.Time.IsZero() {
			return nil, false, false
		}
		return one(strconv.FormatInt(ctx.Time.Unix(), 10)), false, false
	}
	if rest, ok := cutPrefixFold(name, "iot:Connection.Thing."); ok {
		return lookupThing(ctx.Thing, rest), false, false
	}
	if rest, ok := cutPrefixFold(name, "iot:Certificate."); ok && ctx.Certificate != nil {
		vals, multi := lookupCert(ctx.Certificate, rest)
		return vals, multi, true
	}
	return nil, false, false
}

func lookupThing(t *Thing, rest string) []string {
	if strings.EqualFold(rest, "IsAttached") {
		if t != nil && t.IsAttached {
			return []string{"true"}
		}
		return []string{"false"}
	}
	if t == nil || !t.IsAttached {
		return nil
	}
	switch {
	case strings.EqualFold(rest, "ThingName"):
		if t.Name != "" {
			return []string{t.Name}
		}
	case strings.EqualFold(rest, "ThingTypeName"):
		if t.TypeName != "" {
			return []string{t.TypeName}
		}
	default:
		if attr, ok := cutPrefixFold(rest, "Attributes["); ok && strings.HasSuffix(attr, "]") {
			if v, ok := t.Attributes[attr[:len(attr)-1]]; ok && v != "" {
				return []string{v}
			}
		}
	}
	return nil
}

// lookupCert resolves the part of a certificate key after "iot:Certificate.".
func lookupCert(ci *CertInfo, rest string) (vals []string, multi bool) {
	switch {
	case strings.EqualFold(rest, "SerialNumber"):
		if ci.SerialNumber == "" {
			return nil, false
		}
		return []string{ci.SerialNumber}, false
	case strings.EqualFold(rest, "AvailableKeys"):
		return availableKeys(ci), true
	}
	var m map[string][]string
	var names []string
	if r, ok := cutPrefixFold(rest, "Subject.AlternativeName."); ok {
		m, names, rest = ci.SubjectAltNames, altNameTypes, r
	} else if r, ok := cutPrefixFold(rest, "Issuer.AlternativeName."); ok {
		m, names, rest = ci.IssuerAltNames, altNameTypes, r
	} else if r, ok := cutPrefixFold(rest, "Subject."); ok {
		m, names, rest = ci.Subject, dnAttributes, r
	} else if r, ok := cutPrefixFold(rest, "Issuer."); ok {
		m, names, rest = ci.Issuer, dnAttributes, r
	} else {
		return nil, false
	}
	attr, suffix, hasSuffix := strings.Cut(rest, ".")
	canon := ""
	for _, n := range names {
		if strings.EqualFold(n, attr) {
			canon = n
			break
		}
	}
	if canon == "" {
		return nil, false
	}
	all := m[canon]
	if len(all) > MaxCertValues {
		all = all[:MaxCertValues]
	}
	switch {
	case !hasSuffix:
		if len(all) == 0 {
			return nil, false
		}
		return all[:1], false
	case strings.EqualFold(suffix, "List"):
		return all, true
	default:
		i, err := strconv.Atoi(suffix)
		if err != nil || i < 0 || i >= len(all) || suffix[0] == '+' || suffix[0] == '-' {
			return nil, false
		}
		return all[i : i+1], false
	}
}

// availableKeys lists the certificate keys that have a value.
func availableKeys(ci *CertInfo) []string {
	var keys []string
	for _, dn := range []struct {
		prefix string
		m      map[string][]string
		names  []string
	}{
		{"iot:Certificate.Subject.", ci.Subject, dnAttributes},
		{"iot:Certificate.Issuer.", ci.Issuer, dnAttributes},
		{"iot:Certificate.Subject.AlternativeName.", ci.SubjectAltNames, altNameTypes},
		{"iot:Certificate.Issuer.AlternativeName.", ci.IssuerAltNames, altNameTypes},
	} {
		for _, n := range dn.names {
			if len(dn.m[n]) > 0 {
				keys = append(keys, dn.prefix+n)
			}
		}
	}
	if ci.SerialNumber != "" {
		keys = append(keys, "iot:Certificate.SerialNumber")
	}
	return keys
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}
