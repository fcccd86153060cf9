package iotdm

import "context"

// AWS IoT Jobs (issue 10): remote operations sent to things and thing groups.
// The control plane (iot, 2015-05-28) creates and watches jobs; devices take
// their job executions over MQTT ($aws/things/{thing}/jobs/...) or over the
// jobs data plane (iot-jobs-data, 2017-09-29). The shapes below carry the
// models' member names; the data-plane shapes whose names collide with the
// control plane's end in Data.
//
// Jobs are stored as entities:
//
//   - KindJob, keyed by job id: a JobRecord.
//   - KindJobExecution, keyed "{jobId}/{thing}": the thing's JobExecutionRecord
//     for the job (its current attempt and the attempts retries replaced).
//   - KindThingJobExecution, keyed "{thing}/{jobId}": the same record, the
//     thing's side, for the pending lists and ListJobExecutionsForThing.
//   - KindJobRollout, keyed "{jobId}/{thing}": a target the rollout has not
//     notified yet (its execution is created when the rollout rate allows).
//   - KindJobTimer, keyed "{deadline ms, 20 digits}/{jobId}/{thing}": the
//     timeout of an IN_PROGRESS execution, so due timers are a prefix scan.
//   - KindJobTemplate, keyed by template id: a JobTemplateRecord.
const (
	KindJob               = "job"
	KindJobExecution      = "jobexecution"
	KindThingJobExecution = "thingjobexecution"
	KindJobRollout        = "jobrollout"
	KindJobTimer          = "jobtimer"
	KindJobTemplate       = "jobtemplate"
)

// ErrTerminalState is the jobs data plane's TerminalStateException (410).
const ErrTerminalState ErrorCode = "TerminalStateException"

// JobStatus values (the model's JobStatus).
const (
	JobScheduled          = "SCHEDULED"
	JobInProgress         = "IN_PROGRESS"
	JobCanceled           = "CANCELED"
	JobCompleted          = "COMPLETED"
	JobDeletionInProgress = "DELETION_IN_PROGRESS"
)

// JobExecutionStatus values (the model's JobExecutionStatus).
const (
	ExecutionQueued     = "QUEUED"
	ExecutionInProgress = "IN_PROGRESS"
	ExecutionSucceeded  = "SUCCEEDED"
	ExecutionFailed     = "FAILED"
	ExecutionTimedOut   = "TIMED_OUT"
	ExecutionRejected   = "REJECTED"
	ExecutionRemoved    = "REMOVED"
	ExecutionCanceled   = "CANCELED"
)

// ExecutionStatuses lists every JobExecutionStatus, in the model's order.
var ExecutionStatuses = []string{
	ExecutionQueued, ExecutionInProgress, ExecutionSucceeded, ExecutionFailed,
	ExecutionTimedOut, ExecutionRejected, ExecutionRemoved, ExecutionCanceled,
}

// TerminalExecution reports whether an execution status is terminal: no
// device or timer changes it any more.
func TerminalExecution(status string) bool {
	return status != ExecutionQueued && status != ExecutionInProgress
}

// TargetSelection values.
const (
	TargetContinuous = "CONTINUOUS"
	TargetSnapshot   = "SNAPSHOT"
)

// --- configuration shapes (CreateJob, UpdateJob, CreateJobTemplate) ---

// PresignedURLConfig is AWS's PresignedUrlConfig; iotdm stores and returns it.
type PresignedURLConfig struct {
	RoleARN      string `json:"roleArn,omitempty"`
	ExpiresInSec *int64 `json:"expiresInSec,omitempty"`
}

// JobExecutionsRolloutConfig is AWS's JobExecutionsRolloutConfig: how fast
// the job's executions are created.
type JobExecutionsRolloutConfig struct {
	MaximumPerMinute *int                    `json:"maximumPerMinute,omitempty"`
	ExponentialRate  *ExponentialRolloutRate `json:"exponentialRate,omitempty"`
}

// ExponentialRolloutRate is AWS's ExponentialRolloutRate.
type ExponentialRolloutRate struct {
	BaseRatePerMinute    int                  `json:"baseRatePerMinute"`
	IncrementFactor      float64              `json:"incrementFactor"`
	RateIncreaseCriteria RateIncreaseCriteria `json:"rateIncreaseCriteria"`
}

// RateIncreaseCriteria is AWS's RateIncreaseCriteria: one of the two.
type RateIncreaseCriteria struct {
	NumberOfNotifiedThings  *int `json:"numberOfNotifiedThings,omitempty"`
	NumberOfSucceededThings *int `json:"numberOfSucceededThings,omitempty"`
}

