package tests

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/realmiam/realmiam/shared/tenant"
)

// Sign-in scenarios: login, refresh with rotation and reuse detection,
// logout, and what a realm's tokens are worth elsewhere.

const alicePassword = "Wonderland-42"

// claimsOf decodes a token's header and claims without verifying it (the
// JWKS test verifies).
func claimsOf(t *testing.T, raw string) (header map[string]any, claims jwt.MapClaims) {
	t.Helper()
	claims = jwt.MapClaims{}
	tok, _, err := jwt.NewParser().ParseUnverified(raw, claims)
	require.NoError(t, err)
	return tok.Header, claims
}

func authPath(realm, op string) string { return "/api/realm/" + realm + "/auth/" + op }

func refreshCall(t *testing.T, realm, refreshToken string) *resp {
	t.Helper()
	return call(t, "POST", authPath(realm, "refresh"), "", map[string]any{"refreshToken": refreshToken})
}

// requireRefused checks r is the one answer to an unusable refresh token.
func requireRefused(t *testing.T, r *resp) {
	t.Helper()
	require.Equal(t, http.StatusUnauthorized, r.Status, "%s", r.Body)
	require.Equal(t, "invalid_refresh_token", r.problem(t).Code)
}

// refreshTokensOf is the refresh_tokens collection of realm.
func refreshTokensOf(realm string) *mongo.Collection {
	return env.Client.Database(tenant.DBName(realm)).Collection("refresh_tokens")
}

func TestLogin(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	id := createAccount(t, realm, "Alice@Example.com", alicePassword)

	before := time.Now().Add(-time.Second)
	// The email is matched after the same normalisation as at creation.
	r := call(t, "POST", authPath(realm, "login"), "", map[string]any{"email": "  ALICE@example.COM ", "password": alicePassword})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	require.Equal(t, "no-store", r.Header.Get("Cache-Control"))
	var tok tokens
	r.decode(t, &tok)
	require.Equal(t, "Bearer", tok.TokenType)
	require.Equal(t, 3600, tok.ExpiresIn)
	require.NotEmpty(t, tok.RefreshToken)

	issuer := env.URL + "/api/realm/" + realm
	header, c := claimsOf(t, tok.AccessToken)
	require.Equal(t, "RS256", header["alg"])
	require.NotEmpty(t, header["kid"])
	require.Equal(t, issuer, c["iss"])
	require.Equal(t, id, c["sub"])
	aud, err := c.GetAudience()
	require.NoError(t, err)
	require.Equal(t, jwt.ClaimStrings{realm}, aud)
	require.Equal(t, "access", c["token_use"])
	require.Equal(t, "openid email", c["scope"])
	require.NotEmpty(t, c["jti"])
	exp, err := c.GetExpirationTime()
	require.NoError(t, err)
	require.WithinDuration(t, before.Add(time.Hour), exp.Time, 5*time.Second)
	iat, err := c.GetIssuedAt()
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), iat.Time, 5*time.Second)
	require.NotContains(t, c, "email", "access tokens stay small")
	require.NotContains(t, c, "groups")

	idHeader, ic := claimsOf(t, tok.IDToken)
	require.Equal(t, header["kid"], idHeader["kid"])
	require.Equal(t, issuer, ic["iss"])
	require.Equal(t, id, ic["sub"])
	require.Equal(t, "id", ic["token_use"])
	require.Equal(t, "alice@example.com", ic["email"])
	require.InDelta(t, float64(time.Now().Unix()), ic["auth_time"], 5)
	require.Equal(t, c["exp"], ic["exp"])

	// The refresh token is stored only as a hash.
	cur, err := refreshTokensOf(realm).Find(t.Context(), bson.M{"accountId": id})
	require.NoError(t, err)
	var docs []bson.M
	require.NoError(t, cur.All(t.Context(), &docs))
	require.Len(t, docs, 1)
	stored, err := json.Marshal(docs)
	require.NoError(t, err)
	require.NotContains(t, string(stored), tok.RefreshToken)

	// The access token is accepted by the realm's endpoints: authenticated,
	// though an ordinary account may not administer the realm.
	r = call(t, "GET", "/api/realm/"+realm+"/accounts", tok.AccessToken, nil)
	require.Equal(t, http.StatusForbidden, r.Status, "%s", r.Body)
}

