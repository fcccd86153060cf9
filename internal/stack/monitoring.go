package stack

import (
	"context"
	"errors"
	"fmt"

	"github.com/iotdm/iotdm"
)

// Monitoring holds the services the CloudWatch and CloudWatch Logs
// providers call.
type Monitoring struct {
	LogGroups  iotdm.LogGroups
	Alarms     iotdm.Alarms
	Dashboards iotdm.Dashboards
}

// Types returns AWS::Logs::LogGroup, AWS::CloudWatch::Alarm and
// AWS::CloudWatch::Dashboard, and the CDK's metadata resource.
func (m *Monitoring) Types() []*Type {
	return []*Type{
		{Name: "AWS::Logs::LogGroup", Provider: logGroups{m.LogGroups}, NameProperty: "LogGroupName", NameMax: 512,
			Properties: []string{"LogGroupName", "RetentionInDays", "KmsKeyId", "LogGroupClass", "DataProtectionPolicy",
				"FieldIndexPolicies", "DeletionProtectionEnabled", "Tags"},
			CreateOnly: []string{"LogGroupName", "LogGroupClass"},
			Attributes: []string{"Arn"}},
		{Name: "AWS::CloudWatch::Alarm", Provider: alarms{m.Alarms}, NameProperty: "AlarmName", NameMax: 255,
			Properties: []string{"AlarmName", "AlarmDescription", "ActionsEnabled", "AlarmActions", "OKActions",
				"InsufficientDataActions", "MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period",
				"Unit", "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData",
				"EvaluateLowSampleCountPercentile", "Metrics", "ThresholdMetricId", "Tags"},
			Required:   []string{"ComparisonOperator", "EvaluationPeriods"},
			CreateOnly: []string{"AlarmName"},
			Attributes: []string{"Arn"}},
		{Name: "AWS::CloudWatch::Dashboard", Provider: dashboards{m.Dashboards}, NameProperty: "DashboardName", NameMax: 255,
			Properties: []string{"DashboardName", "DashboardBody"},
			Required:   []string{"DashboardBody"},
			CreateOnly: []string{"DashboardName"}},
		{Name: "AWS::CDK::Metadata", Provider: cdkMetadata{}, NameMax: 64,
			Properties: []string{"Analytics", "Metadata"}},
	}
}

// --- AWS::Logs::LogGroup ---

type logGroups struct{ svc iotdm.LogGroups }

