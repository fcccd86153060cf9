package control_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/iotdm/iotdm"
)

func TestJobInProgressTimeout(t *testing.T) {
	e := newJobsEnv(t)
	e.things("a", "b")
	e.createJob(&iotdm.CreateJobInput{JobID: "j", Targets: thingARNs("a", "b"),
		TimeoutConfig: &iotdm.TimeoutConfig{InProgressTimeoutInMinutes: ptr(int64(10))}})
	e.mustUpdate("j", "a", "IN_PROGRESS")
	e.tick(9 * time.Minute)
	e.wantExecStatus("j", "a", iotdm.ExecutionInProgress)
	if s := e.execution("j", "a").ApproximateSecondsBeforeTimedOut; s == nil || *s != 60 {
		t.Errorf("approximateSecondsBeforeTimedOut = %v, want 60", s)
	}
	// A QUEUED execution has no timer: the timeout starts with IN_PROGRESS.
	e.tick(time.Minute)
	e.wantExecStatus("j", "a", iotdm.ExecutionTimedOut)
	e.wantExecStatus("j", "b", iotdm.ExecutionQueued)
	e.wantCounts("j", iotdm.JobProcessDetails{NumberOfTimedOutThings: 1, NumberOfQueuedThings: 1})
	_, err := e.update("j", "a", "SUCCEEDED")
	wantJobCode(t, "UpdateJobExecution(timed out)", err, iotdm.ErrInvalidStateTransition)
}

func TestJobStepTimeout(t *testing.T) {
	e := newJobsEnv(t)
	e.things("a")
	e.createJob(&iotdm.CreateJobInput{JobID: "j", Targets: thingARNs("a"),
		TimeoutConfig: &iotdm.TimeoutConfig{InProgressTimeoutInMinutes: ptr(int64(60))}})
	step := func(m int64) error {
		_, err := e.data.UpdateJobExecution(e.ctx, &iotdm.UpdateJobExecutionInput{JobID: "j", ThingName: "a", Status: "IN_PROGRESS", StepTimeoutInMinutes: &m})
		return err
	}
	if _, err := e.data.StartNextPendingJobExecution(e.ctx, &iotdm.StartNextPendingJobExecutionInput{ThingName: "a", StepTimeoutInMinutes: ptr(int64(5))}); err != nil {
		t.Fatal(err)
	}
	e.clk.advance(4 * time.Minute)
	if err := step(5); err != nil { // reset: 5 more minutes
		t.Fatal(err)
	}
	e.clk.advance(4 * time.Minute)
	if err := step(-1); err != nil { // cancel the step timer; the 60 minutes remain
		t.Fatal(err)
	}
	e.tick(30 * time.Minute)
	e.wantExecStatus("j", "a", iotdm.ExecutionInProgress)
	if err := step(2); err != nil {
		t.Fatal(err)
	}
	// Without a Tick, the device's next request sees the timeout.
	e.clk.advance(2 * time.Minute)
	_, err := e.update("j", "a", "SUCCEEDED")
	wantJobCode(t, "UpdateJobExecution after the step timer", err, iotdm.ErrInvalidStateTransition)
	e.wantExecStatus("j", "a", iotdm.ExecutionTimedOut)
	e.wantJobStatus("j", iotdm.JobCompleted)
}

