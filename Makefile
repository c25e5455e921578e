# Two commands on a fresh machine: `make dev` runs the platform, `make test` runs the test suite.
# Both create .venv and install the pinned dependencies first; nothing else needs installing.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# PostgreSQL 15, the oldest major the platform supports (Debian 12's): `make test` runs the ingestion and alert
# tests on it too, `make bench` loads on it too. Empty (make test POSTGRES_15_BIN=) skips those runs.
POSTGRES_15_BIN ?= /usr/lib/postgresql/15/bin

.PHONY: dev test docs lint format bench ui-check compose-check compose-e2e image db-stop clean help

help:
	@echo "make dev    - install, start the embedded PostgreSQL, migrate, seed history, run dg dev on 127.0.0.1:3000"
	@echo "make test   - install and run the test suite against a real (embedded) PostgreSQL 18, then the"
	@echo "              ingestion and alert tests again against Debian's PostgreSQL 15"
	@echo "              (and before them lint and the documentation build, mkdocs build --strict)"
	@echo "make docs   - serve the documentation (mkdocs.yml, docs/) on http://127.0.0.1:8000, rebuilt on each change"
	@echo "make lint   - ruff check and format check, layer contracts (lint-imports), type check (mypy)"
	@echo "make bench  - load-speed benchmark (vs psql copy and pandas, on PostgreSQL 18 and 15), backlog,"
	@echo "              sensor-tick, latency, analytics and soak scenarios (BENCH_ARGS=\"--only soak\": thousands"
	@echo "              of batches through the real daemon with housekeeping, growth and memory per 1,000)"
	@echo "make compose-check - validate docker-compose.yml (no Docker engine needed)"
	@echo "make compose-e2e - build the image, run docker-compose.yml with podman and check a file, an alert, roles,"
	@echo "              the login, cross-site refusal and a restart end to end (root; installs podman; exit 77: cannot run here)"
	@echo "make ui-check - start the platform in an environment of its own and check the UI in headless Chromium"
	@echo "              (screenshots in .ui_check/; make ui-check UI_CHECK_ARGS=--write-readme-images: docs/images/)"
	@echo "make db-stop - stop the embedded PostgreSQL"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

dev: $(STAMP)
	$(BIN)/etl dev

# The documentation, with every link and anchor checked (strict: true in mkdocs.yml): silent when it builds,
# its whole output when it does not. Not `--quiet`: with it mkdocs drops the warnings before strict mode counts
# them, and a broken link passes (mkdocs issue 4126). NO_MKDOCS_2_WARNING: Material's notice about MkDocs 2.
MKDOCS_BUILD = echo "$(BIN)/mkdocs build --strict"; \
	out=$$(NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict 2>&1) || { echo "$$out"; echo "mkdocs build --strict failed"; exit 1; }

# Both runs run even if the first fails, so that one CI log shows both; either failing fails `make test`.
test: $(STAMP) compose-tool postgresql-15
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	@$(MKDOCS_BUILD)
	@failed=; \
	echo "=== Test suite on the embedded PostgreSQL 18 ==="; \
	echo "$(BIN)/python -m pytest"; \
	$(BIN)/python -m pytest || failed="the embedded PostgreSQL 18 run"; \
	if [ -n "$(POSTGRES_15_BIN)" ] && [ -x "$(POSTGRES_15_BIN)/initdb" ]; then \
		echo; echo "=== Ingestion and alert tests (-m every_postgres_major) on PostgreSQL 15 from $(POSTGRES_15_BIN) ==="; \
		echo "ETL_TEST_POSTGRES_BIN=$(POSTGRES_15_BIN) $(BIN)/python -m pytest -m every_postgres_major"; \
		env -u ETL_TEST_DATABASE_URL ETL_TEST_POSTGRES_BIN="$(POSTGRES_15_BIN)" \
			$(BIN)/python -m pytest -m every_postgres_major || failed="$${failed:+$$failed and }the PostgreSQL 15 run"; \
	else \
		echo; echo "=== PostgreSQL 15 run SKIPPED: no PostgreSQL at '$(POSTGRES_15_BIN)' (see above why) ==="; \
	fi; \
	if [ -n "$$failed" ]; then echo "make test: FAILED: $$failed"; exit 1; fi

