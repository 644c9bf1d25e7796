# Two commands for a fresh machine: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.edgekit-installed
export TF_USE_LEGACY_KERAS := 1
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: demo test install bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel

# Re-install when setup.py changes.
$(STAMP): setup.py | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[train,test]"
	touch $@

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/edgekit demo --out-dir out/demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -ra tests

# Host benchmark -> benchmarks/results/host.{json,md,png}; run it on an idle machine.
# BENCH_ARGS e.g. "--quick" or "--models-dir runs/emotion/tflite" (see docs/benchmarks.md).
bench: $(STAMP)
	$(BIN)/python -m benchmarks.host $(BENCH_ARGS)

clean:
	rm -rf build dist *.egg-info out .pytest_cache
