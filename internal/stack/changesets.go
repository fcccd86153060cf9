package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/iotdm/iotdm"
)

var changeSetNamePattern = regexp.MustCompile(`^[a-zA-Z][-a-zA-Z0-9]*$`)

// noChanges is CloudFormation's reason for a change set that changes
// nothing; the aws CLI's deploy command recognises it.
const noChanges = "The submitted information didn't contain changes. Submit different information to create a change set."

func changeSetKey(stackName, name string) string { return stackName + "/" + name }

// changeSet finds a change set by name (with its stack) or by ARN.
func (s *Service) changeSet(ctx context.Context, stackName, nameOrID string) (*ChangeSet, error) {
	if nameOrID == "" {
		return nil, validationf("1 validation error detected: Value null at 'changeSetName' failed to satisfy constraint: Member must not be null")
	}
	if strings.HasPrefix(nameOrID, "arn:") {
		var found *ChangeSet
		err := s.store.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
			return tx.Scan(ctx, KindChangeSet, "", "", 0, func(_ string, v []byte) error {
				var cs ChangeSet
				if err := json.Unmarshal(v, &cs); err != nil {
					return fmt.Errorf("decode change set: %w", err)
				}
				if cs.ChangeSetID == nameOrID {
					found = &cs
					return iotdm.ErrStopScan
				}
				return nil
			})
		})
		if err != nil {
			return nil, err
		}
		if found == nil {
			return nil, iotdm.ChangeSetDoesNotExist(nameOrID)
		}
		return found, nil
	}
	if stackName == "" {
		return nil, validationf("StackName must be specified if ChangeSetName is not specified as an ARN.")
	}
	st, err := s.stack(ctx, stackName)
	if err != nil {
		return nil, err
	}
	v, ok, err := s.store.Get(ctx, KindChangeSet, changeSetKey(st.StackName, nameOrID))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, iotdm.ChangeSetDoesNotExist(nameOrID)
	}
	var cs ChangeSet
	if err := json.Unmarshal(v, &cs); err != nil {
		return nil, fmt.Errorf("decode change set: %w", err)
	}
	return &cs, nil
}

func (s *Service) putChangeSet(ctx context.Context, cs *ChangeSet) error {
	b, err := json.Marshal(cs)
	if err != nil {
		return fmt.Errorf("encode change set: %w", err)
	}
	return s.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		return tx.Put(ctx, KindChangeSet, changeSetKey(cs.StackName, cs.ChangeSetName), b)
	})
}

// deleteChangeSets removes the change sets of a stack, but keep.
func (s *Service) deleteChangeSets(ctx context.Context, tx iotdm.Tx, stackName, keep string) error {
	var keys []string
	if err := tx.Scan(ctx, KindChangeSet, stackName+"/", "", 0, func(k string, _ []byte) error {
		if k != changeSetKey(stackName, keep) {
			keys = append(keys, k)
		}
		return nil
	}); err != nil {
		return err
	}
	for _, k := range keys {
		if err := tx.Delete(ctx, KindChangeSet, k); err != nil {
			return err
		}
	}
	return nil
}

