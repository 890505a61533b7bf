# make test: everything CI checks (the race-enabled test run comes last, so its
# summary closes the output). Integration tests find their servers in
# OX_TOOLS_BIN, which `make deps` fills (MinIO, VictoriaLogs; Python zmq under CI).
GO ?= go
export OX_TOOLS_BIN ?= $(HOME)/.cache/ox-test/bin
FUZZTIME ?= 2000x

.PHONY: all test fmt vet unit fuzz deps bench build vendor-check peerbench deb adversarial

all: build

build:
	$(GO) build ./...

test: fmt vet deps fuzz unit

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...
	cd internal/peerbench && $(GO) vet ./...

deps:
	bash .ci/deps

unit:
	$(GO) test -race -count=1 -timeout 15m ./...

fuzz:
	FUZZTIME=$(FUZZTIME) bash .ci/fuzz

# A longer run of the adversarial test (a short one is part of `make test`):
# mutated traffic on every port of a live oxd, ADVERSARIAL_TIME long.
ADVERSARIAL_TIME ?= 2m
adversarial:
	OX_ADVERSARIAL_TIME=$(ADVERSARIAL_TIME) $(GO) test -count=1 -v -timeout 60m -run '^TestAdversarialTraffic$$' ./oxd/

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 6 ./...

# The client against log/slog, zap and zerolog on the same work: a module of its
# own (internal/peerbench), so the main module does not require the peers. Rounds
# of one run each, so that the loggers take turns under the same load.
PEERCOUNT ?= 6
peerbench:
	cd internal/peerbench && for i in $$(seq $(PEERCOUNT)); do \
		$(GO) test -run '^$$' -bench . -benchmem -count 1 . || exit 1; done

# go mod vendor must give a buildable tree for air-gapped users.
vendor-check:
	d=$$(mktemp -d) && git ls-files -z | xargs -0 -I{} cp --parents {} $$d && cd $$d && $(GO) mod vendor && $(GO) build -mod=vendor ./... && rm -rf $$d

# Debian packages dist/ox_<version>_<arch>.deb, reproducible from the commit
# (docs/install.md). DEB_ARCH=amd64 builds one.
DEB_ARCH ?= amd64,arm64
deb:
	$(GO) run ./internal/debpkg/cmd/mkdeb -arch $(DEB_ARCH) -out dist
