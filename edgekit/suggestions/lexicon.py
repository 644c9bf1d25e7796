"""The chat lexicon: the emotion lexicon of text (emotion terms and modifiers, shared with restyle:
:mod:`edgekit.captioning.emotioncues`, which reads and validates the tables) and the chat's own
scene keywords, all reviewable TSV files (``edgekit/assets/suggest/*.tsv``) matched against text
units (:mod:`edgekit.textunits`).

Every table has the columns ``lang, term, label, weight`` (a ``#`` starts a comment line).
:func:`load_table` rejects, naming ``file:line``: a wrong header or column count, an unknown
language or label, a weight that is not a positive number, a term without units, a ``*`` that
is not at the end of a Latin term, and a duplicate ``(term, label)`` row.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Tuple

from ..captioning.emotioncues import (LEXICON_DIR, MODIFIER_KINDS, TABLE_LANGS, WILDCARD, EmotionLexicon, Entry, Hit,
                                      Key, Matcher, load_lexicon, load_table, term_key)
from ..captioning.taxonomy import SCENES

__all__ = ["LEXICON_DIR", "MODIFIER_KINDS", "TABLE_LANGS", "WILDCARD", "Entry", "Hit", "Key", "Lexicon", "Matcher",
           "default_lexicon", "load_table", "term_key"]


@dataclass(frozen=True)
class Lexicon:
    """The three tables: emotion terms + modifiers (the shared emotion lexicon, the one
    :func:`~edgekit.captioning.emotioncues.load_lexicon` read for restyle too) and scene keywords,
    matchers built once."""

    emotion_lexicon: EmotionLexicon
    scenes: Tuple[Entry, ...]
    scene_matcher: Matcher = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "scene_matcher", Matcher(self.scenes))

    @classmethod
    def load(cls, folder: Path = LEXICON_DIR) -> "Lexicon":
        """Read and validate ``emotions.tsv``, ``modifiers.tsv`` (through the cached
        :func:`~edgekit.captioning.emotioncues.load_lexicon`: once per folder) and ``scenes.tsv`` in ``folder``."""
        return cls(load_lexicon(folder), tuple(load_table(folder / "scenes.tsv", SCENES, "scene")))

    @property
    def emotions(self) -> Tuple[Entry, ...]:
        return self.emotion_lexicon.emotions

    @property
    def modifiers(self) -> Tuple[Entry, ...]:
        return self.emotion_lexicon.modifiers


@lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    """The bundled lexicon (read once)."""
    return Lexicon.load()
