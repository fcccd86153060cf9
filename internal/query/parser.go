package query

import (
	"strings"
	"unicode/utf8"
)

// Parse parses a fleet indexing query (queryVersion 2017-09-30) for the
// index and custom fields in opts. Errors are *Error; callers map them to
// iotdm.ErrInvalidQuery.
func Parse(input string, opts Options) (Expr, error) {
	e, err := parse(input, opts)
	if err != nil {
		return nil, err
	}
	return e, nil
}

func parse(input string, opts Options) (e Expr, err *Error) {
	if len(input) > MaxQueryLength {
		return nil, errorf(MaxQueryLength, "query is longer than %d characters", MaxQueryLength)
	}
	for i := 0; i < len(input); {
		r, n := utf8.DecodeRuneInString(input[i:])
		if r == utf8.RuneError && n == 1 {
			return nil, errorf(i, "query is not valid UTF-8")
		}
		i += n
	}
	p := &parser{lex: lexer{input: input}, opts: opts}
	defer func() {
		if r := recover(); r != nil {
			pe, ok := r.(*Error)
			if !ok {
				panic(r) // a bug in the parser, not a bad query
			}
			e, err = nil, pe
		}
	}()
	if t := p.peek(); t.kind == tokEOF {
		p.fail(t.pos, "empty query")
	}
	e = p.or(field{})
	if t := p.next(); t.kind != tokEOF {
		p.fail(t.pos, "unexpected %s", t)
	}
	// AWS §2.3: a query with a leading wildcard is capped at 100 characters.
	if p.leading > 0 && len(input) > MaxLeadingWildcardQueryLength {
		p.fail(p.leadingPos, "a query with a leading wildcard may have at most %d characters", MaxLeadingWildcardQueryLength)
	}
	return e, nil
}

// field is the field a clause applies to: empty at top level, set inside a
// field group field:( ... ).
type field struct {
	name string
	typ  FieldType
}

type parser struct {
	lex   lexer
	opts  Options
	tok   token // lookahead, valid when have
	have  bool
	depth int

	terms      int // leaf clauses so far (AWS §2.3: at most 12)
	leading    int // terms with a leading wildcard (at most 1)
	leadingPos int
}

func setPos(e Expr, pos int) {
	switch e := e.(type) {
	case *Term:
		e.At = Pos(pos)
	case *Exists:
		e.At = Pos(pos)
	case *Range:
		e.At = Pos(pos)
	case *Compare:
		e.At = Pos(pos)
	}
}

func (p *parser) fail(pos int, format string, args ...any) {
	panic(errorf(pos, format, args...))
}

func (p *parser) scan(value bool) token {
	t, err := p.lex.next(value)
	if err != nil {
		panic(err)
	}
	return t
}

func (p *parser) peek() token {
	if !p.have {
		p.tok, p.have = p.scan(false), true
	}
	return p.tok
}

func (p *parser) next() token {
	t := p.peek()
	p.have = false
	return t
}

// nextValue scans the token after ':', a comparison, '[', '{' or TO, where
// a leading '-' is part of the value. The lookahead must be empty.
func (p *parser) nextValue() token {
	if p.have {
		return p.next()
	}
	return p.scan(true)
}

// or := and ( OR and )*
func (p *parser) or(f field) Expr {
	at := p.peek().pos
	args := []Expr{p.and(f)}
	for p.peek().isKeyword("OR") {
		p.next()
		args = append(args, p.and(f))
	}
	if len(args) == 1 {
		return args[0]
	}
	var flat []Expr
	for _, a := range args {
		if o, ok := a.(*Or); ok {
			flat = append(flat, o.Args...)
		} else {
			flat = append(flat, a)
		}
	}
	return &Or{At: Pos(at), Args: flat}
}

// and := clause ( AND? clause )* — AWS §2.3: the implicit operator is AND.
func (p *parser) and(f field) Expr {
	at := p.peek().pos
	args := []Expr{p.clause(f)}
	for {
		t := p.peek()
		if t.isKeyword("AND") {
			p.next()
		} else if !p.startsClause(t, f) {
			break
		}
		args = append(args, p.clause(f))
	}
	if len(args) == 1 {
		return args[0]
	}
	var flat []Expr
	for _, a := range args {
		if o, ok := a.(*And); ok {
			flat = append(flat, o.Args...)
		} else {
			flat = append(flat, a)
		}
	}
	return &And{At: Pos(at), Args: flat}
}

