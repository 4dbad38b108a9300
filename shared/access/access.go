// Package access decides who may call the admin API. Its Guard runs in the
// request pipeline after validation: it resolves the realm named by the path,
// authenticates the bearer token, and authorizes the operation's IAM action
// (x-iam-action) on its resource (x-iam-resource filled from the path) by
// evaluating the caller's effective policies with shared/policy. Its
// Authenticate is the token half of that check on its own, for callers
// outside the pipeline (the API Gateway authorizer).
//
// A realm's tokens are accepted by that realm's endpoints (and by the core
// endpoints of that realm, /api/core/realms/{realmId}) and, for system realm
// tokens, by every realm's; any other realm's token is refused (401).
// A token authenticates only while its account exists, is enabled, and was
// not signed out after the token was issued. Accounts and their policies
// come from the Cache: a warm request makes no database round trip, and a
// change made through another process is seen within the cache's TTL.
package access

import (
	"context"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/realmiam/realmiam/shared/openapi"
	"github.com/realmiam/realmiam/shared/policy"
	"github.com/realmiam/realmiam/shared/problem"
	"github.com/realmiam/realmiam/shared/tenant"
	"github.com/realmiam/realmiam/shared/token"
)

// Principal is the authenticated caller of a request.
type Principal struct {
	Realm     string // the realm that issued the token
	AccountID string
	Claims    *token.Claims
	Account   *Account
}

type ctxKey struct{}

// PrincipalFrom is the caller of the request, or nil on public operations.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(ctxKey{}).(*Principal)
	return p
}

// Guard implements openapi.Guard.
type Guard struct {
	Realms   *tenant.Resolver
	Tokens   *token.Service
	Accounts *Cache
	Now      func() time.Time
}

// Check resolves, authenticates and authorizes r for op. Errors: NotFound
// (unknown realm), Unauthenticated (missing, invalid, foreign or signed-out
// token), Forbidden (no policy allows the action, or one denies it).
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

	p, err := g.authenticate(ctx, r, op, target)
	if err != nil {
		return nil, err
	}
	ctx = context.WithValue(ctx, ctxKey{}, p)
	resource := fill(op.Resource, r.PathValue)
	req := p.Account.Request(op.Action, resource, g.Now())
	req.Context.Set(policy.KeySourceIP, SourceIP(r))
	var res policy.Result
	p.Account.Set.Evaluate(req, &res)
	if !res.Allowed {
		why := "no policy allows it"
		if res.Decision == policy.ExplicitDeny {
			why = "a policy denies it"
		}
		return nil, problem.Newf(problem.Forbidden, "access_denied",
			"The caller may not perform %s on %s: %s.", op.Action, resource, why)
	}
	return r.WithContext(ctx), nil
}

func (g *Guard) authenticate(ctx context.Context, r *http.Request, op *openapi.Operation, target *tenant.Realm) (*Principal, error) {
	raw, ok := bearer(r)
	if !ok {
		return nil, &problem.Error{Kind: problem.Unauthenticated, Code: "missing_token",
			Detail:    "This operation needs an access token: one Authorization: Bearer <token> header.",
			Challenge: "Bearer"}
	}
	acting := actsOn(r, op, target)
	return g.Authenticate(ctx, raw, func(realm string) bool {
		return realm == acting || realm == tenant.System
	})
}

// Authenticate returns the principal of raw, an access token. accept is
// asked, before anything is looked up, whether a token of the realm named by
// its iss may be used here; it is never asked about a malformed realm id.
// The token must then verify with that realm's keys, be an access token
// issued for the realm (aud), and belong to an account that exists, is
// enabled, and was not signed out after the token was issued.
//
// Errors: Unauthenticated (code invalid_token) for any token that fails,
// including one accept refuses and one of an unknown realm; Unavailable
// when the database is; internal when a stored key or policy is broken.
func (g *Guard) Authenticate(ctx context.Context, raw string, accept func(realm string) bool) (*Principal, error) {
	realm, ok := g.Tokens.RealmOf(raw)
	if !ok {
		return nil, invalidToken("The access token is not valid.")
	}
	if !accept(realm) {
		return nil, invalidToken("The access token was not issued for this realm.")
	}
	// The realm must exist before its keys are asked for: the key cache
	// keeps an entry for every realm it is asked about.
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
	a, err := g.Accounts.Account(ctx, realm, claims.Subject)
	switch {
	case problem.Is(err, problem.NotFound):
		return nil, invalidToken("The account of this access token is disabled or deleted.")
	case err != nil:
		return nil, err
	case !a.Enabled:
		return nil, invalidToken("The account of this access token is disabled or deleted.")
	// iat has whole seconds: a token issued in the same second as a password
	// set is refused too, which costs a fresh sign-in at most a second.
	case claims.IssuedAt == nil || claims.IssuedAt.Before(a.TokensRevokedAt):
		return nil, invalidToken("The access token was issued before the account was signed out.")
	}
	return &Principal{Realm: realm, AccountID: claims.Subject, Claims: claims, Account: a}, nil
}

// actsOn is the realm an operation acts on: the system realm for operations
// marked x-iam-realm: system (the registry's: create, list, delete realms),
// the realm of a realm-scoped path ({tenantId}), the realm named by a core
// path ({realmId}: its own entry), and otherwise the system realm. Only
// tokens of that realm, or of the system realm, may call the operation,
// whatever their policies say: a realm's own policies can name another
// realm's resources, but they never reach them.
func actsOn(r *http.Request, op *openapi.Operation, target *tenant.Realm) string {
	switch {
	case op.SystemOnly:
		return tenant.System
	case target != nil:
		return target.ID
	case r.PathValue("realmId") != "":
		return r.PathValue("realmId")
	default:
		return tenant.System
	}
}

// fill replaces each {name} of an IRN template with the path parameter.
func fill(template string, param func(string) string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(template, '{')
		j := strings.IndexByte(template, '}')
		if i < 0 || j < i {
			b.WriteString(template)
			return b.String()
		}
		b.WriteString(template[:i])
		b.WriteString(param(template[i+1 : j]))
		template = template[j+1:]
	}
}

// SourceIP is the address the request came from: the peer of the
// connection. Behind a proxy that is the proxy; trusting X-Forwarded-For
// needs a configured list of proxies, which does not exist yet.
func SourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
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
	return Bearer(hs[0])
}

// Bearer extracts the token of an Authorization header value of the form
// "Bearer <token>" (the scheme in any case).
func Bearer(header string) (string, bool) {
	scheme, raw, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	raw = strings.TrimSpace(raw)
	return raw, raw != ""
}
