package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/iotdm/iotdm"
)

//go:embed templates static
var assets embed.FS

// view is what every page template gets: the layout's needs and the page's
// own Data.
type view struct {
	Title   string
	Section string // the navigation entry to mark current
	Prefix  string
	KeyID   string // signed-in access key id; "" on the sign-in page
	CSRF    string
	Flash   []flash
	Data    any
}

// pages are the parsed templates, one set per page, each with the layout.
type pages struct {
	byName map[string]*template.Template
}

// pageNames are the page templates under templates/, besides the layout.
var pageNames = []string{
	"signin", "error", "overview", "things", "thing", "groups", "group",
	"policies", "policy", "certificates", "certificate", "cas", "testauth",
	"monitoring", "alarm", "dashboards", "dashboard", "stacks", "stack",
	"jobs", "job",
}

func mustParsePages(prefix string, static fs.FS) *pages {
	versions := assetVersions(static)
	funcs := template.FuncMap{
		"path": func(rel string) string { return prefix + strings.TrimPrefix(rel, "/") },
		"seg":  url.PathEscape,
		"query": func(kv ...string) string {
			v := url.Values{}
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i+1] != "" {
					v.Set(kv[i], kv[i+1])
				}
			}
			if len(v) == 0 {
				return ""
			}
			return "?" + v.Encode()
		},
		"asset": func(name string) string { return prefix + "static/" + name + "?v=" + versions[name] },
		"num":   formatInt,
		"iso":   isoTime,
		"human": humanTime,
		"json": func(v any) (string, error) {
			b, err := json.Marshal(v)
			return string(b), err
		},
		"pretty": prettyJSON,
		"status": statusClass,
		"short":  shorten,
		"certID": certificateIDOf,
		"add":    func(a, b int) int { return a + b },
		"pct":    percent,
		"barLen": barLength,
		"lower":  strings.ToLower,
		"join":   strings.Join,
		"fmtNum": formatFloat,
		"derefF": func(p *float64) float64 { return *p },
		"term":   queryTerm,
		"dict": func(kv ...any) (map[string]any, error) {
			if len(kv)%2 != 0 {
				return nil, errors.New("dict needs key and value pairs")
			}
			m := make(map[string]any, len(kv)/2)
			for i := 0; i < len(kv); i += 2 {
				k, ok := kv[i].(string)
				if !ok {
					return nil, errors.New("dict keys are strings")
				}
				m[k] = kv[i+1]
			}
			return m, nil
		},
	}
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/partials.html"))
	p := &pages{byName: make(map[string]*template.Template, len(pageNames))}
	for _, name := range pageNames {
		t := template.Must(template.Must(base.Clone()).ParseFS(assets, "templates/"+name+".html"))
		p.byName[name] = t
	}
	return p
}

// assetVersions returns a short content hash of every static file, for
// cache-busting URLs.
func assetVersions(static fs.FS) map[string]string {
	v := map[string]string{}
	_ = fs.WalkDir(static, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		v[p] = hex.EncodeToString(sum[:6])
		return nil
	})
	return v
}

// staticHandler serves the embedded assets. They are immutable for a given
// build: URLs carry a content hash (asset), so browsers may keep them.
func staticHandler(static fs.FS) http.Handler {
	files := http.FileServerFS(static)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") || r.URL.Path == "" {
			http.NotFound(w, r)
			return
		}
		if r.URL.Query().Get("v") != "" {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "public, max-age=300")
		}
		if path.Ext(r.URL.Path) == ".js" {
			w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		}
		files.ServeHTTP(w, r)
	})
}

