package token

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/realmiam/realmiam/local/embedded"
	"github.com/realmiam/realmiam/shared/mongodb"
	"github.com/realmiam/realmiam/shared/problem"
	"github.com/realmiam/realmiam/shared/tenant"
)

// The embedded store, started once for the test binary; each test works in
// realms of its own.
var (
	storeURI string
	client   *mongo.Client
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctx := context.Background()
	store, err := embedded.StartTemp(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer store.Close()
	storeURI = store.URI()
	client, err = mongodb.Connect(ctx, storeURI, true)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer client.Disconnect(ctx)
	return m.Run()
}

// realmDB is the tests' realm database naming (shared/tenant owns the real one).
func realmDB(realmID string) *mongo.Database {
	return client.Database("t_" + strings.ReplaceAll(realmID, "-", "_"))
}

func newRealm() string { return "r-" + strings.ToLower(rand.Text()[:12]) }

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const publicURL = "https://iam.example.com"

type fixture struct {
	keys *Keys
	svc  *Service
	clk  *clock
}

func newFixtureWithMaster(t *testing.T, master []byte) fixture {
	t.Helper()
	clk := newClock()
	keys, err := NewKeys(realmDB, master, clk.now)
	require.NoError(t, err)
	return fixture{keys: keys, svc: NewService(keys, publicURL+"/", clk.now), clk: clk}
}

func newMaster() []byte {
	m := make([]byte, 32)
	_, _ = rand.Read(m)
	return m
}

func newFixture(t *testing.T) fixture { return newFixtureWithMaster(t, newMaster()) }

func (f fixture) accessClaims() Claims {
	return Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   "acc-1",
			Audience:  jwt.ClaimStrings{"app-1"},
			ExpiresAt: jwt.NewNumericDate(f.clk.now().Add(5 * time.Minute)),
		},
		TokenUse: "access",
		Scope:    "openid email",
		ClientID: "app-1",
	}
}

func (f fixture) sign(t *testing.T, realmID string) string {
	t.Helper()
	raw, err := f.svc.Sign(context.Background(), realmID, f.accessClaims())
	require.NoError(t, err)
	return raw
}

func requireInvalidToken(t *testing.T, err error, raw string) {
	t.Helper()
	var e *problem.Error
	require.True(t, errors.As(err, &e), "want *problem.Error, got %v", err)
	require.Equal(t, problem.Unauthenticated, e.Kind)
	require.Equal(t, "invalid_token", e.Code)
	require.Equal(t, `Bearer error="invalid_token"`, e.Challenge)
	if raw != "" {
		require.NotContains(t, e.Detail, raw)
		for _, part := range strings.Split(raw, ".") {
			if len(part) > 8 {
				require.NotContains(t, err.Error(), part)
			}
		}
	}
}

func headerOf(t *testing.T, raw string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[0])
	require.NoError(t, err)
	var h map[string]any
	require.NoError(t, json.Unmarshal(b, &h))
	return h
}

func TestSignVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	realm := newRealm()
	require.NoError(t, f.keys.Create(ctx, realm))

	raw := f.sign(t, realm)
	c, err := f.svc.Verify(ctx, realm, raw, "access")
	require.NoError(t, err)
	require.Equal(t, "acc-1", c.Subject)
	require.Equal(t, jwt.ClaimStrings{"app-1"}, c.Audience)
	require.Equal(t, publicURL+"/api/realm/"+realm, c.Issuer)
	require.Equal(t, f.svc.IssuerOf(realm), c.Issuer)
	require.Equal(t, f.clk.now().Unix(), c.IssuedAt.Unix())
	require.Equal(t, f.clk.now().Unix(), c.NotBefore.Unix())
	require.NotEmpty(t, c.ID)
	require.Equal(t, "access", c.TokenUse)
	require.Equal(t, "openid email", c.Scope)
	require.Equal(t, "app-1", c.ClientID)

	jwks, err := f.keys.JWKS(ctx, realm)
	require.NoError(t, err)
	require.Len(t, jwks.Keys, 1)
	h := headerOf(t, raw)
	require.Equal(t, "RS256", h["alg"])
	require.Equal(t, jwks.Keys[0].Kid, h["kid"])

	other := f.sign(t, realm)
	c2, err := f.svc.Verify(ctx, realm, other, "access")
	require.NoError(t, err)
	require.NotEqual(t, c.ID, c2.ID, "jti is random")

	// Within the leeway, and past it.
	f.clk.add(5*time.Minute + 29*time.Second)
	_, err = f.svc.Verify(ctx, realm, raw, "access")
	require.NoError(t, err)
	f.clk.add(2 * time.Second)
	_, err = f.svc.Verify(ctx, realm, raw, "access")
	requireInvalidToken(t, err, raw)
}

func TestSignCreatesMissingKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	realm := newRealm() // no Create: the realm's creation was interrupted

	a := f.sign(t, realm)
	b := f.sign(t, realm)
	require.Equal(t, headerOf(t, a)["kid"], headerOf(t, b)["kid"])
	jwks, err := f.keys.JWKS(ctx, realm)
	require.NoError(t, err)
	require.Len(t, jwks.Keys, 1)
	_, err = f.svc.Verify(ctx, realm, a, "access")
	require.NoError(t, err)
}

func TestSignRequiresExp(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, err := f.svc.Sign(context.Background(), newRealm(), Claims{TokenUse: "access"})
	require.Error(t, err)
	require.Equal(t, problem.Internal, problem.KindOf(err))
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	realmA, realmB := newRealm(), newRealm()
	require.NoError(t, f.keys.Create(ctx, realmA))
	require.NoError(t, f.keys.Create(ctx, realmB))
	good := f.sign(t, realmA)
	keyA, err := f.keys.signing(ctx, realmA)
	require.NoError(t, err)

	// signWith signs claims with realm A's key, as an attacker holding it
	// could not, to check the claim rules on their own.
	signWith := func(method jwt.SigningMethod, c jwt.Claims, kid any, key any) string {
		tok := jwt.NewWithClaims(method, c)
		if kid != nil {
			tok.Header["kid"] = kid
		}
		raw, err := tok.SignedString(key)
		require.NoError(t, err)
		return raw
	}
	claims := func(edit func(*Claims)) Claims {
		c := f.accessClaims()
		c.Issuer = f.svc.IssuerOf(realmA)
		c.IssuedAt = jwt.NewNumericDate(f.clk.now())
		edit(&c)
		return c
	}
	pubDER, err := x509.MarshalPKIXPublicKey(keyA.private.Public())
	require.NoError(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	otherRSA, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)

	tampered := func() string {
		parts := strings.Split(good, ".")
		b, err := base64.RawURLEncoding.DecodeString(parts[1])
		require.NoError(t, err)
		b = []byte(strings.Replace(string(b), `"sub":"acc-1"`, `"sub":"admin"`, 1))
		require.Contains(t, string(b), `"admin"`)
		parts[1] = base64.RawURLEncoding.EncodeToString(b)
		return strings.Join(parts, ".")
	}()

	for _, tc := range []struct {
		name  string
		realm string
		raw   string
		use   string
	}{
		{"empty", realmA, "", "access"},
		{"garbage", realmA, "not.a.token", "access"},
		{"two parts", realmA, strings.Join(strings.Split(good, ".")[:2], "."), "access"},
		{"too long", realmA, good + strings.Repeat("A", maxLength), "access"},
		{"realm A token as realm B", realmB, good, "access"},
		{"tampered payload", realmA, tampered, "access"},
		{"signature of another token", realmA,
			strings.Join(strings.Split(good, ".")[:2], ".") + "." + strings.Split(f.sign(t, realmB), ".")[2], "access"},
		{"wrong token_use", realmA, good, "id"},
		{"alg none", realmA, signWith(jwt.SigningMethodNone, claims(func(*Claims) {}), keyA.kid, jwt.UnsafeAllowNoneSignatureType), "access"},
		{"HS256 with public key PEM", realmA, signWith(jwt.SigningMethodHS256, claims(func(*Claims) {}), keyA.kid, pubPEM), "access"},
		{"HS256 with public key DER", realmA, signWith(jwt.SigningMethodHS256, claims(func(*Claims) {}), keyA.kid, pubDER), "access"},
		{"RS384", realmA, signWith(jwt.SigningMethodRS384, claims(func(*Claims) {}), keyA.kid, keyA.private), "access"},
		{"PS256", realmA, signWith(jwt.SigningMethodPS256, claims(func(*Claims) {}), keyA.kid, keyA.private), "access"},
		{"unknown kid", realmA, signWith(jwt.SigningMethodRS256, claims(func(*Claims) {}), "nope", keyA.private), "access"},
		{"no kid", realmA, signWith(jwt.SigningMethodRS256, claims(func(*Claims) {}), nil, keyA.private), "access"},
		{"kid not a string", realmA, signWith(jwt.SigningMethodRS256, claims(func(*Claims) {}), 7, keyA.private), "access"},
		{"right kid, other key", realmA, signWith(jwt.SigningMethodRS256, claims(func(*Claims) {}), keyA.kid, otherRSA), "access"},
		{"no exp", realmA, signWith(jwt.SigningMethodRS256, claims(func(c *Claims) { c.ExpiresAt = nil }), keyA.kid, keyA.private), "access"},
		{"expired", realmA, signWith(jwt.SigningMethodRS256, claims(func(c *Claims) {
			c.ExpiresAt = jwt.NewNumericDate(f.clk.now().Add(-time.Minute))
		}), keyA.kid, keyA.private), "access"},
		{"not yet valid", realmA, signWith(jwt.SigningMethodRS256, claims(func(c *Claims) {
			c.NotBefore = jwt.NewNumericDate(f.clk.now().Add(time.Minute))
		}), keyA.kid, keyA.private), "access"},
		{"issued in the future", realmA, signWith(jwt.SigningMethodRS256, claims(func(c *Claims) {
			c.IssuedAt = jwt.NewNumericDate(f.clk.now().Add(time.Minute))
		}), keyA.kid, keyA.private), "access"},
		{"issuer of realm B", realmA, signWith(jwt.SigningMethodRS256, claims(func(c *Claims) {
			c.Issuer = f.svc.IssuerOf(realmB)
		}), keyA.kid, keyA.private), "access"},
		{"no issuer", realmA, signWith(jwt.SigningMethodRS256, claims(func(c *Claims) { c.Issuer = "" }), keyA.kid, keyA.private), "access"},
		{"no token_use", realmA, signWith(jwt.SigningMethodRS256, claims(func(c *Claims) { c.TokenUse = "" }), keyA.kid, keyA.private), "access"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := f.svc.Verify(ctx, tc.realm, tc.raw, tc.use)
			require.Nil(t, c)
			requireInvalidToken(t, err, tc.raw)
		})
	}

	// The hand-made token with nothing edited passes: the cases above fail
	// for the reason their names give.
	_, err = f.svc.Verify(ctx, realmA, signWith(jwt.SigningMethodRS256, claims(func(*Claims) {}), keyA.kid, keyA.private), "access")
	require.NoError(t, err)
	_, err = f.svc.Verify(ctx, realmA, good, "access")
	require.NoError(t, err)
}

