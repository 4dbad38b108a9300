package policy

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/realmiam/realmiam/shared/problem"
)

// Compiled is a document compiled for evaluation: its matchers are built and
// its values parsed. It is immutable and safe for concurrent use.
type Compiled struct {
	ID       string
	Name     string
	Document *Document

	stmts []stmt
}

// Compile compiles doc, which Parse returned or the caller built, under the
// policy's id and name (which evaluation results report). Errors are
// *problem.Error of kind Invalid, code "invalid_policy", as from Parse (the
// size limit is not checked: it applies to the JSON text).
func Compile(id, name string, doc *Document) (*Compiled, error) {
	if doc == nil {
		return nil, invalid([]problem.FieldError{{Field: "", Reason: "is missing"}})
	}
	stmts, errs := compileStatements(doc)
	if len(errs) > 0 {
		return nil, invalid(errs)
	}
	return &Compiled{ID: id, Name: name, Document: doc, stmts: stmts}, nil
}

// stmt is a compiled statement.
type stmt struct {
	index       int
	sid         string
	effect      Effect
	notAction   bool
	actions     []string // lower-cased patterns
	notResource bool
	resVars     bool // some resource pattern holds a variable
	resources   []resPattern
	conds       []cond
	// condKeys are the keys named by the conditions and by variables in
	// condition values, for Result.MissingKeys (as are resPattern.vars).
	condKeys []keyName
}

// keyName is a context key lower-cased for lookup and as the policy wrote it.
type keyName struct {
	key, name string
}

type compiler struct {
	errs []problem.FieldError
}

func (c *compiler) fail(field, reason string) {
	if len(c.errs) < maxFieldErrors {
		c.errs = append(c.errs, problem.FieldError{Field: field, Reason: reason})
	}
}

func compileStatements(doc *Document) ([]stmt, []problem.FieldError) {
	c := &compiler{}
	switch doc.Version {
	case Version:
	case "":
		c.fail("Version", `is required and must be "2012-10-17"`)
	case "2008-10-17":
		c.fail("Version", `must be "2012-10-17": "2008-10-17" treats policy variables as plain text and is not supported`)
	default:
		c.fail("Version", `must be "2012-10-17"`)
	}
	if len(doc.Statement) == 0 {
		c.fail("Statement", "must hold at least one statement")
	}
	stmts := make([]stmt, len(doc.Statement))
	sids := map[string]int{}
	for i := range doc.Statement {
		path := doc.statementPath(i)
		s := &doc.Statement[i]
		if s.Sid != "" {
			if !isAlnum(s.Sid) {
				c.fail(path+".Sid", "may hold only ASCII letters and digits")
			} else if j, ok := sids[s.Sid]; ok {
				c.fail(path+".Sid", fmt.Sprintf("%q is already the Sid of %s; Sids are unique within a document", s.Sid, doc.statementPath(j)))
			} else {
				sids[s.Sid] = i
			}
		}
		stmts[i] = c.statement(s, i, path)
	}
	return stmts, c.errs
}

func (c *compiler) statement(s *Statement, index int, path string) stmt {
	out := stmt{index: index, sid: s.Sid, effect: s.Effect}
	switch s.Effect {
	case Allow, Deny:
	case "":
		c.fail(path+".Effect", `is required: "Allow" or "Deny"`)
	default:
		c.fail(path+".Effect", `must be "Allow" or "Deny"`)
	}

	actions, field := s.Action, path+".Action"
	switch {
	case s.Action != nil && s.NotAction != nil:
		c.fail(path+".NotAction", "a statement has Action or NotAction, not both")
	case s.Action == nil && s.NotAction == nil:
		c.fail(path+".Action", "is required (or NotAction)")
	case s.NotAction != nil:
		actions, field, out.notAction = s.NotAction, path+".NotAction", true
	}
	if actions != nil && len(actions) == 0 {
		c.fail(field, "must not be an empty list")
	}
	for _, a := range actions {
		if reason := checkAction(a); reason != "" {
			c.fail(field, fmt.Sprintf("%q %s", a, reason))
			continue
		}
		out.actions = append(out.actions, lowerASCII(a))
	}

	resources, field := s.Resource, path+".Resource"
	switch {
	case s.Resource != nil && s.NotResource != nil:
		c.fail(path+".NotResource", "a statement has Resource or NotResource, not both")
	case s.Resource == nil && s.NotResource == nil:
		c.fail(path+".Resource", "is required (or NotResource)")
	case s.NotResource != nil:
		resources, field, out.notResource = s.NotResource, path+".NotResource", true
	}
	if resources != nil && len(resources) == 0 {
		c.fail(field, "must not be an empty list")
	}
	for _, r := range resources {
		p, reason := compileResource(r)
		if reason != "" {
			c.fail(field, fmt.Sprintf("%q %s", r, reason))
			continue
		}
		out.resources = append(out.resources, p)
		out.resVars = out.resVars || p.vars != nil
	}

	out.conds = c.conditions(s.Condition, path+".Condition")
	for i := range out.conds {
		cd := &out.conds[i]
		out.condKeys = appendKey(out.condKeys, keyName{cd.key, cd.name})
		for j := range cd.strs {
			for _, v := range cd.strs[j].vars() {
				out.condKeys = appendKey(out.condKeys, v)
			}
		}
	}
	return out
}

