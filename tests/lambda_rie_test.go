package tests

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	"github.com/realmiam/realmiam/local/embedded"
)

// The emulator is pinned by the go.mod tool directive, so this builds the
// version go.sum vouches for, from the module cache once it is there.
const emulatorPackage = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"

// TestLambdaUnderEmulator builds the auth and realms binaries the way they
// ship (CGO_ENABLED=0, -tags lambda.norpc), runs each under the AWS Lambda
// Runtime Interface Emulator on loopback with MONGODB_URI pointing at an
// embedded store behind a TCP proxy that counts the connections it
// accepts, and invokes each twice, one event after the other (the emulator
// crashes on concurrent invocations). The first invocation may connect (the
// client is built at init); the second must open no connection at all.
func TestLambdaUnderEmulator(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skipf("the Lambda Runtime Interface Emulator runs on Linux only (this is %s)", runtime.GOOS)
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the emulator test builds binaries and needs the go command on PATH")
	}
	ctx := context.Background()
	bin := t.TempDir()
	build := func(out string, args ...string) {
		t.Helper()
		cmd := exec.Command(goTool, append([]string{"build", "-o", filepath.Join(bin, out)}, args...)...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		b, err := cmd.CombinedOutput()
		require.NoError(t, err, "go build %s: %s", out, b)
	}
	build("aws-lambda-rie", emulatorPackage)
	for _, fn := range []string{"auth", "realms"} {
		build(fn, "-trimpath", "-ldflags=-s -w", "-tags", "lambda.norpc", "github.com/realmiam/realmiam/functions/"+fn+"/cmd")
	}

	store, err := embedded.StartTemp(ctx)
	require.NoError(t, err)
	t.Cleanup(store.Close)
	proxy := startCountingProxy(t, store.URI())

	key := make([]byte, 32)
	_, _ = rand.Read(key)
	fnEnv := []string{
		"MONGODB_URI=mongodb://" + proxy.addr() + "/",
		"IAM_CORE_DB=rie_core",
		"IAM_PUBLIC_URL=https://iam.example.com",
		"IAM_MASTER_KEY=" + base64.StdEncoding.EncodeToString(key),
		"IAM_BCRYPT_COST=4",
		"IAM_ADMIN_EMAIL=" + adminEmail,
		"IAM_ADMIN_PASSWORD=" + adminPassword,
		"LOG_LEVEL=warn",
	}

	// The realms function bootstraps the system realm and its
	// administrator at init.
	rfn := startEmulator(t, bin, "realms", fnEnv)
	before := proxy.accepted.Load()
	list := rfn.invoke(t, events.APIGatewayProxyRequest{
		HTTPMethod: "GET", Path: "/api/core/realms", Resource: "/api/core/realms",
		MultiValueHeaders: map[string][]string{"Authorization": {"Bearer not-yet"}},
		RequestContext:    events.APIGatewayProxyRequestContext{Stage: "prod", DomainName: "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"},
	})
	var unauth events.APIGatewayProxyResponse
	require.NoError(t, json.Unmarshal(list, &unauth), "%s", list)
	require.Equal(t, http.StatusUnauthorized, unauth.StatusCode, "%s", list)
	initConns := proxy.accepted.Load() - before
	require.Positive(t, initConns, "init connects to the database")

	// auth: log in (ALB), then refresh (HTTP API with a named stage).
	afn := startEmulator(t, bin, "auth", fnEnv)
	out := afn.invoke(t, events.ALBTargetGroupRequest{
		HTTPMethod: "POST", Path: "/api/realm/system/auth/login",
		MultiValueHeaders: map[string][]string{"content-type": {"application/json"}, "host": {"lb.example.com"}},
		RequestContext:    events.ALBTargetGroupRequestContext{ELB: events.ELBContext{TargetGroupArn: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/auth/0123456789abcdef"}},
		Body:              base64.StdEncoding.EncodeToString([]byte(`{"email":"` + adminEmail + `","password":"` + adminPassword + `"}`)),
		IsBase64Encoded:   true,
	})
	var loginResp events.ALBTargetGroupResponse
	require.NoError(t, json.Unmarshal(out, &loginResp), "%s", out)
	require.Equal(t, http.StatusOK, loginResp.StatusCode, "%s", out)
	var tok tokens
	require.NoError(t, json.Unmarshal([]byte(loginResp.Body), &tok))
	require.NotEmpty(t, tok.RefreshToken)
	afterFirst := proxy.accepted.Load()

	out = afn.invoke(t, events.APIGatewayV2HTTPRequest{
		Version: "2.0", RawPath: "/prod/api/realm/system/auth/refresh",
		Headers: map[string]string{"content-type": "application/json"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{Stage: "prod", DomainName: "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: "/prod/api/realm/system/auth/refresh", SourceIP: "198.51.100.23"}},
		Body: `{"refreshToken":"` + tok.RefreshToken + `"}`,
	})
	var refreshResp events.APIGatewayV2HTTPResponse
	require.NoError(t, json.Unmarshal(out, &refreshResp), "%s", out)
	require.Equal(t, http.StatusOK, refreshResp.StatusCode, "%s", out)
	require.Equal(t, afterFirst, proxy.accepted.Load(), "the second auth invocation reuses the first one's connection")
	require.NoError(t, json.Unmarshal([]byte(refreshResp.Body), &tok))

	// realms, warm: list (REST), then create (function URL, base64 body).
	beforeRealms := proxy.accepted.Load()
	out = rfn.invoke(t, events.APIGatewayProxyRequest{
		HTTPMethod: "GET", Path: "/api/core/realms", Resource: "/api/core/realms",
		MultiValueHeaders:               map[string][]string{"Authorization": {"Bearer " + tok.AccessToken}},
		MultiValueQueryStringParameters: map[string][]string{"limit": {"10"}},
		RequestContext:                  events.APIGatewayProxyRequestContext{Stage: "prod", DomainName: "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"},
	})
	var listResp events.APIGatewayProxyResponse
	require.NoError(t, json.Unmarshal(out, &listResp), "%s", out)
	require.Equal(t, http.StatusOK, listResp.StatusCode, "%s", out)
	require.Contains(t, listResp.Body, `"id":"system"`)
	out = rfn.invoke(t, events.APIGatewayV2HTTPRequest{
		Version: "2.0", RawPath: "/api/core/realms",
		Headers: map[string]string{"content-type": "application/json", "authorization": "Bearer " + tok.AccessToken},
		RequestContext: events.APIGatewayV2HTTPRequestContext{Stage: "$default", DomainName: "abcdefgh.lambda-url.eu-west-1.on.aws",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: "/api/core/realms"}},
		Body:            base64.StdEncoding.EncodeToString([]byte(`{"id":"rie-realm"}`)),
		IsBase64Encoded: true,
	})
	var createResp events.APIGatewayV2HTTPResponse
	require.NoError(t, json.Unmarshal(out, &createResp), "%s", out)
	require.Equal(t, http.StatusCreated, createResp.StatusCode, "%s", out)
	require.Equal(t, "/api/core/realms/rie-realm", createResp.Headers["Location"])
	require.Equal(t, beforeRealms, proxy.accepted.Load(), "warm realms invocations reuse the connection opened at init")
	t.Logf("connections accepted: %d at realms init, %d in all for two processes and five invocations",
		initConns, proxy.accepted.Load())
}

// emulated is one function binary running under the emulator.
type emulated struct {
	url string
	out *syncBuffer
}

// startEmulator runs bin/name under the emulator on free loopback ports and
// waits until it accepts invocations.
func startEmulator(t testing.TB, bin, name string, fnEnv []string) *emulated {
	t.Helper()
	addr, api := freeAddr(t), freeAddr(t)
	cmd := exec.Command(filepath.Join(bin, "aws-lambda-rie"),
		"--runtime-interface-emulator-address", addr, "--runtime-api-address", api, "--log-level", "error",
		filepath.Join(bin, name))
	cmd.Dir = bin
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + bin, "AWS_LAMBDA_FUNCTION_NAME=" + name}, fnEnv...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	setProcessGroup(cmd)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		killProcessGroup(cmd)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s under the emulator:\n%s", name, out.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			_ = c.Close()
			break
		}
		require.True(t, time.Now().Before(deadline), "the emulator for %s does not listen: %s", name, out.String())
		time.Sleep(50 * time.Millisecond)
	}
	return &emulated{url: "http://" + addr + "/2015-03-31/functions/function/invocations", out: out}
}

