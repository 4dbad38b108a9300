package tests

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/realmiam/realmiam/shared/problem"
	"github.com/realmiam/realmiam/shared/tenant"
)

// realmBody is a realm as the API returns it.
type realmBody struct {
	ID          string          `json:"id"`
	DisplayName string          `json:"displayName"`
	CreatedAt   time.Time       `json:"createdAt"`
	UpdatedAt   time.Time       `json:"updatedAt"`
	Settings    tenant.Settings `json:"settings"`
}

type realmList struct {
	Items      []realmBody `json:"items"`
	NextCursor string      `json:"nextCursor"`
}

func TestRealmLifecycle(t *testing.T) {
	t.Parallel()
	id := uniqueID("lc-")
	settings := map[string]any{
		"accessTokenTtlSeconds":  900,
		"refreshTokenTtlSeconds": 7200,
		"passwordPolicy": map[string]any{
			"minLength": 10, "requireUppercase": false, "requireLowercase": true,
			"requireDigit": true, "requireSymbol": true,
		},
	}
	want := tenant.Settings{
		AccessTokenTTLSeconds:  900,
		RefreshTokenTTLSeconds: 7200,
	}
	want.PasswordPolicy.MinLength = 10
	want.PasswordPolicy.RequireLowercase = true
	want.PasswordPolicy.RequireDigit = true
	want.PasswordPolicy.RequireSymbol = true

	// Create: the response echoes what was sent.
	r := call(t, "POST", "/api/core/realms", env.AdminToken,
		map[string]any{"id": id, "displayName": "Life Cycle", "settings": settings})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	require.Equal(t, "/api/core/realms/"+id, r.Header.Get("Location"))
	var created realmBody
	r.decode(t, &created)
	require.Equal(t, id, created.ID)
	require.Equal(t, "Life Cycle", created.DisplayName)
	require.Equal(t, want, created.Settings)
	require.False(t, created.CreatedAt.IsZero())
	require.Equal(t, created.CreatedAt, created.UpdatedAt)
	require.Contains(t, databaseNames(t), tenant.DBName(id), "creating a realm creates its database")

	// Get returns the same document.
	require.Equal(t, created, getRealm(t, id))

	// A second realm with the same id is refused and the first is untouched.
	r = call(t, "POST", "/api/core/realms", env.AdminToken,
		map[string]any{"id": id, "displayName": "Impostor"})
	requireProblem(t, r, http.StatusConflict, "realm_exists", "id")
	require.Equal(t, created, getRealm(t, id))

	// An account in the realm obeys its policy, and can sign in.
	const pw = "lifecycle-pw-1!"
	createAccount(t, id, "life@example.com", pw)
	login(t, id, "life@example.com", pw)

	// Delete, then everything about the realm is gone.
	r = call(t, "DELETE", "/api/core/realms/"+id, env.AdminToken, nil)
	require.Equal(t, http.StatusNoContent, r.Status, "%s", r.Body)
	require.Empty(t, r.Body)

	r = call(t, "GET", "/api/core/realms/"+id, env.AdminToken, nil)
	requireProblem(t, r, http.StatusNotFound, "unknown_realm", "")
	for _, c := range []struct{ method, path, token string }{
		{"GET", "/api/realm/" + id + "/accounts", env.AdminToken},
		{"POST", "/api/realm/" + id + "/accounts", env.AdminToken},
		{"GET", "/api/realm/" + id + "/accounts/abc123", env.AdminToken},
		{"PATCH", "/api/realm/" + id + "/accounts/abc123", env.AdminToken},
		{"DELETE", "/api/realm/" + id + "/accounts/abc123", env.AdminToken},
		{"POST", "/api/realm/" + id + "/auth/login", ""},
		{"GET", "/api/realm/" + id + "/.well-known/jwks.json", ""},
	} {
		var body any
		switch c.method {
		case "POST":
			body = map[string]any{"email": "life@example.com", "password": pw}
		case "PATCH":
			body = map[string]any{"enabled": false}
		}
		r := call(t, c.method, c.path, c.token, body)
		requireProblem(t, r, http.StatusNotFound, "unknown_realm", "")
	}
	require.NotContains(t, databaseNames(t), tenant.DBName(id), "deleting a realm drops its database")

	// Deleting or changing it again: 404.
	r = call(t, "DELETE", "/api/core/realms/"+id, env.AdminToken, nil)
	requireProblem(t, r, http.StatusNotFound, "unknown_realm", "")
	r = call(t, "PATCH", "/api/core/realms/"+id, env.AdminToken, map[string]any{"displayName": "x"})
	requireProblem(t, r, http.StatusNotFound, "unknown_realm", "")

	// The id is free again, and the new realm starts empty with defaults.
	r = call(t, "POST", "/api/core/realms", env.AdminToken, map[string]any{"id": id})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	var again realmBody
	r.decode(t, &again)
	require.Equal(t, id, again.DisplayName, "displayName defaults to the id")
	require.Equal(t, tenant.DefaultSettings(), again.Settings)
	require.Empty(t, listAllAccounts(t, id))
	r = call(t, "POST", "/api/realm/"+id+"/auth/login", "", map[string]any{"email": "life@example.com", "password": pw})
	requireProblem(t, r, http.StatusUnauthorized, "invalid_credentials", "")
	require.Contains(t, databaseNames(t), tenant.DBName(id))
}

