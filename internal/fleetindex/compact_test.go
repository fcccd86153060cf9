package fleetindex

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/iotdm/iotdm/internal/query"
)

// encodeDoc encodes doc named id with a fresh key dictionary (or keys).
func encodeDoc(doc map[string]any, id string, keys *keyDict) string {
	if keys == nil {
		keys = &keyDict{}
	}
	e := encoder{keys: keys}
	return string(e.doc(doc, id))
}

func roundTrip(t testing.TB, doc map[string]any, id string) {
	t.Helper()
	keys := &keyDict{}
	enc := encodeDoc(doc, id, keys)
	got := decodeDoc(enc, id, keys.keys)
	want := doc
	if want == nil {
		want = map[string]any{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip of %#v:\n got %#v", want, got)
	}
	if again := encodeDoc(got, id, keys); again != enc {
		t.Fatalf("re-encoding %#v gives other bytes", want)
	}
}

type opaqueThing struct {
	A int    `json:"a"`
	B string `json:"b"`
}

func TestCompactRoundTrip(t *testing.T) {
	docs := []map[string]any{
		nil,
		{},
		{
			"thingName": "thing-0000001", "thingId": "0b1c2d3e-0000-4000-8000-00000000002a",
			"attributes": map[string]any{"location": "Building-A", "firmware": "1.0.0", "floor": "3", "model": "m1-lite", "serial": "SN0A1B2C3D"},
			"version":    int64(1), "thingTypeName": "sensor-t1", "thingGroupNames": []any{"fleet-s1", "fleet-s2"},
			"connectivity": map[string]any{"connected": false},
			"shadow": map[string]any{
				"reported": map[string]any{"temperature": json.Number("21.50"), "battery": json.Number("80")},
				"metadata": map[string]any{"reported": map[string]any{
					"temperature": map[string]any{"timestamp": json.Number("1700000000")},
					"battery":     map[string]any{"timestamp": json.Number("1700000000")}}},
				"version": int64(3), "hasDelta": false,
			},
		},
		{"s": "", "u": "0B1C2D3E-0000-4000-8000-00000000002A", "notuuid": "0b1c2d3e-0000-4000-8000-00000000002", "id": "x"},
		{"b": true, "f": false, "n": nil},
		{"f": 21.5, "i": 80.0, "neg": -3.0, "z": 0.0, "nz": math.Copysign(0, -1), "big": 1e300, "max": float64(1 << 53),
			"inf": math.Inf(1), "ninf": math.Inf(-1), "nan": math.NaN(), "tiny": 5e-324},
		{"f32": float32(2.5), "int": -7, "i64": int64(math.MinInt64), "i64max": int64(math.MaxInt64), "i32": int32(-5), "u64": uint64(math.MaxUint64)},
		{"nums": []any{json.Number("0"), json.Number("-0"), json.Number("0.0"), json.Number("-0.0"), json.Number("0.05"),
			json.Number("-0.5"), json.Number("007"), json.Number("1e5"), json.Number("1E5"), json.Number("2.50"),
			json.Number("123456789012345678"), json.Number("1234567890123456789"), json.Number("0.123456789012345678"),
			json.Number("-9223372036854775808"), json.Number("12."), json.Number(".5"), json.Number("-"), json.Number("")}},
		{"m": map[string]string{"a": "1", "b": "x"}, "em": map[string]string{}, "nm": map[string]string(nil),
			"o": map[string]any{}, "no": map[string]any(nil), "a": []any{}, "na": []any(nil),
			"sa": []string{"x", "y", "x"}, "esa": []string{}, "nsa": []string(nil)},
		{"nested": map[string]any{"a.b": map[string]any{"c": []any{1, "x", nil, []any{}, map[string]any{"d": true}}}}},
		{"raw": json.RawMessage(`{"x":1}`), "struct": opaqueThing{A: 1, B: "b"}, "ints": []int{1, 2}, "u8": uint8(3)},
		{"ünïcode": "日本語 text", "bin": "\x00\xff\x80", "": "empty key"},
	}
	for i, d := range docs {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			if i == 10 {
				// Opaque values come back as their JSON encoding.
				keys := &keyDict{}
				got := decodeDoc(encodeDoc(d, "x", keys), "x", keys.keys)
				want := map[string]any{"raw": json.RawMessage(`{"x":1}`), "struct": json.RawMessage(`{"a":1,"b":"b"}`),
					"ints": json.RawMessage(`[1,2]`), "u8": json.RawMessage(`3`)}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("got %#v, want %#v", got, want)
				}
				return
			}
			if i == 5 {
				// NaN is never equal to itself: compare the bits.
				keys := &keyDict{}
				got := decodeDoc(encodeDoc(d, "x", keys), "x", keys.keys)
				for k, v := range d {
					if math.Float64bits(got[k].(float64)) != math.Float64bits(v.(float64)) {
						t.Errorf("%s: got %v, want %v", k, got[k], v)
					}
				}
				return
			}
			roundTrip(t, d, "thing-0000001")
		})
	}
}

