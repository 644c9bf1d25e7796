"""``EmotionResult`` keeps its probabilities as a vector with its labels; ``probs`` (a dict),
``to_dict()``, equality and the repr read as they did when ``probs`` was the stored field."""
from __future__ import annotations

import json

import numpy as np
import pytest

from edgekit.errors import InputError
from edgekit.labels import EMOTIONS
from edgekit.results import EmotionResult

PROBS = np.array([0.1, 0.6, 0.05, 0.05, 0.1, 0.02, 0.03, 0.05], np.float32)


def test_the_vector_is_kept_with_its_labels_and_read_only():
    result = EmotionResult.from_probs(EMOTIONS, PROBS)
    assert result.labels == EMOTIONS and result.vector.dtype == np.float64
    np.testing.assert_array_equal(result.vector, PROBS.astype(np.float64))
    assert (result.label, result.score) == ("happiness", float(PROBS[1]))
    with pytest.raises(ValueError):
        result.vector[0] = 1.0
    source = PROBS.astype(np.float64)
    EmotionResult(EMOTIONS, source)
    assert source.flags.writeable  # the caller's array is copied, not frozen


def test_probs_and_to_dict_are_the_old_dict():
    result = EmotionResult.from_probs(EMOTIONS, PROBS)
    old = {label: float(p) for label, p in zip(EMOTIONS, np.asarray(PROBS, np.float64))}
    assert result.probs == old and list(result.probs) == list(EMOTIONS)
    result.probs["happiness"] = 0.0  # a new dict every time: the result does not change
    assert result.probs == old
    assert json.dumps(result.to_dict()) == json.dumps({"label": "happiness", "score": old["happiness"], "probs": old})
    assert repr(result) == f"EmotionResult(label='happiness', score={old['happiness']!r}, probs={old!r})"


def test_equality_compares_labels_and_values():
    a, b = EmotionResult.from_probs(EMOTIONS, PROBS), EmotionResult(EMOTIONS, list(PROBS))
    assert a == b and a != EmotionResult.from_probs(EMOTIONS, PROBS[::-1])
    assert a != EmotionResult.from_probs(EMOTIONS[::-1], PROBS)
    with pytest.raises(TypeError):
        hash(a)


@pytest.mark.parametrize("probs", [PROBS[:7], np.zeros(0), np.ones(9)])
def test_one_probability_per_label(probs):
    with pytest.raises(InputError, match=f"{probs.size} probabilities for 8 labels"):
        EmotionResult.from_probs(EMOTIONS, probs)


def test_every_result_dataclass_is_frozen():
    """Results are built once, after the last stage: nothing (pipeline, CLI, batch worker, server)
    patches one afterwards; ``dataclasses.replace`` gives a changed copy."""
    import dataclasses

    from edgekit import results

    kinds = [k for k in vars(results).values()
             if isinstance(k, type) and dataclasses.is_dataclass(k) and k.__module__ == results.__name__]
    assert {k.__name__ for k in kinds} >= {"FrameResult", "FaceResult", "StageTimings", "Detection", "EmotionResult"}
    assert all(k.__dataclass_params__.frozen for k in kinds), [k.__name__ for k in kinds]
    box = results.BoundingBox(1.0, 2.0, 3.0, 4.0)
    face = results.FaceResult(results.Detection(box, ((0.0, 0.0),) * 6, 0.9), EmotionResult.from_probs(EMOTIONS, PROBS))
    frame = results.FrameResult([face], results.StageTimings(detect_ms=1.0), source="a.jpg", image_size=(8, 6))
    for obj, name in ((frame, "source"), (frame.timings, "detect_ms"), (face, "track_id")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, name, None)
    moved = dataclasses.replace(frame, source="b.jpg")
    assert (moved.source, frame.source) == ("b.jpg", "a.jpg")
    assert moved.to_dict() == {**frame.to_dict(), "source": "b.jpg"}


@pytest.mark.parametrize("module, name", [
    ("edgekit.meme.maker", "Meme"), ("edgekit.meme.animate", "AnimatedMeme"), ("edgekit.meme.batch", "BatchItem"),
    ("edgekit.meme.batch", "BatchResult"), ("edgekit.batch", "BatchRun"), ("edgekit.transfer.api", "TransferResult"),
    ("edgekit.personalize.store", "ResetResult"), ("edgekit.timeline.series", "Timeline"),
    ("edgekit.timeline.series", "TrackSeries"), ("edgekit.timeline.rules", "AlertEvent")])
def test_the_feature_results_are_frozen_too(module, name):
    import dataclasses
    import importlib

    kind = getattr(importlib.import_module(module), name)
    assert dataclasses.is_dataclass(kind) and kind.__dataclass_params__.frozen
