package query

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParse checks that Parse never panics, that errors carry a position
// inside the input, and that every parsed query prints to a query that
// parses to the same AST and prints the same again. Seeds are the parser
// and match scripts.
func FuzzParse(f *testing.F) {
	for _, c := range loadParseCases(f) {
		f.Add(c.in, c.opts.Index == IndexThingGroups)
	}
	f.Add(`thingName:a\ b* AND "x\"y" OR -attributes.x:{-1 TO *]`, false)
	f.Fuzz(func(t *testing.T, in string, groups bool) {
		opts := Options{}
		if groups {
			opts.Index = IndexThingGroups
		}
		e, err := Parse(in, opts)
		if err != nil {
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("Parse(%q) error %T %v, want *Error", in, err, err)
			}
			if qe.Pos < 0 || qe.Pos > len(in) {
				t.Fatalf("Parse(%q) error position %d outside [0, %d]: %v", in, qe.Pos, len(in), err)
			}
			return
		}
		printed := e.String()
		back, err := Parse(printed, opts)
		if err != nil {
			// The canonical form may be longer than the input (explicit AND,
			// expanded field groups); only the length caps may refuse it.
			var qe *Error
			if errors.As(err, &qe) && (len(printed) > MaxLeadingWildcardQueryLength || len(printed) > MaxQueryLength) {
				return
			}
			t.Fatalf("Parse(%q) printed %q, which does not parse: %v", in, printed, err)
		}
		if diff := cmp.Diff(e, back, ignorePos); diff != "" {
			t.Fatalf("Parse(%q) printed %q, which parses differently (-first +second):\n%s", in, printed, diff)
		}
		if again := back.String(); again != printed {
			t.Fatalf("printing is not stable: %q then %q", printed, again)
		}
		for _, doc := range []map[string]any{{}, {"thingName": "a", "attributes": map[string]any{"x": "1"}}} {
			Match(e, doc) // must not panic
		}
	})
}
