package fleetindex

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/iotdm/iotdm/internal/query"
)

// loadFleet decodes the query package's seed fleet, the same documents its
// Match script runs on.
func loadFleet(t testing.TB, useNumber bool) []map[string]any {
	t.Helper()
	b, err := os.ReadFile("../query/testdata/fleet.json")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if useNumber {
		dec.UseNumber()
	}
	var fleet []map[string]any
	if err := dec.Decode(&fleet); err != nil {
		t.Fatal(err)
	}
	return fleet
}

func mustParse(t testing.TB, q string) query.Expr {
	t.Helper()
	e, err := query.Parse(q, query.Options{})
	if err != nil {
		t.Fatalf("Parse(%q): %v", q, err)
	}
	return e
}

func build(t testing.TB, fleet []map[string]any) *Index {
	t.Helper()
	ix := New()
	for _, d := range fleet {
		ix.Put(d["thingName"].(string), d)
	}
	return ix
}

// TestMatchScript runs every case of query's match.txt against the index:
// the index must answer what query.Match answers.
func TestMatchScript(t *testing.T) {
	f, err := os.Open("../query/testdata/match.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type tc struct {
		line  int
		query string
		want  []string
	}
	var cases []tc
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "query: "):
			cases = append(cases, tc{line: n, query: strings.TrimPrefix(line, "query: ")})
		case strings.HasPrefix(line, "want:"):
			cases[len(cases)-1].want = strings.Fields(strings.TrimPrefix(line, "want:"))
		}
	}
	if len(cases) == 0 {
		t.Fatal("no cases")
	}
	for _, useNumber := range []bool{false, true} {
		fleet := loadFleet(t, useNumber)
		ix := build(t, fleet)
		for _, c := range cases {
			e := mustParse(t, c.query)
			got := ix.Search(e)
			want := append([]string(nil), c.want...)
			slices.Sort(want)
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("match.txt:%d (useNumber=%v): Search(%q) mismatch (-want +got):\n%s", c.line, useNumber, c.query, diff)
			}
			if n := ix.Count(e); n != len(want) {
				t.Errorf("match.txt:%d: Count(%q) = %d, want %d", c.line, c.query, n, len(want))
			}
		}
	}
}

// goFleet is a small fleet built in Go, with the value types query.Match
// accepts besides decoded JSON.
func goFleet() []map[string]any {
	return []map[string]any{
		{
			"thingName":       "alpha",
			"thingGroupNames": []string{"Fleet", "North"},
			"attributes":      map[string]string{"model": "X 100", "temp": "20.5", "serial": "12345678901234567890"},
			"shadow": map[string]any{
				"reported": map[string]any{"battery": 80, "on": true, "vals": []any{1, 2, 3}, "pos": map[string]any{"x": 1.5}},
				"delta":    map[string]any{"battery": 90},
				"name":     map[string]any{"cfg": map[string]any{"reported": map[string]any{"mode": "eco"}}},
			},
			"connectivity": map[string]any{"connected": true, "timestamp": int64(1000)},
		},
		{
			"thingName":       "beta",
			"thingGroupNames": []any{"Fleet"},
			"attributes":      map[string]any{"model": "x 200", "temp": "25"},
			"shadow": map[string]any{
				"reported": map[string]any{"battery": 15.0, "on": false, "pos.x": 3, "objs": []any{map[string]any{"a": 1}}},
				"hasDelta": false,
				"version":  9,
			},
			"connectivity": map[string]any{"connected": false, "timestamp": int64(2000), "disconnectReason": "CLIENT_INITIATED_DISCONNECT"},
		},
		{
			"thingName":  "gamma",
			"attributes": map[string]any{"model": "", "temp": "abc", "note": "hot day"},
			"shadow":     map[string]any{"reported": map[string]any{"battery": json.Number("55"), "label": "Hot Day Today"}},
		},
		{"thingName": "delta"},
	}
}

