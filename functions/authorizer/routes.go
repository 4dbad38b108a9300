package authorizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/realmiam/realmiam/shared/tenant"
)

// Config is what the authorizer serves: the realms whose tokens it accepts
// and the routes it knows.
type Config struct {
	// Realms are the realms whose tokens are accepted; empty when AnyRealm.
	Realms []string
	// AnyRealm accepts a token of every realm (IAM_AUTHORIZER_REALMS=*).
	AnyRealm bool
	Routes   []Route
}

// Route maps API Gateway requests to the IAM question asked about them.
type Route struct {
	Method   string `json:"method"`   // GET, POST, ... or ANY
	Path     string `json:"path"`     // /invoices/{id}, /files/{key+}
	Action   string `json:"action"`   // billing:GetInvoice
	Resource string `json:"resource"` // irn:billing:{realm}:invoice/{id}

	segments []segment
	resource []piece
	// realmParam is set when the path has a {realm} parameter.
	realmParam bool
}

// segment is one part of a route's path: a literal, a {param} (one
// non-empty segment) or a final {param+} (the rest of the path).
type segment struct {
	literal string
	param   string
	greedy  bool
}

// piece is a literal part of a resource template or the name of the value
// that fills it.
type piece struct {
	text  string
	param bool
}

// ConfigFromEnv reads the configuration: IAM_AUTHORIZER_REALMS, and the
// routes from IAM_AUTHORIZER_ROUTES (JSON) or IAM_AUTHORIZER_ROUTES_FILE (a
// path to the same JSON), exactly one of the two.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	inline, file := getenv("IAM_AUTHORIZER_ROUTES"), getenv("IAM_AUTHORIZER_ROUTES_FILE")
	var routes []byte
	switch {
	case inline != "" && file != "":
		return Config{}, errors.New("authorizer: set IAM_AUTHORIZER_ROUTES or IAM_AUTHORIZER_ROUTES_FILE, not both")
	case inline != "":
		routes = []byte(inline)
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return Config{}, fmt.Errorf("authorizer: IAM_AUTHORIZER_ROUTES_FILE: %w", err)
		}
		routes = b
	default:
		return Config{}, errors.New("authorizer: IAM_AUTHORIZER_ROUTES or IAM_AUTHORIZER_ROUTES_FILE is required")
	}
	return ParseConfig(getenv("IAM_AUTHORIZER_REALMS"), routes)
}

// ParseConfig checks and compiles a configuration: realms is a
// comma-separated list of realm ids or "*", routes the JSON list of routes.
// Every mistake is an error naming the route and field, so that a
// misconfigured authorizer fails at start instead of denying at run time.
func ParseConfig(realms string, routes []byte) (Config, error) {
	var c Config
	realms = strings.TrimSpace(realms)
	switch realms {
	case "":
		return Config{}, errors.New("authorizer: IAM_AUTHORIZER_REALMS is required: the realm ids this API serves, comma-separated, or *")
	case "*":
		c.AnyRealm = true
	default:
		for id := range strings.SplitSeq(realms, ",") {
			id = strings.TrimSpace(id)
			if !tenant.ValidID(id) {
				return Config{}, fmt.Errorf("authorizer: IAM_AUTHORIZER_REALMS: %q is not a realm id", id)
			}
			if !slices.Contains(c.Realms, id) {
				c.Realms = append(c.Realms, id)
			}
		}
	}

	dec := json.NewDecoder(bytes.NewReader(routes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c.Routes); err != nil {
		return Config{}, fmt.Errorf("authorizer: routes: %w", err)
	}
	if dec.More() {
		return Config{}, errors.New("authorizer: routes: trailing data after the list")
	}
	if len(c.Routes) == 0 {
		return Config{}, errors.New("authorizer: routes: the list is empty, so every request would be denied")
	}
	seen := map[string]int{}
	for i := range c.Routes {
		r := &c.Routes[i]
		if err := r.compile(); err != nil {
			return Config{}, fmt.Errorf("authorizer: routes[%d]: %w", i, err)
		}
		key := r.Method + " " + r.shape()
		if j, dup := seen[key]; dup {
			return Config{}, fmt.Errorf("authorizer: routes[%d]: same method and path as routes[%d]", i, j)
		}
		seen[key] = i
	}
	return c, nil
}

// accepts reports whether tokens of realm may be used at all.
func (c *Config) accepts(realm string) bool {
	return c.AnyRealm || slices.Contains(c.Realms, realm)
}

var methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "ANY"}

