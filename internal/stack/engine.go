package stack

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/iotdm/iotdm/internal/stack/template"
)

// Stack and resource statuses, as CloudFormation names them.
const (
	CreateInProgress                        = "CREATE_IN_PROGRESS"
	CreateFailed                            = "CREATE_FAILED"
	CreateComplete                          = "CREATE_COMPLETE"
	RollbackInProgress                      = "ROLLBACK_IN_PROGRESS"
	RollbackFailed                          = "ROLLBACK_FAILED"
	RollbackComplete                        = "ROLLBACK_COMPLETE"
	DeleteInProgress                        = "DELETE_IN_PROGRESS"
	DeleteFailed                            = "DELETE_FAILED"
	DeleteComplete                          = "DELETE_COMPLETE"
	DeleteSkipped                           = "DELETE_SKIPPED"
	UpdateInProgress                        = "UPDATE_IN_PROGRESS"
	UpdateCompleteCleanupInProgress         = "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
	UpdateComplete                          = "UPDATE_COMPLETE"
	UpdateFailed                            = "UPDATE_FAILED"
	UpdateRollbackInProgress                = "UPDATE_ROLLBACK_IN_PROGRESS"
	UpdateRollbackFailed                    = "UPDATE_ROLLBACK_FAILED"
	UpdateRollbackCompleteCleanupInProgress = "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"
	UpdateRollbackComplete                  = "UPDATE_ROLLBACK_COMPLETE"
	ReviewInProgress                        = "REVIEW_IN_PROGRESS"
)

// stackResourceType is the ResourceType of a stack's own events.
const stackResourceType = "AWS::CloudFormation::Stack"

// Recorder persists a stack after each step, with the event the step
// produced (nil for none), in one write.
type Recorder interface {
	Record(ctx context.Context, st *Stack, ev *Event) error
}

// Exports answers what other stacks export and import.
type Exports interface {
	// Export returns the export named name.
	Export(ctx context.Context, name string) (Export, bool, error)
	// Importers returns the names of the stacks that import name.
	Importers(ctx context.Context, name string) ([]string, error)
}

// Engine plans and applies templates onto stacks with the providers of its
// catalog. It keeps no state: everything lives in the Stack it is given
// and what its Recorder persists.
type Engine struct {
	catalog *Catalog
	region  string
	account string
	exports Exports
	now     func() time.Time
	logger  *slog.Logger
}

// EngineOptions configures an Engine.
type EngineOptions struct {
	Region, AccountID string
	Exports           Exports
	Now               func() time.Time
	Logger            *slog.Logger
}

// NewEngine returns an engine over the catalog.
func NewEngine(c *Catalog, opts EngineOptions) *Engine {
	e := &Engine{catalog: c, region: opts.Region, account: opts.AccountID, exports: opts.Exports, now: opts.Now, logger: opts.Logger}
	if e.now == nil {
		e.now = time.Now
	}
	if e.logger == nil {
		e.logger = slog.Default()
	}
	if e.exports == nil {
		e.exports = noExports{}
	}
	return e
}

type noExports struct{}

func (noExports) Export(context.Context, string) (Export, bool, error) { return Export{}, false, nil }
func (noExports) Importers(context.Context, string) ([]string, error)  { return nil, nil }

// Target is what a stack is to become: a parsed template and its resolved
// parameter values.
type Target struct {
	Template   *template.Template
	Body       string
	Parameters map[string]any // from Template.ResolveParameters
	Records    []Parameter    // the same, as stored
	Tags       []Tag
}

// ResourceError is a failure of one resource; the stack's status reason
// names the resource.
type ResourceError struct {
	LogicalID string
	Err       error
}

func (e *ResourceError) Error() string { return e.LogicalID + ": " + e.Err.Error() }
func (e *ResourceError) Unwrap() error { return e.Err }

// Pseudo returns the pseudo parameters of st.
func (e *Engine) Pseudo(st *Stack) template.Pseudo {
	return template.Pseudo{
		AccountID: e.account, Region: e.region, StackName: st.StackName, StackID: st.StackID,
		Partition: "aws", URLSuffix: "amazonaws.com", NotificationARNs: st.NotificationARNs,
	}
}

