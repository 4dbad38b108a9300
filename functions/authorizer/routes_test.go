package authorizer

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseConfigRefuses(t *testing.T) {
	t.Parallel()
	route := func(method, path, action, resource string) string {
		return `[{"method": "` + method + `", "path": "` + path + `", "action": "` + action + `", "resource": "` + resource + `"}]`
	}
	ok := route("GET", "/a/{id}", "s:Get", "irn:s:{realm}:a/{id}")
	cases := []struct {
		name, realms, routes, err string
	}{
		{"no realms", "", ok, "IAM_AUTHORIZER_REALMS is required"},
		{"bad realm id", "acme,Not_A_Realm", ok, `"Not_A_Realm" is not a realm id`},
		{"not JSON", "acme", `{`, "routes:"},
		{"unknown field", "acme", `[{"method": "GET", "path": "/", "action": "s:A", "resource": "irn:s:{realm}:x", "realm": "b"}]`, "unknown field"},
		{"trailing data", "acme", ok + ` []`, "trailing data"},
		{"empty list", "acme", `[]`, "empty"},
		{"bad method", "acme", route("FETCH", "/a", "s:A", "irn:s:{realm}:a"), "routes[0]: method"},
		{"relative path", "acme", route("GET", "a", "s:A", "irn:s:{realm}:a"), "routes[0]: path"},
		{"empty segment", "acme", route("GET", "/a//b", "s:A", "irn:s:{realm}:a"), "empty segment"},
		{"part-segment parameter", "acme", route("GET", "/a/x{id}", "s:A", "irn:s:{realm}:a"), "whole segment"},
		{"unclosed parameter", "acme", route("GET", "/a/{id", "s:A", "irn:s:{realm}:a"), "whole segment"},
		{"greedy not last", "acme", route("GET", "/a/{p+}/b", "s:A", "irn:s:{realm}:a"), "last segment"},
		{"bad parameter name", "acme", route("GET", "/a/{i-d}", "s:A", "irn:s:{realm}:a"), "parameter name"},
		{"parameter twice", "acme", route("GET", "/a/{id}/{id}", "s:A", "irn:s:{realm}:a"), "twice"},
		{"greedy realm", "acme", route("GET", "/{realm+}", "s:A", "irn:s:{realm}:a"), "greedy"},
		{"action without service", "acme", route("GET", "/a", "GetA", "irn:s:{realm}:a"), "routes[0]: action"},
		{"wildcard action", "acme", route("GET", "/a", "s:Get*", "irn:s:{realm}:a"), "no wildcards"},
		{"not an IRN", "acme", route("GET", "/a", "s:A", "arn:s:{realm}:a"), "routes[0]: resource"},
		{"fixed realm in resource", "acme", route("GET", "/a", "s:A", "irn:s:acme:a"), "must be {realm}"},
		{"realm from the path elsewhere", "acme", route("GET", "/a/{t}", "s:A", "irn:s:{t}:a"), "must be {realm}"},
		{"placeholder in service", "acme", route("GET", "/a/{s}", "s:A", "irn:{s}:{realm}:a"), "plain name"},
		{"unknown placeholder", "acme", route("GET", "/a/{id}", "s:A", "irn:s:{realm}:a/{other}"), "{other} is not a parameter"},
		{"unmatched brace", "acme", route("GET", "/a/{id}", "s:A", "irn:s:{realm}:a/{id"), "unmatched {"},
		{"wildcard resource", "acme", route("GET", "/a", "s:A", "irn:s:{realm}:a/*"), "no wildcards"},
		{"empty resource part", "acme", route("GET", "/a", "s:A", "irn:s:{realm}:"), "routes[0]: resource"},
		{"duplicate route", "acme", `[
			{"method": "GET", "path": "/a/{x}", "action": "s:A", "resource": "irn:s:{realm}:a/{x}"},
			{"method": "get", "path": "/a/{y}", "action": "s:B", "resource": "irn:s:{realm}:a/{y}"}]`, "routes[1]: same method and path as routes[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig(tc.realms, []byte(tc.routes))
			require.ErrorContains(t, err, tc.err)
		})
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	routes := `[{"method": "GET", "path": "/a", "action": "s:A", "resource": "irn:s:{realm}:a"}]`
	file := filepath.Join(t.TempDir(), "routes.json")
	require.NoError(t, os.WriteFile(file, []byte(routes), 0o600))
	cases := []struct {
		name string
		env  map[string]string
		err  string
	}{
		{"inline", map[string]string{"IAM_AUTHORIZER_REALMS": "acme", "IAM_AUTHORIZER_ROUTES": routes}, ""},
		{"file", map[string]string{"IAM_AUTHORIZER_REALMS": "*", "IAM_AUTHORIZER_ROUTES_FILE": file}, ""},
		{"both", map[string]string{"IAM_AUTHORIZER_REALMS": "acme", "IAM_AUTHORIZER_ROUTES": routes, "IAM_AUTHORIZER_ROUTES_FILE": file}, "not both"},
		{"neither", map[string]string{"IAM_AUTHORIZER_REALMS": "acme"}, "is required"},
		{"missing file", map[string]string{"IAM_AUTHORIZER_REALMS": "acme", "IAM_AUTHORIZER_ROUTES_FILE": file + ".gone"}, "IAM_AUTHORIZER_ROUTES_FILE"},
		{"no realms", map[string]string{"IAM_AUTHORIZER_ROUTES": routes}, "IAM_AUTHORIZER_REALMS"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ConfigFromEnv(func(k string) string { return tc.env[k] })
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Len(t, cfg.Routes, 1)
		})
	}
}

