package awsapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/iotdm/iotdm"
)

// probeInput exercises every kind of binding.
type probeInput struct {
	Name      string   `json:"-" uri:"name"`
	Max       int      `json:"-" query:"maxResults"`
	Recursive *bool    `json:"-" query:"recursive"`
	Flag      bool     `json:"-" query:"flag"`
	Version   *int64   `json:"-" query:"expectedVersion"`
	Count32   int32    `json:"-" query:"count"`
	Token     *string  `json:"-" query:"nextToken"`
	Keys      []string `json:"-" query:"tagKeys"`
	Principal string   `json:"-" header:"x-amzn-principal"`
	List      []string `json:"-" header:"x-list"`
	Desc      string   `json:"description,omitempty"`
	Nested    *struct {
		N int `json:"n"`
	} `json:"nested,omitempty"`
}

// probeQuery is the input of the probe's routes without labels.
type probeQuery struct {
	Max       int    `json:"-" query:"maxResults"`
	Recursive *bool  `json:"-" query:"recursive"`
	Count32   int32  `json:"-" query:"count"`
	Token     string `json:"-" query:"nextToken"`
	Desc      string `json:"description,omitempty"`
}

type probeOutput struct {
	Op string      `json:"op"`
	In *probeInput `json:"-"`
}

type greedyInput struct {
	ARN string `json:"-" uri:"arn"`
}

// probe is a RestJSON whose routes record what they were called with.
type probe struct {
	*RestJSON
	op string
	in any
}

func newProbe() *probe {
	p := &probe{}
	recQuery := func(op string) func(ctx context.Context, in *probeQuery) (*probeOutput, error) {
		return func(ctx context.Context, in *probeQuery) (*probeOutput, error) {
			p.op, p.in = op, in
			return &probeOutput{Op: op}, nil
		}
	}
	rec := func(op string) func(ctx context.Context, in *probeInput) (*probeOutput, error) {
		return func(ctx context.Context, in *probeInput) (*probeOutput, error) {
			p.op, p.in = op, in
			if in.Name == "boom" {
				return nil, iotdm.Errorf(iotdm.ErrThrottling, "Rate exceeded")
			}
			return &probeOutput{Op: op}, nil
		}
	}
	p.RestJSON = NewRestJSON([]Route{
		Op("Describe", "GET", "/things/{name}", rec("Describe")),
		Op("Create", "POST", "/things/{name}", rec("Create")),
		Op("List", "GET", "/things", recQuery("List")),
		Op("AddToGroup", "PUT", "/groups/addThing", recQuery("AddToGroup")),
		Op("UpdateGroup", "PUT", "/groups/{name}", rec("UpdateGroup")),
		Op("DescribeGroup", "GET", "/groups/{name}", rec("DescribeGroup")),
		Op("GroupThings", "GET", "/groups/{name}/things", rec("GroupThings")),
		Op("Nothing", "DELETE", "/things/{name}", func(ctx context.Context, in *probeInput) (*iotdm.Empty, error) {
			p.op, p.in = "Nothing", in
			return nil, nil
		}),
		Op("GetDestination", "GET", "/destinations/{arn+}", func(ctx context.Context, in *greedyInput) (*probeOutput, error) {
			p.op, p.in = "GetDestination", in
			return &probeOutput{Op: "GetDestination"}, nil
		}),
	}, WithStatus(iotdm.ErrThrottling, http.StatusTooManyRequests))
	return p
}

func (p *probe) serve(method, target, body string, hdr map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	p.ServeHTTP(w, r)
	return w
}

func ptr[T any](v T) *T { return &v }

func TestRestJSONRouting(t *testing.T) {
	tests := []struct {
		name, method, target string
		wantOp               string
		wantName             string
	}{
		{"label", "GET", "/things/dev-1", "Describe", "dev-1"},
		{"method picks the operation", "POST", "/things/dev-1", "Create", "dev-1"},
		{"label unescaped after matching", "GET", "/things/arn%3Aaws%3Aiot%3Aus-east-1%3A1%3Athing%2Fa%3Ab", "Describe", "arn:aws:iot:us-east-1:1:thing/a:b"},
		{"reserved topic characters", "GET", "/things/%24aws%2Fthings%2Fd%2Fshadow", "Describe", "$aws/things/d/shadow"},
		{"plus stays a plus in a path", "GET", "/things/a+b%20c", "Describe", "a+b c"},
		{"no label", "GET", "/things", "List", ""},
		{"literal wins over label", "PUT", "/groups/addThing", "AddToGroup", ""},
		{"label when the literal has no such method", "GET", "/groups/addThing", "DescribeGroup", "addThing"},
		{"label on other names", "PUT", "/groups/g1", "UpdateGroup", "g1"},
		{"deeper route under a label", "GET", "/groups/addThing/things", "GroupThings", "addThing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProbe()
			w := p.serve(tt.method, tt.target, "", nil)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d, body %s", w.Code, w.Body)
			}
			if p.op != tt.wantOp {
				t.Errorf("operation = %q, want %q", p.op, tt.wantOp)
			}
			var got string
			if in, ok := p.in.(*probeInput); ok {
				got = in.Name
			}
			if got != tt.wantName {
				t.Errorf("name = %q, want %q", got, tt.wantName)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			var out map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || out["op"] != tt.wantOp {
				t.Errorf("body %s (%v)", w.Body, err)
			}
		})
	}
}

