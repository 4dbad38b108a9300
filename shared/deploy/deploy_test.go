package deploy_test

import (
	"bytes"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/realmiam/realmiam"
	"github.com/realmiam/realmiam/shared/deploy"
	"github.com/realmiam/realmiam/shared/openapi"
)

// root is the repository root, seen from this package's directory (where
// go test runs).
const root = "../.."

func readRoot(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, name))
	require.NoError(t, err)
	return b
}

func functions(t *testing.T) []deploy.Function {
	t.Helper()
	fns, err := deploy.Functions(realmiam.Spec)
	require.NoError(t, err)
	return fns
}

// commands lists the directories functions/*/cmd by function name.
func commands(t *testing.T) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(root, "functions", "*", "cmd"))
	require.NoError(t, err)
	var names []string
	for _, d := range dirs {
		names = append(names, filepath.Base(filepath.Dir(d)))
	}
	sort.Strings(names)
	return names
}

func TestCommittedFilesAreGenerated(t *testing.T) {
	t.Parallel()
	files, err := deploy.Files(realmiam.Spec)
	require.NoError(t, err)
	require.Len(t, files, 2)
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Errorf("%s: %v; run `make generate` and commit the result", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what the generator writes from openapi.yaml (first difference at line %d); "+
				"run `make generate` and commit the result", name, firstDifference(got, want))
		}
	}
}

func firstDifference(a, b []byte) int {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return i + 1
		}
	}
	return min(len(al), len(bl)) + 1
}

func TestGenerationIsDeterministic(t *testing.T) {
	t.Parallel()
	first, err := deploy.Files(realmiam.Spec)
	require.NoError(t, err)
	for range 5 {
		again, err := deploy.Files(realmiam.Spec)
		require.NoError(t, err)
		require.Equal(t, first, again)
	}
}

// TestEveryFunctionHasAPackageAndCommand checks both directions: each
// function the generator deploys is a package functions/<name> with a main
// in functions/<name>/cmd, and each functions/*/cmd is deployed.
func TestEveryFunctionHasAPackageAndCommand(t *testing.T) {
	t.Parallel()
	deployed := map[string]bool{}
	for _, fn := range functions(t) {
		deployed[fn.Name] = true
		t.Run(fn.Name, func(t *testing.T) {
			dir := filepath.Join(root, "functions", fn.Name)
			pkg, err := build.ImportDir(dir, 0)
			require.NoError(t, err, "x-function %s needs the package functions/%s", fn.Name, fn.Name)
			require.Equal(t, fn.Name, pkg.Name)
			cmd, err := build.ImportDir(filepath.Join(dir, "cmd"), 0)
			require.NoError(t, err, "function %s needs a command in functions/%s/cmd", fn.Name, fn.Name)
			require.Equal(t, "main", cmd.Name)
		})
	}
	for _, name := range commands(t) {
		require.True(t, deployed[name],
			"functions/%s/cmd is not deployed: name it in x-function of openapi.yaml (or, for a function that serves no operation, in shared/deploy)", name)
	}
}

// template is template.yaml as parsed YAML.
type template struct {
	Transform  string         `yaml:"Transform"`
	Parameters map[string]any `yaml:"Parameters"`
	Globals    struct {
		Function struct {
			Runtime       string   `yaml:"Runtime"`
			Architectures []string `yaml:"Architectures"`
			Handler       string   `yaml:"Handler"`
			CodeURI       string   `yaml:"CodeUri"`
			Environment   struct {
				Variables map[string]any `yaml:"Variables"`
			} `yaml:"Environment"`
		} `yaml:"Function"`
	} `yaml:"Globals"`
	Resources map[string]resource `yaml:"Resources"`
	Outputs   map[string]struct {
		Value  any            `yaml:"Value"`
		Export map[string]any `yaml:"Export"`
	} `yaml:"Outputs"`
}

