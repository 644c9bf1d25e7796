#!/usr/bin/env bash
# Set up edgekit's benchmark environment on a Jetson (JetPack 6: Python 3.10) or any Linux aarch64
# board, from the repo root:
#   jetson/setup.sh            (VENV=.venv-jetson PYTHON=python3 by default)
# The venv sees the system packages (JetPack's TensorRT Python bindings for trtexec comparisons).
# pip picks the LiteRT wheel by the platform markers in setup.py (ai-edge-litert 1.4 on aarch64,
# Python 3.9-3.12); tflite-runtime is the fallback where none installs. The BlazeFace/face-mesh
# .tflite files and the caption fonts come from pinned PyPI packages via converters/thirdparty.py
# (sha256-checked; the mediapipe library is never installed). JetPack 5 (Python 3.8) is not
# supported: edgekit needs Python 3.9 or newer.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv-jetson}
PYTHON=${PYTHON:-python3}
[ "$(uname -m)" = aarch64 ] || echo "setup.sh: warning: $(uname -m) is not aarch64; this script is meant for a Jetson" >&2
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 9))'; then
  echo "setup.sh: $("$PYTHON" --version 2>&1) is too old: edgekit needs Python 3.9+ (JetPack 6 ships 3.10; on JetPack 5 install python3.9 or newer and run PYTHON=python3.9 jetson/setup.sh)" >&2
  exit 2
fi

"$PYTHON" -m venv --system-site-packages "$VENV"
PIP="$VENV/bin/pip"
PY="$VENV/bin/python"
"$PIP" install -q --upgrade pip

# Face models and caption fonts (pinned packages, sha256-checked; skipped when already in place)
"$PIP" install -q "fonttools>=4.47"
"$PY" -m converters.thirdparty

# edgekit and its runtime dependencies (+ matplotlib for the benchmark chart)
"$PIP" install -q -e . "matplotlib>=3.5"
if ! "$PY" -c "import edgekit.litert as l; l.interpreter_module()" 2>/dev/null; then
  echo "setup.sh: no ai-edge-litert wheel for this Python; installing tflite-runtime instead" >&2
  "$PIP" install -q "tflite-runtime>=2.11"
fi
# sha256-checks every model (emotion, caption, identity, BlazeFace, face mesh) against the manifest
"$VENV/bin/edgekit" models
echo "setup.sh: done. Run: jetson/run.sh   (see jetson/README.md)"
