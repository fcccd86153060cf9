package stack

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/iotdm/iotdm"
)

// IoT holds the services the AWS::IoT::* providers call.
type IoT struct {
	Registry     iotdm.Registry
	Dynamic      iotdm.DynamicGroups
	Policies     iotdm.Policies
	Certificates iotdm.Certificates
	FleetMetrics iotdm.FleetMetrics
	// ThingTypeDeleteRetry bounds how long deleting a thing type waits for
	// its deprecation to age (AWS: 5 minutes); zero means 6 minutes.
	ThingTypeDeleteRetry time.Duration
}

// Types returns the AWS::IoT resource types these services deploy.
func (s *IoT) Types() []*Type {
	return append([]*Type{s.fleetMetricType()}, s.types()...)
}

func (s *IoT) types() []*Type {
	return []*Type{
		{Name: "AWS::IoT::ThingType", Provider: thingTypes{s}, NameProperty: "ThingTypeName", NameMax: 128,
			Properties: []string{"ThingTypeName", "DeprecateThingType", "ThingTypeProperties", "Tags"},
			CreateOnly: []string{"ThingTypeName", "ThingTypeProperties/SearchableAttributes", "ThingTypeProperties/ThingTypeDescription"},
			Attributes: []string{"Arn", "Id"}},
		{Name: "AWS::IoT::Thing", Provider: things{s}, NameProperty: "ThingName", NameMax: 128,
			Properties: []string{"ThingName", "AttributePayload"},
			CreateOnly: []string{"ThingName"},
			Attributes: []string{"Arn", "Id"}},
		{Name: "AWS::IoT::ThingGroup", Provider: thingGroups{s}, NameProperty: "ThingGroupName", NameMax: 128,
			Properties: []string{"ThingGroupName", "ParentGroupName", "QueryString", "ThingGroupProperties", "Tags"},
			CreateOnly: []string{"ThingGroupName", "ParentGroupName"},
			Attributes: []string{"Arn", "Id"}},
		{Name: "AWS::IoT::Policy", Provider: policies{s}, NameProperty: "PolicyName", NameMax: 128,
			Properties: []string{"PolicyName", "PolicyDocument", "Tags"},
			Required:   []string{"PolicyDocument"},
			CreateOnly: []string{"PolicyName"},
			Attributes: []string{"Arn", "Id"}, Security: true},
		{Name: "AWS::IoT::PolicyPrincipalAttachment", Provider: policyAttachments{s},
			Properties: []string{"PolicyName", "Principal"},
			Required:   []string{"PolicyName", "Principal"},
			CreateOnly: []string{"PolicyName", "Principal"},
			Attributes: []string{"Id"}, Security: true},
		{Name: "AWS::IoT::ThingPrincipalAttachment", Provider: thingAttachments{s},
			Properties: []string{"ThingName", "Principal", "ThingPrincipalType"},
			Required:   []string{"ThingName", "Principal"},
			CreateOnly: []string{"ThingName", "Principal", "ThingPrincipalType"},
			Attributes: []string{"Id"}, Security: true},
		{Name: "AWS::IoT::Certificate", Provider: certificates{s},
			Properties: []string{"CertificateSigningRequest", "CACertificatePem", "CertificatePem", "CertificateMode", "Status"},
			Required:   []string{"Status"},
			CreateOnly: []string{"CertificateSigningRequest", "CACertificatePem", "CertificatePem", "CertificateMode"},
			Attributes: []string{"Arn", "Id"}, SecurityProperties: []string{"Status"}},
	}
}

// --- AWS::IoT::ThingType ---

type thingTypes struct{ s *IoT }

func (p thingTypes) Create(ctx context.Context, r *Request) (*Result, error) {
	name := nameOr(r, "ThingTypeName")
	props, err := thingTypeProperties(r.Properties)
	if err != nil {
		return nil, err
	}
	tags, err := resourceTags(r)
	if err != nil {
		return nil, err
	}
	out, err := p.s.Registry.CreateThingType(ctx, &iotdm.CreateThingTypeInput{ThingTypeName: name, ThingTypeProperties: props, Tags: tags})
	if err != nil {
		return nil, err
	}
	res := &Result{PhysicalID: out.ThingTypeName, Attributes: map[string]any{"Arn": out.ThingTypeARN, "Id": out.ThingTypeID}}
	if dep, err := propBool(r.Properties, "DeprecateThingType"); err != nil || dep {
		if err != nil {
			return res, err
		}
		if _, err := p.s.Registry.DeprecateThingType(ctx, &iotdm.DeprecateThingTypeInput{ThingTypeName: name}); err != nil {
			return res, err
		}
	}
	return res, nil
}

