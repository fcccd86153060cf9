package policy

import (
	"strings"
	"unicode/utf8"
)

// Two matchers implement the same glob semantics (AWS §4.3): '*' matches any
// run of characters including '/', '?' exactly one character (one UTF-8
// sequence), everything else itself; matching is anchored at both ends.
//
//   - glob is the compiled form the Checker runs: literal runs kept as
//     strings, the literal prefix hoisted for a quick reject, and a
//     backtracking matcher that allocates nothing.
//   - refMatch is the plain reference Evaluate runs: an escaped pattern
//     string matched by dynamic programming over characters.
//
// Tests hold the two to each other.

type gkind uint8

const (
	gLit gkind = iota // a literal run
	gOne              // '?'
	gAny              // '*'
)

type gelem struct {
	kind gkind
	s    string // the run, for gLit
}

type glob struct {
	prefix string  // literal text before the first wildcard; lower case when fold
	exact  string  // prefix as written, tried first: callers usually spell it alike
	elems  []gelem // the rest; runs lower case when fold
	fold   bool    // ASCII case-insensitive
}

// seg is a piece of a pattern after variable substitution: either pattern
// text, in which '*' and '?' are wildcards, or literal text (a substituted
// value, a ${*}-style special variable, or an unresolved ${...} left as is).
type seg struct {
	lit bool
	s   string
}

func compileGlob(segs []seg, fold bool) glob {
	// The literal text of all runs goes into one buffer, made one string at
	// the end; runs are slices of it.
	n := 0
	for _, sg := range segs {
		n += len(sg.s)
	}
	buf := make([]byte, 0, n)
	type span struct {
		kind       gkind
		start, end int
	}
	var spans []span
	open := -1 // start of the current run in buf
	flush := func() {
		if open >= 0 && open < len(buf) {
			spans = append(spans, span{gLit, open, len(buf)})
		}
		open = -1
	}
	for _, sg := range segs {
		for i := 0; i < len(sg.s); i++ {
			c := sg.s[i]
			switch {
			case !sg.lit && c == '*':
				flush()
				if len(spans) == 0 || spans[len(spans)-1].kind != gAny {
					spans = append(spans, span{kind: gAny})
				}
			case !sg.lit && c == '?':
				flush()
				spans = append(spans, span{kind: gOne})
			default:
				if open < 0 {
					open = len(buf)
				}
				buf = append(buf, c)
			}
		}
	}
	flush()
	exact := string(buf)
	lower := exact
	if fold {
		lower = asciiLower(exact)
	}
	g := glob{fold: fold}
	if len(spans) > 0 && spans[0].kind == gLit {
		g.exact, g.prefix = exact[:spans[0].end], lower[:spans[0].end]
		spans = spans[1:]
	}
	if len(spans) > 0 {
		g.elems = make([]gelem, len(spans))
		for i, sp := range spans {
			g.elems[i] = gelem{kind: sp.kind, s: lower[sp.start:sp.end]}
		}
	}
	return g
}

// match reports whether the whole of s matches g.
func (g *glob) match(s string) bool {
	n := len(g.prefix)
	if len(s) < n || len(g.elems) == 0 && len(s) != n {
		return false
	}
	if s[:n] != g.exact && !(g.fold && hasPrefixFold(s, g.prefix, true)) {
		return false
	}
	if len(g.elems) == 0 {
		return true
	}
	return matchElems(g.elems, s[n:], g.fold)
}

// matchElems is the classic wildcard matcher: on a mismatch it returns to the
// last '*' and lets it swallow one more character. Remembering only the last
// '*' is enough, because anything an earlier '*' could swallow the later one
// can too.
func matchElems(p []gelem, s string, fold bool) bool {
	pi, si := 0, 0
	starPi, starSi := -1, 0
	for {
		if pi < len(p) {
			e := &p[pi]
			switch e.kind {
			case gAny:
				if pi == len(p)-1 {
					return true
				}
				starPi, starSi = pi, si
				pi++
				continue
			case gOne:
				if si < len(s) {
					_, n := utf8.DecodeRuneInString(s[si:])
					si += n
					pi++
					continue
				}
			case gLit:
				if hasPrefixFold(s[si:], e.s, fold) {
					si += len(e.s)
					pi++
					continue
				}
			}
		} else if si == len(s) {
			return true
		}
		if starPi < 0 || starSi >= len(s) {
			return false
		}
		_, n := utf8.DecodeRuneInString(s[starSi:])
		starSi += n
		si, pi = starSi, starPi+1
	}
}

func hasPrefixFold(s, prefix string, fold bool) bool {
	if len(s) < len(prefix) {
		return false
	}
	if !fold {
		return s[:len(prefix)] == prefix
	}
	for i := 0; i < len(prefix); i++ {
		if lowerASCII(s[i]) != prefix[i] {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = lowerASCII(b[j])
			}
			return string(b)
		}
	}
	return s
}

// escape renders segs as a refMatch pattern: '\' makes the next character
// literal.
func escape(segs []seg) string {
	var b strings.Builder
	for _, sg := range segs {
		for i := 0; i < len(sg.s); i++ {
			c := sg.s[i]
			if c == '\\' || sg.lit && (c == '*' || c == '?') {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		}
	}
	return b.String()
}

// refMatch reports whether the whole of s matches the escaped pattern p,
// ASCII case-insensitively when fold is set.
func refMatch(p, s string, fold bool) bool {
	type tok struct {
		kind gkind
		s    string
	}
	var toks []tok
	for i := 0; i < len(p); {
		switch c := p[i]; {
		case c == '\\' && i+1 < len(p):
			_, n := utf8.DecodeRuneInString(p[i+1:])
			toks = append(toks, tok{gLit, p[i+1 : i+1+n]})
			i += 1 + n
		case c == '*':
			toks = append(toks, tok{kind: gAny})
			i++
		case c == '?':
			toks = append(toks, tok{kind: gOne})
			i++
		default:
			_, n := utf8.DecodeRuneInString(p[i:])
			toks = append(toks, tok{gLit, p[i : i+n]})
			i += n
		}
	}
	var units []string
	for i := 0; i < len(s); {
		_, n := utf8.DecodeRuneInString(s[i:])
		units = append(units, s[i:i+n])
		i += n
	}
	eq := func(a, b string) bool {
		if !fold {
			return a == b
		}
		return len(a) == len(b) && hasPrefixFold(a, asciiLower(b), true)
	}
	// m[j] reports whether the tokens so far match units[:j].
	m := make([]bool, len(units)+1)
	m[0] = true
	next := make([]bool, len(units)+1)
	for _, t := range toks {
		next[0] = t.kind == gAny && m[0]
		for j := 1; j <= len(units); j++ {
			switch t.kind {
			case gAny:
				next[j] = m[j] || next[j-1]
			case gOne:
				next[j] = m[j-1]
			default:
				next[j] = m[j-1] && eq(units[j-1], t.s)
			}
		}
		m, next = next, m
	}
	return m[len(units)]
}
