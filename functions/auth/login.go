package auth

import (
	"context"
	"fmt"
	"net/http"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/realmiam/realmiam/shared/email"
	"github.com/realmiam/realmiam/shared/mongodb"
	"github.com/realmiam/realmiam/shared/openapi"
	"github.com/realmiam/realmiam/shared/problem"
	"github.com/realmiam/realmiam/shared/throttle"
)

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// invalidCredentials is the one answer to an unknown email, a wrong password
// and a disabled account, so that none of them can be told apart.
func invalidCredentials() error {
	return problem.New(problem.Unauthenticated, "invalid_credentials", "Incorrect email or password.")
}

// login checks an email and password and starts a session: a new
// refresh-token family whose tokens expire refreshTokenTtlSeconds from now.
// Repeated failures lock the email for a while (shared/throttle).
//
// Round trips: the email's failures (throttle.Check), the account
// (findCredentials) and the refresh token insert; the realm and its signing
// keys come from the process's caches. A failure costs one more (two when it
// locks), a success after failures one more (the reset), and a locked email
// only the first.
func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	realm, err := realmOf(r)
	if err != nil {
		return err
	}
	var req loginRequest
	if err := openapi.Decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	db := s.db(realm.ID)
	addr := email.Normalize(req.Email)

	now := s.now().UTC()
	attempts, err := throttle.Check(ctx, db, addr, now)
	if err != nil {
		return err
	}
	cred, ok, err := s.checkPassword(ctx, db.Collection("accounts"), addr, req.Password)
	if err != nil {
		return err
	}
	if !ok {
		if err := attempts.Fail(ctx, s.now()); err != nil {
			return err
		}
		return invalidCredentials()
	}
	if err := attempts.Succeed(ctx); err != nil {
		return err
	}

	// The session starts when the account was read, before the password
	// check: a password set or disable after that read stamps the account
	// with a later tokensRevokedAt, and refresh refuses the session then.
	_, refreshTTL := ttls(realm)
	tokens, err := s.mint(ctx, realm, session{
		accountID: cred.ID,
		email:     cred.Email,
		family:    mongodb.NewID(),
		authTime:  now,
		expiresAt: now.Add(refreshTTL),
	})
	if err != nil {
		return err
	}
	return writeTokens(w, tokens)
}

// checkPassword reports whether pw signs in the account with the
// (normalised) address addr. ok is false for an unknown address, a wrong
// password and a disabled account alike, and each costs one bcrypt, so that
// neither the answer nor its timing tells them apart. Errors: Unavailable
// when the database is.
func (s *Server) checkPassword(ctx context.Context, accounts *mongo.Collection, addr, pw string) (cred credentials, ok bool, err error) {
	cred, err = findCredentials(ctx, accounts, addr)
	switch {
	case problem.Is(err, problem.NotFound):
		s.hasher.VerifyNothing(pw)
		return credentials{}, false, nil
	case err != nil:
		return credentials{}, false, err
	}
	if cred.PasswordHash == "" {
		s.hasher.VerifyNothing(pw)
		return credentials{}, false, nil
	}
	// The password is checked even for a disabled account, for the same
	// reason.
	if !s.hasher.Verify(cred.PasswordHash, pw) || !cred.Enabled {
		return credentials{}, false, nil
	}
	return cred, true, nil
}

// credentials is what login reads of an account.
type credentials struct {
	ID           string `bson:"_id"`
	Email        string `bson:"email"`
	PasswordHash string `bson:"passwordHash"`
	Enabled      bool   `bson:"enabled"`
}

// findCredentials reads the sign-in fields of the account with the
// (normalised) address addr. Errors: NotFound when there is none,
// Unavailable when the database is.
func findCredentials(ctx context.Context, accounts *mongo.Collection, addr string) (credentials, error) {
	var c credentials
	opts := options.FindOne().SetProjection(bson.M{"email": 1, "passwordHash": 1, "enabled": 1})
	if err := accounts.FindOne(ctx, bson.M{"email": addr}, opts).Decode(&c); err != nil {
		return credentials{}, fmt.Errorf("auth.findCredentials: %w", mongodb.Map(err))
	}
	return c, nil
}
