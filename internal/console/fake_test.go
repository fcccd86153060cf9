package console

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/iotdm/iotdm"
	"github.com/iotdm/iotdm/internal/shadow"
)

// The fakes below stand in for iotdm's services in the console's tests: one
// in-memory world (a fleet shaped like the seed stack's, optionally grown
// to any size) behind every service interface the console uses, writing
// changes to a fake change feed as the real services write to the store.
// Methods the console never calls are left to the embedded nil interface.

const (
	testRegion  = "us-east-1"
	testAccount = "123456789012"
	testKeyID   = "AKIATESTCONSOLE00001"
	testSecret  = "test-secret-0123456789abcdefghijklmnopq"
)

type fthing struct {
	name      string
	typ       string
	attrs     map[string]string
	connected bool
	connTime  int64
	version   int64
	groups    []string
}

type fpolicy struct {
	versions map[string]string
	created  map[string]time.Time
	def      string
	last     int
	targets  []string
}

type world struct {
	mu     sync.Mutex
	now    time.Time
	things []*fthing // sorted by name
	byName map[string]*fthing
	groups map[string]*iotdm.ThingGroup
	certs  map[string]*iotdm.CertificateDescription
	cas    map[string]*iotdm.CACertificateDescription
	// thingCerts maps a thing to its attached principals.
	thingCerts   map[string][]string
	policies     map[string]*fpolicy
	alarms       []iotdm.MetricAlarm
	dashboards   map[string]string
	fleetMetrics map[string]*iotdm.DescribeFleetMetricOutput
	shadows      map[string]*shadow.State
	points       map[string][]iotdm.MetricPoint
	metrics      map[string]iotdm.Metric
	customFields map[string]bool
	jobs         map[string]*fjob
	// canceled records the CancelJob calls.
	canceled []iotdm.CancelJobInput
	store    *fakeStore
	// searches counts SearchIndex calls, for the benchmark's sanity.
	searches int
}

func metricKey(m iotdm.Metric) string {
	b, _ := json.Marshal(m)
	return string(b)
}

// testNow is the fixed clock of the handler tests.
var testNow = time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)