// TestCompactNumbers: json.Number text survives exactly, in whichever form
// it is stored.
func TestCompactNumbers(t *testing.T) {
	for _, s := range []string{"0", "1", "-1", "10", "21.5", "21.50", "0.05", "0.0", "0.00", "-0.5", "100.000",
		"999999999999999999", "-999999999999999999", "99999999999999999.9", "0.999999999999999999",
		"-0", "-0.0", "00", "01", "1e5", "1.5e-3", "12.", ".5", "+1", "1_0", "0x10", "9999999999999999999", "NaN"} {
		m, scale, ok := canonDecimal(s)
		keys := &keyDict{}
		got := decodeDoc(encodeDoc(map[string]any{"n": json.Number(s)}, "", keys), "", keys.keys)["n"]
		if got != json.Number(s) {
			t.Errorf("%q decodes as %q (canonical %v)", s, got, ok)
		}
		if ok && decimalText(m, scale) != s {
			t.Errorf("canonDecimal(%q) = %d, %d, but decimalText gives %q", s, m, scale, decimalText(m, scale))
		}
	}
}

// TestCompactCanonical: equal documents encode to equal bytes whatever
// order their maps were built in, so Put can compare sections.
func TestCompactCanonical(t *testing.T) {
	keys := &keyDict{}
	a := map[string]any{}
	b := map[string]any{}
	names := []string{"z", "a", "m", "attributes", "b", "shadow", "k1", "k2", "k3", "k4", "k5"}
	for i, k := range names {
		a[k] = map[string]any{"v": i, "w": []any{"x", k}}
	}
	for _, k := range slices.Backward(names) {
		b[k] = a[k]
	}
	x, y := encodeDoc(a, "id", keys), encodeDoc(b, "id", keys)
	for range 20 {
		if z := encodeDoc(maps.Clone(a), "id", keys); z != x {
			t.Fatal("the same document encodes differently")
		}
	}
	if x != y {
		t.Fatal("equal documents encode differently")
	}
}

func TestCompactKeyDictFull(t *testing.T) {
	keys := &keyDict{}
	for i := range maxKeys {
		keys.ref(fmt.Sprint("k", i))
	}
	doc := map[string]any{"k1": "a", "new": map[string]any{"newer": "b", "k2": map[string]string{"newest": "c"}}}
	enc := encodeDoc(doc, "", keys)
	if len(keys.keys) != maxKeys {
		t.Fatalf("dictionary grew past %d", maxKeys)
	}
	if got := decodeDoc(enc, "", keys.keys); !reflect.DeepEqual(got, doc) {
		t.Fatalf("got %#v", got)
	}
	if encodeDoc(doc, "", keys) != enc {
		t.Fatal("inline keys are not canonical")
	}
	checkWalk(t, doc, "x", keys)
}

// TestGetOwned: the caller owns what Get returns.
func TestGetOwned(t *testing.T) {
	ix := New()
	doc := map[string]any{"thingName": "a", "attributes": map[string]any{"x": "1"}, "thingGroupNames": []any{"g"}}
	ix.Put("a", doc)
	doc["attributes"].(map[string]any)["x"] = "changed by the caller after Put"
	got, _ := ix.Get("a")
	got["attributes"].(map[string]any)["x"] = "2"
	got["thingGroupNames"].([]any)[0] = "h"
	again, _ := ix.Get("a")
	want := map[string]any{"thingName": "a", "attributes": map[string]any{"x": "1"}, "thingGroupNames": []any{"g"}}
	if !reflect.DeepEqual(again, want) {
		t.Fatalf("Get = %#v, want %#v", again, want)
	}
	if n := ix.Count(mustParse(t, "attributes.x:1")); n != 1 {
		t.Fatalf("Count(attributes.x:1) = %d, want 1", n)
	}
}

// mapFlat flattens doc with the reference map walker.
func mapFlat(doc map[string]any, id string) (map[fieldKey][]leaf, map[string]bool) {
	leaves := map[fieldKey][]leaf{}
	exists := map[string]bool{}
	w := mapWalker{
		leaf: func(p string, hidden bool, l leaf) {
			leaves[fieldKey{p, hidden}] = append(leaves[fieldKey{p, hidden}], l)
		},
		exists: func(p string) { exists[p] = true },
	}
	w.doc(doc)
	return leaves, exists
}

