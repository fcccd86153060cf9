package policy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCertificateContext(t *testing.T) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Acme Device CA", Organization: []string{"Acme"}, Country: []string{"US"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	if ca, err = x509.ParseCertificate(caDER); err != nil {
		t.Fatal(err)
	}

	attr := func(oid asn1.ObjectIdentifier, v string) pkix.AttributeTypeAndValue {
		return pkix.AttributeTypeAndValue{Type: oid, Value: v}
	}
	general := func(tag int, b []byte, compound bool) asn1.RawValue {
		return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tag, IsCompound: compound, Bytes: b}
	}
	dir, err := asn1.Marshal(pkix.Name{CommonName: "dir", Organization: []string{"Acme"}}.ToRDNSequence())
	if err != nil {
		t.Fatal(err)
	}
	san, err := asn1.Marshal([]asn1.RawValue{
		general(1, []byte("dev@example.com"), false),
		general(2, []byte("dev.example.com"), false),
		general(2, []byte("alt.example.com"), false),
		general(4, dir, true),
		general(6, []byte("urn:acme:dev"), false),
		general(7, []byte{192, 0, 2, 10}, false),
		general(7, []byte{0x20, 0x01, 0x0d, 0xb8, 15: 1}, false),
		general(8, []byte{6, 3, 42, 3, 4}, true), // registeredID: not exposed
	})
	if err != nil {
		t.Fatal(err)
	}
	ian, err := asn1.Marshal([]asn1.RawValue{general(2, []byte("ca.example.com"), false)})
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := new(big.Int).SetString("921285cbb7a5e086", 16)
	leaf := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:         "temp-sensor-01",
			Organization:       []string{"Acme", "Acme Labs"},
			OrganizationalUnit: []string{"Sensors"},
			Country:            []string{"US"},
			Province:           []string{"WA"},
			Locality:           []string{"Seattle"}, // not an AWS variable
			SerialNumber:       "123",
			ExtraNames: []pkix.AttributeTypeAndValue{
				attr(asn1.ObjectIdentifier{2, 5, 4, 12}, "Sensor"),
				attr(asn1.ObjectIdentifier{2, 5, 4, 4}, "Smith"),
				attr(asn1.ObjectIdentifier{2, 5, 4, 42}, "Bulb"),
				attr(asn1.ObjectIdentifier{2, 5, 4, 43}, "ZZ"),
				attr(asn1.ObjectIdentifier{2, 5, 4, 44}, "4"),
				attr(asn1.ObjectIdentifier{2, 5, 4, 46}, "Bulb001"),
				attr(asn1.ObjectIdentifier{2, 5, 4, 65}, "RGB"),
			},
		},
		NotBefore: time.Now().Add(-time.Hour),
		NotAfter:  time.Now().Add(time.Hour),
		ExtraExtensions: []pkix.Extension{
			{Id: oidSubjectAltName, Value: san},
			{Id: oidIssuerAltName, Value: ian},
		},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}

	got := CertificateContext(cert)
	want := CertInfo{
		SerialNumber: "10525622389124227206",
		Subject: map[string][]string{
			"CommonName":                 {"temp-sensor-01"},
			"Organization":               {"Acme", "Acme Labs"},
			"OrganizationalUnit":         {"Sensors"},
			"Country":                    {"US"},
			"State":                      {"WA"},
			"SerialNumber":               {"123"},
			"Title":                      {"Sensor"},
			"Surname":                    {"Smith"},
			"GivenName":                  {"Bulb"},
			"Initials":                   {"ZZ"},
			"GenerationQualifier":        {"4"},
			"DistinguishedNameQualifier": {"Bulb001"},
			"Pseudonym":                  {"RGB"},
		},
		Issuer: map[string][]string{
			"CommonName":   {"Acme Device CA"},
			"Organization": {"Acme"},
			"Country":      {"US"},
		},
		SubjectAltNames: map[string][]string{
			"RFC822Name":                {"dev@example.com"},
			"DNSName":                   {"dev.example.com", "alt.example.com"},
			"DirectoryName":             {"CN=dir,O=Acme"},
			"UniformResourceIdentifier": {"urn:acme:dev"},
			"IPAddress":                 {"192.0.2.10", "2001:db8::1"},
		},
		IssuerAltNames: map[string][]string{"DNSName": {"ca.example.com"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("CertificateContext() (-want +got):\n%s", diff)
	}

	// The extracted values drive the certificate variables.
	ctx := Context{ClientID: "temp-sensor-01", Certificate: &got}
	pols := mustParse(t, "p", allowDoc("iot:Publish", arn+"topic/${iot:Certificate.Subject.Organization.1}/${iot:Certificate.Subject.AlternativeName.IPAddress.1}/${iot:Certificate.Issuer.CommonName}"))
	if d := Evaluate(pols, ctx, "iot:Publish", arn+"topic/Acme Labs/2001:db8::1/Acme Device CA").Decision; d != Allowed {
		t.Errorf("Evaluate with CertificateContext variables = %v, want ALLOWED", d)
	}
	wantKeys := []string{
		"iot:Certificate.Subject.CommonName", "iot:Certificate.Subject.Country", "iot:Certificate.Subject.Organization",
		"iot:Certificate.Subject.OrganizationalUnit", "iot:Certificate.Subject.State", "iot:Certificate.Subject.SerialNumber",
		"iot:Certificate.Subject.DistinguishedNameQualifier", "iot:Certificate.Subject.Title", "iot:Certificate.Subject.Surname",
		"iot:Certificate.Subject.GivenName", "iot:Certificate.Subject.Initials", "iot:Certificate.Subject.Pseudonym",
		"iot:Certificate.Subject.GenerationQualifier",
		"iot:Certificate.Issuer.CommonName", "iot:Certificate.Issuer.Country", "iot:Certificate.Issuer.Organization",
		"iot:Certificate.Subject.AlternativeName.RFC822Name", "iot:Certificate.Subject.AlternativeName.DNSName",
		"iot:Certificate.Subject.AlternativeName.DirectoryName", "iot:Certificate.Subject.AlternativeName.UniformResourceIdentifier",
		"iot:Certificate.Subject.AlternativeName.IPAddress",
		"iot:Certificate.Issuer.AlternativeName.DNSName",
		"iot:Certificate.SerialNumber",
	}
	keys, multi, _ := lookup(&ctx, "iot:Certificate.AvailableKeys")
	if !multi {
		t.Errorf("iot:Certificate.AvailableKeys is not multi-valued")
	}
	if diff := cmp.Diff(wantKeys, keys); diff != "" {
		t.Errorf("iot:Certificate.AvailableKeys (-want +got):\n%s", diff)
	}
}

func TestGeneralNamesMalformed(t *testing.T) {
	for _, der := range [][]byte{nil, {0x30}, {0x04, 0x00}, {0x30, 0x00, 0x00}, {0x30, 0x03, 0x87, 0x01, 0x01}} {
		if m := generalNames(der); len(m) != 0 {
			t.Errorf("generalNames(%x) = %v, want nothing", der, m)
		}
	}
}

func TestLookupCertSuffixes(t *testing.T) {
	ctx := device("d")
	tests := []struct {
		key  string
		want []string
	}{
		{"iot:Certificate.Subject.Organization", []string{"Acme"}},
		{"iot:certificate.subject.organization.1", []string{"Acme Labs"}},
		{"iot:Certificate.Subject.Organization.0", []string{"Acme"}},
		{"iot:Certificate.Subject.Organization.List", []string{"Acme", "Acme Labs"}},
		{"iot:Certificate.Subject.Organization.+1", nil},
		{"iot:Certificate.Subject.Organization.-1", nil},
		{"iot:Certificate.Subject.Organization.x", nil},
		{"iot:Certificate.Subject.Locality", nil},
		{"iot:Certificate.Subject.AlternativeName.DNSName.List", []string{"d.devices.example.com"}},
		{"iot:Certificate.Subject.AlternativeName.Foo", nil},
		{"iot:Certificate.Foo", nil},
	}
	for _, tt := range tests {
		got, _, _ := lookup(&ctx, tt.key)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("lookup(%s) (-want +got):\n%s", tt.key, diff)
		}
	}
}
