package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/realmiam/realmiam"
	"github.com/realmiam/realmiam/shared/access"
	"github.com/realmiam/realmiam/shared/mongodb"
	"github.com/realmiam/realmiam/shared/openapi"
	"github.com/realmiam/realmiam/shared/password"
	"github.com/realmiam/realmiam/shared/tenant"
	"github.com/realmiam/realmiam/shared/token"
)

// Deps are what every function is built from.
type Deps struct {
	Config Config
	Log    *slog.Logger
	Now    func() time.Time
	Client *mongo.Client
	Core   *mongo.Database
	Realms *tenant.Resolver
	Keys   *token.Keys
	Tokens *token.Service
	Hasher *password.Hasher
	Access *access.Cache
}

// NewDeps builds Deps over a connected client.
func NewDeps(cfg Config, client *mongo.Client, log *slog.Logger) (*Deps, error) {
	if len(cfg.MasterKey) != 32 {
		return nil, errors.New("serve: IAM_MASTER_KEY is required (32 bytes, base64)")
	}
	d := &Deps{Config: cfg, Log: log, Now: time.Now, Client: client, Core: client.Database(cfg.CoreDB)}
	d.Realms = tenant.NewResolver(d.Core, d.Now)
	keys, err := token.NewKeys(d.RealmDB, cfg.MasterKey, d.Now)
	if err != nil {
		return nil, err
	}
	d.Keys = keys
	d.Tokens = token.NewService(keys, cfg.PublicURL, d.Now)
	d.Hasher, err = password.NewHasher(cfg.BcryptCost)
	if err != nil {
		return nil, err
	}
	d.Access = access.NewCache(d.RealmDB, d.Now)
	return d, nil
}

// RealmDB is the database of realm id.
func (d *Deps) RealmDB(id string) *mongo.Database { return tenant.DB(d.Client, id) }

// Function is one entity group's handlers.
type Function interface {
	Operations() map[string]openapi.HandlerFunc
}

// Handler serves fns through the OpenAPI pipeline, plus GET /healthz.
func Handler(d *Deps, fns ...Function) (http.Handler, error) {
	handlers := map[string]openapi.HandlerFunc{}
	for _, f := range fns {
		for id, h := range f.Operations() {
			if _, dup := handlers[id]; dup {
				return nil, fmt.Errorf("serve: operation %s is served twice", id)
			}
			handlers[id] = h
		}
	}
	guard := &access.Guard{Realms: d.Realms, Tokens: d.Tokens, Accounts: d.Access, Now: d.Now}
	api, err := openapi.NewHandler(openapi.Config{
		Spec:     realmiam.Spec,
		Handlers: handlers,
		Guard:    guard.Check,
		Log:      d.Log,
	})
	if err != nil {
		return nil, err
	}
	// No http.ServeMux: it answers unclean paths ("//", "..") with a
	// redirect; the API answers them with problem+json.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" && r.Method == http.MethodGet {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"status":"ok"}`+"\n")
			return
		}
		api.ServeHTTP(w, r)
	}), nil
}

// NewLogger is the JSON logger every process uses.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// Main runs one function as its own process and does not return; name
// names it in logs ("auth"). With AWS_LAMBDA_RUNTIME_API set it serves
// Lambda invocations (see Lambda); otherwise plain HTTP on PORT (OpenFaaS
// of-watchdog in http mode, containers). Everything expensive (the database
// client and its first connection, the routed spec, the function itself) is
// built once before the first request, so warm invocations reuse it. It
// needs MONGODB_URI and IAM_MASTER_KEY; function binaries never embed a
// database.
//
// A function that also has a method Init(context.Context) error gets it
// called once after it is built and before anything is served: the realms
// function bootstraps the system realm there.
func Main[F Function](name string, newFn func(*Deps) (F, error)) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, name, os.Getenv, func(d *Deps) (Function, error) {
		fn, err := newFn(d)
		if err != nil {
			return nil, err
		}
		return fn, nil
	})
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// Open starts a function binary, HTTP or not (the authorizer): it reads the
// configuration from getenv, connects to MONGODB_URI with a pool sized for
// the runtime (small under Lambda) and builds the Deps. The caller
// disconnects d.Client when it is done.
func Open(ctx context.Context, name string, getenv func(string) string) (*Deps, error) {
	cfg, err := ConfigFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	if cfg.MongoURI == "" {
		return nil, errors.New("serve: MONGODB_URI is required")
	}
	log := NewLogger(os.Stderr, cfg.LogLevel).With("function", name)
	var pool []*options.ClientOptions
	if cfg.Lambda {
		pool = append(pool, mongodb.LambdaPool())
	}
	client, err := mongodb.Connect(ctx, cfg.MongoURI, false, pool...)
	if err != nil {
		return nil, err
	}
	d, err := NewDeps(cfg, client, log)
	if err != nil {
		_ = client.Disconnect(context.WithoutCancel(ctx))
		return nil, err
	}
	return d, nil
}

func run(ctx context.Context, name string, getenv func(string) string, newFn func(*Deps) (Function, error)) error {
	start := time.Now()
	d, err := Open(ctx, name, getenv)
	if err != nil {
		return err
	}
	defer func() { _ = d.Client.Disconnect(context.WithoutCancel(ctx)) }()
	cfg, log := d.Config, d.Log
	// The Lambda adapter library reports with the standard log package;
	// through slog its lines are JSON like every other.
	slog.SetDefault(log)
	fn, err := newFn(d)
	if err != nil {
		return err
	}
	h, err := Handler(d, fn)
	if err != nil {
		return err
	}
	if i, ok := fn.(interface{ Init(context.Context) error }); ok {
		if err := i.Init(ctx); err != nil {
			return err
		}
	}
	ready := float64(time.Since(start).Microseconds()) / 1000
	if cfg.Lambda {
		log.Info("ready", "runtime", "lambda", "init_ms", ready)
		// Start does not return: it serves invocations until the
		// environment is shut down, and exits the process on failure.
		lambda.StartWithOptions(NewLambda(h, cfg.BasePath), lambda.WithContext(ctx))
		return nil
	}
	ln, err := net.Listen("tcp", ":"+cfg.Port)
	if err != nil {
		return err
	}
	log.Info("ready", "runtime", "http", "addr", ln.Addr().String(), "init_ms", ready)
	return Serve(ctx, ln, h)
}

// Serve serves h on ln until ctx ends, then shuts down gracefully.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}
