package control

import (
	"context"
	"slices"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/pki"
	"github.com/iotdm/iotdm/internal/policy"
)

// maxAuthInfos is the model's bound on TestAuthorization's authInfos.
const maxAuthInfos = 10

// authActions maps TestAuthorization's actionType to the policy action it
// checks (AWS §4.2).
var authActions = map[string]string{
	iotdm.ActionConnect:   "iot:Connect",
	iotdm.ActionPublish:   "iot:Publish",
	iotdm.ActionSubscribe: "iot:Subscribe",
	iotdm.ActionReceive:   "iot:Receive",
}

// effectivePolicy is a policy with the document of its default version.
type effectivePolicy struct {
	name, arn, document string
}

// loadEffective loads the default document of each named policy. A name
// whose policy is gone is left out.
func (p *Policies) loadEffective(ctx context.Context, tx iotdm.ReadTx, names []string) ([]effectivePolicy, error) {
	out := make([]effectivePolicy, 0, len(names))
	for _, name := range names {
		rec, ok, err := get[policyRecord](ctx, tx, iotdm.KindPolicy, name)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		v, err := p.loadVersion(ctx, tx, name, rec.DefaultVersionID)
		if err != nil {
			return nil, err
		}
		out = append(out, effectivePolicy{name: name, arn: rec.PolicyARN, document: v.PolicyDocument})
	}
	return out, nil
}

// named parses effective policies for evaluation. Documents were validated
// when stored; one that no longer parses counts as a policy with no
// statements, and is logged.
func (p *Policies) named(policies []effectivePolicy) []policy.Named {
	out := make([]policy.Named, 0, len(policies))
	for _, e := range policies {
		doc, err := p.docs.parse(e.document)
		if err != nil {
			p.log.Warn("stored policy document does not parse", "policy", e.name, "err", err)
		}
		out = append(out, policy.Named{Name: e.name, Doc: doc})
	}
	return out
}

// ConnectionPolicies returns the policies that decide what a connection of
// principal (a certificate ARN or id, or a Cognito identity id) with MQTT
// client id clientID may do, each with the document of its default
// version, and the context to evaluate them in (AWS §4.4, §4.6):
//
//   - the policies attached to the principal;
//   - when clientID names a registered thing attached to the principal, the
//     policies of the thing's static groups and of all their ancestors
//     (group policies count only when the client id is the thing name);
//   - the context's certificate variables come from the principal's
//     certificate, its thing variables from that thing, which resolve only
//     when it is attached to the principal (IsAttached); Time is now.
//
// The caller adds SourceIP. The principal must exist; whether it may
// connect at all (an ACTIVE certificate) is the caller's to decide.
// TestAuthorization and the broker share this one answer.
func (p *Policies) ConnectionPolicies(ctx context.Context, principal, clientID string) ([]policy.Named, policy.Context, error) {
	pctx := policy.Context{ClientID: clientID, Time: p.reg.opts.Now().UTC()}
	t, err := p.parsePrincipal(principal)
	if err != nil {
		return nil, pctx, err
	}
	if t.kind == targetThingGroup {
		return nil, pctx, invalid("Invalid principal %s: a principal is a certificate ARN or a Cognito identity id", principal)
	}
	var effective []effectivePolicy
	err = p.reg.view(ctx, func(ctx context.Context, tx iotdm.ReadTx) error {
		if _, err := p.loadTarget(ctx, tx, t); err != nil {
			return err
		}
		if t.kind == targetCertificate {
			ci, err := p.certificateContext(ctx, tx, t.name)
			if err != nil {
				return err
			}
			pctx.Certificate = ci
		}
		names, err := attachedPolicyNames(ctx, tx, t.id)
		if err != nil {
			return err
		}
		if clientID != "" {
			thing, ok, err := get[iotdm.Thing](ctx, tx, iotdm.KindThing, clientID)
			if err != nil {
				return err
			}
			if ok {
				_, attached, err := tx.Get(ctx, iotdm.KindPrincipalThing, t.id+"/"+thing.ThingName)
				if err != nil {
					return err
				}
				pctx.Thing = &policy.Thing{Name: thing.ThingName, TypeName: thing.ThingTypeName, Attributes: thing.Attributes, IsAttached: attached}
				// AWS associates a connection with the thing its client id
				// names only once the certificate is attached to it, so an
				// unattached certificate inherits nothing from the thing.
				if attached {
					inherited, err := p.thingGroupPolicies(ctx, tx, thing.ThingName)
					if err != nil {
						return err
					}
					names = append(names, inherited...)
				}
			}
		}
		effective, err = p.loadEffective(ctx, tx, dedupe(names))
		return err
	})
	if err != nil {
		return nil, pctx, err
	}
	return p.named(effective), pctx, nil
}

