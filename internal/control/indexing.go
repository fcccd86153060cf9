package control

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/query"
)

// IndexingOptions configures an Indexing service.
type IndexingOptions struct {
	Logger *slog.Logger
}

// Indexing implements iotdm.Indexing on an iotdm.Store: the fleet indexing
// configuration (AWS §2.1), stored as the one KindIndexingConfig entity.
type Indexing struct {
	store iotdm.Store
	log   *slog.Logger
}

var _ iotdm.Indexing = (*Indexing)(nil)

// NewIndexing returns the indexing configuration service over store.
func NewIndexing(store iotdm.Store, opts IndexingOptions) *Indexing {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Indexing{store: store, log: opts.Logger.With("component", "indexing")}
}

// Limits of AWS §9.4 and the model.
const (
	maxNamedShadowFilter = 10  // filter.namedShadowNames
	maxGeoLocations      = 1   // filter.geoLocations
	maxShadowNameLen     = 64  // ShadowName
	maxCustomFields      = 100 // ours: AWS's old cap of 5 is what users complain about
	defaultIndexResults  = 500 // ListIndices: QueryMaxResults 1-500
	maxIndexResults      = 500
)

var (
	shadowNamePattern  = regexp.MustCompile(`^[$a-zA-Z0-9:_-]+$`)
	fieldSegment       = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)
	indexNamePattern   = regexp.MustCompile(`^[a-zA-Z0-9:_-]+$`)
	namedShadowSection = regexp.MustCompile(`^shadow\.name\.([$a-zA-Z0-9:_-]+)\.(desired|reported)\.(.+)$`)
)

// loadIndexingConfig returns the stored configuration, or the default one
// (with its managed fields) when none was ever stored.
func loadIndexingConfig(ctx context.Context, tx getter) (*iotdm.IndexingConfiguration, error) {
	c, ok, err := get[iotdm.IndexingConfiguration](ctx, tx, iotdm.KindIndexingConfig, iotdm.IndexingConfigKey)
	if err != nil {
		return nil, err
	}
	if !ok {
		d := iotdm.DefaultIndexingConfiguration()
		c = &d
		addManagedFields(c)
	}
	return c, nil
}

// indexNotFound is AWS's error for a disabled index (§1.3).
func indexNotFound(index string) error {
	return notFound("Index %s does not exist. Please enable index by calling UpdateIndexingConfiguration", index)
}

// queryOptions are the parser options of a query over AWS_Things under c.
func queryOptions(c *iotdm.IndexingConfiguration) query.Options {
	opts := query.Options{Index: query.IndexThings}
	if fields := c.ThingIndexingConfiguration.CustomFields; len(fields) > 0 {
		opts.CustomFields = make(map[string]query.FieldType, len(fields))
		for _, f := range fields {
			opts.CustomFields[f.Name] = query.FieldType(f.Type)
		}
	}
	return opts
}

