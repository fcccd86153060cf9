package control_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/iotdm/iotdm/internal/control"
)

// filterCases are patterns with messages they must and must not match; the
// fuzz target starts from them.
var filterCases = []struct {
	pattern string
	match   []string
	noMatch []string
}{
	{"", []string{"anything", "{}"}, nil},
	{"   ", []string{"x"}, nil},
	{"ERROR", []string{"[ERROR] disk full", "ERRORS"}, []string{"error", "WARN"}},
	{"ERROR disk", []string{"ERROR: disk full", "disk ERROR"}, []string{"ERROR: memory"}},
	{`"disk full"`, []string{"ERROR disk full now"}, []string{"disk is full"}},
	{`"say \"hi\""`, []string{`they say "hi" often`}, []string{"say hi"}},
	{"?ERROR ?WARN", []string{"an ERROR", "a WARN"}, []string{"INFO only"}},
	{"ERROR -timeout", []string{"ERROR disk"}, []string{"ERROR timeout"}},
	{"-DEBUG", []string{"INFO x"}, []string{"DEBUG x"}},
	{"?ERROR ?WARN -test", []string{"WARN prod"}, []string{"WARN test", "INFO prod"}},
	{"%ERR(OR)?%", []string{"ERR 1", "ERROR 2"}, []string{"Err"}},
	{"status=404", []string{"GET / status=404"}, []string{"status=200"}},

	{`{ $.eventType = "Connect" }`, []string{`{"eventType":"Connect","clientId":"a"}`}, []string{`{"eventType":"Disconnect"}`, `not json`, `{}`}},
	{`{$.eventType=Connect}`, []string{`{"eventType":"Connect"}`}, []string{`{"eventType":"connect"}`}},
	{`{ $.eventType = "Conn*" }`, []string{`{"eventType":"Connect"}`, `{"eventType":"Conn"}`}, []string{`{"eventType":"Disconnect"}`}},
	{`{ $.clientId = "*-1*" }`, []string{`{"clientId":"dev-1"}`, `{"clientId":"dev-10x"}`}, []string{`{"clientId":"dev1"}`}},
	{`{ $.status != 200 }`, []string{`{"status":404}`, `{"status":"ok"}`}, []string{`{"status":200}`, `{"status":200.0}`, `{}`}},
	{`{ $.status = 200 }`, []string{`{"status":200}`, `{"status":2e2}`}, []string{`{"status":"200"}`, `{"status":201}`}},
	{`{ $.status = "200" }`, []string{`{"status":"200"}`, `{"status":200}`}, []string{`{"status":2e2}`}},
	{`{ $.latency > 1.5 }`, []string{`{"latency":2}`}, []string{`{"latency":1.5}`, `{"latency":"2"}`, `{}`}},
	{`{ $.latency >= -1 && $.latency < 10 }`, []string{`{"latency":-1}`, `{"latency":9.99}`}, []string{`{"latency":10}`}},
	{`{ $.a = 1 || $.b = 2 && $.c = 3 }`, []string{`{"a":1}`, `{"b":2,"c":3}`}, []string{`{"b":2}`, `{"c":3}`}},
	{`{ ($.a = 1 || $.b = 2) && $.c = 3 }`, []string{`{"a":1,"c":3}`, `{"b":2,"c":3}`}, []string{`{"a":1}`}},
	{`{ $.ok IS TRUE }`, []string{`{"ok":true}`}, []string{`{"ok":false}`, `{"ok":"true"}`, `{}`}},
	{`{ $.ok IS FALSE }`, []string{`{"ok":false}`}, []string{`{"ok":true}`, `{}`}},
	{`{ $.ok = true }`, []string{`{"ok":true}`, `{"ok":"true"}`}, []string{`{"ok":false}`}},
	{`{ $.reason IS NULL }`, []string{`{"reason":null}`}, []string{`{}`, `{"reason":"x"}`}},
	{`{ $.reason NOT EXISTS }`, []string{`{}`, `{"other":1}`}, []string{`{"reason":null}`, `{"reason":"x"}`}},
	{`{ $.reason EXISTS }`, []string{`{"reason":null}`, `{"reason":0}`}, []string{`{}`}},
	{`{ $.user.name = "ann" }`, []string{`{"user":{"name":"ann"}}`}, []string{`{"user":"ann"}`, `{"user":{"name":"bob"}}`}},
	{`{ $.items[1].id = 7 }`, []string{`{"items":[{"id":1},{"id":7}]}`}, []string{`{"items":[{"id":7}]}`, `{"items":{"1":{"id":7}}}`}},
	{`{ $.topic = %^dev/[0-9]+$% }`, []string{`{"topic":"dev/42"}`}, []string{`{"topic":"dev/x"}`, `{"topic":5}`}},
	{`{ $.topic != %^dev/% }`, []string{`{"topic":"app/1"}`}, []string{`{"topic":"dev/1"}`}},
	{`{ $.failedCustomFields[0].Name = "attributes.temp" }`, []string{`{"failedCustomFields":[{"Name":"attributes.temp"}]}`}, nil},

	{`[ip, user, username, timestamp, request, status_code, bytes]`,
		[]string{`127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534`},
		[]string{`127.0.0.1 - frank`, `a b c d e f g h`}},
	{`[ip, user, username, timestamp, request = "*gif*", status_code = 4*, bytes]`,
		[]string{`127.0.0.1 - frank [10/Oct/2000] "GET /a.gif HTTP/1.0" 404 1534`},
		[]string{`127.0.0.1 - frank [10/Oct/2000] "GET /a.gif HTTP/1.0" 200 1534`, `127.0.0.1 - frank [10/Oct/2000] "GET /a.png" 404 1`}},
	{`[..., status = 4* || status = 5*, bytes > 1000]`, []string{`a b 404 1001`, `500 2000`}, []string{`a 200 5000`, `a 404 10`, `404`}},
	{`[level = ERROR, ...]`, []string{`ERROR x y z`, `ERROR`}, []string{`INFO ERROR`}},
	{`[..., last = done]`, []string{`a b done`, `done`}, []string{`done a`}},
	{`[a, ..., b, ...]`, []string{`1 2`, `1 2 3 4`}, []string{`1`}},
	{`[code >= 200 && code < 300]`, []string{`204`}, []string{`404`, `x`, `200 extra`}},
	{`[code != 200]`, []string{`404`, `x`}, []string{`200`}},
}

