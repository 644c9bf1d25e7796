# Two commands for a fresh machine: `make demo` and `make test` (see README.md).
#   make demo   .venv: edgekit installed from this checkout as a user gets it (the wheel and its
#               runtime dependencies, numpy 2), then `edgekit demo`
#   make test   .venv-test (edgekit editable + test tools, numpy 2) and .venv-train (the toolchain:
#               TensorFlow, numpy 1.x); runtime tests in the first, toolchain tests in the second
#   make dev    the toolchain venv alone (training, conversion, reports)
#   make test-fast  the developer loop: both suites without the tests marked train, data or slow
PYTHON ?= python3
VENV   ?= .venv
TVENV  ?= .venv-test
TRAIN  ?= .venv-train
BIN    := $(VENV)/bin
XBIN   := $(TVENV)/bin
TBIN   := $(TRAIN)/bin
RUNTIME_STAMP := $(VENV)/.edgekit-runtime
TEST_STAMP    := $(TVENV)/.edgekit-test
TRAIN_STAMP   := $(TRAIN)/.edgekit-train
RUNTIME_FILES := setup.py pyproject.toml $(shell find edgekit -type f -not -name '*.pyc' -not -path '*/__pycache__/*' 2>/dev/null)
THIRDPARTY    := edgekit/models/third_party/.built
PIP_QUIET     := -q --disable-pip-version-check
export TF_USE_LEGACY_KERAS := 1
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: demo test test-runtime test-toolchain test-fast dev install thirdparty bench clean

%/bin/python:
	$(PYTHON) -m venv $*
	$*/bin/python -m pip install $(PIP_QUIET) --upgrade pip

# fontTools is a set-up tool (it builds the caption fonts), in its own small venv; the runtime never imports it.
$(THIRDPARTY): converters/thirdparty.py edgekit/models/manifest.json edgekit/models/caption_tokenizer.json $(wildcard converters/caption/corpus/authored/*.tsv) | .venv-build/bin/python
	.venv-build/bin/python -m pip install $(PIP_QUIET) "fonttools>=4.47"
	.venv-build/bin/python -m converters.thirdparty
	touch $@

thirdparty: $(THIRDPARTY)

# A regular (not editable) install: what an app developer's `pip install edgekit` gives.
$(RUNTIME_STAMP): $(RUNTIME_FILES) $(THIRDPARTY) | $(BIN)/python
	$(BIN)/python -m pip install $(PIP_QUIET) .
	touch $@

install: $(RUNTIME_STAMP) $(THIRDPARTY)

demo: install
	$(BIN)/edgekit demo --out-dir out/demo
	@echo "edgekit is installed in $(VENV): run $(BIN)/edgekit --help (or: source $(BIN)/activate; edgekit --help)"

# the runtime tests cover the server and the Ray Data path too: their extras go in .venv-test
$(TEST_STAMP): setup.py $(THIRDPARTY) | $(XBIN)/python
	$(XBIN)/python -m pip install $(PIP_QUIET) -e ".[test,server,ray]" --config-settings editable_mode=compat
	touch $@

$(TRAIN_STAMP): setup.py converters/requirements-train.txt $(THIRDPARTY) | $(TBIN)/python
	$(TBIN)/python -m pip install $(PIP_QUIET) -r converters/requirements-train.txt
	$(TBIN)/python -m pip install $(PIP_QUIET) --no-deps "mediapipe==0.10.21"
	$(TBIN)/python -m pip install $(PIP_QUIET) --config-settings editable_mode=compat -e ".[test]" -r converters/requirements-train.txt
	touch $@

dev: $(TRAIN_STAMP) $(THIRDPARTY)

# Runtime tests under numpy 2 (no TensorFlow in that venv), toolchain tests under numpy 1.x.
RUNTIME_PYTEST   := EDGEKIT_EXPECT_NUMPY=2 $(XBIN)/python -m pytest -q -ra
TOOLCHAIN_PYTEST := EDGEKIT_TOOLCHAIN=required EDGEKIT_EXPECT_NUMPY=1 $(TBIN)/python -m pytest -q -ra
# markers (pyproject.toml): train = trains a model, data = needs ../shared, slow = over ~10 s
FAST := not train and not data and not slow

test-runtime: $(TEST_STAMP) $(THIRDPARTY)
	$(RUNTIME_PYTEST) -m "not toolchain" tests

test-toolchain: $(TRAIN_STAMP) $(THIRDPARTY)
	$(TOOLCHAIN_PYTEST) -m "toolchain or both" tests

test: test-runtime test-toolchain

# The developer loop (a few minutes); `make test` (CI) still runs everything.
test-fast: $(TEST_STAMP) $(TRAIN_STAMP) $(THIRDPARTY)
	$(RUNTIME_PYTEST) -m "not toolchain and $(FAST)" tests
	$(TOOLCHAIN_PYTEST) -m "(toolchain or both) and $(FAST)" tests

# Host benchmark -> benchmarks/results/host.{json,md,png}; run it on an idle machine.
# BENCH_ARGS e.g. "--quick" or "--models-dir runs/emotion/tflite" (see docs/benchmarks.md).
bench: $(TEST_STAMP) $(THIRDPARTY)
	$(XBIN)/python -m benchmarks.host $(BENCH_ARGS)

clean:
	rm -rf build dist *.egg-info out .pytest_cache
