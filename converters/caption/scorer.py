"""Evaluation scorer: a character n-gram naive Bayes emotion classifier.

It is trained on data the generator never sees: the library's held-out split plus fresh
captions drawn from the grammar with another seed and filtered to exclude every library
caption. It therefore judges generated captions without sharing the generator's training data.
"""
from __future__ import annotations

from collections import Counter
from typing import Dict, List, Sequence, Tuple

import numpy as np

from edgekit.captioning.taxonomy import EMOTIONS


def features(text: str, n_max: int = 4) -> List[str]:
    t = f"^{text.lower()}$"
    return [t[i:i + n] for n in range(1, n_max + 1) for i in range(len(t) - n + 1)]


class NaiveBayesScorer:
    """Multinomial naive Bayes over character 1..4-grams with additive smoothing."""

    def __init__(self, alpha: float = 0.05) -> None:
        self.alpha = alpha
        self.log_prior = np.zeros(len(EMOTIONS))
        self.log_lik: Dict[str, np.ndarray] = {}
        self.log_unseen = np.zeros(len(EMOTIONS))

    def fit(self, items: Sequence[Tuple[str, str]]) -> "NaiveBayesScorer":
        """``items`` = (text, emotion) pairs."""
        counts = [Counter() for _ in EMOTIONS]
        docs = Counter()
        for text, emotion in items:
            counts[EMOTIONS.index(emotion)].update(features(text))
            docs[emotion] += 1
        vocab = sorted(set().union(*counts))
        totals = np.array([sum(c.values()) for c in counts], float)
        denom = totals + self.alpha * (len(vocab) + 1)
        self.log_prior = np.log(np.array([docs[e] + 1 for e in EMOTIONS], float) / (len(items) + len(EMOTIONS)))
        self.log_lik = {f: np.log((np.array([c[f] for c in counts], float) + self.alpha) / denom) for f in vocab}
        self.log_unseen = np.log(self.alpha / denom)
        return self

    def predict(self, text: str) -> str:
        score = self.log_prior.copy()
        for f in features(text):
            score += self.log_lik.get(f, self.log_unseen)
        return EMOTIONS[int(np.argmax(score))]

    def accuracy(self, items: Sequence[Tuple[str, str]]) -> float:
        return float(np.mean([self.predict(t) == e for t, e in items])) if items else float("nan")
