package awsapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/iotdm/iotdm"
)

// statusByCode is the one table from error code to HTTP status. It follows
// the botocore models: the control plane (iot) declares every status below
// except the data-plane-only codes (ForbiddenException, MethodNotAllowed,
// RequestEntityTooLarge, UnsupportedDocumentEncoding), which come from
// iot-data, and the front-door codes (authentication, unknown operation,
// serialization), which no model declares and which AWS sends as shown.
//
// The only disagreement between the two IoT models is ThrottlingException:
// 400 in iot, 429 in iot-data. The table keeps the control plane's 400; the
// data-plane adapter overrides it with WithStatus.
var statusByCode = map[iotdm.ErrorCode]int{
	iotdm.ErrInvalidRequest:                                 http.StatusBadRequest,
	iotdm.ErrThrottling:                                     http.StatusBadRequest,
	iotdm.ErrInvalidQuery:                                   http.StatusBadRequest,
	iotdm.ErrInvalidAggregation:                             http.StatusBadRequest,
	iotdm.ErrIndexNotReady:                                  http.StatusBadRequest,
	iotdm.ErrMalformedPolicy:                                http.StatusBadRequest,
	iotdm.ErrCertificateValidation:                          http.StatusBadRequest,
	iotdm.ErrRegistrationCodeValid:                          http.StatusBadRequest,
	iotdm.ErrValidation:                                     http.StatusBadRequest,
	iotdm.ErrSerialization:                                  http.StatusBadRequest,
	iotdm.ErrorCode("ResourceRegistrationFailureException"): http.StatusBadRequest,
	iotdm.ErrorCode("SqlParseException"):                    http.StatusBadRequest,
	iotdm.ErrorCode("TaskAlreadyExistsException"):           http.StatusBadRequest,
	iotdm.ErrorCode("InvalidResponseException"):             http.StatusBadRequest,
	iotdm.ErrUnauthorized:                                   http.StatusUnauthorized,
	iotdm.ErrServiceQuotaExceeded:                           http.StatusPaymentRequired,
	iotdm.ErrUnrecognizedClient:                             http.StatusForbidden,
	iotdm.ErrInvalidSignature:                               http.StatusForbidden,
	iotdm.ErrIncompleteSignature:                            http.StatusForbidden,
	iotdm.ErrMissingAuthToken:                               http.StatusForbidden,
	iotdm.ErrSignatureDoesNotMatch:                          http.StatusForbidden,
	iotdm.ErrAccessDenied:                                   http.StatusForbidden,
	iotdm.ErrForbidden:                                      http.StatusForbidden,
	iotdm.ErrResourceNotFound:                               http.StatusNotFound,
	iotdm.ErrorCode("NotConfiguredException"):               http.StatusNotFound,
	iotdm.ErrUnknownOperation:                               http.StatusNotFound,
	iotdm.ErrMethodNotAllowed:                               http.StatusMethodNotAllowed,
	iotdm.ErrCertificateState:                               http.StatusNotAcceptable,
	iotdm.ErrResourceAlreadyExists:                          http.StatusConflict,
	iotdm.ErrVersionConflict:                                http.StatusConflict,
	iotdm.ErrVersionsLimitExceeded:                          http.StatusConflict,
	iotdm.ErrDeleteConflict:                                 http.StatusConflict,
	iotdm.ErrConflict:                                       http.StatusConflict,
	iotdm.ErrInvalidStateTransition:                         http.StatusConflict,
	iotdm.ErrCertificateConflict:                            http.StatusConflict,
	iotdm.ErrorCode("ConflictingResourceUpdateException"):   http.StatusConflict,
	iotdm.ErrTransferConflict:                               http.StatusConflict,
	iotdm.ErrLimitExceeded:                                  http.StatusGone,
	iotdm.ErrTransferAlreadyCompleted:                       http.StatusGone,
	iotdm.ErrRequestEntityTooLarge:                          http.StatusRequestEntityTooLarge,
	iotdm.ErrUnsupportedDocumentEncoding:                    http.StatusUnsupportedMediaType,
	iotdm.ErrInternalFailure:                                http.StatusInternalServerError,
	iotdm.ErrorCode("InternalException"):                    http.StatusInternalServerError,
	iotdm.ErrorCode("InternalServerException"):              http.StatusInternalServerError,
	iotdm.ErrServiceUnavailable:                             http.StatusServiceUnavailable,
}

// StatusOf returns the HTTP status AWS sends with code. Codes the table does
// not know are client errors (400).
func StatusOf(code iotdm.ErrorCode) int {
	if s, ok := statusByCode[code]; ok {
		return s
	}
	return http.StatusBadRequest
}

// internalMessage is what a client sees for a failure that is not an
// *iotdm.Error; the cause goes to the log only.
const internalMessage = "An internal error occurred."

// errorBody is the JSON body of an error response. SDKs read the code from
// the x-amzn-ErrorType header first and fall back to __type.
type errorBody struct {
	Message     string `json:"message"`
	Type        string `json:"__type"`
	ResourceID  string `json:"resourceId,omitempty"`
	ResourceARN string `json:"resourceArn,omitempty"`
}

// ErrorWriter is implemented by service handlers that format errors their
// own way (a protocol other than rest-json, or status overrides). The Server
// uses it for the refusals it sends on the service's behalf (signature
// failures), so clients of that service can parse them.
type ErrorWriter interface {
	WriteError(w http.ResponseWriter, r *http.Request, err error)
}

// WriteError writes err as an AWS JSON error response with the status of
// the default table. See writeError.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, r, err, nil, "")
}

// writeError writes err as an AWS error response: the status from overrides
// or the default table, the x-amzn-ErrorType header and a JSON body with
// message, __type and, when set, resourceId and resourceArn. An err that
// carries no *iotdm.Error (or one without a code) becomes
// InternalFailureException with a fixed message; the cause is logged, never
// sent. op names the operation for the log.
func writeError(w http.ResponseWriter, r *http.Request, err error, overrides map[iotdm.ErrorCode]int, op string) {
	var e *iotdm.Error
	if !errors.As(err, &e) || e.Code == "" {
		logInternal(r, err, op)
		e = &iotdm.Error{Code: iotdm.ErrInternalFailure, Message: internalMessage}
	}
	status, ok := overrides[e.Code]
	if !ok {
		status = StatusOf(e.Code)
	}
	b, merr := json.Marshal(errorBody{
		Message:     e.Message,
		Type:        string(e.Code),
		ResourceID:  e.ResourceID,
		ResourceARN: e.ResourceARN,
	})
	if merr != nil { // unreachable: the body holds strings only
		b = []byte(`{"message":"","__type":"InternalFailureException"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("X-Amzn-ErrorType", string(e.Code))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// logInternal logs an error that the client will only see as
// InternalFailureException.
func logInternal(r *http.Request, err error, op string) {
	ctx := r.Context()
	level := slog.LevelError
	if ctx.Err() != nil {
		level = slog.LevelDebug // the client went away; not our failure
	}
	loggerFrom(ctx).Log(ctx, level, "internal failure",
		slog.String("requestId", RequestIDFrom(ctx)),
		slog.String("operation", op),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Any("err", err))
}
