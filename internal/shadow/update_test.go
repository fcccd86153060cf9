package shadow

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// step is one operation on a shadow in a scenario. want* fields are JSON
// compared by value ("" skips the check; wantDelta "-" means no delta).
type step struct {
	op            string // "update" (default) or "delete"
	at            int64  // epoch seconds
	req           string
	wantErr       *Error
	wantGet       string
	wantAccepted  string
	wantDelta     string
	wantDocuments string
}

// scenarios follow the worked examples of AWS §6.2 and §6.3.
var scenarios = []struct {
	name  string
	steps []step
}{
	{"first update creates version 1 with a delta", []step{{
		at:            100,
		req:           `{"state":{"desired":{"color":"red"}}}`,
		wantAccepted:  `{"state":{"desired":{"color":"red"}},"metadata":{"desired":{"color":{"timestamp":100}}},"version":1,"timestamp":100}`,
		wantDelta:     `{"state":{"color":"red"},"metadata":{"color":{"timestamp":100}},"version":1,"timestamp":100}`,
		wantDocuments: `{"current":{"state":{"desired":{"color":"red"}},"metadata":{"desired":{"color":{"timestamp":100}}},"version":1},"timestamp":100}`,
		wantGet:       `{"state":{"desired":{"color":"red"},"delta":{"color":"red"}},"metadata":{"desired":{"color":{"timestamp":100}}},"version":1,"timestamp":100}`,
	}}},
	{"delta disappears when reported matches and reappears when reported is removed", []step{
		{at: 100, req: `{"state":{"desired":{"color":"red","power":"on"}}}`},
		{
			at:           101,
			req:          `{"state":{"reported":{"color":"red","power":"on"}}}`,
			wantAccepted: `{"state":{"reported":{"color":"red","power":"on"}},"metadata":{"reported":{"color":{"timestamp":101},"power":{"timestamp":101}}},"version":2,"timestamp":101}`,
			wantDelta:    "-",
			wantDocuments: `{"previous":{"state":{"desired":{"color":"red","power":"on"}},"metadata":{"desired":{"color":{"timestamp":100},"power":{"timestamp":100}}},"version":1},
				"current":{"state":{"desired":{"color":"red","power":"on"}, "reported":{"color":"red","power":"on"}},"metadata":{"desired":{"color":{"timestamp":100},"power":{"timestamp":100}},"reported":{"color":{"timestamp":101},"power":{"timestamp":101}}},"version":2},"timestamp":101}`,
			wantGet: `{"state":{"desired":{"color":"red","power":"on"},"reported":{"color":"red","power":"on"}},"metadata":{"desired":{"color":{"timestamp":100},"power":{"timestamp":100}},"reported":{"color":{"timestamp":101},"power":{"timestamp":101}}},"version":2,"timestamp":101}`,
		},
		{
			at:           102,
			req:          `{"state":{"reported":{"color":null}}}`,
			wantAccepted: `{"state":{"reported":{"color":null}},"metadata":{"reported":{"color":{"timestamp":102}}},"version":3,"timestamp":102}`,
			wantDelta:    `{"state":{"color":"red"},"metadata":{"color":{"timestamp":100}},"version":3,"timestamp":102}`,
			wantGet:      `{"state":{"desired":{"color":"red","power":"on"},"reported":{"power":"on"},"delta":{"color":"red"}},"metadata":{"desired":{"color":{"timestamp":100},"power":{"timestamp":100}},"reported":{"power":{"timestamp":101}}},"version":3,"timestamp":102}`,
		},
		{
			at:        103,
			req:       `{"state":{"desired":{"color":null}}}`,
			wantDelta: "-",
			wantGet:   `{"state":{"desired":{"power":"on"},"reported":{"power":"on"}},"metadata":{"desired":{"power":{"timestamp":100}},"reported":{"power":{"timestamp":101}}},"version":4,"timestamp":103}`,
		},
	}},
	{"objects merge recursively and only written leaves get new timestamps", []step{
		{at: 100, req: `{"state":{"reported":{"light":{"color":"red","level":5},"fan":1}}}`},
		{
			at:           200,
			req:          `{"state":{"reported":{"light":{"level":7}}}}`,
			wantAccepted: `{"state":{"reported":{"light":{"level":7}}},"metadata":{"reported":{"light":{"level":{"timestamp":200}}}},"version":2,"timestamp":200}`,
			wantGet:      `{"state":{"reported":{"light":{"color":"red","level":7},"fan":1}},"metadata":{"reported":{"light":{"color":{"timestamp":100},"level":{"timestamp":200}},"fan":{"timestamp":100}}},"version":2,"timestamp":200}`,
		},
	}},
	{"deleting the last field of an object removes the object and the empty section", []step{
		{at: 100, req: `{"state":{"desired":{"a":{"b":{"c":1}}}}}`},
		{at: 101, req: `{"state":{"desired":{"a":{"b":{"c":null}}}}}`, wantDelta: "-", wantGet: `{"state":{},"metadata":{},"version":2,"timestamp":101}`},
	}},
	{"an empty object writes nothing", []step{
		{at: 100, req: `{"state":{"reported":{"a":1}}}`},
		{
			at:           101,
			req:          `{"state":{"reported":{"a":{},"b":{}}}}`,
			wantAccepted: `{"state":{"reported":{"a":{},"b":{}}},"metadata":{"reported":{"a":{},"b":{}}},"version":2,"timestamp":101}`,
			wantGet:      `{"state":{"reported":{"a":1}},"metadata":{"reported":{"a":{"timestamp":100}}},"version":2,"timestamp":101}`,
		},
	}},
	{"an object replaces a scalar and a scalar replaces an object", []step{
		{at: 100, req: `{"state":{"reported":{"a":1,"b":{"x":true}}}}`},
		{
			at:      101,
			req:     `{"state":{"reported":{"a":{"y":"z"},"b":false}}}`,
			wantGet: `{"state":{"reported":{"a":{"y":"z"},"b":false}},"metadata":{"reported":{"a":{"y":{"timestamp":101}},"b":{"timestamp":101}}},"version":2,"timestamp":101}`,
		},
	}},
	{"a null section removes the whole section", []step{
		{at: 100, req: `{"state":{"desired":{"a":1},"reported":{"b":2}}}`},
		{
			at:           101,
			req:          `{"state":{"desired":null}}`,
			wantAccepted: `{"state":{"desired":null},"metadata":{"desired":{"timestamp":101}},"version":2,"timestamp":101}`,
			wantDelta:    "-",
			wantGet:      `{"state":{"reported":{"b":2}},"metadata":{"reported":{"b":{"timestamp":100}}},"version":2,"timestamp":101}`,
		},
	}},
	{"state null clears the state, keeps the shadow and advances the version", []step{
		{at: 100, req: `{"state":{"desired":{"a":1},"reported":{"b":2}}}`},
		{
			at:           101,
			req:          `{"state":null,"clientToken":"c1"}`,
			wantAccepted: `{"state":null,"version":2,"timestamp":101,"clientToken":"c1"}`,
			wantDelta:    "-",
			wantGet:      `{"state":{},"metadata":{},"version":2,"timestamp":101}`,
		},
	}},
	{"arrays replace whole and carry per-element metadata", []step{
		{at: 100, req: `{"state":{"reported":{"list":[1,2,3],"objs":[{"a":1}]}}}`},
		{
			at:      101,
			req:     `{"state":{"reported":{"list":[4]}}}`,
			wantGet: `{"state":{"reported":{"list":[4],"objs":[{"a":1}]}},"metadata":{"reported":{"list":[{"timestamp":101}],"objs":[{"a":{"timestamp":100}}]}},"version":2,"timestamp":101}`,
		},
	}},
	{"an unequal array is copied whole into the delta", []step{
		{at: 100, req: `{"state":{"reported":{"list":[1,3]}}}`},
		{
			at:        101,
			req:       `{"state":{"desired":{"list":[1,2]}}}`,
			wantDelta: `{"state":{"list":[1,2]},"metadata":{"list":[{"timestamp":101},{"timestamp":101}]},"version":2,"timestamp":101}`,
		},
		{at: 102, req: `{"state":{"reported":{"list":[1,2]}}}`, wantDelta: "-"},
	}},
	{"the delta carries the path to each differing leaf and never reported-only keys", []step{
		{at: 100, req: `{"state":{"reported":{"l":{"a":1,"b":3,"only":true},"x":"y"}}}`},
		{
			at:        101,
			req:       `{"state":{"desired":{"l":{"a":1,"b":2},"m":{"n":[]}}}}`,
			wantDelta: `{"state":{"l":{"b":2},"m":{"n":[]}},"metadata":{"l":{"b":{"timestamp":101}},"m":{"n":[]}},"version":2,"timestamp":101}`,
		},
	}},
	{"a desired object against a reported scalar is copied whole", []step{
		{at: 100, req: `{"state":{"reported":{"l":5}}}`},
		{
			at:        101,
			req:       `{"state":{"desired":{"l":{"a":1}}}}`,
			wantDelta: `{"state":{"l":{"a":1}},"metadata":{"l":{"a":{"timestamp":101}}},"version":2,"timestamp":101}`,
		},
	}},
	{"numbers keep their text and compare by value", []step{
		{at: 100, req: `{"state":{"desired":{"f":1.0,"big":12345678901234567890123,"e":1e2,"neg":-0.50}}}`},
		{
			at:        101,
			req:       `{"state":{"reported":{"f":1,"big":12345678901234567890123,"e":100,"neg":-5E-1}}}`,
			wantDelta: "-",
			wantGet: `{"state":{"desired":{"f":1.0,"big":12345678901234567890123,"e":1e2,"neg":-0.50},"reported":{"f":1,"big":12345678901234567890123,"e":100,"neg":-5E-1}},
				"metadata":{"desired":{"f":{"timestamp":100},"big":{"timestamp":100},"e":{"timestamp":100},"neg":{"timestamp":100}},"reported":{"f":{"timestamp":101},"big":{"timestamp":101},"e":{"timestamp":101},"neg":{"timestamp":101}}},"version":2,"timestamp":101}`,
		},
		{
			at:        102,
			req:       `{"state":{"reported":{"big":12345678901234567890124}}}`,
			wantDelta: `{"state":{"big":12345678901234567890123},"metadata":{"big":{"timestamp":100}},"version":3,"timestamp":102}`,
		},
	}},
	{"version is checked when given and increments on every update", []step{
		{at: 100, req: `{"state":{"reported":{"a":1}},"version":0}`},
		{at: 101, req: `{"state":{"reported":{"a":2}},"version":5}`, wantErr: &Error{Conflict, "Version conflict"}},
		{at: 102, req: `{"state":{"reported":{"a":3}},"version":1}`, wantAccepted: `{"state":{"reported":{"a":3}},"metadata":{"reported":{"a":{"timestamp":102}}},"version":2,"timestamp":102}`},
		{at: 103, req: `{"state":{"reported":{"a":3}}}`, wantAccepted: `{"state":{"reported":{"a":3}},"metadata":{"reported":{"a":{"timestamp":103}}},"version":3,"timestamp":103}`},
		{at: 104, req: `{"state":{"reported":{"a":3}},"version":2}`, wantErr: &Error{Conflict, "Version conflict"}},
	}},
	{"clientToken is echoed on accepted, delta and documents", []step{{
		at:            100,
		req:           `{"state":{"desired":{"a":1}},"clientToken":"tok-1"}`,
		wantAccepted:  `{"state":{"desired":{"a":1}},"metadata":{"desired":{"a":{"timestamp":100}}},"version":1,"timestamp":100,"clientToken":"tok-1"}`,
		wantDelta:     `{"state":{"a":1},"metadata":{"a":{"timestamp":100}},"version":1,"timestamp":100,"clientToken":"tok-1"}`,
		wantDocuments: `{"current":{"state":{"desired":{"a":1}},"metadata":{"desired":{"a":{"timestamp":100}}},"version":1},"timestamp":100,"clientToken":"tok-1"}`,
		wantGet:       `{"state":{"desired":{"a":1},"delta":{"a":1}},"metadata":{"desired":{"a":{"timestamp":100}}},"version":1,"timestamp":100}`,
	}}},
	{"content outside state is ignored", []step{{
		at:           100,
		req:          `{"state":{"reported":{"a":1}},"metadata":{"x":1},"timestamp":5,"other":[null]}`,
		wantAccepted: `{"state":{"reported":{"a":1}},"metadata":{"reported":{"a":{"timestamp":100}}},"version":1,"timestamp":100}`,
	}}},
	{"a shadow recreated within 48 hours continues its version", []step{
		{at: 100, req: `{"state":{"reported":{"a":1}}}`},
		{at: 101, req: `{"state":{"reported":{"a":2}}}`},
		{op: "delete", at: 200, wantAccepted: `{"version":2,"timestamp":200}`},
		{op: "delete", at: 201, wantErr: &Error{NotFound, "No shadow exists"}},
		{
			at:            300,
			req:           `{"state":{"reported":{"b":1}},"version":2}`,
			wantAccepted:  `{"state":{"reported":{"b":1}},"metadata":{"reported":{"b":{"timestamp":300}}},"version":3,"timestamp":300}`,
			wantDocuments: `{"current":{"state":{"reported":{"b":1}},"metadata":{"reported":{"b":{"timestamp":300}}},"version":3},"timestamp":300}`,
			wantGet:       `{"state":{"reported":{"b":1}},"metadata":{"reported":{"b":{"timestamp":300}}},"version":3,"timestamp":300}`,
		},
	}},
	{"a shadow recreated after 48 hours restarts at version 1", []step{
		{at: 100, req: `{"state":{"reported":{"a":1}}}`},
		{at: 101, req: `{"state":{"reported":{"a":2}}}`},
		{op: "delete", at: 200, wantAccepted: `{"version":2,"timestamp":200}`},
		{at: 200 + 48*3600, req: `{"state":{"reported":{"b":1}},"version":2}`, wantErr: &Error{Conflict, "Version conflict"}},
		{at: 200 + 48*3600, req: `{"state":{"reported":{"b":1}}}`, wantAccepted: `{"state":{"reported":{"b":1}},"metadata":{"reported":{"b":{"timestamp":173000}}},"version":1,"timestamp":173000}`},
	}},
	{"the 8 KB limit applies to the merged state", []step{
		{at: 100, req: `{"state":{"desired":{"k":"` + strings.Repeat("x", 8000) + `"}}}`},
		{at: 101, req: `{"state":{"reported":{"k":"` + strings.Repeat("y", 200) + `"}}}`, wantErr: &Error{RequestEntityTooLarge, "The payload exceeds the maximum size allowed"}},
		{at: 102, req: `{"state":{"desired":{"k":null},"reported":{"k":"` + strings.Repeat("y", 200) + `"}}}`, wantAccepted: `{"state":{"desired":{"k":null},"reported":{"k":"` + strings.Repeat("y", 200) + `"}},"metadata":{"desired":{"k":{"timestamp":102}},"reported":{"k":{"timestamp":102}}},"version":2,"timestamp":102}`},
	}},
}

