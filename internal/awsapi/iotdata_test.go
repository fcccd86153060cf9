package awsapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/iotdm/iotdm"
)

// fakeShadows is an iotdm.Shadows that records its calls and answers with
// fixed payloads, or with the error fail returns.
type fakeShadows struct {
	fakeRegistry // for record and last
}

func (f *fakeShadows) GetThingShadow(ctx context.Context, in *iotdm.GetThingShadowInput) (*iotdm.GetThingShadowOutput, error) {
	if err := f.record("GetThingShadow", in); err != nil {
		return nil, err
	}
	return &iotdm.GetThingShadowOutput{Payload: []byte(`{"state":{"desired":{"on":true}},"version":3}`)}, nil
}

func (f *fakeShadows) UpdateThingShadow(ctx context.Context, in *iotdm.UpdateThingShadowInput) (*iotdm.UpdateThingShadowOutput, error) {
	if err := f.record("UpdateThingShadow", in); err != nil {
		return nil, err
	}
	return &iotdm.UpdateThingShadowOutput{Payload: append([]byte("accepted:"), in.Payload...)}, nil
}

func (f *fakeShadows) DeleteThingShadow(ctx context.Context, in *iotdm.DeleteThingShadowInput) (*iotdm.DeleteThingShadowOutput, error) {
	if err := f.record("DeleteThingShadow", in); err != nil {
		return nil, err
	}
	return &iotdm.DeleteThingShadowOutput{Payload: []byte(`{"version":3,"timestamp":1700000000}`)}, nil
}

func (f *fakeShadows) ListNamedShadowsForThing(ctx context.Context, in *iotdm.ListNamedShadowsForThingInput) (*iotdm.ListNamedShadowsForThingOutput, error) {
	if err := f.record("ListNamedShadowsForThing", in); err != nil {
		return nil, err
	}
	return &iotdm.ListNamedShadowsForThingOutput{Results: []string{"a", "b"}, NextToken: "tok", Timestamp: 1700000000}, nil
}

var _ iotdm.Shadows = (*fakeShadows)(nil)

// fakeMessaging records messaging calls like fakeShadows.
type fakeMessaging struct{ fakeShadows }

func (f *fakeMessaging) Publish(ctx context.Context, in *iotdm.PublishInput) (*iotdm.Empty, error) {
	if err := f.record("Publish", in); err != nil {
		return nil, err
	}
	return &iotdm.Empty{}, nil
}

func (f *fakeMessaging) GetRetainedMessage(ctx context.Context, in *iotdm.GetRetainedMessageInput) (*iotdm.GetRetainedMessageOutput, error) {
	if err := f.record("GetRetainedMessage", in); err != nil {
		return nil, err
	}
	return &iotdm.GetRetainedMessageOutput{Topic: in.Topic, Payload: []byte("on"), QoS: 1, LastModifiedTime: 1700000000000}, nil
}

func (f *fakeMessaging) ListRetainedMessages(ctx context.Context, in *iotdm.ListRetainedMessagesInput) (*iotdm.ListRetainedMessagesOutput, error) {
	if err := f.record("ListRetainedMessages", in); err != nil {
		return nil, err
	}
	return &iotdm.ListRetainedMessagesOutput{RetainedTopics: []iotdm.RetainedMessageSummary{{Topic: "a/b", PayloadSize: 2, QoS: 1}}}, nil
}

var _ iotdm.Messaging = (*fakeMessaging)(nil)

// allIoTDataRoutes is every route NewIoTData serves in cmd/iotdm.
func allIoTDataRoutes() []Route {
	return append(iotDataRoutes(&fakeShadows{}), MessagingRoutes(&fakeMessaging{})...)
}

func TestMessagingRoutesCoverService(t *testing.T) {
	checkRoutesCover(t, MessagingRoutes(&fakeMessaging{}), reflect.TypeFor[iotdm.Messaging]())
}

func TestIoTDataRoutesCoverShadows(t *testing.T) {
	checkRoutesCover(t, iotDataRoutes(&fakeShadows{}), reflect.TypeFor[iotdm.Shadows]())
}

// TestIoTDataRoutesMatchModel checks every route against the botocore
// iot-data model, as TestIoTRoutesMatchModel does for iot, including that
// the shadow documents are the raw payloads the model declares.
func TestIoTDataRoutesMatchModel(t *testing.T) {
	m := loadModel(t, "iot-data", "2015-05-28")
	if m.Metadata.Protocol != "rest-json" || m.Metadata.SigningName != "iotdata" {
		t.Fatalf("model metadata %+v", m.Metadata)
	}
	for _, r := range allIoTDataRoutes() {
		t.Run(r.Name, func(t *testing.T) {
			op, ok := m.Operations[r.Name]
			if !ok {
				t.Fatalf("no operation %s in the model", r.Name)
			}
			if r.Method != op.HTTP.Method || r.Path != op.HTTP.RequestURI {
				t.Errorf("route %s %s, model %s %s", r.Method, r.Path, op.HTTP.Method, op.HTTP.RequestURI)
			}
			if op.Input == nil {
				t.Fatal("model operation has no input")
			}
			checkInput(t, m, r.Input, op.Input.Shape)
			if op.Output == nil {
				if r.Output != reflect.TypeFor[iotdm.Empty]() {
					t.Errorf("the model has no output; the route answers %s", r.Output)
				}
				return
			}
			checkPayload(t, m, r.Output, op.Output.Shape)
			checkBody(t, m, r.Output, op.Output.Shape, r.Output.Name())
		})
	}
}

