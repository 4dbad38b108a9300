package tests

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/realmiam/realmiam/shared/tenant"
)

// entity is one kind of named entity of a realm. Groups, roles and policies
// share their CRUD, list and bad-input behaviour; the tests of each run the
// same checks through it.
type entity struct {
	coll string // collection and path segment
	noun string // in error codes: group_not_found
	// body is a valid create body for name.
	body func(name string) map[string]any
}

var (
	groupEntity  = entity{coll: "groups", noun: "group", body: func(n string) map[string]any { return map[string]any{"name": n} }}
	roleEntity   = entity{coll: "roles", noun: "role", body: func(n string) map[string]any { return map[string]any{"name": n} }}
	policyEntity = entity{coll: "policies", noun: "policy", body: func(n string) map[string]any {
		return map[string]any{"name": n, "document": json.RawMessage(allowAllDoc)}
	}}
)

// allowAllDoc is a valid policy document.
const allowAllDoc = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:Get*","Resource":"*"}]}`

// namedBody is a group, role or policy as the API returns it.
type namedBody struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Document    json.RawMessage `json:"document,omitempty"`
	Managed     *bool           `json:"managed,omitempty"`
	CreatedAt   time.Time       `json:"createdAt"`
	UpdatedAt   time.Time       `json:"updatedAt"`
}

type namedList struct {
	Items      []namedBody `json:"items"`
	NextCursor string      `json:"nextCursor"`
}

func (e entity) path(realm string) string { return "/api/realm/" + realm + "/" + e.coll }

func (e entity) itemPath(realm, id string) string { return e.path(realm) + "/" + id }

// create creates name and returns it.
func (e entity) create(t testing.TB, realm, name string) namedBody {
	t.Helper()
	r := call(t, "POST", e.path(realm), env.AdminToken, e.body(name))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	var b namedBody
	r.decode(t, &b)
	return b
}

func (e entity) get(t testing.TB, realm, id string) namedBody {
	t.Helper()
	r := call(t, "GET", e.itemPath(realm, id), env.AdminToken, nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var b namedBody
	r.decode(t, &b)
	return b
}

// listAll lists every item matching query, page by page.
func (e entity) listAll(t testing.TB, realm string, query url.Values) []namedBody {
	t.Helper()
	var all []namedBody
	cursor := ""
	for range 100 {
		q := url.Values{"limit": {"200"}}
		for k, v := range query {
			q[k] = v
		}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		r := call(t, "GET", e.path(realm)+"?"+q.Encode(), env.AdminToken, nil)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		var l namedList
		r.decode(t, &l)
		all = append(all, l.Items...)
		if l.NextCursor == "" {
			return all
		}
		cursor = l.NextCursor
	}
	t.Fatal("listAll: too many pages")
	return nil
}

func namesOf(items []namedBody) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, it.Name)
	}
	return out
}

// testCRUD creates, reads, renames, describes and deletes one entity, with
// the conflicts of duplicate names.
func testCRUD(t *testing.T, e entity) {
	realm := newRealm(t)
	body := e.body("admins")
	body["description"] = "The administrators"
	r := call(t, "POST", e.path(realm), env.AdminToken, body)
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	var a namedBody
	r.decode(t, &a)
	require.Equal(t, e.itemPath(realm, a.ID), r.Header.Get("Location"))
	require.NotEmpty(t, a.ID)
	require.Equal(t, "admins", a.Name)
	require.Equal(t, "The administrators", a.Description)
	require.False(t, a.CreatedAt.IsZero())
	require.Equal(t, a.CreatedAt, a.UpdatedAt)
	require.Equal(t, a, e.get(t, realm, a.ID))

	b := e.create(t, realm, "ops")
	require.NotEqual(t, a.ID, b.ID)
	require.Equal(t, "", b.Description, "description defaults to empty")

	before := e.listAll(t, realm, nil)
	r = call(t, "POST", e.path(realm), env.AdminToken, e.body("admins"))
	requireProblem(t, r, http.StatusConflict, "duplicate_name", "name")
	r = call(t, "POST", e.path(realm), env.AdminToken, e.body("Admins"))
	require.Equal(t, http.StatusCreated, r.Status, "names are case-sensitive: %s", r.Body)
	var upper namedBody
	r.decode(t, &upper)
	r = call(t, "DELETE", e.itemPath(realm, upper.ID), env.AdminToken, nil)
	require.Equal(t, http.StatusNoContent, r.Status, "%s", r.Body)
	require.Equal(t, before, e.listAll(t, realm, nil))

	// Partial updates keep what they do not name.
	r = call(t, "PATCH", e.itemPath(realm, b.ID), env.AdminToken, map[string]any{"description": "Operations"})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var got namedBody
	r.decode(t, &got)
	require.Equal(t, "ops", got.Name)
	require.Equal(t, "Operations", got.Description)
	require.Equal(t, b.CreatedAt, got.CreatedAt)
	require.False(t, got.UpdatedAt.Before(b.UpdatedAt))
	require.Equal(t, got, e.get(t, realm, b.ID))

	// Renaming onto a taken name is refused and changes nothing.
	r = call(t, "PATCH", e.itemPath(realm, b.ID), env.AdminToken, map[string]any{"name": "admins", "description": "x"})
	requireProblem(t, r, http.StatusConflict, "duplicate_name", "name")
	require.Equal(t, got, e.get(t, realm, b.ID))

	// Renaming to its own name is fine; a rename frees the old name.
	r = call(t, "PATCH", e.itemPath(realm, b.ID), env.AdminToken, map[string]any{"name": "ops"})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	r = call(t, "PATCH", e.itemPath(realm, b.ID), env.AdminToken, map[string]any{"name": "operations", "description": ""})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	r.decode(t, &got)
	require.Equal(t, "operations", got.Name)
	require.Equal(t, "", got.Description)
	again := e.create(t, realm, "ops")
	require.NotEqual(t, b.ID, again.ID)

	r = call(t, "DELETE", e.itemPath(realm, a.ID), env.AdminToken, nil)
	require.Equal(t, http.StatusNoContent, r.Status, "%s", r.Body)
	require.Empty(t, r.Body)
	for _, c := range []struct {
		method string
		body   any
	}{
		{"GET", nil},
		{"PATCH", map[string]any{"description": "back"}},
		{"DELETE", nil},
	} {
		r := call(t, c.method, e.itemPath(realm, a.ID), env.AdminToken, c.body)
		requireProblem(t, r, http.StatusNotFound, e.noun+"_not_found", "")
	}
	r = call(t, "GET", e.itemPath(realm, "nosuchid"), env.AdminToken, nil)
	requireProblem(t, r, http.StatusNotFound, e.noun+"_not_found", "")
	require.NotContains(t, namesOf(e.listAll(t, realm, nil)), "admins")
	e.create(t, realm, "admins") // the name is free again
}

// testList checks the name filters, the order and the pagination.
func testList(t *testing.T, e entity) {
	realm := newRealm(t)
	// Whatever the realm starts with (managed policies) lists too.
	baseline := namesOf(e.listAll(t, realm, nil))
	mine := []string{"ops", "Ops-EU", "dev", "dev.team", "dev+ci", "devops", "a@b=c,d_e-f"}
	for _, n := range mine {
		e.create(t, realm, n)
	}
	all := append(slices.Clone(baseline), mine...)
	slices.Sort(all) // byte order, as the store sorts

	for _, tc := range []struct {
		name  string
		query url.Values
		want  []string
	}{
		{"all", nil, all},
		{"name exact", url.Values{"name": {"dev"}}, []string{"dev"}},
		{"name exact is case-sensitive", url.Values{"name": {"OPS"}}, []string{}},
		{"name exact is not a prefix", url.Values{"name": {"de"}}, []string{}},
		{"namePrefix", url.Values{"namePrefix": {"dev"}}, []string{"dev", "dev+ci", "dev.team", "devops"}},
		{"namePrefix is literal", url.Values{"namePrefix": {"dev."}}, []string{"dev.team"}},
		{"namePrefix regex syntax", url.Values{"namePrefix": {".*"}}, []string{}},
		{"namePrefix is case-sensitive", url.Values{"namePrefix": {"Ops"}}, []string{"Ops-EU"}},
		{"namePrefix anchored at the start", url.Values{"namePrefix": {"ops"}}, []string{"ops"}},
		{"name and namePrefix", url.Values{"name": {"devops"}, "namePrefix": {"dev"}}, []string{"devops"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := call(t, "GET", e.path(realm)+"?"+tc.query.Encode(), env.AdminToken, nil)
			require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
			var l namedList
			r.decode(t, &l)
			require.Equal(t, tc.want, namesOf(l.Items))
			require.Empty(t, l.NextCursor)
		})
	}

	t.Run("pagination", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			query url.Values
			limit int
			want  []string
		}{
			{nil, 2, all},
			{nil, 1, all},
			{nil, len(all), all},
			{url.Values{"namePrefix": {"dev"}}, 3, []string{"dev", "dev+ci", "dev.team", "devops"}},
		} {
			var pages [][]string
			var got []string
			cursor := ""
			for {
				require.Less(t, len(pages), 50)
				q := url.Values{"limit": {strconv.Itoa(tc.limit)}}
				for k, v := range tc.query {
					q[k] = v
				}
				if cursor != "" {
					q.Set("cursor", cursor)
				}
				r := call(t, "GET", e.path(realm)+"?"+q.Encode(), env.AdminToken, nil)
				require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
				var l namedList
				r.decode(t, &l)
				require.LessOrEqual(t, len(l.Items), tc.limit)
				pages = append(pages, namesOf(l.Items))
				got = append(got, namesOf(l.Items)...)
				if l.NextCursor == "" {
					break
				}
				require.Len(t, l.Items, tc.limit, "only the last page is short")
				cursor = l.NextCursor
			}
			require.Equal(t, tc.want, got, "limit %d", tc.limit)
			require.Len(t, pages, (len(tc.want)+tc.limit-1)/tc.limit)
		}
	})
}

