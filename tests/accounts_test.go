package tests

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/realmiam/realmiam/shared/tenant"
)

// accountBody is an account as the API returns it.
type accountBody struct {
	ID         string            `json:"id"`
	Email      string            `json:"email"`
	Enabled    bool              `json:"enabled"`
	Attributes map[string]string `json:"attributes"`
	CreatedAt  time.Time         `json:"createdAt"`
	UpdatedAt  time.Time         `json:"updatedAt"`
}

type accountList struct {
	Items      []accountBody `json:"items"`
	NextCursor string        `json:"nextCursor"`
}

func TestAccountCreateAndGet(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	const pw = "Create-Passw0rd"
	r := call(t, "POST", "/api/realm/"+realm+"/accounts", env.AdminToken, map[string]any{
		"email":      "  Alice.Smith@Example.COM \t",
		"password":   pw,
		"attributes": map[string]string{"team": "blue", "urn:x:level": "3"},
	})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	requireNoSecret(t, r, pw)
	requireNoPasswordField(t, r)
	var a accountBody
	r.decode(t, &a)
	require.Equal(t, "/api/realm/"+realm+"/accounts/"+a.ID, r.Header.Get("Location"))
	require.Equal(t, "alice.smith@example.com", a.Email)
	require.True(t, a.Enabled)
	require.Equal(t, map[string]string{"team": "blue", "urn:x:level": "3"}, a.Attributes)
	require.False(t, a.CreatedAt.IsZero())
	require.Equal(t, a.CreatedAt, a.UpdatedAt)

	r = call(t, "GET", "/api/realm/"+realm+"/accounts/"+a.ID, env.AdminToken, nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	requireNoSecret(t, r, pw)
	requireNoPasswordField(t, r)
	var got accountBody
	r.decode(t, &got)
	require.Equal(t, a, got)

	// Stored: normalised email, a hash that is not the password.
	var doc bson.M
	err := tenant.DB(env.Client, realm).Collection("accounts").FindOne(context.Background(), bson.M{"_id": a.ID}).Decode(&doc)
	require.NoError(t, err)
	require.Equal(t, "alice.smith@example.com", doc["email"])
	hash, _ := doc["passwordHash"].(string)
	require.True(t, strings.HasPrefix(hash, "$2"), "bcrypt hash, got %q", hash)
	require.NotContains(t, hash, pw)

	// The same address in another spelling signs in.
	login(t, realm, "ALICE.smith@example.com", pw)

	// Created disabled: exists, cannot sign in.
	r = call(t, "POST", "/api/realm/"+realm+"/accounts", env.AdminToken,
		map[string]any{"email": "off@example.com", "password": pw, "enabled": false})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	var off accountBody
	r.decode(t, &off)
	require.False(t, off.Enabled)
	require.Equal(t, map[string]string{}, off.Attributes)
	requireLoginFails(t, realm, "off@example.com", pw)
}

func TestAccountList(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	emails := []string{"dora@x.test", "Anna@x.test", "bob@x.test", "ann@x.test", "carl@y.test"}
	for _, e := range emails {
		createAccount(t, realm, e, "List-Passw0rd")
	}
	sorted := []string{"ann@x.test", "anna@x.test", "bob@x.test", "carl@y.test", "dora@x.test"}

	for _, tc := range []struct {
		name  string
		query url.Values
		want  []string
	}{
		{"all", nil, sorted},
		{"email exact, any case and spacing", url.Values{"email": {"  BOB@X.test "}}, []string{"bob@x.test"}},
		{"email exact is not a prefix", url.Values{"email": {"ann@x.tes"}}, nil},
		{"email exact, unknown", url.Values{"email": {"zed@x.test"}}, nil},
		{"emailPrefix, any case", url.Values{"emailPrefix": {"ANN"}}, []string{"ann@x.test", "anna@x.test"}},
		{"emailPrefix anchored at the start", url.Values{"emailPrefix": {"x.test"}}, nil},
		{"emailPrefix is literal", url.Values{"emailPrefix": {"b.b"}}, nil},
		{"emailPrefix whole address", url.Values{"emailPrefix": {"carl@y.test"}}, []string{"carl@y.test"}},
		{"email and emailPrefix", url.Values{"email": {"anna@x.test"}, "emailPrefix": {"ann"}}, []string{"anna@x.test"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := call(t, "GET", "/api/realm/"+realm+"/accounts?"+tc.query.Encode(), env.AdminToken, nil)
			require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
			require.NotContains(t, string(r.Body), "passwordHash")
			require.NotContains(t, string(r.Body), "$2a$")
			var l accountList
			r.decode(t, &l)
			require.Equal(t, tc.want, emailsOf(l.Items))
			require.Empty(t, l.NextCursor)
		})
	}

	t.Run("pagination", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name  string
			query url.Values
			limit int
			pages [][]string
		}{
			{"limit 2", nil, 2, [][]string{sorted[:2], sorted[2:4], sorted[4:]}},
			{"limit 5, exact fit", nil, 5, [][]string{sorted}},
			{"limit 1 with prefix", url.Values{"emailPrefix": {"ann"}}, 1, [][]string{sorted[:1], sorted[1:2]}},
		} {
			var pages [][]string
			cursor := ""
			for {
				require.Less(t, len(pages), 10, tc.name)
				q := url.Values{"limit": {strconv.Itoa(tc.limit)}}
				for k, v := range tc.query {
					q[k] = v
				}
				if cursor != "" {
					q.Set("cursor", cursor)
				}
				r := call(t, "GET", "/api/realm/"+realm+"/accounts?"+q.Encode(), env.AdminToken, nil)
				require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
				var l accountList
				r.decode(t, &l)
				pages = append(pages, emailsOf(l.Items))
				if l.NextCursor == "" {
					break
				}
				cursor = l.NextCursor
			}
			require.Equal(t, tc.pages, pages, tc.name)
		}
	})
}

