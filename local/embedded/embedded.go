// Package embedded runs FerretDB in-process on SQLite, so that the local
// server and the tests speak the MongoDB wire protocol without installing a
// database. Function binaries never import it (DESIGN.md §2).
//
// It is a development store (DESIGN.md §10): clients of it must use a
// one-connection pool (mongodb.Connect with embedded=true), and only one
// process may write to a data directory at a time.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// newMu serialises ferretdb.New, which writes a package global of FerretDB's:
// two stores started at once in one process trip the race detector.
var newMu sync.Mutex

// Store is a running embedded FerretDB.
type Store struct {
	uri     string
	cancel  context.CancelFunc
	done    chan struct{}
	tempDir string // removed by Close; set by StartTemp
}

// StartTemp is Start in a new temporary directory, which Close removes.
// Tests use it.
func StartTemp(ctx context.Context) (*Store, error) {
	dir, err := os.MkdirTemp("", "realmiam-store-")
	if err != nil {
		return nil, fmt.Errorf("embedded.StartTemp: %w", err)
	}
	s, err := Start(ctx, dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	s.tempDir = dir
	return s, nil
}

// maxSocketPath keeps the socket path within the kernel's limit (108 bytes
// on Linux, 104 on macOS).
const maxSocketPath = 100

// Start runs FerretDB with its SQLite files under dir (created if missing).
// It listens on a unix socket inside dir, readable by this user only, since
// the store has no authentication; where dir's path is too long for a
// socket it listens on a free loopback TCP port instead. Close stops it.
func Start(ctx context.Context, dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("embedded.Start: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("embedded.Start: %w", err)
	}
	// FerretDB logs every error reply as a warning with a wire dump; the
	// errors it returns are handled by the caller.
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))

	listener := ferretdb.ListenerConfig{TCP: "127.0.0.1:0"}
	sock := filepath.Join(abs, "ferretdb.sock")
	if len(sock) <= maxSocketPath {
		// A socket left by a process that did not stop cleanly blocks the
		// listener.
		if err := os.Remove(sock); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("embedded.Start: %w", err)
		}
		listener = ferretdb.ListenerConfig{Unix: sock}
	}

	newMu.Lock()
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  listener,
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/",
		Logger:    log,
	})
	newMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("embedded.Start: %w", err)
	}

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Store{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		_ = f.Run(runCtx)
	}()
	// MongoDBURI blocks until Run has bound the listener.
	s.uri = f.MongoDBURI()
	if listener.Unix != "" {
		if err := os.Chmod(sock, 0o600); err != nil {
			s.Close()
			return nil, fmt.Errorf("embedded.Start: %w", err)
		}
		s.uri = "mongodb://" + url.PathEscape(sock) + "/"
	}
	return s, nil
}

// URI is the mongodb:// connection string of the store.
func (s *Store) URI() string { return s.uri }

// Close stops the store and waits for it to release its files.
func (s *Store) Close() {
	s.cancel()
	<-s.done
	if s.tempDir != "" {
		_ = os.RemoveAll(s.tempDir)
	}
}
