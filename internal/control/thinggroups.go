package control

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/iotdm/iotdm"
)

func (r *Registry) loadGroup(ctx context.Context, tx getter, name string) (*iotdm.ThingGroup, error) {
	g, ok, err := get[iotdm.ThingGroup](ctx, tx, iotdm.KindThingGroup, name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound("Thing Group %s does not exist", name)
	}
	return g, nil
}

func (r *Registry) loadThing(ctx context.Context, tx getter, name string) (*iotdm.Thing, error) {
	t, ok, err := get[iotdm.Thing](ctx, tx, iotdm.KindThing, name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound("Thing %s does not exist", name)
	}
	return t, nil
}

// allGroups loads every thing group by name.
func allGroups(ctx context.Context, tx iotdm.ReadTx) (map[string]*iotdm.ThingGroup, error) {
	groups := map[string]*iotdm.ThingGroup{}
	err := tx.Scan(ctx, iotdm.KindThingGroup, "", "", 0, func(key string, value []byte) error {
		g := new(iotdm.ThingGroup)
		if err := json.Unmarshal(value, g); err != nil {
			return fmt.Errorf("decode thing group %q: %w", key, err)
		}
		groups[key] = g
		return nil
	})
	return groups, err
}

// descendants returns the names of every group below root, in no order.
func descendants(groups map[string]*iotdm.ThingGroup, root string) []string {
	children := map[string][]string{}
	for name, g := range groups {
		if p := g.ThingGroupMetadata.ParentGroupName; p != "" {
			children[p] = append(children[p], name)
		}
	}
	var out []string
	queue := []string{root}
	for len(queue) > 0 {
		next := queue[0]
		queue = queue[1:]
		for _, c := range children[next] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// thingGroupNames lists the groups a thing belongs to, in name order.
func thingGroupNames(ctx context.Context, tx iotdm.ReadTx, thing string) ([]string, error) {
	var names []string
	prefix := thing + "/"
	err := tx.Scan(ctx, iotdm.KindThingMembership, prefix, "", 0, func(key string, _ []byte) error {
		names = append(names, strings.TrimPrefix(key, prefix))
		return nil
	})
	return names, err
}

func addMembership(ctx context.Context, tx iotdm.Tx, m iotdm.Membership) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode membership: %w", err)
	}
	if err := tx.Put(ctx, iotdm.KindGroupMember, m.ThingGroupName+"/"+m.ThingName, b); err != nil {
		return err
	}
	return tx.Put(ctx, iotdm.KindThingMembership, m.ThingName+"/"+m.ThingGroupName, b)
}

func removeMembership(ctx context.Context, tx iotdm.Tx, group, thing string) error {
	if err := tx.Delete(ctx, iotdm.KindGroupMember, group+"/"+thing); err != nil {
		return err
	}
	return tx.Delete(ctx, iotdm.KindThingMembership, thing+"/"+group)
}

func isMember(ctx context.Context, tx iotdm.ReadTx, group, thing string) (bool, error) {
	_, ok, err := tx.Get(ctx, iotdm.KindGroupMember, group+"/"+thing)
	return ok, err
}

func validateGroupProperties(p *iotdm.ThingGroupProperties) error {
	if p == nil {
		return nil
	}
	if err := validateDescription("thingGroupProperties.thingGroupDescription", p.ThingGroupDescription); err != nil {
		return err
	}
	if p.AttributePayload != nil {
		if err := validateAttributes(p.AttributePayload.Attributes); err != nil {
			return err
		}
		if len(p.AttributePayload.Attributes) > maxTypedAttrs {
			return invalid("A thing group can have at most %d attributes; %d given", maxTypedAttrs, len(p.AttributePayload.Attributes))
		}
	}
	return nil
}

// normalizeGroupProperties stores attributes without the merge flag and
// without empty values, so equal configurations compare equal.
func normalizeGroupProperties(p *iotdm.ThingGroupProperties) iotdm.ThingGroupProperties {
	var out iotdm.ThingGroupProperties
	if p == nil {
		return out
	}
	out.ThingGroupDescription = p.ThingGroupDescription
	if p.AttributePayload != nil {
		attrs := mergeAttributes(nil, &iotdm.AttributePayload{Attributes: p.AttributePayload.Attributes})
		if len(attrs) > 0 {
			out.AttributePayload = &iotdm.AttributePayload{Attributes: attrs}
		}
	}
	return out
}

