package control

import (
	"context"
	"slices"
	"strings"

	"github.com/iotdm/iotdm"
)

// Policy targets (AWS §4.7): a certificate ARN, a static thing group ARN or
// a Cognito identity id. Each attachment is stored twice, under
// KindPolicyTarget "{policy}/{target}" and KindTargetPolicy
// "{target}/{policy}", written and deleted together.

type targetKind uint8

const (
	targetCertificate targetKind = iota + 1
	targetThingGroup
	targetCognito
)

// policyTarget is a parsed target or principal.
type policyTarget struct {
	kind targetKind
	id   string // as stored: the ARN, or the Cognito identity id
	name string // the certificate id or the thing group name
}

// parseTarget parses a target or principal given in member. An ARN of
// another account or region names nothing here: ResourceNotFoundException.
func (p *Policies) parseTarget(member, s string) (policyTarget, error) {
	if s == "" {
		return policyTarget{}, invalid("%s must not be empty", member)
	}
	if cognitoIdentityPattern.MatchString(s) {
		return policyTarget{kind: targetCognito, id: s}, nil
	}
	bad := invalid("Invalid %s %s: valid targets are a certificate ARN (arn:aws:iot:region:accountId:cert/certificateId), "+
		"a thing group ARN (arn:aws:iot:region:accountId:thinggroup/groupName) and a Cognito identity id (region:id)", member, s)
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "iot" {
		return policyTarget{}, bad
	}
	resource, name, _ := strings.Cut(parts[5], "/")
	var t policyTarget
	switch resource {
	case certificateARNPrefix:
		if !certificateIDPattern.MatchString(name) {
			return policyTarget{}, bad
		}
		t = policyTarget{kind: targetCertificate, id: s, name: name}
	case "thinggroup":
		if validateName("thingGroupName", name) != nil {
			return policyTarget{}, bad
		}
		t = policyTarget{kind: targetThingGroup, id: s, name: name}
	default:
		return policyTarget{}, bad
	}
	if s != p.reg.arn(resource, name) {
		return policyTarget{}, notFound("Resource %s does not exist", s)
	}
	return t, nil
}

// parsePrincipal parses the principal of TestAuthorization and
// GetEffectivePolicies, which may also be a bare certificate id.
func (p *Policies) parsePrincipal(s string) (policyTarget, error) {
	if certificateIDPattern.MatchString(s) {
		s = p.reg.arn(certificateARNPrefix, s)
	}
	return p.parseTarget("principal", s)
}

// loadTarget checks that a target exists (a Cognito identity always does)
// and returns its thing group when it is one.
func (p *Policies) loadTarget(ctx context.Context, tx getter, t policyTarget) (*iotdm.ThingGroup, error) {
	switch t.kind {
	case targetCertificate:
		if _, err := loadCertificate(ctx, tx, t.name); err != nil {
			return nil, err
		}
	case targetThingGroup:
		return p.reg.loadGroup(ctx, tx, t.name)
	}
	return nil, nil
}

// targetExists reports whether the target of a stored attachment still
// exists.
func (p *Policies) targetExists(ctx context.Context, tx getter, target string) (bool, error) {
	t, err := p.parseTarget("target", target)
	if err != nil {
		return false, nil
	}
	_, err = p.loadTarget(ctx, tx, t)
	if iotdm.IsCode(err, iotdm.ErrResourceNotFound) {
		return false, nil
	}
	return err == nil, err
}

// targetAttachments lists the attachments of a target, by policy name.
func targetAttachments(ctx context.Context, tx iotdm.ReadTx, target string) ([]iotdm.PolicyAttachment, error) {
	var out []iotdm.PolicyAttachment
	err := scanDecode(ctx, tx, iotdm.KindTargetPolicy, target+"/", func(_ string, a *iotdm.PolicyAttachment) error {
		out = append(out, *a)
		return nil
	})
	return out, err
}

