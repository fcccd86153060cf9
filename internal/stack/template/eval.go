package template

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Context is what evaluation sees.
type Context struct {
	// Parameters are the values of the template's parameters, from
	// ResolveParameters: string or []string.
	Parameters map[string]any
	// Pseudo holds the values of the pseudo parameters. AWS::NoValue is
	// handled by Eval.
	Pseudo Pseudo
	// Conditions are the values of the template's conditions, from
	// EvalConditions; Fn::If and {"Condition": name} read them.
	Conditions map[string]bool
	// Ref returns a resource's Ref value.
	Ref func(logicalID string) (string, error)
	// GetAtt returns an attribute of a resource.
	GetAtt func(logicalID, attribute string) (any, error)
	// ImportValue returns the value another stack exports under a name.
	ImportValue func(exportName string) (string, error)
	// GetAZs returns the availability zones of a region. When nil,
	// Fn::GetAZs returns the region's name followed by "a", "b" and "c".
	GetAZs func(region string) []string
}

// Pseudo holds the values of the pseudo parameters (Ref "AWS::…").
type Pseudo struct {
	AccountID string // AWS::AccountId
	Region    string // AWS::Region
	StackName string // AWS::StackName
	StackID   string // AWS::StackId
	Partition string // AWS::Partition; "aws" when empty
	URLSuffix string // AWS::URLSuffix; "amazonaws.com" when empty
	// NotificationARNs is AWS::NotificationARNs.
	NotificationARNs []string
}

// noValue is what Ref AWS::NoValue evaluates to until the map entry or list
// item holding it is removed.
type noValue struct{}

// evaluator evaluates intrinsic functions against a Context.
type evaluator struct {
	t *Template
	c *Context
	// For EvalConditions: conditions computed on demand from t.Conditions
	// (state 1 while being computed, to catch cycles) instead of read
	// from c.Conditions.
	lazy   bool
	conds  map[string]bool
	state  map[string]int // 1 being computed, 2 done, 3 failed
	failed map[string]error
	stack  []string // the conditions being computed, outermost first
}

func (t *Template) evaluator(c *Context) *evaluator {
	if c == nil {
		c = &Context{}
	}
	return &evaluator{t: t, c: c}
}

// fail returns an *Errors with one problem at path.
func (e *evaluator) fail(path, format string, args ...any) error {
	return newErrors([]Problem{locate(e.t.pos, Problem{Path: path, Message: fmt.Sprintf(format, args...)})})
}

// wrap returns an *Errors with one problem at path wrapping a callback's
// error, unless it is already one.
func (e *evaluator) wrap(path string, err error) error {
	if _, ok := err.(*Errors); ok {
		return err
	}
	return newErrors([]Problem{locate(e.t.pos, Problem{Path: path, Message: err.Error(), Err: err})})
}

// Eval returns v with every intrinsic function resolved: Ref, Fn::GetAtt,
// Fn::Sub (both forms, ${!Literal}, ${Resource.Attribute}), Fn::Join,
// Fn::Select, Fn::Split, Fn::If, Fn::Equals, Fn::Not, Fn::And, Fn::Or,
// Condition (inside the condition functions), Fn::FindInMap (with
// DefaultValue), Fn::ImportValue, Fn::Base64, Fn::GetAZs, Fn::Cidr,
// Fn::Length, Fn::ToJsonString and the Rules functions. Map entries and list
// items that evaluate to AWS::NoValue are removed; if v itself does, Eval
// returns nil. Only the branch of Fn::If that its condition picks is
// evaluated. Lists from parameters and functions are []any of strings.
//
// Eval returns a new value and never changes v. path locates v
// ("Resources/MyThing/Properties") for errors, which are *Errors; an error
// from a Context callback is wrapped so errors.Is and errors.As find it.
func (t *Template) Eval(c *Context, path string, v any) (any, error) {
	r, err := t.evaluator(c).eval(v, path)
	if _, ok := r.(noValue); ok {
		r = nil
	}
	return r, err
}

