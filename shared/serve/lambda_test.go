package serve_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	"github.com/realmiam/realmiam/shared/serve"
)

// echoed is what echo saw of a request.
type echoed struct {
	Method     string              `json:"method"`
	Path       string              `json:"path"`
	Query      map[string][]string `json:"query"`
	Accept     []string            `json:"accept"`
	Auth       []string            `json:"auth"`
	XMulti     []string            `json:"xMulti"`
	Cookies    map[string]string   `json:"cookies"`
	Body       string              `json:"body"`
	RemoteAddr string              `json:"remoteAddr"`
}

// echo answers with what it was sent, with the status the "status" query
// parameter asks for, a repeated header and two cookies.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	e := echoed{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Accept: r.Header.Values("Accept"),
		Auth: r.Header.Values("Authorization"), XMulti: r.Header.Values("X-Multi"),
		Cookies: map[string]string{}, Body: string(body), RemoteAddr: r.RemoteAddr}
	for _, c := range r.Cookies() {
		e.Cookies[c.Name] = c.Value
	}
	status := http.StatusOK
	if s := r.URL.Query().Get("status"); s != "" {
		status, _ = strconv.Atoi(s)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Add("X-Multi", "one")
	w.Header().Add("X-Multi", "two")
	w.Header().Set("Location", "/api/core/realms/x")
	http.SetCookie(w, &http.Cookie{Name: "a", Value: "1"})
	http.SetCookie(w, &http.Cookie{Name: "b", Value: "2"})
	w.WriteHeader(status)
	if status != http.StatusNoContent {
		_ = json.NewEncoder(w).Encode(e)
	}
})

// reply is a Lambda response in a shape-neutral form.
type reply struct {
	Status  int
	Header  http.Header
	Cookies []string // v2 only
	Body    []byte
}

func invoke(t *testing.T, l *serve.Lambda, event any) []byte {
	t.Helper()
	payload, err := json.Marshal(event)
	require.NoError(t, err)
	out, err := l.Invoke(context.Background(), payload)
	require.NoError(t, err)
	return out
}