func TestSearchTable(t *testing.T) {
	ix := build(t, goFleet())
	tests := []struct {
		q    string
		want []string
	}{
		{"*", []string{"alpha", "beta", "delta", "gamma"}},
		{"thingGroupNames:fleet", []string{"alpha", "beta"}},
		{"attributes.model:x", []string{"alpha", "beta"}},
		{`attributes.model:"x 100"`, []string{"alpha"}},
		{`attributes.model:""`, []string{"gamma"}},
		{"attributes.temp>20", []string{"alpha", "beta"}},
		{"attributes.temp:[20.5 TO 25}", []string{"alpha"}},
		{`attributes.temp:["a" TO "b"]`, []string{"gamma"}},
		{"attributes.serial:12345678901234567890", []string{"alpha"}},
		{"attributes.serial>1", nil}, // AWS §2.2: beyond 2^53 it is text
		{"shadow.reported.battery:80", []string{"alpha"}},
		{"shadow.reported.battery:80.0", []string{"alpha"}},
		{"shadow.reported.battery<=55", []string{"beta", "gamma"}},
		{"shadow.reported.vals:2", []string{"alpha"}},
		{"shadow.reported.pos.x:*", []string{"alpha", "beta"}},
		{"shadow.reported.pos.x>1", []string{"alpha", "beta"}},
		{"shadow.reported.pos:*", []string{"alpha"}},
		{"shadow.reported.objs:*", nil},
		{"shadow.reported.objs.a:1", nil},
		{"shadow.hasDelta:true", []string{"alpha"}},
		{"shadow.hasDelta:false", []string{"beta", "gamma"}},
		{"shadow.name.cfg.hasDelta:false", []string{"alpha"}},
		{"shadow.name.cfg.reported.mode:ECO", []string{"alpha"}},
		{"connectivity.connected:false", []string{"beta"}},
		{"connectivity.timestamp:[1000 TO 2000}", []string{"alpha"}},
		{"client_initiated_disconnect", nil}, // bare terms skip connectivity
		{"hot", []string{"gamma"}},
		{`"hot day"`, []string{"gamma"}},
		{`"day hot"`, nil},
		{"ho?", []string{"gamma"}},
		{"*ay", []string{"gamma"}},
		{"thingName:*", []string{"alpha", "beta", "delta", "gamma"}},
		{"NOT shadow.reported.battery:*", []string{"delta"}},
		{"9", nil}, // AWS §2.1: shadow.version is not searched
		{"-thingGroupNames:fleet AND attributes.model:*", []string{"gamma"}},
		{"thingName:(alpha OR gamma) -hot", []string{"alpha"}},
	}
	for _, tt := range tests {
		e := mustParse(t, tt.q)
		if diff := cmp.Diff(tt.want, ix.Search(e), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Search(%q) mismatch (-want +got):\n%s", tt.q, diff)
		}
		for _, d := range goFleet() {
			got := slices.Contains(ix.Search(e), d["thingName"].(string))
			if got != query.Match(e, d) {
				t.Errorf("Search(%q) has %v = %v, query.Match says %v", tt.q, d["thingName"], got, !got)
			}
		}
	}
}

func TestSearchPage(t *testing.T) {
	ix := New()
	for _, id := range []string{"d", "a", "c", "e", "b"} {
		ix.Put(id, map[string]any{"thingName": id})
	}
	all := mustParse(t, "*")
	var got []string
	after := ""
	for pages := 0; ; pages++ {
		ids, next := ix.SearchPage(all, after, 2)
		got = append(got, ids...)
		if next == "" {
			if pages != 2 {
				t.Errorf("SearchPage took %d pages, want 3", pages+1)
			}
			break
		}
		after = next
	}
	if diff := cmp.Diff([]string{"a", "b", "c", "d", "e"}, got); diff != "" {
		t.Errorf("pages mismatch (-want +got):\n%s", diff)
	}
	if ids, next := ix.SearchPage(all, "", 5); len(ids) != 5 || next != "" {
		t.Errorf("SearchPage(*, \"\", 5) = %v, %q; want 5 ids and no next", ids, next)
	}
}

func TestPutReplaceAndDelete(t *testing.T) {
	ix := New()
	ix.Put("a", map[string]any{"attributes": map[string]any{"x": "1"}})
	ix.Put("a", map[string]any{"attributes": map[string]any{"y": "2"}})
	if n := ix.Count(mustParse(t, "attributes.x:*")); n != 0 {
		t.Errorf("after replace, Count(attributes.x:*) = %d, want 0", n)
	}
	if n := ix.Count(mustParse(t, "attributes.y<3")); n != 1 {
		t.Errorf("after replace, Count(attributes.y<3) = %d, want 1", n)
	}
	ix.Delete("a")
	ix.Delete("missing")
	if ix.Len() != 0 || ix.Count(mustParse(t, "*")) != 0 {
		t.Errorf("after Delete, Len = %d, want 0", ix.Len())
	}
	if len(ix.fields) != 0 || len(ix.exists) != 0 {
		t.Errorf("after Delete, %d fields and %d exists paths remain, want none", len(ix.fields), len(ix.exists))
	}
}