func TestCreateRealmGeneratedID(t *testing.T) {
	t.Parallel()
	r := call(t, "POST", "/api/core/realms", env.AdminToken, map[string]any{})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	var created realmBody
	r.decode(t, &created)
	require.True(t, tenant.ValidID(created.ID), "generated id %q", created.ID)
	require.Equal(t, "/api/core/realms/"+created.ID, r.Header.Get("Location"))
	require.Equal(t, created.ID, created.DisplayName)
	require.Equal(t, tenant.DefaultSettings(), created.Settings)
	require.Equal(t, created, getRealm(t, created.ID))

	// Two generated ids differ.
	r = call(t, "POST", "/api/core/realms", env.AdminToken, map[string]any{"displayName": "Other"})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	var other realmBody
	r.decode(t, &other)
	require.NotEqual(t, created.ID, other.ID)
	require.Equal(t, "Other", other.DisplayName)
}

func TestCreateRealmPartialSettings(t *testing.T) {
	t.Parallel()
	id := uniqueID("ps-")
	r := call(t, "POST", "/api/core/realms", env.AdminToken, map[string]any{
		"id":       id,
		"settings": map[string]any{"passwordPolicy": map[string]any{"requireSymbol": true}},
	})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	want := tenant.DefaultSettings()
	want.PasswordPolicy.RequireSymbol = true
	var created realmBody
	r.decode(t, &created)
	require.Equal(t, want, created.Settings, "unset settings take their defaults")
}

func TestCreateRealmLongestID(t *testing.T) {
	t.Parallel()
	id := uniqueID("max-")
	id += strings.Repeat("9", 36-len(id))
	r := call(t, "POST", "/api/core/realms", env.AdminToken, map[string]any{"id": id})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	createAccount(t, id, "longest@example.com", "Longest-1d")
	require.Len(t, listAllAccounts(t, id), 1)
	require.LessOrEqual(t, len(tenant.DBName(id)), 38)
}

func TestRealmInvalidIDs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, id string }{
		{"upper case", "Upper-case"},
		{"too short", "ab"},
		{"too long", "a" + strings.Repeat("b", 36)},
		{"leading dash", "-abc"},
		{"trailing dash", "abc-"},
		{"underscore", "ab_cd"},
		{"dot", "ab.cd"},
		{"space", "ab cd"},
		{"non-ascii", "abé"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := call(t, "POST", "/api/core/realms", env.AdminToken, map[string]any{"id": tc.id})
			requireProblem(t, r, http.StatusBadRequest, "invalid_request", "id")
			n, err := env.Deps.Core.Collection("realms").CountDocuments(context.Background(), bson.M{"_id": tc.id})
			require.NoError(t, err)
			require.Zero(t, n, "nothing stored")

			r = call(t, "GET", "/api/core/realms/"+url.PathEscape(tc.id), env.AdminToken, nil)
			requireProblem(t, r, http.StatusBadRequest, "invalid_request", "realmId")
		})
	}
}

