# radflow: `make run` serves the demo department, `make test` runs the whole suite,
# `make lint` checks style, formatting and types. Each creates and updates .venv itself; only
# Python 3.11+ is needed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATABASE_URL ?= sqlite:///var/radflow.db
export DATABASE_URL
# The packages mypy checks strictly (pyproject's [tool.mypy] `files`); tests/ is not type-checked.
TYPED := api interfaces application domain balancer rules bench

.PHONY: run test install install-dev migrate seed schema lint bench clean console console-screenshots

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "radflow needs Python 3.11+")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(BIN)/radflow migrate

seed: migrate
	$(BIN)/radflow seed

run: seed
	$(BIN)/radflow serve

test: install-dev
	$(BIN)/python -m pytest

schema: install
	$(BIN)/radflow export-schema

# The console's third-party ES modules, fetched again from their pinned npm tarballs (checked
# against the pinned sha512) into api/console/static/vendor; Python only, no Node.js.
console: install
	$(BIN)/python -m api.console.vendor
	$(BIN)/python -m api.console.vendor --check

# The browser tests, saving their screenshots into docs/console/ (needs chromium).
console-screenshots: install-dev
	RADFLOW_CONSOLE_SCREENSHOTS=1 $(BIN)/python -m pytest -q -p no:cacheprovider tests/console/test_browser.py

# Fails on any ruff finding, unformatted file or mypy error; then prints the type: ignore
# lines left in each typed package (each is a debt with its reason beside it).
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m api.console.vendor --check
	$(BIN)/mypy
	@total=0; for package in $(TYPED); do \
	  n=$$(grep -rn --include='*.py' 'type: ignore' $$package | wc -l); \
	  total=$$((total + n)); echo "type_ignores $$package: $$n"; \
	done; echo "type_ignores: $$total"

bench: install-dev
	$(BIN)/python -m bench.api
	$(BIN)/python -m bench.lifecycle --exams 2000

clean:
	rm -rf $(VENV) var
