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
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/realmiam/realmiam/local/embedded"
	"github.com/realmiam/realmiam/shared/mongodb"
	"github.com/realmiam/realmiam/shared/serve"
	"github.com/realmiam/realmiam/shared/tenant"
	"github.com/realmiam/realmiam/shared/throttle"
)

// These tests drive the auth function alone through the OpenAPI pipeline on
// the embedded store, counting the commands each operation sends. The
// scenarios across functions live in tests/.

var (
	deps     *serve.Deps
	handler  http.Handler
	commands recorder
	// side is a second client of the same store, for tests that must write
	// while the server's one connection is busy with a command.
	side *mongo.Client
)

// recorder keeps the commands the client sends while it is on, and runs
// hooks just before chosen commands are sent.
type recorder struct {
	mu    sync.Mutex
	on    bool
	seen  []string          // "db.command collection"
	hooks map[string]func() // by "db.command collection"; each runs once
}

func (r *recorder) started(_ context.Context, e *event.CommandStartedEvent) {
	coll, _ := e.Command.Lookup(e.CommandName).StringValueOK()
	cmd := e.DatabaseName + "." + e.CommandName + " " + coll
	r.mu.Lock()
	if r.on {
		r.seen = append(r.seen, cmd)
	}
	hook := r.hooks[cmd]
	delete(r.hooks, cmd)
	r.mu.Unlock()
	if hook != nil {
		hook()
	}
}

// before runs f once, just before the client next sends cmd ("db.command
// collection"), while that command holds the client's one connection: f
// must use side to reach the database.
func (r *recorder) before(cmd string, f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.hooks == nil {
		r.hooks = map[string]func(){}
	}
	r.hooks[cmd] = f
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
	side, err = mongodb.Connect(ctx, store.URI(), true)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = side.Disconnect(ctx) }()

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
	db := tenant.DBName(realm)
	loginPath := "/api/realm/" + realm + "/auth/login"

	// Cold: the realm and its keys are not cached yet in this process.
	cold := commands.during(func() { login(t, realm, "alice@example.com", "Secret123") })
	require.Equal(t, []string{
		"realmiam_core.find realms",
		db + ".find login_throttle",
		db + ".find accounts",
		db + ".find keys",
		db + ".insert refresh_tokens",
	}, cold)

	var tok tokensResponse
	warm := commands.during(func() { tok = login(t, realm, "alice@example.com", "Secret123") })
	require.Equal(t, []string{db + ".find login_throttle", db + ".find accounts", db + ".insert refresh_tokens"}, warm)

	wrong := commands.during(func() {
		status, _ := post(t, loginPath, loginRequest{Email: "alice@example.com", Password: "nope"})
		require.Equal(t, http.StatusUnauthorized, status)
	})
	require.Equal(t, []string{db + ".find login_throttle", db + ".find accounts", db + ".findAndModify login_throttle"}, wrong)

	// The first success after a failure resets the count; the next is warm
	// again.
	reset := commands.during(func() { login(t, realm, "alice@example.com", "Secret123") })
	require.Equal(t, []string{
		db + ".find login_throttle", db + ".find accounts", db + ".delete login_throttle", db + ".insert refresh_tokens",
	}, reset)
	warm = commands.during(func() { login(t, realm, "alice@example.com", "Secret123") })
	require.Equal(t, []string{db + ".find login_throttle", db + ".find accounts", db + ".insert refresh_tokens"}, warm)

	// The failure that locks sets the lock; a locked email costs one read
	// and no bcrypt (no account is even read).
	for range throttle.LockThreshold - 1 {
		status, _ := post(t, loginPath, loginRequest{Email: "mallory@example.com", Password: "nope"})
		require.Equal(t, http.StatusUnauthorized, status)
	}
	locking := commands.during(func() {
		status, _ := post(t, loginPath, loginRequest{Email: "mallory@example.com", Password: "nope"})
		require.Equal(t, http.StatusUnauthorized, status)
	})
	require.Equal(t, []string{
		db + ".find login_throttle", db + ".find accounts", db + ".findAndModify login_throttle", db + ".update login_throttle",
	}, locking)
	locked := commands.during(func() {
		status, _ := post(t, loginPath, loginRequest{Email: "mallory@example.com", Password: "nope"})
		require.Equal(t, http.StatusTooManyRequests, status)
	})
	require.Equal(t, []string{db + ".find login_throttle"}, locked)

	rotate := commands.during(func() {
		status, _ := refresh(t, realm, tok.RefreshToken)
		require.Equal(t, http.StatusOK, status)
	})
	require.Equal(t, []string{
		db + ".findAndModify refresh_tokens", db + ".find accounts", db + ".insert refresh_tokens", db + ".find refresh_tokens",
	}, rotate)

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
// exactly one request wins the claim, the others are reuse, and the family
// ends revoked, the winner's new token included.
func TestConcurrentRefresh(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	id := newAccount(t, realm, "bob@example.com", "Secret123", true)
	tok := login(t, realm, "bob@example.com", "Secret123")

	const n = 8
	type result struct {
		status int
		tok    tokensResponse
	}
	results := make(chan result, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			status, next := refresh(t, realm, tok.RefreshToken)
			results <- result{status, next}
		})
	}
	wg.Wait()
	close(results)
	won := 0
	for res := range results {
		if res.status == http.StatusOK {
			won++
			status, _ := refresh(t, realm, res.tok.RefreshToken)
			require.Equal(t, http.StatusUnauthorized, status, "the winner's token outlives the family's revocation")
		} else {
			require.Equal(t, http.StatusUnauthorized, res.status)
		}
	}
	require.LessOrEqual(t, won, 1)

	coll := deps.RealmDB(realm).Collection(refreshTokens)
	all, err := coll.CountDocuments(t.Context(), bson.M{"accountId": id})
	require.NoError(t, err)
	require.EqualValues(t, 2, all, "one claim, one new token")
	live, err := coll.CountDocuments(t.Context(), bson.M{"accountId": id, "revoked": false})
	require.NoError(t, err)
	require.Zero(t, live)
}