func TestUpdateScenarios(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			var st *State
			for i, s := range sc.steps {
				now := time.Unix(s.at, 0)
				var (
					next            *State
					accepted, delta []byte
					documents       []byte
					err             error
				)
				switch s.op {
				case "delete":
					next, accepted, err = Delete(st, now)
				default:
					var res *Result
					before := Get(st)
					res, err = Update(st, []byte(s.req), now)
					if got := Get(st); !bytes.Equal(got, before) {
						t.Fatalf("step %d: Update modified its input: Get = %s, was %s", i, got, before)
					}
					if res != nil {
						next, accepted, delta, documents = res.State, res.Accepted, res.Delta, res.Documents
					}
				}
				if s.wantErr != nil {
					if diff := cmp.Diff(s.wantErr, err); diff != "" {
						t.Fatalf("step %d: %s(%s) error mismatch (-want +got):\n%s", i, s.op, s.req, diff)
					}
					continue
				}
				if err != nil {
					t.Fatalf("step %d: %s(%s) = %v, want success", i, s.op, s.req, err)
				}
				st = next
				checkJSON(t, i, "accepted", accepted, s.wantAccepted)
				checkJSON(t, i, "documents", documents, s.wantDocuments)
				checkJSON(t, i, "get", Get(st), s.wantGet)
				switch s.wantDelta {
				case "":
				case "-":
					if delta != nil {
						t.Errorf("step %d: delta = %s, want none", i, delta)
					}
				default:
					checkJSON(t, i, "delta", delta, s.wantDelta)
				}
				checkInvariants(t, st)
			}
		})
	}
}

