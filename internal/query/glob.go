package query

import "strings"

// Glob is a compiled wildcard pattern (AWS §2.3): '*' matches any run of
// characters, '?' exactly one, and '\' makes the next character literal.
// Patterns and the values they match are lower-cased by the caller.
type Glob []globElem

type globElem struct {
	kind byte // 'l' literal, '*' any run, '?' one character
	r    rune
}

// CompileGlob compiles the text of a Pattern value.
func CompileGlob(p string) Glob {
	var g Glob
	rs := []rune(p)
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; {
		case r == '\\' && i+1 < len(rs):
			i++
			g = append(g, globElem{kind: 'l', r: rs[i]})
		case r == '*' || r == '?':
			g = append(g, globElem{kind: byte(r)})
		default:
			g = append(g, globElem{kind: 'l', r: r})
		}
	}
	return g
}

// Prefix is the literal text before the first wildcard: every string the
// pattern matches starts with it.
func (g Glob) Prefix() string {
	var b strings.Builder
	for _, e := range g {
		if e.kind != 'l' {
			break
		}
		b.WriteRune(e.r)
	}
	return b.String()
}

// Literal reports whether the pattern has no wildcard at all.
func (g Glob) Literal() bool {
	for _, e := range g {
		if e.kind != 'l' {
			return false
		}
	}
	return true
}

// Match reports whether s matches the whole pattern (linear backtracking
// over runes).
func (g Glob) Match(s string) bool {
	rs := []rune(s)
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(rs) {
		switch {
		case pi < len(g) && (g[pi].kind == '?' || (g[pi].kind == 'l' && g[pi].r == rs[si])):
			pi++
			si++
		case pi < len(g) && g[pi].kind == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(g) && g[pi].kind == '*' {
		pi++
	}
	return pi == len(g)
}
