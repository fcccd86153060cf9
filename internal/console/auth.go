package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Cookies of the console. The session cookie holds a random token; the
// server keeps what it stands for. The sign-in cookie is the double-submit
// CSRF token of the sign-in form, before there is a session.
const (
	sessionCookie = "iotdm_console"
	signinCookie  = "iotdm_console_signin"
	csrfField     = "csrf"
	maxSessions   = 10000
	maxFormBytes  = 256 << 10
)

// session is one signed-in browser.
type session struct {
	keyID     string
	secretSum [32]byte // SHA-256 of the secret signed in with: a changed secret ends the session
	csrf      string
	expires   time.Time

	mu    sync.Mutex
	flash []flash // messages for the next page, after a POST redirects
}

// flash is a message shown once, after a form's redirect.
type flash struct {
	Kind string // ok or error
	Text string
}

func (s *session) addFlash(kind, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.flash) < 10 {
		s.flash = append(s.flash, flash{Kind: kind, Text: text})
	}
}

func (s *session) takeFlash() []flash {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.flash
	s.flash = nil
	return f
}

// sessions are the signed-in browsers, by the SHA-256 of their cookie token
// (so that no lookup compares a secret token byte by byte).
type sessions struct {
	ttl time.Duration
	now func() time.Time

	mu sync.Mutex
	m  map[[32]byte]*session
}

func newSessions(ttl time.Duration, now func() time.Time) *sessions {
	return &sessions{ttl: ttl, now: now, m: make(map[[32]byte]*session)}
}

// create starts a session for keyID and returns its cookie token.
func (s *sessions) create(keyID, secret string) (string, *session) {
	token := randomToken()
	sess := &session{keyID: keyID, secretSum: sha256.Sum256([]byte(secret)), csrf: randomToken(), expires: s.now().Add(s.ttl)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= maxSessions {
		s.pruneLocked()
	}
	if len(s.m) >= maxSessions { // still full of live sessions: drop the one ending soonest
		var oldest [32]byte
		var t time.Time
		for k, v := range s.m {
			if t.IsZero() || v.expires.Before(t) {
				oldest, t = k, v.expires
			}
		}
		delete(s.m, oldest)
	}
	s.m[sha256.Sum256([]byte(token))] = sess
	return token, sess
}

func (s *sessions) pruneLocked() {
	now := s.now()
	for k, v := range s.m {
		if !now.Before(v.expires) {
			delete(s.m, k)
		}
	}
}

func (s *sessions) get(token string) *session {
	if token == "" {
		return nil
	}
	k := sha256.Sum256([]byte(token))
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.m[k]
	if sess != nil && !s.now().Before(sess.expires) {
		delete(s.m, k)
		return nil
	}
	return sess
}

func (s *sessions) delete(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, sha256.Sum256([]byte(token)))
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// signinLimiter slows down guessing: each client address may fail to sign
// in a few times per minute; beyond that sign-in answers 429 until the
// minute is over.
type signinLimiter struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]*failures
}

type failures struct {
	n     int
	since time.Time
}

const (
	signinFailures = 10
	signinWindow   = time.Minute
)

func newSigninLimiter(now func() time.Time) *signinLimiter {
	return &signinLimiter{now: now, m: make(map[string]*failures)}
}

func (l *signinLimiter) blocked(addr string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.m[addr]
	if f == nil {
		return false
	}
	if l.now().Sub(f.since) > signinWindow {
		delete(l.m, addr)
		return false
	}
	return f.n >= signinFailures
}

func (l *signinLimiter) fail(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.m) > 10000 {
		for k, f := range l.m {
			if now.Sub(f.since) > signinWindow {
				delete(l.m, k)
			}
		}
	}
	f := l.m[addr]
	if f == nil || now.Sub(f.since) > signinWindow {
		f = &failures{since: now}
		l.m[addr] = f
	}
	f.n++
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// secure reports whether cookies must be Secure for r.
func (c *console) secure(r *http.Request) bool { return c.opts.SecureCookies || r.TLS != nil }

func (c *console) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     c.opts.Prefix,
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   c.secure(r),
		SameSite: http.SameSiteStrictMode,
	})
}

// sessionOf returns the live session of r, or nil. A session whose key was
// removed or whose secret changed since sign-in is ended here.
func (c *console) sessionOf(r *http.Request) *session {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	sess := c.sessions.get(ck.Value)
	if sess == nil {
		return nil
	}
	secret, ok := c.deps.Keys(sess.keyID)
	sum := sha256.Sum256([]byte(secret))
	if !ok || subtle.ConstantTimeCompare(sum[:], sess.secretSum[:]) != 1 {
		c.sessions.delete(ck.Value)
		return nil
	}
	return sess
}