func (p thingTypes) Update(ctx context.Context, r *Request) (*Result, error) {
	name := r.PhysicalID
	oldProps, _ := thingTypeProperties(r.OldProperties)
	props, err := thingTypeProperties(r.Properties)
	if err != nil {
		return nil, err
	}
	if !jsonEqual(toAny(oldProps), toAny(props)) {
		if _, err := p.s.Registry.UpdateThingType(ctx, &iotdm.UpdateThingTypeInput{ThingTypeName: name, ThingTypeProperties: props}); err != nil {
			return nil, err
		}
	}
	oldDep, _ := propBool(r.OldProperties, "DeprecateThingType")
	dep, err := propBool(r.Properties, "DeprecateThingType")
	if err != nil {
		return nil, err
	}
	if dep != oldDep {
		if _, err := p.s.Registry.DeprecateThingType(ctx, &iotdm.DeprecateThingTypeInput{ThingTypeName: name, UndoDeprecate: !dep}); err != nil {
			return nil, err
		}
	}
	if err := retag(ctx, p.s.Registry, arnOf(r.OldAttributes), r); err != nil {
		return nil, err
	}
	return &Result{PhysicalID: name, Attributes: r.OldAttributes}, nil
}

func (p thingTypes) Delete(ctx context.Context, r *Request) error {
	name := r.PhysicalID
	d, err := p.s.Registry.DescribeThingType(ctx, &iotdm.DescribeThingTypeInput{ThingTypeName: name})
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !d.ThingTypeMetadata.Deprecated {
		if _, err := p.s.Registry.DeprecateThingType(ctx, &iotdm.DeprecateThingTypeInput{ThingTypeName: name}); err != nil {
			return err
		}
	}
	// AWS: a thing type can be deleted 5 minutes after its deprecation;
	// CloudFormation waits, and so does this provider.
	limit := p.s.ThingTypeDeleteRetry
	if limit <= 0 {
		limit = 6 * time.Minute
	}
	deadline := time.Now().Add(limit)
	wait := 100 * time.Millisecond
	for {
		_, err := p.s.Registry.DeleteThingType(ctx, &iotdm.DeleteThingTypeInput{ThingTypeName: name})
		if err == nil || isNotFound(err) {
			return nil
		}
		// Only the wait for the deprecation to age is worth waiting out;
		// a type still used by things stays refused.
		if iotdm.CodeOf(err) != iotdm.ErrInvalidRequest || !strings.Contains(err.Error(), "deprecated less than") ||
			time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, 5*time.Second)
	}
}

func thingTypeProperties(p map[string]any) (*iotdm.ThingTypeProperties, error) {
	m := propMap(p, "ThingTypeProperties")
	if m == nil {
		return nil, nil
	}
	attrs, err := propStrings(m, "SearchableAttributes")
	if err != nil {
		return nil, err
	}
	out := &iotdm.ThingTypeProperties{ThingTypeDescription: propString(m, "ThingTypeDescription"), SearchableAttributes: attrs}
	if mq := propMap(m, "Mqtt5Configuration"); mq != nil {
		cfg := &iotdm.Mqtt5Configuration{}
		if list, ok := mq["PropagatingAttributes"].([]any); ok {
			for _, e := range list {
				em, _ := e.(map[string]any)
				cfg.PropagatingAttributes = append(cfg.PropagatingAttributes, iotdm.PropagatingAttribute{
					UserPropertyKey: propString(em, "UserPropertyKey"), ThingAttribute: propString(em, "ThingAttribute"),
					ConnectionAttribute: propString(em, "ConnectionAttribute")})
			}
		}
		out.Mqtt5Configuration = cfg
	}
	return out, nil
}

// --- AWS::IoT::Thing ---

type things struct{ s *IoT }

func thingAttributes(p map[string]any) (*iotdm.AttributePayload, error) {
	m := propMap(p, "AttributePayload")
	if m == nil {
		return nil, nil
	}
	attrs, err := propStringMap(m, "Attributes")
	if err != nil {
		return nil, err
	}
	return &iotdm.AttributePayload{Attributes: attrs}, nil
}

