package token

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/realmiam/realmiam/shared/mongodb"
)

const (
	// keysCollection is the collection of signing keys in each realm database.
	keysCollection = "keys"
	// cacheTTL is how long a realm's loaded keys are used before they are
	// read again, so that a key created by another process is picked up.
	cacheTTL = 5 * time.Minute
	// minReload spaces the reloads caused by an unknown kid, so that tokens
	// with made-up kids cannot send every request to the database.
	minReload = 10 * time.Second
)

// Keys manages each realm's signing keys: RSA-2048 for RS256 (ES256 P-256
// keys are read and used too, but not created), each named by a random kid.
//
// Private keys are stored as PKCS#8 sealed with AES-256-GCM under a key
// derived from the master key; the sealing binds realm id, kid and algorithm
// as additional data, so a key document copied to another realm or renamed
// fails to open. Decrypted keys live only in this process's memory: each
// realm's keys are loaded once, read again after cacheTTL, and on an unknown
// kid at most once per minReload.
//
// The newest key of a realm is its active (signing) key; older keys keep
// verifying and stay in the JWKS.
//
// The cache keeps an entry for every realm id it is asked about: pass only
// ids of realms that exist (resolved through shared/tenant), never an id
// taken from an unverified token.
type Keys struct {
	db   func(realmID string) *mongo.Database
	aead cipher.AEAD
	now  func() time.Time

	mu     sync.Mutex
	realms map[string]*realmKeys
}

// realmKeys is the cache entry of one realm.
type realmKeys struct {
	// mu is held while the set is checked, loaded or extended, so that one
	// request per realm goes to the database and the others wait for it.
	mu  sync.Mutex
	set *keySet // nil until loaded
}

// keySet is one load of a realm's keys; it is never modified.
type keySet struct {
	byKid  map[string]*key
	active *key // the newest key; nil when the realm has none
	loaded time.Time
}

type key struct {
	kid     string
	alg     string        // "RS256" or "ES256"
	private crypto.Signer // *rsa.PrivateKey or *ecdsa.PrivateKey
	created time.Time
}

// keyDoc is a document of the keys collection.
type keyDoc struct {
	ID        string    `bson:"_id"` // the kid
	Alg       string    `bson:"alg"`
	Private   []byte    `bson:"private"` // nonce || AES-256-GCM(PKCS#8)
	CreatedAt time.Time `bson:"createdAt"`
}

// NewKeys returns a Keys that finds realm databases with db and seals private
// keys under master, which must be 32 bytes (IAM_MASTER_KEY). now may be nil
// for time.Now.
func NewKeys(db func(realmID string) *mongo.Database, master []byte, now func() time.Time) (*Keys, error) {
	if len(master) != 32 {
		return nil, fmt.Errorf("token.NewKeys: master key has %d bytes, want 32", len(master))
	}
	// A derived key, so that the master key can serve other purposes without
	// two of them ever sharing an AES key.
	kek, err := hkdf.Key(sha256.New, master, nil, "realmiam token signing keys v1", 32)
	if err != nil {
		return nil, fmt.Errorf("token.NewKeys: %w", err)
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("token.NewKeys: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("token.NewKeys: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	return &Keys{db: db, aead: aead, now: now, realms: map[string]*realmKeys{}}, nil
}

// Create stores a new RS256 key for the realm, which becomes its active key.
// Errors are database failures (kind Unavailable when the database cannot be
// reached, else internal).
func (k *Keys) Create(ctx context.Context, realmID string) error {
	e := k.entry(realmID)
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := k.insert(ctx, realmID); err != nil {
		return fmt.Errorf("token.Keys.Create: %w", err)
	}
	e.set = nil
	return nil
}

// Forget drops the realm's cached keys (the realm was deleted).
func (k *Keys) Forget(realmID string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.realms, realmID)
}

// JWKS is a JSON Web Key Set (RFC 7517) of public keys.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// JWK is a public signing key: kty "RSA" with n and e, or kty "EC" with crv,
// x and y; numbers are unpadded base64url.
type JWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
}

