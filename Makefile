# Eider — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin:$(shell go env GOPATH 2>/dev/null)/bin
GO      ?= go
BIN     := bin/eider
PKGS    := ./...
# -race needs cgo; CI runs it, `make test` too when a C compiler is present.
TMPSUM  := $(shell mktemp -d 2>/dev/null || echo /tmp)
RACE    := $(shell command -v gcc >/dev/null 2>&1 && echo -race)

.PHONY: all build run test bench bench-imap pgo generate lint lint-api fuzz clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/eider

## run: build and start every listener with the embedded store under ./data
run: build
	./$(BIN) serve

## test: formatting, vet, and every test (race detector on). -pgo=off:
## tests check behaviour; cmd/eider/default.pgo is for the binary (make build).
test: lint
	$(GO) test $(RACE) -pgo=off -count=1 -timeout 30m $(PKGS)

## bench: the store and parser benchmarks (figures go in docs/benchmarks.md)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./mail/mimetree/ ./mail/sqlite/

## bench-imap: IMAP load (10 clients) against Eider and Dovecot on loopback
bench-imap:
	bench/imap.sh

## pgo: regenerate cmd/eider/default.pgo, the profile builds optimize with
pgo:
	bench/pgo.sh

## fuzz: run the MIME round-trip fuzzer for FUZZTIME (default 60s)
FUZZTIME ?= 60s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzRoundTrip -fuzztime $(FUZZTIME) ./mail/mimetree/

## generate: regenerate code from its sources (api/ from openapi.yaml)
generate:
	$(GO) generate $(PKGS)
	cd sdk/typescript && npm ci --no-audit --no-fund --loglevel=error && npm run --silent generate

## lint: gofmt and go vet clean, api/ generated from the current
## openapi.yaml, and the contract clean under the pinned OpenAPI linter
lint: lint-api
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

## lint-api: regenerate api/ and the TypeScript client's types (both must
## leave the files unchanged), lint openapi.yaml with @redocly/cli
## pinned in tools/lint, and compile the TypeScript client with tsc
lint-api:
	@sha256sum api/*.go > $(TMPSUM)/api.sum
	$(GO) generate ./api/
	@sha256sum --quiet -c $(TMPSUM)/api.sum || { echo "api/ differs from what openapi.yaml generates: run make generate and commit"; exit 1; }
	cd tools/lint && npm ci --no-audit --no-fund --loglevel=error && npx redocly lint ../../openapi.yaml
	@sha256sum sdk/typescript/src/schema.ts > $(TMPSUM)/sdk.sum
	cd sdk/typescript && npm ci --no-audit --no-fund --loglevel=error && npm run --silent generate && npm run --silent build
	@sha256sum --quiet -c $(TMPSUM)/sdk.sum || { echo "sdk/typescript/src/schema.ts differs from what openapi.yaml generates: run make generate and commit"; exit 1; }

clean:
	rm -rf bin
