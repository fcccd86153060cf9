package shadow

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// nested returns an update whose desired section nests n objects deep, the
// desired object itself counting as level 1: nested(2) is
// {"state":{"desired":{"l":{"l":1}}}}.
func nested(n int) string {
	return `{"state":{"desired":` + strings.Repeat(`{"l":`, n) + `1` + strings.Repeat(`}`, n) + `}}`
}

// updateErrors are requests rejected against an empty shadow (AWS §6.3
// item 1 and the validation limits).
var updateErrors = []struct {
	name string
	req  string
	want *Error
}{
	{"empty payload", ``, &Error{InvalidRequest, "Payload contains invalid json"}},
	{"malformed json", `{"state":`, &Error{InvalidRequest, "Payload contains invalid json"}},
	{"trailing data", `{"state":{"desired":{}}} {}`, &Error{InvalidRequest, "Payload contains invalid json"}},
	{"not an object", `[{"state":{}}]`, &Error{InvalidRequest, "Payload contains invalid json"}},
	{"invalid utf-8", "{\"state\":{\"desired\":{\"a\":\"\xff\"}}}", &Error{UnsupportedDocumentEncoding, "Payload must be UTF-8 encoded JSON"}},
	{"missing state", `{"desired":{"a":1}}`, &Error{InvalidRequest, "Missing required node: state"}},
	{"state is a string", `{"state":"on"}`, &Error{InvalidRequest, "State node must be an object"}},
	{"state is an array", `{"state":[]}`, &Error{InvalidRequest, "State node must be an object"}},
	{"state holds delta", `{"state":{"desired":{"a":1},"delta":{"a":1}}}`, &Error{InvalidRequest, "State contains an invalid node"}},
	{"state is empty", `{"state":{}}`, &Error{InvalidRequest, "State node must contain desired or reported"}},
	{"desired is a number", `{"state":{"desired":1}}`, &Error{InvalidRequest, "Desired node must be an object"}},
	{"reported is an array", `{"state":{"reported":[1]}}`, &Error{InvalidRequest, "Reported node must be an object"}},
	{"clientToken too long", `{"state":{"reported":{"a":1}},"clientToken":"` + strings.Repeat("t", 65) + `"}`, &Error{InvalidRequest, "Invalid clientToken"}},
	{"clientToken not a string", `{"state":{"reported":{"a":1}},"clientToken":7}`, &Error{InvalidRequest, "Invalid clientToken"}},
	{"version not a number", `{"state":{"reported":{"a":1}},"version":"1"}`, &Error{InvalidRequest, "Invalid version"}},
	{"version not an integer", `{"state":{"reported":{"a":1}},"version":1.5}`, &Error{InvalidRequest, "Invalid version"}},
	{"version given for a new shadow", `{"state":{"reported":{"a":1}},"version":3}`, &Error{Conflict, "Version conflict"}},
	{"nesting of 7 levels", nested(7), &Error{InvalidRequest, "JSON contains too many levels of nesting; maximum is 6"}},
	{"array nesting counts", `{"state":{"reported":{"a":[[[[[[1]]]]]]}}}`, &Error{InvalidRequest, "JSON contains too many levels of nesting; maximum is 6"}},
	{"null in an array", `{"state":{"reported":{"a":[1,null]}}}`, &Error{InvalidRequest, "Arrays may not contain null values"}},
	{"state over 8 KB", `{"state":{"desired":{"k":"` + strings.Repeat("x", 8173) + `"}}}`, &Error{RequestEntityTooLarge, "The payload exceeds the maximum size allowed"}},
	{"request over the payload cap", `{"state":{"desired":{"k":null}},"pad":"` + strings.Repeat(" ", MaxRequestBytes) + `"}`, &Error{RequestEntityTooLarge, "The payload exceeds the maximum size allowed"}},
}

// updateAccepts are the boundary requests that must pass.
var updateAccepts = []struct{ name, req string }{
	{"nesting of 6 levels", nested(6)},
	{"clientToken of 64 bytes", `{"state":{"reported":{"a":1}},"clientToken":"` + strings.Repeat("t", 64) + `"}`},
	{"state of exactly 8 KB", `{"state":{"desired":{"k":"` + strings.Repeat("x", 8172) + `"}}}`},
	{"version 0 for a new shadow", `{"state":{"reported":{"a":1}},"version":0}`},
	{"null version skips the check", `{"state":{"reported":{"a":1}},"version":null}`},
	{"null desired on a new shadow", `{"state":{"desired":null}}`},
	{"state null on a new shadow", `{"state":null}`},
	{"empty desired", `{"state":{"desired":{}}}`},
}

func TestUpdateErrors(t *testing.T) {
	now := time.Unix(100, 0)
	for _, tc := range updateErrors {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Update(nil, []byte(tc.req), now)
			if res != nil {
				t.Errorf("Update(%.80s) result = %+v, want nil", tc.req, res)
			}
			if diff := cmp.Diff(tc.want, err); diff != "" {
				t.Errorf("Update(%.80s) error mismatch (-want +got):\n%s", tc.req, diff)
			}
		})
	}
	for _, tc := range updateAccepts {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Update(nil, []byte(tc.req), now)
			if err != nil {
				t.Fatalf("Update(%.80s) = %v, want success", tc.req, err)
			}
			if res.State.Version != 1 {
				t.Errorf("Update(%.80s) version = %d, want 1", tc.req, res.State.Version)
			}
			checkInvariants(t, res.State)
		})
	}
}

