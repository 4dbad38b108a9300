package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/realmiam/realmiam/local/embedded"
	"github.com/realmiam/realmiam/shared/mongodb"
	"github.com/realmiam/realmiam/shared/serve"
	"github.com/realmiam/realmiam/shared/tenant"
)

// These tests drive the auth function alone through the OpenAPI pipeline on
// the embedded store, counting the commands each operation sends. The
// scenarios across functions live in tests/.

var (
	deps     *serve.Deps
	handler  http.Handler
	commands recorder
)

// recorder keeps the commands the client sends while it is on.
type recorder struct {
	mu   sync.Mutex
	on   bool
	seen []string // "db.command collection"
}

func (r *recorder) started(_ context.Context, e *event.CommandStartedEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.on {
		return
	}
	coll, _ := e.Command.Lookup(e.CommandName).StringValueOK()
	r.seen = append(r.seen, e.DatabaseName+"."+e.CommandName+" "+coll)
}

// during returns the commands sent while f runs. Tests that use it do not run
// in parallel, so the commands are f's.
func (r *recorder) during(f func()) []string {
	r.mu.Lock()
	r.on, r.seen = true, nil
	r.mu.Unlock()
	f()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.on = false
	return r.seen
}

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctx := context.Background()
	store, err := embedded.StartTemp(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer store.Close()
	// The process's client configuration, plus a command monitor.
	client, err := mongodb.Connect(ctx, store.URI(), true,
		options.Client().SetMonitor(&event.CommandMonitor{Started: commands.started}))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = client.Disconnect(ctx) }()

	master := make([]byte, 32)
	_, _ = rand.Read(master)
	cfg := serve.Config{CoreDB: "realmiam_core", PublicURL: "http://iam.test", MasterKey: master, BcryptCost: 4}
	deps, err = serve.NewDeps(cfg, client, slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv, err := New(deps)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	handler, err = serve.Handler(deps, srv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// newRealm stores a realm as the realms function would: document, indexes,
// first key.
func newRealm(t *testing.T) string {
	t.Helper()
	ctx := t.Context()
	id := "auth-" + strings.ToLower(rand.Text()[:10])
	now := time.Now().UTC()
	_, err := deps.Core.Collection("realms").InsertOne(ctx, tenant.Realm{
		ID: id, DisplayName: id, CreatedAt: now, UpdatedAt: now, Settings: tenant.DefaultSettings(),
	})
	require.NoError(t, err)
	require.NoError(t, mongodb.EnsureRealmIndexes(ctx, deps.RealmDB(id)))
	require.NoError(t, deps.Keys.Create(ctx, id))
	return id
}

// newAccount stores an account as the accounts function would.
func newAccount(t *testing.T, realm, email, pw string, enabled bool) string {
	t.Helper()
	hash, err := deps.Hasher.Hash(pw)
	require.NoError(t, err)
	id := mongodb.NewID()
	now := time.Now().UTC()
	_, err = deps.RealmDB(realm).Collection("accounts").InsertOne(t.Context(), bson.M{
		"_id": id, "email": email, "passwordHash": hash, "enabled": enabled,
		"attributes": bson.M{}, "createdAt": now, "updatedAt": now,
	})
	require.NoError(t, err)
	return id
}

func post(t *testing.T, path string, body any) (int, []byte) {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	out, err := io.ReadAll(rec.Result().Body)
	require.NoError(t, err)
	return rec.Code, out
}

func login(t *testing.T, realm, email, pw string) tokensResponse {
	t.Helper()
	status, body := post(t, "/api/realm/"+realm+"/auth/login", loginRequest{Email: email, Password: pw})
	require.Equal(t, http.StatusOK, status, string(body))
	var tok tokensResponse
	require.NoError(t, json.Unmarshal(body, &tok))
	return tok
}

func refresh(t *testing.T, realm, raw string) (int, tokensResponse) {
	t.Helper()
	status, body := post(t, "/api/realm/"+realm+"/auth/refresh", refreshRequest{RefreshToken: raw})
	var tok tokensResponse
	if status == http.StatusOK {
		require.NoError(t, json.Unmarshal(body, &tok))
	}
	return status, tok
}

func storedToken(t *testing.T, realm, raw string) refreshToken {
	t.Helper()
	hash, ok := hashRefreshToken(raw)
	require.True(t, ok)
	var doc refreshToken
	require.NoError(t, deps.RealmDB(realm).Collection(refreshTokens).FindOne(t.Context(), bson.M{"_id": hash}).Decode(&doc))
	return doc
}

// TestRoundTrips counts the commands of login and refresh (DESIGN §9: a
// login makes at most 3 round trips). Not parallel: the recorder sees every
// command of the client.
func TestRoundTrips(t *testing.T) {
	realm := newRealm(t)
	newAccount(t, realm, "alice@example.com", "Secret123", true)

	// Cold: the realm and its keys are not cached yet in this process.
	cold := commands.during(func() { login(t, realm, "alice@example.com", "Secret123") })
	db := tenant.DBName(realm)
	require.Equal(t, []string{
		"realmiam_core.find realms",
		db + ".find accounts",
		db + ".find keys",
		db + ".insert refresh_tokens",
	}, cold)

	var tok tokensResponse
	warm := commands.during(func() { tok = login(t, realm, "alice@example.com", "Secret123") })
	require.Equal(t, []string{db + ".find accounts", db + ".insert refresh_tokens"}, warm)

	wrong := commands.during(func() {
		status, _ := post(t, "/api/realm/"+realm+"/auth/login", loginRequest{Email: "alice@example.com", Password: "nope"})
		require.Equal(t, http.StatusUnauthorized, status)
	})
	require.Equal(t, []string{db + ".find accounts"}, wrong)

	rotate := commands.during(func() {
		status, _ := refresh(t, realm, tok.RefreshToken)
		require.Equal(t, http.StatusOK, status)
	})
	require.Equal(t, []string{db + ".findAndModify refresh_tokens", db + ".find accounts", db + ".insert refresh_tokens"}, rotate)

	reuse := commands.during(func() {
		status, _ := refresh(t, realm, tok.RefreshToken)
		require.Equal(t, http.StatusUnauthorized, status)
	})
	require.Equal(t, []string{db + ".findAndModify refresh_tokens", db + ".find refresh_tokens", db + ".update refresh_tokens"}, reuse)

	garbage := commands.during(func() {
		status, _ := refresh(t, realm, "not-a-token")
		require.Equal(t, http.StatusUnauthorized, status)
	})
	require.Empty(t, garbage)
}

// TestConcurrentRefresh presents one refresh token many times at once:
// exactly one request wins the claim.
func TestConcurrentRefresh(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	newAccount(t, realm, "bob@example.com", "Secret123", true)
	tok := login(t, realm, "bob@example.com", "Secret123")

	const n = 8
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			status, _ := refresh(t, realm, tok.RefreshToken)
			statuses <- status
		})
	}
	wg.Wait()
	close(statuses)
	won := 0
	for s := range statuses {
		if s == http.StatusOK {
			won++
		} else {
			require.Equal(t, http.StatusUnauthorized, s)
		}
	}
	require.Equal(t, 1, won)
}

