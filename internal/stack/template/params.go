package template

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// paramType is what a parameter's Type means for its value.
type paramType struct {
	list   bool // the value is a comma-separated list, resolved to []string
	number bool // every value (or item) must be a number
	ssm    bool // the value names an SSM parameter whose value is used
}

// AWS-specific parameter types; iotdm treats their values as strings.
var awsParamTypes = map[string]bool{
	"AWS::EC2::AvailabilityZone::Name": true, "AWS::EC2::Image::Id": true, "AWS::EC2::Instance::Id": true,
	"AWS::EC2::KeyPair::KeyName": true, "AWS::EC2::SecurityGroup::GroupName": true, "AWS::EC2::SecurityGroup::Id": true,
	"AWS::EC2::Subnet::Id": true, "AWS::EC2::Volume::Id": true, "AWS::EC2::VPC::Id": true,
	"AWS::Route53::HostedZone::Id": true,
}

// parseParamType interprets a parameter Type.
func parseParamType(typ string) (paramType, bool) {
	switch {
	case typ == "String", typ == "AWS::SSM::Parameter::Name", awsParamTypes[typ]:
		return paramType{}, true
	case typ == "Number":
		return paramType{number: true}, true
	case typ == "List<Number>":
		return paramType{list: true, number: true}, true
	case typ == "CommaDelimitedList":
		return paramType{list: true}, true
	case strings.HasPrefix(typ, "List<") && strings.HasSuffix(typ, ">") && awsParamTypes[typ[5:len(typ)-1]]:
		return paramType{list: true}, true
	case strings.HasPrefix(typ, "AWS::SSM::Parameter::Value<") && strings.HasSuffix(typ, ">"):
		inner := typ[len("AWS::SSM::Parameter::Value<") : len(typ)-1]
		switch {
		case inner == "String", awsParamTypes[inner]:
			return paramType{ssm: true}, true
		case inner == "List<String>", inner == "CommaDelimitedList",
			strings.HasPrefix(inner, "List<") && strings.HasSuffix(inner, ">") && awsParamTypes[inner[5:len(inner)-1]]:
			return paramType{ssm: true, list: true}, true
		}
	}
	return paramType{}, false
}

var numberText = regexp.MustCompile(`^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$`)

// paramNames returns the names of t's parameters in the order written (any
// not in ParameterOrder last, sorted).
func (t *Template) paramNames() []string {
	return ordered(t.ParameterOrder, t.Parameters)
}

func ordered[V any](order []string, m map[string]V) []string {
	var names []string
	seen := map[string]bool{}
	for _, n := range order {
		if _, ok := m[n]; ok && !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	var rest []string
	for n := range m {
		if !seen[n] {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	return append(names, rest...)
}

// allowedPattern compiles an AllowedPattern, anchored at both ends as
// CloudFormation matches it. Patterns use Go's RE2 syntax, which lacks
// lookaround and backreferences.
func allowedPattern(p string) (*regexp.Regexp, error) {
	return regexp.Compile(`^(?:` + p + `)$`)
}

// checkValue returns why raw is not a valid value for parameter name, or "".
// List values are checked item by item against AllowedValues,
// AllowedPattern and number constraints; lengths apply to the whole text.
func checkValue(name string, p *Parameter, pt paramType, raw string) string {
	msg := func(format string, args ...any) string {
		if p.ConstraintDescription != "" {
			return fmt.Sprintf("Parameter '%s' failed to satisfy constraint: %s", name, p.ConstraintDescription)
		}
		return fmt.Sprintf("Parameter '%s' ", name) + fmt.Sprintf(format, args...)
	}
	items := []string{raw}
	if pt.list {
		items = splitList(raw)
	}
	if !pt.list {
		n := utf8.RuneCountInString(raw)
		if p.MinLength != nil && n < *p.MinLength {
			return msg("must contain at least %d characters", *p.MinLength)
		}
		if p.MaxLength != nil && n > *p.MaxLength {
			return msg("must contain at most %d characters", *p.MaxLength)
		}
	}
	var re *regexp.Regexp
	if p.AllowedPattern != "" {
		var err error
		if re, err = allowedPattern(p.AllowedPattern); err != nil {
			return fmt.Sprintf("Parameter '%s' AllowedPattern is not a valid regular expression: %v", name, err)
		}
	}
	for _, it := range items {
		if pt.number {
			if !numberText.MatchString(it) {
				return msg("must be a number")
			}
			f, _ := strconv.ParseFloat(it, 64)
			if p.MinValue != nil && f < *p.MinValue {
				return msg("must be a number not less than %s", strconv.FormatFloat(*p.MinValue, 'f', -1, 64))
			}
			if p.MaxValue != nil && f > *p.MaxValue {
				return msg("must be a number not greater than %s", strconv.FormatFloat(*p.MaxValue, 'f', -1, 64))
			}
		}
		if re != nil && !re.MatchString(it) {
			return msg("must match pattern %s", p.AllowedPattern)
		}
		if len(p.AllowedValues) > 0 && !contains(p.AllowedValues, it) {
			return msg("must be one of AllowedValues")
		}
	}
	return ""
}

// splitList splits a CommaDelimitedList value; each item is trimmed of
// spaces.
func splitList(s string) []string {
	items := strings.Split(s, ",")
	for i := range items {
		items[i] = strings.TrimSpace(items[i])
	}
	return items
}

// ResolveParameters returns the value of every parameter: the given value or
// else the Default, checked against the parameter's constraints. Number
// values stay strings, as CloudFormation's Ref returns them; list types
// (List<…>, CommaDelimitedList) become []string, split at commas with each
// item trimmed.
//
// For AWS::SSM::Parameter::Value<…> types the value given (or the Default)
// is the name of an SSM parameter, and ssm returns its value; with a nil ssm
// the name itself is the value (iotdm has no parameter store, so a CDK
// BootstrapVersion parameter resolves to "/cdk-bootstrap/hnb659fds/version").
// Constraints apply to the name. Errors are *Errors.
func (t *Template) ResolveParameters(given map[string]string, ssm func(name string) (string, bool)) (map[string]any, error) {
	ps := problems{pos: t.pos}
	var unknown []string
	for name := range given {
		if _, ok := t.Parameters[name]; !ok {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		ps.add("Parameters", "Parameters: [%s] do not exist in the template", strings.Join(unknown, ", "))
	}
	var missing []string
	values := map[string]any{}
	for _, name := range t.paramNames() {
		p := t.Parameters[name]
		path := join("Parameters", name)
		raw, ok := given[name]
		if !ok {
			if p.Default == nil {
				missing = append(missing, name)
				continue
			}
			raw = *p.Default
		}
		pt, ok := parseParamType(p.Type)
		if !ok {
			ps.add(join(path, "Type"), "Template format error: Unrecognized parameter type: %s", p.Type)
			continue
		}
		if m := checkValue(name, p, pt, raw); m != "" {
			ps.add(path, "%s", m)
			continue
		}
		value := raw
		if pt.ssm && ssm != nil {
			v, ok := ssm(raw)
			if !ok {
				ps.add(path, "Unable to fetch parameters [%s] from parameter store for this account.", raw)
				continue
			}
			value = v
		}
		if pt.list {
			values[name] = splitList(value)
		} else {
			values[name] = value
		}
	}
	if len(missing) > 0 {
		ps.add("Parameters", "Parameters: [%s] must have values", strings.Join(missing, ", "))
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	return values, nil
}