// newWorld returns the seed stack's fleet plus extra generated things, with
// an hour of metric history before now.
func newWorld(extra int, now time.Time) *world {
	w := &world{
		now: now, byName: map[string]*fthing{}, groups: map[string]*iotdm.ThingGroup{},
		certs: map[string]*iotdm.CertificateDescription{}, cas: map[string]*iotdm.CACertificateDescription{},
		thingCerts: map[string][]string{}, policies: map[string]*fpolicy{}, dashboards: map[string]string{},
		fleetMetrics: map[string]*iotdm.DescribeFleetMetricOutput{}, shadows: map[string]*shadow.State{},
		points: map[string][]iotdm.MetricPoint{}, metrics: map[string]iotdm.Metric{}, customFields: map[string]bool{},
		jobs: map[string]*fjob{}, store: newFakeStore(now),
	}
	seed := []struct{ name, loc, fw, typ string }{
		{"temp-sensor-01", "Building-A", "1.0.0", "temperature"},
		{"temp-sensor-02", "Building-B", "1.1.0", "temperature"},
		{"temp-sensor-03", "Building-C", "1.2.0", "temperature"},
		{"temp-sensor-04", "Building-D", "1.2.0", "temperature"},
		{"humidity-sensor-01", "Building-A", "1.1.0", "humidity"},
	}
	for i, s := range seed {
		w.addThing(&fthing{name: s.name, attrs: map[string]string{"location": s.loc, "firmware": s.fw, "sensorType": s.typ},
			connected: i < 3, connTime: now.Add(-time.Hour).UnixMilli(), version: 1})
	}
	fws := []string{"1.0.0", "1.1.0", "1.2.0", "1.2.0", "1.3.0-beta"}
	locs := []string{"Building-A", "Building-B", "Building-C", "Building-D"}
	for i := range extra {
		w.addThing(&fthing{name: fmt.Sprintf("device-%07d", i), typ: "SensorDevice-IoTDeviceManagementStack",
			attrs:     map[string]string{"firmware": fws[i%len(fws)], "location": locs[i%len(locs)], "serial": strconv.Itoa(100000 + i)},
			connected: i%3 == 0, connTime: now.Add(-time.Duration(i%600) * time.Second).UnixMilli(), version: 1})
	}
	sort.Slice(w.things, func(i, j int) bool { return w.things[i].name < w.things[j].name })

	stack := "IoTDeviceManagementStack"
	w.addGroup("ProductionSensors-"+stack, "", "", "Static group for production sensors", map[string]string{"environment": "development", "deviceCategory": "sensor"})
	w.addGroup("ProductionSensors-EU", "ProductionSensors-"+stack, "", "European production sensors", nil)
	w.addGroup("FirmwareLegacy-"+stack, "", "attributes.firmware:1.0.0", "Devices on legacy firmware 1.0.0", nil)
	w.addGroup("FirmwareLatest-"+stack, "", "attributes.firmware:1.2.0", "Devices on the latest firmware 1.2.0", nil)
	for _, b := range []string{"A", "B", "C", "D"} {
		w.addGroup("LocationBuilding"+b+"-"+stack, "", "attributes.location:Building-"+b, "Devices located in Building-"+b, nil)
	}
	w.member("ProductionSensors-"+stack, "temp-sensor-01")
	w.member("ProductionSensors-EU", "temp-sensor-02")

	pol := "device-policy-" + stack
	doc1 := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"}]}`
	doc2 := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"},{"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"arn:aws:iot:us-east-1:123456789012:topic/devices/${iot:Connection.Thing.ThingName}/*"}]}`
	w.policies[pol] = &fpolicy{versions: map[string]string{"1": doc1, "2": doc2}, created: map[string]time.Time{"1": now.Add(-48 * time.Hour), "2": now.Add(-time.Hour)}, def: "2", last: 2}
	for i, t := range []string{"temp-sensor-01", "temp-sensor-02"} {
		id := fmt.Sprintf("%064x", i+0xabc)
		arn := "arn:aws:iot:" + testRegion + ":" + testAccount + ":cert/" + id
		w.certs[id] = &iotdm.CertificateDescription{CertificateARN: arn, CertificateID: id, Status: iotdm.CertificateActive,
			CertificateMode: iotdm.CertificateModeDefault, CreationDate: iotdm.Timestamp{Time: now.Add(-24 * time.Hour)},
			Validity:       iotdm.CertificateValidity{NotBefore: iotdm.Timestamp{Time: now.Add(-24 * time.Hour)}, NotAfter: iotdm.Timestamp{Time: now.Add(365 * 24 * time.Hour)}},
			CertificatePem: "-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----\n"}
		w.thingCerts[t] = append(w.thingCerts[t], arn)
		w.policies[pol].targets = append(w.policies[pol].targets, arn)
	}
	w.cas["ca0000000000000000000000000000000000000000000000000000000000001"] = &iotdm.CACertificateDescription{
		CertificateARN: "arn:aws:iot:" + testRegion + ":" + testAccount + ":cacert/ca01", CertificateID: "ca0000000000000000000000000000000000000000000000000000000000001",
		Status: iotdm.CACertificateActive, AutoRegistrationStatus: iotdm.AutoRegistrationDisable, CreationDate: iotdm.Timestamp{Time: now.Add(-72 * time.Hour)}}

	connected := iotdm.Metric{Namespace: "IoTFleetMetrics", MetricName: "ConnectedDevices-" + stack, Dimensions: []iotdm.Dimension{{Name: "AggregationType", Value: "count"}}}
	latest := iotdm.Metric{Namespace: "IoTFleetMetrics", MetricName: "LatestFirmwareDevices-" + stack, Dimensions: []iotdm.Dimension{{Name: "AggregationType", Value: "count"}}}
	for k := 36; k >= 1; k-- {
		t := now.Add(-time.Duration(k) * 5 * time.Minute)
		c := float64(w.countLocked(func(t *fthing) bool { return t.connected }) - k%4)
		l := float64(w.countLocked(func(t *fthing) bool { return t.attrs["firmware"] == "1.2.0" }))
		w.put(connected, t, c)
		w.put(latest, t, l)
	}
	for _, m := range []struct{ name, q string }{{"ConnectedDevices-" + stack, "connectivity.connected:true"}, {"LatestFirmwareDevices-" + stack, "attributes.firmware:1.2.0"}} {
		w.fleetMetrics[m.name] = &iotdm.DescribeFleetMetricOutput{MetricName: m.name, QueryString: m.q,
			AggregationType: iotdm.AggregationType{Name: iotdm.AggregationStatistics, Values: []string{"count"}},
			Period:          300, AggregationField: "registry.version", QueryVersion: iotdm.QueryVersion, IndexName: iotdm.IndexThings, Unit: "Count", Version: 1}
	}
	threshold := 10.0
	w.alarms = []iotdm.MetricAlarm{{AlarmName: "DisconnectedDevices-" + stack, AlarmArn: "arn:aws:cloudwatch:us-east-1:123456789012:alarm:DisconnectedDevices-" + stack,
		AlarmDescription: "Fewer than 10 devices connected for two consecutive periods", StateValue: iotdm.AlarmStateAlarm,
		StateReason: "Threshold Crossed: 2 datapoints were less than the threshold (10.0).", StateTransitionedTimestamp: iotdm.Timestamp{Time: now.Add(-30 * time.Minute)},
		Namespace: "IoTFleetMetrics", MetricName: connected.MetricName, Dimensions: connected.Dimensions, Statistic: "Average", Period: 300,
		EvaluationPeriods: 2, Threshold: &threshold, ComparisonOperator: "LessThanThreshold", TreatMissingData: "breaching", ActionsEnabled: true},
		{AlarmName: "HighLatency", AlarmArn: "arn:aws:cloudwatch:us-east-1:123456789012:alarm:HighLatency", StateValue: iotdm.AlarmStateOK,
			StateReason: "Threshold not crossed", Namespace: "Custom", MetricName: "Latency", Statistic: "Maximum", Period: 60, EvaluationPeriods: 1,
			Threshold: &threshold, ComparisonOperator: "GreaterThanThreshold"}}
	w.dashboards["IoTFleet-"+stack] = `{"widgets":[
 {"type":"metric","x":0,"y":0,"width":12,"height":6,"properties":{"title":"Connected Devices","view":"timeSeries","region":"us-east-1","period":300,"stat":"Average","metrics":[["IoTFleetMetrics","ConnectedDevices-IoTDeviceManagementStack","AggregationType","count"]]}},
 {"type":"metric","x":12,"y":0,"width":12,"height":6,"properties":{"title":"Devices on Latest Firmware","view":"timeSeries","region":"us-east-1","period":300,"stat":"Average","metrics":[["IoTFleetMetrics","LatestFirmwareDevices-IoTDeviceManagementStack","AggregationType","count"]]}},
 {"type":"text","x":0,"y":6,"width":24,"height":2,"properties":{"markdown":"Fleet health of the sensor fleet."}}
]}`
	w.addJobs()
	w.shadows["temp-sensor-01/"], _ = shadowState(nil, `{"state":{"desired":{"interval":60},"reported":{"interval":60,"temperature":21.5,"firmware":"1.0.0"}}}`, now)
	return w
}

func shadowState(cur *shadow.State, req string, now time.Time) (*shadow.State, error) {
	res, err := shadow.Update(cur, []byte(req), now)
	if err != nil {
		return nil, err
	}
	return res.State, nil
}

func (w *world) addThing(t *fthing) {
	w.things = append(w.things, t)
	w.byName[t.name] = t
}

func (w *world) addGroup(name, parent, query, desc string, attrs map[string]string) {
	g := &iotdm.ThingGroup{ThingGroupName: name, ThingGroupID: "id-" + name, ThingGroupARN: "arn:aws:iot:us-east-1:123456789012:thinggroup/" + name,
		Version: 1, QueryString: query, ThingGroupMetadata: iotdm.ThingGroupMetadata{CreationDate: iotdm.Timestamp{Time: w.now.Add(-time.Hour)}},
		ThingGroupProperties: iotdm.ThingGroupProperties{ThingGroupDescription: desc}}
	if attrs != nil {
		g.ThingGroupProperties.AttributePayload = &iotdm.AttributePayload{Attributes: attrs}
	}
	if query != "" {
		g.IndexName, g.QueryVersion, g.Status = iotdm.IndexThings, iotdm.QueryVersion, iotdm.DynamicGroupActive
	}
	if parent != "" {
		g.ThingGroupMetadata.ParentGroupName = parent
		g.ThingGroupMetadata.RootToParentThingGroups = []iotdm.GroupNameAndArn{{GroupName: parent}}
	}
	w.groups[name] = g
}

func (w *world) member(group, thing string) {
	t := w.byName[thing]
	t.groups = append(t.groups, group)
}

func (w *world) put(m iotdm.Metric, t time.Time, v float64) {
	k := metricKey(m)
	w.metrics[k] = m
	w.points[k] = append(w.points[k], iotdm.MetricPoint{Metric: m, Timestamp: t, Value: &v, Unit: "Count"})
}

func (w *world) countLocked(f func(*fthing) bool) int {
	n := 0
	for _, t := range w.things {
		if f(t) {
			n++
		}
	}
	return n
}

// setConnected connects or disconnects a thing, as the broker records it.
func (w *world) setConnected(name string, connected bool) {
	w.mu.Lock()
	t := w.byName[name]
	t.connected, t.connTime = connected, w.now.UnixMilli()
	st := iotdm.ConnectivityState{Connected: connected, Timestamp: t.connTime}
	if !connected {
		st.DisconnectReason = iotdm.DisconnectClientInitiated
	}
	w.mu.Unlock()
	b, _ := json.Marshal(st)
	w.store.append(iotdm.OpPut, iotdm.KindConnectivity, name, b)
}

// --- fleet query subset ---

type term struct {
	field, value string
	not          bool
}

// parseQuery understands the subset of the fleet query language the tests
// use: "*" and field:value terms joined by AND (or space), each optionally
// negated with NOT; anything else is an InvalidQueryException with the
// position, as the real parser reports it.
func parseQuery(q string) ([]term, error) {
	var terms []term
	not := false
	pos := 0
	for _, tok := range strings.Fields(q) {
		at := strings.Index(q[pos:], tok) + pos
		pos = at + len(tok)
		switch {
		case tok == "AND":
			continue
		case tok == "NOT":
			not = true
			continue
		case tok == "*":
			terms = append(terms, term{field: "*", not: not})
		default:
			f, v, ok := strings.Cut(tok, ":")
			if !ok || f == "" {
				return nil, iotdm.Errorf(iotdm.ErrInvalidQuery, "Unable to parse query at position %d: expected a field and a value", at)
			}
			if v == "" {
				return nil, iotdm.Errorf(iotdm.ErrInvalidQuery, "Unable to parse query at position %d: expected a value after ':'", at+len(f)+1)
			}
			if strings.Count(v, `"`)%2 != 0 {
				return nil, iotdm.Errorf(iotdm.ErrInvalidQuery, "Unable to parse query at position %d: unterminated phrase", at+len(f)+1)
			}
			terms = append(terms, term{field: f, value: strings.Trim(v, `"`), not: not})
		}
		not = false
	}
	if len(terms) == 0 {
		return nil, iotdm.Errorf(iotdm.ErrInvalidQuery, "Unable to parse query at position %d: expected a query", len(q))
	}
	return terms, nil
}

