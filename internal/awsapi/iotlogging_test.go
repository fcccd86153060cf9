package awsapi

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/iotdm/iotdm"
)

// stubIoTLogging is an iotdm.IoTLogging whose operations answer empty
// outputs, for the route table checks.
type stubIoTLogging struct{}

var _ iotdm.IoTLogging = stubIoTLogging{}

func (stubIoTLogging) SetV2LoggingOptions(context.Context, *iotdm.SetV2LoggingOptionsInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, nil
}

func (stubIoTLogging) GetV2LoggingOptions(context.Context, *iotdm.GetV2LoggingOptionsInput) (*iotdm.GetV2LoggingOptionsOutput, error) {
	return &iotdm.GetV2LoggingOptionsOutput{}, nil
}

func (stubIoTLogging) SetV2LoggingLevel(context.Context, *iotdm.SetV2LoggingLevelInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, nil
}

func (stubIoTLogging) ListV2LoggingLevels(context.Context, *iotdm.ListV2LoggingLevelsInput) (*iotdm.ListV2LoggingLevelsOutput, error) {
	return &iotdm.ListV2LoggingLevelsOutput{}, nil
}

func (stubIoTLogging) DeleteV2LoggingLevel(context.Context, *iotdm.DeleteV2LoggingLevelInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, nil
}

func TestLoggingRoutesCoverService(t *testing.T) {
	checkRoutesCover(t, LoggingRoutes(stubIoTLogging{}), reflect.TypeFor[iotdm.IoTLogging]())
}

// TestLoggingRoutesMatchModel holds the routes to the botocore iot model
// and checks they compile beside every other route of the endpoint.
func TestLoggingRoutesMatchModel(t *testing.T) {
	routes := LoggingRoutes(stubIoTLogging{})
	endpoint := slices.DeleteFunc(allIoTRoutes(), func(r Route) bool {
		return slices.ContainsFunc(routes, func(m Route) bool { return m.Name == r.Name })
	})
	NewRestJSON(append(endpoint, routes...))
	m := loadModel(t, "iot", "2015-05-28")
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
