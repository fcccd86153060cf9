package console

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/iotdm/iotdm"
)

// client drives a console handler like a browser: it keeps cookies and
// knows the session's CSRF token.
type client struct {
	t       *testing.T
	h       http.Handler
	cookies map[string]*http.Cookie
	csrf    string
}

func newClient(t *testing.T, h http.Handler) *client {
	return &client{t: t, h: h, cookies: map[string]*http.Cookie{}}
}

func (c *client) do(method, path string, form url.Values, mod ...func(*http.Request)) *httptest.ResponseRecorder {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, path, body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, ck := range c.cookies {
		r.AddCookie(ck)
	}
	for _, m := range mod {
		m(r)
	}
	w := httptest.NewRecorder()
	c.h.ServeHTTP(w, r)
	for _, ck := range w.Result().Cookies() {
		if ck.MaxAge < 0 {
			delete(c.cookies, ck.Name)
		} else {
			c.cookies[ck.Name] = ck
		}
	}
	return w
}

func (c *client) get(path string) *httptest.ResponseRecorder { return c.do(http.MethodGet, path, nil) }

// post sends a form with the session's CSRF token.
func (c *client) post(path string, form url.Values) *httptest.ResponseRecorder {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set(csrfField, c.csrf)
	return c.do(http.MethodPost, path, form)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn signs in with the test key and remembers the CSRF token.
func (c *client) signIn() {
	c.t.Helper()
	w := c.get("/console/signin")
	m := csrfRE.FindStringSubmatch(w.Body.String())
	if m == nil {
		c.t.Fatalf("sign-in page has no CSRF field:\n%s", w.Body)
	}
	w = c.do(http.MethodPost, "/console/signin", url.Values{"access_key_id": {testKeyID}, "secret_access_key": {testSecret}, csrfField: {m[1]}})
	if w.Code != http.StatusSeeOther {
		c.t.Fatalf("sign in = %d, want 303:\n%s", w.Code, w.Body)
	}
	w = c.get("/console/")
	m = csrfRE.FindStringSubmatch(w.Body.String())
	if m == nil {
		c.t.Fatalf("overview has no CSRF field (status %d)", w.Code)
	}
	c.csrf = m[1]
}

func newTestConsole(t testing.TB, w *world) http.Handler {
	t.Helper()
	return New(w.deps(), Options{Region: testRegion, AccountID: testAccount, Now: func() time.Time { return w.now }})
}

func signedIn(t *testing.T, extra int) (*client, *world) {
	w := newWorld(extra, testNow)
	c := newClient(t, newTestConsole(t, w))
	c.signIn()
	return c, w
}

func TestSignIn(t *testing.T) {
	w := newWorld(0, testNow)
	h := newTestConsole(t, w)

	t.Run("pages redirect to sign-in with the page to return to", func(t *testing.T) {
		c := newClient(t, h)
		r := c.get("/console/things?q=x")
		if r.Code != http.StatusSeeOther || r.Header().Get("Location") != "/console/signin?next=%2Fconsole%2Fthings%3Fq%3Dx" {
			t.Fatalf("GET /console/things = %d %q, want 303 to sign-in", r.Code, r.Header().Get("Location"))
		}
	})
	t.Run("event stream and JSON answer 401", func(t *testing.T) {
		c := newClient(t, h)
		for _, p := range []string{"/console/events", "/console/api/metric?ns=a&name=b"} {
			if r := c.get(p); r.Code != http.StatusUnauthorized {
				t.Errorf("GET %s = %d, want 401", p, r.Code)
			}
		}
	})
	t.Run("the prefix without its slash redirects", func(t *testing.T) {
		if r := newClient(t, h).get("/console"); r.Code != http.StatusMovedPermanently || r.Header().Get("Location") != "/console/" {
			t.Errorf("GET /console = %d %q", r.Code, r.Header().Get("Location"))
		}
	})
	t.Run("wrong secret is refused", func(t *testing.T) {
		c := newClient(t, h)
		token := csrfRE.FindStringSubmatch(c.get("/console/signin").Body.String())[1]
		r := c.do(http.MethodPost, "/console/signin", url.Values{"access_key_id": {testKeyID}, "secret_access_key": {"nope"}, csrfField: {token}})
		if r.Code != http.StatusUnauthorized || !strings.Contains(r.Body.String(), "not correct") {
			t.Fatalf("sign in with a wrong secret = %d, want 401 with a message", r.Code)
		}
		if _, ok := c.cookies[sessionCookie]; ok {
			t.Error("a failed sign-in set a session cookie")
		}
	})
	t.Run("unknown key is refused", func(t *testing.T) {
		c := newClient(t, h)
		token := csrfRE.FindStringSubmatch(c.get("/console/signin").Body.String())[1]
		r := c.do(http.MethodPost, "/console/signin", url.Values{"access_key_id": {"AKIAUNKNOWN"}, "secret_access_key": {testSecret}, csrfField: {token}})
		if r.Code != http.StatusUnauthorized {
			t.Fatalf("sign in with an unknown key = %d, want 401", r.Code)
		}
	})
	t.Run("sign-in form needs its CSRF cookie", func(t *testing.T) {
		c := newClient(t, h)
		r := c.do(http.MethodPost, "/console/signin", url.Values{"access_key_id": {testKeyID}, "secret_access_key": {testSecret}, csrfField: {"forged"}})
		if r.Code != http.StatusForbidden {
			t.Fatalf("sign in without the form's cookie = %d, want 403", r.Code)
		}
	})
	t.Run("sign-in from another site is refused", func(t *testing.T) {
		c := newClient(t, h)
		token := csrfRE.FindStringSubmatch(c.get("/console/signin").Body.String())[1]
		r := c.do(http.MethodPost, "/console/signin", url.Values{"access_key_id": {testKeyID}, "secret_access_key": {testSecret}, csrfField: {token}},
			func(r *http.Request) { r.Header.Set("Origin", "https://evil.example") })
		if r.Code != http.StatusForbidden {
			t.Fatalf("cross-site sign in = %d, want 403", r.Code)
		}
	})
	t.Run("session cookie is HttpOnly and SameSite=Strict, Secure over TLS", func(t *testing.T) {
		for _, useTLS := range []bool{false, true} {
			c := newClient(t, h)
			token := csrfRE.FindStringSubmatch(c.get("/console/signin").Body.String())[1]
			r := c.do(http.MethodPost, "/console/signin", url.Values{"access_key_id": {testKeyID}, "secret_access_key": {testSecret}, csrfField: {token}, "next": {"/console/stacks"}},
				func(r *http.Request) {
					if useTLS {
						r.TLS = &tls.ConnectionState{}
					}
				})
			if r.Code != http.StatusSeeOther || r.Header().Get("Location") != "/console/stacks" {
				t.Fatalf("sign in = %d to %q, want 303 to /console/stacks", r.Code, r.Header().Get("Location"))
			}
			ck := c.cookies[sessionCookie]
			if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure != useTLS || ck.Path != "/console/" {
				t.Errorf("TLS %v: session cookie = %+v, want HttpOnly, SameSite=Strict, Secure=%v, Path=/console/", useTLS, ck, useTLS)
			}
		}
	})
	t.Run("next never leaves the console", func(t *testing.T) {
		c := newClient(t, h)
		token := csrfRE.FindStringSubmatch(c.get("/console/signin").Body.String())[1]
		r := c.do(http.MethodPost, "/console/signin", url.Values{"access_key_id": {testKeyID}, "secret_access_key": {testSecret}, csrfField: {token}, "next": {"//evil.example/console/"}})
		if got := r.Header().Get("Location"); got != "/console/" {
			t.Errorf("sign in with next=//evil.example = redirect to %q, want /console/", got)
		}
	})
	t.Run("repeated failures are throttled", func(t *testing.T) {
		h := newTestConsole(t, newWorld(0, testNow))
		c := newClient(t, h)
		var last int
		for range signinFailures + 1 {
			token := csrfRE.FindStringSubmatch(c.get("/console/signin").Body.String())[1]
			last = c.do(http.MethodPost, "/console/signin", url.Values{"access_key_id": {testKeyID}, "secret_access_key": {"guess"}, csrfField: {token}}).Code
		}
		if last != http.StatusTooManyRequests {
			t.Errorf("sign-in after %d failures = %d, want 429", signinFailures, last)
		}
	})
}

func TestSessionEndsWhenKeyChanges(t *testing.T) {
	w := newWorld(0, testNow)
	secret := testSecret
	deps := w.deps()
	deps.Keys = func(id string) (string, bool) { return secret, id == testKeyID }
	c := newClient(t, New(deps, Options{Now: func() time.Time { return w.now }}))
	c.signIn()
	if r := c.get("/console/"); r.Code != http.StatusOK {
		t.Fatalf("overview = %d, want 200", r.Code)
	}
	secret = "rotated-secret"
	if r := c.get("/console/"); r.Code != http.StatusSeeOther {
		t.Fatalf("overview after the secret changed = %d, want 303 to sign-in", r.Code)
	}
}

func TestSessionExpires(t *testing.T) {
	w := newWorld(0, testNow)
	now := w.now
	c := newClient(t, New(w.deps(), Options{SessionTTL: time.Hour, Now: func() time.Time { return now }}))
	c.signIn()
	now = now.Add(61 * time.Minute)
	if r := c.get("/console/"); r.Code != http.StatusSeeOther {
		t.Fatalf("overview after the session's TTL = %d, want 303", r.Code)
	}
}

func TestSignOut(t *testing.T) {
	c, _ := signedIn(t, 0)
	old := *c.cookies[sessionCookie]
	if r := c.post("/console/signout", nil); r.Code != http.StatusSeeOther {
		t.Fatalf("sign out = %d, want 303", r.Code)
	}
	c.cookies[sessionCookie] = &old // a stolen cookie is no use after sign-out
	if r := c.get("/console/"); r.Code != http.StatusSeeOther {
		t.Fatalf("overview with a signed-out cookie = %d, want 303", r.Code)
	}
}

func TestCSRF(t *testing.T) {
	c, w := signedIn(t, 0)
	id := certificateIDOf(w.thingCerts["temp-sensor-01"][0])
	path := "/console/certificates/" + id + "/status"
	form := func() url.Values { return url.Values{"status": {"INACTIVE"}, "return": {"/console/"}} }
	t.Run("missing token", func(t *testing.T) {
		if r := c.do(http.MethodPost, path, form()); r.Code != http.StatusForbidden {
			t.Errorf("POST without a CSRF token = %d, want 403", r.Code)
		}
	})
	t.Run("wrong token", func(t *testing.T) {
		f := form()
		f.Set(csrfField, "x"+c.csrf)
		if r := c.do(http.MethodPost, path, f); r.Code != http.StatusForbidden {
			t.Errorf("POST with a wrong CSRF token = %d, want 403", r.Code)
		}
	})
	t.Run("cross-site request with the right token", func(t *testing.T) {
		f := form()
		f.Set(csrfField, c.csrf)
		if r := c.do(http.MethodPost, path, f, func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") }); r.Code != http.StatusForbidden {
			t.Errorf("cross-site POST = %d, want 403", r.Code)
		}
		if r := c.do(http.MethodPost, path, f, func(r *http.Request) { r.Header.Set("Origin", "http://evil.example") }); r.Code != http.StatusForbidden {
			t.Errorf("POST from another origin = %d, want 403", r.Code)
		}
	})
	if st := w.certs[id].Status; st != iotdm.CertificateActive {
		t.Fatalf("refused requests changed the certificate to %s", st)
	}
	t.Run("right token", func(t *testing.T) {
		r := c.post(path, form())
		if r.Code != http.StatusSeeOther {
			t.Fatalf("POST with the token = %d, want 303", r.Code)
		}
		if st := w.certs[id].Status; st != iotdm.CertificateInactive {
			t.Errorf("certificate status = %s, want INACTIVE", st)
		}
	})
}

// TestPages renders every page with the fakes and checks what each must
// show, the security headers, that every POST form carries the CSRF token
// and that the markup passes basic accessibility checks.
func TestPages(t *testing.T) {
	c, w := signedIn(t, 30)
	cert := certificateIDOf(w.thingCerts["temp-sensor-01"][0])
	tests := []struct {
		path string
		code int
		want []string
	}{
		{"/console/", 200, []string{"Fleet overview", `data-count="things"`, ">35<", "Connected devices over time", "Recent events", "temp-sensor-01", "data-live-stream", "Devices by firmware", "from a sample", "alarms ALARM"}},
		{"/console/things?size=25", 200, []string{"35</strong> things match", "device-0000000", "Next page"}},
		{"/console/things?q=attributes.firmware%3A1.0.0", 200, []string{"<strong data-testid=\"total\">7</strong> things match", "temp-sensor-01", "device-0000000"}},
		{"/console/things/temp-sensor-01", 200, []string{"Registry", "Building-A", "ProductionSensors-IoTDeviceManagementStack", "FirmwareLegacy-IoTDeviceManagementStack", "CONNECTED", "Deactivate", "Revoke", "&#34;interval&#34;: 60", "device-policy-IoTDeviceManagementStack", "Save desired state", "/aws/iot/device-management/IoTDeviceManagementStack"}},
		{"/console/things/nope", 404, []string{"cannot be found"}},
		{"/console/groups", 200, []string{"Static hierarchy", "ProductionSensors-IoTDeviceManagementStack", "ProductionSensors-EU", "FirmwareLegacy-IoTDeviceManagementStack", "attributes.firmware:1.0.0", "data-group-count"}},
		{"/console/groups/ProductionSensors-IoTDeviceManagementStack", 200, []string{"static", "temp-sensor-01", "deviceCategory", "Child groups", "ProductionSensors-EU"}},
		{"/console/groups/FirmwareLegacy-IoTDeviceManagementStack", 200, []string{"dynamic", "attributes.firmware:1.0.0", "temp-sensor-01"}},
		{"/console/security", 303, nil},
		{"/console/security/policies", 200, []string{"device-policy-IoTDeviceManagementStack"}},
		{"/console/security/policies/device-policy-IoTDeviceManagementStack", 200, []string{"Versions", "Compare versions", "d-add", "iot:Publish", "default"}},
		{"/console/security/certificates", 200, []string{cert[:16], "ACTIVE"}},
		{"/console/security/certificates/" + cert, 200, []string{cert, "temp-sensor-01", "device-policy-IoTDeviceManagementStack", "BEGIN CERTIFICATE"}},
		{"/console/security/cas", 200, []string{"ca0000000000", "Enable auto-registration"}},
		{"/console/security/test", 200, []string{"Test authorization", "Principal"}},
		{"/console/security/test?run=1&principal=" + url.QueryEscape(w.thingCerts["temp-sensor-01"][0]) + "&action=PUBLISH&resources=arn%3Aaws%3Aiot%3Aus-east-1%3A123456789012%3Atopic%2Fdevices%2Ftemp-sensor-01%2Fx", 200, []string{"ALLOWED", "device-policy-IoTDeviceManagementStack"}},
		{"/console/security/test?run=1&action=PUBLISH", 400, []string{"InvalidRequestException"}},
		{"/console/monitoring", 200, []string{"Fleet metrics", "ConnectedDevices-IoTDeviceManagementStack", "connectivity.connected:true", "DisconnectedDevices-IoTDeviceManagementStack", "ALARM", "data-chart"}},
		{"/console/monitoring/alarms/DisconnectedDevices-IoTDeviceManagementStack", 200, []string{"LessThanThreshold", "threshold", "data-chart"}},
		{"/console/monitoring/alarms/nope", 404, nil},
		{"/console/monitoring/dashboards", 200, []string{"IoTFleet-IoTDeviceManagementStack"}},
		{"/console/monitoring/dashboards/IoTFleet-IoTDeviceManagementStack", 200, []string{"Connected Devices", "Devices on Latest Firmware", "w-12", "w-24", "Fleet health", "data-chart"}},
		{"/console/monitoring/dashboards/nope", 404, nil},
		{"/console/jobs", 200, []string{">Jobs<", "firmware-update-1-2-0", "reboot-sensors", "CONTINUOUS", "SNAPSHOT", `class="badge warn">IN_PROGRESS`,
			"2 of 5 done · 2 queued, 1 in progress, 1 succeeded, 1 failed", "4 of 4 done · 2 succeeded, 1 rejected, 1 timed out", `class="p-succeeded"`, `aria-current="page">Jobs`}},
		{"/console/jobs?status=COMPLETED", 200, []string{"reboot-sensors"}},
		{"/console/jobs/firmware-update-1-2-0", 200, []string{"Job document", "&#34;operation&#34;: &#34;firmwareUpdate&#34;", "FirmwareLegacy-IoTDeviceManagementStack",
			`data-testid="count-QUEUED">2<`, `data-testid="count-SUCCEEDED">1<`, `data-testid="count-FAILED">1<`, `data-testid="count-TIMED_OUT">0<`,
			`href="/console/things/temp-sensor-03"`, `class="badge bad">FAILED`, "step</span>=<span class=\"v\">failed", "Cancel job", `action="/console/jobs/firmware-update-1-2-0/cancel"`}},
		{"/console/jobs/firmware-update-1-2-0?status=QUEUED", 200, []string{"temp-sensor-04", "humidity-sensor-01"}},
		{"/console/jobs/reboot-sensors", 200, []string{"COMPLETED", `data-testid="count-REJECTED">1<`, "temp-sensor-02"}},
		{"/console/jobs/nope", 404, []string{"does not exist"}},
		{"/console/stacks", 200, []string{"IoTDeviceManagementStack", "CREATE_COMPLETE", "Show 1 deleted stack"}},
		{"/console/stacks/IoTDeviceManagementStack", 200, []string{"Outputs", "ThingGroupName", "SensorThingType", "AWS::IoT::ThingType", "Resource creation Initiated", "env"}},
		{"/console/stacks/nope", 404, []string{"does not exist"}},
		{"/console/no/such/page", 404, nil},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r := c.get(tt.path)
			body := r.Body.String()
			if r.Code != tt.code {
				t.Fatalf("GET %s = %d, want %d:\n%s", tt.path, r.Code, tt.code, body)
			}
			if !strings.Contains(r.Header().Get("Content-Security-Policy"), "script-src 'self'") {
				t.Errorf("GET %s: Content-Security-Policy = %q", tt.path, r.Header().Get("Content-Security-Policy"))
			}
			for _, want := range tt.want {
				if !strings.Contains(body, want) {
					t.Errorf("GET %s: page lacks %q", tt.path, want)
				}
			}
			if r.Code == 303 {
				return
			}
			checkForms(t, tt.path, body)
			checkAccessibility(t, tt.path, body)
		})
	}
}

