// Package tenant provides realm identity: realm-id validation, the mapping
// from a realm id to its database, the realm document every function reads,
// and a small in-process cache that resolves {tenantId} to that document.
package tenant

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/realmiam/realmiam/shared/mongodb"
	"github.com/realmiam/realmiam/shared/password"
	"github.com/realmiam/realmiam/shared/problem"
)

// System is the realm whose administrators may act on every realm.
const System = "system"

// Realm id rules: 3–36 characters of [a-z0-9-], starting and ending with a
// letter or digit. 36 keeps DBName within 38 bytes, MongoDB's limit for
// database names on sharded clusters.
var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,34}[a-z0-9]$`)

// dbPrefix starts every realm database name. The core database must not start
// with it (serve checks IAM_CORE_DB at start), so no realm can collide with it.
const dbPrefix = "r_"

// ValidID reports whether id is a well-formed realm id.
func ValidID(id string) bool { return idPattern.MatchString(id) }

// CheckCoreDB rejects a core database name that a realm database could take.
func CheckCoreDB(name string) error {
	if strings.HasPrefix(strings.ToLower(name), dbPrefix) { // MongoDB names differing only in case collide
		return fmt.Errorf("IAM_CORE_DB %q must not start with %q: realm databases use that prefix", name, dbPrefix)
	}
	return nil
}

// DBName is the database of realm id: "r_" followed by the id with '-'
// replaced by '_'. Ids never contain '_', so the mapping is injective; it
// yields only [a-z0-9_] and at most 38 bytes. id must be valid.
func DBName(id string) string {
	return dbPrefix + strings.ReplaceAll(id, "-", "_")
}

// IDOfDB reverses DBName: the realm id whose database is name, and false
// for names that are not realm databases.
func IDOfDB(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, dbPrefix)
	if !ok || strings.Contains(rest, "-") {
		return "", false
	}
	id := strings.ReplaceAll(rest, "_", "-")
	return id, ValidID(id)
}

// DB is realm id's database on client.
func DB(client *mongo.Client, id string) *mongo.Database {
	return client.Database(DBName(id))
}

// Settings are a realm's tunables.
type Settings struct {
	AccessTokenTTLSeconds  int             `bson:"accessTokenTtlSeconds" json:"accessTokenTtlSeconds"`
	RefreshTokenTTLSeconds int             `bson:"refreshTokenTtlSeconds" json:"refreshTokenTtlSeconds"`
	PasswordPolicy         password.Policy `bson:"passwordPolicy" json:"passwordPolicy"`
}

// DefaultSettings are those of a realm created without settings.
func DefaultSettings() Settings {
	return Settings{
		AccessTokenTTLSeconds:  3600,
		RefreshTokenTTLSeconds: 30 * 24 * 3600,
		PasswordPolicy:         password.DefaultPolicy(),
	}
}

// Realm is the document in the core database's realms collection.
type Realm struct {
	ID          string    `bson:"_id" json:"id"`
	DisplayName string    `bson:"displayName" json:"displayName"`
	CreatedAt   time.Time `bson:"createdAt" json:"createdAt"`
	UpdatedAt   time.Time `bson:"updatedAt" json:"updatedAt"`
	Settings    Settings  `bson:"settings" json:"settings"`
}

// ErrUnknown is the NotFound error for a realm that does not exist.
func ErrUnknown() *problem.Error {
	return &problem.Error{Kind: problem.NotFound, Code: "unknown_realm", Detail: "No realm with this id."}
}

// Resolver looks realms up in the core database through a bounded cache.
// Entries (hits and misses) live for ttl, so another process's change to a
// realm is seen within ttl; changes made through this process are seen at
// once because the realms function calls Forget.
type Resolver struct {
	coll *mongo.Collection
	now  func() time.Time
	ttl  time.Duration
	max  int

	mu      sync.Mutex
	entries map[string]entry
	gen     uint64 // counts Forget calls
}

type entry struct {
	realm   *Realm // nil: the realm did not exist
	expires time.Time
}

// NewResolver resolves realms from core's realms collection, caching up to
// 1,000 realms for 10 seconds.
func NewResolver(core *mongo.Database, now func() time.Time) *Resolver {
	return &Resolver{
		coll:    core.Collection("realms"),
		now:     now,
		ttl:     10 * time.Second,
		max:     1000,
		entries: map[string]entry{},
	}
}

// Get returns realm id. Errors: NotFound (code unknown_realm) for a malformed
// or unknown id, Unavailable when the database is.
func (r *Resolver) Get(ctx context.Context, id string) (*Realm, error) {
	if !ValidID(id) {
		return nil, ErrUnknown()
	}
	now := r.now()
	r.mu.Lock()
	e, ok := r.entries[id]
	gen := r.gen
	r.mu.Unlock()
	if ok && now.Before(e.expires) {
		if e.realm == nil {
			return nil, ErrUnknown()
		}
		return e.realm, nil
	}

	var realm Realm
	err := r.coll.FindOne(ctx, bson.M{"_id": id}).Decode(&realm)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return nil, fmt.Errorf("tenant.Get: %w", mongodb.Map(err))
	}
	found := err == nil
	r.mu.Lock()
	// A Forget while the read was in flight means the read may predate a
	// change made through this process: answer with it, but do not cache it.
	if r.gen == gen {
		r.evictLocked(now)
		if found {
			r.entries[id] = entry{realm: &realm, expires: now.Add(r.ttl)}
		} else {
			r.entries[id] = entry{expires: now.Add(r.ttl)}
		}
	}
	r.mu.Unlock()
	if !found {
		return nil, ErrUnknown()
	}
	return &realm, nil
}

// evictLocked makes room for one entry: expired entries go first, then
// arbitrary ones.
func (r *Resolver) evictLocked(now time.Time) {
	if len(r.entries) < r.max {
		return
	}
	for k, e := range r.entries {
		if !now.Before(e.expires) {
			delete(r.entries, k)
		}
	}
	for k := range r.entries {
		if len(r.entries) < r.max {
			break
		}
		delete(r.entries, k)
	}
}

// Forget drops id from the cache; the next Get reads the database.
func (r *Resolver) Forget(id string) {
	r.mu.Lock()
	delete(r.entries, id)
	r.gen++
	r.mu.Unlock()
}

type ctxKey struct{}

// WithRealm returns ctx carrying realm, the realm a request is addressed to.
func WithRealm(ctx context.Context, realm *Realm) context.Context {
	return context.WithValue(ctx, ctxKey{}, realm)
}

// From is the realm a request is addressed to, or nil on routes outside a
// realm.
func From(ctx context.Context) *Realm {
	r, _ := ctx.Value(ctxKey{}).(*Realm)
	return r
}
