package control

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iotdm/iotdm"
)

// The job and job execution state machines (AWS "Jobs and job execution
// states"). Every change of an execution runs through a jobTx, inside one
// store transaction, so the job's counts by status, the execution's two
// entities, its timer and the thing's pending list never disagree:
//
//	QUEUED ──device──► IN_PROGRESS ──device──► SUCCEEDED | FAILED | REJECTED
//	   │                  │  └──timer (in-progress or step timeout)──► TIMED_OUT
//	   │                  └──CancelJob/CancelJobExecution with force──► CANCELED
//	   ├──device──► SUCCEEDED | FAILED | REJECTED
//	   ├──CancelJob, CancelJobExecution, abort──► CANCELED
//	   └──thing deleted, or left the groups of a continuous job──► REMOVED
//	(IN_PROGRESS goes to REMOVED the same way.)
//
// A FAILED or TIMED_OUT execution of a job with a retry configuration
// whose budget for that failure type is not spent is followed at once by a
// new QUEUED attempt with the next execution number.
//
//	job: SCHEDULED ──startTime──► IN_PROGRESS ──all executions terminal,
//	     rollout done (snapshot, or a continuous job past its endTime)──► COMPLETED
//	     SCHEDULED | IN_PROGRESS ──CancelJob, abort, endTime CANCEL──► CANCELED
//	     any ──DeleteJob──► DELETION_IN_PROGRESS ──► (deleted)
//
// Effects that leave the transaction (notify and notify-next messages to
// the things whose pending lists changed, job events) are collected and
// published after the commit.

// jobMessage is one message to publish once the transaction committed.
type jobMessage struct {
	topic   string
	payload []byte
	// event is the event type (iotdm.EventJob, iotdm.EventJobExecution)
	// of a job event, published only while that type is enabled; "" for
	// the device topics.
	event string
}

// jobEffects is what a committed jobTx leaves to do.
type jobEffects struct {
	msgs []jobMessage
	// sweep lists the jobs canceled in the transaction whose executions
	// (and rollout targets) still need cancelling, in batches; force is
	// whether IN_PROGRESS executions are cancelled too.
	sweep map[string]bool
}

func (e *jobEffects) merge(o *jobEffects) {
	e.msgs = append(e.msgs, o.msgs...)
	for id, force := range o.sweep {
		if e.sweep == nil {
			e.sweep = map[string]bool{}
		}
		e.sweep[id] = e.sweep[id] || force
	}
}

// pendingExec is one execution of a thing's pending list.
type pendingExec struct {
	rec *iotdm.JobExecutionRecord
}

// pendingList is a thing's pending executions (QUEUED and IN_PROGRESS) in
// the order AWS serves them: by the time they were queued, then job id.
type pendingList []pendingExec

// signature identifies the list's members (job and execution number).
func (p pendingList) signature() string {
	var b strings.Builder
	for _, e := range p {
		b.WriteString(e.rec.JobID)
		b.WriteByte('#')
		b.WriteString(strconv.FormatInt(e.rec.ExecutionNumber, 10))
		b.WriteByte(' ')
	}
	return b.String()
}

// next returns the next pending execution: the first IN_PROGRESS one, else
// the first QUEUED one (AWS: "IN_PROGRESS job executions are returned
// first").
func (p pendingList) next() *iotdm.JobExecutionRecord {
	for _, e := range p {
		if e.rec.Status == iotdm.ExecutionInProgress {
			return e.rec
		}
	}
	if len(p) > 0 {
		return p[0].rec
	}
	return nil
}

func nextKey(r *iotdm.JobExecutionRecord) string {
	if r == nil {
		return ""
	}
	return r.JobID + "#" + strconv.FormatInt(r.ExecutionNumber, 10)
}

