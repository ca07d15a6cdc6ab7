package domain

import (
	"errors"
	"fmt"
	"strings"
)

// Code classifies an error for callers: the API maps each code to one HTTP
// status in a single table, and clients branch on it, so codes are stable.
type Code string

// The error codes of actionledger.
const (
	CodeInvalid             Code = "invalid_input"
	CodeNotFound            Code = "not_found"
	CodeAlreadyExists       Code = "already_exists"
	CodeTransition          Code = "transition_not_allowed"
	CodeUnauthenticated     Code = "unauthenticated"
	CodeUserDeactivated     Code = "user_deactivated"
	CodeForbidden           Code = "forbidden"
	CodeStaleRevision       Code = "stale_revision"
	CodeIdempotencyMismatch Code = "idempotency_key_reused"
	CodeUnavailable         Code = "unavailable"
	CodeInternal            Code = "internal"
)

// Error is actionledger's error: a code, the request field at fault when there
// is one, and a message meant for the person who sent the request.
type Error struct {
	Code    Code
	Field   string
	Message string
	// Suggestions are values the field might have been meant to hold (the
	// known place names closest to a misspelt one), best first.
	Suggestions []string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Is matches any *Error with the same code, so the sentinels below work with
// errors.Is whatever the field and message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Sentinels, one per code, for errors.Is.
var (
	ErrInvalid             = &Error{Code: CodeInvalid, Message: "invalid input"}
	ErrNotFound            = &Error{Code: CodeNotFound, Message: "not found"}
	ErrAlreadyExists       = &Error{Code: CodeAlreadyExists, Message: "already exists"}
	ErrTransition          = &Error{Code: CodeTransition, Message: "transition not allowed"}
	ErrUnauthenticated     = &Error{Code: CodeUnauthenticated, Message: "missing or invalid token"}
	ErrForbidden           = &Error{Code: CodeForbidden, Message: "forbidden"}
	ErrStaleRevision       = &Error{Code: CodeStaleRevision, Message: "stale revision"}
	ErrIdempotencyMismatch = &Error{Code: CodeIdempotencyMismatch, Message: "idempotency key reused with a different request"}
	ErrUnavailable         = &Error{Code: CodeUnavailable, Message: "unavailable"}
)

// Errorf returns an *Error with code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns a CodeInvalid error about one request field.
func FieldError(field, format string, args ...any) *Error {
	return &Error{Code: CodeInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or
// CodeInternal for anything else (nil has no code: "").
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// DeactivatedError refuses a request from a user who was switched off. It
// carries the reason and whether their phone should wipe its local data, so
// the mobilizers' app can say why and act on it; it matches
// ErrUnauthenticated's status but keeps its own code.
type DeactivatedError struct {
	UserID string
	Reason string
	Wipe   bool
}

func (e *DeactivatedError) Error() string { return string(CodeUserDeactivated) + ": " + e.message() }

// Is matches any *Error with CodeUserDeactivated.
func (e *DeactivatedError) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == CodeUserDeactivated
}

// As lets callers that only know *Error see the code and the message.
func (e *DeactivatedError) As(target any) bool {
	if t, ok := target.(**Error); ok {
		*t = &Error{Code: CodeUserDeactivated, Message: e.message()}
		return true
	}
	return false
}

func (e *DeactivatedError) message() string {
	msg := "this user was deactivated: " + e.Reason
	if e.Wipe {
		msg += "; erase the data on this device (wipe: true)"
	}
	return msg
}

// TransitionError says which lifecycle step was refused and why; it matches
// ErrTransition.
type TransitionError struct {
	Aggregate string
	Action    string
	From      string
	Allowed   []string
}

func (e *TransitionError) Error() string { return string(CodeTransition) + ": " + e.message() }

// Is makes errors.Is(err, ErrTransition) true.
func (e *TransitionError) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == CodeTransition
}

// As lets errors.As(err, **Error) see a TransitionError as an *Error, so that
// callers that only know *Error still get the code and a message.
func (e *TransitionError) As(target any) bool {
	if t, ok := target.(**Error); ok {
		*t = &Error{Code: CodeTransition, Message: e.message()}
		return true
	}
	return false
}

// message is read by the person who sent the request, so it is a sentence:
// "cannot record a visit for a community that is registered; that is
// allowed only when it is triggered or under follow up". Statuses are shown
// as words; the stable part for programs is the code.
func (e *TransitionError) message() string {
	msg := fmt.Sprintf("cannot %s %s that is %s", e.Action, article(e.Aggregate), words(e.From))
	if len(e.Allowed) > 0 {
		allowed := make([]string, len(e.Allowed))
		for i, s := range e.Allowed {
			allowed[i] = words(s)
		}
		msg += "; that is allowed only when it is " + joinOr(allowed)
	}
	return msg
}

// words turns a status like in_progress into the words "in progress".
func words(status string) string { return strings.ReplaceAll(status, "_", " ") }

func article(noun string) string {
	switch noun[0] {
	case 'a', 'e', 'i', 'o', 'u':
		return "an " + noun
	}
	return "a " + noun
}

func joinOr(ss []string) string {
	out := ""
	for i, s := range ss {
		switch {
		case i == 0:
		case i == len(ss)-1:
			out += " or "
		default:
			out += ", "
		}
		out += s
	}
	return out
}
