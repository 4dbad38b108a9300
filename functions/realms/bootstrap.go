package realms

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
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
// administrator exist, brings realms created by older versions up to date
// (see upgradeRealms), and, on the embedded store only, drops orphaned
// realm databases (see SweepOrphans). It is idempotent and safe to run at every start, also in
// several processes at once, and converges after a crash at any step:
//   - without any system account, it creates the IAM_ADMIN_EMAIL account
//     (with password, or a generated one that it returns so that the caller
//     can show it once);
//   - when no system account holds SystemAdministratorAccess, the
//     IAM_ADMIN_EMAIL account gets it, so the service always has a way in;
//   - when SystemAdministratorAccess is new to an existing system realm
//     (data from before policies, when every system account administered),
//     every system account gets it.
func (s *Server) Bootstrap(ctx context.Context, adminEmail, adminPassword string) (generated string, err error) {
	return s.bootstrap(ctx, adminEmail, adminPassword, true)
}

// Init is the realms function's start when it runs on its own (serve.Main
// calls it once per process, before serving; on Lambda once per cold
// start): Bootstrap with IAM_ADMIN_EMAIL and IAM_ADMIN_PASSWORD. Unlike the
// local server it never generates the first administrator's password, which
// it could only show in the logs: without any system account and without
// IAM_ADMIN_PASSWORD it fails, and the function does not start. On a store
// that is up to date it costs a constant handful of round trips, whatever
// the number of realms (see upgradeRealms).
func (s *Server) Init(ctx context.Context) error {
	_, err := s.bootstrap(ctx, s.d.Config.AdminEmail, s.d.Config.AdminPassword, false)
	return err
}

// ErrNoAdminPassword is Init's error on a store without any system account
// when IAM_ADMIN_PASSWORD is not set.
var ErrNoAdminPassword = errors.New("realms: IAM_ADMIN_PASSWORD is required to create the first system administrator")

