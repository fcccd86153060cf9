package metricbucket

// Rollup merges packed buckets into coarser ones, keyed by K (for example
// a series and a minute), in the order keys first appear.
type Rollup[K comparable] struct {
	order []K
	m     map[K]*Bucket
}

// Add merges the packed bucket data into the bucket k.
func (r *Rollup[K]) Add(k K, data []byte) error {
	b, ok := r.m[k]
	if !ok {
		if r.m == nil {
			r.m = map[K]*Bucket{}
		}
		b = &Bucket{}
		r.m[k] = b
		r.order = append(r.order, k)
	}
	return b.AddPacked(data, MaxExactSamples)
}

// Len is the number of buckets.
func (r *Rollup[K]) Len() int { return len(r.order) }

// Keys returns the keys in the order they first appeared.
func (r *Rollup[K]) Keys() []K { return r.order }

// Encode packs the bucket k (nil when there is none).
func (r *Rollup[K]) Encode(k K) []byte {
	b, ok := r.m[k]
	if !ok {
		return nil
	}
	return b.Encode()
}
