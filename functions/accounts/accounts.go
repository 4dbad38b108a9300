// Package accounts serves a realm's accounts: create, list, read, update,
// delete, the administrator's password set, and the groups, roles and
// policies attached to an account. Accounts are identified by email, stored
// trimmed and lower-cased, unique per realm.
package accounts

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
	"github.com/realmiam/realmiam/shared/email"
	"github.com/realmiam/realmiam/shared/mongodb"
	"github.com/realmiam/realmiam/shared/openapi"
	"github.com/realmiam/realmiam/shared/password"
	"github.com/realmiam/realmiam/shared/problem"
	"github.com/realmiam/realmiam/shared/serve"
	"github.com/realmiam/realmiam/shared/tenant"
	"github.com/realmiam/realmiam/shared/throttle"
)

// MaxAttributes bounds an account's attributes.
const MaxAttributes = 50

// attributeName keeps attribute names safe as document field names: no '.',
// no leading '$'.
var attributeName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_:-]{0,63}$`)

// Server serves the accounts function.
type Server struct {
	db     func(realmID string) *mongo.Database
	hasher *password.Hasher
	access *access.Cache
	now    func() time.Time
}

// New builds the accounts function.
func New(d *serve.Deps) (*Server, error) {
	return &Server{db: d.RealmDB, hasher: d.Hasher, access: d.Access, now: d.Now}, nil
}

// Operations maps operationIds to handlers.
func (s *Server) Operations() map[string]openapi.HandlerFunc {
	return map[string]openapi.HandlerFunc{
		"createAccount":      s.createAccount,
		"listAccounts":       s.listAccounts,
		"getAccount":         s.getAccount,
		"updateAccount":      s.updateAccount,
		"deleteAccount":      s.deleteAccount,
		"setAccountPassword": s.setAccountPassword,

		"listAccountGroups":   s.listAccountGroups,
		"attachAccountGroup":  s.attachAccountGroup,
		"detachAccountGroup":  s.detachAccountGroup,
		"listAccountRoles":    s.listAccountRoles,
		"attachAccountRole":   s.attachAccountRole,
		"detachAccountRole":   s.detachAccountRole,
		"listAccountPolicies": s.listAccountPolicies,
		"attachAccountPolicy": s.attachAccountPolicy,
		"detachAccountPolicy": s.detachAccountPolicy,
	}
}

// Account is the stored account. PasswordHash never leaves this package's
// responses (see View). Groups, Roles and Policies hold the ids attached to
// the account (see package attachment); documents written before they
// existed lack them, which reads as empty.
type Account struct {
	ID           string            `bson:"_id"`
	Email        string            `bson:"email"`
	PasswordHash string            `bson:"passwordHash"`
	Enabled      bool              `bson:"enabled"`
	Attributes   map[string]string `bson:"attributes"`
	Groups       []string          `bson:"groups"`
	Roles        []string          `bson:"roles"`
	Policies     []string          `bson:"policies"`
	CreatedAt    time.Time         `bson:"createdAt"`
	UpdatedAt    time.Time         `bson:"updatedAt"`
}

// View is an account as the API shows it (the Account schema): never the
// password hash.
type View struct {
	ID         string            `json:"id"`
	Email      string            `json:"email"`
	Enabled    bool              `json:"enabled"`
	Attributes map[string]string `json:"attributes"`
	CreatedAt  time.Time         `json:"createdAt"`
	UpdatedAt  time.Time         `json:"updatedAt"`
}

func view(a *Account) View {
	attrs := a.Attributes
	if attrs == nil {
		attrs = map[string]string{}
	}
	return View{ID: a.ID, Email: a.Email, Enabled: a.Enabled, Attributes: attrs,
		CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
}

// NewAccount is the input of Create.
type NewAccount struct {
	Email      string
	Password   string
	Enabled    bool
	Attributes map[string]string
}

// Create stores a new account in db after checking its email, and its
// password against policy. Errors: Invalid (bad email, weak password, bad
// attribute name), Conflict (code duplicate_email).
func Create(ctx context.Context, db *mongo.Database, h *password.Hasher, policy password.Policy, now time.Time, in NewAccount) (*Account, error) {
	if !email.Valid(in.Email) {
		return nil, problem.InvalidField("email", "must be an email address")
	}
	if err := checkAttributeNames(in.Attributes); err != nil {
		return nil, err
	}
	if err := policy.Check("password", in.Password); err != nil {
		return nil, err
	}
	hash, err := h.Hash(in.Password)
	if err != nil {
		return nil, fmt.Errorf("accounts.Create: %w", err)
	}
	now = now.UTC().Truncate(time.Millisecond)
	a := &Account{
		ID:           mongodb.NewID(),
		Email:        email.Normalize(in.Email),
		PasswordHash: hash,
		Enabled:      in.Enabled,
		Attributes:   in.Attributes,
		Groups:       []string{},
		Roles:        []string{},
		Policies:     []string{},
		CreatedAt:    now,
		UpdatedAt:    now,
	}
	if a.Attributes == nil {
		a.Attributes = map[string]string{}
	}
	if _, err := db.Collection("accounts").InsertOne(ctx, a); err != nil {
		if mongodb.IsDuplicate(err) {
			return nil, &problem.Error{Kind: problem.Conflict, Code: "duplicate_email",
				Detail: "An account with this email already exists in this realm.",
				Fields: []problem.FieldError{{Field: "email", Reason: "already in use"}}}
		}
		return nil, fmt.Errorf("accounts.Create: %w", mongodb.Map(err))
	}
	return a, nil
}

func checkAttributeNames(attrs map[string]string) error {
	for name := range attrs {
		if !attributeName.MatchString(name) {
			return problem.InvalidField("attributes."+name,
				"attribute names start with a letter and hold up to 64 letters, digits, '_', ':' or '-'")
		}
	}
	return nil
}

func (s *Server) createAccount(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Email      string            `json:"email"`
		Password   string            `json:"password"`
		Enabled    *bool             `json:"enabled"`
		Attributes map[string]string `json:"attributes"`
	}
	if err := openapi.Decode(r, &in); err != nil {
		return err
	}
	realm := tenant.From(r.Context())
	enabled := in.Enabled == nil || *in.Enabled
	a, err := Create(r.Context(), s.db(realm.ID), s.hasher, realm.Settings.PasswordPolicy, s.now(),
		NewAccount{Email: in.Email, Password: in.Password, Enabled: enabled, Attributes: in.Attributes})
	if err != nil {
		return err
	}
	return openapi.Created(w, "/api/realm/"+realm.ID+"/accounts/"+a.ID, view(a))
}

func (s *Server) listAccounts(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	page, err := mongodb.ParsePage(q)
	if err != nil {
		return err
	}
	cond := bson.M{}
	if e := q.Get("email"); e != "" {
		cond["$eq"] = email.Normalize(e)
	}
	if p := q.Get("emailPrefix"); p != "" {
		cond["$regex"] = "^" + regexp.QuoteMeta(email.Normalize(p))
	}
	if page.After != "" {
		cond["$gt"] = page.After
	}
	filter := bson.M{}
	if len(cond) > 0 {
		filter["email"] = cond
	}
	realm := tenant.From(r.Context())
	items, next, err := ListByEmail(r.Context(), s.db(realm.ID), filter, page.Limit)
	if err != nil {
		return err
	}
	out := struct {
		Items      []View `json:"items"`
		NextCursor string `json:"nextCursor,omitempty"`
	}{Items: items, NextCursor: next}
	return openapi.JSON(w, http.StatusOK, out)
}

// ListByEmail returns one page of the accounts of db that match filter, in
// email order, and the cursor of the next page ("" on the last). Callers put
// the page's position into filter as email > after. Errors: Unavailable.
func ListByEmail(ctx context.Context, db *mongo.Database, filter bson.M, limit int) ([]View, string, error) {
	opts := options.Find().SetSort(bson.D{{Key: "email", Value: 1}}).SetLimit(int64(limit + 1)).
		SetProjection(bson.M{"passwordHash": 0})
	cur, err := db.Collection("accounts").Find(ctx, filter, opts)
	if err != nil {
		return nil, "", fmt.Errorf("accounts.list: %w", mongodb.Map(err))
	}
	var docs []Account
	if err := cur.All(ctx, &docs); err != nil {
		return nil, "", fmt.Errorf("accounts.list: %w", mongodb.Map(err))
	}
	next := ""
	if len(docs) > limit {
		docs = docs[:limit]
		next = mongodb.EncodeCursor(docs[limit-1].Email)
	}
	items := make([]View, len(docs))
	for i := range docs {
		items[i] = view(&docs[i])
	}
	return items, next, nil
}

func notFound() error {
	return problem.New(problem.NotFound, "account_not_found", "No account with this id in this realm.")
}

func (s *Server) getAccount(w http.ResponseWriter, r *http.Request) error {
	realm := tenant.From(r.Context())
	a, err := s.findAccount(r.Context(), realm.ID, r.PathValue("accountId"))
	if err != nil {
		return err
	}
	return openapi.JSON(w, http.StatusOK, view(a))
}

func (s *Server) findAccount(ctx context.Context, realmID, id string) (*Account, error) {
	var a Account
	err := s.db(realmID).Collection("accounts").FindOne(ctx, bson.M{"_id": id}).Decode(&a)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, notFound()
	}
	if err != nil {
		return nil, fmt.Errorf("accounts.find: %w", mongodb.Map(err))
	}
	return &a, nil
}

func (s *Server) updateAccount(w http.ResponseWriter, r *http.Request) error {
	var in accountUpdate
	if err := openapi.Decode(r, &in); err != nil {
		return err
	}
	ctx := r.Context()
	realm := tenant.From(ctx)
	id := r.PathValue("accountId")
	if in.Enabled != nil && !*in.Enabled {
		release, err := s.keepAnAdministrator(ctx, realm.ID, id)
		if err != nil {
			return err
		}
		defer release()
	}
	names := map[string]string{}
	for k := range in.Attributes {
		names[k] = ""
	}
	if err := checkAttributeNames(names); err != nil {
		return err
	}

	// An attribute change is checked against the stored attributes and
	// written only if the account is still as read (compare-and-set on
	// updatedAt), so concurrent updates cannot pass MaxAttributes together.
	for range 5 {
		a, err := s.applyUpdate(ctx, realm.ID, id, in)
		if errors.Is(err, errChanged) {
			continue
		}
		if err != nil {
			return err
		}
		s.access.Invalidate(realm.ID)
		if !a.Enabled {
			if err := s.revokeRefreshTokens(ctx, realm.ID, id); err != nil {
				return err
			}
		}
		return openapi.JSON(w, http.StatusOK, view(a))
	}
	return problem.New(problem.Conflict, "concurrent_update", "The account changed while it was being updated; retry.")
}

type accountUpdate struct {
	Enabled    *bool              `json:"enabled"`
	Attributes map[string]*string `json:"attributes"`
}

// errChanged reports a lost compare-and-set: the account changed since it
// was read.
var errChanged = errors.New("account changed")

// applyUpdate writes in to account id. With attribute changes it reads the
// account first and fails with errChanged when the account changed in
// between.
func (s *Server) applyUpdate(ctx context.Context, realmID, id string, in accountUpdate) (*Account, error) {
	now := s.now().UTC().Truncate(time.Millisecond)
	filter := bson.M{"_id": id}
	set := bson.M{"updatedAt": now}
	unset := bson.M{}
	if in.Enabled != nil {
		set["enabled"] = *in.Enabled
		if !*in.Enabled {
			set["tokensRevokedAt"] = now
		}
	}
	if len(in.Attributes) > 0 {
		cur, err := s.findAccount(ctx, realmID, id)
		if err != nil {
			return nil, err
		}
		count := len(cur.Attributes)
		for k, v := range in.Attributes {
			_, had := cur.Attributes[k]
			switch {
			case v == nil && had:
				unset["attributes."+k] = ""
				count--
			case v != nil:
				set["attributes."+k] = *v
				if !had {
					count++
				}
			}
		}
		if count > MaxAttributes {
			return nil, problem.InvalidField("attributes", fmt.Sprintf("an account holds at most %d attributes", MaxAttributes))
		}
		filter["updatedAt"] = cur.UpdatedAt
		if !now.After(cur.UpdatedAt) {
			set["updatedAt"] = cur.UpdatedAt.Add(time.Millisecond)
		}
	}
	update := bson.M{"$set": set}
	if len(unset) > 0 {
		update["$unset"] = unset
	}
	var a Account
	err := s.db(realmID).Collection("accounts").FindOneAndUpdate(ctx, filter, update,
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&a)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments) && len(in.Attributes) > 0:
		return nil, errChanged // or deleted: the next read says which
	case errors.Is(err, mongo.ErrNoDocuments):
		return nil, notFound()
	case err != nil:
		return nil, fmt.Errorf("accounts.update: %w", mongodb.Map(err))
	}
	return &a, nil
}

func (s *Server) deleteAccount(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	realm := tenant.From(ctx)
	id := r.PathValue("accountId")
	release, err := s.keepAnAdministrator(ctx, realm.ID, id)
	if err != nil {
		return err
	}
	defer release()
	db := s.db(realm.ID)
	// Sessions go first, so a crash between the two steps leaves an account
	// that must sign in again rather than tokens of a deleted account.
	if _, err := db.Collection("refresh_tokens").DeleteMany(ctx, bson.M{"accountId": id}); err != nil {
		return fmt.Errorf("accounts.delete: %w", mongodb.Map(err))
	}
	// The account's attachments live in its document and go with it; no
	// other document refers to an account.
	res, err := db.Collection("accounts").DeleteOne(ctx, bson.M{"_id": id})
	if err != nil {
		return fmt.Errorf("accounts.delete: %w", mongodb.Map(err))
	}
	if res.DeletedCount == 0 {
		return notFound()
	}
	s.access.Invalidate(realm.ID)
	return openapi.NoContent(w)
}

func (s *Server) setAccountPassword(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Password        string  `json:"password"`
		CurrentPassword *string `json:"currentPassword"`
	}
	if err := openapi.Decode(r, &in); err != nil {
		return err
	}
	ctx := r.Context()
	realm := tenant.From(ctx)
	id := r.PathValue("accountId")
	if err := realm.Settings.PasswordPolicy.Check("password", in.Password); err != nil {
		return err
	}
	filter := bson.M{"_id": id}
	// An account that changes its own password proves it knows the current
	// one, as with Cognito's ChangePassword: otherwise a stolen access token
	// would become the account for good. Wrong guesses count, with sign-in's,
	// towards locking the email (shared/throttle), or the token would buy
	// unlimited guessing. The write is conditional on the hash that was
	// checked.
	if p := access.PrincipalFrom(ctx); p != nil && p.Realm == realm.ID && p.AccountID == id {
		if in.CurrentPassword == nil {
			return problem.InvalidField("currentPassword", "is required when an account sets its own password")
		}
		cur, err := s.findAccount(ctx, realm.ID, id)
		if err != nil {
			return err
		}
		attempts, err := throttle.Check(ctx, s.db(realm.ID), cur.Email, s.now().UTC())
		if err != nil {
			return err
		}
		if !s.hasher.Verify(cur.PasswordHash, *in.CurrentPassword) {
			if err := attempts.Fail(ctx, s.now()); err != nil {
				return err
			}
			return problem.New(problem.Forbidden, "wrong_current_password", "The current password is not correct.")
		}
		if err := attempts.Succeed(ctx); err != nil {
			return err
		}
		filter["passwordHash"] = cur.PasswordHash
	}
	hash, err := s.hasher.Hash(in.Password)
	if err != nil {
		return fmt.Errorf("accounts.setPassword: %w", err)
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	res, err := s.db(realm.ID).Collection("accounts").UpdateOne(ctx, filter,
		bson.M{"$set": bson.M{"passwordHash": hash, "updatedAt": now, "tokensRevokedAt": now}})
	if err != nil {
		return fmt.Errorf("accounts.setPassword: %w", mongodb.Map(err))
	}
	if res.MatchedCount == 0 && filter["passwordHash"] != nil {
		return problem.New(problem.Conflict, "concurrent_update", "The password changed while it was being set; retry.")
	}
	if res.MatchedCount == 0 {
		return notFound()
	}
	s.access.Invalidate(realm.ID)
	if err := s.revokeRefreshTokens(ctx, realm.ID, id); err != nil {
		return err
	}
	return openapi.NoContent(w)
}

// revokeRefreshTokens signs the account out everywhere: its refresh tokens
// stop working. Callers have also stamped the account's tokensRevokedAt, which
// refuses sessions and access tokens that started earlier and that this
// update could not reach (issued concurrently with it).
func (s *Server) revokeRefreshTokens(ctx context.Context, realmID, accountID string) error {
	_, err := s.db(realmID).Collection("refresh_tokens").UpdateMany(ctx,
		bson.M{"accountId": accountID, "revoked": false}, bson.M{"$set": bson.M{"revoked": true}})
	if err != nil {
		return fmt.Errorf("accounts.revokeRefreshTokens: %w", mongodb.Map(err))
	}
	return nil
}
