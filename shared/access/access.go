// Package access decides who may call the admin API. Its Guard runs in the
// request pipeline after validation: it resolves the realm named by the path,
// authenticates the bearer token, and authorizes the operation's IAM action.
//
// Authorization is interim until the policy engine lands: administrators are
// the accounts of the system realm, who may act on every realm. A realm's own
// accounts are authenticated on their realm's endpoints but may not call
// admin operations (403); their tokens are not accepted by other realms (401).
package access

import (
	"context"
	"net/http"
	"strings"

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
	return &Principal{Realm: realm, AccountID: claims.Subject, Claims: claims}, nil
}

func invalidToken(detail string) error {
	return &problem.Error{Kind: problem.Unauthenticated, Code: "invalid_token", Detail: detail,
		Challenge: `Bearer error="invalid_token"`}
}

// bearer extracts the token of an "Authorization: Bearer <token>" header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, raw, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	raw = strings.TrimSpace(raw)
	return raw, raw != ""
}
