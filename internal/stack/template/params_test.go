package template

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const paramsTemplate = `
Parameters:
  Env: {Type: String, Default: dev, AllowedValues: [dev, prod]}
  Name: {Type: String, AllowedPattern: "[a-z][a-z0-9-]*", MinLength: 3, MaxLength: 8}
  Count: {Type: Number, Default: 2, MinValue: 1, MaxValue: 10}
  Ports: {Type: "List<Number>", Default: "80, 443"}
  Zones: {Type: CommaDelimitedList, Default: "a, b ,c"}
  Secret: {Type: String, Default: s3cr3t, NoEcho: true}
  Subnets: {Type: "List<AWS::EC2::Subnet::Id>", Default: "subnet-1,subnet-2"}
  Image: {Type: "AWS::SSM::Parameter::Value<String>", Default: /images/latest}
  Hosts: {Type: "AWS::SSM::Parameter::Value<List<String>>", Default: /hosts}
  Tier: {Type: String, Default: gold, AllowedValues: [gold, silver], ConstraintDescription: pick a tier}
Resources:
  R: {Type: T}
`

func TestResolveParameters(t *testing.T) {
	tm := mustParse(t, paramsTemplate)
	store := map[string]string{"/images/latest": "ami-123", "/images/old": "ami-1", "/hosts": "h1, h2"}
	ssm := func(name string) (string, bool) { v, ok := store[name]; return v, ok }
	base := map[string]any{
		"Env": "dev", "Name": "abc", "Count": "2", "Ports": []string{"80", "443"}, "Zones": []string{"a", "b", "c"},
		"Secret": "s3cr3t", "Subnets": []string{"subnet-1", "subnet-2"}, "Image": "ami-123", "Hosts": []string{"h1", "h2"}, "Tier": "gold",
	}
	with := func(kv ...any) map[string]any {
		out := map[string]any{}
		for k, v := range base {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i].(string)] = kv[i+1]
		}
		return out
	}
	cases := []struct {
		name  string
		given map[string]string
		nilSS bool
		want  map[string]any
		errs  []want
	}{
		{"defaults", map[string]string{"Name": "abc"}, false, base, nil},
		{"given values win", map[string]string{"Name": "abc", "Env": "prod", "Count": "10", "Zones": "x", "Image": "/images/old"}, false,
			with("Env", "prod", "Count", "10", "Zones", []string{"x"}, "Image", "ami-1"), nil},
		{"nil ssm keeps the name", map[string]string{"Name": "abc"}, true, with("Image", "/images/latest", "Hosts", []string{"/hosts"}), nil},
		{"number formats", map[string]string{"Name": "abc", "Count": "1.5e0", "Ports": "1,-2.5,.5"}, false,
			with("Count", "1.5e0", "Ports", []string{"1", "-2.5", ".5"}), nil},
		{"unknown names", map[string]string{"Name": "abc", "Nope": "x", "Also": "y"}, false, nil,
			[]want{{"Parameters", "Parameters: [Also, Nope] do not exist in the template"}}},
		{"missing values", map[string]string{}, false, nil,
			[]want{{"Parameters", "Parameters: [Name] must have values"}}},
		{"AllowedValues", map[string]string{"Name": "abc", "Env": "qa"}, false, nil,
			[]want{{"Parameters/Env", "Parameter 'Env' must be one of AllowedValues"}}},
		{"AllowedPattern", map[string]string{"Name": "Abc"}, false, nil,
			[]want{{"Parameters/Name", "Parameter 'Name' must match pattern [a-z][a-z0-9-]*"}}},
		{"pattern is anchored", map[string]string{"Name": "abc!"}, false, nil,
			[]want{{"Parameters/Name", "must match pattern"}}},
		{"MinLength", map[string]string{"Name": "ab"}, false, nil,
			[]want{{"Parameters/Name", "Parameter 'Name' must contain at least 3 characters"}}},
		{"MaxLength", map[string]string{"Name": "abcdefghi"}, false, nil,
			[]want{{"Parameters/Name", "Parameter 'Name' must contain at most 8 characters"}}},
		{"Number", map[string]string{"Name": "abc", "Count": "two"}, false, nil,
			[]want{{"Parameters/Count", "Parameter 'Count' must be a number"}}},
		{"Number hex is not a number", map[string]string{"Name": "abc", "Count": "0x5"}, false, nil,
			[]want{{"Parameters/Count", "must be a number"}}},
		{"MinValue", map[string]string{"Name": "abc", "Count": "0"}, false, nil,
			[]want{{"Parameters/Count", "Parameter 'Count' must be a number not less than 1"}}},
		{"MaxValue", map[string]string{"Name": "abc", "Count": "10.5"}, false, nil,
			[]want{{"Parameters/Count", "Parameter 'Count' must be a number not greater than 10"}}},
		{"List<Number>", map[string]string{"Name": "abc", "Ports": "80,http"}, false, nil,
			[]want{{"Parameters/Ports", "Parameter 'Ports' must be a number"}}},
		{"ConstraintDescription", map[string]string{"Name": "abc", "Tier": "bronze"}, false, nil,
			[]want{{"Parameters/Tier", "Parameter 'Tier' failed to satisfy constraint: pick a tier"}}},
		{"SSM parameter missing", map[string]string{"Name": "abc", "Image": "/nope"}, false, nil,
			[]want{{"Parameters/Image", "Unable to fetch parameters [/nope] from parameter store for this account."}}},
		{"every problem at once", map[string]string{"Env": "qa", "Count": "x", "Nope": "1"}, false, nil,
			[]want{{"Parameters", "do not exist"}, {"Parameters", "[Name] must have values"}, {"Parameters/Env", "AllowedValues"}, {"Parameters/Count", "must be a number"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := ssm
			if c.nilSS {
				f = nil
			}
			got, err := tm.ResolveParameters(c.given, f)
			if c.errs == nil {
				if err != nil {
					t.Fatalf("ResolveParameters(%v) error: %v", c.given, err)
				}
				if diff := cmp.Diff(c.want, got); diff != "" {
					t.Errorf("ResolveParameters(%v) (-want +got):\n%s", c.given, diff)
				}
				return
			}
			ps := problemsOf(t, err)
			if len(ps) != len(c.errs) {
				t.Errorf("ResolveParameters(%v) problems = %v, want %d", c.given, ps, len(c.errs))
			}
			for _, w := range c.errs {
				if !hasProblem(ps, w) {
					t.Errorf("ResolveParameters(%v) problems = %v\nwant %+v", c.given, ps, w)
				}
			}
		})
	}
}

