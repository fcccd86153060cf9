package control

import (
	"context"
	"regexp"

	"github.com/iotdm/iotdm"
)

// The device side of AWS IoT Jobs: the jobs data plane (iot-jobs-data) and,
// over the same operations, the MQTT jobs API (jobs_topics.go). A device
// reads its pending executions, starts the next one, and reports progress
// and the outcome; every change it makes runs through the state machine of
// jobs_tx.go and notifies the thing's notify and notify-next topics.

// JobsData is the iotdm.JobsData of a Jobs service (see Jobs.Data).
type JobsData struct{ j *Jobs }

var _ iotdm.JobsData = JobsData{}

// Data returns the device side of the service.
func (j *Jobs) Data() JobsData { return JobsData{j} }

// describeJobIDPattern is DescribeJobExecutionJobId: a job id or $next.
var describeJobIDPattern = regexp.MustCompile(`^([a-zA-Z0-9_-]+|\$next)$`)

// deviceUpdatable are the statuses a device may set (AWS
// UpdateJobExecution: IN_PROGRESS, FAILED, SUCCEEDED or REJECTED).
var deviceUpdatable = map[string]bool{
	iotdm.ExecutionInProgress: true, iotdm.ExecutionSucceeded: true,
	iotdm.ExecutionFailed: true, iotdm.ExecutionRejected: true,
}

// DescribeJobExecution returns a thing's execution of a job, or with
// jobId $next its next pending execution (none: an empty response). The
// job document is included unless includeJobDocument is false.
func (d JobsData) DescribeJobExecution(ctx context.Context, in *iotdm.DescribeJobExecutionDataInput) (*iotdm.DescribeJobExecutionDataOutput, error) {
	j := d.j
	if err := validateName("thingName", in.ThingName); err != nil {
		return nil, err
	}
	if !describeJobIDPattern.MatchString(in.JobID) || len(in.JobID) > maxJobIDLen {
		return nil, constraint(in.JobID, "jobId", `Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+|^\$next`)
	}
	now := j.opts.Now()
	if err := j.expireDue(ctx, in.ThingName, now); err != nil {
		return nil, err
	}
	withDoc := in.IncludeJobDocument == nil || *in.IncludeJobDocument
	var rec *iotdm.JobExecutionRecord
	if in.JobID == iotdm.NextJobID {
		p, err := pendingOf(ctx, storeReader{j.store}, in.ThingName)
		if err != nil {
			return nil, err
		}
		if rec = p.next(); rec == nil {
			return &iotdm.DescribeJobExecutionDataOutput{}, nil
		}
	} else {
		var err error
		if rec, err = j.loadExecution(ctx, in.JobID, in.ThingName); err != nil {
			return nil, err
		}
	}
	a, ok := attempt(rec, in.ExecutionNumber)
	if !ok {
		return nil, notFound("Job execution %d of job %s on thing %s does not exist", *in.ExecutionNumber, rec.JobID, in.ThingName)
	}
	job, err := j.loadJob(ctx, j.store, rec.JobID)
	if err != nil {
		return nil, err
	}
	return &iotdm.DescribeJobExecutionDataOutput{Execution: executionData(job, rec, a, now, withDoc)}, nil
}

