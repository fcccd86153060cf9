package control_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/control"
	"github.com/iotdm/iotdm/internal/sqlite"
)

const (
	jobsRegion  = "us-east-1"
	jobsAccount = "123456789012"
	jobsARN     = "arn:aws:iot:us-east-1:123456789012:"
)

// jobsClock is the injected time of a jobs test.
type jobsClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *jobsClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *jobsClock) advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// jobsPublisher records what the jobs service publishes.
type jobsPublisher struct {
	mu   sync.Mutex
	msgs []published
}

func (p *jobsPublisher) Publish(_ context.Context, topic string, payload []byte, qos byte, retain bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, published{topic, string(payload), qos, retain})
	return nil
}

// take returns the messages published since the last take.
func (p *jobsPublisher) take() []published {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.msgs
	p.msgs = nil
	return m
}

// topics returns the topics of msgs, in order.
func topics(msgs []published) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Topic)
	}
	return out
}

// fakeDynamic is a DynamicMembership the test sets.
type fakeDynamic struct {
	mu      sync.Mutex
	members map[string][]string
}

func (f *fakeDynamic) set(group string, things ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.members == nil {
		f.members = map[string][]string{}
	}
	f.members[group] = things
}

func (f *fakeDynamic) DynamicGroupsOf(thing string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for g, things := range f.members {
		if slices.Contains(things, thing) {
			out = append(out, g)
		}
	}
	sort.Strings(out)
	return out
}

func (f *fakeDynamic) DynamicMembers(group string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.members[group])
}

func (f *fakeDynamic) DynamicGroupStatus(string, string) string { return iotdm.DynamicGroupActive }

type jobsEnv struct {
	t    *testing.T
	ctx  context.Context
	db   iotdm.Store
	reg  *control.Registry
	jobs *control.Jobs
	data control.JobsData
	clk  *jobsClock
	pub  *jobsPublisher
	dyn  *fakeDynamic
}

func newJobsEnv(t *testing.T) *jobsEnv {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "jobs.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := &jobsClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	dyn := &fakeDynamic{}
	e := &jobsEnv{t: t, ctx: t.Context(), db: db, clk: clk, pub: &jobsPublisher{}, dyn: dyn,
		reg:  control.NewRegistry(db, control.RegistryOptions{Region: jobsRegion, AccountID: jobsAccount, Dynamic: dyn, Now: clk.Now}),
		jobs: control.NewJobs(db, control.JobsOptions{Region: jobsRegion, AccountID: jobsAccount, Dynamic: dyn, Now: clk.Now, BatchSize: 3}),
	}
	e.data = e.jobs.Data()
	e.jobs.SetPublisher(e.pub)
	return e
}

func (e *jobsEnv) things(names ...string) {
	e.t.Helper()
	for _, n := range names {
		if _, err := e.reg.CreateThing(e.ctx, &iotdm.CreateThingInput{ThingName: n}); err != nil {
			e.t.Fatalf("CreateThing(%s): %v", n, err)
		}
	}
}

func (e *jobsEnv) group(name string, things ...string) {
	e.t.Helper()
	if _, err := e.reg.CreateThingGroup(e.ctx, &iotdm.CreateThingGroupInput{ThingGroupName: name}); err != nil {
		e.t.Fatalf("CreateThingGroup(%s): %v", name, err)
	}
	for _, th := range things {
		if _, err := e.reg.AddThingToThingGroup(e.ctx, &iotdm.AddThingToThingGroupInput{ThingGroupName: name, ThingName: th}); err != nil {
			e.t.Fatalf("AddThingToThingGroup(%s, %s): %v", name, th, err)
		}
	}
}

func thingARNs(names ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, jobsARN+"thing/"+n)
	}
	return out
}

func (e *jobsEnv) createJob(in *iotdm.CreateJobInput) {
	e.t.Helper()
	if in.Document == "" && in.JobTemplateARN == "" {
		in.Document = `{"operation":"update","version":"1.2.0"}`
	}
	if _, err := e.jobs.CreateJob(e.ctx, in); err != nil {
		e.t.Fatalf("CreateJob(%s): %v", in.JobID, err)
	}
}

func (e *jobsEnv) describe(id string) *iotdm.Job {
	e.t.Helper()
	out, err := e.jobs.DescribeJob(e.ctx, &iotdm.DescribeJobInput{JobID: id})
	if err != nil {
		e.t.Fatalf("DescribeJob(%s): %v", id, err)
	}
	return out.Job
}

// counts is a job's process details without processingTargets.
func (e *jobsEnv) counts(id string) iotdm.JobProcessDetails {
	e.t.Helper()
	d := *e.describe(id).JobProcessDetails
	d.ProcessingTargets = nil
	return d
}

func (e *jobsEnv) wantCounts(id string, want iotdm.JobProcessDetails) {
	e.t.Helper()
	if diff := cmp.Diff(want, e.counts(id)); diff != "" {
		e.t.Errorf("job %s counts (-want +got):\n%s", id, diff)
	}
}

func (e *jobsEnv) wantJobStatus(id, want string) {
	e.t.Helper()
	if got := e.describe(id).Status; got != want {
		e.t.Errorf("DescribeJob(%s).status = %s, want %s", id, got, want)
	}
}

