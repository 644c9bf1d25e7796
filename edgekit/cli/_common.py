"""Helpers shared by sub-commands: pipeline options, per-input error lines, progress bars.

Standard library only at module level (see :mod:`edgekit.cli`).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Optional, Union

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
        print(f"edgekit: warning: {one_line(str(gallery.path))}: gallery was unreadable; moved it to {one_line(str(gallery.recovered_from))} "
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


#: Characters escaped in every line the CLI prints about a user's path or value: C0/C1 controls
#: (line breaks, ESC sequences that retitle a terminal or move the cursor), DEL, line/paragraph
#: separators and the bidirectional overrides that reorder how a line reads.
_UNPRINTABLE = {i: f"\\x{i:02x}" for i in [*range(0x20), *range(0x7f, 0xa0)]}
_UNPRINTABLE.update({i: f"\\u{i:04x}" for i in [0x2028, 0x2029, 0x200e, 0x200f, *range(0x202a, 0x202f), *range(0x2066, 0x206a)]})
_UNPRINTABLE.update({ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"})


def one_line(text: str) -> str:
    """``text`` with control characters (e.g. inside a file name the user typed) escaped, so a
    message stays on one line and a crafted name cannot drive the terminal."""
    return text.translate(_UNPRINTABLE)


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C during a batch; ``summary`` says what was finished (the CLI prints it as its one line)."""

    def __init__(self, summary: str) -> None:
        super().__init__(summary)
        self.summary = summary


class Progress:
    """Counts finished inputs of a batch so that Ctrl-C reports what was done."""

    def __init__(self, total: Optional[int] = None) -> None:
        self.total, self.done = total, 0

    def add(self, n: int = 1) -> None:
        self.done += n

    @contextlib.contextmanager
    def reporting(self, where: Optional[str] = None) -> Iterator["Progress"]:
        """Turns Ctrl-C inside the block into :class:`BatchInterrupted` with the count."""
        try:
            yield self
        except BatchInterrupted:
            raise
        except KeyboardInterrupt:
            kept = f"; their results are in {where}" if where else ""
            of = f" of {self.total}" if self.total is not None else ""
            raise BatchInterrupted(f"interrupted after {self.done}{of} input(s){kept}") from None


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


@contextlib.contextmanager
def video_warnings_as_lines() -> Iterator[None]:
    """Show edgekit's video warnings (:class:`edgekit.video.VideoWarning`: a truncated file,
    implausible timing) as one ``edgekit: warning: ...`` line each on stderr, above any progress
    bar; other warnings are shown as usual."""
    import warnings

    shown = warnings.showwarning

    def show(message: Any, category: type, *args: Any, **kwargs: Any) -> None:
        from ..video import VideoWarning

        if not issubclass(category, VideoWarning):
            return shown(message, category, *args, **kwargs)
        from tqdm import tqdm

        tqdm.write(f"edgekit: warning: {one_line(str(message))}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield
