"""Accumulate per-frame pipeline results into emotion time series and summaries, as a stream.

:class:`TimelineBuilder` takes one :class:`~edgekit.results.FrameResult` at a time and keeps
only numbers: the aggregate series (per frame: faces seen and their mean probabilities), running
summaries, alert segments, and, only when asked (``per_track=True``), one series per face track.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..results import FrameResult
from .rules import AlertEvent, AlertMonitor, AlertRule


@dataclass(frozen=True)
class EmotionSummary:
    """Emotions over a set of face observations (one face in one frame each).

    ``shares``: fraction of observations whose top-1 emotion is each label (they sum to 1 when
    there is at least one observation); ``dominant``: the label with the largest share (None
    without observations); ``mean_probs``: mean probability of each label.
    """

    observations: int
    shares: Dict[str, float]
    mean_probs: Dict[str, float]
    dominant: Optional[str]

    def to_dict(self) -> dict:
        return {"observations": self.observations, "dominant": self.dominant,
                "shares": {k: round(v, 4) for k, v in self.shares.items()},
                "mean_probs": {k: round(v, 4) for k, v in self.mean_probs.items()}}


class _SummaryAccumulator:
    def __init__(self, labels: Sequence[str]) -> None:
        self.labels = tuple(labels)
        self.top_counts = np.zeros(len(labels), np.int64)
        self.prob_sums = np.zeros(len(labels), np.float64)

    def add(self, probs: np.ndarray) -> None:
        self.top_counts[int(np.argmax(probs))] += 1
        self.prob_sums += probs

    def result(self) -> EmotionSummary:
        n = int(self.top_counts.sum())
        shares = self.top_counts / n if n else np.zeros(len(self.labels))
        means = self.prob_sums / n if n else np.zeros(len(self.labels))
        dominant = self.labels[int(np.argmax(self.top_counts))] if n else None
        return EmotionSummary(n, dict(zip(self.labels, map(float, shares))), dict(zip(self.labels, map(float, means))),
                              dominant)


@dataclass(frozen=True)
class TrackSeries:
    """Emotion probabilities of one face track, frame by frame (``probs``: ``(N, labels)``)."""

    track_id: int
    frame_indices: np.ndarray
    timestamps_ms: np.ndarray
    probs: np.ndarray
    summary: EmotionSummary

    def to_dict(self) -> dict:
        return {"track_id": self.track_id, "first_s": round(float(self.timestamps_ms[0]) / 1000.0, 3),
                "last_s": round(float(self.timestamps_ms[-1]) / 1000.0, 3), "frames": int(len(self.frame_indices)),
                "summary": self.summary.to_dict()}


@dataclass(frozen=True)
class Timeline:
    """Emotion timeline of one video (see :func:`edgekit.timeline.emotion_timeline`).

    Aggregate data (always): ``summary`` over every face observation, per-frame
    ``timestamps_ms`` / ``face_counts`` / ``mean_probs`` (mean over the faces in the frame, NaN
    when there is none) and alert ``events`` (without track ids). Per-track data only when the
    timeline was built with ``per_track=True``: ``tracks`` and track ids on the events.
    ``frames_announced`` is the frame count the video's container announces (None when unknown)
    and ``warnings`` the :class:`~edgekit.video.VideoWarning` messages met reading it (fewer frames
    decoded than announced, implausible timing).
    """

    source: str
    labels: Tuple[str, ...]
    fps: Optional[float]
    frame_ms: float
    timestamps_ms: np.ndarray
    face_counts: np.ndarray
    mean_probs: np.ndarray
    summary: EmotionSummary
    rules: List[AlertRule]
    events: List[AlertEvent]
    tracks: Optional[List[TrackSeries]] = None
    frames_announced: Optional[int] = None
    warnings: List[str] = field(default_factory=list)
    #: Action units (only when the pipeline read them, ``action_units=True``): names and the
    #: per-frame mean activation over the frame's faces whose AUs were read (NaN: none; all NaN
    #: when no frame had readable AUs).
    au_names: Tuple[str, ...] = ()
    mean_aus: Optional[np.ndarray] = None
    #: The video's frame index of each row of the series (None: rows are frames 0, 1, 2...).
    frame_indices: Optional[np.ndarray] = None

    @property
    def frames(self) -> int:
        return int(len(self.timestamps_ms))

    @property
    def duration_ms(self) -> float:
        return float(self.timestamps_ms[-1] + self.frame_ms) if self.frames else 0.0

    @property
    def per_track(self) -> bool:
        return self.tracks is not None

    @property
    def frame_numbers(self) -> np.ndarray:
        """The video's frame index of each row (``frame_indices``, else 0, 1, 2...)."""
        if self.frame_indices is not None and len(self.frame_indices) == self.frames:
            return np.asarray(self.frame_indices, np.int64)
        return np.arange(self.frames, dtype=np.int64)

    def to_dict(self) -> dict:
        out = {"source": self.source, "labels": list(self.labels), "frames": self.frames,
               "frames_announced": self.frames_announced, "warnings": list(self.warnings),
               "duration_s": round(self.duration_ms / 1000.0, 3), "fps": self.fps,
               "frames_with_faces": int((self.face_counts > 0).sum()), "per_track": self.per_track,
               "summary": self.summary.to_dict(), "rules": [r.to_dict() for r in self.rules],
               "events": [e.to_dict(self.per_track) for e in self.events]}
        if self.tracks is not None:
            out["tracks"] = [t.to_dict() for t in self.tracks]
        if self.mean_aus is not None:
            seen = np.isfinite(self.mean_aus[:, 0]) if len(self.mean_aus) else np.zeros(0, bool)
            means = np.nanmean(self.mean_aus[seen], axis=0) if seen.any() else np.full(len(self.au_names), np.nan)
            block = {"frames_with_aus": int(seen.sum()), "readable": bool(seen.any()),
                     "mean": {n: (round(float(v), 4) if np.isfinite(v) else None)
                              for n, v in zip(self.au_names, means)}}
            if not seen.any():
                block["note"] = ("no frame had readable action units (no face, or every face mesh failed, "
                                 "was turned beyond the mesh's range or did not fit)")
            out["action_units"] = block
        return out


