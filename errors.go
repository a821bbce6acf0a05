// Package provgraph holds what every layer shares: the application error with its closed
// set of codes. Domain packages live beside it; adapters (graph, server) translate to it.
package provgraph

import (
	"errors"
	"fmt"
)

// Code is the closed set of error kinds the API exposes.
type Code string

const (
	Invalid      Code = "invalid"
	NotFound     Code = "not_found"
	Conflict     Code = "conflict"
	Unauthorized Code = "unauthorized"
	Forbidden    Code = "forbidden"
	TooLarge     Code = "too_large"
	// TooMany is a caller over a concurrency or rate limit: retry after Retry-After.
	TooMany     Code = "too_many_requests"
	Unavailable Code = "unavailable"
	Internal    Code = "internal"
)

// FieldError names one offending field by JSON pointer.
type FieldError struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// Error is an error whose message is safe to show to the caller.
type Error struct {
	Code    Code
	Message string
	Fields  []FieldError
	// Status overrides the default status of Code (e.g. 400 instead of 422 for invalid).
	Status int
	err    error
}

func (e *Error) Error() string {
	if e.err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.err }

// Errorf builds an Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap keeps cause for logs while showing only message to callers.
func Wrap(code Code, cause error, message string) *Error {
	return &Error{Code: code, Message: message, err: cause}
}

// InvalidFields reports every violation at once.
func InvalidFields(message string, fields []FieldError) *Error {
	return &Error{Code: Invalid, Message: message, Fields: fields}
}

// ErrorCode returns the code of err, Internal for anything that is not an *Error.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}
