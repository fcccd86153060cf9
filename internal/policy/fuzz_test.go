package policy

import (
	"errors"
	"testing"
)

// FuzzParse checks that Parse never panics and refuses with *Error only, and
// that for every document it accepts, Compile(...).Check agrees with
// Evaluate on a few fixed contexts, over fixed requests, the document's own
// resources and the fuzzed resource. Seeds are the documents of the parser
// and evaluator tables.
func FuzzParse(f *testing.F) {
	seen := map[string]bool{}
	add := func(doc, resource string) {
		if !seen[doc] {
			seen[doc] = true
			f.Add([]byte(doc), resource)
		}
	}
	for _, c := range evalCases {
		for i := 1; i < len(c.docs); i += 2 {
			add(c.docs[i], c.resource)
		}
	}
	for _, c := range parseErrorCases {
		add(c.doc, "")
	}
	add(benchDoc, arn+"topic/devices/temp-sensor-01/secret")
	add(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:*","Resource":"arn:${iot:ClientId}${${*}}${?}?*${$}\\*"}}`, "arn:++")

	contexts := []Context{device("temp-sensor-01"), unattached(), bare("+"), {}}
	actions := []string{"iot:Connect", "iot:Publish", "iot:Subscribe", "IOT:RECEIVE", "iot:GetThingShadow", ""}
	fixed := []string{"", "*", arn + "client/temp-sensor-01", arn + "topic/devices/temp-sensor-01/x",
		arn + "topicfilter/$aws/things/temp-sensor-01/shadow/#", arn + "topic/v/${iot:ClientId}"}

	f.Fuzz(func(t *testing.T, doc []byte, resource string) {
		d, err := Parse(doc)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.Msg == "" {
				t.Fatalf("Parse(%q) error %T %v, want *Error with a message", doc, err, err)
			}
			return
		}
		d.Keys()
		resources := append([]string{resource}, fixed...)
		for _, st := range d.Statements {
			resources = append(resources, st.Resources...)
		}
		pols := []Named{{Name: "fuzz", Doc: d}}
		for _, ctx := range contexts {
			chk := Compile(pols, ctx)
			for _, a := range actions {
				for _, r := range resources {
					want := Evaluate(pols, ctx, a, r).Decision
					if got := chk.Check(a, r); got != want {
						t.Fatalf("doc %s\nCheck(%q, %q) = %v, Evaluate = %v", doc, a, r, got, want)
					}
				}
			}
		}
	})
}