// keysUnder lists what follows prefix in the keys of kind under it, in
// key order.
func keysUnder(ctx context.Context, tx iotdm.ReadTx, kind, prefix string) ([]string, error) {
	var names []string
	err := tx.Scan(ctx, kind, prefix, "", 0, func(key string, _ []byte) error {
		names = append(names, strings.TrimPrefix(key, prefix))
		return nil
	})
	return names, err
}

// attachedPolicyNames lists the names of the policies attached to a target.
func attachedPolicyNames(ctx context.Context, tx iotdm.ReadTx, target string) ([]string, error) {
	return keysUnder(ctx, tx, iotdm.KindTargetPolicy, target+"/")
}

// policyTargets lists the targets a policy is attached to.
func policyTargets(ctx context.Context, tx iotdm.ReadTx, policyName string) ([]string, error) {
	return keysUnder(ctx, tx, iotdm.KindPolicyTarget, policyName+"/")
}

func deleteAttachment(ctx context.Context, tx iotdm.Tx, policyName, target string) error {
	if err := tx.Delete(ctx, iotdm.KindPolicyTarget, policyName+"/"+target); err != nil {
		return err
	}
	return tx.Delete(ctx, iotdm.KindTargetPolicy, target+"/"+policyName)
}

// groupChainPolicies lists the policies attached to a group and to each of
// its ancestors, nearest first (AWS §4.6: policies are inherited down the
// hierarchy).
func (p *Policies) groupChainPolicies(ctx context.Context, tx iotdm.ReadTx, g *iotdm.ThingGroup) ([]string, error) {
	chain := []string{g.ThingGroupName}
	ancestors := g.ThingGroupMetadata.RootToParentThingGroups
	for i := len(ancestors) - 1; i >= 0; i-- {
		chain = append(chain, ancestors[i].GroupName)
	}
	var names []string
	for _, group := range chain {
		own, err := attachedPolicyNames(ctx, tx, p.reg.arn("thinggroup", group))
		if err != nil {
			return nil, err
		}
		names = append(names, own...)
	}
	return names, nil
}

// thingGroupPolicies lists the policies a thing inherits from its static
// groups and their ancestors. Dynamic groups carry no policies.
func (p *Policies) thingGroupPolicies(ctx context.Context, tx iotdm.ReadTx, thing string) ([]string, error) {
	groups, err := thingGroupNames(ctx, tx, thing)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, name := range groups {
		g, ok, err := get[iotdm.ThingGroup](ctx, tx, iotdm.KindThingGroup, name)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		inherited, err := p.groupChainPolicies(ctx, tx, g)
		if err != nil {
			return nil, err
		}
		names = append(names, inherited...)
	}
	return names, nil
}

// dedupe drops repeated names, keeping the first of each.
func dedupe(names []string) []string {
	seen := make(map[string]bool, len(names))
	return slices.DeleteFunc(names, func(n string) bool {
		if seen[n] {
			return true
		}
		seen[n] = true
		return false
	})
}

// attach attaches a policy to a target: idempotent, at most
// maxPoliciesByTarget per target (LimitExceededException, 410), never to a
// dynamic thing group (AWS §4.7).
func (p *Policies) attach(ctx context.Context, policyName string, t policyTarget) (*iotdm.Empty, error) {
	return p.reg.write(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		if _, err := p.loadPolicy(ctx, tx, policyName); err != nil {
			return err
		}
		g, err := p.loadTarget(ctx, tx, t)
		if err != nil {
			return err
		}
		if g != nil && g.Dynamic() {
			return invalid("Policies cannot be attached to dynamic thing group %s", g.ThingGroupName)
		}
		current, err := attachedPolicyNames(ctx, tx, t.id)
		if err != nil {
			return err
		}
		if slices.Contains(current, policyName) {
			return nil
		}
		if len(current) >= maxPoliciesByTarget {
			return iotdm.Errorf(iotdm.ErrLimitExceeded, "%s already has the maximum of %d policies attached", t.id, maxPoliciesByTarget)
		}
		a := iotdm.PolicyAttachment{PolicyName: policyName, Target: t.id, AttachedAt: p.reg.now()}
		if err := put(ctx, tx, iotdm.KindPolicyTarget, policyName+"/"+t.id, a); err != nil {
			return err
		}
		return put(ctx, tx, iotdm.KindTargetPolicy, t.id+"/"+policyName, a)
	})
}

