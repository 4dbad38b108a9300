package openapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/realmiam/realmiam/shared/problem"
)

// Decode reads the (already schema-validated) JSON body into v. What the
// schema lets through but Go cannot hold (9.0 for an integer, a number out of
// range) is an Invalid error naming the field.
func Decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var te *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &te) && te.Field != "":
		return problem.InvalidField(te.Field, "must be a value of type "+te.Type.String())
	}
	return problem.New(problem.Invalid, "malformed_json", "The request body does not match the expected JSON.")
}

// JSON writes v with the given status.
func JSON(w http.ResponseWriter, status int, v any) error {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		return problem.Wrap("openapi.JSON", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// A failed write means the client has gone; there is nobody to tell.
	_, _ = w.Write(buf.Bytes())
	return nil
}

// Created writes 201 with a Location header and v.
func Created(w http.ResponseWriter, location string, v any) error {
	w.Header().Set("Location", location)
	return JSON(w, http.StatusCreated, v)
}

// NoContent writes 204.
func NoContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}
