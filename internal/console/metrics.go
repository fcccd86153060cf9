package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iotdm/iotdm"
)

// Time ranges the charts offer.
var chartRanges = []struct {
	Value string
	Label string
	D     time.Duration
}{
	{"1h", "1 hour", time.Hour},
	{"3h", "3 hours", 3 * time.Hour},
	{"12h", "12 hours", 12 * time.Hour},
	{"1d", "1 day", 24 * time.Hour},
	{"3d", "3 days", 3 * 24 * time.Hour},
	{"1w", "1 week", 7 * 24 * time.Hour},
}

type rangeChoice struct {
	Value    string
	Label    string
	Selected bool
}

func rangeParam(v, def string) string {
	for _, r := range chartRanges {
		if r.Value == v {
			return v
		}
	}
	return def
}

func rangeDuration(v string) time.Duration {
	for _, r := range chartRanges {
		if r.Value == v {
			return r.D
		}
	}
	return 3 * time.Hour
}

func rangeChoices(selected string) []rangeChoice {
	out := make([]rangeChoice, len(chartRanges))
	for i, r := range chartRanges {
		out[i] = rangeChoice{Value: r.Value, Label: r.Label, Selected: r.Value == selected}
	}
	return out
}

// chartSpec is what console.js needs to draw a chart: it is written into
// the figure's data-chart attribute as JSON.
type chartSpec struct {
	ID        string       `json:"id"`
	Title     string       `json:"title"`
	Series    []seriesSpec `json:"series"`
	Threshold *float64     `json:"threshold,omitempty"`
	// Live names a live count the page's event stream updates; its values
	// are drawn as an extra series ("live").
	Live string `json:"live,omitempty"`
	// HideTitle keeps the title for screen readers only, under a heading
	// that already says it.
	HideTitle bool `json:"-"`
}

type seriesSpec struct {
	Label string `json:"label"`
	Src   string `json:"src"` // URL of the series JSON (metricSeries)
}

func (c *console) metricChart(id, title string, series []seriesSpec) chartSpec {
	return chartSpec{ID: id, Title: title, Series: series}
}

// series returns the spec of one metric statistic over a range; period 0
// picks one that gives a few hundred points at most.
func (c *console) series(m iotdm.Metric, label, stat, rng string, period int) seriesSpec {
	v := url.Values{}
	v.Set("ns", m.Namespace)
	v.Set("name", m.MetricName)
	for _, d := range m.Dimensions {
		v.Add("dim", d.Name+"="+d.Value)
	}
	v.Set("stat", stat)
	v.Set("range", rng)
	if period > 0 {
		v.Set("period", strconv.Itoa(period))
	}
	return seriesSpec{Label: label, Src: c.path("api/metric") + "?" + v.Encode()}
}

