package metricbucket

import (
	"math"
	"time"

	"github.com/iotdm/iotdm"
)

// Series is one series a batch writes.
type Series struct {
	Key                         string // SeriesKey
	Namespace, Name, Dims, Unit string // Dims canonical, Unit stored
	Last                        int64  // the batch's newest bucket of it
}

// Row is one bucket a batch adds to.
type Row struct {
	Series         int   // index into Batch.Series
	Start          int64 // bucket start, Unix seconds
	HighResolution bool  // a second bucket; else a minute
	Stats          Stats
	Data           []byte // the batch's part of the bucket, packed
}

// Batch is the points of one PutMetricPoints grouped by series and bucket.
type Batch struct {
	Series []Series
	Rows   []Row
}

// NewBatch groups points by series and bucket, checking each
// (InvalidParameterValue for a bad one). Points in a bucket older than
// cutoff are dropped: expiry would delete them at once.
func NewBatch(points []iotdm.MetricPoint, cutoff int64) (*Batch, error) {
	b := &Batch{}
	seriesIdx := map[string]int{}
	type rowKey struct {
		series int
		ts     int64
		hr     bool
	}
	rowIdx := map[rowKey]int{}
	samples := []Samples{}
	for i := range points {
		p := &points[i]
		if p.Metric.Namespace == "" || p.Metric.MetricName == "" {
			return nil, badRequest("Metric point %d has no namespace or metric name.", i+1)
		}
		if p.Timestamp.IsZero() {
			return nil, badRequest("Metric point %d has no timestamp.", i+1)
		}
		sec := p.Timestamp.Unix()
		if sec < 0 || sec > MaxTimestamp {
			return nil, badRequest("The timestamp %s of metric point %d is out of range.", p.Timestamp.UTC().Format(time.RFC3339), i+1)
		}
		ts := sec - sec%60
		if p.HighResolution {
			ts = sec
		}
		if ts+60 <= cutoff {
			continue
		}
		var st Stats
		var smp Samples
		switch {
		case (p.Value == nil) == (p.Stats == nil):
			return nil, badRequest("Metric point %d must have exactly one of a value and statistics.", i+1)
		case p.Value != nil:
			v, count := *p.Value, p.Count
			if count == 0 {
				count = 1
			}
			if !finite(v) || !finite(count) || count < 0 {
				return nil, badRequest("The value %v (count %v) of metric point %d is invalid.", v, count, i+1)
			}
			st = Stats{N: count, Sum: v * count, Min: v, Max: v}
			smp.Add(v, count)
		default:
			s := p.Stats
			if !finite(s.SampleCount) || !finite(s.Sum) || !finite(s.Minimum) || !finite(s.Maximum) ||
				s.SampleCount <= 0 || s.Minimum > s.Maximum {
				return nil, badRequest("The statistics of metric point %d are invalid.", i+1)
			}
			st = Stats{N: s.SampleCount, Sum: s.Sum, Min: s.Minimum, Max: s.Maximum}
			switch {
			case s.Minimum == s.Maximum:
				smp.Add(s.Minimum, s.SampleCount)
			case s.SampleCount == 1:
				smp.Add(s.Sum, 1)
			}
		}
		dims := CanonicalDims(p.Metric.Dimensions)
		unit := StoredUnit(p.Unit)
		key := SeriesKey(p.Metric.Namespace, p.Metric.MetricName, dims, unit)
		si, ok := seriesIdx[key]
		if !ok {
			si = len(b.Series)
			seriesIdx[key] = si
			b.Series = append(b.Series, Series{Key: key, Namespace: p.Metric.Namespace, Name: p.Metric.MetricName, Dims: dims, Unit: unit, Last: ts})
		}
		b.Series[si].Last = max(b.Series[si].Last, ts)
		rk := rowKey{si, ts, p.HighResolution}
		ri, ok := rowIdx[rk]
		if !ok {
			ri = len(b.Rows)
			rowIdx[rk] = ri
			b.Rows = append(b.Rows, Row{Series: si, Start: ts, HighResolution: p.HighResolution})
			samples = append(samples, Samples{})
		}
		b.Rows[ri].Stats.Add(st)
		samples[ri].Merge(&smp, MaxExactSamples)
	}
	for i := range b.Rows {
		b.Rows[i].Data = Encode(b.Rows[i].Stats, &samples[i])
	}
	return b, nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func badRequest(format string, args ...any) error {
	return iotdm.Errorf(iotdm.ErrInvalidParameterValue, format, args...)
}
