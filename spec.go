// Package realmiam carries Realm IAM's API contract, openapi.yaml, so that
// every function binary routes and validates by the same document.
package realmiam

import _ "embed"

// Spec is openapi.yaml, the single source of routes, schemas and the IAM
// action of each operation.
//
//go:embed openapi.yaml
var Spec []byte