// Check reports what the template asks of the catalog that it cannot do:
// unsupported types, unknown and missing properties, unknown attributes.
// It complements template.Validate, whose problems it is meant to be
// joined with.
func (e *Engine) Check(t *template.Template) []template.Problem {
	var out []template.Problem
	for _, id := range t.ResourceOrder {
		r := t.Resources[id]
		typ, ok := e.catalog.Lookup(r.Type)
		if !ok {
			continue // template.Validate reports it
		}
		path := "Resources/" + id + "/Properties"
		for _, name := range sortedKeys(r.Properties) {
			if !slices.Contains(typ.Properties, name) {
				out = append(out, template.Problem{Path: path + "/" + name,
					Message: fmt.Sprintf("Encountered unsupported property %s", name)})
			}
		}
		for _, name := range typ.Required {
			if _, ok := r.Properties[name]; !ok {
				out = append(out, template.Problem{Path: path,
					Message: fmt.Sprintf("Property %s of resource type %s is required", name, r.Type)})
			}
		}
	}
	walkGetAtt(t, func(path, res, attr string) {
		r, ok := t.Resources[res]
		if !ok {
			return
		}
		typ, ok := e.catalog.Lookup(r.Type)
		if !ok || slices.Contains(typ.Attributes, attr) {
			return
		}
		out = append(out, template.Problem{Path: path,
			Message: fmt.Sprintf("Template error: resource %s does not support attribute type %s in Fn::GetAtt", res, attr)})
	})
	return out
}

// walkGetAtt calls fn for every literal Fn::GetAtt and ${A.B} reference in
// the template's resources and outputs.
func walkGetAtt(t *template.Template, fn func(path, res, attr string)) {
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if len(x) == 1 {
				if args, ok := x["Fn::GetAtt"]; ok {
					switch a := args.(type) {
					case []any:
						if len(a) == 2 {
							res, ok1 := a[0].(string)
							attr, ok2 := a[1].(string)
							if ok1 && ok2 {
								fn(path, res, attr)
							}
						}
					case string:
						if res, attr, ok := strings.Cut(a, "."); ok {
							fn(path, res, attr)
						}
					}
				}
				if args, ok := x["Fn::Sub"]; ok {
					var s string
					switch a := args.(type) {
					case string:
						s = a
					case []any:
						if len(a) > 0 {
							s, _ = a[0].(string)
						}
					}
					for _, ref := range subVariables(s) {
						if res, attr, ok := strings.Cut(ref, "."); ok {
							fn(path, res, attr)
						}
					}
				}
			}
			for _, k := range sortedKeys(x) {
				walk(path+"/"+k, x[k])
			}
		case []any:
			for i, e := range x {
				walk(path+"/"+strconv.Itoa(i), e)
			}
		}
	}
	for _, id := range t.ResourceOrder {
		walk("Resources/"+id+"/Properties", t.Resources[id].Properties)
	}
	for _, id := range t.OutputOrder {
		walk("Outputs/"+id+"/Value", t.Outputs[id].Value)
	}
}

// subVariables returns the ${...} names of a Fn::Sub string, skipping ${!...}.
func subVariables(s string) []string {
	var out []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			return out
		}
		s = s[i+2:]
		j := strings.IndexByte(s, '}')
		if j < 0 {
			return out
		}
		if name := s[:j]; !strings.HasPrefix(name, "!") {
			out = append(out, strings.TrimSpace(name))
		}
		s = s[j+1:]
	}
}

// context returns the evaluation context of a deployment of st. Refs read
// the stack's resources as they are at the time of each call.
func (e *Engine) context(ctx context.Context, st *Stack, params map[string]any, imports *[]string) *template.Context {
	return &template.Context{
		Parameters: params,
		Pseudo:     e.Pseudo(st),
		Ref: func(id string) (string, error) {
			r, ok := st.Resources[id]
			if !ok || r.PhysicalID == "" {
				return "", fmt.Errorf("Template error: resource %s has not been created", id)
			}
			return r.PhysicalID, nil
		},
		GetAtt: func(id, attr string) (any, error) {
			r, ok := st.Resources[id]
			if !ok || r.PhysicalID == "" {
				return nil, fmt.Errorf("Template error: resource %s has not been created", id)
			}
			v, ok := r.Attributes[attr]
			if !ok {
				return nil, fmt.Errorf("Template error: resource %s does not support attribute type %s in Fn::GetAtt", id, attr)
			}
			return v, nil
		},
		ImportValue: func(name string) (string, error) {
			ex, ok, err := e.exports.Export(ctx, name)
			if err != nil {
				return "", err
			}
			if !ok {
				return "", fmt.Errorf("No export named %s found", name)
			}
			if imports != nil && !slices.Contains(*imports, name) {
				*imports = append(*imports, name)
			}
			return ex.Value, nil
		},
	}
}

