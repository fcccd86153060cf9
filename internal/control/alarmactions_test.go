package control_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/control"
)

// logEvents records the events of log group actions.
type logEvents struct {
	events []string // "group stream time message"
	err    error
}

func (l *logEvents) PutEvent(_ context.Context, group, stream string, t time.Time, message string) error {
	if l.err != nil {
		return l.err
	}
	l.events = append(l.events, group+" "+stream+" "+t.UTC().Format(time.RFC3339)+" "+message)
	return nil
}

// webhook is an HTTP server that answers each request with the next of
// its statuses (200 once they run out) and records the bodies.
type webhook struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	bodies   []string
	types    []string
	hit      chan struct{} // a value for each request
}

func newWebhook(t *testing.T, statuses ...int) *webhook {
	w := &webhook{statuses: statuses, hit: make(chan struct{}, 16)}
	w.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.mu.Lock()
		defer w.mu.Unlock()
		w.bodies = append(w.bodies, string(b))
		w.types = append(w.types, r.Method+" "+r.Header.Get("Content-Type"))
		status := http.StatusOK
		if len(w.statuses) > 0 {
			status, w.statuses = w.statuses[0], w.statuses[1:]
		}
		rw.WriteHeader(status)
		if status != http.StatusOK {
			io.WriteString(rw, "try later")
		}
		select {
		case w.hit <- struct{}{}:
		default:
		}
	}))
	t.Cleanup(w.Close)
	return w
}

// actionChange is a state change of an alarm with the given ALARM actions.
func actionChange(actions ...string) control.AlarmStateChange {
	return control.AlarmStateChange{
		OldState: "OK",
		Alarm: iotdm.MetricAlarm{
			AlarmName:                          "north",
			AlarmArn:                           "arn:aws:cloudwatch:us-east-1:123456789012:alarm:north",
			AlarmConfigurationUpdatedTimestamp: iotdm.Timestamp{Time: ts(11, 0, 0)},
			ActionsEnabled:                     true,
			OKActions:                          []string{},
			AlarmActions:                       actions,
			InsufficientDataActions:            []string{},
			StateValue:                         "ALARM",
			StateReason:                        "Threshold Crossed: 1 datapoint [4.0 (01/03/26 11:55:00)] was less than the threshold (10.0).",
			StateUpdatedTimestamp:              iotdm.Timestamp{Time: ts(12, 0, 5)},
			StateTransitionedTimestamp:         iotdm.Timestamp{Time: ts(12, 0, 5)},
			MetricName:                         "ConnectedDevices",
			Namespace:                          "IoTFleetMetrics",
			Statistic:                          "Average",
			Dimensions:                         []iotdm.Dimension{{Name: "Fleet", Value: "north"}},
			Period:                             300,
			EvaluationPeriods:                  1,
			Threshold:                          monFloat(10),
			ComparisonOperator:                 "LessThanThreshold",
		},
	}
}

// wantNotification is AWS's SNS alarm notification of actionChange.
const wantNotification = `{"AlarmName":"north","AlarmDescription":null,"AWSAccountId":"123456789012",` +
	`"AlarmConfigurationUpdatedTimestamp":"2026-03-01T11:00:00.000+0000","NewStateValue":"ALARM",` +
	`"NewStateReason":"Threshold Crossed: 1 datapoint [4.0 (01/03/26 11:55:00)] was less than the threshold (10.0).",` +
	`"StateChangeTime":"2026-03-01T12:00:05.000+0000","Region":"US East (N. Virginia)",` +
	`"AlarmArn":"arn:aws:cloudwatch:us-east-1:123456789012:alarm:north","OldStateValue":"OK","OKActions":[],"AlarmActions":ACTIONS,` +
	`"InsufficientDataActions":[],"Trigger":{"MetricName":"ConnectedDevices","Namespace":"IoTFleetMetrics","StatisticType":"Statistic",` +
	`"Statistic":"AVERAGE","Unit":null,"Dimensions":[{"value":"north","name":"Fleet"}],"Period":300,"EvaluationPeriods":1,` +
	`"ComparisonOperator":"LessThanThreshold","Threshold":10.0,"TreatMissingData":"missing","EvaluateLowSampleCountPercentile":""}}`

func notificationOf(actions ...string) string {
	b, _ := json.Marshal(actions)
	return strings.Replace(wantNotification, "ACTIONS", string(b), 1)
}

type actionsFixture struct {
	*alarmFixture
	bus     *memoryBus
	logs    *logEvents
	actions *control.AlarmActions
}

