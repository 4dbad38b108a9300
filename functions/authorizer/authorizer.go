// Package authorizer is a Lambda authorizer for API Gateway: it lets
// services behind API Gateway enforce Realm IAM's decisions at the gateway.
// It is an event function, not an HTTP one, and has no operations in
// openapi.yaml.
//
// # What it decides
//
// For each invocation it reads the event (REST API TOKEN or REQUEST
// authorizer, HTTP API payload 1.0 or 2.0, recognised from the raw JSON),
// takes the bearer token from the Authorization header, verifies it as an
// access token of its realm (the realm named by its iss, with the realm's
// keys, reloaded on an unknown kid), maps the request's method and path to an
// IAM action and resource through the configured routes, and evaluates the
// caller's effective policies (direct, through roles, groups and group roles)
// with iam:SourceIp, iam:CurrentTime and the principal keys set as on the
// admin API. Everything that is not an Allow is a denial:
//
//   - REST (TOKEN, REQUEST) and HTTP API payload 1.0: a missing, invalid,
//     expired or foreign token (and any failure to check one, such as an
//     unreachable database) is the error "Unauthorized", which API Gateway
//     answers with 401. An authenticated caller gets an IAM policy with one
//     statement, execute-api:Invoke on the request's methodArn, whose Effect
//     is Allow or Deny (403).
//   - HTTP API payload 2.0 with simple responses: {"isAuthorized": true} only
//     for an allowed request; false for everything else (403).
//
// An authenticated answer carries a context that API Gateway passes to the
// integration (REST: requestContext.authorizer.{key} of a proxy event,
// $context.authorizer.{key} in mappings; HTTP API:
// requestContext.authorizer.lambda.{key}): realm, accountId, email (when the
// account has one), decision (allowed, explicitDeny or implicitDeny) and, for
// a configured route, action and resource. A REST answer's principalId is the
// account id.
//
// # Configuration
//
// Besides the variables every function reads (MONGODB_URI, IAM_CORE_DB,
// IAM_PUBLIC_URL, IAM_MASTER_KEY, LOG_LEVEL):
//
//   - IAM_AUTHORIZER_REALMS: the realm ids whose tokens the API accepts,
//     comma-separated (acme or acme,globex), or * for every realm. Required.
//   - IAM_AUTHORIZER_ROUTES: the routes, a JSON list; or
//     IAM_AUTHORIZER_ROUTES_FILE: the path of a file holding that list (for
//     lists beyond Lambda's 4 KB of environment). Exactly one is required.
//
// A route is an object such as
//
//	{"method": "GET", "path": "/invoices/{id}",
//	 "action": "billing:GetInvoice", "resource": "irn:billing:{realm}:invoice/{id}"}
//
// with these fields, all required:
//
//   - method: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS or ANY.
//   - path: the API's resource path as defined in API Gateway, without stage
//     or custom-domain base path. A segment {name} matches one non-empty
//     segment; a last segment {name+} matches the rest of the path. When
//     several routes match, the most specific wins as in API Gateway: at the
//     first segment where they differ a literal beats {name}, which beats
//     {name+}; then an exact method beats ANY.
//   - action: the IAM action asked, service:Operation.
//   - resource: the IRN asked, irn:{service}:{realm}:{resource}. Its realm part
//     must be {realm}, which is the caller's realm; {name} in the resource part
//     is the path's value for that parameter.
//
// A request that matches no route is denied (implicitDeny). The
// configuration is checked at start: a mistake stops the function with an
// error naming the route and field.
//
// # Realms
//
// A token is accepted only when its realm is in IAM_AUTHORIZER_REALMS and,
// on a route whose path has a {realm} parameter (/t/{realm}/invoices/{id}),
// only when that value is the token's realm: a token of realm A never
// authorizes a request addressed to realm B. The question is always decided
// by the caller's own realm's policies about a resource of that realm (the
// {realm} rule above), so no realm's administrator can grant access to
// another realm's resources. System realm tokens get no special standing
// here: they pass only where the system realm is accepted, and then only for
// system resources.
//
// # Where values come from
//
// Method and path come from the methodArn (REST, payload 1.0) or routeArn
// (payload 2.0), {apiId}/{stage}/{METHOD}/{path}, where API Gateway puts the
// request's path with parameters filled in; stage and base path are not part
// of it. iam:SourceIp is requestContext.identity.sourceIp (REQUEST, payload
// 1.0) or requestContext.http.sourceIp (payload 2.0). TOKEN events carry no
// source address: policies that need iam:SourceIp need a REQUEST authorizer.
//
// # Caching
//
// API Gateway can cache an authorizer's answer by its identity source (the
// token). An HTTP API simple response would then be reused for every route
// and path, whatever it was asked about: turn caching off there
// (authorizerResultTtlInSeconds 0; ReauthorizeEvery: 0 in SAM). A REST
// policy names only the methodArn it was made for, so a cached one never
// allows another request, but it denies requests it was not made for: turn
// caching off there too. The authorizer keeps its own caches (realms 10 s,
// keys 5 min, accounts and their policies 5 s), so a warm invocation makes no
// database round trip.
//
// Tokens are never logged.
package authorizer

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/realmiam/realmiam/shared/access"
	"github.com/realmiam/realmiam/shared/policy"
	"github.com/realmiam/realmiam/shared/problem"
	"github.com/realmiam/realmiam/shared/serve"
)

