package template

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that Parse never panics and refuses with *Errors only,
// and that Validate, ResolveParameters, EvalConditions, CheckRules, Order,
// JSON and Eval of every resource and output never panic on what it
// accepts. Seeds are the test files and the bodies of the test tables.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	for _, c := range shortFormCases {
		f.Add([]byte(snippetBody(c.yaml)))
	}
	for _, c := range evalCases {
		f.Add([]byte(evalTemplate + "  R:\n    Type: T\n    Properties:\n      V: " + c.expr + "\n"))
	}
	for _, c := range parseErrorCases {
		if len(c.body) < 4096 {
			f.Add([]byte(c.body))
		}
	}
	for _, c := range validateCases {
		if len(c.body) < 4096 {
			f.Add([]byte(c.body))
		}
	}
	for _, c := range validTemplates {
		f.Add([]byte(c.body))
	}
	f.Add([]byte(paramsTemplate))
	f.Add([]byte(depsTemplate))

	f.Fuzz(func(t *testing.T, body []byte) {
		tm, err := Parse(body)
		if err != nil {
			var es *Errors
			if !errors.As(err, &es) || len(es.Problems) == 0 {
				t.Fatalf("Parse error %T %v, want *Errors with problems", err, err)
			}
			return
		}
		_ = tm.Validate(iotTypes)
		_, _ = tm.Order(nil)
		if _, err := tm.JSON(); err != nil {
			t.Fatalf("JSON() = %v", err)
		}
		params, err := tm.ResolveParameters(nil, nil)
		if err != nil {
			params = map[string]any{}
		}
		c := &Context{
			Parameters:  params,
			Pseudo:      Pseudo{AccountID: "123456789012", Region: "us-east-1", StackName: "fuzz"},
			Ref:         func(id string) (string, error) { return "ref-" + id, nil },
			GetAtt:      func(id, attr string) (any, error) { return id + "." + attr, nil },
			ImportValue: func(name string) (string, error) { return "import-" + name, nil },
		}
		c.Conditions, _ = tm.EvalConditions(c)
		_ = tm.CheckRules(c)
		for id, r := range tm.Resources {
			_, _ = tm.Eval(c, "Resources/"+id+"/Properties", r.Properties)
			_ = tm.Dependencies(id)
		}
		for name, o := range tm.Outputs {
			_, _ = tm.Eval(c, "Outputs/"+name+"/Value", o.Value)
		}
		for name, expr := range tm.Conditions {
			_, _ = tm.Eval(c, "Conditions/"+name, expr)
		}
	})
}