func body(t *testing.T, s string, b64 bool) []byte {
	t.Helper()
	if !b64 {
		return []byte(s)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	require.NoError(t, err)
	return b
}

func invokeV1(t *testing.T, l *serve.Lambda, ev events.APIGatewayProxyRequest) reply {
	t.Helper()
	var r events.APIGatewayProxyResponse
	require.NoError(t, json.Unmarshal(invoke(t, l, ev), &r))
	require.Empty(t, r.Headers, "REST responses carry headers in multiValueHeaders")
	return reply{Status: r.StatusCode, Header: http.Header(r.MultiValueHeaders), Body: body(t, r.Body, r.IsBase64Encoded)}
}

func invokeV2(t *testing.T, l *serve.Lambda, ev events.APIGatewayV2HTTPRequest) reply {
	t.Helper()
	var r events.APIGatewayV2HTTPResponse
	require.NoError(t, json.Unmarshal(invoke(t, l, ev), &r))
	h := http.Header{}
	for k, v := range r.Headers {
		h.Set(k, v)
	}
	return reply{Status: r.StatusCode, Header: h, Cookies: r.Cookies, Body: body(t, r.Body, r.IsBase64Encoded)}
}

func invokeALB(t *testing.T, l *serve.Lambda, ev events.ALBTargetGroupRequest) (reply, events.ALBTargetGroupResponse) {
	t.Helper()
	var r events.ALBTargetGroupResponse
	require.NoError(t, json.Unmarshal(invoke(t, l, ev), &r))
	h := http.Header(r.MultiValueHeaders)
	if ev.MultiValueHeaders == nil {
		require.Empty(t, r.MultiValueHeaders)
		h = http.Header{}
		for k, v := range r.Headers {
			h.Set(k, v)
		}
	}
	return reply{Status: r.StatusCode, Header: h, Body: body(t, r.Body, r.IsBase64Encoded)}, r
}

func (r reply) echoed(t *testing.T) echoed {
	t.Helper()
	var e echoed
	require.NoError(t, json.Unmarshal(r.Body, &e), "%s", r.Body)
	return e
}

const b64Body = `{"name":"ünïcode"}`

func TestLambdaRESTRequest(t *testing.T) {
	t.Parallel()
	l := serve.NewLambda(echo, "")
	ev := events.APIGatewayProxyRequest{
		Resource:   "/{proxy+}",
		Path:       "/api/realm/acme/accounts",
		HTTPMethod: "POST",
		Headers:    map[string]string{"Accept": "text/plain", "Cookie": "sid=abc; theme=dark", "X-Multi": "y"},
		MultiValueHeaders: map[string][]string{
			"Accept":        {"application/json", "text/plain"},
			"Authorization": {"Bearer tok,en"},
			"Cookie":        {"sid=abc; theme=dark"},
			"X-Multi":       {"x", "y"},
		},
		QueryStringParameters:           map[string]string{"tag": "b", "email": "a+b@example.com"},
		MultiValueQueryStringParameters: map[string][]string{"tag": {"a", "b"}, "email": {"a+b@example.com"}, "status": {"201"}},
		PathParameters:                  map[string]string{"proxy": "api/realm/acme/accounts"},
		RequestContext: events.APIGatewayProxyRequestContext{
			Stage: "prod", Path: "/prod/api/realm/acme/accounts", DomainName: "abc123.execute-api.eu-west-1.amazonaws.com",
			Identity: events.APIGatewayRequestIdentity{SourceIP: "203.0.113.9"},
		},
		Body:            base64.StdEncoding.EncodeToString([]byte(b64Body)),
		IsBase64Encoded: true,
	}
	r := invokeV1(t, l, ev)
	require.Equal(t, http.StatusCreated, r.Status)
	require.Equal(t, []string{"one", "two"}, r.Header.Values("X-Multi"))
	require.Equal(t, []string{"a=1", "b=2"}, r.Header.Values("Set-Cookie"))
	require.Equal(t, "/api/core/realms/x", r.Header.Get("Location"))
	e := r.echoed(t)
	require.Equal(t, echoed{
		Method: "POST", Path: "/api/realm/acme/accounts",
		Query:  map[string][]string{"tag": {"a", "b"}, "email": {"a+b@example.com"}, "status": {"201"}},
		Accept: []string{"application/json", "text/plain"}, Auth: []string{"Bearer tok,en"}, XMulti: []string{"x", "y"},
		Cookies: map[string]string{"sid": "abc", "theme": "dark"}, Body: b64Body, RemoteAddr: "203.0.113.9",
	}, e)
}

func TestLambdaHTTPAPIRequest(t *testing.T) {
	t.Parallel()
	l := serve.NewLambda(echo, "")
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "$default",
		RawPath:        "/api/realm/acme/accounts",
		RawQueryString: "tag=a&tag=b&email=a%2Bb%40example.com&status=201",
		Cookies:        []string{"sid=abc", "theme=dark"},
		Headers: map[string]string{"accept": "application/json, text/plain", "authorization": "Bearer tok,en",
			"x-multi": "x,y", "content-type": "application/json"},
		QueryStringParameters: map[string]string{"tag": "a,b", "email": "a+b@example.com", "status": "201"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			Stage: "$default", DomainName: "abc123.execute-api.eu-west-1.amazonaws.com",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: "/api/realm/acme/accounts", SourceIP: "2001:db8::7"},
		},
		Body:            base64.StdEncoding.EncodeToString([]byte(b64Body)),
		IsBase64Encoded: true,
	}
	r := invokeV2(t, l, ev)
	require.Equal(t, http.StatusCreated, r.Status)
	require.Equal(t, "one,two", r.Header.Get("X-Multi"), "HTTP API joins repeated headers")
	require.Equal(t, []string{"a=1", "b=2"}, r.Cookies)
	require.Empty(t, r.Header.Values("Set-Cookie"))
	e := r.echoed(t)
	require.Equal(t, echoed{
		Method: "POST", Path: "/api/realm/acme/accounts",
		Query:  map[string][]string{"tag": {"a", "b"}, "email": {"a+b@example.com"}, "status": {"201"}},
		Accept: []string{"application/json", "text/plain"}, Auth: []string{"Bearer tok,en"}, XMulti: []string{"x", "y"},
		Cookies: map[string]string{"sid": "abc", "theme": "dark"}, Body: b64Body, RemoteAddr: "2001:db8::7",
	}, e)
}

