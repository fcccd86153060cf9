package awsapi_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/google/go-cmp/cmp"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/awsapi"
	"github.com/iotdm/iotdm/internal/control"
	"github.com/iotdm/iotdm/internal/sqlite"
)

// These tests drive the jobs control plane end to end: a real AWS SDK for
// Go v2 client, the signed edge, and the registry and jobs services on a
// real SQLite store, composed as cmd/iotdm does. The jobs data plane,
// whose Go SDK module is not available here, is driven with signed raw
// requests (iotjobsdata_test.go).

const (
	jobsAKID    = "AKIDJOBSEXAMPLE"
	jobsSecret  = "jobs/secret+EXAMPLEKEY"
	jobsRegion  = "us-east-1"
	jobsAccount = "123456789012"
	jobsARN     = "arn:aws:iot:us-east-1:123456789012:"
)

// jobsServer is an edge serving iot (registry and jobs) and iot-jobs-data.
type jobsServer struct {
	url  string
	iot  *iot.Client
	reg  *control.Registry
	jobs *control.Jobs
}

func newJobsServer(t *testing.T) *jobsServer {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "jobs.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	reg := control.NewRegistry(db, control.RegistryOptions{Region: jobsRegion, AccountID: jobsAccount})
	jobs := control.NewJobs(db, control.JobsOptions{Region: jobsRegion, AccountID: jobsAccount})
	s := awsapi.New(awsapi.Config{
		Keys:   func(id string) (string, bool) { return jobsSecret, id == jobsAKID },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	s.Handle("iot", awsapi.NewIoT(reg, awsapi.JobsRoutes(jobs)))
	s.Handle(awsapi.JobsDataSigningName, awsapi.NewIoTJobsData(jobs.Data()))
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &jobsServer{url: srv.URL, reg: reg, jobs: jobs, iot: iot.New(iot.Options{
		Region:       jobsRegion,
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(jobsAKID, jobsSecret, ""),
		Retryer:      aws.NopRetryer{},
	})}
}

// jobsAPIError fails unless err is the SDK's typed exception E with the
// HTTP status.
func jobsAPIError[E error](t *testing.T, op string, err error, status int) {
	t.Helper()
	var e E
	if !errors.As(err, &e) {
		t.Fatalf("%s: err = %v, want %T", op, err, e)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != status {
		t.Errorf("%s: status = %v, want %d", op, err, status)
	}
}

func TestJobsWithSDK(t *testing.T) {
	s := newJobsServer(t)
	ctx := context.Background()
	c := s.iot
	for _, name := range []string{"sensor-1", "sensor-2", "sensor-3"} {
		if _, err := c.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String("building-a")}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"sensor-2", "sensor-3"} {
		if _, err := c.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{ThingGroupName: aws.String("building-a"), ThingName: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
	}

	tmpl, err := c.CreateJobTemplate(ctx, &iot.CreateJobTemplateInput{JobTemplateId: aws.String("ota"), Description: aws.String("firmware update"),
		Document: aws.String(`{"operation":"ota","url":"${aws:iot:parameter:url}"}`),
		AbortConfig: &types.AbortConfig{CriteriaList: []types.AbortCriteria{{FailureType: types.JobExecutionFailureTypeFailed,
			Action: types.AbortActionCancel, ThresholdPercentage: aws.Float64(50), MinNumberOfExecutedThings: aws.Int32(2)}}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateJobTemplate(ctx, &iot.CreateJobTemplateInput{JobTemplateId: aws.String("ota"), Description: aws.String("x"), Document: aws.String("{}")})
	jobsAPIError[*types.ConflictException](t, "CreateJobTemplate(existing)", err, 409)

	created, err := c.CreateJob(ctx, &iot.CreateJobInput{
		JobId:                      aws.String("fw-120"),
		Targets:                    []string{jobsARN + "thing/sensor-1", jobsARN + "thinggroup/building-a"},
		JobTemplateArn:             tmpl.JobTemplateArn,
		DocumentParameters:         map[string]string{"url": "https://fw.example/1.2.0.bin"},
		TargetSelection:            types.TargetSelectionSnapshot,
		JobExecutionsRolloutConfig: &types.JobExecutionsRolloutConfig{MaximumPerMinute: aws.Int32(100)},
		TimeoutConfig:              &types.TimeoutConfig{InProgressTimeoutInMinutes: aws.Int64(30)},
		JobExecutionsRetryConfig: &types.JobExecutionsRetryConfig{CriteriaList: []types.RetryCriteria{
			{FailureType: types.RetryableFailureTypeTimedOut, NumberOfRetries: aws.Int32(2)}}},
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("fw")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(created.JobArn) != jobsARN+"job/fw-120" || aws.ToString(created.JobId) != "fw-120" || aws.ToString(created.Description) != "firmware update" {
		t.Errorf("CreateJob = %+v", created)
	}
	_, err = c.CreateJob(ctx, &iot.CreateJobInput{JobId: aws.String("fw-120"), Targets: []string{jobsARN + "thing/sensor-1"}, Document: aws.String("{}")})
	jobsAPIError[*types.ResourceAlreadyExistsException](t, "CreateJob(existing)", err, 409)
	_, err = c.CreateJob(ctx, &iot.CreateJobInput{JobId: aws.String("other"), Targets: []string{jobsARN + "thing/ghost"}, Document: aws.String("{}")})
	jobsAPIError[*types.ResourceNotFoundException](t, "CreateJob(missing thing)", err, 404)

	desc, err := c.DescribeJob(ctx, &iot.DescribeJobInput{JobId: aws.String("fw-120")})
	if err != nil {
		t.Fatal(err)
	}
	j := desc.Job
	if j.Status != types.JobStatusInProgress || j.TargetSelection != types.TargetSelectionSnapshot || aws.ToString(j.JobTemplateArn) != aws.ToString(tmpl.JobTemplateArn) ||
		j.AbortConfig == nil || aws.ToInt64(j.TimeoutConfig.InProgressTimeoutInMinutes) != 30 || aws.ToInt32(j.JobExecutionsRolloutConfig.MaximumPerMinute) != 100 ||
		j.DocumentParameters["url"] != "https://fw.example/1.2.0.bin" || j.CreatedAt == nil || len(j.Targets) != 2 {
		t.Errorf("DescribeJob = %+v", j)
	}
	if d := j.JobProcessDetails; aws.ToInt32(d.NumberOfQueuedThings) != 3 || aws.ToInt32(d.NumberOfSucceededThings) != 0 {
		t.Errorf("jobProcessDetails = %+v, want 3 queued", d)
	}
	doc, err := c.GetJobDocument(ctx, &iot.GetJobDocumentInput{JobId: aws.String("fw-120")})
	if err != nil || aws.ToString(doc.Document) != `{"operation":"ota","url":"https://fw.example/1.2.0.bin"}` {
		t.Errorf("GetJobDocument = %v, %v", doc, err)
	}
	doc, err = c.GetJobDocument(ctx, &iot.GetJobDocumentInput{JobId: aws.String("fw-120"), BeforeSubstitution: true})
	if err != nil || aws.ToString(doc.Document) != `{"operation":"ota","url":"${aws:iot:parameter:url}"}` {
		t.Errorf("GetJobDocument(beforeSubstitution) = %v, %v", doc, err)
	}

	// Device side, through the service: sensor-1 succeeds.
	if _, err := s.jobs.Data().UpdateJobExecution(ctx, &iotdm.UpdateJobExecutionInput{JobID: "fw-120", ThingName: "sensor-1", Status: "SUCCEEDED"}); err != nil {
		t.Fatal(err)
	}
	ex, err := c.DescribeJobExecution(ctx, &iot.DescribeJobExecutionInput{JobId: aws.String("fw-120"), ThingName: aws.String("sensor-1")})
	if err != nil {
		t.Fatal(err)
	}
	if e := ex.Execution; e.Status != types.JobExecutionStatusSucceeded || aws.ToInt64(e.ExecutionNumber) != 1 || e.VersionNumber != 2 ||
		aws.ToString(e.ThingArn) != jobsARN+"thing/sensor-1" || e.QueuedAt == nil || e.LastUpdatedAt == nil {
		t.Errorf("DescribeJobExecution = %+v", e)
	}
	_, err = c.DescribeJobExecution(ctx, &iot.DescribeJobExecutionInput{JobId: aws.String("fw-120"), ThingName: aws.String("sensor-1"), ExecutionNumber: aws.Int64(9)})
	jobsAPIError[*types.ResourceNotFoundException](t, "DescribeJobExecution(execution 9)", err, 404)

	forJob, err := c.ListJobExecutionsForJob(ctx, &iot.ListJobExecutionsForJobInput{JobId: aws.String("fw-120"), Status: types.JobExecutionStatusQueued, MaxResults: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	if len(forJob.ExecutionSummaries) != 1 || aws.ToString(forJob.ExecutionSummaries[0].ThingArn) != jobsARN+"thing/sensor-2" || forJob.NextToken == nil {
		t.Errorf("ListJobExecutionsForJob(QUEUED, 1) = %+v", forJob)
	}
	forThing, err := c.ListJobExecutionsForThing(ctx, &iot.ListJobExecutionsForThingInput{ThingName: aws.String("sensor-1")})
	if err != nil || len(forThing.ExecutionSummaries) != 1 || aws.ToString(forThing.ExecutionSummaries[0].JobId) != "fw-120" ||
		forThing.ExecutionSummaries[0].JobExecutionSummary.Status != types.JobExecutionStatusSucceeded {
		t.Errorf("ListJobExecutionsForThing = %+v, %v", forThing, err)
	}

	_, err = c.CancelJobExecution(ctx, &iot.CancelJobExecutionInput{JobId: aws.String("fw-120"), ThingName: aws.String("sensor-1")})
	jobsAPIError[*types.InvalidStateTransitionException](t, "CancelJobExecution(succeeded)", err, 409)
	_, err = c.CancelJobExecution(ctx, &iot.CancelJobExecutionInput{JobId: aws.String("fw-120"), ThingName: aws.String("sensor-2"), ExpectedVersion: aws.Int64(4)})
	jobsAPIError[*types.VersionConflictException](t, "CancelJobExecution(wrong version)", err, 409)
	if _, err := c.CancelJobExecution(ctx, &iot.CancelJobExecutionInput{JobId: aws.String("fw-120"), ThingName: aws.String("sensor-2"),
		ExpectedVersion: aws.Int64(1), StatusDetails: map[string]string{"reason": "operator"}}); err != nil {
		t.Fatal(err)
	}

	if _, err := c.UpdateJob(ctx, &iot.UpdateJobInput{JobId: aws.String("fw-120"), Description: aws.String("firmware 1.2.0")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteJob(ctx, &iot.DeleteJobInput{JobId: aws.String("fw-120")})
	jobsAPIError[*types.InvalidStateTransitionException](t, "DeleteJob(in progress)", err, 409)

	cancel, err := c.CancelJob(ctx, &iot.CancelJobInput{JobId: aws.String("fw-120"), ReasonCode: aws.String("SUPERSEDED"), Comment: aws.String("1.2.1 is out"), Force: true})
	if err != nil || aws.ToString(cancel.Description) != "firmware 1.2.0" {
		t.Fatalf("CancelJob = %+v, %v", cancel, err)
	}
	desc, err = c.DescribeJob(ctx, &iot.DescribeJobInput{JobId: aws.String("fw-120")})
	if err != nil {
		t.Fatal(err)
	}
	if j := desc.Job; j.Status != types.JobStatusCanceled || !aws.ToBool(j.ForceCanceled) || aws.ToString(j.ReasonCode) != "SUPERSEDED" || j.CompletedAt == nil {
		t.Errorf("DescribeJob after CancelJob = %+v", j)
	}
	want := &types.JobProcessDetails{NumberOfCanceledThings: aws.Int32(2), NumberOfSucceededThings: aws.Int32(1), NumberOfFailedThings: aws.Int32(0),
		NumberOfInProgressThings: aws.Int32(0), NumberOfQueuedThings: aws.Int32(0), NumberOfRejectedThings: aws.Int32(0),
		NumberOfRemovedThings: aws.Int32(0), NumberOfTimedOutThings: aws.Int32(0)}
	if diff := cmp.Diff(want, desc.Job.JobProcessDetails, cmp.AllowUnexported(types.JobProcessDetails{})); diff != "" {
		t.Errorf("jobProcessDetails (-want +got):\n%s", diff)
	}

	list, err := c.ListJobs(ctx, &iot.ListJobsInput{Status: types.JobStatusCanceled, ThingGroupName: aws.String("building-a")})
	if err != nil || len(list.Jobs) != 1 || aws.ToString(list.Jobs[0].JobId) != "fw-120" || list.Jobs[0].ThingGroupId == nil {
		t.Errorf("ListJobs(CANCELED, building-a) = %+v, %v", list, err)
	}
	if _, err := c.DeleteJobExecution(ctx, &iot.DeleteJobExecutionInput{JobId: aws.String("fw-120"), ThingName: aws.String("sensor-2"), ExecutionNumber: aws.Int64(1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteJob(ctx, &iot.DeleteJobInput{JobId: aws.String("fw-120")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DescribeJob(ctx, &iot.DescribeJobInput{JobId: aws.String("fw-120")})
	jobsAPIError[*types.ResourceNotFoundException](t, "DescribeJob(deleted)", err, 404)

	tl, err := c.ListJobTemplates(ctx, &iot.ListJobTemplatesInput{})
	if err != nil || len(tl.JobTemplates) != 1 || aws.ToString(tl.JobTemplates[0].Description) != "firmware update" {
		t.Errorf("ListJobTemplates = %+v, %v", tl, err)
	}
	dt, err := c.DescribeJobTemplate(ctx, &iot.DescribeJobTemplateInput{JobTemplateId: aws.String("ota")})
	if err != nil || dt.AbortConfig == nil || aws.ToFloat64(dt.AbortConfig.CriteriaList[0].ThresholdPercentage) != 50 {
		t.Errorf("DescribeJobTemplate = %+v, %v", dt, err)
	}
	if _, err := c.DeleteJobTemplate(ctx, &iot.DeleteJobTemplateInput{JobTemplateId: aws.String("ota")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DescribeJobTemplate(ctx, &iot.DescribeJobTemplateInput{JobTemplateId: aws.String("ota")})
	jobsAPIError[*types.ResourceNotFoundException](t, "DescribeJobTemplate(deleted)", err, 404)
}

func TestJobsWithSDKScheduledJob(t *testing.T) {
	s := newJobsServer(t)
	ctx := context.Background()
	if _, err := s.iot.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("d")}); err != nil {
		t.Fatal(err)
	}
	start := time.Now().UTC().Add(2 * time.Hour).Format("2006-01-02T15:04")
	_, err := s.iot.CreateJob(ctx, &iot.CreateJobInput{JobId: aws.String("later"), Targets: []string{jobsARN + "thing/d"}, Document: aws.String(`{}`),
		SchedulingConfig: &types.SchedulingConfig{StartTime: aws.String(start), EndBehavior: types.JobEndBehaviorStopRollout}})
	if err != nil {
		t.Fatal(err)
	}
	desc, err := s.iot.DescribeJob(ctx, &iot.DescribeJobInput{JobId: aws.String("later")})
	if err != nil || desc.Job.Status != types.JobStatusScheduled || aws.ToString(desc.Job.SchedulingConfig.StartTime) != start {
		t.Errorf("DescribeJob(scheduled) = %+v, %v", desc, err)
	}
	if err := s.jobs.Tick(ctx, time.Now().Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	desc, err = s.iot.DescribeJob(ctx, &iot.DescribeJobInput{JobId: aws.String("later")})
	if err != nil || desc.Job.Status != types.JobStatusInProgress || aws.ToInt32(desc.Job.JobProcessDetails.NumberOfQueuedThings) != 1 {
		t.Errorf("DescribeJob after its start = %+v, %v", desc, err)
	}
}
