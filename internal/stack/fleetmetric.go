package stack

import (
	"context"

	"github.com/iotdm/iotdm"
)

// fleetMetricType returns the AWS::IoT::FleetMetric type.
func (s *IoT) fleetMetricType() *Type {
	return &Type{Name: "AWS::IoT::FleetMetric", Provider: fleetMetrics{s.FleetMetrics, s.Registry}, NameProperty: "MetricName", NameMax: 128,
		Properties: []string{"MetricName", "Description", "QueryString", "Period", "AggregationField", "QueryVersion",
			"IndexName", "Unit", "AggregationType", "Tags"},
		Required:   []string{"MetricName"},
		CreateOnly: []string{"MetricName"},
		Attributes: []string{"MetricArn", "CreationDate", "LastModifiedDate", "Version"}}
}

type fleetMetrics struct {
	svc  iotdm.FleetMetrics
	tags tagger
}

// fleetMetricFields reads the properties shared by create and update.
func fleetMetricFields(p map[string]any) (agg *iotdm.AggregationType, period int, err error) {
	if m := propMap(p, "AggregationType"); m != nil {
		values, err := propStrings(m, "Values")
		if err != nil {
			return nil, 0, err
		}
		agg = &iotdm.AggregationType{Name: propString(m, "Name"), Values: values}
	}
	n, _, err := propInt(p, "Period")
	return agg, int(n), err
}

func (f fleetMetrics) attributes(ctx context.Context, name string) (map[string]any, error) {
	d, err := f.svc.DescribeFleetMetric(ctx, &iotdm.DescribeFleetMetricInput{MetricName: name})
	if err != nil {
		return nil, err
	}
	return map[string]any{"MetricArn": d.MetricARN, "CreationDate": d.CreationDate.Format("2006-01-02T15:04:05.000Z"),
		"LastModifiedDate": d.LastModifiedDate.Format("2006-01-02T15:04:05.000Z"), "Version": float64(d.Version)}, nil
}

func (f fleetMetrics) Create(ctx context.Context, r *Request) (*Result, error) {
	agg, period, err := fleetMetricFields(r.Properties)
	if err != nil {
		return nil, err
	}
	tags, err := resourceTags(r)
	if err != nil {
		return nil, err
	}
	name := nameOr(r, "MetricName")
	out, err := f.svc.CreateFleetMetric(ctx, &iotdm.CreateFleetMetricInput{MetricName: name,
		QueryString: propString(r.Properties, "QueryString"), AggregationType: agg, Period: period,
		AggregationField: propString(r.Properties, "AggregationField"), Description: propString(r.Properties, "Description"),
		QueryVersion: propString(r.Properties, "QueryVersion"), IndexName: propString(r.Properties, "IndexName"),
		Unit: propString(r.Properties, "Unit"), Tags: tags})
	if err != nil {
		return nil, err
	}
	attrs, err := f.attributes(ctx, out.MetricName)
	if err != nil {
		return &Result{PhysicalID: out.MetricName}, err
	}
	return &Result{PhysicalID: out.MetricName, Attributes: attrs}, nil
}

func (f fleetMetrics) Update(ctx context.Context, r *Request) (*Result, error) {
	agg, period, err := fleetMetricFields(r.Properties)
	if err != nil {
		return nil, err
	}
	str := func(key string) *string { s := propString(r.Properties, key); return &s }
	in := &iotdm.UpdateFleetMetricInput{MetricName: r.PhysicalID, QueryString: str("QueryString"), AggregationType: agg,
		AggregationField: str("AggregationField"), Description: str("Description"), IndexName: propString(r.Properties, "IndexName"),
		Unit: str("Unit")}
	if in.IndexName == "" {
		in.IndexName = "AWS_Things"
	}
	if q := propString(r.Properties, "QueryVersion"); q != "" {
		in.QueryVersion = &q
	}
	if period > 0 {
		in.Period = &period
	}
	if _, err := f.svc.UpdateFleetMetric(ctx, in); err != nil {
		return nil, err
	}
	arn, _ := r.OldAttributes["MetricArn"].(string)
	if err := retag(ctx, f.tags, arn, r); err != nil {
		return nil, err
	}
	attrs, err := f.attributes(ctx, r.PhysicalID)
	if err != nil {
		return nil, err
	}
	return &Result{PhysicalID: r.PhysicalID, Attributes: attrs}, nil
}

func (f fleetMetrics) Delete(ctx context.Context, r *Request) error {
	_, err := f.svc.DeleteFleetMetric(ctx, &iotdm.DeleteFleetMetricInput{MetricName: r.PhysicalID})
	if isNotFound(err) {
		return nil
	}
	return err
}