func TestFind(t *testing.T) {
	t.Parallel()
	cfg, err := ParseConfig("acme", []byte(`[
		{"method": "GET", "path": "/", "action": "s:Root", "resource": "irn:s:{realm}:root"},
		{"method": "GET", "path": "/pets/{id}", "action": "s:GetPet", "resource": "irn:s:{realm}:pet/{id}"},
		{"method": "GET", "path": "/pets/mine", "action": "s:GetMine", "resource": "irn:s:{realm}:pet/mine"},
		{"method": "ANY", "path": "/pets/{id}", "action": "s:AnyPet", "resource": "irn:s:{realm}:pet/{id}"},
		{"method": "GET", "path": "/pets/{id}/toys/{toy}", "action": "s:GetToy", "resource": "irn:s:{realm}:pet/{id}/toy/{toy}"},
		{"method": "GET", "path": "/pets/{proxy+}", "action": "s:PetProxy", "resource": "irn:s:{realm}:pets/{proxy}"},
		{"method": "ANY", "path": "/{proxy+}", "action": "s:Everything", "resource": "irn:s:{realm}:any/{proxy}"},
		{"method": "GET", "path": "/t/{realm}/x", "action": "s:X", "resource": "irn:s:{realm}:x"}
	]`))
	require.NoError(t, err)
	cases := []struct {
		method, path, action, resource string
	}{
		{"GET", "/", "s:Root", "irn:s:acme:root"},
		{"GET", "/pets/42", "s:GetPet", "irn:s:acme:pet/42"},
		{"GET", "/pets/mine", "s:GetMine", "irn:s:acme:pet/mine"},
		{"DELETE", "/pets/42", "s:AnyPet", "irn:s:acme:pet/42"},
		{"GET", "/pets/42/toys/ball", "s:GetToy", "irn:s:acme:pet/42/toy/ball"},
		{"GET", "/pets/42/toys", "s:PetProxy", "irn:s:acme:pets/42/toys"},
		{"GET", "/pets/42/toys/ball/red", "s:PetProxy", "irn:s:acme:pets/42/toys/ball/red"},
		{"POST", "/pets/42/toys", "s:Everything", "irn:s:acme:any/pets/42/toys"},
		{"GET", "/pets/", "s:Everything", "irn:s:acme:any/pets/"},
		{"GET", "/t/acme/x", "s:X", "irn:s:acme:x"},
		{"GET", "/t/other/x", "s:X", "irn:s:acme:x"}, // the realm check is Authenticate's
		{"POST", "/", "", ""},
		// Segments are judged decoded, as a backend reads them.
		{"GET", "/pets/%73ecret", "s:GetPet", "irn:s:acme:pet/secret"},
		{"GET", "/pets/a%20b", "s:GetPet", "irn:s:acme:pet/a b"},
		// Paths a backend could read as another resource match nothing.
		{"GET", "/pets/42/toys/../../mine", "", ""},
		{"GET", "/pets/%2E%2E/mine", "", ""},
		{"GET", "/pets/./42", "", ""},
		{"GET", "/pets/a%2Fb", "", ""},
		{"GET", "/pets/a%5Cb", "", ""},
		{"GET", "/pets/%2573ecret", "", ""},
		{"GET", "/pets/%zz", "", ""},
		{"GET", "/pets/a%00b", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			m, ok := cfg.find(tc.method, tc.path)
			require.Equal(t, tc.action != "", ok)
			if !ok {
				return
			}
			require.Equal(t, tc.action, m.route.Action)
			require.Equal(t, tc.resource, m.fill("acme"))
		})
	}
}
