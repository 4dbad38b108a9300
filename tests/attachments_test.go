package tests

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/realmiam/realmiam/shared/mongodb"
	"github.com/realmiam/realmiam/shared/tenant"
)

type refBody struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// attach PUTs path and requires 204.
func attach(t testing.TB, path string) {
	t.Helper()
	r := call(t, "PUT", path, env.AdminToken, nil)
	require.Equal(t, http.StatusNoContent, r.Status, "PUT %s: %s", path, r.Body)
	require.Empty(t, r.Body)
}

// detach DELETEs path and requires 204.
func detach(t testing.TB, path string) {
	t.Helper()
	r := call(t, "DELETE", path, env.AdminToken, nil)
	require.Equal(t, http.StatusNoContent, r.Status, "DELETE %s: %s", path, r.Body)
	require.Empty(t, r.Body)
}

// listRefs GETs an attachment list.
func listRefs(t testing.TB, path string) []refBody {
	t.Helper()
	r := call(t, "GET", path, env.AdminToken, nil)
	require.Equal(t, http.StatusOK, r.Status, "GET %s: %s", path, r.Body)
	var l struct {
		Items []refBody `json:"items"`
	}
	r.decode(t, &l)
	require.NotNil(t, l.Items, "items is a list, never null: %s", r.Body)
	return l.Items
}

func refIDs(refs []refBody) []string {
	out := []string{}
	for _, r := range refs {
		out = append(out, r.ID)
	}
	return out
}

func refNames(refs []refBody) []string {
	out := []string{}
	for _, r := range refs {
		out = append(out, r.Name)
	}
	return out
}

// attachmentKind is one kind of attachment, as the tests drive it.
type attachmentKind struct {
	name         string
	owner        string // collection of the owner: "accounts", "groups", "roles"
	ownerNoun    string
	field        string // the owner's list, and the sub-resource's last path segment
	target       entity
	quota        int
	newOwner     func(t testing.TB, realm, name string) string
	ownerPathFor func(realm, id string) string
}

func accountOwner(t testing.TB, realm, name string) string {
	return createAccount(t, realm, name+"@example.com", "Attach-Passw0rd")
}

var attachmentKinds = []attachmentKind{
	{"account groups", "accounts", "account", "groups", groupEntity, 100, accountOwner, accountPath},
	{"account roles", "accounts", "account", "roles", roleEntity, 20, accountOwner, accountPath},
	{"account policies", "accounts", "account", "policies", policyEntity, 20, accountOwner, accountPath},
	{"group roles", "groups", "group", "roles", roleEntity, 20,
		func(t testing.TB, realm, name string) string { return groupEntity.create(t, realm, "owner-"+name).ID }, groupEntity.itemPath},
	{"group policies", "groups", "group", "policies", policyEntity, 20,
		func(t testing.TB, realm, name string) string { return groupEntity.create(t, realm, "owner-"+name).ID }, groupEntity.itemPath},
	{"role policies", "roles", "role", "policies", policyEntity, 20,
		func(t testing.TB, realm, name string) string { return roleEntity.create(t, realm, "owner-"+name).ID }, roleEntity.itemPath},
}

