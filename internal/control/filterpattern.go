package control

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// CloudWatch Logs filter patterns (FilterLogEvents' filterPattern, and the
// metric filters of a later issue), parsed once and matched against each
// event's message with no I/O. Three forms:
//
//   - Terms: `ERROR` (the message contains ERROR; case-sensitive),
//     `ERROR Exception` (both), `"quoted phrase"`, `?ERROR ?WARN` (either),
//     `-DEBUG` (not), `%regex%` (a regular expression; RE2). Terms without
//     a prefix must all match, at least one `?` term must match when there
//     are any, and no `-` term may. The empty pattern matches everything.
//     Unquoted terms hold no whitespace and none of "{}[]().
//   - JSON: `{ $.eventType = "Connect" }`, `{ $.status != 200 }`,
//     `{ $.latency >= 1.5 && ($.a = "x*" || $.b IS TRUE) }`. Selectors are
//     `$` followed by `.key` and `[index]` steps. `=` and `!=` compare
//     strings (with `*` as a wildcard, against a string or the text of a
//     number or boolean), numbers (numerically, against JSON numbers) or a
//     %regex%; `<`, `<=`, `>`, `>=` compare numbers. `IS TRUE`, `IS FALSE`,
//     `IS NULL`, `EXISTS` and `NOT EXISTS` test the value itself. A missing
//     value fails every comparison but NOT EXISTS; a value of another type
//     is "not equal". A message that is not JSON matches no JSON pattern.
//   - Space-delimited: `[ip, user, ..., status = 4* || status = 5*, bytes]`
//     names the message's whitespace-separated fields (text in "" or [] is
//     one field, without its quotes or brackets); `...` stands for any
//     number of fields. A field's condition compares that field, with the
//     operators of JSON patterns (numbers when both sides are numbers).
//
// Errors are *FilterPatternError with a byte position; FilterLogEvents
// sends them as InvalidParameterException.

// maxFilterPatternLen is the model's FilterPattern maximum.
const maxFilterPatternLen = 1024

// maxFilterPatternDepth bounds the nesting of parentheses.
const maxFilterPatternDepth = 32

// FilterPatternError is a pattern that does not parse: Pos is the byte
// offset of the problem.
type FilterPatternError struct {
	Pos int
	Msg string
}

func (e *FilterPatternError) Error() string {
	return fmt.Sprintf("Invalid filter pattern at position %d: %s", e.Pos, e.Msg)
}