func matchTerm(t *fthing, tm term) bool {
	var ok bool
	switch {
	case tm.field == "*":
		ok = true
	case tm.field == "thingName":
		if p, found := strings.CutSuffix(tm.value, "*"); found {
			ok = strings.HasPrefix(t.name, p)
		} else {
			ok = t.name == tm.value
		}
	case tm.field == "thingTypeName":
		ok = t.typ == tm.value
	case tm.field == "connectivity.connected":
		ok = strconv.FormatBool(t.connected) == tm.value
	case tm.field == "thingGroupNames":
		ok = slices.Contains(t.groups, tm.value)
	case strings.HasPrefix(tm.field, "attributes."):
		v, has := t.attrs[strings.TrimPrefix(tm.field, "attributes.")]
		ok = has && (tm.value == "*" || v == tm.value)
	}
	return ok != tm.not
}

func matchAll(t *fthing, terms []term) bool {
	for _, tm := range terms {
		if !matchTerm(t, tm) {
			return false
		}
	}
	return true
}

// --- Search ---

type fakeSearch struct {
	iotdm.Search
	w *world
}

func (s fakeSearch) SearchIndex(_ context.Context, in *iotdm.SearchIndexInput) (*iotdm.SearchIndexOutput, error) {
	terms, err := parseQuery(in.QueryString)
	if err != nil {
		return nil, err
	}
	size := in.MaxResults
	if size == 0 {
		size = iotdm.DefaultSearchResults
	}
	start := 0
	if in.NextToken != "" {
		if start, err = strconv.Atoi(in.NextToken); err != nil {
			return nil, iotdm.Errorf(iotdm.ErrInvalidRequest, "bad token")
		}
	}
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	s.w.searches++
	out := &iotdm.SearchIndexOutput{Things: []iotdm.ThingDocument{}}
	for i := start; i < len(s.w.things); i++ {
		t := s.w.things[i]
		if !matchAll(t, terms) {
			continue
		}
		if len(out.Things) == size {
			out.NextToken = strconv.Itoa(i)
			break
		}
		ts := t.connTime
		out.Things = append(out.Things, iotdm.ThingDocument{ThingName: t.name, ThingID: "id-" + t.name, ThingTypeName: t.typ,
			ThingGroupNames: t.groups, Attributes: t.attrs, Connectivity: &iotdm.ThingConnectivity{Connected: t.connected, Timestamp: &ts}})
	}
	return out, nil
}

func (s fakeSearch) GetStatistics(_ context.Context, in *iotdm.GetStatisticsInput) (*iotdm.GetStatisticsOutput, error) {
	terms, err := parseQuery(in.QueryString)
	if err != nil {
		return nil, err
	}
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	n := len(s.w.things)
	if len(terms) != 1 || terms[0].field != "*" {
		n = s.w.countLocked(func(t *fthing) bool { return matchAll(t, terms) })
	}
	return &iotdm.GetStatisticsOutput{Statistics: iotdm.Statistics{Count: n}}, nil
}

func (s fakeSearch) GetBucketsAggregation(_ context.Context, in *iotdm.GetBucketsAggregationInput) (*iotdm.GetBucketsAggregationOutput, error) {
	terms, err := parseQuery(in.QueryString)
	if err != nil {
		return nil, err
	}
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	if !s.w.customFields[in.AggregationField] {
		return nil, iotdm.Errorf(iotdm.ErrInvalidAggregation, "Aggregation field %s is not a managed or custom field of AWS_Things", in.AggregationField)
	}
	attr := strings.TrimPrefix(in.AggregationField, "attributes.")
	counts := map[string]int{}
	total := 0
	for _, t := range s.w.things {
		if !matchAll(t, terms) {
			continue
		}
		total++
		if v, ok := t.attrs[attr]; ok {
			counts[v]++
		}
	}
	out := &iotdm.GetBucketsAggregationOutput{TotalCount: total}
	for v, n := range counts {
		out.Buckets = append(out.Buckets, iotdm.Bucket{KeyValue: v, Count: n})
	}
	sort.Slice(out.Buckets, func(i, j int) bool {
		return out.Buckets[i].Count > out.Buckets[j].Count || out.Buckets[i].Count == out.Buckets[j].Count && out.Buckets[i].KeyValue < out.Buckets[j].KeyValue
	})
	return out, nil
}

// --- Indexing ---

type fakeIndexing struct {
	iotdm.Indexing
	w *world
}

func (x fakeIndexing) GetIndexingConfiguration(context.Context, *iotdm.GetIndexingConfigurationInput) (*iotdm.GetIndexingConfigurationOutput, error) {
	c := iotdm.DefaultIndexingConfiguration()
	x.w.mu.Lock()
	defer x.w.mu.Unlock()
	for f := range x.w.customFields {
		c.ThingIndexingConfiguration.CustomFields = append(c.ThingIndexingConfiguration.CustomFields, iotdm.Field{Name: f, Type: iotdm.FieldTypeString})
	}
	return &iotdm.GetIndexingConfigurationOutput{ThingIndexingConfiguration: &c.ThingIndexingConfiguration}, nil
}

func (x fakeIndexing) UpdateIndexingConfiguration(_ context.Context, in *iotdm.UpdateIndexingConfigurationInput) (*iotdm.Empty, error) {
	x.w.mu.Lock()
	defer x.w.mu.Unlock()
	for _, f := range in.ThingIndexingConfiguration.CustomFields {
		x.w.customFields[f.Name] = true
	}
	return &iotdm.Empty{}, nil
}

// --- Registry ---

type fakeRegistry struct {
	iotdm.Registry
	w *world
}

func (r fakeRegistry) DescribeThing(_ context.Context, in *iotdm.DescribeThingInput) (*iotdm.DescribeThingOutput, error) {
	r.w.mu.Lock()
	defer r.w.mu.Unlock()
	t := r.w.byName[in.ThingName]
	if t == nil {
		return nil, iotdm.Errorf(iotdm.ErrResourceNotFound, "Thing %s cannot be found.", in.ThingName)
	}
	return &iotdm.DescribeThingOutput{ThingName: t.name, ThingID: "id-" + t.name, ThingARN: "arn:aws:iot:us-east-1:123456789012:thing/" + t.name,
		ThingTypeName: t.typ, Attributes: t.attrs, Version: t.version, DefaultClientID: t.name}, nil
}

func (r fakeRegistry) ListThingGroups(_ context.Context, in *iotdm.ListThingGroupsInput) (*iotdm.ListThingGroupsOutput, error) {
	r.w.mu.Lock()
	defer r.w.mu.Unlock()
	out := &iotdm.ListThingGroupsOutput{ThingGroups: []iotdm.GroupNameAndArn{}}
	for _, g := range r.w.groups {
		if in.ParentGroup != "" && g.ThingGroupMetadata.ParentGroupName != in.ParentGroup {
			continue
		}
		out.ThingGroups = append(out.ThingGroups, iotdm.GroupNameAndArn{GroupName: g.ThingGroupName, GroupARN: g.ThingGroupARN})
	}
	sort.Slice(out.ThingGroups, func(i, j int) bool { return out.ThingGroups[i].GroupName < out.ThingGroups[j].GroupName })
	return out, nil
}

func (r fakeRegistry) DescribeThingGroup(_ context.Context, in *iotdm.DescribeThingGroupInput) (*iotdm.DescribeThingGroupOutput, error) {
	r.w.mu.Lock()
	defer r.w.mu.Unlock()
	g := r.w.groups[in.ThingGroupName]
	if g == nil {
		return nil, iotdm.Errorf(iotdm.ErrResourceNotFound, "Thing Group %s does not exist", in.ThingGroupName)
	}
	return &iotdm.DescribeThingGroupOutput{ThingGroupName: g.ThingGroupName, ThingGroupID: g.ThingGroupID, ThingGroupARN: g.ThingGroupARN,
		Version: g.Version, ThingGroupProperties: g.ThingGroupProperties, ThingGroupMetadata: g.ThingGroupMetadata,
		IndexName: g.IndexName, QueryString: g.QueryString, QueryVersion: g.QueryVersion, Status: g.Status}, nil
}

