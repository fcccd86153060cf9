package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/iotdm/iotdm"
)

// JobsOptions configures a Jobs service.
type JobsOptions struct {
	Region    string // e.g. us-east-1; used in ARNs
	AccountID string // 12 digits; used in ARNs
	// Dynamic answers dynamic thing group membership (the fleet index's
	// fleetindex.Feeder); nil means no dynamic group has members.
	Dynamic DynamicMembership
	Logger  *slog.Logger
	// Now returns the current time; nil means time.Now. Tick takes its
	// time as an argument instead.
	Now func() time.Time
	// BatchSize bounds the executions one transaction creates, cancels or
	// deletes (rollouts, CancelJob, DeleteJob); zero means 500.
	BatchSize int
}

// Jobs implements iotdm.Jobs (the control plane of AWS IoT Jobs) on an
// iotdm.Store, and through Data and HandleMQTT the device side. The state
// machines are in jobs_tx.go; time-driven work (rollout rates, timeouts,
// scheduling windows) is done by Tick, and continuous jobs follow group
// membership through Run and OnMembership (jobs_sched.go).
type Jobs struct {
	store iotdm.Store
	opts  JobsOptions
	log   *slog.Logger
	pub   publisherSlot
	// order keeps a thing's requests over MQTT, and their replies, in
	// order.
	order keyLocks
	// membership queues dynamic group membership changes for Run.
	membership chan jobMembership
	// tickMu lets one Tick run at a time.
	tickMu sync.Mutex
}

var _ iotdm.Jobs = (*Jobs)(nil)

// NewJobs returns the jobs service over store.
func NewJobs(store iotdm.Store, opts JobsOptions) *Jobs {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Dynamic == nil {
		opts.Dynamic = noDynamicMembers{}
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 500
	}
	return &Jobs{store: store, opts: opts, log: opts.Logger.With("component", "jobs"),
		membership: make(chan jobMembership, dynamicQueueSize)}
}

// SetPublisher sets the publisher of the device notifications, the MQTT
// replies and the job events (the broker); nil stops publishing. It may be
// called at any time.
func (j *Jobs) SetPublisher(p MessagePublisher) { j.pub.set(p) }

func (j *Jobs) arn(resource, name string) string {
	return "arn:aws:iot:" + j.opts.Region + ":" + j.opts.AccountID + ":" + resource + "/" + name
}

// nameFromARN returns the name of one of our resource ARNs of a type.
func (j *Jobs) nameFromARN(resource, arn string) (string, bool) {
	name, ok := strings.CutPrefix(arn, j.arn(resource, ""))
	return name, ok && name != ""
}

// jobTarget is one target of a job: a thing or a thing group.
type jobTarget struct {
	thing, group string
}

// parseTarget takes a target ARN apart: a thing or a thing group of this
// account and region.
func (j *Jobs) parseTarget(arn string) (jobTarget, error) {
	if len(arn) > maxTargetARNLen {
		return jobTarget{}, constraint(clipValue(arn), "targets", "Member must have length less than or equal to 2048")
	}
	if name, ok := j.nameFromARN("thing", arn); ok {
		return jobTarget{thing: name}, validateName("targets", name)
	}
	if name, ok := j.nameFromARN("thinggroup", arn); ok {
		return jobTarget{group: name}, validateName("targets", name)
	}
	return jobTarget{}, invalid("Invalid target ARN %s: a job targets things (%s) and thing groups (%s)", arn,
		j.arn("thing", "{thingName}"), j.arn("thinggroup", "{thingGroupName}"))
}

// resolveTargets returns the things a job's targets name now, sorted and
// without repeats: each thing target, the members of each dynamic group,
// and the members of each static group and of its descendants. It also
// returns the id of the first group. Missing things and groups are
// ResourceNotFoundException.
func (j *Jobs) resolveTargets(ctx context.Context, tx iotdm.ReadTx, targets []string) ([]string, string, error) {
	set := map[string]bool{}
	groupID := ""
	var groups map[string]*iotdm.ThingGroup
	for _, arn := range targets {
		t, err := j.parseTarget(arn)
		if err != nil {
			return nil, "", err
		}
		if t.thing != "" {
			if _, ok, err := tx.Get(ctx, iotdm.KindThing, t.thing); err != nil {
				return nil, "", err
			} else if !ok {
				return nil, "", notFound("Thing %s does not exist", t.thing)
			}
			set[t.thing] = true
			continue
		}
		g, ok, err := get[iotdm.ThingGroup](ctx, tx, iotdm.KindThingGroup, t.group)
		if err != nil {
			return nil, "", err
		}
		if !ok {
			return nil, "", notFound("Thing Group %s does not exist", t.group)
		}
		if groupID == "" {
			groupID = g.ThingGroupID
		}
		if g.Dynamic() {
			for _, thing := range j.opts.Dynamic.DynamicMembers(t.group) {
				set[thing] = true
			}
			continue
		}
		if groups == nil {
			if groups, err = allGroups(ctx, tx); err != nil {
				return nil, "", err
			}
		}
		for _, name := range append(descendants(groups, t.group), t.group) {
			if groups[name] != nil && groups[name].Dynamic() {
				continue
			}
			prefix := name + "/"
			err := tx.Scan(ctx, iotdm.KindGroupMember, prefix, "", 0, func(key string, _ []byte) error {
				set[strings.TrimPrefix(key, prefix)] = true
				return nil
			})
			if err != nil {
				return nil, "", err
			}
		}
	}
	return sortedKeys(set), groupID, nil
}