// TestLoginFailuresLookAlike: an unknown email, a wrong password and a
// disabled account get the same status, headers and body.
func TestLoginFailuresLookAlike(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	createAccount(t, realm, "alice@example.com", alicePassword)
	bob := createAccount(t, realm, "bob@example.com", alicePassword)
	r := call(t, "PATCH", "/api/realm/"+realm+"/accounts/"+bob, env.AdminToken, map[string]any{"enabled": false})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)

	attempts := []struct {
		name, email, password string
	}{
		{"wrong password", "alice@example.com", "Wonderland-43"},
		{"unknown email", "nobody@example.com", alicePassword},
		{"disabled account, right password", "bob@example.com", alicePassword},
		{"disabled account, wrong password", "bob@example.com", "Wonderland-43"},
	}
	var first *resp
	for _, a := range attempts {
		r := call(t, "POST", authPath(realm, "login"), "", map[string]any{"email": a.email, "password": a.password})
		require.Equal(t, http.StatusUnauthorized, r.Status, "%s: %s", a.name, r.Body)
		p := r.problem(t)
		require.Equal(t, "invalid_credentials", p.Code, a.name)
		require.Equal(t, "Incorrect email or password.", p.Detail, a.name)
		if first == nil {
			first = r
			continue
		}
		require.Equal(t, string(first.Body), string(r.Body), a.name)
		for _, h := range []string{"Content-Type", "Cache-Control", "WWW-Authenticate"} {
			require.Equal(t, first.Header.Values(h), r.Header.Values(h), "%s: %s", a.name, h)
		}
	}
	n, err := refreshTokensOf(realm).CountDocuments(t.Context(), bson.M{})
	require.NoError(t, err)
	require.Zero(t, n, "failed logins store nothing")
}

// TestRefreshRotation: a refresh token works once; presenting it again
// revokes its family (the session), and only that family.
func TestRefreshRotation(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	id := createAccount(t, realm, "alice@example.com", alicePassword)
	first := login(t, realm, "alice@example.com", alicePassword)
	other := login(t, realm, "alice@example.com", alicePassword) // another session

	r := refreshCall(t, realm, first.RefreshToken)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	require.Equal(t, "no-store", r.Header.Get("Cache-Control"))
	var second tokens
	r.decode(t, &second)
	require.NotEqual(t, first.RefreshToken, second.RefreshToken)
	require.NotEqual(t, first.AccessToken, second.AccessToken)
	_, c := claimsOf(t, second.AccessToken)
	require.Equal(t, id, c["sub"])
	require.Equal(t, "access", c["token_use"])
	_, ic := claimsOf(t, second.IDToken)
	_, firstIC := claimsOf(t, first.IDToken)
	require.Equal(t, firstIC["auth_time"], ic["auth_time"], "a refresh is not a sign-in")
	require.Equal(t, "alice@example.com", ic["email"])

	// The rotated token is refused, and its reuse revokes the new one too.
	requireRefused(t, refreshCall(t, realm, first.RefreshToken))
	requireRefused(t, refreshCall(t, realm, second.RefreshToken))

	// The other session is untouched.
	r = refreshCall(t, realm, other.RefreshToken)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
}

// TestRefreshChain: a session refreshes many times, each token once.
func TestRefreshChain(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	createAccount(t, realm, "alice@example.com", alicePassword)
	tok := login(t, realm, "alice@example.com", alicePassword)
	seen := map[string]bool{tok.RefreshToken: true}
	for range 3 {
		r := refreshCall(t, realm, tok.RefreshToken)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		r.decode(t, &tok)
		require.False(t, seen[tok.RefreshToken])
		seen[tok.RefreshToken] = true
	}
}

