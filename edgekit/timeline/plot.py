"""PNG plot of a timeline: stacked emotion probabilities over time (aggregate, or one panel per
face track), alert events shaded. matplotlib is optional (``pip install edgekit[plot]``) and is
imported only inside :func:`plot_timeline`, with its object API (no pyplot, no global backend).

matplotlib keeps a font cache and config folder (``~/.cache/matplotlib``, ``~/.config/matplotlib``).
When edgekit is the first to import it and ``MPLCONFIGDIR`` is not set, that folder is
``<user data dir>/matplotlib`` instead (owner-only), so edgekit writes nowhere but the output
path and its data dir. The environment is changed only for the duration of that import.
"""
from __future__ import annotations

import contextlib
import os
import sys
import threading
from pathlib import Path
from typing import List, Tuple

import numpy as np

from ..errors import ConfigError, InputError
from ..userdata import data_dir, make_owner_only, private_folder
from .series import Timeline

#: One colour per FER+ emotion (others cycle through the tab10 palette order).
EMOTION_COLORS = {"neutral": "#9e9e9e", "happiness": "#f2c12e", "surprise": "#ff8c1a", "sadness": "#3b6fd1",
                  "anger": "#d62728", "disgust": "#2ca02c", "fear": "#8c4fc1", "contempt": "#8c564b"}
#: Panels drawn at most in a per-track plot (the tracks seen longest).
MAX_TRACK_PANELS = 8


_IMPORT_LOCK = threading.Lock()
MPL_ENV = "MPLCONFIGDIR"


@contextlib.contextmanager
def _matplotlib_dir_in_data_dir():
    """First import of matplotlib: point its config/cache folder at the edgekit data dir.

    The folder must be a real folder only this user can write (InputError otherwise: a planted
    link or a folder others can write could feed matplotlib their ``matplotlibrc``)."""
    if "matplotlib" in sys.modules or os.environ.get(MPL_ENV):
        yield  # the application chose already
        return
    folder = data_dir() / "matplotlib"
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        private_folder(folder, follow_links=False)
    except OSError as exc:  # read-only or unwritable data dir
        raise InputError(f"cannot be created ({exc.strerror or exc})", folder,
                         "make the edgekit data dir writable, or set MPLCONFIGDIR") from None
    os.environ[MPL_ENV] = str(folder)
    try:
        yield
    finally:
        os.environ.pop(MPL_ENV, None)
        for path in folder.iterdir():  # matplotlib writes its cache with the process umask
            make_owner_only(path)


def _figure_classes():
    try:
        with _IMPORT_LOCK, _matplotlib_dir_in_data_dir():
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
    except ImportError:
        raise ConfigError("matplotlib is not installed", "timeline plot",
                          "pip install edgekit[plot] (or skip the plot: edgekit timeline --no-plot)") from None
    return Figure, FigureCanvasAgg


def _panels(timeline: Timeline) -> List[Tuple[str, np.ndarray, np.ndarray, object]]:
    """(title, times in s, (N, labels) probabilities, track id or None) per panel."""
    if not timeline.per_track:
        probs = np.nan_to_num(timeline.mean_probs.astype(np.float64), nan=0.0)
        return [("all faces (mean per frame; blank = no face)", timeline.timestamps_ms / 1000.0, probs, None)]
    tracks = sorted(timeline.tracks or [], key=lambda t: -len(t.frame_indices))[:MAX_TRACK_PANELS]
    return [(f"face track {t.track_id} (dominant: {t.summary.dominant})", t.timestamps_ms / 1000.0,
             t.probs.astype(np.float64), t.track_id) for t in sorted(tracks, key=lambda t: t.track_id)]


#: AUs drawn in the action-unit panel at most (those with the highest mean activation).
MAX_AU_LINES = 6


def _plot_aus(ax, timeline: Timeline) -> None:
    """Mean activation of the most active AUs over time (gaps where no face's AUs were read)."""
    series = timeline.mean_aus
    assert series is not None
    times = timeline.timestamps_ms / 1000.0
    if not np.isfinite(series).any():
        ax.set_ylim(0, 1)
        ax.set_title("action units: none readable (no face, or every face mesh failed)", fontsize=9, loc="left")
        return
    with np.errstate(all="ignore"):
        means = np.nan_to_num(np.nanmean(series, axis=0), nan=-1.0) if len(series) else np.zeros(len(timeline.au_names))
    for k in np.argsort(-means)[:MAX_AU_LINES]:
        ax.plot(times, series[:, k], drawstyle="steps-post", linewidth=1.0, label=timeline.au_names[k])
    ax.set_ylim(0, 1)
    ax.set_ylabel("activation")
    ax.set_title("action units (mean over faces; most active shown)", fontsize=9, loc="left")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)


def plot_timeline(timeline: Timeline, path: Path) -> Path:
    """Draw ``timeline`` into the PNG ``path``; returns ``path``.

    Raises:
        ConfigError: matplotlib is not installed.
    """
    Figure, FigureCanvasAgg = _figure_classes()
    panels = _panels(timeline)
    au_panel = timeline.mean_aus is not None
    rows = max(len(panels), 1) + au_panel
    fig = Figure(figsize=(10, 1.0 + 2.2 * rows), dpi=100)
    FigureCanvasAgg(fig)
    all_axes = fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    axes = all_axes[:rows - au_panel]
    if au_panel:
        _plot_aus(all_axes[-1], timeline)
    colors = [EMOTION_COLORS.get(label, f"C{i}") for i, label in enumerate(timeline.labels)]
    end_s = max(timeline.duration_ms / 1000.0, 1e-3)
    for ax, (title, times, probs, track_id) in zip(axes, panels):
        if len(times):  # each sample holds until the next; the last one for one frame
            times = np.append(times, times[-1] + timeline.frame_ms / 1000.0)
            probs = np.vstack([probs, probs[-1:]])
            ax.stackplot(times, probs.T, labels=timeline.labels, colors=colors, step="post", linewidth=0)
        for event in timeline.events:
            if track_id is None or event.track_id == track_id:
                ax.axvspan(event.start_ms / 1000.0, event.end_ms / 1000.0, facecolor="none", edgecolor="black",
                           hatch="//", linewidth=0.8)
        ax.set_xlim(0, end_s)
        ax.set_ylim(0, 1)
        ax.set_ylabel("probability")
        ax.set_title(title, fontsize=9, loc="left")
    if not panels:
        axes[0].set_title("no face found", fontsize=9, loc="left")
    all_axes[-1].set_xlabel("time (s)")
    axes[0].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    fig.suptitle(f"Emotion timeline: {Path(timeline.source).name}" + ("  (hatched: alert events)"
                                                                       if timeline.events else ""), fontsize=10)
    fig.tight_layout()
    from ..paths import write_output

    return write_output(path, lambda tmp: fig.savefig(str(tmp), format="png"), [timeline.source])
