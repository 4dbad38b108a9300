// Command auth serves the auth function (sign-in, refresh, logout, JWKS and
// discovery) as its own process.
package main

import (
	"github.com/realmiam/realmiam/functions/auth"
	"github.com/realmiam/realmiam/shared/serve"
)

func main() {
	serve.Main(func(d *serve.Deps) (serve.Function, error) { return auth.New(d) })
}
