"""The chat lexicon: emotion terms, modifiers and scene keywords, read from reviewable TSV files
(``edgekit/assets/suggest/*.tsv``) and matched against text units (:mod:`edgekit.textunits`).

Every table has the columns ``lang, term, label, weight`` (a ``#`` starts a comment line).
:func:`load_table` rejects, naming ``file:line``: a wrong header or column count, an unknown
language or label, a weight that is not a positive number, a term without units, a ``*`` that
is not at the end of a Latin term, and a duplicate ``(term, label)`` row.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterator, List, Sequence, Tuple

from ..assets import ASSETS_DIR
from ..captioning.taxonomy import EMOTIONS, SCENES
from ..errors import ConfigError
from ..textunits import is_word, units

LEXICON_DIR = ASSETS_DIR / "suggest"
#: ``any``: emoji and punctuation shared by both languages.
TABLE_LANGS = ("zh", "en", "any")
MODIFIER_KINDS = ("negator", "intensifier", "diminisher", "booster")
WILDCARD = "*"
Key = Tuple[str, ...]


@dataclass(frozen=True)
class Entry:
    """One lexicon row. ``key`` holds the term's units (the last one ending in ``*`` for a prefix)."""

    lang: str
    term: str
    label: str
    weight: float
    line: int
    key: Key


def term_key(term: str) -> Key:
    """Units of a lexicon term; a trailing ``*`` stays on the last (Latin) unit."""
    wildcard = term.endswith(WILDCARD)
    if WILDCARD in term[:-1]:
        raise ValueError(f"'{WILDCARD}' may only end a Latin term")
    key = units(term[:-1] if wildcard else term)
    if wildcard:
        if not key or not is_word(key[-1]):
            raise ValueError(f"'{WILDCARD}' must end a Latin word")
        key[-1] += WILDCARD
    if not key:
        raise ValueError("term has no letters or symbols")
    return tuple(key)


def load_table(path: Path, labels: Sequence[str], label_column: str) -> List[Entry]:
    """Rows of one lexicon table, validated (ConfigError naming ``path:line`` otherwise)."""
    header = ("lang", "term", label_column, "factor" if label_column == "kind" else "weight")
    entries: List[Entry] = []
    seen: Dict[Tuple[Key, str], int] = {}
    rows = [(n, line) for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if line.strip() and not line.startswith("#")]
    if not rows or tuple(rows[0][1].split("\t")) != header:
        raise ConfigError(f"first row must be the header {'<TAB>'.join(header)}", subject=path)
    for n, line in rows[1:]:
        where = f"{path}:{n}"
        fields = line.split("\t")
        if len(fields) != 4:
            raise ConfigError(f"expected 4 tab-separated columns, found {len(fields)}", subject=where)
        lang, term, label, weight_text = fields
        if lang not in TABLE_LANGS:
            raise ConfigError(f"unknown language {lang!r}", subject=where, hint=f"use one of {', '.join(TABLE_LANGS)}")
        if label not in labels:
            raise ConfigError(f"unknown {label_column} {label!r}", subject=where,
                              hint=f"use one of {', '.join(labels)}")
        try:
            weight = float(weight_text)
            key = term_key(term)
        except ValueError as exc:
            raise ConfigError(f"bad row ({exc})", subject=where) from None
        if not (math.isfinite(weight) and weight > 0):
            raise ConfigError(f"weight must be a positive number, got {weight_text!r}", subject=where)
        if (key, label) in seen:
            raise ConfigError(f"duplicate of line {seen[key, label]} ({term!r}, {label})", subject=where)
        seen[key, label] = n
        entries.append(Entry(lang, term, label, weight, n, key))
    return entries


@dataclass(frozen=True)
class Hit:
    """Units ``[start, end)`` matched by ``entries`` (all rows of one term)."""

    start: int
    end: int
    entries: Tuple[Entry, ...]


class Matcher:
    """Greedy longest-first matching of lexicon terms over a unit sequence."""

    def __init__(self, entries: Sequence[Entry]) -> None:
        self.table: Dict[Key, List[Entry]] = {}
        for e in entries:
            self.table.setdefault(e.key, []).append(e)
        self.max_len = max((len(k) for k in self.table), default=0)

    def _lookup(self, us: Sequence[str], start: int, length: int) -> Tuple[Entry, ...]:
        head = tuple(us[start:start + length])
        found = self.table.get(head)
        if found:
            return tuple(found)
        last = head[-1]
        if is_word(last):
            for cut in range(len(last), 0, -1):  # longest prefix first
                found = self.table.get(head[:-1] + (last[:cut] + WILDCARD,))
                if found:
                    return tuple(found)
        return ()

    def scan(self, us: Sequence[str]) -> Iterator[Hit]:
        """Non-overlapping hits, left to right, the longest term winning at each position."""
        i = 0
        while i < len(us):
            for length in range(min(self.max_len, len(us) - i), 0, -1):
                entries = self._lookup(us, i, length)
                if entries:
                    yield Hit(i, i + length, entries)
                    i += length
                    break
            else:
                i += 1


@dataclass(frozen=True)
class Lexicon:
    """The three tables: emotion terms + modifiers (matched together) and scene keywords."""

    emotions: Tuple[Entry, ...]
    modifiers: Tuple[Entry, ...]
    scenes: Tuple[Entry, ...]

    @classmethod
    def load(cls, folder: Path = LEXICON_DIR) -> "Lexicon":
        """Read and validate ``emotions.tsv``, ``modifiers.tsv`` and ``scenes.tsv`` in ``folder``."""
        emotions = load_table(folder / "emotions.tsv", EMOTIONS, "emotion")
        modifiers = load_table(folder / "modifiers.tsv", MODIFIER_KINDS, "kind")
        overlap = sorted({e.term for e in emotions} & {m.term for m in modifiers})
        if overlap:
            raise ConfigError(f"terms both emotion terms and modifiers: {', '.join(overlap)}", subject=folder,
                              hint="a term is matched as one or the other; keep it in one table")
        return cls(tuple(emotions), tuple(modifiers), tuple(load_table(folder / "scenes.tsv", SCENES, "scene")))

    @property
    def emotion_matcher(self) -> Matcher:
        return _matcher(self.emotions + self.modifiers)

    @property
    def scene_matcher(self) -> Matcher:
        return _matcher(self.scenes)


@lru_cache(maxsize=8)
def _matcher(entries: Tuple[Entry, ...]) -> Matcher:
    return Matcher(entries)


@lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    """The bundled lexicon (read once)."""
    return Lexicon.load()
