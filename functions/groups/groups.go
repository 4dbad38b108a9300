// Package groups serves a realm's groups: create, list, read, update,
// delete, the group's members, and the roles and policies attached to it.
// Group names are unique per realm. Deleting a group takes every account out
// of it first.
package groups

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/realmiam/realmiam/functions/accounts"
	"github.com/realmiam/realmiam/shared/access"
	"github.com/realmiam/realmiam/shared/attachment"
	"github.com/realmiam/realmiam/shared/mongodb"
	"github.com/realmiam/realmiam/shared/openapi"
	"github.com/realmiam/realmiam/shared/problem"
	"github.com/realmiam/realmiam/shared/serve"
	"github.com/realmiam/realmiam/shared/tenant"
)

// Server serves the groups function.
type Server struct {
	db     func(realmID string) *mongo.Database
	access *access.Cache
	now    func() time.Time
}

// New builds the groups function.
func New(d *serve.Deps) (*Server, error) {
	return &Server{db: d.RealmDB, access: d.Access, now: d.Now}, nil
}

// Operations maps operationIds to handlers.
func (s *Server) Operations() map[string]openapi.HandlerFunc {
	return map[string]openapi.HandlerFunc{
		"createGroup":      s.createGroup,
		"listGroups":       s.listGroups,
		"getGroup":         s.getGroup,
		"updateGroup":      s.updateGroup,
		"deleteGroup":      s.deleteGroup,
		"listGroupMembers": s.listGroupMembers,

		"listGroupRoles":    s.listGroupRoles,
		"attachGroupRole":   s.attachGroupRole,
		"detachGroupRole":   s.detachGroupRole,
		"listGroupPolicies": s.listGroupPolicies,
		"attachGroupPolicy": s.attachGroupPolicy,
		"detachGroupPolicy": s.detachGroupPolicy,
	}
}

// Group is the stored group, and (without its attachment lists) the Group
// schema.
type Group struct {
	ID          string    `bson:"_id" json:"id"`
	Name        string    `bson:"name" json:"name"`
	Description string    `bson:"description" json:"description"`
	Roles       []string  `bson:"roles" json:"-"`
	Policies    []string  `bson:"policies" json:"-"`
	CreatedAt   time.Time `bson:"createdAt" json:"createdAt"`
	UpdatedAt   time.Time `bson:"updatedAt" json:"updatedAt"`
}

func notFound() error { return attachment.NotFound("group") }

func duplicateName() error {
	return &problem.Error{Kind: problem.Conflict, Code: "duplicate_name",
		Detail: "A group with this name already exists in this realm.",
		Fields: []problem.FieldError{{Field: "name", Reason: "already in use"}}}
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	if err := openapi.Decode(r, &in); err != nil {
		return err
	}
	realm := tenant.From(r.Context())
	now := s.now().UTC().Truncate(time.Millisecond)
	g := &Group{ID: mongodb.NewID(), Name: in.Name, Description: in.Description,
		Roles: []string{}, Policies: []string{}, CreatedAt: now, UpdatedAt: now}
	if _, err := s.db(realm.ID).Collection("groups").InsertOne(r.Context(), g); err != nil {
		if mongodb.IsDuplicate(err) {
			return duplicateName()
		}
		return fmt.Errorf("groups.create: %w", mongodb.Map(err))
	}
	return openapi.Created(w, "/api/realm/"+realm.ID+"/groups/"+g.ID, g)
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	page, err := mongodb.ParsePage(q)
	if err != nil {
		return err
	}
	cond := bson.M{}
	if n := q.Get("name"); n != "" {
		cond["$eq"] = n
	}
	if p := q.Get("namePrefix"); p != "" {
		cond["$regex"] = "^" + regexp.QuoteMeta(p)
	}
	if page.After != "" {
		cond["$gt"] = page.After
	}
	filter := bson.M{}
	if len(cond) > 0 {
		filter["name"] = cond
	}
	realm := tenant.From(r.Context())
	items, next, err := s.listGroupsByName(r.Context(), realm.ID, filter, page.Limit)
	if err != nil {
		return err
	}
	out := struct {
		Items      []Group `json:"items"`
		NextCursor string  `json:"nextCursor,omitempty"`
	}{Items: items, NextCursor: next}
	return openapi.JSON(w, http.StatusOK, out)
}

