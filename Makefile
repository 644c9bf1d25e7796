# Two commands for a fresh machine: `make demo` and `make test` (see README.md).
#   make demo   runtime venv (.venv: edgekit + its runtime dependencies, numpy 2) -> edgekit demo
#   make test   adds the test tools to .venv and builds the toolchain venv (.venv-train: TensorFlow,
#               numpy 1.x), then runs the runtime tests in .venv and the toolchain tests in .venv-train
#   make dev    the toolchain venv alone (training, conversion, reports)
PYTHON ?= python3
VENV   ?= .venv
TRAIN  ?= .venv-train
BIN    := $(VENV)/bin
TBIN   := $(TRAIN)/bin
RUNTIME_STAMP := $(VENV)/.edgekit-runtime
TEST_STAMP    := $(VENV)/.edgekit-test
TRAIN_STAMP   := $(TRAIN)/.edgekit-train
THIRDPARTY    := edgekit/models/third_party/.built
PIP_QUIET     := -q --disable-pip-version-check
export TF_USE_LEGACY_KERAS := 1
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: demo test test-runtime test-toolchain dev install thirdparty bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install $(PIP_QUIET) --upgrade pip

# fontTools is a set-up tool here (it builds the caption fonts); the runtime never imports it.
$(THIRDPARTY): converters/thirdparty.py edgekit/models/manifest.json edgekit/models/caption_tokenizer.json | $(BIN)/python
	$(BIN)/python -m pip install $(PIP_QUIET) "fonttools>=4.47"
	$(BIN)/python -m converters.thirdparty
	touch $@

thirdparty: $(THIRDPARTY)

$(RUNTIME_STAMP): setup.py | $(BIN)/python $(THIRDPARTY)
	$(BIN)/python -m pip install $(PIP_QUIET) -e . --config-settings editable_mode=compat
	touch $@

install: $(RUNTIME_STAMP) $(THIRDPARTY)

demo: install
	$(BIN)/edgekit demo --out-dir out/demo
	@echo "edgekit is installed in $(VENV): run $(BIN)/edgekit --help (or: source $(BIN)/activate; edgekit --help)"

$(TEST_STAMP): $(RUNTIME_STAMP) setup.py
	$(BIN)/python -m pip install $(PIP_QUIET) -e ".[test]" --config-settings editable_mode=compat
	touch $@

$(TRAIN_STAMP): setup.py converters/requirements-train.txt | $(THIRDPARTY)
	$(PYTHON) -m venv $(TRAIN)
	$(TBIN)/python -m pip install $(PIP_QUIET) --upgrade pip
	$(TBIN)/python -m pip install $(PIP_QUIET) -r converters/requirements-train.txt
	$(TBIN)/python -m pip install $(PIP_QUIET) --no-deps "mediapipe==0.10.21"
	$(TBIN)/python -m pip install $(PIP_QUIET) --config-settings editable_mode=compat -e ".[test]" -r converters/requirements-train.txt
	touch $@

dev: $(TRAIN_STAMP) $(THIRDPARTY)

# Runtime tests under numpy 2 (no TensorFlow in that venv), toolchain tests under numpy 1.x.
test-runtime: $(TEST_STAMP) $(THIRDPARTY)
	EDGEKIT_EXPECT_NUMPY=2 $(BIN)/python -m pytest -q -ra -m "not toolchain" tests

test-toolchain: $(TRAIN_STAMP) $(THIRDPARTY)
	EDGEKIT_TOOLCHAIN=required EDGEKIT_EXPECT_NUMPY=1 $(TBIN)/python -m pytest -q -ra -m "toolchain or both" tests

test: test-runtime test-toolchain

# Host benchmark -> benchmarks/results/host.{json,md,png}; run it on an idle machine.
# BENCH_ARGS e.g. "--quick" or "--models-dir runs/emotion/tflite" (see docs/benchmarks.md).
bench: $(TEST_STAMP) $(THIRDPARTY)
	$(BIN)/python -m benchmarks.host $(BENCH_ARGS)

clean:
	rm -rf build dist *.egg-info out .pytest_cache
