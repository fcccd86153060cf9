package awsapi

import (
	"reflect"
	"slices"
	"testing"

	"github.com/iotdm/iotdm"
)

// nopJobs and nopJobsData stand in for the services where only the route
// tables matter; calling them panics.
type nopJobs struct{ iotdm.Jobs }
type nopJobsData struct{ iotdm.JobsData }

func TestJobsRoutesCoverServices(t *testing.T) {
	checkRoutesCover(t, JobsRoutes(nopJobs{}), reflect.TypeFor[iotdm.Jobs]())
	checkRoutesCover(t, jobsDataRoutes(nopJobsData{}), reflect.TypeFor[iotdm.JobsData]())
}

// checkRoutesAgainstModel holds routes to a botocore model: method, URI
// template, and the binding tags and JSON member names of input and output.
func checkRoutesAgainstModel(t *testing.T, m *serviceModel, routes []Route) {
	t.Helper()
	for _, r := range routes {
		t.Run(r.Name, func(t *testing.T) {
			op, ok := m.Operations[r.Name]
			if !ok {
				t.Fatalf("no operation %s in the model", r.Name)
			}
			if r.Method != op.HTTP.Method || r.Path != op.HTTP.RequestURI {
				t.Errorf("route %s %s, model %s %s", r.Method, r.Path, op.HTTP.Method, op.HTTP.RequestURI)
			}
			checkInput(t, m, r.Input, op.Input.Shape)
			if r.Output == reflect.TypeFor[iotdm.Empty]() {
				if op.Output != nil && len(m.Shapes[op.Output.Shape].Members) > 0 {
					t.Errorf("%s returns Empty but the model's %s has members", r.Name, op.Output.Shape)
				}
				return
			}
			if op.Output == nil {
				t.Fatalf("%s returns %v but the model has no output", r.Name, r.Output)
			}
			checkPayload(t, m, r.Output, op.Output.Shape)
			checkBody(t, m, r.Output, op.Output.Shape, r.Output.Name())
		})
	}
}

// TestJobsRoutesMatchModel holds the jobs routes to the botocore iot model
// and checks they compile beside every other route of the endpoint.
func TestJobsRoutesMatchModel(t *testing.T) {
	routes := JobsRoutes(nopJobs{})
	endpoint := slices.DeleteFunc(allIoTRoutes(), func(r Route) bool {
		return slices.ContainsFunc(routes, func(m Route) bool { return m.Name == r.Name })
	})
	NewRestJSON(append(endpoint, routes...)) // panics on a collision
	checkRoutesAgainstModel(t, loadModel(t, "iot", "2015-05-28"), routes)
}

// TestJobsDataRoutesMatchModel holds NewIoTJobsData to the botocore
// iot-jobs-data model, its signing name and its error statuses.
func TestJobsDataRoutesMatchModel(t *testing.T) {
	m := loadModel(t, "iot-jobs-data", "2017-09-29")
	if m.Metadata.Protocol != "rest-json" || m.Metadata.SigningName != JobsDataSigningName {
		t.Fatalf("model metadata %+v, want rest-json signed as %s", m.Metadata, JobsDataSigningName)
	}
	checkRoutesAgainstModel(t, m, jobsDataRoutes(nopJobsData{}))
	h := NewIoTJobsData(nopJobsData{}).(jobsDataHandler)
	for name, s := range m.Shapes {
		if !s.Exception {
			continue
		}
		got, ok := h.status[iotdm.ErrorCode(name)]
		if !ok {
			got = StatusOf(iotdm.ErrorCode(name))
		}
		if got != s.Error.HTTPStatusCode {
			t.Errorf("%s is sent as %d, the model says %d", name, got, s.Error.HTTPStatusCode)
		}
	}
}