// TestRevocationBeforeInsert revokes a session's tokens while a refresh of
// it is between its claim and its insert of the next token, as the accounts
// function (password set, disable, delete) or a reuse elsewhere may: the
// revocation cannot see the token that is not inserted yet, so the refresh
// must notice on its own, hand out nothing and revoke what it inserted.
func TestRevocationBeforeInsert(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		revoke func(ctx context.Context, tokens *mongo.Collection, account, family string) error
	}{
		{"account tokens revoked", func(ctx context.Context, tokens *mongo.Collection, account, _ string) error {
			_, err := tokens.UpdateMany(ctx, bson.M{"accountId": account, "revoked": false}, bson.M{"$set": bson.M{"revoked": true}})
			return err
		}},
		{"account tokens deleted", func(ctx context.Context, tokens *mongo.Collection, account, _ string) error {
			_, err := tokens.DeleteMany(ctx, bson.M{"accountId": account})
			return err
		}},
		{"family revoked", func(ctx context.Context, tokens *mongo.Collection, _, family string) error {
			_, err := tokens.UpdateMany(ctx, bson.M{"family": family}, bson.M{"$set": bson.M{"revoked": true}})
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			realm := newRealm(t)
			account := newAccount(t, realm, "ivan@example.com", "Secret123", true)
			tok := login(t, realm, "ivan@example.com", "Secret123")
			family := storedToken(t, realm, tok.RefreshToken).Family

			var revokeErr error
			ran := make(chan struct{})
			commands.before(tenant.DBName(realm)+".insert "+refreshTokens, func() {
				defer close(ran)
				tokens := side.Database(tenant.DBName(realm)).Collection(refreshTokens)
				revokeErr = tc.revoke(context.WithoutCancel(t.Context()), tokens, account, family)
			})
			status, next := refresh(t, realm, tok.RefreshToken)
			<-ran
			require.NoError(t, revokeErr)
			require.Equal(t, http.StatusUnauthorized, status, "the refresh handed out tokens of a revoked session")
			require.Empty(t, next.RefreshToken)

			live, err := deps.RealmDB(realm).Collection(refreshTokens).CountDocuments(t.Context(),
				bson.M{"accountId": account, "revoked": false})
			require.NoError(t, err)
			require.Zero(t, live, "a token of the session survived")
		})
	}
}

