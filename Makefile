# Osprey Strike. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
PKGS := ./...
BENCH_OUT ?= docs/bench-latest.txt

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build bin/strike
	$(GO) build -o bin/strike ./cmd/strike

.PHONY: run
run: build ## Run the whole system locally: embedded Kafka, local PostgreSQL, every component (strike dev)
	./bin/strike dev

.PHONY: test
test: ## Run every test (real PostgreSQL at DATABASE_URL, embedded kfake broker), with the race detector
	$(GO) test -race -count=1 -timeout 15m $(PKGS)

.PHONY: test-docker
test-docker: ## Run the same tests against a real Kafka broker in a container (needs Docker; testcontainers-go)
	STRIKE_TEST_BROKER=container $(GO) test -count=1 -timeout 60m $(PKGS)

.PHONY: test-short
test-short: ## Run the tests without the race detector and without multi-process crash tests
	$(GO) test -short -count=1 $(PKGS)

.PHONY: chaos
chaos: ## The dialer's long chaos run: 200 ECOs at CPS 1, replicas killed, paused and replaced (docs/reliability.md)
	STRIKE_CHAOS_ECOS=200 $(GO) test -race -count=1 -timeout 30m -run '^TestChaos$$' -v ./consumers/dialer/

.PHONY: bench
bench: ## Run the benchmarks with their baselines (see docs/benchmarks.md); output in $(BENCH_OUT)
	$(GO) test -run '^$$' -bench . -benchtime 1x -count 1 -timeout 30m $(PKGS) | tee $(BENCH_OUT)

.PHONY: fuzz
fuzz: ## Fuzz every decoder of outside input for FUZZTIME each (default 30s)
	@for t in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		for f in $$(grep -h '^func Fuzz' $$t/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
			echo "== $$t $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $${FUZZTIME:-30s} $$t || exit 1; \
		done; \
	done

# staticcheck release 2026.2.2 is module version v0.8.2.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: lint
lint: ## gofmt, go vet, staticcheck (staticcheck.conf), and the layering rules (internal/layering)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) run $(STATICCHECK) $(PKGS)
	$(GO) test -count=1 ./internal/layering/

.PHONY: clean
clean: ## Remove build output and the dev data folder
	rm -rf bin .strike
