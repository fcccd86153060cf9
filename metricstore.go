package iotdm

import (
	"context"
	"time"
)

// MetricPoint is one observation written to the metric store: a single
// value, or a set of statistics already aggregated by the sender
// (CloudWatch's StatisticValues), at a time. Exactly one of Value and Stats
// is set.
type MetricPoint struct {
	Metric    Metric    // namespace, name and dimensions; dimensions in any order
	Timestamp time.Time // when it was observed
	Value     *float64
	Stats     *StatisticSet
	// Count repeats Value this many times (PutMetricData's Values and
	// Counts form); 0 means 1.
	Count float64
	Unit  string // a CloudWatch unit; "" is "None"
	// HighResolution is StorageResolution 1: kept at one-second resolution
	// for three hours, like CloudWatch; otherwise one minute.
	HighResolution bool
}

// StatisticSet is CloudWatch's StatisticSet.
type StatisticSet struct {
	SampleCount float64 `json:"SampleCount"`
	Sum         float64 `json:"Sum"`
	Minimum     float64 `json:"Minimum"`
	Maximum     float64 `json:"Maximum"`
}

// MetricRange asks for one metric's statistics over [Start, End) in
// buckets of Period, aligned to multiples of Period since the Unix epoch.
type MetricRange struct {
	Metric Metric // dimensions must match exactly (CloudWatch semantics)
	Start  time.Time
	End    time.Time
	Period time.Duration
	// Unit, when set, keeps only observations recorded with that unit.
	Unit string
	// Percentiles to compute in each bucket (0 < p <= 100); CloudWatch's
	// extended statistics pNN.NN.
	Percentiles []float64
}

// MetricBucket is the statistics of one period; buckets without
// observations are not returned.
type MetricBucket struct {
	Timestamp   time.Time // start of the period
	SampleCount float64
	Sum         float64
	Minimum     float64
	Maximum     float64
	// Percentiles holds the requested percentiles, by requested value.
	// Computed from the stored values of the period: exact up to a bounded
	// number of values per metric and minute, approximated beyond.
	Percentiles map[float64]float64
	Unit        string
}

// MetricFilter selects metrics for ListMetrics: every non-empty field must
// match; each listed dimension must be present (with the value, when one is
// given).
type MetricFilter struct {
	Namespace  string
	MetricName string
	Dimensions []DimensionFilter
	// ActiveSince, when not zero, keeps metrics with an observation at or
	// after it (CloudWatch's RecentlyActive PT3H).
	ActiveSince time.Time
}

// DimensionFilter is CloudWatch's DimensionFilter: a name, and a value
// unless any value will do.
type DimensionFilter struct {
	Name  string
	Value *string
}

// MetricStore keeps metric observations with their dimensions, for the
// CloudWatch API, fleet metrics and alarms. It is separate from Store's
// entities and change feed: observations are many, small and append-only,
// and no derived state follows them.
//
// Implementations expire observations older than their retention.
type MetricStore interface {
	// PutMetricPoints stores observations; all or none of them.
	PutMetricPoints(ctx context.Context, points []MetricPoint) error
	// MetricStatistics returns the buckets of one metric, oldest first.
	MetricStatistics(ctx context.Context, r MetricRange) ([]MetricBucket, error)
	// ListMetrics returns the metrics that have observations, sorted by
	// namespace, name and dimensions, after the metric `after` (nil for
	// the first page), at most limit of them (0 for all).
	ListMetrics(ctx context.Context, f MetricFilter, after *Metric, limit int) ([]Metric, error)
}
