"""Slot grammars of the caption library, one module per language plus shared kaomoji.

Each language module defines ``EMOTION_SLOTS[emotion][slot]`` (E: clause, A: one-word mood,
P: poetic image, L: slang tag), ``SCENE_PHRASES[scene]`` and ``STYLE_TEMPLATES[style]``
(``str.format`` templates over the slots, plus ``S`` scene phrase and ``K`` kaomoji).
"""
from . import en, zh
from .kaomoji import KAOMOJI

GRAMMARS = {"zh": zh, "en": en}

__all__ = ["GRAMMARS", "KAOMOJI"]
