package metricbucket

import (
	"log/slog"
	"time"
)

const (
	// DefaultRetention is how long minute buckets are kept.
	DefaultRetention = 15 * 24 * time.Hour
	// DefaultHighResolutionRetention is how long second buckets are kept
	// before they are rolled up into minute buckets.
	DefaultHighResolutionRetention = 3 * time.Hour
	// DefaultExpiryInterval is how often a store's expiry loop runs.
	DefaultExpiryInterval = 10 * time.Minute

	// MaxExactSamples is how many distinct values a bucket keeps exactly.
	MaxExactSamples = 256
	// MaxQuerySamples bounds the exact values one queried period merges
	// before it falls back to a sketch.
	MaxQuerySamples = 1 << 16
	// MaxTimestamp is the latest bucket start, in Unix seconds: stores may
	// pack it in 32 bits.
	MaxTimestamp = 1<<32 - 1
	// LastSlack is how far a series' recorded last observation may lag the
	// truth: a write that moves it by less may skip the series update
	// (SeriesCache).
	LastSlack = 300
)

// Options configure a metric store (sqlite.OpenMetricStore,
// postgres.OpenMetricStore).
type Options struct {
	// Logger receives the store's logs; nil discards them.
	Logger *slog.Logger
	// Retention is how long minute data is kept; 0 means DefaultRetention.
	Retention time.Duration
	// HighResolutionRetention is how long one-second data is kept before it
	// is rolled up into minutes; 0 means DefaultHighResolutionRetention.
	HighResolutionRetention time.Duration
	// ExpiryInterval is how often expiry runs; 0 means
	// DefaultExpiryInterval, a negative value runs no loop (call Expire).
	ExpiryInterval time.Duration
	// Now is the store's clock for retention; time.Now when nil.
	Now func() time.Time
}

// WithDefaults returns o with its zero fields set to their defaults.
func (o Options) WithDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.HighResolutionRetention <= 0 {
		o.HighResolutionRetention = DefaultHighResolutionRetention
	}
	if o.ExpiryInterval == 0 {
		o.ExpiryInterval = DefaultExpiryInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Cutoff is the oldest bucket start kept at now: earlier observations are
// dropped on write and deleted by expiry.
func (o Options) Cutoff(now time.Time) int64 {
	return now.Add(-o.Retention).Unix()
}

// HighResolutionCutoff is the oldest second bucket kept at now: earlier
// ones are rolled up into minutes.
func (o Options) HighResolutionCutoff(now time.Time) int64 {
	return now.Add(-o.HighResolutionRetention).Unix()
}

// SeriesExpired reports whether a series whose recorded last observation
// is last may be deleted at cutoff: the recorded last may lag the newest
// observation by LastSlack.
func SeriesExpired(last, cutoff int64) bool {
	return last <= SeriesExpiryBound(cutoff)
}

// SeriesExpiryBound is the latest recorded last observation of a series
// that may be deleted at cutoff (SeriesExpired).
func SeriesExpiryBound(cutoff int64) int64 {
	return cutoff - LastSlack - 60
}

// ListSince is the oldest last observation of a metric ListMetrics
// returns: the retention's cutoff, or the minute of f's ActiveSince when
// later.
func ListSince(cutoff int64, activeSince time.Time) int64 {
	if !activeSince.IsZero() {
		s := activeSince.Unix()
		cutoff = max(cutoff, s-s%60)
	}
	return cutoff
}