// managed field lists of AWS §2.1, by source.
var (
	registryFields = []iotdm.Field{
		{Name: "thingId", Type: iotdm.FieldTypeString},
		{Name: "thingName", Type: iotdm.FieldTypeString},
		{Name: "registry.version", Type: iotdm.FieldTypeNumber},
		{Name: "registry.thingTypeName", Type: iotdm.FieldTypeString},
		{Name: "registry.thingGroupNames", Type: iotdm.FieldTypeString},
	}
	shadowFields = []iotdm.Field{
		{Name: "shadow.version", Type: iotdm.FieldTypeNumber},
		{Name: "shadow.hasDelta", Type: iotdm.FieldTypeBoolean},
	}
	namedShadowFields = []iotdm.Field{
		{Name: "shadow.name.*.version", Type: iotdm.FieldTypeNumber},
		{Name: "shadow.name.*.hasDelta", Type: iotdm.FieldTypeBoolean},
	}
	connectivityFields = []iotdm.Field{
		{Name: "connectivity.timestamp", Type: iotdm.FieldTypeNumber},
		{Name: "connectivity.version", Type: iotdm.FieldTypeNumber},
		{Name: "connectivity.connected", Type: iotdm.FieldTypeBoolean},
		{Name: "connectivity.disconnectReason", Type: iotdm.FieldTypeString},
	}
	defenderFields = []iotdm.Field{
		{Name: "deviceDefender.violationCount", Type: iotdm.FieldTypeNumber},
		{Name: "deviceDefender.*.*.metricName", Type: iotdm.FieldTypeString},
		{Name: "deviceDefender.*.*.lastViolationTime", Type: iotdm.FieldTypeNumber},
		{Name: "deviceDefender.*.*.lastViolationValue", Type: iotdm.FieldTypeString},
		{Name: "deviceDefender.*.*.inViolation", Type: iotdm.FieldTypeBoolean},
	}
	groupFields = []iotdm.Field{
		{Name: "description", Type: iotdm.FieldTypeString},
		{Name: "parentGroupNames", Type: iotdm.FieldTypeString},
		{Name: "thingGroupId", Type: iotdm.FieldTypeString},
		{Name: "thingGroupName", Type: iotdm.FieldTypeString},
		{Name: "version", Type: iotdm.FieldTypeNumber},
	}
)

// addManagedFields sets the server-computed managed fields of both indices
// from their modes.
func addManagedFields(c *iotdm.IndexingConfiguration) {
	t := &c.ThingIndexingConfiguration
	t.ManagedFields = nil
	if c.ThingIndexEnabled() {
		t.ManagedFields = slices.Clone(registryFields)
		if t.ThingIndexingMode == iotdm.ThingIndexingRegistryAndShadow {
			t.ManagedFields = append(t.ManagedFields, shadowFields...)
		}
		if t.NamedShadowIndexingMode == iotdm.NamedShadowIndexingOn {
			t.ManagedFields = append(t.ManagedFields, namedShadowFields...)
		}
		if t.ThingConnectivityIndexingMode == iotdm.ConnectivityIndexingStatus {
			t.ManagedFields = append(t.ManagedFields, connectivityFields...)
		}
		if t.DeviceDefenderIndexingMode == iotdm.DeviceDefenderIndexingViolations {
			t.ManagedFields = append(t.ManagedFields, defenderFields...)
		}
	}
	g := &c.ThingGroupIndexingConfiguration
	g.ManagedFields = nil
	if c.ThingGroupIndexEnabled() {
		g.ManagedFields = slices.Clone(groupFields)
	}
}

// isManaged reports whether name is one of the managed fields of any source.
func isManaged(name string) bool {
	for _, list := range [][]iotdm.Field{registryFields, shadowFields, namedShadowFields, connectivityFields, defenderFields, groupFields} {
		for _, f := range list {
			if f.Name == name {
				return true
			}
		}
	}
	return false
}

// oneOf checks an enum member; "" is accepted when optional.
func oneOf(member, v string, optional bool, allowed ...string) error {
	if v == "" && optional {
		return nil
	}
	if !slices.Contains(allowed, v) {
		return invalid("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy enum value set: [%s]",
			v, member, strings.Join(allowed, ", "))
	}
	return nil
}

// validPath reports whether s is one or more dot-separated segments of
// alphanumerics, '-' and '_' (AWS §2.1: the remainder of a custom field).
func validPath(s string) bool {
	if s == "" {
		return false
	}
	for seg := range strings.SplitSeq(s, ".") {
		if !fieldSegment.MatchString(seg) {
			return false
		}
	}
	return true
}

