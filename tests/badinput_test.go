package tests

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/realmiam/realmiam/shared/tenant"
	"github.com/realmiam/realmiam/shared/token"
)

// Passwords of this file; none may reach the server's log.
const (
	badDupPassword = "Dup-Passw0rd!ok"
	badNewPassword = "Fresh-Passw0rd!ok"
)

// TestBadInput sends one table of bad requests to a realm and checks that
// each gets the problem it deserves and that nothing was stored.
func TestBadInput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	// A realm with every password rule on, holding one account.
	realm := uniqueID("bad-")
	r := call(t, "POST", "/api/core/realms", env.AdminToken, map[string]any{
		"id": realm,
		"settings": map[string]any{"passwordPolicy": map[string]any{
			"minLength": 10, "requireUppercase": true, "requireLowercase": true,
			"requireDigit": true, "requireSymbol": true,
		}},
	})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	dupID := createAccount(t, realm, "dup@example.com", badDupPassword)
	user := login(t, realm, "dup@example.com", badDupPassword)

	accounts := "/api/realm/" + realm + "/accounts"
	account := accounts + "/" + dupID
	password := account + "/password"
	loginPath := "/api/realm/" + realm + "/auth/login"

	forged := forgeTokens(t, realm, user.AccessToken)

	type row struct {
		name        string
		method      string
		path        string
		token       string
		contentType string // "" with a body: application/json
		body        string
		status      int
		code        string
		field       string            // named in errors[] when set
		reason      string            // a substring of the field's reason
		header      map[string]string // response headers that must be present
		empty       bool              // a 200 list that must have no items
	}
	admin := env.AdminToken
	ctJSON := "application/json"
	validCreate := `{"email":"new@example.com","password":"` + badNewPassword + `"}`
	huge := `{"email":"big@example.com","password":"` + strings.Repeat("a", 1<<20) + `"}`
	paddedValid := validCreate + strings.Repeat(" ", 1<<20)
	bearerInvalid := map[string]string{"WWW-Authenticate": `Bearer error="invalid_token"`}

	rows := []row{
		// Bodies.
		{name: "malformed JSON", method: "POST", path: accounts, token: admin, body: `{"email":`,
			status: 400, code: "malformed_json"},
		{name: "trailing garbage after JSON", method: "POST", path: accounts, token: admin, body: validCreate + `}`,
			status: 400, code: "malformed_json"},
		{name: "query string that does not decode", method: "GET", path: accounts + "?email=dup%zz", token: admin,
			status: 400, code: "malformed_query"},
		{name: "JSON that is not UTF-8", method: "POST", path: accounts, token: admin,
			body:   `{"email":"new@example.com","password":"` + badNewPassword + "\x80\xc0\xaf" + `"}`,
			status: 400, code: "malformed_json"},
		{name: "policy with invalid UTF-8, sized as nothing", method: "POST", path: "/api/realm/" + realm + "/policies", token: admin,
			body:   `{"name":"bin","document":{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"x:Y","Resource":"irn:x:` + realm + `:` + strings.Repeat("\x80", 100000) + `"}}}`,
			status: 400, code: "malformed_json"},
		{name: "JSON array instead of object", method: "POST", path: accounts, token: admin, body: `[]`,
			status: 400, code: "invalid_request", field: "body"},
		{name: "JSON string instead of object", method: "POST", path: accounts, token: admin, body: `"x"`,
			status: 400, code: "invalid_request", field: "body"},
		{name: "empty body", method: "POST", path: accounts, token: admin, contentType: ctJSON, body: "",
			status: 400, code: "invalid_request", field: "body"},
		{name: "email is a number", method: "POST", path: accounts, token: admin,
			body:   `{"email":5,"password":"` + badNewPassword + `"}`,
			status: 400, code: "invalid_request", field: "email"},
		{name: "enabled is a string", method: "POST", path: accounts, token: admin,
			body:   `{"email":"new@example.com","password":"` + badNewPassword + `","enabled":"yes"}`,
			status: 400, code: "invalid_request", field: "enabled"},
		{name: "attribute value is a number", method: "POST", path: accounts, token: admin,
			body:   `{"email":"new@example.com","password":"` + badNewPassword + `","attributes":{"a":1}}`,
			status: 400, code: "invalid_request", field: "attributes.a"},
		{name: "missing email", method: "POST", path: accounts, token: admin,
			body:   `{"password":"` + badNewPassword + `"}`,
			status: 400, code: "invalid_request", field: "email"},
		{name: "missing password", method: "POST", path: accounts, token: admin, body: `{"email":"new@example.com"}`,
			status: 400, code: "invalid_request", field: "password"},
		{name: "unknown field", method: "POST", path: accounts, token: admin,
			body:   `{"email":"new@example.com","password":"` + badNewPassword + `","role":"admin"}`,
			status: 400, code: "invalid_request", field: "role"},
		{name: "passwordHash smuggled in", method: "POST", path: accounts, token: admin,
			body:   `{"email":"new@example.com","password":"` + badNewPassword + `","passwordHash":"$2a$04$x"}`,
			status: 400, code: "invalid_request", field: "passwordHash"},

		// Emails.
		{name: "email without @", method: "POST", path: accounts, token: admin,
			body:   `{"email":"not-an-email","password":"` + badNewPassword + `"}`,
			status: 400, code: "invalid_request", field: "email"},
		{name: "email without domain", method: "POST", path: accounts, token: admin,
			body:   `{"email":"a@","password":"` + badNewPassword + `"}`,
			status: 400, code: "invalid_request", field: "email"},
		{name: "email in angle brackets", method: "POST", path: accounts, token: admin,
			body:   `{"email":"<a@b.c>","password":"` + badNewPassword + `"}`,
			status: 400, code: "invalid_request", field: "email"},
		{name: "email with display name", method: "POST", path: accounts, token: admin,
			body:   `{"email":"A <a@b.c>","password":"` + badNewPassword + `"}`,
			status: 400, code: "invalid_request", field: "email"},
		{name: "two emails", method: "POST", path: accounts, token: admin,
			body:   `{"email":"a@b.c, d@e.f","password":"` + badNewPassword + `"}`,
			status: 400, code: "invalid_request", field: "email"},
		{name: "empty email", method: "POST", path: accounts, token: admin,
			body:   `{"email":"","password":"` + badNewPassword + `"}`,
			status: 400, code: "invalid_request", field: "email"},
		{name: "duplicate email in another case", method: "POST", path: accounts, token: admin,
			body:   `{"email":" DUP@Example.com","password":"` + badNewPassword + `"}`,
			status: 409, code: "duplicate_email", field: "email"},

		// Passwords, one policy rule at a time.
		{name: "password too short", method: "POST", path: accounts, token: admin,
			body:   `{"email":"new@example.com","password":"Sh0rt!pw"}`,
			status: 400, code: "weak_password", field: "password", reason: "at least 10 characters"},
		{name: "password without upper case", method: "POST", path: accounts, token: admin,
			body:   `{"email":"new@example.com","password":"no-upper-1-pw"}`,
			status: 400, code: "weak_password", field: "password", reason: "an upper-case letter"},
		{name: "password without lower case", method: "POST", path: accounts, token: admin,
			body:   `{"email":"new@example.com","password":"NO-LOWER-1-PW"}`,
			status: 400, code: "weak_password", field: "password", reason: "a lower-case letter"},
		{name: "password without digit", method: "POST", path: accounts, token: admin,
			body:   `{"email":"new@example.com","password":"No-Digit-Pw!"}`,
			status: 400, code: "weak_password", field: "password", reason: "a digit"},
		{name: "password without symbol", method: "POST", path: accounts, token: admin,
			body:   `{"email":"new@example.com","password":"NoSymbol1Pw"}`,
			status: 400, code: "weak_password", field: "password", reason: "a symbol"},
		{name: "empty password", method: "POST", path: accounts, token: admin,
			body:   `{"email":"new@example.com","password":""}`,
			status: 400, code: "invalid_request", field: "password"},
		{name: "weak password set by admin", method: "PUT", path: password, token: admin,
			body:   `{"password":"no-upper-1-pw"}`,
			status: 400, code: "weak_password", field: "password", reason: "an upper-case letter"},
		{name: "password set without password", method: "PUT", path: password, token: admin, body: `{}`,
			status: 400, code: "invalid_request", field: "password"},

		// Attribute names that would be Mongo paths or operators.
		{name: "attribute name with a dot", method: "POST", path: accounts, token: admin,
			body:   `{"email":"new@example.com","password":"` + badNewPassword + `","attributes":{"a.b":"x"}}`,
			status: 400, code: "invalid_request", field: "attributes.a.b"},
		{name: "attribute name starting with $", method: "POST", path: accounts, token: admin,
			body:   `{"email":"new@example.com","password":"` + badNewPassword + `","attributes":{"$where":"x"}}`,
			status: 400, code: "invalid_request", field: "attributes.$where"},
		{name: "patched attribute name with a dot", method: "PATCH", path: account, token: admin,
			body:   `{"enabled":false,"attributes":{"a.b":"x"}}`,
			status: 400, code: "invalid_request", field: "attributes.a.b"},
		{name: "patched attribute name starting with $", method: "PATCH", path: account, token: admin,
			body:   `{"attributes":{"$set":null}}`,
			status: 400, code: "invalid_request", field: "attributes.$set"},
		{name: "patch enabled as string", method: "PATCH", path: account, token: admin, body: `{"enabled":"yes"}`,
			status: 400, code: "invalid_request", field: "enabled"},
		{name: "empty patch", method: "PATCH", path: account, token: admin, body: `{}`,
			status: 400, code: "invalid_request", field: "body"},

		// Operators as values.
		{name: "email as an operator object", method: "POST", path: accounts, token: admin,
			body:   `{"email":{"$ne":""},"password":"` + badNewPassword + `"}`,
			status: 400, code: "invalid_request", field: "email"},
		{name: "login email as an operator object", method: "POST", path: loginPath,
			body:   `{"email":{"$ne":""},"password":{"$ne":""}}`,
			status: 400, code: "invalid_request", field: "email"},
		{name: "emailPrefix is not a regex", method: "GET", path: accounts + "?emailPrefix=" + url.QueryEscape(".*"), token: admin,
			status: 200, empty: true},
		{name: "emailPrefix regex class", method: "GET", path: accounts + "?emailPrefix=" + url.QueryEscape("d.p"), token: admin,
			status: 200, empty: true},
		{name: "email filter operator", method: "GET", path: accounts + "?email=" + url.QueryEscape(`{"$gt":""}`), token: admin,
			status: 200, empty: true},
		{name: "email filter bracket operator", method: "GET", path: accounts + "?email[$ne]=x&email=" + url.QueryEscape("x@y.z"), token: admin,
			status: 200, empty: true},

		// Sizes and media types.
		{name: "body over 1 MiB", method: "POST", path: accounts, token: admin, body: huge,
			status: 413, code: "request_too_large"},
		{name: "valid JSON padded over 1 MiB", method: "POST", path: accounts, token: admin, body: paddedValid,
			status: 413, code: "request_too_large"},
		{name: "text/plain body", method: "POST", path: accounts, token: admin, contentType: "text/plain", body: validCreate,
			status: 415, code: "unsupported_media_type"},
		{name: "merge-patch body", method: "PATCH", path: account, token: admin, contentType: "application/merge-patch+json",
			body: `{"enabled":false}`, status: 415, code: "unsupported_media_type"},
		{name: "form body", method: "POST", path: accounts, token: admin, contentType: "application/x-www-form-urlencoded",
			body: "email=new%40example.com", status: 415, code: "unsupported_media_type"},

		// Realms and routes.
		{name: "unknown realm", method: "GET", path: "/api/realm/" + uniqueID("none-") + "/accounts", token: admin,
			status: 404, code: "unknown_realm"},
		{name: "unknown realm, create", method: "POST", path: "/api/realm/" + uniqueID("none-") + "/accounts", token: admin,
			body: validCreate, status: 404, code: "unknown_realm"},
		{name: "invalid realm id in path", method: "GET", path: "/api/realm/Bad_Realm/accounts", token: admin,
			status: 400, code: "invalid_request", field: "tenantId"},
		{name: "realm id too long in path", method: "GET", path: "/api/realm/" + strings.Repeat("a", 37) + "/accounts", token: admin,
			status: 400, code: "invalid_request", field: "tenantId"},
		{name: "invalid account id in path", method: "GET", path: accounts + "/NOT-AN-ID", token: admin,
			status: 400, code: "invalid_request", field: "accountId"},
		{name: "unknown account", method: "GET", path: accounts + "/zzzz", token: admin,
			status: 404, code: "account_not_found"},
		{name: "unknown path", method: "GET", path: "/api/realm/" + realm + "/nothing-here", token: admin,
			status: 404, code: "route_not_found"},
		{name: "unknown core path", method: "GET", path: "/api/core/realmz", token: admin,
			status: 404, code: "route_not_found"},
		{name: "wrong method on a collection", method: "PUT", path: accounts, token: admin, body: validCreate,
			status: 405, code: "method_not_allowed", header: map[string]string{"Allow": "GET, POST"}},
		{name: "wrong method on an item", method: "POST", path: account, token: admin, body: validCreate,
			status: 405, code: "method_not_allowed", header: map[string]string{"Allow": "GET, PATCH, DELETE"}},

		// Pages.
		{name: "limit 0", method: "GET", path: accounts + "?limit=0", token: admin,
			status: 400, code: "invalid_request", field: "limit"},
		{name: "limit 201", method: "GET", path: accounts + "?limit=201", token: admin,
			status: 400, code: "invalid_request", field: "limit"},
		{name: "limit abc", method: "GET", path: accounts + "?limit=abc", token: admin,
			status: 400, code: "invalid_request", field: "limit"},
		{name: "limit -1", method: "GET", path: accounts + "?limit=-1", token: admin,
			status: 400, code: "invalid_request", field: "limit"},
		{name: "garbage cursor", method: "GET", path: accounts + "?cursor=garbage", token: admin,
			status: 400, code: "invalid_request", field: "cursor"},
		{name: "cursor of another version", method: "GET", path: accounts + "?cursor=" +
			base64.RawURLEncoding.EncodeToString([]byte(`{"v":2,"a":"x"}`)), token: admin,
			status: 400, code: "invalid_request", field: "cursor"},
		{name: "cursor too long", method: "GET", path: accounts + "?cursor=" + strings.Repeat("A", 2049), token: admin,
			status: 400, code: "invalid_request", field: "cursor"},
		{name: "realm list garbage cursor", method: "GET", path: "/api/core/realms?cursor=%7B%7D", token: admin,
			status: 400, code: "invalid_request", field: "cursor"},

		// Tokens.
		{name: "no token", method: "GET", path: accounts,
			status: 401, code: "missing_token", header: map[string]string{"WWW-Authenticate": "Bearer"}},
		{name: "no token, create", method: "POST", path: accounts, body: validCreate,
			status: 401, code: "missing_token", header: map[string]string{"WWW-Authenticate": "Bearer"}},
		{name: "garbage token", method: "GET", path: accounts, token: "garbage",
			status: 401, code: "invalid_token", header: bearerInvalid},
		{name: "tampered signature", method: "GET", path: accounts, token: forged.tamperedSignature,
			status: 401, code: "invalid_token", header: bearerInvalid},
		{name: "tampered payload: realm token made a system token", method: "GET", path: accounts, token: forged.escalated,
			status: 401, code: "invalid_token", header: bearerInvalid},
		{name: "alg none", method: "GET", path: accounts, token: forged.algNone,
			status: 401, code: "invalid_token", header: bearerInvalid},
		{name: "HS256 keyed with the public key PEM", method: "GET", path: accounts, token: forged.hsPEM,
			status: 401, code: "invalid_token", header: bearerInvalid},
		{name: "HS256 keyed with the public key DER", method: "GET", path: accounts, token: forged.hsDER,
			status: 401, code: "invalid_token", header: bearerInvalid},
		{name: "expired token", method: "GET", path: accounts, token: forged.expired,
			status: 401, code: "invalid_token", header: bearerInvalid},
		{name: "not yet valid token", method: "GET", path: accounts, token: forged.future,
			status: 401, code: "invalid_token", header: bearerInvalid},
		{name: "id token as access token", method: "GET", path: accounts, token: forged.idToken,
			status: 401, code: "invalid_token", header: bearerInvalid},
		{name: "token of a deleted realm", method: "GET", path: "/api/core/realms", token: forged.deletedRealm,
			status: 401, code: "invalid_token", header: bearerInvalid},
	}

	// What "nothing stored" means: the realm document, every account
	// document (hash and timestamps included) and every refresh token are as
	// they were.
	snapshot := func(t *testing.T) []any {
		t.Helper()
		db := tenant.DB(env.Client, realm)
		var out []any
		for _, coll := range []string{"accounts", "refresh_tokens"} {
			cur, err := db.Collection(coll).Find(ctx, bson.M{}, options.Find().SetSort(bson.M{"_id": 1}))
			require.NoError(t, err)
			var docs []bson.M
			require.NoError(t, cur.All(ctx, &docs))
			out = append(out, docs)
		}
		var doc bson.M
		require.NoError(t, env.Deps.Core.Collection("realms").FindOne(ctx, bson.M{"_id": realm}).Decode(&doc))
		return append(out, doc)
	}

	// The rows share the realm and compare its state before and after, so
	// they run one after another.
	t.Run("rows", func(t *testing.T) {
		for _, tc := range rows {
			t.Run(tc.name, func(t *testing.T) {
				before := snapshot(t)
				ct := tc.contentType
				var body []byte
				if tc.body != "" || ct != "" {
					body = []byte(tc.body)
					if ct == "" {
						ct = ctJSON
					}
				}
				r := send(t, tc.method, tc.path, tc.token, ct, body)
				require.Equal(t, tc.status, r.Status, "%s", r.Body)
				if tc.empty {
					var l accountList
					r.decode(t, &l)
					require.Empty(t, l.Items, "%s", r.Body)
				} else {
					p := requireProblem(t, r, tc.status, tc.code, tc.field)
					if tc.reason != "" {
						require.Len(t, p.Errors, 1)
						require.Contains(t, p.Errors[0].Reason, tc.reason)
					}
				}
				for k, v := range tc.header {
					require.Equal(t, v, r.Header.Get(k), "header %s", k)
				}
				for _, secret := range []string{badDupPassword, badNewPassword, "no-upper-1-pw", "NoSymbol1Pw", tc.token} {
					if secret != "" && secret != "garbage" {
						require.NotContains(t, string(r.Body), secret, "the response echoes a secret")
					}
				}
				require.Equal(t, before, snapshot(t), "nothing stored")
			})
		}
	})

	// The account is as it was: its password still works.
	login(t, realm, "dup@example.com", badDupPassword)

	logs := env.Logs.String()
	require.Contains(t, logs, realm, "the log has lines of this test")
	secrets := []string{
		badDupPassword, badNewPassword, "Sh0rt!pw", "no-upper-1-pw", "NO-LOWER-1-PW", "No-Digit-Pw!", "NoSymbol1Pw",
		env.AdminToken, user.AccessToken, user.IDToken, user.RefreshToken,
	}
	secrets = append(secrets, forged.all()...)
	for _, s := range secrets {
		require.NotContains(t, logs, s, "the log holds a secret")
		// A token's signature alone is a secret too.
		if i := strings.LastIndexByte(s, '.'); i > 0 && len(s)-i > 20 {
			require.NotContains(t, logs, s[i+1:])
		}
	}
}