func TestJobRetry(t *testing.T) {
	e := newJobsEnv(t)
	e.things("a")
	e.createJob(&iotdm.CreateJobInput{JobID: "j", Targets: thingARNs("a"),
		TimeoutConfig: &iotdm.TimeoutConfig{InProgressTimeoutInMinutes: ptr(int64(5))},
		JobExecutionsRetryConfig: &iotdm.JobExecutionsRetryConfig{CriteriaList: []iotdm.RetryCriteria{
			{FailureType: "FAILED", NumberOfRetries: 1}, {FailureType: "TIMED_OUT", NumberOfRetries: 1}}}})
	out, err := e.update("j", "a", "FAILED")
	if err != nil {
		t.Fatal(err)
	}
	if out.ExecutionState.Status != iotdm.ExecutionFailed {
		t.Errorf("UpdateJobExecution(FAILED).executionState = %+v, want the failed attempt", out.ExecutionState)
	}
	ex := e.execution("j", "a")
	if ex.Status != iotdm.ExecutionQueued || ex.ExecutionNumber != 2 || ex.VersionNumber != 1 {
		t.Errorf("after a retried failure: %+v, want execution 2 QUEUED at version 1", ex)
	}
	first, err := e.jobs.DescribeJobExecution(e.ctx, &iotdm.DescribeJobExecutionInput{JobID: "j", ThingName: "a", ExecutionNumber: ptr(int64(1))})
	if err != nil || first.Execution.Status != iotdm.ExecutionFailed {
		t.Errorf("DescribeJobExecution(j, a, 1) = %+v, %v; want FAILED", first, err)
	}
	list, _ := e.jobs.ListJobExecutionsForJob(e.ctx, &iotdm.ListJobExecutionsForJobInput{JobID: "j"})
	if s := list.ExecutionSummaries[0].JobExecutionSummary; s.RetryAttempt != 1 || s.ExecutionNumber != 2 {
		t.Errorf("summary = %+v, want retryAttempt 1 of execution 2", s)
	}
	// The time-out retry is a budget of its own.
	e.mustUpdate("j", "a", "IN_PROGRESS")
	e.tick(5 * time.Minute)
	if ex := e.execution("j", "a"); ex.Status != iotdm.ExecutionQueued || ex.ExecutionNumber != 3 {
		t.Errorf("after a retried time-out: %s %d, want execution 3 QUEUED", ex.Status, ex.ExecutionNumber)
	}
	// Both budgets spent: the failure is final.
	e.mustUpdate("j", "a", "FAILED")
	if ex := e.execution("j", "a"); ex.Status != iotdm.ExecutionFailed || ex.ExecutionNumber != 3 {
		t.Errorf("after the retries: %s %d, want execution 3 FAILED", ex.Status, ex.ExecutionNumber)
	}
	e.wantJobStatus("j", iotdm.JobCompleted)
	e.wantCounts("j", iotdm.JobProcessDetails{NumberOfFailedThings: 1})
	// Old attempts can be deleted one by one.
	if _, err := e.jobs.DeleteJobExecution(e.ctx, &iotdm.DeleteJobExecutionInput{JobID: "j", ThingName: "a", ExecutionNumber: 1}); err != nil {
		t.Fatal(err)
	}
	_, err = e.jobs.DescribeJobExecution(e.ctx, &iotdm.DescribeJobExecutionInput{JobID: "j", ThingName: "a", ExecutionNumber: ptr(int64(1))})
	wantJobCode(t, "DescribeJobExecution(deleted attempt)", err, iotdm.ErrResourceNotFound)
}

func TestJobRetryAll(t *testing.T) {
	e := newJobsEnv(t)
	e.things("a")
	e.createJob(&iotdm.CreateJobInput{JobID: "j", Targets: thingARNs("a"),
		JobExecutionsRetryConfig: &iotdm.JobExecutionsRetryConfig{CriteriaList: []iotdm.RetryCriteria{{FailureType: "ALL", NumberOfRetries: 2}}}})
	for i := range 3 {
		e.mustUpdate("j", "a", "FAILED")
		ex := e.execution("j", "a")
		want := iotdm.ExecutionQueued
		if i == 2 {
			want = iotdm.ExecutionFailed
		}
		if ex.Status != want || ex.ExecutionNumber != int64(min(i+2, 3)) {
			t.Errorf("after failure %d: %s %d, want %s", i+1, ex.Status, ex.ExecutionNumber, want)
		}
	}
	// REJECTED is not retried.
	e.things("b")
	e.createJob(&iotdm.CreateJobInput{JobID: "k", Targets: thingARNs("b"),
		JobExecutionsRetryConfig: &iotdm.JobExecutionsRetryConfig{CriteriaList: []iotdm.RetryCriteria{{FailureType: "ALL", NumberOfRetries: 2}}}})
	e.mustUpdate("k", "b", "REJECTED")
	e.wantExecStatus("k", "b", iotdm.ExecutionRejected)
}

