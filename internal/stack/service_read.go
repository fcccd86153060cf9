package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/iotdm/iotdm"
)

// scanAll decodes every entity of kind under prefix, in key order.
func scanAll[T any](ctx context.Context, store iotdm.Store, kind, prefix string) ([]T, error) {
	var all []T
	err := store.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
		return tx.Scan(ctx, kind, prefix, "", 0, func(k string, v []byte) error {
			var x T
			if err := json.Unmarshal(v, &x); err != nil {
				return fmt.Errorf("decode %s %s: %w", kind, k, err)
			}
			all = append(all, x)
			return nil
		})
	})
	return all, err
}

// page returns items [start, start+size) of n and the next token.
func page(token string, n, size int) (start, end int, next string, err error) {
	if token != "" {
		start, err = strconv.Atoi(token)
		if err != nil || start < 0 || start > n {
			return 0, 0, "", validationf("Invalid NextToken")
		}
	}
	end = min(n, start+size)
	if end < n {
		next = strconv.Itoa(end)
	}
	return start, end, next, nil
}

func (s *Service) toAPI(st *Stack) iotdm.Stack {
	out := iotdm.Stack{
		StackId: st.StackID, StackName: st.StackName, ChangeSetId: st.ChangeSetID, Description: st.Description,
		CreationTime: st.CreationTime, DeletionTime: st.DeletionTime, LastUpdatedTime: st.LastUpdatedTime,
		StackStatus: iotdm.StackStatus(st.Status), StackStatusReason: st.StatusReason, DisableRollback: st.DisableRollback,
		NotificationARNs: st.NotificationARNs, Capabilities: st.Capabilities, RoleARN: st.RoleARN, Tags: st.Tags,
		EnableTerminationProtection: st.TerminationProtection,
		DriftInformation:            &iotdm.StackDriftInformation{StackDriftStatus: "NOT_CHECKED"},
	}
	if st.TimeoutInMinutes > 0 {
		n := int32(st.TimeoutInMinutes)
		out.TimeoutInMinutes = &n
	}
	for _, p := range st.Parameters {
		v := p.Value
		if p.NoEcho {
			v = "****"
		}
		out.Parameters = append(out.Parameters, iotdm.Parameter{ParameterKey: p.Key, ParameterValue: v, ResolvedValue: p.ResolvedValue})
	}
	for _, o := range st.Outputs {
		out.Outputs = append(out.Outputs, iotdm.Output{OutputKey: o.Key, OutputValue: o.Value, Description: o.Description, ExportName: o.ExportName})
	}
	return out
}

// DescribeStacks describes one stack (live by name or id, deleted by id)
// or every live stack.
func (s *Service) DescribeStacks(ctx context.Context, in *iotdm.DescribeStacksInput) (*iotdm.DescribeStacksOutput, error) {
	if in.StackName != "" {
		st, err := s.stack(ctx, in.StackName)
		if err != nil {
			return nil, err
		}
		return &iotdm.DescribeStacksOutput{Stacks: []iotdm.Stack{s.toAPI(st)}}, nil
	}
	var all []*Stack
	if err := s.scanStacks(ctx, func(st *Stack) error { all = append(all, st); return nil }); err != nil {
		return nil, err
	}
	sort.Slice(all, func(i, j int) bool { return all[i].CreationTime.After(all[j].CreationTime) })
	start, end, next, err := page(in.NextToken, len(all), pageSize)
	if err != nil {
		return nil, err
	}
	out := &iotdm.DescribeStacksOutput{Stacks: []iotdm.Stack{}, NextToken: next}
	for _, st := range all[start:end] {
		out.Stacks = append(out.Stacks, s.toAPI(st))
	}
	return out, nil
}

