// Package alarm evaluates CloudWatch metric alarms: given an alarm's
// definition, its current state and the datapoints of its evaluation range,
// it computes the new state and AWS's StateReason and StateReasonData. It
// does no I/O; the time is an argument.
//
// The rules are AWS's documented ones (CloudWatch User Guide, "Alarm
// evaluation" and "Configuring how CloudWatch alarms treat missing data"):
//
//   - An alarm looks at the most recent EvaluationPeriods (N) periods and
//     goes to ALARM when DatapointsToAlarm (M, default N) of them breach the
//     threshold, and to OK otherwise.
//   - The evaluation range is longer than N periods (RangePeriods). When it
//     holds at least N real datapoints, the N most recent are evaluated and
//     TreatMissingData does not matter.
//   - With fewer real datapoints than N, the missing ones are filled as
//     TreatMissingData says: breaching and notBreaching fill up to N with
//     breaching or good datapoints, and every real datapoint of the range is
//     evaluated with them; missing and ignore evaluate the real datapoints
//     alone.
//   - With no real datapoint in the range: missing goes to INSUFFICIENT_DATA,
//     ignore keeps the state, breaching goes to ALARM, notBreaching to OK.
//   - Premature alarm (missing only): when the oldest breaching datapoint of
//     the last N periods is at least M periods old and every more recent one
//     is breaching or missing, the alarm goes to ALARM even with fewer than M
//     datapoints; ignore keeps the state instead.
//
// Where AWS documents no exact rule, this package decides, and says so:
//
//   - The evaluation range spans N + max(N/3, 2) periods (5 for N = 3, the
//     range of AWS's own example); AWS says only that it is "a higher number
//     of data points than the number specified as Evaluation Periods".
//   - With missing or ignore and fewer real datapoints than N, the alarm
//     goes to OK only when at least one real datapoint is not breaching;
//     when every real datapoint breaches but fewer than M do (and the
//     premature rule does not hold), the state is kept: the data neither
//     shows the alarm nor clears it.
//   - Periods are aligned to multiples of Period since the Unix epoch, and
//     the period in progress at `now` is never evaluated.
//   - The anomaly-band comparisons (LessThanLowerOrGreaterThanUpperThreshold,
//     LessThanLowerThreshold, GreaterThanUpperThreshold) need a band from a
//     metric math expression and are not evaluated: Evaluate returns
//     ErrUnsupported for them.
//   - EvaluateLowSampleCountPercentile is not honoured: percentiles are
//     always evaluated.
//   - StateReason follows AWS's two wordings: alarms that set
//     DatapointsToAlarm get "Threshold Crossed: 2 out of the last 3
//     datapoints [v (dd/mm/yy hh:mm:ss), ...] were greater than the
//     threshold (t) (minimum 2 datapoints for OK -> ALARM transition).";
//     the others "Threshold Crossed: 3 datapoints were greater than the
//     threshold (t). The most recent datapoints which crossed the threshold:
//     [...]." (or "1 datapoint [...] was ..."), naming on a return to OK the
//     one datapoint that cleared the alarm. Lists name at most five
//     datapoints, newest first; missing datapoints filled as breaching or
//     not are counted and named in a closing sentence ("2 missing
//     datapoints were treated as [Breaching].").
package alarm

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Alarm states.
const (
	StateOK               = "OK"
	StateAlarm            = "ALARM"
	StateInsufficientData = "INSUFFICIENT_DATA"
)

// Comparison operators.
const (
	GreaterThanOrEqualToThreshold            = "GreaterThanOrEqualToThreshold"
	GreaterThanThreshold                     = "GreaterThanThreshold"
	LessThanThreshold                        = "LessThanThreshold"
	LessThanOrEqualToThreshold               = "LessThanOrEqualToThreshold"
	LessThanLowerOrGreaterThanUpperThreshold = "LessThanLowerOrGreaterThanUpperThreshold"
	LessThanLowerThreshold                   = "LessThanLowerThreshold"
	GreaterThanUpperThreshold                = "GreaterThanUpperThreshold"
)

