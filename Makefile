# register.dr — one command per job. Everything a target needs is installed by the target itself.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
COLLECTION := collections/ansible_collections/register/dr
export PATH := $(CURDIR)/$(BIN):$(PATH)
export ANSIBLE_HOME := $(CURDIR)/.ansible
export CHECKPOINT_DISABLE := 1
PYTEST_ARGS ?=
# One sandbox for the whole test run (tests bring their own up when this is unset).
TEST_HOME := /var/tmp/register-dr-test-$(shell echo "$(CURDIR)" | md5sum | cut -c1-8)

.PHONY: help install test unit lint sanity ansible-lint scenarios pytest drill molecule sizes sandbox-up sandbox-down clean collection

help:
	@echo "make drill   install what is needed, bring the sandbox up and rehearse every scenario"
	@echo "make test    install what is needed and run every test"

$(BIN)/register-dr: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[sandbox,test]'
	@touch $@

node_modules/.bin/azurite-blob: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The sandbox's Terraform provider gets its own virtualenv with the pyproject's terraform-provider extra alone (PyPI tf
# and cloudfoundry-client pin incompatible protobuf versions).
TF_PROVIDER_VENV := .venv-terraform-provider
$(TF_PROVIDER_VENV)/bin/python: pyproject.toml
	$(PYTHON) -m venv $(TF_PROVIDER_VENV)
	$(PYTHON) -c "import tomllib; print('\\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project'] \
	  ['optional-dependencies']['terraform-provider']))" | $(TF_PROVIDER_VENV)/bin/pip install --quiet -r /dev/stdin
	@touch $@

install: $(BIN)/register-dr node_modules/.bin/azurite-blob $(TF_PROVIDER_VENV)/bin/python

# The awx.awx collection, to validate awx/configure.yml against its modules' own argument specs (tests only): taken
# from the community `ansible` package on PyPI, the one place it is published that these machines reach.
AWX_COLLECTION := .tools/awx/ansible_collections/awx/awx
$(AWX_COLLECTION)/meta/runtime.yml: | $(BIN)/register-dr
	$(BIN)/pip download --quiet --no-deps -d .tools/wheels 'ansible==12.3.0'
	$(BIN)/python -c "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); \
	  [z.extract(n, '.tools/awx') for n in z.namelist() if n.startswith('ansible_collections/awx/awx/')]" \
	  .tools/wheels/ansible-12.3.0-py3-none-any.whl
	@touch $@

lint: install
	$(BIN)/ruff check src tests bench tools $(COLLECTION)/plugins $(COLLECTION)/tests

sanity: install
	@# ansible-test bootstraps pip in each sanity venv from a cached script it would otherwise download.
	@v=$$($(BIN)/python -c "import ansible_test._internal.python_requirements as r, inspect, re; \
	  print(re.search(r\"pip='([0-9.]+)'\", inspect.getsource(r)).group(1).replace('.', '_'))"); \
	  mkdir -p $(HOME)/.ansible/test/cache && cp tools/ansible_test_pip_bootstrap.py $(HOME)/.ansible/test/cache/get_pip_$$v.py
	cd $(COLLECTION) && ansible-test sanity --python 3.11

unit: install $(AWX_COLLECTION)/meta/runtime.yml
	$(BIN)/pytest -q -m "not sandbox and not slow" $(PYTEST_ARGS)

# One shared sandbox: the independent tests in parallel first; then the tests that change its world one at a time
# (mostly waiting on the platform, so they run alongside) while the scenario playbooks and the drills run end to end
# on two workers, each test file on one worker with sandboxes of its own.
# Tests marked slow (realistic-timing drills, a drill that brings its own sandbox up) are left out; run them with
# `.venv/bin/pytest -m slow`.
SERIAL_LOG := $(TEST_HOME).serial.log
SCENARIO_TESTS := tests/scenarios tests/runner/test_drills.py

pytest: install $(AWX_COLLECTION)/meta/runtime.yml
	rm -rf $(TEST_HOME) && mkdir -p $(TEST_HOME) && chmod 755 $(TEST_HOME)
	$(BIN)/register-dr sandbox up --home $(TEST_HOME)
	REGISTER_DR_TEST_HOME=$(TEST_HOME) $(BIN)/pytest -q -n 2 -m "not sandbox and not slow" $(PYTEST_ARGS) || \
	  { $(BIN)/register-dr sandbox down --home $(TEST_HOME); rm -rf $(TEST_HOME); exit 1; }
	@echo "tests that change the shared sandbox: in the background, reported at the end"
	REGISTER_DR_TEST_HOME=$(TEST_HOME) $(BIN)/pytest -q -m "sandbox and not slow" $(addprefix --ignore=,$(SCENARIO_TESTS)) \
	    --durations=10 $(PYTEST_ARGS) > $(SERIAL_LOG) 2>&1 & serial=$$!; \
	  $(BIN)/pytest -q -n 2 --dist loadfile -m "sandbox and not slow" $(SCENARIO_TESTS) --durations=15 $(PYTEST_ARGS); scenarios=$$?; \
	  wait $$serial; shared=$$?; echo "--- tests that change the shared sandbox"; cat $(SERIAL_LOG); rm -f $(SERIAL_LOG); \
	  $(BIN)/register-dr sandbox down --home $(TEST_HOME); rm -rf $(TEST_HOME); \
	  test $$shared -eq 0 && test $$scenarios -eq 0

# The scenario playbooks and the drills alone.
scenarios: install
	$(BIN)/pytest -q -n 2 --dist loadfile -m "sandbox and not slow" $(SCENARIO_TESTS) --durations=15 $(PYTEST_ARGS)

# No file over 500 lines outside tests, no function over 80 lines in the Python side (sandbox/ aside).
sizes:
	$(PYTHON) tools/sizes.py

# The Galaxy artifact, carrying the roles and playbooks too (dist/register-dr-<version>.tar.gz).
collection: install
	$(BIN)/python tools/build_collection.py --output-dir dist

# awx/configure.yml uses the awx.awx collection: ansible-lint checks it with that collection on the path.
ansible-lint: install $(AWX_COLLECTION)/meta/runtime.yml
	ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/.tools/awx:$(CURDIR)/collections $(BIN)/ansible-lint --profile production

test: lint sanity ansible-lint pytest

drill: install
	$(BIN)/register-dr drill all

# One role's molecule scenario (SCENARIO=preflight), or every role's, against the running sandbox. molecule calls
# ansible-config and ansible-playbook by name, so the venv's bin is on PATH here (this Makefile exports it).
SANDBOX_HOME ?= $(or $(REGISTER_DR_HOME),$(CURDIR)/.sandbox)
molecule: install
	@test -f $(SANDBOX_HOME)/env.sh || { echo "no sandbox at $(SANDBOX_HOME): run make sandbox-up first"; exit 1; }
	source $(SANDBOX_HOME)/env.sh && $(BIN)/molecule test $(if $(SCENARIO),-s $(SCENARIO),--all)

sandbox-up: install
	$(BIN)/register-dr sandbox up

sandbox-down: install
	$(BIN)/register-dr sandbox down

clean:
	-$(BIN)/register-dr sandbox down
	rm -rf $(VENV) node_modules .sandbox artifacts .ansible
