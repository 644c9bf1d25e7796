"""The aligned-crop training data path (converters/emotion/aligned.py): the crops the toolchain
trains on are, pixel for pixel, the crops ``edgekit.analyze`` feeds the classifier for the same
face (toolchain venv: the config module imports TensorFlow)."""
from __future__ import annotations

from pathlib import Path
from typing import List

import cv2
import numpy as np
import pytest

import edgekit
from converters.emotion import aligned
from converters.emotion.config import TrainConfig
from converters.emotion.data import FaceSet
from edgekit.pipeline import clear_cache
from fuzz import seeds


def fer_like_faces() -> np.ndarray:
    """Six 48 px gray faces shaped like FER+ crops: the demo face, shifted, rotated, mirrored, darker."""
    face = cv2.cvtColor(seeds.face_rgb(144), cv2.COLOR_RGB2GRAY)[24:132, 18:126]
    variants = [face, np.ascontiguousarray(face[:, ::-1]), (face * 0.6).astype(np.uint8)]
    for angle in (-8, 8):
        m = cv2.getRotationMatrix2D((54, 54), angle, 1.0)
        variants.append(cv2.warpAffine(face, m, (108, 108), borderMode=cv2.BORDER_REPLICATE))
    variants.append(np.roll(face, 6, axis=1))
    return np.stack([cv2.resize(v, (48, 48), interpolation=cv2.INTER_AREA) for v in variants])


@pytest.fixture(autouse=True)
def no_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(aligned, "CACHE_DIR", tmp_path / "cache")
    clear_cache()
    yield
    clear_cache()


def test_training_crops_are_the_crops_analyze_feeds_the_classifier(monkeypatch):
    faces = fer_like_faces()
    size = edgekit.registry.model_info("emotion").input.height  # the shipped model's input (128 px since #26)
    crops, detected = aligned.runtime_crops(faces, size, progress=False)
    assert detected.all() and crops.shape == (len(faces), size, size) and crops.dtype == np.uint8
    fed: List[np.ndarray] = []
    real = edgekit.EmotionClassifier.predict_probs

    def spy(self, pixels):
        fed.append(pixels.copy())
        return real(self, pixels)

    monkeypatch.setattr(edgekit.EmotionClassifier, "predict_probs", spy)
    for i, face in enumerate(faces):
        fed.clear()
        found = edgekit.analyze(aligned.as_photo(face))
        assert len(found) == 1 and len(fed) == 1
        assert fed[0].shape == (size, size, 3) and (fed[0] == fed[0][..., :1]).all()  # luma in 3 channels
        np.testing.assert_array_equal(fed[0][..., 0], crops[i])


def test_undetected_faces_keep_their_resized_crop_and_are_counted():
    blank = np.full((2, 48, 48), 127, np.uint8)
    crops, detected = aligned.runtime_crops(blank, 64, progress=False)
    assert not detected.any() and (crops == 127).all() and crops.shape == (2, 64, 64)


def test_aligned_set_keeps_labels_and_caches(tmp_path):
    faces = fer_like_faces()
    votes = np.eye(10, dtype=np.float32)[np.arange(len(faces)) % 8]
    source = FaceSet(faces, votes, [f"f{i}.png" for i in range(len(faces))], "tiny")
    out = aligned.aligned_set(source, 64, progress=False)
    assert out.images.shape == (len(faces), 64, 64) and out.names == source.names
    np.testing.assert_array_equal(out.votes, votes)
    cached = list((tmp_path / "cache").glob("aligned_64_*.npz"))
    assert len(cached) == 1
    again, _ = aligned.runtime_crops(faces, 64, progress=False)
    np.testing.assert_array_equal(again, out.images)


def test_the_training_config_switch():
    assert TrainConfig().aligned is False
    cfg = TrainConfig.from_dict({"aligned": True, "input_size": 128})
    assert cfg.aligned and TrainConfig.from_dict(cfg.to_dict()).aligned


def test_runtime_predict_goes_through_detection_and_alignment(tmp_path):
    faces = fer_like_faces()[:3]
    paths = []
    for i, face in enumerate(faces):
        paths.append(tmp_path / f"f{i}.png")
        cv2.imwrite(str(paths[-1]), face)
    probs, fed = aligned.runtime_predict(Path(edgekit.registry.load_model("emotion").path), paths)
    crops, _ = aligned.runtime_crops(faces, edgekit.registry.model_info("emotion").input.height, progress=False)
    assert probs.shape == (3, 8) and np.allclose(probs.sum(axis=1), 1.0, atol=0.02)
    np.testing.assert_array_equal(fed[..., 0], crops)
