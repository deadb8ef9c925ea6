# The two commands of the README: `make run` and `make test`. Both are idempotent:
# the virtual environment is installed again only when a lock file changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
export TEST_DATABASE_URL

.PHONY: run test test-sqlite test-postgres lint lock bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.base-installed: requirements/base.lock pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements/base.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.test-installed: requirements/test.lock $(VENV)/.base-installed | node_modules/.installed
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements/test.lock
	touch $@

# Front-end tools the tests inject into pages (axe-core), from package-lock.json.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: $(VENV)/.base-installed
	$(BIN)/leadmill run --demo $(ARGS)

test: $(VENV)/.test-installed node_modules/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python -m leadmill.testrun

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# Regenerate the lock files after changing pyproject.toml (needs uv: pip install uv).
lock:
	uv pip compile pyproject.toml --python-version 3.11 --generate-hashes -o requirements/base.lock -q
	uv pip compile pyproject.toml --extra test --python-version 3.11 --generate-hashes -o requirements/test.lock -q

bench: $(VENV)/.test-installed
	$(BIN)/python bench/capture.py

clean:
	rm -rf $(VENV) var node_modules
