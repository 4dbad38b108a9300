package policy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// doc wraps statements into a document.
func doc(stmts ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`
}

// st is a statement; action and resource are JSON values (a quoted string or
// a list), cond a Condition block or "".
func st(sid, effect, action, resource, cond string) string {
	s := `{"Effect":"` + effect + `","Action":` + action + `,"Resource":` + resource
	if sid != "" {
		s += `,"Sid":"` + sid + `"`
	}
	if cond != "" {
		s += `,"Condition":` + cond
	}
	return s + "}"
}

// q quotes a JSON string.
func q(s string) string { return fmt.Sprintf("%q", s) }

// allowIf is one Allow statement "c" on svc:Do and every resource, under cond.
func allowIf(cond string) []string {
	return []string{doc(st("c", "Allow", `"svc:Do"`, `"*"`, cond))}
}

// allowOn is one Allow statement "a" for action on resource (plain strings).
func allowOn(action, resource string) []string {
	return []string{doc(st("a", "Allow", q(action), q(resource), ""))}
}

// holding is a policy held through a path.
type holding struct {
	name string
	doc  string
	via  Via
}

type engineCase struct {
	name     string
	policies []string  // held directly, named p0, p1, ...
	held     []holding // further policies, with their paths
	action   string    // default svc:Do
	resource string    // default irn:svc:acme:thing/1
	ctx      map[string]any
	want     Decision
	matched  []string // checked when not nil; see describe
	missing  []string // checked when not nil
}

var none = []string{}

// describe renders a match as policy/sid (or #index), plus the path when the
// policy is not held directly.
func describe(m Match) string {
	s := m.PolicyName + "/"
	if m.Sid != "" {
		s += m.Sid
	} else {
		s += fmt.Sprintf("#%d", m.Statement)
	}
	switch m.Via.Kind {
	case ViaRole:
		s += "@role:" + m.Via.RoleName
	case ViaGroup:
		s += "@group:" + m.Via.GroupName
	case ViaGroupRole:
		s += "@group:" + m.Via.GroupName + ">role:" + m.Via.RoleName
	}
	return s
}

func buildContext(t testing.TB, m map[string]any) Context {
	var c Context
	for k, v := range m {
		switch v := v.(type) {
		case string:
			c.Set(k, v)
		case []string:
			c.SetMulti(k, v...)
		default:
			t.Fatalf("context value %T", v)
		}
	}
	return c
}

func mustCompile(t testing.TB, id, name, raw string) *Compiled {
	t.Helper()
	d, err := Parse([]byte(raw))
	require.NoError(t, err, raw)
	c, err := Compile(id, name, d)
	require.NoError(t, err)
	return c
}

func (tc engineCase) set(t testing.TB) *Set {
	var atts []Attachment
	for i, raw := range tc.policies {
		name := fmt.Sprintf("p%d", i)
		atts = append(atts, Attachment{Policy: mustCompile(t, "id-"+name, name, raw), Via: Via{Kind: ViaDirect}})
	}
	for _, h := range tc.held {
		atts = append(atts, Attachment{Policy: mustCompile(t, "id-"+h.name, h.name, h.doc), Via: h.via})
	}
	return NewSet(atts...)
}

func (tc engineCase) request(t testing.TB) *Request {
	req := &Request{Action: tc.action, Resource: tc.resource, Context: buildContext(t, tc.ctx)}
	if req.Action == "" {
		req.Action = "svc:Do"
	}
	if req.Resource == "" {
		req.Resource = "irn:svc:acme:thing/1"
	}
	return req
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	for _, tc := range engineCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := tc.set(t)
			req := tc.request(t)
			var res Result
			s.Evaluate(req, &res)
			require.Equal(t, tc.want, res.Decision)
			require.Equal(t, tc.want == Allowed, res.Allowed)
			if tc.matched != nil {
				got := []string{}
				for _, m := range res.Matched {
					got = append(got, describe(m))
				}
				require.Equal(t, tc.matched, got)
			}
			if tc.want == ImplicitDeny {
				require.Empty(t, res.Matched)
			}
			if tc.missing != nil {
				require.ElementsMatch(t, tc.missing, res.MissingKeys)
			}
			// A reused Result gives the same answer.
			s.Evaluate(req, &res)
			require.Equal(t, tc.want, res.Decision)
		})
	}
}

func TestEngineCaseCount(t *testing.T) {
	require.GreaterOrEqual(t, len(engineCases()), 150)
}

const (
	allowed  = Allowed
	denied   = ExplicitDeny
	implicit = ImplicitDeny
)

func engineCases() []engineCase {
	var cases []engineCase
	add := func(c ...engineCase) { cases = append(cases, c...) }

	// Actions: case-insensitive, wildcards * and ? anywhere.
	add(
		engineCase{name: "action exact", policies: allowOn("svc:Do", "*"), want: allowed, matched: []string{"p0/a"}},
		engineCase{name: "action policy case differs", policies: allowOn("SVC:dO", "*"), want: allowed},
		engineCase{name: "action request case differs", policies: allowOn("svc:Do", "*"), action: "SVC:DO", want: allowed},
		engineCase{name: "action other operation", policies: allowOn("svc:Do", "*"), action: "svc:Undo", want: implicit},
		engineCase{name: "action other service", policies: allowOn("svc:Do", "*"), action: "other:Do", want: implicit},
		engineCase{name: "action prefix of request is not a match", policies: allowOn("svc:Do", "*"), action: "svc:DoMore", want: implicit},
		engineCase{name: "action star", policies: allowOn("*", "*"), action: "any:Thing", want: allowed},
		engineCase{name: "action star matches a name without colon", policies: allowOn("*", "*"), action: "odd", want: allowed},
		engineCase{name: "action service star", policies: allowOn("svc:*", "*"), action: "svc:Anything", want: allowed},
		engineCase{name: "action service star other service", policies: allowOn("svc:*", "*"), action: "svcx:Anything", want: implicit},
		engineCase{name: "action service star needs the colon", policies: allowOn("svc:*", "*"), action: "svc", want: implicit},
		engineCase{name: "action wildcard at end", policies: allowOn("svc:Get*", "*"), action: "svc:GetThing", want: allowed},
		engineCase{name: "action wildcard at end ignores case", policies: allowOn("svc:Get*", "*"), action: "SVC:getthing", want: allowed},
		engineCase{name: "action wildcard at end no match", policies: allowOn("svc:Get*", "*"), action: "svc:PutThing", want: implicit},
		engineCase{name: "action wildcard at start of operation", policies: allowOn("svc:*Thing", "*"), action: "svc:GetThing", want: allowed},
		engineCase{name: "action wildcard at start no match", policies: allowOn("svc:*Thing", "*"), action: "svc:GetThings", want: implicit},
		engineCase{name: "action wildcard in middle", policies: allowOn("svc:Get*Thing", "*"), action: "svc:GetBigThing", want: allowed},
		engineCase{name: "action wildcard in middle matches empty", policies: allowOn("svc:Get*Thing", "*"), action: "svc:GetThing", want: allowed},
		engineCase{name: "action wildcard in middle no match", policies: allowOn("svc:Get*Thing", "*"), action: "svc:GetThingX", want: implicit},
		engineCase{name: "action two wildcards", policies: allowOn("svc:*et*ing", "*"), action: "svc:GetThing", want: allowed},
		engineCase{name: "action question mark", policies: allowOn("svc:Get?hing", "*"), action: "svc:GetThing", want: allowed},
		engineCase{name: "action question mark is one character", policies: allowOn("svc:Get?hing", "*"), action: "svc:GetTThing", want: implicit},
		engineCase{name: "action question mark needs a character", policies: allowOn("svc:Do?", "*"), action: "svc:Do", want: implicit},
		engineCase{name: "action three question marks", policies: allowOn("svc:???", "*"), action: "svc:Put", want: allowed},
		engineCase{name: "action wildcard in service", policies: allowOn("s*:Do", "*"), want: allowed},
		engineCase{name: "action star service", policies: allowOn("*:Do", "*"), action: "other:do", want: allowed},
		engineCase{name: "action question mark in service", policies: allowOn("sv?:Do", "*"), want: allowed},
		engineCase{name: "action list second entry", policies: []string{doc(st("a", "Allow", `["x:Y","svc:Do"]`, `"*"`, ""))}, want: allowed},
		engineCase{name: "action listed exactly and by wildcard matches once", policies: []string{doc(st("a", "Allow", `["svc:Do","svc:D*","*"]`, `"*"`, ""))}, want: allowed, matched: []string{"p0/a"}},
	)

	// Resources: case-sensitive IRNs, wildcards, parts.
	add(
		engineCase{name: "resource exact", policies: allowOn("svc:Do", "irn:svc:acme:thing/1"), want: allowed},
		engineCase{name: "resource case-sensitive", policies: allowOn("svc:Do", "irn:svc:acme:Thing/1"), want: implicit},
		engineCase{name: "resource case-sensitive request", policies: allowOn("svc:Do", "irn:svc:acme:thing/1"), resource: "irn:svc:acme:THING/1", want: implicit},
		engineCase{name: "resource exact longer request", policies: allowOn("svc:Do", "irn:svc:acme:thing/1"), resource: "irn:svc:acme:thing/10", want: implicit},
		engineCase{name: "resource star", policies: allowOn("svc:Do", "*"), resource: "anything at all", want: allowed},
		engineCase{name: "resource wildcard at end", policies: allowOn("svc:Do", "irn:svc:acme:thing/*"), resource: "irn:svc:acme:thing/42", want: allowed},
		engineCase{name: "resource wildcard at end no match", policies: allowOn("svc:Do", "irn:svc:acme:thing/*"), resource: "irn:svc:acme:user/42", want: implicit},
		engineCase{name: "resource wildcard at start of resource part", policies: allowOn("svc:Do", "irn:svc:acme:*/1"), want: allowed},
		engineCase{name: "resource wildcard in middle", policies: allowOn("svc:Do", "irn:svc:acme:th*/1"), want: allowed},
		engineCase{name: "resource wildcard case-sensitive", policies: allowOn("svc:Do", "irn:svc:acme:Th*"), want: implicit},
		engineCase{name: "resource question mark", policies: allowOn("svc:Do", "irn:svc:acme:thing/?"), want: allowed},
		engineCase{name: "resource question mark is one character", policies: allowOn("svc:Do", "irn:svc:acme:thing/?"), resource: "irn:svc:acme:thing/12", want: implicit},
		engineCase{name: "resource question mark is one UTF-8 character", policies: allowOn("svc:Do", "irn:svc:acme:caf?"), resource: "irn:svc:acme:café", want: allowed},
		engineCase{name: "resource tenant wildcard", policies: allowOn("svc:Do", "irn:svc:*:thing/1"), want: allowed},
		engineCase{name: "resource tenant wildcard stays in its part", policies: allowOn("svc:Do", "irn:svc:*:thing/1"), resource: "irn:svc:acme:x:thing/1", want: implicit},
		engineCase{name: "resource other tenant", policies: allowOn("svc:Do", "irn:svc:acme:thing/1"), resource: "irn:svc:other:thing/1", want: implicit},
		engineCase{name: "resource service wildcard", policies: allowOn("svc:Do", "irn:*:acme:thing/1"), want: allowed},
		engineCase{name: "resource service question marks", policies: allowOn("svc:Do", "irn:???:acme:thing/1"), want: allowed},
		engineCase{name: "resource part may hold colons", policies: allowOn("svc:Do", "irn:svc:acme:*"), resource: "irn:svc:acme:a:b/c", want: allowed},
		engineCase{name: "resource every part wildcard", policies: allowOn("svc:Do", "irn:*:*:*"), resource: "irn:x:y:z", want: allowed},
		engineCase{name: "resource pattern against a non-IRN", policies: allowOn("svc:Do", "irn:*:*:*"), resource: "thing/1", want: implicit},
		engineCase{name: "resource list second entry", policies: []string{doc(st("a", "Allow", `"svc:Do"`, `["irn:svc:acme:user/*","irn:svc:acme:thing/*"]`, ""))}, want: allowed},
		engineCase{name: "resource backslash is literal", policies: allowOn("svc:Do", `irn:svc:acme:a\*`), resource: `irn:svc:acme:a\bc`, want: allowed},
	)

	// NotAction and NotResource, under Allow and under Deny.
	add(
		engineCase{name: "allow NotAction other action", policies: []string{doc(`{"Sid":"n","Effect":"Allow","NotAction":"svc:Delete*","Resource":"*"}`)}, want: allowed, matched: []string{"p0/n"}},
		engineCase{name: "allow NotAction listed action", policies: []string{doc(`{"Effect":"Allow","NotAction":"svc:Delete*","Resource":"*"}`)}, action: "svc:DeleteThing", want: implicit},
		engineCase{name: "allow NotAction ignores case", policies: []string{doc(`{"Effect":"Allow","NotAction":"SVC:DO","Resource":"*"}`)}, action: "svc:do", want: implicit},
		engineCase{name: "allow NotAction list", policies: []string{doc(`{"Effect":"Allow","NotAction":["x:*","svc:Do"],"Resource":"*"}`)}, want: implicit},
		engineCase{name: "allow NotAction other service", policies: []string{doc(`{"Effect":"Allow","NotAction":"svc:*","Resource":"*"}`)}, action: "other:Do", want: allowed},
		engineCase{name: "deny NotAction denies other actions", policies: []string{doc(
			st("all", "Allow", `"*"`, `"*"`, ""),
			`{"Sid":"only","Effect":"Deny","NotAction":"svc:Get*","Resource":"*"}`)}, want: denied, matched: []string{"p0/only"}},
		engineCase{name: "deny NotAction spares listed actions", policies: []string{doc(
			st("all", "Allow", `"*"`, `"*"`, ""),
			`{"Sid":"only","Effect":"Deny","NotAction":"svc:Get*","Resource":"*"}`)}, action: "svc:GetThing", want: allowed, matched: []string{"p0/all"}},
		engineCase{name: "allow NotResource other resource", policies: []string{doc(`{"Sid":"n","Effect":"Allow","Action":"svc:Do","NotResource":"irn:svc:acme:secret/*"}`)}, want: allowed},
		engineCase{name: "allow NotResource listed resource", policies: []string{doc(`{"Effect":"Allow","Action":"svc:Do","NotResource":"irn:svc:acme:secret/*"}`)}, resource: "irn:svc:acme:secret/1", want: implicit},
		engineCase{name: "allow NotResource list", policies: []string{doc(`{"Effect":"Allow","Action":"svc:Do","NotResource":["irn:svc:acme:secret/*","irn:svc:acme:thing/1"]}`)}, want: implicit},
		engineCase{name: "deny NotResource denies outside", policies: []string{doc(
			st("all", "Allow", `"*"`, `"*"`, ""),
			`{"Sid":"fence","Effect":"Deny","Action":"*","NotResource":"irn:svc:acme:*"}`)}, resource: "irn:svc:other:thing/1", want: denied, matched: []string{"p0/fence"}},
		engineCase{name: "deny NotResource spares inside", policies: []string{doc(
			st("all", "Allow", `"*"`, `"*"`, ""),
			`{"Sid":"fence","Effect":"Deny","Action":"*","NotResource":"irn:svc:acme:*"}`)}, want: allowed},
		engineCase{name: "NotAction and NotResource together", policies: []string{doc(`{"Effect":"Allow","NotAction":"svc:Delete*","NotResource":"irn:svc:acme:secret/*"}`)}, want: allowed},
		engineCase{name: "NotResource star excludes everything", policies: []string{doc(`{"Effect":"Allow","Action":"*","NotResource":"*"}`)}, want: implicit},
	)

	// Several statements, policies and paths.
	viaGroup := Via{Kind: ViaGroup, GroupID: "g1", GroupName: "ops"}
	viaRole := Via{Kind: ViaRole, RoleID: "r1", RoleName: "deployer"}
	viaGroupRole := Via{Kind: ViaGroupRole, GroupID: "g1", GroupName: "ops", RoleID: "r2", RoleName: "auditor"}
	add(
		engineCase{name: "no policies", want: implicit, matched: none},
		engineCase{name: "deny beats allow in one policy", policies: []string{doc(
			st("yes", "Allow", `"svc:*"`, `"*"`, ""),
			st("no", "Deny", `"svc:Do"`, `"*"`, ""))}, want: denied, matched: []string{"p0/no"}},
		engineCase{name: "deny beats allow across policies", policies: []string{
			doc(st("yes", "Allow", `"svc:*"`, `"*"`, "")),
			doc(st("no", "Deny", `"*"`, `"irn:svc:acme:thing/*"`, ""))}, want: denied, matched: []string{"p1/no"}},
		engineCase{name: "deny through a group beats a direct allow", policies: []string{doc(st("yes", "Allow", `"*"`, `"*"`, ""))},
			held: []holding{{name: "Guard", doc: doc(st("stop", "Deny", `"svc:Do"`, `"*"`, "")), via: viaGroup}},
			want: denied, matched: []string{"Guard/stop@group:ops"}},
		engineCase{name: "deny through group role beats allow through role", held: []holding{
			{name: "Deploy", doc: doc(st("go", "Allow", `"svc:*"`, `"*"`, "")), via: viaRole},
			{name: "Audit", doc: doc(st("ro", "Deny", `"svc:Do"`, `"*"`, "")), via: viaGroupRole}},
			want: denied, matched: []string{"Audit/ro@group:ops>role:auditor"}},
		engineCase{name: "allow through group role", held: []holding{{name: "Deploy", doc: doc(st("go", "Allow", `"svc:*"`, `"*"`, "")), via: viaGroupRole}},
			want: allowed, matched: []string{"Deploy/go@group:ops>role:auditor"}},
		engineCase{name: "policy held through two paths matches twice", held: []holding{
			{name: "Deploy", doc: doc(st("go", "Allow", `"svc:*"`, `"*"`, "")), via: viaRole},
			{name: "Deploy", doc: doc(st("go", "Allow", `"svc:*"`, `"*"`, "")), via: viaGroup}},
			want: allowed, matched: []string{"Deploy/go@role:deployer", "Deploy/go@group:ops"}},
		engineCase{name: "every allow is listed in order", policies: []string{
			doc(st("one", "Allow", `"svc:Do"`, `"*"`, ""), st("two", "Allow", `"svc:*"`, `"irn:svc:acme:*"`, ""), st("other", "Allow", `"x:*"`, `"*"`, "")),
			doc(st("three", "Allow", `"*"`, `"*"`, ""))}, want: allowed, matched: []string{"p0/one", "p0/two", "p1/three"}},
		engineCase{name: "every deny is listed, no allow", policies: []string{
			doc(st("a", "Allow", `"*"`, `"*"`, ""), st("d1", "Deny", `"svc:Do"`, `"*"`, "")),
			doc(st("d2", "Deny", `"svc:D?"`, `"*"`, ""))}, want: denied, matched: []string{"p0/d1", "p1/d2"}},
		engineCase{name: "statements without Sid are named by index", policies: []string{doc(
			st("", "Allow", `"x:Y"`, `"*"`, ""), st("", "Allow", `"svc:Do"`, `"*"`, ""))}, want: allowed, matched: []string{"p0/#1"}},
		engineCase{name: "deny on another action does not apply", policies: []string{doc(
			st("yes", "Allow", `"svc:Do"`, `"*"`, ""), st("no", "Deny", `"svc:Undo"`, `"*"`, ""))}, want: allowed, matched: []string{"p0/yes"}},
		engineCase{name: "deny on another resource does not apply", policies: []string{doc(
			st("yes", "Allow", `"svc:Do"`, `"*"`, ""), st("no", "Deny", `"svc:Do"`, `"irn:svc:acme:secret/*"`, ""))}, want: allowed},
		engineCase{name: "deny whose condition fails does not apply", policies: []string{doc(
			st("yes", "Allow", `"svc:Do"`, `"*"`, ""),
			st("no", "Deny", `"svc:Do"`, `"*"`, `{"Bool":{"app:locked":"true"}}`))}, ctx: map[string]any{"app:locked": "false"}, want: allowed, matched: []string{"p0/yes"}},
		engineCase{name: "allow whose resource fails leaves implicit deny", policies: allowOn("svc:Do", "irn:svc:acme:user/*"), want: implicit, matched: none},
	)

	// String operators.
	tier := func(op, values string) []string { return allowIf(`{"` + op + `":{"app:tier":` + values + `}}`) }
	add(
		engineCase{name: "StringEquals match", policies: tier("StringEquals", `"gold"`), ctx: map[string]any{"app:tier": "gold"}, want: allowed},
		engineCase{name: "StringEquals case-sensitive", policies: tier("StringEquals", `"gold"`), ctx: map[string]any{"app:tier": "Gold"}, want: implicit},
		engineCase{name: "StringEquals values are ORed", policies: tier("StringEquals", `["silver","gold"]`), ctx: map[string]any{"app:tier": "gold"}, want: allowed},
		engineCase{name: "StringEquals no value matches", policies: tier("StringEquals", `["silver","gold"]`), ctx: map[string]any{"app:tier": "bronze"}, want: implicit},
		engineCase{name: "StringEquals missing key", policies: tier("StringEquals", `"gold"`), want: implicit, missing: []string{"app:tier"}},
		engineCase{name: "StringEquals has no wildcards", policies: tier("StringEquals", `"g*"`), ctx: map[string]any{"app:tier": "gold"}, want: implicit},
		engineCase{name: "StringEquals star is literal", policies: tier("StringEquals", `"g*"`), ctx: map[string]any{"app:tier": "g*"}, want: allowed},
		engineCase{name: "StringEquals empty string", policies: tier("StringEquals", `""`), ctx: map[string]any{"app:tier": ""}, want: allowed},
		engineCase{name: "StringEquals key name ignores case", policies: allowIf(`{"StringEquals":{"APP:Tier":"gold"}}`), ctx: map[string]any{"app:tier": "gold"}, want: allowed},
		engineCase{name: "StringEquals request key name ignores case", policies: tier("StringEquals", `"gold"`), ctx: map[string]any{"App:TIER": "gold"}, want: allowed},
		engineCase{name: "StringEquals operator name ignores case", policies: tier("stringequals", `"gold"`), ctx: map[string]any{"app:tier": "gold"}, want: allowed},
		engineCase{name: "StringEquals number value", policies: allowIf(`{"StringEquals":{"app:n":42}}`), ctx: map[string]any{"app:n": "42"}, want: allowed},
		engineCase{name: "StringEquals multi-valued key any value", policies: tier("StringEquals", `"gold"`), ctx: map[string]any{"app:tier": []string{"bronze", "gold"}}, want: allowed},
		engineCase{name: "StringEquals multi-valued key no value", policies: tier("StringEquals", `"gold"`), ctx: map[string]any{"app:tier": []string{"bronze", "silver"}}, want: implicit},
		engineCase{name: "StringNotEquals other value", policies: tier("StringNotEquals", `"gold"`), ctx: map[string]any{"app:tier": "silver"}, want: allowed},
		engineCase{name: "StringNotEquals same value", policies: tier("StringNotEquals", `"gold"`), ctx: map[string]any{"app:tier": "gold"}, want: implicit},
		engineCase{name: "StringNotEquals values are NORed", policies: tier("StringNotEquals", `["silver","gold"]`), ctx: map[string]any{"app:tier": "silver"}, want: implicit},
		engineCase{name: "StringNotEquals missing key is true", policies: tier("StringNotEquals", `"gold"`), want: allowed, missing: []string{"app:tier"}},
		engineCase{name: "StringNotEquals multi-valued key one equal", policies: tier("StringNotEquals", `"gold"`), ctx: map[string]any{"app:tier": []string{"bronze", "gold"}}, want: implicit},
		engineCase{name: "StringNotEquals multi-valued key none equal", policies: tier("StringNotEquals", `"gold"`), ctx: map[string]any{"app:tier": []string{"bronze", "silver"}}, want: allowed},
		engineCase{name: "StringEqualsIgnoreCase", policies: tier("StringEqualsIgnoreCase", `"GOLD"`), ctx: map[string]any{"app:tier": "gold"}, want: allowed},
		engineCase{name: "StringEqualsIgnoreCase other value", policies: tier("StringEqualsIgnoreCase", `"GOLD"`), ctx: map[string]any{"app:tier": "golden"}, want: implicit},
		engineCase{name: "StringNotEqualsIgnoreCase same but case", policies: tier("StringNotEqualsIgnoreCase", `"GOLD"`), ctx: map[string]any{"app:tier": "Gold"}, want: implicit},
		engineCase{name: "StringNotEqualsIgnoreCase other", policies: tier("StringNotEqualsIgnoreCase", `"GOLD"`), ctx: map[string]any{"app:tier": "silver"}, want: allowed},
		engineCase{name: "StringLike star", policies: tier("StringLike", `"g*"`), ctx: map[string]any{"app:tier": "gold"}, want: allowed},
		engineCase{name: "StringLike question mark", policies: tier("StringLike", `"g??d"`), ctx: map[string]any{"app:tier": "gold"}, want: allowed},
		engineCase{name: "StringLike case-sensitive", policies: tier("StringLike", `"G*"`), ctx: map[string]any{"app:tier": "gold"}, want: implicit},
		engineCase{name: "StringLike whole value", policies: tier("StringLike", `"old"`), ctx: map[string]any{"app:tier": "gold"}, want: implicit},
		engineCase{name: "StringLike empty value matches empty only", policies: tier("StringLike", `""`), ctx: map[string]any{"app:tier": "x"}, want: implicit},
		engineCase{name: "StringNotLike matching value", policies: tier("StringNotLike", `["s*","g*"]`), ctx: map[string]any{"app:tier": "gold"}, want: implicit},
		engineCase{name: "StringNotLike other value", policies: tier("StringNotLike", `["s*","g*"]`), ctx: map[string]any{"app:tier": "bronze"}, want: allowed},
		engineCase{name: "StringNotLike missing key is true", policies: tier("StringNotLike", `"g*"`), want: allowed},
		engineCase{name: "keys of one operator are ANDed", policies: allowIf(`{"StringEquals":{"app:tier":"gold","app:zone":"eu"}}`), ctx: map[string]any{"app:tier": "gold", "app:zone": "us"}, want: implicit},
		engineCase{name: "keys of one operator all true", policies: allowIf(`{"StringEquals":{"app:tier":"gold","app:zone":"eu"}}`), ctx: map[string]any{"app:tier": "gold", "app:zone": "eu"}, want: allowed},
		engineCase{name: "operators are ANDed", policies: allowIf(`{"StringEquals":{"app:tier":"gold"},"StringLike":{"app:zone":"e*"}}`), ctx: map[string]any{"app:tier": "gold", "app:zone": "us"}, want: implicit},
		engineCase{name: "operators all true", policies: allowIf(`{"StringEquals":{"app:tier":"gold"},"StringLike":{"app:zone":"e*"}}`), ctx: map[string]any{"app:tier": "gold", "app:zone": "eu"}, want: allowed},
	)

	// Numeric operators.
	num := func(op, v string) []string { return allowIf(`{"` + op + `":{"app:n":` + v + `}}`) }
	add(
		engineCase{name: "NumericEquals", policies: num("NumericEquals", `"10"`), ctx: map[string]any{"app:n": "10"}, want: allowed},
		engineCase{name: "NumericEquals compares numbers", policies: num("NumericEquals", `"10"`), ctx: map[string]any{"app:n": "10.0"}, want: allowed},
		engineCase{name: "NumericEquals JSON number", policies: num("NumericEquals", `10`), ctx: map[string]any{"app:n": "10"}, want: allowed},
		engineCase{name: "NumericEquals other", policies: num("NumericEquals", `"10"`), ctx: map[string]any{"app:n": "11"}, want: implicit},
		engineCase{name: "NumericNotEquals other", policies: num("NumericNotEquals", `"10"`), ctx: map[string]any{"app:n": "11"}, want: allowed},
		engineCase{name: "NumericNotEquals same", policies: num("NumericNotEquals", `["9","10"]`), ctx: map[string]any{"app:n": "10"}, want: implicit},
		engineCase{name: "NumericNotEquals missing key is true", policies: num("NumericNotEquals", `"10"`), want: allowed},
		engineCase{name: "NumericLessThan", policies: num("NumericLessThan", `"10"`), ctx: map[string]any{"app:n": "9.5"}, want: allowed},
		engineCase{name: "NumericLessThan boundary", policies: num("NumericLessThan", `"10"`), ctx: map[string]any{"app:n": "10"}, want: implicit},
		engineCase{name: "NumericLessThanEquals boundary", policies: num("NumericLessThanEquals", `"10"`), ctx: map[string]any{"app:n": "10"}, want: allowed},
		engineCase{name: "NumericGreaterThan", policies: num("NumericGreaterThan", `"-1"`), ctx: map[string]any{"app:n": "0"}, want: allowed},
		engineCase{name: "NumericGreaterThan boundary", policies: num("NumericGreaterThan", `"0"`), ctx: map[string]any{"app:n": "0"}, want: implicit},
		engineCase{name: "NumericGreaterThanEquals boundary", policies: num("NumericGreaterThanEquals", `"0.5"`), ctx: map[string]any{"app:n": "0.5"}, want: allowed},
		engineCase{name: "Numeric request value not a number", policies: num("NumericGreaterThanEquals", `"0"`), ctx: map[string]any{"app:n": "many"}, want: implicit},
		engineCase{name: "NumericNotEquals request value not a number", policies: num("NumericNotEquals", `"0"`), ctx: map[string]any{"app:n": "many"}, want: allowed},
		engineCase{name: "Numeric missing key is false", policies: num("NumericLessThan", `"10"`), want: implicit, missing: []string{"app:n"}},
	)

	// Date operators.
	date := func(op, v string) []string { return allowIf(`{"` + op + `":{"iam:CurrentTime":` + v + `}}`) }
	now := map[string]any{KeyCurrentTime: "2026-12-01T10:00:00Z"}
	add(
		engineCase{name: "DateLessThan", policies: date("DateLessThan", `"2027-01-01T00:00:00Z"`), ctx: now, want: allowed},
		engineCase{name: "DateLessThan past", policies: date("DateLessThan", `"2026-01-01T00:00:00Z"`), ctx: now, want: implicit},
		engineCase{name: "DateLessThan boundary", policies: date("DateLessThan", `"2026-12-01T10:00:00Z"`), ctx: now, want: implicit},
		engineCase{name: "DateLessThanEquals boundary", policies: date("DateLessThanEquals", `"2026-12-01T10:00:00Z"`), ctx: now, want: allowed},
		engineCase{name: "DateGreaterThan", policies: date("DateGreaterThan", `"2026-12-01"`), ctx: now, want: allowed},
		engineCase{name: "DateGreaterThanEquals boundary with offset", policies: date("DateGreaterThanEquals", `"2026-12-01T11:00:00+01:00"`), ctx: now, want: allowed},
		engineCase{name: "DateEquals same instant", policies: date("DateEquals", `"2026-12-01T10:00:00.000Z"`), ctx: now, want: allowed},
		engineCase{name: "DateEquals epoch policy value", policies: date("DateEquals", `"1796119200"`), ctx: now, want: allowed},
		engineCase{name: "DateNotEquals", policies: date("DateNotEquals", `"2026-12-01T10:00:01Z"`), ctx: now, want: allowed},
		engineCase{name: "DateNotEquals same", policies: date("DateNotEquals", `"2026-12-01T10:00:00Z"`), ctx: now, want: implicit},
		engineCase{name: "Date epoch request value", policies: allowIf(`{"DateLessThan":{"iam:EpochTime":"2027-01-01T00:00:00Z"}}`), ctx: map[string]any{KeyEpochTime: "1796119200"}, want: allowed},
		engineCase{name: "Date minutes form", policies: date("DateGreaterThan", `"2026-12-01T09:59Z"`), ctx: now, want: allowed},
		engineCase{name: "Date request value not a date", policies: date("DateLessThan", `"2027-01-01"`), ctx: map[string]any{KeyCurrentTime: "tomorrow"}, want: implicit},
		engineCase{name: "Date missing key", policies: date("DateLessThan", `"2027-01-01"`), want: implicit, missing: []string{"iam:CurrentTime"}},
	)

	// Bool.
	flag := func(v string) []string { return allowIf(`{"Bool":{"app:mfa":` + v + `}}`) }
	add(
		engineCase{name: "Bool true", policies: flag(`"true"`), ctx: map[string]any{"app:mfa": "true"}, want: allowed},
		engineCase{name: "Bool false mismatch", policies: flag(`"true"`), ctx: map[string]any{"app:mfa": "false"}, want: implicit},
		engineCase{name: "Bool JSON boolean", policies: flag(`false`), ctx: map[string]any{"app:mfa": "false"}, want: allowed},
		engineCase{name: "Bool ignores case", policies: flag(`"True"`), ctx: map[string]any{"app:mfa": "TRUE"}, want: allowed},
		engineCase{name: "Bool request value not a boolean", policies: flag(`"true"`), ctx: map[string]any{"app:mfa": "yes"}, want: implicit},
		engineCase{name: "Bool missing key", policies: flag(`"false"`), want: implicit},
		engineCase{name: "Bool policy variable", policies: allowIf(`{"Bool":{"app:mfa":"${app:required}"}}`), ctx: map[string]any{"app:mfa": "true", "app:required": "true"}, want: allowed},
	)

	// IP addresses.
	ip := func(op, v string) []string { return allowIf(`{"` + op + `":{"iam:SourceIp":` + v + `}}`) }
	add(
		engineCase{name: "IpAddress in range", policies: ip("IpAddress", `"203.0.113.0/24"`), ctx: map[string]any{KeySourceIP: "203.0.113.9"}, want: allowed},
		engineCase{name: "IpAddress out of range", policies: ip("IpAddress", `"203.0.113.0/24"`), ctx: map[string]any{KeySourceIP: "203.0.114.9"}, want: implicit},
		engineCase{name: "IpAddress single address", policies: ip("IpAddress", `"203.0.113.9"`), ctx: map[string]any{KeySourceIP: "203.0.113.9"}, want: allowed},
		engineCase{name: "IpAddress single address other", policies: ip("IpAddress", `"203.0.113.9"`), ctx: map[string]any{KeySourceIP: "203.0.113.10"}, want: implicit},
		engineCase{name: "IpAddress IPv6 range", policies: ip("IpAddress", `["203.0.113.0/24","2001:db8:1234::/48"]`), ctx: map[string]any{KeySourceIP: "2001:DB8:1234:5::1"}, want: allowed},
		engineCase{name: "IpAddress IPv4-mapped request", policies: ip("IpAddress", `"10.0.0.0/8"`), ctx: map[string]any{KeySourceIP: "::ffff:10.1.2.3"}, want: allowed},
		engineCase{name: "IpAddress IPv4 range never holds IPv6", policies: ip("IpAddress", `"0.0.0.0/0"`), ctx: map[string]any{KeySourceIP: "2001:db8::1"}, want: implicit},
		engineCase{name: "IpAddress request value not an address", policies: ip("IpAddress", `"0.0.0.0/0"`), ctx: map[string]any{KeySourceIP: "localhost"}, want: implicit},
		engineCase{name: "IpAddress missing key", policies: ip("IpAddress", `"0.0.0.0/0"`), want: implicit, missing: []string{"iam:SourceIp"}},
		engineCase{name: "NotIpAddress outside", policies: ip("NotIpAddress", `"10.0.0.0/8"`), ctx: map[string]any{KeySourceIP: "192.0.2.1"}, want: allowed},
		engineCase{name: "NotIpAddress inside", policies: ip("NotIpAddress", `["192.0.2.0/24","10.0.0.0/8"]`), ctx: map[string]any{KeySourceIP: "10.9.9.9"}, want: implicit},
		engineCase{name: "NotIpAddress missing key is true", policies: ip("NotIpAddress", `"10.0.0.0/8"`), want: allowed},
		engineCase{name: "deny from outside the office", policies: []string{doc(
			st("all", "Allow", `"*"`, `"*"`, ""),
			st("office", "Deny", `"*"`, `"*"`, `{"NotIpAddress":{"iam:SourceIp":"198.51.100.0/24"}}`))}, ctx: map[string]any{KeySourceIP: "203.0.113.1"}, want: denied, matched: []string{"p0/office"}},
	)

	// Null.
	null := func(v string) []string { return allowIf(`{"Null":{"app:token":` + v + `}}`) }
	add(
		engineCase{name: "Null true on missing key", policies: null(`"true"`), want: allowed, missing: []string{"app:token"}},
		engineCase{name: "Null true on present key", policies: null(`"true"`), ctx: map[string]any{"app:token": "x"}, want: implicit},
		engineCase{name: "Null false on present key", policies: null(`"false"`), ctx: map[string]any{"app:token": ""}, want: allowed},
		engineCase{name: "Null false on missing key", policies: null(`"false"`), want: implicit},
		engineCase{name: "Null true on empty multi-valued key", policies: null(`"true"`), ctx: map[string]any{"app:token": []string{}}, want: allowed, missing: none},
		engineCase{name: "Null both values", policies: null(`["true","false"]`), ctx: map[string]any{"app:token": "x"}, want: allowed},
	)

	// IfExists.
	add(
		engineCase{name: "StringEqualsIfExists missing key", policies: allowIf(`{"StringEqualsIfExists":{"app:tier":"gold"}}`), want: allowed, missing: []string{"app:tier"}},
		engineCase{name: "StringEqualsIfExists present mismatch", policies: allowIf(`{"StringEqualsIfExists":{"app:tier":"gold"}}`), ctx: map[string]any{"app:tier": "tin"}, want: implicit},
		engineCase{name: "StringEqualsIfExists present match", policies: allowIf(`{"StringEqualsIfExists":{"app:tier":"gold"}}`), ctx: map[string]any{"app:tier": "gold"}, want: allowed},
		engineCase{name: "StringLikeIfExists empty multi-valued key", policies: allowIf(`{"StringLikeIfExists":{"app:tier":"g*"}}`), ctx: map[string]any{"app:tier": []string{}}, want: allowed},
		engineCase{name: "NumericLessThanIfExists missing", policies: allowIf(`{"NumericLessThanIfExists":{"app:n":"3"}}`), want: allowed},
		engineCase{name: "NumericLessThanIfExists present too big", policies: allowIf(`{"NumericLessThanIfExists":{"app:n":"3"}}`), ctx: map[string]any{"app:n": "4"}, want: implicit},
		engineCase{name: "BoolIfExists missing", policies: allowIf(`{"BoolIfExists":{"app:mfa":"true"}}`), want: allowed},
		engineCase{name: "IpAddressIfExists present outside", policies: allowIf(`{"IpAddressIfExists":{"iam:SourceIp":"10.0.0.0/8"}}`), ctx: map[string]any{KeySourceIP: "192.0.2.1"}, want: implicit},
		engineCase{name: "DateLessThanIfExists missing", policies: allowIf(`{"DateLessThanIfExists":{"app:expires":"2020-01-01"}}`), want: allowed},
		engineCase{name: "deny StringNotEqualsIfExists denies on missing key", policies: []string{doc(
			st("all", "Allow", `"*"`, `"*"`, ""),
			st("tag", "Deny", `"*"`, `"*"`, `{"StringNotEqualsIfExists":{"app:team":"blue"}}`))}, want: denied, matched: []string{"p0/tag"}},
		engineCase{name: "deny StringNotEqualsIfExists spares the team", policies: []string{doc(
			st("all", "Allow", `"*"`, `"*"`, ""),
			st("tag", "Deny", `"*"`, `"*"`, `{"StringNotEqualsIfExists":{"app:team":"blue"}}`))}, ctx: map[string]any{"app:team": "blue"}, want: allowed},
	)

	// ForAnyValue and ForAllValues.
	groups := func(op, v string) []string { return allowIf(`{"` + op + `":{"iam:PrincipalGroups":` + v + `}}`) }
	add(
		engineCase{name: "ForAnyValue one value in policy", policies: groups("ForAnyValue:StringEquals", `["ops","admins"]`), ctx: map[string]any{KeyPrincipalGroups: []string{"dev", "ops"}}, want: allowed},
		engineCase{name: "ForAnyValue no value in policy", policies: groups("ForAnyValue:StringEquals", `["ops","admins"]`), ctx: map[string]any{KeyPrincipalGroups: []string{"dev", "qa"}}, want: implicit},
		engineCase{name: "ForAnyValue missing key is false", policies: groups("ForAnyValue:StringEquals", `"ops"`), want: implicit, missing: []string{"iam:PrincipalGroups"}},
		engineCase{name: "ForAnyValue empty set is false", policies: groups("ForAnyValue:StringEquals", `"ops"`), ctx: map[string]any{KeyPrincipalGroups: []string{}}, want: implicit, missing: none},
		engineCase{name: "ForAnyValue IfExists missing is still false", policies: groups("ForAnyValue:StringEqualsIfExists", `"ops"`), want: implicit},
		engineCase{name: "ForAnyValue single-valued key", policies: allowIf(`{"ForAnyValue:StringEquals":{"app:tier":"gold"}}`), ctx: map[string]any{"app:tier": "gold"}, want: allowed},
		engineCase{name: "ForAnyValue StringLike", policies: groups("ForAnyValue:StringLike", `"op*"`), ctx: map[string]any{KeyPrincipalGroups: []string{"dev", "operators"}}, want: allowed},
		engineCase{name: "ForAnyValue StringNotEquals some value outside", policies: groups("ForAnyValue:StringNotEquals", `["ops","dev"]`), ctx: map[string]any{KeyPrincipalGroups: []string{"dev", "qa"}}, want: allowed},
		engineCase{name: "ForAnyValue StringNotEquals all inside", policies: groups("ForAnyValue:StringNotEquals", `["ops","dev"]`), ctx: map[string]any{KeyPrincipalGroups: []string{"dev", "ops"}}, want: implicit},
		engineCase{name: "ForAllValues subset", policies: groups("ForAllValues:StringEquals", `["ops","dev","qa"]`), ctx: map[string]any{KeyPrincipalGroups: []string{"dev", "ops"}}, want: allowed},
		engineCase{name: "ForAllValues not a subset", policies: groups("ForAllValues:StringEquals", `["ops","dev"]`), ctx: map[string]any{KeyPrincipalGroups: []string{"dev", "root"}}, want: implicit},
		engineCase{name: "ForAllValues missing key is true", policies: groups("ForAllValues:StringEquals", `"ops"`), want: allowed, missing: []string{"iam:PrincipalGroups"}},
		engineCase{name: "ForAllValues empty set is true", policies: groups("ForAllValues:StringEquals", `"ops"`), ctx: map[string]any{KeyPrincipalGroups: []string{}}, want: allowed, missing: none},
		engineCase{name: "ForAllValues StringNotEquals none in policy", policies: groups("ForAllValues:StringNotEquals", `["root","admins"]`), ctx: map[string]any{KeyPrincipalGroups: []string{"dev", "ops"}}, want: allowed},
		engineCase{name: "ForAllValues StringNotEquals one in policy", policies: groups("ForAllValues:StringNotEquals", `["root","admins"]`), ctx: map[string]any{KeyPrincipalGroups: []string{"dev", "root"}}, want: implicit},
		engineCase{name: "ForAllValues StringEqualsIgnoreCase", policies: groups("ForAllValues:StringEqualsIgnoreCase", `["OPS","DEV"]`), ctx: map[string]any{KeyPrincipalGroups: []string{"dev", "Ops"}}, want: allowed},
		engineCase{name: "ForAllValues qualifier ignores case", policies: groups("forallvalues:StringLike", `"*"`), ctx: map[string]any{KeyPrincipalGroups: []string{"x"}}, want: allowed},
		engineCase{name: "ForAllValues NumericLessThan", policies: allowIf(`{"ForAllValues:NumericLessThan":{"app:sizes":"100"}}`), ctx: map[string]any{"app:sizes": []string{"1", "99"}}, want: allowed},
		engineCase{name: "ForAnyValue IpAddress", policies: allowIf(`{"ForAnyValue:IpAddress":{"app:hops":"10.0.0.0/8"}}`), ctx: map[string]any{"app:hops": []string{"192.0.2.1", "10.0.0.1"}}, want: allowed},
		engineCase{name: "deny ForAnyValue on forbidden group", policies: []string{doc(
			st("all", "Allow", `"*"`, `"*"`, ""),
			st("quarantine", "Deny", `"*"`, `"*"`, `{"ForAnyValue:StringEquals":{"iam:PrincipalGroups":"quarantine"}}`))},
			ctx: map[string]any{KeyPrincipalGroups: []string{"dev", "quarantine"}}, want: denied, matched: []string{"p0/quarantine"}},
	)

	// Policy variables.
	home := []string{doc(st("self", "Allow", `"svc:*"`, `"irn:svc:acme:user/${iam:userid}/*"`, ""))}
	add(
		engineCase{name: "variable in resource present", policies: home, resource: "irn:svc:acme:user/u1/doc", ctx: map[string]any{KeyUserID: "u1"}, want: allowed},
		engineCase{name: "variable in resource other user", policies: home, resource: "irn:svc:acme:user/u2/doc", ctx: map[string]any{KeyUserID: "u1"}, want: implicit},
		engineCase{name: "variable in resource absent", policies: home, resource: "irn:svc:acme:user//doc", want: implicit, missing: []string{"iam:userid"}},
		engineCase{name: "variable name ignores case", policies: allowOn("svc:Do", "irn:svc:acme:user/${IAM:UserID}"), resource: "irn:svc:acme:user/u1", ctx: map[string]any{KeyUserID: "u1"}, want: allowed},
		engineCase{name: "variable value is literal, not a wildcard", policies: allowOn("svc:Do", "irn:svc:acme:user/${iam:username}"), resource: "irn:svc:acme:user/alice", ctx: map[string]any{KeyUsername: "*"}, want: implicit},
		engineCase{name: "variable value with star matches itself", policies: allowOn("svc:Do", "irn:svc:acme:user/${iam:username}"), resource: "irn:svc:acme:user/a*b@x.io", ctx: map[string]any{KeyUsername: "a*b@x.io"}, want: allowed},
		engineCase{name: "variable default used when absent", policies: allowOn("svc:Do", "irn:svc:acme:user/${iam:userid, 'anonymous'}"), resource: "irn:svc:acme:user/anonymous", want: allowed, missing: []string{"iam:userid"}},
		engineCase{name: "variable default ignored when present", policies: allowOn("svc:Do", "irn:svc:acme:user/${iam:userid, 'anonymous'}"), resource: "irn:svc:acme:user/anonymous", ctx: map[string]any{KeyUserID: "u1"}, want: implicit},
		engineCase{name: "variable default with quote", policies: allowOn("svc:Do", "irn:svc:acme:user/${iam:userid,'o''brien'}"), resource: "irn:svc:acme:user/o'brien", want: allowed},
		engineCase{name: "multi-valued key is no variable", policies: allowOn("svc:Do", "irn:svc:acme:group/${iam:PrincipalGroups}"), resource: "irn:svc:acme:group/ops", ctx: map[string]any{KeyPrincipalGroups: []string{"ops"}}, want: implicit, missing: none},
		engineCase{name: "escape star is literal", policies: allowOn("svc:Do", "irn:svc:acme:thing/${*}"), resource: "irn:svc:acme:thing/*", want: allowed},
		engineCase{name: "escape star does not match others", policies: allowOn("svc:Do", "irn:svc:acme:thing/${*}"), want: implicit},
		engineCase{name: "escape question mark is literal", policies: allowOn("svc:Do", "irn:svc:acme:thing/${?}"), resource: "irn:svc:acme:thing/1", want: implicit},
		engineCase{name: "escape dollar", policies: allowOn("svc:Do", "irn:svc:acme:thing/${$}{x}"), resource: "irn:svc:acme:thing/${x}", want: allowed},
		engineCase{name: "variable in StringEquals", policies: allowIf(`{"StringEquals":{"app:owner":"${iam:userid}"}}`), ctx: map[string]any{"app:owner": "u1", KeyUserID: "u1"}, want: allowed},
		engineCase{name: "variable in StringEquals absent", policies: allowIf(`{"StringEquals":{"app:owner":"${iam:userid}"}}`), ctx: map[string]any{"app:owner": "u1"}, want: implicit, missing: []string{"iam:userid"}},
		engineCase{name: "variable in StringLike with wildcard", policies: allowIf(`{"StringLike":{"app:path":"home/${iam:username}/*"}}`), ctx: map[string]any{"app:path": "home/bob/notes", KeyUsername: "bob"}, want: allowed},
		engineCase{name: "variable in StringNotEquals absent is false", policies: allowIf(`{"StringNotEquals":{"app:owner":"${iam:userid}"}}`), ctx: map[string]any{"app:owner": "u1"}, want: implicit},
		engineCase{name: "variable in StringNotEquals present", policies: allowIf(`{"StringNotEquals":{"app:owner":"${iam:userid}"}}`), ctx: map[string]any{"app:owner": "u2", KeyUserID: "u1"}, want: allowed},
		engineCase{name: "realm variable in condition", policies: allowIf(`{"StringEquals":{"app:realm":"${iam:realm}"}}`), ctx: map[string]any{"app:realm": "acme", KeyRealm: "acme"}, want: allowed},
		engineCase{name: "unresolved variable in one Resource entry", policies: []string{doc(st("a", "Allow", `"svc:Do"`, `["irn:svc:acme:user/${iam:userid}","irn:svc:acme:thing/*"]`, ""))}, want: allowed, missing: none},
		engineCase{name: "missing variable reported when a value could match", policies: allowOn("svc:Do", "irn:svc:acme:thing/${app:id}"), want: implicit, missing: []string{"app:id"}},
		engineCase{name: "missing variable not reported when no value could match", policies: allowOn("svc:Do", "irn:svc:acme:user/${app:id}"), want: implicit, missing: none},
		engineCase{name: "missing variable of NotResource reported", policies: []string{doc(`{"Effect":"Allow","Action":"svc:Do","NotResource":"irn:svc:acme:user/${app:id}"}`)}, want: implicit, missing: []string{"app:id"}},
		engineCase{name: "allow NotResource with unresolved variable does not apply", policies: []string{doc(`{"Effect":"Allow","Action":"svc:Do","NotResource":"irn:svc:acme:user/${iam:userid}"}`)}, want: implicit},
		engineCase{name: "allow NotResource with resolved variable", policies: []string{doc(`{"Effect":"Allow","Action":"svc:Do","NotResource":"irn:svc:acme:user/${iam:userid}"}`)}, ctx: map[string]any{KeyUserID: "u1"}, want: allowed},
		engineCase{name: "deny NotResource with unresolved variable does not apply", policies: []string{doc(
			st("all", "Allow", `"*"`, `"*"`, ""),
			`{"Sid":"own","Effect":"Deny","Action":"svc:Do","NotResource":"irn:svc:acme:user/${iam:userid}"}`)}, want: allowed},
		engineCase{name: "deny NotResource on someone else's resource", policies: []string{doc(
			st("all", "Allow", `"*"`, `"*"`, ""),
			`{"Sid":"own","Effect":"Deny","Action":"svc:Do","NotResource":"irn:svc:acme:user/${iam:userid}"}`)}, ctx: map[string]any{KeyUserID: "u1"}, want: denied, matched: []string{"p0/own"}},
	)

	// MissingKeys.
	add(
		engineCase{name: "missing keys none when present", policies: allowIf(`{"StringEquals":{"app:tier":"gold"}}`), ctx: map[string]any{"app:tier": "gold"}, want: allowed, missing: none},
		engineCase{name: "missing keys of a statement for another action are not reported", policies: []string{doc(
			st("a", "Allow", `"svc:Do"`, `"*"`, ""),
			st("b", "Allow", `"svc:Other"`, `"*"`, `{"StringEquals":{"app:tier":"gold"}}`))}, want: allowed, missing: none},
		engineCase{name: "condition keys of a statement for another resource are not reported", policies: []string{doc(
			st("b", "Allow", `"svc:Do"`, `"irn:svc:acme:user/*"`, `{"StringEquals":{"app:tier":"gold"}}`))}, want: implicit, missing: none},
		engineCase{name: "missing keys from every applicable statement, once", policies: []string{
			doc(st("a", "Allow", `"svc:Do"`, `"*"`, `{"StringEquals":{"app:tier":"gold"},"Bool":{"app:mfa":"true"}}`)),
			doc(st("b", "Deny", `"svc:*"`, `"*"`, `{"StringEquals":{"APP:TIER":"tin"}}`))}, want: implicit, missing: []string{"app:tier", "app:mfa"}},
		engineCase{name: "missing keys reported even when allowed", policies: []string{doc(
			st("a", "Allow", `"svc:Do"`, `"*"`, ""),
			st("d", "Deny", `"svc:Do"`, `"*"`, `{"Bool":{"app:suspended":"true"}}`))}, want: allowed, matched: []string{"p0/a"}, missing: []string{"app:suspended"}},
		engineCase{name: "missing keys after an unmet condition", policies: []string{doc(
			st("a", "Allow", `"svc:Do"`, `"*"`, `{"StringEquals":{"app:a":"1"},"StringLike":{"app:b":"x"}}`))}, ctx: map[string]any{"app:a": "2"}, want: implicit, missing: []string{"app:b"}},
	)
	return cases
}

func TestEvaluateConcurrently(t *testing.T) {
	t.Parallel()
	set, reqs := benchPrincipal(t, true, false)
	want := make([]Decision, len(reqs))
	var res Result
	for i := range reqs {
		set.Evaluate(&reqs[i], &res)
		want[i] = res.Decision
	}
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			var res Result
			for i := range 2 * len(reqs) {
				set.Evaluate(&reqs[i%len(reqs)], &res)
				if res.Decision != want[i%len(reqs)] {
					t.Errorf("request %d: %s, want %s", i%len(reqs), res.Decision, want[i%len(reqs)])
					return
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
}

func TestResultReusedAcrossSets(t *testing.T) {
	t.Parallel()
	big, reqs := benchPrincipal(t, false, false)
	small := NewSet(Attachment{Policy: mustCompile(t, "id", "small", doc(st("only", "Deny", `"*"`, `"*"`, "")))})
	var res, fresh Result
	for i := range 20 {
		for _, s := range []*Set{big, small, NewSet(), nil} {
			s.Evaluate(&reqs[i], &res)
			s.Evaluate(&reqs[i], &fresh)
			fresh = Result{}
			s.Evaluate(&reqs[i], &fresh)
			require.Equal(t, fresh.Decision, res.Decision)
			require.Equal(t, append([]Match{}, fresh.Matched...), append([]Match{}, res.Matched...))
			require.Equal(t, append([]string{}, fresh.MissingKeys...), append([]string{}, res.MissingKeys...))
		}
	}
	small.Evaluate(&reqs[0], &res)
	require.Equal(t, ExplicitDeny, res.Decision)
	require.Equal(t, []Match{{PolicyID: "id", PolicyName: "small", Sid: "only", Statement: 0, Effect: Deny}}, res.Matched)
	NewSet().Evaluate(&reqs[0], &res)
	require.Equal(t, ImplicitDeny, res.Decision)
	require.Empty(t, res.Matched)
}

func TestContext(t *testing.T) {
	t.Parallel()
	var c Context
	c.Set("App:Tier", "gold")
	c.SetMulti(KeyPrincipalGroups, "ops", "dev")
	v, ok := c.Get("app:tier")
	require.True(t, ok)
	require.Equal(t, []string{"gold"}, v)
	c.Set("APP:TIER", "silver") // replaces, whatever the case
	v, _ = c.Get("app:Tier")
	require.Equal(t, []string{"silver"}, v)
	groups := []string{"a", "b"}
	c.SetMulti("app:list", groups...)
	groups[0] = "changed"
	v, _ = c.Get("app:list")
	require.Equal(t, []string{"a", "b"}, v, "SetMulti keeps its own copy")
	_, ok = c.Get("app:none")
	require.False(t, ok)
	c.Reset()
	_, ok = c.Get("app:tier")
	require.False(t, ok)
}

func TestNilAttachmentsAreIgnored(t *testing.T) {
	t.Parallel()
	s := NewSet(Attachment{}, Attachment{Policy: mustCompile(t, "id", "p", doc(st("", "Allow", `"*"`, `"*"`, "")))})
	require.Len(t, s.Attachments(), 1)
	var res Result
	s.Evaluate(&Request{Action: "a:b", Resource: "irn:a:b:c"}, &res)
	require.True(t, res.Allowed)
}
