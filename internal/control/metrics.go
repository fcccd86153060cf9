package control

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/iotdm/iotdm"
)

// MetricsOptions configures a Metrics.
type MetricsOptions struct {
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Metrics implements iotdm.CloudWatchMetrics on an iotdm.MetricStore:
// PutMetricData, GetMetricStatistics, GetMetricData (with metric math) and
// ListMetrics, with the monitoring model's validation and CloudWatch's
// errors.
//
// Differences from CloudWatch: periods are aligned to the Unix epoch, not
// to StartTime; the extended statistics are percentiles (pNN.NN) only; a
// period whose observations carry several units is one GetMetricData
// datapoint whose percentiles come from the unit with the most samples.
type Metrics struct {
	store iotdm.MetricStore
	opts  MetricsOptions
	log   *slog.Logger
}

var _ iotdm.CloudWatchMetrics = (*Metrics)(nil)

// NewMetrics returns a Metrics over store.
func NewMetrics(store iotdm.MetricStore, opts MetricsOptions) *Metrics {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Metrics{store: store, opts: opts, log: opts.Logger.With("component", "metrics")}
}

// Limits from the PutMetricData, GetMetricData and ListMetrics
// documentation.
const (
	maxMetricPast       = 14 * 24 * time.Hour // AWS: a timestamp within the past two weeks
	maxMetricFuture     = 2 * time.Hour       // AWS: and no more than two hours in the future
	highResolutionLimit = 3 * time.Hour       // AWS: periods under a minute cover the last three hours
	maxListDimensions   = 10                  // ListMetrics' DimensionFilters
	listMetricsPage     = 500                 // AWS: up to 500 results per ListMetrics call
	maxQueryDatapoints  = 1_000_000           // the periods one GetMetricData may compute, over all its metrics
	recentlyActivePT3H  = "PT3H"
	metricsTokenTag     = "metrics"
	metricDataTokenTag  = "metricdata"
)

// maxMetricMagnitude: AWS: values must be in the range of -2^360 to 2^360.
var maxMetricMagnitude = math.Ldexp(1, 360)

// --- PutMetricData ---

// PutMetricData checks every datum, then stores all of them or none.
// AWS: a datum without Timestamp is stamped with the time of receipt.
func (m *Metrics) PutMetricData(ctx context.Context, in *iotdm.PutMetricDataInput) (*iotdm.Empty, error) {
	now := m.opts.Now()
	if err := validateMetricNamespace("Namespace", in.Namespace, true); err != nil {
		return nil, err
	}
	total := len(in.MetricData)
	for _, e := range in.EntityMetricData {
		total += len(e.MetricData)
	}
	switch {
	case total == 0:
		return nil, cwMissing("MetricData")
	case len(in.MetricData) > iotdm.MaxMetricDataPerPut || total > iotdm.MaxMetricDataPerPut:
		return nil, cwInvalidValue("The collection MetricData must not have a size greater than %d.", iotdm.MaxMetricDataPerPut)
	}
	points := make([]iotdm.MetricPoint, 0, total)
	var err error
	points, err = m.datumPoints(points, in.Namespace, "MetricData", in.MetricData, now)
	if err != nil {
		return nil, err
	}
	for i, e := range in.EntityMetricData {
		prefix := fmt.Sprintf("EntityMetricData.member.%d", i+1)
		if e.Entity != nil {
			if n := len(e.Entity.KeyAttributes); n != 0 && (n < 2 || n > 4) {
				return nil, cwConstraint(n, lowerFirst(prefix)+".entity.keyAttributes", "Member must have length between 2 and 4")
			}
			if n := len(e.Entity.Attributes); n > 10 {
				return nil, cwConstraint(n, lowerFirst(prefix)+".entity.attributes", "Member must have length less than or equal to 10")
			}
		}
		if points, err = m.datumPoints(points, in.Namespace, prefix+".MetricData", e.MetricData, now); err != nil {
			return nil, err
		}
	}
	if len(points) == 0 {
		return &iotdm.Empty{}, nil
	}
	if err := m.store.PutMetricPoints(ctx, points); err != nil {
		return nil, fmt.Errorf("put metric data: %w", err)
	}
	return &iotdm.Empty{}, nil
}

// validateMetricNamespace checks a Namespace; put refuses the AWS/ names.
func validateMetricNamespace(member, ns string, put bool) error {
	switch {
	case ns == "":
		return cwMissing(member)
	case len(ns) > maxMetricNameLen || strings.HasPrefix(ns, ":"):
		return cwConstraint(ns, lowerFirst(member), "Member must satisfy regular expression pattern: [^:].* and have length between 1 and 255")
	case put && strings.HasPrefix(ns, "AWS/"):
		// AWS: namespaces starting with "AWS/" are reserved for AWS services.
		return cwInvalidValue("The value %s for parameter %s is invalid. Namespaces beginning with AWS/ are reserved for AWS services.", ns, member)
	}
	return nil
}

// datumPoints checks the data under prefix (a member path such as
// "MetricData") and appends their points.
func (m *Metrics) datumPoints(points []iotdm.MetricPoint, ns, prefix string, data []iotdm.MetricDatum, now time.Time) ([]iotdm.MetricPoint, error) {
	for i := range data {
		d := &data[i]
		p := fmt.Sprintf("%s.member.%d", prefix, i+1)
		if d.MetricName == "" {
			return nil, cwMissing(p + ".MetricName")
		}
		if len(d.MetricName) > maxMetricNameLen {
			return nil, cwConstraint(d.MetricName, lowerFirst(p)+".metricName", "Member must have length less than or equal to 255")
		}
		if err := validateMetricDimensions(p, d.Dimensions); err != nil {
			return nil, err
		}
		ts := now
		if d.Timestamp != nil {
			ts = d.Timestamp.Time
			switch {
			case ts.Before(now.Add(-maxMetricPast)):
				return nil, cwInvalidValue("The parameter %s.Timestamp must specify a time within the past two weeks.", p)
			case ts.After(now.Add(maxMetricFuture)):
				return nil, cwInvalidValue("The parameter %s.Timestamp must specify a time no more than two hours in the future.", p)
			}
		}
		if d.Unit != "" && !slices.Contains(standardUnits, d.Unit) {
			return nil, cwInvalidValue("The parameter %s.Unit must be a value in the set [ %s ].", p, strings.Join(standardUnits, ", "))
		}
		high := false
		if r := d.StorageResolution; r != nil {
			switch *r {
			case 1:
				high = true
			case 60:
			default:
				return nil, cwInvalidValue("The value %d for parameter %s.StorageResolution is invalid. Valid values are 1 and 60.", *r, p)
			}
		}
		metric := iotdm.Metric{Namespace: ns, MetricName: d.MetricName, Dimensions: d.Dimensions}
		point := iotdm.MetricPoint{Metric: metric, Timestamp: ts, Unit: d.Unit, HighResolution: high}
		hasValues := d.Values != nil
		switch {
		case d.Value != nil && d.StatisticValues != nil:
			return nil, cwCombination("The parameters %[1]s.Value and %[1]s.StatisticValues are mutually exclusive and you have specified both.", p)
		case d.Value != nil && hasValues:
			return nil, cwCombination("The parameters %[1]s.Value and %[1]s.Values are mutually exclusive and you have specified both.", p)
		case d.StatisticValues != nil && hasValues:
			return nil, cwCombination("The parameters %[1]s.Values and %[1]s.StatisticValues are mutually exclusive and you have specified both.", p)
		case d.Counts != nil && !hasValues:
			return nil, cwCombination("The parameter %[1]s.Counts can only be specified with %[1]s.Values.", p)
		case d.Value == nil && d.StatisticValues == nil && !hasValues:
			return nil, cwCombination("At least one of the parameters %[1]s.Value, %[1]s.Values and %[1]s.StatisticValues must be specified.", p)
		}
		switch {
		case d.Value != nil:
			if err := checkMetricValue(*d.Value, p+".Value"); err != nil {
				return nil, err
			}
			v := *d.Value
			point.Value = &v
			points = append(points, point)
		case d.StatisticValues != nil:
			s := *d.StatisticValues
			for _, f := range []struct {
				name string
				v    float64
			}{{"SampleCount", s.SampleCount}, {"Sum", s.Sum}, {"Minimum", s.Minimum}, {"Maximum", s.Maximum}} {
				if err := checkMetricValue(f.v, p+".StatisticValues."+f.name); err != nil {
					return nil, err
				}
			}
			if s.SampleCount <= 0 {
				return nil, cwInvalidValue("The value %v for parameter %s.StatisticValues.SampleCount is invalid. It must be greater than 0.", s.SampleCount, p)
			}
			if s.Minimum > s.Maximum {
				return nil, cwInvalidValue("The parameter %[1]s.StatisticValues.Minimum must not be greater than %[1]s.StatisticValues.Maximum.", p)
			}
			point.Stats = &s
			points = append(points, point)
		default:
			if len(d.Values) > iotdm.MaxValuesPerDatum {
				return nil, cwInvalidValue("The collection %s.Values must not have a size greater than %d.", p, iotdm.MaxValuesPerDatum)
			}
			if d.Counts != nil && len(d.Counts) != len(d.Values) {
				return nil, cwInvalidValue("The parameters %[1]s.Values and %[1]s.Counts must be of the same size.", p)
			}
			for j, v := range d.Values {
				if err := checkMetricValue(v, fmt.Sprintf("%s.Values.member.%d", p, j+1)); err != nil {
					return nil, err
				}
				count := 1.0
				if d.Counts != nil {
					count = d.Counts[j]
					if !finiteMetricValue(count) || count < 0 {
						return nil, cwInvalidValue("The value %v for parameter %s.Counts.member.%d is invalid.", count, p, j+1)
					}
					if count == 0 {
						continue // no observation
					}
				}
				vp := point
				vp.Value, vp.Count = &d.Values[j], count
				points = append(points, vp)
			}
		}
	}
	return points, nil
}

// validateMetricDimensions checks the Dimensions of a datum at prefix.
func validateMetricDimensions(prefix string, dims []iotdm.Dimension) error {
	if len(dims) > maxDimensions {
		return cwInvalidValue("The collection %s.Dimensions must not have a size greater than %d.", prefix, maxDimensions)
	}
	if err := validateDimensions(lowerFirst(prefix)+".dimensions", dims); err != nil {
		return err
	}
	for i, d := range dims {
		for _, e := range dims[:i] {
			if e.Name == d.Name {
				return cwInvalidValue("The dimension name %s appears more than once in %s.Dimensions; dimension names must be unique.", d.Name, prefix)
			}
		}
	}
	return nil
}

func finiteMetricValue(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// checkMetricValue refuses NaN, infinities and magnitudes CloudWatch does
// not accept.
func checkMetricValue(v float64, member string) error {
	a := math.Abs(v)
	if !finiteMetricValue(v) || a > maxMetricMagnitude || a != 0 && a < 1/maxMetricMagnitude {
		return cwInvalidValue("The value %s for parameter %s is invalid.", formatMetricValue(v), member)
	}
	return nil
}

func formatMetricValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "Infinity"
	case math.IsInf(v, -1):
		return "-Infinity"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// --- statistics ---

// metricStatKind is one statistic asked for: a standard one, or a percentile.
type metricStatKind struct {
	name       string  // as asked: "Average", "p99"
	percentile float64 // for pNN
	isPct      bool
}

// parseMetricStat parses a standard statistic or a percentile (pNN, pNN.NN).
func parseMetricStat(s string) (metricStatKind, bool) {
	if slices.Contains(statistics, s) {
		return metricStatKind{name: s}, true
	}
	rest, ok := strings.CutPrefix(s, "p")
	if !ok || rest == "" || strings.ContainsAny(rest, "eE+-xX_") {
		return metricStatKind{}, false
	}
	if i := strings.IndexByte(rest, '.'); i >= 0 && (i == 0 || len(rest)-i-1 > 10) {
		return metricStatKind{}, false
	}
	v, err := strconv.ParseFloat(rest, 64)
	if err != nil || v < 0 || v > 100 {
		return metricStatKind{}, false
	}
	return metricStatKind{name: s, percentile: v, isPct: true}, true
}

// statValue is the statistic of a bucket; ok is false when the bucket
// cannot give it (a percentile of values that were not kept).
func (k metricStatKind) statValue(b iotdm.MetricBucket) (float64, bool) {
	if k.isPct {
		v, ok := b.Percentiles[k.percentile]
		return v, ok
	}
	switch k.name {
	case "SampleCount":
		return b.SampleCount, true
	case "Sum":
		return b.Sum, true
	case "Minimum":
		return b.Minimum, true
	case "Maximum":
		return b.Maximum, true
	}
	return b.Sum / b.SampleCount, b.SampleCount > 0 // Average
}

// validQueryPeriod reports whether p is a period GetMetricData and
// GetMetricStatistics accept: 1, 5, 10, 30 or a multiple of 60.
func validQueryPeriod(p int32) bool {
	return p == 1 || p == 5 || p == 10 || p == 30 || p > 0 && p%60 == 0
}

// queryStart is where a query at period starts reading: CloudWatch rounds
// StartTime down to the minute (the second for shorter periods), and keeps
// data of periods under a minute for three hours only.
func (m *Metrics) queryStart(start time.Time, period time.Duration) time.Time {
	if period < time.Minute {
		return laterTime(start.Truncate(time.Second), m.opts.Now().Add(-highResolutionLimit).Truncate(time.Second))
	}
	return start.Truncate(time.Minute)
}

func laterTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// GetMetricStatistics returns the asked statistics of one metric in
// periods, oldest first.
func (m *Metrics) GetMetricStatistics(ctx context.Context, in *iotdm.GetMetricStatisticsInput) (*iotdm.GetMetricStatisticsOutput, error) {
	if err := validateMetricNamespace("Namespace", in.Namespace, false); err != nil {
		return nil, err
	}
	switch {
	case in.MetricName == "":
		return nil, cwMissing("MetricName")
	case len(in.MetricName) > maxMetricNameLen:
		return nil, cwConstraint(in.MetricName, "metricName", "Member must have length less than or equal to 255")
	case in.StartTime == nil:
		return nil, cwMissing("StartTime")
	case in.EndTime == nil:
		return nil, cwMissing("EndTime")
	case in.Period == nil:
		return nil, cwMissing("Period")
	}
	if err := validateDimensions("dimensions", in.Dimensions); err != nil {
		return nil, err
	}
	if len(in.Dimensions) > maxDimensions {
		return nil, cwConstraint(len(in.Dimensions), "dimensions", "Member must have length less than or equal to 30")
	}
	period := *in.Period
	switch {
	case period < 1:
		return nil, cwConstraint(period, "period", "Member must have value greater than or equal to 1")
	case !validQueryPeriod(period):
		return nil, cwInvalidValue("The parameter Period must be 1, 5, 10, 30 or a multiple of 60.")
	}
	switch {
	case len(in.Statistics) == 0 && len(in.ExtendedStatistics) == 0:
		return nil, cwCombination("At least one of the parameters Statistics and ExtendedStatistics must be specified.")
	case len(in.Statistics) > 0 && len(in.ExtendedStatistics) > 0:
		return nil, cwCombination("The parameters Statistics and ExtendedStatistics are mutually exclusive and you have specified both.")
	case len(in.Statistics) > 5:
		return nil, cwConstraint(len(in.Statistics), "statistics", "Member must have length less than or equal to 5")
	case len(in.ExtendedStatistics) > 10:
		return nil, cwConstraint(len(in.ExtendedStatistics), "extendedStatistics", "Member must have length less than or equal to 10")
	}
	var kinds []metricStatKind
	var pcts []float64
	for i, s := range in.Statistics {
		if !slices.Contains(statistics, s) {
			return nil, enumConstraint(s, fmt.Sprintf("statistics.member.%d", i+1), statistics)
		}
		kinds = append(kinds, metricStatKind{name: s})
	}
	for _, s := range in.ExtendedStatistics {
		k, ok := parseMetricStat(s)
		if !ok || !k.isPct {
			return nil, cwInvalidValue("The value %s for parameter ExtendedStatistics is not supported.", s)
		}
		kinds = append(kinds, k)
		pcts = append(pcts, k.percentile)
	}
	if in.Unit != "" && !slices.Contains(standardUnits, in.Unit) {
		return nil, enumConstraint(in.Unit, "unit", standardUnits)
	}
	if !in.StartTime.Before(in.EndTime.Time) {
		return nil, cwInvalidValue("The parameter StartTime must be less than the parameter EndTime.")
	}
	p := time.Duration(period) * time.Second
	start, end := m.queryStart(in.StartTime.Time, p), in.EndTime.Time
	// AWS: at most 1,440 datapoints a call.
	if n := int64(math.Ceil(float64(end.Sub(start)) / float64(p))); n > iotdm.MaxDatapointsPerStatistics {
		return nil, cwCombination("You have requested up to %d datapoints, which exceeds the limit of %d. "+
			"You may reduce the datapoints requested by increasing Period, or decreasing the time range.", n, iotdm.MaxDatapointsPerStatistics)
	}
	out := &iotdm.GetMetricStatisticsOutput{Label: in.MetricName, Datapoints: []iotdm.Datapoint{}}
	if !start.Before(end) {
		return out, nil
	}
	buckets, err := m.store.MetricStatistics(ctx, iotdm.MetricRange{
		Metric: iotdm.Metric{Namespace: in.Namespace, MetricName: in.MetricName, Dimensions: in.Dimensions},
		Start:  start, End: end, Period: p, Unit: in.Unit, Percentiles: pcts,
	})
	if err != nil {
		return nil, fmt.Errorf("get metric statistics: %w", err)
	}
	for _, b := range buckets {
		dp := iotdm.Datapoint{Timestamp: iotdm.Timestamp{Time: b.Timestamp.UTC()}, Unit: b.Unit}
		for _, k := range kinds {
			v, ok := k.statValue(b)
			if !ok {
				continue
			}
			switch k.name {
			case "SampleCount":
				dp.SampleCount = &v
			case "Average":
				dp.Average = &v
			case "Sum":
				dp.Sum = &v
			case "Minimum":
				dp.Minimum = &v
			case "Maximum":
				dp.Maximum = &v
			default:
				if dp.ExtendedStatistics == nil {
					dp.ExtendedStatistics = map[string]float64{}
				}
				dp.ExtendedStatistics[k.name] = v
			}
		}
		out.Datapoints = append(out.Datapoints, dp)
	}
	return out, nil
}

// --- ListMetrics ---

// ListMetrics lists the metrics with observations in the last two weeks,
// 500 a page.
func (m *Metrics) ListMetrics(ctx context.Context, in *iotdm.ListMetricsInput) (*iotdm.ListMetricsOutput, error) {
	if in.Namespace != "" {
		if err := validateMetricNamespace("Namespace", in.Namespace, false); err != nil {
			return nil, err
		}
	}
	if len(in.MetricName) > maxMetricNameLen {
		return nil, cwConstraint(in.MetricName, "metricName", "Member must have length less than or equal to 255")
	}
	if len(in.Dimensions) > maxListDimensions {
		return nil, cwConstraint(len(in.Dimensions), "dimensions", "Member must have length less than or equal to 10")
	}
	for i, d := range in.Dimensions {
		mem := fmt.Sprintf("dimensions.member.%d", i+1)
		if d.Name == "" || len(d.Name) > maxMetricNameLen {
			return nil, cwConstraint(d.Name, mem+".name", "Member must have length between 1 and 255")
		}
		if d.Value != nil && (*d.Value == "" || len(*d.Value) > maxDimensionValueLen) {
			return nil, cwConstraint(*d.Value, mem+".value", "Member must have length between 1 and 1024")
		}
	}
	f := iotdm.MetricFilter{Namespace: in.Namespace, MetricName: in.MetricName, Dimensions: in.Dimensions}
	switch in.RecentlyActive {
	case "":
	case recentlyActivePT3H:
		f.ActiveSince = m.opts.Now().Add(-3 * time.Hour)
	default:
		return nil, enumConstraint(in.RecentlyActive, "recentlyActive", []string{recentlyActivePT3H})
	}
	var after *iotdm.Metric
	if in.NextToken != "" {
		key, ok := decodeCWToken(metricsTokenTag, in.NextToken)
		var last iotdm.Metric
		if !ok || json.Unmarshal([]byte(key), &last) != nil {
			return nil, cwInvalidValue("The value %s for parameter NextToken is invalid.", in.NextToken)
		}
		after = &last
	}
	metrics, err := m.store.ListMetrics(ctx, f, after, listMetricsPage+1)
	if err != nil {
		return nil, fmt.Errorf("list metrics: %w", err)
	}
	out := &iotdm.ListMetricsOutput{Metrics: metrics}
	if len(metrics) > listMetricsPage {
		out.Metrics = metrics[:listMetricsPage]
		last, err := json.Marshal(out.Metrics[listMetricsPage-1])
		if err != nil {
			return nil, fmt.Errorf("list metrics: %w", err)
		}
		out.NextToken = encodeCWToken(metricsTokenTag, string(last))
	}
	if out.Metrics == nil {
		out.Metrics = []iotdm.Metric{}
	}
	for i := range out.Metrics {
		if out.Metrics[i].Dimensions == nil {
			out.Metrics[i].Dimensions = []iotdm.Dimension{}
		}
	}
	return out, nil
}

// CloudWatch's page tokens: opaque, tagged with the listing they page.
func encodeCWToken(tag, key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(tag + "\x00" + key))
}

func decodeCWToken(tag, token string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", false
	}
	t, key, ok := strings.Cut(string(b), "\x00")
	return key, ok && t == tag
}

