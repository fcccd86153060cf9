package fleetindex

import (
	"cmp"
	"math"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/iotdm/iotdm/internal/query"
)

// Statistics is the result of GetStatistics (AWS §2.5). The numeric
// members are nil when there is no value to compute them from, when the
// field is a String field (only count), or when the values overflow
// float64 ("if values overflow double, the numeric statistics are empty").
type Statistics struct {
	Count        int
	Average      *float64
	Sum          *float64
	Minimum      *float64
	Maximum      *float64
	SumOfSquares *float64
	Variance     *float64 // population variance
	StdDeviation *float64
}

// Percentile is one entry of GetPercentiles (AWS §2.5).
type Percentile struct {
	Percent float64
	Value   float64
}

// Bucket is one entry of GetBucketsAggregation (AWS §2.5).
type Bucket struct {
	KeyValue string
	Count    int
}

// DefaultPercents are the percents of GetPercentiles when none are given
// (AWS §2.5).
var DefaultPercents = []float64{1, 5, 25, 50, 75, 95, 99}

// DefaultMaxBuckets is the default termsAggregation.maxBuckets (AWS §2.5).
const DefaultMaxBuckets = 10

// Statistics computes GetStatistics over field for the documents matching
// e (AWS §2.5). typ is the field's declared type (managed or custom field,
// see query.Options.FieldType); Dynamic counts as Number.
//
//   - Number: every numeric value of a matching document counts (a value
//     that parses as a number, attribute strings included, AWS §2.2; each
//     element of a scalar array is a value); other values are skipped.
//     Variance is the population variance, stdDeviation its square root.
//   - Boolean: values true and false (JSON booleans or the strings
//     "true"/"false", any case) count as 1 and 0: average is the fraction
//     true, sum the number true, minimum/maximum 0 or 1.
//   - String: only count, the number of values.
func (ix *Index) Statistics(e query.Expr, field string, typ query.FieldType) Statistics {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	match := ix.eval(e)
	var acc statAcc
	switch typ {
	case query.String:
		ix.eachLeaf(match, field, func(_ uint32, _ []leaf) {}, func(leaf) { acc.n++ })
		return Statistics{Count: acc.n}
	case query.Boolean:
		ix.eachLeaf(match, field, func(_ uint32, _ []leaf) {}, func(l leaf) {
			switch l.text {
			case "true":
				acc.add(1)
			case "false":
				acc.add(0)
			}
		})
	default:
		ix.eachNumber(match, field, acc.add)
	}
	return acc.result()
}

// statAcc accumulates statistics; the variance uses Welford's update.
type statAcc struct {
	n          int
	sum, sumSq float64
	min, max   float64
	mean, m2   float64
}

func (a *statAcc) add(x float64) {
	a.n++
	if a.n == 1 || x < a.min {
		a.min = x
	}
	if a.n == 1 || x > a.max {
		a.max = x
	}
	a.sum += x
	a.sumSq += x * x
	d := x - a.mean
	a.mean += d / float64(a.n)
	a.m2 += d * (x - a.mean)
}

func (a *statAcc) result() Statistics {
	s := Statistics{Count: a.n}
	if a.n == 0 {
		return s
	}
	variance := max(a.m2/float64(a.n), 0)
	vals := []float64{a.sum, a.sumSq, a.mean, variance}
	for _, v := range vals {
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return s // AWS §2.5: overflow leaves the numeric statistics empty
		}
	}
	f := func(v float64) *float64 { return &v }
	s.Average, s.Sum = f(a.sum/float64(a.n)), f(a.sum)
	s.Minimum, s.Maximum = f(a.min), f(a.max)
	s.SumOfSquares = f(a.sumSq)
	s.Variance, s.StdDeviation = f(variance), f(math.Sqrt(variance))
	return s
}

// Cardinality computes GetCardinality (AWS §2.5): the number of distinct
// values of field among the documents matching e, counted exactly. Values
// are compared as written (original case; numbers in their JSON form);
// 0 when nothing matches.
func (ix *Index) Cardinality(e query.Expr, field string) int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	seen := map[string]struct{}{}
	ix.eachLeaf(ix.eval(e), field, func(uint32, []leaf) {}, func(l leaf) { seen[l.raw] = struct{}{} })
	return len(seen)
}

