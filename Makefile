# Every target does its own set-up on a fresh machine: .venv, the project and its test extras.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU wheel of torch keeps the venv small; set TORCH_SPEC="torch" on a GPU host for a CUDA build.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed
# `make gpu-check` builds its own venv with the default (CUDA) torch wheel, beside the CPU one.
GPU_VENV ?= .venv-gpu
GPU_TORCH_SPEC ?= torch
GPU_STAMP := $(GPU_VENV)/.installed

.PHONY: run test bench soak gpu-check clean help

help:
	@echo "make run    - full RA:X run on the built-in default workload"
	@echo "make test   - test suite"
	@echo "make bench  - benchmarks (tables of speed and accuracy targets)"
	@echo "make soak   - long reliability soak over emulated links (root, not in CI)"
	@echo "make gpu-check - every CUDA/NCCL path on this GPU host, pass/fail table (~5 min; lists them on CPU)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q --disable-pip-version-check -e ".[test,frameworks]"
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps "torchtitan==0.2.2"
	touch $(STAMP)

run: $(STAMP)
	sh scripts/ensure_chromium.sh
	$(BIN)/rax run

test: $(STAMP)
	sh scripts/ensure_chromium.sh
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m benchmarks $(B)

soak: $(STAMP)
	$(BIN)/python -m benchmarks.soak

$(GPU_STAMP): pyproject.toml
	$(PYTHON) -m venv $(GPU_VENV)
	$(GPU_VENV)/bin/python -m pip install -q --disable-pip-version-check "$(GPU_TORCH_SPEC)"
	$(GPU_VENV)/bin/python -m pip install -q --disable-pip-version-check -e .
	touch $(GPU_STAMP)

gpu-check: $(GPU_STAMP)
	$(GPU_VENV)/bin/python -m raxlab.measure.gpu_check --out out/gpu-check.json

clean:
	rm -rf $(VENV) $(GPU_VENV) build *.egg-info src/*.egg-info .pytest_cache
