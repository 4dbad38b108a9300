// Package policies serves a realm's policies: create, list, read, update and
// delete documents in the IAM policy grammar (DESIGN.md §7). Policy names
// are unique per realm. Managed policies, created with the realm, can be
// attached but not changed or deleted. Deleting a policy detaches it from
// every account, group and role first.
package policies

import (
	"bytes"
	"context"
	"encoding/json"
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
	"github.com/realmiam/realmiam/shared/policy"
	"github.com/realmiam/realmiam/shared/problem"
	"github.com/realmiam/realmiam/shared/serve"
	"github.com/realmiam/realmiam/shared/tenant"
)

// Server serves the policies function.
type Server struct {
	db     func(realmID string) *mongo.Database
	access *access.Cache
	now    func() time.Time
}

// New builds the policies function.
func New(d *serve.Deps) (*Server, error) {
	return &Server{db: d.RealmDB, access: d.Access, now: d.Now}, nil
}

// Operations maps operationIds to handlers.
func (s *Server) Operations() map[string]openapi.HandlerFunc {
	return map[string]openapi.HandlerFunc{
		"createPolicy": s.createPolicy,
		"listPolicies": s.listPolicies,
		"getPolicy":    s.getPolicy,
		"updatePolicy": s.updatePolicy,
		"deletePolicy": s.deletePolicy,
	}
}

// Policy is the stored policy. The document is kept as JSON text: condition
// keys may hold '.', which the embedded store refuses in field names.
type Policy struct {
	ID          string    `bson:"_id"`
	Name        string    `bson:"name"`
	Description string    `bson:"description"`
	Document    string    `bson:"document"`
	Managed     bool      `bson:"managed"`
	CreatedAt   time.Time `bson:"createdAt"`
	UpdatedAt   time.Time `bson:"updatedAt"`
}

type policyView struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Document    json.RawMessage `json:"document"`
	Managed     bool            `json:"managed"`
	CreatedAt   time.Time       `json:"createdAt"`
	UpdatedAt   time.Time       `json:"updatedAt"`
}

func view(p *Policy) policyView {
	return policyView{ID: p.ID, Name: p.Name, Description: p.Description, Document: json.RawMessage(p.Document),
		Managed: p.Managed, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
}

func notFound() error { return attachment.NotFound("policy") }

func duplicateName() error {
	return &problem.Error{Kind: problem.Conflict, Code: "duplicate_name",
		Detail: "A policy with this name already exists in this realm.",
		Fields: []problem.FieldError{{Field: "name", Reason: "already in use"}}}
}

func managedPolicy() error {
	return problem.New(problem.Conflict, "managed_policy",
		"This policy is managed: it comes with the realm and cannot be changed or deleted.")
}

// validateDocument checks a policy document with the engine and returns the
// text to store: the document as given, without the whitespace between
// tokens (the managed policies are stored the same way). Errors: Invalid,
// code invalid_policy or policy_too_large, with the engine's field paths
// under "document" ("document.Statement[0].Action").
func validateDocument(raw json.RawMessage) (string, error) {
	if _, err := policy.Parse(raw); err != nil {
		return "", underDocument(err)
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		// Parse accepted it, so it is JSON; this is not the caller's fault.
		return "", fmt.Errorf("policies.validateDocument: %w", err)
	}
	return b.String(), nil
}

// underDocument moves the engine's field paths, relative to the document,
// under the request's document field.
func underDocument(err error) error {
	var e *problem.Error
	if !errors.As(err, &e) {
		return err
	}
	out := *e
	out.Fields = make([]problem.FieldError, len(e.Fields))
	for i, f := range e.Fields {
		if f.Field == "" {
			f.Field = "document"
		} else {
			f.Field = "document." + f.Field
		}
		out.Fields[i] = f
	}
	return &out
}

func (s *Server) createPolicy(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Document    json.RawMessage `json:"document"`
	}
	if err := openapi.Decode(r, &in); err != nil {
		return err
	}
	doc, err := validateDocument(in.Document)
	if err != nil {
		return err
	}
	realm := tenant.From(r.Context())
	now := s.now().UTC().Truncate(time.Millisecond)
	p := &Policy{ID: mongodb.NewID(), Name: in.Name, Description: in.Description, Document: doc,
		CreatedAt: now, UpdatedAt: now}
	if _, err := s.db(realm.ID).Collection("policies").InsertOne(r.Context(), p); err != nil {
		if mongodb.IsDuplicate(err) {
			return duplicateName()
		}
		return fmt.Errorf("policies.create: %w", mongodb.Map(err))
	}
	return openapi.Created(w, "/api/realm/"+realm.ID+"/policies/"+p.ID, view(p))
}

