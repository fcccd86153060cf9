package shadow

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Delta returns the delta of st: AWS §6.3 item 6, for each key in desired,
// the key is included when reported lacks it or the values differ; objects
// recurse, so the delta carries the path from the root to each differing
// leaf; arrays compare as whole values and the entire desired array is copied
// when unequal; keys only in reported never appear. It returns nil when the
// delta is empty or st does not exist. The result shares no memory with st.
func Delta(st *State) map[string]any {
	if !Exists(st) {
		return nil
	}
	d, _ := deltaTree(st.Desired, st.DesiredMetadata, st.Reported)
	return d
}

// deltaWithMetadata returns the delta and its metadata: AWS §6.2, the metadata of
// /update/delta is that of the corresponding desired fields.
func deltaWithMetadata(st *State) (delta, meta map[string]any) {
	if !Exists(st) {
		return nil, nil
	}
	return deltaTree(st.Desired, st.DesiredMetadata, st.Reported)
}

func deltaTree(desired, desiredMeta, reported map[string]any) (delta, meta map[string]any) {
	for k, dv := range desired {
		rv, ok := reported[k]
		var dm any
		if desiredMeta != nil {
			dm = desiredMeta[k]
		}
		if dobj, isObj := dv.(map[string]any); isObj {
			if robj, rIsObj := rv.(map[string]any); rIsObj && ok {
				dmObj, _ := dm.(map[string]any)
				sub, subMeta := deltaTree(dobj, dmObj, robj)
				if len(sub) > 0 {
					delta, meta = put(delta, meta, k, sub, subMeta)
				}
				continue
			}
		} else if ok && equal(dv, rv) {
			continue
		}
		delta, meta = put(delta, meta, k, clone(dv), clone(dm))
	}
	return delta, meta
}

func put(delta, meta map[string]any, k string, v, m any) (map[string]any, map[string]any) {
	if delta == nil {
		delta, meta = map[string]any{}, map[string]any{}
	}
	delta[k] = v
	if m != nil {
		meta[k] = m
	}
	return delta, meta
}

// equal reports whether two trees are the same JSON value. Objects compare
// regardless of key order; numbers compare by value, so 1, 1.0 and 1e0 are
// equal (a decision the reference leaves open), exactly and without floating
// point rounding.
func equal(a, b any) bool {
	switch a := a.(type) {
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, av := range a {
			bv, ok := b[k]
			if !ok || !equal(av, bv) {
				return false
			}
		}
		return true
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !equal(a[i], b[i]) {
				return false
			}
		}
		return true
	case json.Number:
		b, ok := b.(json.Number)
		return ok && numberEqual(string(a), string(b))
	case string:
		b, ok := b.(string)
		return ok && a == b
	case bool:
		b, ok := b.(bool)
		return ok && a == b
	case nil:
		return b == nil
	}
	return false
}

// numberEqual compares two JSON number literals by value.
func numberEqual(a, b string) bool {
	if a == b {
		return true
	}
	ca, oka := canonicalNumber(a)
	cb, okb := canonicalNumber(b)
	return oka && okb && ca == cb
}

// canonicalNumber rewrites a JSON number literal as sign, significant digits
// and exponent ("-", "15", -1 for -1.50), so that equal values have equal
// forms. It reports false for text that is not a number or whose exponent
// overflows; such literals compare by text only.
func canonicalNumber(s string) (string, bool) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	mant, exp := s, int64(0)
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.ParseInt(strings.TrimPrefix(s[i+1:], "+"), 10, 64)
		if err != nil || e > 1<<40 || e < -(1<<40) {
			return "", false
		}
		mant, exp = s[:i], e
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := intPart + frac
	for _, c := range digits {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	exp -= int64(len(frac))
	trimmed := strings.TrimRight(digits, "0")
	exp += int64(len(digits) - len(trimmed))
	trimmed = strings.TrimLeft(trimmed, "0")
	if trimmed == "" {
		return "0", true // +0 and -0 are equal
	}
	sign := ""
	if neg {
		sign = "-"
	}
	return sign + trimmed + "e" + strconv.FormatInt(exp, 10), true
}

// clone deep-copies a tree.
func clone(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return cloneMap(v)
	case []any:
		a := make([]any, len(v))
		for i, e := range v {
			a[i] = clone(e)
		}
		return a
	}
	return v
}

func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = clone(v)
	}
	return c
}
