package control

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/iotdm/iotdm"
)

// KindAlarmHistory is the entity kind of alarm history items: key
// "{alarmName}/{epoch milliseconds, 16 digits}-{n, 3 digits}", value
// iotdm.AlarmHistoryItem. Alarm names may contain '/', so a scan of one
// alarm's prefix also checks each item's AlarmName. History outlives its
// alarm (AWS keeps it after DeleteAlarms) for 30 days.
const KindAlarmHistory = "alarmhistory"

const (
	alarmHistoryList           = "alarmhistory" // page token tag
	defaultHistoryMaxRecords   = 100
	maxStateReasonLen          = 1023
	maxStateReasonDataLen      = 4000
	errInvalidFormat           = iotdm.ErrorCode("InvalidFormat") // InvalidFormatFault
	alarmTypeMetric            = "MetricAlarm"
	historyDataVersion         = "1.0"
	maxHistoryKeysPerTimestamp = 1000
)

var historyItemTypes = []string{iotdm.HistoryConfigurationUpdate, iotdm.HistoryStateUpdate, iotdm.HistoryAction,
	"AlarmContributorStateUpdate", "AlarmContributorAction"}

// AlarmOps is the alarm service with the operations beyond the definitions
// (iotdm.AlarmOperations), and ConfigurationUpdate history for
// PutMetricAlarm and DeleteAlarms. Give it to the CloudWatch adapter in
// place of the Alarms it embeds.
type AlarmOps struct {
	*Alarms
	actions AlarmStateNotifier
}

var (
	_ iotdm.Alarms          = (*AlarmOps)(nil)
	_ iotdm.AlarmOperations = (*AlarmOps)(nil)
)

// NewAlarmOps returns the alarm operations over alarms; actions is told
// about the state changes of SetAlarmState (an *AlarmActions runs their
// actions; nil tells no one).
func NewAlarmOps(alarms *Alarms, actions AlarmStateNotifier) *AlarmOps {
	return &AlarmOps{Alarms: alarms, actions: actions}
}

// --- history ---

// putAlarmHistory stores a history item under the first free key of its
// alarm and time.
func putAlarmHistory(ctx context.Context, tx iotdm.Tx, item iotdm.AlarmHistoryItem) error {
	base := fmt.Sprintf("%s/%016d-", item.AlarmName, item.Timestamp.UnixMilli())
	for n := range maxHistoryKeysPerTimestamp {
		key := fmt.Sprintf("%s%03d", base, n)
		_, taken, err := tx.Get(ctx, KindAlarmHistory, key)
		if err != nil {
			return err
		}
		if !taken {
			return put(ctx, tx, KindAlarmHistory, key, item)
		}
	}
	return fmt.Errorf("alarm %s has %d history items at %v", item.AlarmName, maxHistoryKeysPerTimestamp, item.Timestamp.Time)
}

// historyState is one side of a StateUpdate's HistoryData.
type historyState struct {
	StateValue      string          `json:"stateValue"`
	StateReason     string          `json:"stateReason"`
	StateReasonData json.RawMessage `json:"stateReasonData,omitempty"`
}

func newHistoryState(a *iotdm.MetricAlarm) historyState {
	s := historyState{StateValue: a.StateValue, StateReason: a.StateReason}
	if a.StateReasonData != "" && json.Valid([]byte(a.StateReasonData)) {
		s.StateReasonData = json.RawMessage(a.StateReasonData)
	}
	return s
}

// stateUpdateHistory is the StateUpdate history item of a change from old
// to updated: "Alarm updated from OK to ALARM", with both states in
// HistoryData as AWS writes them.
func stateUpdateHistory(old, updated *iotdm.MetricAlarm, ts iotdm.Timestamp) iotdm.AlarmHistoryItem {
	data := struct {
		Version  string       `json:"version"`
		OldState historyState `json:"oldState"`
		NewState historyState `json:"newState"`
	}{historyDataVersion, newHistoryState(old), newHistoryState(updated)}
	b, _ := json.Marshal(data) // strings and valid JSON only
	for _, s := range []*historyState{&data.OldState, &data.NewState} {
		if len(b) <= maxHistoryDataLen {
			break
		}
		s.StateReasonData = nil
		b, _ = json.Marshal(data)
	}
	return iotdm.AlarmHistoryItem{
		AlarmName:       updated.AlarmName,
		AlarmType:       alarmTypeMetric,
		Timestamp:       ts,
		HistoryItemType: iotdm.HistoryStateUpdate,
		HistorySummary:  truncate(fmt.Sprintf("Alarm updated from %s to %s", old.StateValue, updated.StateValue), maxHistorySummaryLen),
		HistoryData:     truncate(string(b), maxHistoryDataLen),
	}
}

