#!/usr/bin/env bash
# Set up edgekit's benchmark environment on a Jetson (JetPack 5 or 6, aarch64), from the repo root:
#   jetson/setup.sh            (VENV=.venv-jetson PYTHON=python3 by default)
# The venv sees the system packages (JetPack's OpenCV and TensorRT Python bindings). LiteRT comes
# from the ai-edge-litert wheel, or tflite-runtime where ai-edge-litert has no wheel for this
# Python (edgekit.litert falls back to it). edgekit needs BlazeFace's .tflite files from the
# mediapipe==0.10.21 wheel; where pip has no such wheel for this platform, only those model files
# are extracted from the manylinux x86_64 wheel (they are platform-independent and sha256-checked).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv-jetson}
PYTHON=${PYTHON:-python3}
[ "$(uname -m)" = aarch64 ] || echo "setup.sh: warning: $(uname -m) is not aarch64; this script is meant for a Jetson" >&2

"$PYTHON" -m venv --system-site-packages "$VENV"
PIP="$VENV/bin/pip"
PY="$VENV/bin/python"
"$PIP" install -q --upgrade pip

# LiteRT interpreter
"$PIP" install "ai-edge-litert>=2.0,<3" || {
  echo "setup.sh: no ai-edge-litert wheel for this Python; installing tflite-runtime instead" >&2
  "$PIP" install "tflite-runtime>=2.11"
}
# edgekit's other runtime dependencies (+ matplotlib for the benchmark chart); JetPack's OpenCV is kept when present
"$PIP" install "numpy>=1.23,<2" "Pillow>=10" "tqdm>=4.60" "platformdirs>=3" "matplotlib>=3.5"
"$PY" -c "import cv2" 2>/dev/null || "$PIP" install "opencv-contrib-python>=4.8,<5"

# BlazeFace model files (mediapipe==0.10.21)
if ! "$PIP" install --no-deps "mediapipe==0.10.21"; then
  echo "setup.sh: no mediapipe==0.10.21 wheel for this platform: extracting its face detection models only" >&2
  tmp=$(mktemp -d)
  "$PIP" download -q --no-deps --only-binary=:all: --platform manylinux_2_17_x86_64 --python-version 3.10 \
    -d "$tmp" "mediapipe==0.10.21"
  site=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  "$PY" - "$tmp" "$site" <<'PYEOF'
import pathlib, sys, zipfile
wheel = next(pathlib.Path(sys.argv[1]).glob("mediapipe-*.whl"))
site = pathlib.Path(sys.argv[2])
with zipfile.ZipFile(wheel) as archive:
    for name in archive.namelist():
        if name.startswith(("mediapipe/modules/face_detection/", "mediapipe/modules/face_landmark/")) and name.endswith(".tflite"):
            archive.extract(name, site)
(site / "mediapipe" / "__init__.py").write_text('"""Model files only, extracted by jetson/setup.sh: not the mediapipe library."""\n')
PYEOF
  rm -rf "$tmp"
fi

"$PIP" install --no-deps -e .
# sha256-checks the emotion model and the BlazeFace files against edgekit/models/manifest.json
"$PY" -c "from edgekit.registry import mediapipe_model_path, model_path; print(mediapipe_model_path('face_short_range')); print(model_path('emotion'))"
echo "setup.sh: done. Run: jetson/run.sh   (see jetson/README.md)"