// TreatMissingData values.
const (
	MissingAsMissing    = "missing"
	MissingIgnore       = "ignore"
	MissingBreaching    = "breaching"
	MissingNotBreaching = "notBreaching"
)

const (
	maxEvaluationPeriods  = 100000
	maxListedDatapoints   = 5    // datapoints a StateReason names
	maxStateReasonLen     = 1023 // the model's StateReason
	reasonDataVersion     = "1.0"
	reasonDateLayout      = "02/01/06 15:04:05"
	reasonDataTimeLayout  = "2006-01-02T15:04:05.000-0700"
	thresholdCrossed      = "Threshold Crossed"
	insufficientData      = "Insufficient Data"
	missingBreachingLabel = "Breaching"
	missingGoodLabel      = "NonBreaching"
)

// ErrUnsupported is returned for an alarm this package cannot evaluate.
var ErrUnsupported = errors.New("unsupported alarm")

// Definition is what evaluation needs of a metric alarm: the members of
// CloudWatch's MetricAlarm of the same names.
type Definition struct {
	Period            int32 // seconds
	EvaluationPeriods int32 // N
	// DatapointsToAlarm is M; 0 means N. It also picks the wording of the
	// StateReason: AWS names "M out of the last N datapoints" only for
	// alarms that set it.
	DatapointsToAlarm  int32
	Threshold          float64
	ComparisonOperator string
	Statistic          string // or ExtendedStatistic
	ExtendedStatistic  string
	TreatMissingData   string // "" means missing
}

func (d Definition) n() int { return int(d.EvaluationPeriods) }

func (d Definition) m() int {
	if d.DatapointsToAlarm > 0 {
		return int(d.DatapointsToAlarm)
	}
	return int(d.EvaluationPeriods)
}

func (d Definition) treatment() string {
	if d.TreatMissingData == "" {
		return MissingAsMissing
	}
	return d.TreatMissingData
}

// Validate reports whether d can be evaluated; the error wraps
// ErrUnsupported.
func (d Definition) Validate() error {
	switch d.ComparisonOperator {
	case GreaterThanOrEqualToThreshold, GreaterThanThreshold, LessThanThreshold, LessThanOrEqualToThreshold:
	case LessThanLowerOrGreaterThanUpperThreshold, LessThanLowerThreshold, GreaterThanUpperThreshold:
		return fmt.Errorf("%w: %s compares with an anomaly detection band, which iotdm does not compute", ErrUnsupported, d.ComparisonOperator)
	default:
		return fmt.Errorf("%w: comparison operator %q", ErrUnsupported, d.ComparisonOperator)
	}
	switch {
	case d.Period <= 0:
		return fmt.Errorf("%w: period %d", ErrUnsupported, d.Period)
	case d.EvaluationPeriods <= 0 || d.EvaluationPeriods > maxEvaluationPeriods:
		return fmt.Errorf("%w: evaluation periods %d", ErrUnsupported, d.EvaluationPeriods)
	case d.DatapointsToAlarm < 0 || d.DatapointsToAlarm > d.EvaluationPeriods:
		return fmt.Errorf("%w: datapoints to alarm %d of %d", ErrUnsupported, d.DatapointsToAlarm, d.EvaluationPeriods)
	}
	switch d.treatment() {
	case MissingAsMissing, MissingIgnore, MissingBreaching, MissingNotBreaching:
	default:
		return fmt.Errorf("%w: TreatMissingData %q", ErrUnsupported, d.TreatMissingData)
	}
	return nil
}

// breaches reports whether v crosses the threshold.
func (d Definition) breaches(v float64) bool {
	switch d.ComparisonOperator {
	case GreaterThanOrEqualToThreshold:
		return v >= d.Threshold
	case GreaterThanThreshold:
		return v > d.Threshold
	case LessThanThreshold:
		return v < d.Threshold
	case LessThanOrEqualToThreshold:
		return v <= d.Threshold
	}
	return false
}

