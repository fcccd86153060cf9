package fleetindex

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/iotdm/iotdm/internal/query"
)

// leaf is one indexed scalar value of a document, built exactly as
// query.Match builds it (AWS §2.2).
type leaf struct {
	raw   string  // the value as written (original case), for buckets and cardinality
	text  string  // lower-cased text; its whitespace-separated words are the terms
	num   float64 // the numeric value when isNum
	isNum bool
}

// makeLeaf mirrors query.Match: strings, booleans, json.Number, finite
// float64/float32 and int, int32, int64, uint64 are indexed; anything else
// (null included, AWS §2.2) is not. Values that parse as JSON numbers are
// numeric too, attribute strings included.
func makeLeaf(v any) (leaf, bool) {
	switch v := v.(type) {
	case string:
		n, ok := parseNumber(v)
		return leaf{raw: v, text: strings.ToLower(v), num: n, isNum: ok}, true
	case bool:
		s := strconv.FormatBool(v)
		return leaf{raw: s, text: s}, true
	case json.Number:
		n, ok := parseNumber(string(v))
		return leaf{raw: string(v), text: strings.ToLower(string(v)), num: n, isNum: ok}, true
	case float64:
		// AWS §2.2 numbers; query.Match drops non-finite values.
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return leaf{}, false
		}
		s := strconv.FormatFloat(v, 'f', -1, 64)
		return leaf{raw: s, text: s, num: v, isNum: true}, true
	case float32:
		return makeLeaf(float64(v))
	case int:
		return makeLeaf(json.Number(strconv.FormatInt(int64(v), 10)))
	case int64:
		return makeLeaf(json.Number(strconv.FormatInt(v, 10)))
	case int32:
		return makeLeaf(json.Number(strconv.FormatInt(int64(v), 10)))
	case uint64:
		return makeLeaf(json.Number(strconv.FormatUint(v, 10)))
	}
	return leaf{}, false
}

// parseNumber is query's rule for numbers (AWS §2.2: JSON numbers, integers
// only within −2^53..2^53−1), reached through the exported query.Value.
func parseNumber(s string) (float64, bool) {
	return query.Value{Kind: query.Word, Text: s}.Number()
}

// terms splits lower-cased text into its terms: AWS §2.2 splits on
// whitespace.
func terms(text string) []string {
	return strings.FieldsFunc(text, unicode.IsSpace)
}