var (
	formRE  = regexp.MustCompile(`(?s)<form\b([^>]*)>(.*?)</form>`)
	fieldRE = regexp.MustCompile(`<(input|select|textarea)\b([^>]*)>`)
	idRE    = regexp.MustCompile(`\bid="([^"]+)"`)
	labelRE = regexp.MustCompile(`<label\b[^>]*\bfor="([^"]+)"`)
)

// checkForms: every POST form carries the session's CSRF token.
func checkForms(t *testing.T, path, body string) {
	t.Helper()
	for _, m := range formRE.FindAllStringSubmatch(body, -1) {
		if strings.Contains(m[1], `method="post"`) && !strings.Contains(m[2], `name="csrf"`) {
			t.Errorf("GET %s: POST form %s has no CSRF field", path, m[1])
		}
	}
}

// checkAccessibility: a language, landmarks, one h1, a label for every
// visible form field, no inline script or style (the CSP forbids them).
func checkAccessibility(t *testing.T, path, body string) {
	t.Helper()
	for _, want := range []string{`<html lang="en">`, `<main id="main"`, `<title>`, `class="skip" href="#main"`} {
		if !strings.Contains(body, want) {
			t.Errorf("GET %s: page lacks %s", path, want)
		}
	}
	if n := strings.Count(body, "<h1"); n != 1 {
		t.Errorf("GET %s: %d h1 headings, want 1", path, n)
	}
	labels := map[string]bool{}
	for _, m := range labelRE.FindAllStringSubmatch(body, -1) {
		labels[m[1]] = true
	}
	for _, m := range fieldRE.FindAllStringSubmatch(body, -1) {
		attrs := m[2]
		if strings.Contains(attrs, `type="hidden"`) {
			continue
		}
		id := idRE.FindStringSubmatch(attrs)
		if id == nil || !labels[id[1]] {
			if !strings.Contains(attrs, "aria-label") {
				t.Errorf("GET %s: <%s%s> has no label", path, m[1], attrs)
			}
		}
	}
	if strings.Contains(body, " style=") || regexp.MustCompile(`<script>`).MatchString(body) || strings.Contains(body, " onclick=") {
		t.Errorf("GET %s: inline style or script", path)
	}
}

