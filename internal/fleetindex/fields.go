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
//
// The strings of leaves walked from a compact document may be substrings
// of it: whatever keeps one beyond the walk must copy it.
type leaf struct {
	raw   string  // the value as written (original case), for buckets and cardinality
	text  string  // lower-cased text; its whitespace-separated words are the terms
	num   float64 // the numeric value when isNum
	isNum bool
}

// makeLeaf mirrors query.Match: strings, booleans, json.Number, finite
// float64/float32 and int, int32, int64, uint64 are indexed; anything else
// (null included, AWS §2.2) is not. Values that parse as JSON numbers are
// numeric too, attribute strings included. The walker builds the same
// leaves from compact documents through textLeaf, boolLeaf and floatLeaf.
func makeLeaf(v any) (leaf, bool) {
	switch v := v.(type) {
	case string:
		return textLeaf(v), true
	case bool:
		return boolLeaf(v), true
	case json.Number:
		return textLeaf(string(v)), true
	case float64:
		return floatLeaf(v)
	case float32:
		return floatLeaf(float64(v))
	case int:
		return textLeaf(strconv.FormatInt(int64(v), 10)), true
	case int64:
		return textLeaf(strconv.FormatInt(v, 10)), true
	case int32:
		return textLeaf(strconv.FormatInt(int64(v), 10)), true
	case uint64:
		return textLeaf(strconv.FormatUint(v, 10)), true
	}
	return leaf{}, false
}

// textLeaf is the leaf of a string or of a json.Number (query.Match treats
// both alike); Go integers are indexed as their decimal json.Number.
func textLeaf(s string) leaf {
	n, ok := parseNumber(s)
	return leaf{raw: s, text: strings.ToLower(s), num: n, isNum: ok}
}

func boolLeaf(b bool) leaf {
	s := strconv.FormatBool(b)
	return leaf{raw: s, text: s}
}

// floatLeaf is the leaf of a float64 (AWS §2.2 numbers); query.Match drops
// non-finite values.
func floatLeaf(v float64) (leaf, bool) {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return leaf{}, false
	}
	s := strconv.FormatFloat(v, 'f', -1, 64)
	return leaf{raw: s, text: s, num: v, isNum: true}, true
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

// walker visits the indexed leaves of a compact document (see compact.go).
// Paths join keys with '.', so nested objects and dotted keys answer the
// same path (AWS §2.2).
type walker struct {
	// target, when set, restricts the walk to leaves whose path is target.
	target string
	leaf   func(path string, hidden bool, l leaf)
	// exists, if set, is called for every path at or under which a leaf
	// (not a derived one) lies: what field:* answers.
	exists func(path string)
	// paths, if set, interns joined paths (writer side only).
	paths map[pathKey]string

	keys []string // the index's key dictionary
	id   string   // the document's name (tagID)
	c    cursor
}

type pathKey struct{ parent, key string }

// maxPaths bounds the path cache; past it paths are joined afresh.
const maxPaths = 1 << 16

// child returns the path of key under path and whether the walk enters
// it. With a target, path is always a prefix of the target (or the target)
// and the child's path is a prefix of the target too: no string is built.
func (w *walker) child(path, key string) (string, bool) {
	if w.target == "" {
		return w.join(path, key), true
	}
	t := w.target
	end := len(key)
	if path != "" {
		end += len(path) + 1
	}
	if len(t) < end || (len(t) > end && t[end] != '.') || t[end-len(key):end] != key ||
		(path != "" && t[len(path)] != '.') {
		return "", false
	}
	return t[:end], true
}

// join joins path and key, reusing the interned string when it can. The
// result never shares memory with the document.
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

func (w *walker) mark(path string) {
	if w.exists != nil {
		w.exists(path)
	}
}

// doc walks a whole compact document.
func (w *walker) doc(doc string) {
	if doc == "" {
		return
	}
	d := cursor{s: doc}
	for n := d.uvarint(); n > 0; n-- {
		k := d.key(w.keys)
		start := d.i
		d.skip()
		w.section(k, doc[start:d.i])
	}
}

// sections walks some top-level entries of a document.
func (w *walker) sections(secs []section) {
	for i := range secs {
		w.section(secs[i].key, secs[i].val)
	}
}

// section walks the top-level entry k whose value is val. AWS §2.3: a bare
// term searches registry, shadow and Defender fields; query.Match leaves
// out the top-level connectivity and version values and the shadow's
// version fields.
func (w *walker) section(k, val string) {
	p, ok := w.child("", k)
	if !ok {
		return
	}
	w.c = cursor{s: val}
	var hit bool
	switch k {
	case "connectivity", "version":
		hit = w.value(p, true)
	case "shadow":
		if n, ok := w.objectLen(); ok {
			hit = w.shadow(n, p, true)
		} else {
			hit = w.value(p, true) // not searched by bare terms
		}
	default:
		hit = w.value(p, false)
	}
	if hit {
		w.mark(p)
	}
}

// objectLen reads the tag and length of a map[string]any (a typed nil is
// empty) and reports whether the value at the cursor is one; otherwise it
// reads nothing.
func (w *walker) objectLen() (int, bool) {
	switch w.c.s[w.c.i] {
	case tagObject:
		w.c.i++
		return int(w.c.uvarint()), true
	case tagNilObject:
		w.c.i++
		return 0, true
	}
	return 0, false
}

