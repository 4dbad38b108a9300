// Command realms serves the realms function on its own.
package main

import (
	"github.com/realmiam/realmiam/functions/realms"
	"github.com/realmiam/realmiam/shared/serve"
)

func main() {
	serve.Main(func(d *serve.Deps) (serve.Function, error) { return realms.New(d) })
}
