package policy

import (
	"math/bits"
	"slices"
	"strings"
)

// Built-in context keys. The caller fills them; the engine treats them like
// any other key. Key names ignore case, as in AWS.
const (
	KeySourceIP        = "iam:SourceIp"        // the caller's IP address
	KeyCurrentTime     = "iam:CurrentTime"     // RFC 3339, e.g. 2026-12-01T10:00:00Z
	KeyEpochTime       = "iam:EpochTime"       // Unix seconds
	KeyPrincipalID     = "iam:PrincipalId"     // the account id
	KeyPrincipalGroups = "iam:PrincipalGroups" // multi-valued: the account's group names
	KeyPrincipalRoles  = "iam:PrincipalRoles"  // multi-valued: the account's role names
	KeyRealm           = "iam:Realm"           // the realm (tenant) id; ${iam:realm}
	KeyUserID          = "iam:userid"          // the account id, for ${iam:userid}
	KeyUsername        = "iam:username"        // the account's email, for ${iam:username}
)

// Context holds a request's condition keys and their values. Key names
// ignore ASCII case. The zero value is empty and ready to use.
type Context struct {
	entries []entry
}

type entry struct {
	key    string // lower-cased
	name   string
	values []string
	multi  bool
}

// Set sets a single-valued key, replacing any value it had.
func (c *Context) Set(key, value string) {
	c.put(key, []string{value}, false)
}

// SetMulti sets a multi-valued key (such as iam:PrincipalGroups), replacing
// any values it had. A multi-valued key with no values behaves as a missing
// key in conditions, but is not reported in Result.MissingKeys. A
// multi-valued key is never the value of a policy variable, even with one
// value (AWS's rule).
func (c *Context) SetMulti(key string, values ...string) {
	c.put(key, slices.Clone(values), true)
}

func (c *Context) put(key string, values []string, multi bool) {
	e := entry{key: lowerASCII(key), name: key, values: values, multi: multi}
	for i := range c.entries {
		if c.entries[i].key == e.key {
			c.entries[i] = e
			return
		}
	}
	c.entries = append(c.entries, e)
}

// Get returns the values of key and whether it is set.
func (c *Context) Get(key string) ([]string, bool) {
	if e := c.lookup(lowerASCII(key)); e != nil {
		return e.values, true
	}
	return nil, false
}

// Reset removes every key, keeping the storage for reuse.
func (c *Context) Reset() {
	clear(c.entries)
	c.entries = c.entries[:0]
}

func (c *Context) lookup(key string) *entry {
	for i := range c.entries {
		if c.entries[i].key == key {
			return &c.entries[i]
		}
	}
	return nil
}

// variable is the value of a policy variable: the key's value if the key is
// single-valued and set.
func (c *Context) variable(key string) (string, bool) {
	e := c.lookup(key)
	if e == nil || e.multi || len(e.values) != 1 {
		return "", false
	}
	return e.values[0], true
}

// Request is what a decision is about: may the principal do Action on
// Resource, given Context.
type Request struct {
	Action   string // service:Operation
	Resource string // an IRN
	Context  Context
}

// ViaKind says how a principal holds a policy.
type ViaKind string

// The ways to hold a policy.
const (
	ViaDirect    ViaKind = "direct"    // attached to the account
	ViaRole      ViaKind = "role"      // attached to a role the account has
	ViaGroup     ViaKind = "group"     // attached to a group the account is in
	ViaGroupRole ViaKind = "groupRole" // attached to a role of a group the account is in
)

// Via is the path through which a principal holds a policy.
type Via struct {
	Kind      ViaKind `json:"kind"`
	GroupID   string  `json:"groupId,omitempty"`
	GroupName string  `json:"groupName,omitempty"`
	RoleID    string  `json:"roleId,omitempty"`
	RoleName  string  `json:"roleName,omitempty"`
}

// Attachment is a policy as a principal holds it. A policy held through two
// paths is two attachments.
type Attachment struct {
	Policy *Compiled
	Via    Via
}

// Decision is the outcome of an evaluation.
type Decision string

