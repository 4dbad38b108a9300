package password

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/realmiam/realmiam/shared/problem"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	all := Policy{MinLength: 8, RequireUppercase: true, RequireLowercase: true, RequireDigit: true, RequireSymbol: true}
	for _, tc := range []struct {
		name   string
		policy Policy
		pw     string
		code   string // "" means accepted
		reason string
	}{
		{"default ok", DefaultPolicy(), "Passw0rd", "", ""},
		{"default without symbol ok", DefaultPolicy(), "abcDEF123", "", ""},
		{"empty", DefaultPolicy(), "", "weak_password", "must not be empty"},
		{"empty under zero policy", Policy{}, "", "weak_password", "must not be empty"},
		{"zero policy accepts one char", Policy{}, "a", "", ""},
		{"too short", DefaultPolicy(), "Pa0", "weak_password", "must have at least 8 characters"},
		{"no upper", DefaultPolicy(), "passw0rd", "weak_password", "must have an upper-case letter"},
		{"no lower", DefaultPolicy(), "PASSW0RD", "weak_password", "must have a lower-case letter"},
		{"no digit", DefaultPolicy(), "Password", "weak_password", "must have a digit"},
		{"every rule listed", all, "aaa", "weak_password",
			"must have at least 8 characters, an upper-case letter, a digit, a symbol"},
		{"all satisfied", all, "Passw0rd!", "", ""},
		{"space is a symbol", all, "Pass w0rd", "", ""},
		{"unicode letters", all, "Ünïcödé9€", "", ""},
		{"unicode lower only", DefaultPolicy(), "ünïcödé9", "weak_password", "must have an upper-case letter"},
		{"non-latin digit", DefaultPolicy(), "Passwor٣", "", ""},
		{"letters are not symbols", Policy{RequireSymbol: true}, "Ωmega123", "weak_password", "must have a symbol"},
		{"length counts runes", Policy{MinLength: 4}, "ééé", "weak_password", "must have at least 4 characters"},
		{"max length ok", DefaultPolicy(), "Aa1" + strings.Repeat("é", MaxLength-3), "", ""},
		{"too long", DefaultPolicy(), "Aa1" + strings.Repeat("é", MaxLength-2), "password_too_long", "must have at most 256 characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.policy.Check("password", tc.pw)
			if tc.code == "" {
				require.NoError(t, err)
				return
			}
			var e *problem.Error
			require.True(t, errors.As(err, &e), "want *problem.Error, got %v", err)
			require.Equal(t, problem.Invalid, e.Kind)
			require.Equal(t, tc.code, e.Code)
			require.Equal(t, []problem.FieldError{{Field: "password", Reason: tc.reason}}, e.Fields)
			if tc.pw != "" {
				require.NotContains(t, e.Detail, tc.pw)
			}
		})
	}
}

func newHasher(t *testing.T) *Hasher {
	t.Helper()
	h, err := NewHasher(bcrypt.MinCost)
	require.NoError(t, err)
	return h
}

func TestHashVerify(t *testing.T) {
	t.Parallel()
	h := newHasher(t)
	for _, pw := range []string{"Passw0rd", "", "é", strings.Repeat("x", 1000)} {
		hash, err := h.Hash(pw)
		require.NoError(t, err)
		require.True(t, h.Verify(hash, pw))
		require.False(t, h.Verify(hash, pw+"x"))
		cost, err := bcrypt.Cost([]byte(hash))
		require.NoError(t, err)
		require.Equal(t, bcrypt.MinCost, cost)
	}
	again, err := h.Hash("Passw0rd")
	require.NoError(t, err)
	first, err := h.Hash("Passw0rd")
	require.NoError(t, err)
	require.NotEqual(t, first, again, "salted")
	require.False(t, h.Verify("not a hash", "Passw0rd"))
	require.False(t, h.Verify("", ""))
}

// bcrypt alone reads 72 bytes; long passwords must still differ everywhere.
func TestHashLongPasswordsNotTruncated(t *testing.T) {
	t.Parallel()
	h := newHasher(t)
	prefix := strings.Repeat("é", 36) // 72 bytes
	a := prefix + strings.Repeat("a", MaxLength-36)
	b := prefix + strings.Repeat("b", MaxLength-36)
	require.Equal(t, MaxLength, utf8.RuneCountInString(a))
	require.Equal(t, MaxLength, utf8.RuneCountInString(b))
	hash, err := h.Hash(a)
	require.NoError(t, err)
	require.True(t, h.Verify(hash, a))
	require.False(t, h.Verify(hash, b))
	require.False(t, h.Verify(hash, prefix))
}

func TestNewHasher(t *testing.T) {
	t.Parallel()
	h, err := NewHasher(0)
	require.NoError(t, err)
	require.Equal(t, bcrypt.DefaultCost, h.Cost())
	_, err = NewHasher(bcrypt.MinCost - 1)
	require.Error(t, err)
	_, err = NewHasher(bcrypt.MaxCost + 1)
	require.Error(t, err)
}

// VerifyNothing must do a real bcrypt comparison; timing is not asserted
// (speed is for benchmarks), only that it does comparable work.
func TestVerifyNothingDoesTheWork(t *testing.T) {
	t.Parallel()
	h, err := NewHasher(bcrypt.MinCost + 4) // ≈ 4 ms, far above a no-op
	require.NoError(t, err)
	start := time.Now()
	h.VerifyNothing("Passw0rd")
	require.Greater(t, time.Since(start), time.Millisecond)
}

// The hash VerifyNothing compares against is a well-formed bcrypt hash of
// the Hasher's cost (a malformed one would be refused at once, without the
// work), and matches nothing.
func TestVerifyNothingHashIsWellFormed(t *testing.T) {
	t.Parallel()
	for cost := bcrypt.MinCost; cost <= 16; cost++ {
		h, err := NewHasher(cost)
		require.NoError(t, err)
		got, err := bcrypt.Cost(h.dummy)
		require.NoError(t, err, "cost %d", cost)
		require.Equal(t, cost, got)
		if cost <= bcrypt.MinCost+1 {
			for _, pw := range []string{"", "not a password", "Passw0rd"} {
				require.ErrorIs(t, bcrypt.CompareHashAndPassword(h.dummy, prehash(pw)), bcrypt.ErrMismatchedHashAndPassword)
			}
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	h, err := NewHasher(bcrypt.DefaultCost)
	require.NoError(b, err)
	hash, err := h.Hash("Passw0rd")
	require.NoError(b, err)
	b.Run("known", func(b *testing.B) {
		for b.Loop() {
			h.Verify(hash, "wrong")
		}
	})
	b.Run("unknown", func(b *testing.B) {
		for b.Loop() {
			h.VerifyNothing("wrong")
		}
	})
}
