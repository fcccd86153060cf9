// Package console is iotdm's web console: server-rendered pages over the
// iotdm services for people who would rather look than read. It signs
// operators in with an access key and secret, shows the fleet at a glance
// (connected devices over time, firmware and location distributions, alarms,
// recent events, live over server-sent events fed by the store's change
// feed), and lets them search things with the fleet query language, open a
// thing (attributes, groups, connectivity, shadow, certificates, effective
// policies), walk the group hierarchy, inspect policies and certificates,
// chart fleet metrics, alarms and dashboards, follow jobs (progress by
// status, each device's execution) and cancel them, and read stacks.
//
// Everything the pages need is embedded: templates, the stylesheet, a little
// JavaScript and the uPlot charting library (built from npm by web/build.sh
// and committed under static/vendor). Pages work without JavaScript except
// for the charts and live updates.
//
// The console is an adapter: it imports the root package and the standard
// library only, and meets the services in cmd/iotdm.
package console

import (
	"context"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/iotdm/iotdm"
)

// Deps are the services the console reads and drives. Keys is required;
// every other member may be nil, and the pages that need a missing service
// say it is not available instead of failing.
type Deps struct {
	// Keys returns the secret of an access key id, as the API edge checks
	// request signatures: sign-in compares the secret typed in with it in
	// constant time. Sessions end when the key goes away or its secret
	// changes.
	Keys func(accessKeyID string) (secret string, ok bool)

	// Store feeds the live updates (its change feed, through iotdm.Follow)
	// and the recent events of the overview.
	Store iotdm.Store

	Registry     iotdm.Registry
	Search       iotdm.Search
	Shadows      iotdm.Shadows
	Connectivity iotdm.Connectivity
	Certificates iotdm.Certificates
	Policies     iotdm.Policies
	FleetMetrics iotdm.FleetMetrics
	Alarms       iotdm.Alarms
	Dashboards   iotdm.Dashboards
	LogGroups    iotdm.LogGroups
	Stacks       iotdm.Stacks
	// Jobs is the AWS IoT Jobs control plane: the jobs pages and their
	// cancel form.
	Jobs    iotdm.Jobs
	Metrics iotdm.MetricStore
	// Indexing lets the overview add its distribution fields to the fleet
	// index's custom fields, on an operator's request.
	Indexing iotdm.Indexing

	// LogEvents is the hook for a thing's recent log events on its page
	// (CloudWatch Logs events are not stored yet). Nil shows a note.
	LogEvents func(ctx context.Context, thingName string, limit int) ([]LogEvent, error)

	Logger *slog.Logger
}

// LogEvent is one device log line for the thing page.
type LogEvent struct {
	Time      time.Time
	LogGroup  string
	LogStream string
	Message   string
}

// Options tune the console. The zero value serves at /console/.
type Options struct {
	// Prefix is the path the console is mounted at, with a trailing slash;
	// default "/console/".
	Prefix string
	// SessionTTL is how long a sign-in lasts; default 12 hours.
	SessionTTL time.Duration
	// SecureCookies marks cookies Secure even over plain HTTP, for a
	// console behind a TLS-terminating proxy. Requests that arrive over
	// TLS always get Secure cookies.
	SecureCookies bool
	// ConnectedMetric is the metric of the overview's "connected devices"
	// chart until the viewer picks another; default the seed stack's
	// IoTFleetMetrics ConnectedDevices-IoTDeviceManagementStack,
	// AggregationType=count.
	ConnectedMetric iotdm.Metric
	// DistributionFields are the fields of the overview's distribution
	// charts; default attributes.firmware and attributes.location.
	DistributionFields []string
	// LiveInterval is the least time between two live count updates of
	// one viewer; default one second.
	LiveInterval time.Duration
	// Region and AccountID prefill ARNs in forms (TestAuthorization).
	Region    string
	AccountID string
	// Shutdown, when closed, ends the live event streams. Close it when the
	// HTTP server shuts down (http.Server.RegisterOnShutdown): Shutdown
	// waits for open requests, and a stream is open as long as a console
	// page is.
	Shutdown <-chan struct{}
	// Now is the clock, for tests; default time.Now.
	Now func() time.Time
}

// The seed stack's connected-devices fleet metric (stacks/iot-device-management.yaml).
var defaultConnectedMetric = iotdm.Metric{
	Namespace:  "IoTFleetMetrics",
	MetricName: "ConnectedDevices-IoTDeviceManagementStack",
	Dimensions: []iotdm.Dimension{{Name: "AggregationType", Value: "count"}},
}

