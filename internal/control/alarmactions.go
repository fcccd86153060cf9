package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/alarm"
)

// Alarm actions. When an alarm changes state, the actions of its new state
// (AlarmActions, OKActions or InsufficientDataActions) run if the alarm's
// ActionsEnabled is true. iotdm runs them without other AWS services; each
// action string is one of:
//
//   - arn:aws:iot:{region}:{account}:topic/{topic}: publishes the
//     notification to the MQTT topic {topic} (QoS 1, not retained).
//   - arn:aws:sns:{region}:{account}:{snsTopic}: iotdm has no SNS; it
//     publishes the notification to the MQTT topic iotdm/sns/{snsTopic}, so
//     templates written for AWS keep working and subscribers of that topic
//     receive what SNS subscribers would.
//   - arn:aws:logs:{region}:{account}:log-group:{name} (a trailing ":*" is
//     allowed): writes the notification as one log event to the log group,
//     in the log stream named after the alarm (':' and '*' become '_').
//   - http://... or https://...: POSTs the notification as
//     application/json; a transport error or a status other than 2xx is
//     retried once; each attempt has 5 seconds.
//
// Any other action (EC2, Auto Scaling, Systems Manager, Lambda...) fails.
// Every action, run or failed, leaves an "Action" history item, as AWS's do:
// "Successfully executed action {action}" or "Failed to execute action
// {action}. Received error: "{error}"".
//
// The notification is AWS's SNS alarm notification: AlarmName,
// AlarmDescription, AWSAccountId, AlarmConfigurationUpdatedTimestamp,
// NewStateValue, NewStateReason, StateChangeTime, Region (its long name),
// AlarmArn, OldStateValue, OKActions, AlarmActions,
// InsufficientDataActions and Trigger (the metric, statistic, period,
// evaluation periods, comparison, threshold and missing-data treatment).
//
// With PublishStateChanges, every state change (actions enabled or not) is
// also published to the MQTT topic iotdm/alarms/{alarmName}, the way AWS
// emits a "CloudWatch Alarm State Change" event for each.

// AlarmStateTopicPrefix is the MQTT topic prefix of PublishStateChanges
// (iotdm/alarms/{alarmName}); SNSTopicPrefix the topic prefix SNS actions
// publish under (iotdm/sns/{snsTopic}).
const (
	AlarmStateTopicPrefix = "iotdm/alarms/"
	SNSTopicPrefix        = "iotdm/sns/"
)

const (
	defaultActionQueue       = 1024
	webhookAttemptTimeout    = 5 * time.Second
	defaultWebhookRetryDelay = time.Second
	maxHistorySummaryLen     = 255  // HistorySummary
	maxHistoryDataLen        = 4095 // HistoryData
	maxWebhookErrorBody      = 256
)

// LogWriter writes one event to a log stream of a log group, creating the
// stream if it does not exist. The log events service implements it.
type LogWriter interface {
	PutEvent(ctx context.Context, group, stream string, t time.Time, message string) error
}

// AlarmStateChange is one change of an alarm's state, what its actions are
// told about.
type AlarmStateChange struct {
	// Alarm is the alarm after the change.
	Alarm    iotdm.MetricAlarm
	OldState string
}

// AlarmStateNotifier is told about alarm state changes, without waiting
// for their actions. AlarmActions is one.
type AlarmStateNotifier interface {
	Enqueue(AlarmStateChange)
}

var _ AlarmStateNotifier = (*AlarmActions)(nil)

