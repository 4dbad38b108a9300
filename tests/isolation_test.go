package tests

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/realmiam/realmiam/shared/token"
)

// TestRealmIsolation checks that nothing of realm A can be read, changed or
// used through realm B: not an account id, not an email, not a token.
func TestRealmIsolation(t *testing.T) {
	t.Parallel()
	a, b := newRealm(t), newRealm(t)
	const pwA, pwB, pwOnlyA = "Same-Passw0rd-A", "Same-Passw0rd-B", "Only-Passw0rd-A"

	// The same email in both realms: two different accounts.
	sameA := createAccount(t, a, "same@example.com", pwA)
	sameB := createAccount(t, b, "same@example.com", pwB)
	require.NotEqual(t, sameA, sameB)
	onlyA := createAccount(t, a, "only-a@example.com", pwOnlyA)
	requireLoginFails(t, a, "same@example.com", pwB)
	requireLoginFails(t, b, "same@example.com", pwA)
	tokA := login(t, a, "same@example.com", pwA)
	login(t, b, "same@example.com", pwB)

	t.Run("account ids of A are unknown in B", func(t *testing.T) {
		before := getAccount(t, a, onlyA)
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"GET", accountPath(b, onlyA), nil},
			{"PATCH", accountPath(b, onlyA), map[string]any{"enabled": false, "attributes": map[string]any{"x": "y"}}},
			{"PUT", accountPath(b, onlyA) + "/password", map[string]any{"password": "Hijack-Passw0rd"}},
			{"DELETE", accountPath(b, onlyA), nil},
		} {
			r := call(t, c.method, c.path, env.AdminToken, c.body)
			requireProblem(t, r, http.StatusNotFound, "account_not_found", "")
		}
		require.Equal(t, before, getAccount(t, a, onlyA), "A's account is unchanged")
		login(t, a, "only-a@example.com", pwOnlyA)
		requireLoginFails(t, a, "only-a@example.com", "Hijack-Passw0rd")
		// Nothing was created in B on the way.
		require.Equal(t, []string{sameB}, idsOf(listAllAccounts(t, b)))
	})

	t.Run("credentials of A do not sign in to B", func(t *testing.T) {
		requireLoginFails(t, b, "only-a@example.com", pwOnlyA)
	})

	t.Run("a refresh token of A does not refresh in B", func(t *testing.T) {
		fresh := login(t, a, "only-a@example.com", pwOnlyA)
		requireRefreshFails(t, b, fresh.RefreshToken)
		// The refusal in B did not touch it in A.
		r := call(t, "POST", "/api/realm/"+a+"/auth/refresh", "", map[string]any{"refreshToken": fresh.RefreshToken})
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	})

	t.Run("lists in B never show A's accounts", func(t *testing.T) {
		for _, q := range []string{"", "?email=only-a@example.com", "?emailPrefix=only", "?emailPrefix=same"} {
			r := call(t, "GET", "/api/realm/"+b+"/accounts"+q, env.AdminToken, nil)
			require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
			var l accountList
			r.decode(t, &l)
			for _, it := range l.Items {
				require.NotEqual(t, onlyA, it.ID)
				require.NotEqual(t, sameA, it.ID)
			}
		}
		require.Equal(t, []string{"same@example.com"}, emailsOf(listAllAccounts(t, b)))
	})

	t.Run("a realm token is not an administrator's", func(t *testing.T) {
		for _, c := range []struct {
			name, method, path string
			body               any
			status             int
			code               string
		}{
			{"B list", "GET", "/api/realm/" + b + "/accounts", nil, 401, "invalid_token"},
			{"B get", "GET", accountPath(b, sameB), nil, 401, "invalid_token"},
			{"B create", "POST", "/api/realm/" + b + "/accounts", map[string]any{"email": "evil@example.com", "password": "Evil-Passw0rd"}, 401, "invalid_token"},
			{"B delete", "DELETE", accountPath(b, sameB), nil, 401, "invalid_token"},
			{"A list", "GET", "/api/realm/" + a + "/accounts", nil, 403, "access_denied"},
			{"A get self", "GET", accountPath(a, sameA), nil, 403, "access_denied"},
			{"A create", "POST", "/api/realm/" + a + "/accounts", map[string]any{"email": "evil@example.com", "password": "Evil-Passw0rd"}, 403, "access_denied"},
			{"A delete other", "DELETE", accountPath(a, onlyA), nil, 403, "access_denied"},
			{"core list", "GET", "/api/core/realms", nil, 401, "invalid_token"},
			{"core get own realm", "GET", "/api/core/realms/" + a, nil, 403, "access_denied"},
			{"core create", "POST", "/api/core/realms", map[string]any{"id": uniqueID("evil-")}, 401, "invalid_token"},
			{"core delete B", "DELETE", "/api/core/realms/" + b, nil, 401, "invalid_token"},
			{"core delete own realm", "DELETE", "/api/core/realms/" + a, nil, 401, "invalid_token"},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := call(t, c.method, c.path, tokA.AccessToken, c.body)
				requireProblem(t, r, c.status, c.code, "")
				if c.status == http.StatusUnauthorized {
					require.Equal(t, `Bearer error="invalid_token"`, r.Header.Get("WWW-Authenticate"))
				}
			})
		}
		require.Equal(t, []string{sameB}, idsOf(listAllAccounts(t, b)), "B unchanged")
		require.ElementsMatch(t, []string{sameA, onlyA}, idsOf(listAllAccounts(t, a)), "A unchanged")
		getRealm(t, b)
	})

	t.Run("each realm has its own signing keys", func(t *testing.T) {
		kids := func(realm string) []string {
			r := call(t, "GET", "/api/realm/"+realm+"/.well-known/jwks.json", "", nil)
			require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
			var set token.JWKS
			r.decode(t, &set)
			require.NotEmpty(t, set.Keys)
			var out []string
			for _, k := range set.Keys {
				out = append(out, k.Kid)
			}
			return out
		}
		ka, kb := kids(a), kids(b)
		for _, k := range ka {
			require.NotContains(t, kb, k)
		}
	})
}