// ListStacks lists live and deleted stacks, filtered by status.
func (s *Service) ListStacks(ctx context.Context, in *iotdm.ListStacksInput) (*iotdm.ListStacksOutput, error) {
	all, err := scanAll[*Stack](ctx, s.store, KindStack, "")
	if err != nil {
		return nil, err
	}
	deleted, err := scanAll[*Stack](ctx, s.store, KindDeletedStack, "")
	if err != nil {
		return nil, err
	}
	all = append(all, deleted...)
	if len(in.StackStatusFilter) > 0 {
		keep := all[:0]
		for _, st := range all {
			for _, f := range in.StackStatusFilter {
				if string(f) == st.Status {
					keep = append(keep, st)
					break
				}
			}
		}
		all = keep
	}
	sort.Slice(all, func(i, j int) bool { return all[i].CreationTime.After(all[j].CreationTime) })
	start, end, next, err := page(in.NextToken, len(all), pageSize)
	if err != nil {
		return nil, err
	}
	out := &iotdm.ListStacksOutput{StackSummaries: []iotdm.StackSummary{}, NextToken: next}
	for _, st := range all[start:end] {
		out.StackSummaries = append(out.StackSummaries, iotdm.StackSummary{
			StackId: st.StackID, StackName: st.StackName, TemplateDescription: st.Description,
			CreationTime: st.CreationTime, LastUpdatedTime: st.LastUpdatedTime, DeletionTime: st.DeletionTime,
			StackStatus: iotdm.StackStatus(st.Status), StackStatusReason: st.StatusReason,
			DriftInformation: &iotdm.StackDriftInformation{StackDriftStatus: "NOT_CHECKED"},
		})
	}
	return out, nil
}

// Events returns the stack's events, newest first.
func (s *Service) Events(ctx context.Context, st *Stack) ([]Event, error) {
	evs, err := scanAll[Event](ctx, s.store, KindStackEvent, st.StackID+"/")
	for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
		evs[i], evs[j] = evs[j], evs[i]
	}
	return evs, err
}

// DescribeStackEvents lists a stack's events, newest first.
func (s *Service) DescribeStackEvents(ctx context.Context, in *iotdm.DescribeStackEventsInput) (*iotdm.DescribeStackEventsOutput, error) {
	st, err := s.stack(ctx, in.StackName)
	if err != nil {
		return nil, err
	}
	evs, err := s.Events(ctx, st)
	if err != nil {
		return nil, err
	}
	start, end, next, err := page(in.NextToken, len(evs), pageSize)
	if err != nil {
		return nil, err
	}
	out := &iotdm.DescribeStackEventsOutput{StackEvents: []iotdm.StackEvent{}, NextToken: next}
	for _, ev := range evs[start:end] {
		out.StackEvents = append(out.StackEvents, iotdm.StackEvent{
			StackId: ev.StackID, EventId: ev.EventID, StackName: ev.StackName, LogicalResourceId: ev.LogicalResourceID,
			PhysicalResourceId: ev.PhysicalResourceID, ResourceType: ev.ResourceType, Timestamp: ev.Timestamp,
			ResourceStatus: iotdm.ResourceStatus(ev.ResourceStatus), ResourceStatusReason: ev.ResourceStatusReason,
			ResourceProperties: ev.ResourceProperties, ClientRequestToken: ev.ClientRequestToken,
		})
	}
	return out, nil
}

func metadataString(m map[string]any) string {
	if m == nil {
		return ""
	}
	b, err := json.Marshal(m)
	if err != nil {
		return ""
	}
	return string(b)
}