func TestLogout(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	createAccount(t, realm, "alice@example.com", alicePassword)
	first := login(t, realm, "alice@example.com", alicePassword)
	r := refreshCall(t, realm, first.RefreshToken)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var second tokens
	r.decode(t, &second)

	// Logging out with an older token of the session ends the whole session.
	r = call(t, "POST", authPath(realm, "logout"), "", map[string]any{"refreshToken": first.RefreshToken})
	require.Equal(t, http.StatusNoContent, r.Status, "%s", r.Body)
	requireRefused(t, refreshCall(t, realm, second.RefreshToken))

	// Idempotent, and says nothing about tokens.
	for _, raw := range []string{second.RefreshToken, second.RefreshToken, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "not a token"} {
		r = call(t, "POST", authPath(realm, "logout"), "", map[string]any{"refreshToken": raw})
		require.Equal(t, http.StatusNoContent, r.Status, "%s", r.Body)
		require.Empty(t, r.Body)
	}
}

func TestExpiredRefreshToken(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	id := createAccount(t, realm, "alice@example.com", alicePassword)
	tok := login(t, realm, "alice@example.com", alicePassword)
	_, err := refreshTokensOf(realm).UpdateMany(t.Context(), bson.M{"accountId": id},
		bson.M{"$set": bson.M{"expiresAt": time.Now().Add(-time.Minute).UTC()}})
	require.NoError(t, err)
	requireRefused(t, refreshCall(t, realm, tok.RefreshToken))
}

// TestAccountChangesEndSessions: disabling an account, setting its password
// or deleting it stops its refresh tokens.
func TestAccountChangesEndSessions(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	id := createAccount(t, realm, "alice@example.com", alicePassword)
	accountPath := "/api/realm/" + realm + "/accounts/" + id

	tok := login(t, realm, "alice@example.com", alicePassword)
	r := call(t, "PATCH", accountPath, env.AdminToken, map[string]any{"enabled": false})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	requireRefused(t, refreshCall(t, realm, tok.RefreshToken))
	r = call(t, "PATCH", accountPath, env.AdminToken, map[string]any{"enabled": true})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	requireRefused(t, refreshCall(t, realm, tok.RefreshToken))

	tok = login(t, realm, "alice@example.com", alicePassword)
	r = call(t, "PUT", accountPath+"/password", env.AdminToken, map[string]any{"password": "Looking-Glass-7"})
	require.Equal(t, http.StatusNoContent, r.Status, "%s", r.Body)
	requireRefused(t, refreshCall(t, realm, tok.RefreshToken))

	tok = login(t, realm, "alice@example.com", "Looking-Glass-7")
	r = call(t, "DELETE", accountPath, env.AdminToken, nil)
	require.Equal(t, http.StatusNoContent, r.Status, "%s", r.Body)
	requireRefused(t, refreshCall(t, realm, tok.RefreshToken))
	r = call(t, "POST", authPath(realm, "login"), "", map[string]any{"email": "alice@example.com", "password": "Looking-Glass-7"})
	require.Equal(t, http.StatusUnauthorized, r.Status, "%s", r.Body)
}

// TestAuthIsolation: what realm A issues is worth nothing in realm B.
func TestAuthIsolation(t *testing.T) {
	t.Parallel()
	a, b := newRealm(t), newRealm(t)
	createAccount(t, a, "alice@example.com", alicePassword)
	tok := login(t, a, "alice@example.com", alicePassword)

	r := call(t, "GET", "/api/realm/"+b+"/accounts", tok.AccessToken, nil)
	require.Equal(t, http.StatusUnauthorized, r.Status, "%s", r.Body)
	require.Equal(t, "invalid_token", r.problem(t).Code)
	require.NotEmpty(t, r.Header.Get("WWW-Authenticate"))

	// Neither alice's credentials nor her refresh token.
	r = call(t, "POST", authPath(b, "login"), "", map[string]any{"email": "alice@example.com", "password": alicePassword})
	require.Equal(t, http.StatusUnauthorized, r.Status, "%s", r.Body)
	require.Equal(t, "invalid_credentials", r.problem(t).Code)
	requireRefused(t, refreshCall(t, b, tok.RefreshToken))
	r = call(t, "POST", authPath(b, "logout"), "", map[string]any{"refreshToken": tok.RefreshToken})
	require.Equal(t, http.StatusNoContent, r.Status, "%s", r.Body)
	// Logging out at B did nothing to A's session.
	r = refreshCall(t, a, tok.RefreshToken)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
}

