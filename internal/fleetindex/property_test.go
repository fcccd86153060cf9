package fleetindex

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/iotdm/iotdm/internal/query"
)

// fleetGen makes random thing documents and random valid query strings over
// the same small vocabulary, so that queries hit.
type fleetGen struct{ r *rand.Rand }

var (
	genWords = []string{"alpha", "Beta", "gamma delta", "new york", "New", "x*y", "", " ", "abc", "ABD", "abcf",
		"75", "75.0", "1e2", "-3", "0", "007", "12345678901234567890", "true", "false", "2.5", "eco", "North Wing", "fleet"}
	genKeys     = []string{"a", "b", "a.b", "temp", "mode", "x"}
	genAttrKeys = []string{"temp", "model", "floor", "owner.team", "loc"}
	genGroups   = []string{"fleet", "North Wing", "fleet-b", "FLEET", "eco"}
	genFields   = []string{"thingName", "thingId", "thingTypeName", "thingGroupNames",
		"attributes.temp", "attributes.model", "attributes.floor", "attributes.owner.team", "attributes.loc",
		"shadow.reported.a", "shadow.reported.a.b", "shadow.reported.b", "shadow.reported.temp", "shadow.reported.x",
		"shadow.reported.mode", "shadow.desired.a", "shadow.desired.temp", "shadow.delta.a", "shadow.delta.temp",
		"shadow.hasDelta", "shadow.name.cfg.reported.a", "shadow.name.cfg.hasDelta", "shadow.name.cfg.desired.temp",
		"shadow.name.b.c.hasDelta", "shadow.metadata.reported.temp", "connectivity.connected", "connectivity.timestamp",
		"connectivity.disconnectReason", "deviceDefender.x"}
	genValues = []string{"alpha", "beta", "Beta", "gamma", "delta", "new", "york", `"new york"`, `"gamma delta"`,
		"75", "75.0", "1e2", "-3", "0", "007", "2.5", "true", "false", "abc", "abd", "abcf", "ab*", "*c", "a?c",
		"n*", "7*", `""`, `x\*y`, `"x*y"`, "fleet", "FLEET", "north", `"North Wing"`, "eco", "12345678901234567890",
		"100", "1e300", "fleet-b", "client_initiated_disconnect", "t*", "?", "1000", "x"}
)

func (g fleetGen) pick(s []string) string { return s[g.r.IntN(len(s))] }

func (g fleetGen) scalar() any {
	switch g.r.IntN(9) {
	case 0, 1, 2:
		return g.pick(genWords)
	case 3:
		return []float64{-3, 0, 2.5, 75, 100, 1e2, math.Copysign(0, -1), 1e300, 1000}[g.r.IntN(9)]
	case 4:
		return json.Number([]string{"75", "1e2", "-3", "2.50", "12345678901234567890"}[g.r.IntN(5)])
	case 5:
		return g.r.IntN(2) == 0
	case 6:
		return nil
	case 7:
		return g.r.IntN(5) - 2
	}
	return int64(g.r.IntN(200))
}

func (g fleetGen) value(depth int) any {
	switch n := g.r.IntN(20); {
	case n < 12 || depth > 2:
		return g.scalar()
	case n < 15:
		a := make([]any, g.r.IntN(4))
		for i := range a {
			a[i] = g.scalar()
		}
		return a
	case n < 16:
		return []any{g.scalar(), map[string]any{"a": g.scalar()}}
	default:
		return g.object(depth + 1)
	}
}

func (g fleetGen) object(depth int) map[string]any {
	m := map[string]any{}
	for range g.r.IntN(4) {
		m[g.pick(genKeys)] = g.value(depth)
	}
	return m
}

func (g fleetGen) shadow(named bool) map[string]any {
	sh := map[string]any{}
	if g.r.IntN(4) > 0 {
		sh["reported"] = g.object(0)
	}
	if g.r.IntN(2) == 0 {
		sh["desired"] = g.object(0)
	}
	if g.r.IntN(3) == 0 {
		sh["delta"] = g.object(0)
	}
	if g.r.IntN(4) == 0 {
		sh["hasDelta"] = g.r.IntN(2) == 0
	}
	if g.r.IntN(3) == 0 {
		sh["version"] = g.r.IntN(10)
	}
	if g.r.IntN(4) == 0 {
		sh["metadata"] = map[string]any{"reported": map[string]any{"temp": map[string]any{"timestamp": 1557651600}}}
	}
	if named && g.r.IntN(3) == 0 {
		names := map[string]any{}
		for _, n := range []string{"cfg", "b.c", "x"} {
			if g.r.IntN(2) == 0 {
				if g.r.IntN(5) == 0 {
					names[n] = "not a shadow"
				} else {
					names[n] = g.shadow(false)
				}
			}
		}
		sh["name"] = names
	}
	return sh
}