func (e *jobsEnv) execution(job, thing string) *iotdm.JobExecution {
	e.t.Helper()
	out, err := e.jobs.DescribeJobExecution(e.ctx, &iotdm.DescribeJobExecutionInput{JobID: job, ThingName: thing})
	if err != nil {
		e.t.Fatalf("DescribeJobExecution(%s, %s): %v", job, thing, err)
	}
	return out.Execution
}

func (e *jobsEnv) wantExecStatus(job, thing, want string) {
	e.t.Helper()
	if got := e.execution(job, thing).Status; got != want {
		e.t.Errorf("DescribeJobExecution(%s, %s).status = %s, want %s", job, thing, got, want)
	}
}

func (e *jobsEnv) update(job, thing, status string) (*iotdm.UpdateJobExecutionOutput, error) {
	return e.data.UpdateJobExecution(e.ctx, &iotdm.UpdateJobExecutionInput{JobID: job, ThingName: thing, Status: status, IncludeJobExecutionState: true})
}

func (e *jobsEnv) mustUpdate(job, thing, status string) {
	e.t.Helper()
	if _, err := e.update(job, thing, status); err != nil {
		e.t.Fatalf("UpdateJobExecution(%s, %s, %s): %v", job, thing, status, err)
	}
}

func (e *jobsEnv) tick(d time.Duration) {
	e.t.Helper()
	now := e.clk.advance(d)
	if err := e.jobs.Tick(e.ctx, now); err != nil {
		e.t.Fatalf("Tick(%v): %v", now, err)
	}
}

func wantJobCode(t *testing.T, what string, err error, code iotdm.ErrorCode) {
	t.Helper()
	if got := iotdm.CodeOf(err); got != code {
		t.Errorf("%s = %v, want %s", what, err, code)
	}
}

func TestJobSnapshotLifecycle(t *testing.T) {
	e := newJobsEnv(t)
	e.things("t1", "t2", "t3", "t4")
	e.group("building-a", "t3", "t4")
	e.createJob(&iotdm.CreateJobInput{JobID: "fw-1", Targets: append(thingARNs("t1", "t2"), jobsARN+"thinggroup/building-a"),
		Description: "firmware 1.2.0"})

	j := e.describe("fw-1")
	if j.Status != iotdm.JobInProgress || j.TargetSelection != iotdm.TargetSnapshot || j.JobARN != jobsARN+"job/fw-1" {
		t.Errorf("DescribeJob = status %s selection %s arn %s", j.Status, j.TargetSelection, j.JobARN)
	}
	e.wantCounts("fw-1", iotdm.JobProcessDetails{NumberOfQueuedThings: 4})
	ex := e.execution("fw-1", "t3")
	if ex.Status != iotdm.ExecutionQueued || ex.ExecutionNumber != 1 || ex.VersionNumber != 1 || ex.ThingARN != jobsARN+"thing/t3" {
		t.Errorf("DescribeJobExecution(fw-1, t3) = %+v", ex)
	}

	// t1 starts and succeeds; t2 fails at once from QUEUED; t3 rejects.
	start, err := e.data.StartNextPendingJobExecution(e.ctx, &iotdm.StartNextPendingJobExecutionInput{ThingName: "t1",
		StatusDetails: map[string]string{"step": "download"}})
	if err != nil {
		t.Fatal(err)
	}
	if x := start.Execution; x == nil || x.JobID != "fw-1" || x.Status != iotdm.ExecutionInProgress || x.VersionNumber != 2 ||
		x.JobDocument != `{"operation":"update","version":"1.2.0"}` || x.StatusDetails["step"] != "download" {
		t.Errorf("StartNextPendingJobExecution(t1) = %+v", x)
	}
	e.wantCounts("fw-1", iotdm.JobProcessDetails{NumberOfQueuedThings: 3, NumberOfInProgressThings: 1})
	e.mustUpdate("fw-1", "t1", iotdm.ExecutionSucceeded)
	e.mustUpdate("fw-1", "t2", iotdm.ExecutionFailed)
	e.mustUpdate("fw-1", "t3", iotdm.ExecutionRejected)
	e.wantCounts("fw-1", iotdm.JobProcessDetails{NumberOfQueuedThings: 1, NumberOfSucceededThings: 1, NumberOfFailedThings: 1, NumberOfRejectedThings: 1})
	e.wantJobStatus("fw-1", iotdm.JobInProgress)

	e.mustUpdate("fw-1", "t4", iotdm.ExecutionInProgress)
	e.mustUpdate("fw-1", "t4", iotdm.ExecutionSucceeded)
	j = e.describe("fw-1")
	if j.Status != iotdm.JobCompleted || j.CompletedAt == nil {
		t.Errorf("DescribeJob after the last execution = status %s completedAt %v, want COMPLETED with a time", j.Status, j.CompletedAt)
	}
	e.wantCounts("fw-1", iotdm.JobProcessDetails{NumberOfSucceededThings: 2, NumberOfFailedThings: 1, NumberOfRejectedThings: 1})
	if ex := e.execution("fw-1", "t4"); ex.VersionNumber != 3 || ex.StartedAt == nil {
		t.Errorf("t4's execution = version %d startedAt %v, want version 3, started", ex.VersionNumber, ex.StartedAt)
	}
}

