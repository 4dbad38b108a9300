package openapi

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/realmiam/realmiam/shared/problem"
)

// Decode reads the (already schema-validated) JSON body into v.
func Decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return problem.New(problem.Invalid, "malformed_json", "The request body does not match the expected JSON.")
	}
	return nil
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
