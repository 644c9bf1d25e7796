"""Shared fixtures: paths to ../shared data (skipped with a reason when absent) and test photos."""
from __future__ import annotations

import itertools
import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EDGEKIT_SHARED", ROOT.parent / "shared"))
FERPLUS = SHARED / "data" / "ferplus"
LFW = SHARED / "data" / "lfw"

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: Test modules (file names, in any tests/<layer>/ folder) that need the training toolchain
#: (TensorFlow, tf_keras, tfmot, mediapipe): they run in .venv-train (numpy 1.x) under
#: `-m toolchain`; everything else runs in the runtime venv
#: (numpy 2, no TensorFlow). Tests elsewhere that build a tiny model with TensorFlow (the
#: ``tiny_emotion_model`` fixture) are marked too.
TOOLCHAIN_MODULES = frozenset({
    "test_android_demo.py", "test_caption_corpus.py", "test_caption_model.py", "test_caption_runtime.py",
    "test_converters_emotion_aligned.py", "test_converters_emotion_data.py", "test_converters_emotion_dead_gates.py",
    "test_converters_emotion_cam_model.py", "test_converters_emotion_evaluate.py", "test_converters_emotion_gradcam.py",
    "test_converters_emotion_history.py",
    "test_converters_emotion_latency_probe.py", "test_converters_emotion_pipeline.py",
    "test_converters_emotion_pruning.py", "test_converters_emotion_shipped.py",
    "test_converters_emotion_teacher.py", "test_converters_emotion_teacher_weights.py",
    "test_detection.py", "test_emotion_classifier.py", "test_facemesh.py",
    "test_identity_cli.py", "test_identity_converters.py", "test_identity_ferplus.py", "test_identity_runtime.py",
    "test_registry.py",
    "test_runtime_imports.py",
})
TOOLCHAIN_FIXTURES = frozenset({"tiny_emotion_model"})
#: Fixtures that read ../shared: a test using one (directly or through another fixture) is marked ``data``.
DATA_FIXTURES = frozenset({"ferplus_dir", "lfw_dir"})


def excludes_marker(markexpr: str, marker: str) -> bool:
    """True when the ``-m`` expression selects no test carrying ``marker``, whatever other markers
    it has (``not toolchain``, ``not toolchain and not slow``; not ``toolchain or both``)."""
    from _pytest.mark.expression import Expression

    if not markexpr.strip():
        return False
    expression = Expression.compile(markexpr)
    others = sorted(set(re.findall(r"[A-Za-z_]\w*", markexpr)) - {"and", "or", "not", marker})
    for values in itertools.product((False, True), repeat=len(others)):
        present = {**dict(zip(others, values)), marker: True}
        if expression.evaluate(lambda name, **kwargs: present.get(name, False)):
            return False
    return True


def pytest_ignore_collect(collection_path, config):
    """The runtime runs (``-m "not toolchain"``, ``make test-fast``) do not import the toolchain
    modules at all, so their module-level TensorFlow checks do not show up as skips there."""
    if collection_path.name in TOOLCHAIN_MODULES and excludes_marker(config.getoption("markexpr", ""), "toolchain"):
        return True
    return None


def pytest_collection_modifyitems(config, items):
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if item.path.name in TOOLCHAIN_MODULES or TOOLCHAIN_FIXTURES & fixtures:
            item.add_marker(pytest.mark.toolchain)
        if DATA_FIXTURES & fixtures:
            item.add_marker(pytest.mark.data)


def pytest_sessionstart(session):
    """With EDGEKIT_TOOLCHAIN=required (make test-toolchain) a missing toolchain is an error, so the
    toolchain tests can never turn into skips unnoticed."""
    if os.environ.get("EDGEKIT_TOOLCHAIN") == "required":
        import importlib.util

        missing = [m for m in ("tensorflow", "tf_keras", "tensorflow_model_optimization", "mediapipe")
                   if importlib.util.find_spec(m) is None]
        if missing:
            raise pytest.UsageError(f"EDGEKIT_TOOLCHAIN=required but {', '.join(missing)} cannot be imported "
                                    "(make test-toolchain builds .venv-train)")


@pytest.fixture(scope="session")
def ferplus_dir() -> Path:
    if not (FERPLUS / "FER2013Valid" / "label.csv").is_file():
        pytest.skip(f"FER+ data not found at {FERPLUS} (set EDGEKIT_SHARED or place ../shared beside the repo)")
    return FERPLUS


@pytest.fixture(scope="session")
def lfw_dir() -> Path:
    if not (LFW / "pairsDevTrain.txt").is_file():
        pytest.skip(f"LFW data not found at {LFW} (set EDGEKIT_SHARED or place ../shared beside the repo)")
    return LFW


@pytest.fixture(scope="session")
def astronaut_path() -> Path:
    """scikit-image's public-domain astronaut photo (one frontal face)."""
    skdata = pytest.importorskip("skimage.data", reason="scikit-image ([test] extra) ships the astronaut photo")
    path = Path(skdata.__file__).parent / "astronaut.png"
    if not path.is_file():
        pytest.skip(f"{path} missing from the installed scikit-image")
    return path


@pytest.fixture(scope="module")
def astronaut(astronaut_path):
    """The astronaut photo as a BGR uint8 array, one per test module (tests read it, never draw on it)."""
    import cv2

    return cv2.imread(str(astronaut_path))


@pytest.fixture(scope="session")
def tiny_emotion_model(tmp_path_factory) -> Path:
    """A small real INT8 emotion .tflite with label metadata (``tests/tinymodels.py``), built once
    per session (needs TensorFlow; the trained model is not needed)."""
    import tinymodels

    _, tflite = tinymodels.int8_model()
    path = tmp_path_factory.mktemp("models") / "tiny_emotion.tflite"
    path.write_bytes(tinymodels.with_label_metadata(tflite, tinymodels.LABELS))
    return path


@pytest.fixture(autouse=True)
def _fresh_shared_captions():
    """Every test starts with empty recent-caption memories in the shared captioners
    (``edgekit.caption()``, ``suggest()``, ``make_meme()``): they skip recent lines, so otherwise a
    test's captions would depend on which tests ran before it in the process."""
    api = sys.modules.get("edgekit.captioning.api")  # never imported here just for this
    if api is not None:
        api.reset_recent()
    yield
