package fleetindex

import (
	"slices"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/query"
	"github.com/iotdm/iotdm/internal/shadow"
)

// thingParts are the entities one AWS_Things document is built from, kept in
// memory by the Feeder so that a change rebuilds one document without
// reading the store.
type thingParts struct {
	thing   *iotdm.Thing             // nil while the thing is not registered
	static  map[string]bool          // static group memberships
	dynamic map[string]bool          // dynamic group memberships as stored
	shadows map[string]*shadow.State // "" is the classic shadow
}

func (p *thingParts) empty() bool {
	return p.thing == nil && len(p.static) == 0 && len(p.dynamic) == 0 && len(p.shadows) == 0
}

// thingDoc builds the AWS_Things document of a registered thing under cfg
// (AWS §2.1 data sources, §2.2 values). It returns nil when the thing is not
// registered: shadows of unregistered names are never indexed (§2.2).
func thingDoc(cfg *iotdm.IndexingConfiguration, p *thingParts) map[string]any {
	if p == nil || p.thing == nil || !cfg.ThingIndexEnabled() {
		return nil
	}
	t := p.thing
	attrs := make(map[string]any, len(t.Attributes))
	for k, v := range t.Attributes {
		attrs[k] = v
	}
	doc := map[string]any{
		"thingName":  t.ThingName,
		"thingId":    t.ThingID,
		"attributes": attrs,
		// registry.version (AWS §2.2): the default field of GetStatistics.
		"version": t.Version,
	}
	if t.ThingTypeName != "" {
		doc["thingTypeName"] = t.ThingTypeName
	}
	// thingGroupNames holds the thing's static memberships only, for now:
	// dynamic memberships are derived from this index, and feeding them back
	// into the documents the standing queries match could loop (a dynamic
	// group whose query reads thingGroupNames would change its own input).
	// AWS §3 leaves this undocumented; excluding them is the safe choice.
	if len(p.static) > 0 {
		names := make([]any, 0, len(p.static))
		for _, g := range sortedKeys(p.static) {
			names = append(names, g)
		}
		doc["thingGroupNames"] = names
	}
	tc := &cfg.ThingIndexingConfiguration
	if tc.ThingConnectivityIndexingMode == iotdm.ConnectivityIndexingStatus {
		// The broker fills connectivity in; until then a thing is disconnected.
		doc["connectivity"] = map[string]any{"connected": false}
	}
	if tc.ThingIndexingMode == iotdm.ThingIndexingRegistryAndShadow {
		var sh map[string]any
		if st := p.shadows[""]; shadow.Exists(st) {
			sh = shadowDoc(st)
		}
		if tc.NamedShadowIndexingMode == iotdm.NamedShadowIndexingOn && tc.Filter != nil {
			var named map[string]any
			for name, st := range p.shadows {
				if name == "" || !shadow.Exists(st) || !slices.Contains(tc.Filter.NamedShadowNames, name) {
					continue
				}
				if named == nil {
					named = map[string]any{}
				}
				named[name] = shadowDoc(st)
			}
			if named != nil {
				if sh == nil {
					sh = map[string]any{}
				}
				sh["name"] = named
			}
		}
		if sh != nil {
			doc["shadow"] = sh
		}
	}
	return doc
}

// shadowDoc is the indexed form of one shadow: its reported, desired and
// delta sections, their metadata, version and hasDelta (AWS §2.2).
func shadowDoc(st *shadow.State) map[string]any {
	delta := shadow.Delta(st)
	d := map[string]any{
		"version":  st.Version,
		"hasDelta": len(delta) > 0,
	}
	if len(st.Reported) > 0 {
		d["reported"] = st.Reported
	}
	if len(st.Desired) > 0 {
		d["desired"] = st.Desired
	}
	if len(delta) > 0 {
		d["delta"] = delta
	}
	meta := map[string]any{}
	if len(st.DesiredMetadata) > 0 {
		meta["desired"] = st.DesiredMetadata
	}
	if len(st.ReportedMetadata) > 0 {
		meta["reported"] = st.ReportedMetadata
	}
	if len(meta) > 0 {
		d["metadata"] = meta
	}
	return d
}

// groupDoc builds the AWS_ThingGroups document of a thing group (AWS §2.1:
// thingGroupName, thingGroupId, thingGroupDescription, attributes,
// parentGroupNames).
func groupDoc(g *iotdm.ThingGroup) map[string]any {
	doc := map[string]any{
		"thingGroupName": g.ThingGroupName,
		"thingGroupId":   g.ThingGroupID,
		"version":        g.Version,
	}
	if d := g.ThingGroupProperties.ThingGroupDescription; d != "" {
		doc["thingGroupDescription"] = d
	}
	attrs := map[string]any{}
	if ap := g.ThingGroupProperties.AttributePayload; ap != nil {
		for k, v := range ap.Attributes {
			attrs[k] = v
		}
	}
	doc["attributes"] = attrs
	if parents := g.ThingGroupMetadata.RootToParentThingGroups; len(parents) > 0 {
		names := make([]any, 0, len(parents))
		for _, p := range parents {
			names = append(names, p.GroupName)
		}
		doc["parentGroupNames"] = names
	}
	return doc
}

// thingQueryOptions are the parser options of a standing query over
// AWS_Things under cfg: the configured custom fields with their types.
func thingQueryOptions(cfg *iotdm.IndexingConfiguration) query.Options {
	opts := query.Options{Index: query.IndexThings}
	if fields := cfg.ThingIndexingConfiguration.CustomFields; len(fields) > 0 {
		opts.CustomFields = make(map[string]query.FieldType, len(fields))
		for _, f := range fields {
			opts.CustomFields[f.Name] = query.FieldType(f.Type)
		}
	}
	return opts
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
