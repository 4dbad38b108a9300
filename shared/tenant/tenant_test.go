package tenant

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/realmiam/realmiam/local/embedded"
	"github.com/realmiam/realmiam/shared/mongodb"
	"github.com/realmiam/realmiam/shared/problem"
)

func TestValidID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"abc", true},
		{"a-b", true},
		{"a--b", true},
		{"123", true},
		{"system", true},
		{"acme-prod-eu-1", true},
		{strings.Repeat("a", 36), true},
		{strings.Repeat("a", 37), false},
		{"ab", false},
		{"", false},
		{"-abc", false},
		{"abc-", false},
		{"Abc", false},
		{"ab_c", false},
		{"ab.c", false},
		{"ab c", false},
		{"abc\n", false},
		{"\nabc", false},
		{"abé", false},
		{"ab/c", false},
		{"r_abc", false},
	} {
		t.Run(fmt.Sprintf("%q", tc.id), func(t *testing.T) {
			require.Equal(t, tc.want, ValidID(tc.id))
		})
	}
}

func TestDBName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ id, want string }{
		{"abc", "r_abc"},
		{"a-b-c", "r_a_b_c"},
		{"a--b", "r_a__b"},
		{"system", "r_system"},
		{strings.Repeat("z", 36), "r_" + strings.Repeat("z", 36)},
	} {
		t.Run(tc.id, func(t *testing.T) {
			require.True(t, ValidID(tc.id))
			require.Equal(t, tc.want, DBName(tc.id))
			require.NoError(t, checkDBName(tc.id))
		})
	}
}

func TestCheckCoreDB(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"realmiam_core", true},
		{"test_core", true},
		{"r", true},
		{"rx_core", true},
		{"r-core", true},
		{"r_core", false},
		{"r_", false},
		// MongoDB refuses two databases whose names differ only in case,
		// and the embedded store on a case-insensitive file system would
		// make them one file: a core database "R_acme" is realm acme's.
		{"R_core", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckCoreDB(tc.name)
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
}

var dbNamePattern = regexp.MustCompile(`^[a-z0-9_]+$`)

// checkDBName checks the properties DBName promises for a valid id.
func checkDBName(id string) error {
	name := DBName(id)
	switch {
	case !dbNamePattern.MatchString(name):
		return fmt.Errorf("DBName(%q) = %q has characters outside [a-z0-9_]", id, name)
	case len(name) > 38:
		return fmt.Errorf("DBName(%q) = %q is longer than 38 bytes", id, name)
	case strings.EqualFold(name, "realmiam_core"):
		return fmt.Errorf("DBName(%q) is the default core database", id)
	}
	for _, reserved := range []string{"admin", "local", "config"} {
		if strings.EqualFold(name, reserved) {
			return fmt.Errorf("DBName(%q) is MongoDB's %s database", id, reserved)
		}
	}
	// What matters: no core database that start-up accepts can be this
	// realm's database, in any spelling MongoDB (or a case-insensitive file
	// system under the embedded store) would take for the same name.
	for _, variant := range []string{name, strings.ToUpper(name), strings.ToUpper(name[:1]) + name[1:]} {
		if CheckCoreDB(variant) == nil {
			return fmt.Errorf("CheckCoreDB accepts %q, which is realm %q's database", variant, id)
		}
	}
	return nil
}

// toID maps arbitrary bytes onto a valid realm id, so that the fuzzer
// explores valid ids rather than mostly invalid ones.
func toID(b []byte) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-"
	var sb strings.Builder
	for _, c := range b {
		sb.WriteByte(alphabet[int(c)%len(alphabet)])
	}
	id := sb.String()
	if len(id) > 36 {
		id = id[:36]
	}
	for len(id) < 3 {
		id += "0"
	}
	if id[0] == '-' {
		id = "a" + id[1:]
	}
	if id[len(id)-1] == '-' {
		id = id[:len(id)-1] + "z"
	}
	return id
}

func FuzzDBName(f *testing.F) {
	f.Add("abc", "abd")
	f.Add("a-b", "a_b")
	f.Add("a-b-c", "a-bc")
	f.Add("a--b", "a-b")
	f.Add("system", "systen")
	f.Add(strings.Repeat("x", 36), strings.Repeat("x", 35))
	f.Add("realmiam-core", "core")
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, s := range []string{a, b} {
			if ValidID(s) {
				if err := checkDBName(s); err != nil {
					t.Fatal(err)
				}
			}
		}
		x, y := toID([]byte(a)), toID([]byte(b))
		if !ValidID(x) || !ValidID(y) {
			t.Fatalf("toID made invalid ids %q, %q", x, y)
		}
		for _, s := range []string{x, y} {
			if err := checkDBName(s); err != nil {
				t.Fatal(err)
			}
		}
		pairs := [][2]string{{x, y}}
		if ValidID(a) && ValidID(b) {
			pairs = append(pairs, [2]string{a, b})
		}
		for _, p := range pairs {
			if p[0] != p[1] && strings.EqualFold(DBName(p[0]), DBName(p[1])) {
				t.Fatalf("DBName(%q) = DBName(%q) = %q", p[0], p[1], DBName(p[0]))
			}
		}
	})
}

