"""Fusing the chat text's emotion with the face's (a weighted linear opinion pool).

With ``q`` the text's evidence distribution (``e / E``, see :mod:`edgekit.suggestions.text`), ``c`` its
confidence and ``f`` the face classifier's probabilities::

    fused[k] = (TEXT_WEIGHT * c * q[k] + FACE_WEIGHT * f[k]) / (TEXT_WEIGHT * c + FACE_WEIGHT)

The text counts in proportion to how much it says: chat without emotion words (c = 0) leaves the
face's probabilities unchanged, and with the defaults (1.0 and 0.6) the face weighs as much as
text holding 1.5 units of evidence (one strong word such as "难过" or "anxious"). Examples with
the defaults (face probabilities not listed are spread evenly): "有点累" (mild sadness, c = 0.32)
+ a 90 % happy face -> happiness 0.58, sadness 0.36; "难过死了，想哭" (c = 0.79) + the same face ->
sadness 0.57, happiness 0.39; "明天考试，完全没复习" (fear, c = 0.6) + a 60 % sad, 25 % neutral
face -> fear 0.51, sadness 0.30. Without a face the text's own smoothed probabilities are used.
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional

from ..captioning.inputs import emotion_of
from ..captioning.taxonomy import EMOTIONS
from ..errors import ConfigError
from .text import TextAnalysis

TEXT_WEIGHT = 1.0
FACE_WEIGHT = 0.6
#: Emotions counted as negative (for summaries and tests).
NEGATIVE = ("sadness", "anger", "disgust", "fear", "contempt")


def fuse(text: TextAnalysis, face: Optional[Mapping[str, float]] = None, *, text_weight: float = TEXT_WEIGHT,
         face_weight: float = FACE_WEIGHT) -> Dict[str, float]:
    """Fused probabilities over the 8 FER+ emotions (sum 1). ``face`` is an
    :class:`~edgekit.EmotionResult`'s ``probs`` (or None for the text alone)."""
    for name, w in (("text_weight", text_weight), ("face_weight", face_weight)):
        if not (isinstance(w, (int, float)) and 0 <= w < float("inf")):
            raise ConfigError(f"{name} must be a finite number >= 0", subject=f"{name}={w!r}")
    if face is None:
        return dict(text.probs)
    _, face_probs = emotion_of(dict(face))
    total = sum(text.scores.values())
    wt = text_weight * text.confidence if total > 0 else 0.0
    if wt + face_weight == 0:
        return dict(text.probs)
    fused = {k: (wt * text.scores[k] / max(total, 1e-12) + face_weight * face_probs.get(k, 0.0)) / (wt + face_weight)
             for k in EMOTIONS}
    norm = sum(fused.values())
    return {k: v / norm for k, v in fused.items()}
