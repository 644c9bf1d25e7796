"""Alert rules on emotion time series: "an emotion sustained for more than T seconds".

Rule syntax (case-insensitive)::

    EMOTIONS[@P]>DURATION

- ``EMOTIONS``: one emotion label, several joined with ``|`` (``sadness|anger|fear``), or
  ``negative`` (sadness, anger, fear, disgust, contempt).
- ``@P`` (optional): the frame counts when the summed probability of those emotions is >= P;
  without it, when the face's top-1 emotion is one of them.
- ``DURATION``: a number with unit ``s`` (default), ``ms`` or ``min``: ``3s``, ``1500ms``, ``0.5min``.

Examples: ``sadness>3s``, ``anger|fear>2s``, ``negative@0.6>5s``.

A rule fires once per face track and continuous segment: the condition holds on every frame in
which the face is seen, the face is never missing for longer than ``max_gap_ms``, and the segment
lasts longer than the duration.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from ..errors import ConfigError

#: Emotions the ``negative`` alias stands for.
NEGATIVE = ("sadness", "anger", "fear", "disgust", "contempt")
_UNITS_MS = {"ms": 1.0, "s": 1000.0, "sec": 1000.0, "min": 60000.0}
_RULE = re.compile(r"^\s*(?P<emotions>[a-z]+(?:\s*\|\s*[a-z]+)*)\s*(?:@\s*(?P<prob>\d*\.?\d+))?\s*>\s*"
                   r"(?P<amount>\d*\.?\d+)\s*(?P<unit>ms|s|sec|min)?\s*$", re.IGNORECASE)
_SYNTAX_HINT = "write EMOTIONS[@P]>DURATION, e.g. 'sadness>3s', 'anger|fear>2s' or 'negative@0.6>5s'"
#: Longest absence of a face (ms) that does not break a segment.
DEFAULT_MAX_GAP_MS = 500.0


@dataclass(frozen=True)
class AlertRule:
    """A parsed alert rule (see the module docstring)."""

    text: str
    emotions: Tuple[str, ...]
    min_duration_ms: float
    min_prob: Optional[float] = None

    @classmethod
    def parse(cls, text: str, labels: Sequence[str]) -> "AlertRule":
        """Parse ``text`` against the classifier's ``labels``; raises :class:`ConfigError`."""
        match = _RULE.match(text) if isinstance(text, str) else None
        if match is None:
            raise ConfigError("is not an alert rule", f"--alert {text!r}", _SYNTAX_HINT)
        names: List[str] = []
        for name in re.split(r"\s*\|\s*", match["emotions"].lower()):
            names.extend(NEGATIVE if name == "negative" else (name,))
        unknown = [n for n in names if n not in labels]
        if unknown:
            raise ConfigError(f"unknown emotion(s) {', '.join(map(repr, unknown))}", f"--alert {text!r}",
                              f"use {', '.join(labels)} or 'negative'")
        prob = float(match["prob"]) if match["prob"] is not None else None
        if prob is not None and not 0.0 < prob <= 1.0:
            raise ConfigError("probability threshold must be in (0, 1]", f"--alert {text!r}", _SYNTAX_HINT)
        duration = float(match["amount"]) * _UNITS_MS[(match["unit"] or "s").lower()]
        if duration <= 0:
            raise ConfigError("duration must be > 0", f"--alert {text!r}", _SYNTAX_HINT)
        return cls(text.strip(), tuple(dict.fromkeys(names)), duration, prob)

    def holds(self, probs: Dict[str, float]) -> bool:
        """Whether one frame's probabilities satisfy the condition."""
        if self.min_prob is not None:
            return sum(probs.get(e, 0.0) for e in self.emotions) >= self.min_prob
        return max(probs, key=probs.get) in self.emotions

    def to_dict(self) -> dict:
        return {"rule": self.text, "emotions": list(self.emotions), "min_duration_s": self.min_duration_ms / 1000.0,
                "min_prob": self.min_prob}


@dataclass(frozen=True)
class AlertEvent:
    """One sustained segment that satisfied a rule for longer than its duration."""

    rule: str
    emotions: Tuple[str, ...]
    start_ms: float
    end_ms: float
    track_id: Optional[int] = None

    @property
    def duration_ms(self) -> float:
        return self.end_ms - self.start_ms

    def to_dict(self, with_track: bool) -> dict:
        out = {"rule": self.rule, "emotions": list(self.emotions), "start_s": round(self.start_ms / 1000.0, 3),
               "end_s": round(self.end_ms / 1000.0, 3), "duration_s": round(self.duration_ms / 1000.0, 3)}
        if with_track:
            out["track_id"] = self.track_id
        return out


@dataclass
class _Segment:
    start_ms: float
    last_ms: float


@dataclass
class AlertMonitor:
    """Streams (track, timestamp, probabilities) observations through the rules and collects the
    events. ``frame_ms`` is the time one observation stands for (the frame interval)."""

    rules: Sequence[AlertRule]
    frame_ms: float
    max_gap_ms: float = DEFAULT_MAX_GAP_MS
    events: List[AlertEvent] = field(default_factory=list)
    _open: Dict[Tuple[int, int], _Segment] = field(default_factory=dict)

    def observe(self, track_id: int, timestamp_ms: float, probs: Dict[str, float]) -> None:
        for k, rule in enumerate(self.rules):
            key = (k, track_id)
            segment = self._open.get(key)
            if segment is not None and timestamp_ms - segment.last_ms > self.max_gap_ms + self.frame_ms:
                self._close(key)
                segment = None
            if not rule.holds(probs):
                if segment is not None:
                    self._close(key)
            elif segment is None:
                self._open[key] = _Segment(timestamp_ms, timestamp_ms)
            else:
                segment.last_ms = timestamp_ms

    def _close(self, key: Tuple[int, int]) -> None:
        segment = self._open.pop(key)
        rule = self.rules[key[0]]
        end = segment.last_ms + self.frame_ms
        if end - segment.start_ms > rule.min_duration_ms:
            self.events.append(AlertEvent(rule.text, rule.emotions, segment.start_ms, end, key[1]))

    def finish(self) -> List[AlertEvent]:
        """Close every open segment; the events, by start time."""
        for key in list(self._open):
            self._close(key)
        return sorted(self.events, key=lambda e: (e.start_ms, e.rule, e.track_id or 0))


def parse_rules(texts: Iterable[str], labels: Sequence[str]) -> List[AlertRule]:
    return [AlertRule.parse(t, labels) for t in texts]