func (r fakeRegistry) ListThingsInThingGroup(_ context.Context, in *iotdm.ListThingsInThingGroupInput) (*iotdm.ListThingsInThingGroupOutput, error) {
	r.w.mu.Lock()
	defer r.w.mu.Unlock()
	g := r.w.groups[in.ThingGroupName]
	if g == nil {
		return nil, iotdm.Errorf(iotdm.ErrResourceNotFound, "Thing Group %s does not exist", in.ThingGroupName)
	}
	terms := []term{{field: "thingGroupNames", value: g.ThingGroupName}}
	if g.QueryString != "" {
		terms, _ = parseQuery(g.QueryString)
	}
	start, _ := strconv.Atoi(in.NextToken)
	out := &iotdm.ListThingsInThingGroupOutput{Things: []string{}}
	for i := start; i < len(r.w.things); i++ {
		if !matchAll(r.w.things[i], terms) {
			continue
		}
		if len(out.Things) == in.MaxResults {
			out.NextToken = strconv.Itoa(i)
			break
		}
		out.Things = append(out.Things, r.w.things[i].name)
	}
	return out, nil
}

func (r fakeRegistry) ListThingGroupsForThing(_ context.Context, in *iotdm.ListThingGroupsForThingInput) (*iotdm.ListThingGroupsForThingOutput, error) {
	r.w.mu.Lock()
	defer r.w.mu.Unlock()
	t := r.w.byName[in.ThingName]
	out := &iotdm.ListThingGroupsForThingOutput{ThingGroups: []iotdm.GroupNameAndArn{}}
	if t == nil {
		return out, nil
	}
	for _, g := range t.groups {
		out.ThingGroups = append(out.ThingGroups, iotdm.GroupNameAndArn{GroupName: g})
	}
	for name, g := range r.w.groups {
		if terms, err := parseQuery(g.QueryString); g.QueryString != "" && err == nil && matchAll(t, terms) {
			out.ThingGroups = append(out.ThingGroups, iotdm.GroupNameAndArn{GroupName: name})
		}
	}
	sort.Slice(out.ThingGroups, func(i, j int) bool { return out.ThingGroups[i].GroupName < out.ThingGroups[j].GroupName })
	return out, nil
}

// --- Connectivity ---

type fakeConnectivity struct{ w *world }

func (c fakeConnectivity) GetThingConnectivityData(_ context.Context, in *iotdm.GetThingConnectivityDataInput) (*iotdm.GetThingConnectivityDataOutput, error) {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	t := c.w.byName[in.ThingName]
	if t == nil {
		return nil, iotdm.Errorf(iotdm.ErrResourceNotFound, "Thing %s cannot be found.", in.ThingName)
	}
	ts := iotdm.Timestamp{Time: time.UnixMilli(t.connTime)}
	out := &iotdm.GetThingConnectivityDataOutput{ThingName: t.name, Connected: t.connected, Timestamp: &ts}
	if !t.connected {
		out.DisconnectReason = iotdm.DisconnectClientInitiated
	}
	return out, nil
}

// --- Shadows ---

type fakeShadows struct {
	iotdm.Shadows
	w *world
}

func (s fakeShadows) GetThingShadow(_ context.Context, in *iotdm.GetThingShadowInput) (*iotdm.GetThingShadowOutput, error) {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	st := s.w.shadows[iotdm.ShadowKey(in.ThingName, in.ShadowName)]
	if !shadow.Exists(st) {
		return nil, iotdm.Errorf(iotdm.ErrResourceNotFound, "No shadow exists with name: '%s'", in.ThingName)
	}
	return &iotdm.GetThingShadowOutput{Payload: shadow.Get(st)}, nil
}

func (s fakeShadows) UpdateThingShadow(_ context.Context, in *iotdm.UpdateThingShadowInput) (*iotdm.UpdateThingShadowOutput, error) {
	s.w.mu.Lock()
	key := iotdm.ShadowKey(in.ThingName, in.ShadowName)
	res, err := shadow.Update(s.w.shadows[key], in.Payload, s.w.now)
	if err != nil {
		s.w.mu.Unlock()
		if se, ok := err.(*shadow.Error); ok && se.Kind == shadow.Conflict {
			return nil, iotdm.Errorf(iotdm.ErrVersionConflict, "%s", se.Message)
		}
		return nil, iotdm.Errorf(iotdm.ErrInvalidRequest, "%v", err)
	}
	s.w.shadows[key] = res.State
	s.w.mu.Unlock()
	b, _ := json.Marshal(res.State)
	s.w.store.append(iotdm.OpPut, iotdm.KindShadow, key, b)
	return &iotdm.UpdateThingShadowOutput{Payload: res.Accepted}, nil
}

func (s fakeShadows) ListNamedShadowsForThing(_ context.Context, in *iotdm.ListNamedShadowsForThingInput) (*iotdm.ListNamedShadowsForThingOutput, error) {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	out := &iotdm.ListNamedShadowsForThingOutput{Results: []string{}}
	for k, st := range s.w.shadows {
		if thing, name, _ := strings.Cut(k, "/"); thing == in.ThingName && name != "" && shadow.Exists(st) {
			out.Results = append(out.Results, name)
		}
	}
	sort.Strings(out.Results)
	return out, nil
}

// --- Certificates ---

type fakeCertificates struct {
	iotdm.Certificates
	w *world
}

func (c fakeCertificates) DescribeCertificate(_ context.Context, in *iotdm.DescribeCertificateInput) (*iotdm.DescribeCertificateOutput, error) {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	d := c.w.certs[in.CertificateID]
	if d == nil {
		return nil, iotdm.Errorf(iotdm.ErrResourceNotFound, "The certificate %s does not exist", in.CertificateID)
	}
	return &iotdm.DescribeCertificateOutput{CertificateDescription: *d}, nil
}

func (c fakeCertificates) UpdateCertificate(_ context.Context, in *iotdm.UpdateCertificateInput) (*iotdm.Empty, error) {
	c.w.mu.Lock()
	d := c.w.certs[in.CertificateID]
	if d == nil {
		c.w.mu.Unlock()
		return nil, iotdm.Errorf(iotdm.ErrResourceNotFound, "The certificate %s does not exist", in.CertificateID)
	}
	if d.Status == iotdm.CertificateRevoked {
		c.w.mu.Unlock()
		return nil, iotdm.Errorf(iotdm.ErrCertificateState, "Certificate is revoked")
	}
	d.Status = in.NewStatus
	var drop []string
	if in.NewStatus != iotdm.CertificateActive { // the broker disconnects its sessions
		for thing, arns := range c.w.thingCerts {
			if slices.Contains(arns, d.CertificateARN) && c.w.byName[thing].connected {
				drop = append(drop, thing)
			}
		}
	}
	b, _ := json.Marshal(iotdm.StoredCertificate{CertificateDescription: *d})
	c.w.mu.Unlock()
	c.w.store.append(iotdm.OpPut, iotdm.KindCertificate, in.CertificateID, b)
	for _, t := range drop {
		c.w.setConnected(t, false)
	}
	return &iotdm.Empty{}, nil
}

func (c fakeCertificates) ListCertificates(context.Context, *iotdm.ListCertificatesInput) (*iotdm.ListCertificatesOutput, error) {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	out := &iotdm.ListCertificatesOutput{Certificates: []iotdm.Certificate{}}
	for _, d := range c.w.certs {
		out.Certificates = append(out.Certificates, iotdm.Certificate{CertificateARN: d.CertificateARN, CertificateID: d.CertificateID, Status: d.Status, CertificateMode: d.CertificateMode, CreationDate: d.CreationDate})
	}
	sort.Slice(out.Certificates, func(i, j int) bool { return out.Certificates[i].CertificateID < out.Certificates[j].CertificateID })
	return out, nil
}

