package policy

import "fmt"

// Error is a policy document that cannot be parsed or breaks a rule of AWS
// §4.1. Callers map it to iotdm.ErrMalformedPolicy (MalformedPolicyException)
// at the edge; Error() is the message to send.
type Error struct {
	// Path locates the offending element, e.g. "Statement[1].Effect" or
	// "Statement[0].Condition.StringEquals"; empty for the document as a whole.
	Path string
	// Msg says what is wrong, without the path.
	Msg string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return "Policy document is malformed: " + e.Msg
	}
	return "Policy document is malformed: " + e.Path + ": " + e.Msg
}

func errorf(path, format string, args ...any) *Error {
	return &Error{Path: path, Msg: fmt.Sprintf(format, args...)}
}
