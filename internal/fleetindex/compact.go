package fleetindex

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// The index keeps every document in a compact binary form: a Go string
// written once by Put and read by Get, by the flattening of Put and Delete
// (the walker reads it directly) and by the query fallbacks that need
// query.Match (which get a decoded map).
//
// A document is an object without its tag: uvarint n, then n entries. An
// entry is a key and a value. A key is uvarint r: r > 0 is entry r-1 of the
// index's key dictionary; r = 0 is followed by the key inline (uvarint
// length, bytes), used once the dictionary is full. Entries are sorted by
// (r, inline key), so equal objects encode to equal bytes (Put compares
// top-level sections that way). A value is a tag byte and its payload:
//
//	tagNull                     nil
//	tagFalse, tagTrue           bool
//	tagString   len, bytes      string
//	tagID                       string: the document's own name (thingName)
//	tagUUID     16 bytes        string: a lower-case 8-4-4-4-12 hex UUID
//	tagNumber   len, text       json.Number, as written
//	tagNumInt   zigzag          json.Number in canonical integer form
//	tagNumDec   zigzag, scale   json.Number m/10^scale written with exactly
//	                            scale fraction digits ("21.50": 2150, 2)
//	tagFloat64  8 bytes         float64 (IEEE bits, little-endian)
//	tagF64Int   zigzag          float64 holding an integer below 2^53, not -0
//	tagFloat32  4 bytes         float32
//	tagInt, tagInt64, tagInt32  zigzag: int, int64, int32
//	tagUint64   uvarint         uint64
//	tagObject   n, entries      map[string]any
//	tagStrMap   n, entries      map[string]string (values are string tags)
//	tagArray    n, values       []any
//	tagStrArray n, values       []string (values are string tags)
//	tagNilObject, tagNilStrMap, tagNilArray, tagNilStrArray: typed nils
//	tagOpaque   len, JSON       any other Go value, as json.Marshal writes it
//
// Decoding gives back the same Go types and values (json.Number text
// included), except opaque values, which come back as json.RawMessage:
// neither the index nor query.Match indexes them (they are no JSON scalar,
// array or object type query.Match knows), and JSON encoding renders them
// as before. Decoded strings are substrings of the stored document
// (strings are immutable, so nothing the caller does reaches the index).
//
// The container tags are contiguous (see isContainer).
const (
	tagNull byte = iota
	tagFalse
	tagTrue
	tagString
	tagID
	tagUUID
	tagNumber
	tagNumInt
	tagNumDec
	tagFloat64
	tagF64Int
	tagFloat32
	tagInt
	tagInt64
	tagInt32
	tagUint64
	tagObject
	tagStrMap
	tagArray
	tagStrArray
	tagNilObject
	tagNilStrMap
	tagNilArray
	tagNilStrArray
	tagOpaque
)

// isContainer reports whether a value of tag is an object or an array
// (typed nils included): what makes an array unindexed (AWS §2.2).
func isContainer(tag byte) bool {
	return tag >= tagObject && tag <= tagNilStrArray
}

// maxKeys bounds the key dictionary; later new keys are written inline.
const maxKeys = 1 << 16

// keyDict numbers the object keys of an index's documents. It only grows;
// the writer adds under the write lock, readers read under the read lock.
type keyDict struct {
	ids  map[string]uint32
	keys []string
}

// ref returns the key reference of k (0: inline), adding k while there is
// room.
func (d *keyDict) ref(k string) uint32 {
	if id, ok := d.ids[k]; ok {
		return id + 1
	}
	if len(d.keys) >= maxKeys {
		return 0
	}
	if d.ids == nil {
		d.ids = map[string]uint32{}
	}
	k = strings.Clone(k)
	id := uint32(len(d.keys))
	d.ids[k] = id
	d.keys = append(d.keys, k)
	return id + 1
}

// encoder writes compact documents; its buffers are reused.
type encoder struct {
	buf  []byte
	keys *keyDict
	id   string
	ents []entry // a stack of the entries of the objects being written
}

type entry struct {
	ref  uint32
	key  string
	val  any    // map[string]any entries
	sval string // map[string]string entries
}

// doc encodes doc, the document named id. The result is valid until the
// next call.
func (e *encoder) doc(doc map[string]any, id string) []byte {
	e.buf, e.id = e.buf[:0], id
	e.object(doc)
	clear(e.ents[:cap(e.ents)]) // drop references to the caller's values
	e.ents = e.ents[:0]
	return e.buf
}

