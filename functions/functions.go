// Package functions lists every Realm IAM HTTP function, for the processes
// that serve them all together: the local server and the tests. Deployed
// functions each build only their own (functions/*/cmd); the API Gateway
// authorizer takes events, not HTTP requests, and is not listed.
package functions

import (
	"sort"

	"github.com/realmiam/realmiam/functions/accounts"
	"github.com/realmiam/realmiam/functions/auth"
	"github.com/realmiam/realmiam/functions/authz"
	"github.com/realmiam/realmiam/functions/groups"
	"github.com/realmiam/realmiam/functions/policies"
	"github.com/realmiam/realmiam/functions/realms"
	"github.com/realmiam/realmiam/functions/roles"
	"github.com/realmiam/realmiam/shared/serve"
)

// Builders builds each function by its name (its x-function), as its
// cmd/main.go does.
func Builders() map[string]func(*serve.Deps) (serve.Function, error) {
	return map[string]func(*serve.Deps) (serve.Function, error){
		"realms":   func(d *serve.Deps) (serve.Function, error) { return realms.New(d) },
		"accounts": func(d *serve.Deps) (serve.Function, error) { return accounts.New(d) },
		"auth":     func(d *serve.Deps) (serve.Function, error) { return auth.New(d) },
		"authz":    func(d *serve.Deps) (serve.Function, error) { return authz.New(d) },
		"groups":   func(d *serve.Deps) (serve.Function, error) { return groups.New(d) },
		"roles":    func(d *serve.Deps) (serve.Function, error) { return roles.New(d) },
		"policies": func(d *serve.Deps) (serve.Function, error) { return policies.New(d) },
	}
}

// All builds every function over d. The realms function is also returned
// on its own: the processes that serve everything run its Bootstrap.
func All(d *serve.Deps) (*realms.Server, []serve.Function, error) {
	realmsFn, err := realms.New(d)
	if err != nil {
		return nil, nil, err
	}
	fns := []serve.Function{realmsFn}
	builders := Builders()
	names := make([]string, 0, len(builders))
	for name := range builders {
		if name != "realms" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		fn, err := builders[name](d)
		if err != nil {
			return nil, nil, err
		}
		fns = append(fns, fn)
	}
	return realmsFn, fns, nil
}
