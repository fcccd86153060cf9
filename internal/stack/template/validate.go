package template

import (
	"strconv"
	"strings"
)

// where is the part of a template a value is in, which decides the
// functions it may use.
type where uint8

const (
	inResource  where = iota // Properties, Metadata, CreationPolicy, UpdatePolicy
	inOutput                 // Value, Export Name
	inCondition              // the Conditions section
	inRule                   // RuleCondition, Assert
)

func (w where) section() string {
	return [...]string{"Resources", "Outputs", "Conditions", "Rules"}[w]
}

type validator struct {
	t  *Template
	ps problems
	// condRefs maps each condition to the conditions it names.
	condRefs map[string][]string
	cur      string // the condition being walked
}

// Validate checks everything about t that can be checked without deploying
// it, and returns an *Errors listing every problem with its path and
// position, or nil:
//
//   - unknown sections and attributes; AWSTemplateFormatVersion,
//     Description length, Transform (only AWS::LanguageExtensions, whose
//     functions Eval implements);
//   - counts: at least one resource, at most MaxResources, MaxParameters
//     and MaxOutputs; logical IDs of resources, parameters, outputs and
//     mappings alphanumeric; no name both a parameter and a resource;
//   - resources: a Type that supported accepts (a nil supported accepts
//     every type; AWS::CDK::Metadata is always accepted), Condition and
//     DependsOn naming what exists, DeletionPolicy and UpdateReplacePolicy
//     values, no dependency cycle;
//   - parameters: a known Type, a valid AllowedPattern, a Default that
//     meets the parameter's own constraints;
//   - outputs: a Value, export names, Condition;
//   - mappings: every value a string or a list;
//   - conditions and rules: boolean operations only, conditions that
//     exist, no cycle;
//   - everywhere: intrinsic functions with arguments of the right shape,
//     used where they are allowed (Fn::If in resources and outputs, the
//     condition functions in Conditions and Rules, the rule functions in
//     Rules, no resources from Conditions and Rules), naming parameters,
//     resources, conditions and mappings that exist; no null values.
func (t *Template) Validate(supported func(resourceType string) bool) error {
	v := &validator{t: t, ps: problems{pos: t.pos}, condRefs: map[string][]string{}}
	v.ps.list = append(v.ps.list, t.deferred...)
	v.top()
	v.parameters()
	v.mappings()
	v.conditions()
	v.rules()
	v.resources(supported)
	v.outputs()
	return v.ps.err()
}

func (v *validator) add(path, format string, args ...any) { v.ps.add(path, format, args...) }

func (v *validator) top() {
	t := v.t
	if t.FormatVersion != "" && t.FormatVersion != FormatVersion {
		v.add("AWSTemplateFormatVersion", "Template format error: Unsupported AWSTemplateFormatVersion %s; the only version is %s", t.FormatVersion, FormatVersion)
	}
	if len(t.Description) > 1024 {
		v.add("Description", "Template format error: 'Description' length is greater than 1024.")
	}
	var transforms []any
	switch x := t.Transform.(type) {
	case nil:
	case []any:
		transforms = x
	default:
		transforms = []any{x}
	}
	for i, tr := range transforms {
		p := "Transform"
		if _, ok := t.Transform.([]any); ok {
			p = join(p, i)
		}
		if tr != "AWS::LanguageExtensions" {
			name, _ := scalarText(tr)
			v.add(p, "Template format error: Transform %s is not supported; iotdm does not run macros or transforms other than AWS::LanguageExtensions", name)
		}
	}
}

func (v *validator) parameters() {
	t := v.t
	if n := len(t.Parameters); n > MaxParameters {
		v.add("Parameters", "Template format error: Number of parameters, %d, is greater than maximum allowed, %d", n, MaxParameters)
	}
	for _, name := range t.paramNames() {
		p, path := t.Parameters[name], join("Parameters", name)
		if !alphanumeric(name) {
			v.add(path, "Template format error: Parameter name %s is non alphanumeric.", name)
		}
		if _, ok := t.Resources[name]; ok {
			v.add(path, "Template format error: %s is the name of both a parameter and a resource; logical IDs must be unique", name)
		}
		if p.Type == "" {
			v.add(path, "Template format error: Every Parameters object must contain a Type member.")
			continue
		}
		pt, ok := parseParamType(p.Type)
		if !ok {
			v.add(join(path, "Type"), "Template format error: Unrecognized parameter type: %s", p.Type)
			continue
		}
		if p.AllowedPattern != "" {
			if _, err := allowedPattern(p.AllowedPattern); err != nil {
				v.add(join(path, "AllowedPattern"), "Template format error: Parameter '%s' AllowedPattern is not a valid regular expression: %v", name, err)
				continue
			}
		}
		if p.Default != nil {
			if m := checkValue(name, p, pt, *p.Default); m != "" {
				v.add(join(path, "Default"), "Template format error: Default value of parameter '%s' does not meet its constraints: %s", name, m)
			}
		}
	}
}

