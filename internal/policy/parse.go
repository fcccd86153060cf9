package policy

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxSize is the largest policy document AWS accepts, in characters not
// counting whitespace (AWS §4.1, §9.2).
const MaxSize = 2048

// Policy language versions (AWS §4.1). Only Version2012 substitutes ${...}
// policy variables; a document without a Version follows Version2008, as in IAM.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

// Effect is the effect of a statement.
type Effect string

// The two effects a statement may have.
const (
	Allow Effect = "Allow"
	Deny  Effect = "Deny"
)

// Document is a parsed policy document. Obtain one from Parse: the exported
// fields describe the document as written, while matching uses forms
// compiled by Parse, so a Document assembled or edited by hand matches
// nothing. It is read-only once parsed and safe for concurrent use; parse it
// once per policy version and share it.
type Document struct {
	// Version is the Version element as written; "" when absent, which
	// means 2008-10-17 rules (no variable substitution).
	Version string
	// ID is the optional Id element.
	ID         string
	Statements []Statement

	vars bool // Version == Version2012
}

// Statement is one element of the Statement list.
type Statement struct {
	Sid        string
	Effect     Effect
	Actions    []string // as written
	Resources  []string // as written
	Conditions []Condition

	actions   []glob     // compiled, lower-cased
	resources []template // split around ${...} variables
}

// Condition is one key of one operator block of a Condition element:
// {"Operator": {"Key": Values}}. A statement holds when all its conditions do.
type Condition struct {
	Operator string   // as written, e.g. "ForAllValues:StringEquals"
	Key      string   // a context key, a policy variable name without ${}
	Values   []string // JSON numbers and booleans as their text

	op     operator
	values []template
}

// Size returns the size of doc as AWS counts it against MaxSize: the number
// of characters that are not whitespace. Bytes that are not UTF-8 count one
// each.
func Size(doc []byte) int {
	n := 0
	for len(doc) > 0 {
		r, size := utf8.DecodeRune(doc)
		doc = doc[size:]
		if !unicode.IsSpace(r) {
			n++
		}
	}
	return n
}

// Parse parses and validates a policy document (AWS §4.1). Errors are *Error.
func Parse(doc []byte) (*Document, error) {
	if n := Size(doc); n > MaxSize {
		return nil, errorf("", "the document has %d characters excluding whitespace; the maximum is %d", n, MaxSize)
	}
	root, err := decodeJSON(doc)
	if err != nil {
		return nil, err
	}
	if root.kind != jObject {
		return nil, errorf("", "the document must be a JSON object, not %s", root.kind)
	}
	d := &Document{}
	var stmts *jval
	for i := range root.obj {
		f := &root.obj[i]
		switch f.key {
		case "Version":
			if f.val.kind != jString {
				return nil, errorf("Version", "must be a string, not %s", f.val.kind)
			}
			if f.val.s != Version2012 && f.val.s != Version2008 {
				return nil, errorf("Version", "%q is not a policy language version; use %q or %q", f.val.s, Version2012, Version2008)
			}
			d.Version = f.val.s
		case "Id":
			if f.val.kind != jString {
				return nil, errorf("Id", "must be a string, not %s", f.val.kind)
			}
			d.ID = f.val.s
		case "Statement":
			stmts = &f.val
		default:
			return nil, errorf("", "unknown element %q; a document has Version, Id and Statement", f.key)
		}
	}
	d.vars = d.Version == Version2012
	if stmts == nil {
		return nil, errorf("", "the document has no Statement")
	}
	switch stmts.kind {
	case jObject:
		st, err := parseStatement(stmts, "Statement", d.vars)
		if err != nil {
			return nil, err
		}
		d.Statements = []Statement{st}
	case jArray:
		if len(stmts.arr) == 0 {
			return nil, errorf("Statement", "must not be empty")
		}
		d.Statements = make([]Statement, 0, len(stmts.arr))
		for i := range stmts.arr {
			path := fmt.Sprintf("Statement[%d]", i)
			if stmts.arr[i].kind != jObject {
				return nil, errorf(path, "must be an object, not %s", stmts.arr[i].kind)
			}
			st, err := parseStatement(&stmts.arr[i], path, d.vars)
			if err != nil {
				return nil, err
			}
			d.Statements = append(d.Statements, st)
		}
	default:
		return nil, errorf("Statement", "must be an object or an array of objects, not %s", stmts.kind)
	}
	return d, nil
}