# The deployment test validates docker-compose.yml with Debian's docker-compose (it parses without an engine).
# Installed when running as root (as CI does); elsewhere that one check is skipped with a reason.
.PHONY: compose-tool
compose-tool:
	@command -v docker-compose >/dev/null || [ "$$(id -u)" != 0 ] || \
		(apt-get install -y -qq docker-compose >/dev/null 2>&1 || \
		 (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq docker-compose >/dev/null 2>&1)) || \
		echo "docker-compose could not be installed; the compose validation test will be skipped"

# Debian's postgresql-15 for the PostgreSQL 15 runs of `make test` and `make bench`. Installed when running as
# root (as CI does), where a failed install fails the target: CI must run on 15. Elsewhere, or on a system
# without apt-get, those runs are skipped with a reason. (Installing it may also create and start Debian's own
# `main` cluster on port 5432; nothing here uses it: the tests and the benchmark start clusters of their own.)
.PHONY: postgresql-15
postgresql-15:
	@bin="$(POSTGRES_15_BIN)"; \
	if [ -z "$$bin" ] || [ -x "$$bin/initdb" ]; then exit 0; fi; \
	if [ "$$bin" != /usr/lib/postgresql/15/bin ]; then \
		echo "no PostgreSQL at POSTGRES_15_BIN=$$bin: the PostgreSQL 15 runs will be skipped"; exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "PostgreSQL 15 is not installed and installing it needs root (apt-get install postgresql-15):" \
			"the PostgreSQL 15 runs will be skipped"; exit 0; fi; \
	if ! command -v apt-get >/dev/null; then \
		echo "PostgreSQL 15 is not installed and this system has no apt-get: the PostgreSQL 15 runs will be skipped"; \
		exit 0; fi; \
	echo "installing Debian's postgresql-15 (apt-get)"; \
	log=$$(mktemp); export DEBIAN_FRONTEND=noninteractive; \
	apt-get install -y -qq postgresql-15 >"$$log" 2>&1 || \
		(apt-get update -qq && apt-get install -y -qq postgresql-15) >"$$log" 2>&1 || \
		{ tail -n 20 "$$log"; rm -f "$$log"; \
		  echo "could not install postgresql-15; as root (CI) the PostgreSQL 15 runs are required." \
		       "Skip them with: make $(MAKECMDGOALS) POSTGRES_15_BIN="; exit 1; }; \
	rm -f "$$log"

compose-check: compose-tool
	docker-compose -f docker-compose.yml --env-file .env.example config -q && echo "docker-compose.yml is valid"

# The deployment run for real (docs/deployment.md): podman instead of a Docker engine, base images built from
# Debian packages instead of pulled. Needs root. When it cannot run on this machine it prints why and fails
# (exit 77 from the script), or passes with COMPOSE_E2E_ALLOW_SKIP=1 (as .ci/run does).
COMPOSE_E2E_ALLOW_SKIP ?=
compose-e2e: $(STAMP)
	COMPOSE_E2E_ALLOW_SKIP=$(COMPOSE_E2E_ALLOW_SKIP) scripts/compose_e2e.sh

image:
	docker build -t etl_project:latest .

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The `bench` extra (dlt, for the alternatives scenario) on top of the dev install.
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP) postgresql-15
	$(BIN)/python -m benchmarks.run_benchmark \
		$$([ -n "$(POSTGRES_15_BIN)" ] && [ -x "$(POSTGRES_15_BIN)/initdb" ] && echo --postgres-bin "$(POSTGRES_15_BIN)") \
		$(BENCH_ARGS)

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

ui-check: $(STAMP)
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	$(BIN)/python -m pip install --quiet -e '.[dev,ui]'
	$(BIN)/python -m scripts.ui_check $(UI_CHECK_ARGS)

db-stop: $(STAMP)
	$(BIN)/etl db-stop

clean:
	-$(BIN)/etl db-stop
	rm -rf $(VENV) .dagster_home .pgdata .site