func TestAuthBadInput(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	createAccount(t, realm, "alice@example.com", alicePassword)

	cases := []struct {
		name   string
		op     string
		body   any
		status int
		code   string
		field  string // "" when no field is to blame
	}{
		{"malformed JSON", "login", `{"email": "alice@example.com", "password":`, 400, "malformed_json", ""},
		{"not an object", "login", `["alice@example.com"]`, 400, "invalid_request", "body"},
		{"missing password", "login", map[string]any{"email": "alice@example.com"}, 400, "invalid_request", "password"},
		{"missing email", "login", map[string]any{"password": alicePassword}, 400, "invalid_request", "email"},
		{"empty password", "login", map[string]any{"email": "alice@example.com", "password": ""}, 400, "invalid_request", "password"},
		{"password too long", "login", map[string]any{"email": "alice@example.com", "password": strings.Repeat("x", 257)}, 400, "invalid_request", "password"},
		{"extra field", "login", map[string]any{"email": "alice@example.com", "password": alicePassword, "remember": true}, 400, "invalid_request", "remember"},
		{"password of wrong type", "login", map[string]any{"email": "alice@example.com", "password": 42}, 400, "invalid_request", "password"},
		{"refresh token of wrong type", "refresh", map[string]any{"refreshToken": 42}, 400, "invalid_request", "refreshToken"},
		{"refresh token missing", "refresh", map[string]any{}, 400, "invalid_request", "refreshToken"},
		{"refresh token too long", "refresh", map[string]any{"refreshToken": strings.Repeat("A", 513)}, 400, "invalid_request", "refreshToken"},
		{"refresh malformed JSON", "refresh", `{"refreshToken": }`, 400, "malformed_json", ""},
		{"logout token of wrong type", "logout", map[string]any{"refreshToken": []string{"x"}}, 400, "invalid_request", "refreshToken"},
		{"logout extra field", "logout", map[string]any{"refreshToken": "x", "all": true}, 400, "invalid_request", "all"},
		{"refresh token unknown", "refresh", map[string]any{"refreshToken": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, 401, "invalid_refresh_token", ""},
		{"refresh token not ours", "refresh", map[string]any{"refreshToken": "eyJhbGciOiJub25lIn0.e30."}, 401, "invalid_refresh_token", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, "POST", authPath(realm, tc.op), "", tc.body)
			require.Equal(t, tc.status, r.Status, "%s", r.Body)
			p := r.problem(t)
			require.Equal(t, tc.code, p.Code, "%s", r.Body)
			if tc.field != "" {
				var fields []string
				for _, e := range p.Errors {
					fields = append(fields, e.Field)
				}
				require.Equal(t, []string{tc.field}, fields, "%s", r.Body)
			}
			require.NotContains(t, string(r.Body), alicePassword)
		})
	}

	t.Run("unknown realm", func(t *testing.T) {
		r := call(t, "POST", authPath("no-such-realm", "login"), "", map[string]any{"email": "alice@example.com", "password": alicePassword})
		require.Equal(t, http.StatusNotFound, r.Status, "%s", r.Body)
		require.Equal(t, "unknown_realm", r.problem(t).Code)
	})
	t.Run("not JSON", func(t *testing.T) {
		r := send(t, "POST", authPath(realm, "login"), "", "text/plain", []byte("email=alice@example.com"))
		require.Equal(t, http.StatusUnsupportedMediaType, r.Status, "%s", r.Body)
		r.problem(t)
	})

	n, err := refreshTokensOf(realm).CountDocuments(t.Context(), bson.M{})
	require.NoError(t, err)
	require.Zero(t, n, "bad input stores nothing")
}