func (s *Server) listPolicies(w http.ResponseWriter, r *http.Request) error {
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
	items, next, err := s.listPoliciesByName(r.Context(), realm.ID, filter, page.Limit)
	if err != nil {
		return err
	}
	out := struct {
		Items      []policyView `json:"items"`
		NextCursor string       `json:"nextCursor,omitempty"`
	}{Items: items, NextCursor: next}
	return openapi.JSON(w, http.StatusOK, out)
}

// listPoliciesByName returns one page in name order and the cursor of the
// next page ("" on the last).
func (s *Server) listPoliciesByName(ctx context.Context, realmID string, filter bson.M, limit int) ([]policyView, string, error) {
	opts := options.Find().SetSort(bson.D{{Key: "name", Value: 1}}).SetLimit(int64(limit + 1))
	cur, err := s.db(realmID).Collection("policies").Find(ctx, filter, opts)
	if err != nil {
		return nil, "", fmt.Errorf("policies.list: %w", mongodb.Map(err))
	}
	var docs []Policy
	if err := cur.All(ctx, &docs); err != nil {
		return nil, "", fmt.Errorf("policies.list: %w", mongodb.Map(err))
	}
	next := ""
	if len(docs) > limit {
		docs = docs[:limit]
		next = mongodb.EncodeCursor(docs[limit-1].Name)
	}
	items := make([]policyView, len(docs))
	for i := range docs {
		items[i] = view(&docs[i])
	}
	return items, next, nil
}

func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request) error {
	realm := tenant.From(r.Context())
	p, err := s.findPolicy(r.Context(), realm.ID, r.PathValue("policyId"))
	if err != nil {
		return err
	}
	return openapi.JSON(w, http.StatusOK, view(p))
}

func (s *Server) findPolicy(ctx context.Context, realmID, id string) (*Policy, error) {
	var p Policy
	err := s.db(realmID).Collection("policies").FindOne(ctx, bson.M{"_id": id}).Decode(&p)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, notFound()
	}
	if err != nil {
		return nil, fmt.Errorf("policies.find: %w", mongodb.Map(err))
	}
	return &p, nil
}

func (s *Server) updatePolicy(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name        *string         `json:"name"`
		Description *string         `json:"description"`
		Document    json.RawMessage `json:"document"`
	}
	if err := openapi.Decode(r, &in); err != nil {
		return err
	}
	ctx := r.Context()
	realm := tenant.From(ctx)
	id := r.PathValue("policyId")
	set := bson.M{"updatedAt": s.now().UTC().Truncate(time.Millisecond)}
	if in.Name != nil {
		set["name"] = *in.Name
	}
	if in.Description != nil {
		set["description"] = *in.Description
	}
	if in.Document != nil {
		doc, err := validateDocument(in.Document)
		if err != nil {
			return err
		}
		set["document"] = doc
	}
	// Managed policies never change: the filter leaves them alone, and a
	// miss is told apart from an unknown id afterwards.
	var p Policy
	err := s.db(realm.ID).Collection("policies").FindOneAndUpdate(ctx,
		bson.M{"_id": id, "managed": bson.M{"$ne": true}}, bson.M{"$set": set},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&p)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		if _, err := s.findPolicy(ctx, realm.ID, id); err != nil {
			return err
		}
		return managedPolicy()
	case mongodb.IsDuplicate(err):
		return duplicateName()
	case err != nil:
		return fmt.Errorf("policies.update: %w", mongodb.Map(err))
	}
	s.access.Invalidate(realm.ID)
	return openapi.JSON(w, http.StatusOK, view(&p))
}

func (s *Server) deletePolicy(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	realm := tenant.From(ctx)
	id := r.PathValue("policyId")
	// Checked before anything is detached; a policy never becomes managed
	// later, so the check cannot go stale.
	p, err := s.findPolicy(ctx, realm.ID, id)
	if err != nil {
		return err
	}
	if p.Managed {
		return managedPolicy()
	}
	deleted, err := attachment.Delete(ctx, s.db(realm.ID), "policies", id)
	if err != nil {
		return err
	}
	if !deleted {
		return notFound()
	}
	s.access.Invalidate(realm.ID)
	return openapi.NoContent(w)
}
