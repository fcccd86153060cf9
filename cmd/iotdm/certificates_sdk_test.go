package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"io/fs"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/google/go-cmp/cmp"
)

// These tests drive the certificate operations (AWS §5) of a real
// in-process server with the AWS SDK for Go v2: issuing, registering,
// the status machine, deletion guards, listings and thing principals.

const testAccountID = "123456789012"

var (
	certIDPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)
	markerPattern = regexp.MustCompile(`^[A-Za-z0-9+/]+={0,2}$`) // the model's Marker
)

// newCertClient starts an in-process server and returns an SDK client and
// the server's data directory (which holds the built-in CA's ca.pem).
func newCertClient(t *testing.T) (*iot.Client, string) {
	t.Helper()
	cfg := testConfig(t)
	s := startServer(t, cfg)
	key, err := ensureCredentials(cfg.DataDir, nil, testLogger(t))
	if err != nil {
		t.Fatalf("credentials: %v", err)
	}
	return staticIoTClient(s, key.ID, key.Secret), s.DataDir()
}

// testCA is a CA made in the test with crypto/x509, as a customer's own CA.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  string
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func serial(t *testing.T) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatal(err)
	}
	return n.Add(n, big.NewInt(1))
}

func encodeCert(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// newTestCA makes a self-signed CA named cn with key (a new key if nil),
// valid from an hour ago for a year.
func newTestCA(t *testing.T, cn string, key *ecdsa.PrivateKey) *testCA {
	t.Helper()
	if key == nil {
		key = newKey(t)
	}
	return signCA(t, cn, key, time.Now().Add(-time.Hour), time.Now().Add(365*24*time.Hour))
}

func signCA(t *testing.T, cn string, key *ecdsa.PrivateKey, notBefore, notAfter time.Time) *testCA {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Example Corp"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: encodeCert(der)}
}

// issue signs a leaf certificate with subject CN cn and a new key, valid
// from notBefore to notAfter.
func (ca *testCA) issue(t *testing.T, cn string, notBefore, notAfter time.Time) string {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, newKey(t).Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return encodeCert(der)
}

// leaf issues a leaf certificate valid now.
func (ca *testCA) leaf(t *testing.T, cn string) string {
	t.Helper()
	return ca.issue(t, cn, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
}

func parsePEMCert(t *testing.T, s string) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode([]byte(s))
	if b == nil || b.Type != "CERTIFICATE" {
		t.Fatalf("not a PEM certificate: %q", s)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func idOf(t *testing.T, certPEM string) string {
	t.Helper()
	sum := sha256.Sum256(parsePEMCert(t, certPEM).Raw)
	return hex.EncodeToString(sum[:])
}

func certARN(id string) string { return "arn:aws:iot:us-east-1:" + testAccountID + ":cert/" + id }

// verifyWithBuiltinCA checks that cert chains to DIR/ca.pem for client
// authentication.
func verifyWithBuiltinCA(t *testing.T, dir string, cert *x509.Certificate) {
	t.Helper()
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatalf("read the built-in CA: %v", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatalf("ca.pem holds no certificate")
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("Verify(issued certificate) against ca.pem = %v, want nil", err)
	}
}

func describeCert(t *testing.T, c *iot.Client, id string) *types.CertificateDescription {
	t.Helper()
	return must[*iot.DescribeCertificateOutput](t, "DescribeCertificate")(c.DescribeCertificate(t.Context(),
		&iot.DescribeCertificateInput{CertificateId: aws.String(id)})).CertificateDescription
}

func describeCA(t *testing.T, c *iot.Client, id string) *iot.DescribeCACertificateOutput {
	t.Helper()
	return must[*iot.DescribeCACertificateOutput](t, "DescribeCACertificate")(c.DescribeCACertificate(t.Context(),
		&iot.DescribeCACertificateInput{CertificateId: aws.String(id)}))
}

// registrationCode returns the account's registration code.
func registrationCode(t *testing.T, c *iot.Client) string {
	t.Helper()
	return aws.ToString(must[*iot.GetRegistrationCodeOutput](t, "GetRegistrationCode")(c.GetRegistrationCode(t.Context(), &iot.GetRegistrationCodeInput{})).RegistrationCode)
}

// registerCA registers ca in DEFAULT mode with a verification certificate
// carrying the registration code, and returns its id.
func registerCA(t *testing.T, c *iot.Client, ca *testCA, active bool) string {
	t.Helper()
	out := must[*iot.RegisterCACertificateOutput](t, "RegisterCACertificate")(c.RegisterCACertificate(t.Context(), &iot.RegisterCACertificateInput{
		CaCertificate: aws.String(ca.pem), VerificationCertificate: aws.String(ca.leaf(t, registrationCode(t, c))), SetAsActive: active}))
	return aws.ToString(out.CertificateId)
}

func TestSDKCreateKeysAndCertificate(t *testing.T) {
	ctx := context.Background()
	c, dir := newCertClient(t)
	out := must[*iot.CreateKeysAndCertificateOutput](t, "CreateKeysAndCertificate")(c.CreateKeysAndCertificate(ctx, &iot.CreateKeysAndCertificateInput{}))
	cert := parsePEMCert(t, aws.ToString(out.CertificatePem))
	id := aws.ToString(out.CertificateId)

	t.Run("id and ARN", func(t *testing.T) {
		if !certIDPattern.MatchString(id) || id != idOf(t, aws.ToString(out.CertificatePem)) {
			t.Errorf("CertificateId = %s, want the hex SHA-256 of the DER (%s)", id, idOf(t, aws.ToString(out.CertificatePem)))
		}
		if got := aws.ToString(out.CertificateArn); got != certARN(id) {
			t.Errorf("CertificateArn = %s, want %s", got, certARN(id))
		}
	})
	t.Run("the key pair is RSA 2048 and matches the certificate", func(t *testing.T) {
		b, _ := pem.Decode([]byte(aws.ToString(out.KeyPair.PrivateKey)))
		if b == nil || b.Type != "RSA PRIVATE KEY" {
			t.Fatalf("PrivateKey = %q, want an RSA PRIVATE KEY block", aws.ToString(out.KeyPair.PrivateKey))
		}
		key, err := x509.ParsePKCS1PrivateKey(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if key.N.BitLen() != 2048 || !key.PublicKey.Equal(cert.PublicKey) {
			t.Errorf("private key: %d bits, matches certificate %v; want 2048 bits, true", key.N.BitLen(), key.PublicKey.Equal(cert.PublicKey))
		}
		pb, _ := pem.Decode([]byte(aws.ToString(out.KeyPair.PublicKey)))
		if pb == nil {
			t.Fatalf("PublicKey = %q, want PEM", aws.ToString(out.KeyPair.PublicKey))
		}
		pub, err := x509.ParsePKIXPublicKey(pb.Bytes)
		if err != nil || !key.PublicKey.Equal(pub.(crypto.PublicKey)) {
			t.Errorf("PublicKey does not match the private key (err %v)", err)
		}
	})
	t.Run("issued by the built-in CA in the data directory", func(t *testing.T) {
		verifyWithBuiltinCA(t, dir, cert)
		if cert.Subject.CommonName != "AWS IoT Certificate" || !cert.NotAfter.Equal(time.Date(2049, 12, 31, 23, 59, 59, 0, time.UTC)) {
			t.Errorf("certificate CN %q, notAfter %s; want AWS IoT Certificate, 2049-12-31T23:59:59Z", cert.Subject.CommonName, cert.NotAfter)
		}
	})
	t.Run("describe", func(t *testing.T) {
		d := describeCert(t, c, id)
		if d.Status != types.CertificateStatusInactive || d.CertificateMode != types.CertificateModeDefault ||
			aws.ToString(d.CaCertificateId) != "" || aws.ToString(d.OwnedBy) != testAccountID || aws.ToInt32(d.CustomerVersion) != 1 ||
			!uuidPattern.MatchString(aws.ToString(d.GenerationId)) || aws.ToString(d.CertificatePem) != aws.ToString(out.CertificatePem) {
			t.Errorf("DescribeCertificate = status %s mode %s ca %q owner %s version %d generation %s; want INACTIVE DEFAULT \"\" %s 1 a UUID, and the issued PEM",
				d.Status, d.CertificateMode, aws.ToString(d.CaCertificateId), aws.ToString(d.OwnedBy), aws.ToInt32(d.CustomerVersion), aws.ToString(d.GenerationId), testAccountID)
		}
		if !d.Validity.NotAfter.Equal(cert.NotAfter) || !d.Validity.NotBefore.Equal(cert.NotBefore) {
			t.Errorf("validity = %s..%s, want %s..%s", d.Validity.NotBefore, d.Validity.NotAfter, cert.NotBefore, cert.NotAfter)
		}
		if since := time.Since(aws.ToTime(d.CreationDate)); since < 0 || since > time.Minute {
			t.Errorf("creationDate = %s, want about now", d.CreationDate)
		}
	})
	t.Run("setAsActive", func(t *testing.T) {
		active := must[*iot.CreateKeysAndCertificateOutput](t, "CreateKeysAndCertificate")(c.CreateKeysAndCertificate(ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: true}))
		if st := describeCert(t, c, aws.ToString(active.CertificateId)).Status; st != types.CertificateStatusActive {
			t.Errorf("status with setAsActive = %s, want ACTIVE", st)
		}
	})
	t.Run("the private key is stored nowhere", func(t *testing.T) {
		// middleLine is a full base64 line from the middle of a PEM block.
		middleLine := func(p string) []byte {
			lines := strings.Split(strings.TrimSpace(p), "\n")
			return []byte(lines[len(lines)/2])
		}
		secret, public := middleLine(aws.ToString(out.KeyPair.PrivateKey)), middleLine(aws.ToString(out.CertificatePem))
		foundCert := false
		err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if bytes.Contains(b, secret) {
				t.Errorf("%s holds the private key", filepath.Base(path))
			}
			foundCert = foundCert || bytes.Contains(b, public)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !foundCert {
			// The search would miss the key too: the store is not plain text.
			t.Errorf("the certificate PEM is in no file of the data directory; the search proves nothing")
		}
	})
}

// openssl runs the openssl command line in dir.
func openssl(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestSDKCreateCertificateFromCsr(t *testing.T) {
	ctx := context.Background()
	c, dir := newCertClient(t)
	work := t.TempDir()
	openssl(t, work, "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "csr.pem", "-subj", "/CN=sensor-7/O=Example Corp")
	csr, err := os.ReadFile(filepath.Join(work, "csr.pem"))
	if err != nil {
		t.Fatal(err)
	}
	out := must[*iot.CreateCertificateFromCsrOutput](t, "CreateCertificateFromCsr")(c.CreateCertificateFromCsr(ctx, &iot.CreateCertificateFromCsrInput{
		CertificateSigningRequest: aws.String(string(csr)), SetAsActive: true}))
	cert := parsePEMCert(t, aws.ToString(out.CertificatePem))

	t.Run("the certificate is for the CSR's key and subject", func(t *testing.T) {
		keyPEM, err := os.ReadFile(filepath.Join(work, "key.pem"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := pem.Decode(keyPEM)
		key, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if !key.(*rsa.PrivateKey).PublicKey.Equal(cert.PublicKey) {
			t.Errorf("certificate key does not match the CSR's key")
		}
		if cert.Subject.CommonName != "sensor-7" || !slices.Equal(cert.Subject.Organization, []string{"Example Corp"}) {
			t.Errorf("subject = %s, want CN=sensor-7,O=Example Corp", cert.Subject)
		}
		verifyWithBuiltinCA(t, dir, cert)
	})
	t.Run("describe", func(t *testing.T) {
		id := aws.ToString(out.CertificateId)
		if id != idOf(t, aws.ToString(out.CertificatePem)) || aws.ToString(out.CertificateArn) != certARN(id) {
			t.Errorf("id %s arn %s, want the SHA-256 of the DER and its ARN", id, aws.ToString(out.CertificateArn))
		}
		if d := describeCert(t, c, id); d.Status != types.CertificateStatusActive || aws.ToString(d.CaCertificateId) != "" {
			t.Errorf("status %s ca %q, want ACTIVE and no CA", d.Status, aws.ToString(d.CaCertificateId))
		}
	})
	t.Run("bad requests", func(t *testing.T) {
		openssl(t, work, "req", "-new", "-newkey", "rsa:1024", "-nodes", "-keyout", "weak.key", "-out", "weak.csr", "-subj", "/CN=weak")
		weak, err := os.ReadFile(filepath.Join(work, "weak.csr"))
		if err != nil {
			t.Fatal(err)
		}
		long := strings.Repeat("A", 4097)
		for name, csr := range map[string]string{
			"garbage":        "not a csr",
			"a certificate":  aws.ToString(out.CertificatePem),
			"RSA 1024":       string(weak),
			"over 4096 long": long,
			"broken":         strings.Replace(string(csr), "MII", "MIX", 1),
		} {
			_, err := c.CreateCertificateFromCsr(ctx, &iot.CreateCertificateFromCsrInput{CertificateSigningRequest: aws.String(csr)})
			wantAPIError(t, "CreateCertificateFromCsr("+name+")", err, "InvalidRequestException")
		}
		list := must[*iot.ListCertificatesOutput](t, "ListCertificates")(c.ListCertificates(ctx, &iot.ListCertificatesInput{}))
		if len(list.Certificates) != 1 {
			t.Errorf("after refused requests: %d certificates, want 1", len(list.Certificates))
		}
	})
}

func TestSDKRegisterCACertificate(t *testing.T) {
	ctx := context.Background()
	c, _ := newCertClient(t)
	code := registrationCode(t, c)
	if !certIDPattern.MatchString(code) || registrationCode(t, c) != code {
		t.Fatalf("GetRegistrationCode = %s, then another; want the same 64 hex characters", code)
	}
	ca := newTestCA(t, "Example Root CA", nil)
	config := &types.RegistrationConfig{TemplateBody: aws.String(`{"Resources":{}}`), RoleArn: aws.String("arn:aws:iam::123456789012:role/JITPRole"), TemplateName: aws.String("jitp-template")}
	out := must[*iot.RegisterCACertificateOutput](t, "RegisterCACertificate")(c.RegisterCACertificate(ctx, &iot.RegisterCACertificateInput{
		CaCertificate: aws.String(ca.pem), VerificationCertificate: aws.String(ca.leaf(t, code)),
		SetAsActive: true, AllowAutoRegistration: true, RegistrationConfig: config,
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("fleet")}}}))
	id := aws.ToString(out.CertificateId)
	caARN := "arn:aws:iot:us-east-1:" + testAccountID + ":cacert/" + id
	if id != idOf(t, ca.pem) || aws.ToString(out.CertificateArn) != caARN {
		t.Fatalf("RegisterCACertificate = %s %s, want %s %s", id, aws.ToString(out.CertificateArn), idOf(t, ca.pem), caARN)
	}

	t.Run("describe", func(t *testing.T) {
		d := describeCA(t, c, id)
		cd := d.CertificateDescription
		if cd.Status != types.CACertificateStatusActive || cd.AutoRegistrationStatus != types.AutoRegistrationStatusEnable ||
			cd.CertificateMode != types.CertificateModeDefault || aws.ToString(cd.OwnedBy) != testAccountID || aws.ToInt32(cd.CustomerVersion) != 1 {
			t.Errorf("DescribeCACertificate = %s %s %s %s v%d, want ACTIVE ENABLE DEFAULT %s v1", cd.Status, cd.AutoRegistrationStatus, cd.CertificateMode, aws.ToString(cd.OwnedBy), aws.ToInt32(cd.CustomerVersion), testAccountID)
		}
		if diff := cmp.Diff(config, d.RegistrationConfig, cmp.AllowUnexported(types.RegistrationConfig{})); diff != "" {
			t.Errorf("registrationConfig (-want +got):\n%s", diff)
		}
		tags := must[*iot.ListTagsForResourceOutput](t, "ListTagsForResource")(c.ListTagsForResource(ctx, &iot.ListTagsForResourceInput{ResourceArn: aws.String(caARN)}))
		if len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Key) != "team" {
			t.Errorf("CA tags = %v, want team=fleet", tags.Tags)
		}
	})
	t.Run("registered twice", func(t *testing.T) {
		_, err := c.RegisterCACertificate(ctx, &iot.RegisterCACertificateInput{CaCertificate: aws.String(ca.pem), VerificationCertificate: aws.String(ca.leaf(t, code))})
		exists := wantTyped[*types.ResourceAlreadyExistsException](t, "RegisterCACertificate(again)", err)
		if aws.ToString(exists.ResourceId) != id || aws.ToString(exists.ResourceArn) != caARN {
			t.Errorf("ResourceAlreadyExistsException names %s %s, want %s %s", aws.ToString(exists.ResourceId), aws.ToString(exists.ResourceArn), id, caARN)
		}
	})
	t.Run("refused registrations change nothing", func(t *testing.T) {
		other := newTestCA(t, "Other CA", nil)
		fresh := newTestCA(t, "Fresh CA", nil)
		expired := signCA(t, "Expired CA", newKey(t), time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
		cases := []struct {
			name string
			in   *iot.RegisterCACertificateInput
			code string
		}{
			{"wrong registration code", &iot.RegisterCACertificateInput{CaCertificate: aws.String(fresh.pem), VerificationCertificate: aws.String(fresh.leaf(t, "not-the-code"))}, "RegistrationCodeValidationException"},
			{"verification signed by another CA", &iot.RegisterCACertificateInput{CaCertificate: aws.String(fresh.pem), VerificationCertificate: aws.String(other.leaf(t, code))}, "CertificateValidationException"},
			{"no verification certificate in DEFAULT mode", &iot.RegisterCACertificateInput{CaCertificate: aws.String(fresh.pem)}, "InvalidRequestException"},
			{"a verification certificate in SNI_ONLY mode", &iot.RegisterCACertificateInput{CaCertificate: aws.String(fresh.pem), VerificationCertificate: aws.String(fresh.leaf(t, code)), CertificateMode: types.CertificateModeSniOnly}, "InvalidRequestException"},
			{"not a CA", &iot.RegisterCACertificateInput{CaCertificate: aws.String(fresh.leaf(t, "leaf")), CertificateMode: types.CertificateModeSniOnly}, "CertificateValidationException"},
			{"expired CA", &iot.RegisterCACertificateInput{CaCertificate: aws.String(expired.pem), CertificateMode: types.CertificateModeSniOnly}, "CertificateValidationException"},
			{"not PEM", &iot.RegisterCACertificateInput{CaCertificate: aws.String("garbage"), CertificateMode: types.CertificateModeSniOnly}, "CertificateValidationException"},
			{"unknown mode", &iot.RegisterCACertificateInput{CaCertificate: aws.String(fresh.pem), CertificateMode: "LOOSE"}, "InvalidRequestException"},
			{"bad template name", &iot.RegisterCACertificateInput{CaCertificate: aws.String(fresh.pem), CertificateMode: types.CertificateModeSniOnly, RegistrationConfig: &types.RegistrationConfig{TemplateName: aws.String("bad name")}}, "InvalidRequestException"},
		}
		for _, tc := range cases {
			_, err := c.RegisterCACertificate(ctx, tc.in)
			wantAPIError(t, "RegisterCACertificate("+tc.name+")", err, tc.code)
		}
		list := must[*iot.ListCACertificatesOutput](t, "ListCACertificates")(c.ListCACertificates(ctx, &iot.ListCACertificatesInput{}))
		if len(list.Certificates) != 1 {
			t.Errorf("after refused registrations: %d CAs, want 1", len(list.Certificates))
		}
	})
	sniID := ""
	t.Run("SNI_ONLY needs no verification certificate", func(t *testing.T) {
		sni := newTestCA(t, "SNI CA", nil)
		out := must[*iot.RegisterCACertificateOutput](t, "RegisterCACertificate(SNI_ONLY)")(c.RegisterCACertificate(ctx, &iot.RegisterCACertificateInput{
			CaCertificate: aws.String(sni.pem), CertificateMode: types.CertificateModeSniOnly}))
		sniID = aws.ToString(out.CertificateId)
		d := describeCA(t, c, sniID).CertificateDescription
		if d.CertificateMode != types.CertificateModeSniOnly || d.Status != types.CACertificateStatusInactive || d.AutoRegistrationStatus != types.AutoRegistrationStatusDisable {
			t.Errorf("SNI_ONLY CA = %s %s %s, want SNI_ONLY INACTIVE DISABLE", d.CertificateMode, d.Status, d.AutoRegistrationStatus)
		}
	})
	t.Run("list", func(t *testing.T) {
		all := must[*iot.ListCACertificatesOutput](t, "ListCACertificates")(c.ListCACertificates(ctx, &iot.ListCACertificatesInput{AscendingOrder: true}))
		var ids []string
		for _, x := range all.Certificates {
			ids = append(ids, aws.ToString(x.CertificateId))
		}
		if diff := cmp.Diff([]string{id, sniID}, ids); diff != "" {
			t.Errorf("ListCACertificates ascending (-want +got):\n%s", diff)
		}
		byTemplate := must[*iot.ListCACertificatesOutput](t, "ListCACertificates")(c.ListCACertificates(ctx, &iot.ListCACertificatesInput{TemplateName: aws.String("jitp-template")}))
		if len(byTemplate.Certificates) != 1 || aws.ToString(byTemplate.Certificates[0].CertificateId) != id {
			t.Errorf("ListCACertificates(templateName) = %v, want only %s", byTemplate.Certificates, id)
		}
		first := must[*iot.ListCACertificatesOutput](t, "ListCACertificates")(c.ListCACertificates(ctx, &iot.ListCACertificatesInput{PageSize: aws.Int32(1), AscendingOrder: true}))
		if !markerPattern.MatchString(aws.ToString(first.NextMarker)) {
			t.Fatalf("nextMarker = %q, want the model's marker alphabet", aws.ToString(first.NextMarker))
		}
		second := must[*iot.ListCACertificatesOutput](t, "ListCACertificates")(c.ListCACertificates(ctx, &iot.ListCACertificatesInput{PageSize: aws.Int32(1), AscendingOrder: true, Marker: first.NextMarker}))
		if len(second.Certificates) != 1 || aws.ToString(second.Certificates[0].CertificateId) != sniID || second.NextMarker != nil {
			t.Errorf("second page = %v next %v, want %s and no marker", second.Certificates, aws.ToString(second.NextMarker), sniID)
		}
	})
	t.Run("update", func(t *testing.T) {
		before := describeCA(t, c, id).CertificateDescription
		must[*iot.UpdateCACertificateOutput](t, "UpdateCACertificate")(c.UpdateCACertificate(ctx, &iot.UpdateCACertificateInput{CertificateId: aws.String(id),
			NewStatus: types.CACertificateStatusInactive, NewAutoRegistrationStatus: types.AutoRegistrationStatusDisable,
			RegistrationConfig: &types.RegistrationConfig{TemplateName: aws.String("other-template")}}))
		d := describeCA(t, c, id)
		cd := d.CertificateDescription
		if cd.Status != types.CACertificateStatusInactive || cd.AutoRegistrationStatus != types.AutoRegistrationStatusDisable ||
			aws.ToString(d.RegistrationConfig.TemplateName) != "other-template" || aws.ToInt32(cd.CustomerVersion) != 2 || aws.ToString(cd.GenerationId) == aws.ToString(before.GenerationId) {
			t.Errorf("after update: %s %s template %s v%d generation changed %v; want INACTIVE DISABLE other-template v2 true", cd.Status, cd.AutoRegistrationStatus,
				aws.ToString(d.RegistrationConfig.TemplateName), aws.ToInt32(cd.CustomerVersion), aws.ToString(cd.GenerationId) != aws.ToString(before.GenerationId))
		}
		must[*iot.UpdateCACertificateOutput](t, "UpdateCACertificate(remove)")(c.UpdateCACertificate(ctx, &iot.UpdateCACertificateInput{CertificateId: aws.String(id), RemoveAutoRegistration: true}))
		if d := describeCA(t, c, id); d.RegistrationConfig != nil {
			t.Errorf("after removeAutoRegistration: registrationConfig = %+v, want none", d.RegistrationConfig)
		}
		for name, in := range map[string]*iot.UpdateCACertificateInput{
			"bad status":         {CertificateId: aws.String(id), NewStatus: "REVOKED"},
			"bad auto status":    {CertificateId: aws.String(id), NewAutoRegistrationStatus: "MAYBE"},
			"remove and enable":  {CertificateId: aws.String(id), RemoveAutoRegistration: true, NewAutoRegistrationStatus: types.AutoRegistrationStatusEnable},
			"bad certificate id": {CertificateId: aws.String("xyz"), NewStatus: types.CACertificateStatusActive},
		} {
			_, err := c.UpdateCACertificate(ctx, in)
			wantAPIError(t, "UpdateCACertificate("+name+")", err, "InvalidRequestException")
		}
		_, err := c.UpdateCACertificate(ctx, &iot.UpdateCACertificateInput{CertificateId: aws.String(strings.Repeat("a", 64)), NewStatus: types.CACertificateStatusActive})
		wantAPIError(t, "UpdateCACertificate(missing)", err, "ResourceNotFoundException")
	})
	t.Run("delete", func(t *testing.T) {
		must[*iot.UpdateCACertificateOutput](t, "UpdateCACertificate")(c.UpdateCACertificate(ctx, &iot.UpdateCACertificateInput{CertificateId: aws.String(id), NewStatus: types.CACertificateStatusActive}))
		_, err := c.DeleteCACertificate(ctx, &iot.DeleteCACertificateInput{CertificateId: aws.String(id)})
		wantTyped[*types.CertificateStateException](t, "DeleteCACertificate(ACTIVE)", err)
		must[*iot.UpdateCACertificateOutput](t, "UpdateCACertificate")(c.UpdateCACertificate(ctx, &iot.UpdateCACertificateInput{CertificateId: aws.String(id), NewStatus: types.CACertificateStatusInactive}))
		must[*iot.DeleteCACertificateOutput](t, "DeleteCACertificate")(c.DeleteCACertificate(ctx, &iot.DeleteCACertificateInput{CertificateId: aws.String(id)}))
		_, err = c.DescribeCACertificate(ctx, &iot.DescribeCACertificateInput{CertificateId: aws.String(id)})
		wantTyped[*types.ResourceNotFoundException](t, "DescribeCACertificate(deleted)", err)
		_, err = c.DeleteCACertificate(ctx, &iot.DeleteCACertificateInput{CertificateId: aws.String(id)})
		wantTyped[*types.ResourceNotFoundException](t, "DeleteCACertificate(deleted)", err)
	})
}

func TestSDKRegisterCertificate(t *testing.T) {
	ctx := context.Background()
	c, _ := newCertClient(t)
	ca := newTestCA(t, "Device CA", nil)
	caID := registerCA(t, c, ca, true)
	devicePEM := ca.leaf(t, "device-1")

	out := must[*iot.RegisterCertificateOutput](t, "RegisterCertificate")(c.RegisterCertificate(ctx, &iot.RegisterCertificateInput{CertificatePem: aws.String(devicePEM)}))
	id := aws.ToString(out.CertificateId)
	if id != idOf(t, devicePEM) || aws.ToString(out.CertificateArn) != certARN(id) {
		t.Fatalf("RegisterCertificate = %s %s, want %s and its ARN", id, aws.ToString(out.CertificateArn), idOf(t, devicePEM))
	}
	if d := describeCert(t, c, id); aws.ToString(d.CaCertificateId) != caID || d.Status != types.CertificateStatusInactive || d.CertificateMode != types.CertificateModeDefault {
		t.Errorf("registered certificate: ca %s status %s mode %s, want %s INACTIVE DEFAULT", aws.ToString(d.CaCertificateId), d.Status, d.CertificateMode, caID)
	}

	t.Run("status and the CA certificate given", func(t *testing.T) {
		for _, tc := range []struct {
			in   *iot.RegisterCertificateInput
			want types.CertificateStatus
		}{
			{&iot.RegisterCertificateInput{SetAsActive: aws.Bool(true)}, types.CertificateStatusActive},
			{&iot.RegisterCertificateInput{Status: types.CertificateStatusRevoked, SetAsActive: aws.Bool(true)}, types.CertificateStatusRevoked},
			{&iot.RegisterCertificateInput{Status: types.CertificateStatusActive, CaCertificatePem: aws.String(ca.pem)}, types.CertificateStatusActive},
		} {
			tc.in.CertificatePem = aws.String(ca.leaf(t, "device"))
			out := must[*iot.RegisterCertificateOutput](t, "RegisterCertificate")(c.RegisterCertificate(ctx, tc.in))
			if st := describeCert(t, c, aws.ToString(out.CertificateId)).Status; st != tc.want {
				t.Errorf("RegisterCertificate(status %q, setAsActive %v) status = %s, want %s", tc.in.Status, aws.ToBool(tc.in.SetAsActive), st, tc.want)
			}
		}
		byCA := must[*iot.ListCertificatesByCAOutput](t, "ListCertificatesByCA")(c.ListCertificatesByCA(ctx, &iot.ListCertificatesByCAInput{CaCertificateId: aws.String(caID)}))
		if len(byCA.Certificates) != 4 {
			t.Errorf("ListCertificatesByCA = %d certificates, want 4", len(byCA.Certificates))
		}
	})
	t.Run("refused registrations", func(t *testing.T) {
		stranger := newTestCA(t, "Unregistered CA", nil)
		issued := must[*iot.CreateKeysAndCertificateOutput](t, "CreateKeysAndCertificate")(c.CreateKeysAndCertificate(ctx, &iot.CreateKeysAndCertificateInput{}))
		cases := []struct {
			name string
			in   *iot.RegisterCertificateInput
			code string
		}{
			{"registered twice", &iot.RegisterCertificateInput{CertificatePem: aws.String(devicePEM)}, "ResourceAlreadyExistsException"},
			{"issued here", &iot.RegisterCertificateInput{CertificatePem: issued.CertificatePem}, "ResourceAlreadyExistsException"},
			{"unregistered issuer", &iot.RegisterCertificateInput{CertificatePem: aws.String(stranger.leaf(t, "x"))}, "CertificateValidationException"},
			{"unregistered CA given", &iot.RegisterCertificateInput{CertificatePem: aws.String(stranger.leaf(t, "x")), CaCertificatePem: aws.String(stranger.pem)}, "CertificateValidationException"},
			{"CA given is not the issuer", &iot.RegisterCertificateInput{CertificatePem: aws.String(stranger.leaf(t, "x")), CaCertificatePem: aws.String(ca.pem)}, "CertificateValidationException"},
			{"expired", &iot.RegisterCertificateInput{CertificatePem: aws.String(ca.issue(t, "old", time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour)))}, "CertificateValidationException"},
			{"not PEM", &iot.RegisterCertificateInput{CertificatePem: aws.String("garbage")}, "CertificateValidationException"},
			{"status not settable", &iot.RegisterCertificateInput{CertificatePem: aws.String(ca.leaf(t, "x")), Status: types.CertificateStatusPendingTransfer}, "InvalidRequestException"},
		}
		for _, tc := range cases {
			_, err := c.RegisterCertificate(ctx, tc.in)
			wantAPIError(t, "RegisterCertificate("+tc.name+")", err, tc.code)
		}
		if _, err := c.RegisterCertificate(ctx, &iot.RegisterCertificateInput{CertificatePem: aws.String(devicePEM)}); err != nil {
			exists := wantTyped[*types.ResourceAlreadyExistsException](t, "RegisterCertificate(twice)", err)
			if aws.ToString(exists.ResourceId) != id {
				t.Errorf("ResourceAlreadyExistsException resourceId = %s, want %s", aws.ToString(exists.ResourceId), id)
			}
		}
	})
	t.Run("an inactive CA refuses registrations", func(t *testing.T) {
		inactive := newTestCA(t, "Inactive CA", nil)
		registerCA(t, c, inactive, false)
		_, err := c.RegisterCertificate(ctx, &iot.RegisterCertificateInput{CertificatePem: aws.String(inactive.leaf(t, "x"))})
		wantTyped[*types.CertificateStateException](t, "RegisterCertificate(inactive CA)", err)
	})
	t.Run("two registered CAs with the same subject and key conflict", func(t *testing.T) {
		key := newKey(t)
		a := signCA(t, "Twin CA", key, time.Now().Add(-time.Hour), time.Now().Add(time.Hour*24))
		b := signCA(t, "Twin CA", key, time.Now().Add(-time.Hour), time.Now().Add(time.Hour*48))
		registerCA(t, c, a, true)
		registerCA(t, c, b, true)
		leaf := a.leaf(t, "twin-device")
		_, err := c.RegisterCertificate(ctx, &iot.RegisterCertificateInput{CertificatePem: aws.String(leaf)})
		wantTyped[*types.CertificateConflictException](t, "RegisterCertificate(ambiguous CA)", err)
		// Naming the CA settles it.
		out := must[*iot.RegisterCertificateOutput](t, "RegisterCertificate(CA given)")(c.RegisterCertificate(ctx, &iot.RegisterCertificateInput{CertificatePem: aws.String(leaf), CaCertificatePem: aws.String(b.pem)}))
		if got := aws.ToString(describeCert(t, c, aws.ToString(out.CertificateId)).CaCertificateId); got != idOf(t, b.pem) {
			t.Errorf("caCertificateId = %s, want the CA given, %s", got, idOf(t, b.pem))
		}
	})
	t.Run("without a CA", func(t *testing.T) {
		stranger := newTestCA(t, "Anyone's CA", nil)
		leaf := stranger.leaf(t, "sni-device")
		out := must[*iot.RegisterCertificateWithoutCAOutput](t, "RegisterCertificateWithoutCA")(c.RegisterCertificateWithoutCA(ctx, &iot.RegisterCertificateWithoutCAInput{CertificatePem: aws.String(leaf)}))
		d := describeCert(t, c, aws.ToString(out.CertificateId))
		if d.CertificateMode != types.CertificateModeSniOnly || d.Status != types.CertificateStatusInactive || aws.ToString(d.CaCertificateId) != "" {
			t.Errorf("RegisterCertificateWithoutCA: mode %s status %s ca %q, want SNI_ONLY INACTIVE none", d.CertificateMode, d.Status, aws.ToString(d.CaCertificateId))
		}
		active := must[*iot.RegisterCertificateWithoutCAOutput](t, "RegisterCertificateWithoutCA")(c.RegisterCertificateWithoutCA(ctx, &iot.RegisterCertificateWithoutCAInput{
			CertificatePem: aws.String(stranger.leaf(t, "sni-2")), Status: types.CertificateStatusActive}))
		if st := describeCert(t, c, aws.ToString(active.CertificateId)).Status; st != types.CertificateStatusActive {
			t.Errorf("RegisterCertificateWithoutCA(ACTIVE) status = %s", st)
		}
		_, err := c.RegisterCertificateWithoutCA(ctx, &iot.RegisterCertificateWithoutCAInput{CertificatePem: aws.String(leaf)})
		wantTyped[*types.ResourceAlreadyExistsException](t, "RegisterCertificateWithoutCA(twice)", err)
		_, err = c.RegisterCertificateWithoutCA(ctx, &iot.RegisterCertificateWithoutCAInput{CertificatePem: aws.String(stranger.issue(t, "old", time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour)))})
		wantTyped[*types.CertificateValidationException](t, "RegisterCertificateWithoutCA(expired)", err)
		_, err = c.RegisterCertificateWithoutCA(ctx, &iot.RegisterCertificateWithoutCAInput{CertificatePem: aws.String(stranger.leaf(t, "x")), Status: "BOGUS"})
		wantAPIError(t, "RegisterCertificateWithoutCA(bad status)", err, "InvalidRequestException")
	})
}

func TestSDKUpdateCertificate(t *testing.T) {
	ctx := context.Background()
	c, _ := newCertClient(t)
	ca := newTestCA(t, "Any CA", nil)
	out := must[*iot.RegisterCertificateWithoutCAOutput](t, "RegisterCertificateWithoutCA")(c.RegisterCertificateWithoutCA(ctx, &iot.RegisterCertificateWithoutCAInput{CertificatePem: aws.String(ca.leaf(t, "d"))}))
	id := aws.ToString(out.CertificateId)
	update := func(status types.CertificateStatus) error {
		_, err := c.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(id), NewStatus: status})
		return err
	}
	version := func() (types.CertificateStatus, int32, string) {
		d := describeCert(t, c, id)
		return d.Status, aws.ToInt32(d.CustomerVersion), aws.ToString(d.GenerationId)
	}
	_, _, gen := version()
	wantVersion := int32(1)
	for _, step := range []struct {
		status  types.CertificateStatus
		code    string // "" for success
		changes bool
	}{
		{types.CertificateStatusActive, "", true},
		{types.CertificateStatusActive, "", false}, // idempotent
		{types.CertificateStatusInactive, "", true},
		{types.CertificateStatusPendingTransfer, "InvalidRequestException", false},
		{types.CertificateStatusPendingActivation, "InvalidRequestException", false},
		{types.CertificateStatusRegisterInactive, "InvalidRequestException", false},
		{"SUSPENDED", "InvalidRequestException", false},
		{types.CertificateStatusRevoked, "", true},
		{types.CertificateStatusRevoked, "", false},
		{types.CertificateStatusActive, "CertificateStateException", false},
		{types.CertificateStatusInactive, "CertificateStateException", false},
	} {
		err := update(step.status)
		if step.code == "" {
			if err != nil {
				t.Fatalf("UpdateCertificate(%s) = %v, want success", step.status, err)
			}
		} else {
			wantAPIError(t, "UpdateCertificate("+string(step.status)+")", err, step.code)
		}
		if step.changes {
			wantVersion++
		}
		st, v, g := version()
		if v != wantVersion || (g != gen) != step.changes {
			t.Errorf("after UpdateCertificate(%s): customerVersion %d, generationId changed %v; want %d, %v", step.status, v, g != gen, wantVersion, step.changes)
		}
		if step.code == "" && st != step.status {
			t.Errorf("after UpdateCertificate(%s): status %s", step.status, st)
		}
		gen = g
	}
	err := update(types.CertificateStatusActive)
	wantTyped[*types.CertificateStateException](t, "UpdateCertificate(REVOKED to ACTIVE)", err)
	_, err = c.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(strings.Repeat("0", 64)), NewStatus: types.CertificateStatusActive})
	wantTyped[*types.ResourceNotFoundException](t, "UpdateCertificate(missing)", err)
	_, err = c.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String("short"), NewStatus: types.CertificateStatusActive})
	wantAPIError(t, "UpdateCertificate(bad id)", err, "InvalidRequestException")
	_, err = c.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(strings.Repeat("0", 64))})
	wantTyped[*types.ResourceNotFoundException](t, "DescribeCertificate(missing)", err)
	_, err = c.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String("not-hex")})
	wantAPIError(t, "DescribeCertificate(bad id)", err, "InvalidRequestException")
}

