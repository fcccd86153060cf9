package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
)

// healthInfo is the body of GET /healthz.
type healthInfo struct {
	Status    string `json:"status"` // ok, or unavailable while starting or stopping
	Version   string `json:"version"`
	Region    string `json:"region"`
	AccountID string `json:"accountId"`
	HTTPAddr  string `json:"httpAddr"`
}

// healthHandler answers GET /healthz without authentication: 200 and status
// ok while ready is set, 503 otherwise.
func healthHandler(info healthInfo, ready *atomic.Bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, code := info, http.StatusOK
		body.Status = "ok"
		if !ready.Load() {
			body.Status, code = "unavailable", http.StatusServiceUnavailable
		}
		b, _ := json.Marshal(body) // plain strings; cannot fail
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		if r.Method != http.MethodHead {
			_, _ = w.Write(append(b, '\n'))
		}
	})
}

// routes sends GET and HEAD /healthz to health, GET and HEAD /metrics to
// metrics (Prometheus; unauthenticated like /healthz, and no AWS operation
// has either path) and every other request, untouched (no path cleaning,
// which would break SigV4), to api.
func routes(health, metrics, web, api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if web != nil && (r.URL.Path == "/console" || strings.HasPrefix(r.URL.Path, "/console/")) {
			web.ServeHTTP(w, r)
			return
		}
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			switch r.URL.Path {
			case "/healthz":
				health.ServeHTTP(w, r)
				return
			case "/metrics":
				metrics.ServeHTTP(w, r)
				return
			}
		}
		api.ServeHTTP(w, r)
	})
}