func fpErrorf(pos int, format string, args ...any) error {
	return &FilterPatternError{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

type fpForm int

const (
	fpAll fpForm = iota
	fpTerms
	fpJSON
	fpFields
)

// FilterPattern is a parsed filter pattern; the zero value matches
// everything. It is safe for concurrent use.
type FilterPattern struct {
	form   fpForm
	terms  []fpTerm
	expr   fpExpr
	fields []fpField
}

// ParseFilterPattern parses a filter pattern.
func ParseFilterPattern(s string) (*FilterPattern, error) {
	if len(s) > maxFilterPatternLen {
		return nil, fpErrorf(maxFilterPatternLen, "the pattern is longer than %d bytes", maxFilterPatternLen)
	}
	if !utf8.ValidString(s) {
		return nil, fpErrorf(0, "the pattern is not valid UTF-8")
	}
	p := &fpParser{src: s}
	p.skipSpace()
	switch {
	case p.pos == len(s):
		return &FilterPattern{}, nil
	case s[p.pos] == '{':
		return p.parseJSON()
	case s[p.pos] == '[':
		return p.parseFields()
	default:
		return p.parseTerms()
	}
}

// Match reports whether message matches the pattern.
func (fp *FilterPattern) Match(message string) bool {
	switch fp.form {
	case fpTerms:
		return matchTerms(fp.terms, message)
	case fpJSON:
		dec := json.NewDecoder(strings.NewReader(message))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return false
		}
		return fp.expr.eval(v)
	case fpFields:
		return matchFields(fp.fields, splitFields(message))
	}
	return true
}

// String is the pattern in canonical form: parsing it gives a pattern with
// the same String and the same matches.
func (fp *FilterPattern) String() string {
	var b strings.Builder
	switch fp.form {
	case fpTerms:
		for i, t := range fp.terms {
			if i > 0 {
				b.WriteByte(' ')
			}
			t.print(&b)
		}
	case fpJSON:
		b.WriteString("{ ")
		fp.expr.print(&b, false)
		b.WriteString(" }")
	case fpFields:
		b.WriteByte('[')
		for i, f := range fp.fields {
			if i > 0 {
				b.WriteString(", ")
			}
			f.print(&b)
		}
		b.WriteByte(']')
	}
	return b.String()
}

// --- terms ---

// fpTerm is one term: op is 0 (required), '?' (optional) or '-'
// (excluded).
type fpTerm struct {
	op   byte
	text string
	re   *regexp.Regexp // a %regex% term
}

func (t fpTerm) matches(msg string) bool {
	if t.re != nil {
		return t.re.MatchString(msg)
	}
	return strings.Contains(msg, t.text)
}

func (t fpTerm) print(b *strings.Builder) {
	if t.op != 0 {
		b.WriteByte(t.op)
	}
	switch {
	case t.re != nil:
		b.WriteString("%" + t.re.String() + "%")
	case isPlainTerm(t.text):
		b.WriteString(t.text)
	default:
		writeQuoted(b, t.text)
	}
}

func matchTerms(terms []fpTerm, msg string) bool {
	optional, anyOptional := false, false
	for _, t := range terms {
		switch t.op {
		case 0:
			if !t.matches(msg) {
				return false
			}
		case '-':
			if t.matches(msg) {
				return false
			}
		case '?':
			anyOptional = true
			optional = optional || t.matches(msg)
		}
	}
	return optional || !anyOptional
}

// termSpecial are the characters an unquoted term cannot hold.
const termSpecial = "\"{}[]()"

func isPlainTerm(s string) bool {
	if s == "" || strings.ContainsAny(s, termSpecial) || s[0] == '?' || s[0] == '-' || s[0] == '%' {
		return false
	}
	return !strings.ContainsFunc(s, isFPSpace)
}

func isFPSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }

func (p *fpParser) parseTerms() (*FilterPattern, error) {
	fp := &FilterPattern{form: fpTerms}
	for p.skipSpace(); p.pos < len(p.src); p.skipSpace() {
		start := p.pos
		t := fpTerm{}
		if c := p.src[p.pos]; c == '?' || c == '-' {
			t.op = c
			p.pos++
			if p.pos == len(p.src) || isFPSpace(rune(p.src[p.pos])) {
				return nil, fpErrorf(start, "%q must be followed by a term", c)
			}
		}
		switch c := p.src[p.pos]; c {
		case '"':
			s, err := p.quoted()
			if err != nil {
				return nil, err
			}
			if s == "" {
				return nil, fpErrorf(start, "empty quoted term")
			}
			t.text = s
		case '%':
			re, err := p.regex()
			if err != nil {
				return nil, err
			}
			t.re = re
		default:
			end := p.pos
			for end < len(p.src) && !isFPSpace(rune(p.src[end])) {
				if strings.IndexByte(termSpecial, p.src[end]) >= 0 {
					return nil, fpErrorf(end, "unexpected %q: put terms with it in double quotes", p.src[end])
				}
				end++
			}
			t.text = p.src[p.pos:end]
			p.pos = end
		}
		if p.pos < len(p.src) && !isFPSpace(rune(p.src[p.pos])) {
			return nil, fpErrorf(p.pos, "unexpected %q after a term", p.src[p.pos])
		}
		fp.terms = append(fp.terms, t)
	}
	return fp, nil
}

// --- the parser's scanner ---

type fpParser struct {
	src   string
	pos   int
	depth int
}

func (p *fpParser) skipSpace() {
	for p.pos < len(p.src) && isFPSpace(rune(p.src[p.pos])) {
		p.pos++
	}
}

