// Package attachment provides the relationships of a realm (DESIGN.md §4):
// which groups an account is in, which roles and policies are attached to an
// account, a group or a role. An owner document holds the ids of its targets
// in an array field (accounts.groups, groups.policies, ...); nothing else
// records the relationship, so an attachment is one single-document write.
//
// The accounts, groups and roles functions serve the sub-resources through
// it, and the groups, roles and policies functions delete through it, so
// that deleting an entity detaches it everywhere.
//
// Without transactions (DESIGN.md §5), attaching and deleting are ordered so
// that neither a crash nor a race leaves a reference that matters: Attach
// checks the target again after writing and takes the reference back when
// the target has gone; Delete detaches, deletes, then detaches again. A
// reference that survives anyway (a crash between Attach's write and its
// check) names a deleted id, which List and the access loader skip.
package attachment

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/realmiam/realmiam/shared/mongodb"
	"github.com/realmiam/realmiam/shared/problem"
)

// Quotas, in the spirit of IAM's (10 groups per user there; 10 managed
// policies per identity, raisable to 20). Past one, Attach fails with a
// Conflict of code quota_exceeded.
const (
	// MaxGroups is the most groups an account is in.
	MaxGroups = 100
	// MaxRoles is the most roles attached to one account or group.
	MaxRoles = 20
	// MaxPolicies is the most policies attached to one account, group or role.
	MaxPolicies = 20
)

// Kind is one kind of attachment.
type Kind int

// The six kinds of attachment.
const (
	AccountGroups Kind = iota
	AccountRoles
	AccountPolicies
	GroupRoles
	GroupPolicies
	RolePolicies
)

// spec describes a kind: owner documents of collection owner hold the ids of
// target documents in their array field, at most max of them. Nouns name
// both in error codes; quota (with %d for max) explains the quota.
type spec struct {
	owner, ownerNoun   string
	field              string
	target, targetNoun string
	max                int
	quota              string
}

var specs = [...]spec{
	AccountGroups:   {"accounts", "account", "groups", "groups", "group", MaxGroups, "an account is in at most %d groups"},
	AccountRoles:    {"accounts", "account", "roles", "roles", "role", MaxRoles, "an account has at most %d roles attached"},
	AccountPolicies: {"accounts", "account", "policies", "policies", "policy", MaxPolicies, "an account has at most %d policies attached"},
	GroupRoles:      {"groups", "group", "roles", "roles", "role", MaxRoles, "a group has at most %d roles attached"},
	GroupPolicies:   {"groups", "group", "policies", "policies", "policy", MaxPolicies, "a group has at most %d policies attached"},
	RolePolicies:    {"roles", "role", "policies", "policies", "policy", MaxPolicies, "a role has at most %d policies attached"},
}

// Ref names an attached entity.
type Ref struct {
	ID   string `json:"id" bson:"_id"`
	Name string `json:"name" bson:"name"`
}

// NotFound is the error for an id that does not exist in the realm; noun
// ("account", "group", "role", "policy") makes the code: account_not_found,
// group_not_found, ...
func NotFound(noun string) *problem.Error {
	return problem.Newf(problem.NotFound, noun+"_not_found", "No %s with this id in this realm.", noun)
}

// Attach attaches target to owner in db. Attaching twice is harmless (and
// succeeds even at the quota). Errors: NotFound (either does not exist; the
// owner is named first), Conflict (code quota_exceeded, naming the owner's
// full list as the field), Unavailable.
//
// The quota is part of the write's filter: the update applies only when the
// target is already attached or the owner's list has room, so concurrent
// attaches cannot pass it together.
func (k Kind) Attach(ctx context.Context, db *mongo.Database, ownerID, targetID string) error {
	s := specs[k]
	if err := s.targetExists(ctx, db, targetID); err != nil {
		if problem.Is(err, problem.NotFound) {
			if oerr := s.ownerExists(ctx, db, ownerID); oerr != nil {
				return oerr
			}
		}
		return err
	}
	filter := bson.M{"_id": ownerID, "$or": bson.A{
		bson.M{s.field: targetID},
		bson.M{fmt.Sprintf("%s.%d", s.field, s.max-1): bson.M{"$exists": false}},
	}}
	res, err := db.Collection(s.owner).UpdateOne(ctx, filter, bson.M{"$addToSet": bson.M{s.field: targetID}})
	if err != nil {
		return fmt.Errorf("attachment.Attach(%s.%s): %w", s.owner, s.field, mongodb.Map(err))
	}
	if res.MatchedCount == 0 {
		if err := s.ownerExists(ctx, db, ownerID); err != nil {
			return err
		}
		quota := fmt.Sprintf(s.quota, s.max)
		return &problem.Error{Kind: problem.Conflict, Code: "quota_exceeded",
			Detail: "Quota exceeded: " + quota + ".",
			Fields: []problem.FieldError{{Field: s.field, Reason: quota}}}
	}
	if res.ModifiedCount == 0 {
		return nil // already attached
	}
	// A delete of the target that ran between the check above and the
	// write did not see this reference: take it back.
	if err := s.targetExists(ctx, db, targetID); problem.Is(err, problem.NotFound) {
		if _, perr := db.Collection(s.owner).UpdateOne(ctx, bson.M{"_id": ownerID},
			bson.M{"$pull": bson.M{s.field: targetID}}); perr != nil {
			return fmt.Errorf("attachment.Attach(%s.%s): %w", s.owner, s.field, mongodb.Map(perr))
		}
		return err
	} else if err != nil {
		return err
	}
	return nil
}

