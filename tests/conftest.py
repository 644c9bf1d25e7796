"""Shared fixtures: paths to ../shared data (skipped with a reason when absent) and test photos."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EDGEKIT_SHARED", ROOT.parent / "shared"))
FERPLUS = SHARED / "data" / "ferplus"
LFW = SHARED / "data" / "lfw"

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


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


@pytest.fixture(scope="session")
def tiny_emotion_model(tmp_path_factory) -> Path:
    """A small real INT8 emotion .tflite with label metadata (``tests/tinymodels.py``), built once
    per session (needs TensorFlow; the trained model is not needed)."""
    import tinymodels

    _, tflite = tinymodels.int8_model()
    path = tmp_path_factory.mktemp("models") / "tiny_emotion.tflite"
    path.write_bytes(tinymodels.with_label_metadata(tflite, tinymodels.LABELS))
    return path