// authenticated wraps a page that needs a session: without one, pages
// redirect to sign-in and the event stream and JSON answer 401. Every
// request that is not GET or HEAD must carry the session's CSRF token and,
// when the browser says where it comes from, come from this origin.
func (c *console) authenticated(h func(http.ResponseWriter, *http.Request, *session)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		sess := c.sessionOf(r)
		if sess == nil {
			if r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, c.path("api/")) && r.URL.Path != c.path("events") {
				c.redirectToSignin(w, r)
				return
			}
			http.Error(w, "sign in first", http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if !sameOrigin(r) {
				c.renderError(w, r, sess, http.StatusForbidden, "Forbidden", "The form was sent from another site.")
				return
			}
			if err := r.ParseForm(); err != nil {
				c.renderError(w, r, sess, http.StatusBadRequest, "Bad request", "The form could not be read.")
				return
			}
			if subtle.ConstantTimeCompare([]byte(r.PostFormValue(csrfField)), []byte(sess.csrf)) != 1 {
				c.renderError(w, r, sess, http.StatusForbidden, "Forbidden",
					"The form's security token is missing or out of date. Go back, reload the page and try again.")
				return
			}
		}
		h(w, r, sess)
	})
}

// sameOrigin reports whether a state-changing request comes from this
// site, as far as the browser tells: Sec-Fetch-Site, then Origin. Requests
// that carry neither (old browsers, scripts) rely on the CSRF token alone.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		return origin == ""
	}
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

func (c *console) redirectToSignin(w http.ResponseWriter, r *http.Request) {
	target := c.path("signin")
	if r.Method == http.MethodGet && r.URL.Path != c.opts.Prefix {
		target += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// safeNext returns where to go after sign-in: a path of the console, never
// another site.
func (c *console) safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, c.opts.Prefix) || strings.HasPrefix(next, "//") ||
		strings.ContainsAny(next, "\\\r\n") {
		return c.opts.Prefix
	}
	return next
}

type signinData struct {
	Next     string
	KeyID    string
	Error    string
	Token    string
	Disabled bool
}

func (c *console) signinPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if c.sessionOf(r) != nil {
		http.Redirect(w, r, c.safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	c.renderSignin(w, r, http.StatusOK, signinData{Next: r.URL.Query().Get("next")})
}

func (c *console) renderSignin(w http.ResponseWriter, r *http.Request, status int, d signinData) {
	d.Token = randomToken()
	d.Disabled = c.deps.Keys == nil
	c.setCookie(w, r, signinCookie, d.Token, 3600)
	c.render(w, r, nil, status, "signin", "Sign in", "", d)
}

// signin checks the access key and secret like the API edge does (the
// secret compared in constant time, the same work for an unknown key) and
// starts a session.
func (c *console) signin(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	d := signinData{Next: r.PostFormValue("next"), KeyID: strings.TrimSpace(r.PostFormValue("access_key_id"))}
	ck, err := r.Cookie(signinCookie)
	if err != nil || !sameOrigin(r) ||
		subtle.ConstantTimeCompare([]byte(ck.Value), []byte(r.PostFormValue(csrfField))) != 1 {
		d.Error = "The sign-in form expired. Please try again."
		c.renderSignin(w, r, http.StatusForbidden, d)
		return
	}
	addr := clientAddr(r)
	if c.limiter.blocked(addr) {
		d.Error = "Too many failed sign-ins. Wait a minute and try again."
		c.renderSignin(w, r, http.StatusTooManyRequests, d)
		return
	}
	given := r.PostFormValue("secret_access_key")
	secret, ok := "", false
	if c.deps.Keys != nil && d.KeyID != "" {
		secret, ok = c.deps.Keys(d.KeyID)
	}
	// Compare digests: equal lengths, and the same work whether or not the
	// key exists.
	want, got := sha256.Sum256([]byte(secret)), sha256.Sum256([]byte(given))
	match := subtle.ConstantTimeCompare(want[:], got[:]) == 1
	if !ok || !match || given == "" {
		c.limiter.fail(addr)
		c.log.Info("console sign-in refused", "accessKeyId", d.KeyID, "remote", addr)
		d.Error = "The access key ID or secret access key is not correct."
		c.renderSignin(w, r, http.StatusUnauthorized, d)
		return
	}
	token, _ := c.sessions.create(d.KeyID, secret)
	c.setCookie(w, r, sessionCookie, token, int(c.opts.SessionTTL/time.Second))
	c.setCookie(w, r, signinCookie, "", -1)
	c.log.Info("console sign-in", "accessKeyId", d.KeyID, "remote", addr)
	http.Redirect(w, r, c.safeNext(d.Next), http.StatusSeeOther)
}

func (c *console) signout(w http.ResponseWriter, r *http.Request, _ *session) {
	if ck, err := r.Cookie(sessionCookie); err == nil {
		c.sessions.delete(ck.Value)
	}
	c.setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, c.path("signin"), http.StatusSeeOther)
}
