package tests

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realmiam/realmiam/shared/tenant"
)

// Scenarios of issue 3: who may do what, asked through evaluate and enforced
// on the admin API by the same engine.

func createNamed(t testing.TB, realm, kind string, body map[string]any) string {
	t.Helper()
	r := call(t, "POST", "/api/realm/"+realm+"/"+kind, env.AdminToken, body)
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	var out struct{ ID string }
	r.decode(t, &out)
	return out.ID
}

func newPolicy(t *testing.T, realm, name, document string) string {
	return createNamed(t, realm, "policies", map[string]any{"name": name, "document": rawJSON(document)})
}

func put(t testing.TB, path string) {
	t.Helper()
	r := call(t, "PUT", path, env.AdminToken, nil)
	require.Equal(t, http.StatusNoContent, r.Status, "PUT %s: %s", path, r.Body)
}

func del(t *testing.T, path string) {
	t.Helper()
	r := call(t, "DELETE", path, env.AdminToken, nil)
	require.Equal(t, http.StatusNoContent, r.Status, "DELETE %s: %s", path, r.Body)
}

type decisionBody struct {
	Decision          string `json:"decision"`
	Allowed           bool   `json:"allowed"`
	MatchedStatements []struct {
		Policy struct{ ID, Name string }
		Sid    string
		Effect string
		Via    struct {
			Kind  string
			Group *struct{ ID, Name string }
			Role  *struct{ ID, Name string }
		}
	} `json:"matchedStatements"`
	MissingContextKeys []string `json:"missingContextKeys"`
}

func evaluate(t *testing.T, realm, token, account, action, resource string, context map[string]any) decisionBody {
	t.Helper()
	body := map[string]any{"accountId": account, "action": action, "resource": resource}
	if context != nil {
		body["context"] = context
	}
	r := call(t, "POST", "/api/realm/"+realm+"/authz/evaluate", token, body)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var d decisionBody
	r.decode(t, &d)
	return d
}

