"""Evaluation scorer: the runtime's character n-gram naive Bayes (:mod:`edgekit.captioning.textemotion`).

For the report it is trained on data the generator never sees: the library's held-out split plus
fresh captions drawn from the template grammar with another seed and filtered to exclude every
library caption, so it judges generated captions without sharing the generator's training data.
"""
from edgekit.captioning.textemotion import TextEmotion as NaiveBayesScorer, features

__all__ = ["NaiveBayesScorer", "features"]
