package sim

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/smithy-go"
)

// Provisioner registers devices in bulk: for each name a thing (an existing
// one is used as it is), a key pair and an active certificate, the policy
// and the thing attached to the certificate, the thing added to a group,
// and the device's folder under Dir. It is safe to run again with the same
// Dir: complete folders are skipped, and a folder left half-written by an
// interrupted run is finished with the certificate it already holds.
type Provisioner struct {
	// API is the AWS IoT client; its retryer handles throttling.
	API *iot.Client
	// Names are the things to provision; Attributes[i] is dealt out by
	// index into Names.
	Names      []string
	Attributes Attributes
	// ThingType, Group and Policy are optional: without a policy the
	// certificates can connect to nothing on a server that enforces them.
	ThingType, Group, Policy string
	// Dir holds one folder per device.
	Dir string
	// Concurrency is how many devices are provisioned at once (default 16).
	Concurrency int
	// CAPEM is written to each folder as AmazonRootCA1.pem, the anchor
	// devices verify the server with; nil writes none (devices then trust
	// the system's roots, right for AWS IoT Core).
	CAPEM []byte
	// Endpoint is the MQTT endpoint host[:port] written to config.json;
	// empty asks DescribeEndpoint (iot:Data-ATS).
	Endpoint string
	// CSR makes each device's key here (ECDSA P-256) and has the certificate
	// issued from a CSR (CreateCertificateFromCsr): the private key never
	// travels. Otherwise CreateKeysAndCertificate makes both (RSA 2048 on
	// AWS and iotdm), which costs the server a key generation per device.
	CSR bool

	done, created, skipped, failed atomic.Int64
}

// Progress is a snapshot of a run.
type Progress struct {
	Total, Done, Created, Skipped, Failed int
}

// Progress returns the counts so far; it may be called while Run runs.
func (p *Provisioner) Progress() Progress {
	return Progress{Total: len(p.Names), Done: int(p.done.Load()), Created: int(p.created.Load()),
		Skipped: int(p.skipped.Load()), Failed: int(p.failed.Load())}
}

// Report is the outcome of a run.
type Report struct {
	Total int
	// Created devices got their folder in this run; of them, Existing
	// used a thing that was already registered and Resumed finished a
	// folder an earlier run had left with a certificate.
	Created, Existing, Resumed int
	// Skipped devices had a complete folder already.
	Skipped int
	Failed  []Failure
	// NotAttempted devices were left when the run was interrupted.
	NotAttempted int
	Elapsed      time.Duration
	Endpoint     string
}

// Failure is a device that could not be provisioned.
type Failure struct {
	Thing string
	Step  string // the operation that failed, e.g. CreateThing
	Err   error
}

func (f Failure) Error() string { return fmt.Sprintf("%s: %s: %v", f.Thing, f.Step, f.Err) }

// Reason is the failure without the thing's name, for grouping: the
// operation and the AWS error code and message.
func (f Failure) Reason() string {
	var ae smithy.APIError
	if errors.As(f.Err, &ae) {
		return fmt.Sprintf("%s: %s: %s", f.Step, ae.ErrorCode(), ae.ErrorMessage())
	}
	return fmt.Sprintf("%s: %v", f.Step, f.Err)
}

// Rate is the devices created per second.
func (r *Report) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Created) / r.Elapsed.Seconds()
}

