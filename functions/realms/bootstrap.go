package realms

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/realmiam/realmiam/functions/accounts"
	"github.com/realmiam/realmiam/shared/email"
	"github.com/realmiam/realmiam/shared/mongodb"
	"github.com/realmiam/realmiam/shared/problem"
	"github.com/realmiam/realmiam/shared/tenant"
)

// Bootstrap makes sure the system realm, its managed policies and an
// administrator exist, and drops orphaned realm databases (see SweepOrphans).
// It is idempotent and safe to run at every start, and converges after a
// crash at any step:
//   - without any system account, it creates the IAM_ADMIN_EMAIL account
//     (with password, or a generated one that it returns so that the caller
//     can show it once);
//   - when no system account holds SystemAdministratorAccess, the
//     IAM_ADMIN_EMAIL account gets it, so the service always has a way in;
//   - when SystemAdministratorAccess is new to an existing system realm
//     (data from before policies, when every system account administered),
//     every system account gets it.
func (s *Server) Bootstrap(ctx context.Context, adminEmail, adminPassword string) (generated string, err error) {
	if err := s.SweepOrphans(ctx); err != nil {
		return "", err
	}
	realm, err := s.find(ctx, tenant.System)
	if problem.Is(err, problem.NotFound) {
		realm, err = s.Create(ctx, tenant.System, "System", tenant.DefaultSettings())
		if problem.Is(err, problem.Conflict) { // created concurrently
			realm, err = s.find(ctx, tenant.System)
		}
	}
	if err != nil {
		return "", fmt.Errorf("realms.Bootstrap: %w", err)
	}
	if err := s.upgradeRealms(ctx); err != nil {
		return "", err
	}
	db := s.d.RealmDB(tenant.System)
	accountsColl := db.Collection("accounts")
	created, err := s.ensureManaged(ctx, tenant.System)
	if err != nil {
		return "", err
	}
	policyID, err := s.findPolicyID(ctx, tenant.System, SystemAdministratorAccess)
	if err != nil {
		return "", err
	}
	if _, isNew := created[SystemAdministratorAccess]; isNew {
		if _, err := accountsColl.UpdateMany(ctx, bson.M{}, bson.M{"$addToSet": bson.M{"policies": policyID}}); err != nil {
			return "", fmt.Errorf("realms.Bootstrap: %w", mongodb.Map(err))
		}
	}

	n, err := accountsColl.CountDocuments(ctx, bson.M{})
	if err != nil {
		return "", fmt.Errorf("realms.Bootstrap: %w", mongodb.Map(err))
	}
	if n == 0 {
		if adminPassword == "" {
			adminPassword = generatePassword()
			generated = adminPassword
		}
		_, err = accounts.Create(ctx, db, s.d.Hasher, realm.Settings.PasswordPolicy, s.now(),
			accounts.NewAccount{Email: adminEmail, Password: adminPassword, Enabled: true})
		switch {
		case problem.Is(err, problem.Invalid):
			return "", fmt.Errorf("IAM_ADMIN_EMAIL / IAM_ADMIN_PASSWORD: %w", err)
		case problem.Is(err, problem.Conflict): // created concurrently
			generated = ""
		case err != nil:
			return "", fmt.Errorf("realms.Bootstrap: %w", err)
		}
	}

	admins, err := accountsColl.CountDocuments(ctx, bson.M{"policies": policyID})
	if err != nil {
		return "", fmt.Errorf("realms.Bootstrap: %w", mongodb.Map(err))
	}
	if admins == 0 {
		if _, err := accountsColl.UpdateOne(ctx, bson.M{"email": email.Normalize(adminEmail)},
			bson.M{"$addToSet": bson.M{"policies": policyID}}); err != nil {
			return "", fmt.Errorf("realms.Bootstrap: %w", mongodb.Map(err))
		}
	}
	return generated, nil
}

// generatePassword makes a 30-character password with upper- and lower-case
// letters and digits, which satisfies the default policy.
func generatePassword() string {
	t := rand.Text() // 26 characters of A–Z and 2–7
	return strings.ToLower(t[:13]) + "-" + t[13:] + "-9"
}

// upgradeRealms brings every realm's database to this version: indexes and
// managed policies added since the realm was created. Both steps are
// idempotent; ensureManaged relies on the unique name index.
func (s *Server) upgradeRealms(ctx context.Context) error {
	cur, err := s.realms.Find(ctx, bson.M{}, options.Find().SetProjection(bson.M{"_id": 1}))
	if err != nil {
		return fmt.Errorf("realms.upgradeRealms: %w", mongodb.Map(err))
	}
	var ids []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &ids); err != nil {
		return fmt.Errorf("realms.upgradeRealms: %w", mongodb.Map(err))
	}
	for _, r := range ids {
		if err := mongodb.EnsureRealmIndexes(ctx, s.d.RealmDB(r.ID)); err != nil {
			return err
		}
		if _, err := s.ensureManaged(ctx, r.ID); err != nil {
			return err
		}
	}
	return nil
}

// SweepOrphans drops realm databases whose realm no longer exists. Deleting a
// realm removes its document and then drops its database, but a write that
// resolved the realm just before the delete (in this process or, within the
// realm cache's TTL, in another) can recreate the database afterwards. Such
// leftovers hold accounts and keys nobody can reach; they are dropped here at
// start-up, and when a realm of the same id is created again.
func (s *Server) SweepOrphans(ctx context.Context) error {
	names, err := s.d.Client.ListDatabaseNames(ctx, bson.M{})
	if err != nil {
		return fmt.Errorf("realms.SweepOrphans: %w", mongodb.Map(err))
	}
	for _, name := range names {
		id, ok := tenant.IDOfDB(name)
		if !ok {
			continue
		}
		if _, err := s.find(ctx, id); !problem.Is(err, problem.NotFound) {
			if err != nil {
				return err
			}
			continue
		}
		if err := s.d.Client.Database(name).Drop(ctx); err != nil {
			return fmt.Errorf("realms.SweepOrphans: %w", mongodb.Map(err))
		}
	}
	return nil
}
