package control

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/pki"
)

// ProvisioningOptions configures a FleetProvisioning.
type ProvisioningOptions struct {
	Region    string // e.g. us-east-1; used in ARNs and AWS::Region
	AccountID string // 12 digits; used in ARNs and AWS::AccountId
	Logger    *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// HookClient sends pre-provisioning hook requests; nil means a plain
	// client. Every request is bounded by HookTimeout.
	HookClient *http.Client
	// HookTimeout bounds a pre-provisioning hook call; zero means AWS's 5
	// seconds (a hook that does not answer in time refuses provisioning).
	HookTimeout time.Duration
	// TokenTTL is how long a certificate ownership token is valid; zero
	// means AWS's hour. A certificate created over MQTT and still
	// PENDING_ACTIVATION when its token expires is deleted.
	TokenTTL time.Duration
	// MaxTemplates caps the number of provisioning templates
	// (LimitExceededException beyond it); zero means DefaultMaxTemplates.
	MaxTemplates int
}

// DefaultMaxTemplates is AWS's quota of provisioning templates per
// account and region.
const DefaultMaxTemplates = 256

// Defaults and limits of provisioning (AWS §5.4 and the model).
const (
	defaultHookTimeout          = 5 * time.Second
	defaultTokenTTL             = time.Hour
	maxProvTemplateVersions     = 5 // AWS: VersionsLimitExceededException beyond 5
	maxProvTemplateDescription  = 500
	hookPayloadVersion          = "2020-04-01" // the only payload version of the hook
	provTemplateARNResource     = "provisioningtemplate"
	provTemplateListName        = "provisioningtemplates"
	provTemplateVersionListName = "provisioningtemplateversions"
	tokenSweepInterval          = time.Minute
	provTemplateCacheSize       = 64
)

var (
	provTemplateDescriptionPattern = regexp.MustCompile(`^[^\p{C}]*$`) // TemplateDescription
	payloadVersionPattern          = regexp.MustCompile(`^[0-9-]{10,32}$`)
	lambdaARNPattern               = regexp.MustCompile(`^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9$_-]+)?$`)
)

func init() {
	// Provisioning templates carry tags in their stored record.
	taggableKinds[provTemplateARNResource] = iotdm.KindProvisioningTemplate
}

// FleetProvisioning is provisioning (AWS §5.4) on an iotdm.Store: the
// control plane of provisioning templates (iotdm.ProvisioningTemplates),
// fleet provisioning by claim over MQTT (HandleMQTT) and just-in-time
// provisioning of certificates signed by a registered CA (JITP). It applies
// a template in one transaction: the certificate's status, the policies and
// their attachment, the thing, its groups and its principal commit together
// or not at all.
type FleetProvisioning struct {
	r     *Registry
	certs *Certificates
	pols  *Policies
	ca    *pki.CA
	opts  ProvisioningOptions
	log   *slog.Logger
	pub   publisherSlot
	// hookClient posts to pre-provisioning hooks.
	hookClient *http.Client

	lastSweep     atomic.Int64 // unix nanoseconds of the last sweep of expired tokens
	broadcastOnce sync.Once    // the warning that replies are not per connection

	cacheMu sync.Mutex
	cache   map[[sha256.Size]byte]*ProvisioningTemplate // parsed bodies
}

var _ iotdm.ProvisioningTemplates = (*FleetProvisioning)(nil)

// NewFleetProvisioning returns the provisioning service over store, issuing
// device certificates with ca.
func NewFleetProvisioning(store iotdm.Store, ca *pki.CA, opts ProvisioningOptions) *FleetProvisioning {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.HookTimeout = cmp.Or(opts.HookTimeout, defaultHookTimeout)
	opts.TokenTTL = cmp.Or(opts.TokenTTL, defaultTokenTTL)
	opts.MaxTemplates = cmp.Or(opts.MaxTemplates, DefaultMaxTemplates)
	client := opts.HookClient
	if client == nil {
		client = &http.Client{}
	}
	r := NewRegistry(store, RegistryOptions{Region: opts.Region, AccountID: opts.AccountID, Logger: opts.Logger, Now: opts.Now})
	return &FleetProvisioning{
		r:          r,
		certs:      NewCertificates(store, ca, CertificatesOptions{Region: opts.Region, AccountID: opts.AccountID, Logger: opts.Logger, Now: opts.Now}),
		pols:       NewPolicies(store, PoliciesOptions{Region: opts.Region, AccountID: opts.AccountID, Logger: opts.Logger, Now: opts.Now}),
		ca:         ca,
		opts:       opts,
		log:        opts.Logger.With("component", "provisioning"),
		hookClient: client,
		cache:      map[[sha256.Size]byte]*ProvisioningTemplate{},
	}
}