// Authorizer answers API Gateway's authorizer invocations.
type Authorizer struct {
	cfg   Config
	guard *access.Guard
	now   func() time.Time
	log   *slog.Logger
}

// New builds the authorizer over d's realm cache, token service and account
// cache.
func New(d *serve.Deps, cfg Config) (*Authorizer, error) {
	return &Authorizer{
		cfg:   cfg,
		guard: &access.Guard{Realms: d.Realms, Tokens: d.Tokens, Accounts: d.Access, Now: d.Now},
		now:   d.Now,
		log:   d.Log,
	}, nil
}

// unauthorized is the error whose message API Gateway turns into a 401.
type unauthorized struct{}

func (unauthorized) Error() string { return "Unauthorized" }

// ErrUnauthorized is returned to REST authorizer invocations that carry no
// valid token.
var ErrUnauthorized error = unauthorized{}

// verdict is the outcome of one invocation.
type verdict struct {
	principal *access.Principal // nil: not authenticated
	decision  policy.Decision
	action    string // "" when no route matched
	resource  string
	reason    string // why it was not authenticated, for the log
	failure   error  // a failure to check the token, not the token's fault
}

// Handle answers one invocation: an IAM policy (or the error "Unauthorized")
// for REST and HTTP API payload 1.0 events, a simple response for HTTP API
// payload 2.0 events. It never returns an allow for anything it could not
// check.
func (a *Authorizer) Handle(ctx context.Context, event json.RawMessage) (any, error) {
	start := a.now()
	req, err := parseEvent(event)
	if err != nil {
		a.log.WarnContext(ctx, "authorizer: unrecognised event", "error", err.Error())
		if req != nil && req.shape == httpSimple {
			return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false}, nil
		}
		return nil, ErrUnauthorized
	}
	v := a.decide(ctx, req)
	a.logVerdict(ctx, req, v, a.now().Sub(start))
	return answer(req, v)
}

func (a *Authorizer) decide(ctx context.Context, req *request) verdict {
	if req.token == "" {
		return verdict{reason: "no bearer token"}
	}
	m, routed := a.cfg.find(req.method, req.path)
	p, err := a.guard.Authenticate(ctx, req.token, func(realm string) bool {
		if !a.cfg.accepts(realm) {
			return false
		}
		return !routed || !m.route.realmParam || m.values["realm"] == realm
	})
	if err != nil {
		if problem.Is(err, problem.Unauthenticated) {
			return verdict{reason: err.Error()}
		}
		return verdict{reason: "token not checked", failure: err}
	}
	v := verdict{principal: p, decision: policy.ImplicitDeny}
	if !routed {
		return v
	}
	v.action, v.resource = m.route.Action, m.fill(p.Realm)
	q := p.Account.Request(v.action, v.resource, a.now())
	if req.sourceIP != "" {
		q.Context.Set(policy.KeySourceIP, req.sourceIP)
	}
	var res policy.Result
	p.Account.Set.Evaluate(q, &res)
	v.decision = res.Decision
	return v
}

func answer(req *request, v verdict) (any, error) {
	if v.principal == nil {
		if req.shape == httpSimple {
			return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false}, nil
		}
		return nil, ErrUnauthorized
	}
	p := v.principal
	c := map[string]any{"realm": p.Realm, "accountId": p.AccountID, "decision": string(v.decision)}
	if p.Account.Email != "" {
		c["email"] = p.Account.Email
	}
	if v.action != "" {
		c["action"], c["resource"] = v.action, v.resource
	}
	allowed := v.decision == policy.Allowed
	if req.shape == httpSimple {
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: allowed, Context: c}, nil
	}
	return policyResponse(req.arn, allowed, p.AccountID, c), nil
}

// logVerdict writes one line per invocation; never the token.
func (a *Authorizer) logVerdict(ctx context.Context, req *request, v verdict, took time.Duration) {
	attrs := []slog.Attr{
		slog.String("event", string(req.shape)),
		slog.String("request_id", req.requestID),
		slog.String("method", req.method),
		slog.String("path", req.path),
		slog.Float64("latency_ms", float64(took.Microseconds())/1000),
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		attrs = append(attrs, slog.String("aws_request_id", lc.AwsRequestID))
	}
	level := slog.LevelInfo
	switch {
	case v.principal == nil:
		attrs = append(attrs, slog.String("decision", "unauthenticated"), slog.String("reason", v.reason))
		if v.failure != nil {
			level = slog.LevelError
			attrs = append(attrs, slog.String("error", v.failure.Error()))
		}
	default:
		attrs = append(attrs,
			slog.String("realm", v.principal.Realm),
			slog.String("account_id", v.principal.AccountID),
			slog.String("decision", string(v.decision)))
		if v.action == "" {
			attrs = append(attrs, slog.String("reason", "no route"))
		} else {
			attrs = append(attrs, slog.String("action", v.action), slog.String("resource", v.resource))
		}
	}
	a.log.LogAttrs(ctx, level, "authorizer", attrs...)
}
