// Package tests holds black-box tests across functions: every request goes
// over real HTTP through the full pipeline (routing, validation, guard,
// handlers) to an embedded FerretDB, and every response is validated against
// openapi.yaml.
package tests

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/realmiam/realmiam"
	"github.com/realmiam/realmiam/functions"
	"github.com/realmiam/realmiam/functions/realms"
	"github.com/realmiam/realmiam/local/embedded"
	"github.com/realmiam/realmiam/shared/mongodb"
	"github.com/realmiam/realmiam/shared/openapi"
	"github.com/realmiam/realmiam/shared/problem"
	"github.com/realmiam/realmiam/shared/serve"
)

const (
	adminEmail    = "root@example.com"
	adminPassword = "Admin-Passw0rd-For-Tests"
)

// testEnv is the one server all tests share; each test works in realms of
// its own.
type testEnv struct {
	URL        string
	Client     *mongo.Client
	Deps       *serve.Deps
	AdminToken string
	Logs       *syncBuffer
	Realms     *realms.Server
	router     routers.Router
}

var env testEnv

func TestMain(m *testing.M) {
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tests: setup:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	ctx := context.Background()
	store, err := embedded.StartTemp(ctx)
	if err != nil {
		return 0, err
	}
	defer store.Close()
	client, err := mongodb.Connect(ctx, store.URI(), true)
	if err != nil {
		return 0, err
	}
	defer func() { _ = client.Disconnect(ctx) }()

	// The handler needs the server's URL (it is the tokens' issuer), and the
	// server needs the handler: start the server first and plug it in.
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	defer srv.Close()

	key := make([]byte, 32)
	_, _ = rand.Read(key)
	vars := map[string]string{
		"IAM_CORE_DB":        "test_core",
		"IAM_PUBLIC_URL":     srv.URL,
		"IAM_MASTER_KEY":     base64.StdEncoding.EncodeToString(key),
		"IAM_BCRYPT_COST":    "4",
		"IAM_ADMIN_EMAIL":    adminEmail,
		"IAM_ADMIN_PASSWORD": adminPassword,
	}
	cfg, err := serve.ConfigFromEnv(func(k string) string { return vars[k] })
	if err != nil {
		return 0, err
	}
	logs := &syncBuffer{}
	d, err := serve.NewDeps(cfg, client, serve.NewLogger(logs, -4))
	if err != nil {
		return 0, err
	}
	realmsFn, fns, err := functions.All(d)
	if err != nil {
		return 0, err
	}
	handler, err = serve.Handler(d, fns...)
	if err != nil {
		return 0, err
	}
	if _, err := realmsFn.Bootstrap(ctx, cfg.AdminEmail, cfg.AdminPassword); err != nil {
		return 0, err
	}

	doc, err := openapi.Load(realmiam.Spec)
	if err != nil {
		return 0, err
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return 0, err
	}
	env = testEnv{URL: srv.URL, Client: client, Deps: d, Logs: logs, Realms: realmsFn, router: router}
	tok, err := loginErr("system", adminEmail, adminPassword)
	if err != nil {
		return 0, err
	}
	env.AdminToken = tok.AccessToken
	return m.Run(), nil
}

// resp is a response, read whole.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r *resp) decode(t testing.TB, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.Body, v), "body: %s", r.Body)
}

// problem checks r is problem+json and returns it.
func (r *resp) problem(t testing.TB) problem.Body {
	t.Helper()
	require.Equal(t, "application/problem+json", r.Header.Get("Content-Type"), "body: %s", r.Body)
	var p problem.Body
	r.decode(t, &p)
	require.Equal(t, r.Status, p.Status)
	require.NotEmpty(t, p.Code)
	return p
}

// call sends a request with a JSON body (nil for none; json.RawMessage or a
// string for raw bytes) and validates the response against openapi.yaml.
func call(t testing.TB, method, path, token string, body any) *resp {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case json.RawMessage:
		raw = b
	default:
		var err error
		raw, err = json.Marshal(b)
		require.NoError(t, err)
	}
	ct := ""
	if body != nil {
		ct = "application/json"
	}
	return send(t, method, path, token, ct, raw)
}

// send is call with an explicit content type and raw body.
func send(t testing.TB, method, path, token, contentType string, body []byte) *resp {
	t.Helper()
	r, err := do(method, path, token, contentType, body)
	require.NoError(t, err)
	validateResponse(t, method, path, contentType, body, r)
	return r
}

func do(method, path, token, contentType string, body []byte) (*resp, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, env.URL+path, rd)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	return &resp{Status: res.StatusCode, Header: res.Header, Body: b}, nil
}

// validateResponse fails the test when r does not match the spec for the
// request's operation. Responses to unrouted requests must still be
// problem+json.
func validateResponse(t testing.TB, method, path, contentType string, body []byte, r *resp) {
	t.Helper()
	req, err := http.NewRequest(method, env.URL+path, bytes.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	route, params, err := env.router.FindRoute(req)
	if err != nil {
		require.Equal(t, "application/problem+json", r.Header.Get("Content-Type"), "unrouted %s %s: %s", method, path, r.Body)
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 r.Status,
		Header:                 r.Header,
		Body:                   io.NopCloser(bytes.NewReader(r.Body)),
		Options: &openapi3filter.Options{
			IncludeResponseStatus:   true,
			SchemaValidationOptions: openapi.FormatValidators(),
		},
	}
	require.NoError(t, openapi3filter.ValidateResponse(context.Background(), in),
		"%s %s → %d does not match openapi.yaml: %s", method, path, r.Status, r.Body)
}

// uniqueID makes a fresh realm id.
func uniqueID(prefix string) string {
	return prefix + strings.ToLower(rand.Text()[:12])
}

// newRealm creates a realm with default settings and returns its id.
func newRealm(t testing.TB) string {
	t.Helper()
	id := uniqueID("t-")
	r := call(t, "POST", "/api/core/realms", env.AdminToken, map[string]any{"id": id})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	return id
}

// createAccount creates an enabled account and returns its id.
func createAccount(t testing.TB, realm, email, password string) string {
	t.Helper()
	r := call(t, "POST", "/api/realm/"+realm+"/accounts", env.AdminToken,
		map[string]any{"email": email, "password": password})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	var a struct {
		ID string `json:"id"`
	}
	r.decode(t, &a)
	return a.ID
}

type tokens struct {
	AccessToken  string `json:"accessToken"`
	IDToken      string `json:"idToken"`
	RefreshToken string `json:"refreshToken"`
	TokenType    string `json:"tokenType"`
	ExpiresIn    int    `json:"expiresIn"`
}

// login signs in and fails the test unless it succeeds.
func login(t testing.TB, realm, email, password string) tokens {
	t.Helper()
	r := call(t, "POST", "/api/realm/"+realm+"/auth/login", "", map[string]any{"email": email, "password": password})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var tok tokens
	r.decode(t, &tok)
	return tok
}

func loginErr(realm, email, password string) (tokens, error) {
	b, _ := json.Marshal(map[string]string{"email": email, "password": password})
	r, err := do("POST", "/api/realm/"+realm+"/auth/login", "", "application/json", b)
	if err != nil {
		return tokens{}, err
	}
	if r.Status != http.StatusOK {
		return tokens{}, fmt.Errorf("login %s: %d %s", realm, r.Status, r.Body)
	}
	var tok tokens
	err = json.Unmarshal(r.Body, &tok)
	return tok, err
}

// syncBuffer collects the server's log lines for leak checks.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
