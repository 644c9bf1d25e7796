"""Flip averaging runs the crop and its mirror image in one batch-2 invoke: the shipped emotion
classifier and face embedder give exactly what two batch-1 invokes give."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from edgekit import litert
from edgekit.emotion import EmotionClassifier
from edgekit.identity.embedder import FaceEmbedder


def single_view(path: Path) -> Callable[[np.ndarray], np.ndarray]:
    """The raw output of a fresh batch-1 interpreter of ``path`` for one crop (float64, flat)."""
    interpreter = litert.make_interpreter(path, 1)
    inp, out = litert.input_specs(interpreter)[0], litert.output_specs(interpreter)[0]

    def run(crop: np.ndarray) -> np.ndarray:
        batch = crop[None]
        if inp.dtype != np.uint8 or inp.scale not in (0.0, 1.0) or inp.zero_point != 0:
            batch = litert.quantize(batch.astype(np.float32), inp)
        interpreter.set_tensor(inp.index, np.ascontiguousarray(batch))
        interpreter.invoke()
        return litert.dequantize(interpreter.get_tensor(out.index), out).reshape(-1)

    return run


def crops(shape, count: int, seed: int):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(count)]


def test_emotion_flip_average_is_the_mean_of_two_single_invokes():
    clf = EmotionClassifier("emotion", flip_average=True)
    single, spec = single_view(clf.model_path), clf.input_spec
    for x in crops((spec.height, spec.width, spec.channels), 5, seed=3):
        expected = (single(x) + single(x[:, ::-1])) * np.float32(0.5)
        assert np.array_equal(clf.predict_probs(x), expected)
        assert not np.array_equal(single(x), expected)  # the mirror view really changes the answer


def test_identity_flip_average_is_the_mean_direction_of_two_single_invokes():
    embedder = FaceEmbedder()
    assert embedder.flip_average  # the shipped model's manifest asks for it
    single, spec = single_view(embedder.model_path), embedder.input_spec

    def unit(v: np.ndarray) -> np.ndarray:
        v = v.astype(np.float64)
        return v / np.linalg.norm(v)

    for x in crops((spec.height, spec.width, spec.channels), 3, seed=5):
        expected = unit(unit(single(x)) + unit(single(x[:, ::-1]))).astype(np.float32)
        assert np.array_equal(embedder.embed_aligned(x), expected)