// certificateContext returns the certificate variables of a stored
// certificate; nil (with a log line) when its PEM does not parse.
func (p *Policies) certificateContext(ctx context.Context, tx iotdm.ReadTx, id string) (*policy.CertInfo, error) {
	cert, err := loadCertificate(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	x, err := pki.ParseCertificatePEM([]byte(cert.CertificatePem))
	if err != nil {
		p.log.Warn("stored certificate does not parse", "certificateId", id, "err", err)
		return nil, nil
	}
	ci := policy.CertificateContext(x)
	return &ci, nil
}

// GetEffectivePolicies returns the policies that apply to a principal
// and, when thingName is given, those the thing inherits from its static
// groups and their ancestors, each once with its default document. A thing
// group ARN as principal gives the group's policies and its ancestors'.
func (p *Policies) GetEffectivePolicies(ctx context.Context, in *iotdm.GetEffectivePoliciesInput) (*iotdm.GetEffectivePoliciesOutput, error) {
	if in.Principal == "" && in.ThingName == "" {
		return nil, invalid("Either principal or thingName must be specified")
	}
	if err := validateOptionalName("thingName", in.ThingName); err != nil {
		return nil, err
	}
	var t policyTarget
	if in.Principal != "" {
		var err error
		if t, err = p.parsePrincipal(in.Principal); err != nil {
			return nil, err
		}
	}
	var effective []effectivePolicy
	err := p.reg.view(ctx, func(ctx context.Context, tx iotdm.ReadTx) error {
		var names []string
		if in.Principal != "" {
			g, err := p.loadTarget(ctx, tx, t)
			if err != nil {
				return err
			}
			if g != nil {
				names, err = p.groupChainPolicies(ctx, tx, g)
			} else {
				names, err = attachedPolicyNames(ctx, tx, t.id)
			}
			if err != nil {
				return err
			}
		}
		if in.ThingName != "" {
			if _, err := p.reg.loadThing(ctx, tx, in.ThingName); err != nil {
				return err
			}
			inherited, err := p.thingGroupPolicies(ctx, tx, in.ThingName)
			if err != nil {
				return err
			}
			names = append(names, inherited...)
		}
		var err error
		effective, err = p.loadEffective(ctx, tx, dedupe(names))
		return err
	})
	if err != nil {
		return nil, err
	}
	out := &iotdm.GetEffectivePoliciesOutput{EffectivePolicies: make([]iotdm.EffectivePolicy, 0, len(effective))}
	for _, e := range effective {
		out.EffectivePolicies = append(out.EffectivePolicies, iotdm.EffectivePolicy{PolicyName: e.name, PolicyARN: e.arn, PolicyDocument: e.document})
	}
	return out, nil
}

// TestAuthorization evaluates each authInfo against the policies of
// ConnectionPolicies(principal, clientId), with policyNamesToAdd treated as
// attached and policyNamesToSkip as detached (AWS §4.7).
func (p *Policies) TestAuthorization(ctx context.Context, in *iotdm.TestAuthorizationInput) (*iotdm.TestAuthorizationOutput, error) {
	if n := len(in.AuthInfos); n < 1 || n > maxAuthInfos {
		return nil, invalid("1 validation error detected: Value at 'authInfos' failed to satisfy constraint: Member must have length between 1 and %d", maxAuthInfos)
	}
	for _, ai := range in.AuthInfos {
		if _, ok := authActions[ai.ActionType]; !ok {
			return nil, invalid("Invalid actionType %q: must be one of CONNECT, PUBLISH, SUBSCRIBE, RECEIVE", ai.ActionType)
		}
		if len(ai.Resources) == 0 {
			return nil, invalid("authInfos.resources must not be empty")
		}
	}
	if err := validatePolicyNames(in.PolicyNamesToAdd); err != nil {
		return nil, err
	}
	if err := validatePolicyNames(in.PolicyNamesToSkip); err != nil {
		return nil, err
	}
	if in.Principal == "" {
		return nil, invalid("principal must be specified")
	}
	policies, pctx, err := p.ConnectionPolicies(ctx, in.Principal, in.ClientID)
	if err != nil {
		return nil, err
	}
	if len(in.PolicyNamesToAdd) > 0 {
		var added []effectivePolicy
		err := p.reg.view(ctx, func(ctx context.Context, tx iotdm.ReadTx) error {
			for _, name := range in.PolicyNamesToAdd {
				if _, err := p.loadPolicy(ctx, tx, name); err != nil {
					return err
				}
			}
			var err error
			added, err = p.loadEffective(ctx, tx, in.PolicyNamesToAdd)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, n := range p.named(added) {
			if !slices.ContainsFunc(policies, func(have policy.Named) bool { return have.Name == n.Name }) {
				policies = append(policies, n)
			}
		}
	}
	policies = slices.DeleteFunc(policies, func(n policy.Named) bool { return slices.Contains(in.PolicyNamesToSkip, n.Name) })
	out := &iotdm.TestAuthorizationOutput{AuthResults: make([]iotdm.AuthResult, 0, len(in.AuthInfos))}
	for _, ai := range in.AuthInfos {
		out.AuthResults = append(out.AuthResults, p.authorize(policies, pctx, ai))
	}
	return out, nil
}

// authorize decides one authInfo. With several resources the decision is
// an explicit deny if any resource is explicitly denied, allowed only if
// every resource is allowed, and an implicit deny otherwise; a policy is
// listed under explicitDeny if it denies any resource, else under allowed
// if it allows any, else under implicitDeny.
func (p *Policies) authorize(policies []policy.Named, pctx policy.Context, ai iotdm.AuthInfo) iotdm.AuthResult {
	action := authActions[ai.ActionType]
	deny, allow := map[string]bool{}, map[string]bool{}
	var missing []string
	allAllowed, anyDenied := true, false
	for _, resource := range ai.Resources {
		r := policy.Evaluate(policies, pctx, action, resource)
		switch r.Decision {
		case policy.ExplicitDeny:
			anyDenied = true
		case policy.ImplicitDeny:
			allAllowed = false
		}
		for _, n := range r.ExplicitDeny {
			deny[n] = true
		}
		for _, n := range r.Allowed {
			allow[n] = true
		}
		missing = append(missing, r.MissingContextValues...)
	}
	res := iotdm.AuthResult{
		AuthInfo:             ai,
		Allowed:              iotdm.Allowed{Policies: []iotdm.Policy{}},
		Denied:               iotdm.Denied{ImplicitDeny: iotdm.ImplicitDeny{Policies: []iotdm.Policy{}}, ExplicitDeny: iotdm.ExplicitDeny{Policies: []iotdm.Policy{}}},
		AuthDecision:         iotdm.AuthDecisionImplicitDeny,
		MissingContextValues: append([]string{}, dedupe(missing)...),
	}
	switch {
	case anyDenied:
		res.AuthDecision = iotdm.AuthDecisionExplicitDeny
	case allAllowed:
		res.AuthDecision = iotdm.AuthDecisionAllowed
	}
	for _, n := range policies {
		ref := p.policyRef(n.Name)
		switch {
		case deny[n.Name]:
			res.Denied.ExplicitDeny.Policies = append(res.Denied.ExplicitDeny.Policies, ref)
		case allow[n.Name]:
			res.Allowed.Policies = append(res.Allowed.Policies, ref)
		default:
			res.Denied.ImplicitDeny.Policies = append(res.Denied.ImplicitDeny.Policies, ref)
		}
	}
	return res
}
