package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/query"
)

// FleetMetricsOptions configures a FleetMetrics service.
type FleetMetricsOptions struct {
	Region    string // e.g. us-east-1; used in ARNs
	AccountID string // 12 digits; used in ARNs
	// MinPeriod is the shortest period a metric may have. Zero means AWS's
	// 60 seconds; a development server may allow shorter periods (whole
	// seconds, at least one). Periods of a minute or more must still be
	// whole minutes, as on AWS.
	MinPeriod time.Duration
	// MaxMetrics caps the number of fleet metrics (LimitExceededException
	// beyond it). Zero means DefaultMaxFleetMetrics.
	MaxMetrics int
	Logger     *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// DefaultMaxFleetMetrics is the number of fleet metrics an account may
// have unless FleetMetricsOptions.MaxMetrics says otherwise. AWS has an
// adjustable quota (L-A5B47E14) whose value the reference leaves open
// (AWS §8, §12); iotdm evaluates metrics against its in-memory index, so
// it allows more than a handful.
const DefaultMaxFleetMetrics = 100

// Limits of the model (FleetMetricPeriod, FleetMetricDescription,
// AggregationTypeValue) and AWS §8.
const (
	awsMinFleetMetricPeriod = 60    // seconds
	maxFleetMetricPeriod    = 86400 // seconds
	maxFleetMetricDesc      = 1024
	maxAggregationValueLen  = 12
	maxPercentileValues     = maxPercents // as GetPercentiles takes
	fleetMetricListTag      = "fleetmetrics"
	fleetMetricARNResource  = "fleetmetric"
	cardinalityValue        = "cardinality"
)

var (
	fleetMetricNamePattern  = regexp.MustCompile(`^[a-zA-Z0-9_\-\.]+$`) // FleetMetricName
	aggregationValuePattern = regexp.MustCompile(`^[a-zA-Z0-9]+$`)      // AggregationTypeValue
)

// statisticNames are the values of a Statistics metric (AWS §8).
var statisticNames = []string{
	iotdm.StatCount, iotdm.StatAverage, iotdm.StatSum, iotdm.StatMinimum,
	iotdm.StatMaximum, iotdm.StatSumOfSquares, iotdm.StatVariance, iotdm.StatStdDeviation,
}

// fleetMetricUnits is the FleetMetricUnit enum: the CloudWatch units.
var fleetMetricUnits = []string{
	"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
	"Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
	"Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second",
	"Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second",
	"Count/Second", "None",
}

func init() {
	// Fleet metrics carry tags (CreateFleetMetric's tags, TagResource on a
	// fleetmetric ARN) in their stored record.
	taggableKinds[fleetMetricARNResource] = iotdm.KindFleetMetric
}

// FleetMetrics implements iotdm.FleetMetrics on an iotdm.Store (AWS §8):
// each metric is one KindFleetMetric entity, validated on every write
// against the fleet indexing configuration in the same transaction, with
// the same rules the aggregation operations of Search apply.
type FleetMetrics struct {
	store iotdm.Store
	// reg lends its ARN and clock helpers.
	reg        *Registry
	minPeriod  int // seconds
	maxMetrics int
	log        *slog.Logger
}

var _ iotdm.FleetMetrics = (*FleetMetrics)(nil)

// NewFleetMetrics returns the fleet metrics service over store.
func NewFleetMetrics(store iotdm.Store, opts FleetMetricsOptions) *FleetMetrics {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	minPeriod := awsMinFleetMetricPeriod
	if opts.MinPeriod > 0 {
		// Periods are whole seconds: a sub-second minimum allows one.
		minPeriod = max(1, int((opts.MinPeriod+time.Second-1)/time.Second))
	}
	if opts.MaxMetrics <= 0 {
		opts.MaxMetrics = DefaultMaxFleetMetrics
	}
	reg := NewRegistry(store, RegistryOptions{Region: opts.Region, AccountID: opts.AccountID, Logger: opts.Logger, Now: opts.Now})
	return &FleetMetrics{
		store: store, reg: reg, minPeriod: minPeriod, maxMetrics: opts.MaxMetrics,
		log: opts.Logger.With("component", "fleetmetrics"),
	}
}

func fleetMetricNotFound(name string) error {
	return notFound("The fleet metric %s does not exist", name)
}

func validateFleetMetricName(name string) error {
	if name == "" {
		return invalid("metricName must not be empty")
	}
	if len(name) > maxNameLen {
		return invalid("1 validation error detected: Value '%s' at 'metricName' failed to satisfy constraint: Member must have length less than or equal to %d", name, maxNameLen)
	}
	if !fleetMetricNamePattern.MatchString(name) {
		return invalid("1 validation error detected: Value '%s' at 'metricName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_\\-\\.]+", name)
	}
	return nil
}

// validatePeriod checks a period in seconds: AWS takes 60-86400 and a
// multiple of 60 [model FleetMetricPeriod]; below a minute (only when
// MinPeriod allows it) any whole second from the minimum is taken.
func (f *FleetMetrics) validatePeriod(p int) error {
	if p < f.minPeriod || p > maxFleetMetricPeriod {
		return invalid("1 validation error detected: Value '%d' at 'period' failed to satisfy constraint: Member must have value between %d and %d", p, f.minPeriod, maxFleetMetricPeriod)
	}
	if p >= awsMinFleetMetricPeriod && p%awsMinFleetMetricPeriod != 0 {
		return invalid("Invalid period %d: a period of a minute or more must be a multiple of 60 seconds", p)
	}
	return nil
}

// validateAggregationShape checks what the model constrains: the type name
// enum and the pattern and length of each value. Whether the values make
// sense for the type is checkAggregation's.
func validateAggregationShape(a *iotdm.AggregationType) error {
	if a == nil {
		return invalid("1 validation error detected: Value null at 'aggregationType' failed to satisfy constraint: Member must not be null")
	}
	if err := oneOf("aggregationType.name", a.Name, false, iotdm.AggregationStatistics, iotdm.AggregationPercentiles, iotdm.AggregationCardinality); err != nil {
		return err
	}
	for _, v := range a.Values {
		if v == "" || len(v) > maxAggregationValueLen || !aggregationValuePattern.MatchString(v) {
			return invalid("1 validation error detected: Value '%s' at 'aggregationType.values' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9]+ and have length between 1 and %d", v, maxAggregationValueLen)
		}
	}
	return nil
}

func invalidAggregation(format string, args ...any) error {
	return iotdm.Errorf(iotdm.ErrInvalidAggregation, format, args...)
}

// checkAggregationValues checks the values against the type: Statistics
// names statistics, Percentiles names whole percentiles 0-100, Cardinality
// takes none (or "cardinality"). No value may repeat.
func checkAggregationValues(a *iotdm.AggregationType) error {
	seen := map[string]bool{}
	for _, v := range a.Values {
		key := v
		switch a.Name {
		case iotdm.AggregationStatistics:
			if !slices.Contains(statisticNames, v) {
				return invalidAggregation("Invalid statistic %s for aggregation type Statistics; valid values are %s", v, strings.Join(statisticNames, ", "))
			}
		case iotdm.AggregationPercentiles:
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 100 {
				return invalidAggregation("Invalid percentile %s for aggregation type Percentiles; values are whole percentiles from 0 to 100", v)
			}
			key = strconv.Itoa(n)
		case iotdm.AggregationCardinality:
			if v != cardinalityValue {
				return invalidAggregation("Aggregation type Cardinality takes no values, or only %s; got %s", cardinalityValue, v)
			}
		}
		if seen[key] {
			return invalidAggregation("aggregationType.values lists %s twice", v)
		}
		seen[key] = true
	}
	switch {
	case a.Name == iotdm.AggregationStatistics && len(a.Values) == 0:
		return invalidAggregation("Aggregation type Statistics needs values: one or more of %s", strings.Join(statisticNames, ", "))
	case a.Name == iotdm.AggregationPercentiles && len(a.Values) == 0:
		return invalidAggregation("Aggregation type Percentiles needs values: the percentiles to emit, such as 50 or 99")
	case a.Name == iotdm.AggregationPercentiles && len(a.Values) > maxPercentileValues:
		return invalidAggregation("At most %d percentiles may be emitted; %d given", maxPercentileValues, len(a.Values))
	}
	return nil
}

// validateFleetMetricShape checks the members of a metric that need no
// stored state: everything but the query, the field and the index state.
func (f *FleetMetrics) validateFleetMetricShape(m *iotdm.StoredFleetMetric) error {
	if m.QueryString == "" {
		return invalid("1 validation error detected: Value null at 'queryString' failed to satisfy constraint: Member must not be null and have length greater than or equal to 1")
	}
	if err := validateAggregationShape(&m.AggregationType); err != nil {
		return err
	}
	if m.Period == 0 {
		return invalid("1 validation error detected: Value null at 'period' failed to satisfy constraint: Member must not be null")
	}
	if err := f.validatePeriod(m.Period); err != nil {
		return err
	}
	if m.AggregationField == "" {
		return invalid("1 validation error detected: Value null at 'aggregationField' failed to satisfy constraint: Member must not be null and have length greater than or equal to 1")
	}
	if len(m.Description) > maxFleetMetricDesc {
		return invalid("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to %d", maxFleetMetricDesc)
	}
	if err := validateDescription("description", m.Description); err != nil {
		return err
	}
	if m.QueryVersion != iotdm.QueryVersion {
		return invalid("Unsupported queryVersion %s; the only query version is %s", m.QueryVersion, iotdm.QueryVersion)
	}
	if len(m.IndexName) > maxNameLen || !indexNamePattern.MatchString(m.IndexName) {
		return invalid("1 validation error detected: Value '%s' at 'indexName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9:_-]+", m.IndexName)
	}
	return oneOf("unit", m.Unit, true, fleetMetricUnits...)
}

// checkAgainstIndex checks a metric against the indexing configuration c,
// as the aggregation operations of Search do: the index must exist and be
// enabled, the query must parse under its fields, and the aggregation field
// must be a managed or custom field whose type suits the aggregation.
func checkAgainstIndex(m *iotdm.StoredFleetMetric, c *iotdm.IndexingConfiguration) error {
	var opts query.Options
	switch m.IndexName {
	case iotdm.IndexThings:
		if !c.ThingIndexEnabled() {
			return iotdm.Errorf(iotdm.ErrIndexNotReady, "Index %s is not ready: thing indexing is OFF; enable it with UpdateIndexingConfiguration", m.IndexName)
		}
		opts = queryOptions(c)
	case iotdm.IndexThingGroups:
		if !c.ThingGroupIndexEnabled() {
			return iotdm.Errorf(iotdm.ErrIndexNotReady, "Index %s is not ready: thing group indexing is OFF; enable it with UpdateIndexingConfiguration", m.IndexName)
		}
		opts = groupQueryOptions(c)
	default:
		return notFound("Index %s does not exist", m.IndexName)
	}
	if _, err := query.Parse(m.QueryString, opts); err != nil {
		if qe, ok := errors.AsType[*query.Error](err); ok {
			return iotdm.Errorf(iotdm.ErrInvalidQuery, "%s", qe.Error())
		}
		return err
	}
	t := &target{name: m.IndexName, config: c}
	_, typ, err := t.aggField(m.AggregationField)
	if err != nil {
		return err
	}
	return checkFieldType(&m.AggregationType, m.AggregationField, typ)
}

// checkFieldType checks that the field's type gives the values asked for:
// Statistics of a String field is only a count (AWS §2.5), Percentiles
// need a Number field, Cardinality takes any field.
func checkFieldType(a *iotdm.AggregationType, field string, typ query.FieldType) error {
	switch a.Name {
	case iotdm.AggregationStatistics:
		if typ == query.Number || typ == query.Boolean {
			return nil
		}
		for _, v := range a.Values {
			if v != iotdm.StatCount {
				return invalidAggregation("Statistic %s needs a Number or Boolean field; %s is a %s field, which only gives count", v, field, typ)
			}
		}
	case iotdm.AggregationPercentiles:
		if typ != query.Number {
			return invalidAggregation("Percentiles need a Number field; %s is a %s field", field, typ)
		}
	}
	return nil
}

// validateAgainstIndex checks every rule of a metric: its shape, its values
// and the indexing configuration as tx sees it.
func (f *FleetMetrics) validateAgainstIndex(ctx context.Context, tx iotdm.ReadTx, m *iotdm.StoredFleetMetric) error {
	if err := checkAggregationValues(&m.AggregationType); err != nil {
		return err
	}
	c, err := loadIndexingConfig(ctx, tx)
	if err != nil {
		return err
	}
	return checkAgainstIndex(m, c)
}

// countFleetMetrics counts the fleet metrics, stopping at limit.
func countFleetMetrics(ctx context.Context, tx iotdm.ReadTx, limit int) (int, error) {
	n := 0
	err := tx.Scan(ctx, iotdm.KindFleetMetric, "", "", limit, func(string, []byte) error {
		n++
		return nil
	})
	return n, err
}

// CreateFleetMetric creates a metric at version 1. An existing name is
// ResourceAlreadyExistsException whatever its configuration (AWS §8).
func (f *FleetMetrics) CreateFleetMetric(ctx context.Context, in *iotdm.CreateFleetMetricInput) (*iotdm.CreateFleetMetricOutput, error) {
	if err := validateFleetMetricName(in.MetricName); err != nil {
		return nil, err
	}
	if in.AggregationType == nil {
		return nil, validateAggregationShape(nil)
	}
	now := f.reg.now()
	m := &iotdm.StoredFleetMetric{
		MetricName:       in.MetricName,
		MetricARN:        f.reg.arn(fleetMetricARNResource, in.MetricName),
		QueryString:      in.QueryString,
		AggregationType:  iotdm.AggregationType{Name: in.AggregationType.Name, Values: slices.Clone(in.AggregationType.Values)},
		Period:           in.Period,
		AggregationField: in.AggregationField,
		Description:      in.Description,
		QueryVersion:     cmpOr(in.QueryVersion, iotdm.QueryVersion),
		IndexName:        cmpOr(in.IndexName, iotdm.IndexThings),
		Unit:             in.Unit,
		Version:          1,
		CreationDate:     now,
		LastModifiedDate: now,
		Tags:             slices.Clone(in.Tags),
	}
	if err := f.validateFleetMetricShape(m); err != nil {
		return nil, err
	}
	if err := validateTags(m.Tags); err != nil {
		return nil, err
	}
	err := f.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		_, exists, err := tx.Get(ctx, iotdm.KindFleetMetric, m.MetricName)
		if err != nil {
			return err
		}
		if exists {
			return &iotdm.Error{Code: iotdm.ErrResourceAlreadyExists, Message: fmt.Sprintf("Fleet metric %s already exists", m.MetricName),
				ResourceID: m.MetricName, ResourceARN: m.MetricARN}
		}
		if err := f.validateAgainstIndex(ctx, tx, m); err != nil {
			return err
		}
		n, err := countFleetMetrics(ctx, tx, f.maxMetrics)
		if err != nil {
			return fmt.Errorf("count fleet metrics: %w", err)
		}
		if n >= f.maxMetrics {
			return iotdm.Errorf(iotdm.ErrLimitExceeded, "An account can have at most %d fleet metrics", f.maxMetrics)
		}
		return put(ctx, tx, iotdm.KindFleetMetric, m.MetricName, m)
	})
	if err != nil {
		return nil, err
	}
	f.log.InfoContext(ctx, "fleet metric created", "metric", m.MetricName)
	return &iotdm.CreateFleetMetricOutput{MetricName: m.MetricName, MetricARN: m.MetricARN}, nil
}

