package shadow

import (
	"encoding/json"
	"fmt"
	"time"
)

// ErrorKind classifies a shadow failure by the iot-data exception it becomes.
// Callers map kinds to iotdm error codes; Status gives the HTTP status that the
// AWS model assigns (§1.3, data plane) and that the MQTT error document carries
// in its code member (§6.2).
type ErrorKind int

// Error kinds, one per iot-data exception a shadow operation can raise.
const (
	// InvalidRequest is InvalidRequestException (400).
	InvalidRequest ErrorKind = iota + 1
	// NotFound is ResourceNotFoundException (404).
	NotFound
	// Conflict is ConflictException (409), the shadow version conflict.
	Conflict
	// RequestEntityTooLarge is RequestEntityTooLargeException (413).
	RequestEntityTooLarge
	// UnsupportedDocumentEncoding is UnsupportedDocumentEncodingException (415).
	UnsupportedDocumentEncoding
)

// String returns the AWS exception name of k.
func (k ErrorKind) String() string {
	switch k {
	case InvalidRequest:
		return "InvalidRequestException"
	case NotFound:
		return "ResourceNotFoundException"
	case Conflict:
		return "ConflictException"
	case RequestEntityTooLarge:
		return "RequestEntityTooLargeException"
	case UnsupportedDocumentEncoding:
		return "UnsupportedDocumentEncodingException"
	}
	return fmt.Sprintf("ErrorKind(%d)", int(k))
}

// Status returns the HTTP status of k. AWS §1.3: iot-data statuses. (Plain
// numbers: the package is pure and may not import net/http.)
func (k ErrorKind) Status() int {
	switch k {
	case InvalidRequest:
		return 400
	case NotFound:
		return 404
	case Conflict:
		return 409
	case RequestEntityTooLarge:
		return 413
	case UnsupportedDocumentEncoding:
		return 415
	}
	return 500
}

// Error is the one error type of the package. Message is the text AWS sends,
// verbatim where the reference quotes it (§6.3).
type Error struct {
	Kind    ErrorKind
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("shadow: %s: %s", e.Kind, e.Message) }

// Messages quoted by the reference (§1.3, §6.3). The others are ours.
const (
	msgInvalidJSON     = "Payload contains invalid json"
	msgMissingState    = "Missing required node: state"
	msgStateObject     = "State node must be an object"
	msgStateInvalid    = "State contains an invalid node"
	msgDesiredObject   = "Desired node must be an object"
	msgReportedObject  = "Reported node must be an object"
	msgClientToken     = "Invalid clientToken"
	msgVersionConflict = "Version conflict"
	msgTooDeep         = "JSON contains too many levels of nesting; maximum is 6"
	msgTooLarge        = "The payload exceeds the maximum size allowed"
	msgStateEmpty      = "State node must contain desired or reported" // ours
	msgVersion         = "Invalid version"                             // ours
	msgArrayNull       = "Arrays may not contain null values"          // ours
	msgEncoding        = "Payload must be UTF-8 encoded JSON"          // ours
	msgShadowName      = "Invalid shadow name"                         // ours
	msgNoShadow        = "No shadow exists"                            // ours; see NotFoundError
)

func invalid(msg string) *Error { return &Error{Kind: InvalidRequest, Message: msg} }

// NotFoundError returns the 404 AWS sends for a missing shadow. The name is the
// shadow name for a named shadow and the thing name for the classic shadow;
// AWS §1.3 and §10 item 11: the text is the same when the thing itself is
// missing.
func NotFoundError(thingName, shadowName string) *Error {
	name := shadowName
	if name == "" {
		name = thingName
	}
	return &Error{Kind: NotFound, Message: fmt.Sprintf("No shadow exists with name: '%s'", name)}
}

// RejectedDocument returns the error document published on …/rejected topics.
// AWS §6.2: {code: <HTTP status int>, message, timestamp?, clientToken?}.
func RejectedDocument(err *Error, clientToken string, now time.Time) []byte {
	doc := struct {
		Code        int    `json:"code"`
		Message     string `json:"message"`
		Timestamp   int64  `json:"timestamp"`
		ClientToken string `json:"clientToken,omitempty"`
	}{err.Kind.Status(), err.Message, now.Unix(), clientToken}
	return marshal(doc)
}

// ClientToken extracts the clientToken of a request document on a best-effort
// basis, so that a rejected document can echo it (AWS §6.2). It returns "" when
// the request is not a JSON object or its token is missing or invalid.
func ClientToken(request []byte) string {
	if len(request) > MaxRequestBytes {
		return ""
	}
	var doc struct {
		ClientToken json.RawMessage `json:"clientToken"`
	}
	if json.Unmarshal(request, &doc) != nil || doc.ClientToken == nil {
		return ""
	}
	var tok string
	if json.Unmarshal(doc.ClientToken, &tok) != nil || len(tok) > MaxClientTokenBytes {
		return ""
	}
	return tok
}
