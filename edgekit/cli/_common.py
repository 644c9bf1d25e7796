"""Helpers shared by sub-commands: option flags, per-input error lines, progress bars.

Option flags are derived from the options dataclasses (:mod:`edgekit.task_options`): the flag of
field ``min_confidence`` is ``--min-confidence``, with the field's default and help. Standard
library and edgekit's light option modules only at module level (see :mod:`edgekit.cli`).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterator, Mapping, Optional, Sequence, Tuple, Union

from ..errors import EdgekitError
from ..options import field_names
from ..task_options import PipelineOptions

if TYPE_CHECKING:
    from ..identity import FaceIdentifier


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


#: Older spellings of option flags, still accepted (the first flag of each option is its field name).
FLAG_ALIASES: Dict[str, Tuple[str, ...]] = {
    "num_threads": ("--threads",), "emotion_model": ("--model",), "gallery_path": ("--gallery",),
    "action_units": ("--aus",), "max_new_tokens": ("--max-tokens",),
}
#: The PipelineOptions fields each option group exposes.
PIPELINE_FLAGS = ("detector", "min_confidence", "max_faces", "close_up", "input_color", "luma_keypoints",
                  "num_threads", "emotion_model")
VIDEO_FLAGS = ("smoothing_ms",)
IDENTITY_FLAGS = ("gallery_path", "identity_model")
AU_FLAGS = ("action_units", "au_stream_neutral", "au_neutral")


def option_flag(name: str) -> str:
    """The command-line flag of option field ``name``: ``min_confidence`` -> ``--min-confidence``."""
    return "--" + name.replace("_", "-")


def add_fields(group: Any, kind: type, names: Sequence[str], rename: Optional[Mapping[str, str]] = None) -> None:
    """One flag per field of the options dataclass ``kind`` in ``names``: ``--field-name`` (and its
    :data:`FLAG_ALIASES`), with the field's default, help text and value type (on/off flags for
    bools). Values are checked when the options object is built (ConfigError, exit status 2).
    ``rename``: field -> the name its flag and ``args`` attribute take instead (a field declared
    once, offered under another name: ``{"source": "caption_source"}`` -> ``--caption-source``)."""
    for field_name in names:
        spec = kind.__dataclass_fields__[field_name]
        name = (rename or {}).get(field_name, field_name)
        rule, default = spec.metadata["check"], spec.default
        text = (spec.metadata.get("help") or name.replace("_", " ")).replace("%", "%%")
        flags = (option_flag(name), *FLAG_ALIASES.get(name, ()))
        if rule.parse is None:  # a bool: an on/off flag (--x/--no-x unless off by default)
            action = "store_true" if default is False else argparse.BooleanOptionalAction
            shown = rule.none_means if default is None else "on" if default else "off"
            group.add_argument(*flags, dest=name, action=action, default=default, help=f"{text} (default: {shown})")
        else:
            shown = default if default is not None else rule.none_means or "none"
            parse = None if rule.parse is str else rule.parse  # argparse reads text as it is
            group.add_argument(*flags, dest=name, type=parse, default=default, help=f"{text} (default: {shown})",
                               metavar=spec.metadata.get("metavar") or name.split("_")[-1].upper())


def add_pipeline_options(parser: argparse.ArgumentParser, video: bool = False) -> None:
    """Flags of :class:`edgekit.PipelineOptions` fields (``--detector``, ``--min-confidence``, ...);
    ``video`` adds ``--smoothing-ms``."""
    names = PIPELINE_FLAGS + (VIDEO_FLAGS if video else ())
    add_fields(parser.add_argument_group("pipeline options"), PipelineOptions, names)


def add_identity_options(parser: argparse.ArgumentParser, flag: bool = False) -> None:
    """``--gallery-path`` and ``--identity-model`` (and, with ``flag``, ``--identify``) for the identity commands."""
    names = (("identify",) if flag else ()) + IDENTITY_FLAGS
    add_fields(parser.add_argument_group("identity options"), PipelineOptions, names)


def add_au_options(parser: argparse.ArgumentParser, neutral: bool = True) -> None:
    """``--action-units``, ``--au-stream-neutral`` (and, with ``neutral``, ``--au-neutral PHOTO``)."""
    add_fields(parser.add_argument_group("action-unit options"), PipelineOptions, AU_FLAGS if neutral else AU_FLAGS[:2])


def identifier(args: argparse.Namespace) -> "FaceIdentifier":
    """:class:`edgekit.FaceIdentifier` from :func:`add_identity_options` arguments; reports (one
    stderr line) when a corrupt gallery had to be moved aside and rebuilt."""
    from ..identity import FaceIdentifier

    ident = FaceIdentifier(model=args.identity_model, gallery_path=args.gallery_path,
                           num_threads=getattr(args, "num_threads", 1))
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
        print(f"edgekit: warning: {one_line(str(gallery.path))}: gallery was unreadable; "
              f"moved it to {one_line(str(gallery.recovered_from))} "
              "and started an empty one (re-enroll the people)", file=sys.stderr)


def pipeline_options(args: argparse.Namespace, **overrides: Any) -> PipelineOptions:
    """:class:`PipelineOptions` from the parsed option flags (every PipelineOptions field the
    parser has a flag for) and ``overrides``."""
    given = {name: getattr(args, name) for name in field_names(PipelineOptions) if name in args}
    return PipelineOptions.from_kwargs(**{**given, **overrides})


#: Characters escaped in every line the CLI prints about a user's path or value: C0/C1 controls
#: (line breaks, ESC sequences that retitle a terminal or move the cursor), DEL, line/paragraph
#: separators and the bidirectional overrides that reorder how a line reads.
_UNPRINTABLE = {i: f"\\x{i:02x}" for i in [*range(0x20), *range(0x7f, 0xa0)]}
_UNPRINTABLE.update({i: f"\\u{i:04x}" for i in [0x2028, 0x2029, 0x200e, 0x200f, *range(0x202a, 0x202f),
                                                *range(0x2066, 0x206a)]})
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
