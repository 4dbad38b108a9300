package realms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/realmiam/realmiam/shared/mongodb"
	"github.com/realmiam/realmiam/shared/problem"
	"github.com/realmiam/realmiam/shared/tenant"
)

// SystemAdministratorAccess is the managed policy of the system realm that
// covers every realm. The bootstrap administrator holds it.
const SystemAdministratorAccess = "SystemAdministratorAccess"

// managedPolicy is a policy every realm gets at creation. Managed policies
// can be attached but not changed or deleted. REALM in a document stands for
// the realm's id.
type managedPolicy struct {
	name, description, document string
}

var managedPolicies = []managedPolicy{
	{
		name:        "RealmAdministratorAccess",
		description: "Everything in this realm, and reading and changing the realm's settings.",
		document: `{"Version":"2012-10-17","Statement":[
			{"Sid":"RealmAdministrator","Effect":"Allow","Action":"iam:*","Resource":"irn:iam:REALM:*"},
			{"Sid":"RealmSettings","Effect":"Allow","Action":["iam:GetRealm","iam:UpdateRealm"],"Resource":"irn:iam:system:realm/REALM"}]}`,
	},
	{
		name:        "ReadOnlyAccess",
		description: "Read everything in this realm, and the realm's settings.",
		document: `{"Version":"2012-10-17","Statement":[
			{"Sid":"ReadOnly","Effect":"Allow","Action":["iam:Get*","iam:List*"],"Resource":"irn:iam:REALM:*"},
			{"Sid":"RealmSettings","Effect":"Allow","Action":"iam:GetRealm","Resource":"irn:iam:system:realm/REALM"}]}`,
	},
	{
		name:        "SelfService",
		description: "Read the caller's own account and set its own password.",
		document: `{"Version":"2012-10-17","Statement":[
			{"Sid":"SelfService","Effect":"Allow","Action":["iam:GetAccount","iam:SetAccountPassword"],"Resource":"irn:iam:REALM:account/${iam:userid}"}]}`,
	},
}

var systemPolicy = managedPolicy{
	name:        SystemAdministratorAccess,
	description: "Everything in every realm, and the realms themselves.",
	document:    `{"Version":"2012-10-17","Statement":[{"Sid":"SystemAdministrator","Effect":"Allow","Action":"iam:*","Resource":"*"}]}`,
}

// policyDoc is a document of a realm's policies collection.
type policyDoc struct {
	ID          string    `bson:"_id"`
	Name        string    `bson:"name"`
	Description string    `bson:"description"`
	Document    string    `bson:"document"`
	Managed     bool      `bson:"managed"`
	CreatedAt   time.Time `bson:"createdAt"`
	UpdatedAt   time.Time `bson:"updatedAt"`
}

// ensureManaged creates realmID's managed policies that are missing (by
// name), brings the documents of existing ones up to date, and returns the
// ids of those it created. It is idempotent, so that realms created before a
// managed policy existed or changed get it at the next start, the way AWS
// updates its managed policies in every account.
func (s *Server) ensureManaged(ctx context.Context, realmID string) (created map[string]string, err error) {
	list := managedPolicies
	if realmID == tenant.System {
		list = append([]managedPolicy{systemPolicy}, managedPolicies...)
	}
	coll := s.d.RealmDB(realmID).Collection("policies")
	created = map[string]string{}
	now := s.now().UTC().Truncate(time.Millisecond)
	for _, m := range list {
		doc := policyDoc{
			ID:          mongodb.NewID(),
			Name:        m.name,
			Description: m.description,
			Document:    compact(strings.ReplaceAll(m.document, "REALM", realmID)),
			Managed:     true,
			CreatedAt:   now,
			UpdatedAt:   now,
		}
		_, err := coll.InsertOne(ctx, doc)
		switch {
		case mongodb.IsDuplicate(err): // exists (by name): update it if it changed
			_, err = coll.UpdateOne(ctx,
				bson.M{"name": m.name, "managed": true, "document": bson.M{"$ne": doc.Document}},
				bson.M{"$set": bson.M{"document": doc.Document, "description": doc.Description, "updatedAt": now}})
			if err != nil {
				return nil, fmt.Errorf("realms.ensureManaged: %w", mongodb.Map(err))
			}
		case err != nil:
			return nil, fmt.Errorf("realms.ensureManaged: %w", mongodb.Map(err))
		default:
			created[m.name] = doc.ID
		}
	}
	return created, nil
}

// compact removes the layout white space of the documents above.
func compact(doc string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(doc)); err != nil {
		panic("realms: managed policy is not JSON: " + err.Error()) // a programming error, caught by every test
	}
	return b.String()
}

// findPolicyID is the id of realmID's policy called name.
func (s *Server) findPolicyID(ctx context.Context, realmID, name string) (string, error) {
	var p policyDoc
	err := s.d.RealmDB(realmID).Collection("policies").FindOne(ctx, bson.M{"name": name}).Decode(&p)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", problem.Newf(problem.Internal, "internal_error", "managed policy %s is missing", name)
	}
	if err != nil {
		return "", fmt.Errorf("realms.findPolicyID: %w", mongodb.Map(err))
	}
	return p.ID, nil
}
