package template

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// evalTemplate is what the expressions of evalCases refer to.
const evalTemplate = `
Parameters:
  Env: {Type: String, Default: dev}
  Zones: {Type: CommaDelimitedList, Default: "a, b,c"}
  Index: {Type: Number, Default: 1}
  Attr: {Type: String, Default: Arn}
  Vpc: {Type: "AWS::EC2::VPC::Id", Default: vpc-1}
Mappings:
  RegionMap:
    us-east-1: {Zone: use1, Sizes: [small, large]}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  IsDev: !Not [!Condition IsProd]
Resources:
  Group: {Type: T}
  Thing: {Type: T}
`

// evalContext resolves resources to "ref-<id>" and attributes to
// "<id>.<attr>" (Arns to a list).
func evalContext(t testing.TB, tm *Template) *Context {
	t.Helper()
	c := &Context{
		Pseudo: Pseudo{AccountID: "123456789012", Region: "us-east-1", StackName: "stk",
			StackID: "arn:aws:cloudformation:us-east-1:123456789012:stack/stk/1", NotificationARNs: []string{"arn:n1"}},
		Ref: func(id string) (string, error) { return "ref-" + id, nil },
		GetAtt: func(id, attr string) (any, error) {
			if attr == "Arns" {
				return []string{id + ".a1", id + ".a2"}, nil
			}
			if attr == "Broken" {
				return nil, errBroken
			}
			return id + "." + attr, nil
		},
		ImportValue: func(name string) (string, error) {
			if name == "missing" {
				return "", fmt.Errorf("No export named %s found", name)
			}
			return "imported-" + name, nil
		},
	}
	params, err := tm.ResolveParameters(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Parameters = params
	conds, err := tm.EvalConditions(c)
	if err != nil {
		t.Fatal(err)
	}
	c.Conditions = conds
	return c
}

var errBroken = errors.New("attribute is broken")

// evalCases are expressions (YAML, as in snippet) with their value, or a
// substring of the error.
var evalCases = []struct {
	name string
	expr string
	want any
	err  string
}{
	{"literal", `{a: [1, "b", true]}`, m{"a": l{int64(1), "b", true}}, ""},
	{"Ref parameter", `!Ref Env`, "dev", ""},
	{"Ref list parameter", `!Ref Zones`, l{"a", "b", "c"}, ""},
	{"Ref number parameter is text", `!Ref Index`, "1", ""},
	{"Ref resource", `!Ref Group`, "ref-Group", ""},
	{"Ref AccountId", `!Ref AWS::AccountId`, "123456789012", ""},
	{"Ref Region", `!Ref AWS::Region`, "us-east-1", ""},
	{"Ref StackName", `!Ref AWS::StackName`, "stk", ""},
	{"Ref StackId", `!Ref AWS::StackId`, "arn:aws:cloudformation:us-east-1:123456789012:stack/stk/1", ""},
	{"Ref Partition default", `!Ref AWS::Partition`, "aws", ""},
	{"Ref URLSuffix default", `!Ref AWS::URLSuffix`, "amazonaws.com", ""},
	{"Ref NotificationARNs", `!Ref AWS::NotificationARNs`, l{"arn:n1"}, ""},
	{"Ref undefined", `!Ref Nope`, nil, "Unresolved resource dependencies [Nope] in the Resources block of the template"},
	{"Ref not a string", `{Ref: [a]}`, nil, "Every Ref object must have a single String value."},

	{"GetAtt list", `!GetAtt [Thing, Arn]`, "Thing.Arn", ""},
	{"GetAtt dotted", `!GetAtt Thing.Endpoint.Address`, "Thing.Endpoint.Address", ""},
	{"GetAtt long string form", `{"Fn::GetAtt": "Thing.Arn"}`, "Thing.Arn", ""},
	{"GetAtt attribute from Ref", `!GetAtt [Thing, !Ref Attr]`, "Thing.Arn", ""},
	{"GetAtt list attribute", `!GetAtt Thing.Arns`, l{"Thing.a1", "Thing.a2"}, ""},
	{"GetAtt undefined", `!GetAtt Nope.Arn`, nil, "Template error: instance of Fn::GetAtt references undefined resource Nope"},

	{"Sub", `!Sub "${AWS::StackName}-${Env}-${Group}"`, "stk-dev-ref-Group", ""},
	{"Sub attribute", `!Sub "arn=${Thing.Arn}"`, "arn=Thing.Arn", ""},
	{"Sub literal", `!Sub "${!Literal}-${!AWS::Region}"`, "${Literal}-${AWS::Region}", ""},
	{"Sub list form", `!Sub ["${A}/${B}/${Env}", {A: !Ref Group, B: 7}]`, "ref-Group/7/dev", ""},
	{"Sub local shadows resource", `!Sub ["${Group}", {Group: g}]`, "g", ""},
	{"Sub spaces in variable", `!Sub "${ Env }"`, "dev", ""},
	{"Sub unterminated", `!Sub "a-${Env"`, "a-${Env", ""},
	{"Sub undefined", `!Sub "${Nope}"`, nil, "Unresolved resource dependencies [Nope]"},
	{"Sub list parameter", `!Sub "${Zones}"`, nil, "variable Zones in Fn::Sub expression does not resolve to a string"},

	{"Join", `!Join ["-", [a, !Ref Env, 3]]`, "a-dev-3", ""},
	{"Join list parameter", `!Join [":", !Ref Zones]`, "a:b:c", ""},
	{"Join empty", `!Join [",", []]`, "", ""},
	{"Join drops NoValue", `!Join [",", [a, !Ref AWS::NoValue, b]]`, "a,b", ""},
	{"Join non-string", `!Join [",", [{a: b}]]`, nil, "every value joined by Fn::Join must be a string"},
	{"Join shape", `!Join [","]`, nil, "every Fn::Join object requires two parameters"},

	{"Select", `!Select [1, [a, b, c]]`, "b", ""},
	{"Select string index", `!Select ["2", !Ref Zones]`, "c", ""},
	{"Select Ref index", `!Select [!Ref Index, !Ref Zones]`, "b", ""},
	{"Select out of range", `!Select [3, [a]]`, nil, "Fn::Select cannot select nonexistent value at index 3"},
	{"Select negative", `!Select [-1, [a]]`, nil, "Fn::Select cannot select nonexistent value at index -1"},

	{"Split", `!Split [",", "a,,b"]`, l{"a", "", "b"}, ""},
	{"Split Ref", `!Split ["-", !Sub "${Env}-x"]`, l{"dev", "x"}, ""},

	{"If false", `!If [IsProd, yes, no]`, "no", ""},
	{"If true", `!If [IsDev, yes, no]`, "yes", ""},
	{"If evaluates only its branch", `!If [IsDev, ok, !Ref Nope]`, "ok", ""},
	{"If nested", `!If [IsDev, !If [IsProd, a, !Sub "${Env}"], c]`, "dev", ""},
	{"If unknown condition", `!If [Nope, a, b]`, nil, "unresolved condition dependency Nope in Fn::If"},

	{"Equals", `!Equals [!Ref Env, dev]`, true, ""},
	{"Equals number and text", `!Equals [!Ref Index, 1]`, true, ""},
	{"Equals lists", `!Equals [!Ref Zones, [a, b, c]]`, true, ""},
	{"Not", `!Not [!Equals [a, b]]`, true, ""},
	{"And with Condition", `!And [!Condition IsDev, !Equals [a, a]]`, true, ""},
	{"Or", `!Or [!Condition IsProd, !Equals [a, b]]`, false, ""},
	{"Not of non-condition", `!Not [x]`, nil, "Conditions can only be boolean operations"},
	{"Condition outside a condition function is data", `{Condition: IsProd}`, m{"Condition": "IsProd"}, ""},

	{"FindInMap", `!FindInMap [RegionMap, !Ref AWS::Region, Zone]`, "use1", ""},
	{"FindInMap list", `!FindInMap [RegionMap, us-east-1, Sizes]`, l{"small", "large"}, ""},
	{"FindInMap default", `!FindInMap [RegionMap, eu-west-1, Zone, {DefaultValue: !Sub "${Env}-zone"}]`, "dev-zone", ""},
	{"FindInMap default unused", `!FindInMap [RegionMap, us-east-1, Zone, {DefaultValue: x}]`, "use1", ""},
	{"FindInMap missing key", `!FindInMap [RegionMap, eu-west-1, Zone]`, nil, "Unable to get mapping for RegionMap::eu-west-1::Zone"},
	{"FindInMap missing mapping", `!FindInMap [Nope, a, b]`, nil, "Mapping named 'Nope' is not present"},

	{"ImportValue", `!ImportValue shared`, "imported-shared", ""},
	{"ImportValue Sub", "!ImportValue\n        Fn::Sub: \"${Env}-out\"", "imported-dev-out", ""},
	{"ImportValue missing", `!ImportValue missing`, nil, "No export named missing found"},

	{"Base64", `!Base64 hello`, "aGVsbG8=", ""},
	{"Base64 Sub", `!Base64 {"Fn::Sub": "${Env}"}`, "ZGV2", ""},
	{"GetAZs", `!GetAZs ""`, l{"us-east-1a", "us-east-1b", "us-east-1c"}, ""},
	{"GetAZs region", `!GetAZs eu-west-1`, l{"eu-west-1a", "eu-west-1b", "eu-west-1c"}, ""},
	{"GetAZs Ref", `!Select [0, !GetAZs {Ref: "AWS::Region"}]`, "us-east-1a", ""},

	{"Cidr", `!Cidr [10.0.0.0/16, 3, 8]`, l{"10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"}, ""},
	{"Cidr text arguments", `!Cidr [192.168.0.0/24, "2", "6"]`, l{"192.168.0.0/26", "192.168.0.64/26"}, ""},
	{"Cidr unmasked block", `!Cidr [10.0.0.9/16, 1, 12]`, l{"10.0.0.0/20"}, ""},
	{"Cidr IPv6", `!Cidr ["2001:db8::/56", 2, 64]`, l{"2001:db8::/64", "2001:db8:0:1::/64"}, ""},
	{"Cidr too many", `!Cidr [10.0.0.0/24, 3, 7]`, nil, "holds only 2 subnets"},
	{"Cidr count", `!Cidr [10.0.0.0/8, 257, 8]`, nil, "count 257 is not between 1 and 256"},

	{"Length", `!Length [a, b, !Ref AWS::NoValue]`, int64(2), ""},
	{"Length Ref", `!Length {Ref: Zones}`, int64(3), ""},
	{"ToJsonString", `!ToJsonString {b: [!Ref Env, 1], a: "<&>"}`, `{"a":"<&>","b":["dev",1]}`, ""},

	{"NoValue removes a map entry", `{a: !Ref AWS::NoValue, b: x}`, m{"b": "x"}, ""},
	{"NoValue removes a list item", `[a, !If [IsProd, b, !Ref AWS::NoValue], c]`, l{"a", "c"}, ""},
	{"NoValue at the top is nil", `!If [IsDev, !Ref AWS::NoValue, x]`, nil, ""},
	{"NoValue nested", `{a: {b: !If [IsProd, x, !Ref AWS::NoValue]}}`, m{"a": m{}}, ""},

	{"RefAll", `!RefAll "AWS::EC2::VPC::Id"`, l{"vpc-1"}, ""},
	{"Contains", `!Contains [!Ref Zones, b]`, true, ""},
	{"EachMemberEquals", `!EachMemberEquals [[a, a], a]`, true, ""},
	{"EachMemberIn", `!EachMemberIn [!Ref Zones, [a, b]]`, false, ""},
	{"unsupported function", `{"Fn::Foo": x}`, nil, "Encountered unsupported function: Fn::Foo"},
	{"multi-key map is data", `{Ref: x, Other: y}`, m{"Ref": "x", "Other": "y"}, ""},
}

func TestEval(t *testing.T) {
	tm := mustParse(t, evalTemplate)
	c := evalContext(t, tm)
	for _, tc := range evalCases {
		t.Run(tc.name, func(t *testing.T) {
			v := snippet(t, tc.expr)
			got, err := tm.Eval(c, "Resources/R/Properties/V", v)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Eval(%s) = %v, %v; want error containing %q", tc.expr, got, err, tc.err)
				}
				problemsOf(t, err)
				return
			}
			if err != nil {
				t.Fatalf("Eval(%s) error: %v", tc.expr, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Eval(%s) (-want +got):\n%s", tc.expr, diff)
			}
		})
	}
}