func TestThingSearchQueryError(t *testing.T) {
	c, _ := signedIn(t, 0)
	r := c.get("/console/things?q=" + url.QueryEscape("attributes.firmware:1.0.0 AND oops"))
	body := r.Body.String()
	if r.Code != http.StatusBadRequest {
		t.Fatalf("search with an invalid query = %d, want 400", r.Code)
	}
	for _, want := range []string{"Invalid query", "Unable to parse query at position 30", `aria-invalid="true"`, "<mark>o</mark>ops", strings.Repeat(" ", 30) + "^"} {
		if !strings.Contains(body, want) {
			t.Errorf("query error page lacks %q", want)
		}
	}
}

func TestNewQueryError(t *testing.T) {
	tests := []struct {
		q, msg                   string
		pos                      int
		before, at, after, caret string
	}{
		{"a:b c", "Unable to parse query at position 4: x", 4, "a:b ", "c", "", "    ^"},
		{"a:", "Unable to parse query at position 2: x", 2, "a:", "", "", "  ^"},
		{"é:x y", "Unable to parse query at position 5: x", 4, "é:x ", "y", "", "    ^"},
		{"a", "no position", -1, "", "", "", ""},
		{"a", "Unable to parse query at position 9: x", -1, "", "", "", ""},
	}
	for _, tt := range tests {
		e := newQueryError(tt.q, tt.msg)
		if e.Pos != tt.pos || e.Before != tt.before || e.At != tt.at || e.After != tt.after || e.Caret != tt.caret {
			t.Errorf("newQueryError(%q, %q) = %+v, want pos %d %q|%q|%q caret %q", tt.q, tt.msg, e, tt.pos, tt.before, tt.at, tt.after, tt.caret)
		}
	}
}