func (c fakeCertificates) ListCACertificates(context.Context, *iotdm.ListCACertificatesInput) (*iotdm.ListCACertificatesOutput, error) {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	out := &iotdm.ListCACertificatesOutput{Certificates: []iotdm.CACertificate{}}
	for _, d := range c.w.cas {
		out.Certificates = append(out.Certificates, iotdm.CACertificate{CertificateARN: d.CertificateARN, CertificateID: d.CertificateID, Status: d.Status, CreationDate: d.CreationDate})
	}
	return out, nil
}

func (c fakeCertificates) DescribeCACertificate(_ context.Context, in *iotdm.DescribeCACertificateInput) (*iotdm.DescribeCACertificateOutput, error) {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	d := c.w.cas[in.CertificateID]
	if d == nil {
		return nil, iotdm.Errorf(iotdm.ErrResourceNotFound, "CA certificate %s does not exist", in.CertificateID)
	}
	return &iotdm.DescribeCACertificateOutput{CertificateDescription: *d}, nil
}

func (c fakeCertificates) UpdateCACertificate(_ context.Context, in *iotdm.UpdateCACertificateInput) (*iotdm.Empty, error) {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	d := c.w.cas[in.CertificateID]
	if d == nil {
		return nil, iotdm.Errorf(iotdm.ErrResourceNotFound, "CA certificate %s does not exist", in.CertificateID)
	}
	if in.NewStatus != "" {
		d.Status = in.NewStatus
	}
	if in.NewAutoRegistrationStatus != "" {
		d.AutoRegistrationStatus = in.NewAutoRegistrationStatus
	}
	return &iotdm.Empty{}, nil
}

func (c fakeCertificates) ListThingPrincipals(_ context.Context, in *iotdm.ListThingPrincipalsInput) (*iotdm.ListThingPrincipalsOutput, error) {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	return &iotdm.ListThingPrincipalsOutput{Principals: slices.Clone(c.w.thingCerts[in.ThingName])}, nil
}

func (c fakeCertificates) ListPrincipalThings(_ context.Context, in *iotdm.ListPrincipalThingsInput) (*iotdm.ListPrincipalThingsOutput, error) {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	out := &iotdm.ListPrincipalThingsOutput{Things: []string{}}
	for t, arns := range c.w.thingCerts {
		if slices.Contains(arns, in.Principal) {
			out.Things = append(out.Things, t)
		}
	}
	sort.Strings(out.Things)
	return out, nil
}

// --- Policies ---

type fakePolicies struct {
	iotdm.Policies
	w *world
}

func (p fakePolicies) arn(name string) string {
	return "arn:aws:iot:us-east-1:123456789012:policy/" + name
}

func (p fakePolicies) ListPolicies(context.Context, *iotdm.ListPoliciesInput) (*iotdm.ListPoliciesOutput, error) {
	p.w.mu.Lock()
	defer p.w.mu.Unlock()
	out := &iotdm.ListPoliciesOutput{Policies: []iotdm.Policy{}}
	for n := range p.w.policies {
		out.Policies = append(out.Policies, iotdm.Policy{PolicyName: n, PolicyARN: p.arn(n)})
	}
	sort.Slice(out.Policies, func(i, j int) bool { return out.Policies[i].PolicyName < out.Policies[j].PolicyName })
	return out, nil
}

func (p fakePolicies) get(name string) (*fpolicy, error) {
	pol := p.w.policies[name]
	if pol == nil {
		return nil, iotdm.Errorf(iotdm.ErrResourceNotFound, "Policy not found")
	}
	return pol, nil
}

func (p fakePolicies) GetPolicy(_ context.Context, in *iotdm.GetPolicyInput) (*iotdm.GetPolicyOutput, error) {
	p.w.mu.Lock()
	defer p.w.mu.Unlock()
	pol, err := p.get(in.PolicyName)
	if err != nil {
		return nil, err
	}
	return &iotdm.GetPolicyOutput{PolicyName: in.PolicyName, PolicyARN: p.arn(in.PolicyName), PolicyDocument: pol.versions[pol.def], DefaultVersionID: pol.def}, nil
}

func (p fakePolicies) ListPolicyVersions(_ context.Context, in *iotdm.ListPolicyVersionsInput) (*iotdm.ListPolicyVersionsOutput, error) {
	p.w.mu.Lock()
	defer p.w.mu.Unlock()
	pol, err := p.get(in.PolicyName)
	if err != nil {
		return nil, err
	}
	out := &iotdm.ListPolicyVersionsOutput{}
	for id := range pol.versions {
		out.PolicyVersions = append(out.PolicyVersions, iotdm.PolicyVersion{VersionID: id, IsDefaultVersion: id == pol.def, CreateDate: iotdm.Timestamp{Time: pol.created[id]}})
	}
	return out, nil
}

func (p fakePolicies) GetPolicyVersion(_ context.Context, in *iotdm.GetPolicyVersionInput) (*iotdm.GetPolicyVersionOutput, error) {
	p.w.mu.Lock()
	defer p.w.mu.Unlock()
	pol, err := p.get(in.PolicyName)
	if err != nil {
		return nil, err
	}
	doc, ok := pol.versions[in.PolicyVersionID]
	if !ok {
		return nil, iotdm.Errorf(iotdm.ErrResourceNotFound, "Policy version not found")
	}
	return &iotdm.GetPolicyVersionOutput{PolicyName: in.PolicyName, PolicyDocument: doc, PolicyVersionID: in.PolicyVersionID, IsDefaultVersion: pol.def == in.PolicyVersionID}, nil
}

func (p fakePolicies) SetDefaultPolicyVersion(_ context.Context, in *iotdm.SetDefaultPolicyVersionInput) (*iotdm.Empty, error) {
	p.w.mu.Lock()
	defer p.w.mu.Unlock()
	pol, err := p.get(in.PolicyName)
	if err != nil {
		return nil, err
	}
	if _, ok := pol.versions[in.PolicyVersionID]; !ok {
		return nil, iotdm.Errorf(iotdm.ErrResourceNotFound, "Policy version not found")
	}
	pol.def = in.PolicyVersionID
	return &iotdm.Empty{}, nil
}

func (p fakePolicies) ListTargetsForPolicy(_ context.Context, in *iotdm.ListTargetsForPolicyInput) (*iotdm.ListTargetsForPolicyOutput, error) {
	p.w.mu.Lock()
	defer p.w.mu.Unlock()
	pol, err := p.get(in.PolicyName)
	if err != nil {
		return nil, err
	}
	return &iotdm.ListTargetsForPolicyOutput{Targets: slices.Clone(pol.targets)}, nil
}

func (p fakePolicies) ListAttachedPolicies(_ context.Context, in *iotdm.ListAttachedPoliciesInput) (*iotdm.ListAttachedPoliciesOutput, error) {
	p.w.mu.Lock()
	defer p.w.mu.Unlock()
	out := &iotdm.ListAttachedPoliciesOutput{Policies: []iotdm.Policy{}}
	for n, pol := range p.w.policies {
		if slices.Contains(pol.targets, in.Target) {
			out.Policies = append(out.Policies, iotdm.Policy{PolicyName: n, PolicyARN: p.arn(n)})
		}
	}
	return out, nil
}

func (p fakePolicies) GetEffectivePolicies(_ context.Context, in *iotdm.GetEffectivePoliciesInput) (*iotdm.GetEffectivePoliciesOutput, error) {
	p.w.mu.Lock()
	defer p.w.mu.Unlock()
	out := &iotdm.GetEffectivePoliciesOutput{EffectivePolicies: []iotdm.EffectivePolicy{}}
	for n, pol := range p.w.policies {
		if in.Principal != "" && slices.Contains(pol.targets, in.Principal) {
			out.EffectivePolicies = append(out.EffectivePolicies, iotdm.EffectivePolicy{PolicyName: n, PolicyARN: p.arn(n), PolicyDocument: pol.versions[pol.def]})
		}
	}
	return out, nil
}

