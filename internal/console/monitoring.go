package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/iotdm/iotdm"
)

// fleetMetricNamespace is where fleet metrics emit (AWS §8).
const fleetMetricNamespace = "IoTFleetMetrics"

type monitoringData struct {
	Range      string
	Ranges     []rangeChoice
	Metrics    []fleetMetricView
	MetricsErr string
	Alarms     []iotdm.MetricAlarm
	AlarmsErr  string
}

type fleetMetricView struct {
	Metric *iotdm.DescribeFleetMetricOutput
	Chart  chartSpec
}

func (c *console) monitoring(w http.ResponseWriter, r *http.Request, sess *session) {
	ctx := r.Context()
	d := monitoringData{Range: rangeParam(r.URL.Query().Get("range"), "3h")}
	d.Ranges = rangeChoices(d.Range)
	if c.deps.FleetMetrics == nil {
		d.MetricsErr = "Fleet metrics are not available."
	} else {
		names, err := c.fleetMetricNames(ctx)
		if err != nil {
			_, d.MetricsErr = c.describe("list fleet metrics", err)
		}
		for i, name := range names {
			fm, err := c.deps.FleetMetrics.DescribeFleetMetric(ctx, &iotdm.DescribeFleetMetricInput{MetricName: name})
			if err != nil {
				continue
			}
			var series []seriesSpec
			for _, m := range c.fleetMetricSeries(ctx, fm) {
				series = append(series, c.series(m, dimensionsLabel(m), "Average", d.Range, 0))
			}
			ch := c.metricChart(fmt.Sprintf("fm%d", i), name, series)
			ch.HideTitle = true
			d.Metrics = append(d.Metrics, fleetMetricView{Metric: fm, Chart: ch})
		}
	}
	alarms, err := c.allAlarms(ctx)
	if err != nil {
		_, d.AlarmsErr = c.describe("describe alarms", err)
	}
	d.Alarms = alarms
	c.render(w, r, sess, http.StatusOK, "monitoring", "Monitoring", "monitoring", d)
}

func (c *console) fleetMetricNames(ctx context.Context) ([]string, error) {
	var names []string
	token := ""
	for range 20 {
		out, err := c.deps.FleetMetrics.ListFleetMetrics(ctx, &iotdm.ListFleetMetricsInput{NextToken: token, MaxResults: 250})
		if err != nil {
			return names, err
		}
		for _, m := range out.FleetMetrics {
			names = append(names, m.MetricName)
		}
		if token = out.NextToken; token == "" {
			break
		}
	}
	sort.Strings(names)
	return names, nil
}

// fleetMetricSeries are the CloudWatch metrics a fleet metric emits: one
// per aggregation value, with the dimension AggregationType (AWS §8). The
// metric store says which exist; before the first emission they are
// derived from the aggregation type.
func (c *console) fleetMetricSeries(ctx context.Context, fm *iotdm.DescribeFleetMetricOutput) []iotdm.Metric {
	if c.deps.Metrics != nil {
		ms, err := c.deps.Metrics.ListMetrics(ctx, iotdm.MetricFilter{Namespace: fleetMetricNamespace, MetricName: fm.MetricName}, nil, 20)
		if err == nil && len(ms) > 0 {
			return ms
		}
	}
	var values []string
	switch fm.AggregationType.Name {
	case iotdm.AggregationCardinality:
		values = []string{"cardinality"}
	case iotdm.AggregationPercentiles:
		for _, v := range fm.AggregationType.Values {
			values = append(values, "p"+v)
		}
	default:
		values = fm.AggregationType.Values
	}
	if len(values) == 0 {
		values = []string{"count"}
	}
	out := make([]iotdm.Metric, len(values))
	for i, v := range values {
		out[i] = iotdm.Metric{Namespace: fleetMetricNamespace, MetricName: fm.MetricName,
			Dimensions: []iotdm.Dimension{{Name: "AggregationType", Value: v}}}
	}
	return out
}

type alarmData struct {
	Alarm  iotdm.MetricAlarm
	Chart  *chartSpec
	Range  string
	Ranges []rangeChoice
	Note   string
}