// TestAttachments drives every kind of attachment: attach (twice is
// harmless), list in name order, missing ids, detach (twice is harmless).
func TestAttachments(t *testing.T) {
	t.Parallel()
	for _, k := range attachmentKinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			realm := newRealm(t)
			owner := k.newOwner(t, realm, "owner")
			list := k.ownerPathFor(realm, owner) + "/" + k.field
			item := func(id string) string { return list + "/" + id }
			require.Empty(t, listRefs(t, list))

			zed := k.target.create(t, realm, "zed")
			alpha := k.target.create(t, realm, "alpha")
			mid := k.target.create(t, realm, "Mid")
			attach(t, item(zed.ID))
			attach(t, item(zed.ID)) // harmless
			attach(t, item(alpha.ID))
			attach(t, item(mid.ID))
			refs := listRefs(t, list)
			require.Equal(t, []string{"Mid", "alpha", "zed"}, refNames(refs), "name order")
			require.Equal(t, []string{mid.ID, alpha.ID, zed.ID}, refIDs(refs))
			requireStoredList(t, realm, k.owner, owner, k.field, zed.ID, alpha.ID, mid.ID)

			// Missing ids: 404 naming what is missing, nothing stored.
			r := call(t, "PUT", item("nosuchtarget"), env.AdminToken, nil)
			requireProblem(t, r, http.StatusNotFound, k.target.noun+"_not_found", "")
			missingOwner := k.ownerPathFor(realm, "nosuchowner") + "/" + k.field
			for _, c := range []struct{ method, path string }{
				{"PUT", missingOwner + "/" + alpha.ID},
				{"PUT", missingOwner + "/nosuchtarget"}, // both missing: the owner is named
				{"DELETE", missingOwner + "/" + alpha.ID},
				{"GET", missingOwner},
			} {
				r := call(t, c.method, c.path, env.AdminToken, nil)
				requireProblem(t, r, http.StatusNotFound, k.ownerNoun+"_not_found", "")
			}
			requireStoredList(t, realm, k.owner, owner, k.field, zed.ID, alpha.ID, mid.ID)

			// Bad ids are refused by the schema, naming the parameter.
			r = call(t, "PUT", item("Bad-Id"), env.AdminToken, nil)
			requireProblem(t, r, http.StatusBadRequest, "invalid_request", k.target.noun+"Id")

			detach(t, item(zed.ID))
			detach(t, item(zed.ID))           // harmless
			detach(t, item("neverattached1")) // harmless
			require.Equal(t, []string{"Mid", "alpha"}, refNames(listRefs(t, list)))
			detach(t, item(alpha.ID))
			detach(t, item(mid.ID))
			require.Empty(t, listRefs(t, list))
			requireStoredList(t, realm, k.owner, owner, k.field)

			// A renamed target lists under its new name.
			attach(t, item(alpha.ID))
			r = call(t, "PATCH", k.target.itemPath(realm, alpha.ID), env.AdminToken, map[string]any{"name": "omega"})
			require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
			require.Equal(t, []refBody{{ID: alpha.ID, Name: "omega"}}, listRefs(t, list))
		})
	}
}

// TestAttachmentQuotas fills each list to its quota (directly in the store:
// the embedded store scans without indexes, so 100 API calls would be slow)
// and checks the boundary through the API.
func TestAttachmentQuotas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, k := range attachmentKinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			realm := newRealm(t)
			db := tenant.DB(env.Client, realm)
			owner := k.newOwner(t, realm, "owner")
			list := k.ownerPathFor(realm, owner) + "/" + k.field

			// quota-1 targets attached directly, then the last one through
			// the API.
			ids := insertTargets(t, realm, k.target.coll, k.quota+1)
			_, err := db.Collection(k.owner).UpdateOne(ctx, bson.M{"_id": owner},
				bson.M{"$set": bson.M{k.field: ids[:k.quota-1]}})
			require.NoError(t, err)
			attach(t, list+"/"+ids[k.quota-1])
			require.Len(t, listRefs(t, list), k.quota)

			r := call(t, "PUT", list+"/"+ids[k.quota], env.AdminToken, nil)
			requireProblem(t, r, http.StatusConflict, "quota_exceeded", k.field)
			require.Len(t, listRefs(t, list), k.quota, "nothing stored")
			attach(t, list+"/"+ids[0]) // already attached: harmless at the quota

			detach(t, list+"/"+ids[0])
			attach(t, list+"/"+ids[k.quota])
			refs := listRefs(t, list)
			require.Len(t, refs, k.quota)
			require.NotContains(t, refIDs(refs), ids[0])
		})
	}

	t.Run("concurrent attaches cannot pass the quota together", func(t *testing.T) {
		t.Parallel()
		realm := newRealm(t)
		db := tenant.DB(env.Client, realm)
		owner := accountOwner(t, realm, "racer")
		ids := insertTargets(t, realm, "policies", 30)
		_, err := db.Collection("accounts").UpdateOne(ctx, bson.M{"_id": owner},
			bson.M{"$set": bson.M{"policies": ids[:18]}})
		require.NoError(t, err)
		var wg sync.WaitGroup
		statuses := make([]int, 12)
		for i := range statuses {
			wg.Go(func() {
				r, err := do("PUT", accountPath(realm, owner)+"/policies/"+ids[18+i], env.AdminToken, "", nil)
				if err == nil {
					statuses[i] = r.Status
				}
			})
		}
		wg.Wait()
		ok := 0
		for _, s := range statuses {
			require.Contains(t, []int{http.StatusNoContent, http.StatusConflict}, s)
			if s == http.StatusNoContent {
				ok++
			}
		}
		require.Equal(t, 2, ok)
		require.Len(t, listRefs(t, accountPath(realm, owner)+"/policies"), 20)
	})
}

// insertTargets stores n groups, roles or policies directly and returns
// their ids.
func insertTargets(t testing.TB, realm, coll string, n int) []string {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Millisecond)
	var ids []string
	var docs []any
	for range n {
		id := mongodb.NewID()
		ids = append(ids, id)
		doc := bson.M{"_id": id, "name": coll + "-" + id, "description": "", "createdAt": now, "updatedAt": now}
		switch coll {
		case "groups":
			doc["roles"], doc["policies"] = bson.A{}, bson.A{}
		case "roles":
			doc["policies"] = bson.A{}
		case "policies":
			doc["document"], doc["managed"] = allowAllDoc, false
		}
		docs = append(docs, doc)
	}
	_, err := tenant.DB(env.Client, realm).Collection(coll).InsertMany(context.Background(), docs)
	require.NoError(t, err)
	return ids
}

