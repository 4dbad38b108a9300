// Package realms serves /api/core/realms: creating a realm creates its
// database, indexes and first signing key; deleting it drops the database.
// It also bootstraps the system realm and its first administrator.
package realms

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/realmiam/realmiam/shared/mongodb"
	"github.com/realmiam/realmiam/shared/openapi"
	"github.com/realmiam/realmiam/shared/problem"
	"github.com/realmiam/realmiam/shared/serve"
	"github.com/realmiam/realmiam/shared/tenant"
	"github.com/realmiam/realmiam/shared/token"
)

// Server serves the realms function.
type Server struct {
	d             *serve.Deps
	realms        *mongo.Collection
	keys          *token.Keys
	cache         *tenant.Resolver
	now           func() time.Time
	schemaVersion string // see upgradeRealms
}

// New builds the realms function.
func New(d *serve.Deps) (*Server, error) {
	return &Server{d: d, realms: d.Core.Collection("realms"), keys: d.Keys, cache: d.Realms, now: d.Now,
		schemaVersion: schemaVersion()}, nil
}

// Operations maps operationIds to handlers.
func (s *Server) Operations() map[string]openapi.HandlerFunc {
	return map[string]openapi.HandlerFunc{
		"createRealm": s.createRealm,
		"listRealms":  s.listRealms,
		"getRealm":    s.getRealm,
		"updateRealm": s.updateRealm,
		"deleteRealm": s.deleteRealm,
	}
}

// settingsInput is a partial RealmSettings: nil fields keep their value.
type settingsInput struct {
	AccessTokenTTLSeconds  *int         `json:"accessTokenTtlSeconds"`
	RefreshTokenTTLSeconds *int         `json:"refreshTokenTtlSeconds"`
	PasswordPolicy         *policyInput `json:"passwordPolicy"`
}

type policyInput struct {
	MinLength        *int  `json:"minLength"`
	RequireUppercase *bool `json:"requireUppercase"`
	RequireLowercase *bool `json:"requireLowercase"`
	RequireDigit     *bool `json:"requireDigit"`
	RequireSymbol    *bool `json:"requireSymbol"`
}

// fields lists the settings to change as document paths under "settings.".
// The schema has checked each value's range.
func (in *settingsInput) fields() bson.M {
	set := bson.M{}
	if in == nil {
		return set
	}
	put := func(name string, v any, ok bool) {
		if ok {
			set["settings."+name] = v
		}
	}
	put("accessTokenTtlSeconds", deref(in.AccessTokenTTLSeconds), in.AccessTokenTTLSeconds != nil)
	put("refreshTokenTtlSeconds", deref(in.RefreshTokenTTLSeconds), in.RefreshTokenTTLSeconds != nil)
	if p := in.PasswordPolicy; p != nil {
		put("passwordPolicy.minLength", deref(p.MinLength), p.MinLength != nil)
		put("passwordPolicy.requireUppercase", deref(p.RequireUppercase), p.RequireUppercase != nil)
		put("passwordPolicy.requireLowercase", deref(p.RequireLowercase), p.RequireLowercase != nil)
		put("passwordPolicy.requireDigit", deref(p.RequireDigit), p.RequireDigit != nil)
		put("passwordPolicy.requireSymbol", deref(p.RequireSymbol), p.RequireSymbol != nil)
	}
	return set
}

// apply overrides s with the fields set in in.
func (in *settingsInput) apply(s *tenant.Settings) {
	if in == nil {
		return
	}
	assign(&s.AccessTokenTTLSeconds, in.AccessTokenTTLSeconds)
	assign(&s.RefreshTokenTTLSeconds, in.RefreshTokenTTLSeconds)
	if p := in.PasswordPolicy; p != nil {
		assign(&s.PasswordPolicy.MinLength, p.MinLength)
		assign(&s.PasswordPolicy.RequireUppercase, p.RequireUppercase)
		assign(&s.PasswordPolicy.RequireLowercase, p.RequireLowercase)
		assign(&s.PasswordPolicy.RequireDigit, p.RequireDigit)
		assign(&s.PasswordPolicy.RequireSymbol, p.RequireSymbol)
	}
}

func assign[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func (s *Server) createRealm(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		ID          string         `json:"id"`
		DisplayName string         `json:"displayName"`
		Settings    *settingsInput `json:"settings"`
	}
	if err := openapi.Decode(r, &in); err != nil {
		return err
	}
	settings := tenant.DefaultSettings()
	in.Settings.apply(&settings)
	realm, err := s.Create(r.Context(), in.ID, in.DisplayName, settings)
	if err != nil {
		return err
	}
	return openapi.Created(w, "/api/core/realms/"+realm.ID, realm)
}

