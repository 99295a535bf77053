# taskgate — build, run and test.
#
# Everything a fresh clone needs is installed by these targets: Go modules come
# from the module proxy, and the local Kubernetes control plane is built from
# source into .cache/ (gitignored, keyed by version) the first time.

GO        ?= go
BIN       := bin
CACHE     := $(CURDIR)/.cache
FUZZTIME  ?= 20000x
TESTFLAGS ?=
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/taskgate/taskgate/internal/version.Version=$(VERSION)

export TASKGATE_CACHE := $(CACHE)

.PHONY: all build test test-unit fuzz lint bench run cluster-bins minio-bin cluster-up cluster-down clean

all: build

## build: compile the gateway and tools into bin/
build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

## test: everything CI runs: lint, unit + integration tests with -race, short fuzzing
test: cluster-bins minio-bin lint
	$(GO) test -race -count=1 -timeout 30m $(TESTFLAGS) ./...
	$(MAKE) fuzz

## test-unit: tests that need no control plane (-short skips integration tests)
test-unit:
	$(GO) test -race -short -count=1 $(TESTFLAGS) ./...

## fuzz: run every fuzz target briefly (FUZZTIME each: an execution count, so a loaded machine cannot trip the fuzzer's deadline)
fuzz:
	FUZZTIME=$(FUZZTIME) ./hack/fuzz.sh

## lint: gofmt check, go vet, staticcheck
lint:
	./hack/lint.sh

## bench: benchmarks (report, never assert)
bench: cluster-bins minio-bin
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./...

## run: the gateway end to end on this machine
run: build cluster-bins
	./hack/run.sh

## cluster-bins: build the pinned local control plane into .cache/ (once)
cluster-bins:
	./hack/cluster-bins.sh

## minio-bin: build the pinned MinIO server for the S3 task-log tests into .cache/ (once)
minio-bin:
	./hack/minio-bin.sh

## cluster-up / cluster-down: a local control plane for people (kubeconfig in .cluster/)
cluster-up: cluster-bins
	./hack/cluster-up.sh

cluster-down:
	./hack/cluster-down.sh

clean:
	rm -rf $(BIN)
