package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/fleetindex"
	"github.com/iotdm/iotdm/internal/query"
)

// SearchIndexes is what the search service reads: the fleet indices of
// things and thing groups, and a way to wait until they hold every change
// up to a sequence number of the store's change feed. *fleetindex.Feeder
// is one.
type SearchIndexes interface {
	Things() *fleetindex.Index
	Groups() *fleetindex.Index
	// WaitFor returns once every change with Seq <= seq is applied.
	WaitFor(ctx context.Context, seq uint64) error
}

// SearchOptions configures a Search service.
type SearchOptions struct {
	Logger *slog.Logger
}

// Search implements iotdm.Search over the fleet indices fed from store
// (AWS §2.4, §2.5). Before answering it waits for the indices to reach the
// store's last committed change, so a search sees every write that
// completed before it started. The indices are built in memory at start,
// so IndexNotReadyException never occurs.
type Search struct {
	store   iotdm.Store
	indexes SearchIndexes
	log     *slog.Logger
}

var _ iotdm.Search = (*Search)(nil)

// NewSearch returns the search service over the indices fed from store.
func NewSearch(store iotdm.Store, indexes SearchIndexes, opts SearchOptions) *Search {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Search{store: store, indexes: indexes, log: opts.Logger.With("component", "search")}
}

// Limits of the model and AWS §2.5, §9.4.
const (
	maxPercents       = 100
	maxBucketsLimit   = 10000
	searchTokenPrefix = "search:"
)

// target is one request resolved against the configuration: the index to
// read, the parsed query, and the configuration it was parsed under.
type target struct {
	name   string // iotdm.IndexThings or iotdm.IndexThingGroups
	index  *fleetindex.Index
	expr   query.Expr
	config *iotdm.IndexingConfiguration
}

// resolve validates the common members of every operation, catches the
// indices up with the store, refuses a disabled index and parses the query.
func (s *Search) resolve(ctx context.Context, indexName, queryString, queryVersion string) (*target, error) {
	name := cmpOr(indexName, iotdm.IndexThings)
	if len(name) > maxNameLen || !indexNamePattern.MatchString(name) {
		return nil, invalid("1 validation error detected: Value '%s' at 'indexName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9:_-]+", name)
	}
	if queryString == "" {
		return nil, invalid("1 validation error detected: Value null at 'queryString' failed to satisfy constraint: Member must not be null and have length greater than or equal to 1")
	}
	if queryVersion != "" && queryVersion != iotdm.QueryVersion {
		return nil, invalid("Unsupported queryVersion %s; the only query version is %s", queryVersion, iotdm.QueryVersion)
	}
	// Read-your-writes: whatever committed before this request is in the
	// index before the index is read.
	seq, err := s.store.LastSeq(ctx)
	if err != nil {
		return nil, fmt.Errorf("read last change: %w", err)
	}
	if err := s.indexes.WaitFor(ctx, seq); err != nil {
		return nil, fmt.Errorf("wait for the fleet index: %w", err)
	}
	c, err := loadIndexingConfig(ctx, s.store)
	if err != nil {
		return nil, err
	}
	t := &target{name: name, config: c}
	var opts query.Options
	switch {
	case name == iotdm.IndexThings && c.ThingIndexEnabled():
		t.index, opts = s.indexes.Things(), queryOptions(c)
	case name == iotdm.IndexThingGroups && c.ThingGroupIndexEnabled():
		t.index, opts = s.indexes.Groups(), groupQueryOptions(c)
	default:
		return nil, indexNotFound(name) // AWS §2.1: querying a disabled index
	}
	if t.expr, err = query.Parse(queryString, opts); err != nil {
		if qe, ok := errors.AsType[*query.Error](err); ok {
			return nil, iotdm.Errorf(iotdm.ErrInvalidQuery, "%s", qe.Error())
		}
		return nil, err
	}
	return t, nil
}

// groupQueryOptions are the parser options of a query over AWS_ThingGroups
// under c.
func groupQueryOptions(c *iotdm.IndexingConfiguration) query.Options {
	opts := query.Options{Index: query.IndexThingGroups}
	if fields := c.ThingGroupIndexingConfiguration.CustomFields; len(fields) > 0 {
		opts.CustomFields = make(map[string]query.FieldType, len(fields))
		for _, f := range fields {
			opts.CustomFields[f.Name] = query.FieldType(f.Type)
		}
	}
	return opts
}

