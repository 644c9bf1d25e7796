"""Phrase features of a caption: what a like or dislike teaches beyond the caption's style.

Chinese text gives character bigrams (``"复习"``, ``"习到"``), English text gives words of three or
more letters that are not stop words and word bigrams, so a disliked caption also pushes down
other captions that share its wording, in proportion to how much they share.
"""
from __future__ import annotations

from typing import FrozenSet, List

from ..textunits import is_cjk, is_word, normalize, units

#: English words too common to say anything about taste.
STOP_WORDS = frozenset(
    "the and you your for are was were this that with have has had not but all just its it's i'm "
    "what when who how out get got one our they them his her she him too very can will".split())


def text_key(text: str) -> str:
    """The key under which a caption's exact text is remembered (normalised, case-folded)."""
    return normalize(text)


def phrase_features(text: str) -> FrozenSet[str]:
    """Character bigrams of CJK runs (``c:``), content words (``w:``) and word bigrams (``b:``)."""
    feats: List[str] = []
    prev = ""
    for unit in units(text):
        if is_cjk(unit):
            if is_cjk(prev):
                feats.append("c:" + prev + unit)
        elif is_word(unit):
            if len(unit) >= 3 and unit not in STOP_WORDS and not unit.isdigit():
                feats.append("w:" + unit)
            if is_word(prev):
                feats.append(f"b:{prev} {unit}")
        prev = unit
    return frozenset(feats)


def similarity(a: str, b: str) -> float:
    """Jaccard overlap of two captions' phrase features (1.0 for the same wording)."""
    fa, fb = phrase_features(a), phrase_features(b)
    if not fa and not fb:
        return 1.0 if text_key(a) == text_key(b) else 0.0
    return len(fa & fb) / len(fa | fb)
