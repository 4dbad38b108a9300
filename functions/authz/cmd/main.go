// Command authz runs the authz function on its own: under AWS Lambda, or as
// an HTTP server on PORT (see serve.Main).
package main

import (
	"github.com/realmiam/realmiam/functions/authz"
	"github.com/realmiam/realmiam/shared/serve"
)

func main() {
	serve.Main("authz", authz.New)
}
