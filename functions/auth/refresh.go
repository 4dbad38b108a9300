package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/realmiam/realmiam/shared/mongodb"
	"github.com/realmiam/realmiam/shared/openapi"
	"github.com/realmiam/realmiam/shared/problem"
)

// Refresh tokens are opaque: refreshTokenBytes random bytes, base64url
// without padding. Only their SHA-256 is stored, as the _id of a document
// of the realm's refresh_tokens collection.
//
// Every token belongs to a family, the tokens descended from one sign-in.
// A token works once: refreshing claims it (used: true) and issues the next
// token of the family. Presenting a used token again means two parties hold
// the family, so the whole family is revoked.
//
// Rotation keeps the family's expiry: a session lasts at most the realm's
// refreshTokenTtlSeconds from sign-in however often it is refreshed (as in
// Cognito), so a stolen token cannot be kept alive forever by refreshing it.
//
// The accounts function revokes an account's tokens with
// updateMany({accountId}, {$set: {revoked: true}}) and deletes them with
// deleteMany({accountId}); every field those touch is set on insert.
//
// A revocation can run while a refresh is between its claim and its insert
// of the next token, and miss that token; so a refresh re-reads the claimed
// token after the insert and answers 401 if it has been revoked or deleted
// meanwhile (see refreshTokens).
const (
	refreshTokens     = "refresh_tokens"
	refreshTokenBytes = 32
)

// refreshToken is a document of the refresh_tokens collection.
type refreshToken struct {
	ID        string    `bson:"_id"` // hex SHA-256 of the token
	Family    string    `bson:"family"`
	AccountID string    `bson:"accountId"`
	AuthTime  time.Time `bson:"authTime"` // the sign-in that started the family
	CreatedAt time.Time `bson:"createdAt"`
	ExpiresAt time.Time `bson:"expiresAt"`
	Used      bool      `bson:"used"` // claimed; usedAt then says when
	Revoked   bool      `bson:"revoked"`
}

type refreshRequest struct {
	RefreshToken string `json:"refreshToken"`
}

// invalidRefreshToken is the one answer to a refresh token that is unknown,
// used, revoked or expired, or whose account can no longer sign in.
func invalidRefreshToken() error {
	return problem.New(problem.Unauthenticated, "invalid_refresh_token",
		"The refresh token is invalid, expired or revoked.")
}

// refreshTokens exchanges a refresh token for new tokens.
//
// Round trips: the claim, the account check, the insert of the next token and
// the re-read of the claimed one; a refused token costs one more (the reuse
// check) and a reused one another (revoking its family).
func (s *Server) refreshTokens(w http.ResponseWriter, r *http.Request) error {
	realm, err := realmOf(r)
	if err != nil {
		return err
	}
	var req refreshRequest
	if err := openapi.Decode(r, &req); err != nil {
		return err
	}
	hash, ok := hashRefreshToken(req.RefreshToken)
	if !ok {
		return invalidRefreshToken()
	}
	ctx := r.Context()
	db := s.db(realm.ID)
	coll := db.Collection(refreshTokens)

	old, err := claimRefreshToken(ctx, coll, hash, s.now())
	switch {
	case problem.Is(err, problem.NotFound):
		return refuseRefreshToken(ctx, coll, hash)
	case err != nil:
		return err
	}
	// The account may have been disabled or deleted since sign-in; the
	// accounts function revokes its tokens then, but a token claimed at that
	// moment would slip through without this check.
	acct, err := findAccountState(ctx, db.Collection("accounts"), old.AccountID)
	switch {
	case problem.Is(err, problem.NotFound):
		return invalidRefreshToken()
	case err != nil:
		return err
	}
	// A session that started before the account's tokens were revoked is
	// over even if the revocation missed this token: a login whose account
	// read preceded a password set inserts its token after the revocation.
	if !acct.Enabled || old.AuthTime.Before(acct.TokensRevokedAt) {
		return invalidRefreshToken()
	}
	tokens, err := s.mint(ctx, realm, session{
		accountID: old.AccountID,
		email:     acct.Email,
		family:    old.Family,
		authTime:  old.AuthTime,
		expiresAt: old.ExpiresAt,
	})
	if err != nil {
		return err
	}
	if s.afterInsert != nil {
		s.afterInsert()
	}

	// Did a revocation run since the claim? Every revocation is one
	// updateMany (the accounts function's {accountId, revoked: false},
	// revokeFamily's {family}) or deleteMany ({accountId}) whose filter
	// matches both the claimed token (used tokens too) and the new one.
	// MongoDB applies it document by document, each write atomic, and visits
	// the claimed token before the new one: equal keys of the accountId and
	// family indexes are ordered by record id, as is a collection scan, and
	// record ids grow with insertion. So one of two things holds:
	//   - the revocation reached the claimed token after this re-read: then
	//     the new token, inserted before the re-read, already existed when
	//     the revocation moved past the claimed token, and it revokes (or
	//     deletes) the new token too;
	//   - it reached the claimed token before this re-read: the re-read sees
	//     it revoked (or gone), and this refresh revokes the family itself
	//     and hands out nothing.
	// Either way no token of the family works once the revocation and this
	// refresh have both finished, without a transaction. (The ordering
	// argument assumes ordinary collections on a replica set, or a cluster
	// whose shard key keeps an account's tokens together.)
	t, err := findRefreshToken(ctx, coll, hash)
	switch {
	case problem.Is(err, problem.NotFound):
		// Deleted with its account.
	case err != nil:
		return err
	case !t.Revoked:
		return writeTokens(w, tokens)
	}
	if err := revokeFamily(ctx, coll, old.Family); err != nil {
		return err
	}
	return invalidRefreshToken()
}

