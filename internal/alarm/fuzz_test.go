package alarm_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/iotdm/iotdm/internal/alarm"
)

var (
	fuzzOperators  = []string{alarm.GreaterThanOrEqualToThreshold, alarm.GreaterThanThreshold, alarm.LessThanThreshold, alarm.LessThanOrEqualToThreshold}
	fuzzTreatments = []string{"", alarm.MissingAsMissing, alarm.MissingIgnore, alarm.MissingBreaching, alarm.MissingNotBreaching}
)

// FuzzEvaluate holds Evaluate to its contract on any alarm and datapoints:
// a known state, Changed exactly when the state differs, and a reason with
// valid JSON data for every change. Each byte of points is a period: 0 is
// missing, other values are datapoints around the threshold 128.
func FuzzEvaluate(f *testing.F) {
	f.Add(uint8(3), uint8(3), uint8(1), uint8(0), uint8(0), []byte{1, 0, 200, 0, 200})
	f.Add(uint8(3), uint8(0), uint8(1), uint8(1), uint8(1), []byte{0, 0, 200, 0, 0})
	f.Add(uint8(5), uint8(2), uint8(2), uint8(3), uint8(2), []byte{0, 0, 0, 0, 0, 9, 0})
	f.Add(uint8(1), uint8(1), uint8(3), uint8(4), uint8(0), []byte{128})
	f.Fuzz(func(t *testing.T, n, m, op, treatment, current uint8, points []byte) {
		if len(points) > 200 {
			return
		}
		d := alarm.Definition{
			Period: 60, EvaluationPeriods: int32(n%20) + 1, Threshold: 128, Statistic: "Average",
			ComparisonOperator: fuzzOperators[int(op)%len(fuzzOperators)],
			TreatMissingData:   fuzzTreatments[int(treatment)%len(fuzzTreatments)],
		}
		d.DatapointsToAlarm = int32(m) % (d.EvaluationPeriods + 1)
		cur := []string{alarm.StateOK, alarm.StateAlarm, alarm.StateInsufficientData}[int(current)%3]
		now := time.Unix(1_800_000_000, 0).UTC()
		pts := make([]alarm.Point, len(points))
		for i, b := range points {
			pts[i] = alarm.Point{Timestamp: now.Add(-time.Duration(len(points)-i) * time.Minute), Value: float64(b), SampleCount: 1, Missing: b == 0}
		}
		res, err := alarm.Evaluate(d, cur, pts, now)
		if err != nil {
			t.Fatalf("Evaluate(%+v) error: %v", d, err)
		}
		switch res.State {
		case alarm.StateOK, alarm.StateAlarm, alarm.StateInsufficientData:
		default:
			t.Fatalf("Evaluate(%+v) state %q", d, res.State)
		}
		if res.Changed != (res.State != cur) {
			t.Fatalf("Evaluate(%+v, %s) = %+v: Changed does not match the state", d, cur, res)
		}
		if res.Changed && (res.Reason == "" || len(res.Reason) > 1023 || !json.Valid([]byte(res.ReasonData))) {
			t.Fatalf("Evaluate(%+v, %s) = %+v: a change needs a reason of at most 1023 bytes and JSON data", d, cur, res)
		}
	})
}
