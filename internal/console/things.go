package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/iotdm/iotdm"
)

// --- thing search ---

type thingsData struct {
	Query    string
	Size     int
	Sizes    []int
	Page     int
	First    int // 1-based index of the first result shown
	Last     int
	Total    countValue
	Things   []thingRow
	Next     string // token of the next page
	QueryErr *queryError
	Err      string
	Examples []string
}

type thingRow struct {
	Name       string
	Type       string
	Connected  string // Connected, Disconnected or ""
	Attributes []kv
	Groups     []string
}

type kv struct{ K, V string }

// queryError is an InvalidQueryException shown under the search box with
// the query and a caret at the position the message names.
type queryError struct {
	Message string
	Query   string
	Pos     int // rune offset, -1 when the message names none
	Before  string
	At      string
	After   string
	Caret   string // spaces up to the position, then ^
}

var positionRE = regexp.MustCompile(`at position (\d+)`)

func newQueryError(q, msg string) *queryError {
	e := &queryError{Message: msg, Query: q, Pos: -1}
	m := positionRE.FindStringSubmatch(msg)
	if m == nil {
		return e
	}
	pos, err := strconv.Atoi(m[1])
	if err != nil || pos < 0 || pos > len(q) {
		return e
	}
	for pos > 0 && pos < len(q) && !utf8.RuneStart(q[pos]) { // the service counts bytes
		pos--
	}
	e.Before = q[:pos]
	rest := q[pos:]
	if rest != "" {
		_, n := utf8.DecodeRuneInString(rest)
		e.At, e.After = rest[:n], rest[n:]
	}
	e.Pos = utf8.RuneCountInString(e.Before)
	e.Caret = strings.Repeat(" ", e.Pos) + "^"
	return e
}

var pageSizes = []int{25, 50, 100}

func (c *console) things(w http.ResponseWriter, r *http.Request, sess *session) {
	q := r.URL.Query()
	d := thingsData{Query: strings.TrimSpace(q.Get("q")), Sizes: pageSizes, Size: 50,
		Examples: []string{"attributes.firmware:1.0.0", "connectivity.connected:false", "thingName:temp*", "attributes.location:Building-A AND NOT attributes.firmware:1.2.0"}}
	if n, err := strconv.Atoi(q.Get("size")); err == nil && slices.Contains(pageSizes, n) {
		d.Size = n
	}
	d.Page = 1
	token := q.Get("token")
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 1 && token != "" {
		d.Page = n
	}
	if len(d.Query) > 2048 { // AWS: queryString is at most 2048 characters
		d.QueryErr = newQueryError(d.Query[:2048], "The query is longer than 2048 characters.")
		c.render(w, r, sess, http.StatusBadRequest, "things", "Things", "things", d)
		return
	}
	if c.deps.Search == nil {
		d.Err = "The fleet index is not available."
		c.render(w, r, sess, http.StatusOK, "things", "Things", "things", d)
		return
	}
	query := d.Query
	if query == "" {
		query = "*"
	}
	ctx := r.Context()
	out, err := c.deps.Search.SearchIndex(ctx, &iotdm.SearchIndexInput{QueryString: query, NextToken: token, MaxResults: d.Size})
	status := http.StatusOK
	if err != nil {
		status, d.Err = c.describe("search things", err)
		if iotdm.IsCode(err, iotdm.ErrInvalidQuery) {
			d.QueryErr, d.Err = newQueryError(query, errMessage(err)), ""
		}
		c.render(w, r, sess, status, "things", "Things", "things", d)
		return
	}
	d.Total = c.count(ctx, query)
	d.Next = out.NextToken
	d.First = (d.Page-1)*d.Size + 1
	d.Last = d.First + len(out.Things) - 1
	for _, t := range out.Things {
		d.Things = append(d.Things, thingRowOf(t))
	}
	c.render(w, r, sess, status, "things", "Things", "things", d)
}

func errMessage(err error) string {
	var e *iotdm.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}

func thingRowOf(t iotdm.ThingDocument) thingRow {
	row := thingRow{Name: t.ThingName, Type: t.ThingTypeName, Groups: t.ThingGroupNames}
	if t.Connectivity != nil {
		row.Connected = "Disconnected"
		if t.Connectivity.Connected {
			row.Connected = "Connected"
		}
	}
	row.Attributes = sortedKV(t.Attributes)
	return row
}

func sortedKV(m map[string]string) []kv {
	out := make([]kv, 0, len(m))
	for k, v := range m {
		out = append(out, kv{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].K < out[j].K })
	return out
}

// --- one thing ---