func TestEvalGetAZsCallback(t *testing.T) {
	tm := mustParse(t, evalTemplate)
	c := evalContext(t, tm)
	c.GetAZs = func(region string) []string { return []string{region + "-az1"} }
	got, err := tm.Eval(c, "", snippet(t, `!GetAZs ""`))
	if err != nil || !cmp.Equal(got, l{"us-east-1-az1"}) {
		t.Errorf("Eval(!GetAZs) = %v, %v; want [us-east-1-az1]", got, err)
	}
}

func TestEvalDoesNotMutate(t *testing.T) {
	tm := mustParse(t, evalTemplate)
	c := evalContext(t, tm)
	v := snippet(t, `{a: !Ref AWS::NoValue, b: [x, !Ref AWS::NoValue], c: !Sub "${Env}"}`)
	before := fmt.Sprint(v)
	if _, err := tm.Eval(c, "", v); err != nil {
		t.Fatal(err)
	}
	if after := fmt.Sprint(v); after != before {
		t.Errorf("Eval changed its input: %s, was %s", after, before)
	}
}

func TestEvalErrorsCarryPathAndPosition(t *testing.T) {
	tm := mustParse(t, `Resources:
  Thing:
    Type: T
    Properties:
      ThingName: !Join
        - "-"
        - [a, !GetAtt Group.Broken]
  Group: {Type: T}
`)
	c := evalContext(t, tm)
	_, err := tm.Eval(c, "Resources/Thing/Properties", tm.Resources["Thing"].Properties)
	ps := problemsOf(t, err)
	want := Problem{Path: "Resources/Thing/Properties/ThingName/Fn::Join/1/1/Fn::GetAtt", Line: 7, Column: 15,
		Message: errBroken.Error(), Err: errBroken}
	if diff := cmp.Diff([]Problem{want}, ps, cmp.Comparer(func(a, b error) bool { return a == b })); diff != "" {
		t.Errorf("Eval problems (-want +got):\n%s", diff)
	}
	if !errors.Is(err, errBroken) {
		t.Errorf("errors.Is(%v, errBroken) = false", err)
	}
}

