package authorizer

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/realmiam/realmiam/shared/serve"
	"github.com/realmiam/realmiam/shared/tenant"
	"github.com/realmiam/realmiam/shared/token"
)

// fixtures are the event shapes, written as AWS documents them.
var fixtures = []string{"rest-token.json", "rest-request.json", "http-v1.json", "http-v2.json"}

// call is one request through API Gateway.
type call struct {
	method, path string
	resource     string // the route template API Gateway matched; the path when empty
	auth         string // the Authorization header; absent when empty
	sourceIP     string
}

// eventJSON fills a fixture with c. Placeholders are JSON string contents, so
// values are escaped as such; an empty auth removes the header.
func eventJSON(t testing.TB, fixture string, c call) []byte {
	t.Helper()
	raw, err := os.ReadFile("testdata/" + fixture)
	require.NoError(t, err)
	if c.resource == "" {
		c.resource = c.path
	}
	if c.sourceIP == "" {
		c.sourceIP = "192.0.2.10"
	}
	esc := func(s string) string {
		b, _ := json.Marshal(s)
		return string(b[1 : len(b)-1])
	}
	s := strings.NewReplacer(
		"{{method}}", esc(c.method), "{{path}}", esc(c.path), "{{resource}}", esc(c.resource),
		"{{authorization}}", esc(c.auth), "{{sourceIp}}", esc(c.sourceIP),
	).Replace(string(raw))
	if c.auth != "" {
		return []byte(s)
	}
	var e map[string]any
	require.NoError(t, json.Unmarshal([]byte(s), &e))
	for _, field := range []string{"headers", "multiValueHeaders"} {
		if h, ok := e[field].(map[string]any); ok {
			delete(h, "Authorization")
			delete(h, "authorization")
		}
	}
	if _, ok := e["identitySource"].([]any); ok {
		e["identitySource"] = []any{}
	}
	out, err := json.Marshal(e)
	require.NoError(t, err)
	return out
}

// outcome is an answer, read back from its JSON as API Gateway reads it.
type outcome struct {
	authenticated bool
	allowed       bool
	context       map[string]any
}

// invoke runs one event through a and checks the answer's form for the
// fixture's shape.
func invoke(t testing.TB, a *Authorizer, fixture string, c call) outcome {
	t.Helper()
	raw := eventJSON(t, fixture, c)
	res, err := a.Handle(t.Context(), raw)
	if fixture == "http-v2.json" {
		require.NoError(t, err)
		b, err := json.Marshal(res)
		require.NoError(t, err)
		var simple struct {
			IsAuthorized *bool          `json:"isAuthorized"`
			Context      map[string]any `json:"context"`
		}
		require.NoError(t, json.Unmarshal(b, &simple), "%s", b)
		require.NotNil(t, simple.IsAuthorized, "%s", b)
		return outcome{authenticated: simple.Context != nil, allowed: *simple.IsAuthorized, context: simple.Context}
	}
	if err != nil {
		require.Equal(t, "Unauthorized", err.Error(), "API Gateway answers 401 only for exactly this message")
		require.Nil(t, res)
		return outcome{}
	}
	b, err := json.Marshal(res)
	require.NoError(t, err)
	var p struct {
		PrincipalID    string `json:"principalId"`
		PolicyDocument struct {
			Version   string
			Statement []struct {
				Action   []string
				Effect   string
				Resource []string
			}
		} `json:"policyDocument"`
		Context map[string]any `json:"context"`
	}
	require.NoError(t, json.Unmarshal(b, &p), "%s", b)
	var e struct{ MethodArn string }
	require.NoError(t, json.Unmarshal(raw, &e))
	require.Equal(t, "2012-10-17", p.PolicyDocument.Version, "%s", b)
	require.Len(t, p.PolicyDocument.Statement, 1, "%s", b)
	st := p.PolicyDocument.Statement[0]
	require.Equal(t, []string{"execute-api:Invoke"}, st.Action)
	require.Equal(t, []string{e.MethodArn}, st.Resource, "the policy names exactly the method invoked")
	require.Contains(t, []string{"Allow", "Deny"}, st.Effect)
	require.NotEmpty(t, p.PrincipalID)
	require.Equal(t, p.PrincipalID, p.Context["accountId"])
	return outcome{authenticated: true, allowed: st.Effect == "Allow", context: p.Context}
}

