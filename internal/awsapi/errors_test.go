package awsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/iotdm/iotdm"
)

func TestStatusTableMatchesModels(t *testing.T) {
	tests := []struct {
		service   string
		overrides map[iotdm.ErrorCode]int
	}{
		{service: "iot"},
		// The data plane differs from the control plane in one status,
		// which its adapter overrides.
		{service: "iot-data", overrides: map[iotdm.ErrorCode]int{iotdm.ErrThrottling: http.StatusTooManyRequests}},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			m := loadModel(t, tt.service, "2015-05-28")
			n := 0
			for name, s := range m.Shapes {
				if !s.Exception {
					continue
				}
				n++
				code := iotdm.ErrorCode(name)
				got, ok := tt.overrides[code]
				if !ok {
					if _, known := statusByCode[code]; !known {
						t.Errorf("%s is missing from the status table", name)
						continue
					}
					got = StatusOf(code)
				}
				if got != s.Error.HTTPStatusCode {
					t.Errorf("%s: status %d, model says %d", name, got, s.Error.HTTPStatusCode)
				}
			}
			if n == 0 {
				t.Fatal("model declares no exceptions")
			}
		})
	}
}

func TestStatusOfFrontDoorCodes(t *testing.T) {
	for code, want := range map[iotdm.ErrorCode]int{
		iotdm.ErrMissingAuthToken:      403,
		iotdm.ErrIncompleteSignature:   403,
		iotdm.ErrInvalidSignature:      403,
		iotdm.ErrUnrecognizedClient:    403,
		iotdm.ErrSignatureDoesNotMatch: 403,
		iotdm.ErrAccessDenied:          403,
		iotdm.ErrUnknownOperation:      404,
		iotdm.ErrMethodNotAllowed:      405,
		iotdm.ErrRequestEntityTooLarge: 413,
		iotdm.ErrSerialization:         400,
		iotdm.ErrorCode("NoSuchThing"): 400,
	} {
		if got := StatusOf(code); got != want {
			t.Errorf("StatusOf(%s) = %d, want %d", code, got, want)
		}
	}
}

func TestWriteError(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		overrides  map[iotdm.ErrorCode]int
		wantStatus int
		wantBody   map[string]string
	}{
		{
			name:       "code, message and resource members",
			err:        &iotdm.Error{Code: iotdm.ErrResourceAlreadyExists, Message: "Thing t already exists", ResourceID: "id-1", ResourceARN: "arn:aws:iot:us-east-1:1:thing/t", Op: "CreateThing"},
			wantStatus: 409,
			wantBody:   map[string]string{"message": "Thing t already exists", "__type": "ResourceAlreadyExistsException", "resourceId": "id-1", "resourceArn": "arn:aws:iot:us-east-1:1:thing/t"},
		},
		{
			name:       "wrapped error keeps its code",
			err:        fmt.Errorf("describe: %w", iotdm.Errorf(iotdm.ErrResourceNotFound, "no thing")),
			wantStatus: 404,
			wantBody:   map[string]string{"message": "no thing", "__type": "ResourceNotFoundException"},
		},
		{
			name:       "limit exceeded is 410",
			err:        iotdm.Errorf(iotdm.ErrLimitExceeded, "too many"),
			wantStatus: 410,
			wantBody:   map[string]string{"message": "too many", "__type": "LimitExceededException"},
		},
		{
			name:       "service override",
			err:        iotdm.Errorf(iotdm.ErrThrottling, "Rate exceeded"),
			overrides:  map[iotdm.ErrorCode]int{iotdm.ErrThrottling: 429},
			wantStatus: 429,
			wantBody:   map[string]string{"message": "Rate exceeded", "__type": "ThrottlingException"},
		},
		{
			name:       "foreign error becomes an opaque internal failure",
			err:        errors.New("sqlite: database is locked at /var/lib/iotdm/db"),
			wantStatus: 500,
			wantBody:   map[string]string{"message": internalMessage, "__type": "InternalFailureException"},
		},
		{
			name:       "error without a code is internal",
			err:        &iotdm.Error{Message: "secret detail"},
			wantStatus: 500,
			wantBody:   map[string]string{"message": internalMessage, "__type": "InternalFailureException"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			r := httptest.NewRequest("GET", "/things/t", nil)
			ctx := context.WithValue(r.Context(), infoKey{}, &requestInfo{id: "req-1", logger: slog.New(slog.NewTextHandler(&logs, nil))})
			r = r.WithContext(ctx)
			w := httptest.NewRecorder()
			writeError(w, r, tt.err, tt.overrides, "DescribeThing")

			if w.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", w.Code, tt.wantStatus)
			}
			if got := w.Header().Get("X-Amzn-ErrorType"); got != tt.wantBody["__type"] {
				t.Errorf("x-amzn-ErrorType = %q, want %q", got, tt.wantBody["__type"])
			}
			if got := w.Header().Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q", got)
			}
			var body map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", w.Body, err)
			}
			if diff := cmp.Diff(tt.wantBody, body); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			if tt.wantStatus == 500 {
				if !strings.Contains(logs.String(), "req-1") || !strings.Contains(logs.String(), "DescribeThing") {
					t.Errorf("internal failure not logged with request id and operation: %q", logs.String())
				}
			} else if logs.Len() != 0 {
				t.Errorf("client error logged: %q", logs.String())
			}
		})
	}
}