// refreshLoop refreshes in a tight loop, always with the newest refresh
// token, as a client would, until a refresh is refused or stop is closed. It
// signals warm after a few refreshes, and returns the newest tokens it got.
// It runs off the test's goroutine, so it reports errors instead of failing.
func refreshLoop(realm string, tok tokens, warm chan<- struct{}, stop <-chan struct{}) (tokens, error) {
	for n := 0; ; n++ {
		if n == 3 {
			close(warm)
		}
		select {
		case <-stop:
			return tok, nil
		default:
		}
		b, _ := json.Marshal(map[string]string{"refreshToken": tok.RefreshToken})
		r, err := do("POST", authPath(realm, "refresh"), "", "application/json", b)
		switch {
		case err != nil:
			return tok, err
		case r.Status == http.StatusUnauthorized:
			if n < 3 {
				return tok, fmt.Errorf("refresh %d refused before any revocation: %s", n, r.Body)
			}
			return tok, nil
		case r.Status != http.StatusOK:
			return tok, fmt.Errorf("refresh %d: %d %s", n, r.Status, r.Body)
		}
		if err := json.Unmarshal(r.Body, &tok); err != nil {
			return tok, err
		}
	}
}

// TestRefreshRacesRevocation: a client refreshes in a tight loop while its
// session is revoked (the password is set, a rotated token reused, or the
// account disabled and enabled again). Once the revocation has answered, the
// newest token the client got must be refused, however the two interleaved.
// Each scenario runs a few times, since the interleaving varies.
func TestRefreshRacesRevocation(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	scenarios := []struct {
		name string
		// stopFirst stops the client as the revocation starts: it then
		// makes no refresh while the account is disabled, one that would be
		// refused and spend the token the race may have left alive.
		stopFirst bool
		revoke    func(t *testing.T, account string, first tokens)
		after     func(t *testing.T, account string) // once the client has stopped
	}{
		{name: "password set", revoke: func(t *testing.T, account string, _ tokens) {
			r := call(t, "PUT", "/api/realm/"+realm+"/accounts/"+account+"/password", env.AdminToken,
				map[string]any{"password": "Looking-Glass-7"})
			require.Equal(t, http.StatusNoContent, r.Status, "%s", r.Body)
		}},
		{name: "rotated token reused", revoke: func(t *testing.T, _ string, first tokens) {
			requireRefused(t, refreshCall(t, realm, first.RefreshToken))
		}},
		{
			name:      "disabled and enabled",
			stopFirst: true,
			revoke: func(t *testing.T, account string, _ tokens) {
				r := call(t, "PATCH", "/api/realm/"+realm+"/accounts/"+account, env.AdminToken, map[string]any{"enabled": false})
				require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
			},
			after: func(t *testing.T, account string) {
				r := call(t, "PATCH", "/api/realm/"+realm+"/accounts/"+account, env.AdminToken, map[string]any{"enabled": true})
				require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
			},
		},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			for run := range 4 {
				email := fmt.Sprintf("%s-%d@example.com", strings.ReplaceAll(sc.name, " ", "-"), run)
				account := createAccount(t, realm, email, alicePassword)
				first := login(t, realm, email, alicePassword)

				warm, stop := make(chan struct{}), make(chan struct{})
				type outcome struct {
					latest tokens
					err    error
				}
				done := make(chan outcome, 1)
				go func() {
					latest, err := refreshLoop(realm, first, warm, stop)
					done <- outcome{latest, err}
				}()
				select {
				case <-warm:
				case o := <-done:
					require.NoError(t, o.err)
					require.FailNow(t, "the refresh loop ended before it warmed up")
				}
				if sc.stopFirst {
					close(stop)
				}
				sc.revoke(t, account, first)
				if !sc.stopFirst {
					close(stop)
				}
				o := <-done
				require.NoError(t, o.err)
				if sc.after != nil {
					sc.after(t, account)
				}
				requireRefused(t, refreshCall(t, realm, o.latest.RefreshToken))
			}
		})
	}
}

