package iotdm

import "context"

// CloudWatch metrics (monitoring 2010-08-01): the shapes of PutMetricData,
// GetMetricStatistics, GetMetricData and ListMetrics, and of the alarm
// operations beyond the definitions in monitoring.go. Member names are the
// model's (PascalCase); timestamps travel as Timestamp. The wire adapter
// (internal/awsapi) carries these structs over every CloudWatch protocol by
// their json names.

// CloudWatch limits from the model and the API reference.
const (
	// MaxMetricDataPerPut is the most MetricData items one PutMetricData
	// carries.
	MaxMetricDataPerPut = 1000
	// MaxValuesPerDatum is the most Values (and Counts) one MetricDatum
	// carries.
	MaxValuesPerDatum = 150
	// MaxDatapointsPerStatistics is the most datapoints one
	// GetMetricStatistics may ask for.
	MaxDatapointsPerStatistics = 1440
	// MaxMetricDataQueries is the most MetricDataQueries of a GetMetricData.
	MaxMetricDataQueries = 500
	// DefaultMaxDatapoints is GetMetricData's page of datapoints when
	// MaxDatapoints is not given.
	DefaultMaxDatapoints = 100800
)

// ScanBy values of GetMetricData and DescribeAlarmHistory.
const (
	ScanByTimestampDescending = "TimestampDescending"
	ScanByTimestampAscending  = "TimestampAscending"
)

// StatusCode values of a MetricDataResult.
const (
	MetricStatusComplete    = "Complete"
	MetricStatusPartialData = "PartialData"
	MetricStatusInternal    = "InternalError"
)

// --- PutMetricData ---

// MetricDatum is AWS's MetricDatum: one observation (Value), a set of them
// (Values with Counts), or statistics already aggregated (StatisticValues).
type MetricDatum struct {
	MetricName      string        `json:"MetricName,omitempty"`
	Dimensions      []Dimension   `json:"Dimensions,omitempty"`
	Timestamp       *Timestamp    `json:"Timestamp,omitempty"`
	Value           *float64      `json:"Value,omitempty"`
	StatisticValues *StatisticSet `json:"StatisticValues,omitempty"`
	Values          []float64     `json:"Values,omitempty"`
	Counts          []float64     `json:"Counts,omitempty"`
	Unit            string        `json:"Unit,omitempty"`
	// StorageResolution is 1 (high resolution) or 60 (the default).
	StorageResolution *int32 `json:"StorageResolution,omitempty"`
}

// Entity is AWS's Entity: what a set of metric data is about.
type Entity struct {
	KeyAttributes map[string]string `json:"KeyAttributes,omitempty"`
	Attributes    map[string]string `json:"Attributes,omitempty"`
}

// EntityMetricData is AWS's EntityMetricData. iotdm stores its MetricData
// as any other; the entity is validated and not kept.
type EntityMetricData struct {
	Entity     *Entity       `json:"Entity,omitempty"`
	MetricData []MetricDatum `json:"MetricData,omitempty"`
}

type PutMetricDataInput struct {
	Namespace              string             `json:"Namespace,omitempty"`
	MetricData             []MetricDatum      `json:"MetricData,omitempty"`
	EntityMetricData       []EntityMetricData `json:"EntityMetricData,omitempty"`
	StrictEntityValidation *bool              `json:"StrictEntityValidation,omitempty"`
}

// --- GetMetricStatistics ---

type GetMetricStatisticsInput struct {
	Namespace          string      `json:"Namespace,omitempty"`
	MetricName         string      `json:"MetricName,omitempty"`
	Dimensions         []Dimension `json:"Dimensions,omitempty"`
	StartTime          *Timestamp  `json:"StartTime,omitempty"`
	EndTime            *Timestamp  `json:"EndTime,omitempty"`
	Period             *int32      `json:"Period,omitempty"`
	Statistics         []string    `json:"Statistics,omitempty"`
	ExtendedStatistics []string    `json:"ExtendedStatistics,omitempty"`
	Unit               string      `json:"Unit,omitempty"`
}