func TestRestJSONGreedyLabelTakesTheRest(t *testing.T) {
	p := newProbe()
	w := p.serve("GET", "/destinations/arn%3Aaws%3Aiot%3Aus-east-1%3A1%3Aruledestination/http/abc%2Fd", "", nil)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d, body %s", w.Code, w.Body)
	}
	if got := p.in.(*greedyInput).ARN; got != "arn:aws:iot:us-east-1:1:ruledestination/http/abc/d" {
		t.Errorf("arn = %q", got)
	}
}

func TestRestJSONUnmatched(t *testing.T) {
	tests := []struct {
		name, method, target string
		status               int
		code                 string
		allow                string
	}{
		{"unknown path", "GET", "/nothing-here", 404, "UnknownOperationException", ""},
		{"too deep", "GET", "/things/a/b/c", 404, "UnknownOperationException", ""},
		{"empty label", "GET", "/things/", 404, "UnknownOperationException", ""},
		{"wrong method on a known path", "PATCH", "/things/dev-1", 405, "MethodNotAllowedException", "DELETE, GET, POST"},
		{"wrong method on a literal path", "POST", "/groups/addThing", 405, "MethodNotAllowedException", "PUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProbe()
			w := p.serve(tt.method, tt.target, "", nil)
			if w.Code != tt.status {
				t.Errorf("status = %d, want %d", w.Code, tt.status)
			}
			if got := w.Header().Get("X-Amzn-ErrorType"); got != tt.code {
				t.Errorf("error type = %q, want %q", got, tt.code)
			}
			if got := w.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
			if p.op != "" {
				t.Errorf("operation %s was called", p.op)
			}
		})
	}
}

func TestRestJSONBinding(t *testing.T) {
	p := newProbe()
	w := p.serve("POST",
		"/things/dev%3A1?maxResults=25&recursive=false&flag=TRUE&expectedVersion=9007199254740993&count=-3&nextToken=a%2Bb+c&tagKeys=k1&tagKeys=k%202&unknown=x",
		`{"description":"d","nested":{"n":7}}`,
		map[string]string{"X-Amzn-Principal": " arn:aws:iot:us-east-1:1:cert/abc ", "X-List": "a, b,c"})
	if w.Code != http.StatusOK {
		t.Fatalf("status %d, body %s", w.Code, w.Body)
	}
	want := &probeInput{
		Name: "dev:1", Max: 25, Recursive: ptr(false), Flag: true, Version: ptr(int64(9007199254740993)),
		Count32: -3, Token: ptr("a+b c"), Keys: []string{"k1", "k 2"},
		Principal: "arn:aws:iot:us-east-1:1:cert/abc", List: []string{"a", "b", "c"},
		Desc: "d", Nested: &struct {
			N int `json:"n"`
		}{N: 7},
	}
	if diff := cmp.Diff(want, p.in); diff != "" {
		t.Errorf("input (-want +got):\n%s", diff)
	}
}

func TestRestJSONBindingDefaults(t *testing.T) {
	t.Run("empty body and no query leave zero values", func(t *testing.T) {
		p := newProbe()
		if w := p.serve("GET", "/things", "", nil); w.Code != 200 {
			t.Fatalf("status %d, body %s", w.Code, w.Body)
		}
		if diff := cmp.Diff(&probeQuery{}, p.in); diff != "" {
			t.Errorf("input (-want +got):\n%s", diff)
		}
	})
	t.Run("labels win over the body", func(t *testing.T) {
		type in struct {
			Name string `json:"thingName" uri:"thingName"`
		}
		var got in
		rj := NewRestJSON([]Route{Op("X", "POST", "/x/{thingName}", func(ctx context.Context, i *in) (*iotdm.Empty, error) {
			got = *i
			return nil, nil
		})})
		w := httptest.NewRecorder()
		rj.ServeHTTP(w, httptest.NewRequest("POST", "/x/fromPath", strings.NewReader(`{"thingName":"fromBody"}`)))
		if got.Name != "fromPath" {
			t.Errorf("name = %q, want fromPath", got.Name)
		}
	})
	t.Run("nil output is an empty object", func(t *testing.T) {
		p := newProbe()
		w := p.serve("DELETE", "/things/a", "", nil)
		if w.Code != 200 || w.Body.String() != "{}" {
			t.Errorf("got %d %q, want 200 {}", w.Code, w.Body)
		}
	})
}