// requireStoredList checks the owner's stored list holds exactly ids.
func requireStoredList(t testing.TB, realm, coll, ownerID, field string, ids ...string) {
	t.Helper()
	var doc bson.M
	err := tenant.DB(env.Client, realm).Collection(coll).FindOne(context.Background(), bson.M{"_id": ownerID}).Decode(&doc)
	require.NoError(t, err)
	var got []string
	if a, ok := doc[field].(bson.A); ok {
		for _, v := range a {
			got = append(got, v.(string))
		}
	}
	require.ElementsMatch(t, ids, got, "%s.%s of %s", coll, field, ownerID)
}

// TestDeleteDetachesEverywhere deletes a policy, a role and a group held in
// every way and checks that no list, and no stored document, still names it.
func TestDeleteDetachesEverywhere(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	realm := newRealm(t)
	db := tenant.DB(env.Client, realm)
	acct := accountOwner(t, realm, "holder")
	group := groupEntity.create(t, realm, "g")
	role := roleEntity.create(t, realm, "r")
	policy := policyEntity.create(t, realm, "p")
	keep := policyEntity.create(t, realm, "keep")
	a, g, r := accountPath(realm, acct), groupEntity.itemPath(realm, group.ID), roleEntity.itemPath(realm, role.ID)
	for _, p := range []string{
		a + "/groups/" + group.ID, a + "/roles/" + role.ID, a + "/policies/" + policy.ID, a + "/policies/" + keep.ID,
		g + "/roles/" + role.ID, g + "/policies/" + policy.ID, g + "/policies/" + keep.ID,
		r + "/policies/" + policy.ID, r + "/policies/" + keep.ID,
	} {
		attach(t, p)
	}
	// Another account in the group, holding the same policy.
	acct2 := accountOwner(t, realm, "holder2")
	a2 := accountPath(realm, acct2)
	attach(t, a2+"/groups/"+group.ID)
	attach(t, a2+"/policies/"+policy.ID)

	holders := func(field, id string) int64 {
		var n int64
		for _, c := range []string{"accounts", "groups", "roles"} {
			m, err := db.Collection(c).CountDocuments(ctx, bson.M{field: id})
			require.NoError(t, err)
			n += m
		}
		return n
	}
	require.EqualValues(t, 4, holders("policies", policy.ID))

	resp := call(t, "DELETE", policyEntity.itemPath(realm, policy.ID), env.AdminToken, nil)
	require.Equal(t, http.StatusNoContent, resp.Status, "%s", resp.Body)
	require.Zero(t, holders("policies", policy.ID))
	for _, p := range []string{a + "/policies", g + "/policies", r + "/policies"} {
		require.Equal(t, []string{keep.ID}, refIDs(listRefs(t, p)), p)
	}
	require.Empty(t, listRefs(t, a2+"/policies"))

	resp = call(t, "DELETE", roleEntity.itemPath(realm, role.ID), env.AdminToken, nil)
	require.Equal(t, http.StatusNoContent, resp.Status, "%s", resp.Body)
	require.Zero(t, holders("roles", role.ID))
	require.Empty(t, listRefs(t, a+"/roles"))
	require.Empty(t, listRefs(t, g+"/roles"))
	resp = call(t, "GET", r+"/policies", env.AdminToken, nil)
	requireProblem(t, resp, http.StatusNotFound, "role_not_found", "")

	resp = call(t, "DELETE", g, env.AdminToken, nil)
	require.Equal(t, http.StatusNoContent, resp.Status, "%s", resp.Body)
	require.Zero(t, holders("groups", group.ID))
	require.Empty(t, listRefs(t, a+"/groups"))
	require.Empty(t, listRefs(t, a2+"/groups"))

	// What was not deleted is still attached; attaching a deleted id is 404.
	require.Equal(t, []string{keep.ID}, refIDs(listRefs(t, a+"/policies")))
	resp = call(t, "PUT", a+"/groups/"+group.ID, env.AdminToken, nil)
	requireProblem(t, resp, http.StatusNotFound, "group_not_found", "")
	resp = call(t, "PUT", a+"/policies/"+policy.ID, env.AdminToken, nil)
	requireProblem(t, resp, http.StatusNotFound, "policy_not_found", "")
}

