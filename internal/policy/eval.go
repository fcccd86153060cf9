package policy

// Decision is the outcome of evaluating a request (AWS §4.6).
type Decision uint8

// Decisions, with the zero value the safe default.
const (
	// ImplicitDeny: no statement allows the request.
	ImplicitDeny Decision = iota
	// Allowed: a statement allows the request and none denies it.
	Allowed
	// ExplicitDeny: a statement denies the request.
	ExplicitDeny
)

// String returns the authDecision value of TestAuthorization.
func (d Decision) String() string {
	switch d {
	case Allowed:
		return "ALLOWED"
	case ExplicitDeny:
		return "EXPLICIT_DENY"
	default:
		return "IMPLICIT_DENY"
	}
}

// Named is a policy document with the name it is attached under.
type Named struct {
	Name string
	Doc  *Document // nil counts as a policy with no statements
}

// Result is the outcome of Evaluate, shaped as a TestAuthorization AuthResult
// (AWS §4.7). Each evaluated policy is in exactly one of Allowed,
// ExplicitDeny and ImplicitDeny.
type Result struct {
	Decision Decision
	// Allowed names the policies with a matching Allow statement and no
	// matching Deny: allowed.policies.
	Allowed []string
	// ExplicitDeny names the policies with a matching Deny statement:
	// denied.explicitDeny.policies.
	ExplicitDeny []string
	// ImplicitDeny names the policies with no matching statement:
	// denied.implicitDeny.policies.
	ImplicitDeny []string
	// MissingContextValues names the variables and condition keys that had
	// no value in statements whose Action matched: missingContextValues.
	MissingContextValues []string
}

// Evaluate decides whether ctx may perform action on resource (a full ARN)
// under policies (AWS §4.6): any matching Deny wins, then any matching Allow,
// and otherwise the request is implicitly denied. A statement matches when
// one of its actions matches action case-insensitively, one of its resources
// (after variable substitution) matches resource, and all its conditions
// hold.
//
// Evaluate is the reference implementation and reports which policy decided
// what; it allocates. For the per-packet check use Compile.
func Evaluate(policies []Named, ctx Context, action, resource string) Result {
	var r Result
	var miss missing
	for _, p := range policies {
		allow, deny := false, false
		if p.Doc != nil {
			for i := range p.Doc.Statements {
				st := &p.Doc.Statements[i]
				if !st.matchesActionRef(action) {
					continue
				}
				resource := st.matchesResourceRef(&ctx, resource, &miss)
				if st.conditionsHold(&ctx, &miss) && resource {
					if st.Effect == Deny {
						deny = true
					} else {
						allow = true
					}
				}
			}
		}
		switch {
		case deny:
			r.ExplicitDeny = append(r.ExplicitDeny, p.Name)
		case allow:
			r.Allowed = append(r.Allowed, p.Name)
		default:
			r.ImplicitDeny = append(r.ImplicitDeny, p.Name)
		}
	}
	switch {
	case len(r.ExplicitDeny) > 0:
		r.Decision = ExplicitDeny
	case len(r.Allowed) > 0:
		r.Decision = Allowed
	}
	r.MissingContextValues = miss.names
	return r
}

func (st *Statement) matchesActionRef(action string) bool {
	for _, a := range st.Actions {
		if refMatch(escape([]seg{{s: a}}), action, true) {
			return true
		}
	}
	return false
}

// matchesResourceRef substitutes every resource of st (so that miss is
// complete) and reports whether one matches resource.
func (st *Statement) matchesResourceRef(ctx *Context, resource string, miss *missing) bool {
	ok := false
	for i := range st.resources {
		if refMatch(escape(st.resources[i].expand(ctx, miss)), resource, false) {
			ok = true
		}
	}
	return ok
}