func (r *Route) compile() error {
	r.Method = strings.ToUpper(strings.TrimSpace(r.Method))
	if !slices.Contains(methods, r.Method) {
		return fmt.Errorf("method: %q is not one of %s", r.Method, strings.Join(methods, ", "))
	}
	params, err := r.compilePath()
	if err != nil {
		return fmt.Errorf("path: %w", err)
	}
	if err := checkAction(r.Action); err != nil {
		return fmt.Errorf("action: %w", err)
	}
	if err := r.compileResource(params); err != nil {
		return fmt.Errorf("resource: %w", err)
	}
	return nil
}

func (r *Route) compilePath() (params []string, err error) {
	p, ok := strings.CutPrefix(r.Path, "/")
	if !ok {
		return nil, fmt.Errorf("%q does not start with /", r.Path)
	}
	if p == "" {
		return nil, nil // the root
	}
	parts := strings.Split(p, "/")
	for i, part := range parts {
		if part == "" {
			return nil, fmt.Errorf("%q has an empty segment", r.Path)
		}
		name, isParam := strings.CutPrefix(part, "{")
		if !isParam {
			if strings.ContainsAny(part, "{}") {
				return nil, fmt.Errorf("segment %q: a parameter must be a whole segment", part)
			}
			r.segments = append(r.segments, segment{literal: part})
			continue
		}
		name, ok := strings.CutSuffix(name, "}")
		if !ok {
			return nil, fmt.Errorf("segment %q: a parameter must be a whole segment", part)
		}
		name, greedy := strings.CutSuffix(name, "+")
		if greedy && i != len(parts)-1 {
			return nil, fmt.Errorf("segment %q: a greedy parameter must be the last segment", part)
		}
		if !validName(name) {
			return nil, fmt.Errorf("segment %q: a parameter name is letters, digits and _", part)
		}
		if slices.Contains(params, name) {
			return nil, fmt.Errorf("parameter {%s} appears twice", name)
		}
		if name == "realm" {
			if greedy {
				return nil, errors.New("{realm+} cannot be greedy")
			}
			r.realmParam = true
		}
		params = append(params, name)
		r.segments = append(r.segments, segment{param: name, greedy: greedy})
	}
	return params, nil
}

// shape is the path with parameter names dropped: two routes of the same
// method and shape would match the same requests.
func (r *Route) shape() string {
	var b strings.Builder
	for _, s := range r.segments {
		b.WriteByte('/')
		switch {
		case s.greedy:
			b.WriteString("{+}")
		case s.param != "":
			b.WriteString("{}")
		default:
			b.WriteString(s.literal)
		}
	}
	return b.String()
}

func checkAction(a string) error {
	service, op, ok := strings.Cut(a, ":")
	if !ok || service == "" || op == "" || strings.Contains(op, ":") {
		return fmt.Errorf("%q is not service:Operation", a)
	}
	if strings.ContainsAny(a, "*?{}$ ") {
		return fmt.Errorf("%q: an action names one operation (no wildcards or placeholders)", a)
	}
	return nil
}