// Check verifies what the run needs before it touches anything: the output
// folder, the policy, the thing type, the group (static) and the endpoint.
// Run calls it first.
func (p *Provisioner) Check(ctx context.Context) error {
	if p.API == nil {
		return errors.New("no AWS IoT client")
	}
	if p.Dir == "" {
		return errors.New("no output directory")
	}
	if len(p.Names) > 0 && slices.ContainsFunc(p.Names, func(n string) bool { return n == "" || filepath.Base(n) != n || strings.HasPrefix(n, ".") }) {
		return errors.New("thing names must be plain, non-empty file names")
	}
	if p.Policy != "" {
		if _, err := p.API.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String(p.Policy)}); err != nil {
			return fmt.Errorf("policy %s: %w", p.Policy, apiErr(err))
		}
	}
	if p.ThingType != "" {
		out, err := p.API.DescribeThingType(ctx, &iot.DescribeThingTypeInput{ThingTypeName: aws.String(p.ThingType)})
		if err != nil {
			return fmt.Errorf("thing type %s: %w", p.ThingType, apiErr(err))
		}
		if m := out.ThingTypeMetadata; m != nil && m.Deprecated {
			return fmt.Errorf("thing type %s is deprecated: no thing can be created with it", p.ThingType)
		}
	}
	if p.Group != "" {
		out, err := p.API.DescribeThingGroup(ctx, &iot.DescribeThingGroupInput{ThingGroupName: aws.String(p.Group)})
		if err != nil {
			return fmt.Errorf("thing group %s: %w", p.Group, apiErr(err))
		}
		if aws.ToString(out.QueryString) != "" {
			return fmt.Errorf("thing group %s is dynamic (%s): things cannot be added to it", p.Group, aws.ToString(out.QueryString))
		}
	}
	if p.Endpoint == "" {
		out, err := p.API.DescribeEndpoint(ctx, &iot.DescribeEndpointInput{EndpointType: aws.String("iot:Data-ATS")})
		if err != nil {
			return fmt.Errorf("describe endpoint: %w", apiErr(err))
		}
		p.Endpoint = aws.ToString(out.EndpointAddress)
	}
	if _, _, err := SplitEndpoint(p.Endpoint); err != nil {
		return err
	}
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		return fmt.Errorf("create output directory: %w", err)
	}
	return nil
}

// Run provisions every name with bounded concurrency. It returns an error
// only when the run could not start (see Check); devices that fail are in
// the report, and so is an interruption by ctx.
func (p *Provisioner) Run(ctx context.Context) (*Report, error) {
	start := time.Now()
	if err := p.Check(ctx); err != nil {
		return nil, err
	}
	workers := p.Concurrency
	if workers <= 0 {
		workers = 16
	}
	workers = min(workers, max(1, len(p.Names)))
	rep := &Report{Total: len(p.Names), Endpoint: p.Endpoint}
	var (
		mu   sync.Mutex
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(p.Names) {
					return
				}
				o, f := p.one(ctx, i)
				mu.Lock()
				switch {
				case f != nil:
					rep.Failed = append(rep.Failed, *f)
					p.failed.Add(1)
				case o.skipped:
					rep.Skipped++
					p.skipped.Add(1)
				default:
					rep.Created++
					if o.existing {
						rep.Existing++
					}
					if o.resumed {
						rep.Resumed++
					}
					p.created.Add(1)
				}
				mu.Unlock()
				p.done.Add(1)
			}
		})
	}
	wg.Wait()
	rep.NotAttempted = rep.Total - rep.Created - rep.Skipped - len(rep.Failed)
	slices.SortFunc(rep.Failed, func(a, b Failure) int { return strings.Compare(a.Thing, b.Thing) })
	rep.Elapsed = time.Since(start)
	return rep, nil
}

type outcome struct{ skipped, existing, resumed bool }

// one provisions device i. Every step is idempotent or resumable, and
// config.json is written last.
func (p *Provisioner) one(ctx context.Context, i int) (outcome, *Failure) {
	var o outcome
	name := p.Names[i]
	dir := filepath.Join(p.Dir, name)
	fail := func(step string, err error) (outcome, *Failure) {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("interrupted: %w", err)
		}
		return o, &Failure{Thing: name, Step: step, Err: err}
	}
	if complete(dir) {
		o.skipped = true
		return o, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fail("create folder", err)
	}
	attrs := p.Attributes.For(i)
	in := &iot.CreateThingInput{ThingName: aws.String(name)}
	if p.ThingType != "" {
		in.ThingTypeName = aws.String(p.ThingType)
	}
	if len(attrs) > 0 {
		in.AttributePayload = &types.AttributePayload{Attributes: attrs}
	}
	if _, err := p.API.CreateThing(ctx, in); err != nil {
		// AWS: CreateThing of an existing name with another configuration
		// is ResourceAlreadyExistsException; the thing is used as it is.
		var exists *types.ResourceAlreadyExistsException
		if !errors.As(err, &exists) {
			return fail("CreateThing", err)
		}
		o.existing = true
		out, err := p.API.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(name)})
		if err != nil {
			return fail("DescribeThing", err)
		}
		attrs = out.Attributes
	}
	certID, certARN, err := p.resumeCertificate(ctx, dir)
	if err != nil {
		return fail("DescribeCertificate", err)
	}
	o.resumed = certARN != ""
	if certARN == "" {
		step := "CreateKeysAndCertificate"
		if p.CSR {
			step = "CreateCertificateFromCsr"
		}
		if certID, certARN, err = p.newCertificate(ctx, dir); err != nil {
			return fail(step, err)
		}
	}
	if p.CAPEM != nil {
		if err := writeFileAtomic(filepath.Join(dir, RootCAFile), p.CAPEM, 0o644); err != nil {
			return fail("write root CA", err)
		}
	}
	if p.Policy != "" {
		// AWS: attaching an attached policy again succeeds.
		if _, err := p.API.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(p.Policy), Target: aws.String(certARN)}); err != nil {
			return fail("AttachPolicy", err)
		}
	}
	if _, err := p.API.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String(name), Principal: aws.String(certARN)}); err != nil {
		return fail("AttachThingPrincipal", err)
	}
	if p.Group != "" {
		if _, err := p.API.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{ThingGroupName: aws.String(p.Group), ThingName: aws.String(name)}); err != nil {
			return fail("AddThingToThingGroup", err)
		}
	}
	host, port, _ := SplitEndpoint(p.Endpoint)
	cfg := DeviceConfig{ThingName: name, ClientID: name, Endpoint: host, Port: port,
		CertificateID: certID, CertificateARN: certARN, Certificate: CertificateFile, PrivateKey: PrivateKeyFile,
		Attributes: attrs, Topics: TopicsFor(name)}
	if p.CAPEM != nil {
		cfg.RootCA = RootCAFile
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fail("write config", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, ConfigFile), append(b, '\n'), 0o644); err != nil {
		return fail("write config", err)
	}
	return o, nil
}