// newHandler serves a Server of its own, changed by edit, through the same
// pipeline as handler.
func newHandler(t *testing.T, edit func(*Server)) http.Handler {
	t.Helper()
	srv, err := New(deps)
	require.NoError(t, err)
	edit(srv)
	h, err := serve.Handler(deps, srv)
	require.NoError(t, err)
	return h
}

// send posts body to h and returns the whole response.
func send(t *testing.T, h http.Handler, path string, body any) *http.Response {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

// TestRevocationDuringRefresh runs a revocation exactly between a refresh's
// insert of the next token and its re-read of the claimed one, the moment
// a revocation used to miss the new token: the refresh must hand out
// nothing, and no token of the session may work afterwards.
func TestRevocationDuringRefresh(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		revoke func(t *testing.T, realm, account string, older tokensResponse)
	}{
		{"account tokens revoked", func(t *testing.T, realm, account string, _ tokensResponse) {
			// What the accounts function does on password set and disable.
			_, err := deps.RealmDB(realm).Collection(refreshTokens).UpdateMany(t.Context(),
				bson.M{"accountId": account, "revoked": false}, bson.M{"$set": bson.M{"revoked": true}})
			require.NoError(t, err)
		}},
		{"account tokens deleted", func(t *testing.T, realm, account string, _ tokensResponse) {
			// What the accounts function does on delete.
			_, err := deps.RealmDB(realm).Collection(refreshTokens).DeleteMany(t.Context(), bson.M{"accountId": account})
			require.NoError(t, err)
		}},
		{"rotated token reused", func(t *testing.T, realm, _ string, older tokensResponse) {
			status, _ := refresh(t, realm, older.RefreshToken)
			require.Equal(t, http.StatusUnauthorized, status)
		}},
		{"logout", func(t *testing.T, realm, _ string, older tokensResponse) {
			status, _ := post(t, "/api/realm/"+realm+"/auth/logout", refreshRequest{RefreshToken: older.RefreshToken})
			require.Equal(t, http.StatusNoContent, status)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			realm := newRealm(t)
			account := newAccount(t, realm, "frank@example.com", "Secret123", true)
			older := login(t, realm, "frank@example.com", "Secret123")
			_, current := refresh(t, realm, older.RefreshToken)
			require.NotEmpty(t, current.RefreshToken)

			calls := 0
			h := newHandler(t, func(s *Server) {
				s.afterInsert = func() {
					calls++
					tc.revoke(t, realm, account, older)
				}
			})
			res := send(t, h, "/api/realm/"+realm+"/auth/refresh", refreshRequest{RefreshToken: current.RefreshToken})
			body, err := io.ReadAll(res.Body)
			require.NoError(t, err)
			require.Equal(t, 1, calls)
			require.Equal(t, http.StatusUnauthorized, res.StatusCode, "%s", body)
			require.Contains(t, string(body), "invalid_refresh_token")
			require.NotContains(t, string(body), "accessToken")

			live, err := deps.RealmDB(realm).Collection(refreshTokens).CountDocuments(t.Context(),
				bson.M{"accountId": account, "revoked": false})
			require.NoError(t, err)
			require.Zero(t, live, "a token of the session survived")
		})
	}

	t.Run("no revocation", func(t *testing.T) {
		t.Parallel()
		realm := newRealm(t)
		newAccount(t, realm, "grace@example.com", "Secret123", true)
		tok := login(t, realm, "grace@example.com", "Secret123")
		h := newHandler(t, func(s *Server) { s.afterInsert = func() {} })
		res := send(t, h, "/api/realm/"+realm+"/auth/refresh", refreshRequest{RefreshToken: tok.RefreshToken})
		require.Equal(t, http.StatusOK, res.StatusCode)
	})
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestLoginLockout walks the lockout policy on a clock of its own: locks of
// 1 s, doubling per failure up to 15 minutes, Retry-After the time left,
// failures forgotten after an hour, and a success resetting the count.
func TestLoginLockout(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	newAccount(t, realm, "heidi@example.com", "Secret123", true)
	clk := &clock{t: time.Now().UTC().Truncate(time.Millisecond)}
	h := newHandler(t, func(s *Server) { s.now = clk.Now })
	path := "/api/realm/" + realm + "/auth/login"
	coll := deps.RealmDB(realm).Collection(throttle.Collection)
	attempt := func(pw string) (status int, retryAfter string) {
		res := send(t, h, path, loginRequest{Email: " Heidi@Example.com", Password: pw})
		return res.StatusCode, res.Header.Get("Retry-After")
	}
	stored := func() throttle.Doc {
		var d throttle.Doc
		require.NoError(t, coll.FindOne(t.Context(), bson.M{"_id": throttle.Key("heidi@example.com")}).Decode(&d))
		return d
	}

	for range throttle.LockThreshold {
		status, _ := attempt("wrong")
		require.Equal(t, http.StatusUnauthorized, status)
	}
	wantLock := []int{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900}
	for i, secs := range wantLock {
		failures := throttle.LockThreshold + i
		status, after := attempt("Secret123")
		require.Equal(t, http.StatusTooManyRequests, status, "failure %d", failures)
		require.Equal(t, strconv.Itoa(secs), after, "failure %d", failures)
		require.Equal(t, failures, stored().Failures, "a locked attempt is not counted")

		clk.Advance(time.Duration(secs)*time.Second - time.Millisecond)
		status, after = attempt("wrong")
		require.Equal(t, http.StatusTooManyRequests, status)
		require.Equal(t, "1", after, "Retry-After rounds up")

		clk.Advance(time.Millisecond)
		status, _ = attempt("wrong")
		require.Equal(t, http.StatusUnauthorized, status, "the lock has ended")
		// Failures outlast the longest lock, so the count goes on.
		require.Equal(t, failures+1, stored().Failures)
	}

	// Failures older than failureWindow no longer count: the next failure
	// is the first again.
	clk.Advance(time.Hour) // the failure window
	status, _ := attempt("wrong")
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, 1, stored().Failures)

	// A success resets the count.
	for range throttle.LockThreshold - 2 {
		status, _ := attempt("wrong")
		require.Equal(t, http.StatusUnauthorized, status)
	}
	status, _ = attempt("Secret123")
	require.Equal(t, http.StatusOK, status)
	n, err := coll.CountDocuments(t.Context(), bson.M{})
	require.NoError(t, err)
	require.Zero(t, n)
	for range throttle.LockThreshold - 1 {
		status, _ := attempt("wrong")
		require.Equal(t, http.StatusUnauthorized, status)
	}
	status, _ = attempt("Secret123")
	require.Equal(t, http.StatusOK, status, "four failures after a success do not lock")
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

// TestPasswordSetDuringLogin sets the account's password (as the accounts
// function does: new hash and tokensRevokedAt, then revoking the account's
// refresh tokens) just before a login with the old password inserts its
// refresh token, after it has read the account. The login may still answer
// with tokens, but its session must not outlive the password: the refresh
// token is refused.
func TestPasswordSetDuringLogin(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	account := newAccount(t, realm, "judy@example.com", "Secret123", true)

	var setErr error
	ran := make(chan struct{})
	commands.before(tenant.DBName(realm)+".insert "+refreshTokens, func() {
		defer close(ran)
		ctx := context.WithoutCancel(t.Context())
		db := side.Database(tenant.DBName(realm))
		now := time.Now().UTC().Truncate(time.Millisecond)
		_, setErr = db.Collection("accounts").UpdateOne(ctx, bson.M{"_id": account},
			bson.M{"$set": bson.M{"passwordHash": "changed", "tokensRevokedAt": now}})
		if setErr == nil {
			_, setErr = db.Collection(refreshTokens).UpdateMany(ctx,
				bson.M{"accountId": account, "revoked": false}, bson.M{"$set": bson.M{"revoked": true}})
		}
	})
	tok := login(t, realm, "judy@example.com", "Secret123")
	<-ran
	require.NoError(t, setErr)

	status, next := refresh(t, realm, tok.RefreshToken)
	require.Equal(t, http.StatusUnauthorized, status, "a session started before the password set outlived it")
	require.Empty(t, next.RefreshToken)
}