// SearchIndex returns one page of the documents matching the query, in
// name order (AWS §2.4 defines no order; name order keeps pages stable).
func (s *Search) SearchIndex(ctx context.Context, in *iotdm.SearchIndexInput) (*iotdm.SearchIndexOutput, error) {
	size := in.MaxResults
	switch {
	case size == 0:
		size = iotdm.DefaultSearchResults
	case size < 1 || size > iotdm.MaxSearchResults:
		return nil, invalid("1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and %d", size, iotdm.MaxSearchResults)
	}
	t, err := s.resolve(ctx, in.IndexName, in.QueryString, in.QueryVersion)
	if err != nil {
		return nil, err
	}
	tag := searchTokenPrefix + t.name
	after, err := decodeToken(tag, in.NextToken)
	if err != nil {
		return nil, err
	}
	ids, next := t.index.SearchPage(t.expr, after, size)
	out := &iotdm.SearchIndexOutput{}
	if next != "" {
		out.NextToken = encodeToken(tag, next)
	}
	if t.name == iotdm.IndexThingGroups {
		out.ThingGroups = make([]iotdm.ThingGroupDocument, 0, len(ids))
		for _, id := range ids {
			if doc, ok := t.index.Get(id); ok {
				out.ThingGroups = append(out.ThingGroups, groupDocument(id, doc))
			}
		}
		return out, nil
	}
	out.Things = make([]iotdm.ThingDocument, 0, len(ids))
	for _, id := range ids {
		if doc, ok := t.index.Get(id); ok {
			out.Things = append(out.Things, thingDocument(id, doc, &t.config.ThingIndexingConfiguration))
		}
	}
	return out, nil
}

// aggField resolves an aggregation field (AWS §2.5: a managed or custom
// field, otherwise InvalidAggregationException) to the document path the
// index holds its values under and its declared type.
func (t *target) aggField(name string) (path string, typ query.FieldType, err error) {
	var managed, custom []iotdm.Field
	var alias map[string]string
	if t.name == iotdm.IndexThingGroups {
		g := &t.config.ThingGroupIndexingConfiguration
		managed, custom = g.ManagedFields, g.CustomFields
		alias = map[string]string{"description": "thingGroupDescription"}
	} else {
		th := &t.config.ThingIndexingConfiguration
		managed, custom = th.ManagedFields, th.CustomFields
		// The registry's managed fields live at the top of a thing
		// document; thingTypeName and thingGroupNames are also what a
		// query calls them.
		alias = map[string]string{
			"registry.version":         "version",
			"registry.thingTypeName":   "thingTypeName",
			"registry.thingGroupNames": "thingGroupNames",
		}
		if name == "thingTypeName" || name == "thingGroupNames" {
			name = "registry." + name
		}
	}
	path = cmpOr(alias[name], name)
	for _, f := range custom {
		if f.Name == name {
			return path, query.FieldType(f.Type), nil
		}
	}
	for _, f := range managed {
		if fieldPatternMatch(f.Name, name) {
			return path, query.FieldType(f.Type), nil
		}
	}
	return "", "", iotdm.Errorf(iotdm.ErrInvalidAggregation,
		"Aggregation field %s is not a managed or custom field of %s; add it to customFields with UpdateIndexingConfiguration", name, t.name)
}

// fieldPatternMatch reports whether name is the managed field pattern,
// where a '*' segment stands for any one segment (shadow.name.*.version).
func fieldPatternMatch(pattern, name string) bool {
	ps, ns := strings.Split(pattern, "."), strings.Split(name, ".")
	if len(ps) != len(ns) {
		return false
	}
	for i, p := range ps {
		if p != "*" && p != ns[i] || ns[i] == "" {
			return false
		}
	}
	return true
}

// GetStatistics computes the statistics of a field over the matching
// documents (AWS §2.5): every type is accepted; String fields give only
// count, Boolean fields count true as 1 and false as 0. Without a field,
// registry.version (AWS_Things) or version (AWS_ThingGroups) is used.
func (s *Search) GetStatistics(ctx context.Context, in *iotdm.GetStatisticsInput) (*iotdm.GetStatisticsOutput, error) {
	t, err := s.resolve(ctx, in.IndexName, in.QueryString, in.QueryVersion)
	if err != nil {
		return nil, err
	}
	field := in.AggregationField
	if field == "" {
		field = "registry.version"
		if t.name == iotdm.IndexThingGroups {
			field = "version"
		}
	}
	path, typ, err := t.aggField(field)
	if err != nil {
		return nil, err
	}
	st := t.index.Statistics(t.expr, path, typ)
	return &iotdm.GetStatisticsOutput{Statistics: iotdm.Statistics{
		Count: st.Count, Average: st.Average, Sum: st.Sum, Minimum: st.Minimum, Maximum: st.Maximum,
		SumOfSquares: st.SumOfSquares, Variance: st.Variance, StdDeviation: st.StdDeviation,
	}}, nil
}

