// Package serve starts Realm IAM functions: it reads the configuration, builds
// the expensive shared pieces once (database client, realm cache, signing
// keys, the routed spec) and serves the functions' operations, as plain HTTP
// or as Lambda invocations (Main).
//
// # Lambda events and paths
//
// Under AWS Lambda each invocation's payload is recognised on its own:
// "version":"2.0" is an HTTP API (payload 2.0) or function URL event,
// requestContext.elb marks an ALB target-group event, and anything else with
// an httpMethod is a REST API proxy event (or an HTTP API payload 1.0 event,
// which has the same shape). All are served by the same handler as plain
// HTTP, and the response goes back in the event's own shape.
//
// The handler routes on the paths of openapi.yaml (/api/core/...,
// /api/realm/{tenantId}/..., /healthz). The path taken from an event is
// mapped onto them by two rules, in this order:
//
//  1. Stage. A REST API's path never holds the stage: a request to
//     https://{api-id}.execute-api.{region}.amazonaws.com/prod/api/core/realms
//     arrives as /api/core/realms. An HTTP API puts a named stage in the path
//     (rawPath, or path in payload 1.0) when it is called on its
//     execute-api host; there, when requestContext.stage is not $default,
//     the leading /{stage} segment is removed. Through a custom domain the
//     stage never appears in the path and nothing is removed, whatever the
//     stage is called. The $default stage and function URLs need nothing.
//  2. Base path. A custom domain's base path mapping (API mapping key) stays
//     in the path of REST and HTTP APIs alike: with api.example.com/iam
//     mapped to the API, a request to https://api.example.com/iam/api/core/realms
//     arrives as /iam/api/core/realms. Set IAM_BASE_PATH=/iam (several
//     segments allowed, e.g. /v1/iam) and a leading /iam segment is removed
//     from every event's path. Paths without it (the same API called on its
//     execute-api host) are left alone, so both addresses work. ALB events
//     follow this rule too: a listener rule that forwards /iam/* to the
//     function needs IAM_BASE_PATH=/iam. Plain HTTP (OpenFaaS, containers)
//     serves paths as they arrive; IAM_BASE_PATH does not apply there.
//
// A path that maps onto no operation is a 404 problem (route_not_found), as
// over plain HTTP. Token issuers do not depend on any of this: they come
// from IAM_PUBLIC_URL, which must be the public base URL including the base
// path (https://api.example.com/iam).
//
// Query strings, repeated keys, headers, cookies and base64 bodies are
// passed through aws-lambda-go-api-proxy. Its quirks, which callers see:
// REST responses carry every header in multiValueHeaders only; HTTP API
// responses join repeated header values with commas and move Set-Cookie to
// cookies, and HTTP API requests have comma-separated values of most headers
// split into several values (Authorization and Content-Type are kept
// whole); an ALB target group without multi-value headers gets single
// "headers" and only the last Set-Cookie. An ALB's query parameters arrive
// URL-encoded and are decoded once here. The caller's address (the
// iam:SourceIp condition key) is requestContext's sourceIp for API Gateway
// and function URLs, and empty behind an ALB, whose X-Forwarded-For the
// service does not trust. An event that cannot be turned into a request (a
// body that is not base64) is answered 400 malformed_event; a payload that
// is not an HTTP event at all fails the invocation.
package serve