func TestEvalWithoutCallbacks(t *testing.T) {
	tm := mustParse(t, evalTemplate)
	for _, expr := range []string{`!Ref Group`, `!GetAtt Group.Arn`, `!ImportValue x`, `!If [IsProd, a, b]`, `!Ref Env`} {
		if _, err := tm.Eval(nil, "", snippet(t, expr)); err == nil {
			t.Errorf("Eval(nil context, %s) = nil error, want one", expr)
		} else {
			problemsOf(t, err)
		}
	}
	if got, err := tm.Eval(nil, "", snippet(t, `!Ref AWS::Region`)); err != nil || got != "" {
		t.Errorf("Eval(nil context, !Ref AWS::Region) = %v, %v; want empty", got, err)
	}
}

func TestEvalConditions(t *testing.T) {
	tm := mustParse(t, readFileString(t, "testdata/short-forms.yaml"))
	for _, c := range []struct {
		env, region string
		want        map[string]bool
	}{
		{"dev", "us-east-1", map[string]bool{"IsProd": false, "IsDev": true, "Both": true, "Either": true}},
		{"dev", "eu-west-1", map[string]bool{"IsProd": false, "IsDev": true, "Both": false, "Either": false}},
		{"prod", "eu-west-1", map[string]bool{"IsProd": true, "IsDev": false, "Both": false, "Either": true}},
	} {
		params, err := tm.ResolveParameters(map[string]string{"Env": c.env}, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tm.EvalConditions(&Context{Parameters: params, Pseudo: Pseudo{Region: c.region}})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("EvalConditions(Env=%s, %s) (-want +got):\n%s", c.env, c.region, diff)
		}
	}
}

