package shadow

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// FuzzUpdate applies arbitrary requests to a few stored shadows. Seeded from
// the test tables. Update must never panic; a rejection is an *Error of a
// known kind; an acceptance yields valid JSON documents, version = base+1, a
// state within MaxStateBytes whose metadata mirrors it, and leaves its input
// untouched.
func FuzzUpdate(f *testing.F) {
	for _, sc := range scenarios {
		for _, s := range sc.steps {
			if s.req != "" {
				f.Add([]byte(s.req))
			}
		}
	}
	for _, tc := range updateErrors {
		if len(tc.req) <= MaxRequestBytes {
			f.Add([]byte(tc.req))
		}
	}
	for _, tc := range updateAccepts {
		f.Add([]byte(tc.req))
	}

	now := time.Unix(1_000_000, 0)
	var populated *State
	for _, req := range []string{
		`{"state":{"desired":{"color":"red","light":{"level":5,"on":true},"list":[1,2]}}}`,
		`{"state":{"reported":{"color":"blue","light":{"level":5},"list":[{"a":1}],"n":1.50}}}`,
	} {
		res, err := Update(populated, []byte(req), now.Add(-time.Hour))
		if err != nil {
			f.Fatalf("build base: Update(%s) = %v", req, err)
		}
		populated = res.State
	}
	tomb, _, err := Delete(populated, now.Add(-time.Hour))
	if err != nil {
		f.Fatalf("build base: Delete = %v", err)
	}
	bases := []*State{nil, populated, tomb}

	f.Fuzz(func(t *testing.T, req []byte) {
		for _, base := range bases {
			before := Get(base)
			res, err := Update(base, req, now)
			if got := Get(base); !bytes.Equal(got, before) {
				t.Fatalf("Update(%q) modified its input: Get = %s, was %s", req, got, before)
			}
			if err != nil {
				e, ok := err.(*Error)
				if !ok || e.Kind < InvalidRequest || e.Kind > UnsupportedDocumentEncoding || e.Message == "" {
					t.Fatalf("Update(%q) error = %#v, want *Error of a known kind", req, err)
				}
				continue
			}
			doc := Get(res.State)
			var got struct {
				Version int64 `json:"version"`
			}
			if err := json.Unmarshal(doc, &got); err != nil {
				t.Fatalf("Update(%q): Get = %s, not JSON: %v", req, doc, err)
			}
			if want := baseVersion(base, now) + 1; got.Version != want || res.State.Version != want {
				t.Fatalf("Update(%q): version = %d (state %d), want %d", req, got.Version, res.State.Version, want)
			}
			for name, b := range map[string][]byte{"accepted": res.Accepted, "documents": res.Documents} {
				if !json.Valid(b) {
					t.Fatalf("Update(%q): %s = %s, not JSON", req, name, b)
				}
			}
			if res.Delta != nil && !json.Valid(res.Delta) {
				t.Fatalf("Update(%q): delta = %s, not JSON", req, res.Delta)
			}
			if (res.Delta != nil) != (len(Delta(res.State)) > 0) {
				t.Fatalf("Update(%q): delta message %s disagrees with Delta = %v", req, res.Delta, Delta(res.State))
			}
			checkInvariants(t, res.State)
		}
	})
}
