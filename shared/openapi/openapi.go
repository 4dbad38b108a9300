// Package openapi turns openapi.yaml into Realm IAM's request pipeline: it
// finds the route (kin-openapi), refuses oversized and non-JSON bodies,
// validates the request against the schema, runs the guard (realm resolution,
// authentication, authorization), dispatches by operationId to a handler, and
// writes every failure as problem+json.
package openapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/realmiam/realmiam/shared/email"
	"github.com/realmiam/realmiam/shared/problem"
)

// MaxBody is the largest request body accepted (DESIGN.md §4).
const MaxBody = 1 << 20

// HandlerFunc serves one operation. It writes a response on success and
// returns an error otherwise; the pipeline writes the error.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Operation is what the pipeline and the guard know of a routed operation.
type Operation struct {
	ID       string // operationId
	Method   string
	Path     string // the path template, e.g. /api/realm/{tenantId}/accounts
	Function string // x-function
	Action   string // x-iam-action; empty on public operations
	Resource string // x-iam-resource, an IRN template
	Public   bool   // security: [] — no token needed
	// SystemOnly (x-iam-realm: system): only tokens of the system realm may
	// call it, whatever realm its path names (deleting a realm is the
	// registry's business, not the realm's own).
	SystemOnly bool
	hasBody    bool
}

// Guard checks a routed, validated request before its handler runs and
// returns the request to pass on (typically with realm and principal in its
// context). Path parameters are available through r.PathValue.
type Guard func(r *http.Request, op *Operation) (*http.Request, error)

// Config builds a Handler.
type Config struct {
	Spec     []byte
	Handlers map[string]HandlerFunc // by operationId
	Guard    Guard
	Log      *slog.Logger
}

// Handler is the pipeline for the operations of one or more functions.
type Handler struct {
	doc      *openapi3.T
	router   routers.Router
	ops      map[string]*Operation
	handlers map[string]HandlerFunc
	guard    Guard
	log      *slog.Logger
	opts     *openapi3filter.Options
}

// Load parses and validates spec, and clears its servers so that routing does
// not depend on the Host of a request (DESIGN.md §10).
func Load(spec []byte) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(spec)
	if err != nil {
		return nil, fmt.Errorf("openapi.Load: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi.Load: %w", err)
	}
	doc.Servers = nil
	return doc, nil
}

// FormatValidators are the string formats the spec relies on beyond
// kin-openapi's defaults, scoped to a validation call (no package globals).
func FormatValidators() []openapi3.SchemaValidationOption {
	return []openapi3.SchemaValidationOption{
		openapi3.WithStringFormatValidators(map[string]openapi3.StringFormatValidator{
			"email": emailFormat{},
		}),
	}
}

type emailFormat struct{}

func (emailFormat) Validate(s string) error {
	if !email.Valid(s) {
		return errors.New("must be an email address")
	}
	return nil
}