func TestEvalConditionsErrors(t *testing.T) {
	tm := mustParse(t, `
Parameters:
  P: {Type: String}
Conditions:
  A: !Not [!Condition B]
  B: !Not [!Condition A]
  C: !Equals [!Ref R, x]
  D: !Equals [!Ref P, x]
  E: !And [!Condition C, !Equals [a, a]]
Resources:
  R: {Type: T}
`)
	_, err := tm.EvalConditions(&Context{Parameters: map[string]any{}})
	ps := problemsOf(t, err)
	for _, w := range []want{
		{"Conditions/B/Fn::Not/0/Condition", "Circular dependency between conditions: [A, B]"},
		{"Conditions/C/Fn::Equals/0/Ref", "Cannot reference resources in the Conditions block"},
		{"Conditions/D/Fn::Equals/0/Ref", "parameter P has no value"},
	} {
		if !hasProblem(ps, w) {
			t.Errorf("EvalConditions problems = %v\nwant %+v", ps, w)
		}
	}
	if len(ps) != 3 {
		t.Errorf("EvalConditions problems = %v, want 3 (A and B share one, E fails with C)", ps)
	}
}

func TestCheckRules(t *testing.T) {
	tm := mustParse(t, `
Parameters:
  Env: {Type: String, Default: dev}
  Size: {Type: String, Default: small}
Rules:
  ProdIsLarge:
    RuleCondition: !Equals [!Ref Env, prod]
    Assertions:
      - Assert: !Equals [!Ref Size, large]
        AssertDescription: production needs large
  KnownSize:
    Assertions:
      - Assert: !Contains [[small, large], !Ref Size]
        AssertDescription: size must be small or large
      - Assert: !Not [!Equals [!Ref Size, huge]]
Resources:
  R: {Type: T}
`)
	for _, c := range []struct {
		given map[string]string
		errs  []want
	}{
		{map[string]string{}, nil},
		{map[string]string{"Env": "prod", "Size": "large"}, nil},
		{map[string]string{"Env": "prod"}, []want{{"Rules/ProdIsLarge/Assertions/0", "Rule 'ProdIsLarge' failed: production needs large"}}},
		{map[string]string{"Size": "huge"}, []want{
			{"Rules/KnownSize/Assertions/0", "Rule 'KnownSize' failed: size must be small or large"},
			{"Rules/KnownSize/Assertions/1", "Rule 'KnownSize' failed: assertion 1 does not hold"}}},
	} {
		params, err := tm.ResolveParameters(c.given, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = tm.CheckRules(&Context{Parameters: params})
		ps := problemsOf(t, err)
		if len(ps) != len(c.errs) {
			t.Errorf("CheckRules(%v) = %v, want %d problems", c.given, err, len(c.errs))
			continue
		}
		for _, w := range c.errs {
			if !hasProblem(ps, w) {
				t.Errorf("CheckRules(%v) problems = %v\nwant %+v", c.given, ps, w)
			}
		}
	}
}

func readFileString(t testing.TB, name string) string { return string(readFile(t, name)) }
