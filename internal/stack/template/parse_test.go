package template

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

type m = map[string]any
type l = []any

// shortFormCases are YAML values and their long form.
var shortFormCases = []struct {
	name string
	yaml string
	want any
}{
	{"Ref", `!Ref Thing`, m{"Ref": "Thing"}},
	{"Ref pseudo", `!Ref AWS::Region`, m{"Ref": "AWS::Region"}},
	{"Ref quoted", `!Ref "Thing"`, m{"Ref": "Thing"}},
	{"GetAtt dotted", `!GetAtt Thing.Arn`, m{"Fn::GetAtt": l{"Thing", "Arn"}}},
	{"GetAtt dotted attribute", `!GetAtt Stream.Endpoint.Address`, m{"Fn::GetAtt": l{"Stream", "Endpoint.Address"}}},
	{"GetAtt sequence", `!GetAtt [Thing, Arn]`, m{"Fn::GetAtt": l{"Thing", "Arn"}}},
	{"GetAtt sequence with Ref", `!GetAtt [Thing, !Ref Attr]`, m{"Fn::GetAtt": l{"Thing", m{"Ref": "Attr"}}}},
	{"GetAtt without dot", `!GetAtt Thing`, m{"Fn::GetAtt": "Thing"}},
	{"Sub string", `!Sub "${AWS::StackName}-x"`, m{"Fn::Sub": "${AWS::StackName}-x"}},
	{"Sub list", `!Sub ["${A}-${B}", {A: !Ref X, B: b}]`, m{"Fn::Sub": l{"${A}-${B}", m{"A": m{"Ref": "X"}, "B": "b"}}}},
	{"Sub block list", "!Sub\n        - \"${A}\"\n        - A: !GetAtt T.Arn", m{"Fn::Sub": l{"${A}", m{"A": m{"Fn::GetAtt": l{"T", "Arn"}}}}}},
	{"Sub literal block", "!Sub |\n        echo ${AWS::Region}\n        echo ${!NotAVar}", m{"Fn::Sub": "echo ${AWS::Region}\necho ${!NotAVar}\n"}},
	{"Join", `!Join ["-", [a, !Ref B]]`, m{"Fn::Join": l{"-", l{"a", m{"Ref": "B"}}}}},
	{"Select", `!Select [0, !GetAZs ""]`, m{"Fn::Select": l{int64(0), m{"Fn::GetAZs": ""}}}},
	{"Split", `!Split [",", !Ref L]`, m{"Fn::Split": l{",", m{"Ref": "L"}}}},
	{"If", `!If [C, a, !Ref AWS::NoValue]`, m{"Fn::If": l{"C", "a", m{"Ref": "AWS::NoValue"}}}},
	{"If nested", `!If [C, !If [D, x, y], z]`, m{"Fn::If": l{"C", m{"Fn::If": l{"D", "x", "y"}}, "z"}}},
	{"If nested block", "!If\n        - C\n        - !If\n          - D\n          - !Sub x-${AWS::Region}\n          - y\n        - z",
		m{"Fn::If": l{"C", m{"Fn::If": l{"D", m{"Fn::Sub": "x-${AWS::Region}"}, "y"}}, "z"}}},
	{"Equals", `!Equals [!Ref Env, prod]`, m{"Fn::Equals": l{m{"Ref": "Env"}, "prod"}}},
	{"Not Condition", `!Not [!Condition C]`, m{"Fn::Not": l{m{"Condition": "C"}}}},
	{"And", `!And [!Condition A, !Condition B]`, m{"Fn::And": l{m{"Condition": "A"}, m{"Condition": "B"}}}},
	{"Or", `!Or [!Condition A, !Equals [a, b]]`, m{"Fn::Or": l{m{"Condition": "A"}, m{"Fn::Equals": l{"a", "b"}}}}},
	{"FindInMap", `!FindInMap [M, !Ref AWS::Region, K]`, m{"Fn::FindInMap": l{"M", m{"Ref": "AWS::Region"}, "K"}}},
	{"FindInMap default", `!FindInMap [M, a, b, {DefaultValue: d}]`, m{"Fn::FindInMap": l{"M", "a", "b", m{"DefaultValue": "d"}}}},
	{"ImportValue", "!ImportValue\n        Fn::Sub: \"${Env}-x\"", m{"Fn::ImportValue": m{"Fn::Sub": "${Env}-x"}}},
	{"Base64", `!Base64 hello`, m{"Fn::Base64": "hello"}},
	{"GetAZs", `!GetAZs us-east-1`, m{"Fn::GetAZs": "us-east-1"}},
	{"Cidr", `!Cidr [10.0.0.0/16, 4, 8]`, m{"Fn::Cidr": l{"10.0.0.0/16", int64(4), int64(8)}}},
	{"Condition", `!Condition C`, m{"Condition": "C"}},
	{"Length", `!Length [a, b]`, m{"Fn::Length": l{"a", "b"}}},
	{"ToJsonString", `!ToJsonString {a: 1}`, m{"Fn::ToJsonString": m{"a": int64(1)}}},
	{"Contains", `!Contains [[a], !Ref P]`, m{"Fn::Contains": l{l{"a"}, m{"Ref": "P"}}}},
	{"long form in YAML", `{"Fn::Join": ["", [a, b]]}`, m{"Fn::Join": l{"", l{"a", "b"}}}},
	{"Ref scalar stays a string", `!Ref 123`, m{"Ref": "123"}},

	{"date stays a string", `2010-09-09`, "2010-09-09"},
	{"integer", `5`, int64(5)},
	{"negative integer", `-7`, int64(-7)},
	{"float", `1.5`, 1.5},
	{"exponent", `1e3`, 1000.0},
	{"huge integer", `12345678901234567890`, 12345678901234567890.0},
	{"infinity stays text", `.inf`, ".inf"},
	{"bool", `true`, true},
	{"yes is a string", `yes`, "yes"},
	{"null", `~`, nil},
	{"quoted number", `"5"`, "5"},
	{"explicit str", `!!str 5`, "5"},
	{"anchor and alias", "[&a x, *a]", l{"x", "x"}},
	{"merge key", "\n        <<: {a: 1, b: 2}\n        b: 3", m{"a": int64(1), "b": int64(3)}},
}

