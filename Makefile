# register.dr — one command per job. Everything a target needs is installed by the target itself.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
COLLECTION := collections/ansible_collections/register/dr
export ANSIBLE_HOME := $(CURDIR)/.ansible
export CHECKPOINT_DISABLE := 1
PYTEST_ARGS ?=

.PHONY: help install test unit lint sanity drill sandbox-up sandbox-down clean

help:
	@echo "make drill   install what is needed, bring the sandbox up and rehearse every scenario"
	@echo "make test    install what is needed and run every test"

$(BIN)/register-dr: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

node_modules/.bin/azurite-blob: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: $(BIN)/register-dr node_modules/.bin/azurite-blob

lint: install
	$(BIN)/ruff check src tests bench $(COLLECTION)/plugins $(COLLECTION)/tests

unit: install
	$(BIN)/pytest -q -m "not sandbox" $(PYTEST_ARGS)

test: install lint
	$(BIN)/pytest -q -n 2 --dist loadgroup $(PYTEST_ARGS)

drill: install
	$(BIN)/register-dr sandbox up
	$(BIN)/register-dr sandbox status
	$(BIN)/register-dr sandbox down

sandbox-up: install
	$(BIN)/register-dr sandbox up

sandbox-down: install
	$(BIN)/register-dr sandbox down

clean:
	-$(BIN)/register-dr sandbox down
	rm -rf $(VENV) node_modules .sandbox artifacts .ansible