// TestRotationKeepsSession: the next token of a family keeps the family, its
// expiry and the sign-in time; the presented one is marked used.
func TestRotationKeepsSession(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	id := newAccount(t, realm, "carol@example.com", "Secret123", true)
	tok := login(t, realm, "carol@example.com", "Secret123")
	first := storedToken(t, realm, tok.RefreshToken)
	require.Equal(t, id, first.AccountID)
	require.False(t, first.Used)
	require.False(t, first.Revoked)
	_, refreshTTL := ttls(&tenant.Realm{Settings: tenant.DefaultSettings()})
	require.WithinDuration(t, first.CreatedAt.Add(refreshTTL), first.ExpiresAt, time.Second)

	status, next := refresh(t, realm, tok.RefreshToken)
	require.Equal(t, http.StatusOK, status)
	second := storedToken(t, realm, next.RefreshToken)
	require.Equal(t, first.Family, second.Family)
	require.True(t, first.ExpiresAt.Equal(second.ExpiresAt))
	require.True(t, first.AuthTime.Equal(second.AuthTime))
	require.True(t, storedToken(t, realm, tok.RefreshToken).Used)

	// A login is a new session.
	other := storedToken(t, realm, login(t, realm, "carol@example.com", "Secret123").RefreshToken)
	require.NotEqual(t, first.Family, other.Family)
}

// TestRefreshChecksAccount: a token whose account was disabled or deleted
// without its tokens being revoked is refused all the same.
func TestRefreshChecksAccount(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	id := newAccount(t, realm, "dave@example.com", "Secret123", true)
	accounts := deps.RealmDB(realm).Collection("accounts")

	tok := login(t, realm, "dave@example.com", "Secret123")
	_, err := accounts.UpdateOne(t.Context(), bson.M{"_id": id}, bson.M{"$set": bson.M{"enabled": false}})
	require.NoError(t, err)
	status, _ := refresh(t, realm, tok.RefreshToken)
	require.Equal(t, http.StatusUnauthorized, status)

	_, err = accounts.UpdateOne(t.Context(), bson.M{"_id": id}, bson.M{"$set": bson.M{"enabled": true}})
	require.NoError(t, err)
	tok = login(t, realm, "dave@example.com", "Secret123")
	_, err = accounts.DeleteOne(t.Context(), bson.M{"_id": id})
	require.NoError(t, err)
	status, _ = refresh(t, realm, tok.RefreshToken)
	require.Equal(t, http.StatusUnauthorized, status)
}

// TestAccountRevocation: the accounts function's revocation of an account's
// tokens (updateMany on accountId) stops them.
func TestAccountRevocation(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	id := newAccount(t, realm, "erin@example.com", "Secret123", true)
	a := login(t, realm, "erin@example.com", "Secret123")
	b := login(t, realm, "erin@example.com", "Secret123")
	_, err := deps.RealmDB(realm).Collection(refreshTokens).UpdateMany(t.Context(),
		bson.M{"accountId": id}, bson.M{"$set": bson.M{"revoked": true}})
	require.NoError(t, err)
	for _, tok := range []tokensResponse{a, b} {
		status, _ := refresh(t, realm, tok.RefreshToken)
		require.Equal(t, http.StatusUnauthorized, status)
	}
}

func TestHashRefreshToken(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{"", "x", strings.Repeat("A", 42), strings.Repeat("A", 44), strings.Repeat("+", 43)} {
		_, ok := hashRefreshToken(raw)
		require.False(t, ok, raw)
	}
	h, ok := hashRefreshToken(strings.Repeat("A", 43))
	require.True(t, ok)
	require.Len(t, h, 64)
}
