// Package token issues and verifies Realm IAM's JWTs, each realm signing with
// its own keys (DESIGN §6), and serves the realms' public keys as JWKS.
package token

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/realmiam/realmiam/shared/problem"
	"github.com/realmiam/realmiam/shared/tenant"
)

const (
	// leeway absorbs clock differences between processes.
	leeway = 30 * time.Second
	// maxLength bounds the work done on a presented token; ours are far
	// smaller.
	maxLength = 8 << 10
)

// Claims are the claims of Realm IAM's tokens.
type Claims struct {
	jwt.RegisteredClaims
	TokenUse string `json:"token_use"`
	Scope    string `json:"scope,omitempty"`
	ClientID string `json:"client_id,omitempty"`
	Email    string `json:"email,omitempty"`
	AuthTime int64  `json:"auth_time,omitempty"`
}

// Service signs and verifies tokens with the realms' keys.
type Service struct {
	keys   *Keys
	prefix string // issuer without the realm id: publicURL + "/api/realm/"
	now    func() time.Time
}

// NewService returns a Service issuing tokens as publicURL (IAM_PUBLIC_URL).
// now may be nil for time.Now.
func NewService(keys *Keys, publicURL string, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{keys: keys, prefix: strings.TrimRight(publicURL, "/") + "/api/realm/", now: now}
}

// IssuerOf is the iss of the realm's tokens.
func (s *Service) IssuerOf(realmID string) string {
	return s.prefix + realmID
}

// RealmOf returns the realm id named by the iss of raw, WITHOUT verifying
// anything: use it only to choose which realm's keys Verify raw with. ok is
// false when raw is not a JWT whose iss is IssuerOf of a well-formed realm id.
func (s *Service) RealmOf(raw string) (realmID string, ok bool) {
	if len(raw) > maxLength {
		return "", false
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", false
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return "", false
	}
	id, ok := strings.CutPrefix(c.Iss, s.prefix)
	if !ok || !tenant.ValidID(id) {
		return "", false
	}
	return id, true
}

// Sign returns c as a JWT signed with the realm's active key (one is created
// if the realm has none). It sets iss, iat, nbf, jti and the kid header; the
// caller sets sub, aud, exp, token_use and the rest. Errors are database
// failures (kind Unavailable when the database cannot be reached) or internal
// (a stored key does not open, c has no exp).
func (s *Service) Sign(ctx context.Context, realmID string, c Claims) (string, error) {
	if c.ExpiresAt == nil {
		return "", errors.New("token.Sign: claims without exp")
	}
	key, err := s.keys.signing(ctx, realmID)
	if err != nil {
		return "", fmt.Errorf("token.Sign: %w", err)
	}
	now := jwt.NewNumericDate(s.now())
	c.Issuer = s.IssuerOf(realmID)
	c.IssuedAt = now
	c.NotBefore = now
	c.ID = rand.Text()
	t := jwt.NewWithClaims(jwt.GetSigningMethod(key.alg), c)
	t.Header["kid"] = key.kid
	raw, err := t.SignedString(key.private)
	if err != nil {
		return "", fmt.Errorf("token.Sign: %w", err)
	}
	return raw, nil
}

// Verify checks raw as a token of the realm for use (token_use, e.g.
// "access") and returns its claims. It accepts only RS256 and ES256
// signatures by a key of the realm named by kid, iss equal to
// IssuerOf(realmID), a present exp, and times within a 30 s leeway. It does
// not check aud: callers that care do.
//
// A token that fails any check gives a *problem.Error of kind Unauthenticated,
// code "invalid_token". Database failures (kind Unavailable when the database
// cannot be reached) and stored keys that do not open (internal) are returned
// wrapped instead: they say nothing about the token.
func (s *Service) Verify(ctx context.Context, realmID, raw, use string) (*Claims, error) {
	if len(raw) > maxLength {
		return nil, invalidToken(errors.New("token too long"))
	}
	var storeErr error
	keyOf := func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("no kid")
		}
		key, ok, err := s.keys.lookup(ctx, realmID, kid)
		if err != nil {
			storeErr = err
			return nil, err
		}
		if !ok {
			return nil, errors.New("unknown kid")
		}
		if t.Method.Alg() != key.alg {
			return nil, errors.New("alg does not match the key")
		}
		return key.private.Public(), nil
	}
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{"RS256", "ES256"}),
		jwt.WithIssuer(s.IssuerOf(realmID)),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(s.now),
	)
	c := &Claims{}
	_, err := p.ParseWithClaims(raw, c, keyOf)
	if storeErr != nil {
		return nil, fmt.Errorf("token.Verify: %w", storeErr)
	}
	if err != nil {
		return nil, invalidToken(err)
	}
	if c.TokenUse != use {
		return nil, invalidToken(errors.New("wrong token_use"))
	}
	return c, nil
}

// invalidToken is the one answer to a bad token; the cause is for logs only
// and never contains the token.
func invalidToken(cause error) *problem.Error {
	return &problem.Error{
		Kind:      problem.Unauthenticated,
		Code:      "invalid_token",
		Detail:    "The token is invalid or has expired.",
		Challenge: `Bearer error="invalid_token"`,
		Err:       cause,
	}
}
