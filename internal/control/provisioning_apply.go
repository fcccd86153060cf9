package control

import (
	"context"
	"maps"
	"slices"

	"github.com/google/uuid"
	"github.com/iotdm/iotdm"
)

// provisioned is what applying a plan did.
type provisioned struct {
	thingName    string
	resourceARNs map[string]string // by logical id
}

// applyPlan provisions the resources of plan for the certificate cert (a
// certificate PENDING_ACTIVATION, as fleet provisioning and JITP create
// them) inside tx, with the rules of the operations the template stands
// for (AWS §5.4: RegisterThing "calls other AWS IoT control plane APIs"):
//
//   - the certificate takes the template's status (ACTIVE or INACTIVE);
//   - each policy must exist, or is created from its document, and is
//     attached to the certificate (at most 10 per certificate);
//   - the thing is created with its type, attributes and static groups, or,
//     when it exists, updated as its OverrideSettings say;
//   - the certificate is attached to the thing (NON_EXCLUSIVE_THING).
//
// Without a certificate resource the certificate stays as it is and
// nothing is attached to it. The caller commits or rolls back tx.
func (p *FleetProvisioning) applyPlan(ctx context.Context, tx iotdm.Tx, plan *ProvisioningPlan, cert *iotdm.StoredCertificate) (*provisioned, error) {
	out := &provisioned{resourceARNs: map[string]string{}}
	principal := cert.CertificateARN
	if c := plan.Certificate; c != nil {
		if cert.Status != c.Status {
			cert.Status = c.Status
			p.certs.modified(&cert.LastModifiedDate, &cert.CustomerVersion, &cert.GenerationID)
			if err := put(ctx, tx, iotdm.KindCertificate, cert.CertificateID, cert); err != nil {
				return nil, err
			}
		}
		out.resourceARNs[c.LogicalID] = principal
	}
	for _, pol := range plan.Policies {
		if err := p.ensurePolicy(ctx, tx, pol); err != nil {
			return nil, err
		}
		out.resourceARNs[pol.LogicalID] = p.pols.policyARN(pol.PolicyName)
		if plan.Certificate != nil {
			if err := p.attachPolicyTx(ctx, tx, pol.PolicyName, principal); err != nil {
				return nil, err
			}
		}
	}
	if th := plan.Thing; th != nil {
		thing, err := p.ensureThing(ctx, tx, th)
		if err != nil {
			return nil, err
		}
		out.thingName = thing.ThingName
		out.resourceARNs[th.LogicalID] = thing.ThingARN
		if plan.Certificate != nil {
			if err := p.attachThingPrincipalTx(ctx, tx, thing.ThingName, principal); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// ensurePolicy checks that a template's policy exists, creating it from
// its document when it does not.
func (p *FleetProvisioning) ensurePolicy(ctx context.Context, tx iotdm.Tx, pol PolicyProvisioning) error {
	_, ok, err := tx.Get(ctx, iotdm.KindPolicy, pol.PolicyName)
	if err != nil || ok {
		return err
	}
	if pol.Document == "" {
		return notFound("Policy %s does not exist", pol.PolicyName)
	}
	now := p.r.now()
	rec := policyRecord{StoredPolicy: iotdm.StoredPolicy{
		PolicyName: pol.PolicyName, PolicyARN: p.pols.policyARN(pol.PolicyName), DefaultVersionID: "1",
		GenerationID: newGenerationID(), CreationDate: now, LastModifiedDate: now, LastVersionID: 1,
	}}
	v := iotdm.StoredPolicyVersion{PolicyName: pol.PolicyName, VersionID: "1", PolicyDocument: pol.Document, CreateDate: now}
	if err := put(ctx, tx, iotdm.KindPolicyVersion, versionKey(pol.PolicyName, "1"), v); err != nil {
		return err
	}
	return put(ctx, tx, iotdm.KindPolicy, pol.PolicyName, rec)
}

// attachPolicyTx attaches a policy to a certificate ARN, as AttachPolicy
// does: idempotent, at most maxPoliciesByTarget policies per target.
func (p *FleetProvisioning) attachPolicyTx(ctx context.Context, tx iotdm.Tx, policyName, target string) error {
	current, err := attachedPolicyNames(ctx, tx, target)
	if err != nil {
		return err
	}
	if slices.Contains(current, policyName) {
		return nil
	}
	if len(current) >= maxPoliciesByTarget {
		return iotdm.Errorf(iotdm.ErrLimitExceeded, "%s already has the maximum of %d policies attached", target, maxPoliciesByTarget)
	}
	a := iotdm.PolicyAttachment{PolicyName: policyName, Target: target, AttachedAt: p.r.now()}
	if err := put(ctx, tx, iotdm.KindPolicyTarget, policyName+"/"+target, a); err != nil {
		return err
	}
	return put(ctx, tx, iotdm.KindTargetPolicy, target+"/"+policyName, a)
}

// attachThingPrincipalTx attaches a certificate to a thing as
// AttachThingPrincipal does with NON_EXCLUSIVE_THING: idempotent, and
// refused while the certificate is exclusively attached to another thing.
func (p *FleetProvisioning) attachThingPrincipalTx(ctx context.Context, tx iotdm.Tx, thing, principal string) error {
	var current *iotdm.ThingPrincipal
	var exclusive string
	err := scanDecode(ctx, tx, iotdm.KindPrincipalThing, principal+"/", func(_ string, tp *iotdm.ThingPrincipal) error {
		switch {
		case tp.ThingName == thing:
			current = tp
		case tp.Type == iotdm.ThingPrincipalExclusive:
			exclusive = tp.ThingName
		}
		return nil
	})
	if err != nil || current != nil {
		return err
	}
	if exclusive != "" {
		return invalid("The principal %s is exclusively attached to thing %s", principal, exclusive)
	}
	tp := iotdm.ThingPrincipal{ThingName: thing, Principal: principal, Type: iotdm.ThingPrincipalNonExclusive, AttachedAt: p.r.now()}
	if err := put(ctx, tx, iotdm.KindThingPrincipal, thing+"/"+principal, tp); err != nil {
		return err
	}
	return put(ctx, tx, iotdm.KindPrincipalThing, principal+"/"+thing, tp)
}

// override returns what to do with an existing thing's setting.
func (th *ThingProvisioning) override(setting string) string {
	if o := th.Overrides[setting]; o != "" {
		return o
	}
	return OverrideDoNothing
}

// ensureThing creates the template's thing, or updates the existing one as
// its OverrideSettings say (FAIL refuses a value that differs from the
// thing's: ResourceRegistrationFailureException).
func (p *FleetProvisioning) ensureThing(ctx context.Context, tx iotdm.Tx, th *ThingProvisioning) (*iotdm.Thing, error) {
	thing, exists, err := get[iotdm.Thing](ctx, tx, iotdm.KindThing, th.ThingName)
	if err != nil {
		return nil, err
	}
	if !exists {
		thing = &iotdm.Thing{
			ThingName: th.ThingName, ThingID: uuid.NewString(), ThingARN: p.r.arn("thing", th.ThingName),
			ThingTypeName: th.ThingTypeName, Attributes: map[string]string{}, Version: 1, CreationDate: p.r.now(),
		}
		for k, v := range th.Attributes {
			if v != "" {
				thing.Attributes[k] = v
			}
		}
		if err := checkAttrCount(len(thing.Attributes), thing.ThingTypeName); err != nil {
			return nil, err
		}
		if thing.ThingTypeName != "" {
			if err := usableThingType(ctx, tx, thing.ThingTypeName); err != nil {
				return nil, err
			}
		}
		if err := put(ctx, tx, iotdm.KindThing, thing.ThingName, thing); err != nil {
			return nil, err
		}
		for _, g := range th.ThingGroups {
			if err := p.r.addToGroup(ctx, tx, g, thing.ThingName, false); err != nil {
				return nil, err
			}
		}
		return thing, nil
	}

	conflict := func(setting string) error {
		return iotdm.Errorf(iotdm.ErrResourceRegistrationFailure, "Thing %s exists with a %s different from the template's, and its OverrideSettings say FAIL", th.ThingName, setting)
	}
	changed := false
	oldType := thing.ThingTypeName
	if th.Attributes != nil {
		want := map[string]string{}
		for k, v := range th.Attributes {
			if v != "" {
				want[k] = v
			}
		}
		switch th.override("AttributePayload") {
		case OverrideReplace:
			if !maps.Equal(thing.Attributes, want) {
				thing.Attributes, changed = want, true
			}
		case OverrideMerge:
			merged := mergeAttributes(thing.Attributes, &iotdm.AttributePayload{Attributes: th.Attributes, Merge: true})
			if !maps.Equal(thing.Attributes, merged) {
				thing.Attributes, changed = merged, true
			}
		case OverrideFail:
			if !maps.Equal(thing.Attributes, want) {
				return nil, conflict("AttributePayload")
			}
		}
	}
	if th.ThingTypeName != thing.ThingTypeName {
		switch th.override("ThingTypeName") {
		case OverrideReplace:
			if th.ThingTypeName != "" {
				if err := usableThingType(ctx, tx, th.ThingTypeName); err != nil {
					return nil, err
				}
			}
			thing.ThingTypeName, changed = th.ThingTypeName, true
		case OverrideFail:
			return nil, conflict("ThingTypeName")
		}
	}
	if changed {
		if err := checkAttrCount(len(thing.Attributes), thing.ThingTypeName); err != nil {
			return nil, err
		}
		thing.PreviousThingTypeName = nil
		if thing.ThingTypeName != oldType {
			thing.PreviousThingTypeName = &oldType
		}
		thing.Version++
		if err := put(ctx, tx, iotdm.KindThing, thing.ThingName, thing); err != nil {
			return nil, err
		}
	}
	if th.ThingGroups != nil {
		if err := p.overrideGroups(ctx, tx, th, conflict); err != nil {
			return nil, err
		}
	}
	return thing, nil
}

// overrideGroups applies the ThingGroups override to an existing thing.
func (p *FleetProvisioning) overrideGroups(ctx context.Context, tx iotdm.Tx, th *ThingProvisioning, conflict func(string) error) error {
	current, err := thingGroupNames(ctx, tx, th.ThingName)
	if err != nil {
		return err
	}
	var static []string
	for _, name := range current {
		g, err := p.r.loadGroup(ctx, tx, name)
		if err != nil {
			return err
		}
		if !g.Dynamic() {
			static = append(static, name)
		}
	}
	want := slices.Sorted(slices.Values(th.ThingGroups))
	switch th.override("ThingGroups") {
	case OverrideFail:
		if !slices.Equal(static, want) {
			return conflict("ThingGroups")
		}
	case OverrideReplace:
		for _, g := range static {
			if !slices.Contains(want, g) {
				if err := p.r.removeFromGroup(ctx, tx, g, th.ThingName); err != nil {
					return err
				}
			}
		}
		fallthrough
	case OverrideMerge:
		for _, g := range want {
			if err := p.r.addToGroup(ctx, tx, g, th.ThingName, false); err != nil {
				return err
			}
		}
	}
	return nil
}
