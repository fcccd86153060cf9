package main

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

func TestAnswerLen(t *testing.T) {
	if answerLen != strconv.Itoa(len(answer)) {
		t.Fatalf("answerLen %s, len(answer) %d", answerLen, len(answer))
	}
}

func TestHandlerRemembersPostedNames(t *testing.T) {
	h := newHandler()
	for _, r := range []*http.Request{
		httptest.NewRequest("POST", "/things/a", strings.NewReader(`{"attributePayload":{}}`)),
		httptest.NewRequest("GET", "/things/a", nil),
		httptest.NewRequest("POST", "/thing-groups/g", strings.NewReader(`{}`)),
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK || w.Body.String() != answer {
			t.Fatalf("%s %s: %d %q", r.Method, r.URL, w.Code, w.Body)
		}
	}
	if len(h.names) != 2 {
		t.Fatalf("names: %v", h.names)
	}
}