// GetCardinality counts the distinct values of a field over the matching
// documents, exactly (AWS §2.5 allows the approximation; 0 when nothing
// matches).
func (s *Search) GetCardinality(ctx context.Context, in *iotdm.GetCardinalityInput) (*iotdm.GetCardinalityOutput, error) {
	if in.AggregationField == "" {
		return nil, iotdm.Errorf(iotdm.ErrInvalidAggregation, "GetCardinality requires an aggregationField")
	}
	t, err := s.resolve(ctx, in.IndexName, in.QueryString, in.QueryVersion)
	if err != nil {
		return nil, err
	}
	path, _, err := t.aggField(in.AggregationField)
	if err != nil {
		return nil, err
	}
	return &iotdm.GetCardinalityOutput{Cardinality: t.index.Cardinality(t.expr, path)}, nil
}

// GetPercentiles computes percentiles of a Number field over the matching
// documents (AWS §2.5), exactly, in the order of the percents asked for.
func (s *Search) GetPercentiles(ctx context.Context, in *iotdm.GetPercentilesInput) (*iotdm.GetPercentilesOutput, error) {
	if len(in.Percents) > maxPercents {
		return nil, invalid("At most %d percents may be requested; %d given", maxPercents, len(in.Percents))
	}
	for _, p := range in.Percents {
		if math.IsNaN(p) || p < 0 || p > 100 {
			return nil, invalid("1 validation error detected: Value '%s' at 'percents' failed to satisfy constraint: Member must have value between 0 and 100",
				strconv.FormatFloat(p, 'g', -1, 64))
		}
	}
	if in.AggregationField == "" {
		return nil, iotdm.Errorf(iotdm.ErrInvalidAggregation, "GetPercentiles requires an aggregationField of type Number")
	}
	t, err := s.resolve(ctx, in.IndexName, in.QueryString, in.QueryVersion)
	if err != nil {
		return nil, err
	}
	path, typ, err := t.aggField(in.AggregationField)
	if err != nil {
		return nil, err
	}
	if typ != query.Number {
		return nil, iotdm.Errorf(iotdm.ErrInvalidAggregation, "Percentiles need a Number field; %s is a %s field", in.AggregationField, typ)
	}
	ps := t.index.Percentiles(t.expr, path, in.Percents)
	out := &iotdm.GetPercentilesOutput{Percentiles: make([]iotdm.PercentPair, len(ps))}
	for i, p := range ps {
		out.Percentiles[i] = iotdm.PercentPair{Percent: p.Percent, Value: p.Value}
	}
	return out, nil
}

// GetBucketsAggregation runs a terms aggregation on a field over the
// matching documents (AWS §2.5): the values held by the most documents,
// by descending count.
func (s *Search) GetBucketsAggregation(ctx context.Context, in *iotdm.GetBucketsAggregationInput) (*iotdm.GetBucketsAggregationOutput, error) {
	if in.BucketsAggregationType == nil {
		return nil, invalid("1 validation error detected: Value null at 'bucketsAggregationType' failed to satisfy constraint: Member must not be null")
	}
	maxBuckets := fleetindex.DefaultMaxBuckets
	if ta := in.BucketsAggregationType.TermsAggregation; ta != nil && ta.MaxBuckets != 0 {
		if ta.MaxBuckets < 1 || ta.MaxBuckets > maxBucketsLimit {
			return nil, invalid("1 validation error detected: Value '%d' at 'bucketsAggregationType.termsAggregation.maxBuckets' failed to satisfy constraint: Member must have value between 1 and %d", ta.MaxBuckets, maxBucketsLimit)
		}
		maxBuckets = ta.MaxBuckets
	}
	if in.AggregationField == "" {
		return nil, invalid("1 validation error detected: Value null at 'aggregationField' failed to satisfy constraint: Member must not be null")
	}
	t, err := s.resolve(ctx, in.IndexName, in.QueryString, in.QueryVersion)
	if err != nil {
		return nil, err
	}
	path, _, err := t.aggField(in.AggregationField)
	if err != nil {
		return nil, err
	}
	total, buckets := t.index.Buckets(t.expr, path, maxBuckets)
	out := &iotdm.GetBucketsAggregationOutput{TotalCount: total, Buckets: make([]iotdm.Bucket, len(buckets))}
	for i, b := range buckets {
		out.Buckets[i] = iotdm.Bucket{KeyValue: b.KeyValue, Count: b.Count}
	}
	return out, nil
}

// --- rendering documents ---

