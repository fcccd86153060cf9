package policy

import "strings"

// A template is a resource or condition value split around its ${...} policy
// variables (AWS §4.4), ready to be expanded for one Context.
type template struct {
	parts []part
}

type partKind uint8

const (
	partText partKind = iota // policy text: '*' and '?' are wildcards where globbing applies
	partLit                  // ${*}, ${?} or ${$}: a literal character
	partVar                  // a variable
)

type part struct {
	kind partKind
	s    string // text, the literal character, or the variable name
	raw  string // for partVar, "${name}" as written
}

// parseTemplate splits s around its variables; with vars false (Version
// 2008-10-17, or an operator that takes no variables) s is all text. A "${"
// without a closing "}" and an empty "${}" are text.
func parseTemplate(s string, vars bool) template {
	var t template
	if !vars {
		t.parts = []part{{kind: partText, s: s}}
		return t
	}
	text := 0 // start of pending text
	for i := 0; ; {
		j := strings.Index(s[i:], "${")
		if j < 0 {
			break
		}
		j += i
		k := strings.IndexByte(s[j+2:], '}')
		if k < 0 {
			break
		}
		k += j + 2
		name := s[j+2 : k]
		if name == "" {
			i = k + 1
			continue
		}
		if text < j {
			t.parts = append(t.parts, part{kind: partText, s: s[text:j]})
		}
		switch name {
		case "*", "?", "$":
			t.parts = append(t.parts, part{kind: partLit, s: name})
		default:
			t.parts = append(t.parts, part{kind: partVar, s: name, raw: s[j : k+1]})
		}
		i, text = k+1, k+1
	}
	if text < len(s) {
		t.parts = append(t.parts, part{kind: partText, s: s[text:]})
	}
	return t
}

// expand substitutes the variables of t from ctx. A variable that cannot be
// substituted stays as its literal "${...}" text (AWS §4.4), so it can only
// ever match itself, and its name is added to miss.
func (t *template) expand(ctx *Context, miss *missing) []seg {
	segs := make([]seg, 0, len(t.parts))
	for _, p := range t.parts {
		switch p.kind {
		case partText:
			segs = append(segs, seg{s: p.s})
		case partLit:
			segs = append(segs, seg{lit: true, s: p.s})
		case partVar:
			if v, ok := substitute(ctx, p.s); ok {
				segs = append(segs, seg{lit: true, s: v})
			} else {
				miss.add(p.s)
				segs = append(segs, seg{lit: true, s: p.raw})
			}
		}
	}
	return segs
}

// plain joins segs into the string they stand for, wildcards and all.
func plain(segs []seg) string {
	if len(segs) == 1 {
		return segs[0].s
	}
	var b strings.Builder
	for _, s := range segs {
		b.WriteString(s.s)
	}
	return b.String()
}

// missing collects the names of context values that were needed and absent,
// each once, in the order met: TestAuthorization's missingContextValues.
type missing struct {
	names []string
}

func (m *missing) add(name string) {
	if m == nil {
		return
	}
	for _, n := range m.names {
		if n == name {
			return
		}
	}
	m.names = append(m.names, name)
}
