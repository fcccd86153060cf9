package alarm

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

// reasonData is AWS's StateReasonData document, in AWS's member order:
//
//	{"version":"1.0","queryDate":"2022-09-29T22:10:04.689+0000","startDate":"2022-09-29T21:40:00.000+0000",
//	 "statistic":"Sum","period":300,"recentDatapoints":[0.0,...],"threshold":0.0,
//	 "evaluatedDatapoints":[{"timestamp":"2022-09-29T22:05:00.000+0000","sampleCount":5.0,"value":0.0},...]}
//
// recentDatapoints are the real datapoints of the evaluated set, oldest
// first; evaluatedDatapoints the real ones among those that decided the
// state (M breaching to alarm, N-M+1 good to clear), newest first;
// startDate the start of the oldest period of the evaluated set. An
// INSUFFICIENT_DATA verdict has no startDate and no datapoints. The
// statistic is the ExtendedStatistic for a percentile alarm.
type reasonData struct {
	Version             string               `json:"version"`
	QueryDate           string               `json:"queryDate"`
	StartDate           string               `json:"startDate,omitempty"`
	Statistic           string               `json:"statistic,omitempty"`
	Period              int32                `json:"period"`
	RecentDatapoints    []Double             `json:"recentDatapoints"`
	Threshold           Double               `json:"threshold"`
	EvaluatedDatapoints []evaluatedDatapoint `json:"evaluatedDatapoints,omitempty"`
}

type evaluatedDatapoint struct {
	Timestamp   string `json:"timestamp"`
	SampleCount Double `json:"sampleCount"`
	Value       Double `json:"value"`
}

func (d Definition) reasonData(now, start time.Time, recent []float64, evaluated []entry) string {
	rd := reasonData{
		Version:          reasonDataVersion,
		QueryDate:        FormatTime(now),
		Statistic:        d.Statistic,
		Period:           d.Period,
		RecentDatapoints: []Double{},
		Threshold:        Double(d.Threshold),
	}
	if d.ExtendedStatistic != "" {
		rd.Statistic = d.ExtendedStatistic
	}
	if !start.IsZero() {
		rd.StartDate = FormatTime(start)
	}
	for _, v := range recent {
		rd.RecentDatapoints = append(rd.RecentDatapoints, Double(v))
	}
	for _, e := range evaluated {
		if e.filled {
			continue
		}
		rd.EvaluatedDatapoints = append(rd.EvaluatedDatapoints, evaluatedDatapoint{
			Timestamp: FormatTime(e.Timestamp), SampleCount: Double(e.SampleCount), Value: Double(e.Value),
		})
	}
	b, err := json.Marshal(rd)
	if err != nil { // only plain strings and numbers: cannot fail
		panic("alarm: encode reason data: " + err.Error())
	}
	return string(b)
}

// FormatTime formats t as CloudWatch's alarm documents do (StateReasonData
// dates, the StateChangeTime of notifications): UTC with milliseconds and
// a numeric zone, 2022-09-29T22:10:04.689+0000.
func FormatTime(t time.Time) string {
	return t.UTC().Format(reasonDataTimeLayout)
}

// Double is a float that encodes in JSON as Java prints a double, as AWS's
// alarm documents show numbers: 0.0, 20000.0, 1.0E7. NaN and infinities,
// which no datapoint holds, encode as null.
type Double float64

func (f Double) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return []byte(javaDouble(v)), nil
}

// FormatDouble formats v as Java's Double.toString, as StateReason and
// alarm notifications print numbers.
func FormatDouble(v float64) string { return javaDouble(v) }

// javaDouble formats v as Java's Double.toString: the shortest decimal that
// reads back as v, with at least one digit after the point, in scientific
// notation (1.0E7, 1.0E-4) outside [1e-3, 1e7).
func javaDouble(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "Infinity"
	case math.IsInf(v, -1):
		return "-Infinity"
	case v == 0:
		if math.Signbit(v) {
			return "-0.0"
		}
		return "0.0"
	}
	if a := math.Abs(v); a >= 1e-3 && a < 1e7 {
		s := strconv.FormatFloat(v, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(v, 'e', -1, 64) // 1.5e+07
	mant, exp, _ := strings.Cut(s, "e")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	exp = strings.TrimPrefix(exp, "+")
	neg := strings.HasPrefix(exp, "-")
	exp = strings.TrimLeft(strings.TrimPrefix(exp, "-"), "0")
	if neg {
		exp = "-" + exp
	}
	return mant + "E" + exp
}
