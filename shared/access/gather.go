package access

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/realmiam/realmiam/shared/mongodb"
	"github.com/realmiam/realmiam/shared/policy"
	"github.com/realmiam/realmiam/shared/problem"
)

// Ref names a group, role or policy.
type Ref struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Held is one policy an account holds, once per path by which it holds it.
type Held struct {
	Policy Ref
	Via    policy.Via
}

// Account is what authorization needs of an account.
type Account struct {
	Realm           string
	ID              string
	Email           string
	Enabled         bool
	TokensRevokedAt time.Time
	Groups          []Ref // its groups
	Roles           []Ref // its roles, held directly or through a group
	Held            []Held
	// Set is Held compiled for evaluation.
	Set *policy.Set
}

type principalDoc struct {
	ID              string    `bson:"_id"`
	Name            string    `bson:"name"`
	Email           string    `bson:"email"`
	Enabled         bool      `bson:"enabled"`
	TokensRevokedAt time.Time `bson:"tokensRevokedAt"`
	Roles           []string  `bson:"roles"`
	Policies        []string  `bson:"policies"`
	Groups          []string  `bson:"groups"`
}

type policyDoc struct {
	ID       string `bson:"_id"`
	Name     string `bson:"name"`
	Document string `bson:"document"`
}

// load reads account id of db and everything it holds: at most four round
// trips (the account, its groups, the roles of both, the policies of all).
// Ids that no longer resolve (detached concurrently with a delete) are
// skipped. Errors: NotFound (code account_not_found), Unavailable.
func load(ctx context.Context, db *mongo.Database, realmID, id string) (*Account, error) {
	var acct principalDoc
	err := db.Collection("accounts").FindOne(ctx, bson.M{"_id": id}, options.FindOne().SetProjection(
		bson.M{"email": 1, "enabled": 1, "tokensRevokedAt": 1, "groups": 1, "roles": 1, "policies": 1})).Decode(&acct)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, problem.New(problem.NotFound, "account_not_found", "No account with this id in this realm.")
	}
	if err != nil {
		return nil, fmt.Errorf("access.load: %w", mongodb.Map(err))
	}
	a := &Account{Realm: realmID, ID: acct.ID, Email: acct.Email, Enabled: acct.Enabled, TokensRevokedAt: acct.TokensRevokedAt}

	groups, err := findByIDs(ctx, db.Collection("groups"), acct.Groups, bson.M{"name": 1, "roles": 1, "policies": 1})
	if err != nil {
		return nil, err
	}
	roleIDs := append([]string{}, acct.Roles...)
	for _, g := range groups {
		roleIDs = append(roleIDs, g.Roles...)
	}
	roles, err := findByIDs(ctx, db.Collection("roles"), roleIDs, bson.M{"name": 1, "policies": 1})
	if err != nil {
		return nil, err
	}
	policyIDs := append([]string{}, acct.Policies...)
	for _, g := range groups {
		policyIDs = append(policyIDs, g.Policies...)
	}
	for _, r := range roles {
		policyIDs = append(policyIDs, r.Policies...)
	}
	policies := map[string]policyDoc{}
	if ids := unique(policyIDs); len(ids) > 0 {
		cur, err := db.Collection("policies").Find(ctx, bson.M{"_id": bson.M{"$in": ids}},
			options.Find().SetProjection(bson.M{"name": 1, "document": 1}))
		if err != nil {
			return nil, fmt.Errorf("access.load: %w", mongodb.Map(err))
		}
		var docs []policyDoc
		if err := cur.All(ctx, &docs); err != nil {
			return nil, fmt.Errorf("access.load: %w", mongodb.Map(err))
		}
		for _, p := range docs {
			policies[p.ID] = p
		}
	}

	compiled := map[string]*policy.Compiled{}
	var atts []policy.Attachment
	var compileErr error
	hold := func(ids []string, via policy.Via) {
		for _, pid := range ids {
			p, ok := policies[pid]
			if !ok {
				continue
			}
			c, ok := compiled[pid]
			if !ok {
				var err error
				if c, err = compileStored(p); err != nil {
					compileErr = err
					continue
				}
				compiled[pid] = c
			}
			a.Held = append(a.Held, Held{Policy: Ref{ID: p.ID, Name: p.Name}, Via: via})
			atts = append(atts, policy.Attachment{Policy: c, Via: via})
		}
	}
	hold(acct.Policies, policy.Via{Kind: policy.ViaDirect})
	roleSeen := map[string]bool{}
	for _, rid := range acct.Roles {
		if r, ok := roles[rid]; ok {
			ref := Ref{ID: r.ID, Name: r.Name}
			hold(r.Policies, policy.Via{Kind: policy.ViaRole, RoleID: r.ID, RoleName: r.Name})
			if !roleSeen[r.ID] {
				roleSeen[r.ID] = true
				a.Roles = append(a.Roles, ref)
			}
		}
	}
	for _, gid := range acct.Groups {
		g, ok := groups[gid]
		if !ok {
			continue
		}
		gref := Ref{ID: g.ID, Name: g.Name}
		a.Groups = append(a.Groups, gref)
		hold(g.Policies, policy.Via{Kind: policy.ViaGroup, GroupID: g.ID, GroupName: g.Name})
		for _, rid := range g.Roles {
			if r, ok := roles[rid]; ok {
				rref := Ref{ID: r.ID, Name: r.Name}
				hold(r.Policies, policy.Via{Kind: policy.ViaGroupRole, GroupID: g.ID, GroupName: g.Name, RoleID: r.ID, RoleName: r.Name})
				if !roleSeen[r.ID] {
					roleSeen[r.ID] = true
					a.Roles = append(a.Roles, rref)
				}
			}
		}
	}
	if compileErr != nil {
		return nil, compileErr
	}
	a.Set = policy.NewSet(atts...)
	return a, nil
}