// validateThingCustomField checks one custom field of AWS_Things against
// the data sources t enables: a field whose source is off fails the update
// (AWS §2.1).
func validateThingCustomField(t *iotdm.ThingIndexingConfiguration, name string) error {
	var rest, source string
	var enabled bool
	switch {
	case strings.HasPrefix(name, "attributes."):
		rest, source, enabled = name[len("attributes."):], "thingIndexingMode REGISTRY", true
	case strings.HasPrefix(name, "shadow.desired."), strings.HasPrefix(name, "shadow.reported."):
		_, rest, _ = strings.Cut(name[len("shadow."):], ".")
		source, enabled = "thingIndexingMode REGISTRY_AND_SHADOW", t.ThingIndexingMode == iotdm.ThingIndexingRegistryAndShadow
	case strings.HasPrefix(name, "shadow.name."):
		m := namedShadowSection.FindStringSubmatch(name)
		if m == nil {
			return invalid("Invalid custom field name %s: a named shadow field is shadow.name.<shadowName>.desired.<path> or shadow.name.<shadowName>.reported.<path>", name)
		}
		rest, source = m[3], "namedShadowIndexingMode ON"
		enabled = t.NamedShadowIndexingMode == iotdm.NamedShadowIndexingOn
	case strings.HasPrefix(name, "deviceDefender."):
		rest, source = name[len("deviceDefender."):], "deviceDefenderIndexingMode VIOLATIONS"
		enabled = t.DeviceDefenderIndexingMode == iotdm.DeviceDefenderIndexingViolations
	default:
		return invalid("Invalid custom field name %s: custom fields must start with attributes., shadow.desired., shadow.reported., shadow.name.<shadowName>.desired., shadow.name.<shadowName>.reported. or deviceDefender.", name)
	}
	if !validPath(rest) {
		return invalid("Invalid custom field name %s: after its prefix a custom field may only contain alphanumeric characters, '-' and '_', in segments separated by '.'", name)
	}
	if !enabled {
		return invalid("Custom field %s requires %s", name, source)
	}
	return nil
}

// validateCustomFields checks a customFields list: names, types, no
// duplicates, no managed fields, and no type change against old (the
// fields currently configured).
func validateCustomFields(member string, fields, old []iotdm.Field, check func(name string) error) error {
	if len(fields) > maxCustomFields {
		return iotdm.Errorf(iotdm.ErrLimitExceeded, "At most %d custom fields may be configured; %d given", maxCustomFields, len(fields))
	}
	oldType := map[string]string{}
	for _, f := range old {
		oldType[f.Name] = f.Type
	}
	seen := map[string]bool{}
	for _, f := range fields {
		if f.Name == "" {
			return invalid("%s: every custom field needs a name", member)
		}
		if err := oneOf(member+".type", f.Type, false, iotdm.FieldTypeNumber, iotdm.FieldTypeString, iotdm.FieldTypeBoolean); err != nil {
			return err
		}
		if seen[f.Name] {
			return invalid("Custom field %s is listed twice", f.Name)
		}
		seen[f.Name] = true
		if isManaged(f.Name) {
			return invalid("Custom field %s is a managed field", f.Name)
		}
		if err := check(f.Name); err != nil {
			return err
		}
		if t, ok := oldType[f.Name]; ok && t != f.Type {
			return invalid("Custom field %s is already configured with type %s; its type cannot be changed to %s", f.Name, t, f.Type)
		}
	}
	return nil
}