func appendKey(keys []keyName, k keyName) []keyName {
	for _, have := range keys {
		if have.key == k.key {
			return keys
		}
	}
	return append(keys, k)
}

// checkAction validates an action pattern: "*" or service:Operation, where
// both parts are letters, digits and - _ . plus the wildcards * and ?.
func checkAction(a string) string {
	if a == "*" {
		return ""
	}
	svc, op, ok := strings.Cut(a, ":")
	if !ok || svc == "" || op == "" || strings.Contains(op, ":") {
		return `must be "*" or of the form service:Operation (wildcards * and ? allowed)`
	}
	for i := 0; i < len(a); i++ {
		ch := a[i]
		if !(isAlnumByte(ch) || strings.IndexByte("-_.*?:", ch) >= 0) {
			return "may hold only letters, digits, - _ . and the wildcards * and ?, around one colon"
		}
	}
	return ""
}

// resPattern is a compiled Resource or NotResource pattern.
type resPattern struct {
	any     bool   // "*"
	exact   bool   // no wildcard and no variable: compare lit with the request
	lit     string // the pattern as written
	service glob   // the service part (no variables)
	tenant  glob   // the tenant part (no variables)
	res     tmpl   // the resource part, possibly with variables
	vars    []keyName
}

const irnPrefix = "irn:"

// compileResource validates and compiles an IRN pattern.
func compileResource(r string) (resPattern, string) {
	if r == "*" {
		return resPattern{any: true, lit: r}, ""
	}
	const shape = `must be "*" or an IRN irn:{service}:{tenantId}:{resource} (wildcards * and ? allowed)`
	rest, ok := strings.CutPrefix(r, irnPrefix)
	if !ok {
		return resPattern{}, shape
	}
	service, rest, ok1 := strings.Cut(rest, ":")
	tenant, res, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 || service == "" || tenant == "" || res == "" {
		return resPattern{}, shape
	}
	if strings.Contains(service, "${") || strings.Contains(tenant, "${") {
		return resPattern{}, "may use policy variables only in the resource part, after the third colon"
	}
	for i := 0; i < len(service); i++ {
		if ch := service[i]; !(isAlnumByte(ch) || strings.IndexByte("-_*?", ch) >= 0) {
			return resPattern{}, "has a service part that is not letters, digits, - _ and wildcards"
		}
	}
	for i := 0; i < len(tenant); i++ {
		if ch := tenant[i]; !(('a' <= ch && ch <= 'z') || ('0' <= ch && ch <= '9') || strings.IndexByte("-*?", ch) >= 0) {
			return resPattern{}, "has a tenant part that is not a realm id (lower-case letters, digits and -) or wildcards"
		}
	}
	for i := 0; i < len(res); i++ {
		if res[i] < 0x20 || res[i] == 0x7f {
			return resPattern{}, "holds a control character"
		}
	}
	t, reason := parseTemplate(res, true)
	if reason != "" {
		return resPattern{}, reason
	}
	p := resPattern{lit: r, service: compileGlob(service), tenant: compileGlob(tenant), res: t}
	for _, v := range t.vars() {
		p.vars = appendKey(p.vars, v)
	}
	// A pattern without wildcards or variables (escapes included) is compared
	// as a whole with the request's resource.
	p.exact = !strings.Contains(res, "${") && !hasWild(r)
	return p, ""
}

func hasWild(s string) bool { return strings.ContainsAny(s, "*?") }

