package tests

import (
	"context"
	"crypto/rand"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/realmiam/realmiam/functions/realms"
	"github.com/realmiam/realmiam/local/embedded"
	"github.com/realmiam/realmiam/shared/mongodb"
	"github.com/realmiam/realmiam/shared/serve"
	"github.com/realmiam/realmiam/shared/tenant"
)

// newBootstrapStore is a fresh store with a realms function over it, and a
// count of the commands its client sends.
func newBootstrapStore(t *testing.T, cfg serve.Config) (*realms.Server, *serve.Deps, *atomic.Int64) {
	t.Helper()
	ctx := context.Background()
	store, err := embedded.StartTemp(ctx)
	require.NoError(t, err)
	t.Cleanup(store.Close)
	var commands atomic.Int64
	client, err := mongodb.Connect(ctx, store.URI(), true, options.Client().SetMonitor(&event.CommandMonitor{
		Started: func(context.Context, *event.CommandStartedEvent) { commands.Add(1) },
	}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Disconnect(ctx) })
	cfg.MasterKey = make([]byte, 32)
	_, _ = rand.Read(cfg.MasterKey)
	d, err := serve.NewDeps(cfg, client, serve.NewLogger(&syncBuffer{}, 0))
	require.NoError(t, err)
	fn, err := realms.New(d)
	require.NoError(t, err)
	return fn, d, &commands
}

// A deployed realms function bootstraps at every cold start, so a start on
// an up-to-date store must not cost round trips per realm.
func TestBootstrapCostDoesNotGrowWithRealms(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fn, _, commands := newBootstrapStore(t, env.Deps.Config)
	require.NoError(t, fn.Init(ctx))

	startCost := func() int64 {
		before := commands.Load()
		require.NoError(t, fn.Init(ctx))
		return commands.Load() - before
	}
	create := func(n int) {
		for range n {
			_, err := fn.Create(ctx, uniqueID("b-"), "", tenant.DefaultSettings())
			require.NoError(t, err)
		}
	}
	create(2)
	few := startCost()
	create(6)
	many := startCost()
	require.Equal(t, few, many, "round trips of a start with 3 and with 9 realms")
	require.LessOrEqual(t, many, int64(8))
	t.Logf("a start on an up-to-date store: %d round trips", many)
}

// Init never makes up a password it could only log: without any system
// account it needs IAM_ADMIN_PASSWORD. Once an administrator exists, it
// starts without one.
func TestInitNeedsAdminPasswordOnlyForTheFirstStart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := env.Deps.Config
	cfg.AdminPassword = ""
	fn, _, _ := newBootstrapStore(t, cfg)
	require.ErrorIs(t, fn.Init(ctx), realms.ErrNoAdminPassword)

	cfg.AdminPassword = adminPassword
	withPassword, _, _ := newBootstrapStore(t, cfg)
	require.NoError(t, withPassword.Init(ctx))
	require.NoError(t, withPassword.Init(ctx), "idempotent")
}

// A system realm from before policies gets SystemAdministratorAccess, and
// every one of its accounts holds it (they all administered then).
func TestBootstrapGivesOldSystemAccountsAdministration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fn, d, _ := newBootstrapStore(t, env.Deps.Config)
	require.NoError(t, fn.Init(ctx))
	// Make it look like the old version's: no managed policies, no
	// attachments, no schema version, a second account.
	db := d.RealmDB(tenant.System)
	_, err := db.Collection("policies").DeleteMany(ctx, bson.M{})
	require.NoError(t, err)
	_, err = db.Collection("accounts").UpdateMany(ctx, bson.M{}, bson.M{"$set": bson.M{"policies": bson.A{}}})
	require.NoError(t, err)
	_, err = db.Collection("accounts").InsertOne(ctx, bson.M{"_id": "second", "email": "second@example.com",
		"passwordHash": "x", "enabled": true, "policies": bson.A{}})
	require.NoError(t, err)
	_, err = d.Core.Collection("realms").UpdateOne(ctx, bson.M{"_id": tenant.System}, bson.M{"$unset": bson.M{"schemaVersion": ""}})
	require.NoError(t, err)

	require.NoError(t, fn.Init(ctx))
	var p struct {
		ID string `bson:"_id"`
	}
	require.NoError(t, db.Collection("policies").FindOne(ctx, bson.M{"name": realms.SystemAdministratorAccess}).Decode(&p))
	n, err := db.Collection("accounts").CountDocuments(ctx, bson.M{"policies": p.ID})
	require.NoError(t, err)
	require.EqualValues(t, 2, n, "both system accounts administer")
}

// A realms function started with another IAM_CORE_DB on a server that holds
// a deployment (a second stack on one cluster, a mistyped parameter) must
// neither drop that deployment's realm databases nor create a system realm
// over its administrator: it refuses to start (found by an exploratory test,
// which lost every realm and the administrator that way).
func TestBootstrapLeavesAnotherRegistrysDatabasesAlone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := env.Deps.Config
	cfg.CoreDB = uniqueID("prod_")
	cfg.MongoURI = "mongodb://cluster.example.net/" // a real server: no sweeping
	prod, d, _ := newBootstrapStore(t, cfg)
	require.NoError(t, prod.Init(ctx))
	realm := uniqueID("keep-")
	_, err := prod.Create(ctx, realm, "", tenant.DefaultSettings())
	require.NoError(t, err)
	before, err := d.Client.ListDatabaseNames(ctx, bson.M{})
	require.NoError(t, err)

	other := d.Config
	other.CoreDB = uniqueID("staging_")
	od, err := serve.NewDeps(other, d.Client, serve.NewLogger(&syncBuffer{}, 0))
	require.NoError(t, err)
	staging, err := realms.New(od)
	require.NoError(t, err)
	err = staging.Init(ctx)
	require.ErrorContains(t, err, "refusing to start")

	after, err := d.Client.ListDatabaseNames(ctx, bson.M{})
	require.NoError(t, err)
	require.Subset(t, after, before, "no database was dropped")
	n, err := d.RealmDB(tenant.System).Collection("accounts").CountDocuments(ctx, bson.M{})
	require.NoError(t, err)
	require.Equal(t, int64(1), n, "the administrator is still the first deployment's")
}
