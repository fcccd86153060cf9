package template

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Parse reads a template written in JSON or YAML. A body whose first
// character is "{" is read as JSON, and as YAML (a superset) if that fails.
// YAML short-form tags (!Ref, !GetAtt A.B, !Sub, …) become their long form
// ({"Ref": …}, {"Fn::GetAtt": ["A", "B"]}, {"Condition": …}). Parse refuses
// a body that is not well-formed, is over MaxBodySize, nests deeper than
// MaxDepth, holds more than MaxValues values (counting alias expansions),
// repeats a key, or whose sections and attributes have the wrong shape; it
// leaves everything else to Validate. Errors are *Errors.
func Parse(body []byte) (*Template, error) {
	if len(body) > MaxBodySize {
		return nil, newErrors([]Problem{{Message: fmt.Sprintf("Template format error: template body is %d bytes; the maximum is %d", len(body), MaxBodySize)}})
	}
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, newErrors([]Problem{{Message: "Template format error: the template body is empty"}})
	}
	var root *node
	var errs []Problem
	if trimmed[0] == '{' {
		root, errs = readJSON(body)
		if root == nil {
			// Flow-style YAML also starts with "{"; report the JSON
			// error if it is not that either.
			if yroot, yerrs := readYAML(body); yroot != nil {
				root, errs = yroot, yerrs
			}
		}
	} else {
		root, errs = readYAML(body)
	}
	if root == nil || len(errs) > 0 {
		return nil, newErrors(errs)
	}
	return build(root)
}

// node is a parsed value with its position and, for maps, its key order.
type node struct {
	kind  nodeKind
	pos   position
	keys  []string // nMap
	kids  []*node  // nMap values, parallel to keys, or nSeq items
	value any      // nScalar: string, int64, float64, bool or nil
}

type nodeKind uint8

const (
	nScalar nodeKind = iota
	nMap
	nSeq
)

func (n *node) get(key string) *node {
	for i, k := range n.keys {
		if k == key {
			return n.kids[i]
		}
	}
	return nil
}

// budget counts values against MaxValues.
type budget struct{ n int }

var errTooBig = errors.New("too many values")

func (b *budget) take() error {
	b.n++
	if b.n > MaxValues {
		return errTooBig
	}
	return nil
}

func limitProblem(err error, at position) Problem {
	if errors.Is(err, errTooBig) {
		return Problem{Line: at.line, Column: at.col, Message: fmt.Sprintf("Template format error: the template has more than %d values (YAML aliases count each time they are used)", MaxValues)}
	}
	return Problem{Line: at.line, Column: at.col, Message: fmt.Sprintf("Template format error: values are nested more than %d deep", MaxDepth)}
}

var errTooDeep = errors.New("too deep")

// --- JSON

type jsonReader struct {
	body []byte
	dec  *json.Decoder
	b    budget
	errs []Problem
	// lines locates offsets incrementally: tokens come in order.
	lineOff, line, col int
}

func readJSON(body []byte) (*node, []Problem) {
	r := &jsonReader{body: body, dec: json.NewDecoder(bytes.NewReader(body)), line: 1, col: 1}
	r.dec.UseNumber()
	n, err := r.value(0)
	if err == nil {
		if _, terr := r.dec.Token(); terr != io.EOF {
			err = &json.SyntaxError{Offset: r.dec.InputOffset()}
			err = fmt.Errorf("unexpected data after the template: %w", err)
		}
	}
	if err != nil {
		at := lineCol(body, int(r.dec.InputOffset()))
		var se *json.SyntaxError
		switch {
		case errors.Is(err, errTooBig), errors.Is(err, errTooDeep):
			return nil, []Problem{limitProblem(err, at)}
		case errors.As(err, &se):
			at = lineCol(body, int(se.Offset))
		}
		msg := err.Error()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			msg = "unexpected end of input"
		}
		return nil, []Problem{{Line: at.line, Column: at.col, Message: "Template format error: JSON not well-formed: " + msg}}
	}
	return n, r.errs
}

// next returns the position where the next token starts.
func (r *jsonReader) next() position {
	off := int(r.dec.InputOffset())
	for off < len(r.body) {
		switch r.body[off] {
		case ' ', '\t', '\r', '\n', ',', ':':
			off++
			continue
		}
		break
	}
	// Count lines and characters from the last token on, not from the
	// start: a minified template is one long line.
	for ; r.lineOff < off; r.lineOff++ {
		switch c := r.body[r.lineOff]; {
		case c == '\n':
			r.line, r.col = r.line+1, 1
		case c&0xC0 != 0x80: // not a UTF-8 continuation byte
			r.col++
		}
	}
	return position{r.line, r.col}
}

