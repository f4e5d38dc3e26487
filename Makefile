# Every target does its own set-up on a fresh machine: .venv, the project and its test extras.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU wheel of torch keeps the venv small; set TORCH_SPEC="torch" on a GPU host for a CUDA build.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: run test bench soak clean help

help:
	@echo "make run    - full RA:X run on the built-in default workload"
	@echo "make test   - test suite"
	@echo "make bench  - benchmarks (tables of speed and accuracy targets)"
	@echo "make soak   - long reliability soak over emulated links (root, not in CI)"

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

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