// TestAttachmentLegacyAndDangling covers stored states the API does not make
// itself: an account written before attachment lists existed, and an id
// whose target vanished (a crash between steps).
func TestAttachmentLegacyAndDangling(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	realm := newRealm(t)
	db := tenant.DB(env.Client, realm)
	acct := accountOwner(t, realm, "legacy")
	_, err := db.Collection("accounts").UpdateOne(ctx, bson.M{"_id": acct},
		bson.M{"$unset": bson.M{"groups": "", "roles": "", "policies": ""}})
	require.NoError(t, err)
	a := accountPath(realm, acct)
	for _, f := range []string{"groups", "roles", "policies"} {
		require.Empty(t, listRefs(t, a+"/"+f))
		detach(t, a+"/"+f+"/nothing")
	}
	group := groupEntity.create(t, realm, "g")
	attach(t, a+"/groups/"+group.ID)
	require.Equal(t, []string{group.ID}, refIDs(listRefs(t, a+"/groups")))

	_, err = db.Collection("accounts").UpdateOne(ctx, bson.M{"_id": acct},
		bson.M{"$addToSet": bson.M{"groups": "vanished"}})
	require.NoError(t, err)
	require.Equal(t, []string{group.ID}, refIDs(listRefs(t, a+"/groups")), "dangling ids are skipped")
	detach(t, a+"/groups/vanished")
	requireStoredList(t, realm, "accounts", acct, "groups", group.ID)
}

// TestAttachmentIsolation checks that ids of realm A mean nothing in realm
// B, in either position, and that B's attempts leave A unchanged.
func TestAttachmentIsolation(t *testing.T) {
	t.Parallel()
	ra, rb := newRealm(t), newRealm(t)
	acctA := accountOwner(t, ra, "a")
	acctB := accountOwner(t, rb, "b")
	groupA := groupEntity.create(t, ra, "shared-name")
	groupB := groupEntity.create(t, rb, "shared-name")
	require.NotEqual(t, groupA.ID, groupB.ID)
	roleA := roleEntity.create(t, ra, "role")
	policyA := policyEntity.create(t, ra, "policy")
	roleB := roleEntity.create(t, rb, "role")
	attach(t, accountPath(ra, acctA)+"/groups/"+groupA.ID)
	attach(t, groupEntity.itemPath(ra, groupA.ID)+"/policies/"+policyA.ID)

	for _, c := range []struct {
		name, method, path, code string
	}{
		{"A's group to B's account", "PUT", accountPath(rb, acctB) + "/groups/" + groupA.ID, "group_not_found"},
		{"A's role to B's account", "PUT", accountPath(rb, acctB) + "/roles/" + roleA.ID, "role_not_found"},
		{"A's policy to B's account", "PUT", accountPath(rb, acctB) + "/policies/" + policyA.ID, "policy_not_found"},
		{"A's policy to B's role", "PUT", roleEntity.itemPath(rb, roleB.ID) + "/policies/" + policyA.ID, "policy_not_found"},
		{"A's role to B's group", "PUT", groupEntity.itemPath(rb, groupB.ID) + "/roles/" + roleA.ID, "role_not_found"},
		{"B's group to A's account, through B", "PUT", accountPath(rb, acctA) + "/groups/" + groupB.ID, "account_not_found"},
		{"detach from A's account through B", "DELETE", accountPath(rb, acctA) + "/groups/" + groupA.ID, "account_not_found"},
		{"list A's account through B", "GET", accountPath(rb, acctA) + "/groups", "account_not_found"},
		{"list A's group through B", "GET", groupEntity.itemPath(rb, groupA.ID) + "/policies", "group_not_found"},
		{"members of A's group through B", "GET", groupEntity.itemPath(rb, groupA.ID) + "/members", "group_not_found"},
		{"delete A's group through B", "DELETE", groupEntity.itemPath(rb, groupA.ID), "group_not_found"},
		{"delete A's policy through B", "DELETE", policyEntity.itemPath(rb, policyA.ID), "policy_not_found"},
	} {
		r := call(t, c.method, c.path, env.AdminToken, nil)
		requireProblem(t, r, http.StatusNotFound, c.code, "")
	}
	for _, p := range []string{"/groups", "/roles", "/policies"} {
		require.Empty(t, listRefs(t, accountPath(rb, acctB)+p), "nothing attached in B")
	}
	require.Equal(t, []string{groupA.ID}, refIDs(listRefs(t, accountPath(ra, acctA)+"/groups")), "A unchanged")
	require.Equal(t, []string{policyA.ID}, refIDs(listRefs(t, groupEntity.itemPath(ra, groupA.ID)+"/policies")))
	require.Equal(t, groupA, groupEntity.get(t, ra, groupA.ID))
}