// AlarmActionsOptions configures AlarmActions.
type AlarmActionsOptions struct {
	Region    string
	AccountID string
	// Bus carries the MQTT actions; nil makes them fail.
	Bus MessageBus
	// Logs carries the log group actions; nil makes them fail.
	Logs LogWriter
	// HTTPClient posts the webhooks; nil means http.DefaultClient. Each
	// attempt has its own 5-second deadline.
	HTTPClient *http.Client
	// WebhookRetryDelay is the pause before a webhook's retry; 0 means one
	// second, a negative value none.
	WebhookRetryDelay time.Duration
	// PublishStateChanges publishes every state change to
	// iotdm/alarms/{alarmName}.
	PublishStateChanges bool
	// QueueSize is how many state changes may wait for Run; 0 means 1024.
	QueueSize int
	Logger    *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// AlarmActions runs the actions of alarm state changes and records them in
// the alarm history. Enqueue hands it a change; Run, which its caller owns,
// executes them in order.
type AlarmActions struct {
	store iotdm.Store
	opts  AlarmActionsOptions
	log   *slog.Logger
	queue chan AlarmStateChange
}

// NewAlarmActions returns the action runner over store, where it records
// the Action history items.
func NewAlarmActions(store iotdm.Store, opts AlarmActionsOptions) *AlarmActions {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = http.DefaultClient
	}
	if opts.WebhookRetryDelay == 0 {
		opts.WebhookRetryDelay = defaultWebhookRetryDelay
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = defaultActionQueue
	}
	return &AlarmActions{store: store, opts: opts, log: opts.Logger.With("component", "alarm-actions"),
		queue: make(chan AlarmStateChange, opts.QueueSize)}
}

// Enqueue hands a state change to Run without waiting. When the queue is
// full the change's actions are dropped and logged.
func (a *AlarmActions) Enqueue(c AlarmStateChange) {
	select {
	case a.queue <- c:
	default:
		a.log.Warn("alarm action queue full; actions dropped", "alarm", c.Alarm.AlarmName, "state", c.Alarm.StateValue)
	}
}

// Run executes the queued state changes until ctx ends, and returns ctx's
// error; changes still queued then are not run. Call it once.
func (a *AlarmActions) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case c := <-a.queue:
			if err := a.Execute(ctx, c); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				a.log.Warn("record alarm actions", "alarm", c.Alarm.AlarmName, "err", err)
			}
		}
	}
}

// Execute runs the actions of one state change now and records an Action
// history item for each. It returns only the error of recording them: a
// failed action is history, not an error.
func (a *AlarmActions) Execute(ctx context.Context, c AlarmStateChange) error {
	msg, err := a.notification(c)
	if err != nil {
		return err
	}
	if a.opts.PublishStateChanges {
		topic := AlarmStateTopicPrefix + c.Alarm.AlarmName
		if err := a.publish(ctx, topic, msg); err != nil {
			a.log.Warn("publish alarm state change", "alarm", c.Alarm.AlarmName, "topic", topic, "err", err)
		}
	}
	if !c.Alarm.ActionsEnabled {
		return nil
	}
	var actions []string
	switch c.Alarm.StateValue {
	case iotdm.AlarmStateAlarm:
		actions = c.Alarm.AlarmActions
	case iotdm.AlarmStateOK:
		actions = c.Alarm.OKActions
	case iotdm.AlarmStateInsufficientData:
		actions = c.Alarm.InsufficientDataActions
	}
	if len(actions) == 0 {
		return nil
	}
	items := make([]iotdm.AlarmHistoryItem, 0, len(actions))
	for _, action := range actions {
		err := a.run(ctx, c, action, msg)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		items = append(items, actionHistory(c, action, msg, err, a.now()))
	}
	return a.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		for _, item := range items {
			if err := putAlarmHistory(ctx, tx, item); err != nil {
				return err
			}
		}
		return nil
	})
}

func (a *AlarmActions) now() iotdm.Timestamp {
	return iotdm.Timestamp{Time: a.opts.Now().UTC().Truncate(time.Millisecond)}
}