func TestShadowEdit(t *testing.T) {
	c, w := signedIn(t, 0)
	page := c.get("/console/things/temp-sensor-01")
	if !strings.Contains(page.Body.String(), `name="version" value="1"`) {
		t.Fatalf("thing page does not carry the shadow version:\n%s", page.Body)
	}
	t.Run("desired edit shows the delta", func(t *testing.T) {
		r := c.post("/console/things/temp-sensor-01/shadow", url.Values{"version": {"1"}, "desired": {`{"interval": 30, "led": "on"}`}})
		if r.Code != http.StatusSeeOther || r.Header().Get("Location") != "/console/things/temp-sensor-01#shadow" {
			t.Fatalf("update shadow = %d %q", r.Code, r.Header().Get("Location"))
		}
		body := c.get("/console/things/temp-sensor-01").Body.String()
		for _, want := range []string{"Desired state updated", `data-testid="shadow-version">2<`, "&#34;led&#34;: &#34;on&#34;", `name="version" value="2"`} {
			if !strings.Contains(body, want) {
				t.Errorf("after the edit, the thing page lacks %q", want)
			}
		}
		delta := regexp.MustCompile(`(?s)data-testid="delta">(.*?)</pre>`).FindStringSubmatch(body)
		if delta == nil || !strings.Contains(delta[1], "interval") || !strings.Contains(delta[1], "led") {
			t.Errorf("delta section = %v, want interval and led", delta)
		}
	})
	t.Run("removed keys are deleted", func(t *testing.T) {
		c.post("/console/things/temp-sensor-01/shadow", url.Values{"version": {"2"}, "desired": {`{"interval": 60}`}})
		body := c.get("/console/things/temp-sensor-01").Body.String()
		desired := regexp.MustCompile(`(?s)data-testid="desired">(.*?)</pre>`).FindStringSubmatch(body)[1]
		if strings.Contains(desired, "led") {
			t.Errorf("desired after removing led = %s", desired)
		}
		if d := regexp.MustCompile(`(?s)data-testid="delta">(.*?)</pre>`).FindStringSubmatch(body)[1]; d != "—" {
			t.Errorf("delta after desired = reported: %s, want none", d)
		}
	})
	t.Run("stale version is refused", func(t *testing.T) {
		c.post("/console/things/temp-sensor-01/shadow", url.Values{"version": {"1"}, "desired": {`{"interval": 5}`}})
		body := c.get("/console/things/temp-sensor-01").Body.String()
		if !strings.Contains(body, "The shadow changed after you loaded it") {
			t.Error("a stale version was not reported")
		}
		if strings.Contains(body, "&#34;interval&#34;: 5") {
			t.Error("a stale edit was written")
		}
	})
	t.Run("not an object", func(t *testing.T) {
		c.post("/console/things/temp-sensor-01/shadow", url.Values{"desired": {`[1]`}})
		if body := c.get("/console/things/temp-sensor-01").Body.String(); !strings.Contains(body, "must be a JSON object") {
			t.Error("a desired state that is no object was not reported")
		}
	})
	t.Run("a thing without a shadow gets one", func(t *testing.T) {
		c.post("/console/things/temp-sensor-02/shadow", url.Values{"desired": {`{"mode":"eco"}`}})
		if st := w.shadows["temp-sensor-02/"]; st == nil || st.Version != 1 {
			t.Fatalf("shadow of temp-sensor-02 = %+v, want version 1", st)
		}
	})
}