// AbortConfig is AWS's AbortConfig.
type AbortConfig struct {
	CriteriaList []AbortCriteria `json:"criteriaList"`
}

// AbortCriteria is AWS's AbortCriteria.
type AbortCriteria struct {
	FailureType               string  `json:"failureType"` // FAILED, REJECTED, TIMED_OUT or ALL
	Action                    string  `json:"action"`      // CANCEL
	ThresholdPercentage       float64 `json:"thresholdPercentage"`
	MinNumberOfExecutedThings int     `json:"minNumberOfExecutedThings"`
}

// TimeoutConfig is AWS's TimeoutConfig.
type TimeoutConfig struct {
	InProgressTimeoutInMinutes *int64 `json:"inProgressTimeoutInMinutes,omitempty"`
}

// JobExecutionsRetryConfig is AWS's JobExecutionsRetryConfig.
type JobExecutionsRetryConfig struct {
	CriteriaList []RetryCriteria `json:"criteriaList"`
}

// RetryCriteria is AWS's RetryCriteria.
type RetryCriteria struct {
	FailureType     string `json:"failureType"` // FAILED, TIMED_OUT or ALL
	NumberOfRetries int    `json:"numberOfRetries"`
}

// SchedulingConfig is AWS's SchedulingConfig. startTime and endTime are
// UTC date-times, "YYYY-MM-DDTHH:MM".
type SchedulingConfig struct {
	StartTime          string              `json:"startTime,omitempty"`
	EndTime            string              `json:"endTime,omitempty"`
	EndBehavior        string              `json:"endBehavior,omitempty"` // STOP_ROLLOUT, CANCEL or FORCE_CANCEL
	MaintenanceWindows []MaintenanceWindow `json:"maintenanceWindows,omitempty"`
}

// MaintenanceWindow is AWS's MaintenanceWindow.
type MaintenanceWindow struct {
	StartTime         string `json:"startTime"`
	DurationInMinutes int    `json:"durationInMinutes"`
}

// JobEndBehavior values.
const (
	JobEndStopRollout = "STOP_ROLLOUT"
	JobEndCancel      = "CANCEL"
	JobEndForceCancel = "FORCE_CANCEL"
)

// ScheduledJobRollout is AWS's ScheduledJobRollout.
type ScheduledJobRollout struct {
	StartTime string `json:"startTime,omitempty"`
}

// JobProcessDetails is AWS's JobProcessDetails: the job's executions by
// status (each thing counted once, by its current execution).
type JobProcessDetails struct {
	ProcessingTargets        []string `json:"processingTargets,omitempty"`
	NumberOfCanceledThings   int      `json:"numberOfCanceledThings"`
	NumberOfSucceededThings  int      `json:"numberOfSucceededThings"`
	NumberOfFailedThings     int      `json:"numberOfFailedThings"`
	NumberOfRejectedThings   int      `json:"numberOfRejectedThings"`
	NumberOfQueuedThings     int      `json:"numberOfQueuedThings"`
	NumberOfInProgressThings int      `json:"numberOfInProgressThings"`
	NumberOfRemovedThings    int      `json:"numberOfRemovedThings"`
	NumberOfTimedOutThings   int      `json:"numberOfTimedOutThings"`
}

// Job is AWS's Job, as DescribeJob returns it.
type Job struct {
	JobARN                     string                      `json:"jobArn"`
	JobID                      string                      `json:"jobId"`
	TargetSelection            string                      `json:"targetSelection"`
	Status                     string                      `json:"status"`
	ForceCanceled              *bool                       `json:"forceCanceled,omitempty"`
	ReasonCode                 string                      `json:"reasonCode,omitempty"`
	Comment                    string                      `json:"comment,omitempty"`
	Targets                    []string                    `json:"targets"`
	Description                string                      `json:"description,omitempty"`
	PresignedURLConfig         *PresignedURLConfig         `json:"presignedUrlConfig,omitempty"`
	JobExecutionsRolloutConfig *JobExecutionsRolloutConfig `json:"jobExecutionsRolloutConfig,omitempty"`
	AbortConfig                *AbortConfig                `json:"abortConfig,omitempty"`
	CreatedAt                  Timestamp                   `json:"createdAt"`
	LastUpdatedAt              Timestamp                   `json:"lastUpdatedAt"`
	CompletedAt                *Timestamp                  `json:"completedAt,omitempty"`
	JobProcessDetails          *JobProcessDetails          `json:"jobProcessDetails,omitempty"`
	TimeoutConfig              *TimeoutConfig              `json:"timeoutConfig,omitempty"`
	NamespaceID                string                      `json:"namespaceId,omitempty"`
	JobTemplateARN             string                      `json:"jobTemplateArn,omitempty"`
	JobExecutionsRetryConfig   *JobExecutionsRetryConfig   `json:"jobExecutionsRetryConfig,omitempty"`
	DocumentParameters         map[string]string           `json:"documentParameters,omitempty"`
	IsConcurrent               *bool                       `json:"isConcurrent,omitempty"`
	SchedulingConfig           *SchedulingConfig           `json:"schedulingConfig,omitempty"`
	ScheduledJobRollouts       []ScheduledJobRollout       `json:"scheduledJobRollouts,omitempty"`
	DestinationPackageVersions []string                    `json:"destinationPackageVersions,omitempty"`
}