type thingData struct {
	Thing        *iotdm.DescribeThingOutput
	Attributes   []kv
	Groups       []string
	GroupsErr    string
	Conn         *iotdm.GetThingConnectivityDataOutput
	ConnErr      string
	Shadow       shadowView
	ShadowNames  []string
	Certificates []certRow
	CertsErr     string
	Policies     []iotdm.EffectivePolicy
	PoliciesErr  string
	Logs         []LogEvent
	LogsNote     string
	LogGroups    []string
	Self         string // this page's path, where forms return to
}

type shadowView struct {
	Name       string // "" for the classic shadow
	Exists     bool
	Version    int64
	Timestamp  int64
	Desired    string
	Reported   string
	Delta      string
	DesiredRaw string // the desired section as the edit form shows it
	Err        string
}

type certRow struct {
	ID     string
	ARN    string
	Status string
	Mode   string
	From   iotdm.Timestamp
	Until  iotdm.Timestamp
	Err    string
}

func (c *console) thing(w http.ResponseWriter, r *http.Request, sess *session) {
	name := r.PathValue("name")
	if c.deps.Registry == nil {
		c.serviceError(w, r, sess, "describe thing", unavailable("the registry"))
		return
	}
	ctx := r.Context()
	t, err := c.deps.Registry.DescribeThing(ctx, &iotdm.DescribeThingInput{ThingName: name})
	if err != nil {
		c.serviceError(w, r, sess, "describe thing", err)
		return
	}
	d := thingData{Thing: t, Attributes: sortedKV(t.Attributes), Self: c.path("things/" + pathSeg(name))}
	if out, err := c.deps.Registry.ListThingGroupsForThing(ctx, &iotdm.ListThingGroupsForThingInput{ThingName: name, MaxResults: 250}); err != nil {
		_, d.GroupsErr = c.describe("list groups of thing", err)
	} else {
		for _, g := range out.ThingGroups {
			d.Groups = append(d.Groups, g.GroupName)
		}
	}
	if c.deps.Connectivity != nil {
		if d.Conn, err = c.deps.Connectivity.GetThingConnectivityData(ctx, &iotdm.GetThingConnectivityDataInput{ThingName: name}); err != nil {
			_, d.ConnErr = c.describe("read connectivity", err)
		}
	} else {
		d.ConnErr = "Connectivity is not available."
	}
	d.Shadow, d.ShadowNames = c.shadowOf(ctx, name, r.URL.Query().Get("shadow"))
	d.Certificates, d.CertsErr = c.thingCertificates(ctx, name)
	d.Policies, d.PoliciesErr = c.effectivePolicies(ctx, name, d.Certificates)
	d.Logs, d.LogsNote, d.LogGroups = c.thingLogs(ctx, name)
	c.render(w, r, sess, http.StatusOK, "thing", name, "things", d)
}

// shadowOf reads one shadow of a thing (the classic one for shadowName
// "") and the names of its named shadows.
func (c *console) shadowOf(ctx context.Context, thing, shadowName string) (shadowView, []string) {
	v := shadowView{Name: shadowName}
	if c.deps.Shadows == nil {
		v.Err = "Device shadows are not available."
		return v, nil
	}
	var names []string
	if out, err := c.deps.Shadows.ListNamedShadowsForThing(ctx, &iotdm.ListNamedShadowsForThingInput{ThingName: thing, PageSize: 100}); err == nil {
		names = out.Results
	}
	out, err := c.deps.Shadows.GetThingShadow(ctx, &iotdm.GetThingShadowInput{ThingName: thing, ShadowName: shadowName})
	switch {
	case iotdm.IsCode(err, iotdm.ErrResourceNotFound):
		v.DesiredRaw = "{}"
		return v, names
	case err != nil:
		_, v.Err = c.describe("read shadow", err)
		return v, names
	}
	var doc struct {
		State struct {
			Desired  json.RawMessage `json:"desired"`
			Reported json.RawMessage `json:"reported"`
			Delta    json.RawMessage `json:"delta"`
		} `json:"state"`
		Version   int64 `json:"version"`
		Timestamp int64 `json:"timestamp"`
	}
	if err := json.Unmarshal(out.Payload, &doc); err != nil {
		v.Err = "The shadow document could not be read: " + err.Error()
		return v, names
	}
	v.Exists, v.Version, v.Timestamp = true, doc.Version, doc.Timestamp*1000
	v.Desired, v.Reported, v.Delta = section(doc.State.Desired), section(doc.State.Reported), section(doc.State.Delta)
	v.DesiredRaw = v.Desired
	if v.DesiredRaw == "" {
		v.DesiredRaw = "{}"
	}
	return v, names
}

func section(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	return prettyJSON(raw)
}

