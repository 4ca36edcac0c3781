# radflow: `make run` serves the demo department, `make test` runs the whole suite.
# Both create and update .venv themselves; only Python 3.11+ is needed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATABASE_URL ?= sqlite:///var/radflow.db
export DATABASE_URL

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

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/python -m api.console.vendor --check
	$(BIN)/mypy domain balancer rules

bench: install-dev
	$(BIN)/python -m bench.api
	$(BIN)/python -m bench.lifecycle --exams 2000

clean:
	rm -rf $(VENV) var
