"""What the wheel asks pip for, per platform, and what an installed edgekit needs at run time."""
from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from packaging.requirements import Requirement

from benchmarks.install_matrix import TARGETS, requirements_for

ROOT = Path(__file__).resolve().parents[2]
HEAVY = {"mediapipe", "jax", "jaxlib", "tensorflow", "tf-keras", "matplotlib", "opencv-contrib-python", "sounddevice"}


def runtime_requirements():
    return [r for r in importlib.metadata.requires("edgekit") or [] if "extra ==" not in r]


def test_runtime_requirements_are_thin():
    names = {Requirement(r).name.lower() for r in runtime_requirements()}
    assert names == {"numpy", "opencv-python-headless", "ai-edge-litert", "pillow", "tqdm", "platformdirs"}
    assert not names & HEAVY
    numpy = next(Requirement(r) for r in runtime_requirements() if r.startswith("numpy"))
    assert numpy.specifier.contains("2.1.0") and numpy.specifier.contains("1.26.4")
    python = importlib.metadata.metadata("edgekit")["Requires-Python"]
    assert "<" not in python  # 3.13 and 3.14 are not refused


@pytest.mark.parametrize("target,python,litert", [
    ("Linux x86_64", "3.10", ">=2.0,<3"), ("Linux x86_64", "3.14", ">=2.0,<3"),
    ("macOS arm64", "3.12", ">=2.0,<3"), ("Windows x86_64", "3.13", ">=2.0,<3"),
    ("Linux aarch64", "3.10", ">=1.4,<2"), ("Linux aarch64", "3.12", ">=1.4,<2"), ("Linux aarch64", "3.13", None),
])
def test_litert_is_chosen_by_platform_markers(target, python, litert):
    env, _ = TARGETS[target]
    reqs = [Requirement(r) for r in requirements_for(runtime_requirements(), env, python)]
    chosen = [r for r in reqs if r.name == "ai-edge-litert"]
    if litert is None:
        assert chosen == []  # no wheel exists: edgekit.litert explains the options at import
    else:
        assert len(chosen) == 1 and set(str(chosen[0].specifier).split(",")) == set(litert.split(","))


def test_missing_litert_names_the_platform_and_the_options():
    code = ("import sys; sys.modules['ai_edge_litert'] = None; sys.modules['tflite_runtime'] = None\n"
            "from edgekit import litert\n"
            "try:\n    litert.interpreter_module()\nexcept Exception as e:\n    print(type(e).__name__, e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.startswith("ModelError no LiteRT interpreter is installed for ")
    assert "Python 3." in out.stdout and "ai-edge-litert" in out.stdout and "tflite-runtime" in out.stdout


@pytest.mark.both
@pytest.mark.skipif(not os.environ.get("EDGEKIT_EXPECT_NUMPY"), reason="make test sets EDGEKIT_EXPECT_NUMPY per venv")
def test_pipeline_runs_on_the_expected_numpy(astronaut_path):
    """make test runs the runtime tests with numpy 2 and the toolchain tests with numpy 1.x: both
    run the whole pipeline."""
    import edgekit

    assert np.__version__.split(".")[0] == os.environ["EDGEKIT_EXPECT_NUMPY"]
    faces = edgekit.analyze(astronaut_path)
    assert len(faces) == 1 and faces[0].emotion.label in edgekit.EmotionClassifier().labels