// Prepare evaluates the conditions and rules of t for st; it is what
// CreateStack, UpdateStack and CreateChangeSet check before answering.
func (e *Engine) Prepare(ctx context.Context, st *Stack, t *Target) (*template.Context, error) {
	c := e.context(ctx, st, t.Parameters, nil)
	conds, err := t.Template.EvalConditions(c)
	if err != nil {
		return nil, err
	}
	c.Conditions = conds
	if err := t.Template.CheckRules(c); err != nil {
		return nil, err
	}
	return c, nil
}

// included returns the resources of t whose conditions hold, in order.
func included(t *template.Template, conds map[string]bool) ([]string, error) {
	return t.Order(func(id string) bool {
		c := t.Resources[id].Condition
		return c == "" || conds[c]
	})
}

// step is one applied change, for rollback.
type step struct {
	kind string // created, updated, replaced
	id   string
	old  *Resource // the resource before the step (updated, replaced)
	new  *Resource // the resource the step created (created, replaced)
}

// deployment is one Create or Update in progress.
type deployment struct {
	e        *Engine
	st       *Stack
	t        *Target
	rec      Recorder
	creating bool
	steps    []step
	retired  []*Resource // replaced resources, deleted at cleanup
}

// Create deploys t onto a new stack st (status CREATE_IN_PROGRESS,
// already recorded). On failure it rolls back unless st.DisableRollback.
// It returns the error that failed the stack, after recording the outcome.
func (e *Engine) Create(ctx context.Context, st *Stack, t *Target, rec Recorder) error {
	d := &deployment{e: e, st: st, t: t, rec: rec, creating: true}
	return d.run(ctx, nil)
}

// Update deploys t onto st (status UPDATE_IN_PROGRESS, already recorded),
// rolling back to prev, the stack as it was, on failure.
func (e *Engine) Update(ctx context.Context, st, prev *Stack, t *Target, rec Recorder) error {
	d := &deployment{e: e, st: st, t: t, rec: rec}
	return d.run(ctx, prev)
}

func (d *deployment) run(ctx context.Context, prev *Stack) error {
	st := d.st
	if st.Resources == nil {
		st.Resources = map[string]*Resource{}
	}
	var imports []string
	c := d.e.context(ctx, st, d.t.Parameters, &imports)
	conds, err := d.t.Template.EvalConditions(c)
	if err == nil {
		c.Conditions = conds
		err = d.t.Template.CheckRules(c)
	}
	var order []string
	if err == nil {
		order, err = included(d.t.Template, conds)
	}
	if err != nil {
		return d.fail(ctx, prev, err)
	}
	for _, id := range order {
		if err := ctx.Err(); err != nil {
			return d.fail(ctx, prev, err)
		}
		if err := d.apply(ctx, c, id); err != nil {
			return d.fail(ctx, prev, &ResourceError{LogicalID: id, Err: err})
		}
	}
	outputs, err := d.outputs(ctx, c)
	if err != nil {
		return d.fail(ctx, prev, err)
	}
	if prev != nil {
		if err := d.checkExportsInUse(ctx, prev, outputs); err != nil {
			return d.fail(ctx, prev, err)
		}
	}
	st.Outputs = outputs
	sort.Strings(imports)
	st.Imports = imports
	st.TemplateBody = d.t.Body
	st.Parameters = d.t.Records

	keep := make(map[string]bool, len(order))
	for _, id := range order {
		keep[id] = true
	}
	if d.creating {
		st.Status, st.StatusReason = CreateComplete, ""
		return d.recordStack(ctx)
	}
	st.Status, st.StatusReason = UpdateCompleteCleanupInProgress, ""
	if err := d.recordStack(ctx); err != nil {
		return err
	}
	var gone []*Resource
	for id, r := range st.Resources {
		if !keep[id] {
			gone = append(gone, r)
		}
	}
	gone = append(gone, d.retired...)
	d.cleanup(ctx, gone, false)
	st.Status, st.StatusReason = UpdateComplete, ""
	return d.recordStack(ctx)
}