// compileStored compiles a stored policy. Documents are validated when
// written, so a failure here means the data was changed behind the API.
func compileStored(p policyDoc) (*policy.Compiled, error) {
	doc, err := policy.Parse([]byte(p.Document))
	if err == nil {
		var c *policy.Compiled
		if c, err = policy.Compile(p.ID, p.Name, doc); err == nil {
			return c, nil
		}
	}
	return nil, fmt.Errorf("access: stored policy %s does not compile: %v", p.ID, err)
}

// findByIDs reads the documents of coll with the given ids, by id.
func findByIDs(ctx context.Context, coll *mongo.Collection, ids []string, projection bson.M) (map[string]principalDoc, error) {
	out := map[string]principalDoc{}
	ids = unique(ids)
	if len(ids) == 0 {
		return out, nil
	}
	cur, err := coll.Find(ctx, bson.M{"_id": bson.M{"$in": ids}}, options.Find().SetProjection(projection))
	if err != nil {
		return nil, fmt.Errorf("access.findByIDs(%s): %w", coll.Name(), mongodb.Map(err))
	}
	var docs []principalDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("access.findByIDs(%s): %w", coll.Name(), mongodb.Map(err))
	}
	for _, d := range docs {
		out[d.ID] = d
	}
	return out, nil
}

func unique(ids []string) []string {
	seen := map[string]bool{}
	out := ids[:0:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// Request is a question about a: may it do action on resource at now. The
// built-in condition keys that describe the request (iam:CurrentTime,
// iam:EpochTime) and the principal (SetPrincipalKeys) are filled; the caller
// adds iam:SourceIp and its own keys.
func (a *Account) Request(action, resource string, now time.Time) *policy.Request {
	req := &policy.Request{Action: action, Resource: resource}
	req.Context.Set(policy.KeyCurrentTime, now.UTC().Format(time.RFC3339))
	req.Context.Set(policy.KeyEpochTime, strconv.FormatInt(now.Unix(), 10))
	a.SetPrincipalKeys(&req.Context)
	return req
}

// SetPrincipalKeys sets the keys that describe a as stored: iam:PrincipalId,
// iam:userid, iam:username, iam:Realm, iam:PrincipalGroups and
// iam:PrincipalRoles (group and role names). Callers of evaluate apply it
// after their own keys, so that nobody can speak for the account.
func (a *Account) SetPrincipalKeys(c *policy.Context) {
	c.Set(policy.KeyPrincipalID, a.ID)
	c.Set(policy.KeyUserID, a.ID)
	c.Set(policy.KeyUsername, a.Email)
	c.Set(policy.KeyRealm, a.Realm)
	c.SetMulti(policy.KeyPrincipalGroups, names(a.Groups)...)
	c.SetMulti(policy.KeyPrincipalRoles, names(a.Roles)...)
}

func names(refs []Ref) []string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = r.Name
	}
	return out
}