// managedPolicyID is the id of a managed policy of realm.
func managedPolicyID(t *testing.T, realm, name string) string {
	t.Helper()
	r := call(t, "GET", "/api/realm/"+realm+"/policies?name="+name, env.AdminToken, nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var l struct{ Items []struct{ ID string } }
	r.decode(t, &l)
	require.Len(t, l.Items, 1, "managed policy %s of %s", name, realm)
	return l.Items[0].ID
}

const allowInvoices = `{"Version":"2012-10-17","Statement":[{"Sid":"read","Effect":"Allow",
	"Action":["billing:Get*","billing:List*"],"Resource":"irn:billing:REALM:invoice/*"}]}`

func TestChainAccountGroupRolePolicy(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	base := "/api/realm/" + realm
	acct := createAccount(t, realm, "carol@example.com", "Carol-Passw0rd")
	group := createNamed(t, realm, "groups", map[string]any{"name": "ops"})
	role := createNamed(t, realm, "roles", map[string]any{"name": "billing-reader"})
	pol := newPolicy(t, realm, "ReadInvoices", replaceRealm(allowInvoices, realm))
	put(t, base+"/accounts/"+acct+"/groups/"+group)
	put(t, base+"/groups/"+group+"/roles/"+role)
	put(t, base+"/roles/"+role+"/policies/"+pol)

	d := evaluate(t, realm, env.AdminToken, acct, "billing:GetInvoice", "irn:billing:"+realm+":invoice/42", nil)
	require.Equal(t, "allowed", d.Decision)
	require.True(t, d.Allowed)
	require.Len(t, d.MatchedStatements, 1)
	m := d.MatchedStatements[0]
	require.Equal(t, "ReadInvoices", m.Policy.Name)
	require.Equal(t, "read", m.Sid)
	require.Equal(t, "groupRole", m.Via.Kind)
	require.Equal(t, "ops", m.Via.Group.Name)
	require.Equal(t, "billing-reader", m.Via.Role.Name)

	// Case rules: actions ignore case, resources do not.
	require.True(t, evaluate(t, realm, env.AdminToken, acct, "BILLING:getinvoice", "irn:billing:"+realm+":invoice/42", nil).Allowed)
	require.Equal(t, "implicitDeny", evaluate(t, realm, env.AdminToken, acct, "billing:GetInvoice", "irn:billing:"+realm+":INVOICE/42", nil).Decision)
	require.Equal(t, "implicitDeny", evaluate(t, realm, env.AdminToken, acct, "billing:DeleteInvoice", "irn:billing:"+realm+":invoice/42", nil).Decision)

	// Effective policies name the path.
	r := call(t, "GET", base+"/accounts/"+acct+"/effective-policies", env.AdminToken, nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	require.Contains(t, string(r.Body), `"kind":"groupRole"`)

	// Leaving the group takes the permission away at once.
	del(t, base+"/accounts/"+acct+"/groups/"+group)
	require.Equal(t, "implicitDeny", evaluate(t, realm, env.AdminToken, acct, "billing:GetInvoice", "irn:billing:"+realm+":invoice/42", nil).Decision)
}

func TestDenyThroughOnePathBeatsAllowThroughAnother(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	base := "/api/realm/" + realm
	acct := createAccount(t, realm, "dave@example.com", "Dave-Passw0rd")
	allow := newPolicy(t, realm, "AllowAll", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"billing:*","Resource":"*"}}`)
	deny := newPolicy(t, realm, "DenyDelete", `{"Version":"2012-10-17","Statement":{"Sid":"nodelete","Effect":"Deny","Action":"billing:Delete*","Resource":"*"}}`)
	group := createNamed(t, realm, "groups", map[string]any{"name": "auditors"})
	put(t, base+"/accounts/"+acct+"/policies/"+allow)
	put(t, base+"/groups/"+group+"/policies/"+deny)
	put(t, base+"/accounts/"+acct+"/groups/"+group)

	inv := "irn:billing:" + realm + ":invoice/1"
	require.Equal(t, "allowed", evaluate(t, realm, env.AdminToken, acct, "billing:GetInvoice", inv, nil).Decision)
	d := evaluate(t, realm, env.AdminToken, acct, "billing:DeleteInvoice", inv, nil)
	require.Equal(t, "explicitDeny", d.Decision)
	require.Len(t, d.MatchedStatements, 1)
	require.Equal(t, "nodelete", d.MatchedStatements[0].Sid)
	require.Equal(t, "group", d.MatchedStatements[0].Via.Kind)

	// Deleting the deny policy detaches it everywhere: evaluation no longer sees it.
	del(t, base+"/policies/"+deny)
	require.Equal(t, "allowed", evaluate(t, realm, env.AdminToken, acct, "billing:DeleteInvoice", inv, nil).Decision)
	r := call(t, "GET", base+"/groups/"+group+"/policies", env.AdminToken, nil)
	require.NotContains(t, string(r.Body), deny)
}

func TestConditionsAndMissingKeys(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	base := "/api/realm/" + realm
	acct := createAccount(t, realm, "erin@example.com", "Erin-Passw0rd")
	pol := newPolicy(t, realm, "OfficeOnly", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"billing:*",
		"Resource":"irn:billing:`+realm+`:invoice/${iam:userid}/*",
		"Condition":{"IpAddress":{"iam:SourceIp":"10.0.0.0/8"},"StringEquals":{"app:Tier":["gold","silver"]}}}]}`)
	put(t, base+"/accounts/"+acct+"/policies/"+pol)
	own := "irn:billing:" + realm + ":invoice/" + acct + "/7"

	d := evaluate(t, realm, env.AdminToken, acct, "billing:GetInvoice", own, map[string]any{"iam:SourceIp": "10.1.2.3"})
	require.Equal(t, "implicitDeny", d.Decision)
	require.Contains(t, d.MissingContextKeys, "app:Tier")
	require.True(t, evaluate(t, realm, env.AdminToken, acct, "billing:GetInvoice", own,
		map[string]any{"iam:SourceIp": "10.1.2.3", "app:Tier": "gold"}).Allowed)
	require.False(t, evaluate(t, realm, env.AdminToken, acct, "billing:GetInvoice", own,
		map[string]any{"iam:SourceIp": "192.168.1.1", "app:Tier": "gold"}).Allowed)
	// ${iam:userid} is the account's own id, whatever the caller says.
	require.False(t, evaluate(t, realm, env.AdminToken, acct, "billing:GetInvoice", "irn:billing:"+realm+":invoice/other/7",
		map[string]any{"iam:SourceIp": "10.1.2.3", "app:Tier": "gold", "iam:userid": "other"}).Allowed)

	// A batch answers in order.
	r := call(t, "POST", base+"/authz/evaluate-batch", env.AdminToken, map[string]any{"accountId": acct, "requests": []map[string]any{
		{"action": "billing:GetInvoice", "resource": own, "context": map[string]any{"iam:SourceIp": "10.0.0.1", "app:Tier": "silver"}},
		{"action": "billing:GetInvoice", "resource": own},
	}})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var b struct{ Results []decisionBody }
	r.decode(t, &b)
	require.Len(t, b.Results, 2)
	require.True(t, b.Results[0].Allowed)
	require.False(t, b.Results[1].Allowed)
}

