package control

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/iotdm/iotdm"
)

// DashboardsOptions configures a Dashboards.
type DashboardsOptions struct {
	Region    string // unused in ARNs: dashboards are global
	AccountID string // 12 digits; used in ARNs
	Logger    *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Dashboards implements iotdm.Dashboards on an iotdm.Store: CloudWatch
// dashboards (monitoring 2010-08-01), stored as KindDashboard by name with
// their body as given.
type Dashboards struct {
	store iotdm.Store
	opts  DashboardsOptions
	log   *slog.Logger
}

var _ iotdm.Dashboards = (*Dashboards)(nil)

// NewDashboards returns a Dashboards over store.
func NewDashboards(store iotdm.Store, opts DashboardsOptions) *Dashboards {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Dashboards{store: store, opts: opts, log: opts.Logger.With("component", "dashboards")}
}

var (
	// dashboardNamePattern: "valid characters are A-Z, a-z, 0-9, "-", and
	// "_"" (PutDashboard); the prefix of ListDashboards may also hold ".".
	dashboardNamePattern   = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	dashboardPrefixPattern = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	// widgetTypes are the widget types of the dashboard body structure.
	widgetTypes = []string{"metric", "text", "log", "alarm", "explorer", "custom"}
)

const (
	maxDashboardNameLen    = 255
	maxDashboardsPerDelete = 100
	maxWidgetsPerDashboard = 500
	dashboardsPageSize     = 1000 // ListDashboards: "up to 1000 results on one page"
	dashboardsList         = "dashboards"
	dashboardGridWidth     = 24
	maxWidgetHeight        = 1000
)

// dashboardNameError checks a dashboard name; code is the error each
// operation declares for an invalid parameter.
func dashboardNameError(code iotdm.ErrorCode, name string) error {
	switch {
	case name == "":
		return iotdm.Errorf(code, "The value for field DashboardName must not be empty.")
	case len(name) > maxDashboardNameLen:
		return iotdm.Errorf(code, "The value for field DashboardName must be at most %d characters long.", maxDashboardNameLen)
	case !dashboardNamePattern.MatchString(name):
		return iotdm.Errorf(code, "The value for field DashboardName contains invalid characters. It can only contain alphanumerics, dash (-) and underscore (_).")
	}
	return nil
}

func dashboardNotFound(name string) error {
	return iotdm.Errorf(iotdm.ErrCloudWatchNotFound, "Dashboard %s does not exist", name)
}

func (d *Dashboards) dashboardArn(name string) string {
	return "arn:aws:cloudwatch::" + d.opts.AccountID + ":dashboard/" + name
}

// PutDashboard creates a dashboard or replaces the body of the one of that
// name. A body that is no JSON object, or breaks the dashboard body
// structure, is InvalidParameterInput, whose message lists every problem
// as AWS's does:
//
//	The dashboard body is invalid, there are 1 validation errors:
//	[
//	  {
//	    "dataPath": "",
//	    "message": "Should have required property 'widgets'"
//	  }
//	]
//
// AWS: Tags apply only when the dashboard is created.
func (d *Dashboards) PutDashboard(ctx context.Context, in *iotdm.PutDashboardInput) (*iotdm.PutDashboardOutput, error) {
	if err := dashboardNameError(iotdm.ErrInvalidParameterInput, in.DashboardName); err != nil {
		return nil, err
	}
	if in.DashboardBody == "" {
		return nil, cwMissing("DashboardBody")
	}
	if err := validateTagsCW(in.Tags); err != nil {
		return nil, err
	}
	problems, ok := ValidateDashboardBody(in.DashboardBody)
	if !ok {
		return nil, iotdm.Errorf(iotdm.ErrInvalidParameterInput, "The field DashboardBody must be a valid JSON object")
	}
	if len(problems) > 0 {
		return nil, dashboardInvalid(problems)
	}
	dash := iotdm.StoredDashboard{
		DashboardName: in.DashboardName,
		DashboardArn:  d.dashboardArn(in.DashboardName),
		DashboardBody: in.DashboardBody,
		LastModified:  iotdm.Timestamp{Time: d.opts.Now().UTC().Truncate(time.Millisecond)},
		Tags:          slices.Clone(in.Tags),
	}
	err := d.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		old, exists, err := get[iotdm.StoredDashboard](ctx, tx, iotdm.KindDashboard, in.DashboardName)
		if err != nil {
			return err
		}
		if exists {
			dash.Tags = old.Tags
		}
		return put(ctx, tx, iotdm.KindDashboard, in.DashboardName, dash)
	})
	if err != nil {
		return nil, err
	}
	return &iotdm.PutDashboardOutput{DashboardValidationMessages: []iotdm.DashboardValidationMessage{}}, nil
}

