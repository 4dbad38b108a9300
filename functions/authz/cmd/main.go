// Command authz serves the authz function on its own.
package main

import (
	"github.com/realmiam/realmiam/functions/authz"
	"github.com/realmiam/realmiam/shared/serve"
)

func main() {
	serve.Main(func(d *serve.Deps) (serve.Function, error) { return authz.New(d) })
}