// render executes a page into a buffer, so that a template error becomes a
// clean 500 rather than half a page.
func (c *console) render(w http.ResponseWriter, r *http.Request, sess *session, status int, page, title, section string, data any) {
	t := c.pages.byName[page]
	v := view{Title: title, Section: section, Prefix: c.opts.Prefix, Data: data}
	if sess != nil {
		v.KeyID, v.CSRF, v.Flash = sess.keyID, sess.csrf, sess.takeFlash()
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		c.log.Error("render console page", "page", page, "err", err)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

type errorData struct {
	Heading string
	Message string
}

func (c *console) renderError(w http.ResponseWriter, r *http.Request, sess *session, status int, heading, msg string) {
	c.render(w, r, sess, status, "error", heading, "", errorData{Heading: heading, Message: msg})
}

// serviceError renders the page for a failed service call.
func (c *console) serviceError(w http.ResponseWriter, r *http.Request, sess *session, what string, err error) {
	status, msg := c.describe(what, err)
	c.renderError(w, r, sess, status, http.StatusText(status), msg)
}

// describe turns a service error into an HTTP status and a message for
// people: the AWS error code and message for errors a client can act on,
// a plain "internal error" (and a log line) for the rest.
func (c *console) describe(what string, err error) (int, string) {
	var e *iotdm.Error
	if !errors.As(err, &e) {
		if errors.Is(err, errUnavailable) {
			return http.StatusNotImplemented, err.Error()
		}
		c.log.Error("console: "+what, "err", err)
		return http.StatusInternalServerError, what + ": internal error (see the server log)"
	}
	status := http.StatusBadRequest
	switch e.Code {
	case iotdm.ErrResourceNotFound, iotdm.ErrCloudWatchNotFound, iotdm.ErrChangeSetNotFound, iotdm.ErrStackNotFound:
		status = http.StatusNotFound
	case iotdm.ErrVersionConflict, iotdm.ErrConflict, iotdm.ErrCertificateState, iotdm.ErrDeleteConflict:
		status = http.StatusConflict
	case iotdm.ErrInternalFailure, iotdm.ErrServiceUnavailable:
		status = http.StatusInternalServerError
	}
	if e.Code == iotdm.ErrValidationError && strings.Contains(e.Message, "does not exist") {
		status = http.StatusNotFound
	}
	return status, fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// errUnavailable means a service the page needs was not given to the console.
var errUnavailable = errors.New("not available on this server")

func unavailable(service string) error {
	return fmt.Errorf("%s is %w", service, errUnavailable)
}

// --- template helpers ---

func formatInt(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, ch := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	return b.String()
}

func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return strconv.FormatFloat(f, 'g', -1, 64)
	case f == math.Trunc(f) && math.Abs(f) < 1e15:
		return formatInt(int(f))
	}
	return strconv.FormatFloat(f, 'g', 6, 64)
}

func asTime(v any) (time.Time, bool) {
	switch t := v.(type) {
	case time.Time:
		return t, !t.IsZero()
	case iotdm.Timestamp:
		return t.Time, !t.IsZero()
	case *iotdm.Timestamp:
		if t == nil {
			return time.Time{}, false
		}
		return t.Time, !t.IsZero()
	case int64: // epoch milliseconds
		return time.UnixMilli(t), t != 0
	case *int64:
		if t == nil {
			return time.Time{}, false
		}
		return time.UnixMilli(*t), true
	}
	return time.Time{}, false
}

func isoTime(v any) string {
	t, ok := asTime(v)
	if !ok {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func humanTime(v any) string {
	t, ok := asTime(v)
	if !ok {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// prettyJSON indents a JSON document; anything else is returned as is.
func prettyJSON(v any) string {
	var raw []byte
	switch d := v.(type) {
	case string:
		raw = []byte(d)
	case []byte:
		raw = d
	case json.RawMessage:
		raw = d
	default:
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(b)
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return string(raw)
	}
	return buf.String()
}

// statusClass maps a state word to the badge class that colours it.
func statusClass(s any) string {
	v := strings.ToUpper(fmt.Sprint(s))
	switch {
	case v == "ACTIVE" || v == "OK" || v == "SUCCEEDED" || v == "COMPLETED" || v == "CONNECTED" || v == "ALLOWED" || v == "ENABLE" ||
		strings.HasSuffix(v, "_COMPLETE") && !strings.Contains(v, "ROLLBACK") && !strings.Contains(v, "DELETE"):
		return "badge ok"
	case v == "ALARM" || v == "REVOKED" || v == "FAILED" || v == "REJECTED" || v == "TIMED_OUT" || v == "EXPLICIT_DENY" || strings.HasSuffix(v, "_FAILED") ||
		strings.Contains(v, "ROLLBACK"):
		return "badge bad"
	case v == "INACTIVE" || v == "INSUFFICIENT_DATA" || v == "QUEUED" || v == "IN_PROGRESS" || v == "SCHEDULED" || v == "IMPLICIT_DENY" || v == "DISCONNECTED" ||
		strings.HasSuffix(v, "_IN_PROGRESS") || strings.HasPrefix(v, "PENDING"):
		return "badge warn"
	}
	return "badge"
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// certificateIDOf returns the id of a certificate ARN (…:cert/{id}), or
// "" for another principal.
func certificateIDOf(arn string) string {
	i := strings.LastIndex(arn, ":cert/")
	if i < 0 {
		return ""
	}
	return arn[i+len(":cert/"):]
}

func percent(n, total int) string {
	if total <= 0 {
		return "0%"
	}
	return strconv.FormatFloat(float64(n)*100/float64(total), 'f', 1, 64) + "%"
}

// barLength is the width of a bar in a distribution chart of width 100.
func barLength(n, max int) string {
	if max <= 0 || n <= 0 {
		return "0"
	}
	return strconv.FormatFloat(math.Max(0.5, float64(n)*100/float64(max)), 'f', 2, 64)
}

// queryTerm writes a value as a term of the fleet query language: bare
// when it is one word, quoted otherwise.
func queryTerm(s string) string {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return quoteTerm(s)
		}
	}
	if s == "" {
		return `""`
	}
	return s
}