func (p fakePolicies) TestAuthorization(_ context.Context, in *iotdm.TestAuthorizationInput) (*iotdm.TestAuthorizationOutput, error) {
	if len(in.AuthInfos) == 0 || len(in.AuthInfos[0].Resources) == 0 {
		return nil, iotdm.Errorf(iotdm.ErrInvalidRequest, "authInfos must name at least one resource")
	}
	p.w.mu.Lock()
	defer p.w.mu.Unlock()
	res := iotdm.AuthResult{AuthInfo: in.AuthInfos[0], AuthDecision: iotdm.AuthDecisionImplicitDeny, MissingContextValues: []string{}}
	for n, pol := range p.w.policies {
		if slices.Contains(pol.targets, in.Principal) {
			if in.AuthInfos[0].ActionType == iotdm.ActionConnect || strings.Contains(pol.versions[pol.def], "iot:Publish") {
				res.Allowed.Policies = append(res.Allowed.Policies, iotdm.Policy{PolicyName: n})
				res.AuthDecision = iotdm.AuthDecisionAllowed
			}
		}
	}
	return &iotdm.TestAuthorizationOutput{AuthResults: []iotdm.AuthResult{res}}, nil
}

// --- monitoring ---

type fakeAlarms struct {
	iotdm.Alarms
	w *world
}

func (a fakeAlarms) DescribeAlarms(_ context.Context, in *iotdm.DescribeAlarmsInput) (*iotdm.DescribeAlarmsOutput, error) {
	a.w.mu.Lock()
	defer a.w.mu.Unlock()
	out := &iotdm.DescribeAlarmsOutput{MetricAlarms: []iotdm.MetricAlarm{}, CompositeAlarms: []iotdm.CompositeAlarm{}}
	for _, al := range a.w.alarms {
		if len(in.AlarmNames) > 0 && !slices.Contains(in.AlarmNames, al.AlarmName) {
			continue
		}
		out.MetricAlarms = append(out.MetricAlarms, al)
	}
	return out, nil
}

type fakeDashboards struct {
	iotdm.Dashboards
	w *world
}

func (d fakeDashboards) ListDashboards(context.Context, *iotdm.ListDashboardsInput) (*iotdm.ListDashboardsOutput, error) {
	d.w.mu.Lock()
	defer d.w.mu.Unlock()
	out := &iotdm.ListDashboardsOutput{DashboardEntries: []iotdm.DashboardEntry{}}
	for n, b := range d.w.dashboards {
		out.DashboardEntries = append(out.DashboardEntries, iotdm.DashboardEntry{DashboardName: n, Size: int64(len(b)), LastModified: iotdm.Timestamp{Time: d.w.now}})
	}
	return out, nil
}

func (d fakeDashboards) GetDashboard(_ context.Context, in *iotdm.GetDashboardInput) (*iotdm.GetDashboardOutput, error) {
	d.w.mu.Lock()
	defer d.w.mu.Unlock()
	b, ok := d.w.dashboards[in.DashboardName]
	if !ok {
		return nil, iotdm.Errorf(iotdm.ErrCloudWatchNotFound, "Dashboard %s does not exist", in.DashboardName)
	}
	return &iotdm.GetDashboardOutput{DashboardName: in.DashboardName, DashboardBody: b}, nil
}

type fakeFleetMetrics struct {
	iotdm.FleetMetrics
	w *world
}

func (f fakeFleetMetrics) ListFleetMetrics(context.Context, *iotdm.ListFleetMetricsInput) (*iotdm.ListFleetMetricsOutput, error) {
	f.w.mu.Lock()
	defer f.w.mu.Unlock()
	out := &iotdm.ListFleetMetricsOutput{FleetMetrics: []iotdm.FleetMetricNameAndArn{}}
	for n := range f.w.fleetMetrics {
		out.FleetMetrics = append(out.FleetMetrics, iotdm.FleetMetricNameAndArn{MetricName: n})
	}
	return out, nil
}

func (f fakeFleetMetrics) DescribeFleetMetric(_ context.Context, in *iotdm.DescribeFleetMetricInput) (*iotdm.DescribeFleetMetricOutput, error) {
	f.w.mu.Lock()
	defer f.w.mu.Unlock()
	m := f.w.fleetMetrics[in.MetricName]
	if m == nil {
		return nil, iotdm.Errorf(iotdm.ErrResourceNotFound, "fleet metric %s not found", in.MetricName)
	}
	c := *m
	return &c, nil
}

type fakeMetrics struct {
	iotdm.MetricStore
	w *world
}

func (m fakeMetrics) MetricStatistics(_ context.Context, r iotdm.MetricRange) ([]iotdm.MetricBucket, error) {
	m.w.mu.Lock()
	defer m.w.mu.Unlock()
	byStart := map[int64]*iotdm.MetricBucket{}
	var starts []int64
	p := int64(r.Period / time.Second)
	for _, pt := range m.w.points[metricKey(r.Metric)] {
		if pt.Timestamp.Before(r.Start) || !pt.Timestamp.Before(r.End) {
			continue
		}
		s := pt.Timestamp.Unix() / p * p
		b := byStart[s]
		if b == nil {
			b = &iotdm.MetricBucket{Timestamp: time.Unix(s, 0).UTC(), Minimum: *pt.Value, Maximum: *pt.Value, Unit: pt.Unit}
			byStart[s] = b
			starts = append(starts, s)
		}
		b.SampleCount++
		b.Sum += *pt.Value
		b.Minimum, b.Maximum = min(b.Minimum, *pt.Value), max(b.Maximum, *pt.Value)
	}
	slices.Sort(starts)
	out := make([]iotdm.MetricBucket, 0, len(starts))
	for _, s := range starts {
		out = append(out, *byStart[s])
	}
	return out, nil
}

func (m fakeMetrics) ListMetrics(_ context.Context, f iotdm.MetricFilter, _ *iotdm.Metric, _ int) ([]iotdm.Metric, error) {
	m.w.mu.Lock()
	defer m.w.mu.Unlock()
	var out []iotdm.Metric
	for _, x := range m.w.metrics {
		if (f.Namespace == "" || x.Namespace == f.Namespace) && (f.MetricName == "" || x.MetricName == f.MetricName) {
			out = append(out, x)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MetricName < out[j].MetricName })
	return out, nil
}

type fakeLogGroups struct{ iotdm.LogGroups }

func (fakeLogGroups) DescribeLogGroups(context.Context, *iotdm.DescribeLogGroupsInput) (*iotdm.DescribeLogGroupsOutput, error) {
	return &iotdm.DescribeLogGroupsOutput{LogGroups: []iotdm.LogGroup{{LogGroupName: "/aws/iot/device-management/IoTDeviceManagementStack"}}}, nil
}

// --- stacks ---

type fakeStacks struct {
	iotdm.Stacks
	w *world
}

const testStackID = "arn:aws:cloudformation:us-east-1:123456789012:stack/IoTDeviceManagementStack/0d1c2b3a"

func (s fakeStacks) ListStacks(context.Context, *iotdm.ListStacksInput) (*iotdm.ListStacksOutput, error) {
	return &iotdm.ListStacksOutput{StackSummaries: []iotdm.StackSummary{
		{StackId: testStackID, StackName: "IoTDeviceManagementStack", StackStatus: "CREATE_COMPLETE", CreationTime: s.w.now.Add(-2 * time.Hour), TemplateDescription: "IoT Device Management"},
		{StackId: "old", StackName: "Old", StackStatus: "DELETE_COMPLETE", CreationTime: s.w.now.Add(-72 * time.Hour)},
	}}, nil
}

