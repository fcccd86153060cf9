package metricbucket

import (
	"errors"
	"math"
	"slices"
	"sort"
)

// Samples are the values of a bucket for its percentiles: exact (vals,
// with their counts in wts, nil when every count is 1) or, past the cap of
// a merge, a sketch. The zero value holds no values.
type Samples struct {
	vals []float64
	wts  []float64
	sk   *sketch
}

// Encodings of Samples (little-endian): none is no bytes; 'v' then float64
// values with count 1; 'w' then (value, count) float64 pairs; 's' then a
// sketch.
const (
	samplesValues   = 'v'
	samplesWeighted = 'w'
	samplesSketch   = 's'
)

// ErrCorrupt is the error of a packed bucket that does not decode.
var ErrCorrupt = errors.New("corrupt metric bucket")

// Empty reports whether s holds no values.
func (s *Samples) Empty() bool { return s.sk == nil && len(s.vals) == 0 }

// Exact reports whether s holds its values exactly (not a sketch).
func (s *Samples) Exact() bool { return s.sk == nil }

// Add adds the value v, w times.
func (s *Samples) Add(v, w float64) {
	if s.sk != nil {
		s.sk.add(v, w)
		return
	}
	if w != 1 && s.wts == nil {
		s.wts = make([]float64, len(s.vals), len(s.vals)+1)
		for i := range s.wts {
			s.wts[i] = 1
		}
	}
	s.vals = append(s.vals, v)
	if s.wts != nil {
		s.wts = append(s.wts, w)
	}
}

func (s *Samples) weight(i int) float64 {
	if s.wts == nil {
		return 1
	}
	return s.wts[i]
}

// Merge adds o to s; past limit distinct values s becomes a sketch.
func (s *Samples) Merge(o *Samples, limit int) {
	switch {
	case o.Empty():
		return
	case s.sk == nil && o.sk == nil:
		for i, v := range o.vals {
			s.Add(v, o.weight(i))
		}
		if len(s.vals) > limit {
			s.compact()
		}
		if len(s.vals) > limit {
			s.toSketch()
		}
		return
	}
	if s.sk == nil {
		s.toSketch()
	}
	if o.sk != nil {
		s.sk.merge(o.sk)
		return
	}
	for i, v := range o.vals {
		s.sk.add(v, o.weight(i))
	}
}

// compact merges equal values, adding their counts.
func (s *Samples) compact() {
	idx := make([]int, len(s.vals))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return s.vals[idx[a]] < s.vals[idx[b]] })
	vals := make([]float64, 0, len(s.vals))
	wts := make([]float64, 0, len(s.vals))
	for _, i := range idx {
		if n := len(vals); n > 0 && vals[n-1] == s.vals[i] {
			wts[n-1] += s.weight(i)
			continue
		}
		vals = append(vals, s.vals[i])
		wts = append(wts, s.weight(i))
	}
	s.vals, s.wts = vals, wts
}

func (s *Samples) toSketch() {
	sk := newSketch()
	for i, v := range s.vals {
		sk.add(v, s.weight(i))
	}
	*s = Samples{sk: sk}
}

// AppendTo appends the encoding of s to b.
func (s *Samples) AppendTo(b []byte) []byte {
	switch {
	case s.sk != nil:
		return s.sk.appendTo(b)
	case len(s.vals) == 0:
		return b
	case s.wts == nil:
		b = append(b, samplesValues)
		for _, v := range s.vals {
			b = appendF64(b, v)
		}
		return b
	}
	b = append(b, samplesWeighted)
	for i, v := range s.vals {
		b = appendF64(appendF64(b, v), s.wts[i])
	}
	return b
}

// encodedLen is the length of s's encoding, for sizing buffers; a sketch
// counts as empty.
func (s *Samples) encodedLen() int {
	switch {
	case s.sk != nil || len(s.vals) == 0:
		return 0
	case s.wts == nil:
		return 1 + 8*len(s.vals)
	}
	return 1 + 16*len(s.vals)
}

// Decode sets s from an encoding; s's slices are new (b may be reused).
func (s *Samples) Decode(b []byte) error {
	*s = Samples{}
	if len(b) == 0 {
		return nil
	}
	body := b[1:]
	switch b[0] {
	case samplesValues:
		if len(body)%8 != 0 {
			return ErrCorrupt
		}
		s.vals = make([]float64, len(body)/8)
		for i := range s.vals {
			s.vals[i] = readF64(body[8*i:])
		}
	case samplesWeighted:
		if len(body)%16 != 0 {
			return ErrCorrupt
		}
		n := len(body) / 16
		s.vals, s.wts = make([]float64, n), make([]float64, n)
		for i := range n {
			s.vals[i] = readF64(body[16*i:])
			s.wts[i] = readF64(body[16*i+8:])
		}
	case samplesSketch:
		sk, err := decodeSketch(body)
		if err != nil {
			return err
		}
		s.sk = sk
	default:
		return ErrCorrupt
	}
	return nil
}