func TestDeleteSystemRealm(t *testing.T) {
	t.Parallel()
	r := call(t, "DELETE", "/api/core/realms/"+tenant.System, env.AdminToken, nil)
	requireProblem(t, r, http.StatusConflict, "system_realm_protected", "")
	require.Equal(t, tenant.System, getRealm(t, tenant.System).ID)
	require.Contains(t, databaseNames(t), tenant.DBName(tenant.System))
	login(t, tenant.System, adminEmail, adminPassword)
}

func TestListRealmsPagination(t *testing.T) {
	t.Parallel()
	prefix := uniqueID("pg-") + "-"
	var mine []string
	for _, suffix := range []string{"e", "b", "d", "a", "c"} {
		id := prefix + suffix
		r := call(t, "POST", "/api/core/realms", env.AdminToken, map[string]any{"id": id})
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
		mine = append(mine, id)
	}
	slices.Sort(mine)

	for _, limit := range []int{1, 2, 3} {
		t.Run("limit "+strconv.Itoa(limit), func(t *testing.T) {
			t.Parallel()
			var seen, found []string
			cursor := ""
			for page := 0; ; page++ {
				require.Less(t, page, 1000, "the walk does not end")
				q := url.Values{"limit": {strconv.Itoa(limit)}}
				if cursor != "" {
					q.Set("cursor", cursor)
				}
				r := call(t, "GET", "/api/core/realms?"+q.Encode(), env.AdminToken, nil)
				require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
				var l realmList
				r.decode(t, &l)
				require.LessOrEqual(t, len(l.Items), limit)
				for _, it := range l.Items {
					if len(seen) > 0 {
						require.Less(t, seen[len(seen)-1], it.ID, "ordered by id, no duplicates")
					}
					seen = append(seen, it.ID)
					if strings.HasPrefix(it.ID, prefix) {
						found = append(found, it.ID)
					}
				}
				if l.NextCursor == "" {
					break
				}
				require.Len(t, l.Items, limit, "a page with a next page is full")
				cursor = l.NextCursor
			}
			require.Equal(t, mine, found, "every realm of this test exactly once, in order")
			require.Contains(t, seen, tenant.System)
		})
	}
}

func TestUpdateRealm(t *testing.T) {
	t.Parallel()
	id := newRealm(t)
	before := getRealm(t, id)

	r := call(t, "PATCH", "/api/core/realms/"+id, env.AdminToken, map[string]any{
		"displayName": "Renamed",
		"settings":    map[string]any{"passwordPolicy": map[string]any{"minLength": 12}},
	})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var after realmBody
	r.decode(t, &after)
	want := before
	want.DisplayName = "Renamed"
	want.Settings.PasswordPolicy.MinLength = 12
	want.UpdatedAt = after.UpdatedAt
	require.Equal(t, want, after, "only the fields sent change")
	require.False(t, after.UpdatedAt.Before(before.UpdatedAt))
	require.Equal(t, after, getRealm(t, id))

	// A settings-only change keeps the display name.
	r = call(t, "PATCH", "/api/core/realms/"+id, env.AdminToken,
		map[string]any{"settings": map[string]any{"accessTokenTtlSeconds": 600}})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var again realmBody
	r.decode(t, &again)
	require.Equal(t, "Renamed", again.DisplayName)
	require.Equal(t, 600, again.Settings.AccessTokenTTLSeconds)
	require.Equal(t, 12, again.Settings.PasswordPolicy.MinLength)
	require.Equal(t, before.Settings.RefreshTokenTTLSeconds, again.Settings.RefreshTokenTTLSeconds)
}