func sameGroupProperties(a, b iotdm.ThingGroupProperties) bool {
	var aa, ba map[string]string
	if a.AttributePayload != nil {
		aa = a.AttributePayload.Attributes
	}
	if b.AttributePayload != nil {
		ba = b.AttributePayload.Attributes
	}
	return a.ThingGroupDescription == b.ThingGroupDescription && maps.Equal(aa, ba)
}

// CreateThingGroup creates a static thing group, optionally under a parent;
// an identical repeat returns the existing group.
func (r *Registry) CreateThingGroup(ctx context.Context, in *iotdm.CreateThingGroupInput) (*iotdm.CreateThingGroupOutput, error) {
	if err := validateName("thingGroupName", in.ThingGroupName); err != nil {
		return nil, err
	}
	if err := validateOptionalName("parentGroupName", in.ParentGroupName); err != nil {
		return nil, err
	}
	if in.ParentGroupName == in.ThingGroupName {
		return nil, invalid("A thing group cannot be its own parent")
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
		ThingGroupMetadata:   iotdm.ThingGroupMetadata{ParentGroupName: in.ParentGroupName, CreationDate: r.now()},
		Tags:                 in.Tags,
	}
	out := &iotdm.CreateThingGroupOutput{ThingGroupName: g.ThingGroupName, ThingGroupARN: g.ThingGroupARN, ThingGroupID: g.ThingGroupID}
	err := r.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		old, exists, err := get[iotdm.ThingGroup](ctx, tx, iotdm.KindThingGroup, in.ThingGroupName)
		if err != nil {
			return err
		}
		if exists {
			if !old.Dynamic() && old.ThingGroupMetadata.ParentGroupName == in.ParentGroupName &&
				sameGroupProperties(old.ThingGroupProperties, g.ThingGroupProperties) {
				out.ThingGroupID = old.ThingGroupID
				return nil
			}
			return &iotdm.Error{Code: iotdm.ErrResourceAlreadyExists,
				Message:    fmt.Sprintf("Thing Group %s already exists with different properties", in.ThingGroupName),
				ResourceID: old.ThingGroupID, ResourceARN: old.ThingGroupARN}
		}
		if in.ParentGroupName != "" {
			parent, err := r.loadGroup(ctx, tx, in.ParentGroupName)
			if err != nil {
				return err
			}
			if parent.Dynamic() {
				return invalid("Dynamic thing group %s cannot be a parent group", parent.ThingGroupName)
			}
			path := append(slices.Clone(parent.ThingGroupMetadata.RootToParentThingGroups),
				iotdm.GroupNameAndArn{GroupName: parent.ThingGroupName, GroupARN: parent.ThingGroupARN})
			if len(path)+1 > maxHierarchyDepth {
				return iotdm.Errorf(iotdm.ErrLimitExceeded, "Thing group hierarchy cannot be deeper than %d levels", maxHierarchyDepth)
			}
			g.ThingGroupMetadata.RootToParentThingGroups = path
			groups, err := allGroups(ctx, tx)
			if err != nil {
				return err
			}
			children := 0
			for _, c := range groups {
				if c.ThingGroupMetadata.ParentGroupName == in.ParentGroupName {
					children++
				}
			}
			if children >= maxChildGroups {
				return iotdm.Errorf(iotdm.ErrLimitExceeded, "Thing group %s already has the maximum of %d child groups", in.ParentGroupName, maxChildGroups)
			}
		}
		return put(ctx, tx, iotdm.KindThingGroup, g.ThingGroupName, g)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DescribeThingGroup returns one thing group.
func (r *Registry) DescribeThingGroup(ctx context.Context, in *iotdm.DescribeThingGroupInput) (*iotdm.DescribeThingGroupOutput, error) {
	if err := validateName("thingGroupName", in.ThingGroupName); err != nil {
		return nil, err
	}
	g, err := r.loadGroup(ctx, r.store, in.ThingGroupName)
	if err != nil {
		return nil, err
	}
	return &iotdm.DescribeThingGroupOutput{
		ThingGroupName:       g.ThingGroupName,
		ThingGroupID:         g.ThingGroupID,
		ThingGroupARN:        g.ThingGroupARN,
		Version:              g.Version,
		ThingGroupProperties: g.ThingGroupProperties,
		ThingGroupMetadata:   g.ThingGroupMetadata,
		IndexName:            g.IndexName,
		QueryString:          g.QueryString,
		QueryVersion:         g.QueryVersion,
		Status:               r.groupStatus(g),
	}, nil
}

// groupStatus is a dynamic group's status as the fleet index has it (AWS
// §3: BUILDING until its membership is complete, REBUILDING after a query
// change); static groups have none.
func (r *Registry) groupStatus(g *iotdm.ThingGroup) string {
	if !g.Dynamic() {
		return g.Status
	}
	return r.opts.Dynamic.DynamicGroupStatus(g.ThingGroupName, g.QueryString)
}

// applyGroupProperties applies an update's properties to g: a non-empty
// description replaces the old one, attributes merge as on things.
func applyGroupProperties(g *iotdm.ThingGroup, p *iotdm.ThingGroupProperties) error {
	if p.ThingGroupDescription != "" {
		g.ThingGroupProperties.ThingGroupDescription = p.ThingGroupDescription
	}
	if p.AttributePayload != nil {
		var cur map[string]string
		if g.ThingGroupProperties.AttributePayload != nil {
			cur = g.ThingGroupProperties.AttributePayload.Attributes
		}
		attrs := mergeAttributes(cur, p.AttributePayload)
		if len(attrs) > maxTypedAttrs {
			return invalid("A thing group can have at most %d attributes; %d given", maxTypedAttrs, len(attrs))
		}
		g.ThingGroupProperties.AttributePayload = nil
		if len(attrs) > 0 {
			g.ThingGroupProperties.AttributePayload = &iotdm.AttributePayload{Attributes: attrs}
		}
	}
	return nil
}

// UpdateThingGroup changes a group's description and attributes and returns
// its new version. On a dynamic group it changes the properties only; its
// query is UpdateDynamicThingGroup's.
func (r *Registry) UpdateThingGroup(ctx context.Context, in *iotdm.UpdateThingGroupInput) (*iotdm.UpdateThingGroupOutput, error) {
	if err := validateName("thingGroupName", in.ThingGroupName); err != nil {
		return nil, err
	}
	if in.ThingGroupProperties == nil {
		return nil, invalid("thingGroupProperties is required")
	}
	if err := validateGroupProperties(in.ThingGroupProperties); err != nil {
		return nil, err
	}
	version, err := r.updateGroup(ctx, in.ThingGroupName, in.ExpectedVersion, in.ThingGroupProperties, r.loadGroup, nil)
	if err != nil {
		return nil, err
	}
	return &iotdm.UpdateThingGroupOutput{Version: version}, nil
}

// updateGroup is the body of UpdateThingGroup and UpdateDynamicThingGroup:
// in one transaction it loads the group with load, checks expectedVersion,
// applies change (if any) and the properties, bumps the version and stores
// the group. It returns the new version.
func (r *Registry) updateGroup(ctx context.Context, name string, expected *int64, props *iotdm.ThingGroupProperties,
	load func(context.Context, getter, string) (*iotdm.ThingGroup, error),
	change func(context.Context, iotdm.Tx, *iotdm.ThingGroup) error) (int64, error) {
	var version int64
	err := r.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		g, err := load(ctx, tx, name)
		if err != nil {
			return err
		}
		if err := checkVersion("thing group", name, expected, g.Version); err != nil {
			return err
		}
		if change != nil {
			if err := change(ctx, tx, g); err != nil {
				return err
			}
		}
		if err := applyGroupProperties(g, props); err != nil {
			return err
		}
		g.Version++
		version = g.Version
		return put(ctx, tx, iotdm.KindThingGroup, g.ThingGroupName, g)
	})
	return version, err
}

