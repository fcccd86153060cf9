package awsapi

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/iotdm/iotdm"
)

// fakeStacks is an in-memory iotdm.Stacks. It records every call; fail, when
// set, answers a call with an error; canned, when it holds an output for an
// operation, answers with that output. Otherwise it keeps stacks and change
// sets like a tiny CloudFormation that deploys instantly: change sets
// complete at once, executing one completes the stack, and a change set
// whose template and parameters match the stack's fails as empty.
type fakeStacks struct {
	mu         sync.Mutex
	calls      []fakeCall
	fail       func(op string, in any) error
	canned     map[string]any
	stacks     map[string]*fakeStack // by name
	changeSets []*fakeChangeSet
	pageSize   int
	seq        int
}

type fakeStack struct {
	stack    iotdm.Stack
	template string
	events   []iotdm.StackEvent
}

type fakeChangeSet struct {
	out      iotdm.DescribeChangeSetOutput
	template string
}

const fakeCFNARN = "arn:aws:cloudformation:us-east-1:123456789012:"

var fakeCFNTime = time.Date(2026, 11, 29, 10, 0, 0, 289_000_000, time.UTC)

func newFakeStacks() *fakeStacks {
	return &fakeStacks{stacks: map[string]*fakeStack{}, canned: map[string]any{}, pageSize: 2}
}

// fakeAnswer records a call and returns the error or canned output that
// answers it; ok is false when the fake's state must answer.
func fakeAnswer[Out any](f *fakeStacks, op string, in any) (out *Out, err error, ok bool) {
	f.calls = append(f.calls, fakeCall{op, in})
	if f.fail != nil {
		if err := f.fail(op, in); err != nil {
			return nil, err, true
		}
	}
	if c, found := f.canned[op]; found {
		return c.(*Out), nil, true
	}
	return nil, nil, false
}

// last returns the input of the last call, failing unless it was op.
func (f *fakeStacks) last(t *testing.T, op string) any {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		t.Fatalf("no call, want %s", op)
	}
	c := f.calls[len(f.calls)-1]
	if c.op != op {
		t.Fatalf("last call %s, want %s", c.op, op)
	}
	return c.in
}

// ops returns the operations called so far, in order.
func (f *fakeStacks) ops() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		out = append(out, c.op)
	}
	return out
}

// find returns the stack named or identified by nameOrID.
func (f *fakeStacks) find(nameOrID string) (*fakeStack, error) {
	for _, s := range f.stacks {
		if s.stack.StackName == nameOrID || s.stack.StackId == nameOrID {
			return s, nil
		}
	}
	return nil, iotdm.StackDoesNotExist(nameOrID)
}

// addStack creates a stack in status st and returns it.
func (f *fakeStacks) addStack(name, template string, params []iotdm.Parameter, st iotdm.StackStatus) *fakeStack {
	f.seq++
	s := &fakeStack{template: template, stack: iotdm.Stack{
		StackId:      fmt.Sprintf("%sstack/%s/%08d-0000-4000-8000-000000000000", fakeCFNARN, name, f.seq),
		StackName:    name,
		CreationTime: fakeCFNTime,
		StackStatus:  st,
		Parameters:   params,
	}}
	f.stacks[name] = s
	return s
}

// complete moves s to status st with the template and parameters applied,
// its one output exported, and an event.
func (f *fakeStacks) complete(s *fakeStack, st iotdm.StackStatus, template string, params []iotdm.Parameter) {
	s.template, s.stack.Parameters, s.stack.StackStatus = template, params, st
	if st != iotdm.StackStatusCreateComplete {
		s.stack.LastUpdatedTime = fakeCFNTime.Add(time.Minute)
	}
	value := ""
	for _, p := range params {
		if p.ParameterKey == "Prefix" {
			value = p.ParameterValue
		}
	}
	s.stack.Outputs = []iotdm.Output{{OutputKey: "ThingName", OutputValue: value + "-thing", Description: "The thing",
		ExportName: s.stack.StackName + "-ThingName"}}
	f.seq++
	s.events = append(s.events, iotdm.StackEvent{
		StackId: s.stack.StackId, StackName: s.stack.StackName, EventId: strconv.Itoa(f.seq),
		LogicalResourceId: s.stack.StackName, ResourceType: "AWS::CloudFormation::Stack",
		Timestamp: fakeCFNTime, ResourceStatus: iotdm.ResourceStatus(st),
	})
}

// page returns the page of n items that token starts, and the next token.
func page(token string, n, size int) (from, to int, next string) {
	from, _ = strconv.Atoi(token)
	from = min(max(from, 0), n)
	to = min(from+size, n)
	if to < n {
		next = strconv.Itoa(to)
	}
	return from, to, next
}

func (f *fakeStacks) sortedStacks() []*fakeStack {
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range f.stacks {
			if !yield(n) {
				return
			}
		}
	})
	var out []*fakeStack
	for _, n := range names {
		out = append(out, f.stacks[n])
	}
	return out
}

func (f *fakeStacks) CreateStack(ctx context.Context, in *iotdm.CreateStackInput) (*iotdm.CreateStackOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if out, err, ok := fakeAnswer[iotdm.CreateStackOutput](f, "CreateStack", in); ok {
		return out, err
	}
	if _, ok := f.stacks[in.StackName]; ok {
		return nil, iotdm.Errorf(iotdm.ErrAlreadyExists, "Stack [%s] already exists", in.StackName)
	}
	s := f.addStack(in.StackName, in.TemplateBody, in.Parameters, iotdm.StackStatusCreateInProgress)
	s.stack.Tags, s.stack.Capabilities = in.Tags, in.Capabilities
	f.complete(s, iotdm.StackStatusCreateComplete, in.TemplateBody, in.Parameters)
	return &iotdm.CreateStackOutput{StackId: s.stack.StackId}, nil
}