// normalizeThingConfig validates in and returns it with absent modes set to
// OFF and managed fields dropped; old is the current configuration.
func normalizeThingConfig(in *iotdm.ThingIndexingConfiguration, old *iotdm.ThingIndexingConfiguration) (iotdm.ThingIndexingConfiguration, error) {
	const p = "thingIndexingConfiguration."
	t := iotdm.ThingIndexingConfiguration{
		ThingIndexingMode:             in.ThingIndexingMode,
		ThingConnectivityIndexingMode: cmpOr(in.ThingConnectivityIndexingMode, iotdm.ConnectivityIndexingOff),
		DeviceDefenderIndexingMode:    cmpOr(in.DeviceDefenderIndexingMode, iotdm.DeviceDefenderIndexingOff),
		NamedShadowIndexingMode:       cmpOr(in.NamedShadowIndexingMode, iotdm.NamedShadowIndexingOff),
		CustomFields:                  slices.Clone(in.CustomFields),
	}
	if t.ThingIndexingMode == "" {
		return t, invalid("thingIndexingConfiguration.thingIndexingMode is required")
	}
	if err := oneOf(p+"thingIndexingMode", t.ThingIndexingMode, false, iotdm.ThingIndexingOff, iotdm.ThingIndexingRegistry, iotdm.ThingIndexingRegistryAndShadow); err != nil {
		return t, err
	}
	if err := oneOf(p+"thingConnectivityIndexingMode", t.ThingConnectivityIndexingMode, false, iotdm.ConnectivityIndexingOff, iotdm.ConnectivityIndexingStatus); err != nil {
		return t, err
	}
	if err := oneOf(p+"deviceDefenderIndexingMode", t.DeviceDefenderIndexingMode, false, iotdm.DeviceDefenderIndexingOff, iotdm.DeviceDefenderIndexingViolations); err != nil {
		return t, err
	}
	if err := oneOf(p+"namedShadowIndexingMode", t.NamedShadowIndexingMode, false, iotdm.NamedShadowIndexingOff, iotdm.NamedShadowIndexingOn); err != nil {
		return t, err
	}
	off := t.ThingIndexingMode == iotdm.ThingIndexingOff
	switch {
	case off && t.ThingConnectivityIndexingMode != iotdm.ConnectivityIndexingOff:
		return t, invalid("Connectivity indexing (thingConnectivityIndexingMode STATUS) requires thing indexing: thingIndexingMode must be REGISTRY or REGISTRY_AND_SHADOW")
	case off && t.DeviceDefenderIndexingMode != iotdm.DeviceDefenderIndexingOff:
		return t, invalid("Device Defender indexing (deviceDefenderIndexingMode VIOLATIONS) requires thing indexing: thingIndexingMode must be REGISTRY or REGISTRY_AND_SHADOW")
	case t.NamedShadowIndexingMode == iotdm.NamedShadowIndexingOn && t.ThingIndexingMode != iotdm.ThingIndexingRegistryAndShadow:
		return t, invalid("Named shadow indexing (namedShadowIndexingMode ON) requires thingIndexingMode REGISTRY_AND_SHADOW")
	case off && len(t.CustomFields) > 0:
		return t, invalid("Custom fields cannot be configured while thing indexing is OFF")
	}
	if f := in.Filter; f != nil {
		if len(f.NamedShadowNames) > maxNamedShadowFilter {
			return t, iotdm.Errorf(iotdm.ErrLimitExceeded, "At most %d named shadows may be selected for indexing; %d given", maxNamedShadowFilter, len(f.NamedShadowNames))
		}
		seen := map[string]bool{}
		for _, n := range f.NamedShadowNames {
			if n == "" || len(n) > maxShadowNameLen || !shadowNamePattern.MatchString(n) {
				return t, invalid("1 validation error detected: Value '%s' at '%sfilter.namedShadowNames' failed to satisfy constraint: Member must satisfy regular expression pattern: [$a-zA-Z0-9:_-]+ and have length between 1 and %d", n, p, maxShadowNameLen)
			}
			if seen[n] {
				return t, invalid("Named shadow %s is listed twice in filter.namedShadowNames", n)
			}
			seen[n] = true
		}
		if len(f.GeoLocations) > maxGeoLocations {
			return t, iotdm.Errorf(iotdm.ErrLimitExceeded, "At most %d geolocation target may be indexed; %d given", maxGeoLocations, len(f.GeoLocations))
		}
		for _, g := range f.GeoLocations {
			if !strings.HasPrefix(g.Name, "shadow.") || !validPath(strings.TrimPrefix(g.Name, "shadow.")) {
				return t, invalid("Invalid geolocation target name %q: it must be a shadow field", g.Name)
			}
			if err := oneOf(p+"filter.geoLocations.order", g.Order, true, "LatLon", "LonLat"); err != nil {
				return t, err
			}
		}
		if len(f.NamedShadowNames) > 0 || len(f.GeoLocations) > 0 {
			t.Filter = &iotdm.IndexingFilter{NamedShadowNames: slices.Clone(f.NamedShadowNames), GeoLocations: slices.Clone(f.GeoLocations)}
		}
	}
	err := validateCustomFields(p+"customFields", t.CustomFields, old.CustomFields, func(name string) error {
		return validateThingCustomField(&t, name)
	})
	return t, err
}

