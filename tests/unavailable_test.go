package tests

import (
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/realmiam/realmiam/functions"
	"github.com/realmiam/realmiam/local/embedded"
	"github.com/realmiam/realmiam/shared/mongodb"
	"github.com/realmiam/realmiam/shared/serve"
)

// When the database goes away, every operation that needs it answers 503
// problem+json with Retry-After, and no driver text reaches the client.
func TestDatabaseUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, err := embedded.StartTemp(ctx)
	require.NoError(t, err)
	// A short server-selection timeout keeps the test quick; production
	// waits 5 s before answering 503.
	client, err := mongodb.Connect(ctx, store.URI(), true,
		options.Client().SetServerSelectionTimeout(500*time.Millisecond))
	require.NoError(t, err)
	defer func() { _ = client.Disconnect(ctx) }()

	cfg := env.Deps.Config
	cfg.MasterKey = make([]byte, 32)
	_, _ = rand.Read(cfg.MasterKey)
	logs := &syncBuffer{}
	d, err := serve.NewDeps(cfg, client, serve.NewLogger(logs, 0))
	require.NoError(t, err)
	_, fns, err := functions.All(d)
	require.NoError(t, err)
	h, err := serve.Handler(d, fns...)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()

	store.Close() // the database is gone

	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/api/realm/acme/auth/login", `{"email":"a@example.com","password":"x"}`},
		{"GET", "/api/realm/acme/.well-known/jwks.json", ""},
		{"GET", "/api/core/realms", ""},
	} {
		req, err := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
		require.NoError(t, err)
		if tc.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Authorization", "Bearer "+env.AdminToken)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		p := &resp{Status: res.StatusCode, Header: res.Header}
		p.Body, _ = readAll(res)
		require.Equal(t, http.StatusServiceUnavailable, res.StatusCode, "%s %s: %s", tc.method, tc.path, p.Body)
		require.NotEmpty(t, res.Header.Get("Retry-After"))
		require.Equal(t, "database_unavailable", p.problem(t).Code)
		for _, leak := range []string{"server selection", "connection", "mongo", "socket", "sqlite", "ferret"} {
			require.NotContains(t, strings.ToLower(string(p.Body)), leak)
		}
	}
}

func readAll(res *http.Response) ([]byte, error) {
	defer res.Body.Close()
	return io.ReadAll(res.Body)
}