func (e *encoder) uvarint(x uint64) { e.buf = binary.AppendUvarint(e.buf, x) }
func (e *encoder) varint(x int64)   { e.buf = binary.AppendVarint(e.buf, x) }

// object writes the entries of m, sorted (without the tag).
func (e *encoder) object(m map[string]any) {
	base := len(e.ents)
	for k, v := range m {
		e.ents = append(e.ents, entry{ref: e.keys.ref(k), key: k, val: v})
	}
	ents := e.ents[base:]
	sortEntries(ents)
	e.uvarint(uint64(len(ents)))
	for i := range ents {
		e.key(ents[i].ref, ents[i].key)
		e.value(ents[i].val)
	}
	e.ents = e.ents[:base]
}

func (e *encoder) strMap(m map[string]string) {
	base := len(e.ents)
	for k, v := range m {
		e.ents = append(e.ents, entry{ref: e.keys.ref(k), key: k, sval: v})
	}
	ents := e.ents[base:]
	sortEntries(ents)
	e.uvarint(uint64(len(ents)))
	for i := range ents {
		e.key(ents[i].ref, ents[i].key)
		e.str(ents[i].sval)
	}
	e.ents = e.ents[:base]
}

// sortEntries sorts by (ref, key); objects are small, so insertion sort.
func sortEntries(s []entry) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && entryLess(&s[j], &s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func entryLess(a, b *entry) bool {
	if a.ref != b.ref {
		return a.ref < b.ref
	}
	return a.key < b.key
}

func (e *encoder) key(ref uint32, k string) {
	e.uvarint(uint64(ref))
	if ref == 0 {
		e.uvarint(uint64(len(k)))
		e.buf = append(e.buf, k...)
	}
}

func (e *encoder) value(v any) {
	switch v := v.(type) {
	case nil:
		e.buf = append(e.buf, tagNull)
	case string:
		e.str(v)
	case bool:
		if v {
			e.buf = append(e.buf, tagTrue)
		} else {
			e.buf = append(e.buf, tagFalse)
		}
	case json.Number:
		e.number(string(v))
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 && (v != 0 || !math.Signbit(v)) {
			e.buf = append(e.buf, tagF64Int)
			e.varint(int64(v))
		} else {
			e.buf = append(e.buf, tagFloat64)
			e.buf = binary.LittleEndian.AppendUint64(e.buf, math.Float64bits(v))
		}
	case float32:
		e.buf = append(e.buf, tagFloat32)
		e.buf = binary.LittleEndian.AppendUint32(e.buf, math.Float32bits(v))
	case int:
		e.buf = append(e.buf, tagInt)
		e.varint(int64(v))
	case int64:
		e.buf = append(e.buf, tagInt64)
		e.varint(v)
	case int32:
		e.buf = append(e.buf, tagInt32)
		e.varint(int64(v))
	case uint64:
		e.buf = append(e.buf, tagUint64)
		e.uvarint(v)
	case map[string]any:
		if v == nil {
			e.buf = append(e.buf, tagNilObject)
			return
		}
		e.buf = append(e.buf, tagObject)
		e.object(v)
	case map[string]string:
		if v == nil {
			e.buf = append(e.buf, tagNilStrMap)
			return
		}
		e.buf = append(e.buf, tagStrMap)
		e.strMap(v)
	case []any:
		if v == nil {
			e.buf = append(e.buf, tagNilArray)
			return
		}
		e.buf = append(e.buf, tagArray)
		e.uvarint(uint64(len(v)))
		for _, x := range v {
			e.value(x)
		}
	case []string:
		if v == nil {
			e.buf = append(e.buf, tagNilStrArray)
			return
		}
		e.buf = append(e.buf, tagStrArray)
		e.uvarint(uint64(len(v)))
		for _, x := range v {
			e.str(x)
		}
	default:
		b, err := json.Marshal(v)
		if err != nil {
			b = []byte("null")
		}
		e.buf = append(e.buf, tagOpaque)
		e.uvarint(uint64(len(b)))
		e.buf = append(e.buf, b...)
	}
}

func (e *encoder) str(s string) {
	switch {
	case s == e.id && s != "":
		e.buf = append(e.buf, tagID)
	case isUUID(s):
		e.buf = append(e.buf, tagUUID)
		for i := 0; i < len(s); i += 2 {
			if s[i] == '-' {
				i++
			}
			e.buf = append(e.buf, unhex(s[i])<<4|unhex(s[i+1]))
		}
	default:
		e.buf = append(e.buf, tagString)
		e.uvarint(uint64(len(s)))
		e.buf = append(e.buf, s...)
	}
}

// isUUID reports whether s is a UUID in lower-case canonical form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return true
}

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}

