package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	"github.com/realmiam/realmiam/shared/problem"
)

// Lambda serves Lambda invocations with an http.Handler. It implements the
// aws-lambda-go lambda.Handler interface: each payload is recognised on its
// own as an API Gateway REST API (v1) proxy event, an HTTP API or function
// URL (v2) event, or an ALB target-group event, turned into an
// *http.Request by aws-lambda-go-api-proxy, and answered in the same shape.
// Paths are mapped onto the spec's as the package documentation describes.
type Lambda struct {
	h        http.Handler
	basePath string
}

// NewLambda serves h. basePath is IAM_BASE_PATH (Config.BasePath): a
// custom-domain base path mapping to strip, or "" for none.
func NewLambda(h http.Handler, basePath string) *Lambda {
	return &Lambda{h: h, basePath: basePath}
}

// eventProbe holds the fields that tell the event shapes apart.
type eventProbe struct {
	Version        string `json:"version"`
	HTTPMethod     string `json:"httpMethod"`
	RequestContext struct {
		ELB        json.RawMessage `json:"elb"`
		Stage      string          `json:"stage"`
		DomainName string          `json:"domainName"`
	} `json:"requestContext"`
}

// Invoke answers one event. It returns an error only for payloads that are
// not HTTP events at all; a malformed HTTP event gets a 400 problem.
func (l *Lambda) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var p eventProbe
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, fmt.Errorf("serve.Lambda: the event is not a JSON object: %w", err)
	}
	var resp any
	var err error
	switch {
	case p.Version == "2.0":
		resp, err = l.v2(ctx, payload, p)
	case len(p.RequestContext.ELB) > 0 && string(p.RequestContext.ELB) != "null":
		resp, err = l.alb(ctx, payload)
	case p.HTTPMethod != "":
		resp, err = l.v1(ctx, payload, p)
	default:
		return nil, errors.New("serve.Lambda: the event is not an API Gateway, function URL or ALB request")
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(resp)
}

// v1 serves API Gateway REST API proxy events, and HTTP API events of
// payload format 1.0, which share their shape.
func (l *Lambda) v1(ctx context.Context, payload []byte, p eventProbe) (any, error) {
	var ev events.APIGatewayProxyRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, fmt.Errorf("serve.Lambda: REST API event: %w", err)
	}
	// A REST API's path never holds the stage; an HTTP API's 1.0 payload
	// does, like its 2.0 one.
	ev.Path = l.route(ev.Path, p, p.Version == "1.0")
	w := core.NewProxyResponseWriter()
	var ra core.RequestAccessor
	r, err := ra.EventToRequestWithContext(ctx, ev)
	l.serve(ctx, w, r, err)
	return w.GetProxyResponse()
}

// v2 serves HTTP API payload 2.0 events and function URL events.
func (l *Lambda) v2(ctx context.Context, payload []byte, p eventProbe) (any, error) {
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, fmt.Errorf("serve.Lambda: HTTP API event: %w", err)
	}
	path := ev.RawPath
	if path == "" {
		path = ev.RequestContext.HTTP.Path
	}
	ev.RawPath = l.route(path, p, true)
	w := core.NewProxyResponseWriterV2()
	var ra core.RequestAccessorV2
	r, err := ra.EventToRequestWithContext(ctx, ev)
	l.serve(ctx, w, r, err)
	return w.GetProxyResponse()
}

// alb serves ALB target-group events, with or without multi-value headers.
func (l *Lambda) alb(ctx context.Context, payload []byte) (any, error) {
	var ev events.ALBTargetGroupRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, fmt.Errorf("serve.Lambda: ALB event: %w", err)
	}
	ev.Path = l.route(ev.Path, eventProbe{}, false)
	// The load balancer passes query parameters as they were sent, still
	// URL-encoded; the adapter encodes them once more.
	var badQuery error
	ev.QueryStringParameters, badQuery = unescapeQuery(ev.QueryStringParameters, badQuery)
	if len(ev.MultiValueQueryStringParameters) > 0 {
		q := make(map[string][]string, len(ev.MultiValueQueryStringParameters))
		for k, vs := range ev.MultiValueQueryStringParameters {
			key, err := url.QueryUnescape(k)
			if err != nil {
				badQuery = err
			}
			for _, v := range vs {
				val, err := url.QueryUnescape(v)
				if err != nil {
					badQuery = err
				}
				q[key] = append(q[key], val)
			}
		}
		ev.MultiValueQueryStringParameters = q
	}
	w := core.NewProxyResponseWriterALB()
	var ra core.RequestAccessorALB
	r, err := ra.EventToRequestWithContext(ctx, ev)
	if err == nil {
		err = badQuery
	}
	l.serve(ctx, w, r, err)
	resp, err := w.GetProxyResponse()
	if err != nil {
		return nil, err
	}
	resp.StatusDescription = strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode)
	if ev.MultiValueHeaders == nil {
		// Without multi-value headers on the target group, the load balancer
		// reads only "headers" in the response.
		resp.Headers = make(map[string]string, len(resp.MultiValueHeaders))
		for k, vs := range resp.MultiValueHeaders {
			if strings.EqualFold(k, "Set-Cookie") {
				resp.Headers[k] = vs[len(vs)-1] // one cookie is all this mode can carry
				continue
			}
			resp.Headers[k] = strings.Join(vs, ", ")
		}
		resp.MultiValueHeaders = nil
	}
	return resp, nil
}

func unescapeQuery(q map[string]string, bad error) (map[string]string, error) {
	if len(q) == 0 {
		return q, bad
	}
	out := make(map[string]string, len(q))
	for k, v := range q {
		key, err := url.QueryUnescape(k)
		if err != nil {
			bad = err
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			bad = err
		}
		out[key] = val
	}
	return out, bad
}

// serve runs the handler on r, or answers 400 when the event could not be
// turned into a request (a body that is not base64, a path that is not a
// URL path). The adapters would answer 504 and fail the invocation.
func (l *Lambda) serve(ctx context.Context, w http.ResponseWriter, r *http.Request, err error) {
	if err != nil {
		w.Header().Set("Cache-Control", "no-store") // as the pipeline's answers
		w.Header().Set("X-Content-Type-Options", "nosniff")
		problem.Write(w, (&http.Request{}).WithContext(ctx), nil,
			problem.New(problem.Invalid, "malformed_event", "The request could not be read."))
		return
	}
	l.h.ServeHTTP(w, r)
}

// route maps the path of an event onto the spec's paths (see the package
// documentation): it strips the stage where API Gateway put it in the path,
// then IAM_BASE_PATH.
func (l *Lambda) route(path string, p eventProbe, stageInPath bool) string {
	if stage := p.RequestContext.Stage; stageInPath && stage != "" && stage != "$default" &&
		strings.Contains(p.RequestContext.DomainName, ".execute-api.") {
		path = stripPrefix(path, "/"+stage)
	}
	if l.basePath != "" {
		path = stripPrefix(path, l.basePath)
	}
	return path
}

// stripPrefix removes prefix from path when it is a whole leading segment
// (or segments) of it.
func stripPrefix(path, prefix string) string {
	if path == prefix {
		return "/"
	}
	if strings.HasPrefix(path, prefix+"/") {
		return path[len(prefix):]
	}
	return path
}
