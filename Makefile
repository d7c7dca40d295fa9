# Quick start: `make run` (the registry on the embedded default) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8080
HOST ?= 127.0.0.1

export REGISTRY_VAR_DIR ?= $(CURDIR)/var

.PHONY: run test install lint bench clean system-deps

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/registry db upgrade
	$(BIN)/registry demo --url http://$(HOST):$(PORT)
	$(BIN)/registry serve --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check registry client schemas tests migrations bench

bench: $(STAMP)
	$(BIN)/python bench/transfer.py

clean:
	rm -rf $(VENV) var test-output .pytest_cache