func metricLabel(m iotdm.Metric) string {
	var b strings.Builder
	b.WriteString(m.MetricName)
	for i, d := range m.Dimensions {
		if i == 0 {
			b.WriteString(" (")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(d.Name + "=" + d.Value)
		if i == len(m.Dimensions)-1 {
			b.WriteString(")")
		}
	}
	return b.String()
}

func sameMetric(a, b iotdm.Metric) bool {
	return a.Namespace == b.Namespace && a.MetricName == b.MetricName && slices.Equal(a.Dimensions, b.Dimensions)
}

// metricChoices lists the metrics the overview chart can show: the fleet
// metrics' (namespace IoTFleetMetrics) and the current one.
func (c *console) metricChoices(ctx context.Context, current iotdm.Metric) ([]metricChoice, string) {
	var metrics []iotdm.Metric
	var errMsg string
	if c.deps.Metrics != nil {
		ms, err := c.deps.Metrics.ListMetrics(ctx, iotdm.MetricFilter{Namespace: "IoTFleetMetrics"}, nil, 200)
		if err != nil {
			_, errMsg = c.describe("list metrics", err)
		}
		metrics = ms
	} else {
		errMsg = "The metric store is not available, so no chart data can be shown."
	}
	for _, m := range []iotdm.Metric{c.opts.ConnectedMetric, current} {
		if !slices.ContainsFunc(metrics, func(x iotdm.Metric) bool { return sameMetric(x, m) }) {
			metrics = append([]iotdm.Metric{m}, metrics...)
		}
	}
	out := make([]metricChoice, 0, len(metrics))
	for _, m := range metrics {
		b, _ := json.Marshal(m)
		out = append(out, metricChoice{Value: string(b), Label: m.Namespace + " · " + metricLabel(m), Selected: sameMetric(m, current)})
	}
	return out, errMsg
}

// seriesData is the JSON of one chart series: parallel arrays of epoch
// seconds and values, oldest first.
type seriesData struct {
	Label  string    `json:"label"`
	Unit   string    `json:"unit,omitempty"`
	Stat   string    `json:"stat"`
	Period int       `json:"period"`
	Start  int64     `json:"start"`
	End    int64     `json:"end"`
	T      []int64   `json:"t"`
	V      []float64 `json:"v"`
	Error  string    `json:"error,omitempty"`
}

// maxPoints caps the buckets of one series.
const maxPoints = 1440

// metricSeries answers GET api/metric: one statistic of one metric over a
// time range, read from the metric store.
//
//	ns, name   the metric's namespace and name
//	dim        Name=Value, repeated: the dimensions (exact match)
//	stat       Average (default), Sum, Minimum, Maximum, SampleCount or pNN[.NN]
//	range      1h 3h 12h 1d 3d 1w (default 3h), ending now; or start and end in epoch seconds
//	period     seconds, a multiple of 60 (or 1, 5, 10, 30); default from the range
func (c *console) metricSeries(w http.ResponseWriter, r *http.Request, _ *session) {
	q := r.URL.Query()
	m := iotdm.Metric{Namespace: q.Get("ns"), MetricName: q.Get("name")}
	for _, d := range q["dim"] {
		k, v, ok := strings.Cut(d, "=")
		if !ok || k == "" {
			writeJSON(w, http.StatusBadRequest, seriesData{Error: "dim must be Name=Value"})
			return
		}
		m.Dimensions = append(m.Dimensions, iotdm.Dimension{Name: k, Value: v})
	}
	stat := q.Get("stat")
	if stat == "" {
		stat = "Average"
	}
	var pct float64
	switch stat {
	case "Average", "Sum", "Minimum", "Maximum", "SampleCount":
	default:
		p, err := strconv.ParseFloat(strings.TrimPrefix(stat, "p"), 64)
		if !strings.HasPrefix(stat, "p") || err != nil || p <= 0 || p > 100 {
			writeJSON(w, http.StatusBadRequest, seriesData{Error: "unknown statistic " + stat})
			return
		}
		pct = p
	}
	if m.Namespace == "" || m.MetricName == "" || len(m.Dimensions) > 30 {
		writeJSON(w, http.StatusBadRequest, seriesData{Error: "ns and name are required"})
		return
	}
	end := c.opts.Now()
	start := end.Add(-rangeDuration(rangeParam(q.Get("range"), "3h")))
	if s, err := strconv.ParseInt(q.Get("start"), 10, 64); err == nil {
		if e, err := strconv.ParseInt(q.Get("end"), 10, 64); err == nil && e > s {
			start, end = time.Unix(s, 0), time.Unix(e, 0)
		}
	}
	period, _ := strconv.Atoi(q.Get("period"))
	period = choosePeriod(end.Sub(start), period)
	out := seriesData{Label: metricLabel(m), Stat: stat, Period: period, Start: start.Unix(), End: end.Unix(), T: []int64{}, V: []float64{}}
	if c.deps.Metrics == nil {
		out.Error = "The metric store is not available."
		writeJSON(w, http.StatusOK, out)
		return
	}
	rg := iotdm.MetricRange{Metric: m, Start: start, End: end, Period: time.Duration(period) * time.Second}
	if pct > 0 {
		rg.Percentiles = []float64{pct}
	}
	buckets, err := c.deps.Metrics.MetricStatistics(r.Context(), rg)
	if err != nil {
		_, out.Error = c.describe("read metric statistics", err)
		writeJSON(w, http.StatusOK, out)
		return
	}
	for _, b := range buckets {
		v, ok := bucketStat(b, stat, pct)
		if !ok {
			continue
		}
		out.T = append(out.T, b.Timestamp.Unix())
		out.V = append(out.V, v)
		if out.Unit == "" {
			out.Unit = b.Unit
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// choosePeriod returns the period for a range: the one asked for, made
// valid and coarse enough for maxPoints, or one for about 180 points.
func choosePeriod(span time.Duration, asked int) int {
	secs := int(span / time.Second)
	if asked <= 0 {
		asked = secs / 180
	}
	switch {
	case asked <= 1:
		asked = 1
	case asked < 60:
		for _, p := range []int{5, 10, 30, 60} {
			if asked <= p {
				asked = p
				break
			}
		}
	default:
		asked = (asked + 59) / 60 * 60
	}
	for secs/asked > maxPoints {
		if asked < 60 {
			for _, p := range []int{5, 10, 30, 60} {
				if p > asked {
					asked = p
					break
				}
			}
		} else {
			asked *= 2
		}
	}
	return asked
}

func bucketStat(b iotdm.MetricBucket, stat string, pct float64) (float64, bool) {
	switch stat {
	case "Average":
		if b.SampleCount == 0 {
			return 0, false
		}
		return b.Sum / b.SampleCount, true
	case "Sum":
		return b.Sum, true
	case "Minimum":
		return b.Minimum, true
	case "Maximum":
		return b.Maximum, true
	case "SampleCount":
		return b.SampleCount, true
	}
	v, ok := b.Percentiles[pct]
	return v, ok
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, fmt.Sprintf("encode: %v", err), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