func (p things) Create(ctx context.Context, r *Request) (*Result, error) {
	payload, err := thingAttributes(r.Properties)
	if err != nil {
		return nil, err
	}
	out, err := p.s.Registry.CreateThing(ctx, &iotdm.CreateThingInput{ThingName: nameOr(r, "ThingName"), AttributePayload: payload})
	if err != nil {
		return nil, err
	}
	return &Result{PhysicalID: out.ThingName, Attributes: map[string]any{"Arn": out.ThingARN, "Id": out.ThingID}}, nil
}

func (p things) Update(ctx context.Context, r *Request) (*Result, error) {
	payload, err := thingAttributes(r.Properties)
	if err != nil {
		return nil, err
	}
	if payload == nil {
		payload = &iotdm.AttributePayload{}
	}
	// The template's attributes replace the thing's (merge false): an
	// attribute dropped from the template is removed. AWS removes an
	// attribute given an empty value with merge; without merge it replaces.
	payload.Merge = false
	if payload.Attributes == nil {
		payload.Attributes = map[string]string{}
	}
	if _, err := p.s.Registry.UpdateThing(ctx, &iotdm.UpdateThingInput{ThingName: r.PhysicalID, AttributePayload: payload}); err != nil {
		return nil, err
	}
	return &Result{PhysicalID: r.PhysicalID, Attributes: r.OldAttributes}, nil
}

func (p things) Delete(ctx context.Context, r *Request) error {
	_, err := p.s.Registry.DeleteThing(ctx, &iotdm.DeleteThingInput{ThingName: r.PhysicalID})
	if isNotFound(err) {
		return nil
	}
	return err
}

// --- AWS::IoT::ThingGroup (static, or dynamic with QueryString) ---

type thingGroups struct{ s *IoT }

func groupProperties(p map[string]any) (*iotdm.ThingGroupProperties, error) {
	m := propMap(p, "ThingGroupProperties")
	if m == nil {
		return nil, nil
	}
	out := &iotdm.ThingGroupProperties{ThingGroupDescription: propString(m, "ThingGroupDescription")}
	if ap := propMap(m, "AttributePayload"); ap != nil {
		attrs, err := propStringMap(ap, "Attributes")
		if err != nil {
			return nil, err
		}
		out.AttributePayload = &iotdm.AttributePayload{Attributes: attrs}
	}
	return out, nil
}

func (p thingGroups) Create(ctx context.Context, r *Request) (*Result, error) {
	name := nameOr(r, "ThingGroupName")
	props, err := groupProperties(r.Properties)
	if err != nil {
		return nil, err
	}
	tags, err := resourceTags(r)
	if err != nil {
		return nil, err
	}
	if q := propString(r.Properties, "QueryString"); q != "" {
		if parent := propString(r.Properties, "ParentGroupName"); parent != "" {
			return nil, iotdm.Errorf(iotdm.ErrInvalidRequest, "A dynamic thing group cannot have a parent group")
		}
		out, err := p.s.Dynamic.CreateDynamicThingGroup(ctx, &iotdm.CreateDynamicThingGroupInput{ThingGroupName: name,
			ThingGroupProperties: props, QueryString: q, Tags: tags})
		if err != nil {
			return nil, err
		}
		return &Result{PhysicalID: out.ThingGroupName, Attributes: map[string]any{"Arn": out.ThingGroupARN, "Id": out.ThingGroupID}}, nil
	}
	out, err := p.s.Registry.CreateThingGroup(ctx, &iotdm.CreateThingGroupInput{ThingGroupName: name,
		ParentGroupName: propString(r.Properties, "ParentGroupName"), ThingGroupProperties: props, Tags: tags})
	if err != nil {
		return nil, err
	}
	return &Result{PhysicalID: out.ThingGroupName, Attributes: map[string]any{"Arn": out.ThingGroupARN, "Id": out.ThingGroupID}}, nil
}