func TestRestJSONRejectsBadInput(t *testing.T) {
	tests := []struct {
		name, method, target, body string
		hdr                        map[string]string
		wantMessage                string
	}{
		{name: "non-integer maxResults", method: "GET", target: "/things?maxResults=ten",
			wantMessage: "1 validation error detected: Value 'ten' at 'maxResults' failed to satisfy constraint: Member must be an integer"},
		{name: "integer out of range", method: "GET", target: "/things?count=99999999999"},
		{name: "non-boolean flag", method: "GET", target: "/things?recursive=yes"},
		{name: "bad query escaping", method: "GET", target: "/things?nextToken=%zz"},
		{name: "malformed JSON", method: "POST", target: "/things/a", body: `{"description":`},
		{name: "JSON of the wrong type", method: "POST", target: "/things/a", body: `{"description":5}`,
			wantMessage: "Could not parse request body into json: unexpected number at 'description'."},
		{name: "JSON array body", method: "POST", target: "/things/a", body: `[1]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProbe()
			w := p.serve(tt.method, tt.target, tt.body, tt.hdr)
			if w.Code != http.StatusBadRequest {
				t.Errorf("status = %d, want 400", w.Code)
			}
			if got := w.Header().Get("X-Amzn-ErrorType"); got != "InvalidRequestException" {
				t.Errorf("error type = %q", got)
			}
			var body struct{ Message string }
			_ = json.Unmarshal(w.Body.Bytes(), &body)
			if tt.wantMessage != "" && body.Message != tt.wantMessage {
				t.Errorf("message:\n got %q\nwant %q", body.Message, tt.wantMessage)
			}
			if strings.Contains(body.Message, "probeInput") || strings.Contains(body.Message, "Go ") {
				t.Errorf("message leaks Go internals: %q", body.Message)
			}
			if p.op != "" {
				t.Errorf("operation %s was called", p.op)
			}
		})
	}
}

func TestRestJSONStatusOverride(t *testing.T) {
	p := newProbe()
	w := p.serve("GET", "/things/boom", "", nil)
	if w.Code != http.StatusTooManyRequests {
		t.Errorf("status = %d, want 429", w.Code)
	}
}

func TestNewRestJSONRefusesBadTables(t *testing.T) {
	type labelled struct {
		Name string `json:"-" uri:"name"`
	}
	type unsupported struct {
		F float64 `json:"-" query:"f"`
	}
	noop := func(ctx context.Context, in *labelled) (*iotdm.Empty, error) { return nil, nil }
	tests := []struct {
		name   string
		routes func() []Route
	}{
		{"label without field", func() []Route { return []Route{Op("A", "GET", "/a/{other}", noop)} }},
		{"field without label", func() []Route { return []Route{Op("A", "GET", "/a", noop)} }},
		{"duplicate route", func() []Route {
			return []Route{Op("A", "GET", "/a/{name}", noop), Op("B", "GET", "/a/{name}", noop)}
		}},
		{"greedy label not last", func() []Route { return []Route{Op("A", "GET", "/a/{name+}/b", noop)} }},
		{"query in template", func() []Route { return []Route{Op("A", "GET", "/a/{name}?x", noop)} }},
		{"unsupported field type", func() []Route {
			return []Route{Op("A", "GET", "/a", func(ctx context.Context, in *unsupported) (*iotdm.Empty, error) { return nil, nil })}
		}},
		{"payload that is not []byte", func() []Route {
			type in struct {
				P string `json:"-" payload:"true"`
			}
			return []Route{Op("A", "POST", "/a", func(ctx context.Context, _ *in) (*iotdm.Empty, error) { return nil, nil })}
		}},
		{"payload beside JSON body fields", func() []Route {
			type in struct {
				P []byte `json:"-" payload:"true"`
				D string `json:"d"`
			}
			return []Route{Op("A", "POST", "/a", func(ctx context.Context, _ *in) (*iotdm.Empty, error) { return nil, nil })}
		}},
		{"two payloads", func() []Route {
			type out struct {
				P []byte `json:"-" payload:"true"`
				Q []byte `json:"-" payload:"true"`
			}
			return []Route{Op("A", "GET", "/a", func(ctx context.Context, _ *iotdm.Empty) (*out, error) { return nil, nil })}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			NewRestJSON(tt.routes())
		})
	}
}

func BenchmarkRestJSON(b *testing.B) {
	p := newProbe()
	r := httptest.NewRequest("POST", "/things/arn%3Adev-1?maxResults=25&recursive=true", strings.NewReader(""))
	body := []byte(`{"description":"d"}`)
	r = r.WithContext(context.WithValue(r.Context(), infoKey{}, &requestInfo{body: body, bodyRead: true}))
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		p.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}
