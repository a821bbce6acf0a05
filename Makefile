# provgraph: `make run` serves, `make test` checks everything. Both start Neo4j first when
# nothing answers on its Bolt port.
SHELL := /bin/bash
GO ?= go
NEO4J := scripts/neo4j/neo4j.sh
PKGS := ./...

.PHONY: run test build chromium neo4j neo4j-stop vet fuzz fuzz-api judges clients clean demo bench lineage-bench faults

build:
	@mkdir -p bin
	$(GO) build -o bin/provgraph ./cmd/provgraph

neo4j:
	@$(NEO4J) start

neo4j-stop:
	@$(NEO4J) stop

run: build neo4j
	@mkdir -p var
	bin/provgraph serve

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)

# Independent judges (Python tools we did not write) live in a local virtualenv.
VENV := .venv
$(VENV)/.installed: scripts/judges/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r scripts/judges/requirements.txt
	@touch $@

# The Schemathesis judge starts a private Neo4j: the launcher is built first.
judges: build $(VENV)/.installed
	@scripts/neo4j/neo4j.sh build
	$(VENV)/bin/pytest -q scripts/judges

# The foreign APIs' real clients (KFP, TES, …) drive a live server.
$(VENV)/.clients: $(VENV)/.installed scripts/clients/requirements.txt
	$(VENV)/bin/pip install -q --disable-pip-version-check -r scripts/clients/requirements.txt
	@touch $@

# Provena's client needs pydantic 1, which the shared venv's tools cannot share: it has a
# venv of its own (scripts/clients/requirements-provena.txt) and runs its own test file.
PROVENA_VENV := .venv-provena
$(PROVENA_VENV)/.installed: scripts/clients/requirements-provena.txt
	python3 -m venv $(PROVENA_VENV)
	$(PROVENA_VENV)/bin/pip install -q --disable-pip-version-check -r scripts/clients/requirements-provena.txt
	@touch $@

# Azure ML's SDK pins packages below the judges' own: it has a virtualenv of its own.
AZUREML_VENV := .venv-azureml
$(AZUREML_VENV)/.installed: scripts/clients/requirements-azureml.txt
	python3 -m venv $(AZUREML_VENV)
	$(AZUREML_VENV)/bin/pip install -q --disable-pip-version-check -r scripts/clients/requirements-azureml.txt
	@touch $@

clients: build $(VENV)/.clients $(PROVENA_VENV)/.installed $(AZUREML_VENV)/.installed
	$(VENV)/bin/pytest -q scripts/clients --ignore=scripts/clients/test_provena.py --ignore=scripts/clients/test_azureml.py
	$(PROVENA_VENV)/bin/pytest -q -p no:cacheprovider scripts/clients/test_provena.py
	$(AZUREML_VENV)/bin/pytest -q -p no:warnings scripts/clients/test_azureml.py

# The lineage page is tested in headless Chromium.
chromium:
	@[ -n "$$PROVGRAPH_CHROMIUM" ] || scripts/chromium.sh

test: neo4j vet $(VENV)/.installed $(VENV)/.clients $(PROVENA_VENV)/.installed $(AZUREML_VENV)/.installed chromium
	PROVGRAPH_REQUIRE_JUDGES=1 PROVGRAPH_REQUIRE_BROWSER=1 $(GO) test -race -count=1 -timeout 20m $(PKGS)
	@$(MAKE) --no-print-directory judges
	@$(MAKE) --no-print-directory clients
	@$(MAKE) --no-print-directory faults FAULTSFLAGS=-short

# Short fuzzing of every decoder of user input (the seeds also run in `make test`).
FUZZTIME ?= 15s
fuzz:
	@for target in $$(grep -rhoE '^func Fuzz[A-Za-z0-9_]+' --include='*_test.go' . | sed 's/func //' | sort -u); do \
	  pkg=$$(dirname $$(grep -rl "^func $$target(" --include='*_test.go' . | head -1)); \
	  echo "fuzz $$pkg $$target"; \
	  $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done

# A longer Schemathesis run than the one `make test` makes (scripts/judges/fuzz_api.py):
# FUZZAPIFLAGS, e.g. FUZZAPIFLAGS='--examples 500 --max-time 3600 --seed 7'.
FUZZAPIFLAGS ?= --examples 100 --max-time 900
fuzz-api: build $(VENV)/.installed
	@scripts/neo4j/neo4j.sh build
	$(VENV)/bin/python scripts/judges/fuzz_api.py $(FUZZAPIFLAGS)

clean:
	rm -rf bin scripts/neo4j/target $(VENV)

# Loads a small reef-projection example into the server `make run` serves (PROVGRAPH_ADDR)
# through the REST API, and prints the ids and curl lines to look at it.
demo: build
	$(GO) run ./scripts/demo

# Starts its own server on a free port against the running Neo4j and measures model-run
# registration: API vs raw Cypher, single vs batch, peak RSS. BENCHFLAGS, e.g.
# BENCHFLAGS='-duration 5s -out docs/benchmarks.md'.
BENCHFLAGS ?=
bench:
	$(GO) run ./scripts/bench $(BENCHFLAGS)

# Generates a synthetic graph (10^5 nodes by default, under its own id prefix) in the
# running Neo4j, starts its own server and measures lineage upstream and downstream at
# depth 5, 10 and 20 against Provena's query form. LINEAGEBENCHFLAGS, e.g.
# LINEAGEBENCHFLAGS='-nodes 1000000 -reuse -out docs/benchmarks.md'.
LINEAGEBENCHFLAGS ?=
lineage-bench:
	$(GO) run ./scripts/lineagebench $(LINEAGEBENCHFLAGS)

# Starts a private Neo4j (its own port and data directory) and server, registers model
# runs at concurrency 4, kills Neo4j with SIGKILL mid-load and restarts it, then kills the
# server and restarts it, and checks that no acknowledged write is lost or partial, that
# clients got 503 with Retry-After (never 500) and that /readyz and writes recovered
# without restarting the server. `make test` runs the bounded -short version.
# FAULTSFLAGS, e.g. FAULTSFLAGS='-out docs/operations.md'.
FAULTSFLAGS ?=
faults: build
	@$(NEO4J) build
	$(GO) run ./scripts/faults $(FAULTSFLAGS)
