package template

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// builder turns the parsed tree into a Template, recording positions.
type builder struct {
	t  *Template
	ps problems
}

// Sections and attributes a template may have, in CloudFormation's order.
var (
	sectionNames   = []string{"AWSTemplateFormatVersion", "Description", "Metadata", "Transform", "Parameters", "Rules", "Mappings", "Conditions", "Resources", "Outputs"}
	resourceAttrs  = []string{"Type", "Condition", "DependsOn", "Properties", "Metadata", "CreationPolicy", "UpdatePolicy", "DeletionPolicy", "UpdateReplacePolicy"}
	parameterAttrs = []string{"Type", "Default", "AllowedValues", "AllowedPattern", "MinLength", "MaxLength", "MinValue", "MaxValue", "NoEcho", "Description", "ConstraintDescription"}
	outputAttrs    = []string{"Description", "Value", "Export", "Condition"}
	ruleAttrs      = []string{"RuleCondition", "Assertions"}
	assertAttrs    = []string{"Assert", "AssertDescription"}
)

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func build(root *node) (*Template, error) {
	t := &Template{pos: map[string]position{}}
	b := &builder{t: t, ps: problems{pos: t.pos}}
	if root.kind != nMap {
		b.ps.pos[""] = root.pos
		b.ps.add("", "Template format error: a template must be a JSON object or a YAML map, not %s", kindName(b.plain(root, "")))
		return nil, b.ps.err()
	}
	b.t.pos[""] = root.pos
	for i, key := range root.keys {
		n := root.kids[i]
		path := key
		v := b.plain(n, path)
		switch key {
		case "AWSTemplateFormatVersion":
			t.FormatVersion = b.text(v, path)
		case "Description":
			t.Description = b.text(v, path)
		case "Metadata":
			t.Metadata = b.object(v, path)
		case "Transform":
			t.Transform = v
		case "Parameters":
			t.Parameters = map[string]*Parameter{}
			b.members(n, path, func(name string, m *node, p string) {
				t.Parameters[name] = b.parameter(m, p)
				t.ParameterOrder = append(t.ParameterOrder, name)
			})
		case "Mappings":
			t.Mappings = map[string]map[string]map[string]any{}
			b.members(n, path, func(name string, m *node, p string) {
				t.mappingOrder = append(t.mappingOrder, name)
				t.Mappings[name] = map[string]map[string]any{}
				b.members(m, p, func(top string, k *node, p2 string) {
					t.Mappings[name][top] = b.object(b.plain(k, p2), p2)
				})
			})
		case "Conditions":
			t.Conditions = map[string]any{}
			b.members(n, path, func(name string, m *node, p string) {
				t.Conditions[name] = b.plain(m, p)
				t.conditionOrder = append(t.conditionOrder, name)
			})
		case "Rules":
			t.Rules = map[string]*Rule{}
			b.members(n, path, func(name string, m *node, p string) {
				t.Rules[name] = b.rule(m, p)
				t.ruleOrder = append(t.ruleOrder, name)
			})
		case "Resources":
			t.Resources = map[string]*Resource{}
			b.members(n, path, func(name string, m *node, p string) {
				t.Resources[name] = b.resource(m, p)
				t.ResourceOrder = append(t.ResourceOrder, name)
			})
		case "Outputs":
			t.Outputs = map[string]*Output{}
			b.members(n, path, func(name string, m *node, p string) {
				t.Outputs[name] = b.output(m, p)
				t.OutputOrder = append(t.OutputOrder, name)
			})
		default:
			t.deferred = append(t.deferred, locate(t.pos, Problem{Path: path,
				Message: fmt.Sprintf("Template format error: Invalid template property or properties [%s]", key)}))
		}
	}
	if err := b.ps.err(); err != nil {
		return nil, err
	}
	return t, nil
}

// plain converts n to plain Go values, recording the position of each.
func (b *builder) plain(n *node, path string) any {
	b.t.pos[path] = n.pos
	switch n.kind {
	case nMap:
		m := make(map[string]any, len(n.keys))
		for i, k := range n.keys {
			m[k] = b.plain(n.kids[i], join(path, k))
		}
		return m
	case nSeq:
		l := make([]any, len(n.kids))
		for i, k := range n.kids {
			l[i] = b.plain(k, join(path, i))
		}
		return l
	default:
		return n.value
	}
}