func TestLambdaALBRequest(t *testing.T) {
	t.Parallel()
	l := serve.NewLambda(echo, "")
	multi := events.ALBTargetGroupRequest{
		HTTPMethod: "POST", Path: "/api/realm/acme/accounts",
		MultiValueQueryStringParameters: map[string][]string{"tag": {"a", "b"}, "email": {"a%2Bb%40example.com"}, "status": {"201"}},
		MultiValueHeaders: map[string][]string{
			"accept": {"application/json", "text/plain"}, "authorization": {"Bearer tok,en"},
			"cookie": {"sid=abc; theme=dark"}, "x-multi": {"x", "y"}, "host": {"lb-123.eu-west-1.elb.amazonaws.com"},
		},
		RequestContext:  events.ALBTargetGroupRequestContext{ELB: events.ELBContext{TargetGroupArn: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/iam/0123456789abcdef"}},
		Body:            base64.StdEncoding.EncodeToString([]byte(b64Body)),
		IsBase64Encoded: true,
	}
	r, raw := invokeALB(t, l, multi)
	require.Equal(t, http.StatusCreated, r.Status)
	require.Equal(t, "201 Created", raw.StatusDescription)
	require.Equal(t, []string{"one", "two"}, r.Header.Values("X-Multi"))
	require.Equal(t, []string{"a=1", "b=2"}, r.Header.Values("Set-Cookie"))
	want := echoed{
		Method: "POST", Path: "/api/realm/acme/accounts",
		Query:  map[string][]string{"tag": {"a", "b"}, "email": {"a+b@example.com"}, "status": {"201"}},
		Accept: []string{"application/json", "text/plain"}, Auth: []string{"Bearer tok,en"}, XMulti: []string{"x", "y"},
		Cookies: map[string]string{"sid": "abc", "theme": "dark"}, Body: b64Body,
	}
	require.Equal(t, want, r.echoed(t))

	// Without multi-value headers on the target group: one value per name,
	// each way.
	single := multi
	single.MultiValueHeaders, single.MultiValueQueryStringParameters = nil, nil
	single.Headers = map[string]string{"accept": "application/json", "authorization": "Bearer tok,en",
		"cookie": "sid=abc; theme=dark", "x-multi": "x", "host": "lb-123.eu-west-1.elb.amazonaws.com"}
	single.QueryStringParameters = map[string]string{"tag": "b", "email": "a%2Bb%40example.com", "status": "201"}
	r, _ = invokeALB(t, l, single)
	require.Equal(t, http.StatusCreated, r.Status)
	require.Equal(t, "one, two", r.Header.Get("X-Multi"))
	require.Equal(t, "b=2", r.Header.Get("Set-Cookie"), "the last cookie")
	want.Query["tag"], want.Accept, want.XMulti = []string{"b"}, []string{"application/json"}, []string{"x"}
	require.Equal(t, want, r.echoed(t))
}

// TestLambdaPaths checks how event paths map onto the spec's (see the
// package documentation).
func TestLambdaPaths(t *testing.T) {
	t.Parallel()
	const (
		executeAPI = "abc123.execute-api.eu-west-1.amazonaws.com"
		custom     = "api.example.com"
	)
	cases := []struct {
		name, basePath    string
		shape             string // v1, v1.0 (HTTP API payload 1.0), v2, alb
		path, stage, host string
		want              string
	}{
		{"REST, stage not in path", "", "v1", "/api/core/realms", "prod", executeAPI, "/api/core/realms"},
		{"REST, stage named like a segment", "", "v1", "/api/core/realms", "api", executeAPI, "/api/core/realms"},
		{"REST, custom domain base path", "/iam", "v1", "/iam/api/core/realms", "prod", custom, "/api/core/realms"},
		{"REST, base path set, execute-api host", "/iam", "v1", "/api/core/realms", "prod", executeAPI, "/api/core/realms"},
		{"REST, two-segment base path", "/v1/iam", "v1", "/v1/iam/api/core/realms", "prod", custom, "/api/core/realms"},
		{"REST, base path is a prefix of a segment only", "/ia", "v1", "/iam/api/core/realms", "prod", custom, "/iam/api/core/realms"},
		{"HTTP API, $default stage", "", "v2", "/api/core/realms", "$default", executeAPI, "/api/core/realms"},
		{"HTTP API, named stage", "", "v2", "/prod/api/core/realms", "prod", executeAPI, "/api/core/realms"},
		{"HTTP API, stage named api", "", "v2", "/api/api/core/realms", "api", executeAPI, "/api/core/realms"},
		{"HTTP API, custom domain, stage named api", "", "v2", "/api/core/realms", "api", custom, "/api/core/realms"},
		{"HTTP API, custom domain base path", "/iam", "v2", "/iam/api/core/realms", "prod", custom, "/api/core/realms"},
		{"HTTP API, stage and base path", "/iam", "v2", "/prod/api/core/realms", "prod", executeAPI, "/api/core/realms"},
		{"HTTP API, only the stage", "", "v2", "/prod", "prod", executeAPI, "/"},
		{"HTTP API payload 1.0, named stage", "", "v1.0", "/prod/api/core/realms", "prod", executeAPI, "/api/core/realms"},
		{"function URL", "", "v2", "/api/core/realms", "$default", "abcdefg.lambda-url.eu-west-1.on.aws", "/api/core/realms"},
		{"ALB", "", "alb", "/api/core/realms", "", "", "/api/core/realms"},
		{"ALB, base path", "/iam", "alb", "/iam/api/core/realms", "", "", "/api/core/realms"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := serve.NewLambda(echo, tc.basePath)
			var r reply
			switch tc.shape {
			case "v1", "v1.0":
				ev := events.APIGatewayProxyRequest{Path: tc.path, HTTPMethod: "GET",
					RequestContext: events.APIGatewayProxyRequestContext{Stage: tc.stage, DomainName: tc.host}}
				if tc.shape == "v1" {
					r = invokeV1(t, l, ev)
					break
				}
				b, err := json.Marshal(ev)
				require.NoError(t, err)
				var m map[string]any
				require.NoError(t, json.Unmarshal(b, &m))
				m["version"] = "1.0"
				var resp events.APIGatewayProxyResponse
				require.NoError(t, json.Unmarshal(invoke(t, l, m), &resp))
				r = reply{Status: resp.StatusCode, Body: []byte(resp.Body)}
			case "v2":
				r = invokeV2(t, l, events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: tc.path,
					RequestContext: events.APIGatewayV2HTTPRequestContext{Stage: tc.stage, DomainName: tc.host,
						HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: tc.path}}})
			case "alb":
				r, _ = invokeALB(t, l, events.ALBTargetGroupRequest{HTTPMethod: "GET", Path: tc.path,
					RequestContext: events.ALBTargetGroupRequestContext{ELB: events.ELBContext{TargetGroupArn: "arn:x"}}})
			}
			require.Equal(t, http.StatusOK, r.Status)
			require.Equal(t, tc.want, r.echoed(t).Path)
		})
	}
}

