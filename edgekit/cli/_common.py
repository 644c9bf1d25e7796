"""Helpers shared by sub-commands: pipeline options, per-input error lines, progress bars.

Standard library only at module level (see :mod:`edgekit.cli`).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

from ..errors import EdgekitError

if TYPE_CHECKING:
    from ..pipeline import PipelineOptions


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not >= 1")
    return value


def add_pipeline_options(parser: argparse.ArgumentParser, video: bool = False) -> None:
    """Options mapping onto :class:`edgekit.PipelineOptions` (validated when the pipeline is built);
    ``video`` adds the smoothing option."""
    group = parser.add_argument_group("pipeline options")
    group.add_argument("--detector", default="short_range", metavar="MODEL",
                       help="face detector: short_range (faces within ~2 m, default) or full_range (~5 m)")
    group.add_argument("--min-confidence", type=float, default=0.5, metavar="P",
                       help="minimum face detection score in [0, 1] (default: %(default)s)")
    group.add_argument("--max-faces", type=positive_int, default=None, metavar="N",
                       help="analyse at most N faces per image, best first (default: all)")
    group.add_argument("--threads", type=positive_int, default=1, metavar="N",
                       help="CPU threads per model (default: %(default)s)")
    group.add_argument("--model", default="emotion", metavar="NAME|PATH",
                       help="emotion model: a bundled model name (see `edgekit models`) or a .tflite path "
                            "(default: %(default)s)")
    if video:
        group.add_argument("--smoothing-ms", type=float, default=300.0, metavar="MS",
                           help="videos: time constant of the emotion smoothing, 0 = off (default: %(default)s)")


def pipeline_options(args: argparse.Namespace, **overrides: Any) -> "PipelineOptions":
    """:class:`PipelineOptions` from the parsed :func:`add_pipeline_options` arguments."""
    from ..pipeline import PipelineOptions

    if "smoothing_ms" in args:
        overrides.setdefault("smoothing_ms", args.smoothing_ms)
    return PipelineOptions.from_kwargs(
        detector_model=args.detector, min_confidence=args.min_confidence, max_faces=args.max_faces,
        num_threads=args.threads, emotion_model=args.model, **overrides)


def input_failure(path: Union[str, "os.PathLike[str]"], exc: EdgekitError) -> str:
    """``"<path>: <reason>. <hint>"`` for an input that failed, naming the path as the user typed it."""
    subject = exc.subject
    same = isinstance(subject, (str, os.PathLike)) and Path(subject) == Path(path)
    if not same:
        return f"{os.fspath(path)}: {exc}"
    text = f"{os.fspath(path)}: {exc.reason}"
    return f"{text}. {exc.hint}" if exc.hint else text


def progress_enabled(flag: Optional[bool]) -> bool:
    """``--progress``/``--no-progress`` when given, else only when stderr is a terminal."""
    return flag if flag is not None else sys.stderr.isatty()
