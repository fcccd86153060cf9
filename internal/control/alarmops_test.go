package control_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/iotdm/iotdm"
)

func TestSetAlarmState(t *testing.T) {
	f := newAlarmFixture(t)
	f.putAlarm(t, cpuAlarm("north"))
	f.now = ts(12, 0, 0)
	set := func(state, reason, data string) error {
		_, err := f.ops.SetAlarmState(t.Context(), &iotdm.SetAlarmStateInput{AlarmName: "north", StateValue: state, StateReason: reason, StateReasonData: data})
		return err
	}
	if err := set("ALARM", "testing the pager", `{"by":"ops"}`); err != nil {
		t.Fatal(err)
	}
	a := f.storedAlarm(t, "north")
	if a.StateValue != "ALARM" || a.StateReason != "testing the pager" || a.StateReasonData != `{"by":"ops"}` ||
		!a.StateUpdatedTimestamp.Equal(ts(12, 0, 0)) || !a.StateTransitionedTimestamp.Equal(ts(12, 0, 0)) {
		t.Errorf("after SetAlarmState alarm = %+v", a.MetricAlarm)
	}
	// The same state again: history, no actions, no transition.
	f.now = ts(12, 0, 1)
	if err := set("ALARM", "still testing", ""); err != nil {
		t.Fatal(err)
	}
	if a := f.storedAlarm(t, "north"); !a.StateTransitionedTimestamp.Equal(ts(12, 0, 0)) || !a.StateUpdatedTimestamp.Equal(ts(12, 0, 1)) {
		t.Errorf("after setting the same state: transitioned %v updated %v, want 12:00:00 and 12:00:01", a.StateTransitionedTimestamp, a.StateUpdatedTimestamp)
	}
	if got := f.notified.take(); !cmp.Equal(got, []string{"north: INSUFFICIENT_DATA -> ALARM"}) {
		t.Errorf("notified %v, want one change", got)
	}
	// The next evaluation sets the state the metric says.
	f.metrics.add(ts(11, 50, 0), 50)
	f.metrics.add(ts(11, 55, 0), 50)
	f.evaluate(t, ts(12, 0, 5))
	if a := f.storedAlarm(t, "north"); a.StateValue != "OK" {
		t.Errorf("after the next evaluation alarm = %s, want OK", a.StateValue)
	}
	want := []string{
		"StateUpdate: Alarm updated from INSUFFICIENT_DATA to ALARM",
		"StateUpdate: Alarm updated from ALARM to ALARM",
		"StateUpdate: Alarm updated from ALARM to OK",
	}
	if diff := cmp.Diff(want, f.history(t, "north")); diff != "" {
		t.Errorf("history mismatch (-want +got):\n%s", diff)
	}

	for _, c := range []struct {
		name                 string
		alarm, state, reason string
		data                 string
		code                 iotdm.ErrorCode
		msg                  string
	}{
		{"no such alarm", "south", "OK", "", "", iotdm.ErrCloudWatchNotFound, "Alarm south does not exist."},
		{"no state", "north", "", "", "", iotdm.ErrCloudWatchValidation, "'stateValue' failed to satisfy constraint: Member must not be null"},
		{"bad state", "north", "PANIC", "", "", iotdm.ErrCloudWatchValidation, "Member must satisfy enum value set: [OK, ALARM, INSUFFICIENT_DATA]"},
		{"long reason", "north", "OK", strings.Repeat("r", 1024), "", iotdm.ErrCloudWatchValidation, "length less than or equal to 1023"},
		{"bad data", "north", "OK", "", "{not json", "InvalidFormat", "Data was not syntactically valid JSON"},
		{"long data", "north", "OK", "", `"` + strings.Repeat("d", 4000) + `"`, iotdm.ErrCloudWatchValidation, "length less than or equal to 4000"},
		{"no name", "", "OK", "", "", iotdm.ErrCloudWatchValidation, "'alarmName' failed to satisfy constraint"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.ops.SetAlarmState(t.Context(), &iotdm.SetAlarmStateInput{AlarmName: c.alarm, StateValue: c.state, StateReason: c.reason, StateReasonData: c.data})
			wantMonCode(t, "SetAlarmState", err, c.code, c.msg)
		})
	}
}