// alarmConfig renders an alarm's configuration as HistoryData shows it:
// members in camelCase, without the state.
func alarmConfig(a *iotdm.MetricAlarm) map[string]json.RawMessage {
	b, _ := json.Marshal(a)
	var m map[string]json.RawMessage
	_ = json.Unmarshal(b, &m)
	out := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		if strings.HasPrefix(k, "State") || k == "EvaluationState" {
			continue
		}
		out[lowerFirst(k)] = v
	}
	return out
}

// configurationHistory is the ConfigurationUpdate history item of an alarm
// created (old nil), updated or deleted (updated nil): AWS's summaries
// (Alarm "name" created) and HistoryData {"type": "Create", "createdAlarm":
// ...}, {"type": "Update", "updatedAlarm": ..., "originalUpdatedFields":
// ...} or {"type": "Delete", "deletedAlarm": ...}.
func configurationHistory(old, updated *iotdm.MetricAlarm, ts iotdm.Timestamp) iotdm.AlarmHistoryItem {
	data := map[string]any{"version": historyDataVersion}
	var name, verb string
	switch {
	case old == nil:
		name, verb = updated.AlarmName, "created"
		data["type"], data["createdAlarm"] = "Create", alarmConfig(updated)
	case updated == nil:
		name, verb = old.AlarmName, "deleted"
		data["type"], data["deletedAlarm"] = "Delete", alarmConfig(old)
	default:
		name, verb = updated.AlarmName, "updated"
		before, after := alarmConfig(old), alarmConfig(updated)
		original := map[string]json.RawMessage{}
		for k, v := range before {
			if k != "alarmConfigurationUpdatedTimestamp" && string(after[k]) != string(v) {
				original[k] = v
			}
		}
		for k := range after {
			if _, ok := before[k]; !ok {
				original[k] = json.RawMessage("null")
			}
		}
		data["type"], data["updatedAlarm"], data["originalUpdatedFields"] = "Update", after, original
	}
	b, _ := json.Marshal(data)
	return iotdm.AlarmHistoryItem{
		AlarmName:       name,
		AlarmType:       alarmTypeMetric,
		Timestamp:       ts,
		HistoryItemType: iotdm.HistoryConfigurationUpdate,
		HistorySummary:  truncate(fmt.Sprintf("Alarm %q %s", name, verb), maxHistorySummaryLen),
		HistoryData:     truncate(string(b), maxHistoryDataLen),
	}
}

// pruneAlarmHistory deletes the history items older than before.
func pruneAlarmHistory(ctx context.Context, store iotdm.Store, before time.Time) error {
	var old []string
	err := store.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
		return scanDecode(ctx, tx, KindAlarmHistory, "", func(key string, h *iotdm.AlarmHistoryItem) error {
			if h.Timestamp.Before(before) {
				old = append(old, key)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("prune alarm history: %w", err)
	}
	const batch = 500
	for len(old) > 0 {
		n := min(batch, len(old))
		err := store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
			for _, key := range old[:n] {
				if err := tx.Delete(ctx, KindAlarmHistory, key); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("prune alarm history: %w", err)
		}
		old = old[n:]
	}
	return nil
}

// --- definitions, with their history ---

// PutMetricAlarm defines an alarm (Alarms.PutMetricAlarm) and records a
// ConfigurationUpdate history item: created or updated.
func (o *AlarmOps) PutMetricAlarm(ctx context.Context, in *iotdm.PutMetricAlarmInput) (*iotdm.Empty, error) {
	old, existed, err := get[iotdm.StoredAlarm](ctx, o.store, iotdm.KindAlarm, in.AlarmName)
	if err != nil {
		return nil, err
	}
	out, err := o.Alarms.PutMetricAlarm(ctx, in)
	if err != nil {
		return nil, err
	}
	err = o.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		s, ok, err := get[iotdm.StoredAlarm](ctx, tx, iotdm.KindAlarm, in.AlarmName)
		if err != nil || !ok {
			return err
		}
		var before *iotdm.MetricAlarm
		if existed {
			before = &old.MetricAlarm
		}
		return putAlarmHistory(ctx, tx, configurationHistory(before, &s.MetricAlarm, s.AlarmConfigurationUpdatedTimestamp))
	})
	if err != nil {
		return nil, fmt.Errorf("record alarm history: %w", err)
	}
	return out, nil
}

