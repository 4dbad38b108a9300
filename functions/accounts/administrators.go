package accounts

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/realmiam/realmiam/shared/mongodb"
	"github.com/realmiam/realmiam/shared/problem"
	"github.com/realmiam/realmiam/shared/tenant"
)

// The service must keep an administrator: disabling or deleting the last
// enabled system account that holds SystemAdministratorAccess directly, or
// detaching the policy from it, is refused, since nobody could administer the
// service afterwards. The check and the change run under a lock document in
// the system realm, so two requests that each remove one of the last two
// administrators cannot both pass the check (there are no multi-document
// transactions to lean on, DESIGN.md §5).

const (
	adminLockTTL  = 10 * time.Second // a crashed holder blocks others at most this long
	adminLockWait = 5 * time.Second  // how long a request waits for the lock
)

// keepAnAdministrator takes the administrator lock and refuses (Conflict,
// last_administrator) when account id is the last enabled direct holder of
// SystemAdministratorAccess. On success the caller makes its change and then
// calls release. Outside the system realm it does nothing.
func (s *Server) keepAnAdministrator(ctx context.Context, realmID, id string) (release func(), err error) {
	if realmID != tenant.System {
		return func() {}, nil
	}
	unlock, err := s.lockAdministrators(ctx)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			unlock()
		}
	}()
	admin, err := s.systemAdministratorPolicy(ctx)
	if err != nil {
		return nil, err
	}
	n, err := s.db(realmID).Collection("accounts").CountDocuments(ctx,
		bson.M{"_id": bson.M{"$ne": id}, "enabled": true, "policies": admin}, options.Count().SetLimit(1))
	if err != nil {
		return nil, fmt.Errorf("accounts.keepAnAdministrator: %w", mongodb.Map(err))
	}
	if n == 0 {
		return nil, problem.New(problem.Conflict, "last_administrator",
			"This is the last enabled system administrator; give another account SystemAdministratorAccess first.")
	}
	return unlock, nil
}

// lockAdministrators takes the system realm's administrator lock: one
// document, taken by an upsert that matches only when it is free or expired
// (a held lock makes the upsert's insert fail as a duplicate). It waits up to
// adminLockWait, then answers Conflict.
func (s *Server) lockAdministrators(ctx context.Context) (release func(), err error) {
	locks := s.db(tenant.System).Collection("locks")
	owner := rand.Text()
	deadline := s.now().Add(adminLockWait)
	for {
		now := s.now().UTC()
		_, err := locks.UpdateOne(ctx,
			bson.M{"_id": "administrators", "until": bson.M{"$lt": now}},
			bson.M{"$set": bson.M{"owner": owner, "until": now.Add(adminLockTTL)}},
			options.UpdateOne().SetUpsert(true))
		switch {
		case err == nil:
			return func() {
				_, _ = locks.DeleteOne(context.WithoutCancel(ctx), bson.M{"_id": "administrators", "owner": owner})
			}, nil
		case !mongodb.IsDuplicate(err):
			return nil, fmt.Errorf("accounts.lockAdministrators: %w", mongodb.Map(err))
		case s.now().After(deadline):
			return nil, problem.New(problem.Conflict, "concurrent_update",
				"Another change to the system administrators is under way; retry.")
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// systemAdministratorPolicy is the id of the system realm's
// SystemAdministratorAccess policy.
func (s *Server) systemAdministratorPolicy(ctx context.Context) (string, error) {
	var p struct {
		ID string `bson:"_id"`
	}
	err := s.db(tenant.System).Collection("policies").FindOne(ctx, bson.M{"name": "SystemAdministratorAccess", "managed": true},
		options.FindOne().SetProjection(bson.M{"_id": 1})).Decode(&p)
	if err != nil {
		return "", fmt.Errorf("accounts.systemAdministratorPolicy: %w", mongodb.Map(err))
	}
	return p.ID, nil
}