// normalizeGroupConfig validates in and returns it without managed fields.
func normalizeGroupConfig(in *iotdm.ThingGroupIndexingConfiguration, old *iotdm.ThingGroupIndexingConfiguration) (iotdm.ThingGroupIndexingConfiguration, error) {
	const p = "thingGroupIndexingConfiguration."
	g := iotdm.ThingGroupIndexingConfiguration{ThingGroupIndexingMode: in.ThingGroupIndexingMode, CustomFields: slices.Clone(in.CustomFields)}
	if g.ThingGroupIndexingMode == "" {
		return g, invalid("thingGroupIndexingConfiguration.thingGroupIndexingMode is required")
	}
	if err := oneOf(p+"thingGroupIndexingMode", g.ThingGroupIndexingMode, false, iotdm.ThingGroupIndexingOff, iotdm.ThingGroupIndexingOn); err != nil {
		return g, err
	}
	if g.ThingGroupIndexingMode == iotdm.ThingGroupIndexingOff && len(g.CustomFields) > 0 {
		return g, invalid("Custom fields cannot be configured while thing group indexing is OFF")
	}
	err := validateCustomFields(p+"customFields", g.CustomFields, old.CustomFields, func(name string) error {
		if rest, ok := strings.CutPrefix(name, "attributes."); !ok || !validPath(rest) {
			return invalid("Invalid custom field name %s: thing group custom fields must be attributes.<name>, with alphanumeric characters, '-' and '_'", name)
		}
		return nil
	})
	return g, err
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// UpdateIndexingConfiguration replaces the configuration of the indices
// given (an index not given keeps its configuration). Switching thing
// indexing OFF while dynamic thing groups exist is refused (AWS §3).
func (ix *Indexing) UpdateIndexingConfiguration(ctx context.Context, in *iotdm.UpdateIndexingConfigurationInput) (*iotdm.Empty, error) {
	if in.ThingIndexingConfiguration == nil && in.ThingGroupIndexingConfiguration == nil {
		return nil, invalid("At least one of thingIndexingConfiguration and thingGroupIndexingConfiguration is required")
	}
	err := ix.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		cur, err := loadIndexingConfig(ctx, tx)
		if err != nil {
			return err
		}
		next := *cur
		if in.ThingIndexingConfiguration != nil {
			if next.ThingIndexingConfiguration, err = normalizeThingConfig(in.ThingIndexingConfiguration, &cur.ThingIndexingConfiguration); err != nil {
				return err
			}
		}
		if in.ThingGroupIndexingConfiguration != nil {
			if next.ThingGroupIndexingConfiguration, err = normalizeGroupConfig(in.ThingGroupIndexingConfiguration, &cur.ThingGroupIndexingConfiguration); err != nil {
				return err
			}
		}
		if !next.ThingIndexEnabled() {
			n, err := countDynamicGroups(ctx, tx)
			if err != nil {
				return err
			}
			if n > 0 {
				return invalid("Thing indexing cannot be turned off while %d dynamic thing groups exist; delete them first", n)
			}
		}
		addManagedFields(&next)
		return put(ctx, tx, iotdm.KindIndexingConfig, iotdm.IndexingConfigKey, next)
	})
	if err != nil {
		return nil, err
	}
	ix.log.InfoContext(ctx, "indexing configuration updated")
	return &iotdm.Empty{}, nil
}

// GetIndexingConfiguration returns both configurations with their managed
// fields.
func (ix *Indexing) GetIndexingConfiguration(ctx context.Context, _ *iotdm.GetIndexingConfigurationInput) (*iotdm.GetIndexingConfigurationOutput, error) {
	c, err := loadIndexingConfig(ctx, ix.store)
	if err != nil {
		return nil, err
	}
	return &iotdm.GetIndexingConfigurationOutput{
		ThingIndexingConfiguration:      &c.ThingIndexingConfiguration,
		ThingGroupIndexingConfiguration: &c.ThingGroupIndexingConfiguration,
	}, nil
}

