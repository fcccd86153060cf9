package console

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/iotdm/iotdm"
)

type overviewData struct {
	Things        countValue
	Connected     countValue
	Groups        countValue
	AlarmStates   []stateCount
	AlarmsFiring  []iotdm.MetricAlarm
	AlarmsErr     string
	Distributions []distribution
	Chart         chartSpec
	MetricChoices []metricChoice
	Ranges        []rangeChoice
	Range         string
	MetricsErr    string
	Events        []liveEvent
	EventsErr     string
	Seq           uint64
}

// countValue is one number of the overview, or why it is missing.
type countValue struct {
	N   int
	OK  bool
	Err string
}

type stateCount struct {
	State string
	N     int
}

// distribution is one field's values over the fleet, for a bar chart.
type distribution struct {
	Field   string
	Title   string
	Buckets []iotdm.Bucket
	Total   int
	Max     int
	Other   int // things in no bucket shown: other values or none
	Sampled int // >0: counted over the first Sampled things only
	Note    string
	Err     string
	// CanIndex offers to add the field to the index's custom fields.
	CanIndex bool
}

type metricChoice struct {
	Value    string // the metric as JSON, the select's value
	Label    string
	Selected bool
}

func (c *console) overview(w http.ResponseWriter, r *http.Request, sess *session) {
	ctx := r.Context()
	d := overviewData{}
	d.Range = rangeParam(r.URL.Query().Get("range"), "3h")
	d.Ranges = rangeChoices(d.Range)

	// Events first: the stream continues from the sequence read here, so
	// whatever the counts below miss arrives live.
	if evs, seq, err := c.recentEvents(ctx, 25); err != nil {
		_, d.EventsErr = c.describe("read recent events", err)
	} else {
		d.Events, d.Seq = evs, seq
	}
	if c.deps.Search == nil {
		d.Things.Err = "The fleet index is not available."
		d.Connected.Err = d.Things.Err
	} else {
		d.Things = c.count(ctx, "*")
		d.Connected = c.count(ctx, "connectivity.connected:true")
		for _, f := range c.opts.DistributionFields {
			d.Distributions = append(d.Distributions, c.distribution(ctx, f))
		}
	}
	if c.deps.Registry != nil {
		n, err := c.countGroups(ctx)
		if err != nil {
			_, d.Groups.Err = c.describe("count thing groups", err)
		} else {
			d.Groups = countValue{N: n, OK: true}
		}
	} else {
		d.Groups.Err = "The registry is not available."
	}
	if c.deps.Alarms != nil {
		states, firing, err := c.alarmStates(ctx)
		if err != nil {
			_, d.AlarmsErr = c.describe("describe alarms", err)
		}
		for _, s := range []string{iotdm.AlarmStateAlarm, iotdm.AlarmStateInsufficientData, iotdm.AlarmStateOK} {
			d.AlarmStates = append(d.AlarmStates, stateCount{State: s, N: states[s]})
		}
		d.AlarmsFiring = firing
	} else {
		d.AlarmsErr = "Alarms are not available."
	}

	// The connected-devices chart: the chosen metric, or the default.
	metric := c.opts.ConnectedMetric
	if v := r.URL.Query().Get("metric"); v != "" && len(v) < 2048 {
		var m iotdm.Metric
		if json.Unmarshal([]byte(v), &m) == nil && m.Namespace != "" && m.MetricName != "" {
			metric = m
		}
	}
	d.MetricChoices, d.MetricsErr = c.metricChoices(ctx, metric)
	d.Chart = c.metricChart("connected", metricLabel(metric), []seriesSpec{
		c.series(metric, "fleet metric (Average)", "Average", d.Range, 0),
	})
	if sameMetric(metric, c.opts.ConnectedMetric) {
		d.Chart.Live = "connected"
	}
	c.render(w, r, sess, http.StatusOK, "overview", "Fleet overview", "overview", d)
}

func (c *console) count(ctx context.Context, q string) countValue {
	n, err := c.countThings(ctx, q)
	if err != nil {
		_, msg := c.describe("count things", err)
		return countValue{Err: msg}
	}
	return countValue{N: n, OK: true}
}

// countThings counts the things matching q with the fleet index.
func (c *console) countThings(ctx context.Context, q string) (int, error) {
	if c.deps.Search == nil {
		return 0, unavailable("the fleet index")
	}
	out, err := c.deps.Search.GetStatistics(ctx, &iotdm.GetStatisticsInput{QueryString: q})
	if err != nil {
		return 0, err
	}
	return out.Statistics.Count, nil
}

// countGroups counts every thing group, static and dynamic.
func (c *console) countGroups(ctx context.Context) (int, error) {
	n, token := 0, ""
	for range 400 { // at most 100,000 groups
		out, err := c.deps.Registry.ListThingGroups(ctx, &iotdm.ListThingGroupsInput{NextToken: token, MaxResults: 250})
		if err != nil {
			return 0, err
		}
		n += len(out.ThingGroups)
		if token = out.NextToken; token == "" {
			break
		}
	}
	return n, nil
}

// alarmStates counts the alarms by state and returns those in ALARM.
func (c *console) alarmStates(ctx context.Context) (map[string]int, []iotdm.MetricAlarm, error) {
	alarms, err := c.allAlarms(ctx)
	states := map[string]int{iotdm.AlarmStateOK: 0, iotdm.AlarmStateAlarm: 0, iotdm.AlarmStateInsufficientData: 0}
	var firing []iotdm.MetricAlarm
	for _, a := range alarms {
		states[a.StateValue]++
		if a.StateValue == iotdm.AlarmStateAlarm && len(firing) < 20 {
			firing = append(firing, a)
		}
	}
	return states, firing, err
}