func (f *fakeStacks) UpdateStack(ctx context.Context, in *iotdm.UpdateStackInput) (*iotdm.UpdateStackOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if out, err, ok := fakeAnswer[iotdm.UpdateStackOutput](f, "UpdateStack", in); ok {
		return out, err
	}
	s, err := f.find(in.StackName)
	if err != nil {
		return nil, err
	}
	if s.template == in.TemplateBody && cmp.Equal(s.stack.Parameters, in.Parameters) {
		return nil, iotdm.Errorf(iotdm.ErrValidationError, "No updates are to be performed.")
	}
	f.complete(s, iotdm.StackStatusUpdateComplete, in.TemplateBody, in.Parameters)
	return &iotdm.UpdateStackOutput{StackId: s.stack.StackId}, nil
}

func (f *fakeStacks) DeleteStack(ctx context.Context, in *iotdm.DeleteStackInput) (*iotdm.DeleteStackOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if out, err, ok := fakeAnswer[iotdm.DeleteStackOutput](f, "DeleteStack", in); ok {
		return out, err
	}
	// AWS: deleting a stack that does not exist succeeds.
	if s, err := f.find(in.StackName); err == nil {
		delete(f.stacks, s.stack.StackName)
	}
	return &iotdm.DeleteStackOutput{}, nil
}

func (f *fakeStacks) CancelUpdateStack(ctx context.Context, in *iotdm.CancelUpdateStackInput) (*iotdm.CancelUpdateStackOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if out, err, ok := fakeAnswer[iotdm.CancelUpdateStackOutput](f, "CancelUpdateStack", in); ok {
		return out, err
	}
	return nil, iotdm.Errorf(iotdm.ErrValidationError, "CancelUpdateStack cannot be called from current stack status")
}

func (f *fakeStacks) ContinueUpdateRollback(ctx context.Context, in *iotdm.ContinueUpdateRollbackInput) (*iotdm.ContinueUpdateRollbackOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if out, err, ok := fakeAnswer[iotdm.ContinueUpdateRollbackOutput](f, "ContinueUpdateRollback", in); ok {
		return out, err
	}
	return nil, iotdm.Errorf(iotdm.ErrValidationError, "ContinueUpdateRollback cannot be called from current stack status")
}

func (f *fakeStacks) DescribeStacks(ctx context.Context, in *iotdm.DescribeStacksInput) (*iotdm.DescribeStacksOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if out, err, ok := fakeAnswer[iotdm.DescribeStacksOutput](f, "DescribeStacks", in); ok {
		return out, err
	}
	if in.StackName != "" {
		s, err := f.find(in.StackName)
		if err != nil {
			return nil, err
		}
		return &iotdm.DescribeStacksOutput{Stacks: []iotdm.Stack{s.stack}}, nil
	}
	all := f.sortedStacks()
	from, to, next := page(in.NextToken, len(all), f.pageSize)
	out := &iotdm.DescribeStacksOutput{Stacks: []iotdm.Stack{}, NextToken: next}
	for _, s := range all[from:to] {
		out.Stacks = append(out.Stacks, s.stack)
	}
	return out, nil
}

func (f *fakeStacks) ListStacks(ctx context.Context, in *iotdm.ListStacksInput) (*iotdm.ListStacksOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if out, err, ok := fakeAnswer[iotdm.ListStacksOutput](f, "ListStacks", in); ok {
		return out, err
	}
	var all []iotdm.StackSummary
	for _, s := range f.sortedStacks() {
		if len(in.StackStatusFilter) > 0 && !slices.Contains(in.StackStatusFilter, s.stack.StackStatus) {
			continue
		}
		all = append(all, iotdm.StackSummary{StackId: s.stack.StackId, StackName: s.stack.StackName,
			CreationTime: s.stack.CreationTime, StackStatus: s.stack.StackStatus})
	}
	from, to, next := page(in.NextToken, len(all), f.pageSize)
	return &iotdm.ListStacksOutput{StackSummaries: all[from:to], NextToken: next}, nil
}

func (f *fakeStacks) DescribeStackEvents(ctx context.Context, in *iotdm.DescribeStackEventsInput) (*iotdm.DescribeStackEventsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if out, err, ok := fakeAnswer[iotdm.DescribeStackEventsOutput](f, "DescribeStackEvents", in); ok {
		return out, err
	}
	s, err := f.find(in.StackName)
	if err != nil {
		return nil, err
	}
	from, to, next := page(in.NextToken, len(s.events), f.pageSize)
	return &iotdm.DescribeStackEventsOutput{StackEvents: s.events[from:to], NextToken: next}, nil
}

// fakeResources are the resources every fake stack has.
func fakeResources(s *fakeStack) []iotdm.StackResourceSummary {
	var out []iotdm.StackResourceSummary
	for _, id := range []string{"Policy", "Thing", "ThingGroup"} {
		out = append(out, iotdm.StackResourceSummary{LogicalResourceId: id, PhysicalResourceId: s.stack.StackName + "-" + id,
			ResourceType: "AWS::IoT::" + id, LastUpdatedTimestamp: fakeCFNTime, ResourceStatus: iotdm.ResourceStatusCreateComplete})
	}
	return out
}

func (f *fakeStacks) DescribeStackResource(ctx context.Context, in *iotdm.DescribeStackResourceInput) (*iotdm.DescribeStackResourceOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if out, err, ok := fakeAnswer[iotdm.DescribeStackResourceOutput](f, "DescribeStackResource", in); ok {
		return out, err
	}
	s, err := f.find(in.StackName)
	if err != nil {
		return nil, err
	}
	for _, r := range fakeResources(s) {
		if r.LogicalResourceId == in.LogicalResourceId {
			return &iotdm.DescribeStackResourceOutput{StackResourceDetail: &iotdm.StackResourceDetail{
				StackName: s.stack.StackName, StackId: s.stack.StackId, LogicalResourceId: r.LogicalResourceId,
				PhysicalResourceId: r.PhysicalResourceId, ResourceType: r.ResourceType,
				LastUpdatedTimestamp: r.LastUpdatedTimestamp, ResourceStatus: r.ResourceStatus, Metadata: "{}",
			}}, nil
		}
	}
	return nil, iotdm.Errorf(iotdm.ErrValidationError, "Resource %s does not exist for stack %s", in.LogicalResourceId, in.StackName)
}

