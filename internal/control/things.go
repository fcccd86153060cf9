package control

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"

	"github.com/google/uuid"
	"github.com/iotdm/iotdm"
)

// attrLimit is the attribute count a thing may carry: 3 without a thing type,
// 50 with one. AWS: "You can have up to three attributes for a thing without
// a type and 50 with one".
func attrLimit(thingTypeName string) int {
	if thingTypeName == "" {
		return maxUntypedAttrs
	}
	return maxTypedAttrs
}

func checkAttrCount(n int, thingTypeName string) error {
	if limit := attrLimit(thingTypeName); n > limit {
		if thingTypeName == "" {
			return invalid("A thing without a thing type can have at most %d attributes; %d given", limit, n)
		}
		return invalid("A thing can have at most %d attributes; %d given", limit, n)
	}
	return nil
}

// usableThingType checks that a thing type exists and is not deprecated.
func usableThingType(ctx context.Context, tx iotdm.ReadTx, name string) error {
	tt, ok, err := get[iotdm.ThingType](ctx, tx, iotdm.KindThingType, name)
	if err != nil {
		return err
	}
	if !ok {
		return notFound("Thing Type %s does not exist", name)
	}
	if tt.ThingTypeMetadata.Deprecated {
		// AWS's own message carries this misspelling.
		return invalid("Can not create new thing with depreated thing type : %s", name)
	}
	return nil
}

// CreateThing registers a thing. Repeating it with the same configuration
// returns the existing thing; a different configuration is refused.
func (r *Registry) CreateThing(ctx context.Context, in *iotdm.CreateThingInput) (*iotdm.CreateThingOutput, error) {
	if err := validateName("thingName", in.ThingName); err != nil {
		return nil, err
	}
	if err := validateOptionalName("thingTypeName", in.ThingTypeName); err != nil {
		return nil, err
	}
	attrs := map[string]string{}
	if in.AttributePayload != nil {
		if err := validateAttributes(in.AttributePayload.Attributes); err != nil {
			return nil, err
		}
		for k, v := range in.AttributePayload.Attributes {
			if v != "" {
				attrs[k] = v
			}
		}
	}
	if err := checkAttrCount(len(attrs), in.ThingTypeName); err != nil {
		return nil, err
	}
	if in.BillingGroupName != "" {
		if err := validateName("billingGroupName", in.BillingGroupName); err != nil {
			return nil, err
		}
		return nil, notFound("Billing group %s does not exist", in.BillingGroupName)
	}
	thing := iotdm.Thing{
		ThingName:     in.ThingName,
		ThingID:       uuid.NewString(),
		ThingARN:      r.arn("thing", in.ThingName),
		ThingTypeName: in.ThingTypeName,
		Attributes:    attrs,
		Version:       1,
		CreationDate:  r.now(),
	}
	value, err := json.Marshal(thing)
	if err != nil {
		return nil, fmt.Errorf("encode thing: %w", err)
	}
	out := &iotdm.CreateThingOutput{ThingName: thing.ThingName, ThingARN: thing.ThingARN, ThingID: thing.ThingID}
	err = r.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		old, exists, err := get[iotdm.Thing](ctx, tx, iotdm.KindThing, in.ThingName)
		if err != nil {
			return err
		}
		if exists {
			// AWS: CreateThing is idempotent for an identical configuration.
			if old.ThingTypeName == thing.ThingTypeName && maps.Equal(old.Attributes, thing.Attributes) && old.BillingGroupName == thing.BillingGroupName {
				out.ThingID = old.ThingID
				return nil
			}
			return &iotdm.Error{Code: iotdm.ErrResourceAlreadyExists,
				Message:    fmt.Sprintf("Thing %s already exists with different attributes", in.ThingName),
				ResourceID: old.ThingID, ResourceARN: old.ThingARN}
		}
		if in.ThingTypeName != "" {
			if err := usableThingType(ctx, tx, in.ThingTypeName); err != nil {
				return err
			}
		}
		return tx.Put(ctx, iotdm.KindThing, in.ThingName, value)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DescribeThing returns one thing.
func (r *Registry) DescribeThing(ctx context.Context, in *iotdm.DescribeThingInput) (*iotdm.DescribeThingOutput, error) {
	if err := validateName("thingName", in.ThingName); err != nil {
		return nil, err
	}
	thing, err := r.loadThing(ctx, r.store, in.ThingName)
	if err != nil {
		return nil, err
	}
	return &iotdm.DescribeThingOutput{
		DefaultClientID:  thing.ThingName, // AWS: the default client id is the thing name
		ThingName:        thing.ThingName,
		ThingID:          thing.ThingID,
		ThingARN:         thing.ThingARN,
		ThingTypeName:    thing.ThingTypeName,
		Attributes:       thing.Attributes,
		Version:          thing.Version,
		BillingGroupName: thing.BillingGroupName,
	}, nil
}

// UpdateThing changes a thing's type and attributes and bumps its version.
func (r *Registry) UpdateThing(ctx context.Context, in *iotdm.UpdateThingInput) (*iotdm.Empty, error) {
	if err := validateName("thingName", in.ThingName); err != nil {
		return nil, err
	}
	if err := validateOptionalName("thingTypeName", in.ThingTypeName); err != nil {
		return nil, err
	}
	if in.RemoveThingType && in.ThingTypeName != "" {
		return nil, invalid("You cannot specify both removeThingType and thingTypeName")
	}
	if in.AttributePayload != nil {
		if err := validateAttributes(in.AttributePayload.Attributes); err != nil {
			return nil, err
		}
	}
	return r.write(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		thing, ok, err := get[iotdm.Thing](ctx, tx, iotdm.KindThing, in.ThingName)
		if err != nil {
			return err
		}
		if !ok {
			return notFound("Thing %s does not exist", in.ThingName)
		}
		if err := checkVersion("thing", in.ThingName, in.ExpectedVersion, thing.Version); err != nil {
			return err
		}
		oldType := thing.ThingTypeName
		switch {
		case in.RemoveThingType:
			thing.ThingTypeName = ""
		case in.ThingTypeName != "" && in.ThingTypeName != thing.ThingTypeName:
			if err := usableThingType(ctx, tx, in.ThingTypeName); err != nil {
				return err
			}
			thing.ThingTypeName = in.ThingTypeName
		}
		if p := in.AttributePayload; p != nil {
			thing.Attributes = mergeAttributes(thing.Attributes, p)
		}
		if err := checkAttrCount(len(thing.Attributes), thing.ThingTypeName); err != nil {
			return err
		}
		thing.PreviousThingTypeName = nil
		if thing.ThingTypeName != oldType {
			thing.PreviousThingTypeName = &oldType
		}
		thing.Version++
		return put(ctx, tx, iotdm.KindThing, thing.ThingName, thing)
	})
}