func TestAccountDisable(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	const pw = "Disable-Passw0rd"
	id := createAccount(t, realm, "dis@example.com", pw)
	before := login(t, realm, "dis@example.com", pw)

	r := call(t, "PATCH", accountPath(realm, id), env.AdminToken, map[string]any{"enabled": false})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var a accountBody
	r.decode(t, &a)
	require.False(t, a.Enabled)
	require.False(t, getAccount(t, realm, id).Enabled)

	requireLoginFails(t, realm, "dis@example.com", pw)
	requireRefreshFails(t, realm, before.RefreshToken)

	r = call(t, "PATCH", accountPath(realm, id), env.AdminToken, map[string]any{"enabled": true})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	login(t, realm, "dis@example.com", pw)
	requireRefreshFails(t, realm, before.RefreshToken) // re-enabling does not revive old sessions
}

func TestAccountAttributesMerge(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	r := call(t, "POST", "/api/realm/"+realm+"/accounts", env.AdminToken, map[string]any{
		"email": "attr@example.com", "password": "Attr-Passw0rd",
		"attributes": map[string]string{"a": "1", "b": "2"},
	})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	var created accountBody
	r.decode(t, &created)
	id := created.ID

	for _, step := range []struct {
		name  string
		patch string
		want  map[string]string
	}{
		{"set and overwrite", `{"attributes":{"b":"20","c":"3"}}`, map[string]string{"a": "1", "b": "20", "c": "3"}},
		{"null removes", `{"attributes":{"a":null}}`, map[string]string{"b": "20", "c": "3"}},
		{"null on an absent name", `{"attributes":{"zz":null}}`, map[string]string{"b": "20", "c": "3"}},
		{"empty string is a value", `{"attributes":{"b":""}}`, map[string]string{"b": "", "c": "3"}},
		{"enabled alone keeps attributes", `{"enabled":true}`, map[string]string{"b": "", "c": "3"}},
		{"set and remove together", `{"attributes":{"b":null,"c":null,"d":"4"}}`, map[string]string{"d": "4"}},
	} {
		r := call(t, "PATCH", accountPath(realm, id), env.AdminToken, step.patch)
		require.Equal(t, http.StatusOK, r.Status, "%s: %s", step.name, r.Body)
		var a accountBody
		r.decode(t, &a)
		require.Equal(t, step.want, a.Attributes, step.name)
		require.Equal(t, step.want, getAccount(t, realm, id).Attributes, step.name)
		require.Equal(t, "attr@example.com", a.Email)
		require.Equal(t, created.CreatedAt, a.CreatedAt)
	}

	// At most 50 attributes: the bound counts what is stored plus what is
	// added minus what is removed.
	many := map[string]any{}
	for i := range 49 {
		many[fmt.Sprintf("k%02d", i)] = "v"
	}
	r = call(t, "PATCH", accountPath(realm, id), env.AdminToken, map[string]any{"attributes": many})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	require.Len(t, getAccount(t, realm, id).Attributes, 50)
	before := getAccount(t, realm, id)

	r = call(t, "PATCH", accountPath(realm, id), env.AdminToken, map[string]any{"attributes": map[string]any{"one-more": "x"}})
	requireProblem(t, r, http.StatusBadRequest, "invalid_request", "attributes")
	require.Equal(t, before, getAccount(t, realm, id), "nothing stored")

	r = call(t, "PATCH", accountPath(realm, id), env.AdminToken,
		map[string]any{"attributes": map[string]any{"one-more": "x", "d": nil}})
	require.Equal(t, http.StatusOK, r.Status, "a swap stays within the bound: %s", r.Body)
	require.Len(t, getAccount(t, realm, id).Attributes, 50)
}

