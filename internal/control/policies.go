package control

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/policy"
)

// PoliciesOptions configures a Policies.
type PoliciesOptions struct {
	Region    string // e.g. us-east-1; used in ARNs
	AccountID string // 12 digits; used in ARNs
	Logger    *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Policies implements iotdm.Policies on an iotdm.Store (AWS §4): named,
// versioned policy documents, their attachment to certificates, static
// thing groups and Cognito identities, and the inspection and simulation
// operations. ConnectionPolicies is the one answer to "which policies apply
// to this connection, in which context", for TestAuthorization and the
// broker alike.
type Policies struct {
	store iotdm.Store
	// reg reads the things and groups policies are inherited through, and
	// lends its transaction, ARN and clock helpers.
	reg *Registry
	log *slog.Logger
	// docs are the default versions' documents, parsed once for every
	// connection that evaluates them.
	docs parsedDocs
}

var _ iotdm.Policies = (*Policies)(nil)

// NewPolicies returns a Policies over store.
func NewPolicies(store iotdm.Store, opts PoliciesOptions) *Policies {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	reg := NewRegistry(store, RegistryOptions{Region: opts.Region, AccountID: opts.AccountID, Logger: opts.Logger, Now: opts.Now})
	return &Policies{store: store, reg: reg, log: opts.Logger.With("component", "policies")}
}

func init() {
	// Policies carry tags (CreatePolicy's tags, TagResource on a policy ARN)
	// in their stored record.
	taggableKinds["policy"] = iotdm.KindPolicy
}

// Limits of AWS §4.1 and §9.2.
const (
	maxPolicyVersions   = 5
	maxPoliciesByTarget = 10
	maxPolicyDocBytes   = 404600 // the model's PolicyDocument length; the real limit is policy.MaxSize
)

// Shapes from the botocore iot model (2015-05-28).
var (
	policyNamePattern      = regexp.MustCompile(`^[\w+=,.@-]+$`) // PolicyName
	policyVersionIDPattern = regexp.MustCompile(`^[0-9]+$`)      // PolicyVersionId
)

// policyRecord is a policy as stored: iotdm.StoredPolicy and the tags that
// TagResource and CreatePolicy give it.
type policyRecord struct {
	iotdm.StoredPolicy
	Tags []iotdm.Tag `json:"tags,omitempty"`
}

func validatePolicyName(name string) error {
	if name == "" {
		return invalid("policyName must not be empty")
	}
	if len(name) > maxNameLen {
		return invalid("1 validation error detected: Value '%s' at 'policyName' failed to satisfy constraint: Member must have length less than or equal to %d", name, maxNameLen)
	}
	if !policyNamePattern.MatchString(name) {
		return invalid("1 validation error detected: Value '%s' at 'policyName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+", name)
	}
	return nil
}

func validatePolicyNames(names []string) error {
	for _, n := range names {
		if err := validatePolicyName(n); err != nil {
			return err
		}
	}
	return nil
}

// validatePolicyVersionRef checks a policy name and a version id.
func validatePolicyVersionRef(name, id string) error {
	if err := validatePolicyName(name); err != nil {
		return err
	}
	if !policyVersionIDPattern.MatchString(id) {
		return invalid("1 validation error detected: Value '%s' at 'policyVersionId' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9]+", id)
	}
	return nil
}

// parseDocument validates a policy document. AWS: MalformedPolicyException
// (400) for bad JSON, bad grammar or more than 2048 characters that are not
// whitespace.
func parseDocument(doc string) (*policy.Document, error) {
	if len(doc) > maxPolicyDocBytes {
		return nil, invalid("1 validation error detected: Value at 'policyDocument' failed to satisfy constraint: Member must have length less than or equal to %d", maxPolicyDocBytes)
	}
	d, err := policy.Parse([]byte(doc))
	if err != nil {
		var pe *policy.Error
		if errors.As(err, &pe) {
			return nil, iotdm.Errorf(iotdm.ErrMalformedPolicy, "%s", pe.Error())
		}
		return nil, err
	}
	return d, nil
}

// newGenerationID returns a fresh generationId: AWS changes it on every
// modification of a policy.
func newGenerationID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails
	return hex.EncodeToString(b)
}

func versionKey(policyName, versionID string) string { return policyName + "/" + versionID }

func (p *Policies) policyARN(name string) string { return p.reg.arn("policy", name) }

func (p *Policies) loadPolicy(ctx context.Context, tx getter, name string) (*policyRecord, error) {
	rec, ok, err := get[policyRecord](ctx, tx, iotdm.KindPolicy, name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound("Policy %s does not exist", name)
	}
	return rec, nil
}