// DeleteAlarms deletes alarms (Alarms.DeleteAlarms) and records a
// ConfigurationUpdate history item for each that existed.
func (o *AlarmOps) DeleteAlarms(ctx context.Context, in *iotdm.DeleteAlarmsInput) (*iotdm.Empty, error) {
	var existing []*iotdm.StoredAlarm
	if len(in.AlarmNames) <= maxAlarmNamesPerCall {
		for _, name := range in.AlarmNames {
			s, ok, err := get[iotdm.StoredAlarm](ctx, o.store, iotdm.KindAlarm, name)
			if err != nil {
				return nil, err
			}
			if ok {
				existing = append(existing, s)
			}
		}
	}
	out, err := o.Alarms.DeleteAlarms(ctx, in)
	if err != nil || len(existing) == 0 {
		return out, err
	}
	ts := o.now()
	err = o.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		for _, s := range existing {
			if err := putAlarmHistory(ctx, tx, configurationHistory(&s.MetricAlarm, nil, ts)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("record alarm history: %w", err)
	}
	return out, nil
}

// --- the operations ---

func alarmNotFound(name string) error {
	return iotdm.Errorf(iotdm.ErrCloudWatchNotFound, "Alarm %s does not exist.", name)
}

// SetAlarmState sets an alarm's state and reason, records a StateUpdate
// history item and, when the state value changes, runs the actions of the
// new state (AWS: "When the updated state differs from the previous value,
// the action configured for the appropriate state is invoked."). The next
// evaluation sets the state the metric says again, as AWS documents.
func (o *AlarmOps) SetAlarmState(ctx context.Context, in *iotdm.SetAlarmStateInput) (*iotdm.Empty, error) {
	if err := validateAlarmName("alarmName", in.AlarmName); err != nil {
		return nil, err
	}
	switch {
	case in.StateValue == "":
		return nil, cwConstraint(nil, "stateValue", "Member must not be null")
	case !slices.Contains(stateValues, in.StateValue):
		return nil, enumConstraint(in.StateValue, "stateValue", stateValues)
	case len(in.StateReason) > maxStateReasonLen:
		return nil, cwConstraint(in.StateReason, "stateReason", "Member must have length less than or equal to 1023")
	case len(in.StateReasonData) > maxStateReasonDataLen:
		return nil, cwConstraint(in.StateReasonData, "stateReasonData", "Member must have length less than or equal to 4000")
	case in.StateReasonData != "" && !json.Valid([]byte(in.StateReasonData)):
		return nil, iotdm.Errorf(errInvalidFormat, "Data was not syntactically valid JSON")
	}
	ts := o.now()
	var change *AlarmStateChange
	err := o.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		s, ok, err := get[iotdm.StoredAlarm](ctx, tx, iotdm.KindAlarm, in.AlarmName)
		if err != nil {
			return err
		}
		if !ok {
			return alarmNotFound(in.AlarmName)
		}
		old := s.MetricAlarm
		s.StateValue, s.StateReason, s.StateReasonData, s.StateUpdatedTimestamp = in.StateValue, in.StateReason, in.StateReasonData, ts
		if old.StateValue != in.StateValue {
			s.StateTransitionedTimestamp = ts
			change = &AlarmStateChange{Alarm: s.MetricAlarm, OldState: old.StateValue}
		}
		if err := put(ctx, tx, iotdm.KindAlarm, s.AlarmName, s); err != nil {
			return err
		}
		return putAlarmHistory(ctx, tx, stateUpdateHistory(&old, &s.MetricAlarm, ts))
	})
	if err != nil {
		return nil, err
	}
	if change != nil && o.actions != nil {
		o.actions.Enqueue(*change)
	}
	return &iotdm.Empty{}, nil
}