func TestParseShortForms(t *testing.T) {
	for _, c := range shortFormCases {
		t.Run(c.name, func(t *testing.T) {
			got := snippet(t, c.yaml)
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("Parse(%q) value (-want +got):\n%s", c.yaml, diff)
			}
		})
	}
}

var jsonScalarCases = []struct {
	json string
	want any
}{
	{`5`, int64(5)},
	{`-5`, int64(-5)},
	{`1.5`, 1.5},
	{`1e3`, 1000.0},
	{`12345678901234567890`, 12345678901234567890.0},
	{`"x\u00e9"`, "xé"},
	{`true`, true},
	{`null`, nil},
	{`[1, "a", {"b": false}]`, l{int64(1), "a", m{"b": false}}},
}

func TestParseJSONScalars(t *testing.T) {
	for _, c := range jsonScalarCases {
		body := `{"Resources": {"R": {"Type": "T", "Properties": {"V": ` + c.json + `}}}}`
		got := mustParse(t, body).Resources["R"].Properties["V"]
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("Parse(%s) value (-want +got):\n%s", c.json, diff)
		}
	}
}

// cmpTemplate compares the exported fields of templates.
var cmpTemplate = cmpopts.IgnoreUnexported(Template{})

func TestParseJSONAndYAMLAgree(t *testing.T) {
	y, err := Parse(readFile(t, "testdata/short-forms.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	j, err := Parse(readFile(t, "testdata/short-forms.json"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(j, y, cmpTemplate); diff != "" {
		t.Errorf("short-forms.yaml and short-forms.json differ (-json +yaml):\n%s", diff)
	}
}

func TestParseKeepsOrder(t *testing.T) {
	body := `
Parameters:
  Zeta: {Type: String, Default: z}
  Alpha: {Type: String, Default: a}
Resources:
  Zulu: {Type: T}
  Bravo: {Type: T}
  Mike: {Type: T}
Outputs:
  Second: {Value: x}
  First: {Value: y}
`
	for _, form := range []string{"yaml", "json"} {
		tm := mustParse(t, body)
		if form == "json" {
			b, err := tm.JSON()
			if err != nil {
				t.Fatal(err)
			}
			tm = mustParse(t, string(b))
		}
		if got, want := tm.ParameterOrder, []string{"Zeta", "Alpha"}; !cmp.Equal(got, want) {
			t.Errorf("%s: ParameterOrder = %v, want %v", form, got, want)
		}
		if got, want := tm.ResourceOrder, []string{"Zulu", "Bravo", "Mike"}; !cmp.Equal(got, want) {
			t.Errorf("%s: ResourceOrder = %v, want %v", form, got, want)
		}
		if got, want := tm.OutputOrder, []string{"Second", "First"}; !cmp.Equal(got, want) {
			t.Errorf("%s: OutputOrder = %v, want %v", form, got, want)
		}
	}
}

func TestParseAttributes(t *testing.T) {
	tm := mustParse(t, `
AWSTemplateFormatVersion: "2010-09-09"
Description: d
Metadata: {Note: n}
Transform: AWS::LanguageExtensions
Parameters:
  P:
    Type: Number
    Default: 5
    AllowedValues: [1, 5]
    AllowedPattern: "[0-9]+"
    MinLength: 1
    MaxLength: "3"
    MinValue: 0
    MaxValue: 9.5
    NoEcho: "true"
    Description: pd
    ConstraintDescription: cd
  L:
    Type: CommaDelimitedList
    Default: [a, b]
Rules:
  Rl:
    RuleCondition: !Equals [!Ref P, "5"]
    Assertions:
      - Assert: !Contains [[a], a]
        AssertDescription: ad
Resources:
  R:
    Type: T
    DependsOn: S
    Condition: C
    DeletionPolicy: Retain
    UpdateReplacePolicy: Snapshot
    Metadata: {k: v}
    CreationPolicy: {ResourceSignal: {Count: 1}}
    UpdatePolicy: {AutoScalingRollingUpdate: {}}
  S:
    Type: T
    DependsOn: [A, B]
Outputs:
  O:
    Description: od
    Value: !Ref R
    Condition: C
    Export: {Name: e}
  N:
    Value: n
`)
	str := func(s string) *string { return &s }
	num := func(i int) *int { return &i }
	flt := func(f float64) *float64 { return &f }
	want := &Template{
		FormatVersion: "2010-09-09",
		Description:   "d",
		Metadata:      m{"Note": "n"},
		Transform:     "AWS::LanguageExtensions",
		Parameters: map[string]*Parameter{
			"P": {Type: "Number", Default: str("5"), AllowedValues: []string{"1", "5"}, AllowedPattern: "[0-9]+",
				MinLength: num(1), MaxLength: num(3), MinValue: flt(0), MaxValue: flt(9.5), NoEcho: true,
				Description: "pd", ConstraintDescription: "cd"},
			"L": {Type: "CommaDelimitedList", Default: str("a,b")},
		},
		ParameterOrder: []string{"P", "L"},
		Rules: map[string]*Rule{"Rl": {
			RuleCondition: m{"Fn::Equals": l{m{"Ref": "P"}, "5"}},
			Assertions:    []Assertion{{Assert: m{"Fn::Contains": l{l{"a"}, "a"}}, AssertDescription: "ad"}},
		}},
		Resources: map[string]*Resource{
			"R": {Type: "T", DependsOn: []string{"S"}, Condition: "C", DeletionPolicy: "Retain", UpdateReplacePolicy: "Snapshot",
				Metadata: m{"k": "v"}, CreationPolicy: m{"ResourceSignal": m{"Count": int64(1)}}, UpdatePolicy: m{"AutoScalingRollingUpdate": m{}}},
			"S": {Type: "T", DependsOn: []string{"A", "B"}},
		},
		ResourceOrder: []string{"R", "S"},
		Outputs: map[string]*Output{
			"O": {Description: "od", Value: m{"Ref": "R"}, Condition: "C", ExportName: "e"},
			"N": {Value: "n"},
		},
		OutputOrder: []string{"O", "N"},
	}
	if diff := cmp.Diff(want, tm, cmpTemplate); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
}

// parseErrorCases are bodies Parse refuses, with a substring of each
// problem's message in order and the line of the first.
var parseErrorCases = []struct {
	name string
	body string
	msgs []string
	line int
}{
	{"empty", "  \n", []string{"empty"}, 0},
	{"JSON not well-formed", "{\n  \"Resources\": {\n    \"R\": {\"Type\" \"T\"}\n  }\n}", []string{"JSON not well-formed"}, 3},
	{"JSON truncated", `{"Resources": {`, []string{"JSON not well-formed"}, 1},
	{"JSON trailing data", `{"Resources": {}} {}`, []string{"JSON not well-formed"}, 1},
	{"YAML not well-formed", "Resources:\n  R:\n    Type: [T\n", []string{"YAML not well-formed"}, 0},
	{"YAML two documents", "Resources: {}\n---\nResources: {}\n", []string{"single YAML document"}, 2},
	{"JSON duplicate key", "{\"Resources\": {\n\"R\": {\"Type\": \"T\"},\n\"R\": {\"Type\": \"T\"}}}", []string{`duplicate key "R"`}, 3},
	{"YAML duplicate keys", "Resources:\n  R: {Type: T}\n  R: {Type: T}\nOutputs: {}\nOutputs: {}\n", []string{`duplicate key "R"`, `duplicate key "Outputs"`}, 3},
	{"unknown tag", "Resources:\n  R:\n    Type: !Reff T\n", []string{"unsupported YAML tag !Reff"}, 3},
	{"top level list", "- a\n- b\n", []string{"must be a JSON object or a YAML map"}, 1},
	{"top level string", "hello\n", []string{"must be a JSON object or a YAML map"}, 1},
	{"Resources not a map", "Resources: [a]\n", []string{"Resources must be an object, not a list"}, 1},
	{"resource not a map", "Resources:\n  R: x\n", []string{"must be an object, not a string"}, 2},
	{"Type not a string", "Resources:\n  R:\n    Type: [T]\n", []string{"Type must be a string, not a list"}, 3},
	{"Properties not a map", "Resources:\n  R:\n    Type: T\n    Properties: [a]\n", []string{"Properties must be an object"}, 4},
	{"every shape problem at once", "Parameters:\n  P:\n    Type: String\n    MinLength: x\n    NoEcho: maybe\nResources:\n  R:\n    Type: {a: b}\n",
		[]string{"MinLength must be a non-negative integer", "NoEcho must be true or false", "Type must be a string"}, 4},
	{"MinValue not a number", "Parameters:\n  P: {Type: Number, MinValue: x}\nResources: {}\n", []string{"MinValue must be a number"}, 2},
	{"Export without Name", "Resources: {}\nOutputs:\n  O:\n    Value: v\n    Export: {}\n", []string{"Name field of every Export member must be specified"}, 5},
	{"Assertions not a list", "Rules:\n  R:\n    Assertions: x\nResources: {}\n", []string{"Assertions must be a list"}, 3},
	{"too big", "Resources: {}\n" + strings.Repeat("#", MaxBodySize), []string{"the maximum is 1048576"}, 0},
	{"JSON too deep", `{"Resources": {"R": {"Type": "T", "Properties": {"V": ` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}}}}`,
		[]string{"nested more than 64 deep"}, 1},
	{"YAML too deep", "Resources:\n  R:\n    Type: T\n    Properties:\n      V: " + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "\n",
		[]string{"nested more than 64 deep"}, 5},
	{"YAML short forms count toward depth", "Resources:\n  R:\n    Type: T\n    Properties:\n      V: " + strings.Repeat("!Base64 [", 40) + strings.Repeat("]", 40) + "\n",
		[]string{"nested more than 64 deep"}, 5},
	{"billion laughs", laughs, []string{"more than 250000 values"}, 0},
}

// laughs is a YAML "billion laughs": ten levels of ten aliases each.
var laughs = func() string {
	var b strings.Builder
	b.WriteString("a0: &a0 [lol]\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [", i, i)
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	b.WriteString("Resources: {}\n")
	return b.String()
}()

func TestParseErrors(t *testing.T) {
	for _, c := range parseErrorCases {
		t.Run(c.name, func(t *testing.T) {
			tm, err := Parse([]byte(c.body))
			if err == nil {
				t.Fatalf("Parse = %+v, nil; want an error", tm)
			}
			ps := problemsOf(t, err)
			if len(ps) != len(c.msgs) {
				t.Fatalf("Parse problems = %v, want %d: %q", ps, len(c.msgs), c.msgs)
			}
			for i, msg := range c.msgs {
				if !strings.Contains(ps[i].String(), msg) {
					t.Errorf("problem %d = %q, want it to contain %q", i, ps[i].String(), msg)
				}
			}
			if c.line != 0 && ps[0].Line != c.line {
				t.Errorf("problem 0 = %+v, want line %d", ps[0], c.line)
			}
		})
	}
}

func TestParseFlowYAMLStartingWithBrace(t *testing.T) {
	tm := mustParse(t, `{Resources: {R: {Type: T, Properties: {V: !Ref X}}}}`)
	if got, want := tm.Resources["R"].Properties["V"], (m{"Ref": "X"}); !cmp.Equal(got, want) {
		t.Errorf("V = %v, want %v", got, want)
	}
}

func TestParseBOM(t *testing.T) {
	tm := mustParse(t, "\xef\xbb\xbf{\"Resources\": {\"R\": {\"Type\": \"T\"}}}")
	if len(tm.Resources) != 1 {
		t.Errorf("Resources = %v, want R", tm.Resources)
	}
}

func TestParseAliasesWithinBudget(t *testing.T) {
	// Ordinary alias use is fine; only expansion past MaxValues is refused.
	body := "Base: &tags [{Key: a, Value: b}]\nResources:\n  R:\n    Type: T\n    Properties: {Tags: *tags}\n"
	tm := mustParse(t, body) // Base is an unknown section: Validate's business
	want := l{m{"Key": "a", "Value": "b"}}
	if got := tm.Resources["R"].Properties["Tags"]; !cmp.Equal(got, want) {
		t.Errorf("Tags = %v, want %v", got, want)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	for _, name := range []string{"testdata/short-forms.yaml", "testdata/short-forms.json", "testdata/cdk-iot-device-management.template.json"} {
		tm, err := Parse(readFile(t, name))
		if err != nil {
			t.Fatal(err)
		}
		b, err := tm.JSON()
		if err != nil {
			t.Fatalf("%s: JSON() = %v", name, err)
		}
		again, err := Parse(b)
		if err != nil {
			t.Fatalf("%s: Parse(JSON()) = %v\n%s", name, err, b)
		}
		if diff := cmp.Diff(tm, again, cmpTemplate); diff != "" {
			t.Errorf("%s: Parse(JSON()) differs (-before +after):\n%s", name, diff)
		}
		b2, _ := again.JSON()
		if string(b) != string(b2) {
			t.Errorf("%s: JSON() is not stable", name)
		}
	}
}

func TestJSONNoHTMLEscape(t *testing.T) {
	tm := mustParse(t, snippetBody(`"a<b>&c"`))
	b, err := tm.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"a<b>&c"`) {
		t.Errorf("JSON() = %s, want the string unescaped", b)
	}
}

// TestParseLargeBody checks that a body near MaxBodySize, minified onto one
// line, parses in linear time.
func TestParseLargeBody(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"Resources":{`)
	for i := 0; b.Len() < MaxBodySize-200; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"R%d":{"Type":"T","Properties":{"Name":{"Fn::Sub":"é-${AWS::Region}"},"Tags":[{"Key":"k","Value":"v"}]}}`, i)
	}
	b.WriteString(`}}`)
	start := time.Now()
	tm := mustParse(t, b.String())
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Parse of %d bytes took %v", b.Len(), d)
	}
	last := tm.ResourceOrder[len(tm.ResourceOrder)-1]
	at := tm.pos["Resources/"+last+"/Type"]
	off := strings.LastIndex(b.String(), `"T"`)
	if want := off - strings.Count(b.String()[:off], "é") + 1; at.line != 1 || at.col != want {
		t.Errorf("position of the last Type = %+v, want line 1, column %d", at, want)
	}
}
