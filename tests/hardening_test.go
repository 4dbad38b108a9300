package tests

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/realmiam/realmiam/shared/tenant"
	"github.com/realmiam/realmiam/shared/token"
)

// These tests pin down what a black-box review of the first version broke.

// adminID is the account id of the bootstrap administrator.
func adminID(t *testing.T) string {
	t.Helper()
	c := jwt.MapClaims{}
	_, _, err := jwt.NewParser().ParseUnverified(env.AdminToken, c)
	require.NoError(t, err)
	sub, _ := c.GetSubject()
	return sub
}

// A disabled or deleted administrator's access token stops working at once,
// not when it expires.
func TestDisabledOrDeletedAdministratorLosesAccessAtOnce(t *testing.T) {
	t.Parallel()
	email := uniqueID("adm-") + "@example.com"
	id := createAccount(t, tenant.System, email, "Second-Adm1n-Pass")
	put(t, "/api/realm/system/accounts/"+id+"/policies/"+managedPolicyID(t, tenant.System, "SystemAdministratorAccess"))
	bob := login(t, tenant.System, email, "Second-Adm1n-Pass").AccessToken
	require.Equal(t, http.StatusOK, call(t, "GET", "/api/core/realms?limit=1", bob, nil).Status)

	r := call(t, "PATCH", "/api/realm/system/accounts/"+id, env.AdminToken, map[string]any{"enabled": false})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	r = call(t, "GET", "/api/core/realms?limit=1", bob, nil)
	require.Equal(t, http.StatusUnauthorized, r.Status)
	require.Equal(t, "invalid_token", r.problem(t).Code)
	r = call(t, "PATCH", "/api/realm/system/accounts/"+id, bob, map[string]any{"enabled": true})
	require.Equal(t, http.StatusUnauthorized, r.Status, "a disabled administrator cannot re-enable itself")

	require.Equal(t, http.StatusNoContent, call(t, "DELETE", "/api/realm/system/accounts/"+id, env.AdminToken, nil).Status)
	r = call(t, "POST", "/api/realm/system/accounts", bob, map[string]any{"email": "backdoor@example.com", "password": "Backdoor-Pass-1"})
	require.Equal(t, http.StatusUnauthorized, r.Status)
	r = call(t, "GET", "/api/realm/system/accounts?email=backdoor@example.com", env.AdminToken, nil)
	require.Equal(t, http.StatusOK, r.Status)
	require.NotContains(t, string(r.Body), "backdoor")
}

// Access tokens are accepted only with the audience sign-in gives them.
func TestAccessTokenAudienceIsChecked(t *testing.T) {
	t.Parallel()
	for _, aud := range []jwt.ClaimStrings{{"evil"}, nil, {"system-x"}} {
		raw, err := env.Deps.Tokens.Sign(context.Background(), tenant.System, token.Claims{
			RegisteredClaims: jwt.RegisteredClaims{Subject: adminID(t), Audience: aud,
				ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))},
			TokenUse: "access",
		})
		require.NoError(t, err)
		r := call(t, "GET", "/api/core/realms", raw, nil)
		require.Equal(t, http.StatusUnauthorized, r.Status, "aud %v", aud)
		require.Equal(t, "invalid_token", r.problem(t).Code)
	}
}

// Two Authorization headers are not a credential.
func TestDuplicateAuthorizationHeaders(t *testing.T) {
	t.Parallel()
	req, err := http.NewRequest("GET", env.URL+"/api/core/realms", nil)
	require.NoError(t, err)
	req.Header.Add("Authorization", "Bearer "+env.AdminToken)
	req.Header.Add("Authorization", "Bearer garbage")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	require.NotEmpty(t, res.Header.Get("WWW-Authenticate"))
}

