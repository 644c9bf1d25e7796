"""Track faces across video frames and smooth their emotion probabilities over time.

:class:`IouTracker` gives every face a track id that stays the same while the face moves:
detections are matched greedily to the live tracks by box IoU, and — when a face moved so fast
that its boxes no longer overlap enough — by the distance between its keypoints. A track that
finds no detection for more than ``max_missed_frames`` consecutive frames expires.

Each :class:`Track` owns a :class:`ProbabilityEma`, an exponential moving average whose weight
depends on the time elapsed since the previous update, so smoothing behaves the same at 10 fps
and at 60 fps and a face that was missed for a while adapts faster when it reappears.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Real
from typing import Callable, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from .errors import ConfigError
from .results import BoundingBox, Detection

#: Frame interval assumed when a caller gives no timestamps (30 fps).
DEFAULT_FRAME_INTERVAL_MS = 1000.0 / 30.0


class ProbabilityEma:
    """Exponential moving average of a probability vector, aware of timestamps.

    An update ``dt`` milliseconds after the previous one gets the weight
    ``alpha = 1 - exp(-dt / time_constant_ms)``: after one time constant the old state keeps
    37 % of its weight, whatever the frame rate. ``time_constant_ms=0`` turns smoothing off.
    """

    def __init__(self, time_constant_ms: float) -> None:
        if not (_is_number(time_constant_ms) and time_constant_ms >= 0 and math.isfinite(time_constant_ms)):
            raise ConfigError("must be a finite number >= 0", f"time_constant_ms={time_constant_ms!r}",
                              "use 0 to turn smoothing off")
        self.time_constant_ms = float(time_constant_ms)
        self._state: Optional[np.ndarray] = None
        self._last_ms: Optional[float] = None

    @property
    def value(self) -> Optional[np.ndarray]:
        """The current smoothed vector (None before the first update)."""
        return None if self._state is None else self._state.copy()

    def alpha(self, dt_ms: float) -> float:
        """Weight of a new observation arriving ``dt_ms`` after the previous one."""
        if self.time_constant_ms == 0:
            return 1.0
        return 1.0 - math.exp(-max(dt_ms, 0.0) / self.time_constant_ms)

    def update(self, probs: Sequence[float], timestamp_ms: float) -> np.ndarray:
        """Blend ``probs`` observed at ``timestamp_ms`` into the state and return the new state."""
        probs = np.asarray(probs, dtype=np.float64).reshape(-1)
        if self._state is None or self._state.shape != probs.shape:
            self._state = probs.copy()
        else:
            a = self.alpha(timestamp_ms - self._last_ms)
            self._state = (1.0 - a) * self._state + a * probs
        self._last_ms = float(timestamp_ms)
        return self._state.copy()


@dataclass
class Track:
    """One face followed across frames."""

    track_id: int
    box: BoundingBox
    keypoints: Tuple[Tuple[float, float], ...]
    ema: ProbabilityEma
    last_seen_ms: float
    hits: int = 1
    #: Consecutive frames without a matching detection.
    missed: int = 0

    def smooth(self, probs: Sequence[float], timestamp_ms: float) -> np.ndarray:
        """Smoothed version of this frame's ``probs`` for this face."""
        return self.ema.update(probs, timestamp_ms)

    def _observe(self, det: Detection, timestamp_ms: float) -> None:
        self.box, self.keypoints = det.box, det.keypoints
        self.last_seen_ms = timestamp_ms
        self.hits += 1
        self.missed = 0


