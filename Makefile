# The Makefile is the interface: the README and CI call these targets only.
GO ?= go
FUNCTIONS := $(notdir $(patsubst %/cmd,%,$(wildcard functions/*/cmd)))

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

## build: one binary per function under build/ (Lambda packaging comes later)
build:
	@mkdir -p build
	@for f in $(FUNCTIONS); do \
		CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o build/$$f ./functions/$$f/cmd || exit 1; \
		printf '%-12s %s bytes\n' $$f $$(wc -c < build/$$f); \
	done

fmt:
	gofmt -w $$(git ls-files '*.go')
