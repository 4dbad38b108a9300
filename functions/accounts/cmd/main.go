// Command accounts serves the accounts function on its own.
package main

import (
	"github.com/realmiam/realmiam/functions/accounts"
	"github.com/realmiam/realmiam/shared/serve"
)

func main() {
	serve.Main(func(d *serve.Deps) (serve.Function, error) { return accounts.New(d) })
}