// thingSchema is DescribeIndex's schema of AWS_Things under t (AWS §2.1).
func thingSchema(t *iotdm.ThingIndexingConfiguration) string {
	status := t.ThingConnectivityIndexingMode == iotdm.ConnectivityIndexingStatus
	switch {
	case t.NamedShadowIndexingMode == iotdm.NamedShadowIndexingOn || t.DeviceDefenderIndexingMode == iotdm.DeviceDefenderIndexingViolations:
		return iotdm.SchemaMultiIndexingMode
	case t.ThingIndexingMode == iotdm.ThingIndexingRegistryAndShadow && status:
		return iotdm.SchemaRegistryAndShadowAndConnectivityStatus
	case t.ThingIndexingMode == iotdm.ThingIndexingRegistryAndShadow:
		return iotdm.SchemaRegistryAndShadow
	case status:
		return iotdm.SchemaRegistryAndConnectivityStatus
	}
	return iotdm.SchemaRegistry
}

// DescribeIndex describes an enabled index; a disabled or unknown one is
// ResourceNotFoundException.
func (ix *Indexing) DescribeIndex(ctx context.Context, in *iotdm.DescribeIndexInput) (*iotdm.DescribeIndexOutput, error) {
	if in.IndexName == "" || len(in.IndexName) > maxNameLen || !indexNamePattern.MatchString(in.IndexName) {
		return nil, invalid("1 validation error detected: Value '%s' at 'indexName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9:_-]+", in.IndexName)
	}
	c, err := loadIndexingConfig(ctx, ix.store)
	if err != nil {
		return nil, err
	}
	out := &iotdm.DescribeIndexOutput{IndexName: in.IndexName, IndexStatus: iotdm.IndexStatusActive}
	switch {
	case in.IndexName == iotdm.IndexThings && c.ThingIndexEnabled():
		out.Schema = thingSchema(&c.ThingIndexingConfiguration)
	case in.IndexName == iotdm.IndexThingGroups && c.ThingGroupIndexEnabled():
		out.Schema = iotdm.SchemaThingGroups
	default:
		return nil, indexNotFound(in.IndexName)
	}
	return out, nil
}

// ListIndices lists the enabled indices in name order.
func (ix *Indexing) ListIndices(ctx context.Context, in *iotdm.ListIndicesInput) (*iotdm.ListIndicesOutput, error) {
	size := in.MaxResults
	switch {
	case size == 0:
		size = defaultIndexResults
	case size < 1 || size > maxIndexResults:
		return nil, invalid("1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and %d", size, maxIndexResults)
	}
	after, err := decodeToken("indices", in.NextToken)
	if err != nil {
		return nil, err
	}
	c, err := loadIndexingConfig(ctx, ix.store)
	if err != nil {
		return nil, err
	}
	var names []string
	if c.ThingGroupIndexEnabled() {
		names = append(names, iotdm.IndexThingGroups)
	}
	if c.ThingIndexEnabled() {
		names = append(names, iotdm.IndexThings)
	}
	slices.Sort(names)
	p := pager[string]{size: size}
	for _, n := range names {
		if n > after && !p.add(n, n) {
			break
		}
	}
	out := &iotdm.ListIndicesOutput{IndexNames: p.items, NextToken: p.next("indices")}
	if out.IndexNames == nil {
		out.IndexNames = []string{}
	}
	return out, nil
}

// countDynamicGroups counts the dynamic thing groups.
func countDynamicGroups(ctx context.Context, tx iotdm.ReadTx) (int, error) {
	groups, err := allGroups(ctx, tx)
	if err != nil {
		return 0, fmt.Errorf("count dynamic groups: %w", err)
	}
	n := 0
	for _, g := range groups {
		if g.Dynamic() {
			n++
		}
	}
	return n, nil
}