func TestAggregations(t *testing.T) {
	ix := New()
	// AWS §2.5 example: count 3, sum 100, sumOfSquares 43750 → variance 13472.22…
	for i, v := range []string{"-25", "0", "125"} {
		ix.Put(string(rune('a'+i)), map[string]any{"attributes": map[string]any{"v": v, "ok": i != 1, "s": "x"}})
	}
	ix.Put("d", map[string]any{"attributes": map[string]any{"v": "n/a"}})
	all := mustParse(t, "*")
	s := ix.Statistics(all, "attributes.v", query.Number)
	if s.Count != 3 || *s.Sum != 100 || *s.SumOfSquares != 16250 {
		t.Errorf("Statistics = count %d sum %v sumSq %v", s.Count, *s.Sum, *s.SumOfSquares)
	}
	ix.Put("c", map[string]any{"attributes": map[string]any{"v": "25"}})
	ix.Put("b", map[string]any{"attributes": map[string]any{"v": "200"}})
	ix.Put("a", map[string]any{"attributes": map[string]any{"v": "-125"}})
	s = ix.Statistics(all, "attributes.v", query.Number)
	if s.Count != 3 || *s.Sum != 100 || *s.SumOfSquares != 56250 {
		t.Errorf("Statistics = count %d sum %v sumSq %v, want 3 100 56250", s.Count, *s.Sum, *s.SumOfSquares)
	}
	ix = New()
	for i, v := range []float64{0, 50, 50} {
		_ = i
		ix.Put(string(rune('a'+i)), map[string]any{"shadow": map[string]any{"reported": map[string]any{"v": v * 5}}})
	}
	s = ix.Statistics(all, "shadow.reported.v", query.Number)
	// values 0, 250, 250: count 3, sum 500
	if s.Count != 3 || *s.Sum != 500 || *s.Minimum != 0 || *s.Maximum != 250 {
		t.Errorf("Statistics = %+v", s)
	}
	if v := *s.Variance; v < 13888.88 || v > 13888.89 {
		t.Errorf("population variance = %v, want 13888.88…", v)
	}
	ix = New()
	ix.Put("a", map[string]any{"connectivity": map[string]any{"connected": true}})
	ix.Put("b", map[string]any{"connectivity": map[string]any{"connected": false}})
	ix.Put("c", map[string]any{"connectivity": map[string]any{"connected": true}})
	b := ix.Statistics(all, "connectivity.connected", query.Boolean)
	if b.Count != 3 || *b.Sum != 2 || *b.Minimum != 0 || *b.Maximum != 1 || *b.Average != 2.0/3 {
		t.Errorf("boolean Statistics = %+v", b)
	}
	str := ix.Statistics(all, "connectivity.connected", query.String)
	if str.Count != 3 || str.Sum != nil {
		t.Errorf("string Statistics = %+v, want only count 3", str)
	}
	if n := ix.Cardinality(all, "connectivity.connected"); n != 2 {
		t.Errorf("Cardinality = %d, want 2", n)
	}
	total, buckets := ix.Buckets(all, "connectivity.connected", 0)
	if diff := cmp.Diff([]Bucket{{"true", 2}, {"false", 1}}, buckets); total != 3 || diff != "" {
		t.Errorf("Buckets total %d, mismatch (-want +got):\n%s", total, diff)
	}
	if p := ix.Percentiles(all, "connectivity.connected", nil); len(p) != 0 {
		t.Errorf("Percentiles of a boolean = %v, want empty", p)
	}
	ix.Put("d", map[string]any{"attributes": map[string]any{"v": "1e308"}})
	ix.Put("e", map[string]any{"attributes": map[string]any{"v": "1e308"}})
	if s := ix.Statistics(all, "attributes.v", query.Number); s.Count != 2 || s.Sum != nil {
		t.Errorf("overflowing Statistics = %+v, want count 2 and no numbers", s)
	}
	ix = New()
	for i := 1; i <= 5; i++ {
		ix.Put(string(rune('a'+i)), map[string]any{"attributes": map[string]any{"v": json.Number(string(rune('0' + i)))}})
	}
	p := ix.Percentiles(all, "attributes.v", []float64{50, 0, 100, 25, 10})
	want := []Percentile{{50, 3}, {0, 1}, {100, 5}, {25, 2}, {10, 1.4}}
	if diff := cmp.Diff(want, p, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("Percentiles mismatch (-want +got):\n%s", diff)
	}
}