// DescribeStackResource describes one resource of a stack.
func (s *Service) DescribeStackResource(ctx context.Context, in *iotdm.DescribeStackResourceInput) (*iotdm.DescribeStackResourceOutput, error) {
	st, err := s.stack(ctx, in.StackName)
	if err != nil {
		return nil, err
	}
	r, ok := st.Resources[in.LogicalResourceId]
	if !ok {
		return nil, validationf("Resource %s does not exist for stack %s", in.LogicalResourceId, in.StackName)
	}
	return &iotdm.DescribeStackResourceOutput{StackResourceDetail: &iotdm.StackResourceDetail{
		StackName: st.StackName, StackId: st.StackID, LogicalResourceId: r.LogicalID, PhysicalResourceId: r.PhysicalID,
		ResourceType: r.Type, LastUpdatedTimestamp: r.LastUpdated, ResourceStatus: iotdm.ResourceStatus(r.Status),
		ResourceStatusReason: r.StatusReason, Metadata: metadataString(r.Metadata),
		DriftInformation: &iotdm.StackResourceDriftInformation{StackResourceDriftStatus: "NOT_CHECKED"},
	}}, nil
}

// DescribeStackResources describes the resources of a stack, or the stack
// holding a physical resource.
func (s *Service) DescribeStackResources(ctx context.Context, in *iotdm.DescribeStackResourcesInput) (*iotdm.DescribeStackResourcesOutput, error) {
	var st *Stack
	var err error
	switch {
	case in.StackName != "":
		st, err = s.stack(ctx, in.StackName)
	case in.PhysicalResourceId != "":
		err = s.scanStacks(ctx, func(x *Stack) error {
			for _, r := range x.Resources {
				if r.PhysicalID == in.PhysicalResourceId && st == nil {
					st = x
				}
			}
			return nil
		})
		if err == nil && st == nil {
			err = validationf("Stack for %s does not exist", in.PhysicalResourceId)
		}
	default:
		err = validationf("Either StackName or PhysicalResourceId must be specified.")
	}
	if err != nil {
		return nil, err
	}
	out := &iotdm.DescribeStackResourcesOutput{StackResources: []iotdm.StackResource{}}
	for _, id := range sortedKeys(st.Resources) {
		r := st.Resources[id]
		if in.LogicalResourceId != "" && id != in.LogicalResourceId {
			continue
		}
		out.StackResources = append(out.StackResources, iotdm.StackResource{
			StackName: st.StackName, StackId: st.StackID, LogicalResourceId: id, PhysicalResourceId: r.PhysicalID,
			ResourceType: r.Type, Timestamp: r.LastUpdated, ResourceStatus: iotdm.ResourceStatus(r.Status),
			ResourceStatusReason: r.StatusReason,
			DriftInformation:     &iotdm.StackResourceDriftInformation{StackResourceDriftStatus: "NOT_CHECKED"},
		})
	}
	return out, nil
}

// ListStackResources lists the resources of a stack.
func (s *Service) ListStackResources(ctx context.Context, in *iotdm.ListStackResourcesInput) (*iotdm.ListStackResourcesOutput, error) {
	st, err := s.stack(ctx, in.StackName)
	if err != nil {
		return nil, err
	}
	ids := sortedKeys(st.Resources)
	start, end, next, err := page(in.NextToken, len(ids), pageSize)
	if err != nil {
		return nil, err
	}
	out := &iotdm.ListStackResourcesOutput{StackResourceSummaries: []iotdm.StackResourceSummary{}, NextToken: next}
	for _, id := range ids[start:end] {
		r := st.Resources[id]
		out.StackResourceSummaries = append(out.StackResourceSummaries, iotdm.StackResourceSummary{
			LogicalResourceId: id, PhysicalResourceId: r.PhysicalID, ResourceType: r.Type, LastUpdatedTimestamp: r.LastUpdated,
			ResourceStatus: iotdm.ResourceStatus(r.Status), ResourceStatusReason: r.StatusReason,
			DriftInformation: &iotdm.StackResourceDriftInformation{StackResourceDriftStatus: "NOT_CHECKED"},
		})
	}
	return out, nil
}

