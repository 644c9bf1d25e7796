"""Emotion and scene of chat text, on device, from the project's lexicon (no model, no network).

How a chat becomes probabilities (all constants below are the documented defaults):

1. The text is split into lines (messages); each line is split into units and scanned for
   emotion terms and modifiers (longest term first) with the emotion lexicon restyle reads too
   (:mod:`edgekit.captioning.emotioncues`: the same terms and the same negation rule). A negated
   term (not, never, ...n't up to two words before it, 不/没/别 ... right before it or before 很/太/那么,
   in the same clause) counts through :data:`NEGATION_SHIFT` (``不开心``-like: happiness -> sadness), or as
   the emotion of its own that ``emotioncues.NEGATED`` gives it ("not clean": disgust) times
   :data:`NEGATED_WORD_FACTOR`; intensifiers (很, 太, so, very, ...) and diminishers (有点, a bit,
   ...) within :data:`MODIFIER_WINDOW` units before the term multiply it; boosters (死了, af, ...)
   multiply the term before.
2. The same term repeated in a line adds geometrically less (:data:`REPEAT_DECAY`); ``!`` and
   SHOUTED words raise the line's evidence; older lines count less (:data:`RECENCY_DECAY` per line
   before the last).
3. With ``E`` the total evidence and ``e[k]`` the evidence for emotion ``k``::

       p[k] = (PRIOR_STRENGTH * PRIOR[k] + e[k]) / (PRIOR_STRENGTH + E)
       confidence = E / (E + PRIOR_STRENGTH)

   so text with no emotion words gives the prior (mostly neutral) and confidence 0.
4. Scene keywords are summed the same way (no negation); the scene with the largest total wins
   when it reaches :data:`SCENE_MIN_SCORE`, else there is no scene.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Tuple

from ..captioning.taxonomy import EMOTIONS, language_of, resolve_lang
from ..errors import InputError
from ..textunits import CLAUSE_BREAKS, units
from ..captioning.emotioncues import EmotionLexicon, scan
from .lexicon import Lexicon, default_lexicon

#: Longest chat text read; longer input keeps its end (the most recent messages).
MAX_CHAT_CHARS = 2000
#: Units allowed between a modifier and the emotion term it applies to.
MODIFIER_WINDOW = 3
#: What a negated emotion term counts as: (emotion, factor on its weight). (Not to be confused with
#: :data:`edgekit.captioning.emotioncues.NEGATED`, the words whose negation has an emotion of its own.)
NEGATION_SHIFT: Dict[str, Tuple[str, float]] = {
    "happiness": ("sadness", 0.7), "neutral": ("sadness", 0.5), "sadness": ("neutral", 0.5),
    "surprise": ("neutral", 0.5), "anger": ("neutral", 0.5), "disgust": ("neutral", 0.5),
    "fear": ("neutral", 0.5), "contempt": ("neutral", 0.5),
}
#: What a negated word with an emotion of its own counts as (its emotion by
#: :data:`~edgekit.captioning.emotioncues.NEGATED`: "not clean" disgust, "不公平" anger) times its weight.
NEGATED_WORD_FACTOR = 0.7
REPEAT_DECAY = 0.5
#: Evidence factor per "!" in a line (at most 3 count) and for a SHOUTED word (>= 3 capitals).
EXCLAMATION_BOOST = 0.15
SHOUT_BOOST = 1.2
RECENCY_DECAY = 0.7
PRIOR: Dict[str, float] = {k: (0.3 if k == "neutral" else 0.1) for k in EMOTIONS}
PRIOR_STRENGTH = 1.0
SCENE_MIN_SCORE = 0.75
_SHOUT = re.compile(r"\b[A-Z]{3,}\b")


@dataclass(frozen=True)
class Evidence:
    """One matched term and what it added (``negated``: counted through :data:`NEGATION_SHIFT`)."""

    term: str
    emotion: str
    weight: float
    negated: bool = False


@dataclass(frozen=True)
class TextAnalysis:
    """What the chat text says: emotion probabilities, evidence behind them and the scene."""

    text: str
    lang: str
    probs: Dict[str, float]
    scores: Dict[str, float]
    confidence: float
    scene: Optional[str]
    scene_scores: Dict[str, float]
    evidence: Tuple[Evidence, ...]

    @property
    def emotion(self) -> str:
        return max(self.probs, key=self.probs.get)

    def to_dict(self) -> dict:
        return asdict(self) | {"emotion": self.emotion}


def check_chat(chat: object) -> str:
    """The chat text, or InputError when it is not a string or holds no visible character."""
    if not isinstance(chat, str):
        raise InputError("chat text must be a string", subject=repr(chat)[:80])
    if not chat.strip():
        raise InputError("chat text is empty", subject=repr(chat)[:80],
                         hint="pass recent chat messages, e.g. --chat '明天考试，完全没复习'")
    return chat[-MAX_CHAT_CHARS:]


def _line_evidence(us: List[str], lex: EmotionLexicon) -> List[Evidence]:
    """Evidence of one line's emotion terms, with negation (the shared rule of
    :meth:`~edgekit.captioning.emotioncues.EmotionLexicon.negation`), intensity and boosters applied."""
    out: List[Evidence] = []
    pending: List[Tuple[int, str, float]] = []  # (end, kind, factor) of modifiers waiting for a term
    last: Optional[Tuple[int, int]] = None      # (end, index in out) of the last emotion term
    prev_end = 0
    for hit, negation in scan(us, lex):
        if any(u in CLAUSE_BREAKS for u in us[prev_end:hit.start]):
            pending, last = [], None
        prev_end = hit.end
        first = hit.entries[0]
        if first.label == "booster":
            if last is not None and hit.start - last[0] <= 1:
                out[last[1]:] = [Evidence(e.term, e.emotion, e.weight * first.weight, e.negated) for e in out[last[1]:]]
            continue
        if first.label in ("negator", "intensifier", "diminisher"):
            if first.label != "negator":
                pending.append((hit.end, first.label, first.weight))
            continue
        scale = 1.0
        for end, _, factor in pending:
            if hit.start - end <= MODIFIER_WINDOW:
                scale *= factor
        pending = []
        rows = [e for e in hit.entries if not e.negated_only]
        if negation is None:
            if rows:
                last = (hit.end, len(out))
                out.extend(Evidence(e.term, e.label, e.weight * scale) for e in rows)
            continue
        last = (hit.end, len(out))
        own = next((e for e in hit.entries if e.negated_only), None)
        if own is not None:  # a word whose negation has an emotion of its own ("not clean": disgust)
            weight = max((e.weight for e in rows), default=own.weight)
            out.append(Evidence(own.term, own.label, weight * scale * negation * NEGATED_WORD_FACTOR, True))
            continue
        for entry in rows:
            emotion, factor = NEGATION_SHIFT[entry.label]
            out.append(Evidence(entry.term, emotion, entry.weight * scale * negation * factor, True))
    return out


def _damped(items: List[Evidence]) -> List[Evidence]:
    """Repeats of the same (term, emotion) count REPEAT_DECAY times less each time."""
    seen: Counter = Counter()
    out = []
    for ev in items:
        k = seen[ev.term, ev.emotion]
        seen[ev.term, ev.emotion] += 1
        out.append(Evidence(ev.term, ev.emotion, ev.weight * REPEAT_DECAY ** k, ev.negated))
    return out


def _line_boost(line: str, us: List[str]) -> float:
    return (1 + EXCLAMATION_BOOST * min(3, sum(u == "!" for u in us))) * (SHOUT_BOOST if _SHOUT.search(line) else 1.0)


def analyze_text(chat: str, lang: Optional[str] = None, lexicon: Optional[Lexicon] = None) -> TextAnalysis:
    """Emotion probabilities, confidence and scene of ``chat`` (zh and/or en; lines = messages,
    the last one most recent). ``lang`` is the reply language (default: the chat's own)."""
    text = check_chat(chat)
    lex = lexicon or default_lexicon()
    emotions, scene_matcher = lex.emotion_lexicon, lex.scene_matcher
    lines = [ln for ln in text.splitlines() if ln.strip()]
    evidence: List[Evidence] = []
    scene_scores: Dict[str, float] = {}
    for age, line in enumerate(reversed(lines)):
        us = units(line)
        recency = RECENCY_DECAY ** age
        boost = _line_boost(line, us) * recency
        found = _damped(_line_evidence(us, emotions))
        evidence[:0] = [Evidence(e.term, e.emotion, round(e.weight * boost, 4), e.negated) for e in found]
        seen: Counter = Counter()
        for hit in scene_matcher.scan(us):
            for entry in hit.entries:
                scene_scores[entry.label] = scene_scores.get(entry.label, 0.0) + \
                    entry.weight * recency * REPEAT_DECAY ** seen[entry.term]
                seen[entry.term] += 1
    scores = {k: 0.0 for k in EMOTIONS}
    for ev in evidence:
        scores[ev.emotion] += ev.weight
    total = sum(scores.values())
    probs = {k: (PRIOR_STRENGTH * PRIOR[k] + scores[k]) / (PRIOR_STRENGTH + total) for k in EMOTIONS}
    scene = max(scene_scores, key=scene_scores.get) if scene_scores else None
    if scene is not None and scene_scores[scene] < SCENE_MIN_SCORE:
        scene = None
    return TextAnalysis(
        text=text, lang=resolve_lang(lang) if lang is not None else language_of(text),
        probs=probs, scores={k: round(v, 4) for k, v in scores.items()},
        confidence=total / (total + PRIOR_STRENGTH), scene=scene,
        scene_scores={k: round(v, 4) for k, v in sorted(scene_scores.items(), key=lambda kv: -kv[1])},
        evidence=tuple(evidence))
