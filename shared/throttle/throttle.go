// Package throttle slows down password guessing: each realm counts failed
// password checks per normalised email, and locks an email after repeated
// failures. Sign-in counts them, and so does an account that proves its
// current password to set a new one: both guess the same secret.
package throttle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/realmiam/realmiam/shared/mongodb"
	"github.com/realmiam/realmiam/shared/problem"
)

// Each realm counts failed password checks per normalised email in its
// login_throttle collection, whether or not an account has the email, so
// that the throttle tells nothing about which accounts exist. A document:
//
//	_id          hex SHA-256 of the normalised email (no address is stored)
//	failures     consecutive failed logins
//	lockedUntil  end of the current lock; absent until the first one
//	updatedAt    time of the last failure
//
// After LockThreshold consecutive failures the email is locked for
// 1 s × 2^(failures−LockThreshold), at most maxLock. While it is locked,
// Check answers 429 before the password is checked, so a locked email costs
// no bcrypt. A success resets the count. Failures older than failureWindow
// (by updatedAt) no longer count: readers treat such a document as absent.
// There is no TTL index (DESIGN.md §5), so such documents stay until the
// email fails or signs in again.
//
// Counting is one atomic upsert per failure (DESIGN.md §10); the lock that
// the new count calls for is set by a second update, conditional on the
// count still being the one it was computed from.
const (
	Collection     = "login_throttle"
	LockThreshold  = 5
	firstLock      = time.Second
	maxLock        = 15 * time.Minute
	failureWindow  = time.Hour // longer than maxLock, so a maximal lock does not wipe the count
	maxLockDoubles = 10        // 2^10 s > maxLock
)

// Doc is a document of the login_throttle collection.
type Doc struct {
	ID          string    `bson:"_id"`
	Failures    int       `bson:"failures"`
	LockedUntil time.Time `bson:"lockedUntil,omitempty"`
	UpdatedAt   time.Time `bson:"updatedAt"`
}

// attempts is what login knows of an email's recent failures.
type attempts struct {
	failures    int       // that still count; 0 when none or expired
	lockedUntil time.Time // zero when not locked
	expired     bool      // a document exists but its failures no longer count
}

// Key is the _id of the throttle document of the normalised address addr.
func Key(addr string) string {
	sum := sha256.Sum256([]byte(addr))
	return hex.EncodeToString(sum[:])
}

// LockFor is how long the failures-th consecutive failure locks an email.
func LockFor(failures int) time.Duration {
	if failures < LockThreshold {
		return 0
	}
	n := failures - LockThreshold
	if n >= maxLockDoubles {
		return maxLock
	}
	return min(firstLock<<n, maxLock)
}

// tooManyAttempts answers a check of a locked email; retry is how long the
// lock still lasts.
func tooManyAttempts(retry time.Duration) error {
	e := problem.New(problem.RateLimited, "too_many_attempts",
		"Too many failed sign-in attempts; retry later.")
	e.RetryAfter = max(1, int((retry+time.Second-1)/time.Second))
	return e
}

// Email is one email's throttle, read by Check for a password check that
// then ends in Fail or Succeed.
type Email struct {
	coll *mongo.Collection
	key  string
	seen attempts
}

// Check reads the recent failures of the normalised address addr in the
// realm database db and refuses a locked email: kind RateLimited, code
// too_many_attempts, with Retry-After. Errors: Unavailable when the
// database is.
func Check(ctx context.Context, db *mongo.Database, addr string, now time.Time) (*Email, error) {
	e := &Email{coll: db.Collection(Collection), key: Key(addr)}
	seen, err := findAttempts(ctx, e.coll, e.key, now)
	if err != nil {
		return nil, err
	}
	if !seen.lockedUntil.IsZero() {
		return nil, tooManyAttempts(seen.lockedUntil.Sub(now))
	}
	e.seen = seen
	return e, nil
}

// Fail counts a failed password check, locking the email when the count
// calls for it. Errors: Unavailable when the database is.
func (e *Email) Fail(ctx context.Context, now time.Time) error {
	return recordFailure(ctx, e.coll, e.key, e.seen, now)
}

// Succeed forgets the email's failures after a right password; with none
// it does nothing (no round trip). Errors: Unavailable when the database is.
func (e *Email) Succeed(ctx context.Context) error {
	if e.seen.failures == 0 {
		return nil
	}
	return resetAttempts(ctx, e.coll, e.key)
}

// findAttempts reads the failures of the email with key that still count at
// now. Errors: Unavailable when the database is.
func findAttempts(ctx context.Context, coll *mongo.Collection, key string, now time.Time) (attempts, error) {
	var d Doc
	err := coll.FindOne(ctx, bson.M{"_id": key}).Decode(&d)
	switch err = mongodb.Map(err); {
	case problem.Is(err, problem.NotFound):
		return attempts{}, nil
	case err != nil:
		return attempts{}, fmt.Errorf("throttle.Check: %w", err)
	}
	if !d.UpdatedAt.After(now.Add(-failureWindow)) {
		return attempts{expired: true}, nil
	}
	a := attempts{failures: d.Failures}
	if d.LockedUntil.After(now) {
		a.lockedUntil = d.LockedUntil
	}
	return a, nil
}

// recordFailure counts a failed login of the email with key, whose attempts
// were read as seen, and locks it when the count calls for it. Errors:
// Unavailable when the database is.
func recordFailure(ctx context.Context, coll *mongo.Collection, key string, seen attempts, now time.Time) error {
	now = now.UTC()
	if seen.expired {
		// Start again from zero. Conditional, so that it never deletes the
		// failures a concurrent login has counted since.
		_, err := coll.DeleteOne(ctx, bson.M{"_id": key, "updatedAt": bson.M{"$lte": now.Add(-failureWindow)}})
		if err != nil {
			return fmt.Errorf("throttle.Fail: %w", mongodb.Map(err))
		}
	}
	update := bson.M{"$inc": bson.M{"failures": 1}, "$set": bson.M{"updatedAt": now}}
	opts := options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)
	var d Doc
	err := coll.FindOneAndUpdate(ctx, bson.M{"_id": key}, update, opts).Decode(&d)
	if mongodb.IsDuplicate(err) {
		// Two upserts inserted at once and this one lost; the document
		// exists now. (MongoDB retries such upserts itself; this is for
		// servers that do not.)
		err = coll.FindOneAndUpdate(ctx, bson.M{"_id": key}, update, opts).Decode(&d)
	}
	if err != nil {
		return fmt.Errorf("throttle.Fail: %w", mongodb.Map(err))
	}
	lock := LockFor(d.Failures)
	if lock == 0 {
		return nil
	}
	// Conditional on the count: when a concurrent failure has counted
	// another one since, its own update sets the longer lock.
	_, err = coll.UpdateOne(ctx, bson.M{"_id": key, "failures": d.Failures},
		bson.M{"$set": bson.M{"lockedUntil": now.Add(lock)}})
	if err != nil {
		return fmt.Errorf("throttle.Fail: %w", mongodb.Map(err))
	}
	return nil
}

// resetAttempts forgets the failures of the email with key after it signed
// in. Errors: Unavailable when the database is.
func resetAttempts(ctx context.Context, coll *mongo.Collection, key string) error {
	if _, err := coll.DeleteOne(ctx, bson.M{"_id": key}); err != nil {
		return fmt.Errorf("throttle.Succeed: %w", mongodb.Map(err))
	}
	return nil
}
