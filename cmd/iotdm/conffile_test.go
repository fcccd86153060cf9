package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseConfigValue(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{`bare`, "bare"},
		{`two words`, "two words"},
		{`a#b`, "a#b"},
		{`a #comment`, "a"},
		{"a\t# comment", "a"},
		{`# only a comment`, ""},
		{``, ""},
		{`"quoted # not a comment"`, "quoted # not a comment"},
		{`"esc\"aped\\ \u00e9"`, `esc"aped\ é`},
		{`"x" # comment`, "x"},
		{`'lit\eral "x"'`, `lit\eral "x"`},
		{`''`, ""},
	}
	for _, tt := range tests {
		got, err := parseConfigValue(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("parseConfigValue(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{`"open`, `'open`, `"a" b`, `'a'b`, `"bad \q escape"`} {
		if got, err := parseConfigValue(in); err == nil {
			t.Errorf("parseConfigValue(%q) = %q, want an error", in, got)
		}
	}
}

func TestParseConfigFileLines(t *testing.T) {
	data := "a = 1\n\n# c\nb = \"2\"\nbroken\nc = '3'\n"
	entries := parseConfigFile("f.conf", []byte(data))
	want := []confEntry{
		{line: 1, key: "a", value: "1"},
		{line: 4, key: "b", value: "2"},
		{line: 5, problem: `f.conf:5: expected key = value, got "broken"`},
		{line: 6, key: "c", value: "3"},
	}
	if diff := cmp.Diff(want, entries, cmp.AllowUnexported(confEntry{})); diff != "" {
		t.Errorf("parseConfigFile mismatch (-want +got):\n%s", diff)
	}
}

// FuzzParseConfigFile holds the config file parser to its contract on any
// input: it never panics, every entry is either a key with a value or a
// problem that names the file and line, and lines come in order.
func FuzzParseConfigFile(f *testing.F) {
	for _, seed := range []string{
		"", "# comment\n", "region = eu-west-1\n", `data-dir = "a \"quoted\" dir"`, "http-addr = 'x'  # c\n",
		"=\n", "key\n", "k = \"unterminated\n", "k = 'a' trailing\n", "\uFEFFk = v\r\n", "k = \"\\u00e9\"\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		entries := parseConfigFile("f.conf", data)
		last := 0
		for _, e := range entries {
			if e.line <= last {
				t.Fatalf("entries out of line order: %d after %d", e.line, last)
			}
			last = e.line
			if e.problem != "" {
				if !strings.HasPrefix(e.problem, fmt.Sprintf("f.conf:%d: ", e.line)) {
					t.Fatalf("problem %q does not name f.conf:%d", e.problem, e.line)
				}
				continue
			}
			if e.key == "" {
				t.Fatalf("entry on line %d has no key and no problem", e.line)
			}
		}
	})
}