// Percentiles computes GetPercentiles (AWS §2.5) exactly over the numeric
// values of field in the documents matching e, interpolating linearly
// between the closest ranks. Pairs come in the order of percents
// (DefaultPercents when empty; each is clamped to 0..100); the result is
// empty when no value matches.
func (ix *Index) Percentiles(e query.Expr, field string, percents []float64) []Percentile {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var vals []float64
	ix.eachNumber(ix.eval(e), field, func(x float64) { vals = append(vals, x) })
	if len(vals) == 0 {
		return []Percentile{}
	}
	slices.Sort(vals)
	if len(percents) == 0 {
		percents = DefaultPercents
	}
	out := make([]Percentile, len(percents))
	for i, p := range percents {
		out[i] = Percentile{Percent: p, Value: percentile(vals, p)}
	}
	return out
}

// percentile interpolates linearly between the closest ranks of sorted.
func percentile(sorted []float64, p float64) float64 {
	p = min(max(p, 0), 100)
	rank := p / 100 * float64(len(sorted)-1)
	lo := int(math.Floor(rank))
	hi := min(lo+1, len(sorted)-1)
	frac := rank - float64(lo)
	if frac == 0 || sorted[lo] == sorted[hi] {
		return sorted[lo]
	}
	return sorted[lo] + (sorted[hi]-sorted[lo])*frac
}

// Buckets computes GetBucketsAggregation with a terms aggregation (AWS
// §2.5): totalCount is the number of documents matching e; buckets are the
// maxBuckets (DefaultMaxBuckets when <= 0) values of field held by the
// most matching documents, by descending count and then ascending value.
// A document counts once per distinct value; values are as written.
func (ix *Index) Buckets(e query.Expr, field string, maxBuckets int) (totalCount int, buckets []Bucket) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if maxBuckets <= 0 {
		maxBuckets = DefaultMaxBuckets
	}
	match := ix.eval(e)
	counts := map[string]int{}
	ix.eachLeaf(match, field, func(_ uint32, ls []leaf) {
		seen := make(map[string]struct{}, len(ls))
		for _, l := range ls {
			if _, ok := seen[l.raw]; !ok {
				seen[l.raw] = struct{}{}
				counts[l.raw]++
			}
		}
	}, nil)
	buckets = make([]Bucket, 0, len(counts))
	for k, n := range counts {
		buckets = append(buckets, Bucket{KeyValue: k, Count: n})
	}
	slices.SortFunc(buckets, func(a, b Bucket) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.KeyValue, b.KeyValue)
	})
	if len(buckets) > maxBuckets {
		buckets = buckets[:maxBuckets]
	}
	return int(match.GetCardinality()), buckets
}

// eachNumber calls fn for every numeric value of field in the documents
// of match, from the numeric columns.
func (ix *Index) eachNumber(match *roaring.Bitmap, field string, fn func(float64)) {
	if field == "" {
		return // aggregations name a field (AWS §2.5)
	}
	for _, f := range ix.fieldsFor(field) {
		if f.num == nil {
			continue
		}
		it := roaring.And(match, f.num.has).Iterator()
		for it.HasNext() {
			f.num.values(it.Next(), fn)
		}
	}
}

// eachLeaf calls perDoc with the leaves of field of every document of match
// that has some, and perLeaf (if set) for each of those leaves. It reads
// the stored documents, so values keep their original case.
func (ix *Index) eachLeaf(match *roaring.Bitmap, field string, perDoc func(uint32, []leaf), perLeaf func(leaf)) {
	if field == "" {
		return // aggregations name a field (AWS §2.5)
	}
	var has []*roaring.Bitmap
	for _, f := range ix.fieldsFor(field) {
		has = append(has, f.docs)
	}
	cand := roaring.FastOr(has...)
	cand.And(match)
	it := cand.Iterator()
	for it.HasNext() {
		d := it.Next()
		ls := leavesAt(ix.docs[d], ix.names[d], ix.keys.keys, field)
		perDoc(d, ls)
		if perLeaf != nil {
			for _, l := range ls {
				perLeaf(l)
			}
		}
	}
}