// jobTx is one transaction of the jobs service.
type jobTx struct {
	j   *Jobs
	ctx context.Context
	tx  iotdm.Tx
	now time.Time

	jobs    map[string]*iotdm.JobRecord
	dirty   map[string]bool // jobs to write back
	deleted map[string]bool // jobs deleted in the transaction
	before  map[string]pendingList
	order   []string // touched things, in touch order
	eff     jobEffects
}

// update runs fn in a jobTx of a store transaction at time now and, once
// it committed, publishes its messages and sweeps the jobs it canceled.
func (j *Jobs) update(ctx context.Context, now time.Time, fn func(jt *jobTx) error) error {
	var eff jobEffects
	err := j.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		jt := &jobTx{j: j, ctx: ctx, tx: tx, now: now.UTC().Truncate(time.Millisecond),
			jobs: map[string]*iotdm.JobRecord{}, dirty: map[string]bool{}, deleted: map[string]bool{},
			before: map[string]pendingList{}}
		if err := fn(jt); err != nil {
			return err
		}
		if err := jt.finish(); err != nil {
			return err
		}
		eff = jt.eff
		return nil
	})
	if err != nil {
		return err
	}
	j.afterCommit(ctx, &eff)
	return nil
}

// afterCommit publishes a committed transaction's messages and runs its
// sweeps.
func (j *Jobs) afterCommit(ctx context.Context, eff *jobEffects) {
	j.publish(ctx, eff.msgs)
	for id, force := range eff.sweep {
		if err := j.sweepCanceled(ctx, id, force); err != nil {
			j.log.Warn("cancel job executions", "job", id, "err", err)
		}
	}
}

func (jt *jobTx) ts() iotdm.Timestamp { return iotdm.Timestamp{Time: jt.now} }

// job returns the job, loaded once per transaction; a missing job is
// ResourceNotFoundException.
func (jt *jobTx) job(id string) (*iotdm.JobRecord, error) {
	if j, ok := jt.jobs[id]; ok && !jt.deleted[id] {
		return j, nil
	}
	j, ok, err := get[iotdm.JobRecord](jt.ctx, jt.tx, iotdm.KindJob, id)
	if err != nil {
		return nil, err
	}
	if !ok || jt.deleted[id] {
		return nil, notFound("Job %s does not exist", id)
	}
	if j.Counts == nil {
		j.Counts = map[string]int{}
	}
	jt.jobs[id] = j
	return j, nil
}

// putJob stores j at the end of the transaction.
func (jt *jobTx) putJob(j *iotdm.JobRecord) {
	if j.Counts == nil {
		j.Counts = map[string]int{}
	}
	jt.jobs[j.JobID] = j
	jt.dirty[j.JobID] = true
}

// deleteJob deletes the job record (its executions must be gone).
func (jt *jobTx) deleteJob(id string) error {
	jt.deleted[id] = true
	delete(jt.dirty, id)
	return jt.tx.Delete(jt.ctx, iotdm.KindJob, id)
}

// touch records the thing's pending list before the transaction changes
// it.
func (jt *jobTx) touch(thing string) error {
	if _, ok := jt.before[thing]; ok {
		return nil
	}
	p, err := pendingOf(jt.ctx, jt.tx, thing)
	if err != nil {
		return err
	}
	jt.before[thing] = p
	jt.order = append(jt.order, thing)
	return nil
}

// pendingOf reads a thing's pending list.
func pendingOf(ctx context.Context, tx iotdm.ReadTx, thing string) (pendingList, error) {
	var p pendingList
	err := scanDecode(ctx, tx, iotdm.KindThingJobExecution, thing+"/", func(_ string, r *iotdm.JobExecutionRecord) error {
		if !iotdm.TerminalExecution(r.Status) {
			p = append(p, pendingExec{rec: r})
		}
		return nil
	})
	slices.SortStableFunc(p, func(a, b pendingExec) int {
		if c := a.rec.QueuedAt.Compare(b.rec.QueuedAt.Time); c != 0 {
			return c
		}
		return strings.Compare(a.rec.JobID, b.rec.JobID)
	})
	return p, err
}

