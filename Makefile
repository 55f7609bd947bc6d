# The two commands the README starts with: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
COLLECTION_LINK := .collections/ansible_collections/skillforge/dataops

.PHONY: setup demo test unit database e2e sanity lint molecule lock clean

# A virtualenv with the pinned dependencies, and this checkout linked where ansible.cfg looks for
# collections, so the playbooks run without `ansible-galaxy collection install`.
setup: $(VENV)/.installed $(COLLECTION_LINK)

# pip prints one line per package it collects and installs: the first run takes a few minutes.
$(VENV)/.installed: requirements.txt requirements-test.txt requirements-lock.txt
	@echo "== setup 1/3: virtualenv $(VENV) ($$($(PYTHON) --version))"
	$(PYTHON) -m venv $(VENV)
	@echo "== setup 2/3: the pinned dependencies (requirements-test.txt, constrained by requirements-lock.txt)"
	$(BIN)/pip install --disable-pip-version-check --progress-bar on -r requirements-test.txt -c requirements-lock.txt
	touch $@
	@echo "== setup 2/3 done"

$(COLLECTION_LINK):
	@echo "== setup 3/3: this checkout linked as $(COLLECTION_LINK)"
	mkdir -p $(dir $@)
	ln -sfn ../../.. $@

demo: setup
	$(BIN)/python scripts/demo.py

# The quick checks first (ansible-lint, Molecule); ansible-test sanity and units last, so sanity's
# "N passed, N failed" line closes the run.
# Every database the run's tests create is named after SKILLFORGE_TEST_RUN; the last step checks that
# none is left (each test process drops its own, the run drops what forked processes left).
# pytest runs one process per core (xdist), each test file whole in one of them (--dist loadfile), so
# a file's module-scoped databases are built once.
test: export SKILLFORGE_TEST_RUN := mk$(shell date +%s%N | cut -c1-14)
# Each phase's start is printed (UTC), so a run's log shows where its time went (docs/TESTING.md).
test: setup
	@echo "== make test: ansible-lint and Molecule ($$(date -u +%T))"
	$(MAKE) --no-print-directory lint molecule
	@echo "== make test: pytest ($$(date -u +%T))"
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/pytest -n auto --dist loadfile
	@echo "== make test: changelog lint, ansible-test sanity and units ($$(date -u +%T))"
	$(BIN)/antsibull-changelog lint
	PATH="$(abspath $(BIN)):$$PATH" SANITY_UNITS=1 tests/sanity.sh
	$(BIN)/python tests/leftover_databases.py
	@echo "== make test: done ($$(date -u +%T))"

# The pure tests: no PostgreSQL, Redis or Node needed (tests/unit is what ansible-test units runs too).
unit: setup
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/pytest tests/unit

# module_utils against the real PostgreSQL (and Redis): jobs, migrations, seeding, golden SQL.
database: setup
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/pytest tests/database

e2e: setup
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/pytest tests/e2e

sanity: setup
	PATH="$(abspath $(BIN)):$$PATH" tests/sanity.sh

# ansible-lint, production profile, offline (.ansible-lint).
lint: setup
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/ansible-lint

# Every role's Molecule scenario (extensions/molecule/): converge against a throwaway database on the
# test PostgreSQL, idempotence, testinfra verify. extensions/molecule/default is an empty stub that
# only stops Molecule's "default ... glob failed" CRITICAL line; it has nothing to run.
molecule: setup
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/molecule test --all --exclude default

# Regenerate requirements-lock.txt from a fresh virtualenv of requirements-test.txt.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --disable-pip-version-check -r requirements-test.txt
	{ sed -n '1,2p' requirements-lock.txt; .lock-venv/bin/pip freeze --disable-pip-version-check; } > requirements-lock.txt.new
	mv requirements-lock.txt.new requirements-lock.txt && rm -rf .lock-venv

clean:
	rm -rf $(VENV) .collections tests/output .pytest_cache .hypothesis