func TestFilterPatternMatch(t *testing.T) {
	for _, tc := range filterCases {
		t.Run(tc.pattern, func(t *testing.T) {
			p, err := control.ParseFilterPattern(tc.pattern)
			if err != nil {
				t.Fatalf("ParseFilterPattern(%q) = %v", tc.pattern, err)
			}
			for _, m := range tc.match {
				if !p.Match(m) {
					t.Errorf("Match(%q) = false, want true", m)
				}
			}
			for _, m := range tc.noMatch {
				if p.Match(m) {
					t.Errorf("Match(%q) = true, want false", m)
				}
			}
			// The canonical form parses to itself and matches the same.
			q, err := control.ParseFilterPattern(p.String())
			if err != nil {
				t.Fatalf("ParseFilterPattern(%q) (the String of %q) = %v", p.String(), tc.pattern, err)
			}
			if q.String() != p.String() {
				t.Errorf("String round trip: %q became %q", p.String(), q.String())
			}
			for _, m := range append(tc.match, tc.noMatch...) {
				if q.Match(m) != p.Match(m) {
					t.Errorf("%q and its String %q disagree on %q", tc.pattern, p.String(), m)
				}
			}
		})
	}
}

func TestFilterPatternString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"  ERROR   ?warn -x  ", "ERROR ?warn -x"},
		{`"a b" "plain"`, `"a b" plain`},
		{`{$.a=1&&$.b="x"||($.c IS NULL)}`, `{ $.a = 1 && $.b = "x" || $.c IS NULL }`},
		{`{ ($.a = 1 || $.b = 2) && $.c NOT EXISTS }`, `{ ($.a = 1 || $.b = 2) && $.c NOT EXISTS }`},
		{`{ (($.a = 1)) && ($.b = 2 && $.c = x) }`, `{ $.a = 1 && $.b = 2 && $.c = "x" }`},
		{`[ a , ... , b=4*||b=5*&&b!=55 ]`, `[a, ..., b = "4*" || b = "5*" && b != 55]`},
	} {
		p, err := control.ParseFilterPattern(tc.in)
		if err != nil {
			t.Errorf("ParseFilterPattern(%q) = %v", tc.in, err)
			continue
		}
		if got := p.String(); got != tc.want {
			t.Errorf("ParseFilterPattern(%q).String() = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFilterPatternErrors(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		pos     int
	}{
		{`"unterminated`, 0},
		{`ERROR "`, 6},
		{`a{b`, 1},
		{`? ERROR`, 0},
		{`-`, 0},
		{`""`, 0},
		{`"a"b`, 3},
		{`%unterminated`, 0},
		{`%(%`, 1},
		{`{`, 1},
		{`{}`, 1},
		{`{ $.a = 1`, 9},
		{`{ $.a = 1 } extra`, 12},
		{`{ a = 1 }`, 2},
		{`{ $ = 1 }`, 2},
		{`{ $. = 1 }`, 3},
		{`{ $.a[x] = 1 }`, 6},
		{`{ $.a[1 = 1 }`, 5},
		{`{ $.a > "x" }`, 8},
		{`{ $.a < abc }`, 8},
		{`{ $.a IS MAYBE }`, 9},
		{`{ $.a NOT THERE }`, 10},
		{`{ $.a }`, 6},
		{`{ $.a = }`, 8},
		{`{ $.a = 1 && }`, 13},
		{`{ ($.a = 1 }`, 11},
		{`{ $.a = 1 & $.b = 2 }`, 10},
		{`{ $.a = 1 | $.b = 2 }`, 10},
		{`{ $.a ! 1 }`, 6},
		{`[`, 1},
		{`[]`, 1},
		{`[a,]`, 3},
		{`[a b]`, 3},
		{`[a, a]`, 4},
		{`[1a]`, 1},
		{`[a = 1 && b = 2]`, 10},
		{`[a > x]`, 5},
		{`[a] x`, 4},
		{strings.Repeat("(", 40), 0},
		{"{ " + strings.Repeat("(", 40) + "$.a = 1" + strings.Repeat(")", 40) + " }", 2 + maxDepth()},
		{strings.Repeat("x", 1025), 1024},
		{"\xff", 0},
	} {
		_, err := control.ParseFilterPattern(tc.pattern)
		var pe *control.FilterPatternError
		if !errors.As(err, &pe) {
			t.Errorf("ParseFilterPattern(%q) = %v, want a FilterPatternError", tc.pattern, err)
			continue
		}
		if pe.Pos != tc.pos {
			t.Errorf("ParseFilterPattern(%q) = %v, want position %d", tc.pattern, err, tc.pos)
		}
	}
}

// maxDepth is the position offset of the first parenthesis past the
// nesting limit (32).
func maxDepth() int { return 32 }

func FuzzFilterPattern(f *testing.F) {
	for _, tc := range filterCases {
		for _, m := range append(tc.match, tc.noMatch...) {
			f.Add(tc.pattern, m)
		}
	}
	f.Fuzz(func(t *testing.T, pattern, message string) {
		p, err := control.ParseFilterPattern(pattern)
		if err != nil {
			var pe *control.FilterPatternError
			if !errors.As(err, &pe) || pe.Pos < 0 || pe.Pos > len(pattern) {
				t.Fatalf("ParseFilterPattern(%q) = %v, want a FilterPatternError within the pattern", pattern, err)
			}
			return
		}
		got := p.Match(message)
		s := p.String()
		q, err := control.ParseFilterPattern(s)
		if err != nil {
			if len(s) > 1024 {
				return // quoting may lengthen a pattern past the limit
			}
			t.Fatalf("ParseFilterPattern(%q) (the String of %q) = %v", s, pattern, err)
		}
		if q.String() != s {
			t.Fatalf("String round trip of %q: %q became %q", pattern, s, q.String())
		}
		if q.Match(message) != got {
			t.Fatalf("%q and its String %q disagree on %q", pattern, s, message)
		}
	})
}
