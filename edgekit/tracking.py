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
from dataclasses import dataclass
from typing import Any, Callable, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from .options import CreateFromOptions, options_from
from .results import BoundingBox, Detection
from .task_options import SMOOTHING_MS, TrackerOptions
from .validate import check

#: Frame interval assumed when a caller gives no timestamps (30 fps).
DEFAULT_FRAME_INTERVAL_MS = 1000.0 / 30.0


class ProbabilityEma:
    """Exponential moving average of a probability vector, aware of timestamps.

    An update ``dt`` milliseconds after the previous one gets the weight
    ``alpha = 1 - exp(-dt / time_constant_ms)``: after one time constant the old state keeps
    37 % of its weight, whatever the frame rate. ``time_constant_ms=0`` turns smoothing off.
    """

    def __init__(self, time_constant_ms: float) -> None:
        check("time_constant_ms", time_constant_ms, SMOOTHING_MS)
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
        """This face's smoothed probability vector, given this frame's ``probs`` (a vector in label order)."""
        return self.ema.update(probs, timestamp_ms)

    def _observe(self, det: Detection, timestamp_ms: float) -> None:
        self.box, self.keypoints = det.box, det.keypoints
        self.last_seen_ms = timestamp_ms
        self.hits += 1
        self.missed = 0


class IouTracker(CreateFromOptions):
    """Greedy IoU tracker (with a keypoint fallback) that hands out stable track ids.

    ``IouTracker(options)``, ``IouTracker(**fields)`` or ``IouTracker(options, **overrides)``:
    see :class:`~edgekit.task_options.TrackerOptions` for ``iou_threshold``,
    ``max_missed_frames``, ``time_constant_ms`` and ``keypoint_gate`` (also readable here).
    """

    OPTIONS = TrackerOptions

    def __init__(self, options: Optional[TrackerOptions] = None, **kwargs: Any) -> None:
        self.options = options_from(TrackerOptions, options, kwargs)
        self._tracks: List[Track] = []
        self._next_id = 1

    @property
    def iou_threshold(self) -> float:
        return self.options.iou_threshold

    @property
    def max_missed_frames(self) -> int:
        return self.options.max_missed_frames

    @property
    def time_constant_ms(self) -> float:
        return self.options.time_constant_ms

    @property
    def keypoint_gate(self) -> float:
        return self.options.keypoint_gate

    def __repr__(self) -> str:
        return f"IouTracker({self.options!r})"

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
