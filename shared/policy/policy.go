// Package policy provides Realm IAM's policy engine: it parses identity
// policies written in the AWS IAM JSON grammar, compiles them once, and
// decides requests against the policies a principal holds.
//
// The engine is pure: no I/O, no context.Context, no clock (the caller puts
// the time in the request as iam:CurrentTime and iam:EpochTime).
//
// Semantics follow AWS IAM. Where AWS's documentation leaves a case open, the
// choice made here is written down next to the code that makes it and
// summarised below:
//
//   - Version must be "2012-10-17". "2008-10-17" (and a missing Version, which
//     AWS reads as 2008-10-17) is refused: under it policy variables are plain
//     text, which silently turns a Deny on irn:…/${iam:userid} into a Deny on
//     nothing.
//   - A document holds at most MaxSize characters, whitespace (space, tab, CR,
//     LF) not counted wherever it appears, inside strings too.
//   - Sid is optional, ASCII letters and digits, unique within the document.
//   - Condition operator names and the ForAnyValue:/ForAllValues: qualifiers
//     are matched without regard to case; element names are exact.
//   - Resources are IRNs, irn:{service}:{tenantId}:{resource}. As in AWS ARNs,
//     wildcards in the service and tenant parts stay inside their part, and
//     policy variables are allowed only in the resource part.
//   - A single-valued operator (no ForAnyValue:/ForAllValues:) applied to a
//     key with several values matches when any value matches; its negated
//     form is its exact negation (no value matches).
//   - A key set with no values behaves as a missing key.
//   - A request value that does not parse as the operator's type (a number,
//     a date, an IP address, a boolean) matches no policy value, so negated
//     operators are true for it.
//   - IfExists under ForAnyValue:/ForAllValues: changes nothing: a missing key
//     makes ForAllValues true and ForAnyValue false either way.
//   - Policy variables (${key}, ${key, 'default'}, and the escapes ${*},
//     ${?}, ${$}) may appear in the resource part of Resource and NotResource
//     patterns and in String* and Bool condition values. Any single-valued
//     context key may be a variable, multi-valued ones never (AWS's rules);
//     a variable's value is literal text, never a wildcard.
//   - Values: numbers are decimal (sign, fraction, exponent); dates are epoch
//     seconds (all digits) or W3C ISO 8601 from YYYY-MM to fractional
//     seconds with a zone; IP values are addresses or CIDR ranges, IPv4 and
//     IPv6, an IPv4-mapped address read as IPv4.
//   - A policy variable without a value (and without a default) matches
//     nothing: a Resource pattern holding one is skipped, a NotResource
//     element holding one does not match (the statement does not apply), a
//     positive string condition value holding one is skipped, and a negated
//     string condition holding one is false. An unresolved variable never
//     makes a statement apply.
package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/realmiam/realmiam/shared/problem"
)

// Version is the policy language version every document must declare.
const Version = "2012-10-17"

// MaxSize is the most characters a document may hold, whitespace not
// counted (IAM's limit for a managed policy).
const MaxSize = 6144

// maxFieldErrors bounds the field errors reported for one document.
const maxFieldErrors = 20

// maxDepth bounds JSON nesting; a valid document nests five levels deep.
const maxDepth = 16

// Effect is a statement's effect.
type Effect string

// The two effects.
const (
	Allow Effect = "Allow"
	Deny  Effect = "Deny"
)

// Document is a parsed policy document. Every list element is a list even
// where the JSON held a single string; Parse has validated it, and json.Marshal
// writes it back in the same grammar.
type Document struct {
	Version   string      `json:"Version"`
	ID        string      `json:"Id,omitempty"`
	Statement []Statement `json:"Statement"`

	// singleStatement records that Statement was one object, for field paths.
	singleStatement bool
}

// Statement is one statement of a document. Exactly one of Action and
// NotAction, and exactly one of Resource and NotResource, is set.
type Statement struct {
	Sid         string    `json:"Sid,omitempty"`
	Effect      Effect    `json:"Effect"`
	Action      []string  `json:"Action,omitempty"`
	NotAction   []string  `json:"NotAction,omitempty"`
	Resource    []string  `json:"Resource,omitempty"`
	NotResource []string  `json:"NotResource,omitempty"`
	Condition   Condition `json:"Condition,omitempty"`
}

