package awsapi

import (
	"net/http"

	"github.com/iotdm/iotdm"
)

// JobsRoutes are the routes of the AWS IoT Jobs control plane (jobs, job
// executions and job templates) on the AWS IoT endpoint, with the methods
// and URI templates of the botocore iot model; pass them to NewIoT.
func JobsRoutes(svc iotdm.Jobs) []Route {
	const (
		get, put, patch, del = http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete
	)
	return []Route{
		Op("CreateJob", put, "/jobs/{jobId}", svc.CreateJob),
		Op("DescribeJob", get, "/jobs/{jobId}", svc.DescribeJob),
		Op("ListJobs", get, "/jobs", svc.ListJobs),
		Op("UpdateJob", patch, "/jobs/{jobId}", svc.UpdateJob),
		Op("CancelJob", put, "/jobs/{jobId}/cancel", svc.CancelJob),
		Op("DeleteJob", del, "/jobs/{jobId}", svc.DeleteJob),
		Op("GetJobDocument", get, "/jobs/{jobId}/job-document", svc.GetJobDocument),
		Op("ListJobExecutionsForJob", get, "/jobs/{jobId}/things", svc.ListJobExecutionsForJob),

		Op("DescribeJobExecution", get, "/things/{thingName}/jobs/{jobId}", svc.DescribeJobExecution),
		Op("CancelJobExecution", put, "/things/{thingName}/jobs/{jobId}/cancel", svc.CancelJobExecution),
		Op("DeleteJobExecution", del, "/things/{thingName}/jobs/{jobId}/executionNumber/{executionNumber}", svc.DeleteJobExecution),
		Op("ListJobExecutionsForThing", get, "/things/{thingName}/jobs", svc.ListJobExecutionsForThing),

		Op("CreateJobTemplate", put, "/job-templates/{jobTemplateId}", svc.CreateJobTemplate),
		Op("DescribeJobTemplate", get, "/job-templates/{jobTemplateId}", svc.DescribeJobTemplate),
		Op("ListJobTemplates", get, "/job-templates", svc.ListJobTemplates),
		Op("DeleteJobTemplate", del, "/job-templates/{jobTemplateId}", svc.DeleteJobTemplate),
	}
}
