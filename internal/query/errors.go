package query

import "fmt"

// Error is a query that cannot be parsed or breaks a rule of AWS §2.3. Callers
// map it to iotdm.ErrInvalidQuery (InvalidQueryException).
type Error struct {
	// Pos is the byte offset, counted from 0, of the offending input;
	// 0 <= Pos <= len(input), and Pos == len(input) means "at the end".
	Pos int
	// Msg says what is wrong, without the position.
	Msg string
}

func (e *Error) Error() string {
	return fmt.Sprintf("Unable to parse query at position %d: %s", e.Pos, e.Msg)
}

func errorf(pos int, format string, args ...any) *Error {
	return &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}
