package logquery

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/iotdm/iotdm"
)

func TestPrefixEnd(t *testing.T) {
	for _, tc := range []struct {
		prefix, end string
		ok          bool
	}{
		{"", "", false},
		{"a", "b", true},
		{"c/", "c0", true},
		{"a\x7f", "a\u0080", true},
		{"é", "ê", true},
		{"a\U0010FFFF", "b", true},
		{"\U0010FFFF\U0010FFFF", "", false},
		{"\uD7FF", "\uE000", true},
		{"日本", "日札", true},
	} {
		end, ok := PrefixEnd(tc.prefix)
		if end != tc.end || ok != tc.ok {
			t.Errorf("PrefixEnd(%q) = %q %v, want %q %v", tc.prefix, end, ok, tc.end, tc.ok)
		}
		if ok && !utf8.ValidString(end) {
			t.Errorf("PrefixEnd(%q) = %q, not UTF-8", tc.prefix, end)
		}
		// Every name with the prefix sorts below the end, and the end
		// does not have the prefix.
		if ok {
			for _, name := range []string{tc.prefix, tc.prefix + "\U0010FFFF\U0010FFFF", tc.prefix + "zzz"} {
				if name >= end {
					t.Errorf("%q >= PrefixEnd(%q) = %q", name, tc.prefix, end)
				}
			}
			if strings.HasPrefix(end, tc.prefix) {
				t.Errorf("PrefixEnd(%q) = %q has the prefix", tc.prefix, end)
			}
		}
	}
}

func TestPlaceholders(t *testing.T) {
	after := iotdm.LogEventCursor{Timestamp: 1, ID: 2}
	queries := []func(Placeholder) (string, []any){
		func(ph Placeholder) (string, []any) {
			return Streams(iotdm.LogStreamQuery{Group: iotdm.LogGroupRef{Name: "g"}, Prefix: "p", ByLastEvent: true, After: true, Descending: true}, ph)
		},
		func(ph Placeholder) (string, []any) {
			return Events(iotdm.LogEventQuery{Group: iotdm.LogGroupRef{Name: "g"}, Streams: []string{"a", "b", "c"}, StreamPrefix: "x",
				Start: 1, End: 2, After: &after, Before: &after, Limit: 3}, ph)
		},
		func(ph Placeholder) (string, []any) {
			return Events(iotdm.LogEventQuery{Group: iotdm.LogGroupRef{Name: "g"}, Streams: []string{"a"}, Descending: true}, ph)
		},
	}
	for i, q := range queries {
		sq, args := q(Question)
		if n := strings.Count(sq, "?"); n != len(args) {
			t.Errorf("query %d: %d placeholders, %d args:\n%s", i, n, len(args), sq)
		}
		sd, argsD := q(Dollar)
		if len(argsD) != len(args) || !strings.Contains(sd, Dollar(len(args))) || strings.Contains(sd, Dollar(len(args)+1)) || strings.Contains(sd, "?") {
			t.Errorf("query %d with Dollar:\n%s", i, sd)
		}
	}
}

func TestSummarize(t *testing.T) {
	a := Summarize([]iotdm.NewLogEvent{{Timestamp: 5, Message: "é"}, {Timestamp: 3, Message: "ab"}, {Timestamp: 9}})
	if a != (Appended{First: 3, Last: 9, Bytes: 4}) {
		t.Errorf("Summarize = %+v", a)
	}
}