func (g fleetGen) doc(name string) map[string]any {
	d := map[string]any{"thingName": name}
	if g.r.IntN(2) == 0 {
		d["thingId"] = fmt.Sprintf("id-%d", g.r.IntN(1000))
	}
	if g.r.IntN(2) == 0 {
		d["thingTypeName"] = g.pick([]string{"Sensor", "gateway", "Sensor Type"})
	}
	if n := g.r.IntN(4); n > 0 {
		gs := make([]string, n)
		for i := range gs {
			gs[i] = g.pick(genGroups)
		}
		if g.r.IntN(2) == 0 {
			d["thingGroupNames"] = gs
		} else {
			a := make([]any, len(gs))
			for i, s := range gs {
				a[i] = s
			}
			d["thingGroupNames"] = a
		}
	}
	if g.r.IntN(4) > 0 {
		if g.r.IntN(3) == 0 {
			m := map[string]string{}
			for range g.r.IntN(4) {
				m[g.pick(genAttrKeys)] = g.pick(genWords)
			}
			d["attributes"] = m
		} else {
			m := map[string]any{}
			for range g.r.IntN(4) {
				m[g.pick(genAttrKeys)] = g.pick(genWords)
			}
			d["attributes"] = m
		}
	}
	switch g.r.IntN(10) {
	case 0:
	case 1:
		d["shadow"] = "not an object"
	default:
		d["shadow"] = g.shadow(true)
	}
	if g.r.IntN(3) > 0 {
		c := map[string]any{"connected": g.r.IntN(2) == 0, "timestamp": float64(1000 * g.r.IntN(5))}
		if g.r.IntN(2) == 0 {
			c["disconnectReason"] = "CLIENT_INITIATED_DISCONNECT"
		}
		d["connectivity"] = c
	}
	if g.r.IntN(8) == 0 {
		d["deviceDefender"] = map[string]any{"x": g.scalar()}
	}
	if g.r.IntN(8) == 0 {
		d["version"] = g.r.IntN(5)
	}
	return d
}

// mutate returns a copy of d with one part changed, as a shadow update or
// attribute change would.
func (g fleetGen) mutate(d map[string]any) map[string]any {
	c := maps.Clone(d)
	switch g.r.IntN(5) {
	case 0:
		c["attributes"] = map[string]any{g.pick(genAttrKeys): g.pick(genWords)}
	case 1:
		c["shadow"] = g.shadow(true)
	case 2:
		c["connectivity"] = map[string]any{"connected": g.r.IntN(2) == 0, "timestamp": float64(1000 * g.r.IntN(5))}
	case 3:
		c["thingGroupNames"] = []any{g.pick(genGroups)}
	default:
		if sh, ok := c["shadow"].(map[string]any); ok {
			sh = maps.Clone(sh)
			sh["reported"] = g.object(0)
			c["shadow"] = sh
		}
	}
	return c
}

func (g fleetGen) bound() string {
	switch g.r.IntN(6) {
	case 0:
		return "*"
	case 1, 2:
		return []string{"-3", "0", "2.5", "75", "100", "1e2", "1000", "2000"}[g.r.IntN(8)]
	case 3:
		return []string{`"abc"`, `"b"`, `"n"`, `"75"`, `""`}[g.r.IntN(5)]
	}
	return g.pick([]string{"a", "abd", "fleet", "n", "t", "z", "1", "new"})
}

func (g fleetGen) clause(depth int) string {
	f := g.pick(genFields)
	switch n := g.r.IntN(24); {
	case n == 0:
		return "*"
	case n < 8:
		return f + ":" + g.pick(genValues)
	case n < 11:
		return g.pick(genValues)
	case n < 13:
		return f + ":*"
	case n < 16:
		lo, hi := "[{"[g.r.IntN(2):][:1], "]}"[g.r.IntN(2):][:1]
		return f + ":" + lo + g.bound() + " TO " + g.bound() + hi
	case n < 19:
		op := []string{">", ">=", "<", "<="}[g.r.IntN(4)]
		sp := []string{"", " "}[g.r.IntN(2)]
		return f + sp + op + sp + g.pick(genValues[:len(genValues)-4])
	case n < 20:
		return f + ":(" + g.pick(genValues) + []string{" OR ", " AND -", " "}[g.r.IntN(3)] + g.pick(genValues) + ")"
	case n < 22 && depth < 3:
		return []string{"NOT ", "-"}[g.r.IntN(2)] + g.clause(depth+1)
	case depth < 3:
		return "(" + g.query(depth+1) + ")"
	}
	return f + ":" + g.pick(genValues)
}

