# Two commands on a fresh machine: `make dev` runs the platform, `make test` runs the test suite.
# Both create .venv and install the pinned dependencies first; nothing else needs installing.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test lint format bench ui-check db-stop clean help

help:
	@echo "make dev    - install, start the embedded PostgreSQL, migrate, seed history, run dagster dev on 127.0.0.1:3000"
	@echo "make test   - install and run the test suite against a real (embedded) PostgreSQL"
	@echo "make lint   - ruff check and format check"
	@echo "make ui-check - start the platform and check the UI in headless Chromium (saves docs/images/*.png)"
	@echo "make db-stop - stop the embedded PostgreSQL"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

dev: $(STAMP)
	$(BIN)/etl dev

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

ui-check: $(STAMP)
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	$(BIN)/python -m pip install --quiet -e '.[dev,ui]'
	$(BIN)/python scripts/ui_check.py

db-stop: $(STAMP)
	$(BIN)/etl db-stop

clean:
	-$(BIN)/etl db-stop
	rm -rf $(VENV) .dagster_home .pgdata
