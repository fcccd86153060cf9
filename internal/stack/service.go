package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/stack/template"
)

// Service is the CloudFormation service of iotdm: it keeps stacks, change
// sets and exports in the store and runs the engine for each operation in
// the background, as CloudFormation does; clients poll DescribeStacks and
// DescribeStackEvents (the aws CLI's waiters do).
type Service struct {
	store   iotdm.Store
	engine  *Engine
	catalog *Catalog
	region  string
	account string
	now     func() time.Time
	logger  *slog.Logger

	node string // this node of a cluster; "" for a server of its own

	ctx    context.Context // of background operations; canceled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex
	busy map[string]chan struct{} // stack name -> closed when its operation ends
}

// ServiceOptions configures a Service.
type ServiceOptions struct {
	Region, AccountID string
	// Node names this node when several share the store. Operations
	// record the node running them, and at start only this node's
	// interrupted operations (a previous process of it) are marked failed:
	// the others may be running on live nodes, and the cluster's leader
	// marks those of a node that died (RecoverNodes). "" is a server of
	// its own: every operation found in progress at start was
	// interrupted.
	Node   string
	Now    func() time.Time
	Logger *slog.Logger
}

// Limits of the API, as CloudFormation documents them.
const (
	maxTemplateBody = 1 << 20 // TemplateBody is 51,200 bytes on AWS; iotdm takes templates given by file up to 1 MiB
	pageSize        = 100
)

var stackNamePattern = regexp.MustCompile(`^[a-zA-Z][-a-zA-Z0-9]*$`)