func newActionsFixture(t *testing.T, opts control.AlarmActionsOptions) *actionsFixture {
	f := &actionsFixture{alarmFixture: newAlarmFixture(t), bus: &memoryBus{}, logs: &logEvents{}}
	f.now = ts(12, 0, 6)
	opts.Region, opts.AccountID, opts.Now = monRegion, monAccount, func() time.Time { return f.now }
	if opts.Bus == nil {
		opts.Bus = f.bus
	}
	if opts.Logs == nil {
		opts.Logs = f.logs
	}
	if opts.WebhookRetryDelay == 0 {
		opts.WebhookRetryDelay = -1
	}
	f.actions = control.NewAlarmActions(f.db, opts)
	return f
}

func (f *actionsFixture) execute(t *testing.T, c control.AlarmStateChange) {
	t.Helper()
	if err := f.actions.Execute(t.Context(), c); err != nil {
		t.Fatalf("Execute: %v", err)
	}
}

// actionHistory returns the Action items of alarm north, oldest first.
func (f *actionsFixture) actionHistory(t *testing.T) []iotdm.AlarmHistoryItem {
	t.Helper()
	out, err := f.ops.DescribeAlarmHistory(t.Context(), &iotdm.DescribeAlarmHistoryInput{
		AlarmName: "north", HistoryItemType: "Action", ScanBy: iotdm.ScanByTimestampAscending})
	if err != nil {
		t.Fatal(err)
	}
	return out.AlarmHistoryItems
}

func TestAlarmActionsEveryKind(t *testing.T) {
	hook := newWebhook(t)
	f := newActionsFixture(t, control.AlarmActionsOptions{})
	actions := []string{
		"arn:aws:iot:us-east-1:123456789012:topic/fleet/alerts",
		"arn:aws:sns:us-east-1:123456789012:ops",
		"arn:aws:logs:us-east-1:123456789012:log-group:/iotdm/alarms:*",
		hook.URL + "/hook",
		"arn:aws:automate:us-east-1:ec2:stop",
	}
	f.execute(t, actionChange(actions...))
	msg := notificationOf(actions...)

	var published []string
	for _, m := range f.bus.published {
		published = append(published, m.Topic)
		if string(m.Payload) != msg || m.QoS != 1 || m.Retain {
			t.Errorf("published to %s: qos %d retain %v %s\nwant qos 1, not retained, %s", m.Topic, m.QoS, m.Retain, m.Payload, msg)
		}
	}
	if want := []string{"fleet/alerts", "iotdm/sns/ops"}; !cmp.Equal(published, want) {
		t.Errorf("published to %v, want %v", published, want)
	}
	if want := []string{"/iotdm/alarms north 2026-03-01T12:00:05Z " + msg}; !cmp.Equal(f.logs.events, want) {
		t.Errorf("log events = %v, want %v", f.logs.events, want)
	}
	if !cmp.Equal(hook.bodies, []string{msg}) || !cmp.Equal(hook.types, []string{"POST application/json"}) {
		t.Errorf("webhook got %v %v, want one POST of %s", hook.types, hook.bodies, msg)
	}

	var got []string
	for _, h := range f.actionHistory(t) {
		got = append(got, h.HistorySummary)
		if h.AlarmType != "MetricAlarm" || !h.Timestamp.Equal(ts(12, 0, 6)) {
			t.Errorf("history item %+v, want a MetricAlarm item at 12:00:06", h)
		}
	}
	want := []string{
		"Successfully executed action arn:aws:iot:us-east-1:123456789012:topic/fleet/alerts",
		"Successfully executed action arn:aws:sns:us-east-1:123456789012:ops",
		"Successfully executed action arn:aws:logs:us-east-1:123456789012:log-group:/iotdm/alarms:*",
		"Successfully executed action " + hook.URL + "/hook",
		`Failed to execute action arn:aws:automate:us-east-1:ec2:stop. Received error: "iotdm does not support the action arn:aws:automate:us-east-1:ec2:stop"`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("action history mismatch (-want +got):\n%s", diff)
	}
	var data map[string]any
	if err := json.Unmarshal([]byte(f.actionHistory(t)[1].HistoryData), &data); err != nil {
		t.Fatal(err)
	}
	wantData := map[string]any{"actionState": "Succeeded", "notificationResource": "arn:aws:sns:us-east-1:123456789012:ops",
		"stateUpdateTimestamp": float64(ts(12, 0, 5).UnixMilli()), "publishedMessage": msg}
	if diff := cmp.Diff(wantData, data); diff != "" {
		t.Errorf("HistoryData mismatch (-want +got):\n%s", diff)
	}
}