// The three outcomes: an explicit Deny beats an Allow, which beats the
// default (implicit) deny.
const (
	Allowed      Decision = "allowed"
	ExplicitDeny Decision = "explicitDeny"
	ImplicitDeny Decision = "implicitDeny"
)

// Match names a statement that decided a request.
type Match struct {
	PolicyID   string `json:"policyId"`
	PolicyName string `json:"policyName"`
	Sid        string `json:"sid,omitempty"`
	Statement  int    `json:"statement"` // index in the document's Statement list
	Effect     Effect `json:"effect"`
	Via        Via    `json:"via"`
}

// Result is the outcome of Set.Evaluate. A Result is meant to be reused:
// Evaluate overwrites it and reuses its storage, so Matched and MissingKeys
// are valid until the next Evaluate with the same Result; copy them to keep
// them. A Result must not be shared by concurrent evaluations.
type Result struct {
	Decision Decision `json:"decision"`
	Allowed  bool     `json:"allowed"`
	// Matched lists the statements that decided, in attachment then
	// statement order: every applicable Deny statement when the decision is
	// explicitDeny, every applicable Allow statement when it is allowed,
	// none for implicitDeny.
	Matched []Match `json:"matchedStatements"`
	// MissingKeys lists the context keys the request lacked (never set)
	// where supplying them could have mattered. For each statement whose
	// action matched: keys named by variables in its NotResource element;
	// keys named by variables in a Resource pattern that matches the
	// resource with those variables read as wildcards; and, where the
	// resource element matched, keys named by its conditions and by
	// variables in condition values. Each key appears once, spelled as the
	// first policy wrote it.
	MissingKeys []string `json:"missingContextKeys"`

	// Candidate statements, one bit per statement of the Set: those whose
	// action element matches, those whose resource element may, and those
	// whose resource element is known to match.
	byAction   []uint64
	byResource []uint64
	proven     []uint64
	deny       []int32
	allow      []int32
	lower      []byte // the lower-cased action
	key        []byte // the resource's key in the resource tree
	buf        []byte // resolved policy variables
}

// Set is the policies a principal holds, indexed for evaluation: a radix
// tree over the lower-cased action patterns and one over the literal
// prefixes of the resource patterns, so that a decision looks only at the
// statements that can match both; NotAction statements are checked apart. A
// Set is immutable and safe for concurrent use.
type Set struct {
	atts      []Attachment
	refs      []ref
	actions   prefixTree
	resources prefixTree
	// notActions indexes the NotAction patterns; notAction has a bit for
	// every NotAction statement.
	notActions prefixTree
	notAction  []uint64
	// anyResource has a bit for every statement the resource tree would
	// find for any resource ("*", NotResource); anyProven for those of them
	// it proves.
	anyResource, anyProven []uint64
}

type ref struct {
	att int32
	st  *stmt
}

// NewSet indexes the attachments for evaluation. Attachments without a
// policy are ignored.
func NewSet(atts ...Attachment) *Set {
	s := &Set{}
	for _, a := range atts {
		if a.Policy == nil {
			continue
		}
		ai := int32(len(s.atts))
		s.atts = append(s.atts, a)
		for i := range a.Policy.stmts {
			st := &a.Policy.stmts[i]
			g := int32(len(s.refs))
			s.refs = append(s.refs, ref{att: ai, st: st})
			if st.notAction {
				for _, pat := range st.actions {
					s.notActions.addAction(pat, g)
				}
			} else {
				for _, pat := range st.actions {
					s.actions.addAction(pat, g)
				}
			}
			if st.notResource {
				s.resources.add("", false, "*", "*", false, g)
				continue
			}
			for i := range st.resources {
				s.resources.addResource(&st.resources[i], g)
			}
		}
	}
	words := (len(s.refs) + 63) / 64
	s.notAction = make([]uint64, words)
	for g, r := range s.refs {
		if r.st.notAction {
			s.notAction[g>>6] |= 1 << (uint(g) & 63)
		}
	}
	s.anyResource, s.anyProven = s.resources.takeRoot(words)
	s.actions.seal(words)
	s.resources.seal(words)
	s.notActions.seal(words)
	return s
}

