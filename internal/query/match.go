package query

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// Match reports whether doc matches e. It is the reference semantics the
// fleet index is held to, and evaluates one document with no index.
//
// doc is a document of either index as decoded from JSON (numbers may be
// float64, json.Number or Go integers; string lists may be []any or
// []string; string maps may be map[string]string). A thing document holds
// thingName, thingId, thingTypeName, thingGroupNames, attributes,
// shadow {reported, desired, delta, metadata, hasDelta, version,
// name: {<shadow>: {reported, …}}}, connectivity {connected, timestamp,
// disconnectReason} and deviceDefender; a group document holds
// thingGroupName, thingGroupId, thingGroupDescription, attributes and
// parentGroupNames.
//
// Values behave as AWS §2.2 says: matching is case-insensitive, text is
// split on whitespace into terms, values that parse as JSON numbers are
// also numbers (attribute strings included), a scalar array matches when
// any element does, an array holding objects and null are not indexed, and
// nested objects answer dotted paths however they were nested.
func Match(e Expr, doc map[string]any) bool {
	switch e := e.(type) {
	case *MatchAll:
		return true
	case *And:
		for _, a := range e.Args {
			if !Match(a, doc) {
				return false
			}
		}
		return true
	case *Or:
		for _, a := range e.Args {
			if Match(a, doc) {
				return true
			}
		}
		return false
	case *Not:
		return !Match(e.X, doc)
	case *Exists:
		return eachValue(doc, e.Field, true, func(leaf) bool { return true })
	case *Term:
		return eachValue(doc, e.Field, false, func(l leaf) bool { return matchValue(e.Value, l) })
	case *Range:
		return eachValue(doc, e.Field, false, func(l leaf) bool { return inRange(e.Lower, e.Upper, l) })
	case *Compare:
		lo, hi := Bound{Open: true}, Bound{Open: true}
		switch e.Op {
		case GT, GE:
			lo = Bound{Value: e.Value, Inclusive: e.Op == GE}
		case LT, LE:
			hi = Bound{Value: e.Value, Inclusive: e.Op == LE}
		}
		return eachValue(doc, e.Field, false, func(l leaf) bool { return inRange(lo, hi, l) })
	}
	return false
}

// leaf is one indexed scalar value.
type leaf struct {
	text   string   // lower-cased text
	tokens []string // text split on whitespace (AWS §2.2)
	num    float64
	isNum  bool
}

func newLeaf(v any) (leaf, bool) {
	var l leaf
	switch v := v.(type) {
	case string:
		l.text = strings.ToLower(v)
		l.num, l.isNum = parseNumber(v)
	case bool:
		l.text = strconv.FormatBool(v)
	case json.Number:
		l.text = strings.ToLower(string(v))
		l.num, l.isNum = parseNumber(string(v))
	case float64:
		// A float64 cannot say whether it was an integer beyond 2^53;
		// decode with json.Number to keep that distinction of AWS §2.2.
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return l, false
		}
		l.text, l.num, l.isNum = strconv.FormatFloat(v, 'f', -1, 64), v, true
	case float32:
		return newLeaf(float64(v))
	case int:
		return newLeaf(json.Number(strconv.FormatInt(int64(v), 10)))
	case int64:
		return newLeaf(json.Number(strconv.FormatInt(v, 10)))
	case int32:
		return newLeaf(json.Number(strconv.FormatInt(int64(v), 10)))
	case uint64:
		return newLeaf(json.Number(strconv.FormatUint(v, 10)))
	default:
		return l, false
	}
	l.tokens = strings.FieldsFunc(l.text, unicode.IsSpace)
	return l, true
}

// eachValue calls fn for every indexed value of field in doc until fn
// returns true, and reports whether it did. An empty field means every
// registry, shadow and Defender field (AWS §2.3). With objects set, an
// object value yields its leaves too (for field:*).
func eachValue(doc map[string]any, field string, objects bool, fn func(leaf) bool) bool {
	if field == "" {
		return eachSearchable(doc, fn)
	}
	segs := strings.Split(field, ".")
	if lookup(doc, segs, objects, fn) {
		return true
	}
	switch {
	case field == "description":
		return lookup(doc, []string{"thingGroupDescription"}, objects, fn)
	case field == "shadow.hasDelta":
		return derivedHasDelta(doc["shadow"], fn)
	case len(segs) == 4 && segs[0] == "shadow" && segs[1] == "name" && segs[3] == "hasDelta":
		if sh, ok := doc["shadow"].(map[string]any); ok {
			if names, ok := sh["name"].(map[string]any); ok {
				return derivedHasDelta(names[segs[2]], fn)
			}
		}
	}
	return false
}

// derivedHasDelta answers hasDelta for a shadow document that does not
// carry it: AWS §2.2 says it is derived, true when a delta exists.
func derivedHasDelta(shadow any, fn func(leaf) bool) bool {
	sh, ok := shadow.(map[string]any)
	if !ok {
		return false
	}
	if _, ok := sh["hasDelta"]; ok {
		return false // present and already looked up
	}
	d, _ := sh["delta"].(map[string]any)
	l, _ := newLeaf(len(d) > 0)
	return fn(l)
}