// execution loads a thing's execution record of a job (touching the
// thing); ok is false when there is none.
func (jt *jobTx) execution(jobID, thing string) (*iotdm.JobExecutionRecord, bool, error) {
	if err := jt.touch(thing); err != nil {
		return nil, false, err
	}
	return get[iotdm.JobExecutionRecord](jt.ctx, jt.tx, iotdm.KindJobExecution, jobID+"/"+thing)
}

// timerKey is the KindJobTimer key of a deadline.
func timerKey(deadline iotdm.Timestamp, jobID, thing string) string {
	return fmt.Sprintf("%020d/%s/%s", deadline.UnixMilli(), jobID, thing)
}

// put stores an execution record whose current attempt had status old
// ("" for a new record): the job's counts, the timer and both entities.
func (jt *jobTx) put(rec *iotdm.JobExecutionRecord, old string) error {
	job, err := jt.job(rec.JobID)
	if err != nil {
		return err
	}
	if err := jt.touch(rec.ThingName); err != nil {
		return err
	}
	if old != rec.Status {
		if old != "" {
			job.Counts[old]--
		}
		job.Counts[rec.Status]++
	}
	jt.dirty[job.JobID] = true
	want := ""
	if rec.Status == iotdm.ExecutionInProgress {
		if d, ok := rec.Deadline(); ok {
			want = timerKey(d, rec.JobID, rec.ThingName)
		}
	}
	if want != rec.TimerKey {
		if rec.TimerKey != "" {
			if err := jt.tx.Delete(jt.ctx, iotdm.KindJobTimer, rec.TimerKey); err != nil {
				return err
			}
		}
		if want != "" {
			if err := jt.tx.Put(jt.ctx, iotdm.KindJobTimer, want, []byte("{}")); err != nil {
				return err
			}
		}
		rec.TimerKey = want
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode job execution: %w", err)
	}
	if err := jt.tx.Put(jt.ctx, iotdm.KindJobExecution, rec.JobID+"/"+rec.ThingName, b); err != nil {
		return err
	}
	return jt.tx.Put(jt.ctx, iotdm.KindThingJobExecution, rec.ThingName+"/"+rec.JobID, b)
}

// remove deletes an execution record and all its attempts.
func (jt *jobTx) remove(rec *iotdm.JobExecutionRecord) error {
	job, err := jt.job(rec.JobID)
	if err != nil {
		return err
	}
	if err := jt.touch(rec.ThingName); err != nil {
		return err
	}
	job.Counts[rec.Status]--
	jt.dirty[job.JobID] = true
	if rec.TimerKey != "" {
		if err := jt.tx.Delete(jt.ctx, iotdm.KindJobTimer, rec.TimerKey); err != nil {
			return err
		}
	}
	if err := jt.tx.Delete(jt.ctx, iotdm.KindJobExecution, rec.JobID+"/"+rec.ThingName); err != nil {
		return err
	}
	return jt.tx.Delete(jt.ctx, iotdm.KindThingJobExecution, rec.ThingName+"/"+rec.JobID)
}

// create queues an execution of the job for thing, unless the thing has
// one already; a thing whose execution was REMOVED (it left a continuous
// job's groups) and is targeted again gets a new attempt. It reports
// whether an execution was queued.
func (jt *jobTx) create(job *iotdm.JobRecord, thing string) (bool, error) {
	rec, ok, err := jt.execution(job.JobID, thing)
	if err != nil {
		return false, err
	}
	old := ""
	next := int64(1)
	if ok {
		if rec.Status != iotdm.ExecutionRemoved {
			return false, nil
		}
		old = rec.Status
		next = rec.ExecutionNumber + 1
		rec.Previous = append(rec.Previous, rec.JobExecutionAttempt)
	} else {
		rec = &iotdm.JobExecutionRecord{JobID: job.JobID, ThingName: thing}
	}
	rec.JobExecutionAttempt = iotdm.JobExecutionAttempt{
		Status: iotdm.ExecutionQueued, QueuedAt: jt.ts(), LastUpdatedAt: jt.ts(),
		ExecutionNumber: next, VersionNumber: 1,
	}
	job.Rollout.Notified++
	return true, jt.put(rec, old)
}