func mapLeavesAt(doc map[string]any, field string) []leaf {
	var out []leaf
	w := mapWalker{target: field, leaf: func(_ string, _ bool, l leaf) { out = append(out, l) }}
	w.doc(doc)
	if field == "description" {
		w.target = "thingGroupDescription"
		w.doc(doc)
	}
	return out
}

var leafOpts = []gocmp.Option{gocmp.AllowUnexported(leaf{}), cmpopts.EquateEmpty(), cmpopts.EquateNaNs(),
	cmpopts.SortSlices(func(a, b leaf) bool { return cmpLeaf(a, b) < 0 })}

// checkWalk holds the compact walker to the map walker on doc: the same
// leaves at the same field keys, the same exists paths, and the same
// leaves for targeted lookups of every path the document has.
func checkWalk(t testing.TB, doc map[string]any, id string, keys *keyDict) {
	t.Helper()
	if keys == nil {
		keys = &keyDict{}
	}
	enc := encodeDoc(doc, id, keys)
	wantLeaves, wantExists := mapFlat(doc, id)
	f := newFlat(map[pathKey]string{})
	f.fill(sections(enc, keys.keys, nil), id, keys.keys)
	gotLeaves := map[fieldKey][]leaf{}
	for i, k := range f.keys {
		gotLeaves[k] = f.vals[i]
	}
	gotExists := map[string]bool{}
	for p := range f.exists {
		gotExists[p] = true
	}
	if diff := gocmp.Diff(wantLeaves, gotLeaves, leafOpts...); diff != "" {
		t.Fatalf("leaves of %#v (-map +compact):\n%s", doc, diff)
	}
	if diff := gocmp.Diff(wantExists, gotExists, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("exists of %#v (-map +compact):\n%s", doc, diff)
	}
	searchable := false
	for k := range wantLeaves {
		searchable = searchable || !k.hidden
	}
	if f.searchable != searchable {
		t.Fatalf("searchable of %#v = %v, want %v", doc, f.searchable, searchable)
	}
	fields := slices.Collect(maps.Keys(wantExists))
	for k := range wantLeaves {
		fields = append(fields, k.path)
	}
	fields = append(fields, genFields...)
	fields = append(fields, "description", "a", "a.b", "a.b.c", "x.y", "shadow.name")
	for _, field := range fields {
		want, got := mapLeavesAt(doc, field), leavesAt(enc, id, keys.keys, field)
		if diff := gocmp.Diff(want, got, leafOpts...); diff != "" {
			t.Fatalf("leavesAt(%q) of %#v (-map +compact):\n%s", field, doc, diff)
		}
	}
}

// TestCompactWalk holds the compact walker to the map walker on the
// generated fleets of the property tests and the query package's fleet.
func TestCompactWalk(t *testing.T) {
	for _, useNumber := range []bool{false, true} {
		for _, d := range loadFleet(t, useNumber) {
			id, _ := d["thingName"].(string)
			roundTrip(t, d, id)
			checkWalk(t, d, id, nil)
		}
	}
	g := fleetGen{rand.New(rand.NewPCG(1, 2))}
	keys := &keyDict{}
	for i := range 3000 {
		name := fmt.Sprintf("t%03d", i)
		d := g.doc(name)
		if i%3 == 0 {
			d = g.mutate(d)
		}
		if i%5 == 0 {
			// Dotted and odd top-level keys, a typed-nil shadow.
			d["a.b"] = g.value(0)
			d["a"] = g.object(0)
			d["description"] = g.scalar()
			d["thingGroupDescription"] = g.pick(genWords)
		}
		if i%17 == 0 {
			d["shadow"] = map[string]any(nil)
		}
		roundTrip(t, d, name)
		checkWalk(t, d, name, keys)
	}
}