// AttachPolicy attaches a policy to a certificate, a static thing group or
// a Cognito identity.
func (p *Policies) AttachPolicy(ctx context.Context, in *iotdm.AttachPolicyInput) (*iotdm.Empty, error) {
	t, err := parseAttachment(in.PolicyName, in.Target, p.target)
	if err != nil {
		return nil, err
	}
	return p.attach(ctx, in.PolicyName, t)
}

// DetachPolicy detaches a policy from a target. Detaching what is not
// attached succeeds: the model gives DetachPolicy no
// ResourceNotFoundException.
func (p *Policies) DetachPolicy(ctx context.Context, in *iotdm.DetachPolicyInput) (*iotdm.Empty, error) {
	t, err := parseAttachment(in.PolicyName, in.Target, p.target)
	if err != nil {
		return nil, err
	}
	return p.reg.write(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		return deleteAttachment(ctx, tx, in.PolicyName, t.id)
	})
}

// target parses the target of AttachPolicy and DetachPolicy.
func (p *Policies) target(s string) (policyTarget, error) { return p.parseTarget("target", s) }

// parseAttachment checks the policy name of an attach or detach and parses
// its target or principal with parse.
func parseAttachment(policyName, target string, parse func(string) (policyTarget, error)) (policyTarget, error) {
	if err := validatePolicyName(policyName); err != nil {
		return policyTarget{}, err
	}
	return parse(target)
}

// legacyPrincipal parses the principal of the deprecated principal-policy
// operations: a certificate ARN or a Cognito identity id only.
func (p *Policies) legacyPrincipal(s string) (policyTarget, error) {
	t, err := p.parseTarget("principal", s)
	if err != nil {
		return t, err
	}
	if t.kind == targetThingGroup {
		// AWS's wording (aws-cdk#26166).
		return t, invalid("The given ARN does not represent a cert")
	}
	return t, nil
}

// AttachPrincipalPolicy is the deprecated AttachPolicy for certificates and
// Cognito identities.
func (p *Policies) AttachPrincipalPolicy(ctx context.Context, in *iotdm.AttachPrincipalPolicyInput) (*iotdm.Empty, error) {
	t, err := parseAttachment(in.PolicyName, in.Principal, p.legacyPrincipal)
	if err != nil {
		return nil, err
	}
	return p.attach(ctx, in.PolicyName, t)
}

// DetachPrincipalPolicy is the deprecated DetachPolicy. Unlike DetachPolicy
// its model lists ResourceNotFoundException: the policy and the principal
// must exist; detaching what is not attached succeeds.
func (p *Policies) DetachPrincipalPolicy(ctx context.Context, in *iotdm.DetachPrincipalPolicyInput) (*iotdm.Empty, error) {
	t, err := parseAttachment(in.PolicyName, in.Principal, p.legacyPrincipal)
	if err != nil {
		return nil, err
	}
	return p.reg.write(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		if _, err := p.loadPolicy(ctx, tx, in.PolicyName); err != nil {
			return err
		}
		if _, err := p.loadTarget(ctx, tx, t); err != nil {
			return err
		}
		return deleteAttachment(ctx, tx, in.PolicyName, t.id)
	})
}

// policyRef is the Policy list item of a policy name.
func (p *Policies) policyRef(name string) iotdm.Policy {
	return iotdm.Policy{PolicyName: name, PolicyARN: p.policyARN(name)}
}