// Attachments returns the attachments of the set.
func (s *Set) Attachments() []Attachment { return s.atts }

// Evaluate decides req and writes the outcome to res. It allocates nothing
// once res has grown to fit (see Result).
func (s *Set) Evaluate(req *Request, res *Result) {
	n := 0
	if s != nil {
		n = len(s.refs)
	}
	res.reset(n)
	if n > 0 {
		res.lower = appendLowerASCII(res.lower[:0], req.Action)
		action := scratch(res.lower)
		s.actions.mark(action, "", res.byAction, nil)
		// NotAction statements apply to the actions their patterns miss.
		s.notActions.mark(action, "", res.byResource, nil)
		for w, notAction := range s.notAction {
			res.byAction[w] |= notAction &^ res.byResource[w]
		}
		copy(res.byResource, s.anyResource)
		copy(res.proven, s.anyProven)
		irn := splitIRN(req.Resource)
		if irn.ok {
			res.key = appendResourceKey(res.key[:0], irn.service, irn.rest)
			s.resources.mark(scratch(res.key), irn.tenant, res.byResource, res.proven)
		} else {
			s.resources.mark("", "", res.byResource, res.proven)
		}
		for w := range res.byAction {
			word := res.byAction[w] & res.byResource[w]
			for word != 0 {
				b := bits.TrailingZeros64(word)
				word &= word - 1
				s.consider(w*64+b, res.proven[w]&(1<<b) != 0, req, irn, res)
			}
		}
	}
	res.finish(s)
}

func (res *Result) reset(n int) {
	res.Decision, res.Allowed = ImplicitDeny, false
	clear(res.Matched) // drop references to the previous policies
	res.Matched = res.Matched[:0]
	res.MissingKeys = res.MissingKeys[:0]
	res.deny, res.allow = res.deny[:0], res.allow[:0]
	words := (n + 63) / 64
	if cap(res.byAction) < words {
		res.byAction = make([]uint64, words)
		res.byResource = make([]uint64, words)
		res.proven = make([]uint64, words)
	}
	res.byAction, res.byResource, res.proven = res.byAction[:words], res.byResource[:words], res.proven[:words]
	clear(res.byAction)
	clear(res.byResource) // Evaluate seeds it and proven
}

// consider evaluates the resource element (unless the index proved it) and
// the conditions of candidate statement g, and records it if it applies.
func (s *Set) consider(g int, proven bool, req *Request, irn irnParts, res *Result) {
	st := s.refs[g].st
	ctx := &req.Context
	if st.resVars {
		for i := range st.resources {
			if p := &st.resources[i]; p.vars != nil {
				p.noteMissing(st.notResource, req.Resource, irn, ctx, res)
			}
		}
	}
	if !proven && !st.resourceMatches(req.Resource, irn, ctx, res) {
		return
	}
	for _, k := range st.condKeys {
		if ctx.lookup(k.key) == nil {
			res.addMissing(k.name)
		}
	}
	for i := range st.conds {
		if !st.conds[i].eval(ctx, res) {
			return
		}
	}
	if st.effect == Deny {
		res.deny = append(res.deny, int32(g))
	} else {
		res.allow = append(res.allow, int32(g))
	}
}

func (res *Result) addMissing(name string) {
	for _, have := range res.MissingKeys {
		if equalFoldASCII(have, name) {
			return
		}
	}
	res.MissingKeys = append(res.MissingKeys, name)
}

func (res *Result) finish(s *Set) {
	list := res.allow
	switch {
	case len(res.deny) > 0:
		res.Decision, list = ExplicitDeny, res.deny
	case len(res.allow) > 0:
		res.Decision, res.Allowed = Allowed, true
	default:
		return
	}
	for _, g := range list {
		r := s.refs[g]
		a := &s.atts[r.att]
		res.Matched = append(res.Matched, Match{
			PolicyID:   a.Policy.ID,
			PolicyName: a.Policy.Name,
			Sid:        r.st.sid,
			Statement:  r.st.index,
			Effect:     r.st.effect,
			Via:        a.Via,
		})
	}
}