// dashboardInvalid is the InvalidParameterInput of a body with problems.
func dashboardInvalid(problems []iotdm.DashboardValidationMessage) error {
	type item struct {
		DataPath string `json:"dataPath"`
		Message  string `json:"message"`
	}
	items := make([]item, len(problems))
	for i, p := range problems {
		items[i] = item(p)
	}
	b, err := json.MarshalIndent(items, "", "  ")
	if err != nil { // unreachable: strings only
		return fmt.Errorf("encode dashboard problems: %w", err)
	}
	return iotdm.Errorf(iotdm.ErrInvalidParameterInput, "The dashboard body is invalid, there are %d validation errors:\n%s", len(problems), b)
}

// GetDashboard returns one dashboard with its body as it was put.
func (d *Dashboards) GetDashboard(ctx context.Context, in *iotdm.GetDashboardInput) (*iotdm.GetDashboardOutput, error) {
	if err := dashboardNameError(iotdm.ErrInvalidParameterValue, in.DashboardName); err != nil {
		return nil, err
	}
	dash, ok, err := get[iotdm.StoredDashboard](ctx, d.store, iotdm.KindDashboard, in.DashboardName)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, dashboardNotFound(in.DashboardName)
	}
	return &iotdm.GetDashboardOutput{DashboardArn: dash.DashboardArn, DashboardBody: dash.DashboardBody, DashboardName: dash.DashboardName}, nil
}