// DescribeFleetMetric returns a metric.
func (f *FleetMetrics) DescribeFleetMetric(ctx context.Context, in *iotdm.DescribeFleetMetricInput) (*iotdm.DescribeFleetMetricOutput, error) {
	if err := validateFleetMetricName(in.MetricName); err != nil {
		return nil, err
	}
	m, ok, err := get[iotdm.StoredFleetMetric](ctx, f.store, iotdm.KindFleetMetric, in.MetricName)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fleetMetricNotFound(in.MetricName)
	}
	return &iotdm.DescribeFleetMetricOutput{
		MetricName:       m.MetricName,
		QueryString:      m.QueryString,
		AggregationType:  m.AggregationType,
		Period:           m.Period,
		AggregationField: m.AggregationField,
		Description:      m.Description,
		QueryVersion:     m.QueryVersion,
		IndexName:        m.IndexName,
		CreationDate:     m.CreationDate,
		LastModifiedDate: m.LastModifiedDate,
		Unit:             m.Unit,
		Version:          m.Version,
		MetricARN:        m.MetricARN,
	}, nil
}

// UpdateFleetMetric changes the members given, checks the result as a
// whole against the indexing configuration, and bumps the version.
// expectedVersion mismatches are VersionConflictException (AWS §8).
func (f *FleetMetrics) UpdateFleetMetric(ctx context.Context, in *iotdm.UpdateFleetMetricInput) (*iotdm.Empty, error) {
	if err := validateFleetMetricName(in.MetricName); err != nil {
		return nil, err
	}
	if in.IndexName == "" {
		return nil, invalid("1 validation error detected: Value null at 'indexName' failed to satisfy constraint: Member must not be null")
	}
	if in.AggregationType != nil {
		if err := validateAggregationShape(in.AggregationType); err != nil {
			return nil, err
		}
	}
	if in.Period != nil {
		if err := f.validatePeriod(*in.Period); err != nil {
			return nil, err
		}
	}
	err := f.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		m, ok, err := get[iotdm.StoredFleetMetric](ctx, tx, iotdm.KindFleetMetric, in.MetricName)
		if err != nil {
			return err
		}
		if !ok {
			return fleetMetricNotFound(in.MetricName)
		}
		if err := checkVersion("fleet metric", in.MetricName, in.ExpectedVersion, m.Version); err != nil {
			return err
		}
		applyFleetMetricUpdate(m, in)
		if err := f.validateFleetMetricShape(m); err != nil {
			return err
		}
		if err := f.validateAgainstIndex(ctx, tx, m); err != nil {
			return err
		}
		m.Version++
		m.LastModifiedDate = f.reg.now()
		return put(ctx, tx, iotdm.KindFleetMetric, m.MetricName, m)
	})
	if err != nil {
		return nil, err
	}
	f.log.InfoContext(ctx, "fleet metric updated", "metric", in.MetricName)
	return &iotdm.Empty{}, nil
}

