// Command auth runs the auth function (sign-in, refresh, logout, JWKS and
// discovery) on its own: under AWS Lambda, or as an HTTP server on PORT (see
// serve.Main).
package main

import (
	"github.com/realmiam/realmiam/functions/auth"
	"github.com/realmiam/realmiam/shared/serve"
)

func main() {
	serve.Main("auth", auth.New)
}