// Condition maps an operator ("StringEquals", "ForAnyValue:StringLikeIfExists")
// to condition keys and, for each key, the policy values. JSON numbers and
// booleans in a condition are kept as their text.
type Condition map[string]map[string][]string

// Parse parses and validates a policy document. Errors are *problem.Error of
// kind Invalid: code "policy_too_large" when the document holds more than
// MaxSize characters, whitespace not counted; code "invalid_policy" otherwise,
// with one FieldError per problem found (at most 20). Field paths are relative
// to the document ("Statement[1].Action", "Statement.Condition.Bool.k:x"); ""
// names the document itself.
func Parse(raw []byte) (*Document, error) {
	if n := size(raw); n > MaxSize {
		return nil, &problem.Error{
			Kind:   problem.Invalid,
			Code:   "policy_too_large",
			Detail: fmt.Sprintf("the policy document holds %d characters (whitespace not counted); at most %d are allowed", n, MaxSize),
			Fields: []problem.FieldError{{Field: "", Reason: fmt.Sprintf("holds %d characters, whitespace not counted; at most %d are allowed", n, MaxSize)}},
		}
	}
	return parse(raw)
}

// parse is Parse without the size limit.
func parse(raw []byte) (*Document, error) {
	v, err := decodeJSON(raw)
	if err != nil {
		return nil, invalid([]problem.FieldError{{Field: "", Reason: err.Error()}})
	}
	p := &parser{}
	doc := p.document(v)
	// The compiler checks values; a field the grammar pass already faulted
	// is not reported twice.
	_, errs := compileStatements(doc)
	for _, e := range errs {
		if !slices.ContainsFunc(p.errs, func(f problem.FieldError) bool { return f.Field == e.Field }) {
			p.fail(e.Field, e.Reason)
		}
	}
	if len(p.errs) > 0 {
		return nil, invalid(p.errs)
	}
	return doc, nil
}

// size counts the characters of raw that are not whitespace (space, tab,
// CR, LF). It counts characters as they are, not as they were encoded: a
// UTF-8 sequence counts once (continuation bytes are skipped), and so does
// an escape inside a string (\u00e9 is é, \uD83D\uDE00 one emoji, \n a
// newline and so not counted), so that a client's choice of JSON encoder
// does not decide whether a document fits.
func size(raw []byte) int {
	n, inString := 0, false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case inString && c == '\\' && i+1 < len(raw):
			i++
			switch raw[i] {
			case 'n', 't', 'r':
			case 'u':
				r := hex4(raw[i+1:])
				if r >= 0 {
					i += 4
				}
				if 0xD800 <= r && r < 0xDC00 && i+2 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
					if lo := hex4(raw[i+3:]); 0xDC00 <= lo && lo < 0xE000 {
						i += 6
					}
				}
				if r != ' ' && r != '\t' && r != '\n' && r != '\r' {
					n++
				}
			default:
				n++
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
		case c&0xC0 == 0x80:
		default:
			if c == '"' {
				inString = !inString
			}
			n++
		}
	}
	return n
}

// hex4 is the value of the four hex digits that b starts with, or -1.
func hex4(b []byte) int {
	if len(b) < 4 {
		return -1
	}
	v := 0
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			v = v<<4 | int(c-'0')
		case 'a' <= c && c <= 'f':
			v = v<<4 | int(c-'a'+10)
		case 'A' <= c && c <= 'F':
			v = v<<4 | int(c-'A'+10)
		default:
			return -1
		}
	}
	return v
}

func invalid(fields []problem.FieldError) *problem.Error {
	if len(fields) > maxFieldErrors {
		fields = fields[:maxFieldErrors]
	}
	detail := "the policy document is invalid"
	if len(fields) > 0 {
		f := fields[0]
		if f.Field == "" {
			detail += ": " + f.Reason
		} else {
			detail += ": " + f.Field + ": " + f.Reason
		}
	}
	return &problem.Error{Kind: problem.Invalid, Code: "invalid_policy", Detail: detail, Fields: fields}
}