// lookup follows segs from v. AWS §2.2: nested objects and dotted keys
// answer the same path, so every split of the remaining segments into a
// key is tried.
func lookup(v any, segs []string, objects bool, fn func(leaf) bool) bool {
	if len(segs) == 0 {
		return emit(v, objects, fn)
	}
	for i := 1; i <= len(segs); i++ {
		key := strings.Join(segs[:i], ".")
		var child any
		var ok bool
		switch m := v.(type) {
		case map[string]any:
			child, ok = m[key]
		case map[string]string:
			child, ok = m[key]
		default:
			return false
		}
		if ok && lookup(child, segs[i:], objects, fn) {
			return true
		}
	}
	return false
}

// emit calls fn for the indexed scalars of v.
func emit(v any, objects bool, fn func(leaf) bool) bool {
	switch v := v.(type) {
	case nil:
		return false // AWS §2.2: null is not indexed
	case []any:
		for _, x := range v {
			switch x.(type) {
			case map[string]any, map[string]string, []any, []string:
				return false // AWS §2.2: an array holding objects is not indexed
			}
		}
		for _, x := range v {
			if emit(x, objects, fn) {
				return true
			}
		}
		return false
	case []string:
		for _, x := range v {
			if emit(x, objects, fn) {
				return true
			}
		}
		return false
	case map[string]any:
		if !objects {
			return false
		}
		for _, x := range v {
			if emit(x, objects, fn) {
				return true
			}
		}
		return false
	case map[string]string:
		if !objects {
			return false
		}
		for _, x := range v {
			if emit(x, objects, fn) {
				return true
			}
		}
		return false
	}
	l, ok := newLeaf(v)
	return ok && fn(l)
}

// eachSearchable visits what a bare term searches (AWS §2.3): registry,
// shadow and Defender fields, not connectivity and not the version fields
// AWS §2.1 calls unsearchable.
func eachSearchable(doc map[string]any, fn func(leaf) bool) bool {
	for k, v := range doc {
		switch k {
		case "connectivity", "version":
			continue
		case "shadow":
			if sh, ok := v.(map[string]any); ok && eachShadow(sh, fn) {
				return true
			}
			continue
		}
		if emit(v, true, fn) {
			return true
		}
	}
	return false
}

func eachShadow(sh map[string]any, fn func(leaf) bool) bool {
	for k, v := range sh {
		switch k {
		case "version":
			continue
		case "name":
			names, _ := v.(map[string]any)
			for _, n := range names {
				if m, ok := n.(map[string]any); ok && eachShadow(m, fn) {
					return true
				}
			}
			continue
		}
		if emit(v, true, fn) {
			return true
		}
	}
	return false
}

// matchValue reports whether l holds v. Words and phrases match when their
// whitespace-separated words appear in order in l (case-insensitive); a
// numeric word also matches an equal number ("75" matches 75.0); a pattern
// matches when it matches one of l's words.
func matchValue(v Value, l leaf) bool {
	if v.Kind == Pattern {
		p := CompileGlob(strings.ToLower(v.Text))
		for _, t := range l.tokens {
			if p.Match(t) {
				return true
			}
		}
		return false
	}
	if n, ok := v.Number(); ok && l.isNum && n == l.num {
		return true
	}
	q := strings.FieldsFunc(strings.ToLower(v.Text), unicode.IsSpace)
	if len(q) == 0 {
		return len(l.tokens) == 0
	}
	for i := 0; i+len(q) <= len(l.tokens); i++ {
		ok := true
		for j, w := range q {
			if l.tokens[i+j] != w {
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

// inRange reports whether l lies between lo and hi. The range is numeric
// when every closed bound is an unquoted number (AWS §2.2, §2.3), and then
// only numeric values match; otherwise it compares lower-cased words, and a
// quoted bound always makes it a string range (AWS §2.3).
func inRange(lo, hi Bound, l leaf) bool {
	numeric := true
	for _, b := range []Bound{lo, hi} {
		if _, ok := b.Value.Number(); !b.Open && !ok {
			numeric = false
		}
	}
	if lo.Open && hi.Open {
		return true
	}
	if numeric {
		if !l.isNum {
			return false
		}
		return numIn(lo, hi, l.num)
	}
	for _, t := range l.tokens {
		if strIn(lo, hi, t) {
			return true
		}
	}
	return false
}

func numIn(lo, hi Bound, x float64) bool {
	if !lo.Open {
		n, _ := lo.Value.Number()
		if x < n || (x == n && !lo.Inclusive) {
			return false
		}
	}
	if !hi.Open {
		n, _ := hi.Value.Number()
		if x > n || (x == n && !hi.Inclusive) {
			return false
		}
	}
	return true
}

func strIn(lo, hi Bound, s string) bool {
	if !lo.Open {
		c := strings.Compare(s, strings.ToLower(lo.Value.Text))
		if c < 0 || (c == 0 && !lo.Inclusive) {
			return false
		}
	}
	if !hi.Open {
		c := strings.Compare(s, strings.ToLower(hi.Value.Text))
		if c > 0 || (c == 0 && !hi.Inclusive) {
			return false
		}
	}
	return true
}
