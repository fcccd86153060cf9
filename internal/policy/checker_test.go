package policy

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestCheckerAgreesWithEvaluate holds Compile(...).Check to Evaluate on the
// evaluator table and on random variations of its requests.
func TestCheckerAgreesWithEvaluate(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	actions := []string{"iot:Connect", "iot:Publish", "iot:RetainPublish", "iot:Subscribe", "iot:Receive",
		"iot:GetThingShadow", "iot:UpdateThingShadow", "iot:DeleteThingShadow", "IOT:publish", "iot:", "", "*", "s3:GetObject"}
	for _, c := range evalCases {
		pols := mustParse(t, c.docs...)
		chk := Compile(pols, c.ctx)
		if got := chk.Check(c.action, c.resource); got != c.want {
			t.Errorf("%s: Check(%s, %s) = %v, want %v", c.name, c.action, c.resource, got, c.want)
		}
		if got, want := chk.Allowed(c.action, c.resource), c.want == Allowed; got != want {
			t.Errorf("%s: Allowed(%s, %s) = %v, want %v", c.name, c.action, c.resource, got, want)
		}
		for range 200 {
			action := actions[rng.IntN(len(actions))]
			if rng.IntN(4) == 0 {
				action = mutate(rng, action)
			}
			resource := mutate(rng, c.resource)
			want := Evaluate(pols, c.ctx, action, resource).Decision
			if got := chk.Check(action, resource); got != want {
				t.Errorf("%s: Check(%q, %q) = %v, Evaluate = %v", c.name, action, resource, got, want)
			}
		}
	}
}

// mutate changes s in a few random places with characters that matter to
// the matchers.
func mutate(rng *rand.Rand, s string) string {
	const alphabet = "ab/*?$+#{}:-é\xff"
	b := []byte(s)
	for range rng.IntN(4) {
		pos := 0
		if len(b) > 0 {
			pos = rng.IntN(len(b) + 1)
		}
		c := alphabet[rng.IntN(len(alphabet))]
		switch rng.IntN(3) {
		case 0: // insert
			b = append(b[:pos], append([]byte{c}, b[pos:]...)...)
		case 1: // delete
			if pos < len(b) {
				b = append(b[:pos], b[pos+1:]...)
			}
		case 2: // truncate
			b = b[:pos]
		}
	}
	return string(b)
}

// TestGlobAgreesWithReference holds the compiled matcher to the reference
// matcher on random patterns and subjects over a small alphabet, folded and
// not.
func TestGlobAgreesWithReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	// Multi-byte characters (2, 3 and 4 bytes) make '?' and the
	// backtracking '*' step by characters, not bytes.
	units := []string{"a", "b", "A", "/", "*", "?", "?", "\\", "é", "€", "𝄞"}
	gen := func(n int) string {
		var b strings.Builder
		for range rng.IntN(n) {
			b.WriteString(units[rng.IntN(len(units))])
		}
		return b.String()
	}
	for range 5000 {
		var segs []seg
		for range rng.IntN(4) {
			segs = append(segs, seg{lit: rng.IntN(3) == 0, s: gen(5)})
		}
		fold := rng.IntN(2) == 0
		g := compileGlob(segs, fold)
		for range 10 {
			s := gen(7)
			want := refMatch(escape(segs), s, fold)
			if got := g.match(s); got != want {
				t.Fatalf("glob %+v (fold %v) match %q = %v, reference = %v", segs, fold, s, got, want)
			}
		}
	}
}

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "a/b/c", true},
		{"a*", "a", true},
		{"a*c", "abc", true},
		{"a*c", "abcd", false},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxcyyb", false},
		{"*ab", "aab", true},
		{"*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
		{"?", "é", true},
		{"??", "é", false},
		{"*??", "€", false},
		{"*?", "𝄞", true},
		{"a?c", "a/c", true},
		{"+/#", "+/#", true},
		{"+/#", "x/y", false},
	}
	for _, tt := range tests {
		segs := []seg{{s: tt.pattern}}
		g := compileGlob(segs, false)
		if got := g.match(tt.s); got != tt.want {
			t.Errorf("glob %q match %q = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
		if got := refMatch(escape(segs), tt.s, false); got != tt.want {
			t.Errorf("refMatch %q %q = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestNilChecker(t *testing.T) {
	var c *Checker
	if got := c.Check("iot:Connect", arn+"client/x"); got != ImplicitDeny {
		t.Errorf("nil Checker Check = %v, want IMPLICIT_DENY", got)
	}
}

// TestCheckerAllocs holds Check to zero allocations.
func TestCheckerAllocs(t *testing.T) {
	chk := Compile(benchPolicies(t), device("temp-sensor-01"))
	reqs := benchRequests()
	allocs := testing.AllocsPerRun(100, func() {
		for _, r := range reqs {
			chk.Check(r.action, r.resource)
		}
	})
	if allocs != 0 {
		t.Errorf("Check allocates %v times per %d calls, want 0", allocs, len(reqs))
	}
}