func TestIoTDataRawPayloads(t *testing.T) {
	f := &fakeShadows{}
	h := NewIoTData(f)
	serve := func(method, target, body string) *httptest.ResponseRecorder {
		t.Helper()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(method, target, strings.NewReader(body)))
		return w
	}

	doc := `{"state":{"desired":{"color":"red"}},"clientToken":"x"}`
	w := serve("POST", "/things/lamp%3A1/shadow?name=cfg", doc)
	if w.Code != http.StatusOK || w.Body.String() != "accepted:"+doc || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("UpdateThingShadow = %d %q (%s)", w.Code, w.Body, w.Header().Get("Content-Type"))
	}
	want := &iotdm.UpdateThingShadowInput{ThingName: "lamp:1", ShadowName: "cfg", Payload: []byte(doc)}
	if diff := cmp.Diff(want, f.last(t, "UpdateThingShadow")); diff != "" {
		t.Errorf("UpdateThingShadow input (-want +got):\n%s", diff)
	}

	// Not JSON at all: the raw payload reaches the service untouched.
	w = serve("POST", "/things/lamp/shadow", "not json")
	if w.Code != http.StatusOK || string(f.last(t, "UpdateThingShadow").(*iotdm.UpdateThingShadowInput).Payload) != "not json" {
		t.Errorf("UpdateThingShadow(not json) = %d %q", w.Code, w.Body)
	}

	w = serve("GET", "/things/lamp/shadow", "")
	if w.Code != http.StatusOK || w.Body.String() != `{"state":{"desired":{"on":true}},"version":3}` {
		t.Errorf("GetThingShadow = %d %q", w.Code, w.Body)
	}
	if diff := cmp.Diff(&iotdm.GetThingShadowInput{ThingName: "lamp"}, f.last(t, "GetThingShadow")); diff != "" {
		t.Errorf("GetThingShadow input (-want +got):\n%s", diff)
	}

	w = serve("DELETE", "/things/lamp/shadow?name=%24cfg", "")
	if w.Code != http.StatusOK || w.Body.String() != `{"version":3,"timestamp":1700000000}` {
		t.Errorf("DeleteThingShadow = %d %q", w.Code, w.Body)
	}
	if diff := cmp.Diff(&iotdm.DeleteThingShadowInput{ThingName: "lamp", ShadowName: "$cfg"}, f.last(t, "DeleteThingShadow")); diff != "" {
		t.Errorf("DeleteThingShadow input (-want +got):\n%s", diff)
	}

	w = serve("GET", "/api/things/shadow/ListNamedShadowsForThing/lamp?pageSize=2&nextToken=abc", "")
	if w.Code != http.StatusOK || w.Body.String() != `{"results":["a","b"],"nextToken":"tok","timestamp":1700000000}` {
		t.Errorf("ListNamedShadowsForThing = %d %q", w.Code, w.Body)
	}
	if diff := cmp.Diff(&iotdm.ListNamedShadowsForThingInput{ThingName: "lamp", NextToken: "abc", PageSize: 2}, f.last(t, "ListNamedShadowsForThing")); diff != "" {
		t.Errorf("ListNamedShadowsForThing input (-want +got):\n%s", diff)
	}

	w = serve("PUT", "/things/lamp/shadow", "{}")
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("X-Amzn-ErrorType") != string(iotdm.ErrMethodNotAllowed) {
		t.Errorf("PUT shadow = %d %s", w.Code, w.Header().Get("X-Amzn-ErrorType"))
	}
}

func TestIoTDataErrorStatuses(t *testing.T) {
	for code, status := range map[iotdm.ErrorCode]int{
		iotdm.ErrThrottling:                  http.StatusTooManyRequests, // iot-data's one override
		iotdm.ErrConflict:                    http.StatusConflict,
		iotdm.ErrResourceNotFound:            http.StatusNotFound,
		iotdm.ErrRequestEntityTooLarge:       http.StatusRequestEntityTooLarge,
		iotdm.ErrUnsupportedDocumentEncoding: http.StatusUnsupportedMediaType,
		iotdm.ErrInvalidRequest:              http.StatusBadRequest,
	} {
		f := &fakeShadows{}
		f.fail = func(string, any) error { return iotdm.Errorf(code, "boom") }
		w := httptest.NewRecorder()
		NewIoTData(f).ServeHTTP(w, httptest.NewRequest("POST", "/things/lamp/shadow", strings.NewReader("{}")))
		if w.Code != status || w.Header().Get("X-Amzn-ErrorType") != string(code) {
			t.Errorf("%s: status %d type %s, want %d", code, w.Code, w.Header().Get("X-Amzn-ErrorType"), status)
		}
	}
}