// JWKS returns the realm's public keys, newest first; a realm without keys
// has an empty set. Errors are database failures (kind Unavailable when the
// database cannot be reached) or internal (a stored key does not open).
func (k *Keys) JWKS(ctx context.Context, realmID string) (JWKS, error) {
	set, err := k.current(ctx, realmID)
	if err != nil {
		return JWKS{}, fmt.Errorf("token.Keys.JWKS: %w", err)
	}
	keys := make([]*key, 0, len(set.byKid))
	for _, key := range set.byKid {
		keys = append(keys, key)
	}
	slices.SortFunc(keys, func(a, b *key) int { return -newer(a, b) })
	out := JWKS{Keys: make([]JWK, 0, len(keys))}
	for _, key := range keys {
		out.Keys = append(out.Keys, key.jwk())
	}
	return out, nil
}

func (key *key) jwk() JWK {
	b64 := base64.RawURLEncoding.EncodeToString
	j := JWK{Kid: key.kid, Use: "sig", Alg: key.alg}
	switch pub := key.private.Public().(type) {
	case *rsa.PublicKey:
		j.Kty, j.N, j.E = "RSA", b64(pub.N.Bytes()), b64(big.NewInt(int64(pub.E)).Bytes())
	case *ecdsa.PublicKey:
		// Checked by decode: a valid P-256 key, whose point is 0x04 || x || y.
		p, _ := pub.Bytes()
		j.Kty, j.Crv, j.X, j.Y = "EC", "P-256", b64(p[1:33]), b64(p[33:])
	}
	return j
}

// newer orders keys by creation time, then kid, so that the choice of the
// active key is the same in every process.
func newer(a, b *key) int {
	if c := a.created.Compare(b.created); c != 0 {
		return c
	}
	switch {
	case a.kid < b.kid:
		return -1
	case a.kid > b.kid:
		return 1
	}
	return 0
}

func (k *Keys) entry(realmID string) *realmKeys {
	k.mu.Lock()
	defer k.mu.Unlock()
	e := k.realms[realmID]
	if e == nil {
		e = &realmKeys{}
		k.realms[realmID] = e
	}
	return e
}

// current returns the realm's keys, loading them when absent or older than
// cacheTTL.
func (k *Keys) current(ctx context.Context, realmID string) (*keySet, error) {
	e := k.entry(realmID)
	e.mu.Lock()
	defer e.mu.Unlock()
	return k.fresh(ctx, realmID, e)
}

// fresh is current with e.mu held.
func (k *Keys) fresh(ctx context.Context, realmID string, e *realmKeys) (*keySet, error) {
	if e.set != nil {
		age := k.now().Sub(e.set.loaded)
		if age >= 0 && age < cacheTTL {
			return e.set, nil
		}
	}
	set, err := k.load(ctx, realmID)
	if err != nil {
		return nil, err
	}
	e.set = set
	return set, nil
}

// lookup returns the realm's key named kid, reloading the realm's keys once
// if kid is unknown and they were not loaded within minReload. ok is false
// when there is no such key; err is a database or decryption failure.
func (k *Keys) lookup(ctx context.Context, realmID, kid string) (_ *key, ok bool, _ error) {
	e := k.entry(realmID)
	e.mu.Lock()
	defer e.mu.Unlock()
	set, err := k.fresh(ctx, realmID, e)
	if err != nil {
		return nil, false, err
	}
	if key := set.byKid[kid]; key != nil {
		return key, true, nil
	}
	if age := k.now().Sub(set.loaded); age >= 0 && age < minReload {
		return nil, false, nil
	}
	if set, err = k.load(ctx, realmID); err != nil {
		return nil, false, err
	}
	e.set = set
	key := set.byKid[kid]
	return key, key != nil, nil
}