func (c *console) thingCertificates(ctx context.Context, thing string) ([]certRow, string) {
	if c.deps.Certificates == nil {
		return nil, "Certificates are not available."
	}
	out, err := c.deps.Certificates.ListThingPrincipals(ctx, &iotdm.ListThingPrincipalsInput{ThingName: thing, MaxResults: 100})
	if err != nil {
		_, msg := c.describe("list thing principals", err)
		return nil, msg
	}
	var rows []certRow
	for _, p := range out.Principals {
		row := certRow{ARN: p, ID: certificateIDOf(p)}
		if row.ID == "" {
			row.Status = "—"
			rows = append(rows, row)
			continue
		}
		desc, err := c.deps.Certificates.DescribeCertificate(ctx, &iotdm.DescribeCertificateInput{CertificateID: row.ID})
		if err != nil {
			_, row.Err = c.describe("describe certificate", err)
		} else {
			cd := desc.CertificateDescription
			row.Status, row.Mode, row.From, row.Until = cd.Status, cd.CertificateMode, cd.Validity.NotBefore, cd.Validity.NotAfter
		}
		rows = append(rows, row)
	}
	return rows, ""
}

// effectivePolicies are the policies that apply to the thing's
// connections: each attached certificate's and its groups' (AWS §4.7).
func (c *console) effectivePolicies(ctx context.Context, thing string, certs []certRow) ([]iotdm.EffectivePolicy, string) {
	if c.deps.Policies == nil {
		return nil, "Policies are not available."
	}
	ins := []*iotdm.GetEffectivePoliciesInput{}
	for _, cr := range certs {
		if cr.ID != "" {
			ins = append(ins, &iotdm.GetEffectivePoliciesInput{Principal: cr.ARN, ThingName: thing})
		}
	}
	if len(ins) == 0 {
		ins = append(ins, &iotdm.GetEffectivePoliciesInput{ThingName: thing})
	}
	var all []iotdm.EffectivePolicy
	seen := map[string]bool{}
	for _, in := range ins {
		out, err := c.deps.Policies.GetEffectivePolicies(ctx, in)
		if err != nil {
			_, msg := c.describe("get effective policies", err)
			return all, msg
		}
		for _, p := range out.EffectivePolicies {
			if !seen[p.PolicyName] {
				seen[p.PolicyName] = true
				all = append(all, p)
			}
		}
	}
	return all, ""
}

// thingLogs reads the thing's recent log events through the LogEvents
// hook. CloudWatch Logs events are not stored by iotdm yet: without the
// hook the page lists the log groups and says so.
func (c *console) thingLogs(ctx context.Context, thing string) ([]LogEvent, string, []string) {
	var groups []string
	if c.deps.LogGroups != nil {
		limit := int32(50)
		if out, err := c.deps.LogGroups.DescribeLogGroups(ctx, &iotdm.DescribeLogGroupsInput{Limit: &limit}); err == nil {
			for _, g := range out.LogGroups {
				groups = append(groups, g.LogGroupName)
			}
		}
	}
	if c.deps.LogEvents == nil {
		return nil, "Device log events are not stored by this server yet.", groups
	}
	evs, err := c.deps.LogEvents(ctx, thing, 50)
	if err != nil {
		_, msg := c.describe("read log events", err)
		return nil, msg, groups
	}
	if len(evs) == 0 {
		return nil, "No recent log events.", groups
	}
	return evs, "", groups
}