// refuseRefreshToken answers a token that could not be claimed, revoking its
// family first when it had already been used.
func refuseRefreshToken(ctx context.Context, coll *mongo.Collection, hash string) error {
	t, err := findRefreshToken(ctx, coll, hash)
	switch {
	case problem.Is(err, problem.NotFound):
		return invalidRefreshToken()
	case err != nil:
		return err
	}
	if t.Used {
		if err := revokeFamily(ctx, coll, t.Family); err != nil {
			return err
		}
	}
	return invalidRefreshToken()
}

// accountState is what a refresh needs to know of the account.
type accountState struct {
	Email   string `bson:"email"`
	Enabled bool   `bson:"enabled"`
	// TokensRevokedAt is when the account's password was last set or the
	// account last disabled: sessions that started before it are over.
	TokensRevokedAt time.Time `bson:"tokensRevokedAt"`
}

// findAccountState reads whether account id exists and may sign in. Errors:
// NotFound when it does not exist, Unavailable when the database is.
func findAccountState(ctx context.Context, accounts *mongo.Collection, id string) (accountState, error) {
	var a accountState
	opts := options.FindOne().SetProjection(bson.M{"email": 1, "enabled": 1, "tokensRevokedAt": 1})
	if err := accounts.FindOne(ctx, bson.M{"_id": id}, opts).Decode(&a); err != nil {
		return accountState{}, fmt.Errorf("auth.findAccountState: %w", mongodb.Map(err))
	}
	return a, nil
}

// logout revokes the family of a refresh token. It answers 204 whether or not
// the token exists, so that it tells nothing about tokens.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	realm, err := realmOf(r)
	if err != nil {
		return err
	}
	var req refreshRequest
	if err := openapi.Decode(r, &req); err != nil {
		return err
	}
	hash, ok := hashRefreshToken(req.RefreshToken)
	if !ok {
		return openapi.NoContent(w)
	}
	ctx := r.Context()
	coll := s.db(realm.ID).Collection(refreshTokens)
	t, err := findRefreshToken(ctx, coll, hash)
	switch {
	case problem.Is(err, problem.NotFound):
		return openapi.NoContent(w)
	case err != nil:
		return err
	}
	if err := revokeFamily(ctx, coll, t.Family); err != nil {
		return err
	}
	return openapi.NoContent(w)
}

// hashRefreshToken is the stored form of raw. ok is false when raw cannot be
// one of ours, which spares the database a lookup that would find nothing.
func hashRefreshToken(raw string) (hash string, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(b) != refreshTokenBytes {
		return "", false
	}
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:]), true
}

// insertRefreshToken stores a new token of sess's family and returns it.
// Errors: Unavailable when the database is; anything else is internal.
func (s *Server) insertRefreshToken(ctx context.Context, realmID string, sess session, now time.Time) (string, error) {
	b := make([]byte, refreshTokenBytes)
	_, _ = rand.Read(b) // never fails
	raw := base64.RawURLEncoding.EncodeToString(b)
	hash, _ := hashRefreshToken(raw)
	doc := refreshToken{
		ID:        hash,
		Family:    sess.family,
		AccountID: sess.accountID,
		AuthTime:  sess.authTime.UTC(),
		CreatedAt: now.UTC(),
		ExpiresAt: sess.expiresAt.UTC(),
	}
	if _, err := s.db(realmID).Collection(refreshTokens).InsertOne(ctx, doc); err != nil {
		return "", fmt.Errorf("auth.insertRefreshToken: %w", mongodb.Map(err))
	}
	return raw, nil
}

// claimRefreshToken marks the token with hash used, if it is unused,
// unrevoked and unexpired, and returns it as it was. It is one conditional
// update, so that of two requests presenting the same token exactly one
// wins (DESIGN.md §10). Errors: NotFound when no such token may be claimed,
// Unavailable when the database is.
func claimRefreshToken(ctx context.Context, coll *mongo.Collection, hash string, now time.Time) (refreshToken, error) {
	now = now.UTC()
	filter := bson.M{"_id": hash, "used": false, "revoked": false, "expiresAt": bson.M{"$gt": now}}
	update := bson.M{"$set": bson.M{"used": true, "usedAt": now}}
	var t refreshToken
	err := coll.FindOneAndUpdate(ctx, filter, update, options.FindOneAndUpdate().SetReturnDocument(options.Before)).Decode(&t)
	if err != nil {
		return refreshToken{}, fmt.Errorf("auth.claimRefreshToken: %w", mongodb.Map(err))
	}
	return t, nil
}

// findRefreshToken reads the family and state of the token with hash.
// Errors: NotFound when there is none, Unavailable when the database is.
func findRefreshToken(ctx context.Context, coll *mongo.Collection, hash string) (refreshToken, error) {
	var t refreshToken
	opts := options.FindOne().SetProjection(bson.M{"family": 1, "used": 1, "revoked": 1})
	if err := coll.FindOne(ctx, bson.M{"_id": hash}, opts).Decode(&t); err != nil {
		return refreshToken{}, fmt.Errorf("auth.findRefreshToken: %w", mongodb.Map(err))
	}
	return t, nil
}

// revokeFamily revokes every token of family. Errors: Unavailable when the
// database is.
func revokeFamily(ctx context.Context, coll *mongo.Collection, family string) error {
	if _, err := coll.UpdateMany(ctx, bson.M{"family": family}, bson.M{"$set": bson.M{"revoked": true}}); err != nil {
		return fmt.Errorf("auth.revokeFamily: %w", mongodb.Map(err))
	}
	return nil
}