// JobSummary is the list item of ListJobs.
type JobSummary struct {
	JobARN          string     `json:"jobArn"`
	JobID           string     `json:"jobId"`
	ThingGroupID    string     `json:"thingGroupId,omitempty"`
	TargetSelection string     `json:"targetSelection"`
	Status          string     `json:"status"`
	CreatedAt       Timestamp  `json:"createdAt"`
	LastUpdatedAt   Timestamp  `json:"lastUpdatedAt"`
	CompletedAt     *Timestamp `json:"completedAt,omitempty"`
	IsConcurrent    *bool      `json:"isConcurrent,omitempty"`
}

// JobExecutionStatusDetails is AWS's JobExecutionStatusDetails.
type JobExecutionStatusDetails struct {
	DetailsMap map[string]string `json:"detailsMap,omitempty"`
}

// JobExecution is the control plane's JobExecution (DescribeJobExecution).
type JobExecution struct {
	JobID                            string                     `json:"jobId"`
	Status                           string                     `json:"status"`
	ForceCanceled                    *bool                      `json:"forceCanceled,omitempty"`
	StatusDetails                    *JobExecutionStatusDetails `json:"statusDetails,omitempty"`
	ThingARN                         string                     `json:"thingArn"`
	QueuedAt                         Timestamp                  `json:"queuedAt"`
	StartedAt                        *Timestamp                 `json:"startedAt,omitempty"`
	LastUpdatedAt                    Timestamp                  `json:"lastUpdatedAt"`
	ExecutionNumber                  int64                      `json:"executionNumber"`
	VersionNumber                    int64                      `json:"versionNumber"`
	ApproximateSecondsBeforeTimedOut *int64                     `json:"approximateSecondsBeforeTimedOut,omitempty"`
}

// JobExecutionSummary is the control plane's JobExecutionSummary.
type JobExecutionSummary struct {
	Status          string     `json:"status"`
	QueuedAt        Timestamp  `json:"queuedAt"`
	StartedAt       *Timestamp `json:"startedAt,omitempty"`
	LastUpdatedAt   Timestamp  `json:"lastUpdatedAt"`
	ExecutionNumber int64      `json:"executionNumber"`
	RetryAttempt    int        `json:"retryAttempt"`
}

// JobExecutionSummaryForJob is the list item of ListJobExecutionsForJob.
type JobExecutionSummaryForJob struct {
	ThingARN            string              `json:"thingArn"`
	JobExecutionSummary JobExecutionSummary `json:"jobExecutionSummary"`
}

// JobExecutionSummaryForThing is the list item of ListJobExecutionsForThing.
type JobExecutionSummaryForThing struct {
	JobID               string              `json:"jobId"`
	JobExecutionSummary JobExecutionSummary `json:"jobExecutionSummary"`
}

// JobTemplateSummary is the list item of ListJobTemplates.
type JobTemplateSummary struct {
	JobTemplateARN string    `json:"jobTemplateArn"`
	JobTemplateID  string    `json:"jobTemplateId"`
	Description    string    `json:"description,omitempty"`
	CreatedAt      Timestamp `json:"createdAt"`
}

// --- stored entities ---

