package query

import (
	"bufio"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// ignorePos compares ASTs without their positions.
var ignorePos = cmp.Comparer(func(a, b Pos) bool { return true })

type parseCase struct {
	line    int
	opts    Options
	in      string
	out     string // canonical form; "" with errPos < 0 means the input itself
	errPos  int    // -1 when the query is valid
	errText string
}

// loadParseCases reads testdata/parse.txt (its header describes the format).
func loadParseCases(t testing.TB) []parseCase {
	t.Helper()
	f, err := os.Open("testdata/parse.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []parseCase
	opts := Options{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		cur := func() *parseCase {
			if len(cases) == 0 {
				t.Fatalf("parse.txt:%d: %q before any in:", n, line)
			}
			return &cases[len(cases)-1]
		}
		switch {
		case strings.HasPrefix(line, "in:"):
			in := strings.TrimPrefix(strings.TrimPrefix(line, "in:"), " ")
			cases = append(cases, parseCase{line: n, opts: opts, in: in, errPos: -1})
		case strings.HasPrefix(line, "out: "):
			cur().out = strings.TrimPrefix(line, "out: ")
		case strings.HasPrefix(line, "err: "):
			pos, msg, _ := strings.Cut(strings.TrimPrefix(line, "err: "), " ")
			p, err := strconv.Atoi(pos)
			if err != nil {
				t.Fatalf("parse.txt:%d: bad position: %v", n, err)
			}
			c := cur()
			c.errPos, c.errText = p, msg
		case strings.HasPrefix(line, "index "):
			opts.Index = strings.TrimPrefix(line, "index ")
		case strings.HasPrefix(line, "custom "):
			fs := strings.Fields(line)
			m := map[string]FieldType{}
			for k, v := range opts.CustomFields {
				m[k] = v
			}
			m[fs[1]] = FieldType(fs[2])
			opts.CustomFields = m
		case line == "reset":
			opts = Options{}
		case line == "" || strings.HasPrefix(line, "#"):
		default:
			t.Fatalf("parse.txt:%d: cannot read %q", n, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cases
}

func TestParseScript(t *testing.T) {
	cases := loadParseCases(t)
	if len(cases) < 150 {
		t.Fatalf("loaded %d cases from parse.txt, want at least 150", len(cases))
	}
	for _, c := range cases {
		e, err := Parse(c.in, c.opts)
		if c.errPos >= 0 {
			var qe *Error
			if !errors.As(err, &qe) {
				t.Errorf("parse.txt:%d: Parse(%q) = %v, %v; want error at %d", c.line, c.in, e, err, c.errPos)
				continue
			}
			if qe.Pos != c.errPos || !strings.Contains(qe.Msg, c.errText) {
				t.Errorf("parse.txt:%d: Parse(%q) error = %d %q, want %d containing %q", c.line, c.in, qe.Pos, qe.Msg, c.errPos, c.errText)
			}
			if qe.Pos < 0 || qe.Pos > len(c.in) {
				t.Errorf("parse.txt:%d: Parse(%q) error position %d outside the input", c.line, c.in, qe.Pos)
			}
			continue
		}
		if err != nil {
			t.Errorf("parse.txt:%d: Parse(%q) error: %v", c.line, c.in, err)
			continue
		}
		want := c.out
		if want == "" {
			want = c.in
		}
		got := e.String()
		if got != want {
			t.Errorf("parse.txt:%d: Parse(%q).String() = %q, want %q", c.line, c.in, got, want)
		}
		checkRoundTrip(t, c.in, c.opts, e)
	}
}

// checkRoundTrip asserts that e prints to a query that parses to e again.
func checkRoundTrip(t *testing.T, in string, opts Options, e Expr) {
	t.Helper()
	printed := e.String()
	back, err := Parse(printed, opts)
	if err != nil {
		t.Errorf("Parse(%q) printed %q, which does not parse: %v", in, printed, err)
		return
	}
	if diff := cmp.Diff(e, back, ignorePos); diff != "" {
		t.Errorf("Parse(%q) printed %q, which parses differently (-first +second):\n%s", in, printed, diff)
	}
}

func TestParseAST(t *testing.T) {
	w := func(s string) Value { return Value{Kind: Word, Text: s} }
	tests := []struct {
		in   string
		want Expr
	}{
		{"a OR b AND c", &Or{Args: []Expr{
			&Term{Value: w("a")},
			&And{Args: []Expr{&Term{Value: w("b")}, &Term{Value: w("c")}}},
		}}},
		{"a NOT b", &And{Args: []Expr{&Term{Value: w("a")}, &Not{X: &Term{Value: w("b")}}}}},
		{"thingName:(tv* AND -plasma)", &And{Args: []Expr{
			&Term{Field: "thingName", Value: Value{Kind: Pattern, Text: "tv*"}},
			&Not{X: &Term{Field: "thingName", Value: w("plasma")}},
		}}},
		{`thingName:a\*b*`, &Term{Field: "thingName", Value: Value{Kind: Pattern, Text: `a\*b*`}}},
		{`thingName:a\*b`, &Term{Field: "thingName", Value: w("a*b")}},
		{`attributes.x:{75 TO 80]`, &Range{Field: "attributes.x",
			Lower: Bound{Value: w("75")}, Upper: Bound{Value: w("80"), Inclusive: true}}},
		{`attributes.x:["a" TO *}`, &Range{Field: "attributes.x",
			Lower: Bound{Value: Value{Kind: Phrase, Text: "a"}, Inclusive: true}, Upper: Bound{Open: true}}},
		{"connectivity.timestamp >= 15", &Compare{Field: "connectivity.timestamp", Op: GE, Value: w("15")}},
		{"attributes.x>-5", &Compare{Field: "attributes.x", Op: GT, Value: w("-5")}},
		{"* -thingName:*", &And{Args: []Expr{&MatchAll{}, &Not{X: &Exists{Field: "thingName"}}}}},
		{`"new york"`, &Term{Value: Value{Kind: Phrase, Text: "new york"}}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in, Options{})
		if err != nil {
			t.Errorf("Parse(%q) error: %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got, ignorePos); diff != "" {
			t.Errorf("Parse(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestParsePositions(t *testing.T) {
	e, err := Parse("thingName:a AND NOT attributes.x>5", Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []Pos
	Walk(e, func(e Expr) bool { got = append(got, e.Position()); return true })
	want := []Pos{0, 0, 16, 20}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("positions mismatch (-want +got):\n%s", diff)
	}
}

func TestFields(t *testing.T) {
	e, err := Parse("thingName:a OR (abc AND attributes.x>5 AND NOT thingName:b*)", Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"thingName", "", "attributes.x"}
	if diff := cmp.Diff(want, Fields(e)); diff != "" {
		t.Errorf("Fields mismatch (-want +got):\n%s", diff)
	}
}

func TestErrorMessage(t *testing.T) {
	_, err := Parse("thingName:(a OR b", Options{})
	want := "Unable to parse query at position 17: expected ')' to close '(' at position 10, found end of query"
	if err == nil || err.Error() != want {
		t.Errorf("Parse error = %v, want %q", err, want)
	}
}

func TestParseLimits(t *testing.T) {
	long := "thingName:" + strings.Repeat("a", MaxQueryLength)
	_, err := Parse(long, Options{})
	var qe *Error
	if !errors.As(err, &qe) || qe.Pos != MaxQueryLength {
		t.Errorf("Parse(%d-byte query) = %v, want error at %d", len(long), err, MaxQueryLength)
	}
	if _, err := Parse("thingName:a\xffb", Options{}); err == nil || !strings.Contains(err.Error(), "position 11") {
		t.Errorf("Parse(invalid UTF-8) = %v, want error at position 11", err)
	}
	e, err := Parse("a b c d e f g h i j k l m n", Options{MaxTerms: 20})
	if err != nil {
		t.Errorf("Parse with MaxTerms 20: %v", err)
	} else if n := len(e.(*And).Args); n != 14 {
		t.Errorf("Parse with MaxTerms 20 gave %d terms, want 14", n)
	}
}
