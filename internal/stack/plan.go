package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// unknownMarker starts the stand-in for a value that is only known once a
// resource is created or replaced; a property holding one changes
// "dynamically".
const unknownMarker = "{{known-after-deploy:"

func unknown(what string) string { return unknownMarker + what + "}}" }

// containsUnknown reports whether v holds a value only known after deploy.
func containsUnknown(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.Contains(x, unknownMarker)
	case map[string]any:
		for _, e := range x {
			if containsUnknown(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if containsUnknown(e) {
				return true
			}
		}
	}
	return false
}

// Plan returns the changes that deploying t onto st would make, without
// making them. st has no resources for a stack that does not exist yet.
// Values that depend on resources still to be created or replaced are
// shown as known after deploy.
func (e *Engine) Plan(ctx context.Context, st *Stack, t *Target) ([]Change, error) {
	c := e.context(ctx, st, t.Parameters, nil)
	pending := map[string]bool{} // created or replaced: Ref and GetAtt change
	updated := map[string]bool{} // updated in place: GetAtt may change
	c.Ref = func(id string) (string, error) {
		r, ok := st.Resources[id]
		if pending[id] || !ok || r.PhysicalID == "" {
			return unknown(id), nil
		}
		return r.PhysicalID, nil
	}
	c.GetAtt = func(id, attr string) (any, error) {
		r, ok := st.Resources[id]
		if pending[id] || updated[id] || !ok || r.PhysicalID == "" {
			return unknown(id + "." + attr), nil
		}
		v, ok := r.Attributes[attr]
		if !ok {
			return nil, fmt.Errorf("Template error: resource %s does not support attribute type %s in Fn::GetAtt", id, attr)
		}
		return v, nil
	}
	conds, err := t.Template.EvalConditions(c)
	if err != nil {
		return nil, err
	}
	c.Conditions = conds
	if err := t.Template.CheckRules(c); err != nil {
		return nil, err
	}
	order, err := included(t.Template, conds)
	if err != nil {
		return nil, err
	}
	var changes []Change
	keep := map[string]bool{}
	for _, id := range order {
		keep[id] = true
		tr := t.Template.Resources[id]
		typ, ok := e.catalog.Lookup(tr.Type)
		if !ok {
			return nil, fmt.Errorf("Unsupported resource type: %s", tr.Type)
		}
		v, err := t.Template.Eval(c, "Resources/"+id+"/Properties", tr.Properties)
		if err != nil {
			return nil, err
		}
		props, _ := v.(map[string]any)
		old := st.Resources[id]
		if old == nil || old.PhysicalID == "" {
			pending[id] = true
			changes = append(changes, Change{Action: "Add", LogicalResourceID: id, ResourceType: tr.Type,
				AfterContext: contextJSON(props), Security: typ.Security})
			continue
		}
		if old.Type != tr.Type {
			return nil, fmt.Errorf("Update of resource type is not permitted. The new template modifies resource type of the following resources: [%s]", id)
		}
		ch := Change{Action: "Modify", LogicalResourceID: id, PhysicalResourceID: old.PhysicalID, ResourceType: tr.Type,
			BeforeContext: contextJSON(old.Properties), AfterContext: contextJSON(props)}
		replaceStatic, replaceDynamic := false, false
		for _, key := range changedKeys(old.Properties, props) {
			before, hadBefore := old.Properties[key]
			after, hasAfter := props[key]
			d := ChangeDetail{Attribute: "Properties", Name: key, RequiresRecreation: "Never",
				Evaluation: "Static", ChangeSource: "DirectModification", AttributeChangeType: "Modify"}
			if key == "Tags" {
				d.Attribute = "Tags"
			}
			switch {
			case !hadBefore:
				d.AttributeChangeType = "Add"
			case !hasAfter:
				d.AttributeChangeType = "Remove"
			}
			if hadBefore {
				d.BeforeValue = valueString(before)
			}
			if hasAfter {
				d.AfterValue = valueString(after)
			}
			if containsUnknown(after) {
				d.Evaluation, d.ChangeSource = "Dynamic", "ResourceReference"
			}
			if typ.replaces(key, old.Properties, props) {
				d.RequiresRecreation = "Always"
				if d.Evaluation == "Dynamic" {
					replaceDynamic = true
				} else {
					replaceStatic = true
				}
			}
			if !slices.Contains(ch.Scope, d.Attribute) {
				ch.Scope = append(ch.Scope, d.Attribute)
			}
			if typ.securityProperty(key) {
				ch.Security = true
			}
			ch.Details = append(ch.Details, d)
		}
		if len(ch.Details) == 0 {
			continue
		}
		switch {
		case replaceStatic:
			ch.Replacement = "True"
			pending[id] = true
		case replaceDynamic:
			ch.Replacement = "Conditional"
			pending[id] = true
		default:
			ch.Replacement = "False"
			updated[id] = true
		}
		sort.Strings(ch.Scope)
		changes = append(changes, ch)
	}
	for _, id := range sortedKeys(st.Resources) {
		if keep[id] {
			continue
		}
		r := st.Resources[id]
		typ, _ := e.catalog.Lookup(r.Type)
		changes = append(changes, Change{Action: "Remove", LogicalResourceID: id, PhysicalResourceID: r.PhysicalID,
			ResourceType: r.Type, BeforeContext: contextJSON(r.Properties), Security: typ != nil && typ.Security})
	}
	return changes, nil
}

func contextJSON(props map[string]any) string {
	if props == nil {
		return ""
	}
	b, err := json.Marshal(map[string]any{"Properties": props})
	if err != nil {
		return ""
	}
	return string(b)
}

// valueString renders a property value as CloudFormation's change details
// do: strings as themselves, everything else as JSON.
func valueString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
