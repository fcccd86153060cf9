package control

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iotdm/iotdm"
)

// AlarmsOptions configures an Alarms.
type AlarmsOptions struct {
	Region    string // used in ARNs
	AccountID string // 12 digits; used in ARNs
	Logger    *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Alarms implements iotdm.Alarms on an iotdm.Store: CloudWatch metric alarm
// definitions (monitoring 2010-08-01), stored as KindAlarm by name. Nothing
// evaluates them yet: a new alarm stays INSUFFICIENT_DATA.
type Alarms struct {
	store iotdm.Store
	opts  AlarmsOptions
	log   *slog.Logger
}

var _ iotdm.Alarms = (*Alarms)(nil)

// NewAlarms returns an Alarms over store.
func NewAlarms(store iotdm.Store, opts AlarmsOptions) *Alarms {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Alarms{store: store, opts: opts, log: opts.Logger.With("component", "alarms")}
}

// Shapes and limits from the botocore monitoring model (2010-08-01) and the
// PutMetricAlarm documentation.
const (
	maxAlarmNameLen        = 255
	maxAlarmDescriptionLen = 1024
	maxAlarmActions        = 5 // ResourceList
	maxActionLen           = 1024
	maxMetricNameLen       = 255 // MetricName, Namespace, DimensionName, MetricId
	maxDimensionValueLen   = 1024
	maxDimensions          = 30
	maxExpressionLen       = 2048
	maxCloudWatchTags      = 50
	maxCloudWatchTagKeyLen = 128
	maxCloudWatchTagValLen = 256
	maxPromQLQueryLen      = 10000
	maxPromQLPeriod        = 86400
	maxEvaluationInterval  = 3600
	maxAlarmNamesPerCall   = 100
	defaultMaxRecords      = 50
	maxMaxRecords          = 100
	maxEvaluationSeconds   = 7 * 24 * 3600 // Period * EvaluationPeriods
	maxShortPeriodSeconds  = 24 * 3600     // the same for periods under an hour
	alarmsList             = "alarms"      // page token tag
)

var (
	comparisonOperators = []string{"GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold",
		"LessThanOrEqualToThreshold", "LessThanLowerOrGreaterThanUpperThreshold", "LessThanLowerThreshold", "GreaterThanUpperThreshold"}
	// bandOperators are the comparisons of anomaly detection alarms, which
	// compare with a band (ThresholdMetricId), not a Threshold.
	bandOperators = []string{"LessThanLowerOrGreaterThanUpperThreshold", "LessThanLowerThreshold", "GreaterThanUpperThreshold"}
	statistics    = []string{"SampleCount", "Average", "Sum", "Minimum", "Maximum"}
	standardUnits = []string{"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
		"Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
		"Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
		"Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None"}
	treatMissingData     = []string{"breaching", "notBreaching", "ignore", "missing"}
	lowSampleCountValues = []string{"evaluate", "ignore"}
	stateValues          = []string{iotdm.AlarmStateOK, iotdm.AlarmStateAlarm, iotdm.AlarmStateInsufficientData}
	alarmTypes           = []string{"CompositeAlarm", "MetricAlarm"}

	// metricIDPattern: "The valid characters are letters, numbers, and
	// underscore. The first character must be a lowercase letter."
	metricIDPattern = regexp.MustCompile(`^[a-z][A-Za-z0-9_]*$`)
	// extendedStatisticPattern is the ExtendedStatistic forms the
	// documentation lists: pNN, tmNN, tcNN, tsNN, wmNN, IQM, PR(n:m), and
	// TC, TM, TS, WM with a percent range.
	extendedStatisticPattern = regexp.MustCompile(`^(?:(p|tm|tc|ts|wm)(\d{1,3}(?:\.\d{1,10})?)|IQM|PR\(([^:()]*):([^:()]*)\)|(?:TC|TM|TS|WM)\((\d{1,3}(?:\.\d+)?%)?:(\d{1,3}(?:\.\d+)?%)?\))$`)
)

// cwConstraint is CloudWatch's ValidationError for a member that breaks a
// model constraint; member is the wire name with its first letter lowered,
// as AWS's messages show it.
func cwConstraint(value any, member, constraint string) error {
	v := "null"
	if value != nil {
		v = fmt.Sprintf("'%v'", value)
	}
	return iotdm.Errorf(iotdm.ErrCloudWatchValidation,
		"1 validation error detected: Value %s at '%s' failed to satisfy constraint: %s", v, member, constraint)
}

func cwValidation(format string, args ...any) error {
	return iotdm.Errorf(iotdm.ErrCloudWatchValidation, format, args...)
}

func cwMissing(param string) error {
	return iotdm.Errorf(iotdm.ErrMissingParameter, "The parameter %s is required.", param)
}

func cwCombination(format string, args ...any) error {
	return iotdm.Errorf(iotdm.ErrInvalidParameterCombination, format, args...)
}

func cwInvalidValue(format string, args ...any) error {
	return iotdm.Errorf(iotdm.ErrInvalidParameterValue, format, args...)
}

func enumConstraint(value, member string, set []string) error {
	return cwConstraint(value, member, "Member must satisfy enum value set: ["+strings.Join(set, ", ")+"]")
}

// validateAlarmName checks an AlarmName: 1-255 UTF-8 characters without
// ASCII control characters.
func validateAlarmName(member, name string) error {
	switch {
	case name == "":
		return cwConstraint(nil, member, "Member must not be null")
	case len(name) > maxAlarmNameLen:
		return cwConstraint(name, member, "Member must have length less than or equal to 255")
	case strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return cwInvalidValue("The value for parameter %s must not contain ASCII control characters.", member)
	}
	return nil
}

// validPeriod reports whether p is a period an alarm accepts: 10, 20, 30 or
// a multiple of 60.
func validPeriod(p int32) bool {
	return p == 10 || p == 20 || p == 30 || p > 0 && p%60 == 0
}

func validateActions(member string, actions []string) error {
	if len(actions) > maxAlarmActions {
		return cwConstraint(len(actions), member, "Member must have length less than or equal to 5")
	}
	for i, a := range actions {
		m := fmt.Sprintf("%s.member.%d", member, i+1)
		switch {
		case a == "" || len(a) > maxActionLen:
			return cwConstraint(a, m, "Member must have length between 1 and 1024")
		case strings.HasPrefix(a, "http://") || strings.HasPrefix(a, "https://"):
			// iotdm's webhook action (docs/monitoring.md): a URL with a host.
			if u, err := url.Parse(a); err != nil || u.Host == "" {
				return cwValidation("Invalid webhook URL: %s", a)
			}
		case !strings.HasPrefix(a, "arn:") || strings.Count(a, ":") < 5:
			return cwValidation("Invalid arn syntax: %s", a)
		}
	}
	return nil
}

func validateMetric(member string, m iotdm.Metric) error {
	if m.MetricName == "" {
		return cwMissing(member + "MetricName")
	}
	if len(m.MetricName) > maxMetricNameLen {
		return cwConstraint(m.MetricName, lowerFirst(member)+"metricName", "Member must have length less than or equal to 255")
	}
	if m.Namespace == "" {
		return cwMissing(member + "Namespace")
	}
	if len(m.Namespace) > maxMetricNameLen || strings.HasPrefix(m.Namespace, ":") {
		return cwConstraint(m.Namespace, lowerFirst(member)+"namespace", "Member must satisfy regular expression pattern: [^:].* and have length between 1 and 255")
	}
	return validateDimensions(lowerFirst(member)+"dimensions", m.Dimensions)
}

func validateDimensions(member string, dims []iotdm.Dimension) error {
	if len(dims) > maxDimensions {
		return cwConstraint(len(dims), member, "Member must have length less than or equal to 30")
	}
	for i, d := range dims {
		m := fmt.Sprintf("%s.member.%d", member, i+1)
		if d.Name == "" || len(d.Name) > maxMetricNameLen {
			return cwConstraint(d.Name, m+".name", "Member must have length between 1 and 255")
		}
		if d.Value == "" || len(d.Value) > maxDimensionValueLen {
			return cwConstraint(d.Value, m+".value", "Member must have length between 1 and 1024")
		}
	}
	return nil
}

// lowerFirst lowers the first letter of a member path ("Metric." becomes
// "metric.").
func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// validExtendedStatistic checks the percentile and trimmed statistics the
// documentation lists; percentages lie in [0, 100].
func validExtendedStatistic(s string) bool {
	m := extendedStatisticPattern.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	if m[2] != "" {
		v, err := strconv.ParseFloat(m[2], 64)
		return err == nil && v >= 0 && v <= 100
	}
	for _, pct := range m[5:] {
		if pct == "" {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSuffix(pct, "%"), 64)
		if err != nil || v < 0 || v > 100 {
			return false
		}
	}
	return true
}

func validateTagsCW(tags []iotdm.Tag) error {
	if len(tags) > maxCloudWatchTags {
		return iotdm.Errorf(iotdm.ErrCloudWatchLimitExceeded, "A resource can have at most %d tags.", maxCloudWatchTags)
	}
	seen := make(map[string]bool, len(tags))
	for i, t := range tags {
		m := fmt.Sprintf("tags.member.%d", i+1)
		if t.Key == "" || len(t.Key) > maxCloudWatchTagKeyLen {
			return cwConstraint(t.Key, m+".key", "Member must have length between 1 and 128")
		}
		if len(t.Value) > maxCloudWatchTagValLen {
			return cwConstraint(t.Value, m+".value", "Member must have length less than or equal to 256")
		}
		if seen[t.Key] {
			return cwInvalidValue("The tag key %s is specified more than once.", t.Key)
		}
		seen[t.Key] = true
	}
	return nil
}

// validatePutMetricAlarm checks a PutMetricAlarm request against the model
// and the rules of its documentation.
func validatePutMetricAlarm(in *iotdm.PutMetricAlarmInput) error {
	if err := validateAlarmName("alarmName", in.AlarmName); err != nil {
		return err
	}
	if len(in.AlarmDescription) > maxAlarmDescriptionLen {
		return cwConstraint(in.AlarmDescription, "alarmDescription", "Member must have length less than or equal to 1024")
	}
	for _, l := range []struct {
		member  string
		actions []string
	}{{"oKActions", in.OKActions}, {"alarmActions", in.AlarmActions}, {"insufficientDataActions", in.InsufficientDataActions}} {
		if err := validateActions(l.member, l.actions); err != nil {
			return err
		}
	}
	if err := validateTagsCW(in.Tags); err != nil {
		return err
	}

	singleMetric := in.MetricName != "" || in.Namespace != "" || in.Statistic != "" || in.ExtendedStatistic != "" ||
		len(in.Dimensions) > 0 || in.Period != nil || in.Unit != ""
	math := len(in.Metrics) > 0
	promQL := in.EvaluationCriteria != nil
	switch {
	case !singleMetric && !math && !promQL:
		return cwMissing("MetricName, Metrics or EvaluationCriteria")
	case singleMetric && math:
		return cwCombination("If you specify Metrics, you cannot specify Namespace, MetricName, Dimensions, Period, Unit, Statistic, or ExtendedStatistic.")
	case promQL && (singleMetric || math || in.Threshold != nil || in.ComparisonOperator != "" || in.ThresholdMetricID != "" ||
		in.EvaluationPeriods != nil || in.DatapointsToAlarm != nil):
		return cwCombination("If you specify EvaluationCriteria, you cannot specify Namespace, MetricName, Dimensions, Period, Unit, " +
			"Statistic, ExtendedStatistic, Metrics, Threshold, ComparisonOperator, ThresholdMetricId, EvaluationPeriods, or DatapointsToAlarm.")
	case !promQL && in.EvaluationInterval != nil:
		return cwCombination("EvaluationInterval can only be specified with EvaluationCriteria.")
	}
	if promQL {
		return validatePromQLAlarm(in)
	}

	// The alarm's period: the single metric's, or the longest in Metrics.
	var period int32
	if singleMetric {
		if err := validateMetric("", iotdm.Metric{Namespace: in.Namespace, MetricName: in.MetricName, Dimensions: in.Dimensions}); err != nil {
			return err
		}
		switch {
		case in.Statistic != "" && in.ExtendedStatistic != "":
			return cwCombination("Exactly one element of the Statistic and ExtendedStatistic parameters must be specified.")
		case in.Statistic == "" && in.ExtendedStatistic == "":
			return cwMissing("Statistic or ExtendedStatistic")
		case in.Statistic != "" && !slices.Contains(statistics, in.Statistic):
			return enumConstraint(in.Statistic, "statistic", statistics)
		case in.ExtendedStatistic != "" && !validExtendedStatistic(in.ExtendedStatistic):
			return cwInvalidValue("The value %s for parameter ExtendedStatistic is not supported.", in.ExtendedStatistic)
		}
		if in.Period == nil {
			return cwMissing("Period")
		}
		if !validPeriod(*in.Period) {
			return cwValidation("Period must be 10, 20, 30 or a multiple of 60.")
		}
		period = *in.Period
		if in.Unit != "" && !slices.Contains(standardUnits, in.Unit) {
			return enumConstraint(in.Unit, "unit", standardUnits)
		}
		if in.ThresholdMetricID != "" {
			return cwCombination("ThresholdMetricId names an expression in Metrics; it cannot be used with MetricName.")
		}
	} else {
		p, err := validateAlarmMetrics(in)
		if err != nil {
			return err
		}
		period = p
	}

	if in.EvaluationPeriods == nil {
		return cwMissing("EvaluationPeriods")
	}
	evals := *in.EvaluationPeriods
	if evals < 1 {
		return cwConstraint(evals, "evaluationPeriods", "Member must have value greater than or equal to 1")
	}
	if d := in.DatapointsToAlarm; d != nil {
		if *d < 1 {
			return cwConstraint(*d, "datapointsToAlarm", "Member must have value greater than or equal to 1")
		}
		if *d > evals {
			return cwValidation("DatapointsToAlarm must be less than or equal to EvaluationPeriods.")
		}
	}
	// AWS: Period * EvaluationPeriods can't exceed seven days, nor one day
	// for periods under an hour.
	if total := int64(period) * int64(evals); total > maxEvaluationSeconds {
		return cwValidation("The evaluation period of an alarm (Period * EvaluationPeriods) can't be longer than 7 days (604800 seconds).")
	} else if period < 3600 && total > maxShortPeriodSeconds {
		return cwValidation("The evaluation period of an alarm with a period under one hour (Period * EvaluationPeriods) can't be longer than one day (86400 seconds).")
	}

	if in.ComparisonOperator == "" {
		return cwMissing("ComparisonOperator")
	}
	if !slices.Contains(comparisonOperators, in.ComparisonOperator) {
		return enumConstraint(in.ComparisonOperator, "comparisonOperator", comparisonOperators)
	}
	band := slices.Contains(bandOperators, in.ComparisonOperator)
	switch {
	case in.ThresholdMetricID != "" && in.Threshold != nil:
		return cwCombination("Exactly one element of the Threshold and ThresholdMetricId parameters must be specified.")
	case in.ThresholdMetricID == "" && in.Threshold == nil:
		return cwMissing("Threshold")
	case in.ThresholdMetricID != "" && !band:
		return cwValidation("ComparisonOperator %s is not valid for an alarm with ThresholdMetricId; use LessThanLowerOrGreaterThanUpperThreshold, LessThanLowerThreshold or GreaterThanUpperThreshold.", in.ComparisonOperator)
	case in.ThresholdMetricID == "" && band:
		return cwValidation("ComparisonOperator %s requires ThresholdMetricId.", in.ComparisonOperator)
	}
	if in.TreatMissingData != "" && !slices.Contains(treatMissingData, in.TreatMissingData) {
		return cwValidation("Option %s is not supported. Supported options for parameter TreatMissingData are: %s.",
			in.TreatMissingData, strings.Join(treatMissingData, ", "))
	}
	if v := in.EvaluateLowSampleCountPercentile; v != "" && !slices.Contains(lowSampleCountValues, v) {
		return cwValidation("Option %s is not supported. Supported options for parameter EvaluateLowSampleCountPercentile are: evaluate, ignore.", v)
	}
	return nil
}

// validateAlarmMetrics checks a metric math alarm's Metrics and returns the
// longest period among them.
func validateAlarmMetrics(in *iotdm.PutMetricAlarmInput) (int32, error) {
	ids := map[string]bool{}
	expressions := map[string]bool{}
	returning := 0
	var period int32
	for i, q := range in.Metrics {
		m := fmt.Sprintf("metrics.member.%d", i+1)
		switch {
		case q.ID == "":
			return 0, cwConstraint(nil, m+".id", "Member must not be null")
		case len(q.ID) > maxMetricNameLen:
			return 0, cwConstraint(q.ID, m+".id", "Member must have length less than or equal to 255")
		case !metricIDPattern.MatchString(q.ID):
			return 0, cwValidation("Invalid metrics list: the Id %s must start with a lowercase letter and contain only letters, numbers and underscores.", q.ID)
		case ids[q.ID]:
			return 0, cwValidation("Invalid metrics list: the Id %s is used more than once.", q.ID)
		case (q.MetricStat == nil) == (q.Expression == ""):
			return 0, cwValidation("Invalid metrics list: exactly one of MetricStat and Expression must be specified for %s.", q.ID)
		}
		ids[q.ID] = true
		if q.ReturnData == nil || *q.ReturnData {
			returning++
		}
		if q.Period != 0 {
			if !validPeriod(q.Period) {
				return 0, cwValidation("Period must be 10, 20, 30 or a multiple of 60.")
			}
			period = max(period, q.Period)
		}
		if q.Expression != "" {
			if len(q.Expression) > maxExpressionLen {
				return 0, cwConstraint(q.Expression, m+".expression", "Member must have length less than or equal to 2048")
			}
			expressions[q.ID] = true
			continue
		}
		s := q.MetricStat
		if err := validateMetric(fmt.Sprintf("Metrics.member.%d.MetricStat.Metric.", i+1), s.Metric); err != nil {
			return 0, err
		}
		if s.Stat == "" {
			return 0, cwMissing(fmt.Sprintf("Metrics.member.%d.MetricStat.Stat", i+1))
		}
		if !slices.Contains(statistics, s.Stat) && !validExtendedStatistic(s.Stat) {
			return 0, cwInvalidValue("The value %s for parameter Metrics.member.%d.MetricStat.Stat is not supported.", s.Stat, i+1)
		}
		if !validPeriod(s.Period) {
			return 0, cwValidation("Period must be 10, 20, 30 or a multiple of 60.")
		}
		if s.Unit != "" && !slices.Contains(standardUnits, s.Unit) {
			return 0, enumConstraint(s.Unit, m+".metricStat.unit", standardUnits)
		}
		period = max(period, s.Period)
	}
	if returning != 1 {
		return 0, cwValidation("Exactly one element of the metrics list should return data.")
	}
	if id := in.ThresholdMetricID; id != "" && !expressions[id] {
		return 0, cwValidation("ThresholdMetricId %s must be the Id of an expression in Metrics.", id)
	}
	if period == 0 {
		period = 60
	}
	return period, nil
}

// validatePromQLAlarm checks the EvaluationCriteria of a PromQL alarm.
func validatePromQLAlarm(in *iotdm.PutMetricAlarmInput) error {
	c := in.EvaluationCriteria.PromQLCriteria
	if c == nil {
		return cwMissing("EvaluationCriteria.PromQLCriteria")
	}
	if c.Query == "" {
		return cwConstraint(nil, "evaluationCriteria.promQLCriteria.query", "Member must not be null")
	}
	if len(c.Query) > maxPromQLQueryLen {
		return cwConstraint(len(c.Query), "evaluationCriteria.promQLCriteria.query", "Member must have length less than or equal to 10000")
	}
	for _, p := range []struct {
		member string
		v      *int32
	}{{"pendingPeriod", c.PendingPeriod}, {"recoveryPeriod", c.RecoveryPeriod}} {
		if p.v != nil && (*p.v < 0 || *p.v > maxPromQLPeriod) {
			return cwConstraint(*p.v, "evaluationCriteria.promQLCriteria."+p.member, "Member must have value between 0 and 86400")
		}
	}
	if in.EvaluationInterval == nil {
		return cwMissing("EvaluationInterval")
	}
	if v := *in.EvaluationInterval; v < 10 || v > maxEvaluationInterval || !validPeriod(v) {
		return cwValidation("EvaluationInterval must be 10, 20, 30 or a multiple of 60, at most 3600.")
	}
	if in.TreatMissingData != "" {
		return cwCombination("TreatMissingData is not applicable to PromQL alarms.")
	}
	return nil
}

// alarmArn is the ARN of an alarm.
func (a *Alarms) alarmArn(name string) string {
	return "arn:aws:cloudwatch:" + a.opts.Region + ":" + a.opts.AccountID + ":alarm:" + name
}

func (a *Alarms) now() iotdm.Timestamp {
	return iotdm.Timestamp{Time: a.opts.Now().UTC().Truncate(time.Millisecond)}
}

// nonNil makes an absent list an empty one, as DescribeAlarms shows it.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// PutMetricAlarm creates an alarm, or replaces the configuration of the
// alarm of that name.
// AWS: a new alarm starts in INSUFFICIENT_DATA (a PromQL alarm in OK); an
// update leaves the state as it is, overwrites the whole configuration and
// ignores Tags.
func (a *Alarms) PutMetricAlarm(ctx context.Context, in *iotdm.PutMetricAlarmInput) (*iotdm.Empty, error) {
	if err := validatePutMetricAlarm(in); err != nil {
		return nil, err
	}
	now := a.now()
	alarm := iotdm.MetricAlarm{
		AlarmName:                          in.AlarmName,
		AlarmArn:                           a.alarmArn(in.AlarmName),
		AlarmDescription:                   in.AlarmDescription,
		AlarmConfigurationUpdatedTimestamp: now,
		ActionsEnabled:                     in.ActionsEnabled == nil || *in.ActionsEnabled,
		OKActions:                          nonNil(slices.Clone(in.OKActions)),
		AlarmActions:                       nonNil(slices.Clone(in.AlarmActions)),
		InsufficientDataActions:            nonNil(slices.Clone(in.InsufficientDataActions)),
		MetricName:                         in.MetricName,
		Namespace:                          in.Namespace,
		Statistic:                          in.Statistic,
		ExtendedStatistic:                  in.ExtendedStatistic,
		Dimensions:                         nonNil(slices.Clone(in.Dimensions)),
		Unit:                               in.Unit,
		Threshold:                          in.Threshold,
		ComparisonOperator:                 in.ComparisonOperator,
		TreatMissingData:                   in.TreatMissingData,
		EvaluateLowSampleCountPercentile:   in.EvaluateLowSampleCountPercentile,
		Metrics:                            slices.Clone(in.Metrics),
		ThresholdMetricID:                  in.ThresholdMetricID,
		EvaluationCriteria:                 in.EvaluationCriteria,
	}
	if in.Period != nil {
		alarm.Period = *in.Period
	}
	if in.EvaluationPeriods != nil {
		alarm.EvaluationPeriods = *in.EvaluationPeriods
	}
	if in.DatapointsToAlarm != nil {
		alarm.DatapointsToAlarm = *in.DatapointsToAlarm
	}
	if in.EvaluationInterval != nil {
		alarm.EvaluationInterval = *in.EvaluationInterval
	}
	err := a.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		old, exists, err := get[iotdm.StoredAlarm](ctx, tx, iotdm.KindAlarm, in.AlarmName)
		if err != nil {
			return err
		}
		stored := iotdm.StoredAlarm{MetricAlarm: alarm}
		if exists {
			stored.StateValue = old.StateValue
			stored.StateReason = old.StateReason
			stored.StateReasonData = old.StateReasonData
			stored.StateUpdatedTimestamp = old.StateUpdatedTimestamp
			stored.StateTransitionedTimestamp = old.StateTransitionedTimestamp
			stored.EvaluationState = old.EvaluationState
			stored.Tags = old.Tags
		} else {
			stored.StateValue = iotdm.AlarmStateInsufficientData
			if in.EvaluationCriteria != nil {
				stored.StateValue = iotdm.AlarmStateOK
			}
			stored.StateReason = iotdm.AlarmInitialReason
			stored.StateUpdatedTimestamp = now
			stored.StateTransitionedTimestamp = now
			stored.Tags = slices.Clone(in.Tags)
		}
		return put(ctx, tx, iotdm.KindAlarm, in.AlarmName, stored)
	})
	if err != nil {
		return nil, err
	}
	return &iotdm.Empty{}, nil
}