type resource struct {
	Type       string         `yaml:"Type"`
	Metadata   map[string]any `yaml:"Metadata"`
	Properties struct {
		MemorySize  int              `yaml:"MemorySize"`
		Timeout     int              `yaml:"Timeout"`
		Events      map[string]event `yaml:"Events"`
		Environment struct {
			Variables map[string]any `yaml:"Variables"`
		} `yaml:"Environment"`
	} `yaml:"Properties"`
}

type event struct {
	Type       string `yaml:"Type"`
	Properties struct {
		APIID                map[string]string `yaml:"ApiId"`
		Method               string            `yaml:"Method"`
		Path                 string            `yaml:"Path"`
		PayloadFormatVersion string            `yaml:"PayloadFormatVersion"`
	} `yaml:"Properties"`
}

func committedTemplate(t *testing.T) template {
	t.Helper()
	var tpl template
	require.NoError(t, yaml.Unmarshal(readRoot(t, "template.yaml"), &tpl), "template.yaml is not YAML")
	return tpl
}

// TestEveryOperationIsRoutedOnce checks the committed template against the
// spec: every operation has exactly one event, in the function its
// x-function names, and every event is an operation.
func TestEveryOperationIsRoutedOnce(t *testing.T) {
	t.Parallel()
	ops, err := openapi.Operations(realmiam.Spec)
	require.NoError(t, err)
	byRoute := map[string]*openapi.Operation{}
	for _, op := range ops {
		byRoute[op.Method+" "+op.Path] = op
	}
	require.Len(t, byRoute, len(ops), "two operations share a method and path")

	byID := map[string]string{} // logical id → function name
	for _, fn := range functions(t) {
		byID[deploy.LogicalID(fn.Name)] = fn.Name
	}
	routed := map[string]int{}
	for id, res := range committedTemplate(t).Resources {
		if res.Type != "AWS::Serverless::Function" {
			continue
		}
		fn, ok := byID[id]
		require.True(t, ok, "template.yaml has function %s, which the spec does not name", id)
		if fn == deploy.Authorizer {
			require.Empty(t, res.Properties.Events, "the authorizer must not sit on Realm IAM's own routes")
			continue
		}
		require.NotEmpty(t, res.Properties.Events, "%s has no route", id)
		for name, ev := range res.Properties.Events {
			require.Equal(t, "HttpApi", ev.Type, "%s.%s", id, name)
			require.Equal(t, map[string]string{"Ref": "Api"}, ev.Properties.APIID, "%s.%s", id, name)
			require.Equal(t, "2.0", ev.Properties.PayloadFormatVersion, "%s.%s", id, name)
			route := strings.ToUpper(ev.Properties.Method) + " " + ev.Properties.Path
			op, ok := byRoute[route]
			require.True(t, ok, "event %s.%s (%s) is no operation of openapi.yaml", id, name, route)
			require.Equal(t, op.Function, fn, "%s is routed to %s, but its x-function is %s", op.ID, fn, op.Function)
			require.Equal(t, deploy.EventName(op), name)
			routed[op.ID]++
		}
	}
	for id := range ops {
		require.Equal(t, 1, routed[id], "operation %s must be routed exactly once", id)
	}
}

