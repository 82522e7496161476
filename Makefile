# airflow-provider-stoq: `make demo` and `make test` are the whole quick start.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
AIRFLOW_VERSION ?= 3.3.2
# The oldest supported Airflow (pyproject's lower bound), at its latest patch release; `make test-oldest`.
AIRFLOW_OLDEST ?= 3.1.8
STAMP := $(VENV)/.installed-$(AIRFLOW_VERSION)
PYTEST_ARGS ?=
DIST ?= dist

.PHONY: help venv test test-oldest package demo bench clean

help:
	@echo "make demo   - run the core example DAG end to end with real Airflow against the local STOQ sandbox"
	@echo "make test   - create $(VENV), install the provider with its dev extra, run the whole test suite"
	@echo "make test-deploy - run the core example in a real Airflow deployment (API server, scheduler, DAG processor, triggerer)"
	@echo "make test-celery - the CeleryExecutor: Redis, two workers, a mapped restock, a killed worker, metrics to StatsD"
	@echo "make lint   - ruff (lint rules and format check) on the whole repository and mypy on stoq_provider/ (pyproject.toml)"
	@echo "make test-oldest - the same suite on Airflow $(AIRFLOW_OLDEST), in .venv-airflow-$(AIRFLOW_OLDEST)"
	@echo "make package - build the sdist and wheel into $(DIST)/, twine check them, run the wheel in a fresh venv"
	@echo "make test-ui - the STOQ connection form in Airflow's UI, in Debian's chromium (installed if missing) via Playwright"
	@echo "make bench  - run the benchmarks (B1-B8) against the sandbox and write docs/img/b1_points_time.png"
	@echo "make clean  - remove the virtualenv and build/test leftovers"

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python 3.10+ is needed (set PYTHON=...)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "apache-airflow==$(AIRFLOW_VERSION)" -e ".[dev]"
	touch $(STAMP)

test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# tests/integration/test_deploy.py (marker `deploy`, left out of `make test`): Airflow's components as separate processes
# (LocalExecutor, SQLite) run the core example and the demand watcher against the sandbox; -rP prints their audit trails.
.PHONY: test-deploy
test-deploy: venv
	$(BIN)/python -m pytest -rP -m deploy tests/integration/test_deploy.py tests/integration/test_deploy_watcher.py $(PYTEST_ARGS)

# ruff (the package, tests, example DAGs, benchmarks, scripts) and mypy (the typed package) come with the dev
# extra, pinned to a minor release in pyproject.toml.
.PHONY: lint
lint: venv
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .
	$(BIN)/python -m mypy stoq_provider

test-oldest:
	$(MAKE) test VENV=.venv-airflow-$(AIRFLOW_OLDEST) AIRFLOW_VERSION=$(AIRFLOW_OLDEST)

# tests/integration/test_package.py (marker `package`, left out of `make test`) checks what the archives hold and installs
# the wheel with Airflow $(AIRFLOW_VERSION) into a new virtualenv, where it runs example_stoq_restock.
package: venv
	rm -rf $(DIST)
	$(BIN)/python -m build --outdir $(DIST) .
	$(BIN)/python -m twine check --strict $(DIST)/*
	STOQ_DIST_DIR=$(DIST) $(BIN)/python -m pytest -m package tests/integration/test_package.py $(PYTEST_ARGS)

demo: venv
	$(BIN)/python scripts/demo.py

BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet "apache-airflow==$(AIRFLOW_VERSION)" -e ".[dev,bench]"
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks --chart docs/img/b1_points_time.png --json .bench-results.json

# tests/ui (marker `ui`, left out of `make test`): the connection form in Airflow's own UI, driven by Debian's
# chromium through Playwright's Python package (the `ui` extra; the system browser, never `playwright install`).
# It refreshes the README's screenshots in $(UI_SCREENSHOTS).
CHROMIUM ?= /usr/bin/chromium
UI_SCREENSHOTS ?= docs/img
UI_STAMP := $(VENV)/.installed-ui
$(UI_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet "apache-airflow==$(AIRFLOW_VERSION)" -e ".[dev,ui]"
	touch $(UI_STAMP)

# tests/integration/test_celery.py (marker `celery`, left out of `make test`): the CeleryExecutor with Redis
# (Debian's redis-server, installed here if missing) and two workers, every Airflow component a process.
.PHONY: redis test-celery
redis:
	@if ! command -v redis-server >/dev/null 2>&1; then \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  echo "Installing Debian's redis-server (apt-get)"; \
	  $$sudo apt-get update -qq && \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server; \
	fi
	@redis-server --version

test-celery: venv redis
	$(BIN)/python -m pytest -rP -m celery tests/integration/test_celery.py $(PYTEST_ARGS)

.PHONY: chromium test-ui
chromium:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  echo "Installing Debian's chromium (apt-get)"; \
	  $$sudo apt-get update -qq && \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-liberation; \
	fi
	@$(CHROMIUM) --version 2>/dev/null

test-ui: $(UI_STAMP) chromium
	STOQ_UI_CHROMIUM=$(CHROMIUM) STOQ_UI_SCREENSHOTS=$(UI_SCREENSHOTS) $(BIN)/python -m pytest -m ui tests/ui $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .venv-airflow-* build $(DIST) *.egg-info .pytest_cache .mypy_cache .ruff_cache .bench-results.json .airflow .demo