func checkJSON(t *testing.T, i int, what string, got []byte, want string) {
	t.Helper()
	if want == "" {
		return
	}
	g, err := decodeJSON(got)
	if err != nil {
		t.Fatalf("step %d: %s = %s, not JSON: %v", i, what, got, err)
	}
	w, err := decodeJSON([]byte(want))
	if err != nil {
		t.Fatalf("step %d: want %s is not JSON: %v", i, what, err)
	}
	if diff := cmp.Diff(w, g); diff != "" {
		t.Errorf("step %d: %s = %s, mismatch (-want +got):\n%s", i, what, got, diff)
	}
}

func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data")
	}
	return v, nil
}

// checkInvariants checks a stored state: within the size limit, no empty
// objects in the trees, metadata mirroring the state down to the leaves, and
// a lossless round trip through its storage encoding.
func checkInvariants(t *testing.T, st *State) {
	t.Helper()
	if n := len(marshal(sections{Desired: st.Desired, Reported: st.Reported})); n > MaxStateBytes {
		t.Errorf("stored state is %d bytes, want <= %d", n, MaxStateBytes)
	}
	for _, sec := range []struct {
		name        string
		state, meta map[string]any
	}{{"desired", st.Desired, st.DesiredMetadata}, {"reported", st.Reported, st.ReportedMetadata}} {
		if sec.state != nil && len(sec.state) == 0 {
			t.Errorf("%s is an empty object, want nil", sec.name)
		}
		if err := mirrors(sec.state, sec.meta, true); err != "" {
			t.Errorf("%s metadata: %s", sec.name, err)
		}
	}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatalf("json.Marshal(State) = %v", err)
	}
	var back State
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("json.Unmarshal(State) = %v", err)
	}
	if got, want := Get(&back), Get(st); !bytes.Equal(got, want) {
		t.Errorf("Get after storage round trip = %s, want %s", got, want)
	}
}

// mirrors reports how meta fails to mirror state ("" when it does).
func mirrors(state, meta any, top bool) string {
	switch s := state.(type) {
	case map[string]any:
		m, ok := meta.(map[string]any)
		if !ok && !(top && meta == nil && len(s) == 0) {
			return "object without object metadata"
		}
		if !top && len(s) == 0 {
			return "empty object stored"
		}
		if len(m) != len(s) {
			return "metadata keys differ from state keys"
		}
		for k, v := range s {
			if e := mirrors(v, m[k], false); e != "" {
				return k + ": " + e
			}
		}
	case []any:
		m, ok := meta.([]any)
		if !ok || len(m) != len(s) {
			return "array without per-element metadata"
		}
	case nil:
		if top {
			if meta != nil && len(meta.(map[string]any)) > 0 {
				return "metadata without state"
			}
			return ""
		}
		return "null stored"
	default:
		m, ok := meta.(map[string]any)
		if !ok || len(m) != 1 || m["timestamp"] == nil {
			return "leaf without {timestamp}"
		}
	}
	return ""
}
