package serve

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/realmiam/realmiam/shared/tenant"
)

// Config is the process configuration, read from the environment
// (DESIGN.md §8) and validated once at start.
type Config struct {
	MongoURI      string     // MONGODB_URI; empty → embedded store (local runs only)
	CoreDB        string     // IAM_CORE_DB
	PublicURL     string     // IAM_PUBLIC_URL, the base of every token issuer
	MasterKey     []byte     // IAM_MASTER_KEY, 32 bytes, base64
	AdminEmail    string     // IAM_ADMIN_EMAIL
	AdminPassword string     // IAM_ADMIN_PASSWORD
	Port          string     // PORT
	LogLevel      slog.Level // LOG_LEVEL
	BcryptCost    int        // IAM_BCRYPT_COST
	DataDir       string     // IAM_DATA_DIR (local runs)
	BasePath      string     // IAM_BASE_PATH: a custom domain's base path mapping, stripped from Lambda events; "" or "/iam"
	Lambda        bool       // AWS_LAMBDA_RUNTIME_API is set: serve Lambda invocations instead of HTTP
}

// ConfigFromEnv reads and validates the configuration. A missing master key is
// not an error here: local runs generate one, function binaries refuse to
// start without it.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		MongoURI:      getenv("MONGODB_URI"),
		CoreDB:        or(getenv("IAM_CORE_DB"), "realmiam_core"),
		AdminEmail:    strings.ToLower(strings.TrimSpace(or(getenv("IAM_ADMIN_EMAIL"), "admin@realmiam.local"))),
		AdminPassword: getenv("IAM_ADMIN_PASSWORD"),
		Port:          or(getenv("PORT"), "8080"),
		DataDir:       or(getenv("IAM_DATA_DIR"), ".data"),
		BcryptCost:    10,
	}
	c.Lambda = getenv("AWS_LAMBDA_RUNTIME_API") != ""
	bp, err := basePath(getenv("IAM_BASE_PATH"))
	if err != nil {
		return Config{}, err
	}
	c.BasePath = bp
	c.PublicURL = strings.TrimRight(or(getenv("IAM_PUBLIC_URL"), "http://localhost:"+c.Port), "/")
	if err := tenant.CheckCoreDB(c.CoreDB); err != nil {
		return Config{}, err
	}
	if k := getenv("IAM_MASTER_KEY"); k != "" {
		key, err := DecodeMasterKey(k)
		if err != nil {
			return Config{}, err
		}
		c.MasterKey = key
	}
	if v := getenv("IAM_BCRYPT_COST"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 4 || n > 16 {
			return Config{}, fmt.Errorf("IAM_BCRYPT_COST must be an integer from 4 to 16")
		}
		c.BcryptCost = n
	}
	if v := getenv("LOG_LEVEL"); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			return Config{}, fmt.Errorf("LOG_LEVEL: %w", err)
		}
	}
	return c, nil
}

// DecodeMasterKey parses a base64 (standard or URL alphabet) 32-byte key.
func DecodeMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) != 32 {
				return nil, fmt.Errorf("IAM_MASTER_KEY must be 32 bytes, base64-encoded; got %d bytes", len(k))
			}
			return k, nil
		}
	}
	return nil, fmt.Errorf("IAM_MASTER_KEY is not base64")
}

// basePath normalises IAM_BASE_PATH to "/seg[/seg...]", or "" for none.
// Segments use the characters API Gateway allows in a base path mapping.
func basePath(v string) (string, error) {
	v = strings.Trim(strings.TrimSpace(v), "/")
	if v == "" {
		return "", nil
	}
	for _, seg := range strings.Split(v, "/") {
		if seg == "" || seg == "." || seg == ".." || strings.Trim(seg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789$-_.+!*'()") != "" {
			return "", fmt.Errorf("IAM_BASE_PATH must be a path like /iam or /v1/iam (letters, digits and $-_.+!*'() between slashes); got %q", v)
		}
	}
	return "/" + v, nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
