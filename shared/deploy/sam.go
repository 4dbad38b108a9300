package deploy

import (
	"fmt"
	"strings"
)

// The SAM template uses the map forms of CloudFormation's intrinsic
// functions ({Ref: x}, {Fn::Sub: s}), which are plain YAML, instead of the
// short tags (!Ref, !Sub), which a generic YAML encoder cannot write.

func ref(name string) map[string]string { return map[string]string{"Ref": name} }
func sub(s string) map[string]string    { return map[string]string{"Fn::Sub": s} }
func getAtt(resource, attr string) map[string][]string {
	return map[string][]string{"Fn::GetAtt": {resource, attr}}
}

type samTemplate struct {
	AWSTemplateFormatVersion string                  `yaml:"AWSTemplateFormatVersion"`
	Transform                string                  `yaml:"Transform"`
	Description              string                  `yaml:"Description"`
	Parameters               map[string]samParameter `yaml:"Parameters"`
	Globals                  map[string]any          `yaml:"Globals"`
	Resources                map[string]samResource  `yaml:"Resources"`
	Outputs                  map[string]samOutput    `yaml:"Outputs"`
}

type samParameter struct {
	Type                  string   `yaml:"Type"`
	Default               any      `yaml:"Default,omitempty"` // a string; nil: the parameter is required
	AllowedPattern        string   `yaml:"AllowedPattern,omitempty"`
	AllowedValues         []string `yaml:"AllowedValues,omitempty"`
	ConstraintDescription string   `yaml:"ConstraintDescription,omitempty"`
	Description           string   `yaml:"Description"`
	NoEcho                bool     `yaml:"NoEcho,omitempty"`
}

type samResource struct {
	Type       string         `yaml:"Type"`
	Metadata   map[string]any `yaml:"Metadata,omitempty"`
	Properties map[string]any `yaml:"Properties"`
}

type samEvent struct {
	Type       string         `yaml:"Type"`
	Properties map[string]any `yaml:"Properties"`
}

type samOutput struct {
	Description string         `yaml:"Description"`
	Value       any            `yaml:"Value"`
	Export      map[string]any `yaml:"Export,omitempty"`
}

// apiID is the logical id of the HTTP API.
const apiID = "Api"

const samComment = `#
# One Lambda function per function group of openapi.yaml (x-function), each
# routed exactly the operations that name it, behind one API Gateway HTTP API
# (payload 2.0, $default stage: the spec's paths are the URL paths unchanged).
# Realm IAM authenticates its own API in-process; the authorizer function has
# no route here and is exported for the APIs of your services.
#
#   sam build && sam deploy --guided
#
# sam build runs the Makefile target build-<LogicalId> of each function.
`