// --- GetMetricData ---

// metricSeries is one time series of GetMetricData: timestamps (Unix seconds,
// ascending) and their values.
type metricSeries struct {
	label string
	ts    []int64
	vals  []float64
}

// dataQuery is one checked MetricDataQuery.
type dataQuery struct {
	q      *iotdm.MetricDataQuery
	stat   metricStatKind
	period time.Duration
	expr   exprNode
	label  string
}

// GetMetricData evaluates the queries (metrics and metric math) over
// [StartTime, EndTime) and returns those with ReturnData, their datapoints
// newest first unless ScanBy says otherwise, at most MaxDatapoints a page.
func (m *Metrics) GetMetricData(ctx context.Context, in *iotdm.GetMetricDataInput) (*iotdm.GetMetricDataOutput, error) {
	queries, err := validateMetricDataQueries(in)
	if err != nil {
		return nil, err
	}
	pageSize := iotdm.DefaultMaxDatapoints
	if in.MaxDatapoints != nil {
		if *in.MaxDatapoints < 1 {
			return nil, cwConstraint(*in.MaxDatapoints, "maxDatapoints", "Member must have value greater than or equal to 1")
		}
		pageSize = int(*in.MaxDatapoints)
	}
	scanBy := cmp.Or(in.ScanBy, iotdm.ScanByTimestampDescending)
	if scanBy != iotdm.ScanByTimestampDescending && scanBy != iotdm.ScanByTimestampAscending {
		return nil, enumConstraint(in.ScanBy, "scanBy", []string{iotdm.ScanByTimestampDescending, iotdm.ScanByTimestampAscending})
	}
	fingerprint := queryFingerprint(in)
	offset := 0
	if in.NextToken != "" {
		o, ok := decodeDataToken(in.NextToken, fingerprint)
		if !ok {
			return nil, iotdm.Errorf(iotdm.ErrInvalidNextToken, "The service couldn't process the NextToken %s.", in.NextToken)
		}
		offset = o
	}
	start, end := in.StartTime.Time, in.EndTime.Time
	// Bound the work: every period of every metric could hold a datapoint.
	var periods int64
	for _, mq := range queries {
		if from := m.queryStart(start, mq.period); mq.q.MetricStat != nil && from.Before(end) {
			periods += int64(end.Sub(from)/mq.period) + 1
		}
	}
	if periods > maxQueryDatapoints {
		return nil, cwCombination("The request covers up to %d datapoints; at most %d are computed per call. "+
			"Increase the periods, or decrease the time range or the number of metrics.", periods, maxQueryDatapoints)
	}

	// The metrics first, then the expressions in dependency order.
	values := map[string]exprValue{}
	var metricsList []metricSeries // for METRICS()
	grid := gridSpec{start: start.Unix(), end: ceilUnixSeconds(end)}
	for _, mq := range queries {
		if mq.q.MetricStat == nil {
			continue
		}
		s, err := m.statSeries(ctx, mq, start, end)
		if err != nil {
			return nil, err
		}
		values[mq.q.ID] = exprValue{single: &s}
		metricsList = append(metricsList, s)
		grid.period = minPositivePeriod(grid.period, int64(mq.period/time.Second))
	}
	if grid.period == 0 {
		grid.period = 60
	}
	env := &exprEnv{values: values, metrics: metricsList, grid: grid}
	for _, mq := range evaluationOrder(queries) {
		if mq.expr == nil {
			continue
		}
		env.grid.period = grid.period
		if mq.q.Period > 0 {
			env.grid.period = int64(mq.q.Period)
		}
		v, err := env.eval(mq.expr)
		if err != nil {
			return nil, cwValidation("Error in expression '%s': %s", mq.q.ID, err)
		}
		values[mq.q.ID] = v
	}

	// Every returned series, in query order, then the page.
	var results []iotdm.MetricDataResult
	var data []metricSeries // of each result, in scan order
	for _, mq := range queries {
		if mq.q.ReturnData != nil && !*mq.q.ReturnData {
			continue
		}
		v := values[mq.q.ID]
		var list []metricSeries
		switch {
		case v.single != nil:
			s := *v.single
			s.label = mq.label
			list = []metricSeries{s}
		case v.array != nil:
			list = v.array
		default:
			s := env.scalarSeries(v.scalar)
			s.label = mq.label
			list = []metricSeries{s}
		}
		for _, s := range list {
			s = s.finite()
			if scanBy == iotdm.ScanByTimestampDescending {
				s = s.reversed()
			}
			label := s.label
			if label == "" {
				label = mq.label
			}
			results = append(results, iotdm.MetricDataResult{ID: mq.q.ID, Label: label})
			data = append(data, s)
		}
	}
	out := &iotdm.GetMetricDataOutput{MetricDataResults: make([]iotdm.MetricDataResult, len(results))}
	pos, budget := 0, pageSize
	more := false
	for i, r := range results {
		ts := data[i].ts
		from := min(max(offset-pos, 0), len(ts))
		to := from + min(budget, len(ts)-from)
		r.Timestamps, r.Values = make([]iotdm.Timestamp, 0, to-from), slices.Clone(data[i].vals[from:to])
		for _, t := range ts[from:to] {
			r.Timestamps = append(r.Timestamps, iotdm.Timestamp{Time: time.Unix(t, 0).UTC()})
		}
		budget -= to - from
		r.StatusCode = iotdm.MetricStatusComplete
		if to < len(ts) {
			r.StatusCode = iotdm.MetricStatusPartialData
			more = true
		}
		pos += len(ts)
		out.MetricDataResults[i] = r
	}
	if more {
		out.NextToken = encodeDataToken(offset+pageSize, fingerprint)
	}
	return out, nil
}