func TestJobEmptySnapshotCompletes(t *testing.T) {
	e := newJobsEnv(t)
	e.group("empty")
	e.createJob(&iotdm.CreateJobInput{JobID: "nothing", Targets: []string{jobsARN + "thinggroup/empty"}})
	e.wantJobStatus("nothing", iotdm.JobCompleted)
}

func TestJobStaticGroupIncludesChildGroups(t *testing.T) {
	e := newJobsEnv(t)
	e.things("a", "b", "c")
	e.group("parent", "a")
	if _, err := e.reg.CreateThingGroup(e.ctx, &iotdm.CreateThingGroupInput{ThingGroupName: "child", ParentGroupName: "parent"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.reg.AddThingToThingGroup(e.ctx, &iotdm.AddThingToThingGroupInput{ThingGroupName: "child", ThingName: "b"}); err != nil {
		t.Fatal(err)
	}
	e.createJob(&iotdm.CreateJobInput{JobID: "j", Targets: []string{jobsARN + "thinggroup/parent"}})
	out, err := e.jobs.ListJobExecutionsForJob(e.ctx, &iotdm.ListJobExecutionsForJobInput{JobID: "j"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range out.ExecutionSummaries {
		got = append(got, s.ThingARN)
	}
	if diff := cmp.Diff(thingARNs("a", "b"), got); diff != "" {
		t.Errorf("ListJobExecutionsForJob things (-want +got):\n%s", diff)
	}
}

func TestCreateJobRefusals(t *testing.T) {
	e := newJobsEnv(t)
	e.things("t1")
	e.group("g")
	doc := `{"a":1}`
	tests := []struct {
		name string
		in   iotdm.CreateJobInput
		code iotdm.ErrorCode
	}{
		{"bad job id", iotdm.CreateJobInput{JobID: "no spaces", Targets: thingARNs("t1"), Document: doc}, iotdm.ErrInvalidRequest},
		{"no targets", iotdm.CreateJobInput{JobID: "j"}, iotdm.ErrInvalidRequest},
		{"foreign target", iotdm.CreateJobInput{JobID: "j", Targets: []string{"arn:aws:iot:eu-west-1:999999999999:thing/t1"}, Document: doc}, iotdm.ErrInvalidRequest},
		{"missing thing", iotdm.CreateJobInput{JobID: "j", Targets: thingARNs("nope"), Document: doc}, iotdm.ErrResourceNotFound},
		{"missing group", iotdm.CreateJobInput{JobID: "j", Targets: []string{jobsARN + "thinggroup/nope"}, Document: doc}, iotdm.ErrResourceNotFound},
		{"no document", iotdm.CreateJobInput{JobID: "j", Targets: thingARNs("t1")}, iotdm.ErrInvalidRequest},
		{"document not JSON", iotdm.CreateJobInput{JobID: "j", Targets: thingARNs("t1"), Document: "{"}, iotdm.ErrInvalidRequest},
		{"document source", iotdm.CreateJobInput{JobID: "j", Targets: thingARNs("t1"), DocumentSource: "https://s3.amazonaws.com/b/k"}, iotdm.ErrInvalidRequest},
		{"missing parameter", iotdm.CreateJobInput{JobID: "j", Targets: thingARNs("t1"), Document: `{"url":"${aws:iot:parameter:url}"}`}, iotdm.ErrInvalidRequest},
		{"missing template", iotdm.CreateJobInput{JobID: "j", Targets: thingARNs("t1"), JobTemplateARN: jobsARN + "jobtemplate/nope"}, iotdm.ErrResourceNotFound},
		{"bad selection", iotdm.CreateJobInput{JobID: "j", Targets: thingARNs("t1"), Document: doc, TargetSelection: "SOMETIMES"}, iotdm.ErrInvalidRequest},
		{"rate too high", iotdm.CreateJobInput{JobID: "j", Targets: thingARNs("t1"), Document: doc,
			JobExecutionsRolloutConfig: &iotdm.JobExecutionsRolloutConfig{MaximumPerMinute: ptr(1001)}}, iotdm.ErrInvalidRequest},
		{"two rate criteria", iotdm.CreateJobInput{JobID: "j", Targets: thingARNs("t1"), Document: doc,
			JobExecutionsRolloutConfig: &iotdm.JobExecutionsRolloutConfig{ExponentialRate: &iotdm.ExponentialRolloutRate{
				BaseRatePerMinute: 1, IncrementFactor: 2, RateIncreaseCriteria: iotdm.RateIncreaseCriteria{NumberOfNotifiedThings: ptr(1), NumberOfSucceededThings: ptr(1)}}}}, iotdm.ErrInvalidRequest},
		{"abort action", iotdm.CreateJobInput{JobID: "j", Targets: thingARNs("t1"), Document: doc,
			AbortConfig: &iotdm.AbortConfig{CriteriaList: []iotdm.AbortCriteria{{FailureType: "FAILED", Action: "STOP", ThresholdPercentage: 10, MinNumberOfExecutedThings: 1}}}}, iotdm.ErrInvalidRequest},
		{"timeout too long", iotdm.CreateJobInput{JobID: "j", Targets: thingARNs("t1"), Document: doc,
			TimeoutConfig: &iotdm.TimeoutConfig{InProgressTimeoutInMinutes: ptr(int64(10081))}}, iotdm.ErrInvalidRequest},
		{"too many retries", iotdm.CreateJobInput{JobID: "j", Targets: thingARNs("t1"), Document: doc,
			JobExecutionsRetryConfig: &iotdm.JobExecutionsRetryConfig{CriteriaList: []iotdm.RetryCriteria{{FailureType: "FAILED", NumberOfRetries: 11}}}}, iotdm.ErrInvalidRequest},
		{"start in the past", iotdm.CreateJobInput{JobID: "j", Targets: thingARNs("t1"), Document: doc,
			SchedulingConfig: &iotdm.SchedulingConfig{StartTime: "2026-02-01T00:00"}}, iotdm.ErrInvalidRequest},
		{"maintenance windows", iotdm.CreateJobInput{JobID: "j", Targets: thingARNs("t1"), Document: doc,
			SchedulingConfig: &iotdm.SchedulingConfig{MaintenanceWindows: []iotdm.MaintenanceWindow{{StartTime: "cron(0 0 * * ? *)", DurationInMinutes: 30}}}}, iotdm.ErrInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.jobs.CreateJob(e.ctx, &tt.in)
			wantJobCode(t, "CreateJob", err, tt.code)
		})
	}
	e.createJob(&iotdm.CreateJobInput{JobID: "dup", Targets: thingARNs("t1")})
	_, err := e.jobs.CreateJob(e.ctx, &iotdm.CreateJobInput{JobID: "dup", Targets: thingARNs("t1"), Document: doc})
	wantJobCode(t, "CreateJob(existing id)", err, iotdm.ErrResourceAlreadyExists)
}

func ptr[T any](v T) *T { return &v }

func TestJobExecutionDeviceTransitions(t *testing.T) {
	tests := []struct {
		name  string
		steps []string // statuses the device sets, in order
		code  iotdm.ErrorCode
		want  string
	}{
		{"queued to in progress", []string{"IN_PROGRESS"}, "", iotdm.ExecutionInProgress},
		{"in progress again", []string{"IN_PROGRESS", "IN_PROGRESS"}, "", iotdm.ExecutionInProgress},
		{"queued to succeeded", []string{"SUCCEEDED"}, "", iotdm.ExecutionSucceeded},
		{"queued to failed", []string{"FAILED"}, "", iotdm.ExecutionFailed},
		{"queued to rejected", []string{"REJECTED"}, "", iotdm.ExecutionRejected},
		{"in progress to succeeded", []string{"IN_PROGRESS", "SUCCEEDED"}, "", iotdm.ExecutionSucceeded},
		{"in progress to failed", []string{"IN_PROGRESS", "FAILED"}, "", iotdm.ExecutionFailed},
		{"in progress to rejected", []string{"IN_PROGRESS", "REJECTED"}, "", iotdm.ExecutionRejected},
		{"terminal refuses", []string{"SUCCEEDED", "IN_PROGRESS"}, iotdm.ErrInvalidStateTransition, iotdm.ExecutionSucceeded},
		{"terminal refuses terminal", []string{"FAILED", "SUCCEEDED"}, iotdm.ErrInvalidStateTransition, iotdm.ExecutionFailed},
		{"device cannot queue", []string{"QUEUED"}, iotdm.ErrInvalidRequest, iotdm.ExecutionQueued},
		{"device cannot cancel", []string{"CANCELED"}, iotdm.ErrInvalidRequest, iotdm.ExecutionQueued},
		{"device cannot time out", []string{"TIMED_OUT"}, iotdm.ErrInvalidRequest, iotdm.ExecutionQueued},
		{"device cannot remove", []string{"REMOVED"}, iotdm.ErrInvalidRequest, iotdm.ExecutionQueued},
		{"unknown status", []string{"DONE"}, iotdm.ErrInvalidRequest, iotdm.ExecutionQueued},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newJobsEnv(t)
			e.things("d")
			e.createJob(&iotdm.CreateJobInput{JobID: "j", Targets: thingARNs("d")})
			var err error
			for _, s := range tt.steps {
				if _, err = e.update("j", "d", s); err != nil {
					break
				}
			}
			wantJobCode(t, "last UpdateJobExecution", err, tt.code)
			ex := e.execution("j", "d")
			if ex.Status != tt.want {
				t.Errorf("status = %s, want %s", ex.Status, tt.want)
			}
			steps := len(tt.steps)
			if tt.code != "" {
				steps--
			}
			if ex.VersionNumber != int64(1+steps) {
				t.Errorf("versionNumber = %d, want %d (one per accepted update)", ex.VersionNumber, 1+steps)
			}
		})
	}
}

func TestUpdateJobExecutionChecks(t *testing.T) {
	e := newJobsEnv(t)
	e.things("d")
	e.createJob(&iotdm.CreateJobInput{JobID: "j", Targets: thingARNs("d")})
	_, err := e.data.UpdateJobExecution(e.ctx, &iotdm.UpdateJobExecutionInput{JobID: "j", ThingName: "d", Status: "IN_PROGRESS", ExpectedVersion: ptr(int64(5))})
	wantJobCode(t, "UpdateJobExecution(expectedVersion 5)", err, iotdm.ErrVersionConflict)
	out, err := e.data.UpdateJobExecution(e.ctx, &iotdm.UpdateJobExecutionInput{JobID: "j", ThingName: "d", Status: "IN_PROGRESS",
		ExpectedVersion: ptr(int64(1)), StatusDetails: map[string]string{"progress": "10%"}, IncludeJobExecutionState: true, IncludeJobDocument: true})
	if err != nil {
		t.Fatal(err)
	}
	want := &iotdm.UpdateJobExecutionOutput{ExecutionState: &iotdm.JobExecutionState{Status: "IN_PROGRESS", StatusDetails: map[string]string{"progress": "10%"}, VersionNumber: 2},
		JobDocument: `{"operation":"update","version":"1.2.0"}`}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("UpdateJobExecution (-want +got):\n%s", diff)
	}
	_, err = e.data.UpdateJobExecution(e.ctx, &iotdm.UpdateJobExecutionInput{JobID: "j", ThingName: "d", Status: "IN_PROGRESS", ExecutionNumber: ptr(int64(7))})
	wantJobCode(t, "UpdateJobExecution(executionNumber 7)", err, iotdm.ErrResourceNotFound)
	_, err = e.data.UpdateJobExecution(e.ctx, &iotdm.UpdateJobExecutionInput{JobID: "j", ThingName: "d", Status: "IN_PROGRESS",
		StatusDetails: map[string]string{"bad key!": "x"}})
	wantJobCode(t, "UpdateJobExecution(bad details key)", err, iotdm.ErrInvalidRequest)
	_, err = e.data.UpdateJobExecution(e.ctx, &iotdm.UpdateJobExecutionInput{JobID: "j", ThingName: "d", Status: "IN_PROGRESS", StepTimeoutInMinutes: ptr(int64(0))})
	wantJobCode(t, "UpdateJobExecution(step timeout 0)", err, iotdm.ErrInvalidRequest)
	_, err = e.update("nope", "d", "IN_PROGRESS")
	wantJobCode(t, "UpdateJobExecution(unknown job)", err, iotdm.ErrResourceNotFound)
	// Details are kept when an update does not set them.
	e.mustUpdate("j", "d", "SUCCEEDED")
	if ex := e.execution("j", "d"); ex.StatusDetails == nil || ex.StatusDetails.DetailsMap["progress"] != "10%" {
		t.Errorf("statusDetails after an update without them = %+v, want kept", ex.StatusDetails)
	}
}