func (s fakeStacks) DescribeStacks(_ context.Context, in *iotdm.DescribeStacksInput) (*iotdm.DescribeStacksOutput, error) {
	if in.StackName != "IoTDeviceManagementStack" && in.StackName != testStackID {
		return nil, iotdm.StackDoesNotExist(in.StackName)
	}
	return &iotdm.DescribeStacksOutput{Stacks: []iotdm.Stack{{StackId: testStackID, StackName: "IoTDeviceManagementStack", StackStatus: "CREATE_COMPLETE",
		CreationTime: s.w.now.Add(-2 * time.Hour), Description: "IoT Device Management (IoTDeviceManagementStack)",
		Parameters: []iotdm.Parameter{{ParameterKey: "env", ParameterValue: "development"}},
		Outputs: []iotdm.Output{{OutputKey: "ThingGroupName", OutputValue: "ProductionSensors-IoTDeviceManagementStack", ExportName: "IoTDeviceManagementStack-ThingGroupName"},
			{OutputKey: "DashboardName", OutputValue: "IoTFleet-IoTDeviceManagementStack"}}}}}, nil
}

func (s fakeStacks) ListStackResources(context.Context, *iotdm.ListStackResourcesInput) (*iotdm.ListStackResourcesOutput, error) {
	return &iotdm.ListStackResourcesOutput{StackResourceSummaries: []iotdm.StackResourceSummary{
		{LogicalResourceId: "SensorThingType", PhysicalResourceId: "SensorDevice-IoTDeviceManagementStack", ResourceType: "AWS::IoT::ThingType", ResourceStatus: "CREATE_COMPLETE", LastUpdatedTimestamp: s.w.now.Add(-2 * time.Hour)},
		{LogicalResourceId: "FleetDashboard", PhysicalResourceId: "IoTFleet-IoTDeviceManagementStack", ResourceType: "AWS::CloudWatch::Dashboard", ResourceStatus: "CREATE_COMPLETE", LastUpdatedTimestamp: s.w.now.Add(-2 * time.Hour)},
	}}, nil
}

func (s fakeStacks) DescribeStackEvents(context.Context, *iotdm.DescribeStackEventsInput) (*iotdm.DescribeStackEventsOutput, error) {
	return &iotdm.DescribeStackEventsOutput{StackEvents: []iotdm.StackEvent{
		{StackId: testStackID, EventId: "e2", StackName: "IoTDeviceManagementStack", LogicalResourceId: "IoTDeviceManagementStack", ResourceStatus: "CREATE_COMPLETE", Timestamp: s.w.now.Add(-2 * time.Hour)},
		{StackId: testStackID, EventId: "e1", StackName: "IoTDeviceManagementStack", LogicalResourceId: "SensorThingType", ResourceStatus: "CREATE_IN_PROGRESS", ResourceStatusReason: "Resource creation Initiated", Timestamp: s.w.now.Add(-2 * time.Hour)},
	}}, nil
}

func (s fakeStacks) GetTemplate(context.Context, *iotdm.GetTemplateInput) (*iotdm.GetTemplateOutput, error) {
	return &iotdm.GetTemplateOutput{TemplateBody: "AWSTemplateFormatVersion: \"2010-09-09\"\nResources: {}\n"}, nil
}

// --- jobs ---

type fexec struct {
	thing   string
	summary iotdm.JobExecutionSummary
	details map[string]string
}

type fjob struct {
	job   iotdm.Job
	doc   string
	execs []*fexec // sorted by thing
}

// addJobs adds a firmware update in progress over the legacy firmware group
// and a finished reboot job.
func (w *world) addJobs() {
	arn := func(kind, name string) string {
		return "arn:aws:iot:" + testRegion + ":" + testAccount + ":" + kind + "/" + name
	}
	add := func(id, status, sel, doc string, age time.Duration, targets []string, execs map[string]string) {
		j := &fjob{doc: doc, job: iotdm.Job{JobARN: arn("job", id), JobID: id, TargetSelection: sel, Status: status, Targets: targets,
			Description: "Job " + id, CreatedAt: iotdm.Timestamp{Time: w.now.Add(-age)}, LastUpdatedAt: iotdm.Timestamp{Time: w.now.Add(-age / 2)}}}
		for thing, st := range execs {
			e := &fexec{thing: thing, summary: iotdm.JobExecutionSummary{Status: st, QueuedAt: iotdm.Timestamp{Time: w.now.Add(-age)},
				LastUpdatedAt: iotdm.Timestamp{Time: w.now.Add(-age / 2)}, ExecutionNumber: 1}}
			if st != iotdm.ExecutionQueued {
				e.summary.StartedAt = &iotdm.Timestamp{Time: w.now.Add(-age / 2)}
				e.details = map[string]string{"step": strings.ToLower(st)}
			}
			j.execs = append(j.execs, e)
		}
		sort.Slice(j.execs, func(a, b int) bool { return j.execs[a].thing < j.execs[b].thing })
		w.jobs[id] = j
	}
	add("firmware-update-1-2-0", iotdm.JobInProgress, iotdm.TargetContinuous, `{"operation":"firmwareUpdate","version":"1.2.0"}`, time.Hour,
		[]string{arn("thinggroup", "FirmwareLegacy-IoTDeviceManagementStack"), arn("thing", "temp-sensor-02")},
		map[string]string{"temp-sensor-01": iotdm.ExecutionSucceeded, "temp-sensor-02": iotdm.ExecutionInProgress, "temp-sensor-03": iotdm.ExecutionFailed,
			"temp-sensor-04": iotdm.ExecutionQueued, "humidity-sensor-01": iotdm.ExecutionQueued})
	add("reboot-sensors", iotdm.JobCompleted, iotdm.TargetSnapshot, `{"operation":"reboot"}`, 24*time.Hour,
		[]string{arn("thing", "temp-sensor-01"), arn("thing", "temp-sensor-02"), arn("thing", "temp-sensor-03"), arn("thing", "humidity-sensor-01")},
		map[string]string{"temp-sensor-01": iotdm.ExecutionSucceeded, "temp-sensor-02": iotdm.ExecutionTimedOut, "temp-sensor-03": iotdm.ExecutionRejected,
			"humidity-sensor-01": iotdm.ExecutionSucceeded})
}

type fakeJobs struct {
	iotdm.Jobs
	w *world
}

func (f fakeJobs) get(id string) (*fjob, error) {
	j := f.w.jobs[id]
	if j == nil {
		return nil, iotdm.Errorf(iotdm.ErrResourceNotFound, "Job %s does not exist", id)
	}
	return j, nil
}

func (f fakeJobs) ListJobs(_ context.Context, in *iotdm.ListJobsInput) (*iotdm.ListJobsOutput, error) {
	f.w.mu.Lock()
	defer f.w.mu.Unlock()
	out := &iotdm.ListJobsOutput{Jobs: []iotdm.JobSummary{}}
	for _, j := range f.w.jobs {
		if in.Status != "" && j.job.Status != in.Status {
			continue
		}
		out.Jobs = append(out.Jobs, iotdm.JobSummary{JobARN: j.job.JobARN, JobID: j.job.JobID, TargetSelection: j.job.TargetSelection,
			Status: j.job.Status, CreatedAt: j.job.CreatedAt, LastUpdatedAt: j.job.LastUpdatedAt, CompletedAt: j.job.CompletedAt})
	}
	sort.Slice(out.Jobs, func(a, b int) bool { return out.Jobs[a].JobID < out.Jobs[b].JobID })
	return out, nil
}