func TestDesiredPatch(t *testing.T) {
	old := map[string]any{"a": 1.0, "b": map[string]any{"x": 1.0, "y": 2.0}, "c": "gone"}
	nw := map[string]any{"a": 2.0, "b": map[string]any{"x": 1.0}}
	got, _ := json.Marshal(desiredPatch(old, nw))
	if want := `{"a":2,"b":{"x":1,"y":null},"c":null}`; string(got) != want {
		t.Errorf("desiredPatch = %s, want %s", got, want)
	}
}

func TestCertificateActions(t *testing.T) {
	c, w := signedIn(t, 0)
	id := certificateIDOf(w.thingCerts["temp-sensor-01"][0])
	back := "/console/things/temp-sensor-01"
	for _, st := range []string{"INACTIVE", "ACTIVE", "REVOKED"} {
		r := c.post("/console/certificates/"+id+"/status", url.Values{"status": {st}, "return": {back}})
		if r.Code != http.StatusSeeOther || r.Header().Get("Location") != back {
			t.Fatalf("set %s = %d %q", st, r.Code, r.Header().Get("Location"))
		}
		if w.certs[id].Status != st {
			t.Errorf("status after set %s = %s", st, w.certs[id].Status)
		}
	}
	c.post("/console/certificates/"+id+"/status", url.Values{"status": {"ACTIVE"}, "return": {back}})
	if body := c.get(back).Body.String(); !strings.Contains(body, "CertificateStateException") {
		t.Error("activating a revoked certificate did not show the service's error")
	}
	if r := c.post("/console/certificates/"+id+"/status", url.Values{"status": {"BOGUS"}}); r.Code != http.StatusBadRequest {
		t.Errorf("unknown status = %d, want 400", r.Code)
	}
	if r := c.post("/console/certificates/"+id+"/status", url.Values{"status": {"INACTIVE"}, "return": {"https://evil.example/"}}); r.Header().Get("Location") != "/console/" {
		t.Errorf("return to another site = %q, want /console/", r.Header().Get("Location"))
	}
}

func TestCACertificateActions(t *testing.T) {
	c, w := signedIn(t, 0)
	id := "ca0000000000000000000000000000000000000000000000000000000000001"
	c.post("/console/cas/"+id+"/status", url.Values{"status": {"INACTIVE"}, "return": {"/console/security/cas"}})
	c.post("/console/cas/"+id+"/status", url.Values{"autoRegistration": {"ENABLE"}, "return": {"/console/security/cas"}})
	if ca := w.cas[id]; ca.Status != "INACTIVE" || ca.AutoRegistrationStatus != "ENABLE" {
		t.Errorf("CA after updates = %s %s, want INACTIVE ENABLE", ca.Status, ca.AutoRegistrationStatus)
	}
}

