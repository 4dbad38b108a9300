package openapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/realmiam/realmiam/shared/problem"
)

// maxFieldErrors bounds the errors listed in one response, so that a small
// request cannot make a large answer.
const maxFieldErrors = 20

// validationProblem turns kin-openapi's request errors into one Invalid
// problem listing each field and reason. Reasons come from the schema, never
// from the submitted value, so nothing the caller sent (a password, say) is
// echoed.
func validationProblem(err error) error {
	var fields []problem.FieldError
	malformed := false
	var walk func(err error)
	walk = func(err error) {
		if me, ok := err.(openapi3.MultiError); ok { // not errors.As: it would unwrap a RequestError and lose its parameter
			for _, e := range me {
				walk(e)
			}
			return
		}
		var re *openapi3filter.RequestError
		if !errors.As(err, &re) {
			fields = append(fields, problem.FieldError{Field: "", Reason: "invalid request"})
			return
		}
		prefix := ""
		if re.Parameter != nil {
			prefix = re.Parameter.Name
		}
		var inner openapi3.MultiError
		if errors.As(re.Err, &inner) {
			for _, e := range inner {
				fields = append(fields, schemaField(prefix, e, re))
			}
			return
		}
		if re.RequestBody != nil && isDecodeError(re) {
			malformed = true
			return
		}
		fields = append(fields, schemaField(prefix, re.Err, re))
	}
	walk(err)
	if malformed {
		return problem.New(problem.Invalid, "malformed_json", "The request body is not valid JSON.")
	}
	more := ""
	if len(fields) > maxFieldErrors {
		more = fmt.Sprintf(" (and %d more)", len(fields)-maxFieldErrors)
		fields = fields[:maxFieldErrors]
	}
	details := make([]string, 0, len(fields))
	for _, f := range fields {
		details = append(details, f.Field+": "+f.Reason)
	}
	return &problem.Error{
		Kind:   problem.Invalid,
		Code:   "invalid_request",
		Detail: "The request does not match the API schema: " + strings.Join(details, "; ") + more + ".",
		Fields: fields,
	}
}

func schemaField(prefix string, err error, re *openapi3filter.RequestError) problem.FieldError {
	var se *openapi3.SchemaError
	if errors.As(err, &se) {
		path := strings.Join(se.JSONPointer(), ".")
		field := prefix
		if path != "" {
			if field != "" {
				field += "."
			}
			field += path
		}
		reason := se.Reason
		if se.SchemaField == "properties" && strings.HasPrefix(reason, "property") {
			// kin-openapi reports an unknown property on the parent object
			// (a missing one already has its name in the path); name the
			// property itself.
			if name, ok := quotedName(reason); ok {
				if field != "" {
					field += "."
				}
				field += name
			}
		}
		if field == "" && re.RequestBody != nil {
			field = "body"
		}
		return problem.FieldError{Field: field, Reason: reason}
	}
	if errors.Is(err, openapi3filter.ErrInvalidRequired) || (re.Err == nil && re.Reason != "") {
		field := prefix
		if field == "" {
			field = "body"
		}
		reason := "is required"
		if re.Reason != "" && !errors.Is(err, openapi3filter.ErrInvalidRequired) {
			reason = re.Reason
		}
		return problem.FieldError{Field: field, Reason: reason}
	}
	field := prefix
	if field == "" {
		field = "body"
	}
	return problem.FieldError{Field: field, Reason: "has an invalid value"}
}

// quotedName extracts "email" from `property "email" is missing`.
func quotedName(reason string) (string, bool) {
	i := strings.IndexByte(reason, '"')
	if i < 0 {
		return "", false
	}
	j := strings.IndexByte(reason[i+1:], '"')
	if j < 0 {
		return "", false
	}
	return reason[i+1 : i+1+j], true
}

func isDecodeError(re *openapi3filter.RequestError) bool {
	var pe *openapi3filter.ParseError
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	return errors.As(re.Err, &pe) || errors.As(re.Err, &se) || errors.As(re.Err, &te) ||
		strings.Contains(re.Reason, "failed to decode")
}
