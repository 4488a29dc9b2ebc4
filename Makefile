# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell scripts/find-python)
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
CODE := chatserver tests $(wildcard bench)

.PHONY: run test lint typecheck pytest install install-test catalogs bench clean

run: $(VENV)/.installed-run
	CHATSERVER_DEMO_AGENTS=$${CHATSERVER_DEMO_AGENTS:-true} $(BIN)/chatserver serve

test: $(VENV)/.installed-test
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)
	$(BIN)/mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -e '.[test]'
	touch $@ $(VENV)/.installed-run

# Re-extract messages from the code and merge them into every catalog.
catalogs: $(VENV)/.installed-test
	$(BIN)/pybabel extract -F babel.cfg -o locales/messages.pot --no-location --sort-output --project=chatserver --version=0.1 .
	$(BIN)/pybabel update -i locales/messages.pot -d locales --no-fuzzy-matching

bench: $(VENV)/.installed-test
	$(BIN)/python bench/langid.py --write docs/benchmarks.md
	$(BIN)/python bench/faq.py --write docs/benchmarks.md

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
