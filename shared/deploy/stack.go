package deploy

import (
	"fmt"
	"strconv"
)

type stackFile struct {
	Version   string                   `yaml:"version"`
	Provider  stackProvider            `yaml:"provider"`
	Functions map[string]stackFunction `yaml:"functions"`
}

type stackProvider struct {
	Name    string `yaml:"name"`
	Gateway string `yaml:"gateway"`
}

type stackFunction struct {
	Lang                   string            `yaml:"lang"`
	Handler                string            `yaml:"handler"`
	Image                  string            `yaml:"image"`
	BuildArgs              map[string]string `yaml:"build_args"`
	Environment            map[string]string `yaml:"environment"`
	EnvironmentFile        []string          `yaml:"environment_file"`
	ReadOnlyRootFilesystem bool              `yaml:"readonly_root_filesystem"`
}

// SecretsFile is the environment file every OpenFaaS function reads its
// secrets from (MONGODB_URI, IAM_MASTER_KEY). It is git-ignored. The
// functions read their configuration from the environment only (DESIGN.md
// §8), so OpenFaaS secrets, which are mounted as files, would not reach them.
const SecretsFile = "stack.secrets.yml"

// StackName is the OpenFaaS name of function n.
func StackName(n string) string { return "realmiam-" + n }

const stackComment = `#
# One OpenFaaS function per function group of openapi.yaml, each an image
# built by the one Dockerfile (build arg FUNCTION) with of-watchdog in http
# mode in front of the function's own HTTP server.
#
#   ` + SecretsFile + ` (git-ignored) holds the secrets:
#     environment:
#       MONGODB_URI: mongodb+srv://...
#       IAM_MASTER_KEY: <32 random bytes, base64>
#       IAM_ADMIN_PASSWORD: <first administrator's, needed by realms' first start>
#   REGISTRY=ghcr.io/you IAM_PUBLIC_URL=https://iam.example.com faas-cli up
#
# The gateway serves each function under /function/<name>/; one public base URL
# for the whole API needs a proxy that routes the spec's paths to the functions.
`

// Stack renders stack.yml for fns.
func Stack(fns []Function) ([]byte, error) {
	s := stackFile{
		Version:   "1.0",
		Provider:  stackProvider{Name: "openfaas", Gateway: "http://127.0.0.1:8080"},
		Functions: map[string]stackFunction{},
	}
	for _, fn := range fns {
		if fn.Name == Authorizer {
			continue // it answers API Gateway authorizer events only: Lambda, not OpenFaaS
		}
		timeout := strconv.Itoa(sizeOf(fn.Name).TimeoutS) + "s"
		n := StackName(fn.Name)
		if _, dup := s.Functions[n]; dup {
			return nil, fmt.Errorf("deploy.Stack: function name %s is used twice", n)
		}
		s.Functions[n] = stackFunction{
			Lang:      "dockerfile",
			Handler:   ".",
			Image:     "${REGISTRY:-realmiam}/" + n + ":${TAG:-latest}",
			BuildArgs: map[string]string{"FUNCTION": fn.Name},
			Environment: map[string]string{
				"IAM_PUBLIC_URL": "${IAM_PUBLIC_URL:-http://127.0.0.1:8080}",
				"IAM_CORE_DB":    "${IAM_CORE_DB:-realmiam_core}",
				"LOG_LEVEL":      "${LOG_LEVEL:-INFO}",
				// of-watchdog: how long a request may take end to end.
				"exec_timeout":  timeout,
				"read_timeout":  timeout,
				"write_timeout": timeout,
			},
			EnvironmentFile:        []string{SecretsFile},
			ReadOnlyRootFilesystem: true,
		}
	}
	b, err := encode(s, stackComment)
	if err != nil {
		return nil, fmt.Errorf("deploy.Stack: %w", err)
	}
	return b, nil
}