// targeted reports whether a job's targets include thing now: as a thing
// target, as a member of a dynamic group target, or as a member of a
// static group target or one of its descendants.
func (j *Jobs) targeted(ctx context.Context, tx iotdm.ReadTx, job *iotdm.JobRecord, thing string) (bool, error) {
	var in map[string]bool // the thing's static groups and their ancestors
	for _, arn := range job.Targets {
		t, err := j.parseTarget(arn)
		if err != nil {
			continue
		}
		if t.thing != "" {
			if t.thing == thing {
				return true, nil
			}
			continue
		}
		if slices.Contains(j.opts.Dynamic.DynamicGroupsOf(thing), t.group) {
			return true, nil
		}
		if in == nil {
			in = map[string]bool{}
			names, err := thingGroupNames(ctx, tx, thing)
			if err != nil {
				return false, err
			}
			for _, name := range names {
				in[name] = true
				if g, ok, err := get[iotdm.ThingGroup](ctx, tx, iotdm.KindThingGroup, name); err != nil {
					return false, err
				} else if ok {
					for _, a := range g.ThingGroupMetadata.RootToParentThingGroups {
						in[a.GroupName] = true
					}
				}
			}
		}
		if in[t.group] {
			return true, nil
		}
	}
	return false, nil
}

// templateFromARN loads the job template an ARN names.
func (j *Jobs) templateFromARN(ctx context.Context, tx getter, arn string) (*iotdm.JobTemplateRecord, error) {
	if len(arn) > 1600 || !arnPattern.MatchString(arn) {
		return nil, constraint(arn, "jobTemplateArn", "Member must satisfy regular expression pattern: ^arn:[!-~]+$")
	}
	id, ok := j.nameFromARN("jobtemplate", arn)
	if !ok {
		return nil, notFound("Job template %s does not exist", arn)
	}
	t, ok, err := get[iotdm.JobTemplateRecord](ctx, tx, iotdm.KindJobTemplate, id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound("Job template %s does not exist", id)
	}
	return t, nil
}

// CreateJob creates a job and starts its rollout: the targets are resolved
// now (a snapshot job keeps them; a continuous job also takes things that
// join its groups later), and executions are queued as fast as the rollout
// configuration allows (all at once without one). A job with a scheduling
// window that starts later is SCHEDULED until then. The document comes
// inline or from a job template (jobTemplateArn); documentSource (an S3
// URL) is not supported. documentParameters fill the document's
// ${aws:iot:parameter:name} placeholders.
func (j *Jobs) CreateJob(ctx context.Context, in *iotdm.CreateJobInput) (*iotdm.CreateJobOutput, error) {
	now := j.opts.Now().UTC().Truncate(time.Millisecond)
	if err := validateJobID("jobId", in.JobID); err != nil {
		return nil, err
	}
	if len(in.Targets) == 0 {
		return nil, constraint("[]", "targets", "Member must have length greater than or equal to 1")
	}
	for _, t := range in.Targets {
		if _, err := j.parseTarget(t); err != nil {
			return nil, err
		}
	}
	switch in.TargetSelection {
	case "":
		in.TargetSelection = iotdm.TargetSnapshot
	case iotdm.TargetSnapshot, iotdm.TargetContinuous:
	default:
		return nil, constraint(in.TargetSelection, "targetSelection", "Member must satisfy enum value set: [CONTINUOUS, SNAPSHOT]")
	}
	for _, err := range []error{
		validateJobConfig(in.Description, in.PresignedURLConfig, in.JobExecutionsRolloutConfig, in.AbortConfig, in.TimeoutConfig, in.JobExecutionsRetryConfig),
		validateTags(in.Tags), validateNamespace(in.NamespaceID), validateDocumentParameters(in.DocumentParameters),
		validateScheduling(in.SchedulingConfig, now), validatePackageVersions(in.DestinationPackageVersions),
	} {
		if err != nil {
			return nil, err
		}
	}
	if in.DocumentSource != "" {
		return nil, invalid("documentSource (a job document in Amazon S3) is not supported by this endpoint; pass the document inline")
	}
	rec := &iotdm.JobRecord{
		JobID: in.JobID, JobARN: j.arn("job", in.JobID), TargetSelection: in.TargetSelection,
		Status: iotdm.JobInProgress, Targets: slices.Clone(in.Targets), Description: in.Description,
		Document: in.Document, DocumentParameters: in.DocumentParameters,
		PresignedURLConfig: in.PresignedURLConfig, JobExecutionsRolloutConfig: in.JobExecutionsRolloutConfig,
		AbortConfig: in.AbortConfig, TimeoutConfig: in.TimeoutConfig, JobExecutionsRetryConfig: in.JobExecutionsRetryConfig,
		SchedulingConfig: in.SchedulingConfig, NamespaceID: in.NamespaceID, JobTemplateARN: in.JobTemplateARN,
		DestinationPackageVersions: in.DestinationPackageVersions, Tags: in.Tags,
		CreatedAt: iotdm.Timestamp{Time: now}, LastUpdatedAt: iotdm.Timestamp{Time: now},
		Counts: map[string]int{},
	}
	if in.JobTemplateARN != "" {
		t, err := j.templateFromARN(ctx, j.store, in.JobTemplateARN)
		if err != nil {
			return nil, err
		}
		applyTemplate(rec, t)
	}
	if rec.Document == "" {
		return nil, invalid("A job needs a document: set document or jobTemplateArn")
	}
	if err := validateDocument(rec.Document); err != nil {
		return nil, err
	}
	if len(in.DocumentParameters) > 0 || jobParameterPattern.MatchString(rec.Document) {
		doc, err := substituteParameters(rec.Document, in.DocumentParameters)
		if err != nil {
			return nil, err
		}
		if err := validateDocument(doc); err != nil {
			return nil, err
		}
		if doc != rec.Document {
			rec.ResolvedDocument = doc
		}
	}
	if s := rec.SchedulingConfig; s != nil && s.StartTime != "" {
		if start, _ := parseJobTime("startTime", s.StartTime); start.After(now) {
			rec.Status = iotdm.JobScheduled
		}
	}
	more := false
	err := j.update(ctx, now, func(jt *jobTx) error {
		if old, ok, err := get[iotdm.JobRecord](ctx, jt.tx, iotdm.KindJob, in.JobID); err != nil {
			return err
		} else if ok {
			return &iotdm.Error{Code: iotdm.ErrResourceAlreadyExists, Message: fmt.Sprintf("Job %s already exists", in.JobID),
				ResourceID: old.JobID, ResourceARN: old.JobARN}
		}
		things, groupID, err := j.resolveTargets(ctx, jt.tx, rec.Targets)
		if err != nil {
			return err
		}
		rec.ThingGroupID = groupID
		for _, thing := range things {
			if err := jt.tx.Put(ctx, iotdm.KindJobRollout, rec.JobID+"/"+thing, []byte("{}")); err != nil {
				return err
			}
		}
		rec.RolloutPending = len(things)
		jt.putJob(rec)
		more, err = jt.rolloutStep(rec)
		return err
	})
	if err != nil {
		return nil, err
	}
	if more {
		if err := j.rollout(ctx, rec.JobID, now); err != nil {
			j.log.Warn("roll out job", "job", rec.JobID, "err", err)
		}
	}
	return &iotdm.CreateJobOutput{JobARN: rec.JobARN, JobID: rec.JobID, Description: rec.Description}, nil
}

