# Preempt — one Makefile for set-up, run, test and measure. `make help` lists the targets.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PREEMPT := $(VENV)/bin/preempt
PYTHON ?= python3
STAMP := $(VENV)/.installed
FRONTEND_STAMP := frontend/node_modules/.installed

.PHONY: help install install-frontend install-browser build clean test test-unit test-integration \
        test-e2e lint migrate-up migrate-down seed-locations run demo bench eval up-distributed

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 20

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install Preempt with its dev tools

$(FRONTEND_STAMP): frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund
	touch $(FRONTEND_STAMP)

install-frontend: $(FRONTEND_STAMP)  ## npm packages of the dashboard

install-browser:  ## Debian's Chromium for the browser tests
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }

build: install  ## build the dashboard (frontend/dist, served by `preempt server`)
	@if [ -f frontend/package.json ]; then $(MAKE) install-frontend && cd frontend && npm run build; \
	else echo "no dashboard yet"; fi

clean:  ## remove build outputs and local state (keeps .venv)
	rm -rf frontend/dist var test-artifacts .pytest_cache .mypy_cache .ruff_cache
	find . -name __pycache__ -type d -prune -not -path './.venv/*' -exec rm -rf {} +

lint: install  ## ruff + mypy (and the dashboard's lint/typecheck when present)
	$(VENV)/bin/ruff check src tests bench scripts
	$(VENV)/bin/mypy
	@if [ -f frontend/package.json ]; then $(MAKE) install-frontend && cd frontend && npm run lint && npm run typecheck; fi

test: install  ## all tests: unit, integration (real MariaDB + Redis), dashboard, browser e2e
	$(VENV)/bin/pytest tests -m 'not e2e' -q
	@if [ -f frontend/package.json ]; then $(MAKE) install-frontend && cd frontend && npm test; fi
	@if [ -n "$$(ls tests/e2e/test_*.py 2>/dev/null)" ]; then $(MAKE) install-browser build && \
		$(VENV)/bin/pytest tests/e2e -m e2e -q; fi

test-unit: install  ## fast tests, no services needed
	$(VENV)/bin/pytest tests/unit -q

test-integration: install  ## tests against real MariaDB and Redis
	$(VENV)/bin/pytest tests/integration -q

test-e2e: install install-browser build  ## the dashboard in a real browser
	$(VENV)/bin/pytest tests/e2e -m e2e -q

migrate-up: install  ## apply database migrations
	$(PREEMPT) migrate up

migrate-down: install  ## roll back the last migration
	$(PREEMPT) migrate down

seed-locations: install  ## import data/locations.csv (892 cities)
	$(PREEMPT) seed

run: install build migrate-up seed-locations  ## set up and run everything embedded on :8080
	$(PREEMPT) up

demo: install build migrate-up seed-locations  ## like run, with the built-in Open-Meteo emulator
	$(PREEMPT) up --demo

bench: install  ## benchmarks; each prints JSON figures
	@mkdir -p bench/results
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

eval: install  ## detection quality on labelled synthetic and real data (JSON)
	$(PY) bench/eval_detection.py

DIST_ENV = DB_HOST=$${DB_HOST:-127.0.0.1} DB_USER=$${DB_USER:-root} DB_NAME=$${DB_NAME:-preempt} \
	REDIS_HOST=$${REDIS_HOST:-127.0.0.1} PATH=$(CURDIR)/$(VENV)/bin:$$PATH

up-distributed: install build  ## every service its own process on local MariaDB + Redis
	$(DIST_ENV) preempt migrate up
	$(DIST_ENV) preempt seed
	$(DIST_ENV) honcho -f Procfile.distributed start
