// Command authorizer runs the API Gateway Lambda authorizer.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/realmiam/realmiam/functions/authorizer"
	"github.com/realmiam/realmiam/shared/serve"
)

func main() {
	if err := realMain(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// realMain builds everything once, at init, so that warm invocations reuse
// the client, the caches and the compiled routes; then it hands the
// invocations to the Lambda runtime, which does not return.
func realMain(ctx context.Context) error {
	routes, err := authorizer.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	d, err := serve.Open(ctx, "authorizer", os.Getenv)
	if err != nil {
		return err
	}
	a, err := authorizer.New(d, routes)
	if err != nil {
		return err
	}
	lambda.Start(a.Handle)
	return nil
}