// tmpl is a string value that may hold policy variables. In glob form its
// text is a wildcard pattern in which a backslash escapes the next byte, so
// that text a variable brings in (or ${*}, ${?}) stays literal.
type tmpl struct {
	text  string  // the value when it holds no variable
	g     glob    // text compiled (glob form only)
	parts []tpart // the value's pieces when it holds a variable
	glob  bool
}

type tpart struct {
	text   string // literal piece, or
	key    string // lower-cased variable key ("" for a literal piece)
	name   string
	def    string
	hasDef bool
}

func (t *tmpl) vars() []keyName {
	var out []keyName
	for _, p := range t.parts {
		if p.key != "" {
			out = append(out, keyName{p.key, p.name})
		}
	}
	return out
}

// parseTemplate reads policy variables out of s: ${key}, ${key, 'default'}
// (a quote inside the default is written as two quotes), and the escapes
// ${*}, ${?} and ${$}. A "$" not followed by "{" is literal. If wild, the
// result is in glob form: * and ? written in s are wildcards, and
// backslashes are escaped.
func parseTemplate(s string, wild bool) (tmpl, string) {
	t := tmpl{glob: wild}
	var b strings.Builder
	for i := 0; i < len(s); {
		if !strings.HasPrefix(s[i:], "${") {
			if wild && s[i] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(s[i])
			i++
			continue
		}
		v, n, reason := parseVariable(s[i:])
		if reason != "" {
			return tmpl{}, reason
		}
		i += n
		if v.key == "" { // ${*}, ${?}, ${$}: the character itself, literal
			if wild && v.text != "$" {
				b.WriteByte('\\')
			}
			b.WriteString(v.text)
			continue
		}
		if b.Len() > 0 {
			t.parts = append(t.parts, tpart{text: b.String()})
			b.Reset()
		}
		t.parts = append(t.parts, v)
	}
	if t.parts != nil {
		if b.Len() > 0 {
			t.parts = append(t.parts, tpart{text: b.String()})
		}
		return t, ""
	}
	t.text = b.String()
	if wild {
		t.g = compileGlob(t.text)
	}
	return t, ""
}

// parseVariable reads the variable that s starts with ("${...}") and returns
// it with the number of bytes it takes. An escape comes back as a literal
// part holding the escaped character.
func parseVariable(s string) (tpart, int, string) {
	const bad = "holds a malformed policy variable (expected ${key} or ${key, 'default'})"
	i := 2
	skip := func() {
		for i < len(s) && s[i] == ' ' {
			i++
		}
	}
	skip()
	start := i
	for i < len(s) && s[i] != '}' && s[i] != ',' && s[i] != ' ' {
		i++
	}
	name := s[start:i]
	skip()
	switch name {
	case "*", "?", "$":
		if i < len(s) && s[i] == '}' {
			return tpart{text: name}, i + 1, ""
		}
		return tpart{}, 0, bad
	}
	if name == "" || !validKey(name) {
		return tpart{}, 0, bad
	}
	v := tpart{key: lowerASCII(name), name: name}
	if i < len(s) && s[i] == ',' {
		i++
		skip()
		if i >= len(s) || s[i] != '\'' {
			return tpart{}, 0, bad
		}
		i++
		var def strings.Builder
		for {
			if i >= len(s) {
				return tpart{}, 0, bad
			}
			if s[i] == '\'' {
				if i+1 < len(s) && s[i+1] == '\'' {
					def.WriteByte('\'')
					i += 2
					continue
				}
				i++
				break
			}
			def.WriteByte(s[i])
			i++
		}
		v.def, v.hasDef = def.String(), true
		skip()
	}
	if i >= len(s) || s[i] != '}' {
		return tpart{}, 0, bad
	}
	return v, i + 1, ""
}

// validKey reports whether k looks like a condition key: prefix:name, both
// non-empty, of key characters.
func validKey(k string) bool {
	prefix, name, ok := strings.Cut(k, ":")
	if !ok || prefix == "" || name == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !isKeyChar(k[i]) {
			return false
		}
	}
	return true
}

// Condition operators.

type baseOp uint8

const (
	opString baseOp = iota
	opStringFold
	opStringLike
	opNumeric
	opDate
	opBool
	opIP
	opNull
)

type cmpOp uint8