func (c *console) alarm(w http.ResponseWriter, r *http.Request, sess *session) {
	name := r.PathValue("name")
	if c.deps.Alarms == nil {
		c.serviceError(w, r, sess, "describe alarm", unavailable("CloudWatch alarms"))
		return
	}
	out, err := c.deps.Alarms.DescribeAlarms(r.Context(), &iotdm.DescribeAlarmsInput{AlarmNames: []string{name}})
	if err != nil {
		c.serviceError(w, r, sess, "describe alarm", err)
		return
	}
	if len(out.MetricAlarms) == 0 {
		c.renderError(w, r, sess, http.StatusNotFound, "Not found", "There is no alarm named "+name+".")
		return
	}
	a := out.MetricAlarms[0]
	d := alarmData{Alarm: a, Range: rangeParam(r.URL.Query().Get("range"), "1d")}
	d.Ranges = rangeChoices(d.Range)
	if a.MetricName != "" {
		m := iotdm.Metric{Namespace: a.Namespace, MetricName: a.MetricName, Dimensions: a.Dimensions}
		stat := a.Statistic
		if stat == "" {
			stat = a.ExtendedStatistic
		}
		ch := c.metricChart("alarm", metricLabel(m), []seriesSpec{c.series(m, stat, stat, d.Range, int(a.Period))})
		ch.Threshold = a.Threshold
		d.Chart = &ch
	} else {
		d.Note = "This alarm evaluates metric math or a query; the console charts single-metric alarms only."
	}
	c.render(w, r, sess, http.StatusOK, "alarm", name, "monitoring", d)
}

// --- dashboards ---

type dashboardsData struct {
	Dashboards []iotdm.DashboardEntry
}

func (c *console) dashboards(w http.ResponseWriter, r *http.Request, sess *session) {
	if c.deps.Dashboards == nil {
		c.serviceError(w, r, sess, "list dashboards", unavailable("CloudWatch dashboards"))
		return
	}
	var all []iotdm.DashboardEntry
	token := ""
	for range 20 {
		out, err := c.deps.Dashboards.ListDashboards(r.Context(), &iotdm.ListDashboardsInput{NextToken: token})
		if err != nil {
			c.serviceError(w, r, sess, "list dashboards", err)
			return
		}
		all = append(all, out.DashboardEntries...)
		if token = out.NextToken; token == "" {
			break
		}
	}
	c.render(w, r, sess, http.StatusOK, "dashboards", "Dashboards", "monitoring", dashboardsData{Dashboards: all})
}

type dashboardData struct {
	Name    string
	Widgets []dashWidget
	Range   string
	Ranges  []rangeChoice
	Err     string
}

// dashWidget is one widget of a CloudWatch dashboard as the console draws
// it: metric widgets become charts, text widgets text, alarm widgets a
// list of alarm states; the rest say they are not supported.
type dashWidget struct {
	Type   string
	Title  string
	Width  int // grid columns of 24
	Height int
	Chart  *chartSpec
	Text   string
	Alarms []iotdm.MetricAlarm
	Notes  []string
}

func (c *console) dashboard(w http.ResponseWriter, r *http.Request, sess *session) {
	name := r.PathValue("name")
	if c.deps.Dashboards == nil {
		c.serviceError(w, r, sess, "get dashboard", unavailable("CloudWatch dashboards"))
		return
	}
	ctx := r.Context()
	out, err := c.deps.Dashboards.GetDashboard(ctx, &iotdm.GetDashboardInput{DashboardName: name})
	if err != nil {
		c.serviceError(w, r, sess, "get dashboard", err)
		return
	}
	d := dashboardData{Name: name, Range: rangeParam(r.URL.Query().Get("range"), "3h")}
	d.Ranges = rangeChoices(d.Range)
	var alarms []iotdm.MetricAlarm
	if c.deps.Alarms != nil {
		alarms, _ = c.allAlarms(ctx)
	}
	d.Widgets, err = c.dashboardWidgets(out.DashboardBody, d.Range, alarms)
	if err != nil {
		d.Err = "The dashboard body could not be read: " + err.Error()
	}
	c.render(w, r, sess, http.StatusOK, "dashboard", name, "monitoring", d)
}

// dashboardBody is the part of CloudWatch's dashboard body structure the
// console reads.
type dashboardBody struct {
	Widgets []struct {
		Type       string         `json:"type"`
		X          int            `json:"x"`
		Y          int            `json:"y"`
		Width      int            `json:"width"`
		Height     int            `json:"height"`
		Properties map[string]any `json:"properties"`
	} `json:"widgets"`
}

