#!/usr/bin/env bash
# Optional TensorRT path: convert .tflite models to ONNX for trtexec (run on any machine, e.g. the
# workstation that trained them; needs `pip install tf2onnx`), then copy the .onnx files to the Jetson:
#   jetson/export_onnx.sh OUT_DIR MODEL.tflite [MODEL.tflite ...]
# e.g. jetson/export_onnx.sh build/onnx runs/emotion/tflite/float_fp32.tflite \
#        "$(python -c 'from edgekit.registry import third_party_model_path as p; print(p("face_short_range"))')"
# Convert the FP32 models: TensorRT builds its own FP16/INT8 engines from them (trtexec --fp16 / --int8).
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,8p' "$0" >&2; exit 2; }
out=$1; shift
PY=${PYTHON:-python3}
"$PY" -c "import tf2onnx" 2>/dev/null || { echo "export_onnx.sh: tf2onnx is not installed: pip install tf2onnx" >&2; exit 1; }
mkdir -p "$out"
for model in "$@"; do
  [ -f "$model" ] || { echo "export_onnx.sh: $model: not found" >&2; exit 1; }
  name=$(basename "$model" .tflite)
  "$PY" -m tf2onnx.convert --tflite "$model" --output "$out/$name.onnx" --opset 13
done