// apply creates, updates or replaces one resource.
func (d *deployment) apply(ctx context.Context, c *template.Context, id string) error {
	st, tr := d.st, d.t.Template.Resources[id]
	typ, ok := d.e.catalog.Lookup(tr.Type)
	if !ok {
		return fmt.Errorf("Unsupported resource type: %s", tr.Type)
	}
	old := st.Resources[id]
	props, err := d.properties(c, id, typ)
	if err == nil && old != nil && old.Type != tr.Type {
		err = fmt.Errorf("Update of resource type is not permitted. The new template modifies resource type of the following resources: [%s]", id)
	}
	if err != nil {
		return d.refuse(ctx, id, tr.Type, props, err)
	}
	deps := d.t.Template.Dependencies(id)
	if old == nil || old.PhysicalID == "" {
		res := &Resource{LogicalID: id, Type: tr.Type, Properties: props, DependsOn: deps,
			DeletionPolicy: tr.DeletionPolicy, UpdateReplacePolicy: tr.UpdateReplacePolicy, Metadata: tr.Metadata}
		if err := d.create(ctx, typ, res, CreateInProgress, "", CreateComplete, CreateFailed); err != nil {
			return err
		}
		d.steps = append(d.steps, step{kind: "created", id: id, new: res})
		return nil
	}
	// Resource attributes that are not properties change without touching
	// the resource.
	old.DependsOn, old.DeletionPolicy, old.UpdateReplacePolicy, old.Metadata = deps, tr.DeletionPolicy, tr.UpdateReplacePolicy, tr.Metadata
	changed := changedKeys(old.Properties, props)
	if len(changed) == 0 {
		return nil
	}
	replace := slices.ContainsFunc(changed, func(k string) bool { return typ.replaces(k, old.Properties, props) })
	if replace {
		if n := typ.NameProperty; n != "" && props[n] != nil && jsonEqual(props[n], old.Properties[n]) {
			return d.refuse(ctx, id, tr.Type, props, fmt.Errorf("CloudFormation cannot update a stack when a custom-named resource requires replacing. Rename %s and update the stack again.", old.PhysicalID))
		}
		res := &Resource{LogicalID: id, Type: tr.Type, Properties: props, DependsOn: deps,
			DeletionPolicy: tr.DeletionPolicy, UpdateReplacePolicy: tr.UpdateReplacePolicy, Metadata: tr.Metadata}
		prior := cloneResource(old)
		if err := d.create(ctx, typ, res, UpdateInProgress,
			"Requested update requires the creation of a new physical resource; hence creating one.",
			UpdateComplete, UpdateFailed); err != nil {
			st.Resources[id] = prior
			return err
		}
		d.steps = append(d.steps, step{kind: "replaced", id: id, old: prior, new: res})
		d.retired = append(d.retired, prior)
		return nil
	}
	prior := cloneResource(old)
	old.Status, old.StatusReason, old.LastUpdated = UpdateInProgress, "", d.e.now()
	if err := d.record(ctx, old); err != nil {
		return err
	}
	// The step is kept even if the update fails: a partial update is
	// undone by rollback like a whole one.
	d.steps = append(d.steps, step{kind: "updated", id: id, old: prior})
	res, err := typ.Provider.Update(ctx, &Request{StackID: st.StackID, StackName: st.StackName, LogicalID: id,
		PhysicalID: old.PhysicalID, Properties: props, OldProperties: prior.Properties, OldAttributes: prior.Attributes,
		GeneratedName: old.PhysicalID, StackTags: d.t.Tags})
	if err != nil {
		old.Status, old.StatusReason = UpdateFailed, err.Error()
		if rerr := d.record(ctx, old); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	old.Properties = props
	if res != nil {
		if res.PhysicalID != "" {
			old.PhysicalID = res.PhysicalID
		}
		if res.Attributes != nil {
			old.Attributes = res.Attributes
		}
	}
	old.Status = UpdateComplete
	return d.record(ctx, old)
}

// properties evaluates the properties of resource id and checks the
// required ones.
func (d *deployment) properties(c *template.Context, id string, typ *Type) (map[string]any, error) {
	v, err := d.t.Template.Eval(c, "Resources/"+id+"/Properties", d.t.Template.Resources[id].Properties)
	if err != nil {
		return nil, err
	}
	props, _ := v.(map[string]any)
	if props == nil {
		props = map[string]any{}
	}
	for _, name := range typ.Required {
		if _, ok := props[name]; !ok {
			return nil, fmt.Errorf("Properties validation failed for resource %s with message: #: required key [%s] not found", id, name)
		}
	}
	return props, nil
}

// refuse records that resource id could not be created or updated for a
// reason found before its provider was called, and returns err. An
// existing resource keeps its state.
func (d *deployment) refuse(ctx context.Context, id, typ string, props map[string]any, err error) error {
	st := d.st
	old := st.Resources[id]
	if old == nil || old.PhysicalID == "" {
		res := &Resource{LogicalID: id, Type: typ, Properties: props, Status: CreateFailed, StatusReason: err.Error(), LastUpdated: d.e.now()}
		st.Resources[id] = res
		return errors.Join(err, d.record(ctx, res))
	}
	prior := old.Status
	old.Status, old.StatusReason, old.LastUpdated = UpdateFailed, err.Error(), d.e.now()
	rerr := d.record(ctx, old)
	old.Status, old.StatusReason = prior, ""
	return errors.Join(err, rerr)
}

// create makes res with its provider, recording the given statuses.
func (d *deployment) create(ctx context.Context, typ *Type, res *Resource, inProgress, reason, complete, failed string) error {
	st := d.st
	res.Status, res.StatusReason, res.LastUpdated = inProgress, reason, d.e.now()
	st.Resources[res.LogicalID] = res
	if err := d.record(ctx, res); err != nil {
		return err
	}
	out, err := typ.Provider.Create(ctx, &Request{StackID: st.StackID, StackName: st.StackName, LogicalID: res.LogicalID,
		Properties: res.Properties, GeneratedName: generateName(st.StackName, res.LogicalID, typ.NameMax),
		StackTags: d.t.Tags})
	if err != nil {
		res.Status, res.StatusReason = failed, err.Error()
		if rerr := d.record(ctx, res); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	res.PhysicalID, res.Attributes = out.PhysicalID, out.Attributes
	res.Status, res.StatusReason = complete, ""
	return d.record(ctx, res)
}

// outputs evaluates the template's outputs and checks their export names.
func (d *deployment) outputs(ctx context.Context, c *template.Context) ([]Output, error) {
	t := d.t.Template
	var out []Output
	seen := map[string]bool{}
	for _, key := range t.OutputOrder {
		o := t.Outputs[key]
		if o.Condition != "" && !c.Conditions[o.Condition] {
			continue
		}
		v, err := t.Eval(c, "Outputs/"+key+"/Value", o.Value)
		if err != nil {
			return nil, err
		}
		s, err := outputString(v)
		if err != nil {
			return nil, fmt.Errorf("Template format error: Output %s is malformed: %w", key, err)
		}
		res := Output{Key: key, Value: s, Description: o.Description}
		if o.ExportName != nil {
			nv, err := t.Eval(c, "Outputs/"+key+"/Export/Name", o.ExportName)
			if err != nil {
				return nil, err
			}
			name, ok := nv.(string)
			if !ok || name == "" {
				return nil, fmt.Errorf("Template format error: Output %s Export Name must be a non-empty string", key)
			}
			if seen[name] {
				return nil, fmt.Errorf("Template format error: duplicate Export names %s", name)
			}
			seen[name] = true
			ex, ok, err := d.e.exports.Export(ctx, name)
			if err != nil {
				return nil, err
			}
			if ok && ex.StackID != d.st.StackID {
				return nil, fmt.Errorf("Export with name %s is already exported by stack %s", name, stackNameOfID(ex.StackID))
			}
			res.ExportName = name
		}
		out = append(out, res)
	}
	return out, nil
}

// checkExportsInUse refuses to drop or change an export another stack imports.
func (d *deployment) checkExportsInUse(ctx context.Context, prev *Stack, next []Output) error {
	now := map[string]string{}
	for _, o := range next {
		if o.ExportName != "" {
			now[o.ExportName] = o.Value
		}
	}
	for _, o := range prev.Outputs {
		if o.ExportName == "" {
			continue
		}
		if v, ok := now[o.ExportName]; ok && v == o.Value {
			continue
		}
		users, err := d.e.exports.Importers(ctx, o.ExportName)
		if err != nil {
			return err
		}
		users = slices.DeleteFunc(users, func(s string) bool { return s == d.st.StackName })
		if len(users) > 0 {
			return fmt.Errorf("Export %s cannot be updated as it is in use by %s", o.ExportName, strings.Join(users, ", "))
		}
	}
	return nil
}

func outputString(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case int:
		return strconv.Itoa(x), nil
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			s, err := outputString(e)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	case []string:
		return strings.Join(x, ","), nil
	default:
		return "", fmt.Errorf("value must be a string or a list of strings, not %T", v)
	}
}

// fail records the failure of the deployment and rolls it back.
func (d *deployment) fail(ctx context.Context, prev *Stack, cause error) error {
	st := d.st
	// Rollback must run even when the deployment's context was canceled.
	ctx = context.WithoutCancel(ctx)
	reason := failureReason(cause, d.creating)
	if d.creating {
		if st.DisableRollback {
			st.Status, st.StatusReason = CreateFailed, reason
			_ = d.recordStack(ctx)
			return cause
		}
		st.Status, st.StatusReason = RollbackInProgress, reason
		if err := d.recordStack(ctx); err != nil {
			return errors.Join(cause, err)
		}
		var all []*Resource
		for _, r := range st.Resources {
			all = append(all, r)
		}
		if ok := d.cleanup(ctx, all, true); !ok {
			st.Status, st.StatusReason = RollbackFailed, "The following resource(s) failed to delete: ["+strings.Join(failedIDs(st), ", ")+"]. "
			_ = d.recordStack(ctx)
			return cause
		}
		st.Status, st.StatusReason = RollbackComplete, ""
		_ = d.recordStack(ctx)
		return cause
	}
	if st.DisableRollback {
		st.Status, st.StatusReason = UpdateFailed, reason
		_ = d.recordStack(ctx)
		return cause
	}
	st.Status, st.StatusReason = UpdateRollbackInProgress, reason
	if err := d.recordStack(ctx); err != nil {
		return errors.Join(cause, err)
	}
	ok := true
	var fresh []*Resource // created by the failed update: deleted at cleanup
	for i := len(d.steps) - 1; i >= 0; i-- {
		s := d.steps[i]
		switch s.kind {
		case "created":
			fresh = append(fresh, s.new)
		case "replaced":
			fresh = append(fresh, s.new)
			st.Resources[s.id] = s.old
		case "updated":
			if !d.revert(ctx, s) {
				ok = false
			}
		}
	}
	// Resources whose creation failed have no physical resource to delete.
	for id, r := range st.Resources {
		if r.PhysicalID == "" {
			delete(st.Resources, id)
		}
	}
	if !ok {
		st.Status, st.StatusReason = UpdateRollbackFailed, "The following resource(s) failed to update: ["+strings.Join(failedIDs(st), ", ")+"]. "
		_ = d.recordStack(ctx)
		return cause
	}
	st.TemplateBody, st.Parameters, st.Outputs, st.Tags, st.Imports = prev.TemplateBody, prev.Parameters, prev.Outputs, prev.Tags, prev.Imports
	st.Status, st.StatusReason = UpdateRollbackCompleteCleanupInProgress, ""
	if err := d.recordStack(ctx); err != nil {
		return errors.Join(cause, err)
	}
	d.cleanup(ctx, fresh, false)
	st.Status = UpdateRollbackComplete
	_ = d.recordStack(ctx)
	return cause
}

// revert undoes one in-place update.
func (d *deployment) revert(ctx context.Context, s step) bool {
	st := d.st
	cur := st.Resources[s.id]
	typ, _ := d.e.catalog.Lookup(s.old.Type)
	cur.Status, cur.StatusReason, cur.LastUpdated = UpdateInProgress, "", d.e.now()
	_ = d.record(ctx, cur)
	_, err := typ.Provider.Update(ctx, &Request{StackID: st.StackID, StackName: st.StackName, LogicalID: s.id,
		PhysicalID: s.old.PhysicalID, Properties: s.old.Properties, OldProperties: cur.Properties,
		OldAttributes: cur.Attributes, GeneratedName: s.old.PhysicalID, StackTags: d.t.Tags})
	if err != nil {
		cur.Status, cur.StatusReason = UpdateFailed, err.Error()
		_ = d.record(ctx, cur)
		return false
	}
	restored := cloneResource(s.old)
	restored.Status, restored.StatusReason, restored.LastUpdated = UpdateComplete, "", d.e.now()
	st.Resources[s.id] = restored
	_ = d.record(ctx, restored)
	return true
}

// cleanup deletes rs in reverse dependency order and forgets them. With
// strict it stops at the first failure and reports false; otherwise a
// failure is recorded on the resource and the rest go on (CloudFormation
// does not roll back a failed cleanup).
func (d *deployment) cleanup(ctx context.Context, rs []*Resource, strict bool) bool {
	ok := true
	for _, r := range deletionOrder(rs) {
		retain := r.DeletionPolicy == "Retain"
		if slices.Contains(d.retired, r) {
			retain = r.UpdateReplacePolicy == "Retain"
		}
		if err := d.e.deleteResource(ctx, d.st, r, retain, d.rec); err != nil {
			ok = false
			if strict {
				return false
			}
			continue
		}
		if d.st.Resources[r.LogicalID] == r {
			delete(d.st.Resources, r.LogicalID)
		}
	}
	return ok
}

// Delete removes the resources of st in reverse dependency order, keeping
// those with DeletionPolicy Retain and those named in retain.
func (e *Engine) Delete(ctx context.Context, st *Stack, retain []string, rec Recorder) error {
	ctx = context.WithoutCancel(ctx)
	var all []*Resource
	for _, r := range st.Resources {
		all = append(all, r)
	}
	for _, r := range deletionOrder(all) {
		keep := r.DeletionPolicy == "Retain" || slices.Contains(retain, r.LogicalID)
		if err := e.deleteResource(ctx, st, r, keep, rec); err != nil {
			st.Status, st.StatusReason = DeleteFailed, "The following resource(s) failed to delete: ["+r.LogicalID+"]. "
			if rerr := e.recordStack(ctx, st, rec); rerr != nil {
				return errors.Join(err, rerr)
			}
			return &ResourceError{LogicalID: r.LogicalID, Err: err}
		}
		delete(st.Resources, r.LogicalID)
	}
	st.Status, st.StatusReason, st.DeletionTime = DeleteComplete, "", e.now()
	return e.recordStack(ctx, st, rec)
}

// deleteResource deletes (or skips) one resource, recording its events.
func (e *Engine) deleteResource(ctx context.Context, st *Stack, r *Resource, retain bool, rec Recorder) error {
	if retain {
		r.Status, r.StatusReason, r.LastUpdated = DeleteSkipped, "", e.now()
		return rec.Record(ctx, st, e.event(st, r))
	}
	if r.PhysicalID == "" {
		// Never created: nothing to delete.
		r.Status, r.StatusReason, r.LastUpdated = DeleteComplete, "", e.now()
		return rec.Record(ctx, st, e.event(st, r))
	}
	r.Status, r.StatusReason, r.LastUpdated = DeleteInProgress, "", e.now()
	if err := rec.Record(ctx, st, e.event(st, r)); err != nil {
		return err
	}
	typ, ok := e.catalog.Lookup(r.Type)
	var err error
	if !ok {
		err = fmt.Errorf("Unsupported resource type: %s", r.Type)
	} else {
		err = typ.Provider.Delete(ctx, &Request{StackID: st.StackID, StackName: st.StackName, LogicalID: r.LogicalID,
			PhysicalID: r.PhysicalID, OldProperties: r.Properties, OldAttributes: r.Attributes})
	}
	if err != nil {
		r.Status, r.StatusReason = DeleteFailed, err.Error()
		if rerr := rec.Record(ctx, st, e.event(st, r)); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	r.Status, r.StatusReason = DeleteComplete, ""
	return rec.Record(ctx, st, e.event(st, r))
}

// deletionOrder sorts rs so that a resource comes before those it depends on.
func deletionOrder(rs []*Resource) []*Resource {
	byID := make(map[string]*Resource, len(rs))
	for _, r := range rs {
		if _, dup := byID[r.LogicalID]; !dup {
			byID[r.LogicalID] = r
		}
	}
	ids := make([]string, 0, len(rs))
	for _, r := range rs {
		ids = append(ids, r.LogicalID)
	}
	sort.Strings(ids)
	// Depth-first post-order over dependencies gives dependencies first;
	// reversed, dependents first.
	visited := map[*Resource]bool{}
	var order []*Resource
	var visit func(r *Resource)
	visit = func(r *Resource) {
		if visited[r] {
			return
		}
		visited[r] = true
		deps := append([]string(nil), r.DependsOn...)
		sort.Strings(deps)
		for _, dep := range deps {
			if x, ok := byID[dep]; ok {
				visit(x)
			}
		}
		order = append(order, r)
	}
	// Resources sharing a logical id (a replaced one and its successor)
	// are both deleted; visit them in the order given.
	sorted := append([]*Resource(nil), rs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].LogicalID < sorted[j].LogicalID })
	for _, r := range sorted {
		visit(r)
	}
	slices.Reverse(order)
	return order
}