// EvalConditions returns the value of every condition of the Conditions
// section (Fn::Equals, Fn::And, Fn::Or, Fn::Not, Condition, and the value
// functions that do not refer to resources), reading c.Parameters and
// c.Pseudo. c.Conditions is not used. Errors are *Errors, one per failing
// condition; a cycle of conditions is one of them.
func (t *Template) EvalConditions(c *Context) (map[string]bool, error) {
	e := t.evaluator(c)
	e.lazy, e.conds, e.state, e.failed = true, map[string]bool{}, map[string]int{}, map[string]error{}
	var list []Problem
	for _, name := range ordered(t.conditionOrder, t.Conditions) {
		if _, err := e.condition(name, join("Conditions", name)); err != nil {
			if es, ok := err.(*Errors); ok {
				list = append(list, es.Problems...)
			}
		}
	}
	if len(list) > 0 {
		return nil, newErrors(list)
	}
	return e.conds, nil
}

// CheckRules evaluates the Rules section: every assertion of a rule whose
// RuleCondition holds (or that has none) must hold. The error, an *Errors,
// has a problem for each failing assertion, naming the rule and giving its
// AssertDescription.
func (t *Template) CheckRules(c *Context) error {
	e := t.evaluator(c)
	var list []Problem
	add := func(err error) {
		if es, ok := err.(*Errors); ok {
			list = append(list, es.Problems...)
		}
	}
	for _, name := range ordered(t.ruleOrder, t.Rules) {
		r, path := t.Rules[name], join("Rules", name)
		if r.RuleCondition != nil {
			ok, err := e.cond(r.RuleCondition, join(path, "RuleCondition"))
			if err != nil {
				add(err)
				continue
			}
			if !ok {
				continue
			}
		}
		for i, a := range r.Assertions {
			p := join(join(path, "Assertions"), i)
			ok, err := e.cond(a.Assert, join(p, "Assert"))
			if err != nil {
				add(err)
				continue
			}
			if !ok {
				desc := a.AssertDescription
				if desc == "" {
					desc = fmt.Sprintf("assertion %d does not hold", i)
				}
				add(e.fail(p, "Rule '%s' failed: %s", name, desc))
			}
		}
	}
	if len(list) > 0 {
		return newErrors(list)
	}
	return nil
}

func (e *evaluator) eval(v any, path string) (any, error) {
	if name, arg, ok := call(v); ok {
		return e.fn(name, arg, join(path, name))
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, item := range x {
			r, err := e.eval(item, join(path, k))
			if err != nil {
				return nil, err
			}
			if _, ok := r.(noValue); !ok {
				out[k] = r
			}
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(x))
		for i, item := range x {
			r, err := e.eval(item, join(path, i))
			if err != nil {
				return nil, err
			}
			if _, ok := r.(noValue); !ok {
				out = append(out, r)
			}
		}
		return out, nil
	case []string:
		return stringList(x), nil
	}
	return v, nil
}

func stringList(l []string) []any {
	out := make([]any, len(l))
	for i, s := range l {
		out[i] = s
	}
	return out
}

// args checks that arg is a list of n elements (min to max when max > n).
func (e *evaluator) args(fn string, arg any, path string, min, max int) ([]any, error) {
	l, ok := arg.([]any)
	if !ok || len(l) < min || len(l) > max {
		return nil, e.fail(path, "%s", shapeMessage(fn))
	}
	return l, nil
}

// str evaluates v to a string: numbers and booleans as their text.
func (e *evaluator) str(v any, path, what string) (string, error) {
	r, err := e.eval(v, path)
	if err != nil {
		return "", err
	}
	s, ok := scalarText(r)
	if !ok {
		return "", e.fail(path, "Template error: %s must be a string, not %s", what, kindName(r))
	}
	return s, nil
}

// list evaluates v to a list.
func (e *evaluator) list(v any, path, what string) ([]any, error) {
	r, err := e.eval(v, path)
	if err != nil {
		return nil, err
	}
	switch l := r.(type) {
	case []any:
		return l, nil
	case []string:
		return stringList(l), nil
	}
	return nil, e.fail(path, "Template error: %s must be a list, not %s", what, kindName(r))
}

