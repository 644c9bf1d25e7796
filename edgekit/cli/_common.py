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
    from ..identity import FaceIdentifier
    from ..pipeline import PipelineOptions


def int_at_least(minimum: int, text: str) -> int:
    """An integer >= ``minimum`` parsed from a command-line value (argparse type errors otherwise)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"{value} is not >= {minimum}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return int_at_least(1, text)


def face_number(text: str) -> int:
    """argparse type for ``--face N``-style options: an integer >= 0 (faces left to right from 0)."""
    return int_at_least(0, text)


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


def add_identity_options(parser: argparse.ArgumentParser, flag: bool = False) -> None:
    """``--gallery`` and ``--identity-model`` (and, with ``flag``, ``--identify``) for the identity commands."""
    group = parser.add_argument_group("identity options")
    if flag:
        group.add_argument("--identify", action="store_true",
                           help="also tell who each face is, from the gallery of `edgekit enroll` (default: off)")
    group.add_argument("--gallery", metavar="FILE", default=None,
                       help="gallery file (default: identity_gallery.json in the edgekit user data dir)")
    group.add_argument("--identity-model", dest="identity_model", default="identity", metavar="NAME|PATH",
                       help="identity model: bundled name or .tflite path (default: %(default)s)")


def identifier(args: argparse.Namespace) -> "FaceIdentifier":
    """:class:`edgekit.FaceIdentifier` from :func:`add_identity_options` arguments; reports (one
    stderr line) when a corrupt gallery had to be moved aside and rebuilt."""
    from ..identity import FaceIdentifier

    ident = FaceIdentifier(args.identity_model, gallery_path=args.gallery, num_threads=getattr(args, "threads", 1))
    report_gallery_recovery(ident)
    return ident


def report_gallery_recovery(ident: Any) -> None:
    """Print one warning line when the gallery of ``ident`` was corrupt and has been rebuilt."""
    import warnings

    from ..identity.gallery import GalleryRecoveredWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GalleryRecoveredWarning)  # reported below, as one edgekit line
        gallery = ident.gallery
    if gallery.recovered_from is not None:
        print(f"edgekit: warning: {gallery.path}: gallery was unreadable; moved it to {gallery.recovered_from} "
              "and started an empty one (re-enroll the people)", file=sys.stderr)


def pipeline_options(args: argparse.Namespace, **overrides: Any) -> "PipelineOptions":
    """:class:`PipelineOptions` from the parsed :func:`add_pipeline_options` arguments (and
    :func:`add_identity_options` ones when present)."""
    from ..pipeline import PipelineOptions

    if "smoothing_ms" in args:
        overrides.setdefault("smoothing_ms", args.smoothing_ms)
    if getattr(args, "identify", False):
        overrides.setdefault("identify", True)
        overrides.setdefault("identity_model", args.identity_model)
        overrides.setdefault("gallery_path", args.gallery)
    return PipelineOptions.from_kwargs(
        detector_model=args.detector, min_confidence=args.min_confidence, max_faces=args.max_faces,
        num_threads=args.threads, emotion_model=args.model, **overrides)


#: Characters that end a line on a terminal or for ``str.splitlines``.
_LINE_BREAKS = {c: repr(c)[1:-1] for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}


def one_line(text: str) -> str:
    """``text`` with line breaks (e.g. inside a file name the user typed) escaped, so an error
    message stays on one line."""
    return text.translate(str.maketrans(_LINE_BREAKS))


def input_failure(path: Union[str, "os.PathLike[str]"], exc: EdgekitError) -> str:
    """``"<path>: <reason>. <hint>"`` for an input that failed, naming the path as the user typed
    it (on one line)."""
    subject = exc.subject
    same = isinstance(subject, (str, os.PathLike)) and Path(subject) == Path(path)
    if not same:
        return one_line(f"{os.fspath(path)}: {exc}")
    text = f"{os.fspath(path)}: {exc.reason}"
    return one_line(f"{text}. {exc.hint}" if exc.hint else text)


def is_dir(path: Path) -> bool:
    """``path.is_dir()`` that answers False, instead of raising, for paths the OS refuses to look
    up (name too long, permission denied): opening them later reports the error on one line."""
    try:
        return path.is_dir()
    except OSError:
        return False


def exists(path: Path) -> bool:
    """``path.exists()`` that answers False instead of raising (see :func:`is_dir`)."""
    try:
        return path.exists()
    except OSError:
        return False


def progress_enabled(flag: Optional[bool]) -> bool:
    """``--progress``/``--no-progress`` when given, else only when stderr is a terminal."""
    return flag if flag is not None else sys.stderr.isatty()