// GetTemplate returns the template of a stack or of one of its change sets.
func (s *Service) GetTemplate(ctx context.Context, in *iotdm.GetTemplateInput) (*iotdm.GetTemplateOutput, error) {
	if in.ChangeSetName != "" {
		cs, err := s.changeSet(ctx, in.StackName, in.ChangeSetName)
		if err != nil {
			return nil, err
		}
		return &iotdm.GetTemplateOutput{TemplateBody: cs.TemplateBody, StagesAvailable: []string{"Original", "Processed"}}, nil
	}
	st, err := s.stack(ctx, in.StackName)
	if err != nil {
		return nil, err
	}
	return &iotdm.GetTemplateOutput{TemplateBody: st.TemplateBody, StagesAvailable: []string{"Original", "Processed"}}, nil
}

// GetTemplateSummary summarises a template body or a stack's template.
func (s *Service) GetTemplateSummary(ctx context.Context, in *iotdm.GetTemplateSummaryInput) (*iotdm.GetTemplateSummaryOutput, error) {
	body := in.TemplateBody
	if in.StackName != "" {
		if body != "" || in.TemplateURL != "" {
			return nil, validationf("Exactly one of TemplateBody, TemplateUrl, StackName or StackSetName must be specified.")
		}
		st, err := s.stack(ctx, in.StackName)
		if err != nil {
			return nil, err
		}
		body = st.TemplateBody
	}
	t, err := s.Load(body, in.TemplateURL)
	if err != nil {
		return nil, err
	}
	out := &iotdm.GetTemplateSummaryOutput{Description: t.Description, Version: t.FormatVersion, Parameters: []iotdm.ParameterDeclaration{}}
	for _, name := range t.ParameterOrder {
		p := t.Parameters[name]
		d := iotdm.ParameterDeclaration{ParameterKey: name, ParameterType: p.Type, NoEcho: p.NoEcho, Description: p.Description,
			ParameterConstraints: &iotdm.ParameterConstraints{AllowedValues: p.AllowedValues}}
		if p.Default != nil {
			d.DefaultValue = *p.Default
		}
		out.Parameters = append(out.Parameters, d)
	}
	types := map[string][]string{}
	for _, id := range t.ResourceOrder {
		types[t.Resources[id].Type] = append(types[t.Resources[id].Type], id)
	}
	for _, typ := range sortedKeys(types) {
		out.ResourceTypes = append(out.ResourceTypes, typ)
		out.ResourceIdentifierSummaries = append(out.ResourceIdentifierSummaries,
			iotdm.ResourceIdentifierSummary{ResourceType: typ, LogicalResourceIds: types[typ]})
	}
	out.Metadata = metadataString(t.Metadata)
	return out, nil
}

// ValidateTemplate checks a template without deploying it.
func (s *Service) ValidateTemplate(ctx context.Context, in *iotdm.ValidateTemplateInput) (*iotdm.ValidateTemplateOutput, error) {
	t, err := s.Load(in.TemplateBody, in.TemplateURL)
	if err != nil {
		return nil, err
	}
	out := &iotdm.ValidateTemplateOutput{Description: t.Description, Parameters: []iotdm.TemplateParameter{}}
	for _, name := range t.ParameterOrder {
		p := t.Parameters[name]
		tp := iotdm.TemplateParameter{ParameterKey: name, NoEcho: p.NoEcho, Description: p.Description}
		if p.Default != nil {
			tp.DefaultValue = *p.Default
		}
		out.Parameters = append(out.Parameters, tp)
	}
	return out, nil
}

// ListExports lists every export, by name.
func (s *Service) ListExports(ctx context.Context, in *iotdm.ListExportsInput) (*iotdm.ListExportsOutput, error) {
	all, err := scanAll[Export](ctx, s.store, KindExport, "")
	if err != nil {
		return nil, err
	}
	start, end, next, err := page(in.NextToken, len(all), pageSize)
	if err != nil {
		return nil, err
	}
	out := &iotdm.ListExportsOutput{Exports: []iotdm.Export{}, NextToken: next}
	for _, ex := range all[start:end] {
		out.Exports = append(out.Exports, iotdm.Export{ExportingStackId: ex.StackID, Name: ex.Name, Value: ex.Value})
	}
	return out, nil
}