// ListPrincipalPolicies lists the policies attached to a principal in the
// order they were attached, newest first unless ascendingOrder.
func (p *Policies) ListPrincipalPolicies(ctx context.Context, in *iotdm.ListPrincipalPoliciesInput) (*iotdm.ListPrincipalPoliciesOutput, error) {
	t, err := p.parseTarget("principal", in.Principal)
	if err != nil {
		return nil, err
	}
	size, err := pageSizeOf("pageSize", in.PageSize)
	if err != nil {
		return nil, err
	}
	after, err := decodeMarker("principalpolicies", in.Marker)
	if err != nil {
		return nil, err
	}
	var items []keyed[iotdm.Policy]
	err = p.reg.view(ctx, func(ctx context.Context, tx iotdm.ReadTx) error {
		if _, err := p.loadTarget(ctx, tx, t); err != nil {
			return err
		}
		attached, err := targetAttachments(ctx, tx, t.id)
		if err != nil {
			return err
		}
		for _, a := range attached {
			items = append(items, keyed[iotdm.Policy]{timeKey(a.AttachedAt, a.PolicyName), p.policyRef(a.PolicyName)})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	policies, next := markerPage("principalpolicies", items, after, size, in.AscendingOrder)
	return &iotdm.ListPrincipalPoliciesOutput{Policies: policies, NextMarker: next}, nil
}

// ListAttachedPolicies lists the policies attached to a target in name
// order; recursive on a thing group adds those of every ancestor group.
func (p *Policies) ListAttachedPolicies(ctx context.Context, in *iotdm.ListAttachedPoliciesInput) (*iotdm.ListAttachedPoliciesOutput, error) {
	t, err := p.parseTarget("target", in.Target)
	if err != nil {
		return nil, err
	}
	size, err := pageSizeOf("pageSize", in.PageSize)
	if err != nil {
		return nil, err
	}
	after, err := decodeMarker("attachedpolicies", in.Marker)
	if err != nil {
		return nil, err
	}
	var names []string
	err = p.reg.view(ctx, func(ctx context.Context, tx iotdm.ReadTx) error {
		g, err := p.loadTarget(ctx, tx, t)
		if err != nil {
			return err
		}
		if g != nil && in.Recursive {
			names, err = p.groupChainPolicies(ctx, tx, g)
		} else {
			names, err = attachedPolicyNames(ctx, tx, t.id)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	items := make([]keyed[iotdm.Policy], 0, len(names))
	for _, name := range dedupe(names) {
		items = append(items, keyed[iotdm.Policy]{name, p.policyRef(name)})
	}
	policies, next := markerPage("attachedpolicies", items, after, size, true)
	return &iotdm.ListAttachedPoliciesOutput{Policies: policies, NextMarker: next}, nil
}

// ListTargetsForPolicy lists the targets of a policy in order, leaving out
// certificates and groups deleted since they were attached.
func (p *Policies) ListTargetsForPolicy(ctx context.Context, in *iotdm.ListTargetsForPolicyInput) (*iotdm.ListTargetsForPolicyOutput, error) {
	if err := validatePolicyName(in.PolicyName); err != nil {
		return nil, err
	}
	size, err := pageSizeOf("pageSize", in.PageSize)
	if err != nil {
		return nil, err
	}
	after, err := decodeMarker("policytargets", in.Marker)
	if err != nil {
		return nil, err
	}
	pg := pager[string]{size: size}
	err = p.reg.view(ctx, func(ctx context.Context, tx iotdm.ReadTx) error {
		if _, err := p.loadPolicy(ctx, tx, in.PolicyName); err != nil {
			return err
		}
		prefix := in.PolicyName + "/"
		start := ""
		if after != "" {
			start = prefix + after
		}
		return tx.Scan(ctx, iotdm.KindPolicyTarget, prefix, start, 0, func(key string, _ []byte) error {
			target := strings.TrimPrefix(key, prefix)
			live, err := p.targetExists(ctx, tx, target)
			if err != nil || !live {
				return err
			}
			if !pg.add(target, target) {
				return iotdm.ErrStopScan
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	out := &iotdm.ListTargetsForPolicyOutput{Targets: pg.items, NextMarker: pg.nextMarker("policytargets")}
	if out.Targets == nil {
		out.Targets = []string{}
	}
	return out, nil
}
