# leased — see README.md.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
GO ?= go
BIN := bin

.PHONY: all build demo test test-unit deps fuzz bench vet clean

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/...

deps:
	./scripts/deps.sh

# The main job: leased and real DHCP clients in network namespaces.
demo: deps build
	./scripts/demo.sh

# Every test, including the network-namespace and crash tests, with -race.
test: deps
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 30m ./...

# Unit tests only (no root, no namespaces needed).
test-unit:
	$(GO) test -race -count=1 -short ./...

# A short run of every fuzz target (seed corpora always run with `make test`).
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# Go benchmarks, then leased against ISC Kea side by side (needs root and
# 2 CPUs; writes docs/BENCHMARKS.md's compare section). Not run in CI.
# COMPARE_FLAGS=--quick for a short trial run.
COMPARE_FLAGS ?=
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./dhcpv4 ./lease ./store/...
	./bench/compare $(COMPARE_FLAGS)

clean:
	rm -rf $(BIN)