// invoke posts one event and returns the function's result.
func (e *emulated) invoke(t *testing.T, event any) []byte {
	t.Helper()
	payload, err := json.Marshal(event)
	require.NoError(t, err)
	client := &http.Client{Timeout: 30 * time.Second}
	res, err := client.Post(e.url, "application/json", bytes.NewReader(payload))
	require.NoError(t, err, "%s", e.out.String())
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode, "%s\n%s", b, e.out.String())
	require.NotContains(t, string(b), `"errorType"`, "the invocation failed: %s\n%s", b, e.out.String())
	return b
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// countingProxy forwards loopback TCP connections to the store and counts
// those it accepts: every connection a function's driver opens.
type countingProxy struct {
	ln       net.Listener
	accepted atomic.Int64
	mu       sync.Mutex
	conns    []net.Conn
}

func startCountingProxy(t testing.TB, storeURI string) *countingProxy {
	t.Helper()
	network, target := "tcp", strings.TrimSuffix(strings.TrimPrefix(storeURI, "mongodb://"), "/")
	if host, err := url.PathUnescape(target); err == nil && strings.HasPrefix(host, "/") {
		network, target = "unix", host
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &countingProxy{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.accepted.Add(1)
			s, err := net.Dial(network, target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(s, c); _ = s.Close() }()
			go func() { _, _ = io.Copy(c, s); _ = c.Close() }()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			_ = c.Close()
		}
	})
	return p
}

func (p *countingProxy) addr() string { return p.ln.Addr().String() }