// applyTemplate fills what a job leaves unset from its template.
func applyTemplate(rec *iotdm.JobRecord, t *iotdm.JobTemplateRecord) {
	if rec.Document == "" {
		rec.Document = t.Document
	}
	if rec.Description == "" {
		rec.Description = t.Description
	}
	if rec.PresignedURLConfig == nil {
		rec.PresignedURLConfig = t.PresignedURLConfig
	}
	if rec.JobExecutionsRolloutConfig == nil {
		rec.JobExecutionsRolloutConfig = t.JobExecutionsRolloutConfig
	}
	if rec.AbortConfig == nil {
		rec.AbortConfig = t.AbortConfig
	}
	if rec.TimeoutConfig == nil {
		rec.TimeoutConfig = t.TimeoutConfig
	}
	if rec.JobExecutionsRetryConfig == nil {
		rec.JobExecutionsRetryConfig = t.JobExecutionsRetryConfig
	}
	if rec.DestinationPackageVersions == nil {
		rec.DestinationPackageVersions = t.DestinationPackageVersions
	}
}

// loadJob reads a job; a missing one is ResourceNotFoundException.
func (j *Jobs) loadJob(ctx context.Context, tx getter, id string) (*iotdm.JobRecord, error) {
	job, ok, err := get[iotdm.JobRecord](ctx, tx, iotdm.KindJob, id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound("Job %s does not exist", id)
	}
	return job, nil
}

// processDetails renders a job's counts.
func processDetails(job *iotdm.JobRecord) *iotdm.JobProcessDetails {
	c := job.Counts
	d := &iotdm.JobProcessDetails{
		NumberOfCanceledThings: c[iotdm.ExecutionCanceled], NumberOfSucceededThings: c[iotdm.ExecutionSucceeded],
		NumberOfFailedThings: c[iotdm.ExecutionFailed], NumberOfRejectedThings: c[iotdm.ExecutionRejected],
		NumberOfQueuedThings: c[iotdm.ExecutionQueued], NumberOfInProgressThings: c[iotdm.ExecutionInProgress],
		NumberOfRemovedThings: c[iotdm.ExecutionRemoved], NumberOfTimedOutThings: c[iotdm.ExecutionTimedOut],
	}
	// AWS: the targets the rollout is still notifying; none once done.
	if job.RolloutPending > 0 && !job.RolloutStopped &&
		(job.Status == iotdm.JobInProgress || job.Status == iotdm.JobScheduled) {
		d.ProcessingTargets = slices.Clone(job.Targets)
	}
	return d
}

