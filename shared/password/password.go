// Package password provides Realm IAM's password hashing (bcrypt) and the
// per-realm password policy.
package password

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/realmiam/realmiam/shared/problem"
)

// MaxLength is the longest password accepted, in characters (runes).
const MaxLength = 256

// Policy is a realm's password policy, stored in the realm document.
type Policy struct {
	MinLength        int  `bson:"minLength" json:"minLength"`
	RequireUppercase bool `bson:"requireUppercase" json:"requireUppercase"`
	RequireLowercase bool `bson:"requireLowercase" json:"requireLowercase"`
	RequireDigit     bool `bson:"requireDigit" json:"requireDigit"`
	// RequireSymbol asks for a character that is neither a letter nor a digit.
	RequireSymbol bool `bson:"requireSymbol" json:"requireSymbol"`
}

// DefaultPolicy is the policy of a realm that sets none: at least 8
// characters with an upper-case letter, a lower-case letter and a digit.
func DefaultPolicy() Policy {
	return Policy{MinLength: 8, RequireUppercase: true, RequireLowercase: true, RequireDigit: true}
}

// Check reports whether pw, the value of input field field, satisfies p.
// It returns nil, or a *problem.Error of kind Invalid naming field: code
// "password_too_long" when pw has more than MaxLength characters, otherwise
// code "weak_password" with a reason that lists every rule pw breaks (an
// empty password breaks the rule "must not be empty").
func (p Policy) Check(field, pw string) error {
	n := utf8.RuneCountInString(pw)
	if n > MaxLength {
		return invalid("password_too_long", field, "must have at most "+strconv.Itoa(MaxLength)+" characters")
	}
	if n == 0 {
		return invalid("weak_password", field, "must not be empty")
	}
	var upper, lower, digit, symbol bool
	for _, r := range pw {
		switch {
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsLower(r):
			lower = true
		case unicode.IsDigit(r):
			digit = true
		case !unicode.IsLetter(r):
			symbol = true
		}
	}
	var missing []string
	if n < p.MinLength {
		missing = append(missing, "at least "+strconv.Itoa(p.MinLength)+" characters")
	}
	if p.RequireUppercase && !upper {
		missing = append(missing, "an upper-case letter")
	}
	if p.RequireLowercase && !lower {
		missing = append(missing, "a lower-case letter")
	}
	if p.RequireDigit && !digit {
		missing = append(missing, "a digit")
	}
	if p.RequireSymbol && !symbol {
		missing = append(missing, "a symbol")
	}
	if len(missing) == 0 {
		return nil
	}
	return invalid("weak_password", field, "must have "+strings.Join(missing, ", "))
}

func invalid(code, field, reason string) error {
	return &problem.Error{
		Kind:   problem.Invalid,
		Code:   code,
		Detail: field + ": " + reason,
		Fields: []problem.FieldError{{Field: field, Reason: reason}},
	}
}

// Hasher hashes and verifies passwords with bcrypt.
//
// bcrypt reads only the first 72 bytes of its input, and a 256-character
// password may take up to 1,024 bytes of UTF-8: hashed directly, two long
// passwords sharing a 72-byte prefix would verify against each other. So the
// bcrypt input is base64(SHA-256(password)): 44 bytes that depend on every
// byte of the password. base64 rather than the raw digest, because raw digest
// bytes may contain NUL, which some bcrypt implementations treat as the end of
// the input.
//
// Build one with NewHasher; the zero Hasher is not usable.
type Hasher struct {
	cost  int
	dummy []byte // a hash at cost, for VerifyNothing
}

// NewHasher returns a Hasher with the given bcrypt cost (0 means
// bcrypt.DefaultCost). It returns an error for a cost bcrypt does not accept.
func NewHasher(cost int) (*Hasher, error) {
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("password.NewHasher: bcrypt cost %d outside [%d, %d]", cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	return &Hasher{cost: cost, dummy: []byte(fmt.Sprintf("$2a$%02d$%s", cost, dummySaltAndHash))}, nil
}

// dummySaltAndHash is the salt and hash of a bcrypt hash (of "not a
// password", at cost 4). Under another cost prefix it hashes nothing, and
// comparing against it still takes that cost's full time, which is all
// VerifyNothing needs; making a real hash at start would add a bcrypt run
// (61 ms at cost 10) to every function's cold start.
const dummySaltAndHash = "9apaeITiTfobY3T7OagT9.yU6QnuFCgCOLocCeWV2UKENzSEFD.qm"

// Cost is h's bcrypt cost.
func (h *Hasher) Cost() int { return h.cost }

// Hash returns the bcrypt hash of pw, to store. Its error is an internal one
// (the system's random source failed).
func (h *Hasher) Hash(pw string) (string, error) {
	b, err := bcrypt.GenerateFromPassword(prehash(pw), h.cost)
	if err != nil {
		return "", fmt.Errorf("password.Hash: %w", err)
	}
	return string(b), nil
}

// Verify reports whether pw matches hash, a value returned by Hash. A
// malformed hash matches nothing.
func (h *Hasher) Verify(hash, pw string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), prehash(pw)) == nil
}

// VerifyNothing spends about the time Verify spends on a hash of h's cost,
// and matches nothing. Call it when the account is unknown, so that an unknown
// email and a wrong password take the same time.
func (h *Hasher) VerifyNothing(pw string) {
	_ = bcrypt.CompareHashAndPassword(h.dummy, prehash(pw))
}

func prehash(pw string) []byte {
	sum := sha256.Sum256([]byte(pw))
	out := make([]byte, base64.StdEncoding.EncodedLen(len(sum)))
	base64.StdEncoding.Encode(out, sum[:])
	return out
}