// testBadInput sends invalid requests; each is refused naming the field,
// and nothing is stored.
func testBadInput(t *testing.T, e entity) {
	realm := newRealm(t)
	it := e.create(t, realm, "keep")
	before := e.listAll(t, realm, nil)
	withName := func(name any) string {
		b := e.body("x")
		b["name"] = name
		raw, _ := json.Marshal(b)
		return string(raw)
	}
	with := func(k string, v any) string {
		b := e.body("fresh")
		b[k] = v
		raw, _ := json.Marshal(b)
		return string(raw)
	}
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code, field              string
	}{
		{"empty name", "POST", e.path(realm), withName(""), 400, "invalid_request", "name"},
		{"name with a space", "POST", e.path(realm), withName("a b"), 400, "invalid_request", "name"},
		{"name with a slash", "POST", e.path(realm), withName("a/b"), 400, "invalid_request", "name"},
		{"name with a dollar", "POST", e.path(realm), withName("$set"), 400, "invalid_request", "name"},
		{"name not ASCII", "POST", e.path(realm), withName("grüppe"), 400, "invalid_request", "name"},
		{"name of 129 characters", "POST", e.path(realm), withName(strings.Repeat("n", 129)), 400, "invalid_request", "name"},
		{"name is a number", "POST", e.path(realm), withName(5), 400, "invalid_request", "name"},
		{"name as an operator", "POST", e.path(realm), withName(map[string]any{"$ne": ""}), 400, "invalid_request", "name"},
		{"missing name", "POST", e.path(realm), `{"description":"x"}`, 400, "invalid_request", "name"},
		{"description too long", "POST", e.path(realm), with("description", strings.Repeat("d", 1001)), 400, "invalid_request", "description"},
		{"unknown field", "POST", e.path(realm), with("members", []string{"x"}), 400, "invalid_request", "members"},
		{"id smuggled in", "POST", e.path(realm), with("id", "chosen"), 400, "invalid_request", "id"},
		{"managed smuggled in", "POST", e.path(realm), with("managed", true), 400, "invalid_request", "managed"},
		{"empty patch", "PATCH", e.itemPath(realm, it.ID), `{}`, 400, "invalid_request", "body"},
		{"patch bad name", "PATCH", e.itemPath(realm, it.ID), `{"name":"a b"}`, 400, "invalid_request", "name"},
		{"patch null name", "PATCH", e.itemPath(realm, it.ID), `{"name":null}`, 400, "invalid_request", "name"},
		{"patch unknown field", "PATCH", e.itemPath(realm, it.ID), `{"description":"x","roles":[]}`, 400, "invalid_request", "roles"},
		{"bad id in path", "GET", e.itemPath(realm, "Not-An-Id"), "", 400, "invalid_request", e.noun + "Id"},
		{"bad name filter", "GET", e.path(realm) + "?name=a%20b", "", 400, "invalid_request", "name"},
		{"empty namePrefix", "GET", e.path(realm) + "?namePrefix=", "", 400, "invalid_request", "namePrefix"},
		{"bad cursor", "GET", e.path(realm) + "?cursor=garbage", "", 400, "invalid_request", "cursor"},
		{"limit 0", "GET", e.path(realm) + "?limit=0", "", 400, "invalid_request", "limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			r := call(t, tc.method, tc.path, env.AdminToken, body)
			requireProblem(t, r, tc.status, tc.code, tc.field)
		})
	}
	require.Equal(t, before, e.listAll(t, realm, nil), "nothing stored")
}

