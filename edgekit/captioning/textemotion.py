"""The emotion of a short text: multinomial naive Bayes over character n-grams.

Fitted on tagged captions (the library, for :meth:`Captioner.restyle`; other data for the
toolchain's evaluation scorer). Character n-grams need no word segmentation, so one model reads
Chinese and English. On 128 human-written sentences outside the library
(``converters/caption/corpus/restyle_sources.tsv``) it names the labelled emotion for 65% (the 5
nearest library captions voted 42%); :func:`sentence_emotion`, which lets the sentence's cue words
(:mod:`~edgekit.captioning.emotioncues`, the emotion lexicon shared with the chat analyzer) choose
first, for 79% (101 of 128); on 80 chat messages (``corpus/chat_messages.tsv``, not used to write the
cue words) 79% against 69%
(``python -m converters.caption.restyle_audit``). :func:`emotion_reading` also says whether the
reading is certain enough for an emotion's voice.
"""
from __future__ import annotations

from collections import Counter
from typing import Dict, List, Sequence, Tuple

import numpy as np

from ..labels import EMOTIONS
from .emotioncues import cue_counts


def features(text: str, n_max: int = 4) -> List[str]:
    """Character 1..``n_max``-grams of the lower-cased text with start/end marks."""
    t = f"^{text.lower()}$"
    return [t[i:i + n] for n in range(1, n_max + 1) for i in range(len(t) - n + 1)]


class TextEmotion:
    """Multinomial naive Bayes over character 1..4-grams with additive smoothing."""

    def __init__(self, alpha: float = 0.05) -> None:
        self.alpha = alpha
        self.index: Dict[str, int] = {}
        self.log_lik = np.zeros((0, len(EMOTIONS)), np.float32)
        self.log_prior = np.zeros(len(EMOTIONS))
        self.log_unseen = np.zeros(len(EMOTIONS))

    def fit(self, items: Sequence[Tuple[str, str]]) -> "TextEmotion":
        """``items`` = (text, emotion) pairs."""
        counts: Counter = Counter()
        docs = np.ones(len(EMOTIONS))
        for text, emotion in items:
            k = EMOTIONS.index(emotion)
            counts.update((f, k) for f in features(text))
            docs[k] += 1
        self.index = {}
        for f, _ in counts:
            self.index.setdefault(f, len(self.index))
        table = np.zeros((len(self.index), len(EMOTIONS)), np.float64)
        for (f, k), n in counts.items():
            table[self.index[f], k] = n
        denom = table.sum(axis=0) + self.alpha * (len(self.index) + 1)
        self.log_lik = np.log((table + self.alpha) / denom).astype(np.float32)
        self.log_unseen = np.log(self.alpha / denom)
        self.log_prior = np.log(docs / docs.sum())
        return self

    def scores(self, text: str) -> np.ndarray:
        """Log-posterior (unnormalised) per emotion, in :data:`~edgekit.labels.EMOTIONS` order."""
        rows = [self.index.get(f, -1) for f in features(text)]
        known = [r for r in rows if r >= 0]
        return self.log_prior + self.log_lik[known].sum(axis=0) + (len(rows) - len(known)) * self.log_unseen

    def predict(self, text: str) -> str:
        return EMOTIONS[int(np.argmax(self.scores(text)))]

    def accuracy(self, items: Sequence[Tuple[str, str]]) -> float:
        return float(np.mean([self.predict(t) == e for t, e in items])) if items else float("nan")


#: Log-posterior margin (best minus second emotion) per character n-gram above which the naive
#: Bayes alone is trusted with a sentence that has no cue word. Its posteriors are far too sure
#: (p > 0.99 for half of its wrong answers), but the margin per n-gram separates a little: of the
#: restyle sources without a cue word (the sentences the cues were written on) 11 of 48 clear 0.4,
#: 10 of them right (27 of 48 right overall); of the 80 chat messages' 38 cue-less ones (held out)
#: 5 clear it, 5 right (25 of 38 overall). With a cue word the reading was right for 76 of 80
#: sources and 38 of 42 chat messages (library and cues of 2026-12-16).
CONFIDENT_MARGIN = 0.4


def emotion_reading(model: TextEmotion, text: str) -> Tuple[str, bool]:
    """(emotion, certain) of a sentence a person wrote: of the emotions with the most cue words
    (:func:`~edgekit.captioning.emotioncues.cue_counts`), or of all when it has none, the one
    ``model`` finds most likely; certain when a cue word fired or, without one, when the model's
    margin per n-gram reaches :data:`CONFIDENT_MARGIN`. Restyling attaches mood-neutral voices to
    an uncertain sentence (:data:`~edgekit.captioning.voices.ANY_MOOD`)."""
    counts = cue_counts(text)
    scores = model.scores(text)
    if counts.any():
        return EMOTIONS[int(np.argmax(np.where(counts == counts.max(), scores, -np.inf)))], True
    top, second = np.sort(scores)[-2:][::-1]
    return EMOTIONS[int(np.argmax(scores))], bool((top - second) / len(features(text)) >= CONFIDENT_MARGIN)


def sentence_emotion(model: TextEmotion, text: str) -> str:
    """The emotion of a sentence a person wrote (:func:`emotion_reading`)."""
    return emotion_reading(model, text)[0]