func TestJobAbort(t *testing.T) {
	e := newJobsEnv(t)
	var names []string
	for i := range 10 {
		names = append(names, fmt.Sprintf("d%02d", i))
	}
	e.things(names...)
	e.createJob(&iotdm.CreateJobInput{JobID: "j", Targets: thingARNs(names...),
		AbortConfig: &iotdm.AbortConfig{CriteriaList: []iotdm.AbortCriteria{
			{FailureType: "FAILED", Action: "CANCEL", ThresholdPercentage: 60, MinNumberOfExecutedThings: 4}}}})
	for _, step := range []struct{ thing, status, job string }{
		{"d00", "FAILED", iotdm.JobInProgress},
		{"d01", "FAILED", iotdm.JobInProgress}, // 2 of 2 failed, but fewer than 4 executed
		{"d02", "IN_PROGRESS", iotdm.JobInProgress},
		{"d03", "SUCCEEDED", iotdm.JobInProgress}, // 2 of 3
		{"d04", "SUCCEEDED", iotdm.JobInProgress}, // 2 of 4: 50%
		{"d05", "FAILED", iotdm.JobInProgress},    // 3 of 5: 60%, the threshold: abort
	} {
		e.mustUpdate("j", step.thing, step.status)
		if step.thing != "d05" {
			e.wantJobStatus("j", step.job)
		}
	}
	j := e.describe("j")
	if j.Status != iotdm.JobCanceled || j.Comment == "" || *j.ForceCanceled {
		t.Errorf("after the abort criteria: status %s comment %q forced %v, want CANCELED with a comment, not forced", j.Status, j.Comment, *j.ForceCanceled)
	}
	e.wantCounts("j", iotdm.JobProcessDetails{NumberOfFailedThings: 3, NumberOfSucceededThings: 2, NumberOfInProgressThings: 1, NumberOfCanceledThings: 4})
	// The in-progress execution may finish; the canceled job does not complete.
	e.mustUpdate("j", "d02", "SUCCEEDED")
	e.wantJobStatus("j", iotdm.JobCanceled)
	_, err := e.update("j", "d09", "IN_PROGRESS")
	wantJobCode(t, "UpdateJobExecution(canceled by the abort)", err, iotdm.ErrInvalidStateTransition)
}

func TestJobAbortAllFailureTypes(t *testing.T) {
	e := newJobsEnv(t)
	e.things("a", "b", "c")
	e.createJob(&iotdm.CreateJobInput{JobID: "j", Targets: thingARNs("a", "b", "c"),
		TimeoutConfig: &iotdm.TimeoutConfig{InProgressTimeoutInMinutes: ptr(int64(1))},
		AbortConfig: &iotdm.AbortConfig{CriteriaList: []iotdm.AbortCriteria{
			{FailureType: "ALL", Action: "CANCEL", ThresholdPercentage: 100, MinNumberOfExecutedThings: 2}}}})
	e.mustUpdate("j", "a", "REJECTED")
	e.mustUpdate("j", "b", "IN_PROGRESS")
	e.tick(time.Minute) // b times out: 2 of 2 failed
	e.wantJobStatus("j", iotdm.JobCanceled)
	e.wantCounts("j", iotdm.JobProcessDetails{NumberOfRejectedThings: 1, NumberOfTimedOutThings: 1, NumberOfCanceledThings: 1})
}

// created returns the number of executions a job has created so far.
func (e *jobsEnv) created(id string) int {
	e.t.Helper()
	c := e.counts(id)
	return c.NumberOfQueuedThings + c.NumberOfInProgressThings + c.NumberOfSucceededThings + c.NumberOfFailedThings +
		c.NumberOfRejectedThings + c.NumberOfTimedOutThings + c.NumberOfCanceledThings + c.NumberOfRemovedThings
}