func TestAccountDelete(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	const pw = "Delete-Passw0rd"
	id := createAccount(t, realm, "del@example.com", pw)
	keep := createAccount(t, realm, "keep@example.com", pw)
	tok := login(t, realm, "del@example.com", pw)

	r := call(t, "DELETE", accountPath(realm, id), env.AdminToken, nil)
	require.Equal(t, http.StatusNoContent, r.Status, "%s", r.Body)
	require.Empty(t, r.Body)

	for _, c := range []struct {
		method string
		path   string
		body   any
	}{
		{"GET", accountPath(realm, id), nil},
		{"DELETE", accountPath(realm, id), nil},
		{"PATCH", accountPath(realm, id), map[string]any{"enabled": true}},
		{"PUT", accountPath(realm, id) + "/password", map[string]any{"password": "Another-Passw0rd"}},
	} {
		r := call(t, c.method, c.path, env.AdminToken, c.body)
		requireProblem(t, r, http.StatusNotFound, "account_not_found", "")
	}
	requireLoginFails(t, realm, "del@example.com", pw)
	requireRefreshFails(t, realm, tok.RefreshToken)
	require.Equal(t, []string{keep}, idsOf(listAllAccounts(t, realm)), "only the deleted account is gone")
	n, err := tenant.DB(env.Client, realm).Collection("refresh_tokens").CountDocuments(context.Background(), bson.M{"accountId": id})
	require.NoError(t, err)
	require.Zero(t, n, "the account's sessions are deleted with it")

	// The email is free again, for a new account with a new id.
	again := createAccount(t, realm, "del@example.com", pw)
	require.NotEqual(t, id, again)
}

func TestAccountSetPassword(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	const oldPw, newPw = "Old-Passw0rd", "New-Passw0rd"
	id := createAccount(t, realm, "pw@example.com", oldPw)
	first := login(t, realm, "pw@example.com", oldPw)
	second := login(t, realm, "pw@example.com", oldPw)

	// A weak password is refused and changes nothing.
	r := call(t, "PUT", accountPath(realm, id)+"/password", env.AdminToken, map[string]any{"password": "weakpass"})
	requireProblem(t, r, http.StatusBadRequest, "weak_password", "password")
	login(t, realm, "pw@example.com", oldPw)

	r = call(t, "PUT", accountPath(realm, id)+"/password", env.AdminToken, map[string]any{"password": newPw})
	require.Equal(t, http.StatusNoContent, r.Status, "%s", r.Body)
	require.Empty(t, r.Body)

	requireLoginFails(t, realm, "pw@example.com", oldPw)
	login(t, realm, "pw@example.com", newPw)
	requireRefreshFails(t, realm, first.RefreshToken)
	requireRefreshFails(t, realm, second.RefreshToken)

	r = call(t, "PUT", accountPath(realm, "nosuchaccount")+"/password", env.AdminToken, map[string]any{"password": newPw})
	requireProblem(t, r, http.StatusNotFound, "account_not_found", "")
}