// throttleOf is the login_throttle document of email in realm, or nil.
func throttleOf(t *testing.T, realm, email string) bson.M {
	t.Helper()
	sum := sha256.Sum256([]byte(email))
	var doc bson.M
	err := env.Client.Database(tenant.DBName(realm)).Collection("login_throttle").
		FindOne(t.Context(), bson.M{"_id": hex.EncodeToString(sum[:])}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil
	}
	require.NoError(t, err)
	return doc
}

// setThrottle changes the stored login_throttle document of email in realm.
func setThrottle(t *testing.T, realm, email string, set bson.M) {
	t.Helper()
	sum := sha256.Sum256([]byte(email))
	res, err := env.Client.Database(tenant.DBName(realm)).Collection("login_throttle").
		UpdateOne(t.Context(), bson.M{"_id": hex.EncodeToString(sum[:])}, bson.M{"$set": set})
	require.NoError(t, err)
	require.EqualValues(t, 1, res.MatchedCount)
}

func loginCall(t *testing.T, realm, email, password string) *resp {
	t.Helper()
	return call(t, "POST", authPath(realm, "login"), "", map[string]any{"email": email, "password": password})
}

// requireLocked checks r is the answer to a login of a locked email.
func requireLocked(t *testing.T, r *resp) {
	t.Helper()
	require.Equal(t, http.StatusTooManyRequests, r.Status, "%s", r.Body)
	require.Equal(t, "too_many_attempts", r.problem(t).Code)
	after, err := strconv.Atoi(r.Header.Get("Retry-After"))
	require.NoError(t, err, "Retry-After %q", r.Header.Get("Retry-After"))
	require.Positive(t, after)
}

// TestLoginThrottle: five failed logins in a row lock the email, even
// against the right password, in the same way whether or not an account has
// the email; the lock ends, and a success resets the count.
//
// Not parallel: the first lock lasts one second, and parallel tests share the
// server's one database connection, which could delay a request past it.
func TestLoginThrottle(t *testing.T) {
	realm := newRealm(t)
	createAccount(t, realm, "alice@example.com", alicePassword)

	t.Run("locked after five failures, alike for unknown emails", func(t *testing.T) {
		sequence := func(email string) []*resp {
			var rs []*resp
			for range 5 {
				rs = append(rs, loginCall(t, realm, email, "Wonderland-43"))
			}
			// The right password, for alice: not even checked.
			return append(rs, loginCall(t, realm, email, alicePassword))
		}
		known := sequence("alice@example.com")
		unknown := sequence("nobody@example.com")
		for i := range known {
			if i < 5 {
				require.Equal(t, http.StatusUnauthorized, known[i].Status, "attempt %d: %s", i+1, known[i].Body)
				require.Equal(t, "invalid_credentials", known[i].problem(t).Code)
			} else {
				requireLocked(t, known[i])
				require.Equal(t, "1", known[i].Header.Get("Retry-After"))
			}
			require.Equal(t, known[i].Status, unknown[i].Status, "attempt %d", i+1)
			require.Equal(t, string(known[i].Body), string(unknown[i].Body), "attempt %d", i+1)
			for _, h := range []string{"Content-Type", "Cache-Control", "WWW-Authenticate", "Retry-After"} {
				require.Equal(t, known[i].Header.Values(h), unknown[i].Header.Values(h), "attempt %d: %s", i+1, h)
			}
		}
		n, err := refreshTokensOf(realm).CountDocuments(t.Context(), bson.M{})
		require.NoError(t, err)
		require.Zero(t, n, "a locked login stores nothing")
		doc := throttleOf(t, realm, "alice@example.com")
		require.EqualValues(t, 5, doc["failures"], "a locked attempt is not counted")
		require.NotContains(t, fmt.Sprint(doc), "alice", "the email is stored only as a hash")
	})

	t.Run("the lock ends", func(t *testing.T) {
		// Normalised like the account's email.
		requireLocked(t, loginCall(t, realm, " ALICE@example.com", alicePassword))
		setThrottle(t, realm, "alice@example.com", bson.M{"lockedUntil": time.Now().Add(-time.Second).UTC()})
		login(t, realm, "alice@example.com", alicePassword)
		require.Nil(t, throttleOf(t, realm, "alice@example.com"), "a success resets the count")
	})

	t.Run("failures expire after an hour", func(t *testing.T) {
		requireLocked(t, loginCall(t, realm, "nobody@example.com", alicePassword))
		old := time.Now().Add(-61 * time.Minute).UTC()
		setThrottle(t, realm, "nobody@example.com", bson.M{"lockedUntil": old, "updatedAt": old})
		r := loginCall(t, realm, "nobody@example.com", "Wonderland-43")
		require.Equal(t, http.StatusUnauthorized, r.Status, "%s", r.Body)
		require.EqualValues(t, 1, throttleOf(t, realm, "nobody@example.com")["failures"], "counting starts again")
	})

	t.Run("a success resets the count", func(t *testing.T) {
		for range 4 {
			r := loginCall(t, realm, "alice@example.com", "Wonderland-43")
			require.Equal(t, http.StatusUnauthorized, r.Status, "%s", r.Body)
		}
		login(t, realm, "alice@example.com", alicePassword)
		for range 4 {
			r := loginCall(t, realm, "alice@example.com", "Wonderland-43")
			require.Equal(t, http.StatusUnauthorized, r.Status, "%s", r.Body)
		}
		login(t, realm, "alice@example.com", alicePassword)
	})
}