func (p *parser) startsClause(t token, f field) bool {
	switch t.kind {
	case tokWord:
		return !t.isKeyword("OR") && !t.isKeyword("AND")
	case tokPhrase, tokLParen, tokMinus:
		return true
	case tokLBrack, tokLBrace, tokGT, tokGE, tokLT, tokLE:
		return f.name != ""
	}
	return false
}

// clause := ( NOT | '-' ) clause | primary. AWS §2.3: NOT binds to the
// following clause.
func (p *parser) clause(f field) Expr {
	p.depth++
	defer func() { p.depth-- }()
	t := p.peek()
	if p.depth > MaxDepth {
		p.fail(t.pos, "query is nested more than %d levels deep", MaxDepth)
	}
	if t.kind == tokMinus || t.isKeyword("NOT") {
		p.next()
		return &Not{At: Pos(t.pos), X: p.clause(f)}
	}
	return p.primary(f)
}

func (p *parser) primary(f field) Expr {
	t := p.next()
	switch t.kind {
	case tokLParen:
		e := p.or(f)
		p.expect(tokRParen, t)
		return e
	case tokPhrase:
		return p.term(f, t)
	case tokWord:
		if t.isKeyword("AND") || t.isKeyword("OR") {
			p.fail(t.pos, "unexpected %s", t)
		}
		switch n := p.peek(); n.kind {
		case tokColon, tokGT, tokGE, tokLT, tokLE:
			if f.name != "" {
				p.fail(t.pos, "field %s inside the field group of %s", t.text, f.name)
			}
			e, group := p.fieldExpr(p.field(t))
			if !group {
				setPos(e, t.pos) // a field expression starts at its field
			}
			return e
		}
		if t.pattern == "*" {
			p.count(t.pos)
			if f.name == "" {
				return &MatchAll{At: Pos(t.pos)} // AWS §2.3: bare * = every document
			}
			return &Exists{At: Pos(t.pos), Field: f.name}
		}
		return p.term(f, t)
	case tokLBrack, tokLBrace:
		if f.name != "" {
			return p.rangeExpr(f, t)
		}
		p.fail(t.pos, "a range needs a field, as in field:[a TO b]")
	case tokGT, tokGE, tokLT, tokLE:
		if f.name != "" {
			return p.compare(f, t)
		}
		p.fail(t.pos, "a comparison needs a field, as in field>5")
	case tokEOF:
		p.fail(t.pos, "unexpected end of query")
	}
	p.fail(t.pos, "unexpected %s", t)
	return nil
}

func (p *parser) expect(k tokenKind, open token) {
	if t := p.next(); t.kind != k {
		p.fail(t.pos, "expected %s to close %s at position %d, found %s", tokenNames[k], open, open.pos, t)
	}
}

// field validates a field name against the index (AWS §2.3: an unknown
// field is an InvalidQueryException naming it).
func (p *parser) field(t token) field {
	if t.pattern != "" || t.text == "" {
		p.fail(t.pos, "invalid field name, field name: %s", t.text)
	}
	if notSearchable[t.text] {
		p.fail(t.pos, "field %s is not searchable", t.text)
	}
	typ, ok := p.opts.FieldType(t.text)
	if !ok {
		p.fail(t.pos, "invalid field name, field name: %s", t.text)
	}
	return field{name: t.text, typ: typ}
}

// fieldExpr parses what follows a field name: ':' and a value, a range or
// a group, or a comparison. group reports a field group, whose clauses
// keep their own positions.
func (p *parser) fieldExpr(f field) (e Expr, group bool) {
	op := p.next()
	if op.kind != tokColon {
		return p.compare(f, op), false
	}
	v := p.nextValue()
	switch v.kind {
	case tokWord:
		if v.pattern == "*" {
			p.count(v.pos)
			return &Exists{At: Pos(v.pos), Field: f.name}, false // AWS §2.3: field:* = field exists
		}
		if v.isKeyword("AND") || v.isKeyword("OR") || v.isKeyword("NOT") {
			p.fail(v.pos, "expected a value after ':', found %s", v)
		}
		return p.term(f, v), false
	case tokPhrase:
		return p.term(f, v), false
	case tokLParen:
		// AWS §2.3: field grouping, expanded into clauses on the field;
		// each clause keeps the position of its value.
		e := p.or(f)
		p.expect(tokRParen, v)
		return e, true
	case tokLBrack, tokLBrace:
		return p.rangeExpr(f, v), false
	case tokGT, tokGE, tokLT, tokLE:
		return p.compare(f, v), false
	}
	p.fail(v.pos, "expected a value after ':', found %s", v)
	return nil, false
}