func TestEnableDisableAlarmActions(t *testing.T) {
	f := newAlarmFixture(t)
	f.putAlarm(t, cpuAlarm("a"))
	f.putAlarm(t, cpuAlarm("b"))
	if _, err := f.ops.DisableAlarmActions(t.Context(), &iotdm.DisableAlarmActionsInput{AlarmNames: []string{"a", "b", "missing"}}); err != nil {
		t.Fatal(err)
	}
	if a, b := f.storedAlarm(t, "a"), f.storedAlarm(t, "b"); a.ActionsEnabled || b.ActionsEnabled {
		t.Errorf("after DisableAlarmActions ActionsEnabled = %v, %v, want false", a.ActionsEnabled, b.ActionsEnabled)
	}
	seq := f.lastSeq(t)
	if _, err := f.ops.DisableAlarmActions(t.Context(), &iotdm.DisableAlarmActionsInput{AlarmNames: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	if changes := f.changesSince(t, seq); len(changes) != 0 {
		t.Errorf("disabling disabled actions wrote %v, want nothing", changes)
	}
	if _, err := f.ops.EnableAlarmActions(t.Context(), &iotdm.EnableAlarmActionsInput{AlarmNames: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	if a, b := f.storedAlarm(t, "a"), f.storedAlarm(t, "b"); !a.ActionsEnabled || b.ActionsEnabled {
		t.Errorf("after EnableAlarmActions(a) ActionsEnabled = %v, %v, want true, false", a.ActionsEnabled, b.ActionsEnabled)
	}
	if got, want := f.history(t, "a"), []string{`ConfigurationUpdate: Alarm "a" updated`, `ConfigurationUpdate: Alarm "a" updated`}; !cmp.Equal(got, want) {
		t.Errorf("history = %v, want %v", got, want)
	}
	out, _ := f.ops.DescribeAlarmHistory(t.Context(), &iotdm.DescribeAlarmHistoryInput{AlarmName: "a", ScanBy: "TimestampAscending"})
	var data struct {
		Type                  string
		UpdatedAlarm          map[string]any
		OriginalUpdatedFields map[string]any
	}
	if err := json.Unmarshal([]byte(out.AlarmHistoryItems[0].HistoryData), &data); err != nil {
		t.Fatal(err)
	}
	if data.Type != "Update" || data.UpdatedAlarm["actionsEnabled"] != false || !cmp.Equal(data.OriginalUpdatedFields, map[string]any{"actionsEnabled": true}) {
		t.Errorf("HistoryData = %+v, want an Update of actionsEnabled from true", data)
	}

	_, err := f.ops.EnableAlarmActions(t.Context(), &iotdm.EnableAlarmActionsInput{})
	wantMonCode(t, "EnableAlarmActions(nil)", err, iotdm.ErrCloudWatchValidation, "'alarmNames' failed to satisfy constraint: Member must not be null")
	_, err = f.ops.DisableAlarmActions(t.Context(), &iotdm.DisableAlarmActionsInput{AlarmNames: make([]string, 101)})
	wantMonCode(t, "DisableAlarmActions(101)", err, iotdm.ErrCloudWatchValidation, "length less than or equal to 100")
}

func TestDescribeAlarmsForMetric(t *testing.T) {
	f := newAlarmFixture(t)
	f.putAlarm(t, cpuAlarm("avg-300"))
	sum := cpuAlarm("sum-60")
	sum.Statistic, sum.Period, sum.Unit = "Sum", monInt32(60), "Count"
	f.putAlarm(t, sum)
	p99 := cpuAlarm("p99")
	p99.Statistic, p99.ExtendedStatistic = "", "p99"
	f.putAlarm(t, p99)
	south := cpuAlarm("south")
	south.Dimensions = []iotdm.Dimension{{Name: "Fleet", Value: "south"}}
	f.putAlarm(t, south)
	two := cpuAlarm("two-dims")
	two.Dimensions = []iotdm.Dimension{{Name: "Site", Value: "a"}, {Name: "Fleet", Value: "north"}}
	f.putAlarm(t, two)
	other := cpuAlarm("other")
	other.MetricName = "Other"
	f.putAlarm(t, other)

	north := []iotdm.Dimension{{Name: "Fleet", Value: "north"}}
	for _, c := range []struct {
		name string
		in   iotdm.DescribeAlarmsForMetricInput
		want []string
	}{
		{"metric", iotdm.DescribeAlarmsForMetricInput{}, []string{"avg-300", "p99", "sum-60"}},
		{"statistic", iotdm.DescribeAlarmsForMetricInput{Statistic: "Sum"}, []string{"sum-60"}},
		{"extended statistic", iotdm.DescribeAlarmsForMetricInput{ExtendedStatistic: "p99"}, []string{"p99"}},
		{"period", iotdm.DescribeAlarmsForMetricInput{Period: monInt32(300)}, []string{"avg-300", "p99"}},
		{"unit", iotdm.DescribeAlarmsForMetricInput{Unit: "Count"}, []string{"sum-60"}},
		{"dimensions in any order", iotdm.DescribeAlarmsForMetricInput{Dimensions: []iotdm.Dimension{{Name: "Fleet", Value: "north"}, {Name: "Site", Value: "a"}}}, []string{"two-dims"}},
		{"no dimensions", iotdm.DescribeAlarmsForMetricInput{Dimensions: []iotdm.Dimension{}}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := c.in
			in.MetricName, in.Namespace = "ConnectedDevices", "IoTFleetMetrics"
			if in.Dimensions == nil {
				in.Dimensions = north
			}
			out, err := f.ops.DescribeAlarmsForMetric(t.Context(), &in)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range out.MetricAlarms {
				got = append(got, a.AlarmName)
			}
			if !cmp.Equal(got, c.want) {
				t.Errorf("DescribeAlarmsForMetric(%+v) = %v, want %v", c.in, got, c.want)
			}
		})
	}
	_, err := f.ops.DescribeAlarmsForMetric(t.Context(), &iotdm.DescribeAlarmsForMetricInput{Namespace: "IoTFleetMetrics"})
	wantMonCode(t, "DescribeAlarmsForMetric(no name)", err, iotdm.ErrMissingParameter, "MetricName")
	_, err = f.ops.DescribeAlarmsForMetric(t.Context(), &iotdm.DescribeAlarmsForMetricInput{MetricName: "m", Namespace: "n", Statistic: "Median"})
	wantMonCode(t, "DescribeAlarmsForMetric(Median)", err, iotdm.ErrCloudWatchValidation, "enum value set")
}

func TestDescribeAlarmHistory(t *testing.T) {
	f := newAlarmFixture(t)
	put := func(name string, at time.Time) {
		f.now = at
		if _, err := f.ops.PutMetricAlarm(t.Context(), cpuAlarm(name)); err != nil {
			t.Fatal(err)
		}
	}
	setState := func(name, state string, at time.Time) {
		f.now = at
		if _, err := f.ops.SetAlarmState(t.Context(), &iotdm.SetAlarmStateInput{AlarmName: name, StateValue: state, StateReason: "r"}); err != nil {
			t.Fatal(err)
		}
	}
	put("a", ts(10, 0, 0))
	put("a/b", ts(10, 1, 0)) // shares the key prefix "a/"
	setState("a", "ALARM", ts(10, 2, 0))
	put("a", ts(10, 3, 0))
	setState("a/b", "OK", ts(10, 4, 0))
	f.now = ts(10, 5, 0)
	if _, err := f.ops.DeleteAlarms(t.Context(), &iotdm.DeleteAlarmsInput{AlarmNames: []string{"a", "nope"}}); err != nil {
		t.Fatal(err)
	}

	list := func(in iotdm.DescribeAlarmHistoryInput) ([]string, string) {
		t.Helper()
		out, err := f.ops.DescribeAlarmHistory(t.Context(), &in)
		if err != nil {
			t.Fatalf("DescribeAlarmHistory(%+v): %v", in, err)
		}
		var got []string
		for _, h := range out.AlarmHistoryItems {
			got = append(got, h.Timestamp.UTC().Format("15:04")+" "+h.AlarmName+" "+h.HistorySummary)
		}
		return got, out.NextToken
	}
	all := []string{
		`10:05 a Alarm "a" deleted`,
		`10:04 a/b Alarm updated from INSUFFICIENT_DATA to OK`,
		`10:03 a Alarm "a" updated`,
		`10:02 a Alarm updated from INSUFFICIENT_DATA to ALARM`,
		`10:01 a/b Alarm "a/b" created`,
		`10:00 a Alarm "a" created`,
	}
	for _, c := range []struct {
		name string
		in   iotdm.DescribeAlarmHistoryInput
		want []string
	}{
		{"everything, newest first", iotdm.DescribeAlarmHistoryInput{}, all},
		{"one alarm, after its deletion", iotdm.DescribeAlarmHistoryInput{AlarmName: "a"}, []string{all[0], all[2], all[3], all[5]}},
		{"an alarm named like another's prefix", iotdm.DescribeAlarmHistoryInput{AlarmName: "a/b"}, []string{all[1], all[4]}},
		{"by type", iotdm.DescribeAlarmHistoryInput{HistoryItemType: "StateUpdate"}, []string{all[1], all[3]}},
		{"dates inclusive", iotdm.DescribeAlarmHistoryInput{StartDate: &iotdm.Timestamp{Time: ts(10, 1, 0)}, EndDate: &iotdm.Timestamp{Time: ts(10, 3, 0)}},
			[]string{all[2], all[3], all[4]}},
		{"ascending", iotdm.DescribeAlarmHistoryInput{AlarmName: "a/b", ScanBy: "TimestampAscending"}, []string{all[4], all[1]}},
		{"metric alarms", iotdm.DescribeAlarmHistoryInput{AlarmTypes: []string{"MetricAlarm"}, MaxRecords: monInt32(1)}, all[:1]},
		{"composite alarms", iotdm.DescribeAlarmHistoryInput{AlarmTypes: []string{"CompositeAlarm"}}, nil},
		{"contributors", iotdm.DescribeAlarmHistoryInput{AlarmContributorID: "c1"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, _ := list(c.in)
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("DescribeAlarmHistory(%+v) mismatch (-want +got):\n%s", c.in, diff)
			}
		})
	}

	t.Run("pages", func(t *testing.T) {
		for _, scanBy := range []string{"TimestampDescending", "TimestampAscending"} {
			var got []string
			token := ""
			for range 10 {
				page, next := list(iotdm.DescribeAlarmHistoryInput{MaxRecords: monInt32(4), NextToken: token, ScanBy: scanBy})
				got = append(got, page...)
				if token = next; token == "" {
					break
				}
			}
			want := all
			if scanBy == "TimestampAscending" {
				want = make([]string, len(all))
				for i, s := range all {
					want[len(all)-1-i] = s
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("pages by %s mismatch (-want +got):\n%s", scanBy, diff)
			}
		}
	})

	t.Run("history data of an update", func(t *testing.T) {
		out, _ := f.ops.DescribeAlarmHistory(t.Context(), &iotdm.DescribeAlarmHistoryInput{AlarmName: "a", HistoryItemType: "ConfigurationUpdate"})
		var data map[string]any
		if err := json.Unmarshal([]byte(out.AlarmHistoryItems[1].HistoryData), &data); err != nil {
			t.Fatal(err)
		}
		updated, _ := data["updatedAlarm"].(map[string]any)
		if data["type"] != "Update" || data["version"] != "1.0" || updated["alarmName"] != "a" || updated["threshold"] != 10.0 ||
			!cmp.Equal(data["originalUpdatedFields"], map[string]any{}) {
			t.Errorf("HistoryData = %v, want an Update of alarm a with no field changed", data)
		}
		if _, ok := updated["stateValue"]; ok {
			t.Errorf("HistoryData's updatedAlarm holds the state: %v", updated)
		}
	})

	for _, c := range []struct {
		name string
		in   iotdm.DescribeAlarmHistoryInput
		code iotdm.ErrorCode
		msg  string
	}{
		{"bad token", iotdm.DescribeAlarmHistoryInput{NextToken: "nope"}, iotdm.ErrInvalidNextToken, "NextToken"},
		{"other listing's token", iotdm.DescribeAlarmHistoryInput{NextToken: "YWxhcm1zAGE"}, iotdm.ErrInvalidNextToken, "NextToken"},
		{"bad type", iotdm.DescribeAlarmHistoryInput{HistoryItemType: "Everything"}, iotdm.ErrCloudWatchValidation, "historyItemType"},
		{"bad scan", iotdm.DescribeAlarmHistoryInput{ScanBy: "Sideways"}, iotdm.ErrCloudWatchValidation, "scanBy"},
		{"bad max", iotdm.DescribeAlarmHistoryInput{MaxRecords: monInt32(101)}, iotdm.ErrCloudWatchValidation, "between 1 and 100"},
		{"bad alarm type", iotdm.DescribeAlarmHistoryInput{AlarmTypes: []string{"Alarm"}}, iotdm.ErrCloudWatchValidation, "alarmTypes.member.1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.ops.DescribeAlarmHistory(t.Context(), &c.in)
			wantMonCode(t, "DescribeAlarmHistory", err, c.code, c.msg)
		})
	}
}

// TestAlarmOpsPutMetricAlarmErrors: a refused definition records no
// history.
func TestAlarmOpsPutMetricAlarmErrors(t *testing.T) {
	f := newAlarmFixture(t)
	in := cpuAlarm("bad")
	in.Period = monInt32(7)
	if _, err := f.ops.PutMetricAlarm(t.Context(), in); err == nil {
		t.Fatal("PutMetricAlarm(period 7) succeeded")
	}
	if got := f.history(t, "bad"); len(got) != 0 {
		t.Errorf("history = %v, want none", got)
	}
}