func TestCancelJob(t *testing.T) {
	c, w := signedIn(t, 0)
	path := "/console/jobs/firmware-update-1-2-0/cancel"
	back := "/console/jobs/firmware-update-1-2-0"
	form := func() url.Values {
		return url.Values{"reasonCode": {"BAD_BUILD"}, "comment": {" firmware 1.2.0 bricks sensors "}}
	}
	if r := c.do(http.MethodPost, path, form()); r.Code != http.StatusForbidden {
		t.Fatalf("cancel without a CSRF token = %d, want 403", r.Code)
	}
	if len(w.canceled) != 0 {
		t.Fatal("a refused request called CancelJob")
	}
	r := c.post(path, form())
	if r.Code != http.StatusSeeOther || r.Header().Get("Location") != back {
		t.Fatalf("cancel job = %d %q, want 303 to the job", r.Code, r.Header().Get("Location"))
	}
	want := iotdm.CancelJobInput{JobID: "firmware-update-1-2-0", ReasonCode: "BAD_BUILD", Comment: "firmware 1.2.0 bricks sensors"}
	if len(w.canceled) != 1 || w.canceled[0] != want {
		t.Fatalf("CancelJob calls = %+v, want [%+v]", w.canceled, want)
	}
	body := c.get(back).Body.String()
	for _, s := range []string{"is canceled", "CANCELED", "BAD_BUILD", "firmware 1.2.0 bricks sensors", `data-testid="count-CANCELED">2<`, `data-testid="count-IN_PROGRESS">1<`} {
		if !strings.Contains(body, s) {
			t.Errorf("job page after cancel lacks %q", s)
		}
	}
	if strings.Contains(body, `/cancel"`) {
		t.Error("a canceled job still offers the cancel form")
	}
	// Canceling again is the service's conflict, shown on the page.
	c.post(path, url.Values{"force": {"1"}})
	if len(w.canceled) != 2 || !w.canceled[1].Force {
		t.Fatalf("force cancel calls = %+v", w.canceled)
	}
	if body := c.get(back).Body.String(); !strings.Contains(body, "ConflictException") {
		t.Error("canceling a canceled job did not show the service's error")
	}
}

func TestJobProgress(t *testing.T) {
	p := progressOf(&iotdm.JobProcessDetails{NumberOfSucceededThings: 3, NumberOfFailedThings: 1})
	if p.Total != 4 || p.Done != 4 || len(p.Counts) != 8 {
		t.Fatalf("progress = %+v", p)
	}
	seg := p.Segments()
	if len(seg) != 2 || seg[0].X != "0.00" || seg[0].W != "75.00" || seg[1].X != "75.00" || seg[1].W != "25.00" {
		t.Errorf("segments = %+v", seg)
	}
	if s := progressOf(nil).Summary(); s != "no executions yet" {
		t.Errorf("empty summary = %q", s)
	}
}

func TestSetDefaultPolicyVersion(t *testing.T) {
	c, w := signedIn(t, 0)
	name := "device-policy-IoTDeviceManagementStack"
	c.post("/console/security/policies/"+name+"/default", url.Values{"version": {"1"}})
	if w.policies[name].def != "1" {
		t.Fatalf("default version = %s, want 1", w.policies[name].def)
	}
	body := c.get("/console/security/policies/" + name + "?a=1&b=2").Body.String()
	if !strings.Contains(body, "Version 1 is now the default") {
		t.Error("no confirmation after setting the default version")
	}
}

func TestDistributionIndexing(t *testing.T) {
	c, w := signedIn(t, 40)
	body := c.get("/console/").Body.String()
	if !strings.Contains(body, "from a sample") || !strings.Contains(body, "Index attributes.firmware") {
		t.Fatal("overview does not explain the sampled distribution")
	}
	if r := c.post("/console/indexing/custom-field", url.Values{"field": {"attributes.firmware"}}); r.Code != http.StatusSeeOther {
		t.Fatalf("add custom field = %d", r.Code)
	}
	if !w.customFields["attributes.firmware"] {
		t.Fatal("attributes.firmware was not added to the custom fields")
	}
	body = c.get("/console/").Body.String()
	if !strings.Contains(body, "now a custom field") {
		t.Error("no confirmation after indexing the field")
	}
	// 45 things: 1.2.0 is on 2 seed things and 16 of the 40 generated.
	if !strings.Contains(body, `q=attributes.firmware:1.2.0">1.2.0</a></th>`) || !strings.Contains(body, ">18 <span class=\"muted\">(40.0%)") {
		t.Errorf("overview lacks the exact firmware bucket 1.2.0: 18 of 45")
	}
	if r := c.post("/console/indexing/custom-field", url.Values{"field": {"attributes.secret"}}); r.Code != http.StatusBadRequest {
		t.Errorf("indexing another field = %d, want 400", r.Code)
	}
}

func TestMetricSeries(t *testing.T) {
	c, _ := signedIn(t, 0)
	q := url.Values{"ns": {"IoTFleetMetrics"}, "name": {"ConnectedDevices-IoTDeviceManagementStack"}, "dim": {"AggregationType=count"}, "stat": {"Average"}, "range": {"3h"}, "period": {"300"}}
	r := c.get("/console/api/metric?" + q.Encode())
	if r.Code != http.StatusOK {
		t.Fatalf("series = %d: %s", r.Code, r.Body)
	}
	var s seriesData
	if err := json.Unmarshal(r.Body.Bytes(), &s); err != nil {
		t.Fatal(err)
	}
	if len(s.T) != 36 || len(s.V) != 36 || s.Period != 300 || s.Unit != "Count" || s.Error != "" {
		t.Errorf("series = %d points, period %d, unit %q, error %q; want 36 points of 300 s in Count", len(s.T), s.Period, s.Unit, s.Error)
	}
	for _, bad := range []string{"ns=a", "ns=a&name=b&stat=Median", "ns=a&name=b&dim=novalue"} {
		if r := c.get("/console/api/metric?" + bad); r.Code != http.StatusBadRequest {
			t.Errorf("series %s = %d, want 400", bad, r.Code)
		}
	}
}