// signing returns the realm's active key, creating one if the realm has none
// (its creation was interrupted before Create).
func (k *Keys) signing(ctx context.Context, realmID string) (*key, error) {
	e := k.entry(realmID)
	e.mu.Lock()
	defer e.mu.Unlock()
	set, err := k.fresh(ctx, realmID, e)
	if err != nil {
		return nil, err
	}
	if set.active != nil {
		return set.active, nil
	}
	if err := k.insert(ctx, realmID); err != nil {
		return nil, err
	}
	if set, err = k.load(ctx, realmID); err != nil {
		return nil, err
	}
	e.set = set
	if set.active == nil {
		return nil, errors.New("no signing key after creating one")
	}
	return set.active, nil
}

// load reads and opens all of the realm's keys. A key that does not open
// fails the whole load: it means a wrong master key or a tampered
// collection, and hiding it would let a wrong master key quietly replace
// every realm's keys.
func (k *Keys) load(ctx context.Context, realmID string) (*keySet, error) {
	cur, err := k.db(realmID).Collection(keysCollection).Find(ctx, bson.M{})
	if err != nil {
		return nil, fmt.Errorf("find keys: %w", mongodb.Map(err))
	}
	var docs []keyDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("read keys: %w", mongodb.Map(err))
	}
	set := &keySet{byKid: make(map[string]*key, len(docs)), loaded: k.now()}
	for _, d := range docs {
		key, err := k.decode(realmID, d)
		if err != nil {
			return nil, fmt.Errorf("realm %q key %q: %w", realmID, d.ID, err)
		}
		set.byKid[key.kid] = key
		if set.active == nil || newer(key, set.active) > 0 {
			set.active = key
		}
	}
	return set, nil
}

// insert creates and stores a new RS256 key.
func (k *Keys) insert(ctx context.Context, realmID string) error {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("marshal key: %w", err)
	}
	kid := rand.Text()
	d := keyDoc{ID: kid, Alg: "RS256", Private: k.seal(realmID, kid, "RS256", der), CreatedAt: k.now().UTC()}
	if _, err := k.db(realmID).Collection(keysCollection).InsertOne(ctx, d); err != nil {
		return fmt.Errorf("insert key: %w", mongodb.Map(err))
	}
	return nil
}

// decode opens a stored key and checks that it suits its algorithm.
func (k *Keys) decode(realmID string, d keyDoc) (*key, error) {
	der, err := k.open(realmID, d.ID, d.Alg, d.Private)
	if err != nil {
		return nil, err
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse key: %w", err)
	}
	switch p := priv.(type) {
	case *rsa.PrivateKey:
		if d.Alg != "RS256" || p.N.BitLen() < 2048 {
			return nil, fmt.Errorf("RSA-%d key for %q", p.N.BitLen(), d.Alg)
		}
	case *ecdsa.PrivateKey:
		if d.Alg != "ES256" || p.Curve != elliptic.P256() {
			return nil, fmt.Errorf("EC %s key for %q", p.Curve.Params().Name, d.Alg)
		}
	default:
		return nil, fmt.Errorf("%T key for %q", priv, d.Alg)
	}
	return &key{kid: d.ID, alg: d.Alg, private: priv.(crypto.Signer), created: d.CreatedAt}, nil
}

func (k *Keys) seal(realmID, kid, alg string, plain []byte) []byte {
	nonce := make([]byte, k.aead.NonceSize())
	_, _ = rand.Read(nonce) // never fails
	return k.aead.Seal(nonce, nonce, plain, additionalData(realmID, kid, alg))
}

func (k *Keys) open(realmID, kid, alg string, sealed []byte) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("sealed key too short")
	}
	plain, err := k.aead.Open(nil, sealed[:n], sealed[n:], additionalData(realmID, kid, alg))
	if err != nil {
		return nil, errors.New("key does not open: wrong master key, or key moved from another realm or kid")
	}
	return plain, nil
}

// additionalData binds a sealed key to where it belongs. Each part is length
// prefixed so that no two (realm, kid, alg) give the same bytes.
func additionalData(realmID, kid, alg string) []byte {
	ad := []byte("realmiam signing key v1")
	for _, s := range []string{realmID, kid, alg} {
		ad = binary.AppendUvarint(ad, uint64(len(s)))
		ad = append(ad, s...)
	}
	return ad
}
