package template

import (
	"strings"
)

// Pseudo parameters a Ref may name.
var pseudoParams = map[string]bool{
	"AWS::AccountId": true, "AWS::NotificationARNs": true, "AWS::NoValue": true, "AWS::Partition": true,
	"AWS::Region": true, "AWS::StackId": true, "AWS::StackName": true, "AWS::URLSuffix": true,
}

// Intrinsic functions by where they may appear.
var (
	// valueFns return a value; they may appear in resources and outputs.
	valueFns = map[string]bool{
		"Ref": true, "Fn::GetAtt": true, "Fn::Sub": true, "Fn::Join": true, "Fn::Select": true, "Fn::Split": true,
		"Fn::If": true, "Fn::FindInMap": true, "Fn::ImportValue": true, "Fn::Base64": true, "Fn::GetAZs": true,
		"Fn::Cidr": true, "Fn::Length": true, "Fn::ToJsonString": true,
	}
	// condFns return a boolean; they may appear in Conditions and Rules.
	condFns = map[string]bool{"Fn::Equals": true, "Fn::And": true, "Fn::Or": true, "Fn::Not": true}
	// ruleFns may appear only in Rules.
	ruleFns = map[string]bool{
		"Fn::Contains": true, "Fn::EachMemberEquals": true, "Fn::EachMemberIn": true,
		"Fn::RefAll": true, "Fn::ValueOf": true, "Fn::ValueOfAll": true,
	}
)

// call reports whether v is an intrinsic function call: a map with a single
// key that is "Ref" or starts with "Fn::". {"Condition": name} counts only
// where a condition is expected, so callers test for it themselves.
func call(v any) (name string, arg any, ok bool) {
	m, isMap := v.(map[string]any)
	if !isMap || len(m) != 1 {
		return "", nil, false
	}
	for k, a := range m {
		if k == "Ref" || strings.HasPrefix(k, "Fn::") {
			return k, a, true
		}
	}
	return "", nil, false
}

// conditionRef reports whether v is {"Condition": name}.
func conditionRef(v any) (name string, ok bool) {
	m, isMap := v.(map[string]any)
	if !isMap || len(m) != 1 {
		return "", false
	}
	name, ok = m["Condition"].(string)
	return name, ok
}

// getAttArgs splits the argument of Fn::GetAtt: ["Resource", "Attribute"]
// (the attribute may be a Ref) or "Resource.Attribute".
func getAttArgs(arg any) (res string, attr any, ok bool) {
	switch a := arg.(type) {
	case string:
		res, attr, ok := strings.Cut(a, ".")
		return res, attr, ok && res != "" && attr != ""
	case []any:
		if len(a) != 2 {
			return "", nil, false
		}
		res, ok := a[0].(string)
		return res, a[1], ok && res != ""
	}
	return "", nil, false
}

// subArgs splits the argument of Fn::Sub: "template" or ["template", {vars}].
func subArgs(arg any) (tmpl string, vars map[string]any, ok bool) {
	switch a := arg.(type) {
	case string:
		return a, nil, true
	case []any:
		if len(a) != 2 {
			return "", nil, false
		}
		tmpl, ok1 := a[0].(string)
		vars, ok2 := a[1].(map[string]any)
		return tmpl, vars, ok1 && ok2
	}
	return "", nil, false
}

// subPart is a run of literal text or a ${variable} of a Fn::Sub template.
type subPart struct {
	text  string // the literal text, or the variable name
	isVar bool
}

// subParts splits a Fn::Sub template. "${!Name}" is the literal "${Name}";
// "${" without a closing "}" is literal text. Variable names are trimmed of
// spaces.
func subParts(tmpl string) []subPart {
	var parts []subPart
	var lit strings.Builder
	for {
		i := strings.Index(tmpl, "${")
		if i < 0 {
			break
		}
		j := strings.IndexByte(tmpl[i:], '}')
		if j < 0 {
			break
		}
		lit.WriteString(tmpl[:i])
		inner := tmpl[i+2 : i+j]
		tmpl = tmpl[i+j+1:]
		if strings.HasPrefix(inner, "!") {
			lit.WriteString("${" + inner[1:] + "}")
			continue
		}
		if lit.Len() > 0 {
			parts = append(parts, subPart{text: lit.String()})
			lit.Reset()
		}
		parts = append(parts, subPart{text: strings.TrimSpace(inner), isVar: true})
	}
	lit.WriteString(tmpl)
	if lit.Len() > 0 {
		parts = append(parts, subPart{text: lit.String()})
	}
	return parts
}

// validSubVar reports whether a Fn::Sub variable name has only the
// characters CloudFormation allows.
func validSubVar(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if !isAlnum(r) && r != '_' && r != '.' && r != ':' {
			return false
		}
	}
	return true
}

func isAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

// alphanumeric reports whether a logical ID is valid: 1 to 255 of A-Za-z0-9.
func alphanumeric(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for _, r := range s {
		if !isAlnum(r) {
			return false
		}
	}
	return true
}
