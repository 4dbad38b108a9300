// Command groups serves the groups function on its own.
package main

import (
	"github.com/realmiam/realmiam/functions/groups"
	"github.com/realmiam/realmiam/shared/serve"
)

func main() {
	serve.Main(func(d *serve.Deps) (serve.Function, error) { return groups.New(d) })
}