// Quantile returns the p-th percentile (0-100) by nearest rank: the
// smallest value whose cumulative count reaches p % of the total, clamped
// to [lo, hi]. ok is false without samples.
func (s *Samples) Quantile(p, lo, hi float64) (float64, bool) {
	if s.Empty() {
		return 0, false
	}
	var v float64
	if s.sk != nil {
		v = s.sk.quantile(p)
	} else {
		idx := make([]int, len(s.vals))
		total := 0.0
		for i := range idx {
			idx[i] = i
			total += s.weight(i)
		}
		sort.Slice(idx, func(a, b int) bool { return s.vals[idx[a]] < s.vals[idx[b]] })
		target := rankTarget(p, total)
		cum := 0.0
		v = s.vals[idx[len(idx)-1]]
		for _, i := range idx {
			cum += s.weight(i)
			if cum >= target {
				v = s.vals[i]
				break
			}
		}
	}
	return min(max(v, lo), hi), true
}

// rankTarget is the cumulative count the p-th percentile of total reaches,
// with a little slack for rounding.
func rankTarget(p, total float64) float64 {
	return p/100*total - 1e-9*total
}

// sketch is a log-bucketed histogram of values (positive, negative and
// zero): bucket i of either sign holds magnitudes in (γ^(i-1), γ^i],
// reported as 2γ^i/(γ+1), within 1 % of any value in it. When a sign has
// more than maxSketchBins buckets, its smallest magnitudes are merged,
// which only coarsens the lowest percentiles of that sign.
type sketch struct {
	zero     float64
	pos, neg map[int32]float64
}

const (
	sketchGamma   = 1.02
	maxSketchBins = 2048
)

func newSketch() *sketch {
	return &sketch{pos: map[int32]float64{}, neg: map[int32]float64{}}
}

func sketchIndex(mag float64) int32 {
	return int32(math.Ceil(math.Log(mag) / math.Log(sketchGamma)))
}

func sketchValue(i int32) float64 {
	return 2 * math.Pow(sketchGamma, float64(i)) / (sketchGamma + 1)
}

func (k *sketch) add(v, w float64) {
	switch {
	case v > 0:
		k.pos[sketchIndex(v)] += w
		k.collapse(k.pos)
	case v < 0:
		k.neg[sketchIndex(-v)] += w
		k.collapse(k.neg)
	default:
		k.zero += w
	}
}

func (k *sketch) merge(o *sketch) {
	k.zero += o.zero
	for i, w := range o.pos {
		k.pos[i] += w
	}
	for i, w := range o.neg {
		k.neg[i] += w
	}
	k.collapse(k.pos)
	k.collapse(k.neg)
}

// collapse merges the smallest buckets of bins until at most maxSketchBins
// are left.
func (k *sketch) collapse(bins map[int32]float64) {
	if len(bins) <= maxSketchBins {
		return
	}
	idx := sortedBins(bins)
	extra := len(idx) - maxSketchBins
	into := idx[extra]
	for _, i := range idx[:extra] {
		bins[into] += bins[i]
		delete(bins, i)
	}
}

func sortedBins(bins map[int32]float64) []int32 {
	idx := make([]int32, 0, len(bins))
	for i := range bins {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	return idx
}

func (k *sketch) quantile(p float64) float64 {
	total := k.zero
	for _, w := range k.pos {
		total += w
	}
	for _, w := range k.neg {
		total += w
	}
	target := rankTarget(p, total)
	cum := 0.0
	neg := sortedBins(k.neg)
	for j := len(neg) - 1; j >= 0; j-- { // most negative first
		if cum += k.neg[neg[j]]; cum >= target {
			return -sketchValue(neg[j])
		}
	}
	if cum += k.zero; cum >= target && k.zero > 0 {
		return 0
	}
	pos := sortedBins(k.pos)
	for _, i := range pos {
		if cum += k.pos[i]; cum >= target {
			return sketchValue(i)
		}
	}
	if len(pos) > 0 {
		return sketchValue(pos[len(pos)-1])
	}
	return 0
}

func (k *sketch) appendTo(b []byte) []byte {
	b = append(b, samplesSketch)
	b = appendF64(b, k.zero)
	for _, bins := range []map[int32]float64{k.pos, k.neg} {
		idx := sortedBins(bins)
		b = appendU32(b, uint32(len(idx)))
		for _, i := range idx {
			b = appendF64(appendU32(b, uint32(i)), bins[i])
		}
	}
	return b
}

func decodeSketch(b []byte) (*sketch, error) {
	k := newSketch()
	if len(b) < 8 {
		return nil, ErrCorrupt
	}
	k.zero = readF64(b)
	b = b[8:]
	for _, bins := range []map[int32]float64{k.pos, k.neg} {
		if len(b) < 4 {
			return nil, ErrCorrupt
		}
		n := int(readU32(b))
		b = b[4:]
		if n > maxSketchBins || len(b) < 12*n {
			return nil, ErrCorrupt
		}
		for range n {
			bins[int32(readU32(b))] = readF64(b[4:])
			b = b[12:]
		}
	}
	if len(b) != 0 {
		return nil, ErrCorrupt
	}
	return k, nil
}

func appendF64(b []byte, v float64) []byte {
	u := math.Float64bits(v)
	return append(b, byte(u), byte(u>>8), byte(u>>16), byte(u>>24), byte(u>>32), byte(u>>40), byte(u>>48), byte(u>>56))
}

func readF64(b []byte) float64 {
	_ = b[7]
	u := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
	return math.Float64frombits(u)
}

func appendU32(b []byte, u uint32) []byte {
	return append(b, byte(u), byte(u>>8), byte(u>>16), byte(u>>24))
}

func readU32(b []byte) uint32 {
	_ = b[3]
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