func TestUpdateRealmInvalid(t *testing.T) {
	t.Parallel()
	id := newRealm(t)
	before := getRealm(t, id)
	for _, tc := range []struct {
		name, body, field string
	}{
		{"empty object", `{}`, "body"},
		{"id is immutable", `{"id":"other-id"}`, "id"},
		{"ttl below minimum", `{"settings":{"accessTokenTtlSeconds":10}}`, "settings.accessTokenTtlSeconds"},
		{"refresh ttl wrong type", `{"settings":{"refreshTokenTtlSeconds":"long"}}`, "settings.refreshTokenTtlSeconds"},
		{"min length below 6", `{"settings":{"passwordPolicy":{"minLength":5}}}`, "settings.passwordPolicy.minLength"},
		{"unknown policy rule", `{"settings":{"passwordPolicy":{"requireEmoji":true}}}`, "settings.passwordPolicy.requireEmoji"},
		{"display name too long", `{"displayName":"` + strings.Repeat("n", 201) + `"}`, "displayName"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, "PATCH", "/api/core/realms/"+id, env.AdminToken, tc.body)
			requireProblem(t, r, http.StatusBadRequest, "invalid_request", tc.field)
			require.Equal(t, before, getRealm(t, id), "nothing stored")
		})
	}
}

func TestUpdateRealmPasswordPolicy(t *testing.T) {
	t.Parallel()
	id := newRealm(t)
	r := call(t, "PATCH", "/api/core/realms/"+id, env.AdminToken, map[string]any{
		"settings": map[string]any{"passwordPolicy": map[string]any{"minLength": 12, "requireSymbol": true}},
	})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)

	path := "/api/realm/" + id + "/accounts"
	r = call(t, "POST", path, env.AdminToken, map[string]any{"email": "p@example.com", "password": "Passw0rdxyz"})
	p := requireProblem(t, r, http.StatusBadRequest, "weak_password", "password")
	require.Contains(t, p.Errors[0].Reason, "at least 12 characters")
	require.Contains(t, p.Errors[0].Reason, "a symbol")
	require.Empty(t, listAllAccounts(t, id))

	createAccount(t, id, "p@example.com", "Passw0rd!xyz")

	// Relaxing the policy applies at once too.
	r = call(t, "PATCH", "/api/core/realms/"+id, env.AdminToken, map[string]any{
		"settings": map[string]any{"passwordPolicy": map[string]any{
			"minLength": 6, "requireSymbol": false, "requireUppercase": false, "requireDigit": false,
		}},
	})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	createAccount(t, id, "q@example.com", "simple")
}

// getRealm reads realm id and fails the test unless it exists.
func getRealm(t testing.TB, id string) realmBody {
	t.Helper()
	r := call(t, "GET", "/api/core/realms/"+id, env.AdminToken, nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var b realmBody
	r.decode(t, &b)
	return b
}

// databaseNames lists the databases of the test store.
func databaseNames(t testing.TB) []string {
	t.Helper()
	names, err := env.Client.ListDatabaseNames(context.Background(), bson.M{})
	require.NoError(t, err)
	return names
}

// requireProblem checks r is problem+json with status and code and, when
// field is not empty, that errors[] names field.
func requireProblem(t testing.TB, r *resp, status int, code, field string) problem.Body {
	t.Helper()
	require.Equal(t, status, r.Status, "%s", r.Body)
	p := r.problem(t)
	require.Equal(t, code, p.Code, "%s", r.Body)
	if field != "" {
		var fields []string
		for _, e := range p.Errors {
			fields = append(fields, e.Field)
		}
		require.Contains(t, fields, field, "%s", r.Body)
	}
	return p
}

// A display name is text for people: control characters are refused.
func TestRealmDisplayNameRefusesControlCharacters(t *testing.T) {
	t.Parallel()
	id := newRealm(t)
	for _, name := range []string{"a\u0000b", "line\nbreak", "bell\u0007", "del\u007f", "nel\u0085", "csi\u009b"} {
		requireProblem(t, call(t, "PATCH", "/api/core/realms/"+id, env.AdminToken, map[string]any{"displayName": name}),
			http.StatusBadRequest, "invalid_request", "displayName")
		requireProblem(t, call(t, "POST", "/api/core/realms", env.AdminToken, map[string]any{"id": uniqueID("ctl-"), "displayName": name}),
			http.StatusBadRequest, "invalid_request", "displayName")
	}
	require.Equal(t, id, getRealm(t, id).DisplayName, "unchanged")
	r := call(t, "PATCH", "/api/core/realms/"+id, env.AdminToken, map[string]any{"displayName": "Ünïcødé <Corp> & Co. ☃"})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
}
