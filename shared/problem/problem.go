// Package problem provides Realm IAM's one error type and its RFC 9457
// application/problem+json writer.
//
// Handlers and stores return *Error (or wrap one); Write turns any error into
// a response. Errors of kind Internal, and errors that are not *Error at all,
// are logged with their cause and answered with a generic body: driver text,
// stack traces and secrets never reach a client.
package problem

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
)

// Kind classifies an error. The list is append-only; statusOf maps each kind to
// an HTTP status.
type Kind int

// The kinds of error. Internal is the zero value so that an Error built
// without a kind never exposes its detail.
const (
	Internal Kind = iota
	Invalid
	Unauthenticated
	Forbidden
	NotFound
	Conflict
	TooLarge
	RateLimited
	Unavailable
	UnsupportedMediaType
	MethodNotAllowed
)

var statusOf = map[Kind]int{
	Internal:             http.StatusInternalServerError,
	Invalid:              http.StatusBadRequest,
	Unauthenticated:      http.StatusUnauthorized,
	Forbidden:            http.StatusForbidden,
	NotFound:             http.StatusNotFound,
	Conflict:             http.StatusConflict,
	TooLarge:             http.StatusRequestEntityTooLarge,
	RateLimited:          http.StatusTooManyRequests,
	Unavailable:          http.StatusServiceUnavailable,
	UnsupportedMediaType: http.StatusUnsupportedMediaType,
	MethodNotAllowed:     http.StatusMethodNotAllowed,
}

// Status is the HTTP status for kind k.
func (k Kind) Status() int {
	if s, ok := statusOf[k]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// FieldError names one invalid input field. Field is a JSON pointer-like path
// ("email", "settings.passwordPolicy.minLength") or a parameter name.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// Error is the one error type. Code is stable and machine-readable
// ("duplicate_email"); Detail is a sentence for people and must never contain
// secrets or another realm's data. Err is the cause, kept for logs only.
type Error struct {
	Kind   Kind
	Code   string
	Detail string
	Fields []FieldError
	// RetryAfter, in seconds, becomes a Retry-After header when positive.
	RetryAfter int
	// Challenge becomes the WWW-Authenticate header of a 401.
	Challenge string
	// Allow becomes the Allow header of a 405.
	Allow string
	Err   error
}

func (e *Error) Error() string {
	msg := e.Code
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error of the given kind, code and detail.
func New(kind Kind, code, detail string) *Error {
	return &Error{Kind: kind, Code: code, Detail: detail}
}

// Newf is New with a formatted detail.
func Newf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Detail: fmt.Sprintf(format, args...)}
}

// InvalidField is the common validation error: one field, one reason.
func InvalidField(field, reason string) *Error {
	return &Error{
		Kind:   Invalid,
		Code:   "invalid_request",
		Detail: field + ": " + reason,
		Fields: []FieldError{{Field: field, Reason: reason}},
	}
}

// Wrap marks err as an internal failure of op. Use it at layer boundaries for
// errors that are not already *Error.
func Wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", op, err)
}

// KindOf is the kind of the first *Error in err's chain, Internal if none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// Is reports whether err has an *Error of kind k in its chain.
func Is(err error, k Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == k
}

// Body is the RFC 9457 document, with Realm IAM's extensions code and errors.
type Body struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail,omitempty"`
	Code   string       `json:"code"`
	Errors []FieldError `json:"errors,omitempty"`
}

// BodyOf is the response document for err: the *Error in its chain, or a
// generic internal error.
func BodyOf(err error) (Body, *Error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Kind: Internal, Err: err}
	}
	status := e.Kind.Status()
	b := Body{
		Type:   "about:blank",
		Title:  http.StatusText(status),
		Status: status,
		Detail: e.Detail,
		Code:   e.Code,
		Errors: e.Fields,
	}
	if e.Kind == Internal {
		// The cause is for the log only.
		b.Detail = "The server could not complete the request."
		b.Errors = nil
		b.Code = "internal_error"
	}
	if b.Code == "" {
		b.Code = defaultCode[e.Kind]
	}
	return b, e
}

var defaultCode = map[Kind]string{
	Invalid:              "invalid_request",
	Unauthenticated:      "unauthenticated",
	Forbidden:            "forbidden",
	NotFound:             "not_found",
	Conflict:             "conflict",
	TooLarge:             "request_too_large",
	RateLimited:          "rate_limited",
	Unavailable:          "unavailable",
	UnsupportedMediaType: "unsupported_media_type",
	MethodNotAllowed:     "method_not_allowed",
}

// Write sends err as application/problem+json. Internal errors are logged
// with their cause on log (which may be nil); others are not logged here.
func Write(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	b, e := BodyOf(err)
	if e.Kind == Internal && log != nil {
		log.ErrorContext(r.Context(), "internal error", "err", err.Error())
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	if e.Kind == Unavailable || e.Kind == RateLimited {
		after := e.RetryAfter
		if after <= 0 {
			after = 5
		}
		h.Set("Retry-After", strconv.Itoa(after))
	}
	if e.Kind == Unauthenticated {
		c := e.Challenge
		if c == "" {
			c = "Bearer"
		}
		h.Set("WWW-Authenticate", c)
	}
	if e.Kind == MethodNotAllowed && e.Allow != "" {
		h.Set("Allow", e.Allow)
	}
	w.WriteHeader(b.Status)
	_ = json.NewEncoder(w).Encode(b)
}
