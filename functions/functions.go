// Package functions lists every Realm IAM function, for the processes that
// serve them all together: the local server and the tests. Deployed
// functions each build only their own (functions/*/cmd).
package functions

import (
	"github.com/realmiam/realmiam/functions/accounts"
	"github.com/realmiam/realmiam/functions/auth"
	"github.com/realmiam/realmiam/functions/authz"
	"github.com/realmiam/realmiam/functions/groups"
	"github.com/realmiam/realmiam/functions/policies"
	"github.com/realmiam/realmiam/functions/realms"
	"github.com/realmiam/realmiam/functions/roles"
	"github.com/realmiam/realmiam/shared/serve"
)

// All builds every function over d. The realms function is also returned
// on its own: the processes that serve everything run its Bootstrap.
func All(d *serve.Deps) (*realms.Server, []serve.Function, error) {
	realmsFn, err := realms.New(d)
	if err != nil {
		return nil, nil, err
	}
	fns := []serve.Function{realmsFn}
	for _, build := range []func(*serve.Deps) (serve.Function, error){
		func(d *serve.Deps) (serve.Function, error) { return accounts.New(d) },
		func(d *serve.Deps) (serve.Function, error) { return auth.New(d) },
		func(d *serve.Deps) (serve.Function, error) { return authz.New(d) },
		func(d *serve.Deps) (serve.Function, error) { return groups.New(d) },
		func(d *serve.Deps) (serve.Function, error) { return roles.New(d) },
		func(d *serve.Deps) (serve.Function, error) { return policies.New(d) },
	} {
		fn, err := build(d)
		if err != nil {
			return nil, nil, err
		}
		fns = append(fns, fn)
	}
	return realmsFn, fns, nil
}
