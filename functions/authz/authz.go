// Package authz answers the questions services ask of Realm IAM: may this
// account do this action on this resource (evaluate, one or a batch), what
// would these policies decide (simulate), and which policies does an account
// hold and how (effective policies). A deny is an answer, not an error.
package authz

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/realmiam/realmiam/shared/access"
	"github.com/realmiam/realmiam/shared/openapi"
	"github.com/realmiam/realmiam/shared/policy"
	"github.com/realmiam/realmiam/shared/problem"
	"github.com/realmiam/realmiam/shared/serve"
	"github.com/realmiam/realmiam/shared/tenant"
)

// Server serves the authz function.
type Server struct {
	accounts *access.Cache
	now      func() time.Time
}

// New builds the authz function.
func New(d *serve.Deps) (*Server, error) {
	return &Server{accounts: d.Access, now: d.Now}, nil
}

// Operations maps operationIds to handlers.
func (s *Server) Operations() map[string]openapi.HandlerFunc {
	return map[string]openapi.HandlerFunc{
		"evaluate":             s.evaluate,
		"evaluateBatch":        s.evaluateBatch,
		"simulate":             s.simulate,
		"getEffectivePolicies": s.getEffectivePolicies,
	}
}

// question is one request to decide.
type question struct {
	Action   string                     `json:"action"`
	Resource string                     `json:"resource"`
	Context  map[string]json.RawMessage `json:"context"`
}

func (s *Server) evaluate(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		AccountID string `json:"accountId"`
		question
	}
	if err := openapi.Decode(r, &in); err != nil {
		return err
	}
	a, err := s.accounts.Account(r.Context(), tenant.From(r.Context()).ID, in.AccountID)
	if err != nil {
		return err
	}
	d, err := s.decide(a, in.question, "")
	if err != nil {
		return err
	}
	return openapi.JSON(w, http.StatusOK, d)
}

func (s *Server) evaluateBatch(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		AccountID string     `json:"accountId"`
		Requests  []question `json:"requests"`
	}
	if err := openapi.Decode(r, &in); err != nil {
		return err
	}
	a, err := s.accounts.Account(r.Context(), tenant.From(r.Context()).ID, in.AccountID)
	if err != nil {
		return err
	}
	out := struct {
		Results []decision `json:"results"`
	}{Results: make([]decision, len(in.Requests))}
	for i, q := range in.Requests {
		if out.Results[i], err = s.decide(a, q, fmt.Sprintf("requests[%d].", i)); err != nil {
			return err
		}
	}
	return openapi.JSON(w, http.StatusOK, out)
}

// decide evaluates q for a. field prefixes the names of invalid fields.
func (s *Server) decide(a *access.Account, q question, field string) (decision, error) {
	req := a.Request(q.Action, q.Resource, s.now())
	if err := setContext(&req.Context, q.Context, field+"context"); err != nil {
		return decision{}, err
	}
	a.SetPrincipalKeys(&req.Context)
	var res policy.Result
	a.Set.Evaluate(req, &res)
	return decisionOf(&res), nil
}

func (s *Server) simulate(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Policies []json.RawMessage `json:"policies"`
		question
		Principal *struct {
			AccountID string   `json:"accountId"`
			Username  string   `json:"username"`
			Groups    []string `json:"groups"`
			Roles     []string `json:"roles"`
		} `json:"principal"`
	}
	if err := openapi.Decode(r, &in); err != nil {
		return err
	}
	atts := make([]policy.Attachment, len(in.Policies))
	for i, raw := range in.Policies {
		field := fmt.Sprintf("policies[%d]", i)
		doc, err := policy.Parse(raw)
		if err == nil {
			atts[i].Policy, err = policy.Compile(strconv.Itoa(i), "simulated-"+strconv.Itoa(i), doc)
		}
		if err != nil {
			return prefixFields(err, field)
		}
		atts[i].Via = policy.Via{Kind: policy.ViaDirect}
	}
	realm := tenant.From(r.Context()).ID
	req := &policy.Request{Action: in.Action, Resource: in.Resource}
	c := &req.Context
	now := s.now()
	c.Set(policy.KeyCurrentTime, now.UTC().Format(time.RFC3339))
	c.Set(policy.KeyEpochTime, strconv.FormatInt(now.Unix(), 10))
	c.Set(policy.KeyRealm, realm)
	if p := in.Principal; p != nil {
		if p.AccountID != "" {
			c.Set(policy.KeyPrincipalID, p.AccountID)
			c.Set(policy.KeyUserID, p.AccountID)
		}
		if p.Username != "" {
			c.Set(policy.KeyUsername, p.Username)
		}
		c.SetMulti(policy.KeyPrincipalGroups, p.Groups...)
		c.SetMulti(policy.KeyPrincipalRoles, p.Roles...)
	}
	if err := setContext(c, in.Context, "context"); err != nil {
		return err
	}
	var res policy.Result
	policy.NewSet(atts...).Evaluate(req, &res)
	return openapi.JSON(w, http.StatusOK, decisionOf(&res))
}