// ListDashboards lists dashboards in name order, 1000 a page.
func (d *Dashboards) ListDashboards(ctx context.Context, in *iotdm.ListDashboardsInput) (*iotdm.ListDashboardsOutput, error) {
	if p := in.DashboardNamePrefix; p != "" && (len(p) > maxDashboardNameLen || !dashboardPrefixPattern.MatchString(p)) {
		return nil, cwInvalidValue("The value for field DashboardNamePrefix contains invalid characters. It can only contain alphanumerics, dot (.), dash (-) and underscore (_), at most 255.")
	}
	after, err := decodeToken(dashboardsList, in.NextToken)
	if err != nil {
		return nil, cwInvalidValue("Invalid NextToken: %s", in.NextToken)
	}
	p := pager[iotdm.DashboardEntry]{size: dashboardsPageSize}
	err = d.store.View(ctx, func(ctx context.Context, tx iotdm.ReadTx, _ uint64) error {
		return scanAfter(ctx, tx, iotdm.KindDashboard, in.DashboardNamePrefix, after, func(key string, s *iotdm.StoredDashboard) error {
			if !p.add(key, iotdm.DashboardEntry{DashboardName: s.DashboardName, DashboardArn: s.DashboardArn,
				LastModified: s.LastModified, Size: int64(len(s.DashboardBody))}) {
				return iotdm.ErrStopScan
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	out := &iotdm.ListDashboardsOutput{DashboardEntries: p.page(), NextToken: p.next(dashboardsList)}
	return out, nil
}

// DeleteDashboards deletes the named dashboards, all or none: a name that
// matches no dashboard is ResourceNotFound and nothing is deleted.
func (d *Dashboards) DeleteDashboards(ctx context.Context, in *iotdm.DeleteDashboardsInput) (*iotdm.Empty, error) {
	if len(in.DashboardNames) == 0 {
		return nil, cwConstraint(nil, "dashboardNames", "Member must not be null")
	}
	if len(in.DashboardNames) > maxDashboardsPerDelete {
		return nil, cwInvalidValue("At most %d dashboards can be deleted at once.", maxDashboardsPerDelete)
	}
	for _, n := range in.DashboardNames {
		if err := dashboardNameError(iotdm.ErrInvalidParameterValue, n); err != nil {
			return nil, err
		}
	}
	err := d.store.Update(ctx, func(ctx context.Context, tx iotdm.Tx) error {
		for _, n := range in.DashboardNames {
			_, ok, err := tx.Get(ctx, iotdm.KindDashboard, n)
			if err != nil {
				return err
			}
			if !ok {
				return dashboardNotFound(n)
			}
		}
		for _, n := range in.DashboardNames {
			if err := tx.Delete(ctx, iotdm.KindDashboard, n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &iotdm.Empty{}, nil
}

// ValidateDashboardBody checks body against the dashboard body structure
// (widgets and their grid placement, the required properties of each
// widget type, periodOverride). ok is false when body is no JSON object;
// otherwise problems lists what is wrong, in document order, worded as
// AWS's validation messages are. It does not check metrics or regions
// beyond their shape.
func ValidateDashboardBody(body string) (problems []iotdm.DashboardValidationMessage, ok bool) {
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err == nil { // trailing data
		return nil, false
	}
	root, isObject := doc.(map[string]any)
	if !isObject {
		return nil, false
	}
	var v dashboardValidator
	v.body(root)
	return v.problems, true
}

type dashboardValidator struct {
	problems []iotdm.DashboardValidationMessage
}

func (v *dashboardValidator) add(path, format string, args ...any) {
	v.problems = append(v.problems, iotdm.DashboardValidationMessage{DataPath: path, Message: fmt.Sprintf(format, args...)})
}

func (v *dashboardValidator) body(root map[string]any) {
	if p, ok := root["periodOverride"]; ok && p != "auto" && p != "inherit" {
		v.add("/periodOverride", "Should be equal to one of the allowed values")
	}
	for _, k := range []string{"start", "end"} {
		if s, ok := root[k]; ok {
			if _, isString := s.(string); !isString {
				v.add("/"+k, "Should be string")
			}
		}
	}
	if vars, ok := root["variables"]; ok {
		if _, isArray := vars.([]any); !isArray {
			v.add("/variables", "Should be array")
		}
	}
	raw, ok := root["widgets"]
	if !ok {
		v.add("", "Should have required property 'widgets'")
		return
	}
	widgets, ok := raw.([]any)
	if !ok {
		v.add("/widgets", "Should be array")
		return
	}
	if len(widgets) > maxWidgetsPerDashboard {
		v.add("/widgets", "Should NOT have more than %d items", maxWidgetsPerDashboard)
	}
	for i, w := range widgets {
		v.widget(fmt.Sprintf("/widgets/%d", i), w)
	}
}

func (v *dashboardValidator) widget(path string, raw any) {
	w, ok := raw.(map[string]any)
	if !ok {
		v.add(path, "Should be object")
		return
	}
	v.integer(path+"/x", w["x"], 0, dashboardGridWidth-1)
	v.integer(path+"/y", w["y"], 0, -1)
	v.integer(path+"/width", w["width"], 1, dashboardGridWidth)
	v.integer(path+"/height", w["height"], 1, maxWidgetHeight)
	typ, hasType := w["type"]
	if !hasType {
		v.add(path, "Should have required property 'type'")
		return
	}
	t, _ := typ.(string)
	if !slices.Contains(widgetTypes, t) {
		v.add(path+"/type", "Should be equal to one of the allowed values")
		return
	}
	rawProps, hasProps := w["properties"]
	if !hasProps {
		v.add(path, "Should have required property 'properties'")
		return
	}
	props, ok := rawProps.(map[string]any)
	if !ok {
		v.add(path+"/properties", "Should be object")
		return
	}
	path += "/properties"
	switch t {
	case "text":
		v.requiredString(path, props, "markdown")
	case "log":
		v.requiredString(path, props, "query")
	case "alarm":
		alarms, ok := props["alarms"]
		if !ok {
			v.add(path, "Should have required property 'alarms'")
		} else if list, isArray := alarms.([]any); !isArray {
			v.add(path+"/alarms", "Should be array")
		} else {
			for j, a := range list {
				if _, isString := a.(string); !isString {
					v.add(fmt.Sprintf("%s/alarms/%d", path, j), "Should be string")
				}
			}
		}
	case "metric":
		v.metricProperties(path, props)
	}
}

// metricProperties checks a metric widget: metrics (an array of arrays of
// strings, each with an optional rendering object last) or an alarm
// annotation.
func (v *dashboardValidator) metricProperties(path string, props map[string]any) {
	metrics, hasMetrics := props["metrics"]
	annotations, hasAnnotations := props["annotations"].(map[string]any)
	_, hasAlarmAnnotation := annotations["alarms"]
	if !hasMetrics && !(hasAnnotations && hasAlarmAnnotation) {
		v.add(path, "Should have required property 'metrics'")
		v.add(path, "The metric widget should have specified a region and a data source or an alarm annotation")
		v.add(path, "Should have required property 'annotations'")
		return
	}
	if !hasMetrics {
		return
	}
	list, ok := metrics.([]any)
	if !ok {
		v.add(path+"/metrics", "Should be array")
		return
	}
	for j, m := range list {
		p := fmt.Sprintf("%s/metrics/%d", path, j)
		row, ok := m.([]any)
		if !ok {
			v.add(p, "Should be array")
			v.add(p, `Field "metrics" has to be an array of array of strings, with an optional metricRenderer object as last element`)
			continue
		}
		for k, cell := range row {
			_, isString := cell.(string)
			_, isObject := cell.(map[string]any)
			if !isString && !(isObject && k == len(row)-1) {
				v.add(p, `Field "metrics" has to be an array of array of strings, with an optional metricRenderer object as last element`)
				break
			}
		}
	}
}

func (v *dashboardValidator) requiredString(path string, props map[string]any, name string) {
	s, ok := props[name]
	if !ok {
		v.add(path, "Should have required property '%s'", name)
		return
	}
	if _, isString := s.(string); !isString {
		v.add(path+"/"+name, "Should be string")
	}
}

// integer checks an optional integer member within [lo, hi] (hi < 0: no
// upper bound).
func (v *dashboardValidator) integer(path string, raw any, lo, hi int64) {
	if raw == nil {
		return
	}
	num, ok := raw.(json.Number)
	f, err := num.Float64()
	if !ok || err != nil || f != math.Trunc(f) {
		v.add(path, "Should be integer")
		return
	}
	switch n := int64(f); {
	case n < lo:
		v.add(path, "Should be >= %d", lo)
	case hi >= 0 && n > hi:
		v.add(path, "Should be <= %d", hi)
	}
}
