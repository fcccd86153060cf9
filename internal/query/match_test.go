package query

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// loadFleet decodes testdata/fleet.json; useNumber keeps numbers as
// json.Number instead of float64.
func loadFleet(t *testing.T, useNumber bool) []map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/fleet.json")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if useNumber {
		dec.UseNumber()
	}
	var fleet []map[string]any
	if err := dec.Decode(&fleet); err != nil {
		t.Fatal(err)
	}
	return fleet
}

type matchCase struct {
	line  int
	query string
	want  []string
}

func loadMatchCases(t *testing.T) []matchCase {
	t.Helper()
	f, err := os.Open("testdata/match.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []matchCase
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "query: "):
			cases = append(cases, matchCase{line: n, query: strings.TrimPrefix(line, "query: ")})
		case strings.HasPrefix(line, "want:"):
			if len(cases) == 0 {
				t.Fatalf("match.txt:%d: want: before query:", n)
			}
			cases[len(cases)-1].want = strings.Fields(strings.TrimPrefix(line, "want:"))
		case line == "" || strings.HasPrefix(line, "#"):
		default:
			t.Fatalf("match.txt:%d: cannot read %q", n, line)
		}
	}
	return cases
}

func TestMatchScript(t *testing.T) {
	cases := loadMatchCases(t)
	for _, mode := range []struct {
		name      string
		useNumber bool
	}{{"float64", false}, {"json.Number", true}} {
		t.Run(mode.name, func(t *testing.T) {
			fleet := loadFleet(t, mode.useNumber)
			for _, c := range cases {
				e, err := Parse(c.query, Options{})
				if err != nil {
					t.Errorf("match.txt:%d: Parse(%q): %v", c.line, c.query, err)
					continue
				}
				var got []string
				for _, doc := range fleet {
					if Match(e, doc) {
						got = append(got, doc["thingName"].(string))
					}
				}
				if diff := cmp.Diff(c.want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("match.txt:%d: Match(%q) mismatch (-want +got):\n%s", c.line, c.query, diff)
				}
				// The printed form means the same.
				back, err := Parse(e.String(), Options{})
				if err != nil {
					t.Errorf("match.txt:%d: reparse %q: %v", c.line, e.String(), err)
					continue
				}
				for _, doc := range fleet {
					if Match(e, doc) != Match(back, doc) {
						t.Errorf("match.txt:%d: %q and its printed form %q disagree on %v", c.line, c.query, e.String(), doc["thingName"])
					}
				}
			}
		})
	}
}

// TestMatchGoValues covers documents built in Go rather than decoded.
func TestMatchGoValues(t *testing.T) {
	doc := map[string]any{
		"thingName":       "temp-sensor-01",
		"thingGroupNames": []string{"SensorFleet"},
		"attributes":      map[string]string{"location": "Building-A", "floor": "3"},
		"connectivity":    map[string]any{"connected": true, "timestamp": int64(1557651600000)},
		"shadow":          map[string]any{"reported": map[string]any{"battery": 42}},
	}
	tests := []struct {
		q    string
		want bool
	}{
		{"thingGroupNames:sensorfleet", true},
		{"attributes.location:building-a", true},
		{"attributes.floor>=3", true},
		{"attributes.floor>3", false},
		{"connectivity.timestamp>=1557651600000", true},
		{"connectivity.connected:true", true},
		{"shadow.reported.battery:42", true},
		{"shadow.reported.battery:[40 TO 41]", false},
		{"building-a", true},
	}
	for _, tt := range tests {
		e, err := Parse(tt.q, Options{})
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.q, err)
		}
		if got := Match(e, doc); got != tt.want {
			t.Errorf("Match(%q) = %v, want %v", tt.q, got, tt.want)
		}
	}
}

func TestMatchThingGroups(t *testing.T) {
	groups := []map[string]any{
		{"thingGroupName": "Building-A-Sensors", "thingGroupId": "g1", "thingGroupDescription": "Sensors in building A",
			"attributes": map[string]any{"floor": "2"}, "parentGroupNames": []any{"SensorFleet"}},
		{"thingGroupName": "SensorFleet", "thingGroupId": "g0", "parentGroupNames": []any{}},
	}
	tests := []struct {
		q    string
		want []string
	}{
		{"parentGroupNames:(SensorFleet OR Other)", []string{"Building-A-Sensors"}},
		{"description:building", []string{"Building-A-Sensors"}},
		{"thingGroupDescription:\"in building\"", []string{"Building-A-Sensors"}},
		{"attributes.floor<3", []string{"Building-A-Sensors"}},
		{"thingGroupName:*Fleet", []string{"SensorFleet"}},
		{"NOT parentGroupNames:*", []string{"SensorFleet"}},
	}
	for _, tt := range tests {
		e, err := Parse(tt.q, Options{Index: IndexThingGroups})
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.q, err)
		}
		var got []string
		for _, g := range groups {
			if Match(e, g) {
				got = append(got, g["thingGroupName"].(string))
			}
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Match(%q) mismatch (-want +got):\n%s", tt.q, diff)
		}
	}
}

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"a*", "abc", true},
		{"*c", "abc", true},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{`a\*`, "a*", true},
		{`a\*`, "ab", false},
		{`a\?`, "ab", false},
		{"ü?", "üx", true},
		{"?", "ü", true},
	}
	for _, tt := range tests {
		if got := CompileGlob(tt.pattern).Match(tt.s); got != tt.want {
			t.Errorf("glob(%q).match(%q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestParseNumber(t *testing.T) {
	tests := []struct {
		s    string
		want float64
		ok   bool
	}{
		{"75", 75, true}, {"-1", -1, true}, {"0.5", 0.5, true}, {"1e3", 1000, true}, {"1E-2", 0.01, true},
		{"9007199254740991", 9007199254740991, true}, {"-9007199254740992", -9007199254740992, true},
		{"9007199254740992", 0, false}, {"12345678901234567890", 0, false},
		{"01", 0, false}, {"+1", 0, false}, {"1.", 0, false}, {".5", 0, false}, {"1e", 0, false},
		{"1.0.0", 0, false}, {"abc", 0, false}, {"", 0, false}, {"-", 0, false}, {"1e999", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseNumber(tt.s)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseNumber(%q) = %v, %v; want %v, %v", tt.s, got, ok, tt.want, tt.ok)
		}
	}
}