func minPositivePeriod(a, b int64) int64 {
	if a == 0 || b < a {
		return b
	}
	return a
}

func ceilUnixSeconds(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// statSeries reads one MetricStat query's datapoints. Without a Unit, the
// units of one period are merged into one datapoint.
func (m *Metrics) statSeries(ctx context.Context, mq dataQuery, start, end time.Time) (metricSeries, error) {
	ms := mq.q.MetricStat
	from := m.queryStart(start, mq.period)
	out := metricSeries{label: mq.label}
	if !from.Before(end) {
		return out, nil
	}
	r := iotdm.MetricRange{Metric: ms.Metric, Start: from, End: end, Period: mq.period, Unit: ms.Unit}
	if mq.stat.isPct {
		r.Percentiles = []float64{mq.stat.percentile}
	}
	buckets, err := m.store.MetricStatistics(ctx, r)
	if err != nil {
		return out, fmt.Errorf("get metric data: %w", err)
	}
	for i := 0; i < len(buckets); {
		b := buckets[i]
		best := b // the unit with the most samples gives the percentile
		j := i + 1
		for ; j < len(buckets) && buckets[j].Timestamp.Equal(b.Timestamp); j++ {
			o := buckets[j]
			if o.SampleCount > best.SampleCount {
				best = o
			}
			b.SampleCount += o.SampleCount
			b.Sum += o.Sum
			b.Minimum = min(b.Minimum, o.Minimum)
			b.Maximum = max(b.Maximum, o.Maximum)
		}
		b.Percentiles = best.Percentiles
		i = j
		if v, ok := mq.stat.statValue(b); ok {
			out.ts = append(out.ts, b.Timestamp.Unix())
			out.vals = append(out.vals, v)
		}
	}
	return out, nil
}

// finite drops the datapoints whose value is not a number (a division by
// zero), as CloudWatch leaves them out.
func (s metricSeries) finite() metricSeries {
	out := metricSeries{label: s.label}
	for i, v := range s.vals {
		if finiteMetricValue(v) {
			out.ts = append(out.ts, s.ts[i])
			out.vals = append(out.vals, v)
		}
	}
	return out
}

func (s metricSeries) reversed() metricSeries {
	out := metricSeries{label: s.label, ts: slices.Clone(s.ts), vals: slices.Clone(s.vals)}
	slices.Reverse(out.ts)
	slices.Reverse(out.vals)
	return out
}

// validateMetricDataQueries checks GetMetricData's input and compiles its
// queries.
func validateMetricDataQueries(in *iotdm.GetMetricDataInput) ([]dataQuery, error) {
	switch {
	case len(in.MetricDataQueries) == 0:
		return nil, cwMissing("MetricDataQueries")
	case len(in.MetricDataQueries) > iotdm.MaxMetricDataQueries:
		return nil, cwInvalidValue("The collection MetricDataQueries must not have a size greater than %d.", iotdm.MaxMetricDataQueries)
	case in.StartTime == nil:
		return nil, cwMissing("StartTime")
	case in.EndTime == nil:
		return nil, cwMissing("EndTime")
	case !in.StartTime.Before(in.EndTime.Time):
		return nil, cwInvalidValue("The parameter StartTime must be less than the parameter EndTime.")
	}
	queries := make([]dataQuery, len(in.MetricDataQueries))
	ids := map[string]bool{}
	for i := range in.MetricDataQueries {
		q := &in.MetricDataQueries[i]
		p := fmt.Sprintf("MetricDataQueries.member.%d", i+1)
		switch {
		case q.ID == "":
			return nil, cwMissing(p + ".Id")
		case len(q.ID) > maxMetricNameLen:
			return nil, cwConstraint(q.ID, lowerFirst(p)+".id", "Member must have length less than or equal to 255")
		case !metricIDPattern.MatchString(q.ID):
			return nil, cwValidation("The value %s for parameter %s.Id is invalid. It must start with a lowercase letter and contain only letters, numbers and underscores.", q.ID, p)
		case ids[q.ID]:
			return nil, cwValidation("The values for parameter Id in MetricDataQueries must be unique; %s is used more than once.", q.ID)
		case (q.MetricStat == nil) == (q.Expression == ""):
			return nil, cwValidation("Exactly one element of the MetricStat and Expression parameters must be specified for %s.", p)
		case q.Period < 0 || q.Period > 0 && !validQueryPeriod(q.Period):
			return nil, cwValidation("The value %d for parameter %s.Period is not a valid period. Valid values are 1, 5, 10, 30 and any multiple of 60.", q.Period, p)
		}
		ids[q.ID] = true
		mq := dataQuery{q: q, label: q.Label}
		if s := q.MetricStat; s != nil {
			sp := p + ".MetricStat"
			if err := validateMetricNamespace(sp+".Metric.Namespace", s.Metric.Namespace, false); err != nil {
				return nil, err
			}
			if s.Metric.MetricName == "" {
				return nil, cwMissing(sp + ".Metric.MetricName")
			}
			if len(s.Metric.MetricName) > maxMetricNameLen {
				return nil, cwConstraint(s.Metric.MetricName, lowerFirst(sp)+".metric.metricName", "Member must have length less than or equal to 255")
			}
			if len(s.Metric.Dimensions) > maxDimensions {
				return nil, cwConstraint(len(s.Metric.Dimensions), lowerFirst(sp)+".metric.dimensions", "Member must have length less than or equal to 30")
			}
			if err := validateDimensions(lowerFirst(sp)+".metric.dimensions", s.Metric.Dimensions); err != nil {
				return nil, err
			}
			if s.Period == 0 {
				return nil, cwMissing(sp + ".Period")
			}
			if !validQueryPeriod(s.Period) {
				return nil, cwValidation("The value %d for parameter %s.Period is not a valid period. Valid values are 1, 5, 10, 30 and any multiple of 60.", s.Period, sp)
			}
			if s.Stat == "" {
				return nil, cwMissing(sp + ".Stat")
			}
			k, ok := parseMetricStat(s.Stat)
			if !ok {
				return nil, cwValidation("The value %s for parameter %s.Stat is not a valid statistic.", s.Stat, sp)
			}
			if s.Unit != "" && !slices.Contains(standardUnits, s.Unit) {
				return nil, enumConstraint(s.Unit, lowerFirst(sp)+".unit", standardUnits)
			}
			mq.stat, mq.period = k, time.Duration(s.Period)*time.Second
			if mq.label == "" {
				mq.label = s.Metric.MetricName
			}
		} else {
			if len(q.Expression) > maxExpressionLen {
				return nil, cwConstraint(q.Expression, lowerFirst(p)+".expression", "Member must have length less than or equal to 2048")
			}
			e, err := parseExpr(q.Expression)
			if err != nil {
				return nil, cwValidation("Error in expression '%s': %s", q.ID, err)
			}
			mq.expr = e
			if mq.label == "" {
				mq.label = q.ID
			}
		}
		queries[i] = mq
	}
	// References name other queries and form no cycle.
	for _, mq := range queries {
		if mq.expr == nil {
			continue
		}
		for _, ref := range exprRefs(mq.expr) {
			if !ids[ref] {
				return nil, cwValidation("Error in expression '%s': Unrecognized metric or expression id '%s'.", mq.q.ID, ref)
			}
			if ref == mq.q.ID {
				return nil, cwValidation("Error in expression '%s': an expression cannot refer to itself.", mq.q.ID)
			}
		}
	}
	if cyc := findCycle(queries); cyc != "" {
		return nil, cwValidation("Error in expression '%s': circular dependency between expressions.", cyc)
	}
	return queries, nil
}

// evaluationOrder sorts the queries so that each expression follows those
// it refers to; validate has refused cycles.
func evaluationOrder(queries []dataQuery) []dataQuery {
	byID := map[string]dataQuery{}
	for _, q := range queries {
		byID[q.q.ID] = q
	}
	var out []dataQuery
	done := map[string]bool{}
	var visit func(q dataQuery)
	visit = func(q dataQuery) {
		if done[q.q.ID] {
			return
		}
		done[q.q.ID] = true
		if q.expr != nil {
			// METRICS() reads the metric queries, all evaluated before
			// any expression.
			for _, ref := range exprRefs(q.expr) {
				visit(byID[ref])
			}
		}
		out = append(out, q)
	}
	for _, q := range queries {
		visit(q)
	}
	return out
}

// findCycle returns an id on a reference cycle, or "".
func findCycle(queries []dataQuery) string {
	refs := map[string][]string{}
	for _, q := range queries {
		if q.expr != nil {
			refs[q.q.ID] = exprRefs(q.expr)
		}
	}
	const (
		visiting = 1
		visited  = 2
	)
	state := map[string]int{}
	var walk func(id string) string
	walk = func(id string) string {
		switch state[id] {
		case visiting:
			return id
		case visited:
			return ""
		}
		state[id] = visiting
		for _, r := range refs[id] {
			if c := walk(r); c != "" {
				return c
			}
		}
		state[id] = visited
		return ""
	}
	for _, q := range queries {
		if c := walk(q.q.ID); c != "" {
			return c
		}
	}
	return ""
}

// GetMetricData tokens carry the datapoint offset of the next page and a
// fingerprint of the request, so a token is refused with another request.
func queryFingerprint(in *iotdm.GetMetricDataInput) [8]byte {
	c := *in
	c.NextToken = ""
	b, _ := json.Marshal(&c) // plain data: cannot fail
	sum := sha256.Sum256(b)
	var fp [8]byte
	copy(fp[:], sum[:])
	return fp
}

func encodeDataToken(offset int, fp [8]byte) string {
	b := binary.BigEndian.AppendUint64(fp[:], uint64(offset))
	return encodeCWToken(metricDataTokenTag, string(b))
}

func decodeDataToken(token string, fp [8]byte) (int, bool) {
	key, ok := decodeCWToken(metricDataTokenTag, token)
	if !ok || len(key) != 16 || key[:8] != string(fp[:]) {
		return 0, false
	}
	off := binary.BigEndian.Uint64([]byte(key[8:]))
	if off > math.MaxInt32 {
		return 0, false
	}
	return int(off), true
}

// --- metric math ---

// The expression language is the arithmetic subset of CloudWatch metric
// math: numbers, query ids, + - * / and unary minus, parentheses, arrays
// [a, b], and the functions SUM, AVG, MIN, MAX (of an array: per
// timestamp; of one series: a scalar), ABS, FILL(x, value|REPEAT|LINEAR)
// and METRICS() / METRICS("label filter").

type exprNode interface{ pos() int }

type (
	numNode struct {
		at int
		v  float64
	}
	idNode struct {
		at   int
		name string
	}
	strNode struct {
		at int
		s  string
	}
	keywordNode struct {
		at   int
		name string // REPEAT, LINEAR
	}
	unaryNode struct {
		at int
		x  exprNode
	}
	binaryNode struct {
		at   int
		op   byte
		l, r exprNode
	}
	arrayNode struct {
		at    int
		items []exprNode
	}
	callNode struct {
		at   int
		fn   string
		args []exprNode
	}
)

func (n numNode) pos() int     { return n.at }
func (n idNode) pos() int      { return n.at }
func (n strNode) pos() int     { return n.at }
func (n keywordNode) pos() int { return n.at }
func (n unaryNode) pos() int   { return n.at }
func (n binaryNode) pos() int  { return n.at }
func (n arrayNode) pos() int   { return n.at }
func (n callNode) pos() int    { return n.at }

var exprFunctions = map[string]int{ // name: number of arguments (-1: 0 or 1)
	"SUM": 1, "AVG": 1, "MIN": 1, "MAX": 1, "ABS": 1, "FILL": 2, "METRICS": -1,
}

// exprParser is a recursive-descent parser over the expression's bytes.
type exprParser struct {
	s     string
	i     int
	depth int
}

const maxExprDepth = 64

func parseExpr(s string) (exprNode, error) {
	p := &exprParser{s: s}
	n, err := p.sum()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i < len(p.s) {
		return nil, p.errorf("unexpected %q", p.s[p.i])
	}
	return n, nil
}

func (p *exprParser) errorf(format string, args ...any) error {
	return fmt.Errorf("at position %d: %s", p.i+1, fmt.Sprintf(format, args...))
}

func (p *exprParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *exprParser) peek() byte {
	p.space()
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *exprParser) sum() (exprNode, error) {
	l, err := p.product()
	if err != nil {
		return nil, err
	}
	for c := p.peek(); c == '+' || c == '-'; c = p.peek() {
		at := p.i
		p.i++
		r, err := p.product()
		if err != nil {
			return nil, err
		}
		l = binaryNode{at: at, op: c, l: l, r: r}
	}
	return l, nil
}

func (p *exprParser) product() (exprNode, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for c := p.peek(); c == '*' || c == '/'; c = p.peek() {
		at := p.i
		p.i++
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = binaryNode{at: at, op: c, l: l, r: r}
	}
	return l, nil
}

func (p *exprParser) unary() (exprNode, error) {
	if p.depth++; p.depth > maxExprDepth {
		return nil, p.errorf("the expression is nested too deeply")
	}
	defer func() { p.depth-- }()
	if p.peek() == '-' {
		at := p.i
		p.i++
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return unaryNode{at: at, x: x}, nil
	}
	return p.primary()
}

func (p *exprParser) primary() (exprNode, error) {
	c := p.peek()
	at := p.i
	switch {
	case c == 0:
		return nil, p.errorf("unexpected end of expression")
	case c == '(':
		p.i++
		n, err := p.sum()
		if err != nil {
			return nil, err
		}
		if p.peek() != ')' {
			return nil, p.errorf("missing )")
		}
		p.i++
		return n, nil
	case c == '[':
		p.i++
		items, err := p.list(']')
		if err != nil {
			return nil, err
		}
		return arrayNode{at: at, items: items}, nil
	case c == '"':
		p.i++
		end := strings.IndexByte(p.s[p.i:], '"')
		if end < 0 {
			return nil, p.errorf("unterminated string")
		}
		s := p.s[p.i : p.i+end]
		p.i += end + 1
		return strNode{at: at, s: s}, nil
	case c >= '0' && c <= '9' || c == '.':
		j := p.i
		for j < len(p.s) && (p.s[j] >= '0' && p.s[j] <= '9' || p.s[j] == '.' ||
			(p.s[j] == 'e' || p.s[j] == 'E') ||
			(p.s[j] == '+' || p.s[j] == '-') && j > p.i && (p.s[j-1] == 'e' || p.s[j-1] == 'E')) {
			j++
		}
		v, err := strconv.ParseFloat(p.s[p.i:j], 64)
		if err != nil {
			return nil, p.errorf("invalid number %q", p.s[p.i:j])
		}
		p.i = j
		return numNode{at: at, v: v}, nil
	case unicode.IsLetter(rune(c)) || c == '_':
		j := p.i
		for j < len(p.s) && (unicode.IsLetter(rune(p.s[j])) || unicode.IsDigit(rune(p.s[j])) || p.s[j] == '_') {
			j++
		}
		name := p.s[p.i:j]
		p.i = j
		if p.peek() == '(' {
			fn := strings.ToUpper(name)
			want, ok := exprFunctions[fn]
			if !ok {
				return nil, fmt.Errorf("at position %d: unsupported function %s", at+1, name)
			}
			p.i++
			args, err := p.list(')')
			if err != nil {
				return nil, err
			}
			if want >= 0 && len(args) != want || want < 0 && len(args) > 1 {
				return nil, fmt.Errorf("at position %d: %s takes %d argument(s)", at+1, fn, max(want, 1))
			}
			return callNode{at: at, fn: fn, args: args}, nil
		}
		if up := strings.ToUpper(name); up == "REPEAT" || up == "LINEAR" {
			return keywordNode{at: at, name: up}, nil
		}
		return idNode{at: at, name: name}, nil
	}
	return nil, p.errorf("unexpected %q", c)
}

// list parses comma-separated expressions up to the closing byte.
func (p *exprParser) list(closing byte) ([]exprNode, error) {
	var items []exprNode
	if p.peek() == closing {
		p.i++
		return items, nil
	}
	for {
		n, err := p.sum()
		if err != nil {
			return nil, err
		}
		items = append(items, n)
		switch p.peek() {
		case ',':
			p.i++
		case closing:
			p.i++
			return items, nil
		default:
			return nil, p.errorf("expected , or %c", closing)
		}
	}
}

// exprRefs returns the query ids an expression names.
func exprRefs(n exprNode) []string {
	var out []string
	var walk func(n exprNode)
	walk = func(n exprNode) {
		switch n := n.(type) {
		case idNode:
			if !slices.Contains(out, n.name) {
				out = append(out, n.name)
			}
		case unaryNode:
			walk(n.x)
		case binaryNode:
			walk(n.l)
			walk(n.r)
		case arrayNode:
			for _, it := range n.items {
				walk(it)
			}
		case callNode:
			for _, a := range n.args {
				walk(a)
			}
		}
	}
	walk(n)
	return out
}

// exprValue is a scalar, one series or an array of them.
type exprValue struct {
	scalar float64
	single *metricSeries
	array  []metricSeries
}

// gridSpec is the period grid over the queried range, for FILL and for
// scalars shown as series.
type gridSpec struct {
	start, end, period int64
}

func (g gridSpec) points() []int64 {
	if g.period <= 0 {
		return nil
	}
	first := g.start - g.start%g.period
	if first < g.start {
		first += g.period
	}
	var out []int64
	for t := first; t < g.end && len(out) < iotdm.DefaultMaxDatapoints; t += g.period {
		out = append(out, t)
	}
	return out
}

type exprEnv struct {
	values  map[string]exprValue
	metrics []metricSeries
	grid    gridSpec
}

func (e *exprEnv) scalarSeries(v float64) metricSeries {
	ts := e.grid.points()
	vals := make([]float64, len(ts))
	for i := range vals {
		vals[i] = v
	}
	return metricSeries{ts: ts, vals: vals}
}

func (e *exprEnv) eval(n exprNode) (exprValue, error) {
	switch n := n.(type) {
	case numNode:
		return exprValue{scalar: n.v}, nil
	case idNode:
		v, ok := e.values[n.name]
		if !ok {
			return exprValue{}, fmt.Errorf("Unrecognized metric or expression id '%s'.", n.name)
		}
		return v, nil
	case strNode, keywordNode:
		return exprValue{}, fmt.Errorf("at position %d: a string or keyword is only an argument of METRICS or FILL", n.pos()+1)
	case unaryNode:
		x, err := e.eval(n.x)
		if err != nil {
			return x, err
		}
		return mapExprValue(x, func(v float64) float64 { return -v }), nil
	case binaryNode:
		l, err := e.eval(n.l)
		if err != nil {
			return l, err
		}
		r, err := e.eval(n.r)
		if err != nil {
			return r, err
		}
		return applyBinary(n.op, l, r)
	case arrayNode:
		var out []metricSeries
		for _, it := range n.items {
			v, err := e.eval(it)
			if err != nil {
				return v, err
			}
			switch {
			case v.single != nil:
				out = append(out, *v.single)
			case v.array != nil:
				out = append(out, v.array...)
			default:
				out = append(out, e.scalarSeries(v.scalar))
			}
		}
		return exprValue{array: nonNil(out)}, nil
	case callNode:
		return e.call(n)
	}
	return exprValue{}, fmt.Errorf("unsupported expression")
}

func (e *exprEnv) call(n callNode) (exprValue, error) {
	if n.fn == "METRICS" {
		filter := ""
		if len(n.args) == 1 {
			s, ok := n.args[0].(strNode)
			if !ok {
				return exprValue{}, fmt.Errorf("at position %d: METRICS takes a string", n.at+1)
			}
			filter = s.s
		}
		var out []metricSeries
		for _, s := range e.metrics {
			if strings.Contains(s.label, filter) {
				out = append(out, s)
			}
		}
		return exprValue{array: nonNil(out)}, nil
	}
	x, err := e.eval(n.args[0])
	if err != nil {
		return x, err
	}
	switch n.fn {
	case "ABS":
		return mapExprValue(x, math.Abs), nil
	case "FILL":
		return e.fill(n, x)
	}
	agg := exprAggregators[n.fn]
	switch {
	case x.array != nil:
		return exprValue{single: seriesRef(acrossSeries(x.array, agg))}, nil
	case x.single != nil:
		if len(x.single.vals) == 0 {
			return exprValue{scalar: math.NaN()}, nil
		}
		return exprValue{scalar: agg(x.single.vals)}, nil
	}
	return x, nil
}

func seriesRef(s metricSeries) *metricSeries { return &s }

var exprAggregators = map[string]func([]float64) float64{
	"SUM": func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += x
		}
		return s
	},
	"AVG": func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += x
		}
		return s / float64(len(v))
	},
	"MIN": func(v []float64) float64 { return slices.Min(v) },
	"MAX": func(v []float64) float64 { return slices.Max(v) },
}

