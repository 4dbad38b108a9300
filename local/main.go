// Command local runs every Realm IAM function in one process for development:
// the whole API on PORT, Swagger UI at /docs, the contract at /openapi.yaml,
// and an embedded database under IAM_DATA_DIR unless MONGODB_URI is set.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	swaggerfiles "github.com/swaggo/files/v2"

	"github.com/realmiam/realmiam"
	"github.com/realmiam/realmiam/functions"
	"github.com/realmiam/realmiam/local/embedded"
	"github.com/realmiam/realmiam/shared/mongodb"
	"github.com/realmiam/realmiam/shared/serve"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "realmiam:", err)
		os.Exit(1)
	}
}

// run starts the server and blocks until ctx ends. When ready is not nil it
// receives the base URL once the server accepts requests.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer, ready chan<- string) error {
	cfg, err := serve.ConfigFromEnv(getenv)
	if err != nil {
		return err
	}
	log := serve.NewLogger(os.Stderr, cfg.LogLevel)

	uri, embeddedStore := cfg.MongoURI, cfg.MongoURI == ""
	if embeddedStore {
		store, err := embedded.Start(ctx, filepath.Join(cfg.DataDir, "db"))
		if err != nil {
			return err
		}
		defer store.Close()
		uri = store.URI()
	}
	if cfg.MasterKey == nil {
		if cfg.MasterKey, err = localMasterKey(cfg.DataDir); err != nil {
			return err
		}
	}
	client, err := mongodb.Connect(ctx, uri, embeddedStore)
	if err != nil {
		return err
	}
	defer func() { _ = client.Disconnect(context.WithoutCancel(ctx)) }()

	d, err := serve.NewDeps(cfg, client, log)
	if err != nil {
		return err
	}
	realmsFn, fns, err := functions.All(d)
	if err != nil {
		return err
	}
	api, err := serve.Handler(d, fns...)
	if err != nil {
		return err
	}
	generated, err := realmsFn.Bootstrap(ctx, cfg.AdminEmail, cfg.AdminPassword)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", ":"+cfg.Port)
	if err != nil {
		return err
	}
	base := "http://localhost:" + portOf(ln)
	fmt.Fprintf(stdout, "Realm IAM is serving on %s (API docs: %s/docs)\n", base, base)
	if embeddedStore {
		fmt.Fprintf(stdout, "Data: embedded store in %s\n", cfg.DataDir)
	}
	if generated != "" {
		fmt.Fprintf(stdout, "\nCreated the system administrator. This password is shown once:\n  realm:    system\n  email:    %s\n  password: %s\n\n", cfg.AdminEmail, generated)
	}
	if ready != nil {
		ready <- base
	}
	return serve.Serve(ctx, ln, routes(api))
}

// routes adds the development extras around the API. It avoids
// http.ServeMux, which redirects unclean paths instead of letting the API
// answer them.
func routes(api http.Handler) http.Handler {
	docs := http.StripPrefix("/docs/", http.FileServerFS(swaggerfiles.FS))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if r.Method != http.MethodGet || (p != "/openapi.yaml" && p != "/docs" && !strings.HasPrefix(p, "/docs/")) {
			api.ServeHTTP(w, r)
			return
		}
		switch p {
		case "/openapi.yaml":
			w.Header().Set("Content-Type", "application/yaml")
			_, _ = w.Write(realmiam.Spec)
		case "/docs":
			http.Redirect(w, r, "/docs/", http.StatusMovedPermanently)
		case "/docs/swagger-initializer.js":
			w.Header().Set("Content-Type", "text/javascript")
			_, _ = io.WriteString(w, swaggerInitializer)
		default:
			docs.ServeHTTP(w, r)
		}
	})
}

// swaggerInitializer points Swagger UI at our contract instead of the
// petstore example the package ships with.
const swaggerInitializer = `window.onload = function() {
  window.ui = SwaggerUIBundle({
    url: "/openapi.yaml",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout"
  });
};
`

// localMasterKey reads the data directory's master key, creating it on first
// start. Production deployments set IAM_MASTER_KEY instead.
func localMasterKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, "master.key")
	b, err := os.ReadFile(path)
	if err == nil {
		return serve.DecodeMasterKey(string(b))
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	enc := base64.StdEncoding.EncodeToString(key) + "\n"
	if err := os.WriteFile(path, []byte(enc), 0o600); err != nil {
		return nil, err
	}
	return key, nil
}

func portOf(ln net.Listener) string {
	addr := ln.Addr().String()
	return addr[strings.LastIndexByte(addr, ':')+1:]
}