// The system realm always keeps an enabled account holding
// SystemAdministratorAccess. This test changes
// the bootstrap administrator, so it does not run in parallel (Go runs it
// before the parallel tests start).
func TestLastAdministratorIsKept(t *testing.T) {
	root := adminID(t)
	rootPath := "/api/realm/system/accounts/" + root
	admin := managedPolicyID(t, tenant.System, "SystemAdministratorAccess")
	other := createAccount(t, tenant.System, uniqueID("spare-")+"@example.com", "Spare-Adm1n-Pass")
	otherPath := "/api/realm/system/accounts/" + other
	put(t, otherPath+"/policies/"+admin)
	defer func() { call(t, "DELETE", otherPath, env.AdminToken, nil) }() // the token of the end
	// With the other account disabled, root is the last enabled one.
	require.Equal(t, http.StatusOK, call(t, "PATCH", otherPath, env.AdminToken, map[string]any{"enabled": false}).Status)
	for _, r := range []*resp{
		call(t, "PATCH", rootPath, env.AdminToken, map[string]any{"enabled": false}),
		call(t, "DELETE", rootPath, env.AdminToken, nil),
		call(t, "DELETE", rootPath+"/policies/"+admin, env.AdminToken, nil),
	} {
		require.Equal(t, http.StatusConflict, r.Status, "%s", r.Body)
		require.Equal(t, "last_administrator", r.problem(t).Code)
	}
	// With another enabled administrator, root may be disabled, and comes back.
	require.Equal(t, http.StatusOK, call(t, "PATCH", otherPath, env.AdminToken, map[string]any{"enabled": true}).Status)
	time.Sleep(time.Second) // disabling signed the spare out; tokens of that second are refused
	spare := login(t, tenant.System, mustEmail(t, other), "Spare-Adm1n-Pass").AccessToken
	require.Equal(t, http.StatusOK, call(t, "PATCH", rootPath, spare, map[string]any{"enabled": false}).Status)
	r := call(t, "PATCH", otherPath, spare, map[string]any{"enabled": false})
	require.Equal(t, http.StatusConflict, r.Status, "the spare is now the last one")
	require.Equal(t, http.StatusOK, call(t, "PATCH", rootPath, spare, map[string]any{"enabled": true}).Status)
	// Disabling signed root out everywhere: its old token is refused, and
	// it signs in again (before the parallel tests that share its token).
	r = call(t, "GET", "/api/core/realms?limit=1", env.AdminToken, nil)
	require.Equal(t, http.StatusUnauthorized, r.Status)
	time.Sleep(time.Second)
	env.AdminToken = login(t, tenant.System, adminEmail, adminPassword).AccessToken
	// Realms other than system have no such rule.
	realm := newRealm(t)
	only := createAccount(t, realm, "only@example.com", "Only-Passw0rd")
	require.Equal(t, http.StatusNoContent, call(t, "DELETE", "/api/realm/"+realm+"/accounts/"+only, env.AdminToken, nil).Status)
}

// Two requests that each take SystemAdministratorAccess from one of the
// last two holders cannot both pass the last-administrator check (an
// exploratory test saw both succeed in 4 rounds of 6, leaving nobody). Not
// parallel: it disables the bootstrap administrator for a while.
func TestLastAdministratorRace(t *testing.T) {
	admin := managedPolicyID(t, tenant.System, "SystemAdministratorAccess")
	var paths, toks [2]string
	for i := range paths {
		email := uniqueID("racer-") + "@example.com"
		id := createAccount(t, tenant.System, email, "Racer-Adm1n-Pass")
		paths[i] = "/api/realm/system/accounts/" + id
		put(t, paths[i]+"/policies/"+admin)
		toks[i] = login(t, tenant.System, email, "Racer-Adm1n-Pass").AccessToken
	}
	rootPath := "/api/realm/system/accounts/" + adminID(t)
	require.Equal(t, http.StatusOK, call(t, "PATCH", rootPath, toks[0], map[string]any{"enabled": false}).Status)
	defer func() {
		for _, tok := range toks { // whichever still administers
			call(t, "PATCH", rootPath, tok, map[string]any{"enabled": true})
		}
		time.Sleep(time.Second) // tokens of the second root was re-enabled in are refused
		env.AdminToken = login(t, tenant.System, adminEmail, adminPassword).AccessToken
		for _, p := range paths {
			call(t, "DELETE", p, env.AdminToken, nil)
		}
	}()

	for round := range 8 {
		var wg sync.WaitGroup
		var status [2]int
		for i := range paths {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := do("DELETE", paths[i]+"/policies/"+admin, toks[i], "", nil)
				if err == nil {
					status[i] = r.Status
				}
			}()
		}
		wg.Wait()
		require.ElementsMatch(t, []int{http.StatusNoContent, http.StatusConflict}, status[:], "round %d: %v", round, status)
		survivor := 0 // the one whose detach was refused
		if status[1] == http.StatusConflict {
			survivor = 1
		}
		// The survivor hands the policy back to the other.
		r := call(t, "PUT", paths[1-survivor]+"/policies/"+admin, toks[survivor], nil)
		require.Equal(t, http.StatusNoContent, r.Status, "%s", r.Body)
	}
}

