"""Style and phrase preferences learnt from feedback events, with time decay and smoothing.

Every event adds its value (like +1, used +0.5, dislike -1; see
:data:`~edgekit.personalize.events.ACTION_VALUES`) times a decay weight ``0.5 ** (age /
half_life)`` to three tallies: the caption's style, each of its phrase features
(:func:`~edgekit.personalize.features.phrase_features`) and its exact text. Liked and disliked
amounts are kept apart, and a tally's preference is the smoothed share of likes minus one half::

    preference = (liked + PRIOR) / (liked + disliked + 2 * PRIOR) - 0.5      # in (-0.5, 0.5)

so one like moves a style by +0.17, five likes by +0.36, and opposite feedback cancels out.
A caption's score is ``STYLE_WEIGHT * style + PHRASE_WEIGHT * mean(phrase prefs) + EXACT_WEIGHT *
exact-text pref``; captions with no feedback behind them score 0.

Because the decay is exponential, old events can be folded into tallies at a reference time
and decayed further later with exactly the same result (:func:`fold`): the store keeps recent
events verbatim and older ones as such tallies.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Tuple

from .events import FeedbackEvent
from .features import phrase_features, text_key

#: Pseudo-counts of likes and of dislikes every tally starts with (smoothing).
PRIOR = 1.0
STYLE_WEIGHT = 1.0
PHRASE_WEIGHT = 1.0
EXACT_WEIGHT = 0.5
#: Feedback loses half its weight after this many days.
DEFAULT_HALF_LIFE_DAYS = 30.0
#: Folded tallies smaller than this are dropped.
PRUNE_BELOW = 1e-4
TABLES = ("styles", "phrases", "texts")


def decay(ts: float, now: float, half_life_s: float) -> float:
    """Weight of an event at ``ts`` seen at ``now`` (1.0 for events in the future)."""
    return 0.5 ** (max(0.0, now - ts) / half_life_s)


@dataclass
class Tally:
    """Decayed amounts of liking and disliking behind one key."""

    liked: float = 0.0
    disliked: float = 0.0

    def add(self, value: float) -> None:
        if value >= 0:
            self.liked += value
        else:
            self.disliked -= value

    def preference(self) -> float:
        return (self.liked + PRIOR) / (self.liked + self.disliked + 2 * PRIOR) - 0.5


@dataclass(frozen=True)
class Score:
    """A candidate caption's personal score and its parts (each part in (-0.5, 0.5))."""

    total: float
    style: float
    phrase: float
    exact: float


@dataclass
class Preferences:
    """Tallies per style, phrase feature and exact caption text, at one point in time."""

    styles: Dict[str, Tally] = field(default_factory=dict)
    phrases: Dict[str, Tally] = field(default_factory=dict)
    texts: Dict[str, Tally] = field(default_factory=dict)
    n_events: int = 0

    def add(self, event: FeedbackEvent, weight: float = 1.0) -> None:
        value = event.value * weight
        if event.style:
            self.styles.setdefault(event.style, Tally()).add(value)
        for feat in phrase_features(event.text):
            self.phrases.setdefault(feat, Tally()).add(value)
        self.texts.setdefault(text_key(event.text), Tally()).add(value)
        self.n_events += 1

    def style(self, style: Optional[str]) -> float:
        tally = self.styles.get(style or "")
        return tally.preference() if tally else 0.0

    def phrase(self, text: str) -> float:
        feats = phrase_features(text)
        if not feats:
            return 0.0
        return sum(self.phrases[f].preference() for f in feats if f in self.phrases) / len(feats)

    def exact(self, text: str) -> float:
        tally = self.texts.get(text_key(text))
        return tally.preference() if tally else 0.0

    def score(self, text: str, style: Optional[str] = None) -> Score:
        s, p, e = self.style(style), self.phrase(text), self.exact(text)
        return Score(STYLE_WEIGHT * s + PHRASE_WEIGHT * p + EXACT_WEIGHT * e, s, p, e)

    def ranked_styles(self) -> List[Tuple[str, float]]:
        return sorted(((k, t.preference()) for k, t in self.styles.items()), key=lambda kv: -kv[1])

    def ranked_phrases(self) -> List[Tuple[str, float]]:
        """Phrase features by preference (most liked first), without their ``c:``/``w:`` prefix."""
        return sorted(((k[2:], t.preference()) for k, t in self.phrases.items()), key=lambda kv: -kv[1])

    # ------------------------------------------------------------------ folded form
    def scaled(self, factor: float) -> "Preferences":
        out = Preferences(n_events=self.n_events)
        for name in TABLES:
            getattr(out, name).update({k: Tally(t.liked * factor, t.disliked * factor)
                                       for k, t in getattr(self, name).items()})
        return out

    def to_json(self) -> Dict[str, Any]:
        return {name: {k: [round(t.liked, 6), round(t.disliked, 6)] for k, t in getattr(self, name).items()
                       if t.liked + t.disliked >= PRUNE_BELOW} for name in TABLES} | {"count": self.n_events}

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "Preferences":
        """Tallies from :meth:`to_json`; ValueError on anything malformed."""
        out = cls(n_events=int(data.get("count", 0)))
        for name in TABLES:
            table = data.get(name, {})
            if not isinstance(table, dict):
                raise ValueError(f"folded {name} is not an object")
            for key, pair in table.items():
                liked, disliked = (float(v) for v in pair)
                if not (liked >= 0 and disliked >= 0):
                    raise ValueError(f"folded {name}[{key!r}] is negative")
                getattr(out, name)[str(key)] = Tally(liked, disliked)
        return out


def accumulate(events: Iterable[FeedbackEvent], folded: Optional[Tuple[float, Preferences]], now: float,
               half_life_s: float) -> Preferences:
    """Preferences at ``now`` from folded tallies (taken at time ``at``) plus verbatim events."""
    prefs = folded[1].scaled(decay(folded[0], now, half_life_s)) if folded else Preferences()
    for event in events:
        prefs.add(event, decay(event.ts, now, half_life_s))
    return prefs


def fold(events: List[FeedbackEvent], folded: Optional[Tuple[float, Preferences]],
         half_life_s: float) -> Tuple[float, Preferences]:
    """Fold ``events`` into the tallies ``folded``; returns the new ``(at, tallies)``."""
    at = max([e.ts for e in events] + ([folded[0]] if folded else []))
    return at, accumulate(events, folded, at, half_life_s)
