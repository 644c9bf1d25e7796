"""Condition vector of the caption model, added (through a learned projection) to every position.

``[emotion probabilities (8) | style one-hot (8) | scene one-hot (14 + "none") | language one-hot (2)]``.
The emotion part takes a full probability vector, so a face's ``EmotionClassifier`` output
conditions the model directly; the control tokens of the prompt carry the same tags.
"""
from __future__ import annotations

from typing import Mapping, Optional

import numpy as np

from .taxonomy import EMOTIONS, LANGS, NO_SCENE, SCENES, STYLES

SCENE_SLOTS = SCENES + (NO_SCENE,)
COND_DIM = len(EMOTIONS) + len(STYLES) + len(SCENE_SLOTS) + len(LANGS)
_OFFSETS = np.cumsum([0, len(EMOTIONS), len(STYLES), len(SCENE_SLOTS)])


def condition(lang: str, emotion: object, style: str, scene: Optional[str]) -> np.ndarray:
    """``[1, COND_DIM]`` float32 for canonical tags (scene None = ``none``); ``emotion`` is a label or
    a ``{label: p}`` dict."""
    c = np.zeros((1, COND_DIM), np.float32)
    if isinstance(emotion, Mapping):
        for label, p in emotion.items():
            c[0, EMOTIONS.index(label)] = p
        c[0, : len(EMOTIONS)] /= max(float(c[0, : len(EMOTIONS)].sum()), 1e-9)
    else:
        c[0, EMOTIONS.index(emotion)] = 1.0
    c[0, _OFFSETS[1] + STYLES.index(style)] = 1.0
    c[0, _OFFSETS[2] + SCENE_SLOTS.index(scene or NO_SCENE)] = 1.0
    c[0, _OFFSETS[3] + LANGS.index(lang)] = 1.0
    return c
