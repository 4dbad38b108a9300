package tests

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	"github.com/realmiam/realmiam/functions"
	"github.com/realmiam/realmiam/shared/serve"
)

// lambdaFixture is one request of testdata/lambda: how a client sends it
// over HTTP, and the events API Gateway (REST API, and HTTP API or a
// function URL) and an ALB make of it. ${REALM}, ${TOKEN} and ${ACCOUNT}
// stand for values the test makes; base64 bodies hold them too.
type lambdaFixture struct {
	Function string `json:"function"`
	Fresh    bool   `json:"fresh"` // it writes: every run gets a realm of its own
	Status   int    `json:"status"`
	Request  struct {
		Method  string            `json:"method"`
		Path    string            `json:"path"`
		Query   string            `json:"query"`
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
	} `json:"request"`
	Events map[string]json.RawMessage `json:"events"`
}

// lambdaReply is a response in a form common to HTTP and every event
// shape.
type lambdaReply struct {
	Status int
	Header http.Header
	Body   string
}

// TestLambdaEventsMatchHTTP drives each function's Lambda entry with the
// fixtures' REST API, HTTP API / function URL and ALB events and requires
// the same status, headers and body as the same request over HTTP
// (httptest) to the same function.
func TestLambdaEventsMatchHTTP(t *testing.T) {
	t.Parallel()
	handlers := map[string]http.Handler{}
	for name, build := range functions.Builders() {
		fn, err := build(env.Deps)
		require.NoError(t, err)
		h, err := serve.Handler(env.Deps, fn)
		require.NoError(t, err)
		handlers[name] = h
	}

	shared := newRealm(t)
	account := createAccount(t, shared, "lambda-a@example.com", "Lambda-Passw0rd-A")
	createAccount(t, shared, "lambda-b@example.com", "Lambda-Passw0rd-B")

	files, err := filepath.Glob(filepath.Join("testdata", "lambda", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	covered := map[string]bool{}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		require.NoError(t, err)
		var fx lambdaFixture
		require.NoError(t, json.Unmarshal(raw, &fx), file)
		h := handlers[fx.Function]
		require.NotNil(t, h, "%s: unknown function %q", file, fx.Function)
		covered[fx.Function] = true

		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			t.Parallel()
			realmFor := func() string {
				if fx.Fresh {
					return newRealm(t)
				}
				return shared
			}
			subst := func(realm string) *strings.Replacer {
				return strings.NewReplacer("${REALM}", realm, "${TOKEN}", env.AdminToken, "${ACCOUNT}", account)
			}

			realm := realmFor()
			want := fixtureHTTP(t, h, fx, subst(realm))
			require.Equal(t, fx.Status, want.Status, "over HTTP: %s", want.Body)
			want = normalise(t, want, realm, fx.Fresh)

			require.ElementsMatch(t, []string{"rest", "http", "alb"}, keys(fx.Events))
			for shape, event := range fx.Events {
				realm := realmFor()
				payload := substEvent(t, event, subst(realm))
				out, err := serve.NewLambda(h, "").Invoke(context.Background(), payload)
				require.NoError(t, err, shape)
				got := normalise(t, decodeReply(t, shape, event, out), realm, fx.Fresh)
				require.Equal(t, want.Status, got.Status, "%s: %s", shape, got.Body)
				require.Equal(t, want.Header, got.Header, shape)
				require.Equal(t, want.Body, got.Body, shape)
			}
		})
	}
	for name := range functions.Builders() {
		require.True(t, covered[name], "no fixture for function %s", name)
	}
}