func TestErrorKinds(t *testing.T) {
	for _, tc := range []struct {
		kind   ErrorKind
		name   string
		status int
	}{
		{InvalidRequest, "InvalidRequestException", 400},
		{NotFound, "ResourceNotFoundException", 404},
		{Conflict, "ConflictException", 409},
		{RequestEntityTooLarge, "RequestEntityTooLargeException", 413},
		{UnsupportedDocumentEncoding, "UnsupportedDocumentEncodingException", 415},
	} {
		if got := tc.kind.String(); got != tc.name {
			t.Errorf("%d.String() = %q, want %q", tc.kind, got, tc.name)
		}
		if got := tc.kind.Status(); got != tc.status {
			t.Errorf("%s.Status() = %d, want %d", tc.kind, got, tc.status)
		}
	}
}

func TestNotFoundError(t *testing.T) {
	for _, tc := range []struct{ thing, shadow, want string }{
		{"cat", "", "No shadow exists with name: 'cat'"},
		{"cat", "simShadow1", "No shadow exists with name: 'simShadow1'"},
	} {
		got := NotFoundError(tc.thing, tc.shadow)
		if diff := cmp.Diff(&Error{NotFound, tc.want}, got); diff != "" {
			t.Errorf("NotFoundError(%q, %q) mismatch (-want +got):\n%s", tc.thing, tc.shadow, diff)
		}
	}
}

func TestRejectedDocument(t *testing.T) {
	req := []byte(`{"state":{"reported":{"a":1}},"version":9,"clientToken":"abc"}`)
	cur, err := Update(nil, []byte(`{"state":{"reported":{"a":0}}}`), time.Unix(100, 0))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Update(cur.State, req, time.Unix(101, 0))
	e, ok := err.(*Error)
	if !ok {
		t.Fatalf("Update = %v, want *Error", err)
	}
	got := RejectedDocument(e, ClientToken(req), time.Unix(101, 0))
	want := `{"code":409,"message":"Version conflict","timestamp":101,"clientToken":"abc"}`
	if string(got) != want {
		t.Errorf("RejectedDocument = %s, want %s", got, want)
	}
}

func TestClientToken(t *testing.T) {
	for _, tc := range []struct{ req, want string }{
		{`{"clientToken":"abc","state":1}`, "abc"},
		{`{"state":{}}`, ""},
		{`not json`, ""},
		{`{"clientToken":5}`, ""},
		{`{"clientToken":"` + strings.Repeat("t", 65) + `"}`, ""},
	} {
		if got := ClientToken([]byte(tc.req)); got != tc.want {
			t.Errorf("ClientToken(%.40s) = %q, want %q", tc.req, got, tc.want)
		}
	}
}

func TestValidateName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"", true},
		{"simShadow1", true},
		{"$a:b_c-D9", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"has space", false},
		{"slash/", false},
		{"dot.", false},
		{"é", false},
	} {
		err := ValidateName(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && err.(*Error).Kind != InvalidRequest {
			t.Errorf("ValidateName(%q) kind = %v, want InvalidRequest", tc.name, err.(*Error).Kind)
		}
	}
}

func TestGetMissing(t *testing.T) {
	if got := Get(nil); got != nil {
		t.Errorf("Get(nil) = %s, want nil", got)
	}
	tomb := &State{Version: 3, Deleted: true, DeletedAt: time.Unix(5, 0)}
	if got := Get(tomb); got != nil {
		t.Errorf("Get(tombstone) = %s, want nil", got)
	}
	if got := Delta(tomb); got != nil {
		t.Errorf("Delta(tombstone) = %v, want nil", got)
	}
}

func TestGetWithToken(t *testing.T) {
	res, err := Update(nil, []byte(`{"state":{"reported":{"a":"<b>"}}}`), time.Unix(100, 0))
	if err != nil {
		t.Fatal(err)
	}
	got := string(GetWithToken(res.State, "t1"))
	want := `{"state":{"reported":{"a":"<b>"}},"metadata":{"reported":{"a":{"timestamp":100}}},"version":1,"timestamp":100,"clientToken":"t1"}`
	if got != want {
		t.Errorf("GetWithToken = %s, want %s", got, want)
	}
}

func TestDeltaHelper(t *testing.T) {
	res, err := Update(nil, []byte(`{"state":{"desired":{"a":{"b":1,"c":2},"d":[1]},"reported":{"a":{"b":1,"c":3},"d":[1],"e":0}}}`), time.Unix(100, 0))
	if err != nil {
		t.Fatal(err)
	}
	got := Delta(res.State)
	want := map[string]any{"a": map[string]any{"c": json.Number("2")}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Delta mismatch (-want +got):\n%s", diff)
	}
	got["a"].(map[string]any)["c"] = "changed"
	if d := Delta(res.State); d["a"].(map[string]any)["c"] != json.Number("2") {
		t.Errorf("Delta shares memory with the state: %v", d)
	}
}

func TestNumberEqual(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"1", "1.0", true},
		{"100", "1e2", true},
		{"100", "1E+2", true},
		{"0.5", "5e-1", true},
		{"-0", "0", true},
		{"0.000", "0e10", true},
		{"10", "1", false},
		{"-1", "1", false},
		{"12345678901234567890", "12345678901234567891", false},
		{"1e99999999999999999999", "1e99999999999999999999", true},
		{"1e99999999999999999999", "1e99999999999999999998", false},
	} {
		if got := numberEqual(tc.a, tc.b); got != tc.want {
			t.Errorf("numberEqual(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