// store is the embedded database of this package's tests, started by the
// first test that needs it.
var store struct {
	once   sync.Once
	db     *embedded.Store
	client *mongo.Client
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if store.client != nil {
		_ = store.client.Disconnect(context.Background())
	}
	if store.db != nil {
		store.db.Close()
	}
	os.Exit(code)
}

// coreDB is a core database of the test's own on the embedded store.
func coreDB(t *testing.T) *mongo.Database {
	t.Helper()
	store.once.Do(func() {
		ctx := context.Background()
		if store.db, store.err = embedded.StartTemp(ctx); store.err != nil {
			return
		}
		store.client, store.err = mongodb.Connect(ctx, store.db.URI(), true)
	})
	require.NoError(t, store.err)
	return store.client.Database(strings.ToLower("core_" + t.Name() + "_" + rand.Text()[:8]))
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

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newClock() *clock { return &clock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)} }

func insertRealm(t *testing.T, core *mongo.Database, id, name string) {
	t.Helper()
	_, err := core.Collection("realms").InsertOne(context.Background(),
		Realm{ID: id, DisplayName: name, Settings: DefaultSettings()})
	require.NoError(t, err)
}

func deleteRealm(t *testing.T, core *mongo.Database, id string) {
	t.Helper()
	_, err := core.Collection("realms").DeleteOne(context.Background(), bson.M{"_id": id})
	require.NoError(t, err)
}

func requireUnknown(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	var e *problem.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, problem.NotFound, e.Kind)
	require.Equal(t, "unknown_realm", e.Code)
}

func TestResolverCaches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	core := coreDB(t)
	clk := newClock()
	r := NewResolver(core, clk.Now)
	insertRealm(t, core, "acme", "Acme")

	got, err := r.Get(ctx, "acme")
	require.NoError(t, err)
	require.Equal(t, "Acme", got.DisplayName)
	require.Equal(t, DefaultSettings(), got.Settings)

	// A hit does not read the database: a change there goes unseen.
	deleteRealm(t, core, "acme")
	got, err = r.Get(ctx, "acme")
	require.NoError(t, err)
	require.Equal(t, "Acme", got.DisplayName)

	// Forget makes the next Get read again.
	r.Forget("acme")
	_, err = r.Get(ctx, "acme")
	requireUnknown(t, err)

	// Misses are cached too, and forgotten the same way.
	insertRealm(t, core, "acme", "Acme again")
	_, err = r.Get(ctx, "acme")
	requireUnknown(t, err)
	r.Forget("acme")
	got, err = r.Get(ctx, "acme")
	require.NoError(t, err)
	require.Equal(t, "Acme again", got.DisplayName)

	// Forgetting an id that was never cached is harmless.
	r.Forget("never-seen")
}

func TestResolverTTL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	core := coreDB(t)
	clk := newClock()
	r := NewResolver(core, clk.Now)
	insertRealm(t, core, "ttl-realm", "Before")

	_, err := r.Get(ctx, "ttl-realm")
	require.NoError(t, err)
	_, err = core.Collection("realms").UpdateOne(ctx, bson.M{"_id": "ttl-realm"},
		bson.M{"$set": bson.M{"displayName": "After"}})
	require.NoError(t, err)

	clk.Add(r.ttl - time.Nanosecond)
	got, err := r.Get(ctx, "ttl-realm")
	require.NoError(t, err)
	require.Equal(t, "Before", got.DisplayName, "still cached just before the TTL")

	clk.Add(time.Nanosecond)
	got, err = r.Get(ctx, "ttl-realm")
	require.NoError(t, err)
	require.Equal(t, "After", got.DisplayName, "read again at the TTL")

	// A cached miss expires the same way.
	_, err = r.Get(ctx, "late-realm")
	requireUnknown(t, err)
	insertRealm(t, core, "late-realm", "Late")
	clk.Add(r.ttl - time.Nanosecond)
	_, err = r.Get(ctx, "late-realm")
	requireUnknown(t, err)
	clk.Add(time.Nanosecond)
	_, err = r.Get(ctx, "late-realm")
	require.NoError(t, err)

}