// CreateChangeSet plans a template against a stack (a new one, in
// REVIEW_IN_PROGRESS, for ChangeSetType CREATE) without changing anything.
func (s *Service) CreateChangeSet(ctx context.Context, in *iotdm.CreateChangeSetInput) (*iotdm.CreateChangeSetOutput, error) {
	if err := checkStackName(in.StackName); err != nil {
		return nil, err
	}
	if in.ChangeSetName == "" || len(in.ChangeSetName) > 128 || !changeSetNamePattern.MatchString(in.ChangeSetName) {
		return nil, validationf("1 validation error detected: Value '%s' at 'changeSetName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*", in.ChangeSetName)
	}
	typ := in.ChangeSetType
	if typ == "" {
		typ = iotdm.ChangeSetTypeUpdate
	}
	st, err := s.stack(ctx, in.StackName)
	exists := err == nil && st.Status != DeleteComplete
	if err != nil && !iotdm.IsCode(err, iotdm.ErrValidationError) {
		return nil, err
	}
	switch typ {
	case iotdm.ChangeSetTypeCreate:
		if exists && st.Status != ReviewInProgress {
			return nil, validationf("Stack [%s] already exists and cannot be created again with the changeSet [%s].", in.StackName, in.ChangeSetName)
		}
	case iotdm.ChangeSetTypeUpdate:
		if !exists {
			return nil, iotdm.StackDoesNotExist(in.StackName)
		}
		if st.Status == ReviewInProgress {
			return nil, validationf("Stack:%s is in REVIEW_IN_PROGRESS state and can not be updated.", st.StackID)
		}
		if !updatable(st.Status) {
			return nil, validationf("Stack:%s is in %s state and can not be updated.", st.StackID, st.Status)
		}
	case iotdm.ChangeSetTypeImport:
		return nil, validationf("Resource import is not supported by iotdm")
	default:
		return nil, validationf("1 validation error detected: Value '%s' at 'changeSetType' failed to satisfy constraint: Member must satisfy enum value set: [IMPORT, UPDATE, CREATE]", typ)
	}
	if exists {
		if _, err := s.changeSet(ctx, in.StackName, in.ChangeSetName); err == nil {
			return nil, iotdm.Errorf(iotdm.ErrAlreadyExists, "ChangeSet %s already exists", in.ChangeSetName)
		}
	}
	body := in.TemplateBody
	if in.UsePreviousTemplate != nil && *in.UsePreviousTemplate {
		if !exists || typ == iotdm.ChangeSetTypeCreate {
			return nil, validationf("UsePreviousTemplate can only be used for UPDATE change sets")
		}
		body = st.TemplateBody
	}
	t, err := s.Load(body, in.TemplateURL)
	if err != nil {
		return nil, err
	}
	if !exists {
		st = s.newStack(in.StackName)
		st.Status, st.StatusReason = ReviewInProgress, "User Initiated"
		st.TemplateBody = body
		if err := s.engine.recordStack(ctx, st, s); err != nil {
			return nil, err
		}
	}
	var prev *Stack
	if typ == iotdm.ChangeSetTypeUpdate {
		prev = st
	}
	tags := in.Tags
	if tags == nil && prev != nil {
		tags = prev.Tags
	}
	tgt, given, err := s.target(t, body, in.Parameters, prev, tags)
	if err != nil {
		return nil, err
	}
	cs := &ChangeSet{
		ChangeSetID:   fmt.Sprintf("arn:aws:cloudformation:%s:%s:changeSet/%s/%s", s.region, s.account, in.ChangeSetName, newID()),
		ChangeSetName: in.ChangeSetName, StackID: st.StackID, StackName: st.StackName, Description: in.Description,
		ChangeSetType: string(typ), CreationTime: s.now(), TemplateBody: body, Parameters: tgt.Records, Given: given,
		Tags: tags, Capabilities: in.Capabilities, NotificationARNs: in.NotificationARNs,
		Status: string(iotdm.ChangeSetStatusCreateComplete), ExecutionStatus: string(iotdm.ExecutionStatusAvailable),
	}
	planOn := st
	if typ == iotdm.ChangeSetTypeCreate {
		planOn = &Stack{StackID: st.StackID, StackName: st.StackName, Resources: map[string]*Resource{}}
	}
	if _, err := s.engine.Prepare(ctx, planOn, tgt); err != nil {
		return nil, validationf("%s", err.Error())
	}
	changes, err := s.engine.Plan(ctx, planOn, tgt)
	switch {
	case err != nil:
		cs.Status, cs.StatusReason, cs.ExecutionStatus = string(iotdm.ChangeSetStatusFailed), err.Error(), string(iotdm.ExecutionStatusUnavailable)
	case len(changes) == 0 && typ == iotdm.ChangeSetTypeUpdate && body == st.TemplateBody && paramsEqual(tgt.Records, st.Parameters) && tagsEqual(tags, st.Tags):
		cs.Status, cs.StatusReason, cs.ExecutionStatus = string(iotdm.ChangeSetStatusFailed), noChanges, string(iotdm.ExecutionStatusUnavailable)
	default:
		cs.Changes = changes
	}
	if err := s.putChangeSet(ctx, cs); err != nil {
		return nil, err
	}
	return &iotdm.CreateChangeSetOutput{Id: cs.ChangeSetID, StackId: st.StackID}, nil
}