func TestKeyCopiedToAnotherRealmDoesNotOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	realmA, realmB := newRealm(), newRealm()
	require.NoError(t, f.keys.Create(ctx, realmA))
	good := f.sign(t, realmA)

	var d keyDoc
	require.NoError(t, realmDB(realmA).Collection(keysCollection).FindOne(ctx, bson.M{}).Decode(&d))
	_, err := f.keys.open(realmA, d.ID, d.Alg, d.Private)
	require.NoError(t, err)
	_, err = f.keys.open(realmB, d.ID, d.Alg, d.Private)
	require.Error(t, err)
	_, err = f.keys.open(realmA, "other-kid", d.Alg, d.Private)
	require.Error(t, err)
	_, err = f.keys.open(realmA, d.ID, "ES256", d.Private)
	require.Error(t, err)

	// A copy planted in realm B's collection (with A's iss rewritten by the
	// caller's choice of realm) is refused loudly, not used and not skipped.
	_, err = realmDB(realmB).Collection(keysCollection).InsertOne(ctx, d)
	require.NoError(t, err)
	_, err = f.svc.Verify(ctx, realmB, good, "access")
	require.Error(t, err)
	require.False(t, problem.Is(err, problem.Unauthenticated), "a bad stored key is not a bad token: %v", err)
	require.Contains(t, err.Error(), "does not open")
	_, err = f.keys.JWKS(ctx, realmB)
	require.ErrorContains(t, err, "does not open")
	_, err = f.svc.Sign(ctx, realmB, f.accessClaims())
	require.ErrorContains(t, err, "does not open")

	// A process with another master key cannot use realm A's key either.
	g := newFixtureWithMaster(t, newMaster())
	_, err = g.svc.Verify(ctx, realmA, good, "access")
	require.ErrorContains(t, err, "does not open")
}