func mustEmail(t *testing.T, id string) string {
	t.Helper()
	var a struct{ Email string }
	call(t, "GET", "/api/realm/system/accounts/"+id, env.AdminToken, nil).decode(t, &a)
	return a.Email
}

// Concurrent attribute updates cannot together pass the bound of 50.
func TestAttributeBoundHoldsUnderConcurrency(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	id := createAccount(t, realm, "attrs@example.com", "Attrs-Passw0rd")
	path := "/api/realm/" + realm + "/accounts/" + id
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	for i := range statuses {
		wg.Go(func() {
			attrs := map[string]any{}
			for j := range 40 {
				attrs[fmt.Sprintf("w%d_%d", i, j)] = "v"
			}
			statuses[i] = call(t, "PATCH", path, env.AdminToken, map[string]any{"attributes": attrs}).Status
		})
	}
	wg.Wait()
	var a struct{ Attributes map[string]string }
	call(t, "GET", path, env.AdminToken, nil).decode(t, &a)
	require.LessOrEqual(t, len(a.Attributes), 50, "statuses %v", statuses)
	require.Contains(t, statuses, http.StatusOK)

	r := call(t, "PATCH", path, env.AdminToken, map[string]any{"attributes": map[string]any{"w0_0": nil, "w1_0": nil, "extra": "v"}})
	require.Equal(t, http.StatusOK, r.Status, "a change that stays within the bound is fine: %s", r.Body)
}

// Only ASCII letters are case-folded: Unicode folding would merge distinct
// addresses (the Kelvin sign K folds to k). Invisible characters are refused.
func TestUnicodeEmailsStayDistinct(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	createAccount(t, realm, "kate@example.com", "Kate-Passw0rd")
	r := call(t, "POST", "/api/realm/"+realm+"/accounts", env.AdminToken,
		map[string]any{"email": "\u212aATE@example.com", "password": "Kelvin-Passw0rd"})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	var a struct{ Email string }
	r.decode(t, &a)
	require.Equal(t, "\u212aate@example.com", a.Email)
	login(t, realm, "KATE@example.com", "Kate-Passw0rd")
	r = call(t, "POST", "/api/realm/"+realm+"/auth/login", "", map[string]any{"email": "\u212aate@example.com", "password": "Kate-Passw0rd"})
	require.Equal(t, http.StatusUnauthorized, r.Status)

	for _, bad := range []string{"ka\u200bte@example.com", "ka te@example.com", "kate@exa\u0000mple.com"} {
		r := call(t, "POST", "/api/realm/"+realm+"/accounts", env.AdminToken, map[string]any{"email": bad, "password": "Other-Passw0rd"})
		require.Equal(t, http.StatusBadRequest, r.Status, "%q", bad)
		require.Equal(t, "email", r.problem(t).Errors[0].Field)
	}
}