func paramsEqual(a, b []Parameter) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// DescribeChangeSet describes a change set and its changes; property values
// only with IncludePropertyValues.
func (s *Service) DescribeChangeSet(ctx context.Context, in *iotdm.DescribeChangeSetInput) (*iotdm.DescribeChangeSetOutput, error) {
	cs, err := s.changeSet(ctx, in.StackName, in.ChangeSetName)
	if err != nil {
		return nil, err
	}
	values := in.IncludePropertyValues != nil && *in.IncludePropertyValues
	out := &iotdm.DescribeChangeSetOutput{
		ChangeSetName: cs.ChangeSetName, ChangeSetId: cs.ChangeSetID, StackId: cs.StackID, StackName: cs.StackName,
		Description: cs.Description, CreationTime: cs.CreationTime, ExecutionStatus: iotdm.ExecutionStatus(cs.ExecutionStatus),
		Status: iotdm.ChangeSetStatus(cs.Status), StatusReason: cs.StatusReason, NotificationARNs: cs.NotificationARNs,
		Capabilities: cs.Capabilities, Tags: cs.Tags, Changes: []iotdm.StackChange{},
	}
	for _, p := range cs.Parameters {
		v := p.Value
		if p.NoEcho {
			v = "****"
		}
		out.Parameters = append(out.Parameters, iotdm.Parameter{ParameterKey: p.Key, ParameterValue: v, ResolvedValue: p.ResolvedValue})
	}
	for _, c := range cs.Changes {
		rc := &iotdm.ResourceChange{Action: iotdm.ChangeAction(c.Action), LogicalResourceId: c.LogicalResourceID,
			PhysicalResourceId: c.PhysicalResourceID, ResourceType: c.ResourceType, Replacement: iotdm.Replacement(c.Replacement),
			Scope: c.Scope, ChangeSetId: cs.ChangeSetID}
		if values {
			rc.BeforeContext, rc.AfterContext = c.BeforeContext, c.AfterContext
		}
		for _, d := range c.Details {
			t := &iotdm.ResourceTargetDefinition{Attribute: d.Attribute, Name: d.Name, RequiresRecreation: d.RequiresRecreation,
				Path: d.Path, AttributeChangeType: d.AttributeChangeType}
			if values {
				t.BeforeValue, t.AfterValue = d.BeforeValue, d.AfterValue
			}
			rc.Details = append(rc.Details, iotdm.ResourceChangeDetail{Target: t, Evaluation: d.Evaluation,
				ChangeSource: d.ChangeSource, CausingEntity: d.CausingEntity})
		}
		out.Changes = append(out.Changes, iotdm.StackChange{Type: "Resource", ResourceChange: rc})
	}
	return out, nil
}