// compileResource parses an IRN template. Its tenant part must be exactly
// {realm}: the resource then always lies in the realm whose policies decide,
// so that no realm's policies can grant access to another realm's resources.
func (r *Route) compileResource(params []string) error {
	parts := strings.SplitN(r.Resource, ":", 4)
	if len(parts) != 4 || parts[0] != "irn" || parts[3] == "" {
		return fmt.Errorf("%q is not irn:{service}:{realm}:{resource}", r.Resource)
	}
	service := parts[1]
	if service == "" || strings.ContainsAny(service, "{}*?$") {
		return fmt.Errorf("%q: the service part is a plain name", r.Resource)
	}
	if parts[2] != "{realm}" {
		return fmt.Errorf("%q: the realm part must be {realm}, the caller's realm", r.Resource)
	}
	r.resource = []piece{{text: "irn:" + service + ":"}, {text: "realm", param: true}, {text: ":"}}
	rest := parts[3]
	for rest != "" {
		i := strings.IndexAny(rest, "{}")
		if i < 0 {
			r.resource = append(r.resource, piece{text: rest})
			break
		}
		if rest[i] == '}' {
			return fmt.Errorf("%q: unmatched }", r.Resource)
		}
		if i > 0 {
			r.resource = append(r.resource, piece{text: rest[:i]})
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return fmt.Errorf("%q: unmatched {", r.Resource)
		}
		name := rest[i+1 : i+j]
		if name != "realm" && !slices.Contains(params, name) {
			return fmt.Errorf("%q: {%s} is not a parameter of the path", r.Resource, name)
		}
		r.resource = append(r.resource, piece{text: name, param: true})
		rest = rest[i+j+1:]
	}
	if strings.ContainsAny(parts[3], "*?") {
		return fmt.Errorf("%q: a resource names one thing (no wildcards)", r.Resource)
	}
	return nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// match is a route matched by a request, with the values of its parameters.
type match struct {
	route  *Route
	values map[string]string
}

// find returns the route for method and path, the most specific when
// several match, as API Gateway chooses: at the first segment where two
// routes differ, a literal beats a {param}, which beats a {param+}; then a
// route of the exact method beats an ANY route. ok is false when no route
// matches.
func (c *Config) find(method, path string) (m match, ok bool) {
	parts, ok := segments(path)
	if !ok {
		return match{}, false
	}
	var best *Route
	var bestValues map[string]string
	for i := range c.Routes {
		r := &c.Routes[i]
		if r.Method != method && r.Method != "ANY" {
			continue
		}
		values, ok := r.match(parts)
		if !ok {
			continue
		}
		if best == nil || r.moreSpecific(best) {
			best, bestValues = r, values
		}
	}
	if best == nil {
		return match{}, false
	}
	return match{route: best, values: bestValues}, true
}

// segments splits a request path into its percent-decoded segments, the
// values the resource is filled with. ok is false, and the request is
// denied, for a path a backend could read as another resource than the one
// judged: a segment that does not decode, or that decodes to "." or "..",
// or to text holding "/", "\\", "%" (encoded twice) or a control character.
// Without this, /invoices/%73ecret would be judged as invoice/%73ecret and
// escape a Deny on invoice/secret*, and /files/public/../private/x as a file
// under public/.
func segments(path string) (parts []string, ok bool) {
	p, _ := strings.CutPrefix(path, "/")
	if p == "" {
		return nil, true
	}
	parts = strings.Split(p, "/")
	for i, raw := range parts {
		seg, err := url.PathUnescape(raw)
		if err != nil || seg == "." || seg == ".." || strings.ContainsAny(seg, "/\\%") {
			return nil, false
		}
		for _, c := range seg {
			if c < 0x20 || c == 0x7f {
				return nil, false
			}
		}
		parts[i] = seg
	}
	return parts, true
}

func (r *Route) match(parts []string) (map[string]string, bool) {
	values := map[string]string{}
	for i, s := range r.segments {
		if s.greedy {
			rest := strings.Join(parts[min(i, len(parts)):], "/")
			if rest == "" {
				return nil, false
			}
			values[s.param] = rest
			return values, true
		}
		if i >= len(parts) {
			return nil, false
		}
		switch {
		case s.param != "":
			if parts[i] == "" {
				return nil, false
			}
			values[s.param] = parts[i]
		case s.literal != parts[i]:
			return nil, false
		}
	}
	return values, len(parts) == len(r.segments)
}

// moreSpecific reports whether r beats o for a request both match.
func (r *Route) moreSpecific(o *Route) bool {
	for i := 0; i < len(r.segments) && i < len(o.segments); i++ {
		if a, b := r.segments[i].rank(), o.segments[i].rank(); a != b {
			return a < b
		}
	}
	return r.Method != "ANY" && o.Method == "ANY"
}

func (s segment) rank() int {
	switch {
	case s.greedy:
		return 2
	case s.param != "":
		return 1
	}
	return 0
}

// fill is the route's resource for realm and the matched values.
func (m match) fill(realm string) string {
	var b strings.Builder
	for _, p := range m.route.resource {
		switch {
		case !p.param:
			b.WriteString(p.text)
		case p.text == "realm":
			b.WriteString(realm)
		default:
			b.WriteString(m.values[p.text])
		}
	}
	return b.String()
}