// comparisonText is the operator as StateReason words it.
func comparisonText(op string) string {
	switch op {
	case GreaterThanOrEqualToThreshold:
		return "greater than or equal to"
	case GreaterThanThreshold:
		return "greater than"
	case LessThanThreshold:
		return "less than"
	case LessThanOrEqualToThreshold:
		return "less than or equal to"
	}
	return op
}

// RangePeriods is the number of periods of the evaluation range of an alarm
// with n evaluation periods: n + max(n/3, 2).
func RangePeriods(n int32) int {
	return int(n) + max(int(n)/3, 2)
}

// Range returns the start of each period of the evaluation range at now,
// oldest first: RangePeriods(EvaluationPeriods) periods aligned to
// multiples of Period since the Unix epoch, the last of which ends at or
// before now. It returns nil for a definition without a period.
func Range(d Definition, now time.Time) []time.Time {
	if d.Period <= 0 || d.EvaluationPeriods <= 0 {
		return nil
	}
	p := time.Duration(d.Period) * time.Second
	sec, period := now.Unix(), int64(d.Period)
	end := time.Unix(sec-((sec%period)+period)%period, 0).UTC()
	r := RangePeriods(d.EvaluationPeriods)
	starts := make([]time.Time, r)
	for i := range starts {
		starts[i] = end.Add(-time.Duration(r-i) * p)
	}
	return starts
}

// Point is the statistic of one period of the evaluation range.
type Point struct {
	Timestamp   time.Time // start of the period
	Value       float64
	SampleCount float64
	Missing     bool // no datapoint in this period
}

// Stats are the statistics of one period, as a metric store keeps them.
type Stats struct {
	SampleCount float64
	Sum         float64
	Minimum     float64
	Maximum     float64
	Percentiles map[float64]float64
}

// Value returns the definition's statistic from s; ok is false when s does
// not hold it.
func (d Definition) Value(s Stats) (v float64, ok bool) {
	if d.ExtendedStatistic != "" {
		p, ok := Percentile(d.ExtendedStatistic)
		if !ok {
			return 0, false
		}
		v, ok = s.Percentiles[p]
		return v, ok
	}
	switch d.Statistic {
	case "SampleCount":
		return s.SampleCount, true
	case "Sum":
		return s.Sum, true
	case "Minimum":
		return s.Minimum, true
	case "Maximum":
		return s.Maximum, true
	case "Average":
		if s.SampleCount == 0 {
			return 0, false
		}
		return s.Sum / s.SampleCount, true
	}
	return 0, false
}

// Percentile parses a percentile extended statistic, pNN or pNN.NN, the
// only extended statistics evaluated; trimmed means, trimmed counts and the
// others report false.
func Percentile(ext string) (float64, bool) {
	rest, ok := strings.CutPrefix(ext, "p")
	if !ok || rest == "" || strings.ContainsAny(rest, "eE+-") {
		return 0, false
	}
	p, err := strconv.ParseFloat(rest, 64)
	if err != nil || p < 0 || p > 100 {
		return 0, false
	}
	return p, true
}

// Result is the outcome of one evaluation.
type Result struct {
	// State is the alarm's state after the evaluation; it equals the current
	// state when nothing changed (Changed false).
	State   string
	Changed bool
	// Reason and ReasonData are the StateReason and StateReasonData of the
	// new state; empty when the state is kept without a verdict (ignore).
	Reason     string
	ReasonData string
}

// entry is one datapoint of the evaluated set: a real datapoint or a
// missing one filled as TreatMissingData says.
type entry struct {
	Point
	filled    bool
	breaching bool
}