// acrossSeries aggregates, at each timestamp any series has, the values
// the series have there.
func acrossSeries(list []metricSeries, agg func([]float64) float64) metricSeries {
	byTS := map[int64][]float64{}
	for _, s := range list {
		for i, t := range s.ts {
			byTS[t] = append(byTS[t], s.vals[i])
		}
	}
	out := metricSeries{}
	for _, t := range slices.Sorted(maps.Keys(byTS)) {
		out.ts = append(out.ts, t)
		out.vals = append(out.vals, agg(byTS[t]))
	}
	return out
}

// fill gives every grid timestamp a value: the given one, the previous
// value (REPEAT) or one interpolated between its neighbours (LINEAR).
func (e *exprEnv) fill(n callNode, x exprValue) (exprValue, error) {
	how := n.args[1]
	var with func(s metricSeries) metricSeries
	switch h := how.(type) {
	case keywordNode:
		with = func(s metricSeries) metricSeries { return fillSeries(s, e.grid.points(), h.name, 0) }
	default:
		v, err := e.eval(how)
		if err != nil {
			return v, err
		}
		if v.single != nil || v.array != nil {
			return exprValue{}, fmt.Errorf("at position %d: FILL takes a number, REPEAT or LINEAR", how.pos()+1)
		}
		with = func(s metricSeries) metricSeries { return fillSeries(s, e.grid.points(), "", v.scalar) }
	}
	switch {
	case x.single != nil:
		return exprValue{single: seriesRef(with(*x.single))}, nil
	case x.array != nil:
		out := make([]metricSeries, len(x.array))
		for i, s := range x.array {
			out[i] = with(s)
		}
		return exprValue{array: out}, nil
	}
	return x, nil
}

