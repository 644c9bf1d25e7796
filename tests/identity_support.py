"""Helpers of the identity tests: a tiny real INT8 face-embedding ``.tflite`` (built with
TensorFlow, tests only) registered as ``identity`` in a temporary manifest, and test photos."""
from __future__ import annotations

import functools
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from edgekit import registry

TINY_DIM = 16
TINY_SIZE = 32
TINY_THRESHOLD = 0.99


@functools.lru_cache(maxsize=None)
def tiny_embedder_tflite(size: int = TINY_SIZE, dim: int = TINY_DIM, seed: int = 0) -> bytes:
    """A small CNN (conv, conv, flatten, dense) whose embedding keeps the spatial layout, so
    different faces get clearly different vectors; full-INT8 with uint8 input and output."""
    import tinymodels

    _, keras = tinymodels._tf()
    keras.utils.set_random_seed(seed)
    inp = keras.Input((size, size, 3), name="image")
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0)(inp)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.Flatten()(x)
    out = keras.layers.Dense(dim, name="embedding")(x)
    model = keras.Model(inp, out)
    return tinymodels.to_int8_tflite(model, tinymodels.sample_images(48, size, size, 3, seed=seed + 100))


def install_tiny_identity_model(folder: Path, monkeypatch: pytest.MonkeyPatch, threshold: float = TINY_THRESHOLD,
                                seed: int = 0) -> SimpleNamespace:
    """Write the tiny model into ``folder``, register it as ``identity`` in a manifest there (with
    the real manifest's MediaPipe entries), point edgekit at that manifest and at a fresh user
    data dir."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = folder / "manifest.json"
    if not manifest.exists():
        external = registry.load_manifest(registry.MANIFEST_PATH)["external"]
        manifest.write_text(json.dumps({"schema": registry.SCHEMA, "models": {}, "external": external}))
    model = folder / f"tiny_identity_{seed}.tflite"
    model.write_bytes(tiny_embedder_tflite(seed=seed))
    registry.register_model("identity", model, manifest_path=manifest, task="identity", labels=[],
                            produced_by="tests/identity_support.py", identity={"threshold": threshold,
                                                                               "flip_average": False,
                                                                               "embedding_dim": TINY_DIM})
    monkeypatch.setattr(registry, "MANIFEST_PATH", manifest)
    data = folder / "userdata"
    monkeypatch.setenv("EDGEKIT_DATA_DIR", str(data))
    return SimpleNamespace(model=model, manifest=manifest, data_dir=data, gallery=data / "identity_gallery.json")


def two_face_photo(astronaut_path: Path) -> np.ndarray:
    """The astronaut's head and its mirror image side by side (two faces BlazeFace finds)."""
    from edgekit import load_image

    head = load_image(astronaut_path)[0:300, 60:360]
    return np.ascontiguousarray(np.hstack([head, head[:, ::-1]]))


def faces_photo(astronaut_path: Path, scales) -> np.ndarray:
    """The astronaut's head at each of ``scales`` (1.0 = 300 px) in a row of 320-px cells on a
    gray canvas (two rows for three faces, so BlazeFace still sees them large enough): faces of
    known size for the "largest face by default" rule."""
    import cv2

    from edgekit import load_image

    head = load_image(astronaut_path)[0:300, 60:360]
    cols = 2
    rows = (len(scales) + cols - 1) // cols
    canvas = np.full((320 * rows, 320 * cols, 3), 128, np.uint8)
    for k, s in enumerate(scales):
        tile = cv2.resize(head, (int(300 * s), int(300 * s)), interpolation=cv2.INTER_AREA)
        y, x = 320 * (k // cols) + 10, 320 * (k % cols) + 10
        canvas[y:y + tile.shape[0], x:x + tile.shape[1]] = tile
    return canvas


def no_face_photo() -> np.ndarray:
    """A plain gray picture."""
    return np.full((240, 320, 3), 128, np.uint8)
