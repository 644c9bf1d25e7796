"""The runtime never imports TensorFlow, MediaPipe or the converters, and importing it has no side
effects. Checked in fresh subprocesses (the test process itself has TensorFlow loaded)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("tensorflow", "tf_keras", "keras", "mediapipe", "converters", "jax", "tensorflow_model_optimization",
             "dlib", "face_recognition_models")  # the identity teacher is toolchain-only


def run_python(code: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def forbidden_in(modules) -> list:
    return sorted(m for m in modules if m.split(".")[0] in FORBIDDEN)


def test_import_edgekit_is_cheap_and_has_no_side_effects():
    out = run_python(
        "import json, os, sys, threading\n"
        "env, threads = dict(os.environ), threading.active_count()\n"
        "import edgekit\n"
        "print(json.dumps({'env_same': dict(os.environ) == env, 'threads': threading.active_count() - threads,\n"
        "                  'heavy': [m for m in ('numpy', 'cv2', 'ai_edge_litert') if m in sys.modules],\n"
        "                  'modules': list(sys.modules)}))\n")
    assert out["env_same"] and out["threads"] == 0
    assert out["heavy"] == []  # public names load on first use
    assert forbidden_in(out["modules"]) == []


def test_every_runtime_module_and_a_full_run_stay_free_of_tensorflow(tiny_emotion_model, astronaut_path):
    out = run_python(
        "import importlib, json, pkgutil, sys\n"
        "import edgekit\n"
        "names = [getattr(edgekit, n) for n in edgekit.__all__]\n"
        "for m in pkgutil.walk_packages(edgekit.__path__, 'edgekit.'):\n"
        "    if m.name != 'edgekit.__main__':\n"
        "        importlib.import_module(m.name)\n"
        f"faces = edgekit.analyze({str(astronaut_path)!r}, emotion_model={str(tiny_emotion_model)!r})\n"
        "print(json.dumps({'faces': len(faces), 'modules': list(sys.modules)}))\n")
    assert out["faces"] == 1
    assert forbidden_in(out["modules"]) == []


def test_public_api_exports():
    import edgekit

    expected = {"analyze", "Pipeline", "PipelineOptions", "FaceDetector", "FaceDetectorOptions", "FaceAligner",
                "EmotionClassifier", "load_image", "FaceResult", "FrameResult", "EmotionResult", "Detection",
                "BoundingBox", "StageTimings", "EdgekitError", "InputError", "ImageReadError", "VideoReadError",
                "ConfigError", "ModelError", "NoFaceError", "__version__"}
    assert expected <= set(edgekit.__all__)
    for name in edgekit.__all__:
        assert getattr(edgekit, name) is not None, name
    assert edgekit.Pipeline.__module__ == "edgekit.pipeline"
    assert issubclass(edgekit.VideoReadError, edgekit.InputError)