// A jval is a decoded JSON value that keeps object members in order and
// remembers duplicated member names, which encoding/json would silently merge.
type jval struct {
	kind jkind
	s    string // string, number text, "true"/"false"
	arr  []jval
	obj  []jmember
	dup  string // the first member name seen twice in this object
}

type jmember struct {
	key string
	val jval
}

type jkind uint8

const (
	jNull jkind = iota
	jString
	jNumber
	jBool
	jArray
	jObject
)

func (k jkind) String() string {
	return [...]string{"null", "a string", "a number", "a boolean", "a list", "an object"}[k]
}

func decodeJSON(raw []byte) (jval, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	v, err := readValue(dec, 0)
	if err != nil {
		return jval{}, jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return jval{}, errors.New("malformed JSON: unexpected data after the document")
	}
	return v, nil
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("malformed JSON at offset %d: %s", syn.Offset, syn.Error())
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("malformed JSON: unexpected end of the document")
	default:
		return fmt.Errorf("malformed JSON: %s", err.Error())
	}
}

var errTooDeep = errors.New("nested too deeply")

func readValue(dec *json.Decoder, depth int) (jval, error) {
	if depth > maxDepth {
		return jval{}, errTooDeep
	}
	tok, err := dec.Token()
	if err != nil {
		return jval{}, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			v := jval{kind: jArray, arr: []jval{}}
			for dec.More() {
				e, err := readValue(dec, depth+1)
				if err != nil {
					return jval{}, err
				}
				v.arr = append(v.arr, e)
			}
			_, err := dec.Token() // ']'
			return v, err
		}
		// '{'; the decoder never returns a closing delimiter here.
		v := jval{kind: jObject}
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return jval{}, err
			}
			key, _ := kt.(string)
			if seen[key] && v.dup == "" {
				v.dup = key
			}
			seen[key] = true
			e, err := readValue(dec, depth+1)
			if err != nil {
				return jval{}, err
			}
			v.obj = append(v.obj, jmember{key: key, val: e})
		}
		_, err := dec.Token() // '}'
		return v, err
	case string:
		return jval{kind: jString, s: t}, nil
	case json.Number:
		return jval{kind: jNumber, s: t.String()}, nil
	case bool:
		return jval{kind: jBool, s: strconv.FormatBool(t)}, nil
	default:
		return jval{kind: jNull}, nil
	}
}

// parser turns the decoded JSON into a Document, collecting field errors.
// Shape errors (types, unknown or repeated elements) are found here; missing
// elements and bad values are found when the statements are compiled, which
// also checks documents built by hand.
type parser struct {
	errs []problem.FieldError
}

func (p *parser) fail(field, reason string) {
	if len(p.errs) < maxFieldErrors {
		p.errs = append(p.errs, problem.FieldError{Field: field, Reason: reason})
	}
}

func (p *parser) document(v jval) *Document {
	doc := &Document{}
	if v.kind != jObject {
		p.fail("", "must be a JSON object, not "+v.kind.String())
		return doc
	}
	if v.dup != "" {
		p.fail(v.dup, "appears more than once")
	}
	for _, m := range v.obj {
		switch m.key {
		case "Version":
			if m.val.kind != jString {
				p.fail("Version", `must be the string "2012-10-17"`)
				continue
			}
			doc.Version = m.val.s
		case "Id":
			if m.val.kind != jString {
				p.fail("Id", "must be a string")
				continue
			}
			doc.ID = m.val.s
		case "Statement":
			switch m.val.kind {
			case jObject:
				doc.singleStatement = true
				doc.Statement = []Statement{p.statement(m.val, "Statement")}
			case jArray:
				for i, e := range m.val.arr {
					doc.Statement = append(doc.Statement, p.statement(e, fmt.Sprintf("Statement[%d]", i)))
				}
			default:
				p.fail("Statement", "must be an object or a list of objects, not "+m.val.kind.String())
			}
		default:
			p.fail(m.key, "is not an element of a policy document (Version, Id, Statement)")
		}
	}
	return doc
}