func TestJWKS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	realm := newRealm()

	empty, err := f.keys.JWKS(ctx, realm)
	require.NoError(t, err)
	b, err := json.Marshal(empty)
	require.NoError(t, err)
	require.JSONEq(t, `{"keys":[]}`, string(b))

	require.NoError(t, f.keys.Create(ctx, realm))
	before := f.sign(t, realm)
	f.clk.add(time.Minute) // rotation
	require.NoError(t, f.keys.Create(ctx, realm))
	after := f.sign(t, realm)
	require.NotEqual(t, headerOf(t, before)["kid"], headerOf(t, after)["kid"])

	jwks, err := f.keys.JWKS(ctx, realm)
	require.NoError(t, err)
	b, err = json.Marshal(jwks)
	require.NoError(t, err)

	// Read the set as an outside verifier would: from JSON only.
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(b, &set))
	require.Len(t, set.Keys, 2)
	require.Equal(t, headerOf(t, after)["kid"], set.Keys[0]["kid"], "newest first")
	byKid := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		require.ElementsMatch(t, []string{"kty", "kid", "use", "alg", "n", "e"}, keysOf(k))
		require.Equal(t, "RSA", k["kty"])
		require.Equal(t, "sig", k["use"])
		require.Equal(t, "RS256", k["alg"])
		n, err := base64.RawURLEncoding.DecodeString(k["n"])
		require.NoError(t, err)
		e, err := base64.RawURLEncoding.DecodeString(k["e"])
		require.NoError(t, err)
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		require.Equal(t, 2048, pub.N.BitLen())
		require.Equal(t, 65537, pub.E)
		byKid[k["kid"]] = pub
	}
	for _, raw := range []string{before, after} {
		tok, err := jwt.Parse(raw, func(tok *jwt.Token) (any, error) {
			return byKid[tok.Header["kid"].(string)], nil
		}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(f.clk.now), jwt.WithIssuer(f.svc.IssuerOf(realm)))
		require.NoError(t, err)
		require.True(t, tok.Valid)
		// Old keys keep verifying after rotation.
		_, err = f.svc.Verify(ctx, realm, raw, "access")
		require.NoError(t, err)
	}
}

func keysOf(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestES256Key(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	realm := newRealm()
	require.NoError(t, f.keys.Create(ctx, realm))
	rs := f.sign(t, realm)

	// ES256 keys are not created here, but a realm may hold one.
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	require.NoError(t, err)
	kid := "es-" + newRealm()
	_, err = realmDB(realm).Collection(keysCollection).InsertOne(ctx, keyDoc{
		ID: kid, Alg: "ES256", Private: f.keys.seal(realm, kid, "ES256", der), CreatedAt: f.clk.now().Add(time.Minute),
	})
	require.NoError(t, err)
	f.keys.Forget(realm)

	es := f.sign(t, realm)
	require.Equal(t, "ES256", headerOf(t, es)["alg"])
	require.Equal(t, kid, headerOf(t, es)["kid"])
	for _, raw := range []string{rs, es} {
		_, err := f.svc.Verify(ctx, realm, raw, "access")
		require.NoError(t, err)
	}

	jwks, err := f.keys.JWKS(ctx, realm)
	require.NoError(t, err)
	require.Len(t, jwks.Keys, 2)
	j := jwks.Keys[0]
	require.Equal(t, JWK{Kty: "EC", Kid: kid, Use: "sig", Alg: "ES256", Crv: "P-256", X: j.X, Y: j.Y}, j)
	x, err := base64.RawURLEncoding.DecodeString(j.X)
	require.NoError(t, err)
	y, err := base64.RawURLEncoding.DecodeString(j.Y)
	require.NoError(t, err)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	require.NoError(t, err)
	_, err = jwt.Parse(es, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{"ES256"}), jwt.WithTimeFunc(f.clk.now))
	require.NoError(t, err)

	// An RS256 header naming the ES256 key is refused.
	keyRS, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, f.accessClaims())
	tok.Header["kid"] = kid
	raw, err := tok.SignedString(keyRS)
	require.NoError(t, err)
	_, err = f.svc.Verify(ctx, realm, raw, "access")
	requireInvalidToken(t, err, raw)
}