func TestChoosePeriod(t *testing.T) {
	tests := []struct {
		span  time.Duration
		asked int
		want  int
	}{
		{time.Hour, 0, 30},
		{3 * time.Hour, 0, 60},
		{24 * time.Hour, 0, 480},
		{7 * 24 * time.Hour, 60, 480},
		{time.Hour, 1, 5},
		{3 * time.Hour, 300, 300},
	}
	for _, tt := range tests {
		if got := choosePeriod(tt.span, tt.asked); got != tt.want {
			t.Errorf("choosePeriod(%v, %d) = %d, want %d", tt.span, tt.asked, got, tt.want)
		}
	}
}

func TestDiffLines(t *testing.T) {
	rows := diffLines("a\nb\nc\nd", "a\nB\nc\nd\ne")
	var kinds []string
	for _, r := range rows {
		kinds = append(kinds, r.Kind)
	}
	if got, want := strings.Join(kinds, " "), "same change same same add"; got != want {
		t.Errorf("diffLines kinds = %q, want %q", got, want)
	}
	if rows[1].Left != "b" || rows[1].Right != "B" || rows[4].RightN != 5 || rows[4].LeftN != 0 {
		t.Errorf("diffLines rows = %+v", rows)
	}
}

func TestDashboardWidgets(t *testing.T) {
	c := New(Deps{Keys: func(string) (string, bool) { return "", false }}, Options{}).(*console)
	body := `{"widgets":[
	 {"type":"metric","x":0,"y":2,"width":8,"properties":{"stat":"Sum","period":60,"metrics":[["NS","M1","D","v1"],[".","M2",".","v2",{"label":"second","stat":"Maximum"}],[{"expression":"m1+m2","label":"sum"}]],"annotations":{"horizontal":[{"value":5}]}}},
	 {"type":"log","x":0,"y":0,"properties":{"query":"fields @message"}}
	]}`
	ws, err := c.dashboardWidgets(body, "1h", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 2 || ws[0].Type != "log" || ws[1].Width != 8 {
		t.Fatalf("widgets = %+v, want the log widget first (y 0) and the metric widget 8 wide", ws)
	}
	ch := ws[1].Chart
	if ch == nil || len(ch.Series) != 2 || ch.Threshold == nil || *ch.Threshold != 5 {
		t.Fatalf("metric widget chart = %+v", ch)
	}
	u, _ := url.Parse(ch.Series[1].Src)
	if q := u.Query(); q.Get("ns") != "NS" || q.Get("name") != "M2" || q.Get("dim") != "D=v2" || q.Get("stat") != "Maximum" || q.Get("period") != "60" {
		t.Errorf("second series = %s, want NS M2 D=v2 Maximum 60 (\".\" repeats)", ch.Series[1].Src)
	}
	if len(ws[1].Notes) != 1 || !strings.Contains(ws[1].Notes[0], "m1+m2") {
		t.Errorf("notes = %q, want the metric math one", ws[1].Notes)
	}
	if _, err := c.dashboardWidgets("{", "1h", nil); err == nil {
		t.Error("a broken dashboard body gave no error")
	}
}

// TestEvents reads the live stream: a disconnect arrives as a change and
// the connected count follows.
func TestEvents(t *testing.T) {
	w := newWorld(0, testNow)
	h := New(w.deps(), Options{LiveInterval: 20 * time.Millisecond, Now: time.Now})
	c := newClient(t, h)
	c.signIn()
	srv := httptest.NewServer(h)
	defer srv.Close()
	seq, _ := w.store.LastSeq(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/console/events?since="+jsonNum(seq), nil)
	req.AddCookie(c.cookies[sessionCookie])
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("events = %d %s", resp.StatusCode, ct)
	}
	go w.setConnected("temp-sensor-01", false)
	sc := bufio.NewScanner(resp.Body)
	var event string
	sawChange, sawCounts := false, false
	for sc.Scan() && !(sawChange && sawCounts) {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: ") && event == "change":
			var ev liveEvent
			json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev)
			if ev.Text == "temp-sensor-01 disconnected (CLIENT_INITIATED_DISCONNECT)" && ev.Category == "lifecycle" && ev.Href == "/console/things/temp-sensor-01" {
				sawChange = true
			}
		case strings.HasPrefix(line, "data: ") && event == "counts" && sawChange:
			var lc liveCounts
			json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &lc)
			if lc.Connected != nil && *lc.Connected == 2 && lc.Things != nil && *lc.Things == 5 && lc.Alarms["ALARM"] == 1 {
				sawCounts = true
			}
		}
	}
	if !sawChange || !sawCounts {
		t.Fatalf("stream: change seen %v, counts with 2 connected seen %v (%v)", sawChange, sawCounts, sc.Err())
	}
}

func jsonNum(n uint64) string { b, _ := json.Marshal(n); return string(b) }