@dataclass
class _TrackBuffer:
    frames: List[int] = field(default_factory=list)
    times: List[float] = field(default_factory=list)
    probs: List[np.ndarray] = field(default_factory=list)


class TimelineBuilder:
    """Streaming accumulator: :meth:`add` each frame's result, then :meth:`finish`."""

    def __init__(self, labels: Sequence[str], rules: Sequence[AlertRule] = (), *, per_track: bool = False,
                 frame_ms: float = 1000.0 / 30.0, source: str = "", fps: Optional[float] = None,
                 au_names: Optional[Sequence[str]] = None) -> None:
        """``au_names``: the AUs the pipeline reads (its ``action_units`` is on): the timeline then
        has an AU series even when no frame's AUs were readable (all NaN); None: an AU series
        only if some frame carries AUs."""
        self.labels = tuple(labels)
        self.per_track = per_track
        self.source, self.fps, self.frame_ms = source, fps, float(frame_ms)
        self.rules = list(rules)
        self._monitor = AlertMonitor(self.rules, self.frame_ms)
        self._summary = _SummaryAccumulator(self.labels)
        self._track_summaries: Dict[int, _SummaryAccumulator] = {}
        self._tracks: Dict[int, _TrackBuffer] = {}
        self._times: List[float] = []
        self._counts: List[int] = []
        self._means: List[np.ndarray] = []
        self._au_names: Tuple[str, ...] = tuple(au_names or ())
        self._au_means: List[Optional[np.ndarray]] = []
        self._frames: List[int] = []

    def add(self, result: FrameResult) -> None:
        """Account for one frame (video-mode results: faces carry track ids)."""
        ts = float(result.timestamp_ms or 0.0)
        frame = int(result.frame_index if result.frame_index is not None else len(self._times))
        rows = []
        for face in result.faces:
            if face.emotion is None:
                continue
            as_dict = face.emotion.probs
            probs = (face.emotion.vector if face.emotion.labels == self.labels
                     else np.array([as_dict[label] for label in self.labels], np.float64))
            rows.append(probs)
            self._summary.add(probs)
            track = face.track_id if face.track_id is not None else -1
            self._monitor.observe(track, ts, as_dict)
            if self.per_track:
                self._track_summaries.setdefault(track, _SummaryAccumulator(self.labels)).add(probs)
                buf = self._tracks.setdefault(track, _TrackBuffer())
                buf.frames.append(frame)
                buf.times.append(ts)
                buf.probs.append(probs.astype(np.float32))
        au_rows = [face.aus.activations for face in result.faces if face.aus is not None and face.aus.activations]
        if au_rows and not self._au_names:
            self._au_names = tuple(au_rows[0])
        self._au_means.append(np.mean([[row[n] for n in self._au_names] for row in au_rows], axis=0).astype(np.float32)
                              if au_rows else None)
        self._frames.append(frame)
        self._times.append(ts)
        self._counts.append(len(rows))
        self._means.append(np.mean(rows, axis=0).astype(np.float32) if rows
                           else np.full(len(self.labels), np.nan, np.float32))

    def finish(self, frames_announced: Optional[int] = None, warnings: Sequence[str] = ()) -> Timeline:
        """The timeline of every frame added; ``frames_announced`` and ``warnings`` come from the video reader."""
        tracks = None
        if self.per_track:
            tracks = [TrackSeries(tid, np.asarray(buf.frames), np.asarray(buf.times), np.stack(buf.probs),
                                  self._track_summaries[tid].result())
                      for tid, buf in sorted(self._tracks.items())]
        events = self._monitor.finish()
        if not self.per_track:  # aggregate-only: events say when, not who
            events = [replace(event, track_id=None) for event in events]
        width = len(self.labels)
        return Timeline(
            source=self.source, labels=self.labels, fps=self.fps, frame_ms=self.frame_ms,
            timestamps_ms=np.asarray(self._times, np.float64), face_counts=np.asarray(self._counts, np.int32),
            mean_probs=np.stack(self._means) if self._means else np.zeros((0, width), np.float32),
            summary=self._summary.result(), rules=self.rules, events=events, tracks=tracks,
            au_names=self._au_names, mean_aus=self._au_series(), frame_indices=np.asarray(self._frames, np.int64),
            frames_announced=frames_announced, warnings=list(warnings))

    def _au_series(self) -> Optional[np.ndarray]:
        """Per-frame mean AUs; all NaN when AUs were asked for but no frame had readable ones."""
        if not self._au_names:
            return None
        blank = np.full(len(self._au_names), np.nan, np.float32)
        if not self._au_means:
            return np.zeros((0, len(self._au_names)), np.float32)
        return np.stack([blank if row is None else row for row in self._au_means])