// Another process creating a key is noticed after cacheTTL, or on its unknown
// kid at most once per minReload.
func TestKeyCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	master := newMaster()
	f := newFixtureWithMaster(t, master)
	g := newFixtureWithMaster(t, master) // another process, same master key
	g.clk.add(20 * time.Second)          // its key is the newer one; its tokens within the leeway
	realm := newRealm()
	require.NoError(t, f.keys.Create(ctx, realm))
	first := f.sign(t, realm)
	_, err := f.svc.Verify(ctx, realm, first, "access")
	require.NoError(t, err)

	require.NoError(t, g.keys.Create(ctx, realm))
	second := g.sign(t, realm)
	require.NotEqual(t, headerOf(t, first)["kid"], headerOf(t, second)["kid"])

	// Loaded just now: an unknown kid does not reload yet.
	_, err = f.svc.Verify(ctx, realm, second, "access")
	requireInvalidToken(t, err, second)
	f.clk.add(minReload)
	_, err = f.svc.Verify(ctx, realm, second, "access")
	require.NoError(t, err)

	// Signing uses the cached active key until the cache expires.
	g.clk.add(time.Second)
	require.NoError(t, g.keys.Create(ctx, realm))
	thirdKid := headerOf(t, g.sign(t, realm))["kid"]
	require.Equal(t, headerOf(t, second)["kid"], headerOf(t, f.sign(t, realm))["kid"], "cached")
	f.clk.add(cacheTTL)
	require.Equal(t, thirdKid, headerOf(t, f.sign(t, realm))["kid"], "reloaded")
}

func TestForget(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	realm := newRealm()
	raw := f.sign(t, realm)
	require.NoError(t, realmDB(realm).Drop(ctx))
	_, err := f.svc.Verify(ctx, realm, raw, "access")
	require.NoError(t, err, "still cached")
	f.keys.Forget(realm)
	_, err = f.svc.Verify(ctx, realm, raw, "access")
	requireInvalidToken(t, err, raw)
}

func TestDatabaseFailureIsNotInvalidToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	realm := newRealm()
	raw := f.sign(t, realm)

	down, err := mongo.Connect(options.Client().ApplyURI(storeURI).SetMaxPoolSize(1))
	require.NoError(t, err)
	require.NoError(t, down.Disconnect(ctx))
	keys, err := NewKeys(func(string) *mongo.Database { return down.Database("t_down") }, newMaster(), nil)
	require.NoError(t, err)
	svc := NewService(keys, publicURL, nil)

	_, err = svc.Verify(ctx, realm, raw, "access")
	require.Error(t, err)
	require.Equal(t, problem.Unavailable, problem.KindOf(err), "%v", err)
	_, err = svc.Sign(ctx, realm, f.accessClaims())
	require.Equal(t, problem.Unavailable, problem.KindOf(err), "%v", err)
	_, err = keys.JWKS(ctx, realm)
	require.Equal(t, problem.Unavailable, problem.KindOf(err), "%v", err)
	require.Equal(t, problem.Unavailable, problem.KindOf(keys.Create(ctx, realm)))
}

func TestNewKeysMasterLength(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 16, 31, 33, 64} {
		_, err := NewKeys(realmDB, make([]byte, n), nil)
		require.Error(t, err, "%d bytes", n)
	}
}