// DeleteThingGroup deletes a static group without children; its members lose
// the membership. Deleting a missing group succeeds, as AWS does.
func (r *Registry) DeleteThingGroup(ctx context.Context, in *iotdm.DeleteThingGroupInput) (*iotdm.Empty, error) {
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
		if g.Dynamic() {
			return invalid("Thing group %s is a dynamic thing group; delete it with DeleteDynamicThingGroup", in.ThingGroupName)
		}
		groups, err := allGroups(ctx, tx)
		if err != nil {
			return err
		}
		for _, c := range groups {
			if c.ThingGroupMetadata.ParentGroupName == in.ThingGroupName {
				// AWS's wording.
				return invalid("Cannot delete thing group : %s when there are still child groups attached to it.", in.ThingGroupName)
			}
		}
		return r.deleteGroup(ctx, tx, in.ThingGroupName)
	})
}

// deleteGroup deletes a group and every membership of it.
func (r *Registry) deleteGroup(ctx context.Context, tx iotdm.Tx, group string) error {
	// Its policy attachments go with it (AWS §4.7): a group created later
	// under the same name starts without them.
	arn := r.arn("thinggroup", group)
	policies, err := attachedPolicyNames(ctx, tx, arn)
	if err != nil {
		return err
	}
	for _, p := range policies {
		if err := deleteAttachment(ctx, tx, p, arn); err != nil {
			return err
		}
	}
	var members []string
	prefix := group + "/"
	err = tx.Scan(ctx, iotdm.KindGroupMember, prefix, "", 0, func(key string, _ []byte) error {
		members = append(members, strings.TrimPrefix(key, prefix))
		return nil
	})
	if err != nil {
		return err
	}
	for _, thing := range members {
		if err := removeMembership(ctx, tx, group, thing); err != nil {
			return err
		}
	}
	return tx.Delete(ctx, iotdm.KindThingGroup, group)
}

