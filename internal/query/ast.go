package query

// Pos is a byte offset, counted from 0, into the query text.
type Pos int

// Expr is a node of a parsed query. Only the types of this package
// implement it.
type Expr interface {
	// Position is the byte offset where the expression starts.
	Position() Pos
	// String prints the canonical form, which parses back to an equal Expr.
	String() string
	expr()
}

// MatchAll is a bare '*': every document (AWS §2.3).
type MatchAll struct {
	At Pos
}

// Term matches documents whose Field holds Value (AWS §2.2, §2.3). An empty
// Field searches every registry, shadow and Defender field.
type Term struct {
	At    Pos
	Field string // "" for a bare term
	Value Value
}

// Exists is field:*, documents in which Field holds any indexed value.
type Exists struct {
	At    Pos
	Field string
}

// Range is field:[a TO b], field:{a TO b} or a mix of the brackets.
type Range struct {
	At           Pos
	Field        string
	Lower, Upper Bound
}

// Compare is field>v, field>=v, field<v or field<=v.
type Compare struct {
	At    Pos
	Field string
	Op    Op
	Value Value
}

// And matches documents that every one of Args matches. The parser
// flattens nested conjunctions, so no Arg is an *And; len(Args) >= 2.
type And struct {
	At   Pos
	Args []Expr
}

// Or matches documents that any of Args matches; flattened like And.
type Or struct {
	At   Pos
	Args []Expr
}

// Not matches documents that X does not match (NOT x and -x).
type Not struct {
	At Pos
	X  Expr
}

func (e *MatchAll) Position() Pos { return e.At }
func (e *Term) Position() Pos     { return e.At }
func (e *Exists) Position() Pos   { return e.At }
func (e *Range) Position() Pos    { return e.At }
func (e *Compare) Position() Pos  { return e.At }
func (e *And) Position() Pos      { return e.At }
func (e *Or) Position() Pos       { return e.At }
func (e *Not) Position() Pos      { return e.At }

func (*MatchAll) expr() {}
func (*Term) expr()     {}
func (*Exists) expr()   {}
func (*Range) expr()    {}
func (*Compare) expr()  {}
func (*And) expr()      {}
func (*Or) expr()       {}
func (*Not) expr()      {}

// ValueKind says how a Value was written.
type ValueKind int

const (
	// Word is an unquoted term: whitespace-free unless escaped.
	Word ValueKind = iota
	// Phrase is a double-quoted string; its words must appear in order.
	Phrase
	// Pattern is an unquoted term with '*' (any run) or '?' (one character).
	Pattern
)

// Value is the right-hand side of a term, range bound or comparison.
type Value struct {
	Kind ValueKind
	// Text is the literal, unescaped text of a Word or Phrase. For a
	// Pattern it is the glob: '*' and '?' are wildcards and '\' escapes a
	// literal '*', '?' or '\'.
	Text string
}

// Number reports whether v is an unquoted JSON number, which makes ranges
// and comparisons numeric (AWS §2.2).
func (v Value) Number() (float64, bool) {
	if v.Kind != Word {
		return 0, false
	}
	return parseNumber(v.Text)
}

// LeadingWildcard reports whether v is a pattern starting with '*' or '?'
// (AWS §2.3 limits these).
func (v Value) LeadingWildcard() bool {
	return v.Kind == Pattern && v.Text != "" && (v.Text[0] == '*' || v.Text[0] == '?')
}

// Bound is one end of a Range.
type Bound struct {
	// Open is a '*' bound: unbounded on this side. AWS never documents it
	// (§12 question 7); we accept it as Lucene does.
	Open      bool
	Inclusive bool // '[' or ']' rather than '{' or '}'
	Value     Value
}

// Op is a comparison operator.
type Op int

const (
	GT Op = iota // >
	GE           // >=
	LT           // <
	LE           // <=
)

func (o Op) String() string {
	switch o {
	case GT:
		return ">"
	case GE:
		return ">="
	case LT:
		return "<"
	case LE:
		return "<="
	}
	return "?"
}

// Walk calls fn for e and, while fn returns true, for its children in order.
func Walk(e Expr, fn func(Expr) bool) {
	if e == nil || !fn(e) {
		return
	}
	switch e := e.(type) {
	case *And:
		for _, a := range e.Args {
			Walk(a, fn)
		}
	case *Or:
		for _, a := range e.Args {
			Walk(a, fn)
		}
	case *Not:
		Walk(e.X, fn)
	}
}

// Fields returns the distinct fields e refers to, in order of appearance;
// "" stands for bare terms (any field). A percolator uses it to index
// standing queries by the fields they read.
func Fields(e Expr) []string {
	var out []string
	seen := map[string]bool{}
	Walk(e, func(e Expr) bool {
		f, ok := "", true
		switch e := e.(type) {
		case *Term:
			f = e.Field
		case *Exists:
			f = e.Field
		case *Range:
			f = e.Field
		case *Compare:
			f = e.Field
		default:
			ok = false
		}
		if ok && !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
		return true
	})
	return out
}