// Detach detaches target from owner; detaching what is not attached is
// harmless. Errors: NotFound (the owner does not exist), Unavailable.
func (k Kind) Detach(ctx context.Context, db *mongo.Database, ownerID, targetID string) error {
	s := specs[k]
	res, err := db.Collection(s.owner).UpdateOne(ctx, bson.M{"_id": ownerID},
		bson.M{"$pull": bson.M{s.field: targetID}})
	if err != nil {
		return fmt.Errorf("attachment.Detach(%s.%s): %w", s.owner, s.field, mongodb.Map(err))
	}
	if res.MatchedCount == 0 {
		return NotFound(s.ownerNoun)
	}
	return nil
}

// List is what is attached to owner, in name order. Ids whose target no
// longer exists are skipped. Errors: NotFound (the owner does not exist),
// Unavailable.
func (k Kind) List(ctx context.Context, db *mongo.Database, ownerID string) ([]Ref, error) {
	s := specs[k]
	var owner bson.M
	err := db.Collection(s.owner).FindOne(ctx, bson.M{"_id": ownerID},
		options.FindOne().SetProjection(bson.M{s.field: 1})).Decode(&owner)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, NotFound(s.ownerNoun)
	}
	if err != nil {
		return nil, fmt.Errorf("attachment.List(%s.%s): %w", s.owner, s.field, mongodb.Map(err))
	}
	var ids bson.A
	if a, ok := owner[s.field].(bson.A); ok {
		ids = a
	}
	refs := []Ref{}
	if len(ids) == 0 {
		return refs, nil
	}
	cur, err := db.Collection(s.target).Find(ctx, bson.M{"_id": bson.M{"$in": ids}},
		options.Find().SetProjection(bson.M{"name": 1}).SetSort(bson.D{{Key: "name", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("attachment.List(%s.%s): %w", s.owner, s.field, mongodb.Map(err))
	}
	if err := cur.All(ctx, &refs); err != nil {
		return nil, fmt.Errorf("attachment.List(%s.%s): %w", s.owner, s.field, mongodb.Map(err))
	}
	return refs, nil
}

// Delete deletes document id of collection target ("groups", "roles",
// "policies") and detaches it everywhere: first from every owner (so a
// crash leaves a document nobody holds, and the delete can be retried), then
// the document, then from every owner again, for attaches that ran
// concurrently. It reports whether a document was deleted. Errors:
// Unavailable.
func Delete(ctx context.Context, db *mongo.Database, target, id string) (bool, error) {
	if err := detachEverywhere(ctx, db, target, id); err != nil {
		return false, err
	}
	res, err := db.Collection(target).DeleteOne(ctx, bson.M{"_id": id})
	if err != nil {
		return false, fmt.Errorf("attachment.Delete(%s): %w", target, mongodb.Map(err))
	}
	if res.DeletedCount == 0 {
		return false, nil
	}
	return true, detachEverywhere(ctx, db, target, id)
}

// detachEverywhere pulls id from every owner list that holds ids of target.
func detachEverywhere(ctx context.Context, db *mongo.Database, target, id string) error {
	for _, s := range specs {
		if s.target != target {
			continue
		}
		if _, err := db.Collection(s.owner).UpdateMany(ctx, bson.M{s.field: id},
			bson.M{"$pull": bson.M{s.field: id}}); err != nil {
			return fmt.Errorf("attachment.Delete(%s): detach from %s.%s: %w", target, s.owner, s.field, mongodb.Map(err))
		}
	}
	return nil
}

func (s spec) targetExists(ctx context.Context, db *mongo.Database, id string) error {
	return exists(ctx, db.Collection(s.target), id, s.targetNoun)
}

func (s spec) ownerExists(ctx context.Context, db *mongo.Database, id string) error {
	return exists(ctx, db.Collection(s.owner), id, s.ownerNoun)
}

func exists(ctx context.Context, coll *mongo.Collection, id, noun string) error {
	err := coll.FindOne(ctx, bson.M{"_id": id}, options.FindOne().SetProjection(bson.M{"_id": 1})).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return NotFound(noun)
	}
	if err != nil {
		return fmt.Errorf("attachment.exists(%s): %w", coll.Name(), mongodb.Map(err))
	}
	return nil
}
