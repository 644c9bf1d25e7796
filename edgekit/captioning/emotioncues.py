"""The emotion lexicon of text, with negation: the one source of "which words carry which emotion"
for both readers of text, restyle (:meth:`Captioner.tags_of`, :func:`cue_counts`, with the
caption-trained naive Bayes of :mod:`~edgekit.captioning.textemotion`) and the chat analyzer of
:mod:`edgekit.suggestions` (weighted evidence, :func:`edgekit.suggestions.text.analyze_text`).

The words live in reviewable TSV files (``edgekit/assets/suggest/``): ``emotions.tsv`` (term,
emotion, weight; a term may carry several emotions, one row each, the highest weight first in
meaning) and ``modifiers.tsv`` (negators, intensifiers, diminishers, boosters). Every table has the
columns ``lang, term, label, weight`` (a ``#`` starts a comment line); :func:`load_table` rejects,
naming ``file:line``: a wrong header or column count, an unknown language or label, a weight that
is not a positive number, a term without units, a ``*`` that is not at the end of a Latin term, and
a duplicate ``(term, label)`` row.

Matching (:func:`scan`) works on text units (:mod:`edgekit.textunits`: one CJK character, one Latin
word, one symbol): the longest term at each position wins, so a phrase owns the words inside it
("不开心" is sadness, not the "开心" in it; "can't wait" is not the negator "can't"). A Latin term
ending in ``*`` matches any word starting with it; English terms are whole words ("won't" is not
"won", "funeral" is not "fun").

Negation (:func:`negation`): an English cue is negated by a negator up to two words before it in the
same clause ("not", "never", "hardly", any "...n't"; punctuation ends the scope: "No cap, best day
ever"), except intensified forms (:data:`INTENSIFIED`: "never been so happy", "could not stop
laughing", "no joke"); a Chinese cue only by a negator right before it or before one of its
softeners (:data:`ZH_SOFTENERS`: "不是很开心", "没那么难过"), so "不要太开心" and "无比开心" are not
negations. :data:`NEGATED` lists the words whose negation carries an emotion of its own ("wasn't
clean": disgust, "不公平": anger, "not happy": sadness); what any other negated cue counts as is the
reader's choice (restyle drops it; the chat analyzer turns it into weaker sadness or neutral evidence).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from ..assets import ASSETS_DIR
from ..errors import ConfigError
from ..labels import EMOTIONS
from ..textunits import CLAUSE_BREAKS, is_word, units

LEXICON_DIR = ASSETS_DIR / "suggest"
#: ``any``: emoji and punctuation shared by both languages.
TABLE_LANGS = ("zh", "en", "any")
MODIFIER_KINDS = ("negator", "intensifier", "diminisher", "booster")
WILDCARD = "*"
Key = Tuple[str, ...]

#: The weight from which a term is a cue word of a sentence's reading (:func:`cue_counts`, restyle,
#: the voices validator). Lighter rows are hedged chat evidence that adds to the chat analyzer's
#: probabilities only: acknowledgements ("sure", "fine", "嗯", "没事", "好的"), words as often meant
#: otherwise ("good", "cool", "lmao", "笑") and short substrings that sit inside other words ("行" in
#: 自行, "到了" in 听到了).
CUE_MIN_WEIGHT = 1.0
#: Words whose negation carries an emotion ("wasn't clean": disgust; "不公平": anger). They are
#: matched like terms but count only when negated.
NEGATED: Dict[str, str] = {
    "clean": "disgust", "fresh": "disgust", "fair": "anger", "happy": "sadness", "okay": "sadness",
    "ok": "sadness", "good": "sadness",
    "干净": "disgust", "新鲜": "disgust", "公平": "anger", "成功": "sadness", "开心": "sadness",
    "高兴": "sadness", "好吃": "disgust", "好喝": "disgust",
}
#: Words right after an English negator that make an intensifier of it, not a negation of the cue:
#: "could not stop laughing", "can't help smiling", "no cap", "no joke", "no kidding".
INTENSIFIED_WORDS = frozenset(("stop", "help", "cap", "joke", "kidding", "lie", "doubt"))
#: ... and the two words between negator and cue that do: "never been so happy", "never felt this
#: excited", "not been this excited".
INTENSIFIED = (frozenset(("been", "felt", "be")), frozenset(("so", "this", "that", "more")))
#: Words an English negator reaches over (at most this many between it and the cue).
EN_SCOPE = 2
#: What may stand between a Chinese negator and its cue ("不是很开心", "没那么难过", "不再害怕").
ZH_SOFTENERS = ("是很", "是太", "太", "怎么", "那么", "很", "有", "再", "在")


@dataclass(frozen=True)
class Entry:
    """One lexicon row. ``key`` holds the term's units (the last one ending in ``*`` for a prefix);
    ``negated_only``: a :data:`NEGATED` word, evidence only when negated."""

    lang: str
    term: str
    label: str
    weight: float
    line: int
    key: Key
    negated_only: bool = False


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


def emotion_tables(folder: Path = LEXICON_DIR) -> Tuple[List[Entry], List[Entry]]:
    """``emotions.tsv`` and ``modifiers.tsv`` of ``folder``, validated; no term may be in both."""
    emotions = load_table(folder / "emotions.tsv", EMOTIONS, "emotion")
    modifiers = load_table(folder / "modifiers.tsv", MODIFIER_KINDS, "kind")
    overlap = sorted({e.term for e in emotions} & {m.term for m in modifiers})
    if overlap:
        raise ConfigError(f"terms both emotion terms and modifiers: {', '.join(overlap)}", subject=folder,
                          hint="a term is matched as one or the other; keep it in one table")
    return emotions, modifiers


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


class EmotionLexicon:
    """Emotion terms, modifiers and :data:`NEGATED` words matched together, with the negators'
    strengths (``modifiers.tsv`` factors) for :func:`negation`."""

    def __init__(self, emotions: Sequence[Entry], modifiers: Sequence[Entry]) -> None:
        self.emotions, self.modifiers = tuple(emotions), tuple(modifiers)
        negated = [Entry("any", word, emotion, 1.0, 0, term_key(word), True) for word, emotion in NEGATED.items()]
        self.matcher = Matcher(list(self.emotions) + list(self.modifiers) + negated)
        negators = {m.key: m.weight for m in self.modifiers if m.label == "negator"}
        self.en_negators = {k: w for k, w in negators.items() if is_word(k[0])}
        self.en_negator_len = max((len(k) for k in self.en_negators), default=1)
        zh = {"".join(k): w for k, w in negators.items() if not is_word(k[0])}
        self.zh_negators = zh
        alternatives = "|".join(re.escape(t) for t in sorted(zh, key=len, reverse=True)) or "(?!)"
        softeners = "|".join(re.escape(s) for s in ZH_SOFTENERS)
        self.zh_negator = re.compile(rf"(?P<neg>{alternatives})(?:{softeners})?$")

    def negation(self, us: Sequence[str], start: int) -> Optional[float]:
        """The strength of the negator that negates the cue at unit ``start`` of ``us`` (the
        negator's ``modifiers.tsv`` factor), or None when the cue is not negated."""
        clause = start
        while clause > 0 and us[clause - 1] not in CLAUSE_BREAKS:
            clause -= 1
        if not is_word(us[start]):
            m = self.zh_negator.search("".join(us[max(clause, start - 5):start]))
            return self.zh_negators[m.group("neg")] if m else None
        for j in range(start - 1, max(clause, start - EN_SCOPE - self.en_negator_len) - 1, -1):
            for length in range(min(self.en_negator_len, start - j), 0, -1):
                key = tuple(us[j:j + length])
                strength = self.en_negators.get(key, 1.0 if length == 1 and key[0].endswith("n't") else None)
                if strength is None:
                    continue
                between = us[j + length:start]
                if len(between) > EN_SCOPE:
                    return None
                if between and (between[0] in INTENSIFIED_WORDS or (
                        len(between) == 2 and between[0] in INTENSIFIED[0] and between[1] in INTENSIFIED[1])):
                    return None
                return strength
        return None


@lru_cache(maxsize=8)
def load_lexicon(folder: Path = LEXICON_DIR) -> EmotionLexicon:
    """The emotion lexicon of ``folder`` (the bundled one by default), read once."""
    return EmotionLexicon(*emotion_tables(folder))


@dataclass(frozen=True)
class CueHit:
    """An emotion term (or :data:`NEGATED` word) at units ``[start, end)``; ``negation``: the
    negator's strength when the term is negated, else None."""

    start: int
    end: int
    entries: Tuple[Entry, ...]
    negation: Optional[float]

    @property
    def negated_emotion(self) -> Optional[str]:
        """What the negated term counts as by :data:`NEGATED` (None: nothing of its own)."""
        return next((e.label for e in self.entries if e.negated_only), None)


def scan(us: Sequence[str], lexicon: Optional[EmotionLexicon] = None) -> Iterator[Tuple[Hit, Optional[float]]]:
    """Every hit of ``us`` (modifiers included, for readers that scale evidence) with the negation
    strength of emotion terms (None: not negated; always None for modifiers)."""
    lex = lexicon or load_lexicon()
    for hit in lex.matcher.scan(us):
        if hit.entries[0].label in MODIFIER_KINDS:
            yield hit, None
        else:
            yield hit, lex.negation(us, hit.start)


def cue_hits(text: str, lexicon: Optional[EmotionLexicon] = None) -> List[CueHit]:
    """The emotion terms of ``text`` (no modifiers), each with its negation."""
    return [CueHit(h.start, h.end, h.entries, neg) for h, neg in scan(units(text), lexicon)
            if h.entries[0].label not in MODIFIER_KINDS]


def cue_emotion(hit: CueHit) -> Optional[str]:
    """What one term counts as for a sentence's reading: its main emotion (the highest-weight row,
    at least :data:`CUE_MIN_WEIGHT`), or when negated the emotion :data:`NEGATED` gives it (None:
    nothing)."""
    if hit.negation is not None:
        return hit.negated_emotion
    rows = [e for e in hit.entries if not e.negated_only and e.weight >= CUE_MIN_WEIGHT]
    return max(rows, key=lambda e: e.weight).label if rows else None


def cue_counts(text: str) -> np.ndarray:
    """Cue words per emotion (:data:`~edgekit.labels.EMOTIONS` order) in ``text``: each term of weight
    :data:`CUE_MIN_WEIGHT` or more counts once, for its main emotion; a negated one counts only when
    :data:`NEGATED` gives its emotion."""
    counts = np.zeros(len(EMOTIONS))
    for hit in cue_hits(text):
        emotion = cue_emotion(hit)
        if emotion is not None:
            counts[EMOTIONS.index(emotion)] += 1
    return counts
