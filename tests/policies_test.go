package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/realmiam/realmiam/shared/mongodb"
	"github.com/realmiam/realmiam/shared/problem"
	"github.com/realmiam/realmiam/shared/tenant"
)

func TestPolicyCRUD(t *testing.T) {
	t.Parallel()
	testCRUD(t, policyEntity)
}

func TestPolicyList(t *testing.T) {
	t.Parallel()
	testList(t, policyEntity)
}

func TestPolicyBadInput(t *testing.T) {
	t.Parallel()
	testBadInput(t, policyEntity)
}

// conditionDoc has layout whitespace, a single statement object, a
// condition key holding '.', which the store refuses in field names, and
// spaces inside a string, which count and stay.
const conditionDoc = `{
  "Version": "2012-10-17",
  "Statement": {
    "Sid": "OfficeHours",
    "Effect": "Allow",
    "Action": ["billing:Get*", "billing:List*"],
    "Resource": "irn:billing:*:invoice/*",
    "Condition": {
      "StringEquals": {"app:team.name": "blue team"},
      "IpAddress": {"iam:SourceIp": ["10.0.0.0/8"]}
    }
  }
}`

func compactJSON(t testing.TB, s string) string {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, json.Compact(&b, []byte(s)))
	return b.String()
}

func TestPolicyDocument(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	realm := newRealm(t)
	r := call(t, "POST", policyEntity.path(realm), env.AdminToken, `{"name":"billing-read","description":"Read invoices","document":`+conditionDoc+`}`)
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	var p namedBody
	r.decode(t, &p)
	require.NotNil(t, p.Managed)
	require.False(t, *p.Managed)
	require.JSONEq(t, conditionDoc, string(p.Document))
	require.Equal(t, compactJSON(t, conditionDoc), string(p.Document), "as given, without layout whitespace")
	require.Equal(t, p, policyEntity.get(t, realm, p.ID))

	// Stored as text, since condition keys may hold '.'.
	var doc bson.M
	require.NoError(t, tenant.DB(env.Client, realm).Collection("policies").FindOne(ctx, bson.M{"_id": p.ID}).Decode(&doc))
	require.Equal(t, compactJSON(t, conditionDoc), doc["document"])
	require.Equal(t, false, doc["managed"])

	listed := policyEntity.listAll(t, realm, map[string][]string{"name": {"billing-read"}})
	require.Len(t, listed, 1)
	require.Equal(t, p, listed[0])

	// A new document replaces the old one and keeps name and description.
	r = call(t, "PATCH", policyEntity.itemPath(realm, p.ID), env.AdminToken, map[string]any{"document": json.RawMessage(allowAllDoc)})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var got namedBody
	r.decode(t, &got)
	require.JSONEq(t, allowAllDoc, string(got.Document))
	require.Equal(t, "billing-read", got.Name)
	require.Equal(t, "Read invoices", got.Description)
	require.Equal(t, p.CreatedAt, got.CreatedAt)
	require.False(t, got.UpdatedAt.Before(p.UpdatedAt))

	// A rename keeps the document.
	r = call(t, "PATCH", policyEntity.itemPath(realm, p.ID), env.AdminToken, map[string]any{"name": "everything-read"})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	r.decode(t, &got)
	require.JSONEq(t, allowAllDoc, string(got.Document))
	require.Equal(t, got, policyEntity.get(t, realm, p.ID))
}