func (s *Server) bootstrap(ctx context.Context, adminEmail, adminPassword string, mayGenerate bool) (generated string, err error) {
	// Only the embedded store (MONGODB_URI unset: local runs) is known to
	// hold this deployment's databases alone. A real cluster may hold
	// another deployment's (another IAM_CORE_DB), or this one's under a
	// mistyped IAM_CORE_DB: nothing there is ever dropped at start.
	if s.d.Config.MongoURI == "" {
		if err := s.SweepOrphans(ctx); err != nil {
			return "", err
		}
	}
	realm, err := s.find(ctx, tenant.System)
	if problem.Is(err, problem.NotFound) {
		if err := s.refuseForeignSystemRealm(ctx); err != nil {
			return "", err
		}
		realm, err = s.Create(ctx, tenant.System, "System", tenant.DefaultSettings())
		if problem.Is(err, problem.Conflict) { // created concurrently
			realm, err = s.find(ctx, tenant.System)
		}
	}
	if err != nil {
		return "", fmt.Errorf("realms.Bootstrap: %w", err)
	}
	// The system realm is upgraded with the others; what that creates in it
	// tells whether SystemAdministratorAccess is new to it.
	created, err := s.upgradeRealms(ctx)
	if err != nil {
		return "", err
	}
	db := s.d.RealmDB(tenant.System)
	accountsColl := db.Collection("accounts")
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
		if adminPassword == "" && !mayGenerate {
			return "", ErrNoAdminPassword
		}
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

// refuseForeignSystemRealm is called when the registry has no system realm,
// before one is created: if the cluster already holds a system realm
// database, it belongs to a registry other than IAM_CORE_DB (another
// deployment, or a wrong IAM_CORE_DB). Creating the realm over it would take
// that deployment's administrator away, so the start fails instead. Realm
// databases are named by realm id alone (tenant.DBName): one cluster holds
// one deployment.
func (s *Server) refuseForeignSystemRealm(ctx context.Context) error {
	names, err := s.d.Client.ListDatabaseNames(ctx, bson.M{"name": tenant.DBName(tenant.System)})
	if err != nil {
		return fmt.Errorf("realms.Bootstrap: %w", mongodb.Map(err))
	}
	if len(names) > 0 {
		return fmt.Errorf("realms: IAM_CORE_DB %q has no system realm, but the server holds its database %s: "+
			"another deployment uses this server, or IAM_CORE_DB is wrong; refusing to start", s.d.Config.CoreDB, names[0])
	}
	return nil
}

// generatePassword makes a 30-character password with upper- and lower-case
// letters and digits, which satisfies the default policy.
func generatePassword() string {
	t := rand.Text() // 26 characters of A–Z and 2–7
	return strings.ToLower(t[:13]) + "-" + t[13:] + "-9"
}

// upgradeRealms brings every realm's database to this version: indexes and
// managed policies added or changed since the realm was created or last
// upgraded. Each realm records the schema version it was brought to, so a
// start on an up-to-date store reads the realms collection once and writes
// nothing, however many realms there are; a realm created by an older
// version (or whose upgrade was interrupted) is upgraded at the next start.
// Both steps are idempotent; ensureManaged relies on the unique name index.
// It returns the managed policies it created in the system realm.
func (s *Server) upgradeRealms(ctx context.Context) (systemCreated map[string]string, err error) {
	cur, err := s.realms.Find(ctx, bson.M{"schemaVersion": bson.M{"$ne": s.schemaVersion}},
		options.Find().SetProjection(bson.M{"_id": 1}))
	if err != nil {
		return nil, fmt.Errorf("realms.upgradeRealms: %w", mongodb.Map(err))
	}
	var ids []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &ids); err != nil {
		return nil, fmt.Errorf("realms.upgradeRealms: %w", mongodb.Map(err))
	}
	for _, r := range ids {
		created, err := s.upgradeRealm(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		if r.ID == tenant.System {
			systemCreated = created
		}
	}
	return systemCreated, nil
}

// upgradeRealm brings one realm's indexes and managed policies to this
// version, then records it.
func (s *Server) upgradeRealm(ctx context.Context, id string) (created map[string]string, err error) {
	if err := mongodb.EnsureRealmIndexes(ctx, s.d.RealmDB(id)); err != nil {
		return nil, err
	}
	if created, err = s.ensureManaged(ctx, id); err != nil {
		return nil, err
	}
	if _, err := s.realms.UpdateOne(ctx, bson.M{"_id": id}, bson.M{"$set": bson.M{"schemaVersion": s.schemaVersion}}); err != nil {
		return nil, fmt.Errorf("realms.upgradeRealm: %w", mongodb.Map(err))
	}
	return created, nil
}

// schemaVersion fingerprints what upgradeRealm puts in a realm's database:
// the realm indexes and the managed policies. Changing either changes it, so
// the next start upgrades every realm without anyone bumping a number.
func schemaVersion() string {
	h := sha256.New()
	for _, ix := range mongodb.RealmIndexes {
		fmt.Fprintf(h, "index %q %v %v\n", ix.Collection, ix.Keys, ix.Unique)
	}
	for _, m := range append([]managedPolicy{systemPolicy}, managedPolicies...) {
		fmt.Fprintf(h, "policy %q %q %q\n", m.name, m.description, compact(m.document))
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// SweepOrphans drops realm databases whose realm no longer exists. Deleting a
// realm removes its document and then drops its database, but a write that
// resolved the realm just before the delete (in this process or, within the
// realm cache's TTL, in another) can recreate the database afterwards. Such
// leftovers hold accounts and keys nobody can reach; they are dropped here at
// start-up, and when a realm of the same id is created again. It lists the
// databases and then the realms, two round trips whatever their number: a
// realm is created (its document inserted) before its database, so every
// database listed whose realm exists has its realm in the second list.
func (s *Server) SweepOrphans(ctx context.Context) error {
	names, err := s.d.Client.ListDatabaseNames(ctx, bson.M{})
	if err != nil {
		return fmt.Errorf("realms.SweepOrphans: %w", mongodb.Map(err))
	}
	cur, err := s.realms.Find(ctx, bson.M{}, options.Find().SetProjection(bson.M{"_id": 1}))
	if err != nil {
		return fmt.Errorf("realms.SweepOrphans: %w", mongodb.Map(err))
	}
	var realms []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &realms); err != nil {
		return fmt.Errorf("realms.SweepOrphans: %w", mongodb.Map(err))
	}
	live := make(map[string]bool, len(realms))
	for _, r := range realms {
		live[r.ID] = true
	}
	for _, name := range names {
		if id, ok := tenant.IDOfDB(name); !ok || live[id] {
			continue
		}
		if err := s.d.Client.Database(name).Drop(ctx); err != nil {
			return fmt.Errorf("realms.SweepOrphans: %w", mongodb.Map(err))
		}
	}
	return nil
}
