# lifeboat: `make demo`, `make test`, `make ui`, `make bench`. Each sets itself up.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
export LIFEBOAT_HOME ?= $(CURDIR)/.lifeboat
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)

.PHONY: demo ui test bench lint format setup clean mutants

setup: $(VENV)/.synced

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --quiet
	@touch $@

demo: setup
	$(VENV)/bin/lifeboat demo $(if $(SCENARIO),--scenario $(SCENARIO),)

ui: setup
	$(VENV)/bin/lifeboat ui $(if $(PORT),--port $(PORT),)

test: setup
	$(VENV)/bin/pytest

bench: setup
	$(VENV)/bin/python -m bench

# Breaks each promise on purpose (tests/mutants/mutants.toml) and checks the tests notice;
# not part of `make test`. ONLY=id,id runs some of them.
mutants: setup
	$(VENV)/bin/python -m tests.mutants.run $(if $(ONLY),--only $(ONLY),)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	-[ -x $(VENV)/bin/lifeboat ] && $(VENV)/bin/lifeboat sandbox down
	rm -rf $(LIFEBOAT_HOME)
