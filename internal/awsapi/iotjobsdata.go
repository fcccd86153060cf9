package awsapi

import (
	"net/http"
	"strings"

	"github.com/iotdm/iotdm"
)

// JobsDataSigningName is the signing name of the jobs data plane (the
// botocore iot-jobs-data model's signingName); register NewIoTJobsData
// under it.
const JobsDataSigningName = "iot-jobs-data"

// NewIoTJobsData returns the handler of the AWS IoT jobs data plane
// (iot-jobs-data, 2017-09-29): the device side of AWS IoT Jobs over HTTPS,
// one route per iotdm.JobsData method with the method and URI template of
// the botocore model.
//
// The model's statuses differ from the default table in two codes:
// ThrottlingException is 429 and TerminalStateException 410.
func NewIoTJobsData(svc iotdm.JobsData) http.Handler {
	return jobsDataHandler{NewRestJSON(jobsDataRoutes(svc),
		WithStatus(iotdm.ErrThrottling, http.StatusTooManyRequests),
		WithStatus(iotdm.ErrTerminalState, http.StatusGone))}
}

// jobsDataRoutes is the route table of NewIoTJobsData.
func jobsDataRoutes(svc iotdm.JobsData) []Route {
	return []Route{
		Op("DescribeJobExecution", http.MethodGet, "/things/{thingName}/jobs/{jobId}", svc.DescribeJobExecution),
		Op("GetPendingJobExecutions", http.MethodGet, "/things/{thingName}/jobs", svc.GetPendingJobExecutions),
		Op("StartNextPendingJobExecution", http.MethodPut, "/things/{thingName}/jobs/$next", svc.StartNextPendingJobExecution),
		Op("UpdateJobExecution", http.MethodPost, "/things/{thingName}/jobs/{jobId}", svc.UpdateJobExecution),
	}
}

// jobsDataHandler routes a percent-encoded $next ("%24next", as a client
// that escapes '$' sends it) like the literal segment of
// StartNextPendingJobExecution's template.
type jobsDataHandler struct{ *RestJSON }

func (h jobsDataHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p, _, _ := strings.Cut(r.RequestURI, "?"); len(p) > 8 && strings.EqualFold(p[len(p)-8:], "/%24next") {
		r2 := r.Clone(r.Context())
		r2.RequestURI = p[:len(p)-8] + "/$next" + strings.TrimPrefix(r.RequestURI, p)
		r = r2
	}
	h.RestJSON.ServeHTTP(w, r)
}