// parse parses a template body, from the cache when it was parsed before.
func (p *FleetProvisioning) parse(body string) (*ProvisioningTemplate, error) {
	key := sha256.Sum256([]byte(body))
	p.cacheMu.Lock()
	pt, ok := p.cache[key]
	p.cacheMu.Unlock()
	if ok {
		return pt, nil
	}
	pt, err := ParseProvisioningTemplate(body)
	if err != nil {
		return nil, err
	}
	p.cacheMu.Lock()
	if len(p.cache) >= provTemplateCacheSize {
		clear(p.cache)
	}
	p.cache[key] = pt
	p.cacheMu.Unlock()
	return pt, nil
}

// --- validation ---

func validateProvTemplateName(name string) error {
	switch {
	case name == "":
		return invalid("templateName must not be empty")
	case len(name) > maxTemplateNameLen:
		return invalid("1 validation error detected: Value '%s' at 'templateName' failed to satisfy constraint: Member must have length less than or equal to %d", name, maxTemplateNameLen)
	case !templateNamePattern.MatchString(name):
		return invalid("1 validation error detected: Value '%s' at 'templateName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[0-9A-Za-z_-]+$", name)
	}
	return nil
}

func validateProvTemplateDescription(d string) error {
	if len([]rune(d)) > maxProvTemplateDescription {
		return invalid("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to %d", maxProvTemplateDescription)
	}
	if !provTemplateDescriptionPattern.MatchString(d) {
		return invalid("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must satisfy regular expression pattern: [^\\p{C}]*")
	}
	return nil
}

func validateRoleARN(arn string) error {
	if len(arn) < minRoleARNLen || len(arn) > maxRoleARNLen {
		return invalid("1 validation error detected: Value '%s' at 'provisioningRoleArn' failed to satisfy constraint: Member must have length between %d and %d", arn, minRoleARNLen, maxRoleARNLen)
	}
	return nil
}

// validateTemplateBody checks a template body's length and parses it.
func (p *FleetProvisioning) validateTemplateBody(body string) error {
	if body == "" {
		return invalid("templateBody must not be empty")
	}
	if len(body) > maxProvisioningBody {
		return invalid("1 validation error detected: Value at 'templateBody' failed to satisfy constraint: Member must have length less than or equal to %d", maxProvisioningBody)
	}
	_, err := p.parse(body)
	return err
}

// normalizeHook checks a pre-provisioning hook and fills in its payload
// version. The target is a Lambda function ARN, as on AWS (iotdm cannot
// invoke it, and refuses provisioning through it), or an http(s) URL that
// iotdm POSTs the hook's payload to.
func normalizeHook(h *iotdm.ProvisioningHook, typ string) (*iotdm.ProvisioningHook, error) {
	if h == nil {
		return nil, nil
	}
	if typ == iotdm.TemplateTypeJITP {
		return nil, invalid("A pre-provisioning hook can only be set on a template of type FLEET_PROVISIONING")
	}
	out := *h
	switch {
	case out.TargetARN == "":
		return nil, invalid("preProvisioningHook.targetArn must not be empty")
	case len(out.TargetARN) > maxRoleARNLen:
		return nil, invalid("1 validation error detected: Value at 'preProvisioningHook.targetArn' failed to satisfy constraint: Member must have length less than or equal to %d", maxRoleARNLen)
	case !lambdaARNPattern.MatchString(out.TargetARN) && !hookURL(out.TargetARN):
		return nil, invalid("Invalid preProvisioningHook.targetArn %s: it must be the ARN of a Lambda function or, in iotdm, an http or https URL", out.TargetARN)
	}
	if out.PayloadVersion == "" {
		out.PayloadVersion = hookPayloadVersion
	}
	if !payloadVersionPattern.MatchString(out.PayloadVersion) {
		return nil, invalid("1 validation error detected: Value '%s' at 'preProvisioningHook.payloadVersion' failed to satisfy constraint: Member must have length between 10 and 32 and satisfy regular expression pattern: ^[0-9-]+$", out.PayloadVersion)
	}
	if out.PayloadVersion != hookPayloadVersion {
		return nil, invalid("Unsupported preProvisioningHook.payloadVersion %s; the only payload version is %s", out.PayloadVersion, hookPayloadVersion)
	}
	return &out, nil
}