// Evaluate computes the state of an alarm in state current from the
// datapoints of its evaluation range (oldest first, one per period, as
// Range lays them out; Missing for the periods without one) at time now.
func Evaluate(d Definition, current string, points []Point, now time.Time) (Result, error) {
	if err := d.Validate(); err != nil {
		return Result{}, err
	}
	n, m := d.n(), d.m()
	keep := Result{State: current}
	var present []Point
	for _, p := range points {
		if !p.Missing {
			present = append(present, p)
		}
	}
	last := points[max(0, len(points)-n):] // the most recent N periods

	if len(present) == 0 {
		return d.allMissing(current, last, n, now), nil
	}

	var set []entry
	switch t := d.treatment(); {
	case len(present) >= n:
		for _, p := range present[len(present)-n:] {
			set = append(set, entry{Point: p, breaching: d.breaches(p.Value)})
		}
	case t == MissingBreaching || t == MissingNotBreaching:
		set = d.fill(points, n-len(present), t == MissingBreaching)
	default: // missing, ignore
		if d.premature(last, m) {
			if t == MissingIgnore {
				return keep, nil
			}
			for _, p := range last {
				if !p.Missing {
					set = append(set, entry{Point: p, breaching: d.breaches(p.Value)})
				}
			}
			return d.verdict(current, StateAlarm, set, now), nil
		}
		good := false
		for _, p := range present {
			e := entry{Point: p, breaching: d.breaches(p.Value)}
			good = good || !e.breaching
			set = append(set, e)
		}
		if !good && countBreaching(set) < m {
			return keep, nil
		}
	}
	state := StateOK
	if countBreaching(set) >= m {
		state = StateAlarm
	}
	return d.verdict(current, state, set, now), nil
}

func countBreaching(set []entry) int {
	b := 0
	for _, e := range set {
		if e.breaching {
			b++
		}
	}
	return b
}

// fill returns every real datapoint of points and k more: the most recent
// missing periods, filled as breaching or not. Oldest first.
func (d Definition) fill(points []Point, k int, breaching bool) []entry {
	fillAt := make(map[int]bool, k)
	for i := len(points) - 1; i >= 0 && len(fillAt) < k; i-- {
		if points[i].Missing {
			fillAt[i] = true
		}
	}
	var set []entry
	for i, p := range points {
		switch {
		case !p.Missing:
			set = append(set, entry{Point: p, breaching: d.breaches(p.Value)})
		case fillAt[i]:
			set = append(set, entry{Point: p, filled: true, breaching: breaching})
		}
	}
	return set
}

// premature reports AWS's premature-alarm condition on the last N periods:
// the oldest breaching datapoint is at least M periods old and every more
// recent datapoint is breaching or missing.
func (d Definition) premature(last []Point, m int) bool {
	oldest := -1
	for i, p := range last {
		if p.Missing {
			continue
		}
		if !d.breaches(p.Value) {
			if oldest >= 0 {
				return false // a good datapoint after the oldest breaching one
			}
			continue
		}
		if oldest < 0 {
			oldest = i
		}
	}
	return oldest >= 0 && len(last)-oldest >= m
}

// allMissing is the verdict when the evaluation range holds no datapoint.
func (d Definition) allMissing(current string, last []Point, n int, now time.Time) Result {
	switch d.treatment() {
	case MissingIgnore:
		return Result{State: current}
	case MissingAsMissing:
		res := Result{
			State:      StateInsufficientData,
			Changed:    current != StateInsufficientData,
			Reason:     fmt.Sprintf("%s: %s %s unknown.", insufficientData, count(n, "datapoint"), wasWere(n)),
			ReasonData: d.reasonData(now, time.Time{}, nil, nil),
		}
		return res
	}
	breaching := d.treatment() == MissingBreaching
	state, label := StateOK, missingGoodLabel
	if breaching {
		state, label = StateAlarm, missingBreachingLabel
	}
	var start time.Time
	if len(last) > 0 {
		start = last[0].Timestamp
	}
	return Result{
		State:   state,
		Changed: current != state,
		Reason: fmt.Sprintf("%s: no datapoints were received for %s and %s %s treated as [%s].",
			thresholdCrossed, count(n, "period"), count(n, "missing datapoint"), wasWere(n), label),
		ReasonData: d.reasonData(now, start, []float64{}, nil),
	}
}