func (e *evaluator) fn(name string, arg any, path string) (any, error) {
	switch name {
	case "Ref":
		s, ok := arg.(string)
		if !ok {
			return nil, e.fail(path, "%s", shapeMessage(name))
		}
		return e.ref(s, path)
	case "Fn::GetAtt":
		res, attrArg, ok := getAttArgs(arg)
		if !ok {
			return nil, e.fail(path, "%s", shapeMessage(name))
		}
		attr, err := e.str(attrArg, join(path, 1), "the attribute name of Fn::GetAtt")
		if err != nil {
			return nil, err
		}
		return e.getAtt(res, attr, path)
	case "Fn::Sub":
		return e.sub(arg, path)
	case "Fn::Join":
		l, err := e.args(name, arg, path, 2, 2)
		if err != nil {
			return nil, err
		}
		delim, ok := l[0].(string)
		if !ok {
			return nil, e.fail(path, "%s", shapeMessage(name))
		}
		items, err := e.list(l[1], join(path, 1), "the list of Fn::Join")
		if err != nil {
			return nil, err
		}
		parts := make([]string, len(items))
		for i, it := range items {
			s, ok := scalarText(it)
			if !ok {
				return nil, e.fail(join(join(path, 1), i), "Template error: every value joined by Fn::Join must be a string, not %s", kindName(it))
			}
			parts[i] = s
		}
		return strings.Join(parts, delim), nil
	case "Fn::Select":
		l, err := e.args(name, arg, path, 2, 2)
		if err != nil {
			return nil, err
		}
		is, err := e.str(l[0], join(path, 0), "the index of Fn::Select")
		if err != nil {
			return nil, err
		}
		items, err := e.list(l[1], join(path, 1), "the list of Fn::Select")
		if err != nil {
			return nil, err
		}
		i, err := strconv.Atoi(strings.TrimSpace(is))
		if err != nil || i < 0 || i >= len(items) {
			return nil, e.fail(path, "Template error: Fn::Select cannot select nonexistent value at index %s", is)
		}
		return items[i], nil
	case "Fn::Split":
		l, err := e.args(name, arg, path, 2, 2)
		if err != nil {
			return nil, err
		}
		delim, ok := l[0].(string)
		if !ok || delim == "" {
			return nil, e.fail(path, "%s", shapeMessage(name))
		}
		s, err := e.str(l[1], join(path, 1), "the source string of Fn::Split")
		if err != nil {
			return nil, err
		}
		return stringList(strings.Split(s, delim)), nil
	case "Fn::If":
		l, err := e.args(name, arg, path, 3, 3)
		if err != nil {
			return nil, err
		}
		cname, ok := l[0].(string)
		if !ok {
			return nil, e.fail(path, "%s", shapeMessage(name))
		}
		holds, err := e.condition(cname, join(path, 0))
		if err != nil {
			return nil, err
		}
		if holds {
			return e.eval(l[1], join(path, 1))
		}
		return e.eval(l[2], join(path, 2))
	case "Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not", "Fn::Contains", "Fn::EachMemberEquals", "Fn::EachMemberIn":
		return e.condFn(name, arg, path)
	case "Fn::FindInMap":
		return e.findInMap(arg, path)
	case "Fn::ImportValue":
		s, err := e.str(arg, path, "the argument of Fn::ImportValue")
		if err != nil {
			return nil, err
		}
		if e.c.ImportValue == nil {
			return nil, e.fail(path, "No export named %s found", s)
		}
		v, err := e.c.ImportValue(s)
		if err != nil {
			return nil, e.wrap(path, err)
		}
		return v, nil
	case "Fn::Base64":
		s, err := e.str(arg, path, "the argument of Fn::Base64")
		if err != nil {
			return nil, err
		}
		return base64.StdEncoding.EncodeToString([]byte(s)), nil
	case "Fn::GetAZs":
		region, err := e.str(arg, path, "the argument of Fn::GetAZs")
		if err != nil {
			return nil, err
		}
		if region == "" {
			region = e.c.Pseudo.Region
		}
		if e.c.GetAZs != nil {
			return stringList(e.c.GetAZs(region)), nil
		}
		return []any{region + "a", region + "b", region + "c"}, nil
	case "Fn::Cidr":
		l, err := e.args(name, arg, path, 3, 3)
		if err != nil {
			return nil, err
		}
		var s [3]string
		for i := range s {
			if s[i], err = e.str(l[i], join(path, i), "an argument of Fn::Cidr"); err != nil {
				return nil, err
			}
		}
		count, err1 := strconv.Atoi(s[1])
		bits, err2 := strconv.Atoi(s[2])
		if err1 != nil || err2 != nil {
			return nil, e.fail(path, "%s", shapeMessage(name))
		}
		subnets, err := cidr(s[0], count, bits)
		if err != nil {
			return nil, e.fail(path, "Template error: Fn::Cidr: %v", err)
		}
		return subnets, nil
	case "Fn::Length":
		l, err := e.list(arg, path, "the argument of Fn::Length")
		if err != nil {
			return nil, err
		}
		return int64(len(l)), nil
	case "Fn::ToJsonString":
		r, err := e.eval(arg, path)
		if err != nil {
			return nil, err
		}
		if _, ok := r.(noValue); ok {
			r = nil
		}
		b, err := compactJSON(r)
		if err != nil {
			return nil, e.fail(path, "Template error: Fn::ToJsonString: %v", err)
		}
		return string(b), nil
	case "Fn::RefAll":
		typ, ok := arg.(string)
		if !ok {
			return nil, e.fail(path, "%s", shapeMessage(name))
		}
		var out []any
		for _, pn := range e.t.paramNames() {
			if e.t.Parameters[pn].Type != typ {
				continue
			}
			switch v := e.c.Parameters[pn].(type) {
			case string:
				out = append(out, v)
			case []string:
				out = append(out, stringList(v)...)
			}
		}
		return out, nil
	}
	return nil, e.fail(path, "Template format error: Encountered unsupported function: %s", name)
}