func (c *console) allAlarms(ctx context.Context) ([]iotdm.MetricAlarm, error) {
	if c.deps.Alarms == nil {
		return nil, unavailable("CloudWatch alarms")
	}
	var all []iotdm.MetricAlarm
	token := ""
	max := int32(100)
	for range 100 {
		out, err := c.deps.Alarms.DescribeAlarms(ctx, &iotdm.DescribeAlarmsInput{NextToken: token, MaxRecords: &max})
		if err != nil {
			return all, err
		}
		all = append(all, out.MetricAlarms...)
		if token = out.NextToken; token == "" {
			break
		}
	}
	return all, nil
}

// distribution counts the values of field over the fleet: with the index's
// terms aggregation when the field is indexed (a custom field), otherwise
// over a sample of the first things.
func (c *console) distribution(ctx context.Context, field string) distribution {
	d := distribution{Field: field, Title: fieldTitle(field)}
	out, err := c.deps.Search.GetBucketsAggregation(ctx, &iotdm.GetBucketsAggregationInput{
		QueryString:            "*",
		AggregationField:       field,
		BucketsAggregationType: &iotdm.BucketsAggregationType{TermsAggregation: &iotdm.TermsAggregation{MaxBuckets: 10}},
	})
	switch {
	case err == nil:
		d.Buckets, d.Total = out.Buckets, out.TotalCount
	case iotdm.IsCode(err, iotdm.ErrInvalidAggregation):
		d.Note = field + " is not a custom field of the fleet index, so these counts come from a sample."
		d.CanIndex = c.deps.Indexing != nil
		if err := c.sampleDistribution(ctx, &d); err != nil {
			_, d.Err = c.describe("sample "+field, err)
		}
	default:
		_, d.Err = c.describe("aggregate "+field, err)
		return d
	}
	in := 0
	for _, b := range d.Buckets {
		in += b.Count
		d.Max = max(d.Max, b.Count)
	}
	d.Other = max(0, d.Total-in)
	return d
}

// sampleSize is how many things a distribution counts when the index cannot
// aggregate the field.
const sampleSize = 1000

func (c *console) sampleDistribution(ctx context.Context, d *distribution) error {
	attr, ok := strings.CutPrefix(d.Field, "attributes.")
	if !ok {
		return nil
	}
	counts := map[string]int{}
	token, n := "", 0
	for n < sampleSize {
		out, err := c.deps.Search.SearchIndex(ctx, &iotdm.SearchIndexInput{QueryString: "*", NextToken: token, MaxResults: iotdm.MaxSearchResults})
		if err != nil {
			return err
		}
		for _, t := range out.Things {
			if v, ok := t.Attributes[attr]; ok {
				counts[v]++
			}
		}
		n += len(out.Things)
		if token = out.NextToken; token == "" {
			break
		}
	}
	d.Sampled, d.Total = n, n
	for v, k := range counts {
		d.Buckets = append(d.Buckets, iotdm.Bucket{KeyValue: v, Count: k})
	}
	sort.Slice(d.Buckets, func(i, j int) bool {
		a, b := d.Buckets[i], d.Buckets[j]
		return a.Count > b.Count || a.Count == b.Count && a.KeyValue < b.KeyValue
	})
	if len(d.Buckets) > 10 {
		d.Buckets = d.Buckets[:10]
	}
	return nil
}

func fieldTitle(field string) string {
	switch field {
	case "attributes.firmware":
		return "Firmware"
	case "attributes.location":
		return "Location"
	}
	name := field[strings.LastIndex(field, ".")+1:]
	if name == "" {
		return field
	}
	return strings.ToUpper(name[:1]) + name[1:]
}

// addCustomField adds a field to the fleet index's custom fields, so the
// overview can aggregate it (AWS §2.1: aggregations need managed or custom
// fields).
func (c *console) addCustomField(w http.ResponseWriter, r *http.Request, sess *session) {
	field := r.PostFormValue("field")
	back := c.path("")
	if c.deps.Indexing == nil {
		c.renderError(w, r, sess, http.StatusNotImplemented, "Not available", "Fleet indexing configuration is not available.")
		return
	}
	if !slices.Contains(c.opts.DistributionFields, field) {
		c.renderError(w, r, sess, http.StatusBadRequest, "Bad request", "The console only indexes its distribution fields.")
		return
	}
	ctx := r.Context()
	cur, err := c.deps.Indexing.GetIndexingConfiguration(ctx, &iotdm.GetIndexingConfigurationInput{})
	if err != nil {
		c.serviceError(w, r, sess, "read the indexing configuration", err)
		return
	}
	if cur.ThingIndexingConfiguration == nil {
		c.renderError(w, r, sess, http.StatusConflict, "Conflict", "Thing indexing is off.")
		return
	}
	tc := *cur.ThingIndexingConfiguration
	tc.ManagedFields = nil
	if !slices.ContainsFunc(tc.CustomFields, func(f iotdm.Field) bool { return f.Name == field }) {
		tc.CustomFields = append(slices.Clone(tc.CustomFields), iotdm.Field{Name: field, Type: iotdm.FieldTypeString})
	}
	if _, err := c.deps.Indexing.UpdateIndexingConfiguration(ctx, &iotdm.UpdateIndexingConfigurationInput{ThingIndexingConfiguration: &tc}); err != nil {
		_, msg := c.describe("update the indexing configuration", err)
		sess.addFlash("error", msg)
	} else {
		sess.addFlash("ok", field+" is now a custom field of the fleet index.")
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}