func TestLambdaResponses(t *testing.T) {
	t.Parallel()
	l := serve.NewLambda(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/binary":
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write([]byte{0xff, 0x00, 0xfe})
		}
	}), "")
	for _, tc := range []struct {
		path   string
		status int
		body   []byte
	}{
		{"/empty", http.StatusNoContent, []byte{}},
		{"/binary", http.StatusOK, []byte{0xff, 0x00, 0xfe}},
	} {
		r := invokeV1(t, l, events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: tc.path})
		require.Equal(t, tc.status, r.Status, tc.path)
		require.Equal(t, tc.body, r.Body, tc.path)
		r = invokeV2(t, l, events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: tc.path,
			RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET"}}})
		require.Equal(t, tc.status, r.Status, tc.path)
		require.Equal(t, tc.body, r.Body, tc.path)
	}
}

func TestLambdaBadEvents(t *testing.T) {
	t.Parallel()
	l := serve.NewLambda(echo, "")

	// Not base64: a 400 problem in the event's shape, not a failed invocation.
	r := invokeV1(t, l, events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/x", Body: "%%%", IsBase64Encoded: true})
	require.Equal(t, http.StatusBadRequest, r.Status)
	require.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
	require.Contains(t, string(r.Body), `"code":"malformed_event"`)
	r = invokeV2(t, l, events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: "/x", Body: "%%%", IsBase64Encoded: true,
		RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST"}}})
	require.Equal(t, http.StatusBadRequest, r.Status)
	r, _ = invokeALB(t, l, events.ALBTargetGroupRequest{HTTPMethod: "GET", Path: "/x",
		QueryStringParameters: map[string]string{"q": "%zz"},
		RequestContext:        events.ALBTargetGroupRequestContext{ELB: events.ELBContext{TargetGroupArn: "arn:x"}}})
	require.Equal(t, http.StatusBadRequest, r.Status)

	// Not an HTTP event: the invocation fails.
	for _, payload := range []string{`{}`, `{"source":"aws.events","detail-type":"Scheduled Event"}`, `[1]`, `"x"`} {
		_, err := l.Invoke(context.Background(), []byte(payload))
		require.Error(t, err, payload)
	}
}