// Create makes realm id (generated when empty) with settings and its managed
// policies. The realm document is written
// first, so a duplicate id touches nothing else; then the database is
// cleared of anything a crashed delete left behind, and gets its indexes and
// first signing key. Errors: Invalid (bad id), Conflict (code realm_exists).
func (s *Server) Create(ctx context.Context, id, displayName string, settings tenant.Settings) (*tenant.Realm, error) {
	if id == "" {
		id = mongodb.NewID()
	}
	if !tenant.ValidID(id) {
		return nil, problem.InvalidField("id", "3–36 lower-case letters, digits or '-', starting and ending with a letter or digit")
	}
	if displayName == "" {
		displayName = id
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	realm := &tenant.Realm{ID: id, DisplayName: displayName, CreatedAt: now, UpdatedAt: now, Settings: settings}
	if _, err := s.realms.InsertOne(ctx, realm); err != nil {
		if mongodb.IsDuplicate(err) {
			return nil, &problem.Error{Kind: problem.Conflict, Code: "realm_exists",
				Detail: "A realm with this id already exists.", Fields: []problem.FieldError{{Field: "id", Reason: "already in use"}}}
		}
		return nil, fmt.Errorf("realms.Create: %w", mongodb.Map(err))
	}
	db := s.d.RealmDB(id)
	if err := db.Drop(ctx); err != nil {
		return nil, s.undoCreate(ctx, id, err)
	}
	if err := mongodb.EnsureRealmIndexes(ctx, db); err != nil {
		return nil, s.undoCreate(ctx, id, err)
	}
	s.keys.Forget(id)
	if err := s.keys.Create(ctx, id); err != nil {
		return nil, s.undoCreate(ctx, id, err)
	}
	if _, err := s.ensureManaged(ctx, id); err != nil {
		return nil, s.undoCreate(ctx, id, err)
	}
	// Recorded last: a realm whose creation stopped half-way is completed
	// by the next start's upgrade.
	if _, err := s.realms.UpdateOne(ctx, bson.M{"_id": id}, bson.M{"$set": bson.M{"schemaVersion": s.schemaVersion}}); err != nil {
		return nil, s.undoCreate(ctx, id, fmt.Errorf("realms.Create: %w", mongodb.Map(err)))
	}
	s.cache.Forget(id)
	return realm, nil
}

// undoCreate removes a half-created realm's document so the id can be tried
// again, and returns the original failure.
func (s *Server) undoCreate(ctx context.Context, id string, cause error) error {
	_, _ = s.realms.DeleteOne(context.WithoutCancel(ctx), bson.M{"_id": id})
	return fmt.Errorf("realms.Create: %w", mongodb.Map(cause))
}

func (s *Server) find(ctx context.Context, id string) (*tenant.Realm, error) {
	var realm tenant.Realm
	err := s.realms.FindOne(ctx, bson.M{"_id": id}).Decode(&realm)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, tenant.ErrUnknown()
	}
	if err != nil {
		return nil, fmt.Errorf("realms.find: %w", mongodb.Map(err))
	}
	return &realm, nil
}

func (s *Server) listRealms(w http.ResponseWriter, r *http.Request) error {
	page, err := mongodb.ParsePage(r.URL.Query())
	if err != nil {
		return err
	}
	filter := bson.M{}
	if page.After != "" {
		filter["_id"] = bson.M{"$gt": page.After}
	}
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(page.Limit + 1))
	cur, err := s.realms.Find(r.Context(), filter, opts)
	if err != nil {
		return fmt.Errorf("realms.list: %w", mongodb.Map(err))
	}
	items := []tenant.Realm{}
	if err := cur.All(r.Context(), &items); err != nil {
		return fmt.Errorf("realms.list: %w", mongodb.Map(err))
	}
	out := struct {
		Items      []tenant.Realm `json:"items"`
		NextCursor string         `json:"nextCursor,omitempty"`
	}{Items: items}
	if len(items) > page.Limit {
		out.Items = items[:page.Limit]
		out.NextCursor = mongodb.EncodeCursor(out.Items[page.Limit-1].ID)
	}
	return openapi.JSON(w, http.StatusOK, out)
}

func (s *Server) getRealm(w http.ResponseWriter, r *http.Request) error {
	realm, err := s.find(r.Context(), r.PathValue("realmId"))
	if err != nil {
		return err
	}
	return openapi.JSON(w, http.StatusOK, realm)
}

func (s *Server) updateRealm(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		DisplayName *string        `json:"displayName"`
		Settings    *settingsInput `json:"settings"`
	}
	if err := openapi.Decode(r, &in); err != nil {
		return err
	}
	id := r.PathValue("realmId")
	set := in.Settings.fields()
	if in.DisplayName != nil {
		set["displayName"] = *in.DisplayName
	}
	set["updatedAt"] = s.now().UTC().Truncate(time.Millisecond)
	var realm tenant.Realm
	err := s.realms.FindOneAndUpdate(r.Context(), bson.M{"_id": id}, bson.M{"$set": set},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&realm)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return tenant.ErrUnknown()
	}
	if err != nil {
		return fmt.Errorf("realms.update: %w", mongodb.Map(err))
	}
	s.cache.Forget(id)
	return openapi.JSON(w, http.StatusOK, realm)
}

func (s *Server) deleteRealm(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.PathValue("realmId")
	if id == tenant.System {
		return problem.New(problem.Conflict, "system_realm_protected", "The system realm cannot be deleted.")
	}
	// The document goes first: from then on the realm is unknown (404) and
	// the id is free. If dropping the database fails, the leftover is
	// dropped when the id is created again.
	res, err := s.realms.DeleteOne(ctx, bson.M{"_id": id})
	if err != nil {
		return fmt.Errorf("realms.delete: %w", mongodb.Map(err))
	}
	if res.DeletedCount == 0 {
		return tenant.ErrUnknown()
	}
	s.cache.Forget(id)
	if err := s.d.RealmDB(id).Drop(ctx); err != nil {
		return fmt.Errorf("realms.delete: %w", mongodb.Map(err))
	}
	s.keys.Forget(id)
	return openapi.NoContent(w)
}