// TestPolicyBadDocument sends documents the engine refuses: each is a 400
// naming the field under "document", on create and on update, and nothing
// is stored.
func TestPolicyBadDocument(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	p := policyEntity.create(t, realm, "keep")
	before := policyEntity.listAll(t, realm, nil)
	stmt := func(s string) string { return `{"Version":"2012-10-17","Statement":[` + s + `]}` }
	// 6,145 characters, whitespace not counted; layout whitespace on top
	// does not matter.
	big := func(extra int) string {
		head := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetAccount","Resource":"irn:iam:r:account/`
		tail := `"}]}`
		return head + strings.Repeat("x", 6144+extra-len(head)-len(tail)) + tail
	}
	require.Len(t, big(0), 6144)

	for _, tc := range []struct {
		name, doc   string
		code, field string
	}{
		{"document is a string", `"{}"`, "invalid_request", "document"},
		{"document is a list", `[]`, "invalid_request", "document"},
		{"document is null", `null`, "invalid_request", "document"},
		{"empty object", `{}`, "invalid_policy", "document.Version"},
		{"old version", `{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, "invalid_policy", "document.Version"},
		{"no statement", `{"Version":"2012-10-17"}`, "invalid_policy", "document.Statement"},
		{"unknown element", `{"Version":"2012-10-17","Statement":[],"Extra":1}`, "invalid_policy", "document.Extra"},
		{"bad effect", stmt(`{"Effect":"Maybe","Action":"*","Resource":"*"}`), "invalid_policy", "document.Statement[0].Effect"},
		{"action is a number", stmt(`{"Effect":"Allow","Action":1,"Resource":"*"}`), "invalid_policy", "document.Statement[0].Action"},
		{"second statement without resource", stmt(`{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"*"}`), "invalid_policy", "document.Statement[1]"},
		{"principal in an identity policy", stmt(`{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}`), "invalid_policy", "document.Statement[0].Principal"},
		{"too large", big(1), "policy_too_large", "document"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, "POST", policyEntity.path(realm), env.AdminToken, `{"name":"bad","document":`+tc.doc+`}`)
			pb := requireProblem(t, r, http.StatusBadRequest, tc.code, "")
			requireFieldPrefix(t, pb.Errors, tc.field, r.Body)
			r = call(t, "PATCH", policyEntity.itemPath(realm, p.ID), env.AdminToken, `{"description":"changed","document":`+tc.doc+`}`)
			pb = requireProblem(t, r, http.StatusBadRequest, tc.code, "")
			requireFieldPrefix(t, pb.Errors, tc.field, r.Body)
		})
	}
	require.Equal(t, before, policyEntity.listAll(t, realm, nil), "nothing stored")

	// The limit itself, padded with whitespace, is accepted.
	padded := strings.Replace(big(0), `"Effect"`, "\n\t  \"Effect\"", 1)
	r := call(t, "POST", policyEntity.path(realm), env.AdminToken, `{"name":"at-the-limit","document":`+padded+`}`)
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
}

// requireFieldPrefix checks that some field error is field or lies under it.
func requireFieldPrefix(t testing.TB, errs []problem.FieldError, field string, body []byte) {
	t.Helper()
	for _, e := range errs {
		if e.Field == field || strings.HasPrefix(e.Field, field+".") || strings.HasPrefix(e.Field, field+"[") {
			return
		}
	}
	t.Fatalf("no error names %s: %s", field, body)
}

// TestPolicyManaged checks that a managed policy can be read, attached and
// detached, but not changed or deleted.
func TestPolicyManaged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	realm := newRealm(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	id := mongodb.NewID()
	_, err := tenant.DB(env.Client, realm).Collection("policies").InsertOne(ctx, bson.M{
		"_id": id, "name": "TestManagedAccess", "description": "Comes with the realm",
		"document": allowAllDoc, "managed": true, "createdAt": now, "updatedAt": now,
	})
	require.NoError(t, err)
	p := policyEntity.get(t, realm, id)
	require.NotNil(t, p.Managed)
	require.True(t, *p.Managed)

	for _, body := range []any{
		map[string]any{"description": "mine now"},
		map[string]any{"name": "Renamed"},
		map[string]any{"document": json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)},
	} {
		r := call(t, "PATCH", policyEntity.itemPath(realm, id), env.AdminToken, body)
		requireProblem(t, r, http.StatusConflict, "managed_policy", "")
	}
	r := call(t, "DELETE", policyEntity.itemPath(realm, id), env.AdminToken, nil)
	requireProblem(t, r, http.StatusConflict, "managed_policy", "")
	require.Equal(t, p, policyEntity.get(t, realm, id), "unchanged")

	acct := accountOwner(t, realm, "holder")
	attach(t, accountPath(realm, acct)+"/policies/"+id)
	require.Equal(t, []refBody{{ID: id, Name: "TestManagedAccess"}}, listRefs(t, accountPath(realm, acct)+"/policies"))
	r = call(t, "DELETE", policyEntity.itemPath(realm, id), env.AdminToken, nil)
	requireProblem(t, r, http.StatusConflict, "managed_policy", "")
	require.Len(t, listRefs(t, accountPath(realm, acct)+"/policies"), 1, "a refused delete detaches nothing")
	detach(t, accountPath(realm, acct)+"/policies/"+id)
	require.Empty(t, listRefs(t, accountPath(realm, acct)+"/policies"))

	// An unknown id is a 404, not a managed_policy conflict.
	r = call(t, "PATCH", policyEntity.itemPath(realm, "nosuchpolicy"), env.AdminToken, map[string]any{"description": "x"})
	requireProblem(t, r, http.StatusNotFound, "policy_not_found", "")
}

// TestManagedPoliciesFollowTheCode checks that a start brings every realm's
// managed policies to the documents the code defines, as AWS updates its
// managed policies everywhere: a realm created by an older version (an
// older document, a managed policy missing, an older schema version
// recorded) gets the current ones. Not parallel: Bootstrap sweeps databases
// of realms being created.
func TestManagedPoliciesFollowTheCode(t *testing.T) {
	ctx := context.Background()
	realm := newRealm(t)
	id := managedPolicyID(t, realm, "ReadOnlyAccess")
	want := policyEntity.get(t, realm, id)
	_, err := tenant.DB(env.Client, realm).Collection("policies").UpdateOne(ctx, bson.M{"_id": id},
		bson.M{"$set": bson.M{"document": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`}})
	require.NoError(t, err)
	_, err = tenant.DB(env.Client, realm).Collection("policies").DeleteOne(ctx, bson.M{"name": "SelfService"})
	require.NoError(t, err)
	_, err = env.Deps.Core.Collection("realms").UpdateOne(ctx, bson.M{"_id": realm},
		bson.M{"$set": bson.M{"schemaVersion": "older"}})
	require.NoError(t, err)

	_, err = env.Realms.Bootstrap(ctx, adminEmail, adminPassword)
	require.NoError(t, err)
	got := policyEntity.get(t, realm, id)
	require.JSONEq(t, string(want.Document), string(got.Document))
	require.NotEmpty(t, managedPolicyID(t, realm, "SelfService"), "recreated")
}