// ListThingGroups lists groups in name order: all of them, the roots only
// (recursive=false without a parent), a parent's direct children, or with
// recursive=true all of a parent's descendants; namePrefixFilter narrows any.
func (r *Registry) ListThingGroups(ctx context.Context, in *iotdm.ListThingGroupsInput) (*iotdm.ListThingGroupsOutput, error) {
	size, err := pageSize(in.MaxResults)
	if err != nil {
		return nil, err
	}
	if err := validateOptionalName("parentGroup", in.ParentGroup); err != nil {
		return nil, err
	}
	after, err := decodeToken("thinggroups", in.NextToken)
	if err != nil {
		return nil, err
	}
	recursive := in.Recursive != nil && *in.Recursive
	var names []string
	var groups map[string]*iotdm.ThingGroup
	err = r.view(ctx, func(ctx context.Context, tx iotdm.ReadTx) error {
		var err error
		if groups, err = allGroups(ctx, tx); err != nil {
			return err
		}
		switch {
		case in.ParentGroup != "":
			if _, ok := groups[in.ParentGroup]; !ok {
				return notFound("Thing Group %s does not exist", in.ParentGroup)
			}
			if recursive {
				names = descendants(groups, in.ParentGroup)
			} else {
				for name, g := range groups {
					if g.ThingGroupMetadata.ParentGroupName == in.ParentGroup {
						names = append(names, name)
					}
				}
			}
		case in.Recursive != nil && !*in.Recursive:
			for name, g := range groups {
				if g.ThingGroupMetadata.ParentGroupName == "" {
					names = append(names, name)
				}
			}
		default:
			for name := range groups {
				names = append(names, name)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	p := pager[iotdm.GroupNameAndArn]{size: size}
	for _, name := range names {
		if name <= after || !strings.HasPrefix(name, in.NamePrefixFilter) {
			continue
		}
		if !p.add(name, iotdm.GroupNameAndArn{GroupName: name, GroupARN: groups[name].ThingGroupARN}) {
			break
		}
	}
	out := &iotdm.ListThingGroupsOutput{ThingGroups: p.page(), NextToken: p.next("thinggroups")}
	return out, nil
}

// nameFromRef returns a resource name given by name or by ARN.
func (r *Registry) nameFromRef(member, resource, name, arn string) (string, error) {
	if name == "" && arn != "" {
		prefix := r.arn(resource, "")
		if !strings.HasPrefix(arn, prefix) {
			return "", invalid("Invalid %sArn: %s", member, arn)
		}
		name = strings.TrimPrefix(arn, prefix)
	}
	if name == "" {
		return "", invalid("Either %sName or %sArn must be specified", member, member)
	}
	if err := validateName(member+"Name", name); err != nil {
		return "", err
	}
	return name, nil
}

// addToGroup adds thing to group inside tx, enforcing the membership rules.
func (r *Registry) addToGroup(ctx context.Context, tx iotdm.Tx, group, thing string, overrideDynamic bool) error {
	g, err := r.loadGroup(ctx, tx, group)
	if err != nil {
		return err
	}
	if _, err := r.loadThing(ctx, tx, thing); err != nil {
		return err
	}
	if g.Dynamic() {
		return invalid("Cannot add thing %s to dynamic thing group %s: its membership follows its query", thing, group)
	}
	if ok, err := isMember(ctx, tx, group, thing); err != nil || ok {
		return err
	}
	current, err := thingGroupNames(ctx, tx, thing)
	if err != nil {
		return err
	}
	// Dynamic memberships count against the limit, unless the caller lets
	// the static group evict the newest of them (AWS §3 rule 4): static
	// groups always keep their place, so the eviction is what the fleet
	// index derives once the membership is stored.
	dynamic := 0
	if !overrideDynamic {
		dynamic = len(r.opts.Dynamic.DynamicGroupsOf(thing))
	}
	if len(current)+dynamic >= maxGroupsPerThing {
		return iotdm.Errorf(iotdm.ErrLimitExceeded, "Thing %s is already in the maximum of %d thing groups", thing, maxGroupsPerThing)
	}
	if r.opts.SingleHierarchy {
		if err := r.checkSingleHierarchy(ctx, tx, g, current, thing); err != nil {
			return err
		}
	}
	return addMembership(ctx, tx, iotdm.Membership{ThingGroupName: group, ThingName: thing, AddedAt: r.now()})
}

// checkSingleHierarchy refuses a membership in a second static group of the
// same hierarchy (same root group).
func (r *Registry) checkSingleHierarchy(ctx context.Context, tx iotdm.ReadTx, g *iotdm.ThingGroup, current []string, thing string) error {
	root := func(g *iotdm.ThingGroup) string {
		if p := g.ThingGroupMetadata.RootToParentThingGroups; len(p) > 0 {
			return p[0].GroupName
		}
		return g.ThingGroupName
	}
	want := root(g)
	for _, name := range current {
		other, err := r.loadGroup(ctx, tx, name)
		if err != nil {
			return err
		}
		if !other.Dynamic() && root(other) == want {
			return invalid("Thing %s is already in thing group %s of the same hierarchy", thing, name)
		}
	}
	return nil
}

// AddThingToThingGroup adds a thing to a static group; adding it twice is a
// no-op.
func (r *Registry) AddThingToThingGroup(ctx context.Context, in *iotdm.AddThingToThingGroupInput) (*iotdm.Empty, error) {
	group, err := r.nameFromRef("thingGroup", "thinggroup", in.ThingGroupName, in.ThingGroupARN)
	if err != nil {
		return nil, err
	}
	thing, err := r.nameFromRef("thing", "thing", in.ThingName, in.ThingARN)
	if err != nil {
		return nil, err
	}
	return r.write(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		return r.addToGroup(ctx, tx, group, thing, in.OverrideDynamicGroups)
	})
}

// removeFromGroup removes thing from group inside tx; a missing membership
// is a no-op.
func (r *Registry) removeFromGroup(ctx context.Context, tx iotdm.Tx, group, thing string) error {
	g, err := r.loadGroup(ctx, tx, group)
	if err != nil {
		return err
	}
	if _, err := r.loadThing(ctx, tx, thing); err != nil {
		return err
	}
	if g.Dynamic() {
		return invalid("Cannot remove thing %s from dynamic thing group %s: its membership follows its query", thing, group)
	}
	return removeMembership(ctx, tx, group, thing)
}

// RemoveThingFromThingGroup removes a thing from a static group.
func (r *Registry) RemoveThingFromThingGroup(ctx context.Context, in *iotdm.RemoveThingFromThingGroupInput) (*iotdm.Empty, error) {
	group, err := r.nameFromRef("thingGroup", "thinggroup", in.ThingGroupName, in.ThingGroupARN)
	if err != nil {
		return nil, err
	}
	thing, err := r.nameFromRef("thing", "thing", in.ThingName, in.ThingARN)
	if err != nil {
		return nil, err
	}
	return r.write(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		return r.removeFromGroup(ctx, tx, group, thing)
	})
}

// UpdateThingGroupsForThing adds a thing to some groups and removes it from
// others, all or nothing.
func (r *Registry) UpdateThingGroupsForThing(ctx context.Context, in *iotdm.UpdateThingGroupsForThingInput) (*iotdm.Empty, error) {
	if err := validateName("thingName", in.ThingName); err != nil {
		return nil, err
	}
	for _, g := range slices.Concat(in.ThingGroupsToAdd, in.ThingGroupsToRemove) {
		if err := validateName("thingGroupName", g); err != nil {
			return nil, err
		}
	}
	return r.write(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		if _, err := r.loadThing(ctx, tx, in.ThingName); err != nil {
			return err
		}
		for _, g := range in.ThingGroupsToRemove {
			if err := r.removeFromGroup(ctx, tx, g, in.ThingName); err != nil {
				return err
			}
		}
		for _, g := range in.ThingGroupsToAdd {
			if err := r.addToGroup(ctx, tx, g, in.ThingName, in.OverrideDynamicGroups); err != nil {
				return err
			}
		}
		return nil
	})
}

// ListThingsInThingGroup lists a group's things in name order; recursive
// includes the things of every descendant group, each once.
func (r *Registry) ListThingsInThingGroup(ctx context.Context, in *iotdm.ListThingsInThingGroupInput) (*iotdm.ListThingsInThingGroupOutput, error) {
	if err := validateName("thingGroupName", in.ThingGroupName); err != nil {
		return nil, err
	}
	size, err := pageSize(in.MaxResults)
	if err != nil {
		return nil, err
	}
	after, err := decodeToken("groupthings", in.NextToken)
	if err != nil {
		return nil, err
	}
	p := pager[string]{size: size}
	err = r.view(ctx, func(ctx context.Context, tx iotdm.ReadTx) error {
		g, err := r.loadGroup(ctx, tx, in.ThingGroupName)
		if err != nil {
			return err
		}
		if g.Dynamic() {
			// No hierarchy: recursive or not, its members are its own.
			for _, thing := range r.opts.Dynamic.DynamicMembers(g.ThingGroupName) {
				if thing > after && !p.add(thing, thing) {
					break
				}
			}
			return nil
		}
		scan := func(group string, limit int, fn func(thing string) error) error {
			prefix := group + "/"
			start := ""
			if after != "" {
				start = prefix + after
			}
			return tx.Scan(ctx, iotdm.KindGroupMember, prefix, start, limit, func(key string, _ []byte) error {
				return fn(strings.TrimPrefix(key, prefix))
			})
		}
		if !in.Recursive {
			return scan(in.ThingGroupName, size+1, func(thing string) error {
				if !p.add(thing, thing) {
					return iotdm.ErrStopScan
				}
				return nil
			})
		}
		groups, err := allGroups(ctx, tx)
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, g := range append(descendants(groups, in.ThingGroupName), in.ThingGroupName) {
			if err := scan(g, 0, func(thing string) error { seen[thing] = true; return nil }); err != nil {
				return err
			}
		}
		for _, thing := range slices.Sorted(maps.Keys(seen)) {
			if !p.add(thing, thing) {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := &iotdm.ListThingsInThingGroupOutput{Things: p.items, NextToken: p.next("groupthings")}
	if out.Things == nil {
		out.Things = []string{}
	}
	return out, nil
}

// ListThingGroupsForThing lists the groups a thing belongs to.
func (r *Registry) ListThingGroupsForThing(ctx context.Context, in *iotdm.ListThingGroupsForThingInput) (*iotdm.ListThingGroupsForThingOutput, error) {
	if err := validateName("thingName", in.ThingName); err != nil {
		return nil, err
	}
	size, err := pageSize(in.MaxResults)
	if err != nil {
		return nil, err
	}
	after, err := decodeToken("thinggroupsforthing", in.NextToken)
	if err != nil {
		return nil, err
	}
	p := pager[iotdm.GroupNameAndArn]{size: size}
	err = r.view(ctx, func(ctx context.Context, tx iotdm.ReadTx) error {
		if _, err := r.loadThing(ctx, tx, in.ThingName); err != nil {
			return err
		}
		names, err := thingGroupNames(ctx, tx, in.ThingName)
		if err != nil {
			return err
		}
		// Dynamic memberships follow the index; a group deleted since is
		// left out at once.
		for _, name := range r.opts.Dynamic.DynamicGroupsOf(in.ThingName) {
			if _, ok, err := tx.Get(ctx, iotdm.KindThingGroup, name); err != nil {
				return err
			} else if ok {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		for _, name := range names {
			if name <= after {
				continue
			}
			if !p.add(name, iotdm.GroupNameAndArn{GroupName: name, GroupARN: r.arn("thinggroup", name)}) {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := &iotdm.ListThingGroupsForThingOutput{ThingGroups: p.page(), NextToken: p.next("thinggroupsforthing")}
	return out, nil
}
