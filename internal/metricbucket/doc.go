// Package metricbucket is the storage-independent part of the metric stores
// (internal/sqlite, internal/postgres): how observations are checked and
// grouped into buckets, how a bucket is packed into one value (its
// statistics and the values kept for percentiles), how buckets merge, and
// how a query's periods are aggregated from them. It does no I/O.
//
// Layout of a store. A series is a metric (namespace, name, canonical
// dimensions) with one unit. Each series has one bucket per minute and, for
// high-resolution observations, one per second; a bucket is identified by
// its series and its start in Unix seconds (0 to MaxTimestamp). A bucket's
// value is packed by Encode: SampleCount, Sum, Minimum and Maximum as four
// little-endian float64 (StatsLen bytes), then its Samples.
//
// Retention. Minute buckets are kept for Options.Retention (15 days by
// default), then deleted, with their series once it has no newer
// observation (SeriesExpired); second buckets are rolled up into minute
// buckets after Options.HighResolutionRetention (3 hours, as CloudWatch
// keeps one-second data).
//
// Percentile accuracy. Each bucket keeps its values exactly (value and
// count) while it has at most MaxExactSamples distinct values; beyond that
// it keeps a log-bucketed histogram whose percentiles are within 1 % of the
// true value (relative error), clamped to the bucket's Minimum and Maximum.
// A query's percentiles are exact when every bucket it merges is exact (up
// to MaxQuerySamples values per period), and within 1 % otherwise.
// Statistic sets contribute to percentiles only when their values are known
// (SampleCount 1, or Minimum equal to Maximum), as in CloudWatch.
package metricbucket