// JobRecord is a job as stored (KindJob): its definition, its status, the
// counts of its executions by status and the state of its rollout.
type JobRecord struct {
	JobID                      string                      `json:"jobId"`
	JobARN                     string                      `json:"jobArn"`
	TargetSelection            string                      `json:"targetSelection"`
	Status                     string                      `json:"status"`
	ForceCanceled              bool                        `json:"forceCanceled,omitempty"`
	ReasonCode                 string                      `json:"reasonCode,omitempty"`
	Comment                    string                      `json:"comment,omitempty"`
	Targets                    []string                    `json:"targets"`
	Description                string                      `json:"description,omitempty"`
	Document                   string                      `json:"document"`                   // with the placeholders
	ResolvedDocument           string                      `json:"resolvedDocument,omitempty"` // documentParameters substituted; "" when equal to Document
	DocumentParameters         map[string]string           `json:"documentParameters,omitempty"`
	PresignedURLConfig         *PresignedURLConfig         `json:"presignedUrlConfig,omitempty"`
	JobExecutionsRolloutConfig *JobExecutionsRolloutConfig `json:"jobExecutionsRolloutConfig,omitempty"`
	AbortConfig                *AbortConfig                `json:"abortConfig,omitempty"`
	TimeoutConfig              *TimeoutConfig              `json:"timeoutConfig,omitempty"`
	JobExecutionsRetryConfig   *JobExecutionsRetryConfig   `json:"jobExecutionsRetryConfig,omitempty"`
	SchedulingConfig           *SchedulingConfig           `json:"schedulingConfig,omitempty"`
	NamespaceID                string                      `json:"namespaceId,omitempty"`
	JobTemplateARN             string                      `json:"jobTemplateArn,omitempty"`
	DestinationPackageVersions []string                    `json:"destinationPackageVersions,omitempty"`
	Tags                       []Tag                       `json:"tags,omitempty"`
	// ThingGroupID is the id of the first thing group the job targets
	// (JobSummary.thingGroupId), "" when it targets things only.
	ThingGroupID  string     `json:"thingGroupId,omitempty"`
	CreatedAt     Timestamp  `json:"createdAt"`
	LastUpdatedAt Timestamp  `json:"lastUpdatedAt"`
	CompletedAt   *Timestamp `json:"completedAt,omitempty"`
	// RolloutStopped is set when the scheduling window's end stopped the
	// rollout: no execution is created any more, and a continuous job
	// completes like a snapshot job once its executions are terminal.
	RolloutStopped bool `json:"rolloutStopped,omitempty"`
	// Counts holds the number of things whose current execution has each
	// JobExecutionStatus.
	Counts map[string]int `json:"counts,omitempty"`
	// Rollout is the state of the job's rollout rate.
	Rollout JobRolloutState `json:"rollout"`
	// RolloutPending is the number of KindJobRollout entities of the job:
	// targets not notified yet.
	RolloutPending int `json:"rolloutPending,omitempty"`
	// Version grows with every write of the record.
	Version int64 `json:"version"`
}

// DeviceDocument returns the document devices receive: parameters
// substituted.
func (j *JobRecord) DeviceDocument() string {
	if j.ResolvedDocument != "" {
		return j.ResolvedDocument
	}
	return j.Document
}

// JobRolloutState is the rollout's progress: the current window of one
// minute, the executions created in it and, for an exponential rate, the
// current rate and the counts at its last increase.
type JobRolloutState struct {
	WindowStart      Timestamp `json:"windowStart"`
	InWindow         int       `json:"inWindow"`
	RatePerMinute    float64   `json:"ratePerMinute,omitempty"`
	Notified         int       `json:"notified"`                   // executions created, in all
	NotifiedAtRaise  int       `json:"notifiedAtRaise,omitempty"`  // Notified at the last rate increase
	SucceededAtRaise int       `json:"succeededAtRaise,omitempty"` // succeeded things at the last rate increase
}

// JobExecutionAttempt is one attempt (execution number) of a job on a
// thing.
type JobExecutionAttempt struct {
	Status          string            `json:"status"`
	ForceCanceled   bool              `json:"forceCanceled,omitempty"`
	StatusDetails   map[string]string `json:"statusDetails,omitempty"`
	QueuedAt        Timestamp         `json:"queuedAt"`
	StartedAt       *Timestamp        `json:"startedAt,omitempty"`
	LastUpdatedAt   Timestamp         `json:"lastUpdatedAt"`
	ExecutionNumber int64             `json:"executionNumber"`
	VersionNumber   int64             `json:"versionNumber"`
	RetryAttempt    int               `json:"retryAttempt,omitempty"`
	// InProgressDeadline and StepDeadline are the timers of an
	// IN_PROGRESS execution (the job's in-progress timeout, the device's
	// step timeout); TimerKey is the KindJobTimer entity of the earlier.
	InProgressDeadline *Timestamp `json:"inProgressDeadline,omitempty"`
	StepDeadline       *Timestamp `json:"stepDeadline,omitempty"`
	TimerKey           string     `json:"timerKey,omitempty"`
}