// ref resolves Ref name.
func (e *evaluator) ref(name, path string) (any, error) {
	p := e.c.Pseudo
	switch name {
	case "AWS::NoValue":
		return noValue{}, nil
	case "AWS::AccountId":
		return p.AccountID, nil
	case "AWS::Region":
		return p.Region, nil
	case "AWS::StackName":
		return p.StackName, nil
	case "AWS::StackId":
		return p.StackID, nil
	case "AWS::Partition":
		if p.Partition == "" {
			return "aws", nil
		}
		return p.Partition, nil
	case "AWS::URLSuffix":
		if p.URLSuffix == "" {
			return "amazonaws.com", nil
		}
		return p.URLSuffix, nil
	case "AWS::NotificationARNs":
		return stringList(p.NotificationARNs), nil
	}
	if _, ok := e.t.Parameters[name]; ok {
		switch v := e.c.Parameters[name].(type) {
		case string:
			return v, nil
		case []string:
			return stringList(v), nil
		case nil:
			return nil, e.fail(path, "Template error: parameter %s has no value", name)
		default:
			return v, nil
		}
	}
	if _, ok := e.t.Resources[name]; ok && !e.lazy {
		if e.c.Ref == nil {
			return nil, e.fail(path, "Template error: resource %s has no Ref value here", name)
		}
		v, err := e.c.Ref(name)
		if err != nil {
			return nil, e.wrap(path, err)
		}
		return v, nil
	}
	return nil, e.fail(path, "%s", unresolvedMessage(name, e.section(path)))
}

