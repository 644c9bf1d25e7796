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

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Tuple

from ..captioning.emotioncues import (LEXICON_DIR, MODIFIER_KINDS, TABLE_LANGS, WILDCARD, EmotionLexicon, Entry, Hit,
                                      Key, Matcher, emotion_tables, load_table, term_key)
from ..captioning.taxonomy import SCENES

__all__ = ["LEXICON_DIR", "MODIFIER_KINDS", "TABLE_LANGS", "WILDCARD", "Entry", "Hit", "Key", "Lexicon", "Matcher",
           "default_lexicon", "load_table", "term_key"]


@dataclass(frozen=True)
class Lexicon:
    """The three tables: emotion terms + modifiers (the shared emotion lexicon) and scene keywords."""

    emotions: Tuple[Entry, ...]
    modifiers: Tuple[Entry, ...]
    scenes: Tuple[Entry, ...]

    @classmethod
    def load(cls, folder: Path = LEXICON_DIR) -> "Lexicon":
        """Read and validate ``emotions.tsv``, ``modifiers.tsv`` and ``scenes.tsv`` in ``folder``."""
        emotions, modifiers = emotion_tables(folder)
        return cls(tuple(emotions), tuple(modifiers), tuple(load_table(folder / "scenes.tsv", SCENES, "scene")))

    @property
    def emotion_lexicon(self) -> EmotionLexicon:
        """Emotion terms, modifiers and negation (:mod:`edgekit.captioning.emotioncues`)."""
        return _emotion_lexicon(self.emotions, self.modifiers)

    @property
    def scene_matcher(self) -> Matcher:
        return _matcher(self.scenes)


@lru_cache(maxsize=8)
def _emotion_lexicon(emotions: Tuple[Entry, ...], modifiers: Tuple[Entry, ...]) -> EmotionLexicon:
    return EmotionLexicon(emotions, modifiers)


@lru_cache(maxsize=8)
def _matcher(entries: Tuple[Entry, ...]) -> Matcher:
    return Matcher(entries)


@lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    """The bundled lexicon (read once)."""
    return Lexicon.load()
