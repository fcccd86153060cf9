package template

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// problemsOf returns the problems of an *Errors, failing the test for any
// other error.
func problemsOf(t testing.TB, err error) []Problem {
	t.Helper()
	if err == nil {
		return nil
	}
	var es *Errors
	if !errors.As(err, &es) {
		t.Fatalf("error %T %v, want *Errors", err, err)
	}
	if len(es.Problems) == 0 {
		t.Fatalf("*Errors with no problems")
	}
	return es.Problems
}

func mustParse(t testing.TB, body string) *Template {
	t.Helper()
	tm, err := Parse([]byte(body))
	if err != nil {
		t.Fatalf("Parse(%q) = %v", body, err)
	}
	return tm
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// snippet parses a YAML value (written as the value of a property, on the
// same line or indented by 8 spaces on the following ones) to plain values.
func snippet(t testing.TB, yaml string) any {
	t.Helper()
	tm := mustParse(t, snippetBody(yaml))
	return tm.Resources["R"].Properties["V"]
}

func snippetBody(yaml string) string {
	return "Resources:\n  R:\n    Type: T\n    Properties:\n      V: " + yaml + "\n"
}

// want is an expected problem: a path and a substring of the message.
type want struct{ path, msg string }

// hasProblem reports whether ps holds a problem at w.path whose message
// contains w.msg.
func hasProblem(ps []Problem, w want) bool {
	for _, p := range ps {
		if p.Path == w.path && strings.Contains(p.Message, w.msg) {
			return true
		}
	}
	return false
}

// iotTypes is what the stack engine supports, for Validate.
func iotTypes(typ string) bool {
	switch typ {
	case "AWS::IoT::Thing", "AWS::IoT::ThingType", "AWS::IoT::ThingGroup", "AWS::IoT::Policy",
		"AWS::IoT::FleetMetric", "AWS::Logs::LogGroup", "T":
		return true
	}
	return false
}