func (p thingGroups) Update(ctx context.Context, r *Request) (*Result, error) {
	oldQ, newQ := propString(r.OldProperties, "QueryString"), propString(r.Properties, "QueryString")
	if (oldQ == "") != (newQ == "") {
		return nil, iotdm.Errorf(iotdm.ErrInvalidRequest, "A static thing group cannot become dynamic or a dynamic one static; rename the group to replace it")
	}
	props, err := groupProperties(r.Properties)
	if err != nil {
		return nil, err
	}
	if props == nil {
		props = &iotdm.ThingGroupProperties{}
	}
	if props.AttributePayload == nil {
		props.AttributePayload = &iotdm.AttributePayload{Attributes: map[string]string{}}
	}
	if newQ != "" {
		if _, err := p.s.Dynamic.UpdateDynamicThingGroup(ctx, &iotdm.UpdateDynamicThingGroupInput{ThingGroupName: r.PhysicalID,
			ThingGroupProperties: props, QueryString: newQ}); err != nil {
			return nil, err
		}
	} else if _, err := p.s.Registry.UpdateThingGroup(ctx, &iotdm.UpdateThingGroupInput{ThingGroupName: r.PhysicalID,
		ThingGroupProperties: props}); err != nil {
		return nil, err
	}
	if err := retag(ctx, p.s.Registry, arnOf(r.OldAttributes), r); err != nil {
		return nil, err
	}
	return &Result{PhysicalID: r.PhysicalID, Attributes: r.OldAttributes}, nil
}

func (p thingGroups) Delete(ctx context.Context, r *Request) error {
	var err error
	if propString(r.OldProperties, "QueryString") != "" {
		_, err = p.s.Dynamic.DeleteDynamicThingGroup(ctx, &iotdm.DeleteDynamicThingGroupInput{ThingGroupName: r.PhysicalID})
	} else {
		_, err = p.s.Registry.DeleteThingGroup(ctx, &iotdm.DeleteThingGroupInput{ThingGroupName: r.PhysicalID})
	}
	if isNotFound(err) {
		return nil
	}
	return err
}

// --- AWS::IoT::Policy ---

type policies struct{ s *IoT }

func (p policies) Create(ctx context.Context, r *Request) (*Result, error) {
	doc, err := propDocument(r.Properties, "PolicyDocument")
	if err != nil {
		return nil, err
	}
	tags, err := resourceTags(r)
	if err != nil {
		return nil, err
	}
	out, err := p.s.Policies.CreatePolicy(ctx, &iotdm.CreatePolicyInput{PolicyName: nameOr(r, "PolicyName"), PolicyDocument: doc, Tags: tags})
	if err != nil {
		return nil, err
	}
	return &Result{PhysicalID: out.PolicyName, Attributes: map[string]any{"Arn": out.PolicyARN, "Id": out.PolicyName}}, nil
}

// Update makes the new document the policy's default version, deleting the
// oldest non-default version first when the policy has AWS's maximum of
// five, as CloudFormation's handler does.
func (p policies) Update(ctx context.Context, r *Request) (*Result, error) {
	name := r.PhysicalID
	oldDoc, _ := propDocument(r.OldProperties, "PolicyDocument")
	doc, err := propDocument(r.Properties, "PolicyDocument")
	if err != nil {
		return nil, err
	}
	if !jsonEqual(parseJSONOr(oldDoc), parseJSONOr(doc)) {
		versions, err := p.s.Policies.ListPolicyVersions(ctx, &iotdm.ListPolicyVersionsInput{PolicyName: name})
		if err != nil {
			return nil, err
		}
		if len(versions.PolicyVersions) >= 5 {
			oldest := ""
			var oldestAt time.Time
			for _, v := range versions.PolicyVersions {
				if v.IsDefaultVersion {
					continue
				}
				if at := v.CreateDate.Time; oldest == "" || at.Before(oldestAt) {
					oldest, oldestAt = v.VersionID, at
				}
			}
			if oldest != "" {
				if _, err := p.s.Policies.DeletePolicyVersion(ctx, &iotdm.DeletePolicyVersionInput{PolicyName: name, PolicyVersionID: oldest}); err != nil {
					return nil, err
				}
			}
		}
		if _, err := p.s.Policies.CreatePolicyVersion(ctx, &iotdm.CreatePolicyVersionInput{PolicyName: name, PolicyDocument: doc, SetAsDefault: true}); err != nil {
			return nil, err
		}
	}
	if err := retag(ctx, p.s.Registry, arnOf(r.OldAttributes), r); err != nil {
		return nil, err
	}
	return &Result{PhysicalID: name, Attributes: r.OldAttributes}, nil
}