func (p *parser) statement(v jval, path string) Statement {
	var s Statement
	if v.kind != jObject {
		p.fail(path, "must be an object, not "+v.kind.String())
		return s
	}
	if v.dup != "" {
		p.fail(path+"."+v.dup, "appears more than once")
	}
	for _, m := range v.obj {
		field := path + "." + m.key
		switch m.key {
		case "Sid":
			if m.val.kind != jString {
				p.fail(field, "must be a string")
				continue
			}
			s.Sid = m.val.s
		case "Effect":
			if m.val.kind != jString {
				p.fail(field, `must be "Allow" or "Deny"`)
				continue
			}
			s.Effect = Effect(m.val.s)
		case "Action":
			s.Action = p.stringList(m.val, field)
		case "NotAction":
			s.NotAction = p.stringList(m.val, field)
		case "Resource":
			s.Resource = p.stringList(m.val, field)
		case "NotResource":
			s.NotResource = p.stringList(m.val, field)
		case "Condition":
			s.Condition = p.condition(m.val, field)
		case "Principal", "NotPrincipal":
			p.fail(field, "is not allowed in an identity policy: the policy applies to whoever holds it")
		default:
			p.fail(field, "is not an element of a statement (Sid, Effect, Action, NotAction, Resource, NotResource, Condition)")
		}
	}
	return s
}

// stringList reads a string or a non-empty list of strings. An empty result
// is returned as a non-nil empty slice so that the element counts as given.
func (p *parser) stringList(v jval, field string) []string {
	switch v.kind {
	case jString:
		return []string{v.s}
	case jArray:
		out := make([]string, 0, len(v.arr))
		if len(v.arr) == 0 {
			p.fail(field, "must not be an empty list")
		}
		for i, e := range v.arr {
			if e.kind != jString {
				p.fail(fmt.Sprintf("%s[%d]", field, i), "must be a string, not "+e.kind.String())
				continue
			}
			out = append(out, e.s)
		}
		return out
	default:
		p.fail(field, "must be a string or a list of strings, not "+v.kind.String())
		return []string{}
	}
}

func (p *parser) condition(v jval, field string) Condition {
	if v.kind != jObject {
		p.fail(field, "must be an object mapping condition operators to keys, not "+v.kind.String())
		return nil
	}
	if v.dup != "" {
		p.fail(field+"."+v.dup, "appears more than once")
	}
	c := Condition{}
	for _, op := range v.obj {
		opField := field + "." + op.key
		if op.val.kind != jObject {
			p.fail(opField, "must be an object mapping condition keys to values, not "+op.val.kind.String())
			continue
		}
		if op.val.dup != "" {
			p.fail(opField+"."+op.val.dup, "appears more than once")
		}
		if len(op.val.obj) == 0 {
			p.fail(opField, "must name at least one condition key")
		}
		keys := map[string][]string{}
		for _, k := range op.val.obj {
			keys[k.key] = p.conditionValues(k.val, opField+"."+k.key)
		}
		c[op.key] = keys
	}
	return c
}

// conditionValues reads a condition's values: a string, number or boolean,
// or a non-empty list of them.
func (p *parser) conditionValues(v jval, field string) []string {
	scalar := func(e jval) bool { return e.kind == jString || e.kind == jNumber || e.kind == jBool }
	switch {
	case scalar(v):
		return []string{v.s}
	case v.kind == jArray:
		if len(v.arr) == 0 {
			p.fail(field, "must not be an empty list")
		}
		out := make([]string, 0, len(v.arr))
		for i, e := range v.arr {
			if !scalar(e) {
				p.fail(fmt.Sprintf("%s[%d]", field, i), "must be a string, number or boolean, not "+e.kind.String())
				continue
			}
			out = append(out, e.s)
		}
		return out
	default:
		p.fail(field, "must be a string, number or boolean, or a list of them, not "+v.kind.String())
		return nil
	}
}

// statementPath names statement i of doc in field errors.
func (d *Document) statementPath(i int) string {
	if d.singleStatement && len(d.Statement) == 1 {
		return "Statement"
	}
	return "Statement[" + strconv.Itoa(i) + "]"
}

// isKeyChar reports whether c may appear in a condition key or a policy
// variable name: ASCII letters, digits and : / _ . - + = @.
func isKeyChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte(":/_.-+=@", c) >= 0
}
