package fleetindex

import (
	"strings"

	"github.com/iotdm/iotdm/internal/query"
)

// plan is a standing query compiled for matchDoc, which percolation runs
// for every Put on the queries whose fields changed: what does not depend
// on the document (parsing numbers, lower-casing and splitting words, the
// postings a field name resolves to) is done once rather than per Put.
type plan struct {
	op   planOp
	expr query.Expr // the query node, for the query.Match fallback
	args []*plan    // opAnd, opOr: the operands; opNot: the one negated

	path string   // the field read ("" for a bare term)
	fs   []*field // ix.fieldsFor(path), resolved at generation gen
	gen  uint64   // ix.fieldGen+1 when fs was resolved, 0 before

	word   string   // opWord: the one lower-cased word
	num    numRange // opWord (when hasNum) and opNumRange: the numbers matched
	hasNum bool
}

type planOp uint8

const (
	opNone     planOp = iota // matches nothing
	opAll                    // matches everything
	opAnd                    // every operand matches
	opOr                     // some operand matches
	opNot                    // the operand does not match
	opExists                 // path:* (AWS §2.3)
	opEmpty                  // a term without words: a leaf without terms
	opWord                   // a one-word term, and an equal number when it is one
	opAnyValue               // a range open at both ends: any leaf
	opNumRange               // a numeric range or comparison
	opMatch                  // query.Match on the decoded document: patterns, phrases, string ranges
)

// compile compiles e as matchDoc answers it; see matchTerm and matchRange
// in eval's terms.
func compile(e query.Expr) *plan {
	switch e := e.(type) {
	case *query.MatchAll:
		return &plan{op: opAll, expr: e}
	case *query.And:
		p := &plan{op: opAnd, expr: e}
		for _, a := range e.Args {
			p.args = append(p.args, compile(a))
		}
		return p
	case *query.Or:
		p := &plan{op: opOr, expr: e}
		for _, a := range e.Args {
			p.args = append(p.args, compile(a))
		}
		return p
	case *query.Not:
		return &plan{op: opNot, expr: e, args: []*plan{compile(e.X)}}
	case *query.Exists:
		return &plan{op: opExists, expr: e, path: e.Field}
	case *query.Term:
		p := &plan{op: opMatch, expr: e, path: e.Field}
		if e.Value.Kind == query.Pattern {
			return p
		}
		if v, ok := e.Value.Number(); ok {
			p.num, p.hasNum = numRange{lo: v, hi: v, loIn: true, hiIn: true}, true
		}
		text := strings.ToLower(e.Value.Text)
		first, i := nextTerm(text, 0)
		switch second, _ := nextTerm(text, i); {
		case first == "":
			p.op = opEmpty
		case second == "":
			p.op, p.word = opWord, first
		}
		return p // phrases: order and adjacency within a value
	case *query.Range:
		return compileRange(e, e.Field, e.Lower, e.Upper)
	case *query.Compare:
		lo, hi := query.Bound{Open: true}, query.Bound{Open: true}
		switch e.Op {
		case query.GT, query.GE:
			lo = query.Bound{Value: e.Value, Inclusive: e.Op == query.GE}
		case query.LT, query.LE:
			hi = query.Bound{Value: e.Value, Inclusive: e.Op == query.LE}
		}
		return compileRange(e, e.Field, lo, hi)
	}
	return &plan{op: opNone, expr: e}
}

func compileRange(e query.Expr, path string, lo, hi query.Bound) *plan {
	p := &plan{op: opMatch, expr: e, path: path} // string ranges
	if lo.Open && hi.Open {
		p.op = opAnyValue
		return p
	}
	ln, lok := lo.Value.Number()
	hn, hok := hi.Value.Number()
	if (lo.Open || lok) && (hi.Open || hok) {
		p.op = opNumRange
		p.num = numRange{lo: ln, hi: hn, loIn: lo.Inclusive, hiIn: hi.Inclusive, loOpen: lo.Open, hiOpen: hi.Open}
	}
	return p
}

// planFields returns the postings p's path reads, resolving them again only
// after the index gained or lost a field.
func (ix *Index) planFields(p *plan) []*field {
	if p.gen != ix.fieldGen+1 {
		p.fs, p.gen = ix.fieldsFor(p.path), ix.fieldGen+1
	}
	return p.fs
}

// matchChange answers p for document n before and after the Put being
// percolated (ix.pdoc), without reading the memberships: a node on a path
// of a top-level section the Put walked is answered from the old and the
// new flattening of that section, a node on another path from the index,
// whose answer the Put left as it was. known is false when the answer
// before cannot be had that way (patterns, phrases, string ranges and bare
// terms on walked sections); now is always the answer after.
func (ix *Index) matchChange(p *plan, n uint32) (was, now, known bool) {
	pd := &ix.pdoc
	switch p.op {
	case opAll:
		return true, true, true
	case opAnd:
		// was is three-valued: false as soon as one operand surely was
		// false, unknown while one is unknown, else true.
		now = true
		wasFalse, unknown := false, false
		for _, a := range p.args {
			w, c, k := ix.matchChange(a, n)
			now = now && c
			wasFalse = wasFalse || k && !w
			unknown = unknown || !k
			if !now && wasFalse {
				break
			}
		}
		return !wasFalse && !unknown, now, wasFalse || !unknown
	case opOr:
		wasTrue, unknown := false, false
		for _, a := range p.args {
			w, c, k := ix.matchChange(a, n)
			now = now || c
			wasTrue = wasTrue || k && w
			unknown = unknown || !k
			if now && wasTrue {
				break
			}
		}
		return wasTrue, now, wasTrue || !unknown
	case opNot:
		was, now, known = ix.matchChange(p.args[0], n)
		return !was, !now, known
	case opExists:
		switch {
		case p.path == "":
			return pd.searchable, ix.searchable.Contains(n), true
		case p.path == "description":
		case pd.walked(p.path):
			_, was = ix.old.exists[p.path]
			_, now = ix.cur.exists[p.path]
			return was, now, true
		default:
			now = ix.matchDoc(p, n)
			return now, now, true
		}
	case opEmpty, opWord, opAnyValue, opNumRange:
		switch {
		case p.path == "" || p.path == "description":
		case pd.walked(p.path):
			return ix.old.match(p), ix.cur.match(p), true
		default:
			now = ix.matchDoc(p, n)
			return now, now, true
		}
	case opMatch:
		if p.path != "" && p.path != "description" && !pd.walked(p.path) {
			now = ix.matchDoc(p, n)
			return now, now, true
		}
	}
	return false, ix.matchDoc(p, n), false
}

// match answers the leaf node p (opEmpty, opWord, opAnyValue, opNumRange)
// from the leaves of f at p's path, as the postings built from them would.
func (f *flat) match(p *plan) bool {
	for i, k := range f.keys {
		if k.path != p.path {
			continue
		}
		for _, l := range f.vals[i] {
			switch p.op {
			case opAnyValue:
				return true
			case opNumRange:
				if l.isNum && p.num.contains(l.num) {
					return true
				}
			case opEmpty:
				if t, _ := nextTerm(l.text, 0); t == "" {
					return true
				}
			case opWord:
				if p.hasNum && l.isNum && p.num.contains(l.num) {
					return true
				}
				for t, j := nextTerm(l.text, 0); t != ""; t, j = nextTerm(l.text, j) {
					if t == p.word {
						return true
					}
				}
			}
		}
	}
	return false
}
