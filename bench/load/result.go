package load

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// Result is what one run measured. Latencies are those of the successful
// (2xx) requests, every one of them, sorted ascending.
type Result struct {
	Op        string
	Clients   int
	Elapsed   time.Duration
	OK        int64
	Non2xx    map[int]int64 // status code -> count
	Errors    int64         // requests that got no usable answer (see Caller.Do)
	Samples   []string      // a few failure descriptions, for diagnosis
	Latencies []time.Duration
}

func newResult(op string, clients int) *Result {
	return &Result{Op: op, Clients: clients, Non2xx: map[int]int64{}}
}

// record adds one request's outcome; a Result is owned by one client loop.
func (r *Result) record(resp Response, err error) {
	switch {
	case err != nil:
		r.Errors++
		r.sample(err.Error())
	case resp.Status >= 200 && resp.Status < 300:
		r.OK++
		r.Latencies = append(r.Latencies, resp.Latency)
	default:
		r.Non2xx[resp.Status]++
		r.sample(fmt.Sprintf("HTTP %d: %s", resp.Status, strings.TrimSpace(string(resp.Body))))
	}
}

func (r *Result) sample(s string) {
	if len(r.Samples) < maxSamples {
		r.Samples = append(r.Samples, s)
	}
}

// mergeResults combines the per-client results of one run.
func mergeResults(op string, parts []*Result) *Result {
	out := newResult(op, len(parts))
	n := 0
	for _, p := range parts {
		n += len(p.Latencies)
	}
	out.Latencies = make([]time.Duration, 0, n)
	for _, p := range parts {
		out.OK += p.OK
		out.Errors += p.Errors
		for code, k := range p.Non2xx {
			out.Non2xx[code] += k
		}
		for _, s := range p.Samples {
			out.sample(s)
		}
		out.Latencies = append(out.Latencies, p.Latencies...)
	}
	slices.Sort(out.Latencies)
	return out
}

// Total is the number of requests sent.
func (r *Result) Total() int64 { return r.OK + r.Failed() }

// Failed is the number of requests that were not answered with a 2xx.
func (r *Result) Failed() int64 {
	n := r.Errors
	for _, k := range r.Non2xx {
		n += k
	}
	return n
}

// FailRate is Failed / Total (0 for an empty run).
func (r *Result) FailRate() float64 {
	if r.Total() == 0 {
		return 0
	}
	return float64(r.Failed()) / float64(r.Total())
}

// OpsPerSec is the rate of successful requests over the run's wall time.
func (r *Result) OpsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// Percentile returns the exact q-quantile (0 < q <= 1, nearest rank) of the
// successful requests' latencies, or 0 when there were none.
func (r *Result) Percentile(q float64) time.Duration {
	n := len(r.Latencies)
	if n == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(n))) - 1
	return r.Latencies[min(max(i, 0), n-1)]
}

// FailureSummary describes the failures, e.g. "404×3, 12 errors".
func (r *Result) FailureSummary() string {
	var parts []string
	for _, code := range slices.Sorted(maps.Keys(r.Non2xx)) {
		parts = append(parts, fmt.Sprintf("HTTP %d ×%d", code, r.Non2xx[code]))
	}
	if r.Errors > 0 {
		parts = append(parts, fmt.Sprintf("%d errors without a usable answer", r.Errors))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// String is a one-line summary of the run.
func (r *Result) String() string {
	return fmt.Sprintf("%-21s %9.1f ops/s  p50 %-9s p99 %-9s ok %d  failed %d (%s)",
		r.Op, r.OpsPerSec(), FormatLatency(r.Percentile(0.50)), FormatLatency(r.Percentile(0.99)),
		r.OK, r.Failed(), r.FailureSummary())
}

// FormatLatency prints d with three significant digits in a fitting unit.
func FormatLatency(d time.Duration) string {
	switch {
	case d >= time.Second:
		return sig3(d.Seconds()) + "s"
	case d >= time.Millisecond:
		return sig3(float64(d)/float64(time.Millisecond)) + "ms"
	default:
		return sig3(float64(d)/float64(time.Microsecond)) + "µs"
	}
}

// sig3 formats v (>= 0) with about three significant digits, never in
// exponent form.
func sig3(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}