// DescribeAlarms lists metric alarms in name order, by names or a name
// prefix, a state and an action prefix. There are no composite alarms, so
// ChildrenOfAlarmName, ParentsOfAlarmName and AlarmTypes [CompositeAlarm]
// find none.
func (a *Alarms) DescribeAlarms(ctx context.Context, in *iotdm.DescribeAlarmsInput) (*iotdm.DescribeAlarmsOutput, error) {
	size := defaultMaxRecords
	if in.MaxRecords != nil {
		if n := *in.MaxRecords; n < 1 || n > maxMaxRecords {
			return nil, cwConstraint(n, "maxRecords", "Member must have value between 1 and 100")
		}
		size = int(*in.MaxRecords)
	}
	if len(in.AlarmNames) > maxAlarmNamesPerCall {
		return nil, cwConstraint(len(in.AlarmNames), "alarmNames", "Member must have length less than or equal to 100")
	}
	for i, n := range in.AlarmNames {
		if err := validateAlarmName(fmt.Sprintf("alarmNames.member.%d", i+1), n); err != nil {
			return nil, err
		}
	}
	if len(in.AlarmNamePrefix) > maxAlarmNameLen {
		return nil, cwConstraint(in.AlarmNamePrefix, "alarmNamePrefix", "Member must have length less than or equal to 255")
	}
	if len(in.ActionPrefix) > maxActionLen {
		return nil, cwConstraint(in.ActionPrefix, "actionPrefix", "Member must have length less than or equal to 1024")
	}
	if in.StateValue != "" && !slices.Contains(stateValues, in.StateValue) {
		return nil, enumConstraint(in.StateValue, "stateValue", stateValues)
	}
	for i, t := range in.AlarmTypes {
		if !slices.Contains(alarmTypes, t) {
			return nil, enumConstraint(t, fmt.Sprintf("alarmTypes.member.%d", i+1), alarmTypes)
		}
	}
	if len(in.AlarmNames) > 0 && in.AlarmNamePrefix != "" {
		return nil, cwCombination("AlarmNames and AlarmNamePrefix cannot be specified together.")
	}
	after, err := decodeToken(alarmsList, in.NextToken)
	if err != nil {
		return nil, iotdm.Errorf(iotdm.ErrInvalidNextToken, "The service cannot process the NextToken: %s", in.NextToken)
	}
	out := &iotdm.DescribeAlarmsOutput{CompositeAlarms: []iotdm.CompositeAlarm{}, MetricAlarms: []iotdm.MetricAlarm{}}
	for _, rel := range []struct{ member, name string }{{"ChildrenOfAlarmName", in.ChildrenOfAlarmName}, {"ParentsOfAlarmName", in.ParentsOfAlarmName}} {
		if rel.name == "" {
			continue
		}
		if err := validateAlarmName(lowerFirst(rel.member), rel.name); err != nil {
			return nil, err
		}
		// AWS: with either, only MaxRecords and NextToken may be given.
		if len(in.AlarmNames) > 0 || in.AlarmNamePrefix != "" || len(in.AlarmTypes) > 0 || in.StateValue != "" ||
			in.ActionPrefix != "" || in.ChildrenOfAlarmName != "" && in.ParentsOfAlarmName != "" {
			return nil, cwValidation("If %s is specified, no other parameter except MaxRecords and NextToken may be specified.", rel.member)
		}
		return out, nil // no composite alarms: no children, no parents
	}
	if len(in.AlarmTypes) > 0 && !slices.Contains(in.AlarmTypes, "MetricAlarm") {
		return out, nil
	}

	p := pager[iotdm.MetricAlarm]{size: size}
	match := func(key string, s *iotdm.StoredAlarm) bool {
		if in.StateValue != "" && s.StateValue != in.StateValue {
			return true
		}
		if in.ActionPrefix != "" && !hasActionPrefix(s, in.ActionPrefix) {
			return true
		}
		return p.add(key, s.MetricAlarm)
	}
	err = a.store.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
		if len(in.AlarmNames) == 0 {
			return scanAfter(ctx, tx, iotdm.KindAlarm, in.AlarmNamePrefix, after, func(key string, s *iotdm.StoredAlarm) error {
				if !match(key, s) {
					return iotdm.ErrStopScan
				}
				return nil
			})
		}
		names := slices.Clone(in.AlarmNames)
		slices.Sort(names)
		for _, name := range slices.Compact(names) {
			if name <= after {
				continue
			}
			s, ok, err := get[iotdm.StoredAlarm](ctx, tx, iotdm.KindAlarm, name)
			if err != nil {
				return err
			}
			if ok && !match(name, s) {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if p.items != nil {
		out.MetricAlarms = p.items
	}
	out.NextToken = p.next(alarmsList)
	return out, nil
}

// hasActionPrefix reports whether any action of the alarm starts with
// prefix.
func hasActionPrefix(s *iotdm.StoredAlarm, prefix string) bool {
	for _, list := range [][]string{s.AlarmActions, s.OKActions, s.InsufficientDataActions} {
		for _, action := range list {
			if strings.HasPrefix(action, prefix) {
				return true
			}
		}
	}
	return false
}

// DeleteAlarms deletes the named alarms in one transaction.
// AWS (the DeleteAlarms documentation): "If you specify any incorrect alarm
// names, the alarms you specify with correct names are still deleted." A
// name that matches no alarm is skipped, without an error.
func (a *Alarms) DeleteAlarms(ctx context.Context, in *iotdm.DeleteAlarmsInput) (*iotdm.Empty, error) {
	if in.AlarmNames == nil {
		return nil, cwConstraint(nil, "alarmNames", "Member must not be null")
	}
	if len(in.AlarmNames) > maxAlarmNamesPerCall {
		return nil, cwConstraint(len(in.AlarmNames), "alarmNames", "Member must have length less than or equal to 100")
	}
	for i, n := range in.AlarmNames {
		if err := validateAlarmName(fmt.Sprintf("alarmNames.member.%d", i+1), n); err != nil {
			return nil, err
		}
	}
	err := a.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		for _, name := range in.AlarmNames {
			if err := tx.Delete(ctx, iotdm.KindAlarm, name); err != nil {
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
