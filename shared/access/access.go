// Package access decides who may call the admin API. Its Guard runs in the
// request pipeline after validation: it resolves the realm named by the path,
// authenticates the bearer token, and authorizes the operation's IAM action.
//
// Authorization is interim until the policy engine lands: administrators are
// the accounts of the system realm, who may act on every realm. A realm's own
// accounts are authenticated on their realm's endpoints but may not call
// admin operations (403); their tokens are not accepted by other realms (401).
//
// A token only authenticates while its account exists and is enabled: the
// guard reads the account on every protected request, so disabling or
// deleting an administrator takes effect at once, as in IAM.
package access

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/realmiam/realmiam/shared/mongodb"
	"github.com/realmiam/realmiam/shared/openapi"
	"github.com/realmiam/realmiam/shared/problem"
	"github.com/realmiam/realmiam/shared/tenant"
	"github.com/realmiam/realmiam/shared/token"
)

// Principal is the authenticated caller of a request.
type Principal struct {
	Realm     string // the realm that issued the token
	AccountID string
	Claims    *token.Claims
}

type ctxKey struct{}

// PrincipalFrom is the caller of the request, or nil on public operations.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(ctxKey{}).(*Principal)
	return p
}

// Guard implements openapi.Guard.
type Guard struct {
	Realms *tenant.Resolver
	Tokens *token.Service
	DB     func(realmID string) *mongo.Database
}

// Check resolves, authenticates and authorizes r for op. Errors: NotFound
// (unknown realm), Unauthenticated (missing, invalid or foreign token),
// Forbidden (not an administrator).
func (g *Guard) Check(r *http.Request, op *openapi.Operation) (*http.Request, error) {
	ctx := r.Context()
	var target *tenant.Realm
	if id := r.PathValue("tenantId"); id != "" {
		realm, err := g.Realms.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		target = realm
		ctx = tenant.WithRealm(ctx, realm)
	}
	if op.Public {
		return r.WithContext(ctx), nil
	}

	p, err := g.authenticate(ctx, r, target)
	if err != nil {
		return nil, err
	}
	ctx = context.WithValue(ctx, ctxKey{}, p)
	if p.Realm != tenant.System {
		return nil, problem.Newf(problem.Forbidden, "access_denied",
			"The caller may not perform %s on this resource.", op.Action)
	}
	return r.WithContext(ctx), nil
}

func (g *Guard) authenticate(ctx context.Context, r *http.Request, target *tenant.Realm) (*Principal, error) {
	raw, ok := bearer(r)
	if !ok {
		return nil, &problem.Error{Kind: problem.Unauthenticated, Code: "missing_token",
			Detail:    "This operation needs an access token: Authorization: Bearer <token>.",
			Challenge: "Bearer"}
	}
	realm, ok := g.Tokens.RealmOf(raw)
	if !ok {
		return nil, invalidToken("The access token is not valid.")
	}
	if target != nil && realm != target.ID && realm != tenant.System {
		return nil, invalidToken("The access token was not issued for this realm.")
	}
	if _, err := g.Realms.Get(ctx, realm); err != nil {
		if problem.Is(err, problem.NotFound) {
			return nil, invalidToken("The access token is not valid.")
		}
		return nil, err
	}
	claims, err := g.Tokens.Verify(ctx, realm, raw, "access")
	if err != nil {
		return nil, err
	}
	// Access tokens from sign-in are issued for their realm (aud).
	if !slices.Contains(claims.Audience, realm) {
		return nil, invalidToken("The access token was not issued for this API.")
	}
	if err := g.checkAccount(ctx, realm, claims); err != nil {
		return nil, err
	}
	return &Principal{Realm: realm, AccountID: claims.Subject, Claims: claims}, nil
}

// checkAccount refuses tokens of accounts that were deleted or disabled,
// and tokens issued before the account's password was last set or the
// account last disabled (a global sign-out).
func (g *Guard) checkAccount(ctx context.Context, realm string, claims *token.Claims) error {
	var a struct {
		Enabled         bool      `bson:"enabled"`
		TokensRevokedAt time.Time `bson:"tokensRevokedAt"`
	}
	err := g.DB(realm).Collection("accounts").FindOne(ctx, bson.M{"_id": claims.Subject},
		options.FindOne().SetProjection(bson.M{"enabled": 1, "tokensRevokedAt": 1})).Decode(&a)
	if errors.Is(err, mongo.ErrNoDocuments) || (err == nil && !a.Enabled) {
		return invalidToken("The account of this access token is disabled or deleted.")
	}
	if err != nil {
		return fmt.Errorf("access.checkAccount: %w", mongodb.Map(err))
	}
	// iat has whole seconds: a token issued in the same second as a password
	// set is refused too, which costs a fresh sign-in at most a second.
	if claims.IssuedAt == nil || claims.IssuedAt.Before(a.TokensRevokedAt) {
		return invalidToken("The access token was issued before the account was signed out.")
	}
	return nil
}

func invalidToken(detail string) error {
	return &problem.Error{Kind: problem.Unauthenticated, Code: "invalid_token", Detail: detail,
		Challenge: `Bearer error="invalid_token"`}
}

// bearer extracts the token of an "Authorization: Bearer <token>" header.
// A request with more than one Authorization header has none that counts.
func bearer(r *http.Request) (string, bool) {
	hs := r.Header.Values("Authorization")
	if len(hs) != 1 {
		return "", false
	}
	h := hs[0]
	scheme, raw, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	raw = strings.TrimSpace(raw)
	return raw, raw != ""
}