// verdict words the change to state on the evaluated set (oldest first).
func (d Definition) verdict(current, state string, set []entry, now time.Time) Result {
	n, m := d.n(), d.m()
	alarming := state == StateAlarm
	// The deciding datapoints, newest first: the breaching ones for ALARM,
	// the others for OK.
	var deciding []entry
	for i := len(set) - 1; i >= 0; i-- {
		if set[i].breaching == alarming {
			deciding = append(deciding, set[i])
		}
	}
	// How many of them the transition needs: M to alarm, N-M+1 to clear.
	need := m
	if !alarming {
		need = n - m + 1
	}
	evaluated := deciding[:min(need, len(deciding))]

	var listed []entry // real datapoints named in the reason, newest first
	filled := 0
	classic := d.DatapointsToAlarm == 0
	named := deciding
	if classic && !alarming {
		named = evaluated // AWS's classic OK reason names the one datapoint that cleared the alarm
	}
	for _, e := range named {
		if e.filled {
			filled++
		} else {
			listed = append(listed, e)
		}
	}
	not := ""
	if !alarming {
		not = "not "
	}
	threshold := javaDouble(d.Threshold)
	op := comparisonText(d.ComparisonOperator)
	var b strings.Builder
	b.WriteString(thresholdCrossed + ": ")
	switch k := len(named); {
	case !classic:
		transition := current + " -> " + state
		fmt.Fprintf(&b, "%d out of the last %d datapoints%s %s %s%s the threshold (%s) (minimum %s for %s transition).",
			k, n, datapointList(listed), wasWere(k), not, op, threshold, count(need, "datapoint"), transition)
	case k == 1:
		fmt.Fprintf(&b, "1 datapoint%s was %s%s the threshold (%s).", datapointList(listed), not, op, threshold)
	default:
		fmt.Fprintf(&b, "%d datapoints were %s%s the threshold (%s).", k, not, op, threshold)
		if len(listed) > 0 {
			fmt.Fprintf(&b, " The most recent datapoints which crossed the threshold:%s.", datapointList(listed))
		}
	}
	if filled > 0 {
		label := missingGoodLabel
		if d.treatment() == MissingBreaching {
			label = missingBreachingLabel
		}
		fmt.Fprintf(&b, " %s %s treated as [%s].", count(filled, "missing datapoint"), wasWere(filled), label)
	}
	reason := b.String()
	if len(reason) > maxStateReasonLen {
		reason = reason[:maxStateReasonLen-3] + "..."
	}

	var recent []float64
	for _, e := range set {
		if !e.filled {
			recent = append(recent, e.Value)
		}
	}
	if recent == nil {
		recent = []float64{}
	}
	var start time.Time
	if len(set) > 0 {
		start = set[0].Timestamp
	}
	return Result{
		State:      state,
		Changed:    current != state,
		Reason:     reason,
		ReasonData: d.reasonData(now, start, recent, evaluated),
	}
}

// datapointList renders " [v (date), ...]" for at most five datapoints, or
// "" for none.
func datapointList(list []entry) string {
	if len(list) == 0 {
		return ""
	}
	parts := make([]string, 0, min(len(list), maxListedDatapoints))
	for _, e := range list[:min(len(list), maxListedDatapoints)] {
		parts = append(parts, javaDouble(e.Value)+" ("+e.Timestamp.UTC().Format(reasonDateLayout)+")")
	}
	return " [" + strings.Join(parts, ", ") + "]"
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

func wasWere(n int) string {
	if n == 1 {
		return "was"
	}
	return "were"
}
