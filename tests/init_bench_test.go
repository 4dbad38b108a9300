package tests

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realmiam/realmiam/local/embedded"
)

// BenchmarkFunctionInit measures each function binary, built as it ships
// (CGO_ENABLED=0, -s -w, -tags lambda.norpc, for this machine's
// architecture), from process start to ready to serve: for the HTTP
// functions, exec until GET /healthz answers 200 over plain HTTP; for the
// authorizer, which has no HTTP mode, the first invocation under the Lambda
// Runtime Interface Emulator, which starts the binary on that invocation
// (so it includes one tiny invocation). The store is an embedded one on
// loopback, already holding the system realm. It reports the median of the
// runs (run it with -benchtime 20x for issue 4's 20 runs) and the binary's
// size.
func BenchmarkFunctionInit(b *testing.B) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		b.Skip("builds binaries and needs the go command on PATH")
	}
	cmds, err := filepath.Glob("../functions/*/cmd")
	require.NoError(b, err)
	bin := b.TempDir()
	build := func(out string, args ...string) {
		cmd := exec.Command(goTool, append([]string{"build", "-o", filepath.Join(bin, out)}, args...)...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out2, err := cmd.CombinedOutput()
		require.NoError(b, err, "go build %s: %s", out, out2)
	}
	build("aws-lambda-rie", emulatorPackage)
	var names []string
	for _, c := range cmds {
		name := filepath.Base(filepath.Dir(c))
		names = append(names, name)
		build(name, "-trimpath", "-ldflags=-s -w", "-tags", "lambda.norpc", "./"+filepath.ToSlash(c))
	}

	store, err := embedded.StartTemp(context.Background())
	require.NoError(b, err)
	b.Cleanup(store.Close)
	proxy := startCountingProxy(b, store.URI())
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + bin,
		"MONGODB_URI=mongodb://" + proxy.addr() + "/",
		"IAM_CORE_DB=init_core",
		"IAM_PUBLIC_URL=https://iam.example.com",
		"IAM_MASTER_KEY=" + base64.StdEncoding.EncodeToString(key),
		"IAM_ADMIN_PASSWORD=" + adminPassword,
		"IAM_AUTHORIZER_REALMS=*",
		`IAM_AUTHORIZER_ROUTES=[{"method":"GET","path":"/invoices/{id}","action":"billing:GetInvoice","resource":"irn:billing:{realm}:invoice/{id}"}]`,
		"LOG_LEVEL=error",
	}
	// The first start of realms creates the system realm; every start
	// measured below finds it, as a cold start in production does.
	startHTTP(b, bin, "realms", env)()

	for _, name := range names {
		b.Run(name, func(b *testing.B) {
			st, err := os.Stat(filepath.Join(bin, name))
			require.NoError(b, err)
			var runs []time.Duration
			for b.Loop() {
				start := time.Now()
				if name == "authorizer" {
					e := startEmulator(b, bin, name, env)
					start = time.Now() // the emulator's own start is not the function's
					res, err := http.Post(e.url, "application/json",
						strings.NewReader(`{"type":"TOKEN","authorizationToken":"Bearer x","methodArn":"arn:aws:execute-api:eu-west-1:123456789012:abc/prod/GET/invoices/1"}`))
					require.NoError(b, err)
					_ = res.Body.Close()
					runs = append(runs, time.Since(start))
					continue
				}
				stop := startHTTP(b, bin, name, env)
				runs = append(runs, time.Since(start))
				stop()
			}
			slices.Sort(runs)
			b.ReportMetric(float64(runs[len(runs)/2].Microseconds())/1000, "median-ms")
			b.ReportMetric(float64(st.Size()), "binary-bytes")
		})
	}
}

// startHTTP runs bin/name as a plain HTTP server on a free port, waits until
// GET /healthz answers 200, and returns a function that stops it.
func startHTTP(b *testing.B, bin, name string, env []string) (stop func()) {
	addr := freeAddr(b)
	cmd := exec.Command(filepath.Join(bin, name))
	cmd.Env = append(env, "PORT="+strings.TrimPrefix(addr[strings.LastIndex(addr, ":"):], ":"))
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(b, cmd.Start())
	stop = func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := client.Get("http://" + addr + "/healthz")
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return stop
			}
		}
		if time.Now().After(deadline) {
			stop()
			b.Fatalf("%s did not become ready: %s", name, out.String())
		}
		time.Sleep(time.Millisecond)
	}
}
