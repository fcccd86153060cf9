package control

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/query"
)

// Dynamic thing groups (AWS §3) are thing groups with a fleet query. The
// registry stores and validates them; their membership is maintained by the
// fleet index, which follows the group entities through the change feed.

// maxDynamicGroups is the account limit of dynamic thing groups (AWS §9.1).
const maxDynamicGroups = 100

var _ iotdm.DynamicGroups = (*Registry)(nil)

// checkIndexAndVersion validates a dynamic group's indexName and
// queryVersion and returns them with their defaults.
func checkIndexAndVersion(index, version string) (string, string, error) {
	index = cmpOr(index, iotdm.IndexThings)
	if index != iotdm.IndexThings {
		return "", "", invalid("Dynamic thing groups can only use index %s; indexName %s is not supported", iotdm.IndexThings, index)
	}
	version = cmpOr(version, iotdm.QueryVersion)
	if version != iotdm.QueryVersion {
		return "", "", invalid("Unsupported queryVersion %s; the only query version is %s", version, iotdm.QueryVersion)
	}
	return index, version, nil
}

// checkDynamicQuery refuses a query while thing indexing is off and parses
// it against the AWS_Things index with the configured custom fields.
func checkDynamicQuery(ctx context.Context, tx getter, q string) error {
	cfg, err := loadIndexingConfig(ctx, tx)
	if err != nil {
		return err
	}
	if !cfg.ThingIndexEnabled() {
		return indexNotFound(iotdm.IndexThings)
	}
	if _, err := query.Parse(q, queryOptions(cfg)); err != nil {
		var qe *query.Error
		if errors.As(err, &qe) {
			return iotdm.Errorf(iotdm.ErrInvalidQuery, "%s", qe.Error())
		}
		return iotdm.Errorf(iotdm.ErrInvalidQuery, "%s", err.Error())
	}
	return nil
}

