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

Negation (:meth:`EmotionLexicon.negation`) goes through the scan's hits: only a negator the scan
matched negates, so one inside a longer term does not (别 in the intensifier 特别, "can't" in the
term "can't believe"), and an emotion term between a negator and a cue ends the negator's reach
("can't wait, so happy"). An English cue is negated by a negator up to two words before it in the
same clause ("not", "never", "hardly", any "...n't"; punctuation and "but" end the scope: "No cap,
best day ever", "Nothing but love"), except intensified forms (:data:`INTENSIFIED`: "never been so
happy", "could not stop laughing", "no joke") and a comparative after "be" or "never"/"nothing"/
"nobody" ("could not be happier", "nothing makes me happier"); a Chinese cue only by a negator right
before it or before one of its softeners (:data:`ZH_SOFTENERS`: "不是很开心", "没那么难过"), so
"不要太开心" and "无比开心" are not negations, nor is the 别 that ends a word (:data:`ZH_NOT_NEGATORS`:
告别, 区别). :data:`NEGATED` lists the words whose negation carries an emotion of its own ("wasn't
clean": disgust, "不公平": anger, "not happy": sadness); what any other negated cue counts as is the
reader's choice (restyle drops it; the chat analyzer turns it into weaker sadness or neutral evidence).
"""
from __future__ import annotations

import math
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


def _comparative_bases(word: str) -> Tuple[str, ...]:
    """The words ``word`` would be the comparative of (happier: happy; sadder: sad; nicer: nice)."""
    if not word.endswith("er") or len(word) < 5:
        return ()
    stem = word[:-2]
    out = [stem, stem + "e"]
    if stem.endswith("i"):
        out.append(stem[:-1] + "y")
    if len(stem) > 2 and stem[-1] == stem[-2]:
        out.append(stem[:-1])
    return tuple(out)


#: A one-unit negator (modifiers.tsv) that closes these words is none: 区别, 告别 (特别 is an
#: intensifier of modifiers.tsv, so the scan owns it already).
ZH_NOT_NEGATORS = frozenset(("区别", "告别", "分别", "差别", "离别", "道别", "送别", "识别", "辨别", "鉴别", "个别",
                             "级别", "类别", "性别", "派别", "永别", "诀别", "惜别"))
#: Words that end an English negator's reach: "Nothing but love for this", "No but I'm happy".
NEGATION_BREAKS = frozenset(("but",))
#: English negators before a comparative that make a superlative of it: "never happier", "nothing makes me
#: happier", "nobody is happier" (any negator does before "be": "could not be happier").
COMPARATIVE_NEGATORS = frozenset(("never", "nothing", "nobody"))
#: The negator an English word ending in n't that no term covers counts as ("needn't").
_NT = Entry("en", "n't", "negator", 1.0, 0, ("n't",))


class EmotionLexicon:
    """Emotion terms, modifiers and :data:`NEGATED` words matched together, with the negators'
    strengths (``modifiers.tsv`` factors) for :func:`negation`."""

    def __init__(self, emotions: Sequence[Entry], modifiers: Sequence[Entry]) -> None:
        self.emotions, self.modifiers = tuple(emotions), tuple(modifiers)
        negated = [Entry("any", word, emotion, 1.0, 0, term_key(word), True) for word, emotion in NEGATED.items()]
        self.matcher = Matcher(list(self.emotions) + list(self.modifiers) + negated)
        en = {e.key[0] for e in self.emotions if e.lang == "en" and len(e.key) == 1}
        #: one-word English terms that are the comparative of another ("happier", "sadder"): :meth:`is_comparative`
        self.comparatives = frozenset((w,) for w in en if any(base in en for base in _comparative_bases(w)))

    def negation(self, us: Sequence[str], start: int, hits: Optional[Sequence[Hit]] = None) -> Optional[float]:
        """The strength of the negator that negates the cue at unit ``start`` of ``us`` (the
        negator's ``modifiers.tsv`` factor), or None when the cue is not negated.

        Only a negator *hit* of the scan negates (``hits``: the scan's hits of ``us``, scanned here
        when not given), so a negator inside a longer term is none: 别 in 特别, "can't" in "can't
        believe"; an emotion term between the negator and the cue ends its reach ("can't wait, so
        happy"). An English word ending in n't that no hit covers is a negator too."""
        if hits is None:
            hits = list(self.matcher.scan(us))
        clause = start
        while clause > 0 and us[clause - 1] not in CLAUSE_BREAKS:
            clause -= 1
        before = [h for h in hits if clause <= h.start and h.end <= start]
        cue = next((h for h in hits if h.start == start), None)
        if is_word(us[start]):
            covered = {i for h in before for i in range(h.start, h.end)}
            before += [Hit(i, i + 1, (_NT,)) for i in range(clause, start)
                       if i not in covered and us[i].endswith("n't")]
            before.sort(key=lambda h: h.start)
        for hit in reversed(before):
            label = hit.entries[0].label
            if label not in MODIFIER_KINDS:
                return None  # an earlier emotion term: the negator before it is its own
            if label != "negator":
                continue
            between = us[hit.end:start]
            if not is_word(us[start]):
                if "".join(between) not in ("",) + ZH_SOFTENERS or (
                        hit.end - hit.start == 1 and "".join(us[max(0, hit.start - 1):hit.end]) in ZH_NOT_NEGATORS):
                    return None
                return hit.entries[0].weight
            if len(between) > EN_SCOPE or any(w in NEGATION_BREAKS for w in between):
                return None
            if between and (between[0] in INTENSIFIED_WORDS or (
                    len(between) == 2 and between[0] in INTENSIFIED[0] and between[1] in INTENSIFIED[1])):
                return None
            if cue is not None and self.is_comparative(cue) and (
                    hit.entries[0].term in COMPARATIVE_NEGATORS or between[-1:] in (["be"], ["been"])):
                return None  # "could not be happier", "never happier", "nothing makes me happier"
            return hit.entries[0].weight
        return None

    def is_comparative(self, hit: Hit) -> bool:
        """Whether an English hit is the comparative of another English term ("happier" of "happy",
        "sadder" of "sad"): after "be" or one of :data:`COMPARATIVE_NEGATORS` a negator says "as ...
        as can be" ("could not be happier", "nothing makes me happier"), not the opposite ("I don't
        feel happier" stays negated)."""
        return hit.end - hit.start == 1 and any(e.key in self.comparatives for e in hit.entries)


def load_lexicon(folder: Path = LEXICON_DIR) -> EmotionLexicon:
    """The emotion lexicon of ``folder`` (the bundled one by default), read once per folder: restyle and
    the chat analyzer (:class:`edgekit.suggestions.lexicon.Lexicon`) share it."""
    return _load_lexicon(Path(folder).resolve())


@lru_cache(maxsize=8)
def _load_lexicon(folder: Path) -> EmotionLexicon:
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
    hits = list(lex.matcher.scan(us))
    for hit in hits:
        if hit.entries[0].label in MODIFIER_KINDS:
            yield hit, None
        else:
            yield hit, lex.negation(us, hit.start, hits)


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