func TestCancelJob(t *testing.T) {
	e := newJobsEnv(t)
	e.things("q", "p", "s")
	e.createJob(&iotdm.CreateJobInput{JobID: "j", Targets: thingARNs("q", "p", "s")})
	e.mustUpdate("j", "p", "IN_PROGRESS")
	e.mustUpdate("j", "s", "SUCCEEDED")
	out, err := e.jobs.CancelJob(e.ctx, &iotdm.CancelJobInput{JobID: "j", ReasonCode: "BAD_BUILD", Comment: "build 7 bricks devices"})
	if err != nil {
		t.Fatal(err)
	}
	if out.JobARN != jobsARN+"job/j" || out.JobID != "j" {
		t.Errorf("CancelJob = %+v", out)
	}
	j := e.describe("j")
	if j.Status != iotdm.JobCanceled || j.ReasonCode != "BAD_BUILD" || j.Comment != "build 7 bricks devices" || j.ForceCanceled == nil || *j.ForceCanceled {
		t.Errorf("DescribeJob after CancelJob = status %s reason %s comment %q forceCanceled %v", j.Status, j.ReasonCode, j.Comment, j.ForceCanceled)
	}
	e.wantCounts("j", iotdm.JobProcessDetails{NumberOfCanceledThings: 1, NumberOfInProgressThings: 1, NumberOfSucceededThings: 1})
	// The device may still finish what it started.
	e.mustUpdate("j", "p", "IN_PROGRESS")
	// Force cancels it.
	if _, err := e.jobs.CancelJob(e.ctx, &iotdm.CancelJobInput{JobID: "j", Force: true}); err != nil {
		t.Fatal(err)
	}
	e.wantCounts("j", iotdm.JobProcessDetails{NumberOfCanceledThings: 2, NumberOfSucceededThings: 1})
	if ex := e.execution("j", "p"); ex.ForceCanceled == nil || !*ex.ForceCanceled {
		t.Errorf("force-canceled execution forceCanceled = %v, want true", ex.ForceCanceled)
	}
	_, err = e.update("j", "p", "SUCCEEDED")
	wantJobCode(t, "UpdateJobExecution after force cancel", err, iotdm.ErrInvalidStateTransition)

	e.createJob(&iotdm.CreateJobInput{JobID: "done", Targets: thingARNs("q")})
	e.mustUpdate("done", "q", "SUCCEEDED")
	_, err = e.jobs.CancelJob(e.ctx, &iotdm.CancelJobInput{JobID: "done"})
	wantJobCode(t, "CancelJob(completed job)", err, iotdm.ErrInvalidRequest)
	_, err = e.jobs.CancelJob(e.ctx, &iotdm.CancelJobInput{JobID: "j", ReasonCode: "lower case"})
	wantJobCode(t, "CancelJob(bad reason code)", err, iotdm.ErrInvalidRequest)
}