// ExecuteChangeSet deploys a change set; the stack's other change sets are
// removed, as CloudFormation does.
func (s *Service) ExecuteChangeSet(ctx context.Context, in *iotdm.ExecuteChangeSetInput) (*iotdm.ExecuteChangeSetOutput, error) {
	cs, err := s.changeSet(ctx, in.StackName, in.ChangeSetName)
	if err != nil {
		return nil, err
	}
	if cs.ExecutionStatus != string(iotdm.ExecutionStatusAvailable) {
		return nil, iotdm.Errorf(iotdm.ErrInvalidChangeSetStatus, "ChangeSet [%s] cannot be executed in its current execution status of [%s]", cs.ChangeSetID, cs.ExecutionStatus)
	}
	st, err := s.stack(ctx, cs.StackName)
	if err != nil {
		return nil, err
	}
	t, err := s.Load(cs.TemplateBody, "")
	if err != nil {
		return nil, err
	}
	var prev *Stack
	if cs.ChangeSetType == string(iotdm.ChangeSetTypeUpdate) {
		prev = st
	}
	given := make([]iotdm.Parameter, 0, len(cs.Given))
	for k, v := range cs.Given {
		given = append(given, iotdm.Parameter{ParameterKey: k, ParameterValue: v})
	}
	tgt, _, err := s.target(t, cs.TemplateBody, given, prev, cs.Tags)
	if err != nil {
		return nil, err
	}
	if err := s.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		return s.deleteChangeSets(ctx, tx, st.StackName, "")
	}); err != nil {
		return nil, err
	}
	if cs.ChangeSetType == string(iotdm.ChangeSetTypeCreate) {
		if st.Status != ReviewInProgress {
			return nil, iotdm.Errorf(iotdm.ErrInvalidChangeSetStatus, "ChangeSet [%s] cannot be executed in its current status of [%s]", cs.ChangeSetID, st.Status)
		}
		st.Description = t.Description
		st.TemplateBody, st.Parameters, st.Tags, st.Capabilities = cs.TemplateBody, tgt.Records, cs.Tags, cs.Capabilities
		st.NotificationARNs, st.ChangeSetID = cs.NotificationARNs, cs.ChangeSetID
		if in.DisableRollback != nil {
			st.DisableRollback = *in.DisableRollback
		}
		st.Status, st.StatusReason = CreateInProgress, "User Initiated"
		err := s.start(ctx, st, func(ctx context.Context) {
			s.logOutcome(st, s.engine.Create(ctx, st, tgt, s))
		})
		if err != nil {
			return nil, err
		}
		return &iotdm.ExecuteChangeSetOutput{}, nil
	}
	if !updatable(st.Status) {
		return nil, iotdm.Errorf(iotdm.ErrInvalidChangeSetStatus, "ChangeSet [%s] cannot be executed in its current status of [%s]", cs.ChangeSetID, st.Status)
	}
	if err := s.startUpdate(ctx, st, tgt, in.DisableRollback, cs.ChangeSetID); err != nil {
		return nil, err
	}
	return &iotdm.ExecuteChangeSetOutput{}, nil
}

// DeleteChangeSet removes a change set.
func (s *Service) DeleteChangeSet(ctx context.Context, in *iotdm.DeleteChangeSetInput) (*iotdm.DeleteChangeSetOutput, error) {
	cs, err := s.changeSet(ctx, in.StackName, in.ChangeSetName)
	if err != nil {
		return nil, err
	}
	if cs.ExecutionStatus == string(iotdm.ExecutionStatusExecuteInProgress) {
		return nil, iotdm.Errorf(iotdm.ErrInvalidChangeSetStatus, "Cannot delete ChangeSet %s in status EXECUTE_IN_PROGRESS", cs.ChangeSetID)
	}
	err = s.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		return tx.Delete(ctx, KindChangeSet, changeSetKey(cs.StackName, cs.ChangeSetName))
	})
	if err != nil {
		return nil, err
	}
	return &iotdm.DeleteChangeSetOutput{}, nil
}

// ListChangeSets lists the change sets of a stack.
func (s *Service) ListChangeSets(ctx context.Context, in *iotdm.ListChangeSetsInput) (*iotdm.ListChangeSetsOutput, error) {
	st, err := s.stack(ctx, in.StackName)
	if err != nil {
		return nil, err
	}
	all, err := scanAll[ChangeSet](ctx, s.store, KindChangeSet, st.StackName+"/")
	if err != nil {
		return nil, err
	}
	start, end, next, err := page(in.NextToken, len(all), pageSize)
	if err != nil {
		return nil, err
	}
	out := &iotdm.ListChangeSetsOutput{Summaries: []iotdm.ChangeSetSummary{}, NextToken: next}
	for _, cs := range all[start:end] {
		out.Summaries = append(out.Summaries, iotdm.ChangeSetSummary{StackId: cs.StackID, StackName: cs.StackName,
			ChangeSetId: cs.ChangeSetID, ChangeSetName: cs.ChangeSetName, ExecutionStatus: iotdm.ExecutionStatus(cs.ExecutionStatus),
			Status: iotdm.ChangeSetStatus(cs.Status), StatusReason: cs.StatusReason, CreationTime: cs.CreationTime,
			Description: cs.Description})
	}
	return out, nil
}

var _ iotdm.Stacks = (*Service)(nil)