// quoted reads a double-quoted string at pos; \" and \\ are escapes.
func (p *fpParser) quoted() (string, error) {
	start := p.pos
	var b strings.Builder
	for i := p.pos + 1; i < len(p.src); i++ {
		switch c := p.src[i]; c {
		case '\\':
			if i+1 < len(p.src) && (p.src[i+1] == '"' || p.src[i+1] == '\\') {
				b.WriteByte(p.src[i+1])
				i++
				continue
			}
			b.WriteByte(c)
		case '"':
			p.pos = i + 1
			return b.String(), nil
		default:
			b.WriteByte(c)
		}
	}
	return "", fpErrorf(start, "unterminated quoted string")
}

func writeQuoted(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
}

// regex reads a %regex% at pos.
func (p *fpParser) regex() (*regexp.Regexp, error) {
	start := p.pos
	end := strings.IndexByte(p.src[p.pos+1:], '%')
	if end < 0 {
		return nil, fpErrorf(start, "unterminated regular expression")
	}
	src := p.src[p.pos+1 : p.pos+1+end]
	if src == "" {
		return nil, fpErrorf(start, "empty regular expression")
	}
	re, err := regexp.Compile(src)
	if err != nil {
		return nil, fpErrorf(start+1, "invalid regular expression: %v", err)
	}
	p.pos += end + 2
	return re, nil
}

// tokens of the JSON and space-delimited forms.
type fpTokKind int

const (
	tokEOF fpTokKind = iota
	tokPunct
	tokWord
	tokString
	tokRegex
	tokSelector
)

type fpToken struct {
	kind fpTokKind
	text string // punctuation, word, string value, selector source
	re   *regexp.Regexp
	sel  []fpStep
	pos  int
}

// wordSpecial ends a word in the JSON and space-delimited forms.
const wordSpecial = "{}[]()=!<>&|,\"%$"

// next reads the next token.
func (p *fpParser) next() (fpToken, error) {
	p.skipSpace()
	start := p.pos
	if p.pos == len(p.src) {
		return fpToken{kind: tokEOF, pos: start}, nil
	}
	rest := p.src[p.pos:]
	for _, op := range []string{"&&", "||", "!=", "<=", ">="} {
		if strings.HasPrefix(rest, op) {
			p.pos += 2
			return fpToken{kind: tokPunct, text: op, pos: start}, nil
		}
	}
	switch c := rest[0]; c {
	case '{', '}', '[', ']', '(', ')', '=', '<', '>', ',':
		p.pos++
		return fpToken{kind: tokPunct, text: string(c), pos: start}, nil
	case '"':
		s, err := p.quoted()
		return fpToken{kind: tokString, text: s, pos: start}, err
	case '%':
		re, err := p.regex()
		return fpToken{kind: tokRegex, re: re, pos: start}, err
	case '$':
		return p.selector()
	case '!', '&', '|':
		return fpToken{}, fpErrorf(start, "unexpected %q", c)
	}
	end := p.pos
	for end < len(p.src) && !isFPSpace(rune(p.src[end])) && strings.IndexByte(wordSpecial, p.src[end]) < 0 {
		end++
	}
	p.pos = end
	return fpToken{kind: tokWord, text: p.src[start:end], pos: start}, nil
}

// peek returns the next token without consuming it.
func (p *fpParser) peek() (fpToken, error) {
	save := p.pos
	t, err := p.next()
	p.pos = save
	return t, err
}

func (p *fpParser) expect(punct string) error {
	t, err := p.next()
	if err != nil {
		return err
	}
	if t.kind != tokPunct || t.text != punct {
		return fpErrorf(t.pos, "expected %q, found %s", punct, t.describe())
	}
	return nil
}

func (t fpToken) describe() string {
	switch t.kind {
	case tokEOF:
		return "the end of the pattern"
	case tokString:
		return "a quoted string"
	case tokRegex:
		return "a regular expression"
	case tokSelector:
		return "selector " + t.text
	}
	return strconv.Quote(t.text)
}

// fpStep is one step of a selector: a key, or an index when key is "" and
// index >= 0.
type fpStep struct {
	key   string
	index int
}

func isKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '@' || c >= 0x80
}