// forgedTokens are bad access tokens of several kinds.
type forgedTokens struct {
	tamperedSignature, escalated, algNone, hsPEM, hsDER, expired, future, idToken, deletedRealm string
}

func (f forgedTokens) all() []string {
	return []string{f.tamperedSignature, f.escalated, f.algNone, f.hsPEM, f.hsDER, f.expired, f.future, f.idToken, f.deletedRealm}
}

// forgeTokens makes bad tokens, most of them aimed at the system realm: a
// forged system token would open every realm. userToken is an access token of
// a realm account.
func forgeTokens(t *testing.T, realm, userToken string) forgedTokens {
	t.Helper()
	ctx := context.Background()
	var f forgedTokens
	adminParts := strings.Split(env.AdminToken, ".")
	require.Len(t, adminParts, 3)

	// Flip one signature byte (not the last character, whose low bits may be
	// padding).
	sig, err := base64.RawURLEncoding.DecodeString(adminParts[2])
	require.NoError(t, err)
	sig[len(sig)/2] ^= 0x01
	f.tamperedSignature = adminParts[0] + "." + adminParts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)

	// A realm account's token, its issuer rewritten to the system realm's.
	userParts := strings.Split(userToken, ".")
	require.Len(t, userParts, 3)
	payload := decodeSegment(t, userParts[1])
	payload["iss"] = env.Deps.Tokens.IssuerOf(tenant.System)
	f.escalated = userParts[0] + "." + encodeSegment(t, payload) + "." + userParts[2]

	// The system administrator's claims, unsigned.
	header := decodeSegment(t, adminParts[0])
	kid, _ := header["kid"].(string)
	require.NotEmpty(t, kid)
	f.algNone = encodeSegment(t, map[string]any{"alg": "none", "typ": "JWT", "kid": kid}) + "." + adminParts[1] + "."

	// HS256 keyed with the system realm's public key, as published.
	r := call(t, "GET", "/api/realm/"+tenant.System+"/.well-known/jwks.json", "", nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var jwks token.JWKS
	r.decode(t, &jwks)
	var pub *rsa.PublicKey
	for _, k := range jwks.Keys {
		if k.Kid == kid {
			n, err := base64.RawURLEncoding.DecodeString(k.N)
			require.NoError(t, err)
			e, err := base64.RawURLEncoding.DecodeString(k.E)
			require.NoError(t, err)
			pub = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		}
	}
	require.NotNil(t, pub, "the admin token's kid is in the JWKS")
	der, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	claims := jwt.MapClaims{}
	for k, v := range decodeSegment(t, adminParts[1]) {
		claims[k] = v
	}
	hs := func(secret []byte) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
		tok.Header["kid"] = kid
		s, err := tok.SignedString(secret)
		require.NoError(t, err)
		return s
	}
	f.hsPEM = hs(pemBytes)
	f.hsDER = hs(der)

	// Properly signed by the system realm, but expired an hour ago, or valid
	// only from an hour on, or an ID token.
	sub, _ := claims["sub"].(string)
	sign := func(use string, exp time.Time) string {
		s, err := env.Deps.Tokens.Sign(ctx, tenant.System, token.Claims{
			RegisteredClaims: jwt.RegisteredClaims{Subject: sub, Audience: jwt.ClaimStrings{tenant.System},
				ExpiresAt: jwt.NewNumericDate(exp)},
			TokenUse: use,
		})
		require.NoError(t, err)
		return s
	}
	f.expired = sign("access", time.Now().Add(-time.Hour))
	f.idToken = sign("id", time.Now().Add(time.Hour))
	f.future = futureToken(t, sub)

	// A token of a realm that no longer exists.
	gone := newRealm(t)
	id := createAccount(t, gone, "gone@example.com", "Gone-Passw0rd")
	require.NotEmpty(t, id)
	f.deletedRealm = login(t, gone, "gone@example.com", "Gone-Passw0rd").AccessToken
	r = call(t, "DELETE", "/api/core/realms/"+gone, env.AdminToken, nil)
	require.Equal(t, http.StatusNoContent, r.Status, "%s", r.Body)
	return f
}

// futureToken is a system access token whose iat and nbf lie an hour ahead,
// signed by a token service whose clock runs an hour fast.
func futureToken(t *testing.T, sub string) string {
	t.Helper()
	ahead := func() time.Time { return time.Now().Add(time.Hour) }
	keys, err := token.NewKeys(env.Deps.RealmDB, env.Deps.Config.MasterKey, ahead)
	require.NoError(t, err)
	svc := token.NewService(keys, env.Deps.Config.PublicURL, ahead)
	s, err := svc.Sign(context.Background(), tenant.System, token.Claims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: sub, Audience: jwt.ClaimStrings{tenant.System},
			ExpiresAt: jwt.NewNumericDate(ahead().Add(time.Hour))},
		TokenUse: "access",
	})
	require.NoError(t, err)
	return s
}

func decodeSegment(t *testing.T, seg string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

func encodeSegment(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return base64.RawURLEncoding.EncodeToString(b)
}