// DescribeJob returns a job with the counts of its executions by status.
func (j *Jobs) DescribeJob(ctx context.Context, in *iotdm.DescribeJobInput) (*iotdm.DescribeJobOutput, error) {
	if err := validateJobID("jobId", in.JobID); err != nil {
		return nil, err
	}
	job, err := j.loadJob(ctx, j.store, in.JobID)
	if err != nil {
		return nil, err
	}
	out := &iotdm.Job{
		JobARN: job.JobARN, JobID: job.JobID, TargetSelection: job.TargetSelection, Status: job.Status,
		ReasonCode: job.ReasonCode, Comment: job.Comment, Targets: job.Targets, Description: job.Description,
		PresignedURLConfig: job.PresignedURLConfig, JobExecutionsRolloutConfig: job.JobExecutionsRolloutConfig,
		AbortConfig: job.AbortConfig, CreatedAt: job.CreatedAt, LastUpdatedAt: job.LastUpdatedAt,
		CompletedAt: job.CompletedAt, JobProcessDetails: processDetails(job), TimeoutConfig: job.TimeoutConfig,
		NamespaceID: job.NamespaceID, JobTemplateARN: job.JobTemplateARN,
		JobExecutionsRetryConfig: job.JobExecutionsRetryConfig, DocumentParameters: job.DocumentParameters,
		SchedulingConfig: job.SchedulingConfig, DestinationPackageVersions: job.DestinationPackageVersions,
	}
	if job.Status == iotdm.JobCanceled {
		forced := job.ForceCanceled
		out.ForceCanceled = &forced
	}
	concurrent := false
	out.IsConcurrent = &concurrent
	return &iotdm.DescribeJobOutput{Job: out}, nil
}

var jobStatuses = []string{iotdm.JobInProgress, iotdm.JobCanceled, iotdm.JobCompleted, iotdm.JobDeletionInProgress, iotdm.JobScheduled}

