package fleetindex

import (
	"slices"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/query"
	"github.com/iotdm/iotdm/internal/shadow"
)

// Sections of an AWS_Things document that do not come from the thing
// entity itself: a change of the thing keeps them, and each has its own
// source in the change feed.
const (
	docShadow       = "shadow"          // shadow entities (classic at the top, named under "name")
	docGroupNames   = "thingGroupNames" // static membership entities
	docConnectivity = "connectivity"    // the broker's connection state
)

// thingDoc builds the AWS_Things document of a registered thing under cfg
// (AWS §2.1 data sources, §2.2 values) from its entities: the thing, its
// static groups, its shadows by name ("" is the classic shadow) and its
// connection state (nil when none is stored). Shadows of unregistered names
// are never indexed (§2.2), so there is no document without a thing.
func thingDoc(cfg *iotdm.IndexingConfiguration, t *iotdm.Thing, static []string, shadows map[string]*shadow.State, conn *iotdm.ConnectivityState) map[string]any {
	doc := registryDoc(cfg, t, nil)
	setGroupNames(doc, static)
	for name, st := range shadows {
		setShadow(cfg, doc, name, st)
	}
	setConnectivity(cfg, doc, conn)
	return doc
}

// registryDoc returns the document of thing t: its registry fields, with the
// other sections kept from old (nil for a new document).
func registryDoc(cfg *iotdm.IndexingConfiguration, t *iotdm.Thing, old map[string]any) map[string]any {
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
	for _, k := range []string{docShadow, docGroupNames, docConnectivity} {
		if v, ok := old[k]; ok {
			doc[k] = v
		}
	}
	tc := &cfg.ThingIndexingConfiguration
	if _, ok := doc[docConnectivity]; !ok && tc.ThingConnectivityIndexingMode == iotdm.ConnectivityIndexingStatus {
		// Until its connection state is read (setConnectivity), a thing is
		// disconnected.
		doc[docConnectivity] = map[string]any{"connected": false}
	}
	return doc
}

// setConnectivity sets the connectivity section of doc from the thing's
// stored connection state st (nil when there is none) under connectivity
// STATUS indexing: {connected, timestamp, disconnectReason} (AWS §2.1,
// §2.4). A thing that never connected, or whose state was recorded for an
// earlier thing of the same name (another thingId), is {"connected": false}.
func setConnectivity(cfg *iotdm.IndexingConfiguration, doc map[string]any, st *iotdm.ConnectivityState) {
	if cfg.ThingIndexingConfiguration.ThingConnectivityIndexingMode != iotdm.ConnectivityIndexingStatus {
		return
	}
	if st == nil || st.ThingID != "" && st.ThingID != doc["thingId"] {
		doc[docConnectivity] = map[string]any{"connected": false}
		return
	}
	c := map[string]any{"connected": st.Connected, "timestamp": st.Timestamp}
	if !st.Connected && st.DisconnectReason != "" {
		c["disconnectReason"] = st.DisconnectReason
	}
	doc[docConnectivity] = c
}

// setGroupNames sets thingGroupNames to the thing's static memberships.
// Dynamic memberships are derived from this index, and feeding them back
// into the documents the standing queries match could loop (a dynamic group
// whose query reads thingGroupNames would change its own input). AWS §3
// leaves this undocumented; excluding them is the safe choice.
func setGroupNames(doc map[string]any, static []string) {
	if len(static) == 0 {
		delete(doc, docGroupNames)
		return
	}
	names := make([]any, 0, len(static))
	for _, g := range slices.Sorted(slices.Values(static)) {
		names = append(names, g)
	}
	doc[docGroupNames] = names
}

// groupNames returns the thingGroupNames of doc.
func groupNames(doc map[string]any) []string {
	l, _ := doc[docGroupNames].([]any)
	out := make([]string, 0, len(l))
	for _, v := range l {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// setShadow puts shadow name of the thing into doc, or takes it out when st
// does not exist, as far as cfg indexes it (REGISTRY_AND_SHADOW; named
// shadows only when named shadow indexing is on and the filter names them).
func setShadow(cfg *iotdm.IndexingConfiguration, doc map[string]any, name string, st *shadow.State) {
	tc := &cfg.ThingIndexingConfiguration
	if tc.ThingIndexingMode != iotdm.ThingIndexingRegistryAndShadow {
		return
	}
	if name != "" && (tc.NamedShadowIndexingMode != iotdm.NamedShadowIndexingOn || tc.Filter == nil ||
		!slices.Contains(tc.Filter.NamedShadowNames, name)) {
		return
	}
	old, _ := doc[docShadow].(map[string]any)
	sh := make(map[string]any, len(old)+6)
	var named map[string]any
	for k, v := range old {
		if k == "name" {
			if m, ok := v.(map[string]any); ok {
				named = make(map[string]any, len(m)+1)
				for n, s := range m {
					named[n] = s
				}
			}
			continue
		}
		if name != "" {
			sh[k] = v // the classic shadow's fields stay
		}
	}
	exists := shadow.Exists(st)
	if name == "" {
		if exists {
			for k, v := range shadowDoc(st) {
				sh[k] = v
			}
		}
	} else {
		if named == nil {
			named = map[string]any{}
		}
		delete(named, name)
		if exists {
			named[name] = shadowDoc(st)
		}
	}
	if len(named) > 0 {
		sh["name"] = named
	}
	if len(sh) == 0 {
		delete(doc, docShadow)
		return
	}
	doc[docShadow] = sh
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
