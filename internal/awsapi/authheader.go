package awsapi

import "strings"

// authorization is a parsed SigV4 Authorization header.
type authorization struct {
	Algorithm     string
	AccessKeyID   string
	Date          string // YYYYMMDD of the credential scope
	Region        string
	Service       string
	Terminator    string // aws4_request
	SignedHeaders string // as sent: lowercase names joined by ';'
	Signature     string

	hasCredential, hasSignedHeaders, hasSignature bool
}

// parseAuthorization parses "ALGORITHM Credential=AKID/DATE/REGION/SERVICE/
// aws4_request, SignedHeaders=a;b, Signature=hex". Parameters are separated
// by commas and/or white space, as AWS reads them. Absent parameters are
// left to missing(), so they can be reported together with a missing date;
// a component without '=' or a credential with too few parts is an error
// here. Unknown parameters are ignored.
func parseAuthorization(h string) (authorization, error) {
	var a authorization
	var credential string
	s := strings.TrimSpace(h)
	alg, rest, _ := strings.Cut(s, " ")
	a.Algorithm = alg
	for part := range strings.FieldsFuncSeq(rest, isAuthSeparator) {
		k, val, ok := strings.Cut(part, "=")
		if !ok {
			return a, incomplete("'%s' not a valid key=value pair (missing equal-sign) in Authorization header: '%s'.", part, h)
		}
		switch k {
		case "Credential":
			if !a.hasCredential {
				a.hasCredential, credential = true, val
			}
		case "SignedHeaders":
			if !a.hasSignedHeaders {
				a.hasSignedHeaders, a.SignedHeaders = true, val
			}
		case "Signature":
			if !a.hasSignature {
				a.hasSignature, a.Signature = true, val
			}
		}
	}
	if a.hasCredential {
		if err := a.parseCredential(credential, h); err != nil {
			return a, err
		}
	}
	return a, nil
}

func isAuthSeparator(r rune) bool { return r == ',' || r == ' ' || r == '\t' }

// parseCredential splits AKID/DATE/REGION/SERVICE/TERMINATOR.
func (a *authorization) parseCredential(c, header string) error {
	var parts [5]string
	rest := c
	for i := range parts {
		var more bool
		parts[i], rest, more = strings.Cut(rest, "/")
		if more != (i < len(parts)-1) {
			return incomplete("Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\". Authorization=%s", header)
		}
	}
	if parts[0] == "" {
		return incomplete("Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\". Authorization=%s", header)
	}
	a.AccessKeyID, a.Date, a.Region, a.Service, a.Terminator = parts[0], parts[1], parts[2], parts[3], parts[4]
	return nil
}

// missing returns AWS's sentences for the absent parameters, each followed
// by a space, or "" when none is absent.
func (a authorization) missing() string {
	var s string
	if !a.hasCredential {
		s += "Authorization header requires 'Credential' parameter. "
	}
	if !a.hasSignature {
		s += "Authorization header requires 'Signature' parameter. "
	}
	if !a.hasSignedHeaders {
		s += "Authorization header requires 'SignedHeaders' parameter. "
	}
	return s
}

// signs reports whether name is among the signed headers.
func (a authorization) signs(name string) bool {
	for h := range strings.SplitSeq(a.SignedHeaders, ";") {
		if h == name {
			return true
		}
	}
	return false
}
