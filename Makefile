# Two commands on a fresh machine with Python 3.11+ and make:
#   make run   — set up .venv, install, serve the API on http://127.0.0.1:8000 (embedded PostgreSQL)
#   make test  — set up .venv with dev extras, then ruff, ruff format --check, mypy, pytest
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP_FLAGS := --disable-pip-version-check --quiet

.PHONY: run test lint typecheck pytest bench fuzz fmt clean train-screen

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_FLAGS) --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install $(PIP_FLAGS) -e '.[embedded]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install $(PIP_FLAGS) -e '.[dev]'
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/kura serve

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

pytest: $(VENV)/.installed-dev
	sh scripts/install_test_deps.sh
	$(BIN)/pytest

test: lint typecheck pytest

bench: $(VENV)/.installed-dev
	@command -v wrk >/dev/null || (apt-get install -y wrk || sudo apt-get install -y wrk)
	$(BIN)/python -m bench

# Rebuild AletheIA's classifier and its model card from data/aletheia/ (a few minutes).
train-screen: $(VENV)/.installed-dev
	$(BIN)/kura aletheia train

# A long schemathesis run (the bounded one is part of `make test`).
fuzz: $(VENV)/.installed-dev
	KURA_FUZZ_EXAMPLES=$${KURA_FUZZ_EXAMPLES:-200} $(BIN)/pytest tests/test_fuzz.py -p no:cacheprovider

fmt: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
