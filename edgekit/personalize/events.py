"""Feedback events: a like, dislike or use of one caption, with its tags and time."""
from __future__ import annotations

import math
import time
import unicodedata
import uuid
from dataclasses import asdict, dataclass
from typing import Any, Dict, Optional

from ..captioning.taxonomy import EMOTIONS, LANGS, SCENES, STYLES, language_of, resolve_emotion, resolve_lang, \
    scene_request, resolve_style
from ..errors import ConfigError, InputError

#: What a user can say about a caption, and the value each adds to its tallies (> 0 liked, < 0 not).
ACTION_VALUES: Dict[str, float] = {"like": 1.0, "used": 0.5, "dislike": -1.0}
ACTIONS = tuple(ACTION_VALUES)
#: Longest caption text stored (longer text is truncated).
MAX_TEXT_CHARS = 200


@dataclass(frozen=True)
class FeedbackEvent:
    """One piece of feedback. ``ts`` is seconds since the epoch; ``id`` makes imports idempotent."""

    action: str
    text: str
    style: Optional[str]
    scene: Optional[str]
    emotion: Optional[str]
    lang: str
    ts: float
    id: str

    @property
    def value(self) -> float:
        return ACTION_VALUES[self.action]

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> "FeedbackEvent":
        """An event read back from a file; ValueError when any field is missing or out of range."""
        if not isinstance(data, dict):
            raise ValueError("event is not an object")
        fields = {k: data.get(k) for k in cls.__dataclass_fields__}
        checks = {
            "action": fields["action"] in ACTIONS,
            "text": isinstance(fields["text"], str) and 0 < len(fields["text"].strip()) <= MAX_TEXT_CHARS,
            "style": fields["style"] is None or fields["style"] in STYLES,
            "scene": fields["scene"] is None or fields["scene"] in SCENES,
            "emotion": fields["emotion"] is None or fields["emotion"] in EMOTIONS,
            "lang": fields["lang"] in LANGS,
            "ts": isinstance(fields["ts"], (int, float)) and not isinstance(fields["ts"], bool)
            and math.isfinite(fields["ts"]),
            "id": isinstance(fields["id"], str) and 0 < len(fields["id"]) <= 64,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"invalid event fields: {', '.join(bad)}")
        return cls(**{**fields, "ts": float(fields["ts"])})


def clean_text(text: str) -> str:
    """The caption as shown (full-width punctuation, emoji kept): control characters dropped,
    whitespace collapsed, truncated to :data:`MAX_TEXT_CHARS`."""
    kept = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text[: MAX_TEXT_CHARS * 4])
    return " ".join(kept.split())[:MAX_TEXT_CHARS]


def make_event(action: str, text: object, *, style: Optional[str] = None, scene: Optional[str] = None,
               emotion: Optional[str] = None, lang: Optional[str] = None, ts: Optional[float] = None) -> FeedbackEvent:
    """A new event from user input: names resolved through the captioner's aliases (``"二次元"`` ->
    ``anime``), text cleaned (:func:`clean_text`); InputError for empty text, ConfigError for
    unknown names."""
    key = str(action).strip().lower()
    if key not in ACTION_VALUES:
        raise ConfigError("unknown feedback action", subject=repr(action)[:80],
                          hint=f"Valid actions: {', '.join(ACTIONS)}")
    if not isinstance(text, str):
        raise InputError("caption text must be a string", subject=repr(text)[:80])
    clean = clean_text(text)
    if not clean:
        raise InputError("caption text is empty", subject=repr(text)[:80],
                         hint="pass the caption the feedback is about")
    if ts is not None and not (isinstance(ts, (int, float)) and math.isfinite(ts)):
        raise ConfigError("timestamp must be a finite number of seconds", subject=repr(ts)[:80])
    return FeedbackEvent(
        action=key, text=clean,
        style=resolve_style(style) if style is not None else None,
        scene=scene_request(scene).key,
        emotion=resolve_emotion(emotion) if emotion is not None else None,
        lang=resolve_lang(lang) if lang is not None else language_of(clean),
        ts=float(time.time() if ts is None else ts),
        id=uuid.uuid4().hex,
    )
