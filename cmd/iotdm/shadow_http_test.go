package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/google/go-cmp/cmp"
	"github.com/iotdm/iotdm"
)

// These tests drive the iot-data shadow operations of a real in-process
// server with raw HTTP requests signed by the SDK's SigV4 signer (the SDK's
// iotdataplane module is not a dependency): signing name iotdata, as the SDK
// model says, and iotdevicegateway, as the developer guide tells hand-written
// clients.

// shadowClient signs and sends iot-data requests.
type shadowClient struct {
	t       *testing.T
	srv     *server
	creds   aws.Credentials
	service string // signing name
}

// shadowResponse is one answer: status, error code header and body.
type shadowResponse struct {
	status  int
	errType string
	body    []byte
}

// doc decodes the body as a JSON object, failing the test if it is not one.
func (r shadowResponse) doc(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response body %q: %v", r.body, err)
	}
	return m
}

// wantError fails unless the response is the error code with the status.
func (r shadowResponse) wantError(t *testing.T, op string, status int, code string) {
	t.Helper()
	if r.status != status || r.errType != code {
		t.Fatalf("%s = %d %s %s, want %d %s", op, r.status, r.errType, r.body, status, code)
	}
}

func newShadowClient(t *testing.T) *shadowClient {
	t.Helper()
	cfg := testConfig(t)
	s := startServer(t, cfg)
	key, err := ensureCredentials(cfg.DataDir, nil, testLogger(t))
	if err != nil {
		t.Fatalf("credentials: %v", err)
	}
	return &shadowClient{t: t, srv: s, service: "iotdata",
		creds: aws.Credentials{AccessKeyID: key.ID, SecretAccessKey: key.Secret}}
}

