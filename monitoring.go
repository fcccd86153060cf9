package iotdm

import "context"

// Monitoring: CloudWatch Logs log groups (logs 2014-03-28), and CloudWatch
// metric alarms and dashboards (monitoring 2010-08-01), so that stacks can
// create AWS::Logs::LogGroup, AWS::CloudWatch::Alarm and
// AWS::CloudWatch::Dashboard. The shapes carry each model's member names:
// camelCase for logs, PascalCase for CloudWatch.
//
// Entities in the Store:
//   - KindLogGroup: key logGroupName, value StoredLogGroup. Log group names
//     never contain ':', so the log streams and events a later issue adds can
//     be keyed "{logGroupName}:{...}" and scanned by the prefix
//     "{logGroupName}:" without catching another group's.
//   - KindAlarm: key AlarmName, value StoredAlarm.
//   - KindDashboard: key DashboardName, value StoredDashboard.
const (
	KindLogGroup  = "loggroup"
	KindAlarm     = "alarm"
	KindDashboard = "dashboard"
)

// Error codes of CloudWatch Logs that error.go does not already name. The
// logs model gives none of its exceptions a status, so every one is a 400
// on the json-1.1 wire. ResourceNotFoundException,
// ResourceAlreadyExistsException, LimitExceededException,
// ValidationException and ServiceUnavailableException are the shared codes.
const (
	ErrInvalidParameter ErrorCode = "InvalidParameterException"
	ErrOperationAborted ErrorCode = "OperationAbortedException"
	ErrTooManyTags      ErrorCode = "TooManyTagsException"
	ErrInvalidOperation ErrorCode = "InvalidOperationException"
)

// Error codes of CloudWatch: the wire codes (the "code" of each exception's
// error trait, not the shape name) of the monitoring model, plus
// ValidationError, the code CloudWatch sends for a member that breaks a
// model constraint. Statuses (from the model): ResourceNotFound 404,
// everything else here 400.
const (
	ErrCloudWatchValidation        ErrorCode = "ValidationError"
	ErrInvalidParameterValue       ErrorCode = "InvalidParameterValue"       // InvalidParameterValueException
	ErrInvalidParameterCombination ErrorCode = "InvalidParameterCombination" // InvalidParameterCombinationException
	ErrMissingParameter            ErrorCode = "MissingParameter"            // MissingRequiredParameterException
	ErrCloudWatchNotFound          ErrorCode = "ResourceNotFound"            // ResourceNotFound, DashboardNotFoundError
	ErrCloudWatchLimitExceeded     ErrorCode = "LimitExceeded"               // LimitExceededFault
	ErrInvalidParameterInput       ErrorCode = "InvalidParameterInput"       // DashboardInvalidInputError
	ErrInvalidNextToken            ErrorCode = "InvalidNextToken"            // InvalidNextToken
)

// --- CloudWatch Logs: log groups ---

// LogGroupClass values.
const (
	LogGroupClassStandard         = "STANDARD"
	LogGroupClassInfrequentAccess = "INFREQUENT_ACCESS"
	LogGroupClassDelivery         = "DELIVERY"
)

