"""The toolchain evaluates its models on exactly the pixels the runtime feeds them."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from converters.emotion.evaluate import TFLiteRunner, runtime_inputs
from edgekit import registry
from edgekit.emotion import EmotionClassifier


@pytest.fixture(scope="module")
def classifier():
    return EmotionClassifier(registry.model_path("emotion"))  # a broken shipped model fails here, never skips


@pytest.mark.parametrize("side", [48, 64, 100])  # enlarged, as is, shrunk for the 64 px model
def test_runtime_inputs_are_the_pixels_predict_feeds_the_model(classifier, tmp_path, side):
    rng = np.random.default_rng(side)
    faces = rng.integers(0, 256, (5, side, side), dtype=np.uint8)
    fed = []
    original = classifier.predict_probs
    classifier.predict_probs = lambda pixels: (fed.append(pixels.copy()), original(pixels))[1]
    try:
        for i, face in enumerate(faces):
            cv2.imwrite(str(tmp_path / f"{i}.png"), face)
            classifier.predict(str(tmp_path / f"{i}.png"))
    finally:
        del classifier.predict_probs
    np.testing.assert_array_equal(runtime_inputs(faces, classifier.input_size[0]), np.stack(fed))


def test_toolchain_probabilities_equal_the_runtime_ones(classifier, tmp_path):
    faces = np.random.default_rng(1).integers(0, 256, (6, 48, 48), dtype=np.uint8)
    runtime = []
    for i, face in enumerate(faces):
        cv2.imwrite(str(tmp_path / f"{i}.png"), face)
        result = classifier.predict(str(tmp_path / f"{i}.png"))
        runtime.append([result.probs[name] for name in classifier.labels])
    np.testing.assert_allclose(TFLiteRunner(classifier.model_path).predict(faces), np.array(runtime), atol=1e-7)


def test_noise_flip_rate_counts_top1_changes_under_plus_minus_one_noise():
    runner = object.__new__(TFLiteRunner)  # only predict_pixels is used; no model needed
    pixels = np.full((3000, 4, 4, 3), 100, np.uint8)
    runner.predict_pixels = lambda x: np.eye(2)[x[:, 0, 0, 0].astype(int) % 2]  # top-1 = parity of one pixel
    rate = runner.noise_flip_rate(pixels, runner.predict_pixels(pixels), seed=0)
    assert abs(rate - 2 / 3) < 0.03  # that pixel moves (-1 or +1) two times in three
    assert rate == runner.noise_flip_rate(pixels, runner.predict_pixels(pixels), seed=0)  # seeded
    runner.predict_pixels = lambda x: np.eye(2)[np.zeros(len(x), int)]
    assert runner.noise_flip_rate(pixels, runner.predict_pixels(pixels)) == 0.0


def test_int8_calibration_sees_the_runtime_pixels():
    from converters.core.quantize import representative_dataset

    faces = np.random.default_rng(2).integers(1, 255, (20, 48, 48), dtype=np.uint8)
    samples = [x for (x,) in representative_dataset(faces, 64, count=8, seed=3)()]
    assert len(samples) == 8 and all(s.shape == (1, 64, 64, 3) and s.dtype == np.float32 for s in samples)
    assert samples[0].min() == 0.0 and samples[0].max() == 255.0  # the input range is pinned to 0..255
    pick = np.random.default_rng(3).choice(20, size=8, replace=False)
    expected = runtime_inputs(faces[pick], 64).astype(np.float32)
    expected[0, 0, 0, :], expected[0, -1, -1, :] = 0.0, 255.0
    np.testing.assert_array_equal(np.concatenate(samples), expected)
