package telemetry

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// maxOperations caps the distinct (service, operation) pairs; past it,
// new pairs count as ("other", "other"). Every service iotdm serves has a
// few hundred operations at most.
const maxOperations = 2048

// requestBuckets are the bounds of the API latency histogram, in seconds:
// reads from memory answer in well under a millisecond, durable writes wait
// for a WAL sync, and stack operations may take seconds.
var requestBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// apiMetrics are the API edge's metrics.
type apiMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec

	mu        sync.RWMutex
	durations map[apiKey]prometheus.Observer
	counts    map[requestKey]prometheus.Counter
}

type apiKey struct{ service, operation string }

type requestKey struct {
	apiKey
	code int
}

func (a *apiMetrics) init() {
	a.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "api", Name: "requests_total",
		Help: `AWS API requests by signing service, operation and HTTP status code; "unknown" when the request was refused before either was known.`,
	}, []string{"service", "operation", "code"})
	a.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "api", Name: "request_duration_seconds",
		Help:    "Time from receiving an AWS API request to its response written, by signing service and operation.",
		Buckets: requestBuckets,
	}, []string{"service", "operation"})
	a.durations = map[apiKey]prometheus.Observer{}
	a.counts = map[requestKey]prometheus.Counter{}
}

func (a *apiMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{a.requests, a.duration}
}

// ObserveRequest counts one API request: service is the SigV4 signing name
// of a service the endpoint serves (iot, iotdata, logs, ...), op the
// operation name (CreateThing), status the HTTP status written and elapsed
// the time the request took. An empty service or op counts as "unknown".
// Callers pass names from fixed tables: the number of pairs is capped all
// the same.
func (m *Metrics) ObserveRequest(service, op string, status int, elapsed time.Duration) {
	if m == nil {
		return
	}
	if service == "" {
		service = unknown
	}
	if op == "" {
		op = unknown
	}
	if status < 100 || status > 599 {
		status = 0
	}
	obs, ctr := m.api.series(requestKey{apiKey{service, op}, status})
	obs.Observe(elapsed.Seconds())
	ctr.Inc()
}

// series returns the histogram and counter of k, resolving them on first
// use.
func (a *apiMetrics) series(k requestKey) (prometheus.Observer, prometheus.Counter) {
	a.mu.RLock()
	obs, ok1 := a.durations[k.apiKey]
	ctr, ok2 := a.counts[k]
	a.mu.RUnlock()
	if ok1 && ok2 {
		return obs, ctr
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.durations[k.apiKey]; !ok && len(a.durations) >= maxOperations {
		k.apiKey = apiKey{other, other}
	}
	obs, ok := a.durations[k.apiKey]
	if !ok {
		obs = a.duration.WithLabelValues(k.service, k.operation)
		a.durations[k.apiKey] = obs
	}
	ctr, ok = a.counts[k]
	if !ok {
		code := unknown
		if k.code != 0 {
			code = strconv.Itoa(k.code)
		}
		ctr = a.requests.WithLabelValues(k.service, k.operation, code)
		a.counts[k] = ctr
	}
	return obs, ctr
}
