# One entry point per chore; CI (.ci/run) uses the same ones.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: help install demo serve test test-postgres lint format bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

install: $(BIN)/.installed node_modules/.package-lock.json  ## create .venv and install HashDesk with its dev tools (and, with npm, the test nodes' anvil and solc-js)

node_modules/.package-lock.json: package.json package-lock.json
	@if command -v npm >/dev/null; then npm ci --no-audit --no-fund && touch $@; \
	else echo "npm not found: chain tests that need anvil or solc-js will skip"; fi

demo: install  ## install, create the SQLite database, load demo data and serve on :8000
	$(BIN)/hashdesk migrate
	HASHDESK_TRIAGE_MODEL_DIR=var/triage HASHDESK_RESERVES_DIR=var/reserves $(BIN)/hashdesk demo load --if-empty
	-$(BIN)/hashdesk helpcenter embed
	@$(BIN)/hashdesk demo banner --url http://$(HOST):$(PORT)
	HASHDESK_DEMO_MODE=true HASHDESK_TRIAGE_MODEL_DIR=var/triage HASHDESK_RESERVES_DIR=var/reserves $(BIN)/hashdesk serve --host $(HOST) --port $(PORT)

serve: install  ## serve without touching data
	$(BIN)/hashdesk serve --host $(HOST) --port $(PORT)

test: install  ## run the whole suite (SQLite unless HASHDESK_TEST_DATABASE_URL is set)
	$(BIN)/pytest

test-postgres: install  ## the suite on local PostgreSQL and Redis, as CI's second run
	HASHDESK_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \
	HASHDESK_TEST_REDIS_URL=redis://127.0.0.1:6379/15 $(BIN)/pytest

lint: install  ## ruff (lint and format) and mypy --strict
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: install  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

bench: install  ## the ticket API load benchmark (see bench/RESULTS.md)
	$(BIN)/python bench/ticket_load.py

clean:  ## remove the virtual environment and local data
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