// FuzzCompactDoc: any JSON object decoded with UseNumber survives encoding
// and decoding unchanged, and the compact walker agrees with the map
// walker on it.
func FuzzCompactDoc(f *testing.F) {
	f.Add([]byte(`{"thingName":"t1","thingId":"0b1c2d3e-0000-4000-8000-00000000002a","attributes":{"a":"1","b.c":"x"},` +
		`"shadow":{"reported":{"temperature":21.50,"on":true,"l":[1,2,"x"]},"delta":{"a":1},"version":3,` +
		`"name":{"cfg":{"reported":{"a":"b"}},"x.y":{},"n":null}},"connectivity":{"connected":false},"version":1}`))
	f.Add([]byte(`{"a":[{"b":1}],"a.b":[[]],"shadow":"s","x":-0.0,"y":1e400,"z":"","t1":"t1"}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"shadow":{"hasDelta":null,"delta":{}},"n":12345678901234567890,"m":-0,"k":0.000}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			return
		}
		roundTrip(t, doc, "t1")
		checkWalk(t, doc, "t1", nil)
	})
}

// indexState is what an index holds, by name rather than document number,
// for comparing an index built by updates with one built afresh.
type indexState struct {
	Fields     map[string]fieldState
	Exists     map[string][]string
	Searchable []string
	Docs       map[string]map[string]any
}

type fieldState struct {
	Docs, Empty []string
	Terms       map[string][]string
	Nums        map[string][]float64
}

func stateOf(ix *Index) indexState {
	names := func(bm interface{ ToArray() []uint32 }) []string {
		var out []string
		for _, d := range bm.ToArray() {
			out = append(out, ix.names[d])
		}
		slices.Sort(out)
		return out
	}
	st := indexState{Fields: map[string]fieldState{}, Exists: map[string][]string{}, Docs: map[string]map[string]any{}}
	for k, f := range ix.fields {
		fs := fieldState{Docs: names(f.docs), Terms: map[string][]string{}, Nums: map[string][]float64{}}
		if f.empty != nil {
			fs.Empty = names(f.empty)
		}
		for term, d := range f.dict.one {
			fs.Terms[term] = []string{ix.names[d]}
		}
		for term, bm := range f.dict.post {
			fs.Terms[term] = names(bm)
		}
		if f.num != nil {
			for _, d := range f.num.has.ToArray() {
				var vs []float64
				f.num.values(d, func(v float64) { vs = append(vs, v) })
				slices.Sort(vs)
				fs.Nums[ix.names[d]] = vs
			}
		}
		st.Fields[fmt.Sprintf("%s/%v", k.path, k.hidden)] = fs
	}
	for p, bm := range ix.exists {
		st.Exists[p] = names(bm)
	}
	st.Searchable = names(ix.searchable)
	for id := range ix.nums {
		st.Docs[id], _ = ix.Get(id)
	}
	return st
}

// TestPutSections: Put walks only the top-level sections that changed;
// the postings must still be exactly those of an index built afresh, also
// with dotted top-level keys (which share paths across sections) and with
// changes of searchability in either part.
func TestPutSections(t *testing.T) {
	g := fleetGen{rand.New(rand.NewPCG(3, 4))}
	ix := New()
	docs := map[string]map[string]any{}
	section := func() any {
		switch g.r.IntN(6) {
		case 0:
			return nil
		case 1:
			return g.scalar()
		case 2:
			return map[string]any{"connected": g.r.IntN(2) == 0}
		}
		return g.value(0)
	}
	tops := []string{"thingName", "attributes", "shadow", "connectivity", "version", "attributes.temp", "shadow.reported",
		"shadow.reported.a", "thingGroupDescription", "thingTypeName"}
	for i := range 4000 {
		name := fmt.Sprintf("t%02d", g.r.IntN(30))
		d, ok := docs[name]
		switch {
		case !ok || g.r.IntN(10) == 0:
			d = g.doc(name)
		case g.r.IntN(10) == 0:
			ix.Delete(name)
			delete(docs, name)
			continue
		default:
			d = maps.Clone(d)
			for range 1 + g.r.IntN(2) {
				k := tops[g.r.IntN(len(tops))]
				switch g.r.IntN(3) {
				case 0:
					delete(d, k)
				case 1:
					d["shadow"] = g.shadow(true)
				default:
					d[k] = section()
				}
			}
		}
		docs[name] = d
		ix.Put(name, d)
		if i%200 == 199 {
			fresh := New()
			for n, d := range docs {
				fresh.Put(n, d)
			}
			if diff := gocmp.Diff(stateOf(fresh), stateOf(ix), cmpopts.EquateEmpty(), cmpopts.EquateNaNs()); diff != "" {
				t.Fatalf("after %d operations, the updated index differs from a fresh one (-fresh +updated):\n%s", i+1, diff)
			}
			for _, q := range []string{"*", "attributes.temp:*", "shadow.reported.a:*",
				"thingTypeName:fleet", "eco", "75", "thingName:t*", `"new york"`, "shadow.reported.a:[a TO z]",
				"connectivity.connected:true", "attributes.temp>2", "shadow.hasDelta:true"} {
				e := mustParse(t, q)
				var want []string
				for _, n := range slices.Sorted(maps.Keys(docs)) {
					if query.Match(e, docs[n]) {
						want = append(want, n)
					}
				}
				if diff := gocmp.Diff(want, ix.Search(e), cmpopts.EquateEmpty()); diff != "" {
					t.Fatalf("Search(%q) (-want +got):\n%s", q, diff)
				}
			}
		}
	}
}

// mapWalker is the walker over Go maps the index used before documents
// were stored compactly, kept as the reference the compact walker is held
// to. It visits the indexed leaves of a document. Paths join keys with '.',
// so nested objects and dotted keys answer the same path (AWS §2.2).
type mapWalker struct {
	// target, when set, restricts the walk to leaves whose path is target.
	target string
	leaf   func(path string, hidden bool, l leaf)
	// exists, if set, is called for every path at or under which a leaf
	// (not a derived one) lies: what field:* answers.
	exists func(path string)
	// paths, if set, interns joined paths (writer side only).
	paths map[pathKey]string
}

// join joins path and key, reusing the interned string when it can.
func (w *mapWalker) join(path, key string) string {
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

// enter reports whether the walk must descend into path.
func (w *mapWalker) enter(path string) bool {
	if w.target == "" {
		return true
	}
	return path == w.target || (len(w.target) > len(path) && w.target[len(path)] == '.' && strings.HasPrefix(w.target, path))
}

func (w *mapWalker) mark(path string) {
	if w.exists != nil {
		w.exists(path)
	}
}

// doc walks a thing document. AWS §2.3: a bare term searches registry,
// shadow and Defender fields; query.Match leaves out the top-level
// connectivity and version values and the shadow's version fields.
func (w *mapWalker) doc(doc map[string]any) {
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
func (w *mapWalker) shadow(sh map[string]any, path string, derive bool) bool {
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

func (w *mapWalker) names(names map[string]any, path string, derive bool) bool {
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
func (w *mapWalker) value(v any, path string, hidden bool) bool {
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

// TestPercolateBareExists: a standing query on the bare field:* (any field
// a bare term searches) follows a document whose searchable leaves come and
// go with a section the Put walks while another stays.
func TestPercolateBareExists(t *testing.T) {
	ix := New()
	ix.AddStanding("any", &query.Exists{})
	ix.AddStanding("not-any", &query.Not{X: &query.Exists{}})
	steps := []struct {
		doc  map[string]any
		want []MembershipChange
	}{
		{map[string]any{"connectivity": map[string]any{"connected": true}}, []MembershipChange{{"not-any", "d", true}}},
		{map[string]any{"connectivity": map[string]any{"connected": true}, "attributes": map[string]any{"x": "1"}},
			[]MembershipChange{{"any", "d", true}, {"not-any", "d", false}}},
		{map[string]any{"connectivity": map[string]any{"connected": false}, "attributes": map[string]any{"x": "1"}}, nil},
		{map[string]any{"connectivity": map[string]any{"connected": false}, "attributes": map[string]any{}},
			[]MembershipChange{{"any", "d", false}, {"not-any", "d", true}}},
		{map[string]any{"connectivity": map[string]any{"connected": false}, "attributes": map[string]any{}, "shadow": map[string]any{}}, nil},
		{map[string]any{"connectivity": map[string]any{"connected": false}, "attributes": map[string]any{"y": true}, "shadow": map[string]any{}},
			[]MembershipChange{{"any", "d", true}, {"not-any", "d", false}}},
	}
	for i, s := range steps {
		if diff := gocmp.Diff(s.want, ix.Put("d", s.doc), cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("step %d (-want +got):\n%s", i, diff)
		}
	}
}

// TestPutLargeArrays: updates of array values too large for field.update's
// term comparison leave the postings of a fresh index.
func TestPutLargeArrays(t *testing.T) {
	ix := New()
	docs := map[string]map[string]any{}
	for i := range 40 {
		tags := make([]any, 20+i%3)
		for j := range tags {
			tags[j] = fmt.Sprintf("tag-%d %d", (i+j)%25, j%3)
		}
		name := fmt.Sprintf("t%d", i%4)
		docs[name] = map[string]any{"thingName": name, "attributes": map[string]any{"tags": tags}}
		ix.Put(name, docs[name])
	}
	fresh := New()
	for n, d := range docs {
		fresh.Put(n, d)
	}
	if diff := gocmp.Diff(stateOf(fresh), stateOf(ix), cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("the updated index differs from a fresh one (-fresh +updated):\n%s", diff)
	}
}