func TestCancelJobExecution(t *testing.T) {
	e := newJobsEnv(t)
	e.things("q", "p", "s")
	e.createJob(&iotdm.CreateJobInput{JobID: "j", Targets: thingARNs("q", "p", "s")})
	e.mustUpdate("j", "p", "IN_PROGRESS")
	e.mustUpdate("j", "s", "SUCCEEDED")
	cancel := func(thing string, force bool, version *int64) error {
		_, err := e.jobs.CancelJobExecution(e.ctx, &iotdm.CancelJobExecutionInput{JobID: "j", ThingName: thing, Force: force, ExpectedVersion: version,
			StatusDetails: map[string]string{"why": "operator"}})
		return err
	}
	wantJobCode(t, "CancelJobExecution(in progress, no force)", cancel("p", false, nil), iotdm.ErrInvalidStateTransition)
	wantJobCode(t, "CancelJobExecution(succeeded)", cancel("s", true, nil), iotdm.ErrInvalidStateTransition)
	wantJobCode(t, "CancelJobExecution(wrong version)", cancel("q", false, ptr(int64(3))), iotdm.ErrVersionConflict)
	wantJobCode(t, "CancelJobExecution(unknown thing)", cancel("zz", false, nil), iotdm.ErrResourceNotFound)
	if err := cancel("q", false, ptr(int64(1))); err != nil {
		t.Fatal(err)
	}
	if err := cancel("p", true, nil); err != nil {
		t.Fatal(err)
	}
	e.wantCounts("j", iotdm.JobProcessDetails{NumberOfCanceledThings: 2, NumberOfSucceededThings: 1})
	e.wantJobStatus("j", iotdm.JobCompleted)
	if ex := e.execution("j", "q"); ex.StatusDetails.DetailsMap["why"] != "operator" || ex.ForceCanceled == nil || *ex.ForceCanceled {
		t.Errorf("canceled queued execution = %+v", ex)
	}
}