// transition moves an execution's current attempt to status: its version
// grows, the timers follow (the job's in-progress timeout starts when it
// first goes IN_PROGRESS; terminal states stop both), a job execution
// event is recorded for terminal states, and a FAILED or TIMED_OUT attempt
// is followed by a retry when the job's retry configuration allows.
// details, when not nil, replaces the status details; step, when not nil,
// sets (minutes > 0) or clears (-1) the step timer.
func (jt *jobTx) transition(rec *iotdm.JobExecutionRecord, status string, details map[string]string, step *int64, force bool) error {
	job, err := jt.job(rec.JobID)
	if err != nil {
		return err
	}
	old := rec.Status
	a := &rec.JobExecutionAttempt
	a.Status = status
	a.LastUpdatedAt = jt.ts()
	a.VersionNumber++
	if details != nil {
		a.StatusDetails = details
		if len(details) == 0 {
			a.StatusDetails = nil
		}
	}
	if force {
		a.ForceCanceled = true
	}
	switch {
	case status == iotdm.ExecutionInProgress:
		if a.StartedAt == nil {
			started := jt.ts()
			a.StartedAt = &started
			if t := job.TimeoutConfig; t != nil && t.InProgressTimeoutInMinutes != nil {
				d := iotdm.Timestamp{Time: jt.now.Add(time.Duration(*t.InProgressTimeoutInMinutes) * time.Minute)}
				a.InProgressDeadline = &d
			}
		}
		if step != nil {
			a.StepDeadline = nil
			if *step > 0 {
				d := iotdm.Timestamp{Time: jt.now.Add(time.Duration(*step) * time.Minute)}
				a.StepDeadline = &d
			}
		}
	case iotdm.TerminalExecution(status):
		a.InProgressDeadline, a.StepDeadline = nil, nil
		jt.executionEvent(job, rec)
	}
	if status == iotdm.ExecutionFailed || status == iotdm.ExecutionTimedOut {
		// A retried attempt is kept; the thing's current execution is
		// then the new, QUEUED one.
		jt.retry(job, rec)
	}
	return jt.put(rec, old)
}

// retry replaces a FAILED or TIMED_OUT attempt by a new QUEUED one when the
// job is in progress and its retry configuration has retries left for the
// failure type (a criterion of type ALL counts the retries of both).
func (jt *jobTx) retry(job *iotdm.JobRecord, rec *iotdm.JobExecutionRecord) bool {
	cfg := job.JobExecutionsRetryConfig
	if cfg == nil || job.Status != iotdm.JobInProgress || job.RolloutStopped {
		return false
	}
	failure := rec.Status
	allowed, used := -1, 0
	for _, c := range cfg.CriteriaList {
		switch c.FailureType {
		case failure:
			allowed, used = c.NumberOfRetries, rec.Retries[failure]
		case "ALL":
			if allowed < 0 {
				allowed, used = c.NumberOfRetries, rec.Retries[iotdm.ExecutionFailed]+rec.Retries[iotdm.ExecutionTimedOut]
			}
		}
	}
	if used >= allowed {
		return false
	}
	if rec.Retries == nil {
		rec.Retries = map[string]int{}
	}
	rec.Retries[failure]++
	rec.Previous = append(rec.Previous, rec.JobExecutionAttempt)
	rec.JobExecutionAttempt = iotdm.JobExecutionAttempt{
		Status: iotdm.ExecutionQueued, QueuedAt: jt.ts(), LastUpdatedAt: jt.ts(),
		ExecutionNumber: rec.ExecutionNumber + 1, VersionNumber: 1, RetryAttempt: rec.RetryAttempt + 1,
	}
	return true
}