func (p *Policies) loadVersion(ctx context.Context, tx getter, name, versionID string) (*iotdm.StoredPolicyVersion, error) {
	v, ok, err := get[iotdm.StoredPolicyVersion](ctx, tx, iotdm.KindPolicyVersion, versionKey(name, versionID))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound("Policy %s has no version %s", name, versionID)
	}
	return v, nil
}

// loadPolicyVersion loads a policy and one of its versions.
func (p *Policies) loadPolicyVersion(ctx context.Context, tx getter, name, versionID string) (*policyRecord, *iotdm.StoredPolicyVersion, error) {
	rec, err := p.loadPolicy(ctx, tx, name)
	if err != nil {
		return nil, nil, err
	}
	v, err := p.loadVersion(ctx, tx, name, versionID)
	if err != nil {
		return nil, nil, err
	}
	return rec, v, nil
}

// writeVersion runs fn in a write transaction on a policy, once the policy
// and its version versionID are found; fn stores rec when it changes it.
func (p *Policies) writeVersion(ctx context.Context, name, versionID string, fn func(ctx context.Context, tx iotdm.Tx, rec *policyRecord) error) (*iotdm.Empty, error) {
	if err := validatePolicyVersionRef(name, versionID); err != nil {
		return nil, err
	}
	return p.reg.write(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		rec, _, err := p.loadPolicyVersion(ctx, tx, name, versionID)
		if err != nil {
			return err
		}
		return fn(ctx, tx, rec)
	})
}

// loadWithVersions loads a policy and all its versions.
func (p *Policies) loadWithVersions(ctx context.Context, tx iotdm.ReadTx, name string) (*policyRecord, []iotdm.StoredPolicyVersion, error) {
	rec, err := p.loadPolicy(ctx, tx, name)
	if err != nil {
		return nil, nil, err
	}
	versions, err := policyVersions(ctx, tx, name)
	if err != nil {
		return nil, nil, err
	}
	return rec, versions, nil
}

// policyVersions lists a policy's versions, in key order.
func policyVersions(ctx context.Context, tx iotdm.ReadTx, name string) ([]iotdm.StoredPolicyVersion, error) {
	var out []iotdm.StoredPolicyVersion
	err := scanDecode(ctx, tx, iotdm.KindPolicyVersion, name+"/", func(_ string, v *iotdm.StoredPolicyVersion) error {
		out = append(out, *v)
		return nil
	})
	return out, err
}

// touch marks a modification of the policy: a new generationId and
// lastModifiedDate.
func (p *Policies) touch(rec *policyRecord) {
	rec.GenerationID = newGenerationID()
	rec.LastModifiedDate = p.reg.now()
}

// CreatePolicy creates a policy whose version "1" is its default. A name in
// use always conflicts: CreatePolicy, unlike CreateThing, is not idempotent.
func (p *Policies) CreatePolicy(ctx context.Context, in *iotdm.CreatePolicyInput) (*iotdm.CreatePolicyOutput, error) {
	if err := validatePolicyName(in.PolicyName); err != nil {
		return nil, err
	}
	if _, err := parseDocument(in.PolicyDocument); err != nil {
		return nil, err
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	now := p.reg.now()
	rec := policyRecord{StoredPolicy: iotdm.StoredPolicy{
		PolicyName: in.PolicyName, PolicyARN: p.policyARN(in.PolicyName), DefaultVersionID: "1",
		GenerationID: newGenerationID(), CreationDate: now, LastModifiedDate: now, LastVersionID: 1,
	}, Tags: in.Tags}
	err := p.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		if _, ok, err := tx.Get(ctx, iotdm.KindPolicy, in.PolicyName); err != nil {
			return err
		} else if ok {
			// AWS's wording.
			return &iotdm.Error{Code: iotdm.ErrResourceAlreadyExists,
				Message:    fmt.Sprintf("Policy cannot be created - name already exists (name=%s)", in.PolicyName),
				ResourceID: in.PolicyName, ResourceARN: rec.PolicyARN}
		}
		v := iotdm.StoredPolicyVersion{PolicyName: in.PolicyName, VersionID: "1", PolicyDocument: in.PolicyDocument, CreateDate: now}
		if err := put(ctx, tx, iotdm.KindPolicyVersion, versionKey(in.PolicyName, "1"), v); err != nil {
			return err
		}
		return put(ctx, tx, iotdm.KindPolicy, in.PolicyName, rec)
	})
	if err != nil {
		return nil, err
	}
	return &iotdm.CreatePolicyOutput{PolicyName: in.PolicyName, PolicyARN: rec.PolicyARN,
		PolicyDocument: in.PolicyDocument, PolicyVersionID: "1"}, nil
}