// hookURL reports whether a hook target is an http(s) URL.
func hookURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func provTemplateNotFound(name string) error {
	return notFound("The provisioning template %s does not exist", name)
}

func provTemplateVersionKey(name string, id int) string { return fmt.Sprintf("%s/%010d", name, id) }

func (p *FleetProvisioning) templateARN(name string) string {
	return p.r.arn(provTemplateARNResource, name)
}

func loadProvTemplate(ctx context.Context, tx getter, name string) (*iotdm.StoredProvisioningTemplate, error) {
	t, ok, err := get[iotdm.StoredProvisioningTemplate](ctx, tx, iotdm.KindProvisioningTemplate, name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, provTemplateNotFound(name)
	}
	return t, nil
}

func loadProvTemplateVersion(ctx context.Context, tx getter, name string, id int) (*iotdm.StoredProvisioningTemplateVersion, error) {
	v, ok, err := get[iotdm.StoredProvisioningTemplateVersion](ctx, tx, iotdm.KindProvisioningTemplateVersion, provTemplateVersionKey(name, id))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound("The provisioning template %s has no version %d", name, id)
	}
	return v, nil
}

// provTemplateVersions lists a template's versions in version order.
func provTemplateVersions(ctx context.Context, tx iotdm.ReadTx, name string) ([]iotdm.StoredProvisioningTemplateVersion, error) {
	var out []iotdm.StoredProvisioningTemplateVersion
	err := scanDecode(ctx, tx, iotdm.KindProvisioningTemplateVersion, name+"/", func(_ string, v *iotdm.StoredProvisioningTemplateVersion) error {
		out = append(out, *v)
		return nil
	})
	return out, err
}

// --- the control plane ---

// CreateProvisioningTemplate creates a template whose version 1 is body.
// AWS: a name in use is a ResourceAlreadyExistsException; the template
// type cannot change later. provisioningRoleArn is required, as on AWS,
// and kept, but unused: iotdm provisions with its own authority.
func (p *FleetProvisioning) CreateProvisioningTemplate(ctx context.Context, in *iotdm.CreateProvisioningTemplateInput) (*iotdm.CreateProvisioningTemplateOutput, error) {
	if err := validateProvTemplateName(in.TemplateName); err != nil {
		return nil, err
	}
	if err := validateProvTemplateDescription(in.Description); err != nil {
		return nil, err
	}
	if in.ProvisioningRoleARN == "" {
		return nil, invalid("provisioningRoleArn must not be empty")
	}
	if err := validateRoleARN(in.ProvisioningRoleARN); err != nil {
		return nil, err
	}
	if err := oneOf("type", in.Type, true, iotdm.TemplateTypeFleetProvisioning, iotdm.TemplateTypeJITP); err != nil {
		return nil, err
	}
	typ := cmp.Or(in.Type, iotdm.TemplateTypeFleetProvisioning)
	hook, err := normalizeHook(in.PreProvisioningHook, typ)
	if err != nil {
		return nil, err
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	if err := p.validateTemplateBody(in.TemplateBody); err != nil {
		return nil, err
	}
	now := p.r.now()
	rec := iotdm.StoredProvisioningTemplate{
		TemplateName: in.TemplateName, TemplateARN: p.templateARN(in.TemplateName), Description: in.Description,
		CreationDate: now, LastModifiedDate: now, DefaultVersionID: 1, Enabled: in.Enabled,
		ProvisioningRoleARN: in.ProvisioningRoleARN, PreProvisioningHook: hook, Type: typ, LastVersionID: 1, Tags: in.Tags,
	}
	err = p.r.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		if _, ok, err := tx.Get(ctx, iotdm.KindProvisioningTemplate, in.TemplateName); err != nil {
			return err
		} else if ok {
			return &iotdm.Error{Code: iotdm.ErrResourceAlreadyExists,
				Message:    fmt.Sprintf("The provisioning template %s already exists", in.TemplateName),
				ResourceID: in.TemplateName, ResourceARN: rec.TemplateARN}
		}
		n := 0
		err := tx.Scan(ctx, iotdm.KindProvisioningTemplate, "", "", p.opts.MaxTemplates, func(string, []byte) error {
			n++
			return nil
		})
		if err != nil {
			return err
		}
		if n >= p.opts.MaxTemplates {
			return iotdm.Errorf(iotdm.ErrLimitExceeded, "An account can have at most %d provisioning templates", p.opts.MaxTemplates)
		}
		v := iotdm.StoredProvisioningTemplateVersion{TemplateName: in.TemplateName, VersionID: 1, TemplateBody: in.TemplateBody, CreationDate: now}
		if err := put(ctx, tx, iotdm.KindProvisioningTemplateVersion, provTemplateVersionKey(in.TemplateName, 1), v); err != nil {
			return err
		}
		return put(ctx, tx, iotdm.KindProvisioningTemplate, in.TemplateName, rec)
	})
	if err != nil {
		return nil, err
	}
	p.log.Info("provisioning template created", "templateName", in.TemplateName, "type", typ, "enabled", in.Enabled)
	return &iotdm.CreateProvisioningTemplateOutput{TemplateARN: rec.TemplateARN, TemplateName: in.TemplateName, DefaultVersionID: 1}, nil
}

