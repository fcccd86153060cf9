package template

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with a template, or one failure to evaluate it.
type Problem struct {
	// Path locates the value, section and names joined with "/", list
	// items by index: "Resources/MyThing/Properties/Tags/0/Value". It is
	// "" for the template as a whole.
	Path string
	// Line and Column locate the value in the body, counted from 1; both
	// are 0 when unknown (a template built by hand, or a syntax error
	// without a position).
	Line, Column int
	// Message is CloudFormation's wording where it is known, e.g.
	// "Template format error: Unresolved resource dependencies [X] in the
	// Resources block of the template".
	Message string
	// Err is the error a Context callback returned, when the problem wraps
	// one; errors.Is and errors.As see it through *Errors.
	Err error
}

func (p Problem) String() string {
	var loc []string
	if p.Path != "" {
		loc = append(loc, p.Path)
	}
	if p.Line > 0 {
		loc = append(loc, fmt.Sprintf("line %d, column %d", p.Line, p.Column))
	}
	if len(loc) == 0 {
		return p.Message
	}
	return p.Message + " (" + strings.Join(loc, ", ") + ")"
}

// Errors is every problem found at once. Parse, Validate, ResolveParameters,
// EvalConditions, CheckRules and Eval return their errors as *Errors; callers
// return them as a ValidationError.
type Errors struct {
	Problems []Problem
}

// Error joins the problems with "; ". A single problem's Message is
// CloudFormation's wording followed by its location in parentheses.
func (e *Errors) Error() string {
	s := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		s[i] = p.String()
	}
	return strings.Join(s, "; ")
}

// Unwrap returns the callback errors the problems wrap.
func (e *Errors) Unwrap() []error {
	var errs []error
	for _, p := range e.Problems {
		if p.Err != nil {
			errs = append(errs, p.Err)
		}
	}
	return errs
}

// position is where a value starts in the body, counted from 1.
type position struct{ line, col int }

// problems collects problems, locating them through a position table.
type problems struct {
	pos  map[string]position
	list []Problem
}

func (ps *problems) add(path, format string, args ...any) {
	ps.list = append(ps.list, locate(ps.pos, Problem{Path: path, Message: fmt.Sprintf(format, args...)}))
}

// err returns the problems sorted by position, or nil.
func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	return newErrors(ps.list)
}

func newErrors(list []Problem) *Errors {
	list = append([]Problem(nil), list...)
	sort.SliceStable(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if (a.Line == 0) != (b.Line == 0) {
			return b.Line == 0
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	// The same problem found twice (a value reached by two routes) is
	// reported once.
	out := list[:0]
	for i, p := range list {
		if i > 0 && p.Path == list[i-1].Path && p.Message == list[i-1].Message {
			continue
		}
		out = append(out, p)
	}
	return &Errors{Problems: out}
}

// locate fills in p's line and column from the nearest recorded ancestor of
// its path.
func locate(pos map[string]position, p Problem) Problem {
	if pos == nil || p.Line != 0 {
		return p
	}
	path := p.Path
	for {
		if at, ok := pos[path]; ok {
			p.Line, p.Column = at.line, at.col
			return p
		}
		i := strings.LastIndexByte(path, '/')
		if i < 0 {
			if path != "" {
				path = ""
				continue
			}
			return p
		}
		path = path[:i]
	}
}

// join appends a path element.
func join(path string, elem any) string {
	var s string
	switch e := elem.(type) {
	case string:
		s = e
	case int:
		s = fmt.Sprint(e)
	}
	if path == "" {
		return s
	}
	return path + "/" + s
}

// Locate returns p with its Line and Column set from where the value at
// p.Path (or its nearest enclosing value) was written in the body t was
// parsed from, for problems found outside this package, e.g. by a
// resource provider checking properties. p is returned unchanged when it
// already has a position or t was not parsed.
func (t *Template) Locate(p Problem) Problem {
	return locate(t.pos, p)
}