func fillSeries(s metricSeries, grid []int64, mode string, value float64) metricSeries {
	have := make(map[int64]float64, len(s.ts))
	for i, t := range s.ts {
		have[t] = s.vals[i]
	}
	all := slices.Clone(grid)
	all = append(all, s.ts...)
	slices.Sort(all)
	all = slices.Compact(all)
	out := metricSeries{label: s.label}
	for _, t := range all {
		v, ok := have[t]
		if !ok {
			switch mode {
			case "REPEAT":
				i, _ := slices.BinarySearch(s.ts, t)
				if i == 0 {
					continue // nothing before it to repeat
				}
				v = s.vals[i-1]
			case "LINEAR":
				i, _ := slices.BinarySearch(s.ts, t)
				if i == 0 || i == len(s.ts) {
					continue // nothing on one side to interpolate from
				}
				t0, t1 := s.ts[i-1], s.ts[i]
				v = s.vals[i-1] + (s.vals[i]-s.vals[i-1])*float64(t-t0)/float64(t1-t0)
			default:
				v = value
			}
		}
		out.ts = append(out.ts, t)
		out.vals = append(out.vals, v)
	}
	return out
}

func mapExprValue(x exprValue, f func(float64) float64) exprValue {
	mapSeries := func(s metricSeries) metricSeries {
		out := metricSeries{label: s.label, ts: s.ts, vals: make([]float64, len(s.vals))}
		for i, v := range s.vals {
			out.vals[i] = f(v)
		}
		return out
	}
	switch {
	case x.single != nil:
		return exprValue{single: seriesRef(mapSeries(*x.single))}
	case x.array != nil:
		out := make([]metricSeries, len(x.array))
		for i, s := range x.array {
			out[i] = mapSeries(s)
		}
		return exprValue{array: out}
	}
	return exprValue{scalar: f(x.scalar)}
}