func (f fakeJobs) DescribeJob(_ context.Context, in *iotdm.DescribeJobInput) (*iotdm.DescribeJobOutput, error) {
	f.w.mu.Lock()
	defer f.w.mu.Unlock()
	j, err := f.get(in.JobID)
	if err != nil {
		return nil, err
	}
	job := j.job
	d := &iotdm.JobProcessDetails{}
	for _, e := range j.execs {
		switch e.summary.Status {
		case iotdm.ExecutionQueued:
			d.NumberOfQueuedThings++
		case iotdm.ExecutionInProgress:
			d.NumberOfInProgressThings++
		case iotdm.ExecutionSucceeded:
			d.NumberOfSucceededThings++
		case iotdm.ExecutionFailed:
			d.NumberOfFailedThings++
		case iotdm.ExecutionRejected:
			d.NumberOfRejectedThings++
		case iotdm.ExecutionTimedOut:
			d.NumberOfTimedOutThings++
		case iotdm.ExecutionRemoved:
			d.NumberOfRemovedThings++
		case iotdm.ExecutionCanceled:
			d.NumberOfCanceledThings++
		}
	}
	job.JobProcessDetails = d
	return &iotdm.DescribeJobOutput{Job: &job}, nil
}

func (f fakeJobs) GetJobDocument(_ context.Context, in *iotdm.GetJobDocumentInput) (*iotdm.GetJobDocumentOutput, error) {
	f.w.mu.Lock()
	defer f.w.mu.Unlock()
	j, err := f.get(in.JobID)
	if err != nil {
		return nil, err
	}
	return &iotdm.GetJobDocumentOutput{Document: j.doc}, nil
}

func (f fakeJobs) ListJobExecutionsForJob(_ context.Context, in *iotdm.ListJobExecutionsForJobInput) (*iotdm.ListJobExecutionsForJobOutput, error) {
	f.w.mu.Lock()
	defer f.w.mu.Unlock()
	j, err := f.get(in.JobID)
	if err != nil {
		return nil, err
	}
	out := &iotdm.ListJobExecutionsForJobOutput{ExecutionSummaries: []iotdm.JobExecutionSummaryForJob{}}
	for _, e := range j.execs {
		if in.Status == "" || e.summary.Status == in.Status {
			out.ExecutionSummaries = append(out.ExecutionSummaries, iotdm.JobExecutionSummaryForJob{
				ThingARN: "arn:aws:iot:" + testRegion + ":" + testAccount + ":thing/" + e.thing, JobExecutionSummary: e.summary})
		}
	}
	return out, nil
}

func (f fakeJobs) DescribeJobExecution(_ context.Context, in *iotdm.DescribeJobExecutionInput) (*iotdm.DescribeJobExecutionOutput, error) {
	f.w.mu.Lock()
	defer f.w.mu.Unlock()
	j, err := f.get(in.JobID)
	if err != nil {
		return nil, err
	}
	for _, e := range j.execs {
		if e.thing == in.ThingName {
			x := &iotdm.JobExecution{JobID: in.JobID, Status: e.summary.Status, ThingARN: "arn:aws:iot:" + testRegion + ":" + testAccount + ":thing/" + e.thing,
				QueuedAt: e.summary.QueuedAt, StartedAt: e.summary.StartedAt, LastUpdatedAt: e.summary.LastUpdatedAt, ExecutionNumber: e.summary.ExecutionNumber, VersionNumber: 1}
			if e.details != nil {
				x.StatusDetails = &iotdm.JobExecutionStatusDetails{DetailsMap: e.details}
			}
			return &iotdm.DescribeJobExecutionOutput{Execution: x}, nil
		}
	}
	return nil, iotdm.Errorf(iotdm.ErrResourceNotFound, "No job execution of %s for %s", in.JobID, in.ThingName)
}

// CancelJob cancels the queued executions, and with force the in-progress
// ones; a job that is not in progress or scheduled is a conflict.
func (f fakeJobs) CancelJob(_ context.Context, in *iotdm.CancelJobInput) (*iotdm.CancelJobOutput, error) {
	f.w.mu.Lock()
	defer f.w.mu.Unlock()
	f.w.canceled = append(f.w.canceled, *in)
	j, err := f.get(in.JobID)
	if err != nil {
		return nil, err
	}
	if j.job.Status != iotdm.JobInProgress && j.job.Status != iotdm.JobScheduled {
		return nil, iotdm.Errorf(iotdm.ErrConflict, "Job %s is %s and cannot be canceled", in.JobID, j.job.Status)
	}
	j.job.Status, j.job.ReasonCode, j.job.Comment = iotdm.JobCanceled, in.ReasonCode, in.Comment
	if in.Force {
		force := true
		j.job.ForceCanceled = &force
	}
	for _, e := range j.execs {
		if e.summary.Status == iotdm.ExecutionQueued || in.Force && e.summary.Status == iotdm.ExecutionInProgress {
			e.summary.Status = iotdm.ExecutionCanceled
		}
	}
	return &iotdm.CancelJobOutput{JobARN: j.job.JobARN, JobID: j.job.JobID, Description: j.job.Description}, nil
}

// --- the change feed ---

type fakeStore struct {
	iotdm.Store
	now time.Time

	mu      sync.Mutex
	changes []iotdm.Change
	notify  chan struct{}
}

func newFakeStore(now time.Time) *fakeStore {
	s := &fakeStore{now: now, notify: make(chan struct{})}
	for i := range 30 {
		st, _ := json.Marshal(iotdm.ConnectivityState{Connected: i%2 == 0, Timestamp: now.UnixMilli()})
		s.changes = append(s.changes, iotdm.Change{Seq: uint64(len(s.changes) + 1), Time: now.Add(-time.Duration(30-i) * time.Minute),
			Op: iotdm.OpPut, Kind: iotdm.KindConnectivity, Key: fmt.Sprintf("device-%07d", i), Value: st})
	}
	th, _ := json.Marshal(iotdm.Thing{ThingName: "temp-sensor-01", Version: 1})
	s.changes = append(s.changes, iotdm.Change{Seq: uint64(len(s.changes) + 1), Time: now, Op: iotdm.OpPut, Kind: iotdm.KindThing, Key: "temp-sensor-01", Value: th})
	return s
}

func (s *fakeStore) append(op iotdm.Op, kind, key string, value []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.changes = append(s.changes, iotdm.Change{Seq: uint64(len(s.changes) + 1), Time: time.Now().UTC(), Op: op, Kind: kind, Key: key, Value: value})
	close(s.notify)
	s.notify = make(chan struct{})
}

func (s *fakeStore) LastSeq(context.Context) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return uint64(len(s.changes)), nil
}

func (s *fakeStore) Changes(_ context.Context, after uint64, limit int) ([]iotdm.Change, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if after >= uint64(len(s.changes)) {
		return nil, nil
	}
	out := s.changes[after:]
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return slices.Clone(out), nil
}

func (s *fakeStore) Wait(ctx context.Context, after uint64) error {
	for {
		s.mu.Lock()
		if uint64(len(s.changes)) > after {
			s.mu.Unlock()
			return nil
		}
		ch := s.notify
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// deps returns the console's dependencies over the world.
func (w *world) deps() Deps {
	return Deps{
		Keys: func(id string) (string, bool) {
			if id == testKeyID {
				return testSecret, true
			}
			return "", false
		},
		Store:        w.store,
		Registry:     fakeRegistry{w: w},
		Search:       fakeSearch{w: w},
		Shadows:      fakeShadows{w: w},
		Connectivity: fakeConnectivity{w: w},
		Certificates: fakeCertificates{w: w},
		Policies:     fakePolicies{w: w},
		FleetMetrics: fakeFleetMetrics{w: w},
		Alarms:       fakeAlarms{w: w},
		Dashboards:   fakeDashboards{w: w},
		LogGroups:    fakeLogGroups{},
		Stacks:       fakeStacks{w: w},
		Jobs:         fakeJobs{w: w},
		Metrics:      fakeMetrics{w: w},
		Indexing:     fakeIndexing{w: w},
	}
}