// ListJobs lists jobs in job id order, filtered by status, target
// selection, a targeted thing group (by name or id) and namespace.
func (j *Jobs) ListJobs(ctx context.Context, in *iotdm.ListJobsInput) (*iotdm.ListJobsOutput, error) {
	size, err := jobPageSize(in.MaxResults)
	if err != nil {
		return nil, err
	}
	if in.Status != "" && !slices.Contains(jobStatuses, in.Status) {
		return nil, constraint(in.Status, "status", "Member must satisfy enum value set: [IN_PROGRESS, CANCELED, COMPLETED, DELETION_IN_PROGRESS, SCHEDULED]")
	}
	if in.TargetSelection != "" && in.TargetSelection != iotdm.TargetSnapshot && in.TargetSelection != iotdm.TargetContinuous {
		return nil, constraint(in.TargetSelection, "targetSelection", "Member must satisfy enum value set: [CONTINUOUS, SNAPSHOT]")
	}
	if err := validateOptionalName("thingGroupName", in.ThingGroupName); err != nil {
		return nil, err
	}
	if err := validateNamespace(in.NamespaceID); err != nil {
		return nil, err
	}
	after, err := decodeToken("jobs", in.NextToken)
	if err != nil {
		return nil, err
	}
	p := pager[iotdm.JobSummary]{size: size}
	err = j.store.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
		groupARN := ""
		switch {
		case in.ThingGroupName != "":
			groupARN = j.arn("thinggroup", in.ThingGroupName)
		case in.ThingGroupID != "":
			err := scanDecode(ctx, tx, iotdm.KindThingGroup, "", func(_ string, g *iotdm.ThingGroup) error {
				if g.ThingGroupID == in.ThingGroupID {
					groupARN = g.ThingGroupARN
					return iotdm.ErrStopScan
				}
				return nil
			})
			if err != nil && !errors.Is(err, iotdm.ErrStopScan) {
				return err
			}
			if groupARN == "" {
				return nil
			}
		}
		err := tx.Scan(ctx, iotdm.KindJob, "", after, 0, func(key string, value []byte) error {
			job, err := decodeJob(key, value)
			if err != nil {
				return err
			}
			if in.Status != "" && job.Status != in.Status ||
				in.TargetSelection != "" && job.TargetSelection != in.TargetSelection ||
				in.NamespaceID != "" && job.NamespaceID != in.NamespaceID ||
				groupARN != "" && !slices.Contains(job.Targets, groupARN) {
				return nil
			}
			if !p.add(key, jobSummary(job)) {
				return iotdm.ErrStopScan
			}
			return nil
		})
		if errors.Is(err, iotdm.ErrStopScan) {
			return nil
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	out := &iotdm.ListJobsOutput{Jobs: p.page(), NextToken: p.next("jobs")}
	return out, nil
}

func jobSummary(job *iotdm.JobRecord) iotdm.JobSummary {
	concurrent := false
	return iotdm.JobSummary{
		JobARN: job.JobARN, JobID: job.JobID, ThingGroupID: job.ThingGroupID, TargetSelection: job.TargetSelection,
		Status: job.Status, CreatedAt: job.CreatedAt, LastUpdatedAt: job.LastUpdatedAt, CompletedAt: job.CompletedAt,
		IsConcurrent: &concurrent,
	}
}

// jobPageSize validates maxResults (LaserMaxResults, 1–250).
func jobPageSize(n int) (int, error) { return pageSize(n) }

// UpdateJob changes a job's description and configuration. A new rollout
// configuration applies to the executions not created yet; a new timeout
// to executions that start from now on.
func (j *Jobs) UpdateJob(ctx context.Context, in *iotdm.UpdateJobInput) (*iotdm.Empty, error) {
	if err := validateJobID("jobId", in.JobID); err != nil {
		return nil, err
	}
	if err := validateJobConfig(in.Description, in.PresignedURLConfig, in.JobExecutionsRolloutConfig, in.AbortConfig, in.TimeoutConfig, in.JobExecutionsRetryConfig); err != nil {
		return nil, err
	}
	if err := validateNamespace(in.NamespaceID); err != nil {
		return nil, err
	}
	now := j.opts.Now()
	more := false
	err := j.update(ctx, now, func(jt *jobTx) error {
		job, err := jt.job(in.JobID)
		if err != nil {
			return err
		}
		if job.Status == iotdm.JobDeletionInProgress {
			return invalid("Job %s is being deleted", in.JobID)
		}
		if in.Description != "" {
			job.Description = in.Description
		}
		if in.PresignedURLConfig != nil {
			job.PresignedURLConfig = in.PresignedURLConfig
		}
		if in.JobExecutionsRolloutConfig != nil {
			job.JobExecutionsRolloutConfig = in.JobExecutionsRolloutConfig
			job.Rollout.RatePerMinute = 0 // the new configuration's base rate
		}
		if in.AbortConfig != nil {
			job.AbortConfig = in.AbortConfig
		}
		if in.TimeoutConfig != nil {
			job.TimeoutConfig = in.TimeoutConfig
		}
		if in.JobExecutionsRetryConfig != nil {
			job.JobExecutionsRetryConfig = in.JobExecutionsRetryConfig
		}
		job.LastUpdatedAt = jt.ts()
		jt.putJob(job)
		more, err = jt.rolloutStep(job)
		return err
	})
	if err != nil {
		return nil, err
	}
	if more {
		if err := j.rollout(ctx, in.JobID, now); err != nil {
			j.log.Warn("roll out job", "job", in.JobID, "err", err)
		}
	}
	return &iotdm.Empty{}, nil
}

// CancelJob cancels a job: it becomes CANCELED, no execution is created
// any more, its QUEUED executions are cancelled and, with force, its
// IN_PROGRESS ones too (without force a device may still finish those).
// Cancelling a canceled job again with force cancels the in-progress
// executions left.
func (j *Jobs) CancelJob(ctx context.Context, in *iotdm.CancelJobInput) (*iotdm.CancelJobOutput, error) {
	if err := validateJobID("jobId", in.JobID); err != nil {
		return nil, err
	}
	if err := validateReasonCode(in.ReasonCode); err != nil {
		return nil, err
	}
	if err := validateFreeText("comment", in.Comment, maxJobDescriptionLen); err != nil {
		return nil, err
	}
	var out *iotdm.CancelJobOutput
	err := j.update(ctx, j.opts.Now(), func(jt *jobTx) error {
		job, err := jt.job(in.JobID)
		if err != nil {
			return err
		}
		out = &iotdm.CancelJobOutput{JobARN: job.JobARN, JobID: job.JobID, Description: job.Description}
		switch job.Status {
		case iotdm.JobCompleted, iotdm.JobDeletionInProgress:
			return invalid("Job %s is %s and cannot be canceled", in.JobID, job.Status)
		case iotdm.JobCanceled:
			if !in.Force || job.ForceCanceled {
				return nil
			}
		}
		jt.cancelJob(job, in.Force, in.ReasonCode, in.Comment)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteJob deletes a job and its executions. A job still IN_PROGRESS (or
// SCHEDULED) needs force (InvalidStateTransitionException otherwise). The
// job is DELETION_IN_PROGRESS while its executions are deleted in batches.
func (j *Jobs) DeleteJob(ctx context.Context, in *iotdm.DeleteJobInput) (*iotdm.Empty, error) {
	if err := validateJobID("jobId", in.JobID); err != nil {
		return nil, err
	}
	if err := validateNamespace(in.NamespaceID); err != nil {
		return nil, err
	}
	err := j.update(ctx, j.opts.Now(), func(jt *jobTx) error {
		job, err := jt.job(in.JobID)
		if err != nil {
			return err
		}
		switch job.Status {
		case iotdm.JobDeletionInProgress:
			return iotdm.Errorf(iotdm.ErrInvalidStateTransition, "Job %s is already being deleted", in.JobID)
		case iotdm.JobInProgress, iotdm.JobScheduled:
			if !in.Force {
				return iotdm.Errorf(iotdm.ErrInvalidStateTransition,
					"Job %s is %s; it can be deleted only when COMPLETED or CANCELED, or with force", in.JobID, job.Status)
			}
		}
		job.Status = iotdm.JobDeletionInProgress
		job.LastUpdatedAt = jt.ts()
		jt.putJob(job)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := j.finishDelete(ctx, in.JobID); err != nil {
		return nil, err
	}
	return &iotdm.Empty{}, nil
}

// finishDelete deletes a DELETION_IN_PROGRESS job's rollout targets and
// executions in batches, then the job.
func (j *Jobs) finishDelete(ctx context.Context, id string) error {
	if err := j.dropRollout(ctx, id); err != nil {
		return err
	}
	for done := false; !done; {
		err := j.update(ctx, j.opts.Now(), func(jt *jobTx) error {
			job, err := jt.job(id)
			if err != nil {
				return err
			}
			var recs []*iotdm.JobExecutionRecord
			err = jt.tx.Scan(jt.ctx, iotdm.KindJobExecution, id+"/", "", j.opts.BatchSize, func(key string, v []byte) error {
				r, err := decodeExecution(key, v)
				recs = append(recs, r)
				return err
			})
			if err != nil {
				return err
			}
			for _, r := range recs {
				if err := jt.remove(r); err != nil {
					return err
				}
			}
			if len(recs) < j.opts.BatchSize {
				done = true
				jt.jobEvent(job, "deleted")
				return jt.deleteJob(id)
			}
			return nil
		})
		if err != nil {
			if iotdm.IsCode(err, iotdm.ErrResourceNotFound) {
				return nil
			}
			return err
		}
	}
	return nil
}

// dropRollout deletes a job's rollout targets (those not notified yet) in
// batches.
func (j *Jobs) dropRollout(ctx context.Context, id string) error {
	for done := false; !done; {
		err := j.update(ctx, j.opts.Now(), func(jt *jobTx) error {
			job, err := jt.job(id)
			if err != nil {
				return err
			}
			var keys []string
			err = jt.tx.Scan(jt.ctx, iotdm.KindJobRollout, id+"/", "", j.opts.BatchSize, func(key string, _ []byte) error {
				keys = append(keys, key)
				return nil
			})
			if err != nil {
				return err
			}
			for _, k := range keys {
				if err := jt.tx.Delete(jt.ctx, iotdm.KindJobRollout, k); err != nil {
					return err
				}
			}
			done = len(keys) < j.opts.BatchSize
			if done {
				job.RolloutPending = 0
			} else {
				job.RolloutPending = max(0, job.RolloutPending-len(keys))
			}
			if len(keys) > 0 || done {
				jt.putJob(job)
			}
			return nil
		})
		if err != nil {
			if iotdm.IsCode(err, iotdm.ErrResourceNotFound) {
				return nil
			}
			return err
		}
	}
	return nil
}

// sweepCanceled cancels the executions a canceled job still has pending:
// QUEUED ones, and with force IN_PROGRESS ones too, in batches.
func (j *Jobs) sweepCanceled(ctx context.Context, id string, force bool) error {
	if err := j.dropRollout(ctx, id); err != nil {
		return err
	}
	return j.eachExecution(ctx, id, func(jt *jobTx, rec *iotdm.JobExecutionRecord) error {
		switch {
		case rec.Status == iotdm.ExecutionQueued:
			return jt.transition(rec, iotdm.ExecutionCanceled, nil, nil, false)
		case rec.Status == iotdm.ExecutionInProgress && force:
			return jt.transition(rec, iotdm.ExecutionCanceled, nil, nil, true)
		}
		return nil
	})
}

// eachExecution calls fn with each execution of a job, in batches of
// transactions.
func (j *Jobs) eachExecution(ctx context.Context, id string, fn func(jt *jobTx, rec *iotdm.JobExecutionRecord) error) error {
	after := ""
	for done := false; !done; {
		err := j.update(ctx, j.opts.Now(), func(jt *jobTx) error {
			if _, err := jt.job(id); err != nil {
				return err
			}
			var recs []*iotdm.JobExecutionRecord
			last := after
			err := jt.tx.Scan(jt.ctx, iotdm.KindJobExecution, id+"/", after, j.opts.BatchSize, func(key string, v []byte) error {
				r, err := decodeExecution(key, v)
				recs = append(recs, r)
				last = key
				return err
			})
			if err != nil {
				return err
			}
			for _, r := range recs {
				if err := jt.touch(r.ThingName); err != nil {
					return err
				}
				if err := fn(jt, r); err != nil {
					return err
				}
			}
			after = last
			done = len(recs) < j.opts.BatchSize
			return nil
		})
		if err != nil {
			if iotdm.IsCode(err, iotdm.ErrResourceNotFound) {
				return nil
			}
			return err
		}
	}
	return nil
}

// CancelJobExecution cancels one thing's execution of a job: a QUEUED one,
// or with force an IN_PROGRESS one (InvalidStateTransitionException
// otherwise, and for a terminal execution).
func (j *Jobs) CancelJobExecution(ctx context.Context, in *iotdm.CancelJobExecutionInput) (*iotdm.Empty, error) {
	if err := validateJobID("jobId", in.JobID); err != nil {
		return nil, err
	}
	if err := validateName("thingName", in.ThingName); err != nil {
		return nil, err
	}
	if err := validateStatusDetails(in.StatusDetails); err != nil {
		return nil, err
	}
	err := j.update(ctx, j.opts.Now(), func(jt *jobTx) error {
		rec, err := jt.mustExecution(in.JobID, in.ThingName)
		if err != nil {
			return err
		}
		if in.ExpectedVersion != nil && *in.ExpectedVersion != rec.VersionNumber {
			return iotdm.Errorf(iotdm.ErrVersionConflict, "The expected version %d does not match the job execution's version %d", *in.ExpectedVersion, rec.VersionNumber)
		}
		switch {
		case iotdm.TerminalExecution(rec.Status):
			return iotdm.Errorf(iotdm.ErrInvalidStateTransition, "The job execution of %s on %s is %s and cannot be canceled", in.JobID, in.ThingName, rec.Status)
		case rec.Status == iotdm.ExecutionInProgress && !in.Force:
			return iotdm.Errorf(iotdm.ErrInvalidStateTransition, "The job execution of %s on %s is IN_PROGRESS; cancel it with force", in.JobID, in.ThingName)
		}
		return jt.transition(rec, iotdm.ExecutionCanceled, in.StatusDetails, nil, rec.Status == iotdm.ExecutionInProgress)
	})
	if err != nil {
		return nil, err
	}
	return &iotdm.Empty{}, nil
}

// mustExecution loads an execution; a missing one is
// ResourceNotFoundException.
func (jt *jobTx) mustExecution(jobID, thing string) (*iotdm.JobExecutionRecord, error) {
	rec, ok, err := jt.execution(jobID, thing)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound("Job execution of job %s on thing %s does not exist", jobID, thing)
	}
	return rec, nil
}

// DeleteJobExecution deletes one attempt of a thing's execution of a job.
// The current attempt must be terminal unless force is set; deleting it
// deletes the thing's execution with its history.
func (j *Jobs) DeleteJobExecution(ctx context.Context, in *iotdm.DeleteJobExecutionInput) (*iotdm.Empty, error) {
	if err := validateJobID("jobId", in.JobID); err != nil {
		return nil, err
	}
	if err := validateName("thingName", in.ThingName); err != nil {
		return nil, err
	}
	if err := validateNamespace(in.NamespaceID); err != nil {
		return nil, err
	}
	err := j.update(ctx, j.opts.Now(), func(jt *jobTx) error {
		rec, err := jt.mustExecution(in.JobID, in.ThingName)
		if err != nil {
			return err
		}
		job, err := jt.job(in.JobID)
		if err != nil {
			return err
		}
		if in.ExecutionNumber == rec.ExecutionNumber {
			if !iotdm.TerminalExecution(rec.Status) && !in.Force {
				return iotdm.Errorf(iotdm.ErrInvalidStateTransition,
					"The job execution of %s on %s is %s; only terminal executions can be deleted without force", in.JobID, in.ThingName, rec.Status)
			}
			jt.executionEventOp(job, rec, "deleted")
			return jt.remove(rec)
		}
		i := slices.IndexFunc(rec.Previous, func(a iotdm.JobExecutionAttempt) bool { return a.ExecutionNumber == in.ExecutionNumber })
		if i < 0 {
			return notFound("Job execution %d of job %s on thing %s does not exist", in.ExecutionNumber, in.JobID, in.ThingName)
		}
		rec.Previous = slices.Delete(rec.Previous, i, i+1)
		return jt.put(rec, rec.Status)
	})
	if err != nil {
		return nil, err
	}
	return &iotdm.Empty{}, nil
}

// attempt returns the attempt of rec numbered n (the current one when n is
// nil).
func attempt(rec *iotdm.JobExecutionRecord, n *int64) (*iotdm.JobExecutionAttempt, bool) {
	if n == nil || *n == rec.ExecutionNumber {
		return &rec.JobExecutionAttempt, true
	}
	for i := range rec.Previous {
		if rec.Previous[i].ExecutionNumber == *n {
			return &rec.Previous[i], true
		}
	}
	return nil, false
}

// loadExecution reads an execution outside a transaction.
func (j *Jobs) loadExecution(ctx context.Context, jobID, thing string) (*iotdm.JobExecutionRecord, error) {
	rec, ok, err := get[iotdm.JobExecutionRecord](ctx, j.store, iotdm.KindJobExecution, jobID+"/"+thing)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound("Job execution of job %s on thing %s does not exist", jobID, thing)
	}
	return rec, nil
}

// DescribeJobExecution returns one attempt of a thing's execution of a job
// (the current one unless executionNumber names another).
func (j *Jobs) DescribeJobExecution(ctx context.Context, in *iotdm.DescribeJobExecutionInput) (*iotdm.DescribeJobExecutionOutput, error) {
	if err := validateJobID("jobId", in.JobID); err != nil {
		return nil, err
	}
	if err := validateName("thingName", in.ThingName); err != nil {
		return nil, err
	}
	rec, err := j.loadExecution(ctx, in.JobID, in.ThingName)
	if err != nil {
		return nil, err
	}
	a, ok := attempt(rec, in.ExecutionNumber)
	if !ok {
		return nil, notFound("Job execution %d of job %s on thing %s does not exist", *in.ExecutionNumber, in.JobID, in.ThingName)
	}
	e := &iotdm.JobExecution{
		JobID: rec.JobID, Status: a.Status, ThingARN: j.arn("thing", rec.ThingName),
		QueuedAt: a.QueuedAt, StartedAt: a.StartedAt, LastUpdatedAt: a.LastUpdatedAt,
		ExecutionNumber: a.ExecutionNumber, VersionNumber: a.VersionNumber,
		ApproximateSecondsBeforeTimedOut: secondsBeforeTimeout(a, j.opts.Now()),
	}
	if a.Status == iotdm.ExecutionCanceled {
		forced := a.ForceCanceled
		e.ForceCanceled = &forced
	}
	if len(a.StatusDetails) > 0 {
		e.StatusDetails = &iotdm.JobExecutionStatusDetails{DetailsMap: a.StatusDetails}
	}
	return &iotdm.DescribeJobExecutionOutput{Execution: e}, nil
}

func executionSummary(a *iotdm.JobExecutionAttempt) iotdm.JobExecutionSummary {
	return iotdm.JobExecutionSummary{
		Status: a.Status, QueuedAt: a.QueuedAt, StartedAt: a.StartedAt, LastUpdatedAt: a.LastUpdatedAt,
		ExecutionNumber: a.ExecutionNumber, RetryAttempt: a.RetryAttempt,
	}
}

// ListJobExecutionsForJob lists the things' current executions of a job in
// thing name order, optionally of one status.
func (j *Jobs) ListJobExecutionsForJob(ctx context.Context, in *iotdm.ListJobExecutionsForJobInput) (*iotdm.ListJobExecutionsForJobOutput, error) {
	if err := validateJobID("jobId", in.JobID); err != nil {
		return nil, err
	}
	if err := validateExecutionStatus("status", in.Status); err != nil {
		return nil, err
	}
	size, err := jobPageSize(in.MaxResults)
	if err != nil {
		return nil, err
	}
	after, err := decodeToken("jobexecutions", in.NextToken)
	if err != nil {
		return nil, err
	}
	p := pager[iotdm.JobExecutionSummaryForJob]{size: size}
	err = j.store.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
		if _, err := j.loadJob(ctx, tx, in.JobID); err != nil {
			return err
		}
		start := ""
		if after != "" {
			start = in.JobID + "/" + after
		}
		return tx.Scan(ctx, iotdm.KindJobExecution, in.JobID+"/", start, 0, func(key string, v []byte) error {
			rec, err := decodeExecution(key, v)
			if err != nil {
				return err
			}
			if in.Status != "" && rec.Status != in.Status {
				return nil
			}
			item := iotdm.JobExecutionSummaryForJob{ThingARN: j.arn("thing", rec.ThingName), JobExecutionSummary: executionSummary(&rec.JobExecutionAttempt)}
			if !p.add(rec.ThingName, item) {
				return iotdm.ErrStopScan
			}
			return nil
		})
	})
	if err != nil && !errors.Is(err, iotdm.ErrStopScan) {
		return nil, err
	}
	out := &iotdm.ListJobExecutionsForJobOutput{ExecutionSummaries: p.page(), NextToken: p.next("jobexecutions")}
	return out, nil
}

// ListJobExecutionsForThing lists a thing's current executions in job id
// order, optionally of one status, one job or one namespace.
func (j *Jobs) ListJobExecutionsForThing(ctx context.Context, in *iotdm.ListJobExecutionsForThingInput) (*iotdm.ListJobExecutionsForThingOutput, error) {
	if err := validateName("thingName", in.ThingName); err != nil {
		return nil, err
	}
	if err := validateExecutionStatus("status", in.Status); err != nil {
		return nil, err
	}
	if in.JobID != "" {
		if err := validateJobID("jobId", in.JobID); err != nil {
			return nil, err
		}
	}
	if err := validateNamespace(in.NamespaceID); err != nil {
		return nil, err
	}
	size, err := jobPageSize(in.MaxResults)
	if err != nil {
		return nil, err
	}
	after, err := decodeToken("thingjobexecutions", in.NextToken)
	if err != nil {
		return nil, err
	}
	p := pager[iotdm.JobExecutionSummaryForThing]{size: size}
	prefix := in.ThingName + "/"
	err = j.store.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
		start := ""
		if after != "" {
			start = prefix + after
		}
		return tx.Scan(ctx, iotdm.KindThingJobExecution, prefix, start, 0, func(key string, v []byte) error {
			rec, err := decodeExecution(key, v)
			if err != nil {
				return err
			}
			if in.Status != "" && rec.Status != in.Status || in.JobID != "" && rec.JobID != in.JobID {
				return nil
			}
			if in.NamespaceID != "" {
				job, ok, err := get[iotdm.JobRecord](ctx, tx, iotdm.KindJob, rec.JobID)
				if err != nil {
					return err
				}
				if !ok || job.NamespaceID != in.NamespaceID {
					return nil
				}
			}
			item := iotdm.JobExecutionSummaryForThing{JobID: rec.JobID, JobExecutionSummary: executionSummary(&rec.JobExecutionAttempt)}
			if !p.add(rec.JobID, item) {
				return iotdm.ErrStopScan
			}
			return nil
		})
	})
	if err != nil && !errors.Is(err, iotdm.ErrStopScan) {
		return nil, err
	}
	out := &iotdm.ListJobExecutionsForThingOutput{ExecutionSummaries: p.page(), NextToken: p.next("thingjobexecutions")}
	return out, nil
}

// GetJobDocument returns a job's document as devices receive it, or with
// beforeSubstitution its ${aws:iot:parameter:...} placeholders.
func (j *Jobs) GetJobDocument(ctx context.Context, in *iotdm.GetJobDocumentInput) (*iotdm.GetJobDocumentOutput, error) {
	if err := validateJobID("jobId", in.JobID); err != nil {
		return nil, err
	}
	job, err := j.loadJob(ctx, j.store, in.JobID)
	if err != nil {
		return nil, err
	}
	if in.BeforeSubstitution {
		return &iotdm.GetJobDocumentOutput{Document: job.Document}, nil
	}
	return &iotdm.GetJobDocumentOutput{Document: job.DeviceDocument()}, nil
}

func decodeJob(key string, v []byte) (*iotdm.JobRecord, error) {
	job := new(iotdm.JobRecord)
	if err := json.Unmarshal(v, job); err != nil {
		return nil, fmt.Errorf("decode job %q: %w", key, err)
	}
	if job.Counts == nil {
		job.Counts = map[string]int{}
	}
	return job, nil
}

func decodeExecution(key string, v []byte) (*iotdm.JobExecutionRecord, error) {
	rec := new(iotdm.JobExecutionRecord)
	if err := json.Unmarshal(v, rec); err != nil {
		return nil, fmt.Errorf("decode job execution %q: %w", key, err)
	}
	return rec, nil
}
