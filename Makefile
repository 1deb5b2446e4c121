# Eider — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin:$(shell go env GOPATH 2>/dev/null)/bin
GO      ?= go
BIN     := bin/eider
PKGS    := ./...
# -race needs cgo; CI runs it, `make test` too when a C compiler is present.
RACE    := $(shell command -v gcc >/dev/null 2>&1 && echo -race)

.PHONY: all build run test bench generate lint fuzz clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/eider

## run: build and start every listener with the embedded store under ./data
run: build
	./$(BIN) serve

## test: formatting, vet, and every test (race detector on)
test: lint
	$(GO) test $(RACE) -count=1 -timeout 30m $(PKGS)

## bench: the store and parser benchmarks (figures go in docs/benchmarks.md)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./mail/mimetree/ ./mail/sqlite/

## fuzz: run the MIME round-trip fuzzer for FUZZTIME (default 60s)
FUZZTIME ?= 60s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzRoundTrip -fuzztime $(FUZZTIME) ./mail/mimetree/

## generate: regenerate code from its sources (api/ from openapi.yaml)
generate:
	$(GO) generate $(PKGS)

## lint: gofmt and go vet must be clean
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

clean:
	rm -rf bin
