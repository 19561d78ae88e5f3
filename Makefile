# The two commands a newcomer needs: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8025

.PHONY: run test install dev lint format typecheck unit integration bench clean

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

run: install  ## start alertmail serve on http://127.0.0.1:8025 with embedded SQLite
	$(BIN)/alertmail serve --host $(HOST) --port $(PORT)

test: dev lint typecheck  ## the whole suite (PostgreSQL tests skip unless reachable)
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

integration: dev
	$(BIN)/pytest tests/integration

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
