"""Typed results returned by the runtime. All of them serialise with ``to_dict()``/``to_json()``.

Every result is a frozen dataclass, built once after the stage that produced it; a changed copy
is ``dataclasses.replace(result, source=...)`` (what the batch worker does), never an assignment."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .errors import InputError

if TYPE_CHECKING:
    from .aus import ActionUnits

#: Names of BlazeFace's 6 keypoints, in model output order (image left/right as MediaPipe names
#: them from the subject's point of view: "right_eye" appears on the image's left).
KEYPOINT_NAMES: Tuple[str, ...] = (
    "right_eye",
    "left_eye",
    "nose_tip",
    "mouth_center",
    "right_ear_tragion",
    "left_ear_tragion",
)


@dataclass(frozen=True)
class BoundingBox:
    """Axis-aligned box in pixels of the input image (x, y = top-left corner)."""

    x: float
    y: float
    width: float
    height: float

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    def as_xyxy(self) -> Tuple[float, float, float, float]:
        return (self.x, self.y, self.x + self.width, self.y + self.height)

    def iou(self, other: "BoundingBox") -> float:
        ax0, ay0, ax1, ay1 = self.as_xyxy()
        bx0, by0, bx1, by1 = other.as_xyxy()
        iw = max(0.0, min(ax1, bx1) - max(ax0, bx0))
        ih = max(0.0, min(ay1, by1) - max(ay0, by0))
        inter = iw * ih
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0


@dataclass(frozen=True)
class Detection:
    """One face found by :class:`edgekit.FaceDetector`.

    ``keypoints`` holds 6 (x, y) pixel coordinates in :data:`KEYPOINT_NAMES` order.
    """

    box: BoundingBox
    keypoints: Tuple[Tuple[float, float], ...]
    score: float

    def keypoint(self, name: str) -> Tuple[float, float]:
        return self.keypoints[KEYPOINT_NAMES.index(name)]

    def to_dict(self) -> dict:
        return {
            "box": asdict(self.box),
            "keypoints": {n: [float(x), float(y)] for n, (x, y) in zip(KEYPOINT_NAMES, self.keypoints)},
            "score": float(self.score),
        }


@dataclass(frozen=True, eq=False)
class EmotionResult:
    """Emotion of one face: the probability ``vector`` (float64, read-only) in ``labels`` order,
    the top ``label`` and its probability ``score``; :attr:`probs` gives the vector as a dict.

    ``EmotionResult(labels, vector)`` or ``EmotionResult.from_probs(labels, vector)``; ``label``
    and ``score`` are derived from the vector (the first label wins a tie).
    """

    labels: Tuple[str, ...]
    vector: np.ndarray
    label: str = field(init=False)
    score: float = field(init=False)

    def __post_init__(self) -> None:
        labels = tuple(self.labels)
        vector = np.array(self.vector, dtype=np.float64).reshape(-1)  # its own copy, frozen below
        if not labels or vector.size != len(labels):
            raise InputError(f"{vector.size} probabilities for {len(labels)} labels", "EmotionResult",
                             "pass one probability per label, in label order")
        vector.flags.writeable = False
        top = int(np.argmax(vector))
        for name, value in (("labels", labels), ("vector", vector), ("label", labels[top]),
                            ("score", float(vector[top]))):
            object.__setattr__(self, name, value)

    @classmethod
    def from_probs(cls, labels: Sequence[str], probs: Sequence[float]) -> "EmotionResult":
        """The result of a probability vector ``probs`` in ``labels`` order."""
        return cls(tuple(labels), np.asarray(probs))

    @property
    def probs(self) -> Dict[str, float]:
        """``{label: probability}`` in ``labels`` order (a new dict on every access: loops read :attr:`vector`)."""
        return dict(zip(self.labels, self.vector.tolist()))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EmotionResult):
            return NotImplemented
        return self.labels == other.labels and bool(np.array_equal(self.vector, other.vector))

    __hash__ = None  # type: ignore[assignment]  # equal results must hash alike, and the vector is an array

    def __repr__(self) -> str:
        return f"EmotionResult(label={self.label!r}, score={self.score!r}, probs={self.probs!r})"

    def to_dict(self) -> dict:
        return {"label": self.label, "score": self.score, "probs": self.probs}


@dataclass(frozen=True)
class IdentityResult:
    """Who a face is: the enrolled ``name`` whose similarity reached the threshold (``known``), or
    ``"unknown"``; ``similarity`` is the cosine similarity to the closest enrolled person
    (``nearest``; None for an empty gallery)."""

    UNKNOWN = "unknown"

    name: str
    similarity: float
    known: bool
    nearest: Optional[str] = None
    face: Optional[int] = None  # which face of the photo (left to right from 0), when a photo was given
    runner_up: Optional[float] = None  # similarity to the second-closest enrolled person

    def to_dict(self) -> dict:
        out = {"name": self.name, "similarity": round(float(self.similarity), 4), "known": self.known,
               "nearest": self.nearest}
        if self.face is not None:
            out["face"] = self.face
        return out


@dataclass(frozen=True)
class StageTimings:
    """Milliseconds spent per pipeline stage for one frame (align/classify summed over faces)."""

    decode_ms: float = 0.0
    detect_ms: float = 0.0
    align_ms: float = 0.0
    classify_ms: float = 0.0
    track_ms: float = 0.0
    identify_ms: float = 0.0
    aus_ms: float = 0.0
    total_ms: float = 0.0

    def to_dict(self) -> dict:
        return {k: round(v, 4) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class FaceResult:
    """Everything the pipeline knows about one face in one frame."""

    detection: Detection
    emotion: Optional[EmotionResult]
    track_id: Optional[int] = None
    #: Emotion before temporal smoothing (video mode only; equals ``emotion`` in image mode).
    raw_emotion: Optional[EmotionResult] = None
    #: Who the face is (only with ``PipelineOptions(identify=True)``).
    identity: Optional[IdentityResult] = None
    #: Facial action units (only with ``PipelineOptions(action_units=True)``; see :mod:`edgekit.aus`).
    aus: Optional["ActionUnits"] = None

    @property
    def box(self) -> BoundingBox:
        return self.detection.box

    def to_dict(self) -> dict:
        out = {"track_id": self.track_id, **self.detection.to_dict()}
        out["emotion"] = self.emotion.to_dict() if self.emotion else None
        if self.raw_emotion is not None and self.raw_emotion is not self.emotion:
            out["raw_emotion"] = self.raw_emotion.to_dict()
        if self.identity is not None:
            out["identity"] = self.identity.to_dict()
        if self.aus is not None:
            out["aus"] = self.aus.to_dict()
        return out


@dataclass(frozen=True)
class FrameResult:
    """Result of one image or video frame."""

    faces: List[FaceResult]
    timings: StageTimings = field(default_factory=StageTimings)
    source: Optional[str] = None
    frame_index: Optional[int] = None
    timestamp_ms: Optional[float] = None
    image_size: Optional[Tuple[int, int]] = None  # (width, height)

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "frame_index": self.frame_index,
            "timestamp_ms": self.timestamp_ms,
            "image_size": list(self.image_size) if self.image_size else None,
            "faces": [f.to_dict() for f in self.faces],
            "timings_ms": self.timings.to_dict(),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)