// members calls f for each member of the map n, in order; n must be a map
// of maps (a null section is an empty one).
func (b *builder) members(n *node, path string, f func(name string, m *node, p string)) {
	b.t.pos[path] = n.pos
	if n.kind == nScalar && n.value == nil {
		return
	}
	if n.kind != nMap {
		b.ps.add(path, "Template format error: %s must be an object, not %s", base(path), kindName(b.plain(n, path)))
		return
	}
	for i, name := range n.keys {
		m, p := n.kids[i], join(path, name)
		if m.kind != nMap {
			b.ps.add(p, "Template format error: %s must be an object, not %s", base(p), kindName(b.plain(m, p)))
			continue
		}
		b.t.pos[p] = m.pos
		f(name, m, p)
	}
}

// attrs calls f for each attribute of the map n, deferring unknown ones to
// Validate with the message unknown(key).
func (b *builder) attrs(n *node, path string, known []string, unknown func(key string) string, f func(key string, v any, p string)) {
	for i, key := range n.keys {
		p := join(path, key)
		v := b.plain(n.kids[i], p)
		if !contains(known, key) {
			b.t.deferred = append(b.t.deferred, locate(b.t.pos, Problem{Path: p, Message: unknown(key)}))
			continue
		}
		f(key, v, p)
	}
}

func (b *builder) parameter(n *node, path string) *Parameter {
	par := &Parameter{}
	b.attrs(n, path, parameterAttrs, func(k string) string {
		return fmt.Sprintf("Template format error: Invalid template parameter property '%s'", k)
	}, func(key string, v any, p string) {
		switch key {
		case "Type":
			par.Type = b.text(v, p)
		case "Default":
			var s string
			if l, ok := v.([]any); ok {
				parts := make([]string, len(l))
				for i, x := range l {
					parts[i] = b.text(x, join(p, i))
				}
				s = strings.Join(parts, ",")
			} else {
				s = b.text(v, p)
			}
			par.Default = &s
		case "AllowedValues":
			l, ok := v.([]any)
			if !ok {
				l = []any{v}
			}
			for i, x := range l {
				par.AllowedValues = append(par.AllowedValues, b.text(x, join(p, i)))
			}
		case "AllowedPattern":
			par.AllowedPattern = b.text(v, p)
		case "MinLength":
			par.MinLength = b.integer(v, p)
		case "MaxLength":
			par.MaxLength = b.integer(v, p)
		case "MinValue":
			par.MinValue = b.float(v, p)
		case "MaxValue":
			par.MaxValue = b.float(v, p)
		case "NoEcho":
			par.NoEcho = b.boolean(v, p)
		case "Description":
			par.Description = b.text(v, p)
		case "ConstraintDescription":
			par.ConstraintDescription = b.text(v, p)
		}
	})
	return par
}

func (b *builder) rule(n *node, path string) *Rule {
	r := &Rule{}
	b.attrs(n, path, ruleAttrs, func(k string) string {
		return fmt.Sprintf("Template format error: Invalid rule property '%s'", k)
	}, func(key string, v any, p string) {
		switch key {
		case "RuleCondition":
			r.RuleCondition = v
		case "Assertions":
			an := n.get(key)
			if an.kind != nSeq {
				b.ps.add(p, "Template format error: Assertions must be a list, not %s", kindName(v))
				return
			}
			for i, a := range an.kids {
				ap := join(p, i)
				if a.kind != nMap {
					b.ps.add(ap, "Template format error: an assertion must be an object, not %s", kindName(b.plain(a, ap)))
					continue
				}
				var as Assertion
				b.attrs(a, ap, assertAttrs, func(k string) string {
					return fmt.Sprintf("Template format error: Invalid rule assertion property '%s'", k)
				}, func(key string, v any, p string) {
					if key == "Assert" {
						as.Assert = v
					} else {
						as.AssertDescription = b.text(v, p)
					}
				})
				r.Assertions = append(r.Assertions, as)
			}
		}
	})
	return r
}