// selector reads `$` and its steps.
func (p *fpParser) selector() (fpToken, error) {
	start := p.pos
	p.pos++ // $
	var steps []fpStep
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case '.':
			end := p.pos + 1
			for end < len(p.src) && isKeyByte(p.src[end]) {
				end++
			}
			if end == p.pos+1 {
				return fpToken{}, fpErrorf(p.pos, "expected a key after '.' in a selector")
			}
			steps = append(steps, fpStep{key: p.src[p.pos+1 : end], index: -1})
			p.pos = end
			continue
		case '[':
			end := strings.IndexByte(p.src[p.pos:], ']')
			if end < 0 {
				return fpToken{}, fpErrorf(p.pos, "unterminated index in a selector")
			}
			n, err := strconv.Atoi(p.src[p.pos+1 : p.pos+end])
			if err != nil || n < 0 || strings.HasPrefix(p.src[p.pos+1:], "+") {
				return fpToken{}, fpErrorf(p.pos+1, "a selector index must be a number from 0")
			}
			steps = append(steps, fpStep{index: n})
			p.pos += end + 1
			continue
		}
		break
	}
	if len(steps) == 0 {
		return fpToken{}, fpErrorf(start, "a selector needs a key or index after '$'")
	}
	return fpToken{kind: tokSelector, text: p.src[start:p.pos], sel: steps, pos: start}, nil
}

func printSelector(b *strings.Builder, steps []fpStep) {
	b.WriteByte('$')
	for _, s := range steps {
		if s.key != "" {
			b.WriteString("." + s.key)
		} else {
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
		}
	}
}

// lookup follows the selector's steps from v.
func lookup(v any, steps []fpStep) (any, bool) {
	for _, s := range steps {
		switch x := v.(type) {
		case map[string]any:
			if s.key == "" {
				return nil, false
			}
			var ok bool
			if v, ok = x[s.key]; !ok {
				return nil, false
			}
		case []any:
			if s.key != "" || s.index >= len(x) {
				return nil, false
			}
			v = x[s.index]
		default:
			return nil, false
		}
	}
	return v, true
}

// --- values and comparisons ---

type fpValKind int

const (
	valString fpValKind = iota
	valNumber
	valRegex
)

// fpValue is the right side of a comparison.
type fpValue struct {
	kind fpValKind
	text string // a string (with * wildcards), or a number's literal
	num  float64
	re   *regexp.Regexp
}

func (v fpValue) print(b *strings.Builder) {
	switch v.kind {
	case valNumber:
		b.WriteString(v.text)
	case valRegex:
		b.WriteString("%" + v.re.String() + "%")
	default:
		writeQuoted(b, v.text)
	}
}

// parseValue reads the value of a comparison with operator op.
func (p *fpParser) parseValue(op string) (fpValue, error) {
	t, err := p.next()
	if err != nil {
		return fpValue{}, err
	}
	var v fpValue
	switch t.kind {
	case tokString:
		v = fpValue{kind: valString, text: t.text}
	case tokRegex:
		v = fpValue{kind: valRegex, re: t.re}
	case tokWord:
		if f, err := strconv.ParseFloat(t.text, 64); err == nil && isNumberLiteral(t.text) {
			v = fpValue{kind: valNumber, text: t.text, num: f}
		} else {
			v = fpValue{kind: valString, text: t.text}
		}
	default:
		return fpValue{}, fpErrorf(t.pos, "expected a value, found %s", t.describe())
	}
	if op != "=" && op != "!=" && v.kind != valNumber {
		return fpValue{}, fpErrorf(t.pos, "%s compares numbers only", op)
	}
	return v, nil
}

