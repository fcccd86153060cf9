// Package telemetry is iotdm's operational metrics: what the broker, the API
// edge, the fleet index and the store do, with the Go runtime and process
// collectors, served in the Prometheus exposition format by Handler.
//
// The packages it observes do not import it. Each exposes a small hook (a
// callback field or an interface of its own, with no-op defaults), and
// cmd/iotdm passes the methods of one *Metrics to them. Method signatures
// use only built-in types so that a *Metrics satisfies those interfaces
// structurally.
//
// Every method is safe for concurrent use, and a nil *Metrics records
// nothing. The per-message hooks (MessageIn, MessageOut, Denied) touch
// counters resolved in New and do not allocate; the per-connection,
// per-request and per-commit hooks resolve their series from small caches.
package telemetry

import (
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every iotdm metric.
const namespace = "iotdm"

// unknown is the label value that stands in for an empty one.
const unknown = "unknown"

// other is the label value that stands in for values past a label's cap,
// so that no caller can grow the number of series without bound.
const other = "other"

// Metrics holds every iotdm metric and the registry that serves them. Make
// one with New per server.
type Metrics struct {
	reg *prometheus.Registry

	mqtt  mqttMetrics
	api   apiMetrics
	store storeMetrics
	index *indexCollector
}

// New returns Metrics registered with a registry of their own, together
// with the Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.mqtt.init()
	m.api.init()
	m.store.init()
	m.index = newIndexCollector()
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.index,
	)
	m.reg.MustRegister(m.mqtt.collectors()...)
	m.reg.MustRegister(m.api.collectors()...)
	m.reg.MustRegister(m.store.collectors()...)
	return m
}

// Handler serves the metrics in the text exposition format (or the
// protobuf format when a scraper asks for it), gzip-compressed when the
// scraper accepts it. A collector that fails does not hide the others: the
// rest are served and promhttp_metric_handler_errors_total counts the
// failure. It answers every method; the caller routes GET and HEAD
// /metrics to it.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      m.reg,
		// Scrapes gather everything at once; more than a few in flight
		// means a misconfigured scraper, not a need.
		MaxRequestsInFlight: 4,
	})
}

// cappedCounter is a CounterVec of one label whose values come from the
// caller. Each value's counter is resolved once and kept; past max
// distinct values, further ones count under "other" and an empty value
// counts as "unknown".
type cappedCounter struct {
	vec *prometheus.CounterVec
	max int

	mu sync.RWMutex
	m  map[string]prometheus.Counter
}

func newCappedCounter(vec *prometheus.CounterVec, max int, initial ...string) *cappedCounter {
	c := &cappedCounter{vec: vec, max: max, m: make(map[string]prometheus.Counter, len(initial))}
	for _, v := range initial {
		c.m[v] = vec.WithLabelValues(v)
	}
	return c
}

// get returns the counter of value v.
func (c *cappedCounter) get(v string) prometheus.Counter {
	if v == "" {
		v = unknown
	}
	c.mu.RLock()
	ctr, ok := c.m[v]
	c.mu.RUnlock()
	if ok {
		return ctr
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ctr, ok := c.m[v]; ok {
		return ctr
	}
	if len(c.m) >= c.max {
		v = other
		if ctr, ok := c.m[v]; ok {
			return ctr
		}
	}
	ctr = c.vec.WithLabelValues(v)
	c.m[v] = ctr
	return ctr
}
