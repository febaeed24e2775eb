# The two commands a new user runs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install browser clients demo test test-slow fuzz lint typecheck format docs bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "agorakit needs Python 3.11 or newer (set PYTHON=python3.x)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)  ## virtualenv with agorakit (editable) and the dev tools

demo: $(STAMP)  ## SQLite demo site with demo data, served on http://127.0.0.1:8000
	$(BIN)/agorakit demo

# The storefront's browser test drives Debian's chromium through Playwright (never
# `playwright install`: nothing is downloaded at run time).
CHROMIUM := /usr/bin/chromium

browser:  ## Debian's chromium for tests/test_storefront_browser.py (apt-get, as root)
	@if [ -x $(CHROMIUM) ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
		echo "$(CHROMIUM) is missing: install Debian's chromium (sudo apt-get install -y chromium);"; \
		echo "until then tests/test_storefront_browser.py is skipped (in CI it fails)"; \
		[ -z "$$CI" ]; exit; \
	fi; \
	echo "installing Debian's chromium (apt-get install -y chromium)"; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium || \
		{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; }

# tests/test_generated_clients.py generates TypeScript types with openapi-typescript and
# type-checks a file against them with tsc: both from the npm registry, pinned by
# tests/clients/ts/package-lock.json (`npm ci`), run on the machine's Node.js.
TS_CLIENTS := tests/clients/ts

clients:  ## openapi-typescript and tsc for tests/test_generated_clients.py (npm ci, on the machine's Node.js)
	@if [ $(TS_CLIENTS)/node_modules/.package-lock.json -nt $(TS_CLIENTS)/package-lock.json ]; then exit 0; fi; \
	if ! command -v npm >/dev/null; then \
		echo "npm is missing: install Node.js (sudo apt-get install -y nodejs npm);"; \
		echo "until then the TypeScript part of tests/test_generated_clients.py is skipped (in CI it fails)"; \
		[ -z "$$CI" ]; exit; \
	fi; \
	echo "installing openapi-typescript and typescript (npm ci --prefix $(TS_CLIENTS))"; \
	npm ci --prefix $(TS_CLIENTS) --no-audit --no-fund

TEST_WORKERS ?= 2

test: $(STAMP) lint browser clients  ## the whole suite, SQLite and PostgreSQL (TEST_WORKERS processes; 0: one)
	$(BIN)/pytest -n $(TEST_WORKERS)

test-slow: $(STAMP)  ## the minutes-long checks `make test` leaves out (marked slow); CI runs them after `make test`
	$(BIN)/pytest -n $(TEST_WORKERS) -m slow

FUZZ_EXAMPLES ?= 40

fuzz: $(STAMP)  ## the schema fuzzer, longer, with a fresh random seed, on SQLite and PostgreSQL (FUZZ_EXAMPLES per operation and mode)
	AGORAKIT_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) AGORAKIT_FUZZ_RANDOM=1 AGORAKIT_FUZZ_DATABASES=sqlite,postgres \
		$(BIN)/pytest -n $(TEST_WORKERS) -m fuzz tests/test_fuzz_schema.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check core plugins tests
	$(BIN)/lint-imports --no-cache
	$(BIN)/agorakit docs hooks --check
	$(BIN)/agorakit docs events --check
	$(MAKE) --no-print-directory typecheck

# pyright cannot follow the editable install's import hook (agorakit -> core/,
# agorakit.plugins -> plugins/), so it reads the package through a tree of symlinks.
TYPECHECK_TREE := .typecheck/agorakit

typecheck: $(STAMP)  ## pyright on core/ and plugins/ (settings in pyproject.toml)
	@rm -rf .typecheck && mkdir -p $(TYPECHECK_TREE)
	@for entry in core/*; do ln -s ../../$$entry $(TYPECHECK_TREE)/; done
	@ln -s ../../plugins $(TYPECHECK_TREE)/plugins
	$(BIN)/pyright

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format core plugins tests

docs: $(STAMP)  ## regenerate docs/hooks.md from the hookspecs and docs/events.md from the event classes
	$(BIN)/agorakit docs hooks
	$(BIN)/agorakit docs events

bench: $(STAMP)  ## benchmarks against the floor, SQLite and PostgreSQL (BENCH_ARGS="--full" for 1M listings)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .typecheck .demo build dist *.egg-info .pytest_cache .ruff_cache $(TS_CLIENTS)/node_modules
