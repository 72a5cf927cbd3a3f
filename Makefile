# `make demo` and `make test` are the two commands a new user needs; each installs what it uses.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
JEST := node --experimental-vm-modules node_modules/jest/bin/jest.js

.PHONY: help deps tools test-tools kubernetes-tools node-tools build typecheck lint format test demo demo-kubernetes dev dev-kubernetes schema clean

help:
	@echo "make demo   run the example end to end on the embedded Temporal dev server"
	@echo "make test   install everything, type-check, lint and run all tests against real servers"
	@echo "make dev    the embedded dev server (with its Web UI) and a worker, until Ctrl-C"
	@echo "make demo-kubernetes   the demo on this machine's single-node Kubernetes (root; first build about 20 min)"
	@echo "make dev-kubernetes    make dev with that node, which the worker deploys to (refit dev --kubernetes)"
	@echo "make clean  remove build output (the tools folder in \$$REFIT_HOME is kept)"

# npm ci only when the lock file changed since the last install: a fresh clone installs, a rerun is instant.
node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: node_modules/.package-lock.json

# What running Refit needs (the demo, the dev stack): the Temporal CLI, and bubblewrap to confine model code...
tools:
	@bash scripts/install-temporal.sh >/dev/null
	@if [ "$${REFIT_BUILD_SANDBOX:-}" != off ]; then bash scripts/install-bubblewrap.sh >/dev/null; fi

# ...and what only the tests need: a PostgreSQL server, an MLflow tracking server, a single-node Kubernetes
# (the control plane only where a node cannot run) with Refit's Python runtime image for its pods.
test-tools: tools
	@bash scripts/install-postgres.sh >/dev/null
	@bash scripts/install-mlflow.sh >/dev/null
	@bash scripts/install-pypi-proxy.sh >/dev/null
	@bash scripts/install-chromium.sh >/dev/null
	@$(MAKE) --no-print-directory kubernetes-tools

kubernetes-tools:
	@node="$$(bash scripts/install-k8s-test-env.sh | sed -n 1p)"; \
	if [ "$$node" = "node: ready" ]; then bash scripts/build-runtime-image.sh >/dev/null; else echo "$$node" >&2; fi

# The node's parts and the runtime image, failing with the reason where a node cannot run (the demo needs one).
node-tools:
	@node="$$(bash scripts/install-k8s-test-env.sh | sed -n 1p)"; \
	if [ "$$node" != "node: ready" ]; then echo "a Kubernetes node cannot run here: $${node#node: unavailable: }" >&2; exit 1; fi
	@bash scripts/build-runtime-image.sh >/dev/null

# tsc only when a TypeScript source (or the compiler's settings) changed since the last build: `make dev` and
# `make demo` start at once on a second run.
TS_SOURCES := $(shell find shared spec workflows activities worker client platform devstack sdk/ts examples test bench -name '*.ts' -not -path '*/node_modules/*' -not -path 'test/fixtures/*' 2>/dev/null)
dist/.build-stamp: $(TS_SOURCES) tsconfig.json node_modules/.package-lock.json
	npx tsc -p tsconfig.json
	@touch $@

build: deps dist/.build-stamp

typecheck: deps
	npx tsc -p tsconfig.json --noEmit

# The linter also holds the layer rules (ARCHITECTURE.md); the formatter keeps one style (.prettierrc.json).
lint: deps
	npx eslint .
	npx prettier --check --log-level warn "**/*.{ts,js}"

format: deps
	npx prettier --write --log-level warn "**/*.{ts,js}"

# Both suites always run, so one failing does not hide the other's results.
test: deps test-tools build lint
	@status=0; \
	bash scripts/python-tests.sh $(PYTEST_ARGS) || status=1; \
	$(JEST) $(JEST_ARGS) || status=1; \
	exit $$status

demo: deps tools build
	node dist/devstack/demo.js

dev: deps tools build
	node dist/devstack/devMain.js

demo-kubernetes: deps tools node-tools build
	node dist/devstack/demo.js --kubernetes

dev-kubernetes: deps tools node-tools build
	node dist/devstack/devMain.js --kubernetes

# The committed JSON Schema is generated from the zod schemas; a test fails when it is stale.
schema: build
	node dist/client/cli.js schema > schema/automation.schema.json

clean:
	rm -rf dist

# Benchmarks against real servers the bench starts and stops itself; writes bench/results/latest.{json,md}.
# BENCH_ARGS="--quick" or "--only overhead,clone" for a try-out (written to bench/results/partial.*). Figure 7 needs a
# node (root): kubernetes-tools builds its parts once, or says why a node cannot run here.
.PHONY: bench
bench: deps tools kubernetes-tools build
	@bash scripts/install-postgres.sh >/dev/null
	node dist/bench/main.js $(BENCH_ARGS)