// DescribeProvisioningTemplate returns a template with the body of its
// default version.
func (p *FleetProvisioning) DescribeProvisioningTemplate(ctx context.Context, in *iotdm.DescribeProvisioningTemplateInput) (*iotdm.DescribeProvisioningTemplateOutput, error) {
	if err := validateProvTemplateName(in.TemplateName); err != nil {
		return nil, err
	}
	var out *iotdm.DescribeProvisioningTemplateOutput
	err := p.r.view(ctx, func(ctx context.Context, tx iotdm.ReadTx) error {
		t, err := loadProvTemplate(ctx, tx, in.TemplateName)
		if err != nil {
			return err
		}
		v, err := loadProvTemplateVersion(ctx, tx, t.TemplateName, t.DefaultVersionID)
		if err != nil {
			return err
		}
		out = &iotdm.DescribeProvisioningTemplateOutput{
			TemplateARN: t.TemplateARN, TemplateName: t.TemplateName, Description: t.Description,
			CreationDate: t.CreationDate, LastModifiedDate: t.LastModifiedDate, DefaultVersionID: t.DefaultVersionID,
			TemplateBody: v.TemplateBody, Enabled: t.Enabled, ProvisioningRoleARN: t.ProvisioningRoleARN,
			PreProvisioningHook: t.PreProvisioningHook, Type: t.Type,
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListProvisioningTemplates lists the templates in name order.
func (p *FleetProvisioning) ListProvisioningTemplates(ctx context.Context, in *iotdm.ListProvisioningTemplatesInput) (*iotdm.ListProvisioningTemplatesOutput, error) {
	size, err := pageSize(in.MaxResults)
	if err != nil {
		return nil, err
	}
	after, err := decodeToken(provTemplateListName, in.NextToken)
	if err != nil {
		return nil, err
	}
	pg := pager[iotdm.ProvisioningTemplateSummary]{size: size, items: []iotdm.ProvisioningTemplateSummary{}}
	err = p.r.view(ctx, func(ctx context.Context, tx iotdm.ReadTx) error {
		return tx.Scan(ctx, iotdm.KindProvisioningTemplate, "", after, size+1, func(key string, value []byte) error {
			t, err := provDecode[iotdm.StoredProvisioningTemplate](iotdm.KindProvisioningTemplate, key, value)
			if err != nil {
				return err
			}
			if !pg.add(key, iotdm.ProvisioningTemplateSummary{TemplateARN: t.TemplateARN, TemplateName: t.TemplateName,
				Description: t.Description, CreationDate: t.CreationDate, LastModifiedDate: t.LastModifiedDate,
				Enabled: t.Enabled, Type: t.Type}) {
				return iotdm.ErrStopScan
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return &iotdm.ListProvisioningTemplatesOutput{Templates: pg.items, NextToken: pg.next(provTemplateListName)}, nil
}

// UpdateProvisioningTemplate changes a template's description, enabled
// flag, default version, role and pre-provisioning hook.
func (p *FleetProvisioning) UpdateProvisioningTemplate(ctx context.Context, in *iotdm.UpdateProvisioningTemplateInput) (*iotdm.Empty, error) {
	if err := validateProvTemplateName(in.TemplateName); err != nil {
		return nil, err
	}
	if in.Description != nil {
		if err := validateProvTemplateDescription(*in.Description); err != nil {
			return nil, err
		}
	}
	if in.ProvisioningRoleARN != nil {
		if err := validateRoleARN(*in.ProvisioningRoleARN); err != nil {
			return nil, err
		}
	}
	if in.PreProvisioningHook != nil && in.RemovePreProvisioningHook {
		return nil, invalid("preProvisioningHook and removePreProvisioningHook cannot be given together")
	}
	if in.DefaultVersionID != nil && *in.DefaultVersionID < 1 {
		return nil, invalid("Invalid defaultVersionId %d", *in.DefaultVersionID)
	}
	return p.r.write(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		t, err := loadProvTemplate(ctx, tx, in.TemplateName)
		if err != nil {
			return err
		}
		if in.DefaultVersionID != nil && *in.DefaultVersionID != t.DefaultVersionID {
			if _, err := loadProvTemplateVersion(ctx, tx, t.TemplateName, *in.DefaultVersionID); err != nil {
				return err
			}
			t.DefaultVersionID = *in.DefaultVersionID
		}
		if in.Description != nil {
			t.Description = *in.Description
		}
		if in.Enabled != nil {
			t.Enabled = *in.Enabled
		}
		if in.ProvisioningRoleARN != nil {
			t.ProvisioningRoleARN = *in.ProvisioningRoleARN
		}
		if in.PreProvisioningHook != nil {
			if t.PreProvisioningHook, err = normalizeHook(in.PreProvisioningHook, t.Type); err != nil {
				return err
			}
		}
		if in.RemovePreProvisioningHook {
			t.PreProvisioningHook = nil
		}
		t.LastModifiedDate = p.r.now()
		return put(ctx, tx, iotdm.KindProvisioningTemplate, t.TemplateName, t)
	})
}

// DeleteProvisioningTemplate deletes a template and its versions. A CA
// certificate whose just-in-time provisioning names the template keeps it
// (DeleteConflictException).
func (p *FleetProvisioning) DeleteProvisioningTemplate(ctx context.Context, in *iotdm.DeleteProvisioningTemplateInput) (*iotdm.Empty, error) {
	if err := validateProvTemplateName(in.TemplateName); err != nil {
		return nil, err
	}
	return p.r.write(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		if _, err := loadProvTemplate(ctx, tx, in.TemplateName); err != nil {
			return err
		}
		var users []string
		err := scanDecode(ctx, tx, iotdm.KindCACertificate, "", func(_ string, ca *storedCA) error {
			if ca.RegistrationConfig != nil && ca.RegistrationConfig.TemplateName == in.TemplateName {
				users = append(users, ca.CertificateID)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return iotdm.Errorf(iotdm.ErrDeleteConflict, "The provisioning template %s is used by CA certificate %s", in.TemplateName, strings.Join(users, ", "))
		}
		keys, err := keysUnder(ctx, tx, iotdm.KindProvisioningTemplateVersion, in.TemplateName+"/")
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := tx.Delete(ctx, iotdm.KindProvisioningTemplateVersion, in.TemplateName+"/"+k); err != nil {
				return err
			}
		}
		return tx.Delete(ctx, iotdm.KindProvisioningTemplate, in.TemplateName)
	})
}

// CreateProvisioningTemplateVersion adds a version to a template, the
// default one with setAsDefault. AWS: a template has at most 5 versions
// (VersionsLimitExceededException).
func (p *FleetProvisioning) CreateProvisioningTemplateVersion(ctx context.Context, in *iotdm.CreateProvisioningTemplateVersionInput) (*iotdm.CreateProvisioningTemplateVersionOutput, error) {
	if err := validateProvTemplateName(in.TemplateName); err != nil {
		return nil, err
	}
	if err := p.validateTemplateBody(in.TemplateBody); err != nil {
		return nil, err
	}
	var out *iotdm.CreateProvisioningTemplateVersionOutput
	err := p.r.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		t, err := loadProvTemplate(ctx, tx, in.TemplateName)
		if err != nil {
			return err
		}
		versions, err := provTemplateVersions(ctx, tx, in.TemplateName)
		if err != nil {
			return err
		}
		if len(versions) >= maxProvTemplateVersions {
			return iotdm.Errorf(iotdm.ErrVersionsLimitExceeded, "The provisioning template %s already has the maximum of %d versions; delete one first", in.TemplateName, maxProvTemplateVersions)
		}
		now := p.r.now()
		t.LastVersionID++
		id := t.LastVersionID
		v := iotdm.StoredProvisioningTemplateVersion{TemplateName: t.TemplateName, VersionID: id, TemplateBody: in.TemplateBody, CreationDate: now}
		if err := put(ctx, tx, iotdm.KindProvisioningTemplateVersion, provTemplateVersionKey(t.TemplateName, id), v); err != nil {
			return err
		}
		if in.SetAsDefault {
			t.DefaultVersionID = id
		}
		t.LastModifiedDate = now
		out = &iotdm.CreateProvisioningTemplateVersionOutput{TemplateARN: t.TemplateARN, TemplateName: t.TemplateName,
			VersionID: id, IsDefaultVersion: in.SetAsDefault}
		return put(ctx, tx, iotdm.KindProvisioningTemplate, t.TemplateName, t)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DescribeProvisioningTemplateVersion returns one version of a template.
func (p *FleetProvisioning) DescribeProvisioningTemplateVersion(ctx context.Context, in *iotdm.DescribeProvisioningTemplateVersionInput) (*iotdm.DescribeProvisioningTemplateVersionOutput, error) {
	if err := validateProvTemplateName(in.TemplateName); err != nil {
		return nil, err
	}
	var out *iotdm.DescribeProvisioningTemplateVersionOutput
	err := p.r.view(ctx, func(ctx context.Context, tx iotdm.ReadTx) error {
		t, err := loadProvTemplate(ctx, tx, in.TemplateName)
		if err != nil {
			return err
		}
		v, err := loadProvTemplateVersion(ctx, tx, in.TemplateName, in.VersionID)
		if err != nil {
			return err
		}
		out = &iotdm.DescribeProvisioningTemplateVersionOutput{VersionID: v.VersionID, CreationDate: v.CreationDate,
			TemplateBody: v.TemplateBody, IsDefaultVersion: v.VersionID == t.DefaultVersionID}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListProvisioningTemplateVersions lists a template's versions in version
// order.
func (p *FleetProvisioning) ListProvisioningTemplateVersions(ctx context.Context, in *iotdm.ListProvisioningTemplateVersionsInput) (*iotdm.ListProvisioningTemplateVersionsOutput, error) {
	if err := validateProvTemplateName(in.TemplateName); err != nil {
		return nil, err
	}
	size, err := pageSize(in.MaxResults)
	if err != nil {
		return nil, err
	}
	list := provTemplateVersionListName + "/" + in.TemplateName
	after, err := decodeToken(list, in.NextToken)
	if err != nil {
		return nil, err
	}
	pg := pager[iotdm.ProvisioningTemplateVersionSummary]{size: size, items: []iotdm.ProvisioningTemplateVersionSummary{}}
	err = p.r.view(ctx, func(ctx context.Context, tx iotdm.ReadTx) error {
		t, err := loadProvTemplate(ctx, tx, in.TemplateName)
		if err != nil {
			return err
		}
		return tx.Scan(ctx, iotdm.KindProvisioningTemplateVersion, in.TemplateName+"/", after, size+1, func(key string, value []byte) error {
			v, err := provDecode[iotdm.StoredProvisioningTemplateVersion](iotdm.KindProvisioningTemplateVersion, key, value)
			if err != nil {
				return err
			}
			if !pg.add(key, iotdm.ProvisioningTemplateVersionSummary{VersionID: v.VersionID, CreationDate: v.CreationDate,
				IsDefaultVersion: v.VersionID == t.DefaultVersionID}) {
				return iotdm.ErrStopScan
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return &iotdm.ListProvisioningTemplateVersionsOutput{Versions: pg.items, NextToken: pg.next(list)}, nil
}

// DeleteProvisioningTemplateVersion deletes a version that is not the
// default (DeleteConflictException).
func (p *FleetProvisioning) DeleteProvisioningTemplateVersion(ctx context.Context, in *iotdm.DeleteProvisioningTemplateVersionInput) (*iotdm.Empty, error) {
	if err := validateProvTemplateName(in.TemplateName); err != nil {
		return nil, err
	}
	return p.r.write(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		t, err := loadProvTemplate(ctx, tx, in.TemplateName)
		if err != nil {
			return err
		}
		if _, err := loadProvTemplateVersion(ctx, tx, in.TemplateName, in.VersionID); err != nil {
			return err
		}
		if in.VersionID == t.DefaultVersionID {
			return iotdm.Errorf(iotdm.ErrDeleteConflict, "Version %d is the default version of the provisioning template %s; make another the default first", in.VersionID, in.TemplateName)
		}
		return tx.Delete(ctx, iotdm.KindProvisioningTemplateVersion, provTemplateVersionKey(in.TemplateName, in.VersionID))
	})
}

// provDecode decodes one scanned entity.
func provDecode[T any](kind, key string, value []byte) (*T, error) {
	v := new(T)
	if err := json.Unmarshal(value, v); err != nil {
		return nil, fmt.Errorf("provDecode %s %q: %w", kind, key, err)
	}
	return v, nil
}
