package console

import (
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/iotdm/iotdm"
)

// Jobs (issue 10): the jobs list with each job's progress by execution
// status, and a job's page with its document, counts, the executions of its
// things and a form to cancel it.

// jobsPageSize is the jobs (and executions) one page lists.
const jobsPageSize = 50

// jobStatuses are the job statuses the list filters by.
var jobStatuses = []string{iotdm.JobInProgress, iotdm.JobScheduled, iotdm.JobCompleted, iotdm.JobCanceled, iotdm.JobDeletionInProgress}

// progressStatuses are the execution statuses of a progress bar, in its order.
var progressStatuses = []struct{ status, label string }{
	{iotdm.ExecutionQueued, "queued"},
	{iotdm.ExecutionInProgress, "in progress"},
	{iotdm.ExecutionSucceeded, "succeeded"},
	{iotdm.ExecutionFailed, "failed"},
	{iotdm.ExecutionRejected, "rejected"},
	{iotdm.ExecutionTimedOut, "timed out"},
	{iotdm.ExecutionRemoved, "removed"},
	{iotdm.ExecutionCanceled, "canceled"},
}

// jobCount is the number of a job's things in one execution status, and its
// segment of the progress bar.
type jobCount struct {
	Status string // the JobExecutionStatus
	Label  string
	Class  string // the bar and legend colour: p-{status in lower case}
	N      int
	X, W   string // the segment in a bar 100 wide
}

// jobProgress is a job's executions by status.
type jobProgress struct {
	Counts []jobCount // every status, in progressStatuses' order
	Total  int
	Done   int // in a terminal status
}

// Segments are the counts with things in them.
func (p jobProgress) Segments() []jobCount {
	var out []jobCount
	for _, c := range p.Counts {
		if c.N > 0 {
			out = append(out, c)
		}
	}
	return out
}

// Summary says the counts in words, for people and screen readers.
func (p jobProgress) Summary() string {
	var parts []string
	for _, c := range p.Segments() {
		parts = append(parts, formatInt(c.N)+" "+c.Label)
	}
	if len(parts) == 0 {
		return "no executions yet"
	}
	return strings.Join(parts, ", ")
}

func progressOf(d *iotdm.JobProcessDetails) jobProgress {
	var p jobProgress
	if d == nil {
		d = &iotdm.JobProcessDetails{}
	}
	n := map[string]int{
		iotdm.ExecutionQueued: d.NumberOfQueuedThings, iotdm.ExecutionInProgress: d.NumberOfInProgressThings,
		iotdm.ExecutionSucceeded: d.NumberOfSucceededThings, iotdm.ExecutionFailed: d.NumberOfFailedThings,
		iotdm.ExecutionRejected: d.NumberOfRejectedThings, iotdm.ExecutionTimedOut: d.NumberOfTimedOutThings,
		iotdm.ExecutionRemoved: d.NumberOfRemovedThings, iotdm.ExecutionCanceled: d.NumberOfCanceledThings,
	}
	for _, s := range progressStatuses {
		p.Total += n[s.status]
		if iotdm.TerminalExecution(s.status) {
			p.Done += n[s.status]
		}
	}
	x := 0.0
	for _, s := range progressStatuses {
		c := jobCount{Status: s.status, Label: s.label, Class: "p-" + strings.ToLower(s.status), N: n[s.status]}
		if p.Total > 0 && c.N > 0 {
			w := float64(c.N) * 100 / float64(p.Total)
			c.X, c.W = strconv.FormatFloat(x, 'f', 2, 64), strconv.FormatFloat(w, 'f', 2, 64)
			x += w
		}
		p.Counts = append(p.Counts, c)
	}
	return p
}

// --- the jobs list ---

type jobRow struct {
	Job      iotdm.JobSummary
	Progress jobProgress
	Err      string
}

type jobsData struct {
	Jobs     []jobRow
	Status   string // the job status filter
	Statuses []string
	Next     string
	Page     int
}

func (c *console) jobs(w http.ResponseWriter, r *http.Request, sess *session) {
	if c.deps.Jobs == nil {
		c.serviceError(w, r, sess, "list jobs", unavailable("Jobs"))
		return
	}
	q := r.URL.Query()
	d := jobsData{Statuses: jobStatuses, Page: 1}
	if s := q.Get("status"); slices.Contains(jobStatuses, s) {
		d.Status = s
	}
	token := q.Get("token")
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 1 && token != "" {
		d.Page = n
	}
	ctx := r.Context()
	out, err := c.deps.Jobs.ListJobs(ctx, &iotdm.ListJobsInput{Status: d.Status, MaxResults: jobsPageSize, NextToken: token})
	if err != nil {
		c.serviceError(w, r, sess, "list jobs", err)
		return
	}
	d.Next = out.NextToken
	for _, j := range out.Jobs {
		row := jobRow{Job: j}
		if dj, err := c.deps.Jobs.DescribeJob(ctx, &iotdm.DescribeJobInput{JobID: j.JobID}); err != nil {
			_, row.Err = c.describe("describe job", err)
		} else if dj.Job != nil {
			row.Progress = progressOf(dj.Job.JobProcessDetails)
		}
		d.Jobs = append(d.Jobs, row)
	}
	sort.SliceStable(d.Jobs, func(i, j int) bool { return d.Jobs[i].Job.CreatedAt.After(d.Jobs[j].Job.CreatedAt.Time) })
	c.render(w, r, sess, http.StatusOK, "jobs", "Jobs", "jobs", d)
}