func (f *fakeStacks) DescribeStackResources(ctx context.Context, in *iotdm.DescribeStackResourcesInput) (*iotdm.DescribeStackResourcesOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if out, err, ok := fakeAnswer[iotdm.DescribeStackResourcesOutput](f, "DescribeStackResources", in); ok {
		return out, err
	}
	s, err := f.find(in.StackName)
	if err != nil {
		return nil, err
	}
	out := &iotdm.DescribeStackResourcesOutput{StackResources: []iotdm.StackResource{}}
	for _, r := range fakeResources(s) {
		if in.LogicalResourceId == "" || in.LogicalResourceId == r.LogicalResourceId {
			out.StackResources = append(out.StackResources, iotdm.StackResource{StackName: s.stack.StackName, StackId: s.stack.StackId,
				LogicalResourceId: r.LogicalResourceId, PhysicalResourceId: r.PhysicalResourceId, ResourceType: r.ResourceType,
				Timestamp: r.LastUpdatedTimestamp, ResourceStatus: r.ResourceStatus})
		}
	}
	return out, nil
}

func (f *fakeStacks) ListStackResources(ctx context.Context, in *iotdm.ListStackResourcesInput) (*iotdm.ListStackResourcesOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if out, err, ok := fakeAnswer[iotdm.ListStackResourcesOutput](f, "ListStackResources", in); ok {
		return out, err
	}
	s, err := f.find(in.StackName)
	if err != nil {
		return nil, err
	}
	all := fakeResources(s)
	from, to, next := page(in.NextToken, len(all), f.pageSize)
	return &iotdm.ListStackResourcesOutput{StackResourceSummaries: all[from:to], NextToken: next}, nil
}

func (f *fakeStacks) GetTemplate(ctx context.Context, in *iotdm.GetTemplateInput) (*iotdm.GetTemplateOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if out, err, ok := fakeAnswer[iotdm.GetTemplateOutput](f, "GetTemplate", in); ok {
		return out, err
	}
	if in.ChangeSetName != "" {
		cs, err := f.findChangeSet(in.ChangeSetName, in.StackName)
		if err != nil {
			return nil, err
		}
		return &iotdm.GetTemplateOutput{TemplateBody: cs.template, StagesAvailable: []string{"Original"}}, nil
	}
	s, err := f.find(in.StackName)
	if err != nil {
		return nil, err
	}
	return &iotdm.GetTemplateOutput{TemplateBody: s.template, StagesAvailable: []string{"Original", "Processed"}}, nil
}

func (f *fakeStacks) GetTemplateSummary(ctx context.Context, in *iotdm.GetTemplateSummaryInput) (*iotdm.GetTemplateSummaryOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if out, err, ok := fakeAnswer[iotdm.GetTemplateSummaryOutput](f, "GetTemplateSummary", in); ok {
		return out, err
	}
	out := &iotdm.GetTemplateSummaryOutput{ResourceTypes: []string{"AWS::IoT::Thing"}, Version: "2010-09-09"}
	switch {
	case in.StackName != "":
		s, err := f.find(in.StackName)
		if err != nil {
			return nil, err
		}
		for _, p := range s.stack.Parameters {
			out.Parameters = append(out.Parameters, iotdm.ParameterDeclaration{ParameterKey: p.ParameterKey, ParameterType: "String"})
		}
	case in.TemplateBody != "":
		out.Parameters = []iotdm.ParameterDeclaration{{ParameterKey: "Prefix", ParameterType: "String", DefaultValue: "dev"}}
	default:
		return nil, iotdm.Errorf(iotdm.ErrValidationError, "Either Template URL or Template Body must be specified.")
	}
	return out, nil
}

func (f *fakeStacks) ValidateTemplate(ctx context.Context, in *iotdm.ValidateTemplateInput) (*iotdm.ValidateTemplateOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if out, err, ok := fakeAnswer[iotdm.ValidateTemplateOutput](f, "ValidateTemplate", in); ok {
		return out, err
	}
	if in.TemplateBody == "" {
		return nil, iotdm.Errorf(iotdm.ErrValidationError, "Either Template URL or Template Body must be specified.")
	}
	return &iotdm.ValidateTemplateOutput{Parameters: []iotdm.TemplateParameter{{ParameterKey: "Prefix", DefaultValue: "dev"}}}, nil
}

// findChangeSet finds a change set by ARN, or by name within stack.
func (f *fakeStacks) findChangeSet(nameOrID, stack string) (*fakeChangeSet, error) {
	for _, cs := range f.changeSets {
		if cs.out.ChangeSetId == nameOrID ||
			cs.out.ChangeSetName == nameOrID && (cs.out.StackName == stack || cs.out.StackId == stack) {
			return cs, nil
		}
	}
	return nil, iotdm.ChangeSetDoesNotExist(nameOrID)
}