// GetPendingJobExecutions lists a thing's IN_PROGRESS and QUEUED
// executions, oldest first. An unknown thing is ResourceNotFoundException.
func (d JobsData) GetPendingJobExecutions(ctx context.Context, in *iotdm.GetPendingJobExecutionsInput) (*iotdm.GetPendingJobExecutionsOutput, error) {
	j := d.j
	if err := validateName("thingName", in.ThingName); err != nil {
		return nil, err
	}
	if err := j.expireDue(ctx, in.ThingName, j.opts.Now()); err != nil {
		return nil, err
	}
	out := &iotdm.GetPendingJobExecutionsOutput{InProgressJobs: []iotdm.JobExecutionSummaryData{}, QueuedJobs: []iotdm.JobExecutionSummaryData{}}
	err := j.store.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
		if _, ok, err := tx.Get(ctx, iotdm.KindThing, in.ThingName); err != nil {
			return err
		} else if !ok {
			return notFound("Thing %s does not exist", in.ThingName)
		}
		p, err := pendingOf(ctx, tx, in.ThingName)
		for _, e := range p {
			if e.rec.Status == iotdm.ExecutionInProgress {
				out.InProgressJobs = append(out.InProgressJobs, summaryData(e.rec))
			} else {
				out.QueuedJobs = append(out.QueuedJobs, summaryData(e.rec))
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// StartNextPendingJobExecution returns the thing's next pending execution,
// starting it (IN_PROGRESS, with the status details and step timer given)
// when it is QUEUED; an execution already IN_PROGRESS is returned as it
// is. With nothing pending the response is empty.
func (d JobsData) StartNextPendingJobExecution(ctx context.Context, in *iotdm.StartNextPendingJobExecutionInput) (*iotdm.StartNextPendingJobExecutionOutput, error) {
	j := d.j
	if err := validateName("thingName", in.ThingName); err != nil {
		return nil, err
	}
	if err := validateStatusDetails(in.StatusDetails); err != nil {
		return nil, err
	}
	if err := validateStepTimeout(in.StepTimeoutInMinutes); err != nil {
		return nil, err
	}
	now := j.opts.Now()
	if err := j.expireDue(ctx, in.ThingName, now); err != nil {
		return nil, err
	}
	out := &iotdm.StartNextPendingJobExecutionOutput{}
	err := j.update(ctx, now, func(jt *jobTx) error {
		out.Execution = nil
		if err := jt.touch(in.ThingName); err != nil {
			return err
		}
		var next *iotdm.JobExecutionRecord
		for _, e := range jt.before[in.ThingName] {
			if e.rec.Status == iotdm.ExecutionInProgress {
				next = e.rec
				break
			}
		}
		if next == nil {
			// The oldest QUEUED execution of a job still in progress (a
			// canceled job's are being cancelled).
			for _, e := range jt.before[in.ThingName] {
				job, err := jt.job(e.rec.JobID)
				if err != nil {
					return err
				}
				if job.Status == iotdm.JobInProgress {
					next = e.rec
					break
				}
			}
		}
		if next == nil {
			return nil
		}
		rec := *next // the pending list's copy stays as it was
		if rec.Status == iotdm.ExecutionQueued {
			details := in.StatusDetails
			if details == nil {
				details = rec.StatusDetails
			}
			if err := jt.transition(&rec, iotdm.ExecutionInProgress, details, in.StepTimeoutInMinutes, false); err != nil {
				return err
			}
		}
		job, err := jt.job(rec.JobID)
		if err != nil {
			return err
		}
		out.Execution = executionData(job, &rec, &rec.JobExecutionAttempt, jt.now, true)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateJobExecution applies a device's update of its execution: the new
// status (IN_PROGRESS, SUCCEEDED, FAILED or REJECTED), status details
// (replacing the old ones when given) and step timer, if expectedVersion
// (when given) is the execution's version (VersionConflictException
// otherwise). A terminal execution refuses updates
// (InvalidStateTransitionException).
func (d JobsData) UpdateJobExecution(ctx context.Context, in *iotdm.UpdateJobExecutionInput) (*iotdm.UpdateJobExecutionOutput, error) {
	j := d.j
	if err := validateJobID("jobId", in.JobID); err != nil {
		return nil, err
	}
	if err := validateName("thingName", in.ThingName); err != nil {
		return nil, err
	}
	if in.Status == "" {
		return nil, invalid("status is required")
	}
	if err := validateExecutionStatus("status", in.Status); err != nil {
		return nil, err
	}
	if !deviceUpdatable[in.Status] {
		return nil, invalid("A job execution's status can be updated to IN_PROGRESS, SUCCEEDED, FAILED or REJECTED, not %s", in.Status)
	}
	if err := validateStatusDetails(in.StatusDetails); err != nil {
		return nil, err
	}
	if err := validateStepTimeout(in.StepTimeoutInMinutes); err != nil {
		return nil, err
	}
	now := j.opts.Now()
	if err := j.expireDue(ctx, in.ThingName, now); err != nil {
		return nil, err
	}
	out := &iotdm.UpdateJobExecutionOutput{}
	err := j.update(ctx, now, func(jt *jobTx) error {
		rec, err := jt.mustExecution(in.JobID, in.ThingName)
		if err != nil {
			return err
		}
		if n := in.ExecutionNumber; n != nil && *n != rec.ExecutionNumber {
			if _, ok := attempt(rec, n); ok {
				return iotdm.Errorf(iotdm.ErrInvalidStateTransition, "Job execution %d of job %s on thing %s is in a terminal state", *n, in.JobID, in.ThingName)
			}
			return notFound("Job execution %d of job %s on thing %s does not exist", *n, in.JobID, in.ThingName)
		}
		if in.ExpectedVersion != nil && *in.ExpectedVersion != rec.VersionNumber {
			return &jobVersionError{err: iotdm.Errorf(iotdm.ErrVersionConflict,
				"The expected version %d does not match the job execution's version %d", *in.ExpectedVersion, rec.VersionNumber), state: state(rec)}
		}
		if iotdm.TerminalExecution(rec.Status) {
			return &jobVersionError{err: iotdm.Errorf(iotdm.ErrInvalidStateTransition,
				"The job execution of %s on %s is %s and can no longer be updated", in.JobID, in.ThingName, rec.Status), state: state(rec)}
		}
		job, err := jt.job(in.JobID)
		if err != nil {
			return err
		}
		if err := jt.transition(rec, in.Status, in.StatusDetails, in.StepTimeoutInMinutes, false); err != nil {
			return err
		}
		if in.IncludeJobExecutionState {
			// The state of the attempt the device updated, also when a
			// retry followed it.
			out.ExecutionState = updatedState(rec, in.Status)
		}
		if in.IncludeJobDocument {
			out.JobDocument = job.DeviceDocument()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// jobVersionError is a refused update that carries the execution's state
// (the MQTT rejection's executionState).
type jobVersionError struct {
	err   *iotdm.Error
	state *iotdm.JobExecutionState
}

func (e *jobVersionError) Error() string { return e.err.Error() }
func (e *jobVersionError) Unwrap() error { return e.err }

func state(rec *iotdm.JobExecutionRecord) *iotdm.JobExecutionState {
	return &iotdm.JobExecutionState{Status: rec.Status, StatusDetails: rec.StatusDetails, VersionNumber: rec.VersionNumber}
}

// updatedState is the state of the attempt an update moved to status.
func updatedState(rec *iotdm.JobExecutionRecord, status string) *iotdm.JobExecutionState {
	if rec.Status == status || len(rec.Previous) == 0 {
		return state(rec)
	}
	a := rec.Previous[len(rec.Previous)-1]
	return &iotdm.JobExecutionState{Status: a.Status, StatusDetails: a.StatusDetails, VersionNumber: a.VersionNumber}
}