// NewHandler builds the pipeline. It fails when the handlers and the spec
// disagree: every handler must name an operation, and every operation of a
// function that has any handler here must have one.
func NewHandler(cfg Config) (*Handler, error) {
	doc, err := Load(cfg.Spec)
	if err != nil {
		return nil, err
	}
	ops, err := operations(doc)
	if err != nil {
		return nil, err
	}
	if err := checkHandlers(ops, cfg.Handlers); err != nil {
		return nil, err
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi.NewHandler: %w", err)
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{
		doc:      doc,
		router:   router,
		ops:      ops,
		handlers: cfg.Handlers,
		guard:    cfg.Guard,
		log:      log,
		opts: &openapi3filter.Options{
			AuthenticationFunc:      openapi3filter.NoopAuthenticationFunc,
			MultiError:              true,
			SchemaValidationOptions: FormatValidators(),
		},
	}, nil
}

// Operations lists every operation of the spec by operationId.
func Operations(spec []byte) (map[string]*Operation, error) {
	doc, err := Load(spec)
	if err != nil {
		return nil, err
	}
	return operations(doc)
}

func operations(doc *openapi3.T) (map[string]*Operation, error) {
	ops := map[string]*Operation{}
	for path, item := range doc.Paths.Map() {
		for method, o := range item.Operations() {
			if o.OperationID == "" {
				return nil, fmt.Errorf("openapi: %s %s has no operationId", method, path)
			}
			op := &Operation{
				ID:      o.OperationID,
				Method:  method,
				Path:    path,
				Public:  o.Security != nil && len(*o.Security) == 0,
				hasBody: o.RequestBody != nil,
			}
			op.Function, _ = o.Extensions["x-function"].(string)
			op.Action, _ = o.Extensions["x-iam-action"].(string)
			op.Resource, _ = o.Extensions["x-iam-resource"].(string)
			switch realm := o.Extensions["x-iam-realm"]; realm {
			case nil:
			case "system":
				op.SystemOnly = true
			default:
				return nil, fmt.Errorf("openapi: operation %s: x-iam-realm must be system, not %v", op.ID, realm)
			}
			if op.Function == "" {
				return nil, fmt.Errorf("openapi: operation %s has no x-function", op.ID)
			}
			if !op.Public && (op.Action == "" || op.Resource == "") {
				return nil, fmt.Errorf("openapi: operation %s needs x-iam-action and x-iam-resource", op.ID)
			}
			ops[op.ID] = op
		}
	}
	return ops, nil
}

func checkHandlers(ops map[string]*Operation, handlers map[string]HandlerFunc) error {
	served := map[string]bool{}
	var problems []string
	for id := range handlers {
		op, ok := ops[id]
		if !ok {
			problems = append(problems, "handler "+id+" has no operation in the spec")
			continue
		}
		served[op.Function] = true
	}
	for id, op := range ops {
		if served[op.Function] && handlers[id] == nil {
			problems = append(problems, "operation "+id+" of function "+op.Function+" has no handler")
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("openapi: spec and handlers disagree: %s", strings.Join(problems, "; "))
	}
	return nil
}

// ServeHTTP runs the pipeline and logs one line per request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rid := requestID(r)
	rec := &recorder{ResponseWriter: w}
	h0 := rec.Header()
	h0.Set("X-Request-Id", rid)
	// API responses carry account data and tokens: no caching unless a
	// handler says otherwise (JWKS does), and no content sniffing.
	h0.Set("Cache-Control", "no-store")
	h0.Set("X-Content-Type-Options", "nosniff")
	op, err := h.serve(rec, r)
	if err == nil && !rec.wrote {
		err = fmt.Errorf("handler %s wrote no response", op.ID)
	}
	code := ""
	if err != nil {
		problem.Write(rec, r, h.log.With("request_id", rid), err)
		body, _ := problem.BodyOf(err)
		code = body.Code
	}
	attrs := []any{
		"request_id", rid,
		"method", r.Method,
		"status", rec.status,
		"latency_ms", float64(time.Since(start).Microseconds()) / 1000,
	}
	if op != nil {
		attrs = append(attrs, "operation", op.ID, "route", op.Path)
		if realm := r.PathValue("tenantId"); realm != "" {
			attrs = append(attrs, "realm", realm)
		}
	}
	if code != "" {
		attrs = append(attrs, "code", code)
	}
	h.log.InfoContext(r.Context(), "request", attrs...)
}

// serve does the work of ServeHTTP; op is nil when no route matched.
func (h *Handler) serve(w *recorder, r *http.Request) (op *Operation, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()

	route, params, err := h.router.FindRoute(r)
	switch {
	case errors.Is(err, routers.ErrMethodNotAllowed):
		return nil, &problem.Error{Kind: problem.MethodNotAllowed, Code: "method_not_allowed",
			Detail: "This path does not support " + r.Method + ".", Allow: h.allowed(r)}
	case err != nil:
		return nil, problem.New(problem.NotFound, "route_not_found", "No such path.")
	}
	op = h.ops[route.Operation.OperationID]
	handler := h.handlers[op.ID]
	if handler == nil {
		return op, problem.New(problem.NotFound, "route_not_found", "This path is served by another function.")
	}
	for k, v := range params {
		r.SetPathValue(k, v)
	}

	// url.Values drops a pair it cannot decode (?email=alice%zz), which
	// would quietly turn a filtered list into an unfiltered one.
	if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
		return op, problem.New(problem.Invalid, "malformed_query", "The query string is not valid URL encoding.")
	}
	if err := h.readBody(r, op); err != nil {
		return op, err
	}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: h.opts}
	if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil {
		return op, validationProblem(err)
	}
	if h.guard != nil {
		if r, err = h.guard(r, op); err != nil {
			return op, err
		}
	}
	return op, handler(w, r)
}

// readBody enforces MaxBody and the JSON media type, and leaves the body
// re-readable for validation and the handler.
func (h *Handler) readBody(r *http.Request, op *Operation) error {
	if r.ContentLength > MaxBody {
		return tooLarge()
	}
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	_ = r.Body.Close()
	if err != nil {
		return problem.New(problem.Invalid, "unreadable_body", "The request body could not be read.")
	}
	if len(body) > MaxBody {
		return tooLarge()
	}
	if len(body) > 0 && op.hasBody {
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "application/json" { // the only media type the spec declares; kin-openapi would 400 others
			return problem.New(problem.UnsupportedMediaType, "unsupported_media_type",
				"Send the request body as application/json.")
		}
		if !json.Valid(body) { // kin-openapi decodes only the first JSON value and ignores what follows
			return problem.New(problem.Invalid, "malformed_json", "The request body is not valid JSON.")
		}
		// encoding/json turns invalid UTF-8 into U+FFFD and lets it pass;
		// RFC 8259 JSON is UTF-8, and what is stored must read back as sent.
		if !utf8.Valid(body) {
			return problem.New(problem.Invalid, "malformed_json", "The request body is not valid UTF-8.")
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return nil
}

func tooLarge() error {
	return problem.New(problem.TooLarge, "request_too_large", "The request body is larger than 1 MiB.")
}

// allowed lists the methods the request's path supports, for a 405's Allow.
func (h *Handler) allowed(r *http.Request) string {
	var ms []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		c := r.Clone(r.Context())
		c.Method = m
		if _, _, err := h.router.FindRoute(c); err == nil {
			ms = append(ms, m)
		}
	}
	return strings.Join(ms, ", ")
}

// requestID keeps a caller's X-Request-Id when it is short and printable,
// and makes one otherwise.
func requestID(r *http.Request) string {
	id := r.Header.Get("X-Request-Id")
	if id != "" && len(id) <= 128 && strings.IndexFunc(id, func(c rune) bool { return c < 0x21 || c > 0x7e }) < 0 {
		return id
	}
	return strings.ToLower(rand.Text())
}

// recorder remembers the status written, for the log line.
type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *recorder) WriteHeader(status int) {
	if w.wrote {
		return
	}
	w.wrote = true
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

func (w *recorder) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