// fixtureHTTP sends the fixture's plain request through httptest and
// validates the response against openapi.yaml.
func fixtureHTTP(t *testing.T, h http.Handler, fx lambdaFixture, r *strings.Replacer) lambdaReply {
	t.Helper()
	target := r.Replace(fx.Request.Path)
	if fx.Request.Query != "" {
		target += "?" + fx.Request.Query
	}
	body := r.Replace(fx.Request.Body)
	req := httptest.NewRequest(fx.Request.Method, target, strings.NewReader(body))
	for k, v := range fx.Request.Headers {
		req.Header.Set(k, r.Replace(v))
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	reply := lambdaReply{Status: res.StatusCode, Header: res.Header, Body: string(b)}
	validateResponse(t, fx.Request.Method, target, req.Header.Get("Content-Type"), []byte(body),
		&resp{Status: reply.Status, Header: reply.Header, Body: b})
	return reply
}

// substEvent fills in an event's placeholders, inside a base64 body too.
func substEvent(t *testing.T, event json.RawMessage, r *strings.Replacer) []byte {
	t.Helper()
	var probe struct {
		Body            string `json:"body"`
		IsBase64Encoded bool   `json:"isBase64Encoded"`
	}
	require.NoError(t, json.Unmarshal(event, &probe))
	out := []byte(r.Replace(string(event)))
	if !probe.IsBase64Encoded || probe.Body == "" {
		return out
	}
	plain, err := base64.StdEncoding.DecodeString(probe.Body)
	require.NoError(t, err)
	filled := base64.StdEncoding.EncodeToString([]byte(r.Replace(string(plain))))
	quoted := func(s string) []byte { return []byte(`"` + s + `"`) }
	require.Equal(t, 1, bytes.Count(out, quoted(probe.Body)), "the base64 body appears once")
	return bytes.Replace(out, quoted(probe.Body), quoted(filled), 1)
}

// decodeReply reads a Lambda response with aws-lambda-go's own types, in the
// shape of the event that asked for it.
func decodeReply(t *testing.T, shape string, event json.RawMessage, out []byte) lambdaReply {
	t.Helper()
	var status int
	var header http.Header
	var body string
	var b64 bool
	switch shape {
	case "rest":
		var r events.APIGatewayProxyResponse
		require.NoError(t, json.Unmarshal(out, &r))
		require.Empty(t, r.Headers, "REST responses carry their headers in multiValueHeaders")
		status, header, body, b64 = r.StatusCode, http.Header(r.MultiValueHeaders), r.Body, r.IsBase64Encoded
	case "http":
		var r events.APIGatewayV2HTTPResponse
		require.NoError(t, json.Unmarshal(out, &r))
		header = http.Header{}
		for k, v := range r.Headers {
			header[http.CanonicalHeaderKey(k)] = []string{v}
		}
		for _, c := range r.Cookies {
			header.Add("Set-Cookie", c)
		}
		status, body, b64 = r.StatusCode, r.Body, r.IsBase64Encoded
	case "alb":
		var r events.ALBTargetGroupResponse
		require.NoError(t, json.Unmarshal(out, &r))
		var ev events.ALBTargetGroupRequest
		require.NoError(t, json.Unmarshal(event, &ev))
		header = http.Header(r.MultiValueHeaders)
		if ev.MultiValueHeaders == nil {
			require.Empty(t, r.MultiValueHeaders, "a target group without multi-value headers reads headers only")
			header = http.Header{}
			for k, v := range r.Headers {
				header[http.CanonicalHeaderKey(k)] = []string{v}
			}
		}
		require.Equal(t, http.StatusText(r.StatusCode), strings.SplitN(r.StatusDescription, " ", 2)[1])
		status, body, b64 = r.StatusCode, r.Body, r.IsBase64Encoded
	default:
		t.Fatalf("unknown event shape %q", shape)
	}
	if b64 {
		plain, err := base64.StdEncoding.DecodeString(body)
		require.NoError(t, err)
		body = string(plain)
	}
	if header == nil {
		header = http.Header{}
	}
	return lambdaReply{Status: status, Header: header, Body: body}
}

// normalise makes the replies of runs in different realms comparable: the
// realm's id and the id of what a request created become placeholders. An
// HTTP API joins repeated header values with commas, so all are joined.
func normalise(t *testing.T, r lambdaReply, realm string, fresh bool) lambdaReply {
	t.Helper()
	rep := []string{}
	if fresh {
		rep = append(rep, realm, "${REALM}")
		var created struct {
			ID string `json:"id"`
		}
		if json.Unmarshal([]byte(r.Body), &created) == nil && created.ID != "" {
			rep = append(rep, created.ID, "${ID}")
		}
	}
	sr := strings.NewReplacer(rep...)
	h := http.Header{}
	for k, vs := range r.Header {
		h[k] = []string{sr.Replace(strings.Join(vs, ","))}
	}
	body := sr.Replace(r.Body)
	if fresh {
		// Creation times differ between runs.
		var m map[string]any
		if json.Unmarshal([]byte(body), &m) == nil {
			for _, k := range []string{"createdAt", "updatedAt"} {
				if _, ok := m[k]; ok {
					m[k] = "${TIME}"
				}
			}
			b, err := json.Marshal(m)
			require.NoError(t, err)
			body = string(b)
		}
	}
	return lambdaReply{Status: r.Status, Header: h, Body: body}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
