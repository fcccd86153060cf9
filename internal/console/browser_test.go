package console

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBrowser drives headless Chromium through the console as an operator
// would: sign in, search attributes.firmware:1.0.0, open a thing, edit its
// desired shadow and see the delta, watch the connected-devices count and
// chart change live when a device disconnects, visit every page (also at
// phone width), and fail on any JavaScript error or Content-Security-Policy
// violation. Screenshots of each page go to $IOTDM_CONSOLE_SCREENSHOTS.
//
// It runs against the console at $IOTDM_CONSOLE_URL (for example
// http://127.0.0.1:4566/console/) signed in with
// $IOTDM_CONSOLE_ACCESS_KEY_ID and $IOTDM_CONSOLE_SECRET_ACCESS_KEY (or
// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, as `eval "$(iotdm env)"`
// sets them). IOTDM_CONSOLE_URL=fake serves the console over this
// package's fakes instead. The disconnect is $IOTDM_CONSOLE_DISCONNECT (a
// shell command) when set; otherwise the test deactivates the certificate
// of a connected thing from its console page, which makes the broker drop
// the device, and activates it again at the end.
//
// Without IOTDM_CONSOLE_URL the test is skipped; with it, a missing
// Chromium is a failure. scripts/e2e-console.sh runs it against a real
// iotdm with the seed stack and connected devices.
func TestBrowser(t *testing.T) {
	base := os.Getenv("IOTDM_CONSOLE_URL")
	if base == "" {
		t.Skip("set IOTDM_CONSOLE_URL to the console's URL (or \"fake\") and the access key variables to run the browser test; see scripts/e2e-console.sh")
	}
	chromium, err := chromiumPath()
	if err != nil {
		t.Fatalf("IOTDM_CONSOLE_URL is set but %v", err)
	}
	keyID := firstEnv("IOTDM_CONSOLE_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID")
	secret := firstEnv("IOTDM_CONSOLE_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY")
	disconnect := os.Getenv("IOTDM_CONSOLE_DISCONNECT")
	if base == "fake" {
		w := newWorld(200, time.Now().UTC())
		w.customFields["attributes.location"] = true
		srv := httptest.NewServer(New(w.deps(), Options{LiveInterval: 200 * time.Millisecond}))
		t.Cleanup(srv.Close)
		base, keyID, secret = srv.URL+"/console/", testKeyID, testSecret
	}
	if keyID == "" || secret == "" {
		t.Fatal("IOTDM_CONSOLE_URL is set but no access key: set IOTDM_CONSOLE_ACCESS_KEY_ID and IOTDM_CONSOLE_SECRET_ACCESS_KEY")
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	shots := os.Getenv("IOTDM_CONSOLE_SCREENSHOTS")
	if shots != "" {
		if err := os.MkdirAll(shots, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b := startBrowser(t, chromium)
	noErrors := func(page string) {
		t.Helper()
		if errs := b.takeErrors(); len(errs) > 0 {
			t.Errorf("%s: browser errors:\n%s", page, strings.Join(errs, "\n"))
		}
	}

	// 1. Sign in.
	b.navigate(base)
	b.waitFor("the sign-in form", "document.querySelector('#access_key_id')", 10*time.Second)
	b.screenshot(shots, "01-signin")
	b.setValue("#access_key_id", keyID)
	b.setValue("#secret_access_key", secret)
	b.submit("form[action$='signin']")
	b.waitFor("the overview", "document.querySelector('h1') && document.querySelector('h1').textContent === 'Fleet overview'", 10*time.Second)
	b.waitFor("the live stream", "document.querySelector('[data-live-status]').classList.contains('on')", 15*time.Second)
	b.waitFor("the charts", "[...document.querySelectorAll('figure[data-chart]')].every(f => f.hasAttribute('data-state'))", 15*time.Second)
	b.screenshot(shots, "02-overview")
	noErrors("overview")

	// 2. Search with the fleet query language.
	b.navigate(base + "things")
	b.setValue("#q", "attributes.firmware:1.0.0")
	b.submit("form.search")
	var rows []struct {
		Name  string `json:"name"`
		Attrs string `json:"attrs"`
	}
	b.eval(`[...document.querySelectorAll('table.list tbody tr')].map(r => ({name: r.querySelector('th a').textContent, attrs: r.querySelector('.attrs').textContent}))`, &rows)
	if len(rows) == 0 {
		t.Fatalf("search attributes.firmware:1.0.0 found nothing:\n%s", b.evalString("document.querySelector('main').innerText"))
	}
	for _, r := range rows {
		if !strings.Contains(r.Attrs, "firmware=1.0.0") {
			t.Errorf("search result %s has attributes %q, want firmware=1.0.0", r.Name, r.Attrs)
		}
	}
	if total := b.evalString(`document.querySelector('[data-testid=total]').textContent`); total == "" || total == "0" {
		t.Errorf("search shows a total of %q", total)
	}
	b.screenshot(shots, "03-search")
	noErrors("search")

	b.setValue("#q", "attributes.firmware:1.0.0 AND (")
	b.submit("form.search")
	b.waitFor("the query error", "document.querySelector('.query-error')", 5*time.Second)
	if msg := b.evalString("document.querySelector('.query-error').innerText"); !strings.Contains(msg, "position") {
		t.Errorf("query error = %q, want a position", msg)
	}
	b.screenshot(shots, "04-search-error")
	noErrors("search error")

	// 3. Open a thing and edit its desired shadow.
	thing := rows[0].Name
	b.navigate(base + "things?q=" + url.QueryEscape("attributes.firmware:1.0.0"))
	b.eval(`document.querySelector('table.list tbody th a').click(), true`, nil)
	b.waitLoaded("the thing page")
	if h := b.evalString("document.querySelector('h1').textContent"); h != thing {
		t.Fatalf("thing page heading = %q, want %q", h, thing)
	}
	b.screenshot(shots, "05-thing")
	noErrors("thing")

	var desired map[string]any
	if err := json.Unmarshal([]byte(b.evalString("document.querySelector('#desired').value")), &desired); err != nil {
		t.Fatalf("desired textarea: %v", err)
	}
	stamp := time.Now().Unix()
	desired["consoleTest"] = stamp
	edited, _ := json.Marshal(desired)
	b.setValue("#desired", string(edited))
	b.submit("form.shadow-edit")
	b.waitFor("the saved shadow", "document.querySelector('.flash')", 5*time.Second)
	if f := b.evalString("document.querySelector('.flash').textContent"); f != "Desired state updated." {
		t.Fatalf("after saving the desired state: %q", f)
	}
	if delta := b.evalString("document.querySelector('[data-testid=delta]').textContent"); !strings.Contains(delta, `"consoleTest": `+strconv.FormatInt(stamp, 10)) {
		t.Errorf("delta after the edit = %s, want consoleTest %d", delta, stamp)
	}
	b.eval("document.querySelector('#shadow').scrollIntoView(), true", nil)
	b.screenshot(shots, "06-shadow-delta")
	noErrors("shadow edit")

	// 4. A device disconnects: the live count and the chart follow.
	b.navigate(base)
	b.waitFor("the live stream", "document.querySelector('[data-live-status]').classList.contains('on')", 15*time.Second)
	b.waitFor("the first live sample", "document.querySelector('#chart-connected') && document.querySelector('#chart-connected').hasAttribute('data-live-value')", 15*time.Second)
	before := b.evalString("document.querySelector('#chart-connected').getAttribute('data-live-value')")
	n, err := strconv.Atoi(before)
	if err != nil || n == 0 {
		t.Fatalf("connected devices before the disconnect = %q; the test needs a connected device", before)
	}
	var restore string
	if disconnect != "" {
		if out, err := exec.Command("sh", "-c", disconnect).CombinedOutput(); err != nil {
			t.Fatalf("IOTDM_CONSOLE_DISCONNECT: %v\n%s", err, out)
		}
	} else {
		var res struct {
			Thing  string `json:"thing"`
			Action string `json:"action"`
			CSRF   string `json:"csrf"`
		}
		b.eval(fmt.Sprintf(deactivateJS, base), &res)
		if res.Action == "" {
			t.Fatal("no connected thing with an active certificate to disconnect")
		}
		restore = res.Action
		t.Cleanup(func() {
			// Activate the certificate again for whoever runs next.
			b.eval(fmt.Sprintf(`fetch(%q, {method: 'POST', credentials: 'same-origin', body: new URLSearchParams({csrf: %q, status: 'ACTIVE', return: %q})}).then(r => r.status)`,
				restore, res.CSRF, base), nil)
		})
		t.Logf("deactivated the certificate of %s", res.Thing)
	}
	want := strconv.Itoa(n - 1)
	b.waitFor("the connected count to drop to "+want,
		fmt.Sprintf("document.querySelector('[data-count=connected]').textContent.replace(/,/g, '') === %q && document.querySelector('#chart-connected').getAttribute('data-live-value') === %q", want, want),
		30*time.Second)
	if ev := b.evalString("document.querySelector('[data-events] li').textContent"); !strings.Contains(ev, "disconnected") && !strings.Contains(ev, "INACTIVE") {
		t.Errorf("latest event after the disconnect = %q", ev)
	}
	b.screenshot(shots, "07-overview-after-disconnect")
	noErrors("live disconnect")

	// 5. Every other page.
	pages := []struct{ name, path, link string }{
		{"08-groups", "groups", ""},
		{"09-group", "groups", "section[aria-labelledby=dyn-h] tbody th a"},
		{"10-policies", "security/policies", ""},
		{"11-policy", "security/policies", "table.list tbody th a"},
		{"12-certificates", "security/certificates", ""},
		{"13-certificate", "security/certificates", "table.list tbody th a"},
		{"14-cas", "security/cas", ""},
		{"15-test-authorization", "security/test", ""},
		{"16-monitoring", "monitoring", ""},
		{"17-alarm", "monitoring", "#alarms tbody th a"},
		{"18-dashboards", "monitoring/dashboards", ""},
		{"19-dashboard", "monitoring/dashboards", "ul.cards a"},
		{"20-stacks", "stacks", ""},
		{"21-stack", "stacks", "table.list tbody th a"},
		{"26-jobs", "jobs", ""},
		{"27-job", "jobs", "table.list tbody th a"},
	}
	for _, p := range pages {
		b.navigate(base + p.path)
		if p.link != "" {
			var ok bool
			b.eval(fmt.Sprintf(`(function(){ const a = document.querySelector(%q); if (!a) return false; a.click(); return true })()`, p.link), &ok)
			if !ok {
				t.Logf("%s: nothing to open at %s", p.name, p.path)
				continue
			}
			b.waitLoaded(p.name)
		}
		b.waitFor(p.name+" charts", "[...document.querySelectorAll('figure[data-chart]')].every(f => f.hasAttribute('data-state'))", 15*time.Second)
		if h := b.evalString("document.querySelectorAll('h1').length + ''"); h != "1" {
			t.Errorf("%s: %s h1 headings", p.name, h)
		}
		b.screenshot(shots, p.name)
		noErrors(p.name)
	}

	// 6. Phone width: no sideways scrolling; keyboard: the skip link first.
	b.viewport(390, 844, true)
	for _, p := range []struct{ name, path string }{{"22-phone-overview", ""}, {"23-phone-thing", "things/" + url.PathEscape(thing)}, {"24-phone-things", "things?q=*"}, {"28-phone-jobs", "jobs"}} {
		b.navigate(base + p.path)
		b.waitFor(p.name+" charts", "[...document.querySelectorAll('figure[data-chart]')].every(f => f.hasAttribute('data-state'))", 15*time.Second)
		var overflow int
		b.eval("document.documentElement.scrollWidth - 390", &overflow)
		if overflow > 1 {
			t.Errorf("%s: the page is %d px wider than a phone screen", p.name, overflow)
		}
		b.screenshot(shots, p.name)
		noErrors(p.name)
	}
	b.viewport(1280, 900, false)
	b.navigate(base)
	b.pressTab()
	if cls := b.evalString("document.activeElement.className"); cls != "skip" {
		t.Errorf("the first Tab focuses %q, want the skip link", cls)
	}
	b.screenshot(shots, "25-keyboard-skip-link")
	b.pressTab()
	if cls := b.evalString("document.activeElement.className"); cls != "brand" {
		t.Errorf("the second Tab focuses %q, want the home link", cls)
	}
	noErrors("keyboard")
}

// deactivateJS, given the console's base URL, finds a connected thing with
// an ACTIVE certificate and submits its Deactivate form, as an operator
// would from the thing page; it answers the form's action and token.
const deactivateJS = `(async () => {
  const base = %q;
  const parse = async (u) => new DOMParser().parseFromString(await (await fetch(u, {credentials: 'same-origin'})).text(), 'text/html');
  const list = await parse(base + 'things?size=100&q=' + encodeURIComponent('connectivity.connected:true'));
  for (const a of list.querySelectorAll('table.list tbody th a')) {
    const page = await parse(new URL(a.getAttribute('href'), location.href).href);
    for (const f of page.querySelectorAll('form')) {
      const status = f.querySelector('input[name=status]');
      if (!status || status.value !== 'INACTIVE') continue;
      const body = new URLSearchParams();
      f.querySelectorAll('input').forEach(i => body.append(i.name, i.value));
      const action = new URL(f.getAttribute('action'), location.href).href;
      const r = await fetch(action, {method: 'POST', credentials: 'same-origin', body});
      if (!r.ok) throw new Error('deactivate: ' + r.status);
      return {thing: a.textContent, action, csrf: body.get('csrf')};
    }
  }
  return {};
})()`

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}