func TestDeleteJobAndExecutions(t *testing.T) {
	e := newJobsEnv(t)
	e.things("a", "b", "c", "d", "e")
	e.createJob(&iotdm.CreateJobInput{JobID: "j", Targets: thingARNs("a", "b", "c", "d", "e")})
	_, err := e.jobs.DeleteJob(e.ctx, &iotdm.DeleteJobInput{JobID: "j"})
	wantJobCode(t, "DeleteJob(in progress, no force)", err, iotdm.ErrInvalidStateTransition)

	_, err = e.jobs.DeleteJobExecution(e.ctx, &iotdm.DeleteJobExecutionInput{JobID: "j", ThingName: "a", ExecutionNumber: 1})
	wantJobCode(t, "DeleteJobExecution(queued, no force)", err, iotdm.ErrInvalidStateTransition)
	e.mustUpdate("j", "a", "SUCCEEDED")
	_, err = e.jobs.DeleteJobExecution(e.ctx, &iotdm.DeleteJobExecutionInput{JobID: "j", ThingName: "a", ExecutionNumber: 2})
	wantJobCode(t, "DeleteJobExecution(unknown number)", err, iotdm.ErrResourceNotFound)
	if _, err := e.jobs.DeleteJobExecution(e.ctx, &iotdm.DeleteJobExecutionInput{JobID: "j", ThingName: "a", ExecutionNumber: 1}); err != nil {
		t.Fatal(err)
	}
	_, err = e.jobs.DescribeJobExecution(e.ctx, &iotdm.DescribeJobExecutionInput{JobID: "j", ThingName: "a"})
	wantJobCode(t, "DescribeJobExecution(deleted)", err, iotdm.ErrResourceNotFound)
	e.wantCounts("j", iotdm.JobProcessDetails{NumberOfQueuedThings: 4})

	if _, err := e.jobs.DeleteJob(e.ctx, &iotdm.DeleteJobInput{JobID: "j", Force: true}); err != nil {
		t.Fatal(err)
	}
	_, err = e.jobs.DescribeJob(e.ctx, &iotdm.DescribeJobInput{JobID: "j"})
	wantJobCode(t, "DescribeJob(deleted)", err, iotdm.ErrResourceNotFound)
	for _, th := range []string{"b", "e"} {
		out, err := e.jobs.ListJobExecutionsForThing(e.ctx, &iotdm.ListJobExecutionsForThingInput{ThingName: th})
		if err != nil || len(out.ExecutionSummaries) != 0 {
			t.Errorf("ListJobExecutionsForThing(%s) after DeleteJob = %+v, %v; want none", th, out, err)
		}
	}
	// The id may be used again.
	e.createJob(&iotdm.CreateJobInput{JobID: "j", Targets: thingARNs("a")})
	e.wantCounts("j", iotdm.JobProcessDetails{NumberOfQueuedThings: 1})
}

