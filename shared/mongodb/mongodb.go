// Package mongodb provides Realm IAM's MongoDB plumbing: one client per
// process, the indexes of a realm's database, driver-error mapping onto
// problem kinds, server-generated ids and opaque list cursors.
//
// Queries themselves live with the function that owns the data.
package mongodb

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"github.com/realmiam/realmiam/shared/problem"
)

// Connect creates the process's client and checks the server answers, so
// that the first connection is open before the first request.
// With embedded=true the pool holds one connection: the embedded store loses
// concurrent updates otherwise (DESIGN.md §10). extra options apply after
// the defaults (tests add a command monitor, Lambda functions LambdaPool),
// but never widen an embedded store's pool.
func Connect(ctx context.Context, uri string, embedded bool, extra ...*options.ClientOptions) (*mongo.Client, error) {
	opts := append([]*options.ClientOptions{options.Client().ApplyURI(uri).
		SetAppName("realmiam").
		SetServerSelectionTimeout(5 * time.Second).
		SetTimeout(10 * time.Second)}, extra...)
	if embedded {
		opts = append(opts, options.Client().SetMaxPoolSize(1))
	}
	c, err := mongo.Connect(opts...)
	if err != nil {
		return nil, fmt.Errorf("mongodb.Connect: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.Ping(pctx, nil); err != nil {
		_ = c.Disconnect(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("mongodb.Connect: %w", Map(err))
	}
	return c, nil
}

// LambdaPool sizes the connection pool for a Lambda instance, which serves
// one invocation at a time with handlers that query one after another: at
// most two connections (one in use, one spare for a query made while a
// cursor is open), since every instance's pool counts against the
// cluster's connection limit. Idle connections are dropped after four
// minutes, before the 350 s after which AWS NAT gateways and Lambda's VPC
// network silently forget an idle TCP flow; a warm instance that was busy
// more recently reuses its connection. A frozen instance runs no timers:
// the driver checks idle time when it takes a connection from the pool.
func LambdaPool() *options.ClientOptions {
	return options.Client().SetMaxPoolSize(LambdaMaxPoolSize).SetMaxConnIdleTime(LambdaMaxConnIdleTime)
}

// The pool sizes of LambdaPool.
const (
	LambdaMaxPoolSize     = 2
	LambdaMaxConnIdleTime = 4 * time.Minute
)

// Map turns driver errors into problem kinds: no documents → NotFound,
// duplicate key (also FerretDB's "UNIQUE constraint failed" from updates) →
// Conflict, server selection, network and timeout failures → Unavailable.
// Anything else is returned unchanged and reaches clients as an internal
// error. The driver's text stays in the cause, for logs only.
func Map(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return &problem.Error{Kind: problem.NotFound, Code: "not_found", Detail: "Not found.", Err: err}
	case IsDuplicate(err):
		return &problem.Error{Kind: problem.Conflict, Code: "conflict", Detail: "Already exists.", Err: err}
	case isUnavailable(err):
		return &problem.Error{Kind: problem.Unavailable, Code: "database_unavailable",
			Detail: "The database is unavailable; retry later.", RetryAfter: 5, Err: err}
	}
	return err
}

// IsDuplicate reports a unique-index violation, in MongoDB's form (11000) or
// the one the embedded store returns for updates.
func IsDuplicate(err error) bool {
	if mongo.IsDuplicateKeyError(err) {
		return true
	}
	var ce mongo.CommandError
	if errors.As(err, &ce) && strings.Contains(ce.Message, "UNIQUE constraint failed") {
		return true
	}
	var we mongo.WriteException
	if errors.As(err, &we) {
		for _, e := range we.WriteErrors {
			if strings.Contains(e.Message, "UNIQUE constraint failed") {
				return true
			}
		}
	}
	return false
}

func isUnavailable(err error) bool {
	var sse topology.ServerSelectionError
	return errors.As(err, &sse) ||
		mongo.IsNetworkError(err) ||
		mongo.IsTimeout(err) ||
		errors.Is(err, mongo.ErrClientDisconnected) ||
		errors.Is(err, context.DeadlineExceeded)
}

// NewID returns a fresh server-generated id: 26 characters of lower-case
// base32, 130 random bits.
func NewID() string {
	return strings.ToLower(rand.Text())
}

// Index names one index of a realm collection.
type Index struct {
	Collection string
	Keys       bson.D
	Unique     bool
}

// RealmIndexes are the indexes of every realm database, created when the realm
// is created. Functions that add collections add their indexes here.
var RealmIndexes = []Index{
	{Collection: "accounts", Keys: bson.D{{Key: "email", Value: 1}}, Unique: true},
	{Collection: "groups", Keys: bson.D{{Key: "name", Value: 1}}, Unique: true},
	{Collection: "roles", Keys: bson.D{{Key: "name", Value: 1}}, Unique: true},
	{Collection: "policies", Keys: bson.D{{Key: "name", Value: 1}}, Unique: true},
	// Multikey indexes on the attachment lists: who holds an id (deleting
	// detaches it everywhere). With email, the first also serves a group's
	// members in email order.
	{Collection: "accounts", Keys: bson.D{{Key: "groups", Value: 1}, {Key: "email", Value: 1}}},
	{Collection: "accounts", Keys: bson.D{{Key: "roles", Value: 1}}},
	{Collection: "accounts", Keys: bson.D{{Key: "policies", Value: 1}}},
	{Collection: "groups", Keys: bson.D{{Key: "roles", Value: 1}}},
	{Collection: "groups", Keys: bson.D{{Key: "policies", Value: 1}}},
	{Collection: "roles", Keys: bson.D{{Key: "policies", Value: 1}}},
	{Collection: "refresh_tokens", Keys: bson.D{{Key: "family", Value: 1}}},
	{Collection: "refresh_tokens", Keys: bson.D{{Key: "accountId", Value: 1}}},
}

// EnsureRealmIndexes creates RealmIndexes in db. It is idempotent. Indexes
// are created one command each: the embedded store (FerretDB v1.24) panics on
// a createIndexes of several indexes that already exist.
func EnsureRealmIndexes(ctx context.Context, db *mongo.Database) error {
	for _, ix := range RealmIndexes {
		m := mongo.IndexModel{Keys: ix.Keys}
		if ix.Unique {
			m.Options = options.Index().SetUnique(true)
		}
		if _, err := db.Collection(ix.Collection).Indexes().CreateOne(ctx, m); err != nil {
			return fmt.Errorf("mongodb.EnsureRealmIndexes(%s): %w", ix.Collection, Map(err))
		}
	}
	return nil
}