func TestSDKDeleteCertificate(t *testing.T) {
	ctx := context.Background()
	c, _ := newCertClient(t)
	out := must[*iot.CreateKeysAndCertificateOutput](t, "CreateKeysAndCertificate")(c.CreateKeysAndCertificate(ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: true}))
	id, arn := aws.ToString(out.CertificateId), aws.ToString(out.CertificateArn)
	del := func(force bool) error {
		_, err := c.DeleteCertificate(ctx, &iot.DeleteCertificateInput{CertificateId: aws.String(id), ForceDelete: force})
		return err
	}
	must[*iot.CreateThingOutput](t, "CreateThing")(c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("holder")}))
	must[*iot.AttachThingPrincipalOutput](t, "AttachThingPrincipal")(c.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String("holder"), Principal: aws.String(arn)}))
	must[*iot.CreatePolicyOutput](t, "CreatePolicy")(c.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String("connect"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}`)}))
	must[*iot.AttachPolicyOutput](t, "AttachPolicy")(c.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String("connect"), Target: aws.String(arn)}))

	wantTyped[*types.CertificateStateException](t, "DeleteCertificate(ACTIVE)", del(true))
	must[*iot.UpdateCertificateOutput](t, "UpdateCertificate")(c.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(id), NewStatus: types.CertificateStatusInactive}))
	wantTyped[*types.DeleteConflictException](t, "DeleteCertificate(attached to a thing, forced)", del(true))
	must[*iot.DetachThingPrincipalOutput](t, "DetachThingPrincipal")(c.DetachThingPrincipal(ctx, &iot.DetachThingPrincipalInput{ThingName: aws.String("holder"), Principal: aws.String(arn)}))
	wantTyped[*types.DeleteConflictException](t, "DeleteCertificate(policy attached)", del(false))
	describeCert(t, c, id) // still there
	if err := del(true); err != nil {
		t.Fatalf("DeleteCertificate(forceDelete) = %v, want success", err)
	}
	_, err := c.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
	wantTyped[*types.ResourceNotFoundException](t, "DescribeCertificate(deleted)", err)
	wantTyped[*types.ResourceNotFoundException](t, "DeleteCertificate(deleted)", del(false))
	targets := must[*iot.ListTargetsForPolicyOutput](t, "ListTargetsForPolicy")(c.ListTargetsForPolicy(ctx, &iot.ListTargetsForPolicyInput{PolicyName: aws.String("connect")}))
	if len(targets.Targets) != 0 {
		t.Errorf("after forceDelete the policy is still attached to %v", targets.Targets)
	}
	// With no attachment left the policy can go too.
	must[*iot.DeletePolicyOutput](t, "DeletePolicy")(c.DeletePolicy(ctx, &iot.DeletePolicyInput{PolicyName: aws.String("connect")}))

	plain := must[*iot.CreateKeysAndCertificateOutput](t, "CreateKeysAndCertificate")(c.CreateKeysAndCertificate(ctx, &iot.CreateKeysAndCertificateInput{}))
	must[*iot.DeleteCertificateOutput](t, "DeleteCertificate(inactive, unattached)")(c.DeleteCertificate(ctx, &iot.DeleteCertificateInput{CertificateId: plain.CertificateId}))
}

func TestSDKListCertificates(t *testing.T) {
	ctx := context.Background()
	c, _ := newCertClient(t)
	ca := newTestCA(t, "List CA", nil)
	const n = 7
	var want []string
	for i := range n {
		out := must[*iot.RegisterCertificateWithoutCAOutput](t, "RegisterCertificateWithoutCA")(c.RegisterCertificateWithoutCA(ctx, &iot.RegisterCertificateWithoutCAInput{
			CertificatePem: aws.String(ca.leaf(t, "device")), Status: []types.CertificateStatus{types.CertificateStatusActive, types.CertificateStatusInactive}[i%2]}))
		want = append(want, aws.ToString(out.CertificateId))
		time.Sleep(2 * time.Millisecond) // distinct creation dates, so the order is the creation order
	}
	page := func(ascending bool, size int32) []types.Certificate {
		t.Helper()
		var all []types.Certificate
		var marker *string
		for range n + 1 {
			out := must[*iot.ListCertificatesOutput](t, "ListCertificates")(c.ListCertificates(ctx, &iot.ListCertificatesInput{AscendingOrder: ascending, PageSize: aws.Int32(size), Marker: marker}))
			if len(out.Certificates) > int(size) {
				t.Fatalf("page of %d certificates, want at most %d", len(out.Certificates), size)
			}
			all = append(all, out.Certificates...)
			if out.NextMarker == nil {
				return all
			}
			if !markerPattern.MatchString(aws.ToString(out.NextMarker)) {
				t.Fatalf("nextMarker %q does not match the model's pattern", aws.ToString(out.NextMarker))
			}
			marker = out.NextMarker
		}
		t.Fatalf("ListCertificates never ended")
		return nil
	}
	ids := func(certs []types.Certificate) []string {
		var out []string
		for _, x := range certs {
			out = append(out, aws.ToString(x.CertificateId))
		}
		return out
	}
	asc := page(true, 3)
	if diff := cmp.Diff(want, ids(asc)); diff != "" {
		t.Errorf("ascending pages of 3 (-want +got):\n%s", diff)
	}
	desc := page(false, 2)
	reversed := slices.Clone(want)
	slices.Reverse(reversed)
	if diff := cmp.Diff(reversed, ids(desc)); diff != "" {
		t.Errorf("default (newest first) pages of 2 (-want +got):\n%s", diff)
	}
	if x := asc[0]; aws.ToString(x.CertificateArn) != certARN(want[0]) || x.Status != types.CertificateStatusActive || x.CertificateMode != types.CertificateModeSniOnly || x.CreationDate == nil {
		t.Errorf("list item = %+v, want its ARN, ACTIVE, SNI_ONLY and a creation date", x)
	}
	all := must[*iot.ListCertificatesOutput](t, "ListCertificates")(c.ListCertificates(ctx, &iot.ListCertificatesInput{}))
	if len(all.Certificates) != n || all.NextMarker != nil {
		t.Errorf("ListCertificates() = %d certificates, marker %v; want %d in one page", len(all.Certificates), all.NextMarker, n)
	}
	byCA := must[*iot.ListCertificatesByCAOutput](t, "ListCertificatesByCA")(c.ListCertificatesByCA(ctx, &iot.ListCertificatesByCAInput{CaCertificateId: aws.String(idOf(t, ca.pem))}))
	if len(byCA.Certificates) != 0 {
		t.Errorf("ListCertificatesByCA(unregistered CA) = %d certificates, want none: certificates registered without a CA have none", len(byCA.Certificates))
	}
	for name, in := range map[string]*iot.ListCertificatesInput{
		"page size 251": {PageSize: aws.Int32(251)},
		"bad marker":    {Marker: aws.String("bm90IG91cnM=")},
	} {
		_, err := c.ListCertificates(ctx, in)
		wantAPIError(t, "ListCertificates("+name+")", err, "InvalidRequestException")
	}
	_, err := c.ListCertificatesByCA(ctx, &iot.ListCertificatesByCAInput{CaCertificateId: aws.String("nope")})
	wantAPIError(t, "ListCertificatesByCA(bad id)", err, "InvalidRequestException")
}

func TestSDKThingPrincipals(t *testing.T) {
	ctx := context.Background()
	c, _ := newCertClient(t)
	ca := newTestCA(t, "Principal CA", nil)
	newCert := func() string {
		out := must[*iot.RegisterCertificateWithoutCAOutput](t, "RegisterCertificateWithoutCA")(c.RegisterCertificateWithoutCA(ctx, &iot.RegisterCertificateWithoutCAInput{CertificatePem: aws.String(ca.leaf(t, "p"))}))
		return aws.ToString(out.CertificateArn)
	}
	for _, name := range []string{"thing-a", "thing-b", "thing-c"} {
		must[*iot.CreateThingOutput](t, "CreateThing")(c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(name)}))
	}
	attach := func(thing, principal string, typ types.ThingPrincipalType) error {
		_, err := c.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String(thing), Principal: aws.String(principal), ThingPrincipalType: typ})
		return err
	}
	detach := func(thing, principal string) {
		t.Helper()
		must[*iot.DetachThingPrincipalOutput](t, "DetachThingPrincipal")(c.DetachThingPrincipal(ctx, &iot.DetachThingPrincipalInput{ThingName: aws.String(thing), Principal: aws.String(principal)}))
	}
	// collect pages through a listing one item at a time.
	collect := func(list func(token *string) ([]string, *string)) []string {
		got := []string{}
		var token *string
		for {
			var items []string
			items, token = list(token)
			got = append(got, items...)
			if token == nil {
				return got
			}
		}
	}
	thingPrincipals := func(thing string) []string {
		t.Helper()
		return collect(func(token *string) ([]string, *string) {
			out := must[*iot.ListThingPrincipalsOutput](t, "ListThingPrincipals")(c.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String(thing), MaxResults: aws.Int32(1), NextToken: token}))
			return out.Principals, out.NextToken
		})
	}
	principalThings := func(principal string) []string {
		t.Helper()
		return collect(func(token *string) ([]string, *string) {
			out := must[*iot.ListPrincipalThingsOutput](t, "ListPrincipalThings")(c.ListPrincipalThings(ctx, &iot.ListPrincipalThingsInput{Principal: aws.String(principal), MaxResults: aws.Int32(1), NextToken: token}))
			return out.Things, out.NextToken
		})
	}
	p1, p2 := newCert(), newCert()
	cognito := "us-east-1:0f9e8d7c-6b5a-4321-9876-0123456789ab"

	t.Run("attach, list both ways, detach", func(t *testing.T) {
		for _, tp := range [][2]string{{"thing-a", p1}, {"thing-a", p2}, {"thing-b", p1}, {"thing-a", cognito}, {"thing-a", p1}} {
			if err := attach(tp[0], tp[1], ""); err != nil {
				t.Fatalf("AttachThingPrincipal(%s, %s) = %v", tp[0], tp[1], err)
			}
		}
		want := []string{p1, p2, cognito}
		slices.Sort(want)
		if diff := cmp.Diff(want, thingPrincipals("thing-a")); diff != "" {
			t.Errorf("ListThingPrincipals(thing-a) (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"thing-a", "thing-b"}, principalThings(p1)); diff != "" {
			t.Errorf("ListPrincipalThings(p1) (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"thing-a"}, principalThings(cognito)); diff != "" {
			t.Errorf("ListPrincipalThings(cognito) (-want +got):\n%s", diff)
		}
		detach("thing-a", p1)
		detach("thing-a", p1) // idempotent
		detach("thing-a", cognito)
		if diff := cmp.Diff([]string{p2}, thingPrincipals("thing-a")); diff != "" {
			t.Errorf("after detach, ListThingPrincipals(thing-a) (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"thing-b"}, principalThings(p1)); diff != "" {
			t.Errorf("after detach, ListPrincipalThings(p1) (-want +got):\n%s", diff)
		}
		if got := thingPrincipals("thing-c"); len(got) != 0 {
			t.Errorf("ListThingPrincipals(thing-c) = %v, want []", got)
		}
	})
	t.Run("EXCLUSIVE_THING", func(t *testing.T) {
		p3 := newCert()
		if err := attach("thing-c", p3, types.ThingPrincipalTypeExclusiveThing); err != nil {
			t.Fatalf("AttachThingPrincipal(exclusive) = %v", err)
		}
		if err := attach("thing-c", p3, types.ThingPrincipalTypeExclusiveThing); err != nil {
			t.Errorf("AttachThingPrincipal(exclusive, again) = %v, want success", err)
		}
		wantAPIError(t, "AttachThingPrincipal(exclusively attached elsewhere)", attach("thing-b", p3, ""), "InvalidRequestException")
		wantAPIError(t, "AttachThingPrincipal(exclusive while attached elsewhere)", attach("thing-c", p1, types.ThingPrincipalTypeExclusiveThing), "InvalidRequestException")
		if diff := cmp.Diff([]string{"thing-c"}, principalThings(p3)); diff != "" {
			t.Errorf("refused attachments changed ListPrincipalThings(p3) (-want +got):\n%s", diff)
		}
		detach("thing-c", p3)
		if err := attach("thing-b", p3, ""); err != nil {
			t.Errorf("AttachThingPrincipal after the exclusive attachment ended = %v, want success", err)
		}
		wantAPIError(t, "AttachThingPrincipal(bad type)", attach("thing-b", p3, "SOMETIMES"), "InvalidRequestException")
	})
	t.Run("errors", func(t *testing.T) {
		missingCert := certARN(strings.Repeat("a", 64))
		wantAPIError(t, "AttachThingPrincipal(missing thing)", attach("no-such-thing", p1, ""), "ResourceNotFoundException")
		wantAPIError(t, "AttachThingPrincipal(missing certificate)", attach("thing-a", missingCert, ""), "ResourceNotFoundException")
		wantAPIError(t, "AttachThingPrincipal(other account)", attach("thing-a", strings.Replace(p1, testAccountID, "210987654321", 1), ""), "ResourceNotFoundException")
		for _, bad := range []string{"not-an-arn", strings.TrimPrefix(p1, "arn:aws:iot:us-east-1:123456789012:cert/"), "arn:aws:iot:us-east-1:123456789012:thing/thing-a"} {
			wantAPIError(t, "AttachThingPrincipal("+bad+")", attach("thing-a", bad, ""), "InvalidRequestException")
		}
		_, err := c.DetachThingPrincipal(ctx, &iot.DetachThingPrincipalInput{ThingName: aws.String("no-such-thing"), Principal: aws.String(p1)})
		wantAPIError(t, "DetachThingPrincipal(missing thing)", err, "ResourceNotFoundException")
		_, err = c.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String("no-such-thing")})
		wantAPIError(t, "ListThingPrincipals(missing thing)", err, "ResourceNotFoundException")
		_, err = c.ListPrincipalThings(ctx, &iot.ListPrincipalThingsInput{Principal: aws.String(missingCert)})
		wantAPIError(t, "ListPrincipalThings(missing certificate)", err, "ResourceNotFoundException")
		_, err = c.ListPrincipalThings(ctx, &iot.ListPrincipalThingsInput{Principal: aws.String("garbage")})
		wantAPIError(t, "ListPrincipalThings(garbage)", err, "InvalidRequestException")
		_, err = c.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String("thing-a"), MaxResults: aws.Int32(251)})
		wantAPIError(t, "ListThingPrincipals(maxResults 251)", err, "InvalidRequestException")
	})
	t.Run("a thing with principals cannot be deleted", func(t *testing.T) {
		_, err := c.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("thing-b")})
		wantAPIError(t, "DeleteThing(principals attached)", err, "InvalidRequestException")
		must[*iot.DescribeThingOutput](t, "DescribeThing")(c.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String("thing-b")}))
		for _, p := range thingPrincipals("thing-b") {
			detach("thing-b", p)
		}
		must[*iot.DeleteThingOutput](t, "DeleteThing")(c.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("thing-b")}))
	})
}
