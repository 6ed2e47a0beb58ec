# The two set-up commands: `make run` and `make test`. Everything else is a helper for them.
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install install-dev lint format typecheck audit pytest bench clean

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is required" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## make run: install, migrate, import the sample catalog, optimize it offline for Amazon and
## export Amazon's listings feed to var/exports (no credentials), print the URL and an API key,
## serve.
run: install
	$(BIN)/listingflow db upgrade
	$(BIN)/listingflow import examples/catalog.csv
	$(BIN)/listingflow optimize --to amazon --engine offline
	$(BIN)/listingflow export --to amazon --out var/exports
	@echo
	@echo "ListingFlow is starting at http://$(HOST):$(PORT)  (API docs: http://$(HOST):$(PORT)/docs)"
	@echo -n "Your API key (send it as X-API-Key): "
	@$(BIN)/listingflow apikey create --name "make run $$(date +%F-%H%M%S)"
	@echo
	$(BIN)/listingflow serve --host $(HOST) --port $(PORT)

## make test: install dev dependencies, lint, type-check, audit the dependencies, run every test.
test: install-dev lint typecheck audit pytest

lint:
	$(BIN)/lint-imports
	$(BIN)/ruff check src tests bench migrations
	$(BIN)/ruff format --check src tests bench migrations

format:
	$(BIN)/ruff format src tests bench migrations
	$(BIN)/ruff check --fix src tests bench migrations

typecheck:
	$(BIN)/mypy

## make audit: known vulnerabilities in the installed packages (pip-audit; skipped with the
## reason when PyPI's advisory data cannot be fetched).
audit:
	BIN=$(BIN) .ci/audit

pytest:
	$(BIN)/pytest -n 2 --dist loadfile $(PYTEST_ARGS)

bench: install-dev
	$(BIN)/python bench/import_throughput.py
	$(BIN)/python bench/list_latency.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