// Deadline returns the earlier of the attempt's timers, if it has any.
func (a *JobExecutionAttempt) Deadline() (Timestamp, bool) {
	switch {
	case a.InProgressDeadline == nil && a.StepDeadline == nil:
		return Timestamp{}, false
	case a.InProgressDeadline == nil:
		return *a.StepDeadline, true
	case a.StepDeadline == nil || a.InProgressDeadline.Before(a.StepDeadline.Time):
		return *a.InProgressDeadline, true
	}
	return *a.StepDeadline, true
}

// JobExecutionRecord is a thing's execution of a job as stored
// (KindJobExecution and KindThingJobExecution): the current attempt and the
// earlier ones, oldest first.
type JobExecutionRecord struct {
	JobID     string `json:"jobId"`
	ThingName string `json:"thingName"`
	JobExecutionAttempt
	Previous []JobExecutionAttempt `json:"previous,omitempty"`
	// Retries counts the retries made, by failure type (FAILED, TIMED_OUT).
	Retries map[string]int `json:"retries,omitempty"`
}

// JobTemplateRecord is a job template as stored (KindJobTemplate).
type JobTemplateRecord struct {
	JobTemplateID              string                      `json:"jobTemplateId"`
	JobTemplateARN             string                      `json:"jobTemplateArn"`
	Description                string                      `json:"description"`
	Document                   string                      `json:"document"`
	PresignedURLConfig         *PresignedURLConfig         `json:"presignedUrlConfig,omitempty"`
	JobExecutionsRolloutConfig *JobExecutionsRolloutConfig `json:"jobExecutionsRolloutConfig,omitempty"`
	AbortConfig                *AbortConfig                `json:"abortConfig,omitempty"`
	TimeoutConfig              *TimeoutConfig              `json:"timeoutConfig,omitempty"`
	JobExecutionsRetryConfig   *JobExecutionsRetryConfig   `json:"jobExecutionsRetryConfig,omitempty"`
	DestinationPackageVersions []string                    `json:"destinationPackageVersions,omitempty"`
	Tags                       []Tag                       `json:"tags,omitempty"`
	CreatedAt                  Timestamp                   `json:"createdAt"`
}

// --- control-plane operation shapes ---

type CreateJobInput struct {
	JobID                      string                      `json:"-" uri:"jobId"`
	Targets                    []string                    `json:"targets"`
	DocumentSource             string                      `json:"documentSource,omitempty"`
	Document                   string                      `json:"document,omitempty"`
	Description                string                      `json:"description,omitempty"`
	PresignedURLConfig         *PresignedURLConfig         `json:"presignedUrlConfig,omitempty"`
	TargetSelection            string                      `json:"targetSelection,omitempty"`
	JobExecutionsRolloutConfig *JobExecutionsRolloutConfig `json:"jobExecutionsRolloutConfig,omitempty"`
	AbortConfig                *AbortConfig                `json:"abortConfig,omitempty"`
	TimeoutConfig              *TimeoutConfig              `json:"timeoutConfig,omitempty"`
	Tags                       []Tag                       `json:"tags,omitempty"`
	NamespaceID                string                      `json:"namespaceId,omitempty"`
	JobTemplateARN             string                      `json:"jobTemplateArn,omitempty"`
	JobExecutionsRetryConfig   *JobExecutionsRetryConfig   `json:"jobExecutionsRetryConfig,omitempty"`
	DocumentParameters         map[string]string           `json:"documentParameters,omitempty"`
	SchedulingConfig           *SchedulingConfig           `json:"schedulingConfig,omitempty"`
	DestinationPackageVersions []string                    `json:"destinationPackageVersions,omitempty"`
}

type CreateJobOutput struct {
	JobARN      string `json:"jobArn"`
	JobID       string `json:"jobId"`
	Description string `json:"description,omitempty"`
}

type DescribeJobInput struct {
	JobID              string `json:"-" uri:"jobId"`
	BeforeSubstitution bool   `json:"-" query:"beforeSubstitution"`
}

type DescribeJobOutput struct {
	DocumentSource string `json:"documentSource,omitempty"`
	Job            *Job   `json:"job"`
}

type ListJobsInput struct {
	Status          string `json:"-" query:"status"`
	TargetSelection string `json:"-" query:"targetSelection"`
	MaxResults      int    `json:"-" query:"maxResults"`
	NextToken       string `json:"-" query:"nextToken"`
	ThingGroupName  string `json:"-" query:"thingGroupName"`
	ThingGroupID    string `json:"-" query:"thingGroupId"`
	NamespaceID     string `json:"-" query:"namespaceId"`
}