// irnParts is a request resource split as an IRN.
type irnParts struct {
	ok                    bool
	service, tenant, rest string
}

func splitIRN(r string) irnParts {
	rest, ok := strings.CutPrefix(r, irnPrefix)
	if !ok {
		return irnParts{}
	}
	service, rest, ok1 := strings.Cut(rest, ":")
	tenant, rest, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 {
		return irnParts{}
	}
	return irnParts{ok: true, service: service, tenant: tenant, rest: rest}
}

// resourceMatches evaluates the statement's Resource or NotResource element.
func (st *stmt) resourceMatches(resource string, irn irnParts, ctx *Context, res *Result) bool {
	if !st.notResource {
		for i := range st.resources {
			if m, _ := st.resources[i].matches(resource, irn, ctx, res); m {
				return true
			}
		}
		return false
	}
	for i := range st.resources {
		// A NotResource pattern that cannot be resolved leaves it unknown
		// whether the resource is excluded: the element does not match.
		if m, resolved := st.resources[i].matches(resource, irn, ctx, res); m || !resolved {
			return false
		}
	}
	return true
}

// matches reports whether the pattern matches the resource, and whether its
// variables resolved.
func (p *resPattern) matches(resource string, irn irnParts, ctx *Context, res *Result) (matched, resolved bool) {
	switch {
	case p.any:
		return true, true
	case p.exact:
		return resource == p.lit, true
	}
	if p.res.parts == nil {
		return irn.ok && p.service.match(irn.service) && p.tenant.match(irn.tenant) && p.res.g.match(irn.rest), true
	}
	var ok bool
	if res.buf, ok = p.res.resolve(res.buf[:0], ctx); !ok {
		return false, false
	}
	return irn.ok && p.service.match(irn.service) && p.tenant.match(irn.tenant) && match(scratch(res.buf), irn.rest), true
}

// noteMissing adds to res.MissingKeys the keys of the pattern's variables
// that the request lacks, if supplying them could matter: always for a
// NotResource pattern, and for a Resource pattern if it matches the
// resource with those variables read as wildcards.
func (p *resPattern) noteMissing(notResource bool, resource string, irn irnParts, ctx *Context, res *Result) {
	missing := false
	for _, k := range p.vars {
		if ctx.lookup(k.key) == nil {
			missing = true
		}
	}
	if !missing {
		return
	}
	if !notResource {
		var ok bool
		if res.buf, ok = p.res.resolveWith(res.buf[:0], ctx, true); !ok {
			return
		}
		if !irn.ok || !p.service.match(irn.service) || !p.tenant.match(irn.tenant) || !match(scratch(res.buf), irn.rest) {
			return
		}
	}
	for _, k := range p.vars {
		if ctx.lookup(k.key) == nil {
			res.addMissing(k.name)
		}
	}
}

// resolve appends the template's value to b, policy variables replaced by
// the context's values (escaped in glob form, so they stay literal). It
// reports false if a variable has neither a value nor a default.
func (t *tmpl) resolve(b []byte, ctx *Context) ([]byte, bool) {
	return t.resolveWith(b, ctx, false)
}

// resolveWith is resolve; if loose, a variable whose key the request lacks
// becomes a wildcard (glob form).
func (t *tmpl) resolveWith(b []byte, ctx *Context, loose bool) ([]byte, bool) {
	for i := range t.parts {
		p := &t.parts[i]
		if p.key == "" {
			b = append(b, p.text...)
			continue
		}
		if loose && ctx.lookup(p.key) == nil {
			b = append(b, '*')
			continue
		}
		v, ok := ctx.variable(p.key)
		if !ok {
			if !p.hasDef {
				return b, false
			}
			v = p.def
		}
		if t.glob {
			b = appendEscaped(b, v)
		} else {
			b = append(b, v...)
		}
	}
	return b, true
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