// updateShadow writes the desired section of a shadow from the edit form.
// The form shows the whole desired section: keys removed in the form are
// sent as null, which deletes them (AWS §6.3). The update carries the
// version the form was loaded with, so a shadow changed meanwhile is
// refused with VersionConflictException rather than overwritten.
func (c *console) updateShadow(w http.ResponseWriter, r *http.Request, sess *session) {
	thing := r.PathValue("name")
	shadowName := r.PostFormValue("shadow")
	back := c.path("things/"+pathSeg(thing)) + shadowQuery(shadowName) + "#shadow"
	if c.deps.Shadows == nil {
		c.serviceError(w, r, sess, "update shadow", unavailable("device shadows"))
		return
	}
	text := strings.TrimSpace(r.PostFormValue("desired"))
	if text == "" {
		text = "{}"
	}
	var desired map[string]any
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	if err := dec.Decode(&desired); err != nil || desired == nil || dec.More() {
		sess.addFlash("error", "The desired state must be a JSON object.")
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	var version *int64
	if v := r.PostFormValue("version"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			sess.addFlash("error", "The form's shadow version is not a number.")
			http.Redirect(w, r, back, http.StatusSeeOther)
			return
		}
		version = &n
	}
	ctx := r.Context()
	// The desired section as it is now, to tell the keys the form removed.
	var current map[string]any
	if out, err := c.deps.Shadows.GetThingShadow(ctx, &iotdm.GetThingShadowInput{ThingName: thing, ShadowName: shadowName}); err == nil {
		var doc struct {
			State struct {
				Desired map[string]any `json:"desired"`
			} `json:"state"`
		}
		d := json.NewDecoder(bytes.NewReader(out.Payload))
		d.UseNumber()
		_ = d.Decode(&doc)
		current = doc.State.Desired
	} else if !iotdm.IsCode(err, iotdm.ErrResourceNotFound) {
		_, msg := c.describe("read shadow", err)
		sess.addFlash("error", msg)
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	req := map[string]any{"state": map[string]any{"desired": desiredPatch(current, desired)}}
	if version != nil {
		req["version"] = *version
	}
	payload, err := json.Marshal(req)
	if err != nil {
		c.serviceError(w, r, sess, "encode shadow update", err)
		return
	}
	_, err = c.deps.Shadows.UpdateThingShadow(ctx, &iotdm.UpdateThingShadowInput{ThingName: thing, ShadowName: shadowName, Payload: payload})
	switch {
	case iotdm.IsCode(err, iotdm.ErrVersionConflict):
		sess.addFlash("error", "The shadow changed after you loaded it (you edited version "+r.PostFormValue("version")+"). Review the current state and edit again.")
	case err != nil:
		_, msg := c.describe("update shadow", err)
		sess.addFlash("error", msg)
	default:
		sess.addFlash("ok", "Desired state updated.")
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

func shadowQuery(name string) string {
	if name == "" {
		return ""
	}
	return "?shadow=" + url.QueryEscape(name)
}

// desiredPatch is the update that turns the desired section old into
// new: new's values, and null for each key of old that new lacks, at every
// level of nested objects.
func desiredPatch(old, new map[string]any) map[string]any {
	patch := make(map[string]any, len(new)+len(old))
	for k, v := range new {
		if nv, ok := v.(map[string]any); ok {
			if ov, ok := old[k].(map[string]any); ok {
				patch[k] = desiredPatch(ov, nv)
				continue
			}
		}
		patch[k] = v
	}
	for k := range old {
		if _, ok := new[k]; !ok {
			patch[k] = nil
		}
	}
	return patch
}

// --- certificate state changes, from the thing and certificate pages ---

var certificateTransitions = map[string]bool{
	iotdm.CertificateActive: true, iotdm.CertificateInactive: true, iotdm.CertificateRevoked: true,
}

func (c *console) updateCertificate(w http.ResponseWriter, r *http.Request, sess *session) {
	id := r.PathValue("id")
	status := r.PostFormValue("status")
	back := c.safeNext(r.PostFormValue("return"))
	if c.deps.Certificates == nil {
		c.serviceError(w, r, sess, "update certificate", unavailable("certificates"))
		return
	}
	if !certificateTransitions[status] {
		c.renderError(w, r, sess, http.StatusBadRequest, "Bad request", "Unknown certificate status "+status+".")
		return
	}
	_, err := c.deps.Certificates.UpdateCertificate(r.Context(), &iotdm.UpdateCertificateInput{CertificateID: id, NewStatus: status})
	if err != nil {
		_, msg := c.describe("update certificate", err)
		sess.addFlash("error", msg)
	} else {
		sess.addFlash("ok", "Certificate "+shorten(id, 12)+" is now "+status+".")
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

func (c *console) updateCACertificate(w http.ResponseWriter, r *http.Request, sess *session) {
	id := r.PathValue("id")
	back := c.safeNext(r.PostFormValue("return"))
	if c.deps.Certificates == nil {
		c.serviceError(w, r, sess, "update CA certificate", unavailable("certificates"))
		return
	}
	in := &iotdm.UpdateCACertificateInput{CertificateID: id}
	switch s := r.PostFormValue("status"); s {
	case iotdm.CACertificateActive, iotdm.CACertificateInactive:
		in.NewStatus = s
	case "":
	default:
		c.renderError(w, r, sess, http.StatusBadRequest, "Bad request", "Unknown CA certificate status "+s+".")
		return
	}
	switch s := r.PostFormValue("autoRegistration"); s {
	case iotdm.AutoRegistrationEnable, iotdm.AutoRegistrationDisable:
		in.NewAutoRegistrationStatus = s
	case "":
	default:
		c.renderError(w, r, sess, http.StatusBadRequest, "Bad request", "Unknown auto-registration status "+s+".")
		return
	}
	if _, err := c.deps.Certificates.UpdateCACertificate(r.Context(), in); err != nil {
		_, msg := c.describe("update CA certificate", err)
		sess.addFlash("error", msg)
	} else {
		sess.addFlash("ok", "CA certificate "+shorten(id, 12)+" updated.")
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}