type ListJobsOutput struct {
	Jobs      []JobSummary `json:"jobs"`
	NextToken string       `json:"nextToken,omitempty"`
}

type UpdateJobInput struct {
	JobID                      string                      `json:"-" uri:"jobId"`
	Description                string                      `json:"description,omitempty"`
	PresignedURLConfig         *PresignedURLConfig         `json:"presignedUrlConfig,omitempty"`
	JobExecutionsRolloutConfig *JobExecutionsRolloutConfig `json:"jobExecutionsRolloutConfig,omitempty"`
	AbortConfig                *AbortConfig                `json:"abortConfig,omitempty"`
	TimeoutConfig              *TimeoutConfig              `json:"timeoutConfig,omitempty"`
	NamespaceID                string                      `json:"-" query:"namespaceId"`
	JobExecutionsRetryConfig   *JobExecutionsRetryConfig   `json:"jobExecutionsRetryConfig,omitempty"`
}

type CancelJobInput struct {
	JobID      string `json:"-" uri:"jobId"`
	ReasonCode string `json:"reasonCode,omitempty"`
	Comment    string `json:"comment,omitempty"`
	Force      bool   `json:"-" query:"force"`
}

type CancelJobOutput struct {
	JobARN      string `json:"jobArn"`
	JobID       string `json:"jobId"`
	Description string `json:"description,omitempty"`
}

type DeleteJobInput struct {
	JobID       string `json:"-" uri:"jobId"`
	Force       bool   `json:"-" query:"force"`
	NamespaceID string `json:"-" query:"namespaceId"`
}

type CancelJobExecutionInput struct {
	JobID           string            `json:"-" uri:"jobId"`
	ThingName       string            `json:"-" uri:"thingName"`
	Force           bool              `json:"-" query:"force"`
	ExpectedVersion *int64            `json:"expectedVersion,omitempty"`
	StatusDetails   map[string]string `json:"statusDetails,omitempty"`
}

type DeleteJobExecutionInput struct {
	JobID           string `json:"-" uri:"jobId"`
	ThingName       string `json:"-" uri:"thingName"`
	ExecutionNumber int64  `json:"-" uri:"executionNumber"`
	Force           bool   `json:"-" query:"force"`
	NamespaceID     string `json:"-" query:"namespaceId"`
}

type DescribeJobExecutionInput struct {
	JobID           string `json:"-" uri:"jobId"`
	ThingName       string `json:"-" uri:"thingName"`
	ExecutionNumber *int64 `json:"-" query:"executionNumber"`
}

type DescribeJobExecutionOutput struct {
	Execution *JobExecution `json:"execution"`
}

type ListJobExecutionsForJobInput struct {
	JobID      string `json:"-" uri:"jobId"`
	Status     string `json:"-" query:"status"`
	MaxResults int    `json:"-" query:"maxResults"`
	NextToken  string `json:"-" query:"nextToken"`
}

type ListJobExecutionsForJobOutput struct {
	ExecutionSummaries []JobExecutionSummaryForJob `json:"executionSummaries"`
	NextToken          string                      `json:"nextToken,omitempty"`
}

type ListJobExecutionsForThingInput struct {
	ThingName   string `json:"-" uri:"thingName"`
	Status      string `json:"-" query:"status"`
	NamespaceID string `json:"-" query:"namespaceId"`
	MaxResults  int    `json:"-" query:"maxResults"`
	NextToken   string `json:"-" query:"nextToken"`
	JobID       string `json:"-" query:"jobId"`
}

type ListJobExecutionsForThingOutput struct {
	ExecutionSummaries []JobExecutionSummaryForThing `json:"executionSummaries"`
	NextToken          string                        `json:"nextToken,omitempty"`
}

type GetJobDocumentInput struct {
	JobID              string `json:"-" uri:"jobId"`
	BeforeSubstitution bool   `json:"-" query:"beforeSubstitution"`
}

type GetJobDocumentOutput struct {
	Document string `json:"document"`
}

type CreateJobTemplateInput struct {
	JobTemplateID              string                      `json:"-" uri:"jobTemplateId"`
	JobARN                     string                      `json:"jobArn,omitempty"`
	DocumentSource             string                      `json:"documentSource,omitempty"`
	Document                   string                      `json:"document,omitempty"`
	Description                string                      `json:"description"`
	PresignedURLConfig         *PresignedURLConfig         `json:"presignedUrlConfig,omitempty"`
	JobExecutionsRolloutConfig *JobExecutionsRolloutConfig `json:"jobExecutionsRolloutConfig,omitempty"`
	AbortConfig                *AbortConfig                `json:"abortConfig,omitempty"`
	TimeoutConfig              *TimeoutConfig              `json:"timeoutConfig,omitempty"`
	Tags                       []Tag                       `json:"tags,omitempty"`
	JobExecutionsRetryConfig   *JobExecutionsRetryConfig   `json:"jobExecutionsRetryConfig,omitempty"`
	MaintenanceWindows         []MaintenanceWindow         `json:"maintenanceWindows,omitempty"`
	DestinationPackageVersions []string                    `json:"destinationPackageVersions,omitempty"`
}

