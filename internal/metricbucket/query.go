package metricbucket

import (
	"cmp"
	"slices"
	"time"

	"github.com/iotdm/iotdm"
)

// Query is a checked MetricRange: buckets starting in [Start, End), Unix
// seconds, aggregated into periods of Period seconds aligned to the epoch.
type Query struct {
	Namespace, Name, Dims string // Dims canonical
	Unit                  string // "" for every unit
	Start, End, Period    int64
	Percentiles           []float64
}

// NewQuery checks r (InvalidParameterValue when it is bad); ok is false
// when r selects no bucket at all.
func NewQuery(r iotdm.MetricRange) (q Query, ok bool, err error) {
	if r.Period < time.Second || r.Period%time.Second != 0 {
		return Query{}, false, badRequest("The period %s is not a whole number of seconds.", r.Period)
	}
	for _, p := range r.Percentiles {
		if !(p >= 0 && p <= 100) {
			return Query{}, false, badRequest("The percentile %v is out of range.", p)
		}
	}
	q = Query{
		Namespace:   r.Metric.Namespace,
		Name:        r.Metric.MetricName,
		Dims:        CanonicalDims(r.Metric.Dimensions),
		Unit:        r.Unit,
		Start:       max(ceilSeconds(r.Start), 0),
		End:         min(ceilSeconds(r.End), MaxTimestamp+1),
		Period:      int64(r.Period / time.Second),
		Percentiles: r.Percentiles,
	}
	return q, q.End > q.Start, nil
}

// WithSamples reports whether the query needs the buckets' samples, not
// only their statistics (StatsLen bytes).
func (q Query) WithSamples() bool { return len(q.Percentiles) > 0 }

// ceilSeconds is t in Unix seconds, rounded up.
func ceilSeconds(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// Aggregator aggregates the buckets of one series into a query's periods.
// Buckets may come in any order; in time order is fastest.
type Aggregator struct {
	q        Query
	out      []period
	cur      int           // index of the period last added to; -1 for none
	byStart  map[int64]int // once buckets came out of order
	unsorted bool          // out is not in time order
	scratch  Samples       // decoding buffer
}

type period struct {
	start   int64
	stats   Stats
	samples *Samples // when percentiles are asked for
}

// NewAggregator returns an empty aggregator for q's periods.
func (q Query) NewAggregator() *Aggregator {
	return &Aggregator{q: q, cur: -1, out: make([]period, 0, min((q.End-q.Start)/q.Period+1, 1<<16))}
}

// Add adds the bucket starting at start, packed in data: its statistics
// alone (StatsLen bytes) unless the query WithSamples.
func (a *Aggregator) Add(start int64, data []byte) error {
	st, err := DecodeStats(data)
	if err != nil {
		return err
	}
	ps := start - start%a.q.Period
	if a.cur < 0 || a.out[a.cur].start != ps {
		a.cur = a.find(ps)
	}
	p := &a.out[a.cur]
	p.stats.Add(st)
	if a.q.WithSamples() {
		if err := a.scratch.Decode(data[StatsLen:]); err != nil {
			return err
		}
		if p.samples == nil {
			p.samples = &Samples{}
		}
		p.samples.Merge(&a.scratch, MaxQuerySamples)
	}
	return nil
}

// find returns the index of the period starting at ps, adding it.
func (a *Aggregator) find(ps int64) int {
	n := len(a.out)
	if a.byStart == nil {
		if n == 0 || a.out[n-1].start < ps {
			a.out = append(a.out, period{start: ps})
			return n
		}
		a.byStart = make(map[int64]int, n)
		for i, p := range a.out {
			a.byStart[p.start] = i
		}
	}
	if i, ok := a.byStart[ps]; ok {
		return i
	}
	if n > 0 && a.out[n-1].start > ps {
		a.unsorted = true
	}
	a.out = append(a.out, period{start: ps})
	a.byStart[ps] = n
	return n
}

// AppendBuckets appends the periods with observations to out, oldest
// first, as buckets of the unit.
func (a *Aggregator) AppendBuckets(out []iotdm.MetricBucket, unit string) []iotdm.MetricBucket {
	if a.unsorted {
		slices.SortFunc(a.out, func(x, y period) int { return cmp.Compare(x.start, y.start) })
		a.unsorted = false
	}
	out = slices.Grow(out, len(a.out))
	for _, p := range a.out {
		b := iotdm.MetricBucket{
			Timestamp:   time.Unix(p.start, 0).UTC(),
			SampleCount: p.stats.N,
			Sum:         p.stats.Sum,
			Minimum:     p.stats.Min,
			Maximum:     p.stats.Max,
			Unit:        unit,
		}
		if len(a.q.Percentiles) > 0 {
			b.Percentiles = make(map[float64]float64, len(a.q.Percentiles))
			for _, pc := range a.q.Percentiles {
				if p.samples == nil {
					break
				}
				if v, ok := p.samples.Quantile(pc, p.stats.Min, p.stats.Max); ok {
					b.Percentiles[pc] = v
				}
			}
		}
		out = append(out, b)
	}
	return out
}

// SortBuckets orders the buckets of several units, each oldest first and
// appended in unit order, by time, then unit.
func SortBuckets(out []iotdm.MetricBucket) {
	slices.SortStableFunc(out, func(a, b iotdm.MetricBucket) int { return a.Timestamp.Compare(b.Timestamp) })
}
