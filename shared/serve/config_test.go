package serve_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/realmiam/realmiam/shared/serve"
)

func TestConfigBasePath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want, err string }{
		{"", "", ""},
		{"/", "", ""},
		{"iam", "/iam", ""},
		{"/iam/", "/iam", ""},
		{"/v1/iam", "/v1/iam", ""},
		{"/a b", "", "IAM_BASE_PATH"},
		{"/iam//x", "", "IAM_BASE_PATH"},
		{"/../x", "", "IAM_BASE_PATH"},
		{"/iam?x=1", "", "IAM_BASE_PATH"},
	} {
		cfg, err := serve.ConfigFromEnv(func(k string) string {
			if k == "IAM_BASE_PATH" {
				return tc.in
			}
			return ""
		})
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, cfg.BasePath, tc.in)
	}
}

func TestConfigLambda(t *testing.T) {
	t.Parallel()
	cfg, err := serve.ConfigFromEnv(func(string) string { return "" })
	require.NoError(t, err)
	require.False(t, cfg.Lambda)
	cfg, err = serve.ConfigFromEnv(func(k string) string {
		if k == "AWS_LAMBDA_RUNTIME_API" {
			return "127.0.0.1:9001"
		}
		return ""
	})
	require.NoError(t, err)
	require.True(t, cfg.Lambda)
}
