package auth

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/realmiam/realmiam/shared/mongodb"
	"github.com/realmiam/realmiam/shared/openapi"
	"github.com/realmiam/realmiam/shared/problem"
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
//
// Round trips: the account (findCredentials) and the refresh token insert;
// the realm and its signing keys come from the process's caches.
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
	email := strings.ToLower(strings.TrimSpace(req.Email))

	cred, err := findCredentials(ctx, s.db(realm.ID).Collection("accounts"), email)
	switch {
	case problem.Is(err, problem.NotFound):
		// Spend what a wrong password costs, so that timing does not tell
		// which emails have accounts.
		s.hasher.VerifyNothing(req.Password)
		return invalidCredentials()
	case err != nil:
		return err
	}
	if cred.PasswordHash == "" {
		s.hasher.VerifyNothing(req.Password)
		return invalidCredentials()
	}
	// The password is checked even for a disabled account, for the same
	// reason.
	if ok := s.hasher.Verify(cred.PasswordHash, req.Password); !ok || !cred.Enabled {
		return invalidCredentials()
	}

	now := s.now().UTC()
	_, refreshTTL := ttls(realm)
	return s.issue(ctx, w, realm, session{
		accountID: cred.ID,
		email:     cred.Email,
		family:    mongodb.NewID(),
		authTime:  now,
		expiresAt: now.Add(refreshTTL),
	})
}

// credentials is what login reads of an account.
type credentials struct {
	ID           string `bson:"_id"`
	Email        string `bson:"email"`
	PasswordHash string `bson:"passwordHash"`
	Enabled      bool   `bson:"enabled"`
}

// findCredentials reads the sign-in fields of the account with the
// (normalised) email. Errors: NotFound when there is none, Unavailable when
// the database is.
func findCredentials(ctx context.Context, accounts *mongo.Collection, email string) (credentials, error) {
	var c credentials
	opts := options.FindOne().SetProjection(bson.M{"email": 1, "passwordHash": 1, "enabled": 1})
	if err := accounts.FindOne(ctx, bson.M{"email": email}, opts).Decode(&c); err != nil {
		return credentials{}, fmt.Errorf("auth.findCredentials: %w", mongodb.Map(err))
	}
	return c, nil
}