// run executes one action.
func (a *AlarmActions) run(ctx context.Context, c AlarmStateChange, action string, msg []byte) error {
	target, err := parseAlarmAction(action)
	if err != nil {
		return err
	}
	switch target.kind {
	case actionMQTT:
		return a.publish(ctx, target.dest, msg)
	case actionLogs:
		if a.opts.Logs == nil {
			return errors.New("log group actions are not configured")
		}
		return a.opts.Logs.PutEvent(ctx, target.dest, alarmLogStream(c.Alarm.AlarmName), c.Alarm.StateUpdatedTimestamp.Time, string(msg))
	default:
		return a.post(ctx, target.dest, msg)
	}
}

func (a *AlarmActions) publish(ctx context.Context, topic string, msg []byte) error {
	if a.opts.Bus == nil {
		return errors.New("MQTT actions are not configured")
	}
	if err := checkTopicName(topic); err != nil {
		return err
	}
	return a.opts.Bus.Publish(ctx, BusMessage{Topic: topic, Payload: msg, QoS: 1, ContentType: "application/json"})
}

// post delivers a webhook: one attempt, and one retry after a failure.
func (a *AlarmActions) post(ctx context.Context, url string, msg []byte) error {
	err := a.postOnce(ctx, url, msg)
	if err == nil {
		return nil
	}
	if d := a.opts.WebhookRetryDelay; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	return a.postOnce(ctx, url, msg)
}

func (a *AlarmActions) postOnce(ctx context.Context, url string, msg []byte) error {
	ctx, cancel := context.WithTimeout(ctx, webhookAttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(msg))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.opts.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxWebhookErrorBody))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		if len(body) > 0 {
			return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
		}
		return errors.New(resp.Status)
	}
	return nil
}

// alarmLogStream is the log stream of an alarm's log group actions: its
// name without the characters log stream names refuse.
func alarmLogStream(name string) string {
	return strings.NewReplacer(":", "_", "*", "_").Replace(name)
}

// Kinds of action targets.
const (
	actionMQTT = iota
	actionLogs
	actionWebhook
)

type alarmActionTarget struct {
	kind int
	dest string // topic, log group name or URL
}

// parseAlarmAction reads an action string; see the top of this file.
func parseAlarmAction(action string) (alarmActionTarget, error) {
	if strings.HasPrefix(action, "https://") || strings.HasPrefix(action, "http://") {
		return alarmActionTarget{kind: actionWebhook, dest: action}, nil
	}
	parts := strings.SplitN(action, ":", 6) // arn:partition:service:region:account:resource
	if len(parts) == 6 && parts[0] == "arn" {
		switch resource := parts[5]; parts[2] {
		case "iot":
			if topic, ok := strings.CutPrefix(resource, "topic/"); ok && topic != "" {
				return alarmActionTarget{kind: actionMQTT, dest: topic}, nil
			}
		case "sns":
			if resource != "" && !strings.ContainsAny(resource, ":/") {
				return alarmActionTarget{kind: actionMQTT, dest: SNSTopicPrefix + resource}, nil
			}
		case "logs":
			if group, ok := strings.CutPrefix(resource, "log-group:"); ok {
				if group = strings.TrimSuffix(group, ":*"); group != "" {
					return alarmActionTarget{kind: actionLogs, dest: group}, nil
				}
			}
		}
	}
	return alarmActionTarget{}, fmt.Errorf("iotdm does not support the action %s", action)
}