func parseStatement(v *jval, path string, vars bool) (Statement, error) {
	var st Statement
	var seenAction, seenResource bool
	for i := range v.obj {
		f := &v.obj[i]
		fpath := path + "." + f.key
		switch f.key {
		case "Sid":
			if f.val.kind != jString {
				return st, errorf(fpath, "must be a string, not %s", f.val.kind)
			}
			st.Sid = f.val.s
		case "Effect":
			if f.val.kind != jString {
				return st, errorf(fpath, "must be a string, not %s", f.val.kind)
			}
			switch e := Effect(f.val.s); e {
			case Allow, Deny:
				st.Effect = e
			default:
				return st, errorf(fpath, "%q is not an effect; use \"Allow\" or \"Deny\"", f.val.s)
			}
		case "Action":
			list, err := stringList(&f.val, fpath)
			if err != nil {
				return st, err
			}
			for j, a := range list {
				if !validAction(a) {
					return st, errorf(fmt.Sprintf("%s[%d]", fpath, j), "%q is not an action; write \"*\" or \"service:Action\", e.g. \"iot:Publish\"", a)
				}
				st.actions = append(st.actions, compileGlob([]seg{{s: asciiLower(a)}}, true))
			}
			st.Actions, seenAction = list, true
		case "Resource":
			list, err := stringList(&f.val, fpath)
			if err != nil {
				return st, err
			}
			for j, r := range list {
				if r != "*" && !strings.HasPrefix(r, "arn:") {
					return st, errorf(fmt.Sprintf("%s[%d]", fpath, j), "%q is not a resource; write an ARN (\"arn:...\") or \"*\"", r)
				}
				st.resources = append(st.resources, parseTemplate(r, vars))
			}
			st.Resources, seenResource = list, true
		case "Condition":
			conds, err := parseConditions(&f.val, fpath, vars)
			if err != nil {
				return st, err
			}
			st.Conditions = conds
		case "NotAction", "NotResource", "Principal", "NotPrincipal":
			return st, errorf(fpath, "%s is not supported in AWS IoT policies", f.key)
		default:
			return st, errorf(path, "unknown element %q; a statement has Sid, Effect, Action, Resource and Condition", f.key)
		}
	}
	switch {
	case st.Effect == "":
		return st, errorf(path, "missing Effect")
	case !seenAction:
		return st, errorf(path, "missing Action")
	case !seenResource:
		return st, errorf(path, "missing Resource")
	}
	return st, nil
}

// stringList reads a string or a non-empty array of non-empty strings.
func stringList(v *jval, path string) ([]string, error) {
	switch v.kind {
	case jString:
		if v.s == "" {
			return nil, errorf(path, "must not be empty")
		}
		return []string{v.s}, nil
	case jArray:
		if len(v.arr) == 0 {
			return nil, errorf(path, "must not be an empty list")
		}
		list := make([]string, len(v.arr))
		for i := range v.arr {
			e := &v.arr[i]
			if e.kind != jString {
				return nil, errorf(fmt.Sprintf("%s[%d]", path, i), "must be a string, not %s", e.kind)
			}
			if e.s == "" {
				return nil, errorf(fmt.Sprintf("%s[%d]", path, i), "must not be empty")
			}
			list[i] = e.s
		}
		return list, nil
	default:
		return nil, errorf(path, "must be a string or a list of strings, not %s", v.kind)
	}
}