// --- a job ---

type jobTarget struct {
	ARN  string
	Name string
	Link string // console page of the thing or group; "" for another target
}

type execRow struct {
	Thing      string // the thing's name
	ThingARN   string
	Summary    iotdm.JobExecutionSummary
	Details    []kv // the execution's statusDetails
	DetailsErr string
}

type jobData struct {
	Job        iotdm.Job
	Targets    []jobTarget
	Document   string
	DocErr     string
	Progress   jobProgress
	Executions []execRow
	ExecErr    string
	Status     string // the execution status filter
	Next       string
	Page       int
	Cancelable bool
}

func (c *console) job(w http.ResponseWriter, r *http.Request, sess *session) {
	id := r.PathValue("jobId")
	if c.deps.Jobs == nil {
		c.serviceError(w, r, sess, "describe job", unavailable("Jobs"))
		return
	}
	ctx := r.Context()
	out, err := c.deps.Jobs.DescribeJob(ctx, &iotdm.DescribeJobInput{JobID: id})
	if err == nil && out.Job == nil {
		err = iotdm.Errorf(iotdm.ErrResourceNotFound, "Job %s does not exist", id)
	}
	if err != nil {
		c.serviceError(w, r, sess, "describe job", err)
		return
	}
	q := r.URL.Query()
	d := jobData{Job: *out.Job, Progress: progressOf(out.Job.JobProcessDetails), Page: 1}
	d.Cancelable = d.Job.Status == iotdm.JobInProgress || d.Job.Status == iotdm.JobScheduled
	for _, t := range d.Job.Targets {
		d.Targets = append(d.Targets, c.jobTarget(t))
	}
	if doc, err := c.deps.Jobs.GetJobDocument(ctx, &iotdm.GetJobDocumentInput{JobID: id}); err != nil {
		_, d.DocErr = c.describe("get job document", err)
	} else {
		d.Document = prettyJSON(doc.Document)
	}
	if s := q.Get("status"); slices.Contains(iotdm.ExecutionStatuses, s) {
		d.Status = s
	}
	token := q.Get("token")
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 1 && token != "" {
		d.Page = n
	}
	ex, err := c.deps.Jobs.ListJobExecutionsForJob(ctx, &iotdm.ListJobExecutionsForJobInput{JobID: id, Status: d.Status, MaxResults: jobsPageSize, NextToken: token})
	if err != nil {
		_, d.ExecErr = c.describe("list job executions", err)
	} else {
		d.Next = ex.NextToken
		for _, e := range ex.ExecutionSummaries {
			row := execRow{Thing: thingNameOf(e.ThingARN), ThingARN: e.ThingARN, Summary: e.JobExecutionSummary}
			if row.Thing != "" {
				n := e.JobExecutionSummary.ExecutionNumber
				de, err := c.deps.Jobs.DescribeJobExecution(ctx, &iotdm.DescribeJobExecutionInput{JobID: id, ThingName: row.Thing, ExecutionNumber: &n})
				if err != nil {
					_, row.DetailsErr = c.describe("describe job execution", err)
				} else if de.Execution != nil && de.Execution.StatusDetails != nil {
					row.Details = sortedKV(de.Execution.StatusDetails.DetailsMap)
				}
			}
			d.Executions = append(d.Executions, row)
		}
	}
	c.render(w, r, sess, http.StatusOK, "job", d.Job.JobID, "jobs", d)
}

func (c *console) jobTarget(arn string) jobTarget {
	t := jobTarget{ARN: arn, Name: arn}
	if name := thingNameOf(arn); name != "" {
		t.Name, t.Link = name, c.path("things/"+pathSeg(name))
	} else if i := strings.LastIndex(arn, ":thinggroup/"); i >= 0 {
		name := arn[i+len(":thinggroup/"):]
		t.Name, t.Link = name, c.path("groups/"+pathSeg(name))
	}
	return t
}

// thingNameOf returns the name of a thing ARN (…:thing/{name}), or "".
func thingNameOf(arn string) string {
	i := strings.LastIndex(arn, ":thing/")
	if i < 0 {
		return ""
	}
	return arn[i+len(":thing/"):]
}

// cancelJob cancels a job: its queued executions, and with force its
// in-progress ones too.
func (c *console) cancelJob(w http.ResponseWriter, r *http.Request, sess *session) {
	id := r.PathValue("jobId")
	back := c.path("jobs/" + pathSeg(id))
	if c.deps.Jobs == nil {
		c.serviceError(w, r, sess, "cancel job", unavailable("Jobs"))
		return
	}
	in := &iotdm.CancelJobInput{
		JobID:      id,
		ReasonCode: strings.TrimSpace(r.PostFormValue("reasonCode")),
		Comment:    strings.TrimSpace(r.PostFormValue("comment")),
		Force:      r.PostFormValue("force") != "",
	}
	if _, err := c.deps.Jobs.CancelJob(r.Context(), in); err != nil {
		_, msg := c.describe("cancel job", err)
		sess.addFlash("error", msg)
	} else if in.Force {
		sess.addFlash("ok", "Job "+id+" is canceled, with its in-progress executions.")
	} else {
		sess.addFlash("ok", "Job "+id+" is canceled; executions already in progress may finish.")
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}