// isNumberLiteral accepts JSON-like numbers: an optional '-', digits, an
// optional fraction and exponent (not "Inf", "NaN", hex or "1_000").
func isNumberLiteral(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if digits() == 0 {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// compareText compares a text (a field, or a JSON scalar's text) with v by
// op; isNumber says whether the text is a number where v is one.
func compareText(op string, v fpValue, text string, num float64, isNumber bool) bool {
	switch v.kind {
	case valNumber:
		if !isNumber {
			return op == "!="
		}
		switch op {
		case "=":
			return num == v.num
		case "!=":
			return num != v.num
		case "<":
			return num < v.num
		case "<=":
			return num <= v.num
		case ">":
			return num > v.num
		case ">=":
			return num >= v.num
		}
		return false
	case valRegex:
		return v.re.MatchString(text) == (op == "=")
	}
	return wildcardMatch(v.text, text) == (op == "=")
}

// wildcardMatch matches s against pattern, where '*' stands for any run
// of bytes.
func wildcardMatch(pattern, s string) bool {
	if !strings.Contains(pattern, "*") {
		return pattern == s
	}
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, part := range parts[1 : len(parts)-1] {
		i := strings.Index(s, part)
		if i < 0 {
			return false
		}
		s = s[i+len(part):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}

// --- JSON patterns ---

// fpExpr is a node of a JSON pattern.
type fpExpr interface {
	eval(doc any) bool
	// print writes the node; inAnd is true inside an && list, where an ||
	// list needs parentheses.
	print(b *strings.Builder, inAnd bool)
}

// fpBool is an && (and true) or || list.
type fpBool struct {
	and   bool
	items []fpExpr
}

func (e *fpBool) eval(doc any) bool {
	for _, it := range e.items {
		if it.eval(doc) != e.and {
			return !e.and
		}
	}
	return e.and
}

func (e *fpBool) print(b *strings.Builder, inAnd bool) {
	paren := inAnd && !e.and
	if paren {
		b.WriteByte('(')
	}
	sep := " || "
	if e.and {
		sep = " && "
	}
	for i, it := range e.items {
		if i > 0 {
			b.WriteString(sep)
		}
		it.print(b, e.and)
	}
	if paren {
		b.WriteByte(')')
	}
}

// fpCmp compares the value at a selector.
type fpCmp struct {
	sel []fpStep
	op  string // =, !=, <, <=, >, >=, IS TRUE, IS FALSE, IS NULL, EXISTS, NOT EXISTS
	val fpValue
}

func (c *fpCmp) eval(doc any) bool {
	v, ok := lookup(doc, c.sel)
	switch c.op {
	case "EXISTS":
		return ok
	case "NOT EXISTS":
		return !ok
	case "IS NULL":
		return ok && v == nil
	case "IS TRUE", "IS FALSE":
		b, isBool := v.(bool)
		return ok && isBool && b == (c.op == "IS TRUE")
	}
	if !ok {
		return false
	}
	switch x := v.(type) {
	case string:
		return compareText(c.op, c.val, x, 0, false)
	case json.Number:
		f, err := x.Float64()
		return compareText(c.op, c.val, x.String(), f, err == nil)
	case bool:
		return compareText(c.op, c.val, strconv.FormatBool(x), 0, false)
	}
	// null, objects and arrays equal no value.
	return c.op == "!="
}

func (c *fpCmp) print(b *strings.Builder, _ bool) {
	printSelector(b, c.sel)
	b.WriteString(" " + c.op)
	if !strings.Contains(c.op, " ") && c.op != "EXISTS" {
		b.WriteByte(' ')
		c.val.print(b)
	}
}

func (p *fpParser) parseJSON() (*FilterPattern, error) {
	if err := p.expect("{"); err != nil {
		return nil, err
	}
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if err := p.expect("}"); err != nil {
		return nil, err
	}
	if t, err := p.next(); err != nil {
		return nil, err
	} else if t.kind != tokEOF {
		return nil, fpErrorf(t.pos, "unexpected %s after '}'", t.describe())
	}
	return &FilterPattern{form: fpJSON, expr: e}, nil
}

// parseList parses items separated by op ("&&" or "||") and returns one
// fpBool for two or more, flattening nested lists of the same operator.
func (p *fpParser) parseList(op string, item func() (fpExpr, error)) (fpExpr, error) {
	and := op == "&&"
	var items []fpExpr
	for {
		e, err := item()
		if err != nil {
			return nil, err
		}
		if b, ok := e.(*fpBool); ok && b.and == and {
			items = append(items, b.items...)
		} else {
			items = append(items, e)
		}
		t, err := p.peek()
		if err != nil {
			return nil, err
		}
		if t.kind != tokPunct || t.text != op {
			break
		}
		p.next()
	}
	if len(items) == 1 {
		return items[0], nil
	}
	return &fpBool{and: and, items: items}, nil
}

func (p *fpParser) parseOr() (fpExpr, error) {
	return p.parseList("||", func() (fpExpr, error) { return p.parseList("&&", p.parseUnary) })
}

func (p *fpParser) parseUnary() (fpExpr, error) {
	t, err := p.next()
	if err != nil {
		return nil, err
	}
	switch {
	case t.kind == tokPunct && t.text == "(":
		if p.depth++; p.depth > maxFilterPatternDepth {
			return nil, fpErrorf(t.pos, "parentheses nested deeper than %d", maxFilterPatternDepth)
		}
		e, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		p.depth--
		return e, nil
	case t.kind == tokSelector:
		return p.parseComparison(t)
	}
	return nil, fpErrorf(t.pos, "expected a selector such as $.field, found %s", t.describe())
}

func (p *fpParser) parseComparison(sel fpToken) (fpExpr, error) {
	t, err := p.next()
	if err != nil {
		return nil, err
	}
	c := &fpCmp{sel: sel.sel}
	switch {
	case t.kind == tokPunct && slices.Contains([]string{"=", "!=", "<", "<=", ">", ">="}, t.text):
		c.op = t.text
		if c.val, err = p.parseValue(c.op); err != nil {
			return nil, err
		}
	case t.kind == tokWord && t.text == "IS":
		k, err := p.next()
		if err != nil {
			return nil, err
		}
		if k.kind != tokWord || (k.text != "TRUE" && k.text != "FALSE" && k.text != "NULL") {
			return nil, fpErrorf(k.pos, "expected TRUE, FALSE or NULL after IS, found %s", k.describe())
		}
		c.op = "IS " + k.text
	case t.kind == tokWord && t.text == "EXISTS":
		c.op = "EXISTS"
	case t.kind == tokWord && t.text == "NOT":
		k, err := p.next()
		if err != nil {
			return nil, err
		}
		if k.kind != tokWord || k.text != "EXISTS" {
			return nil, fpErrorf(k.pos, "expected EXISTS after NOT, found %s", k.describe())
		}
		c.op = "NOT EXISTS"
	default:
		return nil, fpErrorf(t.pos, "expected an operator after %s, found %s", sel.text, t.describe())
	}
	return c, nil
}

// --- space-delimited patterns ---

// fpField is one field of a space-delimited pattern: "..." (ellipsis) or a
// name with an optional condition on that field.
type fpField struct {
	ellipsis bool
	name     string
	cond     *fpFieldCond
}

// fpFieldCond is a field's condition: comparisons joined by && or ||,
// && binding tighter.
type fpFieldCond struct {
	or [][]fpFieldCmp
}

type fpFieldCmp struct {
	op  string
	val fpValue
}

func (f fpField) print(b *strings.Builder) {
	if f.ellipsis {
		b.WriteString("...")
		return
	}
	b.WriteString(f.name)
	if f.cond == nil {
		return
	}
	for i, and := range f.cond.or {
		if i > 0 {
			b.WriteString(" ||")
		}
		for j, c := range and {
			if i > 0 || j > 0 {
				if j > 0 {
					b.WriteString(" &&")
				}
				b.WriteString(" " + f.name)
			}
			b.WriteString(" " + c.op + " ")
			c.val.print(b)
		}
	}
}

func (c *fpFieldCond) match(text string) bool {
	num, err := strconv.ParseFloat(text, 64)
	isNumber := err == nil && isNumberLiteral(text)
	for _, and := range c.or {
		ok := true
		for _, cmp := range and {
			if !compareText(cmp.op, cmp.val, text, num, isNumber) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func isFieldName(s string) bool {
	if s == "" || !(s[0] == '_' || s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func (p *fpParser) parseFields() (*FilterPattern, error) {
	if err := p.expect("["); err != nil {
		return nil, err
	}
	fp := &FilterPattern{form: fpFields}
	seen := map[string]bool{}
	for {
		t, err := p.next()
		if err != nil {
			return nil, err
		}
		if t.kind != tokWord || (t.text != "..." && !isFieldName(t.text)) {
			return nil, fpErrorf(t.pos, "expected a field name or ..., found %s", t.describe())
		}
		f := fpField{ellipsis: t.text == "...", name: t.text}
		if !f.ellipsis {
			if seen[f.name] {
				return nil, fpErrorf(t.pos, "field %s named twice", f.name)
			}
			seen[f.name] = true
			if f.cond, err = p.parseFieldCond(f.name); err != nil {
				return nil, err
			}
		}
		fp.fields = append(fp.fields, f)
		t, err = p.next()
		if err != nil {
			return nil, err
		}
		if t.kind == tokPunct && t.text == "]" {
			break
		}
		if t.kind != tokPunct || t.text != "," {
			return nil, fpErrorf(t.pos, "expected ',' or ']', found %s", t.describe())
		}
	}
	if t, err := p.next(); err != nil {
		return nil, err
	} else if t.kind != tokEOF {
		return nil, fpErrorf(t.pos, "unexpected %s after ']'", t.describe())
	}
	return fp, nil
}

// parseFieldCond parses the condition after a field's name, if any:
// `op value` then `&& name op value` or `|| name op value`.
func (p *fpParser) parseFieldCond(name string) (*fpFieldCond, error) {
	t, err := p.peek()
	if err != nil {
		return nil, err
	}
	if t.kind != tokPunct || !slices.Contains([]string{"=", "!=", "<", "<=", ">", ">="}, t.text) {
		return nil, nil
	}
	cond := &fpFieldCond{or: [][]fpFieldCmp{nil}}
	for {
		op, err := p.next()
		if err != nil {
			return nil, err
		}
		if op.kind != tokPunct || !slices.Contains([]string{"=", "!=", "<", "<=", ">", ">="}, op.text) {
			return nil, fpErrorf(op.pos, "expected an operator after %s, found %s", name, op.describe())
		}
		v, err := p.parseValue(op.text)
		if err != nil {
			return nil, err
		}
		last := len(cond.or) - 1
		cond.or[last] = append(cond.or[last], fpFieldCmp{op: op.text, val: v})
		t, err := p.peek()
		if err != nil {
			return nil, err
		}
		if t.kind != tokPunct || (t.text != "&&" && t.text != "||") {
			return cond, nil
		}
		p.next()
		if t.text == "||" {
			cond.or = append(cond.or, nil)
		}
		n, err := p.next()
		if err != nil {
			return nil, err
		}
		if n.kind != tokWord || n.text != name {
			return nil, fpErrorf(n.pos, "a condition of field %s may only compare %s, found %s", name, name, n.describe())
		}
	}
}

// splitFields splits a message into whitespace-separated fields; text in
// double quotes or square brackets is one field, without them.
func splitFields(msg string) []string {
	var out []string
	for i := 0; i < len(msg); {
		if isFPSpace(rune(msg[i])) {
			i++
			continue
		}
		var closer byte
		switch msg[i] {
		case '"':
			closer = '"'
		case '[':
			closer = ']'
		}
		if closer != 0 {
			if end := strings.IndexByte(msg[i+1:], closer); end >= 0 {
				out = append(out, msg[i+1:i+1+end])
				i += end + 2
				continue
			}
		}
		end := i
		for end < len(msg) && !isFPSpace(rune(msg[end])) {
			end++
		}
		out = append(out, msg[i:end])
		i = end
	}
	return out
}

// matchFields matches the pattern's fields against a message's: each named
// field takes one, each ellipsis any number. ok[j] says whether the
// pattern's fields from i on match the message's from j on, computed from
// the last pattern field backwards (O(fields × message fields)).
func matchFields(pattern []fpField, fields []string) bool {
	n := len(fields)
	next := make([]bool, n+1) // for pattern position i+1
	next[n] = true
	cur := make([]bool, n+1)
	for i := len(pattern) - 1; i >= 0; i-- {
		f := pattern[i]
		for j := n; j >= 0; j-- {
			switch {
			case f.ellipsis:
				cur[j] = next[j] || (j < n && cur[j+1])
			case j == n:
				cur[j] = false
			default:
				cur[j] = next[j+1] && (f.cond == nil || f.cond.match(fields[j]))
			}
		}
		next, cur = cur, next
	}
	return next[0]
}
