"""``emotion_timeline(video)``: stream a video through the pipeline into a :class:`Timeline`."""
from __future__ import annotations

import sys
from typing import Any, Iterable, Optional

from ..errors import ConfigError
from ..pipeline import Pipeline, PipelineOptions
from ..tracking import DEFAULT_FRAME_INTERVAL_MS
from ..video import VideoReader, VideoSource
from .rules import AlertRule, parse_rules
from .series import Timeline, TimelineBuilder


def emotion_timeline(video: VideoSource, *, alerts: Iterable[str] = (), per_track: bool = False,
                     pipeline: Optional[Pipeline] = None, max_frames: Optional[int] = None, progress: bool = False,
                     **pipeline_options: Any) -> Timeline:
    """Emotion time series, summary and alert events of ``video`` (a path or a camera index).

    Frames are decoded and analysed one at a time (the video is never held in memory); faces keep
    track ids and temporally smoothed probabilities (video mode).

    Args:
        video: video file path, or camera index (then pass ``max_frames``).
        alerts: alert rules such as ``"sadness>3s"`` (see :mod:`edgekit.timeline.rules`).
        per_track: also keep one series per face track (default: aggregate data only).
        pipeline: an existing :class:`Pipeline` to use (any running mode; it is not closed);
            otherwise one is built from ``pipeline_options`` (:class:`PipelineOptions` fields).
        max_frames: stop after this many frames.
        progress: show a tqdm progress bar on stderr.

    Raises:
        ConfigError: an alert rule or option is invalid.
        VideoReadError: the video cannot be opened or decoded.

    Warns:
        VideoWarning: frames missing or implausible timing (also kept in ``Timeline.warnings``).
    """
    if pipeline is not None and pipeline_options:
        raise ConfigError("pass either a pipeline or pipeline options, not both", ", ".join(sorted(pipeline_options)))
    alerts = list(alerts)
    own = pipeline is None
    pipe = Pipeline(PipelineOptions.from_kwargs(running_mode="video", **pipeline_options)) if own else pipeline
    try:
        if pipe.classifier is None:
            raise ConfigError("an emotion timeline needs an emotion model", "emotion_model=None",
                              "use the bundled model (the default) or a .tflite path")
        rules = parse_rules(alerts, pipe.labels)
        return _run(pipe, video, rules, per_track, max_frames, progress)
    finally:
        if own:
            pipe.close()


def _run(pipe: Pipeline, video: VideoSource, rules: list, per_track: bool, max_frames: Optional[int],
         progress: bool) -> Timeline:
    from tqdm import tqdm

    reader = VideoReader(video, max_frames=max_frames)
    frame_ms = 1000.0 / reader.fps if reader.fps else DEFAULT_FRAME_INTERVAL_MS
    au_names = None
    if pipe.au_reader is not None:  # AUs asked for: an AU series (and aus.csv) even when none are readable
        from ..aus import AU_NAMES

        au_names = AU_NAMES
    builder = TimelineBuilder(pipe.labels, rules, per_track=per_track, frame_ms=frame_ms, source=reader.name,
                              fps=reader.fps, au_names=au_names)
    with tqdm(total=reader.total, desc=f"timeline {reader.name}", unit="frame", file=sys.stderr,
              disable=not progress, leave=False) as bar:
        for _, result in pipe.stream_video(reader):
            builder.add(result)
            bar.update(1)
    return builder.finish(frames_announced=reader.frame_count, warnings=reader.warnings)


__all__ = ["emotion_timeline", "AlertRule", "Timeline"]
