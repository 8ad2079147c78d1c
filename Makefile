# codeperf: every target bootstraps .venv and the release build of the Rust
# extension on demand, so each one works from a fresh clone.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON_BOOT ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Stamps are real files: a deleted or broken venv is rebuilt, an unchanged one is not.
VENV_STAMP := $(VENV)/.requirements-installed
BUILD_STAMP := $(VENV)/.rust-extension-built
RUST_SOURCES := Cargo.toml pyproject.toml $(wildcard Cargo.lock) $(shell find crates -name '*.rs' -o -name 'Cargo.toml' 2>/dev/null)
PYTEST_ARGS ?=

.PHONY: help
help:  ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:[^#]*## /\t/' | awk -F'\t' '{printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

$(VENV_STAMP): requirements.txt
	test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(BUILD_STAMP): $(VENV_STAMP) $(RUST_SOURCES)
	@# A stale extension must never be imported: delete it before building.
	rm -f python/codeperf/_rust*.so
	VIRTUAL_ENV=$(CURDIR)/$(VENV) PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/maturin develop --release --quiet
	touch $@

.PHONY: venv
venv: $(VENV_STAMP)  ## create .venv and install requirements.txt

.PHONY: build
build: $(BUILD_STAMP)  ## build the Rust extension (release) into the package

.PHONY: test
test: test-rs test-py  ## set-up, cargo tests, pytest on both engine backends

.PHONY: test-rs
test-rs:  ## cargo test --workspace (the pure-Rust core)
	cargo test --workspace --release --quiet

.PHONY: test-py
test-py: $(BUILD_STAMP)  ## pytest (every behavioural test runs on both backends)
	$(PY) -m pytest $(PYTEST_ARGS)

.PHONY: speed-check
speed-check: $(BUILD_STAMP)  ## print Rust vs Python speed ratios at the reference size (100 x 2 KB)
	$(PY) scripts/engine_speed.py

.PHONY: clean
clean:  ## remove build outputs (keeps .venv)
	rm -rf target python/codeperf/_rust*.so $(BUILD_STAMP)