// TestTemplateShape checks what `sam build && sam deploy` relies on.
func TestTemplateShape(t *testing.T) {
	t.Parallel()
	tpl := committedTemplate(t)
	require.Equal(t, "AWS::Serverless-2016-10-31", tpl.Transform)
	g := tpl.Globals.Function
	require.Equal(t, "provided.al2023", g.Runtime)
	require.Equal(t, []string{"arm64"}, g.Architectures)
	require.Equal(t, "bootstrap", g.Handler)
	require.Equal(t, ".", g.CodeURI, "the Makefile at the root builds every function")
	for _, v := range []string{"MONGODB_URI", "IAM_MASTER_KEY", "IAM_PUBLIC_URL", "IAM_CORE_DB"} {
		require.Contains(t, g.Environment.Variables, v)
	}
	for _, secret := range []string{"MONGODB_URI", "IAM_MASTER_KEY"} {
		sub := g.Environment.Variables[secret].(map[string]any)["Fn::Sub"].(string)
		require.True(t, strings.HasPrefix(sub, "{{resolve:secretsmanager:"), "%s comes from Secrets Manager", secret)
	}
	require.Equal(t, "AWS::Serverless::HttpApi", tpl.Resources["Api"].Type)
	require.Contains(t, tpl.Outputs, "ApiUrl")

	for _, fn := range functions(t) {
		id := deploy.LogicalID(fn.Name)
		res, ok := tpl.Resources[id]
		require.True(t, ok, "template.yaml lacks %s", id)
		require.Equal(t, "AWS::Serverless::Function", res.Type)
		require.Equal(t, "makefile", res.Metadata["BuildMethod"], id)
		mem := res.Properties.MemorySize
		require.True(t, mem >= 128 && mem <= 10240, "%s: MemorySize %d", id, mem)
		// HTTP API ends an integration after 30 s.
		require.True(t, res.Properties.Timeout >= 1 && res.Properties.Timeout < 30, "%s: Timeout %d", id, res.Properties.Timeout)
		require.Contains(t, tpl.Outputs, id+"Arn")
	}
	require.GreaterOrEqual(t, tpl.Resources[deploy.LogicalID("auth")].Properties.MemorySize, 1024, "bcrypt needs CPU")
	authorizer := deploy.LogicalID(deploy.Authorizer)
	require.NotEmpty(t, tpl.Outputs[authorizer+"Arn"].Export, "the authorizer is exported for other stacks")
	require.Equal(t, "AWS::Lambda::Permission", tpl.Resources[authorizer+"Permission"].Type)
	// Each function gets the configuration its start needs beyond the globals.
	require.Contains(t, tpl.Resources[authorizer].Properties.Environment.Variables, "IAM_AUTHORIZER_REALMS")
	require.Contains(t, tpl.Resources[authorizer].Properties.Environment.Variables, "IAM_AUTHORIZER_ROUTES")
	realms := tpl.Resources[deploy.LogicalID("realms")].Properties.Environment.Variables
	require.Contains(t, realms, "IAM_ADMIN_EMAIL", "the realms function bootstraps the administrator")
	require.Contains(t, realms, "IAM_ADMIN_PASSWORD")
}

// TestTemplateReferencesResolve checks that every Ref, Fn::GetAtt and
// ${name} in Fn::Sub names a parameter, a resource or a pseudo parameter.
func TestTemplateReferencesResolve(t *testing.T) {
	t.Parallel()
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal(readRoot(t, "template.yaml"), &doc))
	known := map[string]bool{}
	for _, section := range []string{"Parameters", "Resources"} {
		for name := range doc[section].(map[string]any) {
			known[name] = true
		}
	}
	var refs []string
	var walk func(v any)
	subVar := regexp.MustCompile(`\$\{([^}!]+)\}`)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				switch k {
				case "Ref":
					refs = append(refs, x.(string))
				case "Fn::GetAtt":
					refs = append(refs, x.([]any)[0].(string))
				case "Fn::Sub":
					for _, m := range subVar.FindAllStringSubmatch(x.(string), -1) {
						refs = append(refs, strings.SplitN(m[1], ".", 2)[0])
					}
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	require.NotEmpty(t, refs)
	for _, r := range refs {
		require.True(t, known[r] || strings.HasPrefix(r, "AWS::"), "template.yaml refers to %q, which it does not define", r)
	}
}