func (f *fakeStacks) CreateChangeSet(ctx context.Context, in *iotdm.CreateChangeSetInput) (*iotdm.CreateChangeSetOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if out, err, ok := fakeAnswer[iotdm.CreateChangeSetOutput](f, "CreateChangeSet", in); ok {
		return out, err
	}
	s, err := f.find(in.StackName)
	switch {
	case in.ChangeSetType == iotdm.ChangeSetTypeCreate && err == nil && s.stack.StackStatus != iotdm.StackStatusReviewInProgress:
		return nil, iotdm.Errorf(iotdm.ErrAlreadyExists, "Stack [%s] already exists and cannot be created again with the changeSet [%s].", in.StackName, in.ChangeSetName)
	case in.ChangeSetType == iotdm.ChangeSetTypeCreate && err != nil:
		s = f.addStack(in.StackName, "", nil, iotdm.StackStatusReviewInProgress)
	case err != nil:
		return nil, err
	}
	if _, err := f.findChangeSet(in.ChangeSetName, s.stack.StackName); err == nil {
		return nil, iotdm.Errorf(iotdm.ErrAlreadyExists, "ChangeSet %s already exists", in.ChangeSetName)
	}
	f.seq++
	cs := &fakeChangeSet{template: in.TemplateBody, out: iotdm.DescribeChangeSetOutput{
		ChangeSetName: in.ChangeSetName, ChangeSetId: fmt.Sprintf("%schangeSet/%s/%d", fakeCFNARN, in.ChangeSetName, f.seq),
		StackId: s.stack.StackId, StackName: s.stack.StackName, Description: in.Description,
		Parameters: in.Parameters, CreationTime: fakeCFNTime, Capabilities: in.Capabilities, Tags: in.Tags,
		NotificationARNs: in.NotificationARNs,
		Status:           iotdm.ChangeSetStatusCreateComplete, ExecutionStatus: iotdm.ExecutionStatusAvailable,
	}}
	action := iotdm.ChangeActionModify
	if s.stack.StackStatus == iotdm.StackStatusReviewInProgress {
		action = iotdm.ChangeActionAdd
	} else if s.template == in.TemplateBody && cmp.Equal(s.stack.Parameters, in.Parameters) {
		cs.out.Status, cs.out.ExecutionStatus = iotdm.ChangeSetStatusFailed, iotdm.ExecutionStatusUnavailable
		cs.out.StatusReason = "The submitted information didn't contain changes. Submit different information to create a change set."
	}
	if cs.out.Status == iotdm.ChangeSetStatusCreateComplete {
		rc := &iotdm.ResourceChange{Action: action, LogicalResourceId: "Thing", ResourceType: "AWS::IoT::Thing"}
		if action == iotdm.ChangeActionModify {
			rc.PhysicalResourceId, rc.Replacement, rc.Scope = s.stack.StackName+"-Thing", iotdm.ReplacementFalse, []string{"Properties"}
			rc.Details = []iotdm.ResourceChangeDetail{{Evaluation: "Static", ChangeSource: "ParameterReference", CausingEntity: "Prefix",
				Target: &iotdm.ResourceTargetDefinition{Attribute: "Properties", Name: "ThingName", RequiresRecreation: "Always"}}}
		}
		cs.out.Changes = []iotdm.StackChange{{Type: "Resource", ResourceChange: rc}}
	}
	f.changeSets = append(f.changeSets, cs)
	return &iotdm.CreateChangeSetOutput{Id: cs.out.ChangeSetId, StackId: s.stack.StackId}, nil
}

func (f *fakeStacks) DescribeChangeSet(ctx context.Context, in *iotdm.DescribeChangeSetInput) (*iotdm.DescribeChangeSetOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if out, err, ok := fakeAnswer[iotdm.DescribeChangeSetOutput](f, "DescribeChangeSet", in); ok {
		return out, err
	}
	cs, err := f.findChangeSet(in.ChangeSetName, in.StackName)
	if err != nil {
		return nil, err
	}
	out := cs.out
	return &out, nil
}

func (f *fakeStacks) ExecuteChangeSet(ctx context.Context, in *iotdm.ExecuteChangeSetInput) (*iotdm.ExecuteChangeSetOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if out, err, ok := fakeAnswer[iotdm.ExecuteChangeSetOutput](f, "ExecuteChangeSet", in); ok {
		return out, err
	}
	cs, err := f.findChangeSet(in.ChangeSetName, in.StackName)
	if err != nil {
		return nil, err
	}
	if cs.out.ExecutionStatus != iotdm.ExecutionStatusAvailable {
		return nil, iotdm.Errorf(iotdm.ErrInvalidChangeSetStatus, "ChangeSet [%s] cannot be executed in its current status of [%s]",
			cs.out.ChangeSetId, cs.out.Status)
	}
	s, err := f.find(cs.out.StackId)
	if err != nil {
		return nil, err
	}
	st := iotdm.StackStatusUpdateComplete
	if s.stack.StackStatus == iotdm.StackStatusReviewInProgress {
		st = iotdm.StackStatusCreateComplete
		s.stack.Tags, s.stack.Capabilities = cs.out.Tags, cs.out.Capabilities
	}
	f.complete(s, st, cs.template, cs.out.Parameters)
	s.stack.ChangeSetId = cs.out.ChangeSetId
	cs.out.ExecutionStatus = iotdm.ExecutionStatusExecuteComplete
	return &iotdm.ExecuteChangeSetOutput{}, nil
}

func (f *fakeStacks) DeleteChangeSet(ctx context.Context, in *iotdm.DeleteChangeSetInput) (*iotdm.DeleteChangeSetOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if out, err, ok := fakeAnswer[iotdm.DeleteChangeSetOutput](f, "DeleteChangeSet", in); ok {
		return out, err
	}
	cs, err := f.findChangeSet(in.ChangeSetName, in.StackName)
	if err != nil {
		return nil, err
	}
	f.changeSets = slices.DeleteFunc(f.changeSets, func(c *fakeChangeSet) bool { return c == cs })
	return &iotdm.DeleteChangeSetOutput{}, nil
}

func (f *fakeStacks) ListChangeSets(ctx context.Context, in *iotdm.ListChangeSetsInput) (*iotdm.ListChangeSetsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if out, err, ok := fakeAnswer[iotdm.ListChangeSetsOutput](f, "ListChangeSets", in); ok {
		return out, err
	}
	s, err := f.find(in.StackName)
	if err != nil {
		return nil, err
	}
	var all []iotdm.ChangeSetSummary
	for _, cs := range f.changeSets {
		if cs.out.StackId == s.stack.StackId {
			all = append(all, iotdm.ChangeSetSummary{StackId: cs.out.StackId, StackName: cs.out.StackName,
				ChangeSetId: cs.out.ChangeSetId, ChangeSetName: cs.out.ChangeSetName, ExecutionStatus: cs.out.ExecutionStatus,
				Status: cs.out.Status, StatusReason: cs.out.StatusReason, CreationTime: cs.out.CreationTime, Description: cs.out.Description})
		}
	}
	from, to, next := page(in.NextToken, len(all), f.pageSize)
	return &iotdm.ListChangeSetsOutput{Summaries: all[from:to], NextToken: next}, nil
}

func (f *fakeStacks) ListExports(ctx context.Context, in *iotdm.ListExportsInput) (*iotdm.ListExportsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if out, err, ok := fakeAnswer[iotdm.ListExportsOutput](f, "ListExports", in); ok {
		return out, err
	}
	var all []iotdm.Export
	for _, s := range f.sortedStacks() {
		for _, o := range s.stack.Outputs {
			if o.ExportName != "" {
				all = append(all, iotdm.Export{ExportingStackId: s.stack.StackId, Name: o.ExportName, Value: o.OutputValue})
			}
		}
	}
	from, to, next := page(in.NextToken, len(all), f.pageSize)
	return &iotdm.ListExportsOutput{Exports: all[from:to], NextToken: next}, nil
}