func newAuthorizer(t testing.TB, realms, routes string) *Authorizer {
	t.Helper()
	cfg, err := ParseConfig(realms, []byte(routes))
	require.NoError(t, err)
	a, err := New(authzDeps, cfg)
	require.NoError(t, err)
	return a
}

// claimsOf reads a token's claims without verifying it.
func claimsOf(t testing.TB, raw string) *token.Claims {
	t.Helper()
	c := &token.Claims{}
	_, _, err := jwt.NewParser().ParseUnverified(raw, c)
	require.NoError(t, err)
	return c
}

func kidOf(t testing.TB, raw string) string {
	t.Helper()
	tok, _, err := jwt.NewParser().ParseUnverified(raw, &token.Claims{})
	require.NoError(t, err)
	kid, _ := tok.Header["kid"].(string)
	return kid
}

// forgeries of a valid access token: same claims and kid.
func algNone(t testing.TB, valid string) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodNone, claimsOf(t, valid))
	tok.Header["kid"] = kidOf(t, valid)
	s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	return s
}

func otherKey(t testing.TB, valid string) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claimsOf(t, valid))
	tok.Header["kid"] = kidOf(t, valid)
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

// tampered keeps valid's header and signature over claims changed by f.
func tampered(t testing.TB, valid string, f func(*token.Claims)) string {
	t.Helper()
	parts := strings.Split(valid, ".")
	c := claimsOf(t, valid)
	f(c)
	b, err := json.Marshal(c)
	require.NoError(t, err)
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

// sign issues a token of realm with the realm's keys, as sign-in does but
// with chosen claims.
func sign(t testing.TB, realm string, c token.Claims) string {
	t.Helper()
	s, err := adminDeps.Tokens.Sign(t.Context(), realm, c)
	require.NoError(t, err)
	return s
}

const invoiceRoutes = `[
	{"method": "GET", "path": "/invoices/{id}", "action": "billing:GetInvoice", "resource": "irn:billing:{realm}:invoice/{id}"},
	{"method": "DELETE", "path": "/invoices/{id}", "action": "billing:DeleteInvoice", "resource": "irn:billing:{realm}:invoice/{id}"},
	{"method": "ANY", "path": "/files/{key+}", "action": "files:Read", "resource": "irn:files:{realm}:file/{key}"}
]`

// want is the expected answer; tokenWant overrides it for TOKEN events,
// which carry no source address.
type want struct {
	authenticated bool
	decision      string // when authenticated
	action        string // "" when no route matches
	resource      string
}

var unauthenticated = want{}

func TestDecisions(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	other := newRealm(t)
	alice, aliceEmail := newUser(t, realm)
	allow := newPolicy(t, realm, `{"Version": "2012-10-17", "Statement": [
		{"Sid": "Read", "Effect": "Allow", "Action": "billing:GetInvoice", "Resource": "irn:billing:`+realm+`:invoice/*"},
		{"Sid": "DeleteFromTheOffice", "Effect": "Allow", "Action": "billing:DeleteInvoice", "Resource": "irn:billing:`+realm+`:invoice/*",
		 "Condition": {"IpAddress": {"iam:SourceIp": "203.0.113.0/24"}}},
		{"Sid": "PublicFiles", "Effect": "Allow", "Action": "files:Read", "Resource": "irn:files:`+realm+`:file/public/*"}]}`)
	attach(t, "/api/realm/"+realm+"/accounts/"+alice+"/policies/"+allow)
	// The Deny reaches alice through a group, the Allow directly.
	deny := newPolicy(t, realm, `{"Version": "2012-10-17", "Statement": [
		{"Sid": "NotTheSecret", "Effect": "Deny", "Action": "billing:*", "Resource": "irn:billing:`+realm+`:invoice/secret"}]}`)
	group := create(t, "/api/realm/"+realm+"/groups", map[string]any{"name": "auditors"})
	attach(t, "/api/realm/"+realm+"/groups/"+group+"/policies/"+deny)
	attach(t, "/api/realm/"+realm+"/accounts/"+alice+"/groups/"+group)

	valid := login(t, realm, aliceEmail)
	now := time.Now()
	expired := sign(t, realm, token.Claims{TokenUse: "access", RegisteredClaims: jwt.RegisteredClaims{
		Subject: alice, Audience: jwt.ClaimStrings{realm}, ExpiresAt: jwt.NewNumericDate(now.Add(-2 * time.Minute))}})
	idToken := sign(t, realm, token.Claims{TokenUse: "id", Email: aliceEmail, RegisteredClaims: jwt.RegisteredClaims{
		Subject: alice, Audience: jwt.ClaimStrings{realm}, ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}})
	otherAud := sign(t, realm, token.Claims{TokenUse: "access", RegisteredClaims: jwt.RegisteredClaims{
		Subject: alice, Audience: jwt.ClaimStrings{"billing"}, ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}})
	carol, carolEmail := newUser(t, other)
	attach(t, "/api/realm/"+other+"/accounts/"+carol+"/policies/"+newPolicy(t, other,
		`{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}`))
	otherRealm := login(t, other, carolEmail)
	dave, daveEmail := newUser(t, realm)
	attach(t, "/api/realm/"+realm+"/accounts/"+dave+"/policies/"+allow)
	disabled := login(t, realm, daveEmail)
	status, body := api(t, "PATCH", "/api/realm/"+realm+"/accounts/"+dave, map[string]any{"enabled": false})
	require.Equal(t, http.StatusOK, status, "%s", body)

	invoice := func(id string) string { return "irn:billing:" + realm + ":invoice/" + id }
	allowed := func(action, resource string) want {
		return want{authenticated: true, decision: "allowed", action: action, resource: resource}
	}
	denied := func(decision, action, resource string) want {
		return want{authenticated: true, decision: decision, action: action, resource: resource}
	}
	bearer := "Bearer " + valid
	cases := []struct {
		name      string
		call      call
		want      want
		tokenWant *want
	}{
		{name: "allowed", call: call{method: "GET", path: "/invoices/42", resource: "/invoices/{id}", auth: bearer},
			want: allowed("billing:GetInvoice", invoice("42"))},
		{name: "scheme in any case", call: call{method: "GET", path: "/invoices/42", auth: "bearer " + valid},
			want: allowed("billing:GetInvoice", invoice("42"))},
		{name: "deny through a group beats the direct allow", call: call{method: "GET", path: "/invoices/secret", auth: bearer},
			want: denied("explicitDeny", "billing:GetInvoice", invoice("secret"))},
		{name: "an encoded path is judged decoded", call: call{method: "GET", path: "/invoices/%73ecret", auth: bearer},
			want: denied("explicitDeny", "billing:GetInvoice", invoice("secret"))},
		{name: "dot segments are denied", call: call{method: "GET", path: "/files/public/../private/a.txt", auth: bearer},
			want: denied("implicitDeny", "", "")},
		{name: "encoded dot segments are denied", call: call{method: "GET", path: "/files/public/%2E%2E/private/a.txt", auth: bearer},
			want: denied("implicitDeny", "", "")},
		{name: "source address in the condition's range", call: call{method: "DELETE", path: "/invoices/42", auth: bearer, sourceIP: "203.0.113.7"},
			want:      allowed("billing:DeleteInvoice", invoice("42")),
			tokenWant: &want{authenticated: true, decision: "implicitDeny", action: "billing:DeleteInvoice", resource: invoice("42")}},
		{name: "source address outside the range", call: call{method: "DELETE", path: "/invoices/42", auth: bearer, sourceIP: "198.51.100.1"},
			want: denied("implicitDeny", "billing:DeleteInvoice", invoice("42"))},
		{name: "greedy path", call: call{method: "GET", path: "/files/public/docs/a.pdf", resource: "/files/{key+}", auth: bearer},
			want: allowed("files:Read", "irn:files:"+realm+":file/public/docs/a.pdf")},
		{name: "greedy path not allowed", call: call{method: "PUT", path: "/files/private/a.pdf", auth: bearer},
			want: denied("implicitDeny", "files:Read", "irn:files:"+realm+":file/private/a.pdf")},
		{name: "unknown method", call: call{method: "POST", path: "/invoices/42", auth: bearer}, want: denied("implicitDeny", "", "")},
		{name: "unknown path", call: call{method: "GET", path: "/invoices/42/lines", auth: bearer}, want: denied("implicitDeny", "", "")},
		{name: "root", call: call{method: "GET", path: "/", auth: bearer}, want: denied("implicitDeny", "", "")},
		{name: "no Authorization", call: call{method: "GET", path: "/invoices/42"}, want: unauthenticated},
		{name: "not a bearer token", call: call{method: "GET", path: "/invoices/42", auth: "Basic " + valid}, want: unauthenticated},
		{name: "bare token", call: call{method: "GET", path: "/invoices/42", auth: valid}, want: unauthenticated},
		{name: "expired", call: call{method: "GET", path: "/invoices/42", auth: "Bearer " + expired}, want: unauthenticated},
		{name: "id token", call: call{method: "GET", path: "/invoices/42", auth: "Bearer " + idToken}, want: unauthenticated},
		{name: "other audience", call: call{method: "GET", path: "/invoices/42", auth: "Bearer " + otherAud}, want: unauthenticated},
		{name: "other realm", call: call{method: "GET", path: "/invoices/42", auth: "Bearer " + otherRealm}, want: unauthenticated},
		{name: "alg none", call: call{method: "GET", path: "/invoices/42", auth: "Bearer " + algNone(t, valid)}, want: unauthenticated},
		{name: "signed by another key", call: call{method: "GET", path: "/invoices/42", auth: "Bearer " + otherKey(t, valid)}, want: unauthenticated},
		{name: "claims changed", call: call{method: "GET", path: "/invoices/42", auth: "Bearer " + tampered(t, valid, func(c *token.Claims) {
			c.ExpiresAt = jwt.NewNumericDate(now.Add(24 * time.Hour))
		})}, want: unauthenticated},
		{name: "iss moved to the accepted realm", call: call{method: "GET", path: "/invoices/42", auth: "Bearer " + tampered(t, otherRealm, func(c *token.Claims) {
			c.Issuer = adminDeps.Tokens.IssuerOf(realm)
			c.Audience = jwt.ClaimStrings{realm}
		})}, want: unauthenticated},
		{name: "not a JWT", call: call{method: "GET", path: "/invoices/42", auth: "Bearer not.a.jwt"}, want: unauthenticated},
		{name: "disabled account", call: call{method: "GET", path: "/invoices/42", auth: "Bearer " + disabled}, want: unauthenticated},
	}
	a := newAuthorizer(t, realm, invoiceRoutes)
	for _, fixture := range fixtures {
		for _, tc := range cases {
			t.Run(strings.TrimSuffix(fixture, ".json")+"/"+tc.name, func(t *testing.T) {
				w := tc.want
				if tc.tokenWant != nil && fixture == "rest-token.json" {
					w = *tc.tokenWant
				}
				got := invoke(t, a, fixture, tc.call)
				require.Equal(t, w.authenticated, got.authenticated)
				require.Equal(t, w.authenticated && w.decision == "allowed", got.allowed)
				if !w.authenticated {
					return
				}
				wantContext := map[string]any{"realm": realm, "accountId": alice, "email": aliceEmail, "decision": w.decision}
				if w.action != "" {
					wantContext["action"], wantContext["resource"] = w.action, w.resource
				}
				require.Equal(t, wantContext, got.context)
			})
		}
	}
	// Every token above went through the log: none may be in it.
	for _, tok := range []string{valid, expired, idToken, otherAud, otherRealm, disabled} {
		require.NotContains(t, logs.String(), strings.Split(tok, ".")[2])
	}
}

const reportRoutes = `[
	{"method": "GET", "path": "/t/{realm}/reports/{name}", "action": "billing:GetReport", "resource": "irn:billing:{realm}:report/{name}"},
	{"method": "GET", "path": "/invoices/{id}", "action": "billing:GetInvoice", "resource": "irn:billing:{realm}:invoice/{id}"}
]`

// TestRealms: a token of realm A never authorizes a request addressed to
// realm B, and A's policies never decide about B's resources.
func TestRealms(t *testing.T) {
	t.Parallel()
	a, b := newRealm(t), newRealm(t)
	alice, aliceEmail := newUser(t, a)
	// alice's administrator tries to grant her realm B's billing: it must
	// not matter, since her requests are about realm A's resources.
	attach(t, "/api/realm/"+a+"/accounts/"+alice+"/policies/"+newPolicy(t, a, `{"Version": "2012-10-17", "Statement": [
		{"Effect": "Allow", "Action": "billing:GetReport", "Resource": "irn:billing:`+a+`:report/*"},
		{"Effect": "Allow", "Action": "billing:*", "Resource": "irn:billing:`+b+`:*"}]}`))
	bob, bobEmail := newUser(t, b)
	attach(t, "/api/realm/"+b+"/accounts/"+bob+"/policies/"+newPolicy(t, b, `{"Version": "2012-10-17", "Statement": [
		{"Effect": "Allow", "Action": "billing:GetReport", "Resource": "irn:billing:`+b+`:report/*"}]}`))
	aliceTok, bobTok := "Bearer "+login(t, a, aliceEmail), "Bearer "+login(t, b, bobEmail)
	systemTok := "Bearer " + adminToken

	anyRealm := newAuthorizer(t, "*", reportRoutes)
	onlyB := newAuthorizer(t, b, reportRoutes)
	both := newAuthorizer(t, a+", "+b, reportRoutes)
	cases := []struct {
		name     string
		a        *Authorizer
		call     call
		realm    string // of the caller, when authenticated
		decision string
	}{
		{name: "own realm in the path", a: anyRealm, call: call{method: "GET", path: "/t/" + a + "/reports/q1", auth: aliceTok}, realm: a, decision: "allowed"},
		{name: "other realm in the path", a: anyRealm, call: call{method: "GET", path: "/t/" + b + "/reports/q1", auth: aliceTok}},
		{name: "other realm in the path, both accepted", a: both, call: call{method: "GET", path: "/t/" + b + "/reports/q1", auth: aliceTok}},
		{name: "other caller, own realm", a: anyRealm, call: call{method: "GET", path: "/t/" + b + "/reports/q1", auth: bobTok}, realm: b, decision: "allowed"},
		{name: "a grant on another realm's resources", a: anyRealm, call: call{method: "GET", path: "/invoices/1", auth: aliceTok}, realm: a, decision: "implicitDeny"},
		{name: "realm not served", a: onlyB, call: call{method: "GET", path: "/invoices/1", auth: aliceTok}},
		{name: "realm not served, its own path", a: onlyB, call: call{method: "GET", path: "/t/" + a + "/reports/q1", auth: aliceTok}},
		{name: "realm served", a: onlyB, call: call{method: "GET", path: "/t/" + b + "/reports/q1", auth: bobTok}, realm: b, decision: "allowed"},
		{name: "system token where system is not served", a: onlyB, call: call{method: "GET", path: "/t/" + b + "/reports/q1", auth: systemTok}},
		{name: "system token decides about system resources only", a: anyRealm, call: call{method: "GET", path: "/invoices/1", auth: systemTok}, realm: tenant.System, decision: "implicitDeny"},
		{name: "system token on another realm's path", a: anyRealm, call: call{method: "GET", path: "/t/" + b + "/reports/q1", auth: systemTok}},
	}
	for _, fixture := range fixtures {
		for _, tc := range cases {
			t.Run(strings.TrimSuffix(fixture, ".json")+"/"+tc.name, func(t *testing.T) {
				got := invoke(t, tc.a, fixture, tc.call)
				require.Equal(t, tc.realm != "", got.authenticated)
				require.Equal(t, tc.decision == "allowed", got.allowed)
				if tc.realm != "" {
					require.Equal(t, tc.realm, got.context["realm"])
					require.Equal(t, tc.decision, got.context["decision"])
				}
			})
		}
	}
}

// TestKeyRotation: a token signed with a key the authorizer has not seen is
// accepted once the realm's keys are reloaded, which an unknown kid causes at
// most once per 10 seconds. Not parallel: it moves the authorizer's clock.
func TestKeyRotation(t *testing.T) {
	realm := newRealm(t)
	id, email := newUser(t, realm)
	attach(t, "/api/realm/"+realm+"/accounts/"+id+"/policies/"+newPolicy(t, realm, `{"Version": "2012-10-17", "Statement": [
		{"Effect": "Allow", "Action": "billing:GetInvoice", "Resource": "irn:billing:`+realm+`:invoice/*"}]}`))
	a := newAuthorizer(t, realm, invoiceRoutes)
	get := call{method: "GET", path: "/invoices/7"}

	oldTok := login(t, realm, email)
	for _, fixture := range fixtures {
		get.auth = "Bearer " + oldTok
		require.True(t, invoke(t, a, fixture, get).allowed, fixture)
	}

	// Rotation in another process: a new active key, and tokens signed with it.
	require.NoError(t, adminDeps.Keys.Create(t.Context(), realm))
	newTok := login(t, realm, email)
	require.NotEqual(t, kidOf(t, oldTok), kidOf(t, newTok))

	// The authorizer loaded the keys a moment ago: the unknown kid does not
	// send it to the database again yet.
	get.auth = "Bearer " + newTok
	var got outcome
	cmds := commands.during(func() { got = invoke(t, a, "rest-token.json", get) })
	require.False(t, got.authenticated)
	require.NotContains(t, cmds, tenant.DBName(realm)+".find keys")

	clock.Advance(11 * time.Second)
	cmds = commands.during(func() { got = invoke(t, a, "rest-token.json", get) })
	require.True(t, got.allowed)
	keyLoads := 0
	for _, c := range cmds {
		if c == tenant.DBName(realm)+".find keys" {
			keyLoads++
		}
	}
	require.Equal(t, 1, keyLoads, "one reload of the realm's keys: %v", cmds)
	for _, fixture := range fixtures {
		for _, tok := range []string{oldTok, newTok} {
			get.auth = "Bearer " + tok
			require.True(t, invoke(t, a, fixture, get).allowed, "%s: old keys keep verifying", fixture)
		}
	}
}

// TestWarmInvocation: after the first invocation for a caller, the realm,
// its keys, the account and its policies come from the authorizer's caches.
// Not parallel: it counts the client's commands.
func TestWarmInvocation(t *testing.T) {
	realm := newRealm(t)
	id, email := newUser(t, realm)
	attach(t, "/api/realm/"+realm+"/accounts/"+id+"/policies/"+newPolicy(t, realm, `{"Version": "2012-10-17", "Statement": [
		{"Effect": "Allow", "Action": "billing:GetInvoice", "Resource": "irn:billing:`+realm+`:invoice/*"}]}`))
	a := newAuthorizer(t, realm, invoiceRoutes)
	c := call{method: "GET", path: "/invoices/9", auth: "Bearer " + login(t, realm, email), sourceIP: "203.0.113.9"}

	var got outcome
	cold := commands.during(func() { got = invoke(t, a, "http-v2.json", c) })
	require.True(t, got.allowed)
	t.Logf("cold invocation: %d round trips %v", len(cold), cold)
	warm := commands.during(func() { got = invoke(t, a, "http-v2.json", c) })
	require.True(t, got.allowed)
	require.Empty(t, warm, "a warm invocation makes no round trip")

	// Through the Lambda runtime's handler, as main starts it: the answer is
	// the JSON API Gateway reads, and a refusal is the error message it maps
	// to 401.
	h := lambda.NewHandler(a.Handle)
	out, err := h.Invoke(t.Context(), eventJSON(t, "http-v2.json", c))
	require.NoError(t, err)
	require.JSONEq(t, `{"isAuthorized": true, "context": {"realm": "`+realm+`", "accountId": "`+id+`", "email": "`+email+`",
		"decision": "allowed", "action": "billing:GetInvoice", "resource": "irn:billing:`+realm+`:invoice/9"}}`, string(out))
	_, err = h.Invoke(t.Context(), eventJSON(t, "rest-token.json", call{method: "GET", path: "/invoices/9"}))
	require.EqualError(t, err, "Unauthorized")
}

// TestDatabaseDown: when the token cannot be checked the answer is a
// refusal, never an allow, and the failure is logged as an error.
func TestDatabaseDown(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	id, email := newUser(t, realm)
	attach(t, "/api/realm/"+realm+"/accounts/"+id+"/policies/"+newPolicy(t, realm, `{"Version": "2012-10-17", "Statement": [
		{"Effect": "Allow", "Action": "*", "Resource": "*"}]}`))
	tok := login(t, realm, email)

	// Nothing listens on port 1 of the loopback address.
	client, err := mongo.Connect(options.Client().ApplyURI("mongodb://127.0.0.1:1/").
		SetServerSelectionTimeout(200 * time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	down := &syncBuffer{}
	d, err := serve.NewDeps(adminDeps.Config, client, serve.NewLogger(down, slog.LevelInfo))
	require.NoError(t, err)
	cfg, err := ParseConfig("*", []byte(invoiceRoutes))
	require.NoError(t, err)
	a, err := New(d, cfg)
	require.NoError(t, err)

	c := call{method: "GET", path: "/invoices/1", auth: "Bearer " + tok}
	for _, fixture := range fixtures {
		got := invoke(t, a, fixture, c)
		require.False(t, got.authenticated, fixture)
		require.False(t, got.allowed, fixture)
	}
	require.Contains(t, down.String(), `"level":"ERROR"`)
	require.Contains(t, down.String(), "database_unavailable")
	require.NotContains(t, down.String(), strings.Split(tok, ".")[2])
}
