"""On-device personalization: like / dislike / used feedback on captions re-ranks later ones.

>>> store = edgekit.FeedbackStore()                      # <data dir>/feedback.json
>>> store.record("like", "这波快乐直接拉满！", style="slang")  # doctest: +SKIP
>>> [r.text for r in store.rerank(edgekit.caption_styles("happiness"))]  # doctest: +SKIP

Nothing leaves the device; ``edgekit feedback --export/--reset`` copy or delete what is stored.
"""
from .events import ACTION_VALUES, ACTIONS, FeedbackEvent
from .features import phrase_features, similarity
from .preferences import DEFAULT_HALF_LIFE_DAYS, Preferences, Score
from .store import FILE_NAME, MAX_EVENTS, FeedbackStore, FeedbackWarning, RankedCaption, ResetResult

__all__ = ["ACTIONS", "ACTION_VALUES", "DEFAULT_HALF_LIFE_DAYS", "FILE_NAME", "MAX_EVENTS", "FeedbackEvent",
           "FeedbackStore", "FeedbackWarning", "Preferences", "RankedCaption", "ResetResult", "Score",
           "phrase_features", "similarity"]