func (r *jsonReader) value(depth int) (*node, error) {
	at := r.next()
	tok, err := r.dec.Token()
	if err != nil {
		return nil, err
	}
	if err := r.b.take(); err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= MaxDepth {
			return nil, errTooDeep
		}
		if t == '[' {
			n := &node{kind: nSeq, pos: at}
			for r.dec.More() {
				kid, err := r.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.kids = append(n.kids, kid)
			}
			_, err := r.dec.Token()
			return n, err
		}
		n := &node{kind: nMap, pos: at}
		seen := map[string]bool{}
		for r.dec.More() {
			kat := r.next()
			ktok, err := r.dec.Token()
			if err != nil {
				return nil, err
			}
			key, _ := ktok.(string)
			if seen[key] {
				r.errs = append(r.errs, Problem{Line: kat.line, Column: kat.col, Message: fmt.Sprintf("Template format error: duplicate key %q", key)})
			}
			seen[key] = true
			kid, err := r.value(depth + 1)
			if err != nil {
				return nil, err
			}
			n.keys = append(n.keys, key)
			n.kids = append(n.kids, kid)
		}
		_, err := r.dec.Token()
		return n, err
	case json.Number:
		return &node{kind: nScalar, pos: at, value: number(string(t))}, nil
	default: // string, bool, nil
		return &node{kind: nScalar, pos: at, value: t}, nil
	}
}

// number converts number text to int64 when it is an integer that fits, else
// to float64.
func number(s string) any {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return s
	}
	return f
}

func lineCol(body []byte, off int) position {
	if off > len(body) {
		off = len(body)
	}
	if off < 0 {
		off = 0
	}
	line := 1 + bytes.Count(body[:off], []byte{'\n'})
	start := bytes.LastIndexByte(body[:off], '\n') + 1
	return position{line, 1 + utf8.RuneCount(body[start:off])}
}

// --- YAML

type yamlReader struct {
	b    budget
	errs []Problem
	at   position // where a limit was reached
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

func readYAML(body []byte) (*node, []Problem) {
	dec := yaml.NewDecoder(bytes.NewReader(body))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		p := Problem{Message: "Template format error: YAML not well-formed: " + strings.TrimPrefix(err.Error(), "yaml: ")}
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			p.Line, _ = strconv.Atoi(m[1])
		}
		return nil, []Problem{p}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		return nil, []Problem{{Line: extra.Line, Column: extra.Column, Message: "Template format error: YAML not well-formed: a template is a single YAML document"}}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, []Problem{{Message: "Template format error: YAML not well-formed: empty document"}}
	}
	r := &yamlReader{}
	n, err := r.value(doc.Content[0], 0)
	if err != nil {
		return nil, []Problem{limitProblem(err, r.at)}
	}
	return n, r.errs
}

// shortForms maps a YAML short-form tag to the key of its long form.
var shortForms = map[string]string{
	"!Ref": "Ref", "!Condition": "Condition",
	"!Base64": "Fn::Base64", "!Cidr": "Fn::Cidr", "!FindInMap": "Fn::FindInMap", "!GetAtt": "Fn::GetAtt",
	"!GetAZs": "Fn::GetAZs", "!ImportValue": "Fn::ImportValue", "!Join": "Fn::Join", "!Select": "Fn::Select",
	"!Split": "Fn::Split", "!Sub": "Fn::Sub", "!Transform": "Fn::Transform", "!Length": "Fn::Length",
	"!ToJsonString": "Fn::ToJsonString",
	"!And":          "Fn::And", "!Equals": "Fn::Equals", "!If": "Fn::If", "!Not": "Fn::Not", "!Or": "Fn::Or",
	"!Contains": "Fn::Contains", "!EachMemberEquals": "Fn::EachMemberEquals", "!EachMemberIn": "Fn::EachMemberIn",
	"!RefAll": "Fn::RefAll", "!ValueOf": "Fn::ValueOf", "!ValueOfAll": "Fn::ValueOfAll",
}

func (r *yamlReader) problem(y *yaml.Node, format string, args ...any) {
	r.errs = append(r.errs, Problem{Line: y.Line, Column: y.Column, Message: fmt.Sprintf(format, args...)})
}

