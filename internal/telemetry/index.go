package telemetry

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// IndexSource reports the fleet indices when metrics are scraped: the
// documents in each index by index name (AWS_Things, AWS_ThingGroups), and
// how far the indices lag behind the store's change feed, in changes and in
// seconds (see IndexLag). It runs on the scraping goroutine and must be
// quick and safe for concurrent use.
type IndexSource func() (docs map[string]int, lagChanges uint64, lagSeconds float64)

// SetIndexSource sets (nil: clears) where the fleet index metrics come
// from; until it is set they are not exposed. Safe to call at any time.
func (m *Metrics) SetIndexSource(src IndexSource) {
	if m == nil {
		return
	}
	if src == nil {
		m.index.src.Store(nil)
		return
	}
	m.index.src.Store(&src)
}

// IndexLag is the lag of an index that has applied the change feed up to
// applied, the last applied change having been committed at appliedAt,
// when the store's last committed change is head: the changes still to
// apply, and the seconds since the last applied change was committed, an
// upper bound of the age of the oldest change still to apply. Both are 0
// when the index is caught up, and the seconds are 0 when appliedAt is
// unknown (the zero time).
func IndexLag(head, applied uint64, appliedAt, now time.Time) (changes uint64, seconds float64) {
	if head <= applied {
		return 0, 0
	}
	changes = head - applied
	if !appliedAt.IsZero() {
		seconds = max(now.Sub(appliedAt).Seconds(), 0)
	}
	return changes, seconds
}

// indexCollector asks the IndexSource at every scrape.
type indexCollector struct {
	src        atomic.Pointer[IndexSource]
	docs       *prometheus.Desc
	lagChanges *prometheus.Desc
	lagSeconds *prometheus.Desc
}

func newIndexCollector() *indexCollector {
	return &indexCollector{
		docs: prometheus.NewDesc("iotdm_fleet_index_documents",
			"Documents in a fleet index, by index (AWS_Things, AWS_ThingGroups).", []string{"index"}, nil),
		lagChanges: prometheus.NewDesc("iotdm_fleet_index_lag_changes",
			"Committed store changes the fleet index has not applied yet.", nil, nil),
		lagSeconds: prometheus.NewDesc("iotdm_fleet_index_lag_seconds",
			"While the fleet index is behind the change feed, seconds since the last change it applied was committed; 0 when caught up.", nil, nil),
	}
}

func (c *indexCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.docs
	ch <- c.lagChanges
	ch <- c.lagSeconds
}

func (c *indexCollector) Collect(ch chan<- prometheus.Metric) {
	p := c.src.Load()
	if p == nil {
		return
	}
	docs, lagChanges, lagSeconds := (*p)()
	for name, n := range docs {
		ch <- prometheus.MustNewConstMetric(c.docs, prometheus.GaugeValue, float64(n), name)
	}
	ch <- prometheus.MustNewConstMetric(c.lagChanges, prometheus.GaugeValue, float64(lagChanges))
	ch <- prometheus.MustNewConstMetric(c.lagSeconds, prometheus.GaugeValue, lagSeconds)
}