const (
	cmpEq cmpOp = iota
	cmpLt
	cmpLe
	cmpGt
	cmpGe
)

type setOp uint8

const (
	setNone setOp = iota
	setAny
	setAll
)

type opSpec struct {
	base    baseOp
	cmp     cmpOp
	negated bool
}

// operators maps lower-cased operator names to their meaning.
var operators = map[string]opSpec{
	"stringequals":              {opString, cmpEq, false},
	"stringnotequals":           {opString, cmpEq, true},
	"stringequalsignorecase":    {opStringFold, cmpEq, false},
	"stringnotequalsignorecase": {opStringFold, cmpEq, true},
	"stringlike":                {opStringLike, cmpEq, false},
	"stringnotlike":             {opStringLike, cmpEq, true},
	"numericequals":             {opNumeric, cmpEq, false},
	"numericnotequals":          {opNumeric, cmpEq, true},
	"numericlessthan":           {opNumeric, cmpLt, false},
	"numericlessthanequals":     {opNumeric, cmpLe, false},
	"numericgreaterthan":        {opNumeric, cmpGt, false},
	"numericgreaterthanequals":  {opNumeric, cmpGe, false},
	"dateequals":                {opDate, cmpEq, false},
	"datenotequals":             {opDate, cmpEq, true},
	"datelessthan":              {opDate, cmpLt, false},
	"datelessthanequals":        {opDate, cmpLe, false},
	"dategreaterthan":           {opDate, cmpGt, false},
	"dategreaterthanequals":     {opDate, cmpGe, false},
	"bool":                      {opBool, cmpEq, false},
	"ipaddress":                 {opIP, cmpEq, false},
	"notipaddress":              {opIP, cmpEq, true},
	"null":                      {opNull, cmpEq, false},
}

// cond is one compiled (operator, key) pair of a Condition block.
type cond struct {
	key, name string // lower-cased key; key as written
	spec      opSpec
	set       setOp
	ifExists  bool
	strs      []tmpl // string operators and Bool
	nums      []float64
	dates     []time.Time
	nets      []netip.Prefix
	nulls     []bool // Null: true means "the key is missing"
}

// parseOperator splits an operator name into its qualifier, base operator and
// IfExists suffix, all matched without regard to case.
func parseOperator(name string) (opSpec, setOp, bool, string) {
	lower := strings.ToLower(name)
	set := setNone
	if rest, ok := strings.CutPrefix(lower, "foranyvalue:"); ok {
		set, lower = setAny, rest
	} else if rest, ok := strings.CutPrefix(lower, "forallvalues:"); ok {
		set, lower = setAll, rest
	}
	ifExists := false
	if rest, ok := strings.CutSuffix(lower, "ifexists"); ok && rest != "" {
		ifExists, lower = true, rest
	}
	spec, ok := operators[lower]
	if !ok {
		if strings.HasPrefix(lower, "arn") || strings.HasPrefix(lower, "binary") {
			return opSpec{}, 0, false, "is not supported: use StringEquals or StringLike for IRNs"
		}
		return opSpec{}, 0, false, "is not a supported condition operator"
	}
	if spec.base == opNull && (set != setNone || ifExists) {
		return opSpec{}, 0, false, "Null takes neither ForAnyValue:/ForAllValues: nor IfExists"
	}
	return spec, set, ifExists, ""
}