// EnableAlarmActions turns the actions of the named alarms on.
func (o *AlarmOps) EnableAlarmActions(ctx context.Context, in *iotdm.EnableAlarmActionsInput) (*iotdm.Empty, error) {
	return o.setActionsEnabled(ctx, in.AlarmNames, true)
}

// DisableAlarmActions turns the actions of the named alarms off: their
// state changes run no action.
func (o *AlarmOps) DisableAlarmActions(ctx context.Context, in *iotdm.DisableAlarmActionsInput) (*iotdm.Empty, error) {
	return o.setActionsEnabled(ctx, in.AlarmNames, false)
}

// setActionsEnabled sets ActionsEnabled on the named alarms in one
// transaction, with a ConfigurationUpdate history item for each it changes.
// Names that match no alarm are skipped, as AWS does.
func (o *AlarmOps) setActionsEnabled(ctx context.Context, names []string, enabled bool) (*iotdm.Empty, error) {
	if names == nil {
		return nil, cwConstraint(nil, "alarmNames", "Member must not be null")
	}
	if len(names) > maxAlarmNamesPerCall {
		return nil, cwConstraint(len(names), "alarmNames", "Member must have length less than or equal to 100")
	}
	for i, n := range names {
		if err := validateAlarmName(fmt.Sprintf("alarmNames.member.%d", i+1), n); err != nil {
			return nil, err
		}
	}
	ts := o.now()
	err := o.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		for _, name := range names {
			s, ok, err := get[iotdm.StoredAlarm](ctx, tx, iotdm.KindAlarm, name)
			if err != nil {
				return err
			}
			if !ok || s.ActionsEnabled == enabled {
				continue
			}
			old := s.MetricAlarm
			s.ActionsEnabled = enabled
			if err := put(ctx, tx, iotdm.KindAlarm, name, s); err != nil {
				return err
			}
			if err := putAlarmHistory(ctx, tx, configurationHistory(&old, &s.MetricAlarm, ts)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &iotdm.Empty{}, nil
}

// DescribeAlarmsForMetric returns the single-metric alarms on a metric, in
// name order, filtered by statistic, extended statistic, period and unit;
// dimensions must match as a set. Metric math alarms are never returned
// (AWS: "It does not return alarms based on math expressions").
func (o *AlarmOps) DescribeAlarmsForMetric(ctx context.Context, in *iotdm.DescribeAlarmsForMetricInput) (*iotdm.DescribeAlarmsForMetricOutput, error) {
	if in.MetricName == "" {
		return nil, cwMissing("MetricName")
	}
	if in.Namespace == "" {
		return nil, cwMissing("Namespace")
	}
	if err := validateMetric("", iotdm.Metric{Namespace: in.Namespace, MetricName: in.MetricName, Dimensions: in.Dimensions}); err != nil {
		return nil, err
	}
	switch {
	case in.Statistic != "" && !slices.Contains(statistics, in.Statistic):
		return nil, enumConstraint(in.Statistic, "statistic", statistics)
	case in.Unit != "" && !slices.Contains(standardUnits, in.Unit):
		return nil, enumConstraint(in.Unit, "unit", standardUnits)
	case in.Period != nil && *in.Period < 1:
		return nil, cwConstraint(*in.Period, "period", "Member must have value greater than or equal to 1")
	}
	want := dimensionSet(in.Dimensions)
	out := &iotdm.DescribeAlarmsForMetricOutput{MetricAlarms: []iotdm.MetricAlarm{}}
	err := o.store.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
		return scanDecode(ctx, tx, iotdm.KindAlarm, "", func(_ string, s *iotdm.StoredAlarm) error {
			a := &s.MetricAlarm
			switch {
			case a.MetricName != in.MetricName || a.Namespace != in.Namespace,
				in.Statistic != "" && a.Statistic != in.Statistic,
				in.ExtendedStatistic != "" && a.ExtendedStatistic != in.ExtendedStatistic,
				in.Period != nil && a.Period != *in.Period,
				in.Unit != "" && a.Unit != in.Unit,
				!slices.Equal(dimensionSet(a.Dimensions), want):
				return nil
			}
			out.MetricAlarms = append(out.MetricAlarms, *a)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// dimensionSet is dims as a sorted list of "name=value" for comparing.
func dimensionSet(dims []iotdm.Dimension) []string {
	out := make([]string, len(dims))
	for i, d := range dims {
		out[i] = d.Name + "\x00" + d.Value
	}
	slices.Sort(out)
	return out
}

// DescribeAlarmHistory returns the history of one alarm, or of every
// metric alarm, newest first unless ScanBy is TimestampAscending, filtered
// by item type and by StartDate and EndDate (both inclusive). History
// outlives deleted alarms. There are no composite alarms and no alarm
// contributors: AlarmTypes [CompositeAlarm] and AlarmContributorId find
// nothing.
func (o *AlarmOps) DescribeAlarmHistory(ctx context.Context, in *iotdm.DescribeAlarmHistoryInput) (*iotdm.DescribeAlarmHistoryOutput, error) {
	if in.AlarmName != "" {
		if err := validateAlarmName("alarmName", in.AlarmName); err != nil {
			return nil, err
		}
	}
	if in.HistoryItemType != "" && !slices.Contains(historyItemTypes, in.HistoryItemType) {
		return nil, enumConstraint(in.HistoryItemType, "historyItemType", historyItemTypes)
	}
	for i, t := range in.AlarmTypes {
		if !slices.Contains(alarmTypes, t) {
			return nil, enumConstraint(t, fmt.Sprintf("alarmTypes.member.%d", i+1), alarmTypes)
		}
	}
	scanBy := in.ScanBy
	switch scanBy {
	case "":
		scanBy = iotdm.ScanByTimestampDescending
	case iotdm.ScanByTimestampDescending, iotdm.ScanByTimestampAscending:
	default:
		return nil, enumConstraint(in.ScanBy, "scanBy", []string{iotdm.ScanByTimestampDescending, iotdm.ScanByTimestampAscending})
	}
	size := defaultHistoryMaxRecords
	if in.MaxRecords != nil {
		if n := *in.MaxRecords; n < 1 || n > maxMaxRecords {
			return nil, cwConstraint(n, "maxRecords", "Member must have value between 1 and 100")
		}
		size = int(*in.MaxRecords)
	}
	after, err := decodeToken(alarmHistoryList, in.NextToken)
	if err != nil {
		return nil, iotdm.Errorf(iotdm.ErrInvalidNextToken, "The service cannot process the NextToken: %s", in.NextToken)
	}
	out := &iotdm.DescribeAlarmHistoryOutput{AlarmHistoryItems: []iotdm.AlarmHistoryItem{}}
	if in.AlarmContributorID != "" || len(in.AlarmTypes) > 0 && !slices.Contains(in.AlarmTypes, alarmTypeMetric) {
		return out, nil
	}

	var items []keyed[iotdm.AlarmHistoryItem]
	prefix := ""
	if in.AlarmName != "" {
		prefix = in.AlarmName + "/"
	}
	err = o.store.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
		return scanDecode(ctx, tx, KindAlarmHistory, prefix, func(key string, h *iotdm.AlarmHistoryItem) error {
			switch {
			case in.AlarmName != "" && h.AlarmName != in.AlarmName,
				in.HistoryItemType != "" && h.HistoryItemType != in.HistoryItemType,
				in.StartDate != nil && h.Timestamp.Before(in.StartDate.Time),
				in.EndDate != nil && h.Timestamp.After(in.EndDate.Time):
				return nil
			}
			// Sort by time, then by key (an alarm's items of one
			// millisecond in the order they were written).
			sortKey := fmt.Sprintf("%016d/%s", h.Timestamp.UnixMilli(), key)
			items = append(items, keyed[iotdm.AlarmHistoryItem]{key: sortKey, item: *h})
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(items, func(a, b keyed[iotdm.AlarmHistoryItem]) int { return strings.Compare(a.key, b.key) })
	ascending := scanBy == iotdm.ScanByTimestampAscending
	if !ascending {
		slices.Reverse(items)
	}
	p := pager[iotdm.AlarmHistoryItem]{size: size}
	for _, it := range items {
		if after != "" && (ascending && it.key <= after || !ascending && it.key >= after) {
			continue
		}
		if !p.add(it.key, it.item) {
			break
		}
	}
	if p.items != nil {
		out.AlarmHistoryItems = p.items
	}
	out.NextToken = p.next(alarmHistoryList)
	return out, nil
}
