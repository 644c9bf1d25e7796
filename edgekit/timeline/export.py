"""Write a :class:`~edgekit.timeline.series.Timeline` to disk: JSON summary, CSV series, PNG plot."""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Dict, Union

import numpy as np

from ..paths import output_folder, write_output
from .series import Timeline

PathLike = Union[str, "os.PathLike[str]"]
SUMMARY_NAME, SERIES_NAME, TRACKS_NAME, PLOT_NAME = "summary.json", "timeline.csv", "tracks.csv", "timeline.png"
AUS_NAME = "aus.csv"


def _fmt(value: float) -> str:
    return "" if not np.isfinite(value) else f"{value:.4f}"


def write_series_csv(timeline: Timeline, path: Path) -> None:
    """Aggregate series: ``frame, time_s, faces, <label>...`` (mean over the frame's faces; empty
    cells when no face was seen); written atomically."""
    write_output(path, lambda tmp: _series_csv(timeline, tmp), [timeline.source])


def _series_csv(timeline: Timeline, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["frame", "time_s", "faces", *timeline.labels])
        for frame, ts, count, probs in zip(timeline.frame_numbers, timeline.timestamps_ms, timeline.face_counts,
                                           timeline.mean_probs):
            writer.writerow([int(frame), f"{ts / 1000.0:.3f}", int(count), *map(_fmt, probs)])


def write_tracks_csv(timeline: Timeline, path: Path) -> None:
    """Per-track series: ``track_id, frame, time_s, emotion, <label>...``; written atomically."""
    write_output(path, lambda tmp: _tracks_csv(timeline, tmp), [timeline.source])


def _tracks_csv(timeline: Timeline, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["track_id", "frame", "time_s", "emotion", *timeline.labels])
        for track in timeline.tracks or []:
            for frame, ts, probs in zip(track.frame_indices, track.timestamps_ms, track.probs):
                top = timeline.labels[int(np.argmax(probs))]
                writer.writerow([track.track_id, int(frame), f"{ts / 1000.0:.3f}", top, *map(_fmt, probs)])


def write_aus_csv(timeline: Timeline, path: Path) -> None:
    """Action-unit series: ``frame, time_s, <AU>...`` (``frame`` the video's frame index; mean
    activation over the frame's faces whose AUs were read; empty cells when none, every row when
    no frame had readable AUs: the summary's ``action_units`` block says so); written atomically."""
    write_output(path, lambda tmp: _aus_csv(timeline, tmp), [timeline.source])


def _aus_csv(timeline: Timeline, path: Path) -> None:
    assert timeline.mean_aus is not None
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["frame", "time_s", *timeline.au_names])
        for frame, ts, row in zip(timeline.frame_numbers, timeline.timestamps_ms, timeline.mean_aus):
            writer.writerow([int(frame), f"{ts / 1000.0:.3f}", *map(_fmt, row)])


def save_timeline(timeline: Timeline, out_dir: PathLike, *, plot: bool = True) -> Dict[str, Path]:
    """Write ``summary.json`` and ``timeline.csv`` (plus ``tracks.csv`` for a per-track timeline,
    ``aus.csv`` when action units were read and ``timeline.png`` when ``plot``) into ``out_dir``;
    returns the written paths by kind.

    The data files are written before the plot, so they exist even when plotting fails (e.g.
    matplotlib is not installed: :class:`~edgekit.errors.ConfigError`). Every file is written
    atomically (a full disk leaves the previous file, never a torn one: InputError naming it)."""
    folder = output_folder(out_dir)
    written = {"summary": folder / SUMMARY_NAME, "series": folder / SERIES_NAME}
    summary = json.dumps(timeline.to_dict(), indent=2, ensure_ascii=False) + "\n"
    write_output(written["summary"], lambda tmp: tmp.write_text(summary, encoding="utf-8"), [timeline.source])
    write_series_csv(timeline, written["series"])
    if timeline.per_track:
        written["tracks"] = folder / TRACKS_NAME
        write_tracks_csv(timeline, written["tracks"])
    if timeline.mean_aus is not None:
        written["aus"] = folder / AUS_NAME
        write_aus_csv(timeline, written["aus"])
    if plot:
        from .plot import plot_timeline

        written["plot"] = plot_timeline(timeline, folder / PLOT_NAME)
    return written
