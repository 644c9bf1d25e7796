"""Chat suggestions on device: the chat's emotion and scene from the project's zh/en lexicon,
fused with a selfie's emotion, turned into ranked captions or ready memes.

>>> result = edgekit.suggest("明天考试，完全没复习", photo="me.jpg", n=5)   # doctest: +SKIP
>>> result.emotion, result.scene, [s.text for s in result.suggestions]      # doctest: +SKIP
"""
from .api import DIVERSITY_PENALTY, OVERGENERATE, SuggestResult, Suggestion, rank, suggest
from .fusion import FACE_WEIGHT, NEGATIVE, TEXT_WEIGHT, fuse
from .lexicon import Lexicon, default_lexicon
from .text import Evidence, TextAnalysis, analyze_text

__all__ = ["DIVERSITY_PENALTY", "Evidence", "FACE_WEIGHT", "Lexicon", "NEGATIVE", "OVERGENERATE", "SuggestResult",
           "Suggestion", "TEXT_WEIGHT", "TextAnalysis", "analyze_text", "default_lexicon", "fuse", "rank", "suggest"]
