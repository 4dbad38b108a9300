package tests

import (
	"net/http"
	"testing"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

type discovery struct {
	Issuer                           string   `json:"issuer"`
	JwksURI                          string   `json:"jwks_uri"`
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported"`
	GrantTypesSupported              []string `json:"grant_types_supported"`
	ScopesSupported                  []string `json:"scopes_supported"`
}

// discover fetches the realm's OpenID Connect discovery document.
func discover(t *testing.T, realm string) discovery {
	t.Helper()
	r := call(t, "GET", "/api/realm/"+realm+"/.well-known/openid-configuration", "", nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var d discovery
	r.decode(t, &d)
	var all map[string]any
	r.decode(t, &all)
	for _, k := range []string{"token_endpoint", "authorization_endpoint", "userinfo_endpoint", "end_session_endpoint"} {
		require.NotContains(t, all, k, "only existing endpoints are advertised")
	}
	return d
}

// TestTokensVerifyThroughJWKS: an independent verifier (keyfunc + golang-jwt)
// that knows only the realm's discovery document accepts its tokens, and a
// realm's keys accept no other realm's tokens.
func TestTokensVerifyThroughJWKS(t *testing.T) {
	t.Parallel()
	realm, other := newRealm(t), newRealm(t)
	id := createAccount(t, realm, "alice@example.com", alicePassword)
	createAccount(t, other, "alice@example.com", alicePassword)
	tok := login(t, realm, "alice@example.com", alicePassword)
	foreign := login(t, other, "alice@example.com", alicePassword)

	d := discover(t, realm)
	require.Equal(t, env.URL+"/api/realm/"+realm, d.Issuer)
	require.Equal(t, d.Issuer+"/.well-known/jwks.json", d.JwksURI)
	require.Contains(t, d.IDTokenSigningAlgValuesSupported, "RS256")
	require.ElementsMatch(t, []string{"password", "refresh_token"}, d.GrantTypesSupported)
	_, c := claimsOf(t, tok.AccessToken)
	require.Equal(t, d.Issuer, c["iss"])

	r := call(t, "GET", "/api/realm/"+realm+"/.well-known/jwks.json", "", nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	require.Equal(t, "public, max-age=300", r.Header.Get("Cache-Control"))
	require.NotContains(t, string(r.Body), `"d"`, "no private key material")

	// Real HTTP to the test server, as a gateway or service would.
	k, err := keyfunc.NewDefaultCtx(t.Context(), []string{d.JwksURI})
	require.NoError(t, err)
	verify := func(raw string) (*jwt.Token, error) {
		return jwt.Parse(raw, k.Keyfunc,
			jwt.WithValidMethods([]string{"RS256"}),
			jwt.WithIssuer(d.Issuer),
			jwt.WithAudience(realm),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
		)
	}
	for name, raw := range map[string]string{"access": tok.AccessToken, "id": tok.IDToken} {
		parsed, err := verify(raw)
		require.NoError(t, err, name)
		require.True(t, parsed.Valid, name)
		sub, err := parsed.Claims.GetSubject()
		require.NoError(t, err)
		require.Equal(t, id, sub, name)
		require.Equal(t, name, parsed.Claims.(jwt.MapClaims)["token_use"])
	}

	// Another realm's token: its kid is not in this realm's JWKS.
	_, err = verify(foreign.AccessToken)
	require.Error(t, err)
	// Even when its claims would pass, another realm's key did not sign it.
	_, err = jwt.Parse(foreign.AccessToken, k.Keyfunc, jwt.WithValidMethods([]string{"RS256"}))
	require.Error(t, err)

	// A tampered token fails.
	parts := splitJWT(t, tok.AccessToken)
	fc := claimsPart(t, foreign.AccessToken)
	_, err = verify(parts[0] + "." + fc + "." + parts[2])
	require.ErrorIs(t, err, jwt.ErrTokenSignatureInvalid)
}

func splitJWT(t *testing.T, raw string) []string {
	t.Helper()
	p := make([]string, 0, 3)
	start := 0
	for i := range len(raw) {
		if raw[i] == '.' {
			p = append(p, raw[start:i])
			start = i + 1
		}
	}
	p = append(p, raw[start:])
	require.Len(t, p, 3)
	return p
}

func claimsPart(t *testing.T, raw string) string { return splitJWT(t, raw)[1] }