func (o Options) withDefaults() Options {
	if o.Prefix == "" {
		o.Prefix = "/console/"
	}
	if !strings.HasPrefix(o.Prefix, "/") {
		o.Prefix = "/" + o.Prefix
	}
	if !strings.HasSuffix(o.Prefix, "/") {
		o.Prefix += "/"
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = 12 * time.Hour
	}
	if o.ConnectedMetric.MetricName == "" {
		o.ConnectedMetric = defaultConnectedMetric
	}
	if len(o.DistributionFields) == 0 {
		o.DistributionFields = []string{"attributes.firmware", "attributes.location"}
	}
	if o.LiveInterval <= 0 {
		o.LiveInterval = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// console is the handler New returns.
type console struct {
	deps     Deps
	opts     Options
	log      *slog.Logger
	sessions *sessions
	limiter  *signinLimiter
	pages    *pages
	static   http.Handler
	mux      *http.ServeMux
}

// New returns the console's handler. Mount it at opts.Prefix (default
// /console/); it answers every path under the prefix and the prefix without
// its slash, and 404 elsewhere. It starts no goroutine of its own: live
// updates run in the requests that asked for them.
func New(deps Deps, opts Options) http.Handler {
	opts = opts.withDefaults()
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &console{
		deps:     deps,
		opts:     opts,
		log:      logger.With("component", "console"),
		sessions: newSessions(opts.SessionTTL, opts.Now),
		limiter:  newSigninLimiter(opts.Now),
	}
	staticFS, err := fs.Sub(assets, "static")
	if err != nil {
		panic(err) // the embedded tree always has static/
	}
	c.pages = mustParsePages(opts.Prefix, staticFS)
	c.static = staticHandler(staticFS)
	c.routes()
	return c
}

func (c *console) routes() {
	p := c.opts.Prefix
	m := http.NewServeMux()
	c.mux = m
	// Public: assets and sign-in.
	m.Handle("GET "+p+"static/", http.StripPrefix(p+"static/", c.static))
	m.HandleFunc("GET "+p+"signin", c.signinPage)
	m.HandleFunc("POST "+p+"signin", c.signin)

	auth := func(pattern string, h func(http.ResponseWriter, *http.Request, *session)) {
		m.Handle(pattern, c.authenticated(h))
	}
	auth("POST "+p+"signout", c.signout)
	auth("GET "+p+"{$}", c.overview)
	auth("GET "+p+"events", c.events)
	auth("GET "+p+"api/metric", c.metricSeries)

	auth("GET "+p+"things", c.things)
	auth("GET "+p+"things/{name}", c.thing)
	auth("POST "+p+"things/{name}/shadow", c.updateShadow)
	auth("POST "+p+"certificates/{id}/status", c.updateCertificate)
	auth("POST "+p+"cas/{id}/status", c.updateCACertificate)
	auth("POST "+p+"indexing/custom-field", c.addCustomField)

	auth("GET "+p+"groups", c.groups)
	auth("GET "+p+"groups/{name}", c.group)

	auth("GET "+p+"security", c.securityHome)
	auth("GET "+p+"security/policies", c.policies)
	auth("GET "+p+"security/policies/{name}", c.policy)
	auth("POST "+p+"security/policies/{name}/default", c.setDefaultPolicyVersion)
	auth("GET "+p+"security/certificates", c.certificates)
	auth("GET "+p+"security/certificates/{id}", c.certificate)
	auth("GET "+p+"security/cas", c.caCertificates)
	auth("GET "+p+"security/test", c.testAuthorization)

	auth("GET "+p+"monitoring", c.monitoring)
	auth("GET "+p+"monitoring/alarms/{name}", c.alarm)
	auth("GET "+p+"monitoring/dashboards", c.dashboards)
	auth("GET "+p+"monitoring/dashboards/{name}", c.dashboard)

	auth("GET "+p+"jobs", c.jobs)
	auth("GET "+p+"jobs/{jobId}", c.job)
	auth("POST "+p+"jobs/{jobId}/cancel", c.cancelJob)

	auth("GET "+p+"stacks", c.stacks)
	auth("GET "+p+"stacks/{name}", c.stack)

	m.HandleFunc(p, c.notFound)
}

// ServeHTTP sets the security headers every response carries and routes.
func (c *console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// No inline script or style anywhere: charts and live updates come
	// from console.js, their data from data-* attributes and fetches.
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	if r.URL.Path+"/" == c.opts.Prefix {
		http.Redirect(w, r, c.opts.Prefix, http.StatusMovedPermanently)
		return
	}
	if !strings.HasPrefix(r.URL.Path, c.opts.Prefix) {
		http.NotFound(w, r)
		return
	}
	c.mux.ServeHTTP(w, r)
}

func (c *console) notFound(w http.ResponseWriter, r *http.Request) {
	sess := c.sessionOf(r)
	if sess == nil {
		c.redirectToSignin(w, r)
		return
	}
	c.renderError(w, r, sess, http.StatusNotFound, "Not found", "There is no console page at "+r.URL.Path+".")
}

// path returns the console URL of a page below the prefix.
func (c *console) path(rel string) string { return c.opts.Prefix + strings.TrimPrefix(rel, "/") }