func (e *evaluator) getAtt(res, attr, path string) (any, error) {
	if _, ok := e.t.Resources[res]; !ok || e.lazy {
		return nil, e.fail(path, "Template error: instance of Fn::GetAtt references undefined resource %s", res)
	}
	if e.c.GetAtt == nil {
		return nil, e.fail(path, "Template error: resource %s has no attributes here", res)
	}
	v, err := e.c.GetAtt(res, attr)
	if err != nil {
		return nil, e.wrap(path, err)
	}
	if l, ok := v.([]string); ok {
		return stringList(l), nil
	}
	return v, nil
}

// section is the top-level section a path is in.
func (e *evaluator) section(path string) string {
	s, _, _ := strings.Cut(path, "/")
	return s
}

func (e *evaluator) sub(arg any, path string) (any, error) {
	tmpl, vars, ok := subArgs(arg)
	if !ok {
		return nil, e.fail(path, "%s", shapeMessage("Fn::Sub"))
	}
	var b strings.Builder
	for _, p := range subParts(tmpl) {
		if !p.isVar {
			b.WriteString(p.text)
			continue
		}
		var v any
		var err error
		if x, ok := vars[p.text]; ok {
			v, err = e.eval(x, join(join(path, 1), p.text))
		} else if res, attr, dotted := strings.Cut(p.text, "."); dotted {
			v, err = e.getAtt(res, attr, path)
		} else {
			v, err = e.ref(p.text, path)
		}
		if err != nil {
			return nil, err
		}
		s, ok := scalarText(v)
		if !ok {
			return nil, e.fail(path, "Template error: variable %s in Fn::Sub expression does not resolve to a string", p.text)
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

func (e *evaluator) findInMap(arg any, path string) (any, error) {
	l, err := e.args("Fn::FindInMap", arg, path, 3, 4)
	if err != nil {
		return nil, err
	}
	var keys [3]string
	for i := range keys {
		if keys[i], err = e.str(l[i], join(path, i), "an argument of Fn::FindInMap"); err != nil {
			return nil, err
		}
	}
	var def any
	hasDef := false
	if len(l) == 4 {
		m, ok := l[3].(map[string]any)
		if !ok || len(m) != 1 {
			return nil, e.fail(path, "%s", shapeMessage("Fn::FindInMap"))
		}
		def, hasDef = m["DefaultValue"]
		if !hasDef {
			return nil, e.fail(path, "%s", shapeMessage("Fn::FindInMap"))
		}
	}
	if v, ok := e.t.Mappings[keys[0]][keys[1]][keys[2]]; ok {
		return e.eval(v, path)
	}
	if hasDef {
		return e.eval(def, join(join(path, 3), "DefaultValue"))
	}
	if _, ok := e.t.Mappings[keys[0]]; !ok {
		return nil, e.fail(path, "Template format error: Mapping named '%s' is not present in the 'Mappings' section of template.", keys[0])
	}
	return nil, e.fail(path, "Template error: Unable to get mapping for %s::%s::%s", keys[0], keys[1], keys[2])
}

// condition returns the value of the named condition.
func (e *evaluator) condition(name, path string) (bool, error) {
	if !e.lazy {
		v, ok := e.c.Conditions[name]
		if !ok {
			return false, e.fail(path, "Template error: unresolved condition dependency %s in Fn::If", name)
		}
		return v, nil
	}
	switch e.state[name] {
	case 3:
		return false, e.failed[name]
	case 2:
		return e.conds[name], nil
	case 1:
		i := slices.Index(e.stack, name)
		cycle := slices.Clone(e.stack[i:])
		slices.Sort(cycle)
		return false, e.fail(path, "%s", cycleMessage("conditions", cycle))
	}
	expr, ok := e.t.Conditions[name]
	if !ok {
		return false, e.fail(path, "Template format error: Unresolved condition dependency %s", name)
	}
	e.state[name] = 1
	e.stack = append(e.stack, name)
	v, err := e.cond(expr, join("Conditions", name))
	e.stack = e.stack[:len(e.stack)-1]
	if err != nil {
		e.state[name], e.failed[name] = 3, err // a later reference reports the same error
		return false, err
	}
	e.state[name] = 2
	e.conds[name] = v
	return v, nil
}

// cond evaluates a condition: a condition function, {"Condition": name}, or
// a value that is a boolean (true, "true", false, "false").
func (e *evaluator) cond(v any, path string) (bool, error) {
	if name, ok := conditionRef(v); ok {
		return e.condition(name, join(path, "Condition"))
	}
	r, err := e.eval(v, path)
	if err != nil {
		return false, err
	}
	switch b := r.(type) {
	case bool:
		return b, nil
	case string:
		switch strings.ToLower(b) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, e.fail(path, "Template format error: Conditions can only be boolean operations on parameters and other conditions")
}

func (e *evaluator) condFn(name string, arg any, path string) (any, error) {
	switch name {
	case "Fn::Equals":
		l, err := e.args(name, arg, path, 2, 2)
		if err != nil {
			return nil, err
		}
		a, err := e.eval(l[0], join(path, 0))
		if err != nil {
			return nil, err
		}
		b, err := e.eval(l[1], join(path, 1))
		if err != nil {
			return nil, err
		}
		return equal(a, b), nil
	case "Fn::Not":
		l, err := e.args(name, arg, path, 1, 1)
		if err != nil {
			return nil, err
		}
		v, err := e.cond(l[0], join(path, 0))
		return !v, err
	case "Fn::And", "Fn::Or":
		l, err := e.args(name, arg, path, 2, 10)
		if err != nil {
			return nil, err
		}
		// Every operand is evaluated, so that an error in one is
		// reported whatever the others are.
		and := name == "Fn::And"
		result := and
		for i, x := range l {
			v, err := e.cond(x, join(path, i))
			if err != nil {
				return nil, err
			}
			if and {
				result = result && v
			} else {
				result = result || v
			}
		}
		return result, nil
	case "Fn::Contains", "Fn::EachMemberEquals", "Fn::EachMemberIn":
		l, err := e.args(name, arg, path, 2, 2)
		if err != nil {
			return nil, err
		}
		items, err := e.list(l[0], join(path, 0), "the first argument of "+name)
		if err != nil {
			return nil, err
		}
		if name == "Fn::EachMemberIn" {
			allowed, err := e.list(l[1], join(path, 1), "the second argument of "+name)
			if err != nil {
				return nil, err
			}
			for _, it := range items {
				if !member(it, allowed) {
					return false, nil
				}
			}
			return true, nil
		}
		want, err := e.eval(l[1], join(path, 1))
		if err != nil {
			return nil, err
		}
		if name == "Fn::Contains" {
			return member(want, items), nil
		}
		for _, it := range items {
			if !equal(it, want) {
				return false, nil
			}
		}
		return true, nil
	}
	return nil, e.fail(path, "Template format error: Encountered unsupported function: %s", name)
}

func member(v any, list []any) bool {
	for _, x := range list {
		if equal(v, x) {
			return true
		}
	}
	return false
}

// equal compares two evaluated values, numbers and booleans by their text
// (a parameter's "1" equals the literal 1).
func equal(a, b any) bool {
	return reflect.DeepEqual(normalize(a), normalize(b))
}

func normalize(v any) any {
	if s, ok := scalarText(v); ok {
		return s
	}
	switch x := v.(type) {
	case []string:
		return normalize(stringList(x))
	case []any:
		out := make([]any, len(x))
		for i, it := range x {
			out[i] = normalize(it)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, it := range x {
			out[k] = normalize(it)
		}
		return out
	}
	return v
}

// compactJSON encodes v without HTML escaping and without a newline.
func compactJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// cidr splits block into count subnets of 2^bits addresses each.
// AWS: Fn::Cidr — count is 1 to 256; cidrBits is the number of host bits.
func cidr(block string, count, bits int) ([]any, error) {
	prefix, err := netip.ParsePrefix(block)
	if err != nil {
		return nil, fmt.Errorf("%q is not a CIDR block", block)
	}
	prefix = prefix.Masked()
	size := prefix.Addr().BitLen()
	if count < 1 || count > 256 {
		return nil, fmt.Errorf("count %d is not between 1 and 256", count)
	}
	if bits < 0 || bits > size-prefix.Bits() {
		return nil, fmt.Errorf("cidrBits %d does not fit in %s", bits, prefix)
	}
	if room := size - bits - prefix.Bits(); room < 9 && count > 1<<room {
		return nil, fmt.Errorf("%s holds only %d subnets of %d bits", prefix, 1<<room, bits)
	}
	base := new(big.Int).SetBytes(prefix.Addr().AsSlice())
	step := new(big.Int).Lsh(big.NewInt(1), uint(bits))
	out := make([]any, count)
	buf := make([]byte, size/8)
	for i := range out {
		a, _ := netip.AddrFromSlice(base.FillBytes(buf))
		out[i] = netip.PrefixFrom(a, size-bits).String()
		base.Add(base, step)
	}
	return out, nil
}

// shapeMessage is CloudFormation's complaint about the arguments of fn.
func shapeMessage(fn string) string {
	switch fn {
	case "Ref":
		return "Template format error: Every Ref object must have a single String value."
	case "Fn::GetAtt":
		return "Template error: every Fn::GetAtt object requires two non-empty parameters"
	case "Fn::Sub":
		return "Template error: One or more Fn::Sub intrinsic functions don't specify expected arguments. Specify a string as first argument, and an optional second argument to specify a mapping of values to replace in the string"
	case "Fn::Join":
		return "Template error: every Fn::Join object requires two parameters, (1) a string delimiter and (2) a list of strings to be joined or a function that returns a list of strings (such as Fn::GetAZs) to be joined."
	case "Fn::Select":
		return "Template error: Fn::Select requires a list argument with two elements: an integer index and a list"
	case "Fn::Split":
		return "Template error: every Fn::Split object requires two parameters, (1) a non-empty string delimiter and (2) a string to be split or a function that returns a string to be split."
	case "Fn::If":
		return "Template error: every Fn::If object requires three parameters, (1) a condition name, (2) a value if the condition is true and (3) a value if it is false"
	case "Fn::FindInMap":
		return "Template error: every Fn::FindInMap object requires three parameters, the map name, map key and the attribute for return value, and optionally a fourth, {\"DefaultValue\": value}"
	case "Fn::Cidr":
		return "Template error: Fn::Cidr requires a list argument with three elements: an IP address block, a count of subnets and the number of subnet bits"
	case "Fn::Equals":
		return "Template error: every Fn::Equals object requires a list of 2 string parameters."
	case "Fn::Not":
		return "Template error: every Fn::Not object requires a list of 1 condition."
	case "Fn::And", "Fn::Or":
		return fmt.Sprintf("Template error: every %s object requires a list of at least 2 and at most 10 conditions.", fn)
	case "Fn::Contains", "Fn::EachMemberEquals", "Fn::EachMemberIn":
		return fmt.Sprintf("Template error: every %s object requires a list of 2 parameters, a list and a value.", fn)
	case "Fn::RefAll":
		return "Template error: Fn::RefAll requires a parameter type"
	case "Fn::ValueOf":
		return "Template error: Fn::ValueOf requires a list of 2 parameters, a parameter name and an attribute"
	case "Fn::ValueOfAll":
		return "Template error: Fn::ValueOfAll requires a list of 2 parameters, a parameter type and an attribute"
	}
	return fmt.Sprintf("Template error: invalid arguments to %s", fn)
}

// unresolvedMessage is CloudFormation's complaint about a Ref (or Fn::Sub
// variable) to a name that is not a parameter, resource or pseudo parameter
// in section.
func unresolvedMessage(name, section string) string {
	switch section {
	case "Conditions", "Rules":
		return fmt.Sprintf("Template format error: Unresolved dependencies [%s]. Cannot reference resources in the %s block of the template", name, section)
	case "Outputs":
		return fmt.Sprintf("Template format error: Unresolved resource dependencies [%s] in the Outputs block of the template", name)
	}
	return fmt.Sprintf("Template format error: Unresolved resource dependencies [%s] in the Resources block of the template", name)
}