func TestDescribeChange(t *testing.T) {
	c := New(Deps{Keys: func(string) (string, bool) { return "", false }}, Options{}).(*console)
	val := func(v any) json.RawMessage { b, _ := json.Marshal(v); return b }
	tests := []struct {
		ch   iotdm.Change
		want string
	}{
		{iotdm.Change{Op: iotdm.OpPut, Kind: iotdm.KindThing, Key: "t1", Value: val(iotdm.Thing{Version: 1})}, "Thing t1 created"},
		{iotdm.Change{Op: iotdm.OpPut, Kind: iotdm.KindThing, Key: "t1", Value: val(iotdm.Thing{Version: 3})}, "Thing t1 updated (version 3)"},
		{iotdm.Change{Op: iotdm.OpDelete, Kind: iotdm.KindThing, Key: "t1", Value: val(iotdm.Thing{Version: 3})}, "Thing t1 deleted"},
		{iotdm.Change{Op: iotdm.OpPut, Kind: iotdm.KindGroupMember, Key: "g/t1"}, "t1 joined group g"},
		{iotdm.Change{Op: iotdm.OpDelete, Kind: iotdm.KindGroupMember, Key: "g/t1"}, "t1 left group g"},
		{iotdm.Change{Op: iotdm.OpPut, Kind: iotdm.KindConnectivity, Key: "t1", Value: val(iotdm.ConnectivityState{Connected: true})}, "t1 connected"},
		{iotdm.Change{Op: iotdm.OpPut, Kind: iotdm.KindShadow, Key: "t1/cfg", Value: []byte(`{"version":4}`)}, "Shadow cfg of t1 updated (version 4)"},
		{iotdm.Change{Op: iotdm.OpPut, Kind: iotdm.KindAlarm, Key: "a", Value: val(iotdm.StoredAlarm{MetricAlarm: iotdm.MetricAlarm{StateValue: "ALARM"}})}, "Alarm a is ALARM"},
		{iotdm.Change{Op: iotdm.OpPut, Kind: iotdm.KindPolicyTarget, Key: "p/arn:aws:iot:us-east-1:1:cert/abcdef0123456789"}, "Policy p attached to certificate abcdef012345…"},
		{iotdm.Change{Op: iotdm.OpPut, Kind: iotdm.KindThingMembership, Key: "t1/g"}, ""},
		{iotdm.Change{Op: iotdm.OpPut, Kind: iotdm.KindShadowTombstone, Key: "t1/"}, ""},
	}
	for _, tt := range tests {
		ev, ok := c.describeChange(tt.ch)
		if !ok {
			ev.Text = ""
		}
		if ev.Text != tt.want {
			t.Errorf("describeChange(%s %s %s) = %q, want %q", tt.ch.Op, tt.ch.Kind, tt.ch.Key, ev.Text, tt.want)
		}
	}
}

// TestMissingServices: a console given only its key lookup renders every
// page, saying what is not available, and never panics.
func TestMissingServices(t *testing.T) {
	h := New(Deps{Keys: func(id string) (string, bool) { return testSecret, id == testKeyID }}, Options{})
	c := newClient(t, h)
	c.signIn()
	for _, p := range []string{"/console/", "/console/things", "/console/things/x", "/console/groups", "/console/groups/x",
		"/console/security/policies", "/console/security/policies/x", "/console/security/certificates", "/console/security/certificates/x",
		"/console/security/cas", "/console/security/test?run=1", "/console/monitoring", "/console/monitoring/alarms/x",
		"/console/monitoring/dashboards", "/console/monitoring/dashboards/x", "/console/stacks", "/console/stacks/x", "/console/jobs", "/console/jobs/x", "/console/api/metric?ns=a&name=b"} {
		r := c.get(p)
		if r.Code >= 500 && r.Code != http.StatusNotImplemented {
			t.Errorf("GET %s = %d:\n%s", p, r.Code, r.Body)
		}
	}
	if r := c.get("/console/events"); r.Code != http.StatusNotImplemented {
		t.Errorf("events without a store = %d, want 501", r.Code)
	}
	if r := c.get("/console/jobs"); r.Code != http.StatusNotImplemented || !strings.Contains(r.Body.String(), "Jobs is not available") {
		t.Errorf("jobs without the Jobs service = %d, want 501 saying it is not available:\n%s", r.Code, r.Body)
	}
	if r := c.post("/console/jobs/x/cancel", nil); r.Code != http.StatusNotImplemented {
		t.Errorf("cancel job without the Jobs service = %d, want 501", r.Code)
	}
}

func TestStatic(t *testing.T) {
	h := New(Deps{Keys: func(string) (string, bool) { return "", false }}, Options{})
	c := newClient(t, h)
	for _, p := range []string{"/console/static/console.js", "/console/static/console.css", "/console/static/vendor/uPlot.iife.min.js", "/console/static/vendor/uPlot.LICENSE"} {
		r := c.get(p + "?v=1")
		if r.Code != http.StatusOK || r.Body.Len() == 0 || !strings.Contains(r.Header().Get("Cache-Control"), "immutable") {
			t.Errorf("GET %s = %d (%d bytes, %q)", p, r.Code, r.Body.Len(), r.Header().Get("Cache-Control"))
		}
	}
	if r := c.get("/console/static/"); r.Code != http.StatusNotFound {
		t.Errorf("GET /console/static/ = %d, want 404 (no listing)", r.Code)
	}
	if ct := c.get("/console/static/console.js").Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("console.js Content-Type = %q", ct)
	}
}

func TestPrefix(t *testing.T) {
	w := newWorld(0, testNow)
	h := New(w.deps(), Options{Prefix: "/ops/console", Now: func() time.Time { return w.now }})
	c := newClient(t, h)
	r := c.get("/ops/console/things")
	if r.Code != http.StatusSeeOther || !strings.HasPrefix(r.Header().Get("Location"), "/ops/console/signin") {
		t.Fatalf("GET under a custom prefix = %d %q", r.Code, r.Header().Get("Location"))
	}
	if r := c.get("/console/"); r.Code != http.StatusNotFound {
		t.Errorf("GET outside the prefix = %d, want 404", r.Code)
	}
}

// TestEventsShutdown: closing Options.Shutdown ends open streams, so that a
// graceful server shutdown need not wait for console pages to close.
func TestEventsShutdown(t *testing.T) {
	w := newWorld(0, testNow)
	stop := make(chan struct{})
	h := New(w.deps(), Options{Shutdown: stop, Now: time.Now})
	c := newClient(t, h)
	c.signIn()
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/console/events", nil)
	req.AddCookie(c.cookies[sessionCookie])
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, resp.Body)
		done <- err
	}()
	close(stop)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("stream ended with %v, want a clean end", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream is still open 5 s after Shutdown was closed")
	}
}
