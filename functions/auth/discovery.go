package auth

import (
	"net/http"

	"github.com/realmiam/realmiam/shared/openapi"
)

// getJwks serves the realm's public keys. Caches may keep them for five
// minutes: a new key signs only after every process has loaded it (the key
// cache of shared/token), and old keys stay listed while their tokens live.
func (s *Server) getJwks(w http.ResponseWriter, r *http.Request) error {
	realm, err := realmOf(r)
	if err != nil {
		return err
	}
	set, err := s.keys.JWKS(r.Context(), realm.ID)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	return openapi.JSON(w, http.StatusOK, set)
}

// openidConfiguration is the realm's OpenID Connect discovery document. It
// lists only what exists: tokens come from the API's login and refresh
// operations, not from OAuth endpoints, so none is advertised.
type openidConfiguration struct {
	Issuer                           string   `json:"issuer"`
	JwksURI                          string   `json:"jwks_uri"`
	ResponseTypesSupported           []string `json:"response_types_supported"`
	SubjectTypesSupported            []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported"`
	GrantTypesSupported              []string `json:"grant_types_supported"`
	ScopesSupported                  []string `json:"scopes_supported"`
	ClaimsSupported                  []string `json:"claims_supported"`
}

// getOpenidConfiguration serves the realm's discovery document.
func (s *Server) getOpenidConfiguration(w http.ResponseWriter, r *http.Request) error {
	realm, err := realmOf(r)
	if err != nil {
		return err
	}
	issuer := s.tokens.IssuerOf(realm.ID)
	w.Header().Set("Cache-Control", "public, max-age=300")
	return openapi.JSON(w, http.StatusOK, openidConfiguration{
		Issuer:                           issuer,
		JwksURI:                          issuer + "/.well-known/jwks.json",
		ResponseTypesSupported:           []string{"token"},
		SubjectTypesSupported:            []string{"public"},
		IDTokenSigningAlgValuesSupported: []string{"RS256"},
		GrantTypesSupported:              []string{"password", "refresh_token"},
		ScopesSupported:                  []string{"openid", "email"},
		ClaimsSupported: []string{
			"iss", "sub", "aud", "exp", "iat", "nbf", "jti",
			"auth_time", "email", "token_use", "scope",
		},
	})
}