// SAM renders template.yaml for fns.
func SAM(fns []Function) ([]byte, error) {
	t := samTemplate{
		AWSTemplateFormatVersion: "2010-09-09",
		Transform:                "AWS::Serverless-2016-10-31",
		Description:              "Realm IAM: multi-tenant identity and access management, one function per entity group.",
		Parameters: map[string]samParameter{
			"PublicUrl": {
				Type:                  "String",
				AllowedPattern:        `^https?://\S+$`,
				ConstraintDescription: "an absolute http(s) URL",
				Description: "IAM_PUBLIC_URL: the base URL clients use (your custom domain, or the ApiUrl output of a first deploy). " +
					"Token issuers are {PublicUrl}/api/realm/{tenantId}.",
			},
			"MongoDBUriSecret": {
				Type:        "String",
				Default:     "realmiam/mongodb-uri",
				Description: "MONGODB_URI: name or ARN of the Secrets Manager secret whose value is the MongoDB connection string.",
			},
			"MasterKeySecret": {
				Type:        "String",
				Default:     "realmiam/master-key",
				Description: "IAM_MASTER_KEY: name or ARN of the Secrets Manager secret whose value is 32 random bytes, base64. It encrypts every realm's signing keys.",
			},
			"AdminEmail": {
				Type:        "String",
				Default:     "admin@realmiam.local",
				Description: "IAM_ADMIN_EMAIL: the first system administrator, created by the realms function's first start.",
			},
			"AdminPassword": {
				Type:    "String",
				Default: "",
				NoEcho:  true,
				Description: "IAM_ADMIN_PASSWORD: that administrator's password. Required for the first deploy on an empty database " +
					"(the realms function refuses to start without it); it may be emptied once the administrator exists.",
			},
			"AuthorizerRealms": {
				Type:    "String",
				Default: "",
				Description: "IAM_AUTHORIZER_REALMS of the Lambda authorizer: the realm ids whose tokens it accepts, comma-separated, or *. " +
					"Until it is set the authorizer refuses to start. With several, a route without {realm} is decided in the caller's own realm.",
			},
			"AuthorizerRoutes": {
				Type:    "String",
				Default: "",
				Description: "IAM_AUTHORIZER_ROUTES of the Lambda authorizer: the JSON list of routes it maps to IAM actions and resources " +
					"(README, API Gateway authorizer). Until it is set the authorizer refuses to start, so it allows nothing.",
			},
			"CoreDatabase": {
				Type:        "String",
				Default:     "realmiam_core",
				Description: "IAM_CORE_DB: the core database (realms, registry).",
			},
			"LogLevel": {
				Type:          "String",
				Default:       "INFO",
				AllowedValues: []string{"DEBUG", "INFO", "WARN", "ERROR"},
				Description:   "LOG_LEVEL of every function.",
			},
		},
		Globals: map[string]any{
			"Function": map[string]any{
				"Runtime":       "provided.al2023",
				"Architectures": []string{"arm64"},
				"Handler":       "bootstrap",
				"CodeUri":       ".",
				"Environment": map[string]any{
					"Variables": map[string]any{
						// Dynamic references are resolved at deploy time: no
						// Secrets Manager call, and no IAM permission for it,
						// at run time. A rotated secret takes effect on the
						// next deploy.
						"MONGODB_URI":    sub("{{resolve:secretsmanager:${MongoDBUriSecret}}}"),
						"IAM_MASTER_KEY": sub("{{resolve:secretsmanager:${MasterKeySecret}}}"),
						"IAM_PUBLIC_URL": ref("PublicUrl"),
						"IAM_CORE_DB":    ref("CoreDatabase"),
						"LOG_LEVEL":      ref("LogLevel"),
					},
				},
			},
		},
		Resources: map[string]samResource{
			apiID: {
				Type: "AWS::Serverless::HttpApi",
				Properties: map[string]any{
					"Description":    "Realm IAM API (openapi.yaml)",
					"FailOnWarnings": true,
				},
			},
		},
		Outputs: map[string]samOutput{
			"ApiUrl": {
				Description: "Base URL of the Realm IAM API; append the paths of openapi.yaml.",
				Value:       sub("https://${" + apiID + "}.execute-api.${AWS::Region}.${AWS::URLSuffix}"),
			},
		},
	}
	for _, fn := range fns {
		id := LogicalID(fn.Name)
		sz := sizeOf(fn.Name)
		props := map[string]any{
			"MemorySize": sz.MemoryMB,
			"Timeout":    sz.TimeoutS,
		}
		out := samOutput{Value: getAtt(id, "Arn")}
		if fn.Name == Authorizer {
			if len(fn.Operations) > 0 {
				return nil, fmt.Errorf("deploy.SAM: the authorizer serves no operation")
			}
			props["Description"] = "Realm IAM Lambda authorizer for API Gateway (REST REQUEST/TOKEN and HTTP API)"
			props["Environment"] = map[string]any{"Variables": map[string]any{
				"IAM_AUTHORIZER_REALMS": ref("AuthorizerRealms"),
				"IAM_AUTHORIZER_ROUTES": ref("AuthorizerRoutes"),
			}}
			out.Description = "ARN of the Lambda authorizer: use it as the authorizer function of your own API Gateway APIs."
			out.Export = map[string]any{"Name": sub("${AWS::StackName}-" + id + "Arn")}
			// API Gateway invokes an authorizer as itself; this lets any API
			// of this account use it. Narrow it with your own permission
			// (SourceArn) if other teams' APIs share the account.
			t.Resources[id+"Permission"] = samResource{
				Type: "AWS::Lambda::Permission",
				Properties: map[string]any{
					"Action":        "lambda:InvokeFunction",
					"FunctionName":  getAtt(id, "Arn"),
					"Principal":     "apigateway.amazonaws.com",
					"SourceAccount": ref("AWS::AccountId"),
				},
			}
		} else {
			if len(fn.Operations) == 0 {
				return nil, fmt.Errorf("deploy.SAM: function %s has no operation", fn.Name)
			}
			props["Description"] = fmt.Sprintf("Realm IAM %s: %d operations of openapi.yaml", fn.Name, len(fn.Operations))
			out.Description = "ARN of the " + fn.Name + " function."
			events := map[string]samEvent{}
			for _, op := range fn.Operations {
				events[EventName(op)] = samEvent{
					Type: "HttpApi",
					Properties: map[string]any{
						"ApiId":                ref(apiID),
						"Method":               strings.ToLower(op.Method),
						"Path":                 op.Path,
						"PayloadFormatVersion": "2.0",
					},
				}
			}
			props["Events"] = events
			if fn.Name == "realms" { // it bootstraps the system realm at start
				props["Environment"] = map[string]any{"Variables": map[string]any{
					"IAM_ADMIN_EMAIL":    ref("AdminEmail"),
					"IAM_ADMIN_PASSWORD": ref("AdminPassword"),
				}}
			}
		}
		if _, dup := t.Resources[id]; dup {
			return nil, fmt.Errorf("deploy.SAM: logical id %s is used twice", id)
		}
		t.Resources[id] = samResource{
			Type:       "AWS::Serverless::Function",
			Metadata:   map[string]any{"BuildMethod": "makefile"},
			Properties: props,
		}
		t.Outputs[id+"Arn"] = out
	}
	b, err := encode(t, samComment)
	if err != nil {
		return nil, fmt.Errorf("deploy.SAM: %w", err)
	}
	return b, nil
}
