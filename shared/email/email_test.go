package email

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"alice@example.com", true},
		{"  Alice@Example.COM ", true},
		{"a+tag@sub.example.co", true},
		{"jörg@exämple.de", true},
		{"", false},
		{"not-an-email", false},
		{"a@", false},
		{"@example.com", false},
		{"<a@b.c>", false},
		{"A <a@b.c>", false},
		{"al\u200bice@example.com", false}, // zero-width space
		{"al ice@example.com", false},
		{"alice@exa\tmple.com", false},
		{"alice@example.com\x00", false},
		{string(make([]byte, 250)) + "@b.c", false},
	} {
		require.Equal(t, tc.want, Valid(tc.in), "%q", tc.in)
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	require.Equal(t, "alice@example.com", Normalize("  ALICE@Example.Com\t"))
	// Non-ASCII letters are kept, so lookalikes never merge into an
	// existing ASCII address.
	require.NotEqual(t, Normalize("\u212aate@example.com"), Normalize("kate@example.com"))
	require.NotEqual(t, Normalize("ALİCE@example.com"), Normalize("alice@example.com"))
	require.Equal(t, "jörg@exämple.de", Normalize("JöRG@exämple.de"))
}
