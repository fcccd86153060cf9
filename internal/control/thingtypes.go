package control

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"

	"github.com/google/uuid"
	"github.com/iotdm/iotdm"
)

func validateThingTypeProperties(p *iotdm.ThingTypeProperties) error {
	if p == nil {
		return nil
	}
	if err := validateDescription("thingTypeProperties.thingTypeDescription", p.ThingTypeDescription); err != nil {
		return err
	}
	if len(p.SearchableAttributes) > maxSearchableAttrs {
		return invalid("A thing type can have at most %d searchable attributes; %d given", maxSearchableAttrs, len(p.SearchableAttributes))
	}
	for _, a := range p.SearchableAttributes {
		if a == "" || len(a) > maxAttrNameLen || !attributeNamePattern.MatchString(a) {
			return invalid("Invalid searchable attribute name: %q", a)
		}
	}
	return nil
}

// normalizeThingTypeProperties makes equal configurations compare equal.
func normalizeThingTypeProperties(p *iotdm.ThingTypeProperties) iotdm.ThingTypeProperties {
	if p == nil {
		return iotdm.ThingTypeProperties{}
	}
	out := *p
	if len(out.SearchableAttributes) == 0 {
		out.SearchableAttributes = nil
	}
	if out.Mqtt5Configuration != nil && len(out.Mqtt5Configuration.PropagatingAttributes) == 0 {
		out.Mqtt5Configuration = nil
	}
	return out
}

// CreateThingType creates a thing type; an identical repeat returns it.
func (r *Registry) CreateThingType(ctx context.Context, in *iotdm.CreateThingTypeInput) (*iotdm.CreateThingTypeOutput, error) {
	if err := validateName("thingTypeName", in.ThingTypeName); err != nil {
		return nil, err
	}
	if err := validateThingTypeProperties(in.ThingTypeProperties); err != nil {
		return nil, err
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	tt := iotdm.ThingType{
		ThingTypeName:       in.ThingTypeName,
		ThingTypeID:         uuid.NewString(),
		ThingTypeARN:        r.arn("thingtype", in.ThingTypeName),
		ThingTypeProperties: normalizeThingTypeProperties(in.ThingTypeProperties),
		ThingTypeMetadata:   iotdm.ThingTypeMetadata{CreationDate: r.now()},
		Tags:                in.Tags,
		Version:             1,
	}
	out := &iotdm.CreateThingTypeOutput{ThingTypeName: tt.ThingTypeName, ThingTypeARN: tt.ThingTypeARN, ThingTypeID: tt.ThingTypeID}
	err := r.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		old, exists, err := get[iotdm.ThingType](ctx, tx, iotdm.KindThingType, in.ThingTypeName)
		if err != nil {
			return err
		}
		if exists {
			if reflect.DeepEqual(old.ThingTypeProperties, tt.ThingTypeProperties) {
				out.ThingTypeID = old.ThingTypeID
				return nil
			}
			return &iotdm.Error{Code: iotdm.ErrResourceAlreadyExists,
				Message:    fmt.Sprintf("Thing Type %s already exists with different properties", in.ThingTypeName),
				ResourceID: old.ThingTypeID, ResourceARN: old.ThingTypeARN}
		}
		return put(ctx, tx, iotdm.KindThingType, tt.ThingTypeName, tt)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (r *Registry) loadThingType(ctx context.Context, tx getter, name string) (*iotdm.ThingType, error) {
	tt, ok, err := get[iotdm.ThingType](ctx, tx, iotdm.KindThingType, name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound("Thing Type %s does not exist", name)
	}
	return tt, nil
}

// DescribeThingType returns one thing type.
func (r *Registry) DescribeThingType(ctx context.Context, in *iotdm.DescribeThingTypeInput) (*iotdm.DescribeThingTypeOutput, error) {
	if err := validateName("thingTypeName", in.ThingTypeName); err != nil {
		return nil, err
	}
	tt, err := r.loadThingType(ctx, r.store, in.ThingTypeName)
	if err != nil {
		return nil, err
	}
	return &iotdm.DescribeThingTypeOutput{
		ThingTypeName:       tt.ThingTypeName,
		ThingTypeID:         tt.ThingTypeID,
		ThingTypeARN:        tt.ThingTypeARN,
		ThingTypeProperties: tt.ThingTypeProperties,
		ThingTypeMetadata:   tt.ThingTypeMetadata,
	}, nil
}

// UpdateThingType changes a thing type's description, searchable attributes
// or MQTT 5 configuration; members left out of the request stay as they are.
func (r *Registry) UpdateThingType(ctx context.Context, in *iotdm.UpdateThingTypeInput) (*iotdm.Empty, error) {
	if err := validateName("thingTypeName", in.ThingTypeName); err != nil {
		return nil, err
	}
	if err := validateThingTypeProperties(in.ThingTypeProperties); err != nil {
		return nil, err
	}
	return r.write(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		tt, err := r.loadThingType(ctx, tx, in.ThingTypeName)
		if err != nil {
			return err
		}
		if p := in.ThingTypeProperties; p != nil {
			if p.ThingTypeDescription != "" {
				tt.ThingTypeProperties.ThingTypeDescription = p.ThingTypeDescription
			}
			if p.SearchableAttributes != nil {
				tt.ThingTypeProperties.SearchableAttributes = slices.Clone(p.SearchableAttributes)
			}
			if p.Mqtt5Configuration != nil {
				tt.ThingTypeProperties.Mqtt5Configuration = p.Mqtt5Configuration
			}
			tt.ThingTypeProperties = normalizeThingTypeProperties(&tt.ThingTypeProperties)
		}
		tt.Version = max(tt.Version, 1) + 1
		return put(ctx, tx, iotdm.KindThingType, tt.ThingTypeName, tt)
	})
}

// DeprecateThingType deprecates a thing type, or with undoDeprecate makes it
// usable again. Existing things keep their type.
func (r *Registry) DeprecateThingType(ctx context.Context, in *iotdm.DeprecateThingTypeInput) (*iotdm.Empty, error) {
	if err := validateName("thingTypeName", in.ThingTypeName); err != nil {
		return nil, err
	}
	return r.write(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		tt, err := r.loadThingType(ctx, tx, in.ThingTypeName)
		if err != nil {
			return err
		}
		md := &tt.ThingTypeMetadata
		if in.UndoDeprecate {
			md.Deprecated, md.DeprecationDate = false, nil
		} else {
			now := r.now()
			md.Deprecated, md.DeprecationDate = true, &now
		}
		tt.Version = max(tt.Version, 1) + 1
		return put(ctx, tx, iotdm.KindThingType, tt.ThingTypeName, tt)
	})
}

