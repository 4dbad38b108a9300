package authorizer

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
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/realmiam/realmiam/functions"
	"github.com/realmiam/realmiam/local/embedded"
	"github.com/realmiam/realmiam/shared/access"
	"github.com/realmiam/realmiam/shared/mongodb"
	"github.com/realmiam/realmiam/shared/serve"
	"github.com/realmiam/realmiam/shared/tenant"
	"github.com/realmiam/realmiam/shared/token"
)

// The tests run two processes' worth of Realm IAM over one embedded store:
// the admin API (every HTTP function, as the local server runs them), through
// which realms, accounts, policies and attachments are made and tokens are
// issued by signing in; and the authorizer, with caches of its own as in its
// own Lambda, a clock the tests can move, and a command monitor on its
// client.

const (
	adminEmail    = "root@example.com"
	adminPassword = "Admin-Passw0rd-For-Tests"
	userPassword  = "User-Passw0rd-For-Tests"
)

var (
	admin      http.Handler
	adminDeps  *serve.Deps
	adminToken string
	authzDeps  *serve.Deps
	clock      = &testClock{}
	commands   = &recorder{}
	logs       = &syncBuffer{}
)

// testClock is time.Now moved forward by Advance.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// recorder keeps the commands the authorizer's client sends while on.
type recorder struct {
	mu   sync.Mutex
	on   bool
	seen []string // "db.command collection"
}

func (r *recorder) started(_ context.Context, e *event.CommandStartedEvent) {
	coll, _ := e.Command.Lookup(e.CommandName).StringValueOK()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.on {
		r.seen = append(r.seen, e.DatabaseName+"."+e.CommandName+" "+coll)
	}
}

// during returns the commands sent while f runs; tests that use it do not
// run in parallel.
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

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestMain(m *testing.M) {
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "authorizer tests: setup:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	ctx := context.Background()
	store, err := embedded.StartTemp(ctx)
	if err != nil {
		return 0, err
	}
	defer store.Close()
	adminClient, err := mongodb.Connect(ctx, store.URI(), true)
	if err != nil {
		return 0, err
	}
	defer func() { _ = adminClient.Disconnect(ctx) }()
	authzClient, err := mongodb.Connect(ctx, store.URI(), true,
		options.Client().SetMonitor(&event.CommandMonitor{Started: commands.started}))
	if err != nil {
		return 0, err
	}
	defer func() { _ = authzClient.Disconnect(ctx) }()

	master := make([]byte, 32)
	_, _ = rand.Read(master)
	cfg := serve.Config{CoreDB: "realmiam_core", PublicURL: "https://iam.example.test", MasterKey: master,
		BcryptCost: 4, AdminEmail: adminEmail, AdminPassword: adminPassword}
	adminDeps, err = serve.NewDeps(cfg, adminClient, slog.New(slog.DiscardHandler))
	if err != nil {
		return 0, err
	}
	realmsFn, fns, err := functions.All(adminDeps)
	if err != nil {
		return 0, err
	}
	if admin, err = serve.Handler(adminDeps, fns...); err != nil {
		return 0, err
	}
	if _, err := realmsFn.Bootstrap(ctx, adminEmail, adminPassword); err != nil {
		return 0, err
	}
	if adminToken, err = loginErr(tenant.System, adminEmail, adminPassword); err != nil {
		return 0, err
	}

	// The authorizer's process: its own caches, on the test clock.
	authzDeps, err = serve.NewDeps(cfg, authzClient, serve.NewLogger(logs, slog.LevelDebug))
	if err != nil {
		return 0, err
	}
	d := authzDeps
	d.Now = clock.Now
	d.Realms = tenant.NewResolver(d.Core, clock.Now)
	if d.Keys, err = token.NewKeys(d.RealmDB, master, clock.Now); err != nil {
		return 0, err
	}
	d.Tokens = token.NewService(d.Keys, cfg.PublicURL, clock.Now)
	d.Access = access.NewCache(d.RealmDB, clock.Now)
	return m.Run(), nil
}

// api calls the admin API as the system administrator.
func api(t testing.TB, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequestWithContext(t.Context(), method, path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	rec := httptest.NewRecorder()
	admin.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

// create POSTs body to path and returns the new object's id.
func create(t testing.TB, path string, body any) string {
	t.Helper()
	status, out := api(t, "POST", path, body)
	require.Equal(t, http.StatusCreated, status, "POST %s: %s", path, out)
	var obj struct{ ID string }
	require.NoError(t, json.Unmarshal(out, &obj))
	return obj.ID
}

func attach(t testing.TB, path string) {
	t.Helper()
	status, out := api(t, "PUT", path, nil)
	require.Equal(t, http.StatusNoContent, status, "PUT %s: %s", path, out)
}

func newRealm(t testing.TB) string {
	t.Helper()
	id := "az-" + strings.ToLower(rand.Text()[:10])
	status, out := api(t, "POST", "/api/core/realms", map[string]any{"id": id})
	require.Equal(t, http.StatusCreated, status, "%s", out)
	return id
}

// newUser creates an account and returns its id and email.
func newUser(t testing.TB, realm string) (id, email string) {
	t.Helper()
	email = "u-" + strings.ToLower(rand.Text()[:8]) + "@example.com"
	id = create(t, "/api/realm/"+realm+"/accounts", map[string]any{"email": email, "password": userPassword})
	return id, email
}

// newPolicy stores a policy document (JSON text) and returns its id.
func newPolicy(t testing.TB, realm, document string) string {
	t.Helper()
	name := "p-" + strings.ToLower(rand.Text()[:8])
	return create(t, "/api/realm/"+realm+"/policies", map[string]any{"name": name, "document": json.RawMessage(document)})
}

// login signs in through the auth function: the token a client would hold.
func login(t testing.TB, realm, email string) string {
	t.Helper()
	tok, err := loginErr(realm, email, userPassword)
	require.NoError(t, err)
	return tok
}

func loginErr(realm, email, password string) (string, error) {
	b, _ := json.Marshal(map[string]string{"email": email, "password": password})
	req := httptest.NewRequest("POST", "/api/realm/"+realm+"/auth/login", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	admin.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return "", fmt.Errorf("login %s: %d %s", realm, rec.Code, rec.Body)
	}
	var tok struct{ AccessToken string }
	err := json.Unmarshal(rec.Body.Bytes(), &tok)
	return tok.AccessToken, err
}