func TestResolverUnknownAndInvalid(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	core := coreDB(t)
	r := NewResolver(core, newClock().Now)
	_, err := r.Get(ctx, "no-such-realm")
	requireUnknown(t, err)
	for _, id := range []string{"", "ab", "Bad_Id", strings.Repeat("a", 37), "../admin"} {
		_, err := r.Get(ctx, id)
		requireUnknown(t, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	require.Len(t, r.entries, 1, "invalid ids are not cached")
}

func TestResolverBound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	core := coreDB(t)
	clk := newClock()
	r := NewResolver(core, clk.Now)
	r.max = 5
	size := func() int {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.entries)
	}
	for i := range 20 {
		id := fmt.Sprintf("realm-%02d", i)
		if i%2 == 0 {
			insertRealm(t, core, id, id)
		}
		_, _ = r.Get(ctx, id)
		require.LessOrEqual(t, size(), 5)
	}
	require.Equal(t, 5, size())

	// The newest entry survives eviction.
	_, err := r.Get(ctx, "realm-00")
	require.NoError(t, err)
	r.mu.Lock()
	_, ok := r.entries["realm-00"]
	r.mu.Unlock()
	require.True(t, ok)

	// Expired entries go first: after the TTL, one new entry leaves one.
	clk.Add(r.ttl)
	_, err = r.Get(ctx, "realm-02")
	require.NoError(t, err)
	require.Equal(t, 1, size())
}

func TestResolverUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	coreDB(t) // the store is running
	client, err := mongodb.Connect(ctx, store.db.URI(), true)
	require.NoError(t, err)
	r := NewResolver(client.Database("unavailable_core"), newClock().Now)
	require.NoError(t, client.Disconnect(ctx))
	_, err = r.Get(ctx, "acme")
	require.Error(t, err)
	require.True(t, problem.Is(err, problem.Unavailable), "got %v", err)
	r.mu.Lock()
	defer r.mu.Unlock()
	require.Empty(t, r.entries, "a failure is not cached as a miss")
}

// TestResolverForgetDuringRead: a Get that read the realm before a change
// and its Forget must not put the old realm back in the cache, or a change
// made through this process (a deleted realm, a stricter password policy)
// goes unseen for the TTL.
func TestResolverForgetDuringRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	core := coreDB(t)
	insertRealm(t, core, "racy", "Old")

	// A client whose find replies wait, once armed, until released.
	var armed atomic.Bool
	read, release := make(chan struct{}), make(chan struct{})
	monitor := &event.CommandMonitor{Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) {
		if e.CommandName == "find" && armed.CompareAndSwap(true, false) {
			close(read)
			<-release
		}
	}}
	client, err := mongo.Connect(options.Client().ApplyURI(store.db.URI()).SetMonitor(monitor).SetMaxPoolSize(1))
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Disconnect(ctx) })
	r := NewResolver(client.Database(core.Name()), newClock().Now)

	armed.Store(true)
	done := make(chan *Realm)
	go func() {
		realm, err := r.Get(ctx, "racy")
		if err != nil {
			realm = nil
		}
		done <- realm
	}()
	<-read // the Get has read "Old"
	_, err = core.Collection("realms").UpdateOne(ctx, bson.M{"_id": "racy"}, bson.M{"$set": bson.M{"displayName": "New"}})
	require.NoError(t, err)
	r.Forget("racy") // what the realms function does after a change
	close(release)
	old := <-done
	require.NotNil(t, old)
	require.Equal(t, "Old", old.DisplayName, "the Get that started before the change")

	got, err := r.Get(ctx, "racy")
	require.NoError(t, err)
	require.Equal(t, "New", got.DisplayName, "a Get after Forget sees the change")
}

func TestRealmInContext(t *testing.T) {
	t.Parallel()
	require.Nil(t, From(context.Background()))
	realm := &Realm{ID: "acme"}
	require.Same(t, realm, From(WithRealm(context.Background(), realm)))
}

func TestIDOfDB(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"acme", "a-b-c", "system", "x1-2y", strings.Repeat("a", 36)} {
		got, ok := IDOfDB(DBName(id))
		require.True(t, ok, id)
		require.Equal(t, id, got)
	}
	for _, name := range []string{"realmiam_core", "admin", "r_", "r_a", "r_-ab", "r_ab_", "r_AB", "r_a-b", "x_acme"} {
		_, ok := IDOfDB(name)
		require.False(t, ok, name)
	}
}