func (c *console) dashboardWidgets(body, rng string, alarms []iotdm.MetricAlarm) ([]dashWidget, error) {
	var b dashboardBody
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		return nil, err
	}
	sort.SliceStable(b.Widgets, func(i, j int) bool {
		wi, wj := b.Widgets[i], b.Widgets[j]
		return wi.Y < wj.Y || wi.Y == wj.Y && wi.X < wj.X
	})
	var out []dashWidget
	for i, wd := range b.Widgets {
		props := wd.Properties
		dw := dashWidget{Type: wd.Type, Width: clamp(wd.Width, 1, 24, 6), Height: clamp(wd.Height, 1, 1000, 6)}
		dw.Title, _ = props["title"].(string)
		switch wd.Type {
		case "metric":
			series, threshold, notes := c.widgetSeries(props, rng)
			dw.Notes = notes
			if dw.Title == "" && len(series) > 0 {
				dw.Title = series[0].Label
			}
			ch := c.metricChart(fmt.Sprintf("w%d", i), dw.Title, series)
			ch.Threshold, ch.HideTitle = threshold, true
			if len(series) > 0 {
				dw.Chart = &ch
			}
		case "text":
			dw.Text, _ = props["markdown"].(string)
		case "alarm":
			arns, _ := props["alarms"].([]any)
			for _, a := range arns {
				arn, _ := a.(string)
				for _, al := range alarms {
					if al.AlarmArn == arn || al.AlarmName == arn {
						dw.Alarms = append(dw.Alarms, al)
					}
				}
			}
		default:
			dw.Notes = append(dw.Notes, "The console does not draw "+wd.Type+" widgets.")
		}
		out = append(out, dw)
	}
	return out, nil
}

func clamp(v, lo, hi, def int) int {
	if v == 0 {
		return def
	}
	return min(max(v, lo), hi)
}

// widgetSeries reads a metric widget's metrics: arrays of Namespace,
// MetricName, then dimension name and value pairs, with an optional
// rendering object last; "." repeats the value at the same place in the
// previous metric (CloudWatch's dashboard body structure).
func (c *console) widgetSeries(props map[string]any, rng string) ([]seriesSpec, *float64, []string) {
	stat, _ := props["stat"].(string)
	if stat == "" {
		stat = "Average"
	}
	period := 300
	if p, ok := props["period"].(float64); ok && p > 0 {
		period = int(p)
	}
	var notes []string
	var series []seriesSpec
	list, _ := props["metrics"].([]any)
	var prev []string
	for _, raw := range list {
		entry, _ := raw.([]any)
		var parts []string
		opts := map[string]any{}
		for _, e := range entry {
			switch v := e.(type) {
			case string:
				parts = append(parts, v)
			case map[string]any:
				opts = v
			}
		}
		if expr, ok := opts["expression"].(string); ok && len(parts) == 0 {
			notes = append(notes, "Metric math is not drawn: "+expr)
			continue
		}
		for k := range parts {
			if parts[k] == "." && k < len(prev) {
				parts[k] = prev[k]
			}
		}
		prev = parts
		if len(parts) < 2 {
			continue
		}
		if v, ok := opts["visible"].(bool); ok && !v {
			continue
		}
		m := iotdm.Metric{Namespace: parts[0], MetricName: parts[1]}
		for k := 2; k+1 < len(parts); k += 2 {
			m.Dimensions = append(m.Dimensions, iotdm.Dimension{Name: parts[k], Value: parts[k+1]})
		}
		s, p := stat, period
		if v, ok := opts["stat"].(string); ok && v != "" {
			s = v
		}
		if v, ok := opts["period"].(float64); ok && v > 0 {
			p = int(v)
		}
		label := m.MetricName
		if v, ok := opts["label"].(string); ok && v != "" {
			label = v
		}
		series = append(series, c.series(m, label+" ("+s+")", s, rng, p))
	}
	var threshold *float64
	if ann, ok := props["annotations"].(map[string]any); ok {
		if hs, ok := ann["horizontal"].([]any); ok && len(hs) > 0 {
			if h, ok := hs[0].(map[string]any); ok {
				if v, ok := h["value"].(float64); ok {
					threshold = &v
				}
			}
		}
	}
	if len(series) == 0 && len(notes) == 0 {
		notes = append(notes, "This widget names no metric the console can draw.")
	}
	if view, _ := props["view"].(string); view != "" && view != "timeSeries" {
		notes = append(notes, "Drawn as a time series (the widget asks for "+strings.ToLower(view)+").")
	}
	return series, threshold, notes
}

// dimensionsLabel names a metric by its dimensions (Name=Value, ...), or
// by its name when it has none.
func dimensionsLabel(m iotdm.Metric) string {
	if len(m.Dimensions) == 0 {
		return m.MetricName
	}
	parts := make([]string, len(m.Dimensions))
	for i, d := range m.Dimensions {
		parts[i] = d.Name + "=" + d.Value
	}
	return strings.Join(parts, ", ")
}
