package console

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// A small client of the Chrome DevTools protocol, enough to drive headless
// Chromium through the console: navigate, evaluate JavaScript, press keys,
// resize the viewport and take screenshots. It collects JavaScript
// exceptions and console errors (a Content-Security-Policy violation is
// one) so the browser test can fail on them.

// chromiumPath finds Chromium: $IOTDM_CHROMIUM, then the usual names.
func chromiumPath() (string, error) {
	if p := os.Getenv("IOTDM_CHROMIUM"); p != "" {
		path, err := exec.LookPath(p)
		if err != nil {
			return "", fmt.Errorf("IOTDM_CHROMIUM: %w", err)
		}
		return path, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chrome", "headless_shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no Chromium found: install Debian's chromium package or set IOTDM_CHROMIUM")
}

type browser struct {
	t    *testing.T
	cmd  *exec.Cmd
	conn *websocket.Conn

	mu      sync.Mutex
	nextID  int
	pending map[int]chan cdpMessage
	errs    []string // JavaScript exceptions and console errors
	done    chan struct{}
}

type cdpMessage struct {
	ID     int             `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

var devtoolsRE = regexp.MustCompile(`DevTools listening on (ws://\S+)`)

// startBrowser starts headless Chromium with a fresh profile and attaches to
// its first page. It is stopped when the test ends.
func startBrowser(t *testing.T, path string) *browser {
	t.Helper()
	// A fresh profile; not t.TempDir, whose removal races with Chromium's
	// helper processes writing their last files.
	profile, err := os.MkdirTemp("", "iotdm-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, path,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
		"--user-data-dir="+profile, "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
		"--window-size=1280,900", "about:blank")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", path, err)
	}
	b := &browser{t: t, cmd: cmd, pending: map[int]chan cdpMessage{}, done: make(chan struct{})}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		if b.conn != nil {
			_ = b.callErr("Browser.close", nil, nil) // a clean exit: its helpers go too
			b.conn.Close()
		}
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
		}
		cancel()
		<-exited
		for range 20 {
			if os.RemoveAll(profile) == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	wsURL := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			if m := devtoolsRE.FindStringSubmatch(sc.Text()); m != nil && !sent {
				wsURL <- m[1]
				sent = true
			}
		}
		if !sent {
			close(wsURL)
		}
	}()
	var browserURL string
	select {
	case u, ok := <-wsURL:
		if !ok {
			t.Fatal("Chromium exited before its DevTools endpoint was up")
		}
		browserURL = u
	case <-time.After(30 * time.Second):
		t.Fatal("Chromium did not start its DevTools endpoint within 30 s")
	}
	// The page target: /json/list on the same host.
	host := strings.TrimPrefix(browserURL, "ws://")
	host = host[:strings.Index(host, "/")]
	var pageWS string
	for deadline := time.Now().Add(10 * time.Second); pageWS == "" && time.Now().Before(deadline); {
		resp, err := http.Get("http://" + host + "/json/list")
		if err == nil {
			var targets []struct {
				Type string `json:"type"`
				WS   string `json:"webSocketDebuggerUrl"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&targets)
			resp.Body.Close()
			for _, tg := range targets {
				if tg.Type == "page" {
					pageWS = tg.WS
					break
				}
			}
		}
		if pageWS == "" {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if pageWS == "" {
		t.Fatal("Chromium has no page target")
	}
	conn, _, err := websocket.DefaultDialer.Dial(pageWS, nil)
	if err != nil {
		t.Fatalf("connect to the page's DevTools: %v", err)
	}
	conn.SetReadLimit(256 << 20) // screenshots
	b.conn = conn
	go b.read()
	b.call("Page.enable", nil, nil)
	b.call("Runtime.enable", nil, nil)
	b.call("Log.enable", nil, nil)
	return b
}

func (b *browser) read() {
	defer close(b.done)
	for {
		var m cdpMessage
		if err := b.conn.ReadJSON(&m); err != nil {
			b.mu.Lock()
			for id, ch := range b.pending {
				close(ch)
				delete(b.pending, id)
			}
			b.mu.Unlock()
			return
		}
		if m.ID != 0 {
			b.mu.Lock()
			ch := b.pending[m.ID]
			delete(b.pending, m.ID)
			b.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		switch m.Method {
		case "Runtime.exceptionThrown":
			var p struct {
				Details struct {
					Text      string `json:"text"`
					URL       string `json:"url"`
					Exception struct {
						Description string `json:"description"`
					} `json:"exception"`
				} `json:"exceptionDetails"`
			}
			_ = json.Unmarshal(m.Params, &p)
			b.addErr("exception: " + p.Details.Text + " " + p.Details.Exception.Description + " " + p.Details.URL)
		case "Log.entryAdded":
			var p struct {
				Entry struct {
					Level  string `json:"level"`
					Text   string `json:"text"`
					Source string `json:"source"`
					URL    string `json:"url"`
				} `json:"entry"`
			}
			_ = json.Unmarshal(m.Params, &p)
			// Network errors of deliberate 4xx pages (the 404 test) are not
			// page faults; everything else at error level is.
			if p.Entry.Level == "error" && p.Entry.Source != "network" {
				b.addErr(p.Entry.Source + ": " + p.Entry.Text + " " + p.Entry.URL)
			}
		}
	}
}

func (b *browser) addErr(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errs = append(b.errs, s)
}

// takeErrors returns and clears the errors collected so far.
func (b *browser) takeErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.errs
	b.errs = nil
	return e
}

// call sends one command and decodes its result into out (may be nil).
func (b *browser) call(method string, params, out any) {
	b.t.Helper()
	if err := b.callErr(method, params, out); err != nil {
		b.t.Fatalf("%s: %v", method, err)
	}
}

func (b *browser) callErr(method string, params, out any) error {
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	ch := make(chan cdpMessage, 1)
	b.pending[id] = ch
	b.mu.Unlock()
	if params == nil {
		params = map[string]any{}
	}
	if err := b.conn.WriteJSON(map[string]any{"id": id, "method": method, "params": params}); err != nil {
		return err
	}
	select {
	case m, ok := <-ch:
		if !ok {
			return errors.New("browser connection closed")
		}
		if m.Error != nil {
			return fmt.Errorf("%d %s", m.Error.Code, m.Error.Message)
		}
		if out != nil {
			return json.Unmarshal(m.Result, out)
		}
		return nil
	case <-time.After(60 * time.Second):
		return errors.New("no answer within 60 s")
	}
}

// eval evaluates a JavaScript expression (awaiting a promise) and decodes
// its value into out (may be nil).
func (b *browser) eval(expr string, out any) {
	b.t.Helper()
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		Exception *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	b.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}, &res)
	if res.Exception != nil {
		b.t.Fatalf("evaluate %s: %s %s", shorten(expr, 80), res.Exception.Text, res.Exception.Exception.Description)
	}
	if out != nil && len(res.Result.Value) > 0 {
		if err := json.Unmarshal(res.Result.Value, out); err != nil {
			b.t.Fatalf("evaluate %s: decode %s: %v", shorten(expr, 80), res.Result.Value, err)
		}
	}
}

func (b *browser) evalString(expr string) string {
	b.t.Helper()
	var s string
	b.eval(expr, &s)
	return s
}

// waitFor polls a JavaScript condition until it is true.
func (b *browser) waitFor(what, cond string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var ok bool
		b.eval("!!("+cond+")", &ok)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("waited %v for %s (%s); page %s:\n%s", timeout, what, cond, b.evalString("location.href"),
				shorten(b.evalString("document.body ? document.body.innerText : ''"), 2000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// navigate loads a URL and waits for the page to be complete.
func (b *browser) navigate(url string) {
	b.t.Helper()
	b.call("Page.navigate", map[string]any{"url": url}, nil)
	b.waitLoaded(url)
}

// waitLoaded waits for a document that is not the one before and is
// complete. (A navigation's document replaces the old one; the marker set
// on window tells them apart.)
func (b *browser) waitLoaded(what string) {
	b.t.Helper()
	time.Sleep(50 * time.Millisecond)
	b.waitFor("the page "+what+" to load", "document.readyState === 'complete' && !window.__iotdmOld", 30*time.Second)
	b.eval("window.__iotdmOld = true", nil)
}

// submit submits a form by a selector and waits for the next page.
func (b *browser) submit(selector string) {
	b.t.Helper()
	b.eval(fmt.Sprintf(`(function(){ const f = document.querySelector(%q); f.requestSubmit ? f.requestSubmit() : f.submit(); return true })()`, selector), nil)
	b.waitLoaded("after submitting " + selector)
}

// setValue types a value into a field by a selector.
func (b *browser) setValue(selector, value string) {
	b.t.Helper()
	b.eval(fmt.Sprintf(`(function(){ const e = document.querySelector(%q); e.focus(); e.value = %q; e.dispatchEvent(new Event('input', {bubbles: true})); return true })()`, selector, value), nil)
}

// pressTab sends one Tab key press.
func (b *browser) pressTab() {
	b.t.Helper()
	for _, typ := range []string{"keyDown", "keyUp"} {
		b.call("Input.dispatchKeyEvent", map[string]any{"type": typ, "key": "Tab", "code": "Tab", "windowsVirtualKeyCode": 9}, nil)
	}
}

// viewport sets the viewport size; mobile emulates a phone.
func (b *browser) viewport(width, height int, mobile bool) {
	b.t.Helper()
	b.call("Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}, nil)
}

// screenshot saves the whole page as dir/name.png (nothing when dir is "").
func (b *browser) screenshot(dir, name string) {
	b.t.Helper()
	if dir == "" {
		return
	}
	var m struct {
		CSS struct {
			Width  float64 `json:"width"`
			Height float64 `json:"height"`
		} `json:"cssContentSize"`
	}
	b.call("Page.getLayoutMetrics", nil, &m)
	h := min(m.CSS.Height, 8000)
	var shot struct {
		Data string `json:"data"`
	}
	b.call("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true,
		"clip": map[string]any{"x": 0, "y": 0, "width": m.CSS.Width, "height": h, "scale": 1}}, &shot)
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		b.t.Fatalf("decode screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatalf("save screenshot: %v", err)
	}
}
