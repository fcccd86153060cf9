package policy

// Checker answers authorization questions for one connection: the policies
// compiled against a fixed Context. Conditions depend only on the context, so
// Compile evaluates them once and keeps the statements whose conditions hold;
// variables are substituted and resource patterns compiled. What is left per
// call is glob matching, which allocates nothing.
//
// A Checker is immutable and safe for concurrent use. It reflects the
// policies and context it was compiled with; compile a new one when either
// changes.
type Checker struct {
	deny  []compiled
	allow []compiled
}

type compiled struct {
	actions   []glob
	resources []glob
}

// Compile compiles policies for ctx. Time-based conditions (aws:CurrentTime,
// aws:EpochTime) are evaluated with ctx.Time, once.
func Compile(policies []Named, ctx Context) *Checker {
	c := &Checker{}
	for _, p := range policies {
		if p.Doc == nil {
			continue
		}
		for i := range p.Doc.Statements {
			st := &p.Doc.Statements[i]
			if !st.conditionsHold(&ctx, nil) {
				continue
			}
			cs := compiled{actions: st.actions, resources: make([]glob, len(st.resources))}
			for j := range st.resources {
				cs.resources[j] = compileGlob(st.resources[j].expand(&ctx, nil), false)
			}
			if st.Effect == Deny {
				c.deny = append(c.deny, cs)
			} else {
				c.allow = append(c.allow, cs)
			}
		}
	}
	return c
}

// Check decides whether the connection may perform action on resource (a
// full ARN). It agrees with Evaluate's Decision and allocates nothing. A nil
// Checker denies everything implicitly.
func (c *Checker) Check(action, resource string) Decision {
	if c == nil {
		return ImplicitDeny
	}
	for i := range c.deny {
		if c.deny[i].match(action, resource) {
			return ExplicitDeny
		}
	}
	for i := range c.allow {
		if c.allow[i].match(action, resource) {
			return Allowed
		}
	}
	return ImplicitDeny
}

// Allowed reports whether Check(action, resource) is Allowed.
func (c *Checker) Allowed(action, resource string) bool {
	return c.Check(action, resource) == Allowed
}

func (cs *compiled) match(action, resource string) bool {
	ok := false
	for i := range cs.actions {
		if cs.actions[i].match(action) {
			ok = true
			break
		}
	}
	if !ok {
		return false
	}
	for i := range cs.resources {
		if cs.resources[i].match(resource) {
			return true
		}
	}
	return false
}