func (g fleetGen) query(depth int) string {
	s := g.clause(depth)
	for range g.r.IntN(3) {
		s += []string{" AND ", " OR ", " "}[g.r.IntN(3)] + g.clause(depth)
	}
	return s
}

// refLeaves is the brute-force reading of field in doc, written after
// query.Match's lookup (every split of the path into keys) rather than the
// index's flattening.
func refLeaves(doc map[string]any, field string) []leaf {
	var out []leaf
	segs := strings.Split(field, ".")
	refLookup(doc, segs, &out)
	derive := func(v any) {
		sh, ok := v.(map[string]any)
		if !ok {
			return
		}
		if _, ok := sh["hasDelta"]; ok {
			return
		}
		d, _ := sh["delta"].(map[string]any)
		l, _ := makeLeaf(len(d) > 0)
		out = append(out, l)
	}
	switch {
	case field == "shadow.hasDelta":
		derive(doc["shadow"])
	case len(segs) == 4 && segs[0] == "shadow" && segs[1] == "name" && segs[3] == "hasDelta":
		if sh, ok := doc["shadow"].(map[string]any); ok {
			if names, ok := sh["name"].(map[string]any); ok {
				derive(names[segs[2]])
			}
		}
	}
	return out
}

func refLookup(v any, segs []string, out *[]leaf) {
	if len(segs) == 0 {
		refEmit(v, out)
		return
	}
	for i := 1; i <= len(segs); i++ {
		key := strings.Join(segs[:i], ".")
		switch m := v.(type) {
		case map[string]any:
			if c, ok := m[key]; ok {
				refLookup(c, segs[i:], out)
			}
		case map[string]string:
			if c, ok := m[key]; ok {
				refLookup(c, segs[i:], out)
			}
		}
	}
}

func refEmit(v any, out *[]leaf) {
	switch v := v.(type) {
	case []any:
		for _, x := range v {
			switch x.(type) {
			case map[string]any, map[string]string, []any, []string:
				return
			}
		}
		for _, x := range v {
			refEmit(x, out)
		}
	case []string:
		for _, x := range v {
			refEmit(x, out)
		}
	case map[string]any, map[string]string:
	default:
		if l, ok := makeLeaf(v); ok {
			*out = append(*out, l)
		}
	}
}

// refAggregates computes every aggregation by brute force over docs.
type refAgg struct {
	stats       map[query.FieldType]Statistics
	cardinality int
	percentiles []Percentile
	total       int
	buckets     []Bucket
}

func bruteAggregates(docs []map[string]any, field string, percents []float64, maxBuckets int) refAgg {
	var num, boolean []float64
	strCount := 0
	distinct := map[string]bool{}
	counts := map[string]int{}
	for _, d := range docs {
		perDoc := map[string]bool{}
		for _, l := range refLeaves(d, field) {
			strCount++
			distinct[l.raw] = true
			if !perDoc[l.raw] {
				perDoc[l.raw] = true
				counts[l.raw]++
			}
			if l.isNum {
				num = append(num, l.num)
			}
			switch strings.ToLower(l.raw) {
			case "true":
				boolean = append(boolean, 1)
			case "false":
				boolean = append(boolean, 0)
			}
		}
	}
	a := refAgg{stats: map[query.FieldType]Statistics{
		query.Number:  bruteStats(num),
		query.Boolean: bruteStats(boolean),
		query.String:  {Count: strCount},
	}, cardinality: len(distinct), total: len(docs)}
	sorted := slices.Sorted(slices.Values(num))
	a.percentiles = []Percentile{}
	if len(sorted) > 0 {
		for _, p := range percents {
			// Linear interpolation between closest ranks.
			pos := p / 100 * float64(len(sorted)-1)
			i := int(pos)
			v := sorted[i]
			if i+1 < len(sorted) && pos > float64(i) && sorted[i+1] != v {
				v += (sorted[i+1] - v) * (pos - float64(i))
			}
			a.percentiles = append(a.percentiles, Percentile{p, v})
		}
	}
	for k, n := range counts {
		a.buckets = append(a.buckets, Bucket{k, n})
	}
	slices.SortFunc(a.buckets, func(x, y Bucket) int {
		return cmp.Or(cmp.Compare(y.Count, x.Count), cmp.Compare(x.KeyValue, y.KeyValue))
	})
	if len(a.buckets) > maxBuckets {
		a.buckets = a.buckets[:maxBuckets]
	}
	return a
}

