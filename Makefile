# Two commands on a fresh machine with Python 3.11+ and make:
#   make run   — set up .venv, install, serve the API on http://127.0.0.1:8000 (embedded PostgreSQL)
#   make demo  — seed a sample practice (then ./kura is the kura command of this checkout)
#   make test  — set up .venv with dev extras, then ruff, ruff format --check, mypy, pytest
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP_FLAGS := --disable-pip-version-check --quiet

.PHONY: run demo test lint typecheck pytest bench fuzz fmt clean train-screen lock

$(BIN)/python:
	@echo "==> creating $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)

# Every install goes through a lockfile in requirements/ (hash-checked, no resolving), then kura
# itself without dependencies. pip and setuptools come from build.lock first: kura is built with
# --no-build-isolation from that checked setuptools. dev.lock holds all of run.lock at the same
# versions (tests/test_lockfile.py checks), so installing it also satisfies `make run`.
$(VENV)/.installed-run: pyproject.toml requirements/build.lock requirements/run.lock | $(BIN)/python
	@echo "==> installing pip and setuptools from requirements/build.lock"
	$(BIN)/pip install $(PIP_FLAGS) --require-hashes -r requirements/build.lock
	@echo "==> installing dependencies from requirements/run.lock (about half a minute the first time)"
	$(BIN)/pip install $(PIP_FLAGS) --require-hashes -r requirements/run.lock
	@echo "==> installing kura (editable, no dependencies)"
	$(BIN)/pip install $(PIP_FLAGS) --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml requirements/build.lock requirements/dev.lock | $(BIN)/python
	@echo "==> installing pip and setuptools from requirements/build.lock"
	$(BIN)/pip install $(PIP_FLAGS) --require-hashes -r requirements/build.lock
	@echo "==> installing dependencies from requirements/dev.lock (about a minute the first time)"
	$(BIN)/pip install $(PIP_FLAGS) --require-hashes -r requirements/dev.lock
	@echo "==> installing kura (editable, no dependencies)"
	$(BIN)/pip install $(PIP_FLAGS) --no-deps --no-build-isolation -e .
	touch $@ $(VENV)/.installed-run

# Lockfiles (#17), made with uv rather than pip-compile: `uv pip compile --universal
# --python-version 3.11 --generate-hashes` solves once for every platform (the image's Linux,
# a developer's macOS) and Python 3.11+, and records the sha256 of every file of each pinned
# version. dev.lock is solved first; run.lock and base.lock (the image's: no extras) are solved
# under it as a constraint, so the image runs the versions CI tested. Existing pins are kept
# where they still fit; `make lock LOCK_ARGS=--upgrade` moves everything to the newest,
# LOCK_ARGS='--upgrade-package NAME' one package. uv lives in a throwaway venv, not in .venv.
UV_VERSION := 0.13.9
LOCK_TOOLS ?= $(or $(TMPDIR),/tmp)/kura-lock-tools-uv-$(UV_VERSION)
UV_COMPILE = $(LOCK_TOOLS)/bin/uv pip compile --quiet --universal --python-version 3.11 \
	--generate-hashes --custom-compile-command 'make lock' $(LOCK_ARGS)

$(LOCK_TOOLS)/bin/uv:
	@echo "==> installing uv $(UV_VERSION) into $(LOCK_TOOLS)"
	$(PYTHON) -m venv $(LOCK_TOOLS)
	$(LOCK_TOOLS)/bin/pip install $(PIP_FLAGS) uv==$(UV_VERSION)

lock: | $(LOCK_TOOLS)/bin/uv
	@echo "==> locking requirements/dev.lock, run.lock, base.lock, build.lock"
	$(UV_COMPILE) pyproject.toml --extra dev -o requirements/dev.lock
	$(UV_COMPILE) pyproject.toml --extra embedded -c requirements/dev.lock -o requirements/run.lock
	$(UV_COMPILE) pyproject.toml -c requirements/dev.lock -o requirements/base.lock
	$(UV_COMPILE) requirements/build.in -o requirements/build.lock
	$(UV_COMPILE) requirements/openapi-client.in -o requirements/openapi-client.lock

run: $(VENV)/.installed-run
	@echo "==> KURA OS on http://127.0.0.1:$${PORT:-8000} (API docs: /docs, operator console: /admin)"
	@echo "    the kura command: ./kura --help  (a sample practice: make demo)  Ctrl-C stops"
	$(BIN)/kura serve

# A sample practice to look around in (staff, patients, notes, bookings, a WhatsApp alert, a
# briefing); idempotent. It uses the same embedded database as `make run`.
demo: $(VENV)/.installed-run
	$(BIN)/kura demo

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

# The OpenAPI client generator (tests/test_openapi_client.py) in a venv of its own: it pins
# typer below the app's, so it cannot live in .venv.
TOOLS := .venv-tools
$(TOOLS)/openapi-client/.installed: requirements/build.lock requirements/openapi-client.lock
	@echo "==> installing openapi-python-client into $(TOOLS)/openapi-client"
	$(PYTHON) -m venv $(TOOLS)/openapi-client
	$(TOOLS)/openapi-client/bin/pip install $(PIP_FLAGS) --require-hashes -r requirements/build.lock
	$(TOOLS)/openapi-client/bin/pip install $(PIP_FLAGS) --require-hashes -r requirements/openapi-client.lock
	touch $@

# axe-core for the workspace's accessibility check in Chromium (tests/test_workspace_browser.py),
# from its npm lockfile (integrity-checked). Without npm the test is skipped, saying why.
$(TOOLS)/axe/.installed: requirements/axe/package.json requirements/axe/package-lock.json
	@mkdir -p $(TOOLS)/axe
	@if command -v npm >/dev/null 2>&1; then \
		echo "==> installing axe-core into $(TOOLS)/axe"; \
		cp requirements/axe/package.json requirements/axe/package-lock.json $(TOOLS)/axe/ && \
		npm ci --prefix $(TOOLS)/axe --ignore-scripts --no-audit --no-fund --loglevel=error && \
		touch $@; \
	else echo "note: npm not found: the workspace accessibility test will be skipped"; fi

pytest: $(VENV)/.installed-dev $(TOOLS)/openapi-client/.installed $(TOOLS)/axe/.installed
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
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache
