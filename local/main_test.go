package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// start runs the local server on a free port over dir and returns its URL,
// what it printed, and a function that stops it.
func start(t *testing.T, dir string) (string, *bytes.Buffer, func()) {
	t.Helper()
	env := map[string]string{"IAM_DATA_DIR": dir, "PORT": "0", "IAM_BCRYPT_COST": "4", "LOG_LEVEL": "error"}
	ctx, cancel := context.WithCancel(context.Background())
	out := &bytes.Buffer{}
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, func(k string) string { return env[k] }, out, ready) }()
	select {
	case url := <-ready:
		return url, out, func() {
			cancel()
			require.NoError(t, <-done)
		}
	case err := <-done:
		cancel()
		t.Fatalf("run: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("the server did not start within 30 s")
	}
	return "", nil, nil
}

func TestLocalServerFirstStartAndRestart(t *testing.T) {
	dir := t.TempDir()
	url, out, stop := start(t, dir)

	m := regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(out.String())
	require.NotNil(t, m, "first start prints the generated admin password: %s", out)
	password := m[1]

	get := func(path string) (*http.Response, []byte) {
		res, err := http.Get(url + path)
		require.NoError(t, err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}
	res, body := get("/healthz")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.JSONEq(t, `{"status":"ok"}`, string(body))
	res, body = get("/openapi.yaml")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.True(t, strings.HasPrefix(string(body), "openapi: 3.0.3"))
	res, body = get("/docs/")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, string(body), "swagger-ui")
	res, body = get("/docs/swagger-initializer.js")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, string(body), `url: "/openapi.yaml"`)

	loginBody := `{"email":"admin@realmiam.local","password":"` + password + `"}`
	login := func(url string) string {
		res, err := http.Post(url+"/api/realm/system/auth/login", "application/json", strings.NewReader(loginBody))
		require.NoError(t, err)
		defer res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
		var tok struct{ AccessToken string }
		require.NoError(t, json.NewDecoder(res.Body).Decode(&tok))
		return tok.AccessToken
	}
	token := login(url)
	req, _ := http.NewRequest("POST", url+"/api/core/realms", strings.NewReader(`{"id":"kept"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusCreated, res.StatusCode)
	stop()

	// Second start over the same directory: no new password, same data,
	// same credentials.
	url, out, stop = start(t, dir)
	defer stop()
	require.NotContains(t, out.String(), "password:")
	token = login(url)
	req, _ = http.NewRequest("GET", url+"/api/core/realms/kept", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
}