// cfnEdge is an httptest server running Server + NewCloudFormation over
// fake.
func cfnEdge(t *testing.T, fake *fakeStacks) *httptest.Server {
	t.Helper()
	s := New(Config{Keys: testKeys, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	s.Handle("cloudformation", NewCloudFormation(fake))
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv
}

// cfnModel is the part of botocore's cloudformation model these tests read.
type cfnModel struct {
	Metadata struct {
		Protocol     string `json:"protocol"`
		XMLNamespace string `json:"xmlNamespace"`
		APIVersion   string `json:"apiVersion"`
	} `json:"metadata"`
	Operations map[string]struct {
		Input  *shapeRef `json:"input"`
		Output *struct {
			Shape         string `json:"shape"`
			ResultWrapper string `json:"resultWrapper"`
		} `json:"output"`
		Errors []shapeRef `json:"errors"`
	} `json:"operations"`
	Shapes map[string]struct {
		Type     string              `json:"type"`
		Required []string            `json:"required"`
		Members  map[string]shapeRef `json:"members"`
		Member   *shapeRef           `json:"member"`
		Key      *shapeRef           `json:"key"`
		Value    *shapeRef           `json:"value"`
		Error    *struct {
			Code           string `json:"code"`
			HTTPStatusCode int    `json:"httpStatusCode"`
		} `json:"error"`
	} `json:"shapes"`
}

func loadCFNModel(t *testing.T) *cfnModel {
	t.Helper()
	requirePython(t)
	dir, err := botocoreDir()
	if err != nil || dir == "" {
		t.Fatalf("botocore is required (pip install botocore): %v", err)
	}
	fh, err := os.Open(filepath.Join(dir, "data", "cloudformation", cfnVersion, "service-2.json.gz"))
	if err != nil {
		t.Fatalf("open cloudformation model: %v", err)
	}
	defer fh.Close()
	zr, err := gzip.NewReader(fh)
	if err != nil {
		t.Fatal(err)
	}
	var m cfnModel
	if err := json.NewDecoder(zr).Decode(&m); err != nil {
		t.Fatalf("decode cloudformation model: %v", err)
	}
	return &m
}

func TestCloudFormationOperationsMatchModel(t *testing.T) {
	m := loadCFNModel(t)
	if m.Metadata.Protocol != "query" || m.Metadata.XMLNamespace != cfnNamespace || m.Metadata.APIVersion != cfnVersion {
		t.Fatalf("model metadata %+v, want query protocol, %s, %s", m.Metadata, cfnNamespace, cfnVersion)
	}
	c := newCloudFormation(newFakeStacks())
	stacks := reflect.TypeFor[iotdm.Stacks]()
	if stacks.NumMethod() != len(c.ops) {
		t.Errorf("iotdm.Stacks has %d methods, the endpoint serves %d operations", stacks.NumMethod(), len(c.ops))
	}
	for name, op := range c.ops {
		t.Run(name, func(t *testing.T) {
			mop, ok := m.Operations[name]
			if !ok {
				t.Fatalf("operation %s is not in the model", name)
			}
			meth, ok := stacks.MethodByName(name)
			if !ok {
				t.Fatalf("iotdm.Stacks has no method %s", name)
			}
			in, out := meth.Type.In(1).Elem(), meth.Type.Out(0).Elem()
			if in != op.input {
				t.Errorf("input type %v, method takes %v", op.input, in)
			}
			shape := m.Shapes[mop.Input.Shape]
			if got, want := slices.Sorted(slices.Values(op.required)), slices.Sorted(slices.Values(shape.Required)); !slices.Equal(got, want) {
				t.Errorf("required members %v, model requires %v", got, want)
			}
			cfnCheckShape(t, m, in, mop.Input.Shape, name+"Input")
			wantResult := mop.Output != nil && mop.Output.ResultWrapper != ""
			if op.result != wantResult {
				t.Errorf("result wrapper %v, model %v", op.result, wantResult)
			}
			if mop.Output != nil {
				if mop.Output.ResultWrapper != "" && mop.Output.ResultWrapper != name+"Result" {
					t.Errorf("model wraps the output in %s", mop.Output.ResultWrapper)
				}
				cfnCheckShape(t, m, out, mop.Output.Shape, name+"Output")
			} else if out.NumField() != 0 {
				t.Errorf("the model has no output, %v has fields", out)
			}
		})
	}
}

// cfnCheckShape checks that the Go type t has exactly the members of the
// model's structure shape, each of a type that carries the member's.
func cfnCheckShape(t *testing.T, m *cfnModel, typ reflect.Type, shape, path string) {
	t.Helper()
	s := m.Shapes[shape]
	fields := map[string]bool{}
	for i := range typ.NumField() {
		f := typ.Field(i)
		fields[f.Name] = true
		ref, ok := s.Members[f.Name]
		if !ok {
			t.Errorf("%s.%s: the model's %s has no such member", path, f.Name, shape)
			continue
		}
		cfnCheckType(t, m, f.Type, ref.Shape, path+"."+f.Name)
	}
	for name := range s.Members {
		if !fields[name] {
			t.Errorf("%s: no field for the model's member %s.%s", path, shape, name)
		}
	}
}

func cfnCheckType(t *testing.T, m *cfnModel, typ reflect.Type, shape, path string) {
	t.Helper()
	s := m.Shapes[shape]
	if typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	ok := true
	switch s.Type {
	case "string":
		ok = typ.Kind() == reflect.String
	case "boolean":
		ok = typ.Kind() == reflect.Bool
	case "integer":
		ok = typ.Kind() == reflect.Int32
	case "long":
		ok = typ.Kind() == reflect.Int64
	case "timestamp":
		ok = typ == reflect.TypeFor[time.Time]()
	case "list":
		ok = typ.Kind() == reflect.Slice
		if ok {
			cfnCheckType(t, m, typ.Elem(), s.Member.Shape, path+"[]")
		}
	case "map":
		ok = typ.Kind() == reflect.Map
		if ok {
			cfnCheckType(t, m, typ.Key(), s.Key.Shape, path+"{key}")
			cfnCheckType(t, m, typ.Elem(), s.Value.Shape, path+"{value}")
		}
	case "structure":
		ok = typ.Kind() == reflect.Struct && typ != reflect.TypeFor[time.Time]()
		if ok {
			cfnCheckShape(t, m, typ, shape, path)
		}
	default:
		t.Errorf("%s: model type %s not handled", path, s.Type)
	}
	if !ok {
		t.Errorf("%s: Go type %v cannot carry the model's %s (%s)", path, typ, shape, s.Type)
	}
}

func TestCloudFormationStatusTableMatchesModel(t *testing.T) {
	m := loadCFNModel(t)
	codes := []iotdm.ErrorCode{
		iotdm.ErrAlreadyExists, iotdm.ErrLimitExceeded, iotdm.ErrInsufficientCapabilities, iotdm.ErrTokenAlreadyExists,
		iotdm.ErrChangeSetNotFound, iotdm.ErrInvalidChangeSetStatus, iotdm.ErrStackNotFound, iotdm.ErrStackSetNotFound,
	}
	byCode := map[string]int{}
	for _, s := range m.Shapes {
		if s.Error != nil {
			byCode[s.Error.Code] = s.Error.HTTPStatusCode
		}
	}
	for _, code := range codes {
		want, ok := byCode[string(code)]
		if !ok {
			t.Errorf("%s: no exception of the model has this code", code)
			continue
		}
		if got := cfnStatusOf(code); got != want {
			t.Errorf("cfnStatusOf(%s) = %d, want %d", code, got, want)
		}
	}
	// Every error an operation served here declares has a status.
	c := newCloudFormation(newFakeStacks())
	for name := range c.ops {
		for _, e := range m.Operations[name].Errors {
			s := m.Shapes[e.Shape]
			if got := cfnStatusOf(iotdm.ErrorCode(s.Error.Code)); got != s.Error.HTTPStatusCode {
				t.Errorf("%s declares %s: cfnStatusOf(%s) = %d, want %d", name, e.Shape, s.Error.Code, got, s.Error.HTTPStatusCode)
			}
		}
	}
}

// cfnResponse is a parsed query-protocol response, result or error.
type cfnResponse struct {
	XMLName xml.Name
	Error   struct {
		Type    string
		Code    string
		Message string
	}
	RequestID        string `xml:"RequestId"`
	ResponseMetadata struct {
		RequestID string `xml:"RequestId"`
	}
	Inner []byte `xml:",innerxml"`
}

// cfnDo sends a signed request with form (as a POST body, or as the query
// string of a GET) and parses the answer.
func cfnDo(t *testing.T, srv *httptest.Server, method string, form url.Values) (int, http.Header, *cfnResponse) {
	t.Helper()
	var r *http.Request
	if method == http.MethodGet {
		r = signed(t, srv.URL, method, "/?"+form.Encode(), nil, nil, goodCreds, "cloudformation", time.Now())
	} else {
		r = signed(t, srv.URL, method, "/", []byte(form.Encode()),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, goodCreds, "cloudformation", time.Now())
	}
	resp, err := srv.Client().Do(r)
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out cfnResponse
	if err := xml.Unmarshal(body, &out); err != nil {
		t.Fatalf("response is not XML: %v\n%s", err, body)
	}
	return resp.StatusCode, resp.Header, &out
}

func TestCloudFormationWireFormat(t *testing.T) {
	fake := newFakeStacks()
	fake.addStack("app", "{}", nil, iotdm.StackStatusCreateComplete)
	srv := cfnEdge(t, fake)

	t.Run("result in its wrapper with the request id", func(t *testing.T) {
		status, h, resp := cfnDo(t, srv, http.MethodPost, url.Values{"Action": {"DescribeStacks"}, "Version": {cfnVersion}, "StackName": {"app"}})
		if status != http.StatusOK || h.Get("Content-Type") != "text/xml" {
			t.Fatalf("status %d content type %q", status, h.Get("Content-Type"))
		}
		if resp.XMLName != (xml.Name{Space: cfnNamespace, Local: "DescribeStacksResponse"}) {
			t.Errorf("root %v", resp.XMLName)
		}
		if resp.ResponseMetadata.RequestID == "" || resp.ResponseMetadata.RequestID != h.Get("X-Amzn-RequestId") {
			t.Errorf("request id %q, header %q", resp.ResponseMetadata.RequestID, h.Get("X-Amzn-RequestId"))
		}
		want := "<DescribeStacksResult><Stacks><member><StackId>" + fake.stacks["app"].stack.StackId +
			"</StackId><StackName>app</StackName><CreationTime>2026-11-29T10:00:00.289Z</CreationTime>" +
			"<StackStatus>CREATE_COMPLETE</StackStatus><DisableRollback>false</DisableRollback>" +
			"<EnableTerminationProtection>false</EnableTerminationProtection></member></Stacks></DescribeStacksResult>"
		if got := string(resp.Inner); !strings.HasPrefix(got, want) {
			t.Errorf("body %s\nwant prefix %s", got, want)
		}
	})
	t.Run("GET with the query string", func(t *testing.T) {
		status, _, resp := cfnDo(t, srv, http.MethodGet, url.Values{"Action": {"ListStacks"}, "Version": {cfnVersion},
			"StackStatusFilter.member.1": {"CREATE_COMPLETE"}, "StackStatusFilter.member.2": {"UPDATE_COMPLETE"}})
		if status != http.StatusOK || resp.XMLName.Local != "ListStacksResponse" {
			t.Fatalf("status %d root %v", status, resp.XMLName)
		}
		want := &iotdm.ListStacksInput{StackStatusFilter: []iotdm.StackStatus{"CREATE_COMPLETE", "UPDATE_COMPLETE"}}
		if diff := cmp.Diff(want, fake.last(t, "ListStacks")); diff != "" {
			t.Errorf("input (-want +got):\n%s", diff)
		}
	})
	t.Run("operation without output has no result element", func(t *testing.T) {
		status, _, resp := cfnDo(t, srv, http.MethodPost, url.Values{"Action": {"DeleteStack"}, "Version": {cfnVersion}, "StackName": {"gone"}})
		if status != http.StatusOK || resp.XMLName.Local != "DeleteStackResponse" || strings.Contains(string(resp.Inner), "Result") {
			t.Errorf("status %d body %s", status, resp.Inner)
		}
	})
	t.Run("empty output is an empty result element", func(t *testing.T) {
		fake.canned["ExecuteChangeSet"] = &iotdm.ExecuteChangeSetOutput{}
		defer delete(fake.canned, "ExecuteChangeSet")
		status, _, resp := cfnDo(t, srv, http.MethodPost, url.Values{"Action": {"ExecuteChangeSet"}, "Version": {cfnVersion}, "ChangeSetName": {"cs"}})
		if status != http.StatusOK || !strings.HasPrefix(string(resp.Inner), "<ExecuteChangeSetResult></ExecuteChangeSetResult><ResponseMetadata>") {
			t.Errorf("status %d body %s", status, resp.Inner)
		}
	})
	t.Run("lists, empty lists, maps, nested structures and escaping", func(t *testing.T) {
		status, _, resp := cfnDo(t, srv, http.MethodPost, url.Values{
			"Action": {"CreateChangeSet"}, "Version": {cfnVersion}, "StackName": {"app"}, "ChangeSetName": {"imp"},
			"ChangeSetType":          {"IMPORT"},
			"TemplateBody":           {"Resources:\n  T: {Type: 'AWS::IoT::Thing'} # <&>"},
			"Parameters":             {""},
			"Capabilities.member.2":  {"CAPABILITY_NAMED_IAM"},
			"Capabilities.member.1":  {"CAPABILITY_IAM"},
			"Capabilities.member.10": {"CAPABILITY_AUTO_EXPAND"},
			"Tags.member.1.Key":      {"team"},
			"Tags.member.1.Value":    {""},
			"RollbackConfiguration.MonitoringTimeInMinutes":               {"5"},
			"RollbackConfiguration.RollbackTriggers.member.1.Arn":         {"arn:alarm"},
			"RollbackConfiguration.RollbackTriggers.member.1.Type":        {"AWS::CloudWatch::Alarm"},
			"ResourcesToImport.member.1.LogicalResourceId":                {"T"},
			"ResourcesToImport.member.1.ResourceType":                     {"AWS::IoT::Thing"},
			"ResourcesToImport.member.1.ResourceIdentifier.entry.1.key":   {"ThingName"},
			"ResourcesToImport.member.1.ResourceIdentifier.entry.1.value": {"dev-1"},
			"ResourcesToImport.member.1.ResourceIdentifier.entry.2.key":   {"Other"},
			"IncludeNestedStacks":                                         {"false"},
			"Unknown.Member":                                              {"ignored"},
		})
		if status != http.StatusOK {
			t.Fatalf("status %d: %+v", status, resp.Error)
		}
		want := &iotdm.CreateChangeSetInput{
			StackName: "app", ChangeSetName: "imp", ChangeSetType: "IMPORT",
			TemplateBody: "Resources:\n  T: {Type: 'AWS::IoT::Thing'} # <&>",
			Parameters:   []iotdm.Parameter{},
			Capabilities: []string{"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"},
			Tags:         []iotdm.Tag{{Key: "team"}},
			RollbackConfiguration: &iotdm.RollbackConfiguration{MonitoringTimeInMinutes: ptr(int32(5)),
				RollbackTriggers: []iotdm.RollbackTrigger{{Arn: "arn:alarm", Type: "AWS::CloudWatch::Alarm"}}},
			ResourcesToImport: []iotdm.ResourceToImport{{LogicalResourceId: "T", ResourceType: "AWS::IoT::Thing",
				ResourceIdentifier: map[string]string{"ThingName": "dev-1", "Other": ""}}},
			IncludeNestedStacks: ptr(false),
		}
		if diff := cmp.Diff(want, fake.last(t, "CreateChangeSet")); diff != "" {
			t.Errorf("input (-want +got):\n%s", diff)
		}
		fake.mu.Lock()
		cs := fake.changeSets[len(fake.changeSets)-1]
		cs.out.Tags = []iotdm.Tag{{Key: "a<b", Value: "x&y"}}
		cs.out.Parameters = []iotdm.Parameter{}
		fake.mu.Unlock()
		status, _, resp = cfnDo(t, srv, http.MethodPost, url.Values{"Action": {"DescribeChangeSet"}, "ChangeSetName": {cs.out.ChangeSetId}})
		if status != http.StatusOK {
			t.Fatalf("status %d: %+v", status, resp.Error)
		}
		for _, want := range []string{
			"<Parameters/>",
			"<Tags><member><Key>a&lt;b</Key><Value>x&amp;y</Value></member></Tags>",
			"<Capabilities><member>CAPABILITY_IAM</member><member>CAPABILITY_NAMED_IAM</member><member>CAPABILITY_AUTO_EXPAND</member></Capabilities>",
			"<CreationTime>2026-11-29T10:00:00.289Z</CreationTime>",
		} {
			if !strings.Contains(string(resp.Inner), want) {
				t.Errorf("body lacks %s:\n%s", want, resp.Inner)
			}
		}
	})
}

func TestCloudFormationWireErrors(t *testing.T) {
	fake := newFakeStacks()
	fake.fail = func(op string, in any) error {
		if op == "ListExports" {
			return io.ErrUnexpectedEOF // not an *iotdm.Error
		}
		return nil
	}
	srv := cfnEdge(t, fake)
	tests := []struct {
		name         string
		method       string
		form         url.Values
		status       int
		code, fault  string
		message      string
		messageStart bool
	}{
		{
			name: "unknown action", form: url.Values{"Action": {"DescribeThing"}, "Version": {cfnVersion}},
			status: 400, code: "InvalidAction", fault: "Sender", message: "Could not find operation DescribeThing for version 2010-05-15",
		},
		{
			name: "unknown version", form: url.Values{"Action": {"DescribeStacks"}, "Version": {"2011-01-01"}},
			status: 400, code: "InvalidAction", fault: "Sender", message: "Could not find operation DescribeStacks for version 2011-01-01",
		},
		{
			name: "no action", form: url.Values{"Version": {cfnVersion}},
			status: 400, code: "MissingAction", fault: "Sender", message: "The request must contain the parameter Action.",
		},
		{
			name: "missing required member", form: url.Values{"Action": {"DescribeStackEvents"}, "Version": {cfnVersion}},
			status: 400, code: "ValidationError", fault: "Sender",
			message: "1 validation error detected: Value null at 'stackName' failed to satisfy constraint: Member must not be null",
		},
		{
			name: "two problems at once", method: http.MethodGet,
			form:   url.Values{"Action": {"DescribeStackResource"}, "Version": {cfnVersion}, "StackName": {""}},
			status: 400, code: "ValidationError", fault: "Sender",
			message: "2 validation errors detected: Value '' at 'stackName' failed to satisfy constraint: Member must have length greater than or equal to 1; " +
				"Value null at 'logicalResourceId' failed to satisfy constraint: Member must not be null",
		},
		{
			name: "malformed boolean", form: url.Values{"Action": {"CreateStack"}, "StackName": {"s"}, "DisableRollback": {"yes"}},
			status: 400, code: "ValidationError", fault: "Sender",
			message: "1 validation error detected: Value 'yes' at 'disableRollback' failed to satisfy constraint: Member must be a boolean",
		},
		{
			name: "malformed integer in a list member", form: url.Values{"Action": {"CreateStack"}, "StackName": {"s"},
				"RollbackConfiguration.MonitoringTimeInMinutes": {"ten"}},
			status: 400, code: "ValidationError", fault: "Sender",
			message: "1 validation error detected: Value 'ten' at 'rollbackConfiguration.monitoringTimeInMinutes' failed to satisfy constraint: Member must be an integer",
		},
		{
			name: "stack that does not exist", form: url.Values{"Action": {"DescribeStacks"}, "StackName": {"nope"}},
			status: 400, code: "ValidationError", fault: "Sender", message: "Stack with id nope does not exist",
		},
		{
			name: "change set that does not exist", form: url.Values{"Action": {"DescribeChangeSet"}, "ChangeSetName": {"cs"}, "StackName": {"s"}},
			status: 404, code: "ChangeSetNotFound", fault: "Sender", message: "ChangeSet [cs] does not exist",
		},
		{
			name: "internal failure hides the cause", form: url.Values{"Action": {"ListExports"}},
			status: 500, code: "InternalFailure", fault: "Receiver", message: internalMessage,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			status, h, resp := cfnDo(t, srv, method, tt.form)
			if status != tt.status {
				t.Errorf("status %d, want %d", status, tt.status)
			}
			if resp.XMLName != (xml.Name{Space: cfnNamespace, Local: "ErrorResponse"}) {
				t.Errorf("root %v, want ErrorResponse", resp.XMLName)
			}
			if resp.Error.Code != tt.code || resp.Error.Type != tt.fault || resp.Error.Message != tt.message {
				t.Errorf("error %+v, want %s %s %q", resp.Error, tt.fault, tt.code, tt.message)
			}
			if resp.RequestID == "" || resp.RequestID != h.Get("X-Amzn-RequestId") {
				t.Errorf("request id %q, header %q", resp.RequestID, h.Get("X-Amzn-RequestId"))
			}
		})
	}
}

func TestCloudFormationCodeRenames(t *testing.T) {
	tests := []struct {
		err    error
		code   string
		status int
	}{
		{iotdm.Errorf(iotdm.ErrResourceNotFound, "x"), "ValidationError", 400},
		{iotdm.Errorf(iotdm.ErrInvalidRequest, "x"), "ValidationError", 400},
		{iotdm.Errorf(iotdm.ErrResourceAlreadyExists, "x"), "AlreadyExistsException", 400},
		{iotdm.Errorf(iotdm.ErrLimitExceeded, "x"), "LimitExceededException", 400},
		{iotdm.Errorf(iotdm.ErrThrottling, "x"), "Throttling", 400},
		{iotdm.Errorf(iotdm.ErrServiceUnavailable, "x"), "ServiceUnavailable", 503},
		{iotdm.Errorf(iotdm.ErrInvalidSignature, "x"), "SignatureDoesNotMatch", 403},
		{iotdm.Errorf(iotdm.ErrUnrecognizedClient, "x"), "InvalidClientTokenId", 403},
		{iotdm.Errorf(iotdm.ErrRequestEntityTooLarge, "x"), "RequestEntityTooLargeException", 413},
	}
	c := newCloudFormation(newFakeStacks())
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			w := httptest.NewRecorder()
			c.WriteError(w, httptest.NewRequest(http.MethodPost, "/", nil), tt.err)
			var resp cfnResponse
			if err := xml.Unmarshal(w.Body.Bytes(), &resp); err != nil {
				t.Fatal(err)
			}
			if w.Code != tt.status || resp.Error.Code != tt.code {
				t.Errorf("WriteError(%v) = %d %s, want %d %s", tt.err, w.Code, resp.Error.Code, tt.status, tt.code)
			}
			if resp.RequestID == "" {
				t.Error("no request id outside the edge")
			}
		})
	}
}

func TestCloudFormationFormIndices(t *testing.T) {
	f := newCFNForm(url.Values{
		"L.member.2": {"b"}, "L.member.1": {"a"}, "L.member.10": {"c"}, "L.member.x": {"no"}, "L.member.0": {"no"},
		"L.member.01": {"no"}, "L.memberz.1": {"no"}, "M": {"no"},
	})
	if got := f.indices("L.member."); !slices.Equal(got, []int{1, 2, 10}) {
		t.Errorf("indices(L.member.) = %v, want [1 2 10]", got)
	}
	keys := f.under("L.member.1")
	sort.Strings(keys)
	if !slices.Equal(keys, []string{"L.member.1", "L.member.10"}) {
		t.Errorf("under(L.member.1) = %v", keys)
	}
}
