package tests

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/realmiam/realmiam/shared/tenant"
)

// A write that resolved a realm just before its deletion can recreate the
// dropped database; the sweep at start-up removes such leftovers and leaves
// live realms alone.
func TestSweepOrphansDropsOnlyDatabasesWithoutRealm(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	live := newRealm(t)
	createAccount(t, live, "kept@example.com", "Kept-Passw0rd")

	orphan := uniqueID("t-")
	_, err := env.Client.Database(tenant.DBName(orphan)).Collection("accounts").
		InsertOne(ctx, bson.M{"_id": "x", "email": "late@example.com", "passwordHash": "h", "enabled": true})
	require.NoError(t, err)

	require.NoError(t, env.Realms.SweepOrphans(ctx))

	names, err := env.Client.ListDatabaseNames(ctx, bson.M{})
	require.NoError(t, err)
	require.False(t, slices.Contains(names, tenant.DBName(orphan)), "the orphan database is dropped")
	require.True(t, slices.Contains(names, tenant.DBName(live)), "a live realm's database stays")
	r := call(t, "GET", "/api/realm/"+live+"/accounts?email=kept@example.com", env.AdminToken, nil)
	require.Equal(t, http.StatusOK, r.Status)
	require.Contains(t, string(r.Body), "kept@example.com")
}
