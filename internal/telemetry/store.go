package telemetry

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// commitBuckets are the bounds of the commit latency histogram, in
// seconds: a commit is dominated by its WAL sync, tens of microseconds on
// a fast SSD to tens of milliseconds on a slow disk.
var commitBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}

// storeMetrics are the store's metrics.
type storeMetrics struct {
	duration   prometheus.Histogram
	commitsVec *prometheus.CounterVec
	ok, failed prometheus.Counter
	updates    prometheus.Counter
}

func (s *storeMetrics) init() {
	s.duration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "store", Name: "commit_duration_seconds",
		Help:    "Time from the start of a store commit to its being durable, per successful commit (one commit carries a batch of updates).",
		Buckets: commitBuckets,
	})
	s.commitsVec = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "store", Name: "commits_total",
		Help: `Store commits by result: "ok", or "error" when the commit or its sync failed.`,
	}, []string{"result"})
	s.ok = s.commitsVec.WithLabelValues("ok")
	s.failed = s.commitsVec.WithLabelValues("error")
	s.updates = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "store", Name: "committed_updates_total",
		Help: "Updates (write transactions) carried by successful store commits; divided by the commits, the average group-commit batch.",
	})
}

func (s *storeMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{s.duration, s.commitsVec, s.updates}
}

// ObserveCommit counts one store commit that carried updates write
// transactions and took elapsed from its start to being durable; err is
// non-nil when the commit failed, and then only the failure is counted.
func (m *Metrics) ObserveCommit(elapsed time.Duration, updates int, err error) {
	if m == nil {
		return
	}
	s := &m.store
	if err != nil {
		s.failed.Inc()
		return
	}
	s.ok.Inc()
	s.updates.Add(float64(max(updates, 0)))
	s.duration.Observe(elapsed.Seconds())
}
