"""Invariants of edgekit's results (pixels, faces, emotions, captions, JSON) and the model
objects the targets share."""
from __future__ import annotations

import functools
import json
import math
from typing import Any, Sequence, Tuple

import numpy as np

# ---------------------------------------------------------------------------- shared objects


@functools.lru_cache(maxsize=None)
def shared_pipeline() -> Any:
    import edgekit

    return edgekit.Pipeline()


@functools.lru_cache(maxsize=None)
def shared_video_pipeline() -> Any:
    import edgekit

    return edgekit.Pipeline(running_mode="video")


@functools.lru_cache(maxsize=None)
def shared_classifier() -> Any:
    import edgekit

    return edgekit.EmotionClassifier()


# ---------------------------------------------------------------------------- result checks


def _finite(*values: float) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


def check_bgr(bgr: Any) -> None:
    """edgekit's pixel format: BGR uint8 HxWx3, C-contiguous, non-empty."""
    assert isinstance(bgr, np.ndarray) and bgr.dtype == np.uint8 and bgr.ndim == 3 and bgr.shape[2] == 3
    assert bgr.size > 0 and bgr.flags.c_contiguous


def check_emotion(emotion: Any) -> None:
    """Probabilities finite, in [0, 1], summing to 1 (INT8 output: within a few steps); label is
    the argmax and score its probability."""
    from edgekit.captioning import EMOTIONS

    probs = emotion.probs
    assert set(probs) == set(EMOTIONS), sorted(probs)
    values = np.array(list(probs.values()), dtype=np.float64)
    assert np.isfinite(values).all() and (values >= 0).all() and (values <= 1 + 1e-6).all(), probs
    assert abs(values.sum() - 1.0) < 0.05, values.sum()
    assert emotion.label == max(probs, key=probs.get) and emotion.score == probs[emotion.label]


def strict_json(text: str) -> Any:
    def refuse(name: str) -> None:
        raise AssertionError(f"non-standard JSON constant {name} in a result")

    return json.loads(text, parse_constant=refuse)


def check_faces(faces: Sequence[Any]) -> None:
    """Every face has a finite, positive box, 6 finite keypoints, a score in [0, 1], a valid
    emotion and a standard-JSON rendering (no NaN/Infinity)."""
    for face in faces:
        det = face.detection
        box = det.box
        assert _finite(box.x, box.y, box.width, box.height) and box.width > 0 and box.height > 0, box
        assert 0.0 <= det.score <= 1.0 and len(det.keypoints) == 6
        assert all(_finite(x, y) for x, y in det.keypoints), det.keypoints
        if face.emotion is not None:
            check_emotion(face.emotion)
        strict_json(json.dumps(face.to_dict()))


def check_frame(result: Any, image_shape: Tuple[int, ...]) -> None:
    """:func:`check_faces`, the recorded image size and the frame's JSON line."""
    height, width = image_shape[:2]
    assert tuple(result.image_size) == (width, height)
    check_faces(result.faces)
    strict_json(result.to_json())


def check_caption(caption: Any) -> None:
    from edgekit.captioning import EMOTIONS, LANGS, STYLES

    assert isinstance(caption.text, str) and caption.text.strip(), caption
    assert caption.emotion in EMOTIONS and caption.style in STYLES and caption.lang in LANGS, caption
    assert caption.source in ("model", "library", "voice"), caption
    strict_json(json.dumps(caption.to_dict(), ensure_ascii=False))