func bruteStats(xs []float64) Statistics {
	s := Statistics{Count: len(xs)}
	if len(xs) == 0 {
		return s
	}
	sum, sumSq, lo, hi := 0.0, 0.0, xs[0], xs[0]
	for _, x := range xs {
		sum += x
		sumSq += x * x
		lo, hi = min(lo, x), max(hi, x)
	}
	if math.IsInf(sum, 0) || math.IsInf(sumSq, 0) || math.IsNaN(sum) || math.IsNaN(sumSq) {
		return s
	}
	mean := sum / float64(len(xs))
	v := 0.0
	for _, x := range xs {
		v += (x - mean) * (x - mean)
	}
	v /= float64(len(xs))
	f := func(x float64) *float64 { return &x }
	s.Average, s.Sum, s.Minimum, s.Maximum = f(mean), f(sum), f(lo), f(hi)
	s.SumOfSquares, s.Variance, s.StdDeviation = f(sumSq), f(v), f(math.Sqrt(v))
	return s
}

var approx = cmpopts.EquateApprox(1e-9, 1e-9)

// TestPropertySearch holds Search, Count and every aggregation to
// query.Match and brute force on random fleets and random queries.
func TestPropertySearch(t *testing.T) {
	fleets, queries := 30, 150
	if testing.Short() {
		fleets = 5
	}
	parsed, total := 0, 0
	for seed := range uint64(fleets) {
		g := fleetGen{rand.New(rand.NewPCG(seed, 7))}
		// Odd seeds rebuild numeric snapshots eagerly, even ones lazily.
		ix := newIndex(int(seed%2) * 64)
		byName := map[string]map[string]any{}
		size := 20 + g.r.IntN(60)
		for i := range size {
			name := fmt.Sprintf("t%03d", i)
			byName[name] = g.doc(name)
			ix.Put(name, byName[name])
		}
		// Churn: replace and delete some, so numbers are reused and
		// postings shrink.
		for range size {
			name := fmt.Sprintf("t%03d", g.r.IntN(size))
			switch g.r.IntN(3) {
			case 0:
				ix.Delete(name)
				delete(byName, name)
			case 1:
				byName[name] = g.doc(name)
				ix.Put(name, byName[name])
			default:
				if d, ok := byName[name]; ok {
					byName[name] = g.mutate(d)
					ix.Put(name, byName[name])
				}
			}
		}
		if ix.Len() != len(byName) {
			t.Fatalf("seed %d: Len = %d, want %d", seed, ix.Len(), len(byName))
		}
		names := slices.Sorted(maps.Keys(byName))
		for range queries {
			qs := g.query(0)
			total++
			e, err := query.Parse(qs, query.Options{})
			if err != nil {
				continue
			}
			parsed++
			var want []string
			var docs []map[string]any
			for _, n := range names {
				if query.Match(e, byName[n]) {
					want = append(want, n)
					docs = append(docs, byName[n])
				}
			}
			got := ix.Search(e)
			if diff := gocmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("seed %d: Search(%q) mismatch (-want +got):\n%s", seed, qs, diff)
			}
			if n := ix.Count(e); n != len(want) {
				t.Fatalf("seed %d: Count(%q) = %d, want %d", seed, qs, n, len(want))
			}
			field := g.pick(genFields)
			percents := []float64{50, 1, 99, 25, 100, 0, 33.3}
			maxBuckets := 1 + g.r.IntN(5)
			ref := bruteAggregates(docs, field, percents, maxBuckets)
			for _, typ := range []query.FieldType{query.Number, query.Boolean, query.String} {
				if diff := gocmp.Diff(ref.stats[typ], ix.Statistics(e, field, typ), approx); diff != "" {
					t.Fatalf("seed %d: Statistics(%q, %s, %s) mismatch (-want +got):\n%s", seed, qs, field, typ, diff)
				}
			}
			if n := ix.Cardinality(e, field); n != ref.cardinality {
				t.Fatalf("seed %d: Cardinality(%q, %s) = %d, want %d", seed, qs, field, n, ref.cardinality)
			}
			if diff := gocmp.Diff(ref.percentiles, ix.Percentiles(e, field, percents), approx); diff != "" {
				t.Fatalf("seed %d: Percentiles(%q, %s) mismatch (-want +got):\n%s", seed, qs, field, diff)
			}
			tot, buckets := ix.Buckets(e, field, maxBuckets)
			if diff := gocmp.Diff(ref.buckets, buckets, cmpopts.EquateEmpty()); tot != ref.total || diff != "" {
				t.Fatalf("seed %d: Buckets(%q, %s) total %d (want %d), mismatch (-want +got):\n%s", seed, qs, field, tot, ref.total, diff)
			}
		}
	}
	t.Logf("%d of %d generated queries parsed", parsed, total)
	if parsed < total/3 {
		t.Errorf("only %d of %d generated queries parsed; the generator is off", parsed, total)
	}
}