func (r *yamlReader) value(y *yaml.Node, depth int) (*node, error) {
	at := position{y.Line, y.Column}
	r.at = at
	if err := r.b.take(); err != nil {
		return nil, err
	}
	if depth > MaxDepth {
		return nil, errTooDeep
	}
	tag := y.Tag
	fn, short := "", false
	if strings.HasPrefix(tag, "!") && !strings.HasPrefix(tag, "!!") && tag != "!" {
		fn, short = shortForms[tag]
		if !short {
			r.problem(y, "Template format error: unsupported YAML tag %s", tag)
		}
		depth++
		if depth > MaxDepth {
			return nil, errTooDeep
		}
	}
	var n *node
	switch y.Kind {
	case yaml.AliasNode:
		if y.Alias == nil {
			return nil, errTooDeep // unreachable: the parser resolves aliases
		}
		return r.value(y.Alias, depth)
	case yaml.MappingNode:
		var err error
		if n, err = r.mapping(y, depth); err != nil {
			return nil, err
		}
	case yaml.SequenceNode:
		n = &node{kind: nSeq, pos: at}
		for _, c := range y.Content {
			kid, err := r.value(c, depth+1)
			if err != nil {
				return nil, err
			}
			n.kids = append(n.kids, kid)
		}
	case yaml.ScalarNode:
		n = &node{kind: nScalar, pos: at}
		if short || tag == "!" {
			n.value = y.Value
		} else {
			n.value = r.scalar(y)
		}
	default:
		r.problem(y, "Template format error: unexpected YAML node")
		n = &node{kind: nScalar, pos: at}
	}
	if !short {
		return n, nil
	}
	if fn == "Fn::GetAtt" && n.kind == nScalar {
		// !GetAtt Resource.Attribute; the attribute may itself hold dots.
		if s, ok := n.value.(string); ok {
			if res, attr, ok := strings.Cut(s, "."); ok {
				n = &node{kind: nSeq, pos: at, kids: []*node{
					{kind: nScalar, pos: at, value: res}, {kind: nScalar, pos: at, value: attr}}}
			}
		}
	}
	return &node{kind: nMap, pos: at, keys: []string{fn}, kids: []*node{n}}, nil
}

func (r *yamlReader) mapping(y *yaml.Node, depth int) (*node, error) {
	n := &node{kind: nMap, pos: position{y.Line, y.Column}}
	explicit := map[string]bool{}
	for i := 0; i+1 < len(y.Content); i += 2 {
		k := y.Content[i]
		for k.Kind == yaml.AliasNode && k.Alias != nil {
			k = k.Alias
		}
		if k.Kind == yaml.ScalarNode && k.ShortTag() != "!!merge" {
			if explicit[k.Value] {
				r.problem(k, "Template format error: duplicate key %q", k.Value)
			}
			explicit[k.Value] = true
		}
	}
	added := map[string]bool{}
	add := func(key string, kid *node) {
		if !added[key] {
			added[key] = true
			n.keys = append(n.keys, key)
			n.kids = append(n.kids, kid)
		}
	}
	for i := 0; i+1 < len(y.Content); i += 2 {
		k, v := y.Content[i], y.Content[i+1]
		for k.Kind == yaml.AliasNode && k.Alias != nil {
			k = k.Alias
		}
		if k.Kind != yaml.ScalarNode {
			r.problem(k, "Template format error: map keys must be strings")
			continue
		}
		if k.ShortTag() == "!!merge" {
			// A merge key ("<<: *base") adds the keys of the maps it
			// names that the map does not set itself.
			kid, err := r.value(v, depth+1)
			if err != nil {
				return nil, err
			}
			srcs := []*node{kid}
			if kid.kind == nSeq {
				srcs = kid.kids
			}
			for _, src := range srcs {
				if src.kind != nMap {
					r.problem(v, "Template format error: a YAML merge key needs a map or a list of maps")
					continue
				}
				for j, key := range src.keys {
					if !explicit[key] {
						add(key, src.kids[j])
					}
				}
			}
			continue
		}
		kid, err := r.value(v, depth+1)
		if err != nil {
			return nil, err
		}
		add(k.Value, kid)
	}
	return n, nil
}

// scalar resolves an untagged or standard-tagged YAML scalar. Timestamps
// (AWSTemplateFormatVersion: 2010-09-09) stay strings; non-finite floats
// stay as written.
func (r *yamlReader) scalar(y *yaml.Node) any {
	switch y.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if err := y.Decode(&b); err != nil {
			r.problem(y, "Template format error: %q is not a boolean", y.Value)
			return y.Value
		}
		return b
	case "!!int":
		var v any
		if err := y.Decode(&v); err != nil {
			r.problem(y, "Template format error: %q is not an integer", y.Value)
			return y.Value
		}
		switch i := v.(type) {
		case int:
			return int64(i)
		case int64:
			return i
		case uint64:
			return float64(i)
		}
		return y.Value
	case "!!float":
		var f float64
		if err := y.Decode(&f); err != nil {
			r.problem(y, "Template format error: %q is not a number", y.Value)
			return y.Value
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return y.Value
		}
		return f
	case "!!str", "!!timestamp":
		return y.Value
	case "!!binary":
		var s string
		if err := y.Decode(&s); err != nil {
			r.problem(y, "Template format error: invalid !!binary value")
		}
		return s
	default:
		r.problem(y, "Template format error: unsupported YAML tag %s", y.Tag)
		return y.Value
	}
}
