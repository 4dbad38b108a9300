// Command roles serves the roles function on its own.
package main

import (
	"github.com/realmiam/realmiam/functions/roles"
	"github.com/realmiam/realmiam/shared/serve"
)

func main() {
	serve.Main(func(d *serve.Deps) (serve.Function, error) { return roles.New(d) })
}