// CreateDynamicThingGroup creates a thing group whose membership follows a
// fleet query over AWS_Things; an identical repeat returns the existing
// group.
func (r *Registry) CreateDynamicThingGroup(ctx context.Context, in *iotdm.CreateDynamicThingGroupInput) (*iotdm.CreateDynamicThingGroupOutput, error) {
	if err := validateName("thingGroupName", in.ThingGroupName); err != nil {
		return nil, err
	}
	if in.QueryString == "" {
		return nil, invalid("queryString is required")
	}
	index, version, err := checkIndexAndVersion(in.IndexName, in.QueryVersion)
	if err != nil {
		return nil, err
	}
	if err := validateGroupProperties(in.ThingGroupProperties); err != nil {
		return nil, err
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	g := iotdm.ThingGroup{
		ThingGroupName:       in.ThingGroupName,
		ThingGroupID:         uuid.NewString(),
		ThingGroupARN:        r.arn("thinggroup", in.ThingGroupName),
		Version:              1,
		ThingGroupProperties: normalizeGroupProperties(in.ThingGroupProperties),
		ThingGroupMetadata:   iotdm.ThingGroupMetadata{CreationDate: r.now()},
		IndexName:            index,
		QueryString:          in.QueryString,
		QueryVersion:         version,
		// Membership is the fleet index's; the group is usable at once.
		Status: iotdm.DynamicGroupActive,
		Tags:   in.Tags,
	}
	out := &iotdm.CreateDynamicThingGroupOutput{
		ThingGroupName: g.ThingGroupName, ThingGroupARN: g.ThingGroupARN, ThingGroupID: g.ThingGroupID,
		IndexName: g.IndexName, QueryString: g.QueryString, QueryVersion: g.QueryVersion,
	}
	err = r.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		old, exists, err := get[iotdm.ThingGroup](ctx, tx, iotdm.KindThingGroup, in.ThingGroupName)
		if err != nil {
			return err
		}
		if exists {
			if old.Dynamic() && old.QueryString == g.QueryString && old.IndexName == g.IndexName &&
				old.QueryVersion == g.QueryVersion && sameGroupProperties(old.ThingGroupProperties, g.ThingGroupProperties) {
				out.ThingGroupID = old.ThingGroupID
				return nil
			}
			return &iotdm.Error{Code: iotdm.ErrResourceAlreadyExists,
				Message:    fmt.Sprintf("Thing Group %s already exists with different properties", in.ThingGroupName),
				ResourceID: old.ThingGroupID, ResourceARN: old.ThingGroupARN}
		}
		if err := checkDynamicQuery(ctx, tx, in.QueryString); err != nil {
			return err
		}
		n, err := countDynamicGroups(ctx, tx)
		if err != nil {
			return err
		}
		if n >= maxDynamicGroups {
			return iotdm.Errorf(iotdm.ErrLimitExceeded, "The account already has the maximum of %d dynamic thing groups", maxDynamicGroups)
		}
		return put(ctx, tx, iotdm.KindThingGroup, g.ThingGroupName, g)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// loadDynamicGroup loads a group and refuses a static one.
func (r *Registry) loadDynamicGroup(ctx context.Context, tx getter, name string) (*iotdm.ThingGroup, error) {
	g, err := r.loadGroup(ctx, tx, name)
	if err != nil {
		return nil, err
	}
	if !g.Dynamic() {
		return nil, invalid("Thing group %s is not a dynamic thing group", name)
	}
	return g, nil
}

// UpdateDynamicThingGroup changes a dynamic group's properties and,
// optionally, its query, and returns its new version.
func (r *Registry) UpdateDynamicThingGroup(ctx context.Context, in *iotdm.UpdateDynamicThingGroupInput) (*iotdm.UpdateDynamicThingGroupOutput, error) {
	if err := validateName("thingGroupName", in.ThingGroupName); err != nil {
		return nil, err
	}
	if in.ThingGroupProperties == nil {
		return nil, invalid("thingGroupProperties is required")
	}
	if err := validateGroupProperties(in.ThingGroupProperties); err != nil {
		return nil, err
	}
	if _, _, err := checkIndexAndVersion(in.IndexName, in.QueryVersion); err != nil {
		return nil, err
	}
	version, err := r.updateGroup(ctx, in.ThingGroupName, in.ExpectedVersion, in.ThingGroupProperties, r.loadDynamicGroup,
		func(ctx context.Context, tx iotdm.Tx, g *iotdm.ThingGroup) error {
			if in.QueryString == "" || in.QueryString == g.QueryString {
				return nil
			}
			if err := checkDynamicQuery(ctx, tx, in.QueryString); err != nil {
				return err
			}
			g.QueryString = in.QueryString
			return nil
		})
	if err != nil {
		return nil, err
	}
	return &iotdm.UpdateDynamicThingGroupOutput{Version: version}, nil
}

// DeleteDynamicThingGroup deletes a dynamic group and its memberships.
// Deleting a missing group succeeds, as AWS does (the model lists no
// ResourceNotFoundException); a static group is DeleteThingGroup's.
func (r *Registry) DeleteDynamicThingGroup(ctx context.Context, in *iotdm.DeleteDynamicThingGroupInput) (*iotdm.Empty, error) {
	if err := validateName("thingGroupName", in.ThingGroupName); err != nil {
		return nil, err
	}
	return r.write(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		g, ok, err := get[iotdm.ThingGroup](ctx, tx, iotdm.KindThingGroup, in.ThingGroupName)
		if err != nil || !ok {
			return err
		}
		if err := checkVersion("thing group", in.ThingGroupName, in.ExpectedVersion, g.Version); err != nil {
			return err
		}
		if !g.Dynamic() {
			return invalid("Thing group %s is a static thing group; delete it with DeleteThingGroup", in.ThingGroupName)
		}
		return r.deleteGroup(ctx, tx, in.ThingGroupName)
	})
}
