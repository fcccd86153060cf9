package template

import (
	"bytes"
	"encoding/json"
)

// JSON returns t as canonical JSON: sections in CloudFormation's order,
// parameters, resources and outputs in the order written (ParameterOrder,
// ResourceOrder, OutputOrder; members missing from those last, by name),
// attributes in a fixed order, other maps with sorted keys, YAML short forms
// in their long form, indented by two spaces. Parsing the result gives back
// an equal Template. Callers keep the body as submitted for GetTemplate's
// Original stage.
func (t *Template) JSON() ([]byte, error) {
	var o object
	if t.FormatVersion != "" {
		o.add("AWSTemplateFormatVersion", t.FormatVersion)
	}
	if t.Description != "" {
		o.add("Description", t.Description)
	}
	if t.Metadata != nil {
		o.add("Metadata", t.Metadata)
	}
	if t.Transform != nil {
		o.add("Transform", t.Transform)
	}
	if t.Parameters != nil {
		var ps object
		for _, name := range t.paramNames() {
			ps.add(name, parameterJSON(t.Parameters[name]))
		}
		o.add("Parameters", ps)
	}
	if t.Rules != nil {
		var rs object
		for _, name := range ordered(t.ruleOrder, t.Rules) {
			r := t.Rules[name]
			var ro object
			if r.RuleCondition != nil {
				ro.add("RuleCondition", r.RuleCondition)
			}
			as := make([]object, len(r.Assertions))
			for i, a := range r.Assertions {
				as[i].add("Assert", a.Assert)
				if a.AssertDescription != "" {
					as[i].add("AssertDescription", a.AssertDescription)
				}
			}
			ro.add("Assertions", as)
			rs.add(name, ro)
		}
		o.add("Rules", rs)
	}
	if t.Mappings != nil {
		var ms object
		for _, name := range ordered(t.mappingOrder, t.Mappings) {
			ms.add(name, t.Mappings[name])
		}
		o.add("Mappings", ms)
	}
	if t.Conditions != nil {
		var cs object
		for _, name := range ordered(t.conditionOrder, t.Conditions) {
			cs.add(name, t.Conditions[name])
		}
		o.add("Conditions", cs)
	}
	if t.Resources != nil {
		var rs object
		for _, name := range ordered(t.ResourceOrder, t.Resources) {
			rs.add(name, resourceJSON(t.Resources[name]))
		}
		o.add("Resources", rs)
	}
	if t.Outputs != nil {
		var os object
		for _, name := range ordered(t.OutputOrder, t.Outputs) {
			out := t.Outputs[name]
			var oo object
			if out.Description != "" {
				oo.add("Description", out.Description)
			}
			if out.Condition != "" {
				oo.add("Condition", out.Condition)
			}
			oo.add("Value", out.Value)
			if out.ExportName != nil {
				var e object
				e.add("Name", out.ExportName)
				oo.add("Export", e)
			}
			os.add(name, oo)
		}
		o.add("Outputs", os)
	}
	b, err := compactJSON(o)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func parameterJSON(p *Parameter) object {
	var o object
	o.add("Type", p.Type)
	if p.Description != "" {
		o.add("Description", p.Description)
	}
	if p.Default != nil {
		o.add("Default", *p.Default)
	}
	if p.AllowedValues != nil {
		o.add("AllowedValues", p.AllowedValues)
	}
	if p.AllowedPattern != "" {
		o.add("AllowedPattern", p.AllowedPattern)
	}
	if p.MinLength != nil {
		o.add("MinLength", *p.MinLength)
	}
	if p.MaxLength != nil {
		o.add("MaxLength", *p.MaxLength)
	}
	if p.MinValue != nil {
		o.add("MinValue", *p.MinValue)
	}
	if p.MaxValue != nil {
		o.add("MaxValue", *p.MaxValue)
	}
	if p.NoEcho {
		o.add("NoEcho", true)
	}
	if p.ConstraintDescription != "" {
		o.add("ConstraintDescription", p.ConstraintDescription)
	}
	return o
}

func resourceJSON(r *Resource) object {
	var o object
	o.add("Type", r.Type)
	if r.Condition != "" {
		o.add("Condition", r.Condition)
	}
	switch len(r.DependsOn) {
	case 0:
	case 1:
		o.add("DependsOn", r.DependsOn[0])
	default:
		o.add("DependsOn", r.DependsOn)
	}
	for _, a := range []struct {
		name string
		m    map[string]any
	}{{"Properties", r.Properties}, {"Metadata", r.Metadata}, {"CreationPolicy", r.CreationPolicy}, {"UpdatePolicy", r.UpdatePolicy}} {
		if a.m != nil {
			o.add(a.name, a.m)
		}
	}
	if r.DeletionPolicy != "" {
		o.add("DeletionPolicy", r.DeletionPolicy)
	}
	if r.UpdateReplacePolicy != "" {
		o.add("UpdateReplacePolicy", r.UpdateReplacePolicy)
	}
	return o
}

// object is a JSON object that keeps its keys in the order added.
type object struct {
	keys []string
	vals []any
}

func (o *object) add(k string, v any) {
	o.keys = append(o.keys, k)
	o.vals = append(o.vals, v)
}

func (o object) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, err := compactJSON(k)
		if err != nil {
			return nil, err
		}
		buf.Write(kb)
		buf.WriteByte(':')
		vb, err := compactJSON(o.vals[i])
		if err != nil {
			return nil, err
		}
		buf.Write(vb)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}
