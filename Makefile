# The Makefile is the interface: the README and CI call these targets only.
GO ?= go
FUNCTIONS := $(notdir $(patsubst %/cmd,%,$(wildcard functions/*/cmd)))

# Function binaries for Lambda (provided.al2023 on arm64): static, stripped,
# no build paths, and without the aws-lambda-go RPC mode that only the
# retired go1.x runtime used. DESIGN.md §10.
LAMBDA_ENV := GOOS=linux GOARCH=arm64 CGO_ENABLED=0
LAMBDA_FLAGS := -trimpath -ldflags='-s -w' -tags lambda.norpc
# The acceptance bound on a function binary (issue 4).
MAX_BINARY_BYTES := 20000000

.PHONY: run test bench lint build generate fmt

## run: serve every function on PORT (default 8080) with an embedded database
run:
	$(GO) run ./local

## test: vet, then every test with the race detector
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

## bench: benchmarks (results go to BENCHMARKS.md by hand, with this command)
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## lint: formatting, vet and staticcheck (pinned in go.mod)
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

## generate: write template.yaml (AWS SAM) and stack.yml (OpenFaaS) from openapi.yaml; a test fails while they are stale
generate:
	$(GO) run ./shared/deploy/cmd

## build: one Lambda zip per function, build/<function>.zip with bootstrap (linux/arm64) inside; prints sizes
build:
	@command -v zip >/dev/null || { echo "make build needs zip (e.g. apt-get install zip)" >&2; exit 1; }
	@mkdir -p build
	@printf '%-12s %12s %12s\n' function 'binary bytes' 'zip bytes'
	@for f in $(FUNCTIONS); do \
		rm -rf build/$$f build/$$f.zip && mkdir -p build/$$f || exit 1; \
		$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o build/$$f/bootstrap ./functions/$$f/cmd || exit 1; \
		(cd build/$$f && zip -q -X ../$$f.zip bootstrap) || exit 1; \
		bin=$$(wc -c < build/$$f/bootstrap); \
		printf '%-12s %12s %12s\n' $$f $$bin $$(wc -c < build/$$f.zip); \
		test $$bin -le $(MAX_BINARY_BYTES) || { echo "$$f: binary is over $(MAX_BINARY_BYTES) bytes" >&2; exit 1; }; \
	done

# sam build (template.yaml, BuildMethod: makefile) runs build-<LogicalId>
# with ARTIFACTS_DIR for each function; the logical id is the function's name
# capitalised plus "Function" (shared/deploy.LogicalID).
build-%Function:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/$(shell echo '$*' | tr '[:upper:]' '[:lower:]')/cmd

fmt:
	gofmt -w $$(git ls-files '*.go')