// unsigned builds a token-shaped string with the given payload.
func unsigned(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","kid":"k"}`)) + "." + enc([]byte(payload)) + ".c2ln"
}

func TestRealmOf(t *testing.T) {
	t.Parallel()
	s := NewService(nil, publicURL+"//", nil)
	require.Equal(t, publicURL+"/api/realm/acme", s.IssuerOf("acme"))
	for _, tc := range []struct {
		name  string
		raw   string
		realm string // "" means not found
	}{
		{"ours", unsigned(`{"iss":"` + publicURL + `/api/realm/acme-1"}`), "acme-1"},
		{"escaped json", unsigned(`{"iss":"https:\/\/iam.example.com\/api\/realm\/acme"}`), "acme"},
		{"other host", unsigned(`{"iss":"https://evil.example.com/api/realm/acme"}`), ""},
		{"host prefix", unsigned(`{"iss":"` + publicURL + `.evil.com/api/realm/acme"}`), ""},
		{"sub path", unsigned(`{"iss":"` + publicURL + `/api/realm/acme/x"}`), ""},
		{"dot dot", unsigned(`{"iss":"` + publicURL + `/api/realm/../core"}`), ""},
		{"upper case", unsigned(`{"iss":"` + publicURL + `/api/realm/Acme"}`), ""},
		{"too short", unsigned(`{"iss":"` + publicURL + `/api/realm/ab"}`), ""},
		{"too long", unsigned(`{"iss":"` + publicURL + `/api/realm/` + strings.Repeat("a", 41) + `"}`), ""},
		{"no iss", unsigned(`{"sub":"x"}`), ""},
		{"iss not a string", unsigned(`{"iss":7}`), ""},
		{"not json", unsigned(`iss`), ""},
		{"padded payload", padded(t, `{"iss":"`+publicURL+`/api/realm/acme1"}`), ""},
		{"two parts", "a.b", ""},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := s.RealmOf(tc.raw)
			require.Equal(t, tc.realm != "", ok)
			require.Equal(t, tc.realm, got)
		})
	}
}

// padded is unsigned with a padded (standard JWT-illegal) payload encoding.
func padded(t *testing.T, payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	body := base64.URLEncoding.EncodeToString([]byte(payload))
	require.True(t, strings.HasSuffix(body, "="), "payload needs no padding")
	return enc([]byte(`{"alg":"RS256"}`)) + "." + body + ".c2ln"
}

func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	keys, err := NewKeys(realmDB, newMaster(), nil)
	require.NoError(b, err)
	svc := NewService(keys, publicURL, nil)
	realm := newRealm()
	raw, err := svc.Sign(ctx, realm, Claims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: "acc-1", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))},
		TokenUse:         "access",
	})
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.Verify(ctx, realm, raw, "access"); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzRealmOf(f *testing.F) {
	s := NewService(nil, publicURL, nil)
	f.Add(unsigned(`{"iss":"`+publicURL+`/api/realm/acme"}`), publicURL+"/api/realm/acme")
	f.Add("a.b.c", "")
	f.Add("..", publicURL+"/api/realm/")
	f.Add(unsigned(`{"iss":"`+publicURL+`/api/realm/a/b"}`), publicURL+"/api/realm/x-y-z")
	f.Fuzz(func(t *testing.T, raw, iss string) {
		for _, r := range []string{raw, unsigned(`{"iss":` + quote(iss) + `}`)} {
			id, ok := s.RealmOf(r)
			if !ok {
				require.Empty(t, id)
				continue
			}
			require.True(t, tenant.ValidID(id), "%q", id)
			var c struct {
				Iss string `json:"iss"`
			}
			b, err := base64.RawURLEncoding.DecodeString(strings.Split(r, ".")[1])
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(b, &c))
			require.Equal(t, c.Iss, s.IssuerOf(id))
			again, ok := s.RealmOf(unsigned(`{"iss":` + quote(s.IssuerOf(id)) + `}`))
			require.True(t, ok)
			require.Equal(t, id, again)
		}
	})
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
