"""Flip averaging runs the crop and its mirror image in one batch-2 invoke: the shipped emotion
classifier and face embedder give exactly what two batch-1 invokes give."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest

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


def test_embed_views_are_the_two_single_invokes_and_flip_average_is_read_only():
    embedder = FaceEmbedder()
    single, spec = single_view(embedder.model_path), embedder.input_spec
    x = crops((spec.height, spec.width, spec.channels), 1, seed=7)[0]
    plain, mirrored = embedder.embed_views(x)
    for got, view in ((plain, x), (mirrored, x[:, ::-1])):
        v = single(view).astype(np.float64)
        assert np.array_equal(got, v / np.linalg.norm(v))
    with pytest.raises(AttributeError):
        embedder.flip_average = False  # set at construction (the manifest's): a later change would mis-shape calls
    with pytest.raises(AttributeError):
        EmotionClassifier("emotion", flip_average=True).flip_average = False


def test_a_model_that_cannot_take_a_batch_of_two_falls_back_to_two_invokes(monkeypatch):
    """A model with a fixed batch of 1 (resize refused) still flip-averages, with two invokes."""
    real = litert.make_interpreter

    def fixed_batch(*args, **kwargs):
        interpreter = real(*args, **kwargs)
        resize = interpreter.resize_tensor_input

        def refuse(index, shape, *rest, **kw):
            if shape[0] != 1:
                raise ValueError("this model's batch is fixed at 1")
            return resize(index, shape, *rest, **kw)

        interpreter.resize_tensor_input = refuse
        return interpreter

    monkeypatch.setattr(litert, "make_interpreter", fixed_batch)
    clf = EmotionClassifier("emotion", flip_average=True)
    monkeypatch.undo()
    assert not clf._views_batched  # the fallback path is the one under test
    single, spec = single_view(clf.model_path), clf.input_spec
    x = crops((spec.height, spec.width, spec.channels), 1, seed=9)[0]
    assert np.array_equal(clf.predict_probs(x), (single(x) + single(x[:, ::-1])) * np.float32(0.5))
