package openapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/realmiam/realmiam"
	"github.com/realmiam/realmiam/shared/problem"
)

// handlersOf returns a handler that answers 204 for every operation of the
// named functions.
func handlersOf(t *testing.T, functions ...string) map[string]HandlerFunc {
	t.Helper()
	ops, err := Operations(realmiam.Spec)
	require.NoError(t, err)
	hs := map[string]HandlerFunc{}
	for id, op := range ops {
		if slices.Contains(functions, op.Function) {
			hs[id] = func(w http.ResponseWriter, r *http.Request) error { return NoContent(w) }
		}
	}
	require.NotEmpty(t, hs)
	return hs
}

func TestNewHandlerChecksHandlers(t *testing.T) {
	t.Parallel()
	noop := func(w http.ResponseWriter, r *http.Request) error { return NoContent(w) }
	for _, tc := range []struct {
		name   string
		edit   func(map[string]HandlerFunc) map[string]HandlerFunc
		errors []string // substrings of the error; none for success
	}{
		{"every operation of one function", func(hs map[string]HandlerFunc) map[string]HandlerFunc { return hs }, nil},
		{"no handlers at all", func(map[string]HandlerFunc) map[string]HandlerFunc { return nil }, nil},
		{"a missing operation", func(hs map[string]HandlerFunc) map[string]HandlerFunc {
			delete(hs, "deleteAccount")
			return hs
		}, []string{"operation deleteAccount of function accounts has no handler"}},
		{"a handler for no operation", func(hs map[string]HandlerFunc) map[string]HandlerFunc {
			hs["frobnicateAccount"] = noop
			return hs
		}, []string{"handler frobnicateAccount has no operation"}},
		{"one operation of another function", func(hs map[string]HandlerFunc) map[string]HandlerFunc {
			hs["createRealm"] = noop
			return hs
		}, []string{"operation listRealms of function realms has no handler", "operation deleteRealm of function realms has no handler"}},
		{"a nil handler", func(hs map[string]HandlerFunc) map[string]HandlerFunc {
			hs["getAccount"] = nil
			return hs
		}, []string{"operation getAccount of function accounts has no handler"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewHandler(Config{Spec: realmiam.Spec, Handlers: tc.edit(handlersOf(t, "accounts"))})
			if len(tc.errors) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, want := range tc.errors {
				require.Contains(t, err.Error(), want)
			}
		})
	}
}

func TestNewHandlerAllFunctions(t *testing.T) {
	t.Parallel()
	_, err := NewHandler(Config{Spec: realmiam.Spec, Handlers: handlersOf(t, "realms", "accounts", "auth")})
	require.NoError(t, err)
}

func TestLoadRefusesIncompleteOperations(t *testing.T) {
	t.Parallel()
	const base = `openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /x:
    get:
%s      responses:
        '200': {description: ok}
`
	for _, tc := range []struct{ name, op, want string }{
		{"no operationId", "      x-function: f\n      x-iam-action: a\n      x-iam-resource: r\n", "has no operationId"},
		{"no x-function", "      operationId: getX\n      x-iam-action: a\n      x-iam-resource: r\n", "has no x-function"},
		{"no x-iam-action", "      operationId: getX\n      x-function: f\n      x-iam-resource: r\n", "needs x-iam-action"},
		{"unknown x-iam-realm", "      operationId: getX\n      x-function: f\n      x-iam-action: a\n      x-iam-resource: r\n      x-iam-realm: acme\n", "x-iam-realm must be system"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := []byte(strings.Replace(base, "%s", tc.op, 1))
			_, err := Operations(spec)
			require.ErrorContains(t, err, tc.want)
		})
	}
	// A public operation needs no action.
	_, err := Operations([]byte(strings.Replace(base, "%s", "      operationId: getX\n      x-function: f\n      security: []\n", 1)))
	require.NoError(t, err)
}