func TestJobRolloutMaximumPerMinute(t *testing.T) {
	e := newJobsEnv(t) // batches of 3: a window spans batches
	var names []string
	for i := range 11 {
		names = append(names, fmt.Sprintf("d%02d", i))
	}
	e.things(names...)
	e.group("fleet", names...)
	e.createJob(&iotdm.CreateJobInput{JobID: "j", Targets: []string{jobsARN + "thinggroup/fleet"},
		JobExecutionsRolloutConfig: &iotdm.JobExecutionsRolloutConfig{MaximumPerMinute: ptr(4)}})
	if got := e.created("j"); got != 4 {
		t.Errorf("executions at creation = %d, want 4", got)
	}
	if pt := e.describe("j").JobProcessDetails.ProcessingTargets; len(pt) != 1 {
		t.Errorf("processingTargets during the rollout = %v, want the group", pt)
	}
	for _, step := range []struct {
		after time.Duration
		want  int
	}{{30 * time.Second, 4}, {29 * time.Second, 4}, {time.Second, 8}, {59 * time.Second, 8}, {time.Minute, 11}, {time.Minute, 11}} {
		e.tick(step.after)
		if got := e.created("j"); got != step.want {
			t.Errorf("executions at %v = %d, want %d", e.clk.Now().Sub(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)), got, step.want)
		}
	}
	if pt := e.describe("j").JobProcessDetails.ProcessingTargets; pt != nil {
		t.Errorf("processingTargets after the rollout = %v, want none", pt)
	}
	for _, n := range names {
		e.mustUpdate("j", n, "SUCCEEDED")
	}
	e.wantJobStatus("j", iotdm.JobCompleted)
}

