"""Emotion timelines of videos: per-frame series, summary, alert events, CSV/JSON/PNG export.

>>> from edgekit.timeline import emotion_timeline, save_timeline
>>> tl = emotion_timeline("meeting.mp4", alerts=["sadness>3s"])   # aggregate data only
>>> tl.summary.dominant, tl.summary.shares, [e.to_dict(False) for e in tl.events]
>>> save_timeline(tl, "out/")       # summary.json, timeline.csv, timeline.png

Aggregate-only by default: per-track series (``per_track=True``) only when asked. See
``docs/timelines.md`` for consent and the legal limits on emotion recognition.
"""
from .api import emotion_timeline
from .export import save_timeline
from .rules import AlertEvent, AlertRule
from .series import EmotionSummary, Timeline, TimelineBuilder, TrackSeries

__all__ = ["emotion_timeline", "save_timeline", "AlertEvent", "AlertRule", "EmotionSummary", "Timeline",
           "TimelineBuilder", "TrackSeries"]
