// Package email provides the one rule for what an account email is and its
// stored form, shared by the API schema's "email" format, the accounts
// function and sign-in.
package email

import (
	"net/mail"
	"strings"
	"unicode"
)

// MaxLength is the longest address accepted (RFC 5321's path limit).
const MaxLength = 254

// Valid reports whether s, once trimmed, is a bare address (no display name
// or angle brackets) with a local part and a domain, and holds no control,
// format (zero-width) or space characters that would make two addresses look
// alike.
func Valid(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > MaxLength {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	return at > 0 && at < len(s)-1
}

// Normalize is the stored form of an address: trimmed, with ASCII letters
// lower-cased. Other letters are kept as they are: Unicode case folding maps
// distinct addresses onto one (K, the Kelvin sign, folds to k; İ lower-cases
// to i̇), which would let one account sign in as another.
func Normalize(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, strings.TrimSpace(s))
}