// resumeCertificate returns the id and ARN of the certificate an earlier,
// interrupted run left in dir with its key, if the server still has it
// ACTIVE; empty strings when there is none to resume.
func (p *Provisioner) resumeCertificate(ctx context.Context, dir string) (id, arn string, err error) {
	certPEM, err1 := os.ReadFile(filepath.Join(dir, CertificateFile))
	keyPEM, err2 := os.ReadFile(filepath.Join(dir, PrivateKeyFile))
	if err1 != nil || err2 != nil {
		return "", "", nil
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil || len(pair.Certificate) == 0 {
		return "", "", nil // a torn pair: make a new one
	}
	// AWS: the certificate id is the SHA-256 fingerprint of the DER.
	sum := sha256.Sum256(pair.Certificate[0])
	id = hex.EncodeToString(sum[:])
	out, err := p.API.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return "", "", nil
	}
	if err != nil {
		return "", "", err
	}
	d := out.CertificateDescription
	if d == nil || d.Status != types.CertificateStatusActive {
		return "", "", nil
	}
	return id, aws.ToString(d.CertificateArn), nil
}

// newCertificate makes a key pair and an active certificate and writes
// both to dir, the key first.
func (p *Provisioner) newCertificate(ctx context.Context, dir string) (id, arn string, err error) {
	var certPEM, keyPEM string
	if p.CSR {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return "", "", err
		}
		der, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return "", "", err
		}
		keyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
		csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
			Subject: pkix.Name{CommonName: filepath.Base(dir)}}, key)
		if err != nil {
			return "", "", err
		}
		out, err := p.API.CreateCertificateFromCsr(ctx, &iot.CreateCertificateFromCsrInput{SetAsActive: true,
			CertificateSigningRequest: aws.String(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr})))})
		if err != nil {
			return "", "", err
		}
		id, arn, certPEM = aws.ToString(out.CertificateId), aws.ToString(out.CertificateArn), aws.ToString(out.CertificatePem)
	} else {
		out, err := p.API.CreateKeysAndCertificate(ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: true})
		if err != nil {
			return "", "", err
		}
		if out.KeyPair == nil {
			return "", "", errors.New("no key pair in the answer")
		}
		id, arn, certPEM, keyPEM = aws.ToString(out.CertificateId), aws.ToString(out.CertificateArn),
			aws.ToString(out.CertificatePem), aws.ToString(out.KeyPair.PrivateKey)
	}
	if err := writeFileAtomic(filepath.Join(dir, PrivateKeyFile), []byte(keyPEM), 0o600); err != nil {
		return "", "", fmt.Errorf("write private key: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, CertificateFile), []byte(certPEM), 0o644); err != nil {
		return "", "", fmt.Errorf("write certificate: %w", err)
	}
	return id, arn, nil
}

// apiErr shortens an SDK error to the service's code and message.
func apiErr(err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return fmt.Errorf("%s: %s", ae.ErrorCode(), ae.ErrorMessage())
	}
	return err
}
