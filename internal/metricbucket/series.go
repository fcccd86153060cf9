package metricbucket

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/iotdm/iotdm"
)

// CanonicalDims encodes dimensions in one canonical form, sorted by name
// and value: "" for none, else the JSON array of {"Name","Value"}. The
// encoding sorts metrics (bytewise) for ListMetrics and its pages.
func CanonicalDims(dims []iotdm.Dimension) string {
	if len(dims) == 0 {
		return ""
	}
	sorted := slices.Clone(dims)
	slices.SortFunc(sorted, func(a, b iotdm.Dimension) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.Value, b.Value)
	})
	b, _ := json.Marshal(sorted) // strings only: cannot fail
	return string(b)
}

// ParseDims decodes CanonicalDims.
func ParseDims(s string) ([]iotdm.Dimension, error) {
	if s == "" {
		return nil, nil
	}
	var dims []iotdm.Dimension
	if err := json.Unmarshal([]byte(s), &dims); err != nil {
		return nil, fmt.Errorf("decode dimensions %q: %w", s, err)
	}
	return dims, nil
}

// StoredUnit is the unit a series is stored under: "" is None.
func StoredUnit(u string) string {
	if u == "" {
		return "None"
	}
	return u
}

// SeriesKey names a series in memory: its metric and unit.
func SeriesKey(ns, name, dims, unit string) string {
	return ns + "\x00" + name + "\x00" + dims + "\x00" + unit
}

// DimsMatch reports whether dims has every filter's dimension (with its
// value, when one is given).
func DimsMatch(dims []iotdm.Dimension, filters []iotdm.DimensionFilter) bool {
	for _, f := range filters {
		if !slices.ContainsFunc(dims, func(d iotdm.Dimension) bool {
			return d.Name == f.Name && (f.Value == nil || d.Value == *f.Value)
		}) {
			return false
		}
	}
	return true
}

// maxCachedSeries bounds a SeriesCache; it is emptied when full.
const maxCachedSeries = 1 << 17

// SeriesCache remembers the store's id of series and their last
// observation as recorded, so that a write whose buckets move the recorded
// last by at most LastSlack skips the series update. It is safe for
// concurrent use; the zero value is empty.
type SeriesCache struct {
	mu sync.Mutex
	m  map[string]cachedSeries
}

type cachedSeries struct {
	id   int64
	last int64
}

// Lookup returns the id of the series key when the cache holds it with a
// recorded last of at least notBefore and no older than last - LastSlack.
func (c *SeriesCache) Lookup(key string, last, notBefore int64) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || e.last < notBefore || last > e.last+LastSlack {
		return 0, false
	}
	return e.id, true
}

// Remember records the id of a series and its last observation as stored,
// after the write that stored it committed.
func (c *SeriesCache) Remember(key string, id, last int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCachedSeries {
		c.m = map[string]cachedSeries{}
	}
	if e, ok := c.m[key]; ok && e.id == id && e.last >= last {
		return
	}
	c.m[key] = cachedSeries{id: id, last: last}
}

// Clear forgets every series: expiry deleted some.
func (c *SeriesCache) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
}