// TestLoginThrottleIsolation: failures in one realm lock the email there
// only. Not parallel, for the reason TestLoginThrottle is not.
func TestLoginThrottleIsolation(t *testing.T) {
	a, b := newRealm(t), newRealm(t)
	createAccount(t, a, "alice@example.com", alicePassword)
	createAccount(t, b, "alice@example.com", alicePassword)
	for range 5 {
		r := loginCall(t, a, "alice@example.com", "Wonderland-43")
		require.Equal(t, http.StatusUnauthorized, r.Status, "%s", r.Body)
	}
	requireLocked(t, loginCall(t, a, "alice@example.com", alicePassword))
	login(t, b, "alice@example.com", alicePassword)
	require.Nil(t, throttleOf(t, b, "alice@example.com"))
	requireLocked(t, loginCall(t, a, "alice@example.com", alicePassword))
}

// TestLoginThrottleConcurrent: wrong passwords sent at once are each counted
// (DESIGN.md §10: the count is one atomic update), and the lock matches the
// final count.
func TestLoginThrottleConcurrent(t *testing.T) {
	t.Parallel()
	realm := newRealm(t)
	createAccount(t, realm, "alice@example.com", alicePassword)

	const n = 20
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			b, _ := json.Marshal(map[string]string{"email": "alice@example.com", "password": "Wonderland-43"})
			r, err := do("POST", authPath(realm, "login"), "", "application/json", b)
			if err != nil {
				statuses <- 0
				return
			}
			statuses <- r.Status
		})
	}
	wg.Wait()
	close(statuses)
	refused := 0
	for s := range statuses {
		if s == http.StatusUnauthorized {
			refused++
			continue
		}
		// Requests that read the count after the fifth failure find the email
		// locked, and are not counted.
		require.Equal(t, http.StatusTooManyRequests, s)
	}
	require.GreaterOrEqual(t, refused, 5)
	doc := throttleOf(t, realm, "alice@example.com")
	require.EqualValues(t, refused, doc["failures"], "every checked failure is counted once")

	lock := time.Duration(min(1<<(refused-5), 900)) * time.Second
	updated := doc["updatedAt"].(bson.DateTime).Time()
	until := doc["lockedUntil"].(bson.DateTime).Time()
	require.WithinDuration(t, updated.Add(lock), until, time.Second)
}