// GetPolicy returns a policy with the document of its default version.
func (p *Policies) GetPolicy(ctx context.Context, in *iotdm.GetPolicyInput) (*iotdm.GetPolicyOutput, error) {
	if err := validatePolicyName(in.PolicyName); err != nil {
		return nil, err
	}
	var out *iotdm.GetPolicyOutput
	err := p.reg.view(ctx, func(ctx context.Context, tx iotdm.ReadTx) error {
		rec, err := p.loadPolicy(ctx, tx, in.PolicyName)
		if err != nil {
			return err
		}
		v, err := p.loadVersion(ctx, tx, in.PolicyName, rec.DefaultVersionID)
		if err != nil {
			return err
		}
		out = &iotdm.GetPolicyOutput{PolicyName: rec.PolicyName, PolicyARN: rec.PolicyARN, PolicyDocument: v.PolicyDocument,
			DefaultVersionID: rec.DefaultVersionID, CreationDate: rec.CreationDate, LastModifiedDate: rec.LastModifiedDate,
			GenerationID: rec.GenerationID}
		return nil
	})
	return out, err
}

// DeletePolicy deletes a policy and its default version. AWS refuses with
// DeleteConflictException (409) while other versions exist or the policy
// is attached; attachments to certificates or groups deleted since are
// swept instead.
func (p *Policies) DeletePolicy(ctx context.Context, in *iotdm.DeletePolicyInput) (*iotdm.Empty, error) {
	if err := validatePolicyName(in.PolicyName); err != nil {
		return nil, err
	}
	return p.reg.write(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		rec, versions, err := p.loadWithVersions(ctx, tx, in.PolicyName)
		if err != nil {
			return err
		}
		if len(versions) > 1 {
			return iotdm.Errorf(iotdm.ErrDeleteConflict, "Cannot delete the policy because it has one or more non-default versions (name=%s)", in.PolicyName)
		}
		targets, err := policyTargets(ctx, tx, in.PolicyName)
		if err != nil {
			return err
		}
		for _, target := range targets {
			live, err := p.targetExists(ctx, tx, target)
			if err != nil {
				return err
			}
			if live {
				// AWS's wording.
				return iotdm.Errorf(iotdm.ErrDeleteConflict, "The policy cannot be deleted as the policy is attached to one or more principals (name=%s)", in.PolicyName)
			}
		}
		for _, target := range targets {
			if err := deleteAttachment(ctx, tx, in.PolicyName, target); err != nil {
				return err
			}
		}
		for _, v := range versions {
			if err := tx.Delete(ctx, iotdm.KindPolicyVersion, versionKey(in.PolicyName, v.VersionID)); err != nil {
				return err
			}
		}
		return tx.Delete(ctx, iotdm.KindPolicy, rec.PolicyName)
	})
}