func (v *validator) mappings() {
	t := v.t
	for _, name := range ordered(t.mappingOrder, t.Mappings) {
		path := join("Mappings", name)
		if !alphanumeric(name) {
			v.add(path, "Template format error: Mapping name %s is non alphanumeric.", name)
		}
		m := t.Mappings[name]
		for _, top := range sortedKeys(m) {
			for _, key := range sortedKeys(m[top]) {
				p := join(join(path, top), key)
				ok := true
				switch x := m[top][key].(type) {
				case []any:
					for _, it := range x {
						_, isScalar := scalarText(it)
						ok = ok && isScalar
					}
				default:
					_, ok = scalarText(x)
				}
				if !ok {
					v.add(p, "Template format error: Every Mappings attribute must be a String or a List.")
				}
			}
		}
	}
}

func (v *validator) conditions() {
	t := v.t
	for _, name := range ordered(t.conditionOrder, t.Conditions) {
		v.cur = name
		v.condRefs[name] = nil
		v.cond(t.Conditions[name], join("Conditions", name), inCondition)
	}
	v.cur = ""
	for _, c := range cycles(v.condRefs) {
		v.add("Conditions", "%s", cycleMessage("conditions", c))
	}
}

func (v *validator) rules() {
	t := v.t
	for _, name := range ordered(t.ruleOrder, t.Rules) {
		r, path := t.Rules[name], join("Rules", name)
		if r.RuleCondition != nil {
			v.cond(r.RuleCondition, join(path, "RuleCondition"), inRule)
		}
		if len(r.Assertions) == 0 {
			v.add(path, "Template format error: Every Rules member must contain at least one Assertions member")
		}
		for i, a := range r.Assertions {
			p := join(join(path, "Assertions"), i)
			if a.Assert == nil {
				v.add(p, "Template format error: Every Assertions member must contain an Assert")
				continue
			}
			v.cond(a.Assert, join(p, "Assert"), inRule)
		}
	}
}

var (
	deletionPolicies = []string{"Delete", "Retain", "RetainExceptOnCreate", "Snapshot"}
	replacePolicies  = []string{"Delete", "Retain", "Snapshot"}
)

func (v *validator) resources(supported func(string) bool) {
	t := v.t
	if len(t.Resources) == 0 {
		v.add("Resources", "Template format error: At least one Resources member must be defined.")
	}
	if n := len(t.Resources); n > MaxResources {
		v.add("Resources", "Template format error: Number of resources, %d, is greater than maximum allowed, %d", n, MaxResources)
	}
	for _, name := range ordered(t.ResourceOrder, t.Resources) {
		r, path := t.Resources[name], join("Resources", name)
		if !alphanumeric(name) {
			v.add(path, "Template format error: Resource name %s is non alphanumeric.", name)
		}
		switch {
		case r.Type == "":
			v.add(path, "Template format error: Every Resources object must contain a Type member.")
		case r.Type == "AWS::CDK::Metadata": // CDK's analytics; nothing to deploy
		case supported != nil && !supported(r.Type):
			v.add(join(path, "Type"), "Unsupported resource type: %s", r.Type)
		}
		if r.Condition != "" {
			if _, ok := t.Conditions[r.Condition]; !ok {
				v.add(join(path, "Condition"), "Template format error: Unresolved condition dependency %s in resource %s", r.Condition, name)
			}
		}
		for i, d := range r.DependsOn {
			if _, ok := t.Resources[d]; !ok {
				p := join(path, "DependsOn")
				if len(r.DependsOn) > 1 {
					p = join(p, i)
				}
				v.add(p, "%s", unresolvedMessage(d, "Resources"))
			}
		}
		if r.DeletionPolicy != "" && !contains(deletionPolicies, r.DeletionPolicy) {
			v.add(join(path, "DeletionPolicy"), "Template format error: Unrecognized DeletionPolicy %s for resource %s; use one of %s", r.DeletionPolicy, name, strings.Join(deletionPolicies, ", "))
		}
		if r.UpdateReplacePolicy != "" && !contains(replacePolicies, r.UpdateReplacePolicy) {
			v.add(join(path, "UpdateReplacePolicy"), "Template format error: Unrecognized UpdateReplacePolicy %s for resource %s; use one of %s", r.UpdateReplacePolicy, name, strings.Join(replacePolicies, ", "))
		}
		for _, a := range []struct {
			name string
			m    map[string]any
		}{{"Properties", r.Properties}, {"Metadata", r.Metadata}, {"CreationPolicy", r.CreationPolicy}, {"UpdatePolicy", r.UpdatePolicy}} {
			if a.m != nil {
				v.walk(a.m, join(path, a.name), inResource)
			}
		}
	}
	for _, c := range cycles(t.graph(nil)) {
		v.add("Resources", "%s", cycleMessage("resources", c))
	}
}