func (p *parser) count(pos int) {
	p.terms++
	if max := p.opts.maxTerms(); p.terms > max {
		p.fail(pos, "query has more than %d terms", max)
	}
}

func valueOf(t token) Value {
	switch {
	case t.kind == tokPhrase:
		return Value{Kind: Phrase, Text: t.text}
	case t.pattern != "":
		return Value{Kind: Pattern, Text: t.pattern}
	}
	return Value{Kind: Word, Text: t.text}
}

func (p *parser) term(f field, t token) Expr {
	p.count(t.pos)
	v := valueOf(t)
	if v.LeadingWildcard() {
		// AWS §2.3: leading wildcards in only one term per query.
		p.leading++
		if p.leading > MaxLeadingWildcards {
			p.fail(t.pos, "only %d term per query may start with a wildcard", MaxLeadingWildcards)
		}
		p.leadingPos = t.pos
	}
	switch f.typ {
	case Boolean:
		if v.Kind != Word || (!strings.EqualFold(v.Text, "true") && !strings.EqualFold(v.Text, "false")) {
			p.fail(t.pos, "field %s is Boolean: expected true or false", f.name)
		}
	case Number:
		if _, ok := v.Number(); !ok {
			p.fail(t.pos, "field %s is a Number: expected a number", f.name)
		}
	}
	return &Term{At: Pos(t.pos), Field: f.name, Value: v}
}

// compare parses the value of field>v, field>=v, field<v or field<=v; op
// is the operator token.
func (p *parser) compare(f field, op token) Expr {
	if op.kind < tokGT || op.kind > tokLE {
		p.fail(op.pos, "expected ':' or a comparison after field %s, found %s", f.name, op)
	}
	p.count(op.pos)
	v := p.nextValue()
	val := p.bound(v, f, "comparison")
	if val.Open {
		p.fail(v.pos, "a comparison needs a value, not '*'")
	}
	return &Compare{At: Pos(op.pos), Field: f.name, Op: Op(op.kind - tokGT), Value: val.Value}
}

// rangeExpr parses [a TO b], {a TO b} or a mix; open is the bracket.
func (p *parser) rangeExpr(f field, open token) Expr {
	p.count(open.pos)
	lo := p.bound(p.nextValue(), f, "range")
	if t := p.next(); !t.isKeyword("TO") {
		p.fail(t.pos, "expected TO in range, found %s", t)
	}
	hi := p.bound(p.nextValue(), f, "range")
	closeTok := p.next()
	if closeTok.kind != tokRBrack && closeTok.kind != tokRBrace {
		p.fail(closeTok.pos, "expected ']' or '}' to close the range at position %d, found %s", open.pos, closeTok)
	}
	lo.Inclusive = open.kind == tokLBrack
	hi.Inclusive = closeTok.kind == tokRBrack
	return &Range{At: Pos(open.pos), Field: f.name, Lower: lo, Upper: hi}
}

// bound parses one range bound or comparison value.
func (p *parser) bound(t token, f field, what string) Bound {
	switch t.kind {
	case tokWord:
		if t.pattern == "*" {
			return Bound{Open: true}
		}
		if t.pattern != "" {
			p.fail(t.pos, "wildcards are not allowed in a %s", what)
		}
		if t.isKeyword("TO") || t.isKeyword("AND") || t.isKeyword("OR") || t.isKeyword("NOT") {
			p.fail(t.pos, "expected a %s value, found %s", what, t)
		}
	case tokPhrase:
	default:
		p.fail(t.pos, "expected a %s value, found %s", what, t)
	}
	v := valueOf(t)
	switch f.typ {
	case Boolean:
		p.fail(t.pos, "field %s is Boolean: no %s allowed", f.name, what)
	case Number:
		if _, ok := v.Number(); !ok {
			p.fail(t.pos, "field %s is a Number: expected a number", f.name)
		}
	}
	return Bound{Value: v}
}
