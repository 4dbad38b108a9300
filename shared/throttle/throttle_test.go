package throttle

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLockFor(t *testing.T) {
	t.Parallel()
	for failures, want := range map[int]time.Duration{
		0: 0, 1: 0, 4: 0, 5: time.Second, 6: 2 * time.Second, 14: 512 * time.Second,
		15: maxLock, 16: maxLock, 64: maxLock, 1 << 40: maxLock,
	} {
		require.Equal(t, want, LockFor(failures), "failures %d", failures)
	}
}
