// Command policies runs the policies function on its own: under AWS Lambda, or as
// an HTTP server on PORT (see serve.Main).
package main

import (
	"github.com/realmiam/realmiam/functions/policies"
	"github.com/realmiam/realmiam/shared/serve"
)

func main() {
	serve.Main("policies", policies.New)
}
