package realms

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/realmiam/realmiam/functions/accounts"
	"github.com/realmiam/realmiam/shared/mongodb"
	"github.com/realmiam/realmiam/shared/problem"
	"github.com/realmiam/realmiam/shared/tenant"
)

// Bootstrap makes sure the system realm and an administrator exist, and drops
// orphaned realm databases (see SweepOrphans). It is idempotent and safe to
// run at every start: when the system realm already has an account it
// creates nothing. It returns the administrator's password when it created
// the administrator with a generated one (pass password ""), so that the
// caller can show it once.
func (s *Server) Bootstrap(ctx context.Context, email, password string) (generated string, err error) {
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
	db := s.d.RealmDB(tenant.System)
	n, err := db.Collection("accounts").CountDocuments(ctx, bson.M{}, nil)
	if err != nil {
		return "", fmt.Errorf("realms.Bootstrap: %w", mongodb.Map(err))
	}
	if n > 0 {
		return "", nil
	}
	if password == "" {
		password = generatePassword()
		generated = password
	}
	_, err = accounts.Create(ctx, db, s.d.Hasher, realm.Settings.PasswordPolicy, s.now(),
		accounts.NewAccount{Email: email, Password: password, Enabled: true})
	if err != nil {
		if problem.Is(err, problem.Invalid) {
			return "", fmt.Errorf("IAM_ADMIN_EMAIL / IAM_ADMIN_PASSWORD: %w", err)
		}
		if problem.Is(err, problem.Conflict) { // created concurrently
			return "", nil
		}
		return "", fmt.Errorf("realms.Bootstrap: %w", err)
	}
	return generated, nil
}

// generatePassword makes a 30-character password with upper- and lower-case
// letters and digits, which satisfies the default policy.
func generatePassword() string {
	t := rand.Text() // 26 characters of A–Z and 2–7
	return strings.ToLower(t[:13]) + "-" + t[13:] + "-9"
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
