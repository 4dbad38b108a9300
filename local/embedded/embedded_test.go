package embedded

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/realmiam/realmiam/shared/mongodb"
)

func TestStartListensOnPrivateSocketOrLoopback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	short, err := os.MkdirTemp("", "e")
	require.NoError(t, err)
	defer os.RemoveAll(short)
	long := filepath.Join(t.TempDir(), strings.Repeat("d", maxSocketPath))

	for _, tc := range []struct {
		dir, scheme string
	}{
		{short, "mongodb://%2F"},
		{long, "mongodb://127.0.0.1:"},
	} {
		s, err := Start(ctx, tc.dir)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(s.URI(), tc.scheme), s.URI())
		if tc.dir == short {
			fi, err := os.Stat(filepath.Join(short, "ferretdb.sock"))
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
		}
		c, err := mongodb.Connect(ctx, s.URI(), true)
		require.NoError(t, err)
		_, err = c.Database("d").Collection("c").InsertOne(ctx, bson.M{"a": 1})
		require.NoError(t, err)
		require.NoError(t, c.Disconnect(ctx))
		s.Close()
	}

	// A stale socket from an unclean stop does not block the next start.
	require.NoError(t, os.WriteFile(filepath.Join(short, "ferretdb.sock"), nil, 0o600))
	s, err := Start(ctx, short)
	require.NoError(t, err)
	s.Close()
}
