package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/realmiam/realmiam/shared/problem"
)

// FuzzParse: the parser never panics, reports only its documented errors,
// and whatever it accepts compiles, evaluates, and survives a round trip
// through json.Marshal unchanged.
func FuzzParse(f *testing.F) {
	for _, tc := range engineCases() {
		for _, p := range tc.policies {
			f.Add([]byte(p))
		}
	}
	f.Add([]byte(`{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotAction":"a:*","NotResource":"irn:a:b:${x:y, 'z''q'}","Condition":{"forallvalues:numericlessthanifexists":{"a:b":[1,2.5e3]}}}}`))
	f.Add([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Null":{"a:b":true}}}],"Id":"x"}`))
	f.Add([]byte(`{"Version":"2008-10-17"}`))
	f.Add([]byte(`[{"a":[{"b":null}]}]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		d, err := Parse(raw)
		if err != nil {
			var pe *problem.Error
			require.True(t, errors.As(err, &pe))
			require.Equal(t, problem.Invalid, pe.Kind)
			require.Contains(t, []string{"invalid_policy", "policy_too_large"}, pe.Code)
			require.NotEmpty(t, pe.Fields)
			require.LessOrEqual(t, len(pe.Fields), maxFieldErrors)
			return
		}
		c, err := Compile("id", "name", d)
		require.NoError(t, err)
		out, err := json.Marshal(d)
		require.NoError(t, err)
		// The round trip may outgrow the size limit (lists for single
		// strings, quotes around numbers): check it without the limit.
		d2, err := parse(out)
		require.NoError(t, err, string(out))
		out2, err := json.Marshal(d2)
		require.NoError(t, err)
		require.Equal(t, string(out), string(out2))

		var req Request
		req.Action, req.Resource = "svc:Do", "irn:svc:acme:thing/1"
		req.Context.Set(KeyUserID, "u1")
		var res Result
		NewSet(Attachment{Policy: c}).Evaluate(&req, &res)
	})
}

// FuzzWildcard: the matcher never panics and agrees with a regexp built from
// the same pattern (* as .*, ? as one character, ${*} ${?} ${$} literal).
func FuzzWildcard(f *testing.F) {
	seeds := []struct {
		p, s string
	}{
		{"*", ""}, {"a*b?c", "axxbyc"}, {"*a*a*a*", "aaaa"}, {"??", "é!"}, {`a\*`, `a\zz`},
		{"${*}x", "*x"}, {"${?}${$}", "?$"}, {"*${*}*", "a*b"}, {"ab", "ab"}, {"a?", "a"},
		{"*??", "€"}, {"?*?", "日本"}, {"*€*", "x€y"}, {"*?x", "😀x"},
	}
	for _, s := range seeds {
		f.Add(s.p, s.s, false)
		f.Add(s.p, strings.ToUpper(s.s), true)
	}
	f.Fuzz(func(t *testing.T, pattern, s string, fold bool) {
		tm, reason := parseTemplate(pattern, true)
		if reason != "" || tm.parts != nil {
			return
		}
		p := tm.text
		if fold {
			p, s = lowerASCII(p), lowerASCII(s)
		}
		got := match(p, s)
		if !utf8.ValidString(pattern) || !utf8.ValidString(s) {
			return // regexp reads invalid UTF-8 differently; only "no panic" holds
		}
		expr := globRegexp(pattern, nil)
		if fold {
			expr = globRegexp(lowerASCII(pattern), nil)
		}
		want := regexp.MustCompile(expr).MatchString(s)
		require.Equal(t, want, got, "pattern %q (%q) subject %q", pattern, p, s)
	})
}

// globRegexp turns a policy glob into an anchored regexp; vars gives the
// regexp for a policy variable (varRE's match). It is written independently
// of the engine's matcher.
func globRegexp(pattern string, vars func(m []string) string) string {
	var b strings.Builder
	b.WriteString(`(?s)^`)
	rest := pattern
	for rest != "" {
		if loc := varRE.FindStringSubmatchIndex(rest); loc != nil && loc[0] == 0 {
			m := varRE.FindStringSubmatch(rest)
			switch m[1] {
			case "*", "?", "$":
				b.WriteString(regexp.QuoteMeta(m[1]))
			default:
				b.WriteString(vars(m))
			}
			rest = rest[loc[1]:]
			continue
		}
		r, n := utf8.DecodeRuneInString(rest)
		switch r {
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
		rest = rest[n:]
	}
	b.WriteString(`$`)
	return b.String()
}

// varRE matches one policy variable: its name and its optional default.
var varRE = regexp.MustCompile(`^\$\{ *([^ ,}]+) *(?:, *'((?:[^']|'')*)' *)?\}`)

// A naive reference evaluator, written from AWS's rules as stated in the
// documentation and the package comment, straight over the Document: no
// index, no compiled matchers, regexps for wildcards.

type refValue struct {
	values []string
	multi  bool
}

type refContext map[string]refValue // lower-cased keys

type refHolding struct {
	id, name string
	doc      *Document
	via      Via
}

func refEvaluate(held []refHolding, action, resource string, ctx refContext) (Decision, []string, []string) {
	var denies, allows []string
	missing := map[string]bool{}
	noteMissing := func(key string) {
		if _, ok := ctx[strings.ToLower(key)]; !ok {
			missing[strings.ToLower(key)] = true
		}
	}
	for _, h := range held {
		for i, s := range h.doc.Statement {
			actions, negated := s.Action, false
			if s.NotAction != nil {
				actions, negated = s.NotAction, true
			}
			hit := false
			for _, a := range actions {
				if regexp.MustCompile(globRegexp(strings.ToLower(a), nil)).MatchString(strings.ToLower(action)) {
					hit = true
				}
			}
			if hit == negated {
				continue
			}
			resources, negated := s.Resource, false
			if s.NotResource != nil {
				resources, negated = s.NotResource, true
			}
			// Variables of a NotResource pattern are always worth supplying;
			// those of a Resource pattern when the pattern would match with
			// the missing ones read as wildcards.
			for _, r := range resources {
				if negated || refLooseMatch(r, resource, ctx) {
					for _, key := range refVarKeys(r) {
						noteMissing(key)
					}
				}
			}
			var ok bool
			if !negated {
				for _, r := range resources {
					if m, _ := refResource(r, resource, ctx); m {
						ok = true
					}
				}
			} else {
				ok = true
				for _, r := range resources {
					if m, resolved := refResource(r, resource, ctx); m || !resolved {
						ok = false
					}
				}
			}
			if !ok {
				continue
			}
			for op, keys := range s.Condition {
				base := refBase(op)
				for key, values := range keys {
					noteMissing(key)
					if strings.HasPrefix(base, "string") || base == "bool" {
						for _, v := range values {
							for _, k := range refVarKeys(v) {
								noteMissing(k)
							}
						}
					}
				}
			}
			applies := true
			for op, keys := range s.Condition {
				for key, values := range keys {
					if !refCondition(op, ctx[strings.ToLower(key)].values, values, ctx) {
						applies = false
					}
				}
			}
			if !applies {
				continue
			}
			m := describe(Match{PolicyName: h.name, Sid: s.Sid, Statement: i, Via: h.via})
			if s.Effect == Deny {
				denies = append(denies, m)
			} else {
				allows = append(allows, m)
			}
		}
	}
	var keys []string
	for k := range missing {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	switch {
	case len(denies) > 0:
		return ExplicitDeny, denies, keys
	case len(allows) > 0:
		return Allowed, allows, keys
	}
	return ImplicitDeny, nil, keys
}

// refVarKeys lists the keys of the variables in s (not the escapes).
func refVarKeys(s string) []string {
	var out []string
	for i := 0; i < len(s); i++ {
		if m := varRE.FindStringSubmatch(s[i:]); m != nil {
			if m[1] != "*" && m[1] != "?" && m[1] != "$" {
				out = append(out, m[1])
			}
			i += len(m[0]) - 1
		}
	}
	return out
}

// refLooseMatch matches an IRN pattern with the variables whose keys the
// request lacks read as wildcards.
func refLooseMatch(pattern, resource string, ctx refContext) bool {
	if pattern == "*" {
		return true
	}
	pp := strings.SplitN(pattern, ":", 4)
	rp := strings.SplitN(resource, ":", 4)
	if len(rp) != 4 || rp[0] != "irn" {
		return false
	}
	for i := 1; i < 4; i++ {
		ok := true
		expr := globRegexp(pp[i], func(m []string) string {
			if _, present := ctx[strings.ToLower(m[1])]; !present {
				return ".*"
			}
			v, resolved := refVariable(ctx)(m)
			if !resolved {
				ok = false
			}
			return regexp.QuoteMeta(v)
		})
		if !ok || !regexp.MustCompile(expr).MatchString(rp[i]) {
			return false
		}
	}
	return true
}

// refQuoted is refVariable as a regexp fragment.
func refQuoted(ctx refContext) func(m []string) string {
	return func(m []string) string {
		v, _ := refVariable(ctx)(m)
		return regexp.QuoteMeta(v)
	}
}

// refVariable resolves a variable match from varRE.
func refVariable(ctx refContext) func(m []string) (string, bool) {
	return func(m []string) (string, bool) {
		if v, ok := ctx[strings.ToLower(m[1])]; ok && !v.multi && len(v.values) == 1 {
			return v.values[0], true
		}
		if strings.Contains(m[0], ",") {
			return strings.ReplaceAll(m[2], "''", "'"), true
		}
		return "", false
	}
}

func refResolved(s string, ctx refContext) bool {
	for i := 0; i < len(s); i++ {
		if m := varRE.FindStringSubmatch(s[i:]); m != nil {
			if m[1] != "*" && m[1] != "?" && m[1] != "$" {
				if _, ok := refVariable(ctx)(m); !ok {
					return false
				}
			}
			i += len(m[0]) - 1
		}
	}
	return true
}

// refResource matches an IRN pattern part by part.
func refResource(pattern, resource string, ctx refContext) (matched, resolved bool) {
	if pattern == "*" {
		return true, true
	}
	pp := strings.SplitN(pattern, ":", 4)
	if !refResolved(pp[3], ctx) {
		return false, false
	}
	rp := strings.SplitN(resource, ":", 4)
	if len(rp) != 4 || rp[0] != "irn" {
		return false, true
	}
	for i := 1; i < 4; i++ {
		if !regexp.MustCompile(globRegexp(pp[i], refQuoted(ctx))).MatchString(rp[i]) {
			return false, true
		}
	}
	return true, true
}

func refBase(op string) string {
	op = strings.ToLower(op)
	op = strings.TrimPrefix(strings.TrimPrefix(op, "foranyvalue:"), "forallvalues:")
	if op != "ifexists" {
		op = strings.TrimSuffix(op, "ifexists")
	}
	return op
}

func refCondition(op string, request, policy []string, ctx refContext) bool {
	lower := strings.ToLower(op)
	anyValue := strings.HasPrefix(lower, "foranyvalue:")
	allValues := strings.HasPrefix(lower, "forallvalues:")
	ifExists := strings.HasSuffix(lower, "ifexists")
	base := refBase(op)
	negated := strings.Contains(base, "not")
	present := len(request) > 0
	if base == "null" {
		for _, p := range policy {
			if strings.EqualFold(p, strconv.FormatBool(!present)) {
				return true
			}
		}
		return false
	}
	// one applies the operator to one request value.
	one := func(v string) bool {
		matched, unresolved := false, false
		for _, p := range policy {
			m, ok := refCompare(base, v, p, ctx)
			if !ok {
				unresolved = true
			}
			if m {
				matched = true
			}
		}
		if negated {
			return !matched && !unresolved
		}
		return matched
	}
	someOne := func() bool {
		for _, v := range request {
			if one(v) {
				return true
			}
		}
		return false
	}
	everyOne := func() bool {
		for _, v := range request {
			if !one(v) {
				return false
			}
		}
		return true
	}
	switch {
	case anyValue:
		return present && someOne()
	case allValues:
		return !present || everyOne()
	case !present:
		return ifExists || negated
	case negated:
		return everyOne()
	default:
		return someOne()
	}
}

// refCompare applies a base operator to a request value and a policy value;
// ok is false when the policy value holds a variable without a value.
func refCompare(base, v, p string, ctx refContext) (matched, ok bool) {
	switch base {
	case "stringequals", "stringnotequals", "stringequalsignorecase", "stringnotequalsignorecase", "bool":
		if !refResolved(p, ctx) {
			return false, false
		}
		pv := refSubstitute(p, ctx)
		switch base {
		case "stringequals", "stringnotequals":
			return pv == v, true
		case "bool":
			return (strings.EqualFold(pv, "true") || strings.EqualFold(pv, "false")) && strings.EqualFold(pv, v), true
		}
		return strings.EqualFold(pv, v), true
	case "stringlike", "stringnotlike":
		if !refResolved(p, ctx) {
			return false, false
		}
		return regexp.MustCompile(globRegexp(p, refQuoted(ctx))).MatchString(v), true
	case "ipaddress", "notipaddress":
		a, err := netip.ParseAddr(v)
		if err != nil || a.Zone() != "" {
			return false, true
		}
		a = a.Unmap()
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			pa, _ := netip.ParseAddr(p)
			pa = pa.Unmap()
			return pa == a, true
		}
		if pfx.Addr().Is4In6() {
			pfx = netip.PrefixFrom(pfx.Addr().Unmap(), pfx.Bits()-96)
		}
		return pfx.Contains(a), true
	}
	var c int
	switch {
	case strings.HasPrefix(base, "numeric"):
		x, okx := refNumber(v)
		y, _ := refNumber(p)
		if !okx {
			return false, true
		}
		c = refSign(x - y)
	default: // date
		x, okx := refDate(v)
		y, _ := refDate(p)
		if !okx {
			return false, true
		}
		c = x.Compare(y)
	}
	switch {
	case strings.HasSuffix(base, "lessthan"):
		return c < 0, true
	case strings.HasSuffix(base, "lessthanequals"):
		return c <= 0, true
	case strings.HasSuffix(base, "greaterthan"):
		return c > 0, true
	case strings.HasSuffix(base, "greaterthanequals"):
		return c >= 0, true
	}
	return c == 0, true
}

func refSubstitute(p string, ctx refContext) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if m := varRE.FindStringSubmatch(p[i:]); m != nil {
			switch m[1] {
			case "*", "?", "$":
				b.WriteString(m[1])
			default:
				v, _ := refVariable(ctx)(m)
				b.WriteString(v)
			}
			i += len(m[0]) - 1
			continue
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

var refNumberRE = regexp.MustCompile(`^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$`)

func refNumber(s string) (float64, bool) {
	if !refNumberRE.MatchString(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

func refSign(d float64) int {
	switch {
	case d < 0:
		return -1
	case d > 0:
		return 1
	}
	return 0
}

func refDate(s string) (time.Time, bool) {
	if regexp.MustCompile(`^[+-]?\d+$`).MatchString(s) {
		n, err := strconv.ParseInt(s, 10, 64)
		return time.Unix(n, 0), err == nil
	}
	for _, l := range []string{"2006-01", "2006-01-02", "2006-01-02T15:04Z07:00", time.RFC3339} {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// A generator of small documents and requests from fuzz input.

type gen struct {
	data []byte
	i    int
}

func (g *gen) next() int {
	if g.i >= len(g.data) {
		return 0
	}
	g.i++
	return int(g.data[g.i-1])
}

func (g *gen) pick(list []string) string { return list[g.next()%len(list)] }
func (g *gen) upTo(n int) int            { return g.next() % (n + 1) }

var (
	genActions   = []string{"*", "svc:*", "svc:Do", "SVC:dO", "svc:D?", "svc:*o", "s*:Do", "svc:Undo", "other:*", "svc:Get*", "*:*", "sv?:*", "svc:*et*g"}
	genReqAction = []string{"svc:Do", "svc:Undo", "SVC:DO", "other:Do", "svc:GetThing", "svc:D", "x", "svc:Dox"}
	genResources = []string{"*", "irn:svc:acme:thing/1", "irn:svc:acme:thing/*", "irn:svc:*:thing/?", "irn:*:acme:*",
		"irn:svc:acme:user/${iam:userid}", "irn:svc:acme:user/${iam:username, 'anon'}/*", "irn:svc:acme:${*}",
		"irn:svc:acme:thing/${?}", "irn:svc:ac?e:th*g/1", "irn:svc:acme:a:*", "irn:svc:acme:user/${app:m}", `irn:svc:acme:a\*`}
	genReqResource = []string{"irn:svc:acme:thing/1", "irn:svc:acme:thing/12", "irn:svc:other:thing/1", "irn:svc:acme:user/u1",
		"irn:svc:acme:user/anon/x", "irn:svc:acme:*", "irn:svc:acme:a:b", "thing", "irn:svc:acme:user/a*", "irn:svc:acme:thing/?", `irn:svc:acme:a\bc`}
	genOps = []string{"StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike", "StringNotLike",
		"NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals",
		"DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals",
		"Bool", "IpAddress", "NotIpAddress", "Null"}
	genKeys      = []string{"app:s", "APP:S", "app:m", "iam:SourceIp", "iam:CurrentTime", "app:n", "app:b", "iam:userid", "app:absent"}
	genStrings   = []string{"gold", "g*", "G?ld", "", "${iam:userid}", "${app:s}", "${app:none, 'gold'}", "${*}", "x${app:missing}", "u?", "${app:m}"}
	genNumbers   = []string{"1", "10", "-2.5", "1e1", "0"}
	genDates     = []string{"2026-12-01T10:00:00Z", "2026-12", "1796119200", "2027-01-01", "2026-12-01T11:00+01:00"}
	genBools     = []string{"true", "false", "TRUE", "${app:b}"}
	genIPs       = []string{"10.0.0.0/8", "192.0.2.1", "2001:db8::/32", "0.0.0.0/0", "::ffff:10.0.0.0/104"}
	genCtxKeys   = []string{"app:s", "app:m", "iam:SourceIp", "iam:CurrentTime", "app:n", "app:b", "iam:userid", "iam:username"}
	genCtxValues = []string{"gold", "Gold", "g", "", "10", "1", "x", "true", "FALSE", "10.1.2.3", "2001:db8::5", "192.0.2.1",
		"2026-12-01T10:00:00Z", "1796119200", "u1", "anon", "a*", "-2.5", "2026-12"}
	genVias = []Via{
		{Kind: ViaDirect},
		{Kind: ViaRole, RoleID: "r1", RoleName: "deployer"},
		{Kind: ViaGroup, GroupID: "g1", GroupName: "ops"},
		{Kind: ViaGroupRole, GroupID: "g1", GroupName: "ops", RoleID: "r2", RoleName: "auditor"},
	}
)

func (g *gen) values(base string) []string {
	pool := genStrings
	switch {
	case strings.HasPrefix(base, "numeric"):
		pool = genNumbers
	case strings.HasPrefix(base, "date"):
		pool = genDates
	case base == "bool":
		pool = genBools
	case strings.Contains(base, "ipaddress"):
		pool = genIPs
	case base == "null":
		pool = genBools[:3]
	}
	out := []string{g.pick(pool)}
	for range g.upTo(1) {
		out = append(out, g.pick(pool))
	}
	return out
}

func (g *gen) document(sids *int) *Document {
	d := &Document{Version: Version}
	for range 1 + g.upTo(2) {
		var s Statement
		if g.upTo(1) == 1 {
			*sids++
			s.Sid = fmt.Sprintf("s%d", *sids)
		}
		s.Effect = Allow
		if g.upTo(2) == 0 {
			s.Effect = Deny
		}
		actions := []string{g.pick(genActions)}
		for range g.upTo(1) {
			actions = append(actions, g.pick(genActions))
		}
		if g.upTo(3) == 0 {
			s.NotAction = actions
		} else {
			s.Action = actions
		}
		resources := []string{g.pick(genResources)}
		for range g.upTo(1) {
			resources = append(resources, g.pick(genResources))
		}
		if g.upTo(3) == 0 {
			s.NotResource = resources
		} else {
			s.Resource = resources
		}
		for range g.upTo(2) {
			if s.Condition == nil {
				s.Condition = Condition{}
			}
			op := g.pick(genOps)
			if op != "Null" {
				switch g.upTo(3) {
				case 1:
					op = "ForAnyValue:" + op
				case 2:
					op = "ForAllValues:" + op
				}
				if g.upTo(2) == 0 {
					op += "IfExists"
				}
			}
			if s.Condition[op] == nil {
				s.Condition[op] = map[string][]string{}
			}
			for range 1 + g.upTo(1) {
				key := g.pick(genKeys)
				dup := false
				for k := range s.Condition[op] {
					if strings.EqualFold(k, key) {
						dup = true
					}
				}
				if !dup {
					s.Condition[op][key] = g.values(refBase(op))
				}
			}
		}
		d.Statement = append(d.Statement, s)
	}
	return d
}

func FuzzEvaluate(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("a quite ordinary seed that picks a few things"))
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30})
	f.Add([]byte{2, 1, 1, 0, 1, 5, 1, 2, 1, 1, 3, 2, 0, 7, 1, 1, 9, 9, 9, 4, 4, 1, 0, 2, 2, 2, 7, 7, 1, 3, 0, 5, 5})
	f.Fuzz(func(t *testing.T, data []byte) {
		g := &gen{data: data}
		var held []refHolding
		var atts []Attachment
		sids := 0
		for i := range 1 + g.upTo(2) {
			d := g.document(&sids)
			raw, err := json.Marshal(d)
			require.NoError(t, err)
			parsed, err := Parse(raw)
			if err != nil {
				t.Skip("generated an invalid document:", err)
			}
			name := fmt.Sprintf("p%d", i)
			c, err := Compile("id-"+name, name, parsed)
			require.NoError(t, err)
			via := genVias[g.upTo(len(genVias)-1)]
			held = append(held, refHolding{id: "id-" + name, name: name, doc: parsed, via: via})
			atts = append(atts, Attachment{Policy: c, Via: via})
		}
		req := &Request{Action: g.pick(genReqAction), Resource: g.pick(genReqResource)}
		ctx := refContext{}
		for _, key := range genCtxKeys {
			spelled := key
			if g.upTo(1) == 1 {
				spelled = strings.ToUpper(key)
			}
			switch g.upTo(3) {
			case 0:
				// absent
			case 1:
				v := g.pick(genCtxValues)
				req.Context.Set(spelled, v)
				ctx[strings.ToLower(key)] = refValue{values: []string{v}}
			default:
				var vs []string
				for range g.upTo(3) {
					vs = append(vs, g.pick(genCtxValues))
				}
				req.Context.SetMulti(spelled, vs...)
				ctx[strings.ToLower(key)] = refValue{values: vs, multi: true}
			}
		}

		wantDecision, wantMatched, wantMissing := refEvaluate(held, req.Action, req.Resource, ctx)

		var res Result
		NewSet(atts...).Evaluate(req, &res)
		var gotMatched []string
		for _, m := range res.Matched {
			gotMatched = append(gotMatched, describe(m))
		}
		var gotMissing []string
		for _, k := range res.MissingKeys {
			gotMissing = append(gotMissing, strings.ToLower(k))
		}
		slices.Sort(gotMissing)

		explain := func() string {
			var b strings.Builder
			for _, h := range held {
				raw, _ := json.Marshal(h.doc)
				fmt.Fprintf(&b, "%s via %s: %s\n", h.name, h.via.Kind, raw)
			}
			fmt.Fprintf(&b, "request %s on %s with %+v", req.Action, req.Resource, ctx)
			return b.String()
		}
		require.Equal(t, wantDecision, res.Decision, explain())
		require.Equal(t, wantMatched, gotMatched, explain())
		require.Equal(t, wantMissing, gotMissing, explain())
	})
}
