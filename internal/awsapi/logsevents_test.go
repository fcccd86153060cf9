package awsapi

import (
	"context"
	"reflect"
	"testing"

	"github.com/iotdm/iotdm"
)

// stubLogEvents is an iotdm.LogEvents whose operations answer empty
// outputs, for the operation table checks.
type stubLogEvents struct{}

var _ iotdm.LogEvents = stubLogEvents{}

func (stubLogEvents) CreateLogStream(context.Context, *iotdm.CreateLogStreamInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, nil
}

func (stubLogEvents) DeleteLogStream(context.Context, *iotdm.DeleteLogStreamInput) (*iotdm.Empty, error) {
	return &iotdm.Empty{}, nil
}

func (stubLogEvents) DescribeLogStreams(context.Context, *iotdm.DescribeLogStreamsInput) (*iotdm.DescribeLogStreamsOutput, error) {
	return &iotdm.DescribeLogStreamsOutput{}, nil
}

func (stubLogEvents) PutLogEvents(context.Context, *iotdm.PutLogEventsInput) (*iotdm.PutLogEventsOutput, error) {
	return &iotdm.PutLogEventsOutput{}, nil
}

func (stubLogEvents) GetLogEvents(context.Context, *iotdm.GetLogEventsInput) (*iotdm.GetLogEventsOutput, error) {
	return &iotdm.GetLogEventsOutput{}, nil
}

func (stubLogEvents) FilterLogEvents(context.Context, *iotdm.FilterLogEventsInput) (*iotdm.FilterLogEventsOutput, error) {
	return &iotdm.FilterLogEventsOutput{}, nil
}

func TestLogEventsOpsCoverService(t *testing.T) {
	svc := reflect.TypeFor[iotdm.LogEvents]()
	ops := LogEventsOps(stubLogEvents{})
	names := map[string]bool{}
	for _, op := range ops {
		names[op.Name] = true
	}
	for i := range svc.NumMethod() {
		if name := svc.Method(i).Name; !names[name] {
			t.Errorf("%s.%s has no operation", svc.Name(), name)
		}
	}
	if len(ops) != svc.NumMethod() {
		t.Errorf("%d operations for %d methods", len(ops), svc.NumMethod())
	}
	// One endpoint serves both services; NewJSONRPC panics on a name
	// listed twice.
	all := NewLogsWithEvents(&fakeLogs{}, stubLogEvents{}).(*JSONRPC).Ops()
	if want := len(ops) + reflect.TypeFor[iotdm.LogGroups]().NumMethod(); len(all) != want {
		t.Errorf("NewLogsWithEvents serves %d operations, want %d", len(all), want)
	}
}

// TestLogEventsOpsMatchModel checks the operations against the botocore
// logs model as TestLogsOpsMatchModel does for the log groups.
func TestLogEventsOpsMatchModel(t *testing.T) {
	m := loadModel(t, "logs", "2014-03-28")
	for _, op := range LogEventsOps(stubLogEvents{}) {
		t.Run(op.Name, func(t *testing.T) {
			mop, ok := m.Operations[op.Name]
			if !ok {
				t.Fatalf("no operation %s in the model", op.Name)
			}
			checkBody(t, m, op.Input, mop.Input.Shape, op.Input.Name())
			if op.Output == reflect.TypeFor[iotdm.Empty]() {
				if mop.Output != nil && len(m.Shapes[mop.Output.Shape].Members) > 0 {
					t.Errorf("%s returns Empty but the model's %s has members", op.Name, mop.Output.Shape)
				}
				return
			}
			if mop.Output == nil {
				t.Fatalf("%s returns %v but the model has no output", op.Name, op.Output)
			}
			checkBody(t, m, op.Output, mop.Output.Shape, op.Output.Name())
		})
	}
}
