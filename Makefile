# The two commands the README starts with: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
COLLECTION_LINK := .collections/ansible_collections/skillforge/dataops

.PHONY: setup demo test unit e2e sanity clean

# A virtualenv with the pinned dependencies, and this checkout linked where ansible.cfg looks for
# collections, so the playbooks run without `ansible-galaxy collection install`.
setup: $(VENV)/.installed $(COLLECTION_LINK)

$(VENV)/.installed: requirements.txt requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $@

$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn ../../.. $@

demo: setup
	$(BIN)/python scripts/demo.py

test: setup
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/pytest
	$(BIN)/antsibull-changelog lint
	PATH="$(abspath $(BIN)):$$PATH" tests/sanity.sh

unit: setup
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/pytest tests/unit

e2e: setup
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/pytest tests/e2e

sanity: setup
	PATH="$(abspath $(BIN)):$$PATH" tests/sanity.sh

clean:
	rm -rf $(VENV) .collections tests/output .pytest_cache
