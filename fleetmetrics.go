package iotdm

import "context"

// Fleet metrics (AWS §8): named aggregation queries over a fleet index that
// a scheduler runs every period. Each metric is one entity,
// KindFleetMetric/{metricName}, holding a StoredFleetMetric, so that the
// scheduler can follow the change feed to know what to run.

// KindFleetMetric is the entity kind of fleet metrics; the key is the
// metric name.
const KindFleetMetric = "fleetmetric"

// Aggregation type names (AWS AggregationTypeName).
const (
	AggregationStatistics  = "Statistics"
	AggregationPercentiles = "Percentiles"
	AggregationCardinality = "Cardinality"
)

// The statistics a Statistics fleet metric may emit, as its values name them
// (AWS §8, the members of AWS's Statistics).
const (
	StatCount        = "count"
	StatAverage      = "average"
	StatSum          = "sum"
	StatMinimum      = "minimum"
	StatMaximum      = "maximum"
	StatSumOfSquares = "sumOfSquares"
	StatVariance     = "variance"
	StatStdDeviation = "stdDeviation"
)

// AggregationType is AWS's AggregationType: Statistics with the statistics
// to emit, Percentiles with the percentiles to emit ("50", "99"), or
// Cardinality.
type AggregationType struct {
	Name   string   `json:"name"`
	Values []string `json:"values,omitempty"`
}

// StoredFleetMetric is a fleet metric as stored and as DescribeFleetMetric
// shows it, with the tags that CreateFleetMetric and TagResource give it.
type StoredFleetMetric struct {
	MetricName       string          `json:"metricName"`
	MetricARN        string          `json:"metricArn"`
	QueryString      string          `json:"queryString"`
	AggregationType  AggregationType `json:"aggregationType"`
	Period           int             `json:"period"` // seconds between emissions
	AggregationField string          `json:"aggregationField"`
	Description      string          `json:"description,omitempty"`
	QueryVersion     string          `json:"queryVersion"`
	IndexName        string          `json:"indexName"`
	Unit             string          `json:"unit,omitempty"` // a CloudWatch unit; "" for none
	Version          int64           `json:"version"`        // 1 at creation, +1 per update
	CreationDate     Timestamp       `json:"creationDate"`
	LastModifiedDate Timestamp       `json:"lastModifiedDate"`
	Tags             []Tag           `json:"tags,omitempty"`
}

// --- operation shapes ---

type CreateFleetMetricInput struct {
	MetricName       string           `json:"-" uri:"metricName"`
	QueryString      string           `json:"queryString"`
	AggregationType  *AggregationType `json:"aggregationType,omitempty"`
	Period           int              `json:"period,omitempty"`
	AggregationField string           `json:"aggregationField"`
	Description      string           `json:"description,omitempty"`
	QueryVersion     string           `json:"queryVersion,omitempty"`
	IndexName        string           `json:"indexName,omitempty"` // default AWS_Things
	Unit             string           `json:"unit,omitempty"`
	Tags             []Tag            `json:"tags,omitempty"`
}

type CreateFleetMetricOutput struct {
	MetricName string `json:"metricName"`
	MetricARN  string `json:"metricArn"`
}

type DescribeFleetMetricInput struct {
	MetricName string `json:"-" uri:"metricName"`
}

type DescribeFleetMetricOutput struct {
	MetricName       string          `json:"metricName"`
	QueryString      string          `json:"queryString"`
	AggregationType  AggregationType `json:"aggregationType"`
	Period           int             `json:"period"`
	AggregationField string          `json:"aggregationField"`
	Description      string          `json:"description,omitempty"`
	QueryVersion     string          `json:"queryVersion"`
	IndexName        string          `json:"indexName"`
	CreationDate     Timestamp       `json:"creationDate"`
	LastModifiedDate Timestamp       `json:"lastModifiedDate"`
	Unit             string          `json:"unit,omitempty"`
	Version          int64           `json:"version"`
	MetricARN        string          `json:"metricArn"`
}

// UpdateFleetMetricInput changes the members given; a nil member keeps its
// value. IndexName is required, as the model says.
type UpdateFleetMetricInput struct {
	MetricName       string           `json:"-" uri:"metricName"`
	QueryString      *string          `json:"queryString,omitempty"`
	AggregationType  *AggregationType `json:"aggregationType,omitempty"`
	Period           *int             `json:"period,omitempty"`
	AggregationField *string          `json:"aggregationField,omitempty"`
	Description      *string          `json:"description,omitempty"`
	QueryVersion     *string          `json:"queryVersion,omitempty"`
	IndexName        string           `json:"indexName"`
	Unit             *string          `json:"unit,omitempty"`
	ExpectedVersion  *int64           `json:"expectedVersion,omitempty"`
}

type DeleteFleetMetricInput struct {
	MetricName      string `json:"-" uri:"metricName"`
	ExpectedVersion *int64 `json:"-" query:"expectedVersion"`
}

type ListFleetMetricsInput struct {
	NextToken  string `json:"-" query:"nextToken"`
	MaxResults int    `json:"-" query:"maxResults"`
}

// FleetMetricNameAndArn is the list item of ListFleetMetrics.
type FleetMetricNameAndArn struct {
	MetricName string `json:"metricName"`
	MetricARN  string `json:"metricArn"`
}

type ListFleetMetricsOutput struct {
	FleetMetrics []FleetMetricNameAndArn `json:"fleetMetrics"`
	NextToken    string                  `json:"nextToken,omitempty"`
}

// FleetMetrics is the fleet metrics control plane (AWS §8): creating,
// describing, updating, deleting and listing fleet metrics, with AWS IoT's
// validation against the fleet indexing configuration. Running them each
// period is the scheduler's; tagging them is the Registry's TagResource.
type FleetMetrics interface {
	CreateFleetMetric(ctx context.Context, in *CreateFleetMetricInput) (*CreateFleetMetricOutput, error)
	DescribeFleetMetric(ctx context.Context, in *DescribeFleetMetricInput) (*DescribeFleetMetricOutput, error)
	UpdateFleetMetric(ctx context.Context, in *UpdateFleetMetricInput) (*Empty, error)
	DeleteFleetMetric(ctx context.Context, in *DeleteFleetMetricInput) (*Empty, error)
	ListFleetMetrics(ctx context.Context, in *ListFleetMetricsInput) (*ListFleetMetricsOutput, error)
}
