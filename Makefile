# leased — see README.md.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
GO ?= go
BIN := bin

.PHONY: all build demo demo-cluster test test-unit deps fuzz bench vet lint clean deb

all: build

# The version leased --version, leasectl version and /v1/health report;
# the VCS revision comes from the toolchain's stamp (-buildvcs=auto: a
# GOFLAGS=-buildvcs=false in the environment would drop it).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
LDFLAGS := $(if $(VERSION),-X github.com/leased/leased/internal/buildinfo.version=$(VERSION))

build:
	$(GO) build -buildvcs=auto -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

deps:
	./scripts/deps.sh

# A Debian package in dist/: binaries, unit, example config, man pages
# (packaging/README.md). VERSION as for build.
deb:
	VERSION=$(VERSION) ./packaging/mkdeb.sh dist

# The main job: leased and real DHCP clients in network namespaces.
demo: deps build
	./scripts/demo.sh

# Two leased servers on one private PostgreSQL with three dhcpcd: one is
# killed, the clients keep their addresses and its campaign finishes.
demo-cluster: deps build
	./scripts/demo-cluster.sh

# Every test, including the network-namespace and crash tests, with -race.
test: deps lint
	$(GO) test -race -count=1 -timeout 30m ./...

# Static checks, part of make test: formatting, go.mod/go.sum exactly as
# go mod tidy leaves them, go vet, and staticcheck (pinned in go.mod as a
# go tool; fetched through the Go module proxy like any dependency).
lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt -l: these files need gofmt -w:"; echo "$$out"; exit 1; fi
	$(GO) mod tidy -diff
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

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