func TestListJobsAndExecutions(t *testing.T) {
	e := newJobsEnv(t)
	e.things("a", "b", "c")
	e.group("g", "a")
	e.createJob(&iotdm.CreateJobInput{JobID: "j1", Targets: thingARNs("a", "b", "c")})
	e.createJob(&iotdm.CreateJobInput{JobID: "j2", Targets: []string{jobsARN + "thinggroup/g"}, TargetSelection: iotdm.TargetContinuous})
	e.createJob(&iotdm.CreateJobInput{JobID: "j3", Targets: thingARNs("b")})
	e.mustUpdate("j3", "b", "SUCCEEDED")

	ids := func(in iotdm.ListJobsInput) []string {
		t.Helper()
		var out []string
		for {
			page, err := e.jobs.ListJobs(e.ctx, &in)
			if err != nil {
				t.Fatalf("ListJobs(%+v): %v", in, err)
			}
			for _, j := range page.Jobs {
				out = append(out, j.JobID)
			}
			if page.NextToken == "" {
				return out
			}
			in.NextToken = page.NextToken
		}
	}
	for _, tt := range []struct {
		name string
		in   iotdm.ListJobsInput
		want []string
	}{
		{"all, pages of one", iotdm.ListJobsInput{MaxResults: 1}, []string{"j1", "j2", "j3"}},
		{"completed", iotdm.ListJobsInput{Status: iotdm.JobCompleted}, []string{"j3"}},
		{"continuous", iotdm.ListJobsInput{TargetSelection: iotdm.TargetContinuous}, []string{"j2"}},
		{"by group", iotdm.ListJobsInput{ThingGroupName: "g"}, []string{"j2"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, ids(tt.in)); diff != "" {
				t.Errorf("ListJobs (-want +got):\n%s", diff)
			}
		})
	}
	_, err := e.jobs.ListJobs(e.ctx, &iotdm.ListJobsInput{Status: "DONE"})
	wantJobCode(t, "ListJobs(bad status)", err, iotdm.ErrInvalidRequest)

	forThing, err := e.jobs.ListJobExecutionsForThing(e.ctx, &iotdm.ListJobExecutionsForThingInput{ThingName: "b"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range forThing.ExecutionSummaries {
		got = append(got, s.JobID+":"+s.JobExecutionSummary.Status)
	}
	if diff := cmp.Diff([]string{"j1:QUEUED", "j3:SUCCEEDED"}, got); diff != "" {
		t.Errorf("ListJobExecutionsForThing(b) (-want +got):\n%s", diff)
	}
	page, err := e.jobs.ListJobExecutionsForJob(e.ctx, &iotdm.ListJobExecutionsForJobInput{JobID: "j1", MaxResults: 2})
	if err != nil || len(page.ExecutionSummaries) != 2 || page.NextToken == "" {
		t.Fatalf("ListJobExecutionsForJob(j1, 2) = %+v, %v", page, err)
	}
	rest, err := e.jobs.ListJobExecutionsForJob(e.ctx, &iotdm.ListJobExecutionsForJobInput{JobID: "j1", MaxResults: 2, NextToken: page.NextToken})
	if err != nil || len(rest.ExecutionSummaries) != 1 || rest.ExecutionSummaries[0].ThingARN != jobsARN+"thing/c" || rest.NextToken != "" {
		t.Errorf("ListJobExecutionsForJob page 2 = %+v, %v", rest, err)
	}
	_, err = e.jobs.ListJobExecutionsForJob(e.ctx, &iotdm.ListJobExecutionsForJobInput{JobID: "nope"})
	wantJobCode(t, "ListJobExecutionsForJob(unknown job)", err, iotdm.ErrResourceNotFound)
	byStatus, err := e.jobs.ListJobExecutionsForJob(e.ctx, &iotdm.ListJobExecutionsForJobInput{JobID: "j3", Status: iotdm.ExecutionQueued})
	if err != nil || len(byStatus.ExecutionSummaries) != 0 {
		t.Errorf("ListJobExecutionsForJob(j3, QUEUED) = %+v, %v; want none", byStatus, err)
	}
}

func TestJobTemplatesAndParameters(t *testing.T) {
	e := newJobsEnv(t)
	e.things("d")
	doc := `{"url":"${aws:iot:parameter:url}","v":"${aws:iot:parameter:version}"}`
	out, err := e.jobs.CreateJobTemplate(e.ctx, &iotdm.CreateJobTemplateInput{JobTemplateID: "ota", Description: "OTA", Document: doc,
		TimeoutConfig: &iotdm.TimeoutConfig{InProgressTimeoutInMinutes: ptr(int64(30))}})
	if err != nil {
		t.Fatal(err)
	}
	if out.JobTemplateARN != jobsARN+"jobtemplate/ota" {
		t.Errorf("CreateJobTemplate arn = %s", out.JobTemplateARN)
	}
	_, err = e.jobs.CreateJobTemplate(e.ctx, &iotdm.CreateJobTemplateInput{JobTemplateID: "ota", Description: "again", Document: `{}`})
	wantJobCode(t, "CreateJobTemplate(existing)", err, iotdm.ErrConflict)
	_, err = e.jobs.CreateJobTemplate(e.ctx, &iotdm.CreateJobTemplateInput{JobTemplateID: "x", Document: `{}`})
	wantJobCode(t, "CreateJobTemplate(no description)", err, iotdm.ErrInvalidRequest)

	e.createJob(&iotdm.CreateJobInput{JobID: "j", Targets: thingARNs("d"), JobTemplateARN: out.JobTemplateARN,
		DocumentParameters: map[string]string{"url": `https://fw.example/1.2.0.bin?a="b"`, "version": "1.2.0"}})
	got, err := e.jobs.GetJobDocument(e.ctx, &iotdm.GetJobDocumentInput{JobID: "j"})
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]string
	if err := json.Unmarshal([]byte(got.Document), &d); err != nil || d["url"] != `https://fw.example/1.2.0.bin?a="b"` || d["v"] != "1.2.0" {
		t.Errorf("GetJobDocument = %s (%v), want the parameters substituted", got.Document, err)
	}
	raw, err := e.jobs.GetJobDocument(e.ctx, &iotdm.GetJobDocumentInput{JobID: "j", BeforeSubstitution: true})
	if err != nil || raw.Document != doc {
		t.Errorf("GetJobDocument(beforeSubstitution) = %v, %v; want the template's document", raw, err)
	}
	j := e.describe("j")
	if j.JobTemplateARN != out.JobTemplateARN || j.TimeoutConfig == nil || *j.TimeoutConfig.InProgressTimeoutInMinutes != 30 || j.Description != "OTA" {
		t.Errorf("job from template = %+v", j)
	}
	next, err := e.data.StartNextPendingJobExecution(e.ctx, &iotdm.StartNextPendingJobExecutionInput{ThingName: "d"})
	if err != nil || next.Execution.JobDocument != got.Document {
		t.Errorf("device document = %v, %v; want the substituted one", next, err)
	}

	fromJob, err := e.jobs.CreateJobTemplate(e.ctx, &iotdm.CreateJobTemplateInput{JobTemplateID: "copy", Description: "from j", JobARN: jobsARN + "job/j"})
	if err != nil {
		t.Fatal(err)
	}
	desc, err := e.jobs.DescribeJobTemplate(e.ctx, &iotdm.DescribeJobTemplateInput{JobTemplateID: fromJob.JobTemplateID})
	if err != nil || desc.Document != doc || desc.TimeoutConfig == nil {
		t.Errorf("DescribeJobTemplate(copy) = %+v, %v; want the job's document and timeout", desc, err)
	}
	list, err := e.jobs.ListJobTemplates(e.ctx, &iotdm.ListJobTemplatesInput{MaxResults: 1})
	if err != nil || len(list.JobTemplates) != 1 || list.JobTemplates[0].JobTemplateID != "copy" || list.NextToken == "" {
		t.Errorf("ListJobTemplates(1) = %+v, %v", list, err)
	}
	if _, err := e.jobs.DeleteJobTemplate(e.ctx, &iotdm.DeleteJobTemplateInput{JobTemplateID: "ota"}); err != nil {
		t.Fatal(err)
	}
	_, err = e.jobs.DeleteJobTemplate(e.ctx, &iotdm.DeleteJobTemplateInput{JobTemplateID: "ota"})
	wantJobCode(t, "DeleteJobTemplate(deleted)", err, iotdm.ErrResourceNotFound)
}

