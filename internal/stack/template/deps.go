package template

import (
	"fmt"
	"sort"
	"strings"
)

// References returns the logical IDs of the resources of t that v refers to
// through Ref, Fn::GetAtt (either form) and Fn::Sub variables ("${A}",
// "${A.Attr}"), deduplicated and sorted. Both branches of a Fn::If count.
func (t *Template) References(v any) []string {
	seen := map[string]bool{}
	t.references(v, seen)
	return sortedKeys(seen)
}

func (t *Template) references(v any, seen map[string]bool) {
	add := func(name string) {
		if _, ok := t.Resources[name]; ok {
			seen[name] = true
		}
	}
	if name, arg, ok := call(v); ok {
		switch name {
		case "Ref":
			if s, ok := arg.(string); ok {
				add(s)
			}
			return
		case "Fn::GetAtt":
			if res, attr, ok := getAttArgs(arg); ok {
				add(res)
				t.references(attr, seen)
				return
			}
		case "Fn::Sub":
			if tmpl, vars, ok := subArgs(arg); ok {
				for _, p := range subParts(tmpl) {
					if _, local := vars[p.text]; p.isVar && !local {
						res, _, _ := strings.Cut(p.text, ".")
						add(res)
					}
				}
				for _, x := range vars {
					t.references(x, seen)
				}
				return
			}
		}
	}
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			t.references(e, seen)
		}
	case []any:
		for _, e := range x {
			t.references(e, seen)
		}
	}
}

// Dependencies returns the resources that resource logicalID must follow:
// its explicit DependsOn and the References of its Properties, Metadata,
// CreationPolicy and UpdatePolicy, only names that are resources of t,
// deduplicated and sorted. Conditions are not evaluated.
func (t *Template) Dependencies(logicalID string) []string {
	r := t.Resources[logicalID]
	if r == nil {
		return nil
	}
	seen := map[string]bool{}
	for _, d := range r.DependsOn {
		if _, ok := t.Resources[d]; ok {
			seen[d] = true
		}
	}
	t.references(r.Properties, seen)
	t.references(r.Metadata, seen)
	t.references(r.CreationPolicy, seen)
	t.references(r.UpdatePolicy, seen)
	return sortedKeys(seen)
}

// Order returns the logical IDs of the resources for which include returns
// true (all of them when include is nil) so that each comes after the
// resources it depends on; among resources free to go next, the one whose
// name sorts first goes first. Dependencies on resources not included are
// ignored. A dependency cycle is an *Errors naming the resources in it.
func (t *Template) Order(include func(logicalID string) bool) ([]string, error) {
	graph := t.graph(include)
	indeg := map[string]int{}
	users := map[string][]string{}
	for id, deps := range graph {
		indeg[id] += 0
		for _, d := range deps {
			indeg[id]++
			users[d] = append(users[d], id)
		}
	}
	var ready []string
	for id, n := range indeg {
		if n == 0 {
			ready = append(ready, id)
		}
	}
	sort.Strings(ready)
	order := make([]string, 0, len(graph))
	for len(ready) > 0 {
		id := ready[0]
		ready = ready[1:]
		order = append(order, id)
		for _, u := range users[id] {
			if indeg[u]--; indeg[u] == 0 {
				i := sort.SearchStrings(ready, u)
				ready = append(ready, "")
				copy(ready[i+1:], ready[i:])
				ready[i] = u
			}
		}
	}
	if len(order) < len(graph) {
		ps := problems{pos: t.pos}
		for _, c := range cycles(graph) {
			ps.add("Resources", "%s", cycleMessage("resources", c))
		}
		return nil, ps.err()
	}
	return order, nil
}

// graph maps each included resource to its included dependencies.
func (t *Template) graph(include func(string) bool) map[string][]string {
	g := map[string][]string{}
	for id := range t.Resources {
		if include != nil && !include(id) {
			continue
		}
		g[id] = nil
	}
	for id := range g {
		for _, d := range t.Dependencies(id) {
			if _, ok := g[d]; ok {
				g[id] = append(g[id], d)
			}
		}
	}
	return g
}

func cycleMessage(what string, names []string) string {
	return fmt.Sprintf("Template format error: Circular dependency between %s: [%s]", what, strings.Join(names, ", "))
}

// cycles returns the strongly connected components of g that hold a cycle,
// each sorted, ordered by their first name (Tarjan's algorithm).
func cycles(g map[string][]string) [][]string {
	index := map[string]int{}
	low := map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	var out [][]string
	next := 0
	var visit func(v string)
	visit = func(v string) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		self := false
		for _, w := range g[v] {
			if w == v {
				self = true
			}
			if _, seen := index[w]; !seen {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] != index[v] {
			return
		}
		var comp []string
		for {
			w := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[w] = false
			comp = append(comp, w)
			if w == v {
				break
			}
		}
		if len(comp) > 1 || self {
			sort.Strings(comp)
			out = append(out, comp)
		}
	}
	for _, v := range sortedKeys(g) {
		if _, seen := index[v]; !seen {
			visit(v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