// NewService returns the service over store, deploying the catalog's types.
// Operations interrupted by a stop are marked failed.
func NewService(ctx context.Context, store iotdm.Store, catalog *Catalog, opts ServiceOptions) (*Service, error) {
	s := &Service{store: store, catalog: catalog, region: opts.Region, account: opts.AccountID,
		node: opts.Node, now: opts.Now, logger: opts.Logger, busy: map[string]chan struct{}{}}
	if s.now == nil {
		s.now = time.Now
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	s.logger = s.logger.With("component", "stacks")
	s.engine = NewEngine(catalog, EngineOptions{Region: opts.Region, AccountID: opts.AccountID, Exports: storeExports{s},
		Now: s.now, Logger: s.logger})
	s.ctx, s.cancel = context.WithCancel(context.Background())
	// A server of its own ran every operation it finds in progress; a
	// node of a cluster only those it recorded under its name.
	if err := s.RecoverNodes(ctx, func(node string) bool { return s.node == "" || node == s.node }); err != nil {
		return nil, err
	}
	return s, nil
}

// Engine returns the service's engine.
func (s *Service) Engine() *Engine { return s.engine }

// Close waits for running operations to finish, or for ctx to end, and
// then cancels them.
func (s *Service) Close(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	s.cancel()
	<-done
	return nil
}

// Wait blocks until no operation runs on the named stack.
func (s *Service) Wait(ctx context.Context, stackName string) error {
	s.mu.Lock()
	ch := s.busy[stackName]
	s.mu.Unlock()
	if ch == nil {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// inProgress reports whether a stack status is an operation under way.
func inProgress(status string) bool {
	return strings.HasSuffix(status, "_IN_PROGRESS") && status != ReviewInProgress
}

// RecoverNodes marks failed the operations in progress on the nodes for
// which dead is true: their process stopped, so the operation will not
// go on. NewService calls it for this node; the leader of a cluster calls
// it for the nodes that stop sending heartbeats. Each stack gets the
// *_FAILED status of its operation and an event saying why.
func (s *Service) RecoverNodes(ctx context.Context, dead func(node string) bool) error {
	var stuck []*Stack
	err := s.store.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
		return tx.Scan(ctx, KindStack, "", "", 0, func(_ string, v []byte) error {
			var st Stack
			if err := json.Unmarshal(v, &st); err != nil {
				return fmt.Errorf("decode stack: %w", err)
			}
			if inProgress(st.Status) && dead(st.Node) {
				stuck = append(stuck, &st)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("load stacks: %w", err)
	}
	for _, st := range stuck {
		was := st.Status
		switch {
		case strings.HasPrefix(was, "CREATE"):
			st.Status = CreateFailed
		case strings.HasPrefix(was, "ROLLBACK"):
			st.Status = RollbackFailed
		case strings.HasPrefix(was, "DELETE"):
			st.Status = DeleteFailed
		case strings.HasPrefix(was, "UPDATE_ROLLBACK"):
			st.Status = UpdateRollbackFailed
		default:
			st.Status = UpdateRollbackFailed
		}
		st.StatusReason = "iotdm stopped while the stack was in " + was
		if st.Node != "" && st.Node != s.node {
			st.StatusReason = "iotdm node " + st.Node + " stopped while the stack was in " + was
		}
		node := st.Node
		if err := s.engine.recordStack(ctx, st, s); err != nil {
			return err
		}
		s.logger.Warn("stack operation interrupted by a stop", "stack", st.StackName, "node", node, "was", was, "now", st.Status)
	}
	return nil
}

// --- persistence (the engine's Recorder) ---

// Record saves st and ev; a DELETE_COMPLETE stack moves to the deleted
// stacks. Exports follow the stack's outputs whenever an operation
// completes.
func (s *Service) Record(ctx context.Context, st *Stack, ev *Event) error {
	st.Node = ""
	if inProgress(st.Status) {
		st.Node = s.node
	}
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode stack: %w", err)
	}
	return s.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		if st.Status == DeleteComplete {
			if err := tx.Delete(ctx, KindStack, st.StackName); err != nil {
				return err
			}
			if err := tx.Put(ctx, KindDeletedStack, st.StackID, b); err != nil {
				return err
			}
			if err := s.deleteChangeSets(ctx, tx, st.StackName, ""); err != nil {
				return err
			}
		} else if err := tx.Put(ctx, KindStack, st.StackName, b); err != nil {
			return err
		}
		if ev != nil {
			eb, err := json.Marshal(ev)
			if err != nil {
				return fmt.Errorf("encode event: %w", err)
			}
			if err := tx.Put(ctx, KindStackEvent, fmt.Sprintf("%s/%016x", st.StackID, st.EventSeq), eb); err != nil {
				return err
			}
		}
		switch st.Status {
		case CreateComplete, UpdateComplete, UpdateRollbackComplete, DeleteComplete:
			return syncExports(ctx, tx, st)
		}
		return nil
	})
}

// syncExports makes the stored exports of st its outputs' exports.
func syncExports(ctx context.Context, tx iotdm.Tx, st *Stack) error {
	want := map[string]string{}
	if st.Status != DeleteComplete {
		for _, o := range st.Outputs {
			if o.ExportName != "" {
				want[o.ExportName] = o.Value
			}
		}
	}
	var stale []string
	err := tx.Scan(ctx, KindExport, "", "", 0, func(k string, v []byte) error {
		var ex Export
		if err := json.Unmarshal(v, &ex); err != nil {
			return fmt.Errorf("decode export: %w", err)
		}
		if _, ok := want[k]; ex.StackID == st.StackID && !ok {
			stale = append(stale, k)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range stale {
		if err := tx.Delete(ctx, KindExport, k); err != nil {
			return err
		}
	}
	for _, name := range sortedKeys(want) {
		b, err := json.Marshal(Export{Name: name, Value: want[name], StackID: st.StackID})
		if err != nil {
			return err
		}
		if err := tx.Put(ctx, KindExport, name, b); err != nil {
			return err
		}
	}
	return nil
}

// storeExports answers the engine's export questions from the store.
type storeExports struct{ s *Service }

func (e storeExports) Export(ctx context.Context, name string) (Export, bool, error) {
	var ex Export
	v, ok, err := e.s.store.Get(ctx, KindExport, name)
	if err != nil || !ok {
		return ex, false, err
	}
	if err := json.Unmarshal(v, &ex); err != nil {
		return ex, false, fmt.Errorf("decode export: %w", err)
	}
	return ex, true, nil
}

func (e storeExports) Importers(ctx context.Context, name string) ([]string, error) {
	var out []string
	err := e.s.scanStacks(ctx, func(st *Stack) error {
		if slices.Contains(st.Imports, name) {
			out = append(out, st.StackName)
		}
		return nil
	})
	return out, err
}

func (s *Service) scanStacks(ctx context.Context, fn func(*Stack) error) error {
	all, err := scanAll[*Stack](ctx, s.store, KindStack, "")
	if err != nil {
		return err
	}
	for _, st := range all {
		if err := fn(st); err != nil {
			return err
		}
	}
	return nil
}

// getStack reads one stored stack; nil when there is none.
func (s *Service) getStack(ctx context.Context, kind, key string) (*Stack, error) {
	v, ok, err := s.store.Get(ctx, kind, key)
	if err != nil || !ok {
		return nil, err
	}
	var st Stack
	if err := json.Unmarshal(v, &st); err != nil {
		return nil, fmt.Errorf("decode stack: %w", err)
	}
	return &st, nil
}

// stack returns the live stack named by name or id, or a deleted one by id.
func (s *Service) stack(ctx context.Context, nameOrID string) (*Stack, error) {
	if nameOrID == "" {
		return nil, iotdm.Errorf(iotdm.ErrValidationError, "1 validation error detected: Value null at 'stackName' failed to satisfy constraint: Member must not be null")
	}
	name := nameOrID
	if strings.HasPrefix(nameOrID, "arn:") {
		name = stackNameOfID(nameOrID)
	}
	st, err := s.getStack(ctx, KindStack, name)
	if err != nil {
		return nil, err
	}
	if st != nil && (!strings.HasPrefix(nameOrID, "arn:") || st.StackID == nameOrID) {
		return st, nil
	}
	if strings.HasPrefix(nameOrID, "arn:") {
		if st, err = s.getStack(ctx, KindDeletedStack, nameOrID); err != nil || st != nil {
			return st, err
		}
	}
	return nil, iotdm.StackDoesNotExist(nameOrID)
}

// --- operations ---

// reserve claims the named stack for one operation; release gives it back.
func (s *Service) reserve(name string) (release func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.busy[name] != nil {
		return nil, validationf("Stack %s has an operation in progress", name)
	}
	done := make(chan struct{})
	s.busy[name] = done
	return func() {
		s.mu.Lock()
		delete(s.busy, name)
		s.mu.Unlock()
		close(done)
	}, nil
}

func validationf(format string, args ...any) error {
	return iotdm.Errorf(iotdm.ErrValidationError, format, args...)
}

func checkStackName(name string) error {
	if name == "" {
		return validationf("1 validation error detected: Value null at 'stackName' failed to satisfy constraint: Member must not be null")
	}
	if len(name) > 128 || !stackNamePattern.MatchString(name) {
		return validationf("1 validation error detected: Value '%s' at 'stackName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*", name)
	}
	return nil
}

// Load parses and checks a template body: syntax, structure, references
// and what the catalog can deploy, every problem at once.
func (s *Service) Load(body, url string) (*template.Template, error) {
	if url != "" {
		return nil, validationf("TemplateURL is not supported by iotdm: pass the template in TemplateBody")
	}
	if body == "" {
		return nil, validationf("Either Template URL or Template Body must be specified.")
	}
	if len(body) > maxTemplateBody {
		return nil, validationf("1 validation error detected: Value at 'templateBody' failed to satisfy constraint: Member must have length less than or equal to %d", maxTemplateBody)
	}
	t, err := template.Parse([]byte(body))
	if err != nil {
		return nil, templateError(err)
	}
	var problems []template.Problem
	if err := t.Validate(func(typ string) bool { return typ == "AWS::CDK::Metadata" || s.catalog.Supported(typ) }); err != nil {
		var te *template.Errors
		if !errors.As(err, &te) {
			return nil, templateError(err)
		}
		problems = append(problems, te.Problems...)
	}
	for _, p := range s.engine.Check(t) {
		problems = append(problems, t.Locate(p))
	}
	if len(problems) > 0 {
		return nil, templateError(&template.Errors{Problems: problems})
	}
	return t, nil
}

// templateError turns a template problem list into one ValidationError.
func templateError(err error) error {
	var te *template.Errors
	if errors.As(err, &te) && len(te.Problems) > 0 {
		msgs := make([]string, len(te.Problems))
		for i, p := range te.Problems {
			msgs[i] = p.String()
		}
		msg := strings.Join(msgs, "; ")
		if !strings.HasPrefix(msg, "Template") {
			msg = "Template format error: " + msg
		}
		return validationf("%s", msg)
	}
	return validationf("%s", err.Error())
}

// target resolves the parameters of t: given values, previous values and
// defaults.
func (s *Service) target(t *template.Template, body string, given []iotdm.Parameter, prev *Stack, tags []iotdm.Tag) (*Target, map[string]string, error) {
	values := map[string]string{}
	var previous map[string]string
	if prev != nil {
		previous = paramMap(prev.Parameters)
	}
	for _, p := range given {
		if p.UsePreviousValue != nil && *p.UsePreviousValue {
			v, ok := previous[p.ParameterKey]
			if !ok {
				return nil, nil, validationf("Invalid input for parameter key %s. Cannot specify usePreviousValue as true for a parameter key not in the previous template", p.ParameterKey)
			}
			values[p.ParameterKey] = v
			continue
		}
		values[p.ParameterKey] = p.ParameterValue
	}
	resolved, err := t.ResolveParameters(values, nil)
	if err != nil {
		return nil, nil, validationf("%s", strings.TrimPrefix(err.Error(), "template: "))
	}
	var records []Parameter
	for _, name := range t.ParameterOrder {
		p := t.Parameters[name]
		v, ok := resolved[name]
		if !ok {
			continue
		}
		rec := Parameter{Key: name, NoEcho: p.NoEcho}
		switch x := v.(type) {
		case []string:
			rec.Value = strings.Join(x, ",")
		case string:
			rec.Value = x
		default:
			rec.Value = fmt.Sprint(x)
		}
		if given, ok := values[name]; ok {
			rec.Value = given
		}
		if strings.HasPrefix(p.Type, "AWS::SSM::Parameter::Value<") {
			rec.ResolvedValue = fmt.Sprint(v)
			if p.Default != nil && !isGiven(values, name) {
				rec.Value = *p.Default
			}
		}
		records = append(records, rec)
	}
	var stackTags []Tag
	for _, tg := range tags {
		stackTags = append(stackTags, Tag{Key: tg.Key, Value: tg.Value})
	}
	return &Target{Template: t, Body: body, Parameters: resolved, Records: records, Tags: stackTags}, values, nil
}

func isGiven(values map[string]string, name string) bool { _, ok := values[name]; return ok }

func (s *Service) newStack(name string) *Stack {
	return &Stack{
		StackID:   fmt.Sprintf("arn:aws:cloudformation:%s:%s:stack/%s/%s", s.region, s.account, name, newID()),
		StackName: name, CreationTime: s.now(), Resources: map[string]*Resource{},
	}
}

// CreateStack validates the template and parameters, records the stack and
// deploys it in the background.
func (s *Service) CreateStack(ctx context.Context, in *iotdm.CreateStackInput) (*iotdm.CreateStackOutput, error) {
	if err := checkStackName(in.StackName); err != nil {
		return nil, err
	}
	t, err := s.Load(in.TemplateBody, in.TemplateURL)
	if err != nil {
		return nil, err
	}
	if old, err := s.stack(ctx, in.StackName); err == nil && old.Status != ReviewInProgress {
		return nil, iotdm.Errorf(iotdm.ErrAlreadyExists, "Stack [%s] already exists", in.StackName)
	} else if err != nil && !iotdm.IsCode(err, iotdm.ErrValidationError) {
		return nil, err
	}
	st := s.newStack(in.StackName)
	tgt, _, err := s.target(t, in.TemplateBody, in.Parameters, nil, in.Tags)
	if err != nil {
		return nil, err
	}
	if _, err := s.engine.Prepare(ctx, st, tgt); err != nil {
		return nil, validationf("%s", err.Error())
	}
	st.Description = t.Description
	st.TemplateBody, st.Parameters, st.Tags = in.TemplateBody, tgt.Records, in.Tags
	st.Capabilities, st.NotificationARNs, st.RoleARN = in.Capabilities, in.NotificationARNs, in.RoleARN
	switch in.OnFailure {
	case "", "ROLLBACK", "DELETE":
	case "DO_NOTHING":
		st.DisableRollback = true
	default:
		return nil, validationf("1 validation error detected: Value '%s' at 'onFailure' failed to satisfy constraint: Member must satisfy enum value set: [DO_NOTHING, ROLLBACK, DELETE]", in.OnFailure)
	}
	if in.DisableRollback != nil && *in.DisableRollback {
		if in.OnFailure != "" {
			return nil, validationf("You cannot specify both DisableRollback and OnFailure.")
		}
		st.DisableRollback = true
	}
	if in.EnableTerminationProtection != nil {
		st.TerminationProtection = *in.EnableTerminationProtection
	}
	if in.TimeoutInMinutes != nil {
		st.TimeoutInMinutes = int(*in.TimeoutInMinutes)
	}
	st.Status, st.StatusReason = CreateInProgress, "User Initiated"
	if err := s.start(ctx, st, func(ctx context.Context) {
		ctx, cancel := s.timeout(ctx, st)
		defer cancel()
		err := s.engine.Create(ctx, st, tgt, s)
		if err != nil && in.OnFailure == "DELETE" && st.Status == RollbackComplete {
			st.Status, st.StatusReason = DeleteInProgress, "User Initiated"
			if s.engine.recordStack(ctx, st, s) == nil {
				err = errors.Join(err, s.engine.Delete(ctx, st, nil, s))
			}
		}
		s.logOutcome(st, err)
	}); err != nil {
		return nil, err
	}
	return &iotdm.CreateStackOutput{StackId: st.StackID}, nil
}

// start records st in its new in-progress status and runs op on it in the
// background, one operation per stack.
func (s *Service) start(ctx context.Context, st *Stack, op func(ctx context.Context)) error {
	release, err := s.reserve(st.StackName)
	if err != nil {
		return validationf("Stack:%s is in %s state and can not be updated.", st.StackID, st.Status)
	}
	if err := s.engine.recordStack(ctx, st, s); err != nil {
		release()
		return err
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer release()
		op(s.ctx)
	}()
	return nil
}

func (s *Service) timeout(ctx context.Context, st *Stack) (context.Context, context.CancelFunc) {
	if st.TimeoutInMinutes > 0 {
		return context.WithTimeout(ctx, time.Duration(st.TimeoutInMinutes)*time.Minute)
	}
	return context.WithCancel(ctx)
}

func (s *Service) logOutcome(st *Stack, err error) {
	if err != nil {
		s.logger.Info("stack operation failed", "stack", st.StackName, "status", st.Status, "err", err)
		return
	}
	s.logger.Info("stack operation complete", "stack", st.StackName, "status", st.Status)
}

func updatable(status string) bool {
	switch status {
	case CreateComplete, UpdateComplete, UpdateRollbackComplete, "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE":
		return true
	}
	return false
}

// UpdateStack validates the new template and parameters and updates the
// stack in the background.
func (s *Service) UpdateStack(ctx context.Context, in *iotdm.UpdateStackInput) (*iotdm.UpdateStackOutput, error) {
	st, err := s.stack(ctx, in.StackName)
	if err != nil {
		return nil, err
	}
	if !updatable(st.Status) {
		return nil, validationf("Stack:%s is in %s state and can not be updated.", st.StackID, st.Status)
	}
	body := in.TemplateBody
	if in.UsePreviousTemplate != nil && *in.UsePreviousTemplate {
		if body != "" || in.TemplateURL != "" {
			return nil, validationf("You cannot specify both usePreviousTemplate and Template Body/Template URL")
		}
		body = st.TemplateBody
	}
	t, err := s.Load(body, in.TemplateURL)
	if err != nil {
		return nil, err
	}
	tags := in.Tags
	if tags == nil {
		tags = st.Tags
	}
	tgt, _, err := s.target(t, body, in.Parameters, st, tags)
	if err != nil {
		return nil, err
	}
	if _, err := s.engine.Prepare(ctx, st, tgt); err != nil {
		return nil, validationf("%s", err.Error())
	}
	changes, err := s.engine.Plan(ctx, st, tgt)
	if err != nil {
		return nil, validationf("%s", err.Error())
	}
	if len(changes) == 0 && body == st.TemplateBody && slices.Equal(tgt.Records, st.Parameters) && tagsEqual(tags, st.Tags) {
		return nil, validationf("No updates are to be performed.")
	}
	if err := s.startUpdate(ctx, st, tgt, in.DisableRollback, ""); err != nil {
		return nil, err
	}
	return &iotdm.UpdateStackOutput{StackId: st.StackID}, nil
}

func tagsEqual(a, b []iotdm.Tag) bool {
	return slices.Equal(a, b) || (len(a) == 0 && len(b) == 0)
}

func (s *Service) startUpdate(ctx context.Context, st *Stack, tgt *Target, disableRollback *bool, changeSetID string) error {
	prev := st.clone()
	st.Description = tgt.Template.Description
	st.LastUpdatedTime = s.now()
	st.Status, st.StatusReason = UpdateInProgress, "User Initiated"
	st.ChangeSetID = changeSetID
	st.Tags = fromTags(tgt.Tags)
	if disableRollback != nil {
		st.DisableRollback = *disableRollback
	}
	return s.start(ctx, st, func(ctx context.Context) {
		ctx, cancel := s.timeout(ctx, st)
		defer cancel()
		s.logOutcome(st, s.engine.Update(ctx, st, prev, tgt, s))
	})
}

func fromTags(ts []Tag) []iotdm.Tag {
	var out []iotdm.Tag
	for _, t := range ts {
		out = append(out, iotdm.Tag{Key: t.Key, Value: t.Value})
	}
	return out
}

// DeleteStack deletes the stack's resources in the background. Deleting a
// stack that does not exist succeeds, as on AWS.
func (s *Service) DeleteStack(ctx context.Context, in *iotdm.DeleteStackInput) (*iotdm.DeleteStackOutput, error) {
	st, err := s.stack(ctx, in.StackName)
	if iotdm.IsCode(err, iotdm.ErrValidationError) && in.StackName != "" {
		return &iotdm.DeleteStackOutput{}, nil
	}
	if err != nil {
		return nil, err
	}
	if st.Status == DeleteComplete {
		return &iotdm.DeleteStackOutput{}, nil
	}
	if st.TerminationProtection {
		return nil, validationf("Stack [%s] cannot be deleted while TerminationProtection is enabled", st.StackName)
	}
	if len(in.RetainResources) > 0 && st.Status != DeleteFailed {
		return nil, validationf("Invalid operation on stack [%s]. RetainResources can only be specified when the stack is in the DELETE_FAILED state", st.StackID)
	}
	for _, o := range st.Outputs {
		if o.ExportName == "" {
			continue
		}
		users, err := storeExports{s}.Importers(ctx, o.ExportName)
		if err != nil {
			return nil, err
		}
		users = slices.DeleteFunc(users, func(n string) bool { return n == st.StackName })
		if len(users) > 0 {
			return nil, validationf("Export %s cannot be deleted as it is in use by %s", o.ExportName, strings.Join(users, ", "))
		}
	}
	if st.Status == ReviewInProgress {
		// Never executed: nothing to delete but the record.
		st.Status, st.StatusReason, st.DeletionTime = DeleteComplete, "", s.now()
		return &iotdm.DeleteStackOutput{}, s.engine.recordStack(ctx, st, s)
	}
	st.Status, st.StatusReason = DeleteInProgress, "User Initiated"
	retain := in.RetainResources
	if err := s.start(ctx, st, func(ctx context.Context) {
		s.logOutcome(st, s.engine.Delete(ctx, st, retain, s))
	}); err != nil {
		return nil, err
	}
	return &iotdm.DeleteStackOutput{}, nil
}

// CancelUpdateStack is refused: updates here finish in moments.
func (s *Service) CancelUpdateStack(ctx context.Context, in *iotdm.CancelUpdateStackInput) (*iotdm.CancelUpdateStackOutput, error) {
	st, err := s.stack(ctx, in.StackName)
	if err != nil {
		return nil, err
	}
	return nil, validationf("CancelUpdateStack cannot be called from current stack status %s.", st.Status)
}

// ContinueUpdateRollback resumes a stack stuck in UPDATE_ROLLBACK_FAILED by
// accepting its resources as they are (ResourcesToSkip or not) and
// completing the rollback.
func (s *Service) ContinueUpdateRollback(ctx context.Context, in *iotdm.ContinueUpdateRollbackInput) (*iotdm.ContinueUpdateRollbackOutput, error) {
	st, err := s.stack(ctx, in.StackName)
	if err != nil {
		return nil, err
	}
	if st.Status != UpdateRollbackFailed {
		return nil, validationf("Stack %s is in %s state and can not continue update rollback.", st.StackID, st.Status)
	}
	for id, r := range st.Resources {
		if strings.HasSuffix(r.Status, "_FAILED") {
			r.Status = UpdateComplete
			if slices.Contains(in.ResourcesToSkip, id) {
				r.StatusReason = "Resource skipped during continue update rollback"
			}
		}
	}
	st.Status, st.StatusReason = UpdateRollbackComplete, ""
	if err := s.engine.recordStack(ctx, st, s); err != nil {
		return nil, err
	}
	return &iotdm.ContinueUpdateRollbackOutput{}, nil
}