// RetentionDays are the values PutRetentionPolicy accepts (the model's Days
// documentation), in ascending order.
var RetentionDays = []int32{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// StoredLogGroup is a log group as stored. The ARNs are derived from the
// name, region and account when it is described. StoredBytes and
// MetricFilterCount are the counters the log event and metric filter
// operations of later issues keep up to date in the same transaction as
// their own writes.
type StoredLogGroup struct {
	LogGroupName string `json:"logGroupName"`
	// CreationTime is in epoch milliseconds, as the wire shows it.
	CreationTime int64 `json:"creationTime"`
	// RetentionInDays is 0 when events never expire.
	RetentionInDays           int32             `json:"retentionInDays,omitempty"`
	LogGroupClass             string            `json:"logGroupClass"`
	KmsKeyID                  string            `json:"kmsKeyId,omitempty"`
	DeletionProtectionEnabled bool              `json:"deletionProtectionEnabled,omitempty"`
	MetricFilterCount         int32             `json:"metricFilterCount"`
	StoredBytes               int64             `json:"storedBytes"`
	Tags                      map[string]string `json:"tags,omitempty"`
}

// LogGroup is AWS's LogGroup, as DescribeLogGroups shows it.
type LogGroup struct {
	LogGroupName                     string   `json:"logGroupName"`
	CreationTime                     int64    `json:"creationTime"`
	RetentionInDays                  *int32   `json:"retentionInDays,omitempty"`
	MetricFilterCount                *int32   `json:"metricFilterCount,omitempty"`
	Arn                              string   `json:"arn"`
	StoredBytes                      *int64   `json:"storedBytes,omitempty"`
	KmsKeyID                         string   `json:"kmsKeyId,omitempty"`
	DataProtectionStatus             string   `json:"dataProtectionStatus,omitempty"`
	InheritedProperties              []string `json:"inheritedProperties,omitempty"`
	LogGroupClass                    string   `json:"logGroupClass,omitempty"`
	LogGroupArn                      string   `json:"logGroupArn,omitempty"`
	DeletionProtectionEnabled        *bool    `json:"deletionProtectionEnabled,omitempty"`
	BearerTokenAuthenticationEnabled *bool    `json:"bearerTokenAuthenticationEnabled,omitempty"`
}

type CreateLogGroupInput struct {
	LogGroupName              string            `json:"logGroupName"`
	KmsKeyID                  string            `json:"kmsKeyId,omitempty"`
	Tags                      map[string]string `json:"tags,omitempty"`
	LogGroupClass             string            `json:"logGroupClass,omitempty"`
	DeletionProtectionEnabled bool              `json:"deletionProtectionEnabled,omitempty"`
}

type DeleteLogGroupInput struct {
	LogGroupName string `json:"logGroupName"`
}

type DescribeLogGroupsInput struct {
	AccountIdentifiers    []string `json:"accountIdentifiers,omitempty"`
	LogGroupNamePrefix    string   `json:"logGroupNamePrefix,omitempty"`
	LogGroupNamePattern   string   `json:"logGroupNamePattern,omitempty"`
	NextToken             string   `json:"nextToken,omitempty"`
	Limit                 *int32   `json:"limit,omitempty"`
	IncludeLinkedAccounts bool     `json:"includeLinkedAccounts,omitempty"`
	LogGroupClass         string   `json:"logGroupClass,omitempty"`
	LogGroupIdentifiers   []string `json:"logGroupIdentifiers,omitempty"`
}

type DescribeLogGroupsOutput struct {
	LogGroups []LogGroup `json:"logGroups"`
	NextToken string     `json:"nextToken,omitempty"`
}

type PutRetentionPolicyInput struct {
	LogGroupName    string `json:"logGroupName"`
	RetentionInDays *int32 `json:"retentionInDays"`
}

type DeleteRetentionPolicyInput struct {
	LogGroupName string `json:"logGroupName"`
}

// LogsTagResourceInput is the logs TagResourceRequest (the IoT one is
// TagResourceInput): tags are a map here.
type LogsTagResourceInput struct {
	ResourceArn string            `json:"resourceArn"`
	Tags        map[string]string `json:"tags"`
}

type LogsUntagResourceInput struct {
	ResourceArn string   `json:"resourceArn"`
	TagKeys     []string `json:"tagKeys"`
}

type LogsListTagsForResourceInput struct {
	ResourceArn string `json:"resourceArn"`
}

type LogsListTagsForResourceOutput struct {
	Tags map[string]string `json:"tags"`
}

// TagLogGroupInput is the deprecated TagLogGroup's request.
type TagLogGroupInput struct {
	LogGroupName string            `json:"logGroupName"`
	Tags         map[string]string `json:"tags"`
}

// UntagLogGroupInput is the deprecated UntagLogGroup's request: its tags
// member is a list of tag keys.
type UntagLogGroupInput struct {
	LogGroupName string   `json:"logGroupName"`
	Tags         []string `json:"tags"`
}

type ListTagsLogGroupInput struct {
	LogGroupName string `json:"logGroupName"`
}

type ListTagsLogGroupOutput struct {
	Tags map[string]string `json:"tags"`
}

// LogGroups is the log group service of CloudWatch Logs, with the logs
// model's validation and errors.
type LogGroups interface {
	CreateLogGroup(ctx context.Context, in *CreateLogGroupInput) (*Empty, error)
	DeleteLogGroup(ctx context.Context, in *DeleteLogGroupInput) (*Empty, error)
	DescribeLogGroups(ctx context.Context, in *DescribeLogGroupsInput) (*DescribeLogGroupsOutput, error)
	PutRetentionPolicy(ctx context.Context, in *PutRetentionPolicyInput) (*Empty, error)
	DeleteRetentionPolicy(ctx context.Context, in *DeleteRetentionPolicyInput) (*Empty, error)

	TagResource(ctx context.Context, in *LogsTagResourceInput) (*Empty, error)
	UntagResource(ctx context.Context, in *LogsUntagResourceInput) (*Empty, error)
	ListTagsForResource(ctx context.Context, in *LogsListTagsForResourceInput) (*LogsListTagsForResourceOutput, error)
	// The deprecated tagging operations, by log group name.
	TagLogGroup(ctx context.Context, in *TagLogGroupInput) (*Empty, error)
	UntagLogGroup(ctx context.Context, in *UntagLogGroupInput) (*Empty, error)
	ListTagsLogGroup(ctx context.Context, in *ListTagsLogGroupInput) (*ListTagsLogGroupOutput, error)
}

// --- CloudWatch: metric alarms ---

// StateValue values of an alarm.
const (
	AlarmStateOK               = "OK"
	AlarmStateAlarm            = "ALARM"
	AlarmStateInsufficientData = "INSUFFICIENT_DATA"
)

// AlarmInitialReason is the StateReason of a new alarm.
const AlarmInitialReason = "Unchecked: Initial alarm creation"

// Dimension is AWS's Dimension of a metric.
type Dimension struct {
	Name  string `json:"Name"`
	Value string `json:"Value"`
}

// Metric names one metric: AWS's Metric.
type Metric struct {
	Namespace  string      `json:"Namespace,omitempty"`
	MetricName string      `json:"MetricName,omitempty"`
	Dimensions []Dimension `json:"Dimensions,omitempty"`
}

// MetricStat is AWS's MetricStat: a metric with a statistic and period.
type MetricStat struct {
	Metric Metric `json:"Metric"`
	Period int32  `json:"Period"`
	Stat   string `json:"Stat"`
	Unit   string `json:"Unit,omitempty"`
}

// MetricDataQuery is one entry of a metric math alarm's Metrics: a metric
// (MetricStat) or an expression over the others.
type MetricDataQuery struct {
	ID         string      `json:"Id"`
	MetricStat *MetricStat `json:"MetricStat,omitempty"`
	Expression string      `json:"Expression,omitempty"`
	Label      string      `json:"Label,omitempty"`
	// ReturnData nil means true.
	ReturnData *bool  `json:"ReturnData,omitempty"`
	Period     int32  `json:"Period,omitempty"`
	AccountID  string `json:"AccountId,omitempty"`
}

// EvaluationCriteria is AWS's EvaluationCriteria union (a PromQL alarm).
type EvaluationCriteria struct {
	PromQLCriteria *AlarmPromQLCriteria `json:"PromQLCriteria,omitempty"`
}

// AlarmPromQLCriteria is AWS's AlarmPromQLCriteria.
type AlarmPromQLCriteria struct {
	Query          string `json:"Query"`
	PendingPeriod  *int32 `json:"PendingPeriod,omitempty"`
	RecoveryPeriod *int32 `json:"RecoveryPeriod,omitempty"`
}

// MetricAlarm is AWS's MetricAlarm, as DescribeAlarms shows it.
type MetricAlarm struct {
	AlarmName                          string    `json:"AlarmName"`
	AlarmArn                           string    `json:"AlarmArn"`
	AlarmDescription                   string    `json:"AlarmDescription,omitempty"`
	AlarmConfigurationUpdatedTimestamp Timestamp `json:"AlarmConfigurationUpdatedTimestamp"`
	ActionsEnabled                     bool      `json:"ActionsEnabled"`
	OKActions                          []string  `json:"OKActions"`
	AlarmActions                       []string  `json:"AlarmActions"`
	InsufficientDataActions            []string  `json:"InsufficientDataActions"`
	StateValue                         string    `json:"StateValue"`
	StateReason                        string    `json:"StateReason,omitempty"`
	StateReasonData                    string    `json:"StateReasonData,omitempty"`
	StateUpdatedTimestamp              Timestamp `json:"StateUpdatedTimestamp"`
	// StateTransitionedTimestamp is when StateValue last changed.
	StateTransitionedTimestamp       Timestamp           `json:"StateTransitionedTimestamp"`
	MetricName                       string              `json:"MetricName,omitempty"`
	Namespace                        string              `json:"Namespace,omitempty"`
	Statistic                        string              `json:"Statistic,omitempty"`
	ExtendedStatistic                string              `json:"ExtendedStatistic,omitempty"`
	Dimensions                       []Dimension         `json:"Dimensions"`
	Period                           int32               `json:"Period,omitempty"`
	Unit                             string              `json:"Unit,omitempty"`
	EvaluationPeriods                int32               `json:"EvaluationPeriods,omitempty"`
	DatapointsToAlarm                int32               `json:"DatapointsToAlarm,omitempty"`
	Threshold                        *float64            `json:"Threshold,omitempty"`
	ComparisonOperator               string              `json:"ComparisonOperator,omitempty"`
	TreatMissingData                 string              `json:"TreatMissingData,omitempty"`
	EvaluateLowSampleCountPercentile string              `json:"EvaluateLowSampleCountPercentile,omitempty"`
	Metrics                          []MetricDataQuery   `json:"Metrics,omitempty"`
	ThresholdMetricID                string              `json:"ThresholdMetricId,omitempty"`
	EvaluationState                  string              `json:"EvaluationState,omitempty"`
	EvaluationCriteria               *EvaluationCriteria `json:"EvaluationCriteria,omitempty"`
	EvaluationInterval               int32               `json:"EvaluationInterval,omitempty"`
}

// StoredAlarm is a metric alarm as stored: its description and its tags.
// The alarm evaluator of a later issue updates the state members.
type StoredAlarm struct {
	MetricAlarm
	Tags []Tag `json:"Tags,omitempty"`
}

// CompositeAlarm is AWS's CompositeAlarm. iotdm has no composite alarms
// yet; DescribeAlarms always answers an empty list of them.
type CompositeAlarm struct {
	AlarmName string `json:"AlarmName"`
	AlarmArn  string `json:"AlarmArn"`
}

type PutMetricAlarmInput struct {
	AlarmName               string   `json:"AlarmName"`
	AlarmDescription        string   `json:"AlarmDescription,omitempty"`
	ActionsEnabled          *bool    `json:"ActionsEnabled,omitempty"` // nil means true
	OKActions               []string `json:"OKActions,omitempty"`
	AlarmActions            []string `json:"AlarmActions,omitempty"`
	InsufficientDataActions []string `json:"InsufficientDataActions,omitempty"`

	MetricName        string      `json:"MetricName,omitempty"`
	Namespace         string      `json:"Namespace,omitempty"`
	Statistic         string      `json:"Statistic,omitempty"`
	ExtendedStatistic string      `json:"ExtendedStatistic,omitempty"`
	Dimensions        []Dimension `json:"Dimensions,omitempty"`
	Period            *int32      `json:"Period,omitempty"`
	Unit              string      `json:"Unit,omitempty"`

	EvaluationPeriods                *int32   `json:"EvaluationPeriods,omitempty"`
	DatapointsToAlarm                *int32   `json:"DatapointsToAlarm,omitempty"`
	Threshold                        *float64 `json:"Threshold,omitempty"`
	ComparisonOperator               string   `json:"ComparisonOperator,omitempty"`
	TreatMissingData                 string   `json:"TreatMissingData,omitempty"`
	EvaluateLowSampleCountPercentile string   `json:"EvaluateLowSampleCountPercentile,omitempty"`

	Metrics            []MetricDataQuery   `json:"Metrics,omitempty"`
	Tags               []Tag               `json:"Tags,omitempty"`
	ThresholdMetricID  string              `json:"ThresholdMetricId,omitempty"`
	EvaluationCriteria *EvaluationCriteria `json:"EvaluationCriteria,omitempty"`
	EvaluationInterval *int32              `json:"EvaluationInterval,omitempty"`
}

type DescribeAlarmsInput struct {
	AlarmNames          []string `json:"AlarmNames,omitempty"`
	AlarmNamePrefix     string   `json:"AlarmNamePrefix,omitempty"`
	AlarmTypes          []string `json:"AlarmTypes,omitempty"`
	ChildrenOfAlarmName string   `json:"ChildrenOfAlarmName,omitempty"`
	ParentsOfAlarmName  string   `json:"ParentsOfAlarmName,omitempty"`
	StateValue          string   `json:"StateValue,omitempty"`
	ActionPrefix        string   `json:"ActionPrefix,omitempty"`
	MaxRecords          *int32   `json:"MaxRecords,omitempty"`
	NextToken           string   `json:"NextToken,omitempty"`
}

type DescribeAlarmsOutput struct {
	CompositeAlarms []CompositeAlarm `json:"CompositeAlarms"`
	MetricAlarms    []MetricAlarm    `json:"MetricAlarms"`
	NextToken       string           `json:"NextToken,omitempty"`
}

type DeleteAlarmsInput struct {
	AlarmNames []string `json:"AlarmNames"`
}

// Alarms is the metric alarm service of CloudWatch: alarm definitions with
// the monitoring model's validation and errors. Evaluation comes later.
type Alarms interface {
	PutMetricAlarm(ctx context.Context, in *PutMetricAlarmInput) (*Empty, error)
	DescribeAlarms(ctx context.Context, in *DescribeAlarmsInput) (*DescribeAlarmsOutput, error)
	DeleteAlarms(ctx context.Context, in *DeleteAlarmsInput) (*Empty, error)
}

// --- CloudWatch: dashboards ---

// StoredDashboard is a dashboard as stored. The body is kept exactly as
// given.
type StoredDashboard struct {
	DashboardName string    `json:"DashboardName"`
	DashboardArn  string    `json:"DashboardArn"`
	DashboardBody string    `json:"DashboardBody"`
	LastModified  Timestamp `json:"LastModified"`
	Tags          []Tag     `json:"Tags,omitempty"`
}

// DashboardValidationMessage is one problem found in a dashboard body.
type DashboardValidationMessage struct {
	DataPath string `json:"DataPath"`
	Message  string `json:"Message"`
}

type PutDashboardInput struct {
	DashboardName string `json:"DashboardName"`
	DashboardBody string `json:"DashboardBody"`
	Tags          []Tag  `json:"Tags,omitempty"`
}

type PutDashboardOutput struct {
	DashboardValidationMessages []DashboardValidationMessage `json:"DashboardValidationMessages"`
}

type GetDashboardInput struct {
	DashboardName string `json:"DashboardName"`
}

type GetDashboardOutput struct {
	DashboardArn  string `json:"DashboardArn"`
	DashboardBody string `json:"DashboardBody"`
	DashboardName string `json:"DashboardName"`
}

type ListDashboardsInput struct {
	DashboardNamePrefix string `json:"DashboardNamePrefix,omitempty"`
	NextToken           string `json:"NextToken,omitempty"`
}

// DashboardEntry is one dashboard in ListDashboards; Size is the body's
// length in bytes.
type DashboardEntry struct {
	DashboardName string    `json:"DashboardName"`
	DashboardArn  string    `json:"DashboardArn"`
	LastModified  Timestamp `json:"LastModified"`
	Size          int64     `json:"Size"`
}

type ListDashboardsOutput struct {
	DashboardEntries []DashboardEntry `json:"DashboardEntries"`
	NextToken        string           `json:"NextToken,omitempty"`
}

type DeleteDashboardsInput struct {
	DashboardNames []string `json:"DashboardNames"`
}

// Dashboards is the dashboard service of CloudWatch.
type Dashboards interface {
	PutDashboard(ctx context.Context, in *PutDashboardInput) (*PutDashboardOutput, error)
	GetDashboard(ctx context.Context, in *GetDashboardInput) (*GetDashboardOutput, error)
	ListDashboards(ctx context.Context, in *ListDashboardsInput) (*ListDashboardsOutput, error)
	DeleteDashboards(ctx context.Context, in *DeleteDashboardsInput) (*Empty, error)
}