// mergeAttributes applies an AttributePayload to attrs: with merge, the
// payload's attributes are added or replaced and an empty value removes one;
// without merge, the payload replaces the whole map.
func mergeAttributes(attrs map[string]string, p *iotdm.AttributePayload) map[string]string {
	out := make(map[string]string, len(attrs)+len(p.Attributes))
	if p.Merge {
		maps.Copy(out, attrs)
	}
	for k, v := range p.Attributes {
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// DeleteThing removes a thing and its group memberships. Deleting a thing
// that does not exist succeeds, as AWS does.
func (r *Registry) DeleteThing(ctx context.Context, in *iotdm.DeleteThingInput) (*iotdm.Empty, error) {
	if err := validateName("thingName", in.ThingName); err != nil {
		return nil, err
	}
	return r.write(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		thing, ok, err := get[iotdm.Thing](ctx, tx, iotdm.KindThing, in.ThingName)
		if err != nil || !ok {
			return err
		}
		if err := checkVersion("thing", in.ThingName, in.ExpectedVersion, thing.Version); err != nil {
			return err
		}
		// AWS: DeleteThing fails while principals are attached (§1.3).
		attached, err := hasAny(ctx, tx, iotdm.KindThingPrincipal, in.ThingName+"/")
		if err != nil {
			return err
		}
		if attached {
			return invalid("Cannot delete. Thing %s is still attached to one or more principals", in.ThingName)
		}
		groups, err := thingGroupNames(ctx, tx, in.ThingName)
		if err != nil {
			return err
		}
		for _, g := range groups {
			if err := removeMembership(ctx, tx, g, in.ThingName); err != nil {
				return err
			}
		}
		return tx.Delete(ctx, iotdm.KindThing, in.ThingName)
	})
}

// ListThings lists things in name order, filtered by thing type and by an
// attribute (exact value, or prefix with usePrefixAttributeValue).
func (r *Registry) ListThings(ctx context.Context, in *iotdm.ListThingsInput) (*iotdm.ListThingsOutput, error) {
	size, err := pageSize(in.MaxResults)
	if err != nil {
		return nil, err
	}
	if in.AttributeValue != "" && in.AttributeName == "" {
		return nil, invalid("attributeValue requires attributeName")
	}
	if err := validateOptionalName("thingTypeName", in.ThingTypeName); err != nil {
		return nil, err
	}
	after, err := decodeToken("things", in.NextToken)
	if err != nil {
		return nil, err
	}
	filtered := in.ThingTypeName != "" || in.AttributeName != ""
	match := func(t *iotdm.Thing) bool {
		if in.ThingTypeName != "" && t.ThingTypeName != in.ThingTypeName {
			return false
		}
		if in.AttributeName == "" {
			return true
		}
		v, ok := t.Attributes[in.AttributeName]
		switch {
		case !ok:
			return false
		case in.AttributeValue == "":
			return true
		case in.UsePrefixAttributeValue:
			return strings.HasPrefix(v, in.AttributeValue)
		default:
			return v == in.AttributeValue
		}
	}
	p := pager[iotdm.ThingAttribute]{size: size}
	limit := 0
	if !filtered {
		limit = size + 1
	}
	err = r.view(ctx, func(ctx context.Context, tx iotdm.ReadTx) error {
		return tx.Scan(ctx, iotdm.KindThing, "", after, limit, func(key string, value []byte) error {
			var t iotdm.Thing
			if err := json.Unmarshal(value, &t); err != nil {
				return fmt.Errorf("decode thing %q: %w", key, err)
			}
			if !match(&t) {
				return nil
			}
			if !p.add(key, iotdm.ThingAttribute{ThingName: t.ThingName, ThingTypeName: t.ThingTypeName,
				ThingARN: t.ThingARN, Attributes: t.Attributes, Version: t.Version}) {
				return iotdm.ErrStopScan
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	out := &iotdm.ListThingsOutput{Things: p.page(), NextToken: p.next("things")}
	return out, nil
}
