"""A cheap fluency check for sampled captions: every English word and every pair of adjacent
Chinese characters must occur in the caption library (the authored corpus the model learnt).

The caption model spells English and writes Chinese piece by piece, so a sample can hold a
made-up word ("hownerrs") or a garbled character pair; such a sample is redrawn. The check knows
only what the corpus contains: a correct but unseen word or pair is refused too (the price of
never showing a broken one).
"""
from __future__ import annotations

import re
from typing import FrozenSet, Iterable, Optional

_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")


def _cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


def cjk_pairs(text: str) -> Iterable[str]:
    """Adjacent pairs of CJK ideographs in ``text``."""
    return (text[i:i + 2] for i in range(len(text) - 1) if _cjk(text[i]) and _cjk(text[i + 1]))


class Fluency:
    """Words and character pairs known from the library texts."""

    def __init__(self, texts: Iterable[str]) -> None:
        words, pairs = set(), set()
        for text in texts:
            words.update(w.lower() for w in _WORD.findall(text))
            pairs.update(cjk_pairs(text))
        self.words: FrozenSet[str] = frozenset(words)
        self.pairs: FrozenSet[str] = frozenset(pairs)

    def unknown(self, text: str) -> Optional[str]:
        """The first English word or Chinese character pair of ``text`` the library never has, or None."""
        word = next((w for w in _WORD.findall(text) if w.lower() not in self.words), None)
        return word if word is not None else next((p for p in cjk_pairs(text) if p not in self.pairs), None)
