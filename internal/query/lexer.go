package query

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokenKind says what a token is.
type tokenKind int

const (
	tokEOF    tokenKind = iota
	tokWord             // a term, possibly with wildcards; also field names and AND/OR/NOT/TO
	tokPhrase           // a double-quoted string
	tokLParen           // (
	tokRParen           // )
	tokLBrack           // [
	tokRBrack           // ]
	tokLBrace           // {
	tokRBrace           // }
	tokColon            // :
	tokMinus            // - before a clause
	tokGT               // >
	tokGE               // >=
	tokLT               // <
	tokLE               // <=
)

var tokenNames = [...]string{
	tokEOF: "end of query", tokWord: "term", tokPhrase: "phrase",
	tokLParen: "'('", tokRParen: "')'", tokLBrack: "'['", tokRBrack: "']'",
	tokLBrace: "'{'", tokRBrace: "'}'", tokColon: "':'", tokMinus: "'-'",
	tokGT: "'>'", tokGE: "'>='", tokLT: "'<'", tokLE: "'<='",
}

// token is one lexeme with its byte offset in the input.
type token struct {
	kind tokenKind
	pos  int
	// text is the unescaped text of a word or phrase.
	text string
	// pattern is set on words with an unescaped '*' or '?': the glob, in
	// which '\' escapes a literal '*', '?' or '\'.
	pattern string
	// escaped reports a backslash in a word, which makes it never a keyword.
	escaped bool
}

func (t token) String() string {
	switch t.kind {
	case tokWord:
		return "'" + t.text + "'"
	case tokPhrase:
		return "phrase"
	}
	return tokenNames[t.kind]
}

// isKeyword reports whether t is the unescaped word kw (AND, OR, NOT, TO).
// Keywords are upper case only, as in Lucene: "and" is an ordinary term.
func (t token) isKeyword(kw string) bool {
	return t.kind == tokWord && !t.escaped && t.pattern == "" && t.text == kw
}

// unsupported are the characters AWS §2.3 lists as not supported, plus
// Lucene operators AWS does not document (fuzzy '~', boost '^', '!', '&&',
// '||'). They are refused unless escaped with a backslash, which makes them
// literal (our reading: §2.3 also lists backslash escaping as supported).
const unsupported = "`@#%/';,~^!&|"

// special characters end a word.
const special = "()[]{}:\"\\<>" + unsupported

// lexer scans the input on demand; the parser says whether a value is
// expected, which decides what a leading '-' means.
type lexer struct {
	input string
	pos   int
}

// next scans one token. In value position (after ':', a comparison, '[',
// '{' or TO) a leading '-' belongs to the term (-5); elsewhere it negates
// the following clause.
func (l *lexer) next(value bool) (token, *Error) {
	for l.pos < len(l.input) {
		r, n := utf8.DecodeRuneInString(l.input[l.pos:])
		if !unicode.IsSpace(r) {
			break
		}
		l.pos += n
	}
	start := l.pos
	if start >= len(l.input) {
		return token{kind: tokEOF, pos: start}, nil
	}
	c := l.input[start]
	one := func(k tokenKind) (token, *Error) {
		l.pos++
		return token{kind: k, pos: start}, nil
	}
	switch c {
	case '(':
		return one(tokLParen)
	case ')':
		return one(tokRParen)
	case '[':
		return one(tokLBrack)
	case ']':
		return one(tokRBrack)
	case '{':
		return one(tokLBrace)
	case '}':
		return one(tokRBrace)
	case ':':
		return one(tokColon)
	case '>', '<':
		k := tokGT
		if c == '<' {
			k = tokLT
		}
		l.pos++
		if l.pos < len(l.input) && l.input[l.pos] == '=' {
			l.pos++
			k++ // tokGE, tokLE
		}
		return token{kind: k, pos: start}, nil
	case '"':
		return l.phrase()
	case '-':
		if !value {
			return one(tokMinus)
		}
	}
	if strings.IndexByte(unsupported, c) >= 0 {
		return token{}, errorf(start, "character '%c' is not supported; escape it with '\\'", c)
	}
	return l.word()
}

// phrase scans a double-quoted string; '\' escapes the next character.
func (l *lexer) phrase() (token, *Error) {
	start := l.pos
	l.pos++
	var b strings.Builder
	for l.pos < len(l.input) {
		c := l.input[l.pos]
		switch {
		case c == '"':
			l.pos++
			return token{kind: tokPhrase, pos: start, text: b.String()}, nil
		case c == '\\':
			r, n, err := l.escape()
			if err != nil {
				return token{}, err
			}
			b.WriteRune(r)
			l.pos += n
		case strings.IndexByte(unsupported, c) >= 0:
			return token{}, errorf(l.pos, "character '%c' is not supported; escape it with '\\'", c)
		default:
			r, n := utf8.DecodeRuneInString(l.input[l.pos:])
			b.WriteRune(r)
			l.pos += n
		}
	}
	return token{}, errorf(start, "unterminated phrase")
}

// escape decodes the backslash escape at l.pos: the escaped rune and the
// number of bytes the escape takes.
func (l *lexer) escape() (rune, int, *Error) {
	if l.pos+1 >= len(l.input) {
		return 0, 0, errorf(l.pos, "'\\' at end of query escapes nothing")
	}
	r, n := utf8.DecodeRuneInString(l.input[l.pos+1:])
	return r, 1 + n, nil
}

// word scans a term up to whitespace or a special character.
func (l *lexer) word() (token, *Error) {
	start := l.pos
	var text, pat strings.Builder
	wild, escaped := false, false
	for l.pos < len(l.input) {
		r, n := utf8.DecodeRuneInString(l.input[l.pos:])
		if r == '\\' {
			er, en, err := l.escape()
			if err != nil {
				return token{}, err
			}
			escaped = true
			text.WriteRune(er)
			if er == '*' || er == '?' || er == '\\' {
				pat.WriteByte('\\')
			}
			pat.WriteRune(er)
			l.pos += en
			continue
		}
		if unicode.IsSpace(r) || (r < utf8.RuneSelf && strings.IndexByte(special, byte(r)) >= 0) {
			break
		}
		if r == '*' || r == '?' {
			wild = true
		}
		text.WriteRune(r)
		pat.WriteRune(r)
		l.pos += n
	}
	t := token{kind: tokWord, pos: start, text: text.String(), escaped: escaped}
	if wild {
		t.pattern = pat.String()
	}
	return t, nil
}