// ListPolicies lists policies in creation order, newest first unless
// ascendingOrder: the model documents ascendingOrder as "ascending creation
// order".
func (p *Policies) ListPolicies(ctx context.Context, in *iotdm.ListPoliciesInput) (*iotdm.ListPoliciesOutput, error) {
	size, err := pageSizeOf("pageSize", in.PageSize)
	if err != nil {
		return nil, err
	}
	after, err := decodeMarker("policies", in.Marker)
	if err != nil {
		return nil, err
	}
	var items []keyed[iotdm.Policy]
	err = p.reg.view(ctx, func(ctx context.Context, tx iotdm.ReadTx) error {
		return scanDecode(ctx, tx, iotdm.KindPolicy, "", func(key string, rec *policyRecord) error {
			items = append(items, keyed[iotdm.Policy]{timeKey(rec.CreationDate, key), iotdm.Policy{PolicyName: key, PolicyARN: rec.PolicyARN}})
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	policies, next := markerPage("policies", items, after, size, in.AscendingOrder)
	return &iotdm.ListPoliciesOutput{Policies: policies, NextMarker: next}, nil
}

// CreatePolicyVersion adds a version, optionally as the default. Version
// ids increase and are never reused (AWS §4.1); a sixth version is refused
// with VersionsLimitExceededException (409).
func (p *Policies) CreatePolicyVersion(ctx context.Context, in *iotdm.CreatePolicyVersionInput) (*iotdm.CreatePolicyVersionOutput, error) {
	if err := validatePolicyName(in.PolicyName); err != nil {
		return nil, err
	}
	if _, err := parseDocument(in.PolicyDocument); err != nil {
		return nil, err
	}
	var out *iotdm.CreatePolicyVersionOutput
	err := p.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		rec, versions, err := p.loadWithVersions(ctx, tx, in.PolicyName)
		if err != nil {
			return err
		}
		if len(versions) >= maxPolicyVersions {
			// AWS's wording.
			return iotdm.Errorf(iotdm.ErrVersionsLimitExceeded, "The policy %s already has the maximum number of versions (%d)", in.PolicyName, maxPolicyVersions)
		}
		rec.LastVersionID++
		id := strconv.Itoa(rec.LastVersionID)
		v := iotdm.StoredPolicyVersion{PolicyName: in.PolicyName, VersionID: id, PolicyDocument: in.PolicyDocument, CreateDate: p.reg.now()}
		if err := put(ctx, tx, iotdm.KindPolicyVersion, versionKey(in.PolicyName, id), v); err != nil {
			return err
		}
		if in.SetAsDefault {
			rec.DefaultVersionID = id
		}
		p.touch(rec)
		out = &iotdm.CreatePolicyVersionOutput{PolicyARN: rec.PolicyARN, PolicyDocument: in.PolicyDocument,
			PolicyVersionID: id, IsDefaultVersion: in.SetAsDefault}
		return put(ctx, tx, iotdm.KindPolicy, in.PolicyName, rec)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetPolicyVersion returns one version. Its generationId and
// lastModifiedDate are the policy's.
func (p *Policies) GetPolicyVersion(ctx context.Context, in *iotdm.GetPolicyVersionInput) (*iotdm.GetPolicyVersionOutput, error) {
	if err := validatePolicyVersionRef(in.PolicyName, in.PolicyVersionID); err != nil {
		return nil, err
	}
	var out *iotdm.GetPolicyVersionOutput
	err := p.reg.view(ctx, func(ctx context.Context, tx iotdm.ReadTx) error {
		rec, v, err := p.loadPolicyVersion(ctx, tx, in.PolicyName, in.PolicyVersionID)
		if err != nil {
			return err
		}
		out = &iotdm.GetPolicyVersionOutput{PolicyARN: rec.PolicyARN, PolicyName: rec.PolicyName, PolicyDocument: v.PolicyDocument,
			PolicyVersionID: v.VersionID, IsDefaultVersion: v.VersionID == rec.DefaultVersionID,
			CreationDate: v.CreateDate, LastModifiedDate: rec.LastModifiedDate, GenerationID: rec.GenerationID}
		return nil
	})
	return out, err
}

// ListPolicyVersions lists every version, newest first (the model does not
// page it).
func (p *Policies) ListPolicyVersions(ctx context.Context, in *iotdm.ListPolicyVersionsInput) (*iotdm.ListPolicyVersionsOutput, error) {
	if err := validatePolicyName(in.PolicyName); err != nil {
		return nil, err
	}
	out := &iotdm.ListPolicyVersionsOutput{PolicyVersions: []iotdm.PolicyVersion{}}
	err := p.reg.view(ctx, func(ctx context.Context, tx iotdm.ReadTx) error {
		rec, versions, err := p.loadWithVersions(ctx, tx, in.PolicyName)
		if err != nil {
			return err
		}
		for _, v := range versions {
			out.PolicyVersions = append(out.PolicyVersions, iotdm.PolicyVersion{VersionID: v.VersionID,
				IsDefaultVersion: v.VersionID == rec.DefaultVersionID, CreateDate: v.CreateDate})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out.PolicyVersions, func(a, b iotdm.PolicyVersion) int {
		x, _ := strconv.Atoi(a.VersionID)
		y, _ := strconv.Atoi(b.VersionID)
		return y - x
	})
	return out, nil
}

// SetDefaultPolicyVersion makes a version the operative one.
func (p *Policies) SetDefaultPolicyVersion(ctx context.Context, in *iotdm.SetDefaultPolicyVersionInput) (*iotdm.Empty, error) {
	return p.writeVersion(ctx, in.PolicyName, in.PolicyVersionID, func(ctx context.Context, tx iotdm.Tx, rec *policyRecord) error {
		if rec.DefaultVersionID == in.PolicyVersionID {
			return nil
		}
		rec.DefaultVersionID = in.PolicyVersionID
		p.touch(rec)
		return put(ctx, tx, iotdm.KindPolicy, in.PolicyName, rec)
	})
}

// DeletePolicyVersion deletes a version other than the default one, which
// only DeletePolicy removes (DeleteConflictException, 409).
func (p *Policies) DeletePolicyVersion(ctx context.Context, in *iotdm.DeletePolicyVersionInput) (*iotdm.Empty, error) {
	return p.writeVersion(ctx, in.PolicyName, in.PolicyVersionID, func(ctx context.Context, tx iotdm.Tx, rec *policyRecord) error {
		if rec.DefaultVersionID == in.PolicyVersionID {
			return iotdm.Errorf(iotdm.ErrDeleteConflict, "Cannot delete the default version %s of policy %s; use DeletePolicy", in.PolicyVersionID, in.PolicyName)
		}
		if err := tx.Delete(ctx, iotdm.KindPolicyVersion, versionKey(in.PolicyName, in.PolicyVersionID)); err != nil {
			return err
		}
		p.touch(rec)
		return put(ctx, tx, iotdm.KindPolicy, in.PolicyName, rec)
	})
}