// API responses are not cached and not sniffed; the JWKS is cacheable.
func TestResponseHeaders(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	r := call(t, "GET", "/api/realm/"+realm+"/accounts", env.AdminToken, nil)
	require.Equal(t, "no-store", r.Header.Get("Cache-Control"))
	require.Equal(t, "nosniff", r.Header.Get("X-Content-Type-Options"))
	require.NotEmpty(t, r.Header.Get("X-Request-Id"))
	r = call(t, "GET", "/api/realm/nope-nope/accounts", env.AdminToken, nil)
	require.Equal(t, "no-store", r.Header.Get("Cache-Control"))
	r = call(t, "GET", "/api/realm/"+realm+"/.well-known/jwks.json", "", nil)
	require.Equal(t, "public, max-age=300", r.Header.Get("Cache-Control"))
}

// Unclean paths get problem+json from the API, not a redirect.
func TestUncleanPathsAreNotRedirected(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	for _, p := range []string{"/api/realm/" + realm + "//accounts", "/api/realm/../core/realms", "//api/core/realms"} {
		r, err := do("GET", p, env.AdminToken, "", nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusNotFound, r.Status, p)
		require.Equal(t, "application/problem+json", r.Header.Get("Content-Type"), p)
	}
}

// A small body with many errors gets a bounded answer.
func TestErrorListIsBounded(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	var b strings.Builder
	b.WriteString(`{"email":"a@b.c","password":"x"`)
	for i := range 100 {
		fmt.Fprintf(&b, `,"f%d":1`, i)
	}
	b.WriteString("}")
	r := call(t, "POST", "/api/realm/"+realm+"/auth/login", "", b.String())
	require.Equal(t, http.StatusBadRequest, r.Status)
	p := r.problem(t)
	require.Len(t, p.Errors, 20)
	require.Contains(t, p.Detail, "(and 80 more)")
}

// What the schema lets through but does not fit the field (9.0 for an
// integer) is a 400 naming the field, and changes nothing.
func TestIntegerWrittenAsFloat(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	for _, v := range []string{"900.5", "900.0", "9e2"} {
		r := call(t, "PATCH", "/api/core/realms/"+realm, env.AdminToken, `{"settings":{"accessTokenTtlSeconds":`+v+`}}`)
		require.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", v, r.Body)
		require.Equal(t, "settings.accessTokenTtlSeconds", r.problem(t).Errors[0].Field)
	}
	var got struct {
		Settings struct {
			AccessTokenTTLSeconds int `json:"accessTokenTtlSeconds"`
		}
	}
	call(t, "GET", "/api/core/realms/"+realm, env.AdminToken, nil).decode(t, &got)
	require.Equal(t, 3600, got.Settings.AccessTokenTTLSeconds)
}

// Setting a password or disabling an account signs it out everywhere: its
// refresh tokens and its access tokens issued before are refused (401 where
// they were merely not allowed, 403, before).
func TestPasswordSetSignsOutEverywhere(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	id := createAccount(t, realm, "zoe@example.com", "Zoe-Passw0rd-1")
	before := login(t, realm, "zoe@example.com", "Zoe-Passw0rd-1")
	accounts := "/api/realm/" + realm + "/accounts"
	require.Equal(t, http.StatusForbidden, call(t, "GET", accounts, before.AccessToken, nil).Status)

	r := call(t, "PUT", accounts+"/"+id+"/password", env.AdminToken, map[string]any{"password": "Zoe-Passw0rd-2"})
	require.Equal(t, http.StatusNoContent, r.Status, "%s", r.Body)
	r = call(t, "GET", accounts, before.AccessToken, nil)
	require.Equal(t, http.StatusUnauthorized, r.Status)
	require.Equal(t, "invalid_token", r.problem(t).Code)
	r = call(t, "POST", "/api/realm/"+realm+"/auth/refresh", "", map[string]any{"refreshToken": before.RefreshToken})
	require.Equal(t, http.StatusUnauthorized, r.Status)

	time.Sleep(time.Second) // tokens of the sign-out's second are refused too
	after := login(t, realm, "zoe@example.com", "Zoe-Passw0rd-2")
	require.Equal(t, http.StatusForbidden, call(t, "GET", accounts, after.AccessToken, nil).Status)
}