func (s *Server) getEffectivePolicies(w http.ResponseWriter, r *http.Request) error {
	a, err := s.accounts.Account(r.Context(), tenant.From(r.Context()).ID, r.PathValue("accountId"))
	if err != nil {
		return err
	}
	type item struct {
		Policy access.Ref `json:"policy"`
		Via    via        `json:"via"`
	}
	out := struct {
		Items []item `json:"items"`
	}{Items: make([]item, len(a.Held))}
	for i, h := range a.Held {
		out.Items[i] = item{Policy: h.Policy, Via: viaOf(h.Via)}
	}
	return openapi.JSON(w, http.StatusOK, out)
}

// setContext adds the caller's condition keys: strings, numbers and booleans
// as single values, lists of strings as multi-valued keys.
func setContext(c *policy.Context, keys map[string]json.RawMessage, field string) error {
	for k, raw := range keys {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return problem.InvalidField(field+"."+k, "must be a string, number, boolean or list of strings")
		}
		switch v := v.(type) {
		case string:
			c.Set(k, v)
		case float64:
			c.Set(k, string(raw))
		case bool:
			c.Set(k, strconv.FormatBool(v))
		case []any:
			vals := make([]string, len(v))
			for i, e := range v {
				s, ok := e.(string)
				if !ok {
					return problem.InvalidField(field+"."+k, "lists hold strings only")
				}
				vals[i] = s
			}
			c.SetMulti(k, vals...)
		default:
			return problem.InvalidField(field+"."+k, "must be a string, number, boolean or list of strings")
		}
	}
	return nil
}

// prefixFields names err's fields under prefix (policies[2].Statement[0]...).
func prefixFields(err error, prefix string) error {
	pe, ok := err.(*problem.Error)
	if !ok {
		return err
	}
	out := *pe
	out.Fields = make([]problem.FieldError, len(pe.Fields))
	for i, f := range pe.Fields {
		out.Fields[i] = problem.FieldError{Field: prefix + "." + f.Field, Reason: f.Reason}
		if f.Field == "" {
			out.Fields[i].Field = prefix
		}
	}
	out.Detail = prefix + ": " + pe.Detail
	return &out
}

// decision is the API's rendering of a policy.Result.
type decision struct {
	Decision           policy.Decision `json:"decision"`
	Allowed            bool            `json:"allowed"`
	MatchedStatements  []match         `json:"matchedStatements"`
	MissingContextKeys []string        `json:"missingContextKeys"`
}

type match struct {
	Policy access.Ref    `json:"policy"`
	Sid    string        `json:"sid,omitempty"`
	Effect policy.Effect `json:"effect"`
	Via    via           `json:"via"`
}

type via struct {
	Kind  policy.ViaKind `json:"kind"`
	Group *access.Ref    `json:"group,omitempty"`
	Role  *access.Ref    `json:"role,omitempty"`
}

func viaOf(v policy.Via) via {
	out := via{Kind: v.Kind}
	if v.GroupID != "" {
		out.Group = &access.Ref{ID: v.GroupID, Name: v.GroupName}
	}
	if v.RoleID != "" {
		out.Role = &access.Ref{ID: v.RoleID, Name: v.RoleName}
	}
	return out
}

// decisionOf copies res, whose slices the engine reuses.
func decisionOf(res *policy.Result) decision {
	d := decision{
		Decision:           res.Decision,
		Allowed:            res.Allowed,
		MatchedStatements:  make([]match, len(res.Matched)),
		MissingContextKeys: append([]string{}, res.MissingKeys...),
	}
	for i, m := range res.Matched {
		d.MatchedStatements[i] = match{Policy: access.Ref{ID: m.PolicyID, Name: m.PolicyName},
			Sid: m.Sid, Effect: m.Effect, Via: viaOf(m.Via)}
	}
	return d
}
