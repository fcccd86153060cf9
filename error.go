package iotdm

import (
	"errors"
	"fmt"
)

// ErrorCode names an error by the AWS exception it becomes on the wire.
type ErrorCode string

// Error codes, named exactly as the AWS exceptions they map to. The HTTP
// status of each lives in one table in internal/awsapi.
const (
	ErrInvalidRequest              ErrorCode = "InvalidRequestException"
	ErrResourceNotFound            ErrorCode = "ResourceNotFoundException"
	ErrResourceAlreadyExists       ErrorCode = "ResourceAlreadyExistsException"
	ErrVersionConflict             ErrorCode = "VersionConflictException"
	ErrLimitExceeded               ErrorCode = "LimitExceededException"
	ErrDeleteConflict              ErrorCode = "DeleteConflictException"
	ErrConflict                    ErrorCode = "ConflictException"
	ErrThrottling                  ErrorCode = "ThrottlingException"
	ErrUnauthorized                ErrorCode = "UnauthorizedException"
	ErrInternalFailure             ErrorCode = "InternalFailureException"
	ErrServiceUnavailable          ErrorCode = "ServiceUnavailableException"
	ErrInvalidQuery                ErrorCode = "InvalidQueryException"
	ErrMalformedPolicy             ErrorCode = "MalformedPolicyException"
	ErrCertificateState            ErrorCode = "CertificateStateException"
	ErrCertificateValidation       ErrorCode = "CertificateValidationException"
	ErrValidation                  ErrorCode = "ValidationException"
	ErrUnknownOperation            ErrorCode = "UnknownOperationException"
	ErrSerialization               ErrorCode = "SerializationException"
	ErrMethodNotAllowed            ErrorCode = "MethodNotAllowedException"
	ErrRequestEntityTooLarge       ErrorCode = "RequestEntityTooLargeException"
	ErrUnrecognizedClient          ErrorCode = "UnrecognizedClientException"
	ErrInvalidSignature            ErrorCode = "InvalidSignatureException"
	ErrIncompleteSignature         ErrorCode = "IncompleteSignatureException"
	ErrMissingAuthToken            ErrorCode = "MissingAuthenticationTokenException"
	ErrSignatureDoesNotMatch       ErrorCode = "SignatureDoesNotMatch"
	ErrAccessDenied                ErrorCode = "AccessDeniedException"
	ErrIndexNotReady               ErrorCode = "IndexNotReadyException"
	ErrInvalidAggregation          ErrorCode = "InvalidAggregationException"
	ErrVersionsLimitExceeded       ErrorCode = "VersionsLimitExceededException"
	ErrRegistrationCodeValid       ErrorCode = "RegistrationCodeValidationException"
	ErrServiceQuotaExceeded        ErrorCode = "ServiceQuotaExceededException"
	ErrInvalidStateTransition      ErrorCode = "InvalidStateTransitionException"
	ErrUnsupportedDocumentEncoding ErrorCode = "UnsupportedDocumentEncodingException"
	ErrForbidden                   ErrorCode = "ForbiddenException"
	ErrCertificateConflict         ErrorCode = "CertificateConflictException"
	ErrTransferConflict            ErrorCode = "TransferConflictException"
	ErrTransferAlreadyCompleted    ErrorCode = "TransferAlreadyCompletedException"
)

// Error is the one error type of the domain. Services return it for every
// failure a client can act on; anything else becomes InternalFailureException
// at the edge.
type Error struct {
	Code    ErrorCode
	Message string
	// ResourceID and ResourceARN are set on ResourceAlreadyExistsException
	// (and ResourceID on ConflictException), as the AWS models declare.
	ResourceID  string
	ResourceARN string
	// Op is the operation that failed, for logs; never sent to clients.
	Op string
}

func (e *Error) Error() string {
	if e.Op != "" {
		return fmt.Sprintf("%s: %s: %s", e.Op, e.Code, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the ErrorCode of err, or "" when err carries no *Error.
func CodeOf(err error) ErrorCode {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// IsCode reports whether err carries an *Error with the code.
func IsCode(err error, code ErrorCode) bool { return CodeOf(err) == code }
