package authorizer

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseEvent(t *testing.T) {
	t.Parallel()
	const arn = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/GET/invoices/42"
	cases := []struct {
		name  string
		event string
		err   string
		want  request
	}{
		{name: "TOKEN", event: `{"type": "TOKEN", "authorizationToken": "Bearer t", "methodArn": "` + arn + `"}`,
			want: request{shape: restToken, arn: arn, method: "GET", path: "/invoices/42", token: "t"}},
		{name: "TOKEN from the console's test", event: `{"type": "TOKEN", "authorizationToken": "Bearer t", "methodArn": "arn:aws:execute-api:us-west-2:123456789012:ymy8tbxw7b/*/GET/"}`,
			want: request{shape: restToken, arn: "arn:aws:execute-api:us-west-2:123456789012:ymy8tbxw7b/*/GET/", method: "GET", path: "/", token: "t"}},
		{name: "REQUEST, header in any case", event: `{"type": "REQUEST", "methodArn": "` + arn + `", "headers": {"AUTHORIZATION": "Bearer t"}}`,
			want: request{shape: restRequest, arn: arn, method: "GET", path: "/invoices/42", token: "t"}},
		{name: "REQUEST, two Authorization headers", event: `{"type": "REQUEST", "methodArn": "` + arn + `",
			"headers": {"Authorization": "Bearer t"}, "multiValueHeaders": {"Authorization": ["Bearer t", "Bearer u"]}}`,
			want: request{shape: restRequest, arn: arn, method: "GET", path: "/invoices/42"}},
		{name: "REQUEST, Authorization in two cases", event: `{"type": "REQUEST", "methodArn": "` + arn + `",
			"headers": {"Authorization": "Bearer t", "authorization": "Bearer u"}}`,
			want: request{shape: restRequest, arn: arn, method: "GET", path: "/invoices/42"}},
		{name: "payload 2.0", event: `{"version": "2.0", "type": "REQUEST", "routeArn": "` + arn + `",
			"headers": {"authorization": "Bearer t"}, "requestContext": {"requestId": "r", "http": {"sourceIp": "192.0.2.1"}}}`,
			want: request{shape: httpSimple, arn: arn, method: "GET", path: "/invoices/42", token: "t", sourceIP: "192.0.2.1", requestID: "r"}},
		{name: "not an object", event: `[]`, err: "not a JSON object"},
		{name: "no type", event: `{}`, err: "not an API Gateway authorizer event"},
		{name: "other type", event: `{"type": "WEBSOCKET"}`, err: "not an API Gateway authorizer event"},
		{name: "payload 2.0 of type TOKEN", event: `{"version": "2.0", "type": "TOKEN"}`, err: "payload 2.0 event"},
		{name: "no ARN", event: `{"type": "TOKEN", "authorizationToken": "Bearer t"}`, err: "not an execute-api ARN"},
		{name: "other service's ARN", event: `{"type": "TOKEN", "methodArn": "arn:aws:lambda:us-east-1:123456789012:function/x/y/z"}`, err: "not an execute-api ARN"},
		{name: "ARN without method", event: `{"type": "TOKEN", "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod"}`, err: "without api id"},
		{name: "ARN with a template", event: `{"type": "TOKEN", "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/GET/invoices/{id}"}`, err: "template"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseEvent([]byte(tc.event))
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, *got)
		})
	}
}

// TestHandleMalformed: an event that cannot be read is refused in the form
// its shape expects, when the shape is known.
func TestHandleMalformed(t *testing.T) {
	t.Parallel()
	a := newAuthorizer(t, "*", invoiceRoutes)
	cases := []struct {
		name, event string
		simple      bool // answered {"isAuthorized": false}, else the error Unauthorized
	}{
		{name: "not JSON", event: `{`},
		{name: "unknown shape", event: `{"type": "WEBSOCKET"}`},
		{name: "TOKEN without ARN", event: `{"type": "TOKEN", "authorizationToken": "Bearer t"}`},
		{name: "REQUEST with a mistyped field", event: `{"type": "REQUEST", "headers": []}`},
		{name: "payload 2.0 without ARN", event: `{"version": "2.0", "type": "REQUEST", "headers": {"authorization": "Bearer t"}}`, simple: true},
		{name: "payload 2.0 of type TOKEN", event: `{"version": "2.0", "type": "TOKEN"}`, simple: true},
		{name: "payload 2.0 with a mistyped field", event: `{"version": "2.0", "type": "REQUEST", "headers": []}`, simple: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := a.Handle(t.Context(), json.RawMessage(tc.event))
			if !tc.simple {
				require.Equal(t, ErrUnauthorized, err)
				require.Nil(t, res)
				return
			}
			require.NoError(t, err)
			b, err := json.Marshal(res)
			require.NoError(t, err)
			require.JSONEq(t, `{"isAuthorized": false}`, string(b))
		})
	}
}