// nextTerm returns the first term of text at or after byte i and the index
// just after it; the term is "" when there is none. It splits exactly as
// terms does, without allocating.
func nextTerm(text string, i int) (string, int) {
	for i < len(text) {
		c := text[i]
		if c < utf8.RuneSelf {
			if !asciiSpace(c) {
				break
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(text[i:])
		if !unicode.IsSpace(r) {
			break
		}
		i += n
	}
	start := i
	for i < len(text) {
		c := text[i]
		if c < utf8.RuneSelf {
			if asciiSpace(c) {
				break
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(text[i:])
		if unicode.IsSpace(r) {
			break
		}
		i += n
	}
	return text[start:i], i
}

// asciiSpace is unicode.IsSpace for ASCII bytes.
func asciiSpace(c byte) bool {
	switch c {
	case '\t', '\n', '\v', '\f', '\r', ' ':
		return true
	}
	return false
}

// fieldKey names one posting structure. A path holds leaves reached in a
// way that bare terms search and leaves they skip (connectivity, version
// fields, derived hasDelta; AWS §2.1, §2.3); the two are kept apart so a
// bare term never sees the hidden ones.
type fieldKey struct {
	path   string
	hidden bool
}

// walker visits the indexed leaves of a document. Paths join keys with '.',
// so nested objects and dotted keys answer the same path (AWS §2.2).
type walker struct {
	// target, when set, restricts the walk to leaves whose path is target.
	target string
	leaf   func(path string, hidden bool, l leaf)
	// exists, if set, is called for every path at or under which a leaf
	// (not a derived one) lies: what field:* answers.
	exists func(path string)
	// paths, if set, interns joined paths (writer side only).
	paths map[pathKey]string
}

type pathKey struct{ parent, key string }

// maxPaths bounds the path cache; past it paths are joined afresh.
const maxPaths = 1 << 16

// join joins path and key, reusing the interned string when it can.
func (w *walker) join(path, key string) string {
	if w.paths == nil {
		return join(path, key)
	}
	k := pathKey{path, key}
	if p, ok := w.paths[k]; ok {
		return p
	}
	p := strings.Clone(join(path, key))
	if len(w.paths) < maxPaths {
		w.paths[pathKey{path, strings.Clone(key)}] = p
	}
	return p
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// enter reports whether the walk must descend into path.
func (w *walker) enter(path string) bool {
	if w.target == "" {
		return true
	}
	return path == w.target || (len(w.target) > len(path) && w.target[len(path)] == '.' && strings.HasPrefix(w.target, path))
}

func (w *walker) mark(path string) {
	if w.exists != nil {
		w.exists(path)
	}
}

// doc walks a thing document. AWS §2.3: a bare term searches registry,
// shadow and Defender fields; query.Match leaves out the top-level
// connectivity and version values and the shadow's version fields.
func (w *walker) doc(doc map[string]any) {
	for k, v := range doc {
		if !w.enter(k) {
			continue
		}
		k := w.join("", k)
		var hit bool
		switch k {
		case "connectivity", "version":
			hit = w.value(v, k, true)
		case "shadow":
			if sh, ok := v.(map[string]any); ok {
				hit = w.shadow(sh, k, true)
			} else {
				hit = w.value(v, k, true) // not searched by bare terms
			}
		default:
			hit = w.value(v, k, false)
		}
		if hit {
			w.mark(k)
		}
	}
}

// shadow walks a classic or named shadow. derive says whether a missing
// hasDelta is derived here (AWS §2.2: shadow.hasDelta is derived;
// query.Match derives shadow.hasDelta and shadow.name.<n>.hasDelta).
func (w *walker) shadow(sh map[string]any, path string, derive bool) bool {
	var hit bool
	for k, v := range sh {
		p := w.join(path, k)
		if !w.enter(p) {
			continue
		}
		var r bool
		switch k {
		case "version":
			r = w.value(v, p, true) // AWS §2.1: not searchable
		case "name":
			if names, ok := v.(map[string]any); ok {
				r = w.names(names, p, derive && path == "shadow")
			} else {
				r = w.value(v, p, true)
			}
		default:
			r = w.value(v, p, false)
		}
		if r {
			w.mark(p)
			hit = true
		}
	}
	if _, ok := sh["hasDelta"]; derive && !ok {
		p := w.join(path, "hasDelta")
		if w.target == "" || w.target == p {
			d, _ := sh["delta"].(map[string]any)
			l, _ := makeLeaf(len(d) > 0)
			w.leaf(p, true, l)
			w.mark(p)
		}
	}
	return hit
}

func (w *walker) names(names map[string]any, path string, derive bool) bool {
	var hit bool
	for n, v := range names {
		p := w.join(path, n)
		if !w.enter(p) {
			continue
		}
		var r bool
		if m, ok := v.(map[string]any); ok {
			r = w.shadow(m, p, derive && !strings.Contains(n, "."))
		} else {
			r = w.value(v, p, true)
		}
		if r {
			w.mark(p)
			hit = true
		}
	}
	return hit
}

// value walks any value at path and reports whether it held a leaf.
// AWS §2.2: scalar arrays are indexed element-wise, an array holding
// objects or arrays is not indexed at all, null is not indexed.
func (w *walker) value(v any, path string, hidden bool) bool {
	switch v := v.(type) {
	case nil:
		return false
	case map[string]any:
		var hit bool
		for k, c := range v {
			p := w.join(path, k)
			if w.enter(p) && w.value(c, p, hidden) {
				w.mark(p)
				hit = true
			}
		}
		return hit
	case map[string]string:
		var hit bool
		for k, c := range v {
			p := w.join(path, k)
			if w.enter(p) && w.value(c, p, hidden) {
				w.mark(p)
				hit = true
			}
		}
		return hit
	case []any:
		for _, x := range v {
			switch x.(type) {
			case map[string]any, map[string]string, []any, []string:
				return false
			}
		}
		var hit bool
		for _, x := range v {
			if w.value(x, path, hidden) {
				hit = true
			}
		}
		return hit
	case []string:
		var hit bool
		for _, x := range v {
			if w.value(x, path, hidden) {
				hit = true
			}
		}
		return hit
	}
	if w.target != "" && path != w.target {
		return false
	}
	l, ok := makeLeaf(v)
	if ok {
		w.leaf(path, hidden, l)
	}
	return ok
}

// flat is a document flattened for indexing. Its buffers are reused from
// one document to the next.
type flat struct {
	idx        map[fieldKey]int // key → position in keys and vals
	keys       []fieldKey
	vals       [][]leaf // vals[i] are the leaves of keys[i]; reused past len(keys)
	exists     map[string]struct{}
	searchable bool // some leaf is searched by bare terms
	w          walker
}

func newFlat(paths map[pathKey]string) *flat {
	f := &flat{idx: map[fieldKey]int{}, exists: map[string]struct{}{}}
	f.w = walker{leaf: f.addLeaf, exists: f.addExists, paths: paths}
	return f
}

func (f *flat) addLeaf(path string, hidden bool, l leaf) {
	k := fieldKey{path, hidden}
	i, ok := f.idx[k]
	if !ok {
		i = len(f.keys)
		f.idx[k] = i
		f.keys = append(f.keys, k)
		if i == len(f.vals) {
			f.vals = append(f.vals, nil)
		}
	}
	f.vals[i] = append(f.vals[i], l)
	if !hidden {
		f.searchable = true
	}
}

func (f *flat) addExists(path string) { f.exists[path] = struct{}{} }

// get returns the leaves of k.
func (f *flat) get(k fieldKey) ([]leaf, bool) {
	i, ok := f.idx[k]
	if !ok {
		return nil, false
	}
	return f.vals[i], true
}

// fill flattens doc (nil is empty) into f, replacing its contents.
func (f *flat) fill(doc map[string]any) {
	clear(f.idx)
	clear(f.exists)
	for i := range f.keys {
		clear(f.vals[i]) // drop references to old strings
		f.vals[i] = f.vals[i][:0]
	}
	f.keys = f.keys[:0]
	f.searchable = false
	if doc != nil {
		f.w.doc(doc)
	}
}

// leavesAt returns the leaves of doc at field, as query.Match's field
// lookup sees them (including the description alias of group documents).
func leavesAt(doc map[string]any, field string) []leaf {
	var out []leaf
	w := walker{target: field, leaf: func(_ string, _ bool, l leaf) { out = append(out, l) }}
	w.doc(doc)
	if field == "description" {
		w.target = "thingGroupDescription"
		w.doc(doc)
	}
	return out
}

// sameLeaves reports whether a and b hold the same multiset of leaves.
func sameLeaves(a, b []leaf) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 1 {
		return a[0] == b[0]
	}
	a, b = slices.Clone(a), slices.Clone(b)
	slices.SortFunc(a, cmpLeaf)
	slices.SortFunc(b, cmpLeaf)
	return slices.Equal(a, b)
}

func cmpLeaf(x, y leaf) int {
	if c := strings.Compare(x.raw, y.raw); c != 0 {
		return c
	}
	if x.isNum != y.isNum {
		if x.isNum {
			return 1
		}
		return -1
	}
	switch {
	case x.num < y.num:
		return -1
	case x.num > y.num:
		return 1
	}
	return strings.Compare(x.text, y.text)
}