func logTags(r *Request) (map[string]string, error) {
	tags, err := resourceTags(r)
	if err != nil || len(tags) == 0 {
		return nil, err
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m, nil
}

func (p logGroups) Create(ctx context.Context, r *Request) (*Result, error) {
	name := nameOr(r, "LogGroupName")
	tags, err := logTags(r)
	if err != nil {
		return nil, err
	}
	del, err := propBool(r.Properties, "DeletionProtectionEnabled")
	if err != nil {
		return nil, err
	}
	if _, err := p.svc.CreateLogGroup(ctx, &iotdm.CreateLogGroupInput{LogGroupName: name, KmsKeyID: propString(r.Properties, "KmsKeyId"),
		Tags: tags, LogGroupClass: propString(r.Properties, "LogGroupClass"), DeletionProtectionEnabled: del}); err != nil {
		return nil, err
	}
	res := &Result{PhysicalID: name}
	if err := p.retention(ctx, name, r.Properties, nil); err != nil {
		return res, err
	}
	arn, err := p.arn(ctx, name)
	res.Attributes = map[string]any{"Arn": arn}
	return res, err
}

// arn returns the log group's Arn attribute (the ARN ending in ":*").
func (p logGroups) arn(ctx context.Context, name string) (string, error) {
	out, err := p.svc.DescribeLogGroups(ctx, &iotdm.DescribeLogGroupsInput{LogGroupNamePrefix: name})
	if err != nil {
		return "", err
	}
	for _, g := range out.LogGroups {
		if g.LogGroupName == name {
			return g.Arn, nil
		}
	}
	return "", fmt.Errorf("log group %s not found after creation", name)
}

func (p logGroups) retention(ctx context.Context, name string, props, old map[string]any) error {
	days, ok, err := propInt(props, "RetentionInDays")
	if err != nil {
		return err
	}
	_, had, _ := propInt(old, "RetentionInDays")
	switch {
	case ok:
		n := int32(days)
		_, err = p.svc.PutRetentionPolicy(ctx, &iotdm.PutRetentionPolicyInput{LogGroupName: name, RetentionInDays: &n})
	case had:
		_, err = p.svc.DeleteRetentionPolicy(ctx, &iotdm.DeleteRetentionPolicyInput{LogGroupName: name})
	}
	return err
}

func (p logGroups) Update(ctx context.Context, r *Request) (*Result, error) {
	if err := p.retention(ctx, r.PhysicalID, r.Properties, r.OldProperties); err != nil {
		return nil, err
	}
	arn, _ := r.OldAttributes["Arn"].(string)
	newTags, err := logTags(r)
	if err != nil {
		return nil, err
	}
	oldTags, _ := logTags(&Request{Properties: r.OldProperties, StackTags: r.StackTags})
	var gone []string
	for k := range oldTags {
		if _, ok := newTags[k]; !ok {
			gone = append(gone, k)
		}
	}
	if len(gone) > 0 {
		if _, err := p.svc.UntagLogGroup(ctx, &iotdm.UntagLogGroupInput{LogGroupName: r.PhysicalID, Tags: gone}); err != nil {
			return nil, err
		}
	}
	if len(newTags) > 0 {
		if _, err := p.svc.TagLogGroup(ctx, &iotdm.TagLogGroupInput{LogGroupName: r.PhysicalID, Tags: newTags}); err != nil {
			return nil, err
		}
	}
	return &Result{PhysicalID: r.PhysicalID, Attributes: map[string]any{"Arn": arn}}, nil
}

func (p logGroups) Delete(ctx context.Context, r *Request) error {
	_, err := p.svc.DeleteLogGroup(ctx, &iotdm.DeleteLogGroupInput{LogGroupName: r.PhysicalID})
	if isNotFound(err) {
		return nil
	}
	return err
}

// --- AWS::CloudWatch::Alarm ---

type alarms struct{ svc iotdm.Alarms }

func dimensions(v any) ([]iotdm.Dimension, error) {
	list, ok := v.([]any)
	if v == nil {
		return nil, nil
	}
	if !ok {
		return nil, errors.New("Properties validation failed: #/Dimensions: expected type: JSONArray")
	}
	var out []iotdm.Dimension
	for _, e := range list {
		m, _ := e.(map[string]any)
		out = append(out, iotdm.Dimension{Name: propString(m, "Name"), Value: propString(m, "Value")})
	}
	return out, nil
}

func alarmInput(r *Request, name string) (*iotdm.PutMetricAlarmInput, error) {
	p := r.Properties
	in := &iotdm.PutMetricAlarmInput{AlarmName: name, AlarmDescription: propString(p, "AlarmDescription"),
		MetricName: propString(p, "MetricName"), Namespace: propString(p, "Namespace"), Statistic: propString(p, "Statistic"),
		ExtendedStatistic: propString(p, "ExtendedStatistic"), Unit: propString(p, "Unit"),
		ComparisonOperator: propString(p, "ComparisonOperator"), TreatMissingData: propString(p, "TreatMissingData"),
		EvaluateLowSampleCountPercentile: propString(p, "EvaluateLowSampleCountPercentile"),
		ThresholdMetricID:                propString(p, "ThresholdMetricId")}
	var err error
	if _, ok := p["ActionsEnabled"]; ok {
		b, err := propBool(p, "ActionsEnabled")
		if err != nil {
			return nil, err
		}
		in.ActionsEnabled = &b
	}
	for key, dst := range map[string]*[]string{"AlarmActions": &in.AlarmActions, "OKActions": &in.OKActions, "InsufficientDataActions": &in.InsufficientDataActions} {
		if *dst, err = propStrings(p, key); err != nil {
			return nil, err
		}
	}
	if in.Dimensions, err = dimensions(p["Dimensions"]); err != nil {
		return nil, err
	}
	for key, dst := range map[string]**int32{"Period": &in.Period, "EvaluationPeriods": &in.EvaluationPeriods, "DatapointsToAlarm": &in.DatapointsToAlarm} {
		n, ok, err := propInt(p, key)
		if err != nil {
			return nil, err
		}
		if ok {
			v := int32(n)
			*dst = &v
		}
	}
	if f, ok, err := propFloat(p, "Threshold"); err != nil {
		return nil, err
	} else if ok {
		in.Threshold = &f
	}
	if list, ok := p["Metrics"].([]any); ok {
		for _, e := range list {
			m, _ := e.(map[string]any)
			q := iotdm.MetricDataQuery{ID: propString(m, "Id"), Expression: propString(m, "Expression"), Label: propString(m, "Label"),
				AccountID: propString(m, "AccountId")}
			if _, ok := m["ReturnData"]; ok {
				b, err := propBool(m, "ReturnData")
				if err != nil {
					return nil, err
				}
				q.ReturnData = &b
			}
			if n, ok, _ := propInt(m, "Period"); ok {
				q.Period = int32(n)
			}
			if ms := propMap(m, "MetricStat"); ms != nil {
				metric := propMap(ms, "Metric")
				dims, err := dimensions(metric["Dimensions"])
				if err != nil {
					return nil, err
				}
				n, _, _ := propInt(ms, "Period")
				q.MetricStat = &iotdm.MetricStat{Metric: iotdm.Metric{Namespace: propString(metric, "Namespace"),
					MetricName: propString(metric, "MetricName"), Dimensions: dims}, Period: int32(n), Stat: propString(ms, "Stat"),
					Unit: propString(ms, "Unit")}
			}
			in.Metrics = append(in.Metrics, q)
		}
	}
	if in.Tags, err = resourceTags(r); err != nil {
		return nil, err
	}
	return in, nil
}

func (p alarms) put(ctx context.Context, r *Request, name string) (*Result, error) {
	in, err := alarmInput(r, name)
	if err != nil {
		return nil, err
	}
	if _, err := p.svc.PutMetricAlarm(ctx, in); err != nil {
		return nil, err
	}
	out, err := p.svc.DescribeAlarms(ctx, &iotdm.DescribeAlarmsInput{AlarmNames: []string{name}})
	if err != nil {
		return &Result{PhysicalID: name}, err
	}
	arn := ""
	if len(out.MetricAlarms) > 0 {
		arn = out.MetricAlarms[0].AlarmArn
	}
	return &Result{PhysicalID: name, Attributes: map[string]any{"Arn": arn}}, nil
}

func (p alarms) Create(ctx context.Context, r *Request) (*Result, error) {
	name := nameOr(r, "AlarmName")
	out, err := p.svc.DescribeAlarms(ctx, &iotdm.DescribeAlarmsInput{AlarmNames: []string{name}})
	if err != nil {
		return nil, err
	}
	// PutMetricAlarm replaces; CloudFormation refuses to take over an
	// alarm it did not create.
	if len(out.MetricAlarms) > 0 {
		return nil, iotdm.Errorf(iotdm.ErrResourceAlreadyExists, "%s already exists", name)
	}
	return p.put(ctx, r, name)
}

func (p alarms) Update(ctx context.Context, r *Request) (*Result, error) {
	return p.put(ctx, r, r.PhysicalID)
}

func (p alarms) Delete(ctx context.Context, r *Request) error {
	_, err := p.svc.DeleteAlarms(ctx, &iotdm.DeleteAlarmsInput{AlarmNames: []string{r.PhysicalID}})
	if isNotFound(err) {
		return nil
	}
	return err
}

// --- AWS::CloudWatch::Dashboard ---

type dashboards struct{ svc iotdm.Dashboards }

func (p dashboards) put(ctx context.Context, r *Request, name string) (*Result, error) {
	body, err := propDocument(r.Properties, "DashboardBody")
	if err != nil {
		return nil, err
	}
	out, err := p.svc.PutDashboard(ctx, &iotdm.PutDashboardInput{DashboardName: name, DashboardBody: body})
	if err != nil {
		return nil, err
	}
	if out != nil && len(out.DashboardValidationMessages) > 0 {
		m := out.DashboardValidationMessages[0]
		return nil, fmt.Errorf("The dashboard body is invalid: %s: %s", m.DataPath, m.Message)
	}
	return &Result{PhysicalID: name}, nil
}

func (p dashboards) Create(ctx context.Context, r *Request) (*Result, error) {
	name := nameOr(r, "DashboardName")
	if _, err := p.svc.GetDashboard(ctx, &iotdm.GetDashboardInput{DashboardName: name}); err == nil {
		return nil, iotdm.Errorf(iotdm.ErrResourceAlreadyExists, "%s already exists", name)
	}
	return p.put(ctx, r, name)
}

func (p dashboards) Update(ctx context.Context, r *Request) (*Result, error) {
	return p.put(ctx, r, r.PhysicalID)
}

func (p dashboards) Delete(ctx context.Context, r *Request) error {
	_, err := p.svc.DeleteDashboards(ctx, &iotdm.DeleteDashboardsInput{DashboardNames: []string{r.PhysicalID}})
	if isNotFound(err) {
		return nil
	}
	return err
}

// --- AWS::CDK::Metadata: what the CDK records about an app; nothing to make ---

type cdkMetadata struct{}

func (cdkMetadata) Create(_ context.Context, r *Request) (*Result, error) {
	return &Result{PhysicalID: r.GeneratedName}, nil
}
func (cdkMetadata) Update(_ context.Context, r *Request) (*Result, error) {
	return &Result{PhysicalID: r.PhysicalID}, nil
}
func (cdkMetadata) Delete(context.Context, *Request) error { return nil }