func (c *shadowClient) do(method, path string, query url.Values, body string) shadowResponse {
	c.t.Helper()
	u := c.srv.URL() + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(c.t.Context(), method, u, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(c.t.Context(), c.creds, req, hex.EncodeToString(sum[:]), c.service, c.srv.cfg.Region, time.Now()); err != nil {
		c.t.Fatalf("sign: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("read %s %s: %v", method, path, err)
	}
	return shadowResponse{status: resp.StatusCode, errType: resp.Header.Get("X-Amzn-ErrorType"), body: b}
}

func shadowPath(thing string) string { return "/things/" + url.PathEscape(thing) + "/shadow" }

func named(name string) url.Values {
	if name == "" {
		return nil
	}
	return url.Values{"name": {name}}
}

func (c *shadowClient) update(thing, name, doc string) shadowResponse {
	c.t.Helper()
	return c.do(http.MethodPost, shadowPath(thing), named(name), doc)
}

func (c *shadowClient) get(thing, name string) shadowResponse {
	c.t.Helper()
	return c.do(http.MethodGet, shadowPath(thing), named(name), "")
}

func (c *shadowClient) delete(thing, name string) shadowResponse {
	c.t.Helper()
	return c.do(http.MethodDelete, shadowPath(thing), named(name), "")
}

func (c *shadowClient) list(thing string, q url.Values) shadowResponse {
	c.t.Helper()
	return c.do(http.MethodGet, "/api/things/shadow/ListNamedShadowsForThing/"+url.PathEscape(thing), q, "")
}

func (c *shadowClient) lastSeq() uint64 {
	c.t.Helper()
	seq, err := c.srv.store.LastSeq(context.Background())
	if err != nil {
		c.t.Fatalf("LastSeq: %v", err)
	}
	return seq
}

// path reads a member of a decoded document by its dotted path.
func path(doc map[string]any, p string) any {
	var v any = doc
	for k := range strings.SplitSeq(p, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func TestShadowHTTPClassicShadow(t *testing.T) {
	c := newShadowClient(t)
	const thing = "lamp-01" // not a registered thing: AWS does not require one

	before := c.lastSeq()
	r := c.update(thing, "", `{"state":{"desired":{"color":"red","brightness":80},"reported":{"color":"blue"}},"clientToken":"tok-1"}`)
	if r.status != http.StatusOK {
		t.Fatalf("UpdateThingShadow = %d %s", r.status, r.body)
	}
	acc := r.doc(t)
	for p, want := range map[string]any{
		"state.desired.color": "red", "state.desired.brightness": 80.0, "state.reported.color": "blue",
		"version": 1.0, "clientToken": "tok-1",
	} {
		if got := path(acc, p); got != want {
			t.Errorf("accepted %s = %v, want %v", p, got, want)
		}
	}
	for _, p := range []string{"metadata.desired.color.timestamp", "metadata.desired.brightness.timestamp", "metadata.reported.color.timestamp", "timestamp"} {
		ts, ok := path(acc, p).(float64)
		if !ok || time.Since(time.Unix(int64(ts), 0)).Abs() > time.Minute {
			t.Errorf("accepted %s = %v, want epoch seconds of now", p, path(acc, p))
		}
	}

	t.Run("the update is one KindShadow put in the change feed", func(t *testing.T) {
		changes, err := c.srv.store.Changes(t.Context(), before, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(changes) != 1 || changes[0].Op != iotdm.OpPut || changes[0].Kind != iotdm.KindShadow || changes[0].Key != iotdm.ShadowKey(thing, "") {
			t.Fatalf("changes after the update = %+v, want one put of %s %q", changes, iotdm.KindShadow, thing+"/")
		}
		var stored struct {
			Desired map[string]any `json:"desired"`
			Version int64          `json:"version"`
		}
		if err := json.Unmarshal(changes[0].Value, &stored); err != nil || stored.Version != 1 || stored.Desired["color"] != "red" {
			t.Errorf("change value %s (%v), want the state at version 1", changes[0].Value, err)
		}
	})

	t.Run("get shows the delta", func(t *testing.T) {
		g := c.get(thing, "")
		if g.status != http.StatusOK {
			t.Fatalf("GetThingShadow = %d %s", g.status, g.body)
		}
		doc := g.doc(t)
		want := map[string]any{"color": "red", "brightness": 80.0}
		if diff := cmp.Diff(want, path(doc, "state.delta")); diff != "" {
			t.Errorf("delta (-want +got):\n%s", diff)
		}
		if path(doc, "version") != 1.0 || path(doc, "metadata.reported.color.timestamp") == nil {
			t.Errorf("GetThingShadow = %s, want version 1 with metadata", g.body)
		}
	})

	t.Run("signed as iotdevicegateway", func(t *testing.T) {
		gw := *c
		gw.service = "iotdevicegateway"
		if g := gw.get(thing, ""); g.status != http.StatusOK || path(g.doc(t), "version") != 1.0 {
			t.Errorf("GetThingShadow signed as iotdevicegateway = %d %s", g.status, g.body)
		}
	})

	t.Run("refused updates change nothing", func(t *testing.T) {
		seq := c.lastSeq()
		c.update(thing, "", `{"state":{"reported":{"color":"red"}},"version":7}`).wantError(t, "update(stale version)", http.StatusConflict, "ConflictException")
		c.update(thing, "", `{"state":{"desired":{"blob":"`+strings.Repeat("x", 9000)+`"}}}`).wantError(t, "update(9 KB)", http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException")
		c.update(thing, "", `{"state":{"desired":`).wantError(t, "update(invalid JSON)", http.StatusBadRequest, "InvalidRequestException")
		c.update(thing, "", `{"state":{"desired":{"a":{"b":{"c":{"d":{"e":{"f":{"g":1}}}}}}}}}`).wantError(t, "update(too deep)", http.StatusBadRequest, "InvalidRequestException")
		c.update(thing, "", "{\"state\":{\"desired\":{\"a\":\"\xff\"}}}").wantError(t, "update(not UTF-8)", http.StatusUnsupportedMediaType, "UnsupportedDocumentEncodingException")
		c.update(thing, "", `{"desired":{"a":1}}`).wantError(t, "update(no state)", http.StatusBadRequest, "InvalidRequestException")
		if after := c.lastSeq(); after != seq {
			t.Errorf("refused updates moved the change feed from %d to %d", seq, after)
		}
		if g := c.get(thing, ""); path(g.doc(t), "version") != 1.0 || path(g.doc(t), "state.reported.color") != "blue" {
			t.Errorf("after refused updates GetThingShadow = %s, want version 1 unchanged", g.body)
		}
	})

	t.Run("a matching version is accepted and the delta shrinks", func(t *testing.T) {
		r := c.update(thing, "", `{"state":{"reported":{"color":"red","brightness":80}},"version":1}`)
		if r.status != http.StatusOK || path(r.doc(t), "version") != 2.0 {
			t.Fatalf("update(version 1) = %d %s, want version 2", r.status, r.body)
		}
		if g := c.get(thing, ""); path(g.doc(t), "state.delta") != nil {
			t.Errorf("GetThingShadow = %s, want no delta", g.body)
		}
	})

	t.Run("missing shadows are 404 with AWS's message", func(t *testing.T) {
		g := c.get("ghost", "")
		g.wantError(t, "get(ghost)", http.StatusNotFound, "ResourceNotFoundException")
		if msg := path(g.doc(t), "message"); msg != "No shadow exists with name: 'ghost'" {
			t.Errorf("message = %v", msg)
		}
		d := c.delete("ghost", "cfg")
		d.wantError(t, "delete(ghost cfg)", http.StatusNotFound, "ResourceNotFoundException")
		if msg := path(d.doc(t), "message"); msg != "No shadow exists with name: 'cfg'" {
			t.Errorf("message = %v", msg)
		}
	})

	t.Run("bad names are refused", func(t *testing.T) {
		c.get("bad!name", "").wantError(t, "get(bad thing name)", http.StatusBadRequest, "InvalidRequestException")
		c.get(strings.Repeat("a", 129), "").wantError(t, "get(129-char thing name)", http.StatusBadRequest, "InvalidRequestException")
		c.update(thing, "bad/name", `{"state":{"desired":{"a":1}}}`).wantError(t, "update(bad shadow name)", http.StatusBadRequest, "InvalidRequestException")
		c.update(thing, strings.Repeat("s", 65), `{"state":{"desired":{"a":1}}}`).wantError(t, "update(65-char shadow name)", http.StatusBadRequest, "InvalidRequestException")
	})

	t.Run("delete answers the version and is a KindShadow delete", func(t *testing.T) {
		seq := c.lastSeq()
		d := c.delete(thing, "")
		if d.status != http.StatusOK || path(d.doc(t), "version") != 2.0 || path(d.doc(t), "timestamp") == nil {
			t.Fatalf("DeleteThingShadow = %d %s, want version 2 and a timestamp", d.status, d.body)
		}
		changes, err := c.srv.store.Changes(t.Context(), seq, 100)
		if err != nil {
			t.Fatal(err)
		}
		var deleted bool
		for _, ch := range changes {
			if ch.Kind == iotdm.KindShadow && ch.Op == iotdm.OpDelete && ch.Key == iotdm.ShadowKey(thing, "") {
				deleted = true
			}
		}
		if !deleted {
			t.Errorf("changes after the delete = %+v, want a delete of %s %q", changes, iotdm.KindShadow, thing+"/")
		}
		c.get(thing, "").wantError(t, "get(deleted)", http.StatusNotFound, "ResourceNotFoundException")
		c.delete(thing, "").wantError(t, "delete(deleted)", http.StatusNotFound, "ResourceNotFoundException")
		// AWS §6.3 item 8: recreated within 48 hours, the numbering continues.
		if r := c.update(thing, "", `{"state":{"reported":{"on":true}}}`); path(r.doc(t), "version") != 3.0 {
			t.Errorf("recreated shadow = %s, want version 3", r.body)
		}
	})
}

func TestShadowHTTPNamedShadows(t *testing.T) {
	c := newShadowClient(t)
	const thing = "pump-7"
	for _, name := range []string{"config", "$net", "alpha", "Zeta"} {
		if r := c.update(thing, name, `{"state":{"desired":{"name":"`+name+`"}}}`); r.status != http.StatusOK || path(r.doc(t), "version") != 1.0 {
			t.Fatalf("update(%s) = %d %s", name, r.status, r.body)
		}
	}
	// The classic shadow is not listed; another thing's shadows are not either.
	c.update(thing, "", `{"state":{"reported":{"x":1}}}`)
	c.update(thing+"-b", "other", `{"state":{"reported":{"x":1}}}`)

	type listOut struct {
		Results   []string `json:"results"`
		NextToken string   `json:"nextToken"`
		Timestamp int64    `json:"timestamp"`
	}
	list := func(q url.Values) listOut {
		t.Helper()
		r := c.list(thing, q)
		if r.status != http.StatusOK {
			t.Fatalf("ListNamedShadowsForThing(%v) = %d %s", q, r.status, r.body)
		}
		var out listOut
		if err := json.Unmarshal(r.body, &out); err != nil {
			t.Fatal(err)
		}
		if time.Since(time.Unix(out.Timestamp, 0)).Abs() > time.Minute {
			t.Errorf("timestamp = %d, want epoch seconds of now", out.Timestamp)
		}
		return out
	}
	want := []string{"$net", "Zeta", "alpha", "config"}
	if got := list(nil); !slices.Equal(got.Results, want) || got.NextToken != "" {
		t.Errorf("ListNamedShadowsForThing = %+v, want %v without nextToken", got, want)
	}

	t.Run("pages", func(t *testing.T) {
		var all []string
		q := url.Values{"pageSize": {"3"}}
		for pages := 1; ; pages++ {
			out := list(q)
			all = append(all, out.Results...)
			if out.NextToken == "" {
				if pages != 2 {
					t.Errorf("%d pages, want 2", pages)
				}
				break
			}
			q.Set("nextToken", out.NextToken)
		}
		if !slices.Equal(all, want) {
			t.Errorf("paged results = %v, want %v", all, want)
		}
		c.list(thing, url.Values{"pageSize": {"101"}}).wantError(t, "list(pageSize 101)", http.StatusBadRequest, "InvalidRequestException")
		c.list(thing, url.Values{"nextToken": {"garbage!"}}).wantError(t, "list(bad token)", http.StatusBadRequest, "InvalidRequestException")
	})

	t.Run("get and delete one named shadow", func(t *testing.T) {
		if g := c.get(thing, "$net"); g.status != http.StatusOK || path(g.doc(t), "state.desired.name") != "$net" {
			t.Errorf("get($net) = %d %s", g.status, g.body)
		}
		if d := c.delete(thing, "config"); d.status != http.StatusOK || path(d.doc(t), "version") != 1.0 {
			t.Errorf("delete(config) = %d %s", d.status, d.body)
		}
		g := c.get(thing, "config")
		g.wantError(t, "get(deleted config)", http.StatusNotFound, "ResourceNotFoundException")
		if msg := path(g.doc(t), "message"); msg != "No shadow exists with name: 'config'" {
			t.Errorf("message = %v", msg)
		}
		if got := list(nil).Results; !slices.Equal(got, []string{"$net", "Zeta", "alpha"}) {
			t.Errorf("after delete, ListNamedShadowsForThing = %v", got)
		}
		if got := c.list("nobody", nil); got.status != http.StatusOK || !strings.Contains(string(got.body), `"results":[]`) {
			t.Errorf("ListNamedShadowsForThing(nobody) = %d %s, want empty results", got.status, got.body)
		}
	})
}

// TestShadowHTTPOutlivesThing checks that shadows are independent of the
// registry: deleting the thing leaves its shadow.
func TestShadowHTTPOutlivesThing(t *testing.T) {
	c := newShadowClient(t)
	ctx := context.Background()
	key, err := ensureCredentials(c.srv.cfg.DataDir, nil, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ic := staticIoTClient(c.srv, key.ID, key.Secret)
	must[*iot.CreateThingOutput](t, "CreateThing")(ic.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String("meter")}))
	if r := c.update("meter", "", `{"state":{"reported":{"kwh":12.5}}}`); r.status != http.StatusOK {
		t.Fatalf("update = %d %s", r.status, r.body)
	}
	must[*iot.DeleteThingOutput](t, "DeleteThing")(ic.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String("meter")}))
	if g := c.get("meter", ""); g.status != http.StatusOK || path(g.doc(t), "state.reported.kwh") != 12.5 {
		t.Errorf("get after DeleteThing = %d %s, want the shadow", g.status, g.body)
	}
}