func (v *validator) outputs() {
	t := v.t
	if n := len(t.Outputs); n > MaxOutputs {
		v.add("Outputs", "Template format error: Number of outputs, %d, is greater than maximum allowed, %d", n, MaxOutputs)
	}
	exports := map[string]string{}
	for _, name := range ordered(t.OutputOrder, t.Outputs) {
		o, path := t.Outputs[name], join("Outputs", name)
		if !alphanumeric(name) {
			v.add(path, "Template format error: Output name %s is non alphanumeric.", name)
		}
		if o.Value == nil {
			v.add(path, "Template format error: Every Outputs member must contain a Value object")
		} else {
			v.walk(o.Value, join(path, "Value"), inOutput)
		}
		if o.ExportName != nil {
			p := join(join(path, "Export"), "Name")
			v.walk(o.ExportName, p, inOutput)
			if s, ok := o.ExportName.(string); ok {
				if !validExportName(s) {
					v.add(p, "Template format error: Output %s is malformed. The Name field of every Export member must be specified and consist only of alphanumeric characters, colons, or hyphens.", name)
				}
				if other, dup := exports[s]; dup {
					v.add(p, "Template format error: Outputs %s and %s export the same name %s", other, name, s)
				}
				exports[s] = name
			}
		}
		if o.Condition != "" {
			if _, ok := t.Conditions[o.Condition]; !ok {
				v.add(join(path, "Condition"), "Template format error: Unresolved condition dependency %s in output %s", o.Condition, name)
			}
		}
	}
}

func validExportName(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for _, r := range s {
		if !isAlnum(r) && r != ':' && r != '-' {
			return false
		}
	}
	return true
}

// walk checks a value: the intrinsic functions in it, and that it has no
// nulls.
func (v *validator) walk(x any, path string, w where) {
	if name, arg, ok := call(x); ok {
		v.fn(name, arg, join(path, name), w)
		return
	}
	if name, ok := conditionRef(x); ok && w == inCondition {
		v.conditionName(name, join(path, "Condition"))
		return
	}
	switch y := x.(type) {
	case nil:
		v.add(path, "Template format error: 'null' values are not allowed in templates")
	case map[string]any:
		for _, k := range sortedKeys(y) {
			v.walk(y[k], join(path, k), w)
		}
	case []any:
		for i, it := range y {
			v.walk(it, join(path, i), w)
		}
	}
}

// cond checks a value that must be a condition: a condition function,
// {"Condition": name} in Conditions, or a rule function in Rules.
func (v *validator) cond(x any, path string, w where) {
	if name, ok := conditionRef(x); ok && w == inCondition {
		v.conditionName(name, join(path, "Condition"))
		return
	}
	if name, _, ok := call(x); ok && (condFns[name] || w == inRule && ruleFns[name] && name != "Fn::RefAll") {
		v.walk(x, path, w)
		return
	}
	if w == inRule {
		v.add(path, "Template format error: Every Assert and RuleCondition must be a rule-specific intrinsic function")
		return
	}
	v.add(path, "Template format error: Conditions can only be boolean operations on parameters and other conditions")
}