// Datapoint is AWS's Datapoint: the requested statistics of one period.
type Datapoint struct {
	Timestamp          Timestamp          `json:"Timestamp"`
	SampleCount        *float64           `json:"SampleCount,omitempty"`
	Average            *float64           `json:"Average,omitempty"`
	Sum                *float64           `json:"Sum,omitempty"`
	Minimum            *float64           `json:"Minimum,omitempty"`
	Maximum            *float64           `json:"Maximum,omitempty"`
	Unit               string             `json:"Unit,omitempty"`
	ExtendedStatistics map[string]float64 `json:"ExtendedStatistics,omitempty"`
}

type GetMetricStatisticsOutput struct {
	Label      string      `json:"Label"`
	Datapoints []Datapoint `json:"Datapoints"`
}

// --- GetMetricData ---

// LabelOptions is AWS's LabelOptions.
type LabelOptions struct {
	Timezone string `json:"Timezone,omitempty"`
}

type GetMetricDataInput struct {
	MetricDataQueries []MetricDataQuery `json:"MetricDataQueries,omitempty"`
	StartTime         *Timestamp        `json:"StartTime,omitempty"`
	EndTime           *Timestamp        `json:"EndTime,omitempty"`
	NextToken         string            `json:"NextToken,omitempty"`
	// ScanBy is TimestampDescending (the default) or TimestampAscending.
	ScanBy        string        `json:"ScanBy,omitempty"`
	MaxDatapoints *int32        `json:"MaxDatapoints,omitempty"`
	LabelOptions  *LabelOptions `json:"LabelOptions,omitempty"`
}

// MessageData is AWS's MessageData.
type MessageData struct {
	Code  string `json:"Code,omitempty"`
	Value string `json:"Value,omitempty"`
}

// MetricDataResult is AWS's MetricDataResult: the datapoints of one query
// that returns data, Timestamps and Values in the same order.
type MetricDataResult struct {
	ID         string        `json:"Id"`
	Label      string        `json:"Label"`
	Timestamps []Timestamp   `json:"Timestamps"`
	Values     []float64     `json:"Values"`
	StatusCode string        `json:"StatusCode"`
	Messages   []MessageData `json:"Messages,omitempty"`
}

type GetMetricDataOutput struct {
	MetricDataResults []MetricDataResult `json:"MetricDataResults"`
	NextToken         string             `json:"NextToken,omitempty"`
	Messages          []MessageData      `json:"Messages,omitempty"`
}

// --- ListMetrics ---

// ListMetricsInput's Dimensions are DimensionFilters (metricstore.go):
// Name, and Value unless any value will do.
type ListMetricsInput struct {
	Namespace  string            `json:"Namespace,omitempty"`
	MetricName string            `json:"MetricName,omitempty"`
	Dimensions []DimensionFilter `json:"Dimensions,omitempty"`
	NextToken  string            `json:"NextToken,omitempty"`
	// RecentlyActive is "PT3H" or empty.
	RecentlyActive        string `json:"RecentlyActive,omitempty"`
	IncludeLinkedAccounts *bool  `json:"IncludeLinkedAccounts,omitempty"`
	OwningAccount         string `json:"OwningAccount,omitempty"`
}

type ListMetricsOutput struct {
	Metrics        []Metric `json:"Metrics"`
	NextToken      string   `json:"NextToken,omitempty"`
	OwningAccounts []string `json:"OwningAccounts,omitempty"`
}

// CloudWatchMetrics is the metrics service of CloudWatch over a
// MetricStore, with the monitoring model's validation and errors.
type CloudWatchMetrics interface {
	PutMetricData(ctx context.Context, in *PutMetricDataInput) (*Empty, error)
	GetMetricStatistics(ctx context.Context, in *GetMetricStatisticsInput) (*GetMetricStatisticsOutput, error)
	GetMetricData(ctx context.Context, in *GetMetricDataInput) (*GetMetricDataOutput, error)
	ListMetrics(ctx context.Context, in *ListMetricsInput) (*ListMetricsOutput, error)
}