// actionHistory is the Action history item of one action run (err nil) or
// failed.
func actionHistory(c AlarmStateChange, action string, msg []byte, err error, now iotdm.Timestamp) iotdm.AlarmHistoryItem {
	data := map[string]any{
		"actionState":          "Succeeded",
		"stateUpdateTimestamp": c.Alarm.StateUpdatedTimestamp.UnixMilli(),
		"notificationResource": action,
	}
	summary := "Successfully executed action " + action
	if err != nil {
		data["actionState"] = "Failed"
		data["error"] = err.Error()
		summary = fmt.Sprintf("Failed to execute action %s. Received error: %q", action, err.Error())
	} else {
		data["publishedMessage"] = string(msg)
	}
	b, _ := json.Marshal(data) // strings and numbers only
	if len(b) > maxHistoryDataLen {
		delete(data, "publishedMessage")
		b, _ = json.Marshal(data)
	}
	return iotdm.AlarmHistoryItem{
		AlarmName:       c.Alarm.AlarmName,
		AlarmType:       "MetricAlarm",
		Timestamp:       now,
		HistoryItemType: iotdm.HistoryAction,
		HistorySummary:  truncate(summary, maxHistorySummaryLen),
		HistoryData:     truncate(string(b), maxHistoryDataLen),
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// alarmNotification is AWS's SNS alarm notification.
type alarmNotification struct {
	AlarmName                          string              `json:"AlarmName"`
	AlarmDescription                   *string             `json:"AlarmDescription"`
	AWSAccountID                       string              `json:"AWSAccountId"`
	AlarmConfigurationUpdatedTimestamp string              `json:"AlarmConfigurationUpdatedTimestamp"`
	NewStateValue                      string              `json:"NewStateValue"`
	NewStateReason                     string              `json:"NewStateReason"`
	StateChangeTime                    string              `json:"StateChangeTime"`
	Region                             string              `json:"Region"`
	AlarmArn                           string              `json:"AlarmArn"`
	OldStateValue                      string              `json:"OldStateValue"`
	OKActions                          []string            `json:"OKActions"`
	AlarmActions                       []string            `json:"AlarmActions"`
	InsufficientDataActions            []string            `json:"InsufficientDataActions"`
	Trigger                            notificationTrigger `json:"Trigger"`
}

// notificationTrigger is the Trigger of an alarm notification. Statistic is
// in capitals (AVERAGE), dimensions have lower-case members, and a unit not
// set is null, as AWS sends them.
type notificationTrigger struct {
	MetricName                       string                  `json:"MetricName,omitempty"`
	Namespace                        string                  `json:"Namespace,omitempty"`
	StatisticType                    string                  `json:"StatisticType,omitempty"`
	Statistic                        string                  `json:"Statistic,omitempty"`
	ExtendedStatistic                string                  `json:"ExtendedStatistic,omitempty"`
	Unit                             *string                 `json:"Unit"`
	Dimensions                       []notificationDimension `json:"Dimensions"`
	Metrics                          []iotdm.MetricDataQuery `json:"Metrics,omitempty"`
	Period                           int32                   `json:"Period"`
	EvaluationPeriods                int32                   `json:"EvaluationPeriods"`
	DatapointsToAlarm                int32                   `json:"DatapointsToAlarm,omitempty"`
	ComparisonOperator               string                  `json:"ComparisonOperator"`
	Threshold                        *alarm.Double           `json:"Threshold,omitempty"`
	ThresholdMetricID                string                  `json:"ThresholdMetricId,omitempty"`
	TreatMissingData                 string                  `json:"TreatMissingData"`
	EvaluateLowSampleCountPercentile string                  `json:"EvaluateLowSampleCountPercentile"`
}

type notificationDimension struct {
	Value string `json:"value"`
	Name  string `json:"name"`
}

// notification renders the state change as AWS's SNS alarm notification.
func (a *AlarmActions) notification(c AlarmStateChange) ([]byte, error) {
	m := c.Alarm
	n := alarmNotification{
		AlarmName:                          m.AlarmName,
		AWSAccountID:                       a.opts.AccountID,
		AlarmConfigurationUpdatedTimestamp: alarm.FormatTime(m.AlarmConfigurationUpdatedTimestamp.Time),
		NewStateValue:                      m.StateValue,
		NewStateReason:                     m.StateReason,
		StateChangeTime:                    alarm.FormatTime(m.StateUpdatedTimestamp.Time),
		Region:                             regionLongName(a.opts.Region),
		AlarmArn:                           m.AlarmArn,
		OldStateValue:                      c.OldState,
		OKActions:                          nonNil(m.OKActions),
		AlarmActions:                       nonNil(m.AlarmActions),
		InsufficientDataActions:            nonNil(m.InsufficientDataActions),
		Trigger: notificationTrigger{
			MetricName:                       m.MetricName,
			Namespace:                        m.Namespace,
			Dimensions:                       []notificationDimension{},
			Metrics:                          m.Metrics,
			Period:                           m.Period,
			EvaluationPeriods:                m.EvaluationPeriods,
			DatapointsToAlarm:                m.DatapointsToAlarm,
			ComparisonOperator:               m.ComparisonOperator,
			ThresholdMetricID:                m.ThresholdMetricID,
			TreatMissingData:                 m.TreatMissingData,
			EvaluateLowSampleCountPercentile: m.EvaluateLowSampleCountPercentile,
		},
	}
	if m.AlarmDescription != "" {
		n.AlarmDescription = &m.AlarmDescription
	}
	t := &n.Trigger
	switch {
	case m.Statistic != "":
		t.StatisticType, t.Statistic = "Statistic", strings.ToUpper(m.Statistic)
	case m.ExtendedStatistic != "":
		t.StatisticType, t.ExtendedStatistic = "ExtendedStatistic", m.ExtendedStatistic
	}
	if m.Unit != "" {
		t.Unit = &m.Unit
	}
	for _, d := range m.Dimensions {
		t.Dimensions = append(t.Dimensions, notificationDimension{Value: d.Value, Name: d.Name})
	}
	if m.Threshold != nil {
		v := alarm.Double(*m.Threshold)
		t.Threshold = &v
	}
	if t.TreatMissingData == "" && m.Metrics == nil && m.EvaluationCriteria == nil {
		t.TreatMissingData = alarm.MissingAsMissing
	}
	b, err := json.Marshal(n)
	if err != nil {
		return nil, fmt.Errorf("encode alarm notification: %w", err)
	}
	return b, nil
}

// regionLongName is the name alarm notifications give a region.
func regionLongName(code string) string {
	if name, ok := regionNames[code]; ok {
		return name
	}
	return code
}

var regionNames = map[string]string{
	"us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)",
	"us-west-1": "US West (N. California)", "us-west-2": "US West (Oregon)",
	"af-south-1": "Africa (Cape Town)", "ap-east-1": "Asia Pacific (Hong Kong)",
	"ap-south-1": "Asia Pacific (Mumbai)", "ap-south-2": "Asia Pacific (Hyderabad)",
	"ap-northeast-1": "Asia Pacific (Tokyo)", "ap-northeast-2": "Asia Pacific (Seoul)",
	"ap-northeast-3": "Asia Pacific (Osaka)", "ap-southeast-1": "Asia Pacific (Singapore)",
	"ap-southeast-2": "Asia Pacific (Sydney)", "ap-southeast-3": "Asia Pacific (Jakarta)",
	"ap-southeast-4": "Asia Pacific (Melbourne)", "ca-central-1": "Canada (Central)",
	"eu-central-1": "EU (Frankfurt)", "eu-central-2": "EU (Zurich)", "eu-west-1": "EU (Ireland)",
	"eu-west-2": "EU (London)", "eu-west-3": "EU (Paris)", "eu-north-1": "EU (Stockholm)",
	"eu-south-1": "EU (Milan)", "eu-south-2": "EU (Spain)", "il-central-1": "Israel (Tel Aviv)",
	"me-south-1": "Middle East (Bahrain)", "me-central-1": "Middle East (UAE)",
	"sa-east-1": "South America (Sao Paulo)", "us-gov-west-1": "AWS GovCloud (US-West)",
	"us-gov-east-1": "AWS GovCloud (US-East)", "cn-north-1": "China (Beijing)", "cn-northwest-1": "China (Ningxia)",
}
