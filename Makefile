# The two commands a newcomer needs: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8025
NPM ?= npm
OAUTH_SERVER := tests/oauth_server

.PHONY: run test install dev oauth-server lint format typecheck unit integration bench mutation clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed  ## the package and its runtime dependencies
dev: $(VENV)/.dev-installed  ## plus the development extras

# The tests' OAuth2 server (oidc-provider on Node.js). Without npm its tests skip (CI: fail).
oauth-server: $(OAUTH_SERVER)/node_modules/.installed  ## the packages of the tests' OAuth2 server

$(OAUTH_SERVER)/node_modules/.installed: $(OAUTH_SERVER)/package.json $(OAUTH_SERVER)/package-lock.json
	@if command -v $(NPM) >/dev/null 2>&1; then \
		$(NPM) ci --prefix $(OAUTH_SERVER) --no-audit --no-fund && touch $@; \
	else \
		echo "npm not found: the tests that need the local OAuth2 server will skip (install Node.js and npm)"; \
	fi

run: install  ## start alertmail serve on http://127.0.0.1:8025 with embedded SQLite
	$(BIN)/alertmail serve --host $(HOST) --port $(PORT)

test: dev lint typecheck oauth-server  ## the whole suite (PostgreSQL tests skip unless reachable)
	$(BIN)/pytest

lint: dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

format: dev
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

typecheck: dev
	$(BIN)/mypy

unit: dev
	$(BIN)/pytest tests/unit

integration: dev oauth-server
	$(BIN)/pytest tests/integration

# One fresh pytest per mutant of each domain module, 2 at a time; fails under 85 % (bench/README.md).
mutation: dev  ## the mutation score of every domain module against the unit tests
	$(BIN)/python -m bench.mutation --package src/alertmail/domain --tests tests/unit --threshold 85

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(OAUTH_SERVER)/node_modules