func TestPercolatorTable(t *testing.T) {
	ix := New()
	ix.Put("a", map[string]any{"attributes": map[string]any{"temp": "30"}})
	got := ix.AddStanding("hot", mustParse(t, "attributes.temp>25"))
	if diff := cmp.Diff([]MembershipChange{{"hot", "a", true}}, got); diff != "" {
		t.Errorf("AddStanding mismatch (-want +got):\n%s", diff)
	}
	ix.AddStanding("all", mustParse(t, "*"))
	got = ix.Put("b", map[string]any{"attributes": map[string]any{"temp": "20"}})
	if diff := cmp.Diff([]MembershipChange{{"all", "b", true}}, got); diff != "" {
		t.Errorf("Put(b) mismatch (-want +got):\n%s", diff)
	}
	got = ix.Put("a", map[string]any{"attributes": map[string]any{"temp": "10"}})
	if diff := cmp.Diff([]MembershipChange{{"hot", "a", false}}, got); diff != "" {
		t.Errorf("Put(a cold) mismatch (-want +got):\n%s", diff)
	}
	got = ix.Put("b", map[string]any{"attributes": map[string]any{"temp": "40"}})
	if diff := cmp.Diff([]MembershipChange{{"hot", "b", true}}, got); diff != "" {
		t.Errorf("Put(b hot) mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"all", "hot"}, ix.Groups("b")); diff != "" {
		t.Errorf("Groups(b) mismatch (-want +got):\n%s", diff)
	}
	got = ix.AddStanding("hot", mustParse(t, "attributes.temp<25"))
	if diff := cmp.Diff([]MembershipChange{{"hot", "a", true}, {"hot", "b", false}}, got); diff != "" {
		t.Errorf("AddStanding(update) mismatch (-want +got):\n%s", diff)
	}
	got = ix.Delete("a")
	if diff := cmp.Diff([]MembershipChange{{"all", "a", false}, {"hot", "a", false}}, got); diff != "" {
		t.Errorf("Delete(a) mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"b"}, ix.Members("all")); diff != "" {
		t.Errorf("Members(all) mismatch (-want +got):\n%s", diff)
	}
	got = ix.RemoveStanding("all")
	if diff := cmp.Diff([]MembershipChange{{"all", "b", false}}, got); diff != "" {
		t.Errorf("RemoveStanding mismatch (-want +got):\n%s", diff)
	}
	if ix.Members("all") != nil {
		t.Errorf("Members of a removed group = %v, want nil", ix.Members("all"))
	}
}

// TestConcurrentReaders runs one writer against several readers (run with
// -race).
func TestConcurrentReaders(t *testing.T) {
	ix := New()
	ix.AddStanding("hot", mustParse(t, "attributes.temp>50"))
	qs := []query.Expr{mustParse(t, "attributes.temp>50"), mustParse(t, "attributes.model:m*"), mustParse(t, "*")}
	done := make(chan struct{})
	var wg sync.WaitGroup
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				e := qs[r%len(qs)]
				ix.SearchPage(e, "", 10)
				ix.Statistics(e, "attributes.temp", query.Number)
				ix.Percentiles(e, "attributes.temp", nil)
				ix.Members("hot")
			}
		}()
	}
	for i := range 3000 {
		id := strconv.Itoa(i % 300)
		if i%7 == 0 {
			ix.Delete(id)
			continue
		}
		ix.Put(id, map[string]any{"attributes": map[string]any{"temp": strconv.Itoa(i % 100), "model": "m" + strconv.Itoa(i%13)}})
	}
	close(done)
	wg.Wait()
}