const hexDigits = "0123456789abcdef"

func uuidText(b string) string {
	var out [36]byte
	j := 0
	for i := range 16 {
		switch i {
		case 4, 6, 8, 10:
			out[j] = '-'
			j++
		}
		out[j], out[j+1] = hexDigits[b[i]>>4], hexDigits[b[i]&15]
		j += 2
	}
	return string(out[:])
}

func (e *encoder) number(s string) {
	m, scale, ok := canonDecimal(s)
	switch {
	case !ok:
		e.buf = append(e.buf, tagNumber)
		e.uvarint(uint64(len(s)))
		e.buf = append(e.buf, s...)
	case scale == 0:
		e.buf = append(e.buf, tagNumInt)
		e.varint(m)
	default:
		e.buf = append(e.buf, tagNumDec)
		e.varint(m)
		e.buf = append(e.buf, byte(scale))
	}
}

// canonDecimal parses s when decimalText(m, scale) gives s back: an
// optional '-', an integer part without leading zeros, optional fraction
// digits, no exponent, at most 18 digits, and no negative zero.
func canonDecimal(s string) (m int64, scale int, ok bool) {
	i, neg := 0, false
	if i < len(s) && s[i] == '-' {
		neg = true
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		m = m*10 + int64(s[i]-'0')
		i++
	}
	digits := i - start
	if digits == 0 || digits > 18 || (digits > 1 && s[start] == '0') {
		return 0, 0, false
	}
	if i < len(s) && s[i] == '.' {
		i++
		fs := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' && digits+i-fs < 18 {
			m = m*10 + int64(s[i]-'0')
			i++
		}
		scale = i - fs
		if scale == 0 {
			return 0, 0, false
		}
	}
	if i != len(s) || (neg && m == 0) {
		return 0, 0, false
	}
	if neg {
		m = -m
	}
	return m, scale, true
}

// decimalText writes m/10^scale with exactly scale fraction digits.
func decimalText(m int64, scale int) string {
	var buf [48]byte
	b := buf[:0]
	u := uint64(m)
	if m < 0 {
		b = append(b, '-')
		u = uint64(-m) // |m| < 10^18
	}
	var dig [20]byte
	d := strconv.AppendUint(dig[:0], u, 10)
	switch {
	case scale == 0:
		b = append(b, d...)
	case len(d) <= scale:
		b = append(b, '0', '.')
		for range scale - len(d) {
			b = append(b, '0')
		}
		b = append(b, d...)
	default:
		w := len(d) - scale
		b = append(b, d[:w]...)
		b = append(b, '.')
		b = append(b, d[w:]...)
	}
	return string(b)
}

// cursor reads a compact document.
type cursor struct {
	s string
	i int
}

func (c *cursor) uvarint() uint64 {
	var x uint64
	for shift := 0; ; shift += 7 {
		b := c.s[c.i]
		c.i++
		if b < 0x80 {
			return x | uint64(b)<<shift
		}
		x |= uint64(b&0x7f) << shift
	}
}

