// Package roles serves a realm's roles: create, list, read, update, delete,
// and the policies attached to a role. Roles attach to accounts and groups;
// role names are unique per realm. Deleting a role detaches it from every
// account and group first.
package roles

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

	"github.com/realmiam/realmiam/shared/access"
	"github.com/realmiam/realmiam/shared/attachment"
	"github.com/realmiam/realmiam/shared/mongodb"
	"github.com/realmiam/realmiam/shared/openapi"
	"github.com/realmiam/realmiam/shared/problem"
	"github.com/realmiam/realmiam/shared/serve"
	"github.com/realmiam/realmiam/shared/tenant"
)

// Server serves the roles function.
type Server struct {
	db     func(realmID string) *mongo.Database
	access *access.Cache
	now    func() time.Time
}

// New builds the roles function.
func New(d *serve.Deps) (*Server, error) {
	return &Server{db: d.RealmDB, access: d.Access, now: d.Now}, nil
}

// Operations maps operationIds to handlers.
func (s *Server) Operations() map[string]openapi.HandlerFunc {
	return map[string]openapi.HandlerFunc{
		"createRole": s.createRole,
		"listRoles":  s.listRoles,
		"getRole":    s.getRole,
		"updateRole": s.updateRole,
		"deleteRole": s.deleteRole,

		"listRolePolicies": s.listRolePolicies,
		"attachRolePolicy": s.attachRolePolicy,
		"detachRolePolicy": s.detachRolePolicy,
	}
}

// Role is the stored role, and (without its policies) the Role schema.
type Role struct {
	ID          string    `bson:"_id" json:"id"`
	Name        string    `bson:"name" json:"name"`
	Description string    `bson:"description" json:"description"`
	Policies    []string  `bson:"policies" json:"-"`
	CreatedAt   time.Time `bson:"createdAt" json:"createdAt"`
	UpdatedAt   time.Time `bson:"updatedAt" json:"updatedAt"`
}

func notFound() error { return attachment.NotFound("role") }

func duplicateName() error {
	return &problem.Error{Kind: problem.Conflict, Code: "duplicate_name",
		Detail: "A role with this name already exists in this realm.",
		Fields: []problem.FieldError{{Field: "name", Reason: "already in use"}}}
}

func (s *Server) createRole(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	if err := openapi.Decode(r, &in); err != nil {
		return err
	}
	realm := tenant.From(r.Context())
	now := s.now().UTC().Truncate(time.Millisecond)
	role := &Role{ID: mongodb.NewID(), Name: in.Name, Description: in.Description,
		Policies: []string{}, CreatedAt: now, UpdatedAt: now}
	if _, err := s.db(realm.ID).Collection("roles").InsertOne(r.Context(), role); err != nil {
		if mongodb.IsDuplicate(err) {
			return duplicateName()
		}
		return fmt.Errorf("roles.create: %w", mongodb.Map(err))
	}
	return openapi.Created(w, "/api/realm/"+realm.ID+"/roles/"+role.ID, role)
}

func (s *Server) listRoles(w http.ResponseWriter, r *http.Request) error {
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
	items, next, err := s.listRolesByName(r.Context(), realm.ID, filter, page.Limit)
	if err != nil {
		return err
	}
	out := struct {
		Items      []Role `json:"items"`
		NextCursor string `json:"nextCursor,omitempty"`
	}{Items: items, NextCursor: next}
	return openapi.JSON(w, http.StatusOK, out)
}

// listRolesByName returns one page in name order and the cursor of the next
// page ("" on the last).
func (s *Server) listRolesByName(ctx context.Context, realmID string, filter bson.M, limit int) ([]Role, string, error) {
	opts := options.Find().SetSort(bson.D{{Key: "name", Value: 1}}).SetLimit(int64(limit + 1))
	cur, err := s.db(realmID).Collection("roles").Find(ctx, filter, opts)
	if err != nil {
		return nil, "", fmt.Errorf("roles.list: %w", mongodb.Map(err))
	}
	items := []Role{}
	if err := cur.All(ctx, &items); err != nil {
		return nil, "", fmt.Errorf("roles.list: %w", mongodb.Map(err))
	}
	next := ""
	if len(items) > limit {
		items = items[:limit]
		next = mongodb.EncodeCursor(items[limit-1].Name)
	}
	return items, next, nil
}

func (s *Server) getRole(w http.ResponseWriter, r *http.Request) error {
	realm := tenant.From(r.Context())
	var role Role
	err := s.db(realm.ID).Collection("roles").FindOne(r.Context(), bson.M{"_id": r.PathValue("roleId")}).Decode(&role)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return notFound()
	}
	if err != nil {
		return fmt.Errorf("roles.find: %w", mongodb.Map(err))
	}
	return openapi.JSON(w, http.StatusOK, role)
}

func (s *Server) updateRole(w http.ResponseWriter, r *http.Request) error {
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
	var role Role
	err := s.db(realm.ID).Collection("roles").FindOneAndUpdate(ctx, bson.M{"_id": r.PathValue("roleId")},
		bson.M{"$set": set}, options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&role)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return notFound()
	case mongodb.IsDuplicate(err):
		return duplicateName()
	case err != nil:
		return fmt.Errorf("roles.update: %w", mongodb.Map(err))
	}
	// Decisions explain themselves with role names.
	s.access.Invalidate(realm.ID)
	return openapi.JSON(w, http.StatusOK, role)
}

func (s *Server) deleteRole(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	realm := tenant.From(ctx)
	deleted, err := attachment.Delete(ctx, s.db(realm.ID), "roles", r.PathValue("roleId"))
	if err != nil {
		return err
	}
	if !deleted {
		return notFound()
	}
	s.access.Invalidate(realm.ID)
	return openapi.NoContent(w)
}

// The policies attached to a role: PUT attaches (idempotent), DELETE
// detaches (idempotent), GET lists in name order. Quota: 20 policies.

func (s *Server) listRolePolicies(w http.ResponseWriter, r *http.Request) error {
	realm := tenant.From(r.Context())
	refs, err := attachment.RolePolicies.List(r.Context(), s.db(realm.ID), r.PathValue("roleId"))
	if err != nil {
		return err
	}
	return openapi.JSON(w, http.StatusOK, struct {
		Items []attachment.Ref `json:"items"`
	}{Items: refs})
}

func (s *Server) attachRolePolicy(w http.ResponseWriter, r *http.Request) error {
	realm := tenant.From(r.Context())
	err := attachment.RolePolicies.Attach(r.Context(), s.db(realm.ID), r.PathValue("roleId"), r.PathValue("policyId"))
	if err != nil {
		return err
	}
	s.access.Invalidate(realm.ID)
	return openapi.NoContent(w)
}

func (s *Server) detachRolePolicy(w http.ResponseWriter, r *http.Request) error {
	realm := tenant.From(r.Context())
	err := attachment.RolePolicies.Detach(r.Context(), s.db(realm.ID), r.PathValue("roleId"), r.PathValue("policyId"))
	if err != nil {
		return err
	}
	s.access.Invalidate(realm.ID)
	return openapi.NoContent(w)
}