// Delete removes the policy's non-default versions, then the policy.
func (p policies) Delete(ctx context.Context, r *Request) error {
	name := r.PhysicalID
	versions, err := p.s.Policies.ListPolicyVersions(ctx, &iotdm.ListPolicyVersionsInput{PolicyName: name})
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, v := range versions.PolicyVersions {
		if v.IsDefaultVersion {
			continue
		}
		if _, err := p.s.Policies.DeletePolicyVersion(ctx, &iotdm.DeletePolicyVersionInput{PolicyName: name, PolicyVersionID: v.VersionID}); err != nil && !isNotFound(err) {
			return err
		}
	}
	_, err = p.s.Policies.DeletePolicy(ctx, &iotdm.DeletePolicyInput{PolicyName: name})
	if isNotFound(err) {
		return nil
	}
	return err
}

// --- AWS::IoT::PolicyPrincipalAttachment ---

type policyAttachments struct{ s *IoT }

func (p policyAttachments) Create(ctx context.Context, r *Request) (*Result, error) {
	policy, principal := propString(r.Properties, "PolicyName"), propString(r.Properties, "Principal")
	if _, err := p.s.Policies.AttachPolicy(ctx, &iotdm.AttachPolicyInput{PolicyName: policy, Target: principal}); err != nil {
		return nil, err
	}
	id := r.GeneratedName
	return &Result{PhysicalID: id, Attributes: map[string]any{"Id": id}}, nil
}

func (p policyAttachments) Update(ctx context.Context, r *Request) (*Result, error) {
	return nil, errors.New("AWS::IoT::PolicyPrincipalAttachment has no updatable properties")
}

func (p policyAttachments) Delete(ctx context.Context, r *Request) error {
	policy, principal := propString(r.OldProperties, "PolicyName"), propString(r.OldProperties, "Principal")
	_, err := p.s.Policies.DetachPolicy(ctx, &iotdm.DetachPolicyInput{PolicyName: policy, Target: principal})
	if isNotFound(err) {
		return nil
	}
	return err
}

// --- AWS::IoT::ThingPrincipalAttachment ---

type thingAttachments struct{ s *IoT }

func (p thingAttachments) Create(ctx context.Context, r *Request) (*Result, error) {
	thing, principal := propString(r.Properties, "ThingName"), propString(r.Properties, "Principal")
	if _, err := p.s.Certificates.AttachThingPrincipal(ctx, &iotdm.AttachThingPrincipalInput{ThingName: thing, Principal: principal,
		ThingPrincipalType: propString(r.Properties, "ThingPrincipalType")}); err != nil {
		return nil, err
	}
	id := r.GeneratedName
	return &Result{PhysicalID: id, Attributes: map[string]any{"Id": id}}, nil
}

func (p thingAttachments) Update(ctx context.Context, r *Request) (*Result, error) {
	return nil, errors.New("AWS::IoT::ThingPrincipalAttachment has no updatable properties")
}

func (p thingAttachments) Delete(ctx context.Context, r *Request) error {
	thing, principal := propString(r.OldProperties, "ThingName"), propString(r.OldProperties, "Principal")
	_, err := p.s.Certificates.DetachThingPrincipal(ctx, &iotdm.DetachThingPrincipalInput{ThingName: thing, Principal: principal})
	if isNotFound(err) {
		return nil
	}
	return err
}

// --- AWS::IoT::Certificate ---

type certificates struct{ s *IoT }

func (p certificates) Create(ctx context.Context, r *Request) (*Result, error) {
	status := propString(r.Properties, "Status")
	switch status {
	case "ACTIVE", "INACTIVE", "REVOKED", "PENDING_TRANSFER", "PENDING_ACTIVATION":
	default:
		return nil, fmt.Errorf("Properties validation failed: #/Status: %s is not a valid enum value", status)
	}
	var id, arn string
	switch {
	case propString(r.Properties, "CertificateSigningRequest") != "":
		out, err := p.s.Certificates.CreateCertificateFromCsr(ctx, &iotdm.CreateCertificateFromCsrInput{
			CertificateSigningRequest: propString(r.Properties, "CertificateSigningRequest"), SetAsActive: status == "ACTIVE"})
		if err != nil {
			return nil, err
		}
		id, arn = out.CertificateID, out.CertificateARN
	case propString(r.Properties, "CertificatePem") != "":
		pem := propString(r.Properties, "CertificatePem")
		if propString(r.Properties, "CertificateMode") == "SNI_ONLY" || propString(r.Properties, "CACertificatePem") == "" {
			out, err := p.s.Certificates.RegisterCertificateWithoutCA(ctx, &iotdm.RegisterCertificateWithoutCAInput{CertificatePem: pem, Status: status})
			if err != nil {
				return nil, err
			}
			id, arn = out.CertificateID, out.CertificateARN
		} else {
			out, err := p.s.Certificates.RegisterCertificate(ctx, &iotdm.RegisterCertificateInput{CertificatePem: pem,
				CACertificatePem: propString(r.Properties, "CACertificatePem"), Status: status})
			if err != nil {
				return nil, err
			}
			id, arn = out.CertificateID, out.CertificateARN
		}
	default:
		return nil, errors.New("Properties validation failed: one of CertificateSigningRequest or CertificatePem is required")
	}
	res := &Result{PhysicalID: id, Attributes: map[string]any{"Arn": arn, "Id": id}}
	if status != "ACTIVE" && propString(r.Properties, "CertificateSigningRequest") != "" && status != "INACTIVE" {
		if _, err := p.s.Certificates.UpdateCertificate(ctx, &iotdm.UpdateCertificateInput{CertificateID: id, NewStatus: status}); err != nil {
			return res, err
		}
	}
	return res, nil
}

