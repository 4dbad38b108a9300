package access

import (
	"context"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
)

// generations counts, per realm, the writes through this process that can
// change what an account may do: attachments, policy documents, group and
// role membership, account state. A cached principal loaded under an older
// generation is reloaded, so such writes take effect at once in the process
// that made them; other processes see them within the cache's TTL.
type generations struct {
	mu sync.Mutex
	n  map[string]uint64
}

func (g *generations) get(realmID string) uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n[realmID]
}

func (g *generations) bump(realmID string) {
	g.mu.Lock()
	if g.n == nil {
		g.n = map[string]uint64{}
	}
	g.n[realmID]++
	g.mu.Unlock()
}

// Cache holds what the guard and the authz function need of an account
// (its state and its effective policies), per account. An entry lives for
// TTL (5 s): another process's change to an account, its groups, roles or
// policies is seen within that bound, as IAM itself is eventually
// consistent. Writes through this process call Invalidate and are seen at
// once. At most maxEntries accounts are kept.
type Cache struct {
	db   func(realmID string) *mongo.Database
	now  func() time.Time
	gens generations

	mu      sync.Mutex
	entries map[cacheKey]cacheEntry
}

// TTL bounds how stale a cached account may be.
const TTL = 5 * time.Second

const maxEntries = 10000

type cacheKey struct{ realm, account string }

type cacheEntry struct {
	account *Account
	gen     uint64
	expires time.Time
}

// NewCache reads accounts from db's realm databases.
func NewCache(db func(realmID string) *mongo.Database, now func() time.Time) *Cache {
	return &Cache{db: db, now: now, entries: map[cacheKey]cacheEntry{}}
}

// Invalidate makes every cached account of realmID stale. Functions call it
// after any write that can change what an account of the realm may do.
func (c *Cache) Invalidate(realmID string) { c.gens.bump(realmID) }

// Account returns account id of realmID with its effective policies, from
// the cache when fresh. Errors: NotFound (account_not_found), Unavailable.
func (c *Cache) Account(ctx context.Context, realmID, id string) (*Account, error) {
	k := cacheKey{realmID, id}
	gen := c.gens.get(realmID)
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[k]
	c.mu.Unlock()
	if ok && e.gen == gen && now.Before(e.expires) {
		return e.account, nil
	}
	a, err := load(ctx, c.db(realmID), realmID, id)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.entries) >= maxEntries {
		for key, old := range c.entries {
			if !now.Before(old.expires) || len(c.entries) >= maxEntries {
				delete(c.entries, key)
			}
		}
	}
	// gen was read before the load: a write during the load leaves this
	// entry stale, and the next call reloads.
	c.entries[k] = cacheEntry{account: a, gen: gen, expires: now.Add(TTL)}
	c.mu.Unlock()
	return a, nil
}
