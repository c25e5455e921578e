# Two commands on a fresh machine: `make dev` runs the platform, `make test` runs the test suite.
# Both create .venv and install the pinned dependencies first; nothing else needs installing.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test lint format bench ui-check compose-check image db-stop clean help

help:
	@echo "make dev    - install, start the embedded PostgreSQL, migrate, seed history, run dagster dev on 127.0.0.1:3000"
	@echo "make test   - install and run the test suite against a real (embedded) PostgreSQL"
	@echo "make lint   - ruff check and format check"
	@echo "make bench  - load-speed benchmark (vs psql copy and pandas), backlog and sensor-tick scenarios"
	@echo "make compose-check - validate docker-compose.yml (no Docker engine needed)"
	@echo "make ui-check - start the platform and check the UI in headless Chromium (saves docs/images/*.png)"
	@echo "make db-stop - stop the embedded PostgreSQL"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

dev: $(STAMP)
	$(BIN)/etl dev

test: $(STAMP) compose-tool
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# The deployment test validates docker-compose.yml with Debian's docker-compose (it parses without an engine).
# Installed when running as root (as CI does); elsewhere that one check is skipped with a reason.
.PHONY: compose-tool
compose-tool:
	@command -v docker-compose >/dev/null || [ "$$(id -u)" != 0 ] || \
		(apt-get install -y -qq docker-compose >/dev/null 2>&1 || \
		 (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq docker-compose >/dev/null 2>&1)) || \
		echo "docker-compose could not be installed; the compose validation test will be skipped"

compose-check: compose-tool
	docker-compose -f docker-compose.yml --env-file .env.example config -q && echo "docker-compose.yml is valid"

image:
	docker build -t etl_project:latest .

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run_benchmark $(BENCH_ARGS)

ui-check: $(STAMP)
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	$(BIN)/python -m pip install --quiet -e '.[dev,ui]'
	$(BIN)/python scripts/ui_check.py

db-stop: $(STAMP)
	$(BIN)/etl db-stop

clean:
	-$(BIN)/etl db-stop
	rm -rf $(VENV) .dagster_home .pgdata