// applyFleetMetricUpdate copies the members in gives onto m.
func applyFleetMetricUpdate(m *iotdm.StoredFleetMetric, in *iotdm.UpdateFleetMetricInput) {
	m.IndexName = in.IndexName
	if in.QueryString != nil {
		m.QueryString = *in.QueryString
	}
	if in.AggregationType != nil {
		m.AggregationType = iotdm.AggregationType{Name: in.AggregationType.Name, Values: slices.Clone(in.AggregationType.Values)}
	}
	if in.Period != nil {
		m.Period = *in.Period
	}
	if in.AggregationField != nil {
		m.AggregationField = *in.AggregationField
	}
	if in.Description != nil {
		m.Description = *in.Description
	}
	if in.QueryVersion != nil {
		m.QueryVersion = cmpOr(*in.QueryVersion, iotdm.QueryVersion)
	}
	if in.Unit != nil {
		m.Unit = *in.Unit
	}
}

// DeleteFleetMetric deletes a metric; a missing one is no error (AWS §8:
// DeleteFleetMetric succeeds when the metric does not exist).
func (f *FleetMetrics) DeleteFleetMetric(ctx context.Context, in *iotdm.DeleteFleetMetricInput) (*iotdm.Empty, error) {
	if err := validateFleetMetricName(in.MetricName); err != nil {
		return nil, err
	}
	deleted := false
	err := f.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		m, ok, err := get[iotdm.StoredFleetMetric](ctx, tx, iotdm.KindFleetMetric, in.MetricName)
		if err != nil || !ok {
			return err
		}
		if err := checkVersion("fleet metric", in.MetricName, in.ExpectedVersion, m.Version); err != nil {
			return err
		}
		deleted = true
		return tx.Delete(ctx, iotdm.KindFleetMetric, in.MetricName)
	})
	if err != nil {
		return nil, err
	}
	if deleted {
		f.log.InfoContext(ctx, "fleet metric deleted", "metric", in.MetricName)
	}
	return &iotdm.Empty{}, nil
}

// ListFleetMetrics lists metrics in name order.
func (f *FleetMetrics) ListFleetMetrics(ctx context.Context, in *iotdm.ListFleetMetricsInput) (*iotdm.ListFleetMetricsOutput, error) {
	size, err := pageSize(in.MaxResults)
	if err != nil {
		return nil, err
	}
	after, err := decodeToken(fleetMetricListTag, in.NextToken)
	if err != nil {
		return nil, err
	}
	p := pager[iotdm.FleetMetricNameAndArn]{size: size}
	err = f.store.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
		return tx.Scan(ctx, iotdm.KindFleetMetric, "", after, size+1, func(key string, value []byte) error {
			var m iotdm.StoredFleetMetric
			if err := json.Unmarshal(value, &m); err != nil {
				return fmt.Errorf("decode %s %q: %w", iotdm.KindFleetMetric, key, err)
			}
			if !p.add(key, iotdm.FleetMetricNameAndArn{MetricName: m.MetricName, MetricARN: m.MetricARN}) {
				return iotdm.ErrStopScan
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	out := &iotdm.ListFleetMetricsOutput{FleetMetrics: p.page(), NextToken: p.next(fleetMetricListTag)}
	return out, nil
}