type CreateJobTemplateOutput struct {
	JobTemplateARN string `json:"jobTemplateArn"`
	JobTemplateID  string `json:"jobTemplateId"`
}

type DescribeJobTemplateInput struct {
	JobTemplateID string `json:"-" uri:"jobTemplateId"`
}

type DescribeJobTemplateOutput struct {
	JobTemplateARN             string                      `json:"jobTemplateArn"`
	JobTemplateID              string                      `json:"jobTemplateId"`
	Description                string                      `json:"description,omitempty"`
	DocumentSource             string                      `json:"documentSource,omitempty"`
	Document                   string                      `json:"document,omitempty"`
	CreatedAt                  Timestamp                   `json:"createdAt"`
	PresignedURLConfig         *PresignedURLConfig         `json:"presignedUrlConfig,omitempty"`
	JobExecutionsRolloutConfig *JobExecutionsRolloutConfig `json:"jobExecutionsRolloutConfig,omitempty"`
	AbortConfig                *AbortConfig                `json:"abortConfig,omitempty"`
	TimeoutConfig              *TimeoutConfig              `json:"timeoutConfig,omitempty"`
	JobExecutionsRetryConfig   *JobExecutionsRetryConfig   `json:"jobExecutionsRetryConfig,omitempty"`
	MaintenanceWindows         []MaintenanceWindow         `json:"maintenanceWindows,omitempty"`
	DestinationPackageVersions []string                    `json:"destinationPackageVersions,omitempty"`
}

type ListJobTemplatesInput struct {
	MaxResults int    `json:"-" query:"maxResults"`
	NextToken  string `json:"-" query:"nextToken"`
}

type ListJobTemplatesOutput struct {
	JobTemplates []JobTemplateSummary `json:"jobTemplates"`
	NextToken    string               `json:"nextToken,omitempty"`
}

type DeleteJobTemplateInput struct {
	JobTemplateID string `json:"-" uri:"jobTemplateId"`
}

// Jobs is the AWS IoT Jobs control plane (iot).
type Jobs interface {
	CreateJob(ctx context.Context, in *CreateJobInput) (*CreateJobOutput, error)
	DescribeJob(ctx context.Context, in *DescribeJobInput) (*DescribeJobOutput, error)
	ListJobs(ctx context.Context, in *ListJobsInput) (*ListJobsOutput, error)
	UpdateJob(ctx context.Context, in *UpdateJobInput) (*Empty, error)
	CancelJob(ctx context.Context, in *CancelJobInput) (*CancelJobOutput, error)
	DeleteJob(ctx context.Context, in *DeleteJobInput) (*Empty, error)
	CancelJobExecution(ctx context.Context, in *CancelJobExecutionInput) (*Empty, error)
	DeleteJobExecution(ctx context.Context, in *DeleteJobExecutionInput) (*Empty, error)
	DescribeJobExecution(ctx context.Context, in *DescribeJobExecutionInput) (*DescribeJobExecutionOutput, error)
	ListJobExecutionsForJob(ctx context.Context, in *ListJobExecutionsForJobInput) (*ListJobExecutionsForJobOutput, error)
	ListJobExecutionsForThing(ctx context.Context, in *ListJobExecutionsForThingInput) (*ListJobExecutionsForThingOutput, error)
	GetJobDocument(ctx context.Context, in *GetJobDocumentInput) (*GetJobDocumentOutput, error)
	CreateJobTemplate(ctx context.Context, in *CreateJobTemplateInput) (*CreateJobTemplateOutput, error)
	DescribeJobTemplate(ctx context.Context, in *DescribeJobTemplateInput) (*DescribeJobTemplateOutput, error)
	ListJobTemplates(ctx context.Context, in *ListJobTemplatesInput) (*ListJobTemplatesOutput, error)
	DeleteJobTemplate(ctx context.Context, in *DeleteJobTemplateInput) (*Empty, error)
}

// --- jobs data plane (iot-jobs-data) shapes; the MQTT jobs API uses the
// same members. Its times are epoch seconds. ---