func exprArith(op byte, a, b float64) float64 {
	switch op {
	case '+':
		return a + b
	case '-':
		return a - b
	case '*':
		return a * b
	}
	if b == 0 {
		return math.NaN() // AWS: division by zero leaves the datapoint out
	}
	return a / b
}

// applyBinary applies op: scalars to every value of a series; two series at
// the timestamps both have; an array element by element.
func applyBinary(op byte, l, r exprValue) (exprValue, error) {
	switch {
	case l.array != nil && r.array != nil:
		return exprValue{}, fmt.Errorf("cannot combine two arrays of time series with %c", op)
	case l.array != nil:
		out := make([]metricSeries, len(l.array))
		for i, s := range l.array {
			v, err := applyBinary(op, exprValue{single: &s}, r)
			if err != nil {
				return v, err
			}
			out[i] = *v.single
		}
		return exprValue{array: out}, nil
	case r.array != nil:
		out := make([]metricSeries, len(r.array))
		for i, s := range r.array {
			v, err := applyBinary(op, l, exprValue{single: &s})
			if err != nil {
				return v, err
			}
			out[i] = *v.single
		}
		return exprValue{array: out}, nil
	case l.single == nil && r.single == nil:
		return exprValue{scalar: exprArith(op, l.scalar, r.scalar)}, nil
	case r.single == nil:
		return mapExprValue(l, func(v float64) float64 { return exprArith(op, v, r.scalar) }), nil
	case l.single == nil:
		return mapExprValue(r, func(v float64) float64 { return exprArith(op, l.scalar, v) }), nil
	}
	a, b := *l.single, *r.single
	out := metricSeries{label: a.label}
	for i, j := 0, 0; i < len(a.ts) && j < len(b.ts); {
		switch {
		case a.ts[i] < b.ts[j]:
			i++
		case a.ts[i] > b.ts[j]:
			j++
		default:
			out.ts = append(out.ts, a.ts[i])
			out.vals = append(out.vals, exprArith(op, a.vals[i], b.vals[j]))
			i++
			j++
		}
	}
	return exprValue{single: &out}, nil
}