// TestPropertyPercolator holds the dynamic-group memberships, and the
// changes Put, Delete, AddStanding and RemoveStanding report, to brute
// force over a random sequence of operations.
func TestPropertyPercolator(t *testing.T) {
	seeds, ops := 20, 300
	if testing.Short() {
		seeds = 4
	}
	for seed := range uint64(seeds) {
		g := fleetGen{rand.New(rand.NewPCG(seed, 11))}
		ix := New()
		byName := map[string]map[string]any{}
		groups := map[string]query.Expr{}
		members := func() map[string]map[string]bool {
			m := map[string]map[string]bool{}
			for gname, e := range groups {
				m[gname] = map[string]bool{}
				for n, d := range byName {
					if query.Match(e, d) {
						m[gname][n] = true
					}
				}
			}
			return m
		}
		for op := range ops {
			before := members()
			var got []MembershipChange
			var what string
			switch k := g.r.IntN(20); {
			case k < 2:
				e, err := query.Parse(g.query(0), query.Options{})
				if err != nil {
					continue
				}
				gname := fmt.Sprintf("g%d", g.r.IntN(12))
				groups[gname] = e
				what = "AddStanding(" + gname + ", " + e.String() + ")"
				got = ix.AddStanding(gname, e)
				if _, ok := before[gname]; !ok {
					before[gname] = map[string]bool{}
				}
			case k < 3:
				gname := fmt.Sprintf("g%d", g.r.IntN(12))
				what = "RemoveStanding(" + gname + ")"
				delete(groups, gname)
				got = ix.RemoveStanding(gname)
			case k < 5:
				name := fmt.Sprintf("t%02d", g.r.IntN(40))
				what = "Delete(" + name + ")"
				delete(byName, name)
				got = ix.Delete(name)
			default:
				name := fmt.Sprintf("t%02d", g.r.IntN(40))
				d, ok := byName[name]
				if ok && g.r.IntN(3) > 0 {
					d = g.mutate(d)
				} else {
					d = g.doc(name)
				}
				byName[name] = d
				what = "Put(" + name + ")"
				got = ix.Put(name, d)
			}
			after := members()
			var want []MembershipChange
			for gname := range maps.Keys(cmpUnion(before, after)) {
				for n := range maps.Keys(cmpUnionSet(before[gname], after[gname])) {
					if b, a := before[gname][n], after[gname][n]; b != a {
						want = append(want, MembershipChange{gname, n, a})
					}
				}
			}
			sortChanges(want)
			if diff := gocmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("seed %d op %d: %s changes mismatch (-want +got):\n%s", seed, op, what, diff)
			}
			for gname, m := range after {
				if diff := gocmp.Diff(slices.Sorted(maps.Keys(m)), ix.Members(gname), cmpopts.EquateEmpty()); diff != "" {
					t.Fatalf("seed %d op %d: after %s, Members(%s) mismatch (-want +got):\n%s", seed, op, what, gname, diff)
				}
			}
		}
	}
}

func cmpUnion(a, b map[string]map[string]bool) map[string]bool {
	u := map[string]bool{}
	for k := range a {
		u[k] = true
	}
	for k := range b {
		u[k] = true
	}
	return u
}

func cmpUnionSet(a, b map[string]bool) map[string]bool {
	u := map[string]bool{}
	for k := range a {
		u[k] = true
	}
	for k := range b {
		u[k] = true
	}
	return u
}