// JobExecutionData is the data plane's JobExecution.
type JobExecutionData struct {
	JobID                            string            `json:"jobId"`
	ThingName                        string            `json:"thingName"`
	Status                           string            `json:"status"`
	StatusDetails                    map[string]string `json:"statusDetails,omitempty"`
	QueuedAt                         int64             `json:"queuedAt"`
	StartedAt                        *int64            `json:"startedAt,omitempty"`
	LastUpdatedAt                    int64             `json:"lastUpdatedAt"`
	ApproximateSecondsBeforeTimedOut *int64            `json:"approximateSecondsBeforeTimedOut,omitempty"`
	VersionNumber                    int64             `json:"versionNumber"`
	ExecutionNumber                  int64             `json:"executionNumber"`
	JobDocument                      string            `json:"jobDocument,omitempty"`
}

// JobExecutionSummaryData is the data plane's JobExecutionSummary.
type JobExecutionSummaryData struct {
	JobID           string `json:"jobId"`
	QueuedAt        int64  `json:"queuedAt"`
	StartedAt       *int64 `json:"startedAt,omitempty"`
	LastUpdatedAt   int64  `json:"lastUpdatedAt"`
	VersionNumber   int64  `json:"versionNumber"`
	ExecutionNumber int64  `json:"executionNumber"`
}

// JobExecutionState is the data plane's JobExecutionState.
type JobExecutionState struct {
	Status        string            `json:"status"`
	StatusDetails map[string]string `json:"statusDetails,omitempty"`
	VersionNumber int64             `json:"versionNumber"`
}

// NextJobID is the job id that names a thing's next pending execution in
// DescribeJobExecution.
const NextJobID = "$next"

type DescribeJobExecutionDataInput struct {
	JobID              string `json:"-" uri:"jobId"`
	ThingName          string `json:"-" uri:"thingName"`
	IncludeJobDocument *bool  `json:"-" query:"includeJobDocument"`
	ExecutionNumber    *int64 `json:"-" query:"executionNumber"`
}

type DescribeJobExecutionDataOutput struct {
	Execution *JobExecutionData `json:"execution,omitempty"`
}

type GetPendingJobExecutionsInput struct {
	ThingName string `json:"-" uri:"thingName"`
}

type GetPendingJobExecutionsOutput struct {
	InProgressJobs []JobExecutionSummaryData `json:"inProgressJobs"`
	QueuedJobs     []JobExecutionSummaryData `json:"queuedJobs"`
}

type StartNextPendingJobExecutionInput struct {
	ThingName            string            `json:"-" uri:"thingName"`
	StatusDetails        map[string]string `json:"statusDetails,omitempty"`
	StepTimeoutInMinutes *int64            `json:"stepTimeoutInMinutes,omitempty"`
}

type StartNextPendingJobExecutionOutput struct {
	Execution *JobExecutionData `json:"execution,omitempty"`
}

type UpdateJobExecutionInput struct {
	JobID                    string            `json:"-" uri:"jobId"`
	ThingName                string            `json:"-" uri:"thingName"`
	Status                   string            `json:"status"`
	StatusDetails            map[string]string `json:"statusDetails,omitempty"`
	StepTimeoutInMinutes     *int64            `json:"stepTimeoutInMinutes,omitempty"`
	ExpectedVersion          *int64            `json:"expectedVersion,omitempty"`
	IncludeJobExecutionState bool              `json:"includeJobExecutionState,omitempty"`
	IncludeJobDocument       bool              `json:"includeJobDocument,omitempty"`
	ExecutionNumber          *int64            `json:"executionNumber,omitempty"`
}

type UpdateJobExecutionOutput struct {
	ExecutionState *JobExecutionState `json:"executionState,omitempty"`
	JobDocument    string             `json:"jobDocument,omitempty"`
}

// JobsData is the device side of AWS IoT Jobs: the jobs data plane
// (iot-jobs-data) and, over the same operations, the MQTT jobs API.
type JobsData interface {
	DescribeJobExecution(ctx context.Context, in *DescribeJobExecutionDataInput) (*DescribeJobExecutionDataOutput, error)
	GetPendingJobExecutions(ctx context.Context, in *GetPendingJobExecutionsInput) (*GetPendingJobExecutionsOutput, error)
	StartNextPendingJobExecution(ctx context.Context, in *StartNextPendingJobExecutionInput) (*StartNextPendingJobExecutionOutput, error)
	UpdateJobExecution(ctx context.Context, in *UpdateJobExecutionInput) (*UpdateJobExecutionOutput, error)
}
