package metricbucket

// Stats are the statistics of a bucket: SampleCount, Sum, Minimum and
// Maximum. The zero value is an empty bucket.
type Stats struct {
	N, Sum, Min, Max float64
}

// Add merges o into s.
func (s *Stats) Add(o Stats) {
	if s.N == 0 {
		*s = o
		return
	}
	s.N += o.N
	s.Sum += o.Sum
	s.Min = min(s.Min, o.Min)
	s.Max = max(s.Max, o.Max)
}

// StatsLen is the length of the statistics that start a packed bucket: a
// store can read them alone when no percentile is asked for.
const StatsLen = 32

// Encode packs a bucket: its statistics, then its samples.
func Encode(st Stats, s *Samples) []byte {
	b := make([]byte, 0, StatsLen+s.encodedLen())
	b = appendF64(appendF64(appendF64(appendF64(b, st.N), st.Sum), st.Min), st.Max)
	return s.AppendTo(b)
}

// DecodeStats reads the statistics of a packed bucket (b may hold only
// them).
func DecodeStats(b []byte) (Stats, error) {
	if len(b) < StatsLen {
		return Stats{}, ErrCorrupt
	}
	return Stats{N: readF64(b), Sum: readF64(b[8:]), Min: readF64(b[16:]), Max: readF64(b[24:])}, nil
}

// Decode unpacks a bucket; the samples do not alias b.
func Decode(b []byte) (Stats, Samples, error) {
	st, err := DecodeStats(b)
	if err != nil {
		return st, Samples{}, err
	}
	var s Samples
	err = s.Decode(b[StatsLen:])
	return st, s, err
}

// Merge returns the packed bucket holding the observations of the packed
// buckets a and b.
func Merge(a, b []byte) ([]byte, error) {
	sa, smpA, err := Decode(a)
	if err != nil {
		return nil, err
	}
	sb, smpB, err := Decode(b)
	if err != nil {
		return nil, err
	}
	sa.Add(sb)
	smpA.Merge(&smpB, MaxExactSamples)
	return Encode(sa, &smpA), nil
}

// Bucket is a bucket being built from several packed ones (a roll-up, or a
// queried period).
type Bucket struct {
	Stats   Stats
	Samples Samples
}

// AddPacked merges the packed bucket data into b; its samples are kept up
// to limit distinct values before b's become a sketch.
func (b *Bucket) AddPacked(data []byte, limit int) error {
	st, smp, err := Decode(data)
	if err != nil {
		return err
	}
	b.Stats.Add(st)
	b.Samples.Merge(&smp, limit)
	return nil
}

// Encode packs b.
func (b *Bucket) Encode() []byte { return Encode(b.Stats, &b.Samples) }