// stack is stack.yml as parsed YAML.
type stack struct {
	Version  string `yaml:"version"`
	Provider struct {
		Name string `yaml:"name"`
	} `yaml:"provider"`
	Functions map[string]struct {
		Lang            string            `yaml:"lang"`
		Handler         string            `yaml:"handler"`
		Image           string            `yaml:"image"`
		BuildArgs       map[string]string `yaml:"build_args"`
		Environment     map[string]string `yaml:"environment"`
		EnvironmentFile []string          `yaml:"environment_file"`
	} `yaml:"functions"`
}

func TestStackShape(t *testing.T) {
	t.Parallel()
	var s stack
	require.NoError(t, yaml.Unmarshal(readRoot(t, "stack.yml"), &s), "stack.yml is not YAML")
	require.Equal(t, "1.0", s.Version)
	require.Equal(t, "openfaas", s.Provider.Name)
	fns := functions(t)
	require.Len(t, s.Functions, len(fns)-1, "every function but the Lambda authorizer")
	require.NotContains(t, s.Functions, deploy.StackName(deploy.Authorizer))
	for _, fn := range fns {
		if fn.Name == deploy.Authorizer {
			continue
		}
		f, ok := s.Functions[deploy.StackName(fn.Name)]
		require.True(t, ok, "stack.yml lacks %s", fn.Name)
		require.Equal(t, "dockerfile", f.Lang)
		require.Equal(t, ".", f.Handler, "the Dockerfile at the root builds every function")
		require.Equal(t, map[string]string{"FUNCTION": fn.Name}, f.BuildArgs)
		require.Contains(t, f.Image, deploy.StackName(fn.Name))
		require.Contains(t, f.Environment, "IAM_PUBLIC_URL")
		require.Contains(t, f.Environment, "IAM_CORE_DB")
		require.Equal(t, []string{deploy.SecretsFile}, f.EnvironmentFile)
	}
	require.Contains(t, string(readRoot(t, "Dockerfile")), "ARG FUNCTION")
	require.Contains(t, strings.Split(string(readRoot(t, ".gitignore")), "\n"), "/"+deploy.SecretsFile,
		"the secrets file must never be committed")
}

// TestMakefileBuildsEachLogicalID checks the coupling with sam build
// (BuildMethod: makefile runs `make build-<LogicalId> ARTIFACTS_DIR=...`).
func TestMakefileBuildsEachLogicalID(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	for _, fn := range functions(t) {
		id := deploy.LogicalID(fn.Name)
		cmd := exec.Command("make", "-n", "-s", "build-"+id, "ARTIFACTS_DIR=/artifacts")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "make build-%s: %s", id, out)
		for _, want := range []string{"GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0", "lambda.norpc",
			"-o /artifacts/bootstrap", "./functions/" + fn.Name + "/cmd"} {
			require.Contains(t, string(out), want, "make build-%s", id)
		}
	}
}

// TestNoFunctionLinksFerretDB: function binaries never link the embedded
// database (DESIGN.md §2); only local/ and tests do.
func TestNoFunctionLinksFerretDB(t *testing.T) {
	t.Parallel()
	names := commands(t)
	require.NotEmpty(t, names)
	args := []string{"list", "-tags", "lambda.norpc", "-f", "{{.ImportPath}}{{range .Deps}} {{.}}{{end}}"}
	for _, n := range names {
		args = append(args, "./functions/"+n+"/cmd")
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go list: %s", stderr.String())
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.Len(t, lines, len(names))
	for _, line := range lines {
		fields := strings.Fields(line)
		for _, dep := range fields[1:] {
			require.False(t, strings.HasPrefix(dep, "github.com/FerretDB/"),
				"%s links %s", fields[0], dep)
		}
	}
}

// TestTemplatePassesCfnLint runs cfn-lint, which applies the SAM transform
// and checks the CloudFormation result, where it is installed.
func TestTemplatePassesCfnLint(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("cfn-lint"); err != nil {
		t.Skip("cfn-lint is not installed")
	}
	cmd := exec.Command("cfn-lint", "template.yaml")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "cfn-lint template.yaml:\n%s", out)
}