func TestEmailFormat(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		email string
		ok    bool
	}{
		{"a@b.c", true},
		{"alice.smith@example.com", true},
		{"Alice@Example.COM", true},
		{"a+tag@b.co", true},
		{"o'brien@example.ie", true},
		{"ü@bücher.example", true},
		{"  padded@example.com\t", true},
		{"", false},
		{"   ", false},
		{"not-an-email", false},
		{"a@", false},
		{"@b.c", false},
		{"a@@b.c", false},
		{"a b@c.d", false},
		{"<a@b.c>", false},
		{"A <a@b.c>", false},
		{`"A" <a@b.c>`, false},
		{"a@b.c, d@e.f", false},
		{"a@b.c (comment)", false},
		{"a@b.c\r\nBcc: x@y.z", false},
	} {
		t.Run(tc.email, func(t *testing.T) {
			err := emailFormat{}.Validate(tc.email)
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
}

// testHandler is the pipeline for the accounts function with handlers that
// echo their body, and no guard.
func testHandler(t *testing.T, override map[string]HandlerFunc) *Handler {
	t.Helper()
	hs := handlersOf(t, "accounts")
	echo := func(w http.ResponseWriter, r *http.Request) error {
		var v map[string]any
		if err := Decode(r, &v); err != nil {
			return err
		}
		return JSON(w, http.StatusCreated, v)
	}
	hs["createAccount"] = echo
	for id, h := range override {
		hs[id] = h
	}
	h, err := NewHandler(Config{Spec: realmiam.Spec, Handlers: hs})
	require.NoError(t, err)
	return h
}

type result struct {
	status int
	header http.Header
	body   []byte
	prob   problem.Body
}

func serve(t *testing.T, h http.Handler, method, path, contentType string, body io.Reader, length int64) result {
	t.Helper()
	req := httptest.NewRequest(method, path, body)
	if length != 0 {
		req.ContentLength = length
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := result{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
	if rec.Header().Get("Content-Type") == "application/problem+json" {
		require.NoError(t, json.Unmarshal(res.body, &res.prob), "%s", res.body)
		require.Equal(t, rec.Code, res.prob.Status)
	}
	return res
}

func fieldsOf(p problem.Body) []string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

func TestValidationNamesFields(t *testing.T) {
	t.Parallel()
	h := testHandler(t, nil)
	for _, tc := range []struct {
		name, method, path, body string
		fields                   []string
	}{
		{"missing property", "POST", "/api/realm/acme/accounts", `{"password":"x"}`, []string{"email"}},
		{"two missing properties", "POST", "/api/realm/acme/accounts", `{}`, []string{"email", "password"}},
		{"unknown property", "POST", "/api/realm/acme/accounts", `{"email":"a@b.c","password":"x","role":"admin"}`, []string{"role"}},
		{"wrong type", "POST", "/api/realm/acme/accounts", `{"email":5,"password":"x"}`, []string{"email"}},
		{"bad format", "POST", "/api/realm/acme/accounts", `{"email":"nope","password":"x"}`, []string{"email"}},
		{"nested value", "POST", "/api/realm/acme/accounts", `{"email":"a@b.c","password":"x","attributes":{"k":1}}`, []string{"attributes.k"}},
		{"not an object", "POST", "/api/realm/acme/accounts", `[]`, []string{"body"}},
		{"path parameter", "GET", "/api/realm/Not_A_Realm/accounts", "", []string{"tenantId"}},
		{"query parameter", "GET", "/api/realm/acme/accounts?limit=0", "", []string{"limit"}},
		{"path and query", "GET", "/api/realm/BAD/accounts?limit=900", "", []string{"tenantId", "limit"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			ct := ""
			if tc.body != "" {
				body, ct = strings.NewReader(tc.body), "application/json"
			}
			res := serve(t, h, tc.method, tc.path, ct, body, 0)
			require.Equal(t, http.StatusBadRequest, res.status, "%s", res.body)
			require.Equal(t, "invalid_request", res.prob.Code)
			fields := fieldsOf(res.prob)
			for _, f := range tc.fields {
				require.Contains(t, fields, f, "%s", res.body)
			}
			for _, f := range fields {
				require.Contains(t, tc.fields, f, "no other field is named: %s", res.body)
			}
		})
	}
}

func TestBodies(t *testing.T) {
	t.Parallel()
	h := testHandler(t, nil)
	valid := `{"email":"a@b.c","password":"x"}`
	exact := valid + strings.Repeat(" ", MaxBody-len(valid))
	for _, tc := range []struct {
		name        string
		contentType string
		body        string
		length      int64 // Content-Length to declare; 0: the body's, -1: unknown (chunked)
		status      int
		code        string
	}{
		{"valid", "application/json", valid, 0, 201, ""},
		{"charset parameter", "application/json; charset=utf-8", valid, 0, 201, ""},
		{"exactly 1 MiB", "application/json", exact, 0, 201, ""},
		{"1 MiB and a byte", "application/json", exact + " ", 0, 413, "request_too_large"},
		{"over 1 MiB, length unknown", "application/json", exact + " ", -1, 413, "request_too_large"},
		{"declared over 1 MiB", "application/json", valid, MaxBody + 1, 413, "request_too_large"},
		{"text/plain", "text/plain", valid, 0, 415, "unsupported_media_type"},
		{"no content type", "", valid, 0, 415, "unsupported_media_type"},
		{"another JSON media type", "application/merge-patch+json", valid, 0, 415, "unsupported_media_type"},
		{"media type in capitals", "Application/JSON", valid, 0, 201, ""},
		{"malformed", "application/json", `{"email":`, 0, 400, "malformed_json"},
		{"two values", "application/json", valid + valid, 0, 400, "malformed_json"},
		{"trailing brace", "application/json", valid + "}", 0, 400, "malformed_json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := serve(t, h, "POST", "/api/realm/acme/accounts", tc.contentType, strings.NewReader(tc.body), tc.length)
			require.Equal(t, tc.status, res.status, "%.300s", res.body)
			if tc.code != "" {
				require.Equal(t, tc.code, res.prob.Code)
			} else {
				// kin-openapi fills in the schema's defaults.
				require.JSONEq(t, `{"email":"a@b.c","password":"x","enabled":true}`, string(res.body), "the handler sees the body")
			}
		})
	}
}

func TestRoutingProblems(t *testing.T) {
	t.Parallel()
	h := testHandler(t, nil)
	res := serve(t, h, "GET", "/nowhere", "", nil, 0)
	require.Equal(t, http.StatusNotFound, res.status)
	require.Equal(t, "route_not_found", res.prob.Code)

	res = serve(t, h, "PUT", "/api/realm/acme/accounts", "", nil, 0)
	require.Equal(t, http.StatusMethodNotAllowed, res.status)
	require.Equal(t, "method_not_allowed", res.prob.Code)
	require.Equal(t, "GET, POST", res.header.Get("Allow"))

	// A route of a function this handler does not serve.
	res = serve(t, h, "GET", "/api/core/realms", "", nil, 0)
	require.Equal(t, http.StatusNotFound, res.status)
	require.Equal(t, "route_not_found", res.prob.Code)
}

func TestHandlerFailures(t *testing.T) {
	t.Parallel()
	h := testHandler(t, map[string]HandlerFunc{
		"getAccount": func(w http.ResponseWriter, r *http.Request) error {
			panic("secret-panic-detail")
		},
		"deleteAccount": func(w http.ResponseWriter, r *http.Request) error { return nil },
		"listAccounts": func(w http.ResponseWriter, r *http.Request) error {
			return io.ErrUnexpectedEOF // a cause that is not a problem
		},
	})
	for _, path := range []string{"/api/realm/acme/accounts/abc", "/api/realm/acme/accounts"} {
		res := serve(t, h, "GET", path, "", nil, 0)
		require.Equal(t, http.StatusInternalServerError, res.status, path)
		require.Equal(t, "internal_error", res.prob.Code)
		require.NotContains(t, string(res.body), "secret-panic-detail")
		require.NotContains(t, string(res.body), "unexpected EOF")
	}
	res := serve(t, h, "DELETE", "/api/realm/acme/accounts/abc", "", nil, 0)
	require.Equal(t, http.StatusInternalServerError, res.status, "a handler that writes nothing is a bug, not a 200")
}