func TestGroupCRUD(t *testing.T) {
	t.Parallel()
	testCRUD(t, groupEntity)
}

func TestGroupList(t *testing.T) {
	t.Parallel()
	testList(t, groupEntity)
}

func TestGroupBadInput(t *testing.T) {
	t.Parallel()
	testBadInput(t, groupEntity)
}

func TestGroupMembers(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	const pw = "Member-Passw0rd"
	group := groupEntity.create(t, realm, "team")
	other := groupEntity.create(t, realm, "other")
	emails := []string{"dora@x.test", "ann@x.test", "carl@x.test", "bob@x.test", "eve@x.test"}
	ids := map[string]string{}
	for _, e := range emails {
		ids[e] = createAccount(t, realm, e, pw)
	}
	for _, e := range []string{"dora@x.test", "ann@x.test", "carl@x.test", "bob@x.test"} {
		attach(t, accountPath(realm, ids[e])+"/groups/"+group.ID)
	}
	attach(t, accountPath(realm, ids["eve@x.test"])+"/groups/"+other.ID)
	attach(t, accountPath(realm, ids["ann@x.test"])+"/groups/"+other.ID)

	members := func(groupID string, limit int) ([]string, int) {
		t.Helper()
		var got []string
		pages := 0
		cursor := ""
		for {
			q := url.Values{"limit": {strconv.Itoa(limit)}}
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			r := call(t, "GET", groupEntity.itemPath(realm, groupID)+"/members?"+q.Encode(), env.AdminToken, nil)
			require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
			require.NotContains(t, string(r.Body), "passwordHash")
			require.NotContains(t, string(r.Body), "$2a$")
			var l accountList
			r.decode(t, &l)
			pages++
			got = append(got, emailsOf(l.Items)...)
			if l.NextCursor == "" {
				return got, pages
			}
			require.Less(t, pages, 20)
			cursor = l.NextCursor
		}
	}
	got, pages := members(group.ID, 50)
	require.Equal(t, []string{"ann@x.test", "bob@x.test", "carl@x.test", "dora@x.test"}, got)
	require.Equal(t, 1, pages)
	got, pages = members(group.ID, 3)
	require.Equal(t, []string{"ann@x.test", "bob@x.test", "carl@x.test", "dora@x.test"}, got)
	require.Equal(t, 2, pages)
	got, _ = members(other.ID, 1)
	require.Equal(t, []string{"ann@x.test", "eve@x.test"}, got)

	// Leaving the group, and being deleted, both end membership.
	detach(t, accountPath(realm, ids["bob@x.test"])+"/groups/"+group.ID)
	r := call(t, "DELETE", accountPath(realm, ids["carl@x.test"]), env.AdminToken, nil)
	require.Equal(t, http.StatusNoContent, r.Status, "%s", r.Body)
	got, _ = members(group.ID, 50)
	require.Equal(t, []string{"ann@x.test", "dora@x.test"}, got)

	empty := groupEntity.create(t, realm, "empty")
	got, _ = members(empty.ID, 50)
	require.Empty(t, got)

	r = call(t, "GET", groupEntity.itemPath(realm, "nosuchgroup")+"/members", env.AdminToken, nil)
	requireProblem(t, r, http.StatusNotFound, "group_not_found", "")
	r = call(t, "GET", groupEntity.itemPath(realm, group.ID)+"/members?cursor=garbage", env.AdminToken, nil)
	requireProblem(t, r, http.StatusBadRequest, "invalid_request", "cursor")

	// Deleting the group leaves its former members in no group.
	r = call(t, "DELETE", groupEntity.itemPath(realm, group.ID), env.AdminToken, nil)
	require.Equal(t, http.StatusNoContent, r.Status, "%s", r.Body)
	r = call(t, "GET", groupEntity.itemPath(realm, group.ID)+"/members", env.AdminToken, nil)
	requireProblem(t, r, http.StatusNotFound, "group_not_found", "")
	require.Equal(t, []string{other.ID}, refIDs(listRefs(t, accountPath(realm, ids["ann@x.test"])+"/groups")))
	n, err := tenant.DB(env.Client, realm).Collection("accounts").CountDocuments(context.Background(), bson.M{"groups": group.ID})
	require.NoError(t, err)
	require.Zero(t, n)
}
