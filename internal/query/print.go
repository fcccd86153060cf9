package query

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// The canonical form: explicit AND and OR, NOT for both negations, field
// groups expanded, no spaces around ':' or comparisons, parentheses only
// where precedence (NOT > AND > OR) needs them, and the fewest escapes that
// parse back to the same Value.

func (e *MatchAll) String() string { return "*" }

func (e *Exists) String() string { return printText(e.Field, false) + ":*" }

func (e *Term) String() string {
	if e.Field == "" {
		return printValue(e.Value, true)
	}
	return printText(e.Field, false) + ":" + printValue(e.Value, false)
}

func (e *Range) String() string {
	var b strings.Builder
	b.WriteString(printText(e.Field, false))
	b.WriteString(":")
	if e.Lower.Inclusive {
		b.WriteString("[")
	} else {
		b.WriteString("{")
	}
	b.WriteString(printBound(e.Lower))
	b.WriteString(" TO ")
	b.WriteString(printBound(e.Upper))
	if e.Upper.Inclusive {
		b.WriteString("]")
	} else {
		b.WriteString("}")
	}
	return b.String()
}

func (e *Compare) String() string {
	return printText(e.Field, false) + e.Op.String() + printValue(e.Value, false)
}

func (e *And) String() string {
	return join(e.Args, " AND ", func(x Expr) bool { _, ok := x.(*Or); return ok })
}

func (e *Or) String() string { return join(e.Args, " OR ", func(Expr) bool { return false }) }

func (e *Not) String() string {
	switch e.X.(type) {
	case *And, *Or:
		return "NOT (" + e.X.String() + ")"
	}
	return "NOT " + e.X.String()
}

// join prints args separated by sep, parenthesizing those paren says bind
// looser than the operator, and any nested operator of the same kind.
func join(args []Expr, sep string, paren func(Expr) bool) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteString(sep)
		}
		_, same := a.(*And)
		if sep == " OR " {
			_, same = a.(*Or)
		}
		if paren(a) || same {
			b.WriteString("(" + a.String() + ")")
		} else {
			b.WriteString(a.String())
		}
	}
	return b.String()
}

func printBound(b Bound) string {
	if b.Open {
		return "*"
	}
	return printValue(b.Value, false)
}

// printValue prints v; bare is true for a term without a field, where a
// leading '-' would read as negation.
func printValue(v Value, bare bool) string {
	switch v.Kind {
	case Phrase:
		var b strings.Builder
		b.WriteByte('"')
		for _, r := range v.Text {
			if r == '"' || r == '\\' || (r < utf8.RuneSelf && strings.IndexRune(unsupported, r) >= 0) {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
		b.WriteByte('"')
		return b.String()
	case Pattern:
		var b strings.Builder
		for i := 0; i < len(v.Text); {
			r, n := utf8.DecodeRuneInString(v.Text[i:])
			switch {
			case r == '\\' && i+1 < len(v.Text):
				// An escaped '*', '?' or '\' stays escaped.
				b.WriteByte('\\')
				b.WriteByte(v.Text[i+1])
				i += 2
				continue
			case r == '*' || r == '?':
				b.WriteRune(r)
			default:
				writeEscaped(&b, r, i == 0 && bare, i == 0)
			}
			i += n
		}
		return b.String()
	}
	s := printText(v.Text, bare)
	if s == "" {
		return `""` // an empty word cannot be written unquoted
	}
	return s
}

// printText escapes a word or field name so that it lexes back to one
// unescaped word with the same text and no wildcard.
func printText(s string, bare bool) string {
	switch s {
	case "AND", "OR", "NOT", "TO":
		return `\` + s
	}
	var b strings.Builder
	for i, r := range s {
		if r == '*' || r == '?' {
			b.WriteByte('\\')
			b.WriteRune(r)
			continue
		}
		writeEscaped(&b, r, i == 0 && bare, i == 0)
	}
	return b.String()
}

// writeEscaped writes r, with a backslash when it is special: whitespace,
// a special character, '-' leading a bare term, '=' leading any value
// (after '>' it would make '>=').
func writeEscaped(b *strings.Builder, r rune, leadingBare, leading bool) {
	if unicode.IsSpace(r) ||
		(r < utf8.RuneSelf && strings.IndexRune(special, r) >= 0) ||
		(leadingBare && r == '-') ||
		(leading && r == '=') {
		b.WriteByte('\\')
	}
	b.WriteRune(r)
}