func (c *cursor) varint() int64 {
	u := c.uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

// bytes returns the next n bytes.
func (c *cursor) bytes(n int) string {
	s := c.s[c.i : c.i+n]
	c.i += n
	return s
}

// text returns a length-prefixed string.
func (c *cursor) text() string { return c.bytes(int(c.uvarint())) }

// key reads an object key.
func (c *cursor) key(keys []string) string {
	if r := c.uvarint(); r > 0 {
		return keys[r-1]
	}
	return c.text()
}

func (c *cursor) skipKey() {
	if c.uvarint() == 0 {
		c.i += int(c.uvarint())
	}
}

// skip moves past one value.
func (c *cursor) skip() {
	tag := c.s[c.i]
	c.i++
	switch tag {
	case tagString, tagNumber, tagOpaque:
		c.i += int(c.uvarint())
	case tagUUID:
		c.i += 16
	case tagNumInt, tagF64Int, tagInt, tagInt64, tagInt32, tagUint64:
		c.uvarint()
	case tagNumDec:
		c.uvarint()
		c.i++
	case tagFloat64:
		c.i += 8
	case tagFloat32:
		c.i += 4
	case tagObject, tagStrMap:
		for n := c.uvarint(); n > 0; n-- {
			c.skipKey()
			c.skip()
		}
	case tagArray, tagStrArray:
		for n := c.uvarint(); n > 0; n-- {
			c.skip()
		}
	}
}

// le64 reads up to 8 little-endian bytes.
func le64(s string) uint64 {
	var x uint64
	for i := len(s) - 1; i >= 0; i-- {
		x = x<<8 | uint64(s[i])
	}
	return x
}

// section is one top-level entry of a document: its key and its value's
// bytes (tag included).
type section struct {
	ref uint32
	key string
	val string
}

// sections appends the top-level entries of doc ("" is empty) to out.
func sections(doc string, keys []string, out []section) []section {
	if doc == "" {
		return out
	}
	c := cursor{s: doc}
	for n := c.uvarint(); n > 0; n-- {
		ref := uint32(c.uvarint())
		var k string
		if ref > 0 {
			k = keys[ref-1]
		} else {
			k = c.text()
		}
		start := c.i
		c.skip()
		out = append(out, section{ref: ref, key: k, val: doc[start:c.i]})
	}
	return out
}

func sectionLess(a, b *section) bool {
	if a.ref != b.ref {
		return a.ref < b.ref
	}
	return a.key < b.key
}

// decoder turns a compact document back into Go values.
type decoder struct {
	cursor
	keys []string
	id   string
}

// decodeDoc decodes the document doc named id.
func decodeDoc(doc, id string, keys []string) map[string]any {
	d := decoder{cursor: cursor{s: doc}, keys: keys, id: id}
	return d.object()
}

// decodeSections decodes the sections of a document whose keys keep
// accepts into a map.
func decodeSections(doc, id string, keys []string, keep func(string) bool) map[string]any {
	d := decoder{cursor: cursor{s: doc}, keys: keys, id: id}
	m := map[string]any{}
	for n := d.uvarint(); n > 0; n-- {
		k := d.key(keys)
		if keep(k) {
			m[k] = d.value()
		} else {
			d.skip()
		}
	}
	return m
}

func (d *decoder) object() map[string]any {
	n := int(d.uvarint())
	m := make(map[string]any, n)
	for range n {
		k := d.key(d.keys)
		m[k] = d.value()
	}
	return m
}

func (d *decoder) str() string {
	switch tag := d.s[d.i]; tag {
	case tagID:
		d.i++
		return d.id
	case tagUUID:
		d.i++
		return uuidText(d.bytes(16))
	}
	d.i++
	return d.text()
}

func (d *decoder) value() any {
	tag := d.s[d.i]
	switch tag {
	case tagString, tagID, tagUUID:
		return d.str()
	}
	d.i++
	switch tag {
	case tagFalse:
		return false
	case tagTrue:
		return true
	case tagNumber:
		return json.Number(d.text())
	case tagNumInt:
		return json.Number(strconv.FormatInt(d.varint(), 10))
	case tagNumDec:
		m := d.varint()
		scale := int(d.s[d.i])
		d.i++
		return json.Number(decimalText(m, scale))
	case tagFloat64:
		return math.Float64frombits(le64(d.bytes(8)))
	case tagF64Int:
		return float64(d.varint())
	case tagFloat32:
		return math.Float32frombits(uint32(le64(d.bytes(4))))
	case tagInt:
		return int(d.varint())
	case tagInt64:
		return d.varint()
	case tagInt32:
		return int32(d.varint())
	case tagUint64:
		return d.uvarint()
	case tagObject:
		return d.object()
	case tagStrMap:
		n := int(d.uvarint())
		m := make(map[string]string, n)
		for range n {
			k := d.key(d.keys)
			m[k] = d.str()
		}
		return m
	case tagArray:
		a := make([]any, d.uvarint())
		for i := range a {
			a[i] = d.value()
		}
		return a
	case tagStrArray:
		a := make([]string, d.uvarint())
		for i := range a {
			a[i] = d.str()
		}
		return a
	case tagNilObject:
		return map[string]any(nil)
	case tagNilStrMap:
		return map[string]string(nil)
	case tagNilArray:
		return []any(nil)
	case tagNilStrArray:
		return []string(nil)
	case tagOpaque:
		return json.RawMessage(d.text())
	}
	return nil // tagNull
}