// conditionName checks a reference to a condition from within Conditions.
func (v *validator) conditionName(name, path string) {
	if _, ok := v.t.Conditions[name]; !ok {
		v.add(path, "Template format error: Unresolved condition dependency %s", name)
		return
	}
	if v.cur != "" {
		v.condRefs[v.cur] = append(v.condRefs[v.cur], name)
	}
}

// ref checks that name is something a Ref in w may name.
func (v *validator) ref(name, path string, w where) {
	t := v.t
	if pseudoParams[name] {
		return
	}
	if _, ok := t.Parameters[name]; ok {
		return
	}
	if _, ok := t.Resources[name]; ok && (w == inResource || w == inOutput) {
		return
	}
	v.add(path, "%s", unresolvedMessage(name, w.section()))
}

func (v *validator) fn(name string, arg any, path string, w where) {
	switch {
	case valueFns[name]:
		if name == "Fn::If" && (w == inCondition || w == inRule) {
			v.add(path, "Template format error: Fn::If can only be used in the Resources and Outputs sections")
			return
		}
		if (name == "Fn::GetAtt" || name == "Fn::ImportValue") && (w == inCondition || w == inRule) {
			v.add(path, "Template format error: %s cannot be used in the %s section; it may refer only to parameters", name, w.section())
			return
		}
	case condFns[name]:
		if w != inCondition && w != inRule {
			v.add(path, "Template format error: %s can only be used in the Conditions and Rules sections", name)
			return
		}
	case ruleFns[name]:
		if w != inRule {
			v.add(path, "Template format error: %s can only be used in the Rules section", name)
			return
		}
	default:
		v.add(path, "Template format error: Encountered unsupported function: %s", name)
		return
	}
	shape := func() { v.add(path, "%s", shapeMessage(name)) }
	list := func(min, max int) ([]any, bool) {
		l, ok := arg.([]any)
		if !ok || len(l) < min || len(l) > max {
			shape()
			return nil, false
		}
		return l, true
	}
	// listy reports whether x may be a list: a literal one or a function.
	listy := func(x any) bool {
		_, isList := x.([]any)
		_, _, isCall := call(x)
		return isList || isCall
	}
	switch name {
	case "Ref":
		s, ok := arg.(string)
		if !ok {
			shape()
			return
		}
		v.ref(s, path, w)
	case "Fn::GetAtt":
		res, attr, ok := getAttArgs(arg)
		if !ok {
			shape()
			return
		}
		if _, isRes := v.t.Resources[res]; !isRes {
			v.add(path, "Template error: instance of Fn::GetAtt references undefined resource %s", res)
		}
		if _, isStr := attr.(string); !isStr {
			v.walk(attr, join(path, 1), w)
		}
	case "Fn::Sub":
		tmpl, vars, ok := subArgs(arg)
		if !ok {
			shape()
			return
		}
		for _, p := range subParts(tmpl) {
			if !p.isVar {
				continue
			}
			if _, local := vars[p.text]; local {
				continue
			}
			if !validSubVar(p.text) {
				v.add(path, "Template error: variable names in Fn::Sub syntax must contain only alphanumeric characters, underscores, periods, and colons")
				continue
			}
			if res, _, dotted := strings.Cut(p.text, "."); dotted {
				if _, isRes := v.t.Resources[res]; !isRes || w == inCondition || w == inRule {
					v.add(path, "%s", unresolvedMessage(res, w.section()))
				}
				continue
			}
			v.ref(p.text, path, w)
		}
		for _, k := range sortedKeys(vars) {
			v.walk(vars[k], join(join(path, 1), k), w)
		}
	case "Fn::Join":
		l, ok := list(2, 2)
		if !ok {
			return
		}
		if _, isStr := l[0].(string); !isStr || !listy(l[1]) {
			shape()
			return
		}
		v.walk(l[1], join(path, 1), w)
	case "Fn::Select":
		l, ok := list(2, 2)
		if !ok {
			return
		}
		index, literal := 0, true
		switch i := l[0].(type) {
		case int64:
			index = int(max(min(i, 1<<30), -1))
		case string:
			n, err := strconv.Atoi(strings.TrimSpace(i))
			if err != nil {
				shape()
				return
			}
			index = n
		default:
			literal = false
			if _, _, isCall := call(i); !isCall {
				shape()
				return
			}
			v.walk(i, join(path, 0), w)
		}
		if !listy(l[1]) {
			shape()
			return
		}
		if items, isList := l[1].([]any); isList && literal && (index < 0 || index >= len(items)) {
			v.add(path, "Template error: Fn::Select cannot select nonexistent value at index %d", index)
		}
		v.walk(l[1], join(path, 1), w)
	case "Fn::Split":
		l, ok := list(2, 2)
		if !ok {
			return
		}
		if d, isStr := l[0].(string); !isStr || d == "" {
			shape()
			return
		}
		v.walk(l[1], join(path, 1), w)
	case "Fn::If":
		l, ok := list(3, 3)
		if !ok {
			return
		}
		c, isStr := l[0].(string)
		if !isStr {
			shape()
			return
		}
		if _, exists := v.t.Conditions[c]; !exists {
			v.add(join(path, 0), "Template error: unresolved condition dependency %s in Fn::If", c)
		}
		v.walk(l[1], join(path, 1), w)
		v.walk(l[2], join(path, 2), w)
	case "Fn::Equals":
		if l, ok := list(2, 2); ok {
			v.walk(l[0], join(path, 0), w)
			v.walk(l[1], join(path, 1), w)
		}
	case "Fn::Not", "Fn::And", "Fn::Or":
		lo, hi := 2, 10
		if name == "Fn::Not" {
			lo, hi = 1, 1
		}
		if l, ok := list(lo, hi); ok {
			for i, x := range l {
				v.cond(x, join(path, i), w)
			}
		}
	case "Fn::Contains", "Fn::EachMemberEquals", "Fn::EachMemberIn":
		l, ok := list(2, 2)
		if !ok {
			return
		}
		if !listy(l[0]) || name == "Fn::EachMemberIn" && !listy(l[1]) {
			shape()
			return
		}
		v.walk(l[0], join(path, 0), w)
		v.walk(l[1], join(path, 1), w)
	case "Fn::RefAll":
		if typ, ok := arg.(string); !ok {
			shape()
		} else if _, known := parseParamType(typ); !known {
			v.add(path, "Template format error: Unrecognized parameter type: %s", typ)
		}
	case "Fn::ValueOf", "Fn::ValueOfAll":
		v.add(path, "Template format error: %s is not supported; iotdm has no resources to look up parameter attributes in", name)
	case "Fn::FindInMap":
		l, ok := list(3, 4)
		if !ok {
			return
		}
		if m, isStr := l[0].(string); isStr {
			if _, exists := v.t.Mappings[m]; !exists {
				v.add(join(path, 0), "Template format error: Mapping named '%s' is not present in the 'Mappings' section of template.", m)
			}
		}
		for i := range 3 {
			v.walk(l[i], join(path, i), w)
		}
		if len(l) == 4 {
			d, isMap := l[3].(map[string]any)
			if _, has := d["DefaultValue"]; !isMap || len(d) != 1 || !has {
				shape()
				return
			}
			v.walk(d["DefaultValue"], join(join(path, 3), "DefaultValue"), w)
		}
	case "Fn::Cidr":
		l, ok := list(3, 3)
		if !ok {
			return
		}
		var lit [3]string
		all := true
		for i, x := range l {
			s, isScalar := scalarText(x)
			if !isScalar {
				all = false
				v.walk(x, join(path, i), w)
			}
			lit[i] = s
		}
		if all {
			count, err1 := strconv.Atoi(lit[1])
			bits, err2 := strconv.Atoi(lit[2])
			if err1 != nil || err2 != nil {
				shape()
				return
			}
			if _, err := cidr(lit[0], count, bits); err != nil {
				v.add(path, "Template error: Fn::Cidr: %v", err)
			}
		}
	case "Fn::Length":
		if !listy(arg) {
			shape()
			return
		}
		v.walk(arg, path, w)
	case "Fn::ToJsonString":
		switch arg.(type) {
		case map[string]any, []any:
		default:
			shape()
			return
		}
		v.walk(arg, path, w)
	default: // Fn::ImportValue, Fn::Base64, Fn::GetAZs: a string or a function
		if _, isMap := arg.(map[string]any); !isMap {
			if _, isStr := arg.(string); !isStr {
				shape()
				return
			}
		}
		v.walk(arg, path, w)
	}
}