func TestParseParamType(t *testing.T) {
	for typ, want := range map[string]*paramType{
		"String":                                                 {},
		"Number":                                                 {number: true},
		"List<Number>":                                           {list: true, number: true},
		"CommaDelimitedList":                                     {list: true},
		"AWS::EC2::KeyPair::KeyName":                             {},
		"List<AWS::EC2::Subnet::Id>":                             {list: true},
		"AWS::SSM::Parameter::Name":                              {},
		"AWS::SSM::Parameter::Value<String>":                     {ssm: true},
		"AWS::SSM::Parameter::Value<List<String>>":               {ssm: true, list: true},
		"AWS::SSM::Parameter::Value<CommaDelimitedList>":         {ssm: true, list: true},
		"AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>":        {ssm: true},
		"AWS::SSM::Parameter::Value<List<AWS::EC2::Subnet::Id>>": {ssm: true, list: true},
		"string":                             nil,
		"List<String>":                       nil,
		"AWS::EC2::Nope::Id":                 nil,
		"AWS::SSM::Parameter::Value<Number>": nil,
		"AWS::SSM::Parameter::Value<String":  nil,
	} {
		got, ok := parseParamType(typ)
		if want == nil {
			if ok {
				t.Errorf("parseParamType(%q) = %+v, true; want false", typ, got)
			}
			continue
		}
		if !ok || got != *want {
			t.Errorf("parseParamType(%q) = %+v, %v; want %+v", typ, got, ok, *want)
		}
	}
}

func TestResolveParametersUnknownType(t *testing.T) {
	tm := mustParse(t, "Parameters:\n  P: {Type: Strng, Default: x}\nResources:\n  R: {Type: T}\n")
	_, err := tm.ResolveParameters(nil, nil)
	if err == nil || !strings.Contains(err.Error(), "Unrecognized parameter type: Strng") {
		t.Errorf("ResolveParameters = %v, want an unrecognized type", err)
	}
}