func TestSimulateStoresNothing(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	r := call(t, "POST", "/api/realm/"+realm+"/authz/simulate", env.AdminToken, map[string]any{
		"policies": []any{
			rawJSON(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}`),
			rawJSON(`{"Version":"2012-10-17","Statement":{"Sid":"x","Effect":"Deny","Action":"s3:Delete*","Resource":"*","Condition":{"Bool":{"app:Protected":"true"}}}}`),
		},
		"action": "s3:DeleteObject", "resource": "irn:s3:" + realm + ":bucket/a", "context": map[string]any{"app:Protected": true},
	})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var d decisionBody
	r.decode(t, &d)
	require.Equal(t, "explicitDeny", d.Decision)
	l := call(t, "GET", "/api/realm/"+realm+"/policies?namePrefix=simulated", env.AdminToken, nil)
	require.NotContains(t, string(l.Body), "simulated")

	r = call(t, "POST", "/api/realm/"+realm+"/authz/simulate", env.AdminToken, map[string]any{
		"policies": []any{rawJSON(`{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Action":"s3:*","Resource":"*"}]}`)},
		"action":   "s3:GetObject", "resource": "*",
	})
	require.Equal(t, http.StatusBadRequest, r.Status)
	p := r.problem(t)
	require.Equal(t, "policies[0].Statement[0].Effect", p.Errors[0].Field)
	require.True(t, strings.HasPrefix(p.Detail, "policies[0]: the policy document is invalid"), "%s", p.Detail)
}

// The admin API obeys the engine: managed policies give realm administrators,
// read-only users and self-service, and nothing else.
func TestAdminAPIObeysPolicies(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	base := "/api/realm/" + realm
	adminID := createAccount(t, realm, "radmin@example.com", "Radmin-Passw0rd")
	readerID := createAccount(t, realm, "reader@example.com", "Reader-Passw0rd")
	selfID := createAccount(t, realm, "self@example.com", "Self-Passw0rd1")
	put(t, base+"/accounts/"+adminID+"/policies/"+managedPolicyID(t, realm, "RealmAdministratorAccess"))
	put(t, base+"/accounts/"+readerID+"/policies/"+managedPolicyID(t, realm, "ReadOnlyAccess"))
	put(t, base+"/accounts/"+selfID+"/policies/"+managedPolicyID(t, realm, "SelfService"))
	admin := login(t, realm, "radmin@example.com", "Radmin-Passw0rd").AccessToken
	reader := login(t, realm, "reader@example.com", "Reader-Passw0rd").AccessToken
	self := login(t, realm, "self@example.com", "Self-Passw0rd1").AccessToken

	// The realm administrator manages its realm, and only its realm.
	r := call(t, "POST", base+"/accounts", admin, map[string]any{"email": "new@example.com", "password": "New-Passw0rd"})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	require.Equal(t, http.StatusOK, call(t, "GET", "/api/core/realms/"+realm, admin, nil).Status)
	require.Equal(t, http.StatusUnauthorized, call(t, "DELETE", "/api/core/realms/"+realm, admin, nil).Status, "deleting a realm is the system realm's")
	require.Equal(t, http.StatusUnauthorized, call(t, "GET", "/api/core/realms", admin, nil).Status, "the registry is the system realm's")
	other := newRealm(t)
	require.Equal(t, http.StatusUnauthorized, call(t, "GET", "/api/realm/"+other+"/accounts", admin, nil).Status)

	// Read-only: lists and reads, never writes.
	require.Equal(t, http.StatusOK, call(t, "GET", base+"/accounts", reader, nil).Status)
	require.Equal(t, http.StatusOK, call(t, "GET", base+"/policies", reader, nil).Status)
	require.Equal(t, http.StatusOK, call(t, "GET", "/api/core/realms/"+realm, reader, nil).Status)
	require.Equal(t, http.StatusForbidden, call(t, "PATCH", "/api/core/realms/"+realm, reader, map[string]any{"displayName": "x"}).Status)
	r = call(t, "POST", base+"/accounts", reader, map[string]any{"email": "x@example.com", "password": "Xx-Passw0rd1"})
	require.Equal(t, http.StatusForbidden, r.Status)
	p := r.problem(t)
	require.Equal(t, "access_denied", p.Code)
	require.Contains(t, p.Detail, "iam:CreateAccount")

	// Self-service: its own account and password, nobody else's.
	require.Equal(t, http.StatusOK, call(t, "GET", base+"/accounts/"+selfID, self, nil).Status)
	require.Equal(t, http.StatusForbidden, call(t, "GET", base+"/accounts/"+readerID, self, nil).Status)
	require.Equal(t, http.StatusForbidden, call(t, "GET", base+"/accounts", self, nil).Status)
	require.Equal(t, http.StatusForbidden, call(t, "PUT", base+"/accounts/"+readerID+"/password", self, map[string]any{"password": "Hacked-Passw0rd"}).Status)

	// evaluate and simulate are not open oracles.
	body := map[string]any{"accountId": readerID, "action": "iam:GetAccount", "resource": "irn:iam:" + realm + ":account/x"}
	require.Equal(t, http.StatusForbidden, call(t, "POST", base+"/authz/evaluate", self, body).Status)
	require.Equal(t, http.StatusOK, call(t, "POST", base+"/authz/evaluate", admin, body).Status)

	// Setting its own password takes the current one (a stolen access token
	// must not become the account), and signs the account out everywhere,
	// this session included.
	selfPassword := base + "/accounts/" + selfID + "/password"
	requireProblem(t, call(t, "PUT", selfPassword, self, map[string]any{"password": "Self-Passw0rd2"}),
		http.StatusBadRequest, "invalid_request", "currentPassword")
	requireProblem(t, call(t, "PUT", selfPassword, self, map[string]any{"password": "Self-Passw0rd2", "currentPassword": "Self-Passw0rd9"}),
		http.StatusForbidden, "wrong_current_password", "")
	require.Equal(t, http.StatusOK, call(t, "GET", base+"/accounts/"+selfID, self, nil).Status, "refusals change nothing")
	requireLoginFails(t, realm, "self@example.com", "Self-Passw0rd2")
	// Wrong guesses count with failed sign-ins (two so far): the 5th
	// failure locks the email for both, so a stolen token does not buy
	// unlimited guessing.
	for range 3 {
		requireProblem(t, call(t, "PUT", selfPassword, self, map[string]any{"password": "Self-Passw0rd2", "currentPassword": "guess"}),
			http.StatusForbidden, "wrong_current_password", "")
	}
	requireProblem(t, call(t, "PUT", selfPassword, self, map[string]any{"password": "Self-Passw0rd2", "currentPassword": "Self-Passw0rd1"}),
		http.StatusTooManyRequests, "too_many_attempts", "")
	requireProblem(t, call(t, "POST", "/api/realm/"+realm+"/auth/login", "", map[string]any{"email": "self@example.com", "password": "Self-Passw0rd1"}),
		http.StatusTooManyRequests, "too_many_attempts", "")
	time.Sleep(1100 * time.Millisecond) // the first lock lasts a second
	require.Equal(t, http.StatusNoContent, call(t, "PUT", selfPassword, self,
		map[string]any{"password": "Self-Passw0rd2", "currentPassword": "Self-Passw0rd1"}).Status)
	require.Equal(t, http.StatusUnauthorized, call(t, "GET", base+"/accounts/"+selfID, self, nil).Status)

	// Taking the policy away takes the permission away.
	del(t, base+"/accounts/"+readerID+"/policies/"+managedPolicyID(t, realm, "ReadOnlyAccess"))
	require.Equal(t, http.StatusForbidden, call(t, "GET", base+"/accounts", reader, nil).Status)
}

// Policies, groups and roles of one realm mean nothing in another.
func TestPolicyIsolation(t *testing.T) {
	t.Parallel()
	a, b := newRealm(t), newRealm(t)
	polA := newPolicy(t, a, "AllowAll", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`)
	acctB := createAccount(t, b, "bob@example.com", "Bob-Passw0rd1")
	r := call(t, "PUT", "/api/realm/"+b+"/accounts/"+acctB+"/policies/"+polA, env.AdminToken, nil)
	require.Equal(t, http.StatusNotFound, r.Status)
	require.Equal(t, "implicitDeny", evaluate(t, b, env.AdminToken, acctB, "x:Y", "*", nil).Decision)
	r = call(t, "GET", "/api/realm/"+b+"/policies/"+polA, env.AdminToken, nil)
	require.Equal(t, http.StatusNotFound, r.Status)
	r = call(t, "POST", "/api/realm/"+b+"/authz/evaluate", env.AdminToken,
		map[string]any{"accountId": createAccount(t, a, "x@example.com", "Xx-Passw0rd1"), "action": "x:Y", "resource": "*"})
	require.Equal(t, http.StatusNotFound, r.Status, "an account of realm A is unknown in B")
}

// A system account without SystemAdministratorAccess administers nothing.
func TestSystemAccountsNeedThePolicy(t *testing.T) {
	t.Parallel()
	email := uniqueID("plain-") + "@example.com"
	id := createAccount(t, tenant.System, email, "Plain-Passw0rd")
	tok := login(t, tenant.System, email, "Plain-Passw0rd").AccessToken
	require.Equal(t, http.StatusForbidden, call(t, "GET", "/api/core/realms", tok, nil).Status)
	put(t, "/api/realm/system/accounts/"+id+"/policies/"+managedPolicyID(t, tenant.System, "SystemAdministratorAccess"))
	require.Equal(t, http.StatusOK, call(t, "GET", "/api/core/realms", tok, nil).Status)
	del(t, "/api/realm/system/accounts/"+id)
}

// rawJSON embeds a JSON document as is in a request body.
func rawJSON(doc string) json.RawMessage { return json.RawMessage(doc) }

func replaceRealm(doc, realm string) string { return strings.ReplaceAll(doc, "REALM", realm) }

// A realm's policies may name anything, but its tokens act on that realm
// only: a realm administrator who grants itself Action "*" on Resource "*"
// reaches its own realm's settings and nothing of the registry or of other
// realms (found by an exploratory test: the core endpoints once took any
// realm's token and let its policies decide).
func TestRealmTokensNeverReachTheRegistry(t *testing.T) {
	t.Parallel()
	realm, other := newRealm(t), newRealm(t)
	base := "/api/realm/" + realm
	id := createAccount(t, realm, "carol@example.com", "Carol-Passw0rd")
	put(t, base+"/accounts/"+id+"/policies/"+managedPolicyID(t, realm, "RealmAdministratorAccess"))
	carol := login(t, realm, "carol@example.com", "Carol-Passw0rd").AccessToken

	// Carol escalates inside her realm, which is hers to do.
	r := call(t, "POST", base+"/policies", carol, map[string]any{"name": "God",
		"document": rawJSON(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	var god struct{ ID string }
	r.decode(t, &god)
	require.Equal(t, http.StatusNoContent, call(t, "PUT", base+"/accounts/"+id+"/policies/"+god.ID, carol, nil).Status)

	for _, c := range []struct{ method, path string }{
		{"GET", "/api/core/realms"},
		{"POST", "/api/core/realms"},
		{"GET", "/api/core/realms/" + other},
		{"PATCH", "/api/core/realms/" + other},
		{"DELETE", "/api/core/realms/" + other},
		{"PATCH", "/api/core/realms/" + tenant.System},
		{"DELETE", "/api/core/realms/" + realm}, // not even its own: x-iam-realm: system
		{"GET", "/api/realm/" + other + "/accounts"},
		{"GET", "/api/realm/" + tenant.System + "/accounts"},
	} {
		var body any
		switch c.method {
		case "POST":
			body = map[string]any{"id": uniqueID("evil-"), "displayName": "Evil"}
		case "PATCH":
			body = map[string]any{"displayName": "pwned"}
		}
		r := call(t, c.method, c.path, carol, body)
		require.Equal(t, http.StatusUnauthorized, r.Status, "%s %s: %s", c.method, c.path, r.Body)
		require.Equal(t, "invalid_token", r.problem(t).Code)
	}
	require.NotEqual(t, "pwned", getRealm(t, other).DisplayName)
	require.NotEqual(t, "pwned", getRealm(t, tenant.System).DisplayName)
	// Her own realm's settings are hers.
	r = call(t, "PATCH", "/api/core/realms/"+realm, carol, map[string]any{"displayName": "Carol's"})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
}