func TestJobRolloutExponential(t *testing.T) {
	for _, tt := range []struct {
		name     string
		criteria iotdm.RateIncreaseCriteria
		succeed  bool // devices succeed at once
		want     []int
	}{
		// Rate 2, then 4 once 2 were notified, then 8 ...
		{"notified things", iotdm.RateIncreaseCriteria{NumberOfNotifiedThings: ptr(2)}, false, []int{2, 6, 14, 20}},
		// Nobody succeeds: the rate stays at 2.
		{"succeeded things, none", iotdm.RateIncreaseCriteria{NumberOfSucceededThings: ptr(2)}, false, []int{2, 4, 6, 8}},
		// Everyone succeeds at once: the rate doubles every minute.
		{"succeeded things", iotdm.RateIncreaseCriteria{NumberOfSucceededThings: ptr(2)}, true, []int{2, 6, 14, 20}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newJobsEnv(t)
			var names []string
			for i := range 20 {
				names = append(names, fmt.Sprintf("d%02d", i))
			}
			e.things(names...)
			e.group("fleet", names...)
			e.createJob(&iotdm.CreateJobInput{JobID: "x", Targets: []string{jobsARN + "thinggroup/fleet"},
				JobExecutionsRolloutConfig: &iotdm.JobExecutionsRolloutConfig{ExponentialRate: &iotdm.ExponentialRolloutRate{
					BaseRatePerMinute: 2, IncrementFactor: 2, RateIncreaseCriteria: tt.criteria}}})
			var got []int
			for i := range len(tt.want) {
				if i > 0 {
					e.tick(time.Minute)
				}
				if tt.succeed {
					out, _ := e.jobs.ListJobExecutionsForJob(e.ctx, &iotdm.ListJobExecutionsForJobInput{JobID: "x", Status: iotdm.ExecutionQueued, MaxResults: 100})
					for _, s := range out.ExecutionSummaries {
						e.mustUpdate("x", s.ThingARN[len(jobsARN+"thing/"):], "SUCCEEDED")
					}
				}
				got = append(got, e.created("x"))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("executions minute by minute = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestJobScheduling(t *testing.T) {
	e := newJobsEnv(t)
	e.things("a", "b")
	e.createJob(&iotdm.CreateJobInput{JobID: "later", Targets: thingARNs("a", "b"),
		SchedulingConfig: &iotdm.SchedulingConfig{StartTime: "2026-03-01T12:30", EndTime: "2026-03-01T13:30"}})
	e.wantJobStatus("later", iotdm.JobScheduled)
	e.wantCounts("later", iotdm.JobProcessDetails{})
	e.tick(29 * time.Minute)
	e.wantJobStatus("later", iotdm.JobScheduled)
	e.tick(time.Minute)
	e.wantJobStatus("later", iotdm.JobInProgress)
	e.wantCounts("later", iotdm.JobProcessDetails{NumberOfQueuedThings: 2})
	e.mustUpdate("later", "a", "SUCCEEDED")
	e.mustUpdate("later", "b", "IN_PROGRESS")
	// STOP_ROLLOUT (the default) at the end: the job completes once b is done.
	e.tick(time.Hour)
	e.wantJobStatus("later", iotdm.JobInProgress)
	e.mustUpdate("later", "b", "SUCCEEDED")
	e.wantJobStatus("later", iotdm.JobCompleted)

	e.createJob(&iotdm.CreateJobInput{JobID: "window", Targets: thingARNs("a", "b"),
		SchedulingConfig: &iotdm.SchedulingConfig{EndTime: "2026-03-01T14:00", EndBehavior: iotdm.JobEndCancel}})
	e.wantJobStatus("window", iotdm.JobInProgress)
	e.mustUpdate("window", "a", "IN_PROGRESS")
	e.tick(time.Hour)
	e.wantJobStatus("window", iotdm.JobCanceled)
	e.wantCounts("window", iotdm.JobProcessDetails{NumberOfInProgressThings: 1, NumberOfCanceledThings: 1})

	e.createJob(&iotdm.CreateJobInput{JobID: "forced", Targets: thingARNs("a"),
		SchedulingConfig: &iotdm.SchedulingConfig{EndTime: "2026-03-01T15:00", EndBehavior: iotdm.JobEndForceCancel}})
	e.mustUpdate("forced", "a", "IN_PROGRESS")
	e.tick(time.Hour)
	e.wantCounts("forced", iotdm.JobProcessDetails{NumberOfCanceledThings: 1})
}

// eventually polls cond until it holds or five seconds passed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// run starts the service's membership follower.
func (e *jobsEnv) run() {
	e.t.Helper()
	ctx, cancel := context.WithCancel(e.ctx)
	seq, err := e.db.LastSeq(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.jobs.Run(ctx, seq) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			e.t.Errorf("Run = %v, want context.Canceled", err)
		}
	})
}

func (e *jobsEnv) status(job, thing string) string {
	out, err := e.jobs.DescribeJobExecution(e.ctx, &iotdm.DescribeJobExecutionInput{JobID: job, ThingName: thing})
	if err != nil {
		return ""
	}
	return out.Execution.Status
}

func TestContinuousJobFollowsStaticGroups(t *testing.T) {
	e := newJobsEnv(t)
	e.things("a", "b", "c")
	e.group("g", "a")
	e.group("snap", "a")
	e.createJob(&iotdm.CreateJobInput{JobID: "cont", Targets: []string{jobsARN + "thinggroup/g"}, TargetSelection: iotdm.TargetContinuous})
	e.createJob(&iotdm.CreateJobInput{JobID: "snap", Targets: []string{jobsARN + "thinggroup/snap"}})
	e.run()
	if _, err := e.reg.AddThingToThingGroup(e.ctx, &iotdm.AddThingToThingGroupInput{ThingGroupName: "g", ThingName: "b"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b gets the continuous job", func() bool { return e.status("cont", "b") == iotdm.ExecutionQueued })
	// A thing leaving the group loses its pending execution.
	if _, err := e.reg.RemoveThingFromThingGroup(e.ctx, &iotdm.RemoveThingFromThingGroupInput{ThingGroupName: "g", ThingName: "a"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a's execution is removed", func() bool { return e.status("cont", "a") == iotdm.ExecutionRemoved })
	// ...and gets it again, as a new execution, when it comes back.
	if _, err := e.reg.AddThingToThingGroup(e.ctx, &iotdm.AddThingToThingGroupInput{ThingGroupName: "g", ThingName: "a"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a is queued again", func() bool { return e.status("cont", "a") == iotdm.ExecutionQueued })
	if n := e.execution("cont", "a").ExecutionNumber; n != 2 {
		t.Errorf("a's execution number after rejoining = %d, want 2", n)
	}
	// A snapshot job does not follow its group.
	if _, err := e.reg.AddThingToThingGroup(e.ctx, &iotdm.AddThingToThingGroupInput{ThingGroupName: "snap", ThingName: "c"}); err != nil {
		t.Fatal(err)
	}
	// A deleted thing's executions are REMOVED, in snapshot jobs too.
	if _, err := e.reg.DeleteThing(e.ctx, &iotdm.DeleteThingInput{ThingName: "a"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the deleted thing's executions are removed", func() bool {
		return e.status("snap", "a") == iotdm.ExecutionRemoved && e.status("cont", "a") == iotdm.ExecutionRemoved
	})
	if s := e.status("snap", "c"); s != "" {
		t.Errorf("a snapshot job reached a thing that joined later: %s", s)
	}
	e.wantJobStatus("snap", iotdm.JobCompleted)
	e.wantJobStatus("cont", iotdm.JobInProgress) // continuous jobs never complete
	e.wantCounts("cont", iotdm.JobProcessDetails{NumberOfQueuedThings: 1, NumberOfRemovedThings: 1})
}

func TestContinuousJobFollowsDynamicGroups(t *testing.T) {
	e := newJobsEnv(t)
	e.things("a", "b")
	if _, err := e.db.LastSeq(e.ctx); err != nil {
		t.Fatal(err)
	}
	err := e.db.Update(e.ctx, func(ctx context.Context, tx iotdm.Tx) error {
		return tx.Put(ctx, iotdm.KindThingGroup, "hot", []byte(`{"thingGroupName":"hot","thingGroupId":"hot-id","thingGroupArn":"`+jobsARN+`thinggroup/hot","version":1,"queryString":"attributes.temp > 30","thingGroupProperties":{},"thingGroupMetadata":{"creationDate":0}}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	e.dyn.set("hot", "a")
	e.createJob(&iotdm.CreateJobInput{JobID: "cool", Targets: []string{jobsARN + "thinggroup/hot"}, TargetSelection: iotdm.TargetContinuous})
	e.wantExecStatus("cool", "a", iotdm.ExecutionQueued)
	if id := e.describe("cool"); id.JobARN == "" {
		t.Fatal("no job")
	}
	e.run()
	e.dyn.set("hot", "a", "b")
	e.jobs.OnMembership("hot", "b", true)
	eventually(t, "b gets the job", func() bool { return e.status("cool", "b") == iotdm.ExecutionQueued })
	e.mustUpdate("cool", "b", "IN_PROGRESS")
	e.dyn.set("hot", "a")
	e.jobs.OnMembership("hot", "b", false)
	eventually(t, "b's in-progress execution is removed", func() bool { return e.status("cool", "b") == iotdm.ExecutionRemoved })
	list, err := e.jobs.ListJobs(e.ctx, &iotdm.ListJobsInput{ThingGroupID: "hot-id"})
	if err != nil || len(list.Jobs) != 1 || list.Jobs[0].ThingGroupID != "hot-id" {
		t.Errorf("ListJobs(thingGroupId hot-id) = %+v, %v", list, err)
	}
}

func TestJobRunReconcilesMissedMembers(t *testing.T) {
	e := newJobsEnv(t)
	e.things("a", "b")
	e.group("g", "a")
	e.createJob(&iotdm.CreateJobInput{JobID: "cont", Targets: []string{jobsARN + "thinggroup/g"}, TargetSelection: iotdm.TargetContinuous})
	// b joins while nobody follows the feed.
	if _, err := e.reg.AddThingToThingGroup(e.ctx, &iotdm.AddThingToThingGroupInput{ThingGroupName: "g", ThingName: "b"}); err != nil {
		t.Fatal(err)
	}
	e.run()
	eventually(t, "b gets the job at start", func() bool { return e.status("cont", "b") == iotdm.ExecutionQueued })
}
