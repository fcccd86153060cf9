package template

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const depsTemplate = `
Parameters:
  Env: {Type: String, Default: dev}
Conditions:
  C: !Equals [!Ref Env, prod]
Resources:
  Policy: {Type: T}
  Group: {Type: T}
  Type: {Type: T}
  Thing:
    Type: T
    DependsOn: Type
    Properties:
      Group: !Ref Group
      Arn: !If [C, !GetAtt Policy.Arn, !Ref AWS::NoValue]
  Metric:
    Type: T
    Metadata: {Owner: !Ref Group}
    Properties:
      Name: !Sub ["${Thing}-${Local}-${Env}-${AWS::Region}", {Local: !GetAtt Type.Name}]
  Alarm:
    Type: T
    Properties:
      Text: !Sub "${Metric.Arn}-${!Thing}"
      Join: !Join ["", [{"Fn::GetAtt": "Group.Arn"}]]
`

func TestReferences(t *testing.T) {
	tm := mustParse(t, depsTemplate)
	for _, c := range []struct {
		expr string
		want []string
	}{
		{`!Ref Group`, []string{"Group"}},
		{`!Ref Env`, nil},
		{`!Ref AWS::Region`, nil},
		{`!GetAtt Thing.Arn`, []string{"Thing"}},
		{`{"Fn::GetAtt": "Thing.Arn"}`, []string{"Thing"}},
		{`!GetAtt [Thing, !Ref Group]`, []string{"Group", "Thing"}},
		{`!Sub "${Thing}-${Group.Arn}-${!Policy}-${Env}"`, []string{"Group", "Thing"}},
		{`!Sub ["${Thing}-${Group}", {Group: !Ref Policy}]`, []string{"Policy", "Thing"}},
		{`!If [C, !Ref Thing, !Ref Group]`, []string{"Group", "Thing"}},
		{`[!Ref Thing, {a: !Ref Thing}, !Ref Nope]`, []string{"Thing"}},
	} {
		got := tm.References(snippet(t, c.expr))
		if !cmp.Equal(got, c.want, cmp.Comparer(func(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") })) {
			t.Errorf("References(%s) = %v, want %v", c.expr, got, c.want)
		}
	}
}

func TestDependencies(t *testing.T) {
	tm := mustParse(t, depsTemplate)
	for id, want := range map[string][]string{
		"Policy": {},
		"Thing":  {"Group", "Policy", "Type"},
		"Metric": {"Group", "Thing", "Type"},
		"Alarm":  {"Group", "Metric"},
		"Nope":   {},
	} {
		if got := tm.Dependencies(id); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("Dependencies(%s) = %v, want %v", id, got, want)
		}
	}
}

func TestOrder(t *testing.T) {
	tm := mustParse(t, depsTemplate)
	got, err := tm.Order(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Group", "Policy", "Type", "Thing", "Metric", "Alarm"}
	if !cmp.Equal(got, want) {
		t.Errorf("Order(nil) = %v, want %v", got, want)
	}
	got, err = tm.Order(func(id string) bool { return id != "Thing" && id != "Group" })
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"Policy", "Type", "Metric", "Alarm"}
	if !cmp.Equal(got, want) {
		t.Errorf("Order(without Thing, Group) = %v, want %v", got, want)
	}
}

func TestOrderCycles(t *testing.T) {
	tm := mustParse(t, `
Resources:
  A: {Type: T, Properties: {X: !Ref B}}
  B: {Type: T, Properties: {X: !GetAtt C.Arn}}
  C: {Type: T, DependsOn: A}
  D: {Type: T, Properties: {X: !Ref A}}
  E: {Type: T, Properties: {X: !Sub "${E}"}}
  F: {Type: T}
`)
	_, err := tm.Order(nil)
	ps := problemsOf(t, err)
	var msgs []string
	for _, p := range ps {
		msgs = append(msgs, p.Message)
	}
	want := []string{
		"Template format error: Circular dependency between resources: [A, B, C]",
		"Template format error: Circular dependency between resources: [E]",
	}
	if !cmp.Equal(msgs, want) {
		t.Errorf("Order(nil) problems = %q, want %q", msgs, want)
	}
	// Leaving a member of the cycle out breaks it.
	got, err := tm.Order(func(id string) bool { return id != "B" && id != "E" })
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"A", "C", "D", "F"}; !cmp.Equal(got, want) {
		t.Errorf("Order(without B, E) = %v, want %v", got, want)
	}
}