func (c *compiler) conditions(block Condition, path string) []cond {
	var out []cond
	ops := make([]string, 0, len(block))
	for op := range block {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	for _, op := range ops {
		opPath := path + "." + op
		spec, set, ifExists, reason := parseOperator(op)
		if reason != "" {
			c.fail(opPath, reason)
			continue
		}
		keys := block[op]
		if len(keys) == 0 {
			c.fail(opPath, "must name at least one condition key")
			continue
		}
		names := make([]string, 0, len(keys))
		for k := range keys {
			names = append(names, k)
		}
		slices.Sort(names)
		seen := map[string]string{}
		for _, name := range names {
			keyPath := opPath + "." + name
			if !validKey(name) {
				c.fail(keyPath, "is not a condition key: prefix:name, letters, digits and : / _ . - + = @ (policy variables are not allowed in keys)")
				continue
			}
			lower := lowerASCII(name)
			if other, ok := seen[lower]; ok {
				c.fail(keyPath, fmt.Sprintf("names the same key as %q: condition keys ignore case", other))
				continue
			}
			seen[lower] = name
			cd := cond{key: lower, name: name, spec: spec, set: set, ifExists: ifExists}
			values := keys[name]
			if len(values) == 0 {
				c.fail(keyPath, "must have at least one value")
				continue
			}
			for _, v := range values {
				if reason := cd.addValue(v); reason != "" {
					c.fail(keyPath, fmt.Sprintf("%q %s", v, reason))
				}
			}
			out = append(out, cd)
		}
	}
	return out
}

// addValue parses one policy value for the condition's operator.
func (cd *cond) addValue(v string) string {
	switch cd.spec.base {
	case opString, opStringFold, opStringLike:
		t, reason := parseTemplate(v, cd.spec.base == opStringLike)
		if reason != "" {
			return reason
		}
		cd.strs = append(cd.strs, t)
	case opBool:
		t, reason := parseTemplate(v, false)
		if reason != "" {
			return reason
		}
		if t.parts == nil {
			b, ok := parseBool(v)
			if !ok {
				return `is not a boolean: "true" or "false"`
			}
			t.text = strconv.FormatBool(b)
		}
		cd.strs = append(cd.strs, t)
	case opNumeric:
		n, ok := parseNumber(v)
		if !ok {
			return "is not a number"
		}
		cd.nums = append(cd.nums, n)
	case opDate:
		d, ok := parseDate(v)
		if !ok {
			return "is not a date: ISO 8601 (2026-12-01, 2026-12-01T10:00:00Z) or epoch seconds"
		}
		cd.dates = append(cd.dates, d)
	case opIP:
		p, ok := parsePrefix(v)
		if !ok {
			return "is not an IP address or CIDR range"
		}
		cd.nets = append(cd.nets, p)
	case opNull:
		b, ok := parseBool(v)
		if !ok {
			return `is not "true" (the key is missing) or "false" (the key is present)`
		}
		cd.nulls = append(cd.nulls, b)
	}
	return ""
}

// Value parsing, shared by policy values and request values.

func parseBool(s string) (bool, bool) {
	switch {
	case strings.EqualFold(s, "true"):
		return true, true
	case strings.EqualFold(s, "false"):
		return false, true
	}
	return false, false
}

// parseNumber reads a decimal number: an optional sign, digits with an
// optional fraction, and an optional exponent. Hex, Inf, NaN and
// underscores, which strconv also accepts, are refused.
func parseNumber(s string) (float64, bool) {
	digits := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case '0' <= ch && ch <= '9':
			digits = true
		case ch == '.' || ch == '+' || ch == '-' || ch == 'e' || ch == 'E':
		default:
			return 0, false
		}
	}
	if !digits {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false
	}
	return f, true
}

// parseDate reads epoch seconds (digits, optionally signed) or a W3C ISO 8601
// date: YYYY-MM, YYYY-MM-DD, or a date with hh:mm, hh:mm:ss or hh:mm:ss.s and
// a zone (Z or ±hh:mm). All-digit values are epoch seconds, so the
// year-only form is not available.
func parseDate(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	digits := s
	if digits[0] == '-' || digits[0] == '+' {
		digits = digits[1:]
	}
	if digits != "" && allDigits(digits) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		return time.Unix(n, 0).UTC(), true
	}
	var layouts []string
	switch {
	case len(s) == len("2006-01"):
		layouts = []string{"2006-01"}
	case len(s) == len("2006-01-02"):
		layouts = []string{"2006-01-02"}
	case len(s) >= len("2006-01-02T15:04Z") && s[16] != ':':
		layouts = []string{"2006-01-02T15:04Z07:00"}
	default:
		layouts = []string{time.RFC3339}
	}
	for _, l := range layouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parsePrefix reads a CIDR range or a single address (a /32 or /128).
// IPv4-mapped IPv6 forms are read as IPv4, as request addresses are.
func parsePrefix(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		return p.Masked(), true
	}
	a, ok := parseAddr(s)
	if !ok {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, a.BitLen()), true
}

func parseAddr(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func isAlnumByte(ch byte) bool {
	return ('a' <= ch && ch <= 'z') || ('A' <= ch && ch <= 'Z') || ('0' <= ch && ch <= '9')
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isAlnumByte(s[i]) {
			return false
		}
	}
	return true
}

// lowerASCII lower-cases the ASCII letters of s, allocating only when s has
// an upper-case letter.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