// shadow walks the n entries of a classic or named shadow. derive says
// whether a missing hasDelta is derived here (AWS §2.2: shadow.hasDelta is
// derived; query.Match derives shadow.hasDelta and
// shadow.name.<n>.hasDelta), true when the shadow holds a non-empty delta
// object.
func (w *walker) shadow(n int, path string, derive bool) bool {
	var hit, hasDelta, delta bool
	for ; n > 0; n-- {
		k := w.c.key(w.keys)
		switch k {
		case "hasDelta":
			hasDelta = true
		case "delta":
			if w.c.s[w.c.i] == tagObject {
				d := w.c
				d.i++
				delta = d.uvarint() > 0
			}
		}
		p, ok := w.child(path, k)
		if !ok {
			w.c.skip()
			continue
		}
		var r bool
		switch k {
		case "version":
			r = w.value(p, true) // AWS §2.1: not searchable
		case "name":
			if n, ok := w.objectLen(); ok {
				r = w.names(n, p, derive && path == "shadow")
			} else {
				r = w.value(p, true)
			}
		default:
			r = w.value(p, false)
		}
		if r {
			w.mark(p)
			hit = true
		}
	}
	if derive && !hasDelta {
		if p, ok := w.child(path, "hasDelta"); ok && (w.target == "" || len(p) == len(w.target)) {
			w.leaf(p, true, boolLeaf(delta))
			w.mark(p)
		}
	}
	return hit
}

// names walks the n named shadows under path.
func (w *walker) names(n int, path string, derive bool) bool {
	var hit bool
	for ; n > 0; n-- {
		k := w.c.key(w.keys)
		p, ok := w.child(path, k)
		if !ok {
			w.c.skip()
			continue
		}
		var r bool
		if m, ok := w.objectLen(); ok {
			r = w.shadow(m, p, derive && !strings.Contains(k, "."))
		} else {
			r = w.value(p, true)
		}
		if r {
			w.mark(p)
			hit = true
		}
	}
	return hit
}

// value walks the value at the cursor, at path, and reports whether it
// held a leaf. AWS §2.2: scalar arrays are indexed element-wise, an array
// holding objects or arrays is not indexed at all, null is not indexed.
func (w *walker) value(path string, hidden bool) bool {
	tag := w.c.s[w.c.i]
	switch tag {
	case tagObject, tagStrMap:
		w.c.i++
		var hit bool
		for n := w.c.uvarint(); n > 0; n-- {
			k := w.c.key(w.keys)
			p, ok := w.child(path, k)
			if !ok {
				w.c.skip()
				continue
			}
			if w.value(p, hidden) {
				w.mark(p)
				hit = true
			}
		}
		return hit
	case tagArray:
		w.c.i++
		n := w.c.uvarint()
		start := w.c.i
		nested := false
		for i := n; i > 0; i-- {
			nested = nested || isContainer(w.c.s[w.c.i])
			w.c.skip()
		}
		if nested || (w.target != "" && path != w.target) {
			return false
		}
		end := w.c.i
		w.c.i = start
		var hit bool
		for ; n > 0; n-- {
			if w.value(path, hidden) {
				hit = true
			}
		}
		w.c.i = end
		return hit
	case tagStrArray:
		w.c.i++
		var hit bool
		for n := w.c.uvarint(); n > 0; n-- {
			if w.value(path, hidden) {
				hit = true
			}
		}
		return hit
	}
	if w.target != "" && path != w.target {
		w.c.skip()
		return false
	}
	l, ok := w.scalar()
	if ok {
		w.leaf(path, hidden, l)
	}
	return ok
}

// scalar reads a scalar (or an empty or opaque value) and returns its leaf,
// as makeLeaf builds it from the Go value.
func (w *walker) scalar() (leaf, bool) {
	c := &w.c
	tag := c.s[c.i]
	c.i++
	switch tag {
	case tagFalse:
		return boolLeaf(false), true
	case tagTrue:
		return boolLeaf(true), true
	case tagString, tagNumber:
		return textLeaf(c.text()), true
	case tagID:
		return textLeaf(w.id), true
	case tagUUID:
		return textLeaf(uuidText(c.bytes(16))), true
	case tagNumInt, tagInt, tagInt64, tagInt32:
		return textLeaf(strconv.FormatInt(c.varint(), 10)), true
	case tagNumDec:
		m := c.varint()
		scale := int(c.s[c.i])
		c.i++
		return textLeaf(decimalText(m, scale)), true
	case tagUint64:
		return textLeaf(strconv.FormatUint(c.uvarint(), 10)), true
	case tagFloat64:
		return floatLeaf(math.Float64frombits(le64(c.bytes(8))))
	case tagF64Int:
		return floatLeaf(float64(c.varint()))
	case tagFloat32:
		return floatLeaf(float64(math.Float32frombits(uint32(le64(c.bytes(4))))))
	}
	c.i--
	c.skip() // null, typed nils, opaque values
	return leaf{}, false
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

// fill flattens the top-level sections secs of the document named id
// (keys is the key dictionary) into f, replacing its contents.
func (f *flat) fill(secs []section, id string, keys []string) {
	clear(f.idx)
	clear(f.exists)
	for i := range f.keys {
		clear(f.vals[i]) // drop references to old strings
		f.vals[i] = f.vals[i][:0]
	}
	f.keys = f.keys[:0]
	f.searchable = false
	f.w.id, f.w.keys = id, keys
	f.w.sections(secs)
	f.w.c = cursor{}
}

// leavesAt returns the leaves of the compact document doc named id at
// field, as query.Match's field lookup sees them (including the
// description alias of group documents).
func leavesAt(doc, id string, keys []string, field string) []leaf {
	var out []leaf
	w := walker{target: field, leaf: func(_ string, _ bool, l leaf) { out = append(out, l) }, keys: keys, id: id}
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