func failedIDs(st *Stack) []string {
	var out []string
	for id, r := range st.Resources {
		if strings.HasSuffix(r.Status, "_FAILED") {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

func failureReason(err error, creating bool) string {
	var re *ResourceError
	if errors.As(err, &re) {
		if creating {
			return "The following resource(s) failed to create: [" + re.LogicalID + "]. Rollback requested by user."
		}
		return "The following resource(s) failed to update: [" + re.LogicalID + "]. "
	}
	return err.Error()
}

// record saves st with an event for res.
func (d *deployment) record(ctx context.Context, res *Resource) error {
	return d.rec.Record(ctx, d.st, d.e.event(d.st, res))
}

func (d *deployment) recordStack(ctx context.Context) error { return d.e.recordStack(ctx, d.st, d.rec) }

// recordStack saves st with an event for the stack itself.
func (e *Engine) recordStack(ctx context.Context, st *Stack, rec Recorder) error {
	now := e.now()
	st.EventSeq++
	return rec.Record(ctx, st, &Event{
		EventID: newID(), StackID: st.StackID, StackName: st.StackName,
		LogicalResourceID: st.StackName, PhysicalResourceID: st.StackID, ResourceType: stackResourceType,
		Timestamp: now, ResourceStatus: st.Status, ResourceStatusReason: st.StatusReason,
	})
}

// event returns the event of res's current status.
func (e *Engine) event(st *Stack, res *Resource) *Event {
	st.EventSeq++
	props := ""
	if res.Properties != nil {
		if b, err := json.Marshal(res.Properties); err == nil {
			props = string(b)
		}
	}
	return &Event{
		EventID: res.LogicalID + "-" + res.Status + "-" + e.now().UTC().Format("2006-01-02T15:04:05.000Z"),
		StackID: st.StackID, StackName: st.StackName, LogicalResourceID: res.LogicalID,
		PhysicalResourceID: res.PhysicalID, ResourceType: res.Type, Timestamp: e.now(),
		ResourceStatus: res.Status, ResourceStatusReason: res.StatusReason, ResourceProperties: props,
	}
}

// generateName makes a CloudFormation-style physical name:
// {stack}-{logicalId}-{13 random characters}, shortened to max.
func generateName(stackName, logicalID string, max int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var b [13]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("stack: random: " + err.Error())
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	suffix := "-" + string(b[:])
	if max <= 0 {
		max = 128
	}
	head := stackName + "-" + logicalID
	if room := max - len(suffix); len(head) > room {
		if room < 1 {
			return string(b[:])[:min(13, max)]
		}
		head = head[:room]
	}
	return head + suffix
}

// newID returns a random UUID-shaped id.
func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("stack: random: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// stackNameOfID returns the name part of a stack ARN.
func stackNameOfID(id string) string {
	_, rest, ok := strings.Cut(id, ":stack/")
	if !ok {
		return id
	}
	name, _, _ := strings.Cut(rest, "/")
	return name
}

// changedKeys returns the top-level properties that differ, sorted.
func changedKeys(old, new map[string]any) []string {
	var out []string
	for k, v := range new {
		if ov, ok := old[k]; !ok || !jsonEqual(ov, v) {
			out = append(out, k)
		}
	}
	for k := range old {
		if _, ok := new[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// jsonEqual compares two values as JSON would see them (numbers of any Go
// type compare by value; strings "1" and number 1 compare equal, as
// CloudFormation passes every scalar to providers as a string).
func jsonEqual(a, b any) bool {
	return reflect.DeepEqual(normalize(a), normalize(b))
}

func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case nil:
		return nil
	default:
		s, err := outputString(v)
		if err != nil {
			return fmt.Sprint(v)
		}
		return s
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