// validAction reports whether a is "*" or "service:action", the IAM form: a
// service prefix of letters, digits, hyphens or wildcards, a colon, and a
// non-empty action name of letters, digits, underscores, hyphens or
// wildcards.
func validAction(a string) bool {
	if a == "*" {
		return true
	}
	svc, name, ok := strings.Cut(a, ":")
	if !ok || svc == "" || name == "" {
		return false
	}
	for i := 0; i < len(svc); i++ {
		if c := svc[i]; !isAlnum(c) && c != '-' && c != '*' && c != '?' {
			return false
		}
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isAlnum(c) && c != '-' && c != '_' && c != '*' && c != '?' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// validKey reports whether k has the IAM form of a condition key:
// "vendor:name", the vendor letters, digits or hyphens, the name non-empty
// and without whitespace.
func validKey(k string) bool {
	vendor, name, ok := strings.Cut(k, ":")
	if !ok || vendor == "" || name == "" {
		return false
	}
	for i := 0; i < len(vendor); i++ {
		if c := vendor[i]; !isAlnum(c) && c != '-' {
			return false
		}
	}
	return !strings.ContainsFunc(name, unicode.IsSpace)
}

func parseConditions(v *jval, path string, vars bool) ([]Condition, error) {
	if v.kind != jObject {
		return nil, errorf(path, "must be an object of condition operators, not %s", v.kind)
	}
	var conds []Condition
	for i := range v.obj {
		opf := &v.obj[i]
		opPath := path + "." + opf.key
		op, err := parseOperator(opf.key)
		if err != nil {
			return nil, errorf(opPath, "%s", err)
		}
		if opf.val.kind != jObject {
			return nil, errorf(opPath, "must be an object of condition keys, not %s", opf.val.kind)
		}
		for j := range opf.val.obj {
			kf := &opf.val.obj[j]
			kPath := opPath + "." + kf.key
			if !validKey(kf.key) {
				return nil, errorf(kPath, "%q is not a condition key; write \"vendor:name\", e.g. \"iot:ClientId\"", kf.key)
			}
			values, err := conditionValues(&kf.val, kPath)
			if err != nil {
				return nil, err
			}
			c := Condition{Operator: opf.key, Key: kf.key, Values: values, op: op}
			// IAM substitutes variables in the values of string, ARN and Bool
			// operators only; numeric, date and IP values are literal.
			subst := vars && op.substitutes()
			for _, s := range values {
				c.values = append(c.values, parseTemplate(s, subst))
			}
			conds = append(conds, c)
		}
	}
	return conds, nil
}

// conditionValues reads a scalar or a list of scalars, numbers and booleans
// as their JSON text.
func conditionValues(v *jval, path string) ([]string, error) {
	scalar := func(e *jval, path string) (string, error) {
		switch e.kind {
		case jString, jNumber, jBool:
			return e.s, nil
		default:
			return "", errorf(path, "a condition value must be a string, number or boolean, not %s", e.kind)
		}
	}
	if v.kind != jArray {
		s, err := scalar(v, path)
		if err != nil {
			return nil, err
		}
		return []string{s}, nil
	}
	out := make([]string, 0, len(v.arr))
	for i := range v.arr {
		s, err := scalar(&v.arr[i], fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// Keys returns the context keys the document reads, each once, in the order
// they first appear: variables in resources and condition values (only under
// Version 2012-10-17) and condition keys. A broker can use it to learn
// whether a connection needs, say, its thing's attributes looked up.
func (d *Document) Keys() []string {
	var keys []string
	seen := map[string]bool{}
	add := func(k string) {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	for i := range d.Statements {
		st := &d.Statements[i]
		for _, t := range st.resources {
			for _, p := range t.parts {
				if p.kind == partVar {
					add(p.s)
				}
			}
		}
		for _, c := range st.Conditions {
			add(c.Key)
			for _, t := range c.values {
				for _, p := range t.parts {
					if p.kind == partVar {
						add(p.s)
					}
				}
			}
		}
	}
	return keys
}