// --- Alarm operations beyond the definitions (Alarms in monitoring.go) ---

// HistoryItemType values of DescribeAlarmHistory.
const (
	HistoryConfigurationUpdate = "ConfigurationUpdate"
	HistoryStateUpdate         = "StateUpdate"
	HistoryAction              = "Action"
)

type DescribeAlarmsForMetricInput struct {
	MetricName        string      `json:"MetricName,omitempty"`
	Namespace         string      `json:"Namespace,omitempty"`
	Statistic         string      `json:"Statistic,omitempty"`
	ExtendedStatistic string      `json:"ExtendedStatistic,omitempty"`
	Dimensions        []Dimension `json:"Dimensions,omitempty"`
	Period            *int32      `json:"Period,omitempty"`
	Unit              string      `json:"Unit,omitempty"`
}

type DescribeAlarmsForMetricOutput struct {
	MetricAlarms []MetricAlarm `json:"MetricAlarms"`
}

type SetAlarmStateInput struct {
	AlarmName       string `json:"AlarmName,omitempty"`
	StateValue      string `json:"StateValue,omitempty"`
	StateReason     string `json:"StateReason,omitempty"`
	StateReasonData string `json:"StateReasonData,omitempty"`
}

type DescribeAlarmHistoryInput struct {
	AlarmName          string     `json:"AlarmName,omitempty"`
	AlarmContributorID string     `json:"AlarmContributorId,omitempty"`
	AlarmTypes         []string   `json:"AlarmTypes,omitempty"`
	HistoryItemType    string     `json:"HistoryItemType,omitempty"`
	StartDate          *Timestamp `json:"StartDate,omitempty"`
	EndDate            *Timestamp `json:"EndDate,omitempty"`
	MaxRecords         *int32     `json:"MaxRecords,omitempty"`
	NextToken          string     `json:"NextToken,omitempty"`
	ScanBy             string     `json:"ScanBy,omitempty"`
}

// AlarmHistoryItem is AWS's AlarmHistoryItem.
type AlarmHistoryItem struct {
	AlarmName                  string            `json:"AlarmName"`
	AlarmContributorID         string            `json:"AlarmContributorId,omitempty"`
	AlarmType                  string            `json:"AlarmType,omitempty"`
	Timestamp                  Timestamp         `json:"Timestamp"`
	HistoryItemType            string            `json:"HistoryItemType"`
	HistorySummary             string            `json:"HistorySummary"`
	HistoryData                string            `json:"HistoryData,omitempty"`
	AlarmContributorAttributes map[string]string `json:"AlarmContributorAttributes,omitempty"`
}

type DescribeAlarmHistoryOutput struct {
	AlarmHistoryItems []AlarmHistoryItem `json:"AlarmHistoryItems"`
	NextToken         string             `json:"NextToken,omitempty"`
}

type EnableAlarmActionsInput struct {
	AlarmNames []string `json:"AlarmNames"`
}

type DisableAlarmActionsInput struct {
	AlarmNames []string `json:"AlarmNames"`
}

// AlarmOperations are the alarm operations of CloudWatch beyond defining
// alarms (Alarms). The CloudWatch wire adapter serves them when the Alarms
// it is given also implements AlarmOperations.
type AlarmOperations interface {
	DescribeAlarmsForMetric(ctx context.Context, in *DescribeAlarmsForMetricInput) (*DescribeAlarmsForMetricOutput, error)
	SetAlarmState(ctx context.Context, in *SetAlarmStateInput) (*Empty, error)
	DescribeAlarmHistory(ctx context.Context, in *DescribeAlarmHistoryInput) (*DescribeAlarmHistoryOutput, error)
	EnableAlarmActions(ctx context.Context, in *EnableAlarmActionsInput) (*Empty, error)
	DisableAlarmActions(ctx context.Context, in *DisableAlarmActionsInput) (*Empty, error)
}
