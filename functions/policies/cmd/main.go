// Command policies serves the policies function on its own.
package main

import (
	"github.com/realmiam/realmiam/functions/policies"
	"github.com/realmiam/realmiam/shared/serve"
)

func main() {
	serve.Main(func(d *serve.Deps) (serve.Function, error) { return policies.New(d) })
}
