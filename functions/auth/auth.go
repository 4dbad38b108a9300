// Package auth provides sign-in for a realm's accounts: login with email and
// password, rotating refresh tokens with reuse detection, logout, and the
// realm's JWKS and OpenID Connect discovery document (DESIGN.md §6).
package auth

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/realmiam/realmiam/shared/openapi"
	"github.com/realmiam/realmiam/shared/password"
	"github.com/realmiam/realmiam/shared/serve"
	"github.com/realmiam/realmiam/shared/tenant"
	"github.com/realmiam/realmiam/shared/token"
)

// scope is the scope of every access token: there are no OAuth clients yet,
// so no caller asks for another.
const scope = "openid email"

// Server serves the auth function's operations.
type Server struct {
	db     func(realmID string) *mongo.Database
	keys   *token.Keys
	tokens *token.Service
	hasher *password.Hasher
	now    func() time.Time

	// afterInsert is a test seam, nil outside tests: a refresh calls it
	// between storing the next refresh token and re-reading the claimed one,
	// so that a test can run a revocation exactly there (refresh.go).
	afterInsert func()
}

// New builds the auth function from d.
func New(d *serve.Deps) (*Server, error) {
	if d.Client == nil || d.Keys == nil || d.Tokens == nil || d.Hasher == nil {
		return nil, errors.New("auth.New: Deps needs Client, Keys, Tokens and Hasher")
	}
	now := d.Now
	if now == nil {
		now = time.Now
	}
	return &Server{db: d.RealmDB, keys: d.Keys, tokens: d.Tokens, hasher: d.Hasher, now: now}, nil
}

// Operations maps the auth operations of openapi.yaml to their handlers.
func (s *Server) Operations() map[string]openapi.HandlerFunc {
	return map[string]openapi.HandlerFunc{
		"login":                  s.login,
		"refreshTokens":          s.refreshTokens,
		"logout":                 s.logout,
		"getJwks":                s.getJwks,
		"getOpenidConfiguration": s.getOpenidConfiguration,
	}
}

// realmOf is the realm the request is addressed to. The pipeline's guard
// resolves it for every operation under /api/realm/{tenantId}.
func realmOf(r *http.Request) (*tenant.Realm, error) {
	realm := tenant.From(r.Context())
	if realm == nil {
		return nil, errors.New("auth: no realm in the request context")
	}
	return realm, nil
}

// ttls are the realm's token lifetimes. A realm document without settings
// (one written before settings existed, or by hand) gets the defaults rather
// than tokens that expire on issue.
func ttls(realm *tenant.Realm) (access, refresh time.Duration) {
	def := tenant.DefaultSettings()
	a, r := realm.Settings.AccessTokenTTLSeconds, realm.Settings.RefreshTokenTTLSeconds
	if a <= 0 {
		a = def.AccessTokenTTLSeconds
	}
	if r <= 0 {
		r = def.RefreshTokenTTLSeconds
	}
	return time.Duration(a) * time.Second, time.Duration(r) * time.Second
}

// tokensResponse is the body of a successful login or refresh.
type tokensResponse struct {
	AccessToken  string `json:"accessToken"`
	IDToken      string `json:"idToken"`
	RefreshToken string `json:"refreshToken"`
	TokenType    string `json:"tokenType"`
	ExpiresIn    int    `json:"expiresIn"`
}

// session is what the tokens of one sign-in are made from.
type session struct {
	accountID string
	email     string
	family    string    // the refresh-token family: one per sign-in
	authTime  time.Time // when the password was checked
	expiresAt time.Time // end of the session: the refresh tokens' expiry
}

// mint signs an access and an ID token for sess and stores a new refresh
// token of its family. The tokens are signed first: when the insert fails no
// refresh token exists that nobody holds. Nothing is written to the client:
// a refresh still has to check that no revocation raced it.
func (s *Server) mint(ctx context.Context, realm *tenant.Realm, sess session) (tokensResponse, error) {
	accessTTL, _ := ttls(realm)
	now := s.now()
	exp := jwt.NewNumericDate(now.Add(accessTTL))
	aud := jwt.ClaimStrings{realm.ID}

	access, err := s.tokens.Sign(ctx, realm.ID, token.Claims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: sess.accountID, Audience: aud, ExpiresAt: exp},
		TokenUse:         "access",
		Scope:            scope,
	})
	if err != nil {
		return tokensResponse{}, err
	}
	id, err := s.tokens.Sign(ctx, realm.ID, token.Claims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: sess.accountID, Audience: aud, ExpiresAt: exp},
		TokenUse:         "id",
		Email:            sess.email,
		AuthTime:         sess.authTime.Unix(),
	})
	if err != nil {
		return tokensResponse{}, err
	}
	refresh, err := s.insertRefreshToken(ctx, realm.ID, sess, now)
	if err != nil {
		return tokensResponse{}, err
	}
	return tokensResponse{
		AccessToken:  access,
		IDToken:      id,
		RefreshToken: refresh,
		TokenType:    "Bearer",
		ExpiresIn:    int(accessTTL / time.Second),
	}, nil
}

// writeTokens answers with tokens, which no cache may keep.
func writeTokens(w http.ResponseWriter, tokens tokensResponse) error {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	return openapi.JSON(w, http.StatusOK, tokens)
}