// thingDocument renders an indexed thing document as AWS's ThingDocument
// (AWS §2.4): the shadow as a JSON string of {reported, desired, delta,
// metadata, hasDelta, version}, named shadows under name only with named
// shadow indexing, connectivity only with STATUS indexing.
func thingDocument(id string, doc map[string]any, c *iotdm.ThingIndexingConfiguration) iotdm.ThingDocument {
	d := iotdm.ThingDocument{
		ThingName:       cmpOr(stringOf(doc["thingName"]), id),
		ThingID:         stringOf(doc["thingId"]),
		ThingTypeName:   stringOf(doc["thingTypeName"]),
		ThingGroupNames: stringsOf(doc["thingGroupNames"]),
		Attributes:      stringMapOf(doc["attributes"]),
	}
	if sh, ok := doc["shadow"].(map[string]any); ok && c.ThingIndexingMode == iotdm.ThingIndexingRegistryAndShadow {
		d.Shadow = shadowJSON(sh, c.NamedShadowIndexingMode == iotdm.NamedShadowIndexingOn)
	}
	if dd, ok := doc["deviceDefender"]; ok && dd != nil && c.DeviceDefenderIndexingMode == iotdm.DeviceDefenderIndexingViolations {
		if b, err := json.Marshal(dd); err == nil {
			d.DeviceDefender = string(b)
		}
	}
	if conn, ok := doc["connectivity"].(map[string]any); ok && c.ThingConnectivityIndexingMode == iotdm.ConnectivityIndexingStatus {
		tc := &iotdm.ThingConnectivity{DisconnectReason: stringOf(conn["disconnectReason"])}
		tc.Connected, _ = conn["connected"].(bool)
		if ts, ok := int64Of(conn["timestamp"]); ok {
			tc.Timestamp = &ts
		}
		d.Connectivity = tc
	}
	return d
}

// shadowJSON renders a classic shadow (and its named shadows when named
// is set) as the JSON string of a ThingDocument, with hasDelta spelled out.
func shadowJSON(sh map[string]any, named bool) string {
	out := make(map[string]any, len(sh)+1)
	for k, v := range sh {
		if k == "name" && !named {
			continue
		}
		out[k] = v
	}
	if _, ok := out["hasDelta"]; !ok {
		delta, _ := sh["delta"].(map[string]any)
		out["hasDelta"] = len(delta) > 0
	}
	if names, ok := out["name"].(map[string]any); ok {
		rendered := make(map[string]any, len(names))
		for n, v := range names {
			if m, ok := v.(map[string]any); ok {
				if _, has := m["hasDelta"]; !has {
					delta, _ := m["delta"].(map[string]any)
					c := make(map[string]any, len(m)+1)
					for k, x := range m {
						c[k] = x
					}
					c["hasDelta"] = len(delta) > 0
					v = c
				}
			}
			rendered[n] = v
		}
		out["name"] = rendered
	}
	b, err := json.Marshal(out)
	if err != nil {
		return ""
	}
	return string(b)
}

// groupDocument renders an indexed group document as AWS's
// ThingGroupDocument.
func groupDocument(id string, doc map[string]any) iotdm.ThingGroupDocument {
	return iotdm.ThingGroupDocument{
		ThingGroupName:        cmpOr(stringOf(doc["thingGroupName"]), id),
		ThingGroupID:          stringOf(doc["thingGroupId"]),
		ThingGroupDescription: stringOf(doc["thingGroupDescription"]),
		Attributes:            stringMapOf(doc["attributes"]),
		ParentGroupNames:      stringsOf(doc["parentGroupNames"]),
	}
}

// stringOf returns v as a string: strings as they are, other scalars in
// their JSON form, nil as "".
func stringOf(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		return string(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func stringsOf(v any) []string {
	switch v := v.(type) {
	case []string:
		if len(v) == 0 {
			return nil
		}
		return append([]string(nil), v...)
	case []any:
		var out []string
		for _, x := range v {
			if x != nil {
				out = append(out, stringOf(x))
			}
		}
		return out
	case string:
		return []string{v}
	}
	return nil
}

func stringMapOf(v any) map[string]string {
	switch v := v.(type) {
	case map[string]string:
		if len(v) == 0 {
			return nil
		}
		out := make(map[string]string, len(v))
		for k, x := range v {
			out[k] = x
		}
		return out
	case map[string]any:
		if len(v) == 0 {
			return nil
		}
		out := make(map[string]string, len(v))
		for k, x := range v {
			out[k] = stringOf(x)
		}
		return out
	}
	return nil
}

func int64Of(v any) (int64, bool) {
	switch v := v.(type) {
	case int64:
		return v, true
	case int:
		return int64(v), true
	case int32:
		return int64(v), true
	case uint64:
		return int64(v), true
	case float64:
		return int64(v), true
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return n, true
		}
		if f, err := v.Float64(); err == nil {
			return int64(f), true
		}
	}
	return 0, false
}