func TestLongPasswords(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	// Two 200-character passwords that agree on their first 100 characters,
	// well past bcrypt's 72 bytes.
	shared := "Aa1" + strings.Repeat("x", 97)
	pw1 := shared + strings.Repeat("1", 100)
	pw2 := shared + strings.Repeat("2", 100)
	require.Len(t, pw1, 200)
	createAccount(t, realm, "long@example.com", pw1)
	requireLoginFails(t, realm, "long@example.com", pw2)
	requireLoginFails(t, realm, "long@example.com", pw1[:72])
	login(t, realm, "long@example.com", pw1)

	longest := "Aa1" + strings.Repeat("m", 253)
	createAccount(t, realm, "max@example.com", longest)
	login(t, realm, "max@example.com", longest)
	requireLoginFails(t, realm, "max@example.com", longest[:255])

	// 256 characters of two bytes each.
	wide := "Aa1" + strings.Repeat("é", 253)
	createAccount(t, realm, "wide@example.com", wide)
	login(t, realm, "wide@example.com", wide)

	before := listAllAccounts(t, realm)
	tooLong := longest + "m"
	r := call(t, "POST", "/api/realm/"+realm+"/accounts", env.AdminToken,
		map[string]any{"email": "toolong@example.com", "password": tooLong})
	requireProblem(t, r, http.StatusBadRequest, "invalid_request", "password")
	requireNoSecret(t, r, tooLong)
	require.Equal(t, before, listAllAccounts(t, realm), "nothing stored")

	id := idsOf(before)[0]
	r = call(t, "PUT", accountPath(realm, id)+"/password", env.AdminToken, map[string]any{"password": tooLong})
	requireProblem(t, r, http.StatusBadRequest, "invalid_request", "password")
}

func accountPath(realm, id string) string {
	return "/api/realm/" + realm + "/accounts/" + id
}

func getAccount(t testing.TB, realm, id string) accountBody {
	t.Helper()
	r := call(t, "GET", accountPath(realm, id), env.AdminToken, nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var a accountBody
	r.decode(t, &a)
	return a
}

// listAllAccounts lists every account of realm in email order, page by page.
func listAllAccounts(t testing.TB, realm string) []accountBody {
	t.Helper()
	var all []accountBody
	cursor := ""
	for range 100 {
		q := url.Values{"limit": {"200"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		r := call(t, "GET", "/api/realm/"+realm+"/accounts?"+q.Encode(), env.AdminToken, nil)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		var l accountList
		r.decode(t, &l)
		all = append(all, l.Items...)
		if l.NextCursor == "" {
			return all
		}
		cursor = l.NextCursor
	}
	t.Fatal("listAllAccounts: too many pages")
	return nil
}

func emailsOf(as []accountBody) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Email)
	}
	return out
}

func idsOf(as []accountBody) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.ID)
	}
	return out
}

// requireLoginFails checks that email and password do not sign in to realm.
func requireLoginFails(t testing.TB, realm, email, password string) {
	t.Helper()
	r := call(t, "POST", "/api/realm/"+realm+"/auth/login", "", map[string]any{"email": email, "password": password})
	requireProblem(t, r, http.StatusUnauthorized, "invalid_credentials", "")
	requireNoSecret(t, r, password)
}

// requireRefreshFails checks that refreshToken no longer refreshes.
func requireRefreshFails(t testing.TB, realm, refreshToken string) {
	t.Helper()
	r := call(t, "POST", "/api/realm/"+realm+"/auth/refresh", "", map[string]any{"refreshToken": refreshToken})
	requireProblem(t, r, http.StatusUnauthorized, "invalid_refresh_token", "")
}

// requireNoSecret checks that no part of r carries secret.
func requireNoSecret(t testing.TB, r *resp, secret string) {
	t.Helper()
	require.NotContains(t, string(r.Body), secret)
	for k, vs := range r.Header {
		for _, v := range vs {
			require.NotContains(t, v, secret, "header %s", k)
		}
	}
}

// requireNoPasswordField checks that a JSON object body has no
// password-like member.
func requireNoPasswordField(t testing.TB, r *resp) {
	t.Helper()
	var m map[string]any
	r.decode(t, &m)
	for k := range m {
		require.NotContains(t, strings.ToLower(k), "password", "%s", r.Body)
	}
}