func (p certificates) Update(ctx context.Context, r *Request) (*Result, error) {
	status := propString(r.Properties, "Status")
	if _, err := p.s.Certificates.UpdateCertificate(ctx, &iotdm.UpdateCertificateInput{CertificateID: r.PhysicalID, NewStatus: status}); err != nil {
		return nil, err
	}
	return &Result{PhysicalID: r.PhysicalID, Attributes: r.OldAttributes}, nil
}

// Delete deactivates the certificate (AWS refuses to delete an ACTIVE one),
// then deletes it.
func (p certificates) Delete(ctx context.Context, r *Request) error {
	d, err := p.s.Certificates.DescribeCertificate(ctx, &iotdm.DescribeCertificateInput{CertificateID: r.PhysicalID})
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if d.CertificateDescription.Status == "ACTIVE" {
		if _, err := p.s.Certificates.UpdateCertificate(ctx, &iotdm.UpdateCertificateInput{CertificateID: r.PhysicalID, NewStatus: "INACTIVE"}); err != nil {
			return err
		}
	}
	_, err = p.s.Certificates.DeleteCertificate(ctx, &iotdm.DeleteCertificateInput{CertificateID: r.PhysicalID})
	if isNotFound(err) {
		return nil
	}
	return err
}

// --- helpers ---

// nameOr returns the name property, or the generated name when absent.
func nameOr(r *Request, prop string) string {
	if n := propString(r.Properties, prop); n != "" {
		return n
	}
	return r.GeneratedName
}

func arnOf(attrs map[string]any) string {
	s, _ := attrs["Arn"].(string)
	return s
}

// tagger is the tagging surface of the IoT registry.
type tagger interface {
	TagResource(ctx context.Context, in *iotdm.TagResourceInput) (*iotdm.Empty, error)
	UntagResource(ctx context.Context, in *iotdm.UntagResourceInput) (*iotdm.Empty, error)
}

// retag brings the tags of arn from r's old properties to its new ones.
func retag(ctx context.Context, t tagger, arn string, r *Request) error {
	if arn == "" {
		return nil
	}
	newTags, err := resourceTags(r)
	if err != nil {
		return err
	}
	oldTags, _ := resourceTags(&Request{Properties: r.OldProperties, StackTags: r.StackTags})
	if jsonEqual(toAny(oldTags), toAny(newTags)) {
		return nil
	}
	if gone := tagKeysRemoved(oldTags, newTags); len(gone) > 0 {
		if _, err := t.UntagResource(ctx, &iotdm.UntagResourceInput{ResourceARN: arn, TagKeys: gone}); err != nil {
			return err
		}
	}
	if len(newTags) > 0 {
		if _, err := t.TagResource(ctx, &iotdm.TagResourceInput{ResourceARN: arn, Tags: newTags}); err != nil {
			return err
		}
	}
	return nil
}

// toAny turns a value into its JSON-shaped form for comparison.
func toAny(v any) any {
	b, err := jsonMarshal(v)
	if err != nil {
		return v
	}
	return parseJSONOr(string(b))
}

func parseJSONOr(s string) any {
	var v any
	if err := jsonUnmarshal([]byte(strings.TrimSpace(s)), &v); err != nil {
		return s
	}
	return v
}
