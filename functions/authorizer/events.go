package authorizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/realmiam/realmiam/shared/access"
)

// shape is the kind of authorizer event, which decides the kind of answer.
type shape string

const (
	restToken   shape = "TOKEN"   // REST API TOKEN authorizer → IAM policy
	restRequest shape = "REQUEST" // REST API REQUEST authorizer (and HTTP API payload 1.0) → IAM policy
	httpSimple  shape = "v2"      // HTTP API payload 2.0 → simple response
)

// request is what the authorizer reads of an event, whatever its shape.
type request struct {
	shape  shape
	arn    string // methodArn or routeArn, named by the policy of a REST answer
	method string // from the ARN
	path   string // from the ARN: the API's resource path, without stage or base path
	// token is the bearer token, "" when the event has none (or two).
	token     string
	sourceIP  string // "" for TOKEN events, which do not carry it
	requestID string
}

// parseEvent recognises the event's shape from its raw JSON ("version":
// "2.0" for HTTP API payload 2.0, else "type": "TOKEN" or "REQUEST") and reads
// it. An event that is none of these, or whose ARN is not an execute-api
// ARN, is an error; the request returned with it still has the shape when
// it was recognised, so that the refusal takes the form that shape expects.
func parseEvent(raw json.RawMessage) (*request, error) {
	var probe struct {
		Type    string `json:"type"`
		Version string `json:"version"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("event is not a JSON object: %w", err)
	}
	var req request
	switch {
	case probe.Version == "2.0":
		if probe.Type != "REQUEST" {
			return &request{shape: httpSimple}, fmt.Errorf("payload 2.0 event of type %q", probe.Type)
		}
		var e events.APIGatewayV2CustomAuthorizerV2Request
		if err := json.Unmarshal(raw, &e); err != nil {
			return &request{shape: httpSimple}, fmt.Errorf("payload 2.0 event: %w", err)
		}
		req = request{shape: httpSimple, arn: e.RouteArn,
			sourceIP: e.RequestContext.HTTP.SourceIP, requestID: e.RequestContext.RequestID}
		// HTTP API lower-cases header names and joins repeated headers with
		// commas, which makes a repeated Authorization header an invalid token.
		if h, ok := authorization(e.Headers, nil); ok {
			req.token, _ = access.Bearer(h)
		}
	case probe.Type == "TOKEN":
		var e events.APIGatewayCustomAuthorizerRequest
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, fmt.Errorf("TOKEN event: %w", err)
		}
		req = request{shape: restToken, arn: e.MethodArn}
		req.token, _ = access.Bearer(e.AuthorizationToken)
	case probe.Type == "REQUEST":
		var e events.APIGatewayCustomAuthorizerRequestTypeRequest
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, fmt.Errorf("REQUEST event: %w", err)
		}
		req = request{shape: restRequest, arn: e.MethodArn,
			sourceIP: e.RequestContext.Identity.SourceIP, requestID: e.RequestContext.RequestID}
		if h, ok := authorization(e.Headers, e.MultiValueHeaders); ok {
			req.token, _ = access.Bearer(h)
		}
	default:
		return nil, fmt.Errorf("event of type %q, version %q is not an API Gateway authorizer event", probe.Type, probe.Version)
	}
	var err error
	if req.method, req.path, err = parseARN(req.arn); err != nil {
		return &request{shape: req.shape}, err
	}
	return &req, nil
}

// authorization is the one Authorization header of a REST event. Header
// names keep the client's case there; more than one Authorization header (in
// any case, or repeated) means none counts, as on the admin API.
func authorization(single map[string]string, multi map[string][]string) (string, bool) {
	var values []string
	if multi != nil {
		for k, vs := range multi {
			if strings.EqualFold(k, "Authorization") {
				values = append(values, vs...)
			}
		}
	} else {
		for k, v := range single {
			if strings.EqualFold(k, "Authorization") {
				values = append(values, v)
			}
		}
	}
	if len(values) != 1 {
		return "", false
	}
	return values[0], true
}

// parseARN reads the method and resource path of an execute-api ARN:
// arn:{partition}:execute-api:{region}:{account}:{apiId}/{stage}/{METHOD}/{path}.
// The stage is its own part, so stage names never reach the routes; API
// Gateway puts the request's path there, with parameters filled, and no
// custom-domain base path.
func parseARN(arn string) (method, path string, err error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "execute-api" {
		return "", "", errors.New("not an execute-api ARN")
	}
	rest := strings.SplitN(parts[5], "/", 4)
	if len(rest) < 3 || rest[0] == "" || rest[1] == "" || rest[2] == "" {
		return "", "", errors.New("execute-api ARN without api id, stage and method")
	}
	method, path = rest[2], "/"
	if len(rest) == 4 {
		path += rest[3]
	}
	// A template left unfilled must never be read as parameter values.
	if strings.ContainsAny(path, "{}") {
		return "", "", errors.New("execute-api ARN path holds a template, not a request path")
	}
	return method, path, nil
}

// policyResponse is the answer to a REST authorizer: execute-api:Invoke on
// the method's ARN, allowed or denied.
func policyResponse(arn string, allow bool, principalID string, ctx map[string]any) events.APIGatewayCustomAuthorizerResponse {
	effect := "Deny"
	if allow {
		effect = "Allow"
	}
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: principalID,
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version: "2012-10-17",
			Statement: []events.IAMPolicyStatement{{
				Action:   []string{"execute-api:Invoke"},
				Effect:   effect,
				Resource: []string{arn},
			}},
		},
		Context: ctx,
	}
}