func (b *builder) resource(n *node, path string) *Resource {
	r := &Resource{}
	b.attrs(n, path, resourceAttrs, func(k string) string {
		return fmt.Sprintf("Template format error: Invalid template resource property '%s'", k)
	}, func(key string, v any, p string) {
		switch key {
		case "Type":
			r.Type = b.text(v, p)
		case "Properties":
			r.Properties = b.object(v, p)
		case "DependsOn":
			if l, ok := v.([]any); ok {
				for i, x := range l {
					r.DependsOn = append(r.DependsOn, b.text(x, join(p, i)))
				}
			} else {
				r.DependsOn = []string{b.text(v, p)}
			}
		case "Condition":
			r.Condition = b.text(v, p)
		case "DeletionPolicy":
			r.DeletionPolicy = b.text(v, p)
		case "UpdateReplacePolicy":
			r.UpdateReplacePolicy = b.text(v, p)
		case "Metadata":
			r.Metadata = b.object(v, p)
		case "CreationPolicy":
			r.CreationPolicy = b.object(v, p)
		case "UpdatePolicy":
			r.UpdatePolicy = b.object(v, p)
		}
	})
	return r
}

func (b *builder) output(n *node, path string) *Output {
	o := &Output{}
	b.attrs(n, path, outputAttrs, func(k string) string {
		return fmt.Sprintf("Template format error: Invalid outputs property : [%s]", k)
	}, func(key string, v any, p string) {
		switch key {
		case "Value":
			o.Value = v
		case "Description":
			o.Description = b.text(v, p)
		case "Condition":
			o.Condition = b.text(v, p)
		case "Export":
			m, ok := v.(map[string]any)
			if !ok {
				b.ps.add(p, "Template format error: Export must be an object with a Name, not %s", kindName(v))
				return
			}
			for k := range m {
				if k != "Name" {
					b.t.deferred = append(b.t.deferred, locate(b.t.pos, Problem{Path: join(p, k),
						Message: fmt.Sprintf("Template format error: Invalid outputs property : [Export.%s]", k)}))
				}
			}
			o.ExportName = m["Name"]
			if o.ExportName == nil {
				b.ps.add(p, "Template format error: Output %s is malformed. The Name field of every Export member must be specified and consist only of alphanumeric characters, colons, or hyphens.", strings.TrimPrefix(path, "Outputs/"))
			}
		}
	})
	return o
}

// text is a scalar as a string: numbers and booleans as their text.
func (b *builder) text(v any, path string) string {
	if s, ok := scalarText(v); ok {
		return s
	}
	b.ps.add(path, "Template format error: %s must be a string, not %s", base(path), kindName(v))
	return ""
}

func (b *builder) object(v any, path string) map[string]any {
	if v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		b.ps.add(path, "Template format error: %s must be an object, not %s", base(path), kindName(v))
	}
	return m
}

func (b *builder) integer(v any, path string) *int {
	s, _ := scalarText(v)
	i, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || i < 0 {
		b.ps.add(path, "Template format error: %s must be a non-negative integer", base(path))
		return nil
	}
	return &i
}

func (b *builder) float(v any, path string) *float64 {
	s, _ := scalarText(v)
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		b.ps.add(path, "Template format error: %s must be a number", base(path))
		return nil
	}
	return &f
}

func (b *builder) boolean(v any, path string) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		switch strings.ToLower(x) {
		case "true":
			return true
		case "false":
			return false
		}
	}
	b.ps.add(path, "Template format error: %s must be true or false", base(path))
	return false
}

// scalarText is the text of a string, number or boolean.
func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int64:
		return strconv.FormatInt(x, 10), true
	case int:
		return strconv.Itoa(x), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// kindName names the JSON kind of v for messages.
func kindName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case int64, int, float64:
		return "a number"
	case bool:
		return "a boolean"
	case []any, []string:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// base is the last element of a path.
func base(path string) string {
	return path[strings.LastIndexByte(path, '/')+1:]
}