func TestAlarmActionsWebhookRetry(t *testing.T) {
	t.Run("second attempt succeeds", func(t *testing.T) {
		hook := newWebhook(t, http.StatusServiceUnavailable)
		f := newActionsFixture(t, control.AlarmActionsOptions{})
		f.execute(t, actionChange(hook.URL))
		if len(hook.bodies) != 2 {
			t.Errorf("webhook requests = %d, want 2", len(hook.bodies))
		}
		if h := f.actionHistory(t); len(h) != 1 || !strings.HasPrefix(h[0].HistorySummary, "Successfully") {
			t.Errorf("history = %+v, want one success", h)
		}
	})
	t.Run("both attempts fail", func(t *testing.T) {
		hook := newWebhook(t, http.StatusInternalServerError, http.StatusBadGateway)
		f := newActionsFixture(t, control.AlarmActionsOptions{})
		f.execute(t, actionChange(hook.URL))
		if len(hook.bodies) != 2 {
			t.Errorf("webhook requests = %d, want 2", len(hook.bodies))
		}
		h := f.actionHistory(t)
		want := "Failed to execute action " + hook.URL + `. Received error: "502 Bad Gateway: try later"`
		if len(h) != 1 || h[0].HistorySummary != want || !strings.Contains(h[0].HistoryData, `"actionState":"Failed"`) {
			t.Errorf("history = %+v, want one failure %q", h, want)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		hook := newWebhook(t)
		hook.Close()
		f := newActionsFixture(t, control.AlarmActionsOptions{})
		f.execute(t, actionChange(hook.URL))
		if h := f.actionHistory(t); len(h) != 1 || !strings.HasPrefix(h[0].HistorySummary, "Failed to execute action http://") {
			t.Errorf("history = %+v, want one failure", h)
		}
	})
}

func TestAlarmActionsByState(t *testing.T) {
	f := newActionsFixture(t, control.AlarmActionsOptions{PublishStateChanges: true})
	c := actionChange("arn:aws:sns:us-east-1:123456789012:alarm")
	c.Alarm.OKActions = []string{"arn:aws:sns:us-east-1:123456789012:ok"}
	c.Alarm.InsufficientDataActions = []string{"arn:aws:sns:us-east-1:123456789012:nodata"}
	for _, state := range []string{"OK", "ALARM", "INSUFFICIENT_DATA"} {
		c.Alarm.StateValue = state
		f.execute(t, c)
	}
	c.Alarm.ActionsEnabled = false
	f.execute(t, c)
	var got []string
	for _, m := range f.bus.published {
		got = append(got, m.Topic)
	}
	want := []string{
		"iotdm/alarms/north", "iotdm/sns/ok",
		"iotdm/alarms/north", "iotdm/sns/alarm",
		"iotdm/alarms/north", "iotdm/sns/nodata",
		"iotdm/alarms/north", // actions disabled: the state change still published
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("published topics mismatch (-want +got):\n%s", diff)
	}
	if h := f.actionHistory(t); len(h) != 3 {
		t.Errorf("action history = %d items, want 3", len(h))
	}
}

func TestAlarmActionsUnconfigured(t *testing.T) {
	f := newActionsFixture(t, control.AlarmActionsOptions{})
	f.actions = control.NewAlarmActions(f.db, control.AlarmActionsOptions{Logs: &logEvents{err: errors.New("no such log group")}, Now: func() time.Time { return f.now }})
	f.execute(t, actionChange("arn:aws:iot:us-east-1:123456789012:topic/a", "arn:aws:logs:us-east-1:123456789012:log-group:g",
		"arn:aws:iot:us-east-1:123456789012:topic"))
	var got []string
	for _, h := range f.actionHistory(t) {
		got = append(got, h.HistorySummary)
	}
	want := []string{
		`Failed to execute action arn:aws:iot:us-east-1:123456789012:topic/a. Received error: "MQTT actions are not configured"`,
		`Failed to execute action arn:aws:logs:us-east-1:123456789012:log-group:g. Received error: "no such log group"`,
		`Failed to execute action arn:aws:iot:us-east-1:123456789012:topic. Received error: "iotdm does not support the action arn:aws:iot:us-east-1:123456789012:topic"`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("action history mismatch (-want +got):\n%s", diff)
	}
}

// TestAlarmActionsQueue: Enqueue hands changes to Run, which runs them in
// order.
func TestAlarmActionsQueue(t *testing.T) {
	hook := newWebhook(t)
	f := newActionsFixture(t, control.AlarmActionsOptions{})
	f.actions.Enqueue(actionChange(hook.URL))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- f.actions.Run(ctx) }()
	select {
	case <-hook.hit:
	case err := <-done:
		t.Fatalf("Run returned %v before running the action", err)
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
}