// listGroupsByName returns one page in name order and the cursor of the
// next page ("" on the last).
func (s *Server) listGroupsByName(ctx context.Context, realmID string, filter bson.M, limit int) ([]Group, string, error) {
	opts := options.Find().SetSort(bson.D{{Key: "name", Value: 1}}).SetLimit(int64(limit + 1))
	cur, err := s.db(realmID).Collection("groups").Find(ctx, filter, opts)
	if err != nil {
		return nil, "", fmt.Errorf("groups.list: %w", mongodb.Map(err))
	}
	items := []Group{}
	if err := cur.All(ctx, &items); err != nil {
		return nil, "", fmt.Errorf("groups.list: %w", mongodb.Map(err))
	}
	next := ""
	if len(items) > limit {
		items = items[:limit]
		next = mongodb.EncodeCursor(items[limit-1].Name)
	}
	return items, next, nil
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) error {
	realm := tenant.From(r.Context())
	g, err := s.findGroup(r.Context(), realm.ID, r.PathValue("groupId"))
	if err != nil {
		return err
	}
	return openapi.JSON(w, http.StatusOK, g)
}

func (s *Server) findGroup(ctx context.Context, realmID, id string) (*Group, error) {
	var g Group
	err := s.db(realmID).Collection("groups").FindOne(ctx, bson.M{"_id": id}).Decode(&g)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, notFound()
	}
	if err != nil {
		return nil, fmt.Errorf("groups.find: %w", mongodb.Map(err))
	}
	return &g, nil
}

func (s *Server) updateGroup(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name        *string `json:"name"`
		Description *string `json:"description"`
	}
	if err := openapi.Decode(r, &in); err != nil {
		return err
	}
	ctx := r.Context()
	realm := tenant.From(ctx)
	set := bson.M{"updatedAt": s.now().UTC().Truncate(time.Millisecond)}
	if in.Name != nil {
		set["name"] = *in.Name
	}
	if in.Description != nil {
		set["description"] = *in.Description
	}
	var g Group
	err := s.db(realm.ID).Collection("groups").FindOneAndUpdate(ctx, bson.M{"_id": r.PathValue("groupId")},
		bson.M{"$set": set}, options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&g)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return notFound()
	case mongodb.IsDuplicate(err):
		return duplicateName()
	case err != nil:
		return fmt.Errorf("groups.update: %w", mongodb.Map(err))
	}
	// Decisions explain themselves with group names.
	s.access.Invalidate(realm.ID)
	return openapi.JSON(w, http.StatusOK, g)
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	realm := tenant.From(ctx)
	deleted, err := attachment.Delete(ctx, s.db(realm.ID), "groups", r.PathValue("groupId"))
	if err != nil {
		return err
	}
	if !deleted {
		return notFound()
	}
	s.access.Invalidate(realm.ID)
	return openapi.NoContent(w)
}

func (s *Server) listGroupMembers(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	page, err := mongodb.ParsePage(r.URL.Query())
	if err != nil {
		return err
	}
	realm := tenant.From(ctx)
	id := r.PathValue("groupId")
	if _, err := s.findGroup(ctx, realm.ID, id); err != nil {
		return err
	}
	filter := bson.M{"groups": id}
	if page.After != "" {
		filter["email"] = bson.M{"$gt": page.After}
	}
	items, next, err := accounts.ListByEmail(ctx, s.db(realm.ID), filter, page.Limit)
	if err != nil {
		return err
	}
	out := struct {
		Items      []accounts.View `json:"items"`
		NextCursor string          `json:"nextCursor,omitempty"`
	}{Items: items, NextCursor: next}
	return openapi.JSON(w, http.StatusOK, out)
}