@dataclass
class IouTracker:
    """Greedy IoU tracker (with a keypoint fallback) that hands out stable track ids.

    Args:
        iou_threshold: minimum box IoU for a detection to continue a track.
        max_missed_frames: a track survives this many consecutive frames without a match,
            then expires (its id is never reused).
        time_constant_ms: time constant of each track's probability smoothing (0: off).
        keypoint_gate: a detection whose keypoints lie on average within this fraction of the
            track's box width from the track's keypoints continues it even below
            ``iou_threshold`` (fast motion); 0 disables the fallback.
    """

    iou_threshold: float = 0.3
    max_missed_frames: int = 5
    time_constant_ms: float = 300.0
    keypoint_gate: float = 0.35
    _tracks: List[Track] = field(default_factory=list, init=False, repr=False)
    _next_id: int = field(default=1, init=False, repr=False)

    def __post_init__(self) -> None:
        if not (_is_number(self.iou_threshold) and 0.0 < self.iou_threshold <= 1.0):
            raise ConfigError("must be in (0, 1]", f"tracker_iou={self.iou_threshold!r}", "0.3 is a good default")
        mmf = self.max_missed_frames
        if not (_is_number(mmf) and math.isfinite(mmf) and int(mmf) == mmf and mmf >= 0):
            raise ConfigError("must be an integer >= 0", f"max_missed_frames={mmf!r}", "5 is a good default")
        if not (_is_number(self.keypoint_gate) and self.keypoint_gate >= 0):
            raise ConfigError("must be a number >= 0", f"keypoint_gate={self.keypoint_gate!r}", "0 disables the fallback")
        ProbabilityEma(self.time_constant_ms)  # validates the time constant

    @property
    def tracks(self) -> List[Track]:
        """Live tracks (seen recently enough not to have expired)."""
        return list(self._tracks)

    def reset(self) -> None:
        """Forget every track (ids keep increasing, so old ids are never reused)."""
        self._tracks.clear()

    def update(self, detections: Sequence[Detection], timestamp_ms: float) -> List[Track]:
        """Assign each detection to a track; returns one :class:`Track` per detection, in order.

        Unmatched detections start new tracks; unmatched tracks count a miss and expire after
        more than ``max_missed_frames`` consecutive misses.
        """
        assigned: List[Optional[Track]] = [None] * len(detections)
        free_tracks = set(range(len(self._tracks)))
        free_dets = set(range(len(detections)))
        if self._tracks and detections:
            for ti, di in self._match(detections):
                if ti in free_tracks and di in free_dets:
                    free_tracks.discard(ti)
                    free_dets.discard(di)
                    self._tracks[ti]._observe(detections[di], timestamp_ms)
                    assigned[di] = self._tracks[ti]
        for ti in free_tracks:
            self._tracks[ti].missed += 1
        self._tracks = [t for t in self._tracks if t.missed <= self.max_missed_frames]
        for di in sorted(free_dets):
            assigned[di] = self._start(detections[di], timestamp_ms)
        return assigned  # type: ignore[return-value]  # every slot is filled above

    def _match(self, detections: Sequence[Detection]) -> Iterable[Tuple[int, int]]:
        """Candidate (track, detection) pairs, best first: IoU pairs, then keypoint pairs."""
        iou = np.array([[t.box.iou(d.box) for d in detections] for t in self._tracks])
        yield from _best_first(iou, lambda v: v >= self.iou_threshold, descending=True)
        if self.keypoint_gate > 0:
            dist = np.array([[_keypoint_distance(t, d) for d in detections] for t in self._tracks])
            yield from _best_first(dist, lambda v: v <= self.keypoint_gate, descending=False)

    def _start(self, det: Detection, timestamp_ms: float) -> Track:
        track = Track(self._next_id, det.box, det.keypoints, ProbabilityEma(self.time_constant_ms), timestamp_ms)
        self._next_id += 1
        self._tracks.append(track)
        return track


def _is_number(value: object) -> bool:
    """A real number (int, float, numpy scalar), not a bool, string or None."""
    return isinstance(value, Real) and not isinstance(value, bool)


def _best_first(scores: np.ndarray, accept: Callable[[float], bool], descending: bool) -> Iterable[Tuple[int, int]]:
    """(row, col) pairs of ``scores`` that pass ``accept``, best score first."""
    order = np.argsort(-scores if descending else scores, axis=None, kind="stable")
    for flat in order:
        ti, di = np.unravel_index(flat, scores.shape)
        if not accept(scores[ti, di]):
            break
        yield int(ti), int(di)


def _keypoint_distance(track: Track, det: Detection) -> float:
    """Mean keypoint distance between a track and a detection, in units of the track's box width."""
    if not track.keypoints or len(track.keypoints) != len(det.keypoints) or track.box.width <= 0:
        return math.inf
    a = np.asarray(track.keypoints, dtype=np.float64)
    b = np.asarray(det.keypoints, dtype=np.float64)
    return float(np.linalg.norm(a - b, axis=1).mean() / track.box.width)