// cancelJob cancels a job: its status becomes CANCELED at once and its
// queued executions (and, with force, the in-progress ones) are cancelled
// after the commit, in batches.
func (jt *jobTx) cancelJob(job *iotdm.JobRecord, force bool, reasonCode, comment string) {
	job.Status = iotdm.JobCanceled
	if force {
		job.ForceCanceled = true
	}
	if reasonCode != "" {
		job.ReasonCode = reasonCode
	}
	if comment != "" {
		job.Comment = comment
	}
	job.LastUpdatedAt = jt.ts()
	if job.CompletedAt == nil {
		at := jt.ts()
		job.CompletedAt = &at
	}
	jt.putJob(job)
	jt.jobEvent(job, "canceled")
	if jt.eff.sweep == nil {
		jt.eff.sweep = map[string]bool{}
	}
	jt.eff.sweep[job.JobID] = jt.eff.sweep[job.JobID] || force
}

// finish evaluates the abort criteria and completion of the jobs the
// transaction changed, writes them, and renders the notifications of the
// things whose pending lists changed.
func (jt *jobTx) finish() error {
	for _, id := range sortedKeys(jt.dirty) {
		job := jt.jobs[id]
		if job.Status == iotdm.JobInProgress {
			if c, ok := abortFires(job); ok {
				jt.cancelJob(job, false, "", fmt.Sprintf("Job aborted: %s failures reached %v%% of at least %d executed things",
					c.FailureType, c.ThresholdPercentage, c.MinNumberOfExecutedThings))
			}
		}
		if job.Status == iotdm.JobInProgress && (job.TargetSelection == iotdm.TargetSnapshot || job.RolloutStopped) &&
			job.RolloutPending == 0 && job.Counts[iotdm.ExecutionQueued]+job.Counts[iotdm.ExecutionInProgress] == 0 {
			job.Status = iotdm.JobCompleted
			at := jt.ts()
			job.CompletedAt, job.LastUpdatedAt = &at, at
			jt.jobEvent(job, "completed")
		}
		for k, n := range job.Counts {
			if n == 0 {
				delete(job.Counts, k)
			}
		}
		job.Version++
		if err := put(jt.ctx, jt.tx, iotdm.KindJob, id, job); err != nil {
			return err
		}
	}
	for _, thing := range jt.order {
		after, err := pendingOf(jt.ctx, jt.tx, thing)
		if err != nil {
			return err
		}
		before := jt.before[thing]
		if before.signature() != after.signature() {
			jt.eff.msgs = append(jt.eff.msgs, jobMessage{topic: jobsTopic(thing) + "/notify", payload: encodeShadowMessage(jt.notifyPayload(after))})
		}
		if nextKey(before.next()) != nextKey(after.next()) {
			msg, err := jt.notifyNextPayload(after.next())
			if err != nil {
				return err
			}
			jt.eff.msgs = append(jt.eff.msgs, jobMessage{topic: jobsTopic(thing) + "/notify-next", payload: encodeShadowMessage(msg)})
		}
	}
	return nil
}

// abortFires reports the first abort criterion the job's counts meet. A
// criterion is evaluated once at least minNumberOfExecutedThings things
// executed the job (their execution reached SUCCEEDED, FAILED, REJECTED or
// TIMED_OUT); it fires when the failures of its type are at least
// thresholdPercentage of them.
func abortFires(job *iotdm.JobRecord) (iotdm.AbortCriteria, bool) {
	if job.AbortConfig == nil {
		return iotdm.AbortCriteria{}, false
	}
	c := job.Counts
	executed := c[iotdm.ExecutionSucceeded] + c[iotdm.ExecutionFailed] + c[iotdm.ExecutionRejected] + c[iotdm.ExecutionTimedOut]
	for _, cr := range job.AbortConfig.CriteriaList {
		if executed == 0 || executed < cr.MinNumberOfExecutedThings {
			continue
		}
		failures := c[cr.FailureType]
		if cr.FailureType == "ALL" {
			failures = c[iotdm.ExecutionFailed] + c[iotdm.ExecutionRejected] + c[iotdm.ExecutionTimedOut]
		}
		if float64(failures)*100 >= cr.ThresholdPercentage*float64(executed) && failures > 0 {
			return cr, true
		}
	}
	return iotdm.AbortCriteria{}, false
}