// DeleteThingType deletes a thing type that has been deprecated for the
// required wait and that no thing uses.
func (r *Registry) DeleteThingType(ctx context.Context, in *iotdm.DeleteThingTypeInput) (*iotdm.Empty, error) {
	if err := validateName("thingTypeName", in.ThingTypeName); err != nil {
		return nil, err
	}
	return r.write(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		tt, err := r.loadThingType(ctx, tx, in.ThingTypeName)
		if err != nil {
			return err
		}
		md := tt.ThingTypeMetadata
		if !md.Deprecated || md.DeprecationDate == nil {
			return invalid("Thing type %s cannot be deleted because it is not deprecated. Deprecate it first and wait 5 minutes.", in.ThingTypeName)
		}
		if wait := r.opts.ThingTypeDeleteDelay; wait > 0 && r.opts.Now().Sub(md.DeprecationDate.Time) < wait {
			return invalid("Thing type %s was deprecated less than %s ago; it can be deleted at %s",
				in.ThingTypeName, wait, md.DeprecationDate.Add(wait).UTC().Format("2006-01-02T15:04:05Z"))
		}
		used := ""
		err = tx.Scan(ctx, iotdm.KindThing, "", "", 0, func(key string, value []byte) error {
			var t struct {
				ThingTypeName string `json:"thingTypeName"`
			}
			if err := json.Unmarshal(value, &t); err != nil {
				return fmt.Errorf("decode thing %q: %w", key, err)
			}
			if t.ThingTypeName == in.ThingTypeName {
				used = key
				return iotdm.ErrStopScan
			}
			return nil
		})
		if err != nil {
			return err
		}
		if used != "" {
			return invalid("Thing type %s cannot be deleted because it is still associated with things (for example %s)", in.ThingTypeName, used)
		}
		return tx.Delete(ctx, iotdm.KindThingType, in.ThingTypeName)
	})
}

// ListThingTypes lists thing types in name order, optionally only the one
// named by thingTypeName.
func (r *Registry) ListThingTypes(ctx context.Context, in *iotdm.ListThingTypesInput) (*iotdm.ListThingTypesOutput, error) {
	size, err := pageSize(in.MaxResults)
	if err != nil {
		return nil, err
	}
	if err := validateOptionalName("thingTypeName", in.ThingTypeName); err != nil {
		return nil, err
	}
	after, err := decodeToken("thingtypes", in.NextToken)
	if err != nil {
		return nil, err
	}
	p := pager[iotdm.ThingTypeDefinition]{size: size}
	err = r.view(ctx, func(ctx context.Context, tx iotdm.ReadTx) error {
		return tx.Scan(ctx, iotdm.KindThingType, in.ThingTypeName, after, 0, func(key string, value []byte) error {
			if in.ThingTypeName != "" && key != in.ThingTypeName {
				return nil
			}
			var tt iotdm.ThingType
			if err := json.Unmarshal(value, &tt); err != nil {
				return fmt.Errorf("decode thing type %q: %w", key, err)
			}
			if !p.add(key, iotdm.ThingTypeDefinition{ThingTypeName: tt.ThingTypeName, ThingTypeARN: tt.ThingTypeARN,
				ThingTypeProperties: tt.ThingTypeProperties, ThingTypeMetadata: tt.ThingTypeMetadata}) {
				return iotdm.ErrStopScan
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	out := &iotdm.ListThingTypesOutput{ThingTypes: p.page(), NextToken: p.next("thingtypes")}
	return out, nil
}
