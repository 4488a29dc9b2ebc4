# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
# Both install exact versions from the lock in requirements/ (hashes checked); `make lock`
# refreshes it from the lower bounds in pyproject.toml.
SHELL := /bin/bash
PYTHON ?= $(shell scripts/find-python)
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
CODE := chatserver tests $(wildcard bench) scripts/*.py
LOCK_TOOLS := .venv-lock
UV_VERSION := 0.13.9
# The oldest Python the project supports: the lock resolves for it and every newer one.
LOCK_PYTHON := 3.12

# The browser code's checkers (eslint, tsc), exact versions from package-lock.json.
NODE_MODULES := node_modules/.installed

.PHONY: run test lint typecheck pytest install install-test lint-js lock catalogs bench clean

run: install
	CHATSERVER_DEMO_AGENTS=$${CHATSERVER_DEMO_AGENTS:-true} $(BIN)/chatserver serve

# ruff first (a second); then mypy and the browser code's checkers (about 35 s) run beside
# pytest instead of before it (three CI runs on one machine: no gain beyond its drift). The
# package is compiled once first: where PYTHONDONTWRITEBYTECODE is set (this project's CI
# machines), every server the tests start as a process would otherwise compile it again.
test: install-test $(NODE_MODULES)
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)
	$(BIN)/python -m compileall -q chatserver
	$(MAKE) --no-print-directory -j 3 typecheck lint-js pytest

typecheck: install-test
	$(BIN)/mypy

pytest: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# eslint over static/ (not static/vendor) and tests/js; tsc type-checks the JSDoc of static/
# (jsconfig.json, `// @ts-check`; it emits nothing: there is no build step).
lint-js: $(NODE_MODULES)
	node_modules/.bin/eslint
	node_modules/.bin/tsc -p jsconfig.json

# `npm ci` installs exactly the lock, and only when the lock is newer than the last install.
$(NODE_MODULES): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	touch $@

install: $(VENV)/.installed-run
install-test: $(VENV)/.installed-test

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# The lock holds every package with its hashes (setuptools included, so the editable install
# needs nothing unpinned); `pip check` proves the set is consistent.
define install_from
	$(PIP) install --require-hashes --no-deps -r $(1)
	$(PIP) install --no-deps --no-build-isolation -e .
	$(PIP) check
endef

$(VENV)/.installed-run: pyproject.toml requirements/run.txt | $(VENV)/bin/python
	$(call install_from,requirements/run.txt)
	touch $@

$(VENV)/.installed-test: pyproject.toml requirements/test.txt | $(VENV)/bin/python
	$(call install_from,requirements/test.txt)
	touch $@ $(VENV)/.installed-run

# Resolve pyproject.toml's lower bounds to the newest versions that fit, for every Python from
# $(LOCK_PYTHON) on, with hashes. run.txt is constrained by test.txt so both agree.
lock:
	test -x $(LOCK_TOOLS)/bin/uv || { $(PYTHON) -m venv $(LOCK_TOOLS) && \
		$(LOCK_TOOLS)/bin/python -m pip -q install uv==$(UV_VERSION); }
	$(LOCK_TOOLS)/bin/uv pip compile --quiet --universal --python-version $(LOCK_PYTHON) \
		--generate-hashes --upgrade --custom-compile-command "make lock" \
		--extra test pyproject.toml requirements/build.in -o requirements/test.txt
	$(LOCK_TOOLS)/bin/uv pip compile --quiet --universal --python-version $(LOCK_PYTHON) \
		--generate-hashes --custom-compile-command "make lock" \
		-c requirements/test.txt pyproject.toml requirements/build.in -o requirements/run.txt

# Re-extract messages from the code, merge them into every catalog, and take each catalog's
# Plural-Forms from the installed babel's CLDR data (so a babel upgrade is
# `make lock && make catalogs`).
catalogs: install-test
	$(BIN)/pybabel extract -F babel.cfg -o locales/messages.pot --no-location --sort-output --project=chatserver --version=0.1 .
	$(BIN)/pybabel update -i locales/messages.pot -d locales --no-fuzzy-matching
	$(BIN)/python scripts/plural_forms.py locales

bench: install-test
	$(BIN)/python bench/langid.py --write docs/benchmarks.md
	$(BIN)/python bench/faq.py --write docs/benchmarks.md

clean:
	rm -rf $(VENV) $(LOCK_TOOLS) .mypy_cache .ruff_cache .pytest_cache node_modules