// jobsTopic is the topic prefix of a thing's jobs.
func jobsTopic(thing string) string { return "$aws/things/" + thing + "/jobs" }

// notifyPayload is the JobExecutionsChanged message: the pending
// executions by status; an empty list is {"jobs":{}}.
func (jt *jobTx) notifyPayload(p pendingList) any {
	jobs := map[string][]iotdm.JobExecutionSummaryData{}
	for _, e := range p {
		jobs[e.rec.Status] = append(jobs[e.rec.Status], summaryData(e.rec))
	}
	return struct {
		Jobs      map[string][]iotdm.JobExecutionSummaryData `json:"jobs"`
		Timestamp int64                                      `json:"timestamp"`
	}{jobs, jt.now.Unix()}
}

// notifyNextPayload is the NextJobExecutionChanged message: the next
// pending execution with its document, or only the timestamp when none is
// left.
func (jt *jobTx) notifyNextPayload(next *iotdm.JobExecutionRecord) (any, error) {
	type msg struct {
		Execution *iotdm.JobExecutionData `json:"execution,omitempty"`
		Timestamp int64                   `json:"timestamp"`
	}
	if next == nil {
		return msg{Timestamp: jt.now.Unix()}, nil
	}
	job, err := jt.job(next.JobID)
	if err != nil && !iotdm.IsCode(err, iotdm.ErrResourceNotFound) {
		return nil, err
	}
	return msg{Execution: executionData(job, next, &next.JobExecutionAttempt, jt.now, true), Timestamp: jt.now.Unix()}, nil
}

func summaryData(r *iotdm.JobExecutionRecord) iotdm.JobExecutionSummaryData {
	s := iotdm.JobExecutionSummaryData{
		JobID: r.JobID, QueuedAt: r.QueuedAt.Unix(), LastUpdatedAt: r.LastUpdatedAt.Unix(),
		VersionNumber: r.VersionNumber, ExecutionNumber: r.ExecutionNumber,
	}
	if r.StartedAt != nil {
		v := r.StartedAt.Unix()
		s.StartedAt = &v
	}
	return s
}

// executionData renders an attempt for the data plane.
func executionData(job *iotdm.JobRecord, r *iotdm.JobExecutionRecord, a *iotdm.JobExecutionAttempt, now time.Time, withDoc bool) *iotdm.JobExecutionData {
	d := &iotdm.JobExecutionData{
		JobID: r.JobID, ThingName: r.ThingName, Status: a.Status, StatusDetails: a.StatusDetails,
		QueuedAt: a.QueuedAt.Unix(), LastUpdatedAt: a.LastUpdatedAt.Unix(),
		VersionNumber: a.VersionNumber, ExecutionNumber: a.ExecutionNumber,
		ApproximateSecondsBeforeTimedOut: secondsBeforeTimeout(a, now),
	}
	if a.StartedAt != nil {
		v := a.StartedAt.Unix()
		d.StartedAt = &v
	}
	if withDoc && job != nil {
		d.JobDocument = job.DeviceDocument()
	}
	return d
}

// secondsBeforeTimeout is approximateSecondsBeforeTimedOut of an
// IN_PROGRESS attempt with a timer.
func secondsBeforeTimeout(a *iotdm.JobExecutionAttempt, now time.Time) *int64 {
	if a.Status != iotdm.ExecutionInProgress {
		return nil
	}
	d, ok := a.Deadline()
	if !ok {
		return nil
	}
	s := int64(d.Sub(now).Seconds())
	if s < 0 {
		s = 0
	}
	return &s
}

// sortedKeys returns a set's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