func TestJobEvents(t *testing.T) {
	e := newJobsEnv(t)
	e.things("a", "b")
	e.createJob(&iotdm.CreateJobInput{JobID: "quiet", Targets: thingARNs("a")})
	e.mustUpdate("quiet", "a", "SUCCEEDED")
	for _, m := range e.pub.take() {
		if strings.HasPrefix(m.Topic, "$aws/events/") {
			t.Errorf("event %s published while job events are off", m.Topic)
		}
	}
	err := e.db.Update(e.ctx, func(ctx context.Context, tx iotdm.Tx) error {
		b, _ := json.Marshal(iotdm.EventConfigurationsState{EventConfigurations: map[string]iotdm.EventConfiguration{
			iotdm.EventJob: {Enabled: true}, iotdm.EventJobExecution: {Enabled: true}}})
		return tx.Put(ctx, iotdm.KindAccount, iotdm.EventConfigurationsKey, b)
	})
	if err != nil {
		t.Fatal(err)
	}
	e.createJob(&iotdm.CreateJobInput{JobID: "loud", Targets: thingARNs("a", "b")})
	e.mustUpdate("loud", "a", "SUCCEEDED")
	e.mustUpdate("loud", "b", "FAILED")
	if _, err := e.jobs.DeleteJob(e.ctx, &iotdm.DeleteJobInput{JobID: "loud"}); err != nil {
		t.Fatal(err)
	}
	var events []string
	var completed map[string]any
	for _, m := range e.pub.take() {
		if strings.HasPrefix(m.Topic, "$aws/events/") {
			events = append(events, m.Topic)
			if m.QoS != 1 || m.Retain {
				t.Errorf("%s at QoS %d retain %v", m.Topic, m.QoS, m.Retain)
			}
		}
		if m.Topic == "$aws/events/job/loud/completed" {
			_ = json.Unmarshal([]byte(m.Payload), &completed)
		}
	}
	want := []string{
		"$aws/events/jobExecution/loud/succeeded",
		"$aws/events/jobExecution/loud/failed",
		"$aws/events/job/loud/completed",
		"$aws/events/job/loud/deleted",
	}
	if diff := cmp.Diff(want, events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if completed["eventType"] != "JOB" || completed["status"] != "COMPLETED" || completed["operation"] != "completed" {
		t.Errorf("job completed event = %v", completed)
	}
	if d, _ := completed["jobProcessDetails"].(map[string]any); d["numberOfFailedThings"] != float64(1) {
		t.Errorf("job completed event jobProcessDetails = %v", d)
	}
}
