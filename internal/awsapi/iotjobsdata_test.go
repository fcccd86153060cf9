package awsapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/google/go-cmp/cmp"
)

// jobsDataCall sends a request to the jobs data plane signed with SigV4
// for service (iot-jobs-data unless the test says otherwise) and returns
// the status, the error type header and the decoded JSON body.
func (s *jobsServer) call(t *testing.T, service, method, path, body string) (int, string, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: jobsAKID, SecretAccessKey: jobsSecret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, jobsRegion, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s %s: body %q is not JSON", method, path, b)
		}
	}
	return resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"), out
}

func (s *jobsServer) data(t *testing.T, method, path, body string) (int, string, map[string]any) {
	t.Helper()
	return s.call(t, "iot-jobs-data", method, path, body)
}

func TestJobsDataPlaneSignedHTTP(t *testing.T) {
	s := newJobsServer(t)
	ctx := context.Background()
	if _, err := s.iot.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("dev-1")}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"first", "second"} {
		if _, err := s.iot.CreateJob(ctx, &iot.CreateJobInput{JobId: aws.String(id), Targets: []string{jobsARN + "thing/dev-1"},
			Document: aws.String(`{"step":"` + id + `"}`)}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond) // distinct queuedAt order
	}

	status, _, out := s.data(t, "GET", "/things/dev-1/jobs", "")
	if status != 200 || len(out["queuedJobs"].([]any)) != 2 || len(out["inProgressJobs"].([]any)) != 0 {
		t.Fatalf("GetPendingJobExecutions = %d %v", status, out)
	}
	if q := out["queuedJobs"].([]any)[0].(map[string]any); q["jobId"] != "first" || q["executionNumber"] != float64(1) || q["versionNumber"] != float64(1) {
		t.Errorf("first queued job = %v", q)
	}

	status, _, out = s.data(t, "PUT", "/things/dev-1/jobs/$next", `{"statusDetails":{"phase":"download"},"stepTimeoutInMinutes":10}`)
	x, _ := out["execution"].(map[string]any)
	if status != 200 || x["jobId"] != "first" || x["status"] != "IN_PROGRESS" || x["jobDocument"] != `{"step":"first"}` ||
		x["thingName"] != "dev-1" || x["approximateSecondsBeforeTimedOut"] == nil {
		t.Fatalf("StartNextPendingJobExecution = %d %v", status, out)
	}
	// A client that escapes '$' reaches the same operation.
	status, _, out = s.data(t, "PUT", "/things/dev-1/jobs/%24next", `{}`)
	if x, _ := out["execution"].(map[string]any); status != 200 || x["jobId"] != "first" {
		t.Errorf("StartNextPendingJobExecution via %%24next = %d %v", status, out)
	}

	status, _, out = s.data(t, "GET", "/things/dev-1/jobs/$next?includeJobDocument=false", "")
	if x, _ := out["execution"].(map[string]any); status != 200 || x["jobId"] != "first" || x["jobDocument"] != nil {
		t.Errorf("DescribeJobExecution($next, no document) = %d %v", status, out)
	}
	status, _, out = s.data(t, "GET", "/things/dev-1/jobs/second", "")
	if x, _ := out["execution"].(map[string]any); status != 200 || x["status"] != "QUEUED" || x["jobDocument"] != `{"step":"second"}` {
		t.Errorf("DescribeJobExecution(second) = %d %v", status, out)
	}

	status, errType, _ := s.data(t, "POST", "/things/dev-1/jobs/first", `{"status":"SUCCEEDED","expectedVersion":1}`)
	if status != 409 || errType != "VersionConflictException" {
		t.Errorf("UpdateJobExecution(wrong version) = %d %s, want 409 VersionConflictException", status, errType)
	}
	status, _, out = s.data(t, "POST", "/things/dev-1/jobs/first",
		`{"status":"SUCCEEDED","expectedVersion":2,"statusDetails":{"phase":"done"},"includeJobExecutionState":true,"includeJobDocument":true}`)
	want := map[string]any{"executionState": map[string]any{"status": "SUCCEEDED", "statusDetails": map[string]any{"phase": "done"}, "versionNumber": float64(3)},
		"jobDocument": `{"step":"first"}`}
	if diff := cmp.Diff(want, out); status != 200 || diff != "" {
		t.Errorf("UpdateJobExecution = %d (-want +got):\n%s", status, diff)
	}
	status, errType, _ = s.data(t, "POST", "/things/dev-1/jobs/first", `{"status":"IN_PROGRESS"}`)
	if status != 409 || errType != "InvalidStateTransitionException" {
		t.Errorf("UpdateJobExecution(terminal) = %d %s, want 409 InvalidStateTransitionException", status, errType)
	}
	status, errType, _ = s.data(t, "POST", "/things/dev-1/jobs/ghost", `{"status":"IN_PROGRESS"}`)
	if status != 404 || errType != "ResourceNotFoundException" {
		t.Errorf("UpdateJobExecution(unknown job) = %d %s, want 404 ResourceNotFoundException", status, errType)
	}
	status, errType, _ = s.data(t, "POST", "/things/dev-1/jobs/second", `{"status":"TIMED_OUT"}`)
	if status != 400 || errType != "InvalidRequestException" {
		t.Errorf("UpdateJobExecution(TIMED_OUT) = %d %s, want 400 InvalidRequestException", status, errType)
	}
	status, errType, _ = s.data(t, "GET", "/things/ghost/jobs", "")
	if status != 404 || errType != "ResourceNotFoundException" {
		t.Errorf("GetPendingJobExecutions(unknown thing) = %d %s, want 404", status, errType)
	}

	// The control plane sees what the device did.
	ex, err := s.iot.DescribeJobExecution(ctx, &iot.DescribeJobExecutionInput{JobId: aws.String("first"), ThingName: aws.String("dev-1")})
	if err != nil || ex.Execution.StatusDetails.DetailsMap["phase"] != "done" {
		t.Errorf("DescribeJobExecution(first) = %+v, %v", ex, err)
	}
	status, _, out = s.data(t, "GET", "/things/dev-1/jobs", "")
	if status != 200 || len(out["queuedJobs"].([]any)) != 1 || len(out["inProgressJobs"].([]any)) != 0 {
		t.Errorf("GetPendingJobExecutions at the end = %d %v", status, out)
	}

	// The data plane answers only requests signed for it.
	status, _, _ = s.call(t, "iotdata", "GET", "/things/dev-1/jobs", "")
	if status != 403 {
		t.Errorf("GetPendingJobExecutions signed for iotdata = %d, want 403", status)
	}
}
